#!/usr/bin/env python3
"""
Description: RINGO_SYNC handlers on the work-stealing pool, handed back to
their ring with IORING_OP_MSG_RING. With --threads 2, 64 keep-alive clients
(some pipelining) each get their own responses, in order, with the right
bodies, through the registered MSG_RING and through the per-worker-ring
fallback; a full pool queue answers 503 with Retry-After while async routes
keep answering; /sync/cpu fork/join checksums match a reference computed
here for several sizes and pool sizes; async routes answer while every
worker sleeps; a route deadline answers 504 and the connection goes on; a
client that hangs up mid-job leaves nothing behind; a graceful shutdown
lets queued jobs finish, or answers 503 past the drain timeout.
"""
import os
import resource
import selectors
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import StatsConn, abort_sock, close_socks, raise_nofile  # noqa: E402
from ringo_harness import (Conn, Server, case, check, check_eq, check_std_headers,  # noqa: E402
                           get)

PLAIN = b"Hello, World!"
JSON = b'{"message":"Hello, World!"}'
M64 = (1 << 64) - 1
SPLIT = 1 << 16  # /sync/cpu sums spans this small without splitting them


def slept(ms):
    return f"slept {ms} ms on a worker\n".encode()


def async_slept(ms):
    return f"slept {ms} ms\n".encode()


# ------------------------------------------------------- reference checksum

def mix(x):
    """murmur3's fmix64 finalizer, as /sync/cpu computes it."""
    x ^= x >> 33
    x = (x * 0xff51afd7ed558ccd) & M64
    x ^= x >> 33
    x = (x * 0xc4ceb9fe1a85ec53) & M64
    return x ^ (x >> 33)


_prefix = {0: 0}
_prefix_end = [0, 0]  # [n, sum of mix(i) for i < n]


def checksum(n):
    """Sum of mix(i) over [0, n) mod 2**64, extending a running prefix sum."""
    if n in _prefix:
        return _prefix[n]
    i, s = _prefix_end
    if n < i:  # smaller than what was summed already: recompute from 0
        i, s = 0, 0
    while i < n:
        s = (s + mix(i)) & M64
        i += 1
    _prefix[n] = s
    if n >= _prefix_end[0]:
        _prefix_end[:] = [n, s]
    return s


def cpu_body(n):
    return f'{{"n":{n},"checksum":"{checksum(n):016x}"}}'.encode()


# Sizes: empty, tiny, around the split cutoff, powers of two and odd sizes
# that split unevenly, and a few levels of nested spawn/join.
CPU_SIZES = (0, 1, 2, 5, 1000, SPLIT - 1, SPLIT, SPLIT + 1, 100000, 2 * SPLIT - 1,
             2 * SPLIT, 2 * SPLIT + 3, 262147, 1000003, 1 << 20)


def check_known_checksums():
    """The reference itself, against values worked out independently."""
    check_eq(checksum(0), 0, "reference checksum(0)")
    check_eq(checksum(1), 0, "reference checksum(1) (mix(0) = 0)")
    check_eq(mix(1), 0xb456bcfc34c2cb2c, "reference mix(1)")


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
        close_socks(socks)
        raise
    return socks


def count_complete(buf):
    """Number of complete Content-Length-framed responses at the start of buf."""
    n, off = 0, 0
    while True:
        i = buf.find(b"\r\n\r\n", off)
        if i < 0:
            return n
        head = h.parse_head(bytes(buf[off:i]))
        cl = head.header_all("content-length")
        check(len(cl) == 1 and cl[0].isdigit(), f"response without one Content-Length: {head!r}")
        end = i + 4 + int(cl[0])
        if len(buf) < end:
            return n
        n, off = n + 1, end


