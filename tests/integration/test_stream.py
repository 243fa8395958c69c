#!/usr/bin/env python3
"""
Description: streamed responses and Server-Sent Events (ringo/stream.h), in
both handler modes. Generated bodies arrive whole and in order (chunked,
declared Content-Length, HTTP/1.0 close-delimited, HEAD, trailers); SSE
events arrive while the handler still runs (not at the end), with the
event-stream headers, Last-Event-ID resume and comment keep-alives; a 1 GiB
download keeps the server's peak RSS growth under 32 MiB; a reader that
stops reading costs at most the window and is dropped after the send
timeout; a hang-up mid-stream cancels the handler (the cancels counter
rises, nothing leaks); a handler that writes more or fewer bytes than it
declared gets its connection cut, never a mis-framed response; requests
pipelined behind a stream are answered in order; a shutdown ends open
streams at once with a clean last chunk.
"""
import hashlib
import os
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, Failure, StatsConn, abort_sock, case, check,  # noqa: E402
                           check_eq, get)

MODES = ("", "/sync")  # async routes, and the same handlers on the pool


def alphabet(n, start=0):
    """The demo's generated body: byte i is 'a' + i % 26."""
    unit = bytes(range(97, 97 + 26))
    reps = (start % 26 + n) // 26 + 1
    return (unit * reps)[start % 26:start % 26 + n]


def read_events(conn, count, timeout=None):
    """Reads count SSE events (blank-line terminated blocks) from a chunked
    stream whose head was already read; returns [(fields, arrival time)]."""
    deadline = h.deadline_after(timeout or h.TIMEOUT)
    text = b""
    events = []
    while len(events) < count:
        line = conn._read_line(deadline)
        size = int(line, 16)
        check(size > 0, f"the stream ended after {len(events)} of {count} events")
        text += conn._read_exact(size, deadline)
        check(conn._read_exact(2, deadline) == b"\r\n", "chunk data not followed by CRLF")
        while b"\n\n" in text:
            block, text = text.split(b"\n\n", 1)
            fields = [ln for ln in block.split(b"\n") if not ln.startswith(b":")]
            if fields:
                events.append((fields, time.monotonic()))
    return events


def drain_body(sock, limit):
    """Reads and drops up to limit bytes until EOF; returns the count."""
    buf = bytearray(1 << 20)
    got = 0
    while got < limit:
        n = sock.recv_into(buf)
        if n == 0:
            break
        got += n
    return got


# ------------------------------------------------------------ bodies

@case()
def generated_bodies_arrive_whole(srv):
    for mode in MODES:
        for n in (0, 1, 25, 16384, 16385, 1000003):
            c = Conn(srv)
            c.send(get(f"{mode}/stream?bytes={n}"))
            r = c.read_response()
            check_eq(r.status, 200, f"{mode}/stream?bytes={n}")
            check_eq(r.header("transfer-encoding"), "chunked", "framing")
            check(r.body == alphabet(n), f"{mode}/stream?bytes={n}: body differs "
                  f"({len(r.body)} bytes)")
            # The connection stays usable after a streamed response.
            c.send(get("/"))
            check_eq(c.read_response().body, b"ringo\n", f"after {mode}/stream")
            c.close()


@case()
def declared_length_and_trailers(srv):
    for mode in MODES:
        c = Conn(srv)
        c.send(get(f"{mode}/stream?bytes=40000&declare=40000"))
        r = c.read_response()
        check_eq(r.header("content-length"), "40000", "declared length")
        check(r.header("transfer-encoding") is None, "no chunking with a length")
        check(r.body == alphabet(40000), "declared-length body")
        # Trailers follow the last chunk.
        c.send(get(f"{mode}/stream?bytes=10&trailer=1"))
        deadline = h.deadline_after(h.TIMEOUT)
        while b"\r\n0\r\n" not in c.buf or not c.buf.endswith(b"\r\n\r\n"):
            c._more(deadline, "the trailer section")
        raw = bytes(c.buf)
        check(b"\r\n0\r\nX-Bytes: 10\r\n\r\n" in raw, f"{mode}: trailer missing: {raw[-80:]!r}")
        c.close()


@case()
def http10_and_head(srv):
    for mode in MODES:
        c = Conn(srv)
        c.send(get(f"{mode}/stream?bytes=3000", version="HTTP/1.0"))
        r = c.read_response()
        check(r.header("transfer-encoding") is None and r.header("content-length") is None,
              "HTTP/1.0: close-delimited")
        check_eq(r.header("connection"), "close", "HTTP/1.0 stream closes")
        check(r.body == alphabet(3000), "HTTP/1.0 body")
        c.close()
        c = Conn(srv)
        c.send(h.request("HEAD", f"{mode}/stream?bytes=3000"))
        r = c.read_response(head=True)
        check_eq(r.header("transfer-encoding"), "chunked", "HEAD head")
        c.send(get("/"))
        check_eq(c.read_response().body, b"ringo\n", f"HEAD {mode}/stream sent no body")
        c.close()


