/*
 * Description: the JSON writer (http/json_write.c). Commas and colons in
 * nested documents; misuse (a value where a key is due, a key in an array,
 * an end too many, two top-level values, an open or empty document) fails
 * with -EINVAL and the error sticks; nesting past RINGO_JSON_MAX_DEPTH is
 * -E2BIG; escaping of every control character, '"' and '\'; invalid UTF-8
 * replaced by one U+FFFD per maximal subpart, or -EILSEQ in strict mode;
 * the extreme integers; doubles: fixed cases (0.1, 1e+21, 5e-324, -0, the
 * largest double), NaN/Inf as null, and many random doubles (random bit
 * patterns and short decimals) that must read back exactly and have as few
 * digits as the shortest form found by trying every precision, all of them
 * valid JSON numbers; the same under a locale whose decimal point is ','
 * (compiled with localedef; that part is skipped without it); arena growth
 * over a 1 MiB document, with other arena allocations in between; malloc
 * mode; ringo_json_respond() setting status, Content-Type and body.
 */
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringo.h>
#include <ringo/json.h>

#include "check.h"
#include "core/arena.h"
#include "http/request_impl.h"

static struct ringo_req *new_req(void)
{
    struct ringo_req *req = calloc(1, sizeof(*req));

    CHECK(req);
    ringo__arena_init(&req->arena, req->inline_arena, sizeof(req->inline_arena));
    req->status = 200;
    return req;
}

static void free_req(struct ringo_req *req)
{
    ringo__arena_free(&req->arena);
    free(req);
}

/* Finishes a malloc() writer and checks its text. */
#define EXPECT(w, want)                                                                            \
    do {                                                                                           \
        char *out_;                                                                                \
        size_t n_;                                                                                 \
        int r_ = ringo_json_finish(w, &out_, &n_);                                                 \
        CHECKF(r_ == 0, "finish: %d", r_);                                                         \
        CHECKF(n_ == strlen(want) && memcmp(out_, want, n_) == 0 && out_[n_] == '\0',              \
               "got '%.*s' want '%s'", (int)n_, out_, want);                                       \
        free(out_);                                                                                \
    } while (0)

#define EXPECT_ERR(w, e)                                                                           \
    do {                                                                                           \
        int r_ = ringo_json_finish(w, NULL, NULL);                                                 \
        CHECKF(r_ == (e), "finish: %d want %d", r_, (e));                                          \
        ringo_json_discard(w);                                                                     \
    } while (0)

static void test_nesting(void)
{
    ringo_json_w w;

    ringo_json_begin_malloc(&w);
    ringo_json_obj(&w);
    ringo_json_key(&w, "a");
    ringo_json_int(&w, 1);
    ringo_json_key(&w, "b");
    ringo_json_arr(&w);
    ringo_json_arr(&w);
    ringo_json_end(&w);
    ringo_json_obj(&w);
    ringo_json_end(&w);
    ringo_json_bool(&w, true);
    ringo_json_bool(&w, false);
    ringo_json_null(&w);
    ringo_json_cstr(&w, NULL);
    ringo_json_raw(&w, "{\"x\":[1]}", 9);
    ringo_json_end(&w);
    ringo_json_key(&w, "c");
    ringo_json_obj(&w);
    ringo_json_keyn(&w, "d\0e", 3);
    ringo_json_uint(&w, 2);
    ringo_json_end(&w);
    ringo_json_end(&w);
    EXPECT(&w, "{\"a\":1,\"b\":[[],{},true,false,null,null,{\"x\":[1]}],\"c\":{\"d\\u0000e\":2}}");

    ringo_json_begin_malloc(&w);
    ringo_json_cstr(&w, "top");
    EXPECT(&w, "\"top\"");
    ringo_json_begin_malloc(&w);
    ringo_json_double(&w, 2.5);
    EXPECT(&w, "2.5");
}

