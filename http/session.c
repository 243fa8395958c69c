/*
 * http/session.c - one HTTP/1.1 connection: parse, run in order, answer.
 *
 * Requests of a connection run one at a time and are answered in request
 * order. Parsed requests wait in a queue; the head runs; its response is
 * appended to the connection's output, which is sent once the whole receive
 * buffer has been handled, so pipelined responses leave in one send. While a
 * request is suspended (coroutine, pool) or the client is not reading its
 * responses, input is buffered (up to max_conn_buffered, then recv pauses).
 * A protocol error becomes an error "request" at the tail of the queue, so
 * the k good requests before it are answered first.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/tls.h"
#include "http/http_impl.h"
#include "http/observe_impl.h"
#include "http/ws/ws_impl.h"

static ringo__sess *sess(ringo__conn *c) { return ringo__conn_state(c); }

/* ---- session state transitions (see session_impl.h) ---- */

/* READING -> HOLDING: the connection is busy, input waits in `pending`. */
static void sess_hold(ringo__sess *s)
{
    assert(s->state == SESS_READING || s->state == SESS_HOLDING);
    s->state = SESS_HOLDING;
}

/* HOLDING -> READING: the held input is fed again. */
static void sess_unhold(ringo__sess *s)
{
    assert(s->state == SESS_HOLDING);
    s->state = SESS_READING;
}

/* READING or HOLDING -> DEAD: an error or a closing request is queued. */
static void sess_die(ringo__sess *s)
{
    assert(s->state != SESS_CLOSED);
    s->state = SESS_DEAD;
}

/* any -> CLOSED: the connection is gone. */
static void sess_close(ringo__sess *s) { s->state = SESS_CLOSED; }

ringo_req *ringo__req_new(ringo__sess *s)
{
    ringo_req *r = ringo__ring_cache_get(ringo__conn_ring(s->conn), RINGO__CACHE_REQ, sizeof(*r));

    if (!r)
        return NULL;
    memset(r, 0, offsetof(ringo_req, inline_arena));
    ringo__arena_init(&r->arena, r->inline_arena, sizeof(r->inline_arena));
    r->conn = s->conn;
    r->status = 200;
    r->method = r->target = r->path = r->query = r->rid = (ringo_str){"", 0};
    if (s->app->obs && s->app->obs->timing)
        r->obs_t0 = ringo__obs_now();
    atomic_fetch_add_explicit(&ringo__ring_stats_of(ringo__conn_ring(s->conn))->reqs_live, 1,
                              memory_order_relaxed);
    return r;
}

void ringo__req_free(ringo_req *r)
{
    if (!r)
        return;
    atomic_fetch_sub_explicit(&ringo__ring_stats_of(ringo__conn_ring(r->conn))->reqs_live, 1,
                              memory_order_relaxed);
    ringo__exec_release(r);
    if (r->h2)
        sess(r->conn)->h2_reqs--;
    if (r->stream)
        ringo__stream_free(r);
    if (r->bp)
        ringo__body_free(r);
    if (r->form)
        ringo__form_free(r);
    if (r->file)
        ringo__file_free(r);
    if (r->ws)
        ringo__ws_req_free(r);
    ringo__arena_free(&r->arena);
    ringo__ring_cache_put(ringo__conn_ring(r->conn), RINGO__CACHE_REQ, r);
}

static void enqueue(ringo__sess *s, ringo_req *r)
{
    r->next = NULL;
    if (s->qtail)
        s->qtail->next = r;
    else
        s->qhead = r;
    s->qtail = r;
}

/* Queues an error answer after what was already parsed; input is ignored from here. */
void ringo__sess_fail(ringo__sess *s, int status)
{
    ringo_req *r;

    sess_die(s);
    s->may_send_more = true;
    s->in_message = false;
    s->pending_len = s->pending_off = 0;
    ringo__conn_timer(s->conn, RINGO__HTTP_TIMER_NONE, 0);
    if (s->cur && s->cur->early) {
        /* Its handler runs (or will): the body error is its answer (http/body.c). */
        ringo__body_fail(s->cur, status);
        s->cur = NULL;
        return;
    }
    ringo__req_free(s->cur);
    s->cur = NULL;
    r = ringo__req_new(s);
    if (!r) {
        /* Not CLOSE_NOW: we may be inside feed(), which still uses the session. */
        ringo__conn_close(s->conn, RINGO__CLOSE_AFTER_SEND);
        return;
    }
    ringo__req_protocol_error(r);
    r->status = status;
    r->keep_alive = false;
    enqueue(s, r);
}

