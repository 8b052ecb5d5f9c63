/* weft_event: set wakes every waiter, ping-pong under contention, a set
 * then clear pulse still releases the waiters (Python semantics), timed
 * waits on the virtual clock. */
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

/* ---- ping-pong: two threads hand a plain value back and forth ----------- */

static weft_event ping = WEFT_EVENT_INIT, pong = WEFT_EVENT_INIT;
static long ball; /* plain: the events order every access to it */
static long rounds;

static void *ponger(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        WT_OK(weft_event_wait(&ping, WEFT_NEVER));
        weft_event_clear(&ping);
        WT_EQ(ball, 2 * i + 1);
        ball++;
        weft_event_set(&pong);
    }
    return NULL;
}

static void test_ping_pong(void)
{
    rounds = WT_SCALE(20000);
    ball = 0;
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, ponger, NULL), 0);
    for (long i = 0; i < rounds; i++) {
        ball++;
        weft_event_set(&ping);
        WT_OK(weft_event_wait(&pong, WEFT_NEVER));
        weft_event_clear(&pong);
        WT_EQ(ball, 2 * i + 2);
    }
    WT_EQ(pthread_join(t, NULL), 0);
    WT_EQ(ball, 2 * rounds);
}

/* ---- set wakes every waiter -------------------------------------------- */

enum { WAITERS = 6 };

static weft_event go = WEFT_EVENT_INIT;
static int64_t wait_deadline;
static _Atomic int woke, timed_out;
static long payload; /* written before set(), read after wait() */

static void *waiter(void *arg)
{
    (void)arg;
    int rc = weft_event_wait(&go, wait_deadline);
    if (rc == 0) {
        WT_EQ(payload, 42);
        atomic_fetch_add(&woke, 1);
    } else {
        WT_ERR(rc, -ETIMEDOUT);
        atomic_fetch_add(&timed_out, 1);
    }
    return NULL;
}

static void start_waiters(pthread_t *t, int n)
{
    atomic_store(&woke, 0);
    atomic_store(&timed_out, 0);
    for (int i = 0; i < n; i++)
        WT_EQ(pthread_create(&t[i], NULL, waiter, NULL), 0);
}

static void join_all(pthread_t *t, int n)
{
    for (int i = 0; i < n; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
}

static void test_set_wakes_all(void)
{
    /* Timed on the virtual clock only so that the test can see that every
     * waiter is parked before it sets the event. */
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    weft_event_init(&go);
    wait_deadline = weft_now() + 10 * WEFT_SEC;
    payload = 0;
    pthread_t t[WAITERS];
    start_waiters(t, WAITERS);
    wait_timed_waiters(WAITERS);
    payload = 42;
    weft_event_set(&go);
    join_all(t, WAITERS);
    WT_EQ(atomic_load(&woke), WAITERS);
    WT_ASSERT(weft_event_is_set(&go));
    WT_OK(weft_event_wait(&go, WEFT_NOW)); /* set: returns at once */
    weft_event_set(&go);                   /* setting a set event: no-op */
    WT_ASSERT(weft_event_is_set(&go));
    weft_event_clear(&go);
    WT_ASSERT(!weft_event_is_set(&go));
    WT_ERR(weft_event_wait(&go, WEFT_NOW), -ETIMEDOUT);
    weft_clock_use_real();
}

static void test_set_then_clear_still_releases(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    weft_event_init(&go);
    wait_deadline = weft_now() + 10 * WEFT_SEC;
    payload = 42;
    pthread_t t[WAITERS];
    start_waiters(t, WAITERS);
    wait_timed_waiters(WAITERS);
    weft_event_set(&go);
    weft_event_clear(&go); /* before the waiters got to look */
    join_all(t, WAITERS);
    WT_EQ(atomic_load(&woke), WAITERS);
    WT_EQ(atomic_load(&timed_out), 0);
    WT_ASSERT(!weft_event_is_set(&go));
    weft_clock_use_real();
}

static void test_wait_times_out(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    weft_event_init(&go);
    wait_deadline = weft_now() + 2 * WEFT_SEC;
    pthread_t t[2];
    start_waiters(t, 2);
    wait_timed_waiters(2);
    WT_OK(weft_clock_advance(1 * WEFT_SEC));
    WT_EQ(atomic_load(&timed_out), 0);
    WT_OK(weft_clock_advance(1 * WEFT_SEC));
    join_all(t, 2);
    WT_EQ(atomic_load(&timed_out), 2);
    WT_EQ(atomic_load(&woke), 0);
    weft_clock_use_real();
}

int main(void)
{
    WT_RUN(test_ping_pong);
    WT_RUN(test_set_wakes_all);
    WT_RUN(test_set_then_clear_still_releases);
    WT_RUN(test_wait_times_out);
    return 0;
}
