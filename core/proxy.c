/*
 * core/proxy.c - the PROXY protocol header parser and trusted networks.
 *
 * A load balancer that speaks the PROXY protocol opens the TCP connection
 * with one header naming the client's address, then relays the client's
 * bytes. v1 is one text line ("PROXY TCP4 src dst sport dport\r\n", at most
 * 107 bytes); v2 is a 12-byte signature, a version/command byte, a
 * family/transport byte, a 16-bit length, the addresses and TLVs (spec
 * sections 2.1 and 2.2). Nothing is trusted before the whole header is in:
 * a client cutting its header into one-byte reads gets the same answer as
 * one sending it whole.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "core/alloc.h"
#include "core/proxy.h"

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_sig[6] = "PROXY ";

#define PP2_CMD_LOCAL 0x0
#define PP2_CMD_PROXY 0x1
#define PP2_TYPE_SSL 0x20
#define PP2_CLIENT_SSL 0x01

/* ---- v1 ---- */

/* Port: 1 to 5 digits, no leading zero but "0", at most 65535. */
static int v1_port(const char *s, size_t n, uint16_t *out)
{
    uint32_t v = 0;

    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return -EBADMSG;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EBADMSG;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return -EBADMSG;
    *out = (uint16_t)v;
    return 0;
}

/* Length of the next field: up to a space, or (the last one) to the end; -1 if misplaced. */
static size_t v1_field(const char *s, const char *end, bool last)
{
    const char *sp = memchr(s, ' ', (size_t)(end - s));

    if (last)
        return sp ? (size_t)-1 : (size_t)(end - s);
    return sp ? (size_t)(sp - s) : (size_t)-1;
}

static int v1_addr(int family, const char *s, size_t n, void *dst)
{
    char tmp[INET6_ADDRSTRLEN];

    if (n == 0 || n >= sizeof(tmp))
        return -EBADMSG;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(family, tmp, dst) == 1 ? 0 : -EBADMSG;
}

/* line: after "PROXY ", up to (not including) CRLF. */
static int v1_parse(const char *line, size_t len, ringo__pp_result *res)
{
    const char *p = line, *end = line + len, *f[4];
    size_t n[4];
    uint16_t sport, dport;
    int family;
    union {
        struct in_addr a4;
        struct in6_addr a6;
    } src, dst;

    if (len >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (len == 7 || p[7] == ' '))
        return 0; /* spec: the rest of the line is ignored, the socket's address stands */
    if (len < 5 || (memcmp(p, "TCP4 ", 5) != 0 && memcmp(p, "TCP6 ", 5) != 0))
        return -EBADMSG;
    family = p[3] == '4' ? AF_INET : AF_INET6;
    p += 5;
    for (int i = 0; i < 4; i++) {
        n[i] = v1_field(p, end, i == 3);
        if (n[i] == (size_t)-1)
            return -EBADMSG;
        f[i] = p;
        p += n[i] + (i < 3);
    }
    if (v1_addr(family, f[0], n[0], &src) < 0 || v1_addr(family, f[1], n[1], &dst) < 0 ||
        v1_port(f[2], n[2], &sport) < 0 || v1_port(f[3], n[3], &dport) < 0)
        return -EBADMSG;
    res->family = family;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&res->src;
        in->sin_family = AF_INET;
        in->sin_addr = src.a4;
        in->sin_port = htons(sport);
        res->src_len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&res->src;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = src.a6;
        in6->sin6_port = htons(sport);
        res->src_len = sizeof(*in6);
    }
    return 0;
}

