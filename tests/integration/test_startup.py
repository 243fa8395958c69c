#!/usr/bin/env python3
"""
Description: startup contract of the demo server: the listening line with
the real port for --port 0 and the ring count, a clear error and exit
status 1 when the port is taken or the address is invalid, a non-zero exit
for an unknown option, and a clean stop right after start.
"""
import os
import socket
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Server, case, check, check_eq  # noqa: E402


def run_failing(args, what):
    binary = Server().command()[0]
    try:
        p = subprocess.run([binary, *args], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=h.TIMEOUT)
    except subprocess.TimeoutExpired:
        raise h.Failure(f"{what}: server kept running ({' '.join(args)})")
    err = p.stderr.decode(errors="replace")
    check(b"listening on" not in p.stdout, f"{what}: claims to listen: {p.stdout!r}")
    check(err.strip() != "", f"{what}: no message on stderr")
    for marker in h.SANITIZER_MARKERS:
        check(marker not in err, f"{what}: sanitizer report:\n{err}")
    return p.returncode, err


@case(server=False)
def port_in_use(srv=None):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        rc, err = run_failing(["--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
                              "port in use")
    check_eq(rc, 1, f"exit status when the port is taken (stderr: {err.strip()!r})")


@case(server=False)
def invalid_host(srv=None):
    rc, err = run_failing(["--host", "256.1.2.3", "--port", "0", "--threads", "1"],
                          "invalid host")
    check_eq(rc, 1, f"exit status for an invalid host (stderr: {err.strip()!r})")


@case(server=False)
def unknown_option(srv=None):
    rc, err = run_failing(["--no-such-option", "--port", "0"], "unknown option")
    check(rc != 0, f"exit status 0 for an unknown option (stderr: {err.strip()!r})")


@case(server=False)
def start_stop_twice_threads(srv=None):
    for threads in (1, 2):
        with Server(threads=threads) as s:
            check_eq(s.rings, threads, "rings")
            h.check_alive(s)


@case(server=False)
def two_servers_distinct_ports(srv=None):
    with Server() as a, Server() as b:
        check(a.port != b.port, f"two servers on port 0 got the same port {a.port}")
        h.check_alive(a)
        h.check_alive(b)


if __name__ == "__main__":
    h.main()
