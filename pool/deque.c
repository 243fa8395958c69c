/*
 * pool/deque.c - Chase-Lev deque (Lê, Pop, Cohen, Zappa Nardelli 2013).
 *
 * The comments name the paper's fences. Indices are signed 64-bit: take()
 * decrements bottom below top on an empty deque, and they never wrap.
 *
 * Why pop's plain (relaxed) stores of bottom are enough for a thief that
 * later reads them: in C17 (5.1.2.4) the release sequence headed by push's
 * release store of bottom contains every later store to bottom by the same
 * thread, so a thief's acquire load of bottom synchronizes with the push that
 * published the item it steals, whichever owner store it read.
 */
#include "pool/deque.h"

#include "core/alloc.h"

struct ringo__deque_array {
    int64_t mask;                /* size - 1, size a power of two */
    ringo__deque_array *retired; /* the array this one replaced */
    _Atomic(void *) slot[];
};

static ringo__deque_array *array_new(int64_t size, ringo__deque_array *retired)
{
    ringo__deque_array *a = ringo__malloc(sizeof(*a) + (size_t)size * sizeof(_Atomic(void *)));

    if (!a)
        return NULL;
    a->mask = size - 1;
    a->retired = retired;
    return a;
}

static inline void *slot_load(ringo__deque_array *a, int64_t i)
{
    return atomic_load_explicit(&a->slot[i & a->mask], memory_order_relaxed);
}

static inline void slot_store(ringo__deque_array *a, int64_t i, void *x)
{
    atomic_store_explicit(&a->slot[i & a->mask], x, memory_order_relaxed);
}

int ringo__deque_init(ringo__deque *d, unsigned log_size)
{
    ringo__deque_array *a = array_new((int64_t)1 << log_size, NULL);

    if (!a)
        return -ENOMEM;
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    atomic_init(&d->array, a);
    return 0;
}

void ringo__deque_destroy(ringo__deque *d)
{
    ringo__deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);

    while (a) {
        ringo__deque_array *next = a->retired;
        ringo__free(a);
        a = next;
    }
    atomic_store_explicit(&d->array, NULL, memory_order_relaxed);
}

/*
 * Owner only, deque full. The new array is published with release so that a
 * thief which loads it (acquire) sees the copied slots. The old one stays
 * valid for thieves that loaded it earlier: its slots in [t, b) still hold
 * the same items, and a thief's CAS on top decides who owns each.
 */
static ringo__deque_array *grow(ringo__deque *d, ringo__deque_array *a, int64_t t, int64_t b)
{
    ringo__deque_array *n = array_new(2 * (a->mask + 1), a);

    if (!n)
        return NULL;
    for (int64_t i = t; i < b; i++)
        slot_store(n, i, slot_load(a, i));
    atomic_store_explicit(&d->array, n, memory_order_release);
    return n;
}

int ringo__deque_push(ringo__deque *d, void *item)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    ringo__deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);

    if (b - t > a->mask) {
        a = grow(d, a, t, b);
        if (!a)
            return -ENOMEM;
    }
    slot_store(a, b, item);
    /* The paper's release fence + relaxed store, as one release store. */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    return 0;
}

void *ringo__deque_pop(ringo__deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    ringo__deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
    void *x = NULL;

    atomic_store_explicit(&d->bottom, b, memory_order_relaxed);
    /* Orders the claim on slot b before reading top, against steal's fence. */
    ringo__fence();
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);

    if (t > b) {
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    x = slot_load(a, b);
    if (t == b) {
        /* Last item: race thieves for it through top. */
        if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                     memory_order_relaxed))
            x = NULL;
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return x;
}

int ringo__deque_steal(ringo__deque *d, void **out)
{
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    /* Pairs with pop's fence: a thief and the owner never both take the last item. */
    ringo__fence();
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);

    if (t >= b)
        return RINGO__DEQUE_EMPTY;
    ringo__deque_array *a = atomic_load_explicit(&d->array, memory_order_acquire);
    void *x = slot_load(a, t);

    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return RINGO__DEQUE_ABORT;
    *out = x;
    return 0;
}

int64_t ringo__deque_size(ringo__deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);

    return b > t ? b - t : 0;
}
