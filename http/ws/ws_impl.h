/*
 * http/ws/ws_impl.h - a WebSocket connection (ringo/ws.h) as the files of
 * http/ws/ share it: the route and the handler's calls (endpoint.c), the
 * connection after 101 (conn.c) and the broadcast groups (group.c).
 *
 * Lifetime: a ringo_ws is created by ringo_ws_accept() and referenced by
 * its connection's session (until on_close), by its handler's request
 * (until the request is freed) and by a pending kick CQE; the last
 * reference frees it. Everything runs on the connection's ring thread but
 * group messages, which reach other rings through MSG_RING.
 */
#ifndef RINGO_HTTP_WS_IMPL_H
#define RINGO_HTTP_WS_IMPL_H

#include "http/http_impl.h"
#include "http/ws/frame.h"
#include "http/ws/handshake.h"

/* A WebSocket route's settings, defaults resolved (ringo__route.ws). */
typedef struct ringo__ws_route {
    uint64_t max_message;
    uint64_t max_send_queue;
    uint32_t close_timeout_ms;
} ringo__ws_route;

enum ringo__ws_state {
    WS_OPEN,       /* messages flow both ways */
    WS_CLOSE_SENT, /* our close frame went out: waiting for the peer's */
    WS_DONE,       /* closed (handshake complete, failed, or the connection is gone) */
};

/* One membership: ws in group g. */
typedef struct ringo__ws_member {
    struct ringo_ws *ws;
    struct ringo_ws_group *g;
    struct ringo__ws_member *prev, *next; /* g's list of ws's ring */
    struct ringo__ws_member *ws_next;     /* ws's memberships */
    unsigned ring;                        /* ws's ring: the list it is in */
} ringo__ws_member;

struct ringo_ws {
    ringo__ws_parser parser;
    ringo__sess *s;       /* NULL once the connection closed */
    ringo__conn *conn;    /* likewise */
    ringo_req *req;       /* the handler's request, NULL once freed */
    ringo__fiber *task;   /* the handler's coroutine */
    ringo__fiber *waiter; /* parked in recv or send */
    const ringo__ws_route *rt;
    unsigned refs;
    uint8_t state;     /* enum ringo__ws_state */
    bool peer_closed;  /* the peer closed first: its close frame came while open */
    bool clean;        /* the close handshake completed */
    bool cancelled;    /* shutdown: the handler's calls return -ECANCELED */
    bool handler_done; /* the handler returned */
    bool kick_posted;
    bool paused;   /* recv is paused: a message waits, input is held or output backed up */
    uint16_t code; /* ringo_ws_close_code() */
    uint8_t reason_len;
    char reason[RINGO__WS_MAX_CONTROL];
    /* Input not parsed yet: held while a message waits for the handler. */
    char *in;
    size_t in_len, in_cap;
    /* The next message for the handler (taken from the parser), and the one it holds. */
    char *next, *cur;
    size_t next_len;
    int next_type;
    uint64_t last_rx, last_ping, close_at; /* ring clock, ms */
    ringo__completion kick;
    ringo__ws_member *groups;
};

/* http/ws/endpoint.c */
int ringo__ws_check(ringo_req *r); /* before the handler: 0, or the status 400/426 */
void ringo__ws_route_free(struct ringo__ws_route *rt);
/* The calling coroutine is ws's handler. */
bool ringo__ws_in_handler(const struct ringo_ws *ws);

/* http/ws/conn.c: the takeover, what the handler's calls use */
/* After the 101: ws (zeroed) takes over the session's connection. */
void ringo__ws_attach(struct ringo_ws *ws, ringo_req *req, ringo__sess *s, ringo__fiber *t);
bool ringo__ws_writable(const struct ringo_ws *ws);
bool ringo__ws_put_frame(struct ringo_ws *ws, int opcode, const void *data, size_t len);
void ringo__ws_start_close(struct ringo_ws *ws, unsigned code, const char *reason);
void ringo__ws_taken(struct ringo_ws *ws); /* the handler took `next`: read on */

/* http/ws/conn.c: the session's callbacks once upgraded (ring context) */
void ringo__ws_on_data(ringo__sess *s, const char *p, size_t n);
void ringo__ws_defer(ringo__sess *s, const char *p, size_t n); /* read before the takeover */
void ringo__ws_on_eof(ringo__sess *s);
void ringo__ws_on_wrote(ringo__sess *s);
void ringo__ws_on_timer(ringo__sess *s);
void ringo__ws_on_drain(ringo__sess *s);
bool ringo__ws_on_close(ringo__sess *s); /* true: the handler is to be cancelled */
void ringo__ws_handler_done(ringo__sess *s, ringo_req *r);
void ringo__ws_req_free(ringo_req *r);
/* A group message's frame for ws: written, or ws closed with 1008 when it cannot keep up. */
void ringo__ws_deliver(struct ringo_ws *ws, const char *frame, size_t len);

/* http/ws/group.c */
void ringo__ws_leave_all(struct ringo_ws *ws);
void ringo__ws_groups_free(ringo_app *app);

#endif
