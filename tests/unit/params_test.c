/*
 * Description: typed parameters (http/params.c) on the in-memory core of
 * fake_core.h: ringo_param_int/bool/str from the path, the query, a header
 * and a cookie; required vs default; bounds; the exact FastAPI/pydantic v2
 * 422 body (type, loc, msg, input, ctx) with several errors in one request;
 * integer edge cases (INT64_MIN/MAX, one past them, sign, empty, stray
 * bytes, whitespace: an optional sign and ASCII digits only); bool words in
 * any ASCII case; cookie parsing; percent-decoding of query values.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_core.h"

static ringo_app *app;

#define INT_MSG "Input should be a valid integer, unable to parse string as an integer"
#define BOOL_MSG "Input should be a valid boolean, unable to interpret input"

/* Answers 200 with fmt, or passes a getter's error on after checking it was recorded. */
static int reply(ringo_req *req, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int reply(ringo_req *req, int ret, const char *fmt, ...)
{
    char *b = ringo_req_alloc(req, 128);
    va_list ap;
    int n;

    if (ret < 0) {
        CHECKF(ret == RINGO_EVALIDATION, "getter returned %d", ret);
        CHECK(ringo_param_errors(req) >= 1);
        return ret;
    }
    CHECK(b);
    va_start(ap, fmt);
    n = vsnprintf(b, 128, fmt, ap);
    va_end(ap);
    return ringo_respond(req, 200, "text/plain", b, (size_t)n);
}

/* GET /int?v=: any int64, required. */
static int int_any(ringo_req *req, void *ud)
{
    int64_t v = 7;
    int ret = ringo_param_int(req, RINGO_LOC_QUERY, "v", INT64_MIN, INT64_MAX, NULL, &v);

    (void)ud;
    return reply(req, ret, "%" PRId64, v);
}

/* GET /range?v=: 1..100, default 10. */
static int int_range(ringo_req *req, void *ud)
{
    static const int64_t dflt = 10;
    int64_t v = 0;
    int ret = ringo_param_int(req, RINGO_LOC_QUERY, "v", 1, 100, &dflt, &v);

    (void)ud;
    return reply(req, ret, "%" PRId64, v);
}

/* GET /bool?v= (required) and GET /bool-dflt?v= (default true). */
static int boolean(ringo_req *req, void *ud)
{
    static const int yes = 1;
    int v = -1;
    int ret = ringo_param_bool(req, RINGO_LOC_QUERY, "v", ud ? &yes : NULL, &v);

    return reply(req, ret, "%d", v);
}

/* GET /str?v=: 2..4 bytes, default "dflt"; GET /str1?v=: at least 1, no maximum. */
static int str(ringo_req *req, void *ud)
{
    ringo_str v = {"", 0};
    int ret = ud ? ringo_param_str(req, RINGO_LOC_QUERY, "v", 1, 0, NULL, &v)
                 : ringo_param_str(req, RINGO_LOC_QUERY, "v", 2, 4, "dflt", &v);

    return reply(req, ret, "[%.*s]", (int)v.len, v.ptr);
}

/* GET /loc/{id}: one int from each location; every failure is listed. */
static int locations(ringo_req *req, void *ud)
{
    int64_t id = 0, q = 0, h = 0, c = 0;

    (void)ud;
    ringo_param_int(req, RINGO_LOC_PATH, "id", 0, INT64_MAX, NULL, &id);
    ringo_param_int(req, RINGO_LOC_QUERY, "q", 0, INT64_MAX, NULL, &q);
    ringo_param_int(req, RINGO_LOC_HEADER, "X-N", 0, INT64_MAX, NULL, &h);
    ringo_param_int(req, RINGO_LOC_COOKIE, "sid", 0, INT64_MAX, NULL, &c);
    if (ringo_param_errors(req))
        return RINGO_EVALIDATION;
    return reply(req, 0, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64, id, q, h, c);
}

/* GET /mixed/{id}: every getter and error kind in one request. */
static int mixed(ringo_req *req, void *ud)
{
    int64_t id, lim;
    int flag;
    ringo_str name;

    (void)ud;
    CHECK(ringo_param_int(req, RINGO_LOC_PATH, "id", 1, 1000, NULL, &id) == RINGO_EVALIDATION);
    CHECK(ringo_param_int(req, RINGO_LOC_QUERY, "limit", 1, 50, NULL, &lim) == RINGO_EVALIDATION);
    CHECK(ringo_param_str(req, RINGO_LOC_QUERY, "name", 3, 0, NULL, &name) == RINGO_EVALIDATION);
    CHECK(ringo_param_bool(req, RINGO_LOC_HEADER, "X-Flag", NULL, &flag) == RINGO_EVALIDATION);
    CHECK(ringo_param_int(req, RINGO_LOC_COOKIE, "sid", 0, 9, NULL, &id) == RINGO_EVALIDATION);
    CHECK(ringo_param_str(req, RINGO_LOC_HEADER, "X-Missing", 0, 0, NULL, &name) ==
          RINGO_EVALIDATION);
    CHECK(ringo_param_int(req, RINGO_LOC_QUERY, "bad", 0, 9, NULL, &id) == RINGO_EVALIDATION);
    CHECK(ringo_param_errors(req) == 7);
    /* What the handler set for a success does not leak into the 422. */
    CHECK(ringo_resp_add_header(req, "X-Success", RINGO_STR_LIT("1")) == 0);
    return RINGO_EVALIDATION;
}

static void start(void)
{
    app = fake_app_new(NULL);
    CHECK(ringo_route(app, "GET", "/int", RINGO_ASYNC, int_any, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/range", RINGO_ASYNC, int_range, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/bool", RINGO_ASYNC, boolean, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/bool-dflt", RINGO_ASYNC, boolean, app) == 0);
    CHECK(ringo_route(app, "GET", "/str", RINGO_ASYNC, str, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/str1", RINGO_ASYNC, str, app) == 0);
    CHECK(ringo_route(app, "GET", "/loc/{id}", RINGO_ASYNC, locations, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/mixed/{id}", RINGO_ASYNC, mixed, NULL) == 0);
    fake_app_start(app);
}

static void stop(void) { fake_app_free(app); }

/*
 * GET target with extra header lines; returns the status and copies the
 * body into body (NUL-terminated). A 422 must be JSON.
 */
static int ask(const char *target, const char *headers, char *body, size_t cap)
{
    char req[2048];
    ringo__conn *c = fake_open();
    const char *w, *b;
    int status = 0;

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n", target, headers);
    fake_recv_str(c, req);
    w = fake_wire(c);
    CHECKF(sscanf(w, "HTTP/1.1 %d ", &status) == 1, "%s: %s", target, w);
    b = strstr(w, "\r\n\r\n");
    CHECKF(b, "%s: no end of head: %s", target, w);
    CHECKF(strlen(b + 4) < cap, "%s: body too long", target);
    strcpy(body, b + 4);
    if (status == 422) {
        CHECKF(strstr(w, "\r\nContent-Type: application/json\r\n"), "%s", w);
        CHECKF(!strstr(w, "X-Success"), "%s", w);
    }
    fake_run(c);
    CHECKF(!c->closed, "%s: closed", target);
    fake_close(c);
    return status;
}

static void expect(const char *target, const char *headers, int status, const char *body)
{
    char got[4096];
    int s = ask(target, headers, got, sizeof(got));

    CHECKF(s == status && strcmp(got, body) == 0, "%s -> %d %s\nwant %d %s", target, s, got, status,
           body);
}

/* One error for query parameter v: {"detail":[{...}]}. */
static void expect_error(const char *target, const char *type, const char *msg, const char *input,
                         const char *ctx)
{
    char want[1024];

    snprintf(want, sizeof(want),
             "{\"detail\":[{\"type\":\"%s\",\"loc\":[\"query\",\"v\"],\"msg\":\"%s\","
             "\"input\":%s%s}]}",
             type, msg, input, ctx);
    expect(target, "", 422, want);
}

static void test_int(void)
{
    static const struct {
        const char *v, *want;
    } ok[] = {
        {"0", "0"},
        {"-0", "0"},
        {"%2B5", "5"}, /* "+5": a '+' in a query is a space unless encoded */
        {"-17", "-17"},
        {"00012", "12"},
        {"9223372036854775807", "9223372036854775807"},
        {"-9223372036854775808", "-9223372036854775808"},
        {"%2D9223372036854775808", "-9223372036854775808"},
    };
    static const struct {
        const char *v, *input;
    } bad[] = {
        {"9223372036854775808", "\"9223372036854775808\""},
        {"-9223372036854775809", "\"-9223372036854775809\""},
        {"18446744073709551616", "\"18446744073709551616\""},
        {"99999999999999999999999", "\"99999999999999999999999\""},
        {"", "\"\""},
        {"-", "\"-\""},
        {"%2B", "\"+\""},
        {"--1", "\"--1\""},
        {"%2B-1", "\"+-1\""},
        {"1x", "\"1x\""},
        {"x1", "\"x1\""},
        {"1.0", "\"1.0\""},
        {"0x10", "\"0x10\""},
        {"1e3", "\"1e3\""},
        {"+1", "\" 1\""},
        {"1+", "\"1 \""},
        {"%091", "\"\\u00091\""},
        {"1%0A", "\"1\\u000a\""},
        {"1%00", "\"1\\u0000\""},
        {"%D9%A1", "\"\xd9\xa1\""}, /* ARABIC-INDIC DIGIT ONE */
    };
    char target[128];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(target, sizeof(target), "/int?v=%s", ok[i].v);
        expect(target, "", 200, ok[i].want);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(target, sizeof(target), "/int?v=%s", bad[i].v);
        expect_error(target, "int_parsing", INT_MSG, bad[i].input, "");
    }
    /* A flag without '=' is present and empty. */
    expect_error("/int?v", "int_parsing", INT_MSG, "\"\"", "");
    expect_error("/int", "missing", "Field required", "null", "");
    expect_error("/int?w=1", "missing", "Field required", "null", "");
    expect("/int?v=5&v=6", "", 200, "5");
    printf("ok   int: sign, digits only, INT64_MIN/MAX and one past, missing\n");
}

static void test_bounds(void)
{
    expect("/range?v=1", "", 200, "1");
    expect("/range?v=100", "", 200, "100");
    expect("/range", "", 200, "10");
    expect_error("/range?v=0", "greater_than_equal", "Input should be greater than or equal to 1",
                 "\"0\"", ",\"ctx\":{\"ge\":1}");
    expect_error("/range?v=-9223372036854775808", "greater_than_equal",
                 "Input should be greater than or equal to 1", "\"-9223372036854775808\"",
                 ",\"ctx\":{\"ge\":1}");
    expect_error("/range?v=101", "less_than_equal", "Input should be less than or equal to 100",
                 "\"101\"", ",\"ctx\":{\"le\":100}");
    /* A present value is parsed even though a default exists. */
    expect_error("/range?v=ten", "int_parsing", INT_MSG, "\"ten\"", "");
    printf("ok   int bounds: ge/le with ctx, default when absent\n");
}

static void test_bool(void)
{
    static const char *const yes[] = {"true", "TRUE", "tRuE", "1", "yes", "YeS",
                                      "on",   "ON",   "t",    "T", "y",   "Y"};
    static const char *const no[] = {"false", "FALSE", "fAlSe", "0", "no", "NO",
                                     "off",   "oFF",   "f",     "F", "n",  "N"};
    static const char *const bad[] = {"", "2", "-1", "tru", "truee", "yess", "of", "01", "x"};
    char target[64], input[32];

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(target, sizeof(target), "/bool?v=%s", yes[i]);
        expect(target, "", 200, "1");
        snprintf(target, sizeof(target), "/bool?v=%s", no[i]);
        expect(target, "", 200, "0");
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(target, sizeof(target), "/bool?v=%s", bad[i]);
        snprintf(input, sizeof(input), "\"%s\"", bad[i]);
        expect_error(target, "bool_parsing", BOOL_MSG, input, "");
    }
    /* Not a word padded with spaces, nor one in a non-ASCII case ("\xc4\xb1" is dotless i). */
    expect_error("/bool?v=+true", "bool_parsing", BOOL_MSG, "\" true\"", "");
    expect_error("/bool?v=on%C4%B1", "bool_parsing", BOOL_MSG, "\"on\xc4\xb1\"", "");
    expect_error("/bool", "missing", "Field required", "null", "");
    expect("/bool-dflt", "", 200, "1");
    expect("/bool-dflt?v=off", "", 200, "0");
    printf("ok   bool: words in any ASCII case, default\n");
}

static void test_str(void)
{
    expect("/str?v=ab", "", 200, "[ab]");
    expect("/str?v=abcd", "", 200, "[abcd]");
    expect("/str", "", 200, "[dflt]");
    expect("/str?v=a%20b", "", 200, "[a b]");
    expect("/str?v=a+b", "", 200, "[a b]");
    expect("/str?v=%2541", "", 200, "[%41]"); /* decoded once */
    expect_error("/str?v=a", "string_too_short", "String should have at least 2 characters",
                 "\"a\"", ",\"ctx\":{\"min_length\":2}");
    expect_error("/str?v=", "string_too_short", "String should have at least 2 characters", "\"\"",
                 ",\"ctx\":{\"min_length\":2}");
    expect_error("/str?v=abcde", "string_too_long", "String should have at most 4 characters",
                 "\"abcde\"", ",\"ctx\":{\"max_length\":4}");
    /* Lengths are bytes: "\xc3\xa9" is one character but two bytes. */
    expect_error("/str?v=%C3%A9%C3%A9%C3%A9", "string_too_long",
                 "String should have at most 4 characters", "\"\xc3\xa9\xc3\xa9\xc3\xa9\"",
                 ",\"ctx\":{\"max_length\":4}");
    expect_error("/str1?v=", "string_too_short", "String should have at least 1 character", "\"\"",
                 ",\"ctx\":{\"min_length\":1}");
    expect(
        "/str1?v=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "", 200,
        "[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]");
    /* Malformed percent-encoding is a value error without an input. */
    expect_error("/str?v=%zz", "value_error", "Value error, malformed percent-encoding", "null",
                 "");
    expect_error("/str?v=ab%4", "value_error", "Value error, malformed percent-encoding", "null",
                 "");
    /* JSON escaping of what the client sent: quote, backslash, control bytes. */
    expect_error("/str?v=%22%5C%01%1F%7F%22", "string_too_long",
                 "String should have at most 4 characters", "\"\\\"\\\\\\u0001\\u001f\x7f\\\"\"",
                 ",\"ctx\":{\"max_length\":4}");
    printf("ok   str: lengths in bytes, decoding, JSON escaping of the input\n");
}

static void test_locations(void)
{
    char body[4096];

    /* Path parameters are percent-decoded; header names match in any case. */
    expect("/loc/%31%32?q=3", "x-n: 4\r\nCookie: sid=5\r\n", 200, "12 3 4 5");
    expect("/loc/1?q=2", "X-N: 3\r\nX-N: 9\r\nCookie: a=1; sid=6; b=2\r\n", 200, "1 2 3 6");
    static const struct {
        const char *cookie, *sid;
    } cookies[] = {
        {"sid=7", "7"},
        {"a=1;sid=7", "7"},        /* no space after ';' */
        {"a=1;   sid=7", "7"},     /* several spaces */
        {"sid=7; sid=8", "7"},     /* the first one */
        {"xsid=1; sid=7", "7"},    /* no suffix match */
        {"sidx=1; sid=7", "7"},    /* no prefix match */
        {"sid; sid=7", "7"},       /* a pair without '=' is skipped */
        {"a=sid=1; sid=7", "7"},   /* '=' in a value */
        {"a=1; ; sid=7", "7"},     /* an empty pair */
        {"a=\"x;y\"; sid=7", "7"}, /* ';' splits even inside quotes */
        {"SID=1; sid=7", "7"},     /* names are case-sensitive */
    };
    char target[64], headers[128], want[64];

    for (size_t i = 0; i < sizeof(cookies) / sizeof(cookies[0]); i++) {
        snprintf(headers, sizeof(headers), "X-N: 0\r\nCookie: %s\r\n", cookies[i].cookie);
        snprintf(want, sizeof(want), "0 0 0 %s", cookies[i].sid);
        snprintf(target, sizeof(target), "/loc/0?q=0");
        expect(target, headers, 200, want);
    }
    /* Absent everywhere but the path. */
    expect(
        "/loc/1", "Cookie: SID=1; sidx=2; sid\r\n", 422,
        "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"query\",\"q\"],\"msg\":\"Field required\","
        "\"input\":null},{\"type\":\"missing\",\"loc\":[\"header\",\"X-N\"],\"msg\":"
        "\"Field required\",\"input\":null},{\"type\":\"missing\",\"loc\":[\"cookie\","
        "\"sid\"],\"msg\":\"Field required\",\"input\":null}]}");
    /* An empty cookie value is present (and no integer). */
    CHECK(ask("/loc/1?q=1", "X-N: 1\r\nCookie: sid=\r\n", body, sizeof(body)) == 422);
    CHECKF(strcmp(body, "{\"detail\":[{\"type\":\"int_parsing\",\"loc\":[\"cookie\",\"sid\"],"
                        "\"msg\":\"" INT_MSG "\",\"input\":\"\"}]}") == 0,
           "%s", body);
    printf("ok   locations: path, query, header, cookie (edge cases)\n");
}

static void test_many_errors(void)
{
    expect("/mixed/abc?limit=51&name=ab&bad=%G1", "X-Flag: maybe\r\nCookie: sid=10\r\n", 422,
           "{\"detail\":["
           "{\"type\":\"int_parsing\",\"loc\":[\"path\",\"id\"],\"msg\":\"" INT_MSG "\","
           "\"input\":\"abc\"},"
           "{\"type\":\"less_than_equal\",\"loc\":[\"query\",\"limit\"],"
           "\"msg\":\"Input should be less than or equal to 50\",\"input\":\"51\","
           "\"ctx\":{\"le\":50}},"
           "{\"type\":\"string_too_short\",\"loc\":[\"query\",\"name\"],"
           "\"msg\":\"String should have at least 3 characters\",\"input\":\"ab\","
           "\"ctx\":{\"min_length\":3}},"
           "{\"type\":\"bool_parsing\",\"loc\":[\"header\",\"X-Flag\"],\"msg\":\"" BOOL_MSG "\","
           "\"input\":\"maybe\"},"
           "{\"type\":\"less_than_equal\",\"loc\":[\"cookie\",\"sid\"],"
           "\"msg\":\"Input should be less than or equal to 9\",\"input\":\"10\","
           "\"ctx\":{\"le\":9}},"
           "{\"type\":\"missing\",\"loc\":[\"header\",\"X-Missing\"],\"msg\":\"Field required\","
           "\"input\":null},"
           "{\"type\":\"value_error\",\"loc\":[\"query\",\"bad\"],"
           "\"msg\":\"Value error, malformed percent-encoding\",\"input\":null}"
           "]}");
    printf("ok   seven errors in one 422, in the order recorded\n");
}

int main(void)
{
    start();
    test_int();
    test_bounds();
    test_bool();
    test_str();
    test_locations();
    test_many_errors();
    stop();
    return 0;
}
