/* weft_waitgroup: wait for a counted set of tasks (Go's sync.WaitGroup).
 *
 * Synchronization: one 64-bit word, `state` = generation << 33 | WAITERS
 * << 32 | counter. add() and done() change it with acq_rel RMWs, forming a
 * chain in which the change that brings the counter to 0 has acquired every
 * earlier task's writes; waiters read the word with acquire, pairing with
 * that RMW, so a waiter that returns 0 sees what every task wrote before its
 * done(). Reaching 0 starts a new generation and clears WAITERS, so a waiter
 * that sees the generation move knows the counter was 0 while it waited,
 * even if add() raised it again before the waiter looked (the group is
 * reusable without Go's "reused before Wait returned" restriction). A
 * waiter sets WAITERS by CAS and parks only while the word is still what it
 * set (checked under the parking lot's lock). */
#include <limits.h>

#include <weft/sync.h>

#include "sync/park.h"

#define COUNTER_MASK UINT64_C(0xffffffff)
#define WAITERS (UINT64_C(1) << 32)
#define GEN_SHIFT 33

void weft_waitgroup_init(weft_waitgroup *wg)
{
    atomic_init(&wg->state, 0);
}

int weft_waitgroup_add(weft_waitgroup *wg, int64_t n)
{
    uint64_t s = atomic_load_explicit(&wg->state, memory_order_relaxed);
    uint64_t next;
    int64_t count;
    do {
        int64_t cur = (int64_t)(s & COUNTER_MASK);
        if (n < -cur)
            return -EINVAL;
        if (n > WEFT_WAITGROUP_MAX - cur)
            return -EOVERFLOW;
        count = cur + n;
        if (count == 0 && cur != 0)
            next = ((s >> GEN_SHIFT) + 1) << GEN_SHIFT; /* new generation, no waiters */
        else
            next = (s & ~COUNTER_MASK) | (uint64_t)count;
        /* acq_rel: the RMW chain of the Synchronization block. */
    } while (!atomic_compare_exchange_weak_explicit(&wg->state, &s, next, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (count == 0 && (s & WAITERS))
        weft__unpark(&wg->state, INT_MAX);
    return 0;
}

int weft_waitgroup_done(weft_waitgroup *wg)
{
    return weft_waitgroup_add(wg, -1);
}

int weft_waitgroup_wait(weft_waitgroup *wg, int64_t deadline)
{
    /* Acquire pairs with the RMW that brought the counter to 0. */
    uint64_t s = atomic_load_explicit(&wg->state, memory_order_acquire);
    uint64_t gen = s >> GEN_SHIFT;
    for (;;) {
        if ((s & COUNTER_MASK) == 0 || (s >> GEN_SHIFT) != gen)
            return 0;
        if (!(s & WAITERS)) {
            if (!atomic_compare_exchange_weak_explicit(&wg->state, &s, s | WAITERS,
                                                       memory_order_acquire,
                                                       memory_order_acquire))
                continue; /* s reloaded (acquire): look again */
            s |= WAITERS;
        }
        int rc = weft__park_u64(&wg->state, s, deadline);
        s = atomic_load_explicit(&wg->state, memory_order_acquire);
        if ((s & COUNTER_MASK) == 0 || (s >> GEN_SHIFT) != gen)
            return 0;
        if (rc == -ETIMEDOUT || rc == -ECANCELED)
            return rc;
    }
}

int64_t weft_waitgroup_count(weft_waitgroup *wg)
{
    return (int64_t)(atomic_load_explicit(&wg->state, memory_order_relaxed) & COUNTER_MASK);
}
