/*
 * examples/demo_compress.c - the demo's compressed routes (ringo/compress.h).
 *
 *   GET /lorem?kb=N          N KiB (1..65536, default 16) of generated English-like text
 *                            (text/plain), compressed when the client accepts it;
 *                            an async handler, so a large body is compressed on the pool
 *   GET /sync/lorem?kb=N     the same from a pool worker (compressed on that worker)
 *   ...&bytes=N              exactly N bytes instead of kb (for the size threshold)
 *   ...&type=T               Content-Type T instead of text/plain
 *   ...&etag=1               a strong ETag: "lorem-<length>"
 *   ...&status=S             status S (200..599), e.g. 204 or 304
 *   ...&encoded=1            Content-Encoding: identity set by the handler (never re-encoded)
 *   ...&stream=1             streamed in 16 KiB writes, chunked; stream=2: with the
 *                            length declared (chunked on the wire when compressed)
 *   GET /lorem/never?...     /lorem registered with RINGO_ROUTE_NO_COMPRESS: never
 *                            compressed, even when the app turns compression on
 *   GET /codings             the codings this build compresses with, for whole bodies
 *                            and for streams: "bodies: gzip zstd br\nstreams: gzip zstd br\n"
 *   GET /json64k             a 65,536-byte JSON document (the gzip benchmark's body;
 *                            perf/lib/servers.py writes the same bytes for nginx)
 *
 * The text is the same for the same length: a fixed word list drawn by a
 * fixed pseudo-random sequence, so tests can compare it after decompression.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

#define LOREM_MAX_KB 65536

static const char *const words[] = {
    "lorem",      "ipsum",        "dolor",
    "sit",        "amet",         "consectetur",
    "adipiscing", "elit",         "sed",
    "do",         "eiusmod",      "tempor",
    "incididunt", "ut",           "labore",
    "et",         "dolore",       "magna",
    "aliqua",     "enim",         "ad",
    "minim",      "veniam",       "quis",
    "nostrud",    "exercitation", "ullamco",
    "laboris",    "nisi",         "aliquip",
    "ex",         "ea",           "commodo",
    "consequat",  "duis",         "aute",
    "irure",      "in",           "reprehenderit",
    "voluptate",  "velit",        "esse",
    "cillum",     "fugiat",       "nulla",
    "pariatur",   "excepteur",    "sint",
    "occaecat",   "cupidatat",    "non",
    "proident",   "sunt",         "culpa",
    "qui",        "officia",      "deserunt",
    "mollit",     "anim",         "id",
    "est",        "laborum",
};

/* Fills out[0..n) with words and spaces, a newline every 12 words or so. */
static void lorem_fill(char *out, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t i = 0, count = 0;

    while (i < n) {
        const char *w;
        size_t len;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w = words[x % (sizeof(words) / sizeof(words[0]))];
        len = strlen(w);
        for (size_t k = 0; k < len && i < n; k++)
            out[i++] = w[k];
        if (i < n)
            out[i++] = ++count % 12 == 0 ? '\n' : ' ';
    }
}

static int lorem_stream(ringo_req *req, const char *body, uint64_t n, bool declare)
{
    int ret = ringo_stream_start(req, declare ? (int64_t)n : RINGO_STREAM_CHUNKED);

    for (uint64_t off = 0; ret == 0 && off < n; off += 16384)
        ret = ringo_stream_write(req, body + off, n - off < 16384 ? (size_t)(n - off) : 16384);
    return ret == 0 ? ringo_stream_end(req) : ret;
}

