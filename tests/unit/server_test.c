/*
 * Description: core/server.c and core/conn.c under a tiny echo protocol on
 * the ringo__proto callbacks, one real ring on 127.0.0.1 port 0: bytes in
 * come back out (1 MiB too, gathered while the client is not reading);
 * output reservations too large for any buffer fail at once; the
 * peer address is the client's; a protocol timer fires on_timer with its
 * kind; a close after send delivers the output, then EOF; a client's EOF
 * reaches on_eof; past max_conns the overload answer is sent and the
 * connection closed; stopping the server drains the open connections
 * (on_drain) and every counter ends at zero. Reads wait at most 5 s (a
 * failure guard, not a timing assertion). Skips (77) without io_uring.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "core/server.h"

enum { TIMER_KIND = 3 };

static ringo__server srv;
static atomic_uint opens, closes, eofs, drains, timers;
static atomic_uint peer_port;

static void put(ringo__conn *c, const char *p, size_t n)
{
    char *o = ringo__conn_reserve(c, n);

    CHECK(o);
    memcpy(o, p, n);
    ringo__conn_commit(c, n);
    ringo__conn_flush(c);
}

static void on_open(ringo__conn *c)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;

    atomic_fetch_add(&opens, 1);
    CHECK(ringo__conn_peer(c, &ss) == sizeof(*in) && in->sin_family == AF_INET);
    CHECK(in->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    atomic_store(&peer_port, ntohs(in->sin_port));
    /* Output sizes no buffer can hold fail before any allocation. */
    CHECK(!ringo__conn_reserve(c, SIZE_MAX) && !ringo__conn_reserve(c, SIZE_MAX / 2));
    CHECK(!ringo__conn_reserve(c, SIZE_MAX / 4 + 1) && ringo__conn_reserve(c, 16));
}

/* "T": arm the timer; "C": answer and close after the send; else echo. */
static void on_data(ringo__conn *c, const char *p, size_t n)
{
    if (n == 1 && p[0] == 'T') {
        ringo__conn_timer(c, TIMER_KIND, 10);
    } else if (n == 1 && p[0] == 'C') {
        put(c, "bye\n", 4);
        ringo__conn_close(c, RINGO__CLOSE_AFTER_SEND);
    } else {
        put(c, p, n);
    }
}

static void on_eof(ringo__conn *c)
{
    atomic_fetch_add(&eofs, 1);
    put(c, "eof\n", 4);
    ringo__conn_close(c, RINGO__CLOSE_AFTER_SEND);
}

static void on_sent(ringo__conn *c) { (void)c; }

static void on_timer(ringo__conn *c, int kind)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "timer%d\n", kind);

    atomic_fetch_add(&timers, 1);
    put(c, line, (size_t)n);
}

static void on_drain(ringo__conn *c)
{
    atomic_fetch_add(&drains, 1);
    put(c, "drain\n", 6);
    ringo__conn_close(c, RINGO__CLOSE_AFTER_SEND);
}

static void on_close(ringo__conn *c)
{
    (void)c;
    atomic_fetch_add(&closes, 1);
}

static size_t overload(ringo__ring *r, char *buf, size_t cap)
{
    (void)r;
    CHECK(cap >= 5);
    memcpy(buf, "busy\n", 5);
    return 5;
}

static const ringo__proto echo = {
    .conn_size = 16,
    .on_open = on_open,
    .on_data = on_data,
    .on_eof = on_eof,
    .on_sent = on_sent,
    .on_timer = on_timer,
    .on_drain = on_drain,
    .on_close = on_close,
    .overload = overload,
};

static void start(void)
{
    ringo_config cfg;
    int ret;

    ringo_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0; /* the default is 8080 */
    cfg.threads = 1;
    cfg.max_conns = 2;
    cfg.quiet = 1;
    cfg.drain_timeout_ms = 5000;
    CHECK(ringo__server_init(&srv, &(ringo__server_opts){&cfg, &echo, NULL, NULL}) == 0);
    ret = ringo__server_probe(&srv);
    if (ret == RINGO_EIOURING || ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP) {
        printf("skip: io_uring unavailable: %s\n", strerror(-ret));
        ringo__server_free(&srv);
        exit(77);
    }
    CHECKF(ret == 0 && (ret = ringo__server_start(&srv)) == 0, "%s", strerror(-ret));
    CHECK(srv.port != 0);
}

