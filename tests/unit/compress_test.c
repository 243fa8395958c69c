/*
 * Description: response compression's options and codecs (http/compress.c):
 * ringo_compress_opts validation (coding names, levels, media types,
 * reserved words, flags) and its defaults; ringo_app_compress() refusing
 * bad options without changing the app's; the route flags; a stream's
 * compressor flushing every write, so what was written so far decodes
 * from the bytes emitted so far (gzip with zlib's inflate, zstd with its
 * decoder), and its last bytes ending the coding.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/http_impl.h"

#if defined(RINGO_HAVE_ZLIB)
#include <zlib.h>
#endif
#if defined(RINGO_HAVE_ZSTD)
#include <zstd.h>
#endif

static int parse(const ringo_compress_opts *o)
{
    ringo__zopts z;
    int ret = ringo__zopts_parse(&z, o);

    if (ret == 0)
        ringo__zopts_free(&z);
    return ret;
}

static int parse_codings(const char *codings)
{
    ringo_compress_opts o = {.codings = codings};
    return parse(&o);
}

static int parse_types(const char *const *types)
{
    ringo_compress_opts o = {.types = types};
    return parse(&o);
}

static void defaults(void)
{
    ringo__zopts z;
    unsigned built = ringo_compress_codings(), n = 0;

    if (!built) {
        CHECK(ringo__zopts_parse(&z, NULL) == -ENOTSUP);
        return;
    }
    CHECK(ringo__zopts_parse(&z, NULL) == 0);
    CHECK(z.level[RINGO__Z_GZIP] == 1 && z.level[RINGO__Z_ZSTD] == 3 && z.level[RINGO__Z_BR] == 4);
    CHECK(z.min_bytes == 1024 && z.pool_min_bytes == RINGO__Z_DEFAULT_POOL_MIN);
    CHECK(z.types == NULL && z.flags == 0);
    /* The server's order: zstd, br, gzip, each when built in. */
    if (built & RINGO_CODING_ZSTD)
        CHECK(z.order[n++] == RINGO__Z_ZSTD);
    if (built & RINGO_CODING_BR)
        CHECK(z.order[n++] == RINGO__Z_BR);
    if (built & RINGO_CODING_GZIP)
        CHECK(z.order[n++] == RINGO__Z_GZIP);
    CHECK(z.n == n);
    ringo__zopts_free(&z);
}

static void codings(void)
{
    ringo_compress_opts o = {.codings = " gzip , br,zstd", .min_bytes = 10};
    ringo__zopts z;

    if (ringo_compress_codings() != (RINGO_CODING_GZIP | RINGO_CODING_ZSTD | RINGO_CODING_BR)) {
        printf("compress_test: not every coding is built in: order checks skipped\n");
    } else {
        CHECK(ringo__zopts_parse(&z, &o) == 0);
        CHECK(z.n == 3 && z.order[0] == RINGO__Z_GZIP && z.order[1] == RINGO__Z_BR &&
              z.order[2] == RINGO__Z_ZSTD && z.min_bytes == 10);
        ringo__zopts_free(&z);
        CHECK(parse_codings("BR") == 0);
    }
    CHECK(parse_codings("") == -EINVAL);
    CHECK(parse_codings("deflate") == -EINVAL);
    CHECK(parse_codings("gzip,gzip") == -EINVAL);
    CHECK(parse_codings("gzip,") == -EINVAL);
    CHECK(parse_codings(",gzip") == -EINVAL);
    CHECK(parse_codings("gzip br") == -EINVAL);
    CHECK(parse_codings("gzip;q=1") == -EINVAL);
    CHECK(parse_codings("identity") == -EINVAL);
}

