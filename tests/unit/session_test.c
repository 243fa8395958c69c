/*
 * Description: one HTTP/1.1 connection (http/session.c) driven through the
 * protocol callbacks on the in-memory core of fake_core.h: pipelined
 * requests answered in order in one send, whole or one byte at a time; an
 * error after k good requests answers the k, then the error, and closes
 * after the send; input held while the client does not read (recv paused
 * past max_conn_buffered, resumed when the output went out); shutdown
 * (drain) answering every request already received and closing after the
 * last; EOF after complete requests; 100-continue; the header and body
 * deadlines answering 408; the keep-alive idle timer; HEAD; a sync handler
 * on the pool. Every case ends with no request alive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_core.h"
#include "http/timer.h"

static ringo_app *app;

/* ---- routes (RINGO_ASYNC handlers never await: they run inline here) ---- */

static int hello(ringo_req *req, void *ud)
{
    (void)ud;
    return ringo_respond(req, 200, "text/plain", "hello", 5);
}

/* GET /n/{k}: the body is k, to see the order of pipelined answers. */
static int numbered(ringo_req *req, void *ud)
{
    ringo_str k;

    (void)ud;
    if (ringo_req_path_param(req, "k", &k) < 0)
        return -EINVAL;
    return ringo_respond(req, 200, "text/plain", k.ptr, k.len);
}

/* GET /big/{n}: an n-byte body, to fill the output past max_conn_buffered. */
static int big(ringo_req *req, void *ud)
{
    ringo_str n;
    size_t len;
    char *body;

    (void)ud;
    if (ringo_req_path_param(req, "n", &n) < 0)
        return -EINVAL;
    len = strtoul(n.ptr, NULL, 10);
    body = ringo_req_alloc(req, len);
    if (!body)
        return -ENOMEM;
    memset(body, 'b', len);
    return ringo_respond(req, 200, NULL, body, len);
}

static int echo(ringo_req *req, void *ud)
{
    ringo_str b = ringo_req_body(req);

    (void)ud;
    return ringo_respond(req, 200, NULL, b.ptr, b.len);
}

static int sync_hello(ringo_req *req, void *ud)
{
    (void)ud;
    return ringo_respond(req, 200, NULL, "sync", 4);
}

static void start(const ringo_config *cfg)
{
    app = fake_app_new(cfg);
    CHECK(ringo_route(app, "GET", "/hello", RINGO_ASYNC, hello, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/n/{k}", RINGO_ASYNC, numbered, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/big/{n}", RINGO_ASYNC, big, NULL) == 0);
    CHECK(ringo_route(app, "POST", "/echo", RINGO_ASYNC, echo, NULL) == 0);
    CHECK(ringo_route(app, "GET", "/sync", RINGO_SYNC, sync_hello, NULL) == 0);
    fake_app_start(app);
    CHECK(fake_ring());
}

static ringo_config defaults(void)
{
    ringo_config cfg;

    ringo_config_init(&cfg);
    return cfg;
}

static void stop(void)
{
    fake_app_free(app);
    app = NULL;
}

/* ---- expected bytes ---- */

#define HEAD200 "HTTP/1.1 200 OK\r\nServer: ringo\r\n" FAKE_DATE_LINE

static char expect_buf[1 << 16];

/* The answer of GET /n/{k} (keep-alive unless close). */
static const char *numbered_answer(const char *k, bool close)
{
    snprintf(expect_buf, sizeof(expect_buf),
             HEAD200 "Content-Length: %zu\r\nContent-Type: text/plain\r\n%s\r\n%s", strlen(k),
             close ? "Connection: close\r\n" : "", k);
    return expect_buf;
}

