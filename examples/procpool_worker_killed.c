/* A worker process killed in the middle of a run (kill -9, the OOM
 * killer), and the pool carrying on: the failure Python's
 * ProcessPoolExecutor turns into BrokenProcessPool for every pending task
 * (and multiprocessing.Pool into a hang, CPython gh-96062).
 *
 * 2000 jobs of about a millisecond run on 2 workers; after 500 of them are
 * done, this program SIGKILLs one worker. Only the job that worker was
 * running fails, with WEFT_EWORKER_DIED and the cause; a new worker takes
 * its place; every other job succeeds; the pool's metrics count the
 * restart. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <weft/procpool.h>
#include <weft/time.h>

enum { JOBS = 2000, KILL_AFTER = 500 };

/* About a millisecond of work; returns its argument and its worker's pid. */
static int job(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    int64_t out[2];
    if (len != sizeof out[0])
        return -EINVAL;
    memcpy(&out[0], arg, sizeof out[0]);
    volatile uint64_t x = 0;
    for (int i = 0; i < 400000; i++)
        x += (uint64_t)i * 3;
    out[1] = getpid();
    return weft_proc_return(ctx, out, sizeof out);
}
WEFT_PROC_TASK(job);

int main(void)
{
    weft_procpool *pool;
    weft_procpool_opts opts = {.workers = 2};
    int rc = weft_procpool_create(&pool, &opts);
    if (rc < 0) {
        fprintf(stderr, "weft_procpool_create: %s\n", weft_strerror(rc));
        return 1;
    }
    static weft_future *fs[JOBS];
    int64_t t0 = weft_now();
    for (int64_t i = 0; i < JOBS && rc == 0; i++)
        rc = weft_procpool_submit(pool, WEFT_PROC_TASK_REF(job), &i, sizeof i, WEFT_NEVER, &fs[i]);
    if (rc < 0) {
        fprintf(stderr, "submit: %s\n", weft_strerror(rc));
        return 1;
    }
    int ok = 0, failed = 0, wrong = 0;
    for (int i = 0; i < JOBS; i++) {
        const void *data;
        size_t len;
        weft_future_wait(fs[i], WEFT_NEVER);
        rc = weft_procpool_result(fs[i], &data, &len);
        if (rc == 0 && len == 2 * sizeof(int64_t)) {
            int64_t out[2];
            memcpy(out, data, sizeof out);
            wrong += out[0] != i;
            ok++;
            if (i == KILL_AFTER) {
                printf("job %d done by worker %lld: killing that worker (SIGKILL)\n", i,
                       (long long)out[1]);
                kill((pid_t)out[1], SIGKILL);
            }
        } else {
            char why[128];
            weft_procpool_describe(fs[i], why, sizeof why);
            printf("job %d failed: %s (%s)\n", i, weft_strerror(rc), why);
            failed++;
        }
        weft_future_unref(fs[i]);
    }
    double took = (double)(weft_now() - t0) / 1e9;
    weft_procpool_metrics m;
    weft_procpool_metrics_get(pool, &m);
    weft_procpool_destroy(pool);
    printf("%d jobs in %.2f s: %d succeeded, %d failed; workers restarted: %llu "
           "(killed by a signal: %llu)\n",
           JOBS, took, ok, failed, (unsigned long long)m.restarts,
           (unsigned long long)m.died_signal);
    /* The killed worker may have been idle for an instant (then no job
     * fails), never more than one job may fail, and the pool goes on. */
    return wrong == 0 && failed <= 1 && ok + failed == JOBS && m.restarts == 1 ? 0 : 1;
}