@case()
def pipelined_behind_streams(srv):
    c = Conn(srv)
    c.send(get("/stream?bytes=70000") + get("/sync/stream?bytes=5") + get("/")
           + get("/sync/events?n=2&interval_ms=1") + get("/json"))
    check(c.read_response().body == alphabet(70000), "first: /stream")
    check(c.read_response().body == alphabet(5), "second: /sync/stream")
    check_eq(c.read_response().body, b"ringo\n", "third: /")
    check(c.read_response().body.startswith(b"id: 0\ndata: 0\n\n"), "fourth: events")
    check_eq(c.read_response().status, 200, "fifth: /json")
    c.close()


@case()
def framing_violations_cut_the_connection(srv):
    for mode in MODES:
        for n, declare in ((100, 50), (10, 20)):
            s = socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)
            s.sendall(get(f"{mode}/stream?bytes={n}&declare={declare}"))
            data = bytearray()
            while True:
                try:
                    b = s.recv(65536)
                except ConnectionResetError:
                    break
                if not b:
                    break
                data += b
            s.close()
            head, _, body = bytes(data).partition(b"\r\n\r\n")
            check(f"Content-Length: {declare}".encode() in head, f"{mode} declare={declare}")
            check(len(body) < declare, f"{mode} bytes={n} declare={declare}: the response "
                  f"was not cut ({len(body)} body bytes)")
    text = srv.stderr_text()
    check("writes past the declared Content-Length" in text, "the overrun is logged")
    check("fewer bytes than the declared Content-Length" in text, "the short body is logged")


# ------------------------------------------------------------ SSE

@case()
def events_arrive_while_the_handler_runs(srv):
    for mode in MODES:
        # The second event comes a minute later: the first must not wait for it.
        c = Conn(srv)
        c.send(get(f"{mode}/events?n=2&interval_ms=60000"))
        r = c.read_response(head=True)
        check_eq(r.header("content-type"), "text/event-stream", "SSE content type")
        check_eq(r.header("cache-control"), "no-cache", "SSE cache control")
        check_eq(r.header("transfer-encoding"), "chunked", "SSE framing")
        (fields, _), = read_events(c, 1)
        check_eq(fields, [b"id: 0", b"data: 0"], f"{mode}: first event")
        c.close()
        # Spaced: the server sleeps between events, so n events span (n-1) intervals.
        c = Conn(srv)
        t0 = time.monotonic()
        c.send(get(f"{mode}/events?n=4&interval_ms=150"))
        c.read_response(head=True)
        evs = read_events(c, 4)
        check([f for f, _ in evs] == [[f"id: {i}".encode(), f"data: {i}".encode()]
                                      for i in range(4)], f"{mode}: events in order")
        check(evs[-1][1] - t0 >= 0.45, f"{mode}: 4 events 150 ms apart took "
              f"{evs[-1][1] - t0:.3f}s")
        gaps = [round((b[1] - a[1]) * 1000) for a, b in zip(evs, evs[1:])]
        print(f"     {mode or '/'} events: gaps {gaps} ms")
        c.close()


@case()
def last_event_id_resumes(srv):
    c = Conn(srv)
    c.send(get("/events?n=5&interval_ms=1", headers=[("Last-Event-ID", "2")]))
    r = c.read_response()
    check_eq(r.body, b"id: 3\ndata: 3\n\nid: 4\ndata: 4\n\n", "resumed after id 2")
    c.close()


@case(args=["--sse-ping", "100"])
def silent_streams_get_keepalive_comments(srv):
    for mode in MODES:
        c = Conn(srv)
        c.send(get(f"{mode}/events?n=2&interval_ms=60000"))
        c.read_response(head=True)
        deadline = h.deadline_after(h.TIMEOUT)
        while c.buf.count(b": ping\n") < 2:
            c._more(deadline, "two keep-alive comments")
        check(b"id: 0\ndata: 0\n\n" in c.buf, f"{mode}: the event came first")
        c.close()


@case(args=["--sse-ping", "100"])
def no_keepalive_after_the_last_chunk(srv):
    # The handler ends its stream, then works 600 ms more: a ping in that time would land
    # after the last chunk, inside what the client reads as the next response.
    for mode in MODES:
        c = Conn(srv)
        c.send(get(f"{mode}/events?n=1&interval_ms=1&linger_ms=600") + get("/"))
        r = c.read_response()
        check_eq(r.body, b"id: 0\ndata: 0\n\n", f"{mode}: the events")
        r = c.read_response()
        check_eq((r.status, r.body), (200, b"ringo\n"), f"{mode}: the next response")
        c.close()


# ------------------------------------------------------------ memory and slow readers

