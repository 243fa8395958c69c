/*
 * Description: coroutine primitives (core/coro.c, core/stack.c): switch round
 * trips, 10000 coroutines interleaved round-robin with their stack-local
 * state checked, deep frames yielding at many depths, callee-saved registers
 * (checked from assembly) and the FP control state across switches, stack
 * reuse and the live count, a finished coroutine run again on its stack,
 * misuse errors, and one pool per thread on two threads at once. Exit 0 pass,
 * 1 fail.
 */
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/coro.h"
#include "core/stack.h"

/* ---- round trips ---- */

struct counter {
    int n;
    int limit;
    int bad;
};

static void count_fn(void *arg)
{
    struct counter *k = arg;
    ringo__coro *self = ringo__coro_current();

    for (k->n = 0; k->n < k->limit; k->n++) {
        if (!self || ringo__coro_data(self) != k)
            k->bad++;
        ringo__coro_yield();
        if (ringo__coro_current() != self)
            k->bad++;
    }
}

static int test_round_trips(void)
{
    ringo__stack_pool pool;
    struct counter k = {0, 1000, 0};
    ringo__coro *c;

    CHECK(ringo__stack_pool_init(&pool, 0, 4) == 0);
    CHECK(ringo__coro_create(&c, &pool, 0, count_fn, &k, "GET /count") == 0);
    CHECK(ringo__coro_data(c) == NULL);
    ringo__coro_set_data(c, &k);
    CHECK(ringo__stack_pool_live(&pool) == 1);
    CHECK(strcmp(ringo__coro_label(c), "GET /count") == 0);
    for (int i = 0; i < k.limit; i++) {
        CHECK(ringo__coro_resume(c) == 0);
        CHECK(k.n == i);
        CHECK(ringo__coro_current() == NULL);
        CHECK(!ringo__coro_finished(c));
    }
    CHECK(ringo__coro_resume(c) == 1);
    CHECK(ringo__coro_finished(c));
    CHECK(ringo__coro_resume(c) == -EINVAL);
    CHECK(k.bad == 0 && k.n == k.limit);
    ringo__coro_free(c);
    CHECK(ringo__stack_pool_live(&pool) == 0);
    ringo__stack_pool_destroy(&pool);
    return 0;
}

/* ---- many coroutines interleaved ---- */

/*
 * gcc's TSan runtime maps about four regions per fiber; with the two VMAs
 * of each stack, 10000 coroutines would exceed vm.max_map_count (65530).
 */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#define MANY 5000
#else
#define MANY 10000
#endif
#define LOCALS 48

struct worker {
    uint32_t id;
    uint32_t rounds;
    uint32_t done;
    uint32_t bad;
};

static uint32_t local_value(uint32_t id, uint32_t i, uint32_t round)
{
    return (id * 2654435761u) ^ (i * 40503u) ^ (round * 0x9e3779b9u);
}

static void worker_fn(void *arg)
{
    struct worker *w = arg;
    volatile uint32_t local[LOCALS]; /* lives on this coroutine's stack */

    for (uint32_t i = 0; i < LOCALS; i++)
        local[i] = local_value(w->id, i, 0);
    for (uint32_t r = 0; r < w->rounds; r++) {
        ringo__coro_yield();
        if (ringo__coro_data(ringo__coro_current()) != w)
            w->bad++;
        for (uint32_t i = 0; i < LOCALS; i++) {
            if (local[i] != local_value(w->id, i, r))
                w->bad++;
            local[i] = local_value(w->id, i, r + 1);
        }
        w->done = r + 1;
    }
}

static struct worker workers[MANY];
static ringo__coro *many[MANY];

static int run_round_robin(ringo__coro **cs, size_t n)
{
    size_t left = n;

    while (left) {
        for (size_t i = 0; i < n; i++) {
            int ret;

            if (!cs[i])
                continue;
            ret = ringo__coro_resume(cs[i]);
            CHECK(ret == 0 || ret == 1);
            if (ret == 1) {
                ringo__coro_free(cs[i]);
                cs[i] = NULL;
                left--;
            }
        }
    }
    return 0;
}

