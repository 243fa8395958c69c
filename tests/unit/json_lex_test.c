/*
 * Description: the JSON pull parser (http/json.c): tokens and their values,
 * every error with the message and position Python's json module gives,
 * escapes and surrogate pairs, UTF-8 edge cases (overlongs, encoded
 * surrogates, past U+10FFFF, cut short), the depth limit, duplicate keys
 * (few and many, escaped spellings of one name, sibling and nested objects),
 * numbers (int64 bounds, -0, big integers, the double range), zero-copy
 * strings, skip(), an arena-like allocator and the C locale under
 * LC_NUMERIC of another one.
 */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/json.h"

/* The tokens of doc as text: { } [ ] k:name s:text i:123 n:1.5 t f z, then $ or !. */
static const char *toks(const char *doc, size_t len)
{
    static char out[4096];
    size_t o = 0;
    ringo__jlex lx;
    ringo__jtok t;

    ringo__jlex_init(&lx, doc, len, 0, NULL, NULL);
    do {
        char one[512];
        t = ringo__jlex_next(&lx);
        switch (t) {
        case RINGO__JTOK_OBJ: snprintf(one, sizeof(one), "{"); break;
        case RINGO__JTOK_OBJ_END: snprintf(one, sizeof(one), "}"); break;
        case RINGO__JTOK_ARR: snprintf(one, sizeof(one), "["); break;
        case RINGO__JTOK_ARR_END: snprintf(one, sizeof(one), "]"); break;
        case RINGO__JTOK_KEY:
        case RINGO__JTOK_STR:
            snprintf(one, sizeof(one), "%c:%.*s", t == RINGO__JTOK_KEY ? 'k' : 's', (int)lx.str.len,
                     lx.str.ptr);
            break;
        case RINGO__JTOK_INT: snprintf(one, sizeof(one), "i:%lld", (long long)lx.i); break;
        case RINGO__JTOK_NUM: snprintf(one, sizeof(one), "n:%.17g", lx.d); break;
        case RINGO__JTOK_TRUE: snprintf(one, sizeof(one), "t"); break;
        case RINGO__JTOK_FALSE: snprintf(one, sizeof(one), "f"); break;
        case RINGO__JTOK_NULL: snprintf(one, sizeof(one), "z"); break;
        case RINGO__JTOK_EOF: snprintf(one, sizeof(one), "$"); break;
        case RINGO__JTOK_ERROR: snprintf(one, sizeof(one), "!"); break;
        }
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", o ? " " : "", one);
    } while (t != RINGO__JTOK_EOF && t != RINGO__JTOK_ERROR && o < sizeof(out) - 600);
    ringo__jlex_free(&lx);
    return out;
}

#define TOKS(doc, want)                                                                            \
    do {                                                                                           \
        const char *got_ = toks(doc, sizeof(doc) - 1);                                             \
        CHECKF(strcmp(got_, want) == 0, "%s: got %s, want %s", doc, got_, want);                   \
    } while (0)

/* doc fails with err at byte pos, with Python's message. */
static void fails(const char *doc, size_t len, ringo__jerr err, size_t pos, const char *msg)
{
    ringo__jlex lx;
    ringo__jtok t;
    size_t p2 = 99;

    ringo__jlex_init(&lx, doc, len, 0, NULL, NULL);
    do {
        t = ringo__jlex_next(&lx);
    } while (t != RINGO__JTOK_EOF && t != RINGO__JTOK_ERROR);
    CHECKF(t == RINGO__JTOK_ERROR, "%.*s: accepted", (int)len, doc);
    CHECKF(lx.err == err && lx.err_pos == pos && strcmp(ringo__jlex_errmsg(&lx), msg) == 0,
           "%.*s: error %d at %zu (%s), want %d at %zu (%s)", (int)len, doc, lx.err, lx.err_pos,
           ringo__jlex_errmsg(&lx), err, pos, msg);
    /* An error is sticky. */
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_ERROR && lx.err == err);
    ringo__jlex_free(&lx);
    CHECK(ringo__json_check(doc, len, 0, &p2) == err && p2 == pos);
}

#define FAILS(doc, err, pos, msg) fails(doc, sizeof(doc) - 1, RINGO__JERR_##err, pos, msg)

static bool ok(const char *doc, size_t len)
{
    return ringo__json_check(doc, len, 0, NULL) == RINGO__JERR_NONE;
}

