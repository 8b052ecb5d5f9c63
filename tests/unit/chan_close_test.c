/* Channels: close, step by step (see "Close" in src/chan/chan.c).
 * Threads that must be blocked wait on a far virtual deadline, so the test
 * knows they are parked (weft_clock_timed_waiters) without sleeping. */
#include <stdatomic.h>
#include <string.h>

#include <weft/chan.h>

#include "chan/chan_internal.h"
#include "chan_util.h"

/* The ring's internal copy steps, through a 16-byte buffer: the copy
 * routine's constant-size cases (up to 16 bytes) would otherwise trip GCC's
 * -Warray-bounds once inlined on a 4-byte int. */
static void publish_int(weft_chan *c, uint64_t pos, int v)
{
    int64_t buf[2] = {0};
    memcpy(buf, &v, sizeof v);
    weft__chan_publish(c, pos, buf);
}

static void test_send_after_close_fails(void)
{
    weft_chan *c = chan_new(sizeof(int), 4);
    int v = 1;
    size_t sent = 99;
    WT_OK(weft_chan_send(c, &v, WEFT_NOW));
    WT_OK(weft_chan_close(c));
    WT_ASSERT(weft_chan_is_closed(c));
    WT_ERR(weft_chan_close(c), -EPIPE); /* second close: reported, harmless */
    WT_ERR(weft_chan_send(c, &v, WEFT_NEVER), -EPIPE);
    WT_ERR(weft_chan_send(c, &v, WEFT_NOW), -EPIPE);
    WT_ERR(weft_chan_try_send(c, &v), -EPIPE);
    int many[3] = {1, 2, 3};
    WT_ERR(weft_chan_send_many(c, many, 3, &sent, WEFT_NEVER), -EPIPE);
    WT_EQ(sent, 0);
    WT_EQ(weft_chan_len(c), 1);
    weft_chan_destroy(c);
}

static void test_receivers_drain_then_get_epipe(void)
{
    weft_chan *c = chan_new(sizeof(int), 8);
    for (int i = 0; i < 6; i++)
        WT_OK(weft_chan_send(c, &i, WEFT_NOW));
    WT_OK(weft_chan_close(c));
    int v, buf[4];
    size_t got = 99;
    WT_OK(weft_chan_recv(c, &v, WEFT_NEVER));
    WT_EQ(v, 0);
    WT_OK(weft_chan_try_recv(c, &v));
    WT_EQ(v, 1);
    WT_OK(weft_chan_recv_many(c, buf, 4, &got, WEFT_NEVER));
    WT_EQ(got, 4);
    for (int i = 0; i < 4; i++)
        WT_EQ(buf[i], i + 2);
    WT_ERR(weft_chan_recv(c, &v, WEFT_NEVER), -EPIPE);
    WT_ERR(weft_chan_recv(c, &v, WEFT_NOW), -EPIPE);
    WT_ERR(weft_chan_try_recv(c, &v), -EPIPE);
    WT_ERR(weft_chan_recv_many(c, buf, 4, &got, WEFT_NEVER), -EPIPE);
    WT_EQ(got, 0);
    weft_chan_stats s;
    weft_chan_stats_get(c, &s);
    WT_EQ(s.sends, 6);
    WT_EQ(s.recvs, 6);
    WT_EQ(s.depth, 0);
    weft_chan_destroy(c);
}

/* Step 3: close wakes a parked receiver, which then reports -EPIPE. */
static weft_chan *g_chan;
static _Atomic int g_rc = 1;

static void *recv_far(void *arg)
{
    (void)arg;
    int v;
    atomic_store(&g_rc, weft_chan_recv(g_chan, &v, far_deadline()));
    return NULL;
}

static void *recv_many_far(void *arg)
{
    (void)arg;
    int buf[4];
    size_t got = 7;
    atomic_store(&g_rc, weft_chan_recv_many(g_chan, buf, 4, &got, far_deadline()));
    WT_EQ(got, 0);
    return NULL;
}

