/*
 * ringo/app.h - create an application, register routes, serve.
 *
 * An app owns its routes and configuration. ringo_app_start() starts one ring
 * thread per core (each with its own io_uring and SO_REUSEPORT listener) and
 * returns once every ring listens; ringo_app_wait() blocks until the app is
 * stopped (ringo_app_stop(), or SIGINT/SIGTERM when ringo_app_handle_signals()
 * was called), drains in-flight requests and joins the threads.
 */
#ifndef RINGO_APP_H
#define RINGO_APP_H

#include <stddef.h>
#include <stdint.h>

#include "ringo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ringo_app ringo_app;
typedef struct ringo_req ringo_req;
struct ringo_route_spec; /* ringo/schema.h */

/*
 * A route's admission limits (ringo_route_opts.limits), copied at
 * registration. Zeroed means "none"; the reserved words must be zero.
 * Critical routes (RINGO_ROUTE_CRITICAL) cannot have any (-EINVAL).
 */
typedef struct ringo_route_limits {
    uint32_t max_concurrency;    /* requests of this route in progress at once, over all rings;
                                    one more gets 503 + Retry-After at once; 0: no bound */
    uint32_t queue_target_ms;    /* RINGO_SYNC: refused (503 + Retry-After, never queued) when
                                    the pool's queue delay exceeds this, whatever the app's
                                    ringo_config.queue_target_ms says; 0: none */
    uint32_t flags;              /* RINGO_LIMIT_ADAPTIVE */
    uint32_t latency_target_ms;  /* RINGO_LIMIT_ADAPTIVE: the latency the limit aims at */
    uint64_t max_request_memory; /* this route's ringo_config.max_request_memory; 0: the app's */
    uint64_t reserved[4];        /* zero: room for later limits */
} ringo_route_limits;

/*
 * ringo_route_limits.flags: the concurrency limit adapts (AIMD) between 1
 * and max_concurrency: a request slower than latency_target_ms (from its
 * start to its answer) cuts it by a tenth, and a limit's worth of faster
 * ones raises it by one. Needs max_concurrency and latency_target_ms.
 */
#define RINGO_LIMIT_ADAPTIVE 1u

/*
 * A handler fills the request's response (ringo/response.h) and returns 0.
 * A negative return answers 500 unless the handler already set a status
 * >= 400: return ringo_fail()'s RINGO_EHTTP to answer an HTTP error, or
 * RINGO_EVALIDATION after a ringo_param_*() error to answer 422.
 * RINGO_ASYNC handlers run on the ring thread; RINGO_SYNC handlers may block.
 */
typedef int (*ringo_handler_fn)(ringo_req *req, void *udata);

/*
 * Per-route options for ringo_route_ex(). Zeroed means "app defaults"; the
 * reserved words must be zero (see "ABI" below).
 */
typedef struct ringo_route_opts {
    uint32_t deadline_ms;                /* answer 504 and cancel the handler after this; 0: none */
    size_t stack_size;                   /* RINGO_ASYNC coroutine stack bytes; 0: the app's */
    const char *const *needs;            /* dependencies (ringo/deps.h) by name, NULL-terminated */
    uint64_t max_body_bytes;             /* this route's body limit (413); 0: ringo_config's */
    uint32_t body_timeout_ms;            /* RINGO_ROUTE_STREAM_BODY: longest wait for more body
                                            bytes while the handler reads (408); 0: ringo_config's
                                            body_timeout_ms */
    uint32_t flags;                      /* RINGO_ROUTE_* */
    const struct ringo_route_spec *spec; /* declared parameters and body (ringo/schema.h),
                                            borrowed until ringo_app_free(); NULL: none */
    const ringo_route_limits *limits;    /* admission limits (copied); NULL: none. It took the
                                            last reserved word: later options go into
                                            ringo_route_limits' own reserved words */
} ringo_route_opts;

/*
 * ringo_route_opts.flags: the body is not buffered before the handler runs;
 * the handler reads it as it arrives (ringo_req_read(), ringo_req_spool() in
 * ringo/body.h), from the moment its head is in. Requests pipelined behind it
 * wait until it is answered.
 */
#define RINGO_ROUTE_STREAM_BODY 1u
/*
 * ringo_route_opts.flags: compress this route's responses (ringo/compress.h)
 * with the app's options, or the defaults when ringo_app_compress() was not
 * called; RINGO_ROUTE_NO_COMPRESS: never compress them, whatever the app
 * says. Both at once is -EINVAL.
 */
