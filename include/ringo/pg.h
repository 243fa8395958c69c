/*
 * ringo/pg.h - PostgreSQL through libpq, in both handler modes.
 *
 * Built only when the library was configured with libpq (RINGO_WITH_PG is
 * then defined for the library and its users; Debian: libpq-dev). A
 * ringo_pg is one database: how to reach it (a libpq connection string, or
 * libpq's PGHOST/PGPORT/PGDATABASE/PGUSER/PGPASSWORD environment) and the
 * timeouts its connections get. Connections are made lazily, on first use.
 *
 * Sync handlers (RINGO_SYNC, FastAPI's plain `def`) use blocking libpq on
 * the pool: each worker keeps a connection of its own, checked out with
 * ringo_pg_acquire() and given back with ringo_pg_release(), or held for
 * a whole request by a dependency (ringo_pg_dep_new(), FastAPI's get_db()
 * with `yield`), optionally inside a transaction that commits when the
 * request succeeded and rolls back when it failed. None of the sync calls
 * runs on a ring: from an async handler they return -EPERM.
 *
 * Results are libpq PGresults owned by the caller (PQclear() them). Errors
 * are -errno values; the libpq message and SQLSTATE of the calling thread's
 * last failure are in ringo_pg_last_error() and ringo_pg_last_sqlstate(),
 * and ringo_pg_fail() turns an error into the HTTP answer (503 when the
 * database cannot be reached).
 */
#ifndef RINGO_PG_H
#define RINGO_PG_H

#include <stdint.h>

#include <libpq-fe.h>

#include "ringo/app.h"
#include "ringo/common.h"
#include "ringo/deps.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================= configuration (both modes) ======================= */

typedef struct ringo_pg ringo_pg;

typedef struct ringo_pg_config {
    /* A libpq connection string ("host=... dbname=..." or a postgresql:// URI);
     * NULL or "": libpq's PG* environment variables and defaults. Copied. Its own
     * connect_timeout, if any, wins over connect_timeout_ms. */
    const char *dsn;
    uint32_t connect_timeout_ms;   /* default 5000 (libpq counts whole seconds, at least 2) */
    uint32_t statement_timeout_ms; /* SET statement_timeout at connect; 0: the server's */
    uint32_t max_conns;            /* sync connections in all, default 0: one per worker plus one
                                    * per request holding a ringo_pg_dep_new() dependency;
                                    * with a cap, acquire and release take a lock */
    uint32_t acquire_timeout_ms;   /* waiting for a free connection past max_conns: default 1000 */
    uint64_t reserved[4];          /* zero: room for later options (ABI) */
} ringo_pg_config;

/* Fills cfg with the defaults (dsn NULL: the PG* environment). */
RINGO_API void ringo_pg_config_init(ringo_pg_config *cfg);

/*
 * A database for app's handlers, in *out (NULL on failure). Connects
 * nothing: a database that is down at start is not an error, its routes
 * answer 503 until it is up. cfg (NULL: defaults) and its dsn are copied.
 * Returns 0, -EINVAL (out or app NULL, nonzero reserved) or -ENOMEM.
 */
RINGO_API int ringo_pg_new(ringo_pg **out, ringo_app *app, const ringo_pg_config *cfg);

/*
 * Closes every connection and frees pg. Call it once nothing uses it any
 * more: after ringo_app_wait() returned, or from a shutdown hook
 * (ringo/lifespan.h). NULL is a no-op.
 */
RINGO_API void ringo_pg_free(ringo_pg *pg);

/*
 * One statement: its text, optional parameters (text format unless formats
 * says otherwise, as in PQexecParams()), and optionally a name: a named
 * statement is prepared once per connection (PQprepare() the first time this
 * connection sees the name, PQexecPrepared() from then on; one name, one text).
 */
