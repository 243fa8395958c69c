#!/usr/bin/env python3
"""
Description: timeouts, configured in milliseconds so they fire quickly:
a header section trickled one byte at a time is cut off with 408 and a
close (slowloris); a trickled body gets 408; an idle keep-alive connection
is closed silently; a client that pipelines large requests but never reads
is dropped after --send-timeout while other clients are served; a reader
slower than the keep-alive timeout still gets all of a 12 MB response (the
idle timer starts once the last byte is sent); an idle ring thread does not
wake (voluntary context switches over 2 s, with and without an idle
keep-alive connection); a lingering close (drain the client's input before
closing) follows an error answer, a request answered before its body was
read and input pipelined after a closing request, but not a complete closing
request with nothing after it (closed at once, as nginx does). Nothing here
asserts a duration: every wait is only bounded.
"""
import os
import select
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, case, check, check_eq, check_std_headers, get,  # noqa: E402
                           request)

SHORT = ["--header-timeout", 500, "--body-timeout", 500, "--keepalive-timeout", 500,
         "--send-timeout", 500]


def readable(sock, timeout):
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)


def trickle_until_answer(c, data, what, piece=1, delay=0.05):
    """Sends data a piece every delay seconds until the server answers or
    closes; pieces: a byte by default, or a list of byte strings."""
    pieces = [data[i:i + piece] for i in range(0, len(data), piece)] \
        if isinstance(data, bytes) else data
    deadline = h.deadline_after(3 * h.TIMEOUT)
    for p in pieces:
        check(h.remaining(deadline) > 0, f"{what}: never cut off")
        if readable(c.sock, delay):
            return
        if not c.send(p, tolerate_close=True):
            return
    raise h.Failure(f"{what}: all {len(pieces)} pieces trickled without a cut-off")


@case(args=SHORT)
def slowloris_header(srv):
    c = Conn(srv)
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n")
    trickle_until_answer(c, b"X-Slow: " + b"a" * 20000, "header trickle")
    r = c.read_response()
    check_eq(r.status, 408, "status after a header trickle")
    check_std_headers(r, closing=True)
    c.expect_closed(what="the 408")


@case(args=SHORT)
def slowloris_many_headers(srv):
    # Each complete header line must not restart the header deadline.
    c = Conn(srv)
    c.send(b"GET /plaintext HTTP/1.1\r\n")
    trickle_until_answer(c, [b"X-%d: v\r\n" % i for i in range(90)], "header-line trickle",
                         delay=0.1)
    r = c.read_response()
    check_eq(r.status, 408, "status after header lines trickled")
    c.expect_closed(what="the 408")


@case(args=SHORT)
def slow_request_line(srv):
    c = Conn(srv)
    trickle_until_answer(c, b"GET /users/" + b"a" * 4000, "request-line trickle")
    r = c.read_response()
    check_eq(r.status, 408, "status after a request-line trickle")
    c.expect_closed(what="the 408")


@case(args=SHORT)
def body_trickle(srv):
    c = Conn(srv)
    c.send(request("POST", "/echo", headers={"Content-Length": "5000"}))
    trickle_until_answer(c, b"b" * 5000, "body trickle")
    r = c.read_response()
    check_eq(r.status, 408, "status after a body trickle")
    check_std_headers(r, closing=True)
    c.expect_closed(what="the 408")


@case(args=SHORT)
def chunked_body_trickle(srv):
    c = Conn(srv)
    c.send(request("POST", "/echo", headers={"Transfer-Encoding": "chunked"}))
    trickle_until_answer(c, b"1\r\nx\r\n" * 2000, "chunked body trickle")
    r = c.read_response()
    check_eq(r.status, 408, "status after a chunked body trickle")
    c.expect_closed(what="the 408")


@case(args=SHORT)
def keepalive_idle_closed_silently(srv):
    c = Conn(srv)
    for i in range(3):
        r = c.exchange(get(f"/users/{i}"))
        check_eq(r.status, 200, f"request {i}")
    c.expect_closed(timeout=3 * h.TIMEOUT, what="an idle keep-alive period")


@case(args=SHORT)
def fresh_idle_connection_closed(srv):
    # Connected, never sent a byte: closed (with or without a 408).
    c = Conn(srv)
    try:
        rest = c.read_until_close(3 * h.TIMEOUT)
    except h.Failure:
        raise h.Failure("a connection that never sent anything was never closed")
    if rest:
        r = h.BytesReader(rest).read_response()
        check_eq(r.status, 408, "status sent to a silent connection")


