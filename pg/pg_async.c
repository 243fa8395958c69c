/*
 * pg/pg_async.c - PostgreSQL for RINGO_ASYNC handlers: a per-ring pool of
 * non-blocking libpq connections in pipeline mode (include/ringo/pg.h).
 *
 * Each ring owns its connections outright: only its thread touches them, so
 * nothing here takes a lock. A connection is an event-driven state machine
 * on the ring, not a coroutine: its socket always has a poll for input
 * armed (results, and the server closing it), and a poll for output while
 * libpq holds unsent bytes. The poll CQEs run on the ring's own stack, read
 * every result libpq has and hand them to the batch at the head of the
 * connection's FIFO. Handlers only queue batches and park; the connection
 * does not belong to any of them, so a handler that leaves (client gone,
 * deadline) abandons its batch and nothing else: the batch stays in the
 * FIFO, its results are discarded as they arrive, and the connection goes
 * on serving the next batches in order. The one exception is a
 * transaction (ringo_pg_tx): it pins a connection, which then takes no
 * other request's batch until the transaction ends, and its end never
 * waits (a ROLLBACK is queued, the pin dropped at once).
 *
 * Why no PQcancel(): it blocks (libpq 15 has no non-blocking form), and on a
 * pipelined connection it would abort whichever query the server runs at
 * that moment, which may be another request's. A runaway query is bounded
 * by the session's statement_timeout instead (ringo_pg_config), and
 * later batches prefer the connections with the fewest batches in flight.
 *
 * One timer per ring (a 10 ms io_uring timeout, armed only while something
 * waits: a batch with a deadline, a handler waiting for room, a connect in
 * progress, a reconnect in back-off) expires deadlines and retries connects.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "core/alloc.h"
#include "core/ring.h"
#include "core/task.h"
#include "pg/pg_impl.h"
#include "ringo/background.h"
#include "ringo/pg.h"
#include "ringo/request.h"
#include "ringo/response.h"

#define MAX_RINGS 1024
#define MAX_BATCH 4096
#define TICK_MS 10

enum { C_EMPTY, C_BACKOFF, C_CONNECTING, C_READY };

typedef struct pg_ring pg_ring;
typedef struct pgconn pgconn;

/* A statement name prepared on one connection, and its text. */
typedef struct prep {
    struct prep *next;
    char *name, *sql;
} prep;

/*
 * One batch in a connection's FIFO: its steps (a query, or the prepare of a
 * name this connection had not seen) and the pipeline sync after them.
 */
typedef struct entry {
    struct entry *next;
    ringo__fiber *fiber;  /* the waiting handler; NULL once abandoned */
    PGresult **res;       /* the handler's result slots; NULL once abandoned */
    unsigned nsteps, si;  /* steps, the one whose results come next */
    bool in_query;        /* a result of step si came; a NULL ends it */
    bool done, timed_out; /* set for the waiting handler */
    int err;
    uint64_t deadline; /* ring ms, 0: none */
    prep **preps;      /* per step: the name a prepare step declares, else NULL */
    int step[];        /* the query of each step, or one of the STEP_ kinds */
} entry;

/* Steps that are no query of the caller's: their results are dropped (errors count). */
#define STEP_PREPARE -1  /* the prepare of the next step's query */
#define STEP_BEGIN -2    /* a transaction's BEGIN, sent with its first batch */
#define STEP_COMMIT -3   /* its COMMIT: a "ROLLBACK" tag (the transaction had failed) is -EIO */
#define STEP_ROLLBACK -4 /* its ROLLBACK */
#define STEP_NONE -5     /* past the last step */

typedef struct pollop {
    ringo__completion comp;
    pgconn *c;
    uint32_t gen;
    bool armed;
} pollop;

struct pgconn {
    pg_ring *pr;
    PGconn *conn;
    int state;
    uint32_t gen; /* bumped when conn is dropped: older poll CQEs are stale */
    pollop rd, wr;
    entry *head, *tail;
    unsigned npending;
    ringo_pg_tx *pinned; /* the transaction that has this connection to itself */
    prep *preps;         /* names prepared on conn (dropped with it) */
    uint64_t when;       /* C_CONNECTING: give up at; C_BACKOFF: retry at */
    uint32_t backoff_ms; /* next back-off */
};

/* A handler waiting for a connection with room (lives on its stack). */
typedef struct waiter {
    struct waiter *prev, *next;
    ringo__fiber *fiber;
    uint64_t deadline;
    bool woken;
    int err;
} waiter;

struct pg_ring {
    ringo_pg_async *p;
    ringo__ring *r;
    pgconn *conns;
    unsigned n;
    waiter *waiters;
    ringo__completion tick;
    bool tick_armed;
    struct __kernel_timespec ts;
};

struct ringo_pg_async {
    const char **keys, **vals; /* NULL-terminated, for PQconnectStartParams */
    unsigned nkv;
    ringo_pg_async_opts o;
    ringo_pg *pg;                                      /* the database */
    uint32_t connect_timeout_ms, statement_timeout_ms; /* the ringo_pg's */
    pg_ring *rings[MAX_RINGS]; /* each written by its ring thread, read after they exit */
    _Atomic uint64_t open, connects, broken, batches, abandoned;
};

