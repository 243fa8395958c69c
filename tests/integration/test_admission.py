#!/usr/bin/env python3
"""
Description: admission control under overload. With --queue-target, a sync
request arriving while the pool's queue delay stands above the target gets
503 with Retry-After at once, keeps its connection, and never enters the
queue (ringo_stats.pool_enqueued does not move); overloaded for two
intervals in a row the queue turns LIFO (lifo_switches, lifo_active) and
requests that waited longer than the interval are dropped with 503. The
steps are ordered by the server's own counters (GET /stats) and by sleeps
many times longer than the configured interval; nothing asserts a latency.
"""
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, StatsConn, case, check, check_eq, close_socks, get  # noqa: E402

# Sleeps between steps: many intervals (20 ms) long, well past the target (60 ms: a
# parked worker's wake-up on a loaded machine stays below it), far below the sleeper's time.
STEP = 0.25
LONG_MS = 3000


def check_503(r, what):
    check_eq(r.status, 503, f"{what}: status")
    ra = r.header("retry-after")
    check(ra is not None and ra.isdigit() and int(ra) >= 1,
          f"{what}: 503 without a Retry-After of whole seconds >= 1: {r!r}")


def slept(ms):
    return f"slept {ms} ms on a worker\n".encode()


def standing_queue(srv, st):
    """One worker busy for LONG_MS, one job queued behind it, then a third
    one queued an interval later (the controller needs one whole interval
    with a standing queue). Returns the three connections."""
    a, b, c = Conn(srv), Conn(srv), Conn(srv)
    a.send(get(f"/sync/sleep?ms={LONG_MS}"))
    st.wait_for(lambda s: s["jobs_live"] >= 1 and s["pool_queued"] == 0, "the long sleeper runs")
    b.send(get("/sync/sleep?ms=1"))
    st.wait_for(lambda s: s["pool_queued"] == 1, "one job queued behind the sleeper")
    time.sleep(STEP)
    c.send(get("/sync/sleep?ms=2"))
    st.wait_for(lambda s: s["pool_queued"] == 2, "a second job queued")
    time.sleep(STEP)
    return a, b, c


@case(args=("--pool-threads", 1, "--queue-target", 60, "--queue-interval", 20,
            "--max-pool-queue", 64))
def rejected_503_retry_after_never_queued(srv):
    st = StatsConn(srv)
    a, b, c = standing_queue(srv, st)
    before = st.get()
    check_eq(before["pool_enqueued"], 3, "jobs in the queue before the rejections")
    rejected = [Conn(srv) for _ in range(5)]
    try:
        for k, r in enumerate(rejected):
            r.send(get("/sync/sleep?ms=5"))
            resp = r.read_response()
            check_503(resp, f"/sync/sleep #{k} with a standing queue")
        after = st.get()
        check_eq(after["admission_rejected"] - before["admission_rejected"], 5,
                 "admission_rejected after 5 refusals")
        check_eq(after["pool_enqueued"], before["pool_enqueued"],
                 "pool_enqueued: refused requests never entered the queue")
        check_eq(after["pool_overloaded"], 1, "pool_overloaded while the queue stands")
        check_eq(after["pool_queued"], 2, "the queue holds only the admitted ones")
        # The admitted ones are answered once the sleeper is done: run, or, when the
        # overload lasted two intervals by then (LIFO), dropped as expired with 503.
        check_eq(a.read_response(timeout=h.TIMEOUT + LONG_MS / 1000).body, slept(LONG_MS),
                 "the long sleeper")
        expired = 0
        for x, ms in ((b, 1), (c, 2)):
            resp = x.read_response()
            if resp.status == 503:
                check_503(resp, f"queued /sync/sleep?ms={ms}")
                expired += 1
            else:
                check_eq(resp.body, slept(ms), f"queued /sync/sleep?ms={ms}")
        # The queue emptied: the controller lets requests in again, on the same connections.
        idle = st.wait_for(lambda s: s["pool_queued"] == 0 and s["jobs_live"] == 0,
                           "the pool idles")
        check_eq(idle["dropped_expired"], expired, "dropped_expired: the queued jobs answered 503")
        time.sleep(STEP)
        for k, r in enumerate(rejected):
            r.send(get("/sync/sleep?ms=1"))
            resp = r.read_response()
            check_eq(resp.status, 200, f"connection #{k} after its 503, the queue empty")
        end = st.get()
        check_eq(end["pool_overloaded"], 0, "pool_overloaded once the queue emptied")
        check_eq(end["pool_enqueued"], before["pool_enqueued"] + 5,
                 "pool_enqueued: the 5 later requests entered the queue")
    finally:
        for x in [a, b, c, *rejected]:
            x.close()
        st.close()


@case(args=("--pool-threads", 1, "--queue-target", 60, "--queue-interval", 20,
            "--max-pool-queue", 32))
def lifo_switch_in_stats(srv):
    st = StatsConn(srv)
    a, b, c = standing_queue(srv, st)
    d, e = Conn(srv), Conn(srv)
    try:
        # First interval of overload: refused, the queue still FIFO.
        d.send(get("/sync/sleep?ms=3"))
        check_503(d.read_response(), "a request in the first overloaded interval")
        s1 = st.get()
        check_eq(s1["lifo_active"], 0, "lifo_active after one overloaded interval")
        time.sleep(STEP)
        # A second interval in a row: LIFO. The newest request goes first, so the
        # delay it would see is the last one taken's (the sleeper's, none): it is in.
        e.send(get("/sync/sleep?ms=4"))
        s2 = st.wait_for(lambda s: s["pool_queued"] == 3, "the newest request queued on top")
        check_eq(s2["lifo_switches"], 1, "lifo_switches after two overloaded intervals")
        check_eq(s2["lifo_active"], 1, "lifo_active under sustained overload")
        # When the sleeper ends, the queued jobs have all waited longer than the
        # interval: each is dropped with 503 instead of being run late.
        check_eq(a.read_response(timeout=h.TIMEOUT + LONG_MS / 1000).body, slept(LONG_MS),
                 "the long sleeper")
        for x, what in ((b, "first queued"), (c, "second queued"), (e, "LIFO top")):
            check_503(x.read_response(), f"the {what} job, expired")
        end = st.wait_for(lambda s: s["pool_queued"] == 0 and s["jobs_live"] == 0,
                          "the pool idles")
        check_eq(end["dropped_expired"], 3, "dropped_expired")
        time.sleep(STEP)
        e.send(get("/sync/sleep?ms=1"))
        check_eq(e.read_response().status, 200, "a request once the overload is over")
        check_eq(st.get()["lifo_active"], 0, "lifo_active once the overload is over")
    finally:
        for x in (a, b, c, d, e):
            x.close()
        st.close()


if __name__ == "__main__":
    h.main()
