#!/usr/bin/env python3
"""
Description: the demo routes through curl, http.client and raw sockets:
standard headers, path parameters (percent-decoding, '+', UTF-8, JSON
escaping), the client's address, keep-alive reuse, HTTP/1.0, Connection:
close, HEAD, 404, 405 with Allow, absolute-form and asterisk-form targets,
--max-requests.
"""
import email.utils
import json
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check, check_eq, check_std_headers, get, request  # noqa: E402


@case()
def plaintext_curl(srv):
    _, r = h.curl(srv, "/plaintext")
    check_eq(r.status, 200, "status")
    check_std_headers(r, closing=False)
    check_eq(r.header("content-length"), "13", "Content-Length")
    check(r.header("content-type") is not None and
          r.header("content-type").startswith("text/plain"), f"Content-Type: {r!r}")
    check_eq(r.body, b"Hello, World!", "body")


@case()
def json_route(srv):
    r, body = h.http_request(srv, "GET", "/json")
    check_eq(r.status, 200, "status")
    check(r.getheader("Content-Type", "").startswith("application/json"),
          f"Content-Type {r.getheader('Content-Type')!r}")
    check_eq(int(r.getheader("Content-Length")), len(body), "Content-Length")
    check_eq(json.loads(body), {"message": "Hello, World!"}, "JSON body")


@case()
def root_route(srv):
    c = Conn(srv)
    r = c.exchange(get("/"))
    check_eq(r.status, 200, "status")
    check_std_headers(r, closing=False)
    check(r.header("content-type").startswith("text/plain"), f"Content-Type: {r!r}")
    check_eq(r.body, b"ringo\n", "body")


USER_IDS = [
    ("/users/42", "42"),
    ("/users/a%2Fb", "a/b"),           # %2F never splits a segment
    ("/users/a+b", "a+b"),             # '+' is a space only in the query
    ("/users/a%20b", "a b"),
    ("/users/a%2Bb", "a+b"),
    ("/users/%C3%A9t%C3%A9", "\u00e9t\u00e9"),
    ("/users/%E2%82%AC%F0%9F%98%80", "\u20ac\U0001F600"),
    ("/users/%22q%22", '"q"'),        # must be JSON-escaped
    ("/users/back%5Cslash", "back\\slash"),
    ("/users/nl%0Atab%09", "nl\ntab\t"),
    ("/users/ctl%01", "ctl\x01"),
    ("/users/7?x=1+2&y=%zz", "7"),     # the query is not part of the id
    ("/users/%7e", "~"),
    ("/users/a%FFb", "a\ufffdb"),       # invalid UTF-8: U+FFFD, the body stays valid JSON
    ("/users/%C0%AF%E2%82", "\ufffd\ufffd\ufffd"),  # overlong: one each; cut short: one
]


@case()
def users_ids(srv):
    c = Conn(srv)
    for target, want in USER_IDS:
        r = c.exchange(get(target))
        check_eq(r.status, 200, f"status of {target}")
        check_std_headers(r, closing=False)
        check(r.header("content-type").startswith("application/json"),
              f"Content-Type of {target}: {r!r}")
        check_eq(r.json(), {"id": want}, f"JSON of {target}")


@case()
def users_not_a_route(srv):
    c = Conn(srv)
    for target in ("/users", "/users/1/2", "/user/1", "/plaintext/x", "/nope"):
        r = c.exchange(get(target))
        check_eq(r.status, 404, f"status of {target}")
        check_std_headers(r, closing=False)
    c.expect_open("404s")


@case()
def whoami(srv):
    c = Conn(srv)
    r = c.exchange(get("/whoami"))
    check_eq(r.status, 200, "status")
    check_eq(r.json(), {"peer": f"127.0.0.1:{c.local_port()}", "scheme": "http", "ring": 0},
             "whoami")


