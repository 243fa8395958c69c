/*
 * core/probe.h - can this process use io_uring, and when it cannot, why.
 *
 * io_uring is refused in more ways than a missing kernel: the sysctl
 * kernel.io_uring_disabled (1: only CAP_SYS_ADMIN and the group
 * kernel.io_uring_group; 2: nobody), a seccomp filter (the default profiles
 * of Docker >= 25, containerd >= 2 and Podman deny the three io_uring system
 * calls), a security module, or a sandbox kernel (gVisor) without it. A
 * filter may deny one call and allow the others, so the probe makes every
 * kind of call ringo makes, and the explanation names the one refused.
 */
#ifndef RINGO_CORE_PROBE_H
#define RINGO_CORE_PROBE_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>

/* The system call a probe step makes. */
#define RINGO__STEP_SETUP "io_uring_setup"
#define RINGO__STEP_ENTER "io_uring_enter"
#define RINGO__STEP_REGISTER "io_uring_register"

/*
 * Sets up *ring as the rings are (SINGLE_ISSUER | DEFER_TASKRUN), submits a
 * NOP and reaps it, reads the opcode probe and registers (then drops) a
 * provided-buffer ring. Returns 0 with *ring live (the caller exits it), or
 * -errno with *ring gone and *step set to the RINGO__STEP_* that failed;
 * *what (may be NULL) names the operation ("a provided-buffer ring").
 */
int ringo__uring_try(struct io_uring *ring, const char **step, const char **what);

/* True when err, from any io_uring call, means io_uring is refused to this
 * process rather than lacking a feature: -EPERM, -EACCES, -ENOSYS, -EOPNOTSUPP. */
bool ringo__uring_refused(int err);

/* What decides whether io_uring is allowed, read from /proc (-1: unknown). */
typedef struct ringo__uring_facts {
    int disabled;  /* /proc/sys/kernel/io_uring_disabled: 0, 1, 2; -1 before Linux 6.6 */
    long group;    /* /proc/sys/kernel/io_uring_group: a gid, -1 for none */
    int in_group;  /* this process has that gid (effective or supplementary) */
    int sys_admin; /* CAP_SYS_ADMIN is in the effective set */
    int seccomp;   /* "Seccomp:" of /proc/self/status: 0 none, 1 strict, 2 filter */
    int sandbox;   /* the kernel looks like gVisor's */
} ringo__uring_facts;

/* Reads the facts for this process. */
void ringo__uring_facts_read(ringo__uring_facts *f);

/*
 * Writes into buf (always NUL-terminated) one sentence naming why the
 * RINGO__STEP_* step failed with err given the facts, and the fix, as
 * "<step> failed (<error>): <cause>. Fix: <fix>". Returns buf.
 */
const char *ringo__uring_explain(int err, const char *step, const ringo__uring_facts *f, char *buf,
                                 size_t len);

#endif
