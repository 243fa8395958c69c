/*
 * pg/pg.c - the PostgreSQL module's shared part: configuration, the
 * database handle, error reporting, and errors as HTTP answers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "pg/pg_impl.h"
#include "ringo/response.h"

/* The calling thread's last failure, for ringo_pg_last_error() / _sqlstate(). */
static _Thread_local char last_error[256];
static _Thread_local char last_sqlstate[6];

void ringo_pg_config_init(ringo_pg_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->connect_timeout_ms = 5000;
    cfg->acquire_timeout_ms = 1000;
}

int ringo_pg_new(ringo_pg **out, ringo_app *app, const ringo_pg_config *cfg)
{
    ringo_pg *pg;

    if (out)
        *out = NULL;
    if (!out || !app)
        return -EINVAL;
    for (size_t i = 0; cfg && i < sizeof(cfg->reserved) / sizeof(cfg->reserved[0]); i++)
        if (cfg->reserved[i])
            return -EINVAL;
    pg = ringo__calloc(1, sizeof(*pg));
    if (!pg)
        return -ENOMEM;
    pg->app = app;
    if (cfg)
        pg->cfg = *cfg;
    else
        ringo_pg_config_init(&pg->cfg);
    pg->cfg.dsn = NULL;
    if (!pg->cfg.connect_timeout_ms)
        pg->cfg.connect_timeout_ms = 5000;
    if (!pg->cfg.acquire_timeout_ms)
        pg->cfg.acquire_timeout_ms = 1000;
    pg->dsn = strdup(cfg && cfg->dsn ? cfg->dsn : "");
    if (!pg->dsn || pthread_key_create(&pg->slot, NULL) != 0) {
        ringo__free(pg->dsn);
        ringo__free(pg);
        return -ENOMEM;
    }
    pthread_mutex_init(&pg->lock, NULL);
    pthread_cond_init(&pg->freed, NULL);
    *out = pg;
    return 0;
}

static void conn_free(struct ringo_pg_conn *c)
{
    for (unsigned i = 0; i < c->nprepared; i++) {
        ringo__free(c->prepared[i]);
        ringo__free(c->prepared_sql[i]);
    }
    ringo__free(c->prepared);
    ringo__free(c->prepared_sql);
    PQfinish(c->pq);
    ringo__free(c);
}

void ringo_pg_free(ringo_pg *pg)
{
    struct ringo_pg_conn *c, *next;

    if (!pg)
        return;
    /* Workers may still hold a slot value: with the key deleted nobody reads it. */
    pthread_key_delete(pg->slot);
    for (c = pg->all; c; c = next) {
        next = c->next_all;
        conn_free(c);
    }
    pthread_mutex_destroy(&pg->lock);
    pthread_cond_destroy(&pg->freed);
    ringo__free(pg->dsn);
    ringo__free(pg);
}

/* Copies msg without its trailing newline (libpq ends its messages with one). */
static void set_msg(const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;

    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        n--;
    if (n >= sizeof(last_error))
        n = sizeof(last_error) - 1;
    memcpy(last_error, msg ? msg : "", n);
    last_error[n] = '\0';
}

void ringo__pg_set_error(PGconn *pq, const PGresult *res, const char *msg)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (!msg)
        msg = res ? PQresultErrorMessage(res) : NULL;
    if ((!msg || !*msg) && pq)
        msg = PQerrorMessage(pq);
    set_msg(msg);
    snprintf(last_sqlstate, sizeof(last_sqlstate), "%s", state ? state : "");
}

void ringo_pg_results_clear(PGresult **res, unsigned n)
{
    for (unsigned i = 0; res && i < n; i++) {
        PQclear(res[i]);
        res[i] = NULL;
    }
}

const char *ringo_pg_last_error(void) { return last_error; }

const char *ringo_pg_last_sqlstate(void) { return last_sqlstate; }

void ringo__pg_note_down(ringo_pg *pg, bool down)
{
    if (atomic_exchange_explicit(&pg->down, down, memory_order_relaxed) == down)
        return;
    if (down)
        fprintf(stderr, "ringo: PostgreSQL unreachable: %.*s\n", /* its first line */
                (int)strcspn(last_error, "\n"), last_error);
    else
        fprintf(stderr, "ringo: PostgreSQL reachable again\n");
}

int ringo_pg_fail(ringo_req *req, int err)
{
    switch (err) {
    case -ECONNREFUSED:
    case -ECONNRESET:
        ringo_resp_add_header(req, "Retry-After", RINGO_STR_LIT("1"));
        return ringo_fail(req, 503, "database unavailable");
    case -EAGAIN:
        ringo_resp_add_header(req, "Retry-After", RINGO_STR_LIT("1"));
        return ringo_fail(req, 503, "database busy: no free connection");
    case -ETIMEDOUT: return ringo_fail(req, 504, "database statement timed out");
    default: return ringo_fail(req, 500, "database error");
    }
}
