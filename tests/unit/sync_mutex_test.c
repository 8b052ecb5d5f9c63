/* weft_mutex: mutual exclusion under contention, trylock, timed lock on the
 * virtual clock, destroy. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include <weft/sync.h>

#include "weft_test.h"

enum { THREADS = 8 };

static void wait_timed_waiters(int n)
{
    /* Not a sleep: wait for the thread to be parked on the virtual clock. */
    while (weft_clock_timed_waiters() < n)
        sched_yield();
}

/* ---- contention: N threads x M increments of a plain counter ---------- */

static weft_mutex counter_lock = WEFT_MUTEX_INIT("counter");
static long counter; /* plain, not atomic: only the mutex protects it */
static long iterations;

static weft_barrier start = WEFT_BARRIER_INIT(THREADS);

/* Every thread starts counting at once (not one after another as they are
 * created), and now and then yields while holding the lock, so the others
 * really queue up behind it and park, not just spin. */
static void start_together(void)
{
    WT_ASSERT(weft_barrier_wait(&start, WEFT_NEVER) >= 0);
}

static void critical_section(long i)
{
    counter++;
    if ((i & 255) == 0)
        sched_yield();
}

static void *increment(void *arg)
{
    (void)arg;
    start_together();
    for (long i = 0; i < iterations; i++) {
        weft_mutex_lock(&counter_lock);
        critical_section(i);
        weft_mutex_unlock(&counter_lock);
    }
    return NULL;
}

static void *increment_timed(void *arg)
{
    (void)arg;
    start_together();
    for (long i = 0; i < iterations; i++) {
        WT_OK(weft_mutex_lock_until(&counter_lock, weft_deadline_in(30 * WEFT_SEC)));
        critical_section(i);
        weft_mutex_unlock(&counter_lock);
    }
    return NULL;
}

static void *increment_try(void *arg)
{
    long *busy = arg;
    start_together();
    for (long i = 0; i < iterations;) {
        int rc = weft_mutex_trylock(&counter_lock);
        if (rc == -EBUSY) {
            (*busy)++;
            sched_yield();
            continue;
        }
        WT_OK(rc);
        critical_section(i);
        weft_mutex_unlock(&counter_lock);
        i++;
    }
    return NULL;
}

static void run_threads(void *(*fn)(void *), void **args)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_create(&t[i], NULL, fn, args ? args[i] : NULL), 0);
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
}

static void test_contention_exact_count(void)
{
    counter = 0;
    iterations = WT_SCALE(100000);
    run_threads(increment, NULL);
    WT_EQ(counter, THREADS * iterations);
    WT_OK(weft_mutex_destroy(&counter_lock));
}

static void test_contention_timed_lock(void)
{
    counter = 0;
    iterations = WT_SCALE(50000);
    run_threads(increment_timed, NULL);
    WT_EQ(counter, THREADS * iterations);
}

static void test_contention_trylock(void)
{
    counter = 0;
    iterations = WT_SCALE(20000);
    long busy[THREADS] = {0};
    void *args[THREADS];
    for (int i = 0; i < THREADS; i++)
        args[i] = &busy[i];
    run_threads(increment_try, args);
    WT_EQ(counter, THREADS * iterations);
}

/* ---- trylock and destroy ------------------------------------------------ */

static weft_mutex try_lock_m;

static void *trylock_from_other(void *arg)
{
    (void)arg;
    WT_ERR(weft_mutex_trylock(&try_lock_m), -EBUSY);
    WT_ERR(weft_mutex_lock_until(&try_lock_m, WEFT_NOW), -ETIMEDOUT);
    return NULL;
}

static void test_trylock_and_destroy(void)
{
    weft_mutex_init(&try_lock_m, "try");
    WT_OK(weft_mutex_trylock(&try_lock_m));
    WT_ERR(weft_mutex_destroy(&try_lock_m), -EBUSY);
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, trylock_from_other, NULL), 0);
    WT_EQ(pthread_join(t, NULL), 0);
    weft_mutex_unlock(&try_lock_m);
    WT_OK(weft_mutex_lock_until(&try_lock_m, WEFT_NOW));
    weft_mutex_unlock(&try_lock_m);
    WT_OK(weft_mutex_destroy(&try_lock_m));
}

/* ---- timed lock on the virtual clock ----------------------------------- */

static weft_mutex timed_m = WEFT_MUTEX_INIT("timed");
static int64_t timed_deadline;
static _Atomic int timed_rc;

static void *lock_until_deadline(void *arg)
{
    (void)arg;
    int rc = weft_mutex_lock_until(&timed_m, timed_deadline);
    if (rc == 0)
        weft_mutex_unlock(&timed_m);
    atomic_store(&timed_rc, rc);
    return NULL;
}

