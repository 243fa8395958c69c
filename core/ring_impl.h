/*
 * core/ring_impl.h - ring and connection internals shared by the files of core/ only.
 */
#ifndef RINGO_CORE_RING_IMPL_H
#define RINGO_CORE_RING_IMPL_H

#include <pthread.h>

#include "core/ring.h"
#include "core/server.h"
#include "core/stack.h"

/* user_data of connection ops: op (8) | generation (24) | index (32). */
#define RINGO__GEN_MASK 0xffffffu

static inline uint64_t ringo__conn_data(int op, uint32_t gen, uint32_t idx)
{
    return ((uint64_t)op << 56) | ((uint64_t)(gen & RINGO__GEN_MASK) << 32) | idx;
}

enum conn_state {
    CONN_OPEN = 0,
    CONN_LINGER,  /* error sent, write side shut down, draining input */
    CONN_CLOSING, /* cancels issued, waiting for the last CQE */
};

struct ringo__conn {
    ringo__ring *ring;
    int fd;
    uint32_t idx;
    uint32_t gen;
    uint8_t state;
    bool recv_armed;
    bool send_armed;
    bool paused;
    bool close_after_send;
    bool no_linger; /* RINGO__CLOSE_DONE: the peer is not expected to send more */
    bool eof;
    bool lent;               /* the protocol writes to the socket itself (ringo__conn_lend) */
    bool opened;             /* proto->on_open ran (with TLS: once the handshake is done) */
    bool held;               /* TLS: recv stops until a handshake slot frees (core/tls.c) */
    uint64_t active_ms;      /* the ring's `now` when data last arrived (ring.act_now) */
    uint32_t refs;           /* protocol-held references (coroutines, pool jobs, held requests) */
    int timer_kind;          /* the protocol's, 0: none */
    uint32_t heap_idx;       /* position in the ring's timer heap, UINT32_MAX if none */
    uint64_t deadline;       /* min(proto_deadline, send/linger deadline) */
    uint64_t proto_deadline; /* 0: none */
    uint64_t io_deadline;    /* send stall or linger, 0: none */
    /* Output: `out` gathers, `wbuf` is in flight (one send at a time). */
    char *out;
    size_t out_len, out_cap;
    char *wbuf;
    size_t w_len, w_off, w_cap;
    /* TLS (core/tls.c): the record layer's state, NULL on cleartext; and the
     * ciphertext written but not yet in flight (`out` holds plaintext then). */
    struct ringo__tls *tls;
    char *ct;
    size_t ct_len, ct_cap;
    struct sockaddr_in6 peer; /* large enough for IPv4 and IPv6 */
    socklen_t peer_len;
    struct ringo__pp *pp;      /* PROXY listener: the header being read (core/proxy.c), else NULL */
    bool pp_ssl;               /* the PROXY v2 header said the client spoke TLS to the proxy */
    _Alignas(16) char proto[]; /* protocol state (proto->conn_size bytes) */
};

