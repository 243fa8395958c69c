#!/usr/bin/env python3
"""
Description: post-response work (dependency teardowns, background tasks) is
bounded and never holds up anyone else. Clients flooding POST /tasks cannot
make another client's sync requests 503 (background jobs do not count in the
pool's request queue) and past --max-post-inflight their requests get 503
while live requests stay bounded. At shutdown, background tasks still queued
past the drain timeout are dropped and counted, and an async background task
awaiting a long sleep is cancelled, so shutdown ends within a bound. More than
65,535 background tasks on one request all run (no 16-bit index wraps), and a
background task that schedules another one gets it run, but one that keeps
rescheduling itself is stopped after RINGO_BACKGROUND_MAX_CHAINED rounds.
Teardowns run at shutdown on the pool workers in parallel, within
--teardown-timeout: past it those not started are dropped and counted, the
ones still running are named on stderr and left running, and the server
exits anyway.
"""
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, Server, StatsConn, case, check, check_eq, get,  # noqa: E402
                           request)

# The post-response cap is well above the request queue: were background jobs
# counted in that queue, the flood alone would fill it and sync requests get 503.
POST_CAP = 256
FLOOD = ["--pool-threads", 4, "--max-pool-queue", 16, "--max-post-inflight", POST_CAP]
# A hang, not a speed threshold: the old shutdown took 14 s and more.
SHUTDOWN_BOUND = 8.0 * h.SCALE


def task_stats(c):
    c.send(get("/tasks/stats"))
    r = c.read_response()
    check_eq(r.status, 200, "GET /tasks/stats status")
    return r.json()


def tasks(c):
    c.send(get("/tasks"))
    r = c.read_response()
    check_eq(r.status, 200, "GET /tasks status")
    return r.json()


class Flooder:
    """n connections, each pipelining `per` POST /tasks from a writer thread
    (the server applies backpressure) while a reader counts the statuses."""

    def __init__(self, srv, n, per):
        self.conns = [Conn(srv, timeout=h.TIMEOUT * 3) for _ in range(n)]
        self.per = per
        self.statuses = {}
        self.errors = []
        self.lock = threading.Lock()
        self.threads = []
        for c in self.conns:
            for fn in (self._write, self._read):
                t = threading.Thread(target=fn, args=(c,), daemon=True)
                t.start()
                self.threads.append(t)

    def _write(self, c):
        try:
            c.sock.sendall(request("POST", "/tasks", body=b"") * self.per)
        except OSError:
            pass  # shutdown cases: the server closed the connection

    def _read(self, c):
        try:
            for _ in range(self.per):
                st = c.read_response().status
                with self.lock:
                    self.statuses[st] = self.statuses.get(st, 0) + 1
        except Exception as e:  # noqa: BLE001 - reported by join()
            with self.lock:
                self.errors.append(repr(e))

    def join(self):
        for t in self.threads:
            t.join(h.TIMEOUT * 6)
            check(not t.is_alive(), "a flooding connection did not finish")
        check_eq(self.errors, [], "flooding connections' read errors")
        return self.statuses

    def close(self):
        for c in self.conns:
            c.close()


@case(args=FLOOD)
def post_flood_does_not_starve_other_clients_sync_requests(srv):
    # Regression: background jobs counted in the pool's request queue, so 20
    # connections pipelining POST /tasks made every other client's /sync/* 503;
    # and nothing bounded them (400 connections: 25k live requests).
    stats = StatsConn(srv)
    base = stats.get()
    other = Conn(srv)
    flood = Flooder(srv, 20, 150)
    max_live = max_backlog = 0
    for i in range(20):
        other.send(get("/sync/json"))
        r = other.read_response()
        check_eq(r.status, 200, f"other client's GET /sync/json #{i} during the flood")
        st, t = stats.get(), tasks(other)
        max_live = max(max_live, st["reqs_live"])
        max_backlog = max(max_backlog, t["scheduled"] - t["completed"])
    statuses = flood.join()
    check_eq(sum(statuses.values()), 20 * 150, "flood responses")
    check(set(statuses) <= {202, 503}, f"flood statuses {statuses!r}")
    check(statuses.get(503, 0) > 0, f"no 503 past --max-post-inflight: {statuses!r}")
    check(max_backlog <= POST_CAP,
          f"background tasks in flight {max_backlog} above --max-post-inflight {POST_CAP}")
    # Post-phase requests <= the cap; each connection adds its running one.
    bound = base["reqs_live"] + POST_CAP + 20 * 2 + 2
    check(max_live <= bound, f"live requests {max_live} above {bound} during the flood")
    flood.close()
    other.close()
    stats.wait_baseline(base, "after the flood")
    stats.close()


