/*
 * http/h2/session.c - HTTP/2 on a connection (RFC 9113), framing and HPACK
 * by nghttp2.
 *
 * A connection becomes HTTP/2 when its first bytes are the client preface
 * (h2c with prior knowledge; http/session.c sniffs them), or when TLS's
 * ALPN chose h2 (the preface then comes through the record layer). From
 * then on its input goes to nghttp2 and nghttp2's output to the
 * connection, whose flush encrypts it first on TLS (core/tls.c): the same
 * send path, one send in flight, the same bound on output waiting. Every
 * stream is a ringo_req that runs through the same router, middleware,
 * dependencies and handler modes as an HTTP/1.1 request (http/exec.c);
 * streams run concurrently, each answered when its handler is done.
 *
 * A response is copied out of its request when it is answered (the stream
 * owns the copy), so the request's post-response work and freeing do not
 * wait for the client's flow-control windows. The body leaves through
 * nghttp2's data provider, as the per-stream and per-connection windows
 * allow.
 *
 * Limits on top of nghttp2's (docs/operations.md, "HTTP/2"): requests alive
 * per connection (streams plus handlers still running for reset streams)
 * bound by h2_max_streams, refused with REFUSED_STREAM; client resets beyond
 * h2_max_resets more than the streams it let finish end the connection with
 * GOAWAY ENHANCE_YOUR_CALM (CVE-2023-44487); a header block's frames and
 * bytes are bounded across CONTINUATION frames (CVE-2024-27316 family); the
 * header list is bound by max_header_bytes and max_headers (431). After
 * max_requests_per_conn streams, GOAWAY NO_ERROR names the last one: those
 * finish, later ones are refused, and the connection closes.
 *
 * Deadlines (the connection has one timer; the earliest applies): a header
 * block, or the first one after the preface, within header_timeout_ms; a
 * request's body within body_timeout_ms of its head (408 on its stream); a
 * body read as it arrives (RINGO_ROUTE_STREAM_BODY), the route's or the
 * app's body_timeout_ms from its head or its last DATA frame, paused while
 * its handler leaves the window shut, as over HTTP/1.1 (its reads fail and
 * a 408 replaces its answer); a response whose DATA waits on a window the
 * client keeps shut, send_timeout_ms from its last DATA frame (RST_STREAM
 * CANCEL, or the connection when its own window is shut); no stream,
 * handler or header block for keepalive_timeout_ms (GOAWAY). Frames that
 * complete none of these (PING, SETTINGS, WINDOW_UPDATE) move no deadline.
 * An event stream silent for sse_ping_ms gets a ": ping" comment line, as
 * over HTTP/1.1 (http/stream.c), through the same timer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "http/http_impl.h"
#include "http/observe_impl.h"

#if RINGO_WITH_H2
#include "http/h2/h2_impl.h"

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN 24
/*
 * nghttp2 1.61's bound on CONTINUATION frames (CVE-2024-28182), also in
 * Debian's 1.52: it returns this without a GOAWAY of its own.
 */
#define ERR_TOO_MANY_CONTINUATIONS (-905)
/* A header block's frames past this are a CONTINUATION flood, whatever their size. */
#define MAX_HEADER_FRAMES 64

static void h2_flush(ringo__h2 *h);

static uint64_t now_ms(const ringo__h2 *h) { return ringo__ring_now(ringo__conn_ring(h->s->conn)); }

static uint32_t max_streams(const ringo_config *c)
{
    return c->h2_max_streams ? c->h2_max_streams : 100;
}

/* ---- streams and their requests ---- */

static ringo__h2s *stream_new(ringo__h2 *h, int32_t id)
{
    ringo__h2s *st = ringo__calloc(1, sizeof(*st));
    ringo_req *r;

    if (!st)
        return NULL;
    r = ringo__req_new(h->s);
    if (!r) {
        ringo__free(st);
        return NULL;
    }
    r->h2 = true;
    r->h2s = st;
    r->keep_alive = true;
    r->http_minor = 1;
    h->s->h2_reqs++;
    st->h = h;
    st->r = r;
    st->id = id;
    st->next = h->streams;
    if (h->streams)
        h->streams->prev = st;
    h->streams = st;
    return st;
}

static void stream_free(ringo__h2 *h, ringo__h2s *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else
        h->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    ringo__free(st->body);
    ringo__free(st->tmem);
    ringo__free(st);
}

/* The stream is gone (reset, closed, connection closed) before its answer. */
static void stream_drop_req(ringo__h2 *h, ringo__h2s *st)
{
    ringo_req *r = st->r;

    if (!r)
        return;
    st->r = NULL;
    r->h2s = NULL;
    if (r->parked) {
        /* Its handler is suspended: cancel it like a hang-up; it frees the request. */
        r->parked = false;
        h->running--;
        ringo__exec_abandon(r, true);
    } else {
        ringo__req_free(r);
    }
}

