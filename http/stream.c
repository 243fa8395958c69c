/*
 * http/stream.c - responses sent in parts (ringo/stream.h) and Server-Sent
 * Events on top.
 *
 * A streamed response is the running request of its connection until it
 * ends, so requests pipelined behind it wait, in order. Its bytes go into
 * the connection's output, framed as they are written (one chunk per write
 * piece), and are flushed at once: nothing buffers between the handler and
 * the socket but the window.
 *
 * The window: a write waits while the connection's unsent output (and, for
 * a sync handler, the bytes on their way to the ring) reaches
 * stream_window. Every send completion is progress (on_wrote/on_sent).
 *
 * RINGO_ASYNC: the handler's coroutine writes into the connection directly
 * and parks (ringo__fiber_park) while the window is full; progress wakes it
 * through a NOP CQE, a cancel through the same path.
 *
 * RINGO_SYNC: the worker frames its bytes into the stream's buffer under a
 * mutex and hands them to the ring with a MSG_RING CQE (at most one on the
 * way at a time); the ring copies them into the connection on that CQE and
 * publishes the connection's unsent count, which the worker waits on with a
 * condition variable. The ring learns about the stream only from that CQE
 * (r->ring_ss); the worker's fields of the request are the ring's again only
 * after the job's completion. A hand-off CQE still on the way when the job
 * completes holds the request until it arrives.
 *
 * How a stream ends:
 * - the handler ends it, or returns: a chunked body gets its last chunk and
 *   trailers; a declared length must have been met exactly;
 * - a handler error, a framing violation or the route deadline after the
 *   head went out: the connection closes after the valid prefix (the client
 *   sees a cut response) and the event is logged;
 * - the client is gone: everything is dropped with the connection;
 * - shutdown: the handler's calls return -ECANCELED and the server ends the
 *   body cleanly (the last chunk), then closes.
 *
 * Over HTTP/2 (http/h2/stream.c) the same writers and the same window
 * apply, with the stream's own buffer in place of the connection's output:
 * bytes go into it unframed (RINGO__FRAME_H2, or RINGO__FRAME_LENGTH when
 * declared), nghttp2 takes them as the flow-control windows open, and a cut
 * is a RST_STREAM of that stream, not a close of the connection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/util.h"
#include "http/http_impl.h"

/* Why the server ended a stream (ringo_req.stream_cancel). */
enum { CANCEL_NONE, CANCEL_GONE, CANCEL_DRAIN, CANCEL_DEADLINE };

#define CHUNK_FRAME 20 /* "%zx\r\n" + "\r\n" for a chunk of any size_t length */

/* The shared state of a sync handler's stream (see the header comment). */
typedef struct ringo__sstream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ringo__completion comp; /* the hand-off CQE */
    ringo_req *req;
    char *buf; /* framed bytes from the worker, not yet taken by the ring */
    size_t len, cap;
    size_t ring_unsent; /* the connection's unsent bytes, as the ring last saw them */
    size_t window;
    int ring_fd;
    bool head;     /* started: the ring writes the head before the bytes */
    bool posted;   /* a hand-off CQE is on the way */
    bool gone;     /* cancelled: the worker's calls return -ECANCELED */
    bool finished; /* the job completed: a late CQE only releases its hold */
    bool held;     /* that late CQE holds the request */
    bool sse;
    bool mid_write; /* a write waits with part of it sent */
    bool zbusy;     /* the worker uses the compressor: the ring keeps off it */
} ringo__sstream;

typedef struct ringo__stream {
    uint8_t framing; /* RINGO__FRAME_* on the wire */
    bool has_length; /* the handler declared the length: it must write exactly that */
    bool ended;      /* the last chunk was written */
    bool aborted;    /* a framing violation: the response is cut */
    bool sse;
    bool mid_write;
    uint64_t declared, written;
    ringo__hdr *trailers;
    uint32_t ntrailers, trailer_cap;
    size_t trailer_bytes;
    ringo__fiber *waiter; /* async: parked in a write */
    ringo__sstream *sync; /* RINGO_SYNC handlers */
    ringo__zc *z;         /* compressed (http/compress.c): every write goes through it */
    bool zlost;           /* compressed bytes were lost (a write cut short): no clean end */
    bool lost;            /* a write failed part-way (cancelled): the body may miss bytes */
} ringo__stream;

static ringo__sess *sess(ringo__conn *c) { return ringo__conn_state(c); }

static size_t window_of(const ringo_req *r) { return sess(r->conn)->cfg->stream_window; }

