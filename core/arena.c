/*
 * core/arena.c - per-request bump allocator, see arena.h.
 */
#include "core/arena.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

#define ARENA_ALIGN 16
#define ARENA_MIN_CHUNK 4096

struct ringo__arena_chunk {
    ringo__arena_chunk *next;
    size_t size;
    _Alignas(ARENA_ALIGN) char data[];
};

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); }

void ringo__arena_init(ringo__arena *a, void *buf, size_t len)
{
    char *p = buf;
    char *aligned = p ? (char *)align_up((uintptr_t)p) : NULL;

    a->chunks = NULL;
    a->total = a->heap = a->limit = 0;
    a->over = false;
    if (!p || aligned >= p + len) {
        a->cur = a->end = NULL;
        return;
    }
    a->cur = aligned;
    a->end = p + len;
}

static int add_chunk(ringo__arena *a, size_t need)
{
    size_t size = ARENA_MIN_CHUNK;
    ringo__arena_chunk *c;

    /* Double with the arena's size so a large body costs O(log n) chunks. */
    while (size < need || size < a->total) {
        if (size > SIZE_MAX / 4)
            return -1; /* no allocation this large can succeed; doubling would wrap to 0 */
        size *= 2;
    }
    /* The bound counts what the heap holds: a chunk past it is not taken. */
    if (a->limit && a->heap + sizeof(*c) + size > a->limit) {
        size = need > ARENA_MIN_CHUNK ? need : ARENA_MIN_CHUNK;
        if (a->heap + sizeof(*c) + size > a->limit) {
            a->over = true;
            return -1;
        }
    }
    c = ringo__malloc(sizeof(*c) + size);
    if (!c)
        return -1;
    c->next = a->chunks;
    c->size = size;
    a->heap += sizeof(*c) + size;
    a->chunks = c;
    a->cur = c->data;
    a->end = c->data + size;
    return 0;
}

void *ringo__arena_alloc_chunk(ringo__arena *a, size_t need)
{
    void *p;

    if (add_chunk(a, need) < 0)
        return NULL;
    p = a->cur;
    a->cur += need;
    a->total += need;
    return p;
}

char *ringo__arena_dup(ringo__arena *a, const void *p, size_t n)
{
    char *d = n < SIZE_MAX ? ringo__arena_alloc(a, n + 1) : NULL;

    if (!d)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

void *ringo__arena_grow(ringo__arena *a, void *old, size_t oldn, size_t newn)
{
    size_t oldsz = align_up(oldn ? oldn : 1);
    size_t newsz = align_up(newn ? newn : 1);
    void *p;

    if (newn <= oldn)
        return old;
    if (newsz < newn)
        return NULL; /* rounding up wrapped: no block can be that large */
    /* The last block of the current chunk can grow where it stands. */
    if (old && (char *)old + oldsz == a->cur && (size_t)(a->end - (char *)old) >= newsz) {
        a->cur = (char *)old + newsz;
        a->total += newsz - oldsz;
        return old;
    }
    p = ringo__arena_alloc(a, newn);
    if (p && old && oldn)
        memcpy(p, old, oldn);
    return p;
}

void ringo__arena_free(ringo__arena *a)
{
    ringo__arena_chunk *c = a->chunks;

    while (c) {
        ringo__arena_chunk *next = c->next;
        ringo__free(c);
        c = next;
    }
    a->chunks = NULL;
    a->cur = a->end = NULL;
    a->total = a->heap = 0;
}
