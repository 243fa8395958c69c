/*
 * Description: the chunked body decoder (RFC 9112 §7.1). Every valid body,
 * with extensions, quoted-pairs and trailers, decodes to the same data and
 * ends at the same byte whether it arrives whole, split at any one position
 * or one byte at a time; each class of malformed input gets its status (400,
 * 413 before the oversized chunk's data, 431) however it is split.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/chunked.h"

#define MAX_BODY 1000
#define MAX_META 256
#define NEXT "GET / HTTP/1.1\r\n" /* the next pipelined message */

typedef struct out {
    char buf[4096];
    size_t len;
    int fail_at; /* the sink fails once this many bytes arrived (-1: never) */
} out;

static int sink(void *ud, const char *p, size_t n)
{
    out *o = ud;

    if (o->fail_at >= 0 && o->len + n > (size_t)o->fail_at)
        return -503;
    if (o->len + n > sizeof(o->buf))
        return -507;
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}

typedef struct result {
    int ret;
    size_t used; /* bytes taken in all */
} result;

/* Feeds in[0..len) in pieces ending at the given cuts (ascending), stopping at a result. */
static result feed(ringo__chunked *c, out *o, const char *in, size_t len, const size_t *cuts,
                   size_t ncuts)
{
    result r = {0, 0};
    size_t from = 0;

    for (size_t i = 0; i <= ncuts && r.ret == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : len, used = 0;
        r.ret = ringo__chunked_decode(c, in + from, to - from, &used, sink, o);
        CHECKF(r.ret != 0 || used == to - from, "0 returned but %zu of %zu used", used, to - from);
        r.used += used;
        from = to;
    }
    return r;
}

static result run(const char *in, size_t len, const size_t *cuts, size_t ncuts, out *o)
{
    ringo__chunked c;

    ringo__chunked_init(&c, MAX_BODY, MAX_META);
    o->len = 0;
    o->fail_at = -1;
    result r = feed(&c, o, in, len, cuts, ncuts);
    CHECKF(r.ret == 0 || !ringo__chunked_active(&c), "decoder still active after %d", r.ret);
    return r;
}

/* Whole, at every single split, and byte by byte: always `want` and the same end. */
static void each_split(const char *name, const char *in, size_t len, int want, size_t want_used,
                       const char *body, size_t body_len)
{
    static size_t cuts[8192];
    out o;

    for (size_t k = 0; k <= len + 1 && k < 8192; k++) {
        size_t ncuts = 0;
        if (k <= len)
            cuts[ncuts++] = k; /* k == 0 and k == len: empty pieces are fine too */
        else
            for (size_t i = 1; i < len; i++)
                cuts[ncuts++] = i;
        result r = run(in, len, cuts, ncuts, &o);
        CHECKF(r.ret == want, "%s (cut %zu): got %d, want %d", name, k, r.ret, want);
        if (want == 1) {
            CHECKF(r.used == want_used, "%s (cut %zu): used %zu, want %zu", name, k, r.used,
                   want_used);
            CHECKF(o.len == body_len && memcmp(o.buf, body, body_len) == 0,
                   "%s (cut %zu): body %.*s", name, k, (int)o.len, o.buf);
        }
    }
}

static void valid(const char *name, const char *chunked, const char *body)
{
    char in[4096];
    size_t n = strlen(chunked);

    /* The next message follows: the decoder must stop exactly at the body's end. */
    snprintf(in, sizeof(in), "%s%s", chunked, NEXT);
    each_split(name, in, strlen(in), 1, n, body, strlen(body));
}

static void bad(const char *name, const char *in, int status)
{
    each_split(name, in, strlen(in), -status, 0, "", 0);
}

