/*
 * core/stack.c - guarded coroutine stacks and the per-ring pool, see stack.h.
 */
#include "core/stack.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STACK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define STACK_ASAN 1
#endif

#if defined(STACK_ASAN)
#include <sanitizer/asan_interface.h>
/*
 * A finished coroutine leaves its frames' redzones poisoned in the shadow
 * memory, and ASan does not clear shadow on munmap. Both a reused stack
 * and a new mapping at a recycled address must start clean.
 */
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

static size_t page_size(void) { return (size_t)getpagesize(); }

static size_t round_size(size_t size)
{
    size_t pg = page_size();

    if (size > RINGO__STACK_MAX / RINGO__STACK_SANITIZER_SCALE)
        return 0;
    size *= RINGO__STACK_SANITIZER_SCALE;
    if (size < RINGO__STACK_MIN)
        size = RINGO__STACK_MIN;
    return (size + pg - 1) & ~(pg - 1);
}

/*
 * Every stack costs two mappings (guard page, stack) of the process's
 * vm.max_map_count (65530 by default). Left unbounded, suspended coroutines
 * would use them all and then any mmap or mprotect elsewhere in the process
 * (malloc, thread stacks, io_uring) would fail. Stacks may use three
 * quarters of the count; past that a new coroutine fails with -ENOMEM.
 */
static _Atomic size_t mapped;
static _Atomic size_t map_limit; /* the limit + 1; 0: not read from /proc yet */
static _Atomic uint64_t last_report;

static size_t default_limit(void)
{
    unsigned long n = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");

    if (f) {
        if (fscanf(f, "%lu", &n) != 1)
            n = 65530;
        fclose(f);
    }
    return (size_t)(n / 4 * 3 / 2);
}

size_t ringo__stack_limit(void)
{
    size_t n = atomic_load_explicit(&map_limit, memory_order_relaxed);

    if (n == 0) {
        n = default_limit() + 1; /* racing first readers compute the same value */
        atomic_store_explicit(&map_limit, n, memory_order_relaxed);
    }
    return n - 1;
}

void ringo__stack_set_limit(size_t n)
{
    atomic_store_explicit(&map_limit, n == SIZE_MAX ? 0 : n + 1, memory_order_relaxed);
}
size_t ringo__stack_mapped(void) { return atomic_load_explicit(&mapped, memory_order_relaxed); }

/* One line a minute at most: under sustained pressure every new coroutine fails. */
static void report(const char *why)
{
    uint64_t now = (uint64_t)time(NULL), last = atomic_load(&last_report);

    if ((last == 0 || now >= last + 60) && atomic_compare_exchange_strong(&last_report, &last, now))
        fprintf(stderr,
                "ringo: cannot map a coroutine stack (%s; %zu mapped, limit %zu from "
                "vm.max_map_count): new async work is refused with 503\n",
                why, ringo__stack_mapped(), ringo__stack_limit());
}

int ringo__stack_map(size_t size, ringo__stack *out)
{
    size_t guard = page_size();
    char *base;

    if (atomic_fetch_add_explicit(&mapped, 1, memory_order_relaxed) >= ringo__stack_limit()) {
        atomic_fetch_sub_explicit(&mapped, 1, memory_order_relaxed);
        report("limit reached");
        return -ENOMEM;
    }
    /* MAP_NORESERVE: a stack is mostly untouched; charge only what is used. */
    base = mmap(NULL, guard + size, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base != MAP_FAILED && mprotect(base + guard, size, PROT_READ | PROT_WRITE) != 0) {
        munmap(base, guard + size);
        base = MAP_FAILED;
    }
    if (base == MAP_FAILED) {
        atomic_fetch_sub_explicit(&mapped, 1, memory_order_relaxed);
        report(strerror(errno));
        return -ENOMEM;
    }
    out->lo = base + guard;
    out->size = size;
    unpoison(out->lo, size);
    return 0;
}

void ringo__stack_unmap(ringo__stack s)
{
    size_t guard = page_size();

    unpoison(s.lo, s.size);
    munmap(s.lo - guard, guard + s.size);
    atomic_fetch_sub_explicit(&mapped, 1, memory_order_relaxed);
}

int ringo__stack_pool_init(ringo__stack_pool *p, size_t default_size, unsigned max_cached)
{
    memset(p, 0, sizeof(*p));
    p->default_size = round_size(default_size ? default_size : RINGO__STACK_DEFAULT);
    if (p->default_size == 0)
        return -EINVAL;
    p->max_cached = max_cached;
    return 0;
}

static char **next_link(char *lo, size_t size)
{
    return (char **)(void *)(lo + size - sizeof(char *));
}

void ringo__stack_pool_destroy(ringo__stack_pool *p)
{
    for (unsigned i = 0; i < RINGO__STACK_CLASSES; i++) {
        ringo__stack_class *k = &p->classes[i];

        while (k->free) {
            ringo__stack s = {k->free, k->size};

            k->free = *next_link(s.lo, s.size);
            ringo__stack_unmap(s);
        }
        k->count = 0;
        k->size = 0;
    }
    p->cached = 0;
}

size_t ringo__stack_pool_live(const ringo__stack_pool *p) { return p->live; }

size_t ringo__stack_pool_cached(const ringo__stack_pool *p) { return p->cached; }

size_t ringo__stack_pool_round(const ringo__stack_pool *p, size_t size)
{
    return size ? round_size(size) : p->default_size;
}

static ringo__stack_class *find_class(ringo__stack_pool *p, size_t size)
{
    for (unsigned i = 0; i < RINGO__STACK_CLASSES; i++)
        if (p->classes[i].size == size)
            return &p->classes[i];
    return NULL;
}

int ringo__stack_get(ringo__stack_pool *p, size_t size, ringo__stack *out)
{
    ringo__stack_class *k;
    int ret;

    size = ringo__stack_pool_round(p, size);
    if (size == 0)
        return -EINVAL;
    k = find_class(p, size);
    if (k && k->free) {
        out->lo = k->free;
        out->size = size;
        k->free = *next_link(out->lo, size);
        if (--k->count == 0)
            k->size = 0; /* free the slot for another size */
        p->cached--;
        p->live++;
        return 0;
    }
    ret = ringo__stack_map(size, out);
    if (ret == 0)
        p->live++;
    return ret;
}

/* The class caching `size`, claiming an empty slot if there is none yet. */
static ringo__stack_class *class_for_put(ringo__stack_pool *p, size_t size)
{
    ringo__stack_class *k = find_class(p, size);

    if (!k && (k = find_class(p, 0)) != NULL)
        k->size = size;
    return k;
}

void ringo__stack_put(ringo__stack_pool *p, ringo__stack s)
{
    ringo__stack_class *k;

    p->live--;
    k = p->max_cached ? class_for_put(p, s.size) : NULL;
    if (!k || k->count >= p->max_cached) {
        ringo__stack_unmap(s);
        return;
    }
    unpoison(s.lo, s.size);
    *next_link(s.lo, s.size) = k->free;
    k->free = s.lo;
    k->count++;
    p->cached++;
}
