/* The bounded submission queue under a flood, one test per full policy
 * (include/weft/pool.h): FAIL rejects with -EAGAIN exactly what does not
 * fit; BLOCK makes flooding threads wait (nothing lost, the queue never
 * exceeds its capacity) and honours deadlines on the virtual clock;
 * RUN_IN_CALLER runs the overflow on the submitting thread. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include <weft/future.h>
#include <weft/pool.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "weft_test.h"

typedef struct gate {
    weft_event started, release;
} gate;

static int gated(void *arg, weft_value *out)
{
    gate *g = arg;
    (void)out;
    weft_event_set(&g->started);
    weft_event_wait(&g->release, WEFT_NEVER);
    return 0;
}

static atomic_long ran;
static _Thread_local int on_main;
static atomic_long ran_on_main;

static int tiny(void *arg, weft_value *out)
{
    (void)arg;
    out->i64 = 1;
    atomic_fetch_add(&ran, 1);
    if (on_main)
        atomic_fetch_add(&ran_on_main, 1);
    return 0;
}

/* A pool whose only worker is stuck in a gated task, so the queue fills. */
static weft_pool *blocked_pool(size_t capacity, weft_pool_full_policy policy, gate *g)
{
    weft_pool *p;
    weft_pool_opts o = {.workers = 1, .queue_capacity = capacity, .full_policy = policy};
    WT_OK(weft_pool_create(&p, &o));
    weft_event_init(&g->started);
    weft_event_init(&g->release);
    WT_OK(weft_pool_submit(p, gated, g, WEFT_NEVER, NULL));
    WT_OK(weft_event_wait(&g->started, WEFT_NEVER));
    return p;
}

static void test_fail_policy(void)
{
    atomic_store(&ran, 0);
    gate g;
    weft_pool *p = blocked_pool(8, WEFT_POOL_FAIL, &g);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 1000; i++) {
        weft_future *f = NULL;
        int rc = weft_pool_submit(p, tiny, NULL, WEFT_NEVER, &f);
        if (rc == 0) {
            accepted++;
            weft_future_unref(f);
        } else {
            WT_ERR(rc, -EAGAIN);
            WT_EQ_PTR(f, NULL);
            refused++;
        }
    }
    WT_EQ(accepted, 8);
    WT_EQ(refused, 992);
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.rejected, 992);
    WT_EQ(m.queue_depth, 8);
    WT_EQ(m.queue_depth_peak, 8);
    weft_event_set(&g.release);
    WT_OK(weft_pool_shutdown(p, true, false, WEFT_NEVER));
    WT_EQ(atomic_load(&ran), 8);
    weft_pool_destroy(p);
}

typedef struct flood {
    weft_pool *p;
    long n;
} flood;

static void *flood_blocking(void *arg)
{
    flood *f = arg;
    for (long i = 0; i < f->n; i++)
        WT_OK(weft_pool_submit(f->p, tiny, NULL, WEFT_NEVER, NULL));
    return NULL;
}

static void test_block_policy_flood(void)
{
    atomic_store(&ran, 0);
    weft_pool *p;
    weft_pool_opts o = {
        .workers = 2, .queue_capacity = 4, .full_policy = WEFT_POOL_BLOCK, .timing_sample = 1};
    WT_OK(weft_pool_create(&p, &o));
    enum { FLOODERS = 4 };
    long per = WT_SCALE(20000);
    flood f = {p, per};
    pthread_t th[FLOODERS];
    for (int i = 0; i < FLOODERS; i++)
        WT_EQ(pthread_create(&th[i], NULL, flood_blocking, &f), 0);
    for (int i = 0; i < FLOODERS; i++)
        pthread_join(th[i], NULL);
    WT_OK(weft_pool_shutdown(p, true, false, WEFT_NEVER));
    WT_EQ(atomic_load(&ran), FLOODERS * per);
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.submitted, FLOODERS * per);
    WT_EQ(m.completed, FLOODERS * per);
    WT_EQ(m.rejected, 0);
    WT_LE(m.queue_depth_peak, 4); /* outside submissions only use the bounded queue */
    weft_pool_destroy(p);
}

typedef struct timed_submit {
    weft_pool *p;
    int64_t deadline;
    int rc;
} timed_submit;

static void *submit_with_deadline(void *arg)
{
    timed_submit *t = arg;
    t->rc = weft_pool_submit(t->p, tiny, NULL, t->deadline, NULL);
    return NULL;
}

static void test_block_policy_deadline(void)
{
    gate g;
    weft_pool *p = blocked_pool(2, WEFT_POOL_BLOCK, &g);
    WT_OK(weft_pool_submit(p, tiny, NULL, WEFT_NEVER, NULL));
    WT_OK(weft_pool_submit(p, tiny, NULL, WEFT_NEVER, NULL));
    WT_ERR(weft_pool_submit(p, tiny, NULL, WEFT_NOW, NULL), -EAGAIN);
    WT_OK(weft_clock_use_virtual(5000));
    timed_submit t = {p, weft_deadline_in(10 * WEFT_MSEC), 1};
    pthread_t th;
    WT_EQ(pthread_create(&th, NULL, submit_with_deadline, &t), 0);
    while (weft_clock_timed_waiters() < 1)
        sched_yield();
    WT_OK(weft_clock_advance(10 * WEFT_MSEC));
    pthread_join(th, NULL);
    WT_ERR(t.rc, -ETIMEDOUT);
    /* A blocked submitter gets in once a slot frees up. */
    t = (timed_submit){p, weft_deadline_in(WEFT_SEC), 1};
    WT_EQ(pthread_create(&th, NULL, submit_with_deadline, &t), 0);
    while (weft_clock_timed_waiters() < 1)
        sched_yield();
    /* Still on the virtual clock (its deadline means nothing on the real
     * one): the worker frees a slot and wakes the submitter. */
    weft_event_set(&g.release);
    pthread_join(th, NULL);
    WT_OK(t.rc);
    weft_clock_use_real();
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.rejected, 2);
    weft_pool_destroy(p);
}

static void test_run_in_caller_policy(void)
{
    atomic_store(&ran, 0);
    atomic_store(&ran_on_main, 0);
    on_main = 1;
    gate g;
    weft_pool *p = blocked_pool(4, WEFT_POOL_RUN_IN_CALLER, &g);
    int already_done = 0;
    for (int i = 0; i < 100; i++) {
        weft_future *f;
        WT_OK(weft_pool_submit(p, tiny, NULL, WEFT_NEVER, &f));
        already_done += weft_future_get_state(f) == WEFT_FUTURE_DONE;
        weft_future_unref(f);
    }
    WT_EQ(already_done, 96);
    WT_EQ(atomic_load(&ran_on_main), 96);
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.ran_in_caller, 96);
    WT_EQ(m.rejected, 0);
    weft_event_set(&g.release);
    WT_OK(weft_pool_shutdown(p, true, false, WEFT_NEVER));
    WT_EQ(atomic_load(&ran), 100);
    WT_EQ(atomic_load(&ran_on_main), 96);
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.submitted, 101);
    WT_EQ(m.completed, 101);
    weft_pool_destroy(p);
    on_main = 0;
}

int main(void)
{
    WT_RUN(test_fail_policy);
    WT_RUN(test_block_policy_flood);
    WT_RUN(test_block_policy_deadline);
    WT_RUN(test_run_in_caller_policy);
    return 0;
}