@case(server=False)
def shutdown_drops_queued_background_tasks_and_counts_them(srv=None):
    # Regression: past the drain timeout the cancelled post-response jobs ran one
    # at a time on the stopping thread (15 connections: 14 s; 400: minutes).
    with Server(["--drain-timeout", 1000, "--pool-threads", 2]) as srv:
        c = Conn(srv)
        flood = Flooder(srv, 15, 400)
        deadline = h.deadline_after(h.TIMEOUT)
        while True:
            t = tasks(c)
            if t["scheduled"] - t["completed"] >= 300:
                break
            check(h.remaining(deadline) > 0, f"background backlog never built up: {t!r}")
            time.sleep(0.02)
        c.close()
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        srv.wait_stopped(timeout=max(60, 3 * SHUTDOWN_BOUND))
        took = time.monotonic() - t0
        check(took < SHUTDOWN_BOUND, f"shutdown took {took:.1f}s (bound {SHUTDOWN_BOUND:.0f}s)")
        flood.close()
        err = srv.stderr_text()
        dropped = [l for l in err.splitlines() if "background tasks dropped" in l]
        check(dropped, f"no dropped background task count on stderr:\n{err[-2000:]}")
        n = int(dropped[-1].split()[-1])
        check(n > 0, f"dropped count {dropped[-1]!r}")


@case(server=False)
def shutdown_cancels_sleeping_async_background_task(srv=None):
    # Regression: an async background task awaiting a 15 s sleep held its ring
    # past the drain timeout (shutdown took 16.8 s; forever for a hung peer).
    with Server(["--drain-timeout", 1000]) as srv:
        stats = StatsConn(srv)
        base = stats.get()
        c = Conn(srv)
        c.send(request("POST", "/tasks/sleep?ms=15000", body=b""))
        check_eq(c.read_response().status, 202, "POST /tasks/sleep status")
        stats.wait_for(lambda st: st["stacks_live"] > base["stacks_live"],
                       "the background task is sleeping in its coroutine")
        c.close()
        stats.close()
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        srv.wait_stopped(timeout=max(60, 3 * SHUTDOWN_BOUND))
        took = time.monotonic() - t0
        check(took < SHUTDOWN_BOUND, f"shutdown took {took:.1f}s (bound {SHUTDOWN_BOUND:.0f}s)")


@case(args=["--max-post-inflight", 200000])
def more_than_65535_background_tasks_on_one_request(srv):
    # Regression: a 16-bit hop index wrapped past 65,535 post-response items and
    # the ring spun at 100% re-running them.
    n = 70000
    c = Conn(srv)
    c.send(request("POST", f"/tasks/many?n={n}", body=b""))
    r = c.read_response()
    check_eq((r.status, r.json()), (202, {"scheduled": n}), "POST /tasks/many")
    deadline = h.deadline_after(h.TIMEOUT)
    while True:
        done = task_stats(c)["many_done"]
        if done >= n:
            break
        check(h.remaining(deadline) > 0, f"only {done} of {n} background tasks ran")
        time.sleep(0.05)
    check_eq(done, n, "background tasks run")
    c.close()


def tasks_after_post(srv, path, what):
    """POST path (202), waits until the server is back at its baseline (the
    background work it scheduled ended: what), returns the task counters."""
    stats = StatsConn(srv)
    base = stats.get()
    c = Conn(srv)
    c.send(request("POST", path, body=b""))
    check_eq(c.read_response().status, 202, f"POST {path} status")
    stats.wait_baseline(base, what, open_conns=1)
    st = task_stats(c)
    c.close()
    stats.close()
    return st


@case()
def background_task_scheduling_another_runs_it(srv):
    # Regression: ringo_background() from a background task returned 0 and the
    # task never ran.
    st = tasks_after_post(srv, "/tasks/nested", "the nested background tasks finished")
    check_eq((st["nested_outer"], st["nested_ret"], st["nested_inner"]), (1, 0, 1),
             "outer task ran, its ringo_background() returned 0 and the inner task ran")


@case()
def background_task_rescheduling_itself_is_bounded(srv):
    # Regression: a background task that scheduled itself again ran forever, its
    # request never finished and its arena grew a post-response array per round.
    st = tasks_after_post(srv, "/tasks/forever", "the self-rescheduling background task stopped")
    # The handler's task, then RINGO_BACKGROUND_MAX_CHAINED (1024) more; -ELOOP (40) after.
    check_eq((st["forever_runs"], st["forever_ret"]), (1025, -40),
             "runs of the self-rescheduling task and its last ringo_background() return")


def slow_teardown_requests(srv, n, ms, batch=False):
    """n concurrent GET /deps/slow-teardown?ms=... (a sync dependency whose
    teardown sleeps ms), all answered; their teardowns run after that. With
    batch, no answer goes out (and no teardown starts) before all n arrived."""
    conns = [Conn(srv) for _ in range(n)]
    query = f"ms={ms}&batch={n}" if batch else f"ms={ms}"
    for c in conns:
        c.send(get(f"/deps/slow-teardown?{query}"))
    for c in conns:
        check_eq(c.read_response().status, 200, "GET /deps/slow-teardown status")
        c.close()


