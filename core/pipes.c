/*
 * core/pipes.c - a bounded pool of pipes per ring, for splice.
 *
 * io_uring has no sendfile: a file reaches a socket without a user-space
 * copy through splice, file -> pipe -> socket. A pipe per connection would
 * not scale: every pipe's buffer counts against the user's
 * fs.pipe-user-pages-soft (16384 pages by default), and past it the kernel
 * gives new pipes two pages and refuses F_SETPIPE_SZ, near 1,000
 * connections for an unprivileged user. So each ring keeps a few pipes and
 * lends them for one file body at a time; a body that finds none taken
 * goes by the copy path (the caller's choice).
 *
 * The pool's bound is derived at the first use: what the soft limit allows
 * for RINGO__PIPE_SIZE pipes, split over the rings and halved (other
 * processes of the same user have pipes too), between 2 and PIPES_MAX.
 * Pipes are made lazily, and a pipe returned with bytes in it (a cancelled
 * splice) is closed, never reused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/ring_impl.h"

#define PIPES_MAX 64u

/* The soft per-user limit in pages; 0 when there is none (or it cannot be read). */
static unsigned long soft_pages(void)
{
    unsigned long v = 0;
    FILE *f = fopen("/proc/sys/fs/pipe-user-pages-soft", "re");

    if (f) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static uint32_t derive_cap(const ringo__ring *r)
{
    unsigned long pages = soft_pages(), per = RINGO__PIPE_SIZE / 4096, rings = r->srv->nrings;
    unsigned long cap = pages ? pages / per / 2 / (rings ? rings : 1) : PIPES_MAX;

    return (uint32_t)(cap < 2 ? 2 : cap > PIPES_MAX ? PIPES_MAX : cap);
}

/* A new pipe of RINGO__PIPE_SIZE bytes, or -ENOSPC when the kernel refuses the size. */
static int make(ringo__pipe *p)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    /* Over the user's soft limit the pipe has two pages and cannot grow: useless here. */
    if (fcntl(fds[1], F_SETPIPE_SZ, RINGO__PIPE_SIZE) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -ENOSPC;
    }
    p->rd = fds[0];
    p->wr = fds[1];
    p->size = (uint32_t)fcntl(fds[1], F_GETPIPE_SZ);
    return 0;
}

int ringo__pipe_get(ringo__ring *r, ringo__pipe *out)
{
    int ret;

    if (!r->pipes) {
        r->pipes_cap = derive_cap(r);
        r->pipes = ringo__calloc(r->pipes_cap, sizeof(*r->pipes));
        if (!r->pipes)
            return -ENOMEM;
    }
    if (r->pipes_idle) {
        *out = r->pipes[--r->pipes_idle];
    } else if (r->pipes_busy < r->pipes_cap) {
        if ((ret = make(out)) < 0)
            return ret;
    } else {
        return -EBUSY;
    }
    r->pipes_busy++;
    atomic_fetch_add_explicit(&r->stats.pipes_busy, 1, memory_order_relaxed);
    return 0;
}

void ringo__pipe_put(ringo__ring *r, ringo__pipe *p, bool clean)
{
    r->pipes_busy--;
    atomic_fetch_sub_explicit(&r->stats.pipes_busy, 1, memory_order_relaxed);
    /* busy + idle <= cap: a returned pipe always has a slot. */
    if (clean) {
        r->pipes[r->pipes_idle++] = *p;
    } else {
        close(p->rd);
        close(p->wr);
    }
    p->rd = p->wr = -1;
}

void ringo__pipes_free(ringo__ring *r)
{
    for (uint32_t i = 0; i < r->pipes_idle; i++) {
        close(r->pipes[i].rd);
        close(r->pipes[i].wr);
    }
    ringo__free(r->pipes);
    r->pipes = NULL;
    r->pipes_idle = 0;
}
