/*
 * http/static.c - ringo_static(): a directory tree under a URL prefix.
 *
 * A request goes: the path from the router (percent-decoded) is checked
 * segment by segment (resolve), opened beneath the mount's root with
 * IORING_OP_OPENAT2 and described with statx through the ring (open_file);
 * a directory becomes its index, its listing or a 404; a precompressed
 * variant may replace the file (pick_variant); the validators are sent, the
 * preconditions and the Range header evaluated (answer), and the bytes come
 * from the ring's cache, from ringo_resp_file(), or for several ranges from
 * a multipart/byteranges stream (send_multipart).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "core/alloc.h"
#include "core/util.h"
#include "http/app_impl.h"
#include "http/cond.h"
#include "http/encoding.h"
#include "http/mime.h"
#include "http/range.h"
#include "http/static_cache.h"
#include "http/static_impl.h"

#define DEFAULT_CACHE_MAX_FILE 65536u
#define DEFAULT_MAX_RANGES 16u
#define LISTING_MAX 10000u /* entries of a directory listing; the rest is left out */
#define MULTIPART_CHUNK 16384u

struct ringo__static_mount {
    struct ringo__static_mount *next;
    char *prefix;
    int root; /* O_PATH descriptor of the root directory */
    char *index, *cache_control, *default_type;
    ringo_static_type *types; /* copied, ended by {NULL} */
    uint64_t cache_bytes;
    uint32_t cache_max_file, cache_valid_ms, max_ranges, flags;
    unsigned nrings;
    ringo__scache **caches; /* [ring]: each touched only by its ring thread */
};

/* Precompressed variants, in the server's order of preference. */
static const char *const enc_names[] = {"br", "zstd", "gzip"};
static const char *const enc_suffix[] = {".br", ".zst", ".gz"};
#define NENC 3

/* The file chosen to answer with. */
struct file {
    int fd;         /* -1 when the bytes come from the cache */
    char *rel;      /* path beneath the root, NUL-terminated (arena) */
    ringo_str name; /* the requested file's path: its extension gives the type */
    ringo__smeta meta;
    int enc;            /* index in enc_names, -1: identity */
    const char *cached; /* meta.size bytes when from the cache (copied into the arena) */
};

/* ---- time ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- path checks ---- */

/*
 * Checks the decoded path beneath the prefix and copies it into the arena
 * without empty segments ("" for the root). Refused: a NUL, a leading '/'
 * (absolute), "." and ".." segments, and hidden names unless allowed.
 * Returns 0, or -ENOENT (refused) or -ENOMEM.
 */
static int resolve(ringo_req *req, const struct ringo__static_mount *m, ringo_str in, char **out)
{
    char *d = ringo_req_alloc(req, in.len + 1);
    size_t n = 0, i = 0;

    if (!d)
        return -ENOMEM;
    if (memchr(in.ptr, '\0', in.len) || (in.len && in.ptr[0] == '/'))
        return -ENOENT;
    while (i < in.len) {
        size_t s = i;
        while (i < in.len && in.ptr[i] != '/')
            i++;
        if (i > s) {
            ringo_str seg = {in.ptr + s, i - s};
            bool dots = seg.len == 1 || (seg.len == 2 && seg.ptr[1] == '.');
            if (seg.ptr[0] == '.' && (dots || !(m->flags & RINGO_STATIC_HIDDEN)))
                return -ENOENT;
            if (n)
                d[n++] = '/';
            memcpy(d + n, seg.ptr, seg.len);
            n += seg.len;
        }
        i++;
    }
    d[n] = '\0';
    *out = d;
    return 0;
}

/* An encoded '/' or NUL in the raw path: a name no file can have here. */
static bool raw_refused(ringo_str raw)
{
    for (size_t i = 0; i + 2 < raw.len; i++)
        if (raw.ptr[i] == '%' && ((raw.ptr[i + 1] == '2' && (raw.ptr[i + 2] | 0x20) == 'f') ||
                                  (raw.ptr[i + 1] == '0' && raw.ptr[i + 2] == '0')))
            return true;
    return false;
}

/* ---- opening through the ring ---- */

struct open_arg {
    int dirfd;
    const char *path;
    struct open_how how;
};

static void prep_openat2(struct io_uring_sqe *sqe, void *arg)
{
    struct open_arg *a = arg;

    io_uring_prep_openat2(sqe, a->dirfd, a->path, &a->how);
}

