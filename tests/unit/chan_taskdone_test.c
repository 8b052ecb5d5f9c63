/* Channels: task_done / join (Python's Queue.task_done and Queue.join). */
#include <stdatomic.h>

#include <weft/chan.h>

#include "chan_util.h"

static void test_task_done_counts_receives(void)
{
    weft_chan *c = chan_new(sizeof(int), 4);
    int v = 1;
    WT_ERR(weft_chan_task_done(c), -EINVAL); /* nothing received */
    WT_OK(weft_chan_join(c, WEFT_NOW));      /* nothing unfinished */
    WT_OK(weft_chan_send(c, &v, WEFT_NOW));
    WT_OK(weft_chan_send(c, &v, WEFT_NOW));
    WT_ERR(weft_chan_task_done(c), -EINVAL); /* sent, not received */
    WT_ERR(weft_chan_join(c, WEFT_NOW), -ETIMEDOUT);
    WT_OK(weft_chan_recv(c, &v, WEFT_NOW));
    WT_OK(weft_chan_task_done(c));
    WT_ERR(weft_chan_task_done(c), -EINVAL); /* one more than received */
    weft_chan_stats s;
    weft_chan_stats_get(c, &s);
    WT_EQ(s.unfinished, 1);
    WT_ERR(weft_chan_join(c, WEFT_NOW), -ETIMEDOUT);
    WT_OK(weft_chan_recv(c, &v, WEFT_NOW));
    WT_OK(weft_chan_task_done(c));
    WT_OK(weft_chan_join(c, WEFT_NOW));
    weft_chan_stats_get(c, &s);
    WT_EQ(s.unfinished, 0);
    /* Close does not end a join: unfinished work is still unfinished. */
    WT_OK(weft_chan_send(c, &v, WEFT_NOW));
    WT_OK(weft_chan_close(c));
    WT_ERR(weft_chan_join(c, WEFT_NOW), -ETIMEDOUT);
    WT_OK(weft_chan_recv(c, &v, WEFT_NOW));
    WT_OK(weft_chan_task_done(c));
    WT_OK(weft_chan_join(c, WEFT_NEVER));
    weft_chan_destroy(c);
}

/* Workers record results in plain memory, then task_done; after join the
 * main thread reads every result (ThreadSanitizer checks that join orders
 * the workers' writes before the reads). */
enum { WORKERS = 3, ITEMS = 300 };
static weft_chan *g_chan;
static int g_results[ITEMS];

static void *worker(void *arg)
{
    (void)arg;
    int i, rc;
    while ((rc = weft_chan_recv(g_chan, &i, WEFT_NEVER)) == 0) {
        g_results[i] = i * 2;
        WT_OK(weft_chan_task_done(g_chan));
    }
    WT_ERR(rc, -EPIPE);
    return NULL;
}

static void test_join_waits_for_every_item(void)
{
    g_chan = chan_new(sizeof(int), 8);
    pthread_t t[WORKERS];
    for (int k = 0; k < WORKERS; k++)
        t[k] = thread_start(worker, NULL);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < ITEMS; i++) {
            g_results[i] = -1;
        }
        for (int i = 0; i < ITEMS; i++)
            WT_OK(weft_chan_send(g_chan, &i, WEFT_NEVER));
        WT_OK(weft_chan_join(g_chan, WEFT_NEVER));
        for (int i = 0; i < ITEMS; i++)
            WT_EQ(g_results[i], i * 2);
    }
    WT_OK(weft_chan_close(g_chan));
    for (int k = 0; k < WORKERS; k++)
        thread_join(t[k]);
    weft_chan_destroy(g_chan);
}

/* Parked joiners (several) are woken by the last task_done, not before. */
static _Atomic int g_joined;

static void *joiner(void *arg)
{
    (void)arg;
    WT_OK(weft_chan_join(g_chan, far_deadline()));
    atomic_fetch_add(&g_joined, 1);
    return NULL;
}

