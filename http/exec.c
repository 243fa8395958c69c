/*
 * http/exec.c - running one request: middleware, dependencies, handler, and
 * what runs after the response.
 *
 * A route's dependencies were flattened at start into a plan (execution
 * order). The plan and the handler run as a series of hops: a hop is a run
 * of consecutive steps of one mode, RINGO_ASYNC ones in a coroutine on this
 * ring, RINGO_SYNC ones in one pool job, and the handler joins the last hop
 * when its mode matches. So sync dependencies before a sync handler cost a
 * single trip to the pool. A route without dependencies is one hop: the
 * handler alone.
 *
 * A hop that finishes without suspending (an async handler that never
 * awaits) continues inline. A suspended hop leaves the request "running" on
 * its connection; its completion (the coroutine's last CQE, or the worker's
 * MSG_RING) resumes here.
 *
 * Lifetime: a request with work in flight holds `holds` (one per task or
 * job or pending deadline timer) plus one connection reference; the last
 * release frees it. After the response is queued, teardowns (reverse order)
 * and background tasks run in hops the same way, the request held until
 * they are done, while the connection goes on with its next request.
 */
#include <errno.h>
#include <stdio.h>

#include "core/util.h"
#include "http/http_impl.h"
#include "http/observe_impl.h"
#include "http/ws/ws_impl.h"
#include "http/schema_impl.h"

static ringo__sess *sess(ringo__conn *c) { return ringo__conn_state(c); }

static void advance(ringo_req *r);
static void post_advance(ringo_req *r);

ringo__exec *ringo__exec_of(ringo_req *r)
{
    ringo_app *app;

    if (r->x)
        return r->x;
    app = sess(r->conn)->app;
    r->x = ringo__arena_alloc(&r->arena, sizeof(*r->x));
    if (!r->x)
        return NULL;
    memset(r->x, 0, sizeof(*r->x));
    if (app->ndeps) {
        r->x->values = ringo__arena_alloc(&r->arena, app->ndeps * sizeof(void *));
        if (!r->x->values)
            return r->x = NULL;
        memset(r->x->values, 0, app->ndeps * sizeof(void *));
    }
    return r->x;
}

/* Routing, done when the head is in (the route decides how its body is read). */
static int route(ringo__sess *s, ringo_req *r)
{
    int ret;

    if (ringo__url_split(r->target, &r->path, &r->query) < 0)
        return 400;
    if (r->path.len == 1 && r->path.ptr[0] == '*')
        return r->method.len == 7 && memcmp(r->method.ptr, "OPTIONS", 7) == 0 ? 204 : 400;
    r->match = ringo__arena_alloc(&r->arena, sizeof(*r->match));
    if (!r->match)
        return 503;
    ret = ringo__router_match(s->app->router, r->method, r->path, &r->arena, r->match);
    if (ret == 0) {
        r->route = r->match->route;
        return 0;
    }
    if (ret == -EPERM) {
        ringo_resp_add_header(r, "Allow", (ringo_str){r->match->allow, r->match->allow_len});
        return 405;
    }
    return ret == -ENOENT ? 404 : ret == -EINVAL ? 400 : 503;
}

void ringo__exec_route(ringo__sess *s, ringo_req *r)
{
    r->route_status = (int16_t)route(s, r);
    /* The memory bound holds from here: the route's, else the app's. */
    if (r->route && r->route->limits.max_request_memory)
        r->arena.limit = r->route->limits.max_request_memory;
    else
        r->arena.limit = s->cfg->max_request_memory;
    if (s->app->obs)
        ringo__obs_head(s, r);
}

/* ---- admission at the edge: the ring's bound, the route's concurrency limit ---- */

enum { SLOT_RING = 1, SLOT_ROUTE = 2 };

static ringo__route *mut_route(ringo_req *r) { return (ringo__route *)(uintptr_t)r->route; }

/* The ring's counter has one writer (its thread): no read-modify-write needed. */
static void ring_running_add(ringo__ring_stats *st, int64_t d)
{
    uint64_t n = atomic_load_explicit(&st->reqs_running, memory_order_relaxed);
    atomic_store_explicit(&st->reqs_running, n + (uint64_t)d, memory_order_relaxed);
}

