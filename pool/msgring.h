/*
 * pool/msgring.h - post a completion (a CQE) into another thread's ring.
 *
 * A pool worker hands a finished job back to the ring that owns it with
 * IORING_OP_MSG_RING: the target ring gets a CQE with the job's user_data
 * and res, as if one of its own requests had completed. Two ways to send it:
 *
 * - registered (kernel >= 6.13): io_uring_register(-1,
 *   IORING_REGISTER_SEND_MSG_RING, &sqe, 1) posts synchronously with no
 *   source ring at all. liburing 2.3 does not know the opcode (31).
 * - fallback: a tiny private ring per sender, one MSG_RING SQE submitted and
 *   its own CQE reaped per message (kernel >= 5.18).
 *
 * Either way the target may be a SINGLE_ISSUER | DEFER_TASKRUN ring owned by
 * another thread: the kernel queues the CQE as task work for the owner, which
 * sees it on its next io_uring_enter(GETEVENTS) (io_uring_submit_and_wait,
 * io_uring_wait_cqe). The target must be the ring's real fd, not a
 * registered ring index, and must stay open until the message is reaped.
 */
#ifndef RINGO_POOL_MSGRING_H
#define RINGO_POOL_MSGRING_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdint.h>

enum ringo__msgring_mode {
    RINGO__MSGRING_REGISTERED = 1, /* IORING_REGISTER_SEND_MSG_RING */
    RINGO__MSGRING_FALLBACK = 2,   /* a private ring, IORING_OP_MSG_RING */
};

/* One sender: owned and used by one thread at a time. */
typedef struct ringo__msgring {
    int mode;
    int has_ring;
    struct io_uring ring; /* fallback only */
} ringo__msgring;

/*
 * Finds the best mode this kernel supports by sending a message to a ring of
 * our own. Returns RINGO__MSGRING_REGISTERED or RINGO__MSGRING_FALLBACK;
 * -ENOSYS/-EPERM when io_uring is unavailable (or forbidden by seccomp),
 * -EOPNOTSUPP when the kernel lacks IORING_OP_MSG_RING (< 5.18).
 */
int ringo__msgring_probe(void);

/* Name of a mode, for logs: "registered", "fallback" or "none". */
const char *ringo__msgring_mode_name(int mode);

/* Prepares a sender in the given mode (the fallback creates its private
 * ring). Returns 0 or -errno; on failure *m needs no exit. */
int ringo__msgring_init(ringo__msgring *m, int mode);

/* Releases a sender. Safe on a zeroed struct. */
void ringo__msgring_exit(ringo__msgring *m);

/*
 * Posts a CQE {user_data = data, res = res, flags = 0} to the ring whose fd
 * is ring_fd. Transient failures (-ENOMEM, -EAGAIN, -EBUSY: the kernel could
 * not allocate the CQE or the request) are retried a few times. Returns 0;
 * -EBADF/-EBADFD when ring_fd is not an open io_uring; -errno otherwise.
 */
int ringo__msgring_post(ringo__msgring *m, int ring_fd, uint64_t data, int32_t res);

#endif