static void levels(void)
{
    static const struct {
        int gzip, zstd, br, want;
    } cases[] = {
        {9, 19, 11, 0},      {1, 1, 1, 0},        {10, 0, 0, -EINVAL}, {-1, 0, 0, -EINVAL},
        {0, 20, 0, -EINVAL}, {0, -3, 0, -EINVAL}, {0, 0, 12, -EINVAL}, {0, 0, -1, -EINVAL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ringo_compress_opts o = {
            .gzip_level = cases[i].gzip, .zstd_level = cases[i].zstd, .brotli_level = cases[i].br};
        int got = parse(&o);
        CHECKF(got == cases[i].want || (ringo_compress_codings() == 0 && got == -ENOTSUP),
               "levels %d/%d/%d: %d", cases[i].gzip, cases[i].zstd, cases[i].br, got);
    }
}

static void types(void)
{
    static const char *const good[] = {"text/*", "application/json", "Image/SVG+xml", NULL};
    static const char *const bad[][2] = {{"text", NULL},       {"/json", NULL},
                                         {"text/", NULL},      {"te xt/html", NULL},
                                         {"text/html;", NULL}, {"text/ht(ml", NULL}};
    ringo_compress_opts o = {.types = good};
    ringo__zopts z;

    if (!ringo_compress_codings())
        return;
    CHECK(ringo__zopts_parse(&z, &o) == 0);
    CHECK(z.ntypes == 3 && strcmp(z.types[2], "image/svg+xml") == 0); /* lower-cased copies */
    ringo__zopts_free(&z);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECKF(parse_types(bad[i]) == -EINVAL, "type %s", bad[i][0]);
    static const char *const none[] = {NULL};
    CHECK(parse_types(none) == 0); /* an empty list: nothing is compressible */
}

static void reserved_and_flags(void)
{
    ringo_compress_opts o = {.reserved = {0, 0, 0, 1}};

    CHECK(parse(&o) == -EINVAL);
    o = (ringo_compress_opts){.flags = 2};
    CHECK(parse(&o) == -EINVAL);
    o = (ringo_compress_opts){.flags = RINGO_COMPRESS_406};
    CHECK(parse(&o) == 0 || (ringo_compress_codings() == 0 && parse(&o) == -ENOTSUP));
}

static int handler(ringo_req *req, void *udata)
{
    (void)req;
    (void)udata;
    return 0;
}

static void app_calls(void)
{
    ringo_compress_opts good = {.gzip_level = 5}, bad = {.gzip_level = 42};
    ringo_route_opts both = {.flags = RINGO_ROUTE_COMPRESS | RINGO_ROUTE_NO_COMPRESS},
                     unknown = {.flags = RINGO_ROUTE_CRITICAL << 1},
                     on = {.flags = RINGO_ROUTE_COMPRESS};
    ringo_app *app;

    CHECK(ringo_app_compress(NULL, NULL) == -EINVAL);
    CHECK(ringo_app_new(&app, NULL) == 0);
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_ASYNC, handler, NULL, &both) == -EINVAL);
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_ASYNC, handler, NULL, &unknown) == -EINVAL);
    CHECK(ringo_route_ex(app, "GET", "/a", RINGO_ASYNC, handler, NULL, &on) == 0);
    if (ringo_compress_codings()) {
        /* A route opting in on an app without options: the defaults, not app-wide. */
        CHECK(app->zopts && !app->zall && app->zopts->level[RINGO__Z_GZIP] == 1);
        CHECK(ringo_app_compress(app, &good) == 0);
        CHECK(app->zall && app->zopts->level[RINGO__Z_GZIP] == 5);
        CHECK(ringo_app_compress(app, &bad) == -EINVAL);
        CHECK(app->zopts->level[RINGO__Z_GZIP] == 5); /* a failed call changes nothing */
        CHECK(ringo_app_compress(app, NULL) == 0);
        CHECK(app->zopts->level[RINGO__Z_GZIP] == 1);
    } else {
        CHECK(ringo_app_compress(app, NULL) == -ENOTSUP);
    }
    ringo_app_free(app);
}

/* ---- a stream's compressor: every write decodes at once ---- */

static void fill(char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = "lorem ipsum dolor sit amet\n"[(i * 7 + seed) % 27];
}