typedef struct ringo_pg_query {
    const char *sql;           /* required */
    const char *name;          /* NULL: unnamed, parsed each time */
    int nparams;               /* values[0..nparams) ($1, $2, ...) */
    const char *const *values; /* NULL entries are SQL NULLs */
    const int *lengths;        /* for binary values; NULL: all text */
    const int *formats;        /* 0 text, 1 binary per value; NULL: all text */
    int result_format;         /* 0 text, 1 binary */
    uint32_t timeout_ms;       /* this statement's statement_timeout; 0: the connection's */
} ringo_pg_query;

/*
 * Answers req for a failed ringo_pg_* call err: 503 "database unavailable"
 * (with Retry-After: 1) when the database cannot be reached or no connection
 * is free (-ECONNREFUSED, -ECONNRESET, -EAGAIN), 504 when the statement
 * timed out (-ETIMEDOUT), 500 otherwise (an SQL error, -EPERM, -ENOMEM).
 * The body is {"detail": ...}, never the libpq message (it may name hosts
 * and users); that goes to stderr once per outage. Returns RINGO_EHTTP for
 * the handler to return, like ringo_fail().
 */
RINGO_API int ringo_pg_fail(ringo_req *req, int err);

/* PQclear() of res[0..n), each set to NULL (the results of ringo_pg_batch(), ringo_pg_run()). */
RINGO_API void ringo_pg_results_clear(PGresult **res, unsigned n);

/* The calling thread's last libpq error message ("" when none). Valid until the
 * thread's next ringo_pg_* call. */
RINGO_API const char *ringo_pg_last_error(void);

/* The SQLSTATE of the calling thread's last failed statement ("57014": canceled by
 * statement_timeout), "" when the failure had none (a connection error). */
RINGO_API const char *ringo_pg_last_sqlstate(void);

/* ======================= sync handlers: blocking libpq on the pool ======================= */

typedef struct ringo_pg_conn ringo_pg_conn;

/*
 * A connection for the caller alone until ringo_pg_release(): the worker's
 * own when it is free (no lock), else an idle one, else a new one (blocking
 * connect, bounded by connect_timeout_ms). A connection found broken (the
 * server closed it, pg_terminate_backend()) is replaced before it is
 * returned. Returns 0, -EPERM (from an async handler: never on a ring),
 * -ECONNREFUSED (the database cannot be reached; ringo_pg_last_error() says
 * why), -EAGAIN (max_conns reached and none came free within
 * acquire_timeout_ms) or -ENOMEM.
 */
RINGO_API int ringo_pg_acquire(ringo_pg *pg, ringo_pg_conn **out);

/*
 * Gives c back. A transaction left open is rolled back, a broken connection
 * is closed (the next acquire connects anew). Any thread may release a
 * connection another acquired (a dependency's teardown may run on another
 * worker). NULL is a no-op.
 */
RINGO_API void ringo_pg_release(ringo_pg_conn *c);

/* The libpq connection under c, for what this header does not wrap (COPY,
 * PQescapeLiteral...). Do not PQfinish() it. */
RINGO_API PGconn *ringo_pg_conn_pq(ringo_pg_conn *c);

/*
 * Runs q on c and waits for its result. On success *out is a PGresult with
 * status PGRES_TUPLES_OK or PGRES_COMMAND_OK that the caller owns
 * (PQclear()). On failure *out is NULL and the call returns -EIO (an SQL
 * error: ringo_pg_last_sqlstate() says which), -ETIMEDOUT (statement_timeout
 * cancelled it), -ECONNRESET (the connection broke: it is replaced at the
 * next acquire; the statement may or may not have run), -EINVAL (q or its
 * sql NULL, a name reused with another text), -EPERM (async handler) or
 * -ENOMEM. A per-query timeout_ms costs two more round trips (SET and reset).
 */
RINGO_API int ringo_pg_query_run(ringo_pg_conn *c, const ringo_pg_query *q, PGresult **out);

/* ringo_pg_query_run() of sql with text parameters; name NULL: unnamed. */
RINGO_API int ringo_pg_exec(ringo_pg_conn *c, PGresult **out, const char *name, const char *sql,
                            int nparams, const char *const *values);

