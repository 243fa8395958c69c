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

#ifdef RINGO_WITH_PG
#include <ringo/pg.h>

#define WORLD_ROWS 10000
#define MAX_QUERIES 500

static ringo_pg *tfb_pg;
static ringo_dep *dep_tx;

static const char sel_world[] = "SELECT id, randomnumber FROM world WHERE id = $1";
static const char sel_fortune[] = "SELECT id, message FROM fortune";

/* splitmix64 per thread: the random ids and numbers of the test types. */
static _Thread_local uint64_t rng_state;

static int random_world_number(void)
{
    uint64_t z;

    if (!rng_state)
        rng_state = (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15ull;
    z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return 1 + (int)(z % WORLD_ROWS);
}

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

struct world {
    int id, number;
};

/* One row of world by id, with the prepared statement. Returns 0 or -errno. */
static int read_world(ringo_pg_conn *c, int id, struct world *out)
{
    char idbuf[12];
    const char *vals[] = {idbuf};
    PGresult *res;
    int ret;

    snprintf(idbuf, sizeof(idbuf), "%d", id);
    ret = ringo_pg_exec(c, &res, "tfb_world", sel_world, 1, vals);
    if (ret < 0)
        return ret;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return -ENOENT;
    }
    out->id = atoi(PQgetvalue(res, 0, 0));
    out->number = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

static void json_world(ringo_json_w *w, const struct world *row)
{
    ringo_json_obj(w);
    ringo_json_key(w, "id");
    ringo_json_int(w, row->id);
    ringo_json_key(w, "randomNumber");
    ringo_json_int(w, row->number);
    ringo_json_end(w);
}

static int respond_worlds(ringo_req *req, const struct world *rows, int n, bool array)
{
    ringo_json_w w;

    ringo_json_begin(&w, req);
    if (array)
        ringo_json_arr(&w);
    for (int i = 0; i < n; i++)
        json_world(&w, &rows[i]);
    if (array)
        ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

/* n random rows into rows[], one SELECT each (TFB: never merged). */
static int read_worlds(ringo_pg_conn *c, struct world *rows, int n)
{
    int ret = 0;

    for (int i = 0; i < n && ret == 0; i++)
        ret = read_world(c, random_world_number(), &rows[i]);
    return ret;
}

static int sync_db(ringo_req *req, void *udata)
{
    struct world row;
    ringo_pg_conn *c;
    int ret = ringo_pg_acquire(tfb_pg, &c);

    (void)udata;
    if (ret == 0) {
        ret = read_worlds(c, &row, 1);
        ringo_pg_release(c);
    }
    return ret < 0 ? ringo_pg_fail(req, ret) : respond_worlds(req, &row, 1, false);
}

static int sync_queries(ringo_req *req, void *udata)
{
    int n = demo_tfb_count(req, "queries");
    struct world *rows = ringo_req_alloc(req, (size_t)n * sizeof(*rows));
    ringo_pg_conn *c;
    int ret;

    (void)udata;
    if (!rows)
        return -ENOMEM;
    ret = ringo_pg_acquire(tfb_pg, &c);
    if (ret == 0) {
        ret = read_worlds(c, rows, n);
        ringo_pg_release(c);
    }
    return ret < 0 ? ringo_pg_fail(req, ret) : respond_worlds(req, rows, n, true);
}

/* ---- updates: N reads, new numbers, one bulk UPDATE with the ids sorted ---- */

static int cmp_world_ptr(const void *a, const void *b)
{
    const struct world *x = *(const struct world *const *)a, *y = *(const struct world *const *)b;

    return (x->id > y->id) - (x->id < y->id);
}

/* "UPDATE world SET randomnumber = v.r FROM (VALUES ($1::int, $2::int), ...) ..." for k rows. */
static char *update_sql(ringo_req *req, int k)
{
    size_t cap = 160 + (size_t)k * 32;
    char *sql = ringo_req_alloc(req, cap);
    size_t len;

    if (!sql)
        return NULL;
    len = (size_t)snprintf(sql, cap, "UPDATE world SET randomnumber = v.r FROM (VALUES ");
    for (int i = 0; i < k; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s($%d::int, $%d::int)", i ? ", " : "",
                                2 * i + 1, 2 * i + 2);
    snprintf(sql + len, cap - len, ") AS v(id, r) WHERE world.id = v.id");
    return sql;
}

/*
 * Writes rows back with one statement. The ids go in ascending order (two
 * requests updating overlapping rows lock them in the same order: no
 * deadlock); a row read twice gets one new number, shown in both places.
 */
static int write_worlds(ringo_req *req, ringo_pg_conn *c, struct world *rows, int n)
{
    struct world **by_id = ringo_req_alloc(req, (size_t)n * sizeof(*by_id));
    char(*num)[12] = ringo_req_alloc(req, (size_t)n * 2 * sizeof(*num));
    const char **vals = ringo_req_alloc(req, (size_t)n * 2 * sizeof(*vals));
    char name[24], *sql;
    PGresult *res;
    int k = 0, ret;

    if (!by_id || !num || !vals)
        return -ENOMEM;
    for (int i = 0; i < n; i++)
        by_id[i] = &rows[i];
    qsort(by_id, (size_t)n, sizeof(*by_id), cmp_world_ptr);
    for (int i = 0; i < n; i++) {
        if (i && by_id[i]->id == by_id[i - 1]->id) {
            by_id[i]->number = by_id[i - 1]->number;
            continue;
        }
        snprintf(num[2 * k], sizeof(num[0]), "%d", by_id[i]->id);
        snprintf(num[2 * k + 1], sizeof(num[0]), "%d", by_id[i]->number);
        vals[2 * k] = num[2 * k];
        vals[2 * k + 1] = num[2 * k + 1];
        k++;
    }
    sql = update_sql(req, k);
    if (!sql)
        return -ENOMEM;
    snprintf(name, sizeof(name), "tfb_update_%d", k);
    ret = ringo_pg_exec(c, &res, name, sql, 2 * k, vals);
    if (ret == 0)
        PQclear(res);
    return ret;
}

static int sync_updates(ringo_req *req, void *udata)
{
    int n = demo_tfb_count(req, "queries");
    struct world *rows = ringo_req_alloc(req, (size_t)n * sizeof(*rows));
    ringo_pg_conn *c;
    int ret;

    (void)udata;
    if (!rows)
        return -ENOMEM;
    ret = ringo_pg_acquire(tfb_pg, &c);
    if (ret == 0) {
        ret = read_worlds(c, rows, n);
        for (int i = 0; i < n && ret == 0; i++) {
            int r;
            while ((r = random_world_number()) == rows[i].number)
                ;
            rows[i].number = r;
        }
        if (ret == 0)
            ret = write_worlds(req, c, rows, n);
        ringo_pg_release(c);
    }
    return ret < 0 ? ringo_pg_fail(req, ret) : respond_worlds(req, rows, n, true);
}

/* ---- fortunes: all rows plus one, sorted by message here, escaped HTML ---- */

struct fortune {
    int id;
    const char *msg;
};

static int cmp_fortune(const void *a, const void *b)
{
    return strcmp(((const struct fortune *)a)->msg, ((const struct fortune *)b)->msg);
}

static size_t html_escape(char *out, const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        const char *e = NULL;
        switch (*s) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        }
        if (e) {
            memcpy(out + n, e, strlen(e));
            n += strlen(e);
        } else {
            out[n++] = *s;
        }
    }
    return n;
}

