/* Process pool from many callers at once: 8 threads submitting 20k tasks
 * each into a pool with a small in-flight bound (so submitters keep
 * waiting for room and racing for slots), and 200 event-loop tasks that
 * each submit and await process pool futures (the waits suspend the tasks,
 * not the loop's thread). Every result is checked; the pool's counters
 * agree with what the callers saw. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <weft/loop.h>
#include <weft/procpool.h>

#include "weft_test.h"

enum { THREADS = 8, TASKS = 200 };

static int triple(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    int64_t x;
    if (len != sizeof x)
        return -EINVAL;
    memcpy(&x, arg, sizeof x);
    x *= 3;
    return weft_proc_return(ctx, &x, sizeof x);
}
WEFT_PROC_TASK(triple);

static weft_procpool *pool;
static int per_thread;

static void *submitter(void *arg)
{
    int64_t base = (int64_t)(intptr_t)arg * 1000000;
    weft_future *fs[64];
    for (int done = 0; done < per_thread; done += 64) {
        int k = per_thread - done < 64 ? per_thread - done : 64;
        for (int i = 0; i < k; i++) {
            int64_t x = base + done + i;
            WT_OK(weft_procpool_submit(pool, WEFT_PROC_TASK_REF(triple), &x, sizeof x,
                                       WEFT_NEVER, &fs[i]));
        }
        for (int i = 0; i < k; i++) {
            weft_value v;
            WT_OK(weft_future_result(fs[i], WEFT_NEVER, &v));
            WT_EQ(v.i64, 3 * (base + done + i));
            weft_future_unref(fs[i]);
        }
    }
    return NULL;
}

static int awaiter(void *arg, weft_value *result)
{
    (void)result;
    int64_t x = (int64_t)(intptr_t)arg;
    for (int i = 0; i < 10; i++) {
        weft_future *f;
        int64_t y = x * 10 + i;
        WT_OK(weft_procpool_submit(pool, WEFT_PROC_TASK_REF(triple), &y, sizeof y, WEFT_NEVER,
                                   &f));
        weft_value v;
        WT_OK(weft_future_result(f, WEFT_NEVER, &v)); /* suspends this task */
        WT_EQ(v.i64, 3 * y);
        weft_future_unref(f);
    }
    return 0;
}

static int loop_main(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    weft_future *fs[TASKS];
    for (int i = 0; i < TASKS; i++)
        WT_OK(weft_spawn(NULL, awaiter, (void *)(intptr_t)i, NULL, &fs[i]));
    for (int i = 0; i < TASKS; i++) {
        WT_OK(weft_future_result(fs[i], WEFT_NEVER, NULL));
        weft_future_unref(fs[i]);
    }
    return 0;
}

int main(void)
{
    per_thread = WT_SCALE(20000);
    weft_procpool_opts o = {.workers = 2, .max_in_flight = 16};
    WT_OK(weft_procpool_create(&pool, &o));
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_create(&th[i], NULL, submitter, (void *)(intptr_t)i), 0);
    WT_OK(weft_run(loop_main, NULL, NULL, NULL));
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    WT_OK(weft_procpool_shutdown(pool, WEFT_PROCPOOL_WAIT, WEFT_NEVER));
    weft_procpool_metrics m;
    WT_OK(weft_procpool_metrics_get(pool, &m));
    WT_EQ(m.submitted, (uint64_t)THREADS * per_thread + TASKS * 10);
    WT_EQ(m.completed, m.submitted);
    WT_EQ(m.failed + m.cancelled + m.restarts, 0);
    weft_procpool_destroy(pool);
    return 0;
}
