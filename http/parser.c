/*
 * http/parser.c - llhttp glue: bytes in, request objects out.
 *
 * llhttp (strict mode, no lenient flags) does the framing. It still accepts a
 * few things RFC 9112 forbids, so the callbacks check them: obs-fold (a
 * second value span of one field that did not come from a buffer boundary),
 * an empty field name, a bare LF ending the request line, HTTP/0.9 and
 * versions other than 1.0/1.1, Host missing or repeated. Every callback that
 * finds a problem sets err_status and returns -1 (HPE_USER).
 *
 * on_message_complete pauses the parser, so each llhttp_execute() call ends
 * at a message boundary: the session runs the request before it parses the
 * next one and knows exactly where the next message starts.
 *
 * A chunked body is decoded by http/chunked.c, not llhttp: llhttp 8.1 strict
 * mode rejects valid chunk extensions (several with values, quoted-pairs).
 * on_headers_complete marks the message bodiless for llhttp (F_SKIPBODY), so
 * llhttp completes it right after the head and is ready for the next one;
 * ringo__parse then hands the following bytes to the decoder, and the
 * request is complete when the decoder says so.
 */
#include <errno.h>

#include "http/ascii.h"
#include "http/http_impl.h"

enum { CB_NONE, CB_FIELD, CB_VALUE };

static ringo__sess *sess_of(llhttp_t *p) { return p->data; }

static int fail(ringo__sess *s, int status)
{
    s->err_status = status;
    return -1;
}

/* Appends a span to a token that may arrive in pieces across buffers. */
static int append(ringo__arena *a, ringo_str *tok, const char *at, size_t len)
{
    char *p = ringo__arena_grow(a, (void *)tok->ptr, tok->len, tok->len + len);

    if (!p)
        return -1;
    memcpy(p + tok->len, at, len);
    tok->ptr = p;
    tok->len += len;
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);
    const ringo_config *cfg = &s->app->srv.cfg;

    s->cur = ringo__req_new(s);
    if (!s->cur)
        return fail(s, 503);
    s->in_message = true;
    s->head_bytes = s->url_bytes = 0;
    s->last_cb = CB_NONE;
    s->ver_len = 0;
    ringo__chunked_reset(&s->chunked);
    ringo__conn_timer(s->conn, RINGO__TIMER_HEADER, cfg->header_timeout_ms);
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);

    return append(&s->cur->arena, &s->cur->method, at, len) ? fail(s, 503) : 0;
}

static int on_method_complete(llhttp_t *p)
{
    sess_of(p)->method_done = true;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);

    s->url_bytes += (uint32_t)len;
    /* "GET /\r\n" is an HTTP/0.9 request line: no version, never valid here. */
    s->check_next = at + len == s->buf_end ? NEXT_SP : NEXT_NONE;
    if (at + len < s->buf_end && at[len] != ' ')
        return fail(s, 400);
    if (s->url_bytes + s->cur->method.len > s->app->srv.cfg.max_request_line)
        return fail(s, 414);
    return append(&s->cur->arena, &s->cur->target, at, len) ? fail(s, 503) : 0;
}

static int on_version(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);

    if (s->ver_len + len > sizeof(s->ver))
        return fail(s, 400);
    memcpy(s->ver + s->ver_len, at, len);
    s->ver_len = (uint8_t)(s->ver_len + len);
    /* llhttp takes a bare LF after the version: RFC 9112 §2.2 wants CRLF. */
    s->check_next = at + len == s->buf_end ? NEXT_CR : NEXT_NONE;
    if (at + len < s->buf_end && at[len] != '\r')
        return fail(s, 400);
    return 0;
}

