/* Seed 003, section 8, "Exercice A — Pipeline threads avec mesure de débit":
 * extend the producer/consumer pipeline to print the throughput (items/s)
 * and the mean latency per item. N = 3000 items, a queue of maxsize 500,
 * 4 consumers, each item simulating 0.3 ms of work; the producer stamps each
 * item, the consumer measures the time since (the seed's hint), and
 * poison pills plus join end the run as in the seed's solution.
 *
 * Beyond the seed: the latencies also go into a weft_histogram, so the
 * report shows percentiles, and the channel adds its own metrics (depth,
 * peak, time producers spent blocked on a full queue). */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weft/chan.h>
#include <weft/error.h>
#include <weft/metrics.h>
#include <weft/time.h>

enum { N = 3000, N_CONSUMERS = 4, MAXSIZE = 500 };

typedef struct item {
    int i;
    bool is_pill;
    int64_t t0; /* production time, weft_now() */
} item;

static weft_chan *q;
static weft_histogram *latency;

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

static void *cons(void *arg)
{
    (void)arg;
    for (;;) {
        item it;
        check(weft_chan_recv(q, &it, WEFT_NEVER), "get");
        if (it.is_pill) {
            check(weft_chan_task_done(q), "task_done");
            break;
        }
        struct timespec work = {0, 300 * 1000}; /* simulated 0.3 ms of work */
        nanosleep(&work, NULL);
        weft_histogram_record(latency, weft_now() - it.t0); /* times.append(...) */
        check(weft_chan_task_done(q), "task_done");
    }
    return NULL;
}

static void prod(void)
{
    for (int i = 0; i < N; i++) {
        item it = {.i = i, .t0 = weft_now()};
        check(weft_chan_send(q, &it, WEFT_NEVER), "put");
    }
    item pill = {.is_pill = true};
    for (int k = 0; k < N_CONSUMERS; k++)
        check(weft_chan_send(q, &pill, WEFT_NEVER), "put pill");
}

int main(void)
{
    weft_chan_opts opts = {.elem_size = sizeof(item), .capacity = MAXSIZE, .name = "q"};
    check(weft_chan_create(&q, &opts), "create");
    check(weft_histogram_create(&latency, NULL), "histogram");

    int64_t t0 = weft_now();
    pthread_t ts[N_CONSUMERS];
    for (int k = 0; k < N_CONSUMERS; k++)
        pthread_create(&ts[k], NULL, cons, NULL);
    prod();
    check(weft_chan_join(q, WEFT_NEVER), "join");
    for (int k = 0; k < N_CONSUMERS; k++)
        pthread_join(ts[k], NULL);
    double elapsed = (double)(weft_now() - t0) / WEFT_SEC;

    double throughput = N / elapsed;
    double mean_ms = weft_histogram_mean(latency) / WEFT_MSEC;
    printf("throughput: %.0f items/s (%d items in %.3f s)\n", throughput, N, elapsed);
    printf("mean latency: %.2f ms per item\n", mean_ms);
    printf("(ideal: 4 consumers x 1 item / 0.3 ms = %.0f items/s; nanosleep adds its own\n"
           " overshoot to each 0.3 ms, and items wait in the queue: the producer is far\n"
           " faster than the consumers, so latency is mostly queueing)\n\n",
           N_CONSUMERS / 0.0003);

    weft_report *r;
    check(weft_report_create(&r, "exercise A"), "report");
    check(weft_report_add_gauge(r, "throughput", throughput, "items/s"), "report");
    check(weft_report_add_histogram(r, "latency", latency, "ns"), "report");
    check(weft_chan_report(q, r, NULL), "report");
    check(weft_report_write_text(r, stdout), "report");
    weft_report_destroy(r);
    weft_histogram_destroy(latency);
    weft_chan_destroy(q);
    return 0;
}
