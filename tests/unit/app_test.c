/*
 * Description: dependencies, middleware, error handlers, lifespan hooks and
 * background tasks of an in-process app (include/ringo/deps.h,
 * middleware.h, error_handler.h, lifespan.h, background.h), driven by a
 * blocking-socket client in the same process over 127.0.0.1. Middleware
 * befores run in registration order and afters in reverse, and a before can
 * answer alone; error handlers shape 404, 422 and 500 (status 0: catch-all);
 * a dependency needed twice runs once per request unless no_cache; a
 * dependency that fails with ringo_fail() skips the rest and the handler
 * while the teardowns of those that ran still run, in reverse order; cycles
 * and unknown names fail ringo_app_start() (-ELOOP, -ENOENT) with nothing
 * listening; startup hooks run in order before listening, a failing one
 * fails the start and no shutdown hook runs, shutdown hooks run in reverse
 * after ringo_app_wait(); sync and async dependencies mix with sync and
 * async handlers (a run of sync steps is one pool hop) and RINGO_DEP()
 * checks the type; background tasks (async and sync) run after the response
 * while the connection goes on; ringo_req_state() is per request. Every app
 * stops with zero live objects. Skips (77) without io_uring.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ringo.h>

#include "check.h"
#include "server_helpers.h"

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (strcmp(g_, w_) != 0) {                                                                 \
            fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, w_, g_);   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#ifdef RINGO_SANITIZED
#define WAIT_MS 40000
#else
#define WAIT_MS 10000
#endif

/* For dependencies that routes name by name only: ringo_dep_new() requires out. */
static ringo_dep *unused_dep;

/* ---- the event log: who ran, in which order, from every thread ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[4096];

static void ev(const char *fmt, ...)
{
    char item[128];
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(item, sizeof(item), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    n = strlen(log_buf);
    snprintf(log_buf + n, sizeof(log_buf) - n, "%s%s", n ? " " : "", item);
    pthread_mutex_unlock(&log_lock);
}

static void log_get(char *out, size_t n)
{
    pthread_mutex_lock(&log_lock);
    snprintf(out, n, "%s", log_buf);
    pthread_mutex_unlock(&log_lock);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_lock);
    log_buf[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

static int log_has(const char *word)
{
    char b[sizeof(log_buf) + 2], w[130];

    pthread_mutex_lock(&log_lock);
    snprintf(b, sizeof(b), " %s ", log_buf);
    pthread_mutex_unlock(&log_lock);
    snprintf(w, sizeof(w), " %s ", word);
    return strstr(b, w) != NULL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

/* Teardowns and background tasks run after the response: wait, bounded. */
static void log_wait(const char *word)
{
    for (unsigned i = 0; !log_has(word); i++) {
        if (i >= WAIT_MS) {
            char b[sizeof(log_buf)];
            log_get(b, sizeof(b));
            fprintf(stderr, "'%s' not logged within %u ms; log: \"%s\"\n", word, WAIT_MS, b);
            exit(1);
        }
        sleep_ms(1);
    }
}

static void log_expect(const char *want, int line)
{
    char b[sizeof(log_buf)];

    log_get(b, sizeof(b));
    if (strcmp(b, want) != 0) {
        fprintf(stderr, "%s:%d: log: expected \"%s\", got \"%s\"\n", __FILE__, line, want, b);
        exit(1);
    }
}
#define LOG_EXPECT(want) log_expect((want), __LINE__)

static const char *where(void) { return ringo_pool_worker_id() >= 0 ? "pool" : "ring"; }

/* ---- the client: blocking sockets, HTTP/1.1 keep-alive ---- */

typedef struct conn {
    int fd;
    size_t len;
    char buf[32768];
} conn;

typedef struct resp {
    int status;
    char head[4096];
    char body[8192];
    size_t body_len;
} resp;

static int tcp_connect(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    CHECK(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static conn *conn_open(uint16_t port)
{
    struct timeval tv = {WAIT_MS / 1000, 0};
    conn *c = calloc(1, sizeof(*c));

    CHECK(c);
    c->fd = tcp_connect(port);
    CHECK(c->fd >= 0);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return c;
}

static void conn_close(conn *c)
{
    close(c->fd);
    free(c);
}

static void conn_send(conn *c, const char *method, const char *path, const char *extra)
{
    char req[1024];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: test\r\n%s%s\r\n", method, path,
                     extra ? extra : "", strcmp(method, "POST") ? "" : "Content-Length: 0\r\n");

    CHECK(n > 0 && (size_t)n < sizeof(req));
    CHECK(send(c->fd, req, (size_t)n, MSG_NOSIGNAL) == n);
}

/* Blocking recv with SO_RCVTIMEO can see EINTR; the read just goes on. */
static unsigned recv_eintr;

static void conn_fill(conn *c)
{
    ssize_t n;

    CHECK(c->len < sizeof(c->buf));
    do
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    while (n < 0 && errno == EINTR && ++recv_eintr < 1000);
    if (n <= 0) {
        fprintf(stderr, "recv: %s (have %zu bytes: %.*s)\n", n ? strerror(errno) : "EOF", c->len,
                (int)c->len, c->buf);
        exit(1);
    }
    c->len += (size_t)n;
}

/* The value of header name in r (first one), or NULL. out holds it. */
static const char *hdr(const resp *r, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);

    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2, *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, n, "%.*s", (int)(len - (size_t)(v - line)), v);
            return out;
        }
    }
    return NULL;
}

static int hdr_count(const resp *r, const char *name)
{
    size_t nl = strlen(name);
    int k = 0;

    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        if (!strncasecmp(p + 2, name, nl) && p[2 + nl] == ':')
            k++;
    return k;
}

static void conn_read(conn *c, resp *r)
{
    char *end, v[32];
    size_t hl, bl;

    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        conn_fill(c);
    hl = (size_t)(end - c->buf);
    CHECK(hl + 1 < sizeof(r->head));
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    CHECK(sscanf(r->head, "HTTP/1.1 %d", &r->status) == 1);
    CHECK(hdr(r, "Content-Length", v, sizeof(v)));
    bl = strtoul(v, NULL, 10);
    CHECK(bl + 1 < sizeof(r->body));
    while (c->len < hl + 4 + bl)
        conn_fill(c);
    memcpy(r->body, c->buf + hl + 4, bl);
    r->body[bl] = '\0';
    r->body_len = bl;
    c->len -= hl + 4 + bl;
    memmove(c->buf, c->buf + hl + 4 + bl, c->len);
}

