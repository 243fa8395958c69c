/*
 * http/request_impl.h - one request: what was parsed, how far it got
 * (phase), how it ended (outcome), its response, and the per-request state
 * of dependencies, middleware and post-response work.
 *
 * A request's phase changes only through the transitions below, each of
 * which checks the phase it starts from (assert, debug builds). The state
 * machine is drawn in docs/architecture.md ("Request and session states").
 */
#ifndef RINGO_HTTP_REQUEST_IMPL_H
#define RINGO_HTTP_REQUEST_IMPL_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/arena.h"
#include "core/ring.h"
#include "core/task.h"
#include "pool/pool.h"
#include "http/router.h"
#include "ringo.h"

struct ringo__route;

typedef struct ringo__hdr {
    ringo_str name;
    ringo_str value;
} ringo__hdr;

enum ringo__req_phase {
    REQ_QUEUED,    /* being parsed, or parsed and waiting for its turn */
    REQ_RUNNING,   /* middleware, dependencies, handler: on this ring, now */
    REQ_SUSPENDED, /* a hop is in flight (a suspended coroutine or a pool job) */
    REQ_DETACHED,  /* answered without it (504) or its client left: the hop still runs */
    REQ_ANSWERED,  /* its response is queued on the connection */
    REQ_POST,      /* teardowns and background tasks run */
    REQ_DONE,      /* nothing left to run: freed once its last hold goes */
};

enum ringo__req_outcome {
    REQ_OK,
    REQ_HANDLER_ERROR,  /* a step failed or could not run: its answer stands as set */
    REQ_RINGO_ERROR,    /* the error answer is ringo's: error handlers shape it */
    REQ_PROTOCOL_ERROR, /* a protocol error answer: no handler runs */
};

#define REQ_INLINE_ARENA 3072 /* fits a typical head plus the route match */

/* A RINGO_SYNC request's trip ring -> pool -> MSG_RING -> ring. */
typedef struct ringo__sync_job {
    ringo__job job;         /* run on a worker */
    ringo__completion comp; /* its completion CQE on the owning ring */
    struct ringo_req *req;
    uint64_t submit_ns; /* metrics: when it was queued (0: not timed) */
    bool post;          /* a post-response hop: set by the ring at submit, read by the worker */
    bool compress;      /* compresses an async handler's body (http/compress.c), nothing else */
} ringo__sync_job;

struct ringo_req {
    ringo__arena arena;
    ringo__conn *conn;
    struct ringo_req *next;
    const struct ringo__route *route;
    ringo_str method, target, path, query;
    ringo__hdr *hdrs;
    uint32_t nhdrs, hdr_cap;
    char *body;
    size_t body_len, body_cap;
    ringo__route_match *match;
    ringo__fiber *task;         /* RINGO_ASYNC: its coroutine */
    ringo__completion deadline; /* route deadline timer CQE */
    struct __kernel_timespec deadline_ts;
    uint64_t start_ms; /* ring clock when the request started running */
    uint32_t holds;    /* task running, deadline timer pending, post-response work */
    uint8_t phase;     /* enum ringo__req_phase: change it only through its transitions */
    uint8_t outcome;   /* enum ringo__req_outcome: likewise */
    bool deadline_armed;
    _Atomic bool gone;     /* what a sync handler polls: nobody waits any more */
    struct ringo__exec *x; /* dependencies, middleware, background: when used */
    /* The current hop: plan steps [hop_from, hop_to), where step nplan is the
     * handler; in REQ_POST, post-response items [hop_from, hop_to). */
    uint32_t hop_from, hop_to;
    struct ringo__body *bp; /* the body as it arrives (RINGO_ROUTE_STREAM_BODY, http/body.c) */
    struct ringo__formdata *form; /* ringo_form_read()'s fields and files (http/formdata.c) */
    struct ringo__file *file;     /* ringo_resp_file()'s body (http/file.c) */
    bool afters_run;              /* middleware after() hooks ran (before a file body is sent) */
    bool z_done;                  /* the body went through compression (http/compress.c) */
    uint64_t max_body;            /* this request's body limit: its route's, or the app's */
    int16_t route_status;         /* routing's answer, found at the end of the head: 0 matched */
    bool early;                   /* queued at the end of its head: its body is read as it runs */
    uint8_t slots;                /* admission slots it holds (http/exec.c) */
    uint32_t nerrors;             /* parameter validation errors */
    const char *detail;           /* ringo_fail()'s text, for error handlers */
    struct ringo__verr *errors;
    void *params_value; /* a declared route's validated parameters (http/validate.c) */
    void *body_value;   /* and body */
    uint8_t http_minor;
    bool keep_alive;
    bool resp_close; /* the handler asked for Connection: close */
    bool is_head;
    bool expect_continue;
    uint32_t hosts; /* Host fields seen (up to max_headers: must not wrap) */
    /* The response. */
    int status;
    ringo__hdr *rhdrs;
    uint32_t nrhdrs, rhdr_cap;
    const char *rbody;
    size_t rbody_len;
    struct ringo__stream *stream;      /* a streamed response: written by the handler's thread */
    struct ringo__sstream *ring_ss;    /* a sync handler's stream, once the ring has seen it */
    uint8_t stream_cancel;             /* ring: why the server ended the stream (http/stream.c) */
    struct ringo__ws_handshake *ws_hs; /* a WebSocket route's checked opening handshake */
    struct ringo_ws *ws;               /* ringo_ws_accept()ed */
    /* Observability (http/observe_impl.h), when the app asked for it. */
    ringo_str rid;          /* request ID: echoed in X-Request-ID when set */
    uint64_t obs_t0;        /* ns: its first byte was parsed */
    uint64_t obs_qwait_ns;  /* time its sync hops waited in the pool queue */
    bool obs_pooled;        /* a sync hop of its ran: obs_qwait_ns is a sample */
    struct ringo__h2s *h2s; /* an HTTP/2 stream's request: its stream, until answered */
    bool h2;                /* an HTTP/2 stream's request (http/h2/session.c) */
    bool parked;            /* HTTP/2: a hop of it is suspended (its answer follows) */
    _Alignas(16) char inline_arena[REQ_INLINE_ARENA];
};

