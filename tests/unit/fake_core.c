/*
 * tests/unit/fake_core.c - the in-memory core of fake_core.h.
 *
 * It mirrors core/conn.c's rules where the protocol can see them: a flush
 * starts a send only when none is in flight; a completed send flushes what
 * gathered meanwhile, else ends an after-send close or calls on_sent; input
 * and timers reach the protocol only while the connection is open; on_close
 * runs once, and never inside a callback the protocol is still in when it
 * asked for an after-send close.
 *
 * This file stands in for core, so it may see core's server struct (to take
 * the protocol, app and config ringo_app_start() hands over); the tests
 * themselves include only fake_core.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/proxy.h"
#include "core/server.h"
#include "core/tls.h"
#include "core/task.h"
#include "fake_core.h"

#define MAX_CONNS 64
#define MAX_STEPS 1000000 /* bound on fake_run()'s loop */

struct ringo__ring {
    ringo__server *srv;
    const ringo__proto *proto;
    uint64_t now;
    ringo__ring_stats stats;
    ringo__conn *conns[MAX_CONNS];
    unsigned holds; /* pool jobs in flight */
    struct io_uring uring;
    bool has_uring;
    struct io_uring_sqe sqe; /* what ringo__ring_sqe() hands out: never submitted */
    unsigned sqes;
};

static ringo__ring the_ring;
static size_t wire_base[MAX_CONNS]; /* fake_wire_clear() marks, by slot */

static int slot_of(const ringo__conn *c)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (the_ring.conns[i] == c)
            return i;
    CHECKF(0, "connection not on the fake ring");
    return -1;
}

static void grow(char **buf, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 256;

    if (need <= *cap)
        return;
    while (n < need)
        n *= 2;
    *buf = realloc(*buf, n);
    CHECK(*buf);
    *cap = n;
}

/* ---- server: what ringo_app_start() and friends call ---- */

int ringo__server_init(ringo__server *s, const ringo__server_opts *opts)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *opts->cfg;
    s->proto = opts->proto;
    s->app = opts->app;
    s->drain_hook = opts->drain_hook;
    s->sig_fd = s->stop_efd = -1;
    s->host = strdup(s->cfg.host ? s->cfg.host : "0.0.0.0");
    s->cfg.host = s->host;
    if (s->cfg.trusted_proxies) {
        int n = ringo__cidrs_parse(s->cfg.trusted_proxies, &s->trusted);
        if (n < 0)
            return n;
        s->ntrusted = (unsigned)n;
    }
    return s->host ? 0 : -ENOMEM;
}

int ringo__server_handle_signals(ringo__server *s)
{
    (void)s;
    return 0;
}

int ringo__server_probe(const ringo__server *s)
{
    (void)s;
    return 0;
}

/* Where the protocol hands core its callbacks, app and config: the fake ring takes them. */
int ringo__server_start(ringo__server *s)
{
    memset(&the_ring, 0, sizeof(the_ring));
    the_ring.srv = s;
    the_ring.proto = s->proto;
    the_ring.now = 1000000;
    the_ring.has_uring = io_uring_queue_init(64, &the_ring.uring, 0) == 0;
    s->port = 8080;
    return 0;
}

unsigned ringo__server_threads(const ringo_config *cfg)
{
    (void)cfg;
    return 1; /* the one fake ring */
}

void ringo__server_stop(ringo__server *s) { (void)s; }
int ringo__server_reload(ringo__server *s)
{
    (void)s;
    return -EINVAL;
}
int ringo__server_wait(ringo__server *s)
{
    (void)s;
    return 0;
}

void ringo__server_free(ringo__server *s)
{
    free(s->host);
    s->host = NULL;
    free(s->trusted); /* core/proxy.c allocates with libc's malloc (core/alloc.h) */
    s->trusted = NULL;
    if (the_ring.srv != s)
        return;
    for (int i = 0; i < MAX_CONNS; i++)
        CHECK(!the_ring.conns[i]); /* every test closes its connections */
    if (the_ring.has_uring)
        io_uring_queue_exit(&the_ring.uring);
    the_ring.has_uring = false;
    the_ring.srv = NULL;
}

