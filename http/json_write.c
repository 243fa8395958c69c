/*
 * http/json_write.c - the JSON writer (ringo/json.h).
 *
 * Everything is appended to one growing buffer: in the request arena the
 * buffer is usually the arena's last allocation, so it grows where it
 * stands (ringo__arena_grow), and otherwise doubles into a new block; in
 * malloc mode it doubles with realloc(). Each call reserves what it may
 * write before writing, so no call can run past the buffer.
 *
 * Numbers never go through the C locale: integers are converted by hand;
 * doubles too when a short exact form exists (most doubles an API sends:
 * prices, ratios, integral values), else by exact 128-bit integer
 * arithmetic between about 1e-20 and 1e34; only the rest go through
 * printf's %e, whose digits and exponent are read back while whatever
 * radix character LC_NUMERIC puts between them is skipped, and are checked
 * with strtod() on a string with no radix character at all ("31415e-4"),
 * which reads the same in every locale.
 */
#include "ringo/json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "http/request_impl.h"

#define FIRST_CAP 256

#if defined(__GNUC__)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#else
#define likely(x) (x)
#define unlikely(x) (x)
#endif

/* ---- the buffer ---- */

static void fail(ringo_json_w *w, int err)
{
    if (!w->err)
        w->err = err;
}

/* Makes room for n more bytes; false (and the sticky error) when it cannot. */
static bool grow(ringo_json_w *w, size_t n)
{
    size_t need = w->len + n, cap = w->cap ? w->cap : FIRST_CAP;
    char *b;

    if (need < w->len) {
        fail(w, -ENOMEM);
        return false;
    }
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            fail(w, -ENOMEM);
            return false;
        }
        cap *= 2;
    }
    if (w->req)
        b = ringo__arena_grow(&w->req->arena, w->buf, w->cap, cap); /* the block is cap long */
    else
        b = ringo__realloc(w->buf, cap);
    if (!b) {
        fail(w, -ENOMEM);
        return false;
    }
    w->buf = b;
    w->cap = cap;
    return true;
}

static inline bool reserve(ringo_json_w *w, size_t n)
{
    return likely(w->cap - w->len >= n) || grow(w, n);
}

static inline void put(ringo_json_w *w, const void *p, size_t n)
{
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* ---- structure ---- */

void ringo_json_begin(ringo_json_w *w, ringo_req *req)
{
    memset(w, 0, sizeof(*w));
    w->req = req;
    if (!req)
        w->err = -EINVAL;
}

void ringo_json_begin_malloc(ringo_json_w *w) { memset(w, 0, sizeof(*w)); }

void ringo_json_set_flags(ringo_json_w *w, unsigned flags) { w->flags = flags; }

/*
 * Before a value: checks that one is allowed here and writes the comma
 * that separates it from the previous element. extra bytes are reserved
 * with it (the value's own, when known).
 */
static inline bool pre_value(ringo_json_w *w, size_t extra)
{
    uint64_t bit;

    if (unlikely(w->err))
        return false;
    if (w->depth == 0) {
        if (w->len) { /* a document holds one value */
            fail(w, -EINVAL);
            return false;
        }
        return reserve(w, extra);
    }
    bit = 1ull << (w->depth - 1);
    if (w->in_obj & bit) {
        if (!w->want_value) { /* a key is due */
            fail(w, -EINVAL);
            return false;
        }
        w->want_value = false;
        return reserve(w, extra);
    }
    if (!reserve(w, extra + 1))
        return false;
    if (w->has_val & bit)
        w->buf[w->len++] = ',';
    w->has_val |= bit;
    return true;
}

static void open_container(ringo_json_w *w, char c, bool obj)
{
    uint64_t bit;

    if (!pre_value(w, 1))
        return;
    if (w->depth >= RINGO_JSON_MAX_DEPTH) {
        fail(w, -E2BIG);
        return;
    }
    bit = 1ull << w->depth;
    w->depth++;
    w->has_val &= ~bit;
    if (obj)
        w->in_obj |= bit;
    else
        w->in_obj &= ~bit;
    w->buf[w->len++] = c;
}

void ringo_json_obj(ringo_json_w *w) { open_container(w, '{', true); }

void ringo_json_arr(ringo_json_w *w) { open_container(w, '[', false); }

void ringo_json_end(ringo_json_w *w)
{
    uint64_t bit;

    if (w->err)
        return;
    if (w->depth == 0 || w->want_value) { /* nothing open, or a key without its value */
        fail(w, -EINVAL);
        return;
    }
    if (!reserve(w, 1))
        return;
    bit = 1ull << (w->depth - 1);
    w->buf[w->len++] = (w->in_obj & bit) ? '}' : ']';
    w->depth--;
}

/* ---- strings ---- */

/* Bytes copied as they are: printable ASCII but '"' and '\'. Bytes >= 0x80 are
 * checked as UTF-8 and then copied too. */
#define P16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
// clang-format off
static const uint8_t plain[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f: not '"' */
    P16, P16,                                                /* 0x30-0x4f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,          /* 0x50-0x5f: not '\' */
    P16, P16,                                                /* 0x60-0x7f */
};
// clang-format on
#undef P16

/* Whether the 8 bytes at p are all plain (see plain[]). */
static inline bool plain_word(const uint8_t *p)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t x;

    memcpy(&x, p, 8);
    /* the high bit of a byte is set where x has a byte < 0x20, 0x22, 0x5c or >= 0x80 (the
     * classic "has a zero byte" test on x ^ c, and x - 0x20 for < 0x20); a borrow may flag a
     * byte after a bad one, never a good word */
    return !(((x - ones * 0x20) | ((x ^ (ones * 0x22)) - ones) | ((x ^ (ones * 0x5c)) - ones) | x) &
             high);
}