static void test_last_task_done_wakes_joiners(void)
{
    g_chan = chan_new(sizeof(int), 4);
    int v = 0;
    for (int i = 0; i < 3; i++)
        WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    atomic_store(&g_joined, 0);
    pthread_t t[2] = {thread_start(joiner, NULL), thread_start(joiner, NULL)};
    wait_parked(2);
    for (int i = 0; i < 3; i++)
        WT_OK(weft_chan_recv(g_chan, &v, WEFT_NOW));
    WT_OK(weft_chan_task_done(g_chan));
    WT_OK(weft_chan_task_done(g_chan));
    WT_EQ(weft_clock_timed_waiters(), 2); /* one left: still parked */
    WT_EQ(atomic_load(&g_joined), 0);
    WT_OK(weft_chan_task_done(g_chan));
    thread_join(t[0]);
    thread_join(t[1]);
    WT_EQ(atomic_load(&g_joined), 2);
    weft_chan_destroy(g_chan);
}

/* The seeds' poison-pill pattern: one pill per consumer, task_done for the
 * pills too, join, then the consumers are gone. */
enum { PILL = -1, PP_CONSUMERS = 4, PP_ITEMS = 2000 };
static _Atomic int g_processed;

static void *pill_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        int item;
        WT_OK(weft_chan_recv(g_chan, &item, WEFT_NEVER));
        if (item == PILL) {
            WT_OK(weft_chan_task_done(g_chan));
            return NULL;
        }
        atomic_fetch_add(&g_processed, 1);
        WT_OK(weft_chan_task_done(g_chan));
    }
}

static void test_poison_pill_pattern(void)
{
    g_chan = chan_new(sizeof(int), 200);
    pthread_t t[PP_CONSUMERS];
    for (int k = 0; k < PP_CONSUMERS; k++)
        t[k] = thread_start(pill_consumer, NULL);
    for (int i = 0; i < PP_ITEMS; i++)
        WT_OK(weft_chan_send(g_chan, &i, WEFT_NEVER));
    int pill = PILL;
    for (int k = 0; k < PP_CONSUMERS; k++)
        WT_OK(weft_chan_send(g_chan, &pill, WEFT_NEVER));
    WT_OK(weft_chan_join(g_chan, WEFT_NEVER));
    WT_EQ(atomic_load(&g_processed), PP_ITEMS);
    for (int k = 0; k < PP_CONSUMERS; k++)
        thread_join(t[k]);
    weft_chan_stats s;
    weft_chan_stats_get(g_chan, &s);
    WT_EQ(s.unfinished, 0);
    WT_EQ(s.sends, PP_ITEMS + PP_CONSUMERS);
    weft_chan_destroy(g_chan);
}

/* Concurrent task_done calls never exceed the receives: with R receives
 * and 2R calls racing, exactly R succeed. */
enum { TD_THREADS = 4, TD_ITEMS = 5000 };
static _Atomic int g_ok, g_inval;

static void *task_doner(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2 * WT_SCALE(TD_ITEMS) / TD_THREADS; i++) {
        int rc = weft_chan_task_done(g_chan);
        if (rc == 0)
            atomic_fetch_add(&g_ok, 1);
        else if (rc == -EINVAL)
            atomic_fetch_add(&g_inval, 1);
    }
    return NULL;
}

static void test_task_done_races(void)
{
    int n = WT_SCALE(TD_ITEMS);
    g_chan = chan_new(sizeof(int), (size_t)n);
    int v = 0;
    for (int i = 0; i < n; i++)
        WT_OK(weft_chan_send(g_chan, &v, WEFT_NOW));
    for (int i = 0; i < n; i++)
        WT_OK(weft_chan_recv(g_chan, &v, WEFT_NOW));
    pthread_t t[TD_THREADS];
    for (int k = 0; k < TD_THREADS; k++)
        t[k] = thread_start(task_doner, NULL);
    for (int k = 0; k < TD_THREADS; k++)
        thread_join(t[k]);
    WT_EQ(atomic_load(&g_ok), n);
    WT_EQ(atomic_load(&g_inval), n);
    WT_OK(weft_chan_join(g_chan, WEFT_NOW));
    weft_chan_destroy(g_chan);
}

int main(void)
{
    use_virtual_clock();
    WT_RUN(test_task_done_counts_receives);
    WT_RUN(test_join_waits_for_every_item);
    WT_RUN(test_last_task_done_wakes_joiners);
    WT_RUN(test_poison_pill_pattern);
    WT_RUN(test_task_done_races);
    return 0;
}
