/*
 * examples/demo.c - the `ringo` demo server.
 *
 * Routes that only compute are RINGO_ASYNC: they run on the ring thread and
 * never block it. See docs/api.md for every call used here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <unistd.h>

#include <ringo.h>
#include <ringo/pool.h>

#include "demo.h"

/* Not the API: the hooks behind --msgring-fallback and --msgring-fail-posts. */
#include "http/test_hooks.h"

static int hello(ringo_req *req, void *udata)
{
    (void)udata;
    return ringo_respond(req, 200, "text/plain", "ringo\n", 6);
}

static int plaintext(ringo_req *req, void *udata)
{
    static const char body[] = "Hello, World!";

    (void)udata;
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/plain"));
    return ringo_resp_set_body_ref(req, body, sizeof(body) - 1);
}

/* Serialized for each request, as TechEmpower's JSON test asks. */
static int json(ringo_req *req, void *udata)
{
    ringo_json_w w;

    (void)udata;
    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_key(&w, "message");
    ringo_json_cstr(&w, "Hello, World!");
    ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

static int echo(ringo_req *req, void *udata)
{
    ringo_str ctype, body = ringo_req_body(req);

    (void)udata;
    if (ringo_req_header(req, "content-type", &ctype) < 0)
        ctype = RINGO_STR_LIT("application/octet-stream");
    ringo_resp_add_header(req, "Content-Type", ctype);
    return ringo_resp_set_body_ref(req, body.ptr, body.len);
}

int demo_json_counts(ringo_req *req, int status, const demo_count *c, size_t n)
{
    ringo_json_w w;

    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    for (size_t i = 0; i < n; i++) {
        ringo_json_key(&w, c[i].key);
        ringo_json_int(&w, c[i].value);
    }
    ringo_json_end(&w);
    return ringo_json_respond(&w, status);
}

/* {"key":true} or false. */
static int json_flag(ringo_req *req, int status, const char *key, bool v)
{
    ringo_json_w w;

    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_key(&w, key);
    ringo_json_bool(&w, v);
    ringo_json_end(&w);
    return ringo_json_respond(&w, status);
}

static int user(ringo_req *req, void *udata)
{
    ringo_str id;
    ringo_json_w w;

    (void)udata;
    if (ringo_req_path_param(req, "id", &id) < 0)
        return -EINVAL;
    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_key(&w, "id");
    ringo_json_str(&w, id.ptr, id.len);
    ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

static int whoami(ringo_req *req, void *udata)
{
    char peer[64];
    ringo_json_w w;

    (void)udata;
    if (ringo_req_peer_string(req, peer, sizeof(peer)) < 0)
        strcpy(peer, "unknown");
    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_key(&w, "peer");
    ringo_json_cstr(&w, peer);
    ringo_json_key(&w, "scheme");
    ringo_json_cstr(&w, ringo_req_scheme(req));
    ringo_json_key(&w, "ring");
    ringo_json_uint(&w, ringo_req_ring(req));
    ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

/* The request's ID and trace context, read on the pool (ringo/observe.h). */
static int sync_trace(ringo_req *req, void *udata)
{
    ringo_str id = ringo_req_id(req), tp;
    int ret = ringo_req_traceparent(req, &tp);
    ringo_json_w w;

    (void)udata;
    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_key(&w, "id");
    ringo_json_str(&w, id.ptr, id.len);
    ringo_json_key(&w, "traceparent");
    if (ret == 0)
        ringo_json_str(&w, tp.ptr, tp.len);
    else
        ringo_json_cstr(&w, ret == -ENOENT ? "absent" : "invalid");
    ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

/* ---- sync routes: run on the work-stealing pool, may block ---- */

static int sync_sleep(ringo_req *req, void *udata);
static int sync_cpu(ringo_req *req, void *udata);

/* ---- async routes: coroutines awaiting io_uring operations ---- */

uint64_t demo_query_u64(ringo_req *req, const char *name, uint64_t dflt, uint64_t max)
{
    ringo_str v;
    char buf[24];

    if (ringo_req_query_param(req, name, &v) < 0 || v.len == 0 || v.len >= sizeof(buf))
        return dflt;
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = '\0';
    uint64_t n = strtoull(buf, NULL, 10);
    return n > max ? max : n;
}

static int sleep_route(ringo_req *req, void *udata)
{
    uint64_t ms = demo_query_u64(req, "ms", 10, 60000);
    char body[64];
    int ret, n;

    (void)udata;
    ret = ringo_await_sleep(ms);
    if (ret < 0)
        return ret; /* -ECANCELED: the client left or the deadline passed */
    n = snprintf(body, sizeof(body), "slept %llu ms\n", (unsigned long long)ms);
    return ringo_respond(req, 200, "text/plain", body, (size_t)n);
}

static int async_file(ringo_req *req, void *udata)
{
    const char *path = udata;
    struct statx st;
    char *buf;
    ssize_t n;
    int fd, ret;

    fd = ringo_await_open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    ret = ringo_await_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &st);
    buf = ret == 0 && st.stx_size < (1u << 20) ? ringo_req_alloc(req, st.stx_size + 1) : NULL;
    n = buf ? ringo_await_read(fd, buf, st.stx_size, 0) : -EIO;
    ringo_await_close(fd);
    if (n < 0)
        return (int)n;
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/plain"));
    return ringo_resp_set_body_ref(req, buf, (size_t)n);
}

/* Calls this server's own /plaintext over loopback with connect/send/recv. */
static int async_upstream(ringo_req *req, void *udata)
{
    static const char get[] = "GET /plaintext HTTP/1.1\r\nHost: upstream\r\n"
                              "Connection: close\r\n\r\n";
    ringo_app *app = udata;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(ringo_app_port(app)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char *buf = ringo_req_alloc(req, 4096), *body;
    size_t got = 0;
    ssize_t n = 0;
    int fd = ringo_await_socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || !buf)
        return fd < 0 ? fd : -ENOMEM;
    n = ringo_await_connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (n == 0)
        n = ringo_await_send(fd, get, sizeof(get) - 1, 0);
    while (n >= 0 && got < 4095 && (n = ringo_await_recv(fd, buf + got, 4095 - got, 0)) > 0)
        got += (size_t)n;
    ringo_await_close(fd);
    if (n < 0)
        return (int)n;
    buf[got] = '\0';
    body = strstr(buf, "\r\n\r\n");
    if (!body)
        return ringo_respond(req, 502, "text/plain", "bad upstream answer\n", 20);
    body += 4;
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/plain"));
    ringo_resp_add_header(req, "X-Upstream-Status", (ringo_str){buf + 9, 3});
    return ringo_resp_set_body_ref(req, body, got - (size_t)(body - buf));
}

/* Deliberately wrong: blocks its ring. Shows what the stall watchdog reports. */
static int block_route(ringo_req *req, void *udata)
{
    uint64_t ms = demo_query_u64(req, "ms", 200, 5000);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

    (void)udata;
    nanosleep(&ts, NULL);
    return ringo_respond(req, 200, "text/plain", "blocked the ring\n", 17);
}

static int stats_route(ringo_req *req, void *udata)
{
    ringo_stats st;

    ringo_app_stats(udata, &st);
    demo_count c[] = {
        {"conns_live", (int64_t)st.conns_live},
        {"reqs_live", (int64_t)st.reqs_live},
        {"stacks_live", (int64_t)st.stacks_live},
        {"cancels", (int64_t)st.cancels},
        {"ring_stalls", (int64_t)st.ring_stalls},
        {"reqs_served", (int64_t)st.reqs_served},
        {"jobs_live", (int64_t)st.jobs_live},
        {"pool_hops", (int64_t)st.pool_hops},
        {"pipes_busy", (int64_t)st.pipes_busy},
        {"pool_queued", (int64_t)st.pool_queued},
        {"pool_rejected", (int64_t)st.pool_rejected},
        {"pool_enqueued", (int64_t)st.pool_enqueued},
        {"pool_wait_us", (int64_t)st.pool_wait_us},
        {"admission_rejected", (int64_t)st.admission_rejected},
        {"dropped_gone", (int64_t)st.dropped_gone},
        {"dropped_deadline", (int64_t)st.dropped_deadline},
        {"dropped_expired", (int64_t)st.dropped_expired},
        {"lifo_switches", (int64_t)st.lifo_switches},
        {"lifo_active", (int64_t)st.lifo_active},
        {"pool_overloaded", (int64_t)st.pool_overloaded},
        {"ring_rejected", (int64_t)st.ring_rejected},
        {"conns_accepted", (int64_t)st.conns_accepted},
        {"route_rejected", (int64_t)st.route_rejected},
        {"memory_rejected", (int64_t)st.memory_rejected},
        {"tls_handshakes", (int64_t)st.tls_handshakes},
        {"tls_handshake_failures", (int64_t)st.tls_handshake_failures},
        {"tls_handshake_timeouts", (int64_t)st.tls_handshake_timeouts},
        {"tls_resumed", (int64_t)st.tls_resumed},
        {"tls_alpn_h2", (int64_t)st.tls_alpn_h2},
        {"batched_waits", (int64_t)st.batched_waits},
        {"tls_ktls", (int64_t)st.tls_ktls},
        {"tls_ktls_rx", (int64_t)st.tls_ktls_rx},
    };
    return demo_json_counts(req, 200, c, sizeof(c) / sizeof(c[0]));
}

/* Every route's admission and memory counters: {"GET /x": {...}, ...}. */
static int route_stats(ringo_req *req, void *udata)
{
    ringo_route_stats rs;
    ringo_json_w w;

    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    for (unsigned i = 0; ringo_app_route_stats(udata, i, &rs) == 0; i++) {
        const struct {
            const char *key;
            uint64_t v;
        } f[] = {{"inflight", rs.inflight},        {"limit", rs.limit},
                 {"rejected", rs.rejected},        {"mem_requests", rs.mem_requests},
                 {"mem_total", rs.mem_total},      {"mem_max", rs.mem_max},
                 {"mem_rejected", rs.mem_rejected}};
        ringo_json_key(&w, rs.label);
        ringo_json_obj(&w);
        for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
            ringo_json_key(&w, f[k].key);
            ringo_json_uint(&w, f[k].v);
        }
        ringo_json_end(&w);
    }
    ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

/* Holds kb KiB of request memory (the arena) while it answers: --max-request-memory. */
static int mem_route(ringo_req *req, void *udata)
{
    uint64_t kb = demo_query_u64(req, "kb", 64, 1u << 22);
    char *p = ringo_req_alloc(req, (size_t)kb * 1024);
    char body[64];
    int n;

    (void)udata;
    if (!p)
        return -ENOMEM; /* 500: over the bound */
    memset(p, 1, (size_t)kb * 1024);
    n = snprintf(body, sizeof(body), "held %llu KiB\n", (unsigned long long)kb);
    return ringo_respond(req, 200, "text/plain", body, (size_t)n);
}

static int sync_sleep(ringo_req *req, void *udata)
{
    uint64_t ms = demo_query_u64(req, "ms", 10, 60000);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    char body[64];
    int n;

    (void)udata;
    nanosleep(&ts, NULL); /* blocks this pool worker, never a ring */
    n = snprintf(body, sizeof(body), "slept %llu ms on a worker\n", (unsigned long long)ms);
    return ringo_respond(req, 200, "text/plain", body, (size_t)n);
}

struct span {
    uint64_t lo, hi, sum;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Sums mix(i) over [lo, hi), splitting in halves that idle workers steal. */
static void checksum(void *arg)
{
    struct span *sp = arg;
    struct span a, b;
    ringo_subtask t;

    if (sp->hi - sp->lo <= 1u << 16) {
        uint64_t sum = 0;
        for (uint64_t i = sp->lo; i < sp->hi; i++)
            sum += mix(i);
        sp->sum = sum;
        return;
    }
    a = (struct span){sp->lo, sp->lo + (sp->hi - sp->lo) / 2, 0};
    b = (struct span){a.hi, sp->hi, 0};
    ringo_spawn(&t, checksum, &a);
    checksum(&b);
    ringo_join(&t);
    sp->sum = a.sum + b.sum;
}

static int sync_cpu(ringo_req *req, void *udata)
{
    struct span all = {0, demo_query_u64(req, "n", 1000000, 1ull << 34), 0};
    char hex[17];
    ringo_json_w w;

    (void)udata;
    checksum(&all);
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)all.sum);
    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_key(&w, "n");
    ringo_json_uint(&w, all.hi);
    ringo_json_key(&w, "checksum");
    ringo_json_cstr(&w, hex);
    ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

/* ---- dependencies: settings -> db -> token -> user, FastAPI's Depends() ---- */

struct trace {
    unsigned n;
    struct {
        const char *name, *where;
        unsigned count;
    } e[8];
};

static _Atomic unsigned long db_teardowns, tasks_done, tasks_scheduled;

/* Records that a dependency ran, where, and how often, in the request's state. */
static void traced(ringo_req *req, const char *name)
{
    void **slot = ringo_req_state(req);
    struct trace *t = slot ? *slot : NULL;
    const char *where = ringo_pool_worker_id() >= 0 ? "pool" : "ring";

    if (slot && !t) {
        t = ringo_req_alloc(req, sizeof(*t));
        if (!t)
            return;
        memset(t, 0, sizeof(*t));
        *slot = t;
    }
    if (!t)
        return;
    for (unsigned i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].name, name)) {
            t->e[i].count++;
            return;
        }
    if (t->n < 8) {
        t->e[t->n].name = name;
        t->e[t->n].where = where;
        t->e[t->n++].count = 1;
    }
}

struct settings {
    const char *db_url;
};
struct db {
    const struct settings *settings;
    int connected;
};
struct user {
    char name[64];
};

static ringo_dep *dep_settings, *dep_db, *dep_token, *dep_user, *dep_slow;

static int settings_dep(ringo_req *req, void **value, void *udata)
{
    static const struct settings s = {"memory://demo"};

    (void)udata;
    traced(req, "settings");
    *value = (void *)&s;
    return 0;
}

static int db_dep(ringo_req *req, void **value, void *udata)
{
    struct db *db = ringo_req_alloc(req, sizeof(*db));

    (void)udata;
    traced(req, "db");
    if (!db)
        return -ENOMEM;
    db->settings = RINGO_DEP(req, dep_settings, struct settings);
    db->connected = db->settings != NULL;
    *value = db;
    return 0;
}

static void db_teardown(ringo_req *req, void *value, void *udata)
{
    struct db *db = value;

    (void)req;
    (void)udata;
    db->connected = 0;
    atomic_fetch_add(&db_teardowns, 1);
}

static int token_dep(ringo_req *req, void **value, void *udata)
{
    ringo_str auth;
    char *tok;

    (void)udata;
    traced(req, "token");
    if (ringo_req_header(req, "authorization", &auth) < 0 || auth.len <= 7 ||
        strncasecmp(auth.ptr, "Bearer ", 7) != 0) {
        ringo_resp_add_header(req, "WWW-Authenticate", RINGO_STR_LIT("Bearer"));
        return ringo_fail(req, 401, "Not authenticated");
    }
    tok = ringo_req_alloc(req, auth.len - 6);
    if (!tok)
        return -ENOMEM;
    memcpy(tok, auth.ptr + 7, auth.len - 7);
    tok[auth.len - 7] = '\0';
    *value = tok;
    return 0;
}

static int user_dep(ringo_req *req, void **value, void *udata)
{
    struct user *u = ringo_req_alloc(req, sizeof(*u));
    const char *tok = RINGO_DEP(req, dep_token, char);
    struct db *db = RINGO_DEP(req, dep_db, struct db);

    (void)udata;
    traced(req, "user");
    if (!u || !tok || !db || !db->connected)
        return -EIO;
    snprintf(u->name, sizeof(u->name), "user-%.50s", tok);
    *value = u;
    return 0;
}

static int deps_chain(ringo_req *req, void *udata)
{
    void **slot = ringo_req_state(req);
    struct trace *t = slot ? *slot : NULL;
    struct user *u = RINGO_DEP(req, dep_user, struct user);
    ringo_json_w w;

    (void)udata;
    traced(req, "handler");
    if (!t || !u || !RINGO_DEP(req, dep_db, struct db))
        return -EIO;
    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_key(&w, "user");
    ringo_json_cstr(&w, u->name);
    ringo_json_key(&w, "ran");
    ringo_json_arr(&w);
    for (unsigned i = 0; i < t->n; i++) {
        ringo_json_obj(&w);
        ringo_json_key(&w, "name");
        ringo_json_cstr(&w, t->e[i].name);
        ringo_json_key(&w, "where");
        ringo_json_cstr(&w, t->e[i].where);
        ringo_json_key(&w, "count");
        ringo_json_uint(&w, t->e[i].count);
        ringo_json_end(&w);
    }
    ringo_json_end(&w);
    ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

/* A sync dependency whose teardown blocks for ?ms=N (a slow release: shutdown bounds it). */
static _Atomic unsigned long slow_started, slow_finished;

static int slow_dep(ringo_req *req, void **value, void *udata)
{
    uint64_t *ms = ringo_req_alloc(req, sizeof(*ms));

    (void)udata;
    if (!ms)
        return -ENOMEM;
    *ms = demo_query_u64(req, "ms", 0, 600000);
    *value = ms;
    return 0;
}

static void slow_teardown(ringo_req *req, void *value, void *udata)
{
    uint64_t ms = *(uint64_t *)value;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

    (void)req;
    (void)udata;
    atomic_fetch_add(&slow_started, 1);
    nanosleep(&ts, NULL);
    atomic_fetch_add(&slow_finished, 1);
}

/*
 * ?batch=N holds the answer (on the ring, no worker) until N such requests
 * arrived, for at most 10 s: their teardowns are then queued together, none
 * started while the others still wait for their dependency's worker.
 */
static _Atomic unsigned long slow_arrived;

static int deps_slow_teardown(ringo_req *req, void *udata)
{
    uint64_t batch = demo_query_u64(req, "batch", 0, 1000);
    ringo_json_w w;

    (void)udata;
    if (batch) {
        unsigned long n = atomic_fetch_add(&slow_arrived, 1) + 1;
        for (int i = 0; n < batch && i < 2000; i++) {
            if (ringo_await_sleep(5) < 0)
                break;
            n = atomic_load(&slow_arrived);
        }
    }
    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_end(&w);
    return ringo_json_respond(&w, 200);
}

static int deps_teardowns(ringo_req *req, void *udata)
{
    demo_count c[] = {{"db_teardowns", (int64_t)atomic_load(&db_teardowns)},
                      {"slow_started", (int64_t)atomic_load(&slow_started)},
                      {"slow_finished", (int64_t)atomic_load(&slow_finished)}};

    (void)udata;
    return demo_json_counts(req, 200, c, sizeof(c) / sizeof(c[0]));
}

/* GET /items/{id}?limit=N: validated like FastAPI's Path(ge=1) and Query(ge=1, le=100). */
static int items(ringo_req *req, void *udata)
{
    static const int64_t ten = 10;
    int64_t id, limit;
    int bad = 0;

    (void)udata;
    bad |= ringo_param_int(req, RINGO_LOC_PATH, "id", 1, INT64_MAX, NULL, &id) < 0;
    bad |= ringo_param_int(req, RINGO_LOC_QUERY, "limit", 1, 100, &ten, &limit) < 0;
    if (bad)
        return RINGO_EVALIDATION; /* 422 listing every invalid parameter */
    {
        demo_count c[] = {{"id", id}, {"limit", limit}};
        return demo_json_counts(req, 200, c, 2);
    }
}

static int slow_task(ringo_req *req, void *arg)
{
    struct timespec ts = {0, 20 * 1000000};

    (void)req;
    (void)arg;
    nanosleep(&ts, NULL); /* a sync background task: on the pool, after the response */
    atomic_fetch_add(&tasks_done, 1);
    return 0;
}

/* Past the app's max_post_inflight, ringo_background() says -EAGAIN: answer 503. */
static int busy_503(ringo_req *req)
{
    ringo_resp_add_header(req, "Retry-After", RINGO_STR_LIT("1"));
    return json_flag(req, 503, "scheduled", false);
}

static int tasks_post(ringo_req *req, void *udata)
{
    int ret = ringo_background(req, RINGO_SYNC, slow_task, NULL);

    (void)udata;
    if (ret == -EAGAIN)
        return busy_503(req);
    if (ret < 0)
        return ret;
    atomic_fetch_add(&tasks_scheduled, 1);
    return json_flag(req, 202, "scheduled", true);
}

/* Counters of the /tasks/... routes below, read by GET /tasks/stats. */
static _Atomic unsigned long sleep_done, sleep_cancelled, many_done, nested_outer, nested_inner;
static _Atomic unsigned long forever_runs;
static _Atomic long nested_ret = 1, forever_ret = 1;

/* An async background task that awaits a long sleep: shutdown must cancel it. */
static int sleeping_task(ringo_req *req, void *arg)
{
    int ret = ringo_await_sleep((uint64_t)(uintptr_t)arg);

    (void)req;
    atomic_fetch_add(ret == -ECANCELED ? &sleep_cancelled : &sleep_done, 1);
    return ret == -ECANCELED ? 0 : ret;
}

static int tasks_sleep(ringo_req *req, void *udata)
{
    uint64_t ms = demo_query_u64(req, "ms", 1000, 600000);
    int ret = ringo_background(req, RINGO_ASYNC, sleeping_task, (void *)(uintptr_t)ms);

    (void)udata;
    if (ret == -EAGAIN)
        return busy_503(req);
    if (ret < 0)
        return ret;
    return json_flag(req, 202, "scheduled", true);
}

static int count_task(ringo_req *req, void *arg)
{
    (void)req;
    (void)arg;
    atomic_fetch_add(&many_done, 1);
    return 0;
}

/* n background tasks on one request (n may exceed 65,535). */
static int tasks_many(ringo_req *req, void *udata)
{
    uint64_t n = demo_query_u64(req, "n", 1, 1000000);

    (void)udata;
    for (uint64_t i = 0; i < n; i++) {
        int ret = ringo_background(req, RINGO_ASYNC, count_task, NULL);
        if (ret == -EAGAIN)
            return busy_503(req);
        if (ret < 0)
            return ret;
    }
    {
        demo_count c[] = {{"scheduled", (int64_t)n}};
        return demo_json_counts(req, 202, c, 1);
    }
}

static int inner_task(ringo_req *req, void *arg)
{
    (void)req;
    (void)arg;
    atomic_fetch_add(&nested_inner, 1);
    return 0;
}

/* A background task that schedules another one: it runs, or the call fails. */
static int outer_task(ringo_req *req, void *arg)
{
    (void)arg;
    atomic_store(&nested_ret, ringo_background(req, RINGO_ASYNC, inner_task, NULL));
    atomic_fetch_add(&nested_outer, 1);
    return 0;
}

static int tasks_nested(ringo_req *req, void *udata)
{
    int ret = ringo_background(req, RINGO_ASYNC, outer_task, NULL);

    (void)udata;
    if (ret < 0)
        return ret;
    return json_flag(req, 202, "scheduled", true);
}

/* A background task that schedules itself again: ringo_background() ends the chain. */
static int forever_task(ringo_req *req, void *arg)
{
    (void)arg;
    atomic_fetch_add(&forever_runs, 1);
    atomic_store(&forever_ret, ringo_background(req, RINGO_ASYNC, forever_task, NULL));
    return 0;
}

static int tasks_forever(ringo_req *req, void *udata)
{
    int ret = ringo_background(req, RINGO_ASYNC, forever_task, NULL);

    (void)udata;
    if (ret < 0)
        return ret;
    return json_flag(req, 202, "scheduled", true);
}

static int tasks_stats(ringo_req *req, void *udata)
{
    demo_count c[] = {
        {"sleep_done", (int64_t)atomic_load(&sleep_done)},
        {"sleep_cancelled", (int64_t)atomic_load(&sleep_cancelled)},
        {"many_done", (int64_t)atomic_load(&many_done)},
        {"nested_outer", (int64_t)atomic_load(&nested_outer)},
        {"nested_inner", (int64_t)atomic_load(&nested_inner)},
        {"nested_ret", atomic_load(&nested_ret)},
        {"forever_runs", (int64_t)atomic_load(&forever_runs)},
        {"forever_ret", atomic_load(&forever_ret)},
    };

    (void)udata;
    return demo_json_counts(req, 200, c, sizeof(c) / sizeof(c[0]));
}

static int tasks_get(ringo_req *req, void *udata)
{
    demo_count c[] = {{"scheduled", (int64_t)atomic_load(&tasks_scheduled)},
                      {"completed", (int64_t)atomic_load(&tasks_done)}};

    (void)udata;
    return demo_json_counts(req, 200, c, 2);
}

static int add_deps(ringo_app *app)
{
    static const char *const db_needs[] = {"settings", NULL};
    static const char *const user_needs[] = {"db", "token", NULL};
    const ringo_dep_opts so = {.mode = RINGO_SYNC, .type = "struct settings"};
    const ringo_dep_opts dbo = {
        .mode = RINGO_SYNC, .needs = db_needs, .teardown = db_teardown, .type = "struct db"};
    /* FastAPI's HTTPBearer(): the docs page offers to fill the token in. */
    static const ringo_security bearer = {.name = "HTTPBearer", .kind = RINGO_SECURITY_BEARER};
    const ringo_dep_opts to = {.mode = RINGO_ASYNC, .type = "char", .security = &bearer};
    const ringo_dep_opts uo = {.mode = RINGO_ASYNC, .needs = user_needs, .type = "struct user"};
    const ringo_dep_opts slo = {.mode = RINGO_SYNC, .teardown = slow_teardown, .type = "uint64_t"};

    int ret = ringo_dep_new(&dep_settings, app, "settings", settings_dep, NULL, &so);

    if (ret == 0)
        ret = ringo_dep_new(&dep_db, app, "db", db_dep, NULL, &dbo);
    if (ret == 0)
        ret = ringo_dep_new(&dep_token, app, "token", token_dep, NULL, &to);
    if (ret == 0)
        ret = ringo_dep_new(&dep_user, app, "user", user_dep, NULL, &uo);
    if (ret == 0)
        ret = ringo_dep_new(&dep_slow, app, "slow", slow_dep, NULL, &slo);
    return ret;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ringo [--host H] [--port P] [--threads N] [--pool-threads N]\n"
               "             [--max-conns N] [--max-request-line B] [--max-header-bytes B]\n"
               "             [--max-headers N] [--max-body B] [--max-conn-buffered B]\n"
               "             [--max-requests N] [--header-timeout MS] [--body-timeout MS]\n"
               "             [--keepalive-timeout MS] [--send-timeout MS] [--linger MS]\n"
               "             [--drain-timeout MS] [--stall-warn MS] [--stack-size B]\n"
               "             [--max-pool-queue N] [--max-post-inflight N] [--msgring-fallback]\n"
               "             [--msgring-fail-posts N] [--teardown-timeout MS]\n"
               "             [--stream-window B] [--sse-ping MS] [--ws-ping MS] [--ws-idle MS]\n"
               "             [--static-dir DIR] [--static-cache-valid MS] [--static-listing]\n"
               "             [--static-symlinks] [--static-no-variants] [--compress-406]\n"
               "             [--files-dir DIR] [--file-splice-min B] [--file-splice-linked]\n"
               "             [--file-no-sendfile] [--openapi-url PATH] [--docs-url PATH]\n"
               "             [--swagger-ui-dir DIR] [--pg DSN] [--quiet] [--check]\n"
               "             [--shutdown-delay MS] [--ready-max-queue N] [--live-stall MS]\n"
               "             [--reuse-port] [--systemd]\n"
               "             [--proxy-protocol] [--trusted-proxies CIDR,...]\n"
               "             [--forwarded x|rfc7239]\n"
               "             [--tls-cert FILE --tls-key FILE]... [--tls-handshake-timeout MS]\n"
               "             [--tls-max-handshakes N]\n"
               "             [--queue-target MS] [--queue-interval MS] [--max-ring-inflight N]\n"
               "             [--critical-pool-threads N] [--max-request-memory B]\n"
               "             [--metrics PATH] [--access-log PATH|-]\n"
               "             [--access-log-format combined|json] [--request-ids]\n"
               "             [--no-h2c] [--h2-max-streams N] [--h2-max-resets N]\n"
               "             [--h2-window B] [--no-h2] [--batch-wait US]\n"
               "             [--no-ktls]\n");
}

enum {
    OPT_POOL = 256,
    OPT_MAXCONNS,
    OPT_RLINE,
    OPT_HBYTES,
    OPT_HCOUNT,
    OPT_BODY,
    OPT_BUFFERED,
    OPT_MAXREQ,
    OPT_THDR,
    OPT_TBODY,
    OPT_TKA,
    OPT_TSEND,
    OPT_LINGER,
    OPT_DRAIN,
    OPT_TEARDOWN,
    OPT_QUIET,
    OPT_STALL,
    OPT_STACK,
    OPT_POOLQ,
    OPT_POSTQ,
    OPT_FALLBACK,
    OPT_FAILPOSTS,
    OPT_WINDOW,
    OPT_PING,
    OPT_WSPING,
    OPT_WSIDLE,
    OPT_STATIC,
    OPT_STATIC_VALID,
    OPT_STATIC_LISTING,
    OPT_STATIC_SYMLINKS,
    OPT_STATIC_NO_VARIANTS,
    OPT_Z406,
    OPT_FILES,
    OPT_SPLICEMIN,
    OPT_LINKED,
    OPT_NOSENDFILE,
    OPT_OPENAPI,
    OPT_DOCS,
    OPT_SWAGGER,
    OPT_PG,
    OPT_CHECK,
    OPT_SHUTDOWN_DELAY,
    OPT_READY_QUEUE,
    OPT_LIVE_STALL,
    OPT_REUSE_PORT,
    OPT_SYSTEMD,
    OPT_PROXYPROTO,
    OPT_TRUSTED,
    OPT_FORWARDED,
    OPT_TLSCERT,
    OPT_TLSKEY,
    OPT_TLSHS,
    OPT_TLSMAX,
    OPT_QTARGET,
    OPT_QINTERVAL,
    OPT_RINGINFLIGHT,
    OPT_CRITPOOL,
    OPT_REQMEM,
    OPT_METRICS,
    OPT_ALOG,
    OPT_ALOG_FORMAT,
    OPT_REQIDS,
    OPT_NOH2C,
    OPT_H2STREAMS,
    OPT_H2RESETS,
    OPT_H2WINDOW,
    OPT_NOH2,
    OPT_BATCHWAIT,
    OPT_NOKTLS
};

/* --static-dir: mounted at /static/; the demo's own folder by default. */
static const char *static_dir; /* NULL: demo_static */

/*
 * The demo's own files (examples/static): where cmake --install put them
 * next to this binary (<prefix>/share/ringo/static for <prefix>/bin/ringo),
 * else in the source tree it was built from.
 */
static char demo_static[PATH_MAX], demo_hello[PATH_MAX + 16];

static void find_demo_files(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    snprintf(demo_static, sizeof(demo_static), "%s", RINGO_DEMO_DIR "/static");
    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        if (strlen(exe) + sizeof(RINGO_DEMO_INSTALLED_STATIC) + 1 < sizeof(demo_static)) {
            char installed[PATH_MAX];
            snprintf(installed, sizeof(installed), "%s/%s", exe, RINGO_DEMO_INSTALLED_STATIC);
            if (access(installed, F_OK) == 0)
                memcpy(demo_static, installed, sizeof(installed));
        }
    }
    snprintf(demo_hello, sizeof(demo_hello), "%s/hello.txt", demo_static);
}
static uint32_t static_valid_ms;
static unsigned static_flags; /* --static-listing, --static-symlinks, --static-no-variants */

