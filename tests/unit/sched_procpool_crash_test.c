/* Process pool crash recovery (weft/procpool.h, "Failures"):
 * - the crash matrix: SIGSEGV, _exit(1) and SIGKILL, each at the start of
 *   a task (before it reads its argument), in the middle, and while
 *   writing a result of 2 MiB: only that future fails, within 2 s, with
 *   WEFT_EWORKER_DIED and the cause; the next 1000 tasks succeed; no
 *   zombie is left;
 * - retries (max_crashes), deadlines (the worker is killed and replaced),
 *   max_tasks_per_child, cancellation of tasks no worker took;
 * - chaos: 1e5 tasks while a random worker is SIGKILLed every 50 ms:
 *   every task ends exactly once, done or failed with worker-died. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/procpool.h>

#include "test_procs.h"
#include "weft_test.h"

/* ---- processes ------------------------------------------------------------------------ */

static long zygote_pid(void)
{
    long kids[8];
    int n = children_of(getpid(), kids, 8);
    WT_EQ(n, 1);
    return kids[0];
}

/* Workers the zygote has now, none of them a zombie for long: a dead
 * worker is reaped as soon as the zygote hears of it. */
static int live_workers(long zygote, long *out, int max)
{
    long kids[64];
    int n = children_of(zygote, kids, 64), live = 0;
    for (int i = 0; i < n; i++) {
        char st = proc_state(kids[i]);
        if (st && st != 'Z' && live < max)
            out[live++] = kids[i];
    }
    return live;
}

static void expect_no_zombie(long zygote)
{
    /* The zygote reaps at once; give it a moment without sleeping blind:
     * poll up to 2 s. */
    int64_t deadline = weft_deadline_in(2 * WEFT_SEC);
    for (;;) {
        long kids[64];
        int n = children_of(zygote, kids, 64), zombies = 0;
        for (int i = 0; i < n; i++)
            zombies += proc_state(kids[i]) == 'Z';
        if (zombies == 0)
            return;
        WT_ASSERT(!weft_deadline_passed(deadline));
        usleep(1000);
    }
}

/* ---- tasks -------------------------------------------------------------------------------- */

enum how { BY_SEGV, BY_EXIT, BY_KILL };
enum when { AT_START, MID_TASK, WRITING_RESULT };

typedef struct crash_arg {
    int how, when;
} crash_arg;

static volatile int *volatile null_ptr;

static void die(int how)
{
    switch (how) {
    case BY_SEGV:
#ifdef WEFT_SANITIZER
        raise(SIGSEGV); /* UBSan would stop the null store first */
#else
        *null_ptr = 1; /* a real fault */
#endif
        break;
    case BY_EXIT:
        _exit(1);
    default:
        raise(SIGKILL);
    }
    abort();
}

static int crasher(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    crash_arg a;
    if (len != sizeof a)
        return -EINVAL;
    /* AT_START: before the argument is read, only its first int. */
    int how = ((const crash_arg *)arg)->how;
    int when = ((const crash_arg *)arg)->when;
    if (when == AT_START)
        die(how);
    memcpy(&a, arg, sizeof a);
    volatile uint64_t x = 0;
    for (int i = 0; i < 100000; i++)
        x += (uint64_t)i * i;
    if (a.when == MID_TASK)
        die(a.how);
    unsigned char *out = weft_proc_result_buffer(ctx, 2 << 20);
    if (!out)
        return -ENOMEM;
    memset(out, 0x5A, 1 << 20); /* half written */
    die(a.how);
    return 0;
}
WEFT_PROC_TASK(crasher);

static int add_one(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    int64_t x;
    if (len != sizeof x)
        return -EINVAL;
    memcpy(&x, arg, sizeof x);
    x++;
    return weft_proc_return(ctx, &x, sizeof x);
}
WEFT_PROC_TASK(add_one);

/* Crashes the first time it runs in a worker whose pid is even... no:
 * crashes while the shared counter (a file under /dev/shm would do, but
 * an argument is simpler) says so. It crashes in every worker: the
 * retry limit is what ends it. */
static int always_segv(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)arg;
    (void)len;
    (void)ctx;
    die(BY_SEGV);
    return 0;
}
WEFT_PROC_TASK(always_segv);

static int spin_forever(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)arg;
    (void)len;
    (void)ctx;
    for (;;)
        pause();
    return 0;
}
WEFT_PROC_TASK(spin_forever);

/* add_one after a few microseconds of work, so that workers are busy
 * when they are killed. */
static int add_one_slowly(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    volatile uint64_t x = 0;
    for (int i = 0; i < 20000; i++)
        x += (uint64_t)i;
    return add_one(arg, len, ctx);
}
WEFT_PROC_TASK(add_one_slowly);

static int my_pid(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)arg;
    (void)len;
    int64_t pid = getpid();
    return weft_proc_return(ctx, &pid, sizeof pid);
}
WEFT_PROC_TASK(my_pid);