/*
 * The first byte from p on that is not plain, or end: eight bytes at a
 * time while eight remain; the last few in one more word that overlaps
 * bytes already seen, when the string (from start) is long enough; else
 * one at a time.
 */
static inline const uint8_t *plain_run(const uint8_t *start, const uint8_t *p, const uint8_t *end)
{
    while (end - p >= 8 && plain_word(p))
        p += 8;
    if (end - p < 8 && end - start >= 8 && plain_word(end - 8))
        return end;
    while (p < end && plain[*p])
        p++;
    return p;
}

/*
 * The UTF-8 sequence at p (p[0] >= 0x80), RFC 3629 §4: its length when it
 * is valid (*ok true); else the length of its maximal subpart, the longest
 * prefix that could have started a valid sequence, at least 1, which is
 * what one U+FFFD replaces (Unicode §3.9, "U+FFFD substitution of maximal
 * subparts"; WHATWG's decoder does the same). The WebSocket validator
 * (http/ws/utf8.c) answers only valid or not, so the ranges are repeated.
 */
static size_t utf8_seq(const uint8_t *p, const uint8_t *end, bool *ok)
{
    uint8_t b = p[0], lo = 0x80, hi = 0xbf;
    size_t need, i;

    *ok = false;
    if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        if (b == 0xe0)
            lo = 0xa0; /* below: overlong */
        else if (b == 0xed)
            hi = 0x9f; /* above: a surrogate */
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        if (b == 0xf0)
            lo = 0x90; /* below: overlong */
        else if (b == 0xf4)
            hi = 0x8f; /* above: past U+10FFFF */
    } else {
        return 1; /* a stray tail, C0/C1 (always overlong) or F5-FF */
    }
    for (i = 1; i <= need; i++) {
        if (p + i >= end || p[i] < lo || p[i] > hi)
            return i;
        lo = 0x80;
        hi = 0xbf;
    }
    *ok = true;
    return i;
}

static const char hexd[] = "0123456789abcdef";

/* Writes the escape for ASCII byte c (a control character, '"' or '\'); 6 bytes reserved. */
static void escape(ringo_json_w *w, uint8_t c)
{
    char *o = w->buf + w->len;
    char s;

    switch (c) {
    case '"': s = '"'; break;
    case '\\': s = '\\'; break;
    case '\n': s = 'n'; break;
    case '\t': s = 't'; break;
    case '\r': s = 'r'; break;
    case '\b': s = 'b'; break;
    case '\f': s = 'f'; break;
    default:
        memcpy(o, "\\u00", 4);
        o[4] = hexd[c >> 4];
        o[5] = hexd[c & 15];
        w->len += 6;
        return;
    }
    o[0] = '\\';
    o[1] = s;
    w->len += 2;
}

