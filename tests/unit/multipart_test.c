/*
 * Description: http/multipart.c - the boundary in Content-Type, the
 * streaming multipart/form-data parser (forms with fields and files, every
 * way of cutting a body into buffers, delimiter lookalikes in data, the
 * preamble and epilogue, transport padding, malformed bodies and each
 * limit) and the error-to-status map.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/multipart.h"

/* ---- recording what the callbacks see ---- */

/*
 * One line per event: "B<index> n=<name> f=<filename or -> t=<type>", "D"
 * and the part's data (consecutive data calls merged: where the spans are
 * cut depends on the feeds), "E" for a part's end, and "R<rc>" for the
 * result of the last call.
 */
typedef struct rec {
    char *p;
    size_t len, cap;
    int in_data;
    int fail_begin_at; /* part_begin of this index returns fail_rc (-1: never) */
    int fail_rc;
    size_t calls; /* part_data calls */
} rec;

static void put(rec *r, const char *p, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->p = realloc(r->p, r->cap);
        CHECK(r->p);
    }
    memcpy(r->p + r->len, p, n);
    r->len += n;
    r->p[r->len] = '\0';
}

static void putf(rec *r, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int k;

    if (r->in_data) {
        put(r, "\n", 1);
        r->in_data = 0;
    }
    va_start(ap, fmt);
    k = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    put(r, line, (size_t)k);
}

static int on_begin(void *ud, const ringo__mp_part *part)
{
    rec *r = ud;

    putf(r, "B%u n=%.*s f=%.*s t=%.*s\n", part->index, (int)part->name.len, part->name.ptr,
         part->filename.ptr ? (int)part->filename.len : 1,
         part->filename.ptr ? part->filename.ptr : "-", (int)part->content_type.len,
         part->content_type.ptr);
    return (int)part->index == r->fail_begin_at ? r->fail_rc : 0;
}

static int on_data(void *ud, const char *p, size_t n)
{
    rec *r = ud;

    CHECK(n > 0);
    if (!r->in_data)
        put(r, "D", 1);
    r->in_data = 1;
    r->calls++;
    put(r, p, n);
    return 0;
}

static int on_end(void *ud)
{
    putf(ud, "E\n");
    return 0;
}

static const ringo__mp_callbacks cbs = {on_begin, on_data, on_end};

/* ---- running the parser ---- */

static ringo__mp_limits lim;

/* Parses body in buffers of `piece` bytes (0: whole), or cut once at `at` when piece is SIZE_MAX.
 */
static char *run_cut(const char *b, const char *body, size_t n, size_t piece, size_t at, int *rc)
{
    ringo__mp p;
    rec r = {.fail_begin_at = -1};
    int ret = 0;

    CHECK(ringo__mp_init(&p, ringo_str_c(b), &lim, &cbs, &r) == 0);
    put(&r, "", 0);
    if (piece == SIZE_MAX) {
        ret = ringo__mp_feed(&p, body, at);
        if (ret >= 0)
            ret = ringo__mp_feed(&p, body + at, n - at);
    } else {
        if (piece == 0)
            piece = n ? n : 1;
        for (size_t off = 0; off < n && ret >= 0; off += piece) {
            /* A fresh copy per buffer, so ASan sees any read past it. */
            size_t k = n - off < piece ? n - off : piece;
            char *copy = malloc(k);
            CHECK(copy);
            memcpy(copy, body + off, k);
            ret = ringo__mp_feed(&p, copy, k);
            free(copy);
        }
    }
    if (ret >= 0)
        ret = ringo__mp_finish(&p);
    putf(&r, "R%d\n", ret);
    ringo__mp_free(&p);
    if (rc)
        *rc = ret;
    return r.p;
}

static char *run(const char *b, const char *body, int *rc)
{
    return run_cut(b, body, strlen(body), 0, 0, rc);
}