@case()
def keepalive_reuse_http_client(srv):
    conn = h.http_conn(srv)
    sock, name = None, None
    for i in range(100):
        path = ("/plaintext", "/json", f"/users/{i}")[i % 3]
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        check_eq(r.status, 200, f"status of request {i}")
        check(r.getheader("Connection", "").lower() != "close",
              f"request {i}: server closes a keep-alive connection")
        if i % 3 == 2:
            check_eq(json.loads(body), {"id": str(i)}, f"body of request {i}")
        if sock is None:
            sock, name = conn.sock, conn.sock.getsockname()
        check(conn.sock is sock and conn.sock.getsockname() == name,
              f"request {i} did not reuse the connection")
    conn.close()


@case()
def keepalive_reuse_curl(srv):
    exe = shutil.which("curl")
    if not exe:
        raise h.Skip("curl not installed")
    urls = [srv.url(p) for p in ("/plaintext", "/json", "/users/5")]
    p = subprocess.run([exe, "-sS", "-v", "--noproxy", "*", "--max-time", str(int(h.TIMEOUT)),
                        *urls], capture_output=True, timeout=h.TIMEOUT + 10)
    check_eq(p.returncode, 0, f"curl exit status ({p.stderr[-500:]!r})")
    check_eq(p.stdout, b'Hello, World!{"message":"Hello, World!"}{"id":"5"}', "bodies")
    check(p.stderr.count(b"Re-using existing connection") + p.stderr.count(b"Reusing existing")
          >= 2, f"curl did not reuse the connection: {p.stderr[-1500:]!r}")


@case()
def http10_closes_by_default(srv):
    c = Conn(srv)
    r = c.exchange(get("/plaintext", version="HTTP/1.0", host=None))
    check(h.hello_ok(r), f"response {r!r}")
    check_std_headers(r, closing=True)
    c.expect_closed()


@case()
def http10_keepalive(srv):
    c = Conn(srv)
    req = get("/plaintext", version="HTTP/1.0", host=None, headers={"Connection": "keep-alive"})
    for i in range(3):
        r = c.exchange(req)
        check(h.hello_ok(r), f"response {i}: {r!r}")
        check_std_headers(r, closing=False)
        check("keep-alive" in r.tokens("connection"),
              f"HTTP/1.0 keep-alive response lacks Connection: keep-alive: {r!r}")
    r = c.exchange(get("/json", version="HTTP/1.0", host=None))
    check_eq(r.status, 200, "last HTTP/1.0 request")
    check_std_headers(r, closing=True)
    c.expect_closed()


@case()
def connection_close_echoed(srv):
    c = Conn(srv)
    r = c.exchange(get("/json", headers={"Connection": "close"}))
    check_eq(r.status, 200, "status")
    check_std_headers(r, closing=True)
    c.expect_closed()
    c = Conn(srv)
    r = c.exchange(get("/plaintext", headers={"Connection": "keep-alive, Close"}))
    check(h.hello_ok(r), f"response {r!r}")
    check(r.closes(), f"Connection: Close token not honoured: {r!r}")
    c.expect_closed()


@case()
def head_requests(srv):
    c = Conn(srv)
    # A HEAD followed by a GET in one write: a stray body would corrupt the second.
    c.send(request("HEAD", "/plaintext") + get("/json") + request("HEAD", "/nope") +
           request("HEAD", "/users/%C3%A9") + get("/plaintext"))
    r = c.read_response(head=True)
    check_eq(r.status, 200, "HEAD /plaintext")
    check_std_headers(r, closing=False)
    check_eq(r.header("content-length"), "13", "HEAD Content-Length")
    r = c.read_response()
    check_eq(r.json(), {"message": "Hello, World!"}, "GET after HEAD")
    r = c.read_response(head=True)
    check_eq(r.status, 404, "HEAD /nope")
    check_std_headers(r, closing=False)
    r = c.read_response(head=True)
    check_eq(r.status, 200, "HEAD /users/%C3%A9")
    check_eq(r.header("content-length"), str(len('{"id":"\u00e9"}'.encode())),
             "HEAD /users Content-Length")
    r = c.read_response()
    check(h.hello_ok(r), f"GET after HEADs: {r!r}")
    _, r = h.curl(srv, "/plaintext", "-I")
    check_eq((r.status, r.header("content-length"), r.body), (200, "13", b""), "curl -I")


