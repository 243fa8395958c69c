/*
 * pool/deque.h - Chase-Lev work-stealing deque in C11 atomics.
 *
 * Follows N. M. Lê, A. Pop, A. Cohen, F. Zappa Nardelli, "Correct and
 * Efficient Work-Stealing for Weak Memory Models" (PPoPP 2013). One owner
 * thread pushes and pops at the bottom (LIFO); any number of thieves steal at
 * the top (FIFO). Items are non-NULL pointers.
 *
 * Departures from the paper, all of them stronger, never weaker:
 * - push stores bottom with release instead of a release fence followed by a
 *   relaxed store, and steal loads the array with acquire instead of consume.
 *   Same cost on x86-64; ThreadSanitizer does not model standalone fences,
 *   and with these it sees the hand-over of an item (and of what the item
 *   points to) from the pusher to the thief.
 * - growth allocates a new array; replaced arrays stay alive until
 *   ringo__deque_destroy(), since a thief may still be reading one.
 */
#ifndef RINGO_POOL_DEQUE_H
#define RINGO_POOL_DEQUE_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct ringo__deque_array ringo__deque_array;

/*
 * top and bottom sit on different cache lines (thieves write top, the owner
 * writes bottom). Padding instead of _Alignas: the deque lives inside
 * malloc'd objects, whose alignment is only that of max_align_t.
 */
typedef struct ringo__deque {
    _Atomic int64_t top;
    char pad0[64];
    _Atomic int64_t bottom;
    _Atomic(ringo__deque_array *) array;
    char pad1[64];
} ringo__deque;

/* Result of ringo__deque_steal() besides 0 (got an item). */
#define RINGO__DEQUE_EMPTY (-ENOENT) /* nothing to steal */
#define RINGO__DEQUE_ABORT (-EAGAIN) /* lost a race with another taker: retry */

/*
 * A seq_cst fence. GCC 12 with -fsanitize=thread warns (-Wtsan) about every
 * atomic_thread_fence it meets through inlining, although it instruments it
 * (__tsan_atomic_thread_fence) like any other; the warning is silenced here,
 * in the one place fences are written. TSan does not model what a fence
 * orders, which is why every hand-over of data in pool/ also goes through an
 * acquire/release pair or a mutex; the fences only order the Dekker-style
 * "store one flag, then read the other" checks (deque race for the last
 * item, parking), which involve atomics alone.
 */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
static inline void ringo__fence(void) { atomic_thread_fence(memory_order_seq_cst); }
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

/* Starts an empty deque with room for 2^log_size items before it grows.
 * Returns 0 or -ENOMEM. */
int ringo__deque_init(ringo__deque *d, unsigned log_size);

/* Frees the array and every array it replaced. No other thread may be using
 * the deque. */
void ringo__deque_destroy(ringo__deque *d);

/* Owner only. Pushes item (non-NULL) at the bottom. Returns 0, or -ENOMEM
 * when the deque was full and could not grow (the item was not pushed). */
int ringo__deque_push(ringo__deque *d, void *item);

/* Owner only. Pops the most recently pushed item, NULL when empty. */
void *ringo__deque_pop(ringo__deque *d);

/* Any thread. Takes the oldest item into *out. Returns 0,
 * RINGO__DEQUE_EMPTY or RINGO__DEQUE_ABORT. */
int ringo__deque_steal(ringo__deque *d, void **out);

/* Any thread. Number of items, possibly stale by the time it returns; only a
 * hint (parking re-checks use it after a seq_cst fence). */
int64_t ringo__deque_size(ringo__deque *d);

#endif
