/* Thread pool kernels for `weft bench`: the peers' executor workloads
 * (oneTBB task_group, GLib GThreadPool, libuv uv_queue_work, Go goroutines
 * + WaitGroup, Python ThreadPoolExecutor). Each creates a pool with one
 * worker per CPU, times from the first submission to the last completion,
 * and destroys the pool outside the timed region. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weft/error.h>
#include <weft/future.h>
#include <weft/pool.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "bench/bench.h"

/* ---- Tiny tasks ---------------------------------------------------------- */

/* One tiny task: count itself; the last one of a run sets the event. */
typedef struct tiny_run {
    _Alignas(64) _Atomic long left;
    weft_event all_done;
} tiny_run;

static int tiny(void *arg, weft_value *out)
{
    (void)out;
    tiny_run *r = arg;
    /* acq_rel: the last decrement sees every other task's. */
    if (atomic_fetch_sub_explicit(&r->left, 1, memory_order_acq_rel) == 1)
        weft_event_set(&r->all_done);
    return 0;
}

static weft_pool *bench_pool(void)
{
    weft_pool *p = NULL;
    weft_pool_opts o = {.name = "bench"};
    return weft_pool_create(&p, &o) == 0 ? p : NULL;
}

/* From a thread outside the pool: submit (a future is created and dropped
 * at once, as a fire-and-forget submit with a result would) + run +
 * complete. */
static double tiny_outside(long n)
{
    weft_pool *p = bench_pool();
    if (!p)
        return -ENOMEM;
    tiny_run r;
    atomic_init(&r.left, n);
    weft_event_init(&r.all_done);
    double t0 = weft_bench_seconds();
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        weft_future *f;
        rc = weft_pool_submit(p, tiny, &r, WEFT_NEVER, &f);
        if (rc == 0)
            weft_future_unref(f);
    }
    if (rc == 0)
        weft_event_wait(&r.all_done, WEFT_NEVER);
    double s = weft_bench_seconds() - t0;
    weft_pool_destroy(p);
    return rc ? rc : s;
}

/* From inside the pool: one task submits n tiny tasks to its own deque,
 * in joined rounds (the other workers steal). */
typedef struct inside_job {
    weft_pool *p;
    tiny_run *r;
    long n;
} inside_job;

enum { ROUND = 256 };

/* Rounds of ROUND submits, each round then joined (weft_pool_wait helps:
 * the spawner runs its own newest children while the others steal the
 * oldest), so memory stays bounded whatever n is. */
static int spawn_all(void *arg, weft_value *out)
{
    (void)out;
    inside_job *j = arg;
    weft_future *fs[ROUND];
    for (long done = 0; done < j->n;) {
        int k = j->n - done < ROUND ? (int)(j->n - done) : ROUND;
        for (int i = 0; i < k; i++) {
            int rc = weft_pool_submit(j->p, tiny, j->r, WEFT_NEVER, &fs[i]);
            if (rc != 0)
                return rc;
        }
        for (int i = 0; i < k; i++) {
            weft_pool_wait(j->p, fs[i], WEFT_NEVER);
            weft_future_unref(fs[i]);
        }
        done += k;
    }
    return 0;
}

static double tiny_inside(long n)
{
    weft_pool *p = bench_pool();
    if (!p)
        return -ENOMEM;
    tiny_run r;
    atomic_init(&r.left, n);
    weft_event_init(&r.all_done);
    inside_job j = {p, &r, n};
    double t0 = weft_bench_seconds();
    weft_future *f;
    int rc = weft_pool_submit(p, spawn_all, &j, WEFT_NEVER, &f);
    if (rc == 0) {
        rc = weft_future_result(f, WEFT_NEVER, NULL);
        weft_future_unref(f);
    }
    if (rc == 0)
        weft_event_wait(&r.all_done, WEFT_NEVER);
    double s = weft_bench_seconds() - t0;
    weft_pool_destroy(p);
    return rc ? rc : s;
}

/* ---- parallel_for ---------------------------------------------------------- */

typedef struct pf_sum {
    _Atomic uint64_t total;
} pf_sum;

/* A cheap body the compiler cannot fold away: a multiply-xorshift hash. */
static int pf_body(void *ctx, int64_t lo, int64_t hi)
{
    pf_sum *s = ctx;
    uint64_t acc = 0;
    for (int64_t i = lo; i < hi; i++) {
        uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull;
        acc += x ^ (x >> 29);
    }
    atomic_fetch_add_explicit(&s->total, acc, memory_order_relaxed);
    return 0;
}

static double parallel_for(long n)
{
    weft_pool *p = bench_pool();
    if (!p)
        return -ENOMEM;
    pf_sum s;
    atomic_init(&s.total, 0);
    double t0 = weft_bench_seconds();
    int rc = weft_pool_parallel_for(p, 0, n, 0, pf_body, &s);
    double secs = weft_bench_seconds() - t0;
    weft_pool_destroy(p);
    return rc ? rc : secs;
}

/* ---- Fork/join fib --------------------------------------------------------- */

static weft_pool *fib_pool;

static int fib_task(void *arg, weft_value *out)
{
    int64_t n = (int64_t)(intptr_t)arg;
    if (n < 2) {
        out->i64 = n;
        return 0;
    }
    weft_future *child;
    int rc = weft_pool_submit(fib_pool, fib_task, (void *)(intptr_t)(n - 1), WEFT_NEVER, &child);
    if (rc != 0)
        return rc;
    weft_value b;
    fib_task((void *)(intptr_t)(n - 2), &b);
    weft_pool_wait(fib_pool, child, WEFT_NEVER);
    weft_value a;
    rc = weft_future_result(child, WEFT_NOW, &a);
    weft_future_unref(child);
    out->i64 = a.i64 + b.i64;
    return rc;
}

/* fib(n) with one task per call that forks: n ops = calls of fib; the
 * kernel picks the fib argument whose call count is closest to n. */
static double fib(long n)
{
    int64_t arg = 1, calls = 1, a = 1, b = 1; /* calls(k) = 2 fib(k+1) - 1 */
    while (calls < n) {
        int64_t c = a + b;
        a = b;
        b = c;
        arg++;
        calls = 2 * b - 1;
    }
    fib_pool = bench_pool();
    if (!fib_pool)
        return -ENOMEM;
    double t0 = weft_bench_seconds();
    weft_future *f;
    int rc = weft_pool_submit(fib_pool, fib_task, (void *)(intptr_t)arg, WEFT_NEVER, &f);
    if (rc == 0) {
        rc = weft_future_result(f, WEFT_NEVER, NULL);
        weft_future_unref(f);
    }
    double s = weft_bench_seconds() - t0;
    weft_pool_destroy(fib_pool);
    /* Scale to the n asked for, so ops/s is calls per second. */
    return rc ? rc : s * (double)n / (double)calls;
}

const weft_bench_kernel weft_bench_pool_kernels[] = {
    {"pool_tiny_outside", "submit (future created and dropped) + run + complete, from outside",
     "pool_tiny_outside", 10000000, tiny_outside},
    {"pool_tiny_inside", "submit from a task to its own deque + run + join, rounds of 256",
     "pool_tiny_inside", 10000000, tiny_inside},
    {"pool_parallel_for", "one cheap loop iteration of parallel_for over 1e8", "pool_parallel_for",
     100000000, parallel_for},
    {"pool_fib", "one call of fork/join fib (fib(30): 2.7M calls, 1.3M forks)", "pool_fib", 2692537,
     fib},
    {0},
};
