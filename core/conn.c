/*
 * core/conn.c - a connection's recv, send and close on its ring.
 *
 * Lifetime: a connection is created on accept and freed only when it is
 * closing, no SQE of its own is in flight (recv_armed/send_armed clear) and
 * no protocol reference is held. Until then its slot's generation keeps
 * stale CQEs away from a reused slot.
 *
 * Output: the protocol appends to `out`; a flush moves `out` to `wbuf` and
 * sends it, one send in flight at a time. What is written while a send is in
 * flight gathers in `out` and goes with the next send, so pipelined
 * responses coalesce. Short sends resume where they stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/proxy.h"
#include "core/ring_impl.h"
#include "core/tls.h"

#define OUT_MIN 4096

void *ringo__conn_state(ringo__conn *c) { return c->proto; }
ringo__ring *ringo__conn_ring(const ringo__conn *c) { return c->ring; }
size_t ringo__conn_unsent(const ringo__conn *c)
{
    return c->out_len + c->ct_len + (c->w_len - c->w_off) + (c->tls ? ringo__tls_held(c) : 0);
}

/* Output not yet in flight: plaintext gathered, and with TLS ciphertext made (or records
 * waiting for the kernel to take the keys). */
static size_t pending(const ringo__conn *c)
{
    return c->out_len + c->ct_len + (c->tls ? ringo__tls_held(c) : 0);
}
bool ringo__conn_closing(const ringo__conn *c)
{
    return c->state != CONN_OPEN || c->close_after_send;
}
void ringo__conn_ref(ringo__conn *c) { c->refs++; }
int ringo__conn_fd(const ringo__conn *c) { return c->fd; }

void ringo__conn_unref(ringo__conn *c)
{
    c->refs--;
    ringo__conn_maybe_free(c);
}

socklen_t ringo__conn_peer(const ringo__conn *c, struct sockaddr_storage *out)
{
    memcpy(out, &c->peer, c->peer_len);
    return c->peer_len;
}

bool ringo__conn_proxied_tls(const ringo__conn *c) { return c->pp_ssl; }

static uint64_t data_of(const ringo__conn *c, int op)
{
    return ringo__conn_data(op, c->gen, c->idx);
}

static void arm_recv(ringo__conn *c)
{
    struct io_uring_sqe *sqe;

    if (c->recv_armed || c->state == CONN_CLOSING || (c->paused && c->state == CONN_OPEN) ||
        c->eof || c->held)
        return;
    sqe = ringo__ring_sqe(c->ring);
    if (!c->tls || !ringo__tls_ktls_rx_prep(c, sqe))
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    io_uring_sqe_set_data64(sqe, data_of(c, RINGO__OP_RECV));
    c->recv_armed = true;
}

void ringo__conn_arm_recv(ringo__conn *c) { arm_recv(c); }

static void cancel_recv(ringo__conn *c)
{
    struct io_uring_sqe *sqe = ringo__ring_sqe(c->ring);

    io_uring_prep_cancel64(sqe, data_of(c, RINGO__OP_RECV), 0);
    io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
}

/*
 * A PROXY listener takes connections from its trusted networks only: from
 * anywhere else a header would be a forged client address, and a plain
 * client would bypass the load balancer. Those are closed unread.
 */
static bool proxy_refused(ringo__ring *r, const struct sockaddr_in6 *peer, socklen_t len)
{
    return r->srv->cfg.proxy_protocol &&
           (len == 0 || !ringo__ring_trusted(r, (const struct sockaddr *)peer));
}

void ringo__conn_cancel_recv(ringo__conn *c)
{
    if (c->recv_armed && c->state == CONN_OPEN)
        cancel_recv(c);
}

