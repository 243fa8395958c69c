#!/usr/bin/env python3
"""
Description: request bodies read as they arrive (RINGO_ROUTE_STREAM_BODY,
ringo/body.h), in both handler modes. Uploads arrive intact whatever the
framing (Content-Length, chunked, Expect: 100-continue, cut into pieces of
any size); a 1 GiB upload keeps the server's peak RSS growth under 32 MiB;
the route's own limit answers 413 up front for a declared length and as
data arrives for a chunked one; the body timeout restarts whenever data
arrives (a slow upload that keeps moving succeeds, a stalled one gets 408);
a handler that answers without reading the body closes the connection so
the body is never taken for a request; requests pipelined behind an upload
are answered in order; a hang-up mid-upload cancels the handler.
"""
import hashlib
import json
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, StatsConn, abort_sock, case, check, check_eq,  # noqa: E402
                           chunked, get, request)

MODES = ("/upload", "/sync/upload")


def expect_upload(r, data, what):
    check_eq(r.status, 200, f"{what}: status")
    got = r.json()
    check_eq(got, {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}, what)


@case()
def uploads_arrive_intact(srv):
    data = os.urandom(300001)
    for path in MODES:
        c = Conn(srv)
        c.send(request("POST", path, body=data))
        expect_upload(c.read_response(), data, f"{path} Content-Length")
        c.send(request("POST", path, headers=[("Transfer-Encoding", "chunked")],
                       body=chunked([data[:1], data[1:70000], data[70000:]])))
        expect_upload(c.read_response(), data, f"{path} chunked")
        c.send(request("POST", path, body=b""))
        expect_upload(c.read_response(), b"", f"{path} empty")
        c.close()


@case()
def uploads_cut_anywhere(srv):
    data = os.urandom(5000)
    for path in MODES:
        for sizes in ([1], [7, 3000], [65536]):
            c = Conn(srv)
            c.send_pieces(request("POST", path, body=data), sizes)
            expect_upload(c.read_response(), data, f"{path} in pieces of {sizes}")
            c.close()


@case()
def continue_is_sent_when_the_handler_reads(srv):
    data = os.urandom(100000)
    for path in MODES:
        c = Conn(srv)
        c.send(request("POST", path, headers=[("Content-Length", str(len(data))),
                                              ("Expect", "100-continue")]))
        r = c.read_response()
        check_eq(r.status, 100, f"{path}: interim answer before the body")
        c.send(data)
        expect_upload(c.read_response(), data, f"{path} after 100-continue")
        c.close()


@case()
def one_gib_upload_in_bounded_memory(srv):
    # Sanitizer builds keep freed memory in quarantine: RSS says nothing there.
    block = os.urandom(1 << 20)
    # The demo hashes what it spools: 1 GiB through one mode, 256 MiB through the other.
    for path, size in zip(MODES, (1 << 30, 256 << 20)):
        if h.SANITIZED:
            size = 64 << 20
        base = h.proc_status(srv, "VmHWM")
        c = Conn(srv, timeout=h.TIMEOUT * 4)
        c.send(request("POST", path, headers=[("Content-Length", str(size))]))
        sha = hashlib.sha256()
        for _ in range(size >> 20):
            c.send(block)
            sha.update(block)
        r = c.read_response(timeout=h.TIMEOUT * 4)
        c.close()
        check_eq(r.json(), {"bytes": size, "sha256": sha.hexdigest()}, f"{path} {size >> 20} MiB")
        grew = h.proc_status(srv, "VmHWM") - base
        print(f"     {path} {size >> 20} MiB: peak RSS grew {grew / 1048576:.1f} MiB")
        check(h.SANITIZED or grew < 32 << 20, f"{path}: peak RSS grew {grew >> 20} MiB")


@case()
def route_limit_413(srv):
    # Declared: refused before the handler runs.
    c = Conn(srv)
    c.send(request("POST", "/upload/limited", headers=[("Content-Length", "100001")]))
    r = c.read_response()
    check_eq(r.status, 413, "declared length past the route's limit")
    check(r.closes(), "413 closes")
    c.close()
    # Within the limit: fine, though past the app's 1 MiB default elsewhere.
    c = Conn(srv)
    data = os.urandom(100000)
    c.send(request("POST", "/upload/limited", body=data))
    expect_upload(c.read_response(), data, "at the limit")
    c.close()
    # Chunked: found as data arrives; the handler's answer is replaced.
    c = Conn(srv)
    c.send(request("POST", "/upload/limited", headers=[("Transfer-Encoding", "chunked")],
                   body=chunked([b"x" * 60000, b"y" * 60000])), tolerate_close=True)
    r = c.read_response()
    check_eq(r.status, 413, "chunked body past the route's limit")
    check(r.closes(), "413 closes")
    c.close()
    # The app-wide limit still holds for the big upload route's neighbours.
    c = Conn(srv)
    c.send(request("POST", "/echo", headers=[("Content-Length", str(2 << 20))]))
    check_eq(c.read_response().status, 413, "/echo keeps the app's limit")
    c.close()


