/*
 * Description: the ring's timer heap (core/timer.c). A connection's key moves
 * earlier at once and stays early when its deadline moves later (re-keyed
 * when the early key comes due, not expired); a cleared deadline is dropped
 * when its stale key comes due; removal from the root, the middle and the
 * end keeps the heap; running the due keys expires exactly the connections
 * whose deadline passed, also when an expiry re-arms its connection. Then
 * 200000 random operations on 64 connections are checked against a
 * brute-force model (the deadlines themselves) after every step.
 *
 * timer.c is core-internal: it is included here with a minimal ring and
 * connection that hold only what the heap uses, so the test does not depend
 * on the rest of core/ring_impl.h.
 */
#define RINGO_CORE_RING_IMPL_H /* the minimal structs below stand in for core's */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/ring.h"

struct ringo__conn {
    uint32_t heap_idx;
    uint64_t deadline, proto_deadline, io_deadline;
    /* Test state. */
    ringo__ring *ring;
    unsigned expired;  /* ringo__conn_expire() calls */
    uint32_t rearm_ms; /* an expiry of the protocol deadline arms the next one */
    int refs;
};

struct ringo__ring {
    ringo__conn **heap;
    uint32_t heap_len;
    uint64_t now;
};

void ringo__timer_update(ringo__ring *r, ringo__conn *c);
void ringo__timer_remove(ringo__ring *r, ringo__conn *c);
void ringo__timer_run(ringo__ring *r);
void ringo__conn_expire(ringo__conn *c);

#include "core/timer.c"

void ringo__conn_ref(ringo__conn *c) { c->refs++; }
void ringo__conn_unref(ringo__conn *c) { c->refs--; }

/* What core/conn.c does when the heap says a connection is due. */
void ringo__conn_expire(ringo__conn *c)
{
    ringo__ring *r = c->ring;

    CHECK(c->refs == 1);
    c->expired++;
    if (c->io_deadline && c->io_deadline <= r->now) {
        /* Send stall or linger over: the connection closes. */
        c->io_deadline = c->proto_deadline = 0;
        ringo__timer_remove(r, c);
        return;
    }
    CHECK(c->proto_deadline && c->proto_deadline <= r->now);
    c->proto_deadline = c->rearm_ms ? r->now + c->rearm_ms : 0;
    ringo__timer_update(r, c);
}

#define N 64

static ringo__ring ring;
static ringo__conn conns[N];
static ringo__conn *heap[N];

static void reset(void)
{
    memset(conns, 0, sizeof(conns));
    ring = (ringo__ring){heap, 0, 1000};
    for (int i = 0; i < N; i++) {
        conns[i].heap_idx = NO_SLOT;
        conns[i].ring = &ring;
    }
}

static uint64_t real_deadline(const ringo__conn *c)
{
    uint64_t d = c->proto_deadline;

    if (c->io_deadline && (!d || c->io_deadline < d))
        d = c->io_deadline;
    return d;
}

/* Heap order, back-pointers, and no connection's key later than its deadline. */
static void check_heap(void)
{
    unsigned in_heap = 0;

    for (uint32_t i = 0; i < ring.heap_len; i++) {
        CHECK(ring.heap[i]->heap_idx == i);
        if (i)
            CHECK(ring.heap[(i - 1) / 2]->deadline <= ring.heap[i]->deadline);
    }
    for (int i = 0; i < N; i++) {
        ringo__conn *c = &conns[i];
        uint64_t d = real_deadline(c);
        if (c->heap_idx != NO_SLOT) {
            CHECK(c->heap_idx < ring.heap_len && ring.heap[c->heap_idx] == c);
            in_heap++;
        }
        if (d)
            CHECKF(c->heap_idx != NO_SLOT && c->deadline <= d,
                   "conn %d: deadline %llu, key %llu, slot %u", i, (unsigned long long)d,
                   (unsigned long long)c->deadline, c->heap_idx);
    }
    CHECK(in_heap == ring.heap_len);
}

static void arm(ringo__conn *c, uint64_t proto, uint64_t io)
{
    c->proto_deadline = proto;
    c->io_deadline = io;
    ringo__timer_update(&ring, c);
}

/* What a close does: no deadlines, out of the heap. */
static void drop(ringo__conn *c)
{
    c->proto_deadline = c->io_deadline = 0;
    ringo__timer_remove(&ring, c);
}