void ringo__server_stats(const ringo__server *s, ringo_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (the_ring.srv != s)
        return;
    out->conns_live = atomic_load(&the_ring.stats.conns_live);
    out->reqs_live = atomic_load(&the_ring.stats.reqs_live);
    out->jobs_live = atomic_load(&the_ring.stats.jobs_live);
    out->reqs_served = atomic_load(&the_ring.stats.reqs_served);
    out->pool_hops = atomic_load(&the_ring.stats.pool_hops);
}

/* ---- tasks: a body runs to its end at once (handlers that never await) ---- */

static _Thread_local ringo__fiber *current_task;

int ringo__fiber_start(ringo__fiber *t, ringo__ring *r)
{
    t->ring = r;
    t->waiting = NULL;
    t->cancelled = false;
    current_task = t;
    t->body(t);
    current_task = NULL;
    return 1;
}

void ringo__fiber_cancel(ringo__fiber *t) { t->cancelled = true; }
ringo__fiber *ringo__fiber_current(void) { return current_task; }

/* Nothing can resume a parked task here: a stream write that must wait gives up. */
int ringo__fiber_park(void) { return -ECANCELED; }
void ringo__fiber_wake(ringo__fiber *t) { (void)t; }

/* Shutdown never passes its drain deadline here. */
bool ringo__fibers_cancelling(const ringo__ring *r)
{
    (void)r;
    return false;
}

/* ---- ring ---- */

unsigned ringo__ring_id(const ringo__ring *r)
{
    (void)r;
    return 0;
}
const ringo_config *ringo__ring_config(const ringo__ring *r) { return &r->srv->cfg; }
void *ringo__ring_app(const ringo__ring *r) { return r->srv->app; }
ringo__ring_stats *ringo__ring_stats_of(ringo__ring *r) { return &r->stats; }
int ringo__ring_fd(const ringo__ring *r) { return r->has_uring ? r->uring.ring_fd : -1; }
uint64_t ringo__ring_now(const ringo__ring *r) { return r->now; }
bool ringo__ring_stop_requested(const ringo__ring *r) { return ringo__server_stopping(r->srv); }
const char *ringo__ring_date_line(ringo__ring *r)
{
    (void)r;
    return FAKE_DATE_LINE;
}
ringo__ring *ringo__ring_current(void) { return &the_ring; }
void ringo__ring_hold(ringo__ring *r) { r->holds++; }

/* One ring: nothing is ever posted across rings. */
int ringo__ring_post(ringo__ring *to, ringo__completion *comp, ringo__completion *failed)
{
    (void)to;
    (void)comp;
    (void)failed;
    return -ESHUTDOWN;
}

int ringo__ring_post_again(ringo__ring *to, ringo__completion *comp, ringo__completion *failed)
{
    return ringo__ring_post(to, comp, failed);
}

void ringo__ring_post_done(ringo__ring *to) { (void)to; }
void ringo__ring_release(ringo__ring *r) { r->holds--; }

struct io_uring_sqe *ringo__ring_sqe(ringo__ring *r)
{
    /* Route deadlines take SQEs; the fake never submits them (no deadline fires). */
    memset(&r->sqe, 0, sizeof(r->sqe));
    r->sqes++;
    return &r->sqe;
}

void *ringo__ring_cache_get(ringo__ring *r, unsigned kind, size_t size)
{
    (void)r;
    (void)kind;
    return malloc(size); /* no cache: ASan sees every object's lifetime */
}

void ringo__ring_cache_put(ringo__ring *r, unsigned kind, void *p)
{
    (void)r;
    (void)kind;
    free(p);
}

/* ---- connection: called by the protocol ---- */

void *ringo__conn_state(ringo__conn *c) { return c->proto; }
ringo__ring *ringo__conn_ring(const ringo__conn *c) { return c->ring; }
size_t ringo__conn_unsent(const ringo__conn *c) { return c->out_len + c->inflight; }
bool ringo__conn_closing(const ringo__conn *c) { return c->close_asked != FAKE_NO_CLOSE; }
void ringo__conn_ref(ringo__conn *c) { c->refs++; }
void ringo__conn_unref(ringo__conn *c)
{
    CHECK(c->refs > 0);
    c->refs--;
}

char *ringo__conn_reserve(ringo__conn *c, size_t n)
{
    grow(&c->out, &c->out_cap, c->out_len + n);
    return c->out + c->out_len;
}

