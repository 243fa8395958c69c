/*
 * tests/fuzz/json_write_fuzz.c - libFuzzer target: the JSON writer.
 *
 * The input is a program of writer calls: each op byte picks a call
 * (object, array, end, key, string, int, uint, double from 8 raw bytes,
 * bool, null, raw, the strict UTF-8 flag) and the bytes after it are its
 * argument (a length byte and that many bytes for keys and strings, so
 * invalid UTF-8 and control characters come up all the time). Misuse is
 * allowed; the writer must then fail with -EINVAL, -E2BIG or -EILSEQ and
 * never crash. When it has not failed, whatever is open is closed (a key
 * waiting for its value gets null) and the text must be valid JSON
 * (RFC 8259 grammar, checked by a small validator here) and valid UTF-8,
 * with the length the writer reported. Every double, written alone, must
 * read back as itself with strtod() (the C locale).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ringo/json.h>

#include "http/ws/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- a strict validator: returns the end of the value at p, or NULL ---- */

static const char *value(const char *p, const char *end, int depth);

static const char *ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static bool is_digit(const char *p, const char *end) { return p < end && *p >= '0' && *p <= '9'; }

static const char *digits(const char *p, const char *end)
{
    if (!is_digit(p, end))
        return NULL;
    while (is_digit(p, end))
        p++;
    return p;
}

static const char *number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (!(p = digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = digits(p + 1, end)))
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        p = digits(p, end);
    }
    return p;
}

static const char *string(const char *p, const char *end)
{
    if (p >= end || *p++ != '"')
        return NULL;
    while (p < end && *p != '"') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p++ != '\\')
            continue;
        if (p >= end)
            return NULL;
        if (*p == 'u') {
            for (int i = 1; i <= 4; i++)
                if (p + i >= end || !strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                    return NULL;
            p += 5;
        } else if (strchr("\"\\/bfnrt", *p) && *p) {
            p++;
        } else {
            return NULL;
        }
    }
    return p < end ? p + 1 : NULL;
}

static const char *members(const char *p, const char *end, char close, int depth)
{
    p = ws(p, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (close == '}') {
            if (!(p = string(ws(p, end), end)))
                return NULL;
            p = ws(p, end);
            if (p >= end || *p++ != ':')
                return NULL;
        }
        if (!(p = value(p, end, depth + 1)))
            return NULL;
        p = ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        return p < end && *p == close ? p + 1 : NULL;
    }
}

static const char *value(const char *p, const char *end, int depth)
{
    p = ws(p, end);
    if (p >= end || depth > RINGO_JSON_MAX_DEPTH + 1)
        return NULL;
    switch (*p) {
    case '{': return members(p + 1, end, '}', depth);
    case '[': return members(p + 1, end, ']', depth);
    case '"': return string(p, end);
    case 't': return end - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : NULL;
    case 'f': return end - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : NULL;
    case 'n': return end - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : NULL;
    default: return number(p, end);
    }
}

/* ---- the program ---- */

static uint64_t take8(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    size_t n = (size_t)(end - *p) < 8 ? (size_t)(end - *p) : 8;

    memcpy(&v, *p, n);
    *p += n;
    return v;
}

/* A double written alone reads back as itself (null for NaN and infinities). */
static void double_reads_back(double d)
{
    ringo_json_w w;
    char *out;
    size_t len;

    ringo_json_begin_malloc(&w);
    ringo_json_double(&w, d);
    if (ringo_json_finish(&w, &out, &len) != 0)
        abort();
    if (d == d && d - d == 0) { /* finite */
        double back = strtod(out, NULL);
        if (back != d || signbit(back) != signbit(d) || number(out, out + len) != out + len)
            abort();
    } else if (strcmp(out, "null") != 0) {
        abort();
    }
    free(out);
}

/* Runs one op; its argument bytes are taken from *p. */
static void op(ringo_json_w *w, uint8_t o, const uint8_t **p, const uint8_t *end)
{
    size_t n;
    uint64_t v;
    double d;

    switch (o % 12) {
    case 0: ringo_json_obj(w); break;
    case 1: ringo_json_arr(w); break;
    case 2: ringo_json_end(w); break;
    case 3:
    case 4:
        n = *p < end ? *(*p)++ : 0;
        if (n > (size_t)(end - *p))
            n = (size_t)(end - *p);
        if (o % 12 == 3)
            ringo_json_keyn(w, (const char *)*p, n);
        else
            ringo_json_str(w, (const char *)*p, n);
        *p += n;
        break;
    case 5: ringo_json_int(w, (int64_t)take8(p, end)); break;
    case 6: ringo_json_uint(w, take8(p, end)); break;
    case 7:
        v = take8(p, end);
        memcpy(&d, &v, sizeof(d));
        ringo_json_double(w, d);
        double_reads_back(d);
        break;
    case 8: ringo_json_bool(w, o & 0x80); break;
    case 9: ringo_json_null(w); break;
    case 10: ringo_json_raw(w, "[1,\"x\"]", 7); break;
    case 11: ringo_json_set_flags(w, o & 0x80 ? RINGO_JSON_UTF8_STRICT : 0); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    ringo_json_w w;
    char *out;
    size_t len;
    int ret;

    ringo_json_begin_malloc(&w);
    while (p < end) {
        uint8_t o = *p++;
        op(&w, o, &p, end);
    }
    if (!w.err) { /* close what is open */
        if (w.want_value)
            ringo_json_null(&w);
        while (w.depth && !w.err)
            ringo_json_end(&w);
        if (!w.len)
            ringo_json_null(&w);
    }
    ret = ringo_json_finish(&w, &out, &len);
    if (ret) {
        if (ret != -EINVAL && ret != -E2BIG && ret != -EILSEQ)
            abort();
        ringo_json_discard(&w);
        return 0;
    }
    {
        const char *e = value(out, out + len, 0);
        if (strlen(out) != len || !ringo__ws_utf8_valid(out, len) || !e ||
            ws(e, out + len) != out + len)
            abort();
    }
    free(out);
    return 0;
}
