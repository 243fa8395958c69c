/*
 * http/json.c - the strict RFC 8259 pull parser of http/json.h.
 *
 * One call lexes one token and leaves the cursor after it; the state says
 * what may come next (a value, a key or '}', ',' or a closing bracket, the
 * end). Errors carry the message and the position Python's json module gives
 * for the same document, so that a 422 reads like FastAPI's: a number cut
 * short ("1.") is "Extra data" at the top level and "Expecting ',' delimiter"
 * inside a container, as there, because Python's number pattern stops before
 * the '.' and the caller trips over it.
 *
 * Cost: strings are scanned eight bytes at a time for '"', '\', control
 * characters and non-ASCII; a string without escapes is returned in place.
 * One with escapes is checked first, then decoded into exactly its raw
 * length of allocated memory. Numbers are accumulated while lexing; a
 * double that Clinger's fast path cannot give exactly goes to strtod_l() in
 * the C locale (an application's setlocale() must not change what "1.5" is).
 * Duplicate keys: the keys of the open objects are kept on one stack (an
 * object's keys are popped when it closes); a new key is compared with its
 * object's keys one by one while the object has few (only when a 64-bit
 * filter says it may repeat one), and looked up in a
 * per-level hash table (SipHash-1-3, random key per process: a client cannot
 * choose colliding names) once it has more.
 */
#include "http/json.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/alloc.h"

enum { S_VALUE, S_FIRST_ARR, S_FIRST_OBJ, S_AFTER, S_DONE, S_ERROR };

enum {
    M_NONE,
    M_VALUE,
    M_COMMA,
    M_COLON,
    M_PROP,
    M_UNTERM,
    M_CTRL,
    M_ESC,
    M_UESC,
    M_SURR,
    M_EXTRA,
    M_BOM,
    M_UTF8,
    M_DEPTH,
    M_DUP,
    M_RANGE,
    M_NOMEM,
};

static const char *const messages[] = {
    [M_NONE] = "No error",
    [M_VALUE] = "Expecting value",
    [M_COMMA] = "Expecting ',' delimiter",
    [M_COLON] = "Expecting ':' delimiter",
    [M_PROP] = "Expecting property name enclosed in double quotes",
    [M_UNTERM] = "Unterminated string starting at",
    [M_CTRL] = "Invalid control character at",
    [M_ESC] = "Invalid \\escape",
    [M_UESC] = "Invalid \\uXXXX escape",
    [M_SURR] = "Unpaired surrogate in \\uXXXX escape",
    [M_EXTRA] = "Extra data",
    [M_BOM] = "Unexpected UTF-8 BOM (decode using utf-8-sig)",
    [M_UTF8] = "Invalid UTF-8 at",
    [M_DEPTH] = "Maximum nesting depth exceeded",
    [M_DUP] = "Duplicate key",
    [M_RANGE] = "Number out of range",
    [M_NOMEM] = "Out of memory",
};

/* Objects with more keys than this are checked for duplicates by hashing. */
#define LINEAR_KEYS 32

struct jtab {
    uint64_t *slot; /* (generation << 32) | (key index + 1); another generation: empty */
    uint32_t mask, gen;
};

struct ringo__jkeys {
    ringo_str *k; /* the keys of every open object, innermost object's last */
    uint32_t n, cap;
    uint32_t *start;  /* per level: the index of that object's first key */
    uint64_t *seen;   /* per level: a bit per key_bit() of that object's keys */
    struct jtab *tab; /* per level, made at the first object with many keys */
};

/* A block of a lexer without an allocator: freed by ringo__jlex_free(). */
struct jblock {
    struct jblock *next;
    alignas(max_align_t) char data[];
};

static void *jalloc(ringo__jlex *lx, size_t n)
{
    struct jblock *b;

    if (lx->alloc)
        return lx->alloc(lx->alloc_ctx, n);
    b = ringo__malloc(sizeof(*b) + n);
    if (!b)
        return NULL;
    b->next = lx->blocks;
    lx->blocks = b;
    return b->data;
}

static ringo__jtok fail(ringo__jlex *lx, ringo__jerr err, int msg, const char *at)
{
    lx->err = err;
    lx->msg = (uint8_t)msg;
    lx->err_pos = (size_t)(at - lx->base);
    lx->state = S_ERROR;
    return RINGO__JTOK_ERROR;
}

