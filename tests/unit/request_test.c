/*
 * Description: what a handler reads from its request (http/request.c), on
 * the in-memory core of fake_core.h: method, target, path and query string
 * for origin-form, absolute-form and "*"; the HTTP minor version; path
 * parameters ("%2F" stays inside its segment, a "{rest...}" tail); header
 * lookup (ASCII case-insensitive, the first of several, header_at bounds,
 * leading and trailing whitespace excluded, RFC 9110 §5.5);
 * query lookup (the first of several, '+' as space, malformed escapes, a
 * flag without '='); the body (Content-Length and chunked); the peer address
 * of the connection; ringo_req_alloc() alignment and sizes that cannot be
 * served; the per-request state slot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_core.h"

static ringo_app *app;

/* The response body being built, in the request arena. */
typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void add(ringo_req *req, text *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(ringo_req *req, text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!t->p) {
        t->cap = 4096;
        t->p = ringo_req_alloc(req, t->cap);
        CHECK(t->p);
    }
    va_start(ap, fmt);
    n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < t->cap - t->len);
    t->len += (size_t)n;
}

static void add_str(ringo_req *req, text *t, const char *label, ringo_str s)
{
    add(req, t, "%s=[%.*s]\n", label, (int)s.len, s.ptr);
}

static int send_text(ringo_req *req, text *t)
{
    return ringo_respond(req, 200, "text/plain", t->p, t->len);
}

/* The request line as the handler sees it, and the path parameters. */
static void describe(ringo_req *req, text *t)
{
    ringo_str v;

    add_str(req, t, "method", ringo_req_method(req));
    add_str(req, t, "target", ringo_req_target(req));
    add_str(req, t, "path", ringo_req_path(req));
    add_str(req, t, "query", ringo_req_query_string(req));
    add(req, t, "minor=%d route=%s\n", ringo_req_http_minor(req), ringo_req_route(req));
    if (ringo_req_path_param(req, "a", &v) == 0)
        add_str(req, t, "a", v);
    if (ringo_req_path_param(req, "rest", &v) == 0)
        add_str(req, t, "rest", v);
    CHECK(ringo_req_path_param(req, "nope", &v) == -ENOENT);
    CHECK(ringo_req_path_param(req, "", &v) == -ENOENT);
}

static int echo(ringo_req *req, void *ud)
{
    text t = {0};

    (void)ud;
    describe(req, &t);
    return send_text(req, &t);
}

/* Middleware sees every request, "*" included: it describes those that ask. */
static int describe_before(ringo_req *req, void *ud)
{
    text t = {0};
    ringo_str v;

    (void)ud;
    if (ringo_req_header(req, "X-Describe", &v) < 0)
        return 0;
    describe(req, &t);
    CHECK(send_text(req, &t) == 0);
    return RINGO_RESPOND;
}

/* GET /h: every header lookup. */
static int headers(ringo_req *req, void *ud)
{
    text t = {0};
    ringo_str name, value;
    unsigned n = ringo_req_header_count(req);

    (void)ud;
    for (unsigned i = 0; i < n; i++) {
        CHECK(ringo_req_header_at(req, i, &name, &value) == 0);
        add(req, &t, "%u %.*s: %.*s\n", i, (int)name.len, name.ptr, (int)value.len, value.ptr);
    }
    name = value = RINGO_STR_LIT("untouched");
    CHECK(ringo_req_header_at(req, n, &name, &value) == -ERANGE);
    CHECK(ringo_req_header_at(req, UINT32_MAX, &name, &value) == -ERANGE);
    CHECK(name.len == 9 && value.len == 9);
    static const char *const look[] = {"x-multi",  "X-MULTI",   "x-Empty", "X-Mult",
                                       "X-Multi2", "X-Multi22", "",        "host"};
    for (size_t i = 0; i < sizeof(look) / sizeof(look[0]); i++) {
        int ret = ringo_req_header(req, look[i], &value);
        add(req, &t, "%s -> %d [%.*s]\n", look[i], ret, ret ? 0 : (int)value.len,
            ret ? "" : value.ptr);
    }
    return send_text(req, &t);
}

/* GET /q?...: the query parameters named in the handler. */
static int query(ringo_req *req, void *ud)
{
    static const char *const names[] = {"a", "b", "flag", "c", "z", "x y", "n", "e", "missing"};
    text t = {0};
    ringo_str v;

    (void)ud;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int ret = ringo_req_query_param(req, names[i], &v);
        if (ret == 0) {
            CHECK(v.ptr[v.len] == '\0');
            add(req, &t, "%s=", names[i]);
            for (size_t j = 0; j < v.len; j++)
                if (v.ptr[j])
                    add(req, &t, "%c", v.ptr[j]);
                else
                    add(req, &t, "\\0");
            add(req, &t, "\n");
        } else {
            add(req, &t, "%s %s\n", names[i], ret == -ENOENT ? "ENOENT" : strerror(-ret));
        }
    }
    return send_text(req, &t);
}