static int count_head(ringo__sess *s, size_t len)
{
    s->head_bytes += (uint32_t)len;
    return s->head_bytes > s->app->srv.cfg.max_header_bytes ? fail(s, 431) : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;

    if (count_head(s, len + 4))
        return -1;
    if (s->last_cb != CB_FIELD) {
        if (r->nhdrs >= s->app->srv.cfg.max_headers)
            return fail(s, 431);
        if (r->nhdrs == r->hdr_cap) {
            uint32_t cap = r->hdr_cap ? r->hdr_cap * 2 : 16;
            ringo__hdr *h = ringo__arena_alloc(&r->arena, cap * sizeof(*h));
            if (!h)
                return fail(s, 503);
            if (r->nhdrs)
                memcpy(h, r->hdrs, r->nhdrs * sizeof(*h));
            r->hdrs = h;
            r->hdr_cap = cap;
        }
        r->hdrs[r->nhdrs].name = (ringo_str){"", 0};
        r->hdrs[r->nhdrs].value = (ringo_str){"", 0};
        r->nhdrs++;
        s->last_cb = CB_FIELD;
    }
    return append(&r->arena, &r->hdrs[r->nhdrs - 1].name, at, len) ? fail(s, 503) : 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;

    if (r->nhdrs == 0 || r->hdrs[r->nhdrs - 1].name.len == 0)
        return fail(s, 400); /* ": value" - an empty field name */
    return 0;
}

/*
 * "Name:\r\n value": llhttp skips the empty first line and the fold's
 * whitespace and reports "value" as the whole value. Look at what precedes
 * the span: whitespace back to an LF means the value began on a new line.
 */
static bool folded(const ringo__sess *s, const char *at)
{
    const char *q = at;

    while (q > s->buf_start && (q[-1] == ' ' || q[-1] == '\t'))
        q--;
    return q > s->buf_start && q[-1] == '\n';
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;

    if (count_head(s, len))
        return -1;
    /*
     * A second span of the same value either continues across a buffer
     * boundary (the previous span ended the buffer) or is an obs-fold line,
     * which RFC 9112 §5.2 lets a server reject with 400.
     */
    if (s->last_cb == CB_VALUE && !s->value_at_end)
        return fail(s, 400);
    if (s->last_cb != CB_VALUE && folded(s, at))
        return fail(s, 400);
    s->last_cb = CB_VALUE;
    s->value_at_end = at + len == s->buf_end;
    return append(&r->arena, &r->hdrs[r->nhdrs - 1].value, at, len) ? fail(s, 503) : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;
    ringo_str n = r->hdrs[r->nhdrs - 1].name;

    if (s->last_cb == CB_FIELD) /* "Name:" with an empty value */
        s->last_cb = CB_VALUE;
    s->value_at_end = false;
    if (n.len == 4 && ascii_iequal(n.ptr, "host", 4))
        r->hosts++;
    return 0;
}

/* True when every Transfer-Encoding field lists "chunked" alone. */
static bool only_chunked(const ringo_req *r)
{
    for (uint32_t i = 0; i < r->nhdrs; i++) {
        ringo_str n = r->hdrs[i].name, v = r->hdrs[i].value;
        if (n.len != 17 || !ascii_iequal(n.ptr, "transfer-encoding", 17))
            continue;
        while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t'))
            v.len--;
        if (v.len != 7 || !ascii_iequal(v.ptr, "chunked", 7))
            return false;
    }
    return true;
}