def gather(socks, counts, timeout, what, closing_ok=False):
    """Reads counts[i] responses from socks[i], all sockets at once (one
    thread, selectors). Returns (responses per socket, monotonic time at
    which each socket's last response was complete). closing_ok: a socket
    may reach EOF after its responses (the server closes it)."""
    if isinstance(counts, int):
        counts = [counts] * len(socks)
    sel = selectors.DefaultSelector()
    bufs = [bytearray() for _ in socks]
    done = [None] * len(socks)
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    deadline = h.deadline_after(timeout)
    left = len(socks)
    try:
        while left:
            t = h.remaining(deadline)
            if t <= 0:
                missing = [i for i, d in enumerate(done) if d is None]
                raise h.Failure(f"{what}: {len(missing)} of {len(socks)} connections lack "
                                f"their responses after {timeout:.0f}s (first: #{missing[0]}, "
                                f"has {bytes(bufs[missing[0]][:300])!r})")
            for key, _ in sel.select(min(t, 1.0)):
                i = key.data
                try:
                    data = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionResetError:
                    data = b""
                if not data:
                    raise h.Failure(f"{what}: connection #{i} closed after "
                                    f"{count_complete(bufs[i])} of {counts[i]} complete "
                                    f"responses; has {bytes(bufs[i][:300])!r}")
                bufs[i] += data
                if count_complete(bufs[i]) >= counts[i]:
                    done[i] = time.monotonic()
                    sel.unregister(key.fileobj)
                    left -= 1
    finally:
        sel.close()
        for s in socks:
            s.setblocking(True)
            s.settimeout(h.TIMEOUT)
    out = []
    for i, b in enumerate(bufs):
        rd = h.BytesReader(bytes(b))
        out.append([rd.read_response() for _ in range(counts[i])])
        check(not rd.buf, f"{what}: extra bytes after {counts[i]} responses on #{i}: "
              f"{bytes(rd.buf)[:100]!r}")
    return out, done


def check_body(r, status, body, what, ctype=None):
    check((r.status, r.body) == (status, body), f"{what}: expected {status} {body!r}, got {r!r}")
    if ctype:
        check_eq(r.header("content-type"), ctype, f"{what}: Content-Type")
    check_std_headers(r, closing=False)


def check_503(r, what):
    check_eq(r.status, 503, f"{what}: status")
    ra = r.header("retry-after")
    check(ra is not None and ra.isdigit() and int(ra) >= 1,
          f"{what}: 503 without a Retry-After of whole seconds >= 1: {r!r}")
    check_std_headers(r)


def run_threads(fns, what, timeout):
    """Runs each fn in its own thread; every thread must finish within
    timeout; the first failure is re-raised."""
    errors = []
    threads = []

    def wrap(fn, i):
        try:
            fn()
        except BaseException as e:  # noqa: B902 - reported below
            errors.append((i, e))

    for i, fn in enumerate(fns):
        t = threading.Thread(target=wrap, args=(fn, i), daemon=True)
        threads.append(t)
        t.start()
    deadline = h.deadline_after(timeout)
    for t in threads:
        t.join(max(0.0, h.remaining(deadline)))
    stuck = sum(t.is_alive() for t in threads)
    check(stuck == 0, f"{what}: {stuck} of {len(threads)} clients still running after "
          f"{timeout:.0f}s")
    if errors:
        i, e = sorted(errors, key=lambda x: x[0])[0]
        raise h.Failure(f"{what}: client #{i} (of {len(errors)} failing): {e}")


# ------------------------------------------------ MSG_RING hand-back

def handback_client(srv, idx, barrier, rings):
    """One connection's script: sequential keep-alive requests, then
    pipelined batches mixing sync and async routes. /sync/cpu?n=TAG tags a
    response with a number unique to this connection and position."""
    try:
        c = Conn(srv)
        r = c.exchange(get("/whoami"))
        check_eq(r.status, 200, "GET /whoami")
        rings.add(r.json().get("ring"))
    except BaseException:
        barrier.abort()  # the others stop waiting for this client
        raise
    try:
        barrier.wait(h.TIMEOUT)
        tag = 1000 + idx * 100
        for k in range(2):
            r = c.exchange(get("/sync/json"))
            check_body(r, 200, JSON, f"conn {idx}: sequential /sync/json #{k}", "application/json")
            r = c.exchange(get("/sync/plaintext"))
            check_body(r, 200, PLAIN, f"conn {idx}: sequential /sync/plaintext #{k}", "text/plain")
            n = tag + k
            r = c.exchange(get(f"/sync/cpu?n={n}"))
            check_body(r, 200, cpu_body(n), f"conn {idx}: sequential /sync/cpu?n={n}",
                       "application/json")
        for batch in range(3):
            n1, n2 = tag + 10 + batch * 2, tag + 11 + batch * 2
            want = [(get("/sync/plaintext"), PLAIN), (get(f"/sync/cpu?n={n1}"), cpu_body(n1)),
                    (get("/sync/json"), JSON), (get("/plaintext"), PLAIN),
                    (get(f"/sync/cpu?n={n2}"), cpu_body(n2)), (get("/json"), JSON),
                    (get("/sync/json"), JSON)]
            c.send(b"".join(req for req, _ in want))
            for k, (req, body) in enumerate(want):
                r = c.read_response()
                line = req.split(b"\r\n", 1)[0].decode()
                check_body(r, 200, body, f"conn {idx}: pipelined batch {batch}, response "
                           f"#{k} ({line})")
    finally:
        c.close()


