/*
 * pool/pool.c - workers, injection queue, parking, fork/join, shutdown.
 *
 * Waking workers (no lost wake-ups, no thundering herd)
 * -----------------------------------------------------
 * A worker is running (a job or a subtask), searching (looking for work) or
 * parked (futex_wait on `epoch`). Whoever publishes work (a job into the
 * injection queue, a subtask onto a deque) then calls notify(): a seq_cst
 * fence, then a wake of ONE parked worker, but only when nobody is searching
 * and no wake is in flight (`waking`). Each search that succeeds while
 * other work remains wakes the next worker, so a burst fans out one wake at
 * a time instead of all at once.
 *
 * Nothing is lost because of three store-fence-load (Dekker) pairs, each
 * against notify()'s "publish; fence; read searching, waking, sleepers":
 *  - a searcher leaving the search: "searching--; fence; look again";
 *  - a parking worker: "sleepers++; fence; look again; futex_wait";
 *  - a woken worker: "searching++; waking = 0; fence; search".
 * By the seq_cst fence rule either the notifier reads the other side's store
 * (and so wakes someone, or knows a searcher or waker will see the work), or
 * the other side's look after its fence sees the published work.
 * The futex word is an epoch, read before sleepers++: a wake bumps it before
 * FUTEX_WAKE, so a worker that has not reached futex_wait yet returns from it
 * at once instead of sleeping through its wake-up.
 *
 * The injection queue is a mutex-protected intrusive FIFO: a push per request
 * is cheap next to the MSG_RING that completes it, and the mutex gives the
 * ring -> worker happens-before for the job's memory. qcount mirrors its
 * length so that idle workers and notify() can read it without the lock.
 *
 * Admission (pool.h) lives under that same lock, so it costs the hot path
 * no atomics of its own: a job is stamped as it is pushed, its sojourn read
 * as it is popped, and the controller's state changes in between. The queue
 * is doubly linked so that LIFO is only a matter of which end a worker pops.
 * The per-worker deques hold fork/join subtasks of requests already running:
 * they are never subject to admission (nor reordered), since refusing part of
 * a started request only wastes the work done.
 */
#include "pool/pool.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "pool/deque.h"
#include "pool/msgring.h"
#include "ringo/pool.h"

#define DEQUE_LOG_SIZE 8 /* 256 subtasks before the first growth */
#define SEARCH_SPINS 8   /* extra search rounds before parking */
#define JOIN_SPINS 64    /* join: pause this many times, */
#define JOIN_YIELDS 128  /* then yield until here, then sleep in slices */
#define JOIN_SLEEP_NS 1000000L
#define STOP_RETRIES 100 /* x 10 ms: failed completion posts retried at stop */

enum { TASK_PENDING = 0, TASK_DONE = 1, TASK_SLEEPING = 2 };

typedef struct worker {
    ringo__deque deque; /* padded: first on its own cache lines */
    ringo__pool *pool;
    unsigned index;
    int thread_ok;      /* started, and not joined (nor detached) yet */
    int detached;       /* left running by ringo__pool_close() */
    _Atomic int exited; /* its last touch of the pool: set as the thread returns */
    pthread_t thread;
    uint64_t rng;
    ringo__msgring msg;
    const char *label; /* under qlock: the last job taken (ringo__pool_close() names it) */
    _Atomic uint64_t jobs_started; /* counted under qlock, as the job is taken */
    _Atomic uint64_t jobs_finished;
    char pad[64];
} worker;

/* The queue-time controller (pool.h, "Admission"); under qlock. */
typedef struct admission {
    uint64_t target_ns; /* 0: off */
    uint64_t interval_ns;
    uint64_t interval_end;
    uint64_t min_ns;            /* smallest sojourn taken in this interval; UINT64_MAX: none */
    uint64_t start;             /* this interval's start */
    uint64_t span;              /* the last interval's length (ticks come with the next event) */
    uint64_t taken, prev_taken; /* jobs taken to run in this interval, in the last one */
    _Atomic uint64_t run_ns;    /* request jobs' run time, a moving average (workers, racy) */
    unsigned over_intervals;
    unsigned refused; /* requests refused (-EBUSY) in this interval */
    bool empty_seen;  /* the queue was empty in this interval */
    bool overloaded;
    bool lifo;
} admission;

struct ringo__pool {
    worker *workers;
    unsigned nworkers;
    unsigned max_queued;
    int msg_mode;
    int stopped;     /* only the stopping thread touches it */
    int closed_once; /* the same */

    pthread_mutex_t qlock;
    pthread_cond_t qdrained; /* stop() waits for an empty queue */
    ringo__job *qhead, *qtail;
    _Atomic unsigned qcount;
    unsigned qunbounded; /* under qlock: queued jobs of ringo__pool_submit_nolimit() */
    int stopping;        /* under qlock: submit refuses, but for must_run jobs */
    int closed;          /* under qlock: submit refuses everything */
    unsigned stuck;      /* stopping thread: jobs still running when the pool closed */
    admission ad;        /* under qlock */
    char pad0[64];

    _Atomic uint32_t epoch; /* futex word of parked workers */
    _Atomic int sleepers;
    _Atomic int searching;
    _Atomic int waking;
    _Atomic int exiting;
    char pad1[64];