static void conn_broken(pgconn *c, int err);

static void preps_free(pgconn *c)
{
    while (c->preps) {
        prep *x = c->preps;
        c->preps = x->next;
        ringo__free(x->name);
        ringo__free(x->sql);
        ringo__free(x);
    }
}
static void conn_start(pgconn *c);
static void tick_arm(pg_ring *pr);

/* ---- polls ---- */

static void arm(pollop *op, unsigned events)
{
    struct io_uring_sqe *sqe = ringo__ring_sqe(op->c->pr->r);

    io_uring_prep_poll_add(sqe, PQsocket(op->c->conn), events);
    io_uring_sqe_set_data64(sqe, ringo__ptr_data(&op->comp));
    op->armed = true;
    op->gen = op->c->gen;
}

static void disarm(pollop *op)
{
    struct io_uring_sqe *sqe;

    if (!op->armed)
        return;
    sqe = ringo__ring_sqe(op->c->pr->r);
    io_uring_prep_cancel64(sqe, ringo__ptr_data(&op->comp), 0);
    io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
}

/* ---- waiters for room ---- */

static void wake_waiters(pg_ring *pr, int err, bool all)
{
    for (waiter *w = pr->waiters; w; w = w->next) {
        if (w->woken)
            continue;
        w->woken = true;
        w->err = err;
        ringo__fiber_wake(w->fiber);
        if (!all)
            return;
    }
}

static bool any_alive(const pg_ring *pr)
{
    for (unsigned i = 0; i < pr->n; i++)
        if (pr->conns[i].state == C_READY || pr->conns[i].state == C_CONNECTING)
            return true;
    return false;
}

/* ---- results ---- */

static void entry_finish(pgconn *c, entry *e)
{
    c->head = e->next;
    if (!c->head)
        c->tail = NULL;
    c->npending--;
    if (e->fiber) {
        e->done = true;
        ringo__fiber_wake(e->fiber);
    } else {
        ringo__free(e);
    }
    wake_waiters(c->pr, 0, false); /* a batch left: room for one more */
}

static bool is_error(ExecStatusType st)
{
    return st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && st != PGRES_SINGLE_TUPLE;
}

static void forget(pgconn *c, prep *x);

static void take(pgconn *c, entry *e, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    int qi = e->si < e->nsteps ? e->step[e->si] : STEP_NONE;

    e->in_query = true;
    if (is_error(st) && !e->err)
        e->err = -EIO;
    if (qi == STEP_COMMIT && !is_error(st) && strcmp(PQcmdStatus(res), "COMMIT") != 0 && !e->err)
        e->err = -EIO; /* the server rolled the failed transaction back */
    if (qi == STEP_PREPARE && is_error(st))
        forget(c, e->preps[e->si]); /* not prepared after all: the next batch tries again */
    if (qi == STEP_PREPARE && e->si + 1 < e->nsteps && is_error(st))
        qi = e->step[e->si + 1]; /* a failed prepare answers for its query */
    if (qi >= 0 && e->res && !e->res[qi])
        e->res[qi] = res;
    else
        PQclear(res);
}

/*
 * Hands every result libpq has parsed to the head batch. A NULL ends one
 * query's results; a NULL with no query open means nothing more is ready
 * (two in a row to be sure: libpq may report a NULL between a sync and the
 * next query).
 */
static void drain_results(pgconn *c)
{
    int nulls = 0;

    while (c->conn && !PQisBusy(c->conn) && nulls < 2) {
        PGresult *res = PQgetResult(c->conn);
        entry *e = c->head;

        if (!res) {
            if (e && e->in_query) {
                e->in_query = false;
                e->si++;
                nulls = 0;
            } else {
                nulls++;
            }
            continue;
        }
        nulls = 0;
        if (!e)
            PQclear(res); /* nothing asked for it (a notice-like result): drop */
        else if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            entry_finish(c, e);
        } else {
            take(c, e, res);
        }
    }
}

static void flush(pgconn *c)
{
    int ret = PQflush(c->conn);

    if (ret < 0)
        conn_broken(c, -ECONNRESET);
    else if (ret > 0 && !c->wr.armed)
        arm(&c->wr, POLLOUT);
}

/* ---- connection life ---- */

static void conn_ready(pgconn *c)
{
    ringo_pg_async *p = c->pr->p;

    if (PQsetnonblocking(c->conn, 1) != 0 || PQenterPipelineMode(c->conn) != 1)
        return conn_broken(c, -ECONNRESET);
    c->state = C_READY;
    c->backoff_ms = 0;
    atomic_fetch_add_explicit(&p->open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->connects, 1, memory_order_relaxed);
    arm(&c->rd, POLLIN);
    ringo__pg_note_down(p->pg, false);
    wake_waiters(c->pr, 0, true);
}

static void connect_step(pgconn *c)
{
    switch (PQconnectPoll(c->conn)) {
    case PGRES_POLLING_READING: arm(&c->rd, POLLIN); break;
    case PGRES_POLLING_WRITING: arm(&c->wr, POLLOUT); break;
    case PGRES_POLLING_OK: conn_ready(c); break;
    default: conn_broken(c, -ECONNREFUSED); break;
    }
}

