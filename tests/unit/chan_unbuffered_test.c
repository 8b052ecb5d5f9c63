/* Channels: unbuffered (rendezvous) mode, step by step (see "Unbuffered
 * hand-off" in src/chan/chan.c and the header's semantics). */
#include <stdatomic.h>

#include <weft/chan.h>

#include "chan_util.h"

static weft_chan *g_chan;
static _Atomic int g_rc;
static _Atomic int g_returned;

enum { PENDING = 1 };

static void *send_far(void *arg)
{
    int v = (int)(intptr_t)arg;
    int rc = weft_chan_send(g_chan, &v, far_deadline());
    atomic_store(&g_rc, rc);
    atomic_store(&g_returned, 1);
    return NULL;
}

static void *recv_far(void *arg)
{
    int *out = arg;
    atomic_store(&g_rc, weft_chan_recv(g_chan, out, far_deadline()));
    atomic_store(&g_returned, 1);
    return NULL;
}

/* Steps 1-3: the send does not return before a receiver takes the element. */
static void test_send_waits_for_receiver(void)
{
    g_chan = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    atomic_store(&g_returned, 0);
    pthread_t t = thread_start(send_far, (void *)(intptr_t)31);
    wait_parked(1); /* parked waiting for a receiver, element in hand-off */
    WT_EQ(atomic_load(&g_returned), 0);
    WT_EQ(weft_chan_len(g_chan), 1);
    int v = 0;
    WT_OK(weft_chan_recv(g_chan, &v, WEFT_NEVER));
    WT_EQ(v, 31);
    thread_join(t);
    WT_EQ(atomic_load(&g_returned), 1);
    WT_OK(atomic_load(&g_rc));
    WT_EQ(weft_chan_len(g_chan), 0);
    weft_chan_stats s;
    weft_chan_stats_get(g_chan, &s);
    WT_EQ(s.sends, 1);
    WT_EQ(s.recvs, 1);
    WT_EQ(s.capacity, 0);
    weft_chan_destroy(g_chan);
}

/* Step 2: a receiver parked first; a blocking send hands off to it. */
static void test_receiver_first(void)
{
    g_chan = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    int out = 0;
    atomic_store(&g_returned, 0);
    pthread_t t = thread_start(recv_far, &out);
    wait_parked(1);
    int v = 8;
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NEVER));
    thread_join(t);
    WT_OK(atomic_load(&g_rc));
    WT_EQ(out, 8);
    weft_chan_destroy(g_chan);
}

/* try_send and passed deadlines complete only with a blocked receiver, and
 * never leave the element behind otherwise. */
static void test_try_send_needs_a_blocked_receiver(void)
{
    g_chan = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    int v = 5, out = 0;
    WT_ERR(weft_chan_try_send(g_chan, &v), -EAGAIN);
    WT_ERR(weft_chan_send(g_chan, &v, WEFT_NOW), -ETIMEDOUT);
    size_t sent = 9;
    WT_ERR(weft_chan_send_many(g_chan, &v, 1, &sent, WEFT_NOW), -ETIMEDOUT);
    WT_EQ(sent, 0);
    WT_EQ(weft_chan_len(g_chan), 0);
    WT_ERR(weft_chan_try_recv(g_chan, &out), -EAGAIN);

    atomic_store(&g_returned, 0);
    pthread_t t = thread_start(recv_far, &out);
    wait_parked(1);
    WT_OK(weft_chan_try_send(g_chan, &v));
    thread_join(t);
    WT_OK(atomic_load(&g_rc));
    WT_EQ(out, 5);

    out = 0;
    t = thread_start(recv_far, &out);
    wait_parked(1);
    v = 6;
    WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    thread_join(t);
    WT_EQ(out, 6);
    weft_chan_stats s;
    weft_chan_stats_get(g_chan, &s);
    WT_EQ(s.sends, 2);
    WT_EQ(s.recvs, 2);
    weft_chan_destroy(g_chan);
}

/* Receivers take an element a blocked sender put in hand-off, even with
 * try_recv and recv_many (which gets exactly one). */
