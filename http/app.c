/*
 * http/app.c - the app: configuration, routes, start and stop.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/proxy.h"
#include "http/http_impl.h"
#include "http/observe_impl.h"
#include "http/ws/ws_impl.h"
#include "http/openapi_impl.h"
#include "http/static_impl.h"
#include "http/test_hooks.h"
#include "http/schema_impl.h"

/*
 * The ABI rule of ringo_config (see ringo/app.h): no tail padding a later
 * field could fall into. A field appended after this one names itself here;
 * a 4-byte field is appended in pairs (or with the next one) to keep it so.
 */
_Static_assert(sizeof(ringo_config) == offsetof(ringo_config, reserved1) + sizeof(uint32_t),
               "ringo_config must end without padding");
/* ringo_route_opts keeps its 1.0 size: options take the place of reserved words (the
 * limits pointer took the last one: 64-bit Linux only). */
_Static_assert(sizeof(const void *) == sizeof(uint64_t), "ringo_route_opts.limits is one word");
_Static_assert(sizeof(ringo_route_opts) ==
                   offsetof(ringo_route_opts, max_body_bytes) + 4 * sizeof(uint64_t),
               "ringo_route_opts must keep its size");
/* ringo_app_stats_sized() copies whole counters: every field is a uint64_t. */
_Static_assert(sizeof(ringo_stats) % sizeof(uint64_t) == 0, "ringo_stats holds uint64_t only");

static void config_defaults(ringo_config *c)
{
    memset(c, 0, sizeof(*c));
    c->size = sizeof(*c);
    c->host = "0.0.0.0";
    c->port = 8080;
    c->max_conns = 16384;
    c->max_request_line = 8192;  /* nginx: large_client_header_buffers 4 8k */
    c->max_header_bytes = 32768; /* nginx: 4 x 8k */
    c->max_headers = 100;
    c->max_body_bytes = 1u << 20; /* nginx: client_max_body_size 1m */
    c->max_conn_buffered = 65536;
    c->max_requests_per_conn = 0;    /* nginx: keepalive_requests 1000 */
    c->header_timeout_ms = 60000;    /* nginx: client_header_timeout 60s */
    c->body_timeout_ms = 60000;      /* nginx: client_body_timeout 60s (between reads) */
    c->keepalive_timeout_ms = 75000; /* nginx: keepalive_timeout 75s */
    c->send_timeout_ms = 60000;      /* nginx: send_timeout 60s */
    c->linger_ms = 5000;             /* nginx: lingering_timeout 5s */
    c->drain_timeout_ms = 10000;
    c->recv_buffers = 512;
    c->recv_buffer_size = 16384;
    c->backlog = 4096;
    c->stall_warn_ms = 100;
    c->max_post_inflight = RINGO__DEFAULT_MAX_POST_INFLIGHT;
    c->teardown_timeout_ms = RINGO__DEFAULT_TEARDOWN_TIMEOUT_MS;
    c->stream_window = RINGO__DEFAULT_STREAM_WINDOW;
    c->sse_ping_ms = 15000;
    c->ws_ping_ms = 20000;
    c->ws_idle_timeout_ms = 60000;
    c->live_stall_ms = 5000;
    c->tls_handshake_timeout_ms = 10000;
    c->tls_max_handshakes = RINGO__DEFAULT_TLS_MAX_HANDSHAKES;
    c->h2_max_streams = 100; /* nginx: http2_max_concurrent_streams 128; h2o: 100 */
    c->h2_max_resets = 100;
    c->h2_window = 65535;
    c->batch_wait_us = 50;
}

/* A newer caller's fields this library does not know are zeroed: left so, they are accepted. */
int ringo_config_init_sized(ringo_config *cfg, size_t size)
{
    ringo_config full;

    if (!cfg || size < sizeof(cfg->size))
        return -EINVAL;
    config_defaults(&full);
    full.size = size;
    memcpy(cfg, &full, size < sizeof(full) ? size : sizeof(full));
    if (size > sizeof(full))
        memset((char *)cfg + sizeof(full), 0, size - sizeof(full));
    return 0;
}

