/*
 * http/session_impl.h - one HTTP/1.1 connection's protocol state: the
 * parser, the request queue, input held while busy, and the session state.
 *
 * The state changes only through the transitions in http/session.c, each of
 * which checks the state it starts from (assert, debug builds); `draining`
 * and `eof` are independent bits. The state machine is drawn in
 * docs/architecture.md ("Request and session states").
 */
#ifndef RINGO_HTTP_SESSION_IMPL_H
#define RINGO_HTTP_SESSION_IMPL_H

#include <llhttp.h>
#include <stdbool.h>

#include "core/ring.h"
#include "http/chunked.h"
#include "http/request_impl.h"

enum ringo__sess_state {
    SESS_READING, /* input is parsed as it arrives */
    SESS_HOLDING, /* the connection is busy: input is held in `pending` */
    SESS_DEAD,    /* an error or a closing request is queued: further input is ignored */
    SESS_CLOSED,  /* the connection is gone */
};

/* Per-connection protocol state (lives inside the core connection). */
typedef struct ringo__sess {
    llhttp_t parser;
    ringo__conn *conn;
    struct ringo_app *app;
    const ringo_config *cfg;  /* the server's effective config, read through core's accessor */
    ringo_req *cur;           /* being parsed */
    ringo_req *qhead, *qtail; /* parsed, waiting to run, in order */
    ringo_req *running;       /* handler suspended (coroutine or pool) */
    char *pending;            /* input held while the connection is busy: */
    size_t pending_off;       /* ... pending_len bytes from pending + pending_off */
    size_t pending_len, pending_cap;
    uint64_t served; /* no cap by default: must not wrap */
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
    bool head_done;        /* paused at the end of the head */
    bool cr_next;          /* the version ended the last buffer: the next byte must be CR */
    bool method_scan;      /* llhttp refused the method: reading the rest of its token */
    bool head_borrowed;    /* s->cur's head tokens point into the buffer (own_head) */
    bool llhttp_closed;    /* a message that closes completed: llhttp takes no more */
    const char *borrow_lo; /* ... the bytes they span */
    const char *borrow_hi;
    bool line_blank;        /* since the last LF of the previous buffers: only SP and HTAB */
    char last_byte;         /* the last byte of the previous buffers */
    uint8_t state;          /* enum ringo__sess_state: change it only through its transitions */
    bool draining;          /* shutdown: the last request received closes the connection */
    bool eof;               /* the client will send nothing more */
    bool feeding;           /* inside feed(): the input left is not in `pending` */
    bool may_send_more;     /* the client may still be sending: its close lingers */
    uint32_t post_inflight; /* answered requests whose teardowns/tasks still run */
    int err_status;
    ringo__chunked chunked; /* body decoder state (http/chunked.c) */
    struct ringo_ws *ws;    /* upgraded: the connection speaks WebSocket (http/ws/conn.c) */
    struct ringo__h2 *h2;   /* the connection speaks HTTP/2 (http/h2/session.c) */
    bool h2_mode;           /* it did (stays set after close: requests may outlive h2) */
    bool sniffed;           /* the first bytes were checked for the HTTP/2 preface */
    uint8_t pre_len;        /* bytes of a preface received so far, while !sniffed */
    uint32_t h2_reqs;       /* HTTP/2 requests alive (streams and detached handlers) */
} ringo__sess;

/*
 * Answered requests of one connection whose teardowns or background tasks
 * still run: past this the connection stops taking requests (backpressure
 * reaches recv) instead of piling up request objects and pool jobs.
 */
#define RINGO__MAX_POST_INFLIGHT 64

/* Dead or closed: input is ignored. */
static inline bool ringo__sess_dead(const ringo__sess *s) { return s->state >= SESS_DEAD; }

#endif
