/*
 * tests/fuzz/parser_fuzz.c - libFuzzer target: the llhttp glue, chunked
 * decoder, URL split and router on arbitrary bytes.
 *
 * The first input byte picks how the rest is cut into receive buffers (so
 * boundaries land everywhere); each buffer goes through ringo__parse() the
 * way a connection feeds it, complete requests are routed and serialized,
 * and everything is freed. Build: cmake -DRINGO_FUZZ=ON with CC=clang.
 */
#include <stdlib.h>

#include "core/ring_impl.h"
#include "http/http_impl.h"

static ringo_app *app;
static ringo__ring *ring;

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
    if (ringo_app_new(&app, &cfg) < 0)
        abort();
    ringo_route(app, "GET", "/", RINGO_ASYNC, handler, NULL);
    ringo_route(app, "GET", "/users/{id}", RINGO_ASYNC, handler, NULL);
    ringo_route(app, "POST", "/files/{path...}", RINGO_ASYNC, handler, NULL);
    ring = ringo__ring_new(&app->srv, 0, -1);
}

static void finish(ringo__sess *s, ringo__conn *c)
{
    ringo_req *r = s->cur;

    s->cur = NULL;
    if (!r)
        return;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ringo__conn *c;
    ringo__sess *s;
    size_t cut, off = 1;

    if (!app)
        setup();
    if (size < 1)
        return 0;
    cut = (size_t)(data[0] % 64) + 1;
    c = calloc(1, sizeof(*c) + sizeof(ringo__sess));
    c->ring = ring;
    c->heap_idx = UINT32_MAX;
    s = ringo__conn_state(c);
    s->conn = c;
    s->app = app;
    llhttp_init(&s->parser, HTTP_REQUEST, &ringo__llhttp_settings);
    s->parser.data = s;
    while (off < size) {
        size_t n = size - off < cut ? size - off : cut, used = 0;
        /* Each buffer is a fresh copy, as a recv buffer would be. */
        char *buf = malloc(n);
        const char *p = buf;
        memcpy(buf, data + off, n);
        off += n;
        while (n) {
            int ret = ringo__parse(s, p, n, &used);
            p += used;
            n -= used;
            if (ret < 0) {
                off = size;
                break;
            }
            if (ret == 1)
                finish(s, c);
            else if (used == 0)
                break;
        }
        free(buf);
    }
    ringo__req_free(s->cur);
    ringo__timer_remove(ring, c);
    free(c->out);
    free(c);
    return 0;
}
