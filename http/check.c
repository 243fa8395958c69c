/*
 * http/check.c - ringo_check(): the host, io_uring and the limits, one verdict each.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/probe.h"
#include "core/server.h"
#include "core/tls.h"
#include "core/util.h"
#include "pool/msgring.h"
#include "ringo/app.h"
#include "ringo/check.h"

#define FD_RESERVE 64     /* as core/server.c keeps */
#define MAPS_RESERVE 1000 /* mappings of the binary, libraries, rings, buffers */
#define MAPS_PER_STACK 2  /* a coroutine stack and its guard page */
#define DEFAULT_BACKLOG 4096

typedef struct check {
    FILE *out;
    int worst;
    unsigned warns, fails;
    unsigned kmajor, kminor;
} check;

static void item(check *c, int verdict, const char *name, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void item(check *c, int verdict, const char *name, const char *fix, const char *fmt, ...)
{
    static const char *const words[] = {"ok", "warn", "fail"};
    va_list ap;

    if (verdict > c->worst)
        c->worst = verdict;
    c->warns += verdict == RINGO_CHECK_WARN;
    c->fails += verdict == RINGO_CHECK_FAIL;
    if (!c->out)
        return;
    fprintf(c->out, "%-5s %-24s ", words[verdict], name);
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
    fputc('\n', c->out);
    if (verdict != RINGO_CHECK_OK && fix)
        fprintf(c->out, "      fix: %s\n", fix);
}

static int kernel_at_least(const check *c, unsigned major, unsigned minor)
{
    return c->kmajor > major || (c->kmajor == major && c->kminor >= minor);
}

static void check_kernel(check *c)
{
    struct utsname u;

    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &c->kmajor, &c->kminor) != 2) {
        item(c, RINGO_CHECK_WARN, "kernel", NULL, "version unknown");
        return;
    }
    if (!kernel_at_least(c, 6, 1))
        item(c, RINGO_CHECK_FAIL, "kernel", "Linux 6.1 or newer (IORING_SETUP_DEFER_TASKRUN)",
             "Linux %s %s: too old", u.release, u.machine);
    else
        item(c, RINGO_CHECK_OK, "kernel", NULL, "Linux %s %s (6.1+ required)", u.release,
             u.machine);
}

