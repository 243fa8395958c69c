#!/usr/bin/env python3
"""
Description: the lame-duck drain and the health routes. /readyz answers 200
while serving, 503 from SIGTERM on and while the pool queue is saturated;
/livez answers 503 naming the handler that holds a ring. With
--shutdown-delay, SIGTERM keeps every route and the listener serving for the
delay, each response carrying Connection: close (idle keep-alive connections
stay open until the drain), and a second SIGTERM ends the delay.
"""
import os
import re
import select
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, Server, case, check, check_eq, get, request  # noqa: E402

# Long enough for every step a case takes during the delay, on a loaded machine.
DELAY_MS = int(30000 * h.SCALE)


def probe(srv, path, head=False):
    c = Conn(srv)
    r = c.exchange(request("HEAD" if head else "GET", path), head=head)
    c.close()
    return r


@case()
def probes_answer_while_serving(srv):
    r = probe(srv, "/readyz")
    check_eq((r.status, r.body, r.header("Cache-Control")), (200, b"ready\n", "no-store"),
             "/readyz while serving")
    r = probe(srv, "/livez")
    check_eq((r.status, r.body), (200, b"live\n"), "/livez while serving")
    r = probe(srv, "/readyz", head=True)
    check_eq(r.status, 200, "HEAD /readyz")
    doc = Conn(srv).exchange(get("/openapi.json")).json()
    check("/readyz" not in doc["paths"] and "/livez" not in doc["paths"],
          "the probes are left out of the OpenAPI document")


@case(server=False)
def lame_duck_keeps_serving_with_connection_close():
    with Server(["--shutdown-delay", DELAY_MS]) as srv:
        idle = Conn(srv)
        r = idle.exchange(get("/plaintext"))
        check(r.status == 200 and not r.closes(), "keep-alive before the stop")
        used = Conn(srv)
        check_eq(used.exchange(get("/plaintext")).status, 200, "second connection")
        srv.send_signal(signal.SIGTERM)
        # Readiness fails at once; the signal is handled asynchronously, so ask until it does.
        deadline = h.deadline_after(h.TIMEOUT)
        while True:
            r = probe(srv, "/readyz")
            if r.status == 503 or h.remaining(deadline) <= 0:
                break
        check_eq((r.status, r.body), (503, b"stopping\n"), "/readyz after SIGTERM")
        # Every other route still serves, on new connections (the listener accepts) ...
        c = Conn(srv)
        r = c.exchange(get("/users/7"))
        check_eq((r.status, r.json(), r.closes()), (200, {"id": "7"}, True),
                 "new connection during the delay: served, Connection: close")
        c.expect_closed(what="the response during the delay")
        # ... and on connections opened before: the answer closes them.
        r = used.exchange(get("/json"))
        check_eq((r.status, r.closes()), (200, True), "keep-alive connection during the delay")
        used.expect_closed(what="the response during the delay")
        # Pipelined requests are all answered; only the last one closes.
        c = Conn(srv)
        c.send(get("/users/a") + get("/users/b"))
        a, b = c.read_response(), c.read_response()
        check_eq((a.status, a.closes(), b.status, b.closes()), (200, False, 200, True),
                 "pipelined pair during the delay")
        c.expect_closed(what="the pipelined pair")
        r = probe(srv, "/livez")
        check_eq(r.status, 200, "/livez during the delay (the process is healthy)")
        # The idle connection was left open: it still gets its answer.
        r = idle.exchange(get("/plaintext"))
        check_eq((r.status, r.closes()), (200, True), "idle connection used during the delay")
        idle.expect_closed(what="its response")
        check(srv.alive(), "server still running during the delay")
        h.close_all_conns()  # else each lingers, waiting for the client's FIN
        # A second SIGTERM ends the delay: the drain begins and the process exits.
        srv.send_signal(signal.SIGTERM)
        srv.wait_stopped()


