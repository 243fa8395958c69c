/*
 * http/response.c - the response a handler builds, and its serialization.
 */
#include <errno.h>
#include <stdio.h>

#include "core/util.h"
#include "http/http_impl.h"

const char *ringo__status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Length of a token name, or 0 when it is not one. */
static size_t token_len(const char *s)
{
    size_t n = 0;

    while (ringo__tchar[(unsigned char)s[n]])
        n++;
    return s[n] ? 0 : n;
}

/* Headers ringo writes itself (the length check skips the compare on the hot path). */
static bool reserved(const char *name, size_t len)
{
    switch (len) {
    case 4: return ringo__ascii_iequal(name, "date", 4);
    case 6: return ringo__ascii_iequal(name, "server", 6);
    case 14: return ringo__ascii_iequal(name, "content-length", 14);
    case 17: return ringo__ascii_iequal(name, "transfer-encoding", 17);
    default: return false;
    }
}

int ringo_resp_set_status(ringo_req *req, int status)
{
    if (status < 200 || status > 999)
        return -EINVAL;
    if (req->stream)
        return -EALREADY;
    req->status = status;
    return 0;
}

int ringo_resp_get_status(const ringo_req *req) { return req->status; }

/* A CR, LF or NUL in v (one pass: values are short, three memchr calls cost more). */
static bool value_unsafe(ringo_str v)
{
    const uint32_t bad = 1u << '\0' | 1u << '\n' | 1u << '\r';

    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c < 32 && (bad >> c & 1))
            return true;
    }
    return false;
}

/* Inlined into ringo_resp_add_header (every response's headers pass here). */
static inline int header_check(const char *name, ringo_str value)
{
    size_t nlen = token_len(name);

    if (!nlen || value_unsafe(value))
        return -EINVAL;
    if (reserved(name, nlen))
        return -EPERM;
    return (int)nlen;
}

int ringo__resp_header_check(const char *name, ringo_str value)
{
    return header_check(name, value);
}