static void conn_start(pgconn *c)
{
    ringo_pg_async *p = c->pr->p;

    c->conn = PQconnectStartParams(p->keys, p->vals, 0);
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD || PQsocket(c->conn) < 0)
        return conn_broken(c, -ECONNREFUSED);
    c->state = C_CONNECTING;
    c->when = ringo__ring_now(c->pr->r) + p->connect_timeout_ms;
    arm(&c->wr, POLLOUT); /* libpq: start as if PQconnectPoll said WRITING */
    tick_arm(c->pr);
}

/*
 * The connection is gone (socket error, server closed it, connect failed or
 * timed out): every batch in flight fails with err now rather than hang,
 * abandoned ones are freed, and the slot retries after a back-off.
 */
static void conn_broken(pgconn *c, int err)
{
    ringo_pg_async *p = c->pr->p;
    pg_ring *pr = c->pr;
    entry *e;

    if (c->state == C_READY) {
        atomic_fetch_sub_explicit(&p->open, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->broken, 1, memory_order_relaxed);
    }
    /* stderr hears of it once per outage (the message of the first failure). */
    ringo__pg_set_error(c->conn, NULL, NULL);
    ringo__pg_note_down(p->pg, true);
    while ((e = c->head)) {
        c->head = e->next;
        if (e->fiber) {
            e->err = err;
            e->done = true;
            ringo__fiber_wake(e->fiber);
        } else {
            ringo__free(e);
        }
    }
    c->tail = NULL;
    c->npending = 0;
    c->pinned = NULL; /* its transaction is gone with the session: the handle sees gen move */
    preps_free(c);
    c->gen++;
    disarm(&c->rd);
    disarm(&c->wr);
    PQfinish(c->conn);
    c->conn = NULL;
    c->state = C_BACKOFF;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : p->o.retry_min_ms;
    if (c->backoff_ms > p->o.retry_max_ms)
        c->backoff_ms = p->o.retry_max_ms;
    c->when = ringo__ring_now(pr->r) + c->backoff_ms;
    if (!any_alive(pr))
        wake_waiters(pr, -ECONNREFUSED, true);
    tick_arm(pr);
}

static void on_poll(ringo__completion *comp, int32_t res, uint32_t flags)
{
    pollop *op = (pollop *)comp;
    pgconn *c = op->c;

    (void)flags;
    op->armed = false;
    if (op->gen != c->gen || !c->conn)
        return; /* for a connection already dropped */
    if (c->state == C_CONNECTING)
        return connect_step(c);
    if (op == &c->wr) {
        if (res < 0)
            return conn_broken(c, -ECONNRESET);
        return flush(c);
    }
    /* Input, or an error/hang-up: libpq reads what is left (a FATAL message) first. */
    if (!PQconsumeInput(c->conn) || (res < 0 && res != -ECANCELED))
        return conn_broken(c, -ECONNRESET);
    drain_results(c);
    if (PQstatus(c->conn) == CONNECTION_BAD)
        return conn_broken(c, -ECONNRESET);
    arm(&c->rd, POLLIN);
    if (PQflush(c->conn) > 0 && !c->wr.armed)
        arm(&c->wr, POLLOUT); /* consuming input may have let libpq queue output */
}

/* ---- the ring's timer ---- */

static bool tick_needed(pg_ring *pr)
{
    if (pr->waiters)
        return true;
    for (unsigned i = 0; i < pr->n; i++) {
        pgconn *c = &pr->conns[i];
        if (c->state == C_CONNECTING || c->state == C_BACKOFF)
            return true;
        for (entry *e = c->head; e; e = e->next)
            if (e->deadline && e->fiber)
                return true;
    }
    return false;
}

static void tick_conn(pgconn *c, uint64_t now)
{
    if (c->state == C_CONNECTING && now >= c->when)
        return conn_broken(c, -ETIMEDOUT);
    if (c->state == C_BACKOFF && now >= c->when && !c->rd.armed && !c->wr.armed)
        return conn_start(c);
    for (entry *e = c->head; e; e = e->next)
        if (e->fiber && e->deadline && now >= e->deadline && !e->timed_out) {
            e->timed_out = true;
            ringo__fiber_wake(e->fiber);
        }
}

static void on_tick(ringo__completion *comp, int32_t res, uint32_t flags)
{
    pg_ring *pr = (pg_ring *)((char *)comp - offsetof(pg_ring, tick));
    uint64_t now = ringo__ring_now(pr->r);

    (void)res, (void)flags;
    pr->tick_armed = false;
    for (unsigned i = 0; i < pr->n; i++)
        tick_conn(&pr->conns[i], now);
    for (waiter *w = pr->waiters; w; w = w->next)
        if (!w->woken && w->deadline && now >= w->deadline) {
            w->woken = true;
            w->err = -EAGAIN;
            ringo__fiber_wake(w->fiber);
        }
    tick_arm(pr);
}

