/*
 * examples/demo_tfb.h - what the TechEmpower test types of both modes share
 * (examples/demo_tfb_shared.c): the statements, building a request's
 * queries, reading rows out of results, and the JSON and HTML answers. The
 * sync routes run the queries with ringo_pg_batch() on a pool worker's
 * connection, the async ones with ringo_pg_run() on the ring's pool: the
 * same query arrays, the same results.
 */
#ifndef DEMO_TFB_H
#define DEMO_TFB_H

#include <ringo.h>

#ifdef RINGO_WITH_PG
#include <ringo/pg.h>

#define TFB_WORLD_ROWS 10000

typedef struct tfb_world {
    int id, rn;
} tfb_world;

/* SELECT id, message FROM fortune, prepared as "tfb_fortune". */
extern const ringo_pg_query tfb_fortune_query;

/* A random World id, 1..10000 (a per-thread generator). */
int tfb_random_id(void);

/* n prepared SELECTs of random World rows (TFB: one per row, never merged), and n
 * result slots, in the request arena. Returns 0 or -ENOMEM. */
int tfb_world_queries(ringo_req *req, unsigned n, ringo_pg_query **q, PGresult ***res);

/* Row 0 of each res[i] (SELECT id, randomnumber) into w[i]. Returns 0 or -ENOENT. */
int tfb_worlds(PGresult *const *res, unsigned n, tfb_world *w);

/* The rows as JSON: an array, or (array false) the one object of /db. */
int tfb_respond_worlds(ringo_req *req, const tfb_world *w, unsigned n, bool array);

/*
 * Gives every row a new random number, sorts w by id (concurrent updates
 * lock rows in one order: no deadlock; a row read twice gets one number) and
 * fills *q with the one bulk UPDATE of the request (TFB allows one per
 * request), its parameters in the request arena. Returns 0 or -ENOMEM.
 */
int tfb_update_query(ringo_req *req, tfb_world *w, unsigned n, ringo_pg_query *q);

/* The fortunes of res plus the one added at request time, sorted by message
 * here, escaped, as text/html. Returns what ringo_resp_set_body_ref() does. */
int tfb_respond_fortunes(ringo_req *req, const PGresult *res);

#endif
#endif