static void conn_call(conn *c, const char *method, const char *path, const char *extra, resp *r)
{
    conn_send(c, method, path, extra);
    conn_read(c, r);
}

/* One request on a fresh connection. */
static void call(uint16_t port, const char *method, const char *path, const char *extra, resp *r)
{
    conn *c = conn_open(port);

    conn_call(c, method, path, extra, r);
    conn_close(c);
}

/* ---- apps ---- */

static ringo_app *app_new(uint16_t port)
{
    ringo_config cfg;
    ringo_app *app;

    ringo_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.threads = 1;
    cfg.pool_threads = 4;
    cfg.quiet = 1;
    CHECK(ringo_app_new(&app, &cfg) == 0);
    return app;
}

static int unavailable(int ret)
{
    return ret == RINGO_EIOURING || ret == -EPERM || ret == -ENOSYS || ret == -EOPNOTSUPP;
}

static uint16_t app_start(ringo_app *app)
{
    int ret = ringo_app_start(app);

    if (unavailable(ret)) {
        printf("SKIP: io_uring unavailable (%s)\n", ringo_strerror(ret));
        exit(77);
    }
    if (ret != 0) {
        fprintf(stderr, "ringo_app_start: %s\n", ringo_strerror(ret));
        exit(1);
    }
    CHECK(ringo_app_port(app) != 0);
    return ringo_app_port(app);
}

/* Stops, waits, proves nothing leaked, frees. */
static void app_finish(ringo_app *app)
{
    ringo_stats st;

    ringo_app_stop(app);
    CHECK(ringo_app_wait(app) == 0);
    ringo_app_stats(app, &st);
    if (st.conns_live || st.reqs_live || st.bufs_held || st.stacks_live || st.jobs_live) {
        fprintf(stderr, "leak after stop: conns=%llu reqs=%llu bufs=%llu stacks=%llu jobs=%llu\n",
                (unsigned long long)st.conns_live, (unsigned long long)st.reqs_live,
                (unsigned long long)st.bufs_held, (unsigned long long)st.stacks_live,
                (unsigned long long)st.jobs_live);
        exit(1);
    }
    ringo_app_free(app);
}

static uint64_t pool_hops(const ringo_app *app)
{
    ringo_stats st;

    ringo_app_stats(app, &st);
    return st.pool_hops;
}

/* A port nothing listens on right now (bound to 0, read back, closed). */
static uint16_t free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void check_refused(uint16_t port)
{
    int fd = tcp_connect(port);

    if (fd >= 0)
        close(fd);
    CHECK(fd == -ECONNREFUSED);
}

#define NEEDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- handlers and dependencies shared by the cases ---- */

static int h_text(ringo_req *req, void *udata)
{
    ev("H");
    return ringo_respond(req, 200, "text/plain", udata, strlen(udata));
}

static int h_eio(ringo_req *req, void *udata)
{
    (void)req;
    (void)udata;
    ev("H");
    return -EIO;
}

static int d_log(ringo_req *req, void **value, void *udata)
{
    ev("%s", (const char *)udata);
    *value = ringo_req_alloc(req, 1);
    return *value ? 0 : -ENOMEM;
}

static void t_log(ringo_req *req, void *value, void *udata)
{
    (void)req;
    CHECK(value);
    ev("t%s@%s", (const char *)udata, where());
}

/* ---- middleware ---- */

static int mw_before(ringo_req *req, void *udata)
{
    char name[16];

    ev("%s<", (const char *)udata);
    snprintf(name, sizeof(name), "X-Before-%s", (const char *)udata);
    return ringo_resp_add_header(req, name, ringo_str_c((const char *)udata));
}

static void mw_after(ringo_req *req, void *udata)
{
    char v[16];

    ev("%s>", (const char *)udata);
    if (!strcmp(udata, "A")) {
        snprintf(v, sizeof(v), "%d", ringo_resp_get_status(req));
        CHECK(ringo_resp_add_header(req, "X-After-A", ringo_str_c(v)) == 0);
    }
}

static int mw_block(ringo_req *req, void *udata)
{
    ev("%s<", (const char *)udata);
    ringo_respond(req, 403, "text/plain", "blocked\n", 8);
    return RINGO_RESPOND;
}

static void test_middleware_order(void)
{
    const ringo_middleware a = {mw_before, mw_after, "A"}, b = {mw_before, mw_after, "B"},
                           c = {mw_before, mw_after, "C"};
    ringo_app *app = app_new(0);
    char v[32];
    uint16_t port;
    resp r;

    CHECK(ringo_app_add_middleware(app, &a) == 0);
    CHECK(ringo_app_add_middleware(app, &b) == 0);
    CHECK(ringo_app_add_middleware(app, &c) == 0);
    CHECK(ringo_route(app, "GET", "/async", RINGO_ASYNC, h_text, "async\n") == 0);
    CHECK(ringo_route(app, "GET", "/sync", RINGO_SYNC, h_text, "sync\n") == 0);
    port = app_start(app);
    CHECK(ringo_app_add_middleware(app, &a) == -EBUSY);

    for (int i = 0; i < 2; i++) {
        log_reset();
        call(port, "GET", i ? "/sync" : "/async", NULL, &r);
        CHECK(r.status == 200);
        CHECK_STR(r.body, i ? "sync\n" : "async\n");
        LOG_EXPECT("A< B< C< H C> B> A>");
        CHECK(hdr(&r, "X-After-A", v, sizeof(v)) && !strcmp(v, "200"));
        CHECK(hdr(&r, "X-Before-A", v, sizeof(v)) && !strcmp(v, "A"));
        CHECK(hdr(&r, "X-Before-C", v, sizeof(v)) && !strcmp(v, "C"));
    }
    app_finish(app);
    printf("ok   middleware: befores in order, afters reversed, headers added\n");
}