static bool bytes_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* The documented ranges (ringo/app.h): a value outside one is refused, never clamped. */
static bool config_valid(const ringo_config *c)
{
    uint32_t nb = c->recv_buffers;

    if (c->pool_threads > RINGO_MAX_POOL_THREADS ||
        c->max_post_inflight > RINGO_MAX_POST_INFLIGHT ||
        c->critical_pool_threads > RINGO_MAX_POOL_THREADS)
        return false;
    if (c->deploy_flags & ~(RINGO_DEPLOY_SHARE_PORT | RINGO_DEPLOY_SYSTEMD))
        return false;
    if (c->proxy_protocol > 1 || c->forwarded > RINGO_FORWARDED_RFC7239)
        return false;
    if (c->trusted_proxies ? ringo__cidrs_parse(c->trusted_proxies, NULL) < 0
                           : c->proxy_protocol || c->forwarded)
        return false; /* a PROXY listener or forwarded headers trusted from nobody */
    if (c->h2_window > 0x7fffffffu || c->reserved1)
        return false;
    if (c->batch_wait_us > 1000 && c->batch_wait_us != RINGO_BATCH_WAIT_OFF)
        return false;
    return nb <= RINGO_MAX_RECV_BUFFERS && (nb & (nb - 1)) == 0;
}

bool ringo__reserved_zero(const uint64_t *words, size_t n)
{
    return bytes_zero((const unsigned char *)words, n * sizeof(*words));
}

/* A newer caller's config is taken when it sets nothing this library does not know. */
static bool config_size_valid(const ringo_config *cfg)
{
    if (cfg->size < sizeof(cfg->size))
        return false;
    return cfg->size <= sizeof(*cfg) ||
           bytes_zero((const unsigned char *)cfg + sizeof(*cfg), cfg->size - sizeof(*cfg));
}

static void route_free(ringo__route *r)
{
    ringo__free(r->method);
    ringo__free(r->pattern);
    ringo__free(r->label);
    for (unsigned i = 0; i < r->nneeds; i++)
        ringo__free(r->needs[i]);
    ringo__free(r->needs);
    ringo__free(r->plan);
    ringo__ws_route_free(r->ws);
    ringo__free(r);
}

static uint64_t drain_hook(ringo__server *srv, int stage);
static void reload_hook(ringo__server *srv) { ringo__lifespan_reload(srv->app); }

#define RINGO__ROUTE_FLAGS                                                                         \
    (RINGO_ROUTE_STREAM_BODY | RINGO_ROUTE_COMPRESS | RINGO_ROUTE_NO_COMPRESS |                    \
     RINGO_ROUTE_CRITICAL)

int ringo_app_new(ringo_app **out, const ringo_config *cfg)
{
    ringo__server_opts opts = {
        .proto = &ringo__http_proto, .drain_hook = drain_hook, .reload_hook = reload_hook};
    ringo_config full;
    ringo_app *app;
    int ret;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (cfg && !config_size_valid(cfg))
        return -EINVAL;
    /* An older caller's shorter config: the fields it does not know keep their defaults. */
    config_defaults(&full);
    if (cfg)
        memcpy(&full, cfg, cfg->size < sizeof(full) ? cfg->size : sizeof(full));
    full.size = sizeof(full);
    if (!config_valid(&full))
        return -EINVAL;
    app = ringo__calloc(1, sizeof(*app));
    if (!app)
        return -ENOMEM;
    opts.cfg = &full;
    opts.app = app;
    app->router = ringo__router_new();
    ret = ringo__server_init(&app->srv, &opts);
    if (ret < 0 || !app->router) {
        ringo_app_free(app);
        return ret < 0 ? ret : -ENOMEM;
    }
    *out = app;
    return 0;
}

void ringo_app_free(ringo_app *app)
{
    /* Work that outlived the teardown timeout still uses the app and its rings. */
    if (!app || app->srv.abandoned)
        return;
    ringo__server_free(&app->srv);
    ringo__pool_free(app->pool);
    ringo__pool_free(app->crit_pool);
    for (unsigned i = 0; i < app->nroutes; i++)
        route_free(app->routes[i]);
    ringo__free(app->routes);
    ringo__deps_free(app);
    ringo__ws_groups_free(app);
    ringo__router_free(app->router);
    ringo__static_free_all(app);
    ringo__compress_app_free(app);
    ringo__openapi_free(app);
    ringo__schemas_free(app);
    ringo__obs_free(app);
    ringo__free(app);
}

