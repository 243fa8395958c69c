/*
 * http/ws/group.c - WebSocket groups (ringo/ws.h): one message to many
 * WebSockets on any ring, without a lock on the send path.
 *
 * A group keeps one member list per ring, touched only by that ring's
 * thread: a WebSocket joins and leaves on its own ring. A send frames the
 * message once into a reference-counted block, writes it to the members of
 * the sender's ring directly, and posts one CQE (IORING_OP_MSG_RING from the
 * sender's ring, core/ring.c ringo__ring_post) to every other ring whose
 * member count is not zero; that ring writes it to its own members from its
 * CQE loop. The last ring done with the block frees it. Each ring receives
 * a sender's messages in the order they were sent (one SQ, one target CQ).
 *
 * A ring's member count is all a sender reads of another ring's list: a
 * WebSocket that joins on another ring while a message is sent may or may
 * not get that message. (The count is released by a join and acquired by
 * a sender, so the target ring's setup happens before the sender names
 * its fd.)
 *
 * Slow members: a group send never waits. A member whose unsent output
 * would pass its route's max_send_queue is closed with 1008 (policy
 * violation) instead, so a reader that stopped costs at most that much.
 *
 * Memory ordering of the hand-off: the kernel orders the sender's writes to
 * the block before the target's CQE, which ThreadSanitizer cannot see: the
 * sender calls __tsan_release(block) before posting and the target
 * __tsan_acquire(block) (TSan builds only), as the pool does.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/util.h"
#include "http/ws/ws_impl.h"

/* One ring's members, padded to a cache line so that rings rarely share one. */
typedef struct slot {
    ringo__ws_member *head;
    _Atomic uint64_t n;
    char pad[64 - sizeof(void *) - sizeof(uint64_t)];
} slot;

struct ringo_ws_group {
    ringo_app *app;
    unsigned nrings;
    slot *slots;
    struct ringo_ws_group *next; /* the app's groups */
};

struct bcast;

/* The part of a message addressed to one ring. */
typedef struct target {
    ringo__completion deliver; /* the target ring's CQE */
    ringo__completion failed;  /* the sender's, if the kernel refused the post */
    struct bcast *m;
    unsigned ring;
    unsigned tries; /* posts refused for a transient reason */
} target;

/* Posts of one message to one ring refused for want of kernel memory, then given up. */
#define POST_TRIES 8

typedef struct bcast {
    _Atomic uint32_t refs;
    struct ringo_ws_group *g;
    const ringo_ws *except;
    size_t len;
    target *t; /* nrings entries, after the struct */
    char *frame;
} bcast;

/* The apps' group lists: creation and freeing are rare, sends never take it. */
static pthread_mutex_t groups_mu = PTHREAD_MUTEX_INITIALIZER;

int ringo_ws_group_new(ringo_app *app, ringo_ws_group **out)
{
    ringo_ws_group *g;
    unsigned n;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!app)
        return -EINVAL;
    /* Before start the rings are not counted yet: count them the way start will. */
    n = app->srv.nrings ? app->srv.nrings : ringo__server_threads(&app->srv.cfg);
    g = ringo__calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->slots = ringo__calloc(n, sizeof(slot));
    if (!g->slots) {
        ringo__free(g);
        return -ENOMEM;
    }
    g->app = app;
    g->nrings = n;
    pthread_mutex_lock(&groups_mu);
    g->next = app->ws_groups;
    app->ws_groups = g;
    pthread_mutex_unlock(&groups_mu);
    *out = g;
    return 0;
}

static void group_free(ringo_ws_group *g)
{
    ringo__free(g->slots);
    ringo__free(g);
}

