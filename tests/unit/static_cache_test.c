/*
 * Description: the small-file cache of static mounts (http/static_cache.c):
 * hits, invalidation by size or modification time, the byte bound with
 * least-recently-used eviction, replacement, and refusal of an entry
 * larger than the whole cache.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/static_cache.h"

static ringo__smeta meta(uint64_t size, int64_t mtime) { return (ringo__smeta){size, mtime, 7}; }

int main(void)
{
    char data[1000];
    ringo__scache *c = ringo__scache_new(4000);
    ringo__smeta m = meta(sizeof(data), 100), m2 = meta(sizeof(data), 101);
    const ringo__sentry *e;
    char key[16];

    CHECK(c);
    memset(data, 'a', sizeof(data));
    CHECK(ringo__scache_put(c, RINGO_STR_LIT("a"), &m, data, 5) == 0);
    e = ringo__scache_get(c, RINGO_STR_LIT("a"), &m, 9);
    CHECK(e && e->checked_ms == 9 && e->meta.size == sizeof(data) && e->data[999] == 'a');
    CHECK(ringo__scache_get(c, RINGO_STR_LIT("b"), &m, 9) == NULL);
    CHECK(ringo__scache_get(c, RINGO_STR_LIT("a"), NULL, 0)->checked_ms == 9);
    /* Another modification time (or size): the entry is dropped. */
    CHECK(ringo__scache_get(c, RINGO_STR_LIT("a"), &m2, 10) == NULL);
    CHECK(ringo__scache_get(c, RINGO_STR_LIT("a"), NULL, 0) == NULL);
    CHECK(ringo__scache_used(c) == 0);

    /* The bound: three 1000-byte files fit in 4000 bytes with bookkeeping, four do not. */
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "f%d", i);
        data[0] = (char)('0' + i);
        CHECK(ringo__scache_put(c, ringo_str_c(key), &m, data, 1) == 0);
    }
    CHECK(ringo__scache_get(c, RINGO_STR_LIT("f0"), NULL, 0)); /* f1 is now the oldest */
    CHECK(ringo__scache_put(c, RINGO_STR_LIT("f3"), &m, data, 1) == 0);
    CHECK(ringo__scache_used(c) <= 4000);
    CHECK(ringo__scache_get(c, RINGO_STR_LIT("f1"), NULL, 0) == NULL);
    CHECK(ringo__scache_get(c, RINGO_STR_LIT("f0"), NULL, 0)->data[0] == '0');
    CHECK(ringo__scache_get(c, RINGO_STR_LIT("f3"), NULL, 0));
    /* Replacing keeps one entry per key. */
    data[0] = 'z';
    CHECK(ringo__scache_put(c, RINGO_STR_LIT("f3"), &m2, data, 1) == 0);
    CHECK(ringo__scache_get(c, RINGO_STR_LIT("f3"), &m2, 2)->data[0] == 'z');
    CHECK(ringo__scache_used(c) <= 4000);
    /* Larger than the cache: refused, nothing evicted. */
    {
        static char big[5000];
        ringo__smeta mb = meta(sizeof(big), 1);
        uint64_t used = ringo__scache_used(c);
        CHECK(ringo__scache_put(c, RINGO_STR_LIT("big"), &mb, big, 1) == -E2BIG);
        CHECK(ringo__scache_used(c) == used);
    }
    /* Many keys through a small cache: always within the bound. */
    for (int i = 0; i < 10000; i++) {
        ringo__smeta mi = meta((uint64_t)(i % 900), i);
        snprintf(key, sizeof(key), "k%d", i % 97);
        CHECK(ringo__scache_put(c, ringo_str_c(key), &mi, data, 1) == 0);
        CHECK(ringo__scache_used(c) <= 4000);
    }
    ringo__scache_free(c);
    ringo__scache_free(NULL);
    puts("static_cache_test: ok");
    return 0;
}
