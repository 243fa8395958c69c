/*
 * core/server.h - the set of ring threads serving one app.
 *
 * The server owns the listeners (one SO_REUSEPORT socket per ring: the first
 * binds the configured port, the others bind the port it got; or the sockets
 * systemd passed, shared by the rings), starts the ring threads, and
 * coordinates graceful shutdown through an eventfd every ring polls, after
 * the lame-duck delay, if any.
 */
#ifndef RINGO_CORE_SERVER_H
#define RINGO_CORE_SERVER_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include <sys/un.h>

#include "core/ring.h"

struct ringo__server {
    ringo_config cfg;            /* effective config (threads, caps resolved); cfg.host is host */
    char *host;                  /* owned copy of the configured host */
    char *trusted_str;           /* owned copy of cfg.trusted_proxies (cfg points to it), or NULL */
    struct ringo__cidr *trusted; /* cfg.trusted_proxies parsed (core/proxy.c) */
    unsigned ntrusted;
    const ringo__proto *proto;
    void *app; /* opaque for core: handed to the protocol */
    unsigned nrings;
    ringo__ring **rings;
    int *listen_fds;
    int family;
    uint16_t port;
    int stop_efd;   /* readable once the drain begins (rings and the watchdog poll it) */
    int quit_efd;   /* readable once a stop was requested (the lame-duck delay, if any, first) */
    int sig_fd;     /* signalfd for SIGINT/SIGTERM/SIGHUP/SIGUSR1, -1 if not handled */
    int reload_efd; /* readable once a reload was requested (ringo__server_reload) */
    atomic_bool stop_requested; /* set at the stop request: readiness fails from then */
    atomic_bool drain_begun;    /* set when stop_efd was written */
    sem_t ready;                /* each ring posts once after setup */
    int running;
    pthread_t watchdog;
    bool watchdog_started;
    int wd_efd; /* readable once the rings were joined: the watchdog thread ends */
    /* systemd (RINGO_DEPLOY_SYSTEMD): $NOTIFY_SOCKET (-1: none), WATCHDOG=1 interval. */
    int notify_fd;
    struct sockaddr_un notify_addr;
    socklen_t notify_len;
    uint64_t wd_usec; /* $WATCHDOG_USEC for this process, 0: none */
    bool activated;   /* the listeners came from systemd socket activation */
    bool abandoned;   /* ringo__server_wait() left rings running: never free them */
    /* Hook for the layer above (the pool), on the main thread: see ringo__stop_stage. */
    uint64_t (*drain_hook)(ringo__server *s, int stage);
    /* Hook for the layer above, on the thread in ringo__server_wait(): SIGHUP, SIGUSR1,
     * ringo__server_reload(). */
    void (*reload_hook)(ringo__server *s);
};

/*
 * When ringo__server_wait() calls the drain hook, with what it returns:
 * DRAINED: the drain timeout passed with rings still busy (waiting for work
 *   the layer owns): cancel what has not started; returns how many ms more
 *   the work already under way gets.
 * GIVE_UP: that passed too: drop what has not started; returns how many
 *   pieces of work are still running. If some are, the rings waiting for
 *   them are given a grace second more (after the rings' own force-close),
 *   then left running: ringo__server_wait() returns -ETIMEDOUT.
 * DONE: every ring exited (not called when some were left running).
 */
enum ringo__stop_stage { RINGO__STOP_DRAINED, RINGO__STOP_GIVE_UP, RINGO__STOP_DONE };

/* What the layer above gives the server (ringo__server_init). */
typedef struct ringo__server_opts {
    const ringo_config *cfg;   /* complete (size is sizeof), copied with its host string */
    const ringo__proto *proto; /* callbacks for every connection */
    void *app;                 /* handed to the protocol: ringo__ring_app() */
    uint64_t (*drain_hook)(ringo__server *s, int stage); /* see the field; may be NULL */
    void (*reload_hook)(ringo__server *s);               /* see the field; may be NULL */
} ringo__server_opts;

/*
 * Sets s up from opts: no thread, socket or ring exists until
 * ringo__server_start(). Returns 0, -EINVAL (cfg.trusted_proxies malformed) or -ENOMEM.
 * ringo__server_free() undoes it (also after a failed init).
 */
int ringo__server_init(ringo__server *s, const ringo__server_opts *opts);

/*
 * Blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1 in the calling thread (and every
 * thread started after) and reads them from a signalfd in
 * ringo__server_wait(): SIGINT and SIGTERM stop the server, SIGHUP and
 * SIGUSR1 call the reload hook. Returns 0 or -errno.
 */
int ringo__server_handle_signals(ringo__server *s);

/* Asks ringo__server_wait() to call the reload hook. Async-signal-safe. 0, or -EINVAL when
 * the server is not running. */
int ringo__server_reload(ringo__server *s);

/* Checks io_uring and the features ringo needs; prints what is missing. 0 or -errno. */
int ringo__server_probe(const ringo__server *s);

/* How many rings ringo__server_start() will start for cfg (threads, or one per online CPU). */
unsigned ringo__server_threads(const ringo_config *cfg);

/* Resolves defaults, raises RLIMIT_NOFILE, binds listeners, starts rings. */
int ringo__server_start(ringo__server *s);

/*
 * Requests a graceful shutdown (async-signal-safe). With cfg.shutdown_delay_ms
 * the rings go on serving that long first (the lame duck: see
 * ringo__server_stopping()), timed by ringo__server_wait(); a second request
 * during the delay ends it.
 */
void ringo__server_stop(ringo__server *s);

/* Waits for signals/stop, then for every ring thread (see ringo__stop_stage).
 * Returns 0, a ring's loop error, or -ETIMEDOUT when rings were left running
 * (s->abandoned). */
int ringo__server_wait(ringo__server *s);

/* Frees rings, listeners, the signalfd and the host copy after wait (stats stay
 * readable until then); frees nothing of an abandoned server. */
void ringo__server_free(ringo__server *s);

/*
 * The first ring that one handler has held for limit_ms or more, now (the
 * watchdog's stamps): returns its index and sets *label (the handler's,
 * valid while the app lives) and *held_ms; -1 when every ring makes
 * progress. Any thread, while the server runs.
 */
int ringo__server_stalled(const ringo__server *s, uint64_t limit_ms, const char **label,
                          uint64_t *held_ms);

/* Sums the rings' counters. */
void ringo__server_stats(const ringo__server *s, ringo_stats *out);

/* core/ring.c: a ring thread's body. */
void *ringo__ring_main(void *arg);
ringo__ring *ringo__ring_new(ringo__server *s, unsigned id, int listen_fd);
void ringo__ring_free(ringo__ring *r);

/* core/listener.c */
int ringo__listen(const ringo_config *cfg, uint16_t port, int *family, uint16_t *bound);
int ringo__port_taken(const ringo_config *cfg, uint16_t port);

/* Inline bodies. */

/*
 * True from the stop request on, lame-duck delay included: readiness answers
 * 503 and responses close their connections. Any thread; a relaxed load.
 */
static inline bool ringo__server_stopping(const ringo__server *s)
{
    return atomic_load_explicit(&s->stop_requested, memory_order_relaxed);
}

/* The effective config (defaults resolved at start): what the protocol reads. */
static inline const ringo_config *ringo__server_config(const ringo__server *s) { return &s->cfg; }

#endif
