/*
 * pg/sync.c - PostgreSQL for sync handlers: blocking libpq on pool workers.
 *
 * Each worker keeps the connection it used last in a thread-specific slot,
 * so the common path (acquire, query, release on one worker) takes no lock.
 * A connection held across pool hops (a dependency's, released by its
 * teardown on whichever worker runs it) goes back to a shared idle list.
 * A connection struct outlives its libpq connection: a broken one is
 * closed and the struct reconnects at its next acquire, so the count of
 * structs is the count max_conns bounds.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "pg/pg_impl.h"
#include "ringo/await.h"
#include "ringo/request.h"
#include "ringo/response.h"

static void forget_prepared(struct ringo_pg_conn *c)
{
    for (unsigned i = 0; i < c->nprepared; i++) {
        ringo__free(c->prepared[i]);
        ringo__free(c->prepared_sql[i]);
    }
    c->nprepared = 0;
}

static void disconnect(struct ringo_pg_conn *c)
{
    PQfinish(c->pq);
    c->pq = NULL;
    c->broken = false;
    forget_prepared(c);
}

static void quiet_notice(void *arg, const char *message);

/* SET statement_timeout to ms (0: the server's default). Returns 0 or an error of run(). */
static int set_timeout(struct ringo_pg_conn *c, uint32_t ms);

/*
 * Connects c. Our defaults come before the connection string in the keyword
 * list: libpq lets the string's own keywords override those processed before
 * it, so a DSN's connect_timeout wins.
 */
static int connect_conn(struct ringo_pg_conn *c)
{
    ringo_pg *pg = c->pg;
    unsigned secs = (pg->cfg.connect_timeout_ms + 999) / 1000;
    char timeout[16];
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {timeout, "ringo", pg->dsn[0] ? pg->dsn : NULL, NULL};

    snprintf(timeout, sizeof(timeout), "%u", secs < 2 ? 2 : secs);
    c->pq = PQconnectdbParams(keys, vals, 1);
    if (!c->pq)
        return -ENOMEM;
    PQsetNoticeProcessor(c->pq, quiet_notice, NULL);
    if (PQstatus(c->pq) != CONNECTION_OK) {
        ringo__pg_set_error(c->pq, NULL, NULL);
        disconnect(c);
        ringo__pg_note_down(pg, true);
        return -ECONNREFUSED;
    }
    if (pg->cfg.statement_timeout_ms && set_timeout(c, pg->cfg.statement_timeout_ms) < 0) {
        disconnect(c);
        return -ECONNREFUSED;
    }
    ringo__pg_note_down(pg, false);
    return 0;
}

/*
 * False when c's connection is gone. An idle connection has nothing to read
 * unless the server spoke first: a backend killed by pg_terminate_backend()
 * or a server shutdown leaves its FATAL message and the EOF, which
 * PQconsumeInput() turns into CONNECTION_BAD. One poll() per acquire.
 */
static bool healthy(struct ringo_pg_conn *c)
{
    struct pollfd p = {.fd = PQsocket(c->pq), .events = POLLIN};

    if (c->broken || PQstatus(c->pq) != CONNECTION_OK || p.fd < 0)
        return false;
    /* One read may stop after the FATAL message, before the EOF: read on while
     * there is more (a few rounds: NOTIFY or a notice may be all there is). */
    for (int i = 0; i < 4 && poll(&p, 1, 0) > 0; i++)
        if (!PQconsumeInput(c->pq) || PQstatus(c->pq) != CONNECTION_OK)
            return false;
    return true;
}

/* libpq prints notices and a FATAL message that arrives on an idle connection
 * to stderr; healthy() deals with the latter, the former are not ours to print. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A struct from the idle list, a new one under max_conns, or one freed within the wait. */
static int take(ringo_pg *pg, struct ringo_pg_conn **out)
{
    struct timespec until;
    int ret = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += pg->cfg.acquire_timeout_ms / 1000;
    until.tv_nsec += (long)(pg->cfg.acquire_timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&pg->lock);
    while (!pg->idle && pg->cfg.max_conns && pg->nconns >= pg->cfg.max_conns && ret == 0)
        ret = -pthread_cond_timedwait(&pg->freed, &pg->lock, &until);
    if (pg->idle) {
        *out = pg->idle;
        pg->idle = pg->idle->next_idle;
        ret = 0;
    } else if (ret == 0) {
        *out = ringo__calloc(1, sizeof(**out));
        if (*out) {
            (*out)->pg = pg;
            (*out)->next_all = pg->all;
            pg->all = *out;
            pg->nconns++;
        }
        ret = *out ? 0 : -ENOMEM;
    } else {
        ret = -EAGAIN;
    }
    pthread_mutex_unlock(&pg->lock);
    return ret;
}

