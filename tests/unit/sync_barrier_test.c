/* weft_barrier: many generations under contention (one serial thread per
 * generation, writes visible across), timeout withdraws the arrival. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <weft/sync.h>

#include "weft_test.h"

static void wait_timed_waiters(int n)
{
    while (weft_clock_timed_waiters() < n)
        sched_yield();
}

/* ---- generations ------------------------------------------------------- */

enum { PARTIES = 4 };

static weft_barrier bar = WEFT_BARRIER_INIT(PARTIES);
static long rounds;
static _Atomic int *serials;        /* per round: how many got 1 */
static long slots[2][PARTIES];      /* plain: the barrier orders them */

static void *participant(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (long r = 0; r < rounds; r++) {
        slots[r % 2][id] = r;
        int rc = weft_barrier_wait(&bar, WEFT_NEVER);
        WT_ASSERT(rc == 0 || rc == 1);
        if (rc == 1)
            atomic_fetch_add(&serials[r], 1);
        /* Every participant's write of this round is visible. Round r + 2
         * rewrites these slots only after barrier r + 1, which everyone
         * reaches after this check. */
        for (int j = 0; j < PARTIES; j++)
            WT_EQ(slots[r % 2][j], r);
    }
    return NULL;
}

static void test_generations(void)
{
    rounds = WT_SCALE(20000);
    serials = calloc((size_t)rounds, sizeof *serials);
    WT_ASSERT(serials);
    pthread_t t[PARTIES];
    for (int i = 0; i < PARTIES; i++)
        WT_EQ(pthread_create(&t[i], NULL, participant, (void *)(intptr_t)i), 0);
    for (int i = 0; i < PARTIES; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    for (long r = 0; r < rounds; r++)
        WT_EQ(atomic_load(&serials[r]), 1);
    free(serials);
    WT_OK(weft_barrier_destroy(&bar));
}

static void test_init_and_single_party(void)
{
    weft_barrier b;
    WT_ERR(weft_barrier_init(&b, 0), -EINVAL);
    WT_OK(weft_barrier_init(&b, 1));
    for (int i = 0; i < 3; i++)
        WT_EQ(weft_barrier_wait(&b, WEFT_NOW), 1); /* alone: always serial */
    WT_OK(weft_barrier_destroy(&b));
}

/* ---- timeout ------------------------------------------------------------ */

static weft_barrier pair = WEFT_BARRIER_INIT(2);
static int64_t pair_deadline;
static _Atomic int pair_rc[3];

static void *pair_waiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_store(&pair_rc[i], weft_barrier_wait(&pair, pair_deadline));
    return NULL;
}

static void test_timeout_withdraws_arrival(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    pair_deadline = weft_now() + 1 * WEFT_SEC;
    pthread_t t[3];
    WT_EQ(pthread_create(&t[0], NULL, pair_waiter, (void *)0), 0);
    wait_timed_waiters(1);
    WT_ERR(weft_barrier_destroy(&pair), -EBUSY); /* someone waits */
    WT_OK(weft_clock_advance(1 * WEFT_SEC));
    WT_EQ(pthread_join(t[0], NULL), 0);
    WT_ERR(atomic_load(&pair_rc[0]), -ETIMEDOUT);

    /* The withdrawn arrival does not count: one more thread alone still
     * waits, and a second completes the generation. */
    pair_deadline = weft_now() + 10 * WEFT_SEC;
    WT_EQ(pthread_create(&t[1], NULL, pair_waiter, (void *)1), 0);
    wait_timed_waiters(1);
    WT_EQ(pthread_create(&t[2], NULL, pair_waiter, (void *)2), 0);
    WT_EQ(pthread_join(t[1], NULL), 0);
    WT_EQ(pthread_join(t[2], NULL), 0);
    WT_EQ(atomic_load(&pair_rc[1]) + atomic_load(&pair_rc[2]), 1); /* one serial */
    WT_ASSERT(atomic_load(&pair_rc[1]) >= 0 && atomic_load(&pair_rc[2]) >= 0);
    WT_OK(weft_barrier_destroy(&pair));
    weft_clock_use_real();
}

int main(void)
{
    WT_RUN(test_generations);
    WT_RUN(test_init_and_single_party);
    WT_RUN(test_timeout_withdraws_arrival);
    return 0;
}
