/*
 * Description: MSG_RING completion hand-back (pool/msgring.c). For each mode
 * the kernel supports (registered synchronous IORING_REGISTER_SEND_MSG_RING
 * on >= 6.13, and the per-sender ring fallback), a sender thread posts
 * messages into a SINGLE_ISSUER | DEFER_TASKRUN ring owned by another
 * thread, which reaps them with io_uring_submit_and_wait(); every message
 * must arrive once with its user_data and res (negative res included). Bad
 * targets fail with -EBADF / -EBADFD. Skips (77) without io_uring.
 */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "pool/msgring.h"

#include "check.h"

#define MSGS 5000

typedef struct target {
    struct io_uring ring;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready; /* 1: ring created; -errno: creation failed */
    int mode;
    unsigned char seen[MSGS];
} target;

static void target_set_ready(target *t, int v)
{
    pthread_mutex_lock(&t->lock);
    t->ready = v;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

/* The ring must be created by the thread that reaps it (SINGLE_ISSUER). */
static void *target_main(void *arg)
{
    target *t = arg;
    unsigned got = 0;
    int ret =
        io_uring_queue_init(256, &t->ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);

    target_set_ready(t, ret < 0 ? ret : 1);
    if (ret < 0)
        return NULL;
    while (got < MSGS) {
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        CHECK(io_uring_submit_and_wait(&t->ring, 1) >= 0);
        io_uring_for_each_cqe(&t->ring, head, cqe)
        {
            uint64_t i = cqe->user_data - 1000;
            CHECK(i < MSGS && !t->seen[i]);
            CHECK(cqe->res == (i % 2 ? -(int32_t)i : (int32_t)i));
            t->seen[i] = 1;
            n++;
        }
        io_uring_cq_advance(&t->ring, n);
        got += n;
    }
    io_uring_queue_exit(&t->ring);
    return NULL;
}

static void *sender_main(void *arg)
{
    target *t = arg;
    ringo__msgring m;

    CHECK(ringo__msgring_init(&m, t->mode) == 0);
    for (int32_t i = 0; i < MSGS; i++)
        CHECK(ringo__msgring_post(&m, t->ring.ring_fd, 1000 + (uint64_t)i, i % 2 ? -i : i) == 0);
    ringo__msgring_exit(&m);
    return NULL;
}

static int run_mode(int mode)
{
    target *t = calloc(1, sizeof(*t));
    pthread_t tt, st;

    CHECK(t);
    t->mode = mode;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    CHECK(pthread_create(&tt, NULL, target_main, t) == 0);
    pthread_mutex_lock(&t->lock);
    while (!t->ready)
        pthread_cond_wait(&t->cond, &t->lock);
    pthread_mutex_unlock(&t->lock);
    if (t->ready < 0) {
        CHECK(pthread_join(tt, NULL) == 0);
        printf("skip: no SINGLE_ISSUER|DEFER_TASKRUN ring (%s)\n", strerror(-t->ready));
        free(t);
        return 77;
    }
    CHECK(pthread_create(&st, NULL, sender_main, t) == 0);
    CHECK(pthread_join(st, NULL) == 0);
    CHECK(pthread_join(tt, NULL) == 0);
    printf("%s: %d messages delivered into a DEFER_TASKRUN ring\n", ringo__msgring_mode_name(mode),
           MSGS);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return 0;
}

static void bad_targets(int mode)
{
    ringo__msgring m;
    int pipefd[2];

    CHECK(ringo__msgring_init(&m, mode) == 0);
    CHECK(pipe(pipefd) == 0);
    CHECK(ringo__msgring_post(&m, 1 << 20, 1, 0) == -EBADF);
    CHECK(ringo__msgring_post(&m, pipefd[0], 1, 0) == -EBADFD);
    close(pipefd[0]);
    close(pipefd[1]);
    ringo__msgring_exit(&m);
}

static int kernel_at_least(int major, int minor)
{
    struct utsname u;
    int ma = 0, mi = 0;

    return uname(&u) == 0 && sscanf(u.release, "%d.%d", &ma, &mi) == 2 &&
           (ma > major || (ma == major && mi >= minor));
}

int main(void)
{
    int best = ringo__msgring_probe();

    if (best == -ENOSYS || best == -EPERM || best == -EOPNOTSUPP) {
        printf("skip: %s\n", strerror(-best));
        return 77;
    }
    CHECK(best > 0);
    printf("probe: %s\n", ringo__msgring_mode_name(best));
    if (kernel_at_least(6, 13))
        CHECK(best == RINGO__MSGRING_REGISTERED);
    for (int mode = best; mode <= RINGO__MSGRING_FALLBACK; mode++) {
        int ret = run_mode(mode);
        if (ret)
            return ret;
        bad_targets(mode);
    }
    printf("msgring_test: ok\n");
    return 0;
}