static int v1_feed(ringo__pp *pp, const uint8_t *p, size_t n, size_t *used, ringo__pp_result *res)
{
    for (size_t i = 0; i < n; i++) {
        *used = i + 1;
        pp->buf[pp->len++] = p[i];
        if (pp->len <= sizeof(v1_sig)) {
            if (p[i] != (uint8_t)v1_sig[pp->len - 1])
                return -EPROTO;
            continue;
        }
        if (p[i] == '\n') {
            if (pp->buf[pp->len - 2] != '\r')
                return -EBADMSG;
            return v1_parse((const char *)pp->buf + sizeof(v1_sig), pp->len - sizeof(v1_sig) - 2,
                            res) < 0
                       ? -EBADMSG
                       : 1;
        }
        if (pp->len == RINGO__PP_V1_MAX)
            return -EBADMSG; /* no CRLF within the bound */
    }
    return 0;
}

/* ---- v2 ---- */

/* The 16-byte header is in: checks it, says how many address bytes to keep. */
static int v2_head(ringo__pp *pp)
{
    uint8_t vc = pp->buf[12], fam = pp->buf[13];
    uint16_t len = (uint16_t)(pp->buf[14] << 8 | pp->buf[15]);
    uint16_t need = 0;

    if ((vc >> 4) != 2 || (vc & 0xf) > PP2_CMD_PROXY || (fam >> 4) > 3 || (fam & 0xf) > 2)
        return -EBADMSG;
    pp->left = len;
    pp->addr_len = 0;
    if ((vc & 0xf) == PP2_CMD_LOCAL || (fam >> 4) == 0 || (fam >> 4) == 3)
        return 0; /* LOCAL, AF_UNSPEC, AF_UNIX: the socket's address stands; all skipped */
    if ((fam & 0xf) != 1)
        return -EBADMSG; /* an IP address with a non-stream transport on a TCP connection */
    need = (fam >> 4) == 1 ? 12 : 36;
    if (len < need)
        return -EBADMSG;
    pp->addr_len = need;
    return 0;
}

/* Walks TLV bytes (type, 16-bit length, value), bounded by what the length field left. */
static int v2_tlv(ringo__pp *pp, uint8_t b, ringo__pp_result *res)
{
    if (pp->tlv_skip) {
        if (pp->ssl_first && (b & PP2_CLIENT_SSL))
            res->ssl = true;
        pp->ssl_first = false;
        pp->tlv_skip--;
        return 0;
    }
    pp->tlv[pp->tlv_len++] = b;
    if (pp->tlv_len < 3)
        return 0;
    pp->tlv_len = 0;
    pp->tlv_skip = (uint16_t)(pp->tlv[1] << 8 | pp->tlv[2]);
    if (pp->tlv_skip > pp->left - 1u)
        return -EBADMSG; /* the TLV runs past the block (left still counts this byte) */
    pp->ssl_first = pp->tlv[0] == PP2_TYPE_SSL && pp->tlv_skip > 0;
    return 0;
}

static void v2_result(const ringo__pp *pp, ringo__pp_result *res)
{
    const uint8_t *a = pp->buf + RINGO__PP_V2_HEAD;

    if (pp->addr_len == 12) {
        struct sockaddr_in *in = (struct sockaddr_in *)&res->src;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a, 4);
        memcpy(&in->sin_port, a + 8, 2); /* network order on both sides */
        res->src_len = sizeof(*in);
        res->family = AF_INET;
    } else if (pp->addr_len == 36) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&res->src;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, a, 16);
        memcpy(&in6->sin6_port, a + 32, 2);
        res->src_len = sizeof(*in6);
        res->family = AF_INET6;
    }
}

static int v2_feed(ringo__pp *pp, const uint8_t *p, size_t n, size_t *used, ringo__pp_result *res)
{
    size_t i = 0;
    int ret;

    for (; i < n && pp->len < RINGO__PP_V2_HEAD; i++) {
        *used = i + 1;
        pp->buf[pp->len++] = p[i];
        if (pp->len <= sizeof(v2_sig) && p[i] != v2_sig[pp->len - 1])
            return -EPROTO;
        if (pp->len == RINGO__PP_V2_HEAD && (ret = v2_head(pp)) < 0)
            return ret;
    }
    for (; i < n && pp->left; i++, pp->left--) {
        *used = i + 1;
        if (pp->len < RINGO__PP_V2_HEAD + pp->addr_len)
            pp->buf[pp->len++] = p[i];
        else if (pp->addr_len && (ret = v2_tlv(pp, p[i], res)) < 0)
            return ret;
    }
    *used = i;
    if (pp->len < RINGO__PP_V2_HEAD || pp->left)
        return 0;
    if (pp->tlv_len)
        return -EBADMSG; /* a TLV header cut by the end of the block */
    v2_result(pp, res);
    return 1;
}