static void test_middleware_short_circuit(void)
{
    const ringo_middleware a = {mw_before, mw_after, "A"}, b = {mw_block, mw_after, "B"},
                           c = {mw_before, mw_after, "C"};
    const ringo_dep_opts dopts = {.mode = RINGO_SYNC, .teardown = t_log};
    const ringo_route_opts ro = {.needs = NEEDS("dep")};
    ringo_app *app = app_new(0);
    char v[32];
    uint16_t port;
    resp r;

    CHECK(ringo_app_add_middleware(app, &a) == 0);
    CHECK(ringo_app_add_middleware(app, &b) == 0);
    CHECK(ringo_app_add_middleware(app, &c) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "dep", d_log, "dep", &dopts) == 0);
    CHECK(ringo_route_ex(app, "GET", "/x", RINGO_ASYNC, h_text, "x\n", &ro) == 0);
    CHECK(ringo_route_ex(app, "GET", "/y", RINGO_SYNC, h_text, "y\n", &ro) == 0);
    port = app_start(app);

    for (int i = 0; i < 2; i++) {
        log_reset();
        call(port, "GET", i ? "/y" : "/x", NULL, &r);
        CHECK(r.status == 403);
        CHECK_STR(r.body, "blocked\n");
        sleep_ms(20); /* a teardown that wrongly ran would show by now */
        /* C's before never ran: neither does its after; B's and A's afters do. */
        LOG_EXPECT("A< B< B> A>");
        CHECK(hdr(&r, "X-After-A", v, sizeof(v)) && !strcmp(v, "403"));
        CHECK(hdr(&r, "X-Before-A", v, sizeof(v)));
        CHECK(!hdr(&r, "X-Before-C", v, sizeof(v)));
    }
    app_finish(app);
    printf("ok   middleware: a before answering alone skips deps, handler, later befores\n");
}

/* ---- error handlers ---- */

static void err_json(ringo_req *req, int status, const char *detail, void *udata)
{
    char b[256];
    int n = snprintf(b, sizeof(b), "{\"handler\":\"%s\",\"status\":%d,\"detail\":\"%s\"}",
                     (const char *)udata, status, detail);

    ev("E%d", status);
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("application/json"));
    ringo_resp_set_body(req, b, (size_t)n);
}

static int h_teapot(ringo_req *req, void *udata)
{
    (void)udata;
    return ringo_respond(req, 418, "text/plain", "tea\n", 4);
}

static int h_int(ringo_req *req, void *udata)
{
    int64_t n;

    int ret = ringo_param_int(req, RINGO_LOC_QUERY, "n", 1, 9, NULL, &n);

    if (ret < 0 && udata)
        return -EINVAL; /* an errno, not the validation failure: a 500 */
    if (ret < 0)
        return ret;
    return ringo_respond(req, 200, "text/plain", "ok\n", 3);
}

static void check_json_error(const resp *r, int status, const char *body)
{
    char v[64];

    CHECK(r->status == status);
    CHECK_STR(r->body, body);
    CHECK(hdr(r, "Content-Type", v, sizeof(v)) && !strcmp(v, "application/json"));
    if (hdr_count(r, "Content-Type") != 1) {
        fprintf(stderr, "%d answer shaped by an error handler has %d Content-Type headers:\n%s\n",
                status, hdr_count(r, "Content-Type"), r->head);
        exit(1);
    }
}

static void test_error_handlers(void)
{
    ringo_app *app = app_new(0);
    uint16_t port;
    resp r;

    CHECK(ringo_app_set_error_handler(app, 404, err_json, "404") == 0);
    CHECK(ringo_app_set_error_handler(app, 0, err_json, "any") == 0);
    CHECK(ringo_app_set_error_handler(app, 422, err_json, "422") == 0);
    CHECK(ringo_app_set_error_handler(app, -1, err_json, "bad") == -EINVAL);
    CHECK(ringo_route(app, "GET", "/boom", RINGO_ASYNC, h_eio, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/sync/boom", RINGO_SYNC, h_eio, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/teapot", RINGO_ASYNC, h_teapot, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/int", RINGO_ASYNC, h_int, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/int-errno", RINGO_ASYNC, h_int, "errno") == 0);
    port = app_start(app);
    CHECK(ringo_app_set_error_handler(app, 0, err_json, "late") == -EBUSY);

    log_reset();
    call(port, "GET", "/nowhere", NULL, &r);
    check_json_error(&r, 404, "{\"handler\":\"404\",\"status\":404,\"detail\":\"Not Found\"}");
    LOG_EXPECT("E404");

    log_reset();
    call(port, "GET", "/boom", NULL, &r);
    check_json_error(&r, 500,
                     "{\"handler\":\"any\",\"status\":500,"
                     "\"detail\":\"Internal Server Error\"}");
    LOG_EXPECT("H E500");

    log_reset();
    call(port, "GET", "/sync/boom", NULL, &r);
    check_json_error(&r, 500,
                     "{\"handler\":\"any\",\"status\":500,"
                     "\"detail\":\"Internal Server Error\"}");
    LOG_EXPECT("H E500");

    log_reset();
    call(port, "POST", "/teapot", NULL, &r);
    check_json_error(&r, 405,
                     "{\"handler\":\"any\",\"status\":405,"
                     "\"detail\":\"Method Not Allowed\"}");
    LOG_EXPECT("E405");

    /* A status the handler chose itself is its answer, not an error to shape. */
    log_reset();
    call(port, "GET", "/teapot", NULL, &r);
    CHECK(r.status == 418);
    CHECK_STR(r.body, "tea\n");
    LOG_EXPECT("");

    call(port, "GET", "/int?n=3", NULL, &r);
    CHECK(r.status == 200);
    log_reset();
    call(port, "GET", "/int?n=0", NULL, &r);
    check_json_error(&r, 422,
                     "{\"handler\":\"422\",\"status\":422,"
                     "\"detail\":\"Unprocessable Content\"}");
    LOG_EXPECT("E422");

    /* -EINVAL is an errno like any other, even after a validation error. */
    log_reset();
    call(port, "GET", "/int-errno?n=0", NULL, &r);
    check_json_error(&r, 500,
                     "{\"handler\":\"any\",\"status\":500,"
                     "\"detail\":\"Internal Server Error\"}");
    LOG_EXPECT("E500");
    app_finish(app);
    printf("ok   error handlers: 404 and 422 by status, 500 and 405 by the catch-all\n");
}

