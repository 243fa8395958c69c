/*
 * ringo/request.h - what a handler can read from its request.
 *
 * Every ringo_str returned here points into the request's arena and stays
 * valid until the request ends (its response has been handed to the
 * connection). A ringo_req is only valid inside its handler.
 */
#ifndef RINGO_REQUEST_H
#define RINGO_REQUEST_H

#include <sys/socket.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Method token as received ("GET"). */
RINGO_API ringo_str ringo_req_method(const ringo_req *req);

/* Request target as received: origin-form, absolute-form or "*". */
RINGO_API ringo_str ringo_req_target(const ringo_req *req);

/* Path part of the target, still percent-encoded ("/" for absolute-form
 * without a path, "*" for OPTIONS *). */
RINGO_API ringo_str ringo_req_path(const ringo_req *req);

/* Query string without '?', possibly empty. */
RINGO_API ringo_str ringo_req_query_string(const ringo_req *req);

/* HTTP minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
RINGO_API int ringo_req_http_minor(const ringo_req *req);

/*
 * Path parameter {name} of the matched route, percent-decoded (a "%2F" in the
 * segment stays inside it). Returns 0 and sets *out, or -ENOENT.
 */
RINGO_API int ringo_req_path_param(const ringo_req *req, const char *name, ringo_str *out);

/*
 * First query parameter called name, percent-decoded with '+' as space.
 * The value is NUL-terminated (in the arena). Returns 0 and sets *out (empty
 * for "?flag"), -ENOENT when absent, -EINVAL when its encoding (or that of
 * a key before it) is malformed, -ENOMEM.
 */
RINGO_API int ringo_req_query_param(ringo_req *req, const char *name, ringo_str *out);

/* First header called name (case-insensitive). Returns 0 and sets *out, or -ENOENT. */
RINGO_API int ringo_req_header(const ringo_req *req, const char *name, ringo_str *out);

/* Number of header fields, and the i-th one (0 <= i < count, else -ERANGE). */
RINGO_API unsigned ringo_req_header_count(const ringo_req *req);
RINGO_API int ringo_req_header_at(const ringo_req *req, unsigned i, ringo_str *name,
                                  ringo_str *value);

/* The whole request body (de-chunked), empty when there is none. */
RINGO_API ringo_str ringo_req_body(const ringo_req *req);

/*
 * Client address: the socket's peer; on a PROXY protocol listener the
 * address its header names; and when ringo_config.forwarded is set and the
 * peer is one of trusted_proxies, the right-most address of the forwarding
 * header that is not a trusted proxy (port 0 when the header gave none).
 * ringo_req_peer() copies it into *out and returns its length, or
 * -ENOTCONN. ringo_req_peer_string() writes "ip:port" ("[ip]:port" for
 * IPv6), NUL-terminated, and returns its length, -ENOTCONN or -ENOSPC.
 * Both may be called from any context of the request (ring, pool).
 */
RINGO_API int ringo_req_peer(const ringo_req *req, struct sockaddr_storage *out);
RINGO_API int ringo_req_peer_string(const ringo_req *req, char *buf, size_t len);

/*
 * The scheme the client used: "https" when a trusted proxy says so
 * (X-Forwarded-Proto, or Forwarded proto=, as ringo_config.forwarded
 * selects; or a PROXY v2 header's SSL TLV), else "http". A static string.
 */
RINGO_API const char *ringo_req_scheme(const ringo_req *req);

/* Index of the ring thread serving this request's connection (0-based). */
RINGO_API unsigned ringo_req_ring(const ringo_req *req);

/* Pattern of the matched route ("/users/{id}"), for logs. */
RINGO_API const char *ringo_req_route(const ringo_req *req);

/*
 * 1 once nobody waits for this request's answer any more: the client hung
 * up, or the route deadline answered 504. A long RINGO_SYNC handler may poll
 * it and give up early (its response is then discarded). Thread-safe.
 */
RINGO_API int ringo_req_client_gone(const ringo_req *req);

/*
 * 1 once a dependency or the handler of this request failed (returned a
 * negative value, ringo_fail(), a 422) or ringo answered in its place (a
 * bad request, a route deadline's 504), else 0. For teardowns: roll back
 * what a failed request did (ringo/pg.h's transaction dependency does).
 */
RINGO_API int ringo_req_failed(const ringo_req *req);

/* Memory from the request arena, 16-byte aligned, freed with the request.
 * NULL when out of memory. */
RINGO_API void *ringo_req_alloc(ringo_req *req, size_t size);

/*
 * A per-request slot for application state (FastAPI's request.state),
 * shared by middleware, dependencies, the handler and background tasks of
 * this request; NULL to start with. What it points to is the application's
 * (usually memory from ringo_req_alloc()). Returns the slot's address, or
 * NULL when out of memory.
 */
RINGO_API void **ringo_req_state(ringo_req *req);

#ifdef __cplusplus
}
#endif
#endif
