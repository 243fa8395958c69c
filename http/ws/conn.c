/*
 * http/ws/conn.c - a WebSocket connection after 101 (ringo/ws.h): input,
 * output, timers and the close handshake. The route, the opening handshake
 * and the handler's calls are in http/ws/endpoint.c.
 *
 * Takeover: ringo_ws_accept() writes the 101 and sets the session's `ws`
 * (ringo__ws_attach()); from then on every session callback (http/session.c)
 * hands its event to this file, and no byte is parsed as HTTP again. Bytes
 * the session had already read past the handshake are adopted as
 * WebSocket input.
 *
 * Input: received bytes go through the frame parser (http/ws/frame.c).
 * Pings are answered, close frames complete the close handshake, protocol
 * errors fail the connection with their close code (RFC 6455 §7.1.7). A
 * whole data message becomes `next`, the one message that waits for the
 * handler: while it waits nothing more is parsed, input that arrives is
 * held in `in` and recv is paused (flow()), so a peer that sends faster
 * than the handler reads fills its own socket buffers, not ours. When the
 * handler takes the message, a kick (a NOP CQE, so that parsing never runs
 * on the handler's stack) parses the held input and resumes recv. Input
 * is paused as well while the connection's unsent output passes
 * max_send_queue (a peer that pings without reading the pongs).
 *
 * Output: frames go whole into the connection's output (never fragmented,
 * so group messages may be written between the handler's). The handler's
 * sends wait while stream_window bytes are unsent, as streamed responses
 * do (http/stream.c): the coroutine parks and a send completion wakes it.
 *
 * Closing: whoever closes first sends a close frame; a peer's close is
 * answered at once; then the TCP connection ends with a lingering close
 * (core/conn.c). A close of ours waits close_timeout_ms for the peer's.
 */
#include <errno.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/util.h"
#include "http/ws/ws_impl.h"

/* ---- lifetime ---- */

static void ws_ref(ringo_ws *ws) { ws->refs++; }

static void ws_unref(ringo_ws *ws)
{
    if (--ws->refs)
        return;
    ringo__ws_parser_free(&ws->parser);
    ringo__free(ws->in);
    ringo__free(ws->next);
    ringo__free(ws->cur);
    ringo__free(ws);
}

static void wake(ringo_ws *ws)
{
    if (ws->waiter)
        ringo__fiber_wake(ws->waiter);
}

/* ---- output ---- */

static const ringo_config *cfg_of(const ringo_ws *ws)
{
    return ringo__ring_config(ringo__conn_ring(ws->conn));
}

bool ringo__ws_writable(const ringo_ws *ws) { return ws->conn && !ringo__conn_closing(ws->conn); }

/* Appends one whole frame; false when out of memory. */
bool ringo__ws_put_frame(ringo_ws *ws, int opcode, const void *data, size_t len)
{
    uint8_t hdr[RINGO__WS_MAX_HEADER];
    size_t h = ringo__ws_frame_header(hdr, opcode, true, len);
    char *p = ringo__conn_reserve(ws->conn, h + len);

    if (!p)
        return false;
    memcpy(p, hdr, h);
    if (len)
        memcpy(p + h, data, len);
    ringo__conn_commit(ws->conn, h + len);
    return true;
}

static void put_close(ringo_ws *ws, unsigned code, const char *reason, size_t len)
{
    uint8_t frame[RINGO__WS_CLOSE_FRAME_MAX];
    size_t n = ringo__ws_close_frame(frame, code, reason, len);
    char *p = ringo__conn_reserve(ws->conn, n);

    if (!p)
        return; /* the TCP close still tells the peer */
    memcpy(p, frame, n);
    ringo__conn_commit(ws->conn, n);
}

static void arm(ringo_ws *ws);

/*
 * Ends the WebSocket now: a close frame with code, then the lingering close
 * of the TCP connection once it went out. Never closes synchronously when
 * the frame was written (the output is not empty), so it is safe on a
 * handler's stack.
 */
static void finish(ringo_ws *ws, unsigned code)
{
    if (!ws->code)
        ws->code = (uint16_t)code;
    ws->state = WS_DONE;
    if (ringo__ws_writable(ws)) {
        put_close(ws, code, NULL, 0);
        ringo__conn_close(ws->conn, RINGO__CLOSE_AFTER_SEND);
    }
    wake(ws);
}