/* POST /body: its length, then the body. */
static int body(ringo_req *req, void *ud)
{
    ringo_str b = ringo_req_body(req);
    text t = {0};

    (void)ud;
    CHECK(b.ptr != NULL);
    add(req, &t, "%zu:%.*s", b.len, (int)b.len, b.ptr);
    return send_text(req, &t);
}

static int peer(ringo_req *req, void *ud)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    char buf[64];
    text t = {0};

    (void)ud;
    CHECK(ringo_req_peer(req, &ss) == (int)sizeof(struct sockaddr_in));
    CHECK(ss.ss_family == AF_INET && in->sin_addr.s_addr == htonl(0x7f000001) &&
          ntohs(in->sin_port) == 40000);
    CHECK(ringo_req_peer_string(req, buf, 15) == -ENOSPC);
    CHECK(ringo_req_peer_string(req, buf, 16) == 15 && !strcmp(buf, "127.0.0.1:40000"));
    CHECK(ringo_req_ring(req) == 0 && ringo_req_client_gone(req) == 0);
    add(req, &t, "%s", buf);
    return send_text(req, &t);
}

static int alloc(ringo_req *req, void *ud)
{
    static const size_t sizes[] = {0, 1, 3, 15, 16, 17, 100, 4095, 4096, 5000, 70000};
    /* Sizes no arena can serve, refused before asking malloc (which ASan would fault). */
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 15, SIZE_MAX / 2, SIZE_MAX / 4 * 3};
    void **state = ringo_req_state(req);
    char *p;

    (void)ud;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        p = ringo_req_alloc(req, sizes[i]);
        CHECKF(p && (uintptr_t)p % 16 == 0, "size %zu: %p", sizes[i], (void *)p);
        memset(p, 'x', sizes[i]);
    }
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++)
        CHECKF(ringo_req_alloc(req, huge[i]) == NULL, "size %zu", huge[i]);
    p = ringo_req_alloc(req, 1 << 20);
    CHECK(p && (uintptr_t)p % 16 == 0);
    memset(p, 'y', 1 << 20);
    /* The state slot: one per request, NULL to start with. */
    CHECK(state && *state == NULL && ringo_req_state(req) == state);
    *state = p;
    CHECK(*ringo_req_state(req) == p);
    return ringo_respond(req, 200, "text/plain", "ok", 2);
}

static void start(void)
{
    app = fake_app_new(NULL);
    CHECK(ringo_route(app, "GET", "/", RINGO_ASYNC, echo, NULL) == 0);
    CHECK(ringo_route(app, "*", "/e/{a}/{rest...}", RINGO_ASYNC, echo, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/h", RINGO_ASYNC, headers, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/q", RINGO_ASYNC, query, NULL) == 0);
    CHECK(ringo_route(app, "POST", "/body", RINGO_ASYNC, body, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/peer", RINGO_ASYNC, peer, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/alloc", RINGO_ASYNC, alloc, NULL) == 0);
    CHECK(ringo_app_add_middleware(app, &(ringo_middleware){describe_before, NULL, NULL}) == 0);
    fake_app_start(app);
}

static void stop(void) { fake_app_free(app); }

/* Sends request on a new connection; its answer must be status with body want. */
static void expect(const char *request, int status, const char *want)
{
    ringo__conn *c = fake_open();
    const char *w, *b;
    int s = 0;

    fake_recv_str(c, request);
    w = fake_wire(c);
    b = strstr(w, "\r\n\r\n");
    CHECKF(sscanf(w, "HTTP/1.%*d %d ", &s) == 1 && b, "%s->\n%s", request, w);
    CHECKF(s == status && strcmp(b + 4, want) == 0, "%s->\n%s\n---- want %d:\n%s", request, w,
           status, want);
    fake_run(c);
    fake_close(c);
}

