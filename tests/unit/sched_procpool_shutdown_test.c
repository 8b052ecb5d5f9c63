/* Process pool shutdown (weft/procpool.h, steps 1-4) and the pool's
 * surroundings:
 * - WAIT runs every accepted task; CANCEL_PENDING cancels the waiting ones
 *   and lets the running ones finish; TERMINATE kills the workers: running
 *   tasks end CANCELLED; a deadline that passes terminates and reports
 *   -ETIMEDOUT; submits during and after fail with -EPIPE;
 * - afterwards: no process, no zombie, no fd, nothing new in /dev/shm;
 * - a pool created by a process with many busy threads works (the parent
 *   never forks itself);
 * - the zygote killed: tasks in flight fail with WEFT_EWORKER_DIED, later
 *   submits fail with -EPIPE, destroy still cleans up;
 * - backpressure: with max_in_flight tasks in flight, submit waits for room
 *   until its deadline (-EAGAIN with WEFT_NOW). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/procpool.h>

#include "test_procs.h"
#include "weft_test.h"

/* Sleeps the given number of milliseconds (in the worker), then returns
 * it. */
static int nap(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    int64_t ms;
    if (len != sizeof ms)
        return -EINVAL;
    memcpy(&ms, arg, sizeof ms);
    usleep((useconds_t)(ms * 1000));
    return weft_proc_return(ctx, &ms, sizeof ms);
}
WEFT_PROC_TASK(nap);

typedef struct outcome {
    int done, cancelled, other;
} outcome;

static outcome collect(weft_future **fs, int n)
{
    outcome o = {0};
    for (int i = 0; i < n; i++) {
        int rc = weft_future_result(fs[i], WEFT_NEVER, NULL);
        if (rc == 0)
            o.done++;
        else if (rc == -ECANCELED)
            o.cancelled++;
        else
            o.other++;
        weft_future_unref(fs[i]);
    }
    return o;
}

static void submit_naps(weft_procpool *p, weft_future **fs, int n, int64_t ms)
{
    for (int i = 0; i < n; i++)
        WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(nap), &ms, sizeof ms, WEFT_NEVER,
                                   &fs[i]));
}

static void test_modes(void)
{
    int fds = count_entries("/proc/self/fd"), shm = count_entries("/dev/shm");
    weft_procpool_opts o = {.workers = 2};
    enum { N = 20 };
    weft_future *fs[N];
    /* WAIT: every task runs. */
    weft_procpool *p;
    WT_OK(weft_procpool_create(&p, &o));
    submit_naps(p, fs, N, 5);
    WT_OK(weft_procpool_shutdown(p, WEFT_PROCPOOL_WAIT, WEFT_NEVER));
    WT_EQ(count_children(), 0);
    int64_t x = 1;
    WT_ERR(weft_procpool_submit(p, WEFT_PROC_TASK_REF(nap), &x, sizeof x, WEFT_NEVER, NULL),
           -EPIPE);
    outcome r = collect(fs, N);
    WT_EQ(r.done, N);
    weft_procpool_destroy(p);
    /* CANCEL_PENDING: at most the two running ones (and what workers took
     * meanwhile) finish; the rest is cancelled; nothing else. */
    WT_OK(weft_procpool_create(&p, &o));
    submit_naps(p, fs, N, 50);
    WT_OK(weft_procpool_shutdown(p, WEFT_PROCPOOL_CANCEL_PENDING, WEFT_NEVER));
    r = collect(fs, N);
    WT_EQ(r.other, 0);
    WT_EQ(r.done + r.cancelled, N);
    WT_GE(r.cancelled, N - 4);
    weft_procpool_destroy(p);
    /* TERMINATE: the workers are killed; running tasks end CANCELLED. */
    WT_OK(weft_procpool_create(&p, &o));
    submit_naps(p, fs, N, 10000);
    int64_t t0 = weft_now();
    WT_OK(weft_procpool_shutdown(p, WEFT_PROCPOOL_TERMINATE, WEFT_NEVER));
    WT_LT(weft_now() - t0, 5 * WEFT_SEC);
    r = collect(fs, N);
    WT_EQ(r.cancelled, N);
    WT_EQ(count_children(), 0);
    weft_procpool_destroy(p);
    /* WAIT with a deadline that passes: terminated, -ETIMEDOUT. */
    WT_OK(weft_procpool_create(&p, &o));
    submit_naps(p, fs, 4, 10000);
    WT_ERR(weft_procpool_shutdown(p, WEFT_PROCPOOL_WAIT, weft_deadline_in(100 * WEFT_MSEC)),
           -ETIMEDOUT);
    r = collect(fs, 4);
    WT_EQ(r.cancelled, 4);
    weft_procpool_metrics m;
    WT_OK(weft_procpool_metrics_get(p, &m));
    WT_EQ(m.in_flight, 0);
    weft_procpool_destroy(p);
    /* destroy without shutdown waits for the tasks. */
    WT_OK(weft_procpool_create(&p, &o));
    submit_naps(p, fs, 4, 5);
    weft_procpool_destroy(p);
    r = collect(fs, 4);
    WT_EQ(r.done, 4);
    WT_EQ(count_children(), 0);
    WT_EQ(count_entries("/proc/self/fd"), fds);
    WT_EQ(count_entries("/dev/shm"), shm);
}

