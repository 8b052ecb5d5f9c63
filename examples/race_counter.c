/* Seed: 003 "Concurrence & Parallélisme en Python", section 3, "Sections
 * critiques & race conditions" (8 threads x 10000 increments of a shared
 * counter under threading.Lock, "doit être 80000"), and 000 "Concurrence et
 * Asyncio", "Pièges courants" 1, "Race conditions" (5 threads x 100000
 * `counter += 1`, unsafe, then with a Lock).
 *
 * Three ways to count, each run with both seeds' shapes:
 *   unsafe  read the counter, then write back read + 1, as two separate
 *           steps: updates are lost when threads interleave;
 *   locked  the same two steps inside a weft_mutex (the seed's remedy);
 *   atomic  one atomic fetch_add per increment (no lock at all).
 *
 * Why the unsafe version is a relaxed atomic load followed by a relaxed
 * atomic store, and not `counter++` on a plain long: in Python, `counter +=
 * 1` is three bytecodes (load, add, store) and the interpreter may switch
 * threads between the load and the store, so a thread can store a value
 * computed from a stale read, overwriting others' increments. In C, plain
 * `counter++` from several threads at once is a data race, which is
 * undefined behaviour: the compiler may keep the counter in a register for
 * the whole loop, or turn the loop into one `counter += n`, and the result
 * then says nothing about interleaving (and ThreadSanitizer rightly aborts).
 * A relaxed load then a relaxed store is defined behaviour, each access is
 * indivisible and really happens, yet the pair is not: another thread's
 * increments between our load and our store are overwritten, which is
 * exactly Python's lost update.
 *
 * Usage: race_counter [threads increments]   (default: both seeds' shapes) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/sync.h>
#include <weft/time.h>

typedef enum { UNSAFE, LOCKED, ATOMIC } variant;

static const char *const variant_names[] = {"unsafe (load, then store)", "locked (weft_mutex)",
                                            "atomic (fetch_add)"};

typedef struct run {
    variant how;
    long increments;
    weft_barrier *start;
    int64_t began, ended; /* this thread's counting, measured by itself */
} run;

static _Atomic long counter;
static weft_mutex counter_lock = WEFT_MUTEX_INIT("counter");

static void *worker(void *arg)
{
    run *r = arg;
    /* All threads start counting together, so they really overlap instead
     * of each finishing before the next one is even created. */
    weft_barrier_wait(r->start, WEFT_NEVER);
    r->began = weft_now();
    switch (r->how) {
    case UNSAFE:
        for (long i = 0; i < r->increments; i++) {
            long v = atomic_load_explicit(&counter, memory_order_relaxed);
            atomic_store_explicit(&counter, v + 1, memory_order_relaxed);
        }
        break;
    case LOCKED:
        for (long i = 0; i < r->increments; i++) {
            weft_mutex_lock(&counter_lock);
            long v = atomic_load_explicit(&counter, memory_order_relaxed);
            atomic_store_explicit(&counter, v + 1, memory_order_relaxed);
            weft_mutex_unlock(&counter_lock);
        }
        break;
    case ATOMIC:
        for (long i = 0; i < r->increments; i++)
            atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
        break;
    }
    r->ended = weft_now();
    return NULL;
}

/* Runs one variant; returns the final count and stores the elapsed time:
 * from the first thread starting to count to the last one finishing, as
 * the threads measured it (the main thread may not even be scheduled while
 * they run, so it cannot time them itself). */
static long count_with(variant how, int threads, long increments, int64_t *elapsed_ns)
{
    weft_barrier start;
    if (weft_barrier_init(&start, (uint32_t)threads) != 0)
        abort();
    pthread_t *tids = malloc((size_t)threads * sizeof *tids);
    run *runs = malloc((size_t)threads * sizeof *runs);
    if (!tids || !runs)
        abort();
    atomic_store(&counter, 0);
    for (int i = 0; i < threads; i++) {
        runs[i] = (run){how, increments, &start, 0, 0};
        if (pthread_create(&tids[i], NULL, worker, &runs[i]) != 0)
            abort();
    }
    int64_t first = INT64_MAX, last = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        first = runs[i].began < first ? runs[i].began : first;
        last = runs[i].ended > last ? runs[i].ended : last;
    }
    *elapsed_ns = last - first;
    free(runs);
    free(tids);
    return atomic_load(&counter);
}

enum { RUNS = 5 };

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Runs each variant RUNS times: the lost count varies from run to run, so
 * the table shows its range, and the median time. */
static void shape(const char *seed, int threads, long increments)
{
    long expected = threads * increments;
    printf("\n%s: %d threads x %ld increments, expected total %ld, %d runs each\n", seed,
           threads, increments, expected, RUNS);
    printf("  %-27s %17s %17s %9s %8s\n", "variant", "total (min..max)", "lost (min..max)",
           "median ms", "ns/incr");
    for (variant how = UNSAFE; how <= ATOMIC; how++) {
        int64_t ns[RUNS];
        long lo = expected, hi = 0;
        for (int i = 0; i < RUNS; i++) {
            long total = count_with(how, threads, increments, &ns[i]);
            lo = total < lo ? total : lo;
            hi = total > hi ? total : hi;
        }
        qsort(ns, RUNS, sizeof ns[0], cmp_i64);
        char totals[32], lost[32];
        snprintf(totals, sizeof totals, "%ld..%ld", lo, hi);
        snprintf(lost, sizeof lost, "%ld..%ld", expected - hi, expected - lo);
        printf("  %-27s %17s %17s %9.2f %8.1f\n", variant_names[how], totals, lost,
               (double)ns[RUNS / 2] / 1e6, (double)ns[RUNS / 2] / (double)expected);
    }
}

int main(int argc, char **argv)
{
    printf("race_counter: the seeds' shared counter, measured on this machine\n");
    printf("lock-order checker: %s\n",
           weft_lockdep_enabled()
               ? "on (Debug/sanitizer default; its bookkeeping is in the locked times)"
               : "off (Release default)");
    if (argc == 3) {
        int threads = atoi(argv[1]);
        long increments = atol(argv[2]);
        if (threads < 1 || increments < 1) {
            fprintf(stderr, "usage: race_counter [threads increments]\n");
            return 2;
        }
        shape("custom", threads, increments);
    } else {
        shape("seed 003 section 3", 8, 10000);
        shape("seed 000 pitfall 1", 5, 100000);
    }
    printf("\n'lost' > 0 in the unsafe row: increments overwritten between a thread's\n"
           "read and its write. It varies from run to run (and can be 0 when the threads\n"
           "happen not to overlap); the locked and atomic rows are exact every time.\n");
    return 0;
}