static int lorem(ringo_req *req, void *udata)
{
    uint64_t kb = demo_query_u64(req, "kb", 16, LOREM_MAX_KB);
    uint64_t n = demo_query_u64(req, "bytes", kb * 1024, (uint64_t)LOREM_MAX_KB * 1024);
    uint64_t status = demo_query_u64(req, "status", 200, 599);
    uint64_t stream = demo_query_u64(req, "stream", 0, 2);
    char etag[40];
    ringo_str type;
    char *body;
    int ret;

    (void)udata;
    if (ringo_req_query_param(req, "type", &type) != 0)
        type = RINGO_STR_LIT("text/plain; charset=utf-8");
    body = ringo_req_alloc(req, n ? n : 1);
    if (!body)
        return -ENOMEM;
    lorem_fill(body, n);
    ret = ringo_resp_set_status(req, status >= 200 ? (int)status : 200);
    if (ret == 0)
        ret = ringo_resp_add_header(req, "Content-Type", type);
    if (ret == 0 && demo_query_u64(req, "etag", 0, 1)) {
        int len = snprintf(etag, sizeof(etag), "\"lorem-%llu\"", (unsigned long long)n);
        ret = ringo_resp_add_header(req, "ETag", (ringo_str){etag, (size_t)len});
    }
    if (ret == 0 && demo_query_u64(req, "encoded", 0, 1))
        ret = ringo_resp_add_header(req, "Content-Encoding", RINGO_STR_LIT("identity"));
    if (ret == 0 && stream)
        return lorem_stream(req, body, n, stream == 2);
    return ret ? ret : ringo_resp_set_body_ref(req, body, n);
}

/* The benchmark's JSON: records until the next would pass 64 KiB, padded with spaces. */
#define JSON64K 65536
static char json64k_body[JSON64K];

/* One record, written alone (malloc mode) so that the array stops before 64 KiB. */
static size_t json64k_record(unsigned i, char *out, size_t room)
{
    static const char *const tags[] = {"alpha", "beta"};
    char name[32], email[48], *text;
    size_t n = 0;
    ringo_json_w w;

    snprintf(name, sizeof(name), "user-%u", i);
    snprintf(email, sizeof(email), "user-%u@example.com", i);
    ringo_json_begin_malloc(&w);
    ringo_json_obj(&w);
    ringo_json_key(&w, "id");
    ringo_json_uint(&w, i);
    ringo_json_key(&w, "name");
    ringo_json_cstr(&w, name);
    ringo_json_key(&w, "email");
    ringo_json_cstr(&w, email);
    ringo_json_key(&w, "active");
    ringo_json_bool(&w, i % 3 != 0);
    ringo_json_key(&w, "score");
    ringo_json_uint(&w, i * 37 % 1000);
    ringo_json_key(&w, "tags");
    ringo_json_arr(&w);
    for (int t = 0; t < 2; t++)
        ringo_json_cstr(&w, tags[t]);
    ringo_json_end(&w);
    ringo_json_end(&w);
    if (ringo_json_finish(&w, &text, &n) < 0) {
        ringo_json_discard(&w);
        return 0;
    }
    if (n <= room)
        memcpy(out, text, n);
    free(text);
    return n <= room ? n : 0;
}

static void json64k_init(void)
{
    size_t n = 1;

    json64k_body[0] = '[';
    for (unsigned i = 0;; i++) {
        size_t len;
        if (i)
            json64k_body[n++] = ',';
        len = json64k_record(i, json64k_body + n, JSON64K - 1 - n);
        if (!len) {
            if (i)
                n--; /* the comma before the record that did not fit */
            break;
        }
        n += len;
    }
    memset(json64k_body + n, ' ', JSON64K - 1 - n);
    json64k_body[JSON64K - 1] = ']';
}

static int json64k(ringo_req *req, void *udata)
{
    int ret = ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("application/json"));

    (void)udata;
    return ret ? ret : ringo_resp_set_body_ref(req, json64k_body, JSON64K);
}

static int names(char *out, size_t cap, unsigned m)
{
    int n = snprintf(out, cap, "%s%s%s", m & RINGO_CODING_GZIP ? " gzip" : "",
                     m & RINGO_CODING_ZSTD ? " zstd" : "", m & RINGO_CODING_BR ? " br" : "");
    return n > 0 ? n : 0;
}