static ringo__zc *new_zc(int coding)
{
    ringo__zc *z = NULL;

    CHECK(ringo__zc_new(&z, coding, 1) == 0 && z != NULL);
    return z;
}

#if defined(RINGO_HAVE_ZLIB)
static void gzip_flushes(void)
{
    ringo__zc *z = new_zc(RINGO__Z_GZIP);
    z_stream in;
    char src[3][5000], dst[20000];
    size_t total = 0;

    memset(&in, 0, sizeof(in));
    CHECK(inflateInit2(&in, 16 + 15) == Z_OK);
    in.next_out = (Bytef *)dst;
    in.avail_out = sizeof(dst);
    for (int i = 0; i < 3; i++) {
        const char *out;
        size_t n;
        fill(src[i], sizeof(src[i]), (unsigned)i);
        CHECK(ringo__zc_write(z, src[i], sizeof(src[i]), false, &out, &n) == 0 && n > 0);
        in.next_in = (Bytef *)(uintptr_t)out;
        in.avail_in = (uInt)n;
        CHECK(inflate(&in, Z_SYNC_FLUSH) == Z_OK && in.avail_in == 0);
        total += sizeof(src[i]);
        CHECKF(in.total_out == total, "gzip: %lu of %zu bytes decode after a write", in.total_out,
               total);
        CHECK(memcmp(dst + total - sizeof(src[i]), src[i], sizeof(src[i])) == 0);
    }
    {
        const char *out;
        size_t n;
        CHECK(ringo__zc_write(z, NULL, 0, true, &out, &n) == 0 && n > 0);
        in.next_in = (Bytef *)(uintptr_t)out;
        in.avail_in = (uInt)n;
        CHECK(inflate(&in, Z_FINISH) == Z_STREAM_END); /* the trailer ends the member */
        /* Finished: a second end adds nothing, more bytes are refused. */
        CHECK(ringo__zc_write(z, NULL, 0, true, &out, &n) == 0 && n == 0);
        CHECK(ringo__zc_write(z, "x", 1, false, &out, &n) == -EINVAL && n == 0);
    }
    inflateEnd(&in);
    ringo__zc_free(z);
}
#endif

#if defined(RINGO_HAVE_ZSTD)
static void zstd_flushes(void)
{
    ringo__zc *z = new_zc(RINGO__Z_ZSTD);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    char src[3][70000], dst[300000];
    ZSTD_outBuffer ob = {dst, sizeof(dst), 0};
    size_t total = 0, left = 1;

    for (int i = 0; i < 3; i++) {
        const char *out;
        size_t n;
        fill(src[i], sizeof(src[i]), (unsigned)i);
        CHECK(ringo__zc_write(z, src[i], sizeof(src[i]), false, &out, &n) == 0 && n > 0);
        ZSTD_inBuffer ib = {out, n, 0};
        while (ib.pos < ib.size)
            CHECK(!ZSTD_isError(left = ZSTD_decompressStream(d, &ob, &ib)));
        total += sizeof(src[i]);
        CHECKF(ob.pos == total, "zstd: %zu of %zu bytes decode after a write", ob.pos, total);
    }
    {
        const char *out;
        size_t n;
        CHECK(ringo__zc_write(z, NULL, 0, true, &out, &n) == 0);
        ZSTD_inBuffer ib = {out, n, 0};
        while (ib.pos < ib.size)
            CHECK(!ZSTD_isError(left = ZSTD_decompressStream(d, &ob, &ib)));
        CHECK(left == 0); /* the frame is complete */
    }
    CHECK(memcmp(dst + 2 * sizeof(src[0]), src[2], sizeof(src[2])) == 0);
    ZSTD_freeDCtx(d);
    ringo__zc_free(z);
}
#endif

int main(void)
{
    defaults();
    codings();
    levels();
    types();
    reserved_and_flags();
    app_calls();
#if defined(RINGO_HAVE_ZLIB)
    gzip_flushes();
#endif
#if defined(RINGO_HAVE_ZSTD)
    zstd_flushes();
#endif
    return 0;
}