static bool route_slot(ringo__route *rt)
{
    uint32_t lim = atomic_load_explicit(&rt->limit, memory_order_relaxed);

    if (!lim)
        return true;
    if (atomic_fetch_add_explicit(&rt->inflight, 1, memory_order_relaxed) < lim)
        return true;
    atomic_fetch_sub_explicit(&rt->inflight, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rt->rejected, 1, memory_order_relaxed);
    return false;
}

/*
 * A request takes its slots before anything of it runs; without one it is
 * answered 503 + Retry-After at once, on its ring, and keeps its connection.
 * Critical routes take none: they never wait behind other work.
 */
static bool admit(ringo__sess *s, ringo_req *r)
{
    ringo__ring_stats *st = ringo__ring_stats_of(ringo__conn_ring(r->conn));
    uint32_t max = s->cfg->max_ring_inflight;

    if (r->route->opts.flags & RINGO_ROUTE_CRITICAL)
        return true;
    if (max && atomic_load_explicit(&st->reqs_running, memory_order_relaxed) >= max) {
        atomic_fetch_add_explicit(&st->ring_rejected, 1, memory_order_relaxed);
        return false;
    }
    if (!route_slot(mut_route(r)))
        return false;
    r->slots = SLOT_ROUTE;
    if (max) {
        ring_running_add(st, 1);
        r->slots |= SLOT_RING;
    }
    return true;
}

/* AIMD on the request's latency: a slow one cuts the limit by a tenth, a
 * limit's worth of fast ones raises it by one (races only blur the steps). */
static void adapt(ringo__route *rt, uint64_t ms)
{
    uint32_t lim = atomic_load_explicit(&rt->limit, memory_order_relaxed);

    if (ms > rt->limits.latency_target_ms) {
        uint32_t cut = lim > 10 ? lim - lim / 10 : lim - 1;
        atomic_store_explicit(&rt->limit, cut ? cut : 1, memory_order_relaxed);
        atomic_store_explicit(&rt->fast, 0, memory_order_relaxed);
    } else if (atomic_fetch_add_explicit(&rt->fast, 1, memory_order_relaxed) + 1 >= lim &&
               lim < rt->limits.max_concurrency) {
        atomic_store_explicit(&rt->fast, 0, memory_order_relaxed);
        atomic_store_explicit(&rt->limit, lim + 1, memory_order_relaxed);
    }
}

static void release_slots(ringo_req *r)
{
    ringo__route *rt = mut_route(r);

    if (r->slots & SLOT_RING)
        ring_running_add(ringo__ring_stats_of(ringo__conn_ring(r->conn)), -1);
    if ((r->slots & SLOT_ROUTE) && rt->limits.max_concurrency) {
        atomic_fetch_sub_explicit(&rt->inflight, 1, memory_order_relaxed);
        if (rt->limits.flags & RINGO_LIMIT_ADAPTIVE)
            adapt(rt, ringo__ring_now(ringo__conn_ring(r->conn)) - r->start_ms);
    }
    r->slots = 0;
}

/*
 * Per-route memory totals; a request failed on its bound says so once. A
 * request that stayed within its inline arena (most) touches no shared
 * counter: the totals cost nothing on the fast path.
 */
static void count_memory(ringo_req *r)
{
    ringo__route *rt = mut_route(r);
    uint64_t peak = r->arena.heap, max;

    if (!peak && !r->arena.over)
        return;
    atomic_fetch_add_explicit(&rt->mem_requests, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rt->mem_total, peak, memory_order_relaxed);
    max = atomic_load_explicit(&rt->mem_max, memory_order_relaxed);
    while (peak > max && !atomic_compare_exchange_weak_explicit(
                             &rt->mem_max, &max, peak, memory_order_relaxed, memory_order_relaxed))
        ;
    if (!r->arena.over)
        return;
    atomic_fetch_add_explicit(&rt->mem_rejected, 1, memory_order_relaxed);
    fprintf(stderr, "ringo: a request of '%s' went over its memory bound (%zu bytes) and failed\n",
            rt->label, r->arena.limit);
}