static int add_header(ringo__h2 *h, ringo_req *r, ringo_str name, ringo_str value)
{
    ringo__hdr *hd;

    /* RFC 9113 §8.2.3: cookie crumbs are joined for handlers that read one field. */
    if (name.len == 6 && memcmp(name.ptr, "cookie", 6) == 0) {
        for (uint32_t i = 0; i < r->nhdrs; i++) {
            ringo__hdr *c = &r->hdrs[i];
            char *v;
            if (c->name.len != 6 || memcmp(c->name.ptr, "cookie", 6) != 0)
                continue;
            v = ringo__arena_alloc(&r->arena, c->value.len + 2 + value.len);
            if (!v)
                return -ENOMEM;
            memcpy(v, c->value.ptr, c->value.len);
            memcpy(v + c->value.len, "; ", 2);
            memcpy(v + c->value.len + 2, value.ptr, value.len);
            c->value = (ringo_str){v, c->value.len + 2 + value.len};
            return 0;
        }
    }
    if (r->nhdrs == r->hdr_cap) {
        uint32_t cap = r->hdr_cap ? r->hdr_cap * 2 : 16;
        hd = ringo__arena_grow(&r->arena, r->hdrs, r->hdr_cap * sizeof(*hd), cap * sizeof(*hd));
        if (!hd)
            return -ENOMEM;
        r->hdrs = hd;
        r->hdr_cap = cap;
    }
    hd = &r->hdrs[r->nhdrs];
    hd->name.ptr = ringo__arena_dup(&r->arena, name.ptr, name.len);
    hd->value.ptr = ringo__arena_dup(&r->arena, value.ptr, value.len);
    if (!hd->name.ptr || !hd->value.ptr)
        return -ENOMEM;
    hd->name.len = name.len;
    hd->value.len = value.len;
    r->nhdrs++;
    (void)h;
    return 0;
}

/* ---- answering ---- */

