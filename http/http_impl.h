/*
 * http/http_impl.h - request, session and app internals shared by http/ only.
 */
#ifndef RINGO_HTTP_IMPL_H
#define RINGO_HTTP_IMPL_H

#include <llhttp.h>
#include <stdbool.h>

#include "core/arena.h"
#include "core/ring.h"
#include "core/server.h"
#include "core/task.h"
#include "pool/pool.h"
#include "http/chunked.h"
#include "http/router.h"
#include "http/url.h"
#include "ringo.h"

typedef struct ringo__hdr {
    ringo_str name;
    ringo_str value;
} ringo__hdr;

struct ringo_dep {
    char *name;
    ringo_dep_fn fn;
    void *udata;
    ringo_mode mode;
    ringo_dep_teardown_fn teardown;
    char *type;
    bool no_cache;
    char **needs; /* names, resolved at start into deps */
    unsigned nneeds;
    struct ringo_dep **deps;
    unsigned index; /* slot of its value in a request */
    uint8_t mark;   /* graph walk: 0 new, 1 on the path, 2 done */
};

struct ringo_group {
    struct ringo_app *app;
    char *prefix;
    char **needs;
    unsigned nneeds;
};

typedef struct ringo__hook {
    char *name;
    ringo_lifespan_fn fn;
    void *udata;
} ringo__hook;

typedef struct ringo__err_handler {
    int status;
    ringo_error_handler_fn fn;
    void *udata;
} ringo__err_handler;

typedef struct ringo__route {
    char *method;
    char *pattern;
    char *label; /* "GET /users/{id}" for logs */
    ringo_route_opts opts;
    char **needs; /* own names (copied) */
    unsigned nneeds;
    struct ringo_group *group;
    struct ringo_dep **plan; /* dependencies in execution order, resolved at start */
    unsigned nplan;
    ringo_mode mode;
    ringo_handler_fn fn;
    void *udata;
} ringo__route;

struct ringo_app {
    ringo__server srv;
    ringo__router *router;
    ringo__pool *pool; /* RINGO_SYNC handlers run here */
    struct ringo_dep **deps;
    unsigned ndeps, deps_cap;
    char **needs; /* app-wide dependencies */
    unsigned nneeds;
    struct ringo_group **groups;
    unsigned ngroups;
    ringo_middleware *mws;
    unsigned nmws;
    ringo__err_handler *errh;
    unsigned nerrh;
    ringo__hook *startup, *shutdown;
    unsigned nstartup, nshutdown, started_hooks;
    ringo__route **routes;
    unsigned nroutes, routes_cap;
    char *host;
    bool started;
};

#define REQ_INLINE_ARENA 3072 /* fits a typical head plus the route match */

/* A RINGO_SYNC request's trip ring -> pool -> MSG_RING -> ring. */
typedef struct ringo__sync_job {
    ringo__job job;         /* run on a worker */
    ringo__completion comp; /* its completion CQE on the owning ring */
    struct ringo_req *req;
} ringo__sync_job;

struct ringo_req {
    ringo__arena arena;
    ringo__conn *conn;
    struct ringo_req *next;
    const ringo__route *route;
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
    bool deadline_armed;
    bool detached;             /* answered early (504) or connection gone */
    _Atomic bool gone;         /* what a sync handler polls: nobody waits any more */
    struct ringo__exec *x;     /* dependencies, middleware, background: when used */
    uint16_t hop_from, hop_to; /* plan steps the current hop runs */
    bool hop_handler;          /* ... and then the handler */
    bool handler_done;
    bool failed;        /* a dependency or the handler failed the request */
    bool ringo_error;   /* the error answer is ringo's: error handlers shape it */
    bool post;          /* in the after-response phase */
    uint16_t nerrors;   /* parameter validation errors */
    const char *detail; /* ringo_fail()'s text, for error handlers */
    struct ringo__verr *errors;
    uint8_t http_minor;
    bool keep_alive;
    bool resp_close; /* the handler asked for Connection: close */
    bool is_head;
    bool expect_continue;
    bool error;    /* a protocol error answer: no handler runs */
    uint8_t hosts; /* Host fields seen */
    /* The response. */
    int status;
    ringo__hdr *rhdrs;
    uint32_t nrhdrs, rhdr_cap;
    const char *rbody;
    size_t rbody_len;
    _Alignas(16) char inline_arena[REQ_INLINE_ARENA];
};

