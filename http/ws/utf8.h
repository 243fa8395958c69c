/*
 * http/ws/utf8.h - incremental UTF-8 validation for WebSocket text.
 *
 * RFC 6455 §8.1: text messages are UTF-8 (RFC 3629), and an endpoint that
 * receives invalid UTF-8 fails the connection with 1007. A message may be
 * cut anywhere - between frames and between reads - so the validator keeps
 * the state of a partly seen sequence and checks each byte as it arrives:
 * the first byte that cannot continue a valid sequence is the error, with
 * no need to see the rest. Overlong forms, UTF-16 surrogates (U+D800 to
 * U+DFFF) and code points above U+10FFFF are rejected by narrowing the
 * range the byte after the lead byte may take (RFC 3629 §4, UTF8-3/UTF8-4).
 */
#ifndef RINGO_HTTP_WS_UTF8_H
#define RINGO_HTTP_WS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the validator is inside a sequence. All zero: between sequences. */
typedef struct ringo__ws_utf8 {
    uint8_t need;   /* continuation bytes still expected */
    uint8_t lo, hi; /* range the next continuation byte must fall in */
} ringo__ws_utf8;

/*
 * Checks p[0..n) as the continuation of what *s has seen. Returns false at
 * the first byte that makes the text invalid (*s is then meaningless);
 * true otherwise, with *s ready for the next bytes.
 */
bool ringo__ws_utf8_feed(ringo__ws_utf8 *s, const uint8_t *p, size_t n);

/* Whether p[0..n) is complete, valid UTF-8. */
bool ringo__ws_utf8_valid(const char *p, size_t n);

/*
 * Length of the longest prefix of p[0..n), at most max bytes, that is
 * complete, valid UTF-8: where to cut text so that what is kept stays valid
 * (an invalid byte ends the prefix too).
 */
size_t ringo__ws_utf8_prefix(const char *p, size_t n, size_t max);

/* Inline bodies. */

static inline void ringo__ws_utf8_init(ringo__ws_utf8 *s) { s->need = s->lo = s->hi = 0; }

/* Whether the text seen so far ends between sequences (no sequence cut short). */
static inline bool ringo__ws_utf8_done(const ringo__ws_utf8 *s) { return s->need == 0; }

#endif