def handback_many_conns(srv):
    n = 64
    raise_nofile(n + 256)
    tags = [1000 + i * 100 + k for i in range(n) for k in (0, 1, *range(10, 16))]
    for t in sorted(tags):
        checksum(t)  # warm the reference before the clients run
    stats = StatsConn(srv)
    base = stats.get()
    barrier = threading.Barrier(n)
    rings = set()
    run_threads([lambda i=i: handback_client(srv, i, barrier, rings) for i in range(n)],
                f"{n} keep-alive clients on /sync/* (--threads {srv.threads})",
                timeout=6 * h.TIMEOUT)
    check_eq(rings, set(range(srv.rings)), f"rings that served the {n} connections")
    st = stats.wait_baseline(base, f"after {n} clients left")
    per_conn = 1 + 2 * 3 + 3 * 7
    served = st["reqs_served"] - base["reqs_served"] - (stats.polls - 1)
    check_eq(served, n * per_conn, f"reqs_served by {n} clients of {per_conn} requests each")
    stats.close()


@case(threads=2)
def msgring_handback_64_conns(srv):
    handback_many_conns(srv)


@case(threads=2, args=("--msgring-fallback",))
def msgring_fallback_handback_64_conns(srv):
    handback_many_conns(srv)


@case(threads=2, args=("--msgring-fallback",))
def msgring_fallback_cpu_and_sleep(srv):
    c = Conn(srv)
    for n in (5, SPLIT + 1, 262147):
        r = c.exchange(get(f"/sync/cpu?n={n}"))
        check_body(r, 200, cpu_body(n), f"--msgring-fallback GET /sync/cpu?n={n}")
    socks = open_conns(srv, 8)
    try:
        for i, s in enumerate(socks):
            s.sendall(get(f"/sync/sleep?ms={50 + i}"))
        resps, _ = gather(socks, 1, h.TIMEOUT, "8 concurrent /sync/sleep (--msgring-fallback)")
    finally:
        close_socks(socks)
    for i, (r,) in enumerate(resps):
        check_body(r, 200, slept(50 + i), f"--msgring-fallback /sync/sleep?ms={50 + i} on #{i}")


# ----------------------------------------------------- backpressure

@case(args=("--pool-threads", 2, "--max-pool-queue", 4))
def backpressure_503_retry_after(srv):
    n, ms, workers, queued = 20, 500, 2, 4
    probe = Conn(srv)
    probe.exchange(get("/plaintext"))  # connected and served before the burst
    socks = open_conns(srv, n)
    try:
        t0 = time.monotonic()
        for s in socks:
            s.sendall(get(f"/sync/sleep?ms={ms}"))
        sent_in = time.monotonic() - t0
        # Async routes are served during the saturation; their answers come
        # before the last accepted sleeper's (the rings never wait for the pool).
        plain_times = []
        for k in range(5):
            r = probe.exchange(get("/plaintext"))
            check(h.hello_ok(r), f"async GET /plaintext #{k} while the pool queue is full: {r!r}")
            plain_times.append(time.monotonic())
        r = probe.exchange(get("/sleep?ms=10"))
        check_body(r, 200, async_slept(10), "async GET /sleep?ms=10 while the pool queue is full")
        plain_times.append(time.monotonic())
        resps, done = gather(socks, 1, 3 * h.TIMEOUT, f"{n} concurrent /sync/sleep?ms={ms}")
        ok = [i for i, (r,) in enumerate(resps) if r.status == 200]
        busy = [i for i, (r,) in enumerate(resps) if r.status != 200]
        for i in ok:
            check_body(resps[i][0], 200, slept(ms), f"accepted /sync/sleep?ms={ms} #{i}")
        for i in busy:
            check_503(resps[i][0], f"/sync/sleep?ms={ms} #{i} past --max-pool-queue {queued}")
        print(f"     {len(ok)} x 200, {len(busy)} x 503 (--pool-threads {workers} "
              f"--max-pool-queue {queued}; sends took {sent_in * 1000:.0f} ms)")
        check(busy, f"no 503 among {n} concurrent /sync/sleep?ms={ms} with --pool-threads "
              f"{workers} --max-pool-queue {queued}")
        check(len(ok) >= queued, f"only {len(ok)} of {n} accepted: the queue holds {queued}")
        if not h.SANITIZED and sent_in < 0.25:
            # Every request was in before the first sleeper could end: at most
            # the running ones plus the queued ones were accepted.
            check(len(ok) <= workers + queued,
                  f"{len(ok)} of {n} accepted within {sent_in * 1000:.0f} ms: more than "
                  f"{workers} running + {queued} queued")
            check(max(plain_times) < max(done[i] for i in ok),
                  "async GET /plaintext and /sleep?ms=10 sent during the saturation were "
                  "answered after the last accepted sync sleeper")
        # A 503 leaves its connection usable; once the pool is free it serves.
        for i in busy[:3] + ok[:2]:
            s = socks[i]
            s.sendall(get("/sync/json"))
            (rs,), _ = gather([s], 1, h.TIMEOUT, f"/sync/json on connection #{i} after the burst")
            check_body(rs[0], 200, JSON, f"/sync/json after the burst on #{i} "
                       f"(previous answer {resps[i][0].status})")
    finally:
        close_socks(socks)