static bool hop_by_hop(const ringo_str n)
{
    static const char *const names[] = {"connection", "keep-alive", "proxy-connection",
                                        "transfer-encoding", "upgrade"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (n.len == strlen(names[i]) && ringo__ascii_iequal(n.ptr, names[i], n.len))
            return true;
    return false;
}

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    ringo__h2s *st = src->ptr;
    size_t n = st->len - st->off;

    (void)ng;
    (void)id;
    (void)ud;
    if (n > length)
        n = length;
    memcpy(buf, st->body + st->off, n);
    st->off += n;
    if (st->off == st->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static nghttp2_nv nv_of(const char *n, size_t nl, const char *v, size_t vl)
{
    return (nghttp2_nv){(uint8_t *)n, (uint8_t *)v, nl, vl, NGHTTP2_NV_FLAG_NONE};
}

/*
 * The response head's fields, in one heap block that nghttp2 copies from:
 * a sync handler's stream submits its head on the ring while the handler
 * goes on using the request's arena on its worker.
 */
int ringo__h2_submit_head(ringo__h2 *h, ringo__h2s *st, ringo_req *r, int64_t length,
                          const nghttp2_data_provider *prd)
{
    const char *date = ringo__ring_date_line(ringo__conn_ring(h->s->conn));
    char status[12], clen[24], *lower;
    size_t n = 0, names = 0;
    nghttp2_nv *nv;
    int ret;

    for (uint32_t i = 0; i < r->nrhdrs; i++)
        names += r->rhdrs[i].name.len;
    nv = ringo__malloc((r->nrhdrs + 5) * sizeof(*nv) + names);
    if (!nv)
        return NGHTTP2_ERR_NOMEM;
    lower = (char *)(nv + r->nrhdrs + 5);
    snprintf(status, sizeof(status), "%03d", r->status % 1000);
    nv[n++] = nv_of(":status", 7, status, 3);
    nv[n++] = nv_of("server", 6, "ringo", 5);
    nv[n++] = nv_of("date", 4, date + 6, 29); /* "Date: <29 chars>\r\n" */
    if (length >= 0)
        nv[n++] = nv_of("content-length", 14, clen,
                        (size_t)snprintf(clen, sizeof(clen), "%lld", (long long)length));
    for (uint32_t i = 0; i < r->nrhdrs; i++) {
        ringo__hdr *hd = &r->rhdrs[i];
        if (hop_by_hop(hd->name))
            continue;
        for (size_t k = 0; k < hd->name.len; k++)
            lower[k] =
                (char)(hd->name.ptr[k] >= 'A' && hd->name.ptr[k] <= 'Z' ? hd->name.ptr[k] + 32
                                                                        : hd->name.ptr[k]);
        nv[n++] = nv_of(lower, hd->name.len, hd->value.ptr, hd->value.len);
        lower += hd->name.len;
    }
    /* ringo_app_request_ids(): the request's ID, the client's own or ours (as on HTTP/1.1). */
    if (r->rid.len)
        nv[n++] = nv_of("x-request-id", 12, r->rid.ptr, r->rid.len);
    ret = nghttp2_submit_response(h->ng, st->id, nv, n, prd);
    ringo__free(nv);
    return ret;
}

/* Submits r's whole response on st's stream; st keeps a copy of the body. */
static int submit(ringo__h2 *h, ringo__h2s *st, ringo_req *r)
{
    bool no_len = r->status == 204 || r->status == 304, no_body = r->is_head || no_len;
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};

    ringo__resp_default_body(r);
    /* A file body's length without its bytes is for HEAD and 304 only (http/file.c). */
    if (!no_body && !r->rbody)
        r->rbody_len = 0;
    if (!no_body && r->rbody_len) {
        st->body = ringo__malloc(r->rbody_len);
        if (!st->body)
            return -ENOMEM;
        memcpy(st->body, r->rbody, r->rbody_len);
        st->len = r->rbody_len;
    }
    return ringo__h2_submit_head(h, st, r, no_len ? -1 : (int64_t)r->rbody_len,
                                 st->body ? &prd : NULL);
}

/*
 * r (st's request) has its answer: submit it; the request goes on to its
 * post work. Every answered stream passes here once, and is counted and
 * logged here (http/observe.c) as an HTTP/1.1 request is when its response
 * is queued. Its bytes are the DATA payload this answer hands to the
 * stream: a buffered body whole; of a streamed or file body, what was not
 * handed over before (as on HTTP/1.1, earlier pieces are not counted). The
 * HEADERS frame is not counted: its size is HPACK's, which depends on the
 * streams before it, and is known only once framed.
 */
static void respond(ringo__h2 *h, ringo__h2s *st, ringo_req *r)
{
    ringo__ring *ring = ringo__conn_ring(h->s->conn);
    ringo__obs *obs = h->s->app->obs;
    size_t queued = st->len - st->off, now;

    ringo__req_answer(r);
    if (obs)
        ringo__obs_answer(h->s, r); /* an ID for its head */
    if (r->stream) {
        /* Its head went out when it started (http/h2/stream.c): end or cut its body. */
        h->inline_runs++; /* the caller flushes: the connection may close there */
        ringo__stream_finish(r);
        h->inline_runs--;
    } else if (submit(h, st, r) < 0) {
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    }
    ringo__h2_body_rest(st, false); /* what its handler left unread */
    st->r = NULL;
    r->h2s = NULL;
    atomic_fetch_add_explicit(&ringo__ring_stats_of(ring)->reqs_served, 1, memory_order_relaxed);
    /* Nothing was framed meanwhile: the flush waits for the caller (inline_runs, or after). */
    now = st->len - st->off;
    if (obs)
        ringo__obs_done(h->s, r, now > queued ? now - queued : 0);
}

/* The request is complete (or answered early): run it. */
static void start(ringo__h2 *h, ringo__h2s *st)
{
    ringo_req *r = st->r;

    if (!r || st->started)
        return;
    st->started = true;
    if (st->status) {
        ringo__req_protocol_error(r);
        r->status = st->status;
    }
    /* Inside an nghttp2 callback: what the handler writes is sent by feed()'s flush. */
    h->inline_runs++;
    ringo__exec_run(r);
    h->inline_runs--;
    if (r->parked)
        return; /* answered by ringo__h2_finished() */
    respond(h, st, r);
    ringo__exec_responded(r);
}

/* A streamed body's wait is its route's (as over HTTP/1.1, http/parser.c), else the app's. */
static uint32_t body_timeout(const ringo_config *cfg, const ringo_req *r)
{
    return r->bp && r->route->opts.body_timeout_ms ? r->route->opts.body_timeout_ms
                                                   : cfg->body_timeout_ms;
}

/* The head is in: route it and check what can be checked before the body. */
static void head_done(ringo__h2 *h, ringo__h2s *st, bool end)
{
    ringo_req *r = st->r;
    const ringo_config *cfg = h->s->cfg;
    ringo_str cl;

    r->is_head = r->method.len == 4 && memcmp(r->method.ptr, "HEAD", 4) == 0;
    if (st->status)
        return;
    ringo__exec_route(h->s, r);
    r->max_body = r->route && r->route->opts.max_body_bytes ? r->route->opts.max_body_bytes
                                                            : cfg->max_body_bytes;
    if (ringo_req_header(r, "content-length", &cl) == 0 &&
        strtoull(cl.ptr, NULL, 10) > r->max_body) /* nghttp2 checked its syntax */
        st->status = 413;
    /* A body read as it arrives: the handler starts now (on_frame_recv), as on HTTP/1.1. */
    if (!st->status && !end && r->route && (r->route->opts.flags & RINGO_ROUTE_STREAM_BODY) &&
        ringo__body_open(h->s, r) < 0)
        st->status = 503;
}

/* ---- nghttp2 callbacks ---- */

static ringo__h2s *stream_of(ringo__h2 *h, int32_t id)
{
    return h->dead ? NULL : nghttp2_session_get_stream_user_data(h->ng, id);
}

static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *ud)
{
    ringo__h2 *h = ud;
    uint64_t cap = 2 * (uint64_t)h->s->cfg->max_header_bytes + 16384;

    (void)ng;
    /* The header deadline: from a block's first frame to its end (on_frame_recv). */
    if (hd->type == NGHTTP2_HEADERS) {
        h->in_headers = true;
        h->hblock_at = now_ms(h);
        h->blocks++;
    } else if (hd->type != NGHTTP2_CONTINUATION) {
        h->in_headers = false;
    }
    if (hd->type == NGHTTP2_HEADERS) {
        h->hblock = hd->length;
        h->hframes = 1;
    } else if (hd->type == NGHTTP2_CONTINUATION) {
        h->hblock += hd->length;
        h->hframes++;
    } else {
        return 0;
    }
    if (h->hblock > cap || h->hframes > MAX_HEADER_FRAMES)
        return NGHTTP2_ERR_CALLBACK_FAILURE; /* GOAWAY, see feed() */
    return 0;
}

