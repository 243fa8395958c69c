/*
 * ringo/background.h - work that runs after the response has been sent:
 * FastAPI's BackgroundTasks for C.
 */
#ifndef RINGO_BACKGROUND_H
#define RINGO_BACKGROUND_H

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A background task. Runs with the request still valid (its arena, headers
 * and the dependency values). A negative return is logged with the route,
 * never sent to the client (the response is gone).
 */
typedef int (*ringo_background_fn)(ringo_req *req, void *arg);

/*
 * Schedules fn(req, arg) to run after the response has been queued, on the
 * pool (RINGO_SYNC, may block) or on the ring (RINGO_ASYNC, may await), in
 * the order scheduled. The request (and arg, if it lives in the request
 * arena) stays valid until every task finished; arg is the caller's. A call
 * that fails schedules nothing. Returns 0, -EINVAL (fn NULL) or -ENOMEM.
 */
RINGO_API int ringo_background(ringo_req *req, ringo_mode mode, ringo_background_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