void ringo__conn_commit(ringo__conn *c, size_t n)
{
    CHECK(c->out_len + n <= c->out_cap);
    c->out_len += n;
}

void ringo__conn_flush(ringo__conn *c)
{
    if (c->inflight || !c->out_len || c->closed || c->lingered)
        return;
    grow(&c->wire, &c->wire_cap, c->wire_len + c->out_len + 1);
    memcpy(c->wire + c->wire_len, c->out, c->out_len);
    c->wire_len += c->out_len;
    c->inflight = c->out_len;
    c->out_len = 0;
    c->sends++;
}

void ringo__conn_pause(ringo__conn *c)
{
    if (!c->paused)
        c->pauses++;
    c->paused = true;
}

void ringo__conn_resume(ringo__conn *c)
{
    if (c->paused)
        c->resumes++;
    c->paused = false; /* input flows again from the next fake_pump(), never inside this call */
}

static bool open_for_proto(const ringo__conn *c) { return !c->closed && !c->lingered; }

void ringo__conn_timer(ringo__conn *c, int kind, uint32_t ms)
{
    if (!open_for_proto(c))
        return;
    CHECK(kind >= 0 && kind < FAKE_TIMER_KINDS);
    c->timer_kind = kind;
    c->timer_ms = ms;
    c->timer_due = kind != 0 && ms ? c->ring->now + ms : 0;
    if (c->timer_due)
        c->timers_armed[kind]++;
}

socklen_t ringo__conn_peer(const ringo__conn *c, struct sockaddr_storage *out)
{
    struct sockaddr_in *in = (struct sockaddr_in *)out;

    (void)c;
    memset(out, 0, sizeof(*out));
    in->sin_family = AF_INET;
    in->sin_port = htons(40000);
    in->sin_addr.s_addr = htonl(0x7f000001);
    return sizeof(*in);
}

bool ringo__conn_proxied_tls(const ringo__conn *c)
{
    (void)c;
    return false;
}

/* The fake core is cleartext: no TLS layer, no ALPN (core/tls.h). */
bool ringo__conn_tls(const ringo__conn *c)
{
    (void)c;
    return false;
}

const char *ringo__conn_alpn(const ringo__conn *c, size_t *len)
{
    (void)c;
    *len = 0;
    return NULL;
}

bool ringo__ring_trusted(const ringo__ring *r, const struct sockaddr *sa)
{
    return ringo__cidrs_match(r->srv->trusted, r->srv->ntrusted, sa);
}

static void close_now(ringo__conn *c)
{
    c->closed = true;
    c->timer_due = 0;
    /* A cancelled send may not have reached the peer: only acknowledged bytes count. */
    c->wire_len -= c->inflight;
    c->inflight = 0;
    c->out_len = 0;
    c->ring->proto->on_close(c);
}

/*
 * core shuts down its write side and drains input for a while; on_close runs
 * when that ends, never inside the protocol's own call. Here it ends as soon
 * as control is back with the test (end_linger()).
 */
static void linger(ringo__conn *c) { c->lingered = true; }

static void end_linger(ringo__conn *c)
{
    if (c->lingered && !c->closed)
        close_now(c);
}

void ringo__conn_close(ringo__conn *c, int how)
{
    if (c->closed)
        return;
    if (how != RINGO__CLOSE_NOW && !c->lingered) {
        /* Lingering wins, as in core: one reason to expect more input is enough. */
        if (c->close_asked == FAKE_NO_CLOSE || how == RINGO__CLOSE_AFTER_SEND)
            c->close_asked = how;
        if (!c->inflight && !c->out_len)
            linger(c);
        else
            ringo__conn_flush(c);
        return;
    }
    if (!c->lingered)
        c->close_asked = RINGO__CLOSE_NOW;
    close_now(c);
}

/* ---- what the tests drive ---- */

ringo_app *fake_app_new(const ringo_config *cfg)
{
    ringo_config c;
    ringo_app *app;

    if (cfg)
        c = *cfg;
    else
        ringo_config_init(&c);
    c.quiet = 1;
    c.pool_threads = 1;
    CHECK(ringo_app_new(&app, &c) == 0);
    return app;
}

