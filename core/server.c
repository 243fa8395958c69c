/*
 * core/server.c - start the ring threads, stop them gracefully.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/probe.h"
#include "core/proxy.h"
#include "core/ring_impl.h"
#include "core/systemd.h"
#include "core/tls.h"

#define FD_RESERVE 64 /* descriptors kept for files, upstreams, the process */

/* Raises the soft descriptor limit to the hard one; returns the new soft limit. */
static uint64_t raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

unsigned ringo__server_threads(const ringo_config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    return cfg->threads ? cfg->threads : cpus > 0 ? (unsigned)cpus : 1;
}

static void resolve_config(ringo__server *s)
{
    ringo_config *c = &s->cfg;
    uint64_t nofile = raise_nofile(), per_ring;

    c->threads = ringo__server_threads(c);
    per_ring = nofile > FD_RESERVE * 2 ? (nofile - FD_RESERVE) / c->threads : 16;
    if (c->max_conns == 0 || c->max_conns > per_ring)
        c->max_conns = (uint32_t)(per_ring < UINT32_MAX ? per_ring : UINT32_MAX);
    if (c->backlog <= 0)
        c->backlog = 4096;
}

/* Fails early, in the caller's thread, with a message naming what is missing. */
int ringo__server_probe(const ringo__server *s)
{
    struct io_uring ring;
    struct io_uring_probe *probe;
    const char *step, *what;
    int ret, ops[] = {IORING_OP_ACCEPT,   IORING_OP_RECV,          IORING_OP_SEND,
                      IORING_OP_TIMEOUT,  IORING_OP_POLL_ADD,      IORING_OP_ASYNC_CANCEL,
                      IORING_OP_MSG_RING, IORING_OP_TIMEOUT_REMOVE};
    const char *names[] = {"IORING_OP_ACCEPT",   "IORING_OP_RECV",
                           "IORING_OP_SEND",     "IORING_OP_TIMEOUT",
                           "IORING_OP_POLL_ADD", "IORING_OP_ASYNC_CANCEL",
                           "IORING_OP_MSG_RING", "IORING_OP_TIMEOUT_REMOVE"};

    ret = ringo__uring_try(&ring, &step, &what);
    if (ret < 0 && ringo__uring_refused(ret)) {
        if (!s->cfg.quiet) {
            ringo__uring_facts f;
            char why[1024];
            ringo__uring_facts_read(&f);
            fprintf(stderr, "ringo: io_uring is unavailable: %s\n",
                    ringo__uring_explain(ret, step, &f, why, sizeof(why)));
        }
        return RINGO_EIOURING;
    }
    if (ret == -EINVAL) {
        if (!s->cfg.quiet)
            fprintf(stderr,
                    "ringo: the kernel lacks %s (%s: Invalid argument; Linux 6.1 or newer "
                    "is required)\n",
                    what, step);
        return -EOPNOTSUPP;
    }
    if (ret < 0)
        return ret;
    probe = io_uring_get_probe_ring(&ring);
    for (size_t i = 0; probe && i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (!io_uring_opcode_supported(probe, ops[i])) {
            if (!s->cfg.quiet)
                fprintf(stderr, "ringo: the kernel lacks io_uring opcode %s\n", names[i]);
            ret = -EOPNOTSUPP;
            break;
        }
    }
    io_uring_free_probe(probe);
    io_uring_queue_exit(&ring);
    return ret < 0 ? ret : 0;
}

/* Sharing the port with another process is asked for, never an accident. */
static int check_port_free(const ringo__server *s)
{
    int ret;

    if (!s->cfg.port || (s->cfg.deploy_flags & RINGO_DEPLOY_SHARE_PORT))
        return 0;
    ret = ringo__port_taken(&s->cfg, s->cfg.port);
    if (ret == 1 && !s->cfg.quiet)
        fprintf(stderr,
                "ringo: cannot listen on %s:%u: port already in use by another process; pass "
                "--reuse-port to share it (rolling restart; RINGO_DEPLOY_SHARE_PORT)\n",
                s->cfg.host, s->cfg.port);
    return ret == 1 ? -EADDRINUSE : 0; /* other errors: the bind itself reports them */
}

