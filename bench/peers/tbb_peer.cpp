// The oneTBB peer for `weft bench`: concurrent_bounded_queue and spin_mutex
// on the same workloads as weft's kernels. Prints "RESULT <name> <ops/s>",
// the best of --reps runs.  Usage: tbb_peer [reps] [scale] [name...]
#include <tbb/concurrent_queue.h>
#include <tbb/spin_mutex.h>

#include <atomic>
#include <chrono>
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

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    struct { const char *name; long n; std::function<double(long)> run; } all[] = {
        {"chan_1p1c", 10000000, queue_1p1c},
        {"chan_4p4c", 10000000, queue_4p4c},
        {"mutex_uncontended", 50000000, mutex_uncontended},
        {"mutex_contended_4t", 10000000, mutex_contended},
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
