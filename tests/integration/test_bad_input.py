#!/usr/bin/env python3
"""
Description: every class of bad input gets its precise status. Framing and
syntax errors close the connection after the response (a lingering close:
the client reads the status, then EOF); a malformed percent-escape in the
path is a 400 that keeps the connection; an Upgrade request is answered
normally. After each one a fresh connection is still served.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check, check_eq, check_std_headers, get, request  # noqa: E402

POST_HEAD = b"POST /echo HTTP/1.1\r\nHost: a\r\n"
TE = b"Transfer-Encoding: chunked\r\n"


def post_chunked(body):
    return POST_HEAD + TE + b"\r\n" + body


# (name, request bytes, status, closes)
FRAMING = [
    ("TE + CL", POST_HEAD + TE + b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400, True),
    ("CL + TE", POST_HEAD + b"Content-Length: 5\r\n" + TE + b"\r\n0\r\n\r\n", 400, True),
    ("duplicate CL, same value", POST_HEAD + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n"
     b"hello", 400, True),
    ("duplicate CL, different values", POST_HEAD + b"Content-Length: 5\r\n"
     b"Content-Length: 6\r\n\r\nhello!", 400, True),
    ("CL abc", POST_HEAD + b"Content-Length: abc\r\n\r\n", 400, True),
    ("CL -1", POST_HEAD + b"Content-Length: -1\r\n\r\n", 400, True),
    ("CL '1 2'", POST_HEAD + b"Content-Length: 1 2\r\n\r\nab", 400, True),
    ("CL +5", POST_HEAD + b"Content-Length: +5\r\n\r\nhello", 400, True),
    ("CL 5,5 list", POST_HEAD + b"Content-Length: 5, 5\r\n\r\nhello", 400, True),
    ("CL empty", POST_HEAD + b"Content-Length: \r\n\r\n", 400, True),
    ("CL 0x10", POST_HEAD + b"Content-Length: 0x10\r\n\r\n", 400, True),
    ("chunk size zz", post_chunked(b"zz\r\nhello\r\n0\r\n\r\n"), 400, True),
    ("chunk data without CRLF", post_chunked(b"5\r\nhelloXY0\r\n\r\n"), 400, True),
    ("chunk size line without CRLF", post_chunked(b"5 hello\r\n0\r\n\r\n"), 400, True),
    ("chunk size overflow", post_chunked(b"1" + b"0" * 20 + b"\r\nx\r\n"), 400, True),
    ("chunk size negative", post_chunked(b"-5\r\nhello\r\n0\r\n\r\n"), 400, True),
    ("chunk size 0x prefix", post_chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), 400, True),
    ("TE gzip alone", POST_HEAD + b"Transfer-Encoding: gzip\r\n\r\nabc", 400, True),
    ("TE chunked, gzip (chunked not last)", POST_HEAD +
     b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, True),
    ("TE unknown coding", POST_HEAD + b"Transfer-Encoding: foo\r\n\r\n", 400, True),
    # Regression: llhttp sets F_CHUNKED for "gzip, chunked"; the body must not reach the
    # handler still gzip-coded (RFC 9112 6.1: a coding we do not implement is 501).
    ("TE gzip, chunked", POST_HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
     501, True),
    ("TE chunked twice", POST_HEAD + b"Transfer-Encoding: chunked, chunked\r\n\r\n"
     b"0\r\n\r\n", 400, True),
]

HEAD_SYNTAX = [
    ("bare CR in a header value", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
     400, True),
    ("bare CR ending a header line", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n",
     400, True),
    ("bare CR in the request line", b"GET /plaintext\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    ("obs-fold with SP", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, True),
    ("obs-fold with HT", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400, True),
    ("obs-fold on Host", b"GET /plaintext HTTP/1.1\r\nHost:\r\n a\r\n\r\n", 400, True),
    ("bare LF everywhere", b"GET /plaintext HTTP/1.1\nHost: a\n\n", 400, True),
    ("bare LF after the request line", b"GET /plaintext HTTP/1.1\nHost: a\r\n\r\n", 400, True),
    ("bare LF ending one header", b"GET /plaintext HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
     400, True),
    ("bare LF ending the head", b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\n", 400, True),
    ("empty header name", b"GET /plaintext HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, True),
    ("space before colon", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Foo : bar\r\n\r\n",
     400, True),
    ("space before colon on Host", b"GET /plaintext HTTP/1.1\r\nHost : a\r\n\r\n", 400, True),
    ("tab before colon", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Foo\t: bar\r\n\r\n",
     400, True),
    ("header without colon", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
     400, True),
    ("space inside a header name", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n",
     400, True),
    ("NUL in a header value", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
     400, True),
    ("HTTP/1.1 without Host", b"GET /plaintext HTTP/1.1\r\nX: y\r\n\r\n", 400, True),
    ("two Host headers", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, True),
    ("two Host headers, same value", b"GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
     400, True),
]

REQUEST_LINE = [
    ("HTTP/1.2", get("/plaintext", version="HTTP/1.2"), 505, True),
    ("HTTP/2.0", get("/plaintext", version="HTTP/2.0"), 505, True),
    ("HTTP/3.0", get("/plaintext", version="HTTP/3.0"), 505, True),
    ("HTTP/0.9 request line", b"GET /\r\n", 400, True),
    ("HTTP/0.9 request line then more", b"GET /plaintext\r\nHost: a\r\n\r\n", 400, True),
    ("lower-case version", get("/plaintext", version="http/1.1"), 400, True),
    ("unknown method FOO", request("FOO", "/plaintext"), 501, True),
    ("unknown method BREW", request("BREW", "/"), 501, True),
    ("unknown method on unknown path", request("FROB", "/nope"), 501, True),
    ("lower-case get (methods are case-sensitive)", request("get", "/plaintext"), 501, True),
    ("malformed method G@T", request("G@T", "/plaintext"), 400, True),
    ("malformed method with ( )", request("GE(T)", "/plaintext"), 400, True),
    ("empty method", b" /plaintext HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501, True),
    ("PRI (h2 preface)", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, True),
    ("no target", b"GET HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
]


def run_table(srv, table):
    failures = []
    for name, data, status, closes in table:
        try:
            c = Conn(srv)
            c.send(data, tolerate_close=True)
            r = c.read_response()
            check_eq(r.status, status, "status")
            check_std_headers(r, closing=closes)
            if closes:
                c.expect_closed(what=f"the {status}")
            else:
                c.expect_open(f"the {status}")
            c.close()
            h.check_alive(srv)
        except h.Failure as e:
            failures.append(f"  {name}: {data[:120]!r}: {e}")
        finally:
            h.close_all_conns()
        if not srv.alive():
            failures.append(f"  server died after {name}")
            break
    if failures:
        raise h.Failure(f"{len(failures)} of {len(table)} inputs:\n" + "\n".join(failures))


@case()
def framing_errors(srv):
    run_table(srv, FRAMING)


@case()
def head_syntax_errors(srv):
    run_table(srv, HEAD_SYNTAX)


@case()
def request_line_errors(srv):
    run_table(srv, REQUEST_LINE)


@case()
def bad_percent_escape_keeps_connection(srv):
    c = Conn(srv)
    for target in ("/users/%zz", "/users/%4", "/users/abc%", "/users/%g0", "/plaintext%zz",
                   "/%"):
        r = c.exchange(get(target))
        check_eq(r.status, 400, f"status of {target}")
        check_std_headers(r, closing=False)
        c.expect_open(f"400 for {target}")


@case()
def upgrade_is_ignored(srv):
    c = Conn(srv)
    ws = {"Connection": "Upgrade", "Upgrade": "websocket",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
    r = c.exchange(get("/plaintext", headers=ws))
    check_eq((r.status, r.body), (200, b"Hello, World!"), "GET with Upgrade: websocket")
    check_std_headers(r)
    check(r.header("upgrade") is None, f"server accepted an upgrade: {r!r}")
    c.expect_open("an ignored Upgrade")
    r = c.exchange(get("/json", headers={"Connection": "Upgrade, HTTP2-Settings",
                                         "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAAQAAP__"}))
    check_eq(r.status, 200, "GET with Upgrade: h2c")
    c.expect_open("an ignored h2c Upgrade")
    r = c.exchange(request("POST", "/echo", body=b"data",
                           headers={"Connection": "Upgrade", "Upgrade": "websocket"}))
    check_eq((r.status, r.body), (200, b"data"), "POST with Upgrade")
    c.expect_open("an ignored Upgrade on a POST")


@case()
def garbage_then_server_still_serves(srv):
    # Binary noise and a TLS ClientHello on the plain port: some 4xx/5xx or
    # a close, never a hang or a crash.
    inputs = [bytes(range(256)) * 4,
              bytes.fromhex("160301020001000200000303") + b"\x00" * 500,
              b"\r\n" * 3 + b"GARBAGE\r\n\r\n",
              b"\x00" * 1000]
    for data in inputs:
        c = Conn(srv)
        c.send(data, tolerate_close=True)
        try:
            rest = c.read_until_close()
        except h.Failure:
            raise h.Failure(f"no answer and no close for {data[:24]!r}...")
        if rest:
            r = h.BytesReader(rest).read_response()
            check(400 <= r.status < 600, f"status for garbage: {r!r}")
        c.close()
        h.check_alive(srv)


if __name__ == "__main__":
    h.main()
