#!/usr/bin/env python3
"""
Description: request bodies through POST /echo: Content-Length and chunked
(chunk extensions, trailers, upper-case hex), bodies split into many small
writes, Expect: 100-continue (interim 100 then the final response; 413
without 100 when too large; 417 for other expectations), empty bodies, the
Content-Type echo, a body of exactly the default --max-body (1 MiB).
"""
import os
import random
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, case, check, check_eq, check_std_headers, chunked,  # noqa: E402
                           request)
from ringo_cases import ECHO  # noqa: E402

RNG = random.Random(20240611)


def blob(n):
    return RNG.randbytes(n)


def echo(ctype=None, body=b"", headers=()):
    hdrs = list(headers)
    if ctype:
        hdrs.append(("Content-Type", ctype))
    return request("POST", "/echo", headers=hdrs, body=body)


def expect_echo(r, body, ctype="application/octet-stream", what="echo"):
    check_eq(r.status, 200, f"{what}: status")
    check_std_headers(r, closing=False)
    check_eq(r.header("content-type"), ctype, f"{what}: Content-Type")
    check_eq(int(r.header("content-length")), len(body), f"{what}: Content-Length")
    check(r.body == body, f"{what}: body differs ({len(r.body)} vs {len(body)} bytes)")


@case()
def content_length_bodies(srv):
    c = Conn(srv)
    for n, ctype in ((1, "text/plain"), (1000, "application/x-test; charset=utf-8"),
                     (70000, None), (5, "text/plain")):
        body = blob(n)
        c.send(echo(ctype, body))
        expect_echo(c.read_response(), body, ctype or "application/octet-stream", f"{n} bytes")


@case()
def echo_table(srv):
    # Empty bodies, chunk extensions (RFC 9112 section 7.1.1), trailers, upper-case hex.
    c = Conn(srv)
    for name, data, body in ECHO:
        expect_echo(c.exchange(data), body, what=name)
    c.expect_open("the echo table")


@case()
def chunked_upload(srv):
    c = Conn(srv)
    te = {"Transfer-Encoding": "chunked", "Content-Type": "text/x-chunks"}
    r = c.exchange(request("POST", "/echo", headers=te,
                           body=chunked([b"hello", b" ", b"world"])))
    expect_echo(r, b"hello world", "text/x-chunks", "plain chunks")
    big = blob(100000)
    pieces = [big[i:i + 4099] for i in range(0, len(big), 4099)]
    r = c.exchange(request("POST", "/echo", headers=te, body=chunked(pieces)))
    expect_echo(r, big, "text/x-chunks", "100 KB in 4 KB chunks")
    c.expect_open("chunked uploads")


@case()
def small_writes(srv):
    c = Conn(srv)
    body = blob(3000)
    c.send_pieces(echo("x/y", body), [1, 2, 3, 5, 8, 13, 21])
    expect_echo(c.read_response(), body, "x/y", "Content-Length body in tiny writes")
    data = request("POST", "/echo", headers={"Transfer-Encoding": "chunked"},
                   body=chunked([body[:1000], body[1000:1001], body[1001:]],
                                trailers=[("T", "v")]))
    c.send_pieces(data, [1, 3, 7])
    expect_echo(c.read_response(), body, what="chunked body in tiny writes")
    c.send_pieces(echo(None, b"hello"), 1)
    expect_echo(c.read_response(), b"hello", what="one byte per write")


@case()
def one_mib_body(srv):
    body = blob(1 << 20)
    r, got = h.http_request(srv, "POST", "/echo", body=body,
                            headers={"Content-Type": "application/x-mib"})
    check_eq((r.status, r.getheader("Content-Type")), (200, "application/x-mib"),
             "1 MiB echo status / type")
    check(got == body, f"1 MiB echo body differs ({len(got)} bytes)")


@case()
def expect_continue(srv):
    c = Conn(srv)
    body = b"0123456789"
    c.send(request("POST", "/echo", headers={"Content-Length": "10",
                                             "Expect": "100-continue"}))
    r = c.read_response()
    check_eq(r.status, 100, "interim status for Expect: 100-continue")
    check(r.head.startswith(b"HTTP/1.1 100 Continue"), f"interim line {r.head[:40]!r}")
    c.send(body)
    expect_echo(c.read_response(), body, what="final response after 100")
    # Same on a chunked request, expectation token case-insensitive.
    c.send(request("POST", "/echo", headers={"Transfer-Encoding": "chunked",
                                             "Expect": "100-Continue"}))
    r = c.read_response()
    check_eq(r.status, 100, "interim status (chunked)")
    c.send(chunked([b"abc", b"def"]))
    expect_echo(c.read_response(), b"abcdef", what="chunked final response after 100")
    c.expect_open("100-continue")


@case()
def expect_continue_curl(srv):
    data = blob(5000)
    path = os.path.join(tempfile.gettempdir(), f"ringo-it-{os.getpid()}.bin")
    with open(path, "wb") as f:
        f.write(data)
    try:
        interims, r = h.curl(srv, "/echo", "-H", "Expect: 100-continue", "-H",
                             "Content-Type: application/x-curl", "--data-binary", f"@{path}")
    finally:
        os.unlink(path)
    check_eq([i.status for i in interims], [100], "interim responses seen by curl")
    expect_echo(r, data, "application/x-curl", "curl upload with 100-continue")


@case()
def expect_continue_too_large(srv):
    c = Conn(srv)
    c.send(request("POST", "/echo", headers={"Content-Length": str((1 << 20) + 1),
                                             "Expect": "100-continue"}))
    r = c.read_response()
    check_eq(r.status, 413, "status for a too-large body with Expect: 100-continue (no 100)")
    check_std_headers(r, closing=True)
    c.expect_closed()


@case()
def expect_unknown(srv):
    c = Conn(srv)
    c.send(request("POST", "/echo", headers={"Content-Length": "0", "Expect": "teapot"}))
    r = c.read_response()
    check_eq(r.status, 417, "status for an unknown expectation")
    check_std_headers(r)


@case()
def expect_continue_then_pipelined(srv):
    # A client may send the body without waiting for the 100: the server
    # still answers once, in order, with the 100 (if any) first.
    c = Conn(srv)
    c.send(request("POST", "/echo", headers={"Expect": "100-continue"}, body=b"eager") +
           h.get("/users/next"))
    interims, r = c.read_final()
    check(len(interims) <= 1 and all(i.status == 100 for i in interims),
          f"interim responses {interims!r}")
    expect_echo(r, b"eager", what="eager body")
    r = c.read_response()
    check_eq(r.json(), {"id": "next"}, "request after an eager body")


if __name__ == "__main__":
    h.main()
