/* Mutex kernels for `weft bench`: lock, increment a shared counter, unlock;
 * uncontended (one thread) and contended (4 threads on the machine's cores),
 * against Go's sync.Mutex, oneTBB's spin_mutex, glibc's pthread_mutex and
 * Python's threading.Lock on the same loop. */
#include <pthread.h>

#include <weft/error.h>
#include <weft/sync.h>

#include "bench/bench.h"

enum { THREADS = 4 };

static weft_mutex mu = WEFT_MUTEX_INIT("bench.counter");
static long counter, per_thread;

static double mutex_uncontended(long n)
{
    counter = 0;
    double t0 = weft_bench_seconds();
    for (long i = 0; i < n; i++) {
        weft_mutex_lock(&mu);
        counter++;
        weft_mutex_unlock(&mu);
    }
    double s = weft_bench_seconds() - t0;
    return counter == n ? s : -EPROTO;
}

static void *worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_thread; i++) {
        weft_mutex_lock(&mu);
        counter++;
        weft_mutex_unlock(&mu);
    }
    return NULL;
}

static double mutex_contended(long n)
{
    pthread_t t[THREADS];
    counter = 0;
    per_thread = n / THREADS;
    double t0 = weft_bench_seconds();
    for (int k = 0; k < THREADS; k++)
        pthread_create(&t[k], NULL, worker, NULL);
    for (int k = 0; k < THREADS; k++)
        pthread_join(t[k], NULL);
    double s = weft_bench_seconds() - t0;
    return counter == per_thread * THREADS ? s : -EPROTO;
}

const weft_bench_kernel weft_bench_sync_kernels[] = {
    {"mutex_uncontended", "weft_mutex lock+increment+unlock, one thread", "mutex_uncontended",
     50000000, mutex_uncontended},
    {"mutex_contended_4t", "weft_mutex lock+increment+unlock, 4 threads on one lock",
     "mutex_contended_4t", 10000000, mutex_contended},
    {0},
};