#define RINGO_ROUTE_COMPRESS 2u
#define RINGO_ROUTE_NO_COMPRESS 4u
/*
 * ringo_route_opts.flags: a critical route (health, readiness, metrics,
 * admin) never waits behind other work. RINGO_ASYNC: it runs on its ring,
 * untouched by admission (ringo_config.queue_target_ms, max_ring_inflight,
 * route limits). RINGO_SYNC: it runs on pool workers reserved for critical
 * routes (ringo_config.critical_pool_threads), never queued behind requests.
 */
#define RINGO_ROUTE_CRITICAL 8u

/* A route group: a path prefix and dependencies shared by its routes. */
typedef struct ringo_group ringo_group;

/*
 * Limits and timeouts. ringo_config_init() fills the defaults (documented in
 * docs/operations.md next to nginx's); every timeout is in milliseconds and 0
 * disables it unless noted. A value outside a field's documented range makes
 * ringo_app_new() fail with -EINVAL: nothing is clamped silently (max_conns
 * is lowered to what the descriptor limit allows, as it says).
 */
typedef struct ringo_config {
    size_t size;                    /* sizeof(ringo_config): set by ringo_config_init() */
    const char *host;               /* listen address, "0.0.0.0"; "::" for IPv6 */
    uint16_t port;                  /* 0: the kernel picks; ringo_app_port() says */
    unsigned threads;               /* ring threads, 0: one per online CPU */
    unsigned pool_threads;          /* sync-handler pool workers, 0: max(40, 4 x CPUs);
                                       <= RINGO_MAX_POOL_THREADS */
    uint32_t max_conns;             /* per ring; capped by RLIMIT_NOFILE / threads */
    uint32_t max_request_line;      /* method + target, bytes (414) */
    uint32_t max_header_bytes;      /* whole header section, bytes (431) */
    uint32_t max_headers;           /* header field count (431) */
    uint32_t max_post_inflight;     /* background tasks not finished, per app; 0: 1024;
                                       <= RINGO_MAX_POST_INFLIGHT */
    uint64_t max_body_bytes;        /* Content-Length or chunked total (413) */
    uint32_t max_conn_buffered;     /* input buffered ahead of a busy connection */
    uint32_t max_requests_per_conn; /* keep-alive requests, then close; 0: no cap */
    uint32_t header_timeout_ms;     /* whole header section must arrive (408) */
    uint32_t body_timeout_ms;       /* whole body must arrive (408) */
    uint32_t keepalive_timeout_ms;  /* idle keep-alive connection is closed */
    uint32_t send_timeout_ms;       /* a send making no progress drops the client */
    uint32_t linger_ms;             /* after an error: drain input this long */
    uint32_t drain_timeout_ms;      /* shutdown: in-flight requests get this long */
    uint32_t recv_buffers;          /* provided receive buffers per ring: 0 (512) or a power
                                       of 2 <= RINGO_MAX_RECV_BUFFERS */
    uint32_t recv_buffer_size;      /* bytes each; 0: 16384 */
    int backlog;                    /* listen(2) backlog; <= 0: 4096 (the kernel caps it at
                                       net.core.somaxconn) */
    int quiet;                      /* nonzero: no startup/shutdown lines on stderr */
    size_t stack_size;              /* RINGO_ASYNC coroutine stack, bytes; 0: 64 KiB */
    uint32_t stall_warn_ms;         /* watchdog: log a handler holding a ring longer */
    uint32_t max_pool_queue;        /* sync jobs queued before 503; 0: 1024 */
    uint64_t teardown_timeout_ms;   /* shutdown: teardowns get this long after the drain
                                       timeout; 0: 5000 (see ringo_app_wait) */
    uint32_t stream_window;         /* streamed response bytes written but not yet sent
                                       before a write waits (ringo/stream.h); 0: 65536 */
    uint32_t sse_ping_ms;           /* an SSE stream silent this long gets a comment line
                                       (keep-alive); 15000; 0: none */
    uint32_t ws_ping_ms;            /* a WebSocket that received nothing this long is pinged
                                       (ringo/ws.h); 20000; 0: none */
    uint32_t ws_idle_timeout_ms;    /* a WebSocket that received nothing (not even a pong)
                                       this long is closed with 1001; 60000; 0: none */
    uint32_t shutdown_delay_ms;     /* lame duck: after a stop request, keep serving this long
                                       (readiness answers 503, responses close their
                                       connections) before the drain begins; 0: none */
    uint32_t ready_max_queue;       /* readiness (ringo_app_readiness) answers 503 while this
                                       many sync jobs or more wait in the pool queue;
                                       0: max_pool_queue (the queue is full) */
    uint32_t live_stall_ms;         /* liveness (ringo_app_liveness) answers 503 while one
                                       handler has held a ring this long; 5000; 0: never */
    uint32_t deploy_flags;          /* RINGO_DEPLOY_*: port sharing, systemd */
    uint32_t proxy_protocol;        /* 1: every connection starts with a PROXY protocol v1 or
                                       v2 header (load balancers); only trusted_proxies may
                                       connect; 0: off */
    uint32_t forwarded;             /* RINGO_FORWARDED_*: the header a trusted proxy names the
                                       client in (ringo_req_peer()); 0: none is read */
    const char *trusted_proxies;    /* "CIDR,CIDR,...", IPv4 and IPv6 (an address alone is
                                       one host), copied; needed by the two above; NULL: none */
    /* A TLS handshake not done this long after accept drops the connection (ringo/tls.h);
       10000; 0: none. */
    uint32_t tls_handshake_timeout_ms;
    /* TLS handshakes in progress per ring; more wait for a slot (ringo/tls.h); 0: 128. */
    uint32_t tls_max_handshakes;
    uint32_t queue_target_ms;       /* admission by queue time: while the pool's queue delay
                                       stands above this, sync requests get 503 at once
                                       (docs/operations.md); 0: off */
    uint32_t queue_interval_ms;     /* its measuring interval; 0: 100 */
    uint32_t max_ring_inflight;     /* requests in progress per ring before new ones get
                                       503 at once (critical routes excepted), and accepts
                                       pause until below 3/4 of it; 0: no bound */
    uint32_t critical_pool_threads; /* pool workers reserved for RINGO_SYNC routes flagged
                                       RINGO_ROUTE_CRITICAL; 0: 2 (started only when such a
                                       route exists); <= RINGO_MAX_POOL_THREADS */
    uint64_t max_request_memory;    /* bytes a request may hold in memory (arena, buffered
                                       body, output); over it: 413 for a body, else 500;
                                       spooled bytes do not count; 0: no bound */
    uint32_t no_h2c;                /* nonzero: HTTP/2 with prior knowledge is off and its
                                       connection preface is answered 505 */
    uint32_t h2_max_streams;        /* HTTP/2 streams open or still running a handler, per
                                       connection (SETTINGS_MAX_CONCURRENT_STREAMS); 0: 100 */
    uint32_t h2_max_resets;         /* HTTP/2 streams a client may reset beyond those it let
                                       finish, per connection, before GOAWAY
                                       ENHANCE_YOUR_CALM; 0: 100 */
    uint32_t h2_window;             /* HTTP/2 initial receive window per stream, bytes;
                                       0: 65535; <= 2^31 - 1 */
    uint32_t no_h2;                 /* nonzero: no HTTP/2 at all: TLS's ALPN offers http/1.1
                                       only, and h2c is off as with no_h2c */
    uint32_t batch_wait_us;         /* a busy ring lets the kernel gather completions this
                                       long before it wakes (Linux 6.12's min-wait; older
                                       kernels: off), µs; 0: 50; RINGO_BATCH_WAIT_OFF: never */
    uint32_t no_ktls;               /* nonzero: TLS records are always made by OpenSSL, never
                                       by the kernel's tls module (kTLS) */
    uint32_t reserved1;             /* must be zero: the next 4-byte field takes its place
                                       (ringo_config ends without padding) */
} ringo_config;

