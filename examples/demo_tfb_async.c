/*
 * examples/demo_tfb_async.c - the TechEmpower Framework Benchmarks test types
 * on PostgreSQL for async handlers (ringo/pg.h, async section): /db,
 * /queries, /fortunes, /updates, /cached-queries, each a coroutine on its
 * ring whose queries go through the ring's pipelined connections. Plus
 * /pg/sleep?ms= (a pg_sleep, for cancellation tests; /pg/sleep-deadline has
 * a 300 ms route deadline) and /pg/stats (the pool's counters).
 *
 * The rules followed (TFB "test type requirements"): one SELECT per row,
 * pipelined, never merged with IN (...); queries/count clamped to 1..500
 * (missing, empty, non-numeric or 0: 1); updates write new random numbers
 * with one bulk UPDATE per request, ids sorted; fortunes sorted and escaped
 * here, in the application.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ringo.h>

#include "demo.h"
#include "demo_tfb.h"

#ifdef RINGO_WITH_PG
#include <ringo/pg.h>

static ringo_pg *pg;
static ringo_pg_async *pool;
static const char *pool_error; /* why there is no pool: answered with the 503s */

/* A failed ringo_pg_run() as an HTTP answer: 503, 504 or 500 (ringo_pg_fail()). */
static int db_error(ringo_req *req, int err)
{
    return err == -ECANCELED ? err : ringo_pg_fail(req, err); /* cancelled: nobody listens */
}

static int no_pool(ringo_req *req)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "database unavailable: %s\n", pool_error);

    return ringo_respond(req, 503, "text/plain", msg, (size_t)n);
}

/* n random rows, one pipelined SELECT each, in one batch (one round trip). */
static int read_worlds(ringo_req *req, tfb_world *w, unsigned n)
{
    ringo_pg_query *q;
    PGresult **res;
    int ret = tfb_world_queries(req, n, &q, &res);

    if (ret == 0 && (ret = ringo_pg_run(pool, q, n, res, 0)) == 0)
        ret = tfb_worlds(res, n, w);
    ringo_pg_results_clear(res, n);
    return ret;
}

/* ---- routes ---- */

static int db_route(ringo_req *req, void *udata)
{
    tfb_world w;
    int ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if ((ret = read_worlds(req, &w, 1)) < 0)
        return db_error(req, ret);
    return tfb_respond_worlds(req, &w, 1, false);
}

static int queries_route(ringo_req *req, void *udata)
{
    unsigned n = (unsigned)demo_tfb_count(req, "queries");
    tfb_world *w = ringo_req_alloc(req, n * sizeof(*w));
    int ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if (!w)
        return -ENOMEM;
    if ((ret = read_worlds(req, w, n)) < 0)
        return db_error(req, ret);
    return tfb_respond_worlds(req, w, n, true);
}

static int updates_route(ringo_req *req, void *udata)
{
    unsigned n = (unsigned)demo_tfb_count(req, "queries");
    tfb_world *w = ringo_req_alloc(req, n * sizeof(*w));
    ringo_pg_query up;
    PGresult *res = NULL;
    int ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if (!w)
        return -ENOMEM;
    if ((ret = read_worlds(req, w, n)) < 0)
        return db_error(req, ret);
    if ((ret = tfb_update_query(req, w, n, &up)) < 0)
        return ret;
    ret = ringo_pg_run(pool, &up, 1, &res, 0);
    ringo_pg_results_clear(&res, 1);
    if (ret < 0)
        return db_error(req, ret);
    return tfb_respond_worlds(req, w, n, true);
}

static int fortunes_route(ringo_req *req, void *udata)
{
    PGresult *res = NULL;
    int ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if ((ret = ringo_pg_run(pool, &tfb_fortune_query, 1, &res, 0)) == 0)
        ret = tfb_respond_fortunes(req, res);
    ringo_pg_results_clear(&res, 1);
    return ret < 0 ? db_error(req, ret) : ret;
}

/*
 * The cached-queries cache: every World row, loaded once by the first
 * request that needs it, then read-only. Published with a release store and
 * read with acquire loads, so any ring sees a complete table; two rings
 * loading at once each build one, the loser frees its own.
 */
static _Atomic(int *) cache;

