/*
 * http/http_impl.h - internals shared by the files of http/ only: the app
 * (http/app_impl.h), a request (http/request_impl.h) and a connection's
 * session (http/session_impl.h), and the functions the files call in one
 * another.
 */
#ifndef RINGO_HTTP_IMPL_H
#define RINGO_HTTP_IMPL_H

#include "http/app_impl.h"
#include "http/compress.h"
#include "http/request_impl.h"
#include "http/session_impl.h"
#include "http/timer.h"
#include "http/url.h"

/* http/parser.c */
extern const llhttp_settings_t ringo__llhttp_settings;
int ringo__parse(ringo__sess *s, const char *p, size_t n, size_t *consumed);
/* At the end of a head: routing, and the body limit it decides. */
void ringo__parse_routed(ringo__sess *s, ringo_req *r);
/* http/fasthead.c: 1 when the common head at p was read whole into s->cur (a complete
 * request, *consumed its bytes), 0 when llhttp must parse it (nothing was changed). */
int ringo__parse_fast(ringo__sess *s, const char *p, size_t n, size_t *consumed);

/* http/exec.c: running a request (dependencies, handler, middleware, afterwards) */
void ringo__exec_route(ringo__sess *s, ringo_req *r); /* at the end of its head */
void ringo__exec_run(ringo_req *r);
/* The connection closed under r; cancel: its coroutine too (false: it is only woken). */
void ringo__exec_abandon(ringo_req *r, bool cancel);
void ringo__exec_responded(ringo_req *r);
/* Gives back the admission slots r holds, and counts its memory (ringo__req_free). */
void ringo__exec_release(ringo_req *r);
ringo__exec *ringo__exec_of(ringo_req *r);
/* Holds keep a request (and its connection's memory) alive; the last release frees it. */
void ringo__req_hold(ringo_req *r);
void ringo__req_release(ringo_req *r);

/* http/request.c: where a handler call comes from (streams and bodies wait differently) */
enum { RINGO__CTX_NONE, RINGO__CTX_ASYNC, RINGO__CTX_SYNC };
int ringo__req_context(const ringo_req *r);

/* http/forwarded.c: the client's address (the socket's, the PROXY header's, or what a
 * trusted proxy's forwarding header names) into *out and whether it spoke https; returns
 * the address length, 0 when unknown. */
int ringo__req_client(const ringo_req *r, struct sockaddr_storage *out, bool *https);

/* http/body.c: request bodies read as they arrive (ring context unless said) */
int ringo__body_open(ringo__sess *s, ringo_req *r); /* at the head: 0 or -ENOMEM */
size_t ringo__body_room(ringo_req *r);              /* bytes the handler can take now */
int ringo__body_append(ringo_req *r, const char *p, size_t n);
void ringo__body_finish(ringo_req *r);           /* the whole body arrived */
void ringo__body_fail(ringo_req *r, int status); /* 400, 408, 413: readers get the error */
void ringo__body_abandon(ringo_req *r);          /* the connection closed under it */
void ringo__body_job_done(ringo_req *r);         /* its sync job completed */
void ringo__body_answer(ringo_req *r);           /* a body error replaces the answer */
void ringo__body_free(ringo_req *r);             /* the request is freed */
void ringo__sess_refeed(ringo__sess *s);         /* a reader made room: parse held input */
/* A new unnamed file in dir (NULL: $TMPDIR or /tmp): a descriptor or -errno. */
int ringo__tmpfile(const char *dir);
/* Writes all of p at off from a handler (ctx: ringo__req_context()): 0 or -errno. */
int ringo__write_all(int fd, const char *p, size_t n, uint64_t off, int ctx);

/* http/formdata.c: ringo_form_read()'s results */
int ringo__form_field(const ringo_req *r, const char *name, ringo_str *out);
void ringo__form_free(ringo_req *r); /* closes the file parts' descriptors */

/* http/file.c: ringo_resp_file() bodies */
bool ringo__file_pending(const ringo_req *r);   /* a file body is to be sent by a hop */
void ringo__file_send(ringo_req *r);            /* that hop, on its coroutine */
void ringo__file_failed(ringo_req *r, int err); /* it could not start: 503 */
void ringo__file_free(ringo_req *r);            /* the request is freed */

/* http/stream.c: streamed responses (ring context unless said) */
void ringo__stream_progress(ringo__sess *s); /* output was sent: wake a waiting writer */
void ringo__stream_ping(ringo__sess *s);     /* RINGO__HTTP_TIMER_PING fired */
void ringo__stream_drain(ringo_req *r);      /* shutdown: end a running stream */
bool ringo__stream_deadline(ringo_req *r);   /* route deadline: cut it; false: not streaming */
void ringo__stream_abandon(ringo_req *r);    /* the connection closed under it */
void ringo__stream_job_done(ringo_req *r);   /* its sync job completed */
bool ringo__stream_finish(ringo_req *r);     /* answered: end or cut; false: close after */
void ringo__stream_free(ringo_req *r);       /* the request is freed */
void ringo__stream_h2_drained(ringo_req *r); /* HTTP/2 DATA frames took buffered bytes */
/* HTTP/2: r's event stream was silent for sse_ping_ms; false: r streams no events (any more). */
bool ringo__stream_h2_ping(ringo_req *r);
/* Async stream: waits until the connection sent all it was given. 0, -ECANCELED. */
int ringo__stream_flushed(ringo_req *r);
void ringo__stream_sent(ringo_req *r, uint64_t n); /* n body bytes went out another way */

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
void ringo__lifespan_reload(struct ringo_app *app);
void ringo__bg_finished(struct ringo_app *app, unsigned n, bool dropped);

