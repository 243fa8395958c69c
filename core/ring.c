/*
 * core/ring.c - a ring thread: io_uring setup, the CQE loop, accept, shutdown.
 *
 * Each ring thread creates its own io_uring inside the thread with
 * SINGLE_ISSUER | DEFER_TASKRUN: completions are only processed when this
 * thread enters the kernel to wait, so no task-work interrupts a handler and
 * CQEs arrive in batches. The loop is: arm the timeout for the earliest
 * deadline, submit and wait for at least one CQE, dispatch every CQE by the
 * op in its user_data, run expired timers, repeat. With no deadline pending
 * the ring sleeps until something happens.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/proxy.h"
#include "core/util.h"
#include "core/ring_impl.h"
#include "core/tls.h"
#include "core/task.h"

#define RING_SQ_ENTRIES 1024
#define RING_CQ_ENTRIES 8192 /* many multishot CQEs per SQE: keep the CQ large */
#define ACCEPT_BACKOFF_MS 100

static _Thread_local ringo__ring *current_ring;

/* Linux 6.12's min-wait: headers that know it name the getevents field; older ones
 * (liburing < 2.8) call the same 32 bits `pad`. */
#ifdef IORING_FEAT_MIN_TIMEOUT
#define MIN_WAIT_USEC(arg) (arg).min_wait_usec
#else
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#define MIN_WAIT_USEC(arg) (arg).pad
#endif
#define RINGO__DEFAULT_BATCH_WAIT_US 50

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

ringo__ring *ringo__ring_current(void) { return current_ring; }
unsigned ringo__ring_id(const ringo__ring *r) { return r->id; }
const ringo_config *ringo__ring_config(const ringo__ring *r) { return &r->srv->cfg; }
void *ringo__ring_app(const ringo__ring *r) { return r->srv->app; }
bool ringo__ring_trusted(const ringo__ring *r, const struct sockaddr *sa)
{
    return ringo__cidrs_match(r->srv->trusted, r->srv->ntrusted, sa);
}
ringo__ring_stats *ringo__ring_stats_of(ringo__ring *r) { return &r->stats; }
int ringo__ring_fd(const ringo__ring *r) { return r->ring_fd; }
uint64_t ringo__ring_now(const ringo__ring *r) { return r->now; }
bool ringo__ring_stop_requested(const ringo__ring *r) { return ringo__server_stopping(r->srv); }
void ringo__ring_hold(ringo__ring *r) { r->holds++; }

#define RING_XCLOSED 0x80000000u

/*
 * The hold is taken before the SQE names to's fd, and the exiting ring
 * closes xholds (0 -> RING_XCLOSED) only when nothing is held: a sender
 * either sees the closed bit and posts nothing, or holds the ring up until
 * its message is handled. acq_rel on both sides orders the sender's read of
 * to->ring_fd before the target's teardown, which closes that fd.
 */
int ringo__ring_post(ringo__ring *to, ringo__completion *comp, ringo__completion *failed)
{
    ringo__ring *from = ringo__ring_current();
    uint32_t x = atomic_load_explicit(&to->xholds, memory_order_acquire);

    if (!from)
        return -EPERM;
    do {
        if (x & RING_XCLOSED)
            return -ESHUTDOWN;
    } while (!atomic_compare_exchange_weak_explicit(&to->xholds, &x, x + 1, memory_order_acq_rel,
                                                    memory_order_acquire));
    return ringo__ring_post_again(to, comp, failed);
}

int ringo__ring_post_again(ringo__ring *to, ringo__completion *comp, ringo__completion *failed)
{
    ringo__ring *from = ringo__ring_current();
    struct io_uring_sqe *sqe;

    if (!from)
        return -EPERM;
    sqe = ringo__ring_sqe(from);
    ringo__tsan_release(comp);
    io_uring_prep_msg_ring(sqe, to->ring_fd, 0, ringo__ptr_data(comp), 0);
    /* Only a failure posts a CQE to this ring. */
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, ringo__ptr_data(failed));
    return 0;
}

void ringo__ring_post_done(ringo__ring *to)
{
    atomic_fetch_sub_explicit(&to->xholds, 1, memory_order_acq_rel);
}