static int render_fortunes(ringo_req *req, struct fortune *f, int n)
{
    static const char head[] = "<!DOCTYPE html><html><head><title>Fortunes</title></head><body>"
                               "<table><tr><th>id</th><th>message</th></tr>";
    static const char tail[] = "</table></body></html>";
    size_t cap = sizeof(head) + sizeof(tail), len = 0;
    char *body;

    for (int i = 0; i < n; i++)
        cap += 40 + 6 * strlen(f[i].msg); /* "&quot;" is the longest escape */
    body = ringo_req_alloc(req, cap);
    if (!body)
        return -ENOMEM;
    memcpy(body, head, sizeof(head) - 1);
    len = sizeof(head) - 1;
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(body + len, cap - len, "<tr><td>%d</td><td>", f[i].id);
        len += html_escape(body + len, f[i].msg);
        memcpy(body + len, "</td></tr>", 10);
        len += 10;
    }
    memcpy(body + len, tail, sizeof(tail) - 1);
    len += sizeof(tail) - 1;
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/html; charset=utf-8"));
    return ringo_resp_set_body_ref(req, body, len);
}

static int sync_fortunes(ringo_req *req, void *udata)
{
    struct fortune *f;
    PGresult *res;
    ringo_pg_conn *c;
    int ret = ringo_pg_acquire(tfb_pg, &c), n;

    (void)udata;
    if (ret == 0) {
        ret = ringo_pg_exec(c, &res, "tfb_fortune", sel_fortune, 0, NULL);
        ringo_pg_release(c);
    }
    if (ret < 0)
        return ringo_pg_fail(req, ret);
    n = PQntuples(res);
    f = ringo_req_alloc(req, (size_t)(n + 1) * sizeof(*f));
    if (!f) {
        PQclear(res);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++)
        f[i] = (struct fortune){atoi(PQgetvalue(res, i, 0)), PQgetvalue(res, i, 1)};
    f[n++] = (struct fortune){0, "Additional fortune added at request time."};
    qsort(f, (size_t)n, sizeof(*f), cmp_fortune);
    ret = render_fortunes(req, f, n);
    PQclear(res);
    return ret;
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
    snprintf(num, sizeof(num), "%d", (int)demo_query_u64(req, "number", 1, WORLD_ROWS));
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

/* GET /sync/pg/sleep?ms=N: pg_sleep with a 200 ms statement timeout (504 past it). */
static int sync_pg_sleep(ringo_req *req, void *udata)
{
    char secs[24];
    const char *vals[] = {secs};
    const ringo_pg_query q = {.sql = "SELECT pg_sleep($1::float8 / 1000)",
                              .nparams = 1,
                              .values = vals,
                              .timeout_ms = 200};
    ringo_pg_conn *c;
    PGresult *res = NULL;
    int ret = ringo_pg_acquire(tfb_pg, &c);

    (void)udata;
    snprintf(secs, sizeof(secs), "%llu", (unsigned long long)demo_query_u64(req, "ms", 0, 60000));
    if (ret == 0) {
        ret = ringo_pg_query_run(c, &q, &res);
        ringo_pg_release(c);
    }
    if (ret < 0)
        return ringo_pg_fail(req, ret);
    PQclear(res);
    return ringo_respond(req, 200, "text/plain", "slept\n", 6);
}

static int free_pg(ringo_app *app, void *udata)
{
    (void)app;
    (void)udata;
    ringo_pg_free(tfb_pg);
    tfb_pg = NULL;
    return 0;
}

int demo_tfb_routes(ringo_app *app, const char *dsn)
{
    static const char *const tx_needs[] = {"db_tx", NULL};
    static const ringo_route_opts tx = {.needs = tx_needs};
    ringo_pg_config cfg;
    int ret;

    ringo_pg_config_init(&cfg);
    cfg.dsn = dsn;
    cfg.connect_timeout_ms = 2000;
    ret = ringo_pg_new(&tfb_pg, app, &cfg);
    if (ret == 0)
        ret = ringo_app_on_shutdown(app, "postgres", free_pg, NULL);
    if (ret == 0)
        ret = ringo_pg_dep_new(&dep_tx, app, "db_tx", tfb_pg, RINGO_PG_TX);
    if (ret == 0)
        ret = ringo_route(app, "GET", "/sync/db", RINGO_SYNC, sync_db, NULL);
    if (ret == 0)
        ret = ringo_route(app, "GET", "/sync/queries", RINGO_SYNC, sync_queries, NULL);
    if (ret == 0)
        ret = ringo_route(app, "GET", "/sync/fortunes", RINGO_SYNC, sync_fortunes, NULL);
    if (ret == 0)
        ret = ringo_route(app, "GET", "/sync/updates", RINGO_SYNC, sync_updates, NULL);
    if (ret == 0)
        ret = ringo_route_ex(app, "POST", "/sync/tx/world/{id}", RINGO_SYNC, sync_tx_world, NULL,
                             &tx);
    if (ret == 0)
        ret = ringo_route(app, "GET", "/sync/pg/sleep", RINGO_SYNC, sync_pg_sleep, NULL);
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
        ret = ringo_route(app, "GET", paths[i], RINGO_ASYNC, no_pg, NULL);
    return ret;
}

#endif