@case(args=SHORT)
def timeouts_do_not_hit_active_clients(srv):
    # Many quick requests on one connection, well within every timeout.
    c = Conn(srv)
    for i in range(200):
        r = c.exchange(get(f"/users/{i}"))
        check_eq(r.status, 200, f"request {i}")
    c.send(request("POST", "/echo", body=b"e" * 200000))
    r = c.read_response()
    check_eq(len(r.body), 200000, "200 KB echo")


@case(args=["--keepalive-timeout", 300, "--max-body", 16000000])
def keepalive_timer_spares_slow_reader(srv):
    # The keep-alive timer starts when the connection is idle, not when the
    # response is queued: a reader slower than the keep-alive timeout (but
    # never stalled past the send timeout) gets the whole 12 MB echo.
    body = bytes(range(256)) * (12 * 4096)
    # Built before connecting: on a loaded machine building 12 MB can take
    # longer than the 300 ms a fresh connection may stay silent.
    req = request("POST", "/echo", body=body)
    c = Conn(srv, rcvbuf=65536)
    c.send(req)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.sock.recv(4096)
        check(chunk, f"closed before the head, got {head!r}")
        head += chunk
    head, got = head.split(b"\r\n\r\n", 1)
    check(b" 200 " in head.split(b"\r\n")[0], f"status line {head[:40]!r}")
    got = bytearray(got)
    deadline = h.deadline_after(6 * h.TIMEOUT)
    while len(got) < len(body) and h.remaining(deadline) > 0:
        time.sleep(0.004)  # ~16 MB/s at most: the 12 MB take longer than 300 ms
        chunk = c.sock.recv(65536)
        if not chunk:
            break
        got += chunk
    check_eq(len(got), len(body), "bytes of the echo read slowly")
    check(bytes(got) == body, "echoed body differs")
    c.expect_closed(timeout=3 * h.TIMEOUT, what="the idle period after the response")


def ring_switches(srv):
    """Voluntary context switches of the ring thread: one per sleep in io_uring_enter."""
    for line in h.ring_thread_file(srv, "status").splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise h.Failure("no voluntary_ctxt_switches in the ring thread's status")


def wakeups_while_idle(srv, seconds=2.0):
    before = ring_switches(srv)
    time.sleep(seconds)
    return ring_switches(srv) - before


@case(args=["--header-timeout", 800, "--body-timeout", 800, "--send-timeout", 800,
            "--keepalive-timeout", 60000])
def idle_ring_sleeps(srv):
    # The ring arms one timeout for its earliest deadline instead of a tick
    # sized from the shortest configured timeout (here it was every 100 ms):
    # an idle ring, and one whose only deadline is a keep-alive a minute
    # away, does not wake at all.
    n = wakeups_while_idle(srv)
    check(n <= 1, f"an idle server's ring woke {n} times in 2 s")
    c = Conn(srv)
    check_eq(c.exchange(get("/plaintext")).status, 200, "status")
    time.sleep(1.0)  # the request's spent header deadline comes due once and is dropped
    n = wakeups_while_idle(srv)
    check(n <= 1, f"a ring with one idle keep-alive connection woke {n} times in 2 s")
    check_eq(c.exchange(get("/plaintext")).status, 200, "status after the idle period")
    c.close()


@case(args=["--send-timeout", 500])
def send_stall_dropped(srv):
    body = b"s" * (256 * 1024)
    one = request("POST", "/echo", body=body)
    data = one * 48  # 12 MiB of echo: more than any socket buffers hold
    c = Conn(srv, rcvbuf=4096)
    sock = c.sock
    sock.setblocking(False)
    off, last = 0, time.monotonic()
    deadline = h.deadline_after(3 * h.TIMEOUT)
    while off < len(data) and h.remaining(deadline) > 0:
        try:
            off += sock.send(data[off:off + 65536])
            last = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last > 1.0 * h.SCALE:
                break  # the server stopped reading: it is stalled on its sends
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            break
    complete = off // len(one)
    check(complete >= 2, f"only {off} bytes of requests could be sent")
    h.check_alive(srv)  # others are served while this client stalls

    # Wait for the drop (an RST or FIN shows up as a hang-up), bounded.
    p = select.poll()
    p.register(sock, select.POLLERR | select.POLLHUP | select.POLLRDHUP)
    wait_until = h.deadline_after(4 * h.SCALE)
    while h.remaining(wait_until) > 0 and not p.poll(50):
        pass

    # Read what is left. A server that did not drop the client would now
    # deliver every response; a dropped one ends well short of that.
    sock.setblocking(True)
    got, ended = 0, False
    read_until = h.deadline_after(3 * h.TIMEOUT)
    while h.remaining(read_until) > 0:
        sock.settimeout(min(h.remaining(read_until), 2 * h.SCALE))
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            break
        except ConnectionResetError:
            ended = True
            break
        if not chunk:
            ended = True
            break
        got += len(chunk)
    check(ended, f"stalled connection still open after reading {got} bytes")
    check(got < complete * len(body),
          f"server delivered all {complete} responses ({got} bytes): the stalled client "
          f"was not dropped")
    c.close()
    h.check_alive(srv)