static void test_close_wakes_parked_receivers(void)
{
    void *(*fns[])(void *) = {recv_far, recv_many_far};
    for (int k = 0; k < 2; k++) {
        g_chan = chan_new(sizeof(int), 4);
        atomic_store(&g_rc, 1);
        pthread_t t = thread_start(fns[k], NULL);
        wait_parked(1);
        WT_EQ(atomic_load(&g_rc), 1);
        WT_OK(weft_chan_close(g_chan));
        thread_join(t);
        WT_ERR(atomic_load(&g_rc), -EPIPE);
        weft_chan_destroy(g_chan);
    }
}

/* Step 3: close wakes a parked sender (-EPIPE); what was buffered stays. */
static _Atomic size_t g_sent = 99;

static void *send_far(void *arg)
{
    (void)arg;
    int v = 42;
    atomic_store(&g_rc, weft_chan_send(g_chan, &v, far_deadline()));
    return NULL;
}

static void *send_many_far(void *arg)
{
    (void)arg;
    int v[5] = {10, 11, 12, 13, 14};
    size_t sent = 99;
    atomic_store(&g_rc, weft_chan_send_many(g_chan, v, 5, &sent, far_deadline()));
    atomic_store(&g_sent, sent);
    return NULL;
}

static void test_close_wakes_parked_senders(void)
{
    g_chan = chan_new(sizeof(int), 2);
    int v = 1;
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    atomic_store(&g_rc, 1);
    pthread_t t = thread_start(send_far, NULL);
    wait_parked(1);
    WT_OK(weft_chan_close(g_chan));
    thread_join(t);
    WT_ERR(atomic_load(&g_rc), -EPIPE);
    WT_EQ(weft_chan_len(g_chan), 2);
    WT_OK(weft_chan_recv(g_chan, &v, WEFT_NOW));
    WT_OK(weft_chan_recv(g_chan, &v, WEFT_NOW));
    WT_ERR(weft_chan_recv(g_chan, &v, WEFT_NOW), -EPIPE);
    weft_chan_destroy(g_chan);

    /* A batch: 3 of 5 fit, the sender parks for the rest, close stops it. */
    g_chan = chan_new(sizeof(int), 3);
    atomic_store(&g_rc, 1);
    t = thread_start(send_many_far, NULL);
    wait_parked(1);
    WT_OK(weft_chan_close(g_chan));
    thread_join(t);
    WT_ERR(atomic_load(&g_rc), -EPIPE);
    WT_EQ(atomic_load(&g_sent), 3);
    for (int i = 0; i < 3; i++) {
        WT_OK(weft_chan_recv(g_chan, &v, WEFT_NOW));
        WT_EQ(v, 10 + i);
    }
    WT_ERR(weft_chan_recv(g_chan, &v, WEFT_NOW), -EPIPE);
    weft_chan_destroy(g_chan);
}

/* Several parked receivers, two elements, then close: two get the elements,
 * the third -EPIPE; nobody stays asleep. */
static _Atomic int g_ok, g_pipe;

static void *recv_count(void *arg)
{
    (void)arg;
    int v;
    int rc = weft_chan_recv(g_chan, &v, far_deadline());
    if (rc == 0)
        atomic_fetch_add(&g_ok, 1);
    else if (rc == -EPIPE)
        atomic_fetch_add(&g_pipe, 1);
    return NULL;
}

static void test_close_with_several_parked_receivers(void)
{
    g_chan = chan_new(sizeof(int), 4);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        t[i] = thread_start(recv_count, NULL);
    wait_parked(3);
    int v = 5;
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    WT_OK(weft_chan_close(g_chan));
    for (int i = 0; i < 3; i++)
        thread_join(t[i]);
    WT_EQ(atomic_load(&g_ok), 2);
    WT_EQ(atomic_load(&g_pipe), 1);
    weft_chan_destroy(g_chan);
}

