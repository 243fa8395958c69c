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
 * Strings: ", \ and control characters are escaped (\n \t \r \b \f, the
 * others as \u00XX); everything else is copied as it is (U+2028 and U+2029
 * too: valid JSON, and ECMAScript accepts them in strings since ES2019).
 * Invalid UTF-8 is replaced by U+FFFD, one per maximal subpart as Unicode
 * §3.9 recommends (RINGO_JSON_UTF8_REPLACE, the default), or fails the
 * writer with -EILSEQ (RINGO_JSON_UTF8_STRICT). Doubles are written in the
 * shortest form that reads back to the same double, independent of the C
 * locale; NaN and infinities (which JSON cannot hold) are written as null.
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

/*
 * Starts a document in req's arena: the text lives until the request ends
 * (nothing to free). req NULL: every later call fails with -EINVAL.
 */
RINGO_API void ringo_json_begin(ringo_json_w *w, ringo_req *req);

/*
 * Starts a document in a malloc()ed buffer, for use outside a request: the
 * caller frees the text ringo_json_finish() hands out with free(), or calls
 * ringo_json_discard() when it does not take it (after an error too).
 */
RINGO_API void ringo_json_begin_malloc(ringo_json_w *w);

/* RINGO_JSON_UTF8_REPLACE (default) or RINGO_JSON_UTF8_STRICT; for strings written after. */
RINGO_API void ringo_json_set_flags(ringo_json_w *w, unsigned flags);

RINGO_API void ringo_json_obj(ringo_json_w *w); /* { */
RINGO_API void ringo_json_arr(ringo_json_w *w); /* [ */
RINGO_API void ringo_json_end(ringo_json_w *w); /* } or ], whichever is open */

/* A member's key (escaped like a string); the member's value is the next call. */
RINGO_API void ringo_json_key(ringo_json_w *w, const char *key);
RINGO_API void ringo_json_keyn(ringo_json_w *w, const char *key, size_t len);

/* s[0..len) as a string (may hold NUL bytes: written as \u0000). */
RINGO_API void ringo_json_str(ringo_json_w *w, const char *s, size_t len);
RINGO_API void ringo_json_cstr(ringo_json_w *w, const char *s); /* NULL: null */
RINGO_API void ringo_json_int(ringo_json_w *w, int64_t v);
RINGO_API void ringo_json_uint(ringo_json_w *w, uint64_t v);
/* Shortest form that reads back as v, laid out like JavaScript's (0.1, 1e+21, -0). */
RINGO_API void ringo_json_double(ringo_json_w *w, double v);
RINGO_API void ringo_json_bool(ringo_json_w *w, bool v);
RINGO_API void ringo_json_null(ringo_json_w *w);
/* Already-encoded JSON text, copied as it is (the caller vouches for it). */
RINGO_API void ringo_json_raw(ringo_json_w *w, const char *json, size_t len);

/*
 * Ends the document: returns 0 and sets *out and *len (either may be NULL)
 * to the text, NUL-terminated (the NUL not counted): arena memory, or a
 * malloc()ed buffer the caller now owns. Or returns the sticky error:
 * -ENOMEM, -EINVAL (misuse: a value where a key is due, a key outside an
 * object, an end with nothing open or a key without its value, a second
 * top-level value, a document left open or empty, ringo_json_begin() with
 * no request), -E2BIG (deeper than RINGO_JSON_MAX_DEPTH), -EILSEQ (invalid
 * UTF-8 under RINGO_JSON_UTF8_STRICT). After an error a malloc() writer
 * still owns its buffer: ringo_json_discard().
 */
RINGO_API int ringo_json_finish(ringo_json_w *w, char **out, size_t *len);

/* Frees a malloc() writer's buffer (when it was not handed out); no-op in arena mode. */
RINGO_API void ringo_json_discard(ringo_json_w *w);

/*
 * ringo_json_finish(), then the response: status, Content-Type
 * application/json and the text as body (no copy). Returns 0 or the
 * writer's error, -EINVAL (status outside 200..999, or a malloc() writer),
 * -ENOMEM or -EALREADY (a streamed response started): then status and body
 * are left as they were.
 */
RINGO_API int ringo_json_respond(ringo_json_w *w, int status);

#ifdef __cplusplus
}
#endif
#endif
