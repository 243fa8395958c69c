"""
Description: PostgreSQL from sync handlers (ringo/pg.h, blocking libpq on the
pool) against a real server: the TechEmpower test types under /sync/ with
their bodies checked against the database, the queries= clamping rules,
exact content types and required headers, fortunes escaped and sorted, the
transaction dependency committing and rolling back, the statement timeout
(504, the connection reused afterwards), a killed backend recovered from,
an async handler refused, and a database that is down at start (503, not a
hang) and comes back.

A throw-away cluster (tests/integration/pg_cluster.py) is created next to
the server binary and removed at the end. Skips (77) only when PostgreSQL
15's server binaries are not installed.
"""

import html
import os
import re
import socket
import sys
import time

from ringo_harness import *
import pg_cluster

reason = pg_cluster.unavailable()
if reason:
    print(f"SKIP all: {reason}")
    sys.exit(EXIT_SKIP)

_bin = os.environ.get("RINGO_BIN") or "build/ringo"
PG = pg_cluster.Cluster(os.path.join(os.path.dirname(os.path.abspath(_bin)),
                                     f"pg-sync-{os.getpid()}"))
ARGS = ("--pool-threads", "2")


def pg_args():
    return ("--pg", PG.dsn, *ARGS)


def fetch(conn, target, method="GET"):
    r = conn.exchange(request(method, target))
    check_std_headers(r)
    return r


def check_json(r, what):
    check_eq(r.status, 200, f"{what} status ({r.body[:200]!r})")
    check_eq(r.header("content-type"), "application/json", f"{what} Content-Type")
    return r.json()


def check_worlds(rows, what):
    """Every {"id","randomNumber"} object as the database has it now."""
    for row in rows:
        check(isinstance(row, dict) and set(row) == {"id", "randomNumber"},
              f"{what}: bad row {row!r}")
        check(1 <= row["id"] <= 10000, f"{what}: id out of range {row!r}")
    db = PG.world({row["id"] for row in rows})
    for row in rows:
        check_eq(row["randomNumber"], db.get(row["id"]), f"{what}: randomNumber of id {row['id']}")


# The cluster starts before the cases are declared: their flags carry its DSN.
PG.start()


@case(args=pg_args())
def db_row_matches_the_database(srv):
    c = Conn(srv)
    rows = []
    for _ in range(20):
        row = check_json(fetch(c, "/sync/db"), "/sync/db")
        check(isinstance(row, dict), f"/sync/db must answer one object, got {row!r}")
        rows.append(row)
    check_worlds(rows, "/sync/db")


@case(args=pg_args())
def queries_rows_match_and_clamp(srv):
    c = Conn(srv)
    for target, n in (("/sync/queries?queries=5", 5), ("/sync/queries?queries=20", 20),
                      ("/sync/queries?queries=500", 500), ("/sync/queries", 1),
                      ("/sync/queries?queries=", 1), ("/sync/queries?queries=abc", 1),
                      ("/sync/queries?queries=0", 1), ("/sync/queries?queries=-3", 1),
                      ("/sync/queries?queries=501", 500),
                      ("/sync/queries?queries=99999999999999999999", 500)):
        rows = check_json(fetch(c, target), target)
        check(isinstance(rows, list), f"{target} must answer an array, got {rows!r}")
        check_eq(len(rows), n, f"rows of {target}")
        check_worlds(rows, target)


@case(args=pg_args())
def updates_are_written_back(srv):
    c = Conn(srv)
    for target, n in (("/sync/updates?queries=20", 20), ("/sync/updates?queries=500", 500),
                      ("/sync/updates", 1), ("/sync/updates?queries=x", 1),
                      ("/sync/updates?queries=0", 1), ("/sync/updates?queries=501", 500)):
        rows = check_json(fetch(c, target), target)
        check(isinstance(rows, list), f"{target} must answer an array, got {rows!r}")
        check_eq(len(rows), n, f"rows of {target}")
        # A row read twice shows one number: the one the database now holds.
        check_worlds(rows, target)


@case(args=pg_args())
def updates_change_the_rows(srv):
    before = PG.world()
    rows = check_json(fetch(Conn(srv), "/sync/updates?queries=100"), "updates")
    ids = {r["id"] for r in rows}
    after = PG.world(ids)
    changed = sum(1 for i in ids if after[i] != before[i])
    check_eq(changed, len(ids), "rows whose randomNumber changed")


