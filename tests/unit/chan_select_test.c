/* weft_chan_select: readiness, fairness, deadlines, close, send cases,
 * blocking and waking (threads that must be parked wait on a far virtual
 * deadline, so the test knows without sleeping). */
#include <stdatomic.h>
#include <stdlib.h>

#include <weft/chan.h>

#include "chan_util.h"

static void test_invalid_arguments(void)
{
    weft_chan *c = chan_new(sizeof(int), 2);
    int v = 0;
    weft_select_case k = {.chan = c, .op = WEFT_SELECT_RECV, .elem = &v};
    WT_ERR(weft_chan_select(NULL, 1, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_select(&k, 0, WEFT_NOW), -EINVAL);
    k.op = 0;
    WT_ERR(weft_chan_select(&k, 1, WEFT_NOW), -EINVAL);
    k.op = WEFT_SELECT_SEND;
    k.elem = NULL;
    WT_ERR(weft_chan_select(&k, 1, WEFT_NOW), -EINVAL);
    /* A disabled case (NULL channel) is not checked, and never chosen. */
    weft_select_case off = {.chan = NULL, .op = 12345, .elem = NULL};
    WT_ERR(weft_chan_select(&off, 1, WEFT_NOW), -ETIMEDOUT);
    weft_chan_destroy(c);
}

static void test_ready_cases_complete(void)
{
    weft_chan *a = chan_new(sizeof(int), 2), *b = chan_new(sizeof(int), 1);
    int in = 7, out = -1, fill = 1;
    WT_OK(weft_chan_send(b, &fill, WEFT_NOW)); /* b full: its SEND is not ready */
    weft_select_case k[3] = {
        {.chan = a, .op = WEFT_SELECT_RECV, .elem = &out, .result = 99}, /* empty */
        {.chan = b, .op = WEFT_SELECT_SEND, .elem = &in, .result = 99},  /* full */
        {.chan = NULL},
    };
    WT_ERR(weft_chan_select(k, 3, WEFT_NOW), -ETIMEDOUT);
    WT_OK(weft_chan_send(a, &in, WEFT_NOW));
    WT_EQ(weft_chan_select(k, 3, WEFT_NOW), 0);
    WT_OK(k[0].result);
    WT_EQ(out, 7);
    WT_EQ(k[1].result, 99); /* untouched */
    WT_OK(weft_chan_recv(b, &out, WEFT_NOW));
    WT_EQ(weft_chan_select(k, 3, WEFT_NEVER), 1);
    WT_OK(k[1].result);
    WT_EQ(weft_chan_len(b), 1);
    weft_chan_destroy(a);
    weft_chan_destroy(b);
}

/* Two always-ready cases, 10000 selects: each chosen 40-60% of the time.
 * Then three cases, the middle one never ready: a rotation from a random
 * start would favour the case after the gap 2:1; a real shuffle does not. */
static void check_fair(weft_select_case *k, size_t n, const int *ready, int nready)
{
    int counts[8] = {0};
    enum { ROUNDS = 10000 };
    for (int i = 0; i < ROUNDS; i++) {
        int rc = weft_chan_select(k, n, WEFT_NOW);
        WT_GE(rc, 0);
        WT_OK(k[rc].result);
        counts[rc]++;
        /* Put the state back: refill the RECV case, drain the SEND one. */
        int v = 0;
        if (k[rc].op == WEFT_SELECT_RECV)
            WT_OK(weft_chan_send(k[rc].chan, &v, WEFT_NOW));
        else
            WT_OK(weft_chan_recv(k[rc].chan, &v, WEFT_NOW));
    }
    for (int j = 0; j < nready; j++) {
        double share = (double)counts[ready[j]] / ROUNDS;
        WT_NEAR(share, 1.0 / nready, 0.1);
    }
}

static void test_fairness(void)
{
    weft_chan *a = chan_new(sizeof(int), 4), *b = chan_new(sizeof(int), 4);
    weft_chan *c = chan_new(sizeof(int), 4);
    int v = 0, out;
    WT_OK(weft_chan_send(a, &v, WEFT_NOW));
    WT_OK(weft_chan_send(b, &v, WEFT_NOW));
    weft_select_case recv2[2] = {
        {.chan = a, .op = WEFT_SELECT_RECV, .elem = &out},
        {.chan = b, .op = WEFT_SELECT_RECV, .elem = &out},
    };
    check_fair(recv2, 2, (int[]){0, 1}, 2);

    /* SEND cases on channels with room, and a mix. */
    weft_select_case send2[2] = {
        {.chan = c, .op = WEFT_SELECT_SEND, .elem = &v},
        {.chan = a, .op = WEFT_SELECT_RECV, .elem = &out},
    };
    check_fair(send2, 2, (int[]){0, 1}, 2);

    weft_chan *never = chan_new(sizeof(int), 4);
    weft_select_case gap[3] = {
        {.chan = a, .op = WEFT_SELECT_RECV, .elem = &out},
        {.chan = never, .op = WEFT_SELECT_RECV, .elem = &out},
        {.chan = b, .op = WEFT_SELECT_RECV, .elem = &out},
    };
    check_fair(gap, 3, (int[]){0, 2}, 2);
    weft_chan_destroy(a);
    weft_chan_destroy(b);
    weft_chan_destroy(c);
    weft_chan_destroy(never);
}

static void test_closed_channels(void)
{
    weft_chan *a = chan_new(sizeof(int), 2);
    int v = 3, out = 0;
    WT_OK(weft_chan_send(a, &v, WEFT_NOW));
    WT_OK(weft_chan_close(a));
    weft_select_case r = {.chan = a, .op = WEFT_SELECT_RECV, .elem = &out};
    WT_EQ(weft_chan_select(&r, 1, WEFT_NOW), 0); /* drains first */
    WT_OK(r.result);
    WT_EQ(out, 3);
    out = 0;
    WT_EQ(weft_chan_select(&r, 1, WEFT_NEVER), 0); /* then Go's ok == false */
    WT_ERR(r.result, -EPIPE);
    WT_EQ(out, 0);
    weft_select_case s = {.chan = a, .op = WEFT_SELECT_SEND, .elem = &v};
    WT_EQ(weft_chan_select(&s, 1, WEFT_NEVER), 0);
    WT_ERR(s.result, -EPIPE);
    weft_chan_destroy(a);
}

/* Blocking selects and what wakes them. */
static weft_chan *g_chans[128];
static weft_select_case g_cases[128];
static int g_outs[128];
static _Atomic int g_rc;
static size_t g_n;

enum { PENDING = -1000 };

static void *do_select(void *arg)
{
    (void)arg;
    atomic_store(&g_rc, weft_chan_select(g_cases, g_n, far_deadline()));
    return NULL;
}

static void setup(size_t n, int op)
{
    g_n = n;
    for (size_t i = 0; i < n; i++) {
        g_chans[i] = chan_new(sizeof(int), 1);
        g_outs[i] = -1;
        g_cases[i] =
            (weft_select_case){.chan = g_chans[i], .op = op, .elem = &g_outs[i], .result = 99};
        if (op == WEFT_SELECT_SEND)
            WT_OK(weft_chan_send(g_chans[i], &g_outs[i], WEFT_NOW)); /* full */
    }
    atomic_store(&g_rc, PENDING);
}

static void teardown(void)
{
    for (size_t i = 0; i < g_n; i++)
        weft_chan_destroy(g_chans[i]);
}

static void test_blocked_select_woken_by_each_event(void)
{
    /* Many sizes: on-stack links (<= 16), heap links, rotation (> 64). */
    size_t sizes[] = {1, 3, 16, 17, 64, 65, 128};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], pick = n / 2;
        int v = 555;

        /* An element arrives. */
        setup(n, WEFT_SELECT_RECV);
        pthread_t t = thread_start(do_select, NULL);
        wait_parked(1);
        WT_OK(weft_chan_send(g_chans[pick], &v, WEFT_NOW));
        thread_join(t);
        WT_EQ(atomic_load(&g_rc), (int)pick);
        WT_OK(g_cases[pick].result);
        WT_EQ(g_outs[pick], 555);
        for (size_t i = 0; i < n; i++)
            if (i != pick)
                WT_EQ(g_cases[i].result, 99);
        teardown();

        /* Room appears. */
        setup(n, WEFT_SELECT_SEND);
        t = thread_start(do_select, NULL);
        wait_parked(1);
        WT_OK(weft_chan_recv(g_chans[pick], &v, WEFT_NOW));
        thread_join(t);
        WT_EQ(atomic_load(&g_rc), (int)pick);
        WT_OK(g_cases[pick].result);
        WT_EQ(weft_chan_len(g_chans[pick]), 1);
        teardown();

        /* A channel closes. */
        setup(n, WEFT_SELECT_RECV);
        t = thread_start(do_select, NULL);
        wait_parked(1);
        WT_OK(weft_chan_close(g_chans[pick]));
        thread_join(t);
        WT_EQ(atomic_load(&g_rc), (int)pick);
        WT_ERR(g_cases[pick].result, -EPIPE);
        teardown();
    }
}