/* Appends s[0..len) as a JSON string, quotes included. */
static void put_string(ringo_json_w *w, const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + len;

    if (!reserve(w, len + 2))
        return;
    w->buf[w->len++] = '"';
    while (p < end) {
        const uint8_t *run = p;
        bool ok = true;
        size_t n = 0;

        for (;;) { /* plain ASCII and valid UTF-8, up to a byte to escape or replace */
            p = plain_run((const uint8_t *)s, p, end);
            if (p == end || *p < 0x80 || (n = utf8_seq(p, end, &ok), !ok))
                break;
            p += n;
        }
        /* the run, the closing quote, and room for one escape or U+FFFD */
        if (!reserve(w, (size_t)(p - run) + 7))
            return;
        put(w, run, (size_t)(p - run));
        if (p == end)
            break;
        if (*p < 0x80) {
            escape(w, *p++);
        } else if (w->flags & RINGO_JSON_UTF8_STRICT) {
            fail(w, -EILSEQ);
            return;
        } else {
            put(w, "\xef\xbf\xbd", 3);
            p += n;
        }
    }
    w->buf[w->len++] = '"'; /* reserved with the last run */
}

void ringo_json_key(ringo_json_w *w, const char *key) { ringo_json_keyn(w, key, strlen(key)); }

void ringo_json_keyn(ringo_json_w *w, const char *key, size_t len)
{
    uint64_t bit;

    if (w->err)
        return;
    bit = w->depth ? 1ull << (w->depth - 1) : 0;
    if (!(w->in_obj & bit) || w->want_value) { /* not in an object, or a value is due */
        fail(w, -EINVAL);
        return;
    }
    if (!reserve(w, 1))
        return;
    if (w->has_val & bit)
        w->buf[w->len++] = ',';
    w->has_val |= bit;
    put_string(w, key, len);
    if (reserve(w, 1))
        w->buf[w->len++] = ':';
    w->want_value = true;
}

void ringo_json_str(ringo_json_w *w, const char *s, size_t len)
{
    if (pre_value(w, 0))
        put_string(w, s, len);
}

void ringo_json_cstr(ringo_json_w *w, const char *s)
{
    if (!s)
        ringo_json_null(w);
    else
        ringo_json_str(w, s, strlen(s));
}

/* ---- literals ---- */

static void literal(ringo_json_w *w, const char *s, size_t n)
{
    if (pre_value(w, n))
        put(w, s, n);
}

void ringo_json_bool(ringo_json_w *w, bool v)
{
    if (v)
        literal(w, "true", 4);
    else
        literal(w, "false", 5);
}

void ringo_json_null(ringo_json_w *w) { literal(w, "null", 4); }

void ringo_json_raw(ringo_json_w *w, const char *json, size_t len)
{
    if (pre_value(w, len))
        put(w, json, len);
}

/* ---- integers ---- */

static const char pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes v's decimal digits ending just before o; returns where they start. */
static char *digits_back(char *o, uint64_t v)
{
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        o -= 2;
        memcpy(o, pairs + 2 * r, 2);
    }
    if (v >= 10) {
        o -= 2;
        memcpy(o, pairs + 2 * v, 2);
    } else {
        *--o = (char)('0' + v);
    }
    return o;
}

static void put_u64(ringo_json_w *w, uint64_t v, bool neg)
{
    char tmp[24], *end = tmp + sizeof(tmp), *o = digits_back(end, v);

    if (neg)
        *--o = '-';
    if (pre_value(w, (size_t)(end - o)))
        put(w, o, (size_t)(end - o));
}

