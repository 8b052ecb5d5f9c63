/* Channel kernels for `weft bench`: the peers' bounded-queue workloads
 * (Go buffered channel, oneTBB concurrent_bounded_queue, Python queue.Queue):
 * 8-byte messages through a channel of capacity 1024, timed from the first
 * thread's start to the last thread's end, as the peers time theirs. */
#include <pthread.h>
#include <stdint.h>

#include <weft/chan.h>
#include <weft/error.h>
#include <weft/time.h>

#include "bench/bench.h"

enum { CAPACITY = 1024, BATCH = 256, MPMC_SIDES = 4 };

typedef struct job {
    weft_chan *ch;
    long n;
    int rc;
} job;

static weft_chan *make_chan(size_t capacity)
{
    weft_chan *ch;
    weft_chan_opts opts = {.elem_size = sizeof(int64_t), .capacity = capacity};
    return weft_chan_create(&ch, &opts) == 0 ? ch : NULL;
}

static void *produce(void *arg)
{
    job *j = arg;
    for (int64_t i = 0; i < j->n && j->rc == 0; i++)
        j->rc = weft_chan_send(j->ch, &i, WEFT_NEVER);
    return NULL;
}

static void *consume(void *arg)
{
    job *j = arg;
    int64_t v;
    for (long i = 0; i < j->n && j->rc == 0; i++)
        j->rc = weft_chan_recv(j->ch, &v, WEFT_NEVER);
    return NULL;
}

static double run_sides(long n, int sides)
{
    weft_chan *ch = make_chan(CAPACITY);
    if (!ch)
        return -ENOMEM;
    job jobs[2 * MPMC_SIDES];
    pthread_t threads[2 * MPMC_SIDES];
    double t0 = weft_bench_seconds();
    for (int k = 0; k < 2 * sides; k++) {
        jobs[k] = (job){ch, n / sides, 0};
        pthread_create(&threads[k], NULL, k < sides ? produce : consume, &jobs[k]);
    }
    int rc = 0;
    for (int k = 0; k < 2 * sides; k++) {
        pthread_join(threads[k], NULL);
        if (jobs[k].rc)
            rc = jobs[k].rc;
    }
    double s = weft_bench_seconds() - t0;
    weft_chan_destroy(ch);
    return rc ? rc : s;
}

static double chan_1p1c(long n)
{
    return run_sides(n, 1);
}

static double chan_4p4c(long n)
{
    return run_sides(n - n % MPMC_SIDES, MPMC_SIDES);
}

static void *produce_batches(void *arg)
{
    job *j = arg;
    int64_t buf[BATCH];
    for (long i = 0; i < j->n && j->rc == 0;) {
        size_t k = (size_t)(j->n - i < BATCH ? j->n - i : BATCH), sent = 0;
        for (size_t b = 0; b < k; b++)
            buf[b] = i + (int64_t)b;
        j->rc = weft_chan_send_many(j->ch, buf, k, &sent, WEFT_NEVER);
        i += (long)sent;
    }
    return NULL;
}

static double chan_1p1c_batch(long n)
{
    weft_chan *ch = make_chan(CAPACITY);
    if (!ch)
        return -ENOMEM;
    job j = {ch, n, 0};
    pthread_t t;
    double t0 = weft_bench_seconds();
    pthread_create(&t, NULL, produce_batches, &j);
    int64_t buf[BATCH];
    int rc = 0;
    for (long got_total = 0; got_total < n && rc == 0;) {
        size_t got = 0;
        rc = weft_chan_recv_many(ch, buf, BATCH, &got, WEFT_NEVER);
        got_total += (long)got;
    }
    pthread_join(t, NULL);
    double s = weft_bench_seconds() - t0;
    weft_chan_destroy(ch);
    return rc ? rc : j.rc ? j.rc : s;
}

typedef struct pong_job {
    weft_chan *ping, *pong;
    long n;
    int rc;
} pong_job;

static void *ponger(void *arg)
{
    pong_job *j = arg;
    int64_t v;
    for (long i = 0; i < j->n && j->rc == 0; i++) {
        j->rc = weft_chan_recv(j->ping, &v, WEFT_NEVER);
        if (j->rc == 0)
            j->rc = weft_chan_send(j->pong, &v, WEFT_NEVER);
    }
    return NULL;
}

static double chan_pingpong(long n)
{
    pong_job j = {make_chan(WEFT_CHAN_UNBUFFERED), make_chan(WEFT_CHAN_UNBUFFERED), n, 0};
    if (!j.ping || !j.pong) {
        weft_chan_destroy(j.ping);
        weft_chan_destroy(j.pong);
        return -ENOMEM;
    }
    pthread_t t;
    pthread_create(&t, NULL, ponger, &j);
    double t0 = weft_bench_seconds();
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0; i++) {
        rc = weft_chan_send(j.ping, &i, WEFT_NEVER);
        if (rc == 0)
            rc = weft_chan_recv(j.pong, &i, WEFT_NEVER);
    }
    double s = weft_bench_seconds() - t0;
    pthread_join(t, NULL);
    weft_chan_destroy(j.ping);
    weft_chan_destroy(j.pong);
    return rc ? rc : j.rc ? j.rc : s;
}

const weft_bench_kernel weft_bench_chan_kernels[] = {
    {"chan_1p1c", "channel(1024) of 8-byte messages, 1 producer 1 consumer, one send+recv",
     "chan_1p1c", 10000000, chan_1p1c},
    {"chan_4p4c", "channel(1024), 4 producers 4 consumers, one send+recv", "chan_4p4c", 10000000,
     chan_4p4c},
    {"chan_1p1c_batch", "channel(1024), 1P1C, send_many/recv_many of 256: one message",
     "chan_1p1c", 50000000, chan_1p1c_batch},
    {"chan_pingpong", "unbuffered channels, one round trip between two threads",
     "chan_pingpong", 1000000, chan_pingpong},
    {0},
};
