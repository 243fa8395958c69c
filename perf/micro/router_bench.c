/*
 * perf/micro/router_bench.c - cost of one route lookup.
 *
 * Builds a router shaped like a small REST API (about 40 routes: literals,
 * parameters, a static catch-all) and times ringo__router_match() over a
 * few kinds of request path. Each kind runs in batches; the median of the
 * per-batch averages is printed, which shrugs off a batch that the
 * scheduler interrupted. Numbers are only comparable within one run.
 *
 *   micro_router_bench [batches [lookups-per-batch]]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "http/router.h"

struct scenario {
    const char *name;
    const char *method;
    const char *paths[4];
};

static const char *const routes[][2] = {
    {"GET", "/"},
    {"GET", "/plaintext"},
    {"GET", "/json"},
    {"POST", "/echo"},
    {"GET", "/health"},
    {"GET", "/metrics"},
    {"GET", "/users"},
    {"POST", "/users"},
    {"GET", "/users/me"},
    {"GET", "/users/{id}"},
    {"PUT", "/users/{id}"},
    {"DELETE", "/users/{id}"},
    {"GET", "/users/{id}/posts"},
    {"GET", "/users/{id}/posts/{post}"},
    {"GET", "/users/{id}/followers"},
    {"GET", "/posts"},
    {"GET", "/posts/{post}"},
    {"GET", "/posts/{post}/comments"},
    {"POST", "/posts/{post}/comments"},
    {"GET", "/posts/{post}/comments/{c}"},
    {"GET", "/tags/{tag}"},
    {"GET", "/search"},
    {"GET", "/api/v1/items"},
    {"GET", "/api/v1/items/{id}"},
    {"GET", "/api/v1/orders"},
    {"GET", "/api/v1/orders/{id}"},
    {"GET", "/api/v1/orders/{id}/lines/{line}"},
    {"GET", "/api/v2/items"},
    {"GET", "/api/v2/items/{id}"},
    {"GET", "/admin"},
    {"GET", "/admin/users"},
    {"GET", "/admin/settings"},
    {"GET", "/login"},
    {"POST", "/login"},
    {"POST", "/logout"},
    {"GET", "/static/{path...}"},
    {"GET", "/favicon.ico"},
    {"GET", "/robots.txt"},
    {"OPTIONS", "/api/v1/items"},
    {"GET", "/files/{dir}/{name}"},
};

static const struct scenario scenarios[] = {
    {"literal", "GET", {"/plaintext", "/json", "/api/v1/items", "/admin/settings"}},
    {"param", "GET", {"/users/42", "/posts/7/comments", "/api/v1/orders/9/lines/3", "/tags/c"}},
    {"param-escaped", "GET", {"/users/a%2Fb", "/tags/caf%C3%A9", "/users/x%20y", "/tags/%41"}},
    {"catch-all", "GET", {"/static/css/site.css", "/static/js/app.js", "/static/a", "/static/"}},
    {"not-found", "GET", {"/nope", "/users/42/nope", "/api/v3/items", "/adminx"}},
    {"wrong-method", "PATCH", {"/users/42", "/plaintext", "/api/v1/items", "/login"}},
};

/* Results land here so that no lookup can be optimised away. */
static volatile unsigned sink;

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* One batch of n lookups; returns the average ns per lookup. */
static double batch(const ringo__router *r, const struct scenario *s, unsigned n)
{
    static char buf[4096];
    ringo_str method = ringo_str_c(s->method);
    ringo_str paths[4];
    ringo__route_match m;
    ringo__arena arena;
    double t0;

    for (int i = 0; i < 4; i++)
        paths[i] = ringo_str_c(s->paths[i]);
    t0 = now_ns();
    for (unsigned i = 0; i < n; i++) {
        /* A fresh arena per lookup, as each request gets. */
        ringo__arena_init(&arena, buf, sizeof(buf));
        sink += (unsigned)ringo__router_match(r, method, paths[i & 3], &arena, &m) + m.nparams;
    }
    return (now_ns() - t0) / n;
}

static int run(const ringo__router *r, unsigned batches, unsigned per_batch)
{
    double *t = malloc(batches * sizeof(*t));

    if (!t)
        return -ENOMEM;
    printf("%-14s %10s %10s %10s\n", "paths", "median_ns", "p10_ns", "p90_ns");
    for (size_t k = 0; k < sizeof(scenarios) / sizeof(scenarios[0]); k++) {
        batch(r, &scenarios[k], per_batch); /* warm-up */
        for (unsigned b = 0; b < batches; b++)
            t[b] = batch(r, &scenarios[k], per_batch);
        qsort(t, batches, sizeof(*t), cmp_double);
        printf("%-14s %10.1f %10.1f %10.1f\n", scenarios[k].name, t[batches / 2], t[batches / 10],
               t[batches * 9 / 10]);
    }
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned batches = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 31;
    unsigned per_batch = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 200000;
    ringo__router *r = ringo__router_new();
    int rc = 0;

    if (!r || batches == 0 || per_batch == 0) {
        fprintf(stderr, "usage: %s [batches [lookups-per-batch]]\n", argv[0]);
        return 1;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && rc == 0; i++)
        rc = ringo__router_add(r, routes[i][0], routes[i][1], (void *)routes[i][1]);
    if (rc == 0) {
        printf("router: %zu routes, %u batches x %u lookups\n", sizeof(routes) / sizeof(routes[0]),
               batches, per_batch);
        rc = run(r, batches, per_batch);
    }
    ringo__router_free(r);
    if (rc < 0)
        fprintf(stderr, "router_bench: %s\n", strerror(-rc));
    return rc < 0;
}
