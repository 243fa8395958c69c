/*
 * http/static_cache.h - the in-memory cache of small static files.
 *
 * One cache per mount and ring, touched only by its ring thread: no locks.
 * An entry holds a whole file's bytes with the size and modification time
 * they were read at; a lookup that passes the file's current statx hands
 * out the bytes, one whose metadata differ drops the entry. Memory is
 * bounded by the mount's cache_bytes (entries, keys and bookkeeping
 * counted); the least recently used entries go first.
 */
#ifndef RINGO_HTTP_STATIC_CACHE_H
#define RINGO_HTTP_STATIC_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "ringo/common.h"

typedef struct ringo__scache ringo__scache;

/* What is known of a file: its validators. */
typedef struct ringo__smeta {
    uint64_t size;
    int64_t mtime;     /* seconds */
    uint32_t mtime_ns; /* nanoseconds of mtime */
} ringo__smeta;

typedef struct ringo__sentry {
    ringo__smeta meta;
    uint64_t checked_ms; /* CLOCK_MONOTONIC ms of the last statx that matched */
    const char *data;    /* meta.size bytes */
} ringo__sentry;

/* A cache of at most bytes bytes; NULL when out of memory. */
ringo__scache *ringo__scache_new(uint64_t bytes);
void ringo__scache_free(ringo__scache *c);

/*
 * The entry of key, or NULL. With meta non-NULL, an entry whose size or
 * modification time differs is dropped (NULL); a matching one has
 * checked_ms set to now_ms. The entry is valid until the next insert or
 * lookup of this cache: copy what must outlive an await.
 */
const ringo__sentry *ringo__scache_get(ringo__scache *c, ringo_str key, const ringo__smeta *meta,
                                       uint64_t now_ms);

/* Stores a copy of data (meta->size bytes) under key, replacing an older
 * entry and evicting others as needed. Returns 0, -E2BIG (larger than the
 * cache) or -ENOMEM; the cache is unchanged on failure. */
int ringo__scache_put(ringo__scache *c, ringo_str key, const ringo__smeta *meta, const void *data,
                      uint64_t now_ms);

/* Bytes held (for tests). */
uint64_t ringo__scache_used(const ringo__scache *c);

#endif