/* Two selects parked on one channel, two elements: both complete (one
 * wake per element, none lost), and a plain receiver parked beside them
 * gets the third. */
static weft_chan *g_shared;
static _Atomic int g_completed;

static void *select_on_shared(void *arg)
{
    (void)arg;
    int out, dummy_out;
    weft_chan *dummy = chan_new(sizeof(int), 1);
    weft_select_case k[2] = {
        {.chan = dummy, .op = WEFT_SELECT_RECV, .elem = &dummy_out},
        {.chan = g_shared, .op = WEFT_SELECT_RECV, .elem = &out},
    };
    WT_EQ(weft_chan_select(k, 2, far_deadline()), 1);
    WT_OK(k[1].result);
    atomic_fetch_add(&g_completed, 1);
    weft_chan_destroy(dummy);
    return NULL;
}

static void *recv_on_shared(void *arg)
{
    (void)arg;
    int out;
    WT_OK(weft_chan_recv(g_shared, &out, far_deadline()));
    atomic_fetch_add(&g_completed, 1);
    return NULL;
}

static void test_no_lost_wake_between_selects(void)
{
    g_shared = chan_new(sizeof(int), 8);
    pthread_t t[3];
    t[0] = thread_start(select_on_shared, NULL);
    t[1] = thread_start(select_on_shared, NULL);
    t[2] = thread_start(recv_on_shared, NULL);
    wait_parked(3);
    int v[3] = {1, 2, 3};
    size_t sent;
    WT_OK(weft_chan_send_many(g_shared, v, 3, &sent, WEFT_NOW));
    for (int i = 0; i < 3; i++)
        thread_join(t[i]);
    WT_EQ(atomic_load(&g_completed), 3);
    weft_chan_destroy(g_shared);
}

