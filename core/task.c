/*
 * core/task.c - coroutines driven by the ring's CQEs, see task.h.
 */
#include <errno.h>

#include "core/ring_impl.h"
#include "core/task.h"

#define STACKS_CACHED 256 /* idle stacks kept per ring */

typedef struct await_op {
    ringo__completion comp;
    ringo__fiber *task;
    int32_t res;
    bool done;
    bool more; /* a CQE with IORING_CQE_F_MORE came: res is kept, the op goes on */
    struct __kernel_timespec ts; /* linked timeout; read by the kernel at submit */
} await_op;

static _Thread_local ringo__fiber *current_task;

ringo__fiber *ringo__fiber_current(void) { return current_task; }

int ringo__fibers_ring_init(ringo__ring *r)
{
    int ret = ringo__stack_pool_init(&r->stacks, r->srv->cfg.stack_size, STACKS_CACHED);

    if (ret < 0)
        return ret;
    r->live_tasks = NULL;
    r->cancel_tasks = false;
    r->spare_co = NULL;
    return ringo__coro_thread_init();
}

static void live_add(ringo__ring *r, ringo__fiber *t)
{
    t->live_prev = NULL;
    t->live_next = r->live_tasks;
    if (r->live_tasks)
        r->live_tasks->live_prev = t;
    r->live_tasks = t;
}

static void live_remove(ringo__ring *r, ringo__fiber *t)
{
    if (t->live_prev)
        t->live_prev->live_next = t->live_next;
    else
        r->live_tasks = t->live_next;
    if (t->live_next)
        t->live_next->live_prev = t->live_prev;
}

void ringo__fibers_cancel_all(ringo__ring *r)
{
    r->cancel_tasks = true;
    /* Cancelling only submits ASYNC_CANCEL: nothing resumes, the list holds still. */
    for (ringo__fiber *t = r->live_tasks; t; t = t->live_next)
        ringo__fiber_cancel(t);
}

bool ringo__fibers_cancelling(const ringo__ring *r) { return r->cancel_tasks; }

void ringo__fibers_ring_exit(ringo__ring *r)
{
    ringo__coro_free(r->spare_co);
    r->spare_co = NULL;
    ringo__stack_pool_destroy(&r->stacks);
    ringo__coro_thread_exit();
}

static void trampoline(void *arg)
{
    ringo__fiber *t = arg;

    t->body(t);
}

/* Runs t until it suspends or returns; returns 1 when it returned. */
static int step(ringo__fiber *t)
{
    ringo__ring *r = t->ring;
    int done;

    /* The watchdog thread reads these stamps to spot a handler hogging the ring. */
    atomic_store_explicit(&r->wd_since, ringo__coarse_ms(), memory_order_relaxed);
    atomic_store_explicit(&r->wd_label, t->label, memory_order_release);
    current_task = t;
    done = ringo__coro_resume(t->co);
    current_task = NULL;
    atomic_store_explicit(&r->wd_label, NULL, memory_order_relaxed);
    if (done != 1)
        return 0;
    live_remove(r, t);
    /*
     * Most async handlers finish without awaiting: keep their coroutine for the
     * next task instead of handing the stack back to the pool and taking it out
     * again (a stack is only ever reused once its coroutine has finished).
     */
    if (r->spare_co)
        ringo__coro_free(r->spare_co);
    r->spare_co = t->co;
    t->co = NULL;
    atomic_fetch_sub_explicit(&r->stats.stacks_live, 1, memory_order_relaxed);
    return 1;
}

int ringo__fiber_start(ringo__fiber *t, ringo__ring *r)
{
    int ret;

    t->ring = r;
    t->waiting = NULL;
    t->cancelled = r->cancel_tasks; /* past the drain timeout: awaits return -ECANCELED */
    if (r->spare_co &&
        ringo__coro_stack_size(r->spare_co) == ringo__stack_pool_round(&r->stacks, t->stack_size) &&
        ringo__coro_reuse(r->spare_co, trampoline, t, t->label) == 0) {
        t->co = r->spare_co;
        r->spare_co = NULL;
    } else {
        ret = ringo__coro_create(&t->co, &r->stacks, t->stack_size, trampoline, t, t->label);
        if (ret < 0)
            return ret;
    }
    live_add(r, t);
    atomic_fetch_add_explicit(&r->stats.stacks_live, 1, memory_order_relaxed);
    return step(t);
}

static void await_complete(ringo__completion *c, int32_t res, uint32_t flags)
{
    await_op *a = (await_op *)c;
    ringo__fiber *t = a->task;

    /*
     * An op may post several CQEs (send_zc: the result, then the notification
     * that the buffer is free again): the first one's res is the answer, the
     * last one (no F_MORE) resumes the task; nothing touches a after that.
     */
    if (!a->more)
        a->res = res;
    if (flags & IORING_CQE_F_MORE) {
        a->more = true;
        return;
    }
    a->done = true;
    if (step(t))
        t->on_done(t);
}

void ringo__fiber_cancel(ringo__fiber *t)
{
    struct io_uring_sqe *sqe;

    if (t->cancelled || !t->co)
        return;
    t->cancelled = true;
    atomic_fetch_add_explicit(&t->ring->stats.cancels, 1, memory_order_relaxed);
    if (t->parked) {
        ringo__fiber_wake(t); /* nothing in the kernel to cancel */
        return;
    }
    if (!t->waiting)
        return;
    sqe = ringo__ring_sqe(t->ring);
    io_uring_prep_cancel64(sqe, ringo__ptr_data(t->waiting), 0);
    io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
}

int ringo__await(struct io_uring_sqe *sqe, uint64_t timeout_ms)
{
    ringo__fiber *t = current_task;
    await_op a = {.comp = {await_complete}, .task = t};
    bool nop = t->cancelled;

    if (nop) {
        /* The SQE is already taken: make it a no-op and wait for it. */
        io_uring_prep_nop(sqe);
        timeout_ms = 0;
    }
    io_uring_sqe_set_data64(sqe, ringo__ptr_data(&a.comp));
    if (timeout_ms) {
        struct io_uring_sqe *lt;
        a.ts.tv_sec = (long long)(timeout_ms / 1000);
        a.ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
        sqe->flags |= IOSQE_IO_LINK;
        lt = ringo__ring_sqe(t->ring);
        io_uring_prep_link_timeout(lt, &a.ts, 0);
        io_uring_sqe_set_data64(lt, RINGO__OP_NONE);
    }
    t->waiting = &a.comp;
    /* Resumed only by this op's CQE: nothing else knows &a. */
    while (!a.done)
        ringo__coro_yield();
    t->waiting = NULL;
    t->last_res = nop ? -ECANCELED : a.res; /* a no-op's 0 is not a descriptor */
    if (t->cancelled)
        return -ECANCELED;
    if (timeout_ms && a.res == -ECANCELED)
        return -ETIMEDOUT;
    return a.res;
}

int ringo__fiber_park(void)
{
    ringo__fiber *t = current_task;
    await_op a = {.comp = {await_complete}, .task = t};

    if (t->cancelled)
        return -ECANCELED;
    t->waiting = &a.comp;
    t->parked = true;
    t->wake_posted = false;
    while (!a.done)
        ringo__coro_yield();
    t->parked = false;
    t->waiting = NULL;
    return t->cancelled ? -ECANCELED : 0;
}

void ringo__fiber_wake(ringo__fiber *t)
{
    struct io_uring_sqe *sqe;

    if (!t->parked || t->wake_posted)
        return;
    t->wake_posted = true;
    sqe = ringo__ring_sqe(t->ring);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, ringo__ptr_data(t->waiting));
}
