/*
 * core/coro.c - stackful coroutines, see coro.h.
 */
#include "core/coro.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CORO_ASAN)
#define CORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CORO_TSAN)
#define CORO_TSAN 1
#endif

#if defined(CORO_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(CORO_TSAN)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(RINGO_VALGRIND)
#include <valgrind/valgrind.h>
#endif

/* In core/coro_switch_<arch>.S. */
void ringo__coro_switch(void **save_sp, void *load_sp);
void *ringo__coro_prepare(void *top, void (*entry)(void *), void *arg);

enum { CORO_READY, CORO_RUNNING, CORO_SUSPENDED, CORO_FINISHED };

/* Lives at the top of its own stack; the stack proper ends where it begins. */
struct ringo__coro {
    void *sp; /* saved stack pointer while not running */
    ringo__coro_fn fn;
    void *arg;
    void *data;
    const char *label;
    ringo__stack stack;
    ringo__stack_pool *pool;
    int state;
#if defined(CORO_ASAN)
    void *fake_stack; /* ASan's detect_stack_use_after_return frames */
#endif
#if defined(CORO_TSAN)
    void *tsan_fiber;
#endif
#if defined(RINGO_VALGRIND)
    unsigned vg_stack_id;
#endif
};

#define HEADER_SIZE ((sizeof(ringo__coro) + 63) & ~(size_t)63)

typedef struct thread_state {
    ringo__coro *current;
    void *main_sp;
#if defined(CORO_ASAN)
    void *main_fake_stack;
    const void *main_bottom; /* learnt from ASan on the first switch in */
    size_t main_size;
#endif
#if defined(CORO_TSAN)
    void *main_fiber;
#endif
    int ready;             /* ringo__coro_thread_init() done */
    ringo__stack altstack; /* ours, when we installed one */
    stack_t prev_altstack; /* what it replaced */
} thread_state;

/*
 * initial-exec: the library is linked into executables, so the variable sits
 * in the static TLS block and costs one %fs/tpidr-relative access instead of
 * a __tls_get_addr() call per switch. The signal handler reads it too, which
 * is async-signal-safe only for static TLS.
 */
static __thread thread_state ts __attribute__((tls_model("initial-exec")));

/* ---- sanitizer and valgrind hooks: empty in normal builds ---- */

static void fiber_created(ringo__coro *c)
{
#if defined(CORO_ASAN)
    c->fake_stack = NULL;
#endif
#if defined(CORO_TSAN)
    c->tsan_fiber = __tsan_create_fiber(0);
    __tsan_set_fiber_name(c->tsan_fiber, c->label);
#endif
#if defined(RINGO_VALGRIND)
    c->vg_stack_id = VALGRIND_STACK_REGISTER(c->stack.lo, c->stack.lo + c->stack.size);
#endif
    (void)c;
}

static void fiber_destroyed(ringo__coro *c)
{
#if defined(CORO_TSAN)
    __tsan_destroy_fiber(c->tsan_fiber);
#endif
#if defined(RINGO_VALGRIND)
    VALGRIND_STACK_DEREGISTER(c->vg_stack_id);
#endif
    (void)c;
}

static inline void enter_begin(ringo__coro *c)
{
#if defined(CORO_ASAN)
    __sanitizer_start_switch_fiber(&ts.main_fake_stack, c->stack.lo, c->stack.size - HEADER_SIZE);
#endif
#if defined(CORO_TSAN)
    if (!ts.main_fiber)
        ts.main_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(c->tsan_fiber, 0);
#endif
    (void)c;
}

static inline void enter_end(void)
{
#if defined(CORO_ASAN)
    __sanitizer_finish_switch_fiber(ts.main_fake_stack, NULL, NULL);
#endif
}

/* finished: the coroutine will never run again, so ASan drops its fake stack. */
static inline void leave_begin(ringo__coro *c, int finished)
{
#if defined(CORO_ASAN)
    __sanitizer_start_switch_fiber(finished ? NULL : &c->fake_stack, ts.main_bottom, ts.main_size);
#endif
#if defined(CORO_TSAN)
    __tsan_switch_to_fiber(ts.main_fiber, 0);
#endif
    (void)c, (void)finished;
}

