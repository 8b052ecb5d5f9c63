/* weft_once: run an initializer exactly once.
 *
 * Synchronization: `state` goes 0 (not run) -> 1 (running) -> 3 (done),
 * with 2 (running, someone waits) in between when a concurrent caller
 * arrives. The first caller wins the CAS 0 -> 1 and runs fn; it then stores
 * 3 with a release exchange, which every caller's acquire load of 3 pairs
 * with, so fn's writes are visible to all callers once they return. Waiters
 * move 1 -> 2 by CAS and park while the word is still 2 (checked under the
 * parking lot's lock); the runner unparks only if it saw 2. */
#include <limits.h>

#include <weft/sync.h>

#include "sync/park.h"

enum { NOT_RUN = 0, RUNNING = 1, RUNNING_WAITED = 2, DONE = 3 };

void weft_once_init(weft_once *o)
{
    atomic_init(&o->state, NOT_RUN);
}

bool weft_once_done(weft_once *o)
{
    return atomic_load_explicit(&o->state, memory_order_acquire) == DONE;
}

void weft_once_call(weft_once *o, void (*fn)(void *arg), void *arg)
{
    /* Acquire pairs with the runner's release exchange to DONE. */
    uint32_t s = atomic_load_explicit(&o->state, memory_order_acquire);
    if (s == DONE)
        return;
    if (s == NOT_RUN &&
        atomic_compare_exchange_strong_explicit(&o->state, &s, RUNNING, memory_order_acquire,
                                                memory_order_acquire)) {
        fn(arg);
        /* Release pairs with the acquire loads of DONE. */
        if (atomic_exchange_explicit(&o->state, DONE, memory_order_release) == RUNNING_WAITED)
            weft__unpark(&o->state, INT_MAX);
        return;
    }
    while (s != DONE) {
        if (s == RUNNING &&
            !atomic_compare_exchange_weak_explicit(&o->state, &s, RUNNING_WAITED,
                                                   memory_order_acquire, memory_order_acquire))
            continue; /* s reloaded */
        weft__park_u32_nocancel(&o->state, RUNNING_WAITED, WEFT_NEVER);
        s = atomic_load_explicit(&o->state, memory_order_acquire);
    }
}
