/* Seed 003 "Concurrence & Parallélisme", exercise B, "multiprocessing avec
 * chunking": turn 400 jobs into 8 chunks of 50 and hand them to Pool.map;
 * compare the total time with and without chunking, to show the cost of a
 * message (and of pickling, in Python) paid per task.
 *
 * The job is the section's cpu_heavy(n): s += sqrt((i*n) % 97) for i below
 * 10 000 (about 20 us here). Without chunking every job is a round trip
 * to a worker process, and a worker that finds the ring empty goes to
 * sleep and must be woken for the next job; with chunks of 50 one round
 * trip carries 50 jobs. A round trip through weft's shared memory costs
 * well under a microsecond when the workers are busy (Python's
 * ProcessPoolExecutor pays about 130 us per task here, `weft bench
 * proc_tiny`), so what chunking saves is mostly those wake-ups; the second
 * part runs jobs of 0.2 us, where the per-message cost is everything. The
 * gains printed are measured.  */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <weft/procpool.h>
#include <weft/time.h>

enum { JOBS = 400, CHUNK = 50 };

static double cpu_heavy(int64_t n, int iterations)
{
    double s = 0.0;
    for (int i = 0; i < iterations; i++)
        s += sqrt((double)((i * n) % 97));
    return s;
}

typedef struct job {
    int64_t n;
    int32_t iterations;
    int32_t pad;
} job;

static int cpu_heavy_task(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    job j;
    if (len != sizeof j)
        return -EINVAL;
    memcpy(&j, arg, sizeof j);
    double s = cpu_heavy(j.n, j.iterations);
    return weft_proc_return(ctx, &s, sizeof s);
}
WEFT_PROC_TASK(cpu_heavy_task);

typedef struct sum {
    double total;
    int n;
} sum;

static int add(void *ctx, size_t index, const void *result, size_t len, int err)
{
    (void)index;
    sum *s = ctx;
    if (err || len != sizeof(double))
        return err ? err : -EPROTO;
    double v;
    memcpy(&v, result, sizeof v);
    s->total += v;
    s->n++;
    return 0;
}

static double timed_map(weft_procpool *pool, const job *jobs, size_t chunksize, sum *out)
{
    weft_procpool_map_opts m = {.task = WEFT_PROC_TASK_REF(cpu_heavy_task),
                                .items = jobs,
                                .count = JOBS,
                                .item_size = sizeof(job),
                                .emit = add,
                                .ctx = out,
                                .chunksize = chunksize};
    int64_t t0 = weft_now();
    int rc = weft_procpool_map(pool, &m);
    return rc < 0 ? -1 : (double)(weft_now() - t0) / 1e6;
}

int main(void)
{
    weft_procpool *pool;
    int rc = weft_procpool_create(&pool, NULL);
    if (rc < 0) {
        fprintf(stderr, "weft_procpool_create: %s\n", weft_strerror(rc));
        return 1;
    }
    int bad = 0;
    const int sizes[] = {10000, 10};
    for (int k = 0; k < 2; k++) {
        job jobs[JOBS];
        double expect = 0;
        for (int i = 0; i < JOBS; i++) {
            jobs[i] = (job){.n = 10 + i, .iterations = sizes[k]};
            expect += cpu_heavy(jobs[i].n, jobs[i].iterations);
        }
        printf("%d jobs of cpu_heavy with %d iterations, %u workers:\n", JOBS, sizes[k],
               weft_procpool_workers(pool));
        /* Twice each, keeping the second: the first warms the workers. */
        sum one = {0}, chunked = {0};
        double t1 = timed_map(pool, jobs, 1, &one);
        one = (sum){0};
        t1 = timed_map(pool, jobs, 1, &one);
        double t50 = timed_map(pool, jobs, CHUNK, &chunked);
        chunked = (sum){0};
        t50 = timed_map(pool, jobs, CHUNK, &chunked);
        printf("  without chunking (400 messages): %8.2f ms\n", t1);
        printf("  chunks of %d (8 messages):       %8.2f ms  (%.2fx)\n", CHUNK, t50, t1 / t50);
        bad += t1 < 0 || t50 < 0 || one.n != JOBS || chunked.n != JOBS ||
               fabs(one.total - expect) > 1e-6 * expect ||
               fabs(chunked.total - expect) > 1e-6 * expect;
    }
    weft_procpool_destroy(pool);
    printf("%s\n", bad ? "WRONG RESULTS" : "Totals checked against a sequential run.");
    return bad ? 1 : 0;
}
