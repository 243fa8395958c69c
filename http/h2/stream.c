/*
 * http/h2/stream.c - responses written in parts over HTTP/2 (ringo/stream.h
 * on an HTTP/2 stream): the head goes out as a HEADERS frame when the
 * handler starts the stream, its bytes as DATA frames through nghttp2's
 * data provider, its trailers as a last HEADERS frame.
 *
 * The handler's bytes wait in the stream's buffer until nghttp2 frames
 * them, which it does only as far as the stream's and the connection's
 * flow-control windows and the connection's output bound allow. The
 * handler's writes (http/stream.c) wait while that buffer holds a window
 * (stream_window) of bytes: a client that does not open its windows pauses
 * the producer exactly as a full socket does on HTTP/1.1. An empty buffer
 * defers the data provider (NGHTTP2_ERR_DEFERRED) until the next write
 * resumes it. A reset stream or a closed connection drops the buffer and
 * the handler's next write returns -ECANCELED (http/h2/session.c cancels a
 * suspended handler as on a hang-up).
 *
 * An HTTP/2 stream ends on its own frame, so a cut response (a short body,
 * a handler error after the head) is a RST_STREAM INTERNAL_ERROR of that
 * stream alone; the connection goes on.
 *
 * Everything here runs on the connection's ring thread.
 */
#include <errno.h>

#include "core/alloc.h"
#include "http/http_impl.h"

#if RINGO_WITH_H2
#include "http/h2/h2_impl.h"

/* Sends what is buffered as the windows allow; NGHTTP2_ERR_DEFERRED when empty. */
static ssize_t read_stream(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                           uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    ringo__h2s *st = src->ptr;
    size_t n = st->len - st->off;

    (void)ud;
    if (!n && !st->eof) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > length)
        n = length;
    if (n)
        memcpy(buf, st->body + st->off, n);
    st->off += n;
    if (st->off == st->len)
        st->off = st->len = 0;
    if (!st->len && st->eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        /* RFC 9113 §8.1: the trailers' HEADERS frame carries END_STREAM instead. */
        if (st->ntrailers && nghttp2_submit_trailer(ng, id, st->trailers, st->ntrailers) == 0)
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    if (n && st->r)
        ringo__stream_h2_drained(st->r); /* a writer waiting for room may go on */
    return (ssize_t)n;
}

int ringo__h2_stream_head(ringo_req *r, int64_t length)
{
    ringo__h2s *st = r->h2s;
    nghttp2_data_provider prd = {.read_callback = read_stream};
    int ret;

    if (!st)
        return -ECANCELED;
    prd.source.ptr = st;
    /* HEAD: the provider ends the stream with an empty DATA frame when the handler is done. */
    ret = ringo__h2_submit_head(st->h, st, r, length, &prd);
    if (ret != 0)
        return ret == NGHTTP2_ERR_NOMEM ? -ENOMEM : -ECANCELED;
    st->streaming = true;
    return 0;
}

int ringo__h2_stream_put(ringo_req *r, const char *p, size_t n)
{
    ringo__h2s *st = r->h2s;

    if (!st || !st->streaming || st->eof)
        return -ECANCELED;
    if (!n)
        return 0;
    if (st->len + n > st->cap && st->off) {
        memmove(st->body, st->body + st->off, st->len - st->off);
        st->len -= st->off;
        st->off = 0;
    }
    if (st->len + n > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        char *b;
        while (cap < st->len + n)
            cap *= 2;
        b = ringo__realloc(st->body, cap);
        if (!b)
            return -ENOMEM;
        st->body = b;
        st->cap = cap;
    }
    memcpy(st->body + st->len, p, n);
    st->len += n;
    if (st->sse)
        st->ping_at = ringo__ring_now(ringo__conn_ring(st->h->s->conn)); /* not silent */
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(st->h->ng, st->id);
    }
    return 0;
}

void ringo__h2_stream_sse(ringo_req *r)
{
    ringo__h2s *st = r->h2s;
    bool first;

    if (!st)
        return;
    first = !st->sse;
    st->sse = true;
    st->ping_at = ringo__ring_now(ringo__conn_ring(st->h->s->conn));
    /* Later writes only move the ping later: a timer that fires early is armed again. */
    if (first)
        ringo__h2_rearm(st->h);
}

size_t ringo__h2_stream_buffered(const ringo_req *r)
{
    const ringo__h2s *st = r->h2s;

    return st ? st->len - st->off : 0;
}

void ringo__h2_stream_flush(ringo_req *r)
{
    ringo__sess *s = ringo__conn_state(r->conn);

    if (s->h2)
        ringo__h2_kick(s->h2);
}

