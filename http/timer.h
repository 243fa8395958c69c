/*
 * http/timer.h - the connection deadlines HTTP arms through ringo__conn_timer().
 *
 * Core stores the kind as an opaque int and hands it back to on_timer(); 0
 * means "disarmed" to core. A connection has one deadline at a time.
 */
#ifndef RINGO_HTTP_TIMER_H
#define RINGO_HTTP_TIMER_H

enum ringo__http_timer {
    RINGO__HTTP_TIMER_NONE = 0, /* core's "disarmed" */
    RINGO__HTTP_TIMER_HEADER,   /* header_timeout_ms, from the head's first byte */
    RINGO__HTTP_TIMER_BODY,     /* body_timeout_ms, for the whole body */
    RINGO__HTTP_TIMER_IDLE,     /* keepalive_timeout_ms, once nothing is running or unsent */
    RINGO__HTTP_TIMER_PING,     /* sse_ping_ms: a silent event stream gets a comment */
    RINGO__HTTP_TIMER_WS,       /* a WebSocket's ping, idle or close deadline (http/ws/conn.c) */
    RINGO__HTTP_TIMER_SEND,     /* send_timeout_ms: HTTP/2 output held by a shut window */
};

#endif