/*
 * Runs the n queries q[0..n) on c in libpq's pipeline mode: sent back to
 * back with one sync and read back in one round trip instead of n, the
 * blocking twin of ringo_pg_run(). Outside ringo_pg_begin() the batch is
 * one implicit transaction (an error aborts the rest of the batch); inside
 * one, it runs in that transaction. A named query not yet prepared on c is
 * prepared first (one more round trip, once per connection and name).
 * timeout_ms (0: the smallest q[i].timeout_ms, else the connection's
 * statement_timeout) is the statement_timeout of each statement of the
 * batch, set and reset within the same round trip. q, its texts and values
 * need to live only during the call. res[0..n) receives the PGresults,
 * which the caller owns (ringo_pg_results_clear()). Returns
 *   0             every res[i] is PGRES_TUPLES_OK or PGRES_COMMAND_OK
 *   -EIO          a statement failed: its res holds the error, the
 *                 following ones PGRES_PIPELINE_ABORTED (the thread's
 *                 ringo_pg_last_sqlstate() is the failing one's)
 *   -ETIMEDOUT    as -EIO, the statement_timeout cancelled it (57014)
 *   -ECONNRESET   the connection broke (replaced at the next acquire; the
 *                 statements may or may not have run)
 *   -EINVAL       c, q or res NULL, n 0 or above 4096, a query without
 *                 sql or with nparams < 0, a name reused with another text
 *   -EPERM        from an async handler; -ENOMEM
 * On every error but -EIO and -ETIMEDOUT, each res[i] is NULL.
 */
RINGO_API int ringo_pg_batch(ringo_pg_conn *c, const ringo_pg_query *q, unsigned n, PGresult **res,
                             uint32_t timeout_ms);

/* BEGIN, COMMIT, ROLLBACK on c. Return 0 or the errors of ringo_pg_query_run(). A
 * COMMIT the server turned into a rollback (the transaction had failed) is -EIO. */
RINGO_API int ringo_pg_begin(ringo_pg_conn *c);
RINGO_API int ringo_pg_commit(ringo_pg_conn *c);
RINGO_API int ringo_pg_rollback(ringo_pg_conn *c);

/* ringo_pg_dep_new() flags. */
#define RINGO_PG_TX 1u /* BEGIN before the handler; COMMIT or ROLLBACK in the teardown */

/*
 * Registers a RINGO_SYNC dependency called name whose value is a
 * ringo_pg_conn held for the whole request and released in its teardown:
 * FastAPI's get_db() with `yield`. With RINGO_PG_TX it opens a transaction
 * and its teardown commits when the request succeeded, and rolls back when
 * it failed (ringo_req_failed(): an error return, ringo_fail(), a 504), its
 * status is 500 or more, or the client left. Get it with
 * RINGO_DEP(req, dep, ringo_pg_conn). When no connection can be had the
 * dependency answers through ringo_pg_fail() (503) and the handler does not
 * run. Returns what ringo_dep_new() returns (*out: its handle).
 */
RINGO_API int ringo_pg_dep_new(ringo_dep **out, ringo_app *app, const char *name, ringo_pg *pg,
                               unsigned flags);

/* ======================= async handlers ======================= */

/*
 * A pool of non-blocking libpq connections for RINGO_ASYNC handlers, on a
 * ringo_pg's database. Each ring thread gets conns_per_ring connections of
 * its own, opened the first time one of its handlers queries (never by a
 * blocking call: host names are resolved once, in ringo_pg_async_new()),
 * in pipeline mode: the queries of one ringo_pg_run() go out back to back
 * with one sync, and the batches of different requests share a connection
 * and its round trips. A request never holds a connection: it waits for its
 * batch's results only.
 */
typedef struct ringo_pg_async ringo_pg_async;