void ringo__conn_accepted(ringo__ring *r, int fd)
{
    const ringo__proto *p = r->proto;
    struct sockaddr_in6 peer;
    socklen_t peer_len = sizeof(peer);
    ringo__conn *c;
    int one = 1;

    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) < 0)
        peer_len = 0;
    if (proxy_refused(r, &peer, peer_len)) {
        close(fd);
        return;
    }
    if (r->nfree == 0 || !(c = ringo__calloc(1, sizeof(*c) + p->conn_size))) {
        /* Past the cap: a short answer beats a silent reset. */
        char buf[512];
        /* (Not over TLS: the client would read it as a broken record.) */
        size_t len = p->overload && !r->srv->tls ? p->overload(r, buf, sizeof(buf)) : 0;
        if (len && send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            len = 0; /* the client is gone already: nothing more to do */
        close(fd);
        return;
    }
    if (r->srv->cfg.proxy_protocol && !(c->pp = ringo__calloc(1, sizeof(*c->pp)))) {
        ringo__free(c);
        close(fd);
        return;
    }
    c->ring = r;
    c->fd = fd;
    c->idx = r->free_idx[--r->nfree];
    c->gen = ++r->gens[c->idx];
    c->heap_idx = UINT32_MAX;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->peer = peer;
    c->peer_len = peer_len;
    r->conns[c->idx] = c;
    r->nconns++;
    atomic_fetch_add_explicit(&r->stats.conns_live, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->stats.conns_accepted, 1, memory_order_relaxed);
    c->refs = 1;
    if (!r->srv->tls) {
        c->opened = true;
        p->on_open(c);
    } else if (ringo__tls_open(c) < 0) {
        ringo__conn_close(c, RINGO__CLOSE_NOW); /* the protocol opens after the handshake */
    }
    arm_recv(c);
    if (r->stopping)
        ringo__conn_drain(c);
    ringo__conn_unref(c);
}

/*
 * The PROXY header comes before anything the protocol sees; once it is in,
 * its client address replaces the socket's and the rest of the buffer is
 * the protocol's. Bytes that are no PROXY header at all close the
 * connection unanswered (it is no load balancer of ours); a malformed
 * header gets the protocol's error answer (400).
 */
void ringo__conn_proxy_input(ringo__conn *c, const char *p, size_t n)
{
    ringo__pp_result res;
    size_t used;
    int ret = ringo__pp_feed(c->pp, (const uint8_t *)p, n, &used, &res);

    if (ret == 0)
        return;
    ringo__free(c->pp);
    c->pp = NULL;
    /* On a TLS listener nothing plaintext is sent: a bad header just closes. */
    if (ret == -EBADMSG && !c->tls && c->ring->proto->on_reject) {
        c->ring->proto->on_reject(c, 400);
        return;
    }
    if (ret < 0) {
        ringo__conn_close(c, RINGO__CLOSE_NOW);
        return;
    }
    if (res.family && res.src_len <= sizeof(c->peer)) {
        memcpy(&c->peer, &res.src, res.src_len);
        c->peer_len = res.src_len;
    }
    c->pp_ssl = res.ssl;
    if (used < n && c->tls) /* the TLS handshake follows the PROXY header */
        ringo__tls_on_data(c, p + used, n - used);
    else if (used < n)
        c->ring->proto->on_data(c, p + used, n - used);
}

static void put_buffer(ringo__ring *r, char *p, size_t cap)
{
    if (cap == OUT_MIN)
        ringo__ring_cache_put(r, RINGO__CACHE_OUT, p);
    else
        ringo__free(p);
}

void ringo__conn_maybe_free(ringo__conn *c)
{
    ringo__ring *r = c->ring;

    if (c->state != CONN_CLOSING || c->recv_armed || c->send_armed || c->refs)
        return;
    ringo__timer_remove(r, c);
    close(c->fd);
    ringo__free(c->pp);
    r->conns[c->idx] = NULL;
    r->free_idx[r->nfree++] = c->idx;
    r->nconns--;
    atomic_fetch_sub_explicit(&r->stats.conns_live, 1, memory_order_relaxed);
    put_buffer(r, c->out, c->out_cap);
    put_buffer(r, c->wbuf, c->w_cap);
    put_buffer(r, c->ct, c->ct_cap);
    ringo__tls_free(c);
    ringo__free(c);
}

/* Bytes received and unread: closing now would reset the connection. */
static bool input_waiting(int fd)
{
    int n = 0;

    return ioctl(fd, SIOCINQ, &n) != 0 || n > 0;
}

static void start_linger(ringo__conn *c)
{
    if (c->tls)
        ringo__tls_ktls_close_notify(c); /* everything is sent: the alert goes last */
    if (c->eof || c->ring->srv->cfg.linger_ms == 0 || (c->no_linger && !input_waiting(c->fd))) {
        ringo__conn_close(c, RINGO__CLOSE_NOW);
        return;
    }
    /*
     * Lingering close: after an error response the client may still be
     * sending; closing now with unread input would reset the connection and
     * could destroy the response before the client reads it. Shut down our
     * write side, discard input until EOF or the linger timeout.
     */
    c->state = CONN_LINGER;
    shutdown(c->fd, SHUT_WR);
    c->proto_deadline = 0;
    c->io_deadline = c->ring->now + c->ring->srv->cfg.linger_ms;
    ringo__timer_update(c->ring, c);
    arm_recv(c);
}

