/*
 * tests/fuzz/parser_fuzz.c - libFuzzer target: the llhttp glue, chunked
 * decoder, URL split and router on arbitrary bytes, and the property that
 * parsing does not depend on how the input is cut into receive buffers.
 *
 * The first input byte picks a split point and a piece size; the rest is the
 * byte stream. It is parsed four times - whole, cut in two at the split
 * point, in pieces of the piece size, one byte per buffer - each buffer fed
 * through ringo__parse() the way a connection feeds it (a fresh copy, so
 * ASan sees any read past it). Each run records its events: every complete
 * request (method, target, version, keep-alive, headers, body) and the error
 * status that ended it. The four records must be identical, or the target
 * aborts. Complete requests are then routed and serialized, and everything
 * is freed. Build: cmake -DRINGO_FUZZ=ON with CC=clang.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/ring_impl.h"
#include "http/http_impl.h"
#include "fuzz_log.h"

static ringo_app *app;
static ringo__ring *ring;

/* What one run saw, as text: compared byte for byte between runs. */
typedef fuzz_log events;

static int handler(ringo_req *req, void *udata)
{
    ringo_str v;

    (void)udata;
    ringo_req_path_param(req, "id", &v);
    ringo_req_query_param(req, "q", &v);
    return ringo_respond(req, 200, "text/plain", "ok", 2);
}

static void setup(void)
{
    ringo_config cfg;

    ringo_config_init(&cfg);
    cfg.max_conns = 4;
    cfg.max_body_bytes = 4096;
    cfg.max_header_bytes = 2048;
    cfg.max_request_line = 512;
    cfg.max_headers = 20;
    if (ringo_app_new(&app, &cfg) < 0)
        abort();
    ringo_route(app, "GET", "/", RINGO_ASYNC, handler, NULL);
    ringo_route(app, "GET", "/users/{id}", RINGO_ASYNC, handler, NULL);
    ringo_route(app, "POST", "/files/{path...}", RINGO_ASYNC, handler, NULL);
    ring = ringo__ring_new(&app->srv, 0, -1);
}

static void record(events *e, const ringo_req *r)
{
    char line[64];
    int k = snprintf(line, sizeof(line), "\nreq 1.%u ka=%d head=%d 100=%d\n", r->http_minor,
                     r->keep_alive, r->is_head, r->expect_continue);

    fuzz_put(e, line, (size_t)k);
    fuzz_put_str(e, 'M', r->method.ptr, r->method.len);
    fuzz_put_str(e, 'T', r->target.ptr, r->target.len);
    for (uint32_t i = 0; i < r->nhdrs; i++) {
        fuzz_put_str(e, 'N', r->hdrs[i].name.ptr, r->hdrs[i].name.len);
        fuzz_put_str(e, 'V', r->hdrs[i].value.ptr, r->hdrs[i].value.len);
    }
    fuzz_put_str(e, 'B', r->body ? r->body : "", r->body_len);
}

static void finish(ringo__sess *s, ringo__conn *c, events *e)
{
    ringo_req *r = s->cur;

    s->cur = NULL;
    if (!r)
        return;
    record(e, r);
    if (ringo__url_split(r->target, &r->path, &r->query) == 0 &&
        (r->match = ringo__arena_alloc(&r->arena, sizeof(*r->match))) &&
        ringo__router_match(app->router, r->method, r->path, &r->arena, r->match) == 0) {
        r->route = r->match->route;
        r->route->fn(r, NULL);
    }
    ringo__resp_serialize(r, c);
    c->out_len = 0;
    ringo__req_free(r);
}

/* Parses one buffer as the session does; false once an error ended the stream. */
static bool feed(ringo__sess *s, ringo__conn *c, const uint8_t *data, size_t n, events *e)
{
    char *buf = malloc(n ? n : 1);
    const char *p = buf;
    bool go = true;

    memcpy(buf, data, n);
    while (n) {
        size_t used = 0;
        int ret = ringo__parse(s, p, n, &used);
        if (used > n)
            abort();
        p += used;
        n -= used;
        if (ret < 0) {
            char line[32];
            fuzz_put(e, line, (size_t)snprintf(line, sizeof(line), "\nerror %d\n", -ret));
            go = false;
            break;
        }
        if (ret == 1)
            finish(s, c, e);
        else if (n)
            abort(); /* "more input needed" must have taken every byte */
    }
    free(buf);
    return go;
}

static ringo__sess *sess_new(void)
{
    ringo__conn *c = calloc(1, sizeof(*c) + sizeof(ringo__sess));
    ringo__sess *s;

    if (!c)
        abort();
    c->ring = ring;
    c->heap_idx = UINT32_MAX;
    s = ringo__conn_state(c);
    s->conn = c;
    s->app = app;
    s->cfg = ringo__ring_config(ring);
    llhttp_init(&s->parser, HTTP_REQUEST, &ringo__llhttp_settings);
    s->parser.data = s;
    return s;
}

/* Records whether the stream ended inside a message (unless an error ended it), then frees. */
static void sess_free(ringo__sess *s, bool ended, events *e)
{
    ringo__conn *c = s->conn;

    if (ended) {
        char line[32];
        fuzz_put(e, line,
                 (size_t)snprintf(line, sizeof(line), "\nend in_message=%d\n", s->in_message));
    }
    ringo__req_free(s->cur);
    ringo__timer_remove(ring, c);
    free(c->out);
    free(c);
}

/* Parses stream[0..size) in buffers of `piece` bytes (the last may be shorter). */
static void run(const uint8_t *stream, size_t size, size_t piece, events *e)
{
    ringo__sess *s = sess_new();
    bool go = true;

    for (size_t off = 0; go && off < size; off += piece)
        go = feed(s, s->conn, stream + off, size - off < piece ? size - off : piece, e);
    sess_free(s, go, e);
}

/* Two buffers: [0, at) and [at, size). */
static void run_split(const uint8_t *stream, size_t size, size_t at, events *e)
{
    ringo__sess *s = sess_new();
    bool go = feed(s, s->conn, stream, at, e);

    if (go && at < size)
        go = feed(s, s->conn, stream + at, size - at, e);
    sess_free(s, go, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    events whole = {0}, other = {0};
    const uint8_t *stream = data + 1;
    size_t n = size - 1;

    if (!app)
        setup();
    if (size < 2)
        return 0;
    run(stream, n, n, &whole);
    run_split(stream, n, (size_t)data[0] * n / 256, &other);
    fuzz_same(&whole, &other, "parse differs when the input is", "cut in two");
    other.len = 0;
    run(stream, n, (size_t)(data[0] % 64) + 1, &other);
    fuzz_same(&whole, &other, "parse differs when the input is", "cut into pieces");
    other.len = 0;
    run(stream, n, 1, &other);
    fuzz_same(&whole, &other, "parse differs when the input is", "fed one byte at a time");
    free(whole.p);
    free(other.p);
    return 0;
}
