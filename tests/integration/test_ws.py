#!/usr/bin/env python3
"""
Description: WebSocket endpoints (ringo/ws.h) on the demo's /ws/echo and
/ws/chat. With Debian's python3-websockets as the client: echo of text and
binary, 10,000 messages of mixed sizes (some over 64 KiB) and a 16 MiB
one, subprotocols, a close started by the server, a chat room whose
members live on two rings. With raw sockets: the opening handshake (101
with the right Sec-WebSocket-Accept; 400, 426, 405; a handler that
refuses with 403 and the connection goes on with HTTP), ping/pong, pings
between fragments, the close handshake both ways, and protocol violations
closed with their RFC 6455 code (unmasked frame and fragmented control
frame 1002, invalid UTF-8 1007, oversized message 1009); ringo's keep-alive
pings and idle timeout (not while ringo itself stopped reading); a peer
that sends without reading is throttled; a chat member that stops reading
is closed with 1008; a hang-up cancels the handler (the cancels counter
rises, nothing leaks); a shutdown sends 1001, also to 20 chat members in
full traffic, and does not wait for the drain timeout.

The client cases need python3-websockets (scripts/deps.sh installs it);
this file runs itself under /usr/bin/python3 when the python that started
it lacks the module, and skips (77) with a line saying so when no python
has it.
"""
import asyncio
import base64
import hashlib
import os
import random
import select
import signal
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, Failure, StatsConn, abort_sock, case, check,  # noqa: E402
                           check_eq, get, request)

websockets = h.need_module("websockets", "python3-websockets")

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample key
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # ... and its answer

TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0


# ------------------------------------------------------------ raw frames

