/*
 * ringo/check.h - can this host run ringo, and what limits it.
 *
 * ringo_check() runs the start-up probe and reads the kernel's limits
 * without starting anything, and writes one verdict per item: what the
 * demo's `ringo --check` prints. Use it in an application's own --check, a
 * container's start-up or a deployment test.
 */
#ifndef RINGO_CHECK_H
#define RINGO_CHECK_H

#include <stdio.h>

#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ringo_config;

/* A check item's verdict, and ringo_check()'s result: the worst of them. */
typedef enum ringo_check_verdict {
    RINGO_CHECK_OK = 0,   /* as ringo needs it */
    RINGO_CHECK_WARN = 1, /* ringo runs, with a limit or a slower path; the fix says how */
    RINGO_CHECK_FAIL = 2, /* ringo cannot start (or the item's feature cannot work) */
} ringo_check_verdict;

/*
 * Checks this host for an app configured as *cfg (NULL: the defaults; its
 * threads, max_conns and backlog size the limits): the kernel version;
 * whether io_uring_setup, io_uring_enter and io_uring_register are allowed
 * (the same probe as ringo_app_start(), with the cause and fix of a refusal);
 * the setup flags, features and opcodes ringo uses (SINGLE_ISSUER,
 * DEFER_TASKRUN, provided-buffer rings, multishot accept and recv, the
 * MSG_RING hand-back mode); RLIMIT_NOFILE, RLIMIT_MEMLOCK,
 * vm.max_map_count, net.core.somaxconn, net.ipv4.tcp_migrate_req; and
 * whether the kernel offers the "tls" TCP ULP (kTLS).
 *
 * Writes to out (NULL: nothing) one line per item, "<verdict> <item>
 * <detail>" with verdict ok, warn or fail, each warn and fail followed by a
 * line "      fix: <what to do>", and a last line "verdict: <worst>". To get
 * the text in memory, pass open_memstream() or fmemopen(). Nothing else is
 * changed (RLIMIT_NOFILE is not raised; ringo_app_start() does that).
 * Returns the worst verdict (RINGO_CHECK_OK, _WARN, _FAIL), or
 * RINGO_EIOURING when io_uring itself is refused (the other items are still
 * written).
 */
RINGO_API int ringo_check(FILE *out, const struct ringo_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
