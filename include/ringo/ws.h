/*
 * ringo/ws.h - WebSocket endpoints (RFC 6455), FastAPI's @app.websocket.
 *
 * A WebSocket route is an ordinary GET route whose handler is RINGO_ASYNC
 * (it lives as long as the WebSocket and waits on its ring, never blocking
 * a pool worker). Before the handler runs, ringo checks the opening
 * handshake: a request that is no valid handshake gets 400, one without
 * Sec-WebSocket-Version 13 gets 426 with "Sec-WebSocket-Version: 13"
 * (RFC 6455 §4.2.2, §4.4); another method gets 405 as for any route. The
 * handler may read the request (Origin, cookies, offered subprotocols) and
 * refuse with an ordinary HTTP response (e.g. 403), or accept:
 *
 *     ringo_ws *ws;
 *     ringo_ws_msg m;
 *     int ret = ringo_ws_accept(req, NULL, &ws);   // 101 Switching Protocols
 *     while (ret == 0 && (ret = ringo_ws_recv(ws, &m)) == 0)
 *         ret = ringo_ws_send(ws, m.type, m.data, m.len);
 *     return 0;                                    // closes with 1000 if open
 *
 * After the 101 the connection speaks WebSocket until it closes: no further
 * HTTP request is read from it. ringo answers pings with pongs, pings an
 * idle peer (ringo_config.ws_ping_ms), closes a peer silent for
 * ringo_config.ws_idle_timeout_ms (1001), completes close handshakes, and
 * fails a connection that breaks the protocol with the RFC's close code:
 * 1002 (unmasked or malformed frames, fragmented or oversized control
 * frames, bad fragmentation, reserved bits or opcodes, a close code that
 * must not be sent), 1007 (invalid UTF-8 in a text message or a close
 * reason), 1009 (a message over the route's max_message). After a failure
 * or a close handshake the TCP connection is closed once the close frame
 * went out (lingering close, at most linger_ms), or when the peer does not
 * answer a close of ours within close_timeout_ms.
 *
 * Memory per connection is bounded: the message being assembled is at most
 * max_message bytes; while a complete message waits for the handler,
 * nothing more is read (backpressure reaches the kernel and the peer); the
 * handler's sends wait while ringo_config.stream_window bytes are unsent.
 *
 * Cancellation: once the connection is gone (hang-up, send failure), the
 * server is shutting down, or the WebSocket was closed (by either side),
 * ringo_ws_send() returns -ECANCELED and ringo_ws_recv() returns -EPIPE
 * when the peer closed first (ringo_ws_close_code() says with which code),
 * -ECANCELED otherwise; a waiting call is woken. At shutdown every open
 * WebSocket gets a close frame 1001 and its handler is cancelled (every
 * await returns -ECANCELED); the drain does not wait for WebSocket handlers.
 *
 * Calls taking a ringo_ws are valid from the handler that accepted it, on
 * its coroutine (not from teardowns, background tasks or other handlers:
 * -EPERM). The ringo_ws is valid until that handler returns.
 *
 * Groups (ringo_ws_group_*) broadcast one message to many WebSockets on any
 * ring, for chat rooms and fan-out.
 */
#ifndef RINGO_WS_H
#define RINGO_WS_H

#include <stddef.h>
#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ringo_ws ringo_ws;
typedef struct ringo_ws_group ringo_ws_group;

/* Message types (the RFC 6455 opcodes). */
enum {
    RINGO_WS_TEXT = 1,   /* UTF-8 text */
    RINGO_WS_BINARY = 2, /* bytes */
};

/* Close codes (RFC 6455 §7.4.1) ringo sends or reports. */
enum {
    RINGO_WS_NORMAL = 1000,
    RINGO_WS_GOING_AWAY = 1001,     /* shutdown, idle timeout */
    RINGO_WS_PROTOCOL_ERROR = 1002, /* the peer broke the framing rules */
    RINGO_WS_NO_STATUS = 1005,      /* reported: the peer's close frame had no code */
    RINGO_WS_ABNORMAL = 1006,       /* reported: the connection ended without a close frame */
    RINGO_WS_INVALID_DATA = 1007,   /* invalid UTF-8 in a text message */
    RINGO_WS_POLICY = 1008,         /* a group member too slow to keep up */
    RINGO_WS_TOO_BIG = 1009,        /* a message over max_message */
    RINGO_WS_INTERNAL = 1011,       /* the handler failed */
};

