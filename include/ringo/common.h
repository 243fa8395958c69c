/*
 * ringo/common.h - value types and conventions shared by every module.
 *
 * Every call that can fail returns an int (or ssize_t): >= 0 on success or a
 * count, -errno on failure. Three failures are ringo's own and have values
 * outside the errno range, so that no errno a handler passes on can be
 * mistaken for them: RINGO_EHTTP, RINGO_EVALIDATION and RINGO_EIOURING below.
 * ringo_strerror() turns any of these values into text.
 */
#ifndef RINGO_COMMON_H
#define RINGO_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(RINGO_BUILDING)
#define RINGO_API __attribute__((visibility("default")))
#else
#define RINGO_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed byte string: not NUL-terminated unless stated; lifetime is the
 * lifetime of whatever it was taken from (usually the request). */
typedef struct ringo_str {
    const char *ptr;
    size_t len;
} ringo_str;

/* Handler modes. RINGO_SYNC (the default) may block and runs on the thread
 * pool; RINGO_ASYNC runs on the connection's ring thread and must not block
 * (it awaits I/O through ringo/await.h instead). */
typedef enum ringo_mode {
    RINGO_SYNC = 0,
    RINGO_ASYNC = 1,
} ringo_mode;

/*
 * The request already carries its HTTP error answer: ringo_fail() set it
 * (ringo/response.h) and returns this value for the handler, dependency or
 * middleware to return as is. The executor then skips what is left of the
 * request and sends that answer.
 */
#define RINGO_EHTTP (-20001)

/*
 * A ringo_param_*() getter (ringo/params.h) recorded a validation error and
 * returned this value. A handler or dependency that returns it answers 422
 * with every recorded error; returned with no error recorded, it is a 500.
 */
#define RINGO_EVALIDATION (-20002)

/*
 * io_uring is refused to this process: ringo_app_start() found that
 * io_uring_setup, io_uring_enter or io_uring_register fails with EPERM,
 * EACCES, ENOSYS or EOPNOTSUPP (the sysctl kernel.io_uring_disabled, a
 * seccomp filter, a security module, a kernel without io_uring) and printed
 * the cause and the fix (docs/operations.md "io_uring refused").
 */
#define RINGO_EIOURING (-20003)

/* Text for a -errno (or errno) value, RINGO_EHTTP, RINGO_EVALIDATION or RINGO_EIOURING.
 * Never NULL; the string is static. */
RINGO_API const char *ringo_strerror(int err);

/* Inline bodies. */

static inline ringo_str ringo_str_c(const char *s)
{
    ringo_str r = {s, s ? strlen(s) : 0};
    return r;
}

#define RINGO_STR_LIT(s) ((ringo_str){(s), sizeof(s) - 1})

static inline int ringo_str_eq(ringo_str a, ringo_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

#ifdef __cplusplus
}
#endif
#endif
