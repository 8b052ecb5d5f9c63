/* weft_waitgroup: many tasks and waiters, reuse over rounds, timed waits on
 * the virtual clock, a wait that sees 0 even if add() raised it again,
 * errors. */
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

/* ---- rounds of N tasks, reused group ------------------------------------ */

enum { WORKERS = 4, EXTRA_WAITERS = 2 };

static weft_waitgroup wg = WEFT_WAITGROUP_INIT;
static weft_sem start[WORKERS]; /* one per worker: one task per round each */
static long results[WORKERS]; /* plain: done() and wait() order them */
static long rounds;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (long r = 0; r < rounds; r++) {
        WT_OK(weft_sem_acquire(&start[id], WEFT_NEVER));
        results[id] += r;
        WT_OK(weft_waitgroup_done(&wg));
    }
    return NULL;
}

static weft_waitgroup all_done = WEFT_WAITGROUP_INIT;

static void *extra_waiter(void *arg)
{
    (void)arg;
    WT_OK(weft_waitgroup_wait(&all_done, WEFT_NEVER));
    return NULL;
}

static void test_rounds(void)
{
    rounds = WT_SCALE(20000);
    WT_OK(weft_waitgroup_add(&all_done, 1));
    pthread_t t[WORKERS], w[EXTRA_WAITERS];
    for (int i = 0; i < WORKERS; i++)
        WT_OK(weft_sem_init(&start[i], 0));
    for (int i = 0; i < EXTRA_WAITERS; i++)
        WT_EQ(pthread_create(&w[i], NULL, extra_waiter, NULL), 0);
    for (int i = 0; i < WORKERS; i++)
        WT_EQ(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
    long expect = 0;
    for (long r = 0; r < rounds; r++) {
        /* Tasks are counted before they can start (Go's rule). */
        WT_OK(weft_waitgroup_add(&wg, WORKERS));
        for (int i = 0; i < WORKERS; i++)
            WT_OK(weft_sem_release(&start[i], 1));
        WT_OK(weft_waitgroup_wait(&wg, WEFT_NEVER));
        WT_EQ(weft_waitgroup_count(&wg), 0);
        expect += r;
        /* Every task of the round finished, and its write is visible. */
        long sum = 0;
        for (int i = 0; i < WORKERS; i++)
            sum += results[i];
        WT_EQ(sum, WORKERS * expect);
    }
    WT_OK(weft_waitgroup_done(&all_done));
    for (int i = 0; i < WORKERS; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < EXTRA_WAITERS; i++)
        WT_EQ(pthread_join(w[i], NULL), 0);
    for (int i = 0; i < WORKERS; i++)
        WT_EQ(results[i], expect);
}

/* ---- timed waits, generations ------------------------------------------- */

static weft_waitgroup timed_wg;
static int64_t timed_deadline;
static _Atomic int ok_count, timeout_count;

static void *timed_waiter(void *arg)
{
    (void)arg;
    int rc = weft_waitgroup_wait(&timed_wg, timed_deadline);
    if (rc == 0)
        atomic_fetch_add(&ok_count, 1);
    else {
        WT_ERR(rc, -ETIMEDOUT);
        atomic_fetch_add(&timeout_count, 1);
    }
    return NULL;
}

static void spawn(pthread_t *t, int n)
{
    atomic_store(&ok_count, 0);
    atomic_store(&timeout_count, 0);
    for (int i = 0; i < n; i++)
        WT_EQ(pthread_create(&t[i], NULL, timed_waiter, NULL), 0);
}

static void test_wait_times_out(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    weft_waitgroup_init(&timed_wg);
    WT_OK(weft_waitgroup_wait(&timed_wg, WEFT_NOW)); /* counter 0: at once */
    WT_OK(weft_waitgroup_add(&timed_wg, 1));
    WT_ERR(weft_waitgroup_wait(&timed_wg, WEFT_NOW), -ETIMEDOUT);
    timed_deadline = weft_now() + 2 * WEFT_SEC;
    pthread_t t[2];
    spawn(t, 2);
    wait_timed_waiters(2);
    WT_OK(weft_clock_advance(2 * WEFT_SEC));
    for (int i = 0; i < 2; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(atomic_load(&timeout_count), 2);
    WT_OK(weft_waitgroup_done(&timed_wg));
    WT_OK(weft_waitgroup_wait(&timed_wg, WEFT_NOW));
    weft_clock_use_real();
}

static void test_zero_then_add_still_releases(void)
{
    enum { N = 3 };
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    weft_waitgroup_init(&timed_wg);
    WT_OK(weft_waitgroup_add(&timed_wg, 2));
    timed_deadline = weft_now() + 10 * WEFT_SEC;
    pthread_t t[N];
    spawn(t, N);
    wait_timed_waiters(N);
    WT_OK(weft_waitgroup_add(&timed_wg, -2)); /* reaches 0 ... */
    WT_OK(weft_waitgroup_add(&timed_wg, 1));  /* ... and is raised at once */
    for (int i = 0; i < N; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(atomic_load(&ok_count), N);
    WT_EQ(weft_waitgroup_count(&timed_wg), 1);
    WT_OK(weft_waitgroup_done(&timed_wg));
    weft_clock_use_real();
}

static void test_errors(void)
{
    weft_waitgroup g;
    weft_waitgroup_init(&g);
    WT_ERR(weft_waitgroup_done(&g), -EINVAL);
    WT_OK(weft_waitgroup_add(&g, 3));
    WT_ERR(weft_waitgroup_add(&g, -4), -EINVAL);
    WT_EQ(weft_waitgroup_count(&g), 3);
    WT_ERR(weft_waitgroup_add(&g, WEFT_WAITGROUP_MAX), -EOVERFLOW);
    WT_OK(weft_waitgroup_add(&g, WEFT_WAITGROUP_MAX - 3));
    WT_EQ(weft_waitgroup_count(&g), WEFT_WAITGROUP_MAX);
    WT_OK(weft_waitgroup_add(&g, -WEFT_WAITGROUP_MAX));
    WT_OK(weft_waitgroup_wait(&g, WEFT_NOW));
}

int main(void)
{
    WT_RUN(test_rounds);
    WT_RUN(test_wait_times_out);
    WT_RUN(test_zero_then_add_still_releases);
    WT_RUN(test_errors);
    return 0;
}
