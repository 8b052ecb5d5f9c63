/* The benchmark kernels behind `weft bench`: weft's side of each workload.
 * The peers in bench/peers/ run the same workloads under the same names and
 * print "RESULT <name> <ops/s>"; tools/bench.c runs both and prints ratios. */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

typedef struct weft_bench_kernel {
    const char *name;      /* the workload's name, shared with the peers */
    const char *what;      /* one line: what one operation is */
    const char *peer_name; /* the peers' workload it is compared with */
    long n;                /* operations in one run at scale 1 */
    /* Runs n operations. Returns the seconds taken, or a negative weft error. */
    double (*run)(long n);
} weft_bench_kernel;

/* Each kernel file exports a table ending in a zeroed entry. */
extern const weft_bench_kernel weft_bench_chan_kernels[];
extern const weft_bench_kernel weft_bench_sync_kernels[];
extern const weft_bench_kernel weft_bench_pool_kernels[];
extern const weft_bench_kernel weft_bench_coro_kernels[];
extern const weft_bench_kernel weft_bench_loop_kernels[];
extern const weft_bench_kernel weft_bench_procpool_kernels[];
extern const weft_bench_kernel weft_bench_timer_kernels[];
extern const weft_bench_kernel weft_bench_csv_kernels[];
extern const weft_bench_kernel weft_bench_net_kernels[];
extern const weft_bench_kernel weft_bench_http_kernels[];

/* Seconds since an arbitrary point (the real monotonic clock). */
double weft_bench_seconds(void);

#endif