    _Atomic uint64_t rejected;
    _Atomic uint64_t enqueued, wait_ns, adm_rejected, dropped_gone, dropped_deadline;
    _Atomic uint64_t dropped_expired, lifo_switches;
    _Atomic bool lifo_now, over_now; /* copies of ad.lifo, ad.overloaded for stats */
    _Atomic uint64_t cancelled;
    _Atomic uint64_t post_failed;
    ringo__job *failed;       /* under qlock: jobs whose CQE the kernel refused */
    _Atomic unsigned nfailed; /* their number, read without the lock */
    ringo__msgring stop_msg;  /* stop() posts cancelled jobs' CQEs with it */
    _Atomic int fail_posts;   /* test hook: posts left to fail (ringo__pool_opts) */
};

static _Thread_local worker *tls_worker;

/* ---- futex, spinning ---- */

static long futex(void *addr, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- tasks ---- */

static int task_done(ringo_subtask *t)
{
    return __atomic_load_n(&t->state_, __ATOMIC_ACQUIRE) == TASK_DONE;
}

/* After the exchange the joiner may return and reuse the task's memory; the
 * FUTEX_WAKE then only names a stale address, which at worst wakes a futex
 * waiter there spuriously (all of ours re-check). */
static void run_task(ringo_subtask *t)
{
    t->fn(t->arg);
    if (__atomic_exchange_n(&t->state_, TASK_DONE, __ATOMIC_ACQ_REL) == TASK_SLEEPING)
        futex(&t->state_, FUTEX_WAKE, 1, NULL);
}

/* ---- injection queue ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A request job: admission applies to it, and it may be dropped. */
static bool droppable(const ringo__job *j) { return !j->unbounded && !j->must_run; }

/*
 * Closes the controller's interval once it has passed (pool.h, "Admission").
 * With no job taken in it (every worker blocked), the age of the oldest
 * queued job is a lower bound of the sojourns to come: it decides.
 */
static void tick_locked(ringo__pool *p, uint64_t now)
{
    admission *a = &p->ad;
    uint64_t m = a->min_ns;
    bool lifo;

    if (now < a->interval_end)
        return;
    if (!p->qhead)
        a->empty_seen = true;
    else if (now - p->qhead->enq_ns < m)
        m = now - p->qhead->enq_ns;
    /* Entered on a standing delay, left only once the workers caught up: an
     * admitted queue of about `target` would otherwise flip it every interval.
     * An interval in which requests were refused is no sign of that, even if
     * the queue emptied: the admitted queue is short, the demand is not, and
     * leaving would admit a whole interval of work at once (a burst of waits
     * of up to the interval, the admitted requests' tail, every time). */
    a->overloaded =
        a->overloaded ? !a->empty_seen || a->refused : m > a->target_ns && !a->empty_seen;
    a->over_intervals = a->overloaded ? a->over_intervals + 1 : 0;
    lifo = a->over_intervals >= 2;
    if (lifo && !a->lifo)
        atomic_fetch_add_explicit(&p->lifo_switches, 1, memory_order_relaxed);
    a->lifo = lifo;
    atomic_store_explicit(&p->lifo_now, lifo, memory_order_relaxed);
    atomic_store_explicit(&p->over_now, a->overloaded, memory_order_relaxed);
    a->min_ns = UINT64_MAX;
    a->refused = 0;
    a->empty_seen = !p->qhead;
    a->span = now - a->start;
    a->prev_taken = a->taken;
    a->taken = 0;
    a->start = now;
    a->interval_end = now + a->interval_ns;
}

/*
 * The queue delay a job queued now would see: the time the workers need to
 * work off the jobs queued ahead of it (their number times the mean run
 * time, over the workers), and in FIFO at least the oldest job's age. A
 * burst arriving at once has no age yet, but it has a length. In LIFO the
 * bottom of the stack waits whatever the load, so only the length counts,
 * and a whole interval in which the workers took nothing means never.
 */
static uint64_t delay_locked(const ringo__pool *p, uint64_t now)
{
    const admission *a = &p->ad;
    uint64_t n = atomic_load_explicit(&p->qcount, memory_order_relaxed), drain, age;

    if (!p->qhead)
        return 0;
    drain = n * atomic_load_explicit(&a->run_ns, memory_order_relaxed) / p->nworkers;
    if (a->lifo)
        return a->prev_taken ? drain : UINT64_MAX;
    age = now - p->qhead->enq_ns;
    return age > drain ? age : drain;
}

/* Workers, outside the lock: an update lost to a race only slows the average. */
static void run_time(ringo__pool *p, uint64_t ns)
{
    uint64_t avg = atomic_load_explicit(&p->ad.run_ns, memory_order_relaxed);

    avg = avg ? avg - avg / 8 + ns / 8 : ns;
    atomic_store_explicit(&p->ad.run_ns, avg, memory_order_relaxed);
}

static void unlink_locked(ringo__pool *p, ringo__job *j)
{
    *(j->prev ? &j->prev->next : &p->qhead) = j->next;
    *(j->next ? &j->next->prev : &p->qtail) = j->prev;
    j->next = j->prev = NULL;
}

/* FIFO, or LIFO under a standing queue, where the bottom job is dropped
 * instead once it waited longer than the shorter of the target and the
 * interval: in LIFO the bottom is served only when everything newer is, so
 * whatever wait it is allowed becomes the admitted requests' tail. */
static ringo__job *pick_locked(ringo__pool *p, uint64_t now, int *drop)
{
    ringo__job *h = p->qhead;
    uint64_t expiry = p->ad.target_ns < p->ad.interval_ns ? p->ad.target_ns : p->ad.interval_ns;

    *drop = 0;
    if (!p->ad.lifo)
        return h;
    if (droppable(h) && now - h->enq_ns > expiry) {
        *drop = -EAGAIN;
        return h;
    }
    return p->qtail;
}

/* Why a request job taken now is not run (0: it runs). */
static int stale(const ringo__job *j, uint64_t now)
{
    if (j->gone && atomic_load_explicit(j->gone, memory_order_relaxed))
        return -ENOTCONN;
    if (j->deadline_ns && now >= j->deadline_ns)
        return -ETIMEDOUT;
    return 0;
}

static void count_drop(ringo__pool *p, int drop)
{
    _Atomic uint64_t *c = drop == -ENOTCONN ? &p->dropped_gone
                          : drop == -EAGAIN ? &p->dropped_expired
                                            : &p->dropped_deadline;
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Under qlock: the controller's view of the job taken. */
static void taken_locked(ringo__pool *p, ringo__job *j, uint64_t now, int *drop)
{
    uint64_t w = now - j->enq_ns;

    atomic_fetch_add_explicit(&p->wait_ns, w, memory_order_relaxed);
    if (!p->ad.target_ns)
        return;
    if (!*drop && droppable(j))
        *drop = stale(j, now);
    if (*drop) {
        count_drop(p, *drop);
    } else {
        p->ad.min_ns = w < p->ad.min_ns ? w : p->ad.min_ns;
        p->ad.taken++;
    }
    if (!p->qhead)
        p->ad.empty_seen = true;
}

/* The job counts as started under the lock: ringo__pool_close() sees no job
 * between the queue and a worker. *drop: the job is dropped, not run (the
 * cqe_res its cancel() gets). */
static ringo__job *queue_pop(worker *w, int *drop)
{
    ringo__pool *p = w->pool;
    ringo__job *j;
    uint64_t now;

    *drop = 0;
    if (atomic_load_explicit(&p->qcount, memory_order_relaxed) == 0)
        return NULL;
    pthread_mutex_lock(&p->qlock);
    now = now_ns();
    if (p->ad.target_ns)
        tick_locked(p, now);
    j = p->qhead ? pick_locked(p, now, drop) : NULL;
    if (j) {
        w->label = j->label;
        atomic_fetch_add_explicit(&w->jobs_started, 1, memory_order_relaxed);
        unlink_locked(p, j);
        p->qunbounded -= j->unbounded;
        unsigned n = atomic_load_explicit(&p->qcount, memory_order_relaxed) - 1;
        atomic_store_explicit(&p->qcount, n, memory_order_relaxed);
        taken_locked(p, j, now, drop);
        if (n == 0 && p->stopping)
            pthread_cond_signal(&p->qdrained);
    }
    pthread_mutex_unlock(&p->qlock);
    return j;
}

/* Admission of a request job (pool.h): 0, -EBUSY or -ETIMEDOUT. */
static int admit_locked(ringo__pool *p, const ringo__job *j, uint64_t now)
{
    uint64_t d, bound;

    if (p->ad.target_ns)
        tick_locked(p, now);
    d = delay_locked(p, now);
    if (p->ad.target_ns && j->deadline_ns && (d == UINT64_MAX || now + d >= j->deadline_ns)) {
        atomic_fetch_add_explicit(&p->dropped_deadline, 1, memory_order_relaxed);
        return -ETIMEDOUT;
    }
    /* Overloaded, the queue is kept to about `target` of work; otherwise a burst
     * may queue up to an interval of it (CoDel's good queue), no more. */
    bound = p->ad.overloaded || p->ad.target_ns > p->ad.interval_ns ? p->ad.target_ns
                                                                    : p->ad.interval_ns;
    if ((p->ad.target_ns && d > bound) || (j->max_wait_ns && d > j->max_wait_ns)) {
        p->ad.refused++;
        atomic_fetch_add_explicit(&p->adm_rejected, 1, memory_order_relaxed);
        return -EBUSY;
    }
    return 0;
}

static int queue_push_locked(ringo__pool *p, ringo__job *j, bool bounded)
{
    unsigned n = atomic_load_explicit(&p->qcount, memory_order_relaxed);
    uint64_t now = now_ns();
    int ret;

    /* Stopping: work that must run (teardowns) is still taken, for the workers. */
    if (p->closed || (p->stopping && !j->must_run))
        return -ESHUTDOWN;
    /* Post-response work has its own bound (the app's): it never takes request slots. */
    if (bounded && n - p->qunbounded >= p->max_queued)
        return -EAGAIN;
    if (bounded && !j->must_run && (ret = admit_locked(p, j, now)) < 0)
        return ret;
    if (!p->qhead)
        p->ad.empty_seen = true;
    j->next = NULL;
    j->prev = p->qtail;
    j->enq_ns = now;
    j->unbounded = !bounded;
    p->qunbounded += j->unbounded;
    if (p->qtail)
        p->qtail->next = j;
    else
        p->qhead = j;
    p->qtail = j;
    atomic_store_explicit(&p->qcount, n + 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->enqueued, 1, memory_order_relaxed);
    return 0;
}

/* ---- waking and parking ---- */

static int has_work(ringo__pool *p)
{
    if (atomic_load_explicit(&p->qcount, memory_order_relaxed))
        return 1;
    for (unsigned i = 0; i < p->nworkers; i++)
        if (ringo__deque_size(&p->workers[i].deque) > 0)
            return 1;
    return 0;
}

static void wake_one(ringo__pool *p)
{
    int idle = 0;

    if (atomic_load_explicit(&p->waking, memory_order_relaxed) ||
        !atomic_compare_exchange_strong(&p->waking, &idle, 1))
        return; /* the worker being woken will search */
    atomic_fetch_add(&p->epoch, 1);
    if (futex(&p->epoch, FUTEX_WAKE, 1, NULL) <= 0)
        atomic_store(&p->waking, 0); /* nobody was in futex_wait: every counted
                                        sleeper will see the new epoch */
}

/* Called after publishing work. */
static void notify(ringo__pool *p)
{
    ringo__fence();
    if (atomic_load_explicit(&p->searching, memory_order_relaxed) == 0 &&
        atomic_load_explicit(&p->sleepers, memory_order_relaxed) > 0)
        wake_one(p);
}

/* A searcher found work. If it was the last searcher and more work waits,
 * hand the search on to a parked worker. */
static void search_found(ringo__pool *p)
{
    if (atomic_fetch_sub(&p->searching, 1) != 1)
        return;
    ringo__fence();
    if (atomic_load_explicit(&p->sleepers, memory_order_relaxed) > 0 && has_work(p))
        wake_one(p);
}

/* A searcher found nothing. Returns 1 when it may park, 0 when work appeared
 * meanwhile (it is searching again). */
static int search_failed(ringo__pool *p)
{
    atomic_fetch_sub(&p->searching, 1);
    ringo__fence();
    if (!has_work(p))
        return 1;
    atomic_fetch_add(&p->searching, 1);
    return 0;
}

/* Parks until woken (or until work or exit shows up on the re-check), and
 * returns as a searcher. */
static void park(ringo__pool *p)
{
    uint32_t seq = atomic_load_explicit(&p->epoch, memory_order_acquire);

    atomic_fetch_add(&p->sleepers, 1);
    ringo__fence();
    if (!has_work(p) && !atomic_load_explicit(&p->exiting, memory_order_relaxed))
        futex(&p->epoch, FUTEX_WAIT, seq, NULL);
    atomic_fetch_sub(&p->sleepers, 1);
    (void)atomic_load_explicit(&p->epoch, memory_order_acquire); /* pairs with the waker's bump */
    atomic_fetch_add(&p->searching, 1);
    atomic_store_explicit(&p->waking, 0, memory_order_relaxed);
    ringo__fence();
}

/* ---- finding work ---- */

static ringo_subtask *steal_any(worker *w)
{
    ringo__pool *p = w->pool;
    unsigned n = p->nworkers;
    unsigned start = (unsigned)(xorshift(&w->rng) % n);
    int aborted;

    do {
        aborted = 0;
        for (unsigned i = 0; i < n; i++) {
            worker *v = &p->workers[(start + i) % n];
            void *x;
            if (v == w || ringo__deque_size(&v->deque) == 0)
                continue;
            int r = ringo__deque_steal(&v->deque, &x);
            if (r == 0)
                return x;
            aborted |= r == RINGO__DEQUE_ABORT;
        }
    } while (aborted);
    return NULL;
}

/* Subtasks only: what a joining worker may run. */
static ringo_subtask *next_task(worker *w)
{
    ringo_subtask *t = ringo__deque_pop(&w->deque);

    return t ? t : steal_any(w);
}

/* ---- jobs ---- */

/*
 * A CQE the kernel refused even after retries: the job stays the pool's (it
 * was never handed back), and its request, and so its ring, wait for that
 * CQE. It is posted again after the next job, before a worker parks, and
 * when the pool stops, so a failed post delays its request but never
 * strands it (nor the shutdown waiting for it).
 */
static void keep_failed(ringo__pool *p, ringo__job *j)
{
    pthread_mutex_lock(&p->qlock);
    j->next = p->failed;
    p->failed = j;
    atomic_fetch_add_explicit(&p->nfailed, 1, memory_order_relaxed);
    pthread_mutex_unlock(&p->qlock);
}

/* The test hook: a relaxed load per post, next to a syscall. */
static bool injected_failure(ringo__pool *p)
{
    int n = atomic_load_explicit(&p->fail_posts, memory_order_relaxed);

    while (n > 0)
        if (atomic_compare_exchange_weak(&p->fail_posts, &n, n - 1))
            return true;
    return false;
}

void ringo__pool_fail_posts(ringo__pool *p, int n)
{
    atomic_store_explicit(&p->fail_posts, n, memory_order_relaxed);
}

static int post(ringo__pool *p, ringo__msgring *m, ringo__job *j)
{
    int fd = j->ring_fd;
    uint64_t data = j->cqe_data;
    int32_t res = j->cqe_res;

    if (injected_failure(p))
        return -EIO;
    /* The job belongs to the ring again once the CQE is posted: no access after. */
    ringo__tsan_release(j);
    return ringo__msgring_post(m, fd, data, res);
}

static void complete(ringo__pool *p, ringo__msgring *m, ringo__job *j)
{
    if (post(p, m, j) == 0)
        return;
    atomic_fetch_add_explicit(&p->post_failed, 1, memory_order_relaxed);
    keep_failed(p, j);
}

int ringo__pool_post(int ring_fd, uint64_t data, int32_t res)
{
    worker *w = tls_worker;

    if (!w)
        return -EPERM;
    if (injected_failure(w->pool))
        return -EIO;
    return ringo__msgring_post(&w->msg, ring_fd, data, res);
}

/* Posts the kept CQEs again; returns how many still failed. */
static unsigned retry_failed(ringo__pool *p, ringo__msgring *m)
{
    ringo__job *j;
    unsigned left = 0;

    if (!atomic_load_explicit(&p->nfailed, memory_order_relaxed))
        return 0;
    pthread_mutex_lock(&p->qlock);
    j = p->failed;
    p->failed = NULL;
    atomic_store_explicit(&p->nfailed, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->qlock);
    for (ringo__job *next; j; j = next) {
        next = j->next;
        if (post(p, m, j) < 0) {
            keep_failed(p, j);
            left++;
        }
    }
    return left;
}

/* ring_fd is read before run(): a job without a CQE may be freed by run().
 * A dropped job (drop < 0) is cancelled instead, with cqe_res = drop. */
static void run_job(worker *w, ringo__job *j, int drop)
{
    int fd = j->ring_fd;
    bool timed = w->pool->ad.target_ns && droppable(j);
    uint64_t t0 = timed ? now_ns() : 0;

    if (drop) {
        j->cqe_res = drop;
        if (j->cancel)
            j->cancel(j);
    } else {
        j->run(j);
        if (timed)
            run_time(w->pool, now_ns() - t0);
    }
    assert(ringo__deque_size(&w->deque) == 0 && "job returned with unjoined subtasks");
    atomic_fetch_add_explicit(&w->jobs_finished, 1, memory_order_release);
    if (fd >= 0)
        complete(w->pool, &w->msg, j);
    retry_failed(w->pool, &w->msg);
}

/* One search round: own deque, then a random victim, then the injection
 * queue (subtasks first: they belong to requests already running). Runs what
 * it finds. Returns 1 if it ran something. */
static int search_once(worker *w)
{
    ringo_subtask *t = next_task(w);
    int drop = 0;
    ringo__job *j = t ? NULL : queue_pop(w, &drop);

    if (!t && !j)
        return 0;
    search_found(w->pool);
    if (t)
        run_task(t);
    else
        run_job(w, j, drop);
    atomic_fetch_add(&w->pool->searching, 1);
    return 1;
}

static int search(worker *w)
{
    for (int i = 0; i <= SEARCH_SPINS; i++) {
        if (search_once(w))
            return 1;
        for (int k = 0; k < 16; k++)
            cpu_relax();
    }
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ringo__pool *p = w->pool;
    char name[16];

    snprintf(name, sizeof(name), "ringo-pool-%u", w->index);
    pthread_setname_np(pthread_self(), name);
    tls_worker = w;
    atomic_fetch_add(&p->searching, 1);
    for (;;) {
        if (search(w) || !search_failed(p))
            continue;
        if (atomic_load(&p->exiting))
            break;
        retry_failed(p, &w->msg);
        park(p);
    }
    tls_worker = NULL;
    atomic_store_explicit(&w->exited, 1, memory_order_release);
    return NULL;
}

/* ---- fork/join (ringo/pool.h) ---- */

int ringo_spawn(ringo_subtask *task, ringo_subtask_fn fn, void *arg)
{
    worker *w = tls_worker;

    task->fn = fn;
    task->arg = arg;
    __atomic_store_n(&task->state_, TASK_PENDING, __ATOMIC_RELAXED);
    if (w && ringo__deque_push(&w->deque, task) == 0) {
        notify(w->pool);
        return 0;
    }
    run_task(task);
    return 1;
}

/* Nothing to run: spin, then yield, then sleep in slices (a subtask may be
 * published meanwhile, and the joined task's finisher wakes us). */
static void join_wait(ringo_subtask *t, unsigned idle)
{
    uint32_t expected = TASK_PENDING;
    struct timespec ts = {0, JOIN_SLEEP_NS};

    if (idle < JOIN_SPINS) {
        cpu_relax();
        return;
    }
    if (idle < JOIN_YIELDS) {
        sched_yield();
        return;
    }
    if (__atomic_compare_exchange_n(&t->state_, &expected, TASK_SLEEPING, 0, __ATOMIC_ACQUIRE,
                                    __ATOMIC_ACQUIRE) ||
        expected == TASK_SLEEPING)
        futex(&t->state_, FUTEX_WAIT, TASK_SLEEPING, &ts);
}

void ringo_join(ringo_subtask *task)
{
    worker *w = tls_worker;
    unsigned idle = 0;

    while (!task_done(task)) {
        ringo_subtask *t = w ? next_task(w) : NULL;
        if (t) {
            run_task(t);
            idle = 0;
        } else {
            join_wait(task, idle++);
        }
    }
}

int ringo_pool_worker_id(void) { return tls_worker ? (int)tls_worker->index : -ESRCH; }

int ringo_pool_workers(void) { return tls_worker ? (int)tls_worker->pool->nworkers : -ESRCH; }

/* ---- submit ---- */

static int submit(ringo__pool *p, ringo__job *job, bool bounded)
{
    pthread_mutex_lock(&p->qlock);
    int ret = queue_push_locked(p, job, bounded);
    pthread_mutex_unlock(&p->qlock);

    if (ret == 0)
        notify(p);
    else if (ret == -EAGAIN)
        atomic_fetch_add_explicit(&p->rejected, 1, memory_order_relaxed);
    return ret;
}

int ringo__pool_submit(ringo__pool *p, ringo__job *job) { return submit(p, job, true); }

int ringo__pool_submit_nolimit(ringo__pool *p, ringo__job *job) { return submit(p, job, false); }

/* ---- life cycle ---- */

unsigned ringo__pool_default_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = cpus > 0 && cpus < RINGO__POOL_MAX_THREADS ? 4 * (unsigned)cpus : 40;

    n = n < 40 ? 40 : n;
    return n > RINGO__POOL_MAX_THREADS ? RINGO__POOL_MAX_THREADS : n;
}

void ringo__pool_opts_init(ringo__pool_opts *opts)
{
    opts->threads = ringo__pool_default_threads();
    opts->max_queued = RINGO__POOL_DEFAULT_MAX_QUEUED;
    opts->force_fallback = 0;
    opts->fail_posts = 0;
    opts->queue_target_ms = 0;
    opts->queue_interval_ms = 0;
}

static void resolve_opts(ringo__pool_opts *o, const ringo__pool_opts *in)
{
    ringo__pool_opts_init(o);
    if (!in)
        return;
    if (in->threads)
        o->threads = in->threads;
    if (in->max_queued)
        o->max_queued = in->max_queued;
    o->force_fallback = in->force_fallback;
    o->fail_posts = in->fail_posts;
    o->queue_target_ms = in->queue_target_ms;
    o->queue_interval_ms = in->queue_interval_ms;
}

/* Frees what pool_alloc()/workers_init() built; no thread may be running. */
static void pool_destroy(ringo__pool *p)
{
    for (unsigned i = 0; p->workers && i < p->nworkers; i++) {
        ringo__deque_destroy(&p->workers[i].deque);
        ringo__msgring_exit(&p->workers[i].msg);
    }
    ringo__msgring_exit(&p->stop_msg);
    pthread_cond_destroy(&p->qdrained);
    pthread_mutex_destroy(&p->qlock);
    ringo__free(p->workers);
    ringo__free(p);
}

static ringo__pool *pool_alloc(const ringo__pool_opts *o, int mode)
{
    ringo__pool *p = ringo__calloc(1, sizeof(*p));
    pthread_condattr_t ca;

    if (!p)
        return NULL;
    p->workers = ringo__calloc(o->threads, sizeof(worker));
    if (!p->workers) {
        ringo__free(p);
        return NULL;
    }
    p->nworkers = o->threads;
    p->max_queued = o->max_queued;
    p->msg_mode = mode;
    p->ad.target_ns = (uint64_t)o->queue_target_ms * 1000000u;
    p->ad.interval_ns = (uint64_t)(o->queue_interval_ms ? o->queue_interval_ms : 100) * 1000000u;
    p->ad.min_ns = UINT64_MAX;
    p->ad.start = now_ns();
    p->ad.interval_end = p->ad.start + p->ad.interval_ns;
    atomic_init(&p->fail_posts, o->fail_posts);
    pthread_mutex_init(&p->qlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->qdrained, &ca);
    pthread_condattr_destroy(&ca);
    return p;
}

/* Every deque and sender exists before any thread starts: thieves scan all. */
static int workers_init(ringo__pool *p)
{
    int ret = ringo__msgring_init(&p->stop_msg, p->msg_mode);

    if (ret < 0)
        p->nworkers = 0;
    for (unsigned i = 0; ret == 0 && i < p->nworkers; i++) {
        worker *w = &p->workers[i];
        w->pool = p;
        w->index = i;
        w->rng = (i + 1) * 0x9E3779B97F4A7C15ull;
        ret = ringo__msgring_init(&w->msg, p->msg_mode);
        if (ret == 0 && (ret = ringo__deque_init(&w->deque, DEQUE_LOG_SIZE)) < 0)
            ringo__msgring_exit(&w->msg);
        if (ret < 0)
            p->nworkers = i; /* pool_destroy() frees the first i */
    }
    return ret;
}

/* Workers leave once they find nothing to do. */
static void wake_all_to_exit(ringo__pool *p)
{
    atomic_store(&p->exiting, 1);
    atomic_fetch_add(&p->epoch, 1);
    futex(&p->epoch, FUTEX_WAKE, INT_MAX, NULL);
}

static void workers_exit(ringo__pool *p)
{
    wake_all_to_exit(p);
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->workers[i].thread_ok) {
            pthread_join(p->workers[i].thread, NULL);
            p->workers[i].thread_ok = 0;
        }
}

