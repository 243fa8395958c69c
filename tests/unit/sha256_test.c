/*
 * Description: examples/sha256.c (the demo's upload digests) against the
 * FIPS 180-4 / NIST CSRC example vectors: the empty message, "abc", the
 * 448-bit two-block message and one million 'a' - the short ones hashed
 * whole and in pieces of every size up to 130 bytes, the long one whole and
 * in 999-byte pieces - and messages around the padding's block edges.
 */
#include <string.h>

#include "check.h"
#include "examples/sha256.h"

static void hex_of(const void *p, size_t n, size_t piece, char hex[65])
{
    sha256_ctx c;
    uint8_t d[SHA256_DIGEST_LEN];
    const char *s = p;

    sha256_init(&c);
    for (size_t off = 0; off < n; off += piece)
        sha256_update(&c, s + off, n - off < piece ? n - off : piece);
    sha256_final(&c, d);
    sha256_hex(d, hex);
}

static void check_vector(const char *msg, size_t n, const char *want)
{
    char hex[65];

    hex_of(msg, n, n ? n : 1, hex);
    CHECKF(strcmp(hex, want) == 0, "%zu bytes: %s", n, hex);
    for (size_t piece = 1; piece <= 130 && piece < n && n <= 4096; piece++) {
        hex_of(msg, n, piece, hex);
        CHECKF(strcmp(hex, want) == 0, "%zu bytes in %zu-byte pieces: %s", n, piece, hex);
    }
}

static void test_vectors(void)
{
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    check_vector("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_vector("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_vector(two, strlen(two),
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_million_a(void)
{
    static char a[1000000];
    sha256_ctx c;
    uint8_t d[SHA256_DIGEST_LEN];
    char hex[65];

    memset(a, 'a', sizeof(a));
    check_vector(a, sizeof(a), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* And in odd pieces that never align with a block. */
    sha256_init(&c);
    for (size_t off = 0; off < sizeof(a); off += 999)
        sha256_update(&c, a + off, sizeof(a) - off < 999 ? sizeof(a) - off : 999);
    sha256_final(&c, d);
    sha256_hex(d, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
}

/* Lengths around the padding edges (55, 56, 63, 64 bytes): one block or two. */
static void test_padding_edges(void)
{
    /* sha256 of 55, 56, 63 and 64 bytes of 'a' (computed independently with sha256sum). */
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    };
    char a[64];

    memset(a, 'a', sizeof(a));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        check_vector(a, v[i].n, v[i].hex);
}

int main(void)
{
    test_vectors();
    test_million_a();
    test_padding_edges();
    return 0;
}