static int cache_load(void)
{
    ringo_pg_query q = {.sql = "SELECT id, randomnumber FROM world"};
    int *rows, *expected = NULL;
    PGresult *res;
    int ret;

    if ((ret = ringo_pg_run(pool, &q, 1, &res, 0)) < 0) {
        ringo_pg_results_clear(&res, 1);
        return ret;
    }
    if (!(rows = calloc(TFB_WORLD_ROWS + 1, sizeof(*rows)))) {
        ringo_pg_results_clear(&res, 1);
        return -ENOMEM;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int id = atoi(PQgetvalue(res, i, 0));
        if (id >= 1 && id <= TFB_WORLD_ROWS)
            rows[id] = atoi(PQgetvalue(res, i, 1));
    }
    ringo_pg_results_clear(&res, 1);
    if (!atomic_compare_exchange_strong_explicit(&cache, &expected, rows, memory_order_acq_rel,
                                                 memory_order_acquire))
        free(rows);
    return 0;
}

static int cached_route(ringo_req *req, void *udata)
{
    unsigned n = (unsigned)demo_tfb_count(req, "count");
    tfb_world *w = ringo_req_alloc(req, n * sizeof(*w));
    int *rows, ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if (!w)
        return -ENOMEM;
    if (!atomic_load_explicit(&cache, memory_order_acquire) && (ret = cache_load()) < 0)
        return db_error(req, ret);
    rows = atomic_load_explicit(&cache, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        w[i].id = tfb_random_id();
        w[i].rn = rows[w[i].id];
    }
    return tfb_respond_worlds(req, w, n, true);
}

static int sleep_route(ringo_req *req, void *udata)
{
    uint64_t ms = demo_query_u64(req, "ms", 100, 60000);
    char secs[32], body[64];
    const char *vals[1] = {secs};
    ringo_pg_query q = {.sql = "SELECT pg_sleep($1)", .nparams = 1, .values = vals};
    PGresult *res;
    int ret, n;

    (void)udata;
    if (!pool)
        return no_pool(req);
    snprintf(secs, sizeof(secs), "%.3f", (double)ms / 1000.0);
    ret = ringo_pg_run(pool, &q, 1, &res, 0);
    ringo_pg_results_clear(&res, 1);
    if (ret < 0)
        return db_error(req, ret);
    n = snprintf(body, sizeof(body), "slept %llu ms\n", (unsigned long long)ms);
    return ringo_respond(req, 200, "text/plain", body, (size_t)n);
}

static int stats_route(ringo_req *req, void *udata)
{
    ringo_pg_async_stats s = {0};

    (void)udata;
    if (pool)
        ringo_pg_async_stats_get(pool, &s);
    demo_count c[] = {{"conns_open", (int64_t)s.conns_open},
                      {"connects", (int64_t)s.connects},
                      {"broken", (int64_t)s.broken},
                      {"batches", (int64_t)s.batches},
                      {"abandoned", (int64_t)s.abandoned}};
    return demo_json_counts(req, 200, c, sizeof(c) / sizeof(c[0]));
}

/* ---- transactions across awaits (ringo_pg_tx), and a prepare the server refuses ---- */

static ringo_dep *dep_atx;

static const char tx_update_sql[] = "UPDATE world SET randomnumber = $2 WHERE id = $1";

/* The {id} path parameter and ?number= as text parameters, in the arena. */
static int tx_params(ringo_req *req, const char **vals)
{
    ringo_str id;
    char *idz, *num = ringo_req_alloc(req, 12);

    if (ringo_req_path_param(req, "id", &id) < 0 || !num ||
        !(idz = ringo_req_alloc(req, id.len + 1)))
        return -EINVAL;
    memcpy(idz, id.ptr, id.len);
    idz[id.len] = '\0';
    snprintf(num, 12, "%d", (int)demo_query_u64(req, "number", 1, TFB_WORLD_ROWS));
    vals[0] = idz;
    vals[1] = num;
    return 0;
}

/* The UPDATE, then (sleep_ms > 0) a pg_sleep in a second batch of the same transaction. */
static int tx_work(ringo_req *req, ringo_pg_tx *tx, const char **vals)
{
    char secs[32];
    const char *sv[1] = {secs};
    ringo_pg_query up = {.sql = tx_update_sql, .name = "tx_up", .nparams = 2, .values = vals};
    ringo_pg_query zz = {.sql = "SELECT pg_sleep($1)", .nparams = 1, .values = sv};
    uint64_t ms = demo_query_u64(req, "sleep_ms", 0, 60000);
    PGresult *res = NULL;
    int ret = ringo_pg_tx_run(tx, &up, 1, &res, 0);

    ringo_pg_results_clear(&res, 1);
    if (ret == 0 && ms) {
        snprintf(secs, sizeof(secs), "%.3f", (double)ms / 1000.0);
        ret = ringo_pg_tx_run(tx, &zz, 1, &res, 0);
        ringo_pg_results_clear(&res, 1);
    }
    return ret;
}

