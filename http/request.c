/*
 * http/request.c - what a handler reads from its request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#include "core/util.h"
#include "http/http_impl.h"

ringo_str ringo_req_method(const ringo_req *req) { return req->method; }
ringo_str ringo_req_target(const ringo_req *req) { return req->target; }
ringo_str ringo_req_path(const ringo_req *req) { return req->path; }
ringo_str ringo_req_query_string(const ringo_req *req) { return req->query; }
int ringo_req_http_minor(const ringo_req *req) { return req->http_minor; }
ringo_str ringo_req_body(const ringo_req *req)
{
    return (ringo_str){req->body ? req->body : "", req->body_len};
}
unsigned ringo_req_header_count(const ringo_req *req) { return req->nhdrs; }
unsigned ringo_req_ring(const ringo_req *req)
{
    return ringo__ring_id(ringo__conn_ring(req->conn));
}
void *ringo_req_alloc(ringo_req *req, size_t size) { return ringo__arena_alloc(&req->arena, size); }

const char *ringo_req_route(const ringo_req *req)
{
    return req->match && req->route ? req->match->pattern : "";
}

int ringo_req_path_param(const ringo_req *req, const char *name, ringo_str *out)
{
    size_t n = strlen(name);

    if (!req->match)
        return -ENOENT;
    for (unsigned i = 0; i < req->match->nparams; i++) {
        const ringo__route_param *p = &req->match->params[i];
        if (p->name.len == n && memcmp(p->name.ptr, name, n) == 0) {
            *out = p->value;
            return 0;
        }
    }
    return -ENOENT;
}

int ringo_req_query_param(ringo_req *req, const char *name, ringo_str *out)
{
    ringo_str raw;
    char *dst;
    ssize_t n;
    int ret = ringo__query_get(req->query, ringo_str_c(name), &raw);

    if (ret < 0)
        return ret;
    dst = ringo__arena_alloc(&req->arena, raw.len + 1);
    if (!dst)
        return -ENOMEM;
    n = ringo__pct_decode(dst, raw.ptr, raw.len, 1);
    if (n < 0)
        return (int)n;
    dst[n] = '\0';
    *out = (ringo_str){dst, (size_t)n};
    return 0;
}

int ringo_req_header(const ringo_req *req, const char *name, ringo_str *out)
{
    size_t n = strlen(name);

    for (uint32_t i = 0; i < req->nhdrs; i++) {
        if (req->hdrs[i].name.len == n && ringo__ascii_iequal(req->hdrs[i].name.ptr, name, n)) {
            *out = req->hdrs[i].value;
            return 0;
        }
    }
    return -ENOENT;
}

int ringo_req_header_at(const ringo_req *req, unsigned i, ringo_str *name, ringo_str *value)
{
    if (i >= req->nhdrs)
        return -ERANGE;
    *name = req->hdrs[i].name;
    *value = req->hdrs[i].value;
    return 0;
}

int ringo_req_peer(const ringo_req *req, struct sockaddr_storage *out)
{
    bool https;
    int len = ringo__req_client(req, out, &https);

    return len ? len : -ENOTCONN;
}

const char *ringo_req_scheme(const ringo_req *req)
{
    struct sockaddr_storage ss;
    bool https;

    (void)ringo__req_client(req, &ss, &https);
    return https ? "https" : "http";
}

int ringo_req_peer_string(const ringo_req *req, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    char ip[INET6_ADDRSTRLEN];
    int n;

    if (ringo_req_peer(req, &ss) < 0)
        return -ENOTCONN;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        n = snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        n = snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
    return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int ringo_req_client_gone(const ringo_req *req)
{
    return atomic_load_explicit(&req->gone, memory_order_relaxed);
}

int ringo_req_failed(const ringo_req *req)
{
    return req->outcome != REQ_OK || atomic_load_explicit(&req->gone, memory_order_relaxed);
}

/* Where the caller runs: the request's coroutine, its pool worker, or elsewhere. */
int ringo__req_context(const ringo_req *r)
{
    ringo__fiber *t = ringo__fiber_current();

    if (t)
        return t->data == r && REQ_IN(r, REQ_BIT(REQ_RUNNING) | REQ_BIT(REQ_SUSPENDED)) &&
                       !(r->x && r->x->posting)
                   ? RINGO__CTX_ASYNC
                   : RINGO__CTX_NONE;
    if (ringo__ring_current())
        return RINGO__CTX_NONE; /* the ring itself: middleware, error handlers */
    /* A pool worker inside the request's hop: posting is set on the ring between hops. */
    return ringo_pool_worker_id() >= 0 && !(r->x && r->x->posting) ? RINGO__CTX_SYNC
                                                                   : RINGO__CTX_NONE;
}
