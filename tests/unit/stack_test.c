/*
 * Description: coroutine stacks against the process's vm.max_map_count
 * (core/stack.c). Each stack is two mappings; mapping stacks until it
 * fails must stop at ringo__stack_limit(), short of the kernel's count, so
 * that an unrelated mmap, an mprotect that splits a mapping, a large malloc
 * and a new thread still succeed. In a server, a coroutine that cannot get
 * a stack makes its request a 503, logs one line (not one per request), and
 * the route answers 200 again once stacks can be had; nothing leaks. Each
 * case runs in a child of its own. Exit 0 pass, 1 fail, 77 without io_uring.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ringo.h>

#include "check.h"
#include "core/stack.h"
#include "server_helpers.h"

#define STACK_BYTES ((size_t)16 * 1024)
#define MAX_TRIES 70000 /* more than the default vm.max_map_count / 2 */

static void *nop_thread(void *arg) { return arg; }

static void test_map_count(void)
{
    static ringo__stack stacks[MAX_TRIES];
    size_t n = 0, page = (size_t)getpagesize();
    pthread_t th;
    char *p, *big;

    while (n < MAX_TRIES && ringo__stack_map(STACK_BYTES, &stacks[n]) == 0)
        n++;
    printf("     %zu stacks mapped before the first failure\n", n);
    CHECK(n < MAX_TRIES);
    /* The rest of the process still has mappings to spare. */
    p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(mprotect(p + page, page, PROT_READ) == 0); /* splits: one more mapping */
    big = malloc(64u << 20);                         /* above the mmap threshold */
    CHECK(big);
    big[0] = 1;
    CHECK(pthread_create(&th, NULL, nop_thread, NULL) == 0 && pthread_join(th, NULL) == 0);
    free(big);
    munmap(p, 4 * page);
    while (n)
        ringo__stack_unmap(stacks[--n]);
}

/* ---- in a server: 503, one log line, then 200 again ---- */

static int h_async(ringo_req *req, void *udata)
{
    (void)udata;
    CHECK(ringo_await_sleep(1) == 0); /* suspends: the handler needs its stack */
    return ringo_respond(req, 200, "text/plain", "ok", 2);
}

static int status_of(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    static const char req[] = "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    struct timeval tv = {10, 0};
    char buf[512] = "";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), status = 0;
    ssize_t n;

    CHECK(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1);
    do
        n = recv(fd, buf, sizeof(buf) - 1, 0);
    while (n < 0 && errno == EINTR);
    CHECK(n > 0 && sscanf(buf, "HTTP/1.1 %d", &status) == 1);
    close(fd);
    return status;
}

static int count_lines(const char *path, const char *needle)
{
    char line[512];
    int n = 0;
    FILE *f = fopen(path, "r");

    CHECK(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static void test_refused_503(void)
{
    char log[] = "/tmp/ringo-stack-log-XXXXXX";
    int logfd = mkstemp(log), ret;
    ringo_stats st;
    ringo_app *app;

    CHECK(logfd >= 0);
    fprintf(stderr, "     (this case's stderr goes to %s)\n", log);
    CHECK(dup2(logfd, 2) == 2);
    app = server_app_start("/a", h_async);
    if (!app) {
        unlink(log);
        exit(77);
    }
    ringo__stack_set_limit(ringo__stack_mapped()); /* no stack more from here */
    for (int i = 0; i < 3; i++)
        CHECK(status_of(ringo_app_port(app)) == 503);
    ringo__stack_set_limit(SIZE_MAX);
    CHECK(status_of(ringo_app_port(app)) == 200);
    ringo_app_stop(app);
    CHECK(ringo_app_wait(app) == 0);
    ringo_app_stats(app, &st);
    CHECK(st.conns_live == 0 && st.reqs_live == 0 && st.stacks_live == 0);
    ringo_app_free(app);
    ret = count_lines(log, "cannot map a coroutine stack");
    unlink(log);
    if (ret != 1) {
        printf("     %d log lines for 3 refused coroutines, want 1\n", ret);
        exit(1);
    }
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"map_count", test_map_count},
    {"refused_503", test_refused_503},
};

static int run_case(unsigned i)
{
    int ret = server_run_forked(cases[i].name, cases[i].fn, 120);

    if (ret != 1)
        printf("%s %s\n", ret ? "skip" : "ok  ", cases[i].name);
    return ret;
}

int main(void) { return server_run_all(sizeof(cases) / sizeof(cases[0]), run_case); }
