/*
 * pool_bench - micro-benchmarks of the sync-handler pool (pool/).
 *
 * roundtrip: a thread owning a SINGLE_ISSUER | DEFER_TASKRUN ring submits a
 *   no-op job and waits for its MSG_RING completion CQE, one at a time: the
 *   fixed cost a RINGO_SYNC request pays over a RINGO_ASYNC one (queue push,
 *   wake-up of a worker, MSG_RING, the ring's wake-up). Every round trip is
 *   timed; median and p99 are over all of them, plus the median and p99 of
 *   the per-batch means. Measured with the registered synchronous MSG_RING
 *   and with the per-worker-ring fallback.
 * steal: one job splits a range into 2^14 leaves with ringo_spawn/ringo_join
 *   (binary recursion, 2^14 - 1 spawns and joins); idle workers steal the
 *   subtrees. Reported as spawned subtasks per second at the median batch
 *   time, median and p99 batch times, and the share of leaves that ran on
 *   another worker than the job's. Run with 1 worker for the serial cost of
 *   spawn/join itself.
 *
 * Usage: micro_pool_bench [--quick]. Numbers are only comparable within one
 * run on one machine.
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

static int quick;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Sorts v in place; returns the q-quantile (0..1). */
static uint64_t quantile(uint64_t *v, size_t n, double q)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static ringo__pool *pool_start(unsigned threads, int fallback)
{
    ringo__pool_opts o = {.threads = threads, .force_fallback = fallback};
    ringo__pool *p = NULL;
    int ret = ringo__pool_new(&p, &o);

    if (ret < 0) {
        fprintf(stderr, "pool_bench: pool: %s\n", strerror(-ret));
        exit(ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP ? 77 : 1);
    }
    return p;
}

/* ---- round trip ---- */

static void noop_run(ringo__job *j) { (void)j; }

typedef struct rt_arg {
    ringo__pool *pool;
    size_t batches, per_batch;
    uint64_t *ops;   /* every round trip, ns */
    uint64_t *means; /* per batch */
    int err;
} rt_arg;

static int roundtrip_once(struct io_uring *ring, ringo__pool *p, ringo__job *job)
{
    struct io_uring_cqe *cqe;
    int ret;

    while ((ret = ringo__pool_submit(p, job)) == -EAGAIN)
        ;
    if (ret < 0)
        return ret;
    ret = io_uring_submit_and_wait(ring, 1);
    if (ret < 0)
        return ret;
    ret = io_uring_peek_cqe(ring, &cqe);
    if (ret < 0)
        return ret;
    ringo__pool_job_acquire((ringo__job *)(uintptr_t)cqe->user_data);
    io_uring_cqe_seen(ring, cqe);
    return 0;
}

static void *roundtrip_main(void *arg)
{
    rt_arg *a = arg;
    struct io_uring ring;
    ringo__job job;

    a->err =
        io_uring_queue_init(64, &ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    if (a->err < 0)
        return NULL;
    job = (ringo__job){.run = noop_run, .ring_fd = ring.ring_fd, .cqe_data = (uintptr_t)&job};
    for (int i = 0; i < 1000 && a->err == 0; i++) /* warm up */
        a->err = roundtrip_once(&ring, a->pool, &job);
    for (size_t b = 0; b < a->batches && a->err == 0; b++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < a->per_batch && a->err == 0; i++) {
            uint64_t t0 = now_ns();
            a->err = roundtrip_once(&ring, a->pool, &job);
            uint64_t dt = now_ns() - t0;
            a->ops[b * a->per_batch + i] = dt;
            sum += dt;
        }
        a->means[b] = sum / a->per_batch;
    }
    io_uring_queue_exit(&ring);
    return NULL;
}

static int bench_roundtrip(unsigned threads, int fallback)
{
    rt_arg a = {.batches = quick ? 20 : 100, .per_batch = quick ? 200 : 1000};
    pthread_t th;
    size_t n = a.batches * a.per_batch;

    a.pool = pool_start(threads, fallback);
    a.ops = ringo__calloc(n, sizeof(uint64_t));
    a.means = ringo__calloc(a.batches, sizeof(uint64_t));
    if (!a.ops || !a.means || pthread_create(&th, NULL, roundtrip_main, &a) != 0)
        return -ENOMEM;
    pthread_join(th, NULL);
    if (a.err == 0)
        printf("roundtrip  %-10s threads=%-3u per-op median %6llu ns  p99 %7llu ns | "
               "batch mean median %6llu ns  p99 %6llu ns  (%zu x %zu)\n",
               ringo__msgring_mode_name(ringo__pool_msgring_mode(a.pool)), threads,
               (unsigned long long)quantile(a.ops, n, 0.5),
               (unsigned long long)quantile(a.ops, n, 0.99),
               (unsigned long long)quantile(a.means, a.batches, 0.5),
               (unsigned long long)quantile(a.means, a.batches, 0.99), a.batches, a.per_batch);
    ringo__pool_free(a.pool);
    ringo__free(a.ops);
    ringo__free(a.means);
    return a.err;
}

/* ---- steal throughput ---- */

