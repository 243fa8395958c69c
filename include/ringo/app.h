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
    uint64_t reserved[1];                /* zero: room for later options */
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
    uint32_t no_h2c;                /* nonzero: HTTP/2 with prior knowledge is off and its
                                       connection preface is answered 505 */
    uint32_t h2_max_streams;        /* HTTP/2 streams open or still running a handler, per
                                       connection (SETTINGS_MAX_CONCURRENT_STREAMS); 0: 100 */
    uint32_t h2_max_resets;         /* HTTP/2 streams a client may reset beyond those it let
                                       finish, per connection, before GOAWAY
                                       ENHANCE_YOUR_CALM; 0: 100 */
    uint32_t h2_window;             /* HTTP/2 initial receive window per stream, bytes;
                                       0: 65535; <= 2^31 - 1 */
} ringo_config;

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
    uint64_t cancels;           /* awaits cancelled by disconnect or deadline */
    uint64_t ring_stalls;       /* watchdog: a handler held the ring too long */
    uint64_t pool_hops;         /* jobs handed to the pool (one per sync hop) */
    uint64_t bg_live;           /* background tasks scheduled and not finished */
    uint64_t bg_dropped;        /* background tasks dropped: shutdown passed its drain timeout */
    uint64_t teardowns_dropped; /* teardowns not started when the teardown timeout passed */
    uint64_t pipes_busy;        /* splice pipes lent to file bodies (ringo_resp_file) */
} ringo_stats;

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
 * newer caller's larger struct; a field outside its documented range) or
 * -ENOMEM.
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

/* Inline bodies. */

static inline void ringo_config_init(ringo_config *cfg)
{
    (void)ringo_config_init_sized(cfg, sizeof(*cfg));
}

static inline void ringo_app_stats(const ringo_app *app, ringo_stats *out)
{
    ringo_app_stats_sized(app, out, sizeof(*out));
}

#ifdef __cplusplus
}
#endif
#endif