/*
 * Per-route options of ringo_ws_route(). Zeroed means defaults; the
 * reserved words must be zero (ringo/app.h, "ABI").
 */
typedef struct ringo_ws_opts {
    uint64_t max_message;      /* largest received message, bytes, over all its fragments;
                                  larger ones close with 1009. 0: 1 MiB */
    uint64_t max_send_queue;   /* unsent bytes a group message may find on this connection;
                                  past it the member is closed with 1008. 0: 1 MiB +
                                  max_message */
    uint32_t close_timeout_ms; /* how long a close of ours waits for the peer's; 0: 2000 */
    size_t stack_size;         /* the handler's coroutine stack; 0: the app's */
    const char *const *needs;  /* dependencies (ringo/deps.h) by name, NULL-terminated */
    uint64_t reserved[4];      /* zero */
} ringo_ws_opts;

/* One received message. */
typedef struct ringo_ws_msg {
    int type;         /* RINGO_WS_TEXT (valid UTF-8) or RINGO_WS_BINARY */
    const char *data; /* len bytes and a NUL after them; owned by ringo, valid until the
                         next ringo_ws_recv() or the handler's return */
    size_t len;
} ringo_ws_msg;

/* Options of ringo_ws_accept() (NULL: none). */
typedef struct ringo_ws_accept_opts {
    const char *subprotocol; /* answered in Sec-WebSocket-Protocol: one the client offered
                                (ringo_ws_subprotocol()), or NULL */
    uint64_t reserved[4];    /* zero */
} ringo_ws_accept_opts;

/*
 * Registers GET pattern as a WebSocket endpoint (see the header comment).
 * mode must be RINGO_ASYNC: RINGO_SYNC is refused with -EINVAL (a
 * WebSocket would hold a pool worker for its whole life). opts (NULL:
 * defaults) is copied. Returns as ringo_route_ex(): 0, -EINVAL (also for
 * nonzero reserved words), -EEXIST, -EBUSY after start, -ENOMEM.
 */
RINGO_API int ringo_ws_route(ringo_app *app, const char *pattern, ringo_mode mode,
                             ringo_handler_fn fn, void *udata, const ringo_ws_opts *opts);

/*
 * The i-th subprotocol the client offered in Sec-WebSocket-Protocol, in its
 * order of preference. Returns 0 and sets *out (valid for the request's
 * life), -ENOENT past the last one, -EINVAL outside a WebSocket route.
 */
RINGO_API int ringo_ws_subprotocol(const ringo_req *req, unsigned i, ringo_str *out);

/*
 * Accepts the WebSocket: sends 101 Switching Protocols with the headers the
 * handler set so far (Set-Cookie, ...) and, with opts->subprotocol,
 * Sec-WebSocket-Protocol. Stores the WebSocket in *out (NULL on failure);
 * ringo owns it, valid until the handler returns. Returns 0; -EINVAL (out
 * NULL, a subprotocol the client did not offer, nonzero reserved words);
 * -EALREADY (accepted before); -EPERM (not a WebSocket route's handler on
 * its coroutine); -ECANCELED (the client is gone); -ENOMEM.
 */
RINGO_API int ringo_ws_accept(ringo_req *req, const ringo_ws_accept_opts *opts, ringo_ws **out);

/*
 * Waits for the next whole message and fills *msg (see ringo_ws_msg for how
 * long its data lives). Returns 0; -EPIPE when the peer closed first (its
 * close frame came while the WebSocket was open; its code:
 * ringo_ws_close_code()), for this and every later call; -ECANCELED when
 * the connection ended otherwise, ringo failed it, the handler closed it,
 * or shutdown; -EPERM (see the header comment).
 */