void ringo__jlex_init(ringo__jlex *lx, const char *buf, size_t len, unsigned max_depth,
                      ringo__jalloc_fn alloc, void *ctx)
{
    memset(lx, 0, sizeof(*lx));
    lx->base = lx->p = buf;
    lx->end = buf + len;
    if (max_depth == 0)
        max_depth = RINGO__JSON_DEFAULT_DEPTH;
    lx->max_depth = max_depth > RINGO__JSON_MAX_DEPTH ? RINGO__JSON_MAX_DEPTH : max_depth;
    lx->state = S_VALUE;
    lx->alloc = alloc;
    lx->alloc_ctx = ctx;
}

void ringo__jlex_free(ringo__jlex *lx)
{
    struct jblock *b = lx->blocks, *next;

    for (; b; b = next) {
        next = b->next;
        ringo__free(b);
    }
    lx->blocks = NULL;
    lx->keys = NULL;
}

/* ---- duplicate keys ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t v[4])
{
    v[0] += v[1], v[1] = ROTL(v[1], 13), v[1] ^= v[0], v[0] = ROTL(v[0], 32);
    v[2] += v[3], v[3] = ROTL(v[3], 16), v[3] ^= v[2];
    v[0] += v[3], v[3] = ROTL(v[3], 21), v[3] ^= v[0];
    v[2] += v[1], v[1] = ROTL(v[1], 17), v[1] ^= v[2], v[2] = ROTL(v[2], 32);
}

/* SipHash-1-3 (one compression round, three finalization rounds). The
 * table lives in this process only, so byte order does not matter. */