static void test_try_recv_and_recv_many_take_from_blocked_sender(void)
{
    g_chan = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    atomic_store(&g_returned, 0);
    pthread_t t = thread_start(send_far, (void *)(intptr_t)12);
    wait_parked(1);
    int v = 0;
    WT_OK(weft_chan_try_recv(g_chan, &v));
    WT_EQ(v, 12);
    thread_join(t);
    WT_OK(atomic_load(&g_rc));

    t = thread_start(send_far, (void *)(intptr_t)13);
    wait_parked(1);
    int buf[4] = {0};
    size_t got = 0;
    WT_OK(weft_chan_recv_many(g_chan, buf, 4, &got, WEFT_NEVER));
    WT_EQ(got, 1);
    WT_EQ(buf[0], 13);
    thread_join(t);
    WT_OK(atomic_load(&g_rc));
    weft_chan_destroy(g_chan);
}

/* send_many on an unbuffered channel hands the elements off one by one, in
 * order, each to a receiver. */
static int g_received[5];

static void *recv_five(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        WT_OK(weft_chan_recv(g_chan, &g_received[i], WEFT_NEVER));
    return NULL;
}

static void test_send_many_hands_off_each(void)
{
    g_chan = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    pthread_t t = thread_start(recv_five, NULL);
    int v[5] = {5, 6, 7, 8, 9};
    size_t sent = 0;
    WT_OK(weft_chan_send_many(g_chan, v, 5, &sent, WEFT_NEVER));
    WT_EQ(sent, 5);
    thread_join(t);
    for (int i = 0; i < 5; i++)
        WT_EQ(g_received[i], 5 + i);
    /* With nobody receiving, a passed deadline stops it before the first. */
    WT_ERR(weft_chan_send_many(g_chan, v, 5, &sent, weft_now() - 1), -ETIMEDOUT);
    WT_EQ(sent, 0);
    WT_EQ(weft_chan_len(g_chan), 0);
    weft_chan_destroy(g_chan);
}

/* Step 4 on close: the waiting sender takes its element back (-EPIPE) and
 * receivers never see it. A parked receiver gets -EPIPE. */
static void test_close_takes_back(void)
{
    g_chan = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    atomic_store(&g_returned, 0);
    pthread_t t = thread_start(send_far, (void *)(intptr_t)1);
    wait_parked(1);
    WT_OK(weft_chan_close(g_chan));
    thread_join(t);
    WT_ERR(atomic_load(&g_rc), -EPIPE);
    int v;
    WT_ERR(weft_chan_recv(g_chan, &v, WEFT_NEVER), -EPIPE);
    WT_EQ(weft_chan_len(g_chan), 0);
    weft_chan_stats s;
    weft_chan_stats_get(g_chan, &s);
    WT_EQ(s.sends, 0);
    WT_EQ(s.recvs, 0);
    weft_chan_destroy(g_chan);

    g_chan = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    t = thread_start(recv_far, &v);
    wait_parked(1);
    WT_OK(weft_chan_close(g_chan));
    thread_join(t);
    WT_ERR(atomic_load(&g_rc), -EPIPE);
    WT_ERR(weft_chan_send(g_chan, &v, WEFT_NEVER), -EPIPE);
    WT_ERR(weft_chan_try_send(g_chan, &v), -EPIPE);
    weft_chan_destroy(g_chan);
}

/* Ping-pong through two unbuffered channels (Go's round-trip benchmark). */
static weft_chan *g_ping, *g_pong;

static void *echo(void *arg)
{
    (void)arg;
    int v, rc;
    while ((rc = weft_chan_recv(g_ping, &v, WEFT_NEVER)) == 0)
        WT_OK(weft_chan_send(g_pong, &v, WEFT_NEVER));
    WT_ERR(rc, -EPIPE);
    return NULL;
}

static void test_ping_pong(void)
{
    g_ping = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    g_pong = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    pthread_t t = thread_start(echo, NULL);
    for (int i = 0; i < WT_SCALE(5000); i++) {
        int v = i * 3, back = -1;
        WT_OK(weft_chan_send(g_ping, &v, WEFT_NEVER));
        WT_OK(weft_chan_recv(g_pong, &back, WEFT_NEVER));
        WT_EQ(back, v);
    }
    WT_OK(weft_chan_close(g_ping));
    thread_join(t);
    weft_chan_destroy(g_ping);
    weft_chan_destroy(g_pong);
}

