/* Seed 000 "Concurrence et Asyncio", exercise 2, "Traitement CPU avec
 * multiprocessing": sum_of_squares(n) = sum of i*i for i < n, for n in
 * [1M, 2M, 3M, 4M, 5M], sequential versus parallel (the seed's solution:
 * ProcessPoolExecutor(max_workers=5).map, to get around the GIL).
 *
 * Rows:
 *   - sequential;
 *   - threads: C has no GIL, so a thread pool (weft_pool_map) is enough;
 *   - processes, the seed's way: weft_procpool, one task per number, 5
 *     workers;
 *   - processes, balanced: the same sums cut into ranges of 250k numbers
 *     (weft_procpool_map), for 1 to N workers: the speedup curve.
 * The work is uneven (5M costs five times 1M): with one task per number
 * and 2 cores the best possible speedup is 15/8 = 1.88x (one core takes
 * 5M+2M+1M, the other 4M+3M); cutting the sums into ranges removes that
 * limit. The sums exceed 2^64 (5M^3/3 is about 4e19), so they are computed
 * in 128-bit integers, like Python's big ints, and checked against
 * n(n-1)(2n-1)/6. Each sum is computed REPEAT times so the times are large
 * enough to measure. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <weft/pool.h>
#include <weft/procpool.h>
#include <weft/time.h>

enum { N_NUMBERS = 5, REPEAT = 60, RANGE = 250000 };

typedef unsigned __int128 u128;

/* sum of i*i for lo <= i < hi, computed REPEAT times. */
__attribute__((noinline)) static u128 sum_range(uint64_t lo, uint64_t hi)
{
    u128 total = 0;
    for (int r = 0; r < REPEAT; r++) {
        u128 s = 0;
        /* The opaque bound keeps the compiler from replacing the loop by
         * the closed form (which would leave nothing to parallelize). */
        volatile uint64_t bound = hi;
        for (uint64_t i = lo; i < bound; i++)
            s += (u128)i * i;
        total = s;
    }
    return total;
}

static u128 sum_of_squares(uint64_t n)
{
    return sum_range(0, n);
}

/* ---- processes: the tasks --------------------------------------------------- */

/* The seed's task: one number in, its sum out (16 bytes: the future's
 * value holds it whole). */
static int sum_of_squares_task(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    uint64_t n;
    if (len != sizeof n)
        return -EINVAL;
    memcpy(&n, arg, sizeof n);
    u128 s = sum_of_squares(n);
    return weft_proc_return(ctx, &s, sizeof s);
}
WEFT_PROC_TASK(sum_of_squares_task);

typedef struct range {
    uint64_t lo, hi;
    int number; /* which of the five sums it belongs to */
} range;

static int sum_range_task(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    range r;
    if (len != sizeof r)
        return -EINVAL;
    memcpy(&r, arg, sizeof r);
    u128 s = sum_range(r.lo, r.hi);
    return weft_proc_return(ctx, &s, sizeof s);
}
WEFT_PROC_TASK(sum_range_task);

/* ---- rows ---------------------------------------------------------------------- */

static const uint64_t numbers[N_NUMBERS] = {1000000, 2000000, 3000000, 4000000, 5000000};
static u128 results[N_NUMBERS];

static void print_u128(u128 x)
{
    char buf[48];
    int i = 47;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + (int)(x % 10));
        x /= 10;
    } while (x);
    fputs(buf + i, stdout);
}

static int check(void)
{
    int bad = 0;
    for (int i = 0; i < N_NUMBERS; i++) {
        u128 n = numbers[i];
        bad += results[i] != n * (n - 1) * (2 * n - 1) / 6;
        results[i] = 0;
    }
    return bad;
}

static double seconds_since(int64_t t0)
{
    return (double)(weft_now() - t0) / 1e9;
}

static int square_sum_item(void *ctx, size_t index, const void *item, weft_value *out)
{
    (void)ctx;
    (void)out;
    results[index] = sum_of_squares(*(const uint64_t *)item);
    return 0;
}

static int ignore(void *ctx, size_t index, weft_value v, int err)
{
    (void)ctx;
    (void)index;
    (void)v;
    return err;
}

static double run_threads(unsigned workers)
{
    weft_pool *pool;
    weft_pool_opts opts = {.workers = workers, .name = "squares"};
    if (weft_pool_create(&pool, &opts) != 0)
        return -1;
    weft_pool_map_opts m = {.items = numbers,
                            .count = N_NUMBERS,
                            .item_size = sizeof(uint64_t),
                            .fn = square_sum_item,
                            .emit = ignore,
                            .max_in_flight = N_NUMBERS};
    int64_t t0 = weft_now();
    int rc = weft_pool_map(pool, &m, NULL);
    double s = seconds_since(t0);
    weft_pool_destroy(pool);
    return rc == 0 ? s : -1;
}

