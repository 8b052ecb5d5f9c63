/* Seed 000 "Concurrence et Asyncio", exercise 2, "Traitement CPU avec
 * multiprocessing": sum_of_squares(n) = sum of i*i for i < n, for n in
 * [1M, 2M, 3M, 4M, 5M], sequential versus parallel (the seed's solution
 * uses ProcessPoolExecutor(max_workers=5).map to get around the GIL).
 *
 * C threads have no GIL, so a thread pool is enough: weft_pool_map with
 * one item per task, results in input order. The sums exceed 2^64 (5M^3/3
 * is about 4e19), so they are computed in 128-bit integers, like Python's
 * big ints, and checked against n(n-1)(2n-1)/6. The work is uneven (5M
 * costs five times 1M), so with 2 cores the best possible speedup is
 * 15/8 = 1.9x (one core takes 5M+2M+1M, the other 4M+3M); 5 workers only
 * help on 5 cores. Each sum is computed 20 times so the times are large
 * enough to measure. */
#include <stdint.h>
#include <stdio.h>

#include <weft/pool.h>
#include <weft/time.h>

enum { N_NUMBERS = 5, REPEAT = 20 };

typedef unsigned __int128 u128;

static u128 sum_of_squares(uint64_t n)
{
    u128 total = 0;
    for (int r = 0; r < REPEAT; r++) {
        u128 s = 0;
        /* The opaque bound keeps the compiler from replacing the loop by
         * the closed form (which would leave nothing to parallelize). */
        volatile uint64_t bound = n;
        for (uint64_t i = 0; i < bound; i++)
            s += (u128)i * i;
        total = s;
    }
    return total;
}

static u128 results[N_NUMBERS];

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

static double run_pool(unsigned workers, const uint64_t *numbers)
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
    double s = (double)(weft_now() - t0) / 1e9;
    weft_pool_destroy(pool);
    return rc == 0 ? s : -1;
}

int main(void)
{
    const uint64_t numbers[N_NUMBERS] = {1000000, 2000000, 3000000, 4000000, 5000000};
    printf("=== SEQUENTIAL ===\n");
    int64_t t0 = weft_now();
    for (int i = 0; i < N_NUMBERS; i++)
        results[i] = sum_of_squares(numbers[i]);
    double seq = (double)(weft_now() - t0) / 1e9;
    printf("Time: %.3f s\n", seq);
    int bad = 0;
    for (int i = 0; i < N_NUMBERS; i++) {
        u128 n = numbers[i];
        u128 want = n * (n - 1) * (2 * n - 1) / 6;
        printf("  sum_of_squares(%llu) = ", (unsigned long long)numbers[i]);
        print_u128(results[i]);
        printf("%s\n", results[i] == want ? "" : "  WRONG");
        bad += results[i] != want;
        results[i] = 0;
    }
    printf("\n=== weft_pool_map, 2 workers ===\n");
    double t2 = run_pool(2, numbers);
    printf("Time: %.3f s (speedup %.2fx; best possible on 2 cores: 1.88x)\n", t2, seq / t2);
    printf("\n=== weft_pool_map, 5 workers (the seed's max_workers) ===\n");
    double t5 = run_pool(5, numbers);
    printf("Time: %.3f s (speedup %.2fx)\n", t5, seq / t5);
    for (int i = 0; i < N_NUMBERS; i++) {
        u128 n = numbers[i];
        bad += results[i] != n * (n - 1) * (2 * n - 1) / 6;
    }
    return bad || t2 < 0 || t5 < 0 ? 1 : 0;
}