typedef struct ringo_pg_async_opts {
    unsigned conns_per_ring;     /* 0: 4 */
    unsigned max_pending;        /* batches in flight per connection, 0: 128 */
    uint32_t acquire_timeout_ms; /* wait for a connection with room; 0: 1000 */
    uint32_t query_timeout_ms;   /* default deadline of a batch; 0: none */
    uint32_t retry_min_ms;       /* reconnect back-off, doubling; 0: 100 */
    uint32_t retry_max_ms;       /* 0: 5000 */
    uint64_t reserved[2];        /* zero */
} ringo_pg_async_opts;

/*
 * An async pool on pg's database (its DSN, connect_timeout_ms and
 * statement_timeout_ms; pg must outlive the pool). Call before
 * ringo_app_start(), off the rings: a host name is resolved here, once, with
 * getaddrinfo(), and handed to libpq as hostaddr. Connects nothing: a
 * database that is down is not an error. opts may be NULL. Returns 0 and
 * *out (ringo_pg_async_free() it), -EINVAL (pg NULL, a DSN libpq refuses,
 * nonzero reserved), -EHOSTUNREACH (the host name does not resolve),
 * -ENOMEM.
 */
RINGO_API int ringo_pg_async_new(ringo_pg_async **out, ringo_pg *pg,
                                 const ringo_pg_async_opts *opts);

/* Closes every connection. Only after ringo_app_wait() returned (a shutdown hook).
 * NULL is a no-op. */
RINGO_API void ringo_pg_async_free(ringo_pg_async *p);

/*
 * Runs the n queries q[0..n) from a RINGO_ASYNC handler: one connection of
 * its ring, back to back, then one pipeline sync (one round trip, one
 * implicit transaction: an error aborts the rest of this batch, never
 * another request's). A named query is prepared on the connection the first
 * time that connection sees the name, in the same batch. The handler
 * suspends until the last result is in. q, its texts and values need to
 * live only during the call. res[0..n) receives the PGresults, which the
 * caller owns (ringo_pg_results_clear() or PQclear()). timeout_ms (0: the
 * smallest q[i].timeout_ms, else the pool's query_timeout_ms) bounds the
 * call on the client side; the route deadline and a client hang-up bound it
 * too. Returns
 *   0             every res[i] is PGRES_TUPLES_OK or PGRES_COMMAND_OK
 *   -EIO          the server answered an error: the failing query's res
 *                 holds it, the following ones PGRES_PIPELINE_ABORTED
 *   -ECONNREFUSED no connection of this ring is open (database down): 503
 *   -EAGAIN       every connection stayed full for acquire_timeout_ms: 503
 *   -ECONNRESET   the connection broke with the batch in flight: 503
 *   -ETIMEDOUT    the timeout passed; -ECANCELED: the handler was cancelled
 *                 (client gone, route deadline). The batch is abandoned: its
 *                 queries may still run, their results are discarded.
 *   -EINVAL       n 0 or above 4096, a query without sql, a name reused
 *                 with another text on one connection
 *   -EPERM        not in a RINGO_ASYNC handler; -ENOMEM
 * On every error but -EIO, each res[i] is NULL.
 */
RINGO_API int ringo_pg_run(ringo_pg_async *p, const ringo_pg_query *q, unsigned n, PGresult **res,
                           uint32_t timeout_ms);

/*
 * Transactions across awaits. A ringo_pg_run() batch is its own implicit
 * transaction because the ring's connections are shared by its requests; a
 * ringo_pg_tx pins one connection of the ring to one request instead, from
 * ringo_pg_tx_begin() until its commit or rollback: no other request's
 * batch enters it meanwhile (they use the ring's other connections, or wait
 * for one as ringo_pg_run() does). BEGIN costs no round trip of its own:
 * it goes out in front of the first batch, and COMMIT behind the last one
 * given to ringo_pg_tx_commit(). All calls from the request's RINGO_ASYNC
 * handler, dependency or teardown, on its ring.
 */
typedef struct ringo_pg_tx ringo_pg_tx;

