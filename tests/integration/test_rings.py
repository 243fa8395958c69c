#!/usr/bin/env python3
"""
Description: several rings share the port. With --threads 2 each ring has a
SO_REUSEPORT listener of its own and the kernel spreads connections over them
by a hash of the 4-tuple: new connections (each from a fresh source port) are
opened until GET /whoami has answered from both rings, and the per-ring
counters in /metrics (connections accepted, requests answered, connections
open) account for every one of them and add up to the totals in /stats. With
--threads 1 there is one series, ring 0, equal to the totals.

The spread is the kernel's hash, not a guarantee: the test opens at most 256
connections, and the chance that all of them hash to one of two rings is
2^-255.
"""
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check, check_eq, get  # noqa: E402

MAX_CONNS = 256
SERIES_RE = re.compile(r'^(ringo_\w+)\{ring="(\d+)"\} (\d+)$', re.M)
PER_RING = ("ringo_ring_connections_accepted_total", "ringo_ring_requests_total",
            "ringo_connections")


def per_ring(text):
    """{metric: {ring: value}} of the per-ring series in a /metrics body."""
    out = {}
    for name, ring, value in SERIES_RE.findall(text):
        out.setdefault(name, {})[int(ring)] = int(value)
    return out


def scrape_and_stats(c):
    """/metrics then /stats on the one connection c: no connection is accepted and no
    other request answered in between, so the two agree exactly."""
    r = c.exchange(get("/metrics"))
    check_eq(r.status, 200, "GET /metrics")
    series = per_ring(r.body.decode())
    r = c.exchange(get("/stats"))
    check_eq(r.status, 200, "GET /stats")
    return series, r.json()


def check_totals(series, stats, rings):
    for name in PER_RING:
        check_eq(sorted(series.get(name, {})), list(range(rings)), f"{name}: one series a ring")
    accepted = series["ringo_ring_connections_accepted_total"]
    check_eq(sum(accepted.values()), stats["conns_accepted"],
             "connections accepted by the rings add up to conns_accepted")
    # /metrics is counted once its body is written, /stats's body is written before its own
    # count: the scrape is in reqs_served, the /stats request not yet.
    served = series["ringo_ring_requests_total"]
    check_eq(sum(served.values()) + 1, stats["reqs_served"],
             "requests answered by the rings add up to reqs_served")


@case(threads=2)
def both_rings_serve(srv):
    mine = {0: [], 1: []}
    while len(mine[0]) + len(mine[1]) < MAX_CONNS and not (mine[0] and mine[1]):
        c = Conn(srv)  # a fresh source port: a fresh hash
        r = c.exchange(get("/whoami"))
        check_eq(r.status, 200, "GET /whoami")
        ring = r.json().get("ring")
        check(ring in mine, f"ring {ring!r}")
        mine[ring].append(c)
    check(mine[0] and mine[1],
          f"{MAX_CONNS} connections all went to one ring: "
          f"{len(mine[0])} on ring 0, {len(mine[1])} on ring 1")
    series, stats = scrape_and_stats(mine[0][0])
    check_totals(series, stats, 2)
    for ring, conns in mine.items():
        # Each of ours was accepted, answered once (and ring 0's first also the scrape) and
        # is still open; the harness's own connections may add to them.
        check(series["ringo_ring_connections_accepted_total"][ring] >= len(conns),
              f"ring {ring} accepted our {len(conns)} connections")
        check(series["ringo_ring_requests_total"][ring] >= len(conns),
              f"ring {ring} answered our {len(conns)} requests")
        check(series["ringo_connections"][ring] >= len(conns),
              f"ring {ring} holds our {len(conns)} open connections")


@case(threads=1)
def one_ring_counts_everything(srv):
    c = Conn(srv)
    for _ in range(3):
        check(h.hello_ok(c.exchange(get("/plaintext"))), "GET /plaintext")
    series, stats = scrape_and_stats(c)
    check_totals(series, stats, 1)
    check(series["ringo_ring_requests_total"][0] >= 3, "ring 0 answered our requests")


if __name__ == "__main__":
    h.main()