/* Workers block every signal: the process's handlers (SIGINT, SIGTERM) must
 * run on the threads that expect them, never on a worker inside a handler. */
static int workers_start(ringo__pool *p)
{
    sigset_t all, old;
    int ret = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 0; ret == 0 && i < p->nworkers; i++) {
        ret = -pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
        p->workers[i].thread_ok = ret == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret < 0)
        workers_exit(p);
    return ret;
}

int ringo__pool_new(ringo__pool **out, const ringo__pool_opts *opts)
{
    ringo__pool_opts o;
    ringo__pool *p;
    int mode, ret;

    resolve_opts(&o, opts);
    if (o.threads > RINGO__POOL_MAX_THREADS)
        return -EINVAL;
    mode = ringo__msgring_probe();
    if (mode < 0)
        return mode;
    if (o.force_fallback)
        mode = RINGO__MSGRING_FALLBACK;
    p = pool_alloc(&o, mode);
    if (!p)
        return -ENOMEM;
    ret = workers_init(p);
    if (ret == 0)
        ret = workers_start(p);
    if (ret < 0) {
        pool_destroy(p);
        return ret;
    }
    *out = p;
    return 0;
}

static struct timespec deadline_after(uint64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms > (uint64_t)INT32_MAX * 1000) /* ~68 years: forever */
        ms = (uint64_t)INT32_MAX * 1000;
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Unlinks the queued jobs that may be cancelled and returns them; the
 * must_run ones stay queued, in order, for the workers. */