static int dial(void)
{
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons(srv.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    CHECK(connect(fd, (struct sockaddr *)&in, sizeof(in)) == 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, (const char *)p + off, n - off, MSG_NOSIGNAL);
        CHECKF(w > 0, "send: %s", strerror(errno));
        off += (size_t)w;
    }
}

/* Reads exactly n bytes (failing on EOF or after the receive timeout). */
static void recv_exact(int fd, char *buf, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t r = recv(fd, buf + off, n - off, 0);
        if (r < 0 && errno == EINTR)
            continue; /* interrupted before anything arrived: wait again */
        CHECKF(r > 0, "recv after %zu of %zu: %zd %s", off, n, r, r < 0 ? strerror(errno) : "EOF");
        off += (size_t)r;
    }
}

static void expect_text(int fd, const char *want)
{
    char buf[64] = {0};
    size_t n = strlen(want);

    recv_exact(fd, buf, n);
    CHECKF(memcmp(buf, want, n) == 0, "got \"%s\", want \"%s\"", buf, want);
}

static void expect_eof(int fd)
{
    char c;
    ssize_t r;

    while ((r = recv(fd, &c, 1, 0)) < 0 && errno == EINTR)
        ;
    CHECKF(r == 0, "no EOF: %zd %s", r, r < 0 ? strerror(errno) : "");
}

static void wait_for(atomic_uint *counter, unsigned want)
{
    for (int i = 0; i < 5000 && atomic_load(counter) < want; i++)
        usleep(1000);
    CHECKF(atomic_load(counter) == want, "%u, want %u", atomic_load(counter), want);
}

static void test_echo(void)
{
    enum { BIG = 1 << 20 };
    static char out[BIG], in[BIG];
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    int fd = dial();

    send_all(fd, "hello", 5);
    expect_text(fd, "hello");
    CHECK(getsockname(fd, (struct sockaddr *)&me, &len) == 0);
    CHECKF(atomic_load(&peer_port) == ntohs(me.sin_port), "peer %u me %u", atomic_load(&peer_port),
           ntohs(me.sin_port));
    for (size_t i = 0; i < BIG; i++)
        out[i] = (char)(i * 7 + i / 4096);
    send_all(fd, out, BIG);
    recv_exact(fd, in, BIG);
    CHECK(memcmp(in, out, BIG) == 0);
    send_all(fd, "T", 1);
    expect_text(fd, "timer3\n");
    shutdown(fd, SHUT_WR);
    expect_text(fd, "eof\n");
    expect_eof(fd);
    close(fd);
    wait_for(&closes, 1);
    CHECK(atomic_load(&timers) == 1 && atomic_load(&eofs) == 1);
    printf("ok   echo (1 MiB too), peer address, timer, EOF\n");
}

static void test_close_and_cap(void)
{
    int a = dial(), b, extra;

    send_all(a, "C", 1);
    expect_text(a, "bye\n");
    expect_eof(a);
    close(a);
    wait_for(&closes, 2);
    /* Two connections fill the cap; a third gets the overload answer. */
    a = dial();
    b = dial();
    send_all(a, "a", 1);
    send_all(b, "b", 1);
    expect_text(a, "a");
    expect_text(b, "b");
    extra = dial();
    expect_text(extra, "busy\n");
    expect_eof(extra);
    close(extra);
    CHECK(atomic_load(&opens) == 4);
    /* Stopping drains both. */
    ringo__server_stop(&srv);
    expect_text(a, "drain\n");
    expect_eof(a);
    expect_text(b, "drain\n");
    expect_eof(b);
    close(a);
    close(b);
    printf("ok   close after send, the connection cap, drain at stop\n");
}

int main(void)
{
    ringo_stats st;

    start();
    test_echo();
    test_close_and_cap();
    CHECK(ringo__server_wait(&srv) == 0);
    ringo__server_stats(&srv, &st);
    CHECK(atomic_load(&drains) == 2 && atomic_load(&closes) == 4);
    CHECKF(st.conns_live == 0 && st.bufs_held == 0 && st.conns_accepted == 4,
           "live %llu held %llu accepted %llu", (unsigned long long)st.conns_live,
           (unsigned long long)st.bufs_held, (unsigned long long)st.conns_accepted);
    ringo__server_free(&srv);
    return 0;
}
