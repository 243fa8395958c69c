#!/usr/bin/env python3
"""
Description: admission control under overload, and per-request memory.
With --queue-target, a sync request arriving while the pool's queue delay
stands above the target (or, before that, a queue older than an interval) gets
503 with Retry-After at once, keeps its connection, and never enters the
queue (ringo_stats.pool_enqueued does not move); overloaded for two
intervals in a row the queue turns LIFO (lifo_switches, lifo_active) and
requests that waited longer than the interval are dropped with 503. The
critical routes (/stats on the ring, /sync/stats on reserved workers)
answer while the pool is saturated and its queue full; --max-ring-inflight
and a route's concurrency limit answer 503 + Retry-After at once; a request
over --max-request-memory fails cleanly (413 for a body, 500 otherwise)
without the process growing. The
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
from ringo_harness import (Conn, StatsConn, case, check, check_eq, get,  # noqa: E402
                           proc_status, request)

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
    """One worker busy for LONG_MS, two jobs queued behind it; then, a step
    later, a request refused because the queue is older than an interval (a
    burst may queue that much, no more), and another step later the
    controller has seen a whole interval with a standing queue. Returns the
    three admitted connections and the number refused so far."""
    a, b, c, d = Conn(srv), Conn(srv), Conn(srv), Conn(srv)
    a.send(get(f"/sync/sleep?ms={LONG_MS}"))
    st.wait_for(lambda s: s["jobs_live"] >= 1 and s["pool_queued"] == 0, "the long sleeper runs")
    b.send(get("/sync/sleep?ms=1"))
    c.send(get("/sync/sleep?ms=2"))
    st.wait_for(lambda s: s["pool_queued"] == 2, "two jobs queued behind the sleeper")
    time.sleep(STEP)
    d.send(get("/sync/sleep?ms=3"))
    check_503(d.read_response(), "a request behind a queue older than the interval")
    d.close()
    # Whether the controller already calls this overload depends on whether b and c
    # arrived in the same interval (it closes intervals on events only); callers
    # assert only what holds either way.
    check(st.get()["pool_overloaded"] in (0, 1), "pool_overloaded is 0 or 1")
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
        check_eq(after["admission_rejected"], 6, "admission_rejected after 6 refusals")
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
    probes = []
    try:
        # Each refused request closes one interval of the controller: the states go
        # (overloaded, lifo) = (0, 0) -> (1, 0) -> (1, 1), one step per request, from
        # wherever standing_queue() left them (b and c in one interval or two).
        seen = [(lambda s: (s["pool_overloaded"], s["lifo_active"]))(st.get())]
        while seen[-1] != (1, 1) and len(probes) < 4:
            time.sleep(STEP)
            x = Conn(srv)
            probes.append(x)
            x.send(get(f"/sync/sleep?ms={len(probes) + 2}"))
            # Once LIFO, the worker took nothing meanwhile, so the queue would take
            # forever to work off: refused too.
            check_503(x.read_response(), f"probe #{len(probes)} under a standing queue")
            s = st.get()
            seen.append((s["pool_overloaded"], s["lifo_active"]))
        states = [(0, 0), (1, 0), (1, 1)]
        check(seen[0] in states[:2] and seen == states[states.index(seen[0]):],
              f"controller states, one interval per refused request: {seen}")
        s2 = st.get()
        check_eq(s2["lifo_switches"], 1, "lifo_switches after two overloaded intervals")
        check_eq(s2["lifo_active"], 1, "lifo_active under sustained overload")
        check_eq((s2["pool_queued"], s2["admission_rejected"]), (2, 1 + len(probes)),
                 "pool_queued, admission_rejected")
        # When the sleeper ends, the queued jobs have waited longer than the
        # interval: each is dropped with 503 instead of being run late.
        check_eq(a.read_response(timeout=h.TIMEOUT + LONG_MS / 1000).body, slept(LONG_MS),
                 "the long sleeper")
        for x, what in ((b, "first queued"), (c, "second queued")):
            check_503(x.read_response(), f"the {what} job, expired")
        end = st.wait_for(lambda s: s["pool_queued"] == 0 and s["jobs_live"] == 0,
                          "the pool idles")
        check_eq(end["dropped_expired"], 2, "dropped_expired")
        time.sleep(STEP)
        e = probes[-1]
        e.send(get("/sync/sleep?ms=1"))
        check_eq(e.read_response().status, 200, "a request once the overload is over")
        check_eq(st.get()["lifo_active"], 0, "lifo_active once the overload is over")
    finally:
        for x in (a, b, c, *probes):
            x.close()
        st.close()


def saturate(srv, st, running, queued, ms=LONG_MS):
    """running sleepers on the workers and queued ones behind them."""
    conns = [Conn(srv) for _ in range(running + queued)]
    for k, c in enumerate(conns):
        c.send(get(f"/sync/sleep?ms={ms}"))
        if k < running:
            st.wait_for(lambda s, n=k + 1: s["jobs_live"] >= n and s["pool_queued"] == 0,
                        f"sleeper #{k} running")
    st.wait_for(lambda s: s["pool_queued"] == queued, f"{queued} sleepers queued")
    return conns


def finish(conns, ms=LONG_MS):
    for k, c in enumerate(conns):
        check_eq(c.read_response(timeout=h.TIMEOUT + ms / 1000).body, slept(ms), f"sleeper #{k}")
        c.close()


@case(args=("--pool-threads", 2, "--max-pool-queue", 2, "--critical-pool-threads", 1))
def critical_routes_answer_while_pool_saturated_and_queue_full(srv):
    st = StatsConn(srv)
    conns = saturate(srv, st, 2, 2)
    x = Conn(srv)
    try:
        x.send(get("/sync/sleep?ms=1"))
        check_503(x.read_response(), "a sync request with the pool's queue full")
        for k in range(3):
            s = st.get()
            check(s["pool_queued"] == 2 and s["jobs_live"] >= 2,
                  f"/stats #{k} answered on the ring with the pool saturated: {s!r}")
            # The sync critical route runs on a reserved worker: its own answer
            # shows the queue it did not wait in.
            x.send(get("/sync/stats"))
            r = x.read_response()
            check_eq(r.status, 200, f"/sync/stats #{k} with the pool saturated")
            body = r.json()
            check_eq(body["pool_queued"], 2, f"/sync/stats #{k}: the queue it bypassed")
        finish(conns)
    finally:
        x.close()
        st.close()


@case(args=("--pool-threads", 4, "--max-ring-inflight", 2))
def ring_inflight_bound_503_at_the_edge(srv):
    st = StatsConn(srv)
    conns = [Conn(srv) for _ in range(2)]
    x = Conn(srv)
    try:
        for c in conns:
            c.send(get(f"/sync/sleep?ms={LONG_MS}"))
        st.wait_for(lambda s: s["jobs_live"] >= 2, "two requests in progress")
        for target in ("/plaintext", "/sync/plaintext", "/sleep?ms=1"):
            x.send(get(target))
            check_503(x.read_response(), f"{target} with --max-ring-inflight 2 reached")
        check_eq(st.get()["ring_rejected"], 3, "ring_rejected")
        check_eq(st.get()["pool_enqueued"], 2, "pool_enqueued: the refused never reached it")
        # Accept pacing: at the bound the ring pauses accepting, but only for a
        # bounded time: a connection made while the ring is full is still taken,
        # and a probe on it (a critical route) answered, while the long requests run.
        late = Conn(srv)
        late.send(get("/livez"))
        check_eq(late.read_response().status, 200, "/livez on a connection made while full")
        check(st.get()["jobs_live"] >= 2, "the long requests still run")
        late.send(get("/plaintext"))
        check_503(late.read_response(), "/plaintext on that connection, the ring still full")
        late.close()
        finish(conns)
        x.send(get("/plaintext"))
        check_eq(x.read_response().status, 200, "/plaintext once the ring has room again")
    finally:
        x.close()
        st.close()


def route_counters(srv, label):
    c = Conn(srv)
    try:
        c.send(get("/stats/routes"))
        r = c.read_response()
        check_eq(r.status, 200, "GET /stats/routes")
        return r.json()[label]
    finally:
        c.close()


@case(args=("--pool-threads", 4))
def route_concurrency_limit_rejects_over_limit(srv):
    st = StatsConn(srv)
    a, b = Conn(srv), Conn(srv)
    try:
        a.send(get("/limited/sleep?ms=1500"))
        st.wait_for(lambda s: s["jobs_live"] >= 1, "the limited route's request runs")
        b.send(get("/limited/sleep?ms=1"))
        check_503(b.read_response(), "a second /limited/sleep (max_concurrency 1)")
        b.send(get("/sync/sleep?ms=1"))
        check_eq(b.read_response().body, slept(1), "another route is not limited")
        rc = route_counters(srv, "GET /limited/sleep")
        check_eq((rc["inflight"], rc["limit"], rc["rejected"]), (1, 1, 1),
                 "GET /limited/sleep inflight, limit, rejected")
        check_eq(st.get()["route_rejected"], 1, "route_rejected")
        check_eq(a.read_response(timeout=h.TIMEOUT + 1.5).body, slept(1500), "the limited sleeper")
        b.send(get("/limited/sleep?ms=1"))
        check_eq(b.read_response().body, slept(1), "/limited/sleep once its slot is free")
        check_eq(route_counters(srv, "GET /limited/sleep")["inflight"], 0, "inflight at the end")
    finally:
        a.close()
        b.close()
        st.close()


@case(args=("--pool-threads", 1, "--max-pool-queue", 16))
def route_queue_target_refuses_with_admission_off(srv):
    st = StatsConn(srv)
    a, b, x = Conn(srv), Conn(srv), Conn(srv)
    try:
        a.send(get(f"/sync/sleep?ms={LONG_MS}"))
        st.wait_for(lambda s: s["jobs_live"] >= 1 and s["pool_queued"] == 0, "the sleeper runs")
        b.send(get("/sync/sleep?ms=1"))
        st.wait_for(lambda s: s["pool_queued"] == 1, "one job queued")
        time.sleep(STEP)  # the queue delay is now several times the route's 50 ms
        x.send(get("/bounded/sleep?ms=1"))
        check_503(x.read_response(), "/bounded/sleep behind a queue older than its 50 ms")
        x.send(get("/sync/sleep?ms=1"))  # the app's admission is off: queued
        s = st.wait_for(lambda s: s["pool_queued"] == 2, "a plain sync request queued")
        check_eq((s["admission_rejected"], s["pool_enqueued"]), (1, 3),
                 "admission_rejected, pool_enqueued")
        finish([a], LONG_MS)
        check_eq(b.read_response().body, slept(1), "the queued job")
        check_eq(x.read_response().body, slept(1), "the plain sync request")
        x.send(get("/bounded/sleep?ms=1"))
        check_eq(x.read_response().body, slept(1), "/bounded/sleep with the queue empty")
    finally:
        for c in (b, x):
            c.close()
        st.close()


@case(args=("--pool-threads", 4, "--max-pool-queue", 17))
def adaptive_limit_follows_latency(srv):
    # /adaptive/sleep: max_concurrency 4, latency target 100 ms. Slow requests
    # (300 ms) cut the limit down to 1; fast ones raise it again, one step per
    # limit's worth of them.
    label = "GET /adaptive/sleep"
    a, b = Conn(srv), Conn(srv)
    try:
        check_eq(route_counters(srv, label)["limit"], 4, "the limit at start")
        for k in range(3):
            a.send(get("/adaptive/sleep?ms=300"))
            check_eq(a.read_response().body, slept(300), f"slow request #{k}")
        check_eq(route_counters(srv, label)["limit"], 1, "the limit after 3 slow requests")
        a.send(get("/adaptive/sleep?ms=1500"))
        time.sleep(STEP)
        b.send(get("/adaptive/sleep?ms=1"))
        check_503(b.read_response(), "a second request over the adaptive limit 1")
        check_eq(a.read_response(timeout=h.TIMEOUT + 1.5).body, slept(1500), "the slow one")
        b.send(get("/adaptive/sleep?ms=1"))
        check_eq(b.read_response().body, slept(1), "a fast request")  # slow one cut it: still 1
        for k in range(3):
            b.send(get("/adaptive/sleep?ms=1"))
            check_eq(b.read_response().body, slept(1), f"fast request #{k}")
        check(route_counters(srv, label)["limit"] >= 2, "the limit after fast requests")
    finally:
        a.close()
        b.close()


MEM_BOUND = 1 << 20


@case(args=("--max-request-memory", MEM_BOUND, "--max-body", 64 << 20))
def request_over_memory_bound_fails_cleanly(srv):
    c = Conn(srv)
    try:
        c.send(get("/mem?kb=64"))
        check_eq(c.read_response().status, 200, "/mem?kb=64 under the bound")
        hwm0 = proc_status(srv, "VmHWM")
        for k in range(20):
            c.send(get("/mem?kb=262144"))  # 256 MiB each, were it allowed
            check_eq(c.read_response().status, 500, f"/mem?kb=262144 #{k} over the bound")
        c.send(get("/mem?kb=64"))
        check_eq(c.read_response().status, 200, "/mem?kb=64 after the failures, same connection")
        grown = proc_status(srv, "VmHWM") - hwm0
        check(grown < 64 << 20, f"peak RSS grew {grown >> 20} MiB over 20 requests for 256 MiB")
        # A body larger than the bound: 413 from its head, the body never buffered.
        c.send(request("POST", "/echo", body=b"x" * (2 * MEM_BOUND)))
        r = c.read_response()
        check_eq(r.status, 413, "POST /echo of 2 MiB over a 1 MiB memory bound")
        rc = route_counters(srv, "GET /mem")
        check_eq(rc["mem_rejected"], 20, "GET /mem mem_rejected")
        check(rc["mem_max"] <= MEM_BOUND, f"GET /mem mem_max {rc['mem_max']} over the bound")
        check_eq(route_counters(srv, "POST /echo")["mem_rejected"], 1, "POST /echo mem_rejected")
        check("went over its memory bound" in srv.stderr_text(), "no log line for the failures")
    finally:
        c.close()


if __name__ == "__main__":
    h.main()
