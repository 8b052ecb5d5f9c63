/* Seed 000 "Concurrence et Asyncio", section 2, "Le GIL (Global
 * Interpreter Lock)": the same CPU-bound loop run twice in a row, then on
 * two threads at once. In CPython the threaded version is no faster (often
 * slower): the GIL lets one thread run bytecode at a time.
 *
 * C has no GIL: two threads run the loop on two cores at the same time, so
 * the threaded version takes about half the time of the sequential one on a
 * machine with two free cores. The loop is a multiply-add chain whose result
 * is printed, so the compiler must really run every iteration (a plain
 * `count += 1` loop would be folded into one addition). The threads here
 * are a weft_pool's two workers; the speedup printed is measured, and on a
 * busy machine it shows how many cores were really free. */
#include <stdint.h>
#include <stdio.h>

#include <weft/future.h>
#include <weft/pool.h>
#include <weft/time.h>

enum { ITERATIONS = 200 * 1000 * 1000 };

/* The seed's cpu_intensive(): a count to ITERATIONS, here through a chain
 * of dependent multiply-adds (about one per cycle). */
static uint64_t cpu_intensive(uint64_t seed)
{
    uint64_t x = seed;
    for (long i = 0; i < ITERATIONS; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

static int cpu_task(void *arg, weft_value *out)
{
    out->u64 = cpu_intensive((uint64_t)(uintptr_t)arg);
    return 0;
}

int main(void)
{
    int64_t t0 = weft_now();
    uint64_t a = cpu_intensive(1);
    uint64_t b = cpu_intensive(2);
    double sequential = (double)(weft_now() - t0) / 1e9;
    printf("Sequential (2 x %d iterations): %.3f s\n", ITERATIONS, sequential);

    weft_pool *pool;
    weft_pool_opts opts = {.workers = 2, .name = "gil-demo"};
    int rc = weft_pool_create(&pool, &opts);
    if (rc != 0) {
        fprintf(stderr, "weft_pool_create: %s\n", weft_strerror(rc));
        return 1;
    }
    t0 = weft_now();
    weft_future *f1, *f2;
    weft_pool_submit(pool, cpu_task, (void *)(uintptr_t)1, WEFT_NEVER, &f1);
    weft_pool_submit(pool, cpu_task, (void *)(uintptr_t)2, WEFT_NEVER, &f2);
    weft_value r1, r2;
    int rc1 = weft_future_result(f1, WEFT_NEVER, &r1);
    int rc2 = weft_future_result(f2, WEFT_NEVER, &r2);
    double threaded = (double)(weft_now() - t0) / 1e9;
    weft_future_unref(f1);
    weft_future_unref(f2);
    weft_pool_destroy(pool);
    if (rc1 || rc2 || r1.u64 != a || r2.u64 != b) {
        fprintf(stderr, "threads computed something else\n");
        return 1;
    }
    printf("2 threads (weft_pool, 2 workers):   %.3f s\n", threaded);
    printf("Speedup: %.2fx (CPython with the GIL: about 1x or worse)\n", sequential / threaded);
    printf("C has no interpreter lock: both threads run the loop on their own core at once.\n");
    printf("A speedup well below 2 means the machine had fewer than two free cores.\n");
    printf("(results %016llx %016llx)\n", (unsigned long long)a, (unsigned long long)b);
    return 0;
}