/* ---- tests --------------------------------------------------------------------------------- */

static void run_thousand(weft_procpool *p)
{
    enum { K = 1000 };
    static weft_future *fs[K];
    for (int64_t i = 0; i < K; i++)
        WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(add_one), &i, sizeof i, WEFT_NEVER,
                                   &fs[i]));
    for (int64_t i = 0; i < K; i++) {
        weft_value v;
        WT_OK(weft_future_result(fs[i], WEFT_NEVER, &v));
        WT_EQ(v.i64, i + 1);
        weft_future_unref(fs[i]);
    }
}

static void test_crash_matrix(void)
{
    static const char *how_names[] = {"SIGSEGV", "status 1", "SIGKILL"};
    static const int how_signals[] = {SIGSEGV, 0, SIGKILL};
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 2};
    WT_OK(weft_procpool_create(&p, &o));
    long zygote = zygote_pid();
    int restarts = 0;
    for (int how = BY_SEGV; how <= BY_KILL; how++) {
        for (int when = AT_START; when <= WRITING_RESULT; when++) {
            crash_arg a = {how, when};
            weft_future *f;
            int64_t t0 = weft_now();
            WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(crasher), &a, sizeof a, WEFT_NEVER,
                                       &f));
            WT_ERR(weft_future_result(f, weft_deadline_in(2 * WEFT_SEC), NULL),
                   WEFT_EWORKER_DIED);
            WT_LT(weft_now() - t0, 2 * WEFT_SEC);
            char what[128];
            WT_OK(weft_procpool_describe(f, what, sizeof what));
            if (!strstr(what, how_names[how]))
                WT_FAIL_("case %d/%d: \"%s\" does not name %s", how, when, what,
                         how_names[how]);
            WT_EQ(weft_procpool_task_signal(f), how_signals[how]);
            weft_future_unref(f);
            restarts++;
            run_thousand(p);
            expect_no_zombie(zygote);
        }
    }
    weft_procpool_metrics m;
    WT_OK(weft_procpool_metrics_get(p, &m));
    WT_EQ(m.restarts, restarts);
    WT_EQ(m.died_signal, 6);
    WT_EQ(m.died_exit, 3);
    WT_EQ(m.failed, restarts);
    WT_EQ(m.completed, restarts * 1000);
    long w[8];
    /* Replaced (the last replacement may still be starting). */
    int64_t deadline = weft_deadline_in(2 * WEFT_SEC);
    while (live_workers(zygote, w, 8) != 2 && !weft_deadline_passed(deadline))
        usleep(1000);
    WT_EQ(live_workers(zygote, w, 8), 2);
    weft_procpool_destroy(p);
    WT_EQ(children_of(getpid(), w, 8), 0);
}

/* A task that kills every worker it runs in is retried until it has killed
 * max_crashes of them; the pool goes on. */
static void test_retry_limit(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 2, .max_crashes = 3};
    WT_OK(weft_procpool_create(&p, &o));
    weft_future *f;
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(always_segv), NULL, 0, WEFT_NEVER, &f));
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), WEFT_EWORKER_DIED);
    char what[128];
    WT_OK(weft_procpool_describe(f, what, sizeof what));
    WT_ASSERT(strstr(what, "retried 2 times"));
    weft_future_unref(f);
    weft_procpool_metrics m;
    WT_OK(weft_procpool_metrics_get(p, &m));
    WT_EQ(m.retried, 2);
    WT_EQ(m.died_signal, 3);
    run_thousand(p);
    weft_procpool_destroy(p);
}

/* Deadlines: a task that runs past its deadline gets -ETIMEDOUT at the
 * deadline, its worker is killed and replaced; one that waits past its
 * deadline (no free worker) fails without ever running. */
static void test_deadlines(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 1};
    WT_OK(weft_procpool_create(&p, &o));
    weft_future *f, *g;
    int64_t t0 = weft_now();
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(spin_forever), NULL, 0,
                               weft_deadline_in(200 * WEFT_MSEC), &f));
    int64_t one = 1;
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(add_one), &one, sizeof one,
                               weft_deadline_in(100 * WEFT_MSEC), &g));
    WT_ERR(weft_future_result(g, WEFT_NEVER, NULL), -ETIMEDOUT); /* never ran */
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ETIMEDOUT);
    int64_t took = weft_now() - t0;
    WT_GE(took, 200 * WEFT_MSEC);
    WT_LT(took, 2 * WEFT_SEC);
    weft_future_unref(f);
    weft_future_unref(g);
    run_thousand(p);
    weft_procpool_metrics m;
    WT_OK(weft_procpool_metrics_get(p, &m));
    WT_EQ(m.timed_out, 2);
    WT_EQ(m.killed_timeout, 1);
    weft_procpool_destroy(p);
}

/* Cancel: a task no worker took is cancelled for good; the pool keeps
 * running the others. */