/*
 * Opens path beneath dirfd: never above it, never through /proc magic
 * links, through no symbolic link at all unless the mount allows them.
 * O_NONBLOCK so that a FIFO in the tree cannot hold the open; it is taken
 * off again before a file is read (io_uring answers -EAGAIN instead of
 * waiting for the disk on O_NONBLOCK files).
 */
static int open_beneath(const struct ringo__static_mount *m, int dirfd, const char *path)
{
    struct open_arg a = {dirfd, path[0] ? path : ".", {0}};

    a.how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    a.how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    if (!(m->flags & RINGO_STATIC_SYMLINKS))
        a.how.resolve |= RESOLVE_NO_SYMLINKS;
    return ringo_await_sqe(prep_openat2, &a);
}

/* statx of fd into *meta; returns S_IFREG, S_IFDIR, 0 (anything else) or -errno. */
static int describe(int fd, ringo__smeta *meta)
{
    struct statx st;
    int ret = ringo_await_statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE | STATX_MTIME, &st);

    if (ret < 0)
        return ret;
    meta->size = st.stx_size;
    meta->mtime = st.stx_mtime.tv_sec;
    meta->mtime_ns = st.stx_mtime.tv_nsec;
    if (S_ISREG(st.stx_mode) || S_ISDIR(st.stx_mode))
        return (int)(st.stx_mode & S_IFMT);
    return 0;
}

