/*
 * examples/demo_tfb.c - the TechEmpower Framework Benchmarks test types on
 * PostgreSQL (ringo/pg.h). The sync versions run on the pool with blocking
 * libpq: /sync/db, /sync/queries, /sync/fortunes, /sync/updates, each per
 * the TFB test type requirements (one SELECT per row, fortunes sorted in
 * the application and escaped, updates written back with one bulk UPDATE).
 * /sync/tx/world/{id} and /sync/pg/sleep show the transaction dependency
 * and the statement timeout.
 *
 * The database is found the way libpq finds it: the --pg DSN, else the
 * PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD environment variables.
 * Without a reachable database the routes answer 503.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringo.h>
#include <ringo/lifespan.h>

#include "demo.h"
#include "demo_tfb.h"

/* ---- declarations for /openapi.json: the database routes of both modes ---- */

const char *const demo_tag_db[] = {"database", NULL};

/* queries= and count= stay strings: TechEmpower's rules turn anything into 1..500. */
struct q_tfb {
    ringo_str n;
};
static const ringo_field queries_fields[] = {
    {.name = "queries",
     .in = RINGO_LOC_QUERY,
     RINGO_AS_STRING(struct q_tfb, n),
     RINGO_DEFAULT_STRING("1"),
     .description = "Rows to read, 1..500; missing, empty, not a number or 0 is 1, above 500 "
                    "is 500."},
    {0}};
static const ringo_field count_fields[] = {
    {.name = "count",
     .in = RINGO_LOC_QUERY,
     RINGO_AS_STRING(struct q_tfb, n),
     RINGO_DEFAULT_STRING("1"),
     .description = "Cached rows to read, clamped like queries=."},
    {0}};
static const ringo_field ms_fields[] = {
    {.name = "ms",
     .in = RINGO_LOC_QUERY,
     RINGO_AS_STRING(struct q_tfb, n),
     RINGO_DEFAULT_STRING("0"),
     .description = "Milliseconds the database sleeps (pg_sleep)."},
    {0}};
struct p_world {
    ringo_str id;
};
static const ringo_field world_fields[] = {{.name = "id",
                                            .in = RINGO_LOC_PATH,
                                            RINGO_AS_STRING(struct p_world, id),
                                            .description = "A world row's id."},
                                           {0}};
static const ringo_model queries_params = {RINGO_MODEL_OF(struct q_tfb), .fields = queries_fields};
static const ringo_model count_params = {RINGO_MODEL_OF(struct q_tfb), .fields = count_fields};
static const ringo_model ms_params = {RINGO_MODEL_OF(struct q_tfb), .fields = ms_fields};
static const ringo_model world_params = {RINGO_MODEL_OF(struct p_world), .fields = world_fields};

static const struct {
    const char *path; /* without the /sync prefix of the pool's copies */
    ringo_route_spec spec;
} tfb_specs[] = {
    {"/db", {.tags = demo_tag_db, .summary = "One random world row (TechEmpower single query)"}},
    {"/queries",
     {.tags = demo_tag_db,
      .summary = "N random world rows, one query each (TechEmpower multiple queries)",
      .params = &queries_params}},
    {"/fortunes",
     {.tags = demo_tag_db, .summary = "Every fortune plus one, sorted, as HTML (TechEmpower)"}},
    {"/updates",
     {.tags = demo_tag_db,
      .summary = "N random world rows given new numbers (TechEmpower updates)",
      .params = &queries_params}},
    {"/cached-queries",
     {.tags = demo_tag_db,
      .summary = "N world rows from a cache (TechEmpower cached queries)",
      .params = &count_params}},
    {"/pg/sleep",
     {.tags = demo_tag_db, .summary = "A query that sleeps in the database", .params = &ms_params}},
    {"/pg/sleep-deadline",
     {.tags = demo_tag_db,
      .summary = "A sleeping query under a 300 ms route deadline",
      .params = &ms_params}},
    {"/pg/stats", {.tags = demo_tag_db, .summary = "The async pool's counters"}},
    {"/tx/world/{id}",
     {.tags = demo_tag_db,
      .summary = "Sets a row's number in the dependency's transaction",
      .params = &world_params}},
    {"/pg/tx-raw/world/{id}",
     {.tags = demo_tag_db,
      .summary = "Sets a row's number in a transaction the handler begins (ringo_pg_tx)",
      .params = &world_params}},
    {"/pg/prepare-later",
     {.tags = demo_tag_db, .summary = "A named statement on a table that may be missing"}},
    {"/pg/async-refused",
     {.tags = demo_tag_db, .summary = "The blocking pool refused from an async handler"}},
};

