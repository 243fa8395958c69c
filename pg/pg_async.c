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
 * on serving the next batches in order.
 *
 * Why no PQcancel(): it blocks (libpq 15 has no non-blocking form), and on a
 * pipelined connection it would abort whichever query the server runs at
 * that moment, which may be another request's. A runaway query is bounded
 * by the session's statement_timeout instead (ringo_pg_async_opts), and
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
#include "ringo/pg.h"

#define MAX_RINGS 1024
#define MAX_BATCH 4096
#define TICK_MS 10

enum { C_EMPTY, C_BACKOFF, C_CONNECTING, C_READY };

typedef struct pg_ring pg_ring;
typedef struct pgconn pgconn;

/* One batch in a connection's FIFO: n queries and the pipeline sync after them. */
typedef struct entry {
    struct entry *next;
    ringo__fiber *fiber;  /* the waiting handler; NULL once abandoned (or internal) */
    ringo_pg_query *q;    /* the handler's queries; NULL once abandoned */
    unsigned n, qi;       /* queries, the one whose results come next */
    bool in_query;        /* a result of query qi came; a NULL ends it */
    bool done, timed_out; /* set for the waiting handler */
    bool internal;        /* the prepares made at connect */
    int err;
    uint64_t deadline; /* ring ms, 0: none */
} entry;

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

typedef struct stmt {
    struct stmt *next;
    char *name, *sql;
} stmt;

struct ringo_pg_async {
    const char **keys, **vals; /* NULL-terminated, for PQconnectStartParams */
    unsigned nkv;
    ringo_pg_async_opts o;
    stmt *stmts;
    unsigned nstmts;
    _Atomic bool started;
    pg_ring *rings[MAX_RINGS]; /* each written by its ring thread, read after they exit */
    _Atomic uint64_t open, connects, broken, batches, abandoned;
};

static void conn_broken(pgconn *c, int err);
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
        if (e->internal && e->err)
            fprintf(stderr, "ringo: pg: preparing statements failed: %s",
                    PQerrorMessage(c->conn));
        ringo__free(e);
    }
    wake_waiters(c->pr, 0, false); /* a batch left: room for one more */
}

static bool is_error(ExecStatusType st)
{
    return st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && st != PGRES_SINGLE_TUPLE;
}

static void take(entry *e, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);

    e->in_query = true;
    if (is_error(st) && !e->err)
        e->err = -EIO;
    if (e->q && e->qi < e->n && !e->q[e->qi].res)
        e->q[e->qi].res = res;
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
                e->qi++;
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
            take(e, res);
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
    entry *e;

    if (PQsetnonblocking(c->conn, 1) != 0 || PQenterPipelineMode(c->conn) != 1)
        return conn_broken(c, -ECONNRESET);
    c->state = C_READY;
    c->backoff_ms = 0;
    atomic_fetch_add_explicit(&p->open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->connects, 1, memory_order_relaxed);
    if (p->nstmts) {
        e = ringo__calloc(1, sizeof(*e));
        if (!e)
            return conn_broken(c, -ENOMEM);
        e->internal = true;
        e->n = p->nstmts;
        for (stmt *s = p->stmts; s; s = s->next)
            if (!PQsendPrepare(c->conn, s->name, s->sql, 0, NULL))
                break;
        if (!PQpipelineSync(c->conn)) {
            ringo__free(e);
            return conn_broken(c, -ECONNRESET);
        }
        c->head = c->tail = e;
        c->npending = 1;
    }
    arm(&c->rd, POLLIN);
    flush(c);
    if (c->state == C_READY)
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
    c->when = ringo__ring_now(c->pr->r) + p->o.connect_timeout_ms;
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
            w->err = -EBUSY;
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
    atomic_store_explicit(&p->started, true, memory_order_relaxed);
    p->rings[id] = pr;
    return pr;
}

