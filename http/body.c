/*
 * http/body.c - request bodies read as they arrive (ringo/body.h).
 *
 * A route with RINGO_ROUTE_STREAM_BODY is routed at the end of its head
 * (http/parser.c) and its request is queued at once ("early"), while the
 * parser goes on with the body. The body's bytes land in a pipe: a buffer
 * of at most stream_window unread bytes that the ring fills and the handler
 * empties. The session parses body input only while the request runs and
 * the pipe has room (http/session.c, busy()); otherwise input waits in the
 * session's held input and recv pauses past max_conn_buffered.
 *
 * The handler's thread and the ring share the pipe under a mutex (the async
 * reader is on the ring, uncontended; the sync reader is a pool worker). A
 * reader that finds the pipe empty waits: parked on its coroutine, woken by
 * a NOP CQE, or on a condition variable. When the ring had to stop because
 * the pipe was full ("stalled"), or on the first read (Expect: 100-continue
 * is answered then), the reader asks the ring to go on with a "refeed" CQE:
 * a NOP from the ring itself, a MSG_RING from a worker. That CQE points into
 * the request, so it holds the request until it arrives (taken when the ring
 * submits it, or at the sync job's completion for a worker's).
 *
 * Over HTTP/2 (http/h2/stream.c) the client's flow-control window is the
 * bound instead: the stream's bytes land in the pipe as DATA frames arrive,
 * and the window reopens only by what the handler took. Every read that
 * takes bytes posts the refeed CQE, on which the ring reopens the window by
 * that much (WINDOW_UPDATE); a reader never waits for more while bytes are
 * buffered, since the client may not send more until it has read them. The
 * body timeout is the stream's own deadline there (http/h2/session.c),
 * with the same rules: restarted by arrivals, paused while the window is
 * full, and ringo__body_fail(408) when it passes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/util.h"
#include "http/http_impl.h"

typedef struct ringo__body {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ringo__completion refeed;
    ringo_req *req;
    char *buf; /* unread bytes are [off, len) */
    size_t off, len, cap;
    size_t window;
    int ring_fd;
    uint64_t read;        /* bytes handed to the handler */
    int error;            /* 400, 408, 413: the body broke */
    bool done;            /* the whole body arrived */
    bool gone;            /* the request was abandoned */
    bool stalled;         /* the ring stopped parsing: the pipe was full */
    bool posted;          /* a refeed CQE is on the way */
    bool expect;          /* Expect: 100-continue: the 100 precedes the first read's return */
    bool continued;       /* ... and went out (or nobody waits for it any more) */
    bool held;            /* ... and holds the request */
    ringo__fiber *reader; /* an async reader parked on an empty pipe */
    size_t want;          /* unread bytes a waiting reader waits for (it also wakes at the end) */
} ringo__body;

static ringo__sess *sess(ringo__conn *c) { return ringo__conn_state(c); }

/* ---- the ring side ---- */

static void refeed_done(ringo__completion *comp, int32_t res, uint32_t flags);

int ringo__body_open(ringo__sess *s, ringo_req *r)
{
    ringo__body *bp = ringo__arena_alloc(&r->arena, sizeof(*bp));

    if (!bp)
        return -ENOMEM;
    memset(bp, 0, sizeof(*bp));
    if (pthread_mutex_init(&bp->mu, NULL) != 0)
        return -ENOMEM;
    if (pthread_cond_init(&bp->cv, NULL) != 0) {
        pthread_mutex_destroy(&bp->mu);
        return -ENOMEM;
    }
    bp->req = r;
    bp->window = s->cfg->stream_window;
    bp->ring_fd = ringo__ring_fd(ringo__conn_ring(s->conn));
    bp->refeed.fn = refeed_done;
    bp->expect = r->expect_continue;
    r->bp = bp;
    r->early = true;
    return 0;
}

void ringo__body_free(ringo_req *r)
{
    ringo__body *bp = r->bp;

    if (!bp)
        return;
    ringo__free(bp->buf);
    pthread_mutex_destroy(&bp->mu);
    pthread_cond_destroy(&bp->cv);
    r->bp = NULL;
}

/* Under bp->mu: a waiting reader learns that something changed. */
static void wake_locked(ringo__body *bp)
{
    pthread_cond_broadcast(&bp->cv);
    if (bp->reader)
        ringo__fiber_wake(bp->reader);
}

