"""FastAPI peer for perf/bench's TechEmpower (TFB) cases: the test types of ringo's demo.

`async def` routes use asyncpg (a connection pool on the event loop) at /db, /queries,
/fortunes, /updates and /cached-queries; plain `def` routes use psycopg2 (one blocking
connection per threadpool thread) at /sync/db, /sync/queries, /sync/fortunes and
/sync/updates: FastAPI's own rule for an awaitable driver and a blocking one.

The rules are those ringo's routes follow: `queries`/`count` missing, empty, non-numeric
or below 1 -> 1, above 500 -> 500; one SELECT per row (never `IN (...)`, never cached
except in /cached-queries); fortunes get one row added at request time, are sorted by
message in the application and HTML-escaped; updates read each row, give it a new random
number and write them back in one batch with the ids sorted (asyncpg's executemany:
one UPDATE per row, pipelined, in one transaction; psycopg2's execute_batch: the UPDATEs
in one query string, one implicit transaction). One bulk `UPDATE ... FROM (unnest(...))`
would take its row locks in the join's order, not the sorted one, and deadlock. Responses are built
directly (JSONResponse, HTMLResponse) as TFB's own FastAPI entry does, skipping FastAPI's
encoder.

The database: TFB_DSN (a libpq connection string, `key=value ...` or a URI), else the
libpq variables PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD. TFB_POOL: connections of
the asyncpg pool (default 32). Without a reachable database the routes answer 503.
Included by fastapi_app.py (its startup and shutdown handlers come along).
"""
import asyncio
import html
import os
import random
import threading

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

try:  # optional: the routes answer 503 without the drivers
    import asyncpg
except ImportError:  # pragma: no cover
    asyncpg = None
try:
    import psycopg2
    import psycopg2.extras
except ImportError:  # pragma: no cover
    psycopg2 = None

router = APIRouter()

DSN = os.environ.get("TFB_DSN", "")
POOL_SIZE = int(os.environ.get("TFB_POOL", "32"))
ROWS = 10000
SELECT_WORLD = "SELECT id, randomnumber FROM world WHERE id = $1"
SELECT_FORTUNES = "SELECT id, message FROM fortune"
UPDATE_WORLD = "UPDATE world SET randomnumber = $1 WHERE id = $2"
EXTRA_FORTUNE = "Additional fortune added at request time."
FORTUNES_HEAD = "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>" \
                "<tr><th>id</th><th>message</th></tr>"
FORTUNES_TAIL = "</table></body></html>"

_state = {"pool": None, "error": "not connected yet", "cache": None}
_local = threading.local()


def parse_dsn(dsn):
    """A libpq `key=value` string as asyncpg's keyword arguments (asyncpg parses URIs
    itself, and reads the PG* variables for what is left out)."""
    if "://" in dsn:
        return {"dsn": dsn}
    out, i, n = {}, 0, len(dsn)
    while i < n:
        while i < n and dsn[i].isspace():
            i += 1
        if i >= n:
            break
        eq = dsn.index("=", i)
        key = dsn[i:eq].strip()
        i = eq + 1
        while i < n and dsn[i].isspace():
            i += 1
        val = []
        if i < n and dsn[i] == "'":
            i += 1
            while i < n and dsn[i] != "'":
                if dsn[i] == "\\" and i + 1 < n:
                    i += 1
                val.append(dsn[i])
                i += 1
            i += 1
        else:
            while i < n and not dsn[i].isspace():
                val.append(dsn[i])
                i += 1
        out[key] = "".join(val)
    kw = {}
    names = {"host": "host", "hostaddr": "host", "port": "port", "dbname": "database",
             "user": "user", "password": "password"}
    for k, v in out.items():
        if k in names and not (k == "host" and "hostaddr" in out):
            kw[names[k]] = int(v) if k == "port" else v
    return kw


def count_param(text):
    """queries/count: missing, empty, non-numeric or < 1 -> 1; > 500 -> 500."""
    try:
        n = int(text)
    except (TypeError, ValueError):
        return 1
    return 1 if n < 1 else 500 if n > 500 else n


def unavailable(why):
    return PlainTextResponse(f"database unavailable: {why}\n", status_code=503)


def fortunes_page(rows):
    rows.append((0, EXTRA_FORTUNE))
    rows.sort(key=lambda r: r[1])
    body = "".join(f"<tr><td>{i}</td><td>{html.escape(m)}</td></tr>" for i, m in rows)
    return HTMLResponse(FORTUNES_HEAD + body + FORTUNES_TAIL)


def random_ids(n):
    return [random.randint(1, ROWS) for _ in range(n)]


# ---- async def: asyncpg on the event loop ----