/* Starts a close handshake of ours: the peer's close frame ends it (or the timeout). */
void ringo__ws_start_close(ringo_ws *ws, unsigned code, const char *reason)
{
    if (ws->state != WS_OPEN)
        return;
    ws->code = (uint16_t)code;
    ws->state = WS_CLOSE_SENT;
    if (ringo__ws_writable(ws)) {
        put_close(ws, code, reason, reason ? strlen(reason) : 0);
        ringo__conn_flush(ws->conn);
        ws->close_at = ringo__ring_now(ringo__conn_ring(ws->conn)) + ws->rt->close_timeout_ms;
        arm(ws);
    }
    wake(ws);
}

/* ---- timers: ping, idle, close handshake (one connection deadline) ---- */

static void arm(ringo_ws *ws)
{
    const ringo_config *cfg;
    uint64_t now, at = UINT64_MAX;

    if (!ringo__ws_writable(ws))
        return;
    cfg = cfg_of(ws);
    now = ringo__ring_now(ringo__conn_ring(ws->conn));
    if (ws->state == WS_CLOSE_SENT) {
        at = ws->close_at;
    } else if (ws->state == WS_OPEN) {
        uint64_t since = ws->last_rx > ws->last_ping ? ws->last_rx : ws->last_ping;
        if (cfg->ws_ping_ms)
            at = since + cfg->ws_ping_ms;
        if (cfg->ws_idle_timeout_ms && ws->last_rx + cfg->ws_idle_timeout_ms < at)
            at = ws->last_rx + cfg->ws_idle_timeout_ms;
    }
    if (at == UINT64_MAX)
        ringo__conn_timer(ws->conn, RINGO__HTTP_TIMER_NONE, 0);
    else
        ringo__conn_timer(
            ws->conn, RINGO__HTTP_TIMER_WS,
            (uint32_t)(at > now ? (at - now < UINT32_MAX ? at - now : UINT32_MAX) : 1));
}

/* Input does not re-arm the timer: when it fires early, it is armed again from last_rx. */
void ringo__ws_on_timer(ringo__sess *s)
{
    ringo_ws *ws = s->ws;
    const ringo_config *cfg = cfg_of(ws);
    uint64_t now = ringo__ring_now(ringo__conn_ring(ws->conn)), since;

    /* We are the ones not reading (a message waits for the handler): not idle. */
    if (ws->paused)
        ws->last_rx = now;
    since = ws->last_rx > ws->last_ping ? ws->last_rx : ws->last_ping;
    if (ws->state == WS_CLOSE_SENT && now >= ws->close_at) {
        ws->state = WS_DONE;
        ringo__conn_close(ws->conn, RINGO__CLOSE_NOW); /* the peer never answered */
        return;
    }
    if (ws->state == WS_OPEN && cfg->ws_idle_timeout_ms &&
        now >= ws->last_rx + cfg->ws_idle_timeout_ms) {
        ringo__ws_start_close(ws, RINGO__WS_GOING_AWAY, "idle timeout");
        return;
    }
    if (ws->state == WS_OPEN && cfg->ws_ping_ms && now >= since + cfg->ws_ping_ms) {
        ringo__ws_put_frame(ws, RINGO__WS_PING, NULL, 0);
        ringo__conn_flush(ws->conn);
        ws->last_ping = now;
    }
    arm(ws);
}

/* ---- input ---- */

static bool can_parse(const ringo_ws *ws)
{
    return ringo__ws_writable(ws) && ws->state != WS_DONE && !ws->next &&
           ringo__conn_unsent(ws->conn) <= ws->rt->max_send_queue;
}

static void on_message(ringo_ws *ws, int type)
{
    size_t len;
    char *m = ringo__ws_take(&ws->parser, &len);

    if (ws->state != WS_OPEN || ws->handler_done) {
        ringo__free(m); /* closing: data is discarded (RFC 6455 §5.5.1) */
        return;
    }
    ws->next = m;
    ws->next_len = len;
    ws->next_type = type;
    wake(ws);
}

static void on_close_frame(ringo_ws *ws, const ringo__ws_event *ev)
{
    ws->clean = true;
    if (ws->state == WS_OPEN) {
        /* The peer closed first: recv says so (-EPIPE); an answer to ours is not news. */
        ws->peer_closed = true;
        ws->code = ev->code;
        ws->reason_len = (uint8_t)(ev->len < sizeof(ws->reason) ? ev->len : sizeof(ws->reason));
        memcpy(ws->reason, ev->data, ws->reason_len);
        put_close(ws, ev->code, NULL, 0); /* echo the code (none for 1005) */
    }
    ws->state = WS_DONE;
    ringo__conn_close(ws->conn, RINGO__CLOSE_AFTER_SEND);
    wake(ws);
}

