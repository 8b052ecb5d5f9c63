/* weft_mutex: a two-bit mutex that parks in the parking lot (the design of
 * WebKit's WTF::Lock and Rust's parking_lot), so a timed lock honours the
 * virtual clock, and that feeds the lock-order checker.
 *
 * Synchronization: `state` holds HELD (the lock is taken) and PARKED (some
 * thread may be parked on it). Taking the lock sets HELD by compare-and-
 * swap (acquire); unlock clears it (release), pairing with that.
 *   1. Lock: CAS 0 -> HELD. Otherwise spin, taking the lock whenever HELD
 *      is clear (a newcomer may barge past parked threads: throughput over
 *      fairness, as glibc and Go's normal mode), yielding the CPU after the
 *      first spins so a preempted holder can run.
 *   2. Still held after the spin: set PARKED (CAS, only while HELD), then
 *      park while state is still HELD | PARKED (checked under the bucket
 *      lock). Woken, or the check failed: go to 1 without spinning again.
 *   3. Unlock: CAS HELD -> 0; that fails only if PARKED is set. Then wake
 *      the oldest parked thread and, under the same bucket lock, store
 *      PARKED if others remain parked and 0 otherwise. So PARKED is set
 *      exactly while threads are parked (or about to check and park), and
 *      an unlock pays for a wake-up only when one is needed: the woken
 *      thread does not set PARKED again unless it parks again.
 *   4. A thread that times out leaves PARKED behind; the next unlock then
 *      finds nobody to wake and clears it: a cheap false alarm.
 * Between the failed CAS of step 3 and its store, no other thread changes
 * state: while HELD is set the only change allowed is setting PARKED,
 * which is already set. */
#include <sched.h>

#include <weft/sync.h>

#include "sync/futex.h"
#include "sync/lockdep.h"
#include "sync/park.h"

/* Spin before parking: critical sections under a weft_mutex are usually
 * short, and a park/unpark round trip costs ~10 us on this class of
 * machine, so a short spin often wins. The first SPIN_PAUSES polls pause the
 * CPU; the rest yield it, which matters when there are more runnable
 * threads than cores and the holder waits for this one's CPU. Not when
 * others are parked already (PARKED): the lock is then contended enough
 * that spinning only burns CPU. */
enum { SPIN_PAUSES = 64, SPIN_TRIES = 80, HELD = 1u, PARKED = 2u };

void weft__mutex_init(weft_mutex *m, const char *name, const char *file, int line)
{
    atomic_init(&m->state, 0);
    m->init_line = line;
    m->init_file = file;
    m->name = name;
    atomic_init(&m->lockdep_class, NULL);
}

int weft_mutex_destroy(weft_mutex *m)
{
    return atomic_load_explicit(&m->state, memory_order_relaxed) & HELD ? -EBUSY : 0;
}

static bool try_take(weft_mutex *m)
{
    uint32_t expected = 0;
    /* Acquire pairs with the release in weft_mutex_unlock() and
     * unlock_then(). */
    return atomic_compare_exchange_strong_explicit(&m->state, &expected, HELD, memory_order_acquire,
                                                   memory_order_relaxed);
}

/* Take the lock if HELD is clear, keeping PARKED as it is. */
static bool try_take_any(weft_mutex *m)
{
    uint32_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
    while (!(s & HELD))
        if (atomic_compare_exchange_weak_explicit(&m->state, &s, s | HELD, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

static bool still_held_and_parked(const void *key, const void *ctx)
{
    (void)ctx;
    /* Relaxed: the bucket lock orders this after unlock_then's store. */
    return atomic_load_explicit((_Atomic uint32_t *)key, memory_order_relaxed) == (HELD | PARKED);
}

static int lock_slow(weft_mutex *m, int64_t deadline, unsigned flags)
{
    int spins = 0;
    for (;;) {
        /* Step 1. */
        if (try_take_any(m))
            return 0;
        uint32_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
        if (!(s & HELD))
            continue;
        if (!(s & PARKED) && spins < SPIN_TRIES) {
            if (spins++ < SPIN_PAUSES) {
                /* Back off exponentially, 2 to 32 pauses between polls
                 * (a pause is ~25 ns here, so at most ~0.8 us late): a
                 * spinner that polls the line on every pause takes it away
                 * from the holder, whose unlock and next lock then miss.
                 * 4 threads on 2 cores: 30 M/s polling every pause, 120 M/s
                 * with this (weft bench mutex_contended_4t). */
                for (int i = 0, n = 1 << (spins < 5 ? spins : 5); i < n; i++)
                    weft__cpu_relax();
            } else {
                sched_yield();
            }
            continue;
        }
        /* Step 2. */
        if (!(s & PARKED) &&
            !atomic_compare_exchange_weak_explicit(&m->state, &s, s | PARKED,
                                                   memory_order_relaxed, memory_order_relaxed))
            continue;
        int rc = weft__park(&m->state, still_held_and_parked, NULL, deadline, flags);
        if (rc == -ETIMEDOUT || rc == -ECANCELED)
            return rc; /* step 4 */
        spins = SPIN_TRIES;
    }
}

void weft__mutex_lock(weft_mutex *m, const char *file, int line)
{
    if (weft__lockdep_active())
        weft__lockdep_acquire(m, file, line); /* reports before any wait */
    if (!try_take(m))
        lock_slow(m, WEFT_NEVER, WEFT__PARK_NOCANCEL);
}

int weft__mutex_lock_until(weft_mutex *m, int64_t deadline, const char *file, int line)
{
    if (deadline == WEFT_NOW) {
        /* Tries once: it cannot wait, so it is checked like a trylock. */
        int rc = weft__mutex_trylock(m, file, line);
        return rc == 0 ? 0 : -ETIMEDOUT;
    }
    bool tracked = weft__lockdep_active();
    if (tracked)
        weft__lockdep_acquire(m, file, line);
    if (try_take(m))
        return 0;
    int rc;
    if (weft_deadline_passed(deadline))
        rc = -ETIMEDOUT; /* a passed deadline tries once, as WEFT_NOW does */
    else
        rc = lock_slow(m, deadline, 0);
    if (rc != 0 && tracked)
        weft__lockdep_release(m);
    return rc;
}

int weft__mutex_trylock(weft_mutex *m, const char *file, int line)
{
    if (!try_take_any(m))
        return -EBUSY;
    if (weft__lockdep_active())
        weft__lockdep_acquired_try(m, file, line);
    return 0;
}

/* Step 3, under the bucket lock: HELD goes, PARKED stays while others are
 * parked. Release pairs with the acquire of the next taker. */
static void unlock_then(void *ctx, bool woke, bool more)
{
    (void)woke;
    weft_mutex *m = ctx;
    atomic_store_explicit(&m->state, more ? PARKED : 0, memory_order_release);
}

void weft_mutex_unlock(weft_mutex *m)
{
    if (weft__lockdep_active())
        weft__lockdep_release(m);
    uint32_t expected = HELD;
    /* Release pairs with the acquire in try_take() and try_take_any(). */
    if (atomic_compare_exchange_strong_explicit(&m->state, &expected, 0, memory_order_release,
                                                memory_order_relaxed))
        return;
    weft__unpark_one(&m->state, unlock_then, m);
}
