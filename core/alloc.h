/*
 * core/alloc.h - the one place ringo allocates from.
 *
 * Production executables link Debian's mimalloc, which replaces malloc
 * process-wide; the library itself never links it (so that sanitizer and
 * valgrind builds, which must see libc's allocator, can use the same
 * objects). Every allocation in ringo goes through these names so that a
 * different allocator is a one-file change.
 */
#ifndef RINGO_CORE_ALLOC_H
#define RINGO_CORE_ALLOC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void *ringo__malloc(size_t n) { return malloc(n); }
static inline void *ringo__calloc(size_t n, size_t sz) { return calloc(n, sz); }
static inline void *ringo__realloc(void *p, size_t n) { return realloc(p, n); }
static inline void ringo__free(void *p) { free(p); }

/*
 * Grows the byte buffer *buf of *cap bytes (doubling from first) to hold at
 * least need bytes; its contents stay. Returns 0 or -ENOMEM (nothing changed).
 */
static inline int ringo__grow(char **buf, size_t *cap, size_t need, size_t first)
{
    size_t n = *cap ? *cap : first;
    char *b;

    if (need <= *cap)
        return 0;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    b = ringo__realloc(*buf, n);
    if (!b)
        return -ENOMEM;
    *buf = b;
    *cap = n;
    return 0;
}

static inline char *ringo__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ringo__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/*
 * Memory the kernel filled through io_uring (provided buffers, recvs into
 * our memory) is invisible to valgrind's definedness tracking: mark it.
 */
#if defined(RINGO_VALGRIND)
#include <valgrind/memcheck.h>
#define ringo__mark_defined(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define ringo__mark_defined(p, n) ((void)(p), (void)(n))
#endif

#endif
