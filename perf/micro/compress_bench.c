/*
 * perf/micro/compress_bench.c - what compressing a response body costs on
 * this machine, per coding and level: microseconds per KiB (median of
 * repeated runs) and the compressed size, for English-like text and JSON at
 * several body sizes. Whole bodies go through ringo__compress_buf() (the
 * path of buffered responses: libdeflate for gzip when built in), streams
 * through ringo__zc_write() with one flush per 4 KiB write (the SSE path).
 * docs/operations.md uses it to place the pool offload threshold.
 *
 *   micro_compress_bench [repeats]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_impl.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The demo's /lorem text: words drawn by a fixed xorshift sequence. */
static void lorem(char *out, size_t n)
{
    static const char *const w[] = {
        "lorem",  "ipsum", "dolor",   "sit",    "amet",       "consectetur", "adipiscing", "elit",
        "sed",    "do",    "eiusmod", "tempor", "incididunt", "ut",          "labore",     "et",
        "dolore", "magna", "aliqua",  "enim",   "ad",         "minim",       "veniam",     "quis"};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t i = 0, count = 0;

    while (i < n) {
        const char *s;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s = w[x % (sizeof(w) / sizeof(w[0]))];
        for (size_t k = 0; s[k] && i < n; k++)
            out[i++] = s[k];
        if (i < n)
            out[i++] = ++count % 12 ? ' ' : '\n';
    }
}

/* JSON records like the demo's /json64k. */
static void json(char *out, size_t n)
{
    size_t i = 0;

    for (unsigned k = 0; i < n; k++) {
        char rec[200];
        int len = snprintf(rec, sizeof(rec),
                           "{\"id\":%u,\"name\":\"user-%u\",\"email\":\"user-%u@example.com\","
                           "\"active\":%s,\"score\":%u,\"tags\":[\"alpha\",\"beta\"]},",
                           k, k, k, k % 3 ? "true" : "false", k * 37 % 1000);
        for (int j = 0; j < len && i < n; j++)
            out[i++] = rec[j];
    }
}

static const char *const cname[] = {"gzip", "zstd", "br"};

static void one(int coding, int level, const char *kind, const char *in, size_t n, int reps)
{
    size_t cap = ringo__compress_bound(coding, n), len = 0;
    char *out = malloc(cap);
    double t[64];

    if (!out || !cap)
        return;
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = now_ns();
        len = ringo__compress_buf(coding, level, in, n, out, cap);
        t[r] = (double)(now_ns() - t0) / 1000.0;
    }
    qsort(t, (size_t)reps, sizeof(t[0]), cmp);
    printf("%-5s %-3d %-6s %7zu KiB  %9.1f us  %6.2f us/KiB  ratio %5.2f\n", cname[coding], level,
           kind, n / 1024, t[reps / 2], t[reps / 2] / (double)(n / 1024),
           len ? (double)n / (double)len : 0.0);
    free(out);
}

static void stream(int coding, int level, const char *in, size_t n, int reps)
{
    double t[64];
    size_t total = 0;

    for (int r = 0; r < reps; r++) {
        ringo__zc *z;
        uint64_t t0 = now_ns();
        if (ringo__zc_new(&z, coding, level) < 0)
            return;
        total = 0;
        for (size_t off = 0; off < n; off += 4096) {
            const char *o;
            size_t on;
            ringo__zc_write(z, in + off, n - off < 4096 ? n - off : 4096, false, &o, &on);
            total += on;
        }
        ringo__zc_free(z);
        t[r] = (double)(now_ns() - t0) / 1000.0;
    }
    qsort(t, (size_t)reps, sizeof(t[0]), cmp);
    printf("%-5s %-3d stream %7zu KiB  %9.1f us  %6.2f us/KiB  ratio %5.2f  (4 KiB flushes)\n",
           cname[coding], level, n / 1024, t[reps / 2], t[reps / 2] / (double)(n / 1024),
           total ? (double)n / (double)total : 0.0);
}

int main(int argc, char **argv)
{
    static const int levels[3][4] = {{1, 4, 6, 9}, {1, 3, 6, 19}, {1, 4, 6, 11}};
    static const size_t sizes[] = {1024, 4096, 16384, 65536, 262144, 1048576};
    int reps = argc > 1 ? atoi(argv[1]) : 15;
    unsigned built = ringo_compress_codings();
    size_t max = 1048576;
    char *text = malloc(max), *js = malloc(max);

    if (reps < 1 || reps > 64)
        reps = 15;
    lorem(text, max);
    json(js, max);
    for (int c = 0; c < 3; c++) {
        if (!(built & (1u << c)))
            continue;
        for (int l = 0; l < 4; l++)
            for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                if (levels[c][l] >= 9 && sizes[s] > 65536)
                    continue; /* the slow levels: enough to show their cost */
                one(c, levels[c][l], "text", text, sizes[s], reps);
                one(c, levels[c][l], "json", js, sizes[s], reps);
            }
        stream(c, c == 0 ? 1 : c == 1 ? 3 : 4, text, 65536, reps);
    }
    free(text);
    free(js);
    return 0;
}