#define OK(doc) CHECKF(ok(doc, sizeof(doc) - 1), "%s: rejected", doc)

static void tokens(void)
{
    TOKS("{\"name\": \"kettle\", \"price\": 12.5, \"tags\": [\"a\", \"b\"], \"n\": -3, "
         "\"ok\": true, \"no\": false, \"x\": null, \"o\": {}}",
         "{ k:name s:kettle k:price n:12.5 k:tags [ s:a s:b ] k:n i:-3 k:ok t k:no f k:x z k:o { "
         "} } $");
    TOKS(" \t\r\n[ ] \n", "[ ] $");
    TOKS("[[[]],[{}]]", "[ [ [ ] ] [ { } ] ] $");
    TOKS("\"top\"", "s:top $");
    TOKS("42", "i:42 $");
    TOKS("null", "z $");
    TOKS("[1,2 , 3]", "[ i:1 i:2 i:3 ] $");
    TOKS("{\"a\" : 1 , \"b\":2}", "{ k:a i:1 k:b i:2 } $");
}

/* Every message, at the position Python's json.loads() reports (3.11). */
static void errors(void)
{
    FAILS("", EOF, 0, "Expecting value");
    FAILS("  ", EOF, 2, "Expecting value");
    FAILS("{", EOF, 1, "Expecting property name enclosed in double quotes");
    FAILS("{\"a\"", EOF, 4, "Expecting ':' delimiter");
    FAILS("{\"a\" 1}", SYNTAX, 5, "Expecting ':' delimiter");
    FAILS("{\"a\":", EOF, 5, "Expecting value");
    FAILS("{\"a\":1", EOF, 6, "Expecting ',' delimiter");
    FAILS("{\"a\":1,", EOF, 7, "Expecting property name enclosed in double quotes");
    FAILS("{\"a\":1,}", SYNTAX, 7, "Expecting property name enclosed in double quotes");
    FAILS("{1:2}", SYNTAX, 1, "Expecting property name enclosed in double quotes");
    FAILS("{,}", SYNTAX, 1, "Expecting property name enclosed in double quotes");
    FAILS("{'a':1}", SYNTAX, 1, "Expecting property name enclosed in double quotes");
    FAILS("{\"a\":1 \"b\":2}", SYNTAX, 7, "Expecting ',' delimiter");
    FAILS("{\"a\":]", SYNTAX, 5, "Expecting value");
    FAILS("[1,]", SYNTAX, 3, "Expecting value");
    FAILS("[1,,2]", SYNTAX, 3, "Expecting value");
    FAILS("[1 2]", SYNTAX, 3, "Expecting ',' delimiter");
    FAILS("[1}", SYNTAX, 2, "Expecting ',' delimiter");
    FAILS("[1,2", EOF, 4, "Expecting ',' delimiter");
    FAILS("[", EOF, 1, "Expecting value");
    FAILS("]", SYNTAX, 0, "Expecting value");
    FAILS("\"abc", EOF, 0, "Unterminated string starting at");
    FAILS("[\"ab\\", EOF, 1, "Unterminated string starting at");
    FAILS("\"a\\x\"", STRING, 2, "Invalid \\escape");
    FAILS("\"a\\'\"", STRING, 2, "Invalid \\escape");
    FAILS("\"\\u12\"", EOF, 2, "Invalid \\uXXXX escape");
    FAILS("\"\\u12zz\"", STRING, 2, "Invalid \\uXXXX escape");
    FAILS("\"\\u\"", EOF, 2, "Invalid \\uXXXX escape");
    FAILS("\"a\x01\"", STRING, 2, "Invalid control character at");
    FAILS("\"a\tb\"", STRING, 2, "Invalid control character at");
    FAILS("\"a\nb\"", STRING, 2, "Invalid control character at");
    FAILS("01", NUMBER, 1, "Extra data");
    FAILS("[01]", NUMBER, 2, "Expecting ',' delimiter");
    FAILS("-01", NUMBER, 2, "Extra data");
    FAILS("-", NUMBER, 0, "Expecting value");
    FAILS("[-]", NUMBER, 1, "Expecting value");
    FAILS("- 1", NUMBER, 0, "Expecting value");
    FAILS("1.", NUMBER, 1, "Extra data");
    FAILS("[1.]", NUMBER, 2, "Expecting ',' delimiter");
    FAILS("1.e5", NUMBER, 1, "Extra data");
    FAILS("1e", NUMBER, 1, "Extra data");
    FAILS("1e+", NUMBER, 1, "Extra data");
    FAILS("1.5e", NUMBER, 3, "Extra data");
    FAILS("1.0e+", NUMBER, 3, "Extra data");
    FAILS("1.5.3", NUMBER, 3, "Extra data");
    FAILS(".5", SYNTAX, 0, "Expecting value");
    FAILS("+1", SYNTAX, 0, "Expecting value");
    FAILS("1 2", TRAILING, 2, "Extra data");
    FAILS("[1] x", TRAILING, 4, "Extra data");
    FAILS("{\"a\":1}}", TRAILING, 7, "Extra data");
    FAILS("1-2", TRAILING, 1, "Extra data");
    FAILS("tru", SYNTAX, 0, "Expecting value");
    FAILS("nul", SYNTAX, 0, "Expecting value");
    FAILS("True", SYNTAX, 0, "Expecting value");
    FAILS("[NaN]", SYNTAX, 1, "Expecting value");
    FAILS("Infinity", SYNTAX, 0, "Expecting value");
    FAILS("[-Infinity]", NUMBER, 1, "Expecting value");
    FAILS("[1] // c", TRAILING, 4, "Extra data");
    FAILS("/* c */ 1", SYNTAX, 0, "Expecting value");
    FAILS("\xef\xbb\xbf{}", SYNTAX, 0, "Unexpected UTF-8 BOM (decode using utf-8-sig)");
    FAILS("[\xc3\xa9]", SYNTAX, 1, "Expecting value");
    FAILS("\"a\" \x00", TRAILING, 4, "Extra data");
}