/* ringo_config.batch_wait_us: every wait wakes at the first completion. */
#define RINGO_BATCH_WAIT_OFF UINT32_MAX

/* ringo_config.forwarded: X-Forwarded-For and X-Forwarded-Proto (nginx, HAProxy
 * "option forwardfor"), or RFC 7239 Forwarded. See docs/operations.md. */
#define RINGO_FORWARDED_NONE 0u
#define RINGO_FORWARDED_X 1u
#define RINGO_FORWARDED_RFC7239 2u

/*
 * ringo_config.deploy_flags: share the port with other processes (a rolling
 * restart: the new process starts while the old one drains). Without it a
 * port another process listens on fails the start with -EADDRINUSE, even
 * though every listener sets SO_REUSEPORT (the rings of one process always
 * share their port).
 */
#define RINGO_DEPLOY_SHARE_PORT 1u
/*
 * ringo_config.deploy_flags: systemd integration (docs/operations.md). Listening
 * sockets passed by socket activation (LISTEN_PID, LISTEN_FDS) are used
 * instead of binding host:port, and $NOTIFY_SOCKET is told READY=1 once every
 * ring listens, STOPPING=1 when the stop begins, and WATCHDOG=1 while every
 * ring makes progress (at half of $WATCHDOG_USEC). Without the variables
 * nothing changes.
 */