void ringo_json_int(ringo_json_w *w, int64_t v)
{
    /* the magnitude in unsigned arithmetic: -INT64_MIN does not fit int64_t */
    put_u64(w, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void ringo_json_uint(ringo_json_w *w, uint64_t v) { put_u64(w, v, false); }

/* ---- doubles ---- */

/* Powers of ten a double holds exactly. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * The shortest decimal for v > 0 when it has at most about 15 digits and
 * few enough decimals: the smallest d such that m = round(v * 10^d) gives
 * back v as m / 10^d. m and 10^d are exact doubles, so the division is
 * rounded once, as strtod() rounds the decimal m·10^-d: v is then what a
 * reader gets. Kept below 2^50 so that the rounding of v * 10^d is at most
 * 0.19 away from the decimal it approximates: when a d-decimal form exists,
 * round() finds it, so the smallest d found is the shortest. Returns 1 when
 * found; 0 when v < 2^50 has no form of 15 digits or fewer (every d up to
 * 10^15 <= v * 10^d was tried); -1 when it cannot tell (the caller then
 * asks printf).
 */
static bool exact_at(double v, int d, uint64_t *m)
{
    *m = (uint64_t)(v * pow10_exact[d] + 0.5);
    return (double)*m / pow10_exact[d] == v;
}

static int short_exact(double v, uint64_t *m, int *d)
{
    uint64_t bits;
    int lo = 0, hi, e2;

    if (v >= 1125899906842624.0) /* 2^50 */
        return -1;
    /* hi: the most decimals that keep v * 10^d below 2^50, from log10(2^50 / v) */
    memcpy(&bits, &v, sizeof(bits));
    e2 = (int)(bits >> 52) - 1023; /* v >= 2^e2; 49 at most here */
    hi = ((49 - e2) * 78913) >> 18;
    if (hi > 22)
        hi = 22;
    while (hi > 0 && v * pow10_exact[hi] >= 1125899906842624.0)
        hi--;
    while (hi < 22 && v * pow10_exact[hi + 1] < 1125899906842624.0)
        hi++;
    if (hi == 22)
        return -1; /* too small to tell */
    if (!exact_at(v, hi, m))
        return 0;
    /* a d-decimal form that reads back gives a (d+1)-decimal one: the smallest is searched */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (exact_at(v, mid, m))
            hi = mid;
        else
            lo = mid + 1;
    }
    exact_at(v, lo, m);
    *d = lo;
    return 1;
}

/*
 * printf's %.*e of v > 0 with prec significant digits, read back as digits
 * (trailing zeros dropped) and the exponent of the first one. The radix
 * character (whatever LC_NUMERIC says, even several bytes) is skipped.
 */
static int sci_digits(double v, int prec, char *dig, int *exp10)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.*e", prec - 1, v), k = 0, i = 0;

    if (n <= 0 || n >= (int)sizeof(buf))
        return 0;
    for (; i < n && buf[i] != 'e'; i++)
        if (buf[i] >= '0' && buf[i] <= '9')
            dig[k++] = buf[i];
    if (i == n)
        return 0;
    *exp10 = atoi(buf + i + 1);
    while (k > 1 && dig[k - 1] == '0')
        k--;
    return k;
}

/*
 * Whether digits dig[0..k) with the first one at 10^exp10 read back as v.
 * When the digits make an integer m below 2^53 and the power of ten is
 * exact, m * 10^q (or m / 10^-q) is rounded once, exactly as a correct
 * strtod() rounds the decimal (Clinger's fast path), so no strtod() call.
 */
static bool reads_back(double v, const char *dig, int k, int exp10)
{
    char buf[48];
    uint64_t m = 0;
    int q = exp10 - (k - 1);

    for (int i = 0; i < k; i++)
        m = m * 10 + (uint64_t)(dig[i] - '0');
    if (m < (1ull << 53) && q >= -22 && q <= 22)
        return (q >= 0 ? (double)m * pow10_exact[q] : (double)m / pow10_exact[-q]) == v;
    memcpy(buf, dig, (size_t)k);
    snprintf(buf + k, sizeof(buf) - (size_t)k, "e%d", q); /* no radix character */
    return strtod(buf, NULL) == v;
}

/*
 * Exact digits for the common range, without printf: v = f * 2^e (f the
 * 53-bit significand of a normal double) times 10^q is the fraction
 * num / den of two 128-bit integers (num = f * h, h = 2^max(e,0) *
 * 10^max(q,0), den = 2^max(-e,0) * 10^max(-q,0)), so the correctly rounded
 * p-digit decimal m = round(num / den) is exact integer arithmetic, and so
 * is whether m reads back: the decimal m * 10^-q must lie within half a gap
 * of v, where the gap to the next double up is 2^e, i.e. h / den once
 * scaled, and the gap down is half that when f = 2^52 (v is a power of 2);
 * at exactly half a gap the reader rounds to the even significand. Up to 17
 * digits m fits 64 bits. Returns 1 (reads back), 0 (does not), or -1 when
 * the integers would not fit (v below about 1e-20 or above 1e34, where the
 * caller asks printf).
 */
typedef unsigned __int128 u128;

static const uint64_t pow10_u64[20] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};

/* 10^n for n <= 38 */
static u128 pow10_128(int n)
{
    return n < 20 ? pow10_u64[n] : (u128)pow10_u64[19] * pow10_u64[n - 19];
}

