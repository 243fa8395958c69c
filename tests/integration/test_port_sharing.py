#!/usr/bin/env python3
"""
Description: sharing a port between processes is asked for, never an
accident. A second ringo on the port of a running one exits 1 naming the
cause (and so does one started on a port any other program listens on);
with --reuse-port it starts and both serve (SO_REUSEPORT); the rings of one
process always share their port.
"""
import os
import socket
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, Server, case, check, check_eq, get  # noqa: E402

REFUSAL = ("port already in use by another process; pass --reuse-port to share it "
           "(rolling restart")


def start_refused(port, *args):
    """Runs a ringo on port that must refuse to start; returns its stderr."""
    cmd = [os.environ["RINGO_BIN"], "--host", "127.0.0.1", "--port", str(port), "--threads", "1",
           *args]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=h.TIMEOUT)
    check_eq(p.returncode, 1, f"exit status of {' '.join(cmd[1:])}")
    check(b"listening on" not in p.stdout, "the refused server never listened")
    return p.stderr.decode()


def sockets_of(srv):
    n = 0
    for fd in os.listdir(f"/proc/{srv.proc.pid}/fd"):
        try:
            n += os.readlink(f"/proc/{srv.proc.pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


@case(server=False)
def second_process_on_the_port_is_refused():
    with Server() as first:
        err = start_refused(first.port)
        check(REFUSAL in err, f"the refusal names the cause and the flag: {err!r}")
        check(f"127.0.0.1:{first.port}" in err, f"the refusal names the address: {err!r}")
        c = Conn(first)
        check_eq(c.exchange(get("/plaintext")).status, 200, "the first server still serves")


@case(server=False)
def port_of_another_program_is_refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        err = start_refused(s.getsockname()[1])
        check(REFUSAL in err, f"refused with the sharing message: {err!r}")
        # Asked to share, it still cannot: that program did not set SO_REUSEPORT.
        err = start_refused(s.getsockname()[1], "--reuse-port")
        check("Address already in use" in err, f"--reuse-port against a plain listener: {err!r}")
    finally:
        s.close()


@case(server=False)
def reuse_port_shares_between_processes():
    with Server(threads=2) as first:
        second = Server(["--port", first.port, "--reuse-port"], threads=2)
        second.start()
        try:
            check_eq(second.port, first.port, "the second server's port")
            base = [sockets_of(first), sockets_of(second)]
            # The kernel spreads new connections over the four listeners of the group:
            # each process holds some of these 32 open connections.
            conns = [Conn(first) for _ in range(32)]
            for c in conns:
                check_eq(c.exchange(get("/plaintext")).status, 200, "request on the shared port")
            got = [sockets_of(first) - base[0], sockets_of(second) - base[1]]
            check_eq(sum(got), 32, f"connections held by the two processes {got}")
            check(got[0] > 0 and got[1] > 0, f"both processes serve the port: {got}")
            h.close_all_conns()
        finally:
            second.stop()
        c = Conn(first)
        check_eq(c.exchange(get("/plaintext")).status, 200, "first server after the second stopped")


@case(server=False)
def own_rings_share_without_the_flag():
    with Server(threads=2) as probe:
        port = probe.port
    # Two rings bind one fixed port without --reuse-port: the process's own listeners share.
    with Server(["--port", port], threads=2) as again:
        check_eq(again.port, port, "the fixed port")
        c = Conn(again)
        check_eq(c.exchange(get("/plaintext")).status, 200, "served")


if __name__ == "__main__":
    h.main()
