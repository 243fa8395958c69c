/*
 * perf/micro/json_bench.c - what parsing a JSON request body costs, with
 * ringo's pull parser and with the two Debian-packaged C libraries that
 * could stand in for it.
 *
 * Two documents: a ~1 KiB product (the POST /products body, with a longer
 * description, escapes and non-ASCII text) and a ~10 KiB order of such
 * products. Each parser does all it would have to do for a handler:
 * - ringo: every token pulled, every string decoded, keys checked for
 *   duplicates, memory from a request-like arena (reset per document);
 * - jansson: json_loadb() builds its tree, json_decref() frees it;
 * - json-c: json_tokener_parse_ex() on a reused tokener builds its tree,
 *   json_object_put() frees it.
 * The libraries are measured when the build found them (libjansson-dev,
 * libjson-c-dev); ringo never links them. Each case runs in batches; the
 * median of the per-batch averages is printed, with MB/s for that median.
 *
 *   micro_json_bench [batches [documents-per-batch-for-1KiB [document-name]]]
 *
 * With a document name only that document is parsed (for instruction counts
 * under callgrind: perf/micro/json_bench.c's comment in docs/benchmarks.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "http/json.h"

#include "perf/micro/json/peers.h"

static volatile size_t sink;

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

/* Appends one product (about 1 KiB) to buf at *n. */
static void product(char *buf, size_t cap, size_t *n, unsigned id)
{
    *n += (size_t)snprintf(
        buf + *n, cap - *n,
        "{\"name\": \"Stainless steel kettle %u\", \"price\": %u.%02u, \"currency\": \"EUR\", "
        "\"sku\": \"KT-%05u-SS\", \"tags\": [\"kitchen\", \"steel\", \"electric\", \"1.7 l\", "
        "\"caf\xc3\xa9\"], \"in_stock\": %s, \"quantity\": %u, "
        "\"dims\": {\"w\": %u.5, \"h\": 31.25, \"d\": 17}, \"weight_kg\": 1.35, "
        "\"description\": \"A 1.7 litre kettle with a brushed stainless steel body, a "
        "concealed 2200 W element and a \\\"keep warm\\\" setting.\\nBoils a full jug in "
        "about four minutes; switches itself off when dry. D\xc3\xa9tartrage facile.\", "
        "\"manufacturer\": {\"name\": \"Acme Home Appliances\", \"country\": \"DE\", "
        "\"url\": \"https://example.com/acme\"}, \"ratings\": [5, 4, 5, 3, 5, 4, 4], "
        "\"rating\": 4.285714285714286, \"warranty_months\": 24, \"discontinued\": false, "
        "\"replaced_by\": null, \"created_at\": \"2026-11-30T09:12:44Z\", \"updated_at\": "
        "\"2026-12-01T08:00:00Z\", \"barcode\": \"4006381333931\", \"color\": \"silver\", "
        "\"voltage\": 230, \"origin\": \"Made in Germany\", \"energy_class\": \"A++\", "
        "\"accessories\": [\"descaler\", \"water filter\", \"base\"], \"notes\": \"\\u00c9dition "
        "limit\\u00e9e \\u2014 n\\u00b0%u\"}",
        id, 20 + id % 80, id % 100, id, id % 3 ? "true" : "false", id % 50, 20 + id % 5, id);
}

struct doc {
    const char *name;
    char buf[16384];
    size_t len;
};

static void make_docs(struct doc *small, struct doc *big)
{
    size_t n = 0;

    small->name = "product-1k";
    product(small->buf, sizeof(small->buf), &n, 7);
    small->len = n;
    big->name = "order-10k";
    n = (size_t)snprintf(big->buf, sizeof(big->buf),
                         "{\"order_id\": 912345, \"customer\": {\"id\": 42, \"name\": \"J. "
                         "M\xc3\xbcller\", \"email\": \"jm@example.com\"}, \"items\": [");
    for (unsigned i = 0; i < 10; i++) {
        if (i)
            n += (size_t)snprintf(big->buf + n, sizeof(big->buf) - n, ", ");
        product(big->buf, sizeof(big->buf), &n, 100 + i);
    }
    n += (size_t)snprintf(big->buf + n, sizeof(big->buf) - n,
                          "], \"total\": 1234.56, \"paid\": true, \"coupon\": null}");
    big->len = n;
}