/* --compress-406: compression on for every route, 406 when a client refuses every coding. */
static bool compress_406;

static const char *files_dir; /* --files-dir: GET /files/{name} */
static const char *pg_dsn;    /* --pg: a libpq connection string (else libpq's PG* variables) */
static bool check_only;       /* --check: ringo_check() for the flags given, then exit */

/* --metrics ("" turns it off), --access-log, --access-log-format, --request-ids. */
static const char *metrics_path = "/metrics";
static const char *access_log;
static ringo_log_format access_log_format = RINGO_LOG_COMBINED;
static bool request_ids;

/* --openapi-url, --docs-url ("" turns them off), --swagger-ui-dir (NULL: the CDN). */
static ringo_openapi_opts openapi = {
    .title = "ringo demo",
    .version = "1.0.0",
    .description = "The routes of ringo's demo server, as its declarations describe them.",
};

/* --tls-cert/--tls-key pairs, in order: the first is the default certificate. */
#define MAX_TLS_CERTS 16
static const char *tls_certs[MAX_TLS_CERTS], *tls_keys[MAX_TLS_CERTS];
static unsigned ntls_certs, ntls_keys;

static int add_tls_file(const char **list, unsigned *n, const char *path)
{
    if (*n == MAX_TLS_CERTS) {
        fprintf(stderr, "ringo: at most %d --tls-cert/--tls-key pairs\n", MAX_TLS_CERTS);
        return -1;
    }
    list[(*n)++] = path;
    return 0;
}