/* Closing a file descriptor does not block: no ring round trip for it. */
static void close_fd(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* An open or statx error as an answer: refusals and absence are 404. */
static int fail_errno(ringo_req *req, int err)
{
    switch (err) {
    case -ECANCELED: return err;
    case -EMFILE:
    case -ENFILE:
    case -ENOMEM:
        ringo_resp_add_header(req, "Retry-After", RINGO_STR_LIT("1"));
        return ringo_fail(req, 503, NULL);
    case -EIO: return err;
    default: return ringo_fail(req, 404, NULL);
    }
}

/* ---- the cache ---- */

static ringo__scache *cache_of(const struct ringo__static_mount *m, ringo_req *req)
{
    unsigned ring = ringo_req_ring(req);

    if (!m->cache_bytes || ring >= m->nrings)
        return NULL;
    if (!m->caches[ring])
        m->caches[ring] = ringo__scache_new(m->cache_bytes);
    return m->caches[ring];
}

/* Serves from the cache when it holds this very version of the file. */
static bool cache_hit(const struct ringo__static_mount *m, ringo_req *req, struct file *f)
{
    ringo__scache *c = cache_of(m, req);
    const ringo__sentry *e;
    char *copy;

    if (!c || f->meta.size > m->cache_max_file)
        return false;
    e = ringo__scache_get(c, ringo_str_c(f->rel), &f->meta, now_ms());
    if (!e || !(copy = ringo_req_alloc(req, f->meta.size + 1)))
        return false;
    memcpy(copy, e->data, f->meta.size);
    f->cached = copy;
    return true;
}

/*
 * Reads a small file whole and keeps it. Not a file modified in the last
 * two seconds: a write within the same timestamp tick would leave size and
 * mtime unchanged and the cache stale.
 */
static void cache_fill(const struct ringo__static_mount *m, ringo_req *req, struct file *f)
{
    ringo__scache *c = cache_of(m, req);
    char *buf;
    ssize_t n;

    if (!c || f->meta.size > m->cache_max_file || f->cached || time(NULL) - f->meta.mtime < 2)
        return;
    buf = ringo_req_alloc(req, f->meta.size + 1);
    if (!buf)
        return;
    n = ringo_await_read(f->fd, buf, f->meta.size, 0);
    if (n != (ssize_t)f->meta.size)
        return;
    c = cache_of(m, req); /* the same: a ring's cache lives as long as the mount */
    if (ringo__scache_put(c, ringo_str_c(f->rel), &f->meta, buf, now_ms()) == 0) {
        f->cached = buf;
        close_fd(f->fd);
        f->fd = -1;
    }
}

/* cache_valid_ms: a recently checked entry answers without touching the file system. */
static bool cache_fresh(const struct ringo__static_mount *m, ringo_req *req, struct file *f)
{
    ringo__scache *c = m->cache_valid_ms ? cache_of(m, req) : NULL;
    const ringo__sentry *e = c ? ringo__scache_get(c, ringo_str_c(f->rel), NULL, 0) : NULL;
    char *copy;

    if (!e || now_ms() - e->checked_ms >= m->cache_valid_ms)
        return false;
    copy = ringo_req_alloc(req, e->meta.size + 1);
    if (!copy)
        return false;
    memcpy(copy, e->data, e->meta.size);
    f->meta = e->meta;
    f->cached = copy;
    f->fd = -1;
    return true;
}

/* ---- validators and types ---- */

static const char *type_of(const struct ringo__static_mount *m, ringo_str name)
{
    ringo_str ext = ringo__mime_ext(name);
    const char *t;

    for (const ringo_static_type *e = m->types; e && e->ext && ext.len; e++)
        if (strlen(e->ext) == ext.len && ringo__ascii_iequal(e->ext, ext.ptr, ext.len))
            return e->type;
    t = ringo__mime_type(name);
    return t ? t : m->default_type;
}

/* Strong: size and modification time to the nanosecond; a variant adds its coding. */
static ringo_str etag_of(ringo_req *req, const struct file *f)
{
    char *s = ringo_req_alloc(req, 64);
    int n;

    if (!s)
        return (ringo_str){"", 0};
    n = snprintf(s, 64, "\"%" PRIx64 "-%" PRIx64 "%08" PRIx32 "%s%s\"", f->meta.size,
                 (uint64_t)f->meta.mtime, f->meta.mtime_ns, f->enc >= 0 ? "-" : "",
                 f->enc >= 0 ? enc_suffix[f->enc] + 1 : "");
    return (ringo_str){s, (size_t)n};
}

static int add(ringo_req *req, const char *name, const char *value)
{
    return ringo_resp_add_header(req, name, ringo_str_c(value));
}

/* The headers of 200, 206 and 304 alike (RFC 9110 section 15.4.5 for 304). */
static int validators(const struct ringo__static_mount *m, ringo_req *req, const struct file *f,
                      ringo_str etag)
{
    char date[RINGO__HTTP_DATE_LEN + 1];
    int ret;

    ringo__http_date_format(f->meta.mtime, date);
    ret = ringo_resp_add_header(req, "ETag", etag);
    if (ret == 0)
        ret = add(req, "Last-Modified", date);
    if (ret == 0 && m->cache_control)
        ret = add(req, "Cache-Control", m->cache_control);
    if (ret == 0 && (m->flags & RINGO_STATIC_PRECOMPRESSED))
        ret = add(req, "Vary", "Accept-Encoding");
    return ret;
}

static int representation(const struct ringo__static_mount *m, ringo_req *req, const struct file *f)
{
    int ret = add(req, "Content-Type", type_of(m, f->name));

    if (ret == 0)
        ret = add(req, "Accept-Ranges", "bytes");
    if (ret == 0 && f->enc >= 0)
        ret = add(req, "Content-Encoding", enc_names[f->enc]);
    if (ret == 0 && (m->flags & RINGO_STATIC_NOSNIFF))
        ret = add(req, "X-Content-Type-Options", "nosniff");
    return ret;
}

/* ---- precompressed variants ---- */

/*
 * Replaces f by the variant the client prefers among those that exist,
 * trying the next preferred when one is missing. Without an acceptable
 * variant f stays the identity file.
 */
static int pick_variant(const struct ringo__static_mount *m, ringo_req *req, struct file *f)
{
    const char *offered[NENC];
    int map[NENC];
    unsigned n = NENC;
    ringo_str ae;
    bool has = ringo_req_header(req, "Accept-Encoding", &ae) == 0;

    for (unsigned i = 0; i < NENC; i++) {
        offered[i] = enc_names[i];
        map[i] = (int)i;
    }
    while (n) {
        int k = ringo__accept_encoding(has ? ae : (ringo_str){"", 0}, has, offered, n);
        size_t len = strlen(f->rel);
        ringo__smeta meta;
        char *path;
        int fd, type;

        if (k < 0)
            return 0;
        path = ringo_req_alloc(req, len + 5);
        if (!path)
            return -ENOMEM;
        memcpy(path, f->rel, len);
        strcpy(path + len, enc_suffix[map[k]]);
        fd = open_beneath(m, m->root, path);
        type = fd >= 0 ? describe(fd, &meta) : fd;
        if (type == S_IFREG) {
            close_fd(f->fd);
            *f = (struct file){fd, path, f->name, meta, map[k], NULL};
            return 0;
        }
        close_fd(fd);
        if (type == -ECANCELED)
            return type;
        for (unsigned i = (unsigned)k; i + 1 < n; i++) {
            offered[i] = offered[i + 1];
            map[i] = map[i + 1];
        }
        n--;
    }
    return 0;
}

/* ---- preconditions and ranges ---- */

/* Every field line called name, joined with ", " (a list header may be split). */
static bool header_all(ringo_req *req, const char *name, ringo_str *out)
{
    unsigned count = ringo_req_header_count(req), found = 0;
    size_t nlen = strlen(name), total = 0;
    ringo_str k, v;
    char *p;

    for (unsigned i = 0; i < count; i++)
        if (ringo_req_header_at(req, i, &k, &v) == 0 && k.len == nlen &&
            ringo__ascii_iequal(k.ptr, name, nlen)) {
            if (found++ == 0)
                *out = v;
            total += v.len + 2;
        }
    if (found < 2)
        return found == 1;
    if (!(p = ringo_req_alloc(req, total)))
        return true; /* the first line alone */
    out->ptr = p;
    out->len = 0;
    for (unsigned i = 0; i < count; i++)
        if (ringo_req_header_at(req, i, &k, &v) == 0 && k.len == nlen &&
            ringo__ascii_iequal(k.ptr, name, nlen)) {
            if (out->len) {
                memcpy(p + out->len, ", ", 2);
                out->len += 2;
            }
            memcpy(p + out->len, v.ptr, v.len);
            out->len += v.len;
        }
    return true;
}

static int preconditions(ringo_req *req, const struct file *f, ringo_str etag, bool get_or_head)
{
    ringo__cond c = {.get_or_head = get_or_head, .etag = etag, .mtime = f->meta.mtime};

    c.has_if_match = header_all(req, "If-Match", &c.if_match);
    c.has_if_none_match = header_all(req, "If-None-Match", &c.if_none_match);
    c.has_ims = ringo_req_header(req, "If-Modified-Since", &c.if_modified_since) == 0;
    c.has_ius = ringo_req_header(req, "If-Unmodified-Since", &c.if_unmodified_since) == 0;
    return ringo__cond_eval(&c);
}

/*
 * The ranges that apply to a GET: 0 for the whole file (no Range, a
 * malformed or abusive one, a failed If-Range), their count, or -ERANGE.
 */
static int ranges_of(const struct ringo__static_mount *m, ringo_req *req, const struct file *f,
                     ringo_str etag, ringo__range *out)
{
    ringo_str range, ifr;

    if (ringo_req_header(req, "Range", &range) < 0)
        return 0;
    if (ringo_req_header(req, "If-Range", &ifr) == 0 && !ringo__if_range(ifr, etag, f->meta.mtime))
        return 0;
    return ringo__range_parse(range, f->meta.size, out, m->max_ranges);
}

/* ---- bodies ---- */

/* The bytes [off, off + len) of f as the body. The descriptor goes to the response. */
static int body(ringo_req *req, struct file *f, uint64_t off, uint64_t len)
{
    int fd = f->fd;

    if (f->cached)
        return ringo_resp_set_body_ref(req, f->cached + off, (size_t)len);
    f->fd = -1;
    return ringo_resp_file(req, fd, off, len, RINGO_FILE_CLOSE);
}

/* "\r\n--B\r\nContent-Type: T\r\nContent-Range: bytes a-b/n\r\n\r\n" ("--B" first). */
static char *part_head(ringo_req *req, const char *boundary, const char *type,
                       const ringo__range *r, uint64_t size, bool first, size_t *len)
{
    size_t cap = strlen(boundary) + strlen(type) + 128;
    char *p = ringo_req_alloc(req, cap);
    int n;

    if (!p)
        return NULL;
    n = snprintf(p, cap,
                 "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64
                 "/%" PRIu64 "\r\n\r\n",
                 first ? "" : "\r\n", boundary, type, r->first, r->last, size);
    *len = (size_t)n;
    return p;
}

static int write_range(ringo_req *req, const struct file *f, const ringo__range *r, char *buf)
{
    uint64_t off = r->first, left = r->last - r->first + 1;
    int ret = 0;

    if (f->cached)
        return ringo_stream_write(req, f->cached + off, (size_t)left);
    while (ret == 0 && left) {
        size_t want = left < MULTIPART_CHUNK ? (size_t)left : MULTIPART_CHUNK;
        ssize_t n = ringo_await_read(f->fd, buf, want, (int64_t)off);
        if (n <= 0)
            return n < 0 ? (int)n : -EIO; /* shrunk: the stream's end cuts the response */
        ret = ringo_stream_write(req, buf, (size_t)n);
        off += (uint64_t)n;
        left -= (uint64_t)n;
    }
    return ret;
}

/* Several ranges: multipart/byteranges (RFC 9110 section 14.6), streamed with its exact length. */
static int send_multipart(const struct ringo__static_mount *m, ringo_req *req, struct file *f,
                          const ringo__range *r, int n)
{
    static _Atomic uint64_t seq;
    char boundary[40], ctype[80], end[48];
    const char *type = type_of(m, f->name);
    char *heads[RINGO__RANGE_RAW_MAX], *buf = NULL;
    size_t hlen[RINGO__RANGE_RAW_MAX], elen;
    uint64_t total = 0;
    int ret = 0;

    snprintf(boundary, sizeof(boundary), "ringo-%016" PRIx64 "%08" PRIx32,
             (uint64_t)now_ms() * 1000003u ^ (uint64_t)(uintptr_t)req,
             (uint32_t)atomic_fetch_add(&seq, 1));
    snprintf(ctype, sizeof(ctype), "multipart/byteranges; boundary=%s", boundary);
    elen = (size_t)snprintf(end, sizeof(end), "\r\n--%s--\r\n", boundary);
    for (int i = 0; i < n; i++) {
        heads[i] = part_head(req, boundary, type, &r[i], f->meta.size, i == 0, &hlen[i]);
        if (!heads[i])
            return -ENOMEM;
        total += hlen[i] + (r[i].last - r[i].first + 1);
    }
    total += elen;
    if (!f->cached && !(buf = ringo_req_alloc(req, MULTIPART_CHUNK)))
        return -ENOMEM;
    ret = ringo_resp_set_status(req, 206);
    if (ret == 0)
        ret = add(req, "Content-Type", ctype);
    if (ret == 0 && f->enc >= 0)
        ret = add(req, "Content-Encoding", enc_names[f->enc]);
    if (ret == 0 && (m->flags & RINGO_STATIC_NOSNIFF))
        ret = add(req, "X-Content-Type-Options", "nosniff");
    if (ret == 0)
        ret = add(req, "Accept-Ranges", "bytes");
    if (ret == 0)
        ret = ringo_stream_start(req, (int64_t)total);
    for (int i = 0; i < n && ret == 0; i++) {
        ret = ringo_stream_write(req, heads[i], hlen[i]);
        if (ret == 0)
            ret = write_range(req, f, &r[i], buf);
    }
    if (ret == 0)
        ret = ringo_stream_write(req, end, elen);
    return ret == -EIO ? 0 : ret;
}

/* ---- directory listings ---- */

struct growbuf {
    ringo_req *req;
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct growbuf *b, const char *s, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
        char *p = ringo_req_alloc(b->req, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_html(struct growbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': put(b, "&lt;", 4); break;
        case '>': put(b, "&gt;", 4); break;
        case '&': put(b, "&amp;", 5); break;
        case '"': put(b, "&quot;", 6); break;
        case '\'': put(b, "&#39;", 5); break;
        default: put(b, s, 1);
        }
    }
}

/* A name as a relative URL path segment: everything but unreserved characters escaped. */
static void put_href(struct growbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const char *end = s + n; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || ringo__ascii_digit(c) || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            put(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(b, e, 3);
        }
    }
}

