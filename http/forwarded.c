/*
 * http/forwarded.c - the client a trusted proxy names: X-Forwarded-For /
 * X-Forwarded-Proto, or RFC 7239 Forwarded (ringo_config.forwarded).
 *
 * Anyone can send these headers; only the hops a trusted proxy appended
 * can be believed. The list is walked from its right end (the hop nearest
 * to ringo): while the address we have is a trusted proxy, the element it
 * appended names the next hop. The first address that is not trusted is
 * the client (the "right-most untrusted" rule): what a client wrote to the
 * left of it is never read, so it cannot forge its address. An element
 * that names no address (RFC 7239 "unknown", an obfuscated node, garbage)
 * ends the walk at the proxy that appended it. Only the one header the
 * configuration names is read: a proxy that sets X-Forwarded-For passes a
 * client's own Forwarded header through untouched, and the other way round.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "core/util.h"
#include "http/http_impl.h"

/* Elements kept from the right end: a chain longer than this stops at its 64th hop. */
#define MAX_HOPS 64

typedef struct hops {
    ringo_str v[MAX_HOPS]; /* ring buffer of the last MAX_HOPS elements, in order */
    unsigned n;            /* elements seen */
} hops;

static ringo_str trim(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return (ringo_str){p, (size_t)(e - p)};
}

/* The comma-separated elements of every field called name, in order (RFC 9110 5.3). */
static void collect(const ringo_req *r, const char *name, hops *h)
{
    size_t nl = strlen(name);

    h->n = 0;
    for (uint32_t i = 0; i < r->nhdrs; i++) {
        const char *p, *e;
        if (r->hdrs[i].name.len != nl || !ringo__ascii_iequal(r->hdrs[i].name.ptr, name, nl))
            continue;
        p = r->hdrs[i].value.ptr;
        e = p + r->hdrs[i].value.len;
        while (p <= e) {
            const char *c = memchr(p, ',', (size_t)(e - p));
            const char *end = c ? c : e;
            h->v[h->n++ % MAX_HOPS] = trim(p, end);
            p = end + 1;
        }
    }
}

static int port_of(const char *p, size_t n, uint16_t *out)
{
    uint32_t v = 0;

    if (n == 0 || n > 5)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!ringo__ascii_digit((unsigned char)p[i]))
            return -EINVAL;
        v = v * 10 + (uint32_t)(p[i] - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

/* "1.2.3.4", "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80". */
static int parse_node(ringo_str s, struct sockaddr_storage *out)
{
    char tmp[INET6_ADDRSTRLEN];
    const char *p = s.ptr, *e = s.ptr + s.len, *host_end, *colon;
    uint16_t port = 0;
    size_t hn;

    memset(out, 0, sizeof(*out));
    if (p < e && *p == '[') {
        host_end = memchr(p, ']', s.len);
        if (!host_end)
            return -EINVAL;
        p++;
        if (host_end + 1 < e &&
            (host_end[1] != ':' || port_of(host_end + 2, (size_t)(e - host_end - 2), &port) < 0))
            return -EINVAL;
    } else {
        colon = memchr(p, ':', s.len);
        /* One colon: IPv4 with a port; more: a bare IPv6 address. */
        if (colon && !memchr(colon + 1, ':', (size_t)(e - colon - 1))) {
            if (port_of(colon + 1, (size_t)(e - colon - 1), &port) < 0)
                return -EINVAL;
            host_end = colon;
        } else {
            host_end = e;
        }
    }
    hn = (size_t)(host_end - p);
    if (hn == 0 || hn >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, p, hn);
    tmp[hn] = '\0';
    if (inet_pton(AF_INET, tmp, &((struct sockaddr_in *)out)->sin_addr) == 1) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        return (int)sizeof(*in);
    }
    if (inet_pton(AF_INET6, tmp, &((struct sockaddr_in6 *)out)->sin6_addr) == 1) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        return (int)sizeof(*in6);
    }
    return -EINVAL;
}

/* RFC 7239 4: the value of param in one forwarded-element (token or quoted-string). */
static bool fwd_param(ringo_str el, const char *param, ringo_str *out)
{
    const char *p = el.ptr, *e = el.ptr + el.len;
    size_t pl = strlen(param);

    while (p < e) {
        const char *semi = memchr(p, ';', (size_t)(e - p));
        ringo_str pair = trim(p, semi ? semi : e);
        if (pair.len > pl && pair.ptr[pl] == '=' && ringo__ascii_iequal(pair.ptr, param, pl)) {
            ringo_str v = {pair.ptr + pl + 1, pair.len - pl - 1};
            if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"') {
                v = (ringo_str){v.ptr + 1, v.len - 2};
                if (memchr(v.ptr, '\\', v.len))
                    return false; /* no address needs an escape */
            }
            *out = v;
            return true;
        }
        p = semi ? semi + 1 : e;
    }
    return false;
}

/* "http" or "https" (any case): 1 for https, 0 for http, -1 for anything else. */
static int scheme_of(ringo_str v)
{
    if (v.len == 5 && ringo__ascii_iequal(v.ptr, "https", 5))
        return 1;
    if (v.len == 4 && ringo__ascii_iequal(v.ptr, "http", 4))
        return 0;
    return -1;
}

int ringo__req_client(const ringo_req *r, struct sockaddr_storage *out, bool *https)
{
    ringo__ring *ring = ringo__conn_ring(r->conn);
    const ringo_config *cfg = ringo__ring_config(ring);
    socklen_t len = ringo__conn_peer(r->conn, out);
    bool rfc = cfg->forwarded == RINGO_FORWARDED_RFC7239;
    hops h;

    *https = ringo__conn_proxied_tls(r->conn);
    if (!len || !cfg->forwarded || !ringo__ring_trusted(ring, (struct sockaddr *)out))
        return (int)len;
    if (!rfc) {
        collect(r, "x-forwarded-proto", &h);
        if (h.n && scheme_of(h.v[(h.n - 1) % MAX_HOPS]) >= 0)
            *https = scheme_of(h.v[(h.n - 1) % MAX_HOPS]) == 1;
    }
    collect(r, rfc ? "forwarded" : "x-forwarded-for", &h);
    for (unsigned k = 0; k < h.n && k < MAX_HOPS; k++) {
        ringo_str el = h.v[(h.n - 1 - k) % MAX_HOPS], node, proto;
        struct sockaddr_storage next;
        int n;
        if (k && !ringo__ring_trusted(ring, (struct sockaddr *)out))
            break; /* out is the client */
        if (rfc && !fwd_param(el, "for", &node))
            break;
        n = parse_node(rfc ? node : el, &next);
        if (n < 0)
            break;
        memcpy(out, &next, (size_t)n);
        len = (socklen_t)n;
        if (rfc && fwd_param(el, "proto", &proto) && scheme_of(proto) >= 0)
            *https = scheme_of(proto) == 1;
    }
    return (int)len;
}
