/* The libuv peer for `weft bench`: uv_queue_work on weft's pool_tiny_outside
 * workload, scaled down (it runs ~10x slower than weft's kernel, so a run
 * stays a couple of seconds). Prints "RESULT <name> <ops/s>", the best of
 * reps.  Usage: uv_peer [reps] [scale] [name...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Requests in flight at once: a uv_work_t is busy until its after_work has
 * run, so the run reuses a window of them instead of allocating n. */
enum { WINDOW = 65536 };

static uv_work_t reqs[WINDOW];
static long to_queue, completed;

static void tiny(uv_work_t *req)
{
    (void)req;
}

static void after_tiny(uv_work_t *req, int status)
{
    (void)status;
    completed++;
    if (to_queue > 0) {
        to_queue--;
        uv_queue_work(req->loop, req, tiny, after_tiny);
    }
}

/* One op: uv_queue_work of a tiny task from the loop thread + its run on the
 * pool + its after_work callback on the loop thread. */
static double tiny_outside(long n)
{
    uv_loop_t *loop = uv_default_loop();
    long first = n < WINDOW ? n : WINDOW;
    to_queue = n - first;
    completed = 0;
    double t0 = now();
    for (long i = 0; i < first; i++)
        uv_queue_work(loop, &reqs[i], tiny, after_tiny);
    uv_run(loop, UV_RUN_DEFAULT);
    double s = now() - t0;
    if (completed != n) {
        fprintf(stderr, "%ld of %ld tasks completed\n", completed, n);
        exit(1);
    }
    return s;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    /* One pool thread per CPU (libuv's default is 4), started here by a
     * first work request so that pool creation is not timed. */
    char threads[16];
    snprintf(threads, sizeof threads, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    setenv("UV_THREADPOOL_SIZE", threads, 1);
    tiny_outside(1);
    struct { const char *name; long n; double (*run)(long); } all[] = {
        {"pool_tiny_outside", 2000000, tiny_outside},
    };
    for (size_t b = 0; b < sizeof all / sizeof all[0]; b++) {
        int want = argc <= 3;
        for (int i = 3; i < argc; i++)
            want |= !strcmp(argv[i], all[b].name);
        if (!want)
            continue;
        long n = (long)(all[b].n * scale);
        if (n < 4)
            n = 4;
        double best = 0;
        for (int r = 0; r < reps; r++) {
            double ops = n / all[b].run(n);
            if (ops > best)
                best = ops;
        }
        printf("RESULT %s %.0f\n", all[b].name, best);
        fflush(stdout);
    }
    return 0;
}