/* The body parses to `want` whole, cut in two anywhere, and in pieces of every size. */
static void expect_any_cut(const char *b, const char *body, const char *want)
{
    size_t n = strlen(body);
    char *whole = run(b, body, NULL);

    CHECKF(strcmp(whole, want) == 0, "\n--- got:\n%s--- want:\n%s", whole, want);
    for (size_t at = 0; at <= n; at++) {
        char *got = run_cut(b, body, n, SIZE_MAX, at, NULL);
        CHECKF(strcmp(got, want) == 0, "cut at %zu:\n%s", at, got);
        free(got);
    }
    for (size_t piece = 1; piece < n; piece++) {
        char *got = run_cut(b, body, n, piece, 0, NULL);
        CHECKF(strcmp(got, want) == 0, "in %zu-byte pieces:\n%s", piece, got);
        free(got);
    }
    free(whole);
}

/* The body fails with err (and no more events than `prefix` before it), however it is cut. */
static void expect_error(const char *b, const char *body, int err, const char *prefix)
{
    char want[4096];

    snprintf(want, sizeof(want), "%sR%d\n", prefix, err);
    expect_any_cut(b, body, want);
}

/* ---- the boundary ---- */

static int boundary_is(const char *ct, const char *want)
{
    ringo_str b = {0};
    int rc = ringo__mp_boundary(ringo_str_c(ct), &b);

    if (!want)
        return rc == -EINVAL;
    if (rc != 0 || !ringo_str_eq(b, ringo_str_c(want))) {
        fprintf(stderr, "  boundary(%s) = %d \"%.*s\"\n", ct, rc, (int)b.len, b.ptr);
        return 0;
    }
    return 1;
}

static void test_boundary(void)
{
    char b70[80], ct[128];

    CHECK(boundary_is("multipart/form-data; boundary=abc", "abc"));
    CHECK(boundary_is("Multipart/Form-Data; BOUNDARY=abc", "abc"));
    CHECK(boundary_is("multipart/form-data;boundary=abc", "abc"));
    CHECK(boundary_is("multipart/form-data ;\tboundary=abc ", "abc"));
    CHECK(boundary_is("multipart/form-data; charset=utf-8; boundary=x-1; a=\"b;c\"", "x-1"));
    CHECK(boundary_is("multipart/form-data; ; boundary=abc;", "abc"));
    CHECK(boundary_is("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
                      "----WebKitFormBoundary7MA4YWxkTrZu0gW"));
    /* Quoted: the bchars a token cannot hold, and escapes (removed by ringo__mp_init). */
    CHECK(boundary_is("multipart/form-data; boundary=\"a b:c/d=e?f,g(h)\"", "a b:c/d=e?f,g(h)"));
    CHECK(boundary_is("multipart/form-data; boundary=\"a\\bc\"", "a\\bc"));
    CHECK(boundary_is("multipart/form-data; boundary=\"'+_-.\"", "'+_-."));
    memset(b70, 'b', 70);
    b70[70] = '\0';
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", b70);
    CHECK(boundary_is(ct, b70));

    /* Not multipart/form-data, or no usable boundary. */
    CHECK(boundary_is("multipart/mixed; boundary=abc", NULL));
    CHECK(boundary_is("multipart/form-datax; boundary=abc", NULL));
    CHECK(boundary_is("application/x-www-form-urlencoded", NULL));
    CHECK(boundary_is("multipart/form-data", NULL));
    CHECK(boundary_is("multipart/form-data;", NULL));
    CHECK(boundary_is("", NULL));
    CHECK(boundary_is("multipart/form-data; boundary=", NULL));
    CHECK(boundary_is("multipart/form-data; boundary=\"\"", NULL));
    CHECK(boundary_is("multipart/form-data; boundary=\"abc \"", NULL)); /* trailing space */
    CHECK(boundary_is("multipart/form-data; boundary=a*b", NULL));      /* tchar, not bchar */
    CHECK(boundary_is("multipart/form-data; boundary=\"a@b\"", NULL));
    CHECK(boundary_is("multipart/form-data; boundary=\"a\\\"b\"", NULL));
    CHECK(boundary_is("multipart/form-data; boundary=\"abc", NULL));
    CHECK(boundary_is("multipart/form-data; boundary = abc", NULL));
    CHECK(boundary_is("multipart/form-data boundary=abc", NULL));
    CHECK(boundary_is("multipart/form-data; boundary=a; boundary=a", NULL));
    CHECK(boundary_is("multipart/form-data; boundary=abc x=y", NULL));
    CHECK(boundary_is("multipart/form-data; x; boundary=abc", NULL));
    CHECK(boundary_is("multipart/form-data; boundary=\"a\001b\"", NULL));
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%sb", b70);
    CHECK(boundary_is(ct, NULL)); /* 71 characters */
}