@case()
def one_gib_download_in_bounded_memory(srv):
    # Sanitizer builds keep freed memory in quarantine: RSS says nothing there.
    size = (64 << 20) if h.SANITIZED else (1 << 30)
    for mode in MODES:
        base = h.proc_status(srv, "VmHWM")
        s = socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)
        s.sendall(get(f"{mode}/stream?bytes={size}", headers=[("Connection", "close")]))
        got = drain_body(s, size + 65536)
        s.close()
        check(got > size, f"{mode}: {size >> 20} MiB stream: {got} bytes")
        grew = h.proc_status(srv, "VmHWM") - base
        print(f"     {mode or '/'}stream {size >> 20} MiB: peak RSS grew {grew / 1048576:.1f} MiB")
        check(h.SANITIZED or grew < 32 << 20, f"{mode}: peak RSS grew {grew >> 20} MiB "
              "streaming 1 GiB")


@case(args=["--send-timeout", "1000"])
def stalled_reader_holds_the_window_then_is_dropped(srv):
    stats = StatsConn(srv)
    for mode in MODES:
        base = stats.get()
        rss0 = h.proc_status(srv, "VmRSS")
        s = socket.socket(srv.family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(h.TIMEOUT)
        s.connect((srv.connect_host, srv.port))
        s.sendall(get(f"{mode}/stream?bytes={1 << 30}"))
        # Never read: the server fills the socket buffers and the window, then waits;
        # after the send timeout without progress it drops the connection.
        st = stats.wait_for(lambda st: st["reqs_live"] <= base["reqs_live"]
                            and st["conns_live"] <= base["conns_live"],
                            f"{mode}: the stalled reader dropped")
        grew = h.proc_status(srv, "VmRSS") - rss0
        check(h.SANITIZED or grew < 8 << 20,
              f"{mode}: a stalled reader grew the server by {grew >> 20} MiB")
        check(st["cancels"] > base["cancels"], f"{mode}: the stalled stream was cancelled")
        s.close()
    stats.close()


@case()
def hangup_mid_stream_cancels(srv):
    stats = StatsConn(srv)
    for target in ("/stream?bytes=100000000000", "/sync/stream?bytes=100000000000",
                   "/events?n=1000000&interval_ms=10", "/sync/events?n=1000000&interval_ms=10"):
        base = stats.get()
        s = socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)
        s.sendall(get(target))
        check(len(s.recv(65536)) > 0, f"{target}: the stream began")
        abort_sock(s)
        stats.wait_for(lambda st: st["cancels"] > base["cancels"]
                       and st["reqs_live"] <= base["reqs_live"]
                       and st["conns_live"] <= base["conns_live"]
                       and st["stacks_live"] <= base["stacks_live"]
                       and st["jobs_live"] <= base["jobs_live"],
                       f"{target}: hang-up cancels the stream and frees it")
    stats.close()


# ------------------------------------------------------------ shutdown

@case(args=["--drain-timeout", "60000"], server=False)
def shutdown_ends_open_streams():
    srv = h.Server(["--drain-timeout", "60000"])
    srv.start()
    try:
        conns = []
        for mode in MODES:
            c = Conn(srv)
            c.send(get(f"{mode}/events?n=1000&interval_ms=60000"))
            c.read_response(head=True)
            read_events(c, 1)
            conns.append(c)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        for c, mode in zip(conns, MODES):
            deadline = h.deadline_after(h.TIMEOUT)
            while not c.buf.endswith(b"0\r\n\r\n"):
                c._more(deadline, f"{mode}: the last chunk at shutdown")
            c.close()
        srv.wait_stopped()
        print(f"     two open streams ended and the server stopped "
              f"{(time.monotonic() - t0) * 1000:.0f} ms after SIGTERM (drain timeout 60 s)")
    except BaseException:
        srv.kill()
        srv.print_stderr()
        raise
    finally:
        srv.kill()


@case(server=False)
def shutdown_cuts_a_declared_length_stream_it_cancelled():
    # A declared-length stream whose write shutdown cancels in the window cannot end
    # cleanly: the connection closes after what went out, and the pipelined request
    # behind it is never answered inside the short body.
    srv = h.Server(["--drain-timeout", "60000"])
    srv.start()
    try:
        n = 8 << 20
        stats = StatsConn(srv)
        base = stats.get()
        c = Conn(srv, rcvbuf=4096)
        c.send(get(f"/stream?bytes={n}&declare={n}") + get("/"))
        # The window fills: the handler waits in a write (the only place /stream parks).
        stats.wait_for(lambda st: st["stacks_live"] > base["stacks_live"],
                       "the stream's handler parked on the full window")
        stats.close()
        srv.send_signal(signal.SIGTERM)
        deadline = h.deadline_after(h.TIMEOUT)
        while c.fill(deadline):
            pass
        head, _, body = bytes(c.buf).partition(b"\r\n\r\n")
        check(f"Content-Length: {n}".encode() in head, "the stream's head")
        check(len(body) < n, f"the body is cut ({len(body)} of {n} bytes)")
        check(b"HTTP/1.1" not in body, "a response inside the cut body")
        c.close()
        srv.wait_stopped()
    except BaseException:
        srv.kill()
        srv.print_stderr()
        raise
    finally:
        srv.kill()


if __name__ == "__main__":
    h.main()