static void *arena_alloc(void *ctx, size_t n) { return ringo__arena_alloc(ctx, n); }

static size_t parse_ringo(const struct doc *d)
{
    static char first[8192];
    ringo__arena arena;
    ringo__jlex lx;
    ringo__jtok t;
    size_t acc = 0;

    ringo__arena_init(&arena, first, sizeof(first));
    ringo__jlex_init(&lx, d->buf, d->len, 0, arena_alloc, &arena);
    while ((t = ringo__jlex_next(&lx)) > RINGO__JTOK_EOF)
        acc += (size_t)t + lx.str.len;
    ringo__arena_free(&arena);
    if (t != RINGO__JTOK_EOF) {
        fprintf(stderr, "ringo: %s at %zu\n", ringo__jlex_errmsg(&lx), lx.err_pos);
        exit(1);
    }
    return acc;
}

#ifdef RINGO_HAVE_JANSSON
static size_t parse_jansson(const struct doc *d) { return peer_jansson(d->buf, d->len); }
#endif
#ifdef RINGO_HAVE_JSONC
static size_t parse_jsonc(const struct doc *d) { return peer_jsonc(d->buf, d->len); }
#endif

struct parser {
    const char *name;
    size_t (*parse)(const struct doc *);
};

static const struct parser parsers[] = {
    {"ringo", parse_ringo},
#ifdef RINGO_HAVE_JANSSON
    {"jansson", parse_jansson},
#endif
#ifdef RINGO_HAVE_JSONC
    {"json-c", parse_jsonc},
#endif
};

/* One batch of n documents: average ns per document. */
static double batch(const struct parser *p, const struct doc *d, unsigned n)
{
    double t0 = now_ns();

    for (unsigned i = 0; i < n; i++)
        sink += p->parse(d);
    return (now_ns() - t0) / n;
}

int main(int argc, char **argv)
{
    unsigned batches = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 21;
    unsigned per_batch = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 20000;
    static struct doc docs[2];
    double *t = malloc((batches ? batches : 1) * sizeof(*t));

    if (!t || batches == 0 || per_batch < 10) {
        fprintf(stderr, "usage: %s [batches [documents-per-batch]]\n", argv[0]);
        return 1;
    }
    make_docs(&docs[0], &docs[1]);
    printf("json: %u batches; %s %zu bytes x %u, %s %zu bytes x %u per batch\n", batches,
           docs[0].name, docs[0].len, per_batch, docs[1].name, docs[1].len, per_batch / 10);
    printf("%-12s %-8s %10s %10s %10s %8s\n", "document", "parser", "median_ns", "p10_ns", "p90_ns",
           "MB/s");
    for (unsigned k = 0; k < 2; k++) {
        unsigned n = k ? per_batch / 10 : per_batch;
        if (argc > 3 && strcmp(argv[3], docs[k].name) != 0)
            continue;
        for (size_t i = 0; i < sizeof(parsers) / sizeof(parsers[0]); i++) {
            batch(&parsers[i], &docs[k], n); /* warm-up */
            for (unsigned b = 0; b < batches; b++)
                t[b] = batch(&parsers[i], &docs[k], n);
            qsort(t, batches, sizeof(*t), cmp_double);
            printf("%-12s %-8s %10.0f %10.0f %10.0f %8.0f\n", docs[k].name, parsers[i].name,
                   t[batches / 2], t[batches / 10], t[batches * 9 / 10],
                   (double)docs[k].len / t[batches / 2] * 1e3);
        }
    }
    free(t);
    return 0;
}