/*
 * GOAWAY NO_ERROR naming the last stream the connection takes; those up to
 * it finish, and the connection closes once they are done (h2_flush).
 * Only the first counts: the last stream id never grows (RFC 9113 §6.8).
 */
static void goaway(ringo__h2 *h, int32_t last)
{
    if (h->goaway_id)
        return;
    h->goaway_id = last ? last : -1; /* -1: no stream taken, none will be */
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, NULL, 0);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    ringo__h2 *h = ud;
    const ringo_config *cfg = h->s->cfg;
    ringo__h2s *st;

    if (h->dead || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    /*
     * Handlers of reset streams still running count: a reset frees no pool
     * slot. A stream past our GOAWAY's last one came in the same read (once
     * the GOAWAY is out, nghttp2 ignores them): REFUSED_STREAM tells the
     * client that nothing of it ran and it may retry it (RFC 9113 §8.7).
     */
    if ((h->goaway_id && f->hd.stream_id > h->goaway_id) || h->s->h2_reqs >= max_streams(cfg)) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    st = stream_new(h, f->hd.stream_id);
    if (!st)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
    nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, st);
    /* max_requests_per_conn: as HTTP/1.1's Connection: close, after the N-th request. */
    if (cfg->max_requests_per_conn && ++h->accepted == cfg->max_requests_per_conn)
        goaway(h, f->hd.stream_id);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    ringo__h2 *h = ud;
    ringo__h2s *st = stream_of(h, f->hd.stream_id);
    ringo_str n = {(const char *)name, namelen}, v = {(const char *)value, valuelen};
    const ringo_config *cfg = h->s->cfg;
    ringo_req *r;

    (void)ng;
    (void)flags;
    if (!st || !(r = st->r) || f->headers.cat != NGHTTP2_HCAT_REQUEST || st->status)
        return 0; /* trailers of a request are not kept */
    st->hbytes += namelen + valuelen + 32;
    if (st->hbytes > cfg->max_header_bytes || r->nhdrs >= cfg->max_headers) {
        st->status = 431;
        return 0;
    }
    if (namelen && name[0] == ':') {
        /* nghttp2 checked the pseudo-headers (RFC 9113 §8.3.1): stream error otherwise. */
        char *copy = ringo__arena_dup(&r->arena, v.ptr, v.len);
        if (!copy)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        if (namelen == 7 && memcmp(name, ":method", 7) == 0)
            r->method = (ringo_str){copy, v.len};
        else if (namelen == 5 && memcmp(name, ":path", 5) == 0)
            r->target = (ringo_str){copy, v.len};
        else if (namelen == 10 && memcmp(name, ":authority", 10) == 0)
            return add_header(h, r, RINGO_STR_LIT("host"), v) < 0
                       ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE
                       : 0;
        return 0;
    }
    return add_header(h, r, n, v) < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    ringo__h2 *h = ud;
    ringo__h2s *st = stream_of(h, id);
    ringo_req *r;
    size_t need;

    (void)flags;
    if (st && (r = st->r) && r->bp && !st->status && !st->body_late) {
        st->body_at = now_ms(h); /* data arrived: the wait for more starts again */
        ringo__h2_body_data(st, data, len);
        return 0;
    }
    /* Buffered here, or dropped: the windows reopen at once. */
    nghttp2_session_consume(ng, id, len);
    if (!st || !(r = st->r) || st->started || st->status)
        return 0; /* answered already: the rest of the body is dropped */
    need = r->body_len + len;
    if (need > r->max_body) {
        st->status = 413;
        start(h, st); /* answered now; the client may stop sending */
        return 0;
    }
    if (need > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        char *b;
        while (cap < need)
            cap *= 2;
        b = ringo__arena_grow(&r->arena, r->body, r->body_cap, cap);
        if (!b) {
            st->status = 503;
            start(h, st);
            return 0;
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len = need;
    return 0;
}

/* A client that resets more streams than it lets finish is attacking (rapid reset). */
static void count_reset(ringo__h2 *h)
{
    const ringo_config *cfg = h->s->cfg;
    uint64_t max = cfg->h2_max_resets ? cfg->h2_max_resets : 100;

    if (++h->resets > max && h->resets > h->completed)
        nghttp2_session_terminate_session(h->ng, NGHTTP2_ENHANCE_YOUR_CALM);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    ringo__h2 *h = ud;
    ringo__h2s *st;
    bool end;

    (void)ng;
    if (f->hd.type == NGHTTP2_HEADERS)
        h->in_headers = false;
    if (h->dead)
        return 0;
    if (f->hd.type == NGHTTP2_RST_STREAM) {
        count_reset(h);
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    st = stream_of(h, f->hd.stream_id);
    if (!st || !st->r)
        return 0;
    end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (end)
        st->got_end = true;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        st->body_at = now_ms(h);
        head_done(h, st, end);
        st->body_ms = body_timeout(h->s->cfg, st->r);
    }
    if (end && st->r->bp)
        ringo__body_finish(st->r); /* its handler runs already */
    if (end || (st->status && !st->started) || st->r->bp)
        start(h, st);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t err, void *ud)
{
    ringo__h2 *h = ud;
    ringo__h2s *st = stream_of(h, id);

    (void)ng;
    if (!st)
        return 0;
    if (err == NGHTTP2_NO_ERROR)
        h->completed++;
    ringo__h2_body_rest(st, true);
    stream_drop_req(h, st);
    stream_free(h, st);
    return 0;
}

/* Frames that left: a response's progress (the send deadline) and its end. */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    ringo__h2 *h = ud;
    ringo__h2s *st;

    (void)ng;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(st = stream_of(h, f->hd.stream_id)))
        return 0;
    st->headers_sent = true;
    st->stall_at = 0;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        st->sent_all = true;
    return 0;
}