static void test_valid(void)
{
    static char big[MAX_BODY + 1], in[MAX_BODY + 64];

    valid("last chunk only", "0\r\n\r\n", "");
    valid("plain", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
    valid("data holds CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n");
    valid("token extensions", "5;ext\r\nhello\r\n6;name=value\r\n world\r\n0;last=1\r\n\r\n",
          "hello world");
    valid("quoted extensions", "3;q=\"quoted ; value\"\r\nabc\r\n2;e=\"\"\r\nde\r\n0\r\n\r\n",
          "abcde");
    valid("several with values", "3;a=b;c=d\r\nabc\r\n2;x;y=1\r\nde\r\n0\r\n\r\n", "abcde");
    valid("quoted-pair", "2;e=\"\\\"esc\\\"\"\r\nde\r\n0\r\n\r\n", "de");
    valid("quoted-pair of backslash, tab, obs-text",
          "2;e=\"a\\\\b\\\tc\\\xe9\xff\"\r\nde\r\n0\r\n\r\n", "de");
    valid("BWS everywhere", "3 ; a = b ;\tc\t=\t\"x y\" ; d\r\nabc\r\n0 ;z\r\n\r\n", "abc");
    valid("hex case, leading zeros",
          "000A\r\n0123456789\r\n1a\r\n"
          "zzzzzzzzzzzzzzzzzzzzzzzzzz"
          "\r\n00000000000000000000\r\n\r\n",
          "0123456789zzzzzzzzzzzzzzzzzzzzzzzzzz");
    valid("trailers", "4\r\nwith\r\n0\r\nX-Checksum: abc\r\nX-More:1\r\nEmpty:\r\n\r\n", "with");
    valid("trailer text", "1\r\nx\r\n0\r\nT: a \t b\x80\xff ;\"\\ \r\n\r\n", "x");
    memset(big, 'r', MAX_BODY);
    big[MAX_BODY] = 0;
    snprintf(in, sizeof(in), "3e8\r\n%s\r\n0\r\n\r\n", big);
    valid("exactly max_body", in, big);
}

static void test_bad(void)
{
    bad("size zz", "zz\r\nhello\r\n0\r\n\r\n", 400);
    bad("empty size", "\r\n\r\n", 400);
    bad("negative size", "-5\r\nhello\r\n0\r\n\r\n", 400);
    bad("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400);
    bad("size overflow", "100000000000000000000\r\nx\r\n", 400);
    bad("17 hex digits", "10000000000000000\r\n", 400);
    bad("data without CRLF", "5\r\nhelloXY0\r\n\r\n", 400);
    bad("data, bare LF", "5\r\nhello\n0\r\n\r\n", 400);
    bad("data, bare CR", "5\r\nhello\r0\r\n\r\n", 400);
    bad("size line without CRLF", "5 hello\r\n0\r\n\r\n", 400);
    bad("size line, bare LF", "5\nhello\r\n0\r\n\r\n", 400);
    bad("size line, bare CR", "5\rhello\r\n0\r\n\r\n", 400);
    bad("BWS without extension", "5 \r\nhello\r\n0\r\n\r\n", 400);
    bad("BWS before CRLF", "5;a \r\nhello\r\n0\r\n\r\n", 400);
    bad("BWS after value", "5;a=b \r\nhello\r\n0\r\n\r\n", 400);
    bad("extension without name", "5;\r\nhello\r\n0\r\n\r\n", 400);
    bad("extension =value", "5;=v\r\nhello\r\n0\r\n\r\n", 400);
    bad("empty value", "5;a=\r\nhello\r\n0\r\n\r\n", 400);
    bad("name not a token", "5;a@b\r\nhello\r\n0\r\n\r\n", 400);
    bad("value not a token", "5;a=b@c\r\nhello\r\n0\r\n\r\n", 400);
    bad("two values", "5;a=b c\r\nhello\r\n0\r\n\r\n", 400);
    bad("text after quote", "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", 400);
    bad("unterminated quote", "5;a=\"x\r\nhello\r\n0\r\n\r\n", 400);
    bad("control in quote", "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", 400);
    bad("DEL in quoted-pair", "5;a=\"\\\x7f\"\r\nhello\r\n0\r\n\r\n", 400);
    bad("extension, bare LF", "5;a=b\nhello\r\n0\r\n\r\n", 400);
    bad("trailer obs-fold", "0\r\nX: y\r\n z\r\n\r\n", 400);
    bad("trailer leading space", "0\r\n X: y\r\n\r\n", 400);
    bad("trailer space before colon", "0\r\nX : y\r\n\r\n", 400);
    bad("trailer empty name", "0\r\n: y\r\n\r\n", 400);
    bad("trailer without colon", "0\r\nNoColon\r\n\r\n", 400);
    bad("trailer bare CR", "0\r\nX: a\rb\r\n\r\n", 400);
    bad("trailer bare LF inside", "0\r\nX: a\nb\r\n\r\n", 400);
    bad("trailer line, bare LF", "0\r\nX: y\n\r\n", 400);
    bad("end, bare LF", "0\r\n\n", 400);
    bad("end, bare CR", "0\r\n\r\r\n", 400);
    bad("size over max_body", "FFFFFFFF\r\nxxxxxxxx", 413);
    bad("3e9 over max_body", "3e9\r\n", 413);
}

/* NUL bytes: built by length, since strlen() would stop at them. */
static void test_nul(void)
{
    static const char in[] = "0\r\nX: a\0b\r\n\r\n";
    static const char ext[] = "1;a=\"\0\"\r\nx\r\n0\r\n\r\n";

    each_split("trailer NUL", in, sizeof(in) - 1, -400, 0, "", 0);
    each_split("NUL in quoted value", ext, sizeof(ext) - 1, -400, 0, "", 0);
}

static void test_limits(void)
{
    char in[4096];
    size_t n = 0;
    out o;

    /* Two chunks of 600: the second size is refused before its data. */
    n = (size_t)snprintf(in, sizeof(in), "258\r\n%0600d\r\n258\r\n", 0);
    each_split("600 + 600", in, n, -413, 0, "", 0);
    {
        result r = run(in, n, NULL, 0, &o);
        CHECKF(r.ret == -413 && o.len == 600, "600 + 600: %d, %zu data bytes", r.ret, o.len);
    }
    /* FFFFFFFF is refused as soon as its digits end. */
    {
        result r = run("FFFFFFFF;", 9, NULL, 0, &o);
        CHECKF(r.ret == -413 && r.used == 9 && o.len == 0, "FFFFFFFF: %d after %zu", r.ret, r.used);
    }
    /* Extensions are bounded over the whole body. */
    n = 0;
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(in + n, sizeof(in) - n, "1;name=value\r\nx\r\n");
    n += (size_t)snprintf(in + n, sizeof(in) - n, "0\r\n\r\n");
    each_split("330 bytes of extensions", in, n, -413, 0, "", 0);
    n = (size_t)snprintf(in, sizeof(in), "%0300d1\r\nx\r\n0\r\n\r\n", 0);
    each_split("300 leading zeros", in, n, -413, 0, "", 0);
    /* The trailer section is bounded like a header section. */
    n = (size_t)snprintf(in, sizeof(in), "0\r\nX: %0260d\r\n\r\n", 0);
    each_split("260-byte trailer", in, n, -431, 0, "", 0);
    n = (size_t)snprintf(in, sizeof(in), "0\r\nX: %0240d\r\n\r\n", 0);
    each_split("247-byte trailer section", in, n, 1, n, "", 0);
}

static void test_sink_error(void)
{
    static const char in[] = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    ringo__chunked c;
    out o = {.fail_at = 7};
    size_t used;
    int ret;

    ringo__chunked_init(&c, MAX_BODY, MAX_META);
    ret = ringo__chunked_decode(&c, in, sizeof(in) - 1, &used, sink, &o);
    CHECKF(ret == -503 && !ringo__chunked_active(&c), "sink error: %d", ret);
    ret = ringo__chunked_decode(&c, "0\r\n\r\n", 5, &used, sink, &o);
    CHECKF(ret == -400, "an idle decoder takes nothing: %d", ret);
}

int main(void)
{
    test_valid();
    test_bad();
    test_nul();
    test_limits();
    test_sink_error();
    printf("chunked_test: ok\n");
    return 0;
}
