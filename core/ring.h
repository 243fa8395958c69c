/*
 * core/ring.h - one io_uring ring per thread, its connections and timers.
 *
 * The ring owns accept, recv and send for its connections. The protocol on
 * top (http/) sees a connection as a byte stream: core calls its ringo__proto
 * callbacks with received bytes and events, and the protocol writes output,
 * arms its timer and asks for the connection to be closed. core/ never looks
 * inside the protocol's state.
 */
#ifndef RINGO_CORE_RING_H
#define RINGO_CORE_RING_H

#include <liburing.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "ringo/app.h"

typedef struct ringo__ring ringo__ring;
typedef struct ringo__conn ringo__conn;
typedef struct ringo__server ringo__server;

/* What the ring's user_data says a CQE belongs to (top 8 bits). */
enum ringo__op {
    RINGO__OP_NONE = 0, /* CQE to ignore (cancel requests, closes) */
    RINGO__OP_ACCEPT,   /* low bits unused */
    RINGO__OP_RECV,     /* low bits: connection index + generation */
    RINGO__OP_SEND,     /* low bits: connection index + generation */
    RINGO__OP_TIMEOUT,  /* the ring's one timeout, at its earliest deadline */
    RINGO__OP_WAKE,     /* poll on the stop eventfd */
    RINGO__OP_BACKOFF,  /* accept back-off timer after EMFILE/ENFILE */
    RINGO__OP_PTR,      /* low 56 bits: a ringo__completion pointer (awaits, pool) */
};

/*
 * A completion that someone other than the connection code is waiting for:
 * the await API and the pool hand-back post CQEs whose user_data is
 * RINGO__OP_PTR | pointer-to-this; the ring calls fn with the CQE.
 */
typedef struct ringo__completion {
    void (*fn)(struct ringo__completion *self, int32_t res, uint32_t flags);
} ringo__completion;

/* How a connection ends. */
enum ringo__close {
    RINGO__CLOSE_AFTER_SEND, /* flush output, shut down writes, linger, close */
    RINGO__CLOSE_NOW,        /* cancel everything and close (peer gone, stall) */
    /*
     * Flush output, then close without lingering: the peer's last request was
     * read whole and nothing followed it. It lingers after all when input is
     * waiting in the socket when the output is done.
     */
    RINGO__CLOSE_DONE,
};

/* Callbacks a protocol gives the server. All run on the ring thread. */
typedef struct ringo__proto {
    size_t conn_size;                /* bytes of per-connection state */
    void (*on_open)(ringo__conn *c); /* after accept; state zeroed */
    void (*on_data)(ringo__conn *c, const char *p, size_t n);
    void (*on_eof)(ringo__conn *c);   /* peer shut down its write side */
    void (*on_sent)(ringo__conn *c);  /* all queued output went out */
    void (*on_wrote)(ringo__conn *c); /* a send completed, output is left: unsent shrank */
    void (*on_timer)(ringo__conn *c, int kind); /* protocol deadline expired */
    void (*on_drain)(ringo__conn *c);           /* shutdown began */
    void (*on_close)(ringo__conn *c);           /* free protocol state; no CQE pending */
    /* A layer below the protocol (the PROXY header) refused the connection's first bytes:
     * answer status and close. NULL: closed at once. */
    void (*on_reject)(ringo__conn *c, int status);
    /* Writes the answer sent past the connection cap into buf; returns its length. */
    size_t (*overload)(ringo__ring *r, char *buf, size_t cap);
} ringo__proto;

/* Per-ring live counters (read by other threads for stats: relaxed atomics). */
typedef struct ringo__ring_stats {
    _Atomic uint64_t conns_live, reqs_live, bufs_held, stacks_live, jobs_live;
    _Atomic uint64_t conns_accepted, reqs_served, cancels, ring_stalls, pool_hops;
    _Atomic uint64_t pipes_busy;
    _Atomic uint64_t reqs_running, ring_rejected; /* http/exec.c: max_ring_inflight */
    _Atomic uint64_t bytes_sent, bytes_recv; /* written by the ring only (plain load + store) */
    _Atomic uint64_t bytes_direct;           /* of bytes_sent: file bodies by sendfile or splice */
    /* core/tls.c and core/conn.c, written by the ring only (ringo_stats says what they count) */
    _Atomic uint64_t tls_handshakes, tls_handshake_failures, tls_handshake_timeouts;
    _Atomic uint64_t tls_resumed, tls_alpn_h2;
    _Atomic uint64_t batched_waits; /* core/ring.c wait_cqes, written by the ring only */
    _Atomic uint64_t tls_ktls;      /* core/tls.c, written by the ring only */
    _Atomic uint64_t tls_ktls_rx;   /* core/tls.c, written by the ring only */
} ringo__ring_stats;

