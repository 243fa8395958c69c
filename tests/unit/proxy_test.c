/*
 * Description: the PROXY protocol header parser and trusted networks
 * (core/proxy.c). Every header is fed whole, then one byte per call, then
 * cut at every offset into two calls: the answer (client address, bytes
 * used, error) never depends on the cuts. v1: TCP4, TCP6, UNKNOWN, the
 * 107-byte bound, malformed lines (400). v2: PROXY over IPv4/IPv6 with
 * TLVs (PP2_TYPE_SSL read), LOCAL, AF_UNSPEC, AF_UNIX, bad version, command,
 * transport, address length, TLVs running past the block. Bytes that are
 * no PROXY header (an HTTP request) are told apart at the first byte that
 * differs from both signatures. Trusted networks: IPv4, IPv6, IPv4-mapped,
 * /0, host bits set past the prefix refused, malformed lists refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/proxy.c"

/*
 * Feeds len bytes cut at `cut` (0: whole; SIZE_MAX: a byte at a time). Each
 * call gets a result of its own full of garbage, as a caller's stack would
 * give: what one piece said must be kept by the state, not by the caller.
 */
static int feed_cut(const uint8_t *p, size_t len, size_t cut, size_t *total, ringo__pp_result *res)
{
    ringo__pp pp;
    size_t off = 0, used;
    int ret = 0;

    memset(&pp, 0, sizeof(pp));
    while (off < len) {
        size_t n = cut == SIZE_MAX ? 1 : cut && off < cut ? cut - off : len - off;
        ringo__pp_result fresh;
        memset(&fresh, 0xab, sizeof(fresh));
        ret = ringo__pp_feed(&pp, p + off, n, &used, &fresh);
        if (ret != 0) {
            *res = fresh;
            *total = off + used;
            return ret;
        }
        CHECK(used == n);
        off += n;
    }
    *total = off;
    return 0;
}

/* Every cut gives the same answer; returns it with the bytes used and the result. */
static int feed_all(const void *data, size_t len, size_t *used, ringo__pp_result *res)
{
    ringo__pp_result r2;
    size_t u2;
    int ret = feed_cut(data, len, 0, used, res);

    CHECK(feed_cut(data, len, SIZE_MAX, &u2, &r2) == ret);
    CHECK(u2 == *used);
    for (size_t cut = 1; cut < len; cut++) {
        CHECK(feed_cut(data, len, cut, &u2, &r2) == ret);
        CHECK(u2 == *used);
        if (ret == 1)
            CHECK(r2.family == res->family && r2.ssl == res->ssl &&
                  memcmp(&r2.src, &res->src, res->src_len) == 0);
    }
    return ret;
}

static void expect_v4(const ringo__pp_result *res, const char *ip, uint16_t port)
{
    const struct sockaddr_in *in = (const struct sockaddr_in *)&res->src;
    struct in_addr a;

    CHECK(res->family == AF_INET && res->src_len == sizeof(*in));
    CHECK(inet_pton(AF_INET, ip, &a) == 1);
    CHECK(in->sin_addr.s_addr == a.s_addr && ntohs(in->sin_port) == port);
}

static void expect_v6(const ringo__pp_result *res, const char *ip, uint16_t port)
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&res->src;
    struct in6_addr a;

    CHECK(res->family == AF_INET6 && res->src_len == sizeof(*in6));
    CHECK(inet_pton(AF_INET6, ip, &a) == 1);
    CHECK(memcmp(&in6->sin6_addr, &a, 16) == 0 && ntohs(in6->sin6_port) == port);
}

static int v1(const char *s, size_t *used, ringo__pp_result *res)
{
    return feed_all(s, strlen(s), used, res);
}