static int test_many(void)
{
    ringo__stack_pool pool;

    CHECK(ringo__stack_pool_init(&pool, 16 * 1024, 64) == 0);
    for (uint32_t i = 0; i < MANY; i++) {
        workers[i] = (struct worker){i, 2 + i % 7, 0, 0};
        CHECK(ringo__coro_create(&many[i], &pool, 0, worker_fn, &workers[i], "many") == 0);
        ringo__coro_set_data(many[i], &workers[i]);
    }
    CHECK(ringo__stack_pool_live(&pool) == MANY);
    CHECK(run_round_robin(many, MANY) == 0);
    for (uint32_t i = 0; i < MANY; i++) {
        CHECK(workers[i].bad == 0);
        CHECK(workers[i].done == workers[i].rounds);
    }
    CHECK(ringo__stack_pool_live(&pool) == 0);
    CHECK(ringo__stack_pool_cached(&pool) == 64);
    ringo__stack_pool_destroy(&pool);
    CHECK(ringo__stack_pool_cached(&pool) == 0);
    return 0;
}

/* ---- deep frames ---- */

/*
 * Outside a coroutine ringo__coro_yield() does nothing, so the same call made
 * from the main context gives the reference result.
 */
__attribute__((noinline)) static uint64_t deep(unsigned depth, uint64_t seed, unsigned pad_len)
{
    volatile unsigned char pad[256];
    uint64_t v = seed * 1099511628211u + depth;
    int bad = 0;

    for (unsigned i = 0; i < pad_len; i++)
        pad[i] = (unsigned char)(seed + depth + i);
    if (depth % 8 == 0)
        ringo__coro_yield();
    if (depth)
        v ^= deep(depth - 1, v, pad_len);
    ringo__coro_yield();
    for (unsigned i = 0; i < pad_len; i++)
        bad |= pad[i] != (unsigned char)(seed + depth + i);
    return bad ? 0 : v * 31 + pad[depth % pad_len];
}

struct deep_job {
    unsigned depth;
    unsigned pad_len;
    uint64_t seed;
    uint64_t result;
};

static void deep_fn(void *arg)
{
    struct deep_job *j = arg;

    j->result = deep(j->depth, j->seed, j->pad_len);
}

static int test_deep(void)
{
    enum { N = 6 };
    ringo__stack_pool pool;
    struct deep_job jobs[N];
    ringo__coro *cs[N];

    CHECK(ringo__stack_pool_init(&pool, 0, 8) == 0);
    for (unsigned i = 0; i < N; i++) {
        jobs[i] = (struct deep_job){100 + 7 * i, 32 + 40 * i, 0xfeed + i, 0};
        CHECK(ringo__coro_create(&cs[i], &pool, 0, deep_fn, &jobs[i], "deep") == 0);
    }
    CHECK(run_round_robin(cs, N) == 0);
    for (unsigned i = 0; i < N; i++) {
        CHECK(jobs[i].result != 0);
        CHECK(jobs[i].result == deep(jobs[i].depth, jobs[i].seed, jobs[i].pad_len));
    }
    CHECK(ringo__stack_pool_live(&pool) == 0);
    ringo__stack_pool_destroy(&pool);
    return 0;
}

/* ---- callee-saved registers, checked from assembly ---- */

/*
 * int coro_test_regs_call(uint64_t seed, void (*fn)(void *), void *arg):
 * loads every callee-saved register with seed + k, calls fn(arg), and
 * returns 0 if all of them (and the frame pointer) came back intact.
 */
int coro_test_regs_call(uint64_t seed, void (*fn)(void *), void *arg);

