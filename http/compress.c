/*
 * http/compress.c - response compression, see ringo/compress.h and
 * http/compress.h.
 *
 * Every codec is optional at build time (RINGO_HAVE_ZLIB, _LIBDEFLATE,
 * _ZSTD, _BROTLI from CMake). gzip has two engines: libdeflate, when built
 * in, for whole bodies (faster than zlib at the same level, and it needs no
 * stream state), and zlib for streams and when libdeflate is absent.
 *
 * Memory: a buffered body is compressed into the request's arena, at most
 * the codec's bound for its length; the codec's working state lives only
 * for that call (and each thread's cached contexts, below). A stream's
 * compressor lives as long as its request, its memory limited (measured
 * after four flushed 64 KiB writes): gzip 32 KiB window and memLevel 8
 * (about 270 KiB of zlib state); zstd 64 KiB window, tables of 2^15
 * entries (about 730 KiB with its buffers); brotli 64 KiB window, quality
 * at most 3 (about 750 KiB); plus an output buffer as large as one write's
 * compressed bytes.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/util.h"
#include "http/compress.h"
#include "http/encoding.h"
#include "http/http_impl.h"

#if defined(RINGO_HAVE_ZLIB)
#include <zlib.h>
#endif
#if defined(RINGO_HAVE_LIBDEFLATE)
#include <libdeflate.h>
#endif
#if defined(RINGO_HAVE_ZSTD)
/* For ZSTD_getCParams() (a stream's limits); its struct has not changed since zstd 1.0. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#endif
#if defined(RINGO_HAVE_BROTLI)
#include <brotli/encode.h>
#endif

static const char *const names[RINGO__Z_N] = {"gzip", "zstd", "br"};
static const int level_max[RINGO__Z_N] = {9, 19, 11};
static const int level_default[RINGO__Z_N] = {1, 3, 4};

/* Whole bodies (one shot) and streams, per coding. */
static bool built(int coding, bool stream)
{
    switch (coding) {
#if defined(RINGO_HAVE_ZLIB)
    case RINGO__Z_GZIP: return true;
#elif defined(RINGO_HAVE_LIBDEFLATE)
    case RINGO__Z_GZIP: return !stream;
#endif
#if defined(RINGO_HAVE_ZSTD)
    case RINGO__Z_ZSTD: return true;
#endif
#if defined(RINGO_HAVE_BROTLI)
    case RINGO__Z_BR: return true;
#endif
    default: (void)stream; return false;
    }
}

static unsigned mask(bool stream)
{
    return (built(RINGO__Z_GZIP, stream) ? RINGO_CODING_GZIP : 0) |
           (built(RINGO__Z_ZSTD, stream) ? RINGO_CODING_ZSTD : 0) |
           (built(RINGO__Z_BR, stream) ? RINGO_CODING_BR : 0);
}

unsigned ringo_compress_codings(void) { return mask(false); }

unsigned ringo_compress_stream_codings(void) { return mask(true); }

/* ---- options ---- */

/* Compressible by default: text, and the structured formats sent as text. */
static const char *const default_types[] = {
    "text/*",
    "application/json",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/ld+json",
    "application/manifest+json",
    "application/problem+json",
    "application/geo+json",
    "application/graphql-response+json",
    "application/wasm",
    "image/svg+xml",
    "image/x-icon",
    "image/bmp",
    "font/ttf",
    "font/otf",
    "application/vnd.ms-fontobject",
};

static bool ows(char c) { return c == ' ' || c == '\t'; }

static int coding_id(const char *s, size_t n)
{
    for (int i = 0; i < RINGO__Z_N; i++)
        if (strlen(names[i]) == n && ringo__ascii_iequal(s, names[i], n))
            return i;
    return -1;
}

/* "zstd, br,gzip": every name known, none twice; those built in go to out->order. */
static int parse_codings(ringo__zopts *out, const char *s)
{
    bool seen[RINGO__Z_N] = {false};

    do {
        const char *e;
        int id;
        while (ows(*s))
            s++;
        for (e = s; *e && *e != ',' && !ows(*e); e++)
            ;
        id = coding_id(s, (size_t)(e - s)); /* an empty name is none */
        if (id < 0 || seen[id])
            return -EINVAL;
        seen[id] = true;
        if (built(id, false))
            out->order[out->n++] = (uint8_t)id;
        while (ows(*e))
            e++;
        if (*e && *e != ',')
            return -EINVAL; /* "gzip br" */
        s = *e ? e + 1 : e;
    } while (*s || s[-1] == ',');
    return out->n ? 0 : -ENOTSUP;
}

