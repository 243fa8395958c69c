/*
 * perf/micro/model_bench.c - what a declared JSON body costs on top of
 * parsing it: the demo's POST /products body (the ~1 KiB document
 * perf/lib/servers.py sends: name, price, ten tags, in_stock, dims) and the
 * same body with ten errors, through
 * - lex: the pull lexer alone, every token pulled and string decoded (the
 *   floor: what any handler reading the body pays);
 * - validate: ringo_model_parse() into the product model, every constraint
 *   checked, the struct filled (what runs before a declared route's
 *   handler);
 * - validate+write: that, then the instance written back with
 *   ringo_json_model() (the demo's whole handler minus the store);
 * - invalid: ringo_model_parse() of a body with ten errors, and the 422
 *   body made of them.
 * Each case runs in batches on a request-like arena reset per document;
 * thread CPU time (a busy machine does not inflate it much), median of the
 * per-batch averages.
 *
 *   micro_model_bench [batches [documents-per-batch]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_impl.h"
#include "http/json.h"

struct dims {
    double w, h;
};

struct product {
    ringo_str name;
    double price;
    ringo_array tags;
    bool in_stock;
    bool has_dims;
    struct dims dims;
};

static const ringo_model dims_model = {
    .name = "Dims",
    RINGO_MODEL_OF(struct dims),
    .fields =
        (const ringo_field[]){
            {.name = "w", RINGO_AS_NUMBER(struct dims, w), RINGO_GE(0)},
            {.name = "h", RINGO_AS_NUMBER(struct dims, h), RINGO_GE(0)},
            {0},
        },
};

static const ringo_model product_model = {
    .name = "Product",
    RINGO_MODEL_OF(struct product),
    .fields =
        (const ringo_field[]){
            {.name = "name",
             RINGO_AS_STRING(struct product, name),
             .min_length = 1,
             .max_length = 50},
            {.name = "price", RINGO_AS_NUMBER(struct product, price), RINGO_GT(0)},
            {.name = "tags",
             RINGO_AS_ARRAY(struct product, tags),
             .items = &(const ringo_field){.type = RINGO_STRING},
             .max_items = 10,
             RINGO_DEFAULT_EMPTY},
            {.name = "in_stock", RINGO_AS_BOOL(struct product, in_stock), RINGO_DEFAULT_BOOL(true)},
            {.name = "dims",
             RINGO_AS_OBJECT(struct product, dims, dims_model),
             .flags = RINGO_F_OPTIONAL | RINGO_F_NULLABLE,
             .set = RINGO_SET_AT(struct product, has_dims)},
            {0},
        },
};

static volatile size_t sink;
static char good[2048], bad[2048];
static size_t good_len, bad_len;

/* perf/lib/servers.py's product_body(), byte for byte. */
static void make_bodies(void)
{
    static const char az[] = "abcdefghijklmnopqrstuvwxyz";
    size_t n = (size_t)snprintf(good, sizeof(good),
                                "{\"name\":\"Stainless steel water bottle, 750 ml\","
                                "\"price\":24.99,\"tags\":[");

    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(good + n, sizeof(good) - n, "%s\"tag-%02d-%s%s\"", i ? "," : "", i,
                              az + i,
                              "012345678901234567890123456789012345678901234567890123456789");
    n += (size_t)snprintf(good + n, sizeof(good) - n,
                          "],\"in_stock\":true,\"dims\":{\"w\":7.5,\"h\":26.0}}");
    good_len = n;
    bad_len = (size_t)snprintf(
        bad, sizeof(bad),
        "{\"name\":\"\",\"price\":-1,\"tags\":[1,2,3,4,5],\"in_stock\":\"perhaps\","
        "\"dims\":{\"w\":-1,\"h\":\"tall\"}}");
}

static ringo_req *req;

static void req_reset(void)
{
    ringo__arena_free(&req->arena);
    ringo__arena_init(&req->arena, req->inline_arena, sizeof(req->inline_arena));
    req->errors = NULL;
    req->nerrors = 0;
}

static void *arena_alloc(void *ctx, size_t n) { return ringo__arena_alloc(ctx, n); }

static void run_lex(void)
{
    ringo__jlex lx;
    ringo__jtok t;
    size_t acc = 0;

    ringo__jlex_init(&lx, good, good_len, 0, arena_alloc, &req->arena);
    while ((t = ringo__jlex_next(&lx)) > RINGO__JTOK_EOF)
        acc += (size_t)t + lx.str.len;
    sink += acc;
}

static void run_validate(void)
{
    void *v;

    if (ringo_model_parse(req, &product_model, good, good_len, &v) != 0)
        abort();
    sink += ((struct product *)v)->tags.len;
}

static void run_validate_write(void)
{
    ringo_json_w w;
    char *out;
    size_t len;
    void *v;

    if (ringo_model_parse(req, &product_model, good, good_len, &v) != 0)
        abort();
    ringo_json_begin(&w, req);
    ringo_json_model(&w, &product_model, v);
    if (ringo_json_finish(&w, &out, &len) != 0)
        abort();
    sink += len;
}

static void run_invalid(void)
{
    void *v;

    if (ringo_model_parse(req, &product_model, bad, bad_len, &v) != RINGO_EVALIDATION ||
        req->nerrors != 10 || ringo__params_422(req) != 0)
        abort();
    sink += req->rbody_len;
}

static double cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double measure(void (*fn)(void), int batches, int per)
{
    double *avg = malloc((size_t)batches * sizeof(*avg)), med;

    if (!avg)
        abort();
    for (int b = 0; b < batches; b++) {
        double t0 = cpu_ns();
        for (int i = 0; i < per; i++) {
            req_reset();
            fn();
        }
        avg[b] = (cpu_ns() - t0) / per;
    }
    qsort(avg, (size_t)batches, sizeof(*avg), cmp_double);
    med = avg[batches / 2];
    free(avg);
    return med;
}

int main(int argc, char **argv)
{
    int batches = argc > 1 ? atoi(argv[1]) : 21, per = argc > 2 ? atoi(argv[2]) : 20000;
    static const struct {
        const char *name;
        void (*fn)(void);
        int good;
    } cases[] = {
        {"lex", run_lex, 1},
        {"validate", run_validate, 1},
        {"validate+write", run_validate_write, 1},
        {"invalid (10 errors + 422 body)", run_invalid, 0},
    };
    double base = 0;

    req = calloc(1, sizeof(*req));
    if (!req || batches < 1 || per < 1)
        return 2;
    ringo__arena_init(&req->arena, req->inline_arena, sizeof(req->inline_arena));
    make_bodies();
    measure(run_validate_write, 3, per / 10 + 1); /* warm-up */
    printf("body: %zu bytes valid, %zu bytes invalid; %d batches of %d, thread CPU, median\n",
           good_len, bad_len, batches, per);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double ns = measure(cases[i].fn, batches, per);
        size_t len = cases[i].good ? good_len : bad_len;
        if (i == 0)
            base = ns;
        printf("%-32s %8.0f ns/doc %6.2f ns/byte %5.2fx lex\n", cases[i].name, ns, ns / (double)len,
               ns / base);
    }
    ringo__arena_free(&req->arena);
    free(req);
    return 0;
}
