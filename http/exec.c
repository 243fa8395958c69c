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

/* A handler's or dependency's negative return without an HTTP status is a 500. */
static void failure(ringo_req *r, int ret)
{
    if (ret >= 0)
        return;
    r->failed = true;
    if (ret == RINGO_EVALIDATION && r->nerrors && ringo__params_422(r) == 0)
        return;
    if (r->status < 400) {
        /* What the handler set so far described a success: drop it. */
        r->status = 500;
        r->rbody = NULL;
        r->rbody_len = 0;
        r->nrhdrs = 0;
        r->ringo_error = true;
    }
}

/* ---- one hop: steps [hop_from, hop_to) then maybe the handler ---- */

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

    for (unsigned i = r->hop_from; i < r->hop_to && !r->failed; i++)
        failure(r, run_dep(r, rt->plan[i]));
    if (r->hop_handler && !r->failed) {
        failure(r, rt->fn(r, rt->udata));
        r->handler_done = true;
    }
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
        }
    }
}

static void body(ringo_req *r)
{
    if (r->post)
        post_body(r);
    else
        hop_body(r);
}

/* A held request (suspended hop, pending deadline timer) drops one hold. */
static void release(ringo_req *r)
{
    ringo__conn *c = r->conn;
    bool post = r->post;

    if (--r->holds)
        return;
    ringo__req_free(r);
    /* The connection's memory lives until the unref below. */
    if (post)
        ringo__sess_post_done(sess(c));
    ringo__conn_unref(c);
}

static void hold(ringo_req *r)
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
    if (r->post)
        post_advance(r);
    else if (!r->detached)
        advance(r);
    else
        ringo__exec_responded(r); /* answered without it (504, hang-up): teardowns */
    release(r);
}

/* ---- async hops: a coroutine on this ring ---- */

static void async_body(ringo__fiber *t) { body(t->data); }

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
    hold(r);
    return 0;
}

/* ---- sync hops: a job on the pool, back through MSG_RING ---- */

static void sync_run(ringo__job *job) { body(((ringo__sync_job *)job)->req); }

static void post_body(ringo_req *r);

static void sync_cancel(ringo__job *job)
{
    ringo_req *r = ((ringo__sync_job *)job)->req;

    /*
     * Shutdown passed its drain deadline before the job started. A request
     * gets 503; teardowns and background tasks still run, here on the
     * thread stopping the pool (the ring waits for this job's CQE).
     */
    if (r->post) {
        post_body(r);
        return;
    }
    r->status = 503;
    r->failed = true;
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
    ringo__ring_release(ring);
    atomic_fetch_sub_explicit(&ringo__ring_stats_of(ring)->jobs_live, 1, memory_order_relaxed);
    hop_done(r);
}

/* Returns 0 when queued, -EAGAIN when the pool is full, -ESHUTDOWN. */
static int start_sync(ringo_req *r)
{
    ringo__ring *ring = ringo__conn_ring(r->conn);
    ringo__sync_job *j = ringo__arena_alloc(&r->arena, sizeof(*j));
    ringo__pool *pool = sess(r->conn)->app->pool;
    int ret;

    if (!j)
        return -ENOMEM;
    memset(j, 0, sizeof(*j));
    j->job.run = sync_run;
    j->job.cancel = sync_cancel;
    j->job.ring_fd = ringo__ring_fd(ring);
    j->job.cqe_data = ringo__ptr_data(&j->comp);
    j->comp.fn = sync_complete;
    j->req = r;
    /* Teardowns and background tasks of an accepted request are never refused. */
    ret = r->post ? ringo__pool_submit_nolimit(pool, &j->job) : ringo__pool_submit(pool, &j->job);
    if (ret < 0)
        return ret;
    hold(r);
    ringo__ring_hold(ring);
    atomic_fetch_add_explicit(&ringo__ring_stats_of(ring)->jobs_live, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ringo__ring_stats_of(ring)->pool_hops, 1, memory_order_relaxed);
    return 0;
}

/* ---- the route deadline ---- */

static void deadline_fired(ringo__completion *comp, int32_t res, uint32_t flags)
{
    ringo_req *r = ringo__container_of(comp, ringo_req, deadline);

    (void)flags;
    if (res == -ETIME && r->deadline_armed && !r->detached) {
        /* 504 now; the handler is cancelled and its memory lives until it returns. */
        r->deadline_armed = false;
        r->detached = true;
        atomic_store_explicit(&r->gone, true, memory_order_relaxed);
        if (r->task)
            ringo__fiber_cancel(r->task);
        ringo__sess_substitute(sess(r->conn), r, 504);
    }
    release(r);
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
    hold(r);
}

