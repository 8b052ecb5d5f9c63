/* weft_mutex: a three-state futex mutex (as src/sync/lock.h) that parks in
 * the parking lot, so a timed lock honours the virtual clock, and that feeds
 * the lock-order checker.
 *
 * Synchronization: `state` is 0 unlocked, 1 locked, 2 locked with possible
 * parked waiters. Taking the lock (CAS 0 -> 1, or exchange to 2 in the slow
 * path) acquires; unlock (exchange to 0) releases, pairing with those. Only
 * an unlock that saw 2 unparks, so an uncontended lock/unlock pair is two
 * atomic operations and no system call. A waiter that gives up (timeout)
 * leaves 2 behind: the next unlock then unparks nobody, a cheap false alarm,
 * which is what keeps the three states enough (no waiter count). */
#include <weft/sync.h>

#include "sync/futex.h"
#include "sync/lockdep.h"
#include "sync/park.h"

/* Spin before parking: critical sections under a weft_mutex are usually
 * short, and a park/unpark round trip costs ~10 us on this class of
 * machine, so a short spin often wins. Not when others are already parked
 * (state 2): the holder is then slow enough that spinning only burns CPU. */
enum { SPIN_TRIES = 100 };

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
    return atomic_load_explicit(&m->state, memory_order_relaxed) != 0 ? -EBUSY : 0;
}

static bool try_take(weft_mutex *m)
{
    uint32_t expected = 0;
    /* Acquire pairs with the release exchange in weft_mutex_unlock(). */
    return atomic_compare_exchange_strong_explicit(&m->state, &expected, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static int lock_slow(weft_mutex *m, int64_t deadline)
{
    for (int i = 0; i < SPIN_TRIES; i++) {
        uint32_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
        if (s == 0 && try_take(m))
            return 0;
        if (s == 2)
            break;
        weft__cpu_relax();
    }
    /* Announce a waiter (state 2) and take the lock if it was free; the
     * exchange acquires, pairing with the release in weft_mutex_unlock().
     * Each park re-checks under the parking lot's lock that the state is
     * still 2, so an unlock between the exchange and the park is seen. */
    while (atomic_exchange_explicit(&m->state, 2, memory_order_acquire) != 0) {
        if (weft__park_u32(&m->state, 2, deadline) == -ETIMEDOUT)
            return -ETIMEDOUT;
    }
    return 0;
}

void weft__mutex_lock(weft_mutex *m, const char *file, int line)
{
    if (weft__lockdep_active())
        weft__lockdep_acquire(m, file, line); /* reports before any wait */
    if (!try_take(m))
        lock_slow(m, WEFT_NEVER);
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
        rc = lock_slow(m, deadline);
    if (rc != 0 && tracked)
        weft__lockdep_release(m);
    return rc;
}

int weft__mutex_trylock(weft_mutex *m, const char *file, int line)
{
    if (!try_take(m))
        return -EBUSY;
    if (weft__lockdep_active())
        weft__lockdep_acquired_try(m, file, line);
    return 0;
}

void weft_mutex_unlock(weft_mutex *m)
{
    if (weft__lockdep_active())
        weft__lockdep_release(m);
    /* Release pairs with the acquire in try_take() and lock_slow(). */
    if (atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2)
        weft__unpark(&m->state, 1);
}
