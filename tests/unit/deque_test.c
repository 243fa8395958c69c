/*
 * Description: Chase-Lev deque (pool/deque.c). Single-thread semantics (LIFO
 * pop, FIFO steal, growth keeps every item, empty results), then a stress
 * run where the owner pushes and pops while thieves steal: every item must
 * be taken exactly once, and what the owner wrote into an item before
 * pushing it must be what its taker reads (run under TSan to check the
 * hand-over is a proper happens-before).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/alloc.h"
#include "pool/deque.h"

#include "check.h"

#if defined(__SANITIZE_THREAD__)
#define SLOW_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLOW_SANITIZER 1
#endif
#endif
#ifndef SLOW_SANITIZER
#define SLOW_SANITIZER 0
#endif

#define ITEM(i) ((void *)(uintptr_t)(i))
#define THIEVES 3

static void test_lifo_fifo(void)
{
    ringo__deque d;
    void *x = NULL;

    CHECK(ringo__deque_init(&d, 2) == 0);
    CHECK(ringo__deque_pop(&d) == NULL);
    CHECK(ringo__deque_steal(&d, &x) == RINGO__DEQUE_EMPTY);
    for (uintptr_t i = 1; i <= 3; i++)
        CHECK(ringo__deque_push(&d, ITEM(i)) == 0);
    CHECK(ringo__deque_size(&d) == 3);
    CHECK(ringo__deque_steal(&d, &x) == 0 && x == ITEM(1)); /* oldest */
    CHECK(ringo__deque_pop(&d) == ITEM(3));                 /* newest */
    CHECK(ringo__deque_pop(&d) == ITEM(2));
    CHECK(ringo__deque_pop(&d) == NULL);
    CHECK(ringo__deque_steal(&d, &x) == RINGO__DEQUE_EMPTY);
    CHECK(ringo__deque_size(&d) == 0);
    /* Reusable after running empty (bottom went below top and came back). */
    CHECK(ringo__deque_push(&d, ITEM(7)) == 0);
    CHECK(ringo__deque_pop(&d) == ITEM(7));
    ringo__deque_destroy(&d);
}

/* From 4 slots to 1024 items: several growths, with a moving top. */
static void test_growth(void)
{
    ringo__deque d;
    void *x = NULL;
    uintptr_t next_steal = 1;

    CHECK(ringo__deque_init(&d, 2) == 0);
    for (uintptr_t i = 1; i <= 1024; i++) {
        CHECK(ringo__deque_push(&d, ITEM(i)) == 0);
        if (i % 3 == 0) {
            CHECK(ringo__deque_steal(&d, &x) == 0);
            CHECK(x == ITEM(next_steal));
            next_steal++;
        }
    }
    CHECK(ringo__deque_size(&d) == (int64_t)(1024 - (next_steal - 1)));
    for (uintptr_t i = 1024; i >= next_steal; i--)
        CHECK(ringo__deque_pop(&d) == ITEM(i));
    CHECK(ringo__deque_pop(&d) == NULL);
    ringo__deque_destroy(&d);
}

/* ---- stress ---- */

typedef struct item {
    uint64_t payload; /* written by the owner before push */
    uint64_t seen;    /* written by whoever takes it */
    _Atomic int taken;
} item;

typedef struct stress {
    ringo__deque d;
    item *items;
    size_t n;
    _Atomic int done;
    _Atomic size_t taken;
    size_t stolen[THIEVES];
} stress;

static void take(stress *s, item *it)
{
    CHECK(it->payload == (uint64_t)(it - s->items) * 2654435761u);
    it->seen = it->payload;
    CHECK(atomic_fetch_add(&it->taken, 1) == 0);
    atomic_fetch_add_explicit(&s->taken, 1, memory_order_relaxed);
}

typedef struct thief_arg {
    stress *s;
    int id;
} thief_arg;

static void *thief(void *arg)
{
    thief_arg *a = arg;
    stress *s = a->s;

    for (;;) {
        void *x;
        int r = ringo__deque_steal(&s->d, &x);
        if (r == 0) {
            take(s, x);
            s->stolen[a->id]++;
        } else if (r == RINGO__DEQUE_EMPTY && atomic_load(&s->done)) {
            return NULL;
        }
    }
}

/* Owner: bursts of pushes, each followed by a smaller burst of pops, so the
 * deque often runs down to its last item while thieves race for it. */
static void owner(stress *s)
{
    uint64_t rng = 88172645463325252ull;
    size_t i = 0;

    while (i < s->n) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        size_t burst = 1 + rng % 8, pops = rng / 8 % 8;
        for (size_t k = 0; k < burst && i < s->n; k++, i++) {
            s->items[i].payload = (uint64_t)i * 2654435761u;
            CHECK(ringo__deque_push(&s->d, &s->items[i]) == 0);
        }
        for (size_t k = 0; k < pops; k++) {
            item *it = ringo__deque_pop(&s->d);
            if (it)
                take(s, it);
        }
    }
    for (item *it; (it = ringo__deque_pop(&s->d));)
        take(s, it);
    atomic_store(&s->done, 1);
}

static void test_stress(size_t n)
{
    stress s = {.n = n};
    pthread_t th[THIEVES];
    thief_arg args[THIEVES];
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    s.items = ringo__calloc(n, sizeof(item));
    CHECK(s.items);
    CHECK(ringo__deque_init(&s.d, 2) == 0); /* small: growth races with thieves */
    for (int i = 0; i < THIEVES; i++) {
        args[i] = (thief_arg){&s, i};
        CHECK(pthread_create(&th[i], NULL, thief, &args[i]) == 0);
    }
    owner(&s);
    size_t stolen = 0;
    for (int i = 0; i < THIEVES; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        stolen += s.stolen[i];
    }
    CHECK(atomic_load(&s.taken) == n);
    for (size_t i = 0; i < n; i++)
        CHECK(atomic_load(&s.items[i].taken) == 1 && s.items[i].seen == s.items[i].payload);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("stress: %zu items, %zu stolen by %d thieves, %.0f ms\n", n, stolen, THIEVES,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    ringo__deque_destroy(&s.d);
    ringo__free(s.items);
}

int main(void)
{
    test_lifo_fifo();
    test_growth();
#if SLOW_SANITIZER
    test_stress(200000); /* TSan is ~10x slower; this still finishes in seconds */
#else
    test_stress(2000000);
#endif
    printf("deque_test: ok\n");
    return 0;
}
