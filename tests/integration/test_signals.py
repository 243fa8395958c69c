#!/usr/bin/env python3
"""
Description: what each signal does. SIGHUP and SIGUSR1 run the reload hooks
and never end the server nor cost a request: under a continuous load, with
async and sync requests in flight, a burst of both signals leaves every
request answered and the server serving; SIGTERM then stops it cleanly
(exit 0, nothing leaked), and so does SIGINT. During the shutdown delay
SIGHUP still reloads, and a second SIGTERM ends the delay.
"""
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from lifecycle_load import Load  # noqa: E402
from ringo_harness import Conn, Server, case, check, check_eq, get  # noqa: E402


def reloads(srv):
    return srv.stderr_text().count("ringo: reload hooks ran")


@case(server=False)
def sighup_and_sigusr1_never_stop_or_drop():
    with Server(threads=2) as srv:
        load = Load(srv.port, clients=4).start()
        try:
            check(load.wait_for_ok(100, h.TIMEOUT), "the load runs")
            slow = []
            for path in ("/sleep?ms=1500", "/sync/sleep?ms=1500"):
                c = Conn(srv)
                c.send(get(path))
                slow.append((path, c))
            for i in range(20):
                srv.send_signal(signal.SIGHUP if i % 2 == 0 else signal.SIGUSR1)
                check(load.wait_for_ok(20, h.TIMEOUT), f"the load goes on after signal {i + 1}")
            for path, c in slow:
                check_eq(c.read_response().status, 200, f"{path} in flight across the signals")
            check(srv.alive(), "SIGHUP and SIGUSR1 never end the server")
        finally:
            ok, failures = load.stop()
        check_eq(failures[:5], [], f"failed requests across the signals (of {ok + len(failures)})")
        # Signals coalesce while the hooks run: at least one run, at most one per signal.
        deadline = h.deadline_after(h.TIMEOUT)
        while reloads(srv) == 0 and h.remaining(deadline) > 0:
            time.sleep(0.02)  # a poll, not a spin: the server needs the CPU
        check(1 <= reloads(srv) <= 20, f"reload hook runs: {reloads(srv)}")
        c = Conn(srv)
        check_eq(c.exchange(get("/readyz")).status, 200, "still ready after the reloads")


@case(server=False)
def sighup_during_the_shutdown_delay_reloads_and_goes_on():
    with Server(["--shutdown-delay", int(60000 * h.SCALE)]) as srv:
        srv.send_signal(signal.SIGTERM)
        deadline = h.deadline_after(h.TIMEOUT)
        while Conn(srv).exchange(get("/readyz")).status != 503 and h.remaining(deadline) > 0:
            h.close_all_conns()
        h.close_all_conns()
        srv.send_signal(signal.SIGHUP)
        while reloads(srv) == 0 and h.remaining(deadline) > 0:
            time.sleep(0.02)  # a poll, not a spin: the server needs the CPU
        check_eq(reloads(srv), 1, "the reload hooks ran during the delay")
        c = Conn(srv)
        r = c.exchange(get("/plaintext"))
        check_eq((r.status, r.closes()), (200, True), "still in the delay after SIGHUP")
        h.close_all_conns()
        srv.send_signal(signal.SIGTERM)  # the second one ends the delay
        srv.wait_stopped()


@case(server=False)
def sigint_stops_like_sigterm():
    with Server() as srv:
        check_eq(Conn(srv).exchange(get("/plaintext")).status, 200, "served")
        h.close_all_conns()
        srv.stop(signal.SIGINT)


if __name__ == "__main__":
    h.main()
