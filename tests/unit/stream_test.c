/*
 * Description: streamed responses and SSE (http/stream.c) as they reach the
 * connection, on the in-memory core of fake_core.h: chunk framing, trailers,
 * a declared Content-Length met, short and overrun (the connection is cut,
 * never mis-framed), HTTP/1.0 close-delimited bodies, HEAD, SSE event
 * framing with multi-line data split on CRLF, CR and LF, comments, and the
 * calls' refusals (before start, twice, bodiless statuses, line breaks in
 * event fields, the head set after start); a file range as the body
 * (ringo_resp_file), and its HEAD.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fake_core.h"

static ringo_app *app;

static int chunked(ringo_req *req, void *ud)
{
    (void)ud;
    CHECK(ringo_stream_write(req, "x", 1) == -EPERM); /* not started */
    CHECK(ringo_stream_end(req) == -EPERM);
    CHECK(ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/plain")) == 0);
    CHECK(ringo_stream_start(req, RINGO_STREAM_CHUNKED) == 0);
    CHECK(ringo_stream_start(req, RINGO_STREAM_CHUNKED) == -EALREADY);
    CHECK(ringo_resp_set_status(req, 201) == -EALREADY);
    CHECK(ringo_resp_add_header(req, "X-Late", RINGO_STR_LIT("1")) == -EALREADY);
    CHECK(ringo_stream_write(req, "hello", 5) == 0);
    CHECK(ringo_stream_write(req, "", 0) == 0); /* no empty chunk: that would end the body */
    CHECK(ringo_stream_write(req, " world", 6) == 0);
    CHECK(ringo_stream_trailer(req, "X-T", RINGO_STR_LIT("1")) == 0);
    CHECK(ringo_stream_trailer(req, "Content-Length", RINGO_STR_LIT("1")) == -EPERM);
    CHECK(ringo_stream_trailer(req, "X-Bad", RINGO_STR_LIT("a\r\nb")) == -EINVAL);
    CHECK(ringo_stream_end(req) == 0);
    CHECK(ringo_stream_write(req, "x", 1) == -EPERM); /* ended */
    return 0;
}

/* Returns without ringo_stream_end(): returning ends the body. */
static int implicit_end(ringo_req *req, void *ud)
{
    (void)ud;
    CHECK(ringo_stream_start(req, RINGO_STREAM_CHUNKED) == 0);
    return ringo_stream_write(req, "abc", 3);
}

static int declared(ringo_req *req, void *ud)
{
    ringo_str how;

    (void)ud;
    CHECK(ringo_req_query_param(req, "how", &how) == 0);
    CHECK(ringo_stream_start(req, 5) == 0);
    if (how.ptr[0] == 'e') { /* exact */
        CHECK(ringo_stream_write(req, "hel", 3) == 0);
        CHECK(ringo_stream_write(req, "lo", 2) == 0);
        return ringo_stream_end(req);
    }
    if (how.ptr[0] == 's') { /* short */
        CHECK(ringo_stream_write(req, "hi", 2) == 0);
        CHECK(ringo_stream_end(req) == -EPIPE);
        return 0;
    }
    CHECK(ringo_stream_write(req, "hel", 3) == 0); /* long */
    CHECK(ringo_stream_write(req, "lo!", 3) == -EPIPE);
    CHECK(ringo_stream_write(req, "x", 1) == -ECANCELED);
    return -EPIPE;
}

static int refused(ringo_req *req, void *ud)
{
    (void)ud;
    CHECK(ringo_stream_start(req, -2) == -EINVAL);
    CHECK(ringo_resp_set_status(req, 204) == 0);
    CHECK(ringo_stream_start(req, RINGO_STREAM_CHUNKED) == -EINVAL);
    CHECK(ringo_resp_set_status(req, 304) == 0);
    CHECK(ringo_stream_start(req, 0) == -EINVAL);
    return 0;
}

static int sse(ringo_req *req, void *ud)
{
    static const char data[] = "a\nb\r\nc\rd\n";
    ringo_sse_event ev = {
        .event = "tick", .id = "7", .data = data, .data_len = sizeof(data) - 1, .retry_ms = 1500};
    ringo_sse_event bad = {.event = "x\ny"};
    ringo_str last;

    (void)ud;
    CHECK(ringo_sse_last_event_id(req, &last) == 0 && last.len == 1 && last.ptr[0] == '6');
    CHECK(ringo_sse_start(req) == 0);
    CHECK(ringo_sse_send(req, &bad) == -EINVAL);
    bad = (ringo_sse_event){.id = "1\r"};
    CHECK(ringo_sse_send(req, &bad) == -EINVAL);
    CHECK(ringo_sse_comment(req, "two\nlines") == -EINVAL);
    CHECK(ringo_sse_send(req, &ev) == 0);
    CHECK(ringo_sse_comment(req, "hi") == 0);
    ev = (ringo_sse_event){.data = "", .data_len = 0};
    return ringo_sse_send(req, &ev);
}