/* Lower-case copies of the trailers, one allocation that the stream frees. */
static int copy_trailers(ringo__h2s *st, const ringo__hdr *tr, uint32_t ntr)
{
    size_t bytes = ntr * sizeof(nghttp2_nv);
    char *p;

    for (uint32_t i = 0; i < ntr; i++)
        bytes += tr[i].name.len + tr[i].value.len;
    st->tmem = ringo__malloc(bytes);
    if (!st->tmem)
        return -ENOMEM;
    st->trailers = st->tmem;
    p = (char *)(st->trailers + ntr);
    for (uint32_t i = 0; i < ntr; i++) {
        nghttp2_nv *nv = &st->trailers[i];
        nv->name = (uint8_t *)p;
        for (size_t k = 0; k < tr[i].name.len; k++) {
            char c = tr[i].name.ptr[k];
            *p++ = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        nv->value = (uint8_t *)p;
        memcpy(p, tr[i].value.ptr, tr[i].value.len);
        p += tr[i].value.len;
        nv->namelen = tr[i].name.len;
        nv->valuelen = tr[i].value.len;
        nv->flags = NGHTTP2_NV_FLAG_NONE;
    }
    st->ntrailers = ntr;
    return 0;
}

void ringo__h2_stream_end(ringo_req *r, const ringo__hdr *tr, uint32_t ntr, bool cut)
{
    ringo__h2s *st = r->h2s;

    if (!st)
        return;
    if (!st->streaming || cut || (ntr && !r->is_head && copy_trailers(st, tr, ntr) < 0)) {
        /* Never a response that looks complete but is not: this stream alone is reset. */
        nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    st->eof = true;
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(st->h->ng, st->id);
    }
}

void ringo__h2_streams_drain(ringo__h2 *h)
{
    /* Only streams the ring knows of (http/stream.c): a sync handler's may still be on its way. */
    for (ringo__h2s *st = h->streams; st; st = st->next)
        if (st->r)
            ringo__stream_drain(st->r);
}

/* ---- request bodies read as they arrive ---- */

/*
 * The connection's window is RINGO__H2_CONN_WINDOWS stream windows: bodies
 * read as they arrive hold their unread bytes against both, so one slow
 * reader stalls its own stream, not the connection's others. Buffered
 * bodies reopen both windows as their DATA arrives.
 */
#define RINGO__H2_CONN_WINDOWS 16

int ringo__h2_conn_window(ringo__h2 *h)
{
    uint64_t w = h->s->cfg->h2_window ? h->s->cfg->h2_window : 65535;

    w *= RINGO__H2_CONN_WINDOWS;
    if (w > INT32_MAX)
        w = INT32_MAX;
    return nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, (int32_t)w) == 0
               ? 0
               : -ENOMEM;
}

void ringo__h2_body_data(ringo__h2s *st, const uint8_t *data, size_t len)
{
    ringo_req *r = st->r;

    if (st->recv + len > r->max_body) {
        ringo__body_fail(r, 413);
    } else if (ringo__body_append(r, (const char *)data, len) < 0) {
        ringo__body_fail(r, 503);
    } else {
        st->recv += len;
        return; /* the window reopens when the handler reads them */
    }
    nghttp2_session_consume(st->h->ng, st->id, len); /* dropped: no reason to hold the client */
}

void ringo__h2_body_read(ringo_req *r, uint64_t taken)
{
    ringo__h2s *st = r->h2s;

    if (!st || taken <= st->consumed)
        return;
    nghttp2_session_consume(st->h->ng, st->id, (size_t)(taken - st->consumed));
    st->consumed = taken;
    ringo__h2_kick(st->h); /* the WINDOW_UPDATE */
}

void ringo__h2_body_rest(ringo__h2s *st, bool closing)
{
    size_t n = (size_t)(st->recv - st->consumed);

    if (!n)
        return;
    st->consumed = st->recv;
    /* A closing stream's window is gone; the connection's must not shrink for good. */
    if (closing)
        nghttp2_session_consume_connection(st->h->ng, n);
    else
        nghttp2_session_consume(st->h->ng, st->id, n);
}

bool ringo__h2_body_shut(const ringo__h2s *st)
{
    nghttp2_session *ng = st->h->ng;

    /* What the client may still send (nghttp2 counts what it received, less WINDOW_UPDATEs). */
    return nghttp2_session_get_stream_local_window_size(ng, st->id) <= 0 ||
           nghttp2_session_get_local_window_size(ng) <= 0;
}

#else /* !RINGO_WITH_H2: no request is ever an HTTP/2 stream's */

int ringo__h2_stream_head(ringo_req *r, int64_t length)
{
    (void)r;
    (void)length;
    return -EOPNOTSUPP;
}
int ringo__h2_stream_put(ringo_req *r, const char *p, size_t n)
{
    (void)r;
    (void)p;
    (void)n;
    return -EOPNOTSUPP;
}
size_t ringo__h2_stream_buffered(const ringo_req *r)
{
    (void)r;
    return 0;
}
void ringo__h2_stream_flush(ringo_req *r) { (void)r; }
void ringo__h2_stream_sse(ringo_req *r) { (void)r; }
void ringo__h2_body_read(ringo_req *r, uint64_t taken)
{
    (void)r;
    (void)taken;
}
void ringo__h2_stream_end(ringo_req *r, const ringo__hdr *tr, uint32_t ntr, bool cut)
{
    (void)r;
    (void)tr;
    (void)ntr;
    (void)cut;
}

#endif