void ringo__exec_release(ringo_req *r)
{
    if (!r->route)
        return;
    if (r->slots)
        release_slots(r);
    count_memory(r);
}

/* A handler's or dependency's negative return without an HTTP status is a 500. */
static void failure(ringo_req *r, int ret)
{
    if (ret >= 0)
        return;
    ringo__req_fail(r);
    if (ret == RINGO_EVALIDATION && r->nerrors && ringo__params_422(r) == 0)
        return;
    if (r->status < 400 && !r->stream) {
        /* What the handler set so far described a success: drop it (unless it was sent). */
        r->status = 500;
        r->rbody = NULL;
        r->rbody_len = 0;
        r->nrhdrs = 0;
        ringo__req_ringo_error(r);
    }
}

/* ---- one hop: plan steps [hop_from, hop_to), step nplan being the handler ---- */

static int run_dep(ringo_req *r, struct ringo_dep *d)
{
    ringo__exec *x = r->x;
    void *value = NULL;
    int ret = d->fn(r, &value, d->udata);

    if (ret < 0)
        return ret;
    x->values[d->index] = value;
    if (x->nran < x->ran_cap)
        x->ran[x->nran++] = (ringo__ran){d, value};
    return 0;
}

static void hop_body(ringo_req *r)
{
    const ringo__route *rt = r->route;
    unsigned end = r->hop_to < rt->nplan ? r->hop_to : rt->nplan;

    for (unsigned i = r->hop_from; i < end && r->outcome == REQ_OK; i++)
        failure(r, run_dep(r, rt->plan[i]));
    if (r->hop_to > rt->nplan && r->outcome == REQ_OK)
        failure(r, rt->fn(r, rt->udata));
}

/* Post-response items [hop_from, hop_to): teardowns and background tasks. */
static void post_body(ringo_req *r);
static void post_body(ringo_req *r)
{
    for (unsigned i = r->hop_from; i < r->hop_to; i++) {
        ringo__post *p = &r->x->post[i];
        if (p->dep) {
            p->dep->teardown(r, p->value, p->dep->udata);
        } else {
            int ret = p->bg->fn(r, p->bg->arg);
            if (ret < 0)
                fprintf(stderr, "ringo: background task of '%s' failed: %s\n",
                        r->route ? r->route->label : "?", ringo_strerror(ret));
            ringo__bg_finished(sess(r->conn)->app, 1, false);
        }
    }
}

/* post: the hop runs post-response items (decided on the ring, when it started). */
static void body(ringo_req *r, bool post)
{
    if (post)
        post_body(r);
    else
        hop_body(r);
}

/* A held request (suspended hop, pending deadline timer) drops one hold. */
void ringo__req_release(ringo_req *r)
{
    ringo__conn *c = r->conn;
    bool post = r->phase == REQ_POST;

    if (--r->holds)
        return;
    if (post)
        ringo__req_post_done(r);
    ringo__req_free(r);
    /* The connection's memory lives until the unref below. */
    if (post)
        ringo__sess_post_done(sess(c));
    ringo__conn_unref(c);
}

void ringo__req_hold(ringo_req *r)
{
    if (r->holds++ == 0)
        ringo__conn_ref(r->conn);
}

static void cancel_deadline(ringo_req *r)
{
    struct io_uring_sqe *sqe;

    if (!r->deadline_armed)
        return;
    r->deadline_armed = false;
    sqe = ringo__ring_sqe(ringo__conn_ring(r->conn));
    io_uring_prep_timeout_remove(sqe, ringo__ptr_data(&r->deadline), 0);
    io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
}

/* A suspended hop is over (ring context): go on, or answer. */
static void hop_done(ringo_req *r)
{
    if (r->phase == REQ_POST) {
        post_advance(r);
    } else if (r->phase == REQ_DETACHED) {
        ringo__exec_responded(r); /* answered without it (504, hang-up): teardowns */
    } else {
        ringo__req_resume(r);
        advance(r);
    }
    ringo__req_release(r);
}

/* ---- async hops: a coroutine on this ring ---- */

