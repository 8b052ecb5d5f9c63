/* Seed 000 "Concurrence et Asyncio", section 3, "ThreadPoolExecutor :
 * Interface moderne": scrape 6 URLs (simulated: 0.3-1 s each) on a pool of
 * 3 workers, submitting them all and handling each result as it completes
 * (concurrent.futures.as_completed).
 *
 * weft_pool_submit() returns a weft_future per URL; weft_as_completed
 * yields their indices in completion order. As in the seed, the total is
 * about two rounds of the slowest scrapes, not the sum of all six. Each
 * result is a small struct allocated by the task and freed by the reader,
 * since a future's value only carries a pointer. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weft/future.h>
#include <weft/pool.h>
#include <weft/time.h>

enum { N_URLS = 6, WORKERS = 3 };

static const char *urls[N_URLS] = {
    "https://api.example.com/products/1", "https://api.example.com/products/2",
    "https://api.example.com/products/3", "https://api.example.com/products/4",
    "https://api.example.com/products/5", "https://api.example.com/products/6",
};

typedef struct scrape_result {
    const char *url;
    int status;
    int content_length;
    double seconds;
} scrape_result;

typedef struct job {
    const char *url;
    double latency;
    int content_length;
} job;

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The seed's scrape_url(). */
static int scrape_url(void *arg, weft_value *out)
{
    job *j = arg;
    sleep_seconds(j->latency);
    scrape_result *r = malloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    *r = (scrape_result){j->url, 200, j->content_length, j->latency};
    out->ptr = r;
    return 0;
}

int main(void)
{
    unsigned seed = 7;
    job jobs[N_URLS];
    double sum = 0;
    for (int i = 0; i < N_URLS; i++) {
        jobs[i].url = urls[i];
        jobs[i].latency = 0.3 + 0.7 * rand_r(&seed) / (double)RAND_MAX;
        jobs[i].content_length = 1000 + rand_r(&seed) % 49001;
        sum += jobs[i].latency;
    }
    printf("Scraping with a weft_pool of %d workers...\n\n", WORKERS);
    int64_t t0 = weft_now();
    weft_pool *pool;
    weft_pool_opts opts = {.workers = WORKERS, .name = "scrape"};
    if (weft_pool_create(&pool, &opts) != 0)
        return 1;
    weft_future *fs[N_URLS];
    for (int i = 0; i < N_URLS; i++)
        if (weft_pool_submit(pool, scrape_url, &jobs[i], WEFT_NEVER, &fs[i]) != 0)
            return 1;
    weft_as_completed *it;
    if (weft_as_completed_create(&it, fs, N_URLS) != 0)
        return 1;
    size_t i;
    int done = 0;
    while (weft_as_completed_next(it, WEFT_NEVER, &i) == 0) {
        weft_value v;
        int rc = weft_future_result(fs[i], WEFT_NOW, &v);
        if (rc == 0) {
            scrape_result *r = v.ptr;
            printf("ok %s: %d bytes (%.2f s, after %.2f s)\n", r->url, r->content_length,
                   r->seconds, (double)(weft_now() - t0) / 1e9);
            free(r);
            done++;
        } else {
            printf("failed %s: %s\n", urls[i], weft_strerror(rc));
        }
    }
    weft_as_completed_destroy(it);
    for (int k = 0; k < N_URLS; k++)
        weft_future_unref(fs[k]);
    weft_pool_destroy(pool);
    printf("\nTotal time: %.2f s (sequential would be %.2f s)\n", (double)(weft_now() - t0) / 1e9,
           sum);
    printf("With %d URLs and %d workers\n", N_URLS, WORKERS);
    return done == N_URLS ? 0 : 1;
}
