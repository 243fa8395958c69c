/*
 * ringo/await.h - I/O from RINGO_ASYNC handlers, written as straight-line C.
 *
 * Each call submits io_uring SQE(s) on the handler's ring, suspends the
 * handler's coroutine (the ring serves other connections meanwhile) and
 * returns the CQE's result: >= 0 on success, -errno on failure. They may
 * only be called from a RINGO_ASYNC handler (or code it calls); anywhere
 * else they return -EPERM without doing anything.
 *
 * Cancellation: when the client disconnects, or the route's deadline
 * expires, the pending operation is cancelled and this call, and every
 * later one in the same handler, returns -ECANCELED. Handlers should return
 * promptly on -ECANCELED. Buffers passed in must stay valid until the call
 * returns (they always do when they live on the handler's stack).
 *
 * Deadlines: ringo_await_timeout() bounds every following call of the
 * handler with a linked timeout: an operation still pending after ms
 * milliseconds is cancelled and returns -ETIMEDOUT.
 *
 * Name resolution blocks (getaddrinfo): give ringo_await_connect() numeric
 * addresses, or resolve in a RINGO_SYNC handler.
 */
#ifndef RINGO_AWAIT_H
#define RINGO_AWAIT_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct io_uring_sqe;
struct statx;

/* Sleeps ms milliseconds on an io_uring timeout (not bounded by
 * ringo_await_timeout()). Returns 0 or -ECANCELED. */
RINGO_API int ringo_await_sleep(uint64_t ms);

/* Per-call deadline for the following awaits of this handler; 0 removes it. */
RINGO_API void ringo_await_timeout(uint64_t ms);

/* openat(AT_FDCWD, path, flags, mode). Returns a descriptor the caller owns, or -errno. */
RINGO_API int ringo_await_open(const char *path, int flags, mode_t mode);

/* pread/pwrite at offset (-1: the file position). Return bytes or -errno. */
RINGO_API ssize_t ringo_await_read(int fd, void *buf, size_t len, int64_t offset);
RINGO_API ssize_t ringo_await_write(int fd, const void *buf, size_t len, int64_t offset);

/* statx(dirfd, path, flags, mask, out). Returns 0 or -errno. */
RINGO_API int ringo_await_statx(int dirfd, const char *path, int flags, unsigned mask,
                                struct statx *out);

/* Closes fd. Returns 0 or -errno (the descriptor is gone either way). */
RINGO_API int ringo_await_close(int fd);

/*
 * socket(2) with SOCK_CLOEXEC, for ringo_await_connect(). Named with the
 * awaits it is used with, but it never suspends: creating a socket does not
 * block, so it is a plain system call and may be called on any thread.
 * Returns a descriptor the caller owns, or -errno.
 */
RINGO_API int ringo_await_socket(int domain, int type, int protocol);

/* connect/send/recv on a socket the handler owns. Return 0 / bytes / -errno. */
RINGO_API int ringo_await_connect(int fd, const struct sockaddr *addr, socklen_t len);
RINGO_API ssize_t ringo_await_send(int fd, const void *buf, size_t len, int flags);
RINGO_API ssize_t ringo_await_recv(int fd, void *buf, size_t len, int flags);

/* Waits until fd is ready for events (POLLIN, POLLOUT...). Returns the ready mask or -errno. */
RINGO_API int ringo_await_poll(int fd, unsigned events);

/*
 * The escape hatch: prep(sqe, arg) fills an SQE of this ring (do not set its
 * user_data nor link flags). The handler suspends until the op's last CQE
 * (the first without IORING_CQE_F_MORE) and the FIRST CQE's res is returned:
 * for send_zc the bytes sent, after the notification that frees the buffer.
 * Multishot accept, recv, recvmsg, read, poll and timeouts are refused
 * (-EINVAL, nothing submitted): one call cannot return their stream of
 * results.
 * An accept, socket or openat that completes as the handler is cancelled
 * returns -ECANCELED and its new descriptor is closed (not a direct
 * descriptor: that slot stays the caller's).
 */
RINGO_API int ringo_await_sqe(void (*prep)(struct io_uring_sqe *sqe, void *arg), void *arg);

/* 1 inside a RINGO_ASYNC handler's coroutine, else 0. */
RINGO_API int ringo_in_async(void);

#ifdef __cplusplus
}
#endif
#endif
