/*
 * tests/fuzz/proxy_fuzz.c - libFuzzer target: the PROXY protocol header
 * parser (core/proxy.c).
 *
 * Input: one byte choosing a cut, then the bytes a load balancer (or
 * anyone) sends first. The parser must never crash nor read past what it
 * is given, must never take more than it is given, and must answer the
 * same whether the bytes come whole, one at a time or cut in two: a
 * complete header at the same offset with the same address, or the same
 * error. A v1 header is never longer than 107 bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
    int ret;
    size_t used;
    ringo__pp_result res;
} outcome;

/* Feeds size bytes in pieces of at most step (0: whole). */
static outcome feed(const uint8_t *p, size_t size, size_t step)
{
    ringo__pp pp;
    outcome o;
    size_t off = 0;

    memset(&pp, 0, sizeof(pp));
    memset(&o, 0, sizeof(o));
    while (off < size) {
        size_t n = step && step < size - off ? step : size - off, used = SIZE_MAX;
        o.ret = ringo__pp_feed(&pp, p + off, n, &used, &o.res);
        if (used > n)
            abort();
        if (o.ret != 0) {
            o.used = off + used;
            return o;
        }
        if (used != n)
            abort();
        off += n;
    }
    o.used = off;
    return o;
}

static void same(const outcome *a, const outcome *b)
{
    if (a->ret != b->ret || a->used != b->used)
        abort();
    if (a->ret == 1 &&
        (a->res.family != b->res.family || a->res.ssl != b->res.ssl ||
         a->res.src_len != b->res.src_len || memcmp(&a->res.src, &b->res.src, a->res.src_len) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outcome whole, bytes, cut;

    if (size < 1)
        return 0;
    whole = feed(data + 1, size - 1, 0);
    bytes = feed(data + 1, size - 1, 1);
    cut = feed(data + 1, size - 1, (size_t)data[0] + 1);
    same(&whole, &bytes);
    same(&whole, &cut);
    if (whole.ret == 1 && data[1] == 'P' && whole.used > RINGO__PP_V1_MAX)
        abort();
    if (whole.ret == 1 && whole.res.family != 0 && whole.res.family != AF_INET &&
        whole.res.family != AF_INET6)
        abort();
    if (whole.ret != 0 && whole.ret != 1 && whole.ret != -EPROTO && whole.ret != -EBADMSG)
        abort();
    return 0;
}
