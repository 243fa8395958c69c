"""
Helpers of the PostgreSQL integration tests that drive the demo's async
routes (test_pg_async.py, test_pg_tx.py): the file's cluster (started once,
stopped by PID at exit), the server with its pool knobs, and checks of rows
against the database.
"""
import atexit
import os
import time

import pg_cluster
import ringo_harness as h
from ringo_harness import Server, check, check_eq, check_std_headers, get

BUILD = os.path.dirname(os.environ.get("RINGO_BIN", "build/ringo"))
# A pg_sleep a test acts on while it runs (hangs up, kills its backend, waits for its
# connection) outlasts what the test does between seeing it start and acting, psql
# runs included, on a loaded machine; under the demo pools' 10 s statement_timeout.
LONG_MS = 6000
_cluster = None


def cluster():
    """The test cluster, started once for the file (stopped by PID at exit)."""
    global _cluster
    if _cluster is None:
        reason = pg_cluster.unavailable()
        if reason:
            raise h.Skip(reason)
        _cluster = pg_cluster.Cluster(os.path.join(BUILD, f"pg-async-{os.getpid()}"))
        atexit.register(_cluster.destroy)
        _cluster.start()
    elif not _cluster.running():
        _cluster.start()
    return _cluster


def server(conns=4, threads=2, dsn=None, max_pending=0):
    os.environ["RINGO_DEMO_PG_CONNS"] = str(conns)
    os.environ["RINGO_DEMO_PG_MAX_PENDING"] = str(max_pending)
    return Server(["--pg", dsn or cluster().dsn, "--quiet"], threads=threads)


def fetch(c, path, timeout=None):
    c.send(get(path))
    return c.read_response(timeout=timeout)


def json_ok(r, what):
    check_eq(r.status, 200, f"{what} status ({r.body[:200]!r})")
    check_std_headers(r)
    check_eq(r.header("content-type"), "application/json", f"{what} content type")
    return r.json()


def check_rows(rows, db, what):
    for row in rows:
        check(set(row) == {"id", "randomNumber"}, f"{what}: keys of {row!r}")
        check(1 <= row["id"] <= 10000, f"{what}: id out of range in {row!r}")
        check_eq(row["randomNumber"], db[row["id"]], f"{what}: randomNumber of id {row['id']}")


def stats(c):
    return json_ok(fetch(c, "/pg/stats"), "/pg/stats")


def wait_sleeping(pg, timeout=None):
    deadline = time.monotonic() + (timeout or h.TIMEOUT)
    while time.monotonic() < deadline:
        rows = pg.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' "
                      "AND state = 'active'", db="postgres")
        if int(rows[0][0]) > 0:
            return
        time.sleep(0.02)
    raise h.Failure("pg_sleep never started on the server")


def later_requests_get_their_rows(c, pg, what, behind_ms=0):
    """behind_ms: the first request may queue that long behind an abandoned query."""
    db = pg.world()
    for n in (1, 3, 20):
        wait = h.TIMEOUT + behind_ms / 1000 if n == 1 else None
        rows = json_ok(fetch(c, f"/queries?queries={n}", wait), f"{what}: /queries?queries={n}")
        check_eq(len(rows), n, f"{what}: rows")
        check_rows(rows, db, f"{what}: /queries?queries={n}")