static void line_col(void)
{
    const char doc[] = "{\n  \"a\": 1,\n  \"b\" 2\n}";
    ringo__jlex lx;
    unsigned line, col;

    ringo__jlex_init(&lx, doc, sizeof(doc) - 1, 0, NULL, NULL);
    while (ringo__jlex_next(&lx) > RINGO__JTOK_EOF)
        ;
    CHECK(lx.err == RINGO__JERR_SYNTAX && lx.err_pos == 18);
    ringo__jlex_line_col(&lx, &line, &col);
    CHECKF(line == 3 && col == 7, "line %u col %u", line, col);
    CHECK(ringo__jlex_err_char(&lx) == 18);
    ringo__jlex_free(&lx);

    /* Python counts characters: é is one. */
    const char doc2[] = "[\"\xc3\xa9\xe2\x82\xac\" 1]";
    ringo__jlex_init(&lx, doc2, sizeof(doc2) - 1, 0, NULL, NULL);
    while (ringo__jlex_next(&lx) > RINGO__JTOK_EOF)
        ;
    CHECK(lx.err_pos == 9 && ringo__jlex_err_char(&lx) == 6);
    ringo__jlex_free(&lx);
}

static void escapes(void)
{
    TOKS("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "s:\"\\/\b\f\n\r\t $");
    TOKS("\"\\u0041\\u00e9\\u20AC\"", "s:A\xc3\xa9\xe2\x82\xac $");
    TOKS("\"\\ud83d\\ude00\"", "s:\xf0\x9f\x98\x80 $");
    TOKS("\"\\uDBFF\\uDFFF\"", "s:\xf4\x8f\xbf\xbf $");
    TOKS("\"x\\u0000y\"", "s:x $"); /* NUL decoded: %.*s stops there */
    FAILS("\"\\ud800\"", STRING, 2, "Unpaired surrogate in \\uXXXX escape");
    FAILS("\"\\udc00\"", STRING, 2, "Unpaired surrogate in \\uXXXX escape");
    FAILS("\"ab\\ud83dx\"", STRING, 4, "Unpaired surrogate in \\uXXXX escape");
    FAILS("\"\\ud83d\\u0041\"", STRING, 2, "Unpaired surrogate in \\uXXXX escape");
    FAILS("\"\\ud83d\\ud83d\"", STRING, 2, "Unpaired surrogate in \\uXXXX escape");
    FAILS("\"\\ud83d\\n\"", STRING, 2, "Unpaired surrogate in \\uXXXX escape");
    FAILS("\"\\ud83d\\uzzzz\"", STRING, 8, "Invalid \\uXXXX escape");
    FAILS("\"\\ud83d\\ude00", EOF, 0, "Unterminated string starting at");

    /* Zero copy: an escape-free string is the input; an escaped one is not. */
    const char doc[] = "[\"plain\", \"a\\nb\"]";
    ringo__jlex lx;
    ringo__jlex_init(&lx, doc, sizeof(doc) - 1, 0, NULL, NULL);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_ARR);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_STR && lx.str.ptr == doc + 2 && lx.str.len == 5);
    CHECK(lx.raw.ptr == doc + 1 && lx.raw.len == 7);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_STR && lx.str.len == 3);
    CHECK(lx.str.ptr < doc || lx.str.ptr >= doc + sizeof(doc));
    CHECK(memcmp(lx.str.ptr, "a\nb", 3) == 0);
    ringo__jlex_free(&lx);
}

