/*
 * Description: the await API (core/await.c, ringo__await in core/task.c)
 * under the conditions that broke it, each in a RINGO_ASYNC handler of an
 * in-process app driven over 127.0.0.1:
 * - ringo_await_timeout() still bounds a recv on a silent socket when the
 *   submission queue has one free slot left (the op and its linked timeout
 *   must reach the kernel together): -ETIMEDOUT.
 * Every case stops its app with zero live objects. Skips (77) without
 * io_uring.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ringo.h>

#include "check.h"
#include "core/ring_impl.h"
#include "core/task.h"

#ifdef RINGO_SANITIZED
#define WAIT_S 40
#else
#define WAIT_S 10
#endif

/* ---- app and client ---- */

static ringo_app *app_start(const char *path, ringo_handler_fn fn)
{
    ringo_config cfg;
    ringo_app *app;
    int ret;

    ringo_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.threads = 1;
    cfg.pool_threads = 2;
    cfg.quiet = 1;
    CHECK(ringo_app_new(&app, &cfg) == 0);
    CHECK(ringo_route(app, "GET", path, RINGO_ASYNC, fn, NULL) == 0);
    ret = ringo_app_start(app);
    if (ret == -EPERM || ret == -ENOSYS || ret == -EOPNOTSUPP) {
        printf("SKIP: io_uring unavailable (%s)\n", ringo_strerror(ret));
        exit(77);
    }
    CHECK(ret == 0);
    return app;
}

static void app_finish(ringo_app *app)
{
    ringo_stats st;

    ringo_app_stop(app);
    CHECK(ringo_app_wait(app) == 0);
    ringo_app_stats(app, &st);
    CHECK(st.conns_live == 0 && st.reqs_live == 0 && st.bufs_held == 0 && st.stacks_live == 0 &&
          st.jobs_live == 0);
    ringo_app_free(app);
}

/* GET path; returns the body of the answer (status 200 checked) in out. */
static void call(ringo_app *app, const char *path, char *out, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ringo_app_port(app))};
    struct timeval tv = {WAIT_S, 0};
    char buf[4096], req[256];
    size_t len = 0;
    ssize_t n;
    char *body;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    CHECK(send(fd, req, (size_t)n, MSG_NOSIGNAL) == n);
    for (int eintr = 0; len < sizeof(buf) - 1; len += (size_t)n) {
        /* Signals aimed at the ring threads can interrupt this recv: it just goes on. */
        do
            n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        while (n < 0 && errno == EINTR && ++eintr < 1000);
        if (n <= 0)
            break;
    }
    if (n < 0)
        fprintf(stderr, "recv: %s after %zu bytes\n", strerror(errno), len);
    CHECK(n == 0);
    close(fd);
    buf[len] = '\0';
    CHECK(!strncmp(buf, "HTTP/1.1 200 ", 13));
    body = strstr(buf, "\r\n\r\n");
    CHECK(body);
    snprintf(out, cap, "%s", body + 4);
}

static int answer(ringo_req *req, const char *fmt, long v)
{
    char body[64];
    int n = snprintf(body, sizeof(body), fmt, v);

    return ringo_respond(req, 200, "text/plain", body, (size_t)n);
}

/* ---- a full SQ must not separate an op from its linked timeout ---- */

static int h_full_sq(ringo_req *req, void *udata)
{
    struct io_uring *u = &ringo__ring_current()->uring;
    char byte;
    int sv[2];
    ssize_t ret;

    (void)udata;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    while (io_uring_sq_space_left(u) > 1) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(u);
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
    }
    ringo_await_timeout(200);
    ret = ringo_await_recv(sv[0], &byte, 1, 0); /* nobody ever writes to sv[1] */
    close(sv[0]);
    close(sv[1]);
    return answer(req, "%ld", (long)ret);
}

static void test_full_sq_timeout(void)
{
    ringo_app *app = app_start("/x", h_full_sq);
    char body[64];

    call(app, "/x", body, sizeof(body));
    if (strcmp(body, "-110") != 0) {
        fprintf(stderr, "recv with a 200 ms await timeout after a full SQ: %s\n", body);
        exit(1);
    }
    app_finish(app);
}

/* ---- driver: each case in a child of its own ---- */

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"full_sq_timeout", test_full_sq_timeout},
};

static int run_case(unsigned i)
{
    int status;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(3 * WAIT_S);
        cases[i].fn();
        fflush(stdout);
        exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 77)) {
        printf("%s %s\n", WEXITSTATUS(status) ? "skip" : "ok  ", cases[i].name);
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status))
        printf("FAIL %s (signal %d)\n", cases[i].name, WTERMSIG(status));
    else
        printf("FAIL %s\n", cases[i].name);
    return 1;
}

int main(void)
{
    unsigned failed = 0, skipped = 0, n = sizeof(cases) / sizeof(cases[0]);

    for (unsigned i = 0; i < n; i++) {
        int ret = run_case(i);
        failed += ret == 1;
        skipped += ret == 77;
    }
    printf("%u passed, %u failed, %u skipped\n", n - failed - skipped, failed, skipped);
    if (failed)
        return 1;
    return skipped == n ? 77 : 0;
}