/* The ready connection with the fewest batches in flight and room for one more. */
static pgconn *pick(pg_ring *pr)
{
    pgconn *best = NULL;

    for (unsigned i = 0; i < pr->n; i++) {
        pgconn *c = &pr->conns[i];
        if (c->state == C_READY && c->npending < pr->p->o.max_pending &&
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

static int acquire(pg_ring *pr, pgconn **out, uint64_t deadline)
{
    uint64_t until = ringo__ring_now(pr->r) + pr->p->o.acquire_timeout_ms;
    int ret;

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
            return ret == -EBUSY && deadline && until == deadline ? -ETIMEDOUT : ret;
    }
}

static int send_batch(pgconn *c, ringo_pg_query *q, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int ok = q[i].stmt ? PQsendQueryPrepared(c->conn, q[i].stmt, q[i].nparams,
                                                 q[i].values, NULL, NULL, 0)
                           : PQsendQueryParams(c->conn, q[i].sql, q[i].nparams, NULL,
                                               q[i].values, NULL, NULL, 0);
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
    e->q = NULL;
    return ret < 0 ? ret : -ETIMEDOUT;
}

void ringo_pg_clear(ringo_pg_query *q, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        PQclear(q[i].res);
        q[i].res = NULL;
    }
}

int ringo_pg_run(ringo_pg_async *p, ringo_pg_query *q, unsigned n, uint32_t timeout_ms)
{
    ringo__fiber *t = ringo__fiber_current();
    uint64_t deadline = 0;
    pg_ring *pr;
    pgconn *c;
    entry *e;
    int ret;

    if (!t)
        return -EPERM;
    if (n == 0 || n > MAX_BATCH)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        if (!q[i].stmt == !q[i].sql || q[i].nparams < 0)
            return -EINVAL;
        q[i].res = NULL;
    }
    if (t->cancelled)
        return -ECANCELED;
    if (!(pr = ring_state(p, t->ring)))
        return -ENOMEM;
    if (!timeout_ms)
        timeout_ms = p->o.query_timeout_ms;
    if (timeout_ms)
        deadline = ringo__ring_now(pr->r) + timeout_ms;
    if ((ret = acquire(pr, &c, deadline)) < 0)
        return ret;
    if (!(e = ringo__calloc(1, sizeof(*e))))
        return -ENOMEM;
    if (send_batch(c, q, n) < 0) {
        ringo__free(e);
        conn_broken(c, -ECONNRESET);
        return -ECONNRESET;
    }
    *e = (entry){.fiber = t, .q = q, .n = n, .deadline = deadline};
    if (c->tail)
        c->tail->next = e;
    else
        c->head = e;
    c->tail = e;
    c->npending++;
    atomic_fetch_add_explicit(&p->batches, 1, memory_order_relaxed);
    flush(c); /* may break c: then e already failed with -ECONNRESET */
    if (deadline)
        tick_arm(pr);
    ret = wait_batch(e);
    if (ret == -ECANCELED || ret == -ETIMEDOUT)
        atomic_fetch_add_explicit(&p->abandoned, 1, memory_order_relaxed);
    if (ret < 0 && ret != -EIO)
        ringo_pg_clear(q, n);
    return ret;
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
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num), NULL, 0,
                        NI_NUMERICHOST) != 0) {
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
    o->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
    o->retry_min_ms = o->retry_min_ms ? o->retry_min_ms : 100;
    o->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : 5000;
    if (o->retry_max_ms < o->retry_min_ms)
        o->retry_max_ms = o->retry_min_ms;
}

static int parse(ringo_pg_async *p, const char *conninfo)
{
    PQconninfoOption *opts, *o;
    const char *host = getenv("PGHOST"), *options = NULL;
    char *err = NULL, extra[128];
    unsigned n = 0;
    int ret = 0;

    opts = PQconninfoParse(conninfo ? conninfo : "", &err);
    if (!opts) {
        PQfreemem(err);
        return err ? -EINVAL : -ENOMEM;
    }
    for (o = opts; o->keyword; o++)
        n++;
    p->keys = ringo__calloc(n + 3, sizeof(char *));
    p->vals = ringo__calloc(n + 3, sizeof(char *));
    ret = p->keys && p->vals ? 0 : -ENOMEM;
    for (o = opts; o->keyword && ret == 0; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        if (!strcmp(o->keyword, "options")) {
            options = o->val;
            continue;
        }
        ret = add_kv(p, o->keyword, o->val);
    }
    if (ret == 0 && (options || p->o.statement_timeout_ms)) {
        char *all;
        snprintf(extra, sizeof(extra), " -c statement_timeout=%u", p->o.statement_timeout_ms);
        all = ringo__malloc((options ? strlen(options) : 0) + sizeof(extra));
        ret = all ? 0 : -ENOMEM;
        if (all) {
            sprintf(all, "%s%s", options ? options : "", p->o.statement_timeout_ms ? extra : "");
            ret = add_kv(p, "options", all);
            ringo__free(all);
        }
    }
    if (ret == 0)
        ret = add_hostaddr(p, host);
    PQconninfoFree(opts);
    return ret;
}

int ringo_pg_async_new(ringo_pg_async **out, const char *conninfo,
                       const ringo_pg_async_opts *opts)
{
    ringo_pg_async *p = ringo__calloc(1, sizeof(*p));
    int ret;

    *out = NULL;
    if (!p)
        return -ENOMEM;
    if (opts)
        p->o = *opts;
    opts_defaults(&p->o);
    if ((ret = parse(p, conninfo)) < 0) {
        ringo_pg_async_free(p);
        return ret;
    }
    *out = p;
    return 0;
}

int ringo_pg_async_prepare(ringo_pg_async *p, const char *name, const char *sql)
{
    stmt *s, **tail;

    if (atomic_load_explicit(&p->started, memory_order_relaxed))
        return -EBUSY;
    if (!(s = ringo__calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->name = ringo__strdup(name);
    s->sql = ringo__strdup(sql);
    if (!s->name || !s->sql) {
        ringo__free(s->name);
        ringo__free(s->sql);
        ringo__free(s);
        return -ENOMEM;
    }
    for (tail = &p->stmts; *tail; tail = &(*tail)->next)
        ;
    *tail = s;
    p->nstmts++;
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
    while (p->stmts) {
        stmt *s = p->stmts;
        p->stmts = s->next;
        ringo__free(s->name);
        ringo__free(s->sql);
        ringo__free(s);
    }
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
