#!/usr/bin/env python3
"""
Description: transactions across awaits for async handlers (ringo_pg_tx,
ringo/pg.h) against a real PostgreSQL 15 cluster this test starts
(tests/integration/pg_cluster.py): a commit is visible; an error, a 409, a
client hang-up, a route deadline and a handler that returns with the
transaction open all roll back; every ending gives the pinned connection
back to the ring (one connection per ring: /db would answer 503 otherwise);
while pinned, other requests' batches stay out of it; a batch refused
before it is sent keeps the next one inside the transaction. Also a
prepare the server refuses: answered, forgotten, and prepared again.
"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pg_cluster  # noqa: E402
import ringo_harness as h  # noqa: E402
from ringo_harness import Conn, case, check_eq  # noqa: E402
from pg_demo import (LONG_MS, check_rows, cluster, fetch, json_ok,  # noqa: E402
                     later_requests_get_their_rows, server, stats, wait_sleeping)


def post(c, path):
    c.send(h.request("POST", path))
    return c.read_response()


def wait_no_open_transaction(pg, timeout=10):
    """Until no backend of the server is inside a transaction: a ROLLBACK (or COMMIT)
    that never came would leave one 'idle in transaction' (or running) for good."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = pg.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = '%s' AND (state "
                      "LIKE 'idle in transaction%%' OR (state = 'active' AND query LIKE "
                      "'SELECT pg_sleep%%'))" % pg_cluster.USER, db="postgres")
        if int(rows[0][0]) == 0:
            return
        time.sleep(0.02)
    raise h.Failure("a transaction stayed open on the server")


def reset_rows(pg, ids):
    pg.sql("UPDATE world SET randomnumber = 1 WHERE id IN (%s)" % ",".join(map(str, ids)))


@case(server=False)
def transaction_commits_or_rolls_back():
    """One connection for the ring: every way a transaction ends must give it back
    (else /db waits for it and answers 503), and only the committed ones stay."""
    pg = cluster()
    reset_rows(pg, range(21, 29))
    with server(conns=1, threads=1) as srv:
        c = Conn(srv)
        cases = (("/pg/tx/world/21?number=4242", 200, 4242),  # dependency: teardown commits
                 ("/pg/tx/world/22?number=4343&fail=500", 500, 1),
                 ("/pg/tx/world/23?number=4444&fail=409", 409, 1),
                 ("/pg/tx-raw/world/24?number=4545&commit=1", 200, 4545),
                 ("/pg/tx-raw/world/25?number=4646", 200, 1),  # left open: the request's end
                 ("/pg/tx/world/26?number=4747&sleep_ms=50", 200, 4747),  # across two awaits
                 ("/pg/tx-raw/world/27?number=4848&sleep_ms=50&commit=1", 200, 4848),
                 # A batch refused before sending (a prepared name reused with another
                 # text): the UPDATE after it must still be inside the transaction.
                 ("/pg/tx-raw/world/28?number=4949&refused_first=1", 200, 1))
        for path, status, want in cases:
            r = post(c, path)
            check_eq(r.status, status, f"{path} ({r.body[:200]!r})")
            if status == 200:
                check_eq(r.json()["randomNumber"], int(path.split("number=")[1].split("&")[0]),
                         f"{path}: the row as the transaction saw it")
            check_rows([json_ok(fetch(c, "/db"), f"/db after {path}")], pg.world(), "/db")
            wait_no_open_transaction(pg)
            row = int(path.split("/world/")[1].split("?")[0])
            check_eq(pg.world([row])[row], want, f"{path}: the row afterwards")
        # The rolled-back rows are not locked any more: a new transaction takes them.
        r = post(c, "/pg/tx/world/22?number=17")
        check_eq(r.status, 200, "a row of a rolled-back transaction, updated again")
        wait_no_open_transaction(pg)
        check_eq(pg.world([22])[22], 17, "committed this time")
        st = stats(c)
        check_eq(st["broken"], 0, "broken connections")
        check_eq(st["connects"], 1, "one connection served every transaction")


