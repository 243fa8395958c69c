/*
 * Description: the start-up probe of core/probe.c. On this machine every
 * kind of io_uring call works (or the test skips); the explanation of a
 * refusal names the cause the facts point to, in the order an operator
 * should look: io_uring_disabled = 2, then = 1 without CAP_SYS_ADMIN or the
 * io_uring group, then a seccomp filter, a gVisor sandbox, a kernel without
 * io_uring, a security module; and names the call that failed.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "core/probe.h"

static const char *explain(int err, const char *step, ringo__uring_facts f)
{
    static char buf[1024];

    return ringo__uring_explain(err, step, &f, buf, sizeof(buf));
}

static const ringo__uring_facts open_host = {.disabled = 0, .group = -1, .seccomp = 0};

static void check_causes(void)
{
    ringo__uring_facts f = open_host;
    const char *s;

    f.disabled = 2;
    s = explain(-EPERM, RINGO__STEP_SETUP, f);
    CHECKF(strstr(s, "io_uring_setup failed (Operation not permitted)") == s, "%s", s);
    CHECKF(strstr(s, "kernel.io_uring_disabled = 2") && strstr(s, "Fix: "), "%s", s);

    f.disabled = 1;
    s = explain(-EPERM, RINGO__STEP_SETUP, f);
    CHECKF(strstr(s, "kernel.io_uring_disabled = 1") && strstr(s, "no group is set"), "%s", s);
    f.group = 1234;
    s = explain(-EPERM, RINGO__STEP_SETUP, f);
    CHECKF(strstr(s, "kernel.io_uring_group (gid 1234)") && strstr(s, "SupplementaryGroups="), "%s",
           s);
    /* In the group, or CAP_SYS_ADMIN: the sysctl is not why. */
    f.in_group = 1;
    s = explain(-EPERM, RINGO__STEP_SETUP, f);
    CHECKF(!strstr(s, "io_uring_disabled"), "%s", s);
    f.in_group = 0;
    f.sys_admin = 1;
    s = explain(-EPERM, RINGO__STEP_SETUP, f);
    CHECKF(!strstr(s, "io_uring_disabled"), "%s", s);

    f = open_host;
    f.seccomp = 2;
    s = explain(-ENOSYS, RINGO__STEP_ENTER, f);
    CHECKF(strstr(s, "io_uring_enter failed (Function not implemented)") == s, "%s", s);
    CHECKF(strstr(s, "seccomp filter") && strstr(s, "examples/seccomp/ringo.json"), "%s", s);
    /* The sysctl gates io_uring_setup only: a denied register is the filter's doing. */
    f.disabled = 1;
    s = explain(-EPERM, RINGO__STEP_REGISTER, f);
    CHECKF(strstr(s, "seccomp filter") && !strstr(s, "io_uring_disabled"), "%s", s);

    f = open_host;
    f.sandbox = 1;
    s = explain(-ENOSYS, RINGO__STEP_SETUP, f);
    CHECKF(strstr(s, "gVisor") && strstr(s, "GKE Autopilot"), "%s", s);
    f.sandbox = 0;
    s = explain(-ENOSYS, RINGO__STEP_SETUP, f);
    CHECKF(strstr(s, "CONFIG_IO_URING"), "%s", s);
    s = explain(-EACCES, RINGO__STEP_SETUP, f);
    CHECKF(strstr(s, "security module"), "%s", s);
}

static void check_refused(void)
{
    CHECK(ringo__uring_refused(-EPERM) && ringo__uring_refused(-EACCES));
    CHECK(ringo__uring_refused(-ENOSYS) && ringo__uring_refused(-EOPNOTSUPP));
    CHECK(!ringo__uring_refused(-EINVAL) && !ringo__uring_refused(-ENOMEM));
}

/* A short message buffer is cut, never overrun. */
static void check_truncation(void)
{
    ringo__uring_facts f = open_host;
    char buf[16];

    f.seccomp = 2;
    memset(buf, 'x', sizeof(buf));
    ringo__uring_explain(-ENOSYS, RINGO__STEP_SETUP, &f, buf, sizeof(buf));
    CHECK(strlen(buf) == sizeof(buf) - 1);
}

static void check_this_host(void)
{
    struct io_uring ring;
    const char *step = NULL, *what = NULL;
    int ret = ringo__uring_try(&ring, &step, &what);
    ringo__uring_facts f;

    ringo__uring_facts_read(&f);
    CHECK(f.seccomp >= 0 && f.sys_admin >= 0); /* /proc/self/status was read */
    if (ringo__uring_refused(ret)) {
        printf("skip: io_uring refused here: %s\n", strerror(-ret));
        exit(77);
    }
    CHECKF(ret == 0, "%s (%s): %s", step, what, strerror(-ret));
    io_uring_queue_exit(&ring);
}

int main(void)
{
    check_causes();
    check_refused();
    check_truncation();
    check_this_host();
    return 0;
}
