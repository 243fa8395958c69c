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
void *ringo__arena_alloc(ringo__arena *a, size_t n);

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

#endif