/* A range of a temporary file; ringo closes it. */
static int file(ringo_req *req, void *ud)
{
    char path[] = "/tmp/ringo-stream-test-XXXXXX";
    int fd = mkstemp(path);

    (void)ud;
    CHECK(fd >= 0);
    unlink(path);
    CHECK(write(fd, "0123456789", 10) == 10);
    CHECK(ringo_resp_file(req, fd, 0, 1, 4u) == -EINVAL); /* unknown flag: fd kept */
    CHECK(ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/plain")) == 0);
    return ringo_resp_file(req, fd, 2, 5, RINGO_FILE_CLOSE);
}

static void start(void)
{
    app = fake_app_new(NULL);
    CHECK(ringo_route(app, "GET", "/chunked", RINGO_ASYNC, chunked, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/implicit", RINGO_ASYNC, implicit_end, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/declared", RINGO_ASYNC, declared, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/refused", RINGO_ASYNC, refused, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/sse", RINGO_ASYNC, sse, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/file", RINGO_ASYNC, file, NULL) == 0);
    fake_app_start(app);
}

static void expect(const char *request, const char *want, bool closes)
{
    ringo__conn *c = fake_open();
    const char *got;

    fake_recv_str(c, request);
    fake_run(c);
    got = fake_wire(c);
    CHECKF(strcmp(got, want) == 0, "%s->\n%s\n---- want:\n%s", request, got, want);
    CHECKF(c->closed == closes, "%s: closed %d", request, c->closed);
    fake_close(c);
}

#define HEAD(status) "HTTP/1.1 " status "\r\nServer: ringo\r\n" FAKE_DATE_LINE
#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

static void test_chunked(void)
{
    expect(GET("/chunked"),
           HEAD("200 OK") "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                          "5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
           false);
    expect(GET("/implicit"),
           HEAD("200 OK") "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false);
    /* HEAD: the head only; HTTP/1.0: no chunking, the close ends the body. */
    expect("HEAD /chunked HTTP/1.1\r\nHost: t\r\n\r\n",
           HEAD("200 OK") "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n", false);
    expect("GET /chunked HTTP/1.0\r\n\r\n",
           HEAD("200 OK") "Content-Type: text/plain\r\nConnection: close\r\n\r\nhello world", true);
    expect(GET("/refused"), HEAD("304 Not Modified") "\r\n", false);
}

static void test_declared_length(void)
{
    expect(GET("/declared?how=exact"), HEAD("200 OK") "Content-Length: 5\r\n\r\nhello", false);
    /* Cut after the valid prefix: the client sees a short body and the close. */
    expect(GET("/declared?how=short"), HEAD("200 OK") "Content-Length: 5\r\n\r\nhi", true);
    expect(GET("/declared?how=long"), HEAD("200 OK") "Content-Length: 5\r\n\r\nhel", true);
}

static void test_sse(void)
{
    expect("GET /sse HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 6\r\n\r\n",
           HEAD("200 OK") "Transfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n"
                          "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n"
                          "46\r\nevent: tick\nid: 7\nretry: 1500\ndata: a\ndata: b\ndata: c\n"
                          "data: d\ndata: \n\n\r\n"
                          "5\r\n: hi\n\r\n"
                          "8\r\ndata: \n\n\r\n"
                          "0\r\n\r\n",
           false);
}

static void test_file(void)
{
    expect(GET("/file"),
           HEAD("200 OK") "Content-Length: 5\r\nContent-Type: text/plain\r\n\r\n23456", false);
    expect("HEAD /file HTTP/1.1\r\nHost: t\r\n\r\n",
           HEAD("200 OK") "Content-Length: 5\r\nContent-Type: text/plain\r\n\r\n", false);
}

int main(void)
{
    start();
    test_chunked();
    test_declared_length();
    test_sse();
    test_file();
    fake_app_free(app);
    printf("stream_test: ok\n");
    return 0;
}
