/*
 * Description: the contract of ringo/observe.h's setup calls.
 * ringo_app_metrics(), ringo_app_access_log() and ringo_app_request_ids()
 * refuse bad arguments (-EINVAL), a second call (-EEXIST; the metrics path
 * taken by a route too) and calls after start (-EBUSY); an access log that
 * cannot be opened fails ringo_app_start() with the open's error and leaves
 * nothing running; an app that never starts frees what they allocated (ASan
 * builds check the leak); ringo_app_stop() right after a start with metrics
 * and a log stops with zero live objects. The counters, the log lines and
 * the IDs are tested against the real server (test_observe.py). Skips (77)
 * the started cases without io_uring.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ringo.h>

#include "check.h"

static int ok(ringo_req *req, void *udata)
{
    (void)udata;
    return ringo_respond(req, 200, "text/plain", "ok", 2);
}

static ringo_app *new_app(void)
{
    ringo_config cfg;
    ringo_app *app;

    ringo_config_init(&cfg);
    cfg.port = 0;
    cfg.host = "127.0.0.1";
    cfg.threads = 2;
    cfg.pool_threads = 2;
    cfg.quiet = 1;
    CHECK(ringo_app_new(&app, &cfg) == 0);
    return app;
}

static void setup_errors(void)
{
    ringo_app *app = new_app();

    CHECK(ringo_app_metrics(app, NULL) == -EINVAL);
    CHECK(ringo_app_metrics(app, "no-slash") == -EINVAL);
    CHECK(ringo_route(app, "GET", "/taken", RINGO_ASYNC, ok, NULL) == 0);
    CHECK(ringo_app_metrics(app, "/taken") == -EEXIST);
    CHECK(ringo_app_metrics(app, "/metrics") == 0);
    CHECK(ringo_app_metrics(app, "/metrics2") == -EEXIST);
    CHECK(ringo_app_access_log(app, NULL, RINGO_LOG_COMBINED) == -EINVAL);
    CHECK(ringo_app_access_log(app, "", RINGO_LOG_COMBINED) == -EINVAL);
    CHECK(ringo_app_access_log(app, "/tmp/x.log", (ringo_log_format)7) == -EINVAL);
    CHECK(ringo_app_access_log(app, "-", RINGO_LOG_JSON) == 0);
    CHECK(ringo_app_access_log(app, "-", RINGO_LOG_JSON) == -EEXIST);
    CHECK(ringo_app_request_ids(app) == 0);
    CHECK(ringo_app_request_ids(app) == 0); /* idempotent */
    ringo_app_free(app);                    /* never started: frees it all */
}

static void unopenable_log(void)
{
    ringo_app *app = new_app();
    ringo_stats st;
    int ret;

    CHECK(ringo_app_access_log(app, "/nonexistent-dir/access.log", RINGO_LOG_COMBINED) == 0);
    ret = ringo_app_start(app);
    CHECKF(ret == -ENOENT, "ringo_app_start: %s", ringo_strerror(ret));
    ringo_app_stats(app, &st);
    CHECK(st.conns_live == 0 && st.reqs_live == 0);
    ringo_app_free(app);
}

/* Returns 77 without io_uring. */
static int started(void)
{
    char path[64];
    ringo_app *app = new_app();
    ringo_stats st;
    int ret;

    snprintf(path, sizeof(path), "/tmp/ringo-observe-test-%d.log", (int)getpid());
    CHECK(ringo_app_metrics(app, "/metrics") == 0);
    CHECK(ringo_app_access_log(app, path, RINGO_LOG_COMBINED) == 0);
    ret = ringo_app_start(app);
    if (ret == -EPERM || ret == -ENOSYS || ret == -EOPNOTSUPP) {
        ringo_app_free(app);
        unlink(path);
        return 77;
    }
    CHECKF(ret == 0, "ringo_app_start: %s", ringo_strerror(ret));
    CHECK(ringo_app_metrics(app, "/m2") == -EBUSY);
    CHECK(ringo_app_access_log(app, "-", RINGO_LOG_JSON) == -EBUSY);
    CHECK(ringo_app_request_ids(app) == -EBUSY);
    CHECK(ringo_app_reload(app) == 0); /* reopens the log: nothing else changes */
    ringo_app_stop(app);
    CHECK(ringo_app_wait(app) == 0);
    ringo_app_stats(app, &st);
    CHECK(st.conns_live == 0 && st.reqs_live == 0 && st.stacks_live == 0 && st.jobs_live == 0);
    CHECK(access(path, F_OK) == 0);
    ringo_app_free(app);
    unlink(path);
    return 0;
}

int main(void)
{
    int ret;

    setup_errors();
    unopenable_log();
    ret = started();
    printf("observe_test: %s\n", ret == 77 ? "skipped the started case (no io_uring)" : "ok");
    return ret;
}