#if defined(__x86_64__)
__asm__(".text\n"
        ".p2align 4\n"
        ".globl coro_test_regs_call\n"
        ".hidden coro_test_regs_call\n"
        ".type coro_test_regs_call, @function\n"
        "coro_test_regs_call:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $24, %rsp\n"
        "  movq %rdi, (%rsp)\n"
        "  movq %rsi, %rax\n"
        "  movq %rdx, %rdi\n"
        "  movq (%rsp), %rbx\n"
        "  leaq 1(%rbx), %rbp\n"
        "  leaq 2(%rbx), %r12\n"
        "  leaq 3(%rbx), %r13\n"
        "  leaq 4(%rbx), %r14\n"
        "  leaq 5(%rbx), %r15\n"
        "  call *%rax\n"
        "  movq (%rsp), %rcx\n"
        "  movl $1, %eax\n"
        "  cmpq %rcx, %rbx\n"
        "  jne 1f\n"
        "  leaq 1(%rcx), %rdx\n"
        "  cmpq %rdx, %rbp\n"
        "  jne 1f\n"
        "  leaq 2(%rcx), %rdx\n"
        "  cmpq %rdx, %r12\n"
        "  jne 1f\n"
        "  leaq 3(%rcx), %rdx\n"
        "  cmpq %rdx, %r13\n"
        "  jne 1f\n"
        "  leaq 4(%rcx), %rdx\n"
        "  cmpq %rdx, %r14\n"
        "  jne 1f\n"
        "  leaq 5(%rcx), %rdx\n"
        "  cmpq %rdx, %r15\n"
        "  jne 1f\n"
        "  xorl %eax, %eax\n"
        "1:\n"
        "  addq $24, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size coro_test_regs_call, .-coro_test_regs_call\n");
#elif defined(__aarch64__)
#define SET_X(r, k) "  add " r ", x0, #" #k "\n"
#define CHECK_X(r, k) "  add x10, x9, #" #k "\n  cmp " r ", x10\n  b.ne 1f\n"
#define SET_D(r, k) "  add x10, x0, #" #k "\n  fmov " r ", x10\n"
#define CHECK_D(r, k) "  fmov x11, " r "\n  add x10, x9, #" #k "\n  cmp x11, x10\n  b.ne 1f\n"
__asm__(".text\n"
        ".p2align 4\n"
        ".globl coro_test_regs_call\n"
        ".hidden coro_test_regs_call\n"
        ".type coro_test_regs_call, %function\n"
        "coro_test_regs_call:\n"
        "  stp x29, x30, [sp, #-176]!\n"
        "  mov x29, sp\n"
        "  stp x19, x20, [sp, #16]\n"
        "  stp x21, x22, [sp, #32]\n"
        "  stp x23, x24, [sp, #48]\n"
        "  stp x25, x26, [sp, #64]\n"
        "  stp x27, x28, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n"
        "  stp d10, d11, [sp, #112]\n"
        "  stp d12, d13, [sp, #128]\n"
        "  stp d14, d15, [sp, #144]\n"
        "  str x0, [sp, #160]\n"
        "  mov x9, x1\n"
        "  mov x19, x0\n" SET_X("x20", 1) SET_X("x21", 2) SET_X("x22", 3) SET_X("x23", 4)
            SET_X("x24", 5) SET_X("x25", 6) SET_X("x26", 7) SET_X("x27", 8) SET_X("x28", 9)
                SET_D("d8", 10) SET_D("d9", 11) SET_D("d10", 12) SET_D("d11", 13) SET_D("d12", 14)
                    SET_D("d13", 15) SET_D("d14", 16)
                        SET_D("d15",
                              17) "  mov x0, x2\n"
                                  "  blr x9\n"
                                  "  ldr x9, [sp, #160]\n"
                                  "  mov w0, #1\n"
                                  "  cmp x19, x9\n"
                                  "  b.ne 1f\n" CHECK_X("x20", 1) CHECK_X("x21", 2)
                                      CHECK_X("x22", 3) CHECK_X("x23", 4) CHECK_X("x24", 5)
                                          CHECK_X("x25", 6) CHECK_X("x26", 7) CHECK_X("x27", 8)
                                              CHECK_X("x28", 9) CHECK_D("d8", 10) CHECK_D("d9", 11)
                                                  CHECK_D("d10", 12) CHECK_D("d11", 13)
                                                      CHECK_D("d12", 14) CHECK_D("d13",
                                                                                 15) CHECK_D("d14",
                                                                                             16)
                                                          CHECK_D("d15",
                                                                  17) "  mov x10, sp\n"
                                                                      "  cmp x29, x10\n"
                                                                      "  b.ne 1f\n"
                                                                      "  mov w0, #0\n"
                                                                      "1:\n"
                                                                      "  ldp x19, x20, [sp, #16]\n"
                                                                      "  ldp x21, x22, [sp, #32]\n"
                                                                      "  ldp x23, x24, [sp, #48]\n"
                                                                      "  ldp x25, x26, [sp, #64]\n"
                                                                      "  ldp x27, x28, [sp, #80]\n"
                                                                      "  ldp d8, d9, [sp, #96]\n"
                                                                      "  ldp d10, d11, [sp, #112]\n"
                                                                      "  ldp d12, d13, [sp, #128]\n"
                                                                      "  ldp d14, d15, [sp, #144]\n"
                                                                      "  ldp x29, x30, [sp], #176\n"
                                                                      "  ret\n"
                                                                      ".size coro_test_regs_call, "
                                                                      ".-coro_test_regs_call\n");
