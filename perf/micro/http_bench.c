/*
 * perf/micro/http_bench.c - per-request cost of the HTTP layer, no sockets.
 *
 * Feeds a typical benchmark request (wrk's GET /plaintext) through the
 * llhttp glue into a request object, routes it, serializes the response into
 * the connection's output buffer and frees the request: everything a ring
 * does for one request except the syscalls. Prints the median and spread of
 * ns per request over repeated batches, for parse+route and for
 * serialization separately.
 *
 *   micro_http_bench [batches [requests-per-batch]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/ring_impl.h"
#include "http/http_impl.h"

static const char REQ[] = "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\n"
                          "User-Agent: wrk\r\nAccept: */*\r\n\r\n";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int plaintext(ringo_req *req, void *udata)
{
    (void)udata;
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/plain"));
    return ringo_resp_set_body_ref(req, "Hello, World!", 13);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    printf("%-28s median %7.1f ns  (min %.1f, p90 %.1f, max %.1f)\n", what, v[n / 2], v[0],
           v[n * 9 / 10], v[n - 1]);
}

int main(int argc, char **argv)
{
    int batches = argc > 1 ? atoi(argv[1]) : 31, per = argc > 2 ? atoi(argv[2]) : 100000;
    double *parse = calloc((size_t)batches, sizeof(double));
    double *ser = calloc((size_t)batches, sizeof(double));
    ringo_config cfg;
    ringo_app *app;
    ringo__ring *ring;
    ringo__conn *conn;
    ringo__sess *s;

    ringo_config_init(&cfg);
    if (ringo_app_new(&app, &cfg) < 0)
        return 1;
    ringo_route(app, "GET", "/plaintext", RINGO_ASYNC, plaintext, NULL);
    ringo_route(app, "GET", "/json", RINGO_ASYNC, plaintext, NULL);
    ringo_route(app, "GET", "/users/{id}", RINGO_ASYNC, plaintext, NULL);
    app->srv.cfg.max_conns = 16;
    ring = ringo__ring_new(&app->srv, 0, -1);
    conn = calloc(1, sizeof(*conn) + sizeof(ringo__sess));
    conn->ring = ring;
    conn->heap_idx = UINT32_MAX;
    s = ringo__conn_state(conn);
    s->conn = conn;
    s->app = app;
    llhttp_init(&s->parser, HTTP_REQUEST, &ringo__llhttp_settings);
    s->parser.data = s;

    for (int b = 0; b < batches; b++) {
        uint64_t tp = 0, ts = 0;
        for (int i = 0; i < per; i++) {
            size_t used;
            uint64_t t0 = now_ns(), t1, t2;
            ringo_req *r;
            ringo__parse(s, REQ, sizeof(REQ) - 1, &used);
            r = s->cur;
            s->cur = NULL;
            ringo__url_split(r->target, &r->path, &r->query);
            r->match = ringo__arena_alloc(&r->arena, sizeof(*r->match));
            ringo__router_match(app->router, r->method, r->path, &r->arena, r->match);
            r->route = r->match->route;
            r->route->fn(r, NULL);
            t1 = now_ns();
            ringo__resp_serialize(r, conn);
            ringo__req_free(r);
            conn->out_len = 0;
            t2 = now_ns();
            tp += t1 - t0;
            ts += t2 - t1;
        }
        parse[b] = (double)tp / per;
        ser[b] = (double)ts / per;
    }
    report("parse + route + handler", parse, batches);
    report("serialize + free", ser, batches);
    printf("(timer overhead included: two clock_gettime per request)\n");
    ringo__timer_remove(ring, conn);
    free(conn->out);
    free(conn);
    ringo__ring_free(ring);
    ringo_app_free(app);
    free(parse);
    free(ser);
    return 0;
}