/* The opcodes ringo submits: the core's (fail without) and the await API's or files' (warn). */
static void check_opcodes(check *c, struct io_uring *ring)
{
    static const struct {
        int op;
        const char *name;
        int core;
    } ops[] = {
        {IORING_OP_ACCEPT, "ACCEPT", 1},
        {IORING_OP_RECV, "RECV", 1},
        {IORING_OP_SEND, "SEND", 1},
        {IORING_OP_TIMEOUT, "TIMEOUT", 1},
        {IORING_OP_TIMEOUT_REMOVE, "TIMEOUT_REMOVE", 1},
        {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT", 1},
        {IORING_OP_POLL_ADD, "POLL_ADD", 1},
        {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL", 1},
        {IORING_OP_MSG_RING, "MSG_RING", 1},
        {IORING_OP_NOP, "NOP", 1},
        {IORING_OP_SPLICE, "SPLICE", 0},
        {IORING_OP_OPENAT, "OPENAT", 0},
        {IORING_OP_OPENAT2, "OPENAT2", 0},
        {IORING_OP_STATX, "STATX", 0},
        {IORING_OP_READ, "READ", 0},
        {IORING_OP_WRITE, "WRITE", 0},
        {IORING_OP_CLOSE, "CLOSE", 0},
        {IORING_OP_CONNECT, "CONNECT", 0},
        {IORING_OP_SOCKET, "SOCKET", 0},
    };
    struct io_uring_probe *p = io_uring_get_probe_ring(ring);
    char missing[256] = "";
    int verdict = RINGO_CHECK_OK;
    size_t n = sizeof(ops) / sizeof(ops[0]), have = 0, off = 0;

    for (size_t i = 0; p && i < n; i++) {
        if (io_uring_opcode_supported(p, ops[i].op)) {
            have++;
            continue;
        }
        if (ops[i].core || verdict == RINGO_CHECK_OK)
            verdict = ops[i].core ? RINGO_CHECK_FAIL : RINGO_CHECK_WARN;
        off += (size_t)snprintf(missing + off, off < sizeof(missing) ? sizeof(missing) - off : 0,
                                " %s", ops[i].name);
        if (off >= sizeof(missing))
            off = sizeof(missing) - 1;
    }
    io_uring_free_probe(p);
    if (!p)
        item(c, RINGO_CHECK_FAIL, "io_uring opcodes", "a newer kernel", "the probe failed");
    else
        item(c, verdict, "io_uring opcodes", "a newer kernel", "%zu of %zu ringo uses%s%s", have, n,
             *missing ? "; missing:" : "", missing);
}

static void check_features(check *c, struct io_uring *ring)
{
    unsigned f = ring->features;
    int ok = (f & IORING_FEAT_NODROP) && (f & IORING_FEAT_FAST_POLL);

    item(c, ok ? RINGO_CHECK_OK : RINGO_CHECK_FAIL, "io_uring features", "a newer kernel",
         "NODROP %s, FAST_POLL %s, EXT_ARG %s, MIN_TIMEOUT %s (batched waits)",
         f & IORING_FEAT_NODROP ? "yes" : "no", f & IORING_FEAT_FAST_POLL ? "yes" : "no",
         f & IORING_FEAT_EXT_ARG ? "yes" : "no", f & (1U << 15) ? "yes" : "no");
    item(c, RINGO_CHECK_OK, "setup flags", NULL, "SINGLE_ISSUER | DEFER_TASKRUN accepted");
    item(c, RINGO_CHECK_OK, "provided-buffer rings", NULL,
         "IORING_REGISTER_PBUF_RING registered and dropped");
    /* No probe answers for multishot flags: they came with these kernels. */
    item(c, kernel_at_least(c, 5, 19) ? RINGO_CHECK_OK : RINGO_CHECK_FAIL, "multishot accept",
         "Linux 5.19 or newer", "IORING_ACCEPT_MULTISHOT (Linux 5.19+)");
    item(c, kernel_at_least(c, 6, 0) ? RINGO_CHECK_OK : RINGO_CHECK_FAIL, "multishot recv",
         "Linux 6.0 or newer", "IORING_RECV_MULTISHOT (Linux 6.0+)");
}

static void check_msgring(check *c)
{
    int mode = ringo__msgring_probe();

    if (mode == RINGO__MSGRING_REGISTERED)
        item(c, RINGO_CHECK_OK, "MSG_RING hand-back", NULL,
             "registered (IORING_REGISTER_SEND_MSG_RING, Linux 6.13+): pool workers post "
             "without a ring of their own");
    else if (mode == RINGO__MSGRING_FALLBACK)
        item(c, RINGO_CHECK_WARN, "MSG_RING hand-back",
             "Linux 6.13 or newer posts without a ring per worker",
             "fallback: a small ring per pool worker (2 descriptors and a mapping each)");
    else
        item(c, RINGO_CHECK_FAIL, "MSG_RING hand-back", "Linux 5.18 or newer with io_uring",
             "unusable: %s", strerror(-mode));
}

/* io_uring itself; the items that need a ring when it works. */
static int check_io_uring(check *c)
{
    ringo__uring_facts f;
    struct io_uring ring;
    const char *step, *what;
    char why[1024];
    int ret = ringo__uring_try(&ring, &step, &what);

    ringo__uring_facts_read(&f);
    if (ret < 0 && ringo__uring_refused(ret)) {
        char *fix;
        ringo__uring_explain(ret, step, &f, why, sizeof(why));
        fix = strstr(why, ". Fix: "); /* the fix goes on its own line */
        if (fix) {
            *fix = '\0';
            fix += 7;
        }
        item(c, RINGO_CHECK_FAIL, "io_uring", fix, "refused: %s", why);
        return RINGO_EIOURING;
    }
    if (ret < 0) {
        item(c, RINGO_CHECK_FAIL, "io_uring", "Linux 6.1 or newer", "%s: %s failed: %s", what, step,
             strerror(-ret));
        return 0;
    }
    item(c, RINGO_CHECK_OK, "io_uring", NULL,
         "setup, enter and register allowed (kernel.io_uring_disabled = %d, Seccomp: %d)",
         f.disabled, f.seccomp);
    check_features(c, &ring);
    check_opcodes(c, &ring);
    io_uring_queue_exit(&ring);
    check_msgring(c);
    return 0;
}

static void check_nofile(check *c, unsigned threads, uint32_t max_conns)
{
    struct rlimit rl;
    unsigned long long want = (unsigned long long)threads * max_conns + FD_RESERVE;
    char fix[160];

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        item(c, RINGO_CHECK_WARN, "RLIMIT_NOFILE", NULL, "unknown: %s", strerror(errno));
        return;
    }
    snprintf(fix, sizeof(fix),
             "raise the hard limit to %llu or more (systemd LimitNOFILE=, docker --ulimit "
             "nofile=, ulimit -Hn as root)",
             want);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        item(c, RINGO_CHECK_WARN, "RLIMIT_NOFILE", fix,
             "hard limit %llu: %llu connections per ring, not %u (%u rings)",
             (unsigned long long)rl.rlim_max,
             rl.rlim_max > FD_RESERVE * 2 ? (unsigned long long)(rl.rlim_max - FD_RESERVE) / threads
                                          : 16ULL,
             max_conns, threads);
    else
        item(c, RINGO_CHECK_OK, "RLIMIT_NOFILE", NULL,
             "hard limit %llu: %u connections on each of %u rings (the soft limit is raised to it)",
             (unsigned long long)rl.rlim_max, max_conns, threads);
}

static void check_memlock(check *c)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
        return;
    /* Since 5.12 rings and provided-buffer rings are charged to the memory cgroup. */
    if (rl.rlim_cur == RLIM_INFINITY)
        item(c, RINGO_CHECK_OK, "RLIMIT_MEMLOCK", NULL, "unlimited");
    else
        item(c, RINGO_CHECK_OK, "RLIMIT_MEMLOCK", NULL,
             "%llu KiB: not charged for rings or buffer rings since Linux 5.12",
             (unsigned long long)rl.rlim_cur / 1024);
}

