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
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
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
    req->status = status;
    return 0;
}

int ringo_resp_get_status(const ringo_req *req) { return req->status; }

int ringo_resp_add_header(ringo_req *req, const char *name, ringo_str value)
{
    size_t nlen = token_len(name);
    ringo__hdr *h;

    if (!nlen || memchr(value.ptr, '\r', value.len) || memchr(value.ptr, '\n', value.len) ||
        memchr(value.ptr, '\0', value.len))
        return -EINVAL;
    if (reserved(name, nlen))
        return -EPERM;
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
    h = &req->rhdrs[req->nrhdrs];
    h->name.len = nlen;
    h->name.ptr = ringo__arena_dup(&req->arena, name, nlen);
    h->value.len = value.len;
    h->value.ptr = ringo__arena_dup(&req->arena, value.ptr, value.len);
    if (!h->name.ptr || !h->value.ptr)
        return -ENOMEM;
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

static char *put(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;

    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        *p++ = tmp[--n];
    return p;
}

/*
 * Writes status line, headers and body into the connection's output in one
 * reservation. 204 and 1xx carry no Content-Length (RFC 9110 §8.6); HEAD,
 * 204 and 304 carry no body.
 */
int ringo__resp_serialize(ringo_req *req, ringo__conn *c)
{
    const char *reason, *date = ringo__ring_date_line(ringo__conn_ring(c));
    bool no_len = req->status == 204 || req->status == 304,
         no_body = req->is_head || no_len || req->status == 304;
    size_t need = 96 + 40 + 40, body_len;
    char *p, *start;

    default_error_body(req);
    body_len = req->rbody_len;
    reason = ringo__status_reason(req->status);
    for (uint32_t i = 0; i < req->nrhdrs; i++)
        need += req->rhdrs[i].name.len + req->rhdrs[i].value.len + 4;
    /* A length no buffer can hold (a bad ringo_resp_body_ref) must not wrap need. */
    if (!no_body && body_len > SIZE_MAX / 2 - need)
        return -ENOMEM;
    need += no_body ? 0 : body_len;
    p = start = ringo__conn_reserve(c, need);
    if (!p)
        return -ENOMEM;
    p = put(p, "HTTP/1.1 ", 9);
    p = put_u64(p, (uint64_t)req->status);
    *p++ = ' ';
    p = put(p, reason, strlen(reason));
    p = put(p, "\r\nServer: ringo\r\n", 17);
    p = put(p, date, 37);
    if (!no_len) {
        p = put(p, "Content-Length: ", 16);
        p = put_u64(p, body_len);
        p = put(p, "\r\n", 2);
    }
    for (uint32_t i = 0; i < req->nrhdrs; i++) {
        p = put(p, req->rhdrs[i].name.ptr, req->rhdrs[i].name.len);
        p = put(p, ": ", 2);
        p = put(p, req->rhdrs[i].value.ptr, req->rhdrs[i].value.len);
        p = put(p, "\r\n", 2);
    }
    if (!req->keep_alive || req->resp_close)
        p = put(p, "Connection: close\r\n", 19);
    else if (req->http_minor == 0)
        p = put(p, "Connection: keep-alive\r\n", 24);
    p = put(p, "\r\n", 2);
    if (!no_body && body_len)
        p = put(p, req->rbody, body_len);
    ringo__conn_commit(c, (size_t)(p - start));
    return 0;
}