/* A header block nghttp2 refused (RST_STREAM) is over too. */
static int on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *f, int err, void *ud)
{
    ringo__h2 *h = ud;

    (void)ng;
    (void)err;
    if (f->hd.type == NGHTTP2_HEADERS)
        h->in_headers = false;
    return 0;
}

/* ---- the connection ---- */

static nghttp2_session_callbacks *callbacks(void)
{
    nghttp2_session_callbacks *cb;

    if (nghttp2_session_callbacks_new(&cb) != 0)
        return NULL;
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid_frame);
    return cb;
}

static int session_new(ringo__h2 *h)
{
    const ringo_config *cfg = h->s->cfg;
    nghttp2_session_callbacks *cb = callbacks();
    nghttp2_option *opt;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams(cfg)},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg->h2_window ? cfg->h2_window : 65535},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg->max_header_bytes},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096},
    };
    int ret;

    if (!cb)
        return -ENOMEM;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -ENOMEM;
    }
    /* Flood bounds: queued SETTINGS/PING ACKs, entries per SETTINGS frame, our HPACK table. */
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    /* Windows reopen as bodies are read (http/h2/stream.c), not as DATA arrives. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    ret = nghttp2_session_server_new2(&h->ng, cb, h, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (ret != 0)
        return -ENOMEM;
    if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
        return -ENOMEM;
    return ringo__h2_conn_window(h);
}

/* ---- deadlines (see the top of this file) ---- */

/* st's response has DATA to send and the client keeps a window it needs shut. */
static bool stalled(const ringo__h2 *h, const ringo__h2s *st, int32_t conn_window)
{
    int32_t w;

    if (!st->headers_sent || st->sent_all)
        return false;
    w = nghttp2_session_get_stream_remote_window_size(h->ng, st->id); /* -1: no stream */
    return w == 0 || (w > 0 && conn_window <= 0);
}

/* Keeps t (0: none) of kind k in *best and *kind when it is the earliest so far. */
static void earliest(uint64_t *best, int *kind, uint64_t t, int k)
{
    if (t && (!*best || t < *best)) {
        *best = t;
        *kind = k;
    }
}

/*
 * A body read as it arrives, while its handler runs: the client owes its
 * next DATA frame within body_ms of the last (or of the head). While the
 * unread bytes fill the window the client cannot send: the wait pauses, and
 * starts again when the handler's reads reopen it (HTTP/1.1 stops reading
 * the socket and restarts the wait on the refeed alike, http/body.c).
 */
