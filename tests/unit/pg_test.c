/*
 * Description: ringo/pg.h without a server: defaults, argument checks, and
 * a database that cannot be reached (-ECONNREFUSED with libpq's message,
 * again on the next call, never -EAGAIN: the failed connection's slot goes
 * back). The calls against a real server are tests/integration/test_pg_sync.py.
 */
#include <errno.h>
#include <string.h>

#include <ringo.h>
#include <ringo/pg.h>

#include "check.h"

static void defaults_and_arguments(ringo_app *app)
{
    ringo_pg_config cfg;
    ringo_pg *pg = (ringo_pg *)1;
    ringo_dep *dep;
    PGresult *res = (PGresult *)1;

    ringo_pg_config_init(&cfg);
    CHECK(cfg.dsn == NULL && cfg.connect_timeout_ms == 5000 && cfg.acquire_timeout_ms == 1000);
    CHECK(cfg.statement_timeout_ms == 0 && cfg.max_conns == 0);
    CHECK(ringo_pg_new(NULL, app, &cfg) == -EINVAL);
    CHECK(ringo_pg_new(&pg, NULL, &cfg) == -EINVAL && pg == NULL);
    cfg.reserved[3] = 1;
    CHECK(ringo_pg_new(&pg, app, &cfg) == -EINVAL && pg == NULL);
    CHECK(ringo_pg_new(&pg, app, NULL) == 0 && pg != NULL);
    CHECK(ringo_pg_dep_new(&dep, app, "db", pg, 2) == -EINVAL && dep == NULL);
    CHECK(ringo_pg_dep_new(&dep, app, "db", NULL, 0) == -EINVAL);
    CHECK(ringo_pg_acquire(pg, NULL) == -EINVAL);
    CHECK(ringo_pg_query_run(NULL, NULL, &res) == -EINVAL && res == NULL);
    CHECK(ringo_pg_exec(NULL, &res, NULL, "SELECT 1", 0, NULL) == -EINVAL);
    CHECK(ringo_pg_conn_pq(NULL) == NULL);
    ringo_pg_release(NULL);
    ringo_pg_free(pg);
    ringo_pg_free(NULL);
}

static void unreachable(ringo_app *app)
{
    ringo_pg_config cfg;
    ringo_pg_conn *c = (ringo_pg_conn *)1;
    ringo_pg *pg;

    ringo_pg_config_init(&cfg);
    /* Port 1 on loopback: refused at once, no timeout to wait out. */
    cfg.dsn = "host=127.0.0.1 hostaddr=127.0.0.1 port=1 dbname=x user=x password=x";
    cfg.max_conns = 1;
    CHECK(ringo_pg_new(&pg, app, &cfg) == 0);
    for (int i = 0; i < 3; i++) {
        int ret = ringo_pg_acquire(pg, &c);
        CHECKF(ret == -ECONNREFUSED && c == NULL, "attempt %d: %d", i, ret);
        CHECKF(strstr(ringo_pg_last_error(), "127.0.0.1") != NULL, "message: %s",
               ringo_pg_last_error());
        CHECK(strcmp(ringo_pg_last_sqlstate(), "") == 0);
    }
    ringo_pg_free(pg);
}

int main(void)
{
    ringo_config cfg;
    ringo_app *app;

    ringo_config_init(&cfg);
    cfg.quiet = 1;
    CHECK(ringo_app_new(&app, &cfg) == 0);
    defaults_and_arguments(app);
    unreachable(app);
    ringo_app_free(app);
    return 0;
}