static void tick_arm(pg_ring *pr)
{
    struct io_uring_sqe *sqe;

    if (pr->tick_armed || !tick_needed(pr))
        return;
    pr->ts.tv_sec = 0;
    pr->ts.tv_nsec = TICK_MS * 1000000L;
    sqe = ringo__ring_sqe(pr->r);
    io_uring_prep_timeout(sqe, &pr->ts, 0, 0);
    io_uring_sqe_set_data64(sqe, ringo__ptr_data(&pr->tick));
    pr->tick_armed = true;
}

/* ---- per ring ---- */

static pg_ring *ring_state(ringo_pg_async *p, ringo__ring *r)
{
    unsigned id = ringo__ring_id(r);
    pg_ring *pr;

    if (id >= MAX_RINGS)
        return NULL;
    if (p->rings[id])
        return p->rings[id];
    pr = ringo__calloc(1, sizeof(*pr));
    if (!pr)
        return NULL;
    pr->conns = ringo__calloc(p->o.conns_per_ring, sizeof(*pr->conns));
    if (!pr->conns) {
        ringo__free(pr);
        return NULL;
    }
    pr->p = p;
    pr->r = r;
    pr->n = p->o.conns_per_ring;
    pr->tick.fn = on_tick;
    for (unsigned i = 0; i < pr->n; i++) {
        pgconn *c = &pr->conns[i];
        c->pr = pr;
        c->rd = (pollop){.comp = {on_poll}, .c = c};
        c->wr = (pollop){.comp = {on_poll}, .c = c};
    }
    p->rings[id] = pr;
    return pr;
}

/* The ready, unpinned connection with the fewest batches in flight and room for one more. */
static pgconn *pick(pg_ring *pr)
{
    pgconn *best = NULL;

    for (unsigned i = 0; i < pr->n; i++) {
        pgconn *c = &pr->conns[i];
        if (c->state == C_READY && !c->pinned && c->npending < pr->p->o.max_pending &&
            (!best || c->npending < best->npending))
            best = c;
    }
    return best;
}

static int wait_room(pg_ring *pr, uint64_t deadline)
{
    ringo__fiber *t = ringo__fiber_current();
    waiter w = {.fiber = t, .deadline = deadline};
    int ret = 0;

    w.next = pr->waiters;
    if (w.next)
        w.next->prev = &w;
    pr->waiters = &w;
    tick_arm(pr);
    while (!w.woken && ret == 0)
        ret = ringo__fiber_park();
    if (w.prev)
        w.prev->next = w.next;
    else
        pr->waiters = w.next;
    if (w.next)
        w.next->prev = w.prev;
    return ret < 0 ? ret : w.err;
}

static bool any_ready(const pg_ring *pr)
{
    for (unsigned i = 0; i < pr->n; i++)
        if (pr->conns[i].state == C_READY)
            return true;
    return false;
}

/*
 * A connection with room for one more batch. Waiting for room on open
 * connections is bounded by acquire_timeout_ms; while the ring's only hope
 * is a connection being opened, by connect_timeout_ms (the connect is
 * bounded by it too, and its failure wakes the waiters with -ECONNREFUSED).
 */
static int acquire(pg_ring *pr, pgconn **out, uint64_t deadline)
{
    const ringo_pg_async *p = pr->p;
    uint32_t wait_ms = p->o.acquire_timeout_ms;
    uint64_t until;
    int ret;

    if (!any_ready(pr) && p->connect_timeout_ms > wait_ms)
        wait_ms = p->connect_timeout_ms;
    until = ringo__ring_now(pr->r) + wait_ms;
    if (deadline && deadline < until)
        until = deadline;
    for (;;) {
        if ((*out = pick(pr)))
            return 0;
        for (unsigned i = 0; i < pr->n; i++)
            if (pr->conns[i].state == C_EMPTY)
                conn_start(&pr->conns[i]);
        if (!any_alive(pr))
            return -ECONNREFUSED;
        ret = wait_room(pr, until);
        if (ret < 0)
            return ret == -EAGAIN && deadline && until == deadline ? -ETIMEDOUT : ret;
    }
}

/* 1: name is prepared on c with sql, 0: not yet, -EINVAL: with another text. */
static int prepared(const pgconn *c, const char *name, const char *sql)
{
    for (const prep *x = c->preps; x; x = x->next)
        if (!strcmp(x->name, name))
            return strcmp(x->sql, sql) ? -EINVAL : 1;
    return 0;
}

static void forget(pgconn *c, prep *x)
{
    for (prep **pp = &c->preps; x && *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            ringo__free(x->name);
            ringo__free(x->sql);
            ringo__free(x);
            return;
        }
}

static int remember(pgconn *c, const char *name, const char *sql)
{
    prep *x = ringo__calloc(1, sizeof(*x));

    if (x && (x->name = ringo__strdup(name)) && (x->sql = ringo__strdup(sql))) {
        x->next = c->preps;
        c->preps = x;
        return 0;
    }
    if (x)
        ringo__free(x->name);
    ringo__free(x);
    return -ENOMEM;
}

/*
 * The steps of q[0..n) on c: a named query this connection has not prepared
 * is preceded by its prepare (once per batch), and the name is remembered
 * for the connection: the server prepares it before any later batch runs.
 */
