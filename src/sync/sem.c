/* weft_sem: a counting semaphore.
 *
 * Synchronization: `count` holds the free permits; taking one is a CAS that
 * acquires, returning them is an RMW that releases (pairing with it), so
 * whatever a releaser wrote before weft_sem_release() is visible to the
 * thread that takes the permit. `waiters` counts threads in the slow path
 * of acquire. A waiter bumps `waiters` before its last look at `count`; a
 * releaser bumps `count` before reading `waiters`; all seq_cst, so at least
 * one of the two sees the other: the releaser unparks, or the waiter finds
 * the permit. A waiter parks only while `count` is still 0 (checked under
 * the parking lot's lock), so a release between its look and its park
 * stops the park.
 *
 * Every release of n unparks up to n waiters. A woken waiter may find the
 * permit taken by a thread that never waited (barging, which keeps permits
 * flowing without hand-off convoys); it then parks again. A permit is never
 * stranded: a waiter that times out was not woken (the parking lot
 * guarantees it), so no wake is lost with it. */
#include <weft/sync.h>

#include "sync/park.h"

int weft_sem_init(weft_sem *s, uint32_t count)
{
    if (count > WEFT_SEM_MAX)
        return -EINVAL;
    atomic_init(&s->count, count);
    atomic_init(&s->waiters, 0);
    return 0;
}

int weft_sem_destroy(weft_sem *s)
{
    return atomic_load_explicit(&s->waiters, memory_order_relaxed) != 0 ? -EBUSY : 0;
}

static bool try_take(weft_sem *s, memory_order failure_order)
{
    uint32_t c = atomic_load_explicit(&s->count, failure_order);
    while (c > 0) {
        /* Acquire pairs with the release RMW in weft_sem_release(). */
        if (atomic_compare_exchange_weak_explicit(&s->count, &c, c - 1, memory_order_acquire,
                                                  failure_order))
            return true;
    }
    return false;
}

int weft_sem_try(weft_sem *s)
{
    return try_take(s, memory_order_relaxed) ? 0 : -EAGAIN;
}

int weft_sem_acquire(weft_sem *s, int64_t deadline)
{
    if (try_take(s, memory_order_relaxed))
        return 0;
    /* seq_cst, paired with the seq_cst RMW and load in weft_sem_release(). */
    atomic_fetch_add_explicit(&s->waiters, 1, memory_order_seq_cst);
    int rc = 0;
    for (;;) {
        if (try_take(s, memory_order_seq_cst)) {
            rc = 0; /* even when it comes with the look after a timeout */
            break;
        }
        if (rc == -ETIMEDOUT || rc == -ECANCELED)
            break; /* the wait ended and the last look found nothing */
        rc = weft__park_u32(&s->count, 0, deadline);
        if (rc != -ETIMEDOUT && rc != -ECANCELED)
            rc = 0;
    }
    atomic_fetch_sub_explicit(&s->waiters, 1, memory_order_relaxed);
    return rc;
}

int weft_sem_release(weft_sem *s, uint32_t n)
{
    if (n == 0)
        return -EINVAL;
    uint32_t c = atomic_load_explicit(&s->count, memory_order_relaxed);
    do {
        if (n > WEFT_SEM_MAX - c)
            return -EOVERFLOW;
        /* Release pairs with the acquire CAS in try_take(); seq_cst also
         * orders it before the `waiters` load below. */
    } while (!atomic_compare_exchange_weak_explicit(&s->count, &c, c + n, memory_order_seq_cst,
                                                    memory_order_relaxed));
    if (atomic_load_explicit(&s->waiters, memory_order_seq_cst) != 0)
        weft__unpark(&s->count, n > INT32_MAX ? INT32_MAX : (int)n);
    return 0;
}

uint32_t weft_sem_value(weft_sem *s)
{
    return atomic_load_explicit(&s->count, memory_order_relaxed);
}