@case()
def body_timeout_restarts_on_data(srv):
    data = os.urandom(4000)
    msg = request("POST", "/upload/limited", body=data)
    head = msg[:len(msg) - len(data)]
    c = Conn(srv)
    c.send(head)
    # 16 pieces 100 ms apart: 1.5 s in all, three times the route's 500 ms wait, while
    # each gap leaves 400 ms to a loaded machine before the wait would run out.
    for i in range(16):
        time.sleep(0.1)
        c.send(data[i * 250:(i + 1) * 250])
    expect_upload(c.read_response(), data, "a slow upload that keeps moving")
    # A stall longer than the wait: 408.
    c.send(head + data[:100])
    r = c.read_response(timeout=h.TIMEOUT)
    check_eq(r.status, 408, "a stalled upload")
    check(r.closes(), "408 closes")
    c.close()
    # The head and not one body byte: the wait runs from the head.
    c = Conn(srv)
    c.send(head)
    r = c.read_response(timeout=h.TIMEOUT)
    check_eq(r.status, 408, "a head without its body")
    c.close()


@case()
def deadline_while_the_body_arrives(srv):
    stats = StatsConn(srv)
    base = stats.get()
    c = Conn(srv)
    # Half of the body, then silence: the route's 300 ms deadline answers 504.
    c.send(request("POST", "/upload/deadline", headers=[("Content-Length", "100000")])
           + b"x" * 50000)
    r = c.read_response()
    check_eq(r.status, 504, "deadline while the body arrives")
    check(r.closes(), "504 closes: the rest of the body is never a request")
    c.send(get("/users/1") * 10, tolerate_close=True)
    deadline = h.deadline_after(h.TIMEOUT)
    while c.fill(deadline):
        pass
    check(b"HTTP/1.1" not in bytes(c.buf), f"nothing after the 504: {bytes(c.buf)[:120]!r}")
    c.close()
    stats.wait_baseline(base, "the detached upload handler finished")
    stats.close()


@case()
def unread_body_is_never_a_request(srv):
    smuggled = get("/users/1")
    body = smuggled * 200
    c = Conn(srv)
    c.send(request("POST", "/upload/refuse", body=body) + get("/"), tolerate_close=True)
    r = c.read_response()
    check_eq(r.status, 403, "refused upload")
    check(r.closes(), "the connection closes after an unread body")
    deadline = h.deadline_after(h.TIMEOUT)
    while c.fill(deadline):
        pass
    check(b"HTTP/1.1" not in bytes(c.buf), f"nothing after the refusal: {bytes(c.buf)[:120]!r}")
    c.close()


@case()
def pipelined_behind_uploads(srv):
    data = os.urandom(200000)
    c = Conn(srv)
    c.send(request("POST", "/upload", body=data) + get("/") +
           request("POST", "/sync/upload", body=data[:1000]) + get("/json"))
    expect_upload(c.read_response(), data, "first: /upload")
    check_eq(c.read_response().body, b"ringo\n", "second: /")
    expect_upload(c.read_response(), data[:1000], "third: /sync/upload")
    check_eq(c.read_response().status, 200, "fourth: /json")
    c.close()


@case()
def hangup_mid_upload_cancels(srv):
    stats = StatsConn(srv)
    for path in MODES:
        base = stats.get()
        s = socket.create_connection((srv.connect_host, srv.port), timeout=h.TIMEOUT)
        s.sendall(request("POST", path, headers=[("Content-Length", str(1 << 30))]))
        s.sendall(os.urandom(200000))
        stats.wait_for(lambda st: st["reqs_live"] > base["reqs_live"], f"{path} started")
        abort_sock(s)
        stats.wait_for(lambda st: st["cancels"] > base["cancels"]
                       and st["reqs_live"] <= base["reqs_live"]
                       and st["conns_live"] <= base["conns_live"]
                       and st["stacks_live"] <= base["stacks_live"]
                       and st["jobs_live"] <= base["jobs_live"],
                       f"{path}: hang-up cancels the upload and frees it")
    stats.close()


if __name__ == "__main__":
    h.main()