def handshake(path="/ws/echo", key=KEY, version="13", extra=(), method="GET",
              upgrade="websocket", connection="Upgrade"):
    headers = []
    if upgrade:
        headers.append(("Upgrade", upgrade))
    if connection:
        headers.append(("Connection", connection))
    if key:
        headers.append(("Sec-WebSocket-Key", key))
    if version:
        headers.append(("Sec-WebSocket-Version", version))
    return request(method, path, headers=headers + list(extra))


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """A client frame; length overrides the encoded payload length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    body = bytes(c ^ key[i % 4] for i, c in enumerate(payload)) if len(payload) < 4096 else \
        (int.from_bytes(payload, "big") ^ int.from_bytes((key * (len(payload) // 4 + 1))
                                                         [:len(payload)], "big")
         ).to_bytes(len(payload), "big")
    return head + key + body


def close_frame(code=None, reason=b""):
    return frame(CLOSE, b"" if code is None else struct.pack("!H", code) + reason)


def ws_open(srv, path="/ws/echo", extra=(), rcvbuf=None):
    """A raw connection past a 101; returns (conn, response)."""
    c = Conn(srv, rcvbuf=rcvbuf)
    c.send(handshake(path, extra=extra))
    r = c.read_response(head=True)
    check_eq(r.status, 101, f"handshake of {path}")
    return c, r


def read_frame(c, timeout=None):
    """(fin, opcode, payload) of the next server frame; server frames are never masked."""
    deadline = h.deadline_after(timeout or h.TIMEOUT)
    b0, b1 = c._read_exact(2, deadline)
    check(not (b1 & 0x80), "a server frame is masked")
    check(not (b0 & 0x70), "a server frame has RSV bits")
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack("!H", c._read_exact(2, deadline))[0]
    elif n == 127:
        n = struct.unpack("!Q", c._read_exact(8, deadline))[0]
    return bool(b0 & 0x80), b0 & 0x0f, c._read_exact(n, deadline)


def expect_close(c, code, what, reply=False, timeout=None):
    """Reads frames until a close frame: its code must be `code`; then EOF
    (the server closes the TCP connection). Returns the data frames read."""
    data = []
    while True:
        fin, op, payload = read_frame(c, timeout)
        if op == CLOSE:
            break
        data.append((op, payload))
    got = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    check_eq(got, code, f"{what}: close code")
    if reply:
        c.send(close_frame(code), tolerate_close=True)
    c.expect_closed(what=f"{what}: the close frame", allow_reset=True)
    c.close()
    return data


def heartbeats(c, every=0.1):
    """From now on, while c waits for server frames, it sends an unsolicited pong
    (RFC 6455 §5.5.3: a heartbeat) at least every `every` seconds. A heartbeat never
    blocks the reader: it goes out only when the socket has room, the rest of a
    short send with the next try. Returns stop(): sends what is left, then stops."""
    out, last, plain_fill = bytearray(), [0.0], c.fill

    def fill(deadline):
        while True:
            if not out and time.monotonic() - last[0] >= every:
                out.extend(frame(PONG, b"hb"))
                last[0] = time.monotonic()
            if out and select.select([], [c.sock], [], 0)[1]:
                del out[:c.sock.send(out)]
            if select.select([c.sock], [], [], every)[0] or h.remaining(deadline) <= 0:
                return plain_fill(deadline)

    def stop():
        c.fill = plain_fill
        if out:
            c.send(bytes(out))

    c.fill = fill
    return stop


def echo_raw(c, opcode, payload):
    c.send(frame(opcode, payload))
    fin, op, got = read_frame(c)
    check(fin, "echo is one frame")
    check_eq(op, opcode, "echo opcode")
    check(got == payload, f"echo payload differs ({len(got)} of {len(payload)} bytes)")


# ------------------------------------------------------------ the handshake

@case()
def handshake_answers_101(srv):
    c, r = ws_open(srv)
    check_eq(r.header("sec-websocket-accept"), ACCEPT, "Sec-WebSocket-Accept")
    check_eq((r.header("upgrade") or "").lower(), "websocket", "Upgrade")
    check_eq((r.header("connection") or "").lower(), "upgrade", "Connection")
    check(r.header("sec-websocket-protocol") is None, "no subprotocol offered, none chosen")
    check_eq(r.header("x-ring"), "0", "X-Ring set by the handler before accepting")
    key = base64.b64encode(os.urandom(16)).decode()
    c2 = Conn(srv)
    c2.send(handshake(key=key, extra=[("Sec-WebSocket-Protocol", "chat, echo")]))
    r2 = c2.read_response(head=True)
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    check_eq(r2.header("sec-websocket-accept"), want, "Sec-WebSocket-Accept of a random key")
    check_eq(r2.header("sec-websocket-protocol"), "echo", "the subprotocol the handler chose")
    echo_raw(c2, TEXT, b"after the upgrade")


@case()
def bad_handshakes(srv):
    cases = [
        (handshake(upgrade=None), 400, "no Upgrade"),
        (handshake(upgrade="h2c"), 400, "Upgrade is not websocket"),
        (handshake(connection="keep-alive"), 400, "Connection without upgrade"),
        (handshake(key=None), 400, "no key"),
        (handshake(key="c2hvcnQ="), 400, "a key of 5 bytes"),
        (handshake(version="8"), 426, "version 8"),
        (handshake(version=None), 426, "no version"),
        (handshake(method="HEAD"), 400, "HEAD"),
        (handshake(extra=[("Sec-WebSocket-Key", KEY)]), 400, "two keys"),
        (handshake(method="POST"), 405, "POST"),
        (handshake(path="/ws/echo?refuse=1"), 403, "the handler refuses"),
        (get("/ws/echo"), 400, "a plain GET"),
    ]
    c = Conn(srv)
    for raw, status, what in cases:
        c.send(raw)
        r = c.read_response(head=what == "HEAD")
        check_eq(r.status, status, what)
        if status == 426:
            check_eq(r.header("sec-websocket-version"), "13", f"{what}: the version we speak")
        check(r.header("sec-websocket-accept") is None, f"{what}: no accept header")
        # The connection was never upgraded: it goes on with HTTP.
        c.expect_open(what)


# ------------------------------------------------------------ frames, raw

@case()
def echo_fragments_and_control_frames(srv):
    c, _ = ws_open(srv)
    echo_raw(c, TEXT, "héllo wörld".encode())
    echo_raw(c, BINARY, bytes(range(256)) * 300)  # 76800 bytes: a 64-bit length
    echo_raw(c, TEXT, b"")
    # A text message in three fragments, a UTF-8 sequence cut between two,
    # a ping between them: the pong comes first, then the whole message.
    text = "a€b".encode()
    c.send(frame(TEXT, text[:2], fin=False) + frame(PING, b"between") +
           frame(CONT, text[2:3], fin=False) + frame(CONT, text[3:]))
    check_eq(read_frame(c), (True, PONG, b"between"), "pong between fragments")
    check_eq(read_frame(c), (True, TEXT, text), "the reassembled message")
    # Frames cut anywhere (here: 1 byte at a time) parse the same.
    c.send_pieces(frame(BINARY, b"x" * 300) + frame(PING, b"p"), 1)
    check_eq(read_frame(c), (True, BINARY, b"x" * 300), "a frame sent byte by byte")
    check_eq(read_frame(c), (True, PONG, b"p"), "then its ping")
    # A pong from the client is ignored.
    c.send(frame(PONG, b"unsolicited"))
    echo_raw(c, TEXT, b"still here")


@case()
def frames_sent_with_the_handshake(srv):
    """Frames that follow the handshake in the same segment are WebSocket
    input, whether the handler accepts at once (the rest of the buffer
    being parsed) or after a wait (input held by the session meanwhile)."""
    for path in ("/ws/echo", "/ws/echo?delay_ms=200"):
        c = Conn(srv)
        msgs = [frame(TEXT, f"early {i}") for i in range(3)] + [frame(PING, b"early ping")]
        c.send(handshake(path) + b"".join(msgs))
        r = c.read_response(head=True)
        check_eq(r.status, 101, f"{path}: handshake")
        for i in range(3):
            check_eq(read_frame(c), (True, TEXT, f"early {i}".encode()), f"{path}: echo {i}")
        check_eq(read_frame(c), (True, PONG, b"early ping"), f"{path}: pong")
        echo_raw(c, BINARY, b"later")
        c.send(close_frame(1000))
        check_eq(read_frame(c)[1], CLOSE, f"{path}: close answer")
        c.close()


@case()
def close_handshake_from_client(srv):
    c, _ = ws_open(srv)
    echo_raw(c, TEXT, b"x")
    c.send(close_frame(1000, b"done"))
    fin, op, payload = read_frame(c)
    check_eq(op, CLOSE, "the answer to a close")
    check_eq(payload, struct.pack("!H", 1000), "the close code echoed")
    c.expect_closed(what="the close handshake")
    # A close without a code is answered without one.
    c, _ = ws_open(srv)
    c.send(close_frame())
    check_eq(read_frame(c), (True, CLOSE, b""), "close without a code")
    c.expect_closed(what="the close handshake")


@case()
def close_handshake_from_server(srv):
    c, _ = ws_open(srv)
    c.send(frame(TEXT, b"close"))  # the demo's handler closes with 4000 "bye"
    fin, op, payload = read_frame(c)
    check_eq((op, payload), (CLOSE, struct.pack("!H", 4000) + b"bye"), "the server's close")
    c.send(close_frame(4000))
    c.expect_closed(what="the client's answer to the close")


@case()
def protocol_violations_close_with_their_code(srv):
    big = 16 * 1024 * 1024 + 1
    bad = [
        (frame(TEXT, b"hi", mask=False), 1002, "unmasked frame"),
        (frame(PING, b"x", fin=False), 1002, "fragmented ping"),
        (frame(PING, b"x" * 126), 1002, "ping of 126 bytes"),
        (frame(TEXT, b"x", rsv=4), 1002, "RSV1 without an extension"),
        (frame(3, b"x"), 1002, "reserved opcode 3"),
        (frame(CONT, b"x"), 1002, "continuation without a message"),
        (frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), 1002, "new message mid-message"),
        (close_frame(1005), 1002, "close code 1005 sent"),
        (frame(CLOSE, b"\x03"), 1002, "close body of one byte"),
        (frame(TEXT, b"\xc3\x28"), 1007, "invalid UTF-8"),
        (frame(TEXT, b"\xed\xa0\x80"), 1007, "a UTF-16 surrogate"),
        (frame(TEXT, b"ok\xf0\x9f", fin=False) + frame(CONT, b"\x98"), 1007,
         "a message ending mid-sequence"),
        (close_frame(1000, b"\xff"), 1007, "invalid UTF-8 in a close reason"),
        (frame(BINARY, length=big)[:14], 1009, "a frame over 16 MiB (header only)"),
        (frame(BINARY, b"x" * 1000, fin=False) + frame(CONT, length=big - 1000)[:14], 1009,
         "fragments adding up to over 16 MiB"),
    ]
    for raw, code, what in bad:
        c, _ = ws_open(srv)
        c.send(raw, tolerate_close=True)
        expect_close(c, code, what)
        c.close()


# ------------------------------------------------------------ websockets client

def run(coro):
    return asyncio.run(asyncio.wait_for(coro, h.TIMEOUT * 6))


def url(srv, path):
    return f"ws://{srv.url_host}:{srv.port}{path}"


@case()
def echo_10000_messages_of_mixed_sizes(srv):
    rnd = random.Random(6455)
    sizes = [0, 1, 125, 126, 127, 1000, 65535, 65536, 65537, 4096]
    msgs = []
    for i in range(10000):
        n = rnd.choice(sizes) if i % 50 else rnd.randint(65537, 300000)
        if i % 2:
            msgs.append(rnd.randbytes(n))
        else:
            msgs.append("".join(rnd.choice("abcé€𝄞 ") for _ in range(min(n, 2000))))

    async def go():
        async with websockets.connect(url(srv, "/ws/echo"), max_size=None,
                                      ping_interval=None) as ws:
            for i in range(0, len(msgs), 100):
                batch = msgs[i:i + 100]
                for m in batch:
                    await ws.send(m)
                for k, m in enumerate(batch):
                    got = await ws.recv()
                    if got != m:
                        raise Failure(f"message {i + k}: echo differs ({type(got).__name__} "
                                      f"of {len(got)}, sent {type(m).__name__} of {len(m)})")
    run(go())


@case()
def echo_16_mib(srv):
    async def go():
        async with websockets.connect(url(srv, "/ws/echo"), max_size=None,
                                      ping_interval=None) as ws:
            big = os.urandom(16 << 20)
            await ws.send(big)
            check((await ws.recv()) == big, "16 MiB echo differs")
            await ws.send("small after big")
            check_eq(await ws.recv(), "small after big", "echo after 16 MiB")
            await ws.close()
            check_eq(ws.close_code, 1000, "close code after a client close")
    run(go())


@case()
def server_close_seen_by_client(srv):
    async def go():
        async with websockets.connect(url(srv, "/ws/echo")) as ws:
            await ws.send("close")
            try:
                await ws.recv()
                raise Failure("no close after 'close'")
            except websockets.ConnectionClosed as e:
                check_eq((e.rcvd.code, e.rcvd.reason), (4000, "bye"), "the server's close")
    run(go())


@case()
def sender_that_does_not_read_is_throttled(srv):
    """The echo handler's sends wait on the window and the next message is
    not read while one waits: a client that only sends fills its own socket
    buffers and stops, whatever it tries to send."""
    c, _ = ws_open(srv, rcvbuf=65536)
    msg = frame(BINARY, b"z" * (1 << 20))
    sent = 0
    c.sock.settimeout(2 * h.SCALE)
    try:
        for _ in range(512):  # 512 MiB if nothing pushed back
            c.sock.sendall(msg)
            sent += 1
    except socket.timeout:
        pass
    check(sent < 512, "the server kept reading 512 MiB that nobody read back")
    stats = StatsConn(srv)
    st = stats.get()
    check(st["conns_live"] >= 2, "still connected")
    stats.close()
    abort_sock(c.sock)


# ------------------------------------------------------------ chat across rings

def members_on_both_rings(srv, per_ring):
    """Opens chat members until each ring has per_ring of them (raw sockets)."""
    by_ring = {0: [], 1: []}
    extra = []
    for _ in range(200):
        if all(len(v) >= per_ring for v in by_ring.values()):
            break
        c, r = ws_open(srv, "/ws/chat")
        ring = int(r.header("x-ring"))
        (by_ring[ring] if len(by_ring[ring]) < per_ring else extra).append(c)
    for c in extra:
        c.send(close_frame(1000))
        c.close()
    check(all(len(v) >= per_ring for v in by_ring.values()),
          f"could not get {per_ring} members on each ring: {[len(v) for v in by_ring.values()]}")
    return by_ring[0] + by_ring[1]


@case(threads=2)
def chat_across_two_rings(srv):
    members = members_on_both_rings(srv, 3)
    stats = StatsConn(srv)
    stats.wait_for(lambda st: st["conns_live"] >= len(members) + 1, "members connected")
    stats.close()
    # Every member says one thing; every member hears everything, each sender's in order.
    for i, c in enumerate(members):
        c.send(frame(TEXT, f"m{i}-a") + frame(TEXT, f"m{i}-b"))
    want = sorted(f"m{i}-{x}".encode() for i in range(len(members)) for x in "ab")
    for j, c in enumerate(members):
        got = [read_frame(c) for _ in want]
        check(all(op == TEXT for _, op, _ in got), f"member {j}: text frames")
        texts = [p for _, _, p in got]
        check_eq(sorted(texts), want, f"member {j}: what it heard")
        for i in range(len(members)):
            check(texts.index(f"m{i}-a".encode()) < texts.index(f"m{i}-b".encode()),
                  f"member {j}: member {i}'s messages out of order")
    # A binary message of 200 KB reaches the other ring whole.
    blob = os.urandom(200000)
    members[0].send(frame(BINARY, blob))
    for j, c in enumerate(members):
        check_eq(read_frame(c), (True, BINARY, blob), f"member {j}: the binary message")
    for c in members:
        c.send(close_frame(1000))
        check_eq(read_frame(c)[1], CLOSE, "the close answer")
        c.close()


@case()
def chat_leave_join_and_others(srv):
    """Membership changes and a send that skips its sender (one ring, so
    that every step is ordered)."""
    a, _ = ws_open(srv, "/ws/chat")
    b, _ = ws_open(srv, "/ws/chat")
    stats = StatsConn(srv)
    stats.wait_for(lambda st: st["conns_live"] >= 3, "members connected")
    stats.close()
    b.send(frame(TEXT, b"/others to a only"))
    check_eq(read_frame(a), (True, TEXT, b"to a only"), "a gets /others from b")
    a.send(frame(TEXT, b"/leave"))
    check_eq(read_frame(a), (True, TEXT, b"leave"), "leave acknowledged")
    a.send(frame(TEXT, b"/leave"))  # not a member: the handler ends with an error
    expect_close(a, 1011, "leaving twice (the demo's handler returns -ENOENT)", reply=True)
    b.send(frame(TEXT, b"x"))
    check_eq(read_frame(b), (True, TEXT, b"x"), "b alone in the room gets its own message")
    b.send(frame(TEXT, b"/leave"))
    check_eq(read_frame(b), (True, TEXT, b"leave"), "b left")
    b.send(frame(TEXT, b"/join"))
    check_eq(read_frame(b), (True, TEXT, b"join"), "b joined again")
    b.send(frame(TEXT, b"y"))
    check_eq(read_frame(b), (True, TEXT, b"y"), "b back in the room")
    b.send(close_frame(1000))
    check_eq(read_frame(b)[1], CLOSE, "close answer")


@case(threads=2)
def chat_with_websockets_clients(srv):
    async def go():
        clients = [await websockets.connect(url(srv, "/ws/chat")) for _ in range(8)]
        try:
            rings = {c.response_headers["X-Ring"] for c in clients}
            for i, c in enumerate(clients):
                await c.send(f"hello from {i}")
            for c in clients:
                got = sorted([await c.recv() for _ in clients])
                check_eq(got, sorted(f"hello from {i}" for i in range(8)), "chat messages")
            return rings
        finally:
            for c in clients:
                await c.close()
    rings = run(go())
    print(f"     8 members on rings {sorted(rings)}")


@case(threads=2)
def slow_chat_member_is_closed_1008(srv):
    """A member that stops reading is closed with 1008 once its unsent
    output would pass max_send_queue (2 MiB for /ws/chat), instead of the
    server buffering the room's messages for it without bound."""
    slow, _ = ws_open(srv, "/ws/chat", rcvbuf=4096)
    fast, _ = ws_open(srv, "/ws/chat")
    stats = StatsConn(srv)
    stats.wait_for(lambda st: st["conns_live"] >= 3, "members connected")
    stats.close()
    payload = b"q" * 65536
    n = 400  # 25 MiB: past 2 MiB plus whatever the kernel buffers
    for i in range(n):
        fast.send(frame(BINARY, payload))
        check_eq(read_frame(fast), (True, BINARY, payload), f"the sender's own copy {i}")
    got = expect_close(slow, 1008, "the slow member", timeout=h.TIMEOUT * 3)
    check(0 < len(got) < n, f"the slow member got {len(got)} of {n} messages before 1008")
    check(all(p == (BINARY, payload) for p in got), "the slow member's messages are whole")
    # The room goes on for the others.
    fast.send(frame(TEXT, b"still chatting"))
    check_eq(read_frame(fast), (True, TEXT, b"still chatting"), "the room after the close")
    fast.send(close_frame(1000))
    check_eq(read_frame(fast)[1], CLOSE, "close answer")


