/*
 * examples/sha256.h - SHA-256 (FIPS 180-4) for the demo's upload routes,
 * which answer with the digest of what they received. Not part of ringo.
 */
#ifndef RINGO_EXAMPLES_SHA256_H
#define RINGO_EXAMPLES_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

typedef struct sha256_ctx {
    uint32_t h[8];     /* the intermediate hash value */
    uint64_t bytes;    /* message length so far */
    uint8_t block[64]; /* the partial block */
    size_t used;       /* bytes in block */
} sha256_ctx;

/* Starts a digest. */
void sha256_init(sha256_ctx *c);

/* Adds p[0..n) to the message (p may be NULL when n is 0). */
void sha256_update(sha256_ctx *c, const void *p, size_t n);

/* Pads, writes the 32-byte digest to out and leaves c to be re-initialised. */
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Writes the digest as 64 lower-case hex digits and a NUL to hex[65]. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN], char hex[2 * SHA256_DIGEST_LEN + 1]);

#endif
