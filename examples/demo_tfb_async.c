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

#ifdef RINGO_WITH_PG
#include <ringo/pg.h>

#define WORLD_ROWS 10000

static const char world_sql[] = "SELECT id, randomnumber FROM world WHERE id = $1";

static ringo_pg *pg;
static ringo_pg_async *pool;
static const char *pool_error; /* why there is no pool: answered with the 503s */

/* ---- small helpers ---- */

static uint32_t rnd(void)
{
    static _Thread_local uint64_t s;

    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ull;
    }
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (uint32_t)(s >> 11);
}

static int random_id(void) { return (int)(rnd() % WORLD_ROWS) + 1; }

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

typedef struct world {
    int id, rn;
} world;

/* Row 0 of a "w" result (SELECT id, randomnumber). */
static int world_row(const PGresult *res, world *w)
{
    if (!res || PQntuples(res) != 1)
        return -ENOENT;
    w->id = atoi(PQgetvalue(res, 0, 0));
    w->rn = atoi(PQgetvalue(res, 0, 1));
    return 0;
}

static void json_world(ringo_json_w *j, const world *w)
{
    ringo_json_obj(j);
    ringo_json_key(j, "id");
    ringo_json_int(j, w->id);
    ringo_json_key(j, "randomNumber");
    ringo_json_int(j, w->rn);
    ringo_json_end(j);
}

/* n random rows, one pipelined SELECT each, in one batch (one round trip). */
static int read_worlds(ringo_req *req, world *out, unsigned n)
{
    ringo_pg_query *q = ringo_req_alloc(req, n * sizeof(*q));
    PGresult **res = ringo_req_alloc(req, n * sizeof(*res));
    char(*ids)[12] = ringo_req_alloc(req, n * sizeof(*ids));
    const char **vals = ringo_req_alloc(req, n * sizeof(*vals));
    int ret;

    if (!q || !res || !ids || !vals)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%d", random_id());
        vals[i] = ids[i];
        q[i] = (ringo_pg_query){.sql = world_sql, .name = "w", .nparams = 1, .values = &vals[i]};
    }
    ret = ringo_pg_run(pool, q, n, res, 0);
    for (unsigned i = 0; ret == 0 && i < n; i++)
        ret = world_row(res[i], &out[i]);
    ringo_pg_results_clear(res, n);
    return ret;
}

/* ---- routes ---- */

static int db_route(ringo_req *req, void *udata)
{
    ringo_json_w j;
    world w;
    int ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if ((ret = read_worlds(req, &w, 1)) < 0)
        return db_error(req, ret);
    ringo_json_begin(&j, req);
    json_world(&j, &w);
    return ringo_json_respond(&j, 200);
}

static int respond_worlds(ringo_req *req, const world *w, unsigned n)
{
    ringo_json_w j;

    ringo_json_begin(&j, req);
    ringo_json_arr(&j);
    for (unsigned i = 0; i < n; i++)
        json_world(&j, &w[i]);
    ringo_json_end(&j);
    return ringo_json_respond(&j, 200);
}

static int queries_route(ringo_req *req, void *udata)
{
    unsigned n = (unsigned)demo_tfb_count(req, "queries");
    world *w = ringo_req_alloc(req, n * sizeof(*w));
    int ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if (!w)
        return -ENOMEM;
    if ((ret = read_worlds(req, w, n)) < 0)
        return db_error(req, ret);
    return respond_worlds(req, w, n);
}