/* Producers feed two channels; consumers receive with selects over both
 * (and plain receives): every element is received exactly once, and after
 * both channels close every consumer sees -EPIPE results. */
enum { MX_PRODUCERS = 2, MX_CONSUMERS = 3, MX_PER = 20000 };
static weft_chan *g_x, *g_y;
static _Atomic uint64_t mx_sum, mx_count;

static void *mx_producer(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < WT_SCALE(MX_PER); i++) {
        uint64_t v = i;
        WT_OK(weft_chan_send((i + id) % 2 ? g_x : g_y, &v, WEFT_NEVER));
    }
    return NULL;
}

static void *mx_consumer(void *arg)
{
    (void)arg;
    uint64_t sum = 0, n = 0, vx, vy;
    bool x_open = true, y_open = true;
    while (x_open || y_open) {
        weft_select_case k[2] = {
            {.chan = x_open ? g_x : NULL, .op = WEFT_SELECT_RECV, .elem = &vx},
            {.chan = y_open ? g_y : NULL, .op = WEFT_SELECT_RECV, .elem = &vy},
        };
        int rc = weft_chan_select(k, 2, WEFT_NEVER);
        WT_ASSERT(rc == 0 || rc == 1);
        if (k[rc].result == -EPIPE) {
            if (rc == 0)
                x_open = false;
            else
                y_open = false;
            continue;
        }
        WT_OK(k[rc].result);
        sum += rc == 0 ? vx : vy;
        n++;
    }
    atomic_fetch_add(&mx_sum, sum);
    atomic_fetch_add(&mx_count, n);
    return NULL;
}

static void test_select_consumers_exactly_once(void)
{
    g_x = chan_new(sizeof(uint64_t), 4);
    g_y = chan_new(sizeof(uint64_t), 1);
    pthread_t p[MX_PRODUCERS], q[MX_CONSUMERS];
    for (int i = 0; i < MX_CONSUMERS; i++)
        q[i] = thread_start(mx_consumer, NULL);
    for (int i = 0; i < MX_PRODUCERS; i++)
        p[i] = thread_start(mx_producer, (void *)(uintptr_t)i);
    for (int i = 0; i < MX_PRODUCERS; i++)
        thread_join(p[i]);
    WT_OK(weft_chan_close(g_x));
    WT_OK(weft_chan_close(g_y));
    for (int i = 0; i < MX_CONSUMERS; i++)
        thread_join(q[i]);
    uint64_t per = WT_SCALE(MX_PER);
    WT_EQ_U(atomic_load(&mx_count), MX_PRODUCERS * per);
    WT_EQ_U(atomic_load(&mx_sum), MX_PRODUCERS * (per * (per - 1) / 2));
    weft_chan_destroy(g_x);
    weft_chan_destroy(g_y);
}

int main(void)
{
    use_virtual_clock();
    WT_RUN(test_invalid_arguments);
    WT_RUN(test_ready_cases_complete);
    WT_RUN(test_fairness);
    WT_RUN(test_closed_channels);
    WT_RUN(test_blocked_select_woken_by_each_event);
    WT_RUN(test_no_lost_wake_between_selects);
    WT_RUN(test_select_consumers_exactly_once);
    return 0;
}
