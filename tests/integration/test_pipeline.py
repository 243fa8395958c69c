#!/usr/bin/env python3
"""
Description: pipelining. Requests sent back to back in one write (or split
at arbitrary byte boundaries) are answered in request order; a parse error
after k complete requests gets the k responses first, then the error and a
close; a burst of 2000 requests in one write is answered completely while
the client reads concurrently; a small --max-conn-buffered cap does not
lose or reorder anything.
"""
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, case, check, check_eq, check_std_headers, chunked,  # noqa: E402
                           get, request)
from ringo_cases import PIPELINE_ERRORS, pipeline_error  # noqa: E402


def expect_users(c, ids, what):
    for i in ids:
        r = c.read_response()
        check_eq((r.status, r.json()), (200, {"id": str(i)}), f"{what}: response for id {i}")
        check_std_headers(r, closing=False)


@case()
def sixteen_in_one_write(srv):
    c = Conn(srv)
    c.send(b"".join(get(f"/users/{i}") for i in range(1, 17)))
    expect_users(c, range(1, 17), "16 pipelined GETs")
    c.expect_open("16 pipelined responses")


@case()
def split_at_every_boundary(srv):
    c = Conn(srv)
    data = b"".join(get(f"/users/{i}") for i in range(1, 41))
    c.send_pieces(data, [7, 1, 13, 2, 31, 3])
    expect_users(c, range(1, 41), "pipelined GETs sent in small pieces")


@case()
def mixed_with_bodies(srv):
    c = Conn(srv)
    big = bytes(range(256)) * 64
    reqs = [
        (get("/users/1"), "u1"),
        (request("POST", "/echo", headers={"Content-Type": "text/x-a"}, body=b"alpha"), "e1"),
        (get("/json"), "json"),
        (request("POST", "/echo", headers={"Transfer-Encoding": "chunked"},
                 body=chunked([b"be", b"ta"])), "e2"),
        (request("HEAD", "/plaintext"), "head"),
        (request("POST", "/echo", body=b""), "e3"),
        (request("POST", "/echo", headers={"Content-Type": "application/x-big"}, body=big),
         "e4"),
        (get("/nope"), "404"),
        (request("POST", "/echo", body=b"GET /users/666 HTTP/1.1\r\nHost: x\r\n\r\n"), "e5"),
        (get("/users/2"), "u2"),
    ]
    c.send(b"".join(r for r, _ in reqs))
    r = c.read_response()
    check_eq(r.json(), {"id": "1"}, "u1")
    r = c.read_response()
    check_eq((r.status, r.header("content-type"), r.body), (200, "text/x-a", b"alpha"), "e1")
    r = c.read_response()
    check_eq(r.json(), {"message": "Hello, World!"}, "json")
    r = c.read_response()
    check_eq((r.status, r.body), (200, b"beta"), "chunked echo")
    r = c.read_response(head=True)
    check_eq((r.status, r.header("content-length")), (200, "13"), "HEAD")
    r = c.read_response()
    check_eq((r.status, r.body, r.header("content-length")), (200, b"", "0"), "empty echo")
    r = c.read_response()
    check_eq((r.status, r.header("content-type"), r.body == big), (200, "application/x-big", True),
             "16 KiB echo")
    r = c.read_response()
    check_eq(r.status, 404, "404 in the pipeline")
    r = c.read_response()
    check_eq(r.body, b"GET /users/666 HTTP/1.1\r\nHost: x\r\n\r\n",
             "a body that looks like a request is a body")
    r = c.read_response()
    check_eq(r.json(), {"id": "2"}, "u2")
    c.expect_open("the mixed pipeline")


@case()
def parse_error_after_k_requests(srv):
    for k, (name, bad, status) in enumerate(PIPELINE_ERRORS):
        c = Conn(srv)
        c.send(pipeline_error(k, bad), tolerate_close=True)
        expect_users(c, range(1, k + 2), f"{k + 1} requests before a {name} error")
        r = c.read_response()
        check_eq(r.status, status, f"status after {k + 1} good requests + {name}")
        check_std_headers(r, closing=True)
        c.expect_closed(what=f"the {status} for {name}")


@case()
def error_in_same_segment_as_body(srv):
    # The error follows a request with a body, in the same write.
    c = Conn(srv)
    c.send(request("POST", "/echo", body=b"0123456789") +
           request("POST", "/echo", headers={"Content-Length": "1 2"}, body=b"xx"),
           tolerate_close=True)
    r = c.read_response()
    check_eq((r.status, r.body), (200, b"0123456789"), "echo before the bad request")
    r = c.read_response()
    check_eq(r.status, 400, "status of Content-Length: 1 2")
    c.expect_closed()


def burst(srv, n):
    c = Conn(srv)
    data = b"".join(get(f"/users/{i}") for i in range(n))
    errors = []

    def sender():
        try:
            c.sock.sendall(data)
        except OSError as e:
            errors.append(e)

    # Write while reading: the responses outgrow the socket buffers long
    # before the requests are all sent.
    t = threading.Thread(target=sender, daemon=True)
    c.sock.settimeout(h.TIMEOUT)
    t.start()
    for i in range(n):
        r = c.read_response()
        if r.status != 200 or r.body != b'{"id":"%d"}' % i:
            raise h.Failure(f"burst response {i}: {r!r}")
    t.join(h.TIMEOUT)
    check(not t.is_alive() and not errors, f"sender of the burst: {errors or 'hung'}")
    c.expect_open(f"a burst of {n}")


@case()
def burst_2000(srv):
    burst(srv, 2000)


@case(args=["--max-conn-buffered", 4096])
def burst_with_small_input_cap(srv):
    burst(srv, 2000)


@case(args=["--max-conn-buffered", 4096])
def pipelined_bodies_with_small_input_cap(srv):
    c = Conn(srv)
    bodies = [bytes([65 + i]) * (1000 + 997 * i) for i in range(20)]
    data = b"".join(request("POST", "/echo", body=b) for b in bodies)
    t = threading.Thread(target=lambda: c.send(data, tolerate_close=True), daemon=True)
    t.start()
    for i, b in enumerate(bodies):
        r = c.read_response()
        check_eq((r.status, len(r.body), r.body == b), (200, len(b), True), f"echo {i}")
    t.join(h.TIMEOUT)
    check(not t.is_alive(), "sender hung")


if __name__ == "__main__":
    h.main()