static int name_order(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Reads the names of the directory fd (at most LISTING_MAX). getdents has
 * no io_uring operation: this one read runs on the ring, which is why
 * listings are off by default and bounded. Directories get a trailing '/'.
 */
static int read_names(const struct ringo__static_mount *m, ringo_req *req, int fd, char ***out)
{
    char **names = ringo_req_alloc(req, LISTING_MAX * sizeof(char *)), *dbuf;
    unsigned n = 0;
    long got;

    dbuf = ringo_req_alloc(req, 32768);
    if (!names || !dbuf)
        return -ENOMEM;
    while (n < LISTING_MAX && (got = syscall(SYS_getdents64, fd, dbuf, 32768)) > 0) {
        for (long off = 0; off < got && n < LISTING_MAX;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(dbuf + off);
            size_t len = strlen(d->d_name);
            bool dir = d->d_type == DT_DIR;

            off += d->d_reclen;
            if (d->d_name[0] == '.' && (!(m->flags & RINGO_STATIC_HIDDEN) || len <= 2))
                continue;
            if (d->d_type == DT_LNK && !(m->flags & RINGO_STATIC_SYMLINKS))
                continue;
            if (!(names[n] = ringo_req_alloc(req, len + 2)))
                return -ENOMEM;
            memcpy(names[n], d->d_name, len);
            strcpy(names[n] + len, dir ? "/" : "");
            n++;
        }
    }
    qsort(names, n, sizeof(*names), name_order);
    *out = names;
    return (int)n;
}

static int listing(const struct ringo__static_mount *m, ringo_req *req, int fd, ringo_str path)
{
    struct growbuf b = {req, NULL, 0, 0, false};
    char **names, *title;
    int n = read_names(m, req, fd, &names);

    if (n < 0)
        return n;
    if (!(title = ringo_req_alloc(req, path.len + 1)))
        return -ENOMEM;
    memcpy(title, path.ptr, path.len);
    title[path.len] = '\0';
    put(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ", 67);
    put_html(&b, title);
    put(&b, "</title></head>\n<body><h1>Index of ", 35);
    put_html(&b, title);
    put(&b, "</h1>\n<ul>\n", 11);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        bool dir = names[i][len - 1] == '/';

        put(&b, "<li><a href=\"", 13);
        put_href(&b, names[i], len - dir);
        put(&b, "/", dir);
        put(&b, "\">", 2);
        put_html(&b, names[i]);
        put(&b, "</a></li>\n", 10);
    }
    put(&b, "</ul>\n</body></html>\n", 21);
    if (b.oom)
        return -ENOMEM;
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/html; charset=utf-8"));
    return ringo_resp_set_body_ref(req, b.p, b.len);
}

/* ---- answering ---- */

/* 301 to the same path with a slash, so that relative links in the page resolve below it. */
static int redirect_slash(ringo_req *req)
{
    ringo_str path = ringo_req_path(req), q = ringo_req_query_string(req);
    char *loc = ringo_req_alloc(req, path.len + q.len + 3);
    size_t n = path.len;

    if (!loc)
        return -ENOMEM;
    if (path.len >= 2 && path.ptr[1] == '/')
        return ringo_fail(req, 404, NULL); /* "//host" would leave this site */
    memcpy(loc, path.ptr, n);
    loc[n++] = '/';
    if (q.len) {
        loc[n++] = '?';
        memcpy(loc + n, q.ptr, q.len);
        n += q.len;
    }
    ringo_resp_add_header(req, "Location", (ringo_str){loc, n});
    return ringo_resp_set_status(req, 301);
}

/*
 * A directory (fd, consumed): its index file becomes *f (returns 1), or
 * the answer is its listing or 404 (returns what the handler returns).
 */
static int directory(const struct ringo__static_mount *m, ringo_req *req, struct file *f, int fd)
{
    int ret;

    if (m->index) {
        ringo__smeta meta;
        int ifd = open_beneath(m, fd, m->index);
        int type = ifd >= 0 ? describe(ifd, &meta) : ifd;
        size_t len = strlen(f->rel), ilen = strlen(m->index);
        char *rel = ringo_req_alloc(req, len + ilen + 2);

        if (type == S_IFREG && rel) {
            snprintf(rel, len + ilen + 2, "%s%s%s", f->rel, len ? "/" : "", m->index);
            close_fd(fd);
            *f = (struct file){ifd, rel, ringo_str_c(rel), meta, -1, NULL};
            return 1;
        }
        close_fd(ifd);
        if (type == -ECANCELED || !rel) {
            close_fd(fd);
            return rel ? type : -ENOMEM;
        }
    }
    ret = m->flags & RINGO_STATIC_LISTING ? listing(m, req, fd, ringo_req_path(req))
                                          : ringo_fail(req, 404, NULL);
    close_fd(fd);
    return ret;
}

static int answer(const struct ringo__static_mount *m, ringo_req *req, struct file *f, bool head)
{
    ringo_str etag = etag_of(req, f);
    ringo__range *r = ringo_req_alloc(req, m->max_ranges * sizeof(*r));
    char cr[80];
    int st, n, ret;

    if (!r)
        return -ENOMEM;
    st = preconditions(req, f, etag, true);
    ret = validators(m, req, f, etag);
    if (ret < 0 || st == 304)
        return ret < 0 ? ret : ringo_resp_set_status(req, 304);
    if (st == 412)
        return ringo_fail(req, 412, NULL);
    n = head ? 0 : ranges_of(m, req, f, etag, r);
    if (n == -ERANGE) {
        snprintf(cr, sizeof(cr), "bytes */%" PRIu64, f->meta.size);
        add(req, "Content-Range", cr);
        return ringo_fail(req, 416, NULL);
    }
    if (f->fd >= 0)
        cache_fill(m, req, f);
    if (n > 1)
        return send_multipart(m, req, f, r, n);
    ret = representation(m, req, f);
    if (ret == 0 && n == 1) {
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r->first, r->last,
                 f->meta.size);
        ret = ringo_resp_set_status(req, 206);
        if (ret == 0)
            ret = add(req, "Content-Range", cr);
        if (ret == 0)
            ret = body(req, f, r->first, r->last - r->first + 1);
        return ret;
    }
    if (ret == 0 && head && f->fd < 0)
        return ringo_resp_set_body_ref(req, f->cached, (size_t)f->meta.size);
    return ret == 0 ? body(req, f, 0, f->meta.size) : ret;
}

