// The oneTBB peer for `weft bench`: concurrent_bounded_queue, spin_mutex,
// task_group and parallel_for on the same workloads as weft's kernels. Prints
// "RESULT <name> <ops/s>", the best of --reps runs.
// Usage: tbb_peer [reps] [scale] [name...]
//
// The pool workloads run in TBB's default arena (one slot per CPU; the main
// thread takes one of them while it waits, as TBB's model has it). main()
// starts the workers before the first timed run, so, as on weft's side, pool
// creation is not timed.
#include <tbb/blocked_range.h>
#include <tbb/concurrent_queue.h>
#include <tbb/parallel_for.h>
#include <tbb/spin_mutex.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

using clk = std::chrono::steady_clock;
static double secs(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

static double queue_1p1c(long n)
{
    tbb::concurrent_bounded_queue<long> q;
    q.set_capacity(1024);
    auto t0 = clk::now();
    std::thread p([&] { for (long i = 0; i < n; i++) q.push(i); });
    long v;
    for (long i = 0; i < n; i++) q.pop(v);
    p.join();
    return secs(t0);
}

static double queue_4p4c(long n)
{
    tbb::concurrent_bounded_queue<long> q;
    q.set_capacity(1024);
    long per = n / 4;
    std::vector<std::thread> ts;
    auto t0 = clk::now();
    for (int k = 0; k < 4; k++) ts.emplace_back([&] { for (long i = 0; i < per; i++) q.push(i); });
    for (int k = 0; k < 4; k++) ts.emplace_back([&] { long v; for (long i = 0; i < per; i++) q.pop(v); });
    for (auto &t : ts) t.join();
    return secs(t0);
}

static double mutex_uncontended(long n)
{
    tbb::spin_mutex m;
    volatile long counter = 0;
    auto t0 = clk::now();
    for (long i = 0; i < n; i++) { tbb::spin_mutex::scoped_lock l(m); counter = counter + 1; }
    return secs(t0);
}

static double mutex_contended(long n)
{
    tbb::spin_mutex m;
    long counter = 0, per = n / 4;
    std::vector<std::thread> ts;
    auto t0 = clk::now();
    for (int k = 0; k < 4; k++)
        ts.emplace_back([&] { for (long i = 0; i < per; i++) { tbb::spin_mutex::scoped_lock l(m); counter++; } });
    for (auto &t : ts) t.join();
    double s = secs(t0);
    if (counter != per * 4) { fprintf(stderr, "lost updates\n"); exit(1); }
    return s;
}

static void check(long got, long want, const char *what)
{
    if (got != want) { fprintf(stderr, "%s: %ld, expected %ld\n", what, got, want); exit(1); }
}

// One op: task_group::run of a tiny task (one atomic increment) from the main
// thread + its run + completion; one wait at the end.
static double tiny_outside(long n)
{
    std::atomic<long> done{0};
    tbb::task_group g;
    auto t0 = clk::now();
    for (long i = 0; i < n; i++) g.run([&] { done.fetch_add(1, std::memory_order_relaxed); });
    g.wait();
    double s = secs(t0);
    check(done.load(), n, "tiny tasks run");
    return s;
}

enum { ROUND = 256 };

// One op: from inside a task, task_group::run of a tiny task + its run; the
// task joins each round of 256 (the waiting thread helps, as weft's does).
static double tiny_inside(long n)
{
    std::atomic<long> done{0};
    tbb::task_group outer;
    auto t0 = clk::now();
    outer.run([&] {
        for (long left = n; left > 0; left -= ROUND) {
            tbb::task_group g;
            for (long i = 0; i < std::min<long>(left, ROUND); i++)
                g.run([&] { done.fetch_add(1, std::memory_order_relaxed); });
            g.wait();
        }
    });
    outer.wait();
    double s = secs(t0);
    check(done.load(), n, "tiny tasks run");
    return s;
}

// One op: one iteration of the multiply-xorshift body of bench/pool.c, under
// tbb::parallel_for over a blocked_range (default grain and partitioner).
static double parallel_for(long n)
{
    std::atomic<uint64_t> total{0};
    auto t0 = clk::now();
    tbb::parallel_for(tbb::blocked_range<long>(0, n), [&](const tbb::blocked_range<long> &r) {
        uint64_t acc = 0;
        for (long i = r.begin(); i < r.end(); i++) {
            uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull;
            acc += x ^ (x >> 29);
        }
        total.fetch_add(acc, std::memory_order_relaxed);
    });
    double s = secs(t0);
    volatile uint64_t sink = total.load();
    (void)sink;
    return s;
}

// fib(k) forking fib(k-1) onto a task_group and running fib(k-2) inline.
static long fib_task(long k)
{
    if (k < 2) return k;
    long a;
    tbb::task_group g;
    g.run([&] { a = fib_task(k - 1); });
    long b = fib_task(k - 2);
    g.wait();
    return a + b;
}

// One op: one call of fork/join fib. As bench/pool.c: the argument whose call
// count (2 fib(k+1) - 1) first reaches n, the time scaled to n calls.
static double fib(long n)
{
    long arg = 1, calls = 1, a = 1, b = 1;
    while (calls < n) { long c = a + b; a = b; b = c; arg++; calls = 2 * b - 1; }
    auto t0 = clk::now();
    long r = fib_task(arg);
    double s = secs(t0);
    check(r, a, "fib");
    return s * (double)n / (double)calls;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    // Start the arena's workers outside the timed runs.
    tbb::parallel_for(0, 1024, [](int) {});
    struct { const char *name; long n; std::function<double(long)> run; } all[] = {
        {"chan_1p1c", 10000000, queue_1p1c},
        {"chan_4p4c", 10000000, queue_4p4c},
        {"mutex_uncontended", 50000000, mutex_uncontended},
        {"mutex_contended_4t", 10000000, mutex_contended},
        {"pool_tiny_outside", 10000000, tiny_outside},
        {"pool_tiny_inside", 10000000, tiny_inside},
        {"pool_parallel_for", 100000000, parallel_for},
        {"pool_fib", 2692537, fib},
    };
    for (auto &b : all) {
        bool want = argc <= 3;
        for (int i = 3; i < argc; i++) want |= !strcmp(argv[i], b.name);
        if (!want) continue;
        long n = (long)(b.n * scale);
        if (n < 4) n = 4;
        double best = 0;
        for (int r = 0; r < reps; r++) { double ops = n / b.run(n); if (ops > best) best = ops; }
        printf("RESULT %s %.0f\n", b.name, best);
        fflush(stdout);
    }
}