/* ---- connection: called by the protocol ---- */

/* Protocol state of c (conn_size bytes, zeroed at open). */
void *ringo__conn_state(ringo__conn *c);
ringo__ring *ringo__conn_ring(const ringo__conn *c);

/*
 * Room for n more output bytes (NULL when out of memory); ringo__conn_commit()
 * says how many were used. Nothing is sent until ringo__conn_flush(), so
 * pipelined responses gather into one send.
 */
char *ringo__conn_reserve(ringo__conn *c, size_t n);
void ringo__conn_commit(ringo__conn *c, size_t n);

/* Starts a send of the gathered output unless one is in flight. */
void ringo__conn_flush(ringo__conn *c);

/* Bytes written but not yet acknowledged by a send CQE. */
size_t ringo__conn_unsent(const ringo__conn *c);

/* Stops / restarts the multishot recv (backpressure). Idempotent. */
void ringo__conn_pause(ringo__conn *c);
void ringo__conn_resume(ringo__conn *c);

/* Ends the connection; see enum ringo__close. Idempotent, may upgrade to NOW. */
void ringo__conn_close(ringo__conn *c, int how);

/* The connection's socket, for I/O the protocol submits itself (splice, see below). */
int ringo__conn_fd(const ringo__conn *c);

/*
 * Lends the socket to the protocol for writes of its own (a splice from a
 * pipe): the connection's one send in flight becomes the protocol's. Only
 * when nothing is unsent: returns 0, -EBUSY (output unsent or a send in
 * flight), -ECANCELED (closing) or -errno from fcntl(). The socket is
 * non-blocking while lent (writes return -EAGAIN: poll for room). While
 * lent, output gathers in the buffer but is not sent, and a close after
 * send waits for the socket's return; ringo__conn_unlend() gives it back
 * and sends what gathered meanwhile.
 */
int ringo__conn_lend(ringo__conn *c);
void ringo__conn_unlend(ringo__conn *c);
/* The borrower sent n bytes on the lent socket itself (sendfile, splice): counted as sent
 * (bytes_sent) and as sent directly (bytes_direct). */
void ringo__conn_count_sent(ringo__conn *c, uint64_t n);

/*
 * The borrower is about to wait for room in the lent socket: the
 * connection is closed (RINGO__CLOSE_NOW, so the protocol's on_close
 * cancels the borrower's wait) when no room came for send_timeout_ms, as
 * for the connection's own sends. A deadline from the ring's timer heap,
 * not a linked timeout per wait: moving it later costs a compare. It ends
 * with ringo__conn_unlend().
 */
void ringo__conn_lent_wait(ringo__conn *c);

/* True once close was requested: the protocol should stop producing output. */
bool ringo__conn_closing(const ringo__conn *c);

/*
 * Arms the connection's one protocol deadline: on_timer(c, kind) runs after
 * ms. kind is the protocol's own (core only hands it back); kind 0 or ms 0
 * disarms. Arming again replaces the previous deadline.
 */
void ringo__conn_timer(ringo__conn *c, int kind, uint32_t ms);

/* Client address (the PROXY header's on a PROXY listener); returns its length (0 if unknown). */
socklen_t ringo__conn_peer(const ringo__conn *c, struct sockaddr_storage *out);

/* True when a PROXY v2 header said the client spoke TLS to the proxy (PP2_CLIENT_SSL). */
bool ringo__conn_proxied_tls(const ringo__conn *c);

/* True when sa is inside ringo_config.trusted_proxies (false when none are set). */
bool ringo__ring_trusted(const ringo__ring *r, const struct sockaddr *sa);

/* Reference count for work that outlives the protocol's own callbacks
 * (a suspended coroutine, a pool job): the connection is not freed while
 * a reference is held, even after it closed. */
void ringo__conn_ref(ringo__conn *c);
void ringo__conn_unref(ringo__conn *c);

/* ---- ring: called by the protocol and by await/pool code ---- */

unsigned ringo__ring_id(const ringo__ring *r);
const ringo_config *ringo__ring_config(const ringo__ring *r);
void *ringo__ring_app(const ringo__ring *r);
ringo__ring_stats *ringo__ring_stats_of(ringo__ring *r);
int ringo__ring_fd(const ringo__ring *r);