static void on_event(ringo_ws *ws, const ringo__ws_event *ev)
{
    switch (ev->type) {
    case RINGO__WS_TEXT:
    case RINGO__WS_BINARY: on_message(ws, ev->type); break;
    case RINGO__WS_PING:
        if (ws->state == WS_OPEN && !ringo__ws_put_frame(ws, RINGO__WS_PONG, ev->data, ev->len))
            finish(ws, RINGO__WS_INTERNAL);
        break;
    case RINGO__WS_CLOSE: on_close_frame(ws, ev); break;
    default: break; /* a pong: it counted as input */
    }
}

/* Parses p[0..n) as far as the connection may take now; returns the bytes taken. */
static size_t parse(ringo_ws *ws, const char *p, size_t n)
{
    size_t off = 0;

    while (off < n && can_parse(ws)) {
        ringo__ws_event ev;
        size_t used = 0;
        int ret = ringo__ws_feed(&ws->parser, p + off, n - off, &used, &ev);
        off += used;
        if (ret == 0)
            break;
        if (ret < 0) {
            finish(ws, ret == -ENOMEM ? RINGO__WS_INTERNAL : (unsigned)-ret);
            return n;
        }
        on_event(ws, &ev);
    }
    /* Closed: what is left can never be parsed. */
    return ws->state == WS_DONE || !ringo__ws_writable(ws) ? n : off;
}

static bool hold(ringo_ws *ws, const char *p, size_t n)
{
    if (ringo__grow(&ws->in, &ws->in_cap, ws->in_len + n, 4096) < 0)
        return false;
    memcpy(ws->in + ws->in_len, p, n);
    ws->in_len += n;
    return true;
}

/*
 * Recv pauses once input must be held (a message waits for the handler and
 * more came) or the output is backed up. A message waiting alone does not
 * pause it: in the usual request-reply rhythm nothing more comes before
 * the handler takes it, and a pause would cost a cancel and a new recv per
 * message. What arrives meanwhile is held and pauses it then, so at most
 * one batch of receive buffers is held beyond the waiting message.
 */
static void flow(ringo_ws *ws)
{
    if (!ringo__ws_writable(ws))
        return;
    ws->paused = ws->in_len || ringo__conn_unsent(ws->conn) > ws->rt->max_send_queue;
    if (ws->paused)
        ringo__conn_pause(ws->conn);
    else
        ringo__conn_resume(ws->conn);
}

static void parse_held(ringo_ws *ws)
{
    size_t used;

    if (!ws->in_len)
        return;
    used = parse(ws, ws->in, ws->in_len);
    if (!ws->conn)
        return; /* the connection closed under the parse: on_close freed the input */
    memmove(ws->in, ws->in + used, ws->in_len - used);
    ws->in_len -= used;
    if (!ws->in_len && ws->in_cap > 65536) {
        ringo__free(ws->in);
        ws->in = NULL;
        ws->in_cap = 0;
    }
}

/* Ring context, nothing of the connection's on the stack: parse and flush. */
static void input(ringo_ws *ws, const char *p, size_t n)
{
    ws_ref(ws);
    parse_held(ws);
    if (n && !ws->in_len && ws->conn) {
        size_t used = parse(ws, p, n);
        p += used;
        n -= used;
    }
    if (n && ws->conn && !hold(ws, p, n))
        finish(ws, RINGO__WS_INTERNAL);
    flow(ws);
    if (ws->conn)
        ringo__conn_flush(ws->conn);
    ws_unref(ws);
}

void ringo__ws_on_data(ringo__sess *s, const char *p, size_t n)
{
    ringo_ws *ws = s->ws;

    ws->last_rx = ringo__ring_now(ringo__conn_ring(ws->conn));
    input(ws, p, n);
}

static void kicked(ringo__completion *comp, int32_t res, uint32_t flags)
{
    ringo_ws *ws = ringo__container_of(comp, ringo_ws, kick);

    (void)res;
    (void)flags;
    ws->kick_posted = false;
    if (ringo__ws_writable(ws))
        input(ws, NULL, 0);
    ws_unref(ws);
}

/* Parses held input from the ring's CQE loop rather than from the caller's stack. */
static void kick(ringo_ws *ws)
{
    struct io_uring_sqe *sqe;

    if (ws->kick_posted || !ws->conn)
        return;
    ws->kick_posted = true;
    ws_ref(ws);
    sqe = ringo__ring_sqe(ringo__conn_ring(ws->conn));
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, ringo__ptr_data(&ws->kick));
}

void ringo__ws_defer(ringo__sess *s, const char *p, size_t n)
{
    ringo_ws *ws = s->ws;

    if (n && !hold(ws, p, n)) {
        finish(ws, RINGO__WS_INTERNAL);
        return;
    }
    ringo__conn_pause(ws->conn);
    kick(ws);
}