@case()
def not_found(srv):
    c = Conn(srv)
    r = c.exchange(get("/does/not/exist"))
    check_eq(r.status, 404, "status")
    check_std_headers(r, closing=False)
    c.expect_open("a 404")


@case()
def method_not_allowed(srv):
    c = Conn(srv)
    cases = [
        (request("POST", "/plaintext", body=b"x"), {"get", "head"}),
        (request("DELETE", "/json"), {"get", "head"}),
        (request("PUT", "/users/1", body=b""), {"get", "head"}),
        (get("/echo"), {"post"}),
        (request("DELETE", "/echo"), {"post"}),
    ]
    for req, allow in cases:
        r = c.exchange(req)
        what = req.split(b"\r\n")[0].decode()
        check_eq(r.status, 405, f"status of {what}")
        check_std_headers(r)
        got = r.tokens("allow")
        check(allow <= got, f"{what}: Allow {r.header('allow')!r} lacks {sorted(allow)}")
        if not r.closes():
            continue
        c.expect_closed()
        c = Conn(srv)
    c.send(request("HEAD", "/echo"))
    r = c.read_response(head=True)
    check_eq(r.status, 405, "HEAD /echo")
    check("post" in r.tokens("allow"), f"HEAD /echo: Allow {r.header('allow')!r}")


@case()
def absolute_form(srv):
    c = Conn(srv)
    auth = f"127.0.0.1:{srv.port}"
    r = c.exchange(get(f"http://{auth}/plaintext", host=auth))
    check(h.hello_ok(r), f"absolute-form GET: {r!r}")
    r = c.exchange(get(f"http://{auth}/users/a%2Fb?q=1", host=auth))
    check_eq((r.status, r.json()), (200, {"id": "a/b"}), "absolute-form /users")
    r = c.exchange(get(f"http://{auth}/nope", host=auth))
    check_eq(r.status, 404, "absolute-form unknown path")
    c.expect_open("absolute-form requests")


@case()
def options_asterisk(srv):
    c = Conn(srv)
    c.send(request("OPTIONS", "*"))
    r = c.read_response()
    check(r.status in (200, 204, 404, 405),
          f"OPTIONS * expected a sane answer (200/204/404/405), got {r.status}")
    check_std_headers(r)
    if not r.closes():
        c.expect_open("OPTIONS *")


@case()
def date_header_is_now(srv):
    c = Conn(srv)
    for _ in range(3):
        r = c.exchange(get("/plaintext"))
        when = email.utils.parsedate_to_datetime(r.header("date"))
        skew = abs(when.timestamp() - time.time())
        check(skew < 300, f"Date {r.header('date')!r} is {skew:.0f}s away from the clock")


@case(args=["--max-requests", 3])
def max_requests_sequential(srv):
    c = Conn(srv)
    for i in range(1, 4):
        r = c.exchange(get(f"/users/{i}"))
        check_eq(r.json(), {"id": str(i)}, f"response {i}")
        check_std_headers(r, closing=(i == 3))
    c.expect_closed(what="the --max-requests'th response")


@case(args=["--max-requests", 3])
def max_requests_pipelined(srv):
    c = Conn(srv)
    c.send(b"".join(get(f"/users/{i}") for i in range(1, 6)), tolerate_close=True)
    for i in range(1, 4):
        r = c.read_response()
        check_eq(r.json(), {"id": str(i)}, f"pipelined response {i}")
        check_std_headers(r, closing=(i == 3))
    c.expect_closed(what="the --max-requests'th response")


@case(args=["--max-requests", 1])
def max_requests_one(srv):
    _, r = h.curl(srv, "/plaintext")
    check(h.hello_ok(r) and r.closes(), f"--max-requests 1: {r!r}")
    c = Conn(srv)
    r = c.exchange(get("/json"))
    check(r.status == 200 and r.closes(), f"--max-requests 1: {r!r}")
    c.expect_closed()


if __name__ == "__main__":
    h.main()