/* The request whose body is being parsed runs: its body is wanted (as far as there is room). */
static bool body_wanted(const ringo__sess *s)
{
    return s->cur && s->cur->early && REQ_IN(s->cur, REQ_BIT(REQ_RUNNING) | REQ_BIT(REQ_SUSPENDED));
}

static bool busy(const ringo__sess *s)
{
    if (body_wanted(s))
        return ringo__body_room(s->cur) == 0;
    /* A client that does not read its responses is not fed more of them. */
    return s->running || s->qhead || ringo__conn_unsent(s->conn) > s->cfg->max_conn_buffered ||
           s->post_inflight >= RINGO__MAX_POST_INFLIGHT;
}

static int hold_input(ringo__sess *s, const char *p, size_t n)
{
    const ringo_config *cfg = s->cfg;

    sess_hold(s);
    if (s->pending && p >= s->pending && p < s->pending + s->pending_cap) {
        /*
         * The rest of what feed_pending() is feeding: it is in place already.
         * Moving it to the front would copy the held input again for every
         * piece a streamed body's handler makes room for.
         */
        s->pending_off = (size_t)(p - s->pending);
        s->pending_len = n;
    } else {
        if (s->pending_off + s->pending_len + n > s->pending_cap && s->pending_off) {
            memmove(s->pending, s->pending + s->pending_off, s->pending_len);
            s->pending_off = 0;
        }
        if (ringo__grow(&s->pending, &s->pending_cap, s->pending_len + n, 4096) < 0)
            return -ENOMEM;
        memcpy(s->pending + s->pending_off + s->pending_len, p, n);
        s->pending_len += n;
    }
    if (s->pending_len >= cfg->max_conn_buffered)
        ringo__conn_pause(s->conn);
    return 0;
}

/* Queues r's response; a response that ends the connection closes it after the send. */
static void respond(ringo__sess *s, ringo_req *r)
{
    ringo__ring *ring = ringo__conn_ring(s->conn);
    bool keep = r->keep_alive && !r->resp_close;
    size_t unsent = 0;

    ringo__req_answer(r);
    if (s->cur == r) {
        /* Answered before its body was read to the end: never parse the rest as a request. */
        s->cur = NULL;
        s->in_message = false;
        s->may_send_more = true;
        sess_die(s);
        r->keep_alive = keep = false;
    }
    if (s->state == SESS_CLOSED)
        return;
    if (s->ws) {
        /* Its handler accepted a WebSocket: the 101 was the answer. */
        atomic_fetch_add_explicit(&ringo__ring_stats_of(ring)->reqs_served, 1,
                                  memory_order_relaxed);
        ringo__ws_handler_done(s, r);
        return;
    }
    /*
     * Stopping (the lame-duck delay): the connection's last response says
     * Connection: close, so the client moves to another instance instead of
     * finding its idle connection closed under it when the drain begins.
     * Pipelined requests received already are answered first: while input is
     * parsed, request_done_parsing() knows whether more follows, this does not.
     */
    if (keep && !r->stream && !s->feeding && !s->qhead && !s->pending_len && !s->in_message &&
        ringo__ring_stop_requested(ring))
        r->keep_alive = keep = false;
    if (s->app->obs) {
        ringo__obs_answer(s, r);
        unsent = ringo__conn_unsent(s->conn);
    }
    if (r->stream ? !ringo__stream_finish(r) : ringo__resp_serialize(r, s->conn) < 0)
        keep = false;
    atomic_fetch_add_explicit(&ringo__ring_stats_of(ring)->reqs_served, 1, memory_order_relaxed);
    /* Bytes this answer queued: the whole response, or a stream's last piece. */
    if (s->app->obs)
        ringo__obs_done(s, r, ringo__conn_unsent(s->conn) - unsent);
    if (!keep) {
        sess_die(s);
        /*
         * The client's own closing request, read whole, with nothing after
         * it: close once the answer is out, without lingering (it sends no
         * more). When the server ends the connection (request limit, drain,
         * a handler's Connection: close) the next request may be on its way.
         */
        ringo__conn_close(s->conn, s->llhttp_closed && !s->may_send_more && !s->pending_len &&
                                           !s->qhead && !s->in_message
                                       ? RINGO__CLOSE_DONE
                                       : RINGO__CLOSE_AFTER_SEND);
    }
}