static bool gone(const ringo_req *r)
{
    return atomic_load_explicit(&r->gone, memory_order_relaxed);
}

/* Ring: the stream's bytes the client has not taken yet (what the window bounds). */
static size_t unsent(const ringo_req *r)
{
    return r->h2 ? ringo__h2_stream_buffered(r) : ringo__conn_unsent(r->conn);
}

/* ---- framing ---- */

static char *put(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Frames n bytes of body for the stream into out (room: n + CHUNK_FRAME). */
static size_t frame(const ringo__stream *st, char *out, const void *data, size_t n)
{
    char *p = out;

    if (st->framing != RINGO__FRAME_CHUNKED)
        return (size_t)(put(p, data, n) - out);
    p += snprintf(p, CHUNK_FRAME, "%zx\r\n", n);
    p = put(p, data, n);
    p = put(p, "\r\n", 2);
    return (size_t)(p - out);
}

/* The end of a chunked body: last chunk, trailers, blank line. */
static size_t end_len(const ringo__stream *st)
{
    return st->framing == RINGO__FRAME_CHUNKED ? 5 + st->trailer_bytes : 0;
}

static size_t put_end(const ringo__stream *st, char *out)
{
    char *p = out;

    if (st->framing != RINGO__FRAME_CHUNKED)
        return 0;
    p = put(p, "0\r\n", 3);
    p += ringo__resp_fields(st->trailers, st->ntrailers, p);
    p = put(p, "\r\n", 2);
    return (size_t)(p - out);
}

/* ---- the ring side ---- */

/*
 * The keep-alive comment's wait starts again. HTTP/1.1: the connection's
 * timer (its one running request is the stream). HTTP/2: the stream's own
 * wait among the connection's deadlines (http/h2/session.c).
 */
static void arm_ping(ringo_req *r, bool sse)
{
    ringo__sess *s = sess(r->conn);

    if (!sse || !s->cfg->sse_ping_ms)
        return;
    if (r->h2)
        ringo__h2_stream_sse(r);
    else
        ringo__conn_timer(s->conn, RINGO__HTTP_TIMER_PING, s->cfg->sse_ping_ms);
}

/* Appends bytes to the connection's output and sends them. 0 or -ENOMEM. */
static int conn_append(ringo__conn *c, const char *p, size_t n)
{
    char *out;

    if (!n)
        return 0;
    out = ringo__conn_reserve(c, n);
    if (!out)
        return -ENOMEM;
    memcpy(out, p, n);
    ringo__conn_commit(c, n);
    ringo__conn_flush(c);
    return 0;
}

/* The ring's view: the connection (or the HTTP/2 stream) is no place for more stream bytes. */
static bool ring_closed(const ringo_req *r)
{
    return r->stream_cancel != CANCEL_NONE || gone(r) || ringo__conn_closing(r->conn) ||
           sess(r->conn)->state == SESS_CLOSED || (r->h2 && !r->h2s);
}

/* Ring: bytes of the body, framed already, after what was written. 0 or -errno. */
static int out_append(ringo_req *r, const char *p, size_t n)
{
    return r->h2 ? ringo__h2_stream_put(r, p, n) : conn_append(r->conn, p, n);
}

/* Ring: the head of the stream's response. 0 or -errno. */
static int out_head(ringo_req *r, const ringo__stream *st)
{
    if (r->h2)
        return ringo__h2_stream_head(r, st->framing == RINGO__FRAME_LENGTH ? (int64_t)st->declared
                                                                           : -1);
    return ringo__resp_serialize_head(r, r->conn, st->framing, st->declared);
}

/* Ring, under ss->mu: moves the worker's bytes (after the head, first time) into the connection. */
static void take_locked(ringo_req *r, ringo__sstream *ss)
{
    ringo__conn *c = r->conn;
    ringo__stream *st = r->stream;

    /*
     * Only a connection that is gone drops what the worker handed over: after
     * a shutdown's or a deadline's cancel the bytes already accepted still go
     * out, so that a body is never shorter than what its writes returned.
     */
    if (ringo__conn_closing(c) || sess(c)->state == SESS_CLOSED || (r->h2 && !r->h2s)) {
        ss->gone = true;
        ss->len = 0;
        return;
    }
    if (ring_closed(r))
        ss->gone = true; /* the worker's next call says -ECANCELED */
    if (ss->head) {
        ss->head = false;
        if (out_head(r, st) < 0) {
            ss->gone = true;
            ss->len = 0;
            if (!r->h2)
                ringo__conn_close(c, RINGO__CLOSE_NOW);
            return; /* HTTP/2: the stream is reset when the request is answered */
        }
        if (!ss->len && !r->h2)
            ringo__conn_flush(c);
    }
    if (out_append(r, ss->buf, ss->len) < 0) {
        ss->gone = true;
        if (!r->h2)
            ringo__conn_close(c, RINGO__CLOSE_NOW);
    }
    ss->len = 0;
    ss->ring_unsent = unsent(r);
}

/* The hand-off CQE of a sync handler's stream. */
static void handoff(ringo__completion *comp, int32_t res, uint32_t flags)
{
    ringo__sstream *ss = ringo__container_of(comp, ringo__sstream, comp);
    ringo_req *r = ss->req;
    bool release, sse;

    (void)res;
    (void)flags;
    pthread_mutex_lock(&ss->mu);
    ss->posted = false;
    release = ss->held;
    ss->held = false;
    if (!ss->finished) {
        r->ring_ss = ss;
        take_locked(r, ss);
        pthread_cond_broadcast(&ss->cv);
    }
    sse = ss->sse && !ss->gone;
    pthread_mutex_unlock(&ss->mu);
    if (release) {
        ringo__req_release(r);
        return;
    }
    /* Not under the mutex: a flush may close the connection, which cancels the stream. */
    if (r->h2)
        ringo__h2_stream_flush(r);
    if (sse && (r->h2 || sess(r->conn)->running == r))
        arm_ping(r, true);
}

/* Ring: the stream's waiting writer learns about progress or an end. */
static void signal_writer(ringo_req *r)
{
    ringo__stream *st = r->stream;
    ringo__sstream *ss = r->ring_ss;

    if (ss) {
        pthread_mutex_lock(&ss->mu);
        if (ring_closed(r))
            ss->gone = true;
        ss->ring_unsent = unsent(r);
        pthread_cond_broadcast(&ss->cv);
        pthread_mutex_unlock(&ss->mu);
    } else if (st && st->waiter && (ring_closed(r) || unsent(r) < window_of(r))) {
        ringo__fiber_wake(st->waiter);
    }
}

void ringo__stream_h2_drained(ringo_req *r)
{
    if ((r->task && r->stream) || r->ring_ss)
        signal_writer(r);
}

void ringo__stream_progress(ringo__sess *s)
{
    ringo_req *r = s->running;

    /* Async streams are known to the ring by r->stream; sync ones by r->ring_ss. */
    if (r && ((r->task && r->stream) || r->ring_ss))
        signal_writer(r);
}

static void cancel(ringo_req *r, int why)
{
    if (r->stream_cancel == CANCEL_NONE)
        r->stream_cancel = (uint8_t)why;
    atomic_store_explicit(&r->gone, true, memory_order_relaxed);
    if (r->task)
        ringo__fiber_cancel(r->task); /* wakes a parked writer too */
    if (r->ring_ss) {
        signal_writer(r);
        atomic_fetch_add_explicit(&ringo__ring_stats_of(ringo__conn_ring(r->conn))->cancels, 1,
                                  memory_order_relaxed);
    }
}

static bool known(const ringo_req *r) { return (r->task && r->stream) || r->ring_ss; }

void ringo__stream_drain(ringo_req *r)
{
    if (known(r))
        cancel(r, CANCEL_DRAIN);
}

bool ringo__stream_deadline(ringo_req *r)
{
    if (!known(r))
        return false;
    cancel(r, CANCEL_DEADLINE);
    return true;
}

void ringo__stream_abandon(ringo_req *r)
{
    if (r->ring_ss)
        cancel(r, CANCEL_GONE);
}

/*
 * Ring: the bytes of a compressed stream's coding, framed, into the
 * connection; end: the coding's last bytes. Only while the handler's
 * thread keeps off the compressor (see z_write). 0 or -ENOMEM.
 */
static int z_append(ringo_req *r, const char *data, size_t len, bool end)
{
    ringo__stream *st = r->stream;
    const char *out;
    size_t n;
    char *p;

    if (ringo__zc_write(st->z, data, len, end, &out, &n) < 0)
        return -ENOMEM;
    if (!n)
        return 0;
    if (r->h2)
        return ringo__h2_stream_put(r, out, n); /* DATA frames are the framing */
    p = ringo__conn_reserve(r->conn, n + CHUNK_FRAME);
    if (!p)
        return -ENOMEM;
    ringo__conn_commit(r->conn, frame(st, p, out, n));
    ringo__conn_flush(r->conn);
    return 0;
}

/*
 * Ring: the keep-alive comment of an SSE stream at an event boundary. Over
 * HTTP/2 the same bytes as a DATA frame, and only when the stream's buffer
 * is empty: bytes still waiting for the client's window keep nothing alive
 * that the ping would (the send timeout watches that wait).
 */
static void append_ping(ringo_req *r)
{
    static const char ping_chunk[] = "7\r\n: ping\n\r\n", ping_raw[] = ": ping\n";
    bool chunked = r->stream->framing == RINGO__FRAME_CHUNKED;

    if (r->is_head || r->stream->zlost || (r->h2 && ringo__h2_stream_buffered(r)))
        return;
    if (r->stream->z && z_append(r, ping_raw, sizeof(ping_raw) - 1, false) < 0) {
        if (r->h2)
            r->stream->zlost = true; /* the coding state is lost: the stream is cut at its end */
        else
            ringo__conn_close(r->conn, RINGO__CLOSE_NOW);
    } else if (!r->stream->z && r->h2) {
        (void)ringo__h2_stream_put(r, ping_raw, sizeof(ping_raw) - 1); /* all or nothing */
    } else if (!r->stream->z) {
        conn_append(r->conn, chunked ? ping_chunk : ping_raw,
                    chunked ? sizeof(ping_chunk) - 1 : sizeof(ping_raw) - 1);
    }
}

/* Ring: a ping for r's event stream unless it is inside an event; false: no event stream. */
static bool ping(ringo_req *r)
{
    ringo__stream *st;
    ringo__sstream *ss;

    if (!r || ring_closed(r))
        return false;
    ss = r->ring_ss;
    if (ss) {
        pthread_mutex_lock(&ss->mu);
        /* Bytes on their way, or a write cut by the window: not at an event boundary. */
        if (!(ss->len || ss->head || ss->mid_write || ss->zbusy || !ss->sse)) {
            /* The worker does not touch the framing once started. */
            append_ping(r);
            ss->ring_unsent = unsent(r);
        }
        pthread_mutex_unlock(&ss->mu);
        return true;
    }
    if (r->task && (st = r->stream) && st->sse && !st->ended) {
        if (!st->mid_write)
            append_ping(r);
        return true;
    }
    return false;
}

void ringo__stream_ping(ringo__sess *s)
{
    if (ping(s->running))
        arm_ping(s->running, true);
}

bool ringo__stream_h2_ping(ringo_req *r) { return ping(r); }

void ringo__stream_job_done(ringo_req *r)
{
    ringo__sstream *ss = r->stream ? r->stream->sync : NULL;

    if (!ss)
        return;
    pthread_mutex_lock(&ss->mu);
    ss->finished = true;
    if (ss->posted && !ss->held) {
        ss->held = true;
        ringo__req_hold(r);
    }
    pthread_mutex_unlock(&ss->mu);
}

void ringo__stream_free(ringo_req *r)
{
    ringo__sstream *ss = r->stream ? r->stream->sync : NULL;

    if (r->stream) {
        ringo__zc_free(r->stream->z);
        r->stream->z = NULL;
    }
    if (!ss)
        return;
    ringo__free(ss->buf);
    pthread_mutex_destroy(&ss->mu);
    pthread_cond_destroy(&ss->cv);
    r->stream->sync = NULL;
}

static void log_cut(const ringo_req *r, const char *why)
{
    fprintf(stderr, "ringo: '%s': streamed response aborted: %s\n",
            r->route ? r->route->label : "?", why);
}

/* HTTP/2: the end of the body (the coding's last bytes, the trailers), or the stream's reset. */
static bool h2_finish(ringo_req *r, const char *cut)
{
    ringo__stream *st = r->stream;

    if (!cut && !st->ended && !r->is_head && st->z && z_append(r, NULL, 0, true) < 0)
        cut = "no memory for the end of the compressed body";
    if (cut)
        log_cut(r, cut);
    ringo__h2_stream_end(r, st->trailers, st->ntrailers, cut != NULL);
    st->ended = true;
    return true;
}

/*
 * Ring, when the request is answered: the rest of a sync stream's bytes, then
 * the end of the body or the cut. Returns false when the connection must
 * close after what was sent.
 */
bool ringo__stream_finish(ringo_req *r)
{
    ringo__stream *st = r->stream;
    ringo__conn *c = r->conn;
    ringo__sstream *ss = st->sync;
    const char *cut = NULL;
    char *p;

    if (ss) {
        pthread_mutex_lock(&ss->mu);
        take_locked(r, ss);
        pthread_mutex_unlock(&ss->mu);
    }
    if (ringo__conn_closing(c))
        return false;
    if (st->zlost)
        cut = "a compressed write was cut short";
    else if (st->lost && r->stream_cancel == CANCEL_DRAIN)
        cut = "shutdown cancelled a write under way";
    else if (st->aborted)
        cut = "writes past the declared Content-Length";
    else if (r->stream_cancel == CANCEL_DEADLINE)
        cut = "the route deadline passed";
    else if (st->has_length && st->written != st->declared && !r->is_head)
        cut = "fewer bytes than the declared Content-Length";
    else if (r->outcome != REQ_OK && r->stream_cancel != CANCEL_DRAIN)
        cut = "the handler failed after the head was sent";
    if (r->h2)
        return h2_finish(r, cut);
    if (cut) {
        log_cut(r, cut);
        return false;
    }
    /* The handler's thread is done: the ring may finish the coding. */
    if (!st->ended && !r->is_head && st->z && z_append(r, NULL, 0, true) < 0)
        return false;
    if (!st->ended && !r->is_head && st->framing == RINGO__FRAME_CHUNKED) {
        p = ringo__conn_reserve(c, end_len(st));
        if (!p)
            return false;
        ringo__conn_commit(c, put_end(st, p));
    }
    st->ended = true;
    return st->framing != RINGO__FRAME_NONE;
}

/* ---- the handler side ---- */

static ringo__sstream *sync_new(ringo_req *r)
{
    ringo__sstream *ss = ringo_req_alloc(r, sizeof(*ss));

    if (!ss)
        return NULL;
    memset(ss, 0, sizeof(*ss));
    if (pthread_mutex_init(&ss->mu, NULL) != 0)
        return NULL;
    if (pthread_cond_init(&ss->cv, NULL) != 0) {
        pthread_mutex_destroy(&ss->mu);
        return NULL;
    }
    ss->comp.fn = handoff;
    ss->req = r;
    ss->window = window_of(r);
    ss->ring_fd = ringo__ring_fd(ringo__conn_ring(r->conn));
    return ss;
}

/* Worker, under ss->mu: sends the hand-off CQE unless one is on the way. */
static int post_locked(ringo__sstream *ss)
{
    int ret;

    if (ss->posted)
        return 0;
    ss->posted = true;
    ringo__tsan_release(&ss->comp); /* the ring reads it on the CQE (ring.c dispatch) */
    ret = ringo__pool_post(ss->ring_fd, ringo__ptr_data(&ss->comp), 0);
    if (ret < 0) {
        /* No CQE will come: the ring never sees these bytes. */
        ss->posted = false;
        ss->gone = true;
        ss->len = 0;
        return -ECANCELED;
    }
    return 0;
}

/* Worker: frames and hands over len bytes (or raw bytes when raw), waiting for the window. */
static int sync_write(ringo_req *r, ringo__stream *st, const char *data, size_t len, bool raw)
{
    ringo__sstream *ss = st->sync;
    int ret = 0;

    pthread_mutex_lock(&ss->mu);
    while (len && !ret) {
        size_t used = ss->len + ss->ring_unsent, n, need;
        if (ss->gone || gone(r)) {
            ret = -ECANCELED;
            break;
        }
        if (used >= ss->window) {
            ss->mid_write = true;
            pthread_cond_wait(&ss->cv, &ss->mu);
            continue;
        }
        n = raw ? len : (len < ss->window - used ? len : ss->window - used);
        need = ss->len + n + CHUNK_FRAME;
        if (need > ss->cap) {
            char *b = ringo__realloc(ss->buf, need);
            if (!b) {
                ret = -ENOMEM;
                break;
            }
            ss->buf = b;
            ss->cap = need;
        }
        ss->len += raw ? (size_t)(put(ss->buf + ss->len, data, n) - (ss->buf + ss->len))
                       : frame(st, ss->buf + ss->len, data, n);
        data += n;
        len -= n;
        ret = post_locked(ss);
    }
    ss->mid_write = false;
    pthread_mutex_unlock(&ss->mu);
    return ret;
}

/* Coroutine: appends len bytes (raw: already framed), parking while the window is full. */
static int async_write(ringo_req *r, ringo__stream *st, const char *data, size_t len, bool raw)
{
    ringo__conn *c = r->conn;
    size_t window = window_of(r);
    int ret = 0;

    st->mid_write = true;
    while (len) {
        size_t unsent, n;
        char *p;
        if (ring_closed(r)) {
            ret = -ECANCELED;
            break;
        }
        unsent = r->h2 ? ringo__h2_stream_buffered(r) : ringo__conn_unsent(c);
        if (unsent >= window) {
            st->waiter = ringo__fiber_current();
            ret = ringo__fiber_park();
            st->waiter = NULL;
            if (ret < 0)
                break;
            continue;
        }
        n = raw ? len : (len < window - unsent ? len : window - unsent);
        if (r->h2) {
            /* Unframed (never raw: no last chunk): nghttp2 makes the DATA frames. */
            ret = ringo__h2_stream_put(r, data, n);
            if (ret < 0)
                break;
            ringo__h2_stream_flush(r);
            data += n;
            len -= n;
            continue;
        }
        p = ringo__conn_reserve(c, n + CHUNK_FRAME);
        if (!p) {
            ret = -ENOMEM;
            break;
        }
        ringo__conn_commit(c, raw ? (size_t)(put(p, data, n) - p) : frame(st, p, data, n));
        ringo__conn_flush(c);
        data += n;
        len -= n;
    }
    st->mid_write = false;
    if (ret == 0)
        arm_ping(r, st->sse);
    return ret == -ECANCELED || ringo__fiber_current()->cancelled ? -ECANCELED : ret;
}

static int write_any(ringo_req *r, int ctx, const char *data, size_t len, bool raw)
{
    ringo__stream *st = r->stream;

    return ctx == RINGO__CTX_ASYNC ? async_write(r, st, data, len, raw)
                                   : sync_write(r, st, data, len, raw);
}

/*
 * A write of a compressed stream: compressed and flushed (end: finished),
 * then written as the bytes of one write. The ring uses the compressor
 * too, for SSE pings and the end of a body the handler did not end: for an
 * async stream the coroutine never yields between compressing and the end
 * of its write (mid_write keeps pings out meanwhile); a sync stream's
 * worker marks the compressor busy (zbusy) under the mutex.
 */
static int z_write(ringo_req *r, int ctx, const void *data, size_t len, bool end)
{
    ringo__stream *st = r->stream;
    ringo__sstream *ss = st->sync;
    const char *out;
    size_t n;
    int ret;

    if (ss) {
        pthread_mutex_lock(&ss->mu);
        ss->zbusy = true;
        pthread_mutex_unlock(&ss->mu);
    }
    ret = ringo__zc_write(st->z, data, len, end, &out, &n);
    if (ret == 0 && n)
        ret = write_any(r, ctx, out, n, false);
    if (ss)
        pthread_mutex_lock(&ss->mu);
    /* Part of the coding never went out: the stream can only be cut, never ended. */
    if (ret < 0)
        st->zlost = true;
    if (ss) {
        ss->zbusy = false;
        pthread_mutex_unlock(&ss->mu);
    }
    return ret;
}

/* ringo_stream_start(); sse: an event stream, known before its head is on its way. */
static int stream_start(ringo_req *req, int64_t length, bool sse)
{
    int ctx = ringo__req_context(req);
    ringo__stream *st;
    int ret;

    if (ctx == RINGO__CTX_NONE)
        return -EPERM;
    if (req->stream)
        return -EALREADY;
    if (length < RINGO_STREAM_CHUNKED || req->status < 200 || req->status == 204 ||
        req->status == 304)
        return -EINVAL;
    if (gone(req) || (ctx == RINGO__CTX_ASYNC && ringo__fiber_current()->cancelled))
        return -ECANCELED;
    st = ringo_req_alloc(req, sizeof(*st));
    if (!st)
        return -ENOMEM;
    memset(st, 0, sizeof(*st));
    /* Compression hook: adds its headers; a compressed stream's length is unknown. */
    if (ringo__compress_stream(req, &st->z) < 0)
        return -ENOMEM;
    st->has_length = length >= 0;
    if (length >= 0 && !st->z) {
        st->framing = RINGO__FRAME_LENGTH;
    } else if (req->h2) {
        st->framing = RINGO__FRAME_H2; /* the stream's END_STREAM ends it */
    } else if (req->http_minor == 0) {
        st->framing = RINGO__FRAME_NONE; /* HTTP/1.0: the end is the close */
        req->keep_alive = false;
    } else {
        st->framing = RINGO__FRAME_CHUNKED;
    }
    st->declared = length >= 0 ? (uint64_t)length : 0;
    st->sse = sse;
    if (ctx == RINGO__CTX_SYNC) {
        st->sync = sync_new(req);
        if (!st->sync) {
            ringo__zc_free(st->z);
            return -ENOMEM;
        }
        req->stream = st;
        pthread_mutex_lock(&st->sync->mu);
        st->sync->head = true;
        /* Before the hand-off: the ring arms the first ping when it writes the head. */
        st->sync->sse = sse;
        ret = post_locked(st->sync);
        pthread_mutex_unlock(&st->sync->mu);
        return ret;
    }
    if ((ret = out_head(req, st)) < 0) {
        ringo__zc_free(st->z);
        return ret;
    }
    req->stream = st;
    if (req->h2)
        ringo__h2_stream_flush(req);
    else
        ringo__conn_flush(req->conn);
    arm_ping(req, sse);
    return 0;
}

int ringo_stream_start(ringo_req *req, int64_t length) { return stream_start(req, length, false); }

int ringo_stream_write(ringo_req *req, const void *data, size_t len)
{
    int ctx = ringo__req_context(req);
    ringo__stream *st = req->stream;
    int ret;

    if (ctx == RINGO__CTX_NONE || !st || st->ended)
        return -EPERM;
    if (st->aborted || st->zlost || gone(req) ||
        (ctx == RINGO__CTX_ASYNC && ringo__fiber_current()->cancelled))
        return -ECANCELED;
    if (st->has_length && len > st->declared - st->written) {
        /* Never a mis-framed response: the bytes so far go out, then the close. */
        st->aborted = true;
        return -EPIPE;
    }
    if (!len || req->is_head) {
        st->written += len;
        return 0;
    }
    ret = st->z ? z_write(req, ctx, data, len, false) : write_any(req, ctx, data, len, false);
    if (ret == 0)
        st->written += len;
    else
        st->lost = true; /* some of it may be missing: the stream cannot end cleanly */
    return ret;
}

int ringo_stream_trailer(ringo_req *req, const char *name, ringo_str value)
{
    ringo__stream *st = req->stream;
    int ret;
    ringo__hdr *h;

    if (ringo__req_context(req) == RINGO__CTX_NONE || !st || st->ended)
        return -EPERM;
    ret = ringo__resp_header_check(name, value);
    if (ret < 0)
        return ret;
    if (st->framing != RINGO__FRAME_CHUNKED && !req->h2)
        return 0; /* no place for it: dropped (HTTP/2 always has one: a HEADERS frame) */
    if (st->ntrailers == st->trailer_cap) {
        uint32_t cap = st->trailer_cap ? st->trailer_cap * 2 : 4;
        h = ringo_req_alloc(req, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        if (st->ntrailers)
            memcpy(h, st->trailers, st->ntrailers * sizeof(*h));
        st->trailers = h;
        st->trailer_cap = cap;
    }
    h = &st->trailers[st->ntrailers];
    h->name = (ringo_str){ringo__arena_dup(&req->arena, name, (size_t)ret), (size_t)ret};
    h->value = (ringo_str){ringo__arena_dup(&req->arena, value.ptr, value.len), value.len};
    if (!h->name.ptr || !h->value.ptr)
        return -ENOMEM;
    st->ntrailers++;
    st->trailer_bytes += (size_t)ret + value.len + 4;
    return 0;
}

int ringo_stream_end(ringo_req *req)
{
    int ctx = ringo__req_context(req);
    ringo__stream *st = req->stream;
    char *buf;
    size_t n;
    int ret;

    if (ctx == RINGO__CTX_NONE || !st || st->ended)
        return -EPERM;
    if (st->aborted || st->zlost || gone(req) ||
        (ctx == RINGO__CTX_ASYNC && ringo__fiber_current()->cancelled))
        return -ECANCELED;
    if (st->has_length && st->written != st->declared)
        return -EPIPE; /* the response is cut when the handler returns */
    if (st->z && !req->is_head && (ret = z_write(req, ctx, NULL, 0, true)) < 0)
        return ret; /* the coding's last bytes before the last chunk */
    if (st->sync) {
        /*
         * No keep-alive comment may follow the end (the worker may go on for
         * long): not the last chunk, nor the end of an HTTP/1.0 or HTTP/2
         * body, which comes only when the handler returns.
         */
        pthread_mutex_lock(&st->sync->mu);
        st->sync->sse = false;
        pthread_mutex_unlock(&st->sync->mu);
    }
    if (st->framing != RINGO__FRAME_CHUNKED || req->is_head) {
        st->ended = true;
        return 0;
    }
    buf = ringo__malloc(end_len(st));
    if (!buf)
        return -ENOMEM;
    n = put_end(st, buf);
    ret = write_any(req, ctx, buf, n, true);
    ringo__free(buf);
    if (ret == 0)
        st->ended = true;
    return ret;
}

/* ---- bodies that reach the socket another way (http/file.c's splice) ---- */

int ringo__stream_flushed(ringo_req *r)
{
    ringo__stream *st = r->stream;
    int ret = 0;

    /* Progress wakes the writer below the window, so every send completion wakes it here. */
    while (ret == 0 && ringo__conn_unsent(r->conn)) {
        if (ring_closed(r))
            return -ECANCELED;
        st->waiter = ringo__fiber_current();
        ret = ringo__fiber_park();
        st->waiter = NULL;
    }
    return ret < 0 || ring_closed(r) ? -ECANCELED : 0;
}

void ringo__stream_sent(ringo_req *r, uint64_t n)
{
    r->stream->written += n;
    ringo__conn_count_sent(r->conn, n); /* the ring's bytes_sent counts them too */
}

/* ---- Server-Sent Events ---- */

int ringo_sse_start(ringo_req *req)
{
    int ret;

    if (ringo__req_context(req) == RINGO__CTX_NONE)
        return -EPERM;
    if (req->stream)
        return -EALREADY;
    if ((ret = ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/event-stream"))) ||
        (ret = ringo_resp_add_header(req, "Cache-Control", RINGO_STR_LIT("no-cache"))) ||
        (ret = ringo_resp_add_header(req, "X-Accel-Buffering", RINGO_STR_LIT("no"))))
        return ret;
    return stream_start(req, RINGO_STREAM_CHUNKED, true);
}

static bool has_break(const char *s) { return s && (strchr(s, '\r') || strchr(s, '\n')); }

/* Bytes of "name: value\n" lines for data split on CRLF, CR or LF. */
static size_t data_lines(const char *d, size_t n, char *out)
{
    size_t len = 0, i = 0;

    do {
        size_t start = i;
        while (i < n && d[i] != '\r' && d[i] != '\n')
            i++;
        if (out) {
            memcpy(out + len, "data: ", 6);
            memcpy(out + len + 6, d + start, i - start);
            out[len + 6 + i - start] = '\n';
        }
        len += 6 + (i - start) + 1;
        if (i < n && d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
            i++;
        if (i < n)
            i++;
        else
            break;
    } while (1);
    return len;
}

int ringo_sse_send(ringo_req *req, const ringo_sse_event *ev)
{
    size_t n = 1, elen = 0, ilen = 0;
    char retry[32] = "", *buf, *p;
    int ret;

    if (!ev || has_break(ev->event) || has_break(ev->id) || (ev->data_len && !ev->data) ||
        !RINGO__RESERVED_ZERO(ev->reserved))
        return -EINVAL;
    if (ev->event)
        n += 7 + (elen = strlen(ev->event)) + 1;
    if (ev->id)
        n += 4 + (ilen = strlen(ev->id)) + 1;
    if (ev->retry_ms)
        n += (size_t)snprintf(retry, sizeof(retry), "retry: %u\n", ev->retry_ms);
    if (ev->data)
        n += data_lines(ev->data, ev->data_len, NULL);
    buf = ringo__malloc(n);
    if (!buf)
        return -ENOMEM;
    p = buf;
    if (ev->event) {
        p = put(p, "event: ", 7);
        p = put(p, ev->event, elen);
        *p++ = '\n';
    }
    if (ev->id) {
        p = put(p, "id: ", 4);
        p = put(p, ev->id, ilen);
        *p++ = '\n';
    }
    p = put(p, retry, strlen(retry));
    if (ev->data)
        p += data_lines(ev->data, ev->data_len, p);
    *p++ = '\n';
    ret = ringo_stream_write(req, buf, (size_t)(p - buf));
    ringo__free(buf);
    return ret;
}

int ringo_sse_comment(ringo_req *req, const char *text)
{
    size_t n = text ? strlen(text) : 0;
    char *buf;
    int ret;

    if (has_break(text))
        return -EINVAL;
    buf = ringo__malloc(n + 3);
    if (!buf)
        return -ENOMEM;
    buf[0] = ':';
    buf[1] = ' ';
    memcpy(buf + 2, text ? text : "", n);
    buf[n + 2] = '\n';
    ret = ringo_stream_write(req, buf, n + 3);
    ringo__free(buf);
    return ret;
}

int ringo_sse_last_event_id(const ringo_req *req, ringo_str *out)
{
    return ringo_req_header(req, "Last-Event-ID", out);
}