void ringo__conn_close(ringo__conn *c, int how)
{
    if (c->state == CONN_CLOSING)
        return;
    if (how != RINGO__CLOSE_NOW && c->state == CONN_OPEN) {
        /* Lingering wins: one reason to expect more input is enough. */
        c->no_linger = how == RINGO__CLOSE_DONE && (c->no_linger || !c->close_after_send);
        c->close_after_send = true;
        if (c->tls)
            ringo__tls_shutdown(c); /* close_notify after the output */
        if (!c->send_armed && !c->lent && pending(c) == 0)
            start_linger(c);
        else
            ringo__conn_flush(c);
        return;
    }
    /* TLS with nothing on its way out: close_notify first (idle timeout, the peer's own). */
    if (c->tls && c->state == CONN_OPEN && !c->send_armed && !c->lent && pending(c) == 0)
        ringo__tls_goodbye(c);
    c->state = CONN_CLOSING;
    c->proto_deadline = c->io_deadline = 0;
    ringo__timer_remove(c->ring, c);
    if (c->recv_armed || c->send_armed) {
        struct io_uring_sqe *sqe = ringo__ring_sqe(c->ring);
        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, RINGO__OP_NONE);
    }
    if (c->tls)
        ringo__tls_closing(c);
    if (c->opened)
        c->ring->proto->on_close(c);
    ringo__conn_maybe_free(c);
}

/* Only this ring writes its counters (bytes, TLS): a plain load and store, no locked add. */
static void ring_count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void ringo__conn_count_sent(ringo__conn *c, uint64_t n)
{
    ring_count(&c->ring->stats.bytes_sent, n);
    ring_count(&c->ring->stats.bytes_direct, n);
}

/* The peer sent all it will. */
static void peer_done(ringo__conn *c)
{
    c->eof = true;
    if (c->state == CONN_LINGER)
        ringo__conn_close(c, RINGO__CLOSE_NOW);
    else if (c->state == CONN_OPEN && !c->opened)
        ringo__conn_close(c, RINGO__CLOSE_NOW); /* gone during the handshake */
    else if (c->state == CONN_OPEN)
        c->ring->proto->on_eof(c);
}

void ringo__conn_on_recv(ringo__conn *c, struct io_uring_cqe *cqe)
{
    bool more = cqe->flags & IORING_CQE_F_MORE;

    if (!more)
        c->recv_armed = false;
    if (cqe->res > 0) {
        ring_count(&c->ring->stats.bytes_recv, (uint64_t)cqe->res);
        if (c->active_ms != c->ring->now) { /* one more active connection this ms */
            c->active_ms = c->ring->now;
            c->ring->act_now++;
        }
    }
    if (cqe->res > 0 && c->tls && ringo__tls_ktls_rx(c)) {
        /* kTLS receive: plaintext, or a FIN (a recvmsg's completion is never empty). */
        uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char *p = ringo__bufring_get(c->ring, bid);
        int k;

        ringo__mark_defined(p, (size_t)cqe->res);
        k = ringo__tls_ktls_input(c, p, (size_t)cqe->res);
        ringo__bufring_put(c->ring, bid);
        if (k < 0)
            ringo__conn_close(c, RINGO__CLOSE_NOW);
        else if (k == 0)
            peer_done(c);
        else if (!more)
            arm_recv(c);
    } else if (cqe->res > 0) {
        uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char *p = ringo__bufring_get(c->ring, bid);
        ringo__mark_defined(p, (size_t)cqe->res);
        if (c->state == CONN_OPEN && c->pp)
            ringo__conn_proxy_input(c, p, (size_t)cqe->res);
        else if (c->state == CONN_OPEN && c->tls)
            ringo__tls_on_data(c, p, (size_t)cqe->res);
        else if (c->state == CONN_OPEN)
            c->ring->proto->on_data(c, p, (size_t)cqe->res);
        ringo__bufring_put(c->ring, bid);
        /* A multishot recv that ended with data (CQ overflow) is re-armed. */
        if (!more)
            arm_recv(c);
    } else if (cqe->res == 0) {
        peer_done(c);
    } else if (cqe->res == -ENOBUFS) {
        /* Buffers were handed back during this batch: the new recv finds them. */
        arm_recv(c);
    } else if (cqe->res == -ECANCELED) {
        arm_recv(c); /* a pause that was lifted before its cancel landed */
    } else {
        ringo__conn_close(c, RINGO__CLOSE_NOW);
    }
}

/*
 * The SQE's length is 32 bits: 4 GiB left would become a send of 0 bytes,
 * resubmitted forever. The kernel moves at most this much per send anyway.
 */