const ringo_route_spec *demo_tfb_spec(const char *path)
{
    if (!strncmp(path, "/sync/", 6))
        path += 5;
    for (size_t i = 0; i < sizeof(tfb_specs) / sizeof(tfb_specs[0]); i++)
        if (!strcmp(tfb_specs[i].path, path))
            return &tfb_specs[i].spec;
    return NULL;
}

/* ringo_route() with the path's declaration. */
int demo_tfb_route(ringo_app *app, const char *path, ringo_mode mode, ringo_handler_fn fn,
                   ringo_route_opts *opts)
{
    ringo_route_opts o = {0};

    if (!opts)
        opts = &o;
    opts->spec = demo_tfb_spec(path);
    return ringo_route_ex(app, "GET", path, mode, fn, NULL, opts);
}

#ifdef RINGO_WITH_PG
#include <ringo/pg.h>

#define MAX_QUERIES 500

static ringo_pg *tfb_pg;
static ringo_dep *dep_tx;

/* TFB's rule for queries=/count=: missing, empty, not a number or below 1 is 1; above
 * 500 is 500. */
int demo_tfb_count(ringo_req *req, const char *name)
{
    ringo_str v;
    unsigned long n = 0;

    if (ringo_req_query_param(req, name, &v) < 0 || v.len == 0)
        return 1;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return 1;
        n = n * 10 + (unsigned long)(v.ptr[i] - '0');
        if (n > MAX_QUERIES)
            return MAX_QUERIES;
    }
    return n < 1 ? 1 : (int)n;
}

/* q[0..n) in one pipelined round trip on a worker's connection, or -errno. */
static int sync_batch(const ringo_pg_query *q, unsigned n, PGresult **res)
{
    ringo_pg_conn *c;
    int ret = ringo_pg_acquire(tfb_pg, &c);

    if (ret == 0) {
        ret = ringo_pg_batch(c, q, n, res, 0);
        ringo_pg_release(c);
    }
    return ret;
}

/* n random rows into w, one SELECT each, all in one round trip. */
static int read_worlds(ringo_req *req, tfb_world *w, unsigned n)
{
    ringo_pg_query *q;
    PGresult **res;
    int ret = tfb_world_queries(req, n, &q, &res);

    if (ret == 0 && (ret = sync_batch(q, n, res)) == 0)
        ret = tfb_worlds(res, n, w);
    ringo_pg_results_clear(res, n);
    return ret;
}

static int sync_db(ringo_req *req, void *udata)
{
    tfb_world w;
    int ret = read_worlds(req, &w, 1);

    (void)udata;
    return ret < 0 ? ringo_pg_fail(req, ret) : tfb_respond_worlds(req, &w, 1, false);
}

static int sync_queries(ringo_req *req, void *udata)
{
    unsigned n = (unsigned)demo_tfb_count(req, "queries");
    tfb_world *w = ringo_req_alloc(req, n * sizeof(*w));
    int ret = w ? read_worlds(req, w, n) : -ENOMEM;

    (void)udata;
    return ret < 0 ? ringo_pg_fail(req, ret) : tfb_respond_worlds(req, w, n, true);
}

/* N reads in one round trip, new numbers, one bulk UPDATE in a second (the reads come first:
 * every row gets a number that differs from the one read). */