static uint64_t siphash13(const uint64_t key[2], const char *p, size_t len)
{
    uint64_t v[4] = {key[0] ^ 0x736f6d6570736575ull, key[1] ^ 0x646f72616e646f6dull,
                     key[0] ^ 0x6c7967656e657261ull, key[1] ^ 0x7465646279746573ull};
    uint64_t m, last = (uint64_t)len << 56;
    size_t i = 0;

    for (; len - i >= 8; i += 8) {
        memcpy(&m, p + i, 8);
        v[3] ^= m;
        sipround(v);
        v[0] ^= m;
    }
    for (unsigned s = 0; i < len; i++, s += 8)
        last |= (uint64_t)(uint8_t)p[i] << s;
    v[3] ^= last;
    sipround(v);
    v[0] ^= last;
    v[2] ^= 0xff;
    sipround(v);
    sipround(v);
    sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint64_t sip_key[2];
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_init(void)
{
    struct timespec ts;

    if (getrandom(sip_key, sizeof(sip_key), GRND_NONBLOCK) == (ssize_t)sizeof(sip_key))
        return;
    /* No entropy yet (early boot): still unknown to a remote client. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sip_key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&ts;
    sip_key[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)sip_key;
}

static bool str_eq(ringo_str a, ringo_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Inserts key index ki into t; true when an equal key is there already. */
static bool tab_put(const struct ringo__jkeys *ks, struct jtab *t, uint32_t ki)
{
    ringo_str k = ks->k[ki];
    uint32_t i = (uint32_t)siphash13(sip_key, k.ptr, k.len) & t->mask;

    for (;; i = (i + 1) & t->mask) {
        uint64_t s = t->slot[i];
        if ((uint32_t)(s >> 32) != t->gen) {
            t->slot[i] = (uint64_t)t->gen << 32 | (ki + 1);
            return false;
        }
        if (str_eq(ks->k[(uint32_t)s - 1], k))
            return true;
    }
}

/*
 * Readies the table of an object with count keys (its newest not yet in it):
 * fresh when the object has just passed LINEAR_KEYS, then its keys go in
 * under a new generation (emptying the table without touching it); a table
 * too small for count is replaced by a bigger one and refilled.
 * 0 or -1 (out of memory).
 */
static int tab_fit(ringo__jlex *lx, struct jtab *t, uint32_t first, uint32_t count, bool fresh)
{
    size_t size = t->slot ? (size_t)t->mask + 1 : 0;

    if (fresh && ++t->gen == 0) {
        if (t->slot)
            memset(t->slot, 0, size * sizeof(uint64_t));
        t->gen = 1; /* 0 would match the empty slots of a new table */
    }
    if ((size_t)count * 2 > size) {
        size = size ? size * 2 : 64;
        while (size < (size_t)count * 2)
            size *= 2;
        if (size > (size_t)UINT32_MAX + 1 || !(t->slot = jalloc(lx, size * sizeof(uint64_t))))
            return -1;
        memset(t->slot, 0, size * sizeof(uint64_t));
        t->mask = (uint32_t)(size - 1);
    } else if (!fresh) {
        return 0;
    }
    for (uint32_t i = first; i < first + count - 1; i++)
        (void)tab_put(lx->keys, t, i);
    return 0;
}

static int key_hashed(ringo__jlex *lx, unsigned level, uint32_t first, uint32_t count,
                      const char *at)
{
    struct ringo__jkeys *ks = lx->keys;

    if (!ks->tab) {
        pthread_once(&sip_once, sip_init);
        if (!(ks->tab = jalloc(lx, lx->max_depth * sizeof(*ks->tab))))
            return fail(lx, RINGO__JERR_NOMEM, M_NOMEM, at);
        memset(ks->tab, 0, lx->max_depth * sizeof(*ks->tab));
    }
    if (tab_fit(lx, &ks->tab[level], first, count, count == LINEAR_KEYS + 1) < 0)
        return fail(lx, RINGO__JERR_NOMEM, M_NOMEM, at);
    if (tab_put(ks, &ks->tab[level], first + count - 1))
        return fail(lx, RINGO__JERR_DUP_KEY, M_DUP, at);
    return 0;
}

/* One of 64 bits for a key, from its length and its ends: a key whose bit
 * no earlier key of its object has set cannot be a duplicate, which spares
 * most of the comparisons in a typical object with distinct names. */
static inline uint64_t key_bit(ringo_str k)
{
    unsigned h = (unsigned)k.len;

    if (k.len)
        h += (uint8_t)k.ptr[0] * 3u + (uint8_t)k.ptr[k.len - 1] * 7u;
    return 1ull << (h & 63);
}

/* Records key in the innermost object: 0, or an error token. */
static int key_add(ringo__jlex *lx, ringo_str key, const char *at)
{
    struct ringo__jkeys *ks = lx->keys;
    unsigned level = lx->depth - 1;
    uint32_t first = ks->start[level], count;

    if (ks->n == ks->cap) {
        uint32_t cap = ks->cap * 2;
        ringo_str *k = cap > ks->cap ? jalloc(lx, cap * sizeof(*k)) : NULL;
        if (!k)
            return fail(lx, RINGO__JERR_NOMEM, M_NOMEM, at);
        memcpy(k, ks->k, ks->n * sizeof(*k));
        ks->k = k;
        ks->cap = cap;
    }
    count = ks->n - first;
    ks->k[ks->n++] = key;
    if (count < LINEAR_KEYS) {
        uint64_t bit = key_bit(key);
        if (!(ks->seen[level] & bit)) {
            ks->seen[level] |= bit;
            return 0;
        }
        for (uint32_t i = first; i < first + count; i++)
            if (str_eq(ks->k[i], key))
                return fail(lx, RINGO__JERR_DUP_KEY, M_DUP, at);
        return 0;
    }
    return key_hashed(lx, level, first, count + 1, at);
}

/* An object opens at level lx->depth - 1: its keys start on top of the stack. */
static int keys_open(ringo__jlex *lx, const char *at)
{
    struct ringo__jkeys *ks = lx->keys;

    if (!ks) {
        ks = jalloc(lx, sizeof(*ks) + lx->max_depth * (sizeof(uint64_t) + sizeof(uint32_t)));
        ringo_str *k = jalloc(lx, 32 * sizeof(*k));
        if (!ks || !k)
            return fail(lx, RINGO__JERR_NOMEM, M_NOMEM, at);
        memset(ks, 0, sizeof(*ks));
        ks->seen = (uint64_t *)(ks + 1);
        ks->start = (uint32_t *)(ks->seen + lx->max_depth);
        ks->k = k;
        ks->cap = 32;
        lx->keys = ks;
    }
    ks->start[lx->depth - 1] = ks->n;
    ks->seen[lx->depth - 1] = 0;
    return 0;
}

/* ---- strings ---- */

/* A hex digit's value plus one: 0 is "not a hex digit". */
static const int8_t hexval[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* The four hex digits at p: 0..0xffff, or -1. */
static int32_t hex4(const char *p)
{
    int32_t v = 0;

    for (int i = 0; i < 4; i++) {
        int8_t h = hexval[(uint8_t)p[i]];
        if (!h)
            return -1;
        v = v << 4 | (h - 1);
    }
    return v;
}

/* Length of the UTF-8 sequence at p (RFC 3629 §4: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0 when it is invalid or cut short. */
static size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
    uint8_t b = p[0], lo = 0x80, hi = 0xbf;
    size_t n;

    if (b < 0xc2)
        return 0; /* a stray continuation byte, or C0/C1 (always overlong) */
    if (b < 0xe0) {
        n = 2;
    } else if (b < 0xf0) {
        n = 3;
        lo = b == 0xe0 ? 0xa0 : 0x80; /* below: overlong */
        hi = b == 0xed ? 0x9f : 0xbf; /* above: a surrogate */
    } else if (b < 0xf5) {
        n = 4;
        lo = b == 0xf0 ? 0x90 : 0x80; /* below: overlong */
        hi = b == 0xf4 ? 0x8f : 0xbf; /* above: past U+10FFFF */
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/*
 * Nonzero when one of the eight bytes in w is '"', '\', below 0x20 or above
 * 0x7f. The lowest flagged byte is always a true one: the borrows that can
 * flag a byte wrongly only run upwards from a true one.
 */
static inline uint64_t special8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w) & high;
}

/* Skips bytes that need no attention; stops at a special one or near the end. */
static inline const char *plain_run(const char *p, const char *end)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) {
        uint64_t w, m;
        memcpy(&w, p, 8);
        if ((m = special8(w)))
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#endif
    return p;
}

/*
 * Checks the escape whose backslash is at p; returns where it ends, or NULL
 * with the error set. q is the string's opening quote (for "Unterminated").
 */
static const char *check_escape(ringo__jlex *lx, const char *q, const char *p)
{
    const char *end = lx->end, *u = p + 1;
    int32_t cp, lo;

    if (u == end) {
        fail(lx, RINGO__JERR_EOF, M_UNTERM, q);
        return NULL;
    }
    switch (*u) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't': return u + 1;
    case 'u': break;
    default: fail(lx, RINGO__JERR_STRING, M_ESC, p); return NULL;
    }
    /* Python wants a byte after the four digits (the closing quote at least). */
    if (end - u < 6 || (cp = hex4(u + 1)) < 0) {
        fail(lx, end - u < 6 ? RINGO__JERR_EOF : RINGO__JERR_STRING, M_UESC, u);
        return NULL;
    }
    if (cp < 0xd800 || cp > 0xdfff)
        return u + 5;
    /* RFC 8259 §7: a character beyond the BMP is a high and a low surrogate. */
    if (cp <= 0xdbff && end - u >= 11 && u[5] == '\\' && u[6] == 'u') {
        if ((lo = hex4(u + 7)) < 0) {
            fail(lx, RINGO__JERR_STRING, M_UESC, u + 6);
            return NULL;
        }
        if (lo >= 0xdc00 && lo <= 0xdfff)
            return u + 11;
    }
    fail(lx, RINGO__JERR_STRING, M_SURR, u);
    return NULL;
}

