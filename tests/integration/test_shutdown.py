#!/usr/bin/env python3
"""
Description: graceful shutdown. With requests in flight (pipelined requests
whose answers are unread, bodies half sent and completed right after the
signal, connections still in the listen queue) SIGTERM lets every complete
request be answered, closes idle keep-alive connections, and the server
exits 0 with zero live objects. SIGINT does the same on an idle server, and
a burst cut by SIGTERM never ends in a partial response.
"""
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, Server, case, check, check_eq, get, request  # noqa: E402

DRAIN = ["--drain-timeout", int(20000 * h.SCALE)]


def users(c, ids, what):
    for i in ids:
        r = c.read_response()
        check_eq((r.status, r.json()), (200, {"id": str(i)}), f"{what}: id {i}")


@case(server=False)
def sigterm_with_requests_in_flight(srv=None):
    with Server(DRAIN) as srv:
        idle = []
        for i in range(5):
            c = Conn(srv)
            check_eq(c.exchange(get(f"/users/idle{i}")).status, 200, "idle connection setup")
            idle.append(c)
        piped = []
        for i in range(40):
            c = Conn(srv)
            c.send(get(f"/users/{i}a") + get(f"/users/{i}b"))
            piped.append(c)
        halves = []
        bodies = [bytes([97 + i % 26]) * (2000 + i) for i in range(10)]
        for b in bodies:
            c = Conn(srv)
            c.send(request("POST", "/echo", body=b)[:-(len(b) // 2)])
            halves.append(c)
        # Make sure the server has seen every half body before the signal.
        h.check_alive(srv)
        late = []
        for i in range(30):
            c = Conn(srv)
            c.send(get(f"/users/late{i}"))
            late.append(c)
        srv.send_signal(signal.SIGTERM)
        for c, b in zip(halves, bodies):
            c.send(b[-(len(b) // 2):], tolerate_close=True)
        for i, c in enumerate(piped):
            for suffix in "ab":
                r = c.read_response()
                check_eq((r.status, r.json()), (200, {"id": f"{i}{suffix}"}),
                         f"pipelined request {i}{suffix} across SIGTERM")
        for i, (c, b) in enumerate(zip(halves, bodies)):
            r = c.read_response()
            check_eq((r.status, len(r.body), r.body == b), (200, len(b), True),
                     f"body {i} completed after SIGTERM")
        for i, c in enumerate(late):
            r = c.read_response()
            check_eq((r.status, r.json()), (200, {"id": f"late{i}"}),
                     f"request {i} sent just before SIGTERM")
        for i, c in enumerate(idle):
            c.expect_closed(what=f"SIGTERM on idle keep-alive connection {i}")
        for c in piped + halves + late:
            c.read_until_close()
            c.close()
        srv.wait_stopped()


@case(server=False)
def sigterm_accepts_queued_connections(srv=None):
    # Connections completed by the kernel but maybe not yet accepted when the
    # signal lands must still be answered.
    with Server(DRAIN) as srv:
        conns = []
        for i in range(150):
            c = Conn(srv)
            c.send(get(f"/users/q{i}"))
            conns.append(c)
        srv.send_signal(signal.SIGTERM)
        missing = []
        for i, c in enumerate(conns):
            try:
                r = c.read_response()
                check_eq((r.status, r.json()), (200, {"id": f"q{i}"}), f"queued connection {i}")
            except h.Failure as e:
                missing.append(f"{i}: {e}")
            c.close()
        check(not missing, f"{len(missing)} of {len(conns)} connections unanswered:\n  " +
              "\n  ".join(missing[:10]))
        srv.wait_stopped()


@case(server=False)
def sigterm_closes_a_slow_handler_past_the_drain_timeout(srv=None):
    # The ring sleeps until its earliest deadline: while stopping, the
    # force-close time (drain timeout + 1 s) is one, so a handler that would
    # await for a minute does not hold the shutdown that long.
    with Server(args=["--drain-timeout", 300]) as srv:
        c = Conn(srv)
        st = h.StatsConn(srv)
        base = st.get()
        c.send(get("/sleep?ms=60000"))
        st.wait_read(base, 1, "the slow request")
        st.close()
        srv.send_signal(signal.SIGTERM)
        srv.wait_stopped(timeout=30)
        c.read_until_close(timeout=5)  # a 503 or nothing, then the close
        c.close()


def ring_cpu_ticks(srv):
    """utime + stime (clock ticks) of the thread named ringo-ring-0."""
    fields = h.ring_thread_file(srv, "stat").rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)


@case(server=False)
def ring_sleeps_past_the_drain_timeout(srv=None):
    # Past the force-close time (drain timeout + 1 s) a connection held by a
    # running sync handler stays until the handler returns. The ring must not
    # keep arming a timeout for a deadline already past (it would fire at
    # once, again and again): over 1.5 s it uses next to no CPU. The
    # teardown timeout (which bounds running sync jobs too) is well past it.
    # The handler outlasts the 3 s of the test by a margin a loaded machine does not eat:
    # once it returns, the ring exits and there is no thread left to measure.
    sleep_ms = int(6000 * h.SCALE)
    args = ["--drain-timeout", 200, "--pool-threads", 1, "--teardown-timeout", 60000]
    with Server(args=args) as srv:
        c = Conn(srv)
        st = h.StatsConn(srv)
        base = st.get()
        c.send(get(f"/sync/sleep?ms={sleep_ms}"))
        st.wait_read(base, 1, "the sync request")
        st.close()
        srv.send_signal(signal.SIGTERM)
        time.sleep(1.5)  # past the force-close time, the handler still sleeping
        t0 = ring_cpu_ticks(srv)
        time.sleep(1.5)
        used = ring_cpu_ticks(srv) - t0
        check(used < 50, f"the stopping ring used {used} clock ticks of CPU in 1.5 s")
        srv.wait_stopped(timeout=sleep_ms / 1000 + 30)
        c.read_until_close(timeout=5)
        c.close()


@case(server=False)
def sigint_idle(srv=None):
    with Server() as srv:
        h.check_alive(srv)
        srv.send_signal(signal.SIGINT)
        srv.wait_stopped()


@case(server=False)
def sigterm_idle_connections_only(srv=None):
    with Server() as srv:
        conns = [Conn(srv) for _ in range(20)]
        for i, c in enumerate(conns[:10]):
            check_eq(c.exchange(get("/json")).status, 200, f"request on connection {i}")
        h.check_alive(srv)
        srv.send_signal(signal.SIGTERM)
        for i, c in enumerate(conns):
            c.expect_closed(what=f"SIGTERM on idle connection {i}")
        srv.wait_stopped()


@case(server=False)
def sigterm_during_burst(srv=None):
    with Server(DRAIN) as srv:
        c = Conn(srv)
        n = 3000
        data = b"".join(get(f"/users/{i}") for i in range(n))
        t = threading.Thread(target=lambda: c.send(data, tolerate_close=True), daemon=True)
        t.start()
        got = 0
        for i in range(n):
            if i == 200:
                srv.send_signal(signal.SIGTERM)
            try:
                r = c.read_response()
            except h.Failure as e:
                check(not c.buf, f"partial response at the end of the stream: {e}")
                break
            check_eq((r.status, r.json()), (200, {"id": str(i)}), f"burst response {i}")
            got += 1
        check(got >= 200, f"only {got} responses")
        t.join(h.TIMEOUT)
        c.close()
        srv.wait_stopped()


@case(server=False)
def sigterm_answers_every_pipelined_request_received(srv=None):
    # Regression: the drain used to close after the running request and drop the
    # pipelined ones already received (a non-idempotent POST among them).
    with Server(DRAIN) as srv:
        conns = []
        for i in range(10):
            c = Conn(srv)
            c.send(get("/sleep?ms=300") + request("POST", "/tasks", body=b"") +
                   get(f"/users/p{i}"))
            conns.append(c)
        h.check_alive(srv)
        srv.send_signal(signal.SIGTERM)
        for i, c in enumerate(conns):
            got = [c.read_response() for _ in range(3)]
            check_eq([r.status for r in got], [200, 202, 200], f"connection {i} statuses")
            check(got[2].closes(), f"connection {i}: the last answer closes")
            c.read_until_close()
            c.close()
        srv.wait_stopped()


if __name__ == "__main__":
    h.main()