size_t ringo__body_room(ringo_req *r)
{
    ringo__body *bp = r->bp;
    size_t unread, room;

    pthread_mutex_lock(&bp->mu);
    unread = bp->len - bp->off;
    room = unread < bp->window ? bp->window - unread : 0;
    if (!room)
        bp->stalled = true;
    pthread_mutex_unlock(&bp->mu);
    /* Full: the handler is slow, not the client; the wait starts again at the refeed. */
    if (!room)
        ringo__conn_timer(r->conn, RINGO__HTTP_TIMER_NONE, 0);
    return room;
}

/* The wait for more body bytes (the route's, else the app's body timeout). */
static void arm_timer(ringo_req *r)
{
    const ringo_config *cfg = sess(r->conn)->cfg;
    uint32_t ms =
        r->route->opts.body_timeout_ms ? r->route->opts.body_timeout_ms : cfg->body_timeout_ms;

    ringo__conn_timer(r->conn, RINGO__HTTP_TIMER_BODY, ms);
}

int ringo__body_append(ringo_req *r, const char *p, size_t n)
{
    ringo__body *bp = r->bp;
    int ret = 0;

    pthread_mutex_lock(&bp->mu);
    if (bp->off && bp->len + n > bp->cap) {
        memmove(bp->buf, bp->buf + bp->off, bp->len - bp->off);
        bp->len -= bp->off;
        bp->off = 0;
    }
    if (bp->len + n > bp->cap) {
        /* The session parses no more than the room: this stays near the window. */
        size_t cap = bp->len + n > bp->window ? bp->len + n : bp->window;
        char *b = ringo__realloc(bp->buf, cap);
        if (!b) {
            ret = -ENOMEM;
        } else {
            bp->buf = b;
            bp->cap = cap;
        }
    }
    if (ret == 0) {
        memcpy(bp->buf + bp->len, p, n);
        bp->len += n;
        /* A reader that wants a batch (the spool) is not woken for every receive buffer. */
        if (bp->len - bp->off >= bp->want)
            wake_locked(bp);
    }
    pthread_mutex_unlock(&bp->mu);
    /* Data arrived: the wait for the next bytes starts again (HTTP/2: the connection's timers). */
    if (ret == 0 && !r->h2)
        arm_timer(r);
    return ret;
}

void ringo__body_finish(ringo_req *r)
{
    ringo__body *bp = r->bp;

    pthread_mutex_lock(&bp->mu);
    bp->done = true;
    wake_locked(bp);
    pthread_mutex_unlock(&bp->mu);
}

void ringo__body_fail(ringo_req *r, int status)
{
    ringo__body *bp = r->bp;

    pthread_mutex_lock(&bp->mu);
    if (!bp->error)
        bp->error = status;
    wake_locked(bp);
    pthread_mutex_unlock(&bp->mu);
}

void ringo__body_abandon(ringo_req *r)
{
    ringo__body *bp = r->bp;

    if (!bp)
        return;
    pthread_mutex_lock(&bp->mu);
    bp->gone = true;
    /* A worker reading the body sees it on its next read (a coroutine's is counted by its cancel).
     */
    if (!r->task && !bp->done)
        atomic_fetch_add_explicit(&ringo__ring_stats_of(ringo__conn_ring(r->conn))->cancels, 1,
                                  memory_order_relaxed);
    wake_locked(bp);
    pthread_mutex_unlock(&bp->mu);
}

void ringo__body_job_done(ringo_req *r)
{
    ringo__body *bp = r->bp;

    if (!bp)
        return;
    pthread_mutex_lock(&bp->mu);
    if (bp->posted && !bp->held) {
        bp->held = true;
        ringo__req_hold(r);
    }
    pthread_mutex_unlock(&bp->mu);
}

void ringo__body_answer(ringo_req *r)
{
    ringo__body *bp = r->bp;
    int status;

    if (!bp || r->stream)
        return;
    pthread_mutex_lock(&bp->mu);
    status = bp->error;
    pthread_mutex_unlock(&bp->mu);
    if (!status)
        return;
    r->status = status;
    r->rbody = NULL;
    r->rbody_len = 0;
    r->nrhdrs = 0;
    r->keep_alive = false;
    if (r->outcome != REQ_PROTOCOL_ERROR)
        ringo__req_ringo_error(r);
}

