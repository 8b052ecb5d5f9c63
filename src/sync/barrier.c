/* weft_barrier: a reusable barrier with generations.
 *
 * Synchronization: one 64-bit word, `state` = generation << 32 | arrived.
 * Every change is an acq_rel RMW, so the arrivals of one generation form a
 * chain in which each arriving thread acquires all earlier arrivals' writes
 * and releases its own; the last arrival (the serial thread) thus sees every
 * participant's writes, and its release CAS that opens the next generation
 * is what the others read with acquire before they leave. So each thread
 * sees all participants' writes made before they arrived. Waiters park on
 * the word while the generation is unchanged (checked under the parking
 * lot's lock, against the whole word: an unrelated arrival or withdrawal
 * makes the park return early, and the waiter just parks again).
 *
 * A waiter whose deadline passes withdraws its arrival (arrived - 1) by
 * CAS, but only if its generation is still open; if the generation
 * completed first, it was released in time and returns 0. */
#include <limits.h>

#include <weft/sync.h>

#include "sync/park.h"

static uint32_t generation(uint64_t s)
{
    return (uint32_t)(s >> 32);
}

int weft_barrier_init(weft_barrier *b, uint32_t parties)
{
    if (parties == 0)
        return -EINVAL;
    atomic_init(&b->state, 0);
    b->parties = parties;
    return 0;
}

int weft_barrier_destroy(weft_barrier *b)
{
    return (uint32_t)atomic_load_explicit(&b->state, memory_order_relaxed) != 0 ? -EBUSY : 0;
}

int weft_barrier_wait(weft_barrier *b, int64_t deadline)
{
    uint64_t s = atomic_load_explicit(&b->state, memory_order_relaxed);
    uint64_t next;
    for (;;) {
        uint32_t arrived = (uint32_t)s + 1;
        next = arrived == b->parties ? (uint64_t)(generation(s) + 1u) << 32 : s + 1;
        /* acq_rel: the RMW chain of the Synchronization block. */
        if (atomic_compare_exchange_weak_explicit(&b->state, &s, next, memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    if ((uint32_t)next == 0) {
        /* Last to arrive: open the next generation and wake this one. */
        weft__unpark(&b->state, INT_MAX);
        return 1;
    }
    uint32_t gen = generation(s);
    s = next;
    int gave_up = 0;
    for (;;) {
        int rc = weft__park_u64(&b->state, s, deadline);
        /* Acquire pairs with the serial thread's release CAS. */
        s = atomic_load_explicit(&b->state, memory_order_acquire);
        if (generation(s) != gen)
            return 0;
        if (rc == -ETIMEDOUT || rc == -ECANCELED) {
            gave_up = rc;
            break;
        }
    }
    /* Timed out with the generation still open: withdraw the arrival. */
    while (generation(s) == gen) {
        if (atomic_compare_exchange_weak_explicit(&b->state, &s, s - 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return gave_up;
    }
    return 0; /* the generation completed while we were giving up */
}