/* Runs queued requests while the connection is free to. */
static void pump(ringo__sess *s)
{
    while (s->qhead && !s->running && s->state != SESS_CLOSED) {
        ringo_req *r = s->qhead;
        s->qhead = r->next;
        if (!s->qhead)
            s->qtail = NULL;
        ringo__exec_run(r);
        if (s->running == r)
            return;
        respond(s, r);
        ringo__exec_responded(r);
    }
}

/* more: bytes already received follow this request (drain answers them too). */
static void request_done_parsing(ringo__sess *s, bool more)
{
    ringo_req *r = s->cur;
    const ringo_config *cfg = s->cfg;

    s->cur = NULL;
    s->served++;
    /* The body is in: its deadline no longer applies, whatever the handler takes. */
    ringo__conn_timer(s->conn, RINGO__HTTP_TIMER_NONE, 0);
    if ((cfg->max_requests_per_conn && s->served >= cfg->max_requests_per_conn) ||
        (!more && (s->draining || s->eof || ringo__ring_stop_requested(ringo__conn_ring(s->conn)))))
        r->keep_alive = false;
    if (r->early)
        ringo__body_finish(r); /* queued at its head already */
    else
        enqueue(s, r);
    if (!r->keep_alive) {
        sess_die(s); /* what follows a closing request is never parsed */
        s->may_send_more |= more;
    }
}

/* Parses as much of p as the connection may take now; holds the rest. */
static void feed(ringo__sess *s, const char *p, size_t n)
{
    bool was_feeding = s->feeding;

    s->feeding = true;
    while (n && !ringo__sess_dead(s)) {
        size_t used = 0, lim = n;
        int ret;

        if (busy(s)) {
            if (hold_input(s, p, n) < 0)
                ringo__conn_close(s->conn, RINGO__CLOSE_NOW);
            break;
        }
        /* A streamed body: no more input than the handler has room for (body <= input). */
        if (body_wanted(s)) {
            size_t room = ringo__body_room(s->cur);
            lim = room < n ? room : n;
        }
        ret = ringo__parse(s, p, lim, &used);
        p += used;
        n -= used;
        if (ret == 0 && used == 0)
            break;
        if (ret < 0) {
            ringo__sess_fail(s, -ret);
        } else if (ret == 1) {
            request_done_parsing(s, n > 0 || s->pending_len > 0);
        } else if (ret == 2) {
            enqueue(s, s->cur); /* its handler runs while the body arrives */
        }
        pump(s);
        if (s->ws) {
            /* Upgraded: the rest is WebSocket input. */
            ringo__ws_defer(s, p, n);
            break;
        }
    }
    s->feeding = was_feeding;
}

/*
 * The keep-alive timer starts only once the connection is really idle: no
 * request running or queued and no output left to send (on_sent calls back
 * here when it drains). A slow reader is bounded by the send timeout.
 */
static void arm_idle(ringo__sess *s)
{
    const ringo_config *cfg = s->cfg;

    if (s->in_message || s->qhead || s->running || ringo__sess_dead(s) ||
        ringo__conn_unsent(s->conn))
        return;
    if (s->draining) {
        ringo__conn_close(s->conn, RINGO__CLOSE_NOW);
        return;
    }
    ringo__conn_timer(s->conn, RINGO__HTTP_TIMER_IDLE, cfg->keepalive_timeout_ms);
}

/* Feeds input held while busy, once the connection can take it. */
static void feed_pending(ringo__sess *s)
{
    size_t n = s->pending_len;
    const char *p = s->pending + s->pending_off;

    if (!n || busy(s))
        return;
    s->pending_len = s->pending_off = 0;
    sess_unhold(s);
    /* feed() may hold the rest again: in place (hold_input). */
    feed(s, p, n);
    if (s->pending_len < s->cfg->max_conn_buffered)
        ringo__conn_resume(s->conn);
    if (!s->pending_len && s->pending_cap > 65536) {
        ringo__free(s->pending);
        s->pending = NULL;
        s->pending_cap = 0;
    }
}