static void test_cancel_waiting(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 1};
    WT_OK(weft_procpool_create(&p, &o));
    weft_future *busy, *f;
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(spin_forever), NULL, 0,
                               weft_deadline_in(300 * WEFT_MSEC), &busy));
    int64_t x = 41;
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(add_one), &x, sizeof x, WEFT_NEVER, &f));
    WT_ERR(weft_future_cancel(f), -EBUSY); /* in the workers' hands: a request */
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ECANCELED);
    WT_ERR(weft_future_result(busy, WEFT_NEVER, NULL), -ETIMEDOUT);
    weft_future_unref(f);
    weft_future_unref(busy);
    run_thousand(p);
    weft_procpool_destroy(p);
}

/* max_tasks_per_child: workers are replaced after that many tasks, and
 * no task is lost on the way. */
static void test_recycling(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 2, .max_tasks_per_child = 10};
    WT_OK(weft_procpool_create(&p, &o));
    enum { K = 200 };
    weft_future *fs[K];
    for (int i = 0; i < K; i++)
        WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(my_pid), NULL, 0, WEFT_NEVER, &fs[i]));
    long pids[K];
    int distinct = 0;
    for (int i = 0; i < K; i++) {
        weft_value v;
        WT_OK(weft_future_result(fs[i], WEFT_NEVER, &v));
        bool seen = false;
        for (int j = 0; j < distinct; j++)
            seen |= pids[j] == v.i64;
        if (!seen)
            pids[distinct++] = v.i64;
        weft_future_unref(fs[i]);
    }
    WT_GE(distinct, K / 10);
    weft_procpool_metrics m;
    WT_OK(weft_procpool_shutdown(p, WEFT_PROCPOOL_WAIT, WEFT_NEVER));
    WT_OK(weft_procpool_metrics_get(p, &m));
    WT_EQ(m.completed, K);
    WT_GE(m.recycled, K / 10 - 2);
    WT_EQ(m.died_signal + m.died_exit, 0);
    weft_procpool_destroy(p);
}

static void test_chaos(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 3};
    WT_OK(weft_procpool_create(&p, &o));
    long zygote = zygote_pid();
    const int n = WT_SCALE(100000);
    weft_future **fs = calloc((size_t)n, sizeof *fs);
    WT_ASSERT(fs);
    int submitted = 0, kills = 0;
    int64_t next_kill = weft_deadline_in(50 * WEFT_MSEC);
    unsigned seed = 12345;
    while (submitted < n) {
        int64_t x = submitted;
        WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(add_one_slowly), &x, sizeof x,
                                   WEFT_NEVER, &fs[submitted]));
        submitted++;
        if (weft_deadline_passed(next_kill)) {
            long w[16];
            int k = live_workers(zygote, w, 16);
            if (k > 0) {
                kill((pid_t)w[rand_r(&seed) % (unsigned)k], SIGKILL);
                kills++;
            }
            next_kill = weft_deadline_in(50 * WEFT_MSEC);
        }
    }
    int done = 0, died = 0;
    for (int i = 0; i < n; i++) {
        weft_value v;
        int rc = weft_future_result(fs[i], WEFT_NEVER, &v);
        if (rc == 0) {
            WT_EQ(v.i64, i + 1);
            done++;
        } else {
            WT_ERR(rc, WEFT_EWORKER_DIED);
            died++;
        }
        weft_future_unref(fs[i]);
    }
    free(fs);
    WT_EQ(done + died, n);
    WT_LE(died, kills); /* one task per dead worker at most */
    weft_procpool_metrics m;
    WT_OK(weft_procpool_shutdown(p, WEFT_PROCPOOL_WAIT, WEFT_NEVER));
    WT_OK(weft_procpool_metrics_get(p, &m));
    WT_EQ(m.completed, done);
    WT_EQ(m.failed, died);
    WT_EQ(m.in_flight, 0);
    WT_EQ(m.restarts, kills);
    printf("   chaos: %d tasks, %d workers killed, %d tasks failed\n", n, kills, died);
    weft_procpool_destroy(p);
}

/* Under a sanitizer, let a worker's SIGSEGV kill it, as it would in a
 * plain build, instead of the sanitizer catching it and exiting: the pool
 * must see the signal. The workers inherit this environment (this
 * process read its own options already). */
static void workers_keep_their_signals(void)
{
    const char *vars[] = {"TSAN_OPTIONS", "ASAN_OPTIONS"};
    for (int i = 0; i < 2; i++) {
        const char *old = getenv(vars[i]);
        char buf[1024];
        snprintf(buf, sizeof buf, "%s%shandle_segv=0", old ? old : "", old && *old ? ":" : "");
        setenv(vars[i], buf, 1);
    }
}

int main(void)
{
    workers_keep_their_signals();
    WT_RUN(test_crash_matrix);
    WT_RUN(test_retry_limit);
    WT_RUN(test_deadlines);
    WT_RUN(test_cancel_waiting);
    WT_RUN(test_recycling);
    WT_RUN(test_chaos);
    return 0;
}