#define SEND_MAX ((size_t)0x7ffff000)

static void submit_send(ringo__conn *c)
{
    struct io_uring_sqe *sqe = ringo__ring_sqe(c->ring);
    size_t left = c->w_len - c->w_off;

    /* send, not writev: a vanished peer gives -EPIPE instead of SIGPIPE. */
    io_uring_prep_send(sqe, c->fd, c->wbuf + c->w_off, left < SEND_MAX ? left : SEND_MAX,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, data_of(c, RINGO__OP_SEND));
    c->send_armed = true;
    if (c->ring->srv->cfg.send_timeout_ms) {
        c->io_deadline = c->ring->now + c->ring->srv->cfg.send_timeout_ms;
        ringo__timer_update(c->ring, c);
    }
}

/*
 * The gathered bytes (`out`, or `ct` under TLS) go out: they become `wbuf`,
 * and the sent buffer gathers next.
 */
static void send_swapped(ringo__conn *c, char **buf, size_t *cap, size_t *len)
{
    char *tmp = c->wbuf;
    size_t tmp_cap = c->w_cap;

    c->wbuf = *buf;
    c->w_cap = *cap;
    c->w_len = *len;
    c->w_off = 0;
    *buf = tmp;
    *cap = tmp_cap;
    *len = 0;
    submit_send(c);
}

/*
 * TLS: the gathered plaintext becomes records in `ct`, which goes out as
 * `out` does without TLS. Encryption waits for the send slot, so pipelined
 * responses share records. The encryption fails only when a buffer cannot
 * grow: the socket is shut down, and the recv's end closes the connection
 * from the ring's loop (not from inside the protocol's call).
 */
void ringo__conn_flush(ringo__conn *c)
{
    if (c->send_armed || c->lent || c->state == CONN_CLOSING)
        return;
    if (c->tls && (ringo__tls_encrypt(c) < 0 || (!c->ct_len && ringo__tls_ktls_switch(c) < 0))) {
        shutdown(c->fd, SHUT_RDWR);
        return;
    }
    if (c->tls && c->ct_len)
        send_swapped(c, &c->ct, &c->ct_cap, &c->ct_len);
    else if (!c->tls && c->out_len)
        send_swapped(c, &c->out, &c->out_cap, &c->out_len);
}

/*
 * The borrower's writes must never block: a splice blocked on a full socket
 * sits in an io-wq worker where cancels do not reach it. The connection's
 * own ops are io_uring's and poll-driven either way.
 */
static int set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int ringo__conn_lend(ringo__conn *c)
{
    if (c->state != CONN_OPEN || c->close_after_send)
        return -ECANCELED;
    if (c->tls && !ringo__tls_ktls_tx(c))
        return -EOPNOTSUPP; /* the bytes must go through OpenSSL's record layer */
    if (c->send_armed || c->lent || ringo__conn_unsent(c))
        return -EBUSY;
    if (set_nonblock(c->fd, true) < 0)
        return -errno;
    c->lent = true;
    return 0;
}

void ringo__conn_lent_wait(ringo__conn *c)
{
    uint32_t ms = c->ring->srv->cfg.send_timeout_ms;

    if (!c->lent || !ms || c->state != CONN_OPEN)
        return;
    c->io_deadline = c->ring->now + ms;
    ringo__timer_update(c->ring, c);
}

void ringo__conn_unlend(ringo__conn *c)
{
    if (!c->lent)
        return;
    c->lent = false;
    if (c->state == CONN_OPEN)
        c->io_deadline = 0; /* the borrower's; a send or a linger sets its own */
    set_nonblock(c->fd, false);
    if (c->state != CONN_OPEN)
        return;
    if (c->close_after_send && pending(c) == 0)
        start_linger(c);
    else
        ringo__conn_flush(c);
}

static void release_buffers(ringo__conn *c)
{
    /* An idle connection holds no output memory (RSS per idle connection). */
    put_buffer(c->ring, c->out, c->out_cap);
    put_buffer(c->ring, c->wbuf, c->w_cap);
    put_buffer(c->ring, c->ct, c->ct_cap);
    c->out = c->wbuf = c->ct = NULL;
    c->out_cap = c->w_cap = c->out_len = c->w_len = c->w_off = c->ct_cap = c->ct_len = 0;
}

/* Progress short of "all sent": a producer bounded by unsent output may go on. */
static void wrote(ringo__conn *c)
{
    if (c->opened && c->ring->proto->on_wrote)
        c->ring->proto->on_wrote(c);
}