static int codings(ringo_req *req, void *udata)
{
    char out[96];
    int n = snprintf(out, sizeof(out), "bodies:");

    (void)udata;
    n += names(out + n, sizeof(out) - (size_t)n, ringo_compress_codings());
    n += snprintf(out + n, sizeof(out) - (size_t)n, "\nstreams:");
    n += names(out + n, sizeof(out) - (size_t)n, ringo_compress_stream_codings());
    out[n++] = '\n';
    return ringo_respond(req, 200, "text/plain", out, (size_t)n);
}

/* ---- declarations of the routes' parameters, for validation and /openapi.json ---- */

struct q_lorem {
    int64_t kb, bytes, status, stream, etag, encoded;
    bool has_bytes, has_type;
    ringo_str type;
};

static const ringo_field lorem_fields[] = {
    DEMO_QUERY_U64(struct q_lorem, kb, 16, "KiB of text (at most 65536)."),
    {.name = "bytes",
     .in = RINGO_LOC_QUERY,
     RINGO_AS_INT(struct q_lorem, bytes),
     .set = RINGO_SET_AT(struct q_lorem, has_bytes),
     .flags = RINGO_F_OPTIONAL,
     RINGO_GE(0),
     .description = "Bytes of text, instead of kb."},
    DEMO_QUERY_U64(struct q_lorem, status, 200, "The response status (below 200: 200)."),
    DEMO_QUERY_U64(struct q_lorem, stream, 0, "1: streamed, chunked; 2: streamed with a length."),
    {.name = "type",
     .in = RINGO_LOC_QUERY,
     RINGO_AS_STRING(struct q_lorem, type),
     .set = RINGO_SET_AT(struct q_lorem, has_type),
     .flags = RINGO_F_OPTIONAL,
     .description = "The Content-Type; absent: text/plain; charset=utf-8."},
    DEMO_QUERY_U64(struct q_lorem, etag, 0, "1: send an ETag."),
    DEMO_QUERY_U64(struct q_lorem, encoded, 0, "1: the handler sets Content-Encoding itself."),
    {0}};
static const ringo_model lorem_params = {RINGO_MODEL_OF(struct q_lorem), .fields = lorem_fields};

static const ringo_route_spec spec_lorem = {.tags = demo_tag_compression,
                                            .summary =
                                                "Text, compressed when the client accepts it",
                                            .params = &lorem_params},
                              spec_sync_lorem = {.tags = demo_tag_compression,
                                                 .summary = "Text from the pool, compressed",
                                                 .params = &lorem_params},
                              spec_json64k = {.tags = demo_tag_compression,
                                              .summary = "64 KiB of JSON, compressed"},
                              spec_never = {.tags = demo_tag_compression,
                                            .summary = "Text that is never compressed",
                                            .params = &lorem_params},
                              spec_codings = {.tags = demo_tag_compression,
                                              .summary = "The codings built in"};

int demo_compress_routes(ringo_app *app)
{
    static const ringo_route_opts z = {.flags = RINGO_ROUTE_COMPRESS, .spec = &spec_lorem},
                                  zs = {.flags = RINGO_ROUTE_COMPRESS, .spec = &spec_sync_lorem},
                                  zj = {.flags = RINGO_ROUTE_COMPRESS, .spec = &spec_json64k},
                                  never = {.flags = RINGO_ROUTE_NO_COMPRESS, .spec = &spec_never},
                                  plain = {.spec = &spec_codings};
    int ret;

    json64k_init();
    ret = ringo_route_ex(app, "GET", "/lorem", RINGO_ASYNC, lorem, NULL, &z);
    if (ret == 0)
        ret = ringo_route_ex(app, "GET", "/sync/lorem", RINGO_SYNC, lorem, NULL, &zs);
    if (ret == 0)
        ret = ringo_route_ex(app, "GET", "/json64k", RINGO_ASYNC, json64k, NULL, &zj);
    if (ret == 0)
        ret = ringo_route_ex(app, "GET", "/lorem/never", RINGO_ASYNC, lorem, NULL, &never);
    if (ret == 0)
        ret = ringo_route_ex(app, "GET", "/codings", RINGO_ASYNC, codings, NULL, &plain);
    return ret;
}
