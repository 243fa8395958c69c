/*
 * http/form.h - application/x-www-form-urlencoded bodies (the WHATWG URL
 * standard's urlencoded parser, with strict percent-escapes).
 *
 * Pairs are separated by '&'; empty pairs are skipped; a pair without '='
 * has an empty value. Keys and values are percent-decoded with '+' as a
 * space by http/url.c's ringo__pct_decode(), in place: the body buffer is
 * rewritten as it is walked, and the decoded strings point into it. Unlike
 * the WHATWG parser, a malformed escape ("%zz", "%4" at the end) is an error,
 * as it is in query strings. Decoded bytes are not checked for UTF-8 and may
 * include NUL. ringo__mp_status() (http/multipart.h) maps the errors to 400
 * and 413.
 */
#ifndef RINGO_HTTP_FORM_H
#define RINGO_HTTP_FORM_H

#include <stddef.h>
#include <stdint.h>

#include "ringo/common.h"

/* A sensible bound for ringo__form_init()'s max_fields. */
#define RINGO__FORM_MAX_FIELDS 1000

typedef struct ringo__form {
    char *p, *end;       /* what is left of the body */
    uint32_t count, max; /* pairs returned so far, and the bound */
} ringo__form;

/*
 * Starts walking body[0..len), which the walk decodes in place (the caller
 * keeps ownership; it must stay valid and untouched while pairs are in use).
 * At most max_fields pairs are returned.
 */
void ringo__form_init(ringo__form *f, char *body, size_t len, uint32_t max_fields);

/*
 * The next pair, decoded: *key and *value point into the body. Returns 1 with
 * a pair, 0 at the end, -EINVAL for a malformed escape in the pair (the rest
 * of the pair is then undefined), or -E2BIG when a pair past max_fields
 * follows. After an error the walk may not go on.
 */
int ringo__form_next(ringo__form *f, ringo_str *key, ringo_str *value);

/*
 * Whether a Content-Type value is application/x-www-form-urlencoded (any
 * case), with or without parameters after a ';' (the WHATWG standard gives
 * them no meaning, so they are not looked at). Returns 1 or 0.
 */
int ringo__form_is_urlencoded(ringo_str content_type);

#endif