static void bound_address(ringo__server *s, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    s->family = ss.ss_family;
    if (ss.ss_family == AF_INET)
        s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/*
 * Socket activation: the rings share the sockets systemd passed, ring i
 * taking passed socket i % n (a dup of it, so each ring closes its own).
 * Several rings on one socket share its accept queue: the kernel wakes one
 * waiting accept per connection. Per-ring SO_REUSEPORT siblings would spread
 * connections more evenly, but they die with the process and reset their
 * queues; the socket systemd holds outlives a restart with its queue whole.
 * Returns 1 when sockets were passed, 0 when none, or -errno.
 */
static int adopt_listeners(ringo__server *s)
{
    int fds[64], n = ringo__sd_listen_fds(fds, 64);

    if (n < 0 || (unsigned)n > s->nrings) {
        if (!s->cfg.quiet)
            fprintf(stderr, "ringo: socket activation: %s\n",
                    n < 0 ? strerror(-n) : "more sockets passed than rings (raise --threads)");
        return n < 0 ? n : -EINVAL;
    }
    for (unsigned i = 0; i < s->nrings && n > 0; i++) {
        s->listen_fds[i] = i < (unsigned)n ? fds[i] : fcntl(fds[i % n], F_DUPFD_CLOEXEC, 0);
        if (s->listen_fds[i] < 0)
            return -errno;
    }
    if (n > 0) {
        bound_address(s, fds[0]);
        s->activated = true;
    }
    return n > 0;
}

static int open_listeners(ringo__server *s)
{
    uint16_t port = s->cfg.port;
    int ret;

    s->listen_fds = ringo__malloc(s->nrings * sizeof(int));
    if (!s->listen_fds)
        return -ENOMEM;
    for (unsigned i = 0; i < s->nrings; i++)
        s->listen_fds[i] = -1;
    if (s->cfg.deploy_flags & RINGO_DEPLOY_SYSTEMD) {
        ret = adopt_listeners(s);
        if (ret != 0)
            return ret < 0 ? ret : 0;
    }
    ret = check_port_free(s);
    if (ret < 0)
        return ret;
    for (unsigned i = 0; i < s->nrings; i++) {
        /* The first binds (port 0 picks one); the others join its port. */
        int fd = ringo__listen(&s->cfg, i ? s->port : port, &s->family, &s->port);
        if (fd < 0) {
            if (!s->cfg.quiet)
                fprintf(stderr, "ringo: cannot listen on %s:%u: %s\n",
                        s->cfg.host ? s->cfg.host : "0.0.0.0", i ? s->port : port, strerror(-fd));
            return fd;
        }
        s->listen_fds[i] = fd;
    }
    return 0;
}

static void cleanup(ringo__server *s)
{
    for (unsigned i = 0; s->listen_fds && i < s->nrings; i++) {
        ringo__ring *r = s->rings ? s->rings[i] : NULL;
        int fd = r ? r->listen_fd : s->listen_fds[i];
        if (fd >= 0)
            close(fd);
    }
    for (unsigned i = 0; s->rings && i < s->nrings; i++)
        ringo__ring_free(s->rings[i]);
    ringo__free(s->rings);
    ringo__free(s->listen_fds);
    s->rings = NULL;
    s->listen_fds = NULL;
    if (s->stop_efd >= 0)
        close(s->stop_efd);
    s->stop_efd = -1;
    if (s->reload_efd >= 0)
        close(s->reload_efd);
    s->reload_efd = -1;
    if (s->quit_efd >= 0)
        close(s->quit_efd);
    s->quit_efd = -1;
    if (s->wd_efd >= 0)
        close(s->wd_efd);
    s->wd_efd = -1;
    if (s->notify_fd >= 0)
        close(s->notify_fd);
    s->notify_fd = -1;
    sem_destroy(&s->ready);
}

/* The rings begin their drain (begin_stop() in core/ring.c). Async-signal-safe. */
static void begin_drain(ringo__server *s)
{
    uint64_t one = 1;

    if (atomic_exchange(&s->drain_begun, true) || s->stop_efd < 0)
        return;
    if (write(s->stop_efd, &one, sizeof(one)) < 0)
        return; /* the counter is already non-zero: nothing to do */
}

static int start_rings(ringo__server *s)
{
    int err = 0;
    unsigned started = 0;

    for (unsigned i = 0; i < s->nrings; i++) {
        ringo__ring *r = ringo__ring_new(s, i, s->listen_fds[i]);
        if (!r)
            return -ENOMEM;
        s->rings[i] = r;
    }
    for (unsigned i = 0; i < s->nrings; i++) {
        int ret = pthread_create(&s->rings[i]->thread, NULL, ringo__ring_main, s->rings[i]);
        if (ret) {
            err = -ret;
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++)
        sem_wait(&s->ready);
    for (unsigned i = 0; i < started && !err; i++)
        err = s->rings[i]->setup_err;
    if (err) {
        begin_drain(s);
        for (unsigned i = 0; i < started; i++)
            pthread_join(s->rings[i]->thread, NULL);
        if (!s->cfg.quiet)
            fprintf(stderr, "ringo: ring setup failed: %s\n", strerror(-err));
    }
    return err;
}

static void report_stalls(ringo__server *s, uint64_t *reported, uint64_t now)
{
    uint32_t limit = s->cfg.stall_warn_ms;

    for (unsigned i = 0; limit && i < s->nrings; i++) {
        ringo__ring *r = s->rings[i];
        const char *label = atomic_load_explicit(&r->wd_label, memory_order_acquire);
        uint64_t since = atomic_load_explicit(&r->wd_since, memory_order_relaxed);
        if (!label || now - since < limit || reported[i] == since)
            continue;
        reported[i] = since;
        atomic_fetch_add_explicit(&r->stats.ring_stalls, 1, memory_order_relaxed);
        fprintf(stderr,
                "ringo: ring %u stalled: handler '%s' has held it for %llu ms so far "
                "(threshold %u ms); every connection of this ring waits. Await "
                "instead of blocking, or declare the route RINGO_SYNC\n",
                i, label, (unsigned long long)(now - since), limit);
    }
}

/*
 * systemd's watchdog is fed only while every ring makes progress (the
 * liveness route's view: no handler has held a ring for live_stall_ms, no
 * ring loop failed): a stuck ring stops the pings, and systemd restarts the
 * service WatchdogSec after the last one.
 */
static void feed_systemd(ringo__server *s, uint64_t now, uint64_t *next)
{
    uint64_t limit = s->cfg.live_stall_ms ? s->cfg.live_stall_ms : UINT64_MAX, held;
    const char *label;

    if (!s->wd_usec || now < *next || ringo__server_stalled(s, limit, &label, &held) >= 0)
        return;
    ringo__sd_notify_send(s->notify_fd, &s->notify_addr, s->notify_len, "WATCHDOG=1");
    *next = now + s->wd_usec / 2000;
}

/*
 * The ring-stall watchdog. A handler that computes or blocks on a ring
 * stalls every connection of that core, and a stuck ring cannot time itself:
 * this thread reads the rings' stamps (label, since) a few times per
 * threshold and reports each stall once. It also feeds systemd's watchdog.
 * It runs until the rings are joined, the drain included.
 */
static void *watchdog_main(void *arg)
{
    ringo__server *s = arg;
    uint32_t limit = s->cfg.stall_warn_ms;
    uint64_t wd_ms = s->wd_usec / 2000, next = 0;
    int period = limit ? (int)(limit / 4 < 5 ? 5 : limit / 4) : 1000;
    uint64_t *reported = ringo__calloc(s->nrings, sizeof(uint64_t));
    struct pollfd pfd = {.fd = s->wd_efd, .events = POLLIN};

    if (wd_ms && (uint64_t)period > wd_ms / 2)
        period = (int)(wd_ms / 2 ? wd_ms / 2 : 1);
    while (reported && poll(&pfd, 1, period) <= 0) {
        uint64_t now = ringo__coarse_ms();
        report_stalls(s, reported, now);
        feed_systemd(s, now, &next);
    }
    ringo__free(reported);
    return NULL;
}

/* Opens $NOTIFY_SOCKET and reads $WATCHDOG_USEC (RINGO_DEPLOY_SYSTEMD). */
static void systemd_setup(ringo__server *s)
{
    int fd;

    if (!(s->cfg.deploy_flags & RINGO_DEPLOY_SYSTEMD))
        return;
    fd = ringo__sd_notify_open(&s->notify_addr, &s->notify_len);
    if (fd < 0 && fd != -ENOENT && !s->cfg.quiet)
        fprintf(stderr, "ringo: NOTIFY_SOCKET ignored: %s\n", strerror(-fd));
    s->notify_fd = fd < 0 ? -1 : fd;
    s->wd_usec = s->notify_fd >= 0 ? ringo__sd_watchdog_usec() : 0;
}

static void notify_ready(ringo__server *s)
{
    char msg[160];

    if (s->notify_fd < 0)
        return;
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving on %s:%u (%u rings)%s", s->cfg.host,
             s->port, s->nrings, s->activated ? ", sockets from systemd" : "");
    ringo__sd_notify_send(s->notify_fd, &s->notify_addr, s->notify_len, msg);
}

int ringo__server_start(ringo__server *s)
{
    int ret;

    signal(SIGPIPE, SIG_IGN); /* sends use MSG_NOSIGNAL; other code may not */
    resolve_config(s);
    s->nrings = s->cfg.threads;
    s->stop_efd = s->reload_efd = s->quit_efd = s->wd_efd = s->notify_fd = -1;
    atomic_store(&s->stop_requested, false);
    atomic_store(&s->drain_begun, false);
    if (sem_init(&s->ready, 0, 0) < 0)
        return -errno;
    ret = ringo__server_probe(s);
    if (ret < 0)
        goto fail;
    s->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->reload_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->quit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->wd_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->rings = ringo__calloc(s->nrings, sizeof(*s->rings));
    if (s->stop_efd < 0 || s->reload_efd < 0 || s->quit_efd < 0 || s->wd_efd < 0 || !s->rings) {
        ret = s->stop_efd < 0 || s->reload_efd < 0 || s->quit_efd < 0 || s->wd_efd < 0 ? -errno
                                                                                       : -ENOMEM;
        goto fail;
    }
    systemd_setup(s);
    ret = open_listeners(s);
    if (ret < 0)
        goto fail;
    ret = start_rings(s);
    if (ret < 0)
        goto fail;
    s->running = 1;
    if (s->cfg.stall_warn_ms || s->wd_usec)
        s->watchdog_started = pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0;
    notify_ready(s);
    return 0;
fail:
    cleanup(s);
    s->port = 0;
    return ret;
}

void ringo__server_stop(ringo__server *s)
{
    uint64_t one = 1;

    atomic_store(&s->stop_requested, true);
    /* Without a delay the rings drain at once, even before ringo__server_wait() runs. */
    if (!s->cfg.shutdown_delay_ms)
        begin_drain(s);
    if (s->quit_efd >= 0 && write(s->quit_efd, &one, sizeof(one)) < 0)
        return; /* the counter is already non-zero: nothing to do */
}

static struct timespec add_ms(struct timespec t, uint64_t ms)
{
    if (ms > (uint64_t)INT32_MAX * 1000) /* ~68 years: forever */
        ms = (uint64_t)INT32_MAX * 1000;
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

/* Joins the rings that exit by dl; returns how many are still running. */
static unsigned join_until(ringo__server *s, struct timespec dl)
{
    unsigned left = 0;

    for (unsigned i = 0; i < s->nrings; i++) {
        ringo__ring *r = s->rings[i];
        if (!r->joined && pthread_timedjoin_np(r->thread, NULL, &dl) == 0)
            r->joined = true;
        left += !r->joined;
    }
    return left;
}

/*
 * Rings exit once their connections are gone and no pool job they handed out
 * is pending. Past the drain timeout the layer above cancels what is still
 * queued (answered 503) and gives the work under way (teardowns) a bound;
 * past that it drops what has not started, and rings still waiting for work
 * that runs on are left running (-ETIMEDOUT), never freed under it.
 */
static int join_rings(ringo__server *s)
{
    struct timespec t0, dl;
    uint64_t more = 0;

    clock_gettime(CLOCK_REALTIME, &t0);
    /* Rings force-close a second after this: queued sync jobs get their 503 first. */
    dl = add_ms(t0, s->cfg.drain_timeout_ms);
    if (join_until(s, dl) && s->drain_hook) {
        more = s->drain_hook(s, RINGO__STOP_DRAINED);
        if (join_until(s, add_ms(dl, more)) && s->drain_hook(s, RINGO__STOP_GIVE_UP) > 0 &&
            join_until(s, add_ms(dl, (more > 1000 ? more : 1000) + 1000))) {
            s->abandoned = true;
            return -ETIMEDOUT;
        }
    }
    for (unsigned i = 0; i < s->nrings; i++)
        if (!s->rings[i]->joined)
            pthread_join(s->rings[i]->thread, NULL);
    if (s->drain_hook)
        s->drain_hook(s, RINGO__STOP_DONE);
    return 0;
}

int ringo__server_reload(ringo__server *s)
{
    uint64_t one = 1;

    if (!s->running || s->reload_efd < 0)
        return -EINVAL;
    if (write(s->reload_efd, &one, sizeof(one)) < 0)
        return 0; /* the counter is already non-zero: a reload is pending */
    return 0;
}

/* Reads one signal from the signalfd: 1 stop, 2 reload, 0 none. */
static int read_signal(ringo__server *s)
{
    struct signalfd_siginfo si;

    if (read(s->sig_fd, &si, sizeof(si)) != sizeof(si))
        return 0;
    return si.ssi_signo == SIGHUP || si.ssi_signo == SIGUSR1 ? 2 : 1;
}

/*
 * The lame duck: the stop was requested (readiness answers 503 from now on,
 * responses carry Connection: close) but the rings go on serving, listeners
 * included, for shutdown_delay_ms, so that load balancers see the readiness
 * change and stop sending before anything is refused. A second SIGINT or
 * SIGTERM cuts it short; reloads still run.
 */
static void lame_duck(ringo__server *s)
{
    struct pollfd pfd[2] = {{.fd = s->reload_efd, .events = POLLIN},
                            {.fd = s->sig_fd, .events = POLLIN}};
    uint64_t end = ringo__coarse_ms() + s->cfg.shutdown_delay_ms, now, n;

    if (atomic_load(&s->drain_begun) || !s->cfg.shutdown_delay_ms) {
        begin_drain(s);
        return;
    }
    if (!s->cfg.quiet)
        fprintf(stderr, "ringo: stopping: serving %u ms more (readiness fails), then draining\n",
                s->cfg.shutdown_delay_ms);
    while (!atomic_load(&s->drain_begun) && (now = ringo__coarse_ms()) < end) {
        bool reload = false;
        int sig = 0;
        if (poll(pfd, s->sig_fd >= 0 ? 2 : 1, (int)(end - now)) < 0 && errno != EINTR)
            break;
        if (s->sig_fd >= 0 && (pfd[1].revents & POLLIN))
            sig = read_signal(s);
        if (sig == 1)
            break;
        if ((pfd[0].revents & POLLIN) && read(s->reload_efd, &n, sizeof(n)) == sizeof(n))
            reload = true;
        if ((reload || sig == 2) && s->reload_hook)
            s->reload_hook(s);
    }
    begin_drain(s);
}

int ringo__server_wait(ringo__server *s)
{
    struct pollfd pfd[3] = {{.fd = s->quit_efd, .events = POLLIN},
                            {.fd = s->reload_efd, .events = POLLIN},
                            {.fd = s->sig_fd, .events = POLLIN}};
    uint64_t one = 1;
    int ret;

    if (!s->running)
        return -EINVAL;
    while (!atomic_load(&s->stop_requested)) {
        bool reload = false;
        uint64_t n;

        if (poll(pfd, s->sig_fd >= 0 ? 3 : 2, -1) < 0 && errno != EINTR)
            break;
        if (s->sig_fd >= 0 && (pfd[2].revents & POLLIN)) {
            int sig = read_signal(s);
            if (sig == 2)
                reload = true;
            else if (sig == 1)
                ringo__server_stop(s);
        }
        if ((pfd[1].revents & POLLIN) && read(s->reload_efd, &n, sizeof(n)) == sizeof(n))
            reload = true;
        if (pfd[0].revents & POLLIN)
            break;
        if (reload && s->reload_hook && !atomic_load(&s->stop_requested))
            s->reload_hook(s);
    }
    ringo__sd_notify_send(s->notify_fd, &s->notify_addr, s->notify_len,
                          "STOPPING=1\nSTATUS=stopping: draining");
    lame_duck(s);
    ret = join_rings(s);
    if (s->watchdog_started) {
        if (write(s->wd_efd, &one, sizeof(one)) < 0)
            fprintf(stderr, "ringo: watchdog: %s\n", strerror(errno));
        pthread_join(s->watchdog, NULL);
    }
    s->watchdog_started = false;
    s->running = 0;
    if (ret < 0)
        return ret; /* the rings left running: their loop_err is theirs */
    for (unsigned i = 0; i < s->nrings; i++)
        if (s->rings[i]->loop_err)
            return s->rings[i]->loop_err;
    return 0;
}

int ringo__server_stalled(const ringo__server *s, uint64_t limit_ms, const char **label,
                          uint64_t *held_ms)
{
    uint64_t now = ringo__coarse_ms();

    for (unsigned i = 0; s->rings && i < s->nrings; i++) {
        ringo__ring *r = s->rings[i];
        const char *l = atomic_load_explicit(&r->wd_label, memory_order_acquire);
        uint64_t since = atomic_load_explicit(&r->wd_since, memory_order_relaxed);
        if (atomic_load_explicit(&r->loop_failed, memory_order_relaxed)) {
            *label = "(none: the ring's loop failed)";
            *held_ms = 0;
            return (int)i;
        }
        if (l && now >= since && now - since >= limit_ms) {
            *label = l;
            *held_ms = now - since;
            return (int)i;
        }
    }
    return -1;
}

void ringo__server_stats(const ringo__server *s, ringo_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; s->rings && i < s->nrings; i++) {
        ringo__ring_stats *st = &s->rings[i]->stats;
#define SUM(f) out->f += atomic_load_explicit(&st->f, memory_order_relaxed)
        SUM(conns_live);
        SUM(reqs_live);
        SUM(bufs_held);
        SUM(stacks_live);
        SUM(jobs_live);
        SUM(conns_accepted);
        SUM(reqs_served);
        SUM(cancels);
        SUM(ring_stalls);
        SUM(pool_hops);
        SUM(pipes_busy);
        SUM(ring_rejected);
        SUM(tls_handshakes);
        SUM(tls_handshake_failures);
        SUM(tls_handshake_timeouts);
        SUM(tls_resumed);
        SUM(tls_alpn_h2);
        SUM(batched_waits);
        SUM(tls_ktls);
        SUM(tls_ktls_rx);
#undef SUM
    }
}

int ringo__server_init(ringo__server *s, const ringo__server_opts *opts)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *opts->cfg;
    s->proto = opts->proto;
    s->app = opts->app;
    s->drain_hook = opts->drain_hook;
    s->reload_hook = opts->reload_hook;
    s->sig_fd = s->stop_efd = s->reload_efd = s->quit_efd = s->wd_efd = s->notify_fd = -1;
    s->host = ringo__strdup(s->cfg.host ? s->cfg.host : "0.0.0.0");
    s->cfg.host = s->host;
    if (!s->host)
        return -ENOMEM;
    if (s->cfg.trusted_proxies) {
        int n = ringo__cidrs_parse(s->cfg.trusted_proxies, &s->trusted);
        if (n < 0)
            return n;
        s->ntrusted = (unsigned)n;
        s->trusted_str = ringo__strdup(s->cfg.trusted_proxies);
        s->cfg.trusted_proxies = s->trusted_str;
        if (!s->trusted_str)
            return -ENOMEM;
    }
    return 0;
}

int ringo__server_handle_signals(ringo__server *s)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    /* Blocked here, inherited by every thread ringo starts, read by signalfd. */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -EINVAL;
    if (s->sig_fd < 0)
        s->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return s->sig_fd < 0 ? -errno : 0;
}

void ringo__server_free(ringo__server *s)
{
    if (s->abandoned)
        return; /* rings still run (work outlived the teardown timeout): leak them */
    cleanup(s);
    if (s->sig_fd >= 0)
        close(s->sig_fd);
    s->sig_fd = -1;
    ringo__free(s->host);
    s->host = NULL;
    ringo__free(s->trusted_str);
    s->trusted_str = NULL;
    ringo__free(s->trusted);
    s->trusted = NULL;
    s->ntrusted = 0;
    ringo__tls_conf_free(s->tls);
    s->tls = NULL;
}
