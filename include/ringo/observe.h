/*
 * ringo/observe.h - what an operator sees of a running app: Prometheus
 * metrics, the access log, request IDs and trace context.
 *
 * Everything here is off until asked for, and costs nothing while off.
 * Metrics are counted per ring without locks (each ring writes only its own
 * counters) and summed when /metrics is scraped; access log lines are
 * written by each ring into its own bounded buffer and drained by one
 * writer thread, so a slow disk never blocks a ring (lines that do not fit
 * are dropped and counted). docs/operations.md lists every metric and the
 * log formats.
 */
#ifndef RINGO_OBSERVE_H
#define RINGO_OBSERVE_H

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Serves the Prometheus text exposition (version 0.0.4) at GET path (copied;
 * RINGO_ASYNC: it only reads counters). Counting starts with the app. Call
 * once, before ringo_app_start(). Returns 0, -EINVAL (path NULL or not a
 * valid pattern), -EEXIST (called before, or GET path is taken), -EBUSY
 * (after start), -ENOMEM.
 */
RINGO_API int ringo_app_metrics(ringo_app *app, const char *path);

/* Access log line formats (ringo_app_access_log). */
typedef enum ringo_log_format {
    RINGO_LOG_COMBINED, /* Apache/nginx "combined" */
    RINGO_LOG_JSON,     /* one JSON object a line */
} ringo_log_format;

/*
 * Writes one line per answered request to path (copied; appended to,
 * created 0644), or to standard output when path is "-". The file is
 * opened at ringo_app_start() (which then fails with the open's -errno)
 * and reopened by the reload hooks (SIGHUP; ringo/lifespan.h) for log
 * rotation. In RINGO_LOG_JSON every request also gets an ID (as with
 * ringo_app_request_ids()). Call once, before ringo_app_start(). Returns 0,
 * -EINVAL (path NULL or empty, unknown format), -EEXIST (called before),
 * -EBUSY (after start), -ENOMEM.
 */
RINGO_API int ringo_app_access_log(ringo_app *app, const char *path, ringo_log_format format);

/*
 * Gives every request an ID: the client's X-Request-ID when it is valid (1
 * to RINGO_REQUEST_ID_MAX bytes of letters, digits and "-._:+=/@"), else
 * one generated (a random per-process prefix, the ring and a counter:
 * unique within the process). The ID is echoed in the response's
 * X-Request-ID field and read by ringo_req_id(). Idempotent. Returns 0,
 * -EINVAL (app NULL), -EBUSY (after start), -ENOMEM.
 */
RINGO_API int ringo_app_request_ids(ringo_app *app);

/* Longest X-Request-ID taken from a client. */
#define RINGO_REQUEST_ID_MAX 128

/*
 * The request's ID (valid while the request lives; any thread), or an empty
 * string when the app gives none (ringo_app_request_ids() not called, and
 * the access log is not JSON).
 */
RINGO_API ringo_str ringo_req_id(const ringo_req *req);

/*
 * The request's W3C traceparent field (https://www.w3.org/TR/trace-context/)
 * when it is well formed: version 2 hex digits (not "ff"), trace-id 32 lower
 * hex digits (not all zero), parent-id 16 (not all zero), flags 2; a version
 * above 00 may carry more after a '-'. *out points into the request (valid
 * while it lives). Returns 0, -ENOENT (no traceparent), -EINVAL (malformed:
 * the trace starts anew, as the specification says). ringo_req_header()
 * reads it unchecked, and tracestate.
 */
RINGO_API int ringo_req_traceparent(const ringo_req *req, ringo_str *out);

#ifdef __cplusplus
}
#endif
#endif