void ringo__conn_on_send(ringo__conn *c, int32_t res)
{
    c->send_armed = false;
    if (res < 0) {
        ringo__conn_close(c, RINGO__CLOSE_NOW);
        return;
    }
    c->w_off += (size_t)res;
    ring_count(&c->ring->stats.bytes_sent, res);
    if (c->state == CONN_CLOSING)
        return;
    if (c->w_off < c->w_len) {
        submit_send(c);
        wrote(c);
        return;
    }
    c->w_off = c->w_len = 0;
    if (pending(c)) {
        ringo__conn_flush(c);
        /* TLS drops what was written after close_notify: then all is sent after all. */
        if (c->send_armed || pending(c)) {
            wrote(c);
            return;
        }
    }
    c->io_deadline = 0;
    ringo__timer_update(c->ring, c);
    release_buffers(c);
    if (c->close_after_send && c->state == CONN_OPEN)
        start_linger(c);
    else if (c->state == CONN_OPEN && c->opened)
        c->ring->proto->on_sent(c);
}

static int grow(ringo__conn *c, char **buf, size_t *bcap, size_t len, size_t need)
{
    size_t cap = *bcap ? *bcap : OUT_MIN;
    char *p;

    while (cap < len + need) {
        if (cap > SIZE_MAX / 4)
            return -ENOMEM; /* doubling would wrap to 0 */
        cap *= 2;
    }
    if (!*buf && cap == OUT_MIN)
        p = ringo__ring_cache_get(c->ring, RINGO__CACHE_OUT, OUT_MIN);
    else
        p = ringo__realloc(*buf, cap);
    if (!p)
        return -ENOMEM;
    *buf = p;
    *bcap = cap;
    return 0;
}

static int grow_out(ringo__conn *c, size_t need)
{
    return grow(c, &c->out, &c->out_cap, c->out_len, need);
}

int ringo__conn_ct_append(ringo__conn *c, const void *p, size_t n)
{
    if (c->ct_len + n > c->ct_cap && grow(c, &c->ct, &c->ct_cap, c->ct_len, n) < 0)
        return -ENOMEM;
    memcpy(c->ct + c->ct_len, p, n);
    c->ct_len += n;
    return 0;
}

char *ringo__conn_reserve(ringo__conn *c, size_t n)
{
    if (n > SIZE_MAX / 4 - c->out_len)
        return NULL; /* out_len + n would wrap, or no buffer this large can be had */
    if (c->out_len + n > c->out_cap && grow_out(c, n) < 0)
        return NULL;
    return c->out + c->out_len;
}

void ringo__conn_commit(ringo__conn *c, size_t n) { c->out_len += n; }

void ringo__conn_pause(ringo__conn *c)
{
    if (c->paused)
        return;
    c->paused = true;
    if (c->recv_armed && c->state == CONN_OPEN)
        cancel_recv(c);
}

void ringo__conn_resume(ringo__conn *c)
{
    if (!c->paused)
        return;
    c->paused = false;
    arm_recv(c);
}

void ringo__conn_timer(ringo__conn *c, int kind, uint32_t ms)
{
    if (c->state != CONN_OPEN)
        return;
    c->timer_kind = kind;
    c->proto_deadline = (kind != 0 && ms) ? c->ring->now + ms : 0;
    ringo__timer_update(c->ring, c);
}

void ringo__conn_expire(ringo__conn *c)
{
    ringo__ring *r = c->ring;

    if (c->io_deadline && c->io_deadline <= r->now) {
        /* Send stall (client stopped reading) or linger time is up. */
        ringo__conn_close(c, RINGO__CLOSE_NOW);
        return;
    }
    if (c->proto_deadline && c->proto_deadline <= r->now && !c->opened) {
        ring_count(&r->stats.tls_handshake_timeouts, 1);
        ringo__conn_close(c, RINGO__CLOSE_NOW); /* the TLS handshake timed out */
        return;
    }
    if (c->proto_deadline && c->proto_deadline <= r->now) {
        int kind = c->timer_kind;
        c->proto_deadline = 0;
        c->timer_kind = 0;
        ringo__timer_update(r, c);
        r->proto->on_timer(c, kind);
        return;
    }
    ringo__timer_update(r, c);
}

void ringo__conn_drain(ringo__conn *c)
{
    if (c->state == CONN_OPEN && !c->opened)
        ringo__conn_close(c, RINGO__CLOSE_NOW); /* mid-handshake: no request to finish */
    else if (c->state == CONN_OPEN)
        c->ring->proto->on_drain(c);
}
