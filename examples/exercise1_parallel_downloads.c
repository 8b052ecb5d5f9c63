/* Seed 000 "Concurrence et Asyncio", exercise 1, "Téléchargement
 * parallèle": simulate downloading 10 files (sleep random 0.5-2 s each),
 * sequential versus threads (the seed's solution: ThreadPoolExecutor with
 * max_workers=5 and executor.map), with a timing table.
 *
 * The threaded rows use weft_pool_map, which returns results in input
 * order like executor.map, with 5 and then 10 workers: with 5 workers the
 * time is about the longest sum of two downloads a worker gets, with 10
 * about the longest single download. The asyncio row runs the ten
 * downloads as tasks of one event loop, on one thread, gathered: about the
 * longest single download too, with no thread per download. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weft/loop.h>
#include <weft/pool.h>
#include <weft/time.h>

enum { N_FILES = 10 };

static double latency[N_FILES];

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The seed's download_file(file_id). */
static int download_file(void *ctx, size_t index, const void *item, weft_value *out)
{
    (void)ctx;
    (void)index;
    int id = *(const int *)item;
    sleep_seconds(latency[id]);
    out->i64 = id; /* "file_<id>.dat" */
    return 0;
}

typedef struct check {
    int n, in_order;
} check;

static int collect(void *ctx, size_t index, weft_value v, int err)
{
    check *c = ctx;
    if (err == 0 && v.i64 == (int64_t)index)
        c->in_order++;
    c->n++;
    return 0;
}

static double with_pool(unsigned workers, const int *ids, int *ok)
{
    weft_pool *pool;
    weft_pool_opts opts = {.workers = workers, .name = "download"};
    if (weft_pool_create(&pool, &opts) != 0)
        return -1;
    check c = {0, 0};
    weft_pool_map_opts m = {.items = ids,
                            .count = N_FILES,
                            .item_size = sizeof(int),
                            .fn = download_file,
                            .emit = collect,
                            .ctx = &c,
                            .max_in_flight = N_FILES};
    int64_t t0 = weft_now();
    int rc = weft_pool_map(pool, &m, NULL);
    double s = (double)(weft_now() - t0) / 1e9;
    weft_pool_destroy(pool);
    *ok = rc == 0 && c.in_order == N_FILES;
    return s;
}

/* The seed's download_file_async(file_id). */
static int download_file_async(void *arg, weft_value *out)
{
    int id = (int)(intptr_t)arg;
    out->i64 = id;
    return weft_sleep_for((int64_t)(latency[id] * 1e9));
}

static int gather_downloads(void *arg, weft_value *out)
{
    (void)out;
    int *ok = arg;
    weft_future *fs[N_FILES];
    for (intptr_t i = 0; i < N_FILES; i++)
        if (weft_spawn(NULL, download_file_async, (void *)i, NULL, &fs[i]) < 0)
            return -1;
    weft_value vs[N_FILES];
    int rc = weft_gather(fs, N_FILES, WEFT_NEVER, vs, NULL);
    *ok = rc == 0;
    for (int i = 0; i < N_FILES; i++) {
        *ok &= vs[i].i64 == i;
        weft_future_unref(fs[i]);
    }
    return rc;
}

int main(void)
{
    unsigned seed = 2024;
    int ids[N_FILES];
    double sum = 0, longest = 0;
    for (int i = 0; i < N_FILES; i++) {
        ids[i] = i;
        latency[i] = 0.5 + 1.5 * rand_r(&seed) / (double)RAND_MAX;
        sum += latency[i];
        longest = latency[i] > longest ? latency[i] : longest;
    }
    printf("=== SEQUENTIAL ===\n");
    int64_t t0 = weft_now();
    for (int i = 0; i < N_FILES; i++) {
        weft_value v;
        download_file(NULL, (size_t)i, &ids[i], &v);
    }
    double seq = (double)(weft_now() - t0) / 1e9;
    printf("Time: %.2f s\n\n", seq);
    int ok5, ok10;
    printf("=== THREADS (weft_pool_map, 5 workers) ===\n");
    double t5 = with_pool(5, ids, &ok5);
    printf("Time: %.2f s\n\n", t5);
    printf("=== THREADS (weft_pool_map, 10 workers) ===\n");
    double t10 = with_pool(10, ids, &ok10);
    printf("Time: %.2f s\n\n", t10);

    printf("=== ASYNCIO (weft tasks on one loop) ===\n");
    int ok_async = 0;
    t0 = weft_now();
    weft_run(gather_downloads, &ok_async, NULL, NULL);
    double ta = (double)(weft_now() - t0) / 1e9;
    printf("Time: %.2f s\n\n", ta);

    printf("| %-22s | %8s | %7s |\n", "version", "time (s)", "speedup");
    printf("|------------------------|----------|---------|\n");
    printf("| %-22s | %8.2f | %6.1fx |\n", "sequential", seq, 1.0);
    printf("| %-22s | %8.2f | %6.1fx |\n", "threads, 5 workers", t5, seq / t5);
    printf("| %-22s | %8.2f | %6.1fx |\n", "threads, 10 workers", t10, seq / t10);
    printf("| %-22s | %8.2f | %6.1fx |\n", "asyncio (weft tasks)", ta, seq / ta);
    printf("(sum of latencies %.2f s, longest %.2f s)\n", sum, longest);
    return ok5 && ok10 && ok_async ? 0 : 1;
}
