/*
 * ringo/deps.h - dependencies: FastAPI's Depends() for C.
 *
 * A dependency computes a value for a request. It has a mode (RINGO_SYNC:
 * runs on the pool and may block; RINGO_ASYNC: runs on the ring inside the
 * request's coroutine and may await), may need other dependencies (by
 * name), and may have a teardown that runs after the response has been
 * queued, in reverse order of the dependencies that ran (FastAPI's `yield`
 * dependencies). Routes, route groups and the app declare what they need;
 * ringo_app_start() resolves every graph once: an unknown name or a cycle
 * fails startup (-ENOENT, -ELOOP) with a message naming it. Per request
 * each dependency runs at most once, however many dependants it has, unless
 * it opts out (no_cache). Consecutive sync dependencies run in one pool
 * hop, and a sync handler after them in the same hop.
 */
#ifndef RINGO_DEPS_H
#define RINGO_DEPS_H

#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ringo_dep ringo_dep;
struct ringo_security; /* ringo/openapi.h */

/*
 * Computes the dependency's value into *value (usually memory from
 * ringo_req_alloc(); the pointer is what dependants and the handler get).
 * Returns 0, or fails the request: ringo_fail() (an HTTP status for the
 * client, ringo/response.h), RINGO_EVALIDATION after a ringo_param_*()
 * error (422), or any other negative value (500).
 */
typedef int (*ringo_dep_fn)(ringo_req *req, void **value, void *udata);

/* Runs after the response was queued, with the value the dependency produced. */
typedef void (*ringo_dep_teardown_fn)(ringo_req *req, void *value, void *udata);

typedef struct ringo_dep_opts {
    ringo_mode mode;                /* RINGO_SYNC (default, pool) or RINGO_ASYNC (ring) */
    const char *const *needs;       /* names of dependencies it needs, NULL-terminated */
    ringo_dep_teardown_fn teardown; /* optional; runs in the dependency's mode */
    const char *type;               /* type name of the value, checked by RINGO_DEP() */
    int no_cache;                   /* 1: run once per dependant, not once per request */
    /* OpenAPI: the credential it checks (ringo/openapi.h), borrowed until ringo_app_free();
       NULL: none */
    const struct ringo_security *security;
    uint64_t reserved[3]; /* zero: room for later options (ringo/app.h, ABI) */
} ringo_dep_opts;

/*
 * Registers a dependency called name (copied; unique per app) and stores its
 * handle in *out (NULL on failure; out is required, as for every
 * constructor). opts (NULL: sync, no needs, no teardown, untyped, cached) is
 * copied, its names and type too (opts->security is borrowed). The handle is
 * owned by the app and valid until ringo_app_free(). Returns 0, -EINVAL (out,
 * app, name or fn NULL, nonzero opts->reserved, or a security scheme without
 * name or kind, or with nonzero reserved), -EEXIST (duplicate name), -EBUSY (after start) or
 * -ENOMEM.
 */
RINGO_API int ringo_dep_new(ringo_dep **out, ringo_app *app, const char *name, ringo_dep_fn fn,
                            void *udata, const ringo_dep_opts *opts);

/*
 * The value dep produced for this request (NULL if it has not run). When
 * type is not NULL it must equal the dependency's declared type, else NULL
 * (and a message on stderr): RINGO_DEP(req, dep, struct db) checks the C type.
 */
RINGO_API void *ringo_dep_value(ringo_req *req, const ringo_dep *dep, const char *type);

/*
 * Dependencies every route of the app needs (names, NULL-terminated, copied;
 * replaces an earlier list). Returns 0, -EBUSY (after start) or -ENOMEM.
 */
RINGO_API int ringo_app_needs(ringo_app *app, const char *const *names);

/* Macros. */

#define RINGO_DEP(req, dep, T) ((T *)ringo_dep_value((req), (dep), #T))

#ifdef __cplusplus
}
#endif
#endif
