/*
 * Description: guard-page death test for coroutine stacks. A child process
 * runs a coroutine that recurses without bound; it must die of SIGSEGV after
 * the alternate-stack handler printed "ringo: stack overflow in coroutine
 * '<label>' (stack N bytes)". Also: the same on a second thread (its own
 * alternate stack); a fault that is not an overflow goes to the handler
 * installed before ringo's and prints no overflow message; with no earlier
 * handler it still kills the process. Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/coro.h"
#include "core/stack.h"

#define LABEL "GET /deep/{depth}"
#define STACK_REQUEST ((size_t)32 * 1024)
#define CHAINED_EXIT 42

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_SANITIZED 1
#endif

/* ---- what the children run ---- */

static volatile unsigned depth_limit = ~0u;

__attribute__((noinline)) static unsigned recurse(unsigned n)
{
    volatile char frame[512];

    frame[0] = (char)n;
    frame[sizeof(frame) - 1] = (char)n;
    if (n >= depth_limit)
        return n;
    /* Not a tail call: the frame must stay live below the next one. */
    return recurse(n + 1) + (unsigned)frame[0] + (unsigned)frame[sizeof(frame) - 1];
}

static void overflow_fn(void *arg) { *(volatile unsigned *)arg = recurse(0); }

/* Not NULL: UBSan would report a null store itself instead of faulting. */
static volatile uintptr_t wild_address = 16;

static void wild_store_fn(void *arg)
{
    (void)arg;
    *(volatile int *)wild_address = 1;
}

static void run_coroutine(ringo__coro_fn fn)
{
    static unsigned sink;
    ringo__stack_pool pool;
    ringo__coro *c;

    if (ringo__coro_thread_init() != 0 || ringo__stack_pool_init(&pool, 0, 1) != 0 ||
        ringo__coro_create(&c, &pool, STACK_REQUEST, fn, &sink, LABEL) != 0)
        _exit(3);
    ringo__coro_resume(c);
    _exit(4); /* the coroutine should have killed the process */
}

static void scenario_overflow(void) { run_coroutine(overflow_fn); }

static void *overflow_thread(void *arg)
{
    (void)arg;
    run_coroutine(overflow_fn);
    return NULL;
}

static void scenario_overflow_thread(void)
{
    pthread_t th;

    if (ringo__coro_thread_init() != 0 || pthread_create(&th, NULL, overflow_thread, NULL) != 0)
        _exit(3);
    pthread_join(th, NULL);
    _exit(5);
}

static void earlier_handler(int sig)
{
    static const char msg[] = "earlier handler ran\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);

    (void)sig, (void)w;
    _exit(CHAINED_EXIT);
}

static void install_earlier_handler(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = earlier_handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0)
        _exit(3);
}

static void scenario_wild_store_chained(void)
{
    install_earlier_handler();
    run_coroutine(wild_store_fn);
}

static void scenario_overflow_with_earlier(void)
{
    install_earlier_handler();
    run_coroutine(overflow_fn);
}

static void scenario_wild_store(void) { run_coroutine(wild_store_fn); }

/* ---- the parent ---- */

struct outcome {
    int status;
    char err[8192]; /* the child's stderr, NUL-terminated */
};

static int run_child(void (*scenario)(void), struct outcome *o)
{
    int fds[2];
    size_t n = 0;
    pid_t pid;

    CHECK(pipe(fds) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};

        setrlimit(RLIMIT_CORE, &no_core);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        scenario();
        _exit(6);
    }
    close(fds[1]);
    for (;;) {
        ssize_t r = read(fds[0], o->err + n, sizeof(o->err) - 1 - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    o->err[n] = '\0';
    close(fds[0]);
    CHECK(waitpid(pid, &o->status, 0) == pid);
    return 0;
}

static int died_of_segv(const struct outcome *o)
{
    return WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGSEGV;
}

static int check_overflow_message(const struct outcome *o)
{
    ringo__stack_pool pool;
    char want[256];

    CHECK(ringo__stack_pool_init(&pool, 0, 0) == 0);
    snprintf(want, sizeof(want),
             "ringo: stack overflow in coroutine '" LABEL "' (stack %zu bytes); "
             "raise the stack size for this route\n",
             ringo__stack_pool_round(&pool, STACK_REQUEST));
    if (!strstr(o->err, want)) {
        fprintf(stderr, "expected \"%s\" in the child's stderr:\n%s\n", want, o->err);
        return 1;
    }
    return 0;
}

static int expect_overflow(void (*scenario)(void), const char *name)
{
    struct outcome o;

    CHECK(run_child(scenario, &o) == 0);
    if (!died_of_segv(&o)) {
        fprintf(stderr, "%s: child status 0x%x, not SIGSEGV; stderr:\n%s\n", name, o.status, o.err);
        return 1;
    }
    return check_overflow_message(&o);
}

static int test_overflow(void) { return expect_overflow(scenario_overflow, "overflow"); }

static int test_overflow_thread(void)
{
    return expect_overflow(scenario_overflow_thread, "overflow_thread");
}

static int test_overflow_with_earlier(void)
{
    return expect_overflow(scenario_overflow_with_earlier, "overflow_with_earlier");
}

static int test_wild_store_chained(void)
{
    struct outcome o;

    CHECK(run_child(scenario_wild_store_chained, &o) == 0);
    CHECK(WIFEXITED(o.status) && WEXITSTATUS(o.status) == CHAINED_EXIT);
    CHECK(strstr(o.err, "earlier handler ran") != NULL);
    CHECK(strstr(o.err, "stack overflow") == NULL);
    return 0;
}

/*
 * Nothing installed before ringo: the default action kills the process. In
 * sanitizer builds the runtime's handler was there first and reports it
 * (exit status 1) instead.
 */
static int test_wild_store_default(void)
{
    struct outcome o;

    CHECK(run_child(scenario_wild_store, &o) == 0);
    CHECK(strstr(o.err, "stack overflow") == NULL);
#if defined(TEST_SANITIZED)
    /* The runtime reports and exits, or aborts (ASAN_OPTIONS=abort_on_error=1). */
    CHECK(died_of_segv(&o) || (WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT) ||
          (WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0 && WEXITSTATUS(o.status) != 4));
#else
    CHECK(died_of_segv(&o));
#endif
    return 0;
}

int main(void)
{
    static const struct {
        const char *name;
        int (*fn)(void);
    } tests[] = {
        {"overflow", test_overflow},
        {"overflow_thread", test_overflow_thread},
        {"overflow_with_earlier", test_overflow_with_earlier},
        {"wild_store_chained", test_wild_store_chained},
        {"wild_store_default", test_wild_store_default},
    };
    int failed = 0;

    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        int r = tests[i].fn();

        printf("%s %s\n", r ? "FAIL" : "ok  ", tests[i].name);
        fflush(stdout);
        failed |= r;
    }
    return failed ? 1 : 0;
}
