/*
 * ringo/json.h - a JSON writer for response bodies.
 *
 * The writer appends straight into one buffer that becomes the response
 * body by reference (request arena memory), or into a caller's malloc()ed
 * buffer. Commas and colons are placed by the writer; calls are void and
 * errors are sticky (like a FILE *): the first failure (out of memory,
 * nesting too deep, a value where a key is due, unbalanced end) is kept and
 * every later call does nothing, and ringo_json_finish()/ringo_json_respond()
 * return it.
 *
 *   ringo_json_w w;
 *   ringo_json_begin(&w, req);
 *   ringo_json_obj(&w);
 *   ringo_json_key(&w, "id");  ringo_json_int(&w, 7);
 *   ringo_json_key(&w, "tags"); ringo_json_arr(&w);
 *   ringo_json_cstr(&w, "a"); ringo_json_end(&w);
 *   ringo_json_end(&w);
 *   return ringo_json_respond(&w, 200);
 *
 * Strings: ", \ and control characters are escaped (\n, \t, ... and \u00XX);
 * invalid UTF-8 is replaced by U+FFFD (RINGO_JSON_UTF8_REPLACE, the default)
 * or fails the writer with -EILSEQ (RINGO_JSON_UTF8_STRICT). Doubles are
 * written in the shortest form that reads back to the same double; NaN and
 * infinities (which JSON cannot hold) are written as null.
 */
#ifndef RINGO_JSON_H
#define RINGO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RINGO_JSON_MAX_DEPTH 64

/* ringo_json_w.flags */
#define RINGO_JSON_UTF8_REPLACE 0u /* invalid UTF-8 in strings: U+FFFD */
#define RINGO_JSON_UTF8_STRICT 1u  /* invalid UTF-8 in strings: -EILSEQ */

/* The writer's state; on the caller's stack. Fields are private. */
typedef struct ringo_json_w {
    char *buf;
    size_t len, cap;
    ringo_req *req; /* arena owner, or NULL: malloc()/realloc() */
    int err;        /* first error (negative errno), sticky */
    unsigned flags;
    unsigned depth;
    uint64_t in_obj;  /* bit d: level d is an object */
    uint64_t has_val; /* bit d: level d already holds a member/element */
    bool want_value;  /* a key was written: its value is due */
} ringo_json_w;

/* Starts a body in req's arena (freed with the request). */
RINGO_API void ringo_json_begin(ringo_json_w *w, ringo_req *req);

/* Starts a document in a malloc()ed buffer (the caller frees w->buf via
 * ringo_json_finish()'s out, or ringo_json_discard()). */
RINGO_API void ringo_json_begin_malloc(ringo_json_w *w);

RINGO_API void ringo_json_set_flags(ringo_json_w *w, unsigned flags);

RINGO_API void ringo_json_obj(ringo_json_w *w); /* { */
RINGO_API void ringo_json_arr(ringo_json_w *w); /* [ */
RINGO_API void ringo_json_end(ringo_json_w *w); /* } or ], whichever is open */

/* A member's key (escaped like a string). */
RINGO_API void ringo_json_key(ringo_json_w *w, const char *key);
RINGO_API void ringo_json_keyn(ringo_json_w *w, const char *key, size_t len);

RINGO_API void ringo_json_str(ringo_json_w *w, const char *s, size_t len);
RINGO_API void ringo_json_cstr(ringo_json_w *w, const char *s); /* NULL: null */
RINGO_API void ringo_json_int(ringo_json_w *w, int64_t v);
RINGO_API void ringo_json_uint(ringo_json_w *w, uint64_t v);
RINGO_API void ringo_json_double(ringo_json_w *w, double v);
RINGO_API void ringo_json_bool(ringo_json_w *w, bool v);
RINGO_API void ringo_json_null(ringo_json_w *w);
/* Already-encoded JSON text, copied as it is (the caller vouches for it). */
RINGO_API void ringo_json_raw(ringo_json_w *w, const char *json, size_t len);

/*
 * Ends the document: 0 and *out, *len (may be NULL) set to the text (arena
 * memory, or malloc()ed which the caller frees), or the sticky error:
 * -ENOMEM, -EINVAL (misuse: value without key, key outside an object,
 * unbalanced end, nothing written), -E2BIG (deeper than
 * RINGO_JSON_MAX_DEPTH), -EILSEQ (strict UTF-8).
 */
RINGO_API int ringo_json_finish(ringo_json_w *w, char **out, size_t *len);

/* Frees a malloc() writer's buffer after an error or when not finished. */
RINGO_API void ringo_json_discard(ringo_json_w *w);

/*
 * ringo_json_finish(), then the response: status, Content-Type
 * application/json and the text as body (no copy). Returns 0 or the error
 * (the response is then left as it was).
 */
RINGO_API int ringo_json_respond(ringo_json_w *w, int status);

#ifdef __cplusplus
}
#endif
#endif
