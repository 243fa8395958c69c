/*
 * Description: the WebSocket opening handshake (http/ws/handshake.c, RFC
 * 6455 §4.2): SHA-1 against the FIPS 180 test vectors, base64 against
 * RFC 4648 §10, the RFC's example key and accept value, and each rule's
 * status - 101, 426 for a version other than 13, 400 for the rest -
 * including Connection and Upgrade as lists over several lines, repeated
 * keys and subprotocol offers.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/ws/handshake.h"
#include "http/ws/sha1.h"

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < RINGO__WS_SHA1_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* SHA-1 of p[0..n) fed in pieces of `piece` bytes, as hex. */
static void sha1_hex(const char *p, size_t n, size_t piece, char out[41])
{
    ringo__ws_sha1 s;
    uint8_t d[RINGO__WS_SHA1_LEN];

    ringo__ws_sha1_init(&s);
    for (size_t off = 0; off < n; off += piece)
        ringo__ws_sha1_update(&s, p + off, n - off < piece ? n - off : piece);
    ringo__ws_sha1_final(&s, d);
    hex(d, out);
}

static void test_sha1(void)
{
    static const struct {
        const char *in, *want;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
         "lmnopqrsmnopqrstnopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"},
        {"The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
    };
    char got[41];
    static char million[1000000];

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        for (size_t piece = 1; piece <= 130; piece++) {
            sha1_hex(v[i].in, strlen(v[i].in), piece, got);
            CHECKF(strcmp(got, v[i].want) == 0, "\"%s\" in pieces of %zu: %s", v[i].in, piece, got);
        }
    }
    memset(million, 'a', sizeof(million));
    sha1_hex(million, sizeof(million), sizeof(million), got);
    CHECK(strcmp(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0);
    sha1_hex(million, sizeof(million), 4099, got);
    CHECK(strcmp(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0);
    /* Lengths around the padding boundary (55, 56, 63, 64 bytes): pieces agree with whole. */
    for (size_t n = 50; n < 70; n++) {
        char whole[41];
        sha1_hex(million, n, n, whole);
        sha1_hex(million, n, 1, got);
        CHECK(strcmp(got, whole) == 0);
    }
    sha1_hex(million, 64, 64, got);
    CHECK(strcmp(got, "0098ba824b5c16427bd7a1122a5a442a25ec644d") == 0);
    sha1_hex(million, 56, 56, got);
    CHECK(strcmp(got, "c2db330f6083854c99d4b5bfb6e8f29f201be699") == 0);
}

static void test_base64(void)
{
    static const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[16];

    for (size_t n = 0; n <= 6; n++) {
        size_t k = ringo__ws_base64(out, (const uint8_t *)"foobar", n);
        CHECK(k == strlen(want[n]) && memcmp(out, want[n], k) == 0);
    }
    uint8_t all[3] = {0xff, 0xfe, 0xfd};
    CHECK(ringo__ws_base64(out, all, 3) == 4 && memcmp(out, "//79", 4) == 0);
}

#define S(lit) RINGO_STR_LIT(lit)

/* A valid request's fields; each test changes one. */
typedef struct req {
    const char *method;
    unsigned major, minor;
    const char *names[8], *values[8];
} req;

static int check(const req *r, ringo__ws_handshake *hs)
{
    ringo__ws_handshake_init(hs);
    for (int i = 0; i < 8 && r->names[i]; i++)
        ringo__ws_handshake_header(hs, ringo_str_c(r->names[i]), ringo_str_c(r->values[i]));
    return ringo__ws_handshake_check(hs, ringo_str_c(r->method), r->major, r->minor);
}

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static req good(void)
{
    return (req){"GET",
                 1,
                 1,
                 {"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Origin",
                  "Sec-WebSocket-Protocol", "Sec-WebSocket-Version"},
                 {"server.example.com", "websocket", "Upgrade", KEY, "http://example.com",
                  "chat, superchat", "13"}};
}

/* Sets header i of r (name and value). */
static req with(int i, const char *name, const char *value)
{
    req r = good();
    r.names[i] = name;
    r.values[i] = value;
    return r;
}

#define STATUS(r, want)                                                                            \
    do {                                                                                           \
        req r_ = (r);                                                                              \
        int got_ = check(&r_, &hs);                                                                \
        CHECKF(got_ == (want), "status %d, want %d (%s)", got_, (want), hs.why ? hs.why : "");     \
        CHECK((got_ == 101) == (hs.why == NULL));                                                  \
    } while (0)

static void test_rfc_example(void)
{
    ringo__ws_handshake hs;
    char acc[RINGO__WS_ACCEPT_LEN + 1];
    req r = good();

    ringo__ws_accept(S(KEY), acc);
    CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    CHECK(check(&r, &hs) == 101);
    CHECK(strcmp(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    CHECK(hs.nprotocols == 2 && ringo_str_eq(hs.protocols[0], S("chat")) &&
          ringo_str_eq(hs.protocols[1], S("superchat")));
    CHECK(ringo__ws_handshake_offered(&hs, S("superchat")));
    CHECK(!ringo__ws_handshake_offered(&hs, S("Chat")));
    CHECK(!ringo__ws_handshake_offered(&hs, S("super")));
}

static void test_rules(void)
{
    ringo__ws_handshake hs;
    req r;

    r = good();
    r.method = "POST";
    STATUS(r, 400);
    r.method = "get"; /* methods are case-sensitive */
    STATUS(r, 400);
    r = good();
    r.minor = 0;
    STATUS(r, 400);
    r.major = 0;
    r.minor = 9;
    STATUS(r, 400);
    r = good();
    r.major = 2;
    r.minor = 0;
    STATUS(r, 101);

    /* Upgrade: a case-insensitive token, possibly in a list. */
    STATUS(with(1, "upgrade", "WebSocket"), 101);
    STATUS(with(1, "Upgrade", "h2c, websocket"), 101);
    STATUS(with(1, "Upgrade", " ,websocket ,"), 101);
    STATUS(with(1, "Upgrade", "websockets"), 400);
    STATUS(with(1, "Upgrade", "web socket"), 400);
    STATUS(with(1, "Upgrade", ""), 400);
    STATUS(with(1, "X-Upgrade", "websocket"), 400);

    /* Connection: a list holding the upgrade token. */
    STATUS(with(2, "Connection", "keep-alive, Upgrade"), 101);
    STATUS(with(2, "CONNECTION", "UPGRADE"), 101);
    STATUS(with(2, "Connection", "upgrade,keep-alive"), 101);
    STATUS(with(2, "Connection", "\tkeep-alive ,\t upgrade\t"), 101);
    STATUS(with(2, "Connection", "keep-alive"), 400);
    STATUS(with(2, "Connection", "upgraded"), 400);
    STATUS(with(2, "Connection", "keep-alive upgrade"), 400);
    STATUS(with(2, "Connection", ""), 400);
    /* ... or over several lines. */
    r = with(7, "Connection", "keep-alive");
    r.values[2] = "close";
    STATUS(r, 400);
    r.values[7] = "Upgrade";
    STATUS(r, 101);
    r = with(7, "Upgrade", "websocket");
    r.values[1] = "h2c";
    STATUS(r, 101);

    /* Version: 13, once; anything else is 426, a repeat 400. */
    STATUS(with(6, "Sec-WebSocket-Version", "8"), 426);
    STATUS(with(6, "Sec-WebSocket-Version", "13, 8"), 426);
    STATUS(with(6, "Sec-WebSocket-Version", "013"), 426);
    STATUS(with(6, "Sec-WebSocket-Version", ""), 426);
    STATUS(with(6, "Sec-WebSocket-Version", " 13 "), 101);
    STATUS(with(6, "X-Other", "13"), 426); /* missing */
    CHECK(strcmp(hs.why, "Sec-WebSocket-Version is not 13") == 0);
    r = with(7, "sec-websocket-version", "13");
    STATUS(r, 400);
    /* A wrong version wins over a wrong key: the client learns to speak 13. */
    r = with(6, "Sec-WebSocket-Version", "8");
    r.values[3] = "short";
    STATUS(r, 426);

    /* Key: base64 of exactly 16 bytes, once. */
    STATUS(with(3, "sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA=="), 101);
    STATUS(with(3, "Sec-WebSocket-Key", " " KEY "\t"), 101);
    STATUS(with(3, "Sec-WebSocket-Key", "/+/+/+/+/+/+/+/+/+/+/w=="), 101);
    STATUS(with(3, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ="), 400);   /* 23 chars */
    STATUS(with(3, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==="), 400); /* 25 */
    STATUS(with(3, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZR=="), 400);  /* bits past 16 bytes */
    STATUS(with(3, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQAA"), 400);  /* no padding */
    STATUS(with(3, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j-Q=="), 400);  /* base64url */
    STATUS(with(3, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZXh0cmE="), 400); /* 20 bytes */
    STATUS(with(3, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j"), 400);
    STATUS(with(3, "Sec-WebSocket-Key", ""), 400);
    STATUS(with(3, "X-Key", KEY), 400); /* missing */
    CHECK(strcmp(hs.why, "Sec-WebSocket-Key is missing") == 0);
    STATUS(with(7, "Sec-WebSocket-Key", KEY), 400); /* twice, even if equal */
    CHECK(strcmp(hs.why, "Sec-WebSocket-Key appears more than once") == 0);
    {
        /* A NUL inside the key is not base64. */
        ringo__ws_handshake h2;
        req g = good();
        ringo__ws_handshake_init(&h2);
        for (int i = 0; i < 7; i++)
            if (i != 3)
                ringo__ws_handshake_header(&h2, ringo_str_c(g.names[i]), ringo_str_c(g.values[i]));
        ringo__ws_handshake_header(&h2, S("Sec-WebSocket-Key"),
                                   (ringo_str){"dGhlIHNhbXBsZSBub25\0ZQ==", 24});
        CHECK(ringo__ws_handshake_check(&h2, S("GET"), 1, 1) == 400);
    }

    /* Subprotocols: a token list, over several lines; no offer is fine too. */
    STATUS(with(5, "X-None", ""), 101);
    CHECK(hs.nprotocols == 0);
    r = with(7, "Sec-WebSocket-Protocol", "v2.chat,, mqtt");
    STATUS(r, 101);
    CHECK(hs.nprotocols == 4 && ringo_str_eq(hs.protocols[3], S("mqtt")));
    STATUS(with(5, "Sec-WebSocket-Protocol", "chat, chat"), 400);
    STATUS(with(5, "Sec-WebSocket-Protocol", "chat, [x]"), 400);
    STATUS(with(5, "Sec-WebSocket-Protocol", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p"), 101);
    STATUS(with(5, "Sec-WebSocket-Protocol", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"), 400);

    /* Extension offers are ignored: no deflate, and no refusal either. */
    STATUS(with(7, "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"), 101);
}

int main(void)
{
    test_sha1();
    test_base64();
    test_rfc_example();
    test_rules();
    puts("ws_handshake_test: ok");
    return 0;
}
