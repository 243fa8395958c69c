/*
 * http/fasthead.c - the common request head, read without llhttp.
 *
 * Most requests are a GET or HEAD whose whole head arrives in one buffer
 * with a few plain header fields. llhttp walks such a head byte by byte
 * through its state machine and a callback per token, and pauses twice
 * (http/parser.c): about a thousand instructions for a 50-byte head. This
 * reads it in one pass and builds the request the callbacks would build.
 *
 * It accepts a strict subset of what llhttp accepts in strict mode and never
 * decides an error: on anything else it returns 0 having changed nothing,
 * and llhttp parses the message from its first byte. The subset:
 *   - "GET " or "HEAD ", an origin-form target of the bytes llhttp's strict
 *     path and query states take (visible ASCII but '#'), " HTTP/1.1" CRLF;
 *   - at most FAST_MAX_FIELDS fields, each a token, ':', optional SP/HTAB, a
 *     value of visible ASCII, SP and HTAB that is not empty, CRLF; no field
 *     llhttp interprets itself (Connection but "keep-alive", Proxy-Connection,
 *     Content-Length, Transfer-Encoding, Upgrade) nor Expect; exactly one Host;
 *   - within max_request_line, max_header_bytes and max_headers, counted as
 *     the callbacks count them;
 *   - the empty line, CRLF.
 * Such a message has no body and keeps the connection: llhttp, resting
 * between two messages (ringo__parse is only called here when it is), needs
 * nothing from it and goes on with the next one.
 *
 * Only a head that is whole in one buffer takes this path; the same bytes
 * fed one at a time go through llhttp. tests/unit/parser_test.c and
 * tests/fuzz/parser_fuzz.c compare the two that way.
 */
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/util.h"
#include "http/http_impl.h"

#define FAST_MAX_FIELDS 16 /* the callbacks' first allocation of fields */

typedef struct fast_field {
    uint32_t name, name_len, value, value_len; /* offsets from the head's first byte */
} fast_field;

typedef struct fast_head {
    uint32_t method_len, target_len; /* the target starts after the method's SP */
    uint32_t borrowed;               /* to the last value's end: what the tokens span */
    uint32_t len;                    /* the whole head, its empty line included */
    uint32_t nfields;
    fast_field f[FAST_MAX_FIELDS];
} fast_head;

/* llhttp's strict path and query bytes ('?' starts the query, '#' a fragment: not here). */
static inline bool target_byte(unsigned char c) { return c - 0x21u < 0x5eu && c != '#'; }

/* Visible ASCII, SP and HTAB (llhttp takes obs-text too; that goes to llhttp). */
static inline bool value_byte(unsigned char c) { return c - 0x20u < 0x5fu || c == '\t'; }

/*
 * The first byte in [q, end) that is not a target byte (want_tab false) or a
 * value byte (want_tab true), or end. SSE2 (every x86-64) tests 16 bytes at
 * a time while 16 remain: targets and values are most of a head's bytes.
 */
static const char *skip_bytes(const char *q, const char *end, bool want_tab)
{
#ifdef __SSE2__
    const __m128i lo = _mm_set1_epi8(want_tab ? 0x1f : 0x20), hi = _mm_set1_epi8(0x7f),
                  extra = _mm_set1_epi8(want_tab ? '\t' : '#');

    while (end - q >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
        /* Signed compares: bytes from 0x80 are negative, below lo. */
        __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi));
        __m128i x = _mm_cmpeq_epi8(v, extra);
        unsigned bad;
        ok = want_tab ? _mm_or_si128(ok, x) : _mm_andnot_si128(x, ok);
        bad = (unsigned)_mm_movemask_epi8(ok) ^ 0xffffu;
        if (bad)
            return q + __builtin_ctz(bad);
        q += 16;
    }
#endif
    if (want_tab)
        while (q < end && value_byte((unsigned char)*q))
            q++;
    else
        while (q < end && target_byte((unsigned char)*q))
            q++;
    return q;
}

/*
 * Fields llhttp interprets (framing, Connection, Upgrade), or the glue does
 * (Expect). "Connection: keep-alive" is let through: on HTTP/1.1 it changes
 * nothing (many clients send it with every request).
 */
static bool interpreted(const char *n, size_t len, const char *v, size_t vlen)
{
    switch (len) {
    case 6: return ringo__ascii_iequal(n, "expect", 6);
    case 7: return ringo__ascii_iequal(n, "upgrade", 7);
    case 10:
        return ringo__ascii_iequal(n, "connection", 10) &&
               !(vlen == 10 && ringo__ascii_iequal(v, "keep-alive", 10));
    case 14: return ringo__ascii_iequal(n, "content-length", 14);
    case 16: return ringo__ascii_iequal(n, "proxy-connection", 16);
    case 17: return ringo__ascii_iequal(n, "transfer-encoding", 17);
    default: return false;
    }
}

/* "Host" in any ASCII case (the name is a token: OR 0x20 folds only letters here). */
static bool is_host(const char *n, size_t len)
{
    uint32_t w, want;

    if (len != 4)
        return false;
    memcpy(&w, n, 4);
    memcpy(&want, "host", 4);
    return (w | 0x20202020u) == want;
}

