/* Nested submit and wait (include/weft/pool.h): fork/join recursion where
 * every task submits a child to its own deque and waits for it with
 * weft_pool_wait (help-while-waiting), parallel fib(30) in Release (fib(22)
 * under the sanitizers, which run 10-50x slower), on pools of 1, 2 and 4
 * workers. A 1-worker pool can only finish if waiting helps. */
#include <stdint.h>

#include <weft/future.h>
#include <weft/pool.h>

#include "weft_test.h"

#ifdef WEFT_SANITIZER
#define FIB_N 22
#define FIB_WANT 17711
#else
#define FIB_N 30
#define FIB_WANT 832040
#endif

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
    rc = fib_task((void *)(intptr_t)(n - 2), &b);
    weft_pool_wait(fib_pool, child, WEFT_NEVER);
    weft_value a;
    int rc2 = weft_future_result(child, WEFT_NOW, &a);
    weft_future_unref(child);
    if (rc || rc2)
        return rc ? rc : rc2;
    out->i64 = a.i64 + b.i64;
    return 0;
}

static void run_fib(unsigned workers)
{
    weft_pool_opts o = {.workers = workers};
    WT_OK(weft_pool_create(&fib_pool, &o));
    weft_future *f;
    WT_OK(weft_pool_submit(fib_pool, fib_task, (void *)(intptr_t)FIB_N, WEFT_NEVER, &f));
    weft_value v;
    WT_OK(weft_future_result(f, WEFT_NEVER, &v));
    WT_EQ(v.i64, FIB_WANT);
    weft_future_unref(f);
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(fib_pool, &m));
    WT_EQ(m.failed, 0);
    WT_EQ(m.completed, m.submitted);
    WT_EQ(m.queue_depth, 0);
    weft_pool_destroy(fib_pool);
}

static void test_fib_1_worker(void)
{
    run_fib(1);
}

static void test_fib_2_workers(void)
{
    run_fib(2);
}

static void test_fib_4_workers(void)
{
    run_fib(4);
}

int main(void)
{
    WT_RUN(test_fib_1_worker);
    WT_RUN(test_fib_2_workers);
    WT_RUN(test_fib_4_workers);
    return 0;
}
