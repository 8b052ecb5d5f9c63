/* Channels: send_many / recv_many. */
#include <stdatomic.h>

#include <weft/chan.h>

#include "chan_util.h"

static void test_basic_batches(void)
{
    weft_chan *c = chan_new(sizeof(int), 8);
    int in[8] = {0, 1, 2, 3, 4, 5, 6, 7}, out[8] = {0};
    size_t n = 99;
    WT_OK(weft_chan_send_many(c, in, 0, &n, WEFT_NOW));
    WT_EQ(n, 0);
    WT_OK(weft_chan_send_many(c, NULL, 0, NULL, WEFT_NOW)); /* sent may be NULL */
    WT_OK(weft_chan_send_many(c, in, 5, &n, WEFT_NOW));
    WT_EQ(n, 5);
    WT_ERR(weft_chan_recv_many(c, out, 0, &n, WEFT_NOW), -EINVAL);
    WT_OK(weft_chan_recv_many(c, out, 3, &n, WEFT_NOW));
    WT_EQ(n, 3);
    for (int i = 0; i < 3; i++)
        WT_EQ(out[i], i);
    /* Returns what is ready (2), without waiting for max (8). */
    WT_OK(weft_chan_recv_many(c, out, 8, &n, WEFT_NEVER));
    WT_EQ(n, 2);
    WT_EQ(out[0], 3);
    WT_EQ(out[1], 4);
    WT_ERR(weft_chan_recv_many(c, out, 8, &n, WEFT_NOW), -ETIMEDOUT);
    WT_EQ(n, 0);
    /* More than fits, with a passed deadline: what fits goes in. */
    WT_OK(weft_chan_send(c, &in[0], WEFT_NOW));
    WT_ERR(weft_chan_send_many(c, in, 8, &n, WEFT_NOW), -ETIMEDOUT);
    WT_EQ(n, 7);
    WT_EQ(weft_chan_len(c), 8);
    weft_chan_stats s;
    weft_chan_stats_get(c, &s);
    WT_EQ(s.sends, 13);
    WT_EQ(s.recvs, 5);
    WT_EQ(s.peak_depth, 8);
    weft_chan_destroy(c);
}

/* Runs that cross the end of the ring, on rings of awkward sizes; batch and
 * single operations mixed. */
static void test_batches_wrap(void)
{
    size_t caps[] = {1, 3, 7, 16};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        weft_chan *c = chan_new(sizeof(uint32_t), caps[k]);
        uint32_t next_in = 0, next_out = 0, buf[20];
        for (int round = 0; round < 500; round++) {
            size_t want = (size_t)round % (caps[k] + 2) + 1;
            for (size_t i = 0; i < want; i++)
                buf[i] = next_in + (uint32_t)i;
            size_t sent;
            int rc = weft_chan_send_many(c, buf, want, &sent, WEFT_NOW);
            WT_ASSERT(rc == 0 || rc == -ETIMEDOUT);
            WT_EQ(sent, want <= caps[k] ? want : caps[k]);
            next_in += (uint32_t)sent;
            if (round % 2) {
                size_t got;
                WT_OK(weft_chan_recv_many(c, buf, 20, &got, WEFT_NOW));
                WT_EQ(got, sent);
                for (size_t i = 0; i < got; i++)
                    WT_EQ(buf[i], next_out++);
            } else {
                for (size_t i = 0; i < sent; i++) {
                    uint32_t v;
                    WT_OK(weft_chan_recv(c, &v, WEFT_NOW));
                    WT_EQ(v, next_out++);
                }
            }
        }
        weft_chan_destroy(c);
    }
}

/* A batch publishing k elements wakes up to k parked receivers; a batch
 * receive freeing k slots wakes up to k parked senders. If it woke only one,
 * the other threads would sleep until ctest's timeout. */
static weft_chan *g_chan;

static void *recv_one(void *arg)
{
    (void)arg;
    int v;
    WT_OK(weft_chan_recv(g_chan, &v, far_deadline()));
    return NULL;
}

static void *send_one(void *arg)
{
    (void)arg;
    int v = 5;
    WT_OK(weft_chan_send(g_chan, &v, far_deadline()));
    return NULL;
}

