/*
 * ringo/health.h - readiness and liveness routes for load balancers,
 * Kubernetes probes and systemd.
 *
 * Readiness says whether this instance should get new traffic: it fails
 * from the stop request on (for the whole ringo_config.shutdown_delay_ms, so
 * load balancers take the instance out before it stops accepting) and while
 * the sync pool's queue is saturated (ringo_config.ready_max_queue).
 * Liveness says whether the process makes progress: it fails while a handler
 * holds a ring longer than ringo_config.live_stall_ms (the stall watchdog's
 * view), naming the ring and the handler; restarting is the cure for that,
 * not for a busy pool.
 *
 * Both answer GET (and HEAD) on the ring thread, whatever the app's
 * defaults: no app-wide dependency and no middleware runs for them, they
 * never wait behind the pool, and the OpenAPI document leaves them out. The
 * body is one line of text/plain saying why; Cache-Control: no-store.
 */
#ifndef RINGO_HEALTH_H
#define RINGO_HEALTH_H

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Registers GET path (copied) as the readiness route: 200 "ready" while the
 * app serves; 503 "stopping" from the stop request on (ringo_app_stop(),
 * SIGTERM, SIGINT); 503 "pool queue saturated" while ready_max_queue sync
 * jobs or more wait for a worker. Returns 0, -EINVAL (app or path NULL, path
 * not starting with '/'), -EEXIST (GET path is registered already), -EBUSY
 * (after start) or -ENOMEM.
 */
RINGO_API int ringo_app_readiness(ringo_app *app, const char *path);

/*
 * Registers GET path (copied) as the liveness route: 200 "live" while every
 * ring makes progress; 503 "ring N stalled: handler 'GET /x' has held it for
 * T ms" while one handler has held a ring for live_stall_ms or more (0: never
 * fails). A ring that stalled cannot answer itself: the probe then reaches
 * another ring, or times out, which a probe counts as a failure too. Same
 * returns as ringo_app_readiness().
 */
RINGO_API int ringo_app_liveness(ringo_app *app, const char *path);

#ifdef __cplusplus
}
#endif
#endif