static void async_body(ringo__fiber *t)
{
    ringo_req *r = t->data;

    if (r->phase != REQ_POST && ringo__file_pending(r))
        ringo__file_send(r); /* the file body hop (http/file.c) */
    else
        body(r, r->phase == REQ_POST);
}

static void async_done(ringo__fiber *t)
{
    ringo_req *r = t->data;

    r->task = NULL;
    hop_done(r);
}

/* Returns 1 when the hop already finished, 0 when suspended, -errno. */
static int start_async(ringo_req *r)
{
    ringo__fiber *t = ringo__arena_alloc(&r->arena, sizeof(*t));
    int ret;

    if (!t)
        return -ENOMEM;
    memset(t, 0, sizeof(*t));
    t->body = async_body;
    t->on_done = async_done;
    t->data = r;
    t->label = r->route->label;
    t->stack_size = r->route->opts.stack_size;
    r->task = t;
    ret = ringo__fiber_start(t, ringo__conn_ring(r->conn));
    if (ret != 0) {
        r->task = NULL;
        return ret;
    }
    ringo__req_hold(r);
    return 0;
}

/* ---- sync hops: a job on the pool, back through MSG_RING ---- */

/* The worker never reads the phase: the ring may detach the request meanwhile. */
static void sync_run(ringo__job *job)
{
    ringo__sync_job *j = ringo__container_of(job, ringo__sync_job, job);
    ringo_req *r = j->req;

    if (j->compress) {
        ringo__compress_resp(r); /* an async handler's large body */
        return;
    }
    if (j->submit_ns) {
        /* The ring reads these after the completion CQE (ringo__pool_job_acquire). */
        r->obs_qwait_ns += ringo__obs_now() - j->submit_ns;
        r->obs_pooled = true;
    }
    body(r, j->post);
    /* A sync handler's body is compressed here, on its worker, never on the ring. */
    if (!j->post && r->hop_to > r->route->nplan && r->outcome == REQ_OK) {
        r->z_done = true;
        ringo__compress_resp(r);
    }
}

/* Background tasks of the current post-response hop that will never run. */
static void drop_bg_hop(ringo_req *r)
{
    ringo__bg_finished(sess(r->conn)->app, r->hop_to - r->hop_from, true);
}

/* Teardowns of the current post-response hop that will never run (shutdown). */
static void drop_teardown_hop(ringo_req *r)
{
    atomic_fetch_add_explicit(&sess(r->conn)->app->teardowns_dropped, r->hop_to - r->hop_from,
                              memory_order_relaxed);
}

/* Shutdown: the pool closed (past the teardown timeout) or refuses post work. */
static void drop_post_hop(ringo_req *r)
{
    if (r->x->post[r->hop_from].dep)
        drop_teardown_hop(r);
    else
        drop_bg_hop(r);
}

static void sync_cancel(ringo__job *job)
{
    ringo__sync_job *j = ringo__container_of(job, ringo__sync_job, job);
    ringo_req *r = j->req;

    if (j->compress)
        return; /* shutdown: the body goes out as it is */
    /*
     * Shutdown passed its drain deadline before the job started. A request
     * gets 503; background tasks are dropped and counted. Teardown hops are
     * must_run: cancelled only past the teardown timeout, dropped and counted.
     */
    if (j->post) {
        drop_post_hop(r);
        return;
    }
    /* Admission dropped it before it ran (pool/pool.h): its deadline passed
     * (504, as the deadline timer answers), or it waited too long (503). */
    r->status = job->cqe_res == -ETIMEDOUT ? 504 : 503;
    ringo__req_fail(r);
    if (job->cqe_res == -EAGAIN)
        ringo_resp_add_header(r, "Retry-After", RINGO_STR_LIT("1"));
}

static void sync_complete(ringo__completion *comp, int32_t res, uint32_t flags)
{
    ringo__sync_job *j = ringo__container_of(comp, ringo__sync_job, comp);
    ringo_req *r = j->req;
    ringo__ring *ring = ringo__conn_ring(r->conn);

    (void)res;
    (void)flags;
    /* The worker wrote the response before posting; TSan cannot see the kernel order. */
    ringo__pool_job_acquire(&j->job);
    ringo__stream_job_done(r);
    ringo__body_job_done(r);
    ringo__ring_release(ring);
    atomic_fetch_sub_explicit(&ringo__ring_stats_of(ring)->jobs_live, 1, memory_order_relaxed);
    hop_done(r);
}

