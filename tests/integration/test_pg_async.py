#!/usr/bin/env python3
"""
Description: PostgreSQL for async handlers (ringo/pg.h, the per-ring
pipelined pool) against a real PostgreSQL 15 cluster this test starts
(tests/integration/pg_cluster.py) and stops by PID. The demo's async
TechEmpower routes (/db, /queries, /fortunes, /updates, /cached-queries)
answer rows that match the database, with exact headers and content types
and the TFB clamping of queries/count; 500 queries of one request go out in
one pipelined batch; a request cancelled mid-query (client hang-up, route
deadline) leaves its shared connection serving the next requests their own
rows; a backend killed with pg_terminate_backend is replaced; the database
down at start answers 503 without hanging and is found when it comes back;
stopping it under load gives 503s, no crash or hang, and recovery; 512
concurrent keep-alive clients are all served.
"""
import html
import os
import select
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pg_cluster  # noqa: E402
import ringo_harness as h  # noqa: E402
from ringo_harness import (Conn, case, check, check_eq, check_std_headers,  # noqa: E402
                           get, raise_nofile)
from pg_demo import (LONG_MS, check_rows, cluster, fetch, json_ok,  # noqa: E402
                     later_requests_get_their_rows, server, stats, wait_sleeping)

def expected_fortunes():
    rows = [(i, m) for i, m in enumerate(pg_cluster.FORTUNES, 1)]
    rows.append((0, pg_cluster.EXTRA_FORTUNE))
    rows.sort(key=lambda r: r[1].encode())
    body = ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
            "<tr><th>id</th><th>message</th></tr>")
    for i, m in rows:
        body += f"<tr><td>{i}</td><td>{html.escape(m)}</td></tr>"
    return (body + "</table></body></html>").encode()


# ------------------------------------------------------------ the routes

@case(server=False)
def routes_answer_the_database_rows():
    pg = cluster()
    with server() as srv:
        c = Conn(srv)
        db = pg.world()
        check_rows([json_ok(fetch(c, "/db"), "/db")], db, "/db")
        for n in (1, 2, 20):
            rows = json_ok(fetch(c, f"/queries?queries={n}"), "/queries")
            check_eq(len(rows), n, f"/queries?queries={n} rows")
            check_rows(rows, db, f"/queries?queries={n}")
        rows = json_ok(fetch(c, "/cached-queries?count=50"), "/cached-queries")
        check_eq(len(rows), 50, "cached-queries rows")
        check_rows(rows, db, "/cached-queries")
        r = fetch(c, "/fortunes")
        check_eq(r.status, 200, "/fortunes status")
        check_std_headers(r)
        check_eq(r.header("content-type"), "text/html; charset=utf-8", "/fortunes content type")
        check_eq(r.body, expected_fortunes(), "/fortunes body")
        for n in (1, 20):
            rows = json_ok(fetch(c, f"/updates?queries={n}"), "/updates")
            check_eq(len(rows), n, f"/updates?queries={n} rows")
            ids = [row["id"] for row in rows]
            check_eq(ids, sorted(ids), "updated ids sorted")
            now = pg.world(ids)
            check_rows(rows, now, f"/updates?queries={n} against the database")
            # An id drawn twice is one row of the database: count ids, not answers.
            changed = {row["id"] for row in rows if row["randomNumber"] != db[row["id"]]}
            check_eq(len(changed), len(set(ids)), "every row updated gets a new value")
        c.close()


@case(server=False)
def counts_are_clamped():
    cluster()
    want = {"": 1, "queries=": 1, "queries=abc": 1, "queries=0": 1, "queries=-3": 1,
            "queries=1": 1, "queries=7": 7, "queries=500": 500, "queries=501": 500,
            "queries=99999999999999999999": 500, "queries=5x": 1}
    with server() as srv:
        c = Conn(srv)
        for route in ("/queries", "/updates", "/cached-queries"):
            for qs, n in want.items():
                if route == "/cached-queries":
                    qs = qs.replace("queries", "count")
                rows = json_ok(fetch(c, f"{route}?{qs}"), f"{route}?{qs}")
                check_eq(len(rows), n, f"{route}?{qs} rows")
        c.close()


