/* weft_sem: never more holders than permits under contention, try, timed
 * acquire on the virtual clock, release(n) waking n, errors. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include <weft/sync.h>

#include "weft_test.h"

static void wait_timed_waiters(int n)
{
    while (weft_clock_timed_waiters() < n)
        sched_yield();
}

/* ---- contention ---------------------------------------------------------- */

enum { THREADS = 8, PERMITS = 3 };

static weft_sem slots = WEFT_SEM_INIT(PERMITS);
static _Atomic int holders, max_holders;
static _Atomic long acquisitions;
static long rounds;

static void *use_slot(void *arg)
{
    bool timed = arg != NULL;
    for (long i = 0; i < rounds; i++) {
        if (timed)
            WT_OK(weft_sem_acquire(&slots, weft_deadline_in(30 * WEFT_SEC)));
        else
            WT_OK(weft_sem_acquire(&slots, WEFT_NEVER));
        int now = atomic_fetch_add(&holders, 1) + 1;
        int seen = atomic_load(&max_holders);
        while (now > seen && !atomic_compare_exchange_weak(&max_holders, &seen, now))
            ;
        if (i % 64 == 0)
            sched_yield(); /* hold it a while sometimes, so holders overlap */
        atomic_fetch_sub(&holders, 1);
        atomic_fetch_add(&acquisitions, 1);
        WT_OK(weft_sem_release(&slots, 1));
    }
    return NULL;
}

static void test_never_more_holders_than_permits(void)
{
    rounds = WT_SCALE(40000);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_create(&t[i], NULL, use_slot, i % 2 ? (void *)1 : NULL), 0);
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(atomic_load(&acquisitions), THREADS * rounds);
    WT_LE(atomic_load(&max_holders), PERMITS);
    WT_GE(atomic_load(&max_holders), 1);
    WT_EQ(weft_sem_value(&slots), PERMITS); /* every permit came back */
    WT_OK(weft_sem_destroy(&slots));
}

/* A binary semaphore as a lock: a plain counter stays exact. */
static weft_sem binary = WEFT_SEM_INIT(1);
static long plain_counter;

static void *increment_under_sem(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        WT_OK(weft_sem_acquire(&binary, WEFT_NEVER));
        plain_counter++;
        WT_OK(weft_sem_release(&binary, 1));
    }
    return NULL;
}

static void test_binary_semaphore_excludes(void)
{
    rounds = WT_SCALE(50000);
    plain_counter = 0;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_create(&t[i], NULL, increment_under_sem, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(plain_counter, THREADS * rounds);
}

/* ---- try and errors ------------------------------------------------------ */

static void test_try_and_errors(void)
{
    weft_sem s;
    WT_ERR(weft_sem_init(&s, WEFT_SEM_MAX + 1u), -EINVAL);
    WT_OK(weft_sem_init(&s, 1));
    WT_OK(weft_sem_try(&s));
    WT_ERR(weft_sem_try(&s), -EAGAIN);
    WT_ERR(weft_sem_acquire(&s, WEFT_NOW), -ETIMEDOUT);
    WT_ERR(weft_sem_release(&s, 0), -EINVAL);
    WT_OK(weft_sem_release(&s, 2));
    WT_EQ(weft_sem_value(&s), 2);
    WT_ERR(weft_sem_release(&s, WEFT_SEM_MAX), -EOVERFLOW);
    WT_EQ(weft_sem_value(&s), 2); /* a failed release changes nothing */
    WT_OK(weft_sem_release(&s, WEFT_SEM_MAX - 2));
    WT_EQ(weft_sem_value(&s), WEFT_SEM_MAX);
    WT_OK(weft_sem_destroy(&s));
}

/* ---- timed acquire on the virtual clock --------------------------------- */

static weft_sem timed_sem = WEFT_SEM_INIT(0);
static int64_t timed_deadline;
static _Atomic int ok_count, timeout_count;

static void *timed_acquirer(void *arg)
{
    (void)arg;
    int rc = weft_sem_acquire(&timed_sem, timed_deadline);
    if (rc == 0)
        atomic_fetch_add(&ok_count, 1);
    else if (rc == -ETIMEDOUT)
        atomic_fetch_add(&timeout_count, 1);
    else
        WT_OK(rc);
    return NULL;
}

static void test_timed_acquire_times_out(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    timed_deadline = weft_now() + 3 * WEFT_SEC;
    atomic_store(&ok_count, 0);
    atomic_store(&timeout_count, 0);
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, timed_acquirer, NULL), 0);
    wait_timed_waiters(1);
    WT_OK(weft_clock_advance(3 * WEFT_SEC));
    WT_EQ(pthread_join(t, NULL), 0);
    WT_EQ(atomic_load(&timeout_count), 1);
    WT_EQ(atomic_load(&ok_count), 0);
    WT_OK(weft_sem_destroy(&timed_sem)); /* the timed-out waiter left */
    weft_clock_use_real();
}

static void test_release_n_wakes_n(void)
{
    enum { N = 5 };
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    timed_deadline = weft_now() + 10 * WEFT_SEC;
    atomic_store(&ok_count, 0);
    atomic_store(&timeout_count, 0);
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        WT_EQ(pthread_create(&t[i], NULL, timed_acquirer, NULL), 0);
    wait_timed_waiters(N);
    WT_OK(weft_sem_release(&timed_sem, N - 2)); /* 3 of the 5 get a permit */
    while (atomic_load(&ok_count) < N - 2)
        sched_yield();
    WT_OK(weft_clock_advance(10 * WEFT_SEC)); /* the other 2 time out */
    for (int i = 0; i < N; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(atomic_load(&ok_count), N - 2);
    WT_EQ(atomic_load(&timeout_count), 2);
    WT_EQ(weft_sem_value(&timed_sem), 0);
    weft_clock_use_real();
}

int main(void)
{
    WT_RUN(test_never_more_holders_than_permits);
    WT_RUN(test_binary_semaphore_excludes);
    WT_RUN(test_try_and_errors);
    WT_RUN(test_timed_acquire_times_out);
    WT_RUN(test_release_n_wakes_n);
    return 0;
}
