/* Channels: the wake-up protocol loses no wake when senders publish (or
 * receivers free slots) out of order (see Wake-ups in the Synchronization
 * block and "Wake-ups after the ring moved" in src/chan/chan_internal.h).
 * The test drives the ring's internal steps by hand to build the exact
 * interleaving:
 *   1. two receivers park on an empty channel;
 *   2. positions p and p + 1 are claimed; p + 1 is published first, its
 *      wake goes to a receiver, which finds p claimed but not ready: it
 *      leaves its park and does not park again while p is claimed (it
 *      spins and yields), since the sender of p may have seen no waiter;
 *   3. p is published: one receiver takes it, the other must get p + 1,
 *      announced by a wake already spent.
 * Then the same for senders and slots freed out of order. If a wake were
 * lost, a thread would stay parked: the test fails after 10 s of waiting
 * for the threads to settle (it yields, never sleeps). */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <weft/chan.h>

#include "chan/chan_internal.h"
#include "chan_util.h"

static weft_chan *g_chan;

/* The ring's internal copy steps, through a 16-byte buffer: the copy
 * routine's constant-size cases (up to 16 bytes) would otherwise trip GCC's
 * -Warray-bounds once inlined on a 4-byte int. */
static void publish_int(weft_chan *c, uint64_t pos, int v)
{
    int64_t buf[2] = {0};
    memcpy(buf, &v, sizeof v);
    weft__chan_publish(c, pos, buf);
}

static int consume_int(weft_chan *c, uint64_t pos)
{
    int64_t buf[2] = {0};
    int v;
    weft__chan_consume(c, pos, buf);
    memcpy(&v, buf, sizeof v);
    return v;
}

static _Atomic int g_sum;

static void *recv_far(void *arg)
{
    (void)arg;
    int v;
    WT_OK(weft_chan_recv(g_chan, &v, far_deadline()));
    atomic_fetch_add(&g_sum, v);
    return NULL;
}

static void *send_far(void *arg)
{
    int v = (int)(intptr_t)arg;
    WT_OK(weft_chan_send(g_chan, &v, far_deadline()));
    return NULL;
}

static double real_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint32_t queue_count(weft__waitq *q)
{
    return atomic_load(&q->count);
}

/* The waiter at the front of q (the next one a wake goes to). */
static weft__waiter *front(weft__waitq *q)
{
    weft__lock_acquire(&q->lock);
    weft__waiter *w = q->head.next != &q->head ? q->head.next->waiter : NULL;
    weft__lock_release(&q->lock);
    return w;
}

/* After a wake went to `woken` (then at the front of q): wait until it has
 * left its park, and the other waiter is now the front of q and still
 * parked: the woken thread, finding a position claimed but not ready, must
 * keep trying rather than park again. */
static void wait_woken_left(weft__waitq *q, weft__waiter *woken)
{
    double t0 = real_seconds();
    while (front(q) == woken || weft_clock_timed_waiters() != 1) {
        if (real_seconds() - t0 > 10.0)
            WT_FAIL_("the woken thread did not leave its park");
        sched_yield();
    }
}

static void join_all_or_fail(pthread_t *t, int n)
{
    double t0 = real_seconds();
    while (weft_clock_timed_waiters() != 0) {
        if (real_seconds() - t0 > 10.0)
            WT_FAIL_("a thread stayed parked: a wake was lost");
        sched_yield();
    }
    for (int i = 0; i < n; i++)
        thread_join(t[i]);
}

static void test_receivers_out_of_order_publish(void)
{
    g_chan = chan_new(sizeof(int), 4);
    atomic_store(&g_sum, 0);
    /* 1. */
    pthread_t t[2] = {thread_start(recv_far, NULL), thread_start(recv_far, NULL)};
    wait_parked(2);
    WT_EQ(queue_count(&g_chan->recvq), 2);
    /* 2. */
    uint64_t p, p1;
    WT_OK(weft__chan_claim_send(g_chan, &p));
    WT_OK(weft__chan_claim_send(g_chan, &p1));
    WT_EQ_U(p1, p + 1);
    weft__waiter *woken = front(&g_chan->recvq);
    publish_int(g_chan, p1, 20);
    weft__chan_after_send(g_chan, p1 + 1, 1);
    wait_woken_left(&g_chan->recvq, woken);
    /* 3. */
    publish_int(g_chan, p, 10);
    weft__chan_after_send(g_chan, p + 1, 1);
    join_all_or_fail(t, 2);
    WT_EQ(atomic_load(&g_sum), 30);
    WT_EQ(weft_chan_len(g_chan), 0);
    weft_chan_destroy(g_chan);
}

static void test_senders_out_of_order_free(void)
{
    g_chan = chan_new(sizeof(int), 2);
    int v = 0;
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    /* 1. */
    pthread_t t[2] = {thread_start(send_far, (void *)(intptr_t)1),
                      thread_start(send_far, (void *)(intptr_t)2)};
    wait_parked(2);
    WT_EQ(queue_count(&g_chan->sendq), 2);
    /* 2. Receivers claim q and q + 1; q + 1 is freed first. */
    uint64_t q, q1;
    WT_OK(weft__chan_claim_recv(g_chan, &q));
    WT_OK(weft__chan_claim_recv(g_chan, &q1));
    weft__waiter *woken = front(&g_chan->sendq);
    WT_EQ(consume_int(g_chan, q1), 0);
    weft__chan_after_recv(g_chan, q1 + 1, 1);
    wait_woken_left(&g_chan->sendq, woken);
    /* 3. */
    WT_EQ(consume_int(g_chan, q), 0);
    weft__chan_after_recv(g_chan, q + 1, 1);
    join_all_or_fail(t, 2);
    int a, b;
    WT_OK(weft_chan_recv(g_chan, &a, WEFT_NOW));
    WT_OK(weft_chan_recv(g_chan, &b, WEFT_NOW));
    WT_EQ(a + b, 3);
    weft_chan_destroy(g_chan);
}

int main(void)
{
    use_virtual_clock();
    WT_RUN(test_receivers_out_of_order_publish);
    WT_RUN(test_senders_out_of_order_free);
    return 0;
}