/* "type/subtype", or a whole type ("type/" and an asterisk); tokens. */
static bool media_type_valid(const char *t)
{
    const char *slash = strchr(t, '/');

    if (!slash || slash == t || !slash[1])
        return false;
    for (const char *p = t; p < slash; p++)
        if (!ringo__is_tchar((unsigned char)*p))
            return false;
    if (!strcmp(slash + 1, "*"))
        return true;
    for (const char *p = slash + 1; *p; p++)
        if (!ringo__is_tchar((unsigned char)*p))
            return false;
    return true;
}

static int parse_types(ringo__zopts *out, const char *const *types)
{
    unsigned n = 0;

    while (types[n])
        if (!media_type_valid(types[n++]))
            return -EINVAL;
    out->types = ringo__calloc(n ? n : 1, sizeof(char *));
    if (!out->types)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        char *c = ringo__strdup(types[i]);
        if (!c)
            return -ENOMEM;
        for (char *p = c; *p; p++)
            *p = (char)ringo__ascii_lower((unsigned char)*p);
        out->types[out->ntypes++] = c;
    }
    return 0;
}

static int parse_levels(ringo__zopts *out, const ringo_compress_opts *in)
{
    const int given[RINGO__Z_N] = {in->gzip_level, in->zstd_level, in->brotli_level};

    for (int i = 0; i < RINGO__Z_N; i++) {
        if (given[i] < 0 || given[i] > level_max[i])
            return -EINVAL;
        out->level[i] = given[i] ? given[i] : level_default[i];
    }
    return 0;
}

int ringo__zopts_parse(ringo__zopts *out, const ringo_compress_opts *in)
{
    static const ringo_compress_opts defaults;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!in)
        in = &defaults;
    if (!RINGO__RESERVED_ZERO(in->reserved) || (in->flags & ~RINGO_COMPRESS_406))
        return -EINVAL;
    ret = parse_levels(out, in);
    if (ret == 0)
        ret = parse_codings(out, in->codings ? in->codings : "zstd,br,gzip");
    if (ret == 0 && in->types)
        ret = parse_types(out, in->types);
    if (ret < 0) {
        ringo__zopts_free(out);
        return ret;
    }
    out->min_bytes = in->min_bytes ? in->min_bytes : 1024;
    out->pool_min_bytes = in->pool_min_bytes ? in->pool_min_bytes : RINGO__Z_DEFAULT_POOL_MIN;
    out->flags = in->flags;
    return 0;
}

void ringo__zopts_free(ringo__zopts *o)
{
    if (!o)
        return;
    for (unsigned i = 0; i < o->ntypes; i++)
        ringo__free(o->types[i]);
    ringo__free(o->types);
    o->types = NULL;
    o->ntypes = 0;
}

int ringo_app_compress(ringo_app *app, const ringo_compress_opts *opts)
{
    ringo__zopts *z;
    int ret;

    if (!app)
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    z = ringo__malloc(sizeof(*z));
    if (!z)
        return -ENOMEM;
    ret = ringo__zopts_parse(z, opts);
    if (ret < 0) {
        ringo__free(z);
        return ret;
    }
    ringo__compress_app_free(app);
    app->zopts = z;
    app->zall = true;
    return 0;
}

/* A route registered with RINGO_ROUTE_COMPRESS on an app without options: the defaults. */
int ringo__compress_route(ringo_app *app, uint32_t route_flags)
{
    ringo__zopts *z;
    int ret;

    if (!(route_flags & RINGO_ROUTE_COMPRESS) || app->zopts)
        return 0;
    z = ringo__malloc(sizeof(*z));
    if (!z)
        return -ENOMEM;
    ret = ringo__zopts_parse(z, NULL);
    if (ret < 0) {
        ringo__free(z);
        return ret == -ENOTSUP ? 0 : ret; /* nothing built in: sent as it is */
    }
    app->zopts = z;
    return 0;
}