static void test_misuse(void)
{
    ringo_json_w w;

    ringo_json_begin_malloc(&w); /* a value where a key is due */
    ringo_json_obj(&w);
    ringo_json_int(&w, 1);
    ringo_json_key(&w, "k"); /* the error sticks: nothing more is written */
    ringo_json_int(&w, 1);
    ringo_json_end(&w);
    CHECK(w.len == 1);
    EXPECT_ERR(&w, -EINVAL);

    ringo_json_begin_malloc(&w); /* a key in an array */
    ringo_json_arr(&w);
    ringo_json_key(&w, "k");
    EXPECT_ERR(&w, -EINVAL);

    ringo_json_begin_malloc(&w); /* a key at the top */
    ringo_json_key(&w, "k");
    EXPECT_ERR(&w, -EINVAL);

    ringo_json_begin_malloc(&w); /* two keys in a row */
    ringo_json_obj(&w);
    ringo_json_key(&w, "k");
    ringo_json_key(&w, "l");
    EXPECT_ERR(&w, -EINVAL);

    ringo_json_begin_malloc(&w); /* a key without its value */
    ringo_json_obj(&w);
    ringo_json_key(&w, "k");
    ringo_json_end(&w);
    EXPECT_ERR(&w, -EINVAL);

    ringo_json_begin_malloc(&w); /* an end too many */
    ringo_json_arr(&w);
    ringo_json_end(&w);
    ringo_json_end(&w);
    EXPECT_ERR(&w, -EINVAL);

    ringo_json_begin_malloc(&w); /* two top-level values */
    ringo_json_int(&w, 1);
    ringo_json_int(&w, 2);
    EXPECT_ERR(&w, -EINVAL);

    ringo_json_begin_malloc(&w); /* left open */
    ringo_json_arr(&w);
    EXPECT_ERR(&w, -EINVAL);

    ringo_json_begin_malloc(&w); /* empty */
    EXPECT_ERR(&w, -EINVAL);

    ringo_json_begin(&w, NULL); /* no request */
    ringo_json_int(&w, 1);
    CHECK(ringo_json_finish(&w, NULL, NULL) == -EINVAL);
    CHECK(ringo_json_respond(&w, 200) == -EINVAL);
}

static void test_depth(void)
{
    ringo_json_w w;
    char want[2 * RINGO_JSON_MAX_DEPTH + 1];

    ringo_json_begin_malloc(&w);
    for (int i = 0; i < RINGO_JSON_MAX_DEPTH; i++)
        ringo_json_arr(&w);
    for (int i = 0; i < RINGO_JSON_MAX_DEPTH; i++)
        ringo_json_end(&w);
    memset(want, '[', RINGO_JSON_MAX_DEPTH);
    memset(want + RINGO_JSON_MAX_DEPTH, ']', RINGO_JSON_MAX_DEPTH);
    want[2 * RINGO_JSON_MAX_DEPTH] = '\0';
    EXPECT(&w, want);

    ringo_json_begin_malloc(&w);
    for (int i = 0; i < RINGO_JSON_MAX_DEPTH + 1; i++)
        ringo_json_obj(&w), ringo_json_key(&w, "a");
    EXPECT_ERR(&w, -E2BIG);
}

/* The string s[0..n) written alone. */
static void expect_str(const char *s, size_t n, unsigned flags, const char *want)
{
    ringo_json_w w;

    ringo_json_begin_malloc(&w);
    ringo_json_set_flags(&w, flags);
    ringo_json_str(&w, s, n);
    EXPECT(&w, want);
}