#else
#error "coro_test: no register check for this architecture"
#endif

struct regs_job {
    uint64_t seed;
    int rounds;
    int bad;
};

static void yield_thunk(void *arg)
{
    (void)arg;
    ringo__coro_yield();
}

static void regs_fn(void *arg)
{
    struct regs_job *j = arg;

    for (int r = 0; r < j->rounds; r++)
        j->bad += coro_test_regs_call(j->seed + (uint64_t)r * 0x100, yield_thunk, NULL);
}

struct resume_call {
    ringo__coro *c;
    int ret;
};

static void resume_thunk(void *arg)
{
    struct resume_call *rc = arg;

    rc->ret = ringo__coro_resume(rc->c);
}

static int test_regs(void)
{
    enum { N = 8, ROUNDS = 50 };
    ringo__stack_pool pool;
    struct regs_job jobs[N];
    struct resume_call calls[N];
    int left = N;

    CHECK(ringo__stack_pool_init(&pool, 0, 8) == 0);
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct regs_job){0x5eed000000000000u + (uint64_t)i * 0x100000, ROUNDS, 0};
        CHECK(ringo__coro_create(&calls[i].c, &pool, 0, regs_fn, &jobs[i], "regs") == 0);
    }
    for (uint64_t round = 0; left; round++) {
        for (int i = 0; i < N; i++) {
            if (!calls[i].c)
                continue;
            CHECK(coro_test_regs_call(0xa11ce00000000000u + round * 0x100, resume_thunk,
                                      &calls[i]) == 0);
            CHECK(calls[i].ret == 0 || calls[i].ret == 1);
            if (calls[i].ret == 1) {
                CHECK(jobs[i].bad == 0);
                ringo__coro_free(calls[i].c);
                calls[i].c = NULL;
                left--;
            }
        }
    }
    CHECK(ringo__stack_pool_live(&pool) == 0);
    ringo__stack_pool_destroy(&pool);
    return 0;
}

/* ---- FP control state ---- */

/*
 * fesetround()/fegetround() live in libm, which the test is not linked
 * with; <fenv.h> still gives the modes, whose values are the hardware's
 * encodings (x86-64: x87 control word bits 10-11, which MXCSR holds at bits
 * 13-14; aarch64: FPCR bits 22-23). Setting both x87 and SSE on x86-64 checks
 * both control words.
 */
#if defined(__x86_64__)
static int test_setround(int mode)
{
    uint32_t mx;
    uint16_t cw;

    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    mx = (mx & ~0x6000u) | ((uint32_t)mode << 3);
    __asm__ volatile("ldmxcsr %0" : : "m"(mx));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    cw = (uint16_t)((cw & ~0x0c00u) | (uint32_t)mode);
    __asm__ volatile("fldcw %0" : : "m"(cw));
    return 0;
}

/* The mode, or -1 when x87 and SSE disagree. */
static int test_getround(void)
{
    uint32_t mx;
    uint16_t cw;

    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    if (((mx & 0x6000u) >> 3) != (cw & 0x0c00u))
        return -1;
    return (int)(cw & 0x0c00u);
}
#elif defined(__aarch64__)
static int test_setround(int mode)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = (fpcr & ~(uint64_t)0xc00000) | (uint64_t)mode;
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
    return 0;
}

static int test_getround(void)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (int)(fpcr & 0xc00000);
}
#endif

struct fp_job {
    int mode;
    int bad;
};

/* volatile: computed at run time under the current rounding mode. */
static double third(void)
{
    volatile double one = 1.0, three = 3.0;

    return one / three;
}