static ringo__route *route_new(const char *method, const char *pattern, ringo_mode mode,
                               ringo_handler_fn fn, void *udata, const ringo_route_opts *opts)
{
    ringo__route *r = ringo__calloc(1, sizeof(*r));
    size_t n = strlen(method) + strlen(pattern) + 2;

    if (!r)
        return NULL;
    r->method = ringo__strdup(method);
    r->pattern = ringo__strdup(pattern);
    r->label = ringo__malloc(n);
    r->mode = mode;
    r->fn = fn;
    r->udata = udata;
    if (opts)
        r->opts = *opts;
    if (opts && opts->limits) {
        r->limits = *opts->limits;
        r->opts.limits = &r->limits;
        atomic_init(&r->limit, r->limits.max_concurrency);
    }
    r->opts.needs = NULL; /* copied into r->needs below, the caller's array is not kept */
    for (const char *const *need = opts ? opts->needs : NULL; need && *need; need++) {
        char **v = ringo__realloc(r->needs, (r->nneeds + 1) * sizeof(*v));
        if (!v || !(v[r->nneeds] = ringo__strdup(*need))) {
            if (v)
                r->needs = v;
            route_free(r);
            return NULL;
        }
        r->needs = v;
        r->nneeds++;
    }
    if (!r->method || !r->pattern || !r->label) {
        route_free(r);
        return NULL;
    }
    snprintf(r->label, n, "%s %s", method, pattern);
    return r;
}

int ringo_route(ringo_app *app, const char *method, const char *pattern, ringo_mode mode,
                ringo_handler_fn fn, void *udata)
{
    return ringo_route_ex(app, method, pattern, mode, fn, udata, NULL);
}

int ringo_route_ex(ringo_app *app, const char *method, const char *pattern, ringo_mode mode,
                   ringo_handler_fn fn, void *udata, const ringo_route_opts *opts)
{
    return ringo__route_add(app, method, pattern, mode, fn, udata, opts, NULL);
}

static bool limits_valid(const ringo_route_opts *o)
{
    const ringo_route_limits *l = o->limits;

    if (!l)
        return true;
    if (!RINGO__RESERVED_ZERO(l->reserved) || (l->flags & ~RINGO_LIMIT_ADAPTIVE) ||
        (o->flags & RINGO_ROUTE_CRITICAL))
        return false;
    return !(l->flags & RINGO_LIMIT_ADAPTIVE) || (l->max_concurrency && l->latency_target_ms);
}

int ringo__route_add(ringo_app *app, const char *method, const char *pattern, ringo_mode mode,
                     ringo_handler_fn fn, void *udata, const ringo_route_opts *opts,
                     struct ringo_group *group)
{
    ringo__route *r;
    int ret;

