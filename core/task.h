/*
 * core/task.h - a unit of async work on a ring: a coroutine plus its await.
 *
 * A task runs body() in a coroutine on the current ring thread. Inside it,
 * ringo__await() submits an SQE and suspends until that SQE's CQE arrives;
 * the ring resumes the coroutine from its CQE loop. When body returns, the
 * ring calls on_done() on its own stack, where the owner may free the task.
 *
 * Cancellation: ringo__fiber_cancel() cancels the SQE the task waits on
 * (IORING_OP_ASYNC_CANCEL) and makes this and every later await of the task
 * return -ECANCELED. The await still waits for its op's own CQE first, so no
 * memory an in-flight SQE points to is ever released early.
 */
#ifndef RINGO_CORE_TASK_H
#define RINGO_CORE_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/coro.h"
#include "core/ring.h"

typedef struct ringo__fiber ringo__fiber;

struct ringo__fiber {
    void (*body)(ringo__fiber *t);    /* runs in the coroutine */
    void (*on_done)(ringo__fiber *t); /* ring stack, after body returned */
    void *data;                       /* owner's */
    const char *label;                /* route pattern, for logs and overflow */
    size_t stack_size;                /* 0: the ring's default */
    uint64_t call_timeout_ms;         /* ringo_await_timeout() */
    int32_t last_res;                 /* the last awaited CQE's res, even when cancelled */
    /* Private. */
    ringo__ring *ring;
    ringo__coro *co;
    ringo__completion *waiting;          /* the op this task is suspended on */
    bool parked;                         /* suspended in ringo__fiber_park() */
    bool wake_posted;                    /* its wake-up CQE is on the way */
    ringo__fiber *live_prev, *live_next; /* the ring's live tasks */
    bool cancelled;
};

/*
 * Starts t on ring r: creates its coroutine and runs body until it first
 * suspends. Returns 1 when body already returned (on_done is NOT called:
 * the caller continues inline, the cheap path of handlers that never
 * await), 0 when suspended (on_done will be called later from the ring), or
 * -ENOMEM when no stack could be had (nothing ran).
 */
int ringo__fiber_start(ringo__fiber *t, ringo__ring *r);

/* See the header comment. Idempotent; a no-op once body returned. */
void ringo__fiber_cancel(ringo__fiber *t);

/*
 * Shutdown past the drain timeout (ring thread): cancels every live task of
 * this ring (handlers, dependencies, background tasks alike: their awaits
 * return -ECANCELED), and tasks started from now on begin cancelled.
 */
void ringo__fibers_cancel_all(ringo__ring *r);

/* True once ringo__fibers_cancel_all() ran on ring r. */
bool ringo__fibers_cancelling(const ringo__ring *r);

/* The task running on this thread, NULL outside task coroutines. */
ringo__fiber *ringo__fiber_current(void);

/*
 * Inside a task: submits sqe (taken with ringo__ring_sqe() from this ring,
 * prepared, user_data not set) and suspends until its last CQE (the first
 * without IORING_CQE_F_MORE); returns the first CQE's res. With timeout_ms > 0
 * a linked timeout bounds it (-ETIMEDOUT): sqe must then have been taken with
 * ringo__ring_sqes(r, 2). Returns -ECANCELED once the task is cancelled.
 */
int ringo__await(struct io_uring_sqe *sqe, uint64_t timeout_ms);

/*
 * Inside a task: suspends until ringo__fiber_wake(t) (or a cancel) resumes
 * it; no I/O of its own. For waits on events the ring itself sees (a send
 * making room in a stream's window). Returns 0, or -ECANCELED once the task
 * is cancelled.
 */
int ringo__fiber_park(void);

/*
 * Ring context: resumes a parked task from the ring's CQE loop (a NOP CQE),
 * never from inside the caller, so the caller's state stays its own. A no-op
 * when t is not parked or its wake-up is already on the way.
 */
void ringo__fiber_wake(ringo__fiber *t);

/* Per-ring setup of coroutine support: stack pool and signal stack. */
int ringo__fibers_ring_init(ringo__ring *r);
void ringo__fibers_ring_exit(ringo__ring *r);

#endif