static int tx_answer(ringo_req *req, const char **vals)
{
    demo_count c[] = {{"id", atoi(vals[0])}, {"randomNumber", atoi(vals[1])}};

    return demo_json_counts(req, 200, c, 2);
}

/*
 * POST /pg/tx/world/{id}?number=N[&sleep_ms=M][&fail=500|409]: sets the
 * row's number in the dependency's transaction, then optionally sleeps in
 * the database in a second batch of it; the teardown commits, or rolls
 * back after a failure (fail=), a hang-up or the route deadline
 * (/pg/tx-deadline/... has 300 ms).
 */
static int tx_dep_route(ringo_req *req, void *udata)
{
    ringo_pg_tx *tx = RINGO_DEP(req, dep_atx, ringo_pg_tx);
    uint64_t fail = demo_query_u64(req, "fail", 0, 999);
    const char *vals[2];
    int ret;

    (void)udata;
    if (!tx || tx_params(req, vals) < 0)
        return -EINVAL;
    if ((ret = tx_work(req, tx, vals)) < 0)
        return db_error(req, ret);
    if (fail >= 500)
        return -EIO;
    if (fail >= 400)
        return ringo_fail(req, (int)fail, "failed after the update");
    return tx_answer(req, vals);
}

/*
 * POST /pg/tx-raw/world/{id}?number=N[&sleep_ms=M][&commit=1][&refused_first=1]: the same
 * with the handle alone. commit=1: COMMIT pipelined with a SELECT of the row
 * inside the transaction, answered with what that SELECT saw; else the
 * handler returns with the transaction open, and the request's end rolls it
 * back.
 */
static int tx_raw_route(ringo_req *req, void *udata)
{
    ringo_pg_query sel = {.sql = "SELECT id, randomnumber FROM world WHERE id = $1", .nparams = 1};
    const char *vals[2];
    ringo_pg_tx *tx;
    PGresult *res = NULL;
    tfb_world w;
    int ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if (tx_params(req, vals) < 0)
        return -EINVAL;
    if ((ret = ringo_pg_tx_begin(pool, req, &tx)) < 0)
        return db_error(req, ret);
    if (demo_query_u64(req, "refused_first", 0, 1)) {
        /* A batch refused before it is sent (the name tx_up with another text: -EINVAL);
         * the transaction goes on, its BEGIN still to come. */
        ringo_pg_query bad = {.sql = "SELECT 1", .name = "tx_up"};
        if ((ret = ringo_pg_tx_run(tx, &bad, 1, &res, 0)) != -EINVAL)
            return ringo_fail(req, 500, "the reused name was not refused");
    }
    if ((ret = tx_work(req, tx, vals)) < 0)
        return db_error(req, ret);
    if (!demo_query_u64(req, "commit", 0, 1))
        return tx_answer(req, vals); /* left open: rolled back at the request's end */
    sel.values = vals;
    ret = ringo_pg_tx_commit(tx, &sel, 1, &res, 0);
    if (ret == 0)
        ret = tfb_worlds(&res, 1, &w);
    ringo_pg_results_clear(&res, 1);
    return ret < 0 ? db_error(req, ret) : tfb_respond_worlds(req, &w, 1, false);
}

/*
 * GET /pg/prepare-later: a named statement on a table that may not exist
 * (pg_later). The failed prepare answers 500 with its SQLSTATE; once the
 * table exists the same name prepares and runs (the failure was forgotten).
 */
static int prepare_later_route(ringo_req *req, void *udata)
{
    ringo_pg_query q = {.sql = "SELECT count(*) FROM pg_later", .name = "later"};
    PGresult *res = NULL;
    ringo_json_w j;
    int ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    ret = ringo_pg_run(pool, &q, 1, &res, 0);
    ringo_json_begin(&j, req);
    ringo_json_obj(&j);
    ringo_json_key(&j, "ret");
    ringo_json_int(&j, ret);
    ringo_json_key(&j, "sqlstate");
    ringo_json_cstr(&j, res && ret == -EIO ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "");
    ringo_json_end(&j);
    ringo_pg_results_clear(&res, 1);
    return ringo_json_respond(&j, ret == 0 ? 200 : 500);
}