static int sync_updates(ringo_req *req, void *udata)
{
    unsigned n = (unsigned)demo_tfb_count(req, "queries");
    tfb_world *w = ringo_req_alloc(req, n * sizeof(*w));
    ringo_pg_query up;
    PGresult *res = NULL;
    int ret = w ? read_worlds(req, w, n) : -ENOMEM;

    (void)udata;
    if (ret == 0)
        ret = tfb_update_query(req, w, n, &up);
    if (ret == 0)
        ret = sync_batch(&up, 1, &res);
    ringo_pg_results_clear(&res, 1);
    return ret < 0 ? ringo_pg_fail(req, ret) : tfb_respond_worlds(req, w, n, true);
}

static int sync_fortunes(ringo_req *req, void *udata)
{
    PGresult *res = NULL;
    int ret = sync_batch(&tfb_fortune_query, 1, &res);

    (void)udata;
    if (ret == 0)
        ret = tfb_respond_fortunes(req, res);
    ringo_pg_results_clear(&res, 1);
    return ret < 0 ? ringo_pg_fail(req, ret) : ret;
}

/* ---- the transaction dependency and the statement timeout ---- */

/*
 * POST /sync/tx/world/{id}?number=N[&fail=500|409]: sets the row's number
 * inside the RINGO_PG_TX dependency's transaction. A failure afterwards
 * (an error return: 500, or ringo_fail(409)) rolls it back.
 */
static int sync_tx_world(ringo_req *req, void *udata)
{
    ringo_pg_conn *c = RINGO_DEP(req, dep_tx, ringo_pg_conn);
    uint64_t fail = demo_query_u64(req, "fail", 0, 999);
    char num[12];
    ringo_str id;
    const char *vals[2] = {NULL, num};
    PGresult *res;
    int ret;

    (void)udata;
    if (!c || ringo_req_path_param(req, "id", &id) < 0)
        return -EINVAL;
    snprintf(num, sizeof(num), "%d", (int)demo_query_u64(req, "number", 1, TFB_WORLD_ROWS));
    vals[0] = ringo_req_alloc(req, id.len + 1);
    if (!vals[0])
        return -ENOMEM;
    memcpy((char *)vals[0], id.ptr, id.len);
    ((char *)vals[0])[id.len] = '\0';
    ret = ringo_pg_exec(c, &res, NULL, "UPDATE world SET randomnumber = $2 WHERE id = $1", 2, vals);
    if (ret < 0)
        return ringo_pg_fail(req, ret);
    PQclear(res);
    if (fail >= 500)
        return -EIO;
    if (fail >= 400)
        return ringo_fail(req, (int)fail, "failed after the update");
    {
        demo_count cnt[] = {{"id", atoi(vals[0])}, {"randomNumber", atoi(num)}};
        return demo_json_counts(req, 200, cnt, 2);
    }
}

/*
 * GET /sync/pg/sleep?ms=N[&timeout_ms=T][&batch=1]: pg_sleep under a
 * statement timeout of T ms (default 200; 0: the connection's, the
 * configured statement_timeout_ms), 504 past it; batch=1 runs it through
 * ringo_pg_batch() instead of ringo_pg_query_run().
 */
static int sync_pg_sleep(ringo_req *req, void *udata)
{
    char secs[24];
    const char *vals[] = {secs};
    const ringo_pg_query q = {.sql = "SELECT pg_sleep($1::float8 / 1000)",
                              .nparams = 1,
                              .values = vals,
                              .timeout_ms =
                                  (uint32_t)demo_query_u64(req, "timeout_ms", 200, 60000)};
    ringo_pg_conn *c;
    PGresult *res = NULL;
    int ret = ringo_pg_acquire(tfb_pg, &c);

    (void)udata;
    snprintf(secs, sizeof(secs), "%llu", (unsigned long long)demo_query_u64(req, "ms", 0, 60000));
    if (ret == 0) {
        if (demo_query_u64(req, "batch", 0, 1))
            ret = ringo_pg_batch(c, &q, 1, &res, 0);
        else
            ret = ringo_pg_query_run(c, &q, &res);
        ringo_pg_release(c);
    }
    PQclear(res);
    if (ret < 0)
        return ringo_pg_fail(req, ret);
    return ringo_respond(req, 200, "text/plain", "slept\n", 6);
}