@case(server=False)
def idle_connection_closed_at_the_drain_not_before():
    with Server(["--shutdown-delay", DELAY_MS]) as srv:
        idle = Conn(srv)
        check_eq(idle.exchange(get("/plaintext")).status, 200, "idle connection setup")
        srv.send_signal(signal.SIGTERM)
        deadline = h.deadline_after(h.TIMEOUT)
        while probe(srv, "/readyz").status != 503 and h.remaining(deadline) > 0:
            pass
        r, _, _ = select.select([idle.sock], [], [], 0)
        check(not r, "idle keep-alive connection untouched during the delay")
        srv.send_signal(signal.SIGTERM)
        idle.expect_closed(what="the drain", allow_reset=True)
        srv.wait_stopped()


@case(server=False)
def delay_zero_keeps_todays_stop():
    with Server() as srv:
        idle = Conn(srv)
        check_eq(idle.exchange(get("/plaintext")).status, 200, "idle connection setup")
        srv.send_signal(signal.SIGTERM)
        idle.expect_closed(what="SIGTERM", allow_reset=True)
        srv.wait_stopped()
        check("stopping: serving" not in srv.stderr_text(), "no lame-duck phase without a delay")


@case(["--pool-threads", 1, "--ready-max-queue", 2])
def readiness_fails_while_the_pool_queue_is_saturated(srv):
    ms = int(1500 * h.SCALE)
    sleepers = []
    for i in range(3):  # one runs, two wait in the queue
        c = Conn(srv)
        c.send(get(f"/sync/sleep?ms={ms}"))
        sleepers.append(c)
    deadline = h.deadline_after(h.TIMEOUT)
    while True:
        r = probe(srv, "/readyz")
        if r.status == 503 or h.remaining(deadline) <= 0:
            break
    check_eq(r.status, 503, "/readyz with two sync jobs queued (limit 2)")
    check(re.fullmatch(rb"pool queue saturated: [23] sync jobs wait \(limit 2\)\n", r.body),
          f"/readyz names the queue: {r.body!r}")
    check_eq(probe(srv, "/livez").status, 200, "/livez: a busy pool is alive")
    for c in sleepers:
        check_eq(c.read_response(timeout=4 * ms / 1000 + h.TIMEOUT).status, 200, "sleeper")
    check_eq(probe(srv, "/readyz").status, 200, "/readyz once the queue emptied")


@case(["--live-stall", 100, "--stall-warn", 100], threads=2)
def liveness_names_the_handler_holding_a_ring(srv):
    blocker = Conn(srv)
    blocker.send(get("/block?ms=5000"))
    # The probe must reach the other ring: the kernel spreads connections over
    # the two listeners, so some of these land there (each one that lands on
    # the blocked ring simply waits).
    found = None
    deadline = h.deadline_after(h.TIMEOUT)
    while found is None and h.remaining(deadline) > 0:
        conns = [Conn(srv) for _ in range(16)]
        for c in conns:
            c.send(get("/livez"))
        ready, _, _ = select.select([c.sock for c in conns], [], [], 1.0)
        for c in conns:
            if c.sock in ready:
                r = c.read_response()
                if r.status == 503:
                    found = r
        for c in conns:
            c.close()
    check(found is not None, "no /livez answered 503 while a ring was blocked")
    body = found.body.decode()
    check(body.startswith("ring ") and "stalled: handler 'GET /block' has held it for " in body
          and "(limit 100 ms)" in body, f"/livez names the ring and the handler: {body!r}")
    check_eq(blocker.read_response(timeout=5 + h.TIMEOUT).status, 200, "the blocking request")
    deadline = h.deadline_after(h.TIMEOUT)
    while probe(srv, "/livez").status != 200 and h.remaining(deadline) > 0:
        pass
    check_eq(probe(srv, "/livez").status, 200, "/livez once the ring is free again")


if __name__ == "__main__":
    h.main()