static int check_expect(ringo__sess *s, ringo_req *r, bool has_body)
{
    ringo_str v;

    if (ringo_req_header(r, "expect", &v) < 0)
        return 0;
    if (v.len != 12 || !ascii_iequal(v.ptr, "100-continue", 12))
        return fail(s, 417);
    r->expect_continue = has_body && r->http_minor == 1;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;
    const ringo_config *cfg = &s->app->srv.cfg;
    bool has_body = (p->flags & F_CHUNKED) || p->content_length > 0;

    if (p->http_major != 1)
        return fail(s, p->http_major == 0 ? 400 : 505); /* HTTP/0.9 has no headers */
    if (p->http_minor > 1)
        return fail(s, 505);
    r->http_minor = p->http_minor;
    if (r->hosts > 1 || (r->http_minor == 1 && r->hosts == 0))
        return fail(s, 400); /* RFC 9112 §3.2 */
    if (p->method == HTTP_CONNECT)
        return fail(s, 501);
    if ((p->flags & F_CHUNKED) && !only_chunked(r))
        return fail(s, 501); /* RFC 9112 6.1: a coding we do not implement, e.g. gzip */
    if (!(p->flags & F_CHUNKED) && p->content_length > cfg->max_body_bytes)
        return fail(s, 413);
    r->keep_alive = llhttp_should_keep_alive(p);
    r->is_head = p->method == HTTP_HEAD;
    if (check_expect(s, r, has_body))
        return -1;
    ringo__conn_timer(s->conn, has_body ? RINGO__TIMER_BODY : RINGO__TIMER_NONE,
                      cfg->body_timeout_ms);
    if (r->expect_continue && !s->qhead && !s->running) {
        char *out = ringo__conn_reserve(s->conn, 25);
        if (!out)
            return fail(s, 503); /* never close the connection under llhttp's feet */
        memcpy(out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        ringo__conn_commit(s->conn, 25);
    }
    if (p->flags & F_CHUNKED) {
        ringo__chunked_init(&s->chunked, cfg->max_body_bytes, cfg->max_header_bytes);
        /*
         * Read while paused (after_headers_complete): llhttp sees no body.
         * A body means Upgrade is ignored (RFC 9110 §7.8), as it is for a
         * Content-Length body; clearing it keeps llhttp on HTTP/1.1.
         */
        p->flags |= F_SKIPBODY;
        p->upgrade = 0;
    }
    s->head_done = true;
    return HPE_PAUSED; /* ringo__parse checks the head's last line, then resumes */
}

/* Appends to the request body; `more` is how much is still announced (sizes the buffer once). */
static int body_append(ringo_req *r, const char *at, size_t len, uint64_t more)
{
    if (r->body_len + len > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        char *b;
        while (cap < r->body_len + len)
            cap *= 2;
        if (more + r->body_len + len > cap)
            cap = r->body_len + len + more;
        b = ringo__arena_grow(&r->arena, r->body, r->body_cap, cap);
        if (!b)
            return -503;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;

    if (r->body_len + len > s->app->srv.cfg.max_body_bytes)
        return fail(s, 413);
    /* Content-Length is known up front (the head checked it against the limit). */
    return body_append(r, at, len, p->content_length) ? fail(s, 503) : 0;
}

/* Chunk data from the decoder, which already enforces max_body_bytes. */
static int chunk_data(void *ud, const char *at, size_t len)
{
    ringo__sess *s = ud;

    return body_append(s->cur, at, len, 0);
}

static int on_message_complete(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);

    s->cur->keep_alive = llhttp_should_keep_alive(p);
    /* RFC 9112 §6.1: HTTP/1.0 with Transfer-Encoding is faulty framing: close after it. */
    if ((p->flags & F_CHUNKED) && p->http_minor == 0)
        s->cur->keep_alive = false;
    return HPE_PAUSED;
}

const llhttp_settings_t ringo__llhttp_settings = {
    .on_message_begin = on_message_begin,
    .on_method = on_method,
    .on_method_complete = on_method_complete,
    .on_url = on_url,
    .on_version = on_version,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/*
 * llhttp reports every method it does not know as the same error. A method
 * that is a well-formed token followed by a space is merely unknown (501);
 * anything else is malformed (400).
 */
static int method_status(ringo__sess *s, const char *p, const char *end)
{
    size_t n = s->mprefix_len;
    const char *q = s->msg_start ? s->msg_start : p;

    for (size_t i = 0; i < s->mprefix_len; i++)
        if (!ascii_is_tchar((unsigned char)s->mprefix[i]))
            return 400;
    for (; q < end && *q != ' '; q++, n++)
        if (!ascii_is_tchar((unsigned char)*q))
            return 400;
    return n > 0 && (q == end || *q == ' ') ? 501 : 400;
}

static int parse_error_status(ringo__sess *s, int err, const char *p, const char *end)
{
    /* A callback that failed said why; llhttp names the callback, not the reason. */
    if (s->err_status)
        return s->err_status;
    switch (err) {
    case HPE_INVALID_METHOD: return method_status(s, p, end);
    case HPE_INVALID_VERSION:
        /* HTTP/3.0, HTTP/1.2: a version we do not speak. Garbage is 400. */
        return s->ver_len == 3 && ascii_is_digit((unsigned char)s->ver[0]) && s->ver[1] == '.' &&
                       ascii_is_digit((unsigned char)s->ver[2])
                   ? 505
                   : 400;
    case HPE_PAUSED_H2_UPGRADE: return 505; /* the HTTP/2 connection preface */
    default: return 400;
    }
}

/* Remembers the start of a method that a buffer boundary cut. */
static void save_method_prefix(ringo__sess *s, const char *p, const char *end)
{
    const char *q = s->msg_start ? s->msg_start : p;
    size_t n = (size_t)(end - q);

    if (s->method_done || s->mprefix_len + n > sizeof(s->mprefix)) {
        s->mprefix_len = sizeof(s->mprefix); /* too long: stays a prefix */
        return;
    }
    memcpy(s->mprefix + s->mprefix_len, q, n);
    s->mprefix_len = (uint8_t)(s->mprefix_len + n);
}

/* Keeps the last two bytes parsed, for checks that look back across buffers. */
static void remember_tail(ringo__sess *s, const char *p, size_t n)
{
    if (n >= 2) {
        s->tail[0] = p[n - 2];
        s->tail[1] = p[n - 1];
    } else if (n == 1) {
        s->tail[0] = s->tail[1];
        s->tail[1] = p[0];
    }
}

/*
 * The head ends with an empty line; llhttp accepts a bare LF for it. pos is
 * the offset just past that line's LF in p; the byte before must be CR.
 */
static bool head_ends_with_lf(ringo__sess *s, const char *p, size_t pos)
{
    char before = pos >= 2 ? p[pos - 2] : pos == 1 ? s->tail[1] : s->tail[0];

    return before != '\r';
}

/* The body after a chunked head: the message ends where the decoder says. */
static int parse_chunked(ringo__sess *s, const char *p, size_t n, size_t *consumed)
{
    int ret = ringo__chunked_decode(&s->chunked, p, n, consumed, chunk_data, s);

    if (ret == 1)
        s->in_message = false;
    return ret;
}

/*
 * Parses from p until one message completes, the bytes run out, or an error.
 * Returns 1 when s->cur holds a complete request, 0 when more input is
 * needed, or -status on a protocol error. *consumed says how far it got.
 */
int ringo__parse(ringo__sess *s, const char *p, size_t n, size_t *consumed)
{
    const char *end = p + n;
    size_t base = 0;
    llhttp_errno_t err;

    /* llhttp finished this message at its head; only the chunked body is left. */
    if (s->in_message && ringo__chunked_active(&s->chunked))
        return parse_chunked(s, p, n, consumed);
    s->buf_start = p;
    s->buf_end = end;
    if (!s->in_message) {
        s->msg_start = p;
        s->mprefix_len = 0;
        s->method_done = false;
    }
    if (s->check_next != NEXT_NONE && n) {
        /* The token before ended the previous buffer: check what follows it. */
        char want = s->check_next == NEXT_SP ? ' ' : '\r';
        bool more_token = s->check_next == NEXT_CR
                              ? (ascii_is_digit((unsigned char)*p) || *p == '.')
                              : (*p != ' ' && *p != '\r' && *p != '\n');
        s->check_next = NEXT_NONE;
        if (*p != want && !more_token)
            return *consumed = 0, -400;
    }
again:
    err = llhttp_execute(&s->parser, p, n);
    if (err == HPE_OK) {
        *consumed = n + base;
        remember_tail(s, p, n);
        if (s->in_message && !s->method_done)
            save_method_prefix(s, p, end);
        s->msg_start = NULL;
        return 0;
    }
    *consumed = (size_t)(llhttp_get_error_pos(&s->parser) - p);
    if (err == HPE_PAUSED && s->head_done) {
        /* Paused at the end of the head: was its last line a bare LF? */
        s->head_done = false;
        llhttp_resume(&s->parser);
        if (head_ends_with_lf(s, p, *consumed))
            return -400;
        p += *consumed;
        n -= *consumed;
        base += *consumed;
        goto again;
    }
    if (err == HPE_PAUSED) {
        size_t used = *consumed + base;
        int ret;
        llhttp_resume(&s->parser);
        if (!ringo__chunked_active(&s->chunked)) {
            s->in_message = false;
            *consumed = used;
            return 1;
        }
        ret = parse_chunked(s, p + *consumed, n - *consumed, consumed);
        *consumed += used;
        return ret;
    }
    if (err == HPE_PAUSED_UPGRADE && !s->in_message) {
        /*
         * The upgrade request itself was already answered as a normal request:
         * RFC 9110 §7.8 lets a server ignore Upgrade, so keep speaking HTTP/1.1.
         */
        size_t used = *consumed;
        int ret;
        llhttp_resume_after_upgrade(&s->parser);
        ret = ringo__parse(s, p + used, n - used, consumed);
        *consumed += used + base;
        return ret;
    }
    *consumed += base;
    return -parse_error_status(s, err, p, end);
}