static void utf8(void)
{
    OK("\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf\"");
    OK("\"\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf \xf3\xbf\xbf\xbf\"");
    OK("{\"\xc3\xa9t\xc3\xa9\": \"\xe6\x97\xa5\xe6\x9c\xac\"}");
    FAILS("\"\x80\"", UTF8, 1, "Invalid UTF-8 at");
    FAILS("\"ab\xc0\xaf\"", UTF8, 3, "Invalid UTF-8 at");       /* overlong '/' */
    FAILS("\"\xc1\xbf\"", UTF8, 1, "Invalid UTF-8 at");         /* overlong */
    FAILS("\"\xe0\x80\xaf\"", UTF8, 1, "Invalid UTF-8 at");     /* overlong, 3 bytes */
    FAILS("\"\xe0\x9f\xbf\"", UTF8, 1, "Invalid UTF-8 at");     /* overlong U+07FF */
    FAILS("\"\xf0\x80\x80\xaf\"", UTF8, 1, "Invalid UTF-8 at"); /* overlong, 4 bytes */
    FAILS("\"\xf0\x8f\xbf\xbf\"", UTF8, 1, "Invalid UTF-8 at"); /* overlong U+FFFF */
    FAILS("\"\xed\xa0\x80\"", UTF8, 1, "Invalid UTF-8 at");     /* U+D800 */
    FAILS("\"\xed\xbf\xbf\"", UTF8, 1, "Invalid UTF-8 at");     /* U+DFFF */
    FAILS("\"\xf4\x90\x80\x80\"", UTF8, 1, "Invalid UTF-8 at"); /* U+110000 */
    FAILS("\"\xf5\x80\x80\x80\"", UTF8, 1, "Invalid UTF-8 at");
    FAILS("\"\xff\"", UTF8, 1, "Invalid UTF-8 at");
    FAILS("\"\xc3\"", UTF8, 1, "Invalid UTF-8 at");     /* cut short by the quote */
    FAILS("\"\xe2\x82\"", UTF8, 1, "Invalid UTF-8 at"); /* cut short */
    FAILS("\"\xe2\x82", UTF8, 1, "Invalid UTF-8 at");   /* cut short by the end */
    FAILS("\"\xc3\xa9\xa9\"", UTF8, 3, "Invalid UTF-8 at");
    FAILS("{\"k\xff\":1}", UTF8, 3, "Invalid UTF-8 at");
    /* In the eight-byte scan too. */
    FAILS("\"abcdefghijklmn\xffopqrstuvwxyz\"", UTF8, 15, "Invalid UTF-8 at");
    FAILS("\"abcdefghijklmn\x1fopqrstuvwxyz\"", STRING, 15, "Invalid control character at");
    FAILS("\"abcdefghijklmnopqrstuvwxyz", EOF, 0, "Unterminated string starting at");
    TOKS("\"abcdefghijklmn\\\"opqrstuvwxyz\"", "s:abcdefghijklmn\"opqrstuvwxyz $");
}

