/*
 * core/stack.h - coroutine stacks: mmap'd, guard page below, pooled per ring.
 *
 * A stack is one private anonymous mapping: a PROT_NONE guard page at the
 * low end, then `size` read-write bytes. Stacks grow down, so running off
 * the end faults in the guard page instead of silently overwriting whatever
 * sits below (core/coro.c turns that fault into a message naming the route).
 * A frame bigger than the guard page can jump over it; build with
 * -fstack-clash-protection to make such frames probe every page.
 *
 * Sizes. The default is RINGO__STACK_DEFAULT (64 KiB). Sanitizers inflate
 * frames (redzones, instrumentation), so in sanitizer builds every size,
 * default or explicit, is multiplied by RINGO__STACK_SANITIZER_SCALE (4): a
 * route tuned for the production build keeps working under ASan/TSan.
 * Sizes are rounded up to whole pages and to at least RINGO__STACK_MIN
 * (a signal delivered without SA_ONSTACK puts a few KiB of frame on the
 * running stack, so tinier stacks are not safe).
 *
 * Pool. One pool per ring thread; it is deliberately not thread-safe. A
 * returned stack is cached for reuse (its touched pages stay resident, so
 * a reused stack costs no page faults), at most max_cached per size class;
 * stacks beyond that are munmap'd. A size class is an exact rounded size:
 * stacks of different sizes are never cached together. A pool caches at most
 * RINGO__STACK_CLASSES different sizes at a time (a stack of yet another
 * size is unmapped when returned; a class whose cache empties frees its slot).
 *
 * Each stack costs two VMAs (guard + usable part): vm.max_map_count (65530
 * by default) bounds a process to roughly 32000 live stacks.
 */
#ifndef RINGO_CORE_STACK_H
#define RINGO_CORE_STACK_H

#include <stddef.h>

#define RINGO__STACK_DEFAULT ((size_t)64 * 1024)
#define RINGO__STACK_MIN ((size_t)16 * 1024)
#define RINGO__STACK_MAX ((size_t)1 << 30)
#define RINGO__STACK_CLASSES 8

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RINGO__STACK_SANITIZED 1
#endif
#endif
#if defined(RINGO_SANITIZED) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#undef RINGO__STACK_SANITIZED
#define RINGO__STACK_SANITIZED 1
#endif

#if defined(RINGO__STACK_SANITIZED)
#define RINGO__STACK_SANITIZER_SCALE 4
#else
#define RINGO__STACK_SANITIZER_SCALE 1
#endif

/* A stack handed out by the pool: usable bytes are [lo, lo + size). */
typedef struct ringo__stack {
    char *lo;
    size_t size;
} ringo__stack;

typedef struct ringo__stack_class {
    size_t size;    /* rounded usable size; 0 = slot unused */
    char *free;     /* cached stacks' lo, linked through each one's top word */
    unsigned count; /* cached stacks in this class */
} ringo__stack_class;

/* Embedded in its owner (the ring); fields are private to stack.c. */
typedef struct ringo__stack_pool {
    size_t default_size; /* rounded */
    unsigned max_cached; /* per size class */
    size_t live;         /* handed out and not yet returned */
    size_t cached;       /* idle in the cache, all classes */
    ringo__stack_class classes[RINGO__STACK_CLASSES];
} ringo__stack_pool;

/*
 * Initialises p. default_size 0 means RINGO__STACK_DEFAULT; max_cached 0
 * disables caching. Maps nothing yet. Returns 0, or -EINVAL when
 * default_size exceeds RINGO__STACK_MAX.
 */
int ringo__stack_pool_init(ringo__stack_pool *p, size_t default_size, unsigned max_cached);

/*
 * Unmaps every cached stack. Stacks still handed out stay mapped (they are
 * leaks; ringo__stack_pool_live() reports them first). p may be re-initialised.
 */
void ringo__stack_pool_destroy(ringo__stack_pool *p);

/* Stacks handed out and not yet returned: nonzero at shutdown is a leak. */
size_t ringo__stack_pool_live(const ringo__stack_pool *p);

/* Idle stacks held in the cache. */
size_t ringo__stack_pool_cached(const ringo__stack_pool *p);

/* The usable size a request for `size` bytes gets from p (0 = p's default). */
size_t ringo__stack_pool_round(const ringo__stack_pool *p, size_t size);

/*
 * Hands out a stack of at least `size` bytes (0 = the pool's default), from
 * the cache when one of that exact rounded size is idle, else freshly
 * mapped. The caller owns it until ringo__stack_put(). Its contents are
 * undefined (a reused stack holds its previous user's data). Returns 0, or
 * -EINVAL (size over RINGO__STACK_MAX), -ENOMEM (mmap/mprotect failed, or
 * the limit below reached).
 */
int ringo__stack_get(ringo__stack_pool *p, size_t size, ringo__stack *out);

/* Returns s (from ringo__stack_get on this same pool) to the cache or unmaps it. */
void ringo__stack_put(ringo__stack_pool *p, ringo__stack s);

/*
 * Process-wide cap on mapped stacks (two mappings each), three quarters of
 * vm.max_map_count by default: past it ringo__stack_map() fails with -ENOMEM
 * and logs one line a minute at most. set_limit is for tests (SIZE_MAX: the default again).
 */
size_t ringo__stack_limit(void);
void ringo__stack_set_limit(size_t n);
size_t ringo__stack_mapped(void);

/*
 * A standalone guarded mapping outside any pool (used for the alternate
 * signal stack). size must already be a multiple of the page size.
 * Returns 0 or -ENOMEM.
 */
int ringo__stack_map(size_t size, ringo__stack *out);
void ringo__stack_unmap(ringo__stack s);

#endif