void ringo__compress_app_free(ringo_app *app)
{
    ringo__zopts_free(app->zopts);
    ringo__free(app->zopts);
    app->zopts = NULL;
}

static ringo_app *app_of(const ringo_req *r)
{
    return ((ringo__sess *)ringo__conn_state(r->conn))->app;
}

const ringo__zopts *ringo__compress_of(const ringo_req *r)
{
    const ringo_app *app = app_of(r);
    uint32_t f = r->route ? r->route->opts.flags : 0;

    if (!r->route || !app->zopts || (f & RINGO_ROUTE_NO_COMPRESS))
        return NULL;
    return app->zall || (f & RINGO_ROUTE_COMPRESS) ? app->zopts : NULL;
}

/* ---- the decision ---- */

static ringo__hdr *resp_header(ringo_req *r, const char *name)
{
    size_t n = strlen(name);

    for (uint32_t i = 0; i < r->nrhdrs; i++)
        if (r->rhdrs[i].name.len == n && ringo__ascii_iequal(r->rhdrs[i].name.ptr, name, n))
            return &r->rhdrs[i];
    return NULL;
}

/* The media type of Content-Type ("text/html; charset=utf-8" -> "text/html") is listed. */
static bool type_listed(const ringo__zopts *o, ringo_str v)
{
    const char *const *list = o->types ? (const char *const *)o->types : default_types;
    unsigned n = o->types ? o->ntypes : sizeof(default_types) / sizeof(default_types[0]);
    size_t len = 0, slash;

    while (len < v.len && v.ptr[len] != ';' && !ows(v.ptr[len]))
        len++;
    for (slash = 0; slash < len && v.ptr[slash] != '/'; slash++)
        ;
    if (slash == len)
        return false;
    for (unsigned i = 0; i < n; i++) {
        size_t tl = strlen(list[i]);
        if (tl == slash + 2 && list[i][slash + 1] == '*' &&
            ringo__ascii_iequal(list[i], v.ptr, slash + 1))
            return true; /* a whole type */
        if (tl == len && ringo__ascii_iequal(list[i], v.ptr, len))
            return true;
    }
    return false;
}

/* Statuses whose body may be a compressed representation of the resource. */
static bool status_ok(int status)
{
    return status >= 200 && status != 204 && status != 206 && status != 304;
}

/* What the response may become, before looking at the client. */
static bool eligible(ringo_req *r, const ringo__zopts *o)
{
    ringo__hdr *ct;

    if (r->is_head || !status_ok(r->status) || resp_header(r, "content-encoding"))
        return false;
    ct = resp_header(r, "content-type");
    return ct && type_listed(o, ct->value);
}

/* Accept-Encoding, its field lines joined (RFC 9110 section 5.3); present false when absent. */
static ringo_str accept_encoding(ringo_req *r, bool *present)
{
    ringo_str v = {NULL, 0};
    size_t total = 0;
    unsigned count = 0;
    char *p;

    for (uint32_t i = 0; i < r->nhdrs; i++)
        if (r->hdrs[i].name.len == 15 &&
            ringo__ascii_iequal(r->hdrs[i].name.ptr, "accept-encoding", 15)) {
            v = r->hdrs[i].value;
            total += v.len + 1;
            count++;
        }
    *present = count > 0;
    if (count < 2)
        return v;
    p = ringo__arena_alloc(&r->arena, total);
    if (!p)
        return v; /* the last line alone */
    v.ptr = p;
    v.len = 0;
    for (uint32_t i = 0; i < r->nhdrs; i++)
        if (r->hdrs[i].name.len == 15 &&
            ringo__ascii_iequal(r->hdrs[i].name.ptr, "accept-encoding", 15)) {
            if (v.len)
                p[v.len++] = ',';
            memcpy(p + v.len, r->hdrs[i].value.ptr, r->hdrs[i].value.len);
            v.len += r->hdrs[i].value.len;
        }
    return v;
}