static void test_escaping(void)
{
    char all[32], want[256], *o = want;
    ringo_json_w w;

    for (int i = 0; i < 32; i++)
        all[i] = (char)i;
    o += sprintf(o, "\"");
    for (int i = 0; i < 32; i++) {
        const char *named = i == '\b'   ? "\\b"
                            : i == '\t' ? "\\t"
                            : i == '\n' ? "\\n"
                            : i == '\f' ? "\\f"
                            : i == '\r' ? "\\r"
                                        : NULL;
        o += named ? sprintf(o, "%s", named) : sprintf(o, "\\u%04x", i);
    }
    sprintf(o, "\"");
    expect_str(all, 32, 0, want);
    expect_str("a\"b\\c/d\x7f", 8, 0, "\"a\\\"b\\\\c/d\x7f\"");
    /* escapes past the fast 8-byte scan, at every offset */
    expect_str("abcdefgh\"ijklmnop\\", 18, 0, "\"abcdefgh\\\"ijklmnop\\\\\"");
    expect_str("abcdefghijklmno\n", 16, 0, "\"abcdefghijklmno\\n\"");
    expect_str("", 0, 0, "\"\"");
    /* valid UTF-8 is kept: 2, 3 and 4 bytes, U+2028, U+FFFF, U+10FFFF */
    expect_str("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8\xef\xbf\xbf\xf4\x8f\xbf\xbf", 19,
               RINGO_JSON_UTF8_STRICT,
               "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");

    /* keys escape the same way */
    ringo_json_begin_malloc(&w);
    ringo_json_obj(&w);
    ringo_json_key(&w, "q\"\n");
    ringo_json_null(&w);
    ringo_json_end(&w);
    EXPECT(&w, "{\"q\\\"\\n\":null}");
}

#define FFFD "\xef\xbf\xbd"

static void test_utf8(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"a\x80z", "a" FFFD "z"},                            /* stray tail */
        {"a\xc0\xafz", "a" FFFD FFFD "z"},                   /* overlong lead: each byte */
        {"a\xe0\x80\x80z", "a" FFFD FFFD FFFD "z"},          /* overlong 3-byte */
        {"a\xed\xa0\x80z", "a" FFFD FFFD FFFD "z"},          /* a surrogate */
        {"a\xf4\x90\x80\x80z", "a" FFFD FFFD FFFD FFFD "z"}, /* past U+10FFFF */
        {"a\xe2\x82z", "a" FFFD "z"},                        /* cut short: one for the subpart */
        {"a\xf0\x9f\x98z", "a" FFFD "z"},                    /* cut short, 4-byte */
        {"a\xf0\x9f\x98", "a" FFFD},                         /* cut by the end */
        {"\xff\xfe", FFFD FFFD},                             /* never in UTF-8 */
        {"\xe2\x82\xe2\x82\xac", FFFD "\xe2\x82\xac"},       /* subpart then a valid one */
    };
    char want[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ringo_json_w w;

        snprintf(want, sizeof(want), "\"%s\"", cases[i].want);
        expect_str(cases[i].in, strlen(cases[i].in), RINGO_JSON_UTF8_REPLACE, want);
        ringo_json_begin_malloc(&w);
        ringo_json_set_flags(&w, RINGO_JSON_UTF8_STRICT);
        ringo_json_arr(&w);
        ringo_json_str(&w, cases[i].in, strlen(cases[i].in));
        ringo_json_int(&w, 1);
        EXPECT_ERR(&w, -EILSEQ);
    }
}

static void test_ints(void)
{
    ringo_json_w w;

    ringo_json_begin_malloc(&w);
    ringo_json_arr(&w);
    ringo_json_int(&w, INT64_MIN);
    ringo_json_int(&w, INT64_MAX);
    ringo_json_uint(&w, UINT64_MAX);
    ringo_json_int(&w, 0);
    ringo_json_int(&w, -1);
    ringo_json_int(&w, 9);
    ringo_json_int(&w, 10);
    ringo_json_int(&w, 99);
    ringo_json_int(&w, 100);
    ringo_json_int(&w, -1000000007);
    ringo_json_end(&w);
    EXPECT(&w, "[-9223372036854775808,9223372036854775807,18446744073709551615,0,-1,9,10,99,100,"
               "-1000000007]");
}

/* ---- doubles ---- */

/* The writer's form of v. */
static void dtoa(double v, char *out, size_t cap)
{
    ringo_json_w w;
    char *s;
    size_t n;

    ringo_json_begin_malloc(&w);
    ringo_json_double(&w, v);
    CHECK(ringo_json_finish(&w, &s, &n) == 0);
    CHECK(n < cap);
    memcpy(out, s, n + 1);
    free(s);
}

/* RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* Significant digits of a JSON number (leading and trailing zeros of the digits dropped). */
static int sig_digits(const char *s)
{
    char d[64];
    int k = 0, a = 0;

    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            d[k++] = *s;
    while (a < k && d[a] == '0')
        a++;
    while (k > a && d[k - 1] == '0')
        k--;
    return k > a ? k - a : 1;
}

/* Digits of the shortest decimal that reads back as v, by trying every precision (C locale). */
static int ref_digits(double v)
{
    char buf[64];

    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
        if (strtod(buf, NULL) == v)
            return p;
    }
    return 17;
}

static void check_double(double v, bool c_locale)
{
    char s[64];

    if (!isfinite(v))
        return; /* null: test_doubles_fixed() */
    dtoa(v, s, sizeof(s));
    CHECKF(json_number(s), "%a: '%s' is not a JSON number", v, s);
    if (!c_locale)
        return; /* strtod below reads the locale's radix */
    CHECKF(strtod(s, NULL) == v && signbit(strtod(s, NULL)) == signbit(v),
           "%a (%.17g) written '%s'", v, v, s);
    CHECKF(sig_digits(s) == ref_digits(v), "%.17g written '%s', shortest has %d digits", v, s,
           ref_digits(v));
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_doubles_fixed(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.1, "0.1"},
        {1e21, "1e+21"},
        {1e20, "100000000000000000000"},
        {5e-324, "5e-324"},
        {-0.0, "-0"},
        {0.0, "0"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {-1.5, "-1.5"},
        {19.99, "19.99"},
        {100.0, "100"},
        {0.000001, "0.000001"},
        {1e-7, "1e-7"},
        {1.5e-7, "1.5e-7"},
        {123456789012345680.0, "123456789012345680"},
        {9007199254740993.0, "9007199254740992"},
        {0.30000000000000004, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"},
        {2.0 / 3.0, "0.6666666666666666"},
        {3.14159, "3.14159"},
        {4.35, "4.35"},
        {1e23, "1e+23"},
        {9.5e-5, "0.000095"},
        {99999999999999984.0, "99999999999999980"}, /* 16 digits: 15 rounds up to 1e17 */
        {9.9999999999999979e21, "9.999999999999998e+21"},
    };
    char s[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dtoa(cases[i].v, s, sizeof(s));
        CHECKF(strcmp(s, cases[i].want) == 0, "%.17g: got '%s' want '%s'", cases[i].v, s,
               cases[i].want);
    }
    dtoa(NAN, s, sizeof(s));
    CHECK(strcmp(s, "null") == 0);
    dtoa(INFINITY, s, sizeof(s));
    CHECK(strcmp(s, "null") == 0);
    dtoa(-INFINITY, s, sizeof(s));
    CHECK(strcmp(s, "null") == 0);
}

static void test_doubles_random(bool c_locale, int n)
{
    double p10[30];

    p10[0] = 1;
    for (int i = 1; i < 30; i++)
        p10[i] = p10[i - 1] * 10;
    for (int i = 0; i < n; i++) {
        uint64_t bits = next_rand();
        double v;

        memcpy(&v, &bits, sizeof(v));
        if (isfinite(v))
            check_double(v, c_locale);
        /* short decimals (prices, ratios) across magnitudes, and subnormals */
        v = (double)(next_rand() % 100000000) / p10[next_rand() % 30];
        check_double(next_rand() & 1 ? -v : v, c_locale);
        /* any double between 1e-7 and 1e23 */
        bits = (next_rand() & 0x000fffffffffffffull) | (uint64_t)(0x3e7 + next_rand() % 130) << 52;
        memcpy(&v, &bits, sizeof(v));
        check_double(v, c_locale);
        bits = next_rand() & 0x000fffffffffffffull;
        memcpy(&v, &bits, sizeof(v));
        check_double(v, c_locale);
        v = (double)(int64_t)(next_rand() >> (next_rand() % 64));
        check_double(v, c_locale);
    }
}

/* The doubles next to v > 0 (bits - 1, bits + 1), and 2^e: no libm in the test. */
static double neighbour(double v, int dir)
{
    uint64_t b;

    memcpy(&b, &v, sizeof(b));
    b += (uint64_t)(int64_t)dir;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static double pow2(int e)
{
    uint64_t b = e >= -1022 ? (uint64_t)(e + 1023) << 52 : 1ull << (e + 1074);
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

/* Powers of two and of ten and their neighbours: interval edges, rounding carries. */
static void test_doubles_edges(void)
{
    for (int e = -1074; e <= 1023; e++) {
        double v = pow2(e);
        check_double(v, true);
        check_double(neighbour(v, -1), true);
        check_double(neighbour(v, 1), true);
    }
    for (int k = -323; k <= 308; k++) {
        char b[16];
        double v;

        snprintf(b, sizeof(b), "1e%d", k);
        v = strtod(b, NULL);
        check_double(v, true);
        check_double(neighbour(v, -1), true);
        check_double(neighbour(v, 1), true);
        for (int m = 2; m < 10; m++)
            check_double(v * m, true);
    }
}

/*
 * Under de_DE (decimal point ',') printf writes "0,1": the writer's output
 * must not change. Compiled with localedef like tests/unit/locale_test.c.
 */
static void test_locale(void)
{
    char dir[] = "/tmp/ringo-json-locale-XXXXXX", cmd[256], s[64];

    if (!mkdtemp(dir))
        return;
    setenv("LOCPATH", dir, 1);
    snprintf(cmd, sizeof(cmd), "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
    if (system(cmd) < 0 || !setlocale(LC_ALL, "de_DE.UTF-8")) {
        printf("note: de_DE.UTF-8 unavailable (localedef, Debian package locales): skipped\n");
    } else {
        snprintf(s, sizeof(s), "%.1f", 0.5);
        CHECKF(strcmp(s, "0,5") == 0, "the locale did not take: %s", s);
        test_doubles_random(false, 2000);
        dtoa(0.1, s, sizeof(s));
        CHECK(strcmp(s, "0.1") == 0);
        dtoa(1.0 / 3.0, s, sizeof(s));
        CHECK(strcmp(s, "0.3333333333333333") == 0);
        dtoa(5e-324, s, sizeof(s));
        CHECK(strcmp(s, "5e-324") == 0);
        dtoa(1.7976931348623157e308, s, sizeof(s));
        CHECK(strcmp(s, "1.7976931348623157e+308") == 0);
        setlocale(LC_ALL, "C");
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* ---- buffers ---- */

/* A 1 MiB document in the arena; with other arena allocations between the calls (mixed). */
static void arena_growth(bool mixed)
{
    struct ringo_req *req = new_req();
    ringo_json_w w;
    char *out, item[64];
    size_t n, pos = 1;
    int count = 0;

    ringo_json_begin(&w, req);
    ringo_json_arr(&w);
    while (w.len < (1u << 20)) {
        ringo_json_obj(&w);
        ringo_json_key(&w, "n");
        ringo_json_int(&w, count);
        ringo_json_key(&w, "s");
        ringo_json_cstr(&w, "x\ty");
        ringo_json_end(&w);
        if (mixed && count % 1000 == 0)
            CHECK(ringo_req_alloc(req, 100) != NULL);
        count++;
    }
    ringo_json_end(&w);
    CHECK(ringo_json_finish(&w, &out, &n) == 0);
    CHECK(out[0] == '[' && out[n - 1] == ']' && out[n] == '\0');
    for (int i = 0; i < count; i++) {
        int k = snprintf(item, sizeof(item), "%s{\"n\":%d,\"s\":\"x\\ty\"}", i ? "," : "", i);
        CHECKF(memcmp(out + pos, item, (size_t)k) == 0, "item %d", i);
        pos += (size_t)k;
    }
    CHECK(pos == n - 1);
    printf("arena (%s): %zu bytes for a %zu-byte document\n", mixed ? "mixed" : "alone",
           req->arena.total, n);
    /* the buffer doubled (up to 2n) and moved when other allocations stood after it,
     * leaving its old copies behind (n + n/2 + ...): at most about 4n in all */
    CHECKF(req->arena.total < 5 * n, "arena %zu for %zu bytes", req->arena.total, n);
    free_req(req);
}

static void test_arena_growth(void)
{
    struct ringo_req *req = new_req();
    ringo_json_w w;

    /* alone in the arena, the buffer grows where it stands: 256, 512, 1024 bytes, one block */
    ringo_json_begin(&w, req);
    ringo_json_arr(&w);
    for (int i = 0; i < 100; i++)
        ringo_json_int(&w, 100000000 + i);
    ringo_json_end(&w);
    CHECK(ringo_json_finish(&w, NULL, NULL) == 0 && w.len == 1001);
    CHECKF(req->arena.total == 1024, "arena %zu", req->arena.total);
    free_req(req);
    arena_growth(false);
    arena_growth(true);
}

/* A 1 MiB string in one call, and a large document in malloc mode. */
static void test_large(void)
{
    size_t big = 1u << 20;
    char *s = malloc(big), *out;
    size_t n;
    ringo_json_w w;

    CHECK(s);
    for (size_t i = 0; i < big; i++)
        s[i] = (char)(i % 7 == 0 ? '\n' : 'a' + (char)(i % 26));
    ringo_json_begin_malloc(&w);
    ringo_json_str(&w, s, big);
    CHECK(ringo_json_finish(&w, &out, &n) == 0);
    CHECK(n == big + big / 7 + 1 + 2); /* each '\n' became two bytes */
    for (size_t i = 0, o = 1; i < big; i++) {
        if (s[i] == '\n') {
            CHECK(out[o] == '\\' && out[o + 1] == 'n');
            o += 2;
        } else {
            CHECK(out[o++] == s[i]);
        }
    }
    free(out);
    free(s);

    ringo_json_begin_malloc(&w); /* discarded after an error: nothing leaks */
    ringo_json_arr(&w);
    for (int i = 0; i < 100000; i++)
        ringo_json_double(&w, i * 0.25);
    ringo_json_key(&w, "bad");
    EXPECT_ERR(&w, -EINVAL);
}

static void test_respond(void)
{
    struct ringo_req *req = new_req();
    ringo_json_w w;

    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    ringo_json_key(&w, "id");
    ringo_json_int(&w, 7);
    ringo_json_end(&w);
    CHECK(ringo_json_respond(&w, 201) == 0);
    CHECK(req->status == 201);
    CHECK(req->rbody == w.buf && req->rbody_len == 8 && memcmp(req->rbody, "{\"id\":7}", 8) == 0);
    CHECK(req->nrhdrs == 1 && req->rhdrs[0].value.len == 16 &&
          memcmp(req->rhdrs[0].value.ptr, "application/json", 16) == 0);
    free_req(req);

    req = new_req(); /* a writer in error leaves the response alone */
    ringo_json_begin(&w, req);
    ringo_json_obj(&w);
    CHECK(ringo_json_respond(&w, 200) == -EINVAL);
    CHECK(req->status == 200 && req->rbody == NULL && req->nrhdrs == 0);
    ringo_json_begin(&w, req);
    ringo_json_int(&w, 1);
    CHECK(ringo_json_respond(&w, 99) == -EINVAL);
    CHECK(req->status == 200 && req->rbody == NULL && req->nrhdrs == 0);
    ringo_json_begin_malloc(&w); /* respond needs a request */
    ringo_json_int(&w, 1);
    CHECK(ringo_json_respond(&w, 200) == -EINVAL);
    ringo_json_discard(&w);
    free_req(req);
}

int main(void)
{
    test_nesting();
    test_misuse();
    test_depth();
    test_escaping();
    test_utf8();
    test_ints();
    test_doubles_fixed();
    test_doubles_edges();
#ifdef RINGO_SANITIZED
    test_doubles_random(true, 5000);
#else
    test_doubles_random(true, 50000);
#endif
    test_locale();
    test_arena_growth();
    test_large();
    test_respond();
    printf("json_write: ok\n");
    return 0;
}