int ringo__pp_feed(ringo__pp *pp, const uint8_t *p, size_t n, size_t *used, ringo__pp_result *res)
{
    int ret;

    *used = 0;
    if (n == 0)
        return 0;
    if (pp->version == 0) {
        if (p[0] == v2_sig[0])
            pp->version = 2;
        else if (p[0] == (uint8_t)v1_sig[0])
            pp->version = 1;
        else
            return -EPROTO;
        memset(&pp->res, 0, sizeof(pp->res));
    }
    /* The result lives in the state: a header cut across reads (a TLV's SSL flag in one, the
     * addresses in another) must not lose what an earlier piece said. */
    ret = pp->version == 1 ? v1_feed(pp, p, n, used, &pp->res) : v2_feed(pp, p, n, used, &pp->res);
    if (ret == 1)
        *res = pp->res;
    return ret;
}

/* ---- trusted networks ---- */

static int cidr_parse_one(const char *s, size_t n, ringo__cidr *out)
{
    char tmp[INET6_ADDRSTRLEN + 5];
    char *slash;
    unsigned max, bits;

    if (n == 0 || n >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    slash = strchr(tmp, '/');
    if (slash)
        *slash = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, tmp, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, tmp, out->addr) == 1)
        out->family = AF_INET6;
    else
        return -EINVAL;
    max = out->family == AF_INET ? 32 : 128;
    bits = max;
    if (slash) {
        const char *d = slash + 1;
        if (!*d || strlen(d) > 3 || (d[0] == '0' && d[1]))
            return -EINVAL;
        bits = 0;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return -EINVAL;
            bits = bits * 10 + (unsigned)(*d - '0');
        }
        if (bits > max)
            return -EINVAL;
    }
    out->bits = bits;
    /* Host bits set past the prefix are a typo more often than not: refused, not masked. */
    for (unsigned b = bits; b < max; b++)
        if (out->addr[b / 8] & (0x80u >> (b % 8)))
            return -EINVAL;
    return 0;
}

int ringo__cidrs_parse(const char *s, ringo__cidr **out)
{
    ringo__cidr *v = NULL, one;
    int n = 0, cap = 0;

    if (out)
        *out = NULL;
    if (!s)
        return -EINVAL;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (cidr_parse_one(s, len, &one) < 0 || n == 1024) {
            ringo__free(v);
            return -EINVAL;
        }
        if (out && n == cap) {
            ringo__cidr *nv = ringo__realloc(v, (size_t)(cap = cap ? cap * 2 : 4) * sizeof(*v));
            if (!nv) {
                ringo__free(v);
                return -ENOMEM;
            }
            v = nv;
        }
        if (out)
            v[n] = one;
        n++;
        if (!e)
            break;
        s = e + 1;
    }
    if (out)
        *out = v;
    return n;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(a, net, whole) != 0)
        return false;
    return rest == 0 || ((a[whole] ^ net[whole]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool ringo__cidrs_match(const ringo__cidr *v, unsigned n, const struct sockaddr *sa)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *a;
    int family = sa->sa_family;

    if (family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, mapped, sizeof(mapped)) == 0) {
            a += 12; /* a dual-stack listener's IPv4 client */
            family = AF_INET;
        }
    } else {
        return false;
    }
    for (unsigned i = 0; i < n; i++)
        if (v[i].family == family && prefix_match(a, v[i].addr, v[i].bits))
            return true;
    return false;
}