static void test_init(void)
{
    ringo__mp p;
    static const char b71[] =
        "12345678901234567890123456789012345678901234567890123456789012345678901";
    const char *body = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--";

    CHECK(ringo__mp_init(&p, RINGO_STR_LIT(""), NULL, NULL, NULL) == -EINVAL);
    CHECK(ringo__mp_init(&p, RINGO_STR_LIT("a b "), NULL, NULL, NULL) == -EINVAL);
    CHECK(ringo__mp_init(&p, RINGO_STR_LIT("a\r"), NULL, NULL, NULL) == -EINVAL);
    CHECK(ringo__mp_init(&p, ringo_str_c(b71), NULL, NULL, NULL) == -EINVAL);
    /* No callbacks at all: the body is still checked. */
    CHECK(ringo__mp_init(&p, RINGO_STR_LIT("b"), NULL, NULL, NULL) == 0);
    CHECK(ringo__mp_feed(&p, body, strlen(body)) == 1);
    CHECK(ringo__mp_finish(&p) == 0);
    ringo__mp_free(&p);
    ringo__mp_free(&p); /* twice is harmless */
}

/* ---- well-formed bodies ---- */

#define CD "Content-Disposition: form-data; "

static void test_form(void)
{
    /* What a browser sends for a text field, a file and an empty file input. */
    const char *body = "--XyZ\r\n" CD "name=\"title\"\r\n\r\nHello, world\r\n"
                       "--XyZ\r\n" CD "name=\"doc\"; filename=\"a.txt\"\r\n"
                       "Content-Type: application/octet-stream\r\n\r\n"
                       "line 1\r\nline 2\n\r\n"
                       "--XyZ\r\n" CD "name=\"empty\"; filename=\"\"\r\n"
                       "Content-Type: application/octet-stream\r\n\r\n\r\n"
                       "--XyZ--\r\n";

    expect_any_cut("XyZ", body,
                   "B0 n=title f=- t=text/plain\nDHello, world\nE\n"
                   "B1 n=doc f=a.txt t=application/octet-stream\nDline 1\r\nline 2\n\nE\n"
                   "B2 n=empty f= t=application/octet-stream\nE\nR0\n");
}

static void test_zero_and_empty_parts(void)
{
    /* A form with no fields: only the close delimiter. */
    expect_any_cut("b", "--b--\r\n", "R0\n");
    expect_any_cut("b", "--b--", "R0\n");
    /* Empty data; a token name; parameter names in any case. */
    expect_any_cut("b", "--b\r\n" CD "name=a\r\n\r\n\r\n--b\r\n" CD "NAME=\"\"\r\n\r\n\r\n--b--",
                   "B0 n=a f=- t=text/plain\nE\nB1 n= f=- t=text/plain\nE\nR0\n");
}

static void test_lookalikes(void)
{
    /* CRLFs, dashes and partial delimiters in data are data, byte for byte. */
    const char *data = "\r\n\r\r\n-\r\n--\r\n--bound\r\n--boun\r\r\n--bou--boundary\n--boundary"
                       " --boundary\r--boundary\r\n-boundary\r\n--BOUNDARY\r\n--bounda";
    char body[1024], want[1024];

    snprintf(body, sizeof(body), "--boundary\r\n" CD "name=x\r\n\r\n%s\r\n--boundary--", data);
    snprintf(want, sizeof(want), "B0 n=x f=- t=text/plain\nD%s\nE\nR0\n", data);
    expect_any_cut("boundary", body, want);
    /* Data that ends in a delimiter's prefix, then the delimiter itself. */
    expect_any_cut("b", "--b\r\n" CD "name=x\r\n\r\n\r\n-\r\n--\r\n--b--",
                   "B0 n=x f=- t=text/plain\nD\r\n-\r\n--\nE\nR0\n");
}