struct dec {
    uint64_t m; /* p digits */
    int exp10;  /* of m's first digit */
};

static int exact_digits(uint64_t f, int e, int p, int *k10, struct dec *out)
{
    for (int tries = 0; tries < 4; tries++) {
        int q = p - 1 - *k10;
        u128 h = 1, den = 1, num, m, rem, dist, lo = pow10_128(p - 1);
        bool up;

        if (e > 60 || e < -120 || q > 38 || q < -38)
            return -1;
        if (e >= 0)
            h <<= e;
        else
            den <<= -e;
        if (q >= 0 ? __builtin_mul_overflow(h, pow10_128(q), &h)
                   : __builtin_mul_overflow(den, pow10_128(-q), &den))
            return -1;
        if (__builtin_mul_overflow(h, (u128)f, &num) || num >> 125 || den >> 125)
            return -1;
        if (q >= 0 && e < 0) { /* den is 2^-e: the common case, no 128-bit division */
            m = num >> -e;
            rem = num & (den - 1);
        } else {
            m = num / den;
            rem = num % den;
        }
        if (m < lo) { /* k10 guessed one too high */
            (*k10)--;
            continue;
        }
        if (m >= lo * 10) { /* one too low */
            (*k10)++;
            continue;
        }
        /* *k10 is now floor(log10 v): it stays so for the next p, even when rounding up
         * carries into a new digit (9.99...5 to 10.0), which moves this p's exponent only */
        up = 2 * rem > den || (2 * rem == den && (m & 1));
        m += up;
        out->exp10 = *k10;
        if (m == lo * 10) {
            m = lo;
            out->exp10++;
        }
        out->m = (uint64_t)m;
        dist = up ? den - rem : rem;
        if (!up && f == 1ull << 52) /* the gap below a power of 2 is half as wide */
            dist *= 2;
        return 2 * dist < h || (2 * dist == h && !(f & 1));
    }
    return -1;
}

/* Shortest digits for a normal v > 0 by exact_digits(); 0 when out of its range. */
static int exact_shortest(double v, bool over15, char *dig, int *exp10)
{
    uint64_t bits, f;
    int e, k10, t, r = -1;
    struct dec d;

    memcpy(&bits, &v, sizeof(bits));
    f = (bits & ((1ull << 52) - 1)) | 1ull << 52;
    e = (int)(bits >> 52) - 1075;
    t = (e + 52) * 78913; /* floor(log2 v) * log10(2) * 2^18: log10 v, maybe one too low */
    k10 = t >= 0 ? t >> 18 : -((-t + 262143) >> 18);
    for (int p = over15 ? 16 : 15; p <= 17; p++) {
        r = exact_digits(f, e, p, &k10, &d);
        if (r < 0)
            return 0;
        if (r > 0 || p == 17)
            break;
    }
    {
        char tmp[24], *end = tmp + sizeof(tmp), *s = digits_back(end, d.m);
        int k = (int)(end - s);

        while (k > 1 && s[k - 1] == '0')
            k--;
        memcpy(dig, s, (size_t)k);
        *exp10 = d.exp10;
        return k;
    }
}

/*
 * The shortest digits that read back as v > 0, printf's way: the correctly
 * rounded form with p significant digits reads back for every p from some
 * p0 on (each is at least as close as the one before), so p0 is searched.
 * A normal double has 15.95 digits of precision: its 15-digit form, if it
 * reads back, is the only one of at most 15 digits that does (two such
 * decimals are farther apart than the double's rounding interval), and its
 * 17-digit form always reads back (over15: short_exact() proved that
 * there is no form of 15 digits or fewer). Subnormals hold fewer digits (5e-324):
 * all of 1..17 are searched.
 */
static int shortest_digits(double v, bool over15, char *dig, int *exp10)
{
    int lo = 1, hi = 17, k;

    if (v >= DBL_MIN) {
        k = exact_shortest(v, over15, dig, exp10);
        if (k)
            return k;
        k = over15 ? 0 : sci_digits(v, 15, dig, exp10);
        if (k && reads_back(v, dig, k, *exp10))
            return k;
        k = sci_digits(v, 16, dig, exp10);
        if (k && reads_back(v, dig, k, *exp10))
            return k;
        return sci_digits(v, 17, dig, exp10);
    }
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        k = sci_digits(v, mid, dig, exp10);
        if (k && reads_back(v, dig, k, *exp10))
            hi = mid;
        else
            lo = mid + 1;
    }
    return sci_digits(v, lo, dig, exp10);
}