void fake_app_free(ringo_app *app)
{
    CHECK(fake_reqs_live() == 0);
    ringo_app_stop(app);
    CHECK(ringo_app_wait(app) == 0);
    ringo_app_free(app);
}

void fake_app_start(ringo_app *app)
{
    int ret = ringo_app_start(app);

    if (ret == RINGO_EIOURING || ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP) {
        printf("skip: io_uring unavailable for the pool: %s\n", strerror(-ret));
        exit(77);
    }
    CHECKF(ret == 0, "ringo_app_start: %s", strerror(-ret));
}

ringo__ring *fake_ring(void) { return &the_ring; }

ringo__conn *fake_open(void)
{
    int i = 0;
    ringo__conn *c;

    CHECK(the_ring.srv);
    while (i < MAX_CONNS && the_ring.conns[i])
        i++;
    CHECK(i < MAX_CONNS);
    c = calloc(1, sizeof(*c) + the_ring.proto->conn_size);
    CHECK(c);
    c->ring = &the_ring;
    c->close_asked = FAKE_NO_CLOSE;
    the_ring.conns[i] = c;
    wire_base[i] = 0;
    atomic_fetch_add(&the_ring.stats.conns_live, 1);
    the_ring.proto->on_open(c);
    return c;
}

void fake_recv(ringo__conn *c, const void *p, size_t n)
{
    CHECK(!c->eof_queued);
    if (n) { /* a receive of 0 bytes would be an EOF: nothing arrives */
        grow(&c->rx, &c->rx_cap, c->rx_len + n);
        memcpy(c->rx + c->rx_len, p, n);
        c->rx_len += n;
    }
    fake_pump(c);
}

void fake_recv_str(ringo__conn *c, const char *s) { fake_recv(c, s, strlen(s)); }

void fake_eof(ringo__conn *c)
{
    c->eof_queued = true;
    fake_pump(c);
}

void fake_pump(ringo__conn *c)
{
    while (open_for_proto(c) && !c->paused && c->rx_len) {
        size_t n = c->seg && c->seg < c->rx_len ? c->seg : c->rx_len;
        /* A copy, freed right after: like a provided buffer going back to the kernel. */
        char *buf = malloc(n);
        CHECK(buf);
        memcpy(buf, c->rx, n);
        memmove(c->rx, c->rx + n, c->rx_len - n);
        c->rx_len -= n;
        c->ring->proto->on_data(c, buf, n);
        free(buf);
    }
    if (open_for_proto(c) && !c->paused && !c->rx_len && c->eof_queued && !c->eof_delivered) {
        c->eof_delivered = true;
        c->ring->proto->on_eof(c);
    }
    end_linger(c);
}

bool fake_ack(ringo__conn *c)
{
    if (!c->inflight)
        return false;
    c->inflight = 0;
    if (c->closed)
        return true;
    if (c->out_len)
        ringo__conn_flush(c);
    else if (c->close_asked == RINGO__CLOSE_AFTER_SEND || c->close_asked == RINGO__CLOSE_DONE)
        linger(c);
    else
        c->ring->proto->on_sent(c);
    end_linger(c);
    return true;
}

void fake_run(ringo__conn *c)
{
    for (int i = 0; i < MAX_STEPS; i++) {
        size_t rx = c->rx_len;
        bool eof = c->eof_delivered;
        fake_pump(c);
        if (!fake_ack(c) && rx == c->rx_len && eof == c->eof_delivered)
            return;
    }
    CHECKF(0, "fake_run: no end");
}

void fake_advance(uint64_t ms)
{
    the_ring.now += ms;
    for (int i = 0; i < MAX_CONNS; i++) {
        ringo__conn *c = the_ring.conns[i];
        if (c && open_for_proto(c) && c->timer_due && c->timer_due <= the_ring.now) {
            int kind = c->timer_kind;
            c->timer_due = 0;
            c->timer_kind = 0;
            c->ring->proto->on_timer(c, kind);
            end_linger(c);
        }
    }
}

void fake_drain_all(void)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (the_ring.conns[i] && open_for_proto(the_ring.conns[i])) {
            the_ring.proto->on_drain(the_ring.conns[i]);
            end_linger(the_ring.conns[i]);
        }
}

