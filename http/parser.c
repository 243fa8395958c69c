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
 * Input arrives in receive buffers cut anywhere, and the answer must not
 * depend on where: a check that looks at a neighbouring byte gets it from
 * state carried across buffers (line_blank, last_byte, cr_next), never by reading
 * before the buffer or assuming what comes after it; a token is judged whole
 * (an unknown method is read to its end before 501 or 400 is decided); and
 * a span cut by an llhttp error is still handed to its callback (flush_span),
 * so limits are checked on the same bytes whether or not a buffer boundary
 * fell inside the span. tests/fuzz/parser_fuzz.c checks this property.
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

#include "core/util.h"
#include "http/http_impl.h"

enum { CB_NONE, CB_FIELD, CB_VALUE };

static ringo__sess *sess_of(llhttp_t *p) { return p->data; }

static int fail(ringo__sess *s, int status)
{
    s->err_status = status;
    return -1;
}

/*
 * Appends a span to a token that may arrive in pieces across buffers. A
 * token's first span is not copied: it points into the buffer until
 * own_head() copies the whole head at once (at its end, or when the buffer
 * ends first). A later span is a continuation in a later buffer, by which
 * time the first was copied; it grows the copy.
 */
static int append(ringo__sess *s, ringo_str *tok, const char *at, size_t len)
{
    if (tok->len == 0) {
        if (len) {
            tok->ptr = at;
            tok->len = len;
            if (!s->head_borrowed) {
                s->head_borrowed = true;
                s->borrow_lo = at;
            }
            s->borrow_hi = at + len; /* spans come in buffer order */
        }
        return 0;
    }
    ringo__arena *a = &s->cur->arena;
    char *p = ringo__arena_grow(a, (void *)tok->ptr, tok->len, tok->len + len);

    if (!p)
        return -1;
    memcpy(p + tok->len, at, len);
    tok->ptr = p;
    tok->len += len;
    return 0;
}

static void rebase(const ringo__sess *s, ringo_str *t, const char *copy)
{
    if ((uintptr_t)t->ptr - (uintptr_t)s->borrow_lo >=
        (uintptr_t)s->borrow_hi - (uintptr_t)s->borrow_lo)
        return; /* not borrowed: empty, or already in the arena */
    if (copy)
        t->ptr = copy + (t->ptr - s->borrow_lo);
    else
        *t = (ringo_str){"", 0};
}

/*
 * Copies the tokens of s->cur that still point into the buffer (the method,
 * the target, header names and values: append()) into its arena with one
 * allocation and one copy of the head bytes they span, before the buffer goes
 * back to the kernel or anything keeps pointers into them (the router splits
 * the target). Returns 0, or -1 when the arena refuses: the tokens are then
 * emptied, so that nothing points into a buffer that is gone.
 */
static int own_head(ringo__sess *s)
{
    ringo_req *r = s->cur;
    size_t n = (size_t)(s->borrow_hi - s->borrow_lo);
    char *copy = ringo__arena_alloc(&r->arena, n);

    if (copy)
        memcpy(copy, s->borrow_lo, n);
    rebase(s, &r->method, copy);
    rebase(s, &r->target, copy);
    for (uint32_t i = 0; i < r->nhdrs; i++) {
        rebase(s, &r->hdrs[i].name, copy);
        rebase(s, &r->hdrs[i].value, copy);
    }
    s->head_borrowed = false;
    return copy ? 0 : -1;
}

static int on_message_begin(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);
    const ringo_config *cfg = s->cfg;

    s->cur = ringo__req_new(s);
    if (!s->cur)
        return fail(s, 503);
    s->in_message = true;
    s->head_bytes = s->url_bytes = 0;
    s->last_cb = CB_NONE;
    s->ver_len = 0;
    s->cr_next = s->method_scan = false;
    ringo__chunked_reset(&s->chunked);
    ringo__conn_timer(s->conn, RINGO__HTTP_TIMER_HEADER, cfg->header_timeout_ms);
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);

    return append(s, &s->cur->method, at, len) ? fail(s, 503) : 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);

    /* The limit first: a split span must fail where the whole one would. */
    s->url_bytes += len;
    if (s->url_bytes + s->cur->method.len > s->cfg->max_request_line)
        return fail(s, 414);
    /*
     * llhttp ends the target at SP, CR or LF; "GET /\r\n" is an HTTP/0.9
     * request line, never valid here. A span that runs to the end of the
     * buffer continues, or ends with an empty span at the next buffer's start.
     */
    if (at + len < s->buf_end && at[len] != ' ')
        return fail(s, 400);
    return append(s, &s->cur->target, at, len) ? fail(s, 503) : 0;
}