static int parse_args(int argc, char **argv, ringo_config *cfg, ringo__test_hooks *hooks)
{
    static const struct option opts[] = {{"host", 1, 0, 'h'},
                                         {"port", 1, 0, 'p'},
                                         {"threads", 1, 0, 't'},
                                         {"pool-threads", 1, 0, OPT_POOL},
                                         {"max-conns", 1, 0, OPT_MAXCONNS},
                                         {"max-request-line", 1, 0, OPT_RLINE},
                                         {"max-header-bytes", 1, 0, OPT_HBYTES},
                                         {"max-headers", 1, 0, OPT_HCOUNT},
                                         {"max-body", 1, 0, OPT_BODY},
                                         {"max-conn-buffered", 1, 0, OPT_BUFFERED},
                                         {"max-requests", 1, 0, OPT_MAXREQ},
                                         {"header-timeout", 1, 0, OPT_THDR},
                                         {"body-timeout", 1, 0, OPT_TBODY},
                                         {"keepalive-timeout", 1, 0, OPT_TKA},
                                         {"send-timeout", 1, 0, OPT_TSEND},
                                         {"linger", 1, 0, OPT_LINGER},
                                         {"drain-timeout", 1, 0, OPT_DRAIN},
                                         {"teardown-timeout", 1, 0, OPT_TEARDOWN},
                                         {"quiet", 0, 0, OPT_QUIET},
                                         {"stall-warn", 1, 0, OPT_STALL},
                                         {"stack-size", 1, 0, OPT_STACK},
                                         {"max-pool-queue", 1, 0, OPT_POOLQ},
                                         {"max-post-inflight", 1, 0, OPT_POSTQ},
                                         {"msgring-fallback", 0, 0, OPT_FALLBACK},
                                         {"msgring-fail-posts", 1, 0, OPT_FAILPOSTS},
                                         {"stream-window", 1, 0, OPT_WINDOW},
                                         {"sse-ping", 1, 0, OPT_PING},
                                         {"ws-ping", 1, 0, OPT_WSPING},
                                         {"ws-idle", 1, 0, OPT_WSIDLE},
                                         {"static-dir", 1, 0, OPT_STATIC},
                                         {"static-cache-valid", 1, 0, OPT_STATIC_VALID},
                                         {"static-listing", 0, 0, OPT_STATIC_LISTING},
                                         {"static-symlinks", 0, 0, OPT_STATIC_SYMLINKS},
                                         {"static-no-variants", 0, 0, OPT_STATIC_NO_VARIANTS},
                                         {"compress-406", 0, 0, OPT_Z406},
                                         {"files-dir", 1, 0, OPT_FILES},
                                         {"file-splice-min", 1, 0, OPT_SPLICEMIN},
                                         {"file-splice-linked", 0, 0, OPT_LINKED},
                                         {"file-no-sendfile", 0, 0, OPT_NOSENDFILE},
                                         {"openapi-url", 1, 0, OPT_OPENAPI},
                                         {"docs-url", 1, 0, OPT_DOCS},
                                         {"swagger-ui-dir", 1, 0, OPT_SWAGGER},
                                         {"pg", 1, 0, OPT_PG},
                                         {"check", 0, 0, OPT_CHECK},
                                         {"shutdown-delay", 1, 0, OPT_SHUTDOWN_DELAY},
                                         {"ready-max-queue", 1, 0, OPT_READY_QUEUE},
                                         {"live-stall", 1, 0, OPT_LIVE_STALL},
                                         {"reuse-port", 0, 0, OPT_REUSE_PORT},
                                         {"systemd", 0, 0, OPT_SYSTEMD},
                                         {"proxy-protocol", 0, 0, OPT_PROXYPROTO},
                                         {"trusted-proxies", 1, 0, OPT_TRUSTED},
                                         {"forwarded", 1, 0, OPT_FORWARDED},
                                         {"tls-cert", 1, 0, OPT_TLSCERT},
                                         {"tls-key", 1, 0, OPT_TLSKEY},
                                         {"tls-handshake-timeout", 1, 0, OPT_TLSHS},
                                         {"tls-max-handshakes", 1, 0, OPT_TLSMAX},
                                         {"queue-target", 1, 0, OPT_QTARGET},
                                         {"queue-interval", 1, 0, OPT_QINTERVAL},
                                         {"max-ring-inflight", 1, 0, OPT_RINGINFLIGHT},
                                         {"critical-pool-threads", 1, 0, OPT_CRITPOOL},
                                         {"max-request-memory", 1, 0, OPT_REQMEM},
                                         {"metrics", 1, 0, OPT_METRICS},
                                         {"access-log", 1, 0, OPT_ALOG},
                                         {"access-log-format", 1, 0, OPT_ALOG_FORMAT},
                                         {"request-ids", 0, 0, OPT_REQIDS},
                                         {"no-h2c", 0, 0, OPT_NOH2C},
                                         {"h2-max-streams", 1, 0, OPT_H2STREAMS},
                                         {"h2-max-resets", 1, 0, OPT_H2RESETS},
                                         {"h2-window", 1, 0, OPT_H2WINDOW},
                                         {"no-h2", 0, 0, OPT_NOH2},
                                         {"batch-wait", 1, 0, OPT_BATCHWAIT},
                                         {"no-ktls", 0, 0, OPT_NOKTLS},
                                         {"help", 0, 0, '?'},
                                         {0, 0, 0, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "h:p:t:", opts, NULL)) != -1) {
        unsigned long v = optarg ? strtoul(optarg, NULL, 10) : 0;
        switch (c) {
        case 'h': cfg->host = optarg; break;
        case 'p': cfg->port = (uint16_t)v; break;
        case 't': cfg->threads = (unsigned)v; break;
        case OPT_POOL: cfg->pool_threads = (unsigned)v; break;
        case OPT_MAXCONNS: cfg->max_conns = (uint32_t)v; break;
        case OPT_RLINE: cfg->max_request_line = (uint32_t)v; break;
        case OPT_HBYTES: cfg->max_header_bytes = (uint32_t)v; break;
        case OPT_HCOUNT: cfg->max_headers = (uint32_t)v; break;
        case OPT_BODY: cfg->max_body_bytes = v; break;
        case OPT_BUFFERED: cfg->max_conn_buffered = (uint32_t)v; break;
        case OPT_MAXREQ: cfg->max_requests_per_conn = (uint32_t)v; break;
        case OPT_THDR: cfg->header_timeout_ms = (uint32_t)v; break;
        case OPT_TBODY: cfg->body_timeout_ms = (uint32_t)v; break;
        case OPT_TKA: cfg->keepalive_timeout_ms = (uint32_t)v; break;
        case OPT_TSEND: cfg->send_timeout_ms = (uint32_t)v; break;
        case OPT_LINGER: cfg->linger_ms = (uint32_t)v; break;
        case OPT_DRAIN: cfg->drain_timeout_ms = (uint32_t)v; break;
        case OPT_TEARDOWN: cfg->teardown_timeout_ms = v; break;
        case OPT_QUIET: cfg->quiet = 1; break;
        case OPT_STALL: cfg->stall_warn_ms = (uint32_t)v; break;
        case OPT_STACK: cfg->stack_size = v; break;
        case OPT_POOLQ: cfg->max_pool_queue = (uint32_t)v; break;
        case OPT_POSTQ: cfg->max_post_inflight = (uint32_t)v; break;
        case OPT_FALLBACK: hooks->msgring_fallback = 1; break;
        case OPT_FAILPOSTS: hooks->msgring_fail_posts = (int)v; break;
        case OPT_WINDOW: cfg->stream_window = (uint32_t)v; break;
        case OPT_PING: cfg->sse_ping_ms = (uint32_t)v; break;
        case OPT_WSPING: cfg->ws_ping_ms = (uint32_t)v; break;
        case OPT_WSIDLE: cfg->ws_idle_timeout_ms = (uint32_t)v; break;
        case OPT_STATIC: static_dir = optarg; break;
        case OPT_STATIC_VALID: static_valid_ms = (uint32_t)v; break;
        case OPT_STATIC_LISTING: static_flags |= RINGO_STATIC_LISTING; break;
        case OPT_STATIC_SYMLINKS: static_flags |= RINGO_STATIC_SYMLINKS; break;
        case OPT_STATIC_NO_VARIANTS: static_flags |= DEMO_STATIC_NO_VARIANTS; break;
        case OPT_Z406: compress_406 = true; break;
        case OPT_FILES: files_dir = optarg; break;
        case OPT_PG: pg_dsn = optarg; break;
        case OPT_CHECK: check_only = true; break;
        case OPT_SHUTDOWN_DELAY: cfg->shutdown_delay_ms = (uint32_t)v; break;
        case OPT_READY_QUEUE: cfg->ready_max_queue = (uint32_t)v; break;
        case OPT_LIVE_STALL: cfg->live_stall_ms = (uint32_t)v; break;
        case OPT_REUSE_PORT: cfg->deploy_flags |= RINGO_DEPLOY_SHARE_PORT; break;
        case OPT_SYSTEMD: cfg->deploy_flags |= RINGO_DEPLOY_SYSTEMD; break;
        case OPT_TLSHS: cfg->tls_handshake_timeout_ms = (uint32_t)v; break;
        case OPT_TLSMAX: cfg->tls_max_handshakes = (uint32_t)v; break;
        case OPT_TLSCERT:
            if (add_tls_file(tls_certs, &ntls_certs, optarg) < 0)
                return -1;
            break;
        case OPT_TLSKEY:
            if (add_tls_file(tls_keys, &ntls_keys, optarg) < 0)
                return -1;
            break;
        case OPT_QTARGET: cfg->queue_target_ms = (uint32_t)v; break;
        case OPT_QINTERVAL: cfg->queue_interval_ms = (uint32_t)v; break;
        case OPT_RINGINFLIGHT: cfg->max_ring_inflight = (uint32_t)v; break;
        case OPT_CRITPOOL: cfg->critical_pool_threads = (unsigned)v; break;
        case OPT_REQMEM: cfg->max_request_memory = v; break;
        case OPT_NOH2C: cfg->no_h2c = 1; break;
        case OPT_H2STREAMS: cfg->h2_max_streams = (uint32_t)v; break;
        case OPT_H2RESETS: cfg->h2_max_resets = (uint32_t)v; break;
        case OPT_H2WINDOW: cfg->h2_window = (uint32_t)v; break;
        case OPT_NOH2: cfg->no_h2 = 1; break;
        case OPT_BATCHWAIT: cfg->batch_wait_us = v ? (uint32_t)v : RINGO_BATCH_WAIT_OFF; break;
        case OPT_NOKTLS: cfg->no_ktls = 1; break;
        case OPT_LINKED: hooks->file_splice_linked = 1; break;
        case OPT_NOSENDFILE: hooks->file_sendfile_off = 1; break;
        case OPT_OPENAPI: openapi.json_path = optarg; break;
        case OPT_DOCS: openapi.docs_path = optarg; break;
        case OPT_SWAGGER: openapi.ui_dir = optarg; break;
        case OPT_METRICS: metrics_path = optarg; break;
        case OPT_ALOG: access_log = optarg; break;
        case OPT_REQIDS: request_ids = true; break;
        case OPT_ALOG_FORMAT:
            if (strcmp(optarg, "json") == 0) {
                access_log_format = RINGO_LOG_JSON;
            } else if (strcmp(optarg, "combined") != 0) {
                usage(stderr);
                return -1;
            }
            break;
        /* The bodies spliced from this size on; 0: ringo's threshold, "never": none. */
        case OPT_SPLICEMIN:
            hooks->file_splice_min =
                strcmp(optarg, "never") == 0 ? UINT64_MAX : strtoull(optarg, NULL, 10);
            break;
        case OPT_PROXYPROTO: cfg->proxy_protocol = 1; break;
        case OPT_TRUSTED: cfg->trusted_proxies = optarg; break;
        case OPT_FORWARDED:
            /* An unknown name is left out of range: ringo_app_new() refuses it. */
            cfg->forwarded = strcmp(optarg, "x") == 0         ? RINGO_FORWARDED_X
                             : strcmp(optarg, "rfc7239") == 0 ? RINGO_FORWARDED_RFC7239
                                                              : UINT32_MAX;
            break;
        default: usage(c == '?' ? stdout : stderr); return -1;
        }
    }
    if (ntls_certs != ntls_keys) {
        fprintf(stderr, "ringo: every --tls-cert needs its --tls-key (got %u and %u)\n", ntls_certs,
                ntls_keys);
        return -1;
    }
    return 0;
}

