#!/usr/bin/env python3
"""
Description: the PROXY protocol on the listener (--proxy-protocol with
--trusted-proxies). A v1 (TCP4, TCP6, UNKNOWN) or v2 (PROXY over IPv4/IPv6
with TLVs, LOCAL) header sent whole, one byte at a time, or in the same
send as the first request makes GET /whoami report the header's client
address, on every request of the keep-alive connection. A malformed
header is answered 400 and closed; a client that sends no PROXY header is
closed unanswered; a connection from outside the trusted networks is
closed unread, header or not. ringo refuses to start with --proxy-protocol
and no trusted networks, or with a malformed network list.
"""
import os
import socket
import struct
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, Server, case, check, check_eq, get  # noqa: E402

PP = ["--proxy-protocol", "--trusted-proxies", "127.0.0.0/8,::1"]
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(cmd, fam, body):
    return V2_SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(body)) + body


def v2_inet(src, sport, dst="10.0.0.1", dport=80, tlvs=b""):
    addr = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
    return v2(1, 0x11, addr + struct.pack(">HH", sport, dport) + tlvs)


def v2_inet6(src, sport, dst="2001:db8::1", dport=80, tlvs=b""):
    addr = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
    return v2(1, 0x21, addr + struct.pack(">HH", sport, dport) + tlvs)


def pp_case(fn):
    """A case on its own PROXY server: the harness's check between cases speaks plain HTTP."""
    def run():
        with Server(PP) as srv:
            fn(srv)
    run.__name__ = fn.__name__
    return case(server=False)(run)


def whoami(c, first=b""):
    c.send(first + get("/whoami"))
    r = c.read_response()
    check_eq(r.status, 200, f"GET /whoami: {r!r}")
    return r.json()["peer"]


@pp_case
def v1_header_names_the_client(srv):
    hdr = b"PROXY TCP4 192.0.2.10 10.0.0.1 51000 80\r\n"
    c = Conn(srv)
    check_eq(whoami(c, hdr), "192.0.2.10:51000", "peer after a v1 header")
    check_eq(whoami(c), "192.0.2.10:51000", "peer on the next request")
    c = Conn(srv)
    c.send_pieces(hdr, 1)
    check_eq(whoami(c), "192.0.2.10:51000", "peer after a v1 header sent byte by byte")
    c = Conn(srv)
    check_eq(whoami(c, b"PROXY TCP6 2001:db8::42 2001:db8::1 4242 443\r\n"),
             "[2001:db8::42]:4242", "peer after a TCP6 header")
    c = Conn(srv)
    check_eq(whoami(c, b"PROXY UNKNOWN\r\n"), f"127.0.0.1:{c.local_port()}",
             "UNKNOWN keeps the socket's address")


@pp_case
def v2_header_names_the_client(srv):
    ssl = bytes([0x20, 0, 5, 1, 0, 0, 0, 0])
    alpn = bytes([0x01, 0, 8]) + b"http/1.1"
    hdr = v2_inet("198.51.100.7", 40000, tlvs=alpn + ssl)
    c = Conn(srv)
    check_eq(whoami(c, hdr), "198.51.100.7:40000", "peer after a v2 header with TLVs")
    check_eq(whoami(c), "198.51.100.7:40000", "peer on the next request")
    c = Conn(srv)
    c.send_pieces(hdr, [1, 2, 3])
    check_eq(whoami(c), "198.51.100.7:40000", "peer after a v2 header in small pieces")
    c = Conn(srv)
    check_eq(whoami(c, v2_inet6("2001:db8::7", 1234)), "[2001:db8::7]:1234",
             "peer after a v2 IPv6 header")
    c = Conn(srv)
    check_eq(whoami(c, v2(0, 0x00, b"")), f"127.0.0.1:{c.local_port()}",
             "LOCAL (a health check) keeps the socket's address")