static void test_earlier_and_later(void)
{
    reset();
    for (int i = 0; i < 8; i++)
        arm(&conns[i], 2000 + 100 * (uint64_t)i, 0);
    check_heap();
    CHECK(ring.heap[0] == &conns[0]);
    /* Earlier: the key moves to the root at once. */
    arm(&conns[5], 1500, 0);
    check_heap();
    CHECK(ring.heap[0] == &conns[5] && conns[5].deadline == 1500);
    /* Later: the key stays where it was; due, it is re-keyed, not expired. */
    arm(&conns[5], 5000, 0);
    check_heap();
    CHECK(conns[5].deadline == 1500 && ring.heap[0] == &conns[5]);
    ring.now = 1600;
    ringo__timer_run(&ring);
    check_heap();
    CHECK(conns[5].expired == 0 && conns[5].deadline == 5000);
    CHECK(ring.heap[0] == &conns[0]);
    /* The I/O deadline counts when it is the earlier one. */
    arm(&conns[5], 5000, 1700);
    CHECK(ring.heap[0] == &conns[5] && conns[5].deadline == 1700);
    ring.now = 1700;
    ringo__timer_run(&ring);
    CHECK(conns[5].expired == 1 && conns[5].heap_idx == NO_SLOT);
    check_heap();
}

static void test_cleared_and_removed(void)
{
    reset();
    for (int i = 0; i < 10; i++)
        arm(&conns[i], 3000 - 100 * (uint64_t)i, 0);
    check_heap();
    /* Cleared: the stale key is dropped when it comes due, no expiry. */
    arm(&conns[9], 0, 0);
    check_heap();
    CHECK(conns[9].heap_idx != NO_SLOT);
    ring.now = 2100;
    ringo__timer_run(&ring);
    CHECK(conns[9].expired == 0 && conns[9].heap_idx == NO_SLOT);
    check_heap();
    /* Removal: the root, one in the middle, the last slot, twice (idempotent). */
    drop(ring.heap[0]);
    check_heap();
    drop(ring.heap[ring.heap_len / 2]);
    check_heap();
    ringo__conn *last = ring.heap[ring.heap_len - 1];
    drop(last);
    drop(last);
    check_heap();
    CHECK(ring.heap_len == 6);
    while (ring.heap_len)
        drop(ring.heap[ring.heap_len - 1]);
    check_heap();
    ringo__timer_run(&ring); /* empty: nothing to do */
    for (int i = 0; i < N; i++)
        CHECK(conns[i].expired == 0);
}

static void test_run_due(void)
{
    reset();
    for (int i = 0; i < N; i++)
        arm(&conns[i], 1000 + 10 * (uint64_t)(i % 16), 0);
    conns[3].rearm_ms = 5; /* expiring re-arms it while the heap is being run */
    ring.now = 1000 + 10 * 7;
    ringo__timer_run(&ring);
    check_heap();
    for (int i = 0; i < N; i++)
        CHECKF(conns[i].expired == (i % 16 <= 7), "conn %d expired %u times", i, conns[i].expired);
    CHECK(conns[3].proto_deadline == ring.now + 5);
    ringo__timer_run(&ring); /* nothing more is due at the same time */
    for (int i = 0; i < N; i++)
        CHECK(conns[i].expired == (i % 16 <= 7));
    CHECK(ring.heap_len == N / 2 + 1);
    CHECK(ring.heap[0]->deadline > ring.now);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(uint64_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state % n;
}

/* Runs the due keys and checks that exactly the connections due expired. */
static void random_run(void)
{
    unsigned before[N];
    bool due[N];

    for (int i = 0; i < N; i++) {
        uint64_t d = real_deadline(&conns[i]);
        before[i] = conns[i].expired;
        due[i] = d && d <= ring.now;
    }
    ringo__timer_run(&ring);
    for (int i = 0; i < N; i++) {
        uint64_t d = real_deadline(&conns[i]);
        CHECKF(conns[i].expired == before[i] + due[i], "conn %d: due %d, expired %u -> %u", i,
               due[i], before[i], conns[i].expired);
        CHECKF(!d || d > ring.now, "conn %d still due after a run", i);
    }
    CHECK(!ring.heap_len || ring.heap[0]->deadline > ring.now);
}

static void test_random(void)
{
    reset();
    for (int step = 0; step < 200000; step++) {
        ringo__conn *c = &conns[rnd(N)];
        switch (rnd(8)) {
        case 0:
        case 1: arm(c, ring.now + 1 + rnd(500), c->io_deadline); break;
        case 2: arm(c, c->proto_deadline, ring.now + 1 + rnd(500)); break;
        case 3: arm(c, rnd(4) ? c->proto_deadline : 0, rnd(2) ? c->io_deadline : 0); break;
        case 4: drop(c); break;
        case 5: c->rearm_ms = rnd(3) ? 0 : (uint32_t)(1 + rnd(100)); break;
        default:
            ring.now += rnd(60);
            random_run();
            break;
        }
        check_heap();
    }
}

int main(void)
{
    test_earlier_and_later();
    test_cleared_and_removed();
    test_run_due();
    test_random();
    printf("timer_test: ok\n");
    return 0;
}