static void after_input(ringo__sess *s)
{
    /* The peer sent all it will and all of it was handled: a partial request stays unanswered. */
    if (s->eof && !s->pending_len && !s->qhead && !s->running)
        ringo__conn_close(s->conn, RINGO__CLOSE_AFTER_SEND);
    ringo__conn_flush(s->conn);
    if (!ringo__conn_closing(s->conn))
        arm_idle(s);
}

/* After a suspended request finished: answer, run what queued up, read on. */
static void resume_conn(ringo__sess *s)
{
    if (s->ws) {
        ringo__conn_flush(s->conn);
        return;
    }
    pump(s);
    if (s->pending_len && !ringo__sess_dead(s))
        feed_pending(s); /* when the connection can take it (busy()) */
    if (s->state != SESS_CLOSED)
        after_input(s);
}

/* ---- core callbacks ---- */

static bool alpn_h2(const ringo__conn *c)
{
    size_t len;
    const char *p = ringo__conn_alpn(c, &len);

    return p && len == 2 && memcmp(p, "h2", 2) == 0;
}

static void on_open(ringo__conn *c)
{
    ringo__sess *s = sess(c);

    s->conn = c;
    s->app = ringo__ring_app(ringo__conn_ring(c));
    s->cfg = ringo__ring_config(ringo__conn_ring(c));
    llhttp_init(&s->parser, HTTP_REQUEST, &ringo__llhttp_settings);
    s->parser.data = s;
    ringo__conn_timer(c, RINGO__HTTP_TIMER_IDLE, s->cfg->keepalive_timeout_ms);
    if (!ringo__conn_tls(c))
        return;
    /*
     * Over TLS, HTTP/2 is chosen by ALPN only (RFC 9113 §3.2): the preface
     * on a connection that chose http/1.1, or nothing, is an HTTP/1.1
     * request line like any other (505).
     */
    s->sniffed = true;
    if (alpn_h2(c) && ringo__h2_open_alpn(s) < 0)
        ringo__conn_close(c, RINGO__CLOSE_NOW);
}

/*
 * HTTP/2 with prior knowledge (RFC 9113 §3.3): a connection whose first bytes
 * are the client preface speaks HTTP/2. Returns true when p was taken (a
 * preface, whole or begun); else the bytes held so far (a prefix of the
 * preface) were fed as HTTP/1.1 and p follows them.
 */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void feed(ringo__sess *s, const char *p, size_t n);

static bool sniff(ringo__sess *s, const char **p, size_t *n)
{
    size_t have = s->pre_len, want = 24 - have, k = *n < want ? *n : want;

    if (memcmp(*p, h2_preface + have, k) != 0) {
        s->sniffed = true;
        if (have)
            feed(s, h2_preface, have);
        return false;
    }
    if (k < want) {
        s->pre_len = (uint8_t)(have + k);
        return true;
    }
    s->sniffed = true;
    if (ringo__h2_open(s) < 0) {
        ringo__conn_close(s->conn, RINGO__CLOSE_NOW);
        return true;
    }
    ringo__h2_on_data(s, *p + k, *n - k);
    return true;
}

static void on_data(ringo__conn *c, const char *p, size_t n)
{
    ringo__sess *s = sess(c);

    if (s->h2_mode) {
        ringo__h2_on_data(s, p, n);
        return;
    }
    if (!s->sniffed) {
        if (s->cfg->no_h2c || s->cfg->no_h2 || !ringo__h2_available())
            s->sniffed = true;
        else if (sniff(s, &p, &n))
            return;
    }
    if (s->ws) {
        ringo__ws_on_data(s, p, n);
        return;
    }
    if (ringo__sess_dead(s)) {
        /* Input after the last request: whatever closes the connection lingers. */
        s->may_send_more = true;
        if (ringo__conn_closing(c))
            ringo__conn_close(c, RINGO__CLOSE_AFTER_SEND);
        return;
    }
    if (s->pending_len) {
        /* Order matters: new bytes go behind the ones already held. */
        if (hold_input(s, p, n) < 0) {
            ringo__conn_close(c, RINGO__CLOSE_NOW);
            return;
        }
        feed_pending(s);
    } else {
        feed(s, p, n);
        if (s->pending_len && !busy(s))
            feed_pending(s);
    }
    after_input(s);
}

