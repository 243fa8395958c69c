/*
 * examples/demo_files.c - the demo's files: a static mount (ringo/static.h)
 * and downloads answered with ringo_resp_file() (ringo/file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <ringo.h>

#include "demo.h"

/* What the routes below serve: the --static-dir folder. */
static const char *files_dir;

/* RFC 3986 attr-char of RFC 8187's ext-value: everything else is percent-encoded. */
static int attr_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$&+-.^_`|~", c) != NULL;
}

/*
 * Content-Disposition: attachment with filename="..." (ASCII fallback:
 * other bytes, quotes and backslashes become '_') and filename*=UTF-8''...
 * (RFC 6266 section 4.3, RFC 8187 section 3.2.3).
 */
static int disposition(ringo_req *req, ringo_str name)
{
    static const char hex[] = "0123456789ABCDEF";
    char *v = ringo_req_alloc(req, 64 + name.len * 4);
    size_t n;

    if (!v)
        return -ENOMEM;
    n = (size_t)sprintf(v, "attachment; filename=\"");
    for (size_t i = 0; i < name.len; i++) {
        unsigned char c = (unsigned char)name.ptr[i];
        v[n++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '_';
    }
    n += (size_t)sprintf(v + n, "\"; filename*=UTF-8''");
    for (size_t i = 0; i < name.len; i++) {
        unsigned char c = (unsigned char)name.ptr[i];
        if (attr_char(c)) {
            v[n++] = (char)c;
        } else {
            v[n++] = '%';
            v[n++] = hex[c >> 4];
            v[n++] = hex[c & 15];
        }
    }
    return ringo_resp_add_header(req, "Content-Disposition", (ringo_str){v, n});
}

/* GET /download/{name}: one file of the folder (no subfolders, no hidden names). */
static int download(ringo_req *req, void *udata)
{
    ringo_str name;
    struct statx st;
    char *path;
    int fd, ret;

    (void)udata;
    if (ringo_req_path_param(req, "name", &name) < 0 || name.len == 0 || name.ptr[0] == '.' ||
        memchr(name.ptr, '/', name.len) || memchr(name.ptr, '\0', name.len))
        return ringo_fail(req, 404, NULL);
    path = ringo_req_alloc(req, strlen(files_dir) + name.len + 2);
    if (!path)
        return -ENOMEM;
    sprintf(path, "%s/%.*s", files_dir, (int)name.len, name.ptr);
    fd = ringo_await_open(path, O_RDONLY | O_NOFOLLOW, 0);
    if (fd < 0)
        return fd == -ECANCELED ? fd : ringo_fail(req, 404, NULL);
    ret = ringo_await_statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, &st);
    if (ret < 0 || !S_ISREG(st.stx_mode)) {
        ringo_await_close(fd);
        return ret == -ECANCELED ? ret : ringo_fail(req, 404, NULL);
    }
    ret = disposition(req, name);
    if (ret == 0)
        ret = ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("application/octet-stream"));
    if (ret < 0) {
        ringo_await_close(fd);
        return ret;
    }
    return ringo_resp_file(req, fd, 0, st.stx_size, RINGO_FILE_CLOSE);
}

/* ---- declarations of the routes' parameters, for validation and /openapi.json ---- */

struct p_download {
    ringo_str name;
};
static const ringo_field download_fields[] = {
    {.name = "name",
     .in = RINGO_LOC_PATH,
     RINGO_AS_STRING(struct p_download, name),
     .description = "A file of the static folder (no subfolders, no hidden names)."},
    {0}};
static const ringo_model download_params = {RINGO_MODEL_OF(struct p_download),
                                            .fields = download_fields};
static const ringo_route_spec download_spec = {
    .tags = demo_tag_files, .summary = "A file as an attachment", .params = &download_params};
static const ringo_route_opts download_opts = {.spec = &download_spec};

int demo_file_routes(ringo_app *app, const char *static_dir, uint32_t cache_valid_ms,
                     unsigned flags)
{
    /* One entry of our own and one override of the built-in table. */
    static const ringo_static_type types[] = {
        {"ringo", "text/x-ringo; charset=utf-8"}, {"md", "text/plain; charset=utf-8"}, {NULL}};
    const ringo_static_opts opts = {
        .index = "index.html",
        .types = types,
        .cache_control = "public, max-age=60",
        .cache_bytes = 16u << 20,
        .cache_valid_ms = cache_valid_ms,
        .flags =
            (RINGO_STATIC_NOSNIFF | RINGO_STATIC_PRECOMPRESSED | flags) &
            ~(flags & DEMO_STATIC_NO_VARIANTS ? RINGO_STATIC_PRECOMPRESSED | DEMO_STATIC_NO_VARIANTS
                                              : 0u),
    };
    int ret;

    files_dir = static_dir;
    ret = ringo_static(app, "/static", static_dir, &opts);
    if (ret < 0) {
        fprintf(stderr, "ringo: cannot mount %s at /static: %s\n", static_dir, ringo_strerror(ret));
        return ret;
    }
    return ringo_route_ex(app, "GET", "/download/{name}", RINGO_ASYNC, download, NULL,
                          &download_opts);
}