void ringo__exec_abandon(ringo_req *r)
{
    r->detached = true;
    atomic_store_explicit(&r->gone, true, memory_order_relaxed);
    if (r->task)
        ringo__fiber_cancel(r->task);
    cancel_deadline(r);
}

/* ---- the main phase ---- */

static void run_afters(ringo_req *r)
{
    ringo_app *app = sess(r->conn)->app;

    for (unsigned i = r->x ? r->x->mw_done : 0; i-- > 0;)
        if (app->mws[i].after)
            app->mws[i].after(r, app->mws[i].udata);
    if (r->ringo_error && r->status >= 400)
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
    r->hop_from = (uint16_t)a;
    r->hop_to = (uint16_t)b;
    r->hop_handler = b == rt->nplan && rt->mode == m;
    return m;
}

/* Runs hops until one suspends or the request is answered (ring context). */
static void advance(ringo_req *r)
{
    ringo__sess *s = sess(r->conn);
    bool suspended = false;

    while (!r->failed && !r->handler_done) {
        int ret = next_hop(r) == RINGO_ASYNC ? start_async(r) : start_sync(r);
        if (ret == 1)
            continue;
        if (ret == 0) {
            suspended = true;
            break;
        }
        /* No stack, or the pool's queue is full: back-pressure. */
        r->status = 503;
        r->failed = true;
        if (ret == -EAGAIN || ret == -ESHUTDOWN)
            ringo_resp_add_header(r, "Retry-After", RINGO_STR_LIT("1"));
    }
    if (suspended) {
        if (s->running != r) {
            uint64_t dl = r->route->opts.deadline_ms,
                     spent = ringo__ring_now(ringo__conn_ring(r->conn)) - r->start_ms;
            s->running = r;
            /* The deadline counts from the start of the request, not from this suspension. */
            if (dl)
                arm_deadline(r, (uint32_t)(spent < dl ? dl - spent : 1));
        }
        return;
    }
    cancel_deadline(r);
    run_afters(r);
    if (s->running == r) {
        r->detached = true;
        ringo__sess_finished(s, r);
    }
}

static int run_befores(ringo_req *r)
{
    ringo_app *app = sess(r->conn)->app;

    if (!app->nmws)
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

void ringo__exec_run(ringo__sess *s, ringo_req *r)
{
    int status, ret;

    if (r->error)
        return;
    r->start_ms = ringo__ring_now(ringo__conn_ring(r->conn));
    status = route(s, r);
    /* Middleware wraps routing too, as FastAPI's does: it sees 404 and 405. */
    ret = run_befores(r);
    if (ret == 0 && status) {
        r->status = status;
        r->ringo_error = status != 400;
    }
    if (ret != 0 || status) {
        failure(r, ret < 0 ? ret : 0);
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
    for (unsigned i = x->nran; i-- > 0;)
        if (x->ran[i].dep->teardown)
            x->post[x->npost++] =
                (ringo__post){x->ran[i].dep->mode, x->ran[i].dep, x->ran[i].value, NULL};
    for (ringo__bg *b = x->bg_head; b; b = b->next)
        x->post[x->npost++] = (ringo__post){b->mode, NULL, NULL, b};
    return (int)n;
}

/* Runs post-response hops until one suspends or all are done. */
static void post_advance(ringo_req *r)
{
    ringo__exec *x = r->x;

    while (r->hop_to < x->npost) {
        unsigned a = r->hop_to, b = a;
        ringo_mode m = x->post[a].mode;
        int ret;
        while (b < x->npost && x->post[b].mode == m)
            b++;
        r->hop_from = (uint16_t)a;
        r->hop_to = (uint16_t)b;
        ret = m == RINGO_ASYNC ? start_async(r) : start_sync(r);
        if (ret == 0)
            return;
        if (ret < 0) /* no stack, or the pool is shutting down: run it here */
            post_body(r);
    }
}

void ringo__exec_responded(ringo_req *r)
{
    if (r->x && build_post(r) > 0) {
        r->post = true;
        sess(r->conn)->post_inflight++;
        r->hop_from = r->hop_to = 0;
        hold(r); /* released below once the first hops are under way */
        post_advance(r);
        release(r);
        return;
    }
    if (!r->holds)
        ringo__req_free(r);
}
