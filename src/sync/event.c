/* weft_event: a flag threads wait on, like Python's threading.Event.
 *
 * Synchronization: one word, `state` = generation << 2 | WAITERS | SET.
 * set() changes it with a release CAS; waiters and is_set() read it with
 * acquire, pairing with that CAS, so what the setter wrote before set() is
 * visible to them. The generation goes up on every clear -> set change: a
 * waiter that sees it move knows the flag was set while it waited, even if
 * clear() ran before the waiter looked again (Python's semantics). WAITERS
 * says someone may be parked, so set() skips the parking lot otherwise; a
 * waiter sets it by CAS only while the flag is clear, and parks only while
 * the word is still exactly what it set (checked under the parking lot's
 * lock), so a set() that lands in between stops the park. */
#include <limits.h>

#include <weft/sync.h>

#include "sync/park.h"

enum { SET = 1u, WAITERS = 2u, GEN_ONE = 4u };

void weft_event_init(weft_event *e)
{
    atomic_init(&e->state, 0);
}

void weft_event_set(weft_event *e)
{
    uint32_t s = atomic_load_explicit(&e->state, memory_order_relaxed);
    uint32_t next;
    do {
        /* Already set: rewrite the same value anyway, so this call's writes
         * are released too. WAITERS is never set together with SET. */
        next = (s & SET) ? s : ((s + GEN_ONE) | SET) & ~WAITERS;
        /* Release pairs with the acquire loads in wait() and is_set(). */
    } while (!atomic_compare_exchange_weak_explicit(&e->state, &s, next, memory_order_release,
                                                    memory_order_relaxed));
    if (s & WAITERS)
        weft__unpark(&e->state, INT_MAX);
}

void weft_event_clear(weft_event *e)
{
    atomic_fetch_and_explicit(&e->state, ~SET, memory_order_relaxed);
}

bool weft_event_is_set(weft_event *e)
{
    return (atomic_load_explicit(&e->state, memory_order_acquire) & SET) != 0;
}

int weft_event_wait(weft_event *e, int64_t deadline)
{
    uint32_t s = atomic_load_explicit(&e->state, memory_order_acquire);
    uint32_t gen = s >> 2;
    for (;;) {
        if ((s & SET) || (s >> 2) != gen)
            return 0;
        if (!(s & WAITERS)) {
            if (!atomic_compare_exchange_weak_explicit(&e->state, &s, s | WAITERS,
                                                       memory_order_acquire,
                                                       memory_order_acquire))
                continue; /* s reloaded (acquire): look again */
            s |= WAITERS;
        }
        int rc = weft__park_u32(&e->state, s, deadline);
        s = atomic_load_explicit(&e->state, memory_order_acquire);
        if ((s & SET) || (s >> 2) != gen)
            return 0;
        if (rc == -ETIMEDOUT || rc == -ECANCELED)
            return rc;
    }
}