/* The --tls-cert/--tls-key pairs: TLS on the listener. */
static int setup_tls(ringo_app *app)
{
    for (unsigned i = 0; i < ntls_certs; i++) {
        int ret = ringo_app_tls_cert(app, tls_certs[i], tls_keys[i]);
        if (ret == -EOPNOTSUPP) {
            fprintf(stderr, "ringo: --tls-cert: this ringo was built without TLS (OpenSSL 3 "
                            "was not found: install libssl-dev and rebuild)\n");
            return ret;
        }
        if (ret < 0) {
            fprintf(stderr, "ringo: --tls-cert %s --tls-key %s: %s\n", tls_certs[i], tls_keys[i],
                    ringo_strerror(ret));
            return ret;
        }
    }
    return 0;
}

/*
 * Exit statuses (docs/operations.md "Exit statuses"): 0 a graceful stop, 1
 * start-up or run failure, 2 a bad flag, and this one when io_uring is
 * refused to the process (a seccomp profile, kernel.io_uring_disabled):
 * sysexits.h's EX_UNAVAILABLE, so a supervisor can tell "cannot run here"
 * from a failure a restart may cure (systemd: RestartPreventExitStatus=69).
 */
#define DEMO_EXIT_NO_IO_URING 69

/* udata APP is replaced by the app itself at registration, HELLO by demo_hello. */
static char app_marker, hello_marker;