static void check_sysctls(check *c, unsigned threads, uint32_t max_conns, int backlog)
{
    long maps = ringo__read_long("/proc/sys/vm/max_map_count", -1);
    long somax = ringo__read_long("/proc/sys/net/core/somaxconn", -1);
    long migrate = ringo__read_long("/proc/sys/net/ipv4/tcp_migrate_req", -1);
    unsigned long long stacks =
        maps > MAPS_RESERVE ? (unsigned long long)(maps - MAPS_RESERVE) / MAPS_PER_STACK : 0;
    unsigned long long conns = (unsigned long long)threads * max_conns;

    if (maps < 0)
        item(c, RINGO_CHECK_WARN, "vm.max_map_count", NULL, "unreadable");
    else
        item(c, stacks >= conns ? RINGO_CHECK_OK : RINGO_CHECK_WARN, "vm.max_map_count",
             "sysctl -w vm.max_map_count=262144 (or more: two mappings per suspended async "
             "handler)",
             "%ld: about %llu suspended async handlers at once (%llu connections)", maps, stacks,
             conns);
    if (somax < 0)
        item(c, RINGO_CHECK_WARN, "net.core.somaxconn", NULL, "unreadable");
    else
        item(c, somax >= backlog ? RINGO_CHECK_OK : RINGO_CHECK_WARN, "net.core.somaxconn",
             "sysctl -w net.core.somaxconn=4096 (per network namespace: a container's own)",
             "%ld: listen backlog %ld (ringo asks for %d)", somax,
             somax < backlog ? somax : backlog, backlog);
    if (migrate < 0)
        item(c, RINGO_CHECK_WARN, "net.ipv4.tcp_migrate_req", "Linux 5.14 or newer",
             "unavailable: a restart on the same port resets connections queued on the old "
             "listener");
    else
        item(c, migrate ? RINGO_CHECK_OK : RINGO_CHECK_WARN, "net.ipv4.tcp_migrate_req",
             "sysctl -w net.ipv4.tcp_migrate_req=1",
             migrate ? "1: a closing listener's queued connections move to another listener "
                       "of its port"
                     : "0: during a restart on the same port, connections queued on the old "
                       "listener are reset");
}

/* kTLS needs the "tls" upper-layer protocol: built in or module tls.ko. */
static void check_ktls(check *c)
{
    char ulp[256], words[256], path[320], *save = NULL;
    struct utsname u;

    ringo__read_line("/proc/sys/net/ipv4/tcp_available_ulp", ulp, sizeof(ulp));
    strcpy(words, ulp);
    for (char *t = strtok_r(words, " ", &save); t; t = strtok_r(NULL, " ", &save))
        if (!strcmp(t, "tls")) {
            char ciphers[256];
            ringo__ktls_ciphers(ciphers, sizeof(ciphers));
            item(c, RINGO_CHECK_OK, "kTLS", NULL, "the tls TCP ULP is available (%s); %s", ulp,
                 ciphers[0] ? ciphers : "a build without TLS");
            return;
        }
    snprintf(path, sizeof(path), "/lib/modules/%s/kernel/net/tls", uname(&u) == 0 ? u.release : "");
    if (access(path, F_OK) == 0)
        item(c, RINGO_CHECK_WARN, "kTLS", "modprobe tls (on the host), or tls in /etc/modules",
             "the tls TCP ULP is not loaded (available: %s); needed for kernel TLS only",
             ulp[0] ? ulp : "none");
    else
        item(c, RINGO_CHECK_WARN, "kTLS", "a kernel built with CONFIG_TLS",
             "no tls TCP ULP (available: %s); needed for kernel TLS only", ulp[0] ? ulp : "none");
}

int ringo_check(FILE *out, const struct ringo_config *cfg)
{
    ringo_config dflt;
    check c = {.out = out};
    unsigned threads;
    uint32_t max_conns;
    int backlog, ret;

    if (!cfg) {
        ringo_config_init(&dflt);
        cfg = &dflt;
    }
    threads = ringo__server_threads(cfg);
    max_conns = cfg->max_conns ? cfg->max_conns : 16384;
    backlog = cfg->backlog > 0 ? cfg->backlog : DEFAULT_BACKLOG;
    check_kernel(&c);
    ret = check_io_uring(&c);
    check_nofile(&c, threads, max_conns);
    check_memlock(&c);
    check_sysctls(&c, threads, max_conns, backlog);
    check_ktls(&c);
    if (out)
        fprintf(out, "verdict: %s (%u warnings, %u failures)\n",
                c.worst == RINGO_CHECK_FAIL   ? "fail"
                : c.worst == RINGO_CHECK_WARN ? "warn"
                                              : "ok",
                c.warns, c.fails);
    return ret < 0 ? ret : c.worst;
}
