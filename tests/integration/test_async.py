#!/usr/bin/env python3
"""
Description: RINGO_ASYNC handlers that await io_uring operations. 1000
concurrent /sleep?ms=200 on one ring are all answered, far faster than
serially; a client that disconnects mid-sleep cancels the pending timeout
(the cancels counter rises, stacks and requests are reclaimed); a route
deadline answers 504 while the handler still sleeps and the connection stays
usable; /async/file and /async/upstream return the right bytes, also many at
once; pipelined sleeps are answered in order; the stall watchdog names a
handler that blocks its ring; a graceful shutdown lets in-flight sleepers
finish.
"""
import os
import resource
import selectors
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import StatsConn, abort_sock, close_socks, raise_nofile  # noqa: E402
from ringo_harness import (Conn, Server, case, check, check_eq, check_std_headers,  # noqa: E402
                           get)

HERE = os.path.dirname(os.path.abspath(__file__))
HELLO_FILE = os.path.join(HERE, "..", "..", "examples", "static", "hello.txt")


def slept(ms):
    return f"slept {ms} ms\n".encode()


# ------------------------------------------------------------ helpers

def open_conns(srv, n):
    """n connected TCP sockets (blocking connect, one at a time)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(srv.family, socket.SOCK_STREAM)
            socks.append(s)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(h.TIMEOUT)
            s.connect((srv.connect_host, srv.port))
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def response_complete(buf):
    """Length of the first complete Content-Length-framed response in buf, else 0."""
    i = buf.find(b"\r\n\r\n")
    if i < 0:
        return 0
    head = h.parse_head(bytes(buf[:i]))
    cl = head.header_all("content-length")
    check(len(cl) == 1 and cl[0].isdigit(), f"response without one Content-Length: {head!r}")
    end = i + 4 + int(cl[0])
    return end if len(buf) >= end else 0


def gather(socks, timeout, what):
    """Reads one response from every socket concurrently (one thread,
    selectors). Returns (responses in socket order, completion rank of each:
    sockets completed in the same wakeup share a rank)."""
    sel = selectors.DefaultSelector()
    bufs = [bytearray() for _ in socks]
    done = [None] * len(socks)
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    deadline = h.deadline_after(timeout)
    rank, left = 0, len(socks)
    try:
        while left:
            t = h.remaining(deadline)
            if t <= 0:
                missing = [i for i, d in enumerate(done) if d is None]
                raise h.Failure(f"{what}: {len(missing)} of {len(socks)} responses missing "
                                f"after {timeout:.0f}s (first missing #{missing[0]}, has "
                                f"{bytes(bufs[missing[0]][:200])!r})")
            events = sel.select(min(t, 1.0))
            rank += 1
            for key, _ in events:
                i = key.data
                try:
                    data = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionResetError:
                    data = b""
                if not data:
                    raise h.Failure(f"{what}: connection #{i} closed before a complete "
                                    f"response; has {bytes(bufs[i][:200])!r}")
                bufs[i] += data
                if response_complete(bufs[i]):
                    done[i] = rank
                    sel.unregister(key.fileobj)
                    left -= 1
    finally:
        sel.close()
        for s in socks:
            s.setblocking(True)
            s.settimeout(h.TIMEOUT)
    resps = []
    for i, b in enumerate(bufs):
        rd = h.BytesReader(bytes(b))
        r = rd.read_response()
        check(not rd.buf, f"{what}: extra bytes after the response on #{i}: {bytes(rd.buf)[:100]!r}")
        resps.append(r)
    return resps, done


def send_all(socks, data):
    for s in socks:
        s.sendall(data)


# ------------------------------------------------------------- cases

@case()
def thousand_sleepers_one_ring(srv):
    n, ms = 1000, 200
    raise_nofile(n + 256)
    socks = open_conns(srv, n)
    try:
        t0 = time.monotonic()
        send_all(socks, get(f"/sleep?ms={ms}"))
        serial = n * ms / 1000.0
        resps, _ = gather(socks, serial / 10 + 5, f"{n} concurrent GET /sleep?ms={ms}")
        total = time.monotonic() - t0
    finally:
        close_socks(socks)
    for i, r in enumerate(resps):
        check(r.status == 200 and r.body == slept(ms), f"sleeper #{i}: {r!r}")
        check_std_headers(r, closing=False)
    check(total >= ms / 1000.0 * 0.9, f"{n} sleepers of {ms} ms answered in {total:.3f}s: "
          "shorter than one sleep")
    check(total < serial / 10, f"{n} sleepers of {ms} ms took {total:.1f}s on one ring: "
          f"not concurrent (serially {serial:.0f}s; bound {serial / 10:.0f}s)")
    print(f"     {n} x /sleep?ms={ms} on --threads 1: {total:.2f}s (serially {serial:.0f}s)")


def disconnect_cancels(srv, how):
    n = 20
    stats = StatsConn(srv)
    base = stats.get()
    socks = open_conns(srv, n)
    try:
        send_all(socks, get("/sleep?ms=10000"))
        # Every sleeper is suspended in its handler before the clients leave.
        stats.wait_for(lambda st: st["stacks_live"] >= base["stacks_live"] + n
                       and st["reqs_live"] >= base["reqs_live"] + n,
                       f"{n} GET /sleep?ms=10000 in flight")
        time.sleep(0.1)
    finally:
        for s in socks:
            abort_sock(s) if how == "rst" else s.close()
    st = stats.wait_for(lambda st: st["cancels"] >= base["cancels"] + n
                        and st["stacks_live"] <= base["stacks_live"]
                        and st["reqs_live"] <= base["reqs_live"]
                        and st["conns_live"] <= base["conns_live"],
                        f"{n} clients gone mid-sleep ({how}): cancels +{n}, stacks, requests "
                        f"and connections back to {base!r}", timeout=10 * h.SCALE)
    check_eq(st["cancels"] - base["cancels"], n, f"cancels after {n} disconnects ({how})")
    check_eq(st["reqs_served"] - base["reqs_served"], stats.polls - 1,
             "reqs_served counts only the /stats requests (cancelled sleepers are not served)")
    stats.close()


@case()
def disconnect_mid_sleep_fin_cancels(srv):
    disconnect_cancels(srv, "fin")


@case()
def disconnect_mid_sleep_rst_cancels(srv):
    disconnect_cancels(srv, "rst")


@case()
def deadline_answers_504_then_connection_serves(srv):
    stats = StatsConn(srv)
    base = stats.get()
    c = Conn(srv)
    # The sleep is long enough that no loaded machine answers that late by chance:
    # an answer before its end proves the deadline cut it short.
    ms = 60000
    t0 = time.monotonic()
    c.send(get(f"/deadline/sleep?ms={ms}"))
    r = c.read_response()
    took = time.monotonic() - t0
    check_eq(r.status, 504, f"GET /deadline/sleep?ms={ms} (route deadline 200 ms) status")
    check_std_headers(r, closing=False)
    check(took < ms / 1000, f"504 came after {took:.2f}s: not before the {ms} ms sleep "
          "would have ended (route deadline 200 ms)")
    c.expect_open("the 504 of a route deadline")
    c.send(get("/deadline/sleep?ms=10"))
    r = c.read_response()
    check(r.status == 200 and r.body == slept(10),
          f"GET /deadline/sleep?ms=10 (within the deadline): {r!r}")
    check_std_headers(r, closing=False)
    st = stats.wait_for(lambda st: st["stacks_live"] <= base["stacks_live"]
                        and st["reqs_live"] <= base["reqs_live"],
                        "stack and request of the 504'd handler reclaimed")
    check_eq(st["cancels"] - base["cancels"], 1, "cancels after one expired deadline")
    stats.close()


@case()
def deadline_pipelined(srv):
    c = Conn(srv)
    c.send(get("/deadline/sleep?ms=2000") + get("/plaintext") + get("/deadline/sleep?ms=5"))
    r = c.read_response()
    check_eq(r.status, 504, "pipelined /deadline/sleep?ms=2000")
    r = c.read_response()
    check(h.hello_ok(r), f"/plaintext after a pipelined 504: {r!r}")
    r = c.read_response()
    check(r.status == 200 and r.body == slept(5), f"/deadline/sleep?ms=5 after a 504: {r!r}")


@case()
def async_file_bytes(srv):
    with open(HELLO_FILE, "rb") as f:
        want = f.read()
    c = Conn(srv)
    for i in range(5):
        c.send(get("/async/file"))
        r = c.read_response()
        check_eq((r.status, r.body), (200, want), f"GET /async/file #{i} (vs {HELLO_FILE})")
        check_eq(r.header("content-type"), "text/plain", "/async/file Content-Type")
        check_std_headers(r, closing=False)
    socks = open_conns(srv, 20)
    try:
        send_all(socks, get("/async/file"))
        resps, _ = gather(socks, h.TIMEOUT, "20 concurrent GET /async/file")
    finally:
        close_socks(socks)
    for i, r in enumerate(resps):
        check_eq((r.status, r.body), (200, want), f"concurrent GET /async/file #{i}")


def check_upstream(r, what):
    check_eq((r.status, r.body), (200, b"Hello, World!"), what)
    check_eq(r.header("x-upstream-status"), "200", f"{what}: X-Upstream-Status")
    check_std_headers(r, closing=False)


@case()
def async_upstream_bytes(srv):
    c = Conn(srv)
    for i in range(3):
        c.send(get("/async/upstream"))
        check_upstream(c.read_response(), f"GET /async/upstream #{i}")


@case()
def async_upstream_fifty_concurrent(srv):
    n = 50
    socks = open_conns(srv, n)
    try:
        send_all(socks, get("/async/upstream"))
        resps, _ = gather(socks, h.TIMEOUT, f"{n} concurrent GET /async/upstream")
    finally:
        close_socks(socks)
    for i, r in enumerate(resps):
        check_upstream(r, f"concurrent GET /async/upstream #{i}")


@case()
def pipelined_sleeps_in_order(srv):
    c = Conn(srv)
    c.send(get("/sleep?ms=50") + get("/plaintext") + get("/sleep?ms=10"))
    r = c.read_response()
    check((r.status, r.body) == (200, slept(50)), f"1st pipelined response (/sleep?ms=50): {r!r}")
    r = c.read_response()
    check(h.hello_ok(r), f"2nd pipelined response (/plaintext): {r!r}")
    r = c.read_response()
    check((r.status, r.body) == (200, slept(10)), f"3rd pipelined response (/sleep?ms=10): {r!r}")
    check_std_headers(r, closing=False)
    c.expect_open("pipelined sleeps")


def stall_lines(srv):
    return [l for l in srv.stderr_text().splitlines() if "stalled" in l]


@case(args=("--stall-warn", "50"))
def watchdog_names_blocking_handler(srv):
    stats = StatsConn(srv)
    base = stats.get()
    stats.close()  # its connection would wait behind the block like any other
    before = len(stall_lines(srv))
    a = Conn(srv)
    a.send(get("/block?ms=300"))
    # The watchdog line proves the ring is inside the blocking handler now.
    deadline = h.deadline_after(h.TIMEOUT)
    while len(stall_lines(srv)) == before:
        check(h.remaining(deadline) > 0,
              "no 'stalled' line on the server's stderr while GET /block?ms=300 blocks "
              "the ring (--stall-warn 50)")
        time.sleep(0.005)
    b = Conn(srv)
    b.send(get("/plaintext"))
    resps, rank = gather([a.sock, b.sock], h.TIMEOUT, "GET /block and a /plaintext behind it")
    check_eq((resps[0].status, resps[0].body), (200, b"blocked the ring\n"), "GET /block?ms=300")
    check(h.hello_ok(resps[1]), f"/plaintext sent during the block: {resps[1]!r}")
    check(rank[1] >= rank[0], "/plaintext sent while the only ring was blocked was answered "
          "before the blocking handler finished")
    line = stall_lines(srv)[before]
    check("GET /block" in line, f"stall line does not name the route 'GET /block': {line!r}")
    stats = StatsConn(srv)
    st = stats.get()
    check(st["ring_stalls"] >= base["ring_stalls"] + 1,
          f"ring_stalls did not rise after a 300 ms block: before {base!r}, after {st!r}")
    stats.close()


@case(args=("--stall-warn", "150"))
def watchdog_ignores_suspended_sleepers(srv):
    # A sleeping coroutine is suspended: the ring is free, nothing stalls.
    c = Conn(srv)
    c.send(get("/sleep?ms=500") + get("/sleep?ms=400"))
    for ms in (500, 400):
        r = c.read_response()
        check_eq((r.status, r.body), (200, slept(ms)), f"/sleep?ms={ms}")
    stats = StatsConn(srv)
    st = stats.get()
    stats.close()
    check_eq(st["ring_stalls"], 0, "ring_stalls after async sleeps only (--stall-warn 150)")
    check_eq(stall_lines(srv), [], "'stalled' lines after async sleeps only")


@case(server=False)
def shutdown_lets_sleepers_finish():
    n, ms = 200, 300
    raise_nofile(n + 256)
    srv = Server(threads=1)
    srv.start()
    socks = []
    try:
        stats = StatsConn(srv)
        base = stats.get()
        socks = open_conns(srv, n)
        t0 = time.monotonic()
        send_all(socks, get(f"/sleep?ms={ms}"))

        def all_read(st):
            # Sleepers in flight plus those already answered (polls of /stats
            # are served too: the current one is live, the earlier ones served).
            live = st["reqs_live"] - 1
            served = st["reqs_served"] - base["reqs_served"] - (stats.polls - 1)
            return live + served >= n

        st = stats.wait_for(all_read, f"{n} GET /sleep?ms={ms} read by the server")
        stats.close()
        in_flight = st["reqs_live"] - 1
        srv.send_signal(signal.SIGTERM)
        t_sig = time.monotonic() - t0
        resps, _ = gather(socks, 3 * h.TIMEOUT, f"{n} sleepers after SIGTERM")
        for i, r in enumerate(resps):
            check(r.status == 200 and r.body == slept(ms),
                  f"sleeper #{i} after SIGTERM: {r!r}")
            check_std_headers(r)
        close_socks(socks)
        srv.wait_stopped()
        print(f"     SIGTERM {t_sig * 1000:.0f} ms after the sends, {in_flight} of {n} "
              "sleepers in flight at the last /stats")
    except BaseException:
        close_socks(socks)
        srv.kill()
        srv.print_stderr()
        raise
    finally:
        srv.kill()


if __name__ == "__main__":
    h.main()
