/* The clock: monotonic nanoseconds, absolute deadlines, and the virtual
 * clock that tests use to fire timeouts without sleeping.
 *
 * Synchronization: `virtual_now` is 0 while the real clock is in use and the
 * current virtual time otherwise; it is read and written with atomics only.
 * The hooks are set once by src/sync (release) and read with acquire. */
#include <stdatomic.h>
#include <time.h>

#include <weft/error.h>
#include <weft/time.h>

#include "core/clock.h"

static _Atomic int64_t virtual_now; /* 0: real clock */
static _Atomic(weft__clock_hook *) advance_hook;
static _Atomic(weft__clock_count_fn *) count_fn;

int64_t weft_now(void)
{
    int64_t v = atomic_load_explicit(&virtual_now, memory_order_acquire);
    if (v != 0)
        return v;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * WEFT_SEC + ts.tv_nsec;
}

int64_t weft_deadline_in(int64_t ns)
{
    if (ns < 0)
        return WEFT_NEVER;
    int64_t now = weft_now();
    if (ns > INT64_MAX - now)
        return INT64_MAX;
    return now + ns;
}

int64_t weft_deadline_left(int64_t deadline)
{
    if (deadline == WEFT_NEVER)
        return INT64_MAX;
    /* Compare before subtracting: a deadline far in the past (any negative
     * value but WEFT_NEVER) would overflow deadline - now. */
    int64_t now = weft_now();
    return deadline > now ? deadline - now : 0;
}

bool weft_deadline_passed(int64_t deadline)
{
    return deadline != WEFT_NEVER && deadline <= weft_now();
}

bool weft__clock_is_virtual(void)
{
    return atomic_load_explicit(&virtual_now, memory_order_acquire) != 0;
}

void weft__clock_set_advance_hook(weft__clock_hook *hook)
{
    atomic_store_explicit(&advance_hook, hook, memory_order_release);
}

void weft__clock_set_count_fn(weft__clock_count_fn *fn)
{
    atomic_store_explicit(&count_fn, fn, memory_order_release);
}

static void run_hook(void)
{
    weft__clock_hook *hook = atomic_load_explicit(&advance_hook, memory_order_acquire);
    if (hook)
        hook();
}

int weft_clock_use_virtual(int64_t start_ns)
{
    if (start_ns <= 0)
        return -EINVAL;
    int64_t expected = 0;
    /* Pairs with the acquire loads in weft_now(). */
    if (!atomic_compare_exchange_strong_explicit(&virtual_now, &expected, start_ns,
                                                 memory_order_acq_rel, memory_order_acquire))
        return -EBUSY;
    return 0;
}

void weft_clock_use_real(void)
{
    atomic_store_explicit(&virtual_now, 0, memory_order_release);
    run_hook();
}

int weft_clock_advance(int64_t ns)
{
    if (ns < 0)
        return -EINVAL;
    int64_t cur = atomic_load_explicit(&virtual_now, memory_order_acquire);
    int64_t next;
    do {
        if (cur == 0)
            return -EINVAL;
        /* Saturate: cur + ns past INT64_MAX is undefined, and would wrap the
         * clock negative or to 0 (which reads as "back to real time"). */
        next = ns > INT64_MAX - cur ? INT64_MAX : cur + ns;
        /* Pairs with the acquire loads in weft_now(). */
    } while (!atomic_compare_exchange_weak_explicit(&virtual_now, &cur, next, memory_order_acq_rel,
                                                    memory_order_acquire));
    /* The hook takes the waiter list's lock after the store above, so a
     * waiter that checked the time under that lock either saw the new time
     * or is on the list the hook walks. */
    run_hook();
    return 0;
}

int weft_clock_timed_waiters(void)
{
    weft__clock_count_fn *fn = atomic_load_explicit(&count_fn, memory_order_acquire);
    return fn && weft__clock_is_virtual() ? fn() : 0;
}
