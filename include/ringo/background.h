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
 * Background tasks that a request's post-response work (its teardowns and
 * background tasks) may schedule in all: a task that keeps scheduling itself
 * stops there, and the request finishes.
 */
#define RINGO_BACKGROUND_MAX_CHAINED 1024

/*
 * Schedules fn(req, arg) to run after the response has been queued, on the
 * pool (RINGO_SYNC, may block) or on the ring (RINGO_ASYNC, may await), in
 * the order scheduled. The request (and arg, if it lives in the request
 * arena) stays valid until every task finished; arg is the caller's. A call
 * that fails schedules nothing. Called from a teardown or a background task,
 * the new task runs after those already scheduled, and past
 * RINGO_BACKGROUND_MAX_CHAINED such calls on one request the call fails with
 * -ELOOP. At most
 * ringo_config.max_post_inflight background tasks per app are scheduled and
 * not finished; at shutdown, those not started by the drain timeout are
 * dropped (counted in ringo_stats.bg_dropped) and async ones still suspended
 * are cancelled. Returns 0, -EINVAL (fn NULL), -ENOMEM, -EAGAIN past
 * max_post_inflight (answer 503), or -ELOOP past RINGO_BACKGROUND_MAX_CHAINED.
 */
RINGO_API int ringo_background(ringo_req *req, ringo_mode mode, ringo_background_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