/*
 * Pins a connection of the handler's ring (waiting for a free one like
 * ringo_pg_run(): bounded by acquire_timeout_ms) and returns the
 * transaction in *out, memory of req's arena. Nothing is sent yet. When the
 * request ends with the transaction still open (the handler returned
 * without commit or rollback), it is rolled back then: a background task
 * (ringo/background.h) registered here. Returns 0, -EPERM (not in a
 * RINGO_ASYNC handler), -EINVAL (p, req or out NULL), -ECANCELED,
 * -ECONNREFUSED and -EAGAIN as ringo_pg_run() (503), -ENOMEM, or what
 * ringo_background() returns (-EAGAIN past max_post_inflight).
 */
RINGO_API int ringo_pg_tx_begin(ringo_pg_async *p, ringo_req *req, ringo_pg_tx **out);

/*
 * Runs q[0..n) inside tx (the first batch preceded by BEGIN), in one round
 * trip, like ringo_pg_run(): same arguments, results and errors. After
 * -EIO the transaction is failed (the server refuses every statement until
 * the rollback) and tx stays pinned: roll it back. After -ECANCELED and
 * -ETIMEDOUT it was rolled back already (a ROLLBACK queued behind the
 * abandoned batch), after -ECONNRESET it is gone with its session: either
 * way the connection is unpinned, and further calls return -EINVAL.
 */
RINGO_API int ringo_pg_tx_run(ringo_pg_tx *tx, const ringo_pg_query *q, unsigned n, PGresult **res,
                              uint32_t timeout_ms);

/*
 * Runs q[0..n) (n may be 0) then COMMIT in one round trip, and unpins the
 * connection. Results as ringo_pg_tx_run(). Returns 0 when the transaction
 * committed; -EIO when a statement failed or the server answered the COMMIT
 * with a rollback (the transaction had failed earlier): rolled back; the
 * errors of ringo_pg_tx_run(), after each of which the transaction is rolled
 * back (or gone); -EINVAL when tx is over. A transaction that never sent a
 * statement commits without a round trip.
 */
RINGO_API int ringo_pg_tx_commit(ringo_pg_tx *tx, const ringo_pg_query *q, unsigned n,
                                 PGresult **res, uint32_t timeout_ms);

/* Rolls tx back and unpins its connection at once: the ROLLBACK is queued, not
 * awaited (it never fails in a way the caller could act on). NULL, or a
 * transaction already over: a no-op. Never suspends. */
RINGO_API void ringo_pg_tx_rollback(ringo_pg_tx *tx);

/* 1 while tx holds its connection (not committed, rolled back or lost), else 0. */
RINGO_API int ringo_pg_tx_active(const ringo_pg_tx *tx);

/*
 * Registers a RINGO_ASYNC dependency called name whose value is a
 * ringo_pg_tx begun for the request (RINGO_DEP(req, dep, ringo_pg_tx)): the
 * async get_db() with `yield`. Its teardown commits when the request
 * succeeded and rolls back when it failed (ringo_req_failed(), a status of
 * 500 or more, a client that left); a handler that wants the COMMIT's
 * outcome in its answer calls ringo_pg_tx_commit() itself, and the teardown
 * then has nothing to do. When no connection can be pinned the dependency
 * answers through ringo_pg_fail() (503). A failed COMMIT in the teardown is
 * logged to stderr (the response is out). Returns what ringo_dep_new()
 * returns, -EINVAL for a NULL p.
 */
RINGO_API int ringo_pg_tx_dep_new(ringo_dep **out, ringo_app *app, const char *name,
                                  ringo_pg_async *p);

/* Counters of the pool, summed over its rings (relaxed reads, any thread). */
typedef struct ringo_pg_async_stats {
    uint64_t conns_open; /* connections ready now */
    uint64_t connects;   /* successful connects (reconnects included) */
    uint64_t broken;     /* connections found broken and replaced */
    uint64_t batches;    /* batches sent */
    uint64_t abandoned;  /* batches whose handler left before their results */
} ringo_pg_async_stats;

RINGO_API void ringo_pg_async_stats_get(const ringo_pg_async *p, ringo_pg_async_stats *out);

#ifdef __cplusplus
}
#endif
#endif
