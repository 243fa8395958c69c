/*
 * pool/pool.h - the work-stealing thread pool behind RINGO_SYNC handlers.
 *
 * Rings submit jobs (one per sync request) into a bounded global injection
 * queue. N worker threads take them, run them (a sync handler may block), and
 * post the job's completion CQE to the ring that submitted it with
 * IORING_OP_MSG_RING (pool/msgring.h). Each worker also owns a Chase-Lev
 * deque (pool/deque.h) for the fork/join subtasks of ringo/pool.h; idle
 * workers steal those from random victims before looking at the injection
 * queue, then park on a futex.
 *
 * Job memory passes ring -> worker -> ring:
 *   the ring fills the job and calls ringo__pool_submit() (the queue's mutex
 *   orders its writes before the worker's reads); the worker runs the job,
 *   which writes the response, then posts the CQE; the ring reads the
 *   response after reaping that CQE, and must call ringo__pool_job_acquire()
 *   first. The kernel orders the CQE after the post, but ThreadSanitizer cannot
 *   see that: the worker annotates a release on the job before posting and
 *   ringo__pool_job_acquire() the matching acquire.
 *
 * Every job accepted by ringo__pool_submit() gets exactly one completion:
 * run() then a CQE, or (at shutdown) cancel() then a CQE with res -ECANCELED
 * unless cancel() changed it. A job marked must_run (dependency teardowns:
 * they release what a request holds) is not cancelled at the drain deadline:
 * it still runs, on the workers, in parallel, until the pool closes
 * (ringo__pool_close(), the teardown deadline); only then is it cancelled if
 * it has not started.
 * A job whose ring_fd is negative gets no CQE; its run()/cancel() must
 * signal completion itself.
 */
#ifndef RINGO_POOL_POOL_H
#define RINGO_POOL_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/util.h" /* ringo__tsan_acquire/release */

typedef struct ringo__pool ringo__pool;
typedef struct ringo__job ringo__job;

/*
 * A job, owned by the submitter, embedded in its request object. From submit
 * until its completion CQE is reaped the pool may touch it; the worker
 * touches it no more once it has posted the CQE.
 */
struct ringo__job {
    void (*run)(ringo__job *job);    /* on a worker; may block, may fork/join */
    void (*cancel)(ringo__job *job); /* never run: shutdown; NULL allowed */
    int ring_fd;                     /* ring to post the CQE to; < 0: none */
    int32_t cqe_res;                 /* res of that CQE; run/cancel may set it */
    uint64_t cqe_data;               /* user_data of that CQE */
    const char *label;               /* names it if it outlives ringo__pool_close(); may be NULL */
    const _Atomic bool *gone;        /* admission on: true when nobody waits for the job any
                                        more (its client left): dropped before it runs; NULL */
    uint64_t deadline_ns;            /* admission on: CLOCK_MONOTONIC ns past which running it
                                        is useless (its route deadline); 0: none */
    uint64_t max_wait_ns;            /* its own queue-time bound (a route's); 0: none */
    ringo__job *next;                /* private: injection queue links */
    ringo__job *prev;
    uint64_t enq_ns;   /* private: when it was queued (CLOCK_MONOTONIC ns) */
    uint8_t must_run;  /* never cancelled: runs even past the drain deadline */
    uint8_t unbounded; /* private: from ringo__pool_submit_nolimit() */
};

typedef struct ringo__pool_opts {
    unsigned threads;           /* workers; 0: ringo__pool_default_threads() */
    unsigned max_queued;        /* queued-not-started jobs before -EAGAIN; 0: 1024 */
    int force_fallback;         /* 1: per-worker rings even where the registered
                                   synchronous MSG_RING exists (tests, debugging) */
    int fail_posts;             /* tests: the first N completion posts fail (-EIO) as if
                                   the kernel refused them */
    uint32_t queue_target_ms;   /* admission by queue time (see "Admission" below); 0: off */
    uint32_t queue_interval_ms; /* its interval; 0: 100 */
} ringo__pool_opts;