#define RINGO_DEPLOY_SYSTEMD 2u

/* Largest ringo_config.max_post_inflight (the live count is 32 bits, with headroom). */
#define RINGO_MAX_POST_INFLIGHT 0x7fffffffu
/* Largest ringo_config.recv_buffers (a buffer id is 16 bits). */
#define RINGO_MAX_RECV_BUFFERS 32768u
/* Largest ringo_config.pool_threads. */
#define RINGO_MAX_POOL_THREADS 1024u

/*
 * Live-object counters summed over all rings, for tests and operations:
 * after ringo_app_wait() every one of them must be zero. Every field is a
 * uint64_t (no padding), and new counters are appended.
 */
typedef struct ringo_stats {
    uint64_t conns_live;
    uint64_t reqs_live;
    uint64_t bufs_held;      /* provided buffers not yet returned to the kernel */
    uint64_t stacks_live;    /* coroutine stacks in use */
    uint64_t jobs_live;      /* pool jobs in flight */
    uint64_t conns_accepted; /* totals since start */
    uint64_t reqs_served;
    uint64_t cancels;            /* awaits cancelled by disconnect or deadline */
    uint64_t ring_stalls;        /* watchdog: a handler held the ring too long */
    uint64_t pool_hops;          /* jobs handed to the pool (one per sync hop) */
    uint64_t bg_live;            /* background tasks scheduled and not finished */
    uint64_t bg_dropped;         /* background tasks dropped: shutdown passed its drain timeout */
    uint64_t teardowns_dropped;  /* teardowns not started when the teardown timeout passed */
    uint64_t pipes_busy;         /* splice pipes lent to file bodies (ringo_resp_file) */
    uint64_t pool_queued;        /* sync jobs queued now, not started */
    uint64_t pool_rejected;      /* 503: the pool's queue was full (max_pool_queue) */
    uint64_t pool_enqueued;      /* jobs that entered the pool's queue (refused ones never do) */
    uint64_t pool_wait_us;       /* their queue waits, summed (microseconds) */
    uint64_t admission_rejected; /* 503 at once: the queue delay stood above the target */
    uint64_t dropped_gone;       /* queued but not run: the client had left */
    uint64_t dropped_deadline;   /* refused or not run: the route deadline could not be met */
    uint64_t dropped_expired;    /* LIFO: queued past min(target, interval), answered 503 */
    uint64_t lifo_switches;      /* times the pool's queue turned LIFO (sustained overload) */
    uint64_t lifo_active;        /* 1 while it is LIFO */
    uint64_t pool_overloaded;    /* 1 while the queue-time controller sees a standing queue */
    uint64_t ring_rejected;      /* 503 at once: the ring had max_ring_inflight in progress */
    uint64_t route_rejected;     /* 503 at once: the route had its concurrency limit in progress */
    uint64_t memory_rejected;    /* requests failed over their memory bound (413 or 500) */
    uint64_t tls_handshakes;     /* TLS handshakes completed */
    uint64_t tls_handshake_failures; /* TLS handshakes refused with an alert (a bad or
                                        unsupported ClientHello, no common protocol) */
    uint64_t tls_handshake_timeouts; /* TLS connections closed by tls_handshake_timeout_ms */
    uint64_t tls_resumed;            /* completed handshakes that resumed a session (ticket) */
    uint64_t tls_alpn_h2;            /* completed handshakes whose ALPN chose h2 */
    uint64_t batched_waits;          /* ring waits that let the kernel gather completions
                                        (ringo_config.batch_wait_us) */
    uint64_t tls_ktls;               /* TLS connections whose sending the kernel took over
                                        (kTLS transmit) */
    uint64_t tls_ktls_rx;            /* TLS connections whose receiving the kernel took over
                                        (kTLS receive) */
} ringo_stats;

/*
 * One route's counters (ringo_app_route_stats()). Every field after label is
 * a uint64_t, and new ones are appended.
 */
