/*
 * Description: the work-stealing pool (pool/pool.c), in the registered
 * MSG_RING mode and in the forced per-worker-ring fallback:
 * - routing: two ring threads (SINGLE_ISSUER | DEFER_TASKRUN rings) submit
 *   jobs tagged with their ring; each must reap exactly its own completions,
 *   with what the worker wrote into the job visible after reaping;
 * - ping-pong: single jobs submitted at random moments, so some land while
 *   the last worker is parking: none may be lost (CQE within 5 s);
 * - backpressure: -EAGAIN once max_queued jobs wait, counted as rejected;
 * - fan-out: blocking jobs on every worker at once finish in about one job's
 *   time (parked workers are woken, one at a time, but all of them);
 * - fork/join: recursive sums and checksums against a serial computation,
 *   from several jobs at once, deque growth, inline spawn outside the pool;
 * - shutdown: a long deadline runs every queued job; a 0 ms deadline
 *   cancels every job not started (cancel() then a -ECANCELED CQE), and
 *   submit returns -ESHUTDOWN afterwards; must_run jobs are never cancelled;
 * - a completion the kernel refuses (fault injection) is counted and posted
 *   again after the next job and at stop: its request is never stranded;
 * - jobs of ringo__pool_submit_nolimit() do not count against max_queued;
 * - admission by queue time: a job whose deadline the queue delay already
 *   exceeds is refused (-ETIMEDOUT), a standing queue older than the target
 *   refuses jobs (-EBUSY) that never enter it, and queued jobs whose client
 *   left or whose deadline passed are cancelled as a worker takes them
 *   (-ENOTCONN, -ETIMEDOUT), never run. Sleeps only age the queue: each is
 *   several times the target, and only lower bounds matter.
 * Skips (77) without io_uring, MSG_RING or DEFER_TASKRUN.
 */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "pool/msgring.h"
#include "pool/pool.h"
#include "ringo/pool.h"

#include "check.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static ringo__pool *pool_or_skip(unsigned threads, unsigned max_queued, int fallback)
{
    ringo__pool_opts o = {.threads = threads, .max_queued = max_queued, .force_fallback = fallback};
    ringo__pool *p = NULL;
    int ret = ringo__pool_new(&p, &o);

    if (ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP) {
        printf("skip: pool needs io_uring with MSG_RING: %s\n", strerror(-ret));
        exit(77);
    }
    CHECK(ret == 0 && p);
    CHECK(ringo__pool_threads(p) == threads);
    CHECK(ringo__pool_msgring_mode(p) ==
          (fallback ? RINGO__MSGRING_FALLBACK : ringo__msgring_probe()));
    return p;
}

/* A ring as the server's rings are: created by the thread that reaps it. */
static void ring_init_or_skip(struct io_uring *r)
{
    struct io_uring_params prm = {
        .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
        .cq_entries = 4096,
    };
    int ret = io_uring_queue_init_params(64, r, &prm);

    if (ret == -EINVAL) {
        printf("skip: no SINGLE_ISSUER|DEFER_TASKRUN rings (kernel < 6.1)\n");
        exit(77);
    }
    CHECK(ret == 0);
}

/* Waits for at least one CQE and hands each to fn. Returns how many. */
static unsigned reap(struct io_uring *r, void (*fn)(struct io_uring_cqe *, void *), void *arg)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    CHECK(io_uring_submit_and_wait(r, 1) >= 0);
    io_uring_for_each_cqe(r, head, cqe)
    {
        fn(cqe, arg);
        n++;
    }
    io_uring_cq_advance(r, n);
    return n;
}

/* ---- routing: two rings, each gets exactly its own completions ---- */

#define ROUTE_JOBS 3000

typedef struct route_job {
    ringo__job job;
    int ring; /* written by the ring before submit */
    uint32_t seq;
    uint64_t out; /* written by the worker */
    int worker;
    int seen;
} route_job;

typedef struct route_ring {
    ringo__pool *pool;
    int id;
    struct io_uring ring;
    route_job *jobs;
    unsigned reaped;
} route_ring;

static void route_run(ringo__job *j)
{
    route_job *rj = container_of(j, route_job, job);

    rj->out = (uint64_t)rj->seq * 7919u + (uint64_t)rj->ring;
    rj->worker = ringo_pool_worker_id();
    j->cqe_res = (int32_t)rj->seq;
}

static void route_cqe(struct io_uring_cqe *cqe, void *arg)
{
    route_ring *rr = arg;
    route_job *rj = (route_job *)(uintptr_t)cqe->user_data;

    ringo__pool_job_acquire(&rj->job);
    CHECK(rj >= rr->jobs && rj < rr->jobs + ROUTE_JOBS); /* one of ours */
    CHECK(rj->ring == rr->id && !rj->seen);
    CHECK(cqe->res == (int32_t)rj->seq);
    CHECK(rj->out == (uint64_t)rj->seq * 7919u + (uint64_t)rr->id);
    CHECK(rj->worker >= 0 && rj->worker < (int)ringo__pool_threads(rr->pool));
    rj->seen = 1;
    rr->reaped++;
}

