/*
 * core/timer.c - per-ring deadlines: a binary min-heap of connections.
 *
 * A connection has at most one entry. Its key is a time by which the ring
 * must look at the connection: never later than the earliest of its
 * protocol deadline (header, body, keep-alive idle) and its I/O deadline
 * (send stall, lingering close), but possibly earlier. Deadlines move on
 * every request, mostly later; a later deadline leaves the key alone, so
 * the common update costs a compare instead of a sift through the heap.
 * When a key comes due, the real deadline is recomputed: expired, later
 * (re-keyed), or none (dropped). Every loop iteration pops what is due;
 * with nothing due that is one compare. The ring arms its one io_uring
 * timeout for the smallest key (ringo__timer_next), so an idle ring sleeps.
 */
#include <stdint.h>

#include "core/ring_impl.h"

#define NO_SLOT UINT32_MAX

static void place(ringo__ring *r, uint32_t i, ringo__conn *c)
{
    r->heap[i] = c;
    c->heap_idx = i;
}

static void sift_up(ringo__ring *r, uint32_t i)
{
    ringo__conn *c = r->heap[i];

    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (r->heap[parent]->deadline <= c->deadline)
            break;
        place(r, i, r->heap[parent]);
        i = parent;
    }
    place(r, i, c);
}

static void sift_down(ringo__ring *r, uint32_t i)
{
    ringo__conn *c = r->heap[i];

    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        uint64_t best = c->deadline;
        if (l < r->heap_len && r->heap[l]->deadline < best)
            m = l, best = r->heap[l]->deadline;
        if (l + 1 < r->heap_len && r->heap[l + 1]->deadline < best)
            m = l + 1;
        if (m == i)
            break;
        place(r, i, r->heap[m]);
        i = m;
    }
    place(r, i, c);
}

void ringo__timer_remove(ringo__ring *r, ringo__conn *c)
{
    uint32_t i = c->heap_idx;
    ringo__conn *last;

    if (i == NO_SLOT)
        return;
    c->heap_idx = NO_SLOT;
    last = r->heap[--r->heap_len];
    if (last == c)
        return;
    place(r, i, last);
    sift_up(r, i);
    sift_down(r, last->heap_idx);
}

static uint64_t earliest(const ringo__conn *c)
{
    uint64_t d = c->proto_deadline;

    if (c->io_deadline && (!d || c->io_deadline < d))
        d = c->io_deadline;
    return d;
}

void ringo__timer_update(ringo__ring *r, ringo__conn *c)
{
    uint64_t d = earliest(c);

    if (!d)
        return; /* the stale key is dropped when it comes due */
    if (c->heap_idx == NO_SLOT) {
        c->deadline = d;
        place(r, r->heap_len++, c);
        sift_up(r, c->heap_idx);
    } else if (d < c->deadline) {
        c->deadline = d;
        sift_up(r, c->heap_idx);
    }
}

void ringo__timer_run(ringo__ring *r)
{
    while (r->heap_len && r->heap[0]->deadline <= r->now) {
        ringo__conn *c = r->heap[0];
        uint64_t d = earliest(c);
        if (d > r->now) {
            c->deadline = d; /* not due yet: the key was early */
            sift_down(r, 0);
            continue;
        }
        ringo__timer_remove(r, c);
        if (!d)
            continue;
        ringo__conn_ref(c);
        ringo__conn_expire(c);
        ringo__conn_unref(c);
    }
}

uint64_t ringo__timer_next(const ringo__ring *r) { return r->heap_len ? r->heap[0]->deadline : 0; }