/* The ring may exit: no message is on its way to it, and none can be posted from now on. */
static bool close_xholds(ringo__ring *r)
{
    uint32_t zero = 0;

    return atomic_compare_exchange_strong_explicit(&r->xholds, &zero, RING_XCLOSED,
                                                   memory_order_acq_rel, memory_order_acquire);
}
void ringo__ring_release(ringo__ring *r) { r->holds--; }

struct io_uring_sqe *ringo__ring_sqe(ringo__ring *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

    /* SQ full: hand what we have to the kernel and take a fresh slot. */
    while (!sqe) {
        io_uring_submit(&r->uring);
        sqe = io_uring_get_sqe(&r->uring);
    }
    return sqe;
}

struct io_uring_sqe *ringo__ring_sqes(ringo__ring *r, unsigned n)
{
    /* Submitting between the n would send a linked op without its partner. */
    while (io_uring_sq_space_left(&r->uring) < n)
        io_uring_submit(&r->uring);
    return ringo__ring_sqe(r);
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/*
 * IMF-fixdate (RFC 9110 §5.6.7) from fixed English tables: strftime's %a and
 * %b follow the C locale, and an application may call setlocale().
 */
static void format_date(char out[38], const struct tm *tm)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int year = tm->tm_year + 1900;
    char *p = out;

    memcpy(p, "Date: ", 6);
    memcpy(p + 6, days[tm->tm_wday], 3);
    memcpy(p + 9, ", ", 2);
    p = put2(p + 11, tm->tm_mday);
    *p++ = ' ';
    memcpy(p, months[tm->tm_mon], 3);
    p[3] = ' ';
    p = put2(put2(p + 4, year / 100), year % 100);
    *p++ = ' ';
    p = put2(p, tm->tm_hour);
    *p++ = ':';
    p = put2(p, tm->tm_min);
    *p++ = ':';
    p = put2(p, tm->tm_sec);
    memcpy(p, " GMT\r\n", 7); /* 37 bytes and a NUL */
}

const char *ringo__ring_date_line(ringo__ring *r)
{
    time_t now = time(NULL);

    if (now != r->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        format_date(r->date_line, &tm);
        r->date_sec = now;
    }
    return r->date_line;
}

ringo__ring *ringo__ring_new(ringo__server *s, unsigned id, int listen_fd)
{
    ringo__ring *r = ringo__calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->srv = s;
    r->proto = s->proto;
    r->id = id;
    r->listen_fd = listen_fd;
    r->ring_fd = -1;
    r->cap = s->cfg.max_conns;
    r->conns = ringo__calloc(r->cap, sizeof(*r->conns));
    r->gens = ringo__calloc(r->cap, sizeof(*r->gens));
    r->free_idx = ringo__malloc(r->cap * sizeof(*r->free_idx));
    r->heap = ringo__malloc(r->cap * sizeof(*r->heap));
    if (!r->conns || !r->gens || !r->free_idx || !r->heap) {
        ringo__ring_free(r);
        return NULL;
    }
    /* Hand out low indices first: they stay hot in cache. */
    for (uint32_t i = 0; i < r->cap; i++)
        r->free_idx[i] = r->cap - 1 - i;
    r->nfree = r->cap;
    return r;
}

#define CACHE_MAX 256

void *ringo__ring_cache_get(ringo__ring *r, unsigned kind, size_t size)
{
    if (r->ncache[kind])
        return r->cache[kind][--r->ncache[kind]];
    return ringo__malloc(size);
}

void ringo__ring_cache_put(ringo__ring *r, unsigned kind, void *p)
{
    if (!p)
        return;
    if (!r->cache[kind])
        r->cache[kind] = ringo__malloc(CACHE_MAX * sizeof(void *));
    if (r->cache[kind] && r->ncache[kind] < CACHE_MAX)
        r->cache[kind][r->ncache[kind]++] = p;
    else
        ringo__free(p);
}

void ringo__ring_free(ringo__ring *r)
{
    if (!r)
        return;
    ringo__tls_ring_free(r);
    for (unsigned k = 0; k < RINGO__CACHE_KINDS; k++) {
        while (r->ncache[k])
            ringo__free(r->cache[k][--r->ncache[k]]);
        ringo__free(r->cache[k]);
    }
    ringo__free(r->conns);
    ringo__free(r->gens);
    ringo__free(r->free_idx);
    ringo__free(r->heap);
    ringo__free(r);
}