/* True when a precompressed mount would send the identity file to this client anyway. */
static bool wants_identity(const struct ringo__static_mount *m, ringo_req *req)
{
    ringo_str ae;

    if (!(m->flags & RINGO_STATIC_PRECOMPRESSED) || ringo_req_header(req, "Accept-Encoding", &ae))
        return true;
    return ringo__accept_encoding(ae, true, enc_names, NENC) < 0;
}

/* Opens what the path names: *f becomes a regular file, or the answer is given (returns 1). */
static int open_file(const struct ringo__static_mount *m, ringo_req *req, struct file *f,
                     bool slash, int *out)
{
    int fd = open_beneath(m, m->root, f->rel), type;

    type = fd >= 0 ? describe(fd, &f->meta) : fd;
    if (type == S_IFDIR) {
        if (!slash) {
            close_fd(fd);
            *out = redirect_slash(req);
            return 1;
        }
        *out = directory(m, req, f, fd);
        if (*out != 1)
            return 1;
        *out = 0; /* *f is the index file now */
        return 0;
    }
    if (type != S_IFREG || (slash && f->rel[0])) {
        close_fd(fd);
        *out = type < 0 ? fail_errno(req, type) : ringo_fail(req, 404, NULL);
        return 1;
    }
    f->fd = fd;
    return 0;
}