void ringo_ws_group_free(ringo_ws_group *g)
{
    ringo_ws_group **pp;

    if (!g || g->app->srv.running)
        return; /* running: freed with the app, a message may still be on its way */
    pthread_mutex_lock(&groups_mu);
    for (pp = &g->app->ws_groups; *pp && *pp != g; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = g->next;
    pthread_mutex_unlock(&groups_mu);
    group_free(g);
}

void ringo__ws_groups_free(ringo_app *app)
{
    ringo_ws_group *g = app->ws_groups, *next;

    app->ws_groups = NULL;
    for (; g; g = next) {
        next = g->next;
        group_free(g);
    }
}

uint64_t ringo_ws_group_size(const ringo_ws_group *g)
{
    uint64_t n = 0;

    for (unsigned i = 0; g && i < g->nrings; i++)
        n += atomic_load_explicit(&g->slots[i].n, memory_order_relaxed);
    return n;
}

/* ---- membership (the member's ring) ---- */

static unsigned ring_of(const ringo_ws *ws) { return ringo__ring_id(ringo__conn_ring(ws->conn)); }

static void unlink_member(ringo__ws_member *m, unsigned ring)
{
    slot *sl = &m->g->slots[ring];

    if (m->prev)
        m->prev->next = m->next;
    else
        sl->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    atomic_fetch_sub_explicit(&sl->n, 1, memory_order_relaxed);
}

int ringo_ws_group_join(ringo_ws_group *g, ringo_ws *ws)
{
    ringo__ws_member *m;
    unsigned ring;
    slot *sl;

    if (!g || !ringo__ws_in_handler(ws))
        return -EPERM;
    if (!ws->conn || ws->state != WS_OPEN || ws->cancelled)
        return -ECANCELED;
    if (ws->s->app != g->app)
        return -EINVAL; /* another app's rings would share g's lists */
    for (m = ws->groups; m; m = m->ws_next)
        if (m->g == g)
            return -EALREADY;
    ring = ring_of(ws);
    if (ring >= g->nrings || !(m = ringo__calloc(1, sizeof(*m))))
        return -ENOMEM;
    sl = &g->slots[ring];
    m->ws = ws;
    m->g = g;
    m->ring = ring;
    m->next = sl->head;
    if (sl->head)
        sl->head->prev = m;
    sl->head = m;
    m->ws_next = ws->groups;
    ws->groups = m;
    atomic_fetch_add_explicit(&sl->n, 1, memory_order_release);
    return 0;
}

int ringo_ws_group_leave(ringo_ws_group *g, ringo_ws *ws)
{
    ringo__ws_member **pp, *m;

    if (!g || !ringo__ws_in_handler(ws))
        return -EPERM;
    for (pp = &ws->groups; *pp && (*pp)->g != g; pp = &(*pp)->ws_next)
        ;
    if (!(m = *pp))
        return -ENOENT;
    *pp = m->ws_next;
    unlink_member(m, m->ring);
    ringo__free(m);
    return 0;
}

void ringo__ws_leave_all(ringo_ws *ws)
{
    ringo__ws_member *m = ws->groups, *next;

    ws->groups = NULL;
    for (; m; m = next) {
        next = m->ws_next;
        unlink_member(m, m->ring);
        ringo__free(m);
    }
}

/* ---- sending ---- */

static void bcast_unref(bcast *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        ringo__free(m);
}

/* Writes the message to every member on this ring (the list may lose members meanwhile). */
static void deliver_local(bcast *m, unsigned ring)
{
    ringo__ws_member *mb, *next;

    if (ring >= m->g->nrings)
        return;
    for (mb = m->g->slots[ring].head; mb; mb = next) {
        next = mb->next;
        if (mb->ws != m->except)
            ringo__ws_deliver(mb->ws, m->frame, m->len);
    }
}

static void delivered(ringo__completion *comp, int32_t res, uint32_t flags)
{
    target *t = ringo__container_of(comp, target, deliver);
    bcast *m = t->m;

    (void)res;
    (void)flags;
    ringo__tsan_acquire(m);
    deliver_local(m, t->ring);
    ringo__ring_post_done(ringo__ring_current());
    bcast_unref(m);
}

static void post_failed(ringo__completion *comp, int32_t res, uint32_t flags)
{
    target *t = ringo__container_of(comp, target, failed);
    bcast *m = t->m;
    ringo__ring *to = m->g->app->srv.rings[t->ring];

    (void)flags;
    if ((res == -EAGAIN || res == -ENOMEM || res == -EBUSY) && ++t->tries < POST_TRIES &&
        ringo__ring_post_again(to, &t->deliver, &t->failed) == 0)
        return; /* the hold on `to` stays taken */
    fprintf(stderr, "ringo: a WebSocket group message could not reach ring %u: %s\n", t->ring,
            ringo_strerror(res));
    ringo__ring_post_done(to);
    bcast_unref(m);
}

static bcast *bcast_new(ringo_ws_group *g, const ringo_ws *except, int type, const void *data,
                        size_t len)
{
    uint8_t hdr[RINGO__WS_MAX_HEADER];
    size_t h = ringo__ws_frame_header(hdr, type, true, len), tsz = g->nrings * sizeof(target);
    bcast *m;

    if (len > SIZE_MAX / 2 - sizeof(*m) - tsz)
        return NULL;
    m = ringo__malloc(sizeof(*m) + tsz + h + len);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->g = g;
    m->except = except;
    m->len = h + len;
    m->t = (target *)(m + 1);
    m->frame = (char *)(m->t + g->nrings);
    memcpy(m->frame, hdr, h);
    if (len)
        memcpy(m->frame + h, data, len);
    return m;
}

int ringo_ws_group_send(ringo_ws_group *g, const ringo_ws *except, int type, const void *data,
                        size_t len)
{
    ringo__ring *me = ringo__ring_current();
    unsigned self;
    bcast *m;

    if (!g)
        return -EINVAL;
    /* A ring of g's app: the member list of this ring's index is this thread's. */
    if (!me || !g->app->srv.rings || ringo__ring_id(me) >= g->app->srv.nrings ||
        g->app->srv.rings[ringo__ring_id(me)] != me)
        return -EPERM;
    if ((type != RINGO_WS_TEXT && type != RINGO_WS_BINARY) || (!data && len) ||
        (type == RINGO_WS_TEXT && len && !ringo__ws_utf8_valid(data, len)))
        return -EINVAL;
    m = bcast_new(g, except, type, data, len);
    if (!m)
        return -ENOMEM;
    self = ringo__ring_id(me);
    for (unsigned k = 0; k < g->nrings && k < g->app->srv.nrings; k++) {
        target *t = &m->t[k];
        /* Acquire: a member joined on ring k after its setup wrote what posting reads. */
        if (k == self || !atomic_load_explicit(&g->slots[k].n, memory_order_acquire))
            continue;
        t->deliver.fn = delivered;
        t->failed.fn = post_failed;
        t->m = m;
        t->ring = k;
        t->tries = 0;
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
        ringo__tsan_release(m);
        if (ringo__ring_post(g->app->srv.rings[k], &t->deliver, &t->failed) < 0)
            atomic_fetch_sub_explicit(&m->refs, 1, memory_order_relaxed); /* it is exiting */
    }
    deliver_local(m, self);
    bcast_unref(m);
    return 0;
}