@router.on_event("startup")
async def open_pool():
    if asyncpg is None:
        _state["error"] = "asyncpg is not installed"
        return
    try:
        _state["pool"] = await asyncpg.create_pool(min_size=POOL_SIZE, max_size=POOL_SIZE,
                                                   **parse_dsn(DSN))
        _state["error"] = None
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as e:
        _state["error"] = str(e) or type(e).__name__


@router.on_event("shutdown")
async def close_pool():
    if _state["pool"] is not None:
        await _state["pool"].close()


@router.get("/db")
async def db():
    pool = _state["pool"]
    if pool is None:
        return unavailable(_state["error"])
    async with pool.acquire() as conn:  # statements are prepared once per connection
        row = await conn.fetchrow(SELECT_WORLD, random.randint(1, ROWS))
    return JSONResponse({"id": row[0], "randomNumber": row[1]})


@router.get("/queries")
async def queries(queries: str = None):
    pool = _state["pool"]
    if pool is None:
        return unavailable(_state["error"])
    out = []
    async with pool.acquire() as conn:
        for i in random_ids(count_param(queries)):
            row = await conn.fetchrow(SELECT_WORLD, i)
            out.append({"id": row[0], "randomNumber": row[1]})
    return JSONResponse(out)


@router.get("/fortunes")
async def fortunes():
    pool = _state["pool"]
    if pool is None:
        return unavailable(_state["error"])
    async with pool.acquire() as conn:
        rows = [(r[0], r[1]) for r in await conn.fetch(SELECT_FORTUNES)]
    return fortunes_page(rows)


@router.get("/updates")
async def updates(queries: str = None):
    pool = _state["pool"]
    if pool is None:
        return unavailable(_state["error"])
    ids = sorted(random_ids(count_param(queries)))
    out = []
    async with pool.acquire() as conn:
        for i in ids:
            row = await conn.fetchrow(SELECT_WORLD, i)
            out.append({"id": row[0], "randomNumber": random.randint(1, ROWS)})
        await conn.executemany(UPDATE_WORLD, [(w["randomNumber"], w["id"]) for w in out])
    return JSONResponse(out)


@router.get("/cached-queries")
async def cached_queries(count: str = None):
    pool = _state["pool"]
    if pool is None:
        return unavailable(_state["error"])
    cache = _state["cache"]
    if cache is None:  # filled once, on first use
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT id, randomnumber FROM world")
        cache = _state["cache"] = {r[0]: {"id": r[0], "randomNumber": r[1]} for r in rows}
    return JSONResponse([cache[i] for i in random_ids(count_param(count))])


# ---- def: psycopg2 on the threadpool, one blocking connection per thread ----

def sync_conn():
    """This thread's connection, opened on first use and again after it broke."""
    conn = getattr(_local, "conn", None)
    if conn is not None and not conn.closed:
        return conn
    if psycopg2 is None:
        raise RuntimeError("psycopg2 is not installed")
    conn = psycopg2.connect(DSN)
    conn.autocommit = True
    _local.conn = conn
    return conn


def sync_run(fn):
    try:
        conn = sync_conn()
    except (RuntimeError, psycopg2.Error) as e:
        return unavailable(str(e).strip())
    try:
        with conn.cursor() as cur:
            return fn(cur)
    except psycopg2.OperationalError as e:
        conn.close()
        return unavailable(str(e).strip())


SELECT_WORLD_PY = "SELECT id, randomnumber FROM world WHERE id = %s"
UPDATE_WORLD_PY = "UPDATE world SET randomnumber = %s WHERE id = %s"


@router.get("/sync/db")
def sync_db():
    def q(cur):
        cur.execute(SELECT_WORLD_PY, (random.randint(1, ROWS),))
        row = cur.fetchone()
        return JSONResponse({"id": row[0], "randomNumber": row[1]})
    return sync_run(q)


def read_worlds(cur, ids):
    out = []
    for i in ids:
        cur.execute(SELECT_WORLD_PY, (i,))
        row = cur.fetchone()
        out.append({"id": row[0], "randomNumber": row[1]})
    return out


@router.get("/sync/queries")
def sync_queries(queries: str = None):
    n = count_param(queries)
    return sync_run(lambda cur: JSONResponse(read_worlds(cur, random_ids(n))))


@router.get("/sync/fortunes")
def sync_fortunes():
    def q(cur):
        cur.execute(SELECT_FORTUNES)
        return fortunes_page(list(cur.fetchall()))
    return sync_run(q)


@router.get("/sync/updates")
def sync_updates(queries: str = None):
    ids = sorted(random_ids(count_param(queries)))

    def q(cur):
        out = read_worlds(cur, ids)
        for w in out:
            w["randomNumber"] = random.randint(1, ROWS)
        psycopg2.extras.execute_batch(cur, UPDATE_WORLD_PY,
                                      [(w["randomNumber"], w["id"]) for w in out], page_size=500)
        return JSONResponse(out)
    return sync_run(q)
