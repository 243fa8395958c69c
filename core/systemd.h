/*
 * core/systemd.h - socket activation and sd_notify, the few lines of
 * libsystemd ringo needs (core/systemd.c).
 */
#ifndef RINGO_CORE_SYSTEMD_H
#define RINGO_CORE_SYSTEMD_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/*
 * The listening sockets systemd passed to this process (LISTEN_PID is our
 * pid), at most max, into fds; each is checked to be a listening stream
 * socket and made close-on-exec and non-blocking. Returns how many (0: none
 * passed), -EMFILE (more than max), -ENOTSOCK (a descriptor is not a
 * listening stream socket) or -errno from fcntl().
 */
int ringo__sd_listen_fds(int *fds, int max);

/*
 * A datagram socket for $NOTIFY_SOCKET, and its address in addr and len.
 * Returns the descriptor, -ENOENT (the variable is not set), -EINVAL (not
 * a path or an @abstract name, or too long) or -errno from socket().
 */
int ringo__sd_notify_open(struct sockaddr_un *addr, socklen_t *len);

/* Sends msg ("READY=1", lines separated by '\n'). 0 or -errno; fd < 0: 0, nothing sent. */
int ringo__sd_notify_send(int fd, const struct sockaddr_un *addr, socklen_t len, const char *msg);

/* $WATCHDOG_USEC when it is meant for this process ($WATCHDOG_PID, if set, is ours), else 0. */
uint64_t ringo__sd_watchdog_usec(void);

#endif