/*
 * Checks the string whose opening quote is at q; returns the byte after its
 * closing quote, or NULL with the error set. *esc: whether it has escapes.
 */
static const char *check_string(ringo__jlex *lx, const char *q, bool *esc)
{
    const char *p = q + 1, *end = lx->end;

    *esc = false;
    for (;;) {
        uint8_t c;
        p = plain_run(p, end);
        if (p == end) {
            fail(lx, RINGO__JERR_EOF, M_UNTERM, q);
            return NULL;
        }
        c = (uint8_t)*p;
        if (c == '"') {
            return p + 1;
        } else if (c == '\\') {
            *esc = true;
            if (!(p = check_escape(lx, q, p)))
                return NULL;
        } else if (c < 0x20) {
            fail(lx, RINGO__JERR_STRING, M_CTRL, p);
            return NULL;
        } else if (c >= 0x80) {
            size_t n = utf8_seq((const uint8_t *)p, (const uint8_t *)end);
            if (!n) {
                fail(lx, RINGO__JERR_UTF8, M_UTF8, p);
                return NULL;
            }
            p += n;
        } else {
            p++;
        }
    }
}

static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* Decodes the checked string body p[0..end) into o; returns the length. A
 * \u escape (6 bytes, or 12 for a pair) never decodes to more than its size. */
