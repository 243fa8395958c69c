/*
 * ringo/stream.h - responses sent in parts, and Server-Sent Events.
 *
 * A handler of either mode may stream its response: ringo_stream_start()
 * sends the status and the headers set so far, ringo_stream_write() sends
 * body bytes as they are produced, ringo_stream_end() (or returning from the
 * handler) ends the body. Framing follows what the handler declared:
 * - a length (>= 0): Content-Length, and exactly that many bytes must be
 *   written; fewer at the end, or a write past it, aborts the connection
 *   (the client sees a cut response, never a mis-framed one) and is logged;
 * - RINGO_STREAM_CHUNKED: Transfer-Encoding: chunked for HTTP/1.1 (with
 *   optional trailers), a body delimited by closing the connection for
 *   HTTP/1.0 clients.
 * HEAD requests get the head only: writes are accepted and discarded.
 *
 * Backpressure: at most ringo_config.stream_window bytes (64 KiB by
 * default) are written but not yet handed to the kernel; a write past that
 * waits until sends make room. An async handler's write suspends its
 * coroutine (the ring serves others meanwhile); a sync handler's write
 * blocks its pool worker, and its bytes travel to the ring through the
 * ring's MSG_RING hand-off (no socket work on a worker). A client that stops
 * reading costs about twice the window in memory and is dropped after
 * send_timeout_ms without progress.
 *
 * Cancellation: once the client is gone (hang-up, send failure), the route
 * deadline passed, or shutdown ends the stream, every stream call returns
 * -ECANCELED at once (a waiting write is woken), ringo_req_client_gone()
 * says 1, and the handler should return; teardowns run as usual. At
 * shutdown the server ends open streams itself (chunked: a clean last
 * chunk), so a drain never waits for a stream that would run forever.
 *
 * After ringo_stream_start() the status and headers are sent: setting them
 * again fails with -EALREADY, a handler error can no longer become a 500
 * (the connection is aborted instead), and middleware after() hooks run but
 * cannot change what was sent. Requests pipelined behind a streamed
 * response are answered after it, in order.
 *
 * Calls are valid from the request's handler (or a dependency or code it
 * calls) while it runs: on its coroutine (RINGO_ASYNC) or its pool worker
 * (RINGO_SYNC). Anywhere else they return -EPERM.
 */
#ifndef RINGO_STREAM_H
#define RINGO_STREAM_H

#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ringo_stream_start()'s length when the body's length is not known. */
#define RINGO_STREAM_CHUNKED (-1)

/*
 * Sends the status line and the headers set so far. length: the exact body
 * length, or RINGO_STREAM_CHUNKED. Returns 0; -EALREADY when already
 * started; -EINVAL for a length below -1 or a status that has no body
 * (1xx, 204, 304); -ECANCELED; -EPERM (see above); -ENOMEM.
 */
RINGO_API int ringo_stream_start(ringo_req *req, int64_t length);

/*
 * Sends len bytes of body (copied before it returns; len 0 does nothing),
 * waiting while the window is full. Returns 0; -ECANCELED; -EPIPE when it
 * would pass the declared length (nothing of it is sent and the connection
 * is aborted); -EPERM when not started or already ended; -ENOMEM.
 */
RINGO_API int ringo_stream_write(ringo_req *req, const void *data, size_t len);

/*
 * Adds a trailer field, sent after the last chunk (chunked HTTP/1.1
 * streams only; elsewhere it is dropped, as RFC 9110 allows). Same rules
 * as ringo_resp_add_header(). Returns 0, -EINVAL, -EPERM, -ENOMEM.
 */
RINGO_API int ringo_stream_trailer(ringo_req *req, const char *name, ringo_str value);

/*
 * Ends the body (the last chunk and trailers, if chunked). Returning from
 * the handler ends a started stream too. Returns 0; -ECANCELED; -EPIPE when
 * fewer bytes than the declared length were written (the connection is
 * aborted); -EPERM when not started or already ended.
 */
RINGO_API int ringo_stream_end(ringo_req *req);

/* ---- Server-Sent Events (text/event-stream) ---- */

/* One event. NULL fields are left out; data may hold several lines (split
 * on CRLF, CR or LF, each sent as its own data: line). */
typedef struct ringo_sse_event {
    const char *event; /* event type; no CR or LF */
    const char *id;    /* event id; no CR, LF or NUL */
    const char *data;  /* payload, data_len bytes */
    size_t data_len;
    uint32_t retry_ms;    /* reconnection time for the client; 0: none */
    uint64_t reserved[2]; /* zero: room for later fields (designated initializers) */
} ringo_sse_event;

/*
 * Starts an event stream: status 200 unless the handler set another,
 * Content-Type: text/event-stream, Cache-Control: no-cache and
 * X-Accel-Buffering: no (proxies must not buffer it), chunked. While the
 * stream is silent for ringo_config.sse_ping_ms, the server sends a comment
 * line (": ping") between events as a keep-alive. Returns as
 * ringo_stream_start().
 */
RINGO_API int ringo_sse_start(ringo_req *req);

/* Sends one event as one write. Returns as ringo_stream_write(), or -EINVAL
 * (a field with a line break, nonzero reserved) before anything is sent. */
RINGO_API int ringo_sse_send(ringo_req *req, const ringo_sse_event *ev);

/* Sends a comment line (": text"), ignored by clients. -EINVAL for a line break. */
RINGO_API int ringo_sse_comment(ringo_req *req, const char *text);

/* The Last-Event-ID request header of a reconnecting client. Returns 0 and
 * sets *out, or -ENOENT. */
RINGO_API int ringo_sse_last_event_id(const ringo_req *req, ringo_str *out);

#ifdef __cplusplus
}
#endif
#endif
