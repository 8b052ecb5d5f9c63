/* weft demo: a three-stage channel pipeline (the seeds' producer -> workers -> collector with a
 * bounded queue, backpressure and close-based shutdown), with live metrics
 * on a terminal and a final report as a table or JSON.
 *
 *   weft demo [--seconds S] [--workers N] [--capacity C] [--work-ns W] [--json]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/chan.h>
#include <weft/error.h>
#include <weft/metrics.h>
#include <weft/time.h>

#include "tools/weft_tool.h"

enum { MAX_WORKERS = 64 };

typedef struct item {
    int64_t born; /* weft_now() when produced: end-to-end latency */
    uint64_t seq;
    uint64_t value;
} item;

typedef struct demo {
    weft_chan *jobs, *results;
    int64_t stop_at, work_ns;
    weft_histogram *latency;
    _Atomic int workers_left;
} demo;

static void *producer(void *arg)
{
    demo *d = arg;
    for (uint64_t seq = 0; weft_now() < d->stop_at; seq++) {
        item it = {weft_now(), seq, seq * 2654435761u};
        /* Blocks while the workers are behind: backpressure. */
        if (weft_chan_send(d->jobs, &it, d->stop_at) != 0)
            break;
    }
    weft_chan_close(d->jobs); /* the close-based poison pill */
    return NULL;
}

static void *worker(void *arg)
{
    demo *d = arg;
    item it;
    while (weft_chan_recv(d->jobs, &it, WEFT_NEVER) == 0) {
        /* Simulated CPU work: mix the value until work_ns have passed. */
        int64_t until = weft_now() + d->work_ns;
        do
            it.value = (it.value ^ (it.value >> 29)) * 0xbf58476d1ce4e5b9u;
        while (weft_now() < until);
        if (weft_chan_send(d->results, &it, WEFT_NEVER) != 0)
            break;
    }
    if (atomic_fetch_sub(&d->workers_left, 1) == 1)
        weft_chan_close(d->results); /* the last worker out closes */
    return NULL;
}

static void *collector(void *arg)
{
    demo *d = arg;
    item batch[64];
    size_t got;
    while (weft_chan_recv_many(d->results, batch, 64, &got, WEFT_NEVER) == 0) {
        int64_t now = weft_now();
        for (size_t i = 0; i < got; i++)
            weft_histogram_record(d->latency, now - batch[i].born);
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: weft demo [--seconds S] [--workers N] [--capacity C] [--work-ns W] [--json]\n"
               "A producer -> workers -> collector pipeline over bounded channels, with\n"
               "live metrics on a terminal and a final report.\n"
               "  --seconds S   how long the producer runs (default 3)\n"
               "  --workers N   worker threads (default 2, at most 64)\n"
               "  --capacity C  capacity of each channel (default 256)\n"
               "  --work-ns W   simulated work per item in ns (default 2000)\n"
               "  --json        print the report as JSON\n");
}

static bool parse_num(const char *opt, const char *s, double min, double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == 0 || *end != 0 || v < min || v > max) {
        fprintf(stderr, "weft demo: %s wants a number in [%g, %g], got '%s'\n", opt, min, max, s);
        return false;
    }
    *out = v;
    return true;
}

int weft_cmd_demo(int argc, char **argv)
{
    double seconds = 3, workers = 2, capacity = 256, work_ns = 2000;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--seconds") && has) {
            if (!parse_num(a, argv[++i], 0.1, 3600, &seconds))
                return 2;
        } else if (!strcmp(a, "--workers") && has) {
            if (!parse_num(a, argv[++i], 1, MAX_WORKERS, &workers))
                return 2;
        } else if (!strcmp(a, "--capacity") && has) {
            if (!parse_num(a, argv[++i], 1, 1 << 24, &capacity))
                return 2;
        } else if (!strcmp(a, "--work-ns") && has) {
            if (!parse_num(a, argv[++i], 0, 1e9, &work_ns))
                return 2;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "weft demo: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    demo d = {.work_ns = (int64_t)work_ns};
    weft_chan_opts opts = {.elem_size = sizeof(item), .capacity = (size_t)capacity};
    int rc = weft_chan_create(&d.jobs, &opts);
    if (rc == 0 && (rc = weft_chan_create(&d.results, &opts)) != 0)
        weft_chan_destroy(d.jobs);
    if (rc == 0 && (rc = weft_histogram_create(&d.latency, NULL)) != 0) {
        weft_chan_destroy(d.jobs);
        weft_chan_destroy(d.results);
    }
    if (rc != 0) {
        fprintf(stderr, "weft demo: cannot set up the pipeline: %s\n", weft_strerror(rc));
        return 1;
    }
    int nworkers = (int)workers;
    atomic_init(&d.workers_left, nworkers);
    int64_t t0 = weft_now();
    d.stop_at = t0 + (int64_t)(seconds * (double)WEFT_SEC);

    pthread_t prod, coll, work[MAX_WORKERS];
    pthread_create(&prod, NULL, producer, &d);
    for (int i = 0; i < nworkers; i++)
        pthread_create(&work[i], NULL, worker, &d);
    pthread_create(&coll, NULL, collector, &d);

    /* Live metrics: one refreshed line on a terminal, nothing otherwise. */
    if (isatty(STDERR_FILENO)) {
        while (weft_now() < d.stop_at) {
            usleep(200 * 1000);
            weft_chan_stats js, rs;
            weft_chan_stats_get(d.jobs, &js);
            weft_chan_stats_get(d.results, &rs);
            double el = (double)(weft_now() - t0) / 1e9;
            fprintf(stderr,
                    "\r  %4.1fs  produced %10llu  done %10llu  %7.2f k items/s  "
                    "queue %4zu/%zu  p99 %7.1f us ",
                    el, (unsigned long long)js.sends, (unsigned long long)rs.recvs,
                    (double)rs.recvs / el / 1e3, js.depth, js.capacity,
                    (double)weft_histogram_percentile(d.latency, 99) / 1e3);
        }
        fprintf(stderr, "\r%100s\r", "");
    }
    pthread_join(prod, NULL);
    for (int i = 0; i < nworkers; i++)
        pthread_join(work[i], NULL);
    pthread_join(coll, NULL);
    double elapsed = (double)(weft_now() - t0) / 1e9;

    weft_report *r;
    rc = weft_report_create(&r, "weft demo: producer -> workers -> collector");
    if (rc == 0) {
        weft_chan_stats rs;
        weft_chan_stats_get(d.results, &rs);
        weft_report_add_gauge(r, "elapsed", elapsed, "s");
        weft_report_add_gauge(r, "workers", (double)nworkers, NULL);
        weft_report_add_counter(r, "items", rs.recvs);
        weft_report_add_gauge(r, "throughput", (double)rs.recvs / elapsed, "items/s");
        weft_report_add_histogram(r, "latency end to end", d.latency, "ns");
        weft_chan_report(d.jobs, r, "jobs");
        weft_chan_report(d.results, r, "results");
        rc = json ? weft_report_write_json(r, stdout) : weft_report_write_text(r, stdout);
        weft_report_destroy(r);
    }
    weft_histogram_destroy(d.latency);
    weft_chan_destroy(d.jobs);
    weft_chan_destroy(d.results);
    if (rc != 0) {
        fprintf(stderr, "weft demo: cannot write the report: %s\n", weft_strerror(rc));
        return 1;
    }
    return 0;
}
