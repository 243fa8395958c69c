/*
 * http/observe_impl.h - metrics (http/metrics.c), the access log
 * (http/accesslog.c) and request IDs (http/observe.c): their per-app and
 * per-ring state and the calls the request path makes.
 *
 * Per-ring state is written only by its ring thread. Counters are _Atomic
 * but the writer bumps them with a relaxed load and store (one writer: no
 * read-modify-write instruction needed), so the hot path has no lock and no
 * locked instruction; a scrape on another thread reads them relaxed and
 * sums the rings.
 */
#ifndef RINGO_HTTP_OBSERVE_IMPL_H
#define RINGO_HTTP_OBSERVE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ringo.h"

struct ringo__sess;

/* Histogram bucket upper bounds in ns; the last bucket is +Inf. */
#define RINGO__OBS_BUCKETS 16
/* (route, method, status) counters per ring: open addressing, never resized. */
#define RINGO__OBS_SLOTS 4096u
/* Methods counted by name; the rest are "other". */
enum {
    RINGO__M_GET,
    RINGO__M_HEAD,
    RINGO__M_POST,
    RINGO__M_PUT,
    RINGO__M_DELETE,
    RINGO__M_PATCH,
    RINGO__M_OPTIONS,
    RINGO__M_CONNECT,
    RINGO__M_TRACE,
    RINGO__M_OTHER,
    RINGO__M_COUNT
};

typedef struct ringo__obs_hist {
    _Atomic uint64_t bucket[RINGO__OBS_BUCKETS + 1]; /* not cumulative: summed at scrape */
    _Atomic uint64_t sum_ns;
} ringo__obs_hist;

typedef struct ringo__obs_slot {
    _Atomic uint32_t key; /* 0: empty; set once, after count (release) */
    _Atomic uint64_t count;
} ringo__obs_slot;

/* A ring's access log buffer: single producer (the ring), single consumer (under log_lock). */
typedef struct ringo__obs_logbuf {
    char *data;
    size_t cap; /* a power of 2 */
    char pad0[64];
    _Atomic size_t head; /* bytes produced, ever (the ring) */
    char pad1[64];       /* head and tail on lines of their own */
    _Atomic size_t tail; /* bytes consumed, ever (the writer) */
    char pad2[64];
    _Atomic uint64_t dropped; /* lines that did not fit */
    time_t stamp_sec;         /* the ring's cached timestamps: this second */
    char clf_time[64];        /* "[01/Dec/2026:11:50:24 +0000]" */
    char iso_time[64];        /* "2026-12-01T11:50:24" */
    size_t clf_len, iso_len;
} ringo__obs_logbuf;

typedef struct ringo__obs_ring {
    ringo__obs_slot *slots;    /* RINGO__OBS_SLOTS */
    ringo__obs_hist *dur;      /* per route label */
    ringo__obs_hist *qwait;    /* per route label */
    _Atomic uint64_t overflow; /* requests not counted: slots full */
    uint64_t next_id;          /* generated request IDs: ring thread only */
    ringo__obs_logbuf log;
} ringo__obs_ring;

typedef struct ringo__obs {
    char *metrics_path; /* ringo_app_metrics(), or NULL */
    bool metrics, ids;
    bool timing; /* metrics or access log: requests are timed */
    char *log_path;
    int log_format; /* ringo_log_format, -1: no access log */
    int log_fd;
    unsigned nrings;
    ringo__obs_ring **rings;
    unsigned nlabels;    /* distinct route patterns, then "unmatched" */
    const char **labels; /* borrowed from the routes */
    char id_prefix[13];  /* 12 hex digits, random per process */
    pthread_t writer;
    bool writer_started;
    _Atomic bool writer_stop;
    pthread_mutex_t log_lock; /* the consumer side of every logbuf, and log_fd */
    bool lock_init;
} ringo__obs;

/* Monotonic ns (vDSO). */
static inline uint64_t ringo__obs_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A single-writer counter bump: no locked instruction (see the top). */
static inline void ringo__obs_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* http/observe.c: lifetime with the app */
ringo__obs *ringo__obs_get(ringo_app *app); /* created at the first call: NULL when out of memory */
int ringo__obs_start(ringo_app *app);       /* ringo_app_start(): 0 or -errno */
void ringo__obs_stop(ringo_app *app);       /* after the rings stopped: the last lines go out */
void ringo__obs_free(ringo_app *app);

/* The request path (ring thread). Only called when app->obs is set. */
void ringo__obs_head(struct ringo__sess *s, ringo_req *r);   /* its head is in */
void ringo__obs_answer(struct ringo__sess *s, ringo_req *r); /* before its head is written */
void ringo__obs_done(struct ringo__sess *s, ringo_req *r, size_t bytes); /* answered */
/* The route r is counted and logged under; NULL: "unmatched" (no route, or answered as it was). */
const struct ringo__route *ringo__obs_route(const ringo_req *r);

/* http/metrics.c */
int ringo__metrics_start(ringo_app *app);
void ringo__metrics_count(const ringo__obs *obs, ringo__obs_ring *o, const ringo_req *r,
                          uint64_t dur_ns);
unsigned ringo__method_index(ringo_str m);

/* http/accesslog.c */
int ringo__log_start(ringo_app *app);
void ringo__log_stop(ringo_app *app);
void ringo__log_line(ringo__obs *obs, ringo__obs_ring *o, unsigned ring, ringo_req *r, size_t bytes,
                     uint64_t dur_ns);

#endif