/* The coding to send (RINGO__Z_*), -1 for identity, -ENOENT when nothing is acceptable. */
static int negotiate(ringo_req *r, const ringo__zopts *o, bool stream)
{
    const char *offered[RINGO__Z_N];
    uint8_t ids[RINGO__Z_N] = {0};
    unsigned n = 0;
    bool present;
    ringo_str v = accept_encoding(r, &present);
    int ret;

    for (unsigned i = 0; i < o->n; i++)
        if (built(o->order[i], stream)) {
            ids[n] = o->order[i];
            offered[n++] = names[o->order[i]];
        }
    ret = ringo__accept_encoding(v, present, offered, n);
    return ret >= 0 ? ids[ret] : ret;
}

/* The token list value names accept-encoding, or is "*". */
static bool vary_covers(ringo_str v)
{
    const char *p = v.ptr, *end = v.ptr + v.len;

    while (p < end) {
        const char *s, *e;
        while (p < end && (ows(*p) || *p == ','))
            p++;
        s = p;
        while (p < end && *p != ',')
            p++;
        e = p;
        while (e > s && ows(e[-1]))
            e--;
        if ((e - s == 1 && *s == '*') ||
            (e - s == 15 && ringo__ascii_iequal(s, "accept-encoding", 15)))
            return true;
    }
    return false;
}

static int add_vary(ringo_req *r)
{
    for (uint32_t i = 0; i < r->nrhdrs; i++)
        if (r->rhdrs[i].name.len == 4 && ringo__ascii_iequal(r->rhdrs[i].name.ptr, "vary", 4) &&
            vary_covers(r->rhdrs[i].value))
            return 0;
    return ringo_resp_add_header(r, "Vary", RINGO_STR_LIT("Accept-Encoding"));
}

/* A strong validator of the identity bytes is no validator of the compressed ones. */
static int weaken_etag(ringo_req *r)
{
    ringo__hdr *h = resp_header(r, "etag");
    char *v;

    if (!h || h->value.len < 2 || h->value.ptr[0] != '"')
        return 0;
    v = ringo__arena_alloc(&r->arena, h->value.len + 3);
    if (!v)
        return -ENOMEM;
    memcpy(v, "W/", 2);
    memcpy(v + 2, h->value.ptr, h->value.len);
    v[h->value.len + 2] = '\0';
    h->value = (ringo_str){v, h->value.len + 2};
    return 0;
}

/* Content-Encoding, Vary and a weak ETag for a response sent with coding. */
static int mark_encoded(ringo_req *r, int coding)
{
    int ret = add_vary(r);

    if (ret == 0)
        ret = weaken_etag(r);
    /* Last: a response that failed before it is still a valid identity one. */
    return ret == 0 ? ringo_resp_add_header(r, "Content-Encoding", ringo_str_c(names[coding]))
                    : ret;
}

/* RINGO_COMPRESS_406: the client refused every representation the server has. */
static void not_acceptable(ringo_req *r)
{
    r->status = 406;
    r->rbody = NULL;
    r->rbody_len = 0;
    r->nrhdrs = 0;
    add_vary(r);
}

/*
 * Decides for a buffered response: the coding, -1 (identity, Vary added)
 * or -2 (untouched: not eligible, or answered 406).
 */
static int decide(ringo_req *r, const ringo__zopts **out)
{
    const ringo__zopts *o = ringo__compress_of(r);
    int coding;

    if (!o || r->stream || r->file || atomic_load_explicit(&r->gone, memory_order_relaxed) ||
        r->rbody_len < o->min_bytes || !eligible(r, o))
        return -2;
    coding = negotiate(r, o, false);
    if (coding == -ENOENT && (o->flags & RINGO_COMPRESS_406)) {
        not_acceptable(r);
        return -2;
    }
    if (coding < 0) {
        add_vary(r);
        return -1;
    }
    *out = o;
    return coding;
}

/* ---- whole bodies ---- */

/*
 * Each thread that compresses whole bodies (rings, pool workers) keeps its
 * last gzip and zstd compressor: creating one costs about 10 us, as much as
 * compressing 4 KiB. At most one of each per thread, freed when the thread
 * exits; a zstd context that grew past ZSTD_KEEP_MAX for a large body is
 * freed after it instead of kept.
 */
#if defined(RINGO_HAVE_LIBDEFLATE) || defined(RINGO_HAVE_ZSTD)
typedef struct zcache {
#if defined(RINGO_HAVE_LIBDEFLATE)
    struct libdeflate_compressor *deflate;
    int deflate_level;
#endif
#if defined(RINGO_HAVE_ZSTD)
    ZSTD_CCtx *zstd;
#endif
    int unused;
} zcache;

