/* Process pool kernels for `weft bench`: a tiny task's round trip through
 * a worker process, unchunked, and a chunked map, against Python's
 * ProcessPoolExecutor.map and multiprocessing.Pool.map (the seeds' tools,
 * in bench/peers/py_peer.py). The pool (its zygote and workers, one per
 * CPU) is started before the clock starts, as the peers' pools are. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weft/procpool.h>

#include "bench/bench.h"

static int bench_square(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    int64_t x;
    if (len != sizeof x)
        return -EINVAL;
    memcpy(&x, arg, sizeof x);
    x *= x;
    return weft_proc_return(ctx, &x, sizeof x);
}
WEFT_PROC_TASK(bench_square);

enum { WINDOW = 4096 }; /* futures kept at once by proc_tiny */

/* One op: submit a tiny task (its future kept), run it in a worker, get
 * its result back. */
static double proc_tiny(long n)
{
    weft_procpool *p;
    int rc = weft_procpool_create(&p, NULL);
    if (rc < 0)
        return rc;
    weft_future **fs = calloc(WINDOW, sizeof *fs);
    if (!fs) {
        weft_procpool_destroy(p);
        return -ENOMEM;
    }
    int64_t sum = 0;
    double t0 = weft_bench_seconds();
    for (long i = 0; i < n && rc == 0; i++) {
        weft_future **slot = &fs[i % WINDOW];
        if (*slot) {
            weft_value v;
            rc = weft_future_result(*slot, WEFT_NEVER, &v);
            sum += v.i64;
            weft_future_unref(*slot);
        }
        int64_t x = i;
        if (rc == 0)
            rc = weft_procpool_submit(p, WEFT_PROC_TASK_REF(bench_square), &x, sizeof x,
                                      WEFT_NEVER, slot);
    }
    for (int i = 0; i < WINDOW; i++) {
        if (!fs[i])
            continue;
        weft_value v;
        if (rc == 0)
            rc = weft_future_result(fs[i], WEFT_NEVER, &v);
        sum += v.i64;
        weft_future_unref(fs[i]);
    }
    double s = weft_bench_seconds() - t0;
    free(fs);
    weft_procpool_destroy(p);
    (void)sum;
    return rc < 0 ? rc : s;
}

static int sum_results(void *ctx, size_t index, const void *result, size_t len, int err)
{
    (void)index;
    if (err || len != sizeof(int64_t))
        return err ? err : -EPROTO;
    int64_t v;
    memcpy(&v, result, sizeof v);
    *(int64_t *)ctx += v;
    return 0;
}

/* One op: one item of a map with chunks of 1000 (Pool.map's chunksize). */
static double proc_map_chunked(long n)
{
    int64_t *items = malloc((size_t)n * sizeof *items);
    if (!items)
        return -ENOMEM;
    for (long i = 0; i < n; i++)
        items[i] = i % 1000;
    weft_procpool *p;
    int rc = weft_procpool_create(&p, NULL);
    if (rc < 0) {
        free(items);
        return rc;
    }
    int64_t sum = 0;
    weft_procpool_map_opts o = {.task = WEFT_PROC_TASK_REF(bench_square),
                                .items = items,
                                .count = (size_t)n,
                                .item_size = sizeof *items,
                                .emit = sum_results,
                                .ctx = &sum,
                                .chunksize = 1000};
    double t0 = weft_bench_seconds();
    rc = weft_procpool_map(p, &o);
    double s = weft_bench_seconds() - t0;
    weft_procpool_destroy(p);
    free(items);
    return rc < 0 ? rc : s;
}

const weft_bench_kernel weft_bench_procpool_kernels[] = {
    {"proc_tiny", "a tiny task through a worker process and back, unchunked (future each)",
     "proc_tiny", 300000, proc_tiny},
    {"proc_map_chunked", "one item of a process pool map, chunks of 1000", "proc_map_chunked",
     10000000, proc_map_chunked},
    {0},
};
