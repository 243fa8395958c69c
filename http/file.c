/*
 * http/file.c - ringo_resp_file(): a file range as the response body.
 *
 * The handler only records the range. When the request is answered (after
 * the middleware after() hooks, so that they still shape the head), the
 * body goes out from a coroutine hop of its own on the connection's ring
 * (http/exec.c, advance): a streamed response (http/stream.c) with the
 * declared length, so the window, the send timeout, hang-up cancellation
 * and the route deadline apply as to any stream. Bytes move with io_uring
 * reads into a buffer of one window and the stream's writes.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "core/alloc.h"
#include "http/http_impl.h"

typedef struct ringo__file {
    int fd;
    unsigned flags;
    uint64_t offset, len;
    bool started; /* its hop began */
} ringo__file;

static void drop(ringo__file *f)
{
    if (f->fd >= 0 && (f->flags & RINGO_FILE_CLOSE))
        close(f->fd);
    f->fd = -1;
}

void ringo__file_free(ringo_req *r)
{
    drop(r->file);
    r->file = NULL;
}

int ringo_resp_file(ringo_req *req, int fd, uint64_t offset, uint64_t len, unsigned flags)
{
    ringo__file *f;

    if (fd < 0 || (flags & ~RINGO_FILE_CLOSE)) {
        if (fd >= 0 && (flags & RINGO_FILE_CLOSE))
            close(fd);
        return -EINVAL;
    }
    f = req->file;
    if (req->stream || req->phase == REQ_POST || (f && f->started)) {
        if (flags & RINGO_FILE_CLOSE)
            close(fd);
        return req->phase == REQ_POST ? -EPERM : -EALREADY;
    }
    if (f) {
        drop(f); /* replaced */
    } else if (!(f = ringo_req_alloc(req, sizeof(*f)))) {
        if (flags & RINGO_FILE_CLOSE)
            close(fd);
        return -ENOMEM;
    }
    *f = (ringo__file){fd, flags, offset, len, false};
    req->file = f;
    req->rbody = NULL;
    req->rbody_len = (size_t)len; /* HEAD, 304: the serializer's length, no body read */
    return 0;
}

bool ringo__file_pending(const ringo_req *r)
{
    return r->file && !r->file->started && r->outcome == REQ_OK && !r->is_head &&
           r->status != 204 && r->status != 304;
}

void ringo__file_failed(ringo_req *r, int err)
{
    (void)err;
    r->file->started = true;
    r->status = 503; /* no coroutine stack to send it from: back-pressure */
    r->rbody_len = 0;
    ringo__req_fail(r);
    ringo_resp_add_header(r, "Retry-After", RINGO_STR_LIT("1"));
}

void ringo__file_send(ringo_req *r)
{
    ringo__file *f = r->file;
    size_t cap = ringo__ring_config(ringo__conn_ring(r->conn))->stream_window;
    uint64_t off = f->offset, left = f->len;
    char *buf = NULL;
    int ret;

    f->started = true;
    ret = ringo_stream_start(r, (int64_t)f->len);
    if (ret == 0 && left)
        buf = ringo__malloc(left < cap ? (size_t)left : cap);
    if (ret == 0 && left && !buf)
        ret = -ENOMEM;
    while (ret == 0 && left) {
        ssize_t n = ringo_await_read(f->fd, buf, left < cap ? (size_t)left : cap, (int64_t)off);
        if (n <= 0) {
            /* Shrunk under us, or unreadable: the stream's end sees the short body and cuts. */
            if (n < 0 && n != -ECANCELED)
                fprintf(stderr, "ringo: '%s': reading the file body: %s\n",
                        r->route ? r->route->label : "?", ringo_strerror((int)n));
            break;
        }
        ret = ringo_stream_write(r, buf, (size_t)n);
        off += (uint64_t)n;
        left -= (uint64_t)n;
    }
    ringo__free(buf);
}