static void check_wire(ringo__conn *c, const char *want)
{
    const char *got = fake_wire(c);

    CHECKF(strcmp(got, want) == 0, "wire:\n%s\n---- want:\n%s", got, want);
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define REQ(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* ---- cases ---- */

static void test_pipelined_in_order(size_t seg)
{
    ringo_config cfg = defaults();
    char want[1024];
    ringo__conn *c;

    start(&cfg);
    c = fake_open();
    c->seg = seg;
    fake_recv_str(c, REQ("/n/1") REQ("/n/2") REQ("/n/3"));
    if (seg)
        fake_run(c); /* the first answer went out alone, the others gathered meanwhile */
    snprintf(want, sizeof(want), "%s", numbered_answer("1", false));
    strcat(want, numbered_answer("2", false));
    strcat(want, numbered_answer("3", false));
    check_wire(c, want);
    if (!seg)
        CHECK(c->sends == 1); /* pipelined answers leave in one send */
    CHECK(c->close_asked == FAKE_NO_CLOSE);
    /* After the send: the idle timer waits for the next request. */
    fake_run(c);
    CHECK(!c->closed && c->timer_kind == RINGO__HTTP_TIMER_IDLE &&
          c->timer_ms == cfg.keepalive_timeout_ms);
    fake_close(c);
    stop();
}

static void test_error_after_good(size_t seg)
{
    ringo_config cfg = defaults();
    char want[1024];
    ringo__conn *c;

    start(&cfg);
    c = fake_open();
    c->seg = seg;
    fake_recv_str(
        c, REQ("/n/1") REQ("/n/2") "GET /x HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n\r\n" REQ("/n/3"));
    snprintf(want, sizeof(want), "%s", numbered_answer("1", false));
    strcat(want, numbered_answer("2", false));
    strcat(want, "HTTP/1.1 400 Bad Request\r\nServer: ringo\r\n" FAKE_DATE_LINE
                 "Content-Length: 12\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                 "Bad Request\n");
    if (!seg) {
        check_wire(c, want);
        CHECK(c->sends == 1 && c->close_asked == RINGO__CLOSE_AFTER_SEND && !c->closed);
    }
    fake_run(c);
    CHECK(c->close_asked == RINGO__CLOSE_AFTER_SEND && c->closed && c->lingered);
    check_wire(c, want); /* nothing after the error was parsed */
    fake_close(c);
    stop();
}

/*
 * The client does not read: output past max_conn_buffered holds further
 * input, and once held input reaches it too, recv pauses; when the output
 * went out the held requests are answered in order and recv resumes.
 */
static void test_held_input(void)
{
    ringo_config cfg = defaults();
    char in[8192] = REQ("/big/4000"), want[16384] = "";
    ringo__conn *c;
    int k;

    cfg.max_conn_buffered = 1024;
    start(&cfg);
    c = fake_open();
    for (k = 1; strlen(in) < 2048; k++) {
        char r[64];
        snprintf(r, sizeof(r), "GET /n/%d HTTP/1.1\r\nHost: t\r\n\r\n", k);
        strcat(in, r);
    }
    fake_recv(c, in, strlen(in));
    CHECK(c->sends == 1 && ringo__conn_unsent(c) > 4000);
    CHECK(strstr(fake_wire(c), "Content-Length: 4000\r\n") && !strstr(fake_wire(c), "/n/"));
    CHECK(c->paused && c->pauses == 1);
    fake_wire_clear(c);
    fake_run(c);
    CHECK(!c->paused && c->resumes == 1);
    for (int i = 1; i < k; i++) {
        char n[16];
        snprintf(n, sizeof(n), "%d", i);
        strcat(want, numbered_answer(n, false));
    }
    check_wire(c, want);
    CHECK(c->close_asked == FAKE_NO_CLOSE);
    fake_close(c);
    stop();
}

/* Shutdown: requests already received are answered, the last one closes. */
static void test_drain_answers_received(void)
{
    ringo_config cfg = defaults();
    char want[1024];
    ringo__conn *c;

    cfg.max_conn_buffered = 1024;
    start(&cfg);
    c = fake_open();
    fake_recv_str(c, REQ("/big/4000") REQ("/n/1") REQ("/n/2"));
    CHECK(c->sends == 1);
    fake_wire_clear(c);
    fake_drain_all();
    CHECK(!c->closed);
    fake_run(c);
    snprintf(want, sizeof(want), "%s", numbered_answer("1", false));
    strcat(want, numbered_answer("2", true));
    check_wire(c, want);
    /* The server ends the connection (the drain): the client may be sending, it lingers. */
    CHECK(c->close_asked == RINGO__CLOSE_AFTER_SEND && c->closed);
    fake_close(c);
    stop();
}

/* Shutdown on idle connections: one that served closes, a fresh one gets a grace period. */
static void test_drain_idle(void)
{
    ringo_config cfg = defaults();
    ringo__conn *served, *fresh;

    cfg.drain_timeout_ms = 3000;
    start(&cfg);
    served = fake_open();
    fresh = fake_open();
    fake_recv_str(served, REQ("/hello"));
    fake_run(served);
    fake_drain_all();
    CHECK(served->closed && served->close_asked == RINGO__CLOSE_NOW);
    CHECK(!fresh->closed && fresh->timer_kind == RINGO__HTTP_TIMER_IDLE && fresh->timer_ms == 1000);
    /* Its request arrives in the grace period: answered, with Connection: close. */
    fake_recv_str(fresh, REQ("/n/7"));
    check_wire(fresh, numbered_answer("7", true));
    fake_run(fresh);
    CHECK(fresh->closed);
    fake_close(served);
    fake_close(fresh);
    stop();
}

static void test_eof_after_request(void)
{
    ringo_config cfg = defaults();
    ringo__conn *c;

    start(&cfg);
    c = fake_open();
    fake_recv_str(c, REQ("/n/1"));
    fake_eof(c);
    check_wire(c, numbered_answer("1", false));
    CHECK(c->close_asked == RINGO__CLOSE_AFTER_SEND);
    fake_run(c);
    CHECK(c->closed);
    check_wire(c, numbered_answer("1", false)); /* the answer went out before the close */
    fake_close(c);

    /* EOF with nothing pending: closed at once. */
    c = fake_open();
    fake_eof(c);
    CHECK(c->closed && c->close_asked == RINGO__CLOSE_NOW && !c->wire_len);
    fake_close(c);

    /* EOF in the middle of a request: it cannot be answered. */
    c = fake_open();
    fake_recv_str(c, "GET /n/1 HTTP/1.1\r\nHo");
    fake_eof(c);
    fake_run(c);
    CHECK(c->closed && !c->wire_len);
    fake_close(c);
    stop();
}

/*
 * Complete requests held (the client is not reading) when its EOF arrives
 * are still answered, in order, and the connection closes after them
 * (regression: on_eof marked the session dead when input was held, so the
 * connection closed after the first answer and /n/1 and /n/2 were lost).
 */
static void test_eof_after_held_requests(void)
{
    ringo_config cfg = defaults();
    char want[1024];
    ringo__conn *c;

    cfg.max_conn_buffered = 1024;
    start(&cfg);
    c = fake_open();
    fake_recv_str(c, REQ("/big/4000") REQ("/n/1") REQ("/n/2"));
    CHECK(!c->paused);
    fake_eof(c);
    fake_wire_clear(c);
    fake_run(c);
    snprintf(want, sizeof(want), "%s", numbered_answer("1", false));
    strcat(want, numbered_answer("2", true));
    check_wire(c, want);
    CHECK(c->closed);
    fake_close(c);

    /* Held input ending in a partial request: the complete ones are answered, then close. */
    c = fake_open();
    fake_recv_str(c, REQ("/big/4000") REQ("/n/1") "GET /n/2 HTTP/1.1\r\nHo");
    fake_eof(c);
    fake_wire_clear(c);
    fake_run(c);
    check_wire(c, numbered_answer("1", false));
    CHECK(c->closed && c->close_asked == RINGO__CLOSE_AFTER_SEND);
    fake_close(c);
    stop();
}

static void test_continue(void)
{
    ringo_config cfg = defaults();
    ringo__conn *c;
    const char *w;

    start(&cfg);
    c = fake_open();
    fake_recv_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                     "Expect: 100-continue\r\n\r\n");
    /* The interim answer goes out while the body is awaited. */
    check_wire(c, "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK(c->timer_kind == RINGO__HTTP_TIMER_BODY);
    fake_run(c);
    fake_recv_str(c, "ping");
    w = fake_wire(c);
    CHECK(starts(w, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
    CHECK(strstr(w, "Content-Length: 4\r\n\r\nping"));

    /* HTTP/1.0 and bodiless requests get no interim answer. */
    fake_wire_clear(c);
    fake_run(c);
    fake_recv_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
                     "Expect: 100-continue\r\n\r\n");
    CHECK(starts(fake_wire(c), "HTTP/1.1 200 OK\r\n"));

    /* An expectation other than 100-continue: 417. */
    fake_wire_clear(c);
    fake_run(c);
    fake_recv_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: x\r\n\r\n");
    CHECKF(starts(fake_wire(c), "HTTP/1.1 417 Expectation Failed\r\n"), "%s", fake_wire(c));
    fake_close(c);
    stop();
}

static void test_timeouts(void)
{
    ringo_config cfg = defaults();
    ringo__conn *c;
    const char *want408 = "HTTP/1.1 408 Request Timeout\r\nServer: ringo\r\n" FAKE_DATE_LINE
                          "Content-Length: 16\r\nContent-Type: text/plain\r\n"
                          "Connection: close\r\n\r\nRequest Timeout\n";

    cfg.header_timeout_ms = 500;
    cfg.body_timeout_ms = 700;
    cfg.keepalive_timeout_ms = 900;
    start(&cfg);

    /* A head that never ends (slowloris). */
    c = fake_open();
    CHECK(c->timer_kind == RINGO__HTTP_TIMER_IDLE && c->timer_ms == 900);
    fake_recv_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n");
    CHECK(c->timer_kind == RINGO__HTTP_TIMER_HEADER && c->timer_ms == 500);
    fake_advance(499);
    CHECK(!c->wire_len);
    fake_advance(1);
    check_wire(c, want408);
    CHECK(c->close_asked == RINGO__CLOSE_AFTER_SEND);
    fake_run(c);
    CHECK(c->closed);
    fake_close(c);

    /* A body that stops coming. */
    c = fake_open();
    fake_recv_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345");
    CHECK(c->timer_kind == RINGO__HTTP_TIMER_BODY && c->timer_ms == 700);
    fake_advance(700);
    check_wire(c, want408);
    fake_run(c);
    CHECK(c->closed);
    fake_close(c);

    /* Keep-alive idle: closed without a word. */
    c = fake_open();
    fake_recv_str(c, REQ("/hello"));
    fake_run(c);
    fake_wire_clear(c);
    CHECK(c->timer_kind == RINGO__HTTP_TIMER_IDLE && c->timer_ms == 900);
    fake_advance(900);
    CHECK(c->closed && c->close_asked == RINGO__CLOSE_NOW && !*fake_wire(c));
    fake_close(c);
    stop();
}

static void test_head_and_max_requests(void)
{
    ringo_config cfg = defaults();
    ringo__conn *c;

    cfg.max_requests_per_conn = 2;
    start(&cfg);
    c = fake_open();
    fake_recv_str(c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n" REQ("/n/2"));
    check_wire(c, HEAD200 "Content-Length: 5\r\nContent-Type: text/plain\r\n\r\n" HEAD200
                          "Content-Length: 1\r\nContent-Type: text/plain\r\n"
                          "Connection: close\r\n\r\n2");
    fake_run(c);
    /* The server's limit ended it: the client may be sending its next request. */
    CHECK(c->closed && c->close_asked == RINGO__CLOSE_AFTER_SEND);
    fake_close(c);
    stop();
}

/*
 * Which closes linger: the client's own closing request, read whole with
 * nothing after it, closes at once (RINGO__CLOSE_DONE); one with input
 * after it, or input that arrives later, lingers.
 */
static void test_closing_request_linger(void)
{
    ringo_config cfg = defaults();
    ringo__conn *c;

    start(&cfg);
    c = fake_open();
    fake_recv_str(c, "GET /n/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    CHECK(c->close_asked == RINGO__CLOSE_DONE);
    fake_run(c);
    CHECK(c->closed);
    fake_close(c);

    c = fake_open();
    fake_recv_str(c, "GET /n/1 HTTP/1.0\r\n\r\n");
    CHECK(c->close_asked == RINGO__CLOSE_DONE);
    fake_run(c);
    fake_close(c);

    c = fake_open();
    fake_recv_str(c, "GET /n/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" REQ("/n/2"));
    CHECK(c->close_asked == RINGO__CLOSE_AFTER_SEND);
    fake_run(c);
    fake_close(c);

    /* Input after the closing request, in a later receive, before the answer went out. */
    c = fake_open();
    c->seg = 1; /* one byte a receive: the close is asked before the rest arrives */
    fake_recv_str(c, "GET /n/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nX");
    CHECK(c->close_asked == RINGO__CLOSE_AFTER_SEND);
    fake_run(c);
    fake_close(c);
    stop();
}

static void test_sync_handler(void)
{
    ringo_config cfg = defaults();
    ringo__conn *c;

    start(&cfg);
    if (!fake_has_pool()) {
        printf("session_test: no io_uring, sync handler case skipped\n");
        stop();
        return;
    }
    c = fake_open();
    fake_recv_str(c, REQ("/sync") REQ("/n/2"));
    CHECK(fake_wait_jobs() == 0);
    fake_run(c);
    CHECK(strstr(fake_wire(c), "Content-Length: 4\r\n\r\nsyncHTTP/1.1 200 OK\r\n"));
    CHECK(strstr(fake_wire(c), "Content-Type: text/plain\r\n\r\n2"));
    CHECK(!c->closed);
    fake_close(c);
    stop();
}

int main(void)
{
    test_pipelined_in_order(0);
    test_pipelined_in_order(1);
    test_pipelined_in_order(7);
    test_error_after_good(0);
    test_error_after_good(1);
    test_held_input();
    test_drain_answers_received();
    test_drain_idle();
    test_eof_after_request();
    test_eof_after_held_requests();
    test_continue();
    test_timeouts();
    test_head_and_max_requests();
    test_closing_request_linger();
    test_sync_handler();
    printf("session_test: ok\n");
    return 0;
}
