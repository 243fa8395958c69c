/*
 * perf/micro/json_write_bench.c - what writing a JSON response costs:
 * ringo's writer against jansson's serializer on the same ~10 KiB document
 * (40 records of ints, doubles, strings with a few escapes and non-ASCII
 * text, booleans, null, a nested object and an array each).
 *
 * ringo writes the document from C values, into the request arena (the
 * handler's path: a request object whose arena is freed after each
 * document) and into a malloc() buffer. jansson serializes a tree built
 * beforehand (json_dumpb() into a buffer that is big enough): only the
 * serialization is timed, not building the tree. Each runs in batches,
 * interleaved across the writers, timed in thread CPU time (a busy machine
 * deschedules the bench; that time is left out); the median of the
 * per-batch averages is printed in ns per document and ns
 * per byte of the text each produced (jansson writes doubles with 17
 * digits, so its text is longer: both figures are printed).
 *
 * Built only when jansson is found (Debian: libjansson-dev); the library
 * never uses it.
 *
 *   micro_json_write_bench [batches [docs-per-batch]]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ringo/json.h>

#include "core/arena.h"
#include "http/request_impl.h"

#define NREC 40

struct rec {
    int64_t id;
    char name[32], email[48];
    const char *bio;
    double score, ratio, lat, lon;
    bool active;
    const char *tags[3];
};

static struct rec recs[NREC];

static const char *const bios[] = {
    "Likes \"quoted\" words and long walks.\nSecond line.",
    "Caf\xc3\xa9 owner in M\xc3\xbcnchen, \xe2\x82\xac prices only",
    "Plain ASCII text without anything that needs escaping at all, quite long indeed",
    "Tabs\tand\\backslashes\\in a path C:\\Users\\x",
};
static const char *const tagset[] = {"alpha", "beta", "gamma", "delta", "epsilon"};

static void make_records(void)
{
    for (int i = 0; i < NREC; i++) {
        struct rec *r = &recs[i];
        r->id = 1000003 * (int64_t)i;
        snprintf(r->name, sizeof(r->name), "user-%d", i);
        snprintf(r->email, sizeof(r->email), "user.%d@example.com", i);
        r->bio = bios[i % 4];
        r->score = (double)(i * 1234 % 10000) / 100; /* two decimals, like a price */
        r->ratio = (double)i / 7.0;                  /* 16-17 digits */
        r->lat = 48.137154 + i * 0.001;
        r->lon = 11.576124 - i * 0.002;
        r->active = i % 3 != 0;
        for (int t = 0; t < 3; t++)
            r->tags[t] = tagset[(i + t) % 5];
    }
}

static void write_ringo(ringo_json_w *w)
{
    ringo_json_obj(w);
    ringo_json_key(w, "count");
    ringo_json_int(w, NREC);
    ringo_json_key(w, "items");
    ringo_json_arr(w);
    for (int i = 0; i < NREC; i++) {
        const struct rec *r = &recs[i];
        ringo_json_obj(w);
        ringo_json_key(w, "id");
        ringo_json_int(w, r->id);
        ringo_json_key(w, "name");
        ringo_json_cstr(w, r->name);
        ringo_json_key(w, "email");
        ringo_json_cstr(w, r->email);
        ringo_json_key(w, "bio");
        ringo_json_cstr(w, r->bio);
        ringo_json_key(w, "score");
        ringo_json_double(w, r->score);
        ringo_json_key(w, "ratio");
        ringo_json_double(w, r->ratio);
        ringo_json_key(w, "active");
        ringo_json_bool(w, r->active);
        ringo_json_key(w, "parent");
        ringo_json_null(w);
        ringo_json_key(w, "loc");
        ringo_json_obj(w);
        ringo_json_key(w, "lat");
        ringo_json_double(w, r->lat);
        ringo_json_key(w, "lon");
        ringo_json_double(w, r->lon);
        ringo_json_end(w);
        ringo_json_key(w, "tags");
        ringo_json_arr(w);
        for (int t = 0; t < 3; t++)
            ringo_json_cstr(w, r->tags[t]);
        ringo_json_end(w);
        ringo_json_end(w);
    }
    ringo_json_end(w);
    ringo_json_end(w);
}