#define LEAVES (1u << 14)
#define LEAF_WORK 64

typedef struct tree {
    uint64_t lo, hi, sum;
    int root_worker;
    _Atomic uint64_t *remote; /* leaves run off the job's worker */
} tree;

static void tree_run(void *arg)
{
    tree *t = arg;

    if (t->hi - t->lo <= LEAF_WORK) {
        uint64_t s = 0;
        for (uint64_t i = t->lo; i < t->hi; i++)
            s += i * i;
        t->sum = s;
        if (ringo_pool_worker_id() != t->root_worker)
            atomic_fetch_add_explicit(t->remote, 1, memory_order_relaxed);
        return;
    }
    uint64_t mid = t->lo + (t->hi - t->lo) / 2;
    tree a = {t->lo, mid, 0, t->root_worker, t->remote};
    tree b = {mid, t->hi, 0, t->root_worker, t->remote};
    ringo_subtask task;
    ringo_spawn(&task, tree_run, &a);
    tree_run(&b);
    ringo_join(&task);
    t->sum = a.sum + b.sum;
}

typedef struct tree_job {
    ringo__job job;
    tree t;
    pthread_mutex_t lock; /* the waiting thread sleeps: it must not take a CPU */
    pthread_cond_t cond;
    int done;
} tree_job;

static void tree_job_run(ringo__job *j)
{
    tree_job *tj = (tree_job *)(void *)j;

    tj->t.root_worker = ringo_pool_worker_id();
    tree_run(&tj->t);
    pthread_mutex_lock(&tj->lock);
    tj->done = 1;
    pthread_cond_signal(&tj->cond);
    pthread_mutex_unlock(&tj->lock);
}

static uint64_t tree_once(ringo__pool *p, _Atomic uint64_t *remote, uint64_t *sum)
{
    tree_job tj = {.job = {.run = tree_job_run, .ring_fd = -1}};
    uint64_t t0 = now_ns();

    pthread_mutex_init(&tj.lock, NULL);
    pthread_cond_init(&tj.cond, NULL);
    tj.t = (tree){0, (uint64_t)LEAVES * LEAF_WORK, 0, -1, remote};
    if (ringo__pool_submit(p, &tj.job) < 0)
        return 0;
    pthread_mutex_lock(&tj.lock);
    while (!tj.done)
        pthread_cond_wait(&tj.cond, &tj.lock);
    pthread_mutex_unlock(&tj.lock);
    uint64_t dt = now_ns() - t0;
    pthread_cond_destroy(&tj.cond);
    pthread_mutex_destroy(&tj.lock);
    *sum = tj.t.sum;
    return dt;
}

static int bench_steal(unsigned threads)
{
    ringo__pool *p = pool_start(threads, 0);
    size_t batches = quick ? 10 : 50;
    uint64_t *times = ringo__calloc(batches, sizeof(uint64_t));
    _Atomic uint64_t remote = 0;
    uint64_t sum = 0, n = (uint64_t)LEAVES * LEAF_WORK, expect = 0;

    if (!times)
        return -ENOMEM;
    for (uint64_t i = 0; i < n; i++)
        expect += i * i;
    tree_once(p, &remote, &sum); /* warm up */
    atomic_store(&remote, 0);
    for (size_t b = 0; b < batches; b++) {
        times[b] = tree_once(p, &remote, &sum);
        if (!times[b] || sum != expect) {
            fprintf(stderr, "pool_bench: steal: wrong sum\n");
            return -EPROTO;
        }
    }
    double tasks = LEAVES - 1.0; /* spawns: one per inner node of the binary tree */
    uint64_t med = quantile(times, batches, 0.5), p99 = quantile(times, batches, 0.99);
    printf("steal      threads=%-3u %u leaves: median %7.2f ms (%5.2f M spawns/s)  p99 %7.2f ms"
           "  | %.0f%% of leaves stolen\n",
           threads, LEAVES, (double)med / 1e6, tasks / ((double)med / 1e9) / 1e6, (double)p99 / 1e6,
           100.0 * (double)atomic_load(&remote) / ((double)batches * LEAVES));
    ringo__pool_free(p);
    ringo__free(times);
    return 0;
}

int main(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned cores = cpus > 0 ? (unsigned)cpus : 1;
    unsigned def = ringo__pool_default_threads();
    int ret = 0;

    quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    printf("pool_bench: %u CPUs, default pool %u threads, MSG_RING mode %s\n", cores, def,
           ringo__msgring_mode_name(ringo__msgring_probe()));
    for (int fb = 0; fb < 2 && ret == 0; fb++) {
        ret = bench_roundtrip(def, fb);
        if (ret == 0)
            ret = bench_roundtrip(1, fb);
    }
    if (ret == 0)
        ret = bench_steal(1); /* the serial baseline: spawn/join on one deque */
    if (ret == 0 && cores > 1)
        ret = bench_steal(cores);
    if (ret == 0 && def != cores)
        ret = bench_steal(def);
    if (ret < 0)
        fprintf(stderr, "pool_bench: %s\n", strerror(-ret));
    return ret < 0 ? 1 : 0;
}