/* Ring: the handler wants the body, so the client may send it (RFC 9110 10.1.1). */
static void send_continue(ringo_req *r)
{
    char *out = ringo__conn_reserve(r->conn, 25);

    if (out) {
        memcpy(out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        ringo__conn_commit(r->conn, 25);
        ringo__conn_flush(r->conn);
    }
}

/* The refeed CQE: the reader wants more (first read, or it emptied a full pipe). */
static void refeed_done(ringo__completion *comp, int32_t res, uint32_t flags)
{
    ringo__body *bp = ringo__container_of(comp, ringo__body, refeed);
    ringo_req *r = bp->req;
    ringo__sess *s = sess(r->conn);
    bool held, live;
    uint64_t taken;

    (void)res;
    (void)flags;
    pthread_mutex_lock(&bp->mu);
    bp->posted = false;
    held = bp->held;
    bp->held = false;
    taken = bp->read;
    pthread_mutex_unlock(&bp->mu);
    live = REQ_IN(r, REQ_BIT(REQ_RUNNING) | REQ_BIT(REQ_SUSPENDED)) && s->state != SESS_CLOSED &&
           !ringo__conn_closing(r->conn);
    pthread_mutex_lock(&bp->mu);
    if (bp->expect && !bp->continued) {
        if (live)
            send_continue(r);
        bp->continued = true; /* sent, or nobody reads on */
        wake_locked(bp);
    }
    pthread_mutex_unlock(&bp->mu);
    if (live && r->h2) {
        ringo__h2_body_read(r, taken); /* the client may send as much again */
    } else if (live && s->cur == r) {
        arm_timer(r); /* the client may send again: its wait starts now */
        ringo__sess_refeed(s);
    }
    if (held)
        ringo__req_release(r); /* may free r: last */
}

/* ---- the handler side ---- */

/* Under bp->mu: asks the ring to go on (see the header comment). */
static void want_more_locked(ringo_req *r, ringo__body *bp, int ctx)
{
    struct io_uring_sqe *sqe;

    if (bp->posted)
        return;
    bp->stalled = false;
    bp->posted = true;
    if (ctx == RINGO__CTX_ASYNC) {
        bp->held = true;
        ringo__req_hold(r);
        sqe = ringo__ring_sqe(ringo__conn_ring(r->conn));
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, ringo__ptr_data(&bp->refeed));
    } else if (ringo__tsan_release(&bp->refeed),
               ringo__pool_post(bp->ring_fd, ringo__ptr_data(&bp->refeed), 0) < 0) {
        /*
         * The kernel refused the hand-off (after retries): no CQE will come,
         * and input that is already held would never be parsed. The body
         * fails (503) rather than leave the worker waiting for good.
         */
        bp->posted = false;
        bp->stalled = true;
        if (!bp->error)
            bp->error = 503;
    }
}

static int error_of(const ringo__body *bp)
{
    switch (bp->error) {
    case 413: return -EMSGSIZE;
    case 408: return -ETIMEDOUT;
    case 503: return -EIO;
    default: return -EBADMSG;
    }
}

static bool cancelled(const ringo_req *r, int ctx)
{
    return atomic_load_explicit(&r->gone, memory_order_relaxed) ||
           (ctx == RINGO__CTX_ASYNC && ringo__fiber_current()->cancelled);
}

/* The buffered body of a route without the flag, read in pieces. */
static ssize_t read_buffered(ringo_req *r, void *buf, size_t len)
{
    size_t n;

    if (!r->x && !ringo__exec_of(r))
        return -ENOMEM;
    n = r->body_len - r->x->body_read;
    n = n < len ? n : len;
    if (!n)
        return 0; /* no body at all: r->body may be NULL */
    memcpy(buf, r->body + r->x->body_read, n);
    r->x->body_read += n;
    return (ssize_t)n;
}

/*
 * ringo_req_read() that waits until at least min bytes (at most half the
 * window, so that a full pipe always satisfies it) can be returned, or the
 * body ends: fewer wake-ups and larger writes for a reader that batches.
 */
