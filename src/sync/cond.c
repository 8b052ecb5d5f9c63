/* weft_cond: a condition variable over a sequence counter.
 *
 * Synchronization: `seq` counts signals and broadcasts; a waiter reads it
 * while still holding the mutex, releases the mutex, and parks only while
 * `seq` still has the value it read (checked under the parking lot's lock),
 * so a signal sent after the waiter released the mutex is never missed.
 * `waiters` lets signal skip the parking lot when nobody waits: a waiter
 * bumps it before reading `seq`, a signaller bumps `seq` before reading it,
 * all four accesses seq_cst, so at least one of the two sees the other (the
 * classic store-buffer pairing): either the signaller sees the waiter and
 * unparks, or the waiter reads the new `seq` and does not park.
 * A wake-up can be spurious (a waiter that read `seq` just before a signal
 * returns at once, and the signal's unpark may wake another too); callers
 * re-check their predicate, as with every condition variable. */
#include <limits.h>

#include <weft/sync.h>

#include "sync/park.h"

void weft_cond_init(weft_cond *c)
{
    atomic_init(&c->seq, 0);
    atomic_init(&c->waiters, 0);
}

int weft_cond_destroy(weft_cond *c)
{
    return atomic_load_explicit(&c->waiters, memory_order_relaxed) != 0 ? -EBUSY : 0;
}

int weft__cond_wait(weft_cond *c, weft_mutex *m, int64_t deadline, const char *file, int line)
{
    /* Both seq_cst: they pair with the seq_cst bump and load in wake(). */
    atomic_fetch_add_explicit(&c->waiters, 1, memory_order_seq_cst);
    uint32_t seq = atomic_load_explicit(&c->seq, memory_order_seq_cst);
    weft_mutex_unlock(m);
    int rc = weft__park_u32(&c->seq, seq, deadline);
    /* Relaxed: an over-count only costs a signaller a useless unpark, and
     * this runs after the park, so the count never drops below the number
     * of parked waiters. */
    atomic_fetch_sub_explicit(&c->waiters, 1, memory_order_relaxed);
    /* Re-take the mutex whatever happened (pthread semantics): the caller's
     * predicate loop needs it, and a timeout must not leave it unheld. The
     * relock is an acquisition at the wait's site for the checker. */
    weft__mutex_lock(m, file, line);
    return rc == -ETIMEDOUT || rc == -ECANCELED ? rc : 0;
}

static void wake(weft_cond *c, int n)
{
    /* seq_cst: see the pairing in the Synchronization block. */
    atomic_fetch_add_explicit(&c->seq, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&c->waiters, memory_order_seq_cst) != 0)
        weft__unpark(&c->seq, n);
}

void weft_cond_signal(weft_cond *c)
{
    wake(c, 1);
}

void weft_cond_broadcast(weft_cond *c)
{
    wake(c, INT_MAX);
}