/*
 * Back to the releasing worker's slot when it is empty, else to the idle
 * list. Under max_conns every connection goes to the idle list: one parked
 * in an idle worker's slot would make another wait for nothing.
 */
static void put(struct ringo_pg_conn *c)
{
    ringo_pg *pg = c->pg;

    if (!pg->cfg.max_conns && !pthread_getspecific(pg->slot) &&
        pthread_setspecific(pg->slot, c) == 0)
        return;
    pthread_mutex_lock(&pg->lock);
    c->next_idle = pg->idle;
    pg->idle = c;
    pthread_cond_signal(&pg->freed);
    pthread_mutex_unlock(&pg->lock);
}

int ringo_pg_acquire(ringo_pg *pg, ringo_pg_conn **out)
{
    struct ringo_pg_conn *c;
    int ret;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!pg)
        return -EINVAL;
    if (ringo_in_async())
        return -EPERM;
    c = pthread_getspecific(pg->slot);
    if (c) {
        pthread_setspecific(pg->slot, NULL);
    } else {
        ret = take(pg, &c);
        if (ret < 0) {
            ringo__pg_set_error(NULL, NULL, ret == -EAGAIN ? "no free connection" : NULL);
            return ret;
        }
    }
    if (c->pq && !healthy(c))
        disconnect(c);
    if (!c->pq && (ret = connect_conn(c)) < 0) {
        put(c);
        return ret;
    }
    *out = c;
    return 0;
}

void ringo_pg_release(ringo_pg_conn *c)
{
    if (!c)
        return;
    if (c->pq && !c->broken && PQstatus(c->pq) == CONNECTION_OK) {
        PGTransactionStatusType ts = PQtransactionStatus(c->pq);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            /* Never on a ring: there the connection is closed instead. */
            if (ringo_in_async() || ringo_pg_rollback(c) < 0)
                c->broken = true;
        } else if (ts != PQTRANS_IDLE) {
            c->broken = true; /* a result left unread: not reusable */
        }
    }
    if (c->pq && (c->broken || PQstatus(c->pq) != CONNECTION_OK))
        disconnect(c);
    put(c);
}

PGconn *ringo_pg_conn_pq(ringo_pg_conn *c) { return c ? c->pq : NULL; }

/* Turns res into the call's result: *out on success, else -errno (res cleared). */
static int finish(struct ringo_pg_conn *c, PGresult *res, PGresult **out)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *out = res;
        return 0;
    }
    ringo__pg_set_error(c->pq, res, NULL); /* copies the SQLSTATE: res goes now */
    PQclear(res);
    if (PQstatus(c->pq) != CONNECTION_OK) {
        c->broken = true;
        return -ECONNRESET;
    }
    if (!res)
        return -ENOMEM;
    if (!strcmp(ringo_pg_last_sqlstate(), "57014")) /* query_canceled: statement_timeout */
        return -ETIMEDOUT;
    return -EIO;
}

static int simple(struct ringo_pg_conn *c, const char *sql)
{
    PGresult *res = NULL;
    int ret = finish(c, PQexec(c->pq, sql), &res);

    PQclear(res);
    return ret;
}

static int set_timeout(struct ringo_pg_conn *c, uint32_t ms)
{
    char sql[64];

    if (ms)
        snprintf(sql, sizeof(sql), "SET statement_timeout = %u", ms);
    else
        snprintf(sql, sizeof(sql), "SET statement_timeout = DEFAULT");
    return simple(c, sql);
}

