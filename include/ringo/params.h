/*
 * ringo/params.h - typed, validated request parameters.
 *
 * Each getter reads a path, query, header or cookie parameter, converts and
 * checks it. When the value is missing (and no default is given) or invalid,
 * the getter records an error in FastAPI's shape and returns
 * RINGO_EVALIDATION (ringo/common.h); the handler (or dependency) returns
 * that value and the client gets 422 with
 *
 *   {"detail":[{"type":"int_parsing","loc":["query","limit"],
 *               "msg":"Input should be a valid integer, ...","input":"abc"}]}
 *
 * listing every parameter that failed, so clients written for FastAPI read
 * it unchanged. Strings returned point into the request and live as long.
 */
#ifndef RINGO_PARAMS_H
#define RINGO_PARAMS_H

#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ringo_loc {
    RINGO_LOC_PATH,
    RINGO_LOC_QUERY,
    RINGO_LOC_HEADER,
    RINGO_LOC_COOKIE,
    RINGO_LOC_FORM, /* a form field read by ringo_form_read() (ringo/form.h); "body" in errors */
} ringo_loc;

/* Integer in [min, max]. dflt NULL: required. Returns 0, RINGO_EVALIDATION (recorded) or -ENOMEM.
 */
RINGO_API int ringo_param_int(ringo_req *req, ringo_loc loc, const char *name, int64_t min,
                              int64_t max, const int64_t *dflt, int64_t *out);

/* Boolean: true/false, 1/0, yes/no, on/off (any case). Returns 0, RINGO_EVALIDATION or -ENOMEM. */
RINGO_API int ringo_param_bool(ringo_req *req, ringo_loc loc, const char *name, const int *dflt,
                               int *out);

/* String of min_len..max_len bytes (max_len 0: no limit). Returns 0, RINGO_EVALIDATION or -ENOMEM.
 */
RINGO_API int ringo_param_str(ringo_req *req, ringo_loc loc, const char *name, size_t min_len,
                              size_t max_len, const char *dflt, ringo_str *out);

/* Number of validation errors recorded so far for this request. */
RINGO_API unsigned ringo_param_errors(const ringo_req *req);

#ifdef __cplusplus
}
#endif
#endif