static void test_preamble_epilogue_padding(void)
{
    /* RFC 2046: the preamble and epilogue are ignored; a boundary may be padded. */
    expect_any_cut("b",
                   "preamble --b \r\n-b\r\n-- b\r\n--b \t \r\n" CD "name=a\r\n\r\n1\r\n--b\t\r\n" CD
                   "name=b\r\n\r\n2\r\n--b--  \r\nepilogue\r\n--b\r\ngarbage",
                   "B0 n=a f=- t=text/plain\nD1\nE\nB1 n=b f=- t=text/plain\nD2\nE\nR0\n");
    /* A preamble ending at the CRLF before the first boundary. */
    expect_any_cut("b", "\r\n--b\r\n" CD "name=a\r\n\r\nv\r\n--b--",
                   "B0 n=a f=- t=text/plain\nDv\nE\nR0\n");
    /* Only preamble: no boundary ever. */
    expect_error("b", "just text\r\n-b\r\n", -EBADMSG, "");
    /* A boundary in its entirety after a CRLF is a delimiter, even in the preamble. */
    expect_error("b", "preamble\r\n--bx\r\n--b\r\n", -EBADMSG, "");
}

static void test_quoted_boundary(void)
{
    ringo_str b;
    const char *ct = "multipart/form-data; boundary=\"a \\b:c\"";
    const char *body = "--a b:c\r\n" CD "name=x\r\n\r\nv\r\n--a b:c--";
    ringo__mp p;
    rec r = {.fail_begin_at = -1};

    CHECK(ringo__mp_boundary(ringo_str_c(ct), &b) == 0);
    CHECK(ringo__mp_init(&p, b, NULL, &cbs, &r) == 0);
    CHECK(ringo__mp_feed(&p, body, strlen(body)) == 1);
    CHECK(ringo__mp_finish(&p) == 0);
    CHECK(strcmp(r.p, "B0 n=x f=- t=text/plain\nDv\nE\n") == 0);
    ringo__mp_free(&p);
    free(r.p);
}

static void test_disposition_params(void)
{
    /* Quoted names keep raw backslashes except before '"' and '\'; filename* is ignored;
     * other parameters are skipped; the Content-Type is taken as sent. */
    expect_any_cut(
        "b",
        "--b\r\ncontent-disposition:Form-Data ; name=\"a\\\"b\\\\c\\d\";"
        "filename=\"C:\\dir\\%22q%22.txt\"; filename*=UTF-8''x.txt; size=3 \r\n"
        "content-type:  image/png; q=1  \r\nContent-Transfer-Encoding: binary\r\nX-Other: y\r\n\r\n"
        "v\r\n--b--",
        "B0 n=a\"b\\c\\d f=C:\\dir\\%22q%22.txt t=image/png; q=1\nDv\nE\nR0\n");
    /* UTF-8 in a quoted file name passes through. */
    expect_any_cut("b", "--b\r\n" CD "name=f; filename=\"\xc3\xa9t\xc3\xa9.txt\"\r\n\r\nv\r\n--b--",
                   "B0 n=f f=\xc3\xa9t\xc3\xa9.txt t=text/plain\nDv\nE\nR0\n");
}

static void test_binary_data(void)
{
    /* Every byte value, NUL included, passes through untouched. */
    char body[600], want[600];
    const char *head = "--b\r\n" CD "name=f\r\n\r\n";
    size_t h = strlen(head), n;
    char *got;

    memcpy(body, head, h);
    for (int i = 0; i < 256; i++)
        body[h + (size_t)i] = (char)i;
    memcpy(body + h + 256, "\r\n--b--", 7);
    n = h + 256 + 7;
    memcpy(want, "B0 n=f f=- t=text/plain\nD", 25);
    for (int i = 0; i < 256; i++)
        want[25 + i] = (char)i;
    memcpy(want + 25 + 256, "\nE\nR0\n", 6);
    for (size_t piece = 1; piece <= n; piece++) {
        got = run_cut("b", body, n, piece, 0, NULL);
        CHECKF(memcmp(got, want, 25 + 256 + 6) == 0, "in %zu-byte pieces", piece);
        free(got);
    }
}