/* The earliest time (ms) the loop must look at its deadlines; 0: none. */
static uint64_t next_deadline(const ringo__ring *r)
{
    uint64_t d = ringo__timer_next(r);

    /*
     * Past the drain timeout what remains is closed (finished()): one wake
     * then. Not once it has passed: a deadline in the past would fire at
     * once, again and again, while closed connections wait for their CQEs.
     */
    if (r->stopping && r->now < r->stop_deadline && (!d || r->stop_deadline < d))
        d = r->stop_deadline;
    return d;
}

/*
 * One IORING_OP_TIMEOUT, absolute on CLOCK_MONOTONIC (the clock of
 * monotonic_ms), for the earliest deadline. An earlier deadline moves it
 * with a timeout update; a later one leaves it to fire early, and the next
 * iteration arms it again. If the timeout fired before its update was
 * issued, the update fails (-ENOENT, ignored) and the timeout's own CQE
 * clears timeout_at, so a stale CQE never leaves the ring without one.
 * The kernel copies the timespec at submission: one field per ring is
 * enough, since this runs once per iteration.
 */
static void arm_timeout(ringo__ring *r)
{
    uint64_t want = next_deadline(r);
    struct io_uring_sqe *sqe;

    if (!want || (r->timeout_at && r->timeout_at <= want))
        return;
    r->timeout_ts.tv_sec = (long long)(want / 1000);
    r->timeout_ts.tv_nsec = (long long)(want % 1000) * 1000000;
    sqe = ringo__ring_sqe(r);
    if (r->timeout_at) {
        io_uring_prep_timeout_update(sqe, &r->timeout_ts, (uint64_t)RINGO__OP_TIMEOUT << 56,
                                     IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
    } else {
        io_uring_prep_timeout(sqe, &r->timeout_ts, 0, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, (uint64_t)RINGO__OP_TIMEOUT << 56);
    }
    r->timeout_at = want;
}

static void arm_accept(ringo__ring *r)
{
    struct io_uring_sqe *sqe;

    if (r->accept_armed || r->accept_paused || r->stopping || r->listen_fd < 0)
        return;
    sqe = ringo__ring_sqe(r);
    /*
     * One multishot accept reuses a single sockaddr for every connection, so
     * the peer address is taken with getpeername() per connection instead.
     */
    io_uring_prep_multishot_accept(sqe, r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, (uint64_t)RINGO__OP_ACCEPT << 56);
    r->accept_armed = true;
}

static void arm_backoff(ringo__ring *r);

/*
 * Accept pacing: a ring with max_ring_inflight requests in progress (the
 * count http/exec.c keeps in its stats) cancels its multishot accept, so
 * new connections wait in the listen backlog instead of adding requests it
 * would answer 503; it accepts again once below three quarters of the bound.
 * Connections it holds already still get their 503 at once. A pause lasts
 * at most ACCEPT_BACKOFF_MS, then accepting stays on as long: requests that
 * run long (streams, WebSockets, slow handlers) must not keep new
 * connections, and the probes among them (critical routes), out for as
 * long as they run.
 */
static void pace_accept(ringo__ring *r)
{
    uint32_t max = r->srv->cfg.max_ring_inflight;
    uint64_t n;

    if (!max || r->stopping)
        return;
    n = atomic_load_explicit(&r->stats.reqs_running, memory_order_relaxed);
    if (!r->accept_paused && r->accept_armed && n >= max && r->now >= r->accept_open_until) {
        struct io_uring_sqe *sqe = ringo__ring_sqe(r);
        io_uring_prep_cancel64(sqe, (uint64_t)RINGO__OP_ACCEPT << 56, 0);
        io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
        r->accept_paused = true;
        arm_backoff(r); /* the longest pause */
    } else if (r->accept_paused && n < max - max / 4) {
        r->accept_paused = false;
        arm_accept(r); /* if the cancelled one has ended: else on_accept re-arms it */
    }
}

static void arm_backoff(ringo__ring *r)
{
    static _Thread_local struct __kernel_timespec ts = {0, ACCEPT_BACKOFF_MS * 1000000LL};
    struct io_uring_sqe *sqe = ringo__ring_sqe(r);

    io_uring_prep_timeout(sqe, &ts, 0, 0);
    io_uring_sqe_set_data64(sqe, (uint64_t)RINGO__OP_BACKOFF << 56);
}

static void arm_wake(ringo__ring *r)
{
    struct io_uring_sqe *sqe = ringo__ring_sqe(r);

    io_uring_prep_poll_add(sqe, r->srv->stop_efd, POLLIN);
    io_uring_sqe_set_data64(sqe, (uint64_t)RINGO__OP_WAKE << 56);
}

static void on_accept(ringo__ring *r, struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        r->accept_armed = false;
    if (cqe->res >= 0) {
        ringo__conn_accepted(r, cqe->res);
    } else if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOBUFS ||
               cqe->res == -ENOMEM) {
        /* Out of descriptors or memory: retrying at once would spin. */
        if (!r->accept_armed && !r->stopping) {
            arm_backoff(r);
            return;
        }
    } else if (cqe->res != -ECANCELED && cqe->res != -EINVAL && cqe->res != -EBADF) {
        fprintf(stderr, "ringo: ring %u: accept: %s\n", r->id, strerror(-cqe->res));
    }
    /* Not after our cancel, nor on a listener that is gone (that would spin);
     * after a pacing cancel that was lifted meanwhile, yes. */
    if (!r->accept_armed && cqe->res != -EINVAL && cqe->res != -EBADF &&
        (cqe->res != -ECANCELED || (!r->accept_paused && r->srv->cfg.max_ring_inflight)))
        arm_accept(r);
}