static ssize_t read_min(ringo_req *req, void *buf, size_t len, size_t min)
{
    int ctx = ringo__req_context(req);
    ringo__body *bp = req->bp;
    ssize_t ret;

    if (ctx == RINGO__CTX_NONE)
        return -EPERM;
    if (cancelled(req, ctx))
        return -ECANCELED;
    if (!bp)
        return read_buffered(req, buf, len);
    if (!len)
        return 0;
    if (min > bp->window / 2)
        min = bp->window / 2;
    if (min > len)
        min = len;
    if (!min)
        min = 1;
    pthread_mutex_lock(&bp->mu);
    /*
     * Expect: 100-continue: the 100 goes out on the first read, whether or not
     * an eager client sent the body already, so that the answers never depend
     * on how the input was cut. On the ring it is written now; a worker waits
     * until the ring wrote it.
     */
    if (bp->expect && !bp->continued && ctx == RINGO__CTX_ASYNC) {
        send_continue(req);
        bp->continued = true;
    }
    for (;;) {
        size_t n = bp->len - bp->off;
        if (bp->gone || cancelled(req, ctx)) {
            ret = -ECANCELED;
            break;
        }
        if (bp->expect && !bp->continued) {
            want_more_locked(req, bp, ctx);
            pthread_cond_wait(&bp->cv, &bp->mu);
            continue;
        }
        if (n && (n >= min || bp->done || bp->error || bp->stalled || req->h2)) {
            n = n < len ? n : len;
            memcpy(buf, bp->buf + bp->off, n);
            bp->off += n;
            bp->read += n;
            if (bp->off == bp->len)
                bp->off = bp->len = 0;
            if (bp->stalled || req->h2)
                want_more_locked(req, bp, ctx);
            ret = (ssize_t)n;
            break;
        }
        if (bp->error) {
            ret = error_of(bp);
            break;
        }
        if (bp->done) {
            ret = 0;
            break;
        }
        if (bp->stalled)
            want_more_locked(req, bp, ctx);
        bp->want = min;
        if (ctx == RINGO__CTX_ASYNC) {
            int pr;
            bp->reader = ringo__fiber_current();
            pthread_mutex_unlock(&bp->mu);
            pr = ringo__fiber_park();
            pthread_mutex_lock(&bp->mu);
            bp->reader = NULL;
            if (pr < 0) {
                ret = -ECANCELED;
                break;
            }
        } else {
            pthread_cond_wait(&bp->cv, &bp->mu);
        }
    }
    bp->want = 1;
    pthread_mutex_unlock(&bp->mu);
    return ret;
}

ssize_t ringo_req_read(ringo_req *req, void *buf, size_t len) { return read_min(req, buf, len, 1); }

/* ---- spooling ---- */

/* A new file without a name in dir (O_TMPFILE, else created and unlinked at once). */
int ringo__tmpfile(const char *dir)
{
    char path[4096];
    int fd, n;

    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return -errno;
    n = snprintf(path, sizeof(path), "%s/ringo-spool-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unlink(path);
    return fd;
}

/* Writes all of p at offset: io_uring on an async handler's ring, pwrite on a worker. */
int ringo__write_all(int fd, const char *p, size_t n, uint64_t off, int ctx)
{
    while (n) {
        ssize_t w = ctx == RINGO__CTX_ASYNC ? ringo_await_write(fd, p, n, (int64_t)off)
                                            : pwrite(fd, p, n, (off_t)off);
        if (w < 0)
            return ctx == RINGO__CTX_ASYNC ? (int)w : -errno;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int ringo_req_spool(ringo_req *req, const ringo_spool_opts *opts, int *fd, uint64_t *size)
{
    int ctx = ringo__req_context(req), out, ret = 0;
    size_t cap = sess(req->conn)->cfg->stream_window;
    uint64_t total = 0;
    char *buf;

    if (ctx == RINGO__CTX_NONE)
        return -EPERM;
    if (!fd || !size || (opts && !RINGO__RESERVED_ZERO(opts->reserved)))
        return -EINVAL;
    *fd = -1;
    *size = 0;
    buf = ringo__malloc(cap);
    if (!buf)
        return -ENOMEM;
    out = ringo__tmpfile(opts ? opts->dir : NULL);
    if (out < 0) {
        ringo__free(buf);
        return out;
    }
    for (;;) {
        /* Batches of at least half the window: one write per batch, not per receive. */
        ssize_t n = read_min(req, buf, cap, cap / 2);
        if (n <= 0) {
            ret = (int)n;
            break;
        }
        if (opts && opts->tap)
            opts->tap(buf, (size_t)n, opts->tap_arg);
        ret = ringo__write_all(out, buf, (size_t)n, total, ctx);
        if (ret < 0)
            break;
        total += (uint64_t)n;
    }
    ringo__free(buf);
    if (ret < 0) {
        close(out);
        return ret;
    }
    *fd = out;
    *size = total;
    return 0;
}
