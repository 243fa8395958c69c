#!/usr/bin/env python3
"""
Description: size limits, with small configured values and with the
defaults: request line / target (414), header section size and field count
(431), body size by Content-Length (checked before the body is read) and by
chunked total (413), the per-ring connection cap (503). Each over-limit
request gets its status and a close; requests under the limits are served.
"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, case, check, check_eq, check_std_headers, chunked,  # noqa: E402
                           get, request)
from ringo_cases import LIMITS, SMALL  # noqa: E402



def expect_error(srv, data, status, what):
    c = Conn(srv)
    c.send(data, tolerate_close=True)
    r = c.read_response()
    check_eq(r.status, status, what)
    check_std_headers(r, closing=True)
    c.expect_closed(what=f"the {status} for {what}")
    c.close()
    h.check_alive(srv)


def expect_ok(srv, data, what, body=None):
    c = Conn(srv)
    r = c.exchange(data)
    check_eq(r.status, 200, what)
    if body is not None:
        check(r.body == body, f"{what}: body differs")
    c.expect_open(what)
    c.close()


@case(args=SMALL)
def limit_table(srv):
    for name, data, status, closes in LIMITS:
        if status == 200:
            expect_ok(srv, data, name)
        else:
            check(closes, f"{name}: an over-limit request closes")
            expect_error(srv, data, status, name)


@case(args=SMALL)
def request_line_414(srv):
    expect_ok(srv, get("/users/" + "a" * 100), "target of 107 bytes",
              b'{"id":"%s"}' % (b"a" * 100))
    expect_error(srv, get("/" + "x" * 5000), 414, "target of 5 KB")


@case(args=SMALL)
def request_line_414_without_end(srv):
    # The limit applies while the line is still arriving.
    c = Conn(srv)
    c.send(b"GET /" + b"a" * 2000)
    r = c.read_response()
    check_eq(r.status, 414, "unterminated long request line")
    c.expect_closed()


@case(args=SMALL)
def header_bytes_431(srv):
    expect_error(srv, get("/plaintext", headers={"X-Big": "v" * 3000}), 431,
                 "one 3 KB header")
    expect_error(srv, get("/plaintext", headers={"X-" + "n" * 3000: "v"}), 431,
                 "one 3 KB header name")


@case(args=SMALL)
def header_bytes_431_without_end(srv):
    c = Conn(srv)
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 5000)
    r = c.read_response()
    check_eq(r.status, 431, "unterminated large header")
    c.expect_closed()


@case(args=SMALL)
def header_count_431(srv):
    expect_error(srv, get("/plaintext", headers=[("X-Same", "v")] * 40), 431,
                 "40 repeated header fields")


@case(args=SMALL)
def body_content_length_413(srv):
    body = bytes(range(250)) * 4
    expect_ok(srv, request("POST", "/echo", body=body), "body of exactly --max-body", body)
    expect_error(srv, request("POST", "/echo", body=body + b"!"), 413, "body of --max-body + 1")
    expect_error(srv, request("POST", "/echo", headers={"Content-Length": "99999999999999"}),
                 413, "huge Content-Length, no body sent")
    expect_error(srv, request("POST", "/echo", headers={"Content-Length": "1001"}), 413,
                 "Content-Length 1001, no body sent (checked before reading the body)")
    expect_error(srv, request("POST", "/echo", body=b"z" * 100000), 413, "100 KB body")


@case(args=SMALL)
def body_chunked_413(srv):
    te = {"Transfer-Encoding": "chunked"}
    ok = b"q" * 900
    expect_ok(srv, request("POST", "/echo", headers=te, body=chunked([ok[:450], ok[450:]])),
              "900-byte chunked body", ok)
    expect_ok(srv, request("POST", "/echo", headers=te, body=chunked([b"r" * 1000])),
              "chunked body of exactly --max-body", b"r" * 1000)
    expect_error(srv, request("POST", "/echo", headers=te,
                              body=chunked([b"a" * 600, b"b" * 600])), 413,
                 "two chunks totalling 1200")
    expect_error(srv, request("POST", "/echo", headers=te,
                              body=chunked([b"c" * 100] * 30)), 413,
                 "thirty 100-byte chunks")
    expect_error(srv, request("POST", "/echo", headers=te,
                              body=chunked([b"d" * 5000])), 413, "one 5000-byte chunk")


@case(args=SMALL)
def chunked_huge_size_413(srv):
    # A chunk announcing more than the limit: answered as soon as it is known.
    c = Conn(srv)
    c.send(request("POST", "/echo", headers={"Transfer-Encoding": "chunked"},
                   body=b"FFFFFFFF\r\n" + b"x" * 2000))
    r = c.read_response()
    check_eq(r.status, 413, "chunk size 0xFFFFFFFF")
    c.expect_closed()


@case(args=["--max-body", 1000])
def expect_continue_over_limit(srv):
    c = Conn(srv)
    c.send(request("POST", "/echo", headers={"Content-Length": "1001", "Expect": "100-continue"}))
    r = c.read_response()
    check_eq(r.status, 413, "Expect: 100-continue over --max-body")
    c.expect_closed()


@case()
def default_limits(srv):
    expect_ok(srv, get("/users/" + "a" * 4000), "4 KB target under the 8 KiB default")
    expect_error(srv, get("/users/" + "a" * 9000), 414, "9 KB target over the 8 KiB default")
    expect_ok(srv, get("/plaintext", headers=[(f"X-H{i}", "v" * 200) for i in range(50)]),
              "50 headers, 10 KB")
    expect_error(srv, get("/plaintext", headers=[(f"X-H{i}", "v" * 1000) for i in range(40)]),
                 431, "40 KB header section over the 32 KiB default")
    expect_ok(srv, get("/plaintext", headers=[(f"X-H{i}", "v") for i in range(98)]),
              "99 header fields")
    expect_error(srv, get("/plaintext", headers=[(f"X-H{i}", "v") for i in range(101)]), 431,
                 "102 header fields over the default 100")
    expect_error(srv, request("POST", "/echo", headers={"Content-Length": str((1 << 20) + 1)}),
                 413, "Content-Length 1 MiB + 1 over the default")
    body = b"c" * 512
    expect_error(srv, request("POST", "/echo", headers={"Transfer-Encoding": "chunked"},
                              body=chunked([body] * 2100)), 413,
                 "chunked 1.05 MB over the default")


@case(args=["--max-conns", 4])
def connection_cap_503(srv):
    held = []
    for i in range(4):
        c = Conn(srv)
        r = c.exchange(get(f"/users/{i}"))
        check_eq(r.status, 200, f"connection {i} under the cap")
        held.append(c)
    extra = Conn(srv)
    extra.send(get("/plaintext"), tolerate_close=True)
    r = extra.read_response()
    check_eq(r.status, 503, "connection over --max-conns 4")
    check_std_headers(r, closing=True)
    # Shedding load, the server may close without draining: an RST is fine here.
    extra.expect_closed(allow_reset=True)
    for i, c in enumerate(held):
        r = c.exchange(get(f"/users/{i}"))
        check_eq(r.status, 200, f"held connection {i} after a refused one")
    held.pop().close()
    # The freed slot becomes usable once the server has seen the close.
    deadline = h.deadline_after(h.TIMEOUT)
    while True:
        c = Conn(srv)
        c.send(get("/json"), tolerate_close=True)
        r = c.read_response()
        c.close()
        if r.status == 200:
            break
        check_eq(r.status, 503, "status while the slot frees")
        check(h.remaining(deadline) > 0, "a closed connection never freed its slot")
        time.sleep(0.05 * h.SCALE)


if __name__ == "__main__":
    h.main()
