/* Seed 000, pitfall 4, "Croire que async accélère le CPU": four CPU-bound
 * tasks (the seed's sum of squares below 10M, made 5x longer and mixed so
 * the compiler cannot fold it) gathered on one event loop run one after
 * the other, since a loop is one thread. Handing each to weft_to_thread
 * runs them on the loop's pool, in parallel on every core (no GIL in C),
 * while the loop stays free. */
#include <stdio.h>

#include <weft/loop.h>
#include <weft/time.h>

enum { N = 50000000, TASKS = 4 };

static int sum_squares(void *arg, weft_value *result)
{
    (void)arg;
    uint64_t s = 0;
    for (uint64_t i = 0; i < N; i++)
        s += (i * i) ^ (s >> 7); /* each step needs the last: no closed form */
    result->u64 = s;
    return 0;
}

/* The task runs the computation on its own (loop) thread. */
static int cpu_task(void *arg, weft_value *result)
{
    return sum_squares(arg, result);
}

/* The task offloads it. */
static int offloaded_task(void *arg, weft_value *result)
{
    return weft_to_thread(sum_squares, arg, result);
}

static int gather_of(void *arg, weft_value *result)
{
    (void)result;
    weft_future *fs[TASKS];
    for (int i = 0; i < TASKS; i++)
        if (weft_spawn(NULL, arg, NULL, NULL, &fs[i]) < 0)
            return -1;
    int rc = weft_gather(fs, TASKS, WEFT_NEVER, NULL, NULL);
    for (int i = 0; i < TASKS; i++)
        weft_future_unref(fs[i]);
    return rc;
}

static double timed(weft_task_fn *fn)
{
    /* The CPU tasks do hold the loop: that is the point. */
    weft_loop_opts o = {.stall_ns = -1, .to_thread_workers = TASKS};
    int64_t t0 = weft_now();
    if (weft_run(gather_of, (void *)fn, &o, NULL) < 0)
        return -1;
    return (double)(weft_now() - t0) / 1e9;
}

int main(void)
{
    weft_value v;
    int64_t t0 = weft_now();
    sum_squares(NULL, &v);
    double one = (double)(weft_now() - t0) / 1e9;
    double on_loop = timed(cpu_task);
    double on_pool = timed(offloaded_task);
    printf("one mixed sum of squares below 50M:      %.3f s (checksum %llx)\n", one,
           (unsigned long long)v.u64);
    printf("%d of them gathered on one loop:          %.3f s (%.1fx one: sequential)\n", TASKS,
           on_loop, on_loop / one);
    printf("%d of them through weft_to_thread:       %.3f s (%.1fx faster than on the loop)\n",
           TASKS, on_pool, on_loop / on_pool);
    printf("async is for waiting; CPU work goes to threads (or processes)\n");
    return on_loop > 0 && on_pool > 0 ? 0 : 1;
}
