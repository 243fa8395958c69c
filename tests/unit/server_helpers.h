/*
 * tests/unit/server_helpers.h - what the unit tests that start a real server
 * share: one app on a free loopback port, and each case in its own child
 * process so that a crash or a skip ends only that case.
 */
#ifndef RINGO_TESTS_SERVER_HELPERS_H
#define RINGO_TESTS_SERVER_HELPERS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ringo.h>

#include "check.h"

/*
 * A started app serving GET path with fn (RINGO_ASYNC) on 127.0.0.1, one
 * ring thread and two pool threads; NULL when io_uring is unavailable (the
 * caller cleans up and exits 77). Port 0: the default 8080 would be shared
 * by tests running in parallel.
 */
static inline ringo_app *server_app_start(const char *path, ringo_handler_fn fn)
{
    ringo_config cfg;
    ringo_app *app;
    int ret;

    ringo_config_init(&cfg);
    cfg.port = 0;
    cfg.host = "127.0.0.1";
    cfg.threads = 1;
    cfg.pool_threads = 2;
    cfg.quiet = 1;
    CHECK(ringo_app_new(&app, &cfg) == 0);
    CHECK(ringo_route(app, "GET", path, RINGO_ASYNC, fn, NULL) == 0);
    ret = ringo_app_start(app);
    if (ret == -EPERM || ret == -ENOSYS || ret == -EOPNOTSUPP) {
        ringo_app_free(app);
        return NULL;
    }
    CHECKF(ret == 0, "ringo_app_start: %s", ringo_strerror(ret));
    return app;
}

/*
 * Runs fn in a child (alarm_s > 0: killed after that long); returns 0 or 77
 * as it exited, 1 for any other end (printed as FAIL name).
 */
static inline int server_run_forked(const char *name, void (*fn)(void), unsigned alarm_s)
{
    int status;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(alarm_s);
        fn();
        fflush(stdout);
        exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 77))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        printf("FAIL %s (signal %d)\n", name, WTERMSIG(status));
    else
        printf("FAIL %s\n", name);
    return 1;
}

/*
 * Runs cases 0..n-1 through run (each ends 0, 77 or 1) and prints the tally;
 * returns the test's exit code: 1 when one failed, 77 (ctest: skipped) only
 * when every case skipped, else 0.
 */
static inline int server_run_all(unsigned n, int (*run)(unsigned i))
{
    unsigned failed = 0, skipped = 0;

    for (unsigned i = 0; i < n; i++) {
        int ret = run(i);
        failed += ret == 1;
        skipped += ret == 77;
    }
    printf("%u passed, %u failed, %u skipped\n", n - failed - skipped, failed, skipped);
    if (failed)
        return 1;
    return skipped == n ? 77 : 0;
}

#endif
