/*
 * http/ws/endpoint.c - WebSocket endpoints (ringo/ws.h): the route, the
 * opening handshake checked before the handler, and the handler's calls.
 * The connection after 101 is http/ws/conn.c's.
 *
 * The handler's calls run on its coroutine. recv and send park it
 * (ringo__fiber_park) until the ring wakes it: a message arrived, a send
 * made room in the window, or the WebSocket ended.
 */
#include <errno.h>
#include <stdio.h>

#include "core/alloc.h"
#include "http/observe_impl.h"
#include "http/ws/ws_impl.h"

#define DEFAULT_MAX_MESSAGE (1u << 20)
#define DEFAULT_CLOSE_TIMEOUT_MS 2000u

/* ---- registration ---- */

int ringo_ws_route(ringo_app *app, const char *pattern, ringo_mode mode, ringo_handler_fn fn,
                   void *udata, const ringo_ws_opts *opts)
{
    ringo_route_opts ro = {0};
    ringo__ws_route *rt;
    int ret;

    if (!app || mode != RINGO_ASYNC || (opts && !RINGO__RESERVED_ZERO(opts->reserved)))
        return -EINVAL;
    rt = ringo__calloc(1, sizeof(*rt));
    if (!rt)
        return -ENOMEM;
    rt->max_message = opts && opts->max_message ? opts->max_message : DEFAULT_MAX_MESSAGE;
    if (rt->max_message > SIZE_MAX / 4) {
        ringo__free(rt);
        return -EINVAL;
    }
    rt->max_send_queue =
        opts && opts->max_send_queue ? opts->max_send_queue : (1u << 20) + rt->max_message;
    rt->close_timeout_ms =
        opts && opts->close_timeout_ms ? opts->close_timeout_ms : DEFAULT_CLOSE_TIMEOUT_MS;
    if (opts) {
        ro.stack_size = opts->stack_size;
        ro.needs = opts->needs;
    }
    ret = ringo__route_add(app, "GET", pattern, mode, fn, udata, &ro, NULL);
    if (ret < 0) {
        ringo__free(rt);
        return ret;
    }
    app->routes[app->nroutes - 1]->ws = rt;
    return 0;
}

void ringo__ws_route_free(ringo__ws_route *rt) { ringo__free(rt); }

/* ---- the opening handshake (before the handler) ---- */

int ringo__ws_check(ringo_req *r)
{
    ringo__ws_handshake *hs = ringo_req_alloc(r, sizeof(*hs));
    int status;

    if (!hs)
        return 503;
    ringo__ws_handshake_init(hs);
    for (uint32_t i = 0; i < r->nhdrs; i++)
        ringo__ws_handshake_header(hs, r->hdrs[i].name, r->hdrs[i].value);
    status = ringo__ws_handshake_check(hs, r->method, 1, r->http_minor);
    if (status == 101) {
        r->ws_hs = hs;
        return 0;
    }
    if (status == 426)
        ringo_resp_add_header(r, "Sec-WebSocket-Version", RINGO_STR_LIT("13"));
    r->detail = hs->why;
    return status;
}

int ringo_ws_subprotocol(const ringo_req *req, unsigned i, ringo_str *out)
{
    if (!req || !out || !req->ws_hs)
        return -EINVAL;
    if (i >= req->ws_hs->nprotocols)
        return -ENOENT;
    *out = req->ws_hs->protocols[i];
    return 0;
}

/* ---- the handler's calls ---- */

bool ringo__ws_in_handler(const ringo_ws *ws)
{
    ringo__fiber *t = ringo__fiber_current();

    return ws && t && t == ws->task && !ws->handler_done;
}

static bool gone(const ringo_ws *ws) { return ws->cancelled || !ws->conn || ws->task->cancelled; }

