/*
 * http/app_impl.h - the app and what is registered on it before start:
 * routes, dependencies, route groups, error handlers, lifespan hooks.
 */
#ifndef RINGO_HTTP_APP_IMPL_H
#define RINGO_HTTP_APP_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "core/server.h"
#include "pool/pool.h"
#include "http/router.h"
#include "http/test_hooks.h"
#include "ringo.h"

struct ringo_dep {
    char *name;
    ringo_dep_fn fn;
    void *udata;
    ringo_mode mode;
    ringo_dep_teardown_fn teardown;
    char *type;
    bool no_cache;
    const ringo_security *security; /* OpenAPI (borrowed), or NULL */
    char **needs;                   /* names, resolved at start into deps */
    unsigned nneeds;
    struct ringo_dep **deps;
    unsigned index; /* slot of its value in a request */
    uint8_t mark;   /* graph walk: 0 new, 1 on the path, 2 done */
};

struct ringo_group {
    struct ringo_app *app;
    char *prefix;
    char **needs;
    unsigned nneeds;
};

typedef struct ringo__hook {
    char *name;
    ringo_lifespan_fn fn;
    void *udata;
} ringo__hook;

typedef struct ringo__err_handler {
    int status;
    ringo_error_handler_fn fn;
    void *udata;
} ringo__err_handler;

typedef struct ringo__route {
    char *method;
    char *pattern;
    char *label; /* "GET /users/{id}" for logs */
    ringo_route_opts opts;
    char **needs; /* own names (copied) */
    unsigned nneeds;
    struct ringo_group *group;
    struct ringo_dep **plan; /* dependencies in execution order, resolved at start */
    unsigned nplan;
    ringo_mode mode;
    ringo_handler_fn fn;
    void *udata;
    struct ringo__ws_route *ws; /* a WebSocket endpoint (ringo_ws_route): its settings */
    bool probe; /* readiness/liveness (http/health.c): no app-wide deps, no middleware */
    ringo_route_limits limits; /* opts.limits points here when set */
    /* Admission and memory (http/exec.c), over all rings: relaxed atomics. */
    _Atomic uint32_t inflight; /* requests in progress holding a slot */
    _Atomic uint32_t limit;    /* the concurrency limit now (adaptive: moves) */
    _Atomic uint32_t fast; /* adaptive: requests under the latency target since the last raise */
    _Atomic uint64_t rejected, mem_requests, mem_total, mem_max, mem_rejected;
    unsigned obs_label; /* its metrics route label (http/metrics.c) */
} ringo__route;

struct ringo_app {
    ringo__server srv;
    ringo__router *router;
    ringo__pool *pool;      /* RINGO_SYNC handlers run here */
    ringo__pool *crit_pool; /* those of RINGO_ROUTE_CRITICAL routes; NULL: none */
    struct ringo_dep **deps;
    unsigned ndeps, deps_cap;
    char **needs; /* app-wide dependencies */
    unsigned nneeds;
    struct ringo_group **groups;
    unsigned ngroups;
    ringo_middleware *mws;
    unsigned nmws;
    ringo__err_handler *errh;
    unsigned nerrh;
    ringo__hook *startup, *shutdown, *reload;
    unsigned nstartup, nshutdown, nreload, started_hooks;
    ringo__route **routes;
    unsigned nroutes, routes_cap;
    bool started;
    /* Background tasks scheduled and not finished (bounded by max_post_inflight),
     * and those dropped at shutdown: touched once per background task only. */
    _Atomic uint32_t bg_live;
    _Atomic uint64_t bg_dropped;
    _Atomic uint64_t teardowns_dropped;  /* shutdown: not started by the teardown timeout */
    struct ringo__static_mount *statics; /* ringo_static() mounts (http/static.c) */
    ringo__test_hooks test_hooks;
    struct ringo_ws_group *ws_groups; /* ringo_ws_group_new(): freed with the app */
    struct ringo__zopts *zopts;       /* compression options (http/compress.c), or NULL */
    bool zall;                        /* ringo_app_compress(): every route but those opting out */
    struct ringo__openapi *openapi;   /* ringo_app_openapi() (http/openapi.c), or NULL */
    struct ringo__schemas *schemas;   /* declared routes' compiled patterns (http/schema.c) */
    struct ringo__obs *obs;           /* metrics, access log, request IDs (http/observe_impl.h) */
};

/* ringo_config.max_post_inflight when 0: background tasks in flight per app. */
#define RINGO__DEFAULT_MAX_POST_INFLIGHT 1024u
/* ringo_config.teardown_timeout_ms when 0. */
#define RINGO__DEFAULT_TEARDOWN_TIMEOUT_MS 5000u
/* ringo_config.critical_pool_threads when 0. */
#define RINGO__DEFAULT_CRITICAL_THREADS 2u
/* ringo_config.stream_window when 0. */
#define RINGO__DEFAULT_STREAM_WINDOW 65536u
/* ringo_config.tls_max_handshakes when 0. */
#define RINGO__DEFAULT_TLS_MAX_HANDSHAKES 128u

/* True when the n words are zero: the option structs' reserved space (ringo/app.h, ABI). */
bool ringo__reserved_zero(const uint64_t *words, size_t n);
#define RINGO__RESERVED_ZERO(arr) ringo__reserved_zero((arr), sizeof(arr) / sizeof((arr)[0]))

#endif