/*
 * Lays out digits dig[0..k) (no trailing zero) with the first at 10^e the
 * way ECMAScript's Number::toString does (ECMA-262 §6.1.6.1.20): plain
 * digits up to 10^21, "0.000001" down to 1e-6, exponent form ("1e+21",
 * "5e-324", "1.5e-7") beyond. Returns the length written to o (<= 26).
 */
static size_t layout(char *o, const char *dig, int k, int e)
{
    int n = e + 1; /* the decimal point sits after n digits */
    char *s = o;

    if (k <= n && n <= 21) {
        memcpy(s, dig, (size_t)k);
        memset(s + k, '0', (size_t)(n - k));
        return (size_t)n;
    }
    if (0 < n && n <= 21) {
        memcpy(s, dig, (size_t)n);
        s[n] = '.';
        memcpy(s + n + 1, dig + n, (size_t)(k - n));
        return (size_t)k + 1;
    }
    if (-6 < n && n <= 0) {
        memcpy(s, "0.", 2);
        memset(s + 2, '0', (size_t)-n);
        memcpy(s + 2 - n, dig, (size_t)k);
        return (size_t)(2 - n + k);
    }
    *s++ = dig[0];
    if (k > 1) {
        *s++ = '.';
        memcpy(s, dig + 1, (size_t)(k - 1));
        s += k - 1;
    }
    *s++ = 'e';
    *s++ = e < 0 ? '-' : '+';
    {
        char tmp[8], *t = digits_back(tmp + sizeof(tmp), (uint64_t)(e < 0 ? -e : e));
        size_t tn = (size_t)(tmp + sizeof(tmp) - t);
        memcpy(s, t, tn);
        s += tn;
    }
    return (size_t)(s - o);
}

/* Writes v's shortest round-trip form to o (at least 32 bytes); returns its length. */
static size_t format_double(char *o, double v)
{
    char dig[24];
    size_t neg = 0;
    uint64_t m;
    int d, k, e, found;

    if (signbit(v)) {
        *o++ = '-';
        v = -v;
        neg = 1;
    }
    if (v == 0) {
        *o = '0';
        return neg + 1;
    }
    found = short_exact(v, &m, &d);
    if (found > 0) {
        char *end = dig + sizeof(dig), *p = digits_back(end, m);
        k = (int)(end - p);
        e = k - 1 - d;
        while (k > 1 && p[k - 1] == '0')
            k--;
        return neg + layout(o, p, k, e);
    }
    k = shortest_digits(v, found == 0, dig, &e);
    if (!k) { /* snprintf cannot fail on these buffers; be safe anyway */
        memcpy(o - neg, "null", 4);
        return 4;
    }
    return neg + layout(o, dig, k, e);
}

void ringo_json_double(ringo_json_w *w, double v)
{
    char tmp[40];
    size_t n;

    if (!isfinite(v)) { /* JSON has no NaN or infinities */
        ringo_json_null(w);
        return;
    }
    n = format_double(tmp, v);
    if (pre_value(w, n))
        put(w, tmp, n);
}

/* ---- the end ---- */

int ringo_json_finish(ringo_json_w *w, char **out, size_t *len)
{
    if (!w->err && (w->depth || !w->len))
        fail(w, -EINVAL); /* unbalanced, or nothing written */
    if (!w->err && reserve(w, 1))
        w->buf[w->len] = '\0'; /* not counted: for callers that want a C string */
    if (w->err)
        return w->err;
    if (out)
        *out = w->buf;
    if (len)
        *len = w->len;
    return 0;
}

void ringo_json_discard(ringo_json_w *w)
{
    if (!w->req)
        ringo__free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

int ringo_json_respond(ringo_json_w *w, int status)
{
    int ret;

    if (!w->req)
        return w->err ? w->err : -EINVAL;
    ret = ringo_json_finish(w, NULL, NULL);
    if (ret)
        return ret;
    if (status < 200 || status > 999)
        return -EINVAL;
    /* the header first: it is what can fail (-ENOMEM, or -EALREADY once streaming) */
    ret = ringo_resp_add_header(w->req, "Content-Type", RINGO_STR_LIT("application/json"));
    if (ret)
        return ret;
    ringo_resp_set_status(w->req, status);
    return ringo_resp_set_body_ref(w->req, w->buf, w->len);
}