struct ringo__ring {
    struct io_uring uring;
    ringo__server *srv;
    const ringo__proto *proto;
    unsigned id;
    int listen_fd;
    int ring_fd; /* real fd, kept for MSG_RING targets */
    bool accept_armed;
    bool accept_paused;         /* accept pacing: max_ring_inflight requests in progress */
    uint64_t accept_open_until; /* accept pacing: no new pause before this (ms) */
    bool stopping;              /* shutdown began on this ring */
    uint32_t holds;             /* pending work that keeps the ring alive (pool jobs) */
    /* Messages other rings posted to this one and it has not handled yet
     * (ringo__ring_post), | RING_XCLOSED once it exits: atomic, any thread. */
    _Atomic uint32_t xholds;
    uint64_t stop_deadline;
    uint64_t now;
    /* Batched waits (wait_cqes()): the kernel's min-wait, µs (0: off or not offered), and
     * how many connections received data in the current millisecond (act_ms, rolled
     * when `now` moves) and in the one before it. */
    uint32_t batch_wait_us;
    uint64_t act_ms;
    uint32_t act_now, act_last;
    /* Provided receive buffers (buffer group 0). */
    struct io_uring_buf_ring *br;
    char *bufs;
    uint32_t nbufs, buf_size;
    size_t br_len;
    /* Connections: index -> conn, generations survive reuse. */
    ringo__conn **conns;
    uint32_t *gens;
    uint32_t *free_idx;
    uint32_t nfree, cap, nconns;
    /* Timer min-heap of connections by deadline. */
    ringo__conn **heap;
    uint32_t heap_len;
    /* The one IORING_OP_TIMEOUT (absolute ms, 0: none armed) and its time. */
    uint64_t timeout_at;
    struct __kernel_timespec timeout_ts;
    /* Cached Date header line. */
    int64_t date_sec;
    char date_line[40];
    ringo__ring_stats stats;
    ringo__stack_pool stacks;         /* coroutine stacks of this ring's async handlers */
    struct ringo__fiber *live_tasks;  /* started, not returned (core/task.c) */
    bool cancel_tasks;                /* past the drain deadline: tasks start cancelled */
    struct ringo__coro *spare_co;     /* a finished coroutine kept for the next task */
    void **cache[RINGO__CACHE_KINDS]; /* free lists, see ringo__ring_cache_get() */
    uint32_t ncache[RINGO__CACHE_KINDS];
    /* Pipes for splice (core/pipes.c): pipes[0..pipes_idle) wait, pipes_busy are lent. */
    ringo__pipe *pipes;
    uint32_t pipes_idle, pipes_busy, pipes_cap;
    /* Watchdog stamps: which handler holds the ring since when (ms). */
    _Atomic(const char *) wd_label;
    _Atomic uint64_t wd_since;
    struct ringo__tls_ring *tls; /* core/tls.c: NULL until its first TLS connection */
    pthread_t thread;
    bool joined; /* main thread only: join_rings() joined it */
    int setup_err;
    int loop_err;             /* io_uring_enter failed: the ring stopped */
    _Atomic bool loop_failed; /* the same, for other threads (liveness, systemd's watchdog) */
};

/* core/conn.c */
void ringo__conn_accepted(ringo__ring *r, int fd);
void ringo__conn_on_recv(ringo__conn *c, struct io_uring_cqe *cqe);
void ringo__conn_on_send(ringo__conn *c, int32_t res);
void ringo__conn_expire(ringo__conn *c);
void ringo__conn_drain(ringo__conn *c);
void ringo__conn_maybe_free(ringo__conn *c);
/* Appends n bytes to the connection's ciphertext (TLS records from OpenSSL). 0 or -ENOMEM. */
int ringo__conn_ct_append(ringo__conn *c, const void *p, size_t n);
/* Arms the multishot recv unless closing, paused, held or at EOF. */
void ringo__conn_arm_recv(ringo__conn *c);
/* Cancels the multishot recv (a TLS handshake waits for a slot; `held` keeps it off). */
void ringo__conn_cancel_recv(ringo__conn *c);

/* core/proxy.c's glue in core/conn.c: the connection's first bytes. */
void ringo__conn_proxy_input(ringo__conn *c, const char *p, size_t n);

/* core/pipes.c */
void ringo__pipes_free(ringo__ring *r);

/* core/timer.c */
void ringo__timer_update(ringo__ring *r, ringo__conn *c);
void ringo__timer_remove(ringo__ring *r, ringo__conn *c);
void ringo__timer_run(ringo__ring *r);
uint64_t ringo__timer_next(const ringo__ring *r);

/* core/bufring.c */
int ringo__bufring_setup(ringo__ring *r);
void ringo__bufring_free(ringo__ring *r);
char *ringo__bufring_get(ringo__ring *r, uint32_t bid);
void ringo__bufring_put(ringo__ring *r, uint32_t bid);

#endif