static size_t decode(char *o, const char *p, const char *end)
{
    char *start = o;

    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t n = (size_t)((bs ? bs : end) - p);
        memcpy(o, p, n);
        o += n;
        if (!bs)
            break;
        switch (bs[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(bs + 2);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)hex4(bs + 8) - 0xdc00);
                bs += 6;
            }
            o = put_utf8(o, cp);
            bs += 4;
            break;
        }
        default: *o++ = bs[1]; break; /* " \ / */
        }
        p = bs + 2;
    }
    return (size_t)(o - start);
}

/*
 * The string at q into lx->str (decoded unless decode is false: then the raw
 * body, escapes and all) and lx->raw; returns the byte after it or NULL.
 */
static const char *string(ringo__jlex *lx, const char *q, bool want)
{
    bool esc;
    const char *after = check_string(lx, q, &esc);
    size_t n;
    char *o;

    if (!after)
        return NULL;
    n = (size_t)(after - q) - 2;
    lx->raw = (ringo_str){q, n + 2};
    lx->str = (ringo_str){q + 1, n};
    if (!esc || !want)
        return after;
    if (!(o = jalloc(lx, n))) {
        fail(lx, RINGO__JERR_NOMEM, M_NOMEM, q);
        return NULL;
    }
    lx->str = (ringo_str){o, decode(o, q + 1, q + 1 + n)};
    return after;
}

/* ---- numbers ---- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* The double the number text p[0..n) stands for, correctly rounded; an
 * overflow gives an infinity. -1 when out of memory. */