@pp_case
def header_in_pieces_keeps_what_each_piece_said(srv):
    # Each piece its own read (a pause between): what an earlier read parsed must survive.
    c = Conn(srv)
    c.send_pieces(v2(0, 0x00, b""), [8, 8], delay=0.05)
    check_eq(whoami(c), f"127.0.0.1:{c.local_port()}", "LOCAL in two reads: the socket's address")
    c = Conn(srv)
    c.send_pieces(b"PROXY UNKNOWN\r\n", [6, 9], delay=0.05)
    check_eq(whoami(c), f"127.0.0.1:{c.local_port()}", "UNKNOWN in two reads")
    ssl = bytes([0x20, 0, 5, 1, 0, 0, 0, 0])
    hdr = v2_inet("198.51.100.9", 40001, tlvs=ssl)
    c = Conn(srv)
    c.send_pieces(hdr, [len(hdr) - 3, 3], delay=0.05)
    c.send(get("/whoami"))
    r = c.read_response()
    check_eq(r.status, 200, f"GET /whoami: {r!r}")
    check_eq(r.json()["peer"], "198.51.100.9:40001", "peer after a header in two reads")
    check_eq(r.json()["scheme"], "https", "the SSL TLV read in an earlier piece counts")


@pp_case
def malformed_header_gets_400(srv):
    bad = [b"PROXY TCP4 192.0.2.10 10.0.0.1 51000 80\n",  # LF without CR
           b"PROXY TCP4 192.0.2.300 10.0.0.1 1 2\r\n",
           b"PROXY " + b"x" * 120,  # no CRLF within 107 bytes
           v2(2, 0x11, bytes(12)),  # command 2
           v2(1, 0x21, bytes(12)),  # IPv6 in 12 bytes
           v2_inet("192.0.2.1", 1, tlvs=bytes([1, 0, 200]))]  # a TLV past the block
    for i, b in enumerate(bad):
        c = Conn(srv)
        c.send(b + get("/whoami"), tolerate_close=True)
        r = c.read_response()
        check_eq(r.status, 400, f"malformed header {i}: {r!r}")
        check(r.closes(), f"400 to malformed header {i} closes: {r!r}")
        c.expect_closed(what=f"the 400 to malformed header {i}", allow_reset=True)


@pp_case
def no_header_is_closed(srv):
    for first in (get("/whoami"), b"PROPFIND / HTTP/1.1\r\nHost: x\r\n\r\n",
                  V2_SIG[:5] + b"GET / HTTP/1.1\r\n\r\n"):
        c = Conn(srv)
        c.send(first, tolerate_close=True)
        c.expect_closed(what=f"{first[:12]!r} without a PROXY header", allow_reset=True)


@case(server=False)
def untrusted_source_is_closed():
    with Server(["--proxy-protocol", "--trusted-proxies", "10.0.0.0/8,fd00::/8"]) as srv:
        for first in (b"PROXY TCP4 192.0.2.10 10.0.0.1 51000 80\r\n" + get("/whoami"),
                      get("/whoami")):
            c = Conn(srv)
            c.send(first, tolerate_close=True)
            c.expect_closed(what="a connection from an untrusted address", allow_reset=True)


@case(server=False)
def ipv6_proxy_on_dual_stack():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        raise h.Skip("no IPv6 loopback")
    with Server(PP, host="::") as srv:
        c = Conn(srv)  # from ::1, trusted
        check_eq(whoami(c, b"PROXY TCP4 192.0.2.10 10.0.0.1 51000 80\r\n"),
                 "192.0.2.10:51000", "v1 header over IPv6")
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=h.TIMEOUT)
        try:  # IPv4-mapped 127.0.0.1 is inside 127.0.0.0/8
            s.sendall(v2_inet("192.0.2.11", 7) + get("/whoami"))
            data = s.recv(4096)
            check(b"192.0.2.11:7" in data, f"v2 header from a mapped IPv4 peer: {data[:200]!r}")
        finally:
            s.close()


@case(server=False)
def bad_configuration_refused():
    binary = os.environ["RINGO_BIN"]
    for args in (["--proxy-protocol"], ["--proxy-protocol", "--trusted-proxies", "10.0.0.1/8"],
                 ["--trusted-proxies", "10.0.0.0/8,nonsense", "--forwarded", "x"],
                 ["--forwarded", "x"], ["--trusted-proxies", "::1", "--forwarded", "y"]):
        p = subprocess.run([binary, "--host", "127.0.0.1", "--port", "0", *args],
                           capture_output=True, timeout=h.TIMEOUT)
        check(p.returncode != 0, f"ringo {' '.join(args)} started (rc {p.returncode})")
        check(b"Invalid argument" in p.stderr, f"ringo {' '.join(args)}: {p.stderr!r}")


if __name__ == "__main__":
    h.main()
