#!/usr/bin/env python3
"""
Description: forwarding headers are believed from trusted proxies only
(--trusted-proxies with --forwarded x or rfc7239). GET /whoami reports the
right-most X-Forwarded-For (or Forwarded for=) address that is not a
trusted proxy: a client's forged left-hand entries are never read, a chain
of trusted proxies is walked through, an unparsable element ends the walk
at the proxy that appended it, several header lines form one list. The
scheme comes from X-Forwarded-Proto (or proto=). From an untrusted peer,
or when --forwarded names the other header, nothing is believed. With
--proxy-protocol too, the PROXY header's address is the peer whose trust
decides.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check_eq, get  # noqa: E402

X = ["--trusted-proxies", "127.0.0.1,10.0.0.0/8,fd00::/8", "--forwarded", "x"]
RFC = ["--trusted-proxies", "127.0.0.1,10.0.0.0/8,fd00::/8", "--forwarded", "rfc7239"]


def whoami(srv, headers=(), first=b""):
    c = Conn(srv)
    c.send(first + get("/whoami", headers=headers))
    r = c.read_response()
    check_eq(r.status, 200, f"GET /whoami: {r!r}")
    return r.json()["peer"], r.json()["scheme"], c.local_port()


@case(args=X)
def x_forwarded_for_from_trusted(srv):
    xff = "X-Forwarded-For"
    cases = [
        ([(xff, "203.0.113.9")], "203.0.113.9:0"),
        ([(xff, "1.1.1.1, 203.0.113.9")], "203.0.113.9:0"),  # forged left entry ignored
        ([(xff, "203.0.113.9, 10.1.1.1, 10.2.2.2")], "203.0.113.9:0"),  # trusted chain
        ([(xff, "1.1.1.1"), (xff, "203.0.113.9,10.1.1.1")], "203.0.113.9:0"),  # two lines
        ([(xff, "2001:db8::5")], "[2001:db8::5]:0"),
        ([(xff, "[2001:db8::5]:443")], "[2001:db8::5]:443"),
        ([(xff, "198.51.100.1:8080")], "198.51.100.1:8080"),
        ([(xff, "203.0.113.9, garbage, 10.1.1.1")], "10.1.1.1:0"),  # the walk stops there
        ([(xff, "10.1.1.1, 10.2.2.2")], "10.1.1.1:0"),  # all trusted: the left-most
    ]
    for hdrs, want in cases:
        peer, _, _ = whoami(srv, hdrs)
        check_eq(peer, want, f"peer for {hdrs}")
    _, scheme, _ = whoami(srv, [("X-Forwarded-Proto", "https")])
    check_eq(scheme, "https", "X-Forwarded-Proto: https")
    _, scheme, _ = whoami(srv, [("X-Forwarded-Proto", "gopher")])
    check_eq(scheme, "http", "an unknown X-Forwarded-Proto")
    peer, _, port = whoami(srv, [("Forwarded", "for=203.0.113.9")])
    check_eq(peer, f"127.0.0.1:{port}", "Forwarded is not read in x mode")


@case(args=RFC)
def forwarded_rfc7239_from_trusted(srv):
    f = "Forwarded"
    cases = [
        ([(f, "for=203.0.113.9;proto=https")], "203.0.113.9:0", "https"),
        ([(f, 'for="[2001:db8:cafe::17]:4711"')], "[2001:db8:cafe::17]:4711", "http"),
        ([(f, "for=1.1.1.1, for=203.0.113.9;by=10.0.0.1, for=10.1.1.1")], "203.0.113.9:0",
         "http"),
        ([(f, "For=203.0.113.9;Proto=HTTPS")], "203.0.113.9:0", "https"),
        ([(f, "for=unknown")], None, "http"),  # names no one: the socket's peer
        ([(f, "by=10.0.0.1")], None, "http"),
    ]
    for hdrs, want, scheme in cases:
        peer, got_scheme, port = whoami(srv, hdrs)
        check_eq(peer, want or f"127.0.0.1:{port}", f"peer for {hdrs}")
        check_eq(got_scheme, scheme, f"scheme for {hdrs}")
    peer, _, port = whoami(srv, [("X-Forwarded-For", "203.0.113.9")])
    check_eq(peer, f"127.0.0.1:{port}", "X-Forwarded-For is not read in rfc7239 mode")


@case(args=["--trusted-proxies", "10.0.0.0/8", "--forwarded", "x"])
def untrusted_peer_is_not_believed(srv):
    peer, scheme, port = whoami(srv, [("X-Forwarded-For", "203.0.113.9"),
                                      ("X-Forwarded-Proto", "https")])
    check_eq((peer, scheme), (f"127.0.0.1:{port}", "http"), "headers from an untrusted peer")


@case(args=[])
def off_by_default(srv):
    peer, scheme, port = whoami(srv, [("X-Forwarded-For", "203.0.113.9"),
                                      ("Forwarded", "for=203.0.113.9;proto=https")])
    check_eq((peer, scheme), (f"127.0.0.1:{port}", "http"), "headers without --forwarded")


@case(server=False)
def proxy_header_then_forwarded():
    args = ["--proxy-protocol", "--trusted-proxies", "127.0.0.1,10.0.0.0/8", "--forwarded", "x"]
    with h.Server(args) as srv:
        xff = [("X-Forwarded-For", "203.0.113.9")]
        peer, _, _ = whoami(srv, xff, b"PROXY TCP4 10.9.9.9 10.0.0.1 1000 80\r\n")
        check_eq(peer, "203.0.113.9:0", "PROXY from a trusted proxy, then its X-Forwarded-For")
        peer, _, _ = whoami(srv, xff, b"PROXY TCP4 198.51.100.4 10.0.0.1 1000 80\r\n")
        check_eq(peer, "198.51.100.4:1000", "PROXY naming an untrusted client: XFF ignored")


if __name__ == "__main__":
    h.main()