static void depth(void)
{
    char doc[2 * RINGO__JSON_MAX_DEPTH + 8];
    size_t pos;

    for (unsigned d = 1; d <= RINGO__JSON_MAX_DEPTH + 1; d++) {
        memset(doc, '[', d);
        memset(doc + d, ']', d);
        ringo__jerr e = ringo__json_check(doc, 2 * d, 0, &pos);
        CHECKF((d <= RINGO__JSON_DEFAULT_DEPTH) == (e == RINGO__JERR_NONE), "depth %u: %d", d, e);
        if (e)
            CHECK(e == RINGO__JERR_DEPTH && pos == RINGO__JSON_DEFAULT_DEPTH);
        e = ringo__json_check(doc, 2 * d, RINGO__JSON_MAX_DEPTH + 100, &pos);
        CHECK((d <= RINGO__JSON_MAX_DEPTH) == (e == RINGO__JERR_NONE));
        e = ringo__json_check(doc, 2 * d, 3, &pos);
        CHECK((d <= 3) == (e == RINGO__JERR_NONE));
    }
    const char d3[] = "{\"a\":{\"b\":{\"c\":1}}}", d4[] = "{\"a\":{\"b\":[{}]}}";
    CHECK(ringo__json_check(d3, sizeof(d3) - 1, 3, NULL) == RINGO__JERR_NONE);
    CHECK(ringo__json_check(d4, sizeof(d4) - 1, 3, &pos) == RINGO__JERR_DEPTH && pos == 11);
    /* Deep and then shallow again: the object/array bits beyond 64 levels. */
    memset(doc, '[', 100);
    doc[100] = '{';
    doc[101] = '}';
    memset(doc + 102, ']', 100);
    CHECK(ringo__json_check(doc, 202, 200, NULL) == RINGO__JERR_NONE);
}

static void dup_keys(void)
{
    char doc[8192];
    size_t n, pos;

    FAILS("{\"a\":1,\"a\":2}", DUP_KEY, 7, "Duplicate key");
    FAILS("{\"a\":1,\"b\":2,\"a\":3}", DUP_KEY, 13, "Duplicate key");
    FAILS("{\"a\":1,\"\\u0061\":2}", DUP_KEY, 7, "Duplicate key"); /* same name, escaped */
    FAILS("{\"\":1,\"\":2}", DUP_KEY, 6, "Duplicate key");
    OK("{\"a\":1,\"A\":2,\"a \":3,\"ab\":4}");
    /* Sibling and nested objects have their own keys. */
    OK("[{\"a\":1},{\"a\":2}]");
    OK("{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}");
    FAILS("{\"a\":{\"b\":1},\"a\":2}", DUP_KEY, 13, "Duplicate key");
    FAILS("{\"o\":{\"b\":1,\"b\":2}}", DUP_KEY, 12, "Duplicate key");

    /* Many keys (hashed), a duplicate of the first, the middle and the last. */
    for (unsigned total = 10; total <= 600; total = total * 3 + 1) {
        for (unsigned which = 0; which < 3; which++) {
            unsigned dup = which == 0 ? 0 : which == 1 ? total / 2 : total - 1;
            n = (size_t)snprintf(doc, sizeof(doc), "{");
            for (unsigned i = 0; i < total; i++)
                n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\"k%u\":%u,", i, i);
            size_t at = n;
            n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\"k%u\":0}", dup);
            CHECKF(ringo__json_check(doc, n, 0, &pos) == RINGO__JERR_DUP_KEY && pos == at,
                   "%u keys, dup of %u", total, dup);
            n = at;
            n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\"k%u\":0}", total);
            CHECKF(ok(doc, n), "%u keys", total);
        }
    }
    /* Many big objects on one level, one after the other: a table is reused. */
    n = (size_t)snprintf(doc, sizeof(doc), "[");
    for (unsigned o = 0; o < 5; o++) {
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s{", o ? "," : "");
        for (unsigned i = 0; i < 40 + o * 30; i++)
            n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s\"k%u\":{\"k%u\":1}", i ? "," : "",
                                  i, i);
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "}");
    }
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "]");
    CHECK(ok(doc, n));
}

static ringo__jtok first_num(const char *doc, ringo__jlex *lx)
{
    ringo__jlex_init(lx, doc, strlen(doc), 0, NULL, NULL);
    return ringo__jlex_next(lx);
}

static void int_is(const char *doc, long long want)
{
    ringo__jlex lx;
    ringo__jtok t = first_num(doc, &lx);

    CHECKF(t == RINGO__JTOK_INT && lx.i == want && lx.d == (double)want && !lx.int_too_big,
           "%s: tok %d i %lld", doc, t, (long long)lx.i);
    CHECK(lx.raw.ptr == doc && lx.raw.len == strlen(doc));
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_EOF);
}

static void num_is(const char *doc, double want, bool too_big)
{
    ringo__jlex lx;
    ringo__jtok t = first_num(doc, &lx);

    CHECKF(t == RINGO__JTOK_NUM && lx.d == want && lx.int_too_big == too_big,
           "%s: tok %d d %.17g want %.17g", doc, t, lx.d, want);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_EOF);
}