static void test_request_line(void)
{
    expect("GET /e/x/y/z?k=v&w HTTP/1.1\r\nHost: t\r\n\r\n", 200,
           "method=[GET]\ntarget=[/e/x/y/z?k=v&w]\npath=[/e/x/y/z]\nquery=[k=v&w]\n"
           "minor=1 route=/e/{a}/{rest...}\na=[x]\nrest=[y/z]\n");
    /* Path parameters are decoded; an encoded '/' stays in its segment; path stays encoded. */
    expect("PATCH /e/a%2Fb%20c/d%2Fe/%3F/ HTTP/1.0\r\n\r\n", 200,
           "method=[PATCH]\ntarget=[/e/a%2Fb%20c/d%2Fe/%3F/]\npath=[/e/a%2Fb%20c/d%2Fe/%3F/]\n"
           "query=[]\nminor=0 route=/e/{a}/{rest...}\na=[a/b c]\nrest=[d/e/?/]\n");
    expect("GET /e/x/ HTTP/1.1\r\nHost: t\r\n\r\n", 200,
           "method=[GET]\ntarget=[/e/x/]\npath=[/e/x/]\nquery=[]\nminor=1 "
           "route=/e/{a}/{rest...}\na=[x]\nrest=[]\n");
    /* An empty query is a query string of length 0 either way. */
    expect("GET /? HTTP/1.1\r\nHost: t\r\n\r\n", 200,
           "method=[GET]\ntarget=[/?]\npath=[/]\nquery=[]\nminor=1 route=/\n");
    /* Absolute-form: the path and query are split out of the full target. */
    expect("GET http://t/e/1/2?q=%20 HTTP/1.1\r\nHost: t\r\n\r\n", 200,
           "method=[GET]\ntarget=[http://t/e/1/2?q=%20]\npath=[/e/1/2]\nquery=[q=%20]\n"
           "minor=1 route=/e/{a}/{rest...}\na=[1]\nrest=[2]\n");
    expect("GET HTTPS://t:8080?x=1 HTTP/1.1\r\nHost: t:8080\r\n\r\n", 200,
           "method=[GET]\ntarget=[HTTPS://t:8080?x=1]\npath=[/]\nquery=[x=1]\nminor=1 route=/\n");
    /* "*": OPTIONS answers 204, any other method 400; the request reads the same. */
    expect("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 204, "");
    expect("GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400, "Bad Request\n");
    expect("OPTIONS * HTTP/1.1\r\nHost: t\r\nX-Describe: 1\r\n\r\n", 200,
           "method=[OPTIONS]\ntarget=[*]\npath=[*]\nquery=[]\nminor=1 route=\n");
    expect("GET * HTTP/1.1\r\nHost: t\r\nX-Describe: 1\r\n\r\n", 200,
           "method=[GET]\ntarget=[*]\npath=[*]\nquery=[]\nminor=1 route=\n");
    printf("ok   request line: origin-form, absolute-form, *, path parameters\n");
}

static void test_headers(void)
{
    expect("GET /h HTTP/1.1\r\nHost: t\r\nX-Multi: one\r\nx-empty:\r\nX-MULTI: two\r\n"
           "X-Multi2:  padded \t\r\n\r\n",
           200,
           "0 Host: t\n1 X-Multi: one\n2 x-empty: \n3 X-MULTI: two\n4 X-Multi2: padded\n"
           "x-multi -> 0 [one]\nX-MULTI -> 0 [one]\nx-Empty -> 0 []\n"
           "X-Mult -> -2 []\nX-Multi2 -> 0 [padded]\nX-Multi22 -> -2 []\n -> -2 []\n"
           "host -> 0 [t]\n");
    printf("ok   headers: ASCII case-insensitive, first of several, header_at bounds\n");
}

static void test_query(void)
{
    expect(
        "GET /q?a=1&a=2&b=x+y%20z%2B&flag&c=&%7A=enc&x+y=sp&n=%00%41 HTTP/1.1\r\nHost: t\r\n\r\n",
        200, "a=1\nb=x y z+\nflag=\nc=\nz=enc\nx y=sp\nn=\\0A\ne ENOENT\nmissing ENOENT\n");
    /* A malformed value fails only its own lookup; a malformed key fails every later one. */
    expect("GET /q?a=%zz&b=%4&c=%&&flag=%2G&z=ok&%G0=1&n=1 HTTP/1.1\r\nHost: t\r\n\r\n", 200,
           "a Invalid argument\nb Invalid argument\nflag Invalid argument\nc Invalid argument\n"
           "z=ok\nx y Invalid argument\nn Invalid argument\ne Invalid argument\n"
           "missing Invalid argument\n");
    expect("GET /q?&&a&=x&b=1=2 HTTP/1.1\r\nHost: t\r\n\r\n", 200,
           "a=\nb=1=2\nflag ENOENT\nc ENOENT\nz ENOENT\nx y ENOENT\nn ENOENT\ne ENOENT\n"
           "missing ENOENT\n");
    printf("ok   query: first of several, '+', malformed escapes, flags\n");
}

static void test_body(void)
{
    expect("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", 200, "5:hello");
    expect("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 200, "0:");
    expect("POST /body HTTP/1.1\r\nHost: t\r\n\r\n", 200, "0:");
    expect("POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           "4\r\nWiki\r\n5;ext=1\r\npedia\r\nD\r\n in\r\n\r\nchunks\r\n0\r\n\r\n",
           200, "22:Wikipedia in\r\n\r\nchunks");
    expect("POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200,
           "0:");
    printf("ok   body: Content-Length, chunked, none\n");
}

static void test_peer_alloc(void)
{
    expect("GET /peer HTTP/1.1\r\nHost: t\r\n\r\n", 200, "127.0.0.1:40000");
    expect("GET /alloc HTTP/1.1\r\nHost: t\r\n\r\n", 200, "ok");
    printf("ok   peer address, ringo_req_alloc alignment and huge sizes, state slot\n");
}

int main(void)
{
    start();
    test_request_line();
    test_headers();
    test_query();
    test_body();
    test_peer_alloc();
    stop();
    return 0;
}