/* ---- the dependency cache ---- */

static atomic_uint runs_base, runs_fresh;

static int d_count(ringo_req *req, void **value, void *udata)
{
    atomic_fetch_add((atomic_uint *)udata, 1);
    *value = ringo_req_alloc(req, 1);
    return *value ? 0 : -ENOMEM;
}

static int h_count(ringo_req *req, void *udata)
{
    char b[64];
    int n = snprintf(b, sizeof(b), "base=%u fresh=%u", atomic_load(&runs_base),
                     atomic_load(&runs_fresh));

    (void)udata;
    return ringo_respond(req, 200, "text/plain", b, (size_t)n);
}

static void test_dep_cache(void)
{
    const ringo_dep_opts base = {.mode = RINGO_SYNC};
    const ringo_dep_opts fresh = {.mode = RINGO_ASYNC, .no_cache = 1};
    const ringo_dep_opts l = {.mode = RINGO_ASYNC, .needs = NEEDS("base", "fresh")};
    const ringo_dep_opts rr = {.mode = RINGO_SYNC, .needs = NEEDS("fresh", "base")};
    const ringo_route_opts ro = {.needs = NEEDS("left", "right", "base")};
    ringo_app *app = app_new(0);
    uint16_t port;
    resp r;

    CHECK(ringo_dep_new(&unused_dep, app, "base", d_count, &runs_base, &base) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "fresh", d_count, &runs_fresh, &fresh) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "left", d_log, "left", &l) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "right", d_log, "right", &rr) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "base", d_count, &runs_base, &base) == -EEXIST);
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_ASYNC, h_count, NULL, &ro) == 0);
    CHECK(ringo_route_ex(app, "GET", "/s", RINGO_SYNC, h_count, NULL, &ro) == 0);
    port = app_start(app);
    CHECK(ringo_dep_new(&unused_dep, app, "late", d_count, &runs_base, &base) == -EBUSY);
    {
        ringo_group *g = (ringo_group *)&r;
        CHECK(ringo_group_new(&g, app, "/late", NULL) == -EBUSY && g == NULL);
    }

    for (int i = 0; i < 4; i++) {
        atomic_store(&runs_base, 0);
        atomic_store(&runs_fresh, 0);
        log_reset();
        call(port, "GET", i % 2 ? "/s" : "/a", NULL, &r);
        CHECK(r.status == 200);
        /* base: three dependants, one run; fresh (no_cache): once per dependant. */
        CHECK_STR(r.body, "base=1 fresh=2");
        LOG_EXPECT("left right");
    }
    app_finish(app);
    printf("ok   dependency cache: once per request, no_cache once per dependant\n");
}

/* ---- failure short-circuit ---- */

static int d_fail(ringo_req *req, void **value, void *udata)
{
    (void)value;
    ev("%s", (const char *)udata);
    int ret = ringo_fail(req, 403, "nope");

    /* Distinct from every errno a dependency could pass on. */
    CHECK(ret == RINGO_EHTTP);
    return ret;
}

static void test_fail_short_circuit(void)
{
    const ringo_dep_opts a = {.mode = RINGO_SYNC, .teardown = t_log};
    const ringo_dep_opts b = {.mode = RINGO_ASYNC, .needs = NEEDS("a"), .teardown = t_log};
    const ringo_dep_opts b2 = {.mode = RINGO_SYNC, .needs = NEEDS("b"), .teardown = t_log};
    const ringo_dep_opts c = {.mode = RINGO_SYNC, .needs = NEEDS("b2"), .teardown = t_log};
    const ringo_dep_opts d = {.mode = RINGO_ASYNC, .needs = NEEDS("c"), .teardown = t_log};
    const ringo_route_opts ro = {.needs = NEEDS("d")};
    ringo_app *app = app_new(0);
    char v[64];
    uint16_t port;
    resp r;

    CHECK(ringo_dep_new(&unused_dep, app, "a", d_log, "a", &a) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "b", d_log, "b", &b) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "b2", d_log, "b2", &b2) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "c", d_fail, "c", &c) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "d", d_log, "d", &d) == 0);
    CHECK(ringo_route_ex(app, "GET", "/async", RINGO_ASYNC, h_text, "no\n", &ro) == 0);
    CHECK(ringo_route_ex(app, "GET", "/sync", RINGO_SYNC, h_text, "no\n", &ro) == 0);
    port = app_start(app);

    for (int i = 0; i < 2; i++) {
        conn *cn = conn_open(port);
        log_reset();
        conn_call(cn, "GET", i ? "/sync" : "/async", NULL, &r);
        CHECK(r.status == 403);
        CHECK_STR(r.body, "{\"detail\":\"nope\"}");
        CHECK(hdr(&r, "Content-Type", v, sizeof(v)) && !strcmp(v, "application/json"));
        log_wait("ta@pool");
        sleep_ms(20);
        /* c failed (its teardown does not run), d and the handler never ran;
         * the teardowns of b2, b, a run in reverse, each in its own mode. */
        LOG_EXPECT("a b b2 c tb2@pool tb@ring ta@pool");
        /* The connection stays usable after a dependency's failure. */
        conn_call(cn, "GET", "/nowhere", NULL, &r);
        CHECK(r.status == 404);
        conn_close(cn);
    }
    app_finish(app);
    printf("ok   ringo_fail: 403 {\"detail\":\"nope\"}, handler skipped, teardowns reversed\n");
}

/* ---- startup-time graph errors ---- */

static int start_error(ringo_app *app, uint16_t port)
{
    int ret = ringo_app_start(app);

    CHECK(ringo_app_port(app) == 0);
    check_refused(port);
    ringo_app_free(app);
    return ret;
}