static entry *plan(pgconn *c, const ringo_pg_query *q, unsigned n, int begin, int end, int *err)
{
    size_t steps = 2 * (size_t)n + 2;
    entry *e = ringo__calloc(1, sizeof(*e) + steps * sizeof(int) + steps * sizeof(prep *));

    *err = e ? 0 : -ENOMEM;
    if (e && begin)
        e->step[e->nsteps++] = begin;
    for (unsigned i = 0; e && i < n && *err == 0; i++) {
        int known = q[i].name ? prepared(c, q[i].name, q[i].sql) : 1;
        if (known == 0) {
            if (!e->preps)
                e->preps = (prep **)(void *)&e->step[steps];
            known = remember(c, q[i].name, q[i].sql);
            e->preps[e->nsteps] = known == 0 ? c->preps : NULL;
            e->step[e->nsteps++] = STEP_PREPARE;
        }
        if (known < 0)
            *err = known;
        e->step[e->nsteps++] = (int)i;
    }
    if (e && end)
        e->step[e->nsteps++] = end;
    if (*err) {
        ringo__free(e);
        return NULL;
    }
    return e;
}

static bool send_step(pgconn *c, const ringo_pg_query *q, bool prepare)
{
    if (prepare)
        return PQsendPrepare(c->conn, q->name, q->sql, q->nparams, NULL);
    if (q->name)
        return PQsendQueryPrepared(c->conn, q->name, q->nparams, q->values, q->lengths, q->formats,
                                   q->result_format);
    return PQsendQueryParams(c->conn, q->sql, q->nparams, NULL, q->values, q->lengths, q->formats,
                             q->result_format);
}

static int send_batch(pgconn *c, const ringo_pg_query *q, const entry *e)
{
    static const char *const tx_sql[] = {
        [-STEP_BEGIN] = "BEGIN", [-STEP_COMMIT] = "COMMIT", [-STEP_ROLLBACK] = "ROLLBACK"};

    for (unsigned k = 0; k < e->nsteps; k++) {
        int s = e->step[k];
        bool ok = s >= 0 ? send_step(c, &q[s], false)
                  : s == STEP_PREPARE
                      ? send_step(c, &q[e->step[k + 1]], true)
                      : PQsendQueryParams(c->conn, tx_sql[-s], 0, NULL, NULL, NULL, NULL, 0);
        if (!ok)
            return -ECONNRESET;
    }
    return PQpipelineSync(c->conn) ? 0 : -ECONNRESET;
}

static int wait_batch(entry *e)
{
    int ret = 0;

    while (!e->done && !e->timed_out && ret == 0)
        ret = ringo__fiber_park();
    if (e->done) {
        ret = e->err;
        ringo__free(e);
        return ret;
    }
    /* Abandoned: the FIFO keeps it and drops its results as they come. */
    e->fiber = NULL;
    e->res = NULL;
    return ret < 0 ? ret : -ETIMEDOUT;
}

/* timeout_ms, else the smallest per-query timeout_ms, else the pool's query_timeout_ms. */
static uint32_t batch_timeout(const ringo_pg_async *p, const ringo_pg_query *q, unsigned n,
                              uint32_t timeout_ms)
{
    for (unsigned i = 0; timeout_ms == 0 && i < n; i++)
        for (unsigned j = i; j < n; j++)
            if (q[j].timeout_ms && (!timeout_ms || q[j].timeout_ms < timeout_ms))
                timeout_ms = q[j].timeout_ms;
    return timeout_ms ? timeout_ms : p->o.query_timeout_ms;
}

static void enqueue(pgconn *c, entry *e)
{
    if (c->tail)
        c->tail->next = e;
    else
        c->head = e;
    c->tail = e;
    c->npending++;
}

/* The arguments of a batch: 0, or -EINVAL with nothing touched but res. */
static int check_batch(const ringo_pg_query *q, unsigned n, PGresult **res)
{
    if ((n && (!q || !res)) || n > MAX_BATCH)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        if (!q[i].sql || q[i].nparams < 0)
            return -EINVAL;
        res[i] = NULL;
    }
    return 0;
}

/*
 * Plans, sends and queues q[0..n) on c (begin and end: STEP_ kinds around
 * them, or 0), then waits for the batch as the handler t. Returns what
 * ringo_pg_run() returns; res is cleared on every error but -EIO.
 */
static int submit(pgconn *c, const ringo_pg_query *q, unsigned n, PGresult **res, uint64_t deadline,
                  int begin, int end)
{
    ringo_pg_async *p = c->pr->p;
    entry *e;
    int ret;

    if (!(e = plan(c, q, n, begin, end, &ret)))
        return ret;
    if (send_batch(c, q, e) < 0) {
        ringo__free(e);
        conn_broken(c, -ECONNRESET);
        return -ECONNRESET;
    }
    e->fiber = ringo__fiber_current();
    e->res = res;
    e->deadline = deadline;
    enqueue(c, e);
    atomic_fetch_add_explicit(&p->batches, 1, memory_order_relaxed);
    flush(c); /* may break c: then e already failed with -ECONNRESET */
    if (deadline)
        tick_arm(c->pr);
    ret = wait_batch(e);
    if (ret == -ECANCELED || ret == -ETIMEDOUT)
        atomic_fetch_add_explicit(&p->abandoned, 1, memory_order_relaxed);
    if (ret < 0 && ret != -EIO)
        ringo_pg_results_clear(res, n);
    return ret;
}