@case(args=("--pool-threads", 2, "--max-pool-queue", 4))
def backpressure_pipelined_503_keeps_order(srv):
    # One connection: its requests run one at a time, so its own pipelined
    # sync requests never fill the queue; others' sleepers do.
    ms = 500
    socks = open_conns(srv, 6)
    c = Conn(srv)
    try:
        for s in socks:
            s.sendall(get(f"/sync/sleep?ms={ms}"))
        c.send(get("/sync/json") + get("/plaintext") + get("/sync/plaintext"))
        rs = [c.read_response(timeout=3 * h.TIMEOUT) for _ in range(3)]
        check(rs[0].status in (200, 503), f"pipelined /sync/json #1: {rs[0]!r}")
        if rs[0].status == 200:
            check_body(rs[0], 200, JSON, "pipelined /sync/json #1")
        else:
            check_503(rs[0], "pipelined /sync/json #1 with a full pool queue")
        check(h.hello_ok(rs[1]), f"pipelined /plaintext #2: {rs[1]!r}")
        check(rs[2].status in (200, 503), f"pipelined /sync/plaintext #3: {rs[2]!r}")
        if rs[2].status == 200:
            check_body(rs[2], 200, PLAIN, "pipelined /sync/plaintext #3")
        else:
            check_503(rs[2], "pipelined /sync/plaintext #3 with a full pool queue")
        gather(socks, 1, 3 * h.TIMEOUT, f"6 /sync/sleep?ms={ms}")
        c.expect_open("pipelined answers during backpressure")
    finally:
        close_socks(socks)


# ------------------------------------------------------- fork/join

def cpu_sizes_correct(srv):
    check_known_checksums()
    c = Conn(srv)
    for n in CPU_SIZES:
        r = c.exchange(get(f"/sync/cpu?n={n}"))
        check_body(r, 200, cpu_body(n), f"GET /sync/cpu?n={n}", "application/json")
    # Several big jobs at once: their subtasks share the workers' deques.
    big = (1 << 20, 1000003, 2 * SPLIT + 3, 524289, 262147, 1 << 20)
    socks = open_conns(srv, len(big))
    try:
        for s, n in zip(socks, big):
            s.sendall(get(f"/sync/cpu?n={n}"))
        resps, _ = gather(socks, 1, 3 * h.TIMEOUT, f"{len(big)} concurrent /sync/cpu")
    finally:
        close_socks(socks)
    for (r,), n in zip(resps, big):
        check_body(r, 200, cpu_body(n), f"concurrent GET /sync/cpu?n={n}")
    # Pipelined on one connection, with an async request in between.
    c.send(get("/sync/cpu?n=65537") + get("/json") + get("/sync/cpu?n=131071"))
    check_body(c.read_response(), 200, cpu_body(65537), "pipelined /sync/cpu?n=65537")
    check_body(c.read_response(), 200, JSON, "pipelined /json between two /sync/cpu")
    check_body(c.read_response(), 200, cpu_body(131071), "pipelined /sync/cpu?n=131071")


@case(threads=2)
def forkjoin_default_pool(srv):
    cpu_sizes_correct(srv)


@case(args=("--pool-threads", 1))
def forkjoin_pool_threads_1(srv):
    cpu_sizes_correct(srv)


@case(args=("--pool-threads", 2))
def forkjoin_pool_threads_2(srv):
    cpu_sizes_correct(srv)


# ------------------------------------------- pool saturated with sleepers