/* Data is delivered as soon as it cannot be part of a delimiter. */
static void test_eager_data(void)
{
    ringo__mp p;
    rec r = {.fail_begin_at = -1};
    const char *head = "--b\r\n" CD "name=x\r\n\r\n";

    CHECK(ringo__mp_init(&p, RINGO_STR_LIT("b"), NULL, &cbs, &r) == 0);
    CHECK(ringo__mp_feed(&p, head, strlen(head)) == 0);
    CHECK(ringo__mp_feed(&p, "hello", 5) == 0);
    CHECK(strcmp(r.p, "B0 n=x f=- t=text/plain\nDhello") == 0);
    CHECK(ringo__mp_feed(&p, " w\r\n-", 5) == 0);
    CHECK(strcmp(r.p, "B0 n=x f=- t=text/plain\nDhello w") == 0);
    /* The held "\r\n-" turns out to be data: it comes out first, then the rest. */
    CHECK(ringo__mp_feed(&p, "x\r\n--", 5) == 0);
    CHECK(strcmp(r.p, "B0 n=x f=- t=text/plain\nDhello w\r\n-x") == 0);
    CHECK(ringo__mp_feed(&p, "b", 1) == 0);
    CHECK(strcmp(r.p, "B0 n=x f=- t=text/plain\nDhello w\r\n-x") == 0);
    CHECK(ringo__mp_feed(&p, "--", 2) == 1);
    CHECK(strcmp(r.p, "B0 n=x f=- t=text/plain\nDhello w\r\n-x\nE\n") == 0);
    /* The epilogue is ignored, whatever it holds. */
    CHECK(ringo__mp_feed(&p, "\r\n--b\r\n\n\n", 9) == 1);
    CHECK(ringo__mp_finish(&p) == 0);
    ringo__mp_free(&p);
    free(r.p);
}

/* A body full of delimiter prefixes: all data, delivered in few calls per buffer. */
static void test_many_prefixes(void)
{
    static const char unit[] = "\r\n--boundar\r\n--\r\n-\r";
    const size_t units = 20000, u = sizeof(unit) - 1;
    const char *head = "--boundary\r\n" CD "name=x\r\n\r\n", *tail = "\r\n--boundary--";
    size_t h = strlen(head), t = strlen(tail), n = h + units * u + t;
    char *body = malloc(n + 1), *want = malloc(units * u + 64), *got;
    size_t calls;
    int rc;
    ringo__mp p;
    rec r = {.fail_begin_at = -1};

    CHECK(body && want);
    memcpy(body, head, h);
    for (size_t i = 0; i < units; i++)
        memcpy(body + h + i * u, unit, u);
    memcpy(body + h + units * u, tail, t);
    body[n] = '\0';
    /* Whole, then in 4 KiB buffers. */
    got = run_cut("boundary", body, n, 0, 0, &rc);
    CHECK(rc == 0);
    CHECK(strncmp(got, "B0 n=x f=- t=text/plain\nD", 25) == 0);
    CHECK(memcmp(got + 25, body + h, units * u) == 0);
    CHECK(strcmp(got + 25 + units * u, "\nE\nR0\n") == 0);
    free(got);
    CHECK(ringo__mp_init(&p, RINGO_STR_LIT("boundary"), NULL, &cbs, &r) == 0);
    for (size_t off = 0; off < n; off += 4096)
        CHECK(ringo__mp_feed(&p, body + off, n - off < 4096 ? n - off : 4096) >= 0);
    CHECK(ringo__mp_finish(&p) == 0);
    calls = r.calls;
    /* At most two spans per buffer: the held prefix and the buffer's own data. */
    CHECKF(calls <= 2 * (n / 4096 + 1), "%zu data calls", calls);
    ringo__mp_free(&p);
    free(r.p);
    free(body);
    free(want);
}