# ------------------------------------------------------------ hang-up, timers, shutdown

@case()
def hangup_cancels_the_handler(srv):
    stats = StatsConn(srv)
    for path in ("/ws/echo", "/ws/chat"):
        base = stats.get()
        c, _ = ws_open(srv, path)
        echo_raw(c, TEXT, b"hi") if path == "/ws/echo" else None
        stats.wait_for(lambda st: st["stacks_live"] > base["stacks_live"], f"{path}: handler up")
        abort_sock(c.sock)
        stats.wait_for(lambda st: st["cancels"] > base["cancels"]
                       and st["reqs_live"] <= base["reqs_live"]
                       and st["conns_live"] <= base["conns_live"]
                       and st["stacks_live"] <= base["stacks_live"],
                       f"{path}: hang-up cancels the handler and frees it")
    stats.close()


@case(args=["--linger", "0"])
def close_handshakes_without_lingering(srv):
    """linger_ms 0: the TCP connection closes as soon as the close frame is
    out, inside the callback that completes the handshake."""
    for first in ("client", "server"):
        c, _ = ws_open(srv)
        echo_raw(c, BINARY, b"\x00" * 70000)
        if first == "client":
            c.send(close_frame(1001))
            check_eq(read_frame(c), (True, CLOSE, struct.pack("!H", 1001)), "close echoed")
        else:
            c.send(frame(TEXT, b"close"))
            check_eq(read_frame(c)[1], CLOSE, "the server's close")
            c.send(close_frame(4000))
        c.expect_closed(what=f"a close started by the {first}", allow_reset=True)
    for raw, code in ((frame(TEXT, b"x", mask=False), 1002), (frame(TEXT, b"\xff"), 1007)):
        c, _ = ws_open(srv)
        # The bad frame follows good ones in the same segment.
        c.send(frame(TEXT, b"ok") * 3 + raw + frame(TEXT, b"never read"))
        got = expect_close(c, code, f"violation {code} after good frames")
        check_eq(got, [(TEXT, b"ok")] * 3, "the good frames before it are answered")


