/*
 * http/cond.h - conditional requests (RFC 9110 section 13): entity-tag
 * comparison, HTTP-dates, and the order in which the preconditions are
 * evaluated (section 13.2.2). Nothing here allocates.
 */
#ifndef RINGO_HTTP_COND_H
#define RINGO_HTTP_COND_H

#include <stdbool.h>
#include <stdint.h>

#include "ringo/common.h"

/* IMF-fixdate length ("Sun, 06 Nov 1994 08:49:37 GMT"). */
#define RINGO__HTTP_DATE_LEN 29

/* Writes t (seconds since the epoch, UTC) as an IMF-fixdate plus a NUL into out. */
void ringo__http_date_format(int64_t t, char out[RINGO__HTTP_DATE_LEN + 1]);

/*
 * Parses an HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate, and the
 * obsolete RFC 850 and asctime forms recipients must accept. Returns 0 and
 * sets *t, or -EINVAL.
 */
int ringo__http_date_parse(ringo_str s, int64_t *t);

/*
 * Whether the entity-tag list of an If-Match or If-None-Match value ("*" or
 * 1#entity-tag) matches etag (an entity-tag as sent: "\"x\"" or
 * "W/\"x\""). weak: weak comparison (If-None-Match), else strong (If-Match,
 * where a weak tag never matches). Returns 1 (match), 0 (no match), or
 * -EINVAL for a malformed list.
 */
int ringo__etag_match(ringo_str list, ringo_str etag, bool weak);

/* The preconditions of a request, and the selected representation's validators. */
typedef struct ringo__cond {
    ringo_str if_match, if_none_match, if_modified_since, if_unmodified_since;
    bool has_if_match, has_if_none_match, has_ims, has_ius;
    bool get_or_head;
    ringo_str etag; /* strong entity-tag of the representation, quoted */
    int64_t mtime;  /* Last-Modified, seconds */
} ringo__cond;

/*
 * Evaluates the preconditions in RFC 9110 section 13.2.2's order: If-Match
 * (412 when false; a malformed list is false), else If-Unmodified-Since
 * (412; an invalid date is ignored); then If-None-Match (false: 304 for GET
 * and HEAD, 412 otherwise; a malformed list is ignored), else
 * If-Modified-Since for GET and HEAD (304; an invalid date is ignored).
 * Returns 0 (go on: evaluate Range next), 304 or 412.
 */
int ringo__cond_eval(const ringo__cond *c);

/*
 * If-Range (RFC 9110 section 13.1.5): 1 when the Range header applies
 * (value is an entity-tag strongly equal to etag, or an HTTP-date exactly
 * equal to mtime), else 0: the whole representation is sent.
 */
int ringo__if_range(ringo_str value, ringo_str etag, int64_t mtime);

#endif