static void *route_ring_main(void *arg)
{
    route_ring *rr = arg;
    unsigned submitted = 0;

    ring_init_or_skip(&rr->ring);
    CHECK(ringo_pool_worker_id() == -ESRCH);
    while (rr->reaped < ROUTE_JOBS) {
        while (submitted < ROUTE_JOBS) {
            route_job *rj = &rr->jobs[submitted];
            *rj = (route_job){.ring = rr->id, .seq = submitted};
            rj->job = (ringo__job){
                .run = route_run, .ring_fd = rr->ring.ring_fd, .cqe_data = (uint64_t)(uintptr_t)rj};
            int ret = ringo__pool_submit(rr->pool, &rj->job);
            if (ret == -EAGAIN)
                break; /* full: the server would answer 503; here, retry later */
            CHECK(ret == 0);
            submitted++;
        }
        if (submitted > rr->reaped)
            reap(&rr->ring, route_cqe, rr);
        else
            sleep_ms(1); /* the queue is full of the other ring's jobs */
    }
    /*
     * The ring stays mapped until both threads are done (test_routing unmaps
     * it): a ring the other thread maps later could reuse its addresses, and
     * liburing unmaps with a raw syscall that ThreadSanitizer does not see,
     * so it would report the two rings' CQ heads as one racy word.
     */
    return NULL;
}

static void test_routing(int fallback)
{
    ringo__pool *p = pool_or_skip(4, 256, fallback);
    route_ring rr[2];
    pthread_t th[2];
    ringo__pool_stats st;

    for (int i = 0; i < 2; i++) {
        rr[i] = (route_ring){.pool = p, .id = i};
        rr[i].jobs = ringo__calloc(ROUTE_JOBS, sizeof(route_job));
        CHECK(rr[i].jobs);
        CHECK(pthread_create(&th[i], NULL, route_ring_main, &rr[i]) == 0);
    }
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    for (int i = 0; i < 2; i++)
        io_uring_queue_exit(&rr[i].ring);
    ringo__pool_stats_get(p, &st);
    CHECK(st.completed == 2 * ROUTE_JOBS && st.post_failed == 0 && st.cancelled == 0);
    CHECK(st.queued == 0 && st.running == 0);
    ringo__pool_stop(p, 1000);
    ringo__pool_free(p);
    for (int i = 0; i < 2; i++)
        ringo__free(rr[i].jobs);
    printf("routing (%s): 2 rings x %d jobs, each got its own (%llu rejected and retried)\n",
           fallback ? "fallback" : "registered", ROUTE_JOBS, (unsigned long long)st.rejected);
}

/* ---- ping-pong: one job at a time, submitted at every phase of parking ---- */

static void noop_run(ringo__job *j) { (void)j; }

/* A lost wake-up would leave the job queued with every worker asleep: the
 * CQE would never come. The random gap before each submit lands it before,
 * during and after the previous worker's search -> park transition. */
static void *pingpong_main(void *arg)
{
    ringo__pool *p = arg;
    struct io_uring ring;
    ringo__job job;
    uint64_t rng = 0x2545F4914F6CDD1Dull;

    ring_init_or_skip(&ring);
    for (int i = 0; i < 3000; i++) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = 5};
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        uint64_t until = now_ns() + rng % 60000; /* 0..60 us */
        while (now_ns() < until)
            ;
        job = (ringo__job){.run = noop_run, .ring_fd = ring.ring_fd, .cqe_data = (uint64_t)i};
        CHECK(ringo__pool_submit(p, &job) == 0);
        CHECK(io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == 0); /* -ETIME: lost */
        CHECK(cqe->user_data == (uint64_t)i);
        ringo__pool_job_acquire(&job);
        io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_queue_exit(&ring);
    return NULL;
}

typedef struct flag_job {
    ringo__job job;
    _Atomic int done;
} flag_job;

static void flag_run(ringo__job *j)
{
    atomic_store_explicit(&container_of(j, flag_job, job)->done, 1, memory_order_release);
}

/* The same without a ring, so the submitter reacts within nanoseconds: gaps
 * of 0..8 us straddle the moment the worker gives up searching and parks. */
static void pingpong_tight(ringo__pool *p, int rounds)
{
    flag_job fj;
    uint64_t rng = 0x9E3779B97F4A7C15ull;

    for (int i = 0; i < rounds; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        uint64_t t = now_ns(), until = t + rng % 8000;
        while ((t = now_ns()) < until)
            ;
        fj = (flag_job){.job = {.run = flag_run, .ring_fd = -1}};
        CHECK(ringo__pool_submit(p, &fj.job) == 0);
        while (!atomic_load_explicit(&fj.done, memory_order_acquire))
            CHECK(now_ns() - t < 5000000000u); /* 5 s: lost */
    }
}

