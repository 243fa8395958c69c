/*
 * ringo/deps.h - dependencies, background tasks, middleware, error handlers,
 * lifespan hooks: FastAPI's Depends(), BackgroundTasks, middleware,
 * exception handlers and lifespan, for C.
 *
 * Dependencies. A dependency computes a value for a request. It has a mode
 * (RINGO_SYNC: runs on the pool and may block; RINGO_ASYNC: runs on the
 * ring inside the request's coroutine and may await), may need other
 * dependencies (by name), and may have a teardown that runs after the
 * response has been queued, in reverse order of the dependencies that ran
 * (FastAPI's `yield` dependencies). Routes, route groups and the app declare
 * what they need; ringo_app_start() resolves every graph once: an unknown
 * name or a cycle fails startup (-ENOENT, -ELOOP) with a message naming it.
 * Per request each dependency runs at most once, however many dependants it
 * has, unless it opts out (no_cache). Consecutive sync dependencies run in
 * one pool hop, and a sync handler after them in the same hop.
 */
#ifndef RINGO_DEPS_H
#define RINGO_DEPS_H

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ringo_dep ringo_dep;

/*
 * Computes the dependency's value into *value (usually memory from
 * ringo_req_alloc(); the pointer is what dependants and the handler get).
 * Returns 0, or fails the request: ringo_fail() (an HTTP status for the
 * client), or any other negative value (500).
 */
typedef int (*ringo_dep_fn)(ringo_req *req, void **value, void *udata);

/* Runs after the response was queued, with the value the dependency produced. */
typedef void (*ringo_dep_teardown_fn)(ringo_req *req, void *value, void *udata);

typedef struct ringo_dep_opts {
    ringo_mode mode;            /* RINGO_SYNC (default, pool) or RINGO_ASYNC (ring) */
    const char *const *needs;   /* names of dependencies it needs, NULL-terminated */
    ringo_dep_teardown_fn teardown; /* optional; runs in the dependency's mode */
    const char *type;           /* type name of the value, checked by RINGO_DEP() */
    int no_cache;               /* 1: run once per dependant, not once per request */
} ringo_dep_opts;

/*
 * Registers a dependency called name (copied; unique per app). Returns the
 * handle (owned by the app, valid until ringo_app_free()) or NULL: NULL
 * arguments, a duplicate name, after start, or out of memory.
 */
RINGO_API ringo_dep *ringo_dep_new(ringo_app *app, const char *name, ringo_dep_fn fn, void *udata,
                                   const ringo_dep_opts *opts);

/*
 * The value dep produced for this request (NULL if it has not run). When
 * type is not NULL it must equal the dependency's declared type, else NULL
 * (and a message on stderr): RINGO_DEP(req, dep, struct db) checks the C type.
 */
RINGO_API void *ringo_dep_value(ringo_req *req, const ringo_dep *dep, const char *type);
#define RINGO_DEP(req, dep, T) ((T *)ringo_dep_value((req), (dep), #T))

/* Dependencies every route of the app needs (names, NULL-terminated). 0 or -errno. */
RINGO_API int ringo_app_needs(ringo_app *app, const char *const *names);

/*
 * Fails the request from a dependency or handler: the response gets status
 * and a FastAPI-shaped JSON body {"detail": detail} (detail may be NULL: the
 * status' reason). Headers set before (e.g. WWW-Authenticate) stay. The
 * handler and the dependencies not yet run are skipped; teardowns of those
 * that ran still run. Returns -ECANCELED for the caller to return.
 */
RINGO_API int ringo_fail(ringo_req *req, int status, const char *detail);

/*
 * Route groups: a path prefix and dependencies shared by their routes.
 * The group is owned by the app. NULL on bad arguments or no memory.
 */
typedef struct ringo_group ringo_group;
RINGO_API ringo_group *ringo_group_new(ringo_app *app, const char *prefix,
                                       const char *const *needs);
RINGO_API int ringo_group_route(ringo_group *g, const char *method, const char *pattern,
                                ringo_mode mode, ringo_handler_fn fn, void *udata,
                                const ringo_route_opts *opts);

/*
 * Background tasks: fn(req, arg) runs after the response has been queued,
 * on the pool (RINGO_SYNC) or on the ring (RINGO_ASYNC, may await), in the
 * order scheduled. The request (and arg, if it lives in the request arena)
 * stays valid until every task finished. A negative return is logged, never
 * sent to the client. Returns 0, -EINVAL (fn NULL) or -ENOMEM.
 */
typedef int (*ringo_background_fn)(ringo_req *req, void *arg);
RINGO_API int ringo_background(ringo_req *req, ringo_mode mode, ringo_background_fn fn, void *arg);

/*
 * Middleware wraps every route like an onion: before() parts run on the
 * ring in registration order before dependencies and handler, after() parts
 * in reverse order once the response is set. before() returns 0 to go on,
 * RINGO_RESPOND to answer with the response it set (short-circuit: later
 * befores, dependencies and the handler are skipped; the afters of those
 * whose before ran still run), or a negative value (500). Both must not
 * block (they run on the ring). Returns 0, -EBUSY after start, -ENOMEM.
 */
#define RINGO_RESPOND 1
typedef struct ringo_middleware {
    int (*before)(ringo_req *req, void *udata);
    void (*after)(ringo_req *req, void *udata);
    void *udata;
} ringo_middleware;
RINGO_API int ringo_app_add_middleware(ringo_app *app, const ringo_middleware *mw);

/*
 * Error handlers shape ringo's own error answers (404, 405, 422, 500,
 * ringo_fail()) for a status (0: every status >= 400 without a handler of
 * its own). fn sets the body (and headers) with ringo/response.h; detail is
 * ringo's text for it. Protocol errors that close the connection (400 for
 * bad framing, 408, 413, 414, 431, 505) are not routed here. Runs on the
 * ring. Returns 0, -EBUSY after start, -ENOMEM.
 */
typedef void (*ringo_error_handler_fn)(ringo_req *req, int status, const char *detail, void *udata);
RINGO_API int ringo_app_set_error_handler(ringo_app *app, int status, ringo_error_handler_fn fn, void *udata);

/*
 * Lifespan: startup hooks run in ringo_app_start() before anything listens,
 * in registration order; a negative return fails the start (the hook's name
 * and error are printed, nothing listens, no shutdown hook runs). Shutdown
 * hooks run in ringo_app_wait() after the last ring stopped, in reverse
 * registration order.
 */
typedef int (*ringo_lifespan_fn)(ringo_app *app, void *udata);
RINGO_API int ringo_app_on_startup(ringo_app *app, const char *name, ringo_lifespan_fn fn,
                                   void *udata);
RINGO_API int ringo_app_on_shutdown(ringo_app *app, const char *name, ringo_lifespan_fn fn,
                                    void *udata);

/* A per-request slot for application state (FastAPI's request.state). */
RINGO_API void **ringo_req_state(ringo_req *req);

#ifdef __cplusplus
}
#endif
#endif
