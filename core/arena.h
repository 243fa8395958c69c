/*
 * core/arena.h - per-request bump allocator.
 *
 * Everything a request needs (copied URL and headers, decoded parameters,
 * response headers and body) comes from its arena and is released at once
 * when the request ends. The first chunk may be caller-provided (embedded in
 * the request object) so a small request costs a single allocation.
 */
#ifndef RINGO_CORE_ARENA_H
#define RINGO_CORE_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include "ringo/common.h"

typedef struct ringo__arena_chunk ringo__arena_chunk;

typedef struct ringo__arena {
    char *cur;
    char *end;
    ringo__arena_chunk *chunks; /* heap chunks, newest first */
    size_t total;               /* bytes handed out, for limits and stats */
    size_t heap;                /* bytes of its heap chunks: what it holds beyond its first */
    size_t limit;               /* heap may not grow past this; 0: no bound */
    bool over;                  /* an allocation failed on the limit */
} ringo__arena;

/* Starts an arena on buf[0..len) (may be NULL/0). Never fails. */
void ringo__arena_init(ringo__arena *a, void *buf, size_t len);

/* n bytes, 16-byte aligned; NULL when out of memory. n == 0 returns a valid pointer. */
static inline void *ringo__arena_alloc(ringo__arena *a, size_t n);

/* ringo__arena_alloc() when the current chunk lacks room: need is n rounded up. */
void *ringo__arena_alloc_chunk(ringo__arena *a, size_t need);

/* Copies [p, p+n) and appends a NUL. NULL when out of memory. */
char *ringo__arena_dup(ringo__arena *a, const void *p, size_t n);

/*
 * Grows the most recent allocation `old` (of size oldn) to newn bytes,
 * in place when it is the last one in the current chunk, else by copying.
 * Returns the (possibly moved) block or NULL when out of memory.
 */
void *ringo__arena_grow(ringo__arena *a, void *old, size_t oldn, size_t newn);

/* Frees every heap chunk. The arena may be re-initialised afterwards. */
void ringo__arena_free(ringo__arena *a);

/* Inline bodies. */

/* A bump of the current chunk: a request makes several of these, most in its inline chunk. */
static inline void *ringo__arena_alloc(ringo__arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15; /* 16-byte aligned, as arena.c's align_up() */
    void *p;

    if (need < n)
        return NULL; /* overflow */
    if (!need)
        need = 16; /* n == 0: a valid pointer all the same */
    if (!a->cur || (size_t)(a->end - a->cur) < need)
        return ringo__arena_alloc_chunk(a, need);
    p = a->cur;
    a->cur += need;
    a->total += need;
    return p;
}

#endif