/* True from the server's stop request on, the lame-duck delay included
 * (ringo_config.shutdown_delay_ms): responses should close their connections. */
bool ringo__ring_stop_requested(const ringo__ring *r);

/* Milliseconds of CLOCK_MONOTONIC, refreshed once per loop iteration. */
uint64_t ringo__ring_now(const ringo__ring *r);

/* "Date: <IMF-fixdate>\r\n" refreshed at most once a second (37 bytes). */
const char *ringo__ring_date_line(ringo__ring *r);

/* An SQE of this ring, submitting queued ones first if the SQ is full. */
struct io_uring_sqe *ringo__ring_sqe(ringo__ring *r);

/*
 * The first of n SQEs taken in a row (n <= the SQ size): the next n - 1
 * ringo__ring_sqe() calls find a free slot without submitting, so a linked
 * chain (an op and its IORING_OP_LINK_TIMEOUT) reaches the kernel whole.
 */
struct io_uring_sqe *ringo__ring_sqes(ringo__ring *r, unsigned n);

/*
 * Per-ring free lists for the objects every request allocates and frees
 * (request objects, 4 KiB output buffers): a hit is a pointer pop instead of
 * a malloc/free pair. Only the ring's own thread may call these. kind is a
 * RINGO__CACHE_* value; size must be the same for every call of a kind.
 */
enum { RINGO__CACHE_REQ, RINGO__CACHE_OUT, RINGO__CACHE_KINDS };
void *ringo__ring_cache_get(ringo__ring *r, unsigned kind, size_t size);
void ringo__ring_cache_put(ringo__ring *r, unsigned kind, void *p);

/*
 * Pipes for splice, from the ring's bounded pool (core/pipes.c). Ring
 * thread only. ringo__pipe_get() returns 0 and a pipe of size bytes (at
 * least RINGO__PIPE_SIZE), -EBUSY when every pipe of the pool is lent,
 * -ENOSPC when the kernel refuses the pipe size (the user's
 * fs.pipe-user-pages-soft is used up), another -errno from pipe2(). Every
 * pipe taken goes back with ringo__pipe_put(): clean says it is empty,
 * else it is closed (a cancelled splice may have left bytes in it).
 */
#define RINGO__PIPE_SIZE (256u * 1024u)
typedef struct ringo__pipe {
    int rd, wr;
    uint32_t size;
} ringo__pipe;
int ringo__pipe_get(ringo__ring *r, ringo__pipe *out);
void ringo__pipe_put(ringo__ring *r, ringo__pipe *p, bool clean);

/* The ring of the calling thread (NULL on other threads). */
ringo__ring *ringo__ring_current(void);

/*
 * Cross-ring messages (WebSocket group broadcasts): from a ring thread,
 * posts a CQE {user_data = RINGO__OP_PTR | comp, res 0} to ring `to` with an
 * IORING_OP_MSG_RING SQE of the caller's own ring; `to` calls comp->fn from
 * its CQE loop, which must end with ringo__ring_post_done(to). Until then
 * `to` does not exit, so its fd stays an io_uring. If the kernel refuses
 * the message, failed->fn runs on the caller's ring with the error instead
 * (it must call ringo__ring_post_done(to) too). Returns 0; -ESHUTDOWN when
 * `to` has begun to exit (nothing is posted); -EPERM off a ring thread.
 */
int ringo__ring_post(ringo__ring *to, ringo__completion *comp, ringo__completion *failed);
/* From failed->fn, after a transient error (-EAGAIN, -ENOMEM, -EBUSY): posts
 * the same message again under the hold already taken. 0 or -EPERM. */
int ringo__ring_post_again(ringo__ring *to, ringo__completion *comp, ringo__completion *failed);
void ringo__ring_post_done(ringo__ring *to);

/* Keeps the ring alive during shutdown while work it owns is pending. */
void ringo__ring_hold(ringo__ring *r);
void ringo__ring_release(ringo__ring *r);

/* CLOCK_MONOTONIC_COARSE in ms: a few ns, good to a jiffy (watchdog stamps). */
static inline uint64_t ringo__coarse_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t ringo__ptr_data(ringo__completion *c)
{
    return ((uint64_t)RINGO__OP_PTR << 56) | (uint64_t)(uintptr_t)c;
}

#endif