/* fake_stack is NULL on a coroutine's first entry. */
static inline void leave_end(void *fake_stack)
{
#if defined(CORO_ASAN)
    __sanitizer_finish_switch_fiber(fake_stack, &ts.main_bottom, &ts.main_size);
#endif
    (void)fake_stack;
}

/* ---- switching ---- */

static inline void switch_to_main(ringo__coro *c, int finished)
{
    leave_begin(c, finished);
    ringo__coro_switch(&c->sp, ts.main_sp);
#if defined(CORO_ASAN)
    leave_end(c->fake_stack);
#else
    leave_end(NULL);
#endif
}

__attribute__((noreturn)) static void coro_entry(void *arg)
{
    ringo__coro *c = arg;

    leave_end(NULL);
    c->fn(c->arg);
    c->state = CORO_FINISHED;
    switch_to_main(c, 1);
    __builtin_unreachable();
}

int ringo__coro_create(ringo__coro **out, ringo__stack_pool *p, size_t stack_size,
                       ringo__coro_fn fn, void *arg, const char *label)
{
    ringo__stack s;
    ringo__coro *c;
    int ret;

    if (!fn)
        return -EINVAL;
    ret = ringo__stack_get(p, stack_size, &s);
    if (ret < 0)
        return ret;
    c = (ringo__coro *)(void *)(s.lo + s.size - HEADER_SIZE);
    c->fn = fn;
    c->arg = arg;
    c->data = NULL;
    c->label = label ? label : "?";
    c->stack = s;
    c->pool = p;
    c->state = CORO_READY;
    c->sp = ringo__coro_prepare(c, coro_entry, c);
    fiber_created(c);
    *out = c;
    return 0;
}

int ringo__coro_reuse(ringo__coro *c, ringo__coro_fn fn, void *arg, const char *label)
{
    if (!fn || c->state != CORO_FINISHED)
        return -EINVAL;
    c->fn = fn;
    c->arg = arg;
    c->data = NULL;
    c->label = label ? label : "?";
    c->state = CORO_READY;
    c->sp = ringo__coro_prepare(c, coro_entry, c);
#if defined(CORO_ASAN)
    c->fake_stack = NULL; /* dropped when it finished: the next entry is a first one */
#endif
#if defined(CORO_TSAN)
    __tsan_set_fiber_name(c->tsan_fiber, c->label);
#endif
    return 0;
}

int ringo__coro_resume(ringo__coro *c)
{
    if (ts.current || c->state == CORO_FINISHED)
        return -EINVAL;
    ts.current = c;
    c->state = CORO_RUNNING;
    enter_begin(c);
    ringo__coro_switch(&ts.main_sp, c->sp);
    enter_end();
    ts.current = NULL;
    return c->state == CORO_FINISHED;
}

void ringo__coro_yield(void)
{
    ringo__coro *c = ts.current;

    if (!c)
        return;
    c->state = CORO_SUSPENDED;
    switch_to_main(c, 0);
}

ringo__coro *ringo__coro_current(void) { return ts.current; }

void ringo__coro_free(ringo__coro *c)
{
    ringo__stack_pool *p;
    ringo__stack s;

    if (!c)
        return;
    assert(c->state == CORO_READY || c->state == CORO_FINISHED);
    fiber_destroyed(c);
    /* The header is on the stack being returned: read it first. */
    p = c->pool;
    s = c->stack;
    ringo__stack_put(p, s);
}

void *ringo__coro_data(const ringo__coro *c) { return c->data; }

void ringo__coro_set_data(ringo__coro *c, void *data) { c->data = data; }

int ringo__coro_finished(const ringo__coro *c) { return c->state == CORO_FINISHED; }

const char *ringo__coro_label(const ringo__coro *c) { return c->label; }

size_t ringo__coro_stack_size(const ringo__coro *c) { return c->stack.size; }

/* ---- stack overflow reporting ---- */

#define ALTSTACK_SIZE ((size_t)64 * 1024 * RINGO__STACK_SANITIZER_SCALE)
/* An alternate stack someone else installed is kept if at least this big. */
#define ALTSTACK_KEEP ((size_t)16 * 1024)

static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_err;
static size_t guard_size;
static struct sigaction prev_segv, prev_bus;

