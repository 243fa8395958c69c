/*
 * http/ws/sha1.h - SHA-1 (FIPS 180-4 §6.1) for the WebSocket opening
 * handshake, which hashes the client's key into Sec-WebSocket-Accept
 * (RFC 6455 §4.2.2). SHA-1 is broken for collision resistance; the
 * handshake does not rely on that (it only proves the server read the key),
 * and nothing else in ringo may use this.
 */
#ifndef RINGO_HTTP_WS_SHA1_H
#define RINGO_HTTP_WS_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define RINGO__WS_SHA1_LEN 20

typedef struct ringo__ws_sha1 {
    uint32_t h[5];
    uint64_t bytes;  /* message length so far */
    uint8_t buf[64]; /* a partial block */
} ringo__ws_sha1;

void ringo__ws_sha1_init(ringo__ws_sha1 *s);

/* Appends p[0..n) to the message. */
void ringo__ws_sha1_update(ringo__ws_sha1 *s, const void *p, size_t n);

/* Pads, writes the digest to out; *s must be initialised again before reuse. */
void ringo__ws_sha1_final(ringo__ws_sha1 *s, uint8_t out[RINGO__WS_SHA1_LEN]);

#endif
