/*
 * perf/micro/coro_bench.c - cost of the coroutine primitives, in ns.
 *
 *   switch round trip   resume + yield (two context switches)
 *   create+finish       create with a cached stack, run a function that
 *                       returns at once, free (the cost of an async handler
 *                       that completes without awaiting, minus the handler)
 *   create+finish/mmap  the same with caching disabled: what the pool saves
 *
 * Each figure is measured over repeated batches; the table gives the median
 * per operation and the spread (min, 10th and 90th percentile, max) across
 * batches. Usage: coro_bench [batches (default 31)] [scale (default 1)].
 * Absolute numbers depend on the machine; compare them within one run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/coro.h"
#include "core/stack.h"

typedef void (*batch_fn)(ringo__stack_pool *p, long n);

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void yield_forever(void *arg)
{
    (void)arg;
    for (;;)
        ringo__coro_yield();
}

static ringo__coro *looper;

static void batch_switch(ringo__stack_pool *p, long n)
{
    (void)p;
    for (long i = 0; i < n; i++)
        ringo__coro_resume(looper);
}

static void nothing(void *arg) { (void)arg; }

static void batch_create(ringo__stack_pool *p, long n)
{
    for (long i = 0; i < n; i++) {
        ringo__coro *c;

        if (ringo__coro_create(&c, p, 0, nothing, NULL, "bench") != 0) {
            fprintf(stderr, "coro_bench: create failed\n");
            exit(1);
        }
        ringo__coro_resume(c);
        ringo__coro_free(c);
    }
}

static void measure(const char *name, batch_fn fn, ringo__stack_pool *p, long per_batch,
                    int batches)
{
    double *ns = malloc(sizeof(double) * (size_t)batches);

    if (!ns)
        exit(1);
    fn(p, per_batch); /* warm up: caches, stack pages, branch predictors */
    for (int b = 0; b < batches; b++) {
        double t0 = now_ns();

        fn(p, per_batch);
        ns[b] = (now_ns() - t0) / (double)per_batch;
    }
    qsort(ns, (size_t)batches, sizeof(double), cmp_double);
    printf("%-22s %9.2f %9.2f %9.2f %9.2f %9.2f %10ld x %d\n", name, ns[batches / 2], ns[0],
           ns[batches / 10], ns[batches - 1 - batches / 10], ns[batches - 1], per_batch, batches);
    free(ns);
}

int main(int argc, char **argv)
{
    int batches = argc > 1 ? atoi(argv[1]) : 31;
    long scale = argc > 2 ? atol(argv[2]) : 1;
    ringo__stack_pool cached, uncached;

    if (batches < 1 || scale < 1) {
        fprintf(stderr, "usage: coro_bench [batches] [scale]\n");
        return 2;
    }
    if (ringo__coro_thread_init() != 0 || ringo__stack_pool_init(&cached, 0, 16) != 0 ||
        ringo__stack_pool_init(&uncached, 0, 0) != 0 ||
        ringo__coro_create(&looper, &cached, 0, yield_forever, NULL, "bench") != 0) {
        fprintf(stderr, "coro_bench: setup failed\n");
        return 1;
    }
    printf("ns per operation; stack %zu bytes\n", ringo__stack_pool_round(&cached, 0));
    printf("%-22s %9s %9s %9s %9s %9s %s\n", "operation", "median", "min", "p10", "p90", "max",
           "batch");
    measure("switch round trip", batch_switch, &cached, 1000000 * scale, batches);
    measure("create+finish", batch_create, &cached, 200000 * scale, batches);
    measure("create+finish/mmap", batch_create, &uncached, 2000 * scale, batches);
    /* looper never finishes: its stack stays live, which is fine at exit. */
    ringo__stack_pool_destroy(&uncached);
    ringo__coro_thread_exit();
    return 0;
}
