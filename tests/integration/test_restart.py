#!/usr/bin/env python3
"""
Description: restart on the same port without a failed request. Under a
continuous keep-alive load, a new ringo starts on the port of the running
one (--reuse-port), then the old one gets SIGTERM with --shutdown-delay: it
keeps serving through the delay, every response closing its connection, so
the clients move to the new process before the old one drains and exits 0.
Every request of the load must succeed.
"""
import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from lifecycle_load import Load  # noqa: E402
from ringo_harness import Conn, Server, case, check, check_eq, get  # noqa: E402

DELAY_MS = int(2000 * h.SCALE)


def restart_under_load(threads):
    flags = ["--reuse-port", "--shutdown-delay", DELAY_MS]
    old = Server(flags, threads=threads).start()
    new = None
    load = Load(old.port, clients=8).start()
    try:
        check(load.wait_for_ok(200, h.TIMEOUT), "the load runs against the old process")
        new = Server([*flags, "--port", old.port], threads=threads).start()
        check_eq(new.port, old.port, "the new process's port")
        check(load.wait_for_ok(200, h.TIMEOUT), "the load runs against both")
        old.send_signal(signal.SIGTERM)
        old.wait_stopped(timeout=DELAY_MS / 1000 + 3 * h.TIMEOUT)
        check(load.wait_for_ok(200, h.TIMEOUT), "the load runs against the new process alone")
    finally:
        ok, failures = load.stop()
        if new is None or not new.alive():
            old.kill()
    print(f"     restart with {threads} ring(s): {ok} requests, {len(failures)} failed")
    check_eq(failures[:5], [], f"failed requests across the restart ({len(failures)} of "
                               f"{ok + len(failures)})")
    c = Conn(new)
    stats = c.exchange(get("/stats")).json()
    c.close()
    check(stats["reqs_served"] > 0, "the new process served")
    new.stop()


@case(server=False)
def restart_one_ring_no_failed_request():
    restart_under_load(1)


@case(server=False)
def restart_two_rings_no_failed_request():
    restart_under_load(2)


if __name__ == "__main__":
    h.main()
