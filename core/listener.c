/*
 * core/listener.c - SO_REUSEPORT listening sockets, IPv4 and IPv6.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/server.h"

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (!host || !*host)
        host = "0.0.0.0";
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof(*in6);
        return 0;
    }
    /* A name: resolved once at startup, where blocking is harmless. */
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -EADDRNOTAVAIL;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET)
        in4->sin_port = htons(port);
    else
        in6->sin6_port = htons(port);
    return 0;
}

/*
 * Every listener sets SO_REUSEPORT, so a second process of the same user
 * binding the same port would silently share its traffic. A bind without
 * SO_REUSEPORT tells: it fails with EADDRINUSE when any socket is bound to
 * the port (SO_REUSEADDR keeps TIME_WAIT connections from counting).
 * Returns 1 when the port is taken, 0 when free, or -errno.
 */
int ringo__port_taken(const ringo_config *cfg, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1, zero = 0, ret;

    ret = resolve(cfg->host, port, &ss, &len);
    if (ret < 0)
        return ret;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    ret = bind(fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
    close(fd);
    if (ret == -EADDRINUSE)
        return 1;
    return ret;
}

int ringo__listen(const ringo_config *cfg, uint16_t port, int *family, uint16_t *bound)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1, zero = 0, ret;

    /* Non-blocking: shutdown drains the queue with accept4() until EAGAIN. */
    ret = resolve(cfg->host, port, &ss, &len);
    if (ret < 0)
        return ret;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    /* "::" serves IPv4 too (dual stack), whatever the sysctl default says. */
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, cfg->backlog) < 0)
        goto fail;
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        goto fail;
    *family = ss.ss_family;
    *bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                           : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
fail:
    ret = -errno;
    close(fd);
    return ret;
}
