/* weft_once: racing callers run fn exactly once, and every caller returns
 * only after fn completed, with its writes visible. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <weft/sync.h>

#include "weft_test.h"

enum { THREADS = 6 };

static weft_barrier start = WEFT_BARRIER_INIT(THREADS);
static weft_once *onces;
static _Atomic long *runs; /* per round: how many times fn ran */
static long *values;       /* per round: plain, written by fn only */
static long rounds;

static void init_round(void *arg)
{
    long r = (long)(intptr_t)arg;
    atomic_fetch_add(&runs[r], 1);
    /* Take a little time, so the other callers arrive while fn runs and
     * have to wait for it. */
    for (int i = 0; i < 50; i++)
        sched_yield();
    values[r] = r + 1;
}

static void *caller(void *arg)
{
    (void)arg;
    for (long r = 0; r < rounds; r++) {
        WT_ASSERT(weft_barrier_wait(&start, WEFT_NEVER) >= 0); /* all race */
        weft_once_call(&onces[r], init_round, (void *)(intptr_t)r);
        WT_ASSERT(weft_once_done(&onces[r]));
        WT_EQ(values[r], r + 1);
        WT_EQ(atomic_load(&runs[r]), 1);
    }
    return NULL;
}

static void test_racing_callers_run_fn_once(void)
{
    rounds = WT_SCALE(2000);
    onces = malloc((size_t)rounds * sizeof *onces);
    runs = calloc((size_t)rounds, sizeof *runs);
    values = calloc((size_t)rounds, sizeof *values);
    WT_ASSERT(onces && runs && values);
    for (long r = 0; r < rounds; r++) {
        weft_once_init(&onces[r]);
        WT_ASSERT(!weft_once_done(&onces[r]));
    }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_create(&t[i], NULL, caller, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    for (long r = 0; r < rounds; r++)
        WT_EQ(atomic_load(&runs[r]), 1);
    free(onces);
    free((void *)runs);
    free(values);
}

static weft_once static_once = WEFT_ONCE_INIT;
static int static_runs;

static void count_run(void *arg)
{
    WT_EQ_PTR(arg, &static_runs);
    static_runs++;
}

static void test_static_once(void)
{
    WT_ASSERT(!weft_once_done(&static_once));
    for (int i = 0; i < 3; i++)
        weft_once_call(&static_once, count_run, &static_runs);
    WT_ASSERT(weft_once_done(&static_once));
    WT_EQ(static_runs, 1);
}

int main(void)
{
    WT_RUN(test_racing_callers_run_fn_once);
    WT_RUN(test_static_once);
    return 0;
}
