/*
 * core/fixbufs.c - a bounded pool of registered buffers per ring, for
 * IORING_OP_READ_FIXED and IORING_OP_SEND_ZC.
 *
 * A registered buffer is pinned once (io_uring_register_buffers) instead of
 * at every op, and a zero-copy send from it keeps its pages until the
 * notification CQE says the network stack let go of them. The pool is
 * made at its first use, RINGO__FIXBUF_COUNT buffers of
 * RINGO__FIXBUF_SIZE bytes from one mapping, and lent one at a time to a
 * file body; a body that finds none free goes another way (the caller's
 * choice). Pinned memory counts against RLIMIT_MEMLOCK for an unprivileged
 * user: when the kernel refuses the registration the pool stays empty for
 * the ring's life and every get says -ENOMEM, once logged.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "core/ring_impl.h"

/* Maps and registers the pool; 0 or -errno (nothing left behind). */
static int make(ringo__ring *r)
{
    size_t total = (size_t)RINGO__FIXBUF_COUNT * RINGO__FIXBUF_SIZE;
    struct iovec iov[RINGO__FIXBUF_COUNT];
    char *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ret;

    if (base == MAP_FAILED)
        return -errno;
    for (unsigned i = 0; i < RINGO__FIXBUF_COUNT; i++)
        iov[i] = (struct iovec){base + (size_t)i * RINGO__FIXBUF_SIZE, RINGO__FIXBUF_SIZE};
    ret = io_uring_register_buffers(&r->uring, iov, RINGO__FIXBUF_COUNT);
    if (ret < 0) {
        munmap(base, total);
        fprintf(stderr, "ringo: ring %u: registering %u buffers of %u KiB: %s\n", r->id,
                RINGO__FIXBUF_COUNT, RINGO__FIXBUF_SIZE / 1024, strerror(-ret));
        return ret;
    }
    r->fixbuf_base = base;
    r->fixbuf_free = (1u << RINGO__FIXBUF_COUNT) - 1;
    return 0;
}

int ringo__fixbuf_get(ringo__ring *r, ringo__fixbuf *out)
{
    unsigned i;

    if (!r->fixbuf_base) {
        if (r->fixbuf_failed)
            return -ENOMEM;
        if (make(r) < 0) {
            r->fixbuf_failed = true;
            return -ENOMEM;
        }
    }
    if (!r->fixbuf_free)
        return -EBUSY;
    i = (unsigned)__builtin_ctz(r->fixbuf_free);
    r->fixbuf_free &= ~(1u << i);
    out->index = (uint16_t)i;
    out->ptr = r->fixbuf_base + (size_t)i * RINGO__FIXBUF_SIZE;
    out->size = RINGO__FIXBUF_SIZE;
    atomic_fetch_add_explicit(&r->stats.fixbufs_busy, 1, memory_order_relaxed);
    return 0;
}

void ringo__fixbuf_put(ringo__ring *r, ringo__fixbuf *b)
{
    r->fixbuf_free |= 1u << b->index;
    atomic_fetch_sub_explicit(&r->stats.fixbufs_busy, 1, memory_order_relaxed);
    b->ptr = NULL;
}

void ringo__fixbufs_free(ringo__ring *r)
{
    /* The registration ends with the ring (io_uring_queue_exit runs after this). */
    if (r->fixbuf_base)
        munmap(r->fixbuf_base, (size_t)RINGO__FIXBUF_COUNT * RINGO__FIXBUF_SIZE);
    r->fixbuf_base = NULL;
}
