/* Seed 000 "Concurrence et Asyncio", section 4, "ProcessPoolExecutor :
 * Interface moderne": statistics (mean, std, sum, size) of 10 million
 * random doubles, cut into 4 chunks processed by 4 worker processes; and
 * seed 003's advice, "voir aussi shared_memory (tableaux partagés) pour
 * limiter les copies".
 *
 * The data lives in a named shared memory segment (weft/shm.h): a task's
 * argument is only the segment's name and its chunk's bounds, and the
 * worker reads the doubles where they are. The second run sends each chunk
 * as the task's argument instead (the way Python pickles numpy chunks into
 * the pipe): the same results, and the time of the copy is the
 * difference. Both are checked against a sequential pass. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/procpool.h>
#include <weft/shm.h>
#include <weft/time.h>

enum { N = 10000000, CHUNKS = 4 };

typedef struct stats {
    double mean, std, sum, size;
} stats;

static stats compute(const double *x, size_t n)
{
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sq += (x[i] - mean) * (x[i] - mean);
    return (stats){mean, sqrt(sq / (double)n), sum, (double)n};
}

/* By reference: the chunk is read in the shared segment. */
typedef struct chunk_ref {
    char name[WEFT_SHM_NAME_MAX + 1];
    uint64_t first, count;
} chunk_ref;

static int chunk_stats_shared(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    chunk_ref r;
    if (len != sizeof r)
        return -EINVAL;
    memcpy(&r, arg, sizeof r);
    /* Each worker maps the segment once and keeps it. */
    static weft_shm *seg;
    static char seg_name[WEFT_SHM_NAME_MAX + 1];
    if (!seg || strcmp(seg_name, r.name) != 0) {
        weft_shm_destroy(seg);
        seg = NULL;
        int rc = weft_shm_array_open(&seg, r.name, sizeof(double), NULL);
        if (rc < 0)
            return rc;
        snprintf(seg_name, sizeof seg_name, "%s", r.name);
    }
    size_t count;
    const double *x = weft_shm_array_data(seg, sizeof(double), &count);
    if (r.first + r.count > count)
        return -ERANGE;
    stats s = compute(x + r.first, (size_t)r.count);
    return weft_proc_return(ctx, &s, sizeof s);
}
WEFT_PROC_TASK(chunk_stats_shared);

/* By value: the chunk's doubles are the argument. */
static int chunk_stats_copied(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    stats s = compute(arg, len / sizeof(double));
    return weft_proc_return(ctx, &s, sizeof s);
}
WEFT_PROC_TASK(chunk_stats_copied);

static double normal(uint64_t *state)
{
    /* xorshift64* and Box-Muller: np.random.randn's distribution. */
    double u[2];
    for (int i = 0; i < 2; i++) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        u[i] = ((double)((*state * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static int run(weft_procpool *pool, const weft_shm *seg, const double *x, bool shared,
               stats out[CHUNKS], double *ms)
{
    weft_future *fs[CHUNKS];
    int rc = 0;
    int64_t t0 = weft_now();
    for (int c = 0; c < CHUNKS && rc == 0; c++) {
        uint64_t first = (uint64_t)N * c / CHUNKS, end = (uint64_t)N * (c + 1) / CHUNKS;
        if (shared) {
            chunk_ref r = {.first = first, .count = end - first};
            snprintf(r.name, sizeof r.name, "%s", weft_shm_name(seg));
            rc = weft_procpool_submit(pool, WEFT_PROC_TASK_REF(chunk_stats_shared), &r, sizeof r,
                                      WEFT_NEVER, &fs[c]);
        } else {
            rc = weft_procpool_submit(pool, WEFT_PROC_TASK_REF(chunk_stats_copied), x + first,
                                      (end - first) * sizeof(double), WEFT_NEVER, &fs[c]);
        }
    }
    for (int c = 0; c < CHUNKS && rc == 0; c++) {
        const void *data;
        size_t len;
        weft_future_wait(fs[c], WEFT_NEVER);
        rc = weft_procpool_result(fs[c], &data, &len);
        if (rc == 0)
            memcpy(&out[c], data, sizeof out[c]);
        weft_future_unref(fs[c]);
    }
    *ms = (double)(weft_now() - t0) / 1e6;
    return rc;
}

int main(void)
{
    weft_shm *seg;
    int rc = weft_shm_array_create(&seg, NULL, sizeof(double), N);
    if (rc < 0) {
        fprintf(stderr, "weft_shm_array_create: %s\n", weft_strerror(rc));
        return 1;
    }
    double *x = WEFT_SHM_ARRAY(seg, double);
    uint64_t state = 42;
    for (size_t i = 0; i < N; i++)
        x[i] = normal(&state);
    printf("Dataset: %d values in shared memory %s\nChunks: %d of ~%d values\n\n", N,
           weft_shm_name(seg), CHUNKS, N / CHUNKS);
    stats want[CHUNKS];
    int64_t t0 = weft_now();
    for (int c = 0; c < CHUNKS; c++) {
        size_t first = (size_t)N * c / CHUNKS, end = (size_t)N * (c + 1) / CHUNKS;
        want[c] = compute(x + first, end - first);
    }
    printf("Sequential, in this process:        %7.1f ms\n", (double)(weft_now() - t0) / 1e6);
    weft_procpool *pool;
    weft_procpool_opts opts = {.workers = CHUNKS};
    if ((rc = weft_procpool_create(&pool, &opts)) < 0) {
        fprintf(stderr, "weft_procpool_create: %s\n", weft_strerror(rc));
        return 1;
    }
    int bad = 0;
    stats got[CHUNKS];
    for (int shared = 1; shared >= 0; shared--) {
        double ms, best = 1e30;
        for (int rep = 0; rep < 3 && rc == 0; rep++) { /* the first maps the segment */
            rc = run(pool, seg, x, shared, got, &ms);
            best = ms < best ? ms : best;
        }
        printf("%s %7.1f ms\n",
               shared ? "4 workers, chunks read in place:   " : "4 workers, chunks copied as args:  ",
               best);
        for (int c = 0; c < CHUNKS && rc == 0; c++)
            bad += fabs(got[c].mean - want[c].mean) > 1e-12 ||
                   fabs(got[c].std - want[c].std) > 1e-12 || got[c].size != want[c].size;
    }
    printf("\nResults by chunk:\n");
    for (int c = 0; c < CHUNKS; c++)
        printf("  Chunk %d: mean=%.4f, std=%.4f, sum=%.1f, size=%.0f\n", c, got[c].mean,
               got[c].std, got[c].sum, got[c].size);
    weft_procpool_destroy(pool);
    weft_shm_unlink(weft_shm_name(seg));
    weft_shm_destroy(seg);
    if (rc < 0)
        fprintf(stderr, "task: %s\n", weft_strerror(rc));
    printf("%s\n", rc || bad ? "WRONG RESULTS" : "Checked against the sequential pass.");
    return rc || bad ? 1 : 0;
}