static void on_eof(ringo__conn *c)
{
    ringo__sess *s = sess(c);

    s->eof = true;
    if (s->h2_mode) {
        ringo__h2_on_eof(s);
        return;
    }
    if (s->ws) {
        ringo__ws_on_eof(s);
        return;
    }
    /*
     * A client that hangs up while its handler is suspended is gone (HTTP
     * clients do not half-close): cancel the handler's pending operation.
     */
    if (s->running) {
        ringo__conn_close(c, RINGO__CLOSE_NOW);
        return;
    }
    /*
     * Answer what was complete; a half-sent request cannot be answered.
     * Held input is parsed once the connection can take it; its last
     * complete request closes (request_done_parsing).
     */
    if (s->pending_len)
        return;
    if (s->qhead) {
        sess_die(s);
        s->qtail->keep_alive = false;
        return;
    }
    ringo__conn_close(c, ringo__conn_unsent(c) ? RINGO__CLOSE_AFTER_SEND : RINGO__CLOSE_NOW);
}

static void on_wrote(ringo__conn *c)
{
    ringo__sess *s = sess(c);

    if (s->h2_mode)
        ringo__h2_on_sent(s);
    else if (s->ws)
        ringo__ws_on_wrote(s);
    else
        ringo__stream_progress(s);
}

static void on_sent(ringo__conn *c)
{
    ringo__sess *s = sess(c);

    if (s->h2_mode) {
        ringo__h2_on_sent(s);
        return;
    }
    if (s->ws) {
        ringo__ws_on_wrote(s);
        return;
    }
    if (s->running)
        ringo__stream_progress(s);

    if (s->pending_len && !ringo__sess_dead(s))
        feed_pending(s);
    else if (s->eof && !s->qhead && !s->running)
        ringo__conn_close(c, RINGO__CLOSE_NOW);
    after_input(s);
}

static void on_timer(ringo__conn *c, int kind)
{
    ringo__sess *s = sess(c);

    if (s->h2_mode) {
        ringo__h2_on_timer(s, kind);
        return;
    }
    if (s->ws) {
        if (kind == RINGO__HTTP_TIMER_WS)
            ringo__ws_on_timer(s);
        return;
    }
    if (kind == RINGO__HTTP_TIMER_IDLE) {
        ringo__conn_close(c, RINGO__CLOSE_NOW);
        return;
    }
    if (kind == RINGO__HTTP_TIMER_PING) {
        ringo__stream_ping(s);
        return;
    }
    /* Header or body deadline: slowloris, or a body trickled too slowly. */
    ringo__sess_fail(s, 408);
    pump(s);
    ringo__conn_flush(c);
}

static void on_drain(ringo__conn *c)
{
    ringo__sess *s = sess(c);
    const ringo_config *cfg = s->cfg;

    s->draining = true;
    if (s->h2_mode) {
        ringo__h2_on_drain(s);
        return;
    }
    if (s->ws) {
        ringo__ws_on_drain(s);
        return;
    }
    if (s->running)
        ringo__stream_drain(s->running); /* a stream would hold the drain to its timeout */
    /* The last request already received closes; held input is answered first. */
    if (!s->pending_len && !s->in_message) {
        if (s->qtail)
            s->qtail->keep_alive = false;
        else if (s->running)
            s->running->keep_alive = false;
    }
    if (s->in_message || s->qhead || s->running || ringo__conn_unsent(c))
        return; /* answered, then closed */
    if (s->served == 0) {
        /* Accepted but silent so far: its request may be on the way. */
        uint32_t grace = cfg->drain_timeout_ms < 1000 ? cfg->drain_timeout_ms : 1000;
        ringo__conn_timer(c, RINGO__HTTP_TIMER_IDLE, grace);
        return;
    }
    ringo__conn_close(c, RINGO__CLOSE_NOW);
}