/* Steps 1 and 3 around a position claimed before the close but published
 * after it: the element is accepted, receivers wait for it (they do not
 * report -EPIPE early, and do not park for good), then drain it. */
static _Atomic int g_done;

static void *recv_pending(void *arg)
{
    (void)arg;
    int v = 0;
    int rc = weft_chan_recv(g_chan, &v, WEFT_NEVER);
    WT_OK(rc);
    WT_EQ(v, 77);
    atomic_store(&g_done, 1);
    return NULL;
}

static void test_claimed_before_close_is_delivered(void)
{
    g_chan = chan_new(sizeof(int), 4);
    uint64_t pos;
    WT_OK(weft__chan_claim_send(g_chan, &pos)); /* a sender mid-copy */
    WT_OK(weft_chan_close(g_chan));
    int v = 0;
    WT_ERR(weft_chan_try_send(g_chan, &v), -EPIPE);  /* step 1 */
    WT_ERR(weft_chan_try_recv(g_chan, &v), -EAGAIN); /* pending, not drained */
    WT_EQ(weft_chan_len(g_chan), 1);
    pthread_t t = thread_start(recv_pending, NULL);
    for (int i = 0; i < 1000; i++) {
        WT_EQ(atomic_load(&g_done), 0);
        sched_yield();
    }
    publish_int(g_chan, pos, 77);
    thread_join(t);
    WT_EQ(atomic_load(&g_done), 1);
    WT_ERR(weft_chan_recv(g_chan, &v, WEFT_NEVER), -EPIPE);
    weft_chan_destroy(g_chan);
}

/* Close racing with blocked senders and receivers, many times: every
 * accepted element comes out exactly once (the stress test does this at
 * scale). */
enum { RACE_ROUNDS = 200, RACE_PER = 200 };
static _Atomic uint64_t race_accepted, race_received;

static void *race_sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < RACE_PER; i++) {
        int v = i;
        int rc = weft_chan_send(g_chan, &v, WEFT_NEVER);
        if (rc == -EPIPE)
            break;
        WT_OK(rc);
        atomic_fetch_add(&race_accepted, 1);
    }
    return NULL;
}

static void *race_receiver(void *arg)
{
    (void)arg;
    int v, rc;
    while ((rc = weft_chan_recv(g_chan, &v, WEFT_NEVER)) == 0)
        atomic_fetch_add(&race_received, 1);
    WT_ERR(rc, -EPIPE);
    WT_EQ(weft_chan_len(g_chan), 0);
    return NULL;
}

static void test_close_races(void)
{
    for (int round = 0; round < WT_SCALE(RACE_ROUNDS); round++) {
        g_chan = chan_new(sizeof(int), (size_t)(round % 3) + 1);
        atomic_store(&race_accepted, 0);
        atomic_store(&race_received, 0);
        pthread_t s[2], r[2];
        for (int i = 0; i < 2; i++) {
            s[i] = thread_start(race_sender, NULL);
            r[i] = thread_start(race_receiver, NULL);
        }
        for (int i = 0; i < round % 50; i++)
            sched_yield();
        WT_OK(weft_chan_close(g_chan));
        for (int i = 0; i < 2; i++) {
            thread_join(s[i]);
            thread_join(r[i]);
        }
        WT_EQ_U(atomic_load(&race_received), atomic_load(&race_accepted));
        weft_chan_destroy(g_chan);
    }
}

int main(void)
{
    use_virtual_clock();
    WT_RUN(test_send_after_close_fails);
    WT_RUN(test_receivers_drain_then_get_epipe);
    WT_RUN(test_close_wakes_parked_receivers);
    WT_RUN(test_close_wakes_parked_senders);
    WT_RUN(test_close_with_several_parked_receivers);
    WT_RUN(test_claimed_before_close_is_delivered);
    WT_RUN(test_close_races);
    return 0;
}