void ringo__ws_on_eof(ringo__sess *s)
{
    /* A peer that stops sending without a close frame is gone (RFC 6455 §7.1.5: 1006). */
    ringo__conn_close(s->ws->conn, RINGO__CLOSE_NOW);
}

void ringo__ws_on_wrote(ringo__sess *s)
{
    ringo_ws *ws = s->ws;

    if (ws->waiter && ringo__conn_unsent(ws->conn) < cfg_of(ws)->stream_window)
        wake(ws);
    if (ws->paused && !ws->next && ringo__conn_unsent(ws->conn) <= ws->rt->max_send_queue)
        kick(ws);
}

void ringo__ws_on_drain(ringo__sess *s)
{
    ringo_ws *ws = s->ws;

    ws->cancelled = true;
    ringo__ws_start_close(ws, RINGO__WS_GOING_AWAY, "server shutdown");
    if (ws->task && !ws->handler_done)
        ringo__fiber_cancel(ws->task); /* every await of the handler returns -ECANCELED */
}

bool ringo__ws_on_close(ringo__sess *s)
{
    ringo_ws *ws = s->ws;
    bool clean = ws->clean;

    if (!ws->code)
        ws->code = RINGO__WS_ABNORMAL;
    ws->state = WS_DONE;
    ws->conn = NULL;
    ws->s = NULL;
    s->ws = NULL;
    ringo__free(ws->in);
    ws->in = NULL;
    ws->in_len = ws->in_cap = 0;
    ringo__ws_parser_free(&ws->parser);
    wake(ws);
    ws_unref(ws);
    return !clean;
}

/* ---- the handler's end ---- */

void ringo__ws_handler_done(ringo__sess *s, ringo_req *r)
{
    ringo_ws *ws = s->ws;

    ws->handler_done = true;
    ringo__free(ws->next);
    ws->next = NULL;
    ringo__ws_start_close(ws, r->outcome == REQ_OK ? RINGO__WS_NORMAL : RINGO__WS_INTERNAL, NULL);
    if (ws->paused)
        kick(ws); /* held input: the peer's close may be in it */
}

void ringo__ws_req_free(ringo_req *r)
{
    ringo_ws *ws = r->ws;

    r->ws = NULL;
    ringo__ws_leave_all(ws);
    ws->handler_done = true;
    ws->req = NULL;
    ws->task = NULL;
    ringo__free(ws->cur);
    ws->cur = NULL;
    ws_unref(ws);
}

/* ---- group delivery ---- */

void ringo__ws_deliver(ringo_ws *ws, const char *frame, size_t len)
{
    char *p;

    if (ws->state != WS_OPEN || ws->cancelled || !ringo__ws_writable(ws))
        return;
    if (ringo__conn_unsent(ws->conn) + len > ws->rt->max_send_queue ||
        !(p = ringo__conn_reserve(ws->conn, len))) {
        /* Never buffer without bound for a member that does not keep up. */
        finish(ws, RINGO__WS_POLICY);
        return;
    }
    memcpy(p, frame, len);
    ringo__conn_commit(ws->conn, len);
    ringo__conn_flush(ws->conn);
}

/* ---- takeover ---- */

/* The session's input read past the handshake becomes WebSocket input. */
static void adopt(ringo_ws *ws, ringo__sess *s)
{
    /* Empty, it may be the buffer feed() still reads (http/session.c feed_pending). */
    if (!s->pending_len)
        return;
    if (s->pending_off) /* held input starts at the front of the buffer it adopts */
        memmove(s->pending, s->pending + s->pending_off, s->pending_len);
    s->pending_off = 0;
    ws->in = s->pending;
    ws->in_len = s->pending_len;
    ws->in_cap = s->pending_cap;
    s->pending = NULL;
    s->pending_len = s->pending_cap = 0;
    if (ws->in_len)
        kick(ws);
    flow(ws);
}

void ringo__ws_attach(ringo_ws *ws, ringo_req *req, ringo__sess *s, ringo__fiber *t)
{
    ws->rt = req->route->ws;
    ringo__ws_parser_init(&ws->parser, (size_t)ws->rt->max_message, (size_t)ws->rt->max_message);
    ws->s = s;
    ws->conn = req->conn;
    ws->req = req;
    ws->task = t;
    ws->kick.fn = kicked;
    ws->refs = 2; /* the session's and the request's */
    ws->last_rx = ringo__ring_now(ringo__conn_ring(req->conn));
    s->ws = ws;
    req->ws = ws;
    adopt(ws, s);
    arm(ws);
}

void ringo__ws_taken(ringo_ws *ws)
{
    if (ws->paused)
        kick(ws); /* the held input, and recv again */
}