static void test_graph_errors(void)
{
    const ringo_dep_opts a = {.needs = NEEDS("b")}, b = {.needs = NEEDS("a")};
    const ringo_dep_opts self = {.mode = RINGO_ASYNC, .needs = NEEDS("self")};
    const ringo_dep_opts ghost = {.needs = NEEDS("settings", "ghost")};
    const ringo_route_opts need_a = {.needs = NEEDS("a")};
    const ringo_route_opts need_self = {.needs = NEEDS("self")};
    const ringo_route_opts need_ghost = {.needs = NEEDS("ghost")};
    uint16_t port = free_port();
    ringo_app *app;

    /* a -> b -> a */
    app = app_new(port);
    CHECK(ringo_dep_new(&unused_dep, app, "a", d_log, "a", &a) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "b", d_log, "b", &b) == 0);
    CHECK(ringo_route_ex(app, "GET", "/", RINGO_ASYNC, h_text, "x", &need_a) == 0);
    CHECK(start_error(app, port) == -ELOOP);

    /* self -> self, reached through the app's own needs */
    app = app_new(port);
    CHECK(ringo_dep_new(&unused_dep, app, "self", d_log, "self", &self) == 0);
    CHECK(ringo_app_needs(app, NEEDS("self")) == 0);
    CHECK(ringo_route(app, "GET", "/", RINGO_SYNC, h_text, "x") == 0);
    CHECK(start_error(app, port) == -ELOOP);

    /* ... and through a group's needs */
    app = app_new(port);
    CHECK(ringo_dep_new(&unused_dep, app, "self", d_log, "self", &self) == 0);
    {
        ringo_group *g;
        CHECK(ringo_group_new(&g, app, "/g", NEEDS("self")) == 0);
        CHECK(ringo_group_route(g, "GET", "/x", RINGO_ASYNC, h_text, "x", NULL) == 0);
    }
    CHECK(start_error(app, port) == -ELOOP);

    /* a route needing a name nobody registered */
    app = app_new(port);
    CHECK(ringo_route_ex(app, "GET", "/", RINGO_ASYNC, h_text, "x", &need_ghost) == 0);
    CHECK(start_error(app, port) == -ENOENT);

    /* a dependency needing one, even if no route uses it */
    app = app_new(port);
    CHECK(ringo_dep_new(&unused_dep, app, "settings", d_log, "settings", NULL) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "db", d_log, "db", &ghost) == 0);
    CHECK(ringo_route(app, "GET", "/", RINGO_ASYNC, h_text, "x") == 0);
    CHECK(start_error(app, port) == -ENOENT);

    /* the same graph without the cycle starts and serves */
    app = app_new(0);
    CHECK(ringo_dep_new(&unused_dep, app, "a", d_log, "a", NULL) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "self", d_log, "self", NULL) == 0);
    CHECK(ringo_route_ex(app, "GET", "/", RINGO_ASYNC, h_text, "fine", &need_a) == 0);
    CHECK(ringo_route_ex(app, "GET", "/s", RINGO_ASYNC, h_text, "fine", &need_self) == 0);
    {
        uint16_t p = app_start(app);
        resp r;
        call(p, "GET", "/", NULL, &r);
        CHECK(r.status == 200);
        CHECK_STR(r.body, "fine");
    }
    app_finish(app);
    printf("ok   graph errors at start: cycles -ELOOP, unknown names -ENOENT, nothing listens\n");
}

/* A cycle among dependencies no route needs is still a cycle in the graph. */
static void test_unused_cycle(void)
{
    const ringo_dep_opts a = {.needs = NEEDS("b")}, b = {.needs = NEEDS("a")};
    uint16_t port = free_port();
    ringo_app *app = app_new(port);
    int ret;

    CHECK(ringo_dep_new(&unused_dep, app, "a", d_log, "a", &a) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "b", d_log, "b", &b) == 0);
    CHECK(ringo_route(app, "GET", "/", RINGO_ASYNC, h_text, "x") == 0);
    ret = ringo_app_start(app);
    if (ret == 0) {
        fprintf(stderr, "a cycle a -> b -> a that no route needs: ringo_app_start() "
                        "returned 0, expected -ELOOP\n");
        ringo_app_stop(app);
        ringo_app_wait(app);
        ringo_app_free(app);
        exit(1);
    }
    CHECK(ret == -ELOOP);
    check_refused(port);
    ringo_app_free(app);
    printf("ok   graph errors at start: a cycle no route needs is -ELOOP too\n");
}

/* ---- lifespan ---- */

static uint16_t lifespan_port;

static int on_start(ringo_app *app, void *udata)
{
    ev("%s", (const char *)udata);
    /* Startup hooks run before anything listens. */
    check_refused(lifespan_port);
    CHECK(ringo_app_port(app) == 0);
    return strcmp(udata, "s2-fails") ? 0 : -EKEYREJECTED;
}

static int on_stop(ringo_app *app, void *udata)
{
    (void)app;
    ev("%s", (const char *)udata);
    /* Shutdown hooks run after the last ring stopped. */
    check_refused(lifespan_port);
    return strcmp(udata, "h2") ? 0 : -EIO; /* logged, shutdown goes on */
}

static int on_reload(ringo_app *app, void *udata)
{
    (void)app;
    ev("%s", (const char *)udata);
    return strcmp(udata, "r2") ? 0 : -EIO; /* logged, serving goes on */
}

/* While the main thread is in ringo_app_wait(): two reloads, then stop. */
static void *reload_then_stop(void *arg)
{
    ringo_app *app = arg;

    CHECK(ringo_app_reload(app) == 0);
    log_wait("r3");
    CHECK(ringo_app_reload(app) == 0);
    for (unsigned i = 0; i < WAIT_MS; i++) {
        char b[sizeof(log_buf)];
        log_get(b, sizeof(b));
        if (strcmp(b, "s1 s2 H r1 r2 r3 r1 r2 r3") == 0)
            break;
        sleep_ms(1);
    }
    ringo_app_stop(app);
    return NULL;
}