static uint64_t streamed_body_deadline(ringo__h2s *st, uint64_t now)
{
    if (!st->r || !st->r->bp || !st->started || st->got_end || st->body_late)
        return 0;
    if (ringo__h2_body_shut(st)) {
        st->body_shut = true;
        return 0;
    }
    if (st->body_shut) {
        st->body_shut = false;
        st->body_at = now; /* the flush that carried the WINDOW_UPDATE */
    }
    return st->body_ms ? st->body_at + st->body_ms : 0;
}

/* An event stream still running, silent since ping_at. */
static uint64_t ping_deadline(const ringo__h2 *h, const ringo__h2s *st)
{
    uint32_t ms = h->s->cfg->sse_ping_ms;

    return ms && st->sse && st->r && st->streaming && !st->eof ? st->ping_at + ms : 0;
}

/* When st's earliest wait ends (0: it waits for nothing), and *kind of wait. */
static uint64_t stream_deadline(ringo__h2 *h, ringo__h2s *st, int32_t conn_window, uint64_t now,
                                int *kind)
{
    const ringo_config *cfg = h->s->cfg;
    uint64_t best = 0;

    if (st->expired)
        return 0;
    /* Its body is still arriving, or it was answered before it was whole (413, 408). */
    if ((st->r && !st->started && st->body_at) || (st->sent_all && st->body_at)) {
        *kind = RINGO__HTTP_TIMER_BODY;
        return st->body_ms ? st->body_at + st->body_ms : 0;
    }
    earliest(&best, kind, streamed_body_deadline(st, now), RINGO__HTTP_TIMER_BODY);
    earliest(&best, kind, ping_deadline(h, st), RINGO__HTTP_TIMER_PING);
    if (!stalled(h, st, conn_window)) {
        st->stall_at = 0;
        return best;
    }
    if (!st->stall_at)
        st->stall_at = now; /* the flush that sent its last DATA frame */
    if (cfg->send_timeout_ms)
        earliest(&best, kind, st->stall_at + cfg->send_timeout_ms, RINGO__HTTP_TIMER_SEND);
    return best;
}

/* The connection's own wait: a header block, or silence. */
static uint64_t conn_deadline(ringo__h2 *h, uint64_t now, int *kind)
{
    const ringo_config *cfg = h->s->cfg;
    uint64_t hdr = 0, idle = 0;

    if (cfg->header_timeout_ms && (h->in_headers || !h->blocks))
        hdr = (h->blocks ? h->hblock_at : h->opened_at) + cfg->header_timeout_ms;
    if (h->streams || h->running || h->in_headers) {
        h->idle_at = 0;
    } else {
        if (!h->idle_at)
            h->idle_at = now;
        idle = cfg->keepalive_timeout_ms ? h->idle_at + cfg->keepalive_timeout_ms : 0;
    }
    if (hdr && (!idle || hdr <= idle)) {
        *kind = RINGO__HTTP_TIMER_HEADER;
        return hdr;
    }
    *kind = RINGO__HTTP_TIMER_IDLE;
    return idle;
}

/* Arms the connection's timer at the earliest deadline (streams are bounded by h2_max_streams). */
static void arm_timer(ringo__h2 *h)
{
    uint64_t now = now_ms(h), best, t;
    int32_t cw = nghttp2_session_get_remote_window_size(h->ng);
    int kind = RINGO__HTTP_TIMER_NONE, k = RINGO__HTTP_TIMER_NONE;

    if (h->timed_out)
        return; /* closing once its GOAWAY is out; core's send timeout bounds that */
    best = conn_deadline(h, now, &kind);
    for (ringo__h2s *st = h->streams; st; st = st->next)
        if ((t = stream_deadline(h, st, cw, now, &k)) && (!best || t < best))
            best = t, kind = k;
    ringo__conn_timer(h->s->conn, best ? kind : RINGO__HTTP_TIMER_NONE,
                      !best        ? 0
                      : best > now ? (uint32_t)(best - now)
                                   : 1);
}

/* GOAWAY: the connection closes once it is out. */
static void time_out(ringo__h2 *h)
{
    h->timed_out = true;
    nghttp2_session_terminate_session(h->ng, NGHTTP2_NO_ERROR);
}

/*
 * A streamed body stopped arriving. Its handler's reads fail (-ETIMEDOUT,
 * a parked reader wakes) and a 408 replaces its answer, as over HTTP/1.1;
 * once that 408 is out the client's side is reset (the branch of answers
 * given before the whole body, stream_deadline). A response already
 * begun cannot become a 408: the stream is reset now and its handler
 * cancelled when it closes (on_stream_close).
 */
static void body_late(ringo__h2 *h, ringo__h2s *st)
{
    st->body_late = true;
    ringo__body_fail(st->r, 408);
    if (st->streaming || st->headers_sent) {
        st->expired = true;
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    }
}

