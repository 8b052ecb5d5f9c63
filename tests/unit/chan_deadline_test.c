/* Channels: deadlines fire, on the virtual clock (no test sleeps). A thread
 * parks with a deadline; the test waits until weft_clock_timed_waiters()
 * counts it, moves virtual time, and checks the result. */
#include <stdatomic.h>

#include <weft/chan.h>

#include "chan_util.h"

static weft_chan *g_chan;
static _Atomic int g_rc;
static _Atomic size_t g_count;
static int64_t g_deadline;

enum { PENDING = 1 };

static void *do_recv(void *arg)
{
    (void)arg;
    int v = 0;
    atomic_store(&g_rc, weft_chan_recv(g_chan, &v, g_deadline));
    return NULL;
}

static void *do_recv_many(void *arg)
{
    (void)arg;
    int buf[4];
    size_t got = 99;
    atomic_store(&g_rc, weft_chan_recv_many(g_chan, buf, 4, &got, g_deadline));
    atomic_store(&g_count, got);
    return NULL;
}

static void *do_send(void *arg)
{
    (void)arg;
    int v = 9;
    atomic_store(&g_rc, weft_chan_send(g_chan, &v, g_deadline));
    return NULL;
}

static void *do_send_many(void *arg)
{
    (void)arg;
    int v[6] = {0, 1, 2, 3, 4, 5};
    size_t sent = 99;
    atomic_store(&g_rc, weft_chan_send_many(g_chan, v, 6, &sent, g_deadline));
    atomic_store(&g_count, sent);
    return NULL;
}

static void *do_join(void *arg)
{
    (void)arg;
    atomic_store(&g_rc, weft_chan_join(g_chan, g_deadline));
    return NULL;
}

static void *do_select(void *arg)
{
    weft_chan **chans = arg;
    int a = 0, b = 0;
    weft_select_case cases[2] = {
        {.chan = chans[0], .op = WEFT_SELECT_RECV, .elem = &a},
        {.chan = chans[1], .op = WEFT_SELECT_SEND, .elem = &b},
    };
    atomic_store(&g_rc, weft_chan_select(cases, 2, g_deadline));
    return NULL;
}

/* Start fn, let it park on a deadline 10 ms ahead, check that 9 ms do not
 * fire it and the 10th does. */
static void fire_after_10ms(void *(*fn)(void *), void *arg)
{
    atomic_store(&g_rc, PENDING);
    g_deadline = weft_now() + 10 * WEFT_MSEC;
    pthread_t t = thread_start(fn, arg);
    wait_parked(1);
    WT_OK(weft_clock_advance(9 * WEFT_MSEC));
    WT_EQ(atomic_load(&g_rc), PENDING);
    WT_OK(weft_clock_advance(1 * WEFT_MSEC));
    thread_join(t);
    WT_ERR(atomic_load(&g_rc), -ETIMEDOUT);
    WT_EQ(weft_clock_timed_waiters(), 0);
}

static void test_recv_deadline_fires(void)
{
    g_chan = chan_new(sizeof(int), 4);
    fire_after_10ms(do_recv, NULL);
    weft_chan_stats s;
    weft_chan_stats_get(g_chan, &s);
    /* Time blocked is measured on the clock in use: exactly 10 ms. */
    WT_EQ(s.blocked_empty_ns, 10 * WEFT_MSEC);
    WT_EQ(s.blocked_full_ns, 0);
    fire_after_10ms(do_recv_many, NULL);
    WT_EQ(atomic_load(&g_count), 0);
    weft_chan_destroy(g_chan);
}

static void test_send_deadline_fires(void)
{
    g_chan = chan_new(sizeof(int), 2);
    int v = 1;
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    fire_after_10ms(do_send, NULL);
    WT_EQ(weft_chan_len(g_chan), 2); /* the timed-out element did not go in */
    weft_chan_stats s;
    weft_chan_stats_get(g_chan, &s);
    WT_EQ(s.blocked_full_ns, 10 * WEFT_MSEC);
    WT_EQ(s.sends, 2);
    weft_chan_destroy(g_chan);

    /* A batch: 4 of 6 fit, the deadline stops the rest. */
    g_chan = chan_new(sizeof(int), 4);
    fire_after_10ms(do_send_many, NULL);
    WT_EQ(atomic_load(&g_count), 4);
    for (int i = 0; i < 4; i++) {
        WT_OK(weft_chan_recv(g_chan, &v, WEFT_NOW));
        WT_EQ(v, i);
    }
    weft_chan_destroy(g_chan);
}