static void test_lock_until_times_out_on_virtual_clock(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    weft_mutex_lock(&timed_m);
    timed_deadline = weft_now() + 5 * WEFT_SEC;
    atomic_store(&timed_rc, 1);
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, lock_until_deadline, NULL), 0);
    wait_timed_waiters(1);
    WT_OK(weft_clock_advance(4 * WEFT_SEC)); /* not yet */
    WT_EQ(atomic_load(&timed_rc), 1);
    WT_OK(weft_clock_advance(1 * WEFT_SEC));
    WT_EQ(pthread_join(t, NULL), 0);
    WT_ERR(atomic_load(&timed_rc), -ETIMEDOUT);
    /* The waiter that gave up left the "maybe waiters" state behind; the
     * mutex must still work normally. */
    weft_mutex_unlock(&timed_m);
    WT_OK(weft_mutex_trylock(&timed_m));
    weft_mutex_unlock(&timed_m);

    /* A deadline that has already passed tries once. */
    weft_mutex_lock(&timed_m);
    timed_deadline = weft_now();
    WT_EQ(pthread_create(&t, NULL, lock_until_deadline, NULL), 0);
    WT_EQ(pthread_join(t, NULL), 0);
    WT_ERR(atomic_load(&timed_rc), -ETIMEDOUT);
    weft_mutex_unlock(&timed_m);
    weft_clock_use_real();
}

static void test_lock_until_succeeds_when_released(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    weft_mutex_lock(&timed_m);
    timed_deadline = weft_now() + 5 * WEFT_SEC;
    atomic_store(&timed_rc, 1);
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, lock_until_deadline, NULL), 0);
    wait_timed_waiters(1);
    weft_mutex_unlock(&timed_m); /* wakes it before its deadline */
    WT_EQ(pthread_join(t, NULL), 0);
    WT_OK(atomic_load(&timed_rc));
    weft_clock_use_real();
}

/* Several timed waiters, some give up, the rest are served: a timeout must
 * never swallow the wake-up meant for another waiter. */
static _Atomic int served, gave_up;
static int64_t short_deadline, long_deadline;

static void *short_waiter(void *arg)
{
    (void)arg;
    int rc = weft_mutex_lock_until(&timed_m, short_deadline);
    WT_ERR(rc, -ETIMEDOUT);
    atomic_fetch_add(&gave_up, 1);
    return NULL;
}

static void *long_waiter(void *arg)
{
    (void)arg;
    WT_OK(weft_mutex_lock_until(&timed_m, long_deadline));
    atomic_fetch_add(&served, 1);
    weft_mutex_unlock(&timed_m);
    return NULL;
}

static void test_timeouts_do_not_lose_wakeups(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    short_deadline = weft_now() + 1 * WEFT_SEC;
    long_deadline = weft_now() + 100 * WEFT_SEC;
    atomic_store(&served, 0);
    atomic_store(&gave_up, 0);
    weft_mutex_lock(&timed_m);
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        WT_EQ(pthread_create(&t[i], NULL, i % 2 ? short_waiter : long_waiter, NULL), 0);
    wait_timed_waiters(6);
    WT_OK(weft_clock_advance(1 * WEFT_SEC));
    while (atomic_load(&gave_up) < 3)
        sched_yield();
    weft_mutex_unlock(&timed_m);
    for (int i = 0; i < 6; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(atomic_load(&served), 3);
    weft_clock_use_real();
}

/* The PARKED bit (src/sync/mutex.c, steps 3 and 4) is set exactly while
 * threads are parked: an unlock that wakes the last parked thread clears
 * it, and one that finds only a waiter that timed out clears it too, so
 * later unlocks take the fast path again. */
static void test_parked_bit_is_exact(void)
{
    enum { HELD = 1, PARKED = 2 };
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    short_deadline = weft_now() + 1 * WEFT_SEC;
    long_deadline = weft_now() + 100 * WEFT_SEC;
    atomic_store(&served, 0);
    atomic_store(&gave_up, 0);

    /* Step 4: a waiter that timed out leaves PARKED; the unlock clears it. */
    weft_mutex_lock(&timed_m);
    pthread_t t[2];
    WT_EQ(pthread_create(&t[0], NULL, short_waiter, NULL), 0);
    wait_timed_waiters(1);
    WT_EQ(atomic_load(&timed_m.state), HELD | PARKED);
    WT_OK(weft_clock_advance(1 * WEFT_SEC));
    WT_EQ(pthread_join(t[0], NULL), 0);
    WT_EQ(atomic_load(&timed_m.state), HELD | PARKED);
    weft_mutex_unlock(&timed_m);
    WT_EQ(atomic_load(&timed_m.state), 0);

    /* Step 3: two parked waiters are both served, and the last wake leaves
     * the mutex free with no PARKED bit. */
    weft_mutex_lock(&timed_m);
    for (int i = 0; i < 2; i++)
        WT_EQ(pthread_create(&t[i], NULL, long_waiter, NULL), 0);
    wait_timed_waiters(2);
    WT_EQ(atomic_load(&timed_m.state), HELD | PARKED);
    weft_mutex_unlock(&timed_m);
    for (int i = 0; i < 2; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(atomic_load(&served), 2);
    WT_EQ(atomic_load(&timed_m.state), 0);
    WT_OK(weft_mutex_destroy(&timed_m));
    weft_clock_use_real();
}

int main(void)
{
    WT_RUN(test_contention_exact_count);
    WT_RUN(test_contention_timed_lock);
    WT_RUN(test_contention_trylock);
    WT_RUN(test_trylock_and_destroy);
    WT_RUN(test_lock_until_times_out_on_virtual_clock);
    WT_RUN(test_lock_until_succeeds_when_released);
    WT_RUN(test_timeouts_do_not_lose_wakeups);
    WT_RUN(test_parked_bit_is_exact);
    return 0;
}