RINGO_API int ringo_ws_recv(ringo_ws *ws, ringo_ws_msg *msg);

/*
 * Sends one message as one frame: the bytes are copied before it returns.
 * Waits first while ringo_config.stream_window bytes of this connection are
 * unsent. Returns 0; -EINVAL (type not RINGO_WS_TEXT or RINGO_WS_BINARY,
 * text that is not valid UTF-8, data NULL with len > 0); -ECANCELED once
 * the WebSocket is closing or gone; -EPERM; -ENOMEM.
 */
RINGO_API int ringo_ws_send(ringo_ws *ws, int type, const void *data, size_t len);

/*
 * Starts the close handshake: sends a close frame with code (1000-1003,
 * 1007-1011 or 3000-4999) and reason (NULL or NUL-terminated, cut to fit
 * 123 bytes on a UTF-8 boundary). The connection closes when the peer
 * answers, or after close_timeout_ms. Later calls return -ECANCELED.
 * Returns 0; -EINVAL for a code that must not be sent; -ECANCELED when
 * already closing or gone; -EPERM.
 */
RINGO_API int ringo_ws_close(ringo_ws *ws, unsigned code, const char *reason);

/*
 * The close code of the WebSocket's end: the peer's (RINGO_WS_NO_STATUS for
 * a close frame without one), the one ringo or the handler sent when they
 * closed first, RINGO_WS_ABNORMAL when the connection dropped without a
 * close frame; 0 while open. *reason (may be NULL) gets the peer's reason
 * (valid while ws is), else an empty string.
 */
RINGO_API unsigned ringo_ws_close_code(const ringo_ws *ws, ringo_str *reason);

/* ---- groups: broadcast across rings ---- */

/*
 * Creates an empty group owned by app (freed by ringo_app_free(), or
 * earlier by ringo_ws_group_free()). Callable before or after start, from
 * any thread. Returns 0 and sets *out; -EINVAL (out or app NULL); -ENOMEM.
 */
RINGO_API int ringo_ws_group_new(ringo_app *app, ringo_ws_group **out);

/*
 * Frees g. While the app runs this only marks it: it is freed with the app
 * (messages may still be on their way to it). NULL is a no-op. g must have
 * no members.
 */
RINGO_API void ringo_ws_group_free(ringo_ws_group *g);

/*
 * Adds ws to g (a WebSocket may be in several groups). The handler of ws
 * calls it; ws leaves every group by itself when its handler returns.
 * Returns 0; -EALREADY (a member already); -ECANCELED (ws closing or
 * gone); -EINVAL (g belongs to another app); -EPERM; -ENOMEM.
 */
RINGO_API int ringo_ws_group_join(ringo_ws_group *g, ringo_ws *ws);

/* Removes ws from g. Returns 0, -ENOENT (not a member), -EPERM. */
RINGO_API int ringo_ws_group_leave(ringo_ws_group *g, ringo_ws *ws);

/*
 * Sends one message to every member of g except `except` (NULL: all),
 * whatever ring they live on. Members on the caller's ring get it before
 * this returns; the other rings get it through their own rings' queues
 * (one IORING_OP_MSG_RING per ring with members), in the order this ring
 * sent them. The message is copied once and shared. Never waits: a member
 * whose unsent output would pass its route's max_send_queue is closed with
 * 1008 instead of buffering without bound. Callable on a ring thread of
 * g's app (an async handler, any route). Returns 0; -EINVAL (bad type,
 * text not valid UTF-8, data NULL with len > 0); -EPERM (not on one of
 * the app's ring threads); -ENOMEM.
 */
RINGO_API int ringo_ws_group_send(ringo_ws_group *g, const ringo_ws *except, int type,
                                  const void *data, size_t len);

/* Members of g on every ring (approximate while members come and go). */
RINGO_API uint64_t ringo_ws_group_size(const ringo_ws_group *g);

#ifdef __cplusplus
}
#endif
#endif