static uint64_t deadline_of(const pg_ring *pr, uint32_t timeout_ms)
{
    return timeout_ms ? ringo__ring_now(pr->r) + timeout_ms : 0;
}

int ringo_pg_run(ringo_pg_async *p, const ringo_pg_query *q, unsigned n, PGresult **res,
                 uint32_t timeout_ms)
{
    ringo__fiber *t = ringo__fiber_current();
    uint64_t deadline;
    pg_ring *pr;
    pgconn *c;
    int ret;

    if (!t)
        return -EPERM;
    if (!p || n == 0 || !q || !res || (ret = check_batch(q, n, res)) < 0)
        return -EINVAL;
    if (t->cancelled)
        return -ECANCELED;
    if (!(pr = ring_state(p, t->ring)))
        return -ENOMEM;
    deadline = deadline_of(pr, batch_timeout(p, q, n, timeout_ms));
    if ((ret = acquire(pr, &c, deadline)) < 0)
        return ret;
    return submit(c, q, n, res, deadline, 0, 0);
}

/* ---- transactions: one connection pinned to one request ---- */

struct ringo_pg_tx {
    pg_ring *pr;
    pgconn *c;    /* pinned while !over */
    uint32_t gen; /* c->gen when pinned: a reconnect since means the session is gone */
    bool begun;   /* BEGIN went out */
    bool over;    /* committed, rolled back or lost: c is not ours any more */
};

static bool tx_lost(const ringo_pg_tx *tx)
{
    return tx->c->gen != tx->gen || tx->c->state != C_READY || tx->c->pinned != tx;
}

/* Gives the connection back: the batches of other requests may use it again. */
static void tx_unpin(ringo_pg_tx *tx)
{
    if (!tx->over && tx->c->pinned == tx && tx->c->gen == tx->gen) {
        tx->c->pinned = NULL;
        wake_waiters(tx->pr, 0, true);
    }
    tx->over = true;
}

/*
 * Ends the transaction without waiting: a ROLLBACK queued behind whatever is
 * in flight (an abandoned batch of this transaction too), its result
 * dropped, and the connection unpinned at once: batches queued after the
 * ROLLBACK run after it, outside the transaction.
 */
static void tx_abort(ringo_pg_tx *tx)
{
    pgconn *c = tx->c;
    entry *e;
    int ret;

    if (tx->over)
        return;
    if (tx->begun && !tx_lost(tx)) {
        if (!(e = plan(c, NULL, 0, STEP_ROLLBACK, 0, &ret)) || send_batch(c, NULL, e) < 0) {
            ringo__free(e);
            conn_broken(c, -ECONNRESET); /* no ROLLBACK, no session: the server rolls back */
        } else {
            enqueue(c, e); /* fiber NULL: abandoned from the start */
            flush(c);
        }
    }
    tx_unpin(tx);
}

/* The request's end: a transaction its handler left open is rolled back. */
static int tx_end_task(ringo_req *req, void *arg)
{
    (void)req;
    tx_abort(arg);
    return 0;
}

int ringo_pg_tx_begin(ringo_pg_async *p, ringo_req *req, ringo_pg_tx **out)
{
    ringo__fiber *t = ringo__fiber_current();
    ringo_pg_tx *tx;
    pg_ring *pr;
    pgconn *c;
    int ret;

    if (out)
        *out = NULL;
    if (!t)
        return -EPERM;
    if (!p || !req || !out)
        return -EINVAL;
    if (t->cancelled)
        return -ECANCELED;
    if (!(pr = ring_state(p, t->ring)) || !(tx = ringo_req_alloc(req, sizeof(*tx))))
        return -ENOMEM;
    if ((ret = acquire(pr, &c, deadline_of(pr, p->o.query_timeout_ms))) < 0)
        return ret;
    /* Pinned before anything can suspend: no other batch slips in after the BEGIN. */
    *tx = (ringo_pg_tx){.pr = pr, .c = c, .gen = c->gen};
    c->pinned = tx;
    if ((ret = ringo_background(req, RINGO_ASYNC, tx_end_task, tx)) < 0) {
        tx_unpin(tx);
        return ret;
    }
    *out = tx;
    return 0;
}