static ringo__job *take_cancellable_locked(ringo__pool *p)
{
    ringo__job *drop = NULL, **dtail = &drop, *keep = NULL, *ktail = NULL;
    unsigned n = 0, nu = 0;

    for (ringo__job *j = p->qhead, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (!j->must_run) {
            *dtail = j;
            dtail = &j->next;
            continue;
        }
        *(ktail ? &ktail->next : &keep) = j;
        j->prev = ktail;
        ktail = j;
        n++;
        nu += j->unbounded;
    }
    p->qhead = keep;
    p->qtail = ktail;
    p->qunbounded = nu;
    atomic_store_explicit(&p->qcount, n, memory_order_relaxed);
    return drop;
}

/* Refuses new jobs (but must_run ones), waits for the queue to empty or the
 * deadline, and returns the queued jobs to cancel. */
static ringo__job *drain(ringo__pool *p, uint64_t drain_ms)
{
    struct timespec dl = deadline_after(drain_ms);
    ringo__job *left;

    pthread_mutex_lock(&p->qlock);
    p->stopping = 1;
    while (p->qhead && pthread_cond_timedwait(&p->qdrained, &p->qlock, &dl) != ETIMEDOUT)
        ;
    left = take_cancellable_locked(p);
    pthread_mutex_unlock(&p->qlock);
    return left;
}