/* The seed's solution: executor.map(sum_of_squares, numbers). */
static double run_processes(unsigned workers)
{
    weft_procpool *pool;
    weft_procpool_opts opts = {.workers = workers};
    if (weft_procpool_create(&pool, &opts) != 0)
        return -1;
    weft_future *fs[N_NUMBERS];
    int rc = 0;
    int64_t t0 = weft_now();
    for (int i = 0; i < N_NUMBERS && rc == 0; i++)
        rc = weft_procpool_submit(pool, WEFT_PROC_TASK_REF(sum_of_squares_task), &numbers[i],
                                  sizeof numbers[i], WEFT_NEVER, &fs[i]);
    for (int i = 0; i < N_NUMBERS && rc == 0; i++) {
        weft_value v;
        rc = weft_future_result(fs[i], WEFT_NEVER, &v);
        memcpy(&results[i], v.bytes, sizeof results[i]);
        weft_future_unref(fs[i]);
    }
    double s = seconds_since(t0);
    weft_procpool_destroy(pool);
    return rc == 0 ? s : -1;
}

static range ranges[64];
static size_t n_ranges;

static int add_range(void *ctx, size_t index, const void *result, size_t len, int err)
{
    (void)ctx;
    if (err || len != sizeof(u128))
        return err ? err : -EPROTO;
    u128 s;
    memcpy(&s, result, sizeof s);
    results[ranges[index].number] += s;
    return 0;
}

static double run_ranges(unsigned workers)
{
    weft_procpool *pool;
    weft_procpool_opts opts = {.workers = workers};
    if (weft_procpool_create(&pool, &opts) != 0)
        return -1;
    weft_procpool_map_opts m = {.task = WEFT_PROC_TASK_REF(sum_range_task),
                                .items = ranges,
                                .count = n_ranges,
                                .item_size = sizeof(range),
                                .emit = add_range,
                                .unordered = true};
    int64_t t0 = weft_now();
    int rc = weft_procpool_map(pool, &m);
    double s = seconds_since(t0);
    weft_procpool_destroy(pool);
    return rc == 0 ? s : -1;
}

int main(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("=== SEQUENTIAL ===\n");
    /* The best of two runs: the first also warms the CPU up. */
    double seq = 0;
    for (int run = 0; run < 2; run++) {
        int64_t t0 = weft_now();
        for (int i = 0; i < N_NUMBERS; i++)
            results[i] = sum_of_squares(numbers[i]);
        double s = seconds_since(t0);
        if (run == 0 || s < seq)
            seq = s;
    }
    printf("Time: %.3f s\n", seq);
    for (int i = 0; i < N_NUMBERS; i++) {
        printf("  sum_of_squares(%llu) = ", (unsigned long long)numbers[i]);
        print_u128(results[i]);
        printf("\n");
    }
    int bad = check();

    printf("\n=== threads: weft_pool_map, 2 workers (C has no GIL) ===\n");
    double t = run_threads(2);
    printf("Time: %.3f s (speedup %.2fx; best possible on 2 cores: 1.88x)\n", t, seq / t);
    bad += t < 0 || check();

    printf("\n=== processes, the seed's way: one task per number, 5 workers ===\n");
    t = run_processes(5);
    printf("Time: %.3f s (speedup %.2fx; best possible on 2 cores: 1.88x)\n", t, seq / t);
    bad += t < 0 || check();

    for (int i = 0; i < N_NUMBERS; i++)
        for (uint64_t lo = 0; lo < numbers[i]; lo += RANGE)
            ranges[n_ranges++] = (range){lo, lo + RANGE < numbers[i] ? lo + RANGE : numbers[i], i};
    printf("\n=== processes, balanced: %zu ranges of %d numbers, speedup by workers (%ld CPUs) "
           "===\n",
           n_ranges, RANGE, cpus);
    long top = cpus > 4 ? cpus : 4;
    for (long w = 1; w <= top; w++) {
        t = run_ranges((unsigned)w);
        printf("  %2ld worker%s: %.3f s, speedup %.2fx\n", w, w > 1 ? "s" : " ", t, seq / t);
        bad += t < 0 || check();
    }
    printf("\n%s\n", bad ? "WRONG RESULTS" : "All sums checked against n(n-1)(2n-1)/6.");
    return bad ? 1 : 0;
}
