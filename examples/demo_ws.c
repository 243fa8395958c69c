/*
 * examples/demo_ws.c - the demo's WebSocket endpoints (ringo/ws.h).
 *
 *   GET /ws/echo   every text or binary message comes back as it came
 *                  (messages up to 16 MiB); ?refuse=1 answers 403 instead
 *                  of accepting; ?delay_ms=N waits N ms before accepting;
 *                  a client offering the subprotocol "echo" gets it; the
 *                  text message "close" makes the server close with 4000
 *                  "bye"
 *   GET /ws/chat   one room: every message goes to every member (the
 *                  sender too), whatever ring each member lives on;
 *                  "/others TEXT" sends TEXT to the others only, "/leave"
 *                  and "/join" change membership (answered "leave" and
 *                  "join" to the sender alone)
 *
 * The 101 answer of both carries X-Ring: the ring the connection lives on.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

static int add_ring_header(ringo_req *req)
{
    char ring[16];
    int n = snprintf(ring, sizeof(ring), "%u", ringo_req_ring(req));

    return ringo_resp_add_header(req, "X-Ring", (ringo_str){ring, (size_t)n});
}

/* The subprotocol "echo" if the client offered it. */
static const char *pick_protocol(ringo_req *req)
{
    ringo_str p;

    for (unsigned i = 0; ringo_ws_subprotocol(req, i, &p) == 0; i++)
        if (ringo_str_eq(p, RINGO_STR_LIT("echo")))
            return "echo";
    return NULL;
}

static int echo(ringo_req *req, void *udata)
{
    ringo_ws_accept_opts opts = {.subprotocol = pick_protocol(req)};
    ringo_ws *ws;
    ringo_ws_msg m;
    int ret;

    (void)udata;
    if (demo_query_u64(req, "refuse", 0, 1))
        return ringo_respond(req, 403, "text/plain", "not welcome\n", 12);
    ret = ringo_await_sleep(demo_query_u64(req, "delay_ms", 0, 60000));
    if (ret == 0)
        ret = add_ring_header(req);
    if (ret == 0)
        ret = ringo_ws_accept(req, &opts, &ws);
    while (ret == 0 && (ret = ringo_ws_recv(ws, &m)) == 0) {
        if (m.type == RINGO_WS_TEXT && m.len == 5 && memcmp(m.data, "close", 5) == 0)
            return ringo_ws_close(ws, 4000, "bye");
        ret = ringo_ws_send(ws, m.type, m.data, m.len);
    }
    /* -EPIPE: the client closed; -ECANCELED: it left, or shutdown. Either way: done. */
    return ret == -EPIPE || ret == -ECANCELED ? 0 : ret;
}

static bool is(const ringo_ws_msg *m, const char *cmd)
{
    return m->type == RINGO_WS_TEXT && m->len == strlen(cmd) && memcmp(m->data, cmd, m->len) == 0;
}

/* "/leave", "/join": membership, acknowledged to the sender alone; "/others TEXT": TEXT to
 * every member but the sender; anything else: to every member. */
static int chat_message(ringo_ws_group *room, ringo_ws *ws, const ringo_ws_msg *m)
{
    int ret;

    if (is(m, "/leave") || is(m, "/join")) {
        ret = is(m, "/leave") ? ringo_ws_group_leave(room, ws) : ringo_ws_group_join(room, ws);
        return ret < 0 ? ret : ringo_ws_send(ws, RINGO_WS_TEXT, m->data + 1, m->len - 1);
    }
    if (m->type == RINGO_WS_TEXT && m->len > 8 && memcmp(m->data, "/others ", 8) == 0)
        return ringo_ws_group_send(room, ws, RINGO_WS_TEXT, m->data + 8, m->len - 8);
    return ringo_ws_group_send(room, NULL, m->type, m->data, m->len);
}

static int chat(ringo_req *req, void *udata)
{
    ringo_ws_group *room = udata;
    ringo_ws *ws;
    ringo_ws_msg m;
    int ret = add_ring_header(req);

    if (ret == 0)
        ret = ringo_ws_accept(req, NULL, &ws);
    if (ret == 0)
        ret = ringo_ws_group_join(room, ws);
    while (ret == 0 && (ret = ringo_ws_recv(ws, &m)) == 0)
        ret = chat_message(room, ws, &m);
    return ret == -EPIPE || ret == -ECANCELED ? 0 : ret; /* it leaves the room by itself */
}

int demo_ws_routes(ringo_app *app)
{
    static const ringo_ws_opts echo_opts = {.max_message = 16u << 20};
    static const ringo_ws_opts chat_opts = {.max_message = 1u << 20, .max_send_queue = 2u << 20};
    ringo_ws_group *room;
    int ret = ringo_ws_group_new(app, &room);

    if (ret == 0)
        ret = ringo_ws_route(app, "/ws/echo", RINGO_ASYNC, echo, NULL, &echo_opts);
    if (ret == 0)
        ret = ringo_ws_route(app, "/ws/chat", RINGO_ASYNC, chat, room, &chat_opts);
    return ret;
}
