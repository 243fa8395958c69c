/*
 * core/systemd.c - socket activation and the sd_notify protocol, without
 * libsystemd.
 *
 * Socket activation (sd_listen_fds(3)): systemd passes listening sockets
 * as descriptors 3 .. 3 + LISTEN_FDS - 1 to the process whose pid is
 * LISTEN_PID. Notification (sd_notify(3)): one datagram of "KEY=value"
 * lines to the AF_UNIX socket named by NOTIFY_SOCKET, a path or, after a
 * leading '@', an abstract name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/systemd.h"

#define LISTEN_FDS_START 3

/* A decimal environment variable, or -1 when it is absent or not a number. */
static long long env_num(const char *name)
{
    const char *v = getenv(name);
    char *end;
    long long n;

    if (!v || !*v)
        return -1;
    errno = 0;
    n = strtoll(v, &end, 10);
    return errno || *end || n < 0 ? -1 : n;
}

int ringo__sd_listen_fds(int *fds, int max)
{
    long long pid = env_num("LISTEN_PID"), n = env_num("LISTEN_FDS");

    if (pid != (long long)getpid() || n <= 0)
        return 0;
    if (n > max)
        return -EMFILE;
    for (int i = 0; i < (int)n; i++) {
        int fd = LISTEN_FDS_START + i, on = 0, type = 0;
        socklen_t len = sizeof(on);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on)
            return -ENOTSOCK;
        len = sizeof(type);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
            return -ENOTSOCK;
        /* Ours now: not inherited by programs the app runs; non-blocking for the drain. */
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
            return -errno;
        fds[i] = fd;
    }
    return (int)n;
}

int ringo__sd_notify_open(struct sockaddr_un *addr, socklen_t *len)
{
    const char *path = getenv("NOTIFY_SOCKET");
    size_t n = path ? strlen(path) : 0;
    int fd;

    if (!n)
        return -ENOENT;
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof(addr->sun_path))
        return -EINVAL;
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, path, n);
    if (path[0] == '@')
        addr->sun_path[0] = '\0'; /* abstract: the name is the bytes after the NUL */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int ringo__sd_notify_send(int fd, const struct sockaddr_un *addr, socklen_t len, const char *msg)
{
    if (fd < 0)
        return 0;
    /* MSG_NOSIGNAL: nothing to do with a datagram socket, but harmless. */
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)addr, len) < 0)
        return -errno;
    return 0;
}

uint64_t ringo__sd_watchdog_usec(void)
{
    long long usec = env_num("WATCHDOG_USEC"), pid = env_num("WATCHDOG_PID");

    if (usec <= 0 || (pid >= 0 && pid != (long long)getpid()))
        return 0;
    return (uint64_t)usec;
}