static int tx_routes(ringo_app *app)
{
    static const char *const needs[] = {"db_atx", NULL};
    ringo_route_opts o = {.needs = needs, .spec = demo_tfb_spec("/tx/world/{id}")};
    ringo_route_opts dl = o;
    int ret = 0;

    dl.deadline_ms = 300;
    if (pool)
        ret = ringo_pg_tx_dep_new(&dep_atx, app, "db_atx", pool);
    else
        o.needs = dl.needs = NULL; /* no pool: the handlers answer 503 */
    if (ret == 0)
        ret = ringo_route_ex(app, "POST", "/pg/tx/world/{id}", RINGO_ASYNC,
                             pool ? tx_dep_route : tx_raw_route, NULL, &o);
    if (ret == 0)
        ret = ringo_route_ex(app, "POST", "/pg/tx-deadline/world/{id}", RINGO_ASYNC,
                             pool ? tx_dep_route : tx_raw_route, NULL, &dl);
    if (ret == 0)
        ret = ringo_route_ex(app, "POST", "/pg/tx-raw/world/{id}", RINGO_ASYNC, tx_raw_route, NULL,
                             &(ringo_route_opts){.spec = demo_tfb_spec("/pg/tx-raw/world/{id}")});
    if (ret == 0)
        ret = demo_tfb_route(app, "/pg/prepare-later", RINGO_ASYNC, prepare_later_route, NULL);
    return ret;
}

static int free_pool(ringo_app *app, void *udata)
{
    (void)app, (void)udata;
    ringo_pg_async_free(pool);
    pool = NULL;
    ringo_pg_free(pg);
    pg = NULL;
    free(atomic_exchange(&cache, NULL));
    return 0;
}

static int make_pool(ringo_app *app, const char *dsn)
{
    /* Test knobs: RINGO_DEMO_PG_CONNS connections per ring (the tests use 1 to share
     * one), RINGO_DEMO_PG_MAX_PENDING batches in flight per connection. */
    const char *conns = getenv("RINGO_DEMO_PG_CONNS");
    const char *pending = getenv("RINGO_DEMO_PG_MAX_PENDING");
    ringo_pg_async_opts o = {.conns_per_ring = conns ? (unsigned)atoi(conns) : 4,
                             .max_pending = pending ? (unsigned)atoi(pending) : 0,
                             .retry_max_ms = 1000};
    ringo_pg_config cfg;
    int ret;

    ringo_pg_config_init(&cfg);
    cfg.dsn = dsn;
    cfg.statement_timeout_ms = 10000;
    if ((ret = ringo_pg_new(&pg, app, &cfg)) < 0)
        return ret;
    ret = ringo_pg_async_new(&pool, pg, &o);
    if (ret < 0) {
        pool_error = ret == -EINVAL ? "bad connection string" : ringo_strerror(ret);
        fprintf(stderr, "ringo: pg: %s: async routes answer 503\n", pool_error);
    }
    return 0;
}

int demo_tfb_async_routes(ringo_app *app, const char *dsn)
{
    static const struct {
        const char *path;
        ringo_handler_fn fn;
    } routes[] = {{"/db", db_route},
                  {"/queries", queries_route},
                  {"/updates", updates_route},
                  {"/fortunes", fortunes_route},
                  {"/cached-queries", cached_route},
                  {"/pg/sleep", sleep_route},
                  {"/pg/stats", stats_route}};
    ringo_route_opts dl = {.deadline_ms = 300};
    int ret = make_pool(app, dsn);

    for (size_t i = 0; ret == 0 && i < sizeof(routes) / sizeof(routes[0]); i++)
        ret = demo_tfb_route(app, routes[i].path, RINGO_ASYNC, routes[i].fn, NULL);
    if (ret == 0)
        ret = demo_tfb_route(app, "/pg/sleep-deadline", RINGO_ASYNC, sleep_route, &dl);
    if (ret == 0)
        ret = tx_routes(app);
    if (ret == 0)
        ret = ringo_app_on_shutdown(app, "pg async pool", free_pool, NULL);
    return ret;
}

#else /* !RINGO_WITH_PG */

int demo_tfb_async_routes(ringo_app *app, const char *dsn)
{
    (void)app, (void)dsn;
    return 0;
}

#endif