/* http/params.c */
/* One validation error, as FastAPI shows it (a member of "detail"). */
typedef struct ringo__verr {
    struct ringo__verr *next;
    ringo_loc loc;    /* RINGO_LOC_FORM: "body" */
    const char *name; /* the second member of loc, unless path */
    const char *path; /* JSON text of loc's members after the first (",\"a\",2"), or NULL */
    const char *type;
    const char *msg; /* static text, or arena memory */
    ringo_str input;
    bool has_input;      /* false: "input":null */
    bool input_json;     /* input is JSON text, written as it is; else a string */
    unsigned key;        /* http/validate.c: sort key inside one object */
    const char *ctx_key; /* "ge", "le", "min_length", "max_length" or NULL */
    int64_t ctx_val;
    const char *ctx; /* the whole ctx object as JSON text (wins over ctx_key), or NULL */
} ringo__verr;
int ringo__params_422(ringo_req *r);
/* Bytes of the UTF-8 sequence at p < end: *ok when valid; else its maximal subpart (>= 1),
 * what one U+FFFD stands for in a 422 (and in the code point count of a length bound). */
size_t ringo__utf8_step(const char *p, const char *end, bool *ok);
/* The raw value of a parameter: 0, -ENOENT, -EINVAL (malformed percent-encoding). */
int ringo__param_lookup(ringo_req *r, ringo_loc loc, const char *name, ringo_str *out);
/* A decimal integer with an optional sign and nothing else: 0 or -EINVAL. */
int ringo__parse_int(ringo_str v, int64_t *out);
/* Records FastAPI's "missing" error for name at loc: RINGO_EVALIDATION or -ENOMEM. */
int ringo__params_missing(ringo_req *r, ringo_loc loc, const char *name);

/* http/session.c */
void ringo__sess_finished(ringo__sess *s, ringo_req *r);
void ringo__sess_substitute(ringo__sess *s, ringo_req *r, int status);
void ringo__sess_post_done(ringo__sess *s);
extern const ringo__proto ringo__http_proto;
ringo_req *ringo__req_new(ringo__sess *s);
/* A new request answering status for r, whose handler goes on detached (a route deadline). */
ringo_req *ringo__req_stand_in(ringo__sess *s, const ringo_req *r, int status);
void ringo__req_free(ringo_req *req);
void ringo__sess_fail(ringo__sess *s, int status);

/* http/h2/session.c: HTTP/2 connections (stubs without nghttp2) */
bool ringo__h2_available(void);
int ringo__h2_open(ringo__sess *s); /* the preface arrived: 0 or -ENOMEM */
/* ALPN chose h2 (TLS): the client's preface is still to come. 0 or -ENOMEM */
int ringo__h2_open_alpn(ringo__sess *s);
void ringo__h2_on_data(ringo__sess *s, const char *p, size_t n);
void ringo__h2_on_sent(ringo__sess *s);
void ringo__h2_on_eof(ringo__sess *s);
void ringo__h2_on_timer(ringo__sess *s, int kind);
void ringo__h2_on_drain(ringo__sess *s);
void ringo__h2_on_close(ringo__sess *s);
/* A hop of r suspended for the first time; a parked r has its answer; answered for it (504). */
void ringo__h2_parked(ringo_req *r);
void ringo__h2_finished(ringo_req *r);
void ringo__h2_substitute(ringo_req *r, int status); /* r is detached */
/* http/h2/stream.c: a streamed response over HTTP/2 (ring context) */
int ringo__h2_stream_head(ringo_req *r, int64_t length); /* its HEADERS; length < 0: unknown */
int ringo__h2_stream_put(ringo_req *r, const char *p, size_t n); /* body bytes: 0, -errno */
size_t ringo__h2_stream_buffered(const ringo_req *r); /* put, not yet taken by DATA frames */
void ringo__h2_stream_flush(ringo_req *r);            /* send what the windows allow */
/* An event stream started or wrote: its ping's wait starts again. */
void ringo__h2_stream_sse(ringo_req *r);
/* The body is complete (trailers: a last HEADERS frame), or cut: RST_STREAM. */
void ringo__h2_stream_end(ringo_req *r, const ringo__hdr *tr, uint32_t ntr, bool cut);
/* http/body.c: r's handler has taken this many body bytes in all (its window reopens). */
void ringo__h2_body_read(ringo_req *r, uint64_t taken);

/* http/response.c */
/* An error status without a body gets the short text one (as HTTP/1.1 answers have). */
void ringo__resp_default_body(ringo_req *req);
enum { RINGO__FRAME_NONE, RINGO__FRAME_LENGTH, RINGO__FRAME_CHUNKED, RINGO__FRAME_H2 };
int ringo__resp_serialize(ringo_req *req, ringo__conn *c);
/* The head only, with the given framing (a streamed response). 0 or -ENOMEM. */
int ringo__resp_serialize_head(ringo_req *req, ringo__conn *c, int framing, uint64_t len);
/* Writes "name: value\r\n" for n fields into out (room: their lengths + 4 each). */
int ringo__resp_fields(const ringo__hdr *h, uint32_t n, char *out);
/* The checks of ringo_resp_add_header(): the name's length, or a negative errno. */
int ringo__resp_header_check(const char *name, ringo_str value);
const char *ringo__status_reason(int status);

#endif