/* Select on unbuffered channels: a SEND case completes only with a blocked
 * receiver; a blocked SEND case completes when a receiver arrives; a RECV
 * case takes from a blocked sender; sending and receiving on one unbuffered
 * channel in one select is refused. */
static _Atomic int g_sel;

static void *select_send_far(void *arg)
{
    int v = (int)(intptr_t)arg;
    weft_select_case k = {.chan = g_chan, .op = WEFT_SELECT_SEND, .elem = &v};
    atomic_store(&g_sel, weft_chan_select(&k, 1, far_deadline()));
    WT_OK(k.result);
    return NULL;
}

static void test_select_on_unbuffered(void)
{
    g_chan = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    int v = 4, out = 0;
    weft_select_case send = {.chan = g_chan, .op = WEFT_SELECT_SEND, .elem = &v};
    WT_ERR(weft_chan_select(&send, 1, WEFT_NOW), -ETIMEDOUT);
    WT_EQ(weft_chan_len(g_chan), 0);

    pthread_t t = thread_start(recv_far, &out);
    wait_parked(1);
    WT_EQ(weft_chan_select(&send, 1, WEFT_NOW), 0);
    WT_OK(send.result);
    thread_join(t);
    WT_EQ(out, 4);

    /* The select blocks first; a receiver arriving later completes it. */
    atomic_store(&g_sel, PENDING);
    t = thread_start(select_send_far, (void *)(intptr_t)17);
    wait_parked(1);
    WT_OK(weft_chan_recv(g_chan, &out, WEFT_NEVER));
    WT_EQ(out, 17);
    thread_join(t);
    WT_EQ(atomic_load(&g_sel), 0);

    /* A RECV case takes from a blocked sender. */
    t = thread_start(send_far, (void *)(intptr_t)23);
    wait_parked(1);
    weft_select_case recv = {.chan = g_chan, .op = WEFT_SELECT_RECV, .elem = &out};
    WT_EQ(weft_chan_select(&recv, 1, WEFT_NEVER), 0);
    WT_OK(recv.result);
    WT_EQ(out, 23);
    thread_join(t);
    WT_OK(atomic_load(&g_rc));

    weft_select_case both[2] = {send, recv};
    WT_ERR(weft_chan_select(both, 2, WEFT_NOW), -EINVAL);

    /* Closed: a SEND case completes with -EPIPE. */
    WT_OK(weft_chan_close(g_chan));
    WT_EQ(weft_chan_select(&send, 1, WEFT_NEVER), 0);
    WT_ERR(send.result, -EPIPE);
    weft_chan_destroy(g_chan);
}

/* Two selects meeting each other on two unbuffered channels, in opposite
 * directions (Go handles select against select): each round completes. */
static weft_chan *g_a, *g_b;

static void *select_peer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < WT_SCALE(2000); i++) {
        int out = -1, v = id * 100000 + i;
        weft_select_case k[2] = {
            {.chan = id ? g_a : g_b, .op = WEFT_SELECT_SEND, .elem = &v},
            {.chan = id ? g_b : g_a, .op = WEFT_SELECT_RECV, .elem = &out},
        };
        int rc = weft_chan_select(k, 2, WEFT_NEVER);
        WT_ASSERT(rc == 0 || rc == 1);
        WT_OK(k[rc].result);
    }
    return NULL;
}

static void test_select_against_select(void)
{
    g_a = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    g_b = chan_new(sizeof(int), WEFT_CHAN_UNBUFFERED);
    /* Each side completes one case per round; sends and receives pair up,
     * so both sides finish the same number of rounds together. */
    pthread_t t0 = thread_start(select_peer, (void *)(intptr_t)0);
    pthread_t t1 = thread_start(select_peer, (void *)(intptr_t)1);
    thread_join(t0);
    thread_join(t1);
    weft_chan_stats sa, sb;
    weft_chan_stats_get(g_a, &sa);
    weft_chan_stats_get(g_b, &sb);
    WT_EQ(sa.sends, sa.recvs);
    WT_EQ(sb.sends, sb.recvs);
    WT_EQ(sa.sends + sb.sends, WT_SCALE(2000));
    weft_chan_destroy(g_a);
    weft_chan_destroy(g_b);
}