/*
 * Graceful shutdown, step one: stop the multishot accept, then take every
 * connection still queued on the listener (closing a SO_REUSEPORT listener
 * resets its queued connections), then close the listener.
 */
static void begin_stop(ringo__ring *r)
{
    int fd;

    if (r->stopping)
        return;
    r->stopping = true;
    /* The grace second lets queued sync jobs cancelled at the drain timeout answer 503. */
    r->stop_deadline = r->now + r->srv->cfg.drain_timeout_ms + 1000;
    if (r->accept_armed) {
        struct io_uring_sqe *sqe = ringo__ring_sqe(r);
        io_uring_prep_cancel64(sqe, (uint64_t)RINGO__OP_ACCEPT << 56, 0);
        io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
    }
    while (r->listen_fd >= 0 &&
           (fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
        ringo__conn_accepted(r, fd);
    for (uint32_t i = 0; i < r->cap; i++) {
        ringo__conn *c = r->conns[i];
        if (c) {
            ringo__conn_ref(c);
            ringo__conn_drain(c);
            ringo__conn_unref(c);
        }
    }
}

static void close_listener(ringo__ring *r)
{
    int fd;

    if (r->listen_fd < 0 || r->accept_armed)
        return;
    /* Anything that raced in between the drain and now is still taken. */
    while ((fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
        ringo__conn_accepted(r, fd);
    close(r->listen_fd);
    r->listen_fd = -1;
}

static void force_close_all(ringo__ring *r)
{
    for (uint32_t i = 0; i < r->cap; i++) {
        ringo__conn *c = r->conns[i];
        if (c) {
            ringo__conn_ref(c);
            ringo__conn_close(c, RINGO__CLOSE_NOW);
            ringo__conn_unref(c);
        }
    }
}

static void dispatch(ringo__ring *r, struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    int op = (int)(ud >> 56);
    uint32_t idx = (uint32_t)ud;
    uint32_t gen = (uint32_t)(ud >> 32) & RINGO__GEN_MASK;
    ringo__conn *c;

    switch (op) {
    case RINGO__OP_ACCEPT: on_accept(r, cqe); return;
    case RINGO__OP_RECV:
    case RINGO__OP_SEND:
        c = idx < r->cap ? r->conns[idx] : NULL;
        if (!c || (c->gen & RINGO__GEN_MASK) != gen) {
            /* A stale CQE must not touch a reused slot; it may carry a buffer. */
            if (op == RINGO__OP_RECV && (cqe->flags & IORING_CQE_F_BUFFER)) {
                uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                ringo__bufring_get(r, bid);
                ringo__bufring_put(r, bid);
            }
            return;
        }
        /* The reference keeps c alive through callbacks that close it. */
        ringo__conn_ref(c);
        if (op == RINGO__OP_RECV)
            ringo__conn_on_recv(c, cqe);
        else
            ringo__conn_on_send(c, cqe->res);
        ringo__conn_unref(c);
        return;
    case RINGO__OP_TIMEOUT: r->timeout_at = 0; return; /* fired or cancelled */
    case RINGO__OP_WAKE: begin_stop(r); return;
    case RINGO__OP_BACKOFF:
        if (r->accept_paused) { /* a pacing pause ended by its bound: accept as long */
            r->accept_paused = false;
            r->accept_open_until = r->now + ACCEPT_BACKOFF_MS;
        }
        arm_accept(r);
        return;
    case RINGO__OP_PTR: {
        ringo__completion *comp = (ringo__completion *)(uintptr_t)(ud & ((1ull << 56) - 1));
        ringo__tsan_acquire(comp); /* another thread may have set it up and posted it */
        comp->fn(comp, cqe->res, cqe->flags);
        return;
    }
    default: return;
    }
}

static int setup(ringo__ring *r)
{
    struct io_uring_params p;
    int ret;

    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
              IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = RING_CQ_ENTRIES;
    ret = io_uring_queue_init_params(RING_SQ_ENTRIES, &r->uring, &p);
    if (ret < 0)
        return ret;
    r->ring_fd = r->uring.ring_fd;
    if (p.features & IORING_FEAT_MIN_TIMEOUT) {
        uint32_t us = r->srv->cfg.batch_wait_us;

        r->batch_wait_us = us == RINGO_BATCH_WAIT_OFF ? 0 : us ? us : RINGO__DEFAULT_BATCH_WAIT_US;
    }
    if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_FAST_POLL)) {
        fprintf(stderr, "ringo: the kernel lacks io_uring feature %s\n",
                !(p.features & IORING_FEAT_NODROP) ? "IORING_FEAT_NODROP"
                                                   : "IORING_FEAT_FAST_POLL");
        return -EOPNOTSUPP;
    }
    ret = ringo__bufring_setup(r);
    if (ret == -EOPNOTSUPP)
        fprintf(stderr, "ringo: the kernel lacks provided buffer rings "
                        "(IORING_REGISTER_PBUF_RING, Linux 5.19)\n");
    if (ret < 0)
        return ret;
    ret = ringo__fibers_ring_init(r);
    if (ret < 0)
        return ret;
    r->now = monotonic_ms();
    arm_wake(r);
    arm_accept(r);
    return 0;
}

static bool finished(ringo__ring *r)
{
    if (!r->stopping)
        return false;
    close_listener(r);
    if (r->now >= r->stop_deadline && r->nconns) {
        ringo__fibers_cancel_all(r); /* handlers, dependencies, background tasks */
        force_close_all(r);
    }
    return r->nconns == 0 && r->holds == 0 && r->listen_fd < 0 && close_xholds(r);
}

/*
 * Batched waits. Every time a ring sleeps, the next packet for it makes the
 * sender's CPU wake it: in softirq, on the client's or the proxy's time. A ring
 * that answers faster than its clients send sleeps and is woken thousands of
 * times a second (nginx, busier per request, rarely sleeps under the same load).
 * On a virtual machine such a wake-up is an inter-processor interrupt through
 * the hypervisor; over TLS keep-alive it cost a wrk client 8% of its CPU.
 *
 * So a ring that many connections keep busy asks the kernel to gather
 * completions for a short while (IORING_ENTER_EXT_ARG's min_wait_usec, Linux
 * 6.12): with DEFER_TASKRUN the senders then only queue task work, and the
 * ring's own timer wakes it after batch_wait_us, or at once when as many
 * completions are queued as connections were active in the last millisecond.
 * Waiting pays only when others may send meanwhile: with fewer than
 * BATCH_MIN_CONNS active connections every client is waiting for this ring, and
 * each wait ends at the first completion as before. Nor while the pool runs jobs
 * for this ring (holds): their hand-backs (MSG_RING) would wait for the timer
 * while the workers idle (sync-json-64 lost 17% of its req/s).
 */
enum { BATCH_MIN_CONNS = 16, BATCH_MAX_NR = 64 };

static int wait_cqes(ringo__ring *r)
{
    struct io_uring_getevents_arg arg;
    unsigned active = r->act_last > r->act_now ? r->act_last : r->act_now;
    int ret;

    if (!r->batch_wait_us || active < BATCH_MIN_CONNS || r->holds)
        return io_uring_submit_and_wait(&r->uring, 1);
    ret = io_uring_submit(&r->uring);
    if (ret < 0 || io_uring_cq_ready(&r->uring))
        return ret;
    atomic_store_explicit(&r->stats.batched_waits,
                          atomic_load_explicit(&r->stats.batched_waits, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    memset(&arg, 0, sizeof(arg));
    arg.sigmask_sz = _NSIG / 8;
    MIN_WAIT_USEC(arg) = r->batch_wait_us;
    ret = (int)syscall(__NR_io_uring_enter, r->ring_fd, 0,
                       active < BATCH_MAX_NR ? active : BATCH_MAX_NR,
                       IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
    return ret < 0 ? -errno : ret;
}

/* Handles every completion posted so far. */
static void reap(ringo__ring *r)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    io_uring_for_each_cqe(&r->uring, head, cqe)
    {
        dispatch(r, cqe);
        n++;
    }
    io_uring_cq_advance(&r->uring, n);
}

static void loop(ringo__ring *r)
{
    while (!finished(r)) {
        uint64_t due;

        int ret;

        arm_timeout(r);
        ret = wait_cqes(r);
        if (ret < 0 && ret != -EINTR && ret != -ETIME && ret != -EBUSY) {
            fprintf(stderr, "ringo: ring %u: io_uring_enter: %s\n", r->id, strerror(-ret));
            r->loop_err = ret;
            atomic_store_explicit(&r->loop_failed, true, memory_order_relaxed);
            break;
        }
        r->now = monotonic_ms();
        if (r->now != r->act_ms) { /* a new millisecond: its active connections count anew */
            r->act_last = r->now == r->act_ms + 1 ? r->act_now : 0;
            r->act_now = 0;
            r->act_ms = r->now;
        }
        reap(r);
        /*
         * Before a deadline judges a connection idle: input that arrived
         * while this pass ran (a handler that held the ring, a starved
         * thread) is only task work so far (DEFER_TASKRUN). Turned into
         * completions and handled, it counts as the activity it is.
         */
        if ((due = ringo__timer_next(r)) && due <= r->now && io_uring_get_events(&r->uring) >= 0)
            reap(r);
        ringo__timer_run(r);
        pace_accept(r);
    }
}

/* Teardown: every connection is gone; cancel our own ops and reap them. */
static void teardown(ringo__ring *r)
{
    struct io_uring_sqe *sqe = ringo__ring_sqe(r);
    struct __kernel_timespec ts = {0, 50 * 1000000LL};
    struct io_uring_cqe *cqe;

    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
    io_uring_submit(&r->uring);
    while (io_uring_wait_cqe_timeout(&r->uring, &cqe, &ts) == 0) {
        dispatch(r, cqe);
        io_uring_cqe_seen(&r->uring, cqe);
    }
    ringo__bufring_free(r);
    ringo__pipes_free(r);
    ringo__fibers_ring_exit(r);
    /* A loop that failed never closed it: no sender may name the fd once it is gone. */
    atomic_fetch_or_explicit(&r->xholds, RING_XCLOSED, memory_order_acq_rel);
    io_uring_queue_exit(&r->uring);
    r->ring_fd = -1;
}

/* "ringo-ring-N" in top, gdb and /proc/<pid>/task/<tid>/comm. */
static void name_thread(const ringo__ring *r)
{
    char name[16]; /* the kernel's limit, NUL included */

    snprintf(name, sizeof(name), "ringo-ring-%u", r->id % 10000);
    pthread_setname_np(pthread_self(), name);
}

void *ringo__ring_main(void *arg)
{
    ringo__ring *r = arg;
    int ret;

    current_ring = r;
    name_thread(r);
    ret = setup(r);
    r->setup_err = ret;
    sem_post(&r->srv->ready);
    if (ret < 0) {
        ringo__bufring_free(r);
        if (r->ring_fd >= 0)
            io_uring_queue_exit(&r->uring);
        current_ring = NULL;
        return NULL;
    }
    loop(r);
    teardown(r);
    current_ring = NULL;
    return NULL;
}