/* What the pool's admission needs to drop a request job that is no longer
 * worth running (pool/pool.h): its client left, or its deadline passed; and
 * the route's own queue-time bound. */
static void admission_marks(ringo_req *r, ringo__job *job)
{
    uint32_t dl = r->route->opts.deadline_ms;

    job->gone = &r->gone;
    if (dl)
        job->deadline_ns = (r->start_ms + dl) * 1000000u;
    job->max_wait_ns = (uint64_t)r->route->limits.queue_target_ms * 1000000u;
}

/*
 * Returns 0 when queued, -EAGAIN when the pool is full, -EBUSY or -ETIMEDOUT
 * when admission refuses it, -ESHUTDOWN.
 * compress: the job compresses the body instead of running steps.
 */
static int start_job(ringo_req *r, bool compress)
{
    ringo__ring *ring = ringo__conn_ring(r->conn);
    ringo__sync_job *j = ringo__arena_alloc(&r->arena, sizeof(*j));
    ringo_app *app = sess(r->conn)->app;
    bool crit = r->route && (r->route->opts.flags & RINGO_ROUTE_CRITICAL) && app->crit_pool;
    /* A critical route's own work runs on the reserved workers; what runs after
     * its response keeps the shared, bounded post-response capacity. */
    ringo__pool *pool = crit && r->phase != REQ_POST ? app->crit_pool : app->pool;
    int ret;

    if (!j)
        return -ENOMEM;
    memset(j, 0, sizeof(*j));
    j->job.run = sync_run;
    j->job.cancel = sync_cancel;
    j->job.ring_fd = ringo__ring_fd(ring);
    j->job.cqe_data = ringo__ptr_data(&j->comp);
    j->job.label = r->route ? r->route->label : NULL;
    j->comp.fn = sync_complete;
    j->req = r;
    j->post = r->phase == REQ_POST;
    j->compress = compress;
    if (!compress && !j->post && sess(r->conn)->app->obs && sess(r->conn)->app->obs->timing)
        j->submit_ns = ringo__obs_now();
    /* Teardowns release what the request holds: they run even past the drain timeout. */
    j->job.must_run = j->post && r->x->post[r->hop_from].dep;
    if (!j->post && !compress)
        admission_marks(r, &j->job);
    /* Teardowns and background tasks of an accepted request are never refused. */
    ret = j->post ? ringo__pool_submit_nolimit(pool, &j->job) : ringo__pool_submit(pool, &j->job);
    if (ret < 0)
        return ret;
    ringo__req_hold(r);
    ringo__ring_hold(ring);
    atomic_fetch_add_explicit(&ringo__ring_stats_of(ring)->jobs_live, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ringo__ring_stats_of(ring)->pool_hops, 1, memory_order_relaxed);
    return 0;
}

static int start_sync(ringo_req *r) { return start_job(r, false); }

/*
 * The handler's body is set: compress it (http/compress.c). A large body
 * from an async handler goes to the pool, where the CPU work cannot stall
 * the ring; returns 0 then (suspended), 1 when done here.
 */
static int compress_body(ringo_req *r)
{
    r->z_done = true;
    if (r->outcome != REQ_OK)
        return 1;
    if (ringo__compress_offload(r) && start_job(r, true) == 0)
        return 0;
    ringo__compress_resp(r); /* small, or the pool is full: here */
    return 1;
}

/* ---- the route deadline ---- */

static void deadline_fired(ringo__completion *comp, int32_t res, uint32_t flags)
{
    ringo_req *r = ringo__container_of(comp, ringo_req, deadline);

    (void)flags;
    if (res == -ETIME && r->deadline_armed && r->phase == REQ_SUSPENDED &&
        ringo__stream_deadline(r)) {
        /* Its head went out already: the stream is cut, never a 504 after it. */
        r->deadline_armed = false;
    } else if (res == -ETIME && r->deadline_armed && r->phase == REQ_SUSPENDED) {
        /* 504 now; the handler is cancelled and its memory lives until it returns. */
        r->deadline_armed = false;
        ringo__req_detach(r);
        atomic_store_explicit(&r->gone, true, memory_order_relaxed);
        if (r->task)
            ringo__fiber_cancel(r->task);
        ringo__body_abandon(r); /* a worker waiting for body bytes wakes up */
        ringo__sess_substitute(sess(r->conn), r, 504);
    }
    ringo__req_release(r);
}

