/*
 * http/multipart.h - a streaming multipart/form-data parser (RFC 7578 on
 * top of RFC 2046 section 5.1), with no I/O and no knowledge of requests.
 *
 * The caller pushes the request body in buffers of any size, cut anywhere
 * (one byte at a time works), and the parser calls back with each part's
 * parsed headers, its data in spans and its end. Data spans point into the
 * caller's buffer or into the parser, never into a copy: a part of any size
 * costs nothing here. The parser state is one struct plus one buffer of
 * max_header_bytes for the part being read; the work is O(n) in the body
 * (see multipart.c for the state machine and why no byte is examined twice).
 *
 * Limits on the size of a field or a file are the caller's: it counts the
 * bytes the data callback sees and stops the parser by returning -EFBIG,
 * which ringo__mp_status() maps to 413 like the parser's own limits.
 */
#ifndef RINGO_HTTP_MULTIPART_H
#define RINGO_HTTP_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "ringo/common.h"

/* RFC 2046 section 5.1.1: a boundary is 1 to 70 characters. */
#define RINGO__MP_BOUNDARY_MAX 70

typedef struct ringo__mp_limits {
    /* Parts in the body; one more is -EOVERFLOW. Default 1000. */
    uint32_t max_parts;
    /* Bytes per part from the end of the boundary to the blank line after the part's
     * headers (transport padding and every CRLF included); more is -EMSGSIZE. This is
     * also the size of the buffer ringo__mp_init() allocates. Default 4096. */
    uint32_t max_header_bytes;
    /* Header lines per part; more is -E2BIG. Default 16. */
    uint32_t max_headers;
} ringo__mp_limits;

/*
 * A part's headers, as the part_begin callback sees them. The strings point
 * into the parser's header buffer and are valid only during that callback:
 * copy what must live longer.
 */
typedef struct ringo__mp_part {
    uint32_t index; /* 0 for the first part */
    /* Content-Disposition's name parameter, unquoted (may be empty). Clients
     * percent-encode '"', CR and LF in it (HTML's form submission algorithm):
     * that encoding is passed through, not decoded. */
    ringo_str name;
    /* The filename parameter, unquoted and not decoded either; ptr is NULL when
     * the part has none. An empty filename (ptr set, len 0) is what a browser
     * sends for a file input left empty. filename* is ignored: RFC 7578
     * section 4.2 says senders must not use it. */
    ringo_str filename;
    /* The part's Content-Type value, or "text/plain" when it has none
     * (RFC 7578 section 4.4). Not parsed further. */
    ringo_str content_type;
} ringo__mp_part;

/*
 * Callbacks, each optional (NULL). Each returns 0 to go on; anything else
 * stops the parser, and ringo__mp_feed() returns it from then on (a
 * positive value becomes -ECANCELED). udata is ringo__mp_init()'s.
 */
typedef struct ringo__mp_callbacks {
    /* A part starts; its headers are complete and valid. */
    int (*part_begin)(void *udata, const ringo__mp_part *part);
    /* The next n > 0 data bytes of the current part, in order; p is valid only
     * during the call. A part's data may come in any number of calls, cut at
     * places that depend on how the body was fed. */
    int (*part_data)(void *udata, const char *p, size_t n);
    /* The current part ended: the delimiter after it was read and is valid. */
    int (*part_end)(void *udata);
} ringo__mp_callbacks;

typedef struct ringo__mp {
    char pat[4 + RINGO__MP_BOUNDARY_MAX]; /* "\r\n--" boundary: the delimiter */
    uint8_t plen;                         /* bytes in pat */
    uint8_t m;                            /* bytes of pat matched so far */
    uint8_t state;
    uint8_t in_part; /* part_begin called, part_end not yet */
    int err;         /* sticky: the error that stopped the parser */
    uint32_t nparts;
    uint32_t nlines;   /* header lines of the current part */
    uint32_t hbytes;   /* bytes counted against max_header_bytes */
    uint32_t hlen;     /* bytes in hbuf: header lines, each ended by '\n' */
    uint32_t line_len; /* bytes of the header line being read */
    char *hbuf;        /* max_header_bytes */
    ringo__mp_limits lim;
    ringo__mp_callbacks cb;
    void *udata;
} ringo__mp;

/* Fills *lim with the defaults above. */
void ringo__mp_limits_init(ringo__mp_limits *lim);

/*
 * Finds the boundary in a Content-Type value: "multipart/form-data" (any
 * case) with a boundary parameter (name in any case, once), a token or a
 * quoted-string, which must be 1..70 characters of RFC 2046's bchars and not
 * end in a space. Other parameters must be well-formed and are ignored;
 * whitespace around ';' is allowed, around '=' it is not (RFC 9110 section
 * 5.6.6). *boundary points into content_type: for a quoted-string it is the
 * text between the quotes and may still hold backslash escapes, which
 * ringo__mp_init() removes (a backslash is never a boundary character, so
 * this is unambiguous). Returns 0, or -EINVAL when the media type is not
 * multipart/form-data or the boundary is missing, repeated or invalid.
 */
int ringo__mp_boundary(ringo_str content_type, ringo_str *boundary);

/*
 * Starts a parser for a body delimited by boundary (as ringo__mp_boundary()
 * found it, escapes included; it is copied). lim NULL means the defaults;
 * lim and cb are copied. Allocates the header buffer: release it with
 * ringo__mp_free(). Returns 0, -EINVAL for an invalid boundary or -ENOMEM;
 * on failure nothing needs freeing.
 */
int ringo__mp_init(ringo__mp *p, ringo_str boundary, const ringo__mp_limits *lim,
                   const ringo__mp_callbacks *cb, void *udata);

/*
 * Parses the next len bytes of the body, calling back as parts begin, carry
 * data and end. Every byte is taken. The preamble before the first boundary
 * and everything after the close delimiter "--boundary--" (the epilogue) are
 * ignored (RFC 2046 section 5.1.1).
 * Returns 0 when more body is expected, 1 once the close delimiter has been
 * read, or an error, which stops the parser (every later call returns it):
 *   -EBADMSG    malformed: a delimiter not followed by "--" or by transport
 *               padding and CRLF; a bare LF or CR where a CRLF belongs (LF-only
 *               bodies are rejected); an obs-folded, nameless or malformed
 *               header line; a missing, repeated or non-form-data
 *               Content-Disposition, or one without a name; a repeated
 *               Content-Type; a Content-Transfer-Encoding other than 7bit,
 *               8bit or binary
 *   -EMSGSIZE   a part's header section over max_header_bytes
 *   -E2BIG      a part with more than max_headers header lines
 *   -EOVERFLOW  more than max_parts parts
 *   or what a callback returned.
 */
int ringo__mp_feed(ringo__mp *p, const char *data, size_t len);

/*
 * The body ended. Returns 0 when the close delimiter was read, the error that
 * stopped the parser if one did, else -EBADMSG (the body was cut short).
 */
int ringo__mp_finish(ringo__mp *p);

/* Frees the header buffer. p may be all zero bytes or already freed. */
void ringo__mp_free(ringo__mp *p);

/*
 * The HTTP status for an error from this module or http/form.h:
 * 400 for -EBADMSG and -EINVAL (malformed); 413 (Content Too Large) for
 * -EMSGSIZE, -E2BIG, -EOVERFLOW and the caller's -EFBIG: a part's headers
 * are content, not request header fields, so 431 would misname them;
 * 503 for -ENOMEM; 500 for anything else below 0; 200 for err >= 0.
 */
int ringo__mp_status(int err);

#endif
