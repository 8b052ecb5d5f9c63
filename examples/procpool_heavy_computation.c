/* Seed 000 "Concurrence et Asyncio", section 4, "Multiprocessing : Pour les
 * tâches CPU bound": heavy_computation(n) = sum of i*i for i < n, for n in
 * [5M, 6M, 7M, 8M], sequential versus a pool of 4 processes
 * (mp.Pool(processes=4).map). Each worker prints its pid as the seed's
 * does, so the work is seen to run in other processes.
 *
 * The sums are computed in 128-bit integers (Python's ints do not
 * overflow; 8M^3/3 is above 2^64) and checked against n(n-1)(2n-1)/6; each
 * is computed REPEAT times so that the times are large enough to measure.
 * With 4 tasks on 2 cores the best possible speedup is 26/13 = 2x (5M+8M
 * on one core, 6M+7M on the other). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <weft/procpool.h>
#include <weft/time.h>

enum { N = 4, REPEAT = 30 };
typedef unsigned __int128 u128;

__attribute__((noinline)) static u128 heavy(uint64_t n)
{
    u128 total = 0;
    for (int r = 0; r < REPEAT; r++) {
        u128 s = 0;
        volatile uint64_t bound = n; /* no closed form: really loop */
        for (uint64_t i = 0; i < bound; i++)
            s += (u128)i * i;
        total = s;
    }
    return total;
}

/* The seed's heavy_computation(n), run in a worker. */
static int heavy_computation(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    uint64_t n;
    if (len != sizeof n)
        return -EINVAL;
    memcpy(&n, arg, sizeof n);
    printf("[Process %ld] computing n=%llu\n", (long)getpid(), (unsigned long long)n);
    fflush(stdout);
    u128 s = heavy(n);
    return weft_proc_return(ctx, &s, sizeof s);
}
WEFT_PROC_TASK(heavy_computation);

int main(void)
{
    const uint64_t numbers[N] = {5000000, 6000000, 7000000, 8000000};
    u128 seq_results[N], par_results[N];
    printf("=== SEQUENTIAL (process %ld) ===\n", (long)getpid());
    int64_t t0 = weft_now();
    for (int i = 0; i < N; i++)
        seq_results[i] = heavy(numbers[i]);
    double seq = (double)(weft_now() - t0) / 1e9;
    printf("Time: %.2f s\n\n=== PROCESS POOL, 4 workers ===\n", seq);
    fflush(stdout); /* before the workers write to the same stdout */

    weft_procpool *pool;
    weft_procpool_opts opts = {.workers = 4};
    int rc = weft_procpool_create(&pool, &opts);
    if (rc < 0) {
        fprintf(stderr, "weft_procpool_create: %s\n", weft_strerror(rc));
        return 1;
    }
    t0 = weft_now();
    weft_future *fs[N];
    for (int i = 0; i < N && rc == 0; i++)
        rc = weft_procpool_submit(pool, WEFT_PROC_TASK_REF(heavy_computation), &numbers[i],
                                  sizeof numbers[i], WEFT_NEVER, &fs[i]);
    for (int i = 0; i < N && rc == 0; i++) {
        weft_value v;
        rc = weft_future_result(fs[i], WEFT_NEVER, &v);
        memcpy(&par_results[i], v.bytes, sizeof par_results[i]);
        weft_future_unref(fs[i]);
    }
    double par = (double)(weft_now() - t0) / 1e9;
    weft_procpool_destroy(pool);
    if (rc < 0) {
        fprintf(stderr, "task: %s\n", weft_strerror(rc));
        return 1;
    }
    printf("Time: %.2f s\n\n", par);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        u128 n = numbers[i];
        bad += seq_results[i] != par_results[i] || par_results[i] != n * (n - 1) * (2 * n - 1) / 6;
    }
    printf("Gain: %.1fx faster with the process pool (best possible on 2 cores: 2.0x)\n",
           seq / par);
    printf("CPUs available: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("%s\n", bad ? "WRONG RESULTS" : "Results checked against n(n-1)(2n-1)/6.");
    return bad ? 1 : 0;
}