# Lingering close: one minute, so a connection that lingers is still open
# whenever the case looks; the probe is the one other connection.
LINGER = ["--linger", 60000, "--max-body", 65536]


def still_draining(c, what):
    """The client sends more and its FIN: a lingering server drains both and
    closes quietly; one that had closed would answer the bytes with a reset."""
    try:
        c.sock.sendall(b"more input the client had sent\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        c.sock.settimeout(h.TIMEOUT)
        rest = c.sock.recv(4096)
    except OSError as e:  # reset, or not connected any more: the server had closed
        raise h.Failure(f"{what}: input after the answer reset the connection ({e})")
    check_eq(rest, b"", f"{what}: after the answer")


def live_conns(probe):
    r = probe.exchange(get("/stats"))
    check_eq(r.status, 200, "/stats")
    return r.json()["conns_live"]


def closes_after(srv, data, what):
    """Sends data on a new connection, reads the answer and the server's FIN;
    the client's side stays open. Returns (response, connection)."""
    c = Conn(srv)
    c.send(data, tolerate_close=True)
    r = c.read_response()
    check(r.closes(), f"{what}: the answer closes the connection ({r!r})")
    c.expect_closed(what=f"{what}'s answer")
    return r, c


@case(args=LINGER)
def complete_closing_request_closes_at_once(srv):
    probe = Conn(srv)
    check_eq(live_conns(probe), 1, "connections before")
    for what, data in (
            ("Connection: close", request("GET", "/plaintext", {"Connection": "close"})),
            ("HTTP/1.0", request("GET", "/plaintext", version="HTTP/1.0")),
            ("a POST body read whole", request("POST", "/echo", {"Connection": "close"},
                                               body=b"x" * 5000))):
        r, c = closes_after(srv, data, what)
        check_eq(r.status, 200, what)
        # The client keeps its side open: only a lingering server is still there.
        deadline = h.deadline_after(h.TIMEOUT)
        while live_conns(probe) != 1:
            check(h.remaining(deadline) > 0, f"{what}: the connection lingers after a complete "
                                             f"closing request")
            time.sleep(0.02)
        c.close()


@case(args=LINGER)
def closes_that_may_cut_input_linger(srv):
    probe = Conn(srv)
    big = request("POST", "/echo", {"Content-Length": str(1 << 20)})
    for what, data, status in (
            ("a syntax error", b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
            ("a body over the limit", big, 413),
            ("a request pipelined after Connection: close",
             request("GET", "/plaintext", {"Connection": "close"}) + get("/plaintext"), 200)):
        r, c = closes_after(srv, data, what)
        check_eq(r.status, status, what)
        # The server's side is shut down but still drains: the FIN came, the connection is live.
        check_eq(live_conns(probe), 2, f"{what}: connections while the close lingers")
        still_draining(c, what)
        c.close()
        deadline = h.deadline_after(h.TIMEOUT)
        while live_conns(probe) != 1:
            check(h.remaining(deadline) > 0, f"{what}: the linger did not end at the client's FIN")
            time.sleep(0.02)


def others_live(srv):
    """Connections other than the asking one (which closes at once: Connection: close)."""
    c = Conn(srv)
    r = c.exchange(request("GET", "/stats", {"Connection": "close"}))
    check_eq(r.status, 200, "/stats")
    c.expect_closed(what="/stats")
    c.close()
    return r.json()["conns_live"] - 1


@case(args=LINGER + ["--max-requests", 2])
def server_ended_connection_lingers(srv):
    """The server's request limit ends a keep-alive connection whose client may
    have its next request on the way: that close lingers."""
    c = Conn(srv)
    c.send(get("/plaintext") + get("/plaintext"))
    check_eq(c.read_response().closes(), False, "the first answer")
    r = c.read_response()
    check_eq((r.status, r.closes()), (200, True), "the second answer (the limit)")
    c.expect_closed(what="the limit's answer")
    check_eq(others_live(srv), 1, "connections while the close lingers")
    still_draining(c, "the request limit")
    c.close()
    deadline = h.deadline_after(h.TIMEOUT)
    while others_live(srv) != 0:
        check(h.remaining(deadline) > 0, "the linger did not end at the client's FIN")
        time.sleep(0.02)


if __name__ == "__main__":
    h.main()
