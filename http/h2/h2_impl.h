/*
 * http/h2/h2_impl.h - what http/h2/session.c (the connection: frames,
 * streams, limits) and http/h2/stream.c (streamed bodies: the data provider
 * of a response written in parts, its trailers) share.
 */
#ifndef RINGO_HTTP_H2_IMPL_H
#define RINGO_HTTP_H2_IMPL_H

#include <nghttp2/nghttp2.h>

#include "http/http_impl.h"

/* One stream: its request until answered, then its response body. */
typedef struct ringo__h2s {
    struct ringo__h2s *prev, *next;
    struct ringo__h2 *h;
    ringo_req *r; /* NULL once answered or abandoned */
    int32_t id;
    int status;      /* an answer decided while receiving (413, 431), 0: none */
    uint64_t hbytes; /* header list size as RFC 9113 §6.5.2 counts it */
    char *body;      /* the response body's copy; streamed: bytes not yet framed */
    size_t len, off;
    bool started; /* its request was handed to exec */
    /* A streamed response (http/h2/stream.c): body[off, len) waits for DATA frames. */
    bool streaming; /* its HEADERS went out before its body was complete */
    bool deferred;  /* its data provider said NGHTTP2_ERR_DEFERRED: resume on new bytes */
    bool eof;       /* nothing more: END_STREAM (or the trailers) once body is out */
    size_t cap;
    nghttp2_nv *trailers; /* sent as a HEADERS frame after the last DATA */
    size_t ntrailers;
    void *tmem; /* trailers and their bytes, one allocation */
    /* A request body read as it arrives (RINGO_ROUTE_STREAM_BODY, http/body.c). */
    uint64_t recv;     /* DATA bytes handed to the body's pipe */
    uint64_t consumed; /* ... of which the windows reopened (the handler read them) */
    /*
     * Deadlines (ring ms): the body's wait started (the head; for a body read
     * as it arrives, its last DATA or the reopening of its window); the
     * response stalled; the event stream last wrote (its ping is due after
     * sse_ping_ms of silence).
     */
    uint64_t body_at, stall_at, ping_at;
    uint32_t body_ms;  /* the body's timeout: the route's for a streamed one, else the app's */
    bool headers_sent; /* the response's HEADERS left */
    bool sent_all;     /* ... and its END_STREAM: only the client's side is open */
    bool expired;      /* reset for a deadline: waits for nothing more */
    bool got_end;      /* the client's END_STREAM arrived: its body is complete */
    bool body_late;    /* a streamed body's wait passed: its reads fail (408) */
    bool body_shut;    /* ... paused: the handler left the window shut (streamed_body_deadline) */
    bool sse;          /* an event stream (ringo_sse_start): pinged while silent */
} ringo__h2s;

typedef struct ringo__h2 {
    nghttp2_session *ng;
    ringo__sess *s;
    ringo__h2s *streams;  /* open streams */
    uint32_t running;     /* handlers suspended (coroutine, pool) */
    uint64_t resets;      /* RST_STREAMs received */
    uint64_t completed;   /* streams closed without error */
    uint64_t hblock;      /* bytes of the header block being received */
    uint32_t hframes;     /* its frames */
    bool dead;            /* the connection closed: callbacks do nothing */
    uint32_t inline_runs; /* handlers running inside an nghttp2 callback: no flush */
    bool in_headers;      /* a header block began and is not complete */
    bool timed_out;       /* GOAWAY for a deadline: closes once it is sent */
    uint64_t blocks;      /* header blocks begun */
    uint64_t accepted;    /* streams taken as requests (max_requests_per_conn) */
    int32_t goaway_id;    /* our GOAWAY's last stream id, 0: none submitted */
    uint64_t opened_at, hblock_at, idle_at; /* ring ms; idle_at 0: not idle */
} ringo__h2;

/* session.c */
/*
 * Submits r's response head on st's stream; length < 0: no content-length.
 * prd NULL: the HEADERS frame ends the stream. nghttp2's result (0 or < 0).
 */
int ringo__h2_submit_head(ringo__h2 *h, ringo__h2s *st, ringo_req *r, int64_t length,
                          const nghttp2_data_provider *prd);
/* nghttp2's output to the connection, unless called from inside an nghttp2 callback. */
void ringo__h2_kick(ringo__h2 *h);
/* A stream's deadline moved earlier: the connection's timer is armed again. */
void ringo__h2_rearm(ringo__h2 *h);

/* stream.c */
/* Graceful drain: streamed responses end cleanly now (SSE would hold the drain to its timeout). */
void ringo__h2_streams_drain(ringo__h2 *h);
/* The connection's receive window, wider than a stream's: 0 or -ENOMEM. */
int ringo__h2_conn_window(ringo__h2 *h);
/* Inside on_data_chunk: DATA for a body read as it arrives; its window reopens as it is read. */
void ringo__h2_body_data(ringo__h2s *st, const uint8_t *data, size_t len);
/* The stream's body bytes that will not be read: the windows reopen (closing: the stream's gone).
 */
void ringo__h2_body_rest(ringo__h2s *st, bool closing);
/* The client cannot send st's body: the unread bytes fill its window, or the connection's. */
bool ringo__h2_body_shut(const ringo__h2s *st);

#endif
