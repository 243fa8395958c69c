/*
 * http/file.c - ringo_resp_file(): a file range as the response body.
 *
 * The handler only records the range. When the request is answered (after
 * the middleware after() hooks, so that they still shape the head), the
 * body goes out from a coroutine hop of its own on the connection's ring
 * (http/exec.c, advance): a streamed response (http/stream.c) with the
 * declared length, so the window, the send timeout, hang-up cancellation
 * and the route deadline apply as to any stream. Bodies of
 * RINGO__FILE_SPLICE_MIN bytes and more go without a copy through user
 * space: with sendfile(2) on the ring thread while the part about to be
 * sent is in the page cache (cachestat(2) says so, a few missing pages are
 * read back in through the ring first; the socket is non-blocking, so
 * nothing waits), else (a cold file) file -> pipe -> socket with
 * io_uring splices through a pipe of the ring's pool, which run in io-wq
 * workers and may wait for the disk there. Smaller bodies, and any body
 * when the pool has no pipe free, move with io_uring reads into a buffer
 * of one window and the stream's writes. Over HTTP/2 every body takes that
 * last path: DATA frames need the bytes in user space, and the stream's
 * writes keep them within the window.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/task.h"
#include "http/http_impl.h"

/*
 * Bodies from this size on are spliced (measured: perf/files-results.md);
 * below it one copy of a few pages costs less than two trips through an
 * io-wq worker.
 */
#define RINGO__FILE_SPLICE_MIN (16u * 1024u)

/*
 * What one sendfile(2) call may move (nginx's sendfile_max_chunk is the
 * same), and the span whose residency is checked before it; and how many
 * calls that moved a whole chunk may follow each other before the body
 * yields the ring to its other connections (a wait for room, answered at
 * once when there is some). Each call and each wait has a fixed cost: per
 * GiB, chunks of 256 KiB cost 2.7x nginx's CPU, 1 MiB 1.3x, 4 MiB 1.1x,
 * and waiting only when the socket is full 1.1x (perf/files_bench.py).
 */
#define RINGO__FILE_SENDFILE_CHUNK (2u << 20)
#define RINGO__FILE_SENDFILE_BURST 4u

/*
 * One cachestat(2) covers this much of the file ahead of the next call;
 * the calls that follow send it without asking again, however short the
 * socket makes them.
 */
#define RINGO__FILE_RESIDENT_SPAN RINGO__FILE_SENDFILE_CHUNK

/* Pages read in for one span without progress before the rest goes by splice. */
#define RINGO__FILE_FAULTS_MAX 8u

/* cachestat(2) (Linux 6.5), which libc headers may not declare yet. */
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
struct ringo__cachestat_range {
    uint64_t off, len;
};
struct ringo__cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

typedef struct ringo__file {
    int fd;
    unsigned flags;
    uint64_t offset, len;
    bool started; /* its hop began */
} ringo__file;

static ringo__sess *sess(ringo__conn *c) { return ringo__conn_state(c); }

