#!/usr/bin/env python3
"""
Description: no counter of a request, session or connection wraps under
input the client controls. 257 (and 65,537) Host fields with a raised
--max-headers still get 400 (the Host count was a uint8_t: 257 fields read
as one and passed).
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check_eq  # noqa: E402

MANY = ["--max-headers", 70000, "--max-header-bytes", 4000000, "--max-conn-buffered", 4000000]


def many_hosts(n):
    return (b"GET /plaintext HTTP/1.1\r\n" + b"Host: x\r\n" * n + b"\r\n")


@case(args=MANY)
def host_count_does_not_wrap(srv):
    for n in (257, 513, 65537):
        c = Conn(srv)
        c.send(many_hosts(n))
        r = c.read_response()
        check_eq(r.status, 400, f"{n} Host fields")
        c.close()
    c = Conn(srv)
    check_eq(c.exchange(many_hosts(1)).status, 200, "one Host field")
    c.close()


if __name__ == "__main__":
    h.main()