static int serve(ringo_req *req, void *udata)
{
    const struct ringo__static_mount *m = udata;
    ringo_str param = {"", 0}, raw = ringo_req_path(req);
    bool head = ringo_str_eq(ringo_req_method(req), RINGO_STR_LIT("HEAD"));
    bool slash = raw.len && raw.ptr[raw.len - 1] == '/';
    struct file f = {-1, NULL, {NULL, 0}, {0, 0, 0}, -1, NULL};
    int ret;

    (void)ringo_req_path_param(req, "path", &param);
    ret = raw_refused(raw) ? -ENOENT : resolve(req, m, param, &f.rel);
    if (ret < 0)
        return ret == -ENOENT ? ringo_fail(req, 404, NULL) : ret;
    f.name = ringo_str_c(f.rel);
    if (slash || !wants_identity(m, req) || !cache_fresh(m, req, &f)) {
        if (open_file(m, req, &f, slash, &ret))
            return ret;
        f.name = ringo_str_c(f.rel);
        if (m->flags & RINGO_STATIC_PRECOMPRESSED)
            ret = pick_variant(m, req, &f);
        /* Off with O_NONBLOCK (see open_beneath) before the file is read. */
        if (ret == 0 && !cache_hit(m, req, &f) && fcntl(f.fd, F_SETFL, 0) < 0)
            ret = -errno;
    }
    if (ret == 0)
        ret = answer(m, req, &f, head);
    close_fd(f.fd);
    return ret;
}