/* Prepares q->name on c unless it already is. Returns 0 or -errno. */
static int prepare(struct ringo_pg_conn *c, const ringo_pg_query *q)
{
    PGresult *res = NULL;
    int ret;

    for (unsigned i = 0; i < c->nprepared; i++)
        if (!strcmp(c->prepared[i], q->name))
            return strcmp(c->prepared_sql[i], q->sql) ? -EINVAL : 0;
    if (c->nprepared == c->prepared_cap) {
        unsigned cap = c->prepared_cap ? 2 * c->prepared_cap : 8;
        char **a = ringo__realloc(c->prepared, cap * sizeof(*a));
        char **b = a ? ringo__realloc(c->prepared_sql, cap * sizeof(*b)) : NULL;
        if (a)
            c->prepared = a;
        if (!b)
            return -ENOMEM;
        c->prepared_sql = b;
        c->prepared_cap = cap;
    }
    ret = finish(c, PQprepare(c->pq, q->name, q->sql, 0, NULL), &res);
    PQclear(res);
    if (ret < 0)
        return ret;
    c->prepared[c->nprepared] = strdup(q->name);
    c->prepared_sql[c->nprepared] = strdup(q->sql);
    if (!c->prepared[c->nprepared] || !c->prepared_sql[c->nprepared]) {
        ringo__free(c->prepared[c->nprepared]);
        ringo__free(c->prepared_sql[c->nprepared]);
        /* Prepared on the server but unknown here: start this connection afresh. */
        c->broken = true;
        return -ENOMEM;
    }
    c->nprepared++;
    return 0;
}

static int run(struct ringo_pg_conn *c, const ringo_pg_query *q, PGresult **out)
{
    int ret = 0;

    if (q->name)
        ret = prepare(c, q);
    if (ret < 0)
        return ret;
    if (q->name)
        return finish(c,
                      PQexecPrepared(c->pq, q->name, q->nparams, q->values, q->lengths, q->formats,
                                     q->result_format),
                      out);
    return finish(c,
                  PQexecParams(c->pq, q->sql, q->nparams, NULL, q->values, q->lengths, q->formats,
                               q->result_format),
                  out);
}

int ringo_pg_query_run(ringo_pg_conn *c, const ringo_pg_query *q, PGresult **out)
{
    int ret;

    if (out)
        *out = NULL;
    if (!c || !q || !q->sql || !out || q->nparams < 0)
        return -EINVAL;
    if (ringo_in_async())
        return -EPERM;
    if (!c->pq || c->broken) {
        ringo__pg_set_error(NULL, NULL, "connection is broken");
        return -ECONNRESET;
    }
    if (!q->timeout_ms)
        return run(c, q, out);
    ret = set_timeout(c, q->timeout_ms);
    if (ret == 0)
        ret = run(c, q, out);
    if (c->pq && !c->broken && PQstatus(c->pq) == CONNECTION_OK &&
        PQtransactionStatus(c->pq) != PQTRANS_INERROR) {
        /* A successful SET records no error: the statement's stays the thread's last. */
        if (set_timeout(c, c->pg->cfg.statement_timeout_ms) < 0 && ret == 0) {
            PQclear(*out);
            *out = NULL;
            ret = -EIO;
        }
    }
    return ret;
}

int ringo_pg_exec(ringo_pg_conn *c, PGresult **out, const char *name, const char *sql, int nparams,
                  const char *const *values)
{
    const ringo_pg_query q = {.sql = sql, .name = name, .nparams = nparams, .values = values};

    return ringo_pg_query_run(c, &q, out);
}

/* ---- batches in pipeline mode: one round trip for many statements ---- */

#define MAX_BATCH 4096

/*
 * Waits until libpq can hand out a result without blocking. The socket is
 * non-blocking during a batch: with a blocking one, libpq could block writing
 * queries while the server blocks writing results nobody reads (libpq's
 * pipeline-mode warning), so both directions are polled together.
 */
static int batch_wait(struct ringo_pg_conn *c)
{
    while (PQisBusy(c->pq)) {
        int f = PQflush(c->pq);
        struct pollfd p = {.fd = PQsocket(c->pq), .events = POLLIN};

        if (f < 0)
            return -ECONNRESET;
        if (f > 0)
            p.events |= POLLOUT;
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -ECONNRESET;
        }
        if ((p.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c->pq))
            return -ECONNRESET;
    }
    return 0;
}

/* The next result of the batch (NULL ends a statement's results); -ECONNRESET if it broke. */
static int batch_next(struct ringo_pg_conn *c, PGresult **out)
{
    int ret = batch_wait(c);

    *out = ret == 0 ? PQgetResult(c->pq) : NULL;
    if (ret == 0 && !*out && PQstatus(c->pq) != CONNECTION_OK)
        ret = -ECONNRESET;
    return ret;
}

