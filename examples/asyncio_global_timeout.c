/* Seed 003 section 5, "Timeout global avec asyncio.wait_for + gather": ten
 * simulated fetches (0-200 ms each) gathered under one global deadline.
 * With 2 s everything arrives ("OK 10"); with 50 ms the deadline wins
 * ("Timeout global") and weft_wait_for cancels the gather, which cancels
 * the fetches still running: none outlives the call. */
#include <stdio.h>
#include <stdlib.h>

#include <weft/loop.h>
#include <weft/time.h>

enum { SYMS = 10 };

static unsigned seed = 42;
static int cancelled;

/* The seed's fetch(symbol): returns (symbol, 100 + random). */
static int fetch(void *arg, weft_value *result)
{
    (void)arg;
    int64_t wait = (int64_t)(rand_r(&seed) / (double)RAND_MAX * 200) * WEFT_MSEC;
    int rc = weft_sleep_for(wait);
    if (rc == -ECANCELED)
        cancelled++;
    result->f64 = 100 + rand_r(&seed) / (double)RAND_MAX;
    return rc;
}

/* gather(*[fetch(s) for s in syms]) as a task of its own, so that one
 * future stands for the whole gather; a task group cancels the fetches if
 * the gather itself is cancelled. */
static int gather_fetches(void *arg, weft_value *result)
{
    (void)arg;
    weft_group g;
    weft_group_init(&g);
    for (int i = 0; i < SYMS; i++)
        if (weft_group_spawn(&g, fetch, NULL, NULL, NULL) < 0)
            return -1;
    int rc = weft_group_wait(&g);
    result->i64 = SYMS;
    return rc;
}

static int attempt(int64_t timeout)
{
    weft_future *g;
    if (weft_spawn(NULL, gather_fetches, NULL, NULL, &g) < 0)
        return -1;
    weft_value v;
    int64_t t0 = weft_now();
    int rc = weft_wait_for(g, weft_deadline_in(timeout), &v);
    double took = (double)(weft_now() - t0) / 1e6;
    if (rc == 0)
        printf("timeout %4.0f ms: OK %lld (%.0f ms)\n", timeout / 1e6, (long long)v.i64, took);
    else if (rc == -ETIMEDOUT)
        printf("timeout %4.0f ms: Timeout global (%.0f ms, %d fetches cancelled)\n", timeout / 1e6,
               took, cancelled);
    weft_future_unref(g);
    return rc;
}

static int main_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    int ok = attempt(2 * WEFT_SEC);
    int late = attempt(50 * WEFT_MSEC);
    return ok == 0 && late == -ETIMEDOUT && cancelled > 0 ? 0 : -1;
}

int main(void)
{
    return weft_run(main_task, NULL, NULL, NULL) == 0 ? 0 : 1;
}
