/* Seed 000 "Concurrence et Asyncio", section 8, "Pattern avancé :
 * Producteur-Consommateur avec Queue": a producer makes 10 tasks, one every
 * 0.1 s; 3 consumers square each one (then "work" 0.2 s); the results are
 * collected at the end.
 *
 * On a pool, the queue and the consumer loop are the pool's: the 3
 * consumers are its 3 workers, the producer submits each task, and the
 * poison pill (None, re-queued by every consumer) becomes
 * weft_pool_shutdown(): stop accepting, let the workers finish what is
 * queued, join them. The results queue becomes the futures, read in task
 * order. The printed metrics show what the seed's Queue hides: with tasks
 * arriving every 0.1 s and 3 consumers taking 0.2 s each, no backlog forms
 * (queue depth peak 1, queue wait near 0), and the consumers are busy about
 * two thirds of the time. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include <weft/future.h>
#include <weft/metrics.h>
#include <weft/pool.h>
#include <weft/time.h>

enum { N_TASKS = 10, CONSUMERS = 3 };

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The seed's consumer body, for one task. */
static int consume(void *arg, weft_value *out)
{
    int task = (int)(intptr_t)arg;
    char name[16] = "?";
    pthread_getname_np(pthread_self(), name, sizeof name);
    out->i64 = (int64_t)task * task;
    printf("[Consumer %s] Task %d -> %lld\n", name, task, (long long)out->i64);
    fflush(stdout);
    sleep_seconds(0.2);
    return 0;
}

int main(void)
{
    weft_pool *pool;
    weft_pool_opts opts = {.workers = CONSUMERS, .name = "consumer", .timing_sample = 1};
    if (weft_pool_create(&pool, &opts) != 0)
        return 1;
    int64_t t0 = weft_now();
    weft_future *fs[N_TASKS];
    printf("[Producer] Making %d tasks\n", N_TASKS);
    for (int i = 0; i < N_TASKS; i++) {
        if (weft_pool_submit(pool, consume, (void *)(intptr_t)i, WEFT_NEVER, &fs[i]) != 0)
            return 1;
        sleep_seconds(0.1);
    }
    printf("[Producer] Done\n");
    /* The poison pill: no more tasks; wait for the queued ones. */
    if (weft_pool_shutdown(pool, true, false, WEFT_NEVER) != 0)
        return 1;
    double took = (double)(weft_now() - t0) / 1e9;
    int collected = 0;
    long long sum = 0;
    for (int i = 0; i < N_TASKS; i++) {
        weft_value v;
        if (weft_future_result(fs[i], WEFT_NOW, &v) == 0 && v.i64 == (int64_t)i * i) {
            collected++;
            sum += v.i64;
        }
        weft_future_unref(fs[i]);
    }
    printf("\n%d results collected (sum of squares %lld) in %.2f s\n", collected, sum, took);
    weft_pool_metrics m;
    weft_pool_metrics_get(pool, &m);
    printf("queue depth peak %llu, queue wait p50 %.3f s max %.3f s, busy %.0f%%\n",
           (unsigned long long)m.queue_depth_peak, (double)m.queue_wait.p50 / 1e9,
           (double)m.queue_wait.max / 1e9, 100 * m.busy_avg);
    weft_pool_destroy(pool);
    return collected == N_TASKS ? 0 : 1;
}
