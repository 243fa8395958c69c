#!/usr/bin/env python3
"""
Description: the server on the IPv6 loopback (--host ::1): the listening
line shows [::1], raw sockets, http.client and curl are served, and
GET /whoami reports the IPv6 peer. Skipped (77) when the machine has no
IPv6 loopback.
"""
import os
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check, check_eq, check_std_headers, get, request  # noqa: E402


def ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@case(host="::1", threads=2)
def ipv6_loopback_served(srv):
    check(srv.listen_line.startswith(f"ringo: listening on http://[::1]:{srv.port} "),
          f"listening line {srv.listen_line!r}")
    c = Conn(srv)
    r = c.exchange(get("/plaintext", host=f"[::1]:{srv.port}"))
    check(h.hello_ok(r), f"GET /plaintext over IPv6: {r!r}")
    check_std_headers(r, closing=False)
    r = c.exchange(request("POST", "/echo", body=b"v6"))
    check_eq((r.status, r.body), (200, b"v6"), "echo over IPv6")
    r = c.exchange(get("/whoami"))
    j = r.json()
    port = c.local_port()
    check(j.get("peer") in (f"[::1]:{port}", f"::1:{port}"),
          f"IPv6 peer {j.get('peer')!r}, expected [::1]:{port}")
    check(j.get("ring") in (0, 1), f"ring {j.get('ring')!r}")


@case(host="::1", threads=2)
def ipv6_clients(srv):
    conn = h.http_conn(srv)
    for i in range(20):
        conn.request("GET", f"/users/{i}")
        r = conn.getresponse()
        check_eq((r.status, r.read()), (200, b'{"id":"%d"}' % i), f"http.client request {i}")
    conn.close()
    _, r = h.curl(srv, "/json")
    check_eq((r.status, r.json()), (200, {"message": "Hello, World!"}), "curl over IPv6")


@case(host="::", threads=1)
def ipv6_any(srv):
    c = Conn(srv)  # connects to ::1
    r = c.exchange(get("/plaintext"))
    check(h.hello_ok(r), f"GET /plaintext on [::]: {r!r}")


if __name__ == "__main__":
    if not ipv6_loopback():
        print("SKIP: no IPv6 loopback (::1) on this machine")
        sys.exit(h.EXIT_SKIP)
    h.main()