FORTUNE_ROW = re.compile(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", re.S)


@case(args=pg_args())
def fortunes_escaped_and_sorted(srv):
    r = fetch(Conn(srv), "/sync/fortunes")
    check_eq(r.status, 200, "/sync/fortunes status")
    check_eq(r.header("content-type"), "text/html; charset=utf-8", "/sync/fortunes Content-Type")
    body = r.body.decode("utf-8")
    check(body.startswith("<!DOCTYPE html><html><head><title>Fortunes</title></head><body>"
                          "<table><tr><th>id</th><th>message</th></tr>"), f"head: {body[:200]!r}")
    check(body.endswith("</table></body></html>"), f"tail: {body[-60:]!r}")
    check("<script>" not in body, "the <script> fortune must be escaped")
    check("&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box."
          "&quot;);&lt;/script&gt;" in body, "escaped <script> fortune")
    rows = [(int(i), html.unescape(m)) for i, m in FORTUNE_ROW.findall(body)]
    db = {int(i): m for i, m in PG.sql("SELECT id, message FROM fortune")}
    db[0] = pg_cluster.EXTRA_FORTUNE
    check_eq(dict(rows), db, "fortunes (id -> message)")
    check_eq(len(rows), 13, "fortune rows")
    messages = [m for _, m in rows]
    check_eq(messages, sorted(messages), "fortunes sorted by message")
    check("\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"
          in body, "the Japanese fortune, UTF-8")


@case(args=pg_args())
def transaction_commits_or_rolls_back(srv):
    c = Conn(srv)
    PG.sql("UPDATE world SET randomnumber = 1 WHERE id IN (11, 12, 13)")
    r = fetch(c, "/sync/tx/world/11?number=4242", "POST")
    check_eq(r.json(), {"id": 11, "randomNumber": 4242}, "committed answer")
    r = fetch(c, "/sync/tx/world/12?number=4343&fail=500", "POST")
    check_eq(r.status, 500, "an error after the update")
    r = fetch(c, "/sync/tx/world/13?number=4444&fail=409", "POST")
    check_eq(r.status, 409, "ringo_fail(409) after the update")
    check_eq(PG.world([11, 12, 13]), {11: 4242, 12: 1, 13: 1},
             "committed once, rolled back twice")
    # The connections went back clean: a request on each worker sees no open transaction.
    for _ in range(4):
        check_json(fetch(c, "/sync/db"), "/sync/db after the transactions")


@case(args=pg_args())
def statement_timeout_504_then_reused(srv):
    c = Conn(srv)
    r = fetch(c, "/sync/pg/sleep?ms=5000")
    check_eq(r.status, 504, "pg_sleep past the 200 ms statement timeout")
    check_eq(r.json(), {"detail": "database statement timed out"}, "504 body")
    r = fetch(c, "/sync/pg/sleep?ms=1")
    check_eq(r.status, 200, "a short sleep on the same connection")
    check_worlds([check_json(fetch(c, "/sync/db"), "/sync/db")], "after the timeout")


@case(args=pg_args())
def async_handler_is_refused(srv):
    body = check_json(fetch(Conn(srv), "/pg/async-refused"), "/pg/async-refused")
    check_eq(body["acquire"], body["eperm"], "ringo_pg_acquire() from an async handler")


@case(args=pg_args())
def killed_backend_is_replaced(srv):
    c = Conn(srv)
    for _ in range(6):
        check_json(fetch(c, "/sync/db"), "/sync/db before")
    check(PG.backends() >= 1, "the server holds connections")
    killed = PG.terminate_backends()
    check(killed >= 1, "pg_terminate_backend() found the server's connections")
    for _ in range(10):
        check_worlds([check_json(fetch(c, "/sync/db"), "/sync/db after the kill")], "recovered")


@case(args=pg_args())
def many_keepalive_clients(srv):
    """TFB's load: 512 concurrent keep-alive clients, every answer a 200."""
    raise_nofile(1200)
    conns = [Conn(srv) for _ in range(512)]
    for round_, target in enumerate(("/sync/db", "/sync/queries?queries=2", "/sync/fortunes")):
        for c in conns:
            c.send(get(target))
        for i, c in enumerate(conns):
            r = c.read_response(timeout=6 * TIMEOUT)
            check_std_headers(r)
            check_eq(r.status, 200, f"client {i}, round {round_}: {target} ({r.body[:100]!r})")


@case(server=False)
def silent_database_times_out_503():
    """A peer that accepts TCP but never answers libpq's startup packet: the
    connect gives up after connect_timeout (2 s in the demo), 503, no hang."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    dsn = (f"host=127.0.0.1 hostaddr=127.0.0.1 port={silent.getsockname()[1]} "
           "dbname=hello_world user=benchmarkdbuser password=benchmarkdbpass")
    try:
        with Server(("--pg", dsn, *ARGS)) as srv:
            c = Conn(srv)
            for target in ("/sync/db", "/sync/fortunes"):
                r = c.exchange(get(target))
                check_eq(r.status, 503, f"{target} with a silent database")
                check_eq(r.json(), {"detail": "database unavailable"}, "503 body")
    finally:
        silent.close()


@case(server=False)
def env_variables_find_the_database():
    saved = dict(os.environ)
    os.environ.update(PG.env())
    try:
        with Server(ARGS) as srv:
            check_json(fetch(Conn(srv), "/sync/db"), "/sync/db with PG* variables")
    finally:
        os.environ.clear()
        os.environ.update(saved)


class env_set:
    """os.environ with extra variables while a server starts (the demo reads them at start)."""

    def __init__(self, **kw):
        self.kw, self.saved = kw, None

    def __enter__(self):
        self.saved = dict(os.environ)
        os.environ.update(self.kw)

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


def wait_sleeping(timeout=10):
    for _ in range(int(timeout / 0.02)):
        rows = PG.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                      "'SELECT pg_sleep%' AND state = 'active'", db="postgres")
        if int(rows[0][0]) > 0:
            return
        time.sleep(0.02)
    raise Failure("pg_sleep never started on the server")


@case(server=False)
def max_conns_reached_answers_503_busy():
    """max_conns 1: while one request holds the only connection, another waits
    acquire_timeout_ms (1 s) and gets -EAGAIN: 503 "database busy"; then both work."""
    with env_set(RINGO_DEMO_PG_MAX_CONNS="1"), Server(pg_args()) as srv:
        holder, other = Conn(srv), Conn(srv)
        check_json(fetch(other, "/sync/db"), "/sync/db before")
        # Long enough to outlast wait_sleeping()'s psql runs and the 1 s wait on a loaded
        # machine (LONG_MS of tests/integration/pg_demo.py).
        holder.send(get("/sync/pg/sleep?ms=6000&timeout_ms=10000"))
        wait_sleeping()
        r = fetch(other, "/sync/db")
        check_eq(r.status, 503, "/sync/db while the only connection is held")
        check_eq(r.json(), {"detail": "database busy: no free connection"}, "503 body")
        check_eq(r.header("retry-after"), "1", "Retry-After")
        r = holder.read_response(timeout=TIMEOUT + 6)
        check_eq(r.status, 200, "the request that held the connection")
        check_worlds([check_json(fetch(other, "/sync/db"), "/sync/db after")], "after")
        check(PG.backends() <= 1, "max_conns 1: at most one connection to the server")


@case(server=False)
def config_statement_timeout_fires_504_then_reused():
    """statement_timeout_ms from the config (300 ms): a statement past it is 504; a
    per-query timeout overrides it and the connection's is restored after, in both
    the single-statement and the batch path."""
    with env_set(RINGO_DEMO_PG_STATEMENT_TIMEOUT_MS="300"), Server(pg_args()) as srv:
        c = Conn(srv)
        for mode in ("", "&batch=1"):
            r = fetch(c, f"/sync/pg/sleep?ms=3000&timeout_ms=0{mode}")
            check_eq(r.status, 504, f"past the configured statement timeout{mode}")
            check_eq(r.json(), {"detail": "database statement timed out"}, "504 body")
            r = fetch(c, f"/sync/pg/sleep?ms=600&timeout_ms=5000{mode}")
            check_eq(r.status, 200, f"a per-query timeout above the configured one{mode}")
            r = fetch(c, f"/sync/pg/sleep?ms=600&timeout_ms=0{mode}")
            check_eq(r.status, 504, f"the configured timeout again after the per-query one{mode}")
            r = fetch(c, f"/sync/pg/sleep?ms=1&timeout_ms=0{mode}")
            check_eq(r.status, 200, f"a short statement on the same connection{mode}")
        for _ in range(4):
            rows = check_json(fetch(c, "/sync/queries?queries=20"), "/sync/queries after")
            check_worlds(rows, "after the timeouts")


@case(server=False)
def database_down_at_start_then_up():
    """Last: it stops the shared cluster and starts it again on the same port."""
    PG.stop()
    try:
        with Server(pg_args()) as srv:
            c = Conn(srv)
            for target in ("/sync/db", "/sync/queries?queries=3", "/sync/fortunes",
                           "/sync/updates?queries=2", "/sync/db"):
                r = fetch(c, target)
                check_eq(r.status, 503, f"{target} with the database down")
                check_eq(r.json(), {"detail": "database unavailable"}, f"{target} 503 body")
                check_eq(r.header("retry-after"), "1", "Retry-After")
            PG.start()
            check_worlds([check_json(fetch(c, "/sync/db"), "/sync/db once it is up")], "up")
            r = fetch(c, "/sync/fortunes")
            check_eq(r.status, 200, "/sync/fortunes once it is up")
            # Down again while the workers hold connections: 503s, then back.
            PG.stop()
            for _ in range(4):
                r = fetch(c, "/sync/db")
                check_eq(r.status, 503, "/sync/db after the database went down")
            PG.start()
            for _ in range(4):
                check_json(fetch(c, "/sync/db"), "/sync/db after the second restart")
    finally:
        PG.start()


if __name__ == "__main__":
    try:
        main()
    finally:
        PG.destroy()