static void test_lifespan(void)
{
    ringo_app *app;
    uint16_t port;
    resp r;

    lifespan_port = free_port();
    app = app_new(lifespan_port);
    CHECK(ringo_app_on_startup(app, "s1", on_start, "s1") == 0);
    CHECK(ringo_app_on_startup(app, "s2", on_start, "s2") == 0);
    CHECK(ringo_app_on_shutdown(app, "h1", on_stop, "h1") == 0);
    CHECK(ringo_app_on_shutdown(app, "h2", on_stop, "h2") == 0);
    CHECK(ringo_app_on_shutdown(app, "h3", on_stop, "h3") == 0);
    CHECK(ringo_app_on_reload(app, "r1", on_reload, "r1") == 0);
    CHECK(ringo_app_on_reload(app, "r2", on_reload, "r2") == 0);
    CHECK(ringo_app_on_reload(app, "r3", on_reload, "r3") == 0);
    CHECK(ringo_app_on_reload(app, "r4", NULL, NULL) == -EINVAL);
    CHECK(ringo_app_reload(app) == -EINVAL); /* not running */
    CHECK(ringo_route(app, "GET", "/", RINGO_ASYNC, h_text, "up\n") == 0);
    log_reset();
    port = app_start(app);
    CHECK(port == lifespan_port);
    CHECK(ringo_app_on_startup(app, "late", on_start, "late") == -EBUSY);
    CHECK(ringo_app_on_reload(app, "late", on_reload, "late") == -EBUSY);
    LOG_EXPECT("s1 s2");
    call(port, "GET", "/", NULL, &r);
    CHECK(r.status == 200);
    {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, reload_then_stop, app) == 0);
        CHECK(ringo_app_wait(app) == 0);
        pthread_join(t, NULL);
    }
    /* Reload hooks ran in order each time, a failing one did not stop the others or the app. */
    LOG_EXPECT("s1 s2 H r1 r2 r3 r1 r2 r3 h3 h2 h1");
    {
        ringo_stats st;
        ringo_app_stats(app, &st);
        CHECK(!st.conns_live && !st.reqs_live && !st.bufs_held && !st.stacks_live && !st.jobs_live);
    }
    ringo_app_free(app);

    /* A failing startup hook: start fails with its error, later hooks and
     * every shutdown hook stay silent, nothing listens. */
    lifespan_port = free_port();
    app = app_new(lifespan_port);
    CHECK(ringo_app_on_startup(app, "s1", on_start, "s1") == 0);
    CHECK(ringo_app_on_startup(app, "s2", on_start, "s2-fails") == 0);
    CHECK(ringo_app_on_startup(app, "s3", on_start, "s3") == 0);
    CHECK(ringo_app_on_shutdown(app, "h1", on_stop, "h1") == 0);
    CHECK(ringo_route(app, "GET", "/", RINGO_ASYNC, h_text, "up\n") == 0);
    log_reset();
    CHECK(ringo_app_start(app) == -EKEYREJECTED);
    CHECK(ringo_app_port(app) == 0);
    check_refused(lifespan_port);
    ringo_app_free(app);
    LOG_EXPECT("s1 s2-fails");
    printf("ok   lifespan: startup in order before listening, failure stops the start, "
           "shutdown reversed\n");
}

/* ---- sync and async dependencies, sync and async handlers ---- */

struct sval {
    int magic;
    const char *where;
};
struct aval {
    const struct sval *s;
    const char *where;
};

static ringo_dep *dep_sd, *dep_ad, *dep_sd2;

static int d_sync(ringo_req *req, void **value, void *udata)
{
    struct sval *v = ringo_req_alloc(req, sizeof(*v));

    (void)udata;
    if (!v)
        return -ENOMEM;
    v->magic = 42;
    v->where = where();
    *value = v;
    return 0;
}

/* Awaits on the ring before producing its value. */
static int d_async(ringo_req *req, void **value, void *udata)
{
    struct aval *v = ringo_req_alloc(req, sizeof(*v));
    int ret;

    (void)udata;
    if (!v)
        return -ENOMEM;
    ret = ringo_await_sleep(1);
    if (ret < 0)
        return ret;
    v->s = RINGO_DEP(req, dep_sd, struct sval);
    v->where = ringo_in_async() ? where() : "not-async";
    *value = v;
    return 0;
}

static int d_sync2(ringo_req *req, void **value, void *udata)
{
    struct aval *a = RINGO_DEP(req, dep_ad, struct aval);

    (void)udata;
    *value = (void *)(a && a->s && a->s->magic == 42 ? where() : "bad");
    return 0;
}

static int h_mix(ringo_req *req, void *udata)
{
    struct sval *s = RINGO_DEP(req, dep_sd, struct sval);
    struct aval *a = RINGO_DEP(req, dep_ad, struct aval);
    const char *s2 = ringo_dep_value(req, dep_sd2, NULL);
    char b[160];
    int n;

    (void)udata;
    /* A wrong type name reads NULL; an untyped read returns the value. */
    CHECK(ringo_dep_value(req, dep_sd, "struct aval") == NULL);
    CHECK(ringo_dep_value(req, dep_sd, "struct wrong") == NULL);
    CHECK(ringo_dep_value(req, dep_sd, NULL) == s);
    if (!s || (a && a->s != s))
        return -EIO;
    n = snprintf(b, sizeof(b), "sd=%s:%d ad=%s sd2=%s h=%s", s->where, s->magic, a ? a->where : "-",
                 s2 ? s2 : "-", where());
    return ringo_respond(req, 200, "text/plain", b, (size_t)n);
}

static void mix_call(ringo_app *app, uint16_t port, const char *path, const char *body,
                     uint64_t hops)
{
    uint64_t before = pool_hops(app);
    resp r;

    call(port, "GET", path, NULL, &r);
    CHECK(r.status == 200);
    CHECK_STR(r.body, body);
    if (pool_hops(app) - before != hops) {
        fprintf(stderr, "GET %s: expected %llu pool hops, got %llu\n", path,
                (unsigned long long)hops, (unsigned long long)(pool_hops(app) - before));
        exit(1);
    }
}