static uintptr_t fault_sp(const void *uctx)
{
    const ucontext_t *uc = uctx;

#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.sp;
#else
    (void)uc;
    return UINTPTR_MAX;
#endif
}

/*
 * The fault is an overflow of c if it hit c's guard page, or if the
 * interrupted stack pointer lies below c's stack (a frame large enough to
 * step over the guard page faulted further down).
 */
static int is_overflow(const ringo__coro *c, const siginfo_t *si, const void *uctx)
{
    uintptr_t lo = (uintptr_t)c->stack.lo;
    uintptr_t addr = (uintptr_t)si->si_addr;
    uintptr_t sp = fault_sp(uctx);

    if (addr < lo && addr >= lo - guard_size)
        return 1;
    return sp < lo && sp >= lo - c->stack.size;
}

static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at < cap)
        buf[at++] = *s++;
    return at;
}

static size_t put_uint(char *buf, size_t at, size_t cap, size_t v)
{
    char digits[24];
    size_t n = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && at < cap)
        buf[at++] = digits[--n];
    return at;
}

/* Async-signal-safe: no stdio, no allocation, one write(2). */
static void report_overflow(const ringo__coro *c)
{
    char msg[512];
    size_t n = 0, cap = sizeof(msg) - 1;
    ssize_t w;

    n = put_str(msg, n, cap, "ringo: stack overflow in coroutine '");
    n = put_str(msg, n, cap - 100, c->label);
    n = put_str(msg, n, cap, "' (stack ");
    n = put_uint(msg, n, cap, c->stack.size);
    n = put_str(msg, n, cap, " bytes); raise the stack size for this route\n");
    w = write(STDERR_FILENO, msg, n);
    (void)w;
}

/*
 * A fault from an instruction re-executes when the handler returns, now
 * under the default action: the process dies of the real signal at the real
 * place (a core shows the faulting frame). A signal sent with kill() does
 * not come back by itself, so it is raised again; it stays blocked until the
 * handler returns.
 */
static void die_default(int sig, const siginfo_t *si)
{
    struct sigaction dfl;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig);
}

static void chain(int sig, siginfo_t *si, void *uctx)
{
    const struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;

    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, si, uctx);
        return;
    }
    if (prev->sa_handler == SIG_IGN && si->si_code <= 0)
        return;
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    die_default(sig, si);
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
    int saved_errno = errno;
    const ringo__coro *c = ts.current;

    if (c && is_overflow(c, si, uctx)) {
        report_overflow(c);
        die_default(sig, si);
    } else {
        chain(sig, si, uctx);
    }
    errno = saved_errno;
}

static void install_handlers(void)
{
    struct sigaction sa;

    guard_size = (size_t)getpagesize();
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) != 0 || sigaction(SIGBUS, &sa, &prev_bus) != 0)
        handler_err = -errno;
}

static int install_altstack(void)
{
    stack_t cur, ss;
    int ret;

    if (sigaltstack(NULL, &cur) != 0)
        return -errno;
    if (!(cur.ss_flags & SS_DISABLE) && cur.ss_size >= ALTSTACK_KEEP)
        return 0;
    ret = ringo__stack_map(ALTSTACK_SIZE, &ts.altstack);
    if (ret < 0)
        return ret;
    ss.ss_sp = ts.altstack.lo;
    ss.ss_size = ts.altstack.size;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, &ts.prev_altstack) != 0) {
        ret = -errno;
        ringo__stack_unmap(ts.altstack);
        ts.altstack.lo = NULL;
        return ret;
    }
    return 0;
}

int ringo__coro_thread_init(void)
{
    int ret;

    if (ts.ready)
        return 0;
    pthread_once(&handler_once, install_handlers);
    if (handler_err)
        return handler_err;
    ret = install_altstack();
    if (ret == 0)
        ts.ready = 1;
    return ret;
}

void ringo__coro_thread_exit(void)
{
    if (ts.altstack.lo) {
        /* Give the thread back what it had: a sanitizer runtime unmaps
         * whatever alternate stack is current when the thread ends. */
        sigaltstack(&ts.prev_altstack, NULL);
        ringo__stack_unmap(ts.altstack);
        ts.altstack.lo = NULL;
    }
    ts.ready = 0;
}