static void log_read(const ringo_req *r, int err)
{
    fprintf(stderr, "ringo: '%s': reading the file body: %s\n", r->route ? r->route->label : "?",
            ringo_strerror(err));
}

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

    if (fd < 0 || (flags & ~RINGO_FILE_CLOSE) || len > INT64_MAX || offset > INT64_MAX - len) {
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

/* The copy path: io_uring reads into a window-sized buffer, then the stream's writes. */
static void copy_body(ringo_req *r, ringo__file *f, uint64_t off, uint64_t left)
{
    size_t cap = ringo__ring_config(ringo__conn_ring(r->conn))->stream_window;
    char *buf = left ? ringo__malloc(left < cap ? (size_t)left : cap) : NULL;
    int ret = left && !buf ? -ENOMEM : 0;

    while (ret == 0 && left) {
        ssize_t n = ringo_await_read(f->fd, buf, left < cap ? (size_t)left : cap, (int64_t)off);
        if (n <= 0) {
            /* Shrunk under us, or unreadable: the stream's end sees the short body and cuts. */
            if (n < 0 && n != -ECANCELED)
                log_read(r, (int)n);
            break;
        }
        ret = ringo_stream_write(r, buf, (size_t)n);
        off += (uint64_t)n;
        left -= (uint64_t)n;
    }
    ringo__free(buf);
}

/* One splice on the coroutine. */
static int await_splice(int in, int64_t in_off, int out, unsigned len, unsigned flags)
{
    struct io_uring_sqe *sqe = ringo__ring_sqe(ringo__fiber_current()->ring);

    io_uring_prep_splice(sqe, in, in_off, out, -1, len, flags);
    return ringo__await(sqe, 0);
}

/*
 * Waits until the lent socket takes bytes again: -EAGAIN (go on),
 * -ECANCELED (also when no room came for send_timeout_ms: the connection's
 * deadline closed it, ringo__conn_lent_wait), another -errno.
 */
static int wait_writable(ringo__conn *c)
{
    struct io_uring_sqe *sqe = ringo__ring_sqe(ringo__fiber_current()->ring);
    int ret;

    ringo__conn_lent_wait(c);
    io_uring_prep_poll_add(sqe, ringo__conn_fd(c), POLLOUT);
    ret = ringo__await(sqe, 0);
    return ret >= 0 ? -EAGAIN : ret;
}

/* pipe -> socket; -EAGAIN after a wait for room (call again). */
static int to_socket(const ringo__pipe *p, ringo__conn *c, size_t n, bool more)
{
    int ret = await_splice(p->rd, -1, ringo__conn_fd(c), (unsigned)n, more ? SPLICE_F_MORE : 0);

    return ret == -EAGAIN ? wait_writable(c) : ret;
}

/* Bytes in the pipe (FIONREAD), 0 when it cannot say. */
static size_t pipe_bytes(const ringo__pipe *p)
{
    int n = 0;

    return ioctl(p->rd, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}

/*
 * One pipe-load, linked: file -> pipe (its CQE ignored), then pipe ->
 * socket, which the kernel starts right after it in the same io-wq worker.
 * A short first splice (the file shrank, an error) breaks the link: the
 * second ends with -ECANCELED without running. The pipe's fill tells what
 * the first one moved (IOSQE_CQE_SKIP_SUCCESS on it would save its CQE,
 * but a short splice with that flag also swallows the second one's CQE on
 * Linux 6.18, and the await would never end). Returns the second splice's
 * result, -EAGAIN when the link broke or the socket was full (after a wait
 * for room); *filled is how many bytes the first moved.
 */
static int splice_linked(const ringo__file *f, uint64_t off, const ringo__pipe *p, ringo__conn *c,
                         unsigned n, bool more, size_t *filled)
{
    ringo__fiber *t = ringo__fiber_current();
    int sock = ringo__conn_fd(c);
    struct io_uring_sqe *a = ringo__ring_sqes(t->ring, 2), *b;
    int ret;

    io_uring_prep_splice(a, f->fd, (int64_t)off, p->wr, -1, n, SPLICE_F_MOVE);
    io_uring_sqe_set_data64(a, RINGO__OP_NONE);
    a->flags |= IOSQE_IO_LINK;
    b = ringo__ring_sqe(t->ring);
    io_uring_prep_splice(b, p->rd, -1, sock, -1, n, more ? SPLICE_F_MORE : 0);
    ret = ringo__await(b, 0);
    /* What the first splice moved: what the second took plus what is still in the pipe. */
    *filled = (ret > 0 ? (size_t)ret : 0) + pipe_bytes(p);
    if (ret > 0)
        return ret;
    if (ret == -ECANCELED && !t->cancelled)
        return -EAGAIN; /* the link broke */
    return ret == -EAGAIN ? wait_writable(c) : ret;
}

/* Reads into the empty pipe on its own (also after a broken link: learns why). */
static int fill(ringo_req *r, ringo__file *f, const ringo__pipe *p, uint64_t off, uint64_t left)
{
    unsigned n = left < p->size ? (unsigned)left : p->size;
    int ret = await_splice(f->fd, (int64_t)off, p->wr, n, SPLICE_F_MOVE);

    if (ret < 0 && ret != -ECANCELED && ret != -EINVAL && ret != -EOPNOTSUPP)
        log_read(r, ret);
    return ret;
}

/*
 * The zero-copy path: file -> pipe -> socket, one pipe-load at a time (see
 * docs/architecture.md, "Sending files"). The socket is lent by the
 * connection once the head went out, so no send of its own runs meanwhile,
 * and is non-blocking while lent: a splice into a full socket would block
 * its io-wq worker where neither a cancel nor a linked timeout reaches it
 * (seen on Linux 6.18), so a full socket returns -EAGAIN and the wait for
 * room is a poll, which both do. Returns 1 when the file cannot be spliced
 * at all (*off, *left: the copy path sends it), else 0: done, or the
 * response is over (cut, cancelled, the client dropped). The pipe goes
 * back clean only when known empty.
 */
static int splice_body(ringo_req *r, ringo__file *f, ringo__pipe *p, uint64_t *off, uint64_t *left)
{
    ringo__conn *c = r->conn;
    bool linked = sess(c)->app->test_hooks.file_splice_linked, copy = false, broke = false;
    int ret;
    size_t inpipe = 0;

    ret = ringo__stream_flushed(r); /* the head, before the socket is ours */
    if (ret == 0) {
        ret = ringo__conn_lend(c);
        if (ret < 0) {
            /* Not lent (output appeared, fcntl failed): the copy path, unless it is gone. */
            ringo__pipe_put(ringo__conn_ring(c), p, true);
            return ret == -ECANCELED ? 0 : 1;
        }
    }
    while (ret == 0 && (*left || inpipe)) {
        size_t filled = 0;
        if (!inpipe && (!linked || broke)) {
            ret = fill(r, f, p, *off, *left);
            broke = false;
            if (ret <= 0) {
                copy = (ret == -EINVAL || ret == -EOPNOTSUPP) && *off == f->offset;
                ret = ret == 0 || copy ? 0 : ret; /* 0: shrunk, the stream's end cuts */
                break;
            }
            filled = (size_t)ret;
            ret = -EAGAIN; /* filled: the socket next */
        } else if (!inpipe) {
            unsigned n = *left < p->size ? (unsigned)*left : p->size;
            ret = splice_linked(f, *off, p, c, n, *left > n, &filled);
            broke = ret == -EAGAIN && filled == 0;
        } else {
            ret = to_socket(p, c, inpipe, *left > 0);
        }
        *off += filled;
        *left -= filled;
        inpipe += filled;
        if (ret > 0) {
            inpipe -= (size_t)ret;
            ringo__stream_sent(r, (uint64_t)ret);
            ret = 0;
        } else if (ret == -EAGAIN) {
            ret = 0; /* room in the socket, or a read to redo alone */
        } else if (ret != -ECANCELED) {
            /* The send failed: as for any response. */
            ringo__conn_close(c, RINGO__CLOSE_NOW);
            ret = -ECANCELED;
        }
    }
    ringo__conn_unlend(c);
    ringo__pipe_put(ringo__conn_ring(c), p, ret == 0 && inpipe == 0);
    return copy ? 1 : 0;
}

/*
 * How many pages of [off, off + len) are in the page cache, and how many
 * the range spans; -1 when cachestat cannot tell (before Linux 6.5, a file
 * without a page cache: those go by splice).
 */
static int64_t cached_pages(int fd, uint64_t off, uint64_t len, uint64_t *pages)
{
    uint64_t page = (uint64_t)getpagesize(); /* libc's copy from the auxv: no syscall */
    struct ringo__cachestat_range range = {off, len};
    struct ringo__cachestat cs;

    *pages = (off + len + page - 1) / page - off / page;
    if (syscall(SYS_cachestat, fd, &range, &cs, 0) != 0)
        return -1;
    return (int64_t)cs.nr_cache;
}

static bool resident(int fd, uint64_t off, uint64_t len)
{
    uint64_t pages;
    int64_t n = cached_pages(fd, off, len, &pages);

    return n >= 0 && (uint64_t)n >= pages;
}

/*
 * The offset of the first page of [off, off + len) that is not in the page
 * cache (off itself when that one is missing), found by halving the range:
 * about log2(pages) cachestat calls. The range is known not to be resident.
 */
static uint64_t first_missing(int fd, uint64_t off, uint64_t len)
{
    uint64_t page = (uint64_t)getpagesize();
    uint64_t lo = off / page, hi = (off + len + page - 1) / page;

    /* [off, lo * page) is resident and [lo, hi) holds a missing page. */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2, from = lo * page < off ? off : lo * page;
        if (resident(fd, from, mid * page - from))
            lo = mid;
        else
            hi = mid;
    }
    return lo * page < off ? off : lo * page;
}

/*
 * Brings the page at off into the page cache without waiting on the ring:
 * an io_uring read of that one page (into a scratch page), which the
 * kernel finishes off the ring thread when it must go to the disk. Returns
 * the read's result (bytes, 0 at the end of the file, -errno).
 */
static int fault_in(ringo__file *f, uint64_t off, char **scratch)
{
    size_t page = (size_t)getpagesize();

    if (!*scratch && !(*scratch = ringo__malloc(page)))
        return -ENOMEM;
    return (int)ringo_await_read(f->fd, *scratch, page, (int64_t)(off - off % page));
}

/*
 * Checks the span from *off before sendfile reads it (*checked: how far it
 * is known to be resident). Returns 0 (go on), 1 (the rest is cold: another
 * path sends it), or -errno from a read that brought a page in. A span with
 * a few pages missing is not handed to splice whole (on a machine under
 * memory pressure single pages of a hot file go and come back): the
 * resident part before the first missing page is sent, then that page is
 * read in through the ring, and the span checked again. A span with less
 * than half its pages cached is a cold file: splice reads it in io-wq with
 * the kernel's readahead, faster than page by page.
 */
static int check_span(ringo__file *f, uint64_t off, uint64_t span, uint64_t *checked,
                      char **scratch)
{
    uint64_t pages, m;
    int64_t n = cached_pages(f->fd, off, span, &pages);
    int ret;

    if (n >= 0 && (uint64_t)n >= pages) {
        *checked = off + span;
        return 0;
    }
    if (n < 0 || (uint64_t)n * 2 < pages)
        return 1;
    m = first_missing(f->fd, off, span);
    if (m > off) {
        *checked = m;
        return 0;
    }
    ret = fault_in(f, m, scratch);
    return ret < 0 ? ret : 0; /* 0 bytes (the file shrank): sendfile finds the end */
}

/*
 * The direct path: sendfile(2) from the page cache into the lent,
 * non-blocking socket, at most a chunk per call; when the socket is full,
 * or after a burst of whole chunks, a wait for room (POLLOUT through the
 * ring, cancellable; the connection's deadline drops a reader that gives
 * no room for send_timeout_ms), which lets the ring's other connections
 * run. No io-wq worker and no pipe of the pool: this is nginx's sendfile,
 * from the ring. Returns 1 when the rest (*off, *left) is cold
 * (check_span), or the file cannot be sent this way (the caller splices or
 * copies it), else 0: done, or the response is over (cut, cancelled, the
 * client dropped).
 */
static int sendfile_body(ringo_req *r, ringo__file *f, uint64_t *off, uint64_t *left)
{
    ringo__conn *c = r->conn;
    int sock = ringo__conn_fd(c), ret = ringo__stream_flushed(r); /* the head first */
    uint64_t checked = *off; /* [*off, checked) was found in the page cache */
    unsigned burst = 0, faults = 0;
    char *scratch = NULL;
    bool other = false;

    if (ret == 0 && (ret = ringo__conn_lend(c)) < 0)
        return ret == -ECANCELED ? 0 : 1; /* not lent: another path, unless it is gone */
    while (ret == 0 && *left) {
        uint64_t span = *left < RINGO__FILE_RESIDENT_SPAN ? *left : RINGO__FILE_RESIDENT_SPAN;
        off_t pos = (off_t)*off;
        size_t n;
        ssize_t k;

        if (*off >= checked) {
            /* A page evicted again and again (or a cold file): splice reads the rest. */
            ret = faults >= RINGO__FILE_FAULTS_MAX ? 1
                                                   : check_span(f, *off, span, &checked, &scratch);
            if (ret == 1) {
                ret = 0;
                other = true;
                break;
            }
            if (ret < 0) {
                if (ret != -ECANCELED)
                    log_read(r, ret);
                break; /* the stream's end cuts the response */
            }
            if (*off >= checked) {
                faults++;
                continue; /* a page was read in: check again */
            }
        }
        n = (size_t)(checked - *off < RINGO__FILE_SENDFILE_CHUNK ? checked - *off
                                                                 : RINGO__FILE_SENDFILE_CHUNK);
        k = sendfile(sock, f->fd, &pos, n);
        if (k == 0)
            break; /* shrunk under us: the stream's end cuts */
        if (k < 0 && (errno == EINVAL || errno == EOPNOTSUPP) && *off == f->offset) {
            other = true; /* not this file: splice or copy it */
            break;
        }
        if (k < 0 && errno != EAGAIN) {
            ret = -errno;
            if (ret != -EPIPE && ret != -ECONNRESET)
                log_read(r, ret);
        } else {
            if (k > 0) {
                *off += (uint64_t)k;
                *left -= (uint64_t)k;
                faults = 0;
                ringo__stream_sent(r, (uint64_t)k);
            }
            /* The socket is full (a short call), or the burst is over: wait for room. */
            if (*left && (k < (ssize_t)n || ++burst == RINGO__FILE_SENDFILE_BURST)) {
                burst = 0;
                ret = wait_writable(c);
                ret = ret == -EAGAIN ? 0 : ret; /* room */
            }
        }
        if (ret < 0 && ret != -ECANCELED) {
            /* The send failed: as for any response. */
            ringo__conn_close(c, RINGO__CLOSE_NOW);
            ret = -ECANCELED;
        }
    }
    ringo__free(scratch);
    ringo__conn_unlend(c);
    return other ? 1 : 0;
}

static uint64_t splice_min(const ringo_req *r)
{
    uint64_t v = sess(r->conn)->app->test_hooks.file_splice_min;

    return v ? v : RINGO__FILE_SPLICE_MIN;
}

void ringo__file_send(ringo_req *r)
{
    const ringo__test_hooks *hooks = &sess(r->conn)->app->test_hooks;
    ringo__ring *ring = ringo__conn_ring(r->conn);
    ringo__file *f = r->file;
    uint64_t off = f->offset, left = f->len;
    ringo__pipe p;
    int ret;

    f->started = true;
    if ((ret = ringo_stream_start(r, (int64_t)f->len)) < 0) {
        /* Nothing was sent: an ordinary error answer, without the file's length. */
        r->rbody_len = 0;
        if (ret != -ECANCELED) {
            r->status = ret == -ENOMEM ? 503 : 500;
            ringo__req_fail(r);
        }
        return;
    }
    /*
     * A small body costs less copied; no pipe free: the copy path, never a
     * wait. HTTP/2 frames the body (DATA frames, the windows): the copy path
     * always, through the stream's bounded buffer.
     */
    if (left >= splice_min(r) && !r->h2) {
        if (!hooks->file_sendfile_off && sendfile_body(r, f, &off, &left) == 0)
            return;
        if (ringo__pipe_get(ring, &p) == 0 && splice_body(r, f, &p, &off, &left) == 0)
            return;
    }
    copy_body(r, f, off, left);
}