@case(server=False)
def pipeline_500_queries_in_one_batch():
    pg = cluster()
    with server(conns=1, threads=1) as srv:
        c = Conn(srv)
        fetch(c, "/db")  # connected
        before = stats(c)["batches"]
        db = pg.world()
        rows = json_ok(fetch(c, "/queries?queries=500"), "/queries?queries=500")
        check_eq(len(rows), 500, "rows")
        check_rows(rows, db, "/queries?queries=500")
        # The 500 SELECTs went out as one batch (one sync, one round trip); /pg/stats is not one.
        check_eq(stats(c)["batches"] - before, 1, "batches for 500 queries")
        c.close()


# ------------------------------------------------------------ cancellation

@case(server=False)
def client_hang_up_mid_query_abandons_only_its_batch():
    pg = cluster()
    with server(conns=1, threads=1) as srv:
        c = Conn(srv)
        fetch(c, "/db")
        gone = Conn(srv)
        gone.send(get(f"/pg/sleep?ms={LONG_MS}"))
        wait_sleeping(pg)
        gone.abort()
        # One connection: the next batches queue behind the abandoned pg_sleep and must get
        # their own results, not its row.
        later_requests_get_their_rows(c, pg, "after the hang-up", behind_ms=LONG_MS)
        st = stats(c)
        check_eq(st["abandoned"], 1, "abandoned batches")
        check_eq(st["broken"], 0, "broken connections")
        check_eq(st["connects"], 1, "connects (the connection was reused)")
        c.close()


@case(server=False)
def route_deadline_mid_query_answers_504_and_keeps_the_connection():
    pg = cluster()
    with server(conns=1, threads=1) as srv:
        c = Conn(srv)
        fetch(c, "/db")
        t0 = time.monotonic()
        r = fetch(c, f"/pg/sleep-deadline?ms={LONG_MS}")
        check_eq(r.status, 504, "status past the route deadline")
        # The query started after t0: an answer sooner than its sleep came before its end.
        check(time.monotonic() - t0 < LONG_MS / 1000, "504 came before the query ended")
        later_requests_get_their_rows(c, pg, "after the deadline", behind_ms=LONG_MS)
        st = stats(c)
        check_eq(st["abandoned"], 1, "abandoned batches")
        check_eq(st["connects"], 1, "connects (the connection was reused)")
        c.close()


@case(server=False)
def waiting_for_room_is_bounded():
    pg = cluster()
    with server(conns=1, threads=1, max_pending=1) as srv:
        c = Conn(srv)
        fetch(c, "/db")
        busy = Conn(srv)
        busy.send(get(f"/pg/sleep?ms={LONG_MS}"))
        wait_sleeping(pg)
        r = fetch(c, "/db")  # the one connection is full: waits acquire_timeout_ms (1 s)
        check_eq(r.status, 503, "status when no connection has room")
        # The busy request is answered the moment its query ends: not yet.
        check(not select.select([busy.sock], [], [], 0)[0], "503 before the busy query ended")
        r = busy.read_response(timeout=h.TIMEOUT + LONG_MS / 1000)
        check_eq(r.status, 200, "the busy request")
        busy.close()
        later_requests_get_their_rows(c, pg, "after the wait")
        c.close()


# ------------------------------------------------------------ health

def until_ok(c, path, timeout=None):
    """Polls path until 200: a reconnect backs off, and on a loaded machine a connect
    may time out (5 s) before one succeeds."""
    deadline = time.monotonic() + (timeout or 3 * h.TIMEOUT)
    statuses = []
    while time.monotonic() < deadline:
        r = fetch(c, path)
        statuses.append(r.status)
        check(r.status in (200, 503), f"{path}: unexpected {r.status} {r.body[:200]!r}")
        if r.status == 200:
            return statuses
        time.sleep(0.05)
    raise h.Failure(f"{path} never answered 200 again: {statuses[-10:]}")


