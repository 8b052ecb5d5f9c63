/* Seed 003, section 3 ("Threading : pipeline robuste avec backpressure &
 * poison pill"), with close instead of poison pills: the same pipeline (a
 * producer, 2000 items, a queue of maxsize 200, 4 consumers simulating
 * 0.5 ms of I/O per item), shut down the way Go does it.
 *
 * The producer closes the channel after its last item. Each consumer loops
 * until recv returns -EPIPE, which happens only once every item sent before
 * the close has been received: no sentinel value, no need to know how many
 * consumers there are, and an item can never be mistaken for a pill. The
 * consumers still mark items with task_done, so join works as in the
 * poison-pill version (examples/producer_consumer_poison_pill.c); here
 * joining the consumer threads is enough. */
#include <pthread.h>
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
} item;

typedef struct result {
    int cid, i;
    double x2;
} result;

static weft_chan *q;
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
    item it;
    int rc;
    /* "for item in ch": -EPIPE means closed and drained. */
    while ((rc = weft_chan_recv(q, &it, WEFT_NEVER)) == 0) {
        simulated_io();
        results[it.i] = (result){.cid = cid, .i = it.i, .x2 = it.x * 2};
        n_results[cid]++;
        check(weft_chan_task_done(q), "task_done");
    }
    if (rc != -EPIPE)
        check(rc, "get");
    return NULL;
}

static void producer(int n)
{
    for (int i = 0; i < n; i++) {
        item it = {.i = i, .x = drand48()};
        check(weft_chan_send(q, &it, WEFT_NEVER), "put"); /* blocks when full */
    }
    check(weft_chan_close(q), "close"); /* instead of one pill per consumer */
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
    for (int k = 0; k < N_CONSUMERS; k++) /* each returns after the drain */
        pthread_join(threads[k], NULL);
    check(weft_chan_join(q, WEFT_NOW), "join"); /* everything is already done */
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
    printf("\nqueue: %llu put, %llu got, peak depth %zu/%d, closed %s\n",
           (unsigned long long)s.sends, (unsigned long long)s.recvs, s.peak_depth, MAXSIZE,
           s.closed ? "yes" : "no");
    weft_chan_destroy(q);
    return total == N_ITEMS ? 0 : 1;
}