static int by_id(const void *a, const void *b)
{
    const world *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

/* int[] literal "{1,2,3}" of the ids (rn: 0) or random numbers (rn: 1), in the arena. */
static char *int_array(ringo_req *req, const world *w, unsigned n, int rn)
{
    char *s = ringo_req_alloc(req, (size_t)n * 12 + 3), *p = s;

    if (!s)
        return NULL;
    *p++ = '{';
    for (unsigned i = 0; i < n; i++)
        p += sprintf(p, "%s%d", i ? "," : "", rn ? w[i].rn : w[i].id);
    *p++ = '}';
    *p = '\0';
    return s;
}

/* One bulk UPDATE per request, as the rules allow: the ids and their new values as arrays. */
static const char update_sql[] =
    "UPDATE world SET randomnumber = v.rn FROM (SELECT unnest($1::int[]) AS id, "
    "unnest($2::int[]) AS rn) AS v WHERE world.id = v.id";

static int updates_route(ringo_req *req, void *udata)
{
    unsigned n = (unsigned)demo_tfb_count(req, "queries");
    world *w = ringo_req_alloc(req, n * sizeof(*w));
    const char *vals[2];
    ringo_pg_query up;
    PGresult *res;
    int ret;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if (!w)
        return -ENOMEM;
    if ((ret = read_worlds(req, w, n)) < 0)
        return db_error(req, ret);
    for (unsigned i = 0; i < n; i++) {
        int rn;
        do
            rn = random_id();
        while (rn == w[i].rn); /* a new value for every row read */
        w[i].rn = rn;
    }
    /* Sorted ids: concurrent updates lock rows in one order (no deadlock). A row
     * read twice gets one value: the UPDATE applies one per id. */
    qsort(w, n, sizeof(*w), by_id);
    for (unsigned i = 1; i < n; i++)
        if (w[i].id == w[i - 1].id)
            w[i].rn = w[i - 1].rn;
    vals[0] = int_array(req, w, n, 0);
    vals[1] = int_array(req, w, n, 1);
    if (!vals[0] || !vals[1])
        return -ENOMEM;
    up = (ringo_pg_query){.sql = update_sql, .name = "u", .nparams = 2, .values = vals};
    ret = ringo_pg_run(pool, &up, 1, &res, 0);
    ringo_pg_results_clear(&res, 1);
    if (ret < 0)
        return db_error(req, ret);
    return respond_worlds(req, w, n);
}

typedef struct fortune {
    int id;
    const char *msg;
} fortune;

static int by_message(const void *a, const void *b)
{
    return strcmp(((const fortune *)a)->msg, ((const fortune *)b)->msg);
}

/* Appends s, HTML-escaped, at p; returns the new end. */
static char *escape(char *p, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': p = memcpy(p, "&lt;", 4) + 4; break;
        case '>': p = memcpy(p, "&gt;", 4) + 4; break;
        case '&': p = memcpy(p, "&amp;", 5) + 5; break;
        case '"': p = memcpy(p, "&quot;", 6) + 6; break;
        case '\'': p = memcpy(p, "&#x27;", 6) + 6; break;
        default: *p++ = *s;
        }
    }
    return p;
}

static int fortunes_html(ringo_req *req, fortune *f, unsigned n)
{
    static const char head[] = "<!DOCTYPE html><html><head><title>Fortunes</title></head>"
                               "<body><table><tr><th>id</th><th>message</th></tr>";
    static const char tail[] = "</table></body></html>";
    size_t cap = sizeof(head) + sizeof(tail);
    char *body, *p;

    for (unsigned i = 0; i < n; i++)
        cap += 32 + 6 * strlen(f[i].msg);
    if (!(body = p = ringo_req_alloc(req, cap)))
        return -ENOMEM;
    p = memcpy(p, head, sizeof(head) - 1) + sizeof(head) - 1;
    for (unsigned i = 0; i < n; i++) {
        p += sprintf(p, "<tr><td>%d</td><td>", f[i].id);
        p = escape(p, f[i].msg);
        p = memcpy(p, "</td></tr>", 10) + 10;
    }
    p = memcpy(p, tail, sizeof(tail) - 1) + sizeof(tail) - 1;
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/html; charset=utf-8"));
    return ringo_resp_set_body_ref(req, body, (size_t)(p - body));
}

static int fortunes_route(ringo_req *req, void *udata)
{
    ringo_pg_query q = {.sql = "SELECT id, message FROM fortune", .name = "f"};
    PGresult *res;
    fortune *f;
    int ret, n;

    (void)udata;
    if (!pool)
        return no_pool(req);
    if ((ret = ringo_pg_run(pool, &q, 1, &res, 0)) < 0) {
        ringo_pg_results_clear(&res, 1);
        return db_error(req, ret);
    }
    n = PQntuples(res);
    if (!(f = ringo_req_alloc(req, (size_t)(n + 1) * sizeof(*f)))) {
        ringo_pg_results_clear(&res, 1);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        f[i].id = atoi(PQgetvalue(res, i, 0));
        f[i].msg = PQgetvalue(res, i, 1); /* lives until the result is cleared */
    }
    f[n] = (fortune){0, "Additional fortune added at request time."};
    qsort(f, (size_t)n + 1, sizeof(*f), by_message);
    ret = fortunes_html(req, f, (unsigned)n + 1);
    ringo_pg_results_clear(&res, 1);
    return ret;
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
    if (!(rows = calloc(WORLD_ROWS + 1, sizeof(*rows)))) {
        ringo_pg_results_clear(&res, 1);
        return -ENOMEM;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int id = atoi(PQgetvalue(res, i, 0));
        if (id >= 1 && id <= WORLD_ROWS)
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
    world *w = ringo_req_alloc(req, n * sizeof(*w));
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
        w[i].id = random_id();
        w[i].rn = rows[w[i].id];
    }
    return respond_worlds(req, w, n);
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
        ret = ringo_route(app, "GET", routes[i].path, RINGO_ASYNC, routes[i].fn, NULL);
    if (ret == 0)
        ret = ringo_route_ex(app, "GET", "/pg/sleep-deadline", RINGO_ASYNC, sleep_route, NULL, &dl);
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
