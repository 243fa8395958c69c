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
from ringo_cases import FRAMING, HEAD_SYNTAX, REQUEST_LINE  # noqa: E402

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


@case(args=["--max-headers", 1000])
def host_count_does_not_wrap(srv):
    # Regression: the Host count was 8 bits wide, so 257 Host fields looked like one.
    for n in (2, 256, 257, 513):
        c = Conn(srv)
        c.send(get("/plaintext", host=None, headers=[("Host", "a")] * n), tolerate_close=True)
        r = c.read_response()
        check_eq(r.status, 400, f"status with {n} Host fields")
        check_std_headers(r, closing=True)
        c.expect_closed(what=f"the 400 for {n} Host fields")
        c.close()


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
