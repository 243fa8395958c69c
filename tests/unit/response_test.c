/*
 * Description: response serialization (http/response.c) as it reaches the
 * connection, on the in-memory core of fake_core.h: status lines and
 * reasons, the order of ringo's and the handler's headers, Content-Length,
 * HEAD, 204 and 304 without a body (and without Content-Length), the
 * default error body, Connection: close asked by the handler and for
 * HTTP/1.0, keep-alive for HTTP/1.0, headers ringo owns or that would break
 * the framing refused, and a response far larger than one output buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_core.h"

static ringo_app *app;

#define HUGE_HDR 100000
#define HUGE_BODY 300000

/* GET /status/{code}: that status, body "x". */
static int status(ringo_req *req, void *ud)
{
    ringo_str code;

    (void)ud;
    CHECK(ringo_req_path_param(req, "code", &code) == 0);
    CHECK(ringo_resp_set_status(req, atoi(code.ptr)) == 0);
    CHECK(ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/plain")) == 0);
    return ringo_resp_set_body(req, "x", 1);
}

/* Header order is the handler's; refused headers leave no trace. */
static int headers(ringo_req *req, void *ud)
{
    (void)ud;
    CHECK(ringo_resp_add_header(req, "X-B", RINGO_STR_LIT("2")) == 0);
    CHECK(ringo_resp_add_header(req, "X-A", RINGO_STR_LIT("1")) == 0);
    CHECK(ringo_resp_add_header(req, "content-length", RINGO_STR_LIT("7")) == -EPERM);
    CHECK(ringo_resp_add_header(req, "Date", RINGO_STR_LIT("x")) == -EPERM);
    CHECK(ringo_resp_add_header(req, "Server", RINGO_STR_LIT("x")) == -EPERM);
    CHECK(ringo_resp_add_header(req, "Transfer-Encoding", RINGO_STR_LIT("chunked")) == -EPERM);
    CHECK(ringo_resp_add_header(req, "Connection", RINGO_STR_LIT("upgrade")) == -EPERM);
    CHECK(ringo_resp_add_header(req, "Bad Name", RINGO_STR_LIT("x")) == -EINVAL);
    CHECK(ringo_resp_add_header(req, "", RINGO_STR_LIT("x")) == -EINVAL);
    CHECK(ringo_resp_add_header(req, "X-Split", RINGO_STR_LIT("a\r\nX-Injected: 1")) == -EINVAL);
    CHECK(ringo_resp_add_header(req, "X-Nul", (ringo_str){"a\0b", 3}) == -EINVAL);
    CHECK(ringo_resp_set_status(req, 99) == -EINVAL && ringo_resp_set_status(req, 1000) == -EINVAL);
    CHECK(ringo_resp_add_header(req, "X-A", RINGO_STR_LIT("3")) == 0);
    return ringo_resp_set_body(req, "ok", 2);
}

static int closing(ringo_req *req, void *ud)
{
    (void)ud;
    CHECK(ringo_resp_add_header(req, "Connection", RINGO_STR_LIT("Close")) == 0);
    return 0;
}

static int huge(ringo_req *req, void *ud)
{
    char *v = ringo_req_alloc(req, HUGE_HDR), *b = ringo_req_alloc(req, HUGE_BODY);

    (void)ud;
    CHECK(v && b);
    memset(v, 'v', HUGE_HDR);
    memset(b, 'b', HUGE_BODY);
    CHECK(ringo_resp_add_header(req, "X-Huge", (ringo_str){v, HUGE_HDR}) == 0);
    for (int i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof(name), "X-%d", i);
        CHECK(ringo_resp_add_header(req, name, RINGO_STR_LIT("v")) == 0);
    }
    return ringo_resp_set_body_ref(req, b, HUGE_BODY);
}