static void test_batches_wake_as_many_as_they_move(void)
{
    g_chan = chan_new(sizeof(int), 4);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        t[i] = thread_start(recv_one, NULL);
    wait_parked(3);
    int v[3] = {1, 2, 3};
    size_t n;
    WT_OK(weft_chan_send_many(g_chan, v, 3, &n, WEFT_NOW));
    for (int i = 0; i < 3; i++)
        thread_join(t[i]);
    WT_EQ(weft_chan_len(g_chan), 0);

    WT_OK(weft_chan_send_many(g_chan, (int[4]){0, 0, 0, 0}, 4, &n, WEFT_NOW));
    for (int i = 0; i < 3; i++)
        t[i] = thread_start(send_one, NULL);
    wait_parked(3);
    int out[4];
    WT_OK(weft_chan_recv_many(g_chan, out, 4, &n, WEFT_NOW));
    WT_EQ(n, 4);
    for (int i = 0; i < 3; i++)
        thread_join(t[i]);
    WT_EQ(weft_chan_len(g_chan), 3);
    weft_chan_destroy(g_chan);
}

/* recv_many waits for the first element, then returns at once. */
static _Atomic size_t g_got;

static void *recv_many_far(void *arg)
{
    (void)arg;
    int buf[8];
    size_t got;
    WT_OK(weft_chan_recv_many(g_chan, buf, 8, &got, far_deadline()));
    WT_EQ(buf[0], 42);
    atomic_store(&g_got, got);
    return NULL;
}

static void test_recv_many_waits_for_one(void)
{
    g_chan = chan_new(sizeof(int), 8);
    pthread_t t = thread_start(recv_many_far, NULL);
    wait_parked(1);
    int v = 42;
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    thread_join(t);
    WT_EQ(atomic_load(&g_got), 1);
    weft_chan_destroy(g_chan);
}

/* Two batch producers, two batch consumers through a small ring: every
 * element arrives once, and each consumer sees each producer's elements in
 * the order they were sent (claims are in position order). */
enum { MB_PRODUCERS = 2, MB_CONSUMERS = 2, MB_PER = 100000 };
static _Atomic uint64_t mb_count, mb_sum;

static void *mb_producer(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg, buf[37];
    uint64_t per = WT_SCALE(MB_PER), i = 0;
    while (i < per) {
        size_t k = 1 + (size_t)(i * 7 % 37);
        if (k > per - i)
            k = (size_t)(per - i);
        for (size_t j = 0; j < k; j++)
            buf[j] = id << 32 | (i + j);
        size_t sent;
        WT_OK(weft_chan_send_many(g_chan, buf, k, &sent, WEFT_NEVER));
        WT_EQ(sent, k);
        i += k;
    }
    return NULL;
}

static void *mb_consumer(void *arg)
{
    (void)arg;
    uint64_t buf[29], last[MB_PRODUCERS], n = 0, sum = 0;
    for (int p = 0; p < MB_PRODUCERS; p++)
        last[p] = UINT64_MAX;
    size_t got;
    int rc;
    while ((rc = weft_chan_recv_many(g_chan, buf, 29, &got, WEFT_NEVER)) == 0) {
        for (size_t j = 0; j < got; j++) {
            uint64_t p = buf[j] >> 32, seq = buf[j] & 0xffffffffu;
            WT_ASSERT(p < MB_PRODUCERS);
            WT_ASSERT(last[p] == UINT64_MAX || seq > last[p]);
            last[p] = seq;
            sum += seq;
        }
        n += got;
    }
    WT_ERR(rc, -EPIPE);
    atomic_fetch_add(&mb_count, n);
    atomic_fetch_add(&mb_sum, sum);
    return NULL;
}

static void test_mpmc_batches(void)
{
    g_chan = chan_new(sizeof(uint64_t), 64);
    pthread_t p[MB_PRODUCERS], q[MB_CONSUMERS];
    for (int i = 0; i < MB_CONSUMERS; i++)
        q[i] = thread_start(mb_consumer, NULL);
    for (int i = 0; i < MB_PRODUCERS; i++)
        p[i] = thread_start(mb_producer, (void *)(uintptr_t)i);
    for (int i = 0; i < MB_PRODUCERS; i++)
        thread_join(p[i]);
    WT_OK(weft_chan_close(g_chan));
    for (int i = 0; i < MB_CONSUMERS; i++)
        thread_join(q[i]);
    uint64_t per = WT_SCALE(MB_PER);
    WT_EQ_U(atomic_load(&mb_count), MB_PRODUCERS * per);
    WT_EQ_U(atomic_load(&mb_sum), MB_PRODUCERS * (per * (per - 1) / 2));
    weft_chan_destroy(g_chan);
}

int main(void)
{
    use_virtual_clock();
    WT_RUN(test_basic_batches);
    WT_RUN(test_batches_wrap);
    WT_RUN(test_batches_wake_as_many_as_they_move);
    WT_RUN(test_recv_many_waits_for_one);
    WT_RUN(test_mpmc_batches);
    return 0;
}