    if (app->started)
        return -EBUSY;
    if (!fn || !method || !pattern || (mode != RINGO_SYNC && mode != RINGO_ASYNC))
        return -EINVAL;
    if (opts && ((opts->flags & ~RINGO__ROUTE_FLAGS) ||
                 (opts->flags & (RINGO_ROUTE_COMPRESS | RINGO_ROUTE_NO_COMPRESS)) ==
                     (RINGO_ROUTE_COMPRESS | RINGO_ROUTE_NO_COMPRESS) ||
                 !limits_valid(opts)))
        return -EINVAL;
    ret = ringo__compress_route(app, opts ? opts->flags : 0);
    if (ret < 0)
        return ret;
    if (app->nroutes == app->routes_cap) {
        unsigned cap = app->routes_cap ? app->routes_cap * 2 : 16;
        ringo__route **v = ringo__realloc(app->routes, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        app->routes = v;
        app->routes_cap = cap;
    }
    r = route_new(method, pattern, mode, fn, udata, opts);
    if (!r)
        return -ENOMEM;
    /* A declaration is checked whole now: a bad one never reaches a request. */
    ret = ringo__spec_add(app, r->label, pattern, opts);
    if (ret < 0) {
        route_free(r);
        return ret;
    }
    ret = ringo__router_add(app->router, method, pattern, r);
    if (ret < 0) {
        route_free(r);
        return ret;
    }
    r->group = group;
    app->routes[app->nroutes++] = r;
    return 0;
}

int ringo_app_handle_signals(ringo_app *app) { return ringo__server_handle_signals(&app->srv); }

int ringo__app_test_hooks(ringo_app *app, const ringo__test_hooks *h)
{
    if (app->started)
        return -EBUSY;
    app->test_hooks = *h;
    return 0;
}

/*
 * Shutdown (see ringo__stop_stage): at the drain timeout queued sync
 * requests get 503 and queued background tasks are dropped, while the
 * workers go on with the teardowns for teardown_timeout_ms; then teardowns
 * not started are dropped, and jobs still running are named and left
 * running with their rings (the app is then never freed).
 */
static uint64_t drain_hook(ringo__server *srv, int stage)
{
    ringo_app *app = srv->app;

    if (stage == RINGO__STOP_DRAINED) {
        ringo__pool_drain(app->pool, 0);
        if (app->crit_pool)
            ringo__pool_drain(app->crit_pool, 0);
        return app->srv.cfg.teardown_timeout_ms ? app->srv.cfg.teardown_timeout_ms
                                                : RINGO__DEFAULT_TEARDOWN_TIMEOUT_MS;
    }
    if (stage == RINGO__STOP_GIVE_UP)
        return ringo__pool_close(app->pool, 0) +
               (app->crit_pool ? ringo__pool_close(app->crit_pool, 0) : 0);
    ringo__pool_free(app->pool);
    ringo__pool_free(app->crit_pool);
    app->pool = app->crit_pool = NULL;
    return 0;
}

/* Critical sync routes get workers of their own: a full pool never delays them. */
static int crit_pool_start(ringo_app *app, const ringo__pool_opts *base)
{
    ringo__pool_opts opts = *base;
    bool any = false;

    for (unsigned i = 0; i < app->nroutes; i++)
        any |= app->routes[i]->mode == RINGO_SYNC &&
               (app->routes[i]->opts.flags & RINGO_ROUTE_CRITICAL);
    if (!any)
        return 0;
    opts.threads = app->srv.cfg.critical_pool_threads ? app->srv.cfg.critical_pool_threads
                                                      : RINGO__DEFAULT_CRITICAL_THREADS;
    opts.max_queued = 0;
    opts.queue_target_ms = 0; /* never refused by admission */
    return ringo__pool_new(&app->crit_pool, &opts);
}

int ringo_app_start(ringo_app *app)
{
    ringo__pool_opts opts;
    int ret;

    if (app->started)
        return -EBUSY;
    ret = ringo__deps_resolve(app);
    if (ret < 0)
        return ret;
    /* Every route is in: the OpenAPI document can be written, once. */
    ret = ringo__openapi_build(app);
    if (ret < 0)
        return ret;
    /* Before the pool: a missing io_uring must be reported as such. */
    ret = ringo__server_probe(&app->srv);
    if (ret < 0)
        return ret;
    ret = ringo__obs_start(app);
    if (ret < 0) {
        ringo__obs_stop(app);
        return ret;
    }
    ret = ringo__lifespan_startup(app);
    if (ret < 0) {
        ringo__obs_stop(app);
        return ret;
    }
    ringo__pool_opts_init(&opts);
    if (app->srv.cfg.pool_threads)
        opts.threads = app->srv.cfg.pool_threads;
    if (!app->srv.cfg.max_post_inflight)
        app->srv.cfg.max_post_inflight = RINGO__DEFAULT_MAX_POST_INFLIGHT;
    if (!app->srv.cfg.stream_window)
        app->srv.cfg.stream_window = RINGO__DEFAULT_STREAM_WINDOW;
    if (!app->srv.cfg.tls_max_handshakes)
        app->srv.cfg.tls_max_handshakes = RINGO__DEFAULT_TLS_MAX_HANDSHAKES;
    if (app->srv.cfg.max_pool_queue)
        opts.max_queued = app->srv.cfg.max_pool_queue;
    opts.queue_target_ms = app->srv.cfg.queue_target_ms;
    opts.queue_interval_ms = app->srv.cfg.queue_interval_ms;
    opts.force_fallback = app->test_hooks.msgring_fallback;
    opts.fail_posts = app->test_hooks.msgring_fail_posts;
    ret = ringo__pool_new(&app->pool, &opts);
    if (ret == 0 && (ret = crit_pool_start(app, &opts)) < 0) {
        ringo__pool_free(app->pool);
        app->pool = NULL;
    }
    if (ret < 0) {
        if (!app->srv.cfg.quiet)
            fprintf(stderr, "ringo: cannot start the sync-handler pool: %s\n", strerror(-ret));
        ringo__lifespan_shutdown(app);
        ringo__obs_stop(app);
        return ret;
    }
    ret = ringo__server_start(&app->srv);
    if (ret < 0) {
        ringo__pool_free(app->pool);
        ringo__pool_free(app->crit_pool);
        app->pool = app->crit_pool = NULL;
        ringo__lifespan_shutdown(app);
        ringo__obs_stop(app);
        return ret;
    }
    app->started = true;
    return 0;
}

/* srv.port is written before the ring threads start, so handlers may read it. */
uint16_t ringo_app_port(const ringo_app *app) { return app->srv.port; }

void ringo_app_stop(ringo_app *app) { ringo__server_stop(&app->srv); }

int ringo_app_reload(ringo_app *app) { return ringo__server_reload(&app->srv); }

int ringo_app_wait(ringo_app *app)
{
    int ret;

    if (!app->started)
        return -EINVAL;
    ret = ringo__server_wait(&app->srv);
    /* Not while teardowns still run: what the hooks release may be theirs. */
    if (!app->srv.abandoned) {
        ringo__lifespan_shutdown(app);
        ringo__obs_stop(app); /* the rings stopped: the last log lines go out */
    }
    return ret;
}

int ringo_app_run(ringo_app *app)
{
    int ret = ringo_app_start(app);

    return ret < 0 ? ret : ringo_app_wait(app);
}

static void pool_stats(const ringo_app *app, ringo_stats *st)
{
    ringo__pool_stats ps;

    if (!app->pool)
        return;
    ringo__pool_stats_get(app->pool, &ps);
    st->pool_queued = ps.queued;
    st->pool_rejected = ps.rejected;
    st->pool_enqueued = ps.enqueued;
    st->pool_wait_us = ps.wait_ns / 1000u;
    st->admission_rejected = ps.admission_rejected;
    st->dropped_gone = ps.dropped_gone;
    st->dropped_deadline = ps.dropped_deadline;
    st->dropped_expired = ps.dropped_expired;
    st->lifo_switches = ps.lifo_switches;
    st->lifo_active = ps.lifo_active;
    st->pool_overloaded = ps.overloaded;
}

int ringo_app_route_stats_sized(const ringo_app *app, unsigned index, ringo_route_stats *out,
                                size_t size)
{
    ringo_route_stats st;
    const ringo__route *r;

    if (index >= app->nroutes)
        return -ENOENT;
    r = app->routes[index];
#define LOAD(f) atomic_load_explicit(&r->f, memory_order_relaxed)
    st = (ringo_route_stats){.label = r->label,
                             .inflight = LOAD(inflight),
                             .limit = LOAD(limit),
                             .rejected = LOAD(rejected),
                             .mem_requests = LOAD(mem_requests),
                             .mem_total = LOAD(mem_total),
                             .mem_max = LOAD(mem_max),
                             .mem_rejected = LOAD(mem_rejected)};
#undef LOAD
    if (size > sizeof(st)) {
        memset((char *)out + sizeof(st), 0, size - sizeof(st));
        size = sizeof(st);
    }
    memcpy(out, &st, size - size % sizeof(uint64_t)); /* whole fields: all are 8 bytes */
    return 0;
}

static void route_totals(const ringo_app *app, ringo_stats *st)
{
    for (unsigned i = 0; i < app->nroutes; i++) {
        st->route_rejected += atomic_load_explicit(&app->routes[i]->rejected, memory_order_relaxed);
        st->memory_rejected +=
            atomic_load_explicit(&app->routes[i]->mem_rejected, memory_order_relaxed);
    }
}

void ringo_app_stats_sized(const ringo_app *app, ringo_stats *out, size_t size)
{
    ringo_stats st;

    ringo__server_stats(&app->srv, &st);
    st.bg_live = atomic_load_explicit(&app->bg_live, memory_order_relaxed);
    st.bg_dropped = atomic_load_explicit(&app->bg_dropped, memory_order_relaxed);
    st.teardowns_dropped = atomic_load_explicit(&app->teardowns_dropped, memory_order_relaxed);
    pool_stats(app, &st);
    route_totals(app, &st);
    /* Whole counters only: an older caller's struct ends on a counter. */
    if (size > sizeof(st)) {
        memset((char *)out + sizeof(st), 0, size - sizeof(st)); /* a newer caller's */
        size = sizeof(st);
    }
    memcpy(out, &st, size - size % sizeof(uint64_t));
}

const char *ringo_strerror(int err)
{
    if (err == RINGO_EHTTP || err == -RINGO_EHTTP)
        return "Request answered with an HTTP error (ringo_fail)";
    if (err == RINGO_EVALIDATION || err == -RINGO_EVALIDATION)
        return "Request parameters failed validation (422)";
    if (err == RINGO_EIOURING || err == -RINGO_EIOURING)
        return "io_uring is unavailable (refused by the kernel, a sysctl or a seccomp filter)";
    if (err < 0)
        err = -err;
    return strerror(err);
}