@case(args=("--pool-threads", 4))
def async_routes_answer_while_pool_sleeps(srv):
    n, ms = 8, 1000
    stats = StatsConn(srv)
    base = stats.get()
    socks = open_conns(srv, n)
    try:
        for s in socks:
            s.sendall(get(f"/sync/sleep?ms={ms}"))
        stats.wait_read(base, n, f"{n} x /sync/sleep?ms={ms}")
        a = Conn(srv)
        for k in range(10):
            r = a.exchange(get("/plaintext"))
            check(h.hello_ok(r), f"GET /plaintext #{k} while every worker sleeps: {r!r}")
        for k in range(3):
            r = a.exchange(get("/sleep?ms=10"))
            check_body(r, 200, async_slept(10), f"GET /sleep?ms=10 #{k} while every worker sleeps")
        a.send(get("/plaintext") + get("/sleep?ms=10") + get("/json"))
        for want in (PLAIN, async_slept(10), JSON):
            check_body(a.read_response(), 200, want, "pipelined async while every worker sleeps")
        t_async = time.monotonic()
        # Before any sleeper answered? Peek without consuming.
        early = []
        if not h.SANITIZED:
            for i, s in enumerate(socks):
                s.setblocking(False)
                try:
                    if s.recv(1, socket.MSG_PEEK):
                        early.append(i)
                except BlockingIOError:
                    pass
                finally:
                    s.setblocking(True)
                    s.settimeout(h.TIMEOUT)
        resps, done = gather(socks, 1, 3 * h.TIMEOUT, f"{n} x /sync/sleep?ms={ms}")
        for i, (r,) in enumerate(resps):
            check_body(r, 200, slept(ms), f"/sync/sleep?ms={ms} #{i}")
        if not h.SANITIZED:
            check(not early and t_async < min(done),
                  f"async /plaintext and /sleep?ms=10 finished after sleeper(s) {early} had "
                  f"answered: the rings waited for the pool")
        a.close()
    finally:
        close_socks(socks)
    stats.wait_baseline(base, "after the sleepers")
    stats.close()


# ------------------------------------------------------------ deadline

@case()
def deadline_504_then_connection_serves(srv):
    stats = StatsConn(srv)
    base = stats.get()
    c = Conn(srv)
    c.send(get("/deadline/sync/sleep?ms=1000"))
    r = c.read_response(timeout=h.TIMEOUT)
    check_eq(r.status, 504, "GET /deadline/sync/sleep?ms=1000 (route deadline 200 ms) status")
    check_std_headers(r, closing=False)
    r = c.exchange(get("/plaintext"))
    check(h.hello_ok(r), f"GET /plaintext on the connection after its 504: {r!r}")
    r = c.exchange(get("/sync/json"))
    check_body(r, 200, JSON, "GET /sync/json on the connection after its 504")
    r = c.exchange(get("/deadline/sync/sleep?ms=10"))
    check_body(r, 200, slept(10), "GET /deadline/sync/sleep?ms=10 (within the deadline)")
    # The abandoned job ends in the background; its request is then freed.
    stats.wait_baseline(base, "504'd sync job finished in the background", open_conns=1)
    c.expect_open("the background job's end")
    stats.close()


@case()
def deadline_pipelined_keeps_order(srv):
    stats = StatsConn(srv)
    base = stats.get()
    c = Conn(srv)
    c.send(get("/deadline/sync/sleep?ms=1000") + get("/sync/json") + get("/plaintext")
           + get("/deadline/sync/sleep?ms=5"))
    r = c.read_response(timeout=h.TIMEOUT)
    check_eq(r.status, 504, "pipelined /deadline/sync/sleep?ms=1000")
    check_body(c.read_response(), 200, JSON, "pipelined /sync/json after a 504")
    check(h.hello_ok(c.read_response()), "pipelined /plaintext after a 504")
    check_body(c.read_response(), 200, slept(5), "pipelined /deadline/sync/sleep?ms=5")
    stats.wait_baseline(base, "pipelined 504'd job finished", open_conns=1)
    stats.close()


@case()
def deadline_then_client_leaves(srv):
    # The client goes after its 504 while the job still sleeps.
    stats = StatsConn(srv)
    base = stats.get()
    c = Conn(srv)
    c.send(get("/deadline/sync/sleep?ms=800"))
    check_eq(c.read_response().status, 504, "GET /deadline/sync/sleep?ms=800")
    c.close()
    stats.wait_baseline(base, "504'd job whose client left")
    stats.close()


# ------------------------------------------------- client hangs up