@case(server=False)
def killed_backend_is_replaced():
    pg = cluster()
    with server(conns=1, threads=1) as srv:
        c = Conn(srv)
        fetch(c, "/db")
        sleeper = Conn(srv)
        sleeper.send(get(f"/pg/sleep?ms={LONG_MS}"))
        wait_sleeping(pg)
        check(pg.terminate_backends() >= 1, "a backend was terminated")
        r = sleeper.read_response()
        check_eq(r.status, 503, "the request in flight on the killed backend")
        sleeper.close()
        until_ok(c, "/db")
        later_requests_get_their_rows(c, pg, "after pg_terminate_backend")
        st = stats(c)
        check(st["broken"] >= 1, f"broken counted: {st!r}")
        check(st["connects"] >= 2, f"reconnected: {st!r}")
        c.close()


@case(server=False)
def database_down_at_start_then_back():
    pg = cluster()
    pg.stop()
    try:
        with server(dsn=pg.dsn) as srv:
            c = Conn(srv)
            for path in ("/db", "/queries?queries=5", "/fortunes", "/updates?queries=2",
                         "/cached-queries?count=3"):
                t0 = time.monotonic()
                r = fetch(c, path)
                check_eq(r.status, 503, f"{path} with the database down")
                check_std_headers(r)
                check(time.monotonic() - t0 < 5, f"{path}: 503 without hanging")
            pg.start()
            until_ok(c, "/db")
            later_requests_get_their_rows(c, pg, "after the database came back")
            c.close()
    finally:
        pg.start()


def load(srv, stop, results):
    try:
        c = Conn(srv, timeout=20)
        while not stop.is_set():
            r = fetch(c, "/queries?queries=5")
            results.append(r.status)
        c.close()
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        results.append(repr(e))


@case(server=False)
def database_stopped_under_load_then_back():
    pg = cluster()
    try:
        with server() as srv:
            stop, results = threading.Event(), []
            ts = [threading.Thread(target=load, args=(srv, stop, results)) for _ in range(8)]
            for t in ts:
                t.start()
            # Under load: the clients are answered before the database goes away.
            deadline = h.deadline_after(h.TIMEOUT)
            while 200 not in results:
                check(h.remaining(deadline) > 0, f"no 200 under load before the stop: {results[:5]}")
                time.sleep(0.02)
            pg.stop()
            probe = Conn(srv)
            r = fetch(probe, "/queries?queries=5")  # the database is down now: 503, no hang
            check_eq(r.status, 503, "status with the database stopped under load")
            probe.close()
            time.sleep(0.3)
            pg.start()
            time.sleep(0.3)
            stop.set()
            for t in ts:
                t.join(30)
            bad = [s for s in results if s not in (200, 503)]
            check(not bad, f"answers under load besides 200/503: {bad[:5]}")
            check(200 in results, f"some answers under load were 200: {len(results)}")
            c = Conn(srv)
            until_ok(c, "/db")
            later_requests_get_their_rows(c, pg, "after the restart")
            c.close()
    finally:
        pg.start()


@case(server=False)
def concurrent_512_keep_alive_clients():
    pg = cluster()
    raise_nofile(2048)
    with server() as srv:
        db = pg.world()
        # Warm-up (as TFB does): each ring opens its connections before the burst, so the
        # burst measures serving, not four connects racing 256 requests per ring.
        for _ in range(16):
            w = Conn(srv)
            until_ok(w, "/db")
            w.close()
        conns = []
        try:
            for _ in range(512):
                conns.append(Conn(srv, timeout=30))
            for path in ("/db", "/queries?queries=3", "/fortunes", "/db"):
                for c in conns:
                    c.send(get(path))
                for c in conns:
                    r = c.read_response()
                    check_eq(r.status, 200, f"{path} of one of 512 clients ({r.body[:80]!r})")
                    if path != "/fortunes":
                        rows = r.json()
                        check_rows(rows if isinstance(rows, list) else [rows], db, path)
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    h.main()
