/*
 * tests/fuzz/json_fuzz.c - libFuzzer target: the JSON pull parser
 * (http/json.c) on arbitrary bytes. The whole input is the document, so the
 * corpus is plain JSON that the differential check against Python's json
 * module (tests/fuzz/json_differential.py) reads too.
 *
 * Each input is parsed into a fresh exact-size copy (ASan sees any read past
 * it) four ways, which must agree or the target aborts:
 * - token by token, recording every token and its value;
 * - by ringo__json_check(): the same error at the same position;
 * - token by token, skipping every second (or third) container with
 *   ringo__jlex_skip(): the same error at the same position;
 * - accepted documents only: the tokens written back as compact JSON
 *   (strings re-escaped, numbers as written) and parsed again: the same
 *   tokens.
 * Decoded strings must be valid UTF-8 and no longer than their raw form.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/json.h"
#include "http/ws/utf8.h"
#include "fuzz_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    ringo__jerr err;
    size_t pos;
};

static void put_json_str(fuzz_log *out, ringo_str s)
{
    fuzz_put(out, "\"", 1);
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = (uint8_t)s.ptr[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            fuzz_put(out, esc, 2);
        } else if (c < 0x20) {
            fuzz_put(out, esc, (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c));
        } else {
            fuzz_put(out, &s.ptr[i], 1);
        }
    }
    fuzz_put(out, "\"", 1);
}

/* Parses doc, logging tokens into log and writing them back as JSON into out
 * (either may be NULL). */
static struct result parse(const char *doc, size_t len, fuzz_log *log, fuzz_log *out)
{
    ringo__jlex lx;
    ringo__jtok t, prev = RINGO__JTOK_EOF;
    struct result r;

    ringo__jlex_init(&lx, doc, len, 0, NULL, NULL);
    while ((t = ringo__jlex_next(&lx)) > RINGO__JTOK_EOF) {
        char line[64];
        bool value_after = prev != RINGO__JTOK_EOF && prev != RINGO__JTOK_OBJ &&
                           prev != RINGO__JTOK_ARR && prev != RINGO__JTOK_KEY;
        if (t == RINGO__JTOK_KEY || t == RINGO__JTOK_STR) {
            if (lx.str.len + 2 > lx.raw.len || !ringo__ws_utf8_valid(lx.str.ptr, lx.str.len))
                abort();
        }
        if (log) {
            snprintf(line, sizeof(line), "\n%d", (int)t);
            fuzz_put(log, line, strlen(line));
            if (t == RINGO__JTOK_KEY || t == RINGO__JTOK_STR)
                fuzz_put_str(log, 's', lx.str.ptr, lx.str.len);
            if (t == RINGO__JTOK_INT)
                fuzz_put(log, line, (size_t)snprintf(line, sizeof(line), "i%lld", (long long)lx.i));
            if (t == RINGO__JTOK_NUM)
                fuzz_put(log, line,
                         (size_t)snprintf(line, sizeof(line), "d%a%d", lx.d, lx.int_too_big));
        }
        if (out) {
            if (value_after && t != RINGO__JTOK_OBJ_END && t != RINGO__JTOK_ARR_END)
                fuzz_put(out, ",", 1);
            if (t == RINGO__JTOK_KEY || t == RINGO__JTOK_STR)
                put_json_str(out, lx.str);
            else
                fuzz_put(out, lx.raw.ptr, lx.raw.len);
            if (t == RINGO__JTOK_KEY)
                fuzz_put(out, ":", 1);
        }
        prev = t;
    }
    r.err = t == RINGO__JTOK_ERROR ? lx.err : RINGO__JERR_NONE;
    r.pos = t == RINGO__JTOK_ERROR ? lx.err_pos : 0;
    if (t == RINGO__JTOK_ERROR && ringo__jlex_next(&lx) != RINGO__JTOK_ERROR)
        abort(); /* errors are sticky */
    ringo__jlex_free(&lx);
    return r;
}

/* Parses doc skipping every every-th container. */
static struct result parse_skipping(const char *doc, size_t len, unsigned every)
{
    ringo__jlex lx;
    ringo__jtok t;
    unsigned n = 0;
    struct result r;

    ringo__jlex_init(&lx, doc, len, 0, NULL, NULL);
    while ((t = ringo__jlex_next(&lx)) > RINGO__JTOK_EOF) {
        if ((t == RINGO__JTOK_OBJ || t == RINGO__JTOK_ARR) && ++n % every == 0) {
            unsigned depth = lx.depth;
            t = ringo__jlex_skip(&lx, t);
            if (t == RINGO__JTOK_ERROR)
                break;
            if (lx.depth != depth - 1 || (t != RINGO__JTOK_OBJ_END && t != RINGO__JTOK_ARR_END))
                abort();
        }
    }
    r.err = t == RINGO__JTOK_ERROR ? lx.err : RINGO__JERR_NONE;
    r.pos = t == RINGO__JTOK_ERROR ? lx.err_pos : 0;
    ringo__jlex_free(&lx);
    return r;
}

static char *copy(const void *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_log log = {0}, out = {0}, log2 = {0};
    char *doc = copy(data, size);
    struct result r = parse(doc, size, &log, &out), r2;
    size_t pos = 0;

    if (ringo__json_check(doc, size, 0, &pos) != r.err || pos != r.pos)
        abort();
    r2 = parse_skipping(doc, size, 2 + (unsigned)(size % 2));
    if (r2.err != r.err || r2.pos != r.pos)
        abort();
    free(doc);
    if (r.err == RINGO__JERR_NONE) {
        doc = copy(out.p, out.len);
        r2 = parse(doc, out.len, &log2, NULL);
        if (r2.err != RINGO__JERR_NONE)
            abort();
        fuzz_same(&log, &log2, "tokens", "written back");
        free(doc);
    }
    free(log.p);
    free(out.p);
    free(log2.p);
    return 0;
}