static int slow_double(const char *p, size_t n, double *d)
{
    char small[128], *s = n < sizeof(small) ? small : ringo__malloc(n + 1);

    pthread_once(&c_locale_once, c_locale_init);
    if (!s || !c_locale) {
        if (s != small)
            ringo__free(s);
        return -1;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    *d = strtod_l(s, NULL, c_locale);
    if (s != small)
        ringo__free(s);
    return 0;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* What a number's digits added up to while it was lexed. */
struct num {
    uint64_t m;   /* the first 19 significant digits */
    unsigned sig; /* significant digits seen (more than 19: m is cut short) */
    int64_t e10;  /* the value is m * 10^e10 when sig <= 19 */
};

static const char *digits(const char *p, const char *end, struct num *v, bool frac)
{
    for (; p < end && (uint8_t)(*p - '0') < 10; p++) {
        if (v->m == 0 && *p == '0') {
            /* a leading zero: not significant */
        } else if (v->sig++ < 19) {
            v->m = v->m * 10 + (uint64_t)(*p - '0');
        } else if (frac) {
            continue; /* dropped; sig > 19 sends the number to strtod */
        } else {
            v->e10++;
            continue;
        }
        if (frac)
            v->e10--;
    }
    return p;
}

/*
 * The number at p (a '-' or a digit). Python's pattern is
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?: a '.', 'e' or digit where
 * that pattern stops is where Python's error points too.
 */
static ringo__jtok number(ringo__jlex *lx, const char *p)
{
    const char *start = p, *end = lx->end, *q;
    struct num v = {0, 0, 0};
    bool neg = *p == '-', is_int = true;
    int64_t ex = 0;

    if (neg && (++p == end || (uint8_t)(*p - '0') >= 10))
        return fail(lx, RINGO__JERR_NUMBER, M_VALUE, start);
    p = *p == '0' ? p + 1 : digits(p, end, &v, false);
    if (p < end && *p == '.' && end - p > 1 && (uint8_t)(p[1] - '0') < 10) {
        p = digits(p + 1, end, &v, true);
        is_int = false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool eneg = false;
        q = p + 1;
        if (q < end && (*q == '+' || *q == '-'))
            eneg = *q++ == '-';
        if (q < end && (uint8_t)(*q - '0') < 10) {
            for (p = q; p < end && (uint8_t)(*p - '0') < 10; p++)
                if (ex < 100000000)
                    ex = ex * 10 + (*p - '0');
            v.e10 += eneg ? -ex : ex;
            is_int = false;
        }
    }
    if (p < end && ((uint8_t)(*p - '0') < 10 || *p == '.' || *p == 'e' || *p == 'E'))
        return fail(lx, RINGO__JERR_NUMBER, lx->depth ? M_COMMA : M_EXTRA, p);
    lx->raw = (ringo_str){start, (size_t)(p - start)};
    lx->p = p;
    lx->state = lx->depth ? S_AFTER : S_DONE;
    lx->int_too_big = false;
    if (is_int && v.sig <= 19 && v.m <= (uint64_t)INT64_MAX + neg) {
        lx->i = neg ? (int64_t)(0 - v.m) : (int64_t)v.m;
        lx->d = neg && v.m == 0 ? -0.0 : (double)lx->i;
        return RINGO__JTOK_INT;
    }
    lx->int_too_big = is_int;
    /* Clinger's fast path: m and 10^|e10| are exact doubles, so one
     * correctly rounded operation gives the correctly rounded result. */
    if (v.sig <= 19 && v.m <= (1ull << 53) && v.e10 >= -22 && v.e10 <= 22) {
        double m = (double)v.m;
        lx->d = v.e10 < 0 ? m / pow10_exact[-v.e10] : m * pow10_exact[v.e10];
        if (neg)
            lx->d = -lx->d;
    } else if (slow_double(start, (size_t)(p - start), &lx->d) < 0) {
        return fail(lx, RINGO__JERR_NOMEM, M_NOMEM, start);
    }
    if (isinf(lx->d))
        return fail(lx, RINGO__JERR_RANGE, M_RANGE, start);
    return RINGO__JTOK_NUM;
}

/* ---- tokens ---- */

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline bool is_obj(const ringo__jlex *lx, unsigned level)
{
    return lx->objs[level >> 6] >> (level & 63) & 1;
}

static ringo__jtok open_container(ringo__jlex *lx, const char *p, bool obj)
{
    unsigned level = lx->depth;

    if (level == lx->max_depth)
        return fail(lx, RINGO__JERR_DEPTH, M_DEPTH, p);
    if (obj)
        lx->objs[level >> 6] |= 1ull << (level & 63);
    else
        lx->objs[level >> 6] &= ~(1ull << (level & 63));
    lx->depth++;
    if (obj && keys_open(lx, p) < 0)
        return RINGO__JTOK_ERROR;
    lx->raw = (ringo_str){p, 1};
    lx->p = p + 1;
    lx->state = obj ? S_FIRST_OBJ : S_FIRST_ARR;
    return obj ? RINGO__JTOK_OBJ : RINGO__JTOK_ARR;
}

static ringo__jtok close_container(ringo__jlex *lx, const char *p)
{
    bool obj = *p == '}';

    lx->depth--;
    if (obj)
        lx->keys->n = lx->keys->start[lx->depth];
    lx->raw = (ringo_str){p, 1};
    lx->p = p + 1;
    lx->state = lx->depth ? S_AFTER : S_DONE;
    return obj ? RINGO__JTOK_OBJ_END : RINGO__JTOK_ARR_END;
}

/* A member name at q, then its ':'. */
static ringo__jtok key(ringo__jlex *lx, const char *q)
{
    const char *p = string(lx, q, true);

    if (!p || key_add(lx, lx->str, q) < 0)
        return RINGO__JTOK_ERROR;
    p = skip_ws(p, lx->end);
    if (p == lx->end || *p != ':')
        return fail(lx, p == lx->end ? RINGO__JERR_EOF : RINGO__JERR_SYNTAX, M_COLON, p);
    lx->p = p + 1;
    lx->state = S_VALUE;
    return RINGO__JTOK_KEY;
}

static ringo__jtok literal(ringo__jlex *lx, const char *p, const char *word, size_t n,
                           ringo__jtok tok)
{
    if ((size_t)(lx->end - p) < n || memcmp(p, word, n) != 0)
        return fail(lx, RINGO__JERR_SYNTAX, M_VALUE, p);
    lx->raw = (ringo_str){p, n};
    lx->p = p + n;
    lx->state = lx->depth ? S_AFTER : S_DONE;
    return tok;
}

static ringo__jtok value(ringo__jlex *lx, const char *p)
{
    const char *after;

    if (p == lx->end)
        return fail(lx, RINGO__JERR_EOF, M_VALUE, p);
    switch (*p) {
    case '"':
        if (!(after = string(lx, p, !lx->skipping)))
            return RINGO__JTOK_ERROR;
        lx->p = after;
        lx->state = lx->depth ? S_AFTER : S_DONE;
        return RINGO__JTOK_STR;
    case '{': return open_container(lx, p, true);
    case '[': return open_container(lx, p, false);
    case 't': return literal(lx, p, "true", 4, RINGO__JTOK_TRUE);
    case 'f': return literal(lx, p, "false", 5, RINGO__JTOK_FALSE);
    case 'n': return literal(lx, p, "null", 4, RINGO__JTOK_NULL);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9': return number(lx, p);
    default:
        if (p == lx->base && lx->end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
            return fail(lx, RINGO__JERR_SYNTAX, M_BOM, p);
        return fail(lx, RINGO__JERR_SYNTAX, M_VALUE, p);
    }
}

/* After a value inside a container: ',' and the next member, or the end. */
static ringo__jtok after(ringo__jlex *lx, const char *p)
{
    bool obj = is_obj(lx, lx->depth - 1);

    if (p == lx->end)
        return fail(lx, RINGO__JERR_EOF, M_COMMA, p);
    if (*p == ',') {
        p = skip_ws(p + 1, lx->end);
        if (!obj)
            return value(lx, p);
        if (p < lx->end && *p == '"')
            return key(lx, p);
        return fail(lx, p == lx->end ? RINGO__JERR_EOF : RINGO__JERR_SYNTAX, M_PROP, p);
    }
    if (*p == (obj ? '}' : ']'))
        return close_container(lx, p);
    return fail(lx, RINGO__JERR_SYNTAX, M_COMMA, p);
}

ringo__jtok ringo__jlex_next(ringo__jlex *lx)
{
    const char *p = skip_ws(lx->p, lx->end);

    switch (lx->state) {
    case S_AFTER: return after(lx, p);
    case S_VALUE: return value(lx, p);
    case S_FIRST_ARR:
        if (p < lx->end && *p == ']')
            return close_container(lx, p);
        return value(lx, p);
    case S_FIRST_OBJ:
        if (p < lx->end && *p == '}')
            return close_container(lx, p);
        if (p < lx->end && *p == '"')
            return key(lx, p);
        return fail(lx, p == lx->end ? RINGO__JERR_EOF : RINGO__JERR_SYNTAX, M_PROP, p);
    case S_DONE:
        lx->p = p;
        if (p == lx->end)
            return RINGO__JTOK_EOF;
        return fail(lx, RINGO__JERR_TRAILING, M_EXTRA, p);
    default: return RINGO__JTOK_ERROR;
    }
}

ringo__jtok ringo__jlex_skip(ringo__jlex *lx, ringo__jtok first)
{
    unsigned target;
    bool was = lx->skipping;
    ringo__jtok t;

    if (first != RINGO__JTOK_OBJ && first != RINGO__JTOK_ARR)
        return first;
    target = lx->depth - 1;
    lx->skipping = true;
    do {
        t = ringo__jlex_next(lx);
    } while (t != RINGO__JTOK_ERROR &&
             !(lx->depth == target && (t == RINGO__JTOK_OBJ_END || t == RINGO__JTOK_ARR_END)));
    lx->skipping = was;
    return t;
}

/* ---- errors ---- */

void ringo__jlex_line_col(const ringo__jlex *lx, unsigned *line, unsigned *col)
{
    size_t pos = lx->err_pos, last = 0;
    unsigned l = 1;

    for (size_t i = 0; i < pos; i++) {
        if (lx->base[i] == '\n') {
            l++;
            last = i + 1;
        }
    }
    *line = l;
    *col = (unsigned)(pos - last + 1);
}

size_t ringo__jlex_err_char(const ringo__jlex *lx)
{
    size_t n = 0;

    for (size_t i = 0; i < lx->err_pos; i++)
        n += ((uint8_t)lx->base[i] & 0xc0) != 0x80;
    return n;
}

const char *ringo__jlex_errmsg(const ringo__jlex *lx)
{
    return lx->msg < sizeof(messages) / sizeof(messages[0]) ? messages[lx->msg] : "Invalid JSON";
}

ringo__jerr ringo__json_check(const char *buf, size_t len, unsigned max_depth, size_t *err_pos)
{
    ringo__jlex lx;
    ringo__jtok t;

    ringo__jlex_init(&lx, buf, len, max_depth, NULL, NULL);
    lx.skipping = true;
    do {
        t = ringo__jlex_next(&lx);
    } while (t != RINGO__JTOK_EOF && t != RINGO__JTOK_ERROR);
    ringo__jlex_free(&lx);
    if (err_pos)
        *err_pos = t == RINGO__JTOK_ERROR ? lx.err_pos : 0;
    return t == RINGO__JTOK_ERROR ? lx.err : RINGO__JERR_NONE;
}
