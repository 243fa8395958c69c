/*
 * http/chunked.h - ringo's own decoder for chunked request bodies.
 *
 * llhttp 8.1 in strict mode rejects valid chunk extensions (several with
 * values, quoted-pairs), so the glue tells llhttp to skip a chunked body and
 * feeds the bytes after the head here instead. The decoder implements
 * RFC 9112 §7.1 exactly: hex chunk-size with an overflow check, chunk-ext
 * with token or quoted-string values, strict CRLF everywhere, the trailer
 * section validated like a header section and then discarded (RFC 9110
 * §6.5.1: a trailer field must not be merged into the header section unless
 * its definition allows it; ringo has no trailer API, so none is kept).
 *
 * The decoder keeps no pointer into the input: bytes may arrive one at a
 * time, and any split of a body decodes to the same result.
 */
#ifndef RINGO_HTTP_CHUNKED_H
#define RINGO_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Receives chunk data in order; returns 0 or -status (e.g. -503 when out of memory). */
typedef int (*ringo__chunked_sink)(void *ud, const char *p, size_t n);

typedef struct ringo__chunked {
    uint64_t size;      /* chunk-size being read, then data bytes left in the chunk */
    uint64_t total;     /* data bytes delivered so far */
    uint64_t max_body;  /* 413 past this many data bytes */
    uint32_t max_meta;  /* bound on extension bytes (413) and on the trailer section (431) */
    uint32_t ext_bytes; /* chunk-ext bytes (and surplus leading zeros) of this message */
    uint32_t trailer_bytes;
    uint8_t digits; /* hex digits of the current chunk-size */
    uint8_t state;  /* 0: no chunked body in progress */
} ringo__chunked;

/*
 * Starts decoding a chunked body: at most max_body data bytes, at most
 * max_meta bytes of chunk extensions over the whole body and at most
 * max_meta bytes of trailer section.
 */
void ringo__chunked_init(ringo__chunked *c, uint64_t max_body, uint32_t max_meta);

/*
 * Decodes p[0..n). Chunk data goes to sink(ud, ...). Returns 1 when the body
 * (through the trailer section's final CRLF) is complete, 0 when all n bytes
 * were taken and more are needed, or -status: -400 malformed, -413 body or
 * extensions too large (a chunk-size over the limit is refused before any of
 * its data is read), -431 trailer section too large, or the sink's error.
 * *consumed counts the bytes used; after 1 the rest belongs to the next
 * message. After 1 or an error the decoder is idle.
 */
int ringo__chunked_decode(ringo__chunked *c, const char *p, size_t n, size_t *consumed,
                          ringo__chunked_sink sink, void *ud);

/* Whether a chunked body is being decoded. */
static inline int ringo__chunked_active(const ringo__chunked *c) { return c->state != 0; }

/* Forgets any body in progress. */
static inline void ringo__chunked_reset(ringo__chunked *c) { c->state = 0; }

#endif