static long double third_x87(void)
{
    volatile long double one = 1.0L, three = 3.0L;

    return one / three;
}

static void fp_fn(void *arg)
{
    struct fp_job *j = arg;
    double d;
    long double ld;

    if (test_setround(j->mode) != 0)
        j->bad++;
    d = third();
    ld = third_x87();
    for (int r = 0; r < 20; r++) {
        ringo__coro_yield();
        if (test_getround() != j->mode || third() != d || third_x87() != ld)
            j->bad++;
    }
}

static int test_fp(void)
{
    static const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO, FE_TONEAREST};
    enum { N = 4 };
    ringo__stack_pool pool;
    struct fp_job jobs[N];
    ringo__coro *cs[N];
    double near = third();
    int left = N;

    CHECK(test_getround() == FE_TONEAREST);
    CHECK(ringo__stack_pool_init(&pool, 0, 8) == 0);
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct fp_job){modes[i], 0};
        CHECK(ringo__coro_create(&cs[i], &pool, 0, fp_fn, &jobs[i], "fp") == 0);
    }
    while (left) {
        for (int i = 0; i < N; i++) {
            int ret;

            if (!cs[i])
                continue;
            ret = ringo__coro_resume(cs[i]);
            CHECK(test_getround() == FE_TONEAREST && third() == near);
            if (ret == 1) {
                CHECK(jobs[i].bad == 0);
                ringo__coro_free(cs[i]);
                cs[i] = NULL;
                left--;
            }
        }
    }
    CHECK(ringo__stack_pool_live(&pool) == 0);
    ringo__stack_pool_destroy(&pool);
    return 0;
}

/* A coroutine starts with its creator's FP control state, as a callee would. */
static void fp_inherit_fn(void *arg) { *(int *)arg = test_getround(); }

static int test_fp_inherit(void)
{
    ringo__stack_pool pool;
    ringo__coro *c;
    int seen = -1;

    CHECK(ringo__stack_pool_init(&pool, 0, 1) == 0);
    CHECK(test_setround(FE_DOWNWARD) == 0);
    CHECK(ringo__coro_create(&c, &pool, 0, fp_inherit_fn, &seen, "fp") == 0);
    CHECK(test_setround(FE_TONEAREST) == 0);
    CHECK(ringo__coro_resume(c) == 1);
    CHECK(seen == FE_DOWNWARD);
    CHECK(test_getround() == FE_TONEAREST);
    ringo__coro_free(c);
    ringo__stack_pool_destroy(&pool);
    return 0;
}

/* ---- stack reuse ---- */

static int run_deep_once(ringo__stack_pool *pool, size_t size, unsigned pad_len, ringo__coro **seen)
{
    struct deep_job j = {60, pad_len, pad_len, 0};
    ringo__coro *c;

    CHECK(ringo__coro_create(&c, pool, size, deep_fn, &j, "reuse") == 0);
    *seen = c;
    while (ringo__coro_resume(c) == 0)
        ;
    CHECK(j.result == deep(j.depth, j.seed, j.pad_len));
    ringo__coro_free(c);
    return 0;
}