/* ---- malformed bodies: 400 ---- */

static void test_malformed(void)
{
    /* The close delimiter never came. */
    expect_error("b", "", -EBADMSG, "");
    expect_error("b", "--b", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\r\n\r\nv", -EBADMSG, "B0 n=a f=- t=text/plain\nDv\n");
    expect_error("b", "--b\r\n" CD "name=a\r\n\r\nv\r\n--b", -EBADMSG,
                 "B0 n=a f=- t=text/plain\nDv\n");
    expect_error("b", "--b\r\n" CD "name=a\r\n\r\nv\r\n--b-", -EBADMSG,
                 "B0 n=a f=- t=text/plain\nDv\n");
    expect_error("b", "--b\r\n" CD "name=a\r\n", -EBADMSG, "");
    /* After a boundary: only "--", or padding and CRLF (RFC 2046: "\r\n--bX" is not data). */
    expect_error("b", "--bX\r\n", -EBADMSG, "");
    expect_error("b", "--b-x", -EBADMSG, "");
    expect_error("b", "--b \tx\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\r\n\r\nv\r\n--bb\r\n", -EBADMSG,
                 "B0 n=a f=- t=text/plain\nDv\n");
    /* LF-only line ends and bare CRs. */
    expect_error("b", "--b\n" CD "name=a\n\nv\n--b--", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\n\r\n\r\nv\r\n--b--", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\r\n\n", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\rx\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\rx", -EBADMSG, "");
    /* Header lines: obs-fold, no colon, space before the colon, controls, empty name. */
    expect_error("b", "--b\r\n" CD "name=a\r\n x\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\n\tfoo: bar\r\n" CD "name=a\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\r\nfoo\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition : form-data; name=a\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\r\nX: a\001b\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=\"a\177\"\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\n: x\r\n" CD "name=a\r\n\r\n", -EBADMSG, "");
    /* Content-Disposition: missing, not form-data, nameless, malformed, repeated. */
    expect_error("b", "--b\r\n\r\nv\r\n--b--", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: attachment; name=a\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-data\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-data; filename=a\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-datax; name=a\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-data name=a\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-data; name = a\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-data; name=\"a\"x\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-data; name=a b\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-data; name=\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n", -EBADMSG,
                 "");
    expect_error("b", "--b\r\n" CD "name=a; filename=x; filename=y\r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\r\n" CD "name=a\r\n\r\n", -EBADMSG, "");
    /* Content-Type: repeated or empty; Content-Transfer-Encoding other than identity. */
    expect_error("b", "--b\r\n" CD "name=a\r\nContent-Type: a/b\r\nContent-Type: a/b\r\n\r\n",
                 -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\r\nContent-Type: \r\n\r\n", -EBADMSG, "");
    expect_error("b", "--b\r\n" CD "name=a\r\nContent-Transfer-Encoding: base64\r\n\r\n", -EBADMSG,
                 "");
    /* The second part is bad: the first was delivered whole. */
    expect_error("b", "--b\r\n" CD "name=a\r\n\r\nv\r\n--b\r\nfoo\r\n\r\n", -EBADMSG,
                 "B0 n=a f=- t=text/plain\nDv\nE\n");
}

/* ---- limits: 413 ---- */

static void test_limits(void)
{
    char body[4096], hdr[300];
    const char *part = "--b\r\n" CD "name=a\r\n\r\nv\r\n";
    size_t n = 0;
    char *got;
    int rc;

    /* max_parts: exactly the limit passes, one more is -EOVERFLOW. */
    lim.max_parts = 3;
    for (int i = 0; i < 3; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "%s", part);
    snprintf(body + n, sizeof(body) - n, "--b--");
    got = run("b", body, &rc);
    CHECKF(rc == 0, "%s", got);
    free(got);
    snprintf(body + n, sizeof(body) - n, "%s--b--", part);
    expect_error("b", body, -EOVERFLOW,
                 "B0 n=a f=- t=text/plain\nDv\nE\nB1 n=a f=- t=text/plain\nDv\nE\n"
                 "B2 n=a f=- t=text/plain\nDv\nE\n");
    ringo__mp_limits_init(&lim);

    /* max_headers: 3 lines pass, 4 are -E2BIG. */
    lim.max_headers = 3;
    expect_any_cut("b", "--b\r\n" CD "name=a\r\nX: 1\r\nY: 2\r\n\r\nv\r\n--b--",
                   "B0 n=a f=- t=text/plain\nDv\nE\nR0\n");
    expect_error("b", "--b\r\n" CD "name=a\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\nv\r\n--b--", -E2BIG, "");
    ringo__mp_limits_init(&lim);

    /* max_header_bytes counts from the end of the boundary through the blank line. */
    snprintf(hdr, sizeof(hdr), "--b\r\n" CD "name=a\r\n\r\nv\r\n--b--");
    lim.max_header_bytes = (uint32_t)(2 + strlen(CD "name=a\r\n") + 2);
    expect_any_cut("b", hdr, "B0 n=a f=- t=text/plain\nDv\nE\nR0\n");
    lim.max_header_bytes--;
    expect_error("b", hdr, -EMSGSIZE, "");
    /* Transport padding counts too, so endless spaces are bounded. */
    lim.max_header_bytes = 64;
    memset(body, ' ', 200);
    memcpy(body, "--b", 3);
    body[200] = '\0';
    expect_error("b", body, -EMSGSIZE, "");
    /* A header line with no end. */
    memcpy(body, "--b\r\nX: ", 8);
    memset(body + 8, 'x', 200);
    body[208] = '\0';
    expect_error("b", body, -EMSGSIZE, "");
    ringo__mp_limits_init(&lim);

    CHECK(ringo__mp_status(-EMSGSIZE) == 413 && ringo__mp_status(-E2BIG) == 413);
    CHECK(ringo__mp_status(-EOVERFLOW) == 413 && ringo__mp_status(-EFBIG) == 413);
    CHECK(ringo__mp_status(-EBADMSG) == 400 && ringo__mp_status(-EINVAL) == 400);
    CHECK(ringo__mp_status(-ENOMEM) == 503 && ringo__mp_status(-EIO) == 500);
    CHECK(ringo__mp_status(0) == 200 && ringo__mp_status(1) == 200);
}

/* ---- callbacks that stop the parser ---- */

static void test_callback_stops(void)
{
    const char *body = "--b\r\n" CD "name=a\r\n\r\nv\r\n--b\r\n" CD "name=b\r\n\r\nw\r\n--b--";
    ringo__mp p;
    rec r = {.fail_begin_at = 1, .fail_rc = -EFBIG};

    CHECK(ringo__mp_init(&p, RINGO_STR_LIT("b"), NULL, &cbs, &r) == 0);
    CHECK(ringo__mp_feed(&p, body, strlen(body)) == -EFBIG);
    CHECK(strcmp(r.p, "B0 n=a f=- t=text/plain\nDv\nE\nB1 n=b f=- t=text/plain\n") == 0);
    /* The error sticks. */
    CHECK(ringo__mp_feed(&p, "x", 1) == -EFBIG);
    CHECK(ringo__mp_finish(&p) == -EFBIG);
    ringo__mp_free(&p);
    free(r.p);

    /* A positive return is not a result the caller could mistake for "done". */
    r = (rec){.fail_begin_at = 0, .fail_rc = 1};
    CHECK(ringo__mp_init(&p, RINGO_STR_LIT("b"), NULL, &cbs, &r) == 0);
    CHECK(ringo__mp_feed(&p, body, strlen(body)) == -ECANCELED);
    ringo__mp_free(&p);
    free(r.p);
}

int main(void)
{
    ringo__mp_limits_init(&lim);
    test_boundary();
    test_init();
    test_form();
    test_zero_and_empty_parts();
    test_lookalikes();
    test_preamble_epilogue_padding();
    test_quoted_boundary();
    test_disposition_params();
    test_binary_data();
    test_eager_data();
    test_many_prefixes();
    test_malformed();
    test_limits();
    test_callback_stops();
    return 0;
}
