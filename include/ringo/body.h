/*
 * ringo/body.h - reading a request body as it arrives, and spooling it to a
 * file.
 *
 * By default a body is read whole before the handler runs (up to
 * max_body_bytes, 413 past it) and ringo_req_body() returns it. A route
 * registered with RINGO_ROUTE_STREAM_BODY (ringo/app.h) runs its handler as
 * soon as the head is in, and the handler reads the body in pieces:
 *
 * - Memory: at most ringo_config.stream_window bytes (64 KiB by default) wait
 *   for the handler; past that ringo stops reading the socket (backpressure
 *   reaches the client through TCP).
 * - Limits: the route's max_body_bytes (or the app's) is enforced as data
 *   arrives: a read past it returns -EMSGSIZE and the answer is 413, then the
 *   connection closes. A malformed chunked body: -EBADMSG, 400.
 * - Time: the route's body_timeout_ms (or the app's) bounds the wait for the
 *   next bytes, restarted whenever data arrives (a slow upload of many GiB
 *   is fine as long as it moves): -ETIMEDOUT, 408.
 * - Expect: 100-continue is answered when the handler first reads.
 * - A body the handler does not read to the end is never taken for the next
 *   request: the connection closes after the answer.
 * - Whatever the handler answers, a body error (413, 400, 408) is the
 *   answer; the handler's headers and body are dropped.
 *
 * Calls are valid from the request's handler (or its dependencies) on its
 * coroutine (RINGO_ASYNC: a read suspends until data arrives) or its pool
 * worker (RINGO_SYNC: a read blocks the worker); elsewhere -EPERM. On routes
 * without the flag they read the buffered body the same way, so a handler
 * can be written once for both.
 */
#ifndef RINGO_BODY_H
#define RINGO_BODY_H

#include <stdint.h>
#include <sys/types.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Reads up to len bytes of the body into buf. Returns the count (> 0); 0 at
 * the end of the body (and for len 0, as read(2)); -ECANCELED (the client
 * left, the deadline passed, or shutdown passed its drain timeout);
 * -EMSGSIZE (past the body limit: 413); -EBADMSG (malformed framing: 400);
 * -ETIMEDOUT (the body timeout: 408); -EIO (a sync handler's request for
 * more could not reach the ring: 503); -EPERM.
 */
RINGO_API ssize_t ringo_req_read(ringo_req *req, void *buf, size_t len);

/* Options of ringo_req_spool(); zero them (designated initializers) before use. */
typedef struct ringo_spool_opts {
    const char *dir; /* where the file goes; NULL: $TMPDIR, else /tmp */
    /* Sees each piece of the body as it is written (e.g. to hash it); may be NULL. */
    void (*tap)(const void *data, size_t len, void *arg);
    void *tap_arg;
    uint64_t reserved[2]; /* zero */
} ringo_spool_opts;

/*
 * Writes the rest of the body to a new unnamed temporary file (O_TMPFILE;
 * where the file system lacks it, a created and at once unlinked file) with
 * io_uring writes on an async handler's ring, write(2) on a worker, in
 * pieces of at most the stream window: a 1 GiB upload costs bounded memory.
 * On success *fd is the file (the caller owns and closes it; its offset is
 * 0) and *size its length. opts may be NULL. Returns 0 or an error of
 * ringo_req_read(), -EINVAL (nonzero reserved), or the errno of creating or
 * writing the file (nothing is left behind: the file never had a name).
 */
RINGO_API int ringo_req_spool(ringo_req *req, const ringo_spool_opts *opts, int *fd,
                              uint64_t *size);

#ifdef __cplusplus
}
#endif
#endif