static void numbers(void)
{
    ringo__jlex lx;

    int_is("0", 0);
    int_is("-1", -1);
    int_is("9223372036854775807", INT64_MAX);
    int_is("-9223372036854775808", INT64_MIN);
    int_is("1234567890123456789", 1234567890123456789LL);
    CHECK(first_num("-0", &lx) == RINGO__JTOK_INT && lx.i == 0 && signbit(lx.d));
    num_is("9223372036854775808", 9223372036854775808.0, true);
    num_is("-9223372036854775809", -9223372036854775808.0, true);
    num_is("18446744073709551616", 18446744073709551616.0, true);
    num_is("123456789012345678901234567890", 1.2345678901234568e29, true);
    num_is("-0.0", -0.0, false);
    CHECK(first_num("-0.0", &lx) == RINGO__JTOK_NUM && signbit(lx.d));
    num_is("1.5", 1.5, false);
    num_is("1e2", 100.0, false);
    num_is("1E+2", 100.0, false);
    num_is("25e-1", 2.5, false);
    num_is("0.1", 0.1, false);
    num_is("0.000001", 0.000001, false);
    num_is("3.141592653589793", 3.141592653589793, false);
    num_is("1.7976931348623157e308", 1.7976931348623157e308, false);
    num_is("1e308", 1e308, false);
    num_is("-1e308", -1e308, false);
    num_is("4.9e-324", 4.9e-324, false);
    num_is("1e-400", 0.0, false); /* underflow: zero is fine */
    num_is("0e99999", 0.0, false);
    num_is("1.00000000000000000000000000001", 1.0, false);
    num_is("9007199254740993.0", 9007199254740992.0, false);
    num_is("2.2250738585072011e-308", 2.2250738585072011e-308, false);
    int_is("9007199254740993", 9007199254740993LL);
    FAILS("1e309", RANGE, 0, "Number out of range");
    FAILS("[-1e309]", RANGE, 1, "Number out of range");
    FAILS("1.8e308", RANGE, 0, "Number out of range");
    FAILS("1e99999999999999999999", RANGE, 0, "Number out of range");
    char big[400];
    memset(big, '9', 330);
    big[330] = '\0';
    CHECK(ringo__json_check(big, 330, 0, NULL) == RINGO__JERR_RANGE);
    CHECK(ringo__json_check(big, 300, 0, NULL) == RINGO__JERR_NONE);
    num_is("1e22", 1e22, false);
    num_is("1e23", 1e23, false);
}

static void skip(void)
{
    const char doc[] = "{\"skip\": {\"a\": [1, {\"b\": \"x\\ny\"}], \"c\": {}}, \"s\": \"v\", "
                       "\"keep\": 7, \"arr\": [[], [[]]]}";
    ringo__jlex lx;

    ringo__jlex_init(&lx, doc, sizeof(doc) - 1, 0, NULL, NULL);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_OBJ);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_KEY);
    CHECK(ringo__jlex_skip(&lx, ringo__jlex_next(&lx)) == RINGO__JTOK_OBJ_END);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_KEY);
    CHECK(ringo__jlex_skip(&lx, ringo__jlex_next(&lx)) == RINGO__JTOK_STR);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_KEY && ringo_str_eq(lx.str, RINGO_STR_LIT("keep")));
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_INT && lx.i == 7);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_KEY);
    CHECK(ringo__jlex_skip(&lx, ringo__jlex_next(&lx)) == RINGO__JTOK_ARR_END);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_OBJ_END);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_EOF);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_EOF);
    ringo__jlex_free(&lx);

    /* A skipped value is still checked: errors and duplicate keys inside it. */
    const char bad[] = "{\"s\": {\"a\": 1, \"a\": 2}, \"t\": 1}";
    ringo__jlex_init(&lx, bad, sizeof(bad) - 1, 0, NULL, NULL);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_OBJ && ringo__jlex_next(&lx) == RINGO__JTOK_KEY);
    CHECK(ringo__jlex_skip(&lx, ringo__jlex_next(&lx)) == RINGO__JTOK_ERROR);
    CHECK(lx.err == RINGO__JERR_DUP_KEY && lx.err_pos == 15);
    ringo__jlex_free(&lx);
    const char bad2[] = "[[1, 2,]]";
    ringo__jlex_init(&lx, bad2, sizeof(bad2) - 1, 0, NULL, NULL);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_ARR);
    CHECK(ringo__jlex_skip(&lx, ringo__jlex_next(&lx)) == RINGO__JTOK_ERROR);
    CHECK(lx.err == RINGO__JERR_SYNTAX && lx.err_pos == 7);
    ringo__jlex_free(&lx);
}