static int on_version(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);

    if (s->ver_len + len > sizeof(s->ver))
        return fail(s, 400);
    memcpy(s->ver + s->ver_len, at, len);
    s->ver_len = (uint8_t)(s->ver_len + len);
    s->ver_end = at + len;
    return 0;
}

/*
 * llhttp ends the version right after its minor digit, before reading the
 * next byte, and takes a bare LF there: RFC 9112 §2.2 wants CRLF. When the
 * version ended the buffer, the next buffer's first byte is checked.
 */
static int on_version_complete(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);

    if (s->ver_end == s->buf_end)
        s->cr_next = true;
    else if (*s->ver_end != '\r')
        return fail(s, 400);
    return 0;
}

static int count_head(ringo__sess *s, size_t len)
{
    s->head_bytes += len;
    return s->head_bytes > s->cfg->max_header_bytes ? fail(s, 431) : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;

    /* ": " and CRLF count once per field, however many spans its name comes in. */
    if (count_head(s, s->last_cb != CB_FIELD ? len + 4 : len))
        return -1;
    if (s->last_cb != CB_FIELD) {
        if (r->nhdrs >= s->cfg->max_headers || r->hdr_cap > UINT32_MAX / 2)
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
    return append(s, &r->hdrs[r->nhdrs - 1].name, at, len) ? fail(s, 503) : 0;
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
 * Whitespace back to the buffer's start: the previous buffers say.
 */
static bool folded(const ringo__sess *s, const char *at)
{
    const char *q = at;

    while (q > s->buf_start && (q[-1] == ' ' || q[-1] == '\t'))
        q--;
    return q > s->buf_start ? q[-1] == '\n' : s->line_blank;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;

    /*
     * An empty span has no byte to judge, and ends the value's span: llhttp
     * reports an empty value ("Name:\r\n") as an empty span at the start of
     * the next line, which would look like an obs-fold below; a value that
     * ran to the end of the previous buffer ends with an empty span here.
     */
    if (len == 0) {
        s->value_at_end = false;
        return 0;
    }
    /*
     * A second span of the same value either continues across a buffer
     * boundary (the previous span ended the buffer) or is an obs-fold line,
     * which RFC 9112 §5.2 lets a server reject with 400. The fold is found
     * at the span's first byte: before the span's bytes count against the
     * limit, so that a long folded line is a 400 whether or not it was cut.
     */
    if (s->last_cb == CB_VALUE && !s->value_at_end)
        return fail(s, 400);
    if (s->last_cb != CB_VALUE && folded(s, at))
        return fail(s, 400);
    if (count_head(s, len))
        return -1;
    s->last_cb = CB_VALUE;
    s->value_at_end = at + len == s->buf_end;
    return append(s, &r->hdrs[r->nhdrs - 1].value, at, len) ? fail(s, 503) : 0;
}

/* "Host" in any ASCII case, without a loop: this runs for every header field. */
static bool is_host(ringo_str n)
{
    uint32_t w, want;

    if (n.len != 4)
        return false;
    memcpy(&w, n.ptr, 4);
    memcpy(&want, "host", 4); /* folded at compile time, either byte order */
    /* Exact: the only bytes that OR 0x20 gives 'h', 'o', 's', 't' are those letters. */
    return (w | 0x20202020u) == want;
}

static int on_header_value_complete(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;
    ringo__hdr *h = &r->hdrs[r->nhdrs - 1];
    size_t len = h->value.len;

    if (s->last_cb == CB_FIELD) /* "Name:" with an empty value */
        s->last_cb = CB_VALUE;
    s->value_at_end = false;
    /* RFC 9110 §5.5: the value excludes trailing whitespace (llhttp drops the leading). */
    while (len && (h->value.ptr[len - 1] == ' ' || h->value.ptr[len - 1] == '\t'))
        len--;
    h->value.len = len;
    /* Only none, one or several matter: saturate, 256 fields must not look like none.
     * An invalid value counts as several: 400 either way (RFC 9112 §3.2). */
    if (is_host(h->name) && r->hosts < 2)
        r->hosts += ringo__host_valid(h->value.ptr, len) ? 1 : 2;
    return 0;
}

/* True when every Transfer-Encoding field lists "chunked" alone. */
static bool only_chunked(const ringo_req *r)
{
    for (uint32_t i = 0; i < r->nhdrs; i++) {
        ringo_str n = r->hdrs[i].name, v = r->hdrs[i].value;
        if (n.len != 17 || !ringo__ascii_iequal(n.ptr, "transfer-encoding", 17))
            continue;
        while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t'))
            v.len--;
        if (v.len != 7 || !ringo__ascii_iequal(v.ptr, "chunked", 7))
            return false;
    }
    return true;
}

static int check_expect(ringo__sess *s, ringo_req *r, bool has_body)
{
    ringo_str v;

    if (ringo_req_header(r, "expect", &v) < 0)
        return 0;
    if (v.len != 12 || !ringo__ascii_iequal(v.ptr, "100-continue", 12))
        return fail(s, 417);
    r->expect_continue = has_body && r->http_minor == 1;
    return 0;
}

/* The route decides the body's limit and whether it is read before the handler runs. */
void ringo__parse_routed(ringo__sess *s, ringo_req *r)
{
    ringo__exec_route(s, r);
    r->max_body = r->route && r->route->opts.max_body_bytes ? r->route->opts.max_body_bytes
                                                            : s->cfg->max_body_bytes;
    /* A buffered body lives in the arena: the memory bound is its limit too (a
     * streamed one is read through a window, and spooled bytes do not count). */
    if (r->arena.limit && r->max_body > r->arena.limit &&
        !(r->route && (r->route->opts.flags & RINGO_ROUTE_STREAM_BODY)))
        r->max_body = r->arena.limit;
}

static int on_headers_complete(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);
    ringo_req *r = s->cur;
    const ringo_config *cfg = s->cfg;
    bool has_body = (p->flags & F_CHUNKED) || p->content_length > 0;

    if (s->head_borrowed && own_head(s) < 0)
        return fail(s, 503);
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
    ringo__parse_routed(s, r);
    if (!(p->flags & F_CHUNKED) && p->content_length > r->max_body) {
        r->arena.over = r->arena.limit && r->max_body == r->arena.limit; /* a memory failure */
        return fail(s, 413);
    }
    r->keep_alive = llhttp_should_keep_alive(p);
    r->is_head = p->method == HTTP_HEAD;
    if (check_expect(s, r, has_body))
        return -1;
    if (has_body && r->route && !r->route_status &&
        (r->route->opts.flags & RINGO_ROUTE_STREAM_BODY) && ringo__body_open(s, r) < 0)
        return fail(s, 503);
    /* A streamed body's wait is its route's, restarted as data arrives (http/body.c). */
    ringo__conn_timer(s->conn, has_body ? RINGO__HTTP_TIMER_BODY : RINGO__HTTP_TIMER_NONE,
                      r->early && r->route->opts.body_timeout_ms ? r->route->opts.body_timeout_ms
                                                                 : cfg->body_timeout_ms);
    if (r->expect_continue && !r->early && !s->qhead && !s->running) {
        char *out = ringo__conn_reserve(s->conn, 25);
        if (!out)
            return fail(s, 503); /* never close the connection under llhttp's feet */
        memcpy(out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        ringo__conn_commit(s->conn, 25);
    }
    if (p->flags & F_CHUNKED) {
        ringo__chunked_init(&s->chunked, r->max_body, cfg->max_header_bytes);
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
    size_t need = r->body_len + len; /* both bounded by max_body_bytes and one buffer */

    if (need > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        char *b;
        while (cap < need && cap <= SIZE_MAX / 2)
            cap *= 2;
        /* Size once for what the head announced, unless that sum would wrap. */
        if (more <= SIZE_MAX - need && need + more > cap)
            cap = need + (size_t)more;
        if (cap < need)
            return -503;
        b = ringo__arena_grow(&r->arena, r->body, r->body_cap, cap);
        if (!b)
            return r->arena.over ? -413 : -503;
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
    int ret;

    if (r->early)
        return ringo__body_append(r, at, len) ? fail(s, 503) : 0; /* the head checked the length */
    if (r->body_len + len > r->max_body) {
        r->arena.over = r->arena.limit && r->max_body == r->arena.limit;
        return fail(s, 413);
    }
    /* Content-Length is known up front (the head checked it against the limit). */
    ret = body_append(r, at, len, p->content_length);
    return ret ? fail(s, -ret) : 0;
}

/* Chunk data from the decoder, which already enforces max_body_bytes. */
static int chunk_data(void *ud, const char *at, size_t len)
{
    ringo__sess *s = ud;

    if (s->cur->early)
        return ringo__body_append(s->cur, at, len) ? -503 : 0;
    return body_append(s->cur, at, len, 0);
}

static int on_message_complete(llhttp_t *p)
{
    ringo__sess *s = sess_of(p);

    s->cur->keep_alive = llhttp_should_keep_alive(p);
    /* llhttp refuses anything after a closing message: so must the fast head. */
    s->llhttp_closed = !s->cur->keep_alive;
    /* RFC 9112 §6.1: HTTP/1.0 with Transfer-Encoding is faulty framing: close after it. */
    if ((p->flags & F_CHUNKED) && p->http_minor == 0)
        s->cur->keep_alive = false;
    return HPE_PAUSED;
}

const llhttp_settings_t ringo__llhttp_settings = {
    .on_message_begin = on_message_begin,
    .on_method = on_method,
    .on_url = on_url,
    .on_version = on_version,
    .on_version_complete = on_version_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/*
 * llhttp hands a span (method, target, field name or value) to its callback
 * when the span ends and when the buffer does, but not when an error cuts
 * it. Hand the callback the bytes before the error, so that its limits
 * (414, 431) are checked on the same bytes whether or not an earlier buffer
 * boundary already flushed part of the span. llparse keeps the open span in
 * these two fields of the public parser struct: they are llparse's, not
 * llhttp's API, so a release other than the one this was written against
 * must be checked (fuzz.parser_corpus and test_segmentation cover it) before
 * this line is moved.
 */
#if LLHTTP_VERSION_MAJOR != 8
#error "flush_span() reads llparse's span fields as llhttp 8 lays them out: check them"
#endif
static void flush_span(llhttp_t *p, const char *err_pos)
{
    typedef int (*span_cb)(llhttp_t *, const char *, const char *);
    const char *start = p->_span_pos0;

    if (start && start <= err_pos)
        ((span_cb)p->_span_cb0)(p, start, err_pos);
}

/*
 * llhttp reports every method it does not know as the same error, at the
 * first byte that no known method has there. A method that is a well-formed
 * token followed by a space is merely unknown (501); anything else is
 * malformed (400). That needs the token's end, which may be in a later
 * buffer: returns the status, or 0 when all of [p, end) was read and more is
 * needed. s->method_len counts the token's bytes so far.
 */
static int classify_method(ringo__sess *s, const char *p, const char *end, size_t *used)
{
    const char *q = p;

    for (; q < end; q++) {
        if (*q == ' ' || !ringo__is_tchar((unsigned char)*q))
            break;
        if (++s->method_len > s->cfg->max_request_line)
            break;
    }
    *used = (size_t)(q - p);
    if (q == end)
        return 0;
    if (s->method_len > s->cfg->max_request_line)
        return 414;
    return *q == ' ' && s->method_len > 0 ? 501 : 400;
}

/* The answer to an llhttp error at err_pos; 0: an unknown method still being read. */
static int error_status(ringo__sess *s, llhttp_errno_t err, const char *err_pos, size_t *used)
{
    int status;

    *used = 0;
    if (!s->err_status)
        flush_span(&s->parser, err_pos);
    /* A callback that failed said why; llhttp names the callback, not the reason. */
    if (s->err_status)
        return s->err_status;
    switch (err) {
    case HPE_INVALID_METHOD:
        s->method_len = s->cur ? s->cur->method.len : 0;
        status = classify_method(s, err_pos, s->buf_end, used);
        s->method_scan = status == 0;
        return status;
    case HPE_INVALID_VERSION:
        /*
         * llhttp ends the version span before it rejects a well-formed
         * version it does not speak (HTTP/3.0, HTTP/1.2): 505. Garbage: 400.
         */
        return s->ver_len == 3 && ringo__ascii_digit((unsigned char)s->ver[0]) &&
                       s->ver[1] == '.' && ringo__ascii_digit((unsigned char)s->ver[2])
                   ? 505
                   : 400;
    case HPE_PAUSED_H2_UPGRADE: return 505; /* the HTTP/2 connection preface */
    default: return 400;
    }
}

/*
 * Carries what later checks need from the buffer just parsed: its last
 * byte, and whether only SP/HTAB follow its last LF (a buffer of only
 * SP/HTAB leaves that as the buffers before it set it).
 */
static void carry(ringo__sess *s)
{
    const char *q = s->buf_end;

    while (q > s->buf_start && (q[-1] == ' ' || q[-1] == '\t'))
        q--;
    if (q > s->buf_start)
        s->line_blank = q[-1] == '\n';
    if (s->buf_end > s->buf_start)
        s->last_byte = s->buf_end[-1];
}

/*
 * The head ends with an empty line; llhttp accepts a bare LF for it. pos is
 * the offset just past that line's LF in p; the byte before must be CR.
 */
static bool head_ends_with_lf(const ringo__sess *s, const char *p, size_t pos)
{
    const char *lf = p + pos - 1;
    char before = lf > s->buf_start ? lf[-1] : s->last_byte;

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

/* Goes on reading an unknown method's token (see classify_method). */
static int parse_method(ringo__sess *s, const char *p, size_t n, size_t *consumed)
{
    int status = classify_method(s, p, p + n, consumed);

    return status ? -status : 0;
}

/* llhttp from p on, resuming past the end of the head (see ringo__parse). */
static int execute(ringo__sess *s, const char *p, size_t n, size_t *consumed)
{
    size_t base = 0, used;
    llhttp_errno_t err;
    int status;

again:
    err = llhttp_execute(&s->parser, p, n);
    if (err == HPE_OK) {
        *consumed = n + base;
        carry(s);
        return 0;
    }
    *consumed = (size_t)(llhttp_get_error_pos(&s->parser) - p);
    if (err == HPE_PAUSED && s->head_done) {
        /* Paused at the end of the head: was its last line a bare LF? */
        s->head_done = false;
        llhttp_resume(&s->parser);
        if (head_ends_with_lf(s, p, *consumed))
            return -400;
        if (s->cur->early && !ringo__chunked_active(&s->chunked)) {
            /* Its handler may run now; the body is parsed as it reads. */
            *consumed += base;
            return 2;
        }
        p += *consumed;
        n -= *consumed;
        base += *consumed;
        goto again;
    }
    if (err == HPE_PAUSED) {
        size_t done = *consumed + base;
        int ret;
        llhttp_resume(&s->parser);
        if (!ringo__chunked_active(&s->chunked)) {
            s->in_message = false;
            *consumed = done;
            return 1;
        }
        if (s->cur->early) {
            *consumed = done;
            return 2; /* a chunked body to stream: its head is in */
        }
        ret = parse_chunked(s, p + *consumed, n - *consumed, consumed);
        *consumed += done;
        return ret;
    }
    if (err == HPE_PAUSED_UPGRADE && !s->in_message) {
        /*
         * The upgrade request itself was already answered as a normal request:
         * RFC 9110 §7.8 lets a server ignore Upgrade, so keep speaking HTTP/1.1.
         */
        size_t done = *consumed;
        int ret;
        llhttp_resume_after_upgrade(&s->parser);
        ret = ringo__parse(s, p + done, n - done, consumed);
        *consumed += done + base;
        return ret;
    }
    status = error_status(s, err, llhttp_get_error_pos(&s->parser), &used);
    *consumed += base + used;
    return status ? -status : 0;
}

/*
 * Parses from p until one message completes, the bytes run out, or an error.
 * Returns 1 when s->cur holds a complete request, 2 when the head of a
 * request whose body streams to its handler is in (s->cur->early; its body
 * follows, then 1), 0 when more input is needed (all n bytes were taken),
 * or -status on a protocol error.
 * *consumed says how far it got.
 */
static int parse(ringo__sess *s, const char *p, size_t n, size_t *consumed);

int ringo__parse(ringo__sess *s, const char *p, size_t n, size_t *consumed)
{
    int ret = parse(s, p, n, consumed);

    /* The buffer is not ours past this call: a head it cut (or an error cut) is copied. */
    if (s->head_borrowed && s->cur && own_head(s) < 0 && ret >= 0)
        ret = -503;
    return ret;
}

static int parse(ringo__sess *s, const char *p, size_t n, size_t *consumed)
{
    /* llhttp finished this message at its head; only the chunked body is left. */
    if (s->in_message && ringo__chunked_active(&s->chunked))
        return parse_chunked(s, p, n, consumed);
    if (s->method_scan)
        return parse_method(s, p, n, consumed);
    /* Between two messages: the common head, when whole here, skips llhttp. */
    if (!s->in_message && !s->llhttp_closed && ringo__parse_fast(s, p, n, consumed))
        return 1;
    s->buf_start = p;
    s->buf_end = p + n;
    if (s->cr_next && n) {
        s->cr_next = false;
        if (*p != '\r')
            return *consumed = 0, -400;
    }
    return execute(s, p, n, consumed);
}