/*
 * The timer fired: every wait past its deadline ends. A body that did not
 * arrive is answered 408 as over HTTP/1.1 (and the stream reset once the
 * answer is out, RFC 9113 §8.1), a streamed one through its handler
 * (body_late); a response the client will not take is reset, its copy
 * freed; a connection whose own window is shut, or that is silent, or
 * whose header block stalls, gets GOAWAY. A silent event stream gets its
 * ping; a stream with several waits due has the others ended on the next
 * run of the timer (armed 1 ms ahead).
 */
static void expire(ringo__h2 *h)
{
    uint64_t now = now_ms(h), t;
    int32_t cw = nghttp2_session_get_remote_window_size(h->ng);
    int kind = RINGO__HTTP_TIMER_NONE;

    t = conn_deadline(h, now, &kind);
    if (t && t <= now) {
        time_out(h);
        return;
    }
    for (ringo__h2s *st = h->streams; st; st = st->next) {
        t = stream_deadline(h, st, cw, now, &kind);
        if (!t || t > now)
            continue;
        if (kind == RINGO__HTTP_TIMER_SEND && cw <= 0) {
            time_out(h); /* no stream of it can move */
            return;
        }
        if (kind == RINGO__HTTP_TIMER_PING) {
            /* Inside an event (or bytes wait for the window): none now, the next in a while. */
            st->ping_at = now;
            if (!ringo__stream_h2_ping(st->r))
                st->sse = false;
            continue;
        }
        if (kind == RINGO__HTTP_TIMER_BODY && st->r && st->started) {
            body_late(h, st);
            continue;
        }
        if (st->r && !st->started) {
            st->status = 408;
            start(h, st);
            continue;
        }
        st->expired = true;
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id,
                                  kind == RINGO__HTTP_TIMER_SEND ? NGHTTP2_CANCEL
                                                                 : NGHTTP2_NO_ERROR);
    }
}

/* Moves nghttp2's output to the connection while the client keeps up with it. */
static void h2_flush(ringo__h2 *h)
{
    ringo__conn *c = h->s->conn;
    size_t cap = h->s->cfg->max_conn_buffered;

    if (h->dead || ringo__conn_closing(c))
        return;
    while (ringo__conn_unsent(c) < cap) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(h->ng, &d);
        char *p;
        if (n < 0) {
            ringo__conn_close(c, RINGO__CLOSE_NOW);
            return;
        }
        if (n == 0)
            break;
        if (!(p = ringo__conn_reserve(c, (size_t)n))) {
            ringo__conn_close(c, RINGO__CLOSE_NOW);
            return;
        }
        memcpy(p, d, (size_t)n);
        ringo__conn_commit(c, (size_t)n);
    }
    ringo__conn_flush(c);
    /* A client that does not read what it asked for is not read from either (PING floods). */
    if (ringo__conn_unsent(c) >= cap)
        ringo__conn_pause(c);
    else
        ringo__conn_resume(c);
    if (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng)) {
        ringo__conn_close(c, RINGO__CLOSE_AFTER_SEND); /* GOAWAY sent, streams done */
        return;
    }
    arm_timer(h);
}

void ringo__h2_kick(ringo__h2 *h)
{
    if (!h->inline_runs)
        h2_flush(h);
}

void ringo__h2_rearm(ringo__h2 *h)
{
    /* Inside an nghttp2 callback the flush that follows arms it. */
    if (!h->inline_runs && !h->dead && !ringo__conn_closing(h->s->conn))
        arm_timer(h);
}