@case(server=False)
def transaction_rolled_back_on_hang_up_and_deadline():
    pg = cluster()
    reset_rows(pg, (31, 32))
    with server(conns=1, threads=1) as srv:
        c = Conn(srv)
        fetch(c, "/db")
        gone = Conn(srv)
        gone.send(h.request("POST", f"/pg/tx/world/31?number=999&sleep_ms={LONG_MS}"))
        wait_sleeping(pg)
        gone.abort()
        # The connection was given back at once: this batch queues behind the sleep and the
        # ROLLBACK, on the same connection, outside the transaction.
        r = fetch(c, "/db", h.TIMEOUT + LONG_MS / 1000)
        check_rows([json_ok(r, "/db after the hang-up")], pg.world(), "/db")
        wait_no_open_transaction(pg)
        check_eq(pg.world([31])[31], 1, "the hung-up request's update, rolled back")
        r = post(c, "/pg/tx-deadline/world/32?number=999&sleep_ms=1500")
        check_eq(r.status, 504, "past the route deadline")
        check_rows([json_ok(fetch(c, "/db"), "/db after the deadline")], pg.world(), "/db")
        wait_no_open_transaction(pg)
        check_eq(pg.world([32])[32], 1, "the timed-out request's update, rolled back")
        later_requests_get_their_rows(c, pg, "after the rollbacks")
        st = stats(c)
        check_eq(st["broken"], 0, "broken connections")
        check_eq(st["connects"], 1, "connects (the connection was reused)")


@case(server=False)
def transaction_pins_its_connection():
    """While a transaction holds the ring's only connection, other requests' batches do
    not enter it: they wait for a connection (acquire_timeout_ms, 1 s) and get 503,
    where without the pin they would have queued inside the open transaction."""
    pg = cluster()
    reset_rows(pg, (41,))
    with server(conns=1, threads=1) as srv:
        holder, other = Conn(srv), Conn(srv)
        fetch(other, "/db")
        holder.send(h.request("POST", f"/pg/tx/world/41?number=4141&sleep_ms={LONG_MS}"))
        wait_sleeping(pg)
        r = fetch(other, "/db")
        check_eq(r.status, 503, "/db while the only connection is pinned")
        check_eq(r.json(), {"detail": "database busy: no free connection"}, "503 body")
        r = holder.read_response(timeout=h.TIMEOUT + LONG_MS / 1000)
        check_eq(r.status, 200, "the transaction's request")
        wait_no_open_transaction(pg)
        check_eq(pg.world([41])[41], 4141, "committed")
        check_rows([json_ok(fetch(other, "/db"), "/db after the commit")], pg.world(), "/db")


@case(server=False)
def refused_prepare_is_forgotten_and_retried():
    """A named statement whose prepare fails (its table missing) answers the server's
    error, leaves the connection usable, and is prepared again next time: once the
    table exists the same name runs (a name wrongly kept as prepared would give
    26000, "prepared statement does not exist")."""
    pg = cluster()
    pg.sql("DROP TABLE IF EXISTS pg_later")
    try:
        with server(conns=1, threads=1) as srv:
            c = Conn(srv)
            for _ in range(2):
                r = fetch(c, "/pg/prepare-later")
                check_eq(r.status, 500, "the refused prepare")
                check_eq(r.json(), {"ret": -5, "sqlstate": "42P01"}, "-EIO with undefined_table")
                check_rows([json_ok(fetch(c, "/db"), "/db after")], pg.world(), "/db")
            pg.sql("CREATE TABLE pg_later (n int)")
            pg.sql("GRANT SELECT ON pg_later TO " + pg_cluster.USER)
            for _ in range(2):
                r = fetch(c, "/pg/prepare-later")
                check_eq(r.status, 200, f"once the table exists ({r.body[:200]!r})")
                check_eq(r.json(), {"ret": 0, "sqlstate": ""}, "answer")
            st = stats(c)
            check_eq(st["broken"], 0, "broken connections")
    finally:
        pg.sql("DROP TABLE IF EXISTS pg_later")



if __name__ == "__main__":
    h.main()