/* A bump allocator like the request arena's: nothing freed one by one. */
static char pool[1 << 16];
static size_t pool_used, pool_calls;

static void *bump(void *ctx, size_t n)
{
    (void)ctx;
    pool_calls++;
    n = (n + 15) & ~(size_t)15;
    if (pool_used + n > sizeof(pool))
        return NULL;
    pool_used += n;
    return pool + pool_used - n;
}

static void allocator(void)
{
    const char doc[] = "{\"a\": \"x\\ty\", \"b\": [\"no escapes\"], \"c\\u0064\": 1}";
    ringo__jlex lx;
    ringo__jtok t;
    unsigned strs = 0;

    ringo__jlex_init(&lx, doc, sizeof(doc) - 1, 0, bump, NULL);
    while ((t = ringo__jlex_next(&lx)) > RINGO__JTOK_EOF) {
        if (t == RINGO__JTOK_STR || t == RINGO__JTOK_KEY)
            strs++;
        if (t == RINGO__JTOK_KEY && lx.str.len == 2)
            CHECK(memcmp(lx.str.ptr, "cd", 2) == 0);
    }
    CHECK(t == RINGO__JTOK_EOF && strs == 5 && lx.blocks == NULL);
    /* The key set (two blocks) and the two escaped strings, nothing else. */
    CHECKF(pool_calls == 4, "%zu allocations", pool_calls);

    /* Out of memory is an error, not a crash. */
    pool_used = sizeof(pool);
    ringo__jlex_init(&lx, doc, sizeof(doc) - 1, 0, bump, NULL);
    CHECK(ringo__jlex_next(&lx) == RINGO__JTOK_ERROR && lx.err == RINGO__JERR_NOMEM);
    CHECK(strcmp(ringo__jlex_errmsg(&lx), "Out of memory") == 0);
}

/* The allocator fails at its n-th call, for every n: NOMEM, never a crash. */
static size_t fail_at;

static void *bump_until(void *ctx, size_t n)
{
    return pool_calls + 1 >= fail_at ? (pool_calls++, NULL) : bump(ctx, n);
}

static void allocator_failures(void)
{
    char doc[4096];
    size_t n = (size_t)snprintf(doc, sizeof(doc), "[{\"e\\n\": \"\\u00e9\", \"o\": {");
    size_t calls;

    for (unsigned i = 0; i < 100; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s\"k%u\": {\"x\\t\": %u}", i ? "," : "",
                              i, i);
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "}}]");
    pool_used = pool_calls = 0;
    fail_at = SIZE_MAX;
    CHECK(ringo__json_check(doc, n, 0, NULL) == RINGO__JERR_NONE);
    {
        ringo__jlex lx;
        ringo__jlex_init(&lx, doc, n, 0, bump_until, NULL);
        while (ringo__jlex_next(&lx) > RINGO__JTOK_EOF)
            ;
        CHECK(lx.err == RINGO__JERR_NONE);
        calls = pool_calls;
    }
    for (fail_at = 1; fail_at <= calls; fail_at++) {
        ringo__jlex lx;
        ringo__jtok t;
        pool_used = pool_calls = 0;
        ringo__jlex_init(&lx, doc, n, 0, bump_until, NULL);
        while ((t = ringo__jlex_next(&lx)) > RINGO__JTOK_EOF)
            ;
        CHECKF(t == RINGO__JTOK_ERROR && lx.err == RINGO__JERR_NOMEM, "fail at %zu of %zu: %d",
               fail_at, calls, lx.err);
    }
}

/* Under a locale whose decimal point is ',', "1.5" is still 1.5. */
static void locale(void)
{
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8"};

    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (setlocale(LC_NUMERIC, names[i]))
            break;
    num_is("1.2345678901234567890123", 1.2345678901234567890123, false);
    num_is("1.5e-300", 1.5e-300, false);
    setlocale(LC_NUMERIC, "C");
}

int main(void)
{
    tokens();
    errors();
    line_col();
    escapes();
    utf8();
    depth();
    dup_keys();
    numbers();
    skip();
    allocator();
    allocator_failures();
    locale();
    printf("json_lex: ok\n");
    return 0;
}
