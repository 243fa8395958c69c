"""The load of perf/streams: SSE fan-out, WebSocket echo round trips, uploads.

Started by perf/lib/streams.py, pinned to the client CPU, against 127.0.0.1 only. It
prints "start" when the measured window opens (every stream up and the warm-up over) and
"stop" when it closes - the harness reads the server's CPU time at both - then one line
of JSON with what the client saw inside the window. Every loop ends by time (--warmup,
--duration, --timeout) and by count (--max-*).

  streamload.py sse    --port P --clients 1000 --interval-ms 100 --path '/events?...'
  streamload.py ws     --port P --conns 64 --size 32 --path /ws/echo
  streamload.py upload --port P --conns 8 --mib 64 --method POST --path '/upload?hash=0'

sse: each client sends one GET and reads `id: i / data: i` events (chunked or not). Both
servers sleep `interval` after sending an event, so event i is due `interval` after event
i-1 went out: its lateness ("late") is its arrival minus the previous event's arrival minus
the interval - what the server added to this one event (timer, scheduling, sending),
without the sum of all earlier delays. "sched" is arrival minus (request written +
i * interval): it also holds the first answer's delay and every earlier event's lateness,
so it grows with the stream's age.
ws: raw sockets; each connection sends one binary message (masked, as a client must),
awaits its echo (checked byte for byte), and sends the next.
upload: threads with blocking sockets; each sends bodies of --mib MiB over one keep-alive
connection; throughput counts the bytes written inside the window.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import threading
import time

now = time.monotonic
HOST = "127.0.0.1"


def say(line):
    print(line, flush=True)


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def new_loop():
    try:
        import uvloop  # Debian's python3-uvloop: a cheaper client
        return uvloop.new_event_loop(), "uvloop"
    except ImportError:
        return asyncio.new_event_loop(), "asyncio"


# ---------------------------------------------------------------- HTTP response heads --

def split_head(raw, limit=65536):
    """(status, headers lowercased, rest) once raw holds a whole head, else None."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        if len(raw) > limit:
            raise ValueError("response head too long")
        return None
    lines = raw[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, raw[end + 4:]


class Dechunker:
    """Transfer-Encoding: chunked, undone as bytes arrive."""

    def __init__(self):
        self.buf = b""
        self.need = 0  # > 0: bytes left in this chunk; -1: its CRLF; 0: a size line
        self.ended = False

    def feed(self, data):
        self.buf += data
        out = []
        while not self.ended:
            if self.need > 0:
                piece = self.buf[:self.need]
                out.append(piece)
                self.buf = self.buf[len(piece):]
                self.need -= len(piece)
                if self.need:
                    break
                self.need = -1
            if self.need == -1:
                if len(self.buf) < 2:
                    break
                self.buf = self.buf[2:]
                self.need = 0
            k = self.buf.find(b"\r\n")
            if k < 0:
                if len(self.buf) > 1024:
                    raise ValueError("chunk size line too long")
                break
            size = int(self.buf[:k].split(b";")[0], 16)
            self.buf = self.buf[k + 2:]
            if size == 0:
                self.ended = True
            self.need = size
        return b"".join(out)


# ------------------------------------------------------------------------------ SSE --

class SseStats:
    def __init__(self, a):
        self.interval = a.interval_ms / 1000
        self.t_start = self.t_stop = None
        self.lat, self.gap = [], []
        self.events = 0
        self.max_events = a.max_events
        self.up = 0
        self.errors = []


class SseClient(asyncio.Protocol):
    def __init__(self, st, request, up):
        self.st, self.request, self.up = st, request, up
        self.raw = b""
        self.head = True
        self.chunks = None
        self.buf = b""
        self.t0 = None
        self.prev = None  # (i, arrival) of the last event
        self.tr = None

    def connection_made(self, tr):
        self.tr = tr
        self.t0 = now()
        tr.write(self.request)

    def fail(self, why):
        self.st.errors.append(why)
        self.tr.close()

    def data_received(self, data):
        t = now()
        if self.head:
            self.raw += data
            head = split_head(self.raw)
            if head is None:
                return
            status, headers, data = head
            self.head, self.raw = False, b""
            if status != 200 or "text/event-stream" not in headers.get("content-type", ""):
                return self.fail(f"status {status} {headers.get('content-type', '')}")
            if headers.get("transfer-encoding", "").lower() == "chunked":
                self.chunks = Dechunker()
        if self.chunks:
            data = self.chunks.feed(data)
        self.buf += data
        st = self.st
        while True:
            k = self.buf.find(b"\n\n")
            if k < 0:
                break
            ev, self.buf = self.buf[:k], self.buf[k + 2:]
            p = ev.find(b"data: ")
            if p < 0:
                continue  # a comment (keep-alive ping) or an event without data
            i = int(ev[p + 6:].split(b"\n", 1)[0])
            if self.prev is None:
                if not self.up.done():
                    self.up.set_result(None)
            elif st.t_start is not None and st.t_stop is None and st.events < st.max_events:
                st.events += 1
                st.lat.append(t - (self.t0 + i * st.interval))
                if self.prev[0] == i - 1:
                    st.gap.append(t - self.prev[1] - st.interval)
            self.prev = (i, t)

    def connection_lost(self, exc):
        if self.st.t_stop is None:
            self.st.errors.append(f"stream closed early: {exc or 'EOF'}")
        if not self.up.done():
            self.up.set_result(None)


async def run_sse(a, loop):
    st = SseStats(a)
    request = (f"GET {a.path} HTTP/1.1\r\nHost: {HOST}:{a.port}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode()
    clients, ups = [], []
    deadline = now() + a.timeout
    for first in range(0, a.clients, 100):  # batches: a short accept backlog drops no SYN
        batch = []
        for _ in range(first, min(a.clients, first + 100)):
            up = loop.create_future()
            ups.append(up)
            batch.append(loop.create_connection(lambda up=up: SseClient(st, request, up),
                                                HOST, a.port))
        for tr, proto in await asyncio.wait_for(asyncio.gather(*batch),
                                                max(1.0, deadline - now())):
            clients.append(proto)
    await asyncio.wait_for(asyncio.gather(*ups), max(1.0, deadline - now()))
    await asyncio.sleep(a.warmup)
    st.t_start = now()
    say("start")
    await asyncio.sleep(a.duration)
    st.t_stop = now()
    say("stop")
    for c in clients:
        c.tr.close()
    await asyncio.sleep(0.1)
    window = st.t_stop - st.t_start
    ms = 1000.0
    return {
        "clients": len(clients), "window_s": window, "events": st.events,
        "events_per_s": st.events / window,
        "rate_per_client": st.events / window / max(1, len(clients)),
        "late_p50_ms": (pct(st.gap, 50) or 0) * ms, "late_p99_ms": (pct(st.gap, 99) or 0) * ms,
        "late_max_ms": max(st.gap, default=0) * ms,
        "sched_p50_ms": (pct(st.lat, 50) or 0) * ms,
        "sched_p99_ms": (pct(st.lat, 99) or 0) * ms,
        "errors": len(st.errors), "error_sample": st.errors[:3],
    }


# ------------------------------------------------------------------------ WebSocket --

MASK = b"\x5a\xa5\x3c\xc3"


def ws_frame(opcode, payload):
    """One final client frame (masked with MASK)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = (MASK * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return head + MASK + masked


def ws_handshake(path, port):
    key = base64.b64encode(os.urandom(16)).decode()
    accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    return req, accept


class WsStats:
    def __init__(self, a):
        self.t_start = self.t_stop = None
        self.lat = []
        self.count = 0
        self.total = 0
        self.max_total = a.max_roundtrips
        self.errors = []


class WsClient(asyncio.Protocol):
    def __init__(self, st, port, path, payload, done):
        self.st, self.payload, self.done = st, payload, done
        self.frame = ws_frame(0x2, payload)
        self.request, self.accept = ws_handshake(path, port)
        self.buf = bytearray()
        self.open = False
        self.sent_at = 0.0
        self.tr = None

    def connection_made(self, tr):
        self.tr = tr
        tr.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tr.write(self.request)

    def finish(self, why=None):
        if why:
            self.st.errors.append(why)
        if not self.done.done():
            self.done.set_result(None)

    def send(self):
        st = self.st
        if st.t_stop is not None or st.total >= st.max_total:
            return self.finish()
        self.sent_at = now()
        self.tr.write(self.frame)

    def data_received(self, data):
        self.buf += data
        if not self.open:
            head = split_head(bytes(self.buf))
            if head is None:
                return
            status, headers, rest = head
            if status != 101 or headers.get("sec-websocket-accept") != self.accept:
                self.tr.close()
                return self.finish(f"handshake: status {status}")
            self.open = True
            self.buf = bytearray(rest)
            self.send()
        while len(self.buf) >= 2:
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7F, 2
            if b1 & 0x80:
                self.tr.close()
                return self.finish("server frame masked")
            if n == 126:
                if len(self.buf) < 4:
                    return
                n, off = struct.unpack_from("!H", self.buf, 2)[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    return
                n, off = struct.unpack_from("!Q", self.buf, 2)[0], 10
            if len(self.buf) < off + n:
                return
            opcode, body = b0 & 0x0F, bytes(self.buf[off:off + n])
            del self.buf[:off + n]
            if opcode == 0x9:
                self.tr.write(ws_frame(0xA, body))  # pong
            elif opcode == 0xA:
                pass
            elif opcode == 0x8:
                self.tr.close()
                return self.finish(f"server closed: {body[:2].hex()} {body[2:40]!r}")
            elif not b0 & 0x80 or body != self.payload:
                self.tr.close()
                return self.finish(f"echo differs (opcode {opcode}, {n} bytes)")
            else:
                t = now()
                st = self.st
                st.total += 1
                if st.t_start is not None and st.t_stop is None:
                    st.count += 1
                    st.lat.append(t - self.sent_at)
                self.send()

    def connection_lost(self, exc):
        if self.st.t_stop is None:
            self.finish(f"connection lost: {exc or 'EOF'}")
        self.finish()


async def run_ws(a, loop):
    st = WsStats(a)
    payload = bytes((i * 7 + 1) & 0xFF for i in range(a.size))
    dones, clients = [], []
    for _ in range(a.conns):
        done = loop.create_future()
        dones.append(done)
        _, proto = await asyncio.wait_for(loop.create_connection(
            lambda done=done: WsClient(st, a.port, a.path, payload, done), HOST, a.port),
            a.timeout)
        clients.append(proto)
    await asyncio.sleep(a.warmup)
    st.t_start = now()
    say("start")
    stopped = asyncio.gather(*dones)
    try:
        await asyncio.wait_for(asyncio.shield(stopped), a.duration)
    except asyncio.TimeoutError:
        pass
    st.t_stop = now()
    say("stop")
    try:
        await asyncio.wait_for(stopped, a.timeout)  # the last round trips come back
    except asyncio.TimeoutError:
        st.errors.append("echo missing at the end")
    for c in clients:
        c.tr.write(b"\x88\x82" + MASK + bytes(x ^ y for x, y in zip(b"\x03\xe8", MASK)))
        c.tr.close()
    await asyncio.sleep(0.1)
    window = st.t_stop - st.t_start
    return {
        "conns": a.conns, "size": a.size, "window_s": window, "roundtrips": st.count,
        "rps": st.count / window,
        "lat_p50_ms": (pct(st.lat, 50) or 0) * 1000, "lat_p99_ms": (pct(st.lat, 99) or 0) * 1000,
        "errors": len(st.errors), "error_sample": st.errors[:3],
    }


# --------------------------------------------------------------------------- upload --

class Uploader(threading.Thread):
    CHUNK = 1 << 20

    def __init__(self, a, idx, body, stop):
        super().__init__(daemon=True)
        self.a, self.body, self.stop = a, body, stop
        self.path = a.path.replace("{i}", str(idx))
        self.sent = 0
        self.uploads = 0
        self.seconds = []
        self.errors = []

    def connect(self):
        s = socket.create_connection((HOST, self.a.port), timeout=self.a.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def read_answer(self, s):
        raw = b""
        while (head := split_head(raw)) is None:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the answer")
            raw += chunk
        status, headers, rest = head
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed in the answer")
            rest += chunk
        return status, headers, rest

    def run(self):
        a, mv = self.a, memoryview(self.body)
        head = (f"{a.method} {self.path} HTTP/1.1\r\nHost: {HOST}:{a.port}\r\n"
                f"Content-Type: application/octet-stream\r\n"
                f"Content-Length: {len(self.body)}\r\n\r\n").encode()
        s = None
        try:
            while not self.stop.is_set() and self.uploads < a.max_uploads:
                if s is None:
                    s = self.connect()
                t0 = now()
                s.sendall(head)
                for off in range(0, len(mv), self.CHUNK):
                    s.sendall(mv[off:off + self.CHUNK])
                    self.sent += min(self.CHUNK, len(mv) - off)
                status, headers, body = self.read_answer(s)
                if status not in (200, 201, 204):
                    self.errors.append(f"status {status}: {body[:80]!r}")
                    break
                if status == 200 and b'"bytes":%d' % len(self.body) not in body:
                    self.errors.append(f"answer {body[:80]!r}")
                    break
                self.uploads += 1
                self.seconds.append(now() - t0)
                if headers.get("connection", "").lower() == "close":
                    s.close()
                    s = None
        except OSError as e:
            self.errors.append(f"{type(e).__name__}: {e}")
        finally:
            if s is not None:
                s.close()


def run_upload(a):
    body = bytes(range(256)) * (a.mib * 4096)
    stop = threading.Event()
    threads = [Uploader(a, i, body, stop) for i in range(a.conns)]
    for t in threads:
        t.start()
    time.sleep(a.warmup)
    b0, u0, t_start = sum(t.sent for t in threads), sum(t.uploads for t in threads), now()
    say("start")
    time.sleep(a.duration)
    b1, u1, t_stop = sum(t.sent for t in threads), sum(t.uploads for t in threads), now()
    say("stop")
    stop.set()  # each finishes the body it is sending, outside the window
    for t in threads:
        t.join(a.timeout)
    errors = [e for t in threads for e in t.errors]
    if any(t.is_alive() for t in threads):
        errors.append("an upload did not finish within --timeout")
    window = t_stop - t_start
    secs = [x for t in threads for x in t.seconds]
    return {
        "conns": a.conns, "mib": a.mib, "window_s": window, "bytes": b1 - b0,
        "mb_per_s": (b1 - b0) / window / 1e6, "uploads": u1 - u0,
        "upload_p50_s": pct(secs, 50), "errors": len(errors), "error_sample": errors[:3],
    }


def main():
    ap = argparse.ArgumentParser(prog="streamload.py")
    sub = ap.add_subparsers(dest="mode", required=True)
    for name in ("sse", "ws", "upload"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--path", required=True)
        p.add_argument("--warmup", type=float, default=1.0)
        p.add_argument("--duration", type=float, default=5.0)
        p.add_argument("--timeout", type=float, default=60.0, help="connecting, finishing")
    sse, ws, up = sub.choices["sse"], sub.choices["ws"], sub.choices["upload"]
    sse.add_argument("--clients", type=int, default=1000)
    sse.add_argument("--interval-ms", type=float, default=100)
    sse.add_argument("--max-events", type=int, default=5_000_000)
    ws.add_argument("--conns", type=int, default=1)
    ws.add_argument("--size", type=int, default=32)
    ws.add_argument("--max-roundtrips", type=int, default=5_000_000)
    up.add_argument("--conns", type=int, default=8)
    up.add_argument("--mib", type=int, default=64)
    up.add_argument("--method", default="POST")
    up.add_argument("--max-uploads", type=int, default=100_000)
    a = ap.parse_args()
    if a.mode == "upload":
        r = run_upload(a)
        r["loop"] = "threads"
    else:
        loop, kind = new_loop()
        r = loop.run_until_complete((run_sse if a.mode == "sse" else run_ws)(a, loop))
        loop.close()
        r["loop"] = kind
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