/* ---- a parent full of busy threads --------------------------------------------------------- */

static _Atomic bool stop;

static void *busy(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        void *p = malloc(64); /* malloc's locks are taken all the time */
        free(p);
    }
    return NULL;
}

static void test_busy_threads(void)
{
    enum { T = 16 };
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        WT_EQ(pthread_create(&th[i], NULL, busy, NULL), 0);
    for (int round = 0; round < 5; round++) {
        weft_procpool *p;
        weft_procpool_opts o = {.workers = 2};
        WT_OK(weft_procpool_create(&p, &o));
        weft_future *fs[50];
        submit_naps(p, fs, 50, 0);
        outcome r = collect(fs, 50);
        WT_EQ(r.done, 50);
        weft_procpool_destroy(p);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
}

/* ---- the zygote killed --------------------------------------------------------------------- */

static void test_zygote_killed(void)
{
    int fds = count_entries("/proc/self/fd");
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 2};
    WT_OK(weft_procpool_create(&p, &o));
    weft_future *fs[6];
    submit_naps(p, fs, 6, 10000);
    long zygote;
    WT_EQ(children_of((long)getpid(), &zygote, 1), 1);
    kill((pid_t)zygote, SIGKILL);
    for (int i = 0; i < 6; i++) {
        WT_ERR(weft_future_result(fs[i], weft_deadline_in(5 * WEFT_SEC), NULL),
               WEFT_EWORKER_DIED);
        weft_future_unref(fs[i]);
    }
    int64_t x = 1;
    WT_ERR(weft_procpool_submit(p, WEFT_PROC_TASK_REF(nap), &x, sizeof x, WEFT_NEVER, NULL),
           -EPIPE);
    weft_procpool_destroy(p);
    WT_EQ(count_children(), 0);
    WT_EQ(count_entries("/proc/self/fd"), fds);
}

/* ---- backpressure -------------------------------------------------------------------------- */

static void test_backpressure(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 1, .max_in_flight = 4};
    WT_OK(weft_procpool_create(&p, &o));
    weft_future *fs[4];
    submit_naps(p, fs, 4, 300);
    int64_t x = 1;
    WT_ERR(weft_procpool_submit(p, WEFT_PROC_TASK_REF(nap), &x, sizeof x, WEFT_NOW, NULL),
           -EAGAIN);
    int64_t t0 = weft_now();
    WT_ERR(weft_procpool_submit(p, WEFT_PROC_TASK_REF(nap), &x, sizeof x,
                                weft_deadline_in(50 * WEFT_MSEC), NULL),
           -ETIMEDOUT);
    WT_GE(weft_now() - t0, 50 * WEFT_MSEC);
    /* With a deadline far enough, it waits for the first to finish. */
    weft_future *f;
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(nap), &x, sizeof x, WEFT_NEVER, &f));
    WT_OK(weft_future_result(f, WEFT_NEVER, NULL));
    weft_future_unref(f);
    outcome r = collect(fs, 4);
    WT_EQ(r.done, 4);
    weft_procpool_metrics m;
    WT_OK(weft_procpool_metrics_get(p, &m));
    WT_EQ(m.rejected, 2);
    weft_procpool_destroy(p);
}

/* ---- the caller's signals -------------------------------------------------------------- */

/* SIGKILL rather than SIGSEGV: sanitizer builds catch the latter. */
static int die_now(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)arg;
    (void)len;
    (void)ctx;
    raise(SIGKILL);
    return 0;
}
WEFT_PROC_TASK(die_now);

/* A caller that ignores SIGCHLD and blocks SIGTERM: its workers still
 * start with default dispositions, and a worker's death is still seen and
 * named. */
static void test_callers_signals(void)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGCHLD, &ign, &old);
    sigset_t term, old_mask;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &old_mask);
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 1};
    WT_OK(weft_procpool_create(&p, &o));
    weft_future *f;
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(die_now), NULL, 0, WEFT_NEVER, &f));
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), WEFT_EWORKER_DIED);
    WT_EQ(weft_procpool_task_signal(f), SIGKILL);
    weft_future_unref(f);
    weft_future *g[3];
    submit_naps(p, g, 3, 0);
    outcome r = collect(g, 3);
    WT_EQ(r.done, 3);
    weft_procpool_destroy(p);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGCHLD, &old, NULL);
}

int main(void)
{
    WT_RUN(test_modes);
    WT_RUN(test_busy_threads);
    WT_RUN(test_zygote_killed);
    WT_RUN(test_backpressure);
    WT_RUN(test_callers_signals);
    return 0;
}
