/*
 * Description: the ring's pipe pool of core/pipes.c: pipes come out
 * RINGO__PIPE_SIZE large; the pool never lends more than its bound (then
 * -EBUSY), derived from fs.pipe-user-pages-soft and the ring count; a pipe
 * returned clean is lent again, a dirty one is closed (a cancelled splice
 * may have left bytes in it) and a new one made; pipes_busy counts the
 * pipes lent; freeing the pool closes every idle pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/ring_impl.h"

static ringo__server srv;
static ringo__ring ring;

static bool is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static uint64_t busy(void) { return atomic_load(&ring.stats.pipes_busy); }

int main(void)
{
    ringo__pipe p[80], q;
    uint32_t n = 0;
    int ret;

    srv.nrings = 2;
    ring.srv = &srv;
    ret = ringo__pipe_get(&ring, &p[0]);
    if (ret == -ENOSPC) {
        printf("skip: this user's pipe-user-pages-soft is used up\n");
        return 77;
    }
    CHECKF(ret == 0, "first pipe: %d", ret);
    CHECK(p[0].size >= RINGO__PIPE_SIZE);
    CHECK(fcntl(p[0].wr, F_GETPIPE_SZ) == (int)p[0].size);
    CHECK(ring.pipes_cap >= 2 && ring.pipes_cap <= 64);
    n = 1;
    while (n < 80 && (ret = ringo__pipe_get(&ring, &p[n])) == 0)
        n++;
    CHECKF(ret == -EBUSY || ret == -ENOSPC, "past the bound: %d", ret);
    CHECKF(ret != -EBUSY || n == ring.pipes_cap, "lent %u of a bound of %u", n, ring.pipes_cap);
    CHECK(busy() == n);

    /* Clean: the same pipe comes back. Dirty: closed, and a new one is made. */
    q = p[0];
    ringo__pipe_put(&ring, &p[0], true);
    CHECK(p[0].rd == -1 && busy() == n - 1);
    CHECK(ringo__pipe_get(&ring, &p[0]) == 0 && p[0].rd == q.rd && p[0].wr == q.wr);
    CHECK(write(p[1].wr, "x", 1) == 1);
    q = p[1];
    ringo__pipe_put(&ring, &p[1], false);
    CHECK(!is_open(q.rd) && !is_open(q.wr)); /* nothing was opened since */
    ret = ringo__pipe_get(&ring, &p[1]);
    CHECKF(ret == 0, "a pipe after a dirty one was closed: %d", ret);
    CHECK(busy() == n);

    for (uint32_t i = 0; i < n; i++)
        ringo__pipe_put(&ring, &p[i], true);
    CHECK(busy() == 0 && ring.pipes_idle == n);
    q = p[0];
    ringo__pipes_free(&ring);
    CHECK(ring.pipes == NULL && ring.pipes_idle == 0);
    CHECK(!is_open(q.rd) && !is_open(q.wr));
    return 0;
}