static void test_join_deadline_fires(void)
{
    g_chan = chan_new(sizeof(int), 4);
    int v = 1;
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    fire_after_10ms(do_join, NULL);
    weft_chan_destroy(g_chan);
}

static void test_select_deadline_fires(void)
{
    weft_chan *chans[2] = {chan_new(sizeof(int), 1), chan_new(sizeof(int), 1)};
    int v = 0;
    WT_OK(weft_chan_send(chans[1], &v, WEFT_NOW)); /* SEND case: full */
    fire_after_10ms(do_select, chans);
    weft_chan_destroy(chans[0]);
    weft_chan_destroy(chans[1]);
}

/* An unbuffered send that no receiver takes before its deadline takes its
 * element back: -ETIMEDOUT, and no receiver ever sees the element. */
static void test_unbuffered_send_deadline_takes_back(void)
{
    g_chan = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    fire_after_10ms(do_send, NULL);
    WT_EQ(weft_chan_len(g_chan), 0);
    int v;
    WT_ERR(weft_chan_try_recv(g_chan, &v), -EAGAIN);
    weft_chan_stats s;
    weft_chan_stats_get(g_chan, &s);
    WT_EQ(s.sends, 0);
    WT_EQ(s.recvs, 0);
    WT_EQ(s.unfinished, 0);
    WT_EQ(s.blocked_full_ns, 10 * WEFT_MSEC);
    /* The slot is free again: a later hand-off works. */
    atomic_store(&g_rc, PENDING);
    g_deadline = far_deadline();
    pthread_t t = thread_start(do_send, NULL);
    WT_OK(weft_chan_recv(g_chan, &v, WEFT_NEVER));
    WT_EQ(v, 9);
    thread_join(t);
    WT_OK(atomic_load(&g_rc));
    weft_chan_destroy(g_chan);
}

/* Deadlines already passed return at once, without parking. */
static void test_passed_deadlines_return_at_once(void)
{
    weft_chan *c = chan_new(sizeof(int), 1);
    int v = 1, buf[2];
    size_t n;
    int64_t past = weft_now() - 1;
    WT_ERR(weft_chan_recv(c, &v, past), -ETIMEDOUT);
    WT_ERR(weft_chan_recv_many(c, buf, 2, &n, WEFT_NOW), -ETIMEDOUT);
    WT_OK(weft_chan_send(c, &v, past));
    WT_ERR(weft_chan_send(c, &v, past), -ETIMEDOUT);
    WT_ERR(weft_chan_send_many(c, buf, 2, &n, WEFT_NOW), -ETIMEDOUT);
    WT_EQ(n, 0);
    WT_ERR(weft_chan_join(c, WEFT_NOW), -ETIMEDOUT);
    weft_select_case k = {.chan = c, .op = WEFT_SELECT_SEND, .elem = &v};
    WT_ERR(weft_chan_select(&k, 1, WEFT_NOW), -ETIMEDOUT);
    weft_chan_destroy(c);
}

/* A wait that succeeds before its deadline is not disturbed by the clock
 * moving later. */
static void test_success_before_deadline(void)
{
    g_chan = chan_new(sizeof(int), 4);
    atomic_store(&g_rc, PENDING);
    g_deadline = weft_now() + 10 * WEFT_MSEC;
    pthread_t t = thread_start(do_recv, NULL);
    wait_parked(1);
    int v = 3;
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    thread_join(t);
    WT_OK(atomic_load(&g_rc));
    WT_OK(weft_clock_advance(20 * WEFT_MSEC));
    WT_EQ(weft_chan_len(g_chan), 0);
    weft_chan_destroy(g_chan);
}

int main(void)
{
    use_virtual_clock();
    WT_RUN(test_recv_deadline_fires);
    WT_RUN(test_send_deadline_fires);
    WT_RUN(test_join_deadline_fires);
    WT_RUN(test_select_deadline_fires);
    WT_RUN(test_unbuffered_send_deadline_takes_back);
    WT_RUN(test_passed_deadlines_return_at_once);
    WT_RUN(test_success_before_deadline);
    return 0;
}