/* prefix without its slash: the mount's root, with one. */
static int serve_bare(ringo_req *req, void *udata)
{
    (void)udata;
    return redirect_slash(req);
}

/* ---- registration ---- */

static void mount_free(struct ringo__static_mount *m)
{
    if (!m)
        return;
    if (m->root >= 0)
        close(m->root);
    for (unsigned i = 0; m->caches && i < m->nrings; i++)
        ringo__scache_free(m->caches[i]);
    ringo__free(m->caches);
    for (ringo_static_type *t = m->types; t && t->ext; t++) {
        ringo__free((char *)t->ext);
        ringo__free((char *)t->type);
    }
    ringo__free(m->types);
    ringo__free(m->prefix);
    ringo__free(m->index);
    ringo__free(m->cache_control);
    ringo__free(m->default_type);
    ringo__free(m);
}

void ringo__static_free_all(struct ringo_app *app)
{
    while (app->statics) {
        struct ringo__static_mount *m = app->statics;
        app->statics = m->next;
        mount_free(m);
    }
}

static char *dup_or_null(const char *s, bool *oom)
{
    char *d = s ? ringo__strdup(s) : NULL;

    if (s && !d)
        *oom = true;
    return d;
}

static int copy_types(struct ringo__static_mount *m, const ringo_static_type *types)
{
    size_t n = 0;

    for (const ringo_static_type *t = types; t && t->ext; t++, n++)
        if (!t->type || !t->ext[0] || strchr(t->type, '\r') || strchr(t->type, '\n'))
            return -EINVAL;
    if (!(m->types = ringo__calloc(n + 1, sizeof(*m->types))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        m->types[i].ext = ringo__strdup(types[i].ext);
        m->types[i].type = m->types[i].ext ? ringo__strdup(types[i].type) : NULL;
        if (!m->types[i].type) {
            ringo__free((char *)m->types[i].ext);
            m->types[i].ext = NULL;
            return -ENOMEM;
        }
    }
    return 0;
}

static bool prefix_valid(const char *p)
{
    size_t n = strlen(p);

    if (n == 0)
        return true;
    if (p[0] != '/' || p[n - 1] == '/' || strchr(p, '{') || strchr(p, '}'))
        return false;
    return true;
}

static bool value_valid(const char *s) { return !s || (!strchr(s, '\r') && !strchr(s, '\n')); }

static int mount_new(struct ringo__static_mount **out, ringo_app *app, const char *prefix,
                     const char *dir, const ringo_static_opts *o)
{
    struct ringo__static_mount *m = ringo__calloc(1, sizeof(*m));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    bool oom = false;
    int ret;

    if (!m)
        return -ENOMEM;
    m->root = -1;
    m->prefix = dup_or_null(prefix, &oom);
    m->index = dup_or_null(o->index, &oom);
    m->cache_control = dup_or_null(o->cache_control, &oom);
    m->default_type =
        dup_or_null(o->default_type ? o->default_type : "application/octet-stream", &oom);
    m->cache_bytes = o->cache_bytes;
    m->cache_max_file = o->cache_max_file ? o->cache_max_file : DEFAULT_CACHE_MAX_FILE;
    m->cache_valid_ms = o->cache_valid_ms;
    m->max_ranges = o->max_ranges ? o->max_ranges : DEFAULT_MAX_RANGES;
    m->flags = o->flags;
    /* The ring count is settled at start the same way (core/server.c); a
     * ring past it would simply go uncached. */
    m->nrings = app->srv.cfg.threads ? app->srv.cfg.threads : (cpus > 0 ? (unsigned)cpus : 1);
    m->caches = ringo__calloc(m->nrings, sizeof(*m->caches));
    ret = oom || !m->caches ? -ENOMEM : copy_types(m, o->types);
    if (ret == 0) {
        m->root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (m->root < 0)
            ret = -errno;
    }
    if (ret < 0) {
        mount_free(m);
        return ret;
    }
    *out = m;
    return 0;
}

bool ringo__static_route(ringo_handler_fn fn) { return fn == serve || fn == serve_bare; }

int ringo_static(ringo_app *app, const char *prefix, const char *dir, const ringo_static_opts *opts)
{
    static const ringo_static_opts none;
    const ringo_static_opts *o = opts ? opts : &none;
    struct ringo__static_mount *m;
    size_t plen;
    char *pattern;
    int ret;

    if (!app || !prefix || !dir)
        return -EINVAL;
    if (app->started)
        return -EBUSY;
    if (!prefix_valid(prefix) || !RINGO__RESERVED_ZERO(o->reserved) ||
        o->max_ranges > RINGO__RANGE_RAW_MAX ||
        (o->flags & ~(RINGO_STATIC_LISTING | RINGO_STATIC_SYMLINKS | RINGO_STATIC_HIDDEN |
                      RINGO_STATIC_NOSNIFF | RINGO_STATIC_PRECOMPRESSED)) ||
        !value_valid(o->cache_control) || !value_valid(o->default_type) ||
        (o->index && (!o->index[0] || strchr(o->index, '/'))))
        return -EINVAL;
    ret = mount_new(&m, app, prefix, dir, o);
    if (ret < 0)
        return ret;
    plen = strlen(prefix);
    pattern = ringo__malloc(plen + sizeof("/{path...}"));
    if (!pattern) {
        mount_free(m);
        return -ENOMEM;
    }
    memcpy(pattern, prefix, plen);
    strcpy(pattern + plen, "/{path...}");
    ret = ringo_route(app, "GET", pattern, RINGO_ASYNC, serve, m);
    ringo__free(pattern);
    if (ret < 0) {
        mount_free(m);
        return ret;
    }
    /* From here a route points at m: the app owns it whatever happens next. */
    m->next = app->statics;
    app->statics = m;
    if (plen) {
        ret = ringo_route(app, "GET", prefix, RINGO_ASYNC, serve_bare, m);
        if (ret == -EEXIST)
            ret = 0; /* the application answers the bare prefix itself */
    }
    return ret;
}
