/*
 * Description: the provided-buffer ring of core/bufring.c on a real
 * io_uring: the buffer count is the configured one rounded down to a power
 * of two (512 by default, at most 32768); a recv that selects a buffer
 * lands in the buffer ringo__bufring_get() names; a buffer handed back with
 * ringo__bufring_put() is used again, so many more receives than buffers
 * never run out (-ENOBUFS only while every buffer is held); bufs_held
 * counts what the protocol holds. Skips (77) without io_uring or provided
 * buffer rings.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "core/ring_impl.h"

static ringo__server srv;
static ringo__ring ring;

static void skip(const char *what, int err)
{
    printf("skip: %s: %s\n", what, strerror(err));
    exit(77);
}

/* Sets up a ring with recv_buffers buffers of size bytes; returns setup's result. */
static int setup(uint32_t buffers, uint32_t size)
{
    int ret;

    memset(&ring, 0, sizeof(ring));
    ringo_config_init(&srv.cfg);
    srv.cfg.recv_buffers = buffers;
    srv.cfg.recv_buffer_size = size;
    ring.srv = &srv;
    ret = io_uring_queue_init(8, &ring.uring, 0);
    if (ret < 0)
        skip("io_uring_queue_init", -ret);
    ret = ringo__bufring_setup(&ring);
    if (ret == -EOPNOTSUPP || ret == -ENOSYS)
        skip("provided buffer rings", -ret);
    return ret;
}

static void teardown(void)
{
    ringo__bufring_free(&ring);
    CHECK(!ring.br && !ring.bufs);
    io_uring_queue_exit(&ring.uring);
}

/* One recv on fd with a provided buffer: the CQE's result, and its buffer id. */
static int recv_one(int fd, uint32_t *bid)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring.uring);
    struct io_uring_cqe *cqe;
    int res;

    CHECK(sqe);
    io_uring_prep_recv(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    CHECK(io_uring_submit(&ring.uring) == 1);
    CHECK(io_uring_wait_cqe(&ring.uring, &cqe) == 0);
    res = cqe->res;
    if (res >= 0) {
        CHECK(cqe->flags & IORING_CQE_F_BUFFER);
        *bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    }
    io_uring_cqe_seen(&ring.uring, cqe);
    return res;
}

static void test_counts(void)
{
    static const struct {
        uint32_t asked, got;
    } t[] = {{0, 512}, {1, 1}, {5, 4}, {64, 64}, {1000, 512}, {65536, 32768}, {100000, 32768}};

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        CHECK(setup(t[i].asked, 64) == 0);
        CHECKF(ring.nbufs == t[i].got, "%u buffers asked: %u", t[i].asked, ring.nbufs);
        CHECK(ring.buf_size == 64);
        teardown();
    }
    CHECK(setup(4, 0) == 0 && ring.buf_size == 16384);
    teardown();
    printf("ok   buffer counts: powers of two, default 512, at most 32768\n");
}

static void test_recycle(void)
{
    int sv[2];
    uint32_t bid, held[4];
    char msg[32];

    CHECK(setup(4, 16) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    /* Ten times the buffers, each handed back after use. */
    for (int i = 0; i < 40; i++) {
        int n = snprintf(msg, sizeof(msg), "msg %d", i);
        CHECK(write(sv[1], msg, (size_t)n) == n);
        CHECK(recv_one(sv[0], &bid) == n && bid < 4);
        char *p = ringo__bufring_get(&ring, bid);
        CHECK(p == ring.bufs + (size_t)bid * 16 && !memcmp(p, msg, (size_t)n));
        CHECK(atomic_load(&ring.stats.bufs_held) == 1);
        ringo__bufring_put(&ring, bid);
        CHECK(atomic_load(&ring.stats.bufs_held) == 0);
    }
    /* Held buffers are not handed out again; with all four held, -ENOBUFS. */
    for (int i = 0; i < 4; i++) {
        CHECK(write(sv[1], "x", 1) == 1);
        CHECK(recv_one(sv[0], &held[i]) == 1);
        ringo__bufring_get(&ring, held[i]);
        for (int j = 0; j < i; j++)
            CHECK(held[j] != held[i]);
    }
    CHECK(atomic_load(&ring.stats.bufs_held) == 4);
    CHECK(write(sv[1], "y", 1) == 1);
    CHECK(recv_one(sv[0], &bid) == -ENOBUFS);
    ringo__bufring_put(&ring, held[2]);
    CHECK(recv_one(sv[0], &bid) == 1 && bid == held[2]);
    ringo__bufring_get(&ring, bid);
    for (int i = 0; i < 4; i++)
        ringo__bufring_put(&ring, held[i]);
    CHECK(atomic_load(&ring.stats.bufs_held) == 0);
    /* A message longer than a buffer fills it and leaves the rest. */
    CHECK(write(sv[1], "0123456789abcdefXYZ", 19) == 19);
    CHECK(recv_one(sv[0], &bid) == 16 &&
          !memcmp(ring.bufs + (size_t)bid * 16, "0123456789abcdef", 16));
    close(sv[0]);
    close(sv[1]);
    teardown();
    printf("ok   buffers handed back are reused; all held: -ENOBUFS\n");
}

int main(void)
{
    test_counts();
    test_recycle();
    return 0;
}