def slow_teardown_counts(err):
    line = [l for l in err.splitlines() if l.startswith("ringo: slow teardowns:")]
    check(line, f"no slow teardown counts on stderr:\n{err[-2000:]}")
    words = line[-1].split()
    return int(words[-3]), int(words[-1])  # started, finished


@case(server=False)
def shutdown_bounds_teardowns_that_block(srv=None):
    # Regression: stopping the pool waited for every teardown, so one blocking
    # for minutes held shutdown as long; after the pool closed, a sync teardown
    # ran inline on its ring thread.
    args = ["--pool-threads", 4, "--drain-timeout", 500, "--teardown-timeout", 1500]
    with Server(args) as srv:
        stats = StatsConn(srv)
        slow_teardown_requests(srv, 2, 120000)  # two workers stay blocked
        stats.wait_for(lambda st: st["jobs_live"] >= 2, "the blocking teardowns are running")
        stats.close()
        # 6 s of work on the two workers left, all queued at once: at the
        # teardown timeout (2 s after SIGTERM) most have not started.
        slow_teardown_requests(srv, 12, 1000, batch=True)
        srv.send_signal(signal.SIGTERM)
        # A hang guard, not a speed threshold: without the bound, 2 minutes.
        try:
            rc = srv.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - TimeoutExpired
            srv.kill()
            raise h.Failure("server did not exit: teardowns held the shutdown")
        srv.stopped = True
        err = srv.stderr_text()
        for marker in h.SANITIZER_MARKERS:
            check(marker not in err, f"sanitizer report on stderr ({marker})")
        # ringo_app_wait() said -ETIMEDOUT: work was left running.
        check_eq(rc, 1, "server exit status")
        stuck = [l for l in err.splitlines() if "still running at the teardown timeout" in l]
        check(stuck, f"no line naming the teardowns left running:\n{err[-2000:]}")
        named = stuck[-1].count("'GET /deps/slow-teardown'")
        check(named >= 2, f"the blocking teardowns are not named: {stuck[-1]!r}")
        dropped = [l for l in err.splitlines() if "teardowns dropped at shutdown" in l]
        check(dropped, f"no dropped teardown count on stderr:\n{err[-2000:]}")
        ndropped = int(dropped[-1].split()[-1])
        started, finished = slow_teardown_counts(err)
        # The short ones that could start in the window ran; the others were
        # dropped, but those running at the deadline (named too).
        check(finished >= 1, f"no short teardown ran during the shutdown ({finished})")
        check(12 - (named - 2) <= finished + ndropped <= 12,
              f"short teardowns: {finished} finished, {ndropped} dropped, {named - 2} running")
        check(started >= finished + 2, f"started {started}, finished {finished}")


@case(server=False)
def shutdown_runs_queued_teardowns_in_parallel(srv=None):
    # 20 teardowns of 300 ms on 4 workers take 1.5 s in parallel and 6 s one at
    # a time (as cancelled post-response jobs once ran, on the stopping thread).
    # The bound is a hang guard with a 2x margin over the parallel time plus
    # the drain, well under the serial time.
    with Server(["--pool-threads", 4, "--drain-timeout", 100]) as srv:
        slow_teardown_requests(srv, 20, 300)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        srv.wait_stopped(timeout=max(60, 3 * SHUTDOWN_BOUND))
        took = time.monotonic() - t0
        check(took < 4.0, f"shutdown took {took:.1f}s: teardowns ran one at a time")
        check_eq(slow_teardown_counts(srv.stderr_text()), (20, 20),
                 "slow teardowns started and finished")


@case(server=False)
def shutdown_finishes_after_a_refused_completion(srv=None):
    # Regression: a MSG_RING completion the kernel refused (after its retries) was
    # dropped: its request was never answered and its ring, waiting for the job,
    # never exited, so shutdown hung. --msgring-fail-posts makes the pool's
    # first posts fail; the refused completion is posted again, at the latest
    # when the pool stops at the drain timeout.
    srv = Server(["--drain-timeout", 1000, "--pool-threads", 1, "--msgring-fail-posts", 3]).start()
    try:
        c = Conn(srv, timeout=h.TIMEOUT * 3)
        c.send(get("/sync/json"))
        stats = StatsConn(srv)
        stats.wait_for(lambda st: st["jobs_live"] >= 1, "the sync request reached the pool")
        stats.close()
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        r = c.read_response()
        check_eq(r.status, 200, "the sync request whose completion was refused")
        srv.wait_stopped(timeout=max(60, 3 * SHUTDOWN_BOUND))
        took = time.monotonic() - t0
        check(took < SHUTDOWN_BOUND, f"shutdown took {took:.1f}s (bound {SHUTDOWN_BOUND:.0f}s)")
        c.close()
    finally:
        srv.kill()


if __name__ == "__main__":
    h.main()
