/* The Chase-Lev work-stealing deque: see src/sched/deque.h, whose header
 * comment is this file's Synchronization block. */
#include <stdlib.h>

#include <weft/error.h>

#include "sched/deque.h"

struct weft__deque_array {
    int64_t mask; /* capacity - 1 */
    weft__deque_array *prev_retired;
    _Atomic(void *) slots[];
};

static weft__deque_array *array_new(int64_t capacity)
{
    weft__deque_array *a = malloc(sizeof *a + (size_t)capacity * sizeof a->slots[0]);
    if (!a)
        return NULL;
    a->mask = capacity - 1;
    a->prev_retired = NULL;
    for (int64_t i = 0; i < capacity; i++)
        atomic_init(&a->slots[i], NULL);
    return a;
}

int weft__deque_init(weft__deque *d, int64_t capacity)
{
    int64_t cap = 16;
    while (cap < capacity)
        cap *= 2;
    weft__deque_array *a = array_new(cap);
    if (!a)
        return -ENOMEM;
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    atomic_init(&d->array, a);
    d->retired = NULL;
    return 0;
}

void weft__deque_destroy(weft__deque *d)
{
    free(atomic_load_explicit(&d->array, memory_order_relaxed));
    for (weft__deque_array *a = d->retired, *next; a; a = next) {
        next = a->prev_retired;
        free(a);
    }
}

/* Owner only: copy the live elements [t, b) into an array twice the size. */
static weft__deque_array *grow(weft__deque *d, weft__deque_array *a, int64_t t, int64_t b)
{
    weft__deque_array *bigger = array_new(2 * (a->mask + 1));
    if (!bigger)
        return NULL;
    for (int64_t i = t; i < b; i++)
        atomic_store_explicit(&bigger->slots[i & bigger->mask],
                              atomic_load_explicit(&a->slots[i & a->mask], memory_order_relaxed),
                              memory_order_relaxed);
    a->prev_retired = d->retired;
    d->retired = a;
    /* Release pairs with the acquire in weft__deque_steal(): a thief that
     * sees the new array sees the copied slots. */
    atomic_store_explicit(&d->array, bigger, memory_order_release);
    return bigger;
}

int weft__deque_push(weft__deque *d, void *x)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    /* Acquire pairs with the thieves' CAS on top: slots they took are free. */
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    weft__deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
    if (b - t > a->mask) {
        a = grow(d, a, t, b);
        if (!a)
            return -ENOMEM;
    }
    atomic_store_explicit(&a->slots[b & a->mask], x, memory_order_relaxed);
    /* seq_cst: publishes the slot (pairs with steal's load of bottom) and is
     * ordered before the caller's seq_cst check for sleepers (pool.c). */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_seq_cst);
    return 0;
}

void *weft__deque_take(weft__deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    weft__deque_array *a = atomic_load_explicit(&d->array, memory_order_relaxed);
    /* seq_cst store then seq_cst load: a thief's load of top then bottom
     * (also seq_cst) cannot both miss this reservation and the top it
     * read, so the owner and a thief never both take one element. */
    atomic_store_explicit(&d->bottom, b, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    if (t > b) {
        /* Empty: undo the reservation. */
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    void *x = atomic_load_explicit(&a->slots[b & a->mask], memory_order_relaxed);
    if (t == b) {
        /* The last element: race the thieves for it with their CAS. */
        if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                     memory_order_relaxed))
            x = NULL;
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return x;
}

void *weft__deque_steal(weft__deque *d, bool *retry)
{
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    /* seq_cst pairs with push's store of bottom (publishing the slot) and
     * with take's store-load order. */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
    if (t >= b)
        return NULL;
    /* Acquire pairs with grow()'s release. */
    weft__deque_array *a = atomic_load_explicit(&d->array, memory_order_acquire);
    void *x = atomic_load_explicit(&a->slots[t & a->mask], memory_order_relaxed);
    /* The CAS decides whether x was ours: if the owner or another thief
     * took index t (and maybe overwrote the slot), it fails. */
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed)) {
        *retry = true;
        return NULL;
    }
    return x;
}

bool weft__deque_nonempty(weft__deque *d)
{
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
    return b > t;
}

int64_t weft__deque_size(weft__deque *d)
{
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    return b > t ? b - t : 0;
}