@case(args=["--ws-ping", "100", "--ws-idle", "1000"])
def keepalive_pings_and_idle_timeout(srv):
    # A peer that answers ringo's pings stays (15 pings: past the idle timeout).
    c, _ = ws_open(srv)
    for i in range(15):
        fin, op, payload = read_frame(c)
        check_eq(op, PING, f"ping {i}")
        c.send(frame(PONG, payload))
    echo_raw(c, TEXT, b"alive after 15 pings")
    c.send(close_frame(1000))
    check_eq(read_frame(c)[1], CLOSE, "close answer")
    # A silent one is pinged, then closed with 1001 at the idle timeout.
    c, _ = ws_open(srv)
    got = expect_close(c, 1001, "the idle timeout", reply=True)
    check(any(op == PING for op, _ in got), "pings before the idle close")


# The idle timeout of the case below. A ring starved of CPU for longer than it may
# reap the timer before the input that came meanwhile: on a loaded machine 1 s was
# not enough for ringo to read the first message after the handshake.
IDLE_MS = 3000


@case(args=["--ws-ping", "100", "--ws-idle", IDLE_MS])
def not_idle_while_the_handler_is_behind(srv):
    """While a message waits for a handler that is behind (its sends wait
    for a client that reads nothing), ringo stops reading that client; the
    silence is its own, so the idle timeout does not close it."""
    c, _ = ws_open(srv, rcvbuf=4096)
    blob = b"i" * (1 << 20)
    c.send(frame(BINARY, blob) * 8)  # 8 MiB: past what the kernel buffers
    time.sleep(2.5 * IDLE_MS / 1000 * h.SCALE)  # past the idle timeout, reading nothing
    # An idle close during the silence would come before the echoes the handler
    # still owes. Reading them back, the client is live: once ringo has read the
    # last message it waits for input again, and the last echoes, read through a
    # 4 KiB window, may take longer than the idle timeout on a loaded machine.
    stop = heartbeats(c)
    got = 0
    while got < 8:
        fin, op, payload = read_frame(c)
        check(op != CLOSE, f"closed after {got} echoes: {payload[:2]!r}")
        if op == BINARY:
            check(payload == blob, "echo differs")
            got += 1
    stop()
    c.send(close_frame(1000))
    while read_frame(c)[1] != CLOSE:
        pass