/* Many senders and receivers, senders with deadlines racing receives and a
 * thread moving virtual time: a send that returns 0 was received exactly
 * once, a send that timed out never was. */
enum { RACE_SENDERS = 3, RACE_RECEIVERS = 3, RACE_PER = 3000 };
static _Atomic uint64_t race_ok_sum, race_ok_count, race_got_sum, race_got_count;
static _Atomic int race_senders_left;

static void *race_sender(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < WT_SCALE(RACE_PER); i++) {
        uint64_t v = id << 32 | i;
        int64_t deadline = (i % 3 == 0) ? WEFT_NEVER : weft_now() + (int64_t)(i % 5) * WEFT_USEC;
        int rc = weft_chan_send(g_chan, &v, deadline);
        if (rc == 0) {
            atomic_fetch_add(&race_ok_sum, v);
            atomic_fetch_add(&race_ok_count, 1);
        } else {
            WT_ERR(rc, -ETIMEDOUT);
        }
    }
    atomic_fetch_sub(&race_senders_left, 1);
    return NULL;
}

static void *race_receiver(void *arg)
{
    (void)arg;
    uint64_t v;
    int rc;
    while ((rc = weft_chan_recv(g_chan, &v, WEFT_NEVER)) == 0) {
        atomic_fetch_add(&race_got_sum, v);
        atomic_fetch_add(&race_got_count, 1);
    }
    WT_ERR(rc, -EPIPE);
    return NULL;
}

static void test_hand_off_races_deadlines(void)
{
    g_chan = chan_new(sizeof(uint64_t), WEFT_CHAN_UNBUFFERED);
    atomic_store(&race_senders_left, RACE_SENDERS);
    pthread_t s[RACE_SENDERS], r[RACE_RECEIVERS];
    for (int i = 0; i < RACE_RECEIVERS; i++)
        r[i] = thread_start(race_receiver, NULL);
    for (int i = 0; i < RACE_SENDERS; i++)
        s[i] = thread_start(race_sender, (void *)(uintptr_t)i);
    while (atomic_load(&race_senders_left) > 0) {
        WT_OK(weft_clock_advance(WEFT_USEC));
        sched_yield();
    }
    for (int i = 0; i < RACE_SENDERS; i++)
        thread_join(s[i]);
    WT_OK(weft_chan_close(g_chan));
    for (int i = 0; i < RACE_RECEIVERS; i++)
        thread_join(r[i]);
    WT_EQ_U(atomic_load(&race_got_count), atomic_load(&race_ok_count));
    WT_EQ_U(atomic_load(&race_got_sum), atomic_load(&race_ok_sum));
    WT_GE(atomic_load(&race_ok_count), WT_SCALE(RACE_PER)); /* the WEFT_NEVER ones */
    weft_chan_stats st;
    weft_chan_stats_get(g_chan, &st);
    WT_EQ_U(st.sends, atomic_load(&race_ok_count));
    WT_EQ_U(st.recvs, atomic_load(&race_ok_count));
    weft_chan_destroy(g_chan);
}

int main(void)
{
    use_virtual_clock();
    WT_RUN(test_send_waits_for_receiver);
    WT_RUN(test_receiver_first);
    WT_RUN(test_try_send_needs_a_blocked_receiver);
    WT_RUN(test_try_recv_and_recv_many_take_from_blocked_sender);
    WT_RUN(test_send_many_hands_off_each);
    WT_RUN(test_close_takes_back);
    WT_RUN(test_ping_pong);
    WT_RUN(test_select_on_unbuffered);
    WT_RUN(test_select_against_select);
    WT_RUN(test_hand_off_races_deadlines);
    return 0;
}