static void cancel_jobs(ringo__pool *p, ringo__job *j)
{
    while (j) {
        ringo__job *next = j->next;
        int fd = j->ring_fd;
        j->cqe_res = -ECANCELED;
        if (j->cancel)
            j->cancel(j);
        atomic_fetch_add_explicit(&p->cancelled, 1, memory_order_relaxed);
        if (fd >= 0)
            complete(p, &p->stop_msg, j);
        j = next;
    }
}

/* The rings wait for these CQEs: keep trying for a while, then say so. */
static void retry_at_stop(ringo__pool *p)
{
    unsigned left = retry_failed(p, &p->stop_msg);

    for (int i = 0; left && i < STOP_RETRIES; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        left = retry_failed(p, &p->stop_msg);
    }
    if (left)
        fprintf(stderr, "ringo: pool: %u completions could not be posted to their ring\n", left);
}

/* Past the drain deadline, jobs that may be skipped (requests: 503; background
 * tasks: dropped) are cancelled on this thread, which is quick; the workers go
 * on with the must_run ones (teardowns) and whatever they are running. */
void ringo__pool_drain(ringo__pool *p, uint64_t drain_ms)
{
    assert(!tls_worker && "ringo__pool_drain() called from a pool worker");
    if (!p->stopped) {
        p->stopped = 1;
        cancel_jobs(p, drain(p, drain_ms));
        retry_at_stop(p); /* before the rings force-close, the requests get their answer */
    }
}

