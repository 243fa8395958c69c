/*
 * Description: the readiness and liveness routes (http/health.c,
 * ringo/health.h):
 * - registration: NULL or relative paths are -EINVAL, a path taken is
 *   -EEXIST, after start -EBUSY;
 * - the probes answer 200 where the app's middleware answers 403 and its
 *   app-wide dependency fails every other route with 500;
 * - ringo_app_stop() with shutdown_delay_ms: readiness answers 503 at once,
 *   the other routes go on with Connection: close, liveness stays 200; a
 *   second SIGTERM ends the delay and ringo_app_wait() returns 0 with
 *   nothing left alive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ringo.h>

#include "check.h"
#include "server_helpers.h"

typedef struct reply {
    int status;
    bool closes;
    char body[256];
} reply;

static int dial(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {30, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* One keep-alive GET on a fresh connection; the whole response in *r. */
static void get(uint16_t port, const char *path, reply *r)
{
    char buf[4096], req[256];
    size_t len = 0;
    int fd = dial(port), n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    const char *end, *cl;

    CHECK(send(fd, req, (size_t)n, MSG_NOSIGNAL) == n);
    for (;;) {
        ssize_t got = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (got < 0 && errno == EINTR) /* SO_RCVTIMEO recv can see EINTR: read on */
            continue;
        CHECKF(got > 0, "%s: recv %zd (%s) after %zu bytes: %.*s", path, got, strerror(errno), len,
               (int)len, buf);
        len += (size_t)got;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        cl = strcasestr(buf, "\r\nContent-Length: ");
        if (end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 18, NULL, 10))
            break;
    }
    close(fd);
    CHECK(sscanf(buf, "HTTP/1.1 %d", &r->status) == 1);
    r->closes = strcasestr(buf, "\r\nConnection: close\r\n") != NULL;
    snprintf(r->body, sizeof(r->body), "%s", end + 4);
}

static int text(ringo_req *req, void *udata)
{
    return ringo_respond(req, 200, "text/plain", udata, strlen(udata));
}

static int forbid(ringo_req *req, void *udata)
{
    (void)udata;
    ringo_respond(req, 403, "text/plain", "no\n", 3);
    return RINGO_RESPOND;
}

static int failing_dep(ringo_req *req, void **value, void *udata)
{
    (void)req, (void)value, (void)udata;
    return -EIO;
}

static ringo_app *new_app(uint32_t delay_ms)
{
    ringo_config cfg;
    ringo_app *app;

    ringo_config_init(&cfg);
    cfg.port = 0;
    cfg.host = "127.0.0.1";
    cfg.threads = 1;
    cfg.pool_threads = 2;
    cfg.quiet = 1;
    cfg.shutdown_delay_ms = delay_ms;
    CHECK(ringo_app_new(&app, &cfg) == 0);
    return app;
}

static uint16_t start(ringo_app *app)
{
    int ret = ringo_app_start(app);

    if (ret == -EPERM || ret == -ENOSYS || ret == -EOPNOTSUPP) {
        ringo_app_free(app);
        exit(77);
    }
    CHECKF(ret == 0, "ringo_app_start: %s", ringo_strerror(ret));
    return ringo_app_port(app);
}

static void finish(ringo_app *app)
{
    ringo_stats st;

    CHECK(ringo_app_wait(app) == 0);
    ringo_app_stats(app, &st);
    CHECK(st.conns_live == 0 && st.reqs_live == 0 && st.stacks_live == 0 && st.jobs_live == 0);
    ringo_app_free(app);
}

static void test_registration(void)
{
    ringo_app *app = new_app(0);

    CHECK(ringo_app_readiness(NULL, "/readyz") == -EINVAL);
    CHECK(ringo_app_readiness(app, NULL) == -EINVAL);
    CHECK(ringo_app_liveness(app, "livez") == -EINVAL);
    CHECK(ringo_route(app, "GET", "/taken", RINGO_ASYNC, text, "x") == 0);
    CHECK(ringo_app_readiness(app, "/taken") == -EEXIST);
    CHECK(ringo_app_readiness(app, "/readyz") == 0);
    CHECK(ringo_app_liveness(app, "/readyz") == -EEXIST);
    CHECK(ringo_app_liveness(app, "/livez") == 0);
    start(app);
    CHECK(ringo_app_liveness(app, "/later") == -EBUSY);
    ringo_app_stop(app);
    finish(app);
}

static void test_bypass_middleware_and_deps(void)
{
    static const char *const needs[] = {"db", NULL};
    const ringo_middleware mw = {.before = forbid};
    ringo_app *app = new_app(0);
    ringo_dep *db;
    uint16_t port;
    reply r;

    CHECK(ringo_dep_new(&db, app, "db", failing_dep, NULL, NULL) == 0);
    CHECK(ringo_app_needs(app, needs) == 0);
    CHECK(ringo_route(app, "GET", "/x", RINGO_ASYNC, text, "x\n") == 0);
    CHECK(ringo_app_readiness(app, "/readyz") == 0);
    CHECK(ringo_app_liveness(app, "/livez") == 0);
    CHECK(ringo_app_add_middleware(app, &mw) == 0);
    port = start(app);
    get(port, "/x", &r);
    CHECK(r.status == 403);
    get(port, "/readyz", &r);
    CHECK(r.status == 200 && !strcmp(r.body, "ready\n"));
    get(port, "/livez", &r);
    CHECK(r.status == 200 && !strcmp(r.body, "live\n"));
    ringo_app_stop(app);
    finish(app);
}

static int waited = -1;

/* Only the wait: the app is freed by the thread that stopped it, after the join. */
static void *waiter(void *arg)
{
    waited = ringo_app_wait(arg);
    return NULL;
}

static void test_stop_with_delay(void)
{
    ringo_app *app = new_app(600000); /* only the second SIGTERM ends it */
    ringo_stats st;
    pthread_t t;
    uint16_t port;
    reply r;

    CHECK(ringo_route(app, "GET", "/x", RINGO_ASYNC, text, "x\n") == 0);
    CHECK(ringo_app_readiness(app, "/readyz") == 0);
    CHECK(ringo_app_liveness(app, "/livez") == 0);
    CHECK(ringo_app_handle_signals(app) == 0);
    port = start(app);
    get(port, "/x", &r);
    CHECK(r.status == 200 && !r.closes);
    CHECK(pthread_create(&t, NULL, waiter, app) == 0);
    ringo_app_stop(app);
    ringo_app_stop(app); /* idempotent: does not end the delay */
    get(port, "/readyz", &r);
    CHECK(r.status == 503 && !strcmp(r.body, "stopping\n"));
    get(port, "/x", &r);
    CHECK(r.status == 200 && r.closes && !strcmp(r.body, "x\n"));
    get(port, "/livez", &r);
    CHECK(r.status == 200);
    CHECK(kill(getpid(), SIGTERM) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(waited == 0);
    ringo_app_stats(app, &st);
    CHECK(st.conns_live == 0 && st.reqs_live == 0 && st.stacks_live == 0 && st.jobs_live == 0);
    ringo_app_free(app);
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"registration", test_registration},
    {"bypass_middleware_and_deps", test_bypass_middleware_and_deps},
    {"stop_with_delay", test_stop_with_delay},
};

static int run_case(unsigned i) { return server_run_forked(cases[i].name, cases[i].fn, 120); }

int main(void) { return server_run_all(sizeof(cases) / sizeof(cases[0]), run_case); }
