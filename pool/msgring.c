/*
 * pool/msgring.c - completion hand-back through IORING_OP_MSG_RING.
 */
#include "pool/msgring.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Added in Linux 6.13; liburing 2.3 predates it. */
#define REGISTER_SEND_MSG_RING 31u

#define POST_TRIES 8

static void prep_msg(struct io_uring_sqe *sqe, int ring_fd, uint64_t data, int32_t res)
{
    /* The kernel rejects stray bits (buf_index, personality, file_index,
     * msg_ring_flags), so start from zero. */
    memset(sqe, 0, sizeof(*sqe));
    sqe->opcode = IORING_OP_MSG_RING;
    sqe->fd = ring_fd;
    sqe->off = data;
    sqe->len = (uint32_t)res;
    sqe->addr = IORING_MSG_DATA;
}

static int post_registered(int ring_fd, uint64_t data, int32_t res)
{
    struct io_uring_sqe sqe;

    prep_msg(&sqe, ring_fd, data, res);
    /* Raw syscall: liburing's wrapper wants an unsigned fd and -1 means "no ring". */
    if (syscall(__NR_io_uring_register, -1, REGISTER_SEND_MSG_RING, &sqe, 1) < 0)
        return -errno;
    return 0;
}

static int post_fallback(struct io_uring *ring, int ring_fd, uint64_t data, int32_t res)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    struct io_uring_cqe *cqe;
    int ret;

    if (!sqe)
        return -EBUSY; /* cannot happen: one SQE in flight at a time */
    prep_msg(sqe, ring_fd, data, res);
    ret = io_uring_submit_and_wait(ring, 1);
    if (ret < 0)
        return ret;
    ret = io_uring_peek_cqe(ring, &cqe);
    if (ret < 0)
        return ret;
    ret = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return ret;
}

static int post_once(ringo__msgring *m, int ring_fd, uint64_t data, int32_t res)
{
    if (m->mode == RINGO__MSGRING_REGISTERED)
        return post_registered(ring_fd, data, res);
    return post_fallback(&m->ring, ring_fd, data, res);
}

static int transient(int err)
{
    return err == -ENOMEM || err == -EAGAIN || err == -EBUSY || err == -EINTR;
}

int ringo__msgring_post(ringo__msgring *m, int ring_fd, uint64_t data, int32_t res)
{
    int ret;

    ret = post_once(m, ring_fd, data, res);

    for (int i = 1; i < POST_TRIES && transient(ret); i++) {
        struct timespec ts = {0, 50000L << i}; /* 100 us .. 6.4 ms */
        nanosleep(&ts, NULL);
        ret = post_once(m, ring_fd, data, res);
    }
    return ret;
}

int ringo__msgring_init(ringo__msgring *m, int mode)
{
    memset(m, 0, sizeof(*m));
    m->mode = mode;
    if (mode != RINGO__MSGRING_FALLBACK)
        return 0;
    int ret = io_uring_queue_init(8, &m->ring, 0);
    if (ret < 0)
        return ret;
    m->has_ring = 1;
    return 0;
}

void ringo__msgring_exit(ringo__msgring *m)
{
    if (m->has_ring)
        io_uring_queue_exit(&m->ring);
    m->has_ring = 0;
}

const char *ringo__msgring_mode_name(int mode)
{
    switch (mode) {
    case RINGO__MSGRING_REGISTERED: return "registered";
    case RINGO__MSGRING_FALLBACK: return "fallback";
    default: return "none";
    }
}

/* Sends one message in the given mode to target and checks it arrived. */
static int probe_mode(struct io_uring *target, int mode)
{
    ringo__msgring m;
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = {.tv_sec = 1};
    int ret = ringo__msgring_init(&m, mode);

    if (ret < 0)
        return ret;
    ret = post_once(&m, target->ring_fd, 0x5249 /* "RI" */, 7);
    ringo__msgring_exit(&m);
    if (ret < 0)
        return ret;
    ret = io_uring_wait_cqe_timeout(target, &cqe, &ts);
    if (ret < 0)
        return ret;
    ret = (cqe->user_data == 0x5249 && cqe->res == 7) ? mode : -EPROTO;
    io_uring_cqe_seen(target, cqe);
    return ret;
}

int ringo__msgring_probe(void)
{
    struct io_uring target;
    int ret = io_uring_queue_init(4, &target, 0);

    if (ret < 0)
        return ret;
    ret = probe_mode(&target, RINGO__MSGRING_REGISTERED);
    /* Kernels before 6.13 reject the unknown register opcode with -EINVAL. */
    if (ret < 0)
        ret = probe_mode(&target, RINGO__MSGRING_FALLBACK);
    /* And kernels before 5.18 the unknown MSG_RING opcode, the same way. */
    if (ret == -EINVAL)
        ret = -EOPNOTSUPP;
    io_uring_queue_exit(&target);
    return ret;
}