static void arm_deadline(ringo_req *r, uint32_t ms)
{
    struct io_uring_sqe *sqe = ringo__ring_sqe(ringo__conn_ring(r->conn));

    r->deadline_ts.tv_sec = ms / 1000;
    r->deadline_ts.tv_nsec = (long long)(ms % 1000) * 1000000;
    r->deadline.fn = deadline_fired;
    io_uring_prep_timeout(sqe, &r->deadline_ts, 0, 0);
    io_uring_sqe_set_data64(sqe, ringo__ptr_data(&r->deadline));
    r->deadline_armed = true;
    ringo__req_hold(r);
}

void ringo__exec_abandon(ringo_req *r, bool cancel)
{
    ringo__req_detach(r);
    atomic_store_explicit(&r->gone, true, memory_order_relaxed);
    if (r->task && cancel)
        ringo__fiber_cancel(r->task);
    ringo__stream_abandon(r);
    ringo__body_abandon(r);
    cancel_deadline(r);
}

/* ---- the main phase ---- */

static void run_afters(ringo_req *r)
{
    ringo_app *app = sess(r->conn)->app;

    for (unsigned i = r->x ? r->x->mw_done : 0; i-- > 0;)
        if (app->mws[i].after)
            app->mws[i].after(r, app->mws[i].udata);
    if (r->outcome == REQ_RINGO_ERROR && r->status >= 400)
        ringo__shape_error(r);
}

/* Picks the next hop: a run of same-mode steps, plus the handler if it fits. */
static ringo_mode next_hop(ringo_req *r)
{
    const ringo__route *rt = r->route;
    unsigned a = r->hop_to, b = a;
    ringo_mode m = a < rt->nplan ? rt->plan[a]->mode : rt->mode;

    while (b < rt->nplan && rt->plan[b]->mode == m)
        b++;
    r->hop_from = (uint32_t)a;
    /* The handler (step nplan) joins a hop of its own mode that reaches it. */
    r->hop_to = (uint32_t)(b == rt->nplan && rt->mode == m ? b + 1 : b);
    return m;
}

/* Runs hops until one suspends or the request is answered (ring context). */
static void advance(ringo_req *r)
{
    ringo__sess *s = sess(r->conn);
    bool suspended = false;

    /* Until a step fails or the handler (step nplan) has run. */
    while (r->outcome == REQ_OK && r->hop_to <= r->route->nplan) {
        int ret = next_hop(r) == RINGO_ASYNC ? start_async(r) : start_sync(r);
        if (ret == 1)
            continue;
        if (ret == 0) {
            suspended = true;
            break;
        }
        /* No stack, or the pool's queue is full or refuses it: back-pressure. */
        r->status = 503;
        ringo__req_fail(r);
        if (ret == -EAGAIN || ret == -ESHUTDOWN || ret == -EBUSY || ret == -ETIMEDOUT)
            ringo_resp_add_header(r, "Retry-After", RINGO_STR_LIT("1"));
    }
    if (!suspended && !r->z_done && compress_body(r) == 0)
        suspended = true;
    if (!suspended && !r->afters_run) {
        ringo__body_answer(r);
        run_afters(r);
        r->afters_run = true;
        /* A file body goes out from a hop of its own, after the hooks shaped the head. */
        if (ringo__file_pending(r)) {
            int ret = start_async(r);
            if (ret == 0)
                suspended = true;
            else if (ret < 0)
                ringo__file_failed(r, ret);
        }
    }
    if (suspended) {
        ringo__req_suspend(r);
        if (r->h2 ? !r->parked : s->running != r) {
            uint64_t dl = r->route->opts.deadline_ms,
                     spent = ringo__ring_now(ringo__conn_ring(r->conn)) - r->start_ms;
            /* HTTP/2 streams run side by side: each is parked on its own. */
            if (r->h2)
                ringo__h2_parked(r);
            else
                s->running = r;
            /* The deadline counts from the start of the request, not from this suspension. */
            if (dl)
                arm_deadline(r, (uint32_t)(spent < dl ? dl - spent : 1));
        }
        return;
    }
    cancel_deadline(r);
    if (r->h2 && r->parked)
        ringo__h2_finished(r);
    else if (s->running == r)
        ringo__sess_finished(s, r);
}