/* Under qlock: workers inside a job (a job taken counts at once, see queue_pop()). */
static unsigned busy_locked(ringo__pool *p)
{
    unsigned n = 0;

    for (unsigned i = 0; i < p->nworkers; i++)
        n += atomic_load_explicit(&p->workers[i].jobs_finished, memory_order_acquire) !=
             atomic_load_explicit(&p->workers[i].jobs_started, memory_order_relaxed);
    return n;
}

/* Waits (polling: shutdown only) until nothing is queued or running, or the
 * deadline; returns with qlock held. */
static void wait_idle_locked(ringo__pool *p, uint64_t wait_ms)
{
    struct timespec dl = deadline_after(wait_ms), now, ts = {0, 2 * 1000000L};

    pthread_mutex_lock(&p->qlock);
    while (p->qhead || busy_locked(p)) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > dl.tv_sec || (now.tv_sec == dl.tv_sec && now.tv_nsec >= dl.tv_nsec))
            break;
        pthread_mutex_unlock(&p->qlock);
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&p->qlock);
    }
}

/* Under qlock: one stderr line naming every job still running (its label). */
static void report_stuck_locked(ringo__pool *p, unsigned n)
{
    fprintf(stderr, "ringo: pool: %u jobs still running at the teardown timeout, left running:", n);
    for (unsigned i = 0; i < p->nworkers; i++) {
        worker *w = &p->workers[i];
        if (atomic_load_explicit(&w->jobs_finished, memory_order_acquire) !=
            atomic_load_explicit(&w->jobs_started, memory_order_relaxed))
            fprintf(stderr, " '%s'", w->label ? w->label : "?");
    }
    fputc('\n', stderr);
}