static void test_v1(void)
{
    ringo__pp_result res;
    size_t used;
    char longline[200];
    static const char *bad[] = {
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",       /* LF without CR */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",       /* a field missing */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",   /* one too many */
        "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",    /* two spaces */
        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", /* port range */
        "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",    /* leading zero */
        "PROXY TCP4 ::1 ::1 1 2\r\n",             /* family mismatch */
        "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
        "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY UNKNOWNX\r\n",
        "PROXY \r\n",
    };

    CHECK(v1("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /", &used, &res) == 1);
    CHECK(used == strlen("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"));
    expect_v4(&res, "192.0.2.1", 56324);
    CHECK(v1("PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n", &used, &res) == 1);
    expect_v6(&res, "2001:db8::1", 0);
    CHECK(v1("PROXY UNKNOWN\r\n", &used, &res) == 1 && res.family == 0);
    CHECK(v1("PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 x y\r\nrest", &used, &res) == 1);
    CHECK(res.family == 0 && used == strlen("PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 x y\r\n"));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECKF(v1(bad[i], &used, &res) == -EBADMSG, "%s", bad[i]);
    /* The bound: a 107-byte line is taken, one byte more without CRLF is not. */
    memset(longline, 0, sizeof(longline));
    strcpy(longline, "PROXY UNKNOWN ");
    memset(longline + 14, 'x', 107 - 14 - 2);
    memcpy(longline + 105, "\r\n", 2);
    CHECK(v1(longline, &used, &res) == 1 && used == 107);
    memset(longline + 105, 'x', 10);
    CHECK(v1(longline, &used, &res) == -EBADMSG && used == 107);
    /* Not a PROXY header: an HTTP request, WebDAV's PROPFIND. */
    CHECK(v1("GET / HTTP/1.1\r\n", &used, &res) == -EPROTO);
    CHECK(v1("PROPFIND / HTTP/1.1\r\n", &used, &res) == -EPROTO);
    CHECK(v1("PROXY", &used, &res) == 0); /* more is needed */
}

/* Builds a v2 header: cmd, family/transport, address bytes and extra bytes (TLVs). */
static size_t v2(uint8_t *out, uint8_t vc, uint8_t fam, const void *addr, size_t alen,
                 const void *tlv, size_t tlen, int len_delta)
{
    size_t len = alen + tlen;

    memcpy(out, v2_sig, 12);
    out[12] = vc;
    out[13] = fam;
    out[14] = (uint8_t)((len + (size_t)len_delta) >> 8);
    out[15] = (uint8_t)(len + (size_t)len_delta);
    if (alen)
        memcpy(out + 16, addr, alen);
    if (tlen)
        memcpy(out + 16 + alen, tlv, tlen);
    return 16 + len;
}

static void test_v2(void)
{
    uint8_t buf[600], a4[12], a6[36], unix_addr[216] = {0};
    static const uint8_t ssl_tlv[] = {0x20, 0, 5, 0x01, 0, 0, 0, 0, 0x04, 0, 2, 'x', 'y'};
    static const uint8_t plain_tlv[] = {0x01, 0, 2, 'h', '2', 0x04, 0, 0};
    static const uint8_t long_tlv[] = {0x01, 0, 9, 'h', '2'};
    static const uint8_t cut_tlv[] = {0x01, 0};
    ringo__pp_result res;
    size_t n, used;

    inet_pton(AF_INET, "203.0.113.7", a4);
    inet_pton(AF_INET, "10.0.0.1", a4 + 4);
    a4[8] = 0xc3, a4[9] = 0x50; /* 50000 */
    a4[10] = 0, a4[11] = 80;
    inet_pton(AF_INET6, "2001:db8::7", a6);
    inet_pton(AF_INET6, "2001:db8::1", a6 + 16);
    a6[32] = 0x04, a6[33] = 0xd2; /* 1234 */
    a6[34] = 0, a6[35] = 80;

    n = v2(buf, 0x21, 0x11, a4, 12, NULL, 0, 0);
    memcpy(buf + n, "GET", 3);
    CHECK(feed_all(buf, n + 3, &used, &res) == 1 && used == n);
    expect_v4(&res, "203.0.113.7", 50000);
    CHECK(!res.ssl);
    n = v2(buf, 0x21, 0x11, a4, 12, ssl_tlv, sizeof(ssl_tlv), 0);
    CHECK(feed_all(buf, n, &used, &res) == 1 && used == n && res.ssl);
    n = v2(buf, 0x21, 0x21, a6, 36, plain_tlv, sizeof(plain_tlv), 0);
    CHECK(feed_all(buf, n, &used, &res) == 1 && used == n && !res.ssl);
    expect_v6(&res, "2001:db8::7", 1234);
    /* LOCAL (the proxy's own health check), AF_UNSPEC, AF_UNIX: the socket's address. */
    n = v2(buf, 0x20, 0x00, NULL, 0, NULL, 0, 0);
    CHECK(feed_all(buf, n, &used, &res) == 1 && used == 16 && res.family == 0);
    n = v2(buf, 0x20, 0x11, a4, 12, NULL, 0, 0);
    CHECK(feed_all(buf, n, &used, &res) == 1 && used == n && res.family == 0);
    n = v2(buf, 0x21, 0x00, NULL, 0, "abc", 3, 0);
    CHECK(feed_all(buf, n, &used, &res) == 1 && used == n && res.family == 0);
    n = v2(buf, 0x21, 0x31, unix_addr, sizeof(unix_addr), NULL, 0, 0);
    CHECK(feed_all(buf, n, &used, &res) == 1 && used == n && res.family == 0);
    /* Malformed. */
    n = v2(buf, 0x11, 0x11, a4, 12, NULL, 0, 0); /* version 1 in a v2 header */
    CHECK(feed_all(buf, n, &used, &res) == -EBADMSG);
    n = v2(buf, 0x22, 0x11, a4, 12, NULL, 0, 0); /* command 2 */
    CHECK(feed_all(buf, n, &used, &res) == -EBADMSG);
    n = v2(buf, 0x21, 0x12, a4, 12, NULL, 0, 0); /* UDP */
    CHECK(feed_all(buf, n, &used, &res) == -EBADMSG);
    n = v2(buf, 0x21, 0x41, a4, 12, NULL, 0, 0); /* family 4 */
    CHECK(feed_all(buf, n, &used, &res) == -EBADMSG);
    n = v2(buf, 0x21, 0x21, a4, 12, NULL, 0, 0); /* IPv6 in 12 bytes */
    CHECK(feed_all(buf, n, &used, &res) == -EBADMSG);
    n = v2(buf, 0x21, 0x11, a4, 12, long_tlv, sizeof(long_tlv), 0); /* TLV past the block */
    CHECK(feed_all(buf, n, &used, &res) == -EBADMSG);
    n = v2(buf, 0x21, 0x11, a4, 12, cut_tlv, sizeof(cut_tlv), 0); /* TLV header cut */
    CHECK(feed_all(buf, n, &used, &res) == -EBADMSG);
    /* A signature byte wrong: not a PROXY header. */
    n = v2(buf, 0x21, 0x11, a4, 12, NULL, 0, 0);
    buf[7] = 'q';
    CHECK(feed_all(buf, n, &used, &res) == -EPROTO);
}

