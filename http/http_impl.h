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

typedef struct ringo__route {
    char *method;
    char *pattern;
    char *label; /* "GET /users/{id}" for logs */
    ringo_route_opts opts;
    ringo_mode mode;
    ringo_handler_fn fn;
    void *udata;
} ringo__route;

struct ringo_app {
    ringo__server srv;
    ringo__router *router;
    ringo__pool *pool;             /* RINGO_SYNC handlers run here */
    ringo__route **routes;
    unsigned nroutes, routes_cap;
    char *host;
    bool started;
};

#define REQ_INLINE_ARENA 1536

/* A RINGO_SYNC request's trip ring -> pool -> MSG_RING -> ring. */
typedef struct ringo__sync_job {
    ringo__job job;          /* run on a worker */
    ringo__completion comp;  /* its completion CQE on the owning ring */
    struct ringo_req *req;
    int ret;                 /* the handler's return */
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
    ringo__task *task;         /* RINGO_ASYNC: its coroutine */
    ringo__completion deadline; /* route deadline timer CQE */
    struct __kernel_timespec deadline_ts;
    uint8_t holds;             /* task running, deadline timer pending */
    bool deadline_armed;
    bool detached;             /* answered early (504) or connection gone */
    _Atomic bool gone;         /* what a sync handler polls: nobody waits any more */
    struct ringo__sync_job *job; /* RINGO_SYNC: its pool job */
    uint8_t http_minor;
    bool keep_alive;
    bool is_head;
    bool expect_continue;
    bool error;        /* a protocol error answer: no handler runs */
    uint8_t hosts;     /* Host fields seen */
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
    ringo_req *cur;                  /* being parsed */
    ringo_req *qhead, *qtail;        /* parsed, waiting to run, in order */
    ringo_req *running;              /* handler suspended (coroutine or pool) */
    char *pending;                   /* input held while the connection is busy */
    size_t pending_len, pending_cap;
    const char *buf_start;           /* the buffer being parsed */
    const char *buf_end;
    const char *msg_start;           /* where the current message began, if in buffer */
    uint32_t served;
    uint32_t head_bytes;
    uint32_t url_bytes;
    uint8_t last_cb;
    uint8_t mprefix_len;
    char mprefix[16];                /* method bytes from an earlier buffer */
    char ver[8];
    uint8_t ver_len;
    bool value_at_end;
    bool head_done;                  /* paused at the end of the head */
    uint8_t check_next;              /* a token ended the buffer: NEXT_* */
    char tail[2];                    /* last bytes of the previous buffer */
    bool in_message;
    bool method_done;
    bool dead;                       /* answered with an error: input is ignored */
    bool draining;
    bool eof;
    bool closed;
    int err_status;
    const char *err_reason;
    ringo__chunked chunked;          /* body decoder state (http/chunked.c) */
} ringo__sess;

/* http/parser.c */
enum { NEXT_NONE, NEXT_SP, NEXT_CR };
extern const llhttp_settings_t ringo__llhttp_settings;
int ringo__parse(ringo__sess *s, const char *p, size_t n, size_t *consumed);
int ringo__parse_error_status(ringo__sess *s, int err, const char *p, const char *end);

/* http/session.c */
extern const ringo__proto ringo__http_proto;
ringo_req *ringo__req_new(ringo__sess *s);
void ringo__req_free(ringo_req *req);
void ringo__sess_fail(ringo__sess *s, int status);

/* http/response.c */
int ringo__resp_serialize(ringo_req *req, ringo__conn *c);
const char *ringo__status_reason(int status);
int ringo__resp_simple(ringo__conn *c, int status, bool close, const char *extra_headers);

#endif
