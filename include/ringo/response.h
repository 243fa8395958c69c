/*
 * ringo/response.h - how a handler answers.
 *
 * A request starts with a 200 response without body. The handler sets the
 * status, adds headers and sets a body; ringo serializes it (adding Date,
 * Server, Content-Length and Connection) when the handler returns. All data
 * passed in is copied into the request arena unless the call says otherwise.
 */
#ifndef RINGO_RESPONSE_H
#define RINGO_RESPONSE_H

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the final status, 200..999 (1xx are ringo's to send). Returns 0, -EINVAL, or
 * -EALREADY once a streamed response started (ringo/stream.h). */
RINGO_API int ringo_resp_set_status(ringo_req *req, int status);

/*
 * Adds a header. Name must be a token, value must not contain CR, LF or NUL
 * (-EINVAL). Content-Length, Date, Server and Transfer-Encoding are managed
 * by ringo (-EPERM); "Connection: close" closes the connection after this
 * response (other Connection values: -EPERM). Both are copied. Returns 0,
 * -EINVAL, -EPERM, -ENOMEM, or -EALREADY once a streamed response started.
 */
RINGO_API int ringo_resp_add_header(ringo_req *req, const char *name, ringo_str value);

/* Sets the body, copying it. Replaces a previous body. Returns 0 or -ENOMEM. */
RINGO_API int ringo_resp_set_body(ringo_req *req, const void *data, size_t len);

/* Sets the body without copying: data must outlive the request (static data,
 * or memory from ringo_req_alloc()). Returns 0. */
RINGO_API int ringo_resp_set_body_ref(ringo_req *req, const void *data, size_t len);

/* Status, Content-Type (NULL: none) and a copied body in one call.
 * Returns 0, -EINVAL (status) or -ENOMEM. */
RINGO_API int ringo_respond(ringo_req *req, int status, const char *content_type, const void *body,
                            size_t len);

/* The status set so far. */
RINGO_API int ringo_resp_get_status(const ringo_req *req);

/*
 * Fails the request from a dependency, a handler or a middleware before():
 * the response gets status (outside 400..599: 500) and a FastAPI-shaped
 * JSON body {"detail": detail} (detail may be NULL: the status' reason;
 * copied). Headers set before (e.g. WWW-Authenticate) stay. The handler and
 * the dependencies not yet run are skipped; teardowns of those that ran
 * still run; error handlers (ringo/error_handler.h) see the answer. Returns
 * RINGO_EHTTP (ringo/common.h) for the caller to return.
 */
RINGO_API int ringo_fail(ringo_req *req, int status, const char *detail);

#ifdef __cplusplus
}
#endif
#endif
