/* Thread pool sleep protocol (src/sched/pool.c, Synchronization): no lost
 * wake-up. Each round starts with every worker idle (spinning or parked)
 * and needs a wake to finish; a lost wake hangs the round and ctest's
 * timeout fails the test.
 * 1. Ping: submit one task from outside, wait for it; repeated, so the
 *    submit races workers that are going to sleep.
 * 2. Local push: a task pushes a child to its own deque and then blocks on
 *    a 2-party barrier that only the child can complete, so the child must
 *    be stolen by the other worker, which the push has to wake.
 * 3. Blocked submitters: two threads flood a 2-slot queue (BLOCK policy);
 *    every consumer pop must wake them as needed. */
#include <pthread.h>
#include <stdatomic.h>

#include <weft/future.h>
#include <weft/pool.h>
#include <weft/sync.h>

#include "weft_test.h"

static int ping(void *arg, weft_value *out)
{
    out->i64 = (int64_t)(intptr_t)arg + 1;
    return 0;
}

static void test_ping(void)
{
    weft_pool *p;
    weft_pool_opts o = {.workers = 2};
    WT_OK(weft_pool_create(&p, &o));
    for (int i = 0; i < WT_SCALE(20000); i++) {
        weft_future *f;
        WT_OK(weft_pool_submit(p, ping, (void *)(intptr_t)i, WEFT_NEVER, &f));
        weft_value v;
        WT_OK(weft_future_result(f, WEFT_NEVER, &v));
        WT_EQ(v.i64, i + 1);
        weft_future_unref(f);
    }
    weft_pool_destroy(p);
}

typedef struct meet {
    weft_pool *p;
    weft_barrier barrier;
} meet;

static int child(void *arg, weft_value *out)
{
    meet *m = arg;
    (void)out;
    return weft_barrier_wait(&m->barrier, WEFT_NEVER) < 0 ? -EIO : 0;
}

static int parent(void *arg, weft_value *out)
{
    meet *m = arg;
    (void)out;
    weft_future *f;
    int rc = weft_pool_submit(m->p, child, m, WEFT_NEVER, &f);
    if (rc != 0)
        return rc;
    /* Not weft_pool_wait: this worker must not run the child itself. */
    rc = weft_barrier_wait(&m->barrier, WEFT_NEVER) < 0 ? -EIO : 0;
    weft_future_wait(f, WEFT_NEVER);
    weft_future_unref(f);
    return rc;
}

static void test_local_push_wakes_thief(void)
{
    meet m;
    weft_pool_opts o = {.workers = 2};
    WT_OK(weft_pool_create(&m.p, &o));
    WT_OK(weft_barrier_init(&m.barrier, 2));
    for (int i = 0; i < WT_SCALE(5000); i++) {
        weft_future *f;
        WT_OK(weft_pool_submit(m.p, parent, &m, WEFT_NEVER, &f));
        WT_OK(weft_future_result(f, WEFT_NEVER, NULL));
        weft_future_unref(f);
    }
    weft_pool_metrics met;
    WT_OK(weft_pool_metrics_get(m.p, &met));
    WT_GE(met.steals, WT_SCALE(5000)); /* every child was stolen */
    weft_pool_destroy(m.p);
    weft_barrier_destroy(&m.barrier);
}

static atomic_long flood_ran;

static int count_it(void *arg, weft_value *out)
{
    (void)arg;
    (void)out;
    atomic_fetch_add(&flood_ran, 1);
    return 0;
}

static void *flood(void *arg)
{
    weft_pool *p = arg;
    for (int i = 0; i < WT_SCALE(50000); i++)
        WT_OK(weft_pool_submit(p, count_it, NULL, WEFT_NEVER, NULL));
    return NULL;
}

static void test_blocked_submitters(void)
{
    weft_pool *p;
    weft_pool_opts o = {.workers = 1, .queue_capacity = 2, .full_policy = WEFT_POOL_BLOCK};
    WT_OK(weft_pool_create(&p, &o));
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        WT_EQ(pthread_create(&th[i], NULL, flood, p), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    weft_pool_destroy(p);
    WT_EQ(atomic_load(&flood_ran), 2 * WT_SCALE(50000));
}

int main(void)
{
    WT_RUN(test_ping);
    WT_RUN(test_local_push_wakes_thief);
    WT_RUN(test_blocked_submitters);
    return 0;
}
