/*
 * Description: the per-request bump allocator (core/arena.c), included with
 * a counting malloc: the caller's inline buffer is used first (aligned
 * inside it, whatever its address); every block is 16-byte aligned, size 0
 * included; chunks grow with the arena so n bytes cost O(log n) mallocs;
 * the last block grows in place, any other by copying; dup appends a NUL;
 * sizes no chunk can hold fail at once (no doubling that wraps or loops)
 * and a malloc failure leaves the arena as it was; free returns every
 * chunk (the ASan build checks the bytes as well); a limit bounds what the
 * heap chunks hold (a chunk past it is never malloc'd, the arena says it
 * went over) while smaller allocations still fit.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static size_t mallocs, frees, biggest;
static bool refuse; /* malloc says no */

/* What a real malloc would refuse anyway; larger sizes are never passed on. */
#define MALLOC_LIMIT ((size_t)1 << 40)

static void *counting_malloc(size_t n)
{
    if (n > biggest)
        biggest = n;
    if (refuse || n > MALLOC_LIMIT)
        return NULL;
    mallocs++;
    return malloc(n);
}

static void counting_free(void *p)
{
    if (p)
        frees++;
    free(p);
}

#define malloc counting_malloc
#define free counting_free
#include "core/arena.c"
#undef malloc
#undef free

static bool aligned(const void *p) { return (uintptr_t)p % 16 == 0; }

static unsigned chunks(const ringo__arena *a)
{
    unsigned n = 0;

    for (const ringo__arena_chunk *c = a->chunks; c; c = c->next)
        n++;
    return n;
}

static void test_inline_first(void)
{
    _Alignas(16) char buf[256 + 16];
    ringo__arena a;
    char *p;

    /* Whatever the buffer's alignment, blocks are aligned and inside it. */
    for (size_t off = 0; off < 16; off++) {
        size_t before = mallocs;

        ringo__arena_init(&a, buf + off, 256);
        for (int i = 0; i < 7; i++) {
            p = ringo__arena_alloc(&a, 20);
            CHECK(p && aligned(p) && p >= buf + off && p + 20 <= buf + off + 256);
        }
        CHECK(chunks(&a) == 0 && mallocs == before);
        /* What no longer fits goes to the heap. */
        p = ringo__arena_alloc(&a, 100);
        CHECK(p && aligned(p) && (p < buf || p >= buf + sizeof(buf)) && chunks(&a) == 1);
        ringo__arena_free(&a);
        CHECK(mallocs == frees && a.total == 0 && !a.chunks);
    }
    /* A buffer too small to hold one aligned byte, or none: heap at once. */
    ringo__arena_init(&a, buf + 1, 14);
    CHECK(!a.cur);
    ringo__arena_init(&a, NULL, 0);
    CHECK(!a.cur && !a.chunks);
    CHECK(ringo__arena_alloc(&a, 1) && chunks(&a) == 1);
    ringo__arena_free(&a);
    printf("ok   the inline buffer first, at any alignment\n");
}

static void test_alignment(void)
{
    ringo__arena a;
    char *prev = NULL, *p;

    ringo__arena_init(&a, NULL, 0);
    for (size_t n = 0; n < 300; n++) {
        p = ringo__arena_alloc(&a, n);
        CHECKF(p && aligned(p), "size %zu", n);
        CHECK(p != prev); /* size 0 too is a block of its own */
        memset(p, 0xa5, n);
        prev = p;
    }
    CHECK(a.total >= 300 * 299 / 2);
    ringo__arena_free(&a);
    CHECK(mallocs == frees);
    printf("ok   16-byte alignment for every size, 0 included\n");
}

static void test_growth(void)
{
    ringo__arena a;
    size_t before = mallocs;
    char *p;

    /* 4 MiB in 1000-byte blocks: chunks double with the arena. */
    ringo__arena_init(&a, NULL, 0);
    for (int i = 0; i < 4096; i++) {
        p = ringo__arena_alloc(&a, 1000);
        CHECK(p);
        memset(p, i, 1000);
    }
    CHECKF(chunks(&a) <= 12, "%u chunks", chunks(&a));
    CHECK(mallocs - before == chunks(&a));
    /* One block larger than the doubling gets a chunk of its own size or more. */
    p = ringo__arena_alloc(&a, 20u << 20);
    CHECK(p && a.chunks->size >= 20u << 20);
    memset(p, 1, 20u << 20);
    ringo__arena_free(&a);
    CHECK(mallocs == frees);
    printf("ok   growth: O(log n) chunks\n");
}

