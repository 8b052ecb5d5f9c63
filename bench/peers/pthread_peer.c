/* The glibc peer for `weft bench`: pthread_mutex on the same workloads as
 * weft's mutex kernels. Prints "RESULT <name> <ops/s>", the best of reps.
 * Usage: pthread_peer [reps] [scale] [name...] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter, per;

static double uncontended(long n)
{
    counter = 0;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    return now() - t0;
}

static void *worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < per; i++) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static double contended(long n)
{
    pthread_t t[4];
    counter = 0;
    per = n / 4;
    double t0 = now();
    for (int k = 0; k < 4; k++)
        pthread_create(&t[k], NULL, worker, NULL);
    for (int k = 0; k < 4; k++)
        pthread_join(t[k], NULL);
    double s = now() - t0;
    if (counter != per * 4) {
        fprintf(stderr, "lost updates\n");
        exit(1);
    }
    return s;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    struct { const char *name; long n; double (*run)(long); } all[] = {
        {"mutex_uncontended", 50000000, uncontended},
        {"mutex_contended_4t", 10000000, contended},
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