void fake_close(ringo__conn *c)
{
    int i = slot_of(c);

    end_linger(c);
    if (!c->closed)
        ringo__conn_close(c, RINGO__CLOSE_NOW);
    CHECKF(c->refs == 0, "%d references left on a closed connection", c->refs);
    the_ring.conns[i] = NULL;
    atomic_fetch_sub(&the_ring.stats.conns_live, 1);
    free(c->out);
    free(c->wire);
    free(c->rx);
    free(c);
}

bool fake_has_pool(void) { return the_ring.has_uring; }

static void dispatch(struct io_uring_cqe *cqe)
{
    uint64_t data = cqe->user_data;
    ringo__completion *comp;

    CHECK(data >> 56 == RINGO__OP_PTR);
    comp = (ringo__completion *)(uintptr_t)(data & ((UINT64_C(1) << 56) - 1));
    comp->fn(comp, cqe->res, cqe->flags);
}

int fake_wait_jobs(void)
{
    while (the_ring.holds) {
        struct __kernel_timespec ts = {.tv_sec = 10};
        struct io_uring_cqe *cqe;
        int ret;
        CHECK(the_ring.has_uring);
        ret = io_uring_wait_cqe_timeout(&the_ring.uring, &cqe, &ts);
        if (ret == -EINTR)
            continue;
        if (ret < 0)
            return ret == -ETIME ? -ETIMEDOUT : ret;
        {
            struct io_uring_cqe copy = *cqe;
            io_uring_cqe_seen(&the_ring.uring, cqe);
            dispatch(&copy);
        }
        for (int i = 0; i < MAX_CONNS; i++)
            if (the_ring.conns[i])
                end_linger(the_ring.conns[i]);
    }
    return 0;
}

const char *fake_wire(ringo__conn *c)
{
    size_t base = wire_base[slot_of(c)];

    grow(&c->wire, &c->wire_cap, c->wire_len + 1);
    c->wire[c->wire_len] = '\0';
    return c->wire + (base < c->wire_len ? base : c->wire_len);
}

void fake_wire_clear(ringo__conn *c) { wire_base[slot_of(c)] = c->wire_len; }

uint64_t fake_reqs_live(void) { return atomic_load(&the_ring.stats.reqs_live); }

/* ---- awaits: nothing suspends here ---- */

ssize_t ringo_await_write(int fd, const void *buf, size_t len, int64_t offset)
{
    ssize_t n = pwrite(fd, buf, len, (off_t)offset);

    return n < 0 ? -errno : n;
}

ssize_t ringo_await_read(int fd, void *buf, size_t len, int64_t offset)
{
    ssize_t n = pread(fd, buf, len, (off_t)offset);

    return n < 0 ? -errno : n;
}

/* http/static.c opens through the escape hatch: not on the fake core. */
int ringo_await_sqe(void (*prep)(struct io_uring_sqe *sqe, void *arg), void *arg)
{
    (void)prep;
    (void)arg;
    return -ENOSYS;
}

int ringo_await_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out)
{
    return statx(dirfd, path, flags, mask, out) < 0 ? -errno : 0;
}
/* No splice here: the pool has no pipe, so file bodies take the copy path. */
struct io_uring_sqe *ringo__ring_sqes(ringo__ring *r, unsigned n)
{
    (void)n;
    return ringo__ring_sqe(r);
}
int ringo__await(struct io_uring_sqe *sqe, uint64_t timeout_ms)
{
    (void)sqe;
    (void)timeout_ms;
    return -ECANCELED;
}
int ringo__pipe_get(ringo__ring *r, ringo__pipe *out)
{
    (void)r;
    (void)out;
    return -EBUSY;
}
void ringo__pipe_put(ringo__ring *r, ringo__pipe *p, bool clean)
{
    (void)r;
    (void)p;
    (void)clean;
}
int ringo__conn_fd(const ringo__conn *c)
{
    (void)c;
    return -1;
}
int ringo__conn_lend(ringo__conn *c)
{
    (void)c;
    return -EBUSY;
}
void ringo__conn_unlend(ringo__conn *c) { (void)c; }
void ringo__conn_count_sent(ringo__conn *c, uint64_t n) { (void)c, (void)n; }

void ringo__conn_lent_wait(ringo__conn *c) { (void)c; }
