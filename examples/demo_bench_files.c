/*
 * examples/demo_bench_files.c - files from a directory through
 * ringo_resp_file(), for the file benchmarks and tests (the demo's
 * --files-dir DIR; without it the route is not registered).
 *
 *   GET /files/{name}[?offset=O&len=L]   the file DIR/name, or L bytes of it
 *                                        from O (L: to the end); 416 when O
 *                                        is past the end
 *
 * name is one path segment: '/' (also percent-encoded), ".." and names
 * starting with '.' are refused with 404 before anything is opened. Not a
 * static-file server: no types, no caching headers, no conditional
 * requests; it only feeds bytes to the send path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "demo.h"

#define NAME_MAX_ 255

static int not_found(ringo_req *req)
{
    return ringo_respond(req, 404, "text/plain", "not found\n", 10);
}

static int file_route(ringo_req *req, void *udata)
{
    const char *dir = udata;
    char path[4096 + NAME_MAX_ + 2];
    struct statx st;
    uint64_t off, len;
    ringo_str name;
    int fd, ret;

    if (ringo_req_path_param(req, "name", &name) < 0 || name.len == 0 || name.len > NAME_MAX_ ||
        name.ptr[0] == '.' || memchr(name.ptr, '/', name.len) || memchr(name.ptr, '\0', name.len))
        return not_found(req);
    snprintf(path, sizeof(path), "%s/%.*s", dir, (int)name.len, name.ptr);
    fd = ringo_await_open(path, O_RDONLY | O_NOFOLLOW, 0);
    if (fd < 0)
        return fd == -ENOENT || fd == -ELOOP ? not_found(req) : fd;
    ret = ringo_await_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE | STATX_TYPE, &st);
    if (ret < 0 || !S_ISREG(st.stx_mode)) {
        ringo_await_close(fd);
        return ret < 0 ? ret : not_found(req);
    }
    off = demo_query_u64(req, "offset", 0, UINT64_MAX);
    if (off > st.stx_size) {
        char cr[48];
        int n = snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)st.stx_size);
        ringo_await_close(fd);
        ringo_resp_add_header(req, "Content-Range", (ringo_str){cr, (size_t)n});
        return ringo_respond(req, 416, "text/plain", "range not satisfiable\n", 22);
    }
    len = demo_query_u64(req, "len", st.stx_size - off, st.stx_size - off);
    ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("application/octet-stream"));
    /* ringo closes fd when the body is sent, whatever happens. */
    return ringo_resp_file(req, fd, off, len, RINGO_FILE_CLOSE);
}

/* ---- declarations of the route's parameters, for validation and /openapi.json ---- */

struct q_file {
    ringo_str name;
    int64_t offset, len;
    bool has_len;
};
static const ringo_field file_fields[] = {
    {.name = "name",
     .in = RINGO_LOC_PATH,
     RINGO_AS_STRING(struct q_file, name),
     .description = "A file of --files-dir."},
    DEMO_QUERY_U64(struct q_file, offset, 0, "The first byte to send (past the end: 416)."),
    {.name = "len",
     .in = RINGO_LOC_QUERY,
     RINGO_AS_INT(struct q_file, len),
     .set = RINGO_SET_AT(struct q_file, has_len),
     .flags = RINGO_F_OPTIONAL,
     RINGO_GE(0),
     .description = "Bytes to send (at most the rest of the file); absent: the rest."},
    {0}};
static const ringo_model file_params = {RINGO_MODEL_OF(struct q_file), .fields = file_fields};
static const ringo_route_spec file_spec = {
    .tags = demo_tag_files, .summary = "A file, spliced or copied", .params = &file_params};

int demo_bench_file_routes(ringo_app *app, const char *dir)
{
    static const ringo_route_opts opts = {.spec = &file_spec};

    if (!dir)
        return 0;
    return ringo_route_ex(app, "GET", "/files/{name}", RINGO_ASYNC, file_route, (void *)dir, &opts);
}