static int run_befores(ringo_req *r)
{
    ringo_app *app = sess(r->conn)->app;

    if (!app->nmws || (r->route && r->route->probe))
        return 0;
    if (!ringo__exec_of(r))
        return -ENOMEM;
    for (unsigned i = 0; i < app->nmws; i++) {
        int ret = app->mws[i].before ? app->mws[i].before(r, app->mws[i].udata) : 0;
        r->x->mw_done = i + 1;
        if (ret == RINGO_RESPOND)
            return 1;
        if (ret < 0)
            return ret;
    }
    return 0;
}

void ringo__exec_run(ringo_req *r)
{
    const ringo_route_spec *spec;
    int status, ret;

    if (r->outcome == REQ_PROTOCOL_ERROR)
        return; /* answered as it is */
    ringo__req_start(r);
    r->start_ms = ringo__ring_now(ringo__conn_ring(r->conn));
    status = r->route_status;
    /* Middleware wraps routing too, as FastAPI's does: it sees 404 and 405. */
    ret = run_befores(r);
    /* A WebSocket endpoint's handler runs only for a valid opening handshake. */
    if (ret == 0 && !status && r->route->ws)
        status = ringo__ws_check(r);
    if (ret == 0 && status) {
        r->status = status;
        if (status == 400)
            ringo__req_fail(r); /* a bad target: 400 as it is */
        else
            ringo__req_ringo_error(r);
    }
    if (ret != 0 || status) {
        failure(r, ret < 0 ? ret : 0);
        run_afters(r);
        return;
    }
    if (!admit(sess(r->conn), r)) {
        r->status = 503;
        ringo__req_fail(r);
        ringo_resp_add_header(r, "Retry-After", RINGO_STR_LIT("1"));
        run_afters(r);
        return;
    }
    /* A declared route's inputs are checked before any dependency runs (http/validate.c);
     * a declaration of only metadata (tags, summary) costs nothing per request. */
    spec = r->route->opts.spec;
    if (spec && (spec->params || spec->body) && (ret = ringo__validate(r)) != 0) {
        failure(r, ret);
        run_afters(r);
        return;
    }
    if (r->route->nplan) {
        if (!ringo__exec_of(r) ||
            !(r->x->ran = ringo__arena_alloc(&r->arena, r->route->nplan * sizeof(ringo__ran)))) {
            r->status = 503;
            run_afters(r);
            return;
        }
        r->x->ran_cap = r->route->nplan;
    }
    advance(r);
}

/* ---- after the response ---- */

static int build_post(ringo_req *r)
{
    ringo__exec *x = r->x;
    unsigned n = 0;

    for (unsigned i = 0; i < x->nran; i++)
        n += x->ran[i].dep->teardown != NULL;
    for (ringo__bg *b = x->bg_head; b; b = b->next)
        n++;
    if (!n)
        return 0;
    x->post = ringo__arena_alloc(&r->arena, n * sizeof(*x->post));
    if (!x->post)
        return -ENOMEM;
    x->post_cap = n;
    for (unsigned i = x->nran; i-- > 0;)
        if (x->ran[i].dep->teardown)
            x->post[x->npost++] =
                (ringo__post){x->ran[i].dep->mode, x->ran[i].dep, x->ran[i].value, NULL};
    for (ringo__bg *b = x->bg_head; b; b = b->next)
        x->post[x->npost++] = (ringo__post){b->mode, NULL, NULL, b};
    x->bg_built = x->bg_tail;
    return (int)n;
}