static pthread_key_t zcache_key;
static pthread_once_t zcache_once = PTHREAD_ONCE_INIT;
static bool zcache_ok;

static void zcache_free(void *p)
{
    zcache *c = p;

#if defined(RINGO_HAVE_LIBDEFLATE)
    libdeflate_free_compressor(c->deflate);
#endif
#if defined(RINGO_HAVE_ZSTD)
    ZSTD_freeCCtx(c->zstd);
#endif
    ringo__free(c);
}

static void zcache_init(void) { zcache_ok = pthread_key_create(&zcache_key, zcache_free) == 0; }

/* This thread's cache, or NULL (then each call creates and frees its own state). */
static zcache *zcache_get(void)
{
    zcache *c;

    pthread_once(&zcache_once, zcache_init);
    if (!zcache_ok)
        return NULL;
    c = pthread_getspecific(zcache_key);
    if (c)
        return c;
    c = ringo__calloc(1, sizeof(*c));
    if (c && pthread_setspecific(zcache_key, c) != 0) {
        ringo__free(c);
        c = NULL;
    }
    return c;
}
#endif

/* Each returns the compressed length in out (room: cap), or 0 on failure. */
#if defined(RINGO_HAVE_LIBDEFLATE)
static size_t gzip_bound(size_t n) { return libdeflate_gzip_compress_bound(NULL, n); }

static size_t gzip_once(const void *in, size_t n, char *out, size_t cap, int level)
{
    zcache *k = zcache_get();
    struct libdeflate_compressor *c = k && k->deflate_level == level ? k->deflate : NULL;
    size_t len;

    if (!c && !(c = libdeflate_alloc_compressor(level)))
        return 0;
    len = libdeflate_gzip_compress(c, in, n, out, cap);
    if (k && k->deflate != c) {
        libdeflate_free_compressor(k->deflate);
        k->deflate = c;
        k->deflate_level = level;
    } else if (!k) {
        libdeflate_free_compressor(c);
    }
    return len;
}
#elif defined(RINGO_HAVE_ZLIB)
/* compressBound() is for the zlib wrapper (6 bytes); gzip's is 18. */
static size_t gzip_bound(size_t n) { return compressBound((uLong)n) + 12; }

static size_t gzip_once(const void *in, size_t n, char *out, size_t cap, int level)
{
    z_stream zs;
    size_t len;

    if (n > UINT_MAX / 2 || cap > UINT_MAX)
        return 0;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    len = deflate(&zs, Z_FINISH) == Z_STREAM_END ? zs.total_out : 0;
    deflateEnd(&zs);
    return len;
}
#endif

#if defined(RINGO_HAVE_ZSTD)
/* RFC 9659: a zstd-encoded HTTP body needs a window of at most 8 MiB to decode. */
#define ZSTD_HTTP_WLOG 23

/* A cached zstd context larger than this (after a large body) is not kept. */
#define ZSTD_KEEP_MAX (2u << 20)

static size_t zstd_once(const void *in, size_t n, char *out, size_t cap, int level)
{
    zcache *k = zcache_get();
    ZSTD_CCtx *c = k && k->zstd ? k->zstd : ZSTD_createCCtx();
    size_t len = 0;

    if (!c)
        return 0;
    ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
    if (!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)) &&
        !ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, ZSTD_HTTP_WLOG)) &&
        !ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)))
        len = ZSTD_compress2(c, out, cap, in, n);
    if (k && ZSTD_sizeof_CCtx(c) <= ZSTD_KEEP_MAX) {
        k->zstd = c;
    } else {
        if (k)
            k->zstd = NULL;
        ZSTD_freeCCtx(c);
    }
    return ZSTD_isError(len) ? 0 : len;
}
#endif

#if defined(RINGO_HAVE_BROTLI)
static size_t br_once(const void *in, size_t n, char *out, size_t cap, int level)
{
    size_t len = cap;
    int lgwin = 10;

    /* The smallest window that holds the body: less memory for both sides. */
    while (lgwin < BROTLI_DEFAULT_WINDOW && ((size_t)1 << lgwin) - 16 < n)
        lgwin++;
    if (!BrotliEncoderCompress(level, lgwin, BROTLI_MODE_TEXT, n, in, &len, (uint8_t *)out))
        return 0;
    return len;
}
#endif