typedef struct ringo__pool_stats {
    uint64_t queued;             /* accepted, not started yet */
    uint64_t running;            /* started, not finished */
    uint64_t completed;          /* totals since start: run to the end */
    uint64_t cancelled;          /* cancelled at shutdown */
    uint64_t rejected;           /* refused with -EAGAIN */
    uint64_t post_failed;        /* completion CQEs the kernel refused */
    uint64_t enqueued;           /* jobs that entered the queue (rejected ones never do) */
    uint64_t wait_ns;            /* their queue waits, summed as they leave it */
    uint64_t admission_rejected; /* refused by the queue-time controller (-EBUSY) */
    uint64_t dropped_gone;       /* taken from the queue but not run: nobody waits any more */
    uint64_t dropped_deadline;   /* refused or not run: the deadline cannot be met */
    uint64_t dropped_expired;    /* LIFO: waited past min(target, interval), not run */
    uint64_t lifo_switches;      /* times the queue turned LIFO */
    uint64_t lifo_active;        /* 1 while it is LIFO */
    uint64_t overloaded;         /* 1 while the controller sees a standing queue */
} ringo__pool_stats;

/*
 * Admission (queue_target_ms != 0). Every job is stamped as it enters the
 * queue; its sojourn is measured as a worker takes it. As in CoDel, a queue
 * is "standing" (the pool overloaded) when the smallest sojourn over a whole
 * interval exceeds the target; it stays so until an interval in which the
 * queue was empty at some point and no request was refused (the workers
 * caught up, not the refusals). A request job
 * (ringo__pool_submit()) is refused with -EBUSY, before it enters the queue,
 * when the queue delay it would see exceeds the target while overloaded, or
 * the interval otherwise (a burst). That delay is the time the workers need
 * to work off the queue (its length times the jobs' mean run time, over the
 * workers), in FIFO at least the oldest job's age; in LIFO, unbounded when
 * the workers took nothing for an interval. So the queue holds about
 * `target` worth of work: the workers never idle, and an admitted request
 * waits about the target at most.
 * Overloaded for two intervals in a row, the queue turns LIFO: the newest
 * request (whose client still waits) is taken first, and a request job that
 * waited longer than the target (or the interval, if shorter) is taken from
 * the bottom and dropped
 * (cancel() with cqe_res -EAGAIN). Request jobs whose `gone` is set, or
 * whose deadline passed, are dropped the same way as a worker takes them
 * (-ENOTCONN, -ETIMEDOUT); one whose deadline cannot be met given the queue
 * delay is refused at submit (-ETIMEDOUT). Post-response jobs
 * (ringo__pool_submit_nolimit()) are never refused nor dropped.
 */

#define RINGO__POOL_DEFAULT_MAX_QUEUED 1024u
#define RINGO__POOL_MAX_THREADS 1024u

/*
 * The default worker count: max(40, 4 * online CPUs), capped at
 * RINGO__POOL_MAX_THREADS. Sync handlers block (files, databases, sleeps), so
 * the pool is sized for blocking capacity rather than for cores: 40 is the
 * number of sync path operations FastAPI (AnyIO's thread limiter) runs at
 * once. On large machines 4 per core keeps every core busy with fork/join
 * work even while most workers are blocked. Idle workers sleep on a futex and
 * cost no CPU.
 */
unsigned ringo__pool_default_threads(void);

/* Fills *opts with the defaults. */
void ringo__pool_opts_init(ringo__pool_opts *opts);

/*
 * From inside a job, on its worker: posts one extra CQE {data, res} to the
 * ring whose fd is ring_fd through the worker's own MSG_RING sender (a job
 * handing a ring data before it finishes: streamed response chunks). The
 * ring must keep alive what data points to until that CQE is reaped.
 * Returns 0, -EPERM when the caller is not a pool worker, or the post's
 * error (see ringo__msgring_post()).
 */
int ringo__pool_post(int ring_fd, uint64_t data, int32_t res);

