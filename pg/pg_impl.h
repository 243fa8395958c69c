/*
 * pg/pg_impl.h - what the PostgreSQL module's files share (not the API).
 */
#ifndef RINGO_PG_IMPL_H
#define RINGO_PG_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "ringo/pg.h"

/* A sync connection and the statements prepared on it. */
struct ringo_pg_conn {
    ringo_pg *pg;
    PGconn *pq;
    struct ringo_pg_conn *next_all;  /* pg->all: every connection, for ringo_pg_free() */
    struct ringo_pg_conn *next_idle; /* pg->idle while released and not a worker's own */
    char **prepared;                 /* names prepared on this connection */
    char **prepared_sql;             /* their texts: one name, one text */
    unsigned nprepared, prepared_cap;
    bool broken; /* a query found it dead: closed at release */
};

struct ringo_pg {
    ringo_app *app;
    char *dsn;
    ringo_pg_config cfg;
    atomic_bool down; /* the last connect failed: stderr says so once per outage */

    /* Sync connections: each worker's own in a thread-specific slot (no lock);
     * the others on the idle list. lock guards all, idle, nconns. */
    pthread_key_t slot;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct ringo_pg_conn *all, *idle;
    uint32_t nconns;
};

/* Records the calling thread's last error: msg (NULL: from pq), SQLSTATE (NULL: none). */
void ringo__pg_set_error(PGconn *pq, const PGresult *res, const char *msg);

/* Logs an outage (first failure after a success) or the recovery, once each. */
void ringo__pg_note_down(ringo_pg *pg, bool down);

#endif
