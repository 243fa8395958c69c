/*
 * tests/fuzz/fuzz_log.h - the event log the cut-invariance fuzz targets
 * compare: a growing byte string each parse writes its events into, once for
 * the whole input and once per way of cutting it; any difference aborts.
 */
#ifndef RINGO_FUZZ_LOG_H
#define RINGO_FUZZ_LOG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fuzz_log {
    char *p;
    size_t len, cap;
} fuzz_log;

static inline void fuzz_put(fuzz_log *l, const void *p, size_t n)
{
    if (l->len + n > l->cap) {
        l->cap = (l->len + n) * 2 + 256;
        l->p = realloc(l->p, l->cap);
        if (!l->p)
            abort();
    }
    if (n)
        memcpy(l->p + l->len, p, n);
    l->len += n;
}

/* A length-prefixed field, so no content can fake a separator. */
static inline void fuzz_put_str(fuzz_log *l, char tag, const char *p, size_t n)
{
    char pre[32];
    int k = snprintf(pre, sizeof(pre), "%c%zu:", tag, n);

    fuzz_put(l, pre, (size_t)k);
    fuzz_put(l, p, n);
}

/* Aborts, showing both logs, unless other is the same as whole. */
static inline void fuzz_same(const fuzz_log *whole, const fuzz_log *other, const char *what,
                             const char *how)
{
    if (whole->len == other->len && memcmp(whole->p, other->p, whole->len) == 0)
        return;
    fprintf(stderr, "%s %s:\n--- whole:\n%.*s\n--- %s:\n%.*s\n", what, how, (int)whole->len,
            whole->p, how, (int)other->len, other->p);
    abort();
}

#endif
