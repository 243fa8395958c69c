/*
 * ringo/pool.h - fork/join inside sync handlers.
 *
 * RINGO_SYNC handlers run on ringo's work-stealing thread pool. A handler
 * with CPU-bound work can split it: ringo_spawn() puts a subtask on the
 * calling worker's deque, where idle workers steal it, and ringo_join() waits
 * for it while running other subtasks meanwhile (never another request's
 * handler, which could block for seconds).
 *
 *     static void half(void *arg) { struct part *p = arg; p->sum = sum(p->lo, p->hi); }
 *
 *     ringo_subtask t;
 *     struct part a = {lo, mid}, b = {mid, hi};
 *     ringo_spawn(&t, half, &a);    // may run on another core
 *     half(&b);                     // this half runs here
 *     ringo_join(&t);               // a.sum is now visible
 *     total = a.sum + b.sum;
 *
 * Rules:
 * - The task and its argument are owned by the caller (usually on the
 *   handler's stack) and must stay valid until ringo_join() returns.
 * - Every spawned task must be joined before the function that spawned it
 *   returns (strictly nested fork/join). Join order is free.
 * - Everything the task's function wrote is visible to the caller after
 *   ringo_join(); everything the caller wrote before ringo_spawn() is
 *   visible to the task.
 * - Subtasks should compute, not block: a blocked subtask holds a worker that
 *   other requests' handlers are waiting for.
 * - Outside a pool worker (a ring thread, main, a thread of your own),
 *   ringo_spawn() runs the function inline, before returning, and
 *   ringo_join() returns at once: code using fork/join works anywhere, just
 *   serially.
 */
#ifndef RINGO_POOL_H
#define RINGO_POOL_H

#include <stdint.h>

#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ringo_subtask_fn)(void *arg);

/* A subtask. A value type so it can live on the stack; its fields are
 * private (state_ is accessed atomically by the pool). */
typedef struct ringo_subtask {
    ringo_subtask_fn fn;
    void *arg;
    uint32_t state_;
} ringo_subtask;

/*
 * Schedules fn(arg) as a subtask of the calling pool job and returns without
 * waiting for it. task is (re)initialised here and must stay valid until
 * ringo_join(task) returns. Returns 0 when fn was queued (it may run on any
 * worker), 1 when it already ran inline: outside a pool worker, or when the
 * worker's deque could not grow (out of memory). Never fails.
 */
RINGO_API int ringo_spawn(ringo_subtask *task, ringo_subtask_fn fn, void *arg);

/*
 * Returns once task has finished. While waiting, the calling worker runs
 * other subtasks (its own, or stolen from other workers), then spins and
 * yields briefly, then sleeps in short slices when there are none.
 */
RINGO_API void ringo_join(ringo_subtask *task);

/*
 * Index (0-based) of the pool worker the caller runs on, or -ESRCH when the
 * calling thread is not a pool worker (e.g. an async handler on a ring
 * thread). A sync handler that may be called both ways can use it to decide
 * whether blocking is allowed.
 */
RINGO_API int ringo_pool_worker_id(void);

/* Number of workers in the calling worker's pool, or -ESRCH outside the pool:
 * a hint for how finely to split work. */
RINGO_API int ringo_pool_workers(void);

#ifdef __cplusplus
}
#endif
#endif
