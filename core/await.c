/*
 * core/await.c - the public await API on top of ringo__await().
 *
 * Each call takes an SQE of the current ring, prepares it and suspends the
 * handler until its CQE. Pointers passed to the kernel (paths, buffers,
 * timespecs) live on the handler's stack, which stays put while it waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/task.h"
#include "ringo/await.h"

/* The op's SQE, and room right after it for the linked timeout, if any. */
static struct io_uring_sqe *sqe_or_null(void)
{
    ringo__fiber *t = ringo__fiber_current();

    return t ? ringo__ring_sqes(t->ring, t->call_timeout_ms ? 2 : 1) : NULL;
}

static int await(struct io_uring_sqe *sqe)
{
    return ringo__await(sqe, ringo__fiber_current()->call_timeout_ms);
}

int ringo_in_async(void) { return ringo__fiber_current() != NULL; }

void ringo_await_timeout(uint64_t ms)
{
    ringo__fiber *t = ringo__fiber_current();

    if (t)
        t->call_timeout_ms = ms;
}

int ringo_await_sleep(uint64_t ms)
{
    struct io_uring_sqe *sqe = sqe_or_null();
    struct __kernel_timespec ts = {(long long)(ms / 1000), (long long)(ms % 1000) * 1000000};
    int ret;

    if (!sqe)
        return -EPERM;
    io_uring_prep_timeout(sqe, &ts, 0, 0);
    /* No linked deadline here: a sleep is its own timeout. */
    ret = ringo__await(sqe, 0);
    return ret == -ETIME ? 0 : ret;
}

int ringo_await_open(const char *path, int flags, mode_t mode)
{
    struct io_uring_sqe *sqe = sqe_or_null();
    int ret;

    if (!sqe)
        return -EPERM;
    io_uring_prep_openat(sqe, AT_FDCWD, path, flags | O_CLOEXEC, mode);
    ret = await(sqe);
    /* Cancelled, but the open had already completed: do not leak its descriptor. */
    if (ret == -ECANCELED && ringo__fiber_current()->last_res >= 0)
        close(ringo__fiber_current()->last_res);
    return ret;
}

ssize_t ringo_await_read(int fd, void *buf, size_t len, int64_t offset)
{
    struct io_uring_sqe *sqe = sqe_or_null();

    if (!sqe)
        return -EPERM;
    io_uring_prep_read(sqe, fd, buf, (unsigned)(len > 0x7ffff000 ? 0x7ffff000 : len),
                       (uint64_t)offset);
    return await(sqe);
}

ssize_t ringo_await_write(int fd, const void *buf, size_t len, int64_t offset)
{
    struct io_uring_sqe *sqe = sqe_or_null();

    if (!sqe)
        return -EPERM;
    io_uring_prep_write(sqe, fd, buf, (unsigned)(len > 0x7ffff000 ? 0x7ffff000 : len),
                        (uint64_t)offset);
    return await(sqe);
}

int ringo_await_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out)
{
    struct io_uring_sqe *sqe = sqe_or_null();

    if (!sqe)
        return -EPERM;
    io_uring_prep_statx(sqe, dirfd, path, flags, mask, out);
    return await(sqe);
}

int ringo_await_close(int fd)
{
    ringo__fiber *t = ringo__fiber_current();
    struct io_uring_sqe *sqe;

    if (!t)
        return -EPERM;
    /* A cancelled handler still owns its descriptors: close them right away. */
    if (t->cancelled)
        return close(fd) == 0 ? 0 : -errno;
    sqe = ringo__ring_sqe(t->ring);
    io_uring_prep_close(sqe, fd);
    /* A close is never cut short by a deadline: the descriptor must go. */
    return ringo__await(sqe, 0);
}

int ringo_await_socket(int domain, int type, int protocol)
{
    int fd = socket(domain, type | SOCK_CLOEXEC, protocol);

    return fd < 0 ? -errno : fd;
}

int ringo_await_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct io_uring_sqe *sqe = sqe_or_null();

    if (!sqe)
        return -EPERM;
    io_uring_prep_connect(sqe, fd, addr, len);
    return await(sqe);
}

ssize_t ringo_await_send(int fd, const void *buf, size_t len, int flags)
{
    struct io_uring_sqe *sqe = sqe_or_null();

    if (!sqe)
        return -EPERM;
    io_uring_prep_send(sqe, fd, buf, len, flags | MSG_NOSIGNAL);
    return await(sqe);
}

ssize_t ringo_await_recv(int fd, void *buf, size_t len, int flags)
{
    struct io_uring_sqe *sqe = sqe_or_null();

    if (!sqe)
        return -EPERM;
    io_uring_prep_recv(sqe, fd, buf, len, flags);
    return await(sqe);
}

int ringo_await_poll(int fd, unsigned events)
{
    struct io_uring_sqe *sqe = sqe_or_null();

    if (!sqe)
        return -EPERM;
    io_uring_prep_poll_add(sqe, fd, events);
    return await(sqe);
}

/* Ops whose success is a new regular descriptor (not a direct one). */
static bool makes_fd(const struct io_uring_sqe *sqe)
{
    switch (sqe->opcode) {
    case IORING_OP_ACCEPT:
    case IORING_OP_OPENAT:
    case IORING_OP_OPENAT2:
    case IORING_OP_SOCKET: return sqe->file_index == 0;
    default: return false;
    }
}

/*
 * Newer than liburing 2.3's header, fixed by the kernel ABI: IORING_OP_READ_MULTISHOT
 * (Linux 6.7) and IORING_TIMEOUT_MULTISHOT (Linux 6.4).
 */
#define OP_READ_MULTISHOT 49
#define TIMEOUT_MULTISHOT (1U << 6)

/* Ops that go on posting results: one await cannot return them all. */
static bool multishot(const struct io_uring_sqe *sqe)
{
    switch (sqe->opcode) {
    case OP_READ_MULTISHOT: return true;
    case IORING_OP_TIMEOUT: return sqe->timeout_flags & TIMEOUT_MULTISHOT;
    case IORING_OP_ACCEPT: return sqe->ioprio & IORING_ACCEPT_MULTISHOT;
    case IORING_OP_RECV:
    case IORING_OP_RECVMSG: return sqe->ioprio & IORING_RECV_MULTISHOT;
    case IORING_OP_POLL_ADD: return sqe->len & IORING_POLL_ADD_MULTI;
    default: return false;
    }
}

int ringo_await_sqe(void (*prep)(struct io_uring_sqe *sqe, void *arg), void *arg)
{
    struct io_uring_sqe *sqe = sqe_or_null();
    bool fd_op;
    int ret;

    if (!sqe)
        return -EPERM;
    prep(sqe, arg);
    if (multishot(sqe)) {
        io_uring_prep_nop(sqe); /* the slot is taken: it goes in as a no-op */
        io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
        return -EINVAL;
    }
    fd_op = makes_fd(sqe); /* read now: the slot is reused once submitted */
    ret = await(sqe);
    /* Cancelled as it completed: nobody will ever see the descriptor. */
    if (ret == -ECANCELED && fd_op && ringo__fiber_current()->last_res >= 0)
        close(ringo__fiber_current()->last_res);
    return ret;
}