static size_t bound(int coding, size_t n)
{
    switch (coding) {
#if defined(RINGO_HAVE_LIBDEFLATE) || defined(RINGO_HAVE_ZLIB)
    case RINGO__Z_GZIP: return gzip_bound(n);
#endif
#if defined(RINGO_HAVE_ZSTD)
    case RINGO__Z_ZSTD: return ZSTD_compressBound(n);
#endif
#if defined(RINGO_HAVE_BROTLI)
    case RINGO__Z_BR: return BrotliEncoderMaxCompressedSize(n);
#endif
    default: (void)n; return 0;
    }
}

static size_t compress_once(int coding, const void *in, size_t n, char *out, size_t cap, int level)
{
    switch (coding) {
#if defined(RINGO_HAVE_LIBDEFLATE) || defined(RINGO_HAVE_ZLIB)
    case RINGO__Z_GZIP: return gzip_once(in, n, out, cap, level);
#endif
#if defined(RINGO_HAVE_ZSTD)
    case RINGO__Z_ZSTD: return zstd_once(in, n, out, cap, level);
#endif
#if defined(RINGO_HAVE_BROTLI)
    case RINGO__Z_BR: return br_once(in, n, out, cap, level);
#endif
    default: (void)in, (void)n, (void)out, (void)cap, (void)level; return 0;
    }
}

size_t ringo__compress_bound(int coding, size_t n) { return bound(coding, n); }

size_t ringo__compress_buf(int coding, int level, const void *in, size_t n, char *out, size_t cap)
{
    return compress_once(coding, in, n, out, cap, level);
}

void ringo__compress_resp(ringo_req *r)
{
    const ringo__zopts *o = NULL;
    int coding = decide(r, &o);
    size_t cap, len;
    char *out;

    if (coding < 0)
        return;
    cap = bound(coding, r->rbody_len);
    out = cap ? ringo__arena_alloc(&r->arena, cap) : NULL;
    len = out ? compress_once(coding, r->rbody, r->rbody_len, out, cap, o->level[coding]) : 0;
    /* Sent as it is when it fails (out of memory): Vary still says it could differ. */
    if (!len || mark_encoded(r, coding) < 0) {
        add_vary(r);
        return;
    }
    r->rbody = out;
    r->rbody_len = len;
}

/*
 * CPU per byte of each coding and level, relative to gzip level 1 and
 * rounded up to a power of two (micro_compress_bench on text, see
 * docs/operations.md): pool_min_bytes is gzip level 1's threshold, and a
 * coding that costs k times as much goes to the pool at 1/k of the size.
 */
static unsigned cost(int coding, int level)
{
    static const uint16_t gzip[10] = {1, 1, 1, 2, 2, 4, 4, 8, 16, 16};
    static const uint16_t zstd[20] = {1, 1, 1, 1,  1,  4,  4,   4,   8,   8,
                                      8, 8, 8, 32, 32, 32, 256, 256, 256, 256};
    static const uint16_t br[12] = {1, 1, 1, 4, 4, 16, 16, 32, 32, 32, 1024, 1024};

    switch (coding) {
    case RINGO__Z_GZIP: return gzip[level];
    case RINGO__Z_ZSTD: return zstd[level];
    default: return br[level];
    }
}

bool ringo__compress_offload(ringo_req *r)
{
    const ringo__zopts *o = ringo__compress_of(r);
    int coding;

    if (!o || r->stream || r->file || r->rbody_len < o->min_bytes || !eligible(r, o))
        return false;
    coding = negotiate(r, o, false);
    return coding >= 0 && r->rbody_len >= o->pool_min_bytes / cost(coding, o->level[coding]);
}

/* ---- streams ---- */

struct ringo__zc {
    int coding;
    bool finished; /* the coding's end was written: later calls add nothing */
    char *buf;     /* the last write's output */
    size_t cap;
#if defined(RINGO_HAVE_ZLIB)
    z_stream zs;
#endif
#if defined(RINGO_HAVE_ZSTD)
    ZSTD_CCtx *zstd;
#endif
#if defined(RINGO_HAVE_BROTLI)
    BrotliEncoderState *br;
#endif
};

