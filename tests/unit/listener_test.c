/*
 * Description: the listening sockets of core/listener.c: ringo__listen()
 * binds port 0 on 127.0.0.1 (and "localhost", resolved from /etc/hosts) and
 * reports the family and the port the kernel chose; the socket listens, is
 * non-blocking and close-on-exec; SO_REUSEPORT lets a second listener bind
 * the same port (one per ring) while a socket without it keeps the port to
 * itself (-EADDRINUSE); an address that is not local gives -EADDRNOTAVAIL;
 * on ::1 and "::" the same, "::" dual-stack (IPV6_V6ONLY off, reachable
 * from 127.0.0.1). The IPv6 part is skipped where the host has no IPv6.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "core/server.h"

static int listen_on(const char *host, uint16_t port, int *family, uint16_t *bound)
{
    ringo_config cfg;

    ringo_config_init(&cfg);
    cfg.host = host;
    return ringo__listen(&cfg, port, family, bound);
}

static void check_socket(int fd)
{
    int on = 0;
    socklen_t len = sizeof(on);
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

    CHECK(fl >= 0 && (fl & O_NONBLOCK) && fdfl >= 0 && (fdfl & FD_CLOEXEC));
    CHECK(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on);
    CHECK(getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, &len) == 0 && on);
}

/* A client connecting to addr:port is queued on one of the listeners. */
static void check_connect(int family, const char *addr, uint16_t port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    if (family == AF_INET) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        CHECK(inet_pton(AF_INET, addr, &in4->sin_addr) == 1);
    } else {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        CHECK(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1);
    }
    CHECKF(connect(fd, (struct sockaddr *)&ss, sizeof(ss)) == 0, "connect %s:%u: %s", addr, port,
           strerror(errno));
    close(fd);
}

static void test_ipv4(void)
{
    int family = 0, family2 = 0, fd, fd2, plain;
    uint16_t port = 0, port2 = 0;
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    fd = listen_on("127.0.0.1", 0, &family, &port);
    CHECKF(fd >= 0, "%s", strerror(-fd));
    CHECK(family == AF_INET && port != 0);
    check_socket(fd);
    /* A second ring's listener on the same port. */
    fd2 = listen_on("127.0.0.1", port, &family2, &port2);
    CHECKF(fd2 >= 0, "%s", strerror(-fd2));
    CHECK(family2 == AF_INET && port2 == port);
    check_connect(AF_INET, "127.0.0.1", port);
    close(fd);
    close(fd2);

    /* A port held by a socket without SO_REUSEPORT stays its own. */
    plain = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(plain >= 0 && bind(plain, (struct sockaddr *)&in, sizeof(in)) == 0 &&
          listen(plain, 1) == 0);
    socklen_t len = sizeof(in);
    CHECK(getsockname(plain, (struct sockaddr *)&in, &len) == 0);
    fd = listen_on("127.0.0.1", ntohs(in.sin_port), &family, &port);
    CHECKF(fd == -EADDRINUSE, "%d", fd);
    close(plain);

    /* A name from /etc/hosts, and an address of no local interface (TEST-NET-1). */
    fd = listen_on("localhost", 0, &family, &port);
    CHECKF(fd >= 0 && port != 0, "%s", strerror(-fd));
    close(fd);
    fd = listen_on("192.0.2.1", 0, &family, &port);
    CHECKF(fd == -EADDRNOTAVAIL, "%d", fd);
    printf("ok   IPv4: port 0, SO_REUSEPORT, EADDRINUSE, names, EADDRNOTAVAIL\n");
}

static void test_ipv6(void)
{
    int family = 0, fd, fd2, probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 lo = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    uint16_t port = 0, port2 = 0;
    int v6only = 1;
    socklen_t len = sizeof(v6only);

    if (probe < 0 || bind(probe, (struct sockaddr *)&lo, sizeof(lo)) < 0) {
        printf("skip IPv6: unavailable here (%s)\n", strerror(errno));
        if (probe >= 0)
            close(probe);
        return;
    }
    close(probe);
    fd = listen_on("::1", 0, &family, &port);
    CHECKF(fd >= 0, "%s", strerror(-fd));
    CHECK(family == AF_INET6 && port != 0);
    check_socket(fd);
    fd2 = listen_on("::1", port, &family, &port2);
    CHECKF(fd2 >= 0 && port2 == port, "%d", fd2);
    check_connect(AF_INET6, "::1", port);
    close(fd);
    close(fd2);
    /* "::" serves IPv4 clients too. */
    fd = listen_on("::", 0, &family, &port);
    CHECKF(fd >= 0 && family == AF_INET6, "%s", strerror(-fd));
    CHECK(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0 && v6only == 0);
    check_connect(AF_INET, "127.0.0.1", port);
    close(fd);
    printf("ok   IPv6: ::1 port 0, SO_REUSEPORT, \"::\" dual-stack\n");
}

int main(void)
{
    test_ipv4();
    test_ipv6();
    return 0;
}
