/* Seed 003 section 5, "Queue asyncio : producer/consumers": a producer
 * task puts 100 items into a bounded queue (capacity 20, so it waits when
 * the consumers fall behind: backpressure), then one poison pill (None)
 * per consumer; three consumer tasks take items, "do I/O" for 2 ms each and
 * mark them done; the main task waits for the producer, then for the queue
 * to be joined, then for the consumers. The queue is a weft channel, the
 * same one threads use. */
#include <stdio.h>
#include <stdlib.h>

#include <weft/chan.h>
#include <weft/loop.h>
#include <weft/time.h>

enum { ITEMS = 100, CONSUMERS = 3 };

typedef struct item {
    int i; /* -1: the poison pill */
    double value;
} item;

static int handled[CONSUMERS];

static int producer(void *arg, weft_value *result)
{
    (void)result;
    weft_chan *ch = arg;
    unsigned seed = 1;
    for (int i = 0; i < ITEMS; i++) {
        item it = {i, rand_r(&seed) / (double)RAND_MAX};
        int rc = weft_chan_send(ch, &it, WEFT_NEVER); /* await ch.put(...) */
        if (rc < 0)
            return rc;
    }
    for (int k = 0; k < CONSUMERS; k++) {
        item pill = {-1, 0};
        weft_chan_send(ch, &pill, WEFT_NEVER);
    }
    return 0;
}

static weft_chan *queue;

static int consumer(void *arg, weft_value *result)
{
    (void)result;
    int cid = (int)(intptr_t)arg;
    for (;;) {
        item it;
        int rc = weft_chan_recv(queue, &it, WEFT_NEVER); /* await ch.get() */
        if (rc < 0)
            return rc;
        if (it.i < 0) {
            weft_chan_task_done(queue);
            return 0;
        }
        weft_sleep_for(2 * WEFT_MSEC); /* simulated I/O */
        handled[cid]++;
        weft_chan_task_done(queue);
    }
}

static int run(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    int64_t t0 = weft_now();
    weft_future *prod, *cons[CONSUMERS];
    weft_spawn(NULL, producer, queue, NULL, &prod);
    for (intptr_t k = 0; k < CONSUMERS; k++)
        weft_spawn(NULL, consumer, (void *)k, NULL, &cons[k]);
    weft_future_wait(prod, WEFT_NEVER); /* await asyncio.gather(prod) */
    weft_chan_join(queue, WEFT_NEVER);  /* await ch.join() */
    int rc = weft_gather(cons, CONSUMERS, WEFT_NEVER, NULL, NULL);
    double s = (double)(weft_now() - t0) / 1e9;
    weft_future_unref(prod);
    for (int k = 0; k < CONSUMERS; k++)
        weft_future_unref(cons[k]);
    weft_chan_stats st;
    weft_chan_stats_get(queue, &st);
    int total = 0;
    for (int k = 0; k < CONSUMERS; k++) {
        printf("consumer %d handled %d items\n", k, handled[k]);
        total += handled[k];
    }
    printf("%d items through a queue of 20 in %.3f s (%d consumers x 2 ms of I/O each: "
           "%.3f s if sequential)\n",
           total, s, CONSUMERS, ITEMS * 0.002);
    printf("peak queue depth %llu of 20 (the producer waited when it was full)\n",
           (unsigned long long)st.peak_depth);
    return rc == 0 && total == ITEMS ? 0 : -1;
}

int main(void)
{
    weft_chan_opts o = {.elem_size = sizeof(item), .capacity = 20, .name = "ticks"};
    if (weft_chan_create(&queue, &o) < 0)
        return 1;
    int rc = weft_run(run, NULL, NULL, NULL);
    weft_chan_destroy(queue);
    return rc == 0 ? 0 : 1;
}