static int zc_init(ringo__zc *z, int level)
{
    switch (z->coding) {
#if defined(RINGO_HAVE_ZLIB)
    case RINGO__Z_GZIP:
        return deflateInit2(&z->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK
                   ? 0
                   : -ENOMEM;
#endif
#if defined(RINGO_HAVE_ZSTD)
    case RINGO__Z_ZSTD: {
        ZSTD_compressionParameters cp = ZSTD_getCParams(level, 0, 0);
        z->zstd = ZSTD_createCCtx();
        if (!z->zstd ||
            ZSTD_isError(ZSTD_CCtx_setParameter(z->zstd, ZSTD_c_compressionLevel, level)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(
                z->zstd, ZSTD_c_windowLog,
                cp.windowLog < RINGO__Z_STREAM_WLOG ? (int)cp.windowLog : RINGO__Z_STREAM_WLOG)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(z->zstd, ZSTD_c_hashLog,
                                                cp.hashLog < RINGO__Z_STREAM_ZSTD_TABLES
                                                    ? (int)cp.hashLog
                                                    : RINGO__Z_STREAM_ZSTD_TABLES)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(z->zstd, ZSTD_c_chainLog,
                                                cp.chainLog < RINGO__Z_STREAM_ZSTD_TABLES
                                                    ? (int)cp.chainLog
                                                    : RINGO__Z_STREAM_ZSTD_TABLES)))
            return -ENOMEM;
        return 0;
    }
#endif
#if defined(RINGO_HAVE_BROTLI)
    case RINGO__Z_BR:
        z->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        if (level > RINGO__Z_STREAM_BR_MAX)
            level = RINGO__Z_STREAM_BR_MAX;
        if (!z->br || !BrotliEncoderSetParameter(z->br, BROTLI_PARAM_QUALITY, (uint32_t)level) ||
            !BrotliEncoderSetParameter(z->br, BROTLI_PARAM_LGWIN, RINGO__Z_STREAM_WLOG))
            return -ENOMEM;
        return 0;
#endif
    default: (void)level; return -ENOTSUP;
    }
}

void ringo__zc_free(ringo__zc *z)
{
    if (!z)
        return;
#if defined(RINGO_HAVE_ZLIB)
    if (z->coding == RINGO__Z_GZIP)
        deflateEnd(&z->zs);
#endif
#if defined(RINGO_HAVE_ZSTD)
    ZSTD_freeCCtx(z->zstd);
#endif
#if defined(RINGO_HAVE_BROTLI)
    if (z->br)
        BrotliEncoderDestroyInstance(z->br);
#endif
    ringo__free(z->buf);
    ringo__free(z);
}

#if defined(RINGO_HAVE_ZLIB) || defined(RINGO_HAVE_ZSTD) || defined(RINGO_HAVE_BROTLI)
/* Room for at least want more bytes after used. */
static int zc_room(ringo__zc *z, size_t used, size_t want)
{
    size_t cap = z->cap ? z->cap : 4096;
    char *b;

    while (cap - used < want)
        cap *= 2;
    if (cap == z->cap)
        return 0;
    b = ringo__realloc(z->buf, cap);
    if (!b)
        return -ENOMEM;
    z->buf = b;
    z->cap = cap;
    return 0;
}
#endif

#if defined(RINGO_HAVE_ZLIB)
static int gzip_step(ringo__zc *z, const void *in, size_t n, bool end, size_t *len)
{
    int ret;

    z->zs.next_in = (Bytef *)(uintptr_t)in;
    z->zs.avail_in = (uInt)n;
    do {
        if (zc_room(z, *len, 4096) < 0)
            return -ENOMEM;
        z->zs.next_out = (Bytef *)z->buf + *len;
        z->zs.avail_out = (uInt)(z->cap - *len > UINT_MAX ? UINT_MAX : z->cap - *len);
        ret = deflate(&z->zs, end ? Z_FINISH : Z_SYNC_FLUSH);
        *len = (size_t)((char *)z->zs.next_out - z->buf);
        if (ret == Z_STREAM_ERROR)
            return -ENOMEM;
        /* Done when the input is in and deflate did not fill the output (it may have more). */
    } while (end ? ret != Z_STREAM_END : z->zs.avail_out == 0 || z->zs.avail_in);
    return 0;
}
#endif

#if defined(RINGO_HAVE_ZSTD)
static int zstd_step(ringo__zc *z, const void *in, size_t n, bool end, size_t *len)
{
    ZSTD_inBuffer ib = {in, n, 0};
    size_t left;

    do {
        ZSTD_outBuffer ob;
        if (zc_room(z, *len, ZSTD_CStreamOutSize()) < 0)
            return -ENOMEM;
        ob = (ZSTD_outBuffer){z->buf, z->cap, *len};
        left = ZSTD_compressStream2(z->zstd, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_flush);
        if (ZSTD_isError(left))
            return -ENOMEM;
        *len = ob.pos;
    } while (left);
    return 0;
}
#endif

#if defined(RINGO_HAVE_BROTLI)
static int br_step(ringo__zc *z, const void *in, size_t n, bool end, size_t *len)
{
    const uint8_t *next_in = in;
    size_t avail_in = n;

    do {
        uint8_t *next_out;
        size_t avail_out;
        if (zc_room(z, *len, 4096) < 0)
            return -ENOMEM;
        next_out = (uint8_t *)z->buf + *len;
        avail_out = z->cap - *len;
        if (!BrotliEncoderCompressStream(z->br,
                                         end ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH,
                                         &avail_in, &next_in, &avail_out, &next_out, NULL))
            return -ENOMEM;
        *len = (size_t)((char *)next_out - z->buf);
    } while (avail_in || BrotliEncoderHasMoreOutput(z->br) ||
             (end && !BrotliEncoderIsFinished(z->br)));
    return 0;
}
#endif

int ringo__zc_new(ringo__zc **out, int coding, int level)
{
    ringo__zc *z = ringo__calloc(1, sizeof(*z));
    int ret;

    *out = NULL;
    if (!z)
        return -ENOMEM;
    z->coding = coding;
    ret = zc_init(z, level);
    if (ret < 0) {
        ringo__zc_free(z);
        return ret;
    }
    *out = z;
    return 0;
}

int ringo__zc_write(ringo__zc *z, const void *in, size_t n, bool end, const char **out,
                    size_t *outn)
{
    size_t len = 0;
    int ret = 0;

    *out = z->buf;
    *outn = 0;
    if (z->finished)
        return n ? -EINVAL : 0;
    /* zlib counts in uInt: feed it pieces. */
    do {
        size_t piece = n > (1u << 30) ? (1u << 30) : n;
        bool fin = end && piece == n;
        switch (z->coding) {
#if defined(RINGO_HAVE_ZLIB)
        case RINGO__Z_GZIP: ret = gzip_step(z, in, piece, fin, &len); break;
#endif
#if defined(RINGO_HAVE_ZSTD)
        case RINGO__Z_ZSTD: ret = zstd_step(z, in, piece, fin, &len); break;
#endif
#if defined(RINGO_HAVE_BROTLI)
        case RINGO__Z_BR: ret = br_step(z, in, piece, fin, &len); break;
#endif
        default:
            (void)fin;
            ret = -ENOTSUP;
            break;
        }
        in = (const char *)in + piece;
        n -= piece;
    } while (ret == 0 && n);
    z->finished = ret == 0 && end;
    *out = z->buf;
    *outn = len;
    return ret;
}

int ringo__compress_stream(ringo_req *r, ringo__zc **out)
{
    const ringo__zopts *o = ringo__compress_of(r);
    ringo__zc *z;
    int coding;

    *out = NULL;
    /* A file body goes out as it is (it may be spliced past any coder): not compressed. */
    if (!o || r->file || !eligible(r, o))
        return 0;
    coding = negotiate(r, o, true);
    if (coding < 0)
        return add_vary(r) < 0 ? -ENOMEM : 0;
    if (ringo__zc_new(&z, coding, o->level[coding]) < 0)
        return -ENOMEM;
    if (mark_encoded(r, coding) < 0) {
        ringo__zc_free(z);
        return -ENOMEM;
    }
    *out = z;
    return 1;
}
