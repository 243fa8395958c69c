/*
 * http/url.c - request-target parsing and percent-decoding, see url.h.
 */
#include "http/url.h"

#include <errno.h>
#include <string.h>

#include "core/util.h"

#include "core/util.h"

/* The byte at s[i] is '%': the escaped byte, or -1 when the escape is malformed. */
static int escape_at(const char *s, size_t len, size_t i)
{
    int hi, lo;

    if (len - i < 3)
        return -1;
    hi = ringo__hex_value((unsigned char)s[i + 1]);
    lo = ringo__hex_value((unsigned char)s[i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    return hi << 4 | lo;
}

ssize_t ringo__pct_decode(char *dst, const char *src, size_t len, int plus_is_space)
{
    size_t i = 0, j = 0;

    /* j <= i throughout, and src[i..i+2] is read before dst[j] is written,
     * so decoding in place is safe. */
    while (i < len) {
        char c = src[i];

        if (c == '%') {
            int v = escape_at(src, len, i);

            if (v < 0)
                return -EINVAL;
            dst[j++] = (char)v;
            i += 3;
            continue;
        }
        dst[j++] = (c == '+' && plus_is_space) ? ' ' : c;
        i++;
    }
    return (ssize_t)j;
}

int ringo__pct_validate(const char *s, size_t len)
{
    const char *p = memchr(s, '%', len);

    while (p) {
        size_t i = (size_t)(p - s);

        if (escape_at(s, len, i) < 0)
            return -EINVAL;
        p = memchr(p + 3, '%', len - i - 3);
    }
    return 0;
}

/* unreserved / sub-delims (RFC 3986 §2.2, §2.3): a reg-name's bytes but '%'. */
static bool host_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~!$&'()*+,;=", c));
}

bool ringo__host_valid(const char *s, size_t len)
{
    size_t i = 0;

    if (len && s[0] == '[') { /* IP-literal: IPv6 or IPvFuture, checked by their bytes */
        for (i = 1; i < len && s[i] != ']'; i++)
            if (!host_byte((unsigned char)s[i]) && s[i] != ':')
                return false;
        if (i == len || i == 1)
            return false;
        i++;
    } else {
        while (i < len && s[i] != ':') {
            if (s[i] == '%' ? escape_at(s, len, i) < 0 : !host_byte((unsigned char)s[i]))
                return false;
            i += s[i] == '%' ? 3 : 1;
        }
    }
    if (i == len)
        return true;
    if (s[i++] != ':')
        return false;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* ---- request-target ---- */

/* Visible ASCII except '#': what a request-target may contain at all. */
static int target_bytes_ok(ringo_str t)
{
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.ptr[i];

        if (c <= 0x20 || c >= 0x7f || c == '#')
            return 0;
    }
    return 1;
}

/* Length of "http://" or "https://" (any case) at the start of t, else 0. */
static size_t scheme_len(ringo_str t)
{
    static const char http[] = "http";
    size_t n = sizeof(http) - 1;

    if (t.len < n || !ringo__ascii_iequal(t.ptr, http, n))
        return 0;
    if (n < t.len && (t.ptr[n] | 0x20) == 's')
        n++;
    if (t.len - n < 3 || memcmp(t.ptr + n, "://", 3) != 0)
        return 0;
    return n + 3;
}

/* Splits absolute-form t into authority and the rest ('/' or '?' first, or empty). */
static int split_absolute(ringo_str t, ringo_str *auth, ringo_str *rest)
{
    size_t start = scheme_len(t), end;

    if (start == 0)
        return -ENOENT;
    end = start;
    while (end < t.len && t.ptr[end] != '/' && t.ptr[end] != '?')
        end++;
    auth->ptr = t.ptr + start;
    auth->len = end - start;
    rest->ptr = t.ptr + end;
    rest->len = t.len - end;
    /* RFC 9110 4.2.1: an empty host is invalid; 4.2.4: userinfo is an error. */
    if (auth->len == 0 || auth->ptr[0] == ':' || memchr(auth->ptr, '@', auth->len))
        return -EINVAL;
    return 0;
}

/* Splits s (which starts with '/' or '?', or is empty) at its first '?'. */
static void split_query(ringo_str s, ringo_str *path, ringo_str *query)
{
    const char *q = memchr(s.ptr, '?', s.len);
    size_t plen = q ? (size_t)(q - s.ptr) : s.len;

    if (plen == 0) {
        *path = RINGO_STR_LIT("/");
    } else {
        path->ptr = s.ptr;
        path->len = plen;
    }
    query->ptr = q ? q + 1 : s.ptr + s.len;
    query->len = q ? s.len - plen - 1 : 0;
}

int ringo__url_split(ringo_str target, ringo_str *path, ringo_str *query)
{
    ringo_str auth, rest;
    int rc;

    if (target.len == 0 || !target_bytes_ok(target))
        return -EINVAL;
    if (target.ptr[0] == '/') {
        split_query(target, path, query);
        return 0;
    }
    if (target.len == 1 && target.ptr[0] == '*') {
        *path = target;
        query->ptr = target.ptr + 1;
        query->len = 0;
        return 0;
    }
    rc = split_absolute(target, &auth, &rest);
    if (rc < 0)
        return -EINVAL;
    split_query(rest, path, query);
    return 0;
}

int ringo__url_authority(ringo_str target, ringo_str *authority)
{
    ringo_str rest;

    if (target.len == 0 || target.ptr[0] == '/')
        return -ENOENT;
    if (!target_bytes_ok(target))
        return -EINVAL;
    return split_absolute(target, authority, &rest);
}

/* ---- query ---- */

/*
 * Compares the encoded key k with the plain name. The whole key is checked
 * for malformed escapes even after a mismatch, so whether a query is
 * rejected does not depend on the name being looked up.
 * Returns 1 (equal), 0, or -EINVAL.
 */
static int key_equals(ringo_str k, ringo_str name)
{
    size_t i = 0, j = 0;
    int same = 1;

    while (i < k.len) {
        int c = (unsigned char)k.ptr[i];

        if (c == '%') {
            c = escape_at(k.ptr, k.len, i);
            if (c < 0)
                return -EINVAL;
            i += 3;
        } else {
            c = c == '+' ? ' ' : c;
            i++;
        }
        if (same && (j >= name.len || (unsigned char)name.ptr[j] != c))
            same = 0;
        j++;
    }
    return same && j == name.len;
}

int ringo__query_get(ringo_str query, ringo_str name, ringo_str *raw_value)
{
    const char *p = query.ptr, *end = query.ptr + query.len;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pend = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pend - p));
        ringo_str key = {p, (size_t)((eq ? eq : pend) - p)};
        int rc;

        if (pend > p) {
            rc = key_equals(key, name);
            if (rc < 0)
                return rc;
            if (rc) {
                raw_value->ptr = eq ? eq + 1 : pend;
                raw_value->len = eq ? (size_t)(pend - eq - 1) : 0;
                return 0;
            }
        }
        p = pend + 1;
    }
    return -ENOENT;
}