/* A batch of tx: BEGIN in front of the first, end (STEP_COMMIT or 0) after it. */
static int tx_batch(ringo_pg_tx *tx, const ringo_pg_query *q, unsigned n, PGresult **res,
                    uint32_t timeout_ms, int end)
{
    ringo__fiber *t = ringo__fiber_current();
    int ret, begin;

    if (!t)
        return -EPERM;
    if (!tx || check_batch(q, n, res) < 0 || (n == 0 && !end))
        return -EINVAL;
    if (tx->over)
        return -EINVAL;
    if (tx_lost(tx)) {
        tx_unpin(tx);
        return -ECONNRESET;
    }
    if (t->cancelled) {
        tx_abort(tx);
        return -ECANCELED;
    }
    if (!tx->begun && end == STEP_COMMIT && n == 0) {
        tx_unpin(tx); /* nothing ran: nothing to commit */
        return 0;
    }
    begin = tx->begun ? 0 : STEP_BEGIN;
    tx->begun = true;
    ret = submit(tx->c, q, n, res, deadline_of(tx->pr, batch_timeout(tx->pr->p, q, n, timeout_ms)),
                 begin, end);
    if ((ret == -EINVAL || ret == -ENOMEM) && !end)
        tx->begun = !begin; /* refused before anything was sent: BEGIN still to come */
    else if (ret == -ECONNRESET)
        tx_unpin(tx);
    else if (ret == -ECANCELED || ret == -ETIMEDOUT || (end && ret < 0))
        tx_abort(tx); /* a failed COMMIT batch left the transaction open and failed */
    else if (end)
        tx_unpin(tx);
    return ret;
}

int ringo_pg_tx_run(ringo_pg_tx *tx, const ringo_pg_query *q, unsigned n, PGresult **res,
                    uint32_t timeout_ms)
{
    return tx_batch(tx, q, n, res, timeout_ms, 0);
}

int ringo_pg_tx_commit(ringo_pg_tx *tx, const ringo_pg_query *q, unsigned n, PGresult **res,
                       uint32_t timeout_ms)
{
    return tx_batch(tx, q, n, res, timeout_ms, STEP_COMMIT);
}

void ringo_pg_tx_rollback(ringo_pg_tx *tx)
{
    if (tx)
        tx_abort(tx);
}

int ringo_pg_tx_active(const ringo_pg_tx *tx) { return tx && !tx->over; }

/* ---- the transaction as a dependency ---- */

static int dep_tx(ringo_req *req, void **value, void *udata)
{
    ringo_pg_tx *tx;
    int ret = ringo_pg_tx_begin(udata, req, &tx);

    if (ret == -ECANCELED)
        return ret;
    if (ret < 0)
        return ringo_pg_fail(req, ret);
    *value = tx;
    return 0;
}

static void dep_tx_teardown(ringo_req *req, void *value, void *udata)
{
    ringo_pg_tx *tx = value;
    int ret;

    (void)udata;
    if (!ringo_pg_tx_active(tx))
        return;
    if (ringo_req_failed(req) || ringo_resp_get_status(req) >= 500) {
        tx_abort(tx);
        return;
    }
    ret = ringo_pg_tx_commit(tx, NULL, 0, NULL, 0);
    if (ret < 0) {
        fprintf(stderr, "ringo: PostgreSQL commit after %s failed: %s\n", ringo_req_route(req),
                ret == -EIO ? ringo_pg_last_error() : ringo_strerror(ret));
        tx_abort(tx); /* no coroutine to wait in (-EPERM): roll back */
    }
}

int ringo_pg_tx_dep_new(ringo_dep **out, ringo_app *app, const char *name, ringo_pg_async *p)
{
    const ringo_dep_opts opts = {
        .mode = RINGO_ASYNC, .teardown = dep_tx_teardown, .type = "ringo_pg_tx"};

    if (out)
        *out = NULL;
    if (!p)
        return -EINVAL;
    return ringo_dep_new(out, app, name, dep_tx, p, &opts);
}

/* ---- the pool ---- */

static int add_kv(ringo_pg_async *p, const char *k, const char *v)
{
    char *kc = ringo__strdup(k), *vc = ringo__strdup(v);

    if (!kc || !vc) {
        ringo__free(kc);
        ringo__free(vc);
        return -ENOMEM;
    }
    p->keys[p->nkv] = kc;
    p->vals[p->nkv++] = vc;
    return 0;
}

/* "a,b" -> the numeric address of each name (the first getaddrinfo() gives). */
static int resolve(const char *hosts, char *out, size_t cap)
{
    char buf[1024], *save = NULL, *tok;
    size_t len = 0;

    if (strlen(hosts) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, hosts);
    out[0] = '\0';
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
        char num[NI_MAXHOST];
        if (getaddrinfo(tok, NULL, &hints, &ai) != 0)
            return -EHOSTUNREACH;
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num), NULL, 0, NI_NUMERICHOST) !=
            0) {
            freeaddrinfo(ai);
            return -EHOSTUNREACH;
        }
        freeaddrinfo(ai);
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", num);
        if (len >= cap)
            return -EINVAL;
    }
    return 0;
}

static bool has_key(const ringo_pg_async *p, const char *key)
{
    for (unsigned i = 0; i < p->nkv; i++)
        if (!strcmp(p->keys[i], key))
            return true;
    return false;
}

/* hostaddr for the host the connection will use, unless a socket path or given already. */
static int add_hostaddr(ringo_pg_async *p, const char *host)
{
    char addrs[1024];
    int ret;

    if (!host || !*host || getenv("PGHOSTADDR") || strchr(host, '/') || host[0] == '@')
        return 0;
    for (unsigned i = 0; i < p->nkv; i++)
        if (!strcmp(p->keys[i], "hostaddr"))
            return 0;
    ret = resolve(host, addrs, sizeof(addrs));
    return ret < 0 ? ret : add_kv(p, "hostaddr", addrs);
}