/* SIGHUP, SIGUSR1: what a real app reopens or reloads there; the demo says it ran. */
static int demo_reload(ringo_app *app, void *udata)
{
    static unsigned long reloads;

    (void)app;
    (void)udata;
    fprintf(stderr, "ringo: reload hooks ran (%lu)\n", ++reloads);
    return 0;
}

#define APP ((void *)&app_marker)
#define HELLO ((void *)&hello_marker)

/* ---- declarations of the routes' parameters, for validation and /openapi.json ---- */

const char *const demo_tag_basics[] = {"basics", NULL};
const char *const demo_tag_async[] = {"async", NULL};
const char *const demo_tag_sync[] = {"sync", NULL};
const char *const demo_tag_deps[] = {"dependencies", NULL};
const char *const demo_tag_tasks[] = {"background", NULL};
const char *const demo_tag_streams[] = {"streams", NULL};
const char *const demo_tag_uploads[] = {"uploads", NULL};
const char *const demo_tag_compression[] = {"compression", NULL};
const char *const demo_tag_files[] = {"files", NULL};

/* The tags' descriptions, in the order the docs page shows them. */
static const ringo_openapi_tag demo_tags[] = {
    {"basics", "Fixed answers, echo, the caller's address, the server's counters."},
    {"async", "RINGO_ASYNC handlers: coroutines on the ring awaiting io_uring operations."},
    {"sync", "RINGO_SYNC handlers: the same work on the thread pool, which may block."},
    {"dependencies", "Dependencies (FastAPI's Depends) and validated parameters."},
    {"background", "Background tasks that run after the response was sent."},
    {"streams", "Streamed responses: server-sent events and chunked downloads."},
    {"uploads", "Request bodies read as they arrive, and forms."},
    {"compression", "Responses compressed with gzip, zstd or brotli."},
    {"files", "Files sent from disk, spliced or copied."},
    {"products", "A typed JSON body model: an in-memory product store."},
    {"database", "PostgreSQL: the TechEmpower test types, on the ring and on the pool."},
    {NULL, NULL}};

