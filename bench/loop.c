/* Event loop kernels for `weft bench`: the "switch round trip"
 * (two tasks of one loop ping-ponging over unbuffered weft channels, as Go's
 * task_pingpong does with goroutines and asyncio with queues) and
 * spawn+finish (a task spawned, run to its end and its record freed, as a
 * goroutine started and finished with a WaitGroup). */
#include <weft/chan.h>
#include <weft/coro.h>
#include <weft/error.h>
#include <weft/loop.h>
#include <weft/time.h>

#include "bench/bench.h"

typedef struct ping_args {
    weft_chan *a, *b;
    long n;
    double seconds;
} ping_args;

static int ponger(void *arg, weft_value *result)
{
    (void)result;
    ping_args *p = arg;
    long v;
    while (weft_chan_recv(p->a, &v, WEFT_NEVER) == 0)
        if (weft_chan_send(p->b, &v, WEFT_NEVER) != 0)
            return -EPIPE;
    return 0;
}

static int pinger(void *arg, weft_value *result)
{
    (void)result;
    ping_args *p = arg;
    weft_future *f;
    int rc = weft_spawn(NULL, ponger, p, NULL, &f);
    if (rc < 0)
        return rc;
    double t0 = weft_bench_seconds();
    for (long i = 0; i < p->n && rc == 0; i++) {
        long back;
        rc = weft_chan_send(p->a, &i, WEFT_NEVER);
        if (rc == 0)
            rc = weft_chan_recv(p->b, &back, WEFT_NEVER);
        if (rc == 0 && back != i)
            rc = -EPROTO;
    }
    p->seconds = weft_bench_seconds() - t0;
    weft_chan_close(p->a);
    weft_future_wait(f, WEFT_NEVER);
    weft_future_unref(f);
    return rc;
}

/* One op: a send and a receive each way, two task switches. */
static double task_pingpong(long n)
{
    weft_chan_opts o = {.elem_size = sizeof(long), .capacity = WEFT_CHAN_UNBUFFERED};
    ping_args p = {.n = n};
    int rc = weft_chan_create(&p.a, &o);
    if (rc == 0)
        rc = weft_chan_create(&p.b, &o);
    if (rc == 0)
        rc = weft_run(pinger, &p, NULL, NULL);
    weft_chan_destroy(p.a);
    weft_chan_destroy(p.b);
    return rc < 0 ? rc : p.seconds;
}

typedef struct spawn_args {
    long n, done;
    double seconds;
} spawn_args;

static int nothing(void *arg, weft_value *result)
{
    (void)result;
    ((spawn_args *)arg)->done++;
    return 0;
}

static int spawner(void *arg, weft_value *result)
{
    (void)result;
    spawn_args *s = arg;
    double t0 = weft_bench_seconds();
    for (long i = 0; i < s->n; i++) {
        int rc = weft_spawn(NULL, nothing, s, NULL, NULL);
        if (rc < 0)
            return rc;
        if (i % 1024 == 1023)
            weft_task_yield(); /* let them run and free their records */
    }
    while (s->done < s->n)
        weft_task_yield();
    s->seconds = weft_bench_seconds() - t0;
    return 0;
}

/* One op: weft_spawn (detached) + the task's run + its end. */
static double task_spawn_finish(long n)
{
    spawn_args s = {.n = n};
    weft_loop_opts o = {.stack_size = 16 * 1024};
    int rc = weft_run(spawner, &s, &o, NULL);
    return rc < 0 ? rc : s.seconds;
}

typedef struct sleepers_args {
    long n;
    int64_t deadline;
} sleepers_args;

static int sleeper(void *arg, weft_value *result)
{
    (void)result;
    return weft_sleep_until(((sleepers_args *)arg)->deadline);
}

static int spawn_sleepers(void *arg, weft_value *result)
{
    (void)result;
    sleepers_args *s = arg;
    weft_spawn_opts so = {.stack_size = WEFT_CORO_STACK_MIN};
    for (long i = 0; i < s->n; i++) {
        int rc = weft_spawn(NULL, sleeper, s, &so, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One op: one of n tasks alive at once, each sleeping until 2 s after the
 * start (Go's goroutines sleeping 2 s): the time is the wall time beyond
 * the 2 s, so spawning, parking, the timers, the wake-ups and the ends. */
static double sleepers_1m(long n)
{
    weft_loop_opts o = {.stall_ns = -1}; /* spawning a million takes a while */
    weft_loop *loop;
    int rc = weft_loop_create(&loop, &o);
    if (rc < 0)
        return rc;
    double t0 = weft_bench_seconds();
    sleepers_args s = {.n = n, .deadline = weft_deadline_in(2 * WEFT_SEC)};
    rc = weft_spawn(loop, spawn_sleepers, &s, NULL, NULL);
    if (rc == 0)
        rc = weft_loop_run(loop, NULL);
    double total = weft_bench_seconds() - t0;
    weft_loop_destroy(loop);
    return rc < 0 ? rc : total - 2.0;
}

enum { TIMERS = 10000 };

typedef struct timers_args {
    long n;
    double seconds;
} timers_args;

static int arm_cancel(void *arg, weft_value *result)
{
    (void)result;
    timers_args *a = arg;
    static weft_timeout scopes[TIMERS];
    uint64_t rng = 88172645463325252ull;
    int64_t base = weft_now() + WEFT_SEC;
    double t0 = weft_bench_seconds();
    for (long done = 0; done < a->n; done += TIMERS) {
        for (int i = 0; i < TIMERS; i++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            int rc = weft_timeout_enter(&scopes[i], base + (int64_t)(rng % WEFT_SEC));
            if (rc < 0)
                return rc;
        }
        for (int i = TIMERS - 1; i >= 0; i--)
            weft_timeout_exit(&scopes[i], 0);
    }
    a->seconds = weft_bench_seconds() - t0;
    return 0;
}

/* One op: a timer armed (a timeout scope entered with a deadline 1-2 s
 * away, among 10k armed at once) and cancelled (the scope exited), as
 * uv_timer_start/stop, Go's time.AfterFunc/Stop and asyncio's
 * call_later/cancel do in the peers. */
static double timers_arm_cancel(long n)
{
    timers_args a = {.n = n < TIMERS ? TIMERS : n};
    weft_loop_opts o = {.stall_ns = -1}; /* it never suspends, on purpose */
    int rc = weft_run(arm_cancel, &a, &o, NULL);
    return rc < 0 ? rc : a.seconds * (double)n / (double)((a.n + TIMERS - 1) / TIMERS * TIMERS);
}

const weft_bench_kernel weft_bench_loop_kernels[] = {
    {"task_pingpong", "two tasks of one loop: send + receive each way on unbuffered channels",
     "task_pingpong", 2000000, task_pingpong},
    {"task_spawn_finish", "weft_spawn of a task that returns at once, run to its end",
     "spawn_finish", 2000000, task_spawn_finish},
    {"timers_arm_cancel", "a timer armed and cancelled, 10k armed at once, deadlines 1-2 s away",
     "timers_arm_cancel", 10000000, timers_arm_cancel},
    {"sleepers_1m",
     "one of 1M tasks (1 KiB stacks) sleeping 2 s at once: wall time beyond the sleep",
     "sleepers_1m", 1000000, sleepers_1m},
    {0},
};
