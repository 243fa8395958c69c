/*
 * core/timer.c - per-ring deadlines: a binary min-heap of connections.
 *
 * A connection has at most one entry, keyed by the earliest of its protocol
 * deadline (header, body, keep-alive idle) and its I/O deadline (send stall,
 * lingering close). The ring's periodic tick and every loop iteration pop
 * what has expired; the cost per iteration with nothing due is one compare.
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

void ringo__timer_update(ringo__ring *r, ringo__conn *c)
{
    uint64_t d = c->proto_deadline;

    if (c->io_deadline && (!d || c->io_deadline < d))
        d = c->io_deadline;
    if (!d) {
        ringo__timer_remove(r, c);
        return;
    }
    c->deadline = d;
    if (c->heap_idx == NO_SLOT) {
        place(r, r->heap_len++, c);
        sift_up(r, c->heap_idx);
        return;
    }
    sift_up(r, c->heap_idx);
    sift_down(r, c->heap_idx);
}

void ringo__timer_run(ringo__ring *r)
{
    while (r->heap_len && r->heap[0]->deadline <= r->now) {
        ringo__conn *c = r->heap[0];
        ringo__timer_remove(r, c);
        ringo__conn_ref(c);
        ringo__conn_expire(c);
        ringo__conn_unref(c);
    }
}