/*
 * Probes MSG_RING support, starts the workers and stores the pool in *out.
 * opts may be NULL (defaults). Returns 0; -ENOSYS/-EPERM when io_uring is
 * unavailable, -EOPNOTSUPP when the kernel lacks IORING_OP_MSG_RING,
 * -EINVAL for threads above RINGO__POOL_MAX_THREADS, -ENOMEM, or the error of
 * pthread_create. On failure nothing is left running.
 */
int ringo__pool_new(ringo__pool **out, const ringo__pool_opts *opts);

/*
 * Queues job (any thread; run, ring_fd, cqe_data set; cancel optional).
 * Returns 0; -EAGAIN when max_queued jobs wait already (the server answers
 * 503 with Retry-After); -EBUSY when admission refuses it, or its own
 * max_wait_ns is less than the queue delay; -ETIMEDOUT when its deadline
 * cannot be met (both: see "Admission" above); -ESHUTDOWN once
 * ringo__pool_stop() has begun (for a must_run job: once it has returned).
 * On failure the pool never touches the job.
 */
int ringo__pool_submit(ringo__pool *p, ringo__job *job);

/*
 * ringo__pool_submit() without the max_queued bound: for work that must
 * never be refused once its request was accepted (dependency teardowns,
 * background tasks), so a full pool cannot deadlock them. Such jobs do not
 * count against max_queued either: post-response work cannot starve request
 * admission (the app bounds it on its own, ringo_config.max_post_inflight).
 * -ESHUTDOWN only.
 */
int ringo__pool_submit_nolimit(ringo__pool *p, ringo__job *job);

/*
 * Shutdown, step one: stops accepting jobs (but must_run ones) and waits up
 * to drain_ms for queued jobs to start; then cancels the ones still queued
 * but must_run (on the calling thread: cancel(), then their CQE). The
 * workers go on with the must_run ones and what they run. Idempotent. Must
 * not be called from a worker (nor are the calls below).
 */
void ringo__pool_drain(ringo__pool *p, uint64_t drain_ms);

/*
 * Step two (drains with 0 ms first if that was not done): waits up to
 * wait_ms for the queue to empty and every worker to be idle, then refuses
 * every job, cancels those still queued (must_run ones included), and joins
 * the workers. Workers still inside a job at that point are named on
 * stderr (by job label) and left running: their jobs may use memory and
 * rings the pool cannot see, so nothing is freed under them. Returns how
 * many were left running (0: every worker was joined). The target rings must
 * keep reaping until it returns. Idempotent (returns the same count).
 */
unsigned ringo__pool_close(ringo__pool *p, uint64_t wait_ms);

/* Drain then close, waiting without a bound: every job runs to the end. */
void ringo__pool_stop(ringo__pool *p, uint64_t drain_ms);

/* Closes the pool without a bound on the wait if that was not done, then
 * frees it; after a close that left jobs running, only once they all
 * returned: else it frees nothing (leaks the pool, whose workers still use
 * it). NULL is a no-op. */
void ringo__pool_free(ringo__pool *p);

/* RINGO__MSGRING_REGISTERED or RINGO__MSGRING_FALLBACK (pool/msgring.h). */
int ringo__pool_msgring_mode(const ringo__pool *p);

/* Number of workers. */
unsigned ringo__pool_threads(const ringo__pool *p);

/* Current counters; approximate while jobs are moving. */
void ringo__pool_stats_get(const ringo__pool *p, ringo__pool_stats *out);

/*
 * Call on the ring thread after reaping a job's CQE and before reading what
 * the worker wrote into the job (or freeing it): tells ThreadSanitizer about
 * the ordering the kernel provides. Compiles to nothing without TSan.
 */
static inline void ringo__pool_job_acquire(const ringo__job *job);

/* Inline bodies. */

static inline void ringo__pool_job_acquire(const ringo__job *job) { ringo__tsan_acquire(job); }

/* Test hook: the pool's next n completion posts fail (-EIO) as if the kernel refused them. */
void ringo__pool_fail_posts(ringo__pool *p, int n);

#endif