static void opts_defaults(ringo_pg_async_opts *o)
{
    o->conns_per_ring = o->conns_per_ring ? o->conns_per_ring : 4;
    o->max_pending = o->max_pending ? o->max_pending : 128;
    o->acquire_timeout_ms = o->acquire_timeout_ms ? o->acquire_timeout_ms : 1000;
    o->retry_min_ms = o->retry_min_ms ? o->retry_min_ms : 100;
    o->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : 5000;
    if (o->retry_max_ms < o->retry_min_ms)
        o->retry_max_ms = o->retry_min_ms;
}

static int parse(ringo_pg_async *p, const char *conninfo)
{
    PQconninfoOption *opts, *o;
    const char *host = getenv("PGHOST"), *options = NULL;
    char *err = NULL, extra[64];
    unsigned n = 0;
    int ret = 0;

    opts = PQconninfoParse(conninfo ? conninfo : "", &err);
    if (!opts) {
        PQfreemem(err);
        return err ? -EINVAL : -ENOMEM;
    }
    for (o = opts; o->keyword; o++)
        n++;
    p->keys = ringo__calloc(n + 4, sizeof(char *));
    p->vals = ringo__calloc(n + 4, sizeof(char *));
    ret = p->keys && p->vals ? 0 : -ENOMEM;
    for (o = opts; o->keyword && ret == 0; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        if (!strcmp(o->keyword, "options"))
            options = o->val;
        else
            ret = add_kv(p, o->keyword, o->val);
    }
    /* The session's statement_timeout bounds what an abandoned query costs. */
    snprintf(extra, sizeof(extra), " -c statement_timeout=%u", p->statement_timeout_ms);
    if (ret == 0 && (options || p->statement_timeout_ms)) {
        char *all = ringo__malloc((options ? strlen(options) : 0) + sizeof(extra));
        ret = all ? 0 : -ENOMEM;
        if (all) {
            sprintf(all, "%s%s", options ? options : "", p->statement_timeout_ms ? extra : "");
            ret = add_kv(p, "options", all);
            ringo__free(all);
        }
    }
    if (ret == 0)
        ret = add_hostaddr(p, host);
    /*
     * gssencmode=prefer (libpq's default when built with GSSAPI) makes
     * PQconnectPoll() look for Kerberos credentials, which blocks the ring
     * (under load, for seconds): off unless the DSN or PGGSSENCMODE asks.
     */
    if (ret == 0 && !has_key(p, "gssencmode") && !getenv("PGGSSENCMODE"))
        ret = add_kv(p, "gssencmode", "disable");
    PQconninfoFree(opts);
    return ret;
}

int ringo_pg_async_new(ringo_pg_async **out, ringo_pg *pg, const ringo_pg_async_opts *opts)
{
    ringo_pg_async *p;
    int ret;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!pg || (opts && (opts->reserved[0] || opts->reserved[1])))
        return -EINVAL;
    if (!(p = ringo__calloc(1, sizeof(*p))))
        return -ENOMEM;
    if (opts)
        p->o = *opts;
    opts_defaults(&p->o);
    p->pg = pg;
    p->connect_timeout_ms = pg->cfg.connect_timeout_ms ? pg->cfg.connect_timeout_ms : 5000;
    p->statement_timeout_ms = pg->cfg.statement_timeout_ms;
    if ((ret = parse(p, pg->dsn)) < 0) {
        ringo_pg_async_free(p);
        return ret;
    }
    *out = p;
    return 0;
}

static void ring_free(pg_ring *pr)
{
    for (unsigned i = 0; i < pr->n; i++) {
        pgconn *c = &pr->conns[i];
        entry *e;
        while ((e = c->head)) {
            c->head = e->next;
            ringo__free(e); /* no handler is left to wait for it */
        }
        preps_free(c);
        PQfinish(c->conn);
    }
    ringo__free(pr->conns);
    ringo__free(pr);
}

void ringo_pg_async_free(ringo_pg_async *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < MAX_RINGS; i++)
        if (p->rings[i])
            ring_free(p->rings[i]);
    for (unsigned i = 0; i < p->nkv; i++) {
        ringo__free((void *)p->keys[i]);
        ringo__free((void *)p->vals[i]);
    }
    ringo__free(p->keys);
    ringo__free(p->vals);
    ringo__free(p);
}

void ringo_pg_async_stats_get(const ringo_pg_async *p, ringo_pg_async_stats *out)
{
    out->conns_open = atomic_load_explicit(&p->open, memory_order_relaxed);
    out->connects = atomic_load_explicit(&p->connects, memory_order_relaxed);
    out->broken = atomic_load_explicit(&p->broken, memory_order_relaxed);
    out->batches = atomic_load_explicit(&p->batches, memory_order_relaxed);
    out->abandoned = atomic_load_explicit(&p->abandoned, memory_order_relaxed);
}