int ringo_resp_add_header(ringo_req *req, const char *name, ringo_str value)
{
    int ret = header_check(name, value);
    size_t nlen;
    ringo__hdr *h;

    if (ret < 0)
        return ret;
    nlen = (size_t)ret;
    if (req->stream)
        return -EALREADY; /* the head is on its way */
    if (nlen == 10 && ringo__ascii_iequal(name, "connection", 10)) {
        if (value.len != 5 || !ringo__ascii_iequal(value.ptr, "close", 5))
            return -EPERM;
        req->resp_close = true; /* serialized as "Connection: close" */
        return 0;
    }
    if (req->nrhdrs == req->rhdr_cap) {
        uint32_t cap = req->rhdr_cap ? req->rhdr_cap * 2 : 8;
        h = ringo__arena_alloc(&req->arena, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        if (req->nrhdrs)
            memcpy(h, req->rhdrs, req->nrhdrs * sizeof(*h));
        req->rhdrs = h;
        req->rhdr_cap = cap;
    }
    /* Name and value in one block, each NUL-terminated: one allocation per header. */
    char *p = value.len < SIZE_MAX - nlen - 2
                  ? ringo__arena_alloc(&req->arena, nlen + value.len + 2)
                  : NULL;
    if (!p)
        return -ENOMEM;
    memcpy(p, name, nlen);
    p[nlen] = '\0';
    if (value.len)
        memcpy(p + nlen + 1, value.ptr, value.len);
    p[nlen + 1 + value.len] = '\0';
    h = &req->rhdrs[req->nrhdrs];
    h->name = (ringo_str){p, nlen};
    h->value = (ringo_str){p + nlen + 1, value.len};
    req->nrhdrs++;
    return 0;
}

int ringo_resp_set_body(ringo_req *req, const void *data, size_t len)
{
    char *copy = ringo__arena_dup(&req->arena, data, len);

    if (!copy)
        return -ENOMEM;
    req->rbody = copy;
    req->rbody_len = len;
    return 0;
}

int ringo_resp_set_body_ref(ringo_req *req, const void *data, size_t len)
{
    req->rbody = data;
    req->rbody_len = len;
    return 0;
}

int ringo_respond(ringo_req *req, int status, const char *content_type, const void *body,
                  size_t len)
{
    int ret = ringo_resp_set_status(req, status);

    if (!ret && content_type)
        ret = ringo_resp_add_header(req, "Content-Type", ringo_str_c(content_type));
    if (!ret)
        ret = ringo_resp_set_body(req, body, len);
    return ret;
}

static bool has_header(const ringo_req *req, const char *name)
{
    for (uint32_t i = 0; i < req->nrhdrs; i++)
        if (req->rhdrs[i].name.len == strlen(name) &&
            ringo__ascii_iequal(req->rhdrs[i].name.ptr, name, strlen(name)))
            return true;
    return false;
}

/* Error answers from the server itself get a short text body. */
static void default_error_body(ringo_req *req)
{
    const char *reason;
    char buf[64];
    int n;

    if (req->rbody || req->status < 400)
        return;
    reason = ringo__status_reason(req->status);
    n = snprintf(buf, sizeof(buf), "%s\n", reason);
    ringo_resp_set_body(req, buf, (size_t)n);
    if (!has_header(req, "content-type"))
        ringo_resp_add_header(req, "Content-Type", RINGO_STR_LIT("text/plain"));
}

void ringo__resp_default_body(ringo_req *req) { default_error_body(req); }

static char *put(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Decimal, written from its last digit back once the length is known (no reversal). */
static char *put_u64(char *p, uint64_t v)
{
    size_t n = 1;
    char *end;

    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    end = p + n;
    do
        *--end = (char)('0' + v % 10);
    while ((v /= 10));
    return p + n;
}

static inline char *put_fields(char *p, const ringo__hdr *h, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        p = put(p, h[i].name.ptr, h[i].name.len);
        p = put(p, ": ", 2);
        p = put(p, h[i].value.ptr, h[i].value.len);
        p = put(p, "\r\n", 2);
    }
    return p;
}

/* Upper bound of the head's bytes, without the body. */
static size_t head_need(const ringo_req *req)
{
    size_t need = 96 + 40 + 40;

    for (uint32_t i = 0; i < req->nrhdrs; i++)
        need += req->rhdrs[i].name.len + req->rhdrs[i].value.len + 4;
    return need + (req->rid.len ? req->rid.len + 16 : 0);
}

/*
 * Status line, Server, Date, the framing header, the handler's headers,
 * Connection and the blank line. framing: RINGO__FRAME_LENGTH writes
 * Content-Length: len, RINGO__FRAME_CHUNKED Transfer-Encoding: chunked,
 * RINGO__FRAME_NONE nothing (204, 304, a close-delimited body).
 */
/* Always inlined: the plain response's serializer is the hot path. */
static inline __attribute__((always_inline)) char *
put_head(char *p, const ringo_req *req, const char *date, int framing, uint64_t len)
{
    if (req->status == 200) {
        /* Most answers: one copy of a known length. */
        p = put(p, "HTTP/1.1 200 OK\r\nServer: ringo\r\n", 32);
    } else {
        const char *reason = ringo__status_reason(req->status);
        p = put(p, "HTTP/1.1 ", 9);
        p = put_u64(p, (uint64_t)req->status);
        *p++ = ' ';
        p = put(p, reason, strlen(reason));
        p = put(p, "\r\nServer: ringo\r\n", 17);
    }
    p = put(p, date, 37);
    if (framing == RINGO__FRAME_LENGTH) {
        p = put(p, "Content-Length: ", 16);
        p = put_u64(p, len);
        p = put(p, "\r\n", 2);
    } else if (framing == RINGO__FRAME_CHUNKED) {
        p = put(p, "Transfer-Encoding: chunked\r\n", 28);
    }
    p = put_fields(p, req->rhdrs, req->nrhdrs);
    if (req->rid.len) {
        /* ringo_app_request_ids(): the request's ID, the client's own or ours. */
        p = put(p, "X-Request-ID: ", 14);
        p = put(p, req->rid.ptr, req->rid.len);
        p = put(p, "\r\n", 2);
    }
    if (!req->keep_alive || req->resp_close)
        p = put(p, "Connection: close\r\n", 19);
    else if (req->http_minor == 0)
        p = put(p, "Connection: keep-alive\r\n", 24);
    return put(p, "\r\n", 2);
}

/*
 * Writes status line, headers and body into the connection's output in one
 * reservation. 204 and 1xx carry no Content-Length (RFC 9110 §8.6); HEAD,
 * 204 and 304 carry no body.
 */
int ringo__resp_serialize(ringo_req *req, ringo__conn *c)
{
    const char *date = ringo__ring_date_line(ringo__conn_ring(c));
    bool no_len = req->status == 204 || req->status == 304,
         no_body = req->is_head || no_len || req->status == 304;
    size_t need, body_len;
    char *p, *start;

    default_error_body(req);
    body_len = req->rbody_len;
    need = head_need(req);
    /* A length no buffer can hold (a bad ringo_resp_body_ref) must not wrap need. */
    if (!no_body && body_len > SIZE_MAX / 2 - need)
        return -ENOMEM;
    need += no_body ? 0 : body_len;
    p = start = ringo__conn_reserve(c, need);
    if (!p)
        return -ENOMEM;
    p = put_head(p, req, date, no_len ? RINGO__FRAME_NONE : RINGO__FRAME_LENGTH, body_len);
    if (!no_body && body_len)
        p = put(p, req->rbody, body_len);
    ringo__conn_commit(c, (size_t)(p - start));
    return 0;
}

int ringo__resp_serialize_head(ringo_req *req, ringo__conn *c, int framing, uint64_t len)
{
    char *p, *start;

    p = start = ringo__conn_reserve(c, head_need(req));
    if (!p)
        return -ENOMEM;
    p = put_head(p, req, ringo__ring_date_line(ringo__conn_ring(c)), framing, len);
    ringo__conn_commit(c, (size_t)(p - start));
    return 0;
}

int ringo__resp_fields(const ringo__hdr *h, uint32_t n, char *out)
{
    return (int)(put_fields(out, h, n) - out);
}
