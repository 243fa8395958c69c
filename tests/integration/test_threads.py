#!/usr/bin/env python3
"""
Description: --threads 2 runs two rings on one SO_REUSEPORT port: the
listening line says so, connections spread over both rings (GET /whoami
reports the ring), a connection stays on its ring, and concurrent clients
on both rings are served correctly.
"""
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check, check_eq, get, request  # noqa: E402


def whoami(c):
    r = c.exchange(get("/whoami"))
    check_eq(r.status, 200, "GET /whoami")
    j = r.json()
    check_eq(j.get("peer"), f"127.0.0.1:{c.local_port()}", "peer")
    check(j.get("ring") in (0, 1), f"ring {j.get('ring')!r} with --threads 2")
    return j["ring"]


@case(threads=2)
def connections_spread_over_rings(srv):
    check_eq(srv.rings, 2, "rings in the listening line")
    seen = {}
    for attempt in range(5):
        conns = [Conn(srv) for _ in range(64)]  # open together: distinct source ports
        for c in conns:
            ring = whoami(c)
            seen[ring] = seen.get(ring, 0) + 1
            # A connection never moves to the other ring.
            check_eq(whoami(c), ring, "ring of the same connection, second request")
        for c in conns:
            c.close()
        if len(seen) == 2:
            return
    raise h.Failure(f"all {sum(seen.values())} connections landed on one ring: {seen}")


@case(threads=2)
def concurrent_clients(srv):
    errors = []

    def client(k):
        try:
            conn = h.http_conn(srv)
            for i in range(60):
                if i % 3 == 2:
                    body = (b"%d-%d " % (k, i)) * 100
                    conn.request("POST", "/echo", body=body)
                    r = conn.getresponse()
                    got = r.read()
                    if r.status != 200 or got != body:
                        errors.append(f"client {k} echo {i}: {r.status}")
                else:
                    conn.request("GET", f"/users/{k}-{i}")
                    r = conn.getresponse()
                    got = r.read()
                    if r.status != 200 or got != b'{"id":"%d-%d"}' % (k, i):
                        errors.append(f"client {k} request {i}: {r.status} {got[:80]!r}")
            conn.close()
        except Exception as e:  # reported below
            errors.append(f"client {k}: {e!r}")

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(3 * h.TIMEOUT)
    check(not any(t.is_alive() for t in threads), "a client thread hung")
    check(not errors, "; ".join(errors[:10]))


@case(threads=2)
def pipelines_on_both_rings(srv):
    conns = [Conn(srv) for _ in range(16)]
    for k, c in enumerate(conns):
        c.send(b"".join(get(f"/users/{k}.{i}") for i in range(50)) +
               request("POST", "/echo", body=b"end%d" % k))
    for k, c in enumerate(conns):
        for i in range(50):
            r = c.read_response()
            check_eq(r.json(), {"id": f"{k}.{i}"}, f"connection {k} response {i}")
        check_eq(c.read_response().body, b"end%d" % k, f"connection {k} echo")


@case(threads=2, args=["--max-requests", 2])
def max_requests_on_two_rings(srv):
    for k in range(8):
        c = Conn(srv)
        c.send(get("/whoami") + get("/whoami") + get("/whoami"), tolerate_close=True)
        check(not c.read_response().closes(), "first response closes")
        check(c.read_response().closes(), "second response does not close")
        c.expect_closed()
        c.close()


if __name__ == "__main__":
    h.main()