static json_t *build_jansson(void)
{
    json_t *root = json_object(), *items = json_array();

    json_object_set_new(root, "count", json_integer(NREC));
    for (int i = 0; i < NREC; i++) {
        const struct rec *r = &recs[i];
        json_t *o = json_object(), *loc = json_object(), *tags = json_array();
        json_object_set_new(o, "id", json_integer(r->id));
        json_object_set_new(o, "name", json_string(r->name));
        json_object_set_new(o, "email", json_string(r->email));
        json_object_set_new(o, "bio", json_string(r->bio));
        json_object_set_new(o, "score", json_real(r->score));
        json_object_set_new(o, "ratio", json_real(r->ratio));
        json_object_set_new(o, "active", json_boolean(r->active));
        json_object_set_new(o, "parent", json_null());
        json_object_set_new(loc, "lat", json_real(r->lat));
        json_object_set_new(loc, "lon", json_real(r->lon));
        json_object_set_new(o, "loc", loc);
        for (int t = 0; t < 3; t++)
            json_array_append_new(tags, json_string(r->tags[t]));
        json_object_set_new(o, "tags", tags);
        json_array_append_new(items, o);
    }
    json_object_set_new(root, "items", items);
    return root;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* descheduled time left out */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile size_t sink;

enum kind { RINGO_ARENA, RINGO_MALLOC, JANSSON };

/* One document of the given kind; returns its length. */
static size_t one_doc(enum kind k, struct ringo_req *req, json_t *root, char *jbuf, size_t jcap)
{
    ringo_json_w w;
    char *out;
    size_t n = 0;

    switch (k) {
    case RINGO_ARENA:
        ringo__arena_init(&req->arena, req->inline_arena, sizeof(req->inline_arena));
        ringo_json_begin(&w, req);
        write_ringo(&w);
        if (ringo_json_finish(&w, &out, &n) == 0)
            sink += (size_t)out[n / 2];
        ringo__arena_free(&req->arena);
        break;
    case RINGO_MALLOC:
        ringo_json_begin_malloc(&w);
        write_ringo(&w);
        if (ringo_json_finish(&w, &out, &n) == 0) {
            sink += (size_t)out[n / 2];
            free(out);
        }
        break;
    case JANSSON:
        n = json_dumpb(root, jbuf, jcap, JSON_COMPACT);
        sink += (size_t)jbuf[n / 2];
        break;
    }
    return n;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"ringo (request arena)", "ringo (malloc)",
                                        "jansson json_dumpb (tree prebuilt)"};
    int batches = argc > 1 ? atoi(argv[1]) : 21, per = argc > 2 ? atoi(argv[2]) : 2000;
    const char *only = argc > 3 ? argv[3] : NULL; /* "ringo" or "jansson": for profiling */
    struct ringo_req *req = calloc(1, sizeof(*req));
    size_t jcap = 1 << 16, n[3];
    char *jbuf = malloc(jcap);
    json_t *root;
    double t[3][256];

    if (!req || !jbuf || batches < 1 || batches > 256 || per < 1)
        return 1;
    make_records();
    root = build_jansson();
    for (int k = RINGO_ARENA; k <= JANSSON; k++)
        n[k] = one_doc(k, req, root, jbuf, jcap);
    /* Batches interleaved across the writers, so that a noisy spell hits all alike. */
    for (int b = 0; b < batches; b++) {
        for (int k = RINGO_ARENA; k <= JANSSON; k++) {
            uint64_t t0;
            if (only && strncmp(names[k], only, strlen(only)) != 0)
                continue;
            t0 = now_ns();
            for (int i = 0; i < per; i++)
                one_doc(k, req, root, jbuf, jcap);
            t[k][b] = (double)(now_ns() - t0) / per;
        }
    }
    printf("%-36s %10s %12s %10s\n", "writer", "bytes", "ns/doc", "ns/byte");
    for (int k = RINGO_ARENA; k <= JANSSON; k++) {
        if (only && strncmp(names[k], only, strlen(only)) != 0)
            continue;
        qsort(t[k], (size_t)batches, sizeof(double), cmp);
        printf("%-36s %10zu %12.0f %10.2f\n", names[k], n[k], t[k][batches / 2],
               t[k][batches / 2] / (double)n[k]);
    }
    json_decref(root);
    free(jbuf);
    free(req);
    return 0;
}
