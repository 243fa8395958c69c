/*
 * core/bufring.c - the ring's provided-buffer ring for multishot recv.
 *
 * liburing 2.3 has io_uring_register_buf_ring() but not
 * io_uring_setup_buf_ring(), so the ring memory is mapped and registered by
 * hand. Buffers go back to the kernel as soon as their bytes are consumed:
 * the protocol copies what must outlive a CQE, so an idle connection holds no
 * buffer and the pool needs only to cover one batch of CQEs.
 */
#include <errno.h>
#include <sys/mman.h>

#include "core/alloc.h"
#include "core/ring_impl.h"

#define BGID 0

static uint32_t pow2_floor(uint32_t v)
{
    uint32_t p = 1;

    while (p * 2 <= v && p < 32768)
        p *= 2;
    return p;
}

int ringo__bufring_setup(ringo__ring *r)
{
    struct io_uring_buf_reg reg = {0};
    size_t bytes;
    int ret;

    r->nbufs = pow2_floor(r->srv->cfg.recv_buffers ? r->srv->cfg.recv_buffers : 512);
    r->buf_size = r->srv->cfg.recv_buffer_size ? r->srv->cfg.recv_buffer_size : 16384;
    r->br_len = r->nbufs * sizeof(struct io_uring_buf);
    r->br = mmap(NULL, r->br_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (r->br == MAP_FAILED) {
        r->br = NULL;
        return -ENOMEM;
    }
    bytes = (size_t)r->nbufs * r->buf_size;
    r->bufs = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (r->bufs == MAP_FAILED) {
        r->bufs = NULL;
        return -ENOMEM;
    }
    reg.ring_addr = (uint64_t)(uintptr_t)r->br;
    reg.ring_entries = r->nbufs;
    reg.bgid = BGID;
    ret = io_uring_register_buf_ring(&r->uring, &reg, 0);
    if (ret < 0)
        return ret == -EINVAL ? -EOPNOTSUPP : ret;
    io_uring_buf_ring_init(r->br);
    for (uint32_t i = 0; i < r->nbufs; i++)
        io_uring_buf_ring_add(r->br, r->bufs + (size_t)i * r->buf_size, r->buf_size,
                              (unsigned short)i, io_uring_buf_ring_mask(r->nbufs), (int)i);
    io_uring_buf_ring_advance(r->br, (int)r->nbufs);
    return 0;
}

void ringo__bufring_free(ringo__ring *r)
{
    if (r->br) {
        io_uring_unregister_buf_ring(&r->uring, BGID);
        munmap(r->br, r->br_len);
        r->br = NULL;
    }
    if (r->bufs) {
        munmap(r->bufs, (size_t)r->nbufs * r->buf_size);
        r->bufs = NULL;
    }
}

char *ringo__bufring_get(ringo__ring *r, uint32_t bid)
{
    char *p = r->bufs + (size_t)bid * r->buf_size;

    atomic_fetch_add_explicit(&r->stats.bufs_held, 1, memory_order_relaxed);
    return p;
}

void ringo__bufring_put(ringo__ring *r, uint32_t bid)
{
    io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * r->buf_size, r->buf_size,
                          (unsigned short)bid, io_uring_buf_ring_mask(r->nbufs), 0);
    io_uring_buf_ring_advance(r->br, 1);
    atomic_fetch_sub_explicit(&r->stats.bufs_held, 1, memory_order_relaxed);
}
