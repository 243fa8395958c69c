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
    ringo__completion *waiting; /* the op this task is suspended on */
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

/* The task running on this thread, NULL outside task coroutines. */
ringo__fiber *ringo__fiber_current(void);

/*
 * Inside a task: submits sqe (taken with ringo__ring_sqe() from this ring,
 * prepared, user_data not set) and suspends until its CQE; returns the CQE's
 * res. With timeout_ms > 0 a linked timeout bounds it (-ETIMEDOUT). Returns
 * -ECANCELED once the task is cancelled.
 */
int ringo__await(struct io_uring_sqe *sqe, uint64_t timeout_ms);

/* Per-ring setup of coroutine support: stack pool and signal stack. */
int ringo__fibers_ring_init(ringo__ring *r);
void ringo__fibers_ring_exit(ringo__ring *r);

#endif
