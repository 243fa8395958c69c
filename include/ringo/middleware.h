/*
 * ringo/middleware.h - code that wraps every route, like an onion.
 *
 * before() parts run on the ring in registration order before the
 * dependencies and the handler, after() parts in reverse order once the
 * response is set. Both run on the ring: they must not block.
 */
#ifndef RINGO_MIDDLEWARE_H
#define RINGO_MIDDLEWARE_H

#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* before()'s return that answers with the response it set (short-circuit). */
#define RINGO_RESPOND 1

/*
 * before() returns 0 to go on, RINGO_RESPOND to answer with the response it
 * set (later befores, the dependencies and the handler are skipped; the
 * afters of those whose before ran still run), ringo_fail()'s RINGO_EHTTP,
 * or another negative value (500). Either part may be NULL.
 */
typedef struct ringo_middleware {
    int (*before)(ringo_req *req, void *udata);
    void (*after)(ringo_req *req, void *udata);
    void *udata;
    uint64_t reserved[4]; /* zero: room for later parts (ringo/app.h, ABI) */
} ringo_middleware;

/*
 * Appends a copy of *mw to the app's middleware. Returns 0, -EINVAL (mw NULL
 * or nonzero mw->reserved), -EBUSY after start, -ENOMEM.
 */
RINGO_API int ringo_app_add_middleware(ringo_app *app, const ringo_middleware *mw);

#ifdef __cplusplus
}
#endif
#endif