/* Joins the workers that leave within a moment (not those inside a job, nor
 * one running a subtask of such a job). */
static void join_idle(ringo__pool *p)
{
    struct timespec dl;

    wake_all_to_exit(p);
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 100 * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->workers[i].thread_ok && pthread_timedjoin_np(p->workers[i].thread, NULL, &dl) == 0)
            p->workers[i].thread_ok = 0;
    /* The others end on their own, maybe never: nobody will join them. */
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->workers[i].thread_ok) {
            pthread_detach(p->workers[i].thread);
            p->workers[i].thread_ok = 0;
            p->workers[i].detached = 1;
        }
}

/*
 * Closing: everything still queued (must_run jobs included) is cancelled,
 * then the workers exit. A worker still inside a job is neither waited for
 * nor freed: it may be using its request, and its ring waits for its CQE;
 * the pool is then left allocated (ringo__pool_free() leaks it).
 */
unsigned ringo__pool_close(ringo__pool *p, uint64_t wait_ms)
{
    ringo__job *left;

    ringo__pool_drain(p, 0);
    if (p->closed_once)
        return p->stuck;
    p->closed_once = 1;
    wait_idle_locked(p, wait_ms);
    p->closed = 1;
    p->stuck = busy_locked(p);
    if (p->stuck)
        report_stuck_locked(p, p->stuck);
    left = p->qhead;
    p->qhead = p->qtail = NULL;
    p->qunbounded = 0;
    atomic_store_explicit(&p->qcount, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->qlock);
    cancel_jobs(p, left);
    if (!p->stuck)
        workers_exit(p);
    else
        join_idle(p);
    retry_at_stop(p);
    return p->stuck;
}