typedef struct ringo_route_stats {
    const char *label;     /* "GET /users/{id}", owned by the app */
    uint64_t inflight;     /* requests in progress */
    uint64_t limit;        /* the concurrency limit now (adaptive: moves); 0: none */
    uint64_t rejected;     /* 503: over the limit */
    uint64_t mem_requests; /* requests that outgrew their inline arena (1.5 KiB) */
    uint64_t mem_total;    /* bytes their heap memory peaked at, summed */
    uint64_t mem_max;      /* the largest of those peaks */
    uint64_t mem_rejected; /* failed over their memory bound */
} ringo_route_stats;

/*
 * ABI (stable through 1.x; docs/api.md "Versioning and ABI"). Functions and
 * types are only added; existing fields keep their offsets.
 * - ringo_config and ringo_stats grow by appending fields. Callers pass the
 *   size they were compiled with: ringo_config_init() and ringo_app_stats()
 *   are inline and call the sized functions below with sizeof(*cfg), so the
 *   library never writes past an older caller's struct. ringo_config ends
 *   without tail padding, so a later field never lands in an older caller's
 *   padding. A newer caller's larger struct is taken by an older library as
 *   long as the fields it does not know stay zero (as ringo_config_init()
 *   leaves them); a set one is -EINVAL.
 * - The option structs (ringo_route_opts, ringo_dep_opts, ringo_middleware)
 *   keep their size: they end in reserved words that must be zero (the
 *   library refuses anything else with -EINVAL), and a later option takes
 *   the place of a reserved word, its zero meaning today's behaviour. Always
 *   initialize them with designated initializers or memset.
 */

/*
 * Fills the first size bytes of *cfg with the defaults (zero past this
 * library's sizeof(ringo_config)) and sets cfg->size to size; writes nothing
 * past them. Returns 0, or -EINVAL (cfg NULL, or size smaller than the size
 * field). Call it through ringo_config_init().
 */
RINGO_API int ringo_config_init_sized(ringo_config *cfg, size_t size);

/* Fills *cfg with the defaults, size included (inline: passes the caller's sizeof). */
static inline void ringo_config_init(ringo_config *cfg);

/*
 * Creates an app with a copy of *cfg (NULL: defaults) and stores it in *out
 * (NULL on failure). The host string is copied. The caller owns the app and
 * frees it with ringo_app_free(). Returns 0, -EINVAL (out NULL; cfg->size
 * smaller than the size field; a field this library does not know set in a
 * newer caller's larger struct; a field outside its documented range;
 * trusted_proxies malformed, or missing while proxy_protocol or forwarded is
 * set) or -ENOMEM.
 */
RINGO_API int ringo_app_new(ringo_app **out, const ringo_config *cfg);

/* Frees an app that is not running (never started, or waited for). NULL is a
 * no-op, and so is an app whose ringo_app_wait() returned -ETIMEDOUT. */
RINGO_API void ringo_app_free(ringo_app *app);

/*
 * Registers method + pattern. Patterns are absolute paths whose segments are
 * literals, "{name}" (one segment, percent-decoded, available through
 * ringo_req_path_param()) or a final "{name...}" (the rest of the path, may be
 * empty). A GET route also answers HEAD. udata is passed to the handler as
 * is. Returns 0, -EINVAL for a malformed pattern or method, -EEXIST when the
 * same method and pattern are registered twice, -EBUSY after start,
 * -ENOMEM.
 */
RINGO_API int ringo_route(ringo_app *app, const char *method, const char *pattern, ringo_mode mode,
                          ringo_handler_fn fn, void *udata);

/* ringo_route() with options (NULL: defaults; copied). Same returns; -EINVAL too for
 * nonzero opts->reserved. */
RINGO_API int ringo_route_ex(ringo_app *app, const char *method, const char *pattern,
                             ringo_mode mode, ringo_handler_fn fn, void *udata,
                             const ringo_route_opts *opts);

/*
 * Creates a route group: prefix (copied, must start with '/') is put before
 * the pattern of each of its routes, and the dependencies named in needs
 * (NULL-terminated, copied; NULL: none) are needed by each of them. Stores
 * the group, owned by the app, in *out (NULL on failure; out is required, as
 * for every constructor). Returns 0, -EINVAL
 * (out, app or prefix NULL, prefix not starting with '/'), -EBUSY (after
 * start) or -ENOMEM.
 */
