/* Seed 003, section 3 ("Threading : pipeline robuste avec backpressure &
 * poison pill"): a producer feeds 2000 items through a bounded queue
 * (maxsize 200: backpressure) to 4 consumers that each simulate 0.5 ms of
 * I/O per item; the producer then sends one poison pill per consumer, and
 * q.join() waits until every item, pills included, was marked task_done.
 *
 * weft_chan is the queue: send blocks while it is full (put), recv while it
 * is empty (get), task_done/join are Queue.task_done/Queue.join. A pill is
 * an element with is_pill set (Python's None). The close-based equivalent
 * is examples/producer_consumer_close.c. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weft/chan.h>
#include <weft/error.h>
#include <weft/time.h>

enum { N_ITEMS = 2000, N_CONSUMERS = 4, MAXSIZE = 200 };

typedef struct item {
    int i;
    double x;
    bool is_pill;
} item;

typedef struct result {
    int cid, i;
    double x2;
} result;

static weft_chan *q;
/* Each item index is processed once, so each consumer writes its own slots;
 * join orders these writes before the main thread reads them. */
static result results[N_ITEMS];
static int n_results[N_CONSUMERS];

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

static void simulated_io(void)
{
    struct timespec ts = {0, 500 * 1000}; /* time.sleep(0.0005) */
    nanosleep(&ts, NULL);
}

static void *consumer(void *arg)
{
    int cid = (int)(intptr_t)arg;
    for (;;) {
        item it;
        check(weft_chan_recv(q, &it, WEFT_NEVER), "get");
        if (it.is_pill) {
            check(weft_chan_task_done(q), "task_done");
            break;
        }
        simulated_io();
        results[it.i] = (result){.cid = cid, .i = it.i, .x2 = it.x * 2};
        n_results[cid]++;
        check(weft_chan_task_done(q), "task_done");
    }
    return NULL;
}

static void producer(int n)
{
    for (int i = 0; i < n; i++) {
        item it = {.i = i, .x = drand48()};
        check(weft_chan_send(q, &it, WEFT_NEVER), "put"); /* blocks when full */
    }
    item pill = {.is_pill = true};
    for (int k = 0; k < N_CONSUMERS; k++) /* 4 consumers => 4 pills */
        check(weft_chan_send(q, &pill, WEFT_NEVER), "put pill");
}

int main(void)
{
    weft_chan_opts opts = {.elem_size = sizeof(item), .capacity = MAXSIZE, .name = "q"};
    check(weft_chan_create(&q, &opts), "create");
    srand48((long)time(NULL));

    int64_t t0 = weft_now();
    pthread_t threads[N_CONSUMERS];
    for (int k = 0; k < N_CONSUMERS; k++)
        pthread_create(&threads[k], NULL, consumer, (void *)(intptr_t)k);
    producer(N_ITEMS);
    check(weft_chan_join(q, WEFT_NEVER), "join"); /* waits for complete processing */
    for (int k = 0; k < N_CONSUMERS; k++)
        pthread_join(threads[k], NULL);
    double elapsed = (double)(weft_now() - t0) / WEFT_SEC;

    int total = 0;
    for (int k = 0; k < N_CONSUMERS; k++)
        total += n_results[k];
    printf("%d results in %.2f s (4 consumers x 0.5 ms per item)\n", total, elapsed);
    printf("first 5:");
    for (int i = 0; i < 5; i++)
        printf(" (%d, %d, %.4f)", results[i].cid, results[i].i, results[i].x2);
    printf("\nper consumer:");
    for (int k = 0; k < N_CONSUMERS; k++)
        printf(" %d", n_results[k]);
    weft_chan_stats s;
    weft_chan_stats_get(q, &s);
    printf("\nqueue: %llu put, %llu got, peak depth %zu/%d, unfinished %llu\n",
           (unsigned long long)s.sends, (unsigned long long)s.recvs, s.peak_depth, MAXSIZE,
           (unsigned long long)s.unfinished);
    weft_chan_destroy(q);
    return total == N_ITEMS ? 0 : 1;
}