static void start(void)
{
    app = fake_app_new(NULL);
    CHECK(ringo_route(app, "GET", "/status/{code}", RINGO_ASYNC, status, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/headers", RINGO_ASYNC, headers, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/close", RINGO_ASYNC, closing, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/huge", RINGO_ASYNC, huge, NULL) == 0);
    fake_app_start(app);
}

static void stop(void) { fake_app_free(app); }

/* Sends one request on a new connection; returns the connection (answer in its wire). */
static ringo__conn *ask(const char *request)
{
    ringo__conn *c = fake_open();

    fake_recv_str(c, request);
    return c;
}

static void expect(const char *request, const char *want, bool closes)
{
    ringo__conn *c = ask(request);
    const char *got = fake_wire(c);

    CHECKF(strcmp(got, want) == 0, "%s->\n%s\n---- want:\n%s", request, got, want);
    fake_run(c);
    CHECKF(c->closed == closes, "%s: closed %d", request, c->closed);
    fake_close(c);
}

#define HEAD(status) "HTTP/1.1 " status "\r\nServer: ringo\r\n" FAKE_DATE_LINE
#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

static void test_reasons(void)
{
    static const struct {
        int code;
        const char *reason;
    } t[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {417, "Expectation Failed"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {299, "Unknown"},
        {999, "Unknown"},
    };
    char req[128], want[512];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        snprintf(req, sizeof(req), GET("/status/%d"), t[i].code);
        snprintf(want, sizeof(want),
                 "HTTP/1.1 %d %s\r\nServer: ringo\r\n" FAKE_DATE_LINE
                 "Content-Length: 1\r\nContent-Type: text/plain\r\n\r\nx",
                 t[i].code, t[i].reason);
        expect(req, want, false);
    }
}

static void test_framing(void)
{
    /* 204 and 304: neither body nor Content-Length (RFC 9110 §8.6, §15.4.5). */
    expect(GET("/status/204"), HEAD("204 No Content") "Content-Type: text/plain\r\n\r\n", false);
    expect(GET("/status/304"), HEAD("304 Not Modified") "Content-Type: text/plain\r\n\r\n", false);
    /* HEAD: the GET's Content-Length, no body. */
    expect("HEAD /status/200 HTTP/1.1\r\nHost: t\r\n\r\n",
           HEAD("200 OK") "Content-Length: 1\r\nContent-Type: text/plain\r\n\r\n", false);
    expect("HEAD /status/304 HTTP/1.1\r\nHost: t\r\n\r\n",
           HEAD("304 Not Modified") "Content-Type: text/plain\r\n\r\n", false);
    /* No body set: Content-Length 0. */
    expect(GET("/close"), HEAD("200 OK") "Content-Length: 0\r\nConnection: close\r\n\r\n", true);
    /* ringo's own errors get a short text body. */
    expect(GET("/nowhere"),
           HEAD("404 Not Found") "Content-Length: 10\r\nContent-Type: text/plain\r\n\r\n"
                                 "Not Found\n",
           false);
    expect("POST /headers HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
           HEAD("405 Method Not Allowed") "Content-Length: 19\r\nAllow: GET, HEAD\r\n"
                                          "Content-Type: text/plain\r\n\r\n"
                                          "Method Not Allowed\n",
           false);
}

static void test_header_order_and_connection(void)
{
    const char *want = HEAD("200 OK") "Content-Length: 2\r\nX-B: 2\r\nX-A: 1\r\nX-A: 3\r\n";
    char buf[512];

    snprintf(buf, sizeof(buf), "%s\r\nok", want);
    expect(GET("/headers"), buf, false);
    /* HTTP/1.0: closes unless the client asked for keep-alive. */
    snprintf(buf, sizeof(buf), "%sConnection: close\r\n\r\nok", want);
    expect("GET /headers HTTP/1.0\r\n\r\n", buf, true);
    snprintf(buf, sizeof(buf), "%sConnection: keep-alive\r\n\r\nok", want);
    expect("GET /headers HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", buf, false);
    /* HTTP/1.1 asking to close. */
    snprintf(buf, sizeof(buf), "%sConnection: close\r\n\r\nok", want);
    expect("GET /headers HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, true);
}

static void test_huge(void)
{
    ringo__conn *c = ask(GET("/huge"));
    const char *w = fake_wire(c), *p;
    char want[64];

    CHECK(strncmp(w, HEAD("200 OK"), strlen(HEAD("200 OK"))) == 0);
    snprintf(want, sizeof(want), "Content-Length: %d\r\nX-Huge: ", HUGE_BODY);
    p = strstr(w, want);
    CHECK(p);
    p += strlen(want);
    for (int i = 0; i < HUGE_HDR; i++)
        CHECK(p[i] == 'v');
    p += HUGE_HDR;
    for (int i = 0; i < 200; i++) {
        char h[32];
        snprintf(h, sizeof(h), "\r\nX-%d: v", i);
        CHECKF(strncmp(p, h, strlen(h)) == 0, "header %d", i);
        p += strlen(h);
    }
    CHECK(strncmp(p, "\r\n\r\n", 4) == 0);
    p += 4;
    CHECK(c->wire_len == (size_t)(p - w) + HUGE_BODY);
    for (int i = 0; i < HUGE_BODY; i++)
        CHECK(p[i] == 'b');
    CHECK(c->sends == 1);
    fake_run(c);
    CHECK(!c->closed);
    fake_close(c);
}

int main(void)
{
    start();
    test_reasons();
    test_framing();
    test_header_order_and_connection();
    test_huge();
    stop();
    printf("response_test: ok\n");
    return 0;
}
