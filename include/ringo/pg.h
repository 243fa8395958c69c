/*
 * ringo/pg.h - PostgreSQL through libpq (built when libpq is found: RINGO_WITH_PG).
 */
#ifndef RINGO_PG_H
#define RINGO_PG_H

#include <stdint.h>

#include <libpq-fe.h>

#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- async handlers ---- */

/*
 * A pool of non-blocking libpq connections for RINGO_ASYNC handlers: each
 * ring thread gets its own conns_per_ring connections, opened the first time
 * a handler of that ring queries, in pipeline mode: the queries of a request
 * go out back to back and queries of different requests share a connection
 * (and its round trips). Every connection is used by its ring thread only.
 */
typedef struct ringo_pg_async ringo_pg_async;

typedef struct ringo_pg_async_opts {
    unsigned conns_per_ring;       /* 0: 4 */
    unsigned max_pending;          /* batches in flight per connection, 0: 128 */
    uint32_t acquire_timeout_ms;   /* wait for a connection with room; 0: 1000 */
    uint32_t query_timeout_ms;     /* default deadline of a batch; 0: none */
    uint32_t statement_timeout_ms; /* server-side statement_timeout of each session; 0: server's */
    uint32_t connect_timeout_ms;   /* 0: 5000 */
    uint32_t retry_min_ms;         /* reconnect back-off, doubling; 0: 100 */
    uint32_t retry_max_ms;         /* 0: 5000 */
} ringo_pg_async_opts;

/*
 * Creates a pool for conninfo (a libpq connection string or URI; NULL or ""
 * takes everything from PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD...).
 * Call before ringo_app_start(), off the rings: a host name is resolved here,
 * once, with getaddrinfo() and handed to libpq as hostaddr, so no connection
 * made on a ring ever blocks on a lookup. opts may be NULL. Nothing connects
 * yet. Returns 0 and *out (free with ringo_pg_async_free()), -EINVAL for a
 * conninfo libpq refuses, -EHOSTUNREACH for a host name that does not
 * resolve, -ENOMEM.
 */
RINGO_API int ringo_pg_async_new(ringo_pg_async **out, const char *conninfo,
                                 const ringo_pg_async_opts *opts);

/*
 * Declares a prepared statement every connection of the pool prepares as it
 * opens (before any query of a handler). Before ringo_app_start() only.
 * name and sql are copied. Returns 0, -EBUSY once connections exist, -ENOMEM.
 */
RINGO_API int ringo_pg_async_prepare(ringo_pg_async *p, const char *name, const char *sql);

/* Closes every connection. Only after ringo_app_wait() returned. NULL is a no-op. */
RINGO_API void ringo_pg_async_free(ringo_pg_async *p);

/*
 * One query of a batch. Set either stmt (a name given to
 * ringo_pg_async_prepare()) or sql (parameters $1..$n), and nparams text
 * values (NULL for SQL NULL). res is set by ringo_pg_run(): the query's
 * PGresult, which the caller owns (PQclear(), or ringo_pg_clear()); NULL
 * when the query never ran (the batch failed before it).
 */
typedef struct ringo_pg_query {
    const char *stmt;
    const char *sql;
    int nparams;
    const char *const *values;
    PGresult *res;
} ringo_pg_query;

/*
 * Runs the n queries q[0..n) from a RINGO_ASYNC handler: they go to one
 * connection back to back, followed by one pipeline sync (they share a
 * round trip, and one implicit transaction: an error aborts the queries of
 * the batch after it, never another request's), and the handler suspends
 * until the last result is in. timeout_ms bounds the whole call (0: the
 * pool's query_timeout_ms); the route deadline and a client hang-up bound
 * it too. The memory q and its values point to need to live only during
 * the call. Returns
 *   0             every query ran; each q[i].res is PGRES_TUPLES_OK or
 *                 PGRES_COMMAND_OK
 *   -EIO          the database answered an error: the failing query's res
 *                 holds it (PQresultErrorMessage()), the following ones
 *                 PGRES_PIPELINE_ABORTED
 *   -ECONNREFUSED no connection of this ring is open (database down or
 *                 starting): answer 503
 *   -EBUSY        every connection stayed full for acquire_timeout_ms: 503
 *   -ECONNRESET   the connection broke while the batch was in flight
 *   -ETIMEDOUT    timeout_ms passed; -ECANCELED: the handler was cancelled
 *                 (client gone, route deadline). The queries may still run
 *                 on the server; their results are discarded as they come.
 *   -EINVAL       n is 0 or larger than 4096, a query has neither stmt nor sql
 *   -ENOMEM, -EPERM (not in a RINGO_ASYNC handler)
 * On every error the res of the queries that did not answer is NULL.
 */
RINGO_API int ringo_pg_run(ringo_pg_async *p, ringo_pg_query *q, unsigned n, uint32_t timeout_ms);

/* PQclear() of q[0..n).res, set to NULL. */
RINGO_API void ringo_pg_clear(ringo_pg_query *q, unsigned n);

/* Counters of the pool, summed over its rings (relaxed reads). */
typedef struct ringo_pg_async_stats {
    uint64_t conns_open;  /* connections ready now */
    uint64_t connects;    /* successful connects (reconnects included) */
    uint64_t broken;      /* connections found broken and replaced */
    uint64_t batches;     /* batches sent */
    uint64_t abandoned;   /* batches whose handler left before the results */
} ringo_pg_async_stats;

RINGO_API void ringo_pg_async_stats_get(const ringo_pg_async *p, ringo_pg_async_stats *out);

#ifdef __cplusplus
}
#endif
#endif