static int write_head(ringo_req *r, ringo__conn *c, const char *proto)
{
    const ringo__ws_handshake *hs = r->ws_hs;
    size_t plen = proto ? strlen(proto) : 0, need = 160 + RINGO__WS_ACCEPT_LEN + plen;
    char *p, *start;

    for (uint32_t i = 0; i < r->nrhdrs; i++)
        need += r->rhdrs[i].name.len + r->rhdrs[i].value.len + 4;
    need += r->rid.len ? r->rid.len + 16 : 0;
    p = start = ringo__conn_reserve(c, need);
    if (!p)
        return -ENOMEM;
    p += sprintf(p,
                 "HTTP/1.1 101 Switching Protocols\r\nServer: ringo\r\n%sUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                 ringo__ring_date_line(ringo__conn_ring(c)), hs->accept);
    if (proto)
        p += sprintf(p, "Sec-WebSocket-Protocol: %s\r\n", proto);
    p += ringo__resp_fields(r->rhdrs, r->nrhdrs, p);
    if (r->rid.len) /* ringo_app_request_ids() */
        p += sprintf(p, "X-Request-ID: %.*s\r\n", (int)r->rid.len, r->rid.ptr);
    memcpy(p, "\r\n", 2);
    ringo__conn_commit(c, (size_t)(p + 2 - start));
    ringo__conn_flush(c);
    return 0;
}

int ringo_ws_accept(ringo_req *req, const ringo_ws_accept_opts *opts, ringo_ws **out)
{
    ringo__fiber *t = ringo__fiber_current();
    const char *proto = opts ? opts->subprotocol : NULL;
    ringo__sess *s;
    ringo_ws *ws;
    size_t unsent;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!req || !req->ws_hs || !t || t->data != req || (req->x && req->x->posting))
        return -EPERM;
    if (req->ws)
        return -EALREADY;
    if ((opts && !RINGO__RESERVED_ZERO(opts->reserved)) ||
        (proto && !ringo__ws_handshake_offered(req->ws_hs, ringo_str_c(proto))))
        return -EINVAL;
    s = ringo__conn_state(req->conn);
    if (t->cancelled || atomic_load_explicit(&req->gone, memory_order_relaxed) ||
        ringo__conn_closing(req->conn) || s->state == SESS_CLOSED)
        return -ECANCELED;
    ws = ringo__calloc(1, sizeof(*ws)); /* first: nothing can fail once the 101 is out */
    if (!ws)
        return -ENOMEM;
    unsent = ringo__conn_unsent(req->conn);
    if (write_head(req, req->conn, proto) < 0) {
        ringo__free(ws);
        return -ENOMEM;
    }
    req->status = 101;
    /* Counted and logged now: the handler may run as long as the connection lives. */
    if (s->app->obs)
        ringo__obs_done(s, req, ringo__conn_unsent(req->conn) - unsent);
    ringo__ws_attach(ws, req, s, t);
    *out = ws;
    return 0;
}

/* Parks the handler until the ring wakes it; -ECANCELED when it was cancelled. */
static int park_handler(ringo_ws *ws)
{
    int ret;

    ws->waiter = ws->task;
    ret = ringo__fiber_park();
    ws->waiter = NULL;
    return ret;
}

int ringo_ws_recv(ringo_ws *ws, ringo_ws_msg *msg)
{
    if (!ringo__ws_in_handler(ws) || !msg)
        return msg ? -EPERM : -EINVAL;
    ringo__free(ws->cur);
    ws->cur = NULL;
    for (;;) {
        if (ws->cancelled || ws->task->cancelled)
            return -ECANCELED;
        if (ws->next) {
            msg->type = ws->next_type;
            msg->data = ws->cur = ws->next;
            msg->len = ws->next_len;
            ws->next = NULL;
            ringo__ws_taken(ws);
            return 0;
        }
        if (ws->peer_closed)
            return -EPIPE;
        if (ws->state != WS_OPEN || !ws->conn)
            return -ECANCELED;
        if (park_handler(ws) < 0)
            return ws->peer_closed && !ws->cancelled ? -EPIPE : -ECANCELED;
    }
}

static int check_payload(int type, const void *data, size_t len)
{
    if ((type != RINGO_WS_TEXT && type != RINGO_WS_BINARY) || (!data && len))
        return -EINVAL;
    if (type == RINGO_WS_TEXT && len && !ringo__ws_utf8_valid(data, len))
        return -EINVAL;
    return 0;
}

int ringo_ws_send(ringo_ws *ws, int type, const void *data, size_t len)
{
    int ret;

    if (!ringo__ws_in_handler(ws))
        return -EPERM;
    ret = check_payload(type, data, len);
    if (ret < 0)
        return ret;
    for (;;) {
        if (gone(ws) || ws->state != WS_OPEN || !ringo__ws_writable(ws))
            return -ECANCELED;
        if (ringo__conn_unsent(ws->conn) <
            ringo__ring_config(ringo__conn_ring(ws->conn))->stream_window)
            break;
        if (park_handler(ws) < 0)
            return -ECANCELED;
    }
    if (!ringo__ws_put_frame(ws, type, data, len))
        return -ENOMEM;
    ringo__conn_flush(ws->conn);
    return 0;
}

int ringo_ws_close(ringo_ws *ws, unsigned code, const char *reason)
{
    if (!ringo__ws_in_handler(ws))
        return -EPERM;
    if (!ringo__ws_close_code_valid(code))
        return -EINVAL;
    if (gone(ws) || ws->state != WS_OPEN)
        return -ECANCELED;
    ringo__ws_start_close(ws, code, reason);
    return 0;
}

unsigned ringo_ws_close_code(const ringo_ws *ws, ringo_str *reason)
{
    if (reason)
        *reason =
            ws && ws->peer_closed ? (ringo_str){ws->reason, ws->reason_len} : (ringo_str){"", 0};
    if (!ws)
        return 0;
    return ws->state == WS_OPEN ? 0 : ws->code;
}