RINGO_API int ringo_group_new(ringo_group **out, ringo_app *app, const char *prefix,
                              const char *const *needs);

/* ringo_route_ex() for the group's prefix + pattern ("/admin" + "/users"). Same returns. */
RINGO_API int ringo_group_route(ringo_group *g, const char *method, const char *pattern,
                                ringo_mode mode, ringo_handler_fn fn, void *udata,
                                const ringo_route_opts *opts);

/*
 * Installs SIGINT/SIGTERM handling for ringo_app_wait(): the first signal
 * starts a graceful shutdown. Call before ringo_app_start() so the signals
 * are blocked in every thread ringo creates. Returns 0 or -errno.
 */
RINGO_API int ringo_app_handle_signals(ringo_app *app);

/*
 * Resolves the dependency graphs, probes io_uring, runs the startup hooks,
 * starts the pool, binds and starts the ring threads; returns once every
 * ring listens. On failure nothing is left running and a line on stderr
 * names what is wrong (unless quiet). An app starts once. Returns 0,
 * -EBUSY (started before), -ENOENT (an unregistered dependency is needed),
 * -ELOOP (a dependency cycle), a startup hook's error, RINGO_EIOURING
 * (io_uring refused: a sysctl, a seccomp filter, no io_uring in the kernel;
 * the line names the cause), -EOPNOTSUPP (a required io_uring feature is
 * missing), -EADDRINUSE, -EACCES,
 * -EADDRNOTAVAIL, -ENOMEM, or another -errno from thread or descriptor
 * creation.
 */
RINGO_API int ringo_app_start(ringo_app *app);

/* The bound port after a successful start (useful with port 0), else 0. */
RINGO_API uint16_t ringo_app_port(const ringo_app *app);

/*
 * Starts a graceful shutdown: listeners stop after accepting what is queued,
 * in-flight requests get drain_timeout_ms, idle connections close.
 * Thread-safe and async-signal-safe; idempotent.
 */
RINGO_API void ringo_app_stop(ringo_app *app);

/*
 * Blocks until the app has stopped and every ring thread has exited, then
 * runs the shutdown hooks. Past the drain timeout, teardowns get
 * teardown_timeout_ms more on the pool; then those not started are dropped
 * (ringo_stats.teardowns_dropped) and sync jobs still running are named on
 * stderr and left running, with the rings waiting for them: it then returns
 * -ETIMEDOUT without running the shutdown hooks, and ringo_app_free() frees
 * nothing (they may still use it all); the process should exit. Returns 0,
 * -ETIMEDOUT, -EINVAL (not started, or already waited for), or the -errno
 * of the first ring whose loop failed.
 */
RINGO_API int ringo_app_wait(ringo_app *app);

/* ringo_app_start() then ringo_app_wait(). */
RINGO_API int ringo_app_run(ringo_app *app);

/*
 * Fills the first size bytes of *out with the current counters (approximate
 * while running): the counters that fit whole, nothing past them; counters
 * this library does not know (a newer caller's) read 0. Call it through
 * ringo_app_stats().
 */
RINGO_API void ringo_app_stats_sized(const ringo_app *app, ringo_stats *out, size_t size);

/* Fills *out with the current counters (inline: passes the caller's sizeof). */
static inline void ringo_app_stats(const ringo_app *app, ringo_stats *out);

/*
 * Fills the first size bytes of *out with the counters of the index-th
 * route registered (0, 1, ... in registration order; approximate while
 * running). Returns 0, or -ENOENT past the last route. Call it through
 * ringo_app_route_stats().
 */
RINGO_API int ringo_app_route_stats_sized(const ringo_app *app, unsigned index,
                                          ringo_route_stats *out, size_t size);

/* ringo_app_route_stats_sized() with the caller's sizeof (inline). */
static inline int ringo_app_route_stats(const ringo_app *app, unsigned index,
                                        ringo_route_stats *out);

/* Inline bodies. */

static inline void ringo_config_init(ringo_config *cfg)
{
    (void)ringo_config_init_sized(cfg, sizeof(*cfg));
}

static inline void ringo_app_stats(const ringo_app *app, ringo_stats *out)
{
    ringo_app_stats_sized(app, out, sizeof(*out));
}

static inline int ringo_app_route_stats(const ringo_app *app, unsigned index,
                                        ringo_route_stats *out)
{
    return ringo_app_route_stats_sized(app, index, out, sizeof(*out));
}

#ifdef __cplusplus
}
#endif
#endif
