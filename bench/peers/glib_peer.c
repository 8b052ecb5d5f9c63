/* The GLib peer for `weft bench`: GThreadPool on weft's pool_tiny_outside
 * workload, scaled down (it runs ~10x slower than weft's kernel, so a run
 * stays a couple of seconds). Prints "RESULT <name> <ops/s>", the best of
 * reps.  Usage: glib_peer [reps] [scale] [name...] */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* The tasks of one run count down; the last one wakes the main thread. */
typedef struct tiny_run {
    gint left;
    GMutex mu;
    GCond all_done;
    gboolean done;
} tiny_run;

static void tiny(gpointer data, gpointer user_data)
{
    (void)user_data;
    tiny_run *r = data;
    if (g_atomic_int_dec_and_test(&r->left)) {
        g_mutex_lock(&r->mu);
        r->done = TRUE;
        g_cond_signal(&r->all_done);
        g_mutex_unlock(&r->mu);
    }
}

/* One op: g_thread_pool_push of a tiny task from the main thread + its run
 * + completion. The pool (exclusive, one thread per CPU, all started by
 * g_thread_pool_new) is created and freed outside the timing. */
static double tiny_outside(long n)
{
    GThreadPool *p = g_thread_pool_new(tiny, NULL, (gint)sysconf(_SC_NPROCESSORS_ONLN), TRUE, NULL);
    tiny_run r = {.left = (gint)n};
    g_mutex_init(&r.mu);
    g_cond_init(&r.all_done);
    double t0 = now();
    for (long i = 0; i < n; i++)
        g_thread_pool_push(p, &r, NULL);
    g_mutex_lock(&r.mu);
    while (!r.done)
        g_cond_wait(&r.all_done, &r.mu);
    g_mutex_unlock(&r.mu);
    double s = now() - t0;
    g_thread_pool_free(p, FALSE, TRUE);
    g_cond_clear(&r.all_done);
    g_mutex_clear(&r.mu);
    return s;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
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