struct q_ms {
    int64_t ms;
};
struct q_n {
    int64_t n;
};
struct q_slow {
    int64_t ms, batch;
};
struct p_user {
    ringo_str id;
};
struct p_item {
    int64_t id, limit;
};

static const ringo_field sleep_fields[] = {
    DEMO_QUERY_U64(struct q_ms, ms, 10, "Milliseconds to sleep (at most 60000)."), {0}};
static const ringo_model sleep_params = {RINGO_MODEL_OF(struct q_ms), .fields = sleep_fields};
struct q_kb {
    int64_t kb;
};
static const ringo_field mem_fields[] = {
    DEMO_QUERY_U64(struct q_kb, kb, 64, "KiB of request memory to hold (at most 4194304)."), {0}};
static const ringo_model mem_params = {RINGO_MODEL_OF(struct q_kb), .fields = mem_fields};
static const ringo_field block_fields[] = {
    DEMO_QUERY_U64(struct q_ms, ms, 200, "Milliseconds to block the ring (at most 5000)."), {0}};
static const ringo_model block_params = {RINGO_MODEL_OF(struct q_ms), .fields = block_fields};
static const ringo_field cpu_fields[] = {
    DEMO_QUERY_U64(struct q_n, n, 1000000, "Numbers to hash and sum (at most 2^34)."), {0}};
static const ringo_model cpu_params = {RINGO_MODEL_OF(struct q_n), .fields = cpu_fields};
static const ringo_field slow_fields[] = {
    DEMO_QUERY_U64(struct q_slow, ms, 0, "Milliseconds the teardown blocks (at most 600000)."),
    DEMO_QUERY_U64(struct q_slow, batch, 0,
                   "Hold the answer until this many such requests arrived (at most 1000)."),
    {0}};
