/*
 * ringo/file.h - answering with a file (FastAPI's FileResponse).
 *
 * ringo_resp_file() makes a range of an open file the response body. The
 * handler returns as usual; ringo sends the status and headers set so far
 * with Content-Length: len, then the file's bytes from the ring without a
 * copy through user space where the kernel allows it (see docs/api.md,
 * "Sending files"). Middleware after() hooks run before the head is sent
 * and may still add headers. The body follows the rules of streamed
 * responses (ringo/stream.h): at most the stream window unsent, a client
 * that stops reading is dropped after send_timeout_ms, a hang-up stops the
 * sending and runs the teardowns. HEAD gets the head only.
 *
 * Valid from a handler of either mode (or its dependencies or middleware
 * before the body is sent); elsewhere -EPERM.
 */
#ifndef RINGO_FILE_H
#define RINGO_FILE_H

#include <stdint.h>

#include "ringo/app.h"
#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ringo_resp_file() flags. */
#define RINGO_FILE_CLOSE 1u /* ringo closes fd when the request ends, whatever happened */

/*
 * The body is len bytes of fd from offset (fd must support pread and,
 * for the zero-copy path, splice: a regular file). A file shorter than
 * offset + len when it is sent cuts the response (the connection closes
 * after the bytes sent) and is logged. Replaces a body set before. Returns
 * 0; -EINVAL (unknown flags, negative fd, offset + len past INT64_MAX);
 * -EALREADY (a streamed response
 * started); -EPERM; -ENOMEM. With RINGO_FILE_CLOSE fd is closed even when
 * this fails.
 */
RINGO_API int ringo_resp_file(ringo_req *req, int fd, uint64_t offset, uint64_t len,
                              unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