static void test_pingpong(unsigned threads)
{
    ringo__pool *p = pool_or_skip(threads, 0, 0);
    pthread_t th;

    CHECK(pthread_create(&th, NULL, pingpong_main, p) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    pingpong_tight(p, 20000);
    ringo__pool_free(p);
    printf("ping-pong: 3000 via a ring + 20000 tight, on %u workers, none lost\n", threads);
}

/* ---- jobs without a ring, gates ---- */

typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int open;
    _Atomic int entered;
} gate;

static void gate_init(gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->open = 0;
    atomic_init(&g->entered, 0);
}

static void gate_pass(gate *g)
{
    atomic_fetch_add(&g->entered, 1);
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

static void wait_for(_Atomic int *v, int want)
{
    uint64_t t0 = now_ns();

    while (atomic_load(v) < want) {
        CHECK(now_ns() - t0 < 10000000000u); /* 10 s */
        sleep_ms(1);
    }
}

typedef struct gated_job {
    ringo__job job;
    gate *gate;
    _Atomic int *ran;
    _Atomic int *cancelled;
} gated_job;

static void gated_run(ringo__job *j)
{
    gated_job *g = container_of(j, gated_job, job);

    if (g->gate)
        gate_pass(g->gate);
    atomic_fetch_add(g->ran, 1);
}

static void gated_cancel(ringo__job *j)
{
    gated_job *g = container_of(j, gated_job, job);

    CHECK(j->cqe_res == -ECANCELED);
    atomic_fetch_add(g->cancelled, 1);
}

static void gated_setup(gated_job *g, gate *gt, _Atomic int *ran, _Atomic int *cancelled, int fd,
                        uint64_t data)
{
    *g = (gated_job){.gate = gt, .ran = ran, .cancelled = cancelled};
    g->job =
        (ringo__job){.run = gated_run, .cancel = gated_cancel, .ring_fd = fd, .cqe_data = data};
}

static void test_backpressure(void)
{
    ringo__pool *p = pool_or_skip(1, 4, 0);
    gate g;
    _Atomic int ran = 0, cancelled = 0;
    gated_job jobs[6];
    ringo__pool_stats st;

    gate_init(&g);
    gated_setup(&jobs[0], &g, &ran, &cancelled, -1, 0);
    CHECK(ringo__pool_submit(p, &jobs[0].job) == 0);
    wait_for(&g.entered, 1); /* the only worker is busy: nothing else starts */
    for (int i = 1; i <= 4; i++) {
        gated_setup(&jobs[i], NULL, &ran, &cancelled, -1, 0);
        CHECK(ringo__pool_submit(p, &jobs[i].job) == 0);
    }
    gated_setup(&jobs[5], NULL, &ran, &cancelled, -1, 0);
    CHECK(ringo__pool_submit(p, &jobs[5].job) == -EAGAIN);
    ringo__pool_stats_get(p, &st);
    CHECK(st.queued == 4 && st.running == 1 && st.rejected == 1 && st.completed == 0);
    gate_open(&g);
    wait_for(&ran, 5);
    ringo__pool_free(p); /* without stop: free stops with a 0 ms deadline */
    CHECK(atomic_load(&cancelled) == 0);
    gate_destroy(&g);
    printf("backpressure: -EAGAIN past max_queued 4\n");
}

/* ---- fan-out: every parked worker gets woken for a burst ---- */

typedef struct sleep_job {
    ringo__job job;
    _Atomic int *done;
} sleep_job;

static void sleep_run(ringo__job *j)
{
    sleep_ms(50);
    atomic_fetch_add(container_of(j, sleep_job, job)->done, 1);
}

static void test_fanout(void)
{
    enum { N = 40 };
    ringo__pool *p = pool_or_skip(N, 0, 0);
    sleep_job jobs[N];
    _Atomic int done = 0;

    sleep_ms(20); /* let every worker park */
    uint64_t t0 = now_ns();
    for (int i = 0; i < N; i++) {
        jobs[i] = (sleep_job){.job = {.run = sleep_run, .ring_fd = -1}, .done = &done};
        CHECK(ringo__pool_submit(p, &jobs[i].job) == 0);
    }
    wait_for(&done, N);
    double ms = (double)(now_ns() - t0) / 1e6;
    ringo__pool_free(p);
    printf("fan-out: %d x 50 ms sleeps on %d workers took %.1f ms\n", N, N, ms);
    CHECK(ms < 1000); /* serial would be 2000 ms; parallel ~50 ms */
}

/* ---- fork/join ---- */

typedef struct range {
    uint64_t lo, hi;
    uint64_t sum, check;
    _Atomic int *workers_seen; /* bitmask of workers that ran a leaf */
} range;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static void range_leaf(range *r)
{
    int w = ringo_pool_worker_id();

    for (uint64_t i = r->lo; i < r->hi; i++) {
        r->sum += i;
        r->check ^= mix(i);
    }
    if (r->workers_seen && w >= 0 && w < 31)
        atomic_fetch_or(r->workers_seen, 1 << w);
}

/* Splits in two, spawns the left half, recurses on the right. */
static void range_run(void *arg)
{
    range *r = arg;

    r->sum = r->check = 0;
    if (r->hi - r->lo <= 512) {
        range_leaf(r);
        return;
    }
    uint64_t mid = r->lo + (r->hi - r->lo) / 2;
    range a = {r->lo, mid, 0, 0, r->workers_seen}, b = {mid, r->hi, 0, 0, r->workers_seen};
    ringo_subtask t;
    ringo_spawn(&t, range_run, &a);
    range_run(&b);
    ringo_join(&t);
    r->sum = a.sum + b.sum;
    r->check = a.check ^ b.check;
}

/* Many siblings from one frame (the deque must grow), joined oldest first. */
static void wide_run(void *arg)
{
    enum { K = 2000 };
    range *r = arg;
    range *parts = ringo__calloc(K, sizeof(range));
    ringo_subtask *tasks = ringo__calloc(K, sizeof(ringo_subtask));

    CHECK(parts && tasks);
    uint64_t step = (r->hi - r->lo + K - 1) / K;
    for (int i = 0; i < K; i++) {
        uint64_t lo = r->lo + (uint64_t)i * step, hi = lo + step;
        parts[i] = (range){lo < r->hi ? lo : r->hi, hi < r->hi ? hi : r->hi, 0, 0, NULL};
        ringo_spawn(&tasks[i], range_run, &parts[i]);
    }
    r->sum = r->check = 0;
    for (int i = 0; i < K; i++) {
        ringo_join(&tasks[i]);
        r->sum += parts[i].sum;
        r->check ^= parts[i].check;
    }
    ringo__free(parts);
    ringo__free(tasks);
}

typedef struct fj_job {
    ringo__job job;
    range r;
    void (*fn)(void *);
    _Atomic int *done;
} fj_job;

static void fj_run(ringo__job *j)
{
    fj_job *f = container_of(j, fj_job, job);

    CHECK(ringo_pool_worker_id() >= 0);
    CHECK(ringo_pool_workers() == 4);
    f->fn(&f->r);
    atomic_fetch_add(f->done, 1);
}

static void serial(uint64_t lo, uint64_t hi, uint64_t *sum, uint64_t *check)
{
    *sum = *check = 0;
    for (uint64_t i = lo; i < hi; i++) {
        *sum += i;
        *check ^= mix(i);
    }
}

static void test_forkjoin(void)
{
    enum { JOBS = 6 };
    ringo__pool *p = pool_or_skip(4, 0, 0);
    fj_job jobs[JOBS];
    _Atomic int done = 0, seen = 0;
    const uint64_t n = 1u << 20;

    for (int i = 0; i < JOBS; i++) {
        jobs[i] = (fj_job){.job = {.run = fj_run, .ring_fd = -1}, .done = &done};
        jobs[i].r = (range){(uint64_t)i * 1000, (uint64_t)i * 1000 + n, 0, 0, &seen};
        jobs[i].fn = i % 3 == 2 ? wide_run : range_run;
        CHECK(ringo__pool_submit(p, &jobs[i].job) == 0);
    }
    wait_for(&done, JOBS);
    for (int i = 0; i < JOBS; i++) {
        uint64_t sum, check;
        serial(jobs[i].r.lo, jobs[i].r.hi, &sum, &check);
        CHECK(jobs[i].r.sum == sum && jobs[i].r.check == check);
    }
    ringo__pool_free(p);
    printf("fork/join: %d jobs x 2^20 items, leaves ran on workers mask 0x%x\n", JOBS,
           (unsigned)atomic_load(&seen));

    /* Outside the pool: spawn runs inline, join returns at once. */
    range r = {0, 10000, 0, 0, NULL};
    ringo_subtask t;
    uint64_t sum, check;
    CHECK(ringo_spawn(&t, range_run, &r) == 1);
    ringo_join(&t);
    serial(0, 10000, &sum, &check);
    CHECK(r.sum == sum && r.check == check);
    CHECK(ringo_pool_workers() == -ESRCH);
}

/* ---- shutdown ---- */

static void test_stop_drains(void)
{
    enum { N = 50 };
    ringo__pool *p = pool_or_skip(2, 0, 0);
    gate g;
    gated_job jobs[N];
    _Atomic int ran = 0, cancelled = 0;
    ringo__pool_stats st;

    gate_init(&g);
    gate_open(&g);
    for (int i = 0; i < N; i++) {
        gated_setup(&jobs[i], &g, &ran, &cancelled, -1, 0);
        CHECK(ringo__pool_submit(p, &jobs[i].job) == 0);
    }
    ringo__pool_stop(p, 10000);
    CHECK(atomic_load(&ran) == N && atomic_load(&cancelled) == 0);
    ringo__pool_stats_get(p, &st);
    CHECK(st.completed == N && st.cancelled == 0 && st.queued == 0 && st.running == 0);
    CHECK(ringo__pool_submit(p, &jobs[0].job) == -ESHUTDOWN);
    ringo__pool_free(p);
    gate_destroy(&g);
    printf("stop (long deadline): %d queued jobs all ran\n", N);
}

/* Two workers blocked in gated jobs, ten more queued, stop(0) on another
 * thread: the ring must reap ten -ECANCELED CQEs (after each cancel()), then,
 * once the gate opens, the two real completions. */
typedef struct stop_ring {
    ringo__pool *pool;
    gate gate;
    _Atomic int ran, cancelled, stop_now;
    int cancelled_cqes, done_cqes;
} stop_ring;

static void stop_cqe(struct io_uring_cqe *cqe, void *arg)
{
    stop_ring *s = arg;
    gated_job *g = (gated_job *)(uintptr_t)cqe->user_data;

    ringo__pool_job_acquire(&g->job);
    if (cqe->res == -ECANCELED) {
        CHECK(g->gate == NULL);
        s->cancelled_cqes++;
    } else {
        CHECK(cqe->res == 0 && g->gate == &s->gate);
        s->done_cqes++;
    }
}

static void *stop_ring_main(void *arg)
{
    stop_ring *s = arg;
    struct io_uring ring;
    gated_job jobs[12];

    ring_init_or_skip(&ring);
    for (int i = 0; i < 12; i++) {
        gated_setup(&jobs[i], i < 2 ? &s->gate : NULL, &s->ran, &s->cancelled, ring.ring_fd,
                    (uint64_t)(uintptr_t)&jobs[i]);
        CHECK(ringo__pool_submit(s->pool, &jobs[i].job) == 0);
        if (i == 1)
            wait_for(&s->gate.entered, 2);
    }
    atomic_store(&s->stop_now, 1);
    while (s->cancelled_cqes < 10)
        reap(&ring, stop_cqe, s);
    CHECK(atomic_load(&s->cancelled) == 10 && s->done_cqes == 0);
    gate_open(&s->gate);
    while (s->done_cqes < 2)
        reap(&ring, stop_cqe, s);
    io_uring_queue_exit(&ring);
    return NULL;
}

static void test_stop_cancels(int fallback)
{
    stop_ring *s = ringo__calloc(1, sizeof(*s));
    pthread_t th;
    ringo__pool_stats st;

    CHECK(s);
    s->pool = pool_or_skip(2, 0, fallback);
    gate_init(&s->gate);
    CHECK(pthread_create(&th, NULL, stop_ring_main, s) == 0);
    wait_for(&s->stop_now, 1);
    ringo__pool_stop(s->pool, 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(atomic_load(&s->ran) == 2 && atomic_load(&s->cancelled) == 10);
    ringo__pool_stats_get(s->pool, &st);
    CHECK(st.completed == 2 && st.cancelled == 10 && st.post_failed == 0);
    ringo__pool_free(s->pool);
    gate_destroy(&s->gate);
    ringo__free(s);
    printf("stop (0 ms, %s): 10 queued jobs cancelled with -ECANCELED CQEs, 2 running finished\n",
           fallback ? "fallback" : "registered");
}

/* ---- must_run, unbounded jobs, refused completions ---- */

typedef struct tag_job {
    ringo__job job;
    _Atomic int ran, cancelled;
} tag_job;

static void tag_run(ringo__job *j) { atomic_fetch_add(&container_of(j, tag_job, job)->ran, 1); }

static void tag_cancel(ringo__job *j)
{
    atomic_fetch_add(&container_of(j, tag_job, job)->cancelled, 1);
}

static void tag_setup(tag_job *t, int fd)
{
    memset(t, 0, sizeof(*t));
    t->job.run = tag_run;
    t->job.cancel = tag_cancel;
    t->job.ring_fd = fd;
    t->job.cqe_data = (uint64_t)(uintptr_t)t;
}

/* Waits up to ms for one CQE; returns its user_data, or 0 on timeout. */
static uint64_t wait_one(struct io_uring *r, long ms)
{
    struct __kernel_timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    struct io_uring_cqe *cqe;
    uint64_t data;

    if (io_uring_wait_cqe_timeout(r, &cqe, &ts) < 0)
        return 0;
    data = cqe->user_data;
    io_uring_cqe_seen(r, cqe);
    ringo__tsan_acquire((void *)(uintptr_t)data);
    return data;
}

static void wait_post_failed(ringo__pool *p, uint64_t want)
{
    ringo__pool_stats st;

    for (int i = 0; i < 5000; i++) {
        ringo__pool_stats_get(p, &st);
        if (st.post_failed >= want)
            return;
        sleep_ms(1);
    }
    CHECK(!"post_failed never counted");
}

static void test_refused_completion(void)
{
    ringo__pool *p = pool_or_skip(2, 0, 0);
    struct io_uring ring;
    tag_job a, b, c;
    uint64_t got[2];

    ring_init_or_skip(&ring);
    tag_setup(&a, ring.ring_fd);
    tag_setup(&b, ring.ring_fd);
    tag_setup(&c, ring.ring_fd);
    /* Every post fails until the hook is reset: a's CQE is refused. */
    ringo__pool_fail_posts(p, 1 << 30);
    CHECK(ringo__pool_submit(p, &a.job) == 0);
    wait_post_failed(p, 1);
    CHECK(wait_one(&ring, 50) == 0);
    ringo__pool_fail_posts(p, 0);
    /* The next job's worker posts a's CQE again. */
    CHECK(ringo__pool_submit(p, &b.job) == 0);
    got[0] = wait_one(&ring, 5000);
    got[1] = wait_one(&ring, 5000);
    CHECK((got[0] == (uintptr_t)&a && got[1] == (uintptr_t)&b) ||
          (got[0] == (uintptr_t)&b && got[1] == (uintptr_t)&a));
    /* Refused again with no job after it: the stop posts it. */
    ringo__pool_fail_posts(p, 1 << 30);
    CHECK(ringo__pool_submit(p, &c.job) == 0);
    wait_post_failed(p, 2);
    ringo__pool_fail_posts(p, 0);
    ringo__pool_stop(p, 0);
    CHECK(wait_one(&ring, 5000) == (uintptr_t)&c);
    CHECK(atomic_load(&a.ran) == 1 && atomic_load(&b.ran) == 1 && atomic_load(&c.ran) == 1);
    ringo__pool_free(p);
    io_uring_queue_exit(&ring);
    printf("refused completions: counted, posted again after the next job and at stop\n");
}

typedef struct opener {
    ringo__pool *pool;
    gate *gate;
} opener;

/* Opens the gate once the stop has cancelled three jobs (the worker is still blocked). */
static void *open_after_cancels(void *arg)
{
    opener *o = arg;
    ringo__pool_stats st;

    do {
        sleep_ms(1);
        ringo__pool_stats_get(o->pool, &st);
    } while (st.cancelled < 3);
    gate_open(o->gate);
    return NULL;
}

static void test_must_run_and_unbounded(void)
{
    stop_ring *s = ringo__calloc(1, sizeof(*s));
    ringo__pool *p = pool_or_skip(1, 1, 0);
    struct io_uring ring;
    gated_job g;
    tag_job req, extra, post[4];
    int cancelled_cqes = 0, done_cqes = 0;
    pthread_t th;
    opener o;

    CHECK(s);
    ring_init_or_skip(&ring);
    gate_init(&s->gate);
    /* The only worker blocks: everything else stays queued. */
    gated_setup(&g, &s->gate, &s->ran, &s->cancelled, ring.ring_fd, (uint64_t)(uintptr_t)&g);
    CHECK(ringo__pool_submit(p, &g.job) == 0);
    wait_for(&s->gate.entered, 1);
    for (int i = 0; i < 4; i++) {
        tag_setup(&post[i], ring.ring_fd);
        post[i].job.must_run = i < 2; /* teardowns */
        CHECK(ringo__pool_submit_nolimit(p, &post[i].job) == 0);
    }
    /* Four unbounded jobs queued, yet one request job still fits (max_queued 1). */
    tag_setup(&req, ring.ring_fd);
    tag_setup(&extra, ring.ring_fd);
    CHECK(ringo__pool_submit(p, &req.job) == 0);
    CHECK(ringo__pool_submit(p, &extra.job) == -EAGAIN);
    o = (opener){p, &s->gate};
    CHECK(pthread_create(&th, NULL, open_after_cancels, &o) == 0);
    ringo__pool_stop(p, 0);
    CHECK(pthread_join(th, NULL) == 0);
    for (int i = 0; i < 6; i++) {
        uint64_t d = wait_one(&ring, 5000);
        CHECK(d != 0);
        done_cqes += d == (uintptr_t)&post[0] || d == (uintptr_t)&post[1] || d == (uintptr_t)&g;
        cancelled_cqes +=
            d == (uintptr_t)&post[2] || d == (uintptr_t)&post[3] || d == (uintptr_t)&req;
    }
    CHECK(cancelled_cqes == 3 && done_cqes == 3);
    CHECK(atomic_load(&post[0].ran) == 1 && atomic_load(&post[1].ran) == 1);
    CHECK(atomic_load(&post[2].ran) == 0 && atomic_load(&post[2].cancelled) == 1);
    CHECK(atomic_load(&post[3].cancelled) == 1 && atomic_load(&req.cancelled) == 1);
    ringo__pool_free(p);
    gate_destroy(&s->gate);
    io_uring_queue_exit(&ring);
    ringo__free(s);
    printf("stop: must_run jobs run on the workers, the others are cancelled; unbounded jobs "
           "leave max_queued to requests\n");
}

/*
 * Regression: stopping the pool waited for every must_run job, so one that
 * blocked held the shutdown as long. ringo__pool_close() waits up to its
 * bound, cancels the must_run jobs not started, and leaves the blocked one
 * running (the pool is not freed under it).
 */
static void test_close_bounds_must_run(void)
{
    ringo__pool *p = pool_or_skip(1, 0, 0);
    struct io_uring ring;
    gate g;
    _Atomic int ran = 0, cancelled = 0;
    gated_job blocked;
    tag_job post[2];
    uint64_t t0;

    ring_init_or_skip(&ring);
    gate_init(&g);
    gated_setup(&blocked, &g, &ran, &cancelled, ring.ring_fd, (uint64_t)(uintptr_t)&blocked);
    blocked.job.must_run = 1;
    blocked.job.label = "GET /blocked";
    CHECK(ringo__pool_submit_nolimit(p, &blocked.job) == 0);
    wait_for(&g.entered, 1);
    for (int i = 0; i < 2; i++) {
        tag_setup(&post[i], ring.ring_fd);
        post[i].job.must_run = 1;
        CHECK(ringo__pool_submit_nolimit(p, &post[i].job) == 0);
    }
    ringo__pool_drain(p, 0);
    t0 = now_ns();
    CHECK(ringo__pool_close(p, 100) == 1); /* "GET /blocked" is named on stderr */
    CHECK(now_ns() - t0 < 5000000000u);    /* a hang guard: the bound is 100 ms */
    CHECK(ringo__pool_close(p, 100) == 1 && ringo__pool_submit_nolimit(p, &post[0].job) < 0);
    for (int i = 0; i < 2; i++)
        CHECK(wait_one(&ring, 5000) == (uintptr_t)&post[i]);
    CHECK(atomic_load(&post[0].cancelled) == 1 && atomic_load(&post[1].cancelled) == 1);
    CHECK(atomic_load(&post[0].ran) == 0 && atomic_load(&post[1].ran) == 0);
    /* The job left running still completes through the pool it uses. */
    gate_open(&g);
    CHECK(wait_one(&ring, 5000) == (uintptr_t)&blocked && atomic_load(&ran) == 1);
    ringo__pool_free(p); /* the job returned since: the worker is joined and the pool freed */
    gate_destroy(&g);
    io_uring_queue_exit(&ring);
    printf("close: must_run jobs not started by the bound are cancelled, a blocked one is left "
           "running\n");
}

static void test_defaults(void)
{
    ringo__pool_opts o;
    ringo__pool *p = NULL;

    ringo__pool_opts_init(&o);
    CHECK(o.threads >= 40 && o.threads <= RINGO__POOL_MAX_THREADS);
    CHECK(o.max_queued == RINGO__POOL_DEFAULT_MAX_QUEUED && !o.force_fallback);
    o.threads = RINGO__POOL_MAX_THREADS + 1;
    CHECK(ringo__pool_new(&p, &o) == -EINVAL && p == NULL);
    ringo__pool_free(NULL);
}

/* ---- admission by queue time ---- */

typedef struct adm_job {
    ringo__job job;
    _Atomic int *ran;
    int32_t cancelled_with; /* 0: not cancelled */
} adm_job;

static void adm_run(ringo__job *j) { atomic_fetch_add(container_of(j, adm_job, job)->ran, 1); }

static void adm_cancel(ringo__job *j)
{
    container_of(j, adm_job, job)->cancelled_with = j->cqe_res;
}

static void adm_setup(adm_job *a, _Atomic int *ran, const _Atomic bool *gone, uint64_t deadline)
{
    *a = (adm_job){.ran = ran};
    a->job = (ringo__job){
        .run = adm_run, .cancel = adm_cancel, .ring_fd = -1, .gone = gone, .deadline_ns = deadline};
}

static void test_admission(void)
{
    ringo__pool_opts o = {.threads = 1, .queue_target_ms = 5, .queue_interval_ms = 10};
    _Atomic int ran = 0, gran = 0, gcancelled = 0;
    _Atomic bool gone = false;
    ringo__pool *p;
    ringo__pool_stats st;
    gated_job g;
    adm_job j[5];
    gate gt;

    if (ringo__pool_new(&p, &o) < 0)
        exit(77);
    gate_init(&gt);
    gated_setup(&g, &gt, &gran, &gcancelled, -1, 0);
    CHECK(ringo__pool_submit(p, &g.job) == 0);
    wait_for(&gt.entered, 1); /* the only worker is busy */
    adm_setup(&j[0], &ran, &gone, 0);
    adm_setup(&j[1], &ran, NULL, now_ns() + 15 * 1000000u);
    adm_setup(&j[2], &ran, NULL, 0);
    for (int i = 0; i < 3; i++)
        CHECK(ringo__pool_submit(p, &j[i].job) == 0);
    sleep_ms(20);
    /* Its deadline is closer than the queue delay (the oldest job's age). */
    adm_setup(&j[3], &ran, NULL, now_ns() + 5 * 1000000u);
    CHECK(ringo__pool_submit(p, &j[3].job) == -ETIMEDOUT);
    atomic_store(&gone, true); /* j[0]'s client leaves */
    sleep_ms(20);
    /* A whole interval with the queue standing above the target: overloaded. */
    adm_setup(&j[4], &ran, NULL, 0);
    CHECK(ringo__pool_submit(p, &j[4].job) == -EBUSY);
    ringo__pool_stats_get(p, &st);
    CHECK(st.enqueued == 4 && st.queued == 3 && st.admission_rejected == 1 && st.overloaded == 1);
    CHECK(st.dropped_deadline == 1 && st.rejected == 0);
    gate_open(&gt);
    wait_for(&ran, 1);
    ringo__pool_stop(p, 1000);
    CHECK(j[0].cancelled_with == -ENOTCONN && j[1].cancelled_with == -ETIMEDOUT);
    CHECK(j[2].cancelled_with == 0 && atomic_load(&ran) == 1);
    ringo__pool_stats_get(p, &st);
    CHECK(st.dropped_gone == 1 && st.dropped_deadline == 2 && st.wait_ns >= 40 * 1000000u);
    ringo__pool_free(p);
    gate_destroy(&gt);
    printf("admission: -ETIMEDOUT, -EBUSY at submit; gone and late jobs cancelled, not run\n");
}

/*
 * Leaving overload: an interval in which the queue emptied but requests were
 * refused keeps the pool overloaded (the queue was short because of the
 * refusals); the next interval without refusals leaves it. Intervals of 1 s,
 * every step well more than one apart, so that a descheduled thread cannot
 * merge two of them.
 */
static void test_admission_leave(void)
{
    ringo__pool_opts o = {.threads = 1, .queue_target_ms = 5, .queue_interval_ms = 1000};
    _Atomic int ran = 0, gran = 0, gcancelled = 0;
    ringo__pool *p;
    ringo__pool_stats st;
    gated_job g;
    adm_job j[5];
    gate gt;

    if (ringo__pool_new(&p, &o) < 0)
        exit(77);
    gate_init(&gt);
    gated_setup(&g, &gt, &gran, &gcancelled, -1, 0);
    CHECK(ringo__pool_submit(p, &g.job) == 0);
    wait_for(&gt.entered, 1);
    for (int i = 0; i < 5; i++)
        adm_setup(&j[i], &ran, NULL, 0);
    CHECK(ringo__pool_submit(p, &j[0].job) == 0);
    sleep_ms(1100);
    /* Closes the first interval (the queue was empty in it): a burst older than it. */
    CHECK(ringo__pool_submit(p, &j[1].job) == -EBUSY);
    sleep_ms(1100);
    /* A whole interval with j[0] standing: overloaded, refused. */
    CHECK(ringo__pool_submit(p, &j[2].job) == -EBUSY);
    ringo__pool_stats_get(p, &st);
    CHECK(st.overloaded == 1 && st.admission_rejected == 2);
    gate_open(&gt);
    wait_for(&ran, 1); /* the queue emptied in this interval, which also refused j[2] */
    sleep_ms(1100);
    CHECK(ringo__pool_submit(p, &j[3].job) == 0);
    ringo__pool_stats_get(p, &st);
    CHECK(st.overloaded == 1);
    wait_for(&ran, 2);
    sleep_ms(1100);
    /* An interval with no refusal in which the queue emptied: left. */
    CHECK(ringo__pool_submit(p, &j[4].job) == 0);
    ringo__pool_stats_get(p, &st);
    CHECK(st.overloaded == 0 && st.admission_rejected == 2);
    wait_for(&ran, 3);
    ringo__pool_stop(p, 1000);
    ringo__pool_free(p);
    gate_destroy(&gt);
    printf("admission: an interval that refused requests does not end the overload\n");
}

int main(void)
{
    test_defaults();
    test_routing(0);
    test_routing(1);
    test_pingpong(1);
    test_pingpong(3);
    test_backpressure();
    test_fanout();
    test_forkjoin();
    test_stop_drains();
    test_stop_cancels(0);
    test_stop_cancels(1);
    test_must_run_and_unbounded();
    test_refused_completion();
    test_close_bounds_must_run();
    test_admission();
    test_admission_leave();
    printf("pool_test: ok\n");
    return 0;
}
