/*
 * core/probe.c - try every kind of io_uring call; explain a refusal.
 */
#include "core/probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/util.h"

#define CAP_SYS_ADMIN_BIT 21
#define PROBE_BGID 0x7e57 /* a group id no ring uses during the probe */

static int enter_nop(struct io_uring *ring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    struct io_uring_cqe *cqe;
    int ret;

    io_uring_prep_nop(sqe);
    ret = io_uring_submit_and_wait(ring, 1);
    if (ret < 0)
        return ret;
    ret = io_uring_peek_cqe(ring, &cqe);
    if (ret < 0)
        return ret;
    ret = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return ret;
}

/* One entry is enough to prove IORING_REGISTER_PBUF_RING works (Linux 5.19). */
static int register_buf_ring(struct io_uring *ring)
{
    struct io_uring_buf_reg reg = {0};
    long page = sysconf(_SC_PAGESIZE);
    void *mem =
        mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    int ret;

    if (mem == MAP_FAILED)
        return -ENOMEM;
    reg.ring_addr = (uint64_t)(uintptr_t)mem;
    reg.ring_entries = 1;
    reg.bgid = PROBE_BGID;
    ret = io_uring_register_buf_ring(ring, &reg, 0);
    if (ret == 0)
        io_uring_unregister_buf_ring(ring, PROBE_BGID);
    munmap(mem, (size_t)page);
    return ret;
}

static int register_probe(struct io_uring *ring)
{
    struct io_uring_probe *p = calloc(1, sizeof(*p) + 256 * sizeof(struct io_uring_probe_op));
    int ret;

    if (!p)
        return -ENOMEM;
    ret = io_uring_register_probe(ring, p, 256);
    free(p);
    return ret;
}

int ringo__uring_try(struct io_uring *ring, const char **step, const char **what)
{
    struct io_uring_params p;
    const char *w;
    int ret;

    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    *step = RINGO__STEP_SETUP;
    w = "a ring with SINGLE_ISSUER | DEFER_TASKRUN";
    ret = io_uring_queue_init_params(8, ring, &p);
    if (ret < 0)
        goto out;
    *step = RINGO__STEP_ENTER;
    w = "a NOP submitted and reaped";
    ret = enter_nop(ring);
    if (ret == 0) {
        *step = RINGO__STEP_REGISTER;
        w = "the opcode probe";
        ret = register_probe(ring);
    }
    if (ret == 0) {
        w = "a provided-buffer ring";
        ret = register_buf_ring(ring);
    }
    if (ret < 0)
        io_uring_queue_exit(ring);
out:
    if (what)
        *what = w;
    return ret < 0 ? ret : 0;
}

bool ringo__uring_refused(int err)
{
    return err == -EPERM || err == -EACCES || err == -ENOSYS || err == -EOPNOTSUPP;
}

static int has_gid(gid_t g)
{
    gid_t groups[256];
    int n = getgroups(256, groups);

    if (getegid() == g)
        return 1;
    for (int i = 0; i < n; i++)
        if (groups[i] == g)
            return 1;
    return 0;
}

/* Seccomp: and CapEff: of /proc/self/status. */
static void read_status(ringo__uring_facts *f)
{
    FILE *st = fopen("/proc/self/status", "re");
    char line[256];

    if (!st)
        return;
    while (fgets(line, sizeof(line), st)) {
        unsigned long long caps;
        if (sscanf(line, "Seccomp: %d", &f->seccomp) == 1)
            continue;
        if (sscanf(line, "CapEff: %llx", &caps) == 1)
            f->sys_admin = (int)((caps >> CAP_SYS_ADMIN_BIT) & 1);
    }
    fclose(st);
}

void ringo__uring_facts_read(ringo__uring_facts *f)
{
    char ver[256];

    f->disabled = (int)ringo__read_long("/proc/sys/kernel/io_uring_disabled", -1);
    f->group = ringo__read_long("/proc/sys/kernel/io_uring_group", -1);
    f->in_group = f->group >= 0 && has_gid((gid_t)f->group);
    f->sys_admin = -1;
    f->seccomp = -1;
    read_status(f);
    /* gVisor's Sentry presents an old kernel version and no io_uring. */
    ringo__read_line("/proc/version", ver, sizeof(ver));
    f->sandbox = strstr(ver, "gVisor") != NULL || access("/proc/self/gvisor", F_OK) == 0;
}

#define SECCOMP_FIX                                                                                \
    "run with a seccomp profile that allows io_uring_setup, io_uring_enter and "                   \
    "io_uring_register, such as ringo's examples/seccomp/ringo.json (docker/podman run "           \
    "--security-opt seccomp=ringo.json; Kubernetes: securityContext.seccompProfile of type "       \
    "Localhost)"

const char *ringo__uring_explain(int err, const char *step, const ringo__uring_facts *f, char *buf,
                                 size_t len)
{
    int n = snprintf(buf, len, "%s failed (%s): ", step, strerror(-err));
    size_t off = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
    char group[32] = "no group is set";
    bool setup = strcmp(step, RINGO__STEP_SETUP) == 0;

    if (f->group >= 0)
        snprintf(group, sizeof(group), "gid %ld", f->group);
    if (f->disabled == 2 && setup)
        snprintf(buf + off, len - off,
                 "sysctl kernel.io_uring_disabled = 2 turns io_uring off for every process. "
                 "Fix: on the host, sysctl -w kernel.io_uring_disabled=0 (and in /etc/sysctl.d/ "
                 "to keep it)");
    else if (f->disabled == 1 && setup && f->sys_admin != 1 && !f->in_group)
        snprintf(buf + off, len - off,
                 "sysctl kernel.io_uring_disabled = 1 allows io_uring only to processes with "
                 "CAP_SYS_ADMIN or in the group kernel.io_uring_group (%s), and this one is "
                 "neither. Fix: run it in that group (systemd: SupplementaryGroups=), set "
                 "kernel.io_uring_group to its group, or sysctl -w kernel.io_uring_disabled=0",
                 group);
    else if (f->seccomp == 2)
        snprintf(buf + off, len - off,
                 "a seccomp filter denies it (Seccomp: 2 in /proc/self/status); the default "
                 "profiles of Docker >= 25, containerd >= 2 and Podman deny io_uring. "
                 "Fix: " SECCOMP_FIX);
    else if (f->sandbox)
        snprintf(buf + off, len - off,
                 "this is a gVisor sandbox, whose kernel has no usable io_uring (GKE Autopilot "
                 "and GKE Sandbox pods run in it). Fix: run on nodes with a Linux 6.1+ host "
                 "kernel (not a gVisor runtime class)");
    else if (err == -ENOSYS || err == -EOPNOTSUPP)
        snprintf(buf + off, len - off,
                 "this kernel has no io_uring (built without CONFIG_IO_URING, or a sandbox "
                 "kernel). Fix: a Linux 6.1+ kernel with io_uring");
    else
        snprintf(buf + off, len - off,
                 "no sysctl or seccomp filter refuses it here, so a security module (SELinux's "
                 "io_uring class, AppArmor) or a sandbox does. Fix: allow io_uring in that "
                 "policy");
    return buf;
}
