/* Thread pool stress (include/weft/pool.h): one million tiny tasks (100k
 * under the sanitizers) on every worker, from two submitting threads. 10% of
 * them, chosen at random, are cancelled: half by their submitter right after
 * submitting (usually still queued), half by a third thread at a random
 * later moment (queued, running or done: it races the workers). Checks: every future reaches
 * exactly one terminal state (a task that ran was not also cancelled; a cancelled one never ran),
 * every completion callback fires exactly once, the pool's counts add up, and the process's thread
 * count (/proc/self/task) returns to its starting value after destroy. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <weft/future.h>
#include <weft/pool.h>
#include <weft/time.h>

#include "test_threads.h"
#include "weft_test.h"

typedef struct slot {
    weft_future *_Atomic f;
    atomic_int ran;       /* times the task body ran */
    atomic_int callbacks; /* times the completion callback fired */
} slot;

static slot *slots;
static long total;

static int body(void *arg, weft_value *out)
{
    slot *s = arg;
    atomic_fetch_add_explicit(&s->ran, 1, memory_order_relaxed);
    out->u64 = (uint64_t)(s - slots);
    return 0;
}

static void on_done(weft_future *f, void *arg)
{
    (void)f;
    slot *s = arg;
    atomic_fetch_add_explicit(&s->callbacks, 1, memory_order_relaxed);
}

typedef struct submitter {
    weft_pool *p;
    long from, to;
} submitter;

static atomic_long cancels_won;

static void *submit_range(void *arg)
{
    submitter *sb = arg;
    unsigned seed = (unsigned)sb->from + 1;
    for (long i = sb->from; i < sb->to; i++) {
        weft_future *f;
        WT_OK(weft_pool_submit(sb->p, body, &slots[i], WEFT_NEVER, &f));
        int rc = weft_future_on_done(f, on_done, &slots[i]);
        if (rc == -EALREADY)
            on_done(f, &slots[i]); /* finished before we could register */
        else
            WT_OK(rc);
        /* Release: the canceller's acquire load sees an initialized future. */
        atomic_store_explicit(&slots[i].f, f, memory_order_release);
        if (rand_r(&seed) % 20 == 0 && weft_future_cancel(f) == 0)
            atomic_fetch_add(&cancels_won, 1);
    }
    return NULL;
}

static void *cancel_random(void *arg)
{
    (void)arg;
    unsigned seed = 12345;
    long want = total / 20;
    for (long k = 0; k < want; k++) {
        long i = rand_r(&seed) % total;
        weft_future *f;
        /* Wait until that slot was submitted (submitters run ahead). */
        while (!(f = atomic_load_explicit(&slots[i].f, memory_order_acquire)))
            sched_yield();
        if (weft_future_cancel(f) == 0)
            atomic_fetch_add(&cancels_won, 1);
    }
    return NULL;
}

int main(void)
{
    total = WT_SCALE(1000000L);
    slots = calloc((size_t)total, sizeof *slots);
    WT_ASSERT(slots != NULL);
    int threads_before = stable_thread_count();
    weft_pool *p;
    weft_pool_opts o = {.queue_capacity = 1024};
    WT_OK(weft_pool_create(&p, &o));
    expect_threads(threads_before + (int)weft_pool_workers(p));

    submitter sb[2] = {{p, 0, total / 2}, {p, total / 2, total}};
    pthread_t th[3];
    for (int i = 0; i < 2; i++)
        WT_EQ(pthread_create(&th[i], NULL, submit_range, &sb[i]), 0);
    WT_EQ(pthread_create(&th[2], NULL, cancel_random, NULL), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    WT_OK(weft_pool_shutdown(p, true, false, WEFT_NEVER));

    long done = 0, cancelled = 0;
    for (long i = 0; i < total; i++) {
        weft_future *f = atomic_load(&slots[i].f);
        weft_future_state st = weft_future_get_state(f);
        int ran = atomic_load(&slots[i].ran);
        WT_EQ(atomic_load(&slots[i].callbacks), 1);
        if (st == WEFT_FUTURE_DONE) {
            WT_EQ(ran, 1);
            weft_value v;
            WT_OK(weft_future_result(f, WEFT_NOW, &v));
            WT_EQ(v.u64, (uint64_t)i);
            done++;
        } else {
            WT_EQ(st, WEFT_FUTURE_CANCELLED);
            WT_EQ(ran, 0);
            WT_ERR(weft_future_result(f, WEFT_NOW, NULL), -ECANCELED);
            cancelled++;
        }
        weft_future_unref(f);
    }
    WT_EQ(done + cancelled, total);
    WT_EQ(cancelled, atomic_load(&cancels_won));
    WT_GT(cancelled, 0);
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.submitted, total);
    WT_EQ(m.completed, done);
    WT_EQ(m.cancelled, cancelled);
    WT_EQ(m.failed, 0);
    WT_EQ(m.queue_depth, 0);
    fprintf(stderr, "%ld tasks: %ld done, %ld cancelled, %llu steals, busy %.2f\n", total, done,
            cancelled, (unsigned long long)m.steals, m.busy_avg);
    weft_pool_destroy(p);
    expect_threads(threads_before);
    free(slots);
    return 0;
}
