/* weft_cond: producer/consumer under contention, signal and broadcast,
 * timed waits on the virtual clock. */
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

/* ---- bounded buffer: 2 producers, 2 consumers -------------------------- */

enum { RING = 8, PRODUCERS = 2, CONSUMERS = 2 };

static struct {
    weft_mutex lock;
    weft_cond not_full, not_empty;
    long items[RING];
    int head, len;
    int producers_left;
} q = {WEFT_MUTEX_INIT("queue"), WEFT_COND_INIT, WEFT_COND_INIT, {0}, 0, 0, 0};

static long per_producer;

static void *producer(void *arg)
{
    long base = (long)(intptr_t)arg * per_producer;
    for (long i = 0; i < per_producer; i++) {
        weft_mutex_lock(&q.lock);
        while (q.len == RING)
            WT_OK(weft_cond_wait(&q.not_full, &q.lock, WEFT_NEVER));
        q.items[(q.head + q.len) % RING] = base + i + 1;
        q.len++;
        weft_cond_signal(&q.not_empty);
        weft_mutex_unlock(&q.lock);
    }
    weft_mutex_lock(&q.lock);
    if (--q.producers_left == 0)
        weft_cond_broadcast(&q.not_empty); /* consumers: no more items */
    weft_mutex_unlock(&q.lock);
    return NULL;
}

typedef struct consumed {
    long count, sum;
} consumed;

static void *consumer(void *arg)
{
    consumed *c = arg;
    for (;;) {
        weft_mutex_lock(&q.lock);
        while (q.len == 0 && q.producers_left > 0)
            WT_OK(weft_cond_wait(&q.not_empty, &q.lock, WEFT_NEVER));
        if (q.len == 0) {
            weft_mutex_unlock(&q.lock);
            return NULL;
        }
        long v = q.items[q.head];
        q.head = (q.head + 1) % RING;
        q.len--;
        weft_cond_signal(&q.not_full);
        weft_mutex_unlock(&q.lock);
        c->count++;
        c->sum += v;
    }
}