static const ringo_model slow_params = {RINGO_MODEL_OF(struct q_slow), .fields = slow_fields};
static const ringo_field task_sleep_fields[] = {
    DEMO_QUERY_U64(struct q_ms, ms, 1000, "Milliseconds the task sleeps (at most 600000)."), {0}};
static const ringo_model task_sleep_params = {RINGO_MODEL_OF(struct q_ms),
                                              .fields = task_sleep_fields};
static const ringo_field task_many_fields[] = {
    DEMO_QUERY_U64(struct q_n, n, 1, "Background tasks to schedule (at most 1000000)."), {0}};
static const ringo_model task_many_params = {RINGO_MODEL_OF(struct q_n),
                                             .fields = task_many_fields};
static const ringo_field user_fields[] = {{.name = "id",
                                           .in = RINGO_LOC_PATH,
                                           RINGO_AS_STRING(struct p_user, id),
                                           .description = "Any name: it is sent back."},
                                          {0}};
static const ringo_model user_params = {RINGO_MODEL_OF(struct p_user), .fields = user_fields};
/* FastAPI's Path(ge=1) and Query(10, ge=1, le=100): the handler checks them the same way. */
static const ringo_field item_fields[] = {
    {.name = "id", .in = RINGO_LOC_PATH, RINGO_AS_INT(struct p_item, id), RINGO_GE(1)},
    {.name = "limit",
     .in = RINGO_LOC_QUERY,
     RINGO_AS_INT(struct p_item, limit),
     RINGO_GE(1),
     RINGO_LE(100),
     RINGO_DEFAULT_INT(10)},
    {0}};
static const ringo_model item_params = {RINGO_MODEL_OF(struct p_item), .fields = item_fields};

/* What two routes answer, for the docs (the handlers write it themselves). */
struct message {
    ringo_str message;
};
static const ringo_field message_fields[] = {
    {.name = "message", RINGO_AS_STRING(struct message, message)}, {0}};
static const ringo_model message_model = {
    .name = "Message", RINGO_MODEL_OF(struct message), .fields = message_fields};
static const ringo_response_spec message_answer[] = {{.status = 200, .model = &message_model}, {0}};
static const ringo_field item_out_fields[] = {{.name = "id", RINGO_AS_INT(struct p_item, id)},
                                              {.name = "limit", RINGO_AS_INT(struct p_item, limit)},
                                              {0}};
static const ringo_model item_model = {
    .name = "Item", RINGO_MODEL_OF(struct p_item), .fields = item_out_fields};
static const ringo_response_spec item_answer[] = {
    {.status = 200, .description = "The validated parameters", .model = &item_model}, {0}};

#define SPEC(tag, text)                                                                            \
    {                                                                                              \
        .tags = demo_tag_##tag, .summary = (text)                                                  \
    }
#define SPEC_P(tag, text, params_)                                                                 \
    {                                                                                              \
        .tags = demo_tag_##tag, .summary = (text), .params = &(params_)                            \
    }

static const ringo_route_spec
    spec_hello = SPEC(basics, "The server's name"),
    spec_plaintext = SPEC(basics, "Hello, World! as text"),
    spec_json = {.tags = demo_tag_basics,
                 .summary = "Hello, World! as JSON",
                 .responses = message_answer},
    spec_echo = SPEC(basics, "The request body, sent back"),
    spec_user = SPEC_P(basics, "The id, sent back", user_params),
    spec_whoami = SPEC(basics, "The caller's address and ring"),
    spec_trace = SPEC(sync, "The request's ID and traceparent"),
    spec_sleep = SPEC_P(async, "Sleep on the ring", sleep_params),
    spec_deadline_sleep = SPEC_P(async, "Sleep past a 200 ms deadline (504)", sleep_params),
    spec_file = SPEC(async, "A file read through io_uring"),
    spec_upstream = SPEC(async, "This server's /plaintext, as a client"),
    spec_block = SPEC_P(async, "Block the ring (wrong on purpose)", block_params),
    spec_stats = SPEC(basics, "Live objects and totals"),
    spec_sync_stats = SPEC(sync, "The same counters from a reserved worker"),
    spec_route_stats = SPEC(basics, "Admission and memory per route"),
    spec_mem = SPEC_P(basics, "Hold request memory", mem_params),
    spec_limited_sleep = SPEC_P(sync, "Sleep, one request at a time", sleep_params),
    spec_bounded_sleep = SPEC_P(sync, "Sleep, never queued behind 50 ms", sleep_params),
    spec_adaptive_sleep = SPEC_P(sync, "Sleep, an adaptive concurrency limit", sleep_params),
    spec_sync_plaintext = SPEC(sync, "Hello, World! from the pool"),
    spec_sync_json = SPEC(sync, "Hello, World! as JSON from the pool"),
    spec_sync_sleep = SPEC_P(sync, "Sleep on a worker", sleep_params),
    spec_deadline_sync_sleep =
        SPEC_P(sync, "Sleep on a worker past a 200 ms deadline", sleep_params),
    spec_cpu = SPEC_P(sync, "Hash numbers on every core", cpu_params),
    spec_chain = SPEC(deps, "Four dependencies, each run once"),
    spec_teardowns = SPEC(deps, "Teardowns run so far"),
    spec_slow = SPEC_P(deps, "A dependency with a slow teardown", slow_params),
    spec_items = {.tags = demo_tag_deps,
                  .summary = "Validated parameters",
                  .params = &item_params,
                  .responses = item_answer},
    spec_tasks_post = SPEC(tasks, "Schedule a task on the pool"),
    spec_tasks_get = SPEC(tasks, "Tasks scheduled and completed"),
    spec_tasks_sleep = SPEC_P(tasks, "Schedule a sleeping task", task_sleep_params),
    spec_tasks_many = SPEC_P(tasks, "Schedule many tasks", task_many_params),
    spec_tasks_nested = SPEC(tasks, "A task that schedules another"),
    spec_tasks_forever = SPEC(tasks, "A task that schedules itself"),
    spec_tasks_stats = SPEC(tasks, "The counters of the tasks");