static void test_grow(void)
{
    _Alignas(16) char buf[512];
    ringo__arena a;
    char *p, *q, *r;
    size_t total;

    ringo__arena_init(&a, buf, sizeof(buf));
    p = ringo__arena_alloc(&a, 10);
    memcpy(p, "0123456789", 10);
    total = a.total;
    /* The last block grows where it stands. */
    CHECK(ringo__arena_grow(&a, p, 10, 100) == p && a.cur == p + 112);
    CHECK(a.total == total + 112 - 16);
    CHECK(ringo__arena_grow(&a, p, 100, 50) == p && a.cur == p + 112); /* shrinking: no-op */
    /* Another block is copied past it. */
    q = ringo__arena_alloc(&a, 16);
    r = ringo__arena_grow(&a, p, 10, 20);
    CHECK(r && r != p && r > q && !memcmp(r, "0123456789", 10) && aligned(r));
    /* Growing past the chunk moves it to the heap, contents kept. */
    memset(r, 'r', 20);
    p = ringo__arena_grow(&a, r, 20, 1000);
    CHECK(p && (p < buf || p >= buf + sizeof(buf)) && chunks(&a) == 1);
    for (int i = 0; i < 20; i++)
        CHECK(p[i] == 'r');
    /* From nothing it is an allocation. */
    q = ringo__arena_grow(&a, NULL, 0, 40);
    CHECK(q && aligned(q));
    ringo__arena_free(&a);
    CHECK(mallocs == frees);
    printf("ok   grow: in place when last, else copied\n");
}

static void test_dup(void)
{
    ringo__arena a;
    char *d;

    ringo__arena_init(&a, NULL, 0);
    d = ringo__arena_dup(&a, "abc\0def", 7);
    CHECK(d && !memcmp(d, "abc\0def", 8) && aligned(d));
    d = ringo__arena_dup(&a, NULL, 0);
    CHECK(d && d[0] == '\0');
    CHECK(ringo__arena_dup(&a, "x", SIZE_MAX) == NULL);
    CHECK(ringo__arena_dup(&a, "x", SIZE_MAX - 1) == NULL);
    ringo__arena_free(&a);
    CHECK(mallocs == frees);
    printf("ok   dup: NUL-terminated copies\n");
}

static void test_huge(void)
{
    static const size_t huge[] = {
        SIZE_MAX,     SIZE_MAX - 1,     SIZE_MAX - 15,   SIZE_MAX - 16,   SIZE_MAX / 2 + 1,
        SIZE_MAX / 2, SIZE_MAX / 4 + 1, (size_t)1 << 62, (size_t)1 << 48, MALLOC_LIMIT + 1};
    _Alignas(16) char buf[64];
    ringo__arena a;
    char *p, *cur, *end;
    size_t total, before;

    ringo__arena_init(&a, buf, sizeof(buf));
    p = ringo__arena_alloc(&a, 8);
    CHECK(p);
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        cur = a.cur, end = a.end, total = a.total, before = mallocs;
        CHECKF(ringo__arena_alloc(&a, huge[i]) == NULL, "size %zu", huge[i]);
        CHECKF(ringo__arena_grow(&a, p, 8, huge[i]) == NULL, "grow to %zu", huge[i]);
        /* A failure changes nothing. */
        CHECK(a.cur == cur && a.end == end && a.total == total && mallocs == before);
    }
    /* Doubling never wraps: nothing larger than the size itself was asked for. */
    CHECKF(biggest <= ((size_t)1 << 62) + sizeof(ringo__arena_chunk), "malloc(%zu)", biggest);
    /* malloc failing is the same. */
    refuse = true;
    cur = a.cur;
    CHECK(ringo__arena_alloc(&a, 4096) == NULL && a.cur == cur && chunks(&a) == 0);
    refuse = false;
    CHECK(ringo__arena_alloc(&a, 4096) && chunks(&a) == 1);
    CHECK(ringo__arena_alloc(&a, 8) && ringo__arena_alloc(&a, 0));
    ringo__arena_free(&a);
    CHECK(mallocs == frees);
    printf("ok   huge sizes fail at once, the arena stays usable\n");
}

static void test_free_reuse(void)
{
    ringo__arena a;

    ringo__arena_init(&a, NULL, 0);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++)
            CHECK(ringo__arena_alloc(&a, (size_t)i * 97));
        CHECK(chunks(&a) > 1);
        ringo__arena_free(&a);
        CHECK(!a.chunks && !a.cur && !a.end && a.total == 0 && mallocs == frees);
    }
    ringo__arena_free(&a); /* twice is harmless */
    CHECK(mallocs == frees);
    printf("ok   free returns every chunk; the arena is reusable\n");
}

static void test_limit(void)
{
    ringo__arena a;
    size_t before;

    ringo__arena_init(&a, NULL, 0);
    a.limit = 64 * 1024;
    CHECK(ringo__arena_alloc(&a, 16 * 1024) != NULL);
    CHECK(a.heap <= a.limit && !a.over);
    before = mallocs;
    CHECK(ringo__arena_alloc(&a, 1 << 20) == NULL); /* never asked of malloc */
    CHECK(mallocs == before && a.over && a.heap <= a.limit);
    /* Doubling would pass the bound: a chunk just large enough still fits. */
    CHECK(ringo__arena_alloc(&a, 20 * 1024) != NULL);
    CHECK(a.heap <= a.limit);
    ringo__arena_free(&a);
    CHECK(a.heap == 0);
    printf("ok   a limit bounds the heap chunks, never asking malloc past it\n");
}

int main(void)
{
    alarm(10); /* a doubling loop that never ends fails instead of hanging */
    test_inline_first();
    test_alignment();
    test_growth();
    test_grow();
    test_dup();
    test_huge();
    test_free_reuse();
    test_limit();
    return 0;
}