static int test_reuse(void)
{
    ringo__stack_pool pool;
    ringo__coro *a, *b, *cs[4];
    size_t def;

    CHECK(ringo__stack_pool_init(&pool, 0, 2) == 0);
    def = ringo__stack_pool_round(&pool, 0);
    CHECK(def >= RINGO__STACK_DEFAULT * RINGO__STACK_SANITIZER_SCALE);
    CHECK(def % (size_t)getpagesize() == 0);

    /* Never started, then freed: the stack goes back to the cache. */
    CHECK(ringo__coro_create(&a, &pool, 0, deep_fn, NULL, "never") == 0);
    CHECK(ringo__coro_stack_size(a) == def);
    ringo__coro_free(a);
    CHECK(ringo__stack_pool_live(&pool) == 0 && ringo__stack_pool_cached(&pool) == 1);

    /* Same stack (the header sits at its top) reused with different frame
     * layouts each time: under ASan stale redzones would be reported. */
    for (unsigned pad = 16; pad <= 256; pad += 48) {
        CHECK(run_deep_once(&pool, 0, pad, &b) == 0);
        CHECK(b == a);
        CHECK(ringo__stack_pool_live(&pool) == 0 && ringo__stack_pool_cached(&pool) == 1);
    }

    /* The cache is bounded: 4 returned, 2 kept, 2 unmapped. */
    for (int i = 0; i < 4; i++)
        CHECK(ringo__coro_create(&cs[i], &pool, 0, deep_fn, NULL, "bound") == 0);
    CHECK(cs[0] == a && ringo__stack_pool_live(&pool) == 4);
    for (int i = 0; i < 4; i++)
        ringo__coro_free(cs[i]);
    CHECK(ringo__stack_pool_live(&pool) == 0 && ringo__stack_pool_cached(&pool) == 2);

    /* Another size is another class: it does not take a default-size stack. */
    CHECK(run_deep_once(&pool, 4 * RINGO__STACK_DEFAULT, 64, &b) == 0);
    CHECK(b != cs[0] && b != cs[1]); /* cs[2], cs[3] were unmapped: may recur */
    CHECK(ringo__stack_pool_cached(&pool) == 3);
    CHECK(run_deep_once(&pool, 4 * RINGO__STACK_DEFAULT, 100, &a) == 0);
    CHECK(a == b);
    for (int i = 0; i < 2; i++)
        CHECK(ringo__coro_create(&cs[2 + i], &pool, 0, deep_fn, NULL, "lifo") == 0);
    CHECK(cs[2] == cs[1] && cs[3] == cs[0]);
    CHECK(ringo__stack_pool_cached(&pool) == 1);
    ringo__coro_free(cs[2]);
    ringo__coro_free(cs[3]);
    ringo__stack_pool_destroy(&pool);
    CHECK(ringo__stack_pool_cached(&pool) == 0);

    /* max_cached 0: nothing kept. */
    CHECK(ringo__stack_pool_init(&pool, 20000, 0) == 0);
    CHECK(ringo__stack_pool_round(&pool, 0) >= 20000 * RINGO__STACK_SANITIZER_SCALE);
    CHECK(run_deep_once(&pool, 0, 32, &a) == 0);
    CHECK(ringo__stack_pool_live(&pool) == 0 && ringo__stack_pool_cached(&pool) == 0);
    ringo__stack_pool_destroy(&pool);
    return 0;
}

/* ---- misuse ---- */

struct nest_job {
    ringo__coro *other;
    int ret;
};

static void nest_fn(void *arg)
{
    struct nest_job *j = arg;

    j->ret = ringo__coro_resume(j->other);
}

static void nop_fn(void *arg) { (void)arg; }

static int test_misuse(void)
{
    ringo__stack_pool pool;
    struct nest_job j = {NULL, 0};
    ringo__coro *c, *d = NULL;

    CHECK(ringo__stack_pool_init(&pool, RINGO__STACK_MAX + 1, 1) == -EINVAL);
    CHECK(ringo__stack_pool_init(&pool, 0, 1) == 0);
    CHECK(ringo__coro_create(&d, &pool, 0, NULL, NULL, "null") == -EINVAL);
    CHECK(d == NULL);
    CHECK(ringo__coro_create(&d, &pool, RINGO__STACK_MAX + 1, nop_fn, NULL, "big") == -EINVAL);
    CHECK(d == NULL && ringo__stack_pool_live(&pool) == 0);

    ringo__coro_yield(); /* outside a coroutine: nothing happens */
    CHECK(ringo__coro_current() == NULL);
    ringo__coro_free(NULL);

    CHECK(ringo__coro_create(&j.other, &pool, 0, nop_fn, NULL, "inner") == 0);
    CHECK(ringo__coro_create(&c, &pool, 0, nest_fn, &j, NULL) == 0);
    CHECK(strcmp(ringo__coro_label(c), "?") == 0);
    CHECK(ringo__coro_resume(c) == 1);
    CHECK(j.ret == -EINVAL);
    CHECK(!ringo__coro_finished(j.other));
    CHECK(ringo__coro_resume(j.other) == 1);
    ringo__coro_free(c);
    ringo__coro_free(j.other);
    CHECK(ringo__stack_pool_live(&pool) == 0);
    ringo__stack_pool_destroy(&pool);
    return 0;
}

/* ---- one pool per thread ---- */

