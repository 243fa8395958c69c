/*
 * core/proxy.h - the PROXY protocol (v1 text, v2 binary) in front of a
 * connection's bytes, and the trusted source networks it is accepted from.
 *
 * Spec: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt
 *
 * The parser is incremental and owns no memory: bytes are fed as they
 * arrive, cut anywhere, and it answers "more", "done after n bytes" or an
 * error. Whatever follows the header in the last buffer belongs to the
 * protocol above (HTTP).
 */
#ifndef RINGO_CORE_PROXY_H
#define RINGO_CORE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A v1 line is at most 107 bytes, CRLF included (spec 2.1). */
#define RINGO__PP_V1_MAX 107
/* v2: the 16-byte header, then at most 36 address bytes kept (AF_INET6). */
#define RINGO__PP_V2_HEAD 16

/* What a complete header said. family 0: keep the socket's address (LOCAL, UNKNOWN,
 * AF_UNSPEC, AF_UNIX). */
typedef struct ringo__pp_result {
    struct sockaddr_storage src;
    socklen_t src_len;
    int family;
    bool ssl; /* v2 PP2_TYPE_SSL with PP2_CLIENT_SSL: the client spoke TLS to the proxy */
} ringo__pp_result;

typedef struct ringo__pp {
    uint8_t buf[RINGO__PP_V1_MAX + 1]; /* v1 line / v2 header and addresses so far */
    uint8_t len;                       /* bytes in buf */
    uint8_t version;                   /* 0 unknown yet, 1 or 2 */
    uint8_t tlv_len;                   /* v2: bytes of the current TLV header in tlv[] */
    uint8_t tlv[3];                    /* v2: type and length of the TLV being read */
    uint16_t left;                     /* v2: bytes of the address block and TLVs still due */
    uint16_t addr_len;                 /* v2: address bytes kept in buf after the header */
    uint16_t tlv_skip;                 /* v2: value bytes of the current TLV still due */
    bool ssl_first;                    /* v2: the next value byte is PP2_TYPE_SSL's client field */
    ringo__pp_result res;              /* what the header said so far: it may come in pieces */
} ringo__pp;

/*
 * Feeds n bytes. Returns 0 when all of them were taken and more are needed;
 * 1 when the header is complete, *used saying how many of the n bytes it
 * took (the rest is the next protocol's) and *res what it said; -EPROTO when
 * the bytes are not a PROXY header at all (neither signature); -EBADMSG when
 * they are a malformed one (*used: up to the offending byte). After a result
 * other than 0 the state is spent.
 */
int ringo__pp_feed(ringo__pp *pp, const uint8_t *p, size_t n, size_t *used, ringo__pp_result *res);

/* One trusted network: family AF_INET or AF_INET6, prefix length bits. */
typedef struct ringo__cidr {
    int family;
    unsigned bits;
    uint8_t addr[16];
} ringo__cidr;

/*
 * Parses "CIDR,CIDR,..." (an address alone is a /32 or /128; spaces around
 * items allowed). With out NULL it only checks. Returns the count (>= 1) and
 * an array the caller frees with ringo__free(), -EINVAL (empty, malformed,
 * host bits set past the prefix) or -ENOMEM.
 */
int ringo__cidrs_parse(const char *s, ringo__cidr **out);

/* True when sa (AF_INET, AF_INET6; IPv4-mapped IPv6 counts as IPv4) is inside one of them. */
bool ringo__cidrs_match(const ringo__cidr *v, unsigned n, const struct sockaddr *sa);

#endif