static bool batch_send_one(struct ringo_pg_conn *c, const ringo_pg_query *q)
{
    if (q->name)
        return PQsendQueryPrepared(c->pq, q->name, q->nparams, q->values, q->lengths, q->formats,
                                   q->result_format);
    return PQsendQueryParams(c->pq, q->sql, q->nparams, NULL, q->values, q->lengths, q->formats,
                             q->result_format);
}

static bool batch_send_sql(struct ringo_pg_conn *c, const char *sql)
{
    return PQsendQueryParams(c->pq, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/* "SET statement_timeout = ..." for ms (0: the connection's configured one) into buf. */
static const char *timeout_sql(char *buf, size_t cap, uint32_t ms)
{
    if (ms)
        snprintf(buf, cap, "SET statement_timeout = %u", ms);
    else
        snprintf(buf, cap, "SET statement_timeout = DEFAULT");
    return buf;
}

/*
 * Sends the batch: [SET statement_timeout] q[0..n) [SET back], one sync.
 * The SETs ride in the same round trip; when a statement fails, the implicit
 * transaction (or the caller's explicit one) rolls the first SET back too.
 */
static int batch_send(struct ringo_pg_conn *c, const ringo_pg_query *q, unsigned n, uint32_t ms)
{
    char set[64], reset[64];
    bool ok = true;

    if (ms)
        ok = batch_send_sql(c, timeout_sql(set, sizeof(set), ms));
    for (unsigned i = 0; ok && i < n; i++)
        ok = batch_send_one(c, &q[i]);
    if (ok && ms)
        ok = batch_send_sql(c, timeout_sql(reset, sizeof(reset), c->pg->cfg.statement_timeout_ms));
    return ok && PQpipelineSync(c->pq) ? 0 : -ECONNRESET;
}

/*
 * Reads every step's results up to the sync: query i's into res[i], the
 * SETs' dropped. The first failing step's result sets the thread's error.
 * Returns 0, -EIO / -ETIMEDOUT (a statement failed; 57014 is the statement
 * timeout), -ECONNRESET.
 */
static int batch_read(struct ringo_pg_conn *c, unsigned n, bool timed, PGresult **res)
{
    unsigned steps = n + (timed ? 2 : 0);
    int err = 0, ret = 0;
    PGresult *r;

    for (unsigned k = 0; k < steps && ret == 0; k++) {
        int qi = timed ? (int)k - 1 : (int)k;
        while ((ret = batch_next(c, &r)) == 0 && r) {
            ExecStatusType st = PQresultStatus(r);
            if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_ABORTED &&
                !err) {
                ringo__pg_set_error(c->pq, r, NULL);
                err = strcmp(ringo_pg_last_sqlstate(), "57014") ? -EIO : -ETIMEDOUT;
            }
            if (qi >= 0 && (unsigned)qi < n && !res[qi])
                res[qi] = r;
            else
                PQclear(r);
        }
    }
    if (ret == 0 && (ret = batch_next(c, &r)) == 0) {
        if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC)
            ret = -ECONNRESET; /* out of step with the server: not reusable */
        PQclear(r);
    }
    return ret < 0 ? ret : err;
}

/* Back to blocking mode outside a pipeline; false when libpq will not. */
static bool batch_end(struct ringo_pg_conn *c)
{
    return PQexitPipelineMode(c->pq) == 1 && PQsetnonblocking(c->pq, 0) == 0;
}

/* timeout_ms, else the smallest q[i].timeout_ms; 0: the connection's own. */
static uint32_t batch_timeout(const ringo_pg_query *q, unsigned n, uint32_t timeout_ms)
{
    for (unsigned i = 0; timeout_ms == 0 && i < n; i++)
        for (unsigned j = i; j < n; j++)
            if (q[j].timeout_ms && (!timeout_ms || q[j].timeout_ms < timeout_ms))
                timeout_ms = q[j].timeout_ms;
    return timeout_ms;
}

static int batch_check(ringo_pg_conn *c, const ringo_pg_query *q, unsigned n, PGresult **res)
{
    if (!c || !q || !res || n == 0 || n > MAX_BATCH)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        res[i] = NULL;
        if (!q[i].sql || q[i].nparams < 0)
            return -EINVAL;
    }
    if (ringo_in_async())
        return -EPERM;
    if (!c->pq || c->broken) {
        ringo__pg_set_error(NULL, NULL, "connection is broken");
        return -ECONNRESET;
    }
    return 0;
}

