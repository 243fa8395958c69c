/*
 * ringo/error_handler.h - shape ringo's own error answers: FastAPI's
 * exception handlers for C.
 *
 * ringo answers 404, 405, 422, 500 and ringo_fail() statuses itself. An
 * error handler rewrites such an answer (body, headers) for one status, or
 * for every status >= 400 without a handler of its own. Protocol errors
 * that close the connection (400 for bad framing, 408, 413, 414, 431, 505)
 * are not routed here: they happen before there is a request to give it.
 */
#ifndef RINGO_ERROR_HANDLER_H
#define RINGO_ERROR_HANDLER_H

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Sets the body (and headers) of the error answer with ringo/response.h;
 * detail is ringo's text for it (the ringo_fail() detail, or the reason
 * phrase). Runs on the ring: must not block.
 */
typedef void (*ringo_error_handler_fn)(ringo_req *req, int status, const char *detail, void *udata);

/*
 * Installs fn for status (0: every status >= 400 without a handler of its
 * own). Returns 0,
 * -EINVAL (fn NULL, status outside 0..999), -EBUSY after start, -ENOMEM.
 */
RINGO_API int ringo_app_set_error_handler(ringo_app *app, int status, ringo_error_handler_fn fn,
                                          void *udata);

#ifdef __cplusplus
}
#endif
#endif