typedef struct ringo__bg {
    ringo_background_fn fn;
    void *arg;
    ringo_mode mode;
    struct ringo__bg *next;
} ringo__bg;

typedef struct ringo__ran {
    struct ringo_dep *dep;
    void *value;
} ringo__ran;

/* A post-response item: a teardown or a background task. */
typedef struct ringo__post {
    ringo_mode mode;
    struct ringo_dep *dep; /* teardown of dep, or NULL: background task */
    void *value;
    ringo__bg *bg;
} ringo__post;

/* Per-request state of dependencies, middleware and background tasks. */
typedef struct ringo__exec {
    void **values;   /* by dependency index */
    ringo__ran *ran; /* dependencies that ran, in order */
    unsigned nran, ran_cap;
    unsigned mw_done; /* middlewares whose before() ran */
    ringo__bg *bg_head, *bg_tail;
    ringo__bg *bg_built; /* the last one in `post`: later ones were scheduled by post work */
    ringo__post *post;   /* teardowns (reverse) then background tasks */
    unsigned npost, post_cap;
    unsigned chained; /* tasks scheduled by post-response work (RINGO_BACKGROUND_MAX_CHAINED) */
    bool posting;     /* post-response hops began: set on the ring between hops, so that
                         a worker may read it (the phase it may not) */
    void *state;      /* ringo_req_state() */
    size_t body_read; /* ringo_req_read() of a buffered body: bytes handed out */
} ringo__exec;

/* ---- phase transitions ---- */

#define REQ_IN(r, mask) (((1u << (r)->phase) & (mask)) != 0)
#define REQ_BIT(p) (1u << (p))

/* QUEUED -> RUNNING: its turn came (ringo__exec_run). */
static inline void ringo__req_start(struct ringo_req *r)
{
    assert(r->phase == REQ_QUEUED);
    r->phase = REQ_RUNNING;
}

/* RUNNING -> SUSPENDED: a hop went to the pool or its coroutine awaits. */
static inline void ringo__req_suspend(struct ringo_req *r)
{
    assert(r->phase == REQ_RUNNING);
    r->phase = REQ_SUSPENDED;
}

/* SUSPENDED -> RUNNING: the hop is back (ring context). */
static inline void ringo__req_resume(struct ringo_req *r)
{
    assert(r->phase == REQ_SUSPENDED);
    r->phase = REQ_RUNNING;
}

/* SUSPENDED -> DETACHED: answered 504 by its deadline, or its connection closed. */
static inline void ringo__req_detach(struct ringo_req *r)
{
    assert(r->phase == REQ_SUSPENDED);
    r->phase = REQ_DETACHED;
}

/* QUEUED (protocol errors, stand-ins) or RUNNING -> ANSWERED: its response is queued. */
static inline void ringo__req_answer(struct ringo_req *r)
{
    assert(REQ_IN(r, REQ_BIT(REQ_QUEUED) | REQ_BIT(REQ_RUNNING)));
    r->phase = REQ_ANSWERED;
}

/* ANSWERED or DETACHED -> POST (post-response work to run) or DONE. */
static inline void ringo__req_responded(struct ringo_req *r, bool post)
{
    assert(REQ_IN(r, REQ_BIT(REQ_ANSWERED) | REQ_BIT(REQ_DETACHED)));
    r->phase = post ? REQ_POST : REQ_DONE;
}

/* POST -> DONE: its last teardown or background task finished. */
static inline void ringo__req_post_done(struct ringo_req *r)
{
    assert(r->phase == REQ_POST);
    r->phase = REQ_DONE;
}

/* ---- outcome transitions ---- */

/* OK -> HANDLER_ERROR: a step failed; an error outcome already set stays. */
static inline void ringo__req_fail(struct ringo_req *r)
{
    assert(r->outcome != REQ_PROTOCOL_ERROR);
    if (r->outcome == REQ_OK)
        r->outcome = REQ_HANDLER_ERROR;
}

/* OK or HANDLER_ERROR -> RINGO_ERROR: ringo wrote the error answer. */
static inline void ringo__req_ringo_error(struct ringo_req *r)
{
    assert(r->outcome != REQ_PROTOCOL_ERROR);
    r->outcome = REQ_RINGO_ERROR;
}

/* OK -> PROTOCOL_ERROR, while QUEUED: the error answer of a bad request. */
static inline void ringo__req_protocol_error(struct ringo_req *r)
{
    assert(r->outcome == REQ_OK && r->phase == REQ_QUEUED);
    r->outcome = REQ_PROTOCOL_ERROR;
}

#endif