/* The request line up to its CRLF; returns the offset of the first field, or 0. */
static size_t request_line(const ringo_config *cfg, const char *p, size_t n, fast_head *h)
{
    const char *q, *end = p + n;

    if (n >= 5 && memcmp(p, "GET /", 5) == 0)
        h->method_len = 3;
    else if (n >= 6 && memcmp(p, "HEAD /", 6) == 0)
        h->method_len = 4;
    else
        return 0;
    q = skip_bytes(p + h->method_len + 1, end, false);
    h->target_len = (uint32_t)(q - p) - h->method_len - 1;
    /* on_url: the target and the method against the request line's limit. */
    if ((uint64_t)h->target_len + h->method_len > cfg->max_request_line)
        return 0;
    if (end - q < 11 || memcmp(q, " HTTP/1.1\r\n", 11) != 0)
        return 0;
    return (size_t)(q + 11 - p);
}

/* One field line at p + off (which is not the empty line); returns the next line's offset, or 0. */
static size_t field_line(const char *p, size_t off, size_t n, fast_field *f)
{
    const char *q = p + off, *end = p + n, *v;
    size_t raw;

    while (q < end && ringo__is_tchar((unsigned char)*q))
        q++;
    if (q == p + off || q == end || *q != ':')
        return 0;
    f->name = (uint32_t)off;
    f->name_len = (uint32_t)(q - p) - f->name;
    q++;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    v = q;
    q = skip_bytes(q, end, true);
    /* An empty value, a bare CR or LF, a CTL, obs-text: llhttp's to judge. */
    if (q == v || end - q < 2 || q[0] != '\r' || q[1] != '\n')
        return 0;
    f->value = (uint32_t)(v - p);
    raw = (size_t)(q - v);
    /* RFC 9110 §5.5: trailing whitespace is not part of the value; v[0] is not whitespace. */
    while (v[raw - 1] == ' ' || v[raw - 1] == '\t')
        raw--;
    f->value_len = (uint32_t)raw;
    return (size_t)(q + 2 - p);
}

/* The whole head at p[0..n) into *h: true when it is of the kind above. */
static bool scan(const ringo_config *cfg, const char *p, size_t n, fast_head *h)
{
    size_t off = n <= UINT32_MAX ? request_line(cfg, p, n, h) : 0;
    uint64_t head_bytes = 0;
    unsigned hosts = 0;

    if (!off)
        return false;
    h->nfields = h->borrowed = 0;
    while (off < n && p[off] != '\r') {
        fast_field *f = &h->f[h->nfields];
        size_t next;
        if (h->nfields == FAST_MAX_FIELDS || h->nfields >= cfg->max_headers)
            return false;
        next = field_line(p, off, n, f);
        if (!next)
            return false;
        /* count_head(): name, ": " and CRLF, and the value as llhttp spans it. */
        head_bytes += f->name_len + 4 + (next - 2 - f->value);
        if (head_bytes > cfg->max_header_bytes ||
            interpreted(p + f->name, f->name_len, p + f->value, f->value_len))
            return false;
        /* An invalid Host value is llhttp's path's 400 to answer. */
        if (is_host(p + f->name, f->name_len) &&
            (hosts++, !ringo__host_valid(p + f->value, f->value_len)))
            return false;
        h->borrowed = (uint32_t)(next - 2);
        h->nfields++;
        off = next;
    }
    if (hosts != 1 || n - off < 2 || p[off] != '\r' || p[off + 1] != '\n')
        return false;
    h->len = (uint32_t)(off + 2);
    return true;
}

/*
 * The request of h, as the callbacks build it: the fields array first, then
 * one copy of the bytes the tokens span (own_head()). Returns NULL, having
 * freed what it took, when memory runs out: llhttp's path then answers.
 */
static ringo_req *build(ringo__sess *s, const char *p, const fast_head *h)
{
    ringo_req *r = ringo__req_new(s);
    ringo__hdr *hdrs;
    char *copy;

    if (!r)
        return NULL;
    hdrs = ringo__arena_alloc(&r->arena, FAST_MAX_FIELDS * sizeof(*hdrs));
    copy = hdrs ? ringo__arena_alloc(&r->arena, h->borrowed) : NULL;
    if (!copy) {
        ringo__req_free(r);
        return NULL;
    }
    memcpy(copy, p, h->borrowed);
    r->method = (ringo_str){copy, h->method_len};
    r->target = (ringo_str){copy + h->method_len + 1, h->target_len};
    for (uint32_t i = 0; i < h->nfields; i++) {
        hdrs[i].name = (ringo_str){copy + h->f[i].name, h->f[i].name_len};
        hdrs[i].value = (ringo_str){copy + h->f[i].value, h->f[i].value_len};
    }
    r->hdrs = hdrs;
    r->nhdrs = h->nfields;
    r->hdr_cap = FAST_MAX_FIELDS;
    r->hosts = 1;
    r->http_minor = 1;
    return r;
}

int ringo__parse_fast(ringo__sess *s, const char *p, size_t n, size_t *consumed)
{
    fast_head h;
    ringo_req *r;

    if (!scan(s->cfg, p, n, &h) || !(r = build(s, p, &h)))
        return 0;
    s->cur = r;
    ringo__parse_routed(s, r);
    r->keep_alive = true;
    r->is_head = h.method_len == 4;
    *consumed = h.len;
    return 1;
}
