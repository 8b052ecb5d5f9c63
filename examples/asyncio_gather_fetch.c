/* Seed 000 section 5, "Asyncio : Programmation asynchrone": five simulated
 * API calls (each sleeps 0.5-1.5 s) as tasks of one event loop, awaited
 * with gather; then download_all, three URLs of 0.5 s each. On one thread
 * the total is the longest call, not the sum: while a task waits, the
 * others run. */
#include <stdio.h>
#include <stdlib.h>

#include <weft/loop.h>
#include <weft/time.h>

static double latency[5];

/* The seed's fetch_data_async(api_id). */
static int fetch_data_async(void *arg, weft_value *result)
{
    int id = (int)(intptr_t)arg;
    printf("[task] fetch API %d...\n", id);
    int rc = weft_sleep_for((int64_t)(latency[id] * 1e9)); /* await asyncio.sleep */
    printf("[task] API %d done\n", id);
    result->i64 = id;
    return rc;
}

static int fetch_url_async(void *arg, weft_value *result)
{
    (void)arg;
    result->i64 = 1;
    return weft_sleep_for(500 * WEFT_MSEC);
}

static int main_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    printf("=== ASYNCIO VERSION (weft tasks) ===\n");
    int64_t t0 = weft_now();
    weft_future *tasks[5];
    for (intptr_t i = 0; i < 5; i++)
        if (weft_spawn(NULL, fetch_data_async, (void *)i, NULL, &tasks[i]) < 0)
            return -1;
    weft_value results[5];
    int rc = weft_gather(tasks, 5, WEFT_NEVER, results, NULL);
    double total = (double)(weft_now() - t0) / 1e9, longest = 0, sum = 0;
    for (int i = 0; i < 5; i++) {
        weft_future_unref(tasks[i]);
        sum += latency[i];
        longest = latency[i] > longest ? latency[i] : longest;
    }
    printf("\nTotal time: %.2f s for 5 APIs (sum of latencies %.2f s, longest %.2f s)\n", total,
           sum, longest);

    /* download_all(urls) */
    const char *urls[] = {"https://api.example.com/endpoint1", "https://api.example.com/endpoint2",
                          "https://api.example.com/endpoint3"};
    t0 = weft_now();
    weft_future *dl[3];
    for (int i = 0; i < 3; i++)
        if (weft_spawn(NULL, fetch_url_async, (void *)urls[i], NULL, &dl[i]) < 0)
            return -1;
    int rc2 = weft_gather(dl, 3, WEFT_NEVER, NULL, NULL);
    for (int i = 0; i < 3; i++)
        weft_future_unref(dl[i]);
    printf("%d URLs downloaded in %.2f s (0.5 s each)\n", 3, (double)(weft_now() - t0) / 1e9);
    if (rc < 0 || rc2 < 0 || total > longest + 0.25)
        return -1;
    return 0;
}

int main(void)
{
    unsigned seed = 7;
    for (int i = 0; i < 5; i++)
        latency[i] = 0.5 + rand_r(&seed) / (double)RAND_MAX;
    return weft_run(main_task, NULL, NULL, NULL) == 0 ? 0 : 1;
}