static void feed(ringo__h2 *h, const char *p, size_t n)
{
    ssize_t ret = nghttp2_session_mem_recv(h->ng, (const uint8_t *)p, n);

    if (h->dead)
        return;
    if (ret == NGHTTP2_ERR_CALLBACK_FAILURE || ret == ERR_TOO_MANY_CONTINUATIONS) {
        /* A header block past its bounds (on_begin_frame, or nghttp2's own). */
        nghttp2_session_terminate_session(h->ng, NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (ret < 0) {
        /* nghttp2 queued a GOAWAY for protocol errors; floods and bad magic just end. */
        if (ret == NGHTTP2_ERR_BAD_CLIENT_MAGIC || ret == NGHTTP2_ERR_FLOODED) {
            ringo__conn_close(h->s->conn, RINGO__CLOSE_NOW);
            return;
        }
        nghttp2_session_terminate_session(h->ng, NGHTTP2_PROTOCOL_ERROR);
    }
    h2_flush(h);
}

static int open_session(ringo__sess *s)
{
    ringo__h2 *h = ringo__calloc(1, sizeof(*h));

    if (!h)
        return -ENOMEM;
    h->s = s;
    if (session_new(h) < 0) {
        if (h->ng)
            nghttp2_session_del(h->ng);
        ringo__free(h);
        return -ENOMEM;
    }
    h->opened_at = now_ms(h);
    s->h2 = h;
    s->h2_mode = true;
    return 0;
}

/* h2c: http/session.c took the preface; nghttp2 is handed it to check as its own. */
int ringo__h2_open(ringo__sess *s)
{
    int ret = open_session(s);

    if (ret == 0)
        feed(s->h2, PREFACE, PREFACE_LEN);
    return ret;
}

/* TLS with ALPN h2: the client's preface follows; our SETTINGS go at once (RFC 9113 §3.4). */
int ringo__h2_open_alpn(ringo__sess *s)
{
    int ret = open_session(s);

    if (ret == 0)
        h2_flush(s->h2);
    return ret;
}

void ringo__h2_on_data(ringo__sess *s, const char *p, size_t n)
{
    if (s->h2 && n)
        feed(s->h2, p, n);
}

void ringo__h2_on_sent(ringo__sess *s)
{
    if (s->h2)
        h2_flush(s->h2);
}

void ringo__h2_on_eof(ringo__sess *s)
{
    ringo__h2 *h = s->h2;

    /* HTTP/2 clients do not half-close: a hang-up cancels what runs. */
    if (!h || h->running || !ringo__conn_unsent(s->conn))
        ringo__conn_close(s->conn, RINGO__CLOSE_NOW);
    else
        ringo__conn_close(s->conn, RINGO__CLOSE_AFTER_SEND);
}

void ringo__h2_on_timer(ringo__sess *s, int kind)
{
    ringo__h2 *h = s->h2;
    ringo__conn *c = s->conn;
    bool timed_out;

    (void)kind; /* every deadline is checked again */
    if (!h)
        return;
    ringo__conn_ref(c); /* a flush that fails closes the connection, frees h */
    expire(h);
    timed_out = h->timed_out;
    h2_flush(h);
    if (timed_out)
        ringo__conn_close(c, RINGO__CLOSE_AFTER_SEND);
    ringo__conn_unref(c);
}

/* Graceful drain: GOAWAY with the last stream taken; those in flight finish. */
void ringo__h2_on_drain(ringo__sess *s)
{
    ringo__h2 *h = s->h2;

    if (!h)
        return;
    goaway(h, nghttp2_session_get_last_proc_stream_id(h->ng));
    ringo__h2_streams_drain(h);
    h2_flush(h);
}

void ringo__h2_on_close(ringo__sess *s)
{
    ringo__h2 *h = s->h2;

    if (!h)
        return;
    h->dead = true;
    while (h->streams) {
        stream_drop_req(h, h->streams);
        stream_free(h, h->streams);
    }
    nghttp2_session_del(h->ng);
    ringo__free(h);
    s->h2 = NULL;
}

/* ---- called by http/exec.c ---- */

void ringo__h2_parked(ringo_req *r)
{
    ringo__sess *s = ringo__conn_state(r->conn);

    r->parked = true;
    s->h2->running++;
}

void ringo__h2_finished(ringo_req *r)
{
    ringo__sess *s = ringo__conn_state(r->conn);
    ringo__h2 *h = s->h2;

    r->parked = false;
    h->running--;
    respond(h, r->h2s, r);
    ringo__exec_responded(r);
    h2_flush(h);
}

void ringo__h2_substitute(ringo_req *r, int status)
{
    ringo__sess *s = ringo__conn_state(r->conn);
    ringo__h2 *h = s->h2;
    ringo__h2s *st = r->h2s;
    ringo_req *e = ringo__req_stand_in(s, r, status);

    r->parked = false;
    h->running--;
    st->r = NULL;
    r->h2s = NULL;
    if (!e) {
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    } else {
        respond(h, st, e);
        ringo__req_free(e);
    }
    h2_flush(h);
}

bool ringo__h2_available(void) { return true; }

#else /* !RINGO_WITH_H2: the preface is answered 505 (http/session.c never opens one) */

int ringo__h2_open(ringo__sess *s)
{
    (void)s;
    return -ENOTSUP;
}
int ringo__h2_open_alpn(ringo__sess *s)
{
    (void)s;
    return -ENOTSUP;
}
void ringo__h2_on_data(ringo__sess *s, const char *p, size_t n)
{
    (void)s;
    (void)p;
    (void)n;
}
void ringo__h2_on_sent(ringo__sess *s) { (void)s; }
void ringo__h2_on_eof(ringo__sess *s) { (void)s; }
void ringo__h2_on_timer(ringo__sess *s, int kind)
{
    (void)s;
    (void)kind;
}
void ringo__h2_on_drain(ringo__sess *s) { (void)s; }
void ringo__h2_on_close(ringo__sess *s) { (void)s; }
void ringo__h2_parked(ringo_req *r) { (void)r; }
void ringo__h2_finished(ringo_req *r) { (void)r; }
void ringo__h2_substitute(ringo_req *r, int status)
{
    (void)r;
    (void)status;
}
bool ringo__h2_available(void) { return false; }

#endif