static void test_producer_consumer(void)
{
    per_producer = WT_SCALE(50000);
    q.producers_left = PRODUCERS;
    pthread_t p[PRODUCERS], c[CONSUMERS];
    consumed got[CONSUMERS] = {{0, 0}};
    for (int i = 0; i < CONSUMERS; i++)
        WT_EQ(pthread_create(&c[i], NULL, consumer, &got[i]), 0);
    for (int i = 0; i < PRODUCERS; i++)
        WT_EQ(pthread_create(&p[i], NULL, producer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < PRODUCERS; i++)
        WT_EQ(pthread_join(p[i], NULL), 0);
    for (int i = 0; i < CONSUMERS; i++)
        WT_EQ(pthread_join(c[i], NULL), 0);
    long n = PRODUCERS * per_producer;
    WT_EQ(got[0].count + got[1].count, n);
    WT_EQ(got[0].sum + got[1].sum, n * (n + 1) / 2); /* every item exactly once */
    WT_OK(weft_cond_destroy(&q.not_full));
    WT_OK(weft_cond_destroy(&q.not_empty));
}

/* ---- broadcast wakes every waiter; signal wakes waiters one by one ------ */

enum { WAITERS = 6 };

static weft_mutex gate_lock = WEFT_MUTEX_INIT("gate");
static weft_cond gate_cond = WEFT_COND_INIT;
static int gate_waiting, gate_open, gate_tokens;
static _Atomic int gate_left;

static void *wait_for_gate(void *arg)
{
    (void)arg;
    int64_t deadline = weft_deadline_in(60 * WEFT_SEC); /* fail, don't hang */
    weft_mutex_lock(&gate_lock);
    gate_waiting++;
    while (!gate_open)
        WT_OK(weft_cond_wait(&gate_cond, &gate_lock, deadline));
    weft_mutex_unlock(&gate_lock);
    atomic_fetch_add(&gate_left, 1);
    return NULL;
}

static void *wait_for_token(void *arg)
{
    (void)arg;
    int64_t deadline = weft_deadline_in(60 * WEFT_SEC);
    weft_mutex_lock(&gate_lock);
    gate_waiting++;
    while (gate_tokens == 0)
        WT_OK(weft_cond_wait(&gate_cond, &gate_lock, deadline));
    gate_tokens--;
    weft_mutex_unlock(&gate_lock);
    atomic_fetch_add(&gate_left, 1);
    return NULL;
}

/* Returns once all n threads wait on the cond (or are about to: each
 * counted itself under the lock and releases it only inside the wait). */
static void wait_all_waiting(int n)
{
    for (;;) {
        weft_mutex_lock(&gate_lock);
        int w = gate_waiting;
        weft_mutex_unlock(&gate_lock);
        if (w == n)
            return;
        sched_yield();
    }
}

static void test_broadcast_wakes_all(void)
{
    gate_waiting = gate_open = 0;
    atomic_store(&gate_left, 0);
    pthread_t t[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        WT_EQ(pthread_create(&t[i], NULL, wait_for_gate, NULL), 0);
    wait_all_waiting(WAITERS);
    WT_EQ(atomic_load(&gate_left), 0);
    weft_mutex_lock(&gate_lock);
    gate_open = 1;
    weft_cond_broadcast(&gate_cond);
    weft_mutex_unlock(&gate_lock);
    for (int i = 0; i < WAITERS; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(atomic_load(&gate_left), WAITERS);
}

static void test_signal_wakes_each(void)
{
    gate_waiting = gate_tokens = 0;
    atomic_store(&gate_left, 0);
    pthread_t t[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        WT_EQ(pthread_create(&t[i], NULL, wait_for_token, NULL), 0);
    wait_all_waiting(WAITERS);
    for (int i = 0; i < WAITERS; i++) {
        weft_mutex_lock(&gate_lock);
        gate_tokens++;
        weft_cond_signal(&gate_cond); /* one token, one signal */
        weft_mutex_unlock(&gate_lock);
    }
    for (int i = 0; i < WAITERS; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(atomic_load(&gate_left), WAITERS);
    WT_EQ(gate_tokens, 0);
}

/* ---- timed waits on the virtual clock ---------------------------------- */

static weft_mutex timed_lock = WEFT_MUTEX_INIT("timed");
static weft_cond timed_cond = WEFT_COND_INIT;
static int64_t timed_deadline;
static int timed_flag;
static _Atomic int timed_rc = 1;

static void *timed_waiter(void *arg)
{
    (void)arg;
    weft_mutex_lock(&timed_lock);
    int rc = 0;
    while (!timed_flag && rc == 0)
        rc = weft_cond_wait(&timed_cond, &timed_lock, timed_deadline);
    /* Returned with the mutex held, timeout or not. */
    WT_ERR(weft_mutex_trylock(&timed_lock), -EBUSY);
    weft_mutex_unlock(&timed_lock);
    atomic_store(&timed_rc, rc);
    return NULL;
}

static void test_timed_wait_times_out(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    timed_flag = 0;
    timed_deadline = weft_now() + 2 * WEFT_SEC;
    atomic_store(&timed_rc, 1);
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, timed_waiter, NULL), 0);
    wait_timed_waiters(1);
    WT_OK(weft_clock_advance(1 * WEFT_SEC));
    WT_EQ(atomic_load(&timed_rc), 1);
    WT_OK(weft_clock_advance(1 * WEFT_SEC));
    WT_EQ(pthread_join(t, NULL), 0);
    WT_ERR(atomic_load(&timed_rc), -ETIMEDOUT);
    weft_clock_use_real();
}

static void test_timed_wait_signalled_in_time(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
    timed_flag = 0;
    timed_deadline = weft_now() + 2 * WEFT_SEC;
    atomic_store(&timed_rc, 1);
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, timed_waiter, NULL), 0);
    wait_timed_waiters(1);
    weft_mutex_lock(&timed_lock);
    timed_flag = 1;
    weft_cond_signal(&timed_cond);
    weft_mutex_unlock(&timed_lock);
    WT_EQ(pthread_join(t, NULL), 0);
    WT_OK(atomic_load(&timed_rc));
    weft_clock_use_real();
}

static void test_passed_deadline_returns_at_once(void)
{
    weft_mutex_lock(&timed_lock);
    WT_ERR(weft_cond_wait(&timed_cond, &timed_lock, WEFT_NOW), -ETIMEDOUT);
    WT_ERR(weft_mutex_trylock(&timed_lock), -EBUSY); /* still held */
    weft_mutex_unlock(&timed_lock);
}

int main(void)
{
    WT_RUN(test_producer_consumer);
    WT_RUN(test_broadcast_wakes_all);
    WT_RUN(test_signal_wakes_each);
    WT_RUN(test_timed_wait_times_out);
    WT_RUN(test_timed_wait_signalled_in_time);
    WT_RUN(test_passed_deadline_returns_at_once);
    return 0;
}