/*
 * Background tasks scheduled by post-response work itself (a background task
 * or a teardown calling ringo_background()) become a new list that runs
 * after the current one, in the same array when they fit (a task that
 * reschedules itself takes no new memory but its ringo__bg, and
 * ringo_background() bounds those). Returns 1 when there are some.
 */
static int more_bg(ringo_req *r)
{
    ringo__exec *x = r->x;
    ringo__bg *first = x->bg_built ? x->bg_built->next : x->bg_head;
    unsigned n = 0;

    for (ringo__bg *b = first; b; b = b->next)
        n++;
    if (!n)
        return 0;
    x->bg_built = x->bg_tail;
    x->npost = 0;
    r->hop_from = r->hop_to = 0;
    if (n > x->post_cap) {
        x->post = ringo__arena_alloc(&r->arena, n * sizeof(*x->post));
        x->post_cap = x->post ? n : 0;
    }
    if (!x->post) {
        fprintf(stderr, "ringo: out of memory: %u background tasks of '%s' skipped\n", n,
                r->route ? r->route->label : "?");
        ringo__bg_finished(sess(r->conn)->app, n, false);
        return 0;
    }
    for (ringo__bg *b = first; b; b = b->next)
        x->post[x->npost++] = (ringo__post){b->mode, NULL, NULL, b};
    return 1;
}

/*
 * The pool refused a sync post-response hop: it closed (past the drain
 * timeout for background tasks, past the teardown timeout for teardowns), or
 * the arena is out of memory. Dropped and counted.
 */
static void post_refused(ringo_req *r, int err)
{
    if (err != -ESHUTDOWN)
        fprintf(stderr, "ringo: %s: %u post-response items of '%s' dropped\n", ringo_strerror(err),
                r->hop_to - r->hop_from, r->route ? r->route->label : "?");
    drop_post_hop(r);
}

/*
 * Runs post-response hops until one suspends or all are done. A hop is a run
 * of items of one mode and one kind: teardowns and background tasks never
 * share a hop, because past the drain timeout the first must run and the
 * second are dropped.
 */
static void post_advance(ringo_req *r)
{
    ringo__exec *x = r->x;

    while (r->hop_to < x->npost || more_bg(r)) {
        unsigned a = r->hop_to, b = a;
        ringo_mode m = x->post[a].mode;
        bool teardown = x->post[a].dep != NULL;
        int ret;
        while (b < x->npost && x->post[b].mode == m && (x->post[b].dep != NULL) == teardown)
            b++;
        r->hop_from = (uint32_t)a;
        r->hop_to = (uint32_t)b;
        if (!teardown && m == RINGO_ASYNC && ringo__fibers_cancelling(ringo__conn_ring(r->conn))) {
            drop_bg_hop(r); /* past the drain timeout */
            continue;
        }
        ret = m == RINGO_ASYNC ? start_async(r) : start_sync(r);
        if (ret == 0)
            return;
        if (m == RINGO_SYNC)
            post_refused(r, ret); /* never inline: it may block the ring */
        else if (ret < 0)         /* no stack: run it here, it is the ring's own kind */
            post_body(r);
    }
}

/* build_post() failed: the background tasks scheduled will never run. */
static void forget_bg(ringo_req *r)
{
    unsigned n = 0;

    for (ringo__bg *b = r->x->bg_head; b; b = b->next)
        n++;
    if (n)
        ringo__bg_finished(sess(r->conn)->app, n, false);
}

void ringo__exec_responded(ringo_req *r)
{
    int n;

    if (r->slots)
        release_slots(r); /* answered: its post-response work takes no slot */
    n = r->x ? build_post(r) : 0;

    if (n < 0) {
        fprintf(stderr, "ringo: out of memory: teardowns and background tasks of '%s' skipped\n",
                r->route ? r->route->label : "?");
        forget_bg(r);
    }
    ringo__req_responded(r, n > 0);
    if (n > 0) {
        r->x->posting = true;
        sess(r->conn)->post_inflight++;
        r->hop_from = r->hop_to = 0;
        ringo__req_hold(r); /* released below once the first hops are under way */
        post_advance(r);
        ringo__req_release(r);
        return;
    }
    if (!r->holds)
        ringo__req_free(r);
}
