/*
 * ringo/compress.h - response compression (gzip, zstd, brotli).
 *
 * Opt-in: ringo_app_compress() turns it on for every route of an app (a
 * route may opt out with RINGO_ROUTE_NO_COMPRESS), and a route registered
 * with RINGO_ROUTE_COMPRESS is compressed even when the app did not turn it
 * on (with the app's options if it set some, else the defaults).
 *
 * A handler's response is compressed when all of these hold: the request
 * is not HEAD; the status is 2xx other than 204 and 206, or 3xx other than
 * 304, or 4xx/5xx set by the handler; the response has no Content-Encoding
 * field (a handler that sets one, even "identity", is never re-encoded);
 * its Content-Type is in the list of compressible types; a buffered body is
 * at least min_bytes long (a streamed one always qualifies); and the
 * client's Accept-Encoding prefers one of the codings built in and listed
 * in the options over identity (q-values, RFC 9110 section 12.5.3; a tie
 * goes to the server's order). Such a response also gets
 * "Vary: Accept-Encoding", whether it was compressed or not; a strong
 * ETag becomes weak (W/"..."), since the bytes differ from the identity
 * representation's. Content-Length is the compressed length.
 *
 * A streamed response (ringo/stream.h, SSE) is compressed write by write,
 * each write flushed so the client can decode it at once: events are not
 * held back. A stream started with a length becomes chunked when
 * compressed (the compressed length is not known); the handler must still
 * write exactly the length it declared.
 *
 * Where the CPU work runs: a sync handler's body is compressed on the pool
 * worker that ran it; an async handler's body on the ring when it is
 * smaller than pool_min_bytes, else in a pool job, the answer going back to
 * the ring as a sync hop's does (ringo_stats.pool_hops counts it).
 * Middleware after() hooks run after compression: they see the compressed
 * body and its Content-Encoding. Responses of middleware, error answers of
 * ringo itself and ringo_resp_file() bodies are not compressed.
 */
#ifndef RINGO_COMPRESS_H
#define RINGO_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Compression options. Zeroed means the defaults given with each field; the
 * reserved words must be zero (see "ABI" in ringo/app.h).
 */
typedef struct ringo_compress_opts {
    const char *codings;      /* server preference, comma-separated names among "zstd",
                                 "br", "gzip"; those not built in are skipped;
                                 NULL: "zstd,br,gzip" */
    const char *const *types; /* compressible media types, NULL-terminated: "type/subtype",
                                 or "type/" and an asterisk for a whole type
                                 (case-insensitive); NULL: the default list (docs/api.md) */
    size_t min_bytes;         /* smaller buffered bodies are sent as they are; 0: 1024 */
    size_t pool_min_bytes;    /* an async handler's body at least this long is compressed
                                 on the pool; 0: the default (docs/operations.md);
                                 SIZE_MAX: never */
    int gzip_level;           /* 1..9; 0: 1 (nginx's gzip_comp_level default) */
    int zstd_level;           /* 1..19; 0: 3 */
    int brotli_level;         /* 1..11; 0: 4 */
    uint32_t flags;           /* RINGO_COMPRESS_* */
    uint64_t reserved[4];     /* zero: room for later options */
} ringo_compress_opts;

/*
 * ringo_compress_opts.flags: a client that accepts no coding offered and
 * refuses identity ("identity;q=0", or "*;q=0" without identity) gets 406
 * Not Acceptable instead of the identity body (RFC 9110 allows either; the
 * default sends identity). Streamed responses are always sent as identity
 * then.
 */
#define RINGO_COMPRESS_406 1u

/* ringo_compress_codings() bits: the codings this build of ringo has. */
#define RINGO_CODING_GZIP 1u
#define RINGO_CODING_ZSTD 2u
#define RINGO_CODING_BR 4u

/*
 * Turns compression on for every route of app (but those registered with
 * RINGO_ROUTE_NO_COMPRESS) with a copy of *opts (NULL: the defaults); a
 * second call replaces the options. Returns 0; -EINVAL (app NULL, an
 * unknown or repeated coding name, a level out of its range, a malformed
 * media type, nonzero reserved words or unknown flags); -ENOTSUP (none of
 * the codings listed is built in: see ringo_compress_codings()); -EBUSY
 * after ringo_app_start(); -ENOMEM. A call that fails changes nothing.
 */
RINGO_API int ringo_app_compress(ringo_app *app, const ringo_compress_opts *opts);

/* The codings built in: a mask of RINGO_CODING_* (0 when none is). */
RINGO_API unsigned ringo_compress_codings(void);

/*
 * The codings built in for streamed responses: the same, but gzip needs
 * zlib there (libdeflate, when it is the only gzip library, compresses
 * whole bodies only).
 */
RINGO_API unsigned ringo_compress_stream_codings(void);

#ifdef __cplusplus
}
#endif
#endif
