/*
 * core/server.c - start the ring threads, stop them gracefully.
 */
#include <errno.h>
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
#include "core/ring_impl.h"

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
    struct io_uring_params p;
    struct io_uring ring;
    struct io_uring_probe *probe;
    int ret, ops[] = {IORING_OP_ACCEPT,   IORING_OP_RECV,          IORING_OP_SEND,
                      IORING_OP_TIMEOUT,  IORING_OP_POLL_ADD,      IORING_OP_ASYNC_CANCEL,
                      IORING_OP_MSG_RING, IORING_OP_TIMEOUT_REMOVE};
    const char *names[] = {"IORING_OP_ACCEPT",   "IORING_OP_RECV",
                           "IORING_OP_SEND",     "IORING_OP_TIMEOUT",
                           "IORING_OP_POLL_ADD", "IORING_OP_ASYNC_CANCEL",
                           "IORING_OP_MSG_RING", "IORING_OP_TIMEOUT_REMOVE"};

    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    ret = io_uring_queue_init_params(8, &ring, &p);
    if (ret == -EPERM || ret == -ENOSYS) {
        if (!s->cfg.quiet)
            fprintf(stderr,
                    "ringo: io_uring is unavailable (%s): it may be disabled by "
                    "sysctl kernel.io_uring_disabled or blocked by a container's "
                    "seccomp profile\n",
                    strerror(-ret));
        return ret;
    }
    if (ret == -EINVAL) {
        if (!s->cfg.quiet)
            fprintf(stderr, "ringo: the kernel lacks IORING_SETUP_DEFER_TASKRUN / "
                            "SINGLE_ISSUER (Linux 6.1 or newer is required)\n");
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

static int open_listeners(ringo__server *s)
{
    uint16_t port = s->cfg.port;

    s->listen_fds = ringo__malloc(s->nrings * sizeof(int));
    if (!s->listen_fds)
        return -ENOMEM;
    for (unsigned i = 0; i < s->nrings; i++)
        s->listen_fds[i] = -1;
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
    sem_destroy(&s->ready);
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
        ringo__server_stop(s);
        for (unsigned i = 0; i < started; i++)
            pthread_join(s->rings[i]->thread, NULL);
        if (!s->cfg.quiet)
            fprintf(stderr, "ringo: ring setup failed: %s\n", strerror(-err));
    }
    return err;
}

/*
 * The ring-stall watchdog. A handler that computes or blocks on a ring
 * stalls every connection of that core, and a stuck ring cannot time itself:
 * this thread reads the rings' stamps (label, since) a few times per
 * threshold and reports each stall once.
 */
static void *watchdog_main(void *arg)
{
    ringo__server *s = arg;
    uint32_t limit = s->cfg.stall_warn_ms;
    int period = (int)(limit / 4 < 5 ? 5 : limit / 4);
    uint64_t *reported = ringo__calloc(s->nrings, sizeof(uint64_t));
    struct pollfd pfd = {.fd = s->stop_efd, .events = POLLIN};

    while (reported && poll(&pfd, 1, period) == 0) {
        uint64_t now = ringo__coarse_ms();
        for (unsigned i = 0; i < s->nrings; i++) {
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
    ringo__free(reported);
    return NULL;
}

int ringo__server_start(ringo__server *s)
{
    int ret;

    signal(SIGPIPE, SIG_IGN); /* sends use MSG_NOSIGNAL; other code may not */
    resolve_config(s);
    s->nrings = s->cfg.threads;
    s->stop_efd = s->reload_efd = -1;
    atomic_store(&s->stop_requested, false);
    if (sem_init(&s->ready, 0, 0) < 0)
        return -errno;
    ret = ringo__server_probe(s);
    if (ret < 0)
        goto fail;
    s->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->reload_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->rings = ringo__calloc(s->nrings, sizeof(*s->rings));
    if (s->stop_efd < 0 || s->reload_efd < 0 || !s->rings) {
        ret = s->stop_efd < 0 || s->reload_efd < 0 ? -errno : -ENOMEM;
        goto fail;
    }
    ret = open_listeners(s);
    if (ret < 0)
        goto fail;
    ret = start_rings(s);
    if (ret < 0)
        goto fail;
    s->running = 1;
    if (s->cfg.stall_warn_ms)
        s->watchdog_started = pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0;
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
    if (s->stop_efd >= 0 && write(s->stop_efd, &one, sizeof(one)) < 0)
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

int ringo__server_wait(ringo__server *s)
{
    struct pollfd pfd[3] = {{.fd = s->stop_efd, .events = POLLIN},
                            {.fd = s->reload_efd, .events = POLLIN},
                            {.fd = s->sig_fd, .events = POLLIN}};
    int ret;

    if (!s->running)
        return -EINVAL;
    while (!atomic_load(&s->stop_requested)) {
        bool reload = false;
        uint64_t n;

        if (poll(pfd, s->sig_fd >= 0 ? 3 : 2, -1) < 0 && errno != EINTR)
            break;
        if (s->sig_fd >= 0 && (pfd[2].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP || si.ssi_signo == SIGUSR1)
                    reload = true;
                else
                    ringo__server_stop(s);
            }
        }
        if ((pfd[1].revents & POLLIN) && read(s->reload_efd, &n, sizeof(n)) == sizeof(n))
            reload = true;
        if (pfd[0].revents & POLLIN)
            break;
        if (reload && s->reload_hook && !atomic_load(&s->stop_requested))
            s->reload_hook(s);
    }
    if (s->watchdog_started)
        pthread_join(s->watchdog, NULL);
    s->watchdog_started = false;
    ret = join_rings(s);
    s->running = 0;
    if (ret < 0)
        return ret; /* the rings left running: their loop_err is theirs */
    for (unsigned i = 0; i < s->nrings; i++)
        if (s->rings[i]->loop_err)
            return s->rings[i]->loop_err;
    return 0;
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
    s->sig_fd = s->stop_efd = s->reload_efd = -1;
    s->host = ringo__strdup(s->cfg.host ? s->cfg.host : "0.0.0.0");
    s->cfg.host = s->host;
    return s->host ? 0 : -ENOMEM;
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
}