/* GET /pg/async-refused: an async handler may not use the blocking calls (-EPERM). */
static int async_refused(ringo_req *req, void *udata)
{
    ringo_pg_conn *c = NULL;
    int ret = ringo_pg_acquire(tfb_pg, &c);
    demo_count cnt[] = {{"acquire", ret}, {"eperm", -EPERM}};

    (void)udata;
    ringo_pg_release(c); /* NULL: nothing was acquired */
    return demo_json_counts(req, 200, cnt, 2);
}

static int free_pg(ringo_app *app, void *udata)
{
    (void)app;
    (void)udata;
    ringo_pg_free(tfb_pg);
    tfb_pg = NULL;
    return 0;
}

static uint32_t env_u32(const char *name)
{
    const char *v = getenv(name);

    return v ? (uint32_t)strtoul(v, NULL, 10) : 0;
}

int demo_tfb_routes(ringo_app *app, const char *dsn)
{
    static const char *const tx_needs[] = {"db_tx", NULL};
    const ringo_route_opts tx = {.needs = tx_needs, .spec = demo_tfb_spec("/tx/world/{id}")};
    ringo_pg_config cfg;
    int ret;

    ringo_pg_config_init(&cfg);
    cfg.dsn = dsn;
    cfg.connect_timeout_ms = 2000;
    /* Test knobs: a cap on the sync connections, a session statement timeout. */
    cfg.max_conns = env_u32("RINGO_DEMO_PG_MAX_CONNS");
    cfg.statement_timeout_ms = env_u32("RINGO_DEMO_PG_STATEMENT_TIMEOUT_MS");
    ret = ringo_pg_new(&tfb_pg, app, &cfg);
    if (ret == 0)
        ret = ringo_app_on_shutdown(app, "postgres", free_pg, NULL);
    if (ret == 0)
        ret = ringo_pg_dep_new(&dep_tx, app, "db_tx", tfb_pg, RINGO_PG_TX);
    if (ret == 0)
        ret = demo_tfb_route(app, "/sync/db", RINGO_SYNC, sync_db, NULL);
    if (ret == 0)
        ret = demo_tfb_route(app, "/sync/queries", RINGO_SYNC, sync_queries, NULL);
    if (ret == 0)
        ret = demo_tfb_route(app, "/sync/fortunes", RINGO_SYNC, sync_fortunes, NULL);
    if (ret == 0)
        ret = demo_tfb_route(app, "/sync/updates", RINGO_SYNC, sync_updates, NULL);
    if (ret == 0)
        ret = ringo_route_ex(app, "POST", "/sync/tx/world/{id}", RINGO_SYNC, sync_tx_world, NULL,
                             &tx);
    if (ret == 0)
        ret = demo_tfb_route(app, "/sync/pg/sleep", RINGO_SYNC, sync_pg_sleep, NULL);
    if (ret == 0)
        ret = demo_tfb_route(app, "/pg/async-refused", RINGO_ASYNC, async_refused, NULL);
    return ret;
}

#else /* built without libpq: the database routes say so */

static int no_pg(ringo_req *req, void *udata)
{
    (void)udata;
    return ringo_fail(req, 503, "built without PostgreSQL (libpq-dev)");
}

int demo_tfb_routes(ringo_app *app, const char *dsn)
{
    static const char *const paths[] = {"/sync/db", "/sync/queries", "/sync/fortunes",
                                        "/sync/updates"};
    int ret = 0;

    (void)dsn;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && ret == 0; i++)
        ret = demo_tfb_route(app, paths[i], RINGO_ASYNC, no_pg, NULL);
    return ret;
}

#endif
