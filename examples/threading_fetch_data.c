/* Seed 000 "Concurrence et Asyncio", section 3, "Threading : Pour les
 * tâches I/O bound": fetch_data(api_id) simulates an API call with 0.5-2 s
 * of network latency (time.sleep(random.uniform(0.5, 2))); five calls one
 * after the other, then five at once on threads, and the gain.
 *
 * The threads are a weft_pool of five workers; each call is a task whose
 * future holds its result (the seed appends to a shared list from a
 * lambda; a future per call keeps the results in call order without a
 * lock). The latency is a real sleep, as in the seed: while a thread sleeps
 * on I/O the others run, which is why threads help for I/O-bound work even
 * in CPython. The same random latencies are used by both versions. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weft/future.h>
#include <weft/pool.h>
#include <weft/time.h>

enum { N_CALLS = 5 };

static double latency[N_CALLS];
static char results[N_CALLS][32];

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static const char *thread_name(char *buf, size_t len)
{
    if (pthread_getname_np(pthread_self(), buf, len) != 0)
        snprintf(buf, len, "?");
    return buf;
}

/* The seed's fetch_data(). */
static int fetch_data(void *arg, weft_value *out)
{
    int api_id = (int)(intptr_t)arg;
    char name[16];
    printf("[Thread %s] Fetch API %d...\n", thread_name(name, sizeof name), api_id);
    fflush(stdout);
    sleep_seconds(latency[api_id]);
    printf("[Thread %s] API %d done (%.2f s)\n", thread_name(name, sizeof name), api_id,
           latency[api_id]);
    fflush(stdout);
    snprintf(results[api_id], sizeof results[api_id], "Data from API %d", api_id);
    out->ptr = results[api_id];
    return 0;
}

int main(void)
{
    unsigned seed = 42;
    for (int i = 0; i < N_CALLS; i++)
        latency[i] = 0.5 + 1.5 * rand_r(&seed) / (double)RAND_MAX;

    printf("=== SEQUENTIAL ===\n");
    int64_t t0 = weft_now();
    for (int i = 0; i < N_CALLS; i++) {
        weft_value v;
        fetch_data((void *)(intptr_t)i, &v);
    }
    double seq = (double)(weft_now() - t0) / 1e9;
    printf("Total time: %.2f s\n\n", seq);

    printf("=== THREADS (weft_pool, %d workers) ===\n", N_CALLS);
    weft_pool *pool;
    weft_pool_opts opts = {.workers = N_CALLS, .name = "fetch"};
    if (weft_pool_create(&pool, &opts) != 0)
        return 1;
    t0 = weft_now();
    weft_future *fs[N_CALLS];
    for (int i = 0; i < N_CALLS; i++)
        if (weft_pool_submit(pool, fetch_data, (void *)(intptr_t)i, WEFT_NEVER, &fs[i]) != 0)
            return 1;
    int ok = 0;
    for (int i = 0; i < N_CALLS; i++) {
        weft_value v;
        if (weft_future_result(fs[i], WEFT_NEVER, &v) == 0 && v.ptr == results[i])
            ok++;
        weft_future_unref(fs[i]);
    }
    double threaded = (double)(weft_now() - t0) / 1e9;
    weft_pool_destroy(pool);
    double longest = 0;
    for (int i = 0; i < N_CALLS; i++)
        longest = latency[i] > longest ? latency[i] : longest;
    printf("Total time: %.2f s (the longest call alone: %.2f s)\n", threaded, longest);
    printf("%d/%d results, e.g. \"%s\"\n", ok, N_CALLS, results[0]);
    printf("\nGain: %.1fx faster with threads\n", seq / threaded);
    return ok == N_CALLS ? 0 : 1;
}