int ringo_pg_batch(ringo_pg_conn *c, const ringo_pg_query *q, unsigned n, PGresult **res,
                   uint32_t timeout_ms)
{
    int ret = batch_check(c, q, n, res);

    /* Named statements are prepared first, once per connection (blocking, outside the
     * pipeline): later batches on this connection find them prepared. */
    for (unsigned i = 0; ret == 0 && i < n; i++)
        if (q[i].name)
            ret = prepare(c, &q[i]);
    if (ret < 0)
        return ret;
    timeout_ms = batch_timeout(q, n, timeout_ms);
    if (PQsetnonblocking(c->pq, 1) != 0 || PQenterPipelineMode(c->pq) != 1) {
        c->broken = true;
        ringo__pg_set_error(c->pq, NULL, NULL);
        return -ECONNRESET;
    }
    ret = batch_send(c, q, n, timeout_ms);
    if (ret == 0)
        ret = batch_read(c, n, timeout_ms != 0, res);
    if (ret == -ECONNRESET || !batch_end(c)) {
        ringo__pg_set_error(c->pq, NULL, NULL);
        c->broken = true; /* closed at release, reconnected at the next acquire */
        ret = -ECONNRESET;
    }
    if (ret < 0 && ret != -EIO && ret != -ETIMEDOUT)
        ringo_pg_results_clear(res, n);
    return ret;
}

static int command(ringo_pg_conn *c, const char *sql, const char *want_tag)
{
    PGresult *res;
    int ret = ringo_pg_exec(c, &res, NULL, sql, 0, NULL);

    if (ret < 0)
        return ret;
    if (want_tag && strcmp(PQcmdStatus(res), want_tag) != 0) {
        ringo__pg_set_error(NULL, NULL, "the transaction had failed: COMMIT rolled it back");
        ret = -EIO;
    }
    PQclear(res);
    return ret;
}

int ringo_pg_begin(ringo_pg_conn *c) { return command(c, "BEGIN", NULL); }

int ringo_pg_commit(ringo_pg_conn *c) { return command(c, "COMMIT", "COMMIT"); }

int ringo_pg_rollback(ringo_pg_conn *c) { return command(c, "ROLLBACK", NULL); }

/* ---- the request-scoped dependency: FastAPI's get_db() with `yield` ---- */

static int dep_open(ringo_req *req, void **value, ringo_pg *pg, bool tx)
{
    ringo_pg_conn *c;
    int ret = ringo_pg_acquire(pg, &c);

    if (ret == 0 && tx && (ret = ringo_pg_begin(c)) < 0)
        ringo_pg_release(c);
    if (ret < 0)
        return ringo_pg_fail(req, ret);
    *value = c;
    return 0;
}

static int dep_conn(ringo_req *req, void **value, void *udata)
{
    return dep_open(req, value, udata, false);
}

static int dep_tx(ringo_req *req, void **value, void *udata)
{
    return dep_open(req, value, udata, true);
}

static void teardown_conn(ringo_req *req, void *value, void *udata)
{
    (void)req;
    (void)udata;
    ringo_pg_release(value);
}

static void teardown_tx(ringo_req *req, void *value, void *udata)
{
    ringo_pg_conn *c = value;
    bool ok = !ringo_req_failed(req) && ringo_resp_get_status(req) < 500;

    (void)udata;
    if (ok && ringo_pg_commit(c) < 0)
        fprintf(stderr, "ringo: PostgreSQL commit after %s failed: %s\n", ringo_req_route(req),
                ringo_pg_last_error());
    else if (!ok)
        ringo_pg_rollback(c); /* a failure leaves the connection broken: release closes it */
    ringo_pg_release(c);
}

int ringo_pg_dep_new(ringo_dep **out, ringo_app *app, const char *name, ringo_pg *pg,
                     unsigned flags)
{
    bool tx = flags & RINGO_PG_TX;
    const ringo_dep_opts opts = {
        .mode = RINGO_SYNC, .teardown = tx ? teardown_tx : teardown_conn, .type = "ringo_pg_conn"};

    if (out)
        *out = NULL;
    if (!pg || (flags & ~RINGO_PG_TX))
        return -EINVAL;
    return ringo_dep_new(out, app, name, tx ? dep_tx : dep_conn, pg, &opts);
}