struct thread_job {
    uint32_t base;
    int result;
};

static void *thread_main(void *arg)
{
    enum { N = 200 };
    struct thread_job *t = arg;
    struct worker ws[N];
    ringo__coro *cs[N];
    ringo__stack_pool pool;

    t->result = 1;
    if (ringo__coro_thread_init() != 0 || ringo__coro_thread_init() != 0)
        return NULL;
    if (ringo__stack_pool_init(&pool, 16 * 1024, 16) != 0)
        return NULL;
    for (uint32_t i = 0; i < N; i++) {
        ws[i] = (struct worker){t->base + i, 1 + i % 13, 0, 0};
        if (ringo__coro_create(&cs[i], &pool, 0, worker_fn, &ws[i], "thread") != 0)
            return NULL;
        ringo__coro_set_data(cs[i], &ws[i]);
    }
    if (run_round_robin(cs, N) != 0)
        return NULL;
    for (uint32_t i = 0; i < N; i++)
        if (ws[i].bad || ws[i].done != ws[i].rounds)
            return NULL;
    if (ringo__stack_pool_live(&pool) != 0)
        return NULL;
    ringo__stack_pool_destroy(&pool);
    ringo__coro_thread_exit();
    t->result = 0;
    return NULL;
}

static int test_threads(void)
{
    struct thread_job jobs[2] = {{1000000, 1}, {2000000, 1}};
    pthread_t th[2];

    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, thread_main, &jobs[i]) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    CHECK(jobs[0].result == 0 && jobs[1].result == 0);
    return 0;
}

/* ---- a finished coroutine run again on the same stack (ringo__coro_reuse) ---- */

static int test_rerun(void)
{
    ringo__stack_pool pool;
    struct counter a = {0, 3, 0}, b = {0, 5, 0};
    ringo__coro *c;

    CHECK(ringo__stack_pool_init(&pool, 0, 4) == 0);
    CHECK(ringo__coro_create(&c, &pool, 0, count_fn, &a, "first") == 0);
    ringo__coro_set_data(c, &a);
    CHECK(ringo__coro_resume(c) == 0);
    /* Suspended: its frames are live, it cannot start over. */
    CHECK(ringo__coro_reuse(c, count_fn, &b, "second") == -EINVAL);
    CHECK(strcmp(ringo__coro_label(c), "first") == 0);
    while (ringo__coro_resume(c) == 0)
        ;
    CHECK(a.n == a.limit && a.bad == 0);
    CHECK(ringo__coro_reuse(c, NULL, &b, "second") == -EINVAL);
    for (int round = 0; round < 3; round++) {
        b.n = 0;
        CHECK(ringo__coro_reuse(c, count_fn, &b, "second") == 0);
        CHECK(!ringo__coro_finished(c));
        CHECK(ringo__coro_data(c) == NULL);
        CHECK(strcmp(ringo__coro_label(c), "second") == 0);
        ringo__coro_set_data(c, &b);
        int steps = 0;
        while (ringo__coro_resume(c) == 0)
            steps++;
        CHECK(steps == b.limit && b.n == b.limit && b.bad == 0);
        CHECK(ringo__stack_pool_live(&pool) == 1); /* the same stack throughout */
    }
    ringo__coro_free(c);
    CHECK(ringo__stack_pool_live(&pool) == 0);
    ringo__stack_pool_destroy(&pool);
    return 0;
}

int main(void)
{
    static const struct {
        const char *name;
        int (*fn)(void);
    } tests[] = {
        {"round_trips", test_round_trips},
        {"many", test_many},
        {"deep", test_deep},
        {"regs", test_regs},
        {"fp", test_fp},
        {"fp_inherit", test_fp_inherit},
        {"reuse", test_reuse},
        {"rerun", test_rerun},
        {"misuse", test_misuse},
        {"threads", test_threads},
    };
    int failed = 0;

    if (ringo__coro_thread_init() != 0) {
        fprintf(stderr, "ringo__coro_thread_init failed\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        int r = tests[i].fn();

        printf("%s %s\n", r ? "FAIL" : "ok  ", tests[i].name);
        failed |= r;
    }
    ringo__coro_thread_exit();
    return failed ? 1 : 0;
}
