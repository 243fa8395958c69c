/*
 * http/static_cache.c - see static_cache.h. A chained hash table of a fixed
 * bucket count (a bounded cache of small files holds a few thousand
 * entries) and a doubly linked LRU list.
 */
#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "http/static_cache.h"

#define NBUCKETS 4096u

struct entry {
    ringo__sentry pub;
    struct entry *hnext;       /* bucket chain */
    struct entry *prev, *next; /* LRU list, most recent first */
    uint64_t hash, cost;
    size_t klen;
    char *key; /* klen bytes, then the data */
};

struct ringo__scache {
    uint64_t cap, used;
    struct entry *head, *tail;
    struct entry *buckets[NBUCKETS];
};

static uint64_t hash_of(ringo_str k)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (size_t i = 0; i < k.len; i++)
        h = (h ^ (unsigned char)k.ptr[i]) * 1099511628211ull;
    return h;
}

ringo__scache *ringo__scache_new(uint64_t bytes)
{
    ringo__scache *c = ringo__calloc(1, sizeof(*c));

    if (c)
        c->cap = bytes;
    return c;
}

void ringo__scache_free(ringo__scache *c)
{
    if (!c)
        return;
    for (struct entry *e = c->head, *n; e; e = n) {
        n = e->next;
        ringo__free(e);
    }
    ringo__free(c);
}

static struct entry **slot_of(ringo__scache *c, ringo_str key, uint64_t h)
{
    struct entry **p = &c->buckets[h % NBUCKETS];

    while (*p &&
           !((*p)->hash == h && (*p)->klen == key.len && !memcmp((*p)->key, key.ptr, key.len)))
        p = &(*p)->hnext;
    return p;
}

static void lru_unlink(ringo__scache *c, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
}

static void lru_front(ringo__scache *c, struct entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static void drop(ringo__scache *c, struct entry **slot)
{
    struct entry *e = *slot;

    *slot = e->hnext;
    lru_unlink(c, e);
    c->used -= e->cost;
    ringo__free(e);
}

const ringo__sentry *ringo__scache_get(ringo__scache *c, ringo_str key, const ringo__smeta *meta,
                                       uint64_t now_ms)
{
    uint64_t h = hash_of(key);
    struct entry **slot = slot_of(c, key, h), *e = *slot;

    if (!e)
        return NULL;
    if (meta) {
        if (e->pub.meta.size != meta->size || e->pub.meta.mtime != meta->mtime ||
            e->pub.meta.mtime_ns != meta->mtime_ns) {
            drop(c, slot);
            return NULL;
        }
        e->pub.checked_ms = now_ms;
    }
    lru_unlink(c, e);
    lru_front(c, e);
    return &e->pub;
}

int ringo__scache_put(ringo__scache *c, ringo_str key, const ringo__smeta *meta, const void *data,
                      uint64_t now_ms)
{
    uint64_t h = hash_of(key), cost = sizeof(struct entry) + key.len + meta->size;
    struct entry **slot, *e;

    if (cost > c->cap)
        return -E2BIG;
    e = ringo__malloc(sizeof(*e) + key.len + meta->size);
    if (!e)
        return -ENOMEM;
    slot = slot_of(c, key, h);
    if (*slot)
        drop(c, slot);
    while (c->used + cost > c->cap) {
        struct entry *victim = c->tail;
        drop(c, slot_of(c, (ringo_str){victim->key, victim->klen}, victim->hash));
    }
    e->key = (char *)(e + 1);
    memcpy(e->key, key.ptr, key.len);
    memcpy(e->key + key.len, data, meta->size);
    e->klen = key.len;
    e->hash = h;
    e->cost = cost;
    e->pub = (ringo__sentry){*meta, now_ms, e->key + key.len};
    slot = slot_of(c, key, h);
    e->hnext = *slot;
    *slot = e;
    lru_front(c, e);
    c->used += cost;
    return 0;
}

uint64_t ringo__scache_used(const ringo__scache *c) { return c->used; }