static bool match(const char *list, const char *ip)
{
    ringo__cidr *v;
    struct sockaddr_storage ss;
    int n = ringo__cidrs_parse(list, &v);
    bool ok;

    CHECKF(n > 0, "%s", list);
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        CHECK(inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        CHECK(inet_pton(AF_INET, ip, &in->sin_addr) == 1);
    }
    ok = ringo__cidrs_match(v, (unsigned)n, (struct sockaddr *)&ss);
    ringo__free(v);
    return ok;
}

static void test_cidrs(void)
{
    static const char *bad[] = {"",
                                "10.0.0.0/33",
                                "10.0.0.1/8",
                                "::1/129",
                                "10.0.0.0/",
                                "10.0.0.0/x",
                                "10.0.0.0/08",
                                "a.b.c.d",
                                "10.0.0.0,",
                                ",",
                                "10.0.0.0/8 10.1.0.0/16"};

    CHECK(match("10.0.0.0/8", "10.255.0.1"));
    CHECK(!match("10.0.0.0/8", "11.0.0.1"));
    CHECK(match(" 192.168.1.0/25 , 127.0.0.1", "127.0.0.1"));
    CHECK(match("192.168.1.0/25", "192.168.1.127"));
    CHECK(!match("192.168.1.0/25", "192.168.1.128"));
    CHECK(!match("127.0.0.1", "127.0.0.2"));
    CHECK(match("0.0.0.0/0", "8.8.8.8"));
    CHECK(!match("0.0.0.0/0", "::1"));
    CHECK(match("::1", "::1"));
    CHECK(match("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK(!match("2001:db8::/32", "2001:db9::1"));
    CHECK(match("10.0.0.0/8", "::ffff:10.1.2.3")); /* dual-stack listener */
    CHECK(!match("::ffff:0:0/96", "10.1.2.3"));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECKF(ringo__cidrs_parse(bad[i], NULL) == -EINVAL, "%s", bad[i]);
    CHECK(ringo__cidrs_parse(NULL, NULL) == -EINVAL);
    CHECK(ringo__cidrs_parse("10.0.0.0/8,::1,fd00::/8", NULL) == 3);
}

int main(void)
{
    test_v1();
    test_v2();
    test_cidrs();
    return 0;
}