void ringo__pool_stop(ringo__pool *p, uint64_t drain_ms)
{
    ringo__pool_drain(p, drain_ms);
    ringo__pool_close(p, UINT64_MAX);
}

/* After a close that left jobs running: have they all returned since, and
 * their workers exited (they do at once then; waits up to a second)? */
static bool all_returned(ringo__pool *p)
{
    struct timespec ts = {0, 1000000L};
    unsigned busy;

    pthread_mutex_lock(&p->qlock);
    busy = busy_locked(p);
    pthread_mutex_unlock(&p->qlock);
    if (busy)
        return false;
    for (unsigned i = 0, tries = 0; i < p->nworkers; i++) {
        worker *w = &p->workers[i];
        while (w->detached && !atomic_load_explicit(&w->exited, memory_order_acquire)) {
            if (tries++ == 1000)
                return false;
            nanosleep(&ts, NULL);
        }
    }
    return true;
}

void ringo__pool_free(ringo__pool *p)
{
    if (!p)
        return;
    if (ringo__pool_close(p, UINT64_MAX) == 0 || all_returned(p))
        pool_destroy(p);
}

int ringo__pool_msgring_mode(const ringo__pool *p) { return p->msg_mode; }

unsigned ringo__pool_threads(const ringo__pool *p) { return p->nworkers; }

void ringo__pool_stats_get(const ringo__pool *p, ringo__pool_stats *out)
{
    uint64_t started = 0, finished = 0;

    /* finished first, with acquire (pairs with run_job's release): every
     * finish counted has its start counted too, so running never underflows. */
    for (unsigned i = 0; i < p->nworkers; i++) {
        finished += atomic_load_explicit(&p->workers[i].jobs_finished, memory_order_acquire);
        started += atomic_load_explicit(&p->workers[i].jobs_started, memory_order_relaxed);
    }
    out->queued = atomic_load_explicit(&p->qcount, memory_order_relaxed);
    out->running = started - finished;
    out->completed = finished;
    out->cancelled = atomic_load_explicit(&p->cancelled, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&p->rejected, memory_order_relaxed);
    out->post_failed = atomic_load_explicit(&p->post_failed, memory_order_relaxed);
#define LOAD(f) atomic_load_explicit(&p->f, memory_order_relaxed)
    out->enqueued = LOAD(enqueued);
    out->wait_ns = LOAD(wait_ns);
    out->admission_rejected = LOAD(adm_rejected);
    out->dropped_gone = LOAD(dropped_gone);
    out->dropped_deadline = LOAD(dropped_deadline);
    out->dropped_expired = LOAD(dropped_expired);
    out->lifo_switches = LOAD(lifo_switches);
    out->lifo_active = LOAD(lifo_now);
    out->overloaded = LOAD(over_now);
#undef LOAD
}