def hangup(srv, how, pipelined=False, n=1):
    ms = 500
    stats = StatsConn(srv)
    base = stats.get()
    socks = open_conns(srv, n)
    extra = get("/sync/json") + get("/plaintext") if pipelined else b""
    for s in socks:
        s.sendall(get(f"/sync/sleep?ms={ms}") + extra)
    stats.wait_read(base, n, f"{n} x /sync/sleep?ms={ms}")
    time.sleep(0.1)
    for s in socks:
        abort_sock(s) if how == "rst" else s.close()
    # The server keeps serving while the orphaned jobs sleep.
    c = Conn(srv)
    check(h.hello_ok(c.exchange(get("/plaintext"))), "GET /plaintext after the hang-up")
    check_body(c.exchange(get("/sync/json")), 200, JSON, "GET /sync/json after the hang-up")
    c.close()
    stats.wait_baseline(base, f"{n} client(s) gone ({how}) mid /sync/sleep?ms={ms}")
    stats.close()


@case()
def client_hangs_up_mid_job_fin(srv):
    hangup(srv, "fin")


@case()
def client_hangs_up_mid_job_rst(srv):
    hangup(srv, "rst")


@case()
def client_hangs_up_with_pipelined_requests(srv):
    hangup(srv, "fin", pipelined=True)


@case(threads=2, args=("--pool-threads", 2))
def many_clients_hang_up_with_queued_jobs(srv):
    # 2 workers: most of these jobs are still queued when their clients go.
    hangup(srv, "fin", n=6)
    hangup(srv, "rst", n=6)


# ------------------------------------------------------------ shutdown

def shutdown_with_queued(args, n, ms, what):
    """Starts a server, sends n /sync/sleep?ms=ms on separate connections,
    waits until the server read them all, sends SIGTERM. Returns the
    responses (each connection must get exactly one complete response and
    then be closed); the server must exit 0 with the zero-leak stop line."""
    srv = Server(args=args)
    srv.start()
    socks = []
    try:
        stats = StatsConn(srv)
        base = stats.get()
        socks = open_conns(srv, n)
        for s in socks:
            s.sendall(get(f"/sync/sleep?ms={ms}"))
        stats.wait_read(base, n, what)
        stats.close()
        srv.send_signal(signal.SIGTERM)
        resps, _ = gather(socks, 1, 3 * h.TIMEOUT, f"{what} after SIGTERM")
        for i, s in enumerate(socks):
            s.settimeout(h.TIMEOUT)
            try:
                rest = s.recv(1024)
            except ConnectionResetError:
                rest = b""
            except socket.timeout:
                raise h.Failure(f"{what}: connection #{i} still open after its response "
                                f"during shutdown: {resps[i][0]!r}")
            check_eq(rest, b"", f"{what}: bytes after the response on #{i}")
        close_socks(socks)
        srv.wait_stopped()
        return [r for (r,) in resps]
    except BaseException:
        close_socks(socks)
        srv.kill()
        srv.print_stderr()
        raise
    finally:
        srv.kill()


@case(server=False)
def shutdown_finishes_queued_jobs():
    n, ms = 3, 300
    resps = shutdown_with_queued(["--pool-threads", 1], n, ms,
                                 f"{n} x /sync/sleep?ms={ms} on --pool-threads 1")
    for i, r in enumerate(resps):
        check((r.status, r.body) == (200, slept(ms)),
              f"queued /sync/sleep?ms={ms} #{i} after SIGTERM (drain timeout 10 s): {r!r}")
        check_std_headers(r, closing=True)


@case(server=False)
def shutdown_past_drain_timeout_answers_every_conn():
    n, ms = 6, 300
    resps = shutdown_with_queued(["--pool-threads", 1, "--drain-timeout", 200], n, ms,
                                 f"{n} x /sync/sleep?ms={ms} on --pool-threads 1 "
                                 f"--drain-timeout 200")
    for i, r in enumerate(resps):
        if r.status == 200:
            check_eq(r.body, slept(ms), f"/sync/sleep?ms={ms} #{i} after SIGTERM")
            check_std_headers(r, closing=True)
        else:
            # A queued job cancelled at shutdown: 503 (the server is going
            # away, so no Retry-After is promised), then the close.
            check_eq(r.status, 503, f"/sync/sleep?ms={ms} #{i} past the drain timeout")
            check_std_headers(r, closing=True)
    print(f"     {sum(r.status == 200 for r in resps)} x 200, "
          f"{sum(r.status == 503 for r in resps)} x 503")


if __name__ == "__main__":
    h.main()
