/*
 * tests/unit/fake_core.h - an in-memory core for unit tests of http/.
 *
 * fake_core.c implements exactly the interface http/ uses from core
 * (core/ring.h: ringo__conn_*, ringo__ring_*; the ringo__task_* and
 * ringo__server_* calls) without sockets or ring threads, and drives the
 * protocol through its ringo__proto callbacks the way core/conn.c does:
 *
 * - input: fake_recv() queues bytes "in the socket"; they are handed to
 *   on_data in segments of c->seg bytes (0: all at once) while the
 *   connection is open and not paused; fake_eof() delivers on_eof after them;
 * - output: what the protocol reserves and commits gathers in `out`; a flush
 *   appends it to `wire` and makes it the send in flight; fake_ack()
 *   completes that send (next flush, lingering close or on_sent, as core
 *   does); nothing is acknowledged unless the test says so (fake_run());
 * - close: the mode asked for is recorded; after-send closes once the output
 *   is acknowledged, then on_close runs (the lingering close ends at once);
 * - timers: one per connection, kind and due time recorded; fake_advance()
 *   moves the ring clock and fires what is due (on_timer).
 *
 * RINGO_ASYNC handlers run inline (a task body runs to its end in
 * ringo__fiber_start): only handlers that never await work here. RINGO_SYNC
 * handlers run on the real pool, which hands them back through a real
 * io_uring owned by the fake ring: fake_wait_jobs() reaps those CQEs.
 */
#ifndef RINGO_TESTS_FAKE_CORE_H
#define RINGO_TESTS_FAKE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ring.h"
#include "ringo.h"

/* The Date line the fake ring serves (37 bytes, as core's). */
#define FAKE_DATE_LINE "Date: Tue, 01 Dec 2026 00:00:00 GMT\r\n"

#define FAKE_NO_CLOSE (-1)
#define FAKE_TIMER_KINDS 8

struct ringo__conn {
    ringo__ring *ring;
    /* Output gathered, not yet flushed. */
    char *out;
    size_t out_len, out_cap;
    /* Every byte flushed, in order; the last `inflight` are the send in flight. */
    char *wire;
    size_t wire_len, wire_cap, inflight;
    unsigned sends; /* sends started (pipelined answers coalesce into one) */
    /* Input not yet handed to the protocol. */
    char *rx;
    size_t rx_len, rx_cap;
    size_t seg; /* bytes per on_data call, 0: everything queued */
    bool eof_queued, eof_delivered;
    bool paused;
    unsigned pauses, resumes;
    /* Closing. */
    int close_asked; /* strongest RINGO__CLOSE_* asked for, FAKE_NO_CLOSE */
    bool lingered;   /* closed after its output went out (write side shut) */
    bool closed;     /* on_close ran */
    /* The protocol timer. */
    int timer_kind;
    uint32_t timer_ms;
    uint64_t timer_due; /* ring clock, 0: none */
    unsigned timers_armed[FAKE_TIMER_KINDS];
    int refs;
    _Alignas(16) char proto[];
};

/*
 * A new app for the fake ring: cfg (ringo_config_init()'s defaults when
 * NULL), made quiet (expected errors would flood the test log), with one
 * pool thread: the fake ring reaps hand-backs one at a time anyway. The test
 * adds its routes, then calls fake_app_start().
 */
ringo_app *fake_app_new(const ringo_config *cfg);

/* Checks no request outlived its connection, then stops, waits and frees app. */
void fake_app_free(ringo_app *app);

/*
 * ringo_app_start() on the fake ring; exits 77 (skip) when the pool cannot
 * start because io_uring is unavailable (its hand-back needs it).
 */
void fake_app_start(ringo_app *app);

/* The ring http/ runs on (set up by ringo_app_start()). */
ringo__ring *fake_ring(void);

/* A new connection: on_open ran. */
ringo__conn *fake_open(void);

/* Queues n bytes from the peer and hands what the protocol may take to it. */
void fake_recv(ringo__conn *c, const void *p, size_t n);
void fake_recv_str(ringo__conn *c, const char *s);

/* The peer shut down its write side (delivered after the queued bytes). */
void fake_eof(ringo__conn *c);

/* Hands queued input (and a queued EOF) to the protocol while it may take it. */
void fake_pump(ringo__conn *c);

/* Completes the send in flight; false when there was none. */
bool fake_ack(ringo__conn *c);

/* Acknowledges sends and delivers input until nothing moves. */
void fake_run(ringo__conn *c);

/* Moves the ring clock by ms and fires the protocol timers that came due. */
void fake_advance(uint64_t ms);

/* Shutdown began: on_drain for every open connection. */
void fake_drain_all(void);

/* Closes c now if it is not closed, checks no reference is left, frees it. */
void fake_close(ringo__conn *c);

/* Waits (bounded) until no pool job of the ring is in flight, running the
 * completions they post. Returns 0, or -ETIMEDOUT. */
int fake_wait_jobs(void);

/* True when pool hand-backs work here (an io_uring could be set up). */
bool fake_has_pool(void);

/* The wire as a NUL-terminated string (valid until the next output). */
const char *fake_wire(ringo__conn *c);

/* Forgets the wire so far (the next assertions see only new output). */
void fake_wire_clear(ringo__conn *c);

/* Requests alive on the fake ring (must be 0 once connections closed). */
uint64_t fake_reqs_live(void);

#endif