static int add_routes(ringo_app *app)
{
    static const ringo_route_opts deadline = {.deadline_ms = 200};
    /* Health and operations routes answer while the pool is saturated. */
    static const ringo_route_opts critical = {.flags = RINGO_ROUTE_CRITICAL};
    /* One request at a time: a second one gets 503 at once. */
    static const ringo_route_limits one = {.max_concurrency = 1};
    static const ringo_route_opts limited = {.limits = &one};
    /* Never queued behind more than 50 ms of the pool's work, whatever --queue-target says. */
    static const ringo_route_limits q50 = {.queue_target_ms = 50};
    static const ringo_route_opts bounded = {.limits = &q50};
    /* Up to 4 at once, fewer while requests take longer than 100 ms (AIMD). */
    static const ringo_route_limits aimd = {
        .max_concurrency = 4, .flags = RINGO_LIMIT_ADAPTIVE, .latency_target_ms = 100};
    static const ringo_route_opts adaptive = {.limits = &aimd};
    static const char *const chain_needs[] = {"user", "db", NULL};
    static const ringo_route_opts chain = {.needs = chain_needs};
    static const char *const slow_needs[] = {"slow", NULL};
    static const ringo_route_opts slow = {.needs = slow_needs};
    static const struct {
        const char *method, *pattern;
        ringo_mode mode;
        ringo_handler_fn fn;
        void *udata;
        const ringo_route_opts *opts;
        const ringo_route_spec *spec;
    } routes[] = {
        {"GET", "/", RINGO_ASYNC, hello, NULL, NULL, &spec_hello},
        {"GET", "/plaintext", RINGO_ASYNC, plaintext, NULL, NULL, &spec_plaintext},
        {"GET", "/json", RINGO_ASYNC, json, NULL, NULL, &spec_json},
        {"POST", "/echo", RINGO_ASYNC, echo, NULL, NULL, &spec_echo},
        {"GET", "/users/{id}", RINGO_ASYNC, user, NULL, NULL, &spec_user},
        {"GET", "/whoami", RINGO_ASYNC, whoami, NULL, NULL, &spec_whoami},
        {"GET", "/sleep", RINGO_ASYNC, sleep_route, NULL, NULL, &spec_sleep},
        {"GET", "/deadline/sleep", RINGO_ASYNC, sleep_route, NULL, &deadline, &spec_deadline_sleep},
        {"GET", "/async/file", RINGO_ASYNC, async_file, HELLO, NULL, &spec_file},
        {"GET", "/async/upstream", RINGO_ASYNC, async_upstream, APP, NULL, &spec_upstream},
        {"GET", "/block", RINGO_ASYNC, block_route, NULL, NULL, &spec_block},
        {"GET", "/stats", RINGO_ASYNC, stats_route, APP, &critical, &spec_stats},
        {"GET", "/stats/routes", RINGO_ASYNC, route_stats, APP, &critical, &spec_route_stats},
        {"GET", "/mem", RINGO_ASYNC, mem_route, NULL, NULL, &spec_mem},
        {"GET", "/limited/sleep", RINGO_SYNC, sync_sleep, NULL, &limited, &spec_limited_sleep},
        {"GET", "/bounded/sleep", RINGO_SYNC, sync_sleep, NULL, &bounded, &spec_bounded_sleep},
        {"GET", "/adaptive/sleep", RINGO_SYNC, sync_sleep, NULL, &adaptive, &spec_adaptive_sleep},
        /* The same counters from a sync handler: a worker reserved for critical routes. */
        {"GET", "/sync/stats", RINGO_SYNC, stats_route, APP, &critical, &spec_sync_stats},
        /* The same bodies through the pool: FastAPI's plain `def` equivalents. */
        {"GET", "/sync/plaintext", RINGO_SYNC, plaintext, NULL, NULL, &spec_sync_plaintext},
        {"GET", "/sync/json", RINGO_SYNC, json, NULL, NULL, &spec_sync_json},
        {"GET", "/sync/sleep", RINGO_SYNC, sync_sleep, NULL, NULL, &spec_sync_sleep},
        {"GET", "/deadline/sync/sleep", RINGO_SYNC, sync_sleep, NULL, &deadline,
         &spec_deadline_sync_sleep},
        {"GET", "/sync/cpu", RINGO_SYNC, sync_cpu, NULL, NULL, &spec_cpu},
        {"GET", "/sync/trace", RINGO_SYNC, sync_trace, NULL, NULL, &spec_trace},
        /* Dependencies, validated parameters, background tasks (ringo/deps.h). */
        {"GET", "/deps/chain", RINGO_ASYNC, deps_chain, NULL, &chain, &spec_chain},
        {"GET", "/deps/teardowns", RINGO_ASYNC, deps_teardowns, NULL, NULL, &spec_teardowns},
        {"GET", "/deps/slow-teardown", RINGO_ASYNC, deps_slow_teardown, NULL, &slow, &spec_slow},
        {"GET", "/items/{id}", RINGO_ASYNC, items, NULL, NULL, &spec_items},
        {"POST", "/tasks", RINGO_ASYNC, tasks_post, NULL, NULL, &spec_tasks_post},
        {"GET", "/tasks", RINGO_ASYNC, tasks_get, NULL, NULL, &spec_tasks_get},
        {"POST", "/tasks/sleep", RINGO_ASYNC, tasks_sleep, NULL, NULL, &spec_tasks_sleep},
        {"POST", "/tasks/many", RINGO_ASYNC, tasks_many, NULL, NULL, &spec_tasks_many},
        {"POST", "/tasks/nested", RINGO_ASYNC, tasks_nested, NULL, NULL, &spec_tasks_nested},
        {"POST", "/tasks/forever", RINGO_ASYNC, tasks_forever, NULL, NULL, &spec_tasks_forever},
        {"GET", "/tasks/stats", RINGO_ASYNC, tasks_stats, NULL, NULL, &spec_tasks_stats},
    };
    int ret = add_deps(app);

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && ret == 0; i++) {
        ringo_route_opts o = routes[i].opts ? *routes[i].opts : (ringo_route_opts){0};
        o.spec = routes[i].spec;
        ret = ringo_route_ex(app, routes[i].method, routes[i].pattern, routes[i].mode, routes[i].fn,
                             routes[i].udata == APP     ? app
                             : routes[i].udata == HELLO ? demo_hello
                                                        : routes[i].udata,
                             &o);
    }
    /* Probes for load balancers, Kubernetes and systemd (ringo/health.h). */
    if (ret == 0)
        ret = ringo_app_on_reload(app, "demo", demo_reload, NULL);
    if (ret == 0)
        ret = ringo_app_readiness(app, "/readyz");
    if (ret == 0)
        ret = ringo_app_liveness(app, "/livez");
    if (ret == 0)
        ret = demo_stream_routes(app);
    if (ret == 0)
        ret = demo_ws_routes(app);
    if (ret == 0)
        ret = demo_compress_routes(app);
    if (ret == 0)
        ret = demo_product_routes(app);
    if (ret == 0)
        ret = demo_file_routes(app, static_dir ? static_dir : demo_static, static_valid_ms,
                               static_flags);
    if (ret == 0)
        ret = demo_tfb_routes(app, pg_dsn);
    if (ret == 0)
        ret = demo_tfb_async_routes(app, pg_dsn);
    return ret ? ret : demo_bench_file_routes(app, files_dir);
}

int main(int argc, char **argv)
{
    ringo__test_hooks hooks = {0};
    ringo_config cfg;
    ringo_app *app;
    ringo_stats st;
    int ret;

    ringo_config_init(&cfg);
    find_demo_files();
    if (parse_args(argc, argv, &cfg, &hooks) < 0)
        return 2;
    if (check_only) { /* ok or warnings: 0; a failure: 1; io_uring refused: 69 */
        ret = ringo_check(stdout, &cfg);
        return ret == RINGO_EIOURING ? DEMO_EXIT_NO_IO_URING : ret == RINGO_CHECK_FAIL;
    }
    ret = ringo_app_new(&app, &cfg);
    if (ret == 0)
        ret = ringo__app_test_hooks(app, &hooks);
    if (ret == 0)
        ret = setup_tls(app);
    if (ret == 0)
        ret = add_routes(app);
    openapi.tags = demo_tags;
    if (ret == 0)
        ret = ringo_app_openapi(app, &openapi);
    if (ret == 0 && compress_406) {
        const ringo_compress_opts z = {.flags = RINGO_COMPRESS_406};
        ret = ringo_app_compress(app, &z);
        if (ret == -ENOTSUP) { /* built without any codec: served as it is */
            fprintf(stderr, "ringo: --compress-406: no compression codec built in\n");
            ret = 0;
        }
    }
    if (ret == 0 && *metrics_path)
        ret = ringo_app_metrics(app, metrics_path);
    if (ret == 0 && access_log)
        ret = ringo_app_access_log(app, access_log, access_log_format);
    if (ret == 0 && request_ids)
        ret = ringo_app_request_ids(app);
    if (ret == 0)
        ret = ringo_app_handle_signals(app);
    if (ret < 0) {
        fprintf(stderr, "ringo: setup failed: %s\n", ringo_strerror(ret));
        ringo_app_free(app);
        return 1;
    }
    ret = ringo_app_start(app);
    if (ret < 0) {
        ringo_app_free(app);
        return ret == RINGO_EIOURING ? DEMO_EXIT_NO_IO_URING : 1;
    }
    printf("ringo: listening on %s://%s%s%s:%u (%u rings)\n", ntls_certs ? "https" : "http",
           strchr(cfg.host, ':') ? "[" : "", cfg.host, strchr(cfg.host, ':') ? "]" : "",
           ringo_app_port(app),
           cfg.threads ? cfg.threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
    ret = ringo_app_wait(app);
    ringo_app_stats(app, &st);
    if (st.bg_dropped)
        fprintf(stderr, "ringo: background tasks dropped at shutdown: %llu\n",
                (unsigned long long)st.bg_dropped);
    if (st.teardowns_dropped)
        fprintf(stderr, "ringo: teardowns dropped at shutdown: %llu\n",
                (unsigned long long)st.teardowns_dropped);
    if (atomic_load(&slow_started))
        fprintf(stderr, "ringo: slow teardowns: started %lu finished %lu\n",
                atomic_load(&slow_started), atomic_load(&slow_finished));
    fprintf(stderr,
            "ringo: stopped: conns=%llu reqs=%llu bufs=%llu stacks=%llu jobs=%llu pipes=%llu\n",
            (unsigned long long)st.conns_live, (unsigned long long)st.reqs_live,
            (unsigned long long)st.bufs_held, (unsigned long long)st.stacks_live,
            (unsigned long long)st.jobs_live, (unsigned long long)st.pipes_busy);
    ringo_app_free(app);
    return ret < 0 ? 1 : 0;
}
