/*
 * http/compress.h - response compression (ringo/compress.h): the options,
 * the decision for one response, and the codecs behind one interface.
 *
 * Which thread calls what: the decision and the buffered compression run
 * on whichever thread owns the request at that moment (the ring, the pool
 * worker that ran a sync handler, or the pool job of a large async body);
 * a stream's compressor is used by the handler's thread and, between its
 * writes, by the ring (SSE pings, the end of the body): http/stream.c says
 * how the two never overlap.
 */
#ifndef RINGO_HTTP_COMPRESS_H
#define RINGO_HTTP_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringo/compress.h"

struct ringo_req;
struct ringo_app;

enum { RINGO__Z_GZIP, RINGO__Z_ZSTD, RINGO__Z_BR, RINGO__Z_N };

/* ringo_compress_opts, checked and resolved (defaults filled, strings copied). */
typedef struct ringo__zopts {
    uint8_t order[RINGO__Z_N]; /* codings built in, in the server's preference */
    unsigned n;
    char **types; /* owned, lower case; NULL: the default list */
    unsigned ntypes;
    size_t min_bytes, pool_min_bytes;
    int level[RINGO__Z_N];
    uint32_t flags;
} ringo__zopts;

/* ringo_compress_opts.pool_min_bytes when 0 (docs/operations.md says how it was measured). */
#define RINGO__Z_DEFAULT_POOL_MIN (16u * 1024)
/*
 * Limits of a stream's compressor (memory per open stream, docs/api.md):
 * zstd and brotli windows of 64 KiB, zstd hash and chain tables of 2^15
 * entries, brotli quality at most 3 (quality 4 needs twice the memory).
 */
#define RINGO__Z_STREAM_WLOG 16
#define RINGO__Z_STREAM_ZSTD_TABLES 15
#define RINGO__Z_STREAM_BR_MAX 3

/* Checks *in and fills *out (NULL in: the defaults). 0, -EINVAL, -ENOTSUP, -ENOMEM. */
int ringo__zopts_parse(ringo__zopts *out, const ringo_compress_opts *in);
void ringo__zopts_free(ringo__zopts *o); /* frees what parse allocated; NULL is a no-op */

/* ringo_route_ex() with RINGO_ROUTE_COMPRESS: the default options when the app has none. */
int ringo__compress_route(struct ringo_app *app, uint32_t route_flags);
void ringo__compress_app_free(struct ringo_app *app); /* ringo_app_free() */

/* The options that apply to r's route, or NULL when its responses are not compressed. */
const ringo__zopts *ringo__compress_of(const struct ringo_req *r);

/*
 * A buffered response, once its handler returned (any thread owning r):
 * compresses it in place (body, Content-Encoding, Vary, ETag) when it
 * qualifies. Failures (out of memory) leave it as it was.
 */
void ringo__compress_resp(struct ringo_req *r);

/* Ring: r's body qualifies and is large enough to be compressed on the pool. */
bool ringo__compress_offload(struct ringo_req *r);

/*
 * One whole body with coding (RINGO__Z_*) at level into out (room: cap, at
 * least ringo__compress_bound()): the compressed length, 0 on failure.
 */
size_t ringo__compress_bound(int coding, size_t n);
size_t ringo__compress_buf(int coding, int level, const void *in, size_t n, char *out, size_t cap);

/* A streaming compressor (one per compressed stream, freed with the request). */
typedef struct ringo__zc ringo__zc;

/*
 * At ringo_stream_start() (the handler's thread): when the stream is to be
 * compressed, adds the headers and stores a new compressor in *out.
 * Returns 1 (compressed), 0 (not) or -ENOMEM.
 */
int ringo__compress_stream(struct ringo_req *r, ringo__zc **out);

/*
 * Compresses n bytes and flushes (end: finishes the coding instead). *out
 * points into the compressor's buffer, valid until its next call. Returns
 * 0 or -ENOMEM (the stream must then be cut: the coding state is lost).
 * Once finished, an end adds nothing and more bytes are -EINVAL.
 */
/* A compressor of coding (RINGO__Z_*, built in for streams) at level: 0, -ENOMEM, -ENOTSUP. */
int ringo__zc_new(ringo__zc **out, int coding, int level);

int ringo__zc_write(ringo__zc *z, const void *in, size_t n, bool end, const char **out,
                    size_t *outn);
void ringo__zc_free(ringo__zc *z);

#endif