static void test_mixed_modes(void)
{
    const ringo_dep_opts so = {.mode = RINGO_SYNC, .type = "struct sval"};
    const ringo_dep_opts ao = {.mode = RINGO_ASYNC, .needs = NEEDS("sd"), .type = "struct aval"};
    const ringo_dep_opts s2o = {.mode = RINGO_SYNC, .needs = NEEDS("ad"), .type = "char"};
    const ringo_route_opts need_ad = {.needs = NEEDS("ad")};
    const ringo_route_opts need_sd2 = {.needs = NEEDS("sd2")};
    const ringo_route_opts need_sd = {.needs = NEEDS("sd")};
    ringo_app *app = app_new(0);
    uint16_t port;

    CHECK(ringo_dep_new(&dep_sd, app, "sd", d_sync, NULL, &so) == 0);
    CHECK(ringo_dep_new(&dep_ad, app, "ad", d_async, NULL, &ao) == 0);
    CHECK(ringo_dep_new(&dep_sd2, app, "sd2", d_sync2, NULL, &s2o) == 0);
    CHECK(dep_sd && dep_ad && dep_sd2);
    CHECK(ringo_route_ex(app, "GET", "/ad/async", RINGO_ASYNC, h_mix, NULL, &need_ad) == 0);
    CHECK(ringo_route_ex(app, "GET", "/ad/sync", RINGO_SYNC, h_mix, NULL, &need_ad) == 0);
    CHECK(ringo_route_ex(app, "GET", "/sd2/async", RINGO_ASYNC, h_mix, NULL, &need_sd2) == 0);
    CHECK(ringo_route_ex(app, "GET", "/sd2/sync", RINGO_SYNC, h_mix, NULL, &need_sd2) == 0);
    CHECK(ringo_route_ex(app, "GET", "/sd/sync", RINGO_SYNC, h_mix, NULL, &need_sd) == 0);
    port = app_start(app);

    for (int i = 0; i < 3; i++) {
        /* [sd] pool, [ad + handler] ring */
        mix_call(app, port, "/ad/async", "sd=pool:42 ad=ring sd2=- h=ring", 1);
        /* [sd] pool, [ad] ring, [handler] pool */
        mix_call(app, port, "/ad/sync", "sd=pool:42 ad=ring sd2=- h=pool", 2);
        /* [sd] pool, [ad] ring, [sd2] pool, [handler] ring */
        mix_call(app, port, "/sd2/async", "sd=pool:42 ad=ring sd2=pool h=ring", 2);
        /* [sd] pool, [ad] ring, [sd2 + handler] pool: one hop for the run */
        mix_call(app, port, "/sd2/sync", "sd=pool:42 ad=ring sd2=pool h=pool", 2);
        /* [sd + handler] pool */
        mix_call(app, port, "/sd/sync", "sd=pool:42 ad=- sd2=- h=pool", 1);
    }
    app_finish(app);
    printf("ok   mixed modes: values typed, where each ran, one hop per run of sync steps\n");
}

/* ---- background tasks ---- */

static atomic_int gate;

/* Waits until the client opened the gate; never past WAIT_MS. */
static int gate_wait(int async)
{
    for (unsigned i = 0; !atomic_load(&gate); i++) {
        if (i >= WAIT_MS)
            return -ETIMEDOUT;
        if (async) {
            int ret = ringo_await_sleep(1);
            if (ret < 0)
                return ret;
        } else {
            sleep_ms(1);
        }
    }
    return 0;
}

static int bg_async(ringo_req *req, void *arg)
{
    int ret = gate_wait(1);

    CHECK(!strcmp(arg, "arena-arg"));
    CHECK(ringo_req_path(req).len == 7);
    ev("bgA@%s%s", where(), ret ? "-timeout" : "");
    return 0;
}

static int bg_sync(ringo_req *req, void *arg)
{
    int ret = gate_wait(0);

    (void)req;
    CHECK(!strcmp(arg, "arena-arg"));
    ev("bgS@%s%s", where(), ret ? "-timeout" : "");
    return 0;
}

static int bg_fails(ringo_req *req, void *arg)
{
    (void)req;
    (void)arg;
    ev("bgF@%s", where());
    return -EIO; /* logged on stderr, never sent */
}

static int h_ping(ringo_req *req, void *udata)
{
    (void)udata;
    return ringo_respond(req, 200, "text/plain", "pong\n", 5);
}

static int h_bg(ringo_req *req, void *udata)
{
    char *arg = ringo_req_alloc(req, 16);

    (void)udata;
    CHECK(arg);
    strcpy(arg, "arena-arg");
    CHECK(ringo_background(req, RINGO_ASYNC, bg_async, arg) == 0);
    CHECK(ringo_background(req, RINGO_SYNC, bg_sync, arg) == 0);
    CHECK(ringo_background(req, RINGO_SYNC, bg_fails, NULL) == 0);
    ev("H@%s", where());
    return ringo_respond(req, 202, "text/plain", "later\n", 6);
}

static void test_background(void)
{
    const ringo_dep_opts td = {.mode = RINGO_ASYNC, .teardown = t_log};
    const ringo_route_opts ro = {.needs = NEEDS("res")};
    ringo_app *app = app_new(0);
    static const char *const paths[] = {"/bg/asy", "/bg/syn"};
    static const char *const logs[] = {
        "res H@ring tres@ring bgA@ring bgS@pool bgF@pool",
        "res H@pool tres@ring bgA@ring bgS@pool bgF@pool",
    };
    uint16_t port;
    resp r;

    CHECK(ringo_dep_new(&unused_dep, app, "res", d_log, "res", &td) == 0);
    CHECK(ringo_route_ex(app, "GET", paths[0], RINGO_ASYNC, h_bg, NULL, &ro) == 0);
    CHECK(ringo_route_ex(app, "GET", paths[1], RINGO_SYNC, h_bg, NULL, &ro) == 0);
    CHECK(ringo_route(app, "GET", "/ping", RINGO_ASYNC, h_ping, NULL) == 0);
    port = app_start(app);

    for (int i = 0; i < 2; i++) {
        conn *c = conn_open(port);
        atomic_store(&gate, 0);
        log_reset();
        conn_call(c, "GET", paths[i], NULL, &r);
        CHECK(r.status == 202);
        CHECK_STR(r.body, "later\n");
        /* The response came while every task still waits for the gate. */
        CHECK(!log_has("bgA@ring") && !log_has("bgS@pool") && !log_has("bgF@pool"));
        /* The connection goes on with its next request meanwhile. */
        conn_call(c, "GET", "/ping", NULL, &r);
        CHECK(r.status == 200);
        CHECK_STR(r.body, "pong\n");
        CHECK(!log_has("bgA@ring") && !log_has("bgS@pool"));
        atomic_store(&gate, 1);
        log_wait("bgF@pool");
        LOG_EXPECT(logs[i]);
        conn_close(c);
    }
    app_finish(app);
    printf("ok   background tasks: after the response, async then sync, in order\n");
}