static void on_close(ringo__conn *c)
{
    ringo__sess *s = sess(c);
    ringo_req *r = s->qhead;
    bool cancel = true;

    sess_close(s);
    ringo__h2_on_close(s);
    /* After a close handshake its handler is not cancelled: its WebSocket calls say so. */
    if (s->ws)
        cancel = ringo__ws_on_close(s);
    if (s->running) {
        /* Its handler is suspended: cancel it; it frees the request when it returns. */
        ringo__exec_abandon(s->running, cancel);
        s->running = NULL;
    }
    while (r) {
        ringo_req *next = r->next;
        ringo__req_free(r);
        r = next;
    }
    s->qhead = s->qtail = NULL;
    if (s->cur && !s->cur->early) /* an early one was queued or running: freed above */
        ringo__req_free(s->cur);
    s->cur = NULL;
    ringo__free(s->pending);
    s->pending = NULL;
    s->pending_len = s->pending_cap = s->pending_off = 0;
}

/* The PROXY header was malformed (core/conn.c): answer it like a bad request, then close. */
static void on_reject(ringo__conn *c, int status)
{
    ringo__sess *s = sess(c);

    if (ringo__sess_dead(s))
        return;
    ringo__sess_fail(s, status);
    pump(s);
    ringo__conn_flush(c);
}

static size_t overload(ringo__ring *r, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "HTTP/1.1 503 Service Unavailable\r\nServer: ringo\r\n%s"
                     "Content-Length: 20\r\nConnection: close\r\nRetry-After: 1\r\n"
                     "Content-Type: text/plain\r\n\r\nService Unavailable\n",
                     ringo__ring_date_line(r));
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

const ringo__proto ringo__http_proto = {
    .conn_size = sizeof(ringo__sess),
    .on_open = on_open,
    .on_data = on_data,
    .on_eof = on_eof,
    .on_sent = on_sent,
    .on_wrote = on_wrote,
    .on_timer = on_timer,
    .on_drain = on_drain,
    .on_close = on_close,
    .on_reject = on_reject,
    .overload = overload,
};

/* ---- called by http/exec.c and http/body.c ---- */

void ringo__sess_refeed(ringo__sess *s)
{
    if (s->pending_len && !ringo__sess_dead(s))
        feed_pending(s);
    if (s->state != SESS_CLOSED)
        after_input(s);
}

/* A request's post-response work finished: the connection may take more. */
void ringo__sess_post_done(ringo__sess *s)
{
    if (s->h2_mode) {
        s->post_inflight--; /* streams are bounded by h2_max_streams instead */
        return;
    }
    if (s->post_inflight-- == RINGO__MAX_POST_INFLIGHT && s->state != SESS_CLOSED)
        resume_conn(s);
}

/* A request that was suspended (coroutine, pool) has its answer. */
void ringo__sess_finished(ringo__sess *s, ringo_req *r)
{
    s->running = NULL;
    respond(s, r);
    ringo__exec_responded(r);
    resume_conn(s);
}

/*
 * A request that answers status for r, whose handler goes on detached: it
 * is counted and logged as the request it stands in for (its strings stay
 * in r's arena, which lives until r's handler returns). NULL: out of memory.
 */
ringo_req *ringo__req_stand_in(ringo__sess *s, const ringo_req *r, int status)
{
    ringo_req *e = ringo__req_new(s);

    if (!e)
        return NULL;
    e->status = status;
    e->keep_alive = r->keep_alive;
    e->http_minor = r->http_minor;
    e->is_head = r->is_head;
    e->route = r->route;
    e->method = r->method;
    e->target = r->target;
    e->rid = r->rid;
    e->obs_t0 = r->obs_t0;
    if (r->h2) {
        e->h2 = true; /* a request of the connection's while it lives (ringo__req_free) */
        s->h2_reqs++;
    }
    return e;
}

/*
 * The running request r is answered with status now (its route deadline
 * passed) while its handler goes on in the background: r is detached.
 */
void ringo__sess_substitute(ringo__sess *s, ringo_req *r, int status)
{
    ringo_req *e;

    if (r->h2) {
        ringo__h2_substitute(r, status);
        return;
    }
    s->running = NULL;
    if (s->cur == r) {
        /* Its body was still arriving: the rest is never parsed as a request. */
        s->cur = NULL;
        s->in_message = false;
        s->may_send_more = true;
        sess_die(s);
        r->keep_alive = false; /* the stand-in answer closes */
    }
    e = ringo__req_stand_in(s, r, status);
    if (!e) {
        ringo__conn_close(s->conn, RINGO__CLOSE_NOW);
        return;
    }
    respond(s, e);
    ringo__req_free(e);
    resume_conn(s);
}
