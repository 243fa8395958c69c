/*
 * core/coro.h - stackful coroutines for async handlers, one ring thread each.
 *
 * A coroutine runs fn(arg) on its own guarded stack (core/stack.h). The ring
 * thread resumes it; it runs until it yields or fn returns, and control comes
 * back to the resume call. Switching is a hand-written register swap
 * (core/coro_switch_<arch>.S): callee-saved registers, the stack pointer and
 * the FP control state (x86-64: MXCSR and the x87 control word; aarch64:
 * FPCR), so a rounding mode set inside a coroutine stays with it. No
 * ucontext, no signal mask: a switch makes no system call.
 *
 * Threads. Everything here is per thread: the running coroutine is
 * thread-local, and a coroutine must only ever be resumed by the thread that
 * created it (it never migrates; its code may hold TLS addresses across a
 * yield). Its stack pool belongs to that same thread.
 *
 * Nesting. Only the thread's main context resumes coroutines; a coroutine
 * cannot resume another one. A yield always returns to the resumer.
 *
 * Memory. The coroutine header lives at the top of its own stack, so with a
 * cached stack creating a coroutine allocates nothing. The stack goes back to
 * the pool in ringo__coro_free().
 *
 * Overflow. ringo__coro_thread_init() gives the thread an alternate signal
 * stack and the process a SIGSEGV/SIGBUS handler; a fault in the running
 * coroutine's guard page then prints
 *   ringo: stack overflow in coroutine '<label>' (stack N bytes); raise the
 *   stack size for this route
 * and the process dies of the signal. Other faults go to whatever handler was
 * installed before (the sanitizers' reports keep working) or the default.
 *
 * Sanitizers: ASan and TSan fiber annotations and valgrind stack registration
 * (RINGO_VALGRIND) are built in, so those builds understand the switches.
 */
#ifndef RINGO_CORE_CORO_H
#define RINGO_CORE_CORO_H

#include <stddef.h>

#include "core/stack.h"

typedef struct ringo__coro ringo__coro;

typedef void (*ringo__coro_fn)(void *arg);

/*
 * Prepares the calling thread for coroutines: an alternate signal stack for
 * this thread (kept if the thread already has a big enough one, e.g. from a
 * sanitizer runtime) and, once per process, the overflow handler for SIGSEGV
 * and SIGBUS. Idempotent. Returns 0, -ENOMEM, or -errno from sigaltstack or
 * sigaction. Coroutines work without it; only the overflow message needs it.
 */
int ringo__coro_thread_init(void);

/*
 * Frees the alternate signal stack ringo__coro_thread_init() installed on
 * this thread (restoring the thread's previous one). The process-wide handler
 * stays. Call before the thread exits; a no-op if init installed nothing.
 */
void ringo__coro_thread_exit(void);

/*
 * Creates a coroutine that will run fn(arg) on a stack of stack_size bytes
 * from p (0 = p's default; see stack.h for rounding and sanitizer scaling).
 * It does not start: the first ringo__coro_resume() enters fn.
 *
 * label names the coroutine in the overflow message (the route pattern); it
 * is borrowed, not copied, and must outlive the coroutine. NULL reads "?".
 *
 * On success *out owns the stack until ringo__coro_free(). Returns 0,
 * -EINVAL (fn NULL, size too large) or -ENOMEM; on failure *out is untouched.
 */
int ringo__coro_create(ringo__coro **out, ringo__stack_pool *p, size_t stack_size,
                       ringo__coro_fn fn, void *arg, const char *label);

/*
 * Makes the finished coroutine c ready to run fn(arg) from the start, on the
 * same stack, as if ringo__coro_create() had just made it with label: the
 * stack does not go back to its pool and out again. Returns 0, or -EINVAL
 * when c has not finished (a suspended coroutine's frames are still live) or
 * fn is NULL; on failure c is untouched.
 */
int ringo__coro_reuse(ringo__coro *c, ringo__coro_fn fn, void *arg, const char *label);

/*
 * Switches from the thread's main context into c until c yields (returns 0)
 * or fn returns (returns 1: c is finished and may only be freed). Returns
 * -EINVAL when called inside a coroutine or on a finished coroutine.
 */
int ringo__coro_resume(ringo__coro *c);

/*
 * Suspends the running coroutine and returns to its resumer; returns when it
 * is resumed again. Outside a coroutine it does nothing.
 */
void ringo__coro_yield(void);

/* The coroutine running on this thread, NULL in the main context. */
ringo__coro *ringo__coro_current(void);

/*
 * Destroys c and returns its stack to its pool. c must be finished or never
 * started; freeing a suspended coroutine would abandon its frames (and
 * whatever they own), so that is a caller bug (asserted). NULL is a no-op.
 */
void ringo__coro_free(ringo__coro *c);

/* A slot for the owner (the ring attaches the request). NULL initially. */
void *ringo__coro_data(const ringo__coro *c);
void ringo__coro_set_data(ringo__coro *c, void *data);

/* 1 once fn has returned, else 0. */
int ringo__coro_finished(const ringo__coro *c);

/* The label given at creation ("?" if it was NULL). */
const char *ringo__coro_label(const ringo__coro *c);

/* Usable bytes of c's stack (after rounding and sanitizer scaling). */
size_t ringo__coro_stack_size(const ringo__coro *c);

#endif