/* ---- ringo_req_state ---- */

static int mw_state(ringo_req *req, void *udata)
{
    void **slot = ringo_req_state(req);
    int *v;

    (void)udata;
    CHECK(slot && *slot == NULL); /* fresh for every request */
    v = ringo_req_alloc(req, sizeof(*v));
    CHECK(v);
    *v = 1;
    *slot = v;
    return 0;
}

static int d_state(ringo_req *req, void **value, void *udata)
{
    int *v = *ringo_req_state(req);

    (void)udata;
    CHECK(v && *v == 1);
    (*v)++;
    *value = v;
    return 0;
}

static int h_state(ringo_req *req, void *udata)
{
    int *v = *ringo_req_state(req);
    char b[32];
    int n = snprintf(b, sizeof(b), "state=%d", v ? *v : -1);

    (void)udata;
    return ringo_respond(req, 200, "text/plain", b, (size_t)n);
}

static void test_req_state(void)
{
    const ringo_middleware mw = {mw_state, NULL, NULL};
    const ringo_dep_opts so = {.mode = RINGO_SYNC};
    const ringo_route_opts ro = {.needs = NEEDS("st")};
    ringo_app *app = app_new(0);
    uint16_t port;
    conn *c;
    resp r;

    CHECK(ringo_app_add_middleware(app, &mw) == 0);
    CHECK(ringo_dep_new(&unused_dep, app, "st", d_state, NULL, &so) == 0);
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_ASYNC, h_state, NULL, &ro) == 0);
    CHECK(ringo_route_ex(app, "GET", "/s", RINGO_SYNC, h_state, NULL, &ro) == 0);
    port = app_start(app);
    c = conn_open(port);
    for (int i = 0; i < 4; i++) {
        conn_call(c, "GET", i % 2 ? "/s" : "/a", NULL, &r);
        CHECK(r.status == 200);
        CHECK_STR(r.body, "state=2");
    }
    conn_close(c);
    app_finish(app);
    printf("ok   ringo_req_state: per request, shared by middleware, deps and handler\n");
}

/* ---- main ---- */

static void probe(void)
{
    ringo_app *app = app_new(0);

    CHECK(ringo_route(app, "GET", "/", RINGO_ASYNC, h_text, "x") == 0);
    app_start(app); /* exits 77 without io_uring */
    app_finish(app);
}

/*
 * Each case runs in a child of its own (forked while no ring or pool thread
 * exists), so one failure does not hide the cases after it.
 */
/* ringo's own failures sit outside the errno range and have their own text. */
static void test_error_values(void)
{
    CHECK(RINGO_EHTTP < -4095 && RINGO_EVALIDATION < -4095);
    CHECK(RINGO_EHTTP != RINGO_EVALIDATION);
    CHECK(strstr(ringo_strerror(RINGO_EHTTP), "ringo_fail"));
    CHECK(strstr(ringo_strerror(RINGO_EVALIDATION), "validation"));
    CHECK(strcmp(ringo_strerror(-EINVAL), ringo_strerror(RINGO_EVALIDATION)) != 0);
    CHECK(strcmp(ringo_strerror(-ECANCELED), ringo_strerror(RINGO_EHTTP)) != 0);
    printf("ok   RINGO_EHTTP and RINGO_EVALIDATION: outside errno, named by ringo_strerror\n");
}

/* Every constructor says why it failed and leaves *out NULL. */
static void test_constructor_errors(void)
{
    ringo_app *app = app_new(0);
    ringo_dep *d = (ringo_dep *)app;
    ringo_group *g = (ringo_group *)app;
    ringo_app *bad = app;

    CHECK(ringo_app_new(NULL, NULL) == -EINVAL);
    CHECK(ringo_dep_new(&d, app, "x", NULL, NULL, NULL) == -EINVAL && d == NULL);
    CHECK(ringo_dep_new(&d, NULL, "x", d_log, NULL, NULL) == -EINVAL);
    CHECK(ringo_dep_new(&d, app, "x", d_log, "x", NULL) == 0 && d != NULL);
    CHECK(ringo_dep_new(&d, app, "x", d_log, "x", NULL) == -EEXIST && d == NULL);
    CHECK(ringo_group_new(&g, app, "nope", NULL) == -EINVAL && g == NULL);
    CHECK(ringo_group_new(NULL, app, "/g", NULL) == -EINVAL);
    CHECK(ringo_group_new(&g, app, "/g", NULL) == 0 && g != NULL);
    CHECK(ringo_app_new(&bad, NULL) == 0 && bad != NULL && bad != app);
    ringo_app_free(bad);
    ringo_app_free(app);
    printf("ok   constructors: 0 or -errno, *out NULL on failure\n");
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"constructor_errors", test_constructor_errors},
    {"error_values", test_error_values},
    {"middleware_order", test_middleware_order},
    {"middleware_short_circuit", test_middleware_short_circuit},
    {"error_handlers", test_error_handlers},
    {"dep_cache", test_dep_cache},
    {"fail_short_circuit", test_fail_short_circuit},
    {"graph_errors", test_graph_errors},
    {"unused_cycle", test_unused_cycle},
    {"lifespan", test_lifespan},
    {"mixed_modes", test_mixed_modes},
    {"background", test_background},
    {"req_state", test_req_state},
};

static unsigned current_case;

/* The child runs the case, then reports the EINTRs its own client calls saw. */
static void run_current(void)
{
    cases[current_case].fn();
    if (recv_eintr)
        printf("     (%u recv calls saw EINTR)\n", recv_eintr);
}

static int run_case(unsigned i)
{
    current_case = i;
    return server_run_forked(cases[i].name, run_current, 0);
}

int main(void)
{
    probe();
    return server_run_all(sizeof(cases) / sizeof(cases[0]), run_case);
}
