/*
 * http/encoding.h - content-coding negotiation (RFC 9110 section 12.5.3):
 * which of the codings a server can send a client's Accept-Encoding
 * prefers. Shared by precompressed static files and response compression.
 */
#ifndef RINGO_HTTP_ENCODING_H
#define RINGO_HTTP_ENCODING_H

#include <stdbool.h>

#include "ringo/common.h"

/* Largest offered list ringo__accept_encoding() takes. */
#define RINGO__ENC_MAX 8

/*
 * Picks the coding to send from offered[0..n) (names such as "br", "zstd",
 * "gzip"; n <= RINGO__ENC_MAX) given the request's Accept-Encoding value
 * (present false: the request had none). The highest q-value wins; a tie
 * goes to the earlier offered coding, the server's preference; a coding the
 * client did not list gets the q of "*" if there is one, else 0. "x-gzip"
 * counts as "gzip". q=0 means "not acceptable".
 *
 * Returns the index of the chosen coding; -1 for identity (no header, an
 * empty one, or nothing offered is acceptable but identity is, or identity
 * has a higher q); -ENOENT when nothing is acceptable, identity included
 * ("identity;q=0" or "*;q=0" without identity): the caller may answer 406
 * or send identity anyway (RFC 9110 allows both). Malformed elements (a bad
 * q-value, a non-token coding) are ignored, as if absent.
 */
int ringo__accept_encoding(ringo_str value, bool present, const char *const *offered, unsigned n);

#endif