@case(server=False)
def shutdown_sends_1001():
    srv = h.Server(["--drain-timeout", "60000"], threads=2)
    srv.start()
    try:
        conns = [ws_open(srv, p)[0] for p in ("/ws/echo", "/ws/chat", "/ws/chat")]
        echo_raw(conns[0], TEXT, b"before shutdown")
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        for c in conns:
            expect_close(c, 1001, "shutdown", reply=True)
        srv.wait_stopped(timeout=h.TIMEOUT)  # well below the 60 s drain timeout
        print(f"     3 WebSockets closed with 1001 and the server stopped "
              f"{(time.monotonic() - t0) * 1000:.0f} ms after SIGTERM (drain timeout 60 s)")
    except BaseException:
        srv.kill()
        srv.print_stderr()
        raise
    finally:
        srv.kill()


@case(server=False)
def shutdown_under_chat_load():
    """20 chat members on two rings send and read without pause; SIGTERM
    mid-traffic: every member gets 1001 and the server stops without
    waiting for its 60 s drain timeout, leaking nothing."""
    srv = h.Server(["--drain-timeout", "60000"], threads=2)
    srv.start()
    started = []

    async def member(i):
        rnd = random.Random(i)
        try:
            async with websockets.connect(url(srv, "/ws/chat"), max_size=None,
                                          ping_interval=None, max_queue=None) as ws:
                started.append(i)
                k = 0
                while True:
                    k += 1
                    await ws.send(rnd.randbytes(rnd.choice([10, 1000, 70000])) if k % 2
                                  else f"{i}:{k}")
                    while True:
                        try:
                            await asyncio.wait_for(ws.recv(), 0.001)
                        except asyncio.TimeoutError:
                            break
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None

    async def go():
        tasks = [asyncio.ensure_future(member(i)) for i in range(20)]
        while len(started) < 20:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # traffic in full swing
        srv.send_signal(signal.SIGTERM)
        return await asyncio.gather(*tasks)

    try:
        codes = run(go())
        check_eq(codes, [1001] * 20, "close codes the members got at shutdown")
        srv.wait_stopped(timeout=h.TIMEOUT)  # well below the 60 s drain timeout
    except BaseException:
        srv.kill()
        srv.print_stderr()
        raise
    finally:
        srv.kill()


if __name__ == "__main__":
    h.main()
