/*
 * http/ws/sha1.c - SHA-1 as FIPS 180-4 §6.1.2 states it: 64-byte blocks,
 * an 80-word schedule kept as a rolling 16-word window, big-endian words.
 */
#include "http/ws/sha1.h"

#include <string.h>

static uint32_t rol(uint32_t x, unsigned n) { return x << n | x >> (32 - n); }

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* f_t and K_t of FIPS 180-4 §4.1.1 and §4.2.1, by round. */
static uint32_t mix(unsigned t, uint32_t b, uint32_t c, uint32_t d)
{
    if (t < 20)
        return ((b & c) | (~b & d)) + 0x5a827999u;
    if (t < 40)
        return (b ^ c ^ d) + 0x6ed9eba1u;
    if (t < 60)
        return ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdcu;
    return (b ^ c ^ d) + 0xca62c1d6u;
}

static void block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[16], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (unsigned t = 0; t < 16; t++)
        w[t] = be32(p + 4 * t);
    for (unsigned t = 0; t < 80; t++) {
        uint32_t tmp;
        if (t >= 16)
            w[t & 15] = rol(w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^ w[t & 15], 1);
        tmp = rol(a, 5) + mix(t, b, c, d) + e + w[t & 15];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void ringo__ws_sha1_init(ringo__ws_sha1 *s)
{
    static const uint32_t iv[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};

    memcpy(s->h, iv, sizeof(iv));
    s->bytes = 0;
}

void ringo__ws_sha1_update(ringo__ws_sha1 *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t have = (size_t)(s->bytes & 63);

    s->bytes += n;
    if (have) {
        size_t k = 64 - have < n ? 64 - have : n;
        memcpy(s->buf + have, p, k);
        p += k;
        n -= k;
        if (have + k < 64)
            return;
        block(s->h, s->buf);
    }
    for (; n >= 64; p += 64, n -= 64)
        block(s->h, p);
    if (n)
        memcpy(s->buf, p, n);
}

void ringo__ws_sha1_final(ringo__ws_sha1 *s, uint8_t out[RINGO__WS_SHA1_LEN])
{
    static const uint8_t pad[64] = {0x80};
    uint64_t bits = s->bytes * 8;
    size_t have = (size_t)(s->bytes & 63);
    uint8_t len[8];

    /* §5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, then the length in bits. */
    ringo__ws_sha1_update(s, pad, have < 56 ? 56 - have : 120 - have);
    for (unsigned i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    ringo__ws_sha1_update(s, len, 8);
    for (unsigned i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}