/* Per-connection protocol state (lives inside the core connection). */
typedef struct ringo__sess {
    llhttp_t parser;
    ringo__conn *conn;
    struct ringo_app *app;
    ringo_req *cur;           /* being parsed */
    ringo_req *qhead, *qtail; /* parsed, waiting to run, in order */
    ringo_req *running;       /* handler suspended (coroutine or pool) */
    char *pending;            /* input held while the connection is busy */
    size_t pending_len, pending_cap;
    uint32_t served;
    bool in_message;
    /*
     * Parser glue (http/parser.c). Input arrives in buffers cut anywhere;
     * what a check needs from an earlier buffer is carried here, so that no
     * answer depends on where the cuts fall.
     */
    const char *buf_start; /* the buffer being parsed */
    const char *buf_end;
    const char *ver_end; /* just past the last version span */
    uint64_t head_bytes; /* header field bytes of this head (431) */
    uint64_t url_bytes;  /* request-target bytes (414) */
    uint64_t method_len; /* bytes of an unknown method being classified (501 or 400) */
    uint8_t last_cb;
    char ver[8];
    uint8_t ver_len;
    bool value_at_end;
    bool head_done;   /* paused at the end of the head */
    bool cr_next;     /* the version ended the last buffer: the next byte must be CR */
    bool method_scan; /* llhttp refused the method: reading the rest of its token */
    bool line_blank;  /* since the last LF of the previous buffers: only SP and HTAB */
    char last_byte;   /* the last byte of the previous buffers */
    bool dead;        /* answered with an error: input is ignored */
    bool draining;
    bool eof;
    bool closed;
    uint32_t post_inflight; /* answered requests whose teardowns/tasks still run */
    int err_status;
    ringo__chunked chunked; /* body decoder state (http/chunked.c) */
} ringo__sess;

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
    ringo__post *post; /* teardowns (reverse) then background tasks */
    unsigned npost;
    void *state; /* ringo_req_state() */
} ringo__exec;

/* http/parser.c */
extern const llhttp_settings_t ringo__llhttp_settings;
int ringo__parse(ringo__sess *s, const char *p, size_t n, size_t *consumed);

/* http/exec.c: running a request (dependencies, handler, middleware, afterwards) */
void ringo__exec_run(ringo__sess *s, ringo_req *r);
void ringo__exec_abandon(ringo_req *r);
void ringo__exec_responded(ringo_req *r);
ringo__exec *ringo__exec_of(ringo_req *r);

/* http/app.c */
int ringo__route_add(struct ringo_app *app, const char *method, const char *pattern,
                     ringo_mode mode, ringo_handler_fn fn, void *udata,
                     const ringo_route_opts *opts, struct ringo_group *group);

/* http/deps.c */
int ringo__deps_resolve(struct ringo_app *app);
void ringo__deps_free(struct ringo_app *app);
void ringo__shape_error(ringo_req *r);
int ringo__lifespan_startup(struct ringo_app *app);
void ringo__lifespan_shutdown(struct ringo_app *app);

/* http/params.c */
int ringo__params_422(ringo_req *r);

/*
 * Answered requests of one connection whose teardowns or background tasks
 * still run: past this the connection stops taking requests (backpressure
 * reaches recv) instead of piling up request objects and pool jobs.
 */
#define RINGO__MAX_POST_INFLIGHT 64

/* http/session.c */
void ringo__sess_finished(ringo__sess *s, ringo_req *r);
void ringo__sess_substitute(ringo__sess *s, ringo_req *r, int status);
void ringo__sess_post_done(ringo__sess *s);
extern const ringo__proto ringo__http_proto;
ringo_req *ringo__req_new(ringo__sess *s);
void ringo__req_free(ringo_req *req);
void ringo__sess_fail(ringo__sess *s, int status);

/* http/response.c */
int ringo__resp_serialize(ringo_req *req, ringo__conn *c);
const char *ringo__status_reason(int status);

#endif
