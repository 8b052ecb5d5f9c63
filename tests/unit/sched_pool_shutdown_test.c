/* Thread pool shutdown (include/weft/pool.h, protocol in src/sched/pool.c):
 * the spec scenario (50 tasks of 100 ms on 5 workers, cancel_pending), then
 * each numbered step on its own: 1 close (later submits and blocked
 * submitters get -EPIPE), 2 cancel queued tasks in the submission queue and
 * in workers' deques, 3 stop after draining, 4 wait with a deadline; then
 * destroy joining every thread, and submits racing a shutdown. Blocking
 * points are observed through the virtual clock's timed-waiter count. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include <weft/future.h>
#include <weft/pool.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "test_threads.h"
#include "weft_test.h"

static weft_pool *new_pool(unsigned workers, size_t capacity, weft_pool_full_policy policy)
{
    weft_pool *p = NULL;
    weft_pool_opts o = {.workers = workers, .queue_capacity = capacity, .full_policy = policy};
    WT_OK(weft_pool_create(&p, &o));
    return p;
}

static void await_timed_waiters(int n)
{
    while (weft_clock_timed_waiters() < n)
        sched_yield();
}

/* ---- the spec scenario ---- */

static atomic_int started;

/* 100 ms of "work": a deadline wait on an event nobody sets (the workload's
 * duration, not an interleaving trick). */
static int hundred_ms(void *arg, weft_value *out)
{
    (void)arg;
    atomic_fetch_add(&started, 1);
    weft_event never;
    weft_event_init(&never);
    int rc = weft_event_wait(&never, weft_deadline_in(100 * WEFT_MSEC));
    out->i64 = rc == -ETIMEDOUT ? 1 : 0;
    return 0;
}

static void test_spec_50_tasks_5_workers(void)
{
    int threads_before = stable_thread_count();
    atomic_store(&started, 0);
    weft_pool *p = new_pool(5, 0, WEFT_POOL_BLOCK);
    weft_future *fs[50];
    for (int i = 0; i < 50; i++)
        WT_OK(weft_pool_submit(p, hundred_ms, NULL, WEFT_NEVER, &fs[i]));
    while (atomic_load(&started) < 5)
        sched_yield();
    int64_t t0 = weft_now();
    WT_OK(weft_pool_shutdown(p, true, true, WEFT_NEVER));
    int64_t took = weft_now() - t0;
    int cancelled = 0, done = 0;
    for (int i = 0; i < 50; i++) {
        weft_future_state st = weft_future_get_state(fs[i]);
        if (st == WEFT_FUTURE_CANCELLED) {
            cancelled++;
        } else {
            WT_EQ(st, WEFT_FUTURE_DONE);
            weft_value v;
            WT_OK(weft_future_result(fs[i], WEFT_NOW, &v));
            WT_EQ(v.i64, 1);
            done++;
        }
    }
    WT_GE(cancelled, 20);
    WT_EQ(cancelled + done, 50);
    /* Only the running tasks were waited for, not 10 rounds of them. */
    WT_LT(took, 2 * WEFT_SEC);
    weft_future *late = NULL;
    WT_ERR(weft_pool_submit(p, hundred_ms, NULL, WEFT_NEVER, &late), -EPIPE);
    WT_EQ_PTR(late, NULL);
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.cancelled, cancelled);
    WT_EQ(m.completed, done);
    WT_EQ(m.rejected, 1);
    weft_pool_destroy(p);
    expect_threads(threads_before);
    for (int i = 0; i < 50; i++)
        weft_future_unref(fs[i]);
}

/* ---- step by step ---- */

typedef struct gate {
    weft_event started, release;
} gate;

static void gate_init(gate *g)
{
    weft_event_init(&g->started);
    weft_event_init(&g->release);
}

static int gated(void *arg, weft_value *out)
{
    gate *g = arg;
    weft_event_set(&g->started);
    weft_event_wait(&g->release, WEFT_NEVER);
    out->i64 = 1;
    return 0;
}

static int nothing(void *arg, weft_value *out)
{
    (void)arg;
    out->i64 = 2;
    return 0;
}

typedef struct submit_job {
    weft_pool *p;
    int64_t deadline;
    int rc;
} submit_job;

static void *submit_in_thread(void *arg)
{
    submit_job *j = arg;
    j->rc = weft_pool_submit(j->p, nothing, NULL, j->deadline, NULL);
    return NULL;
}

/* Step 1: a submitter blocked on a full queue wakes with -EPIPE. */
static void test_step1_close_wakes_blocked_submitter(void)
{
    weft_pool *p = new_pool(1, 2, WEFT_POOL_BLOCK);
    gate g;
    gate_init(&g);
    WT_OK(weft_pool_submit(p, gated, &g, WEFT_NEVER, NULL));
    WT_OK(weft_event_wait(&g.started, WEFT_NEVER));
    WT_OK(weft_pool_submit(p, nothing, NULL, WEFT_NEVER, NULL));
    WT_OK(weft_pool_submit(p, nothing, NULL, WEFT_NEVER, NULL));
    WT_OK(weft_clock_use_virtual(1000));
    submit_job j = {p, weft_deadline_in(3600 * WEFT_SEC), 1};
    pthread_t th;
    WT_EQ(pthread_create(&th, NULL, submit_in_thread, &j), 0);
    await_timed_waiters(1); /* parked on the full queue */
    WT_OK(weft_pool_shutdown(p, false, false, WEFT_NOW));
    pthread_join(th, NULL);
    WT_ERR(j.rc, -EPIPE);
    weft_clock_use_real();
    WT_ERR(weft_pool_submit(p, nothing, NULL, WEFT_NEVER, NULL), -EPIPE);
    weft_event_set(&g.release);
    weft_pool_destroy(p);
}

/* Step 2: queued tasks are cancelled, in the submission queue and in a
 * worker's own deque; their callbacks run on the shutting-down thread. */
typedef struct parent_ctx {
    weft_pool *p;
    gate g;
    weft_future *children[3];
} parent_ctx;

static int parent(void *arg, weft_value *out)
{
    (void)out;
    parent_ctx *c = arg;
    for (int i = 0; i < 3; i++)
        if (weft_pool_submit(c->p, nothing, NULL, WEFT_NEVER, &c->children[i]) != 0)
            return -EIO;
    weft_event_set(&c->g.started);
    weft_event_wait(&c->g.release, WEFT_NEVER);
    return 0;
}

static _Thread_local int on_this_thread;

static void mark_thread(weft_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add((atomic_int *)arg, on_this_thread);
}

static void test_step2_cancel_pending(void)
{
    weft_pool *p = new_pool(1, 0, WEFT_POOL_BLOCK);
    parent_ctx c = {.p = p};
    gate_init(&c.g);
    weft_future *pf, *queued[4];
    WT_OK(weft_pool_submit(p, parent, &c, WEFT_NEVER, &pf));
    WT_OK(weft_event_wait(&c.g.started, WEFT_NEVER));
    for (int i = 0; i < 4; i++)
        WT_OK(weft_pool_submit(p, nothing, NULL, WEFT_NEVER, &queued[i]));
    atomic_int here = 0;
    on_this_thread = 1;
    for (int i = 0; i < 4; i++)
        WT_OK(weft_future_on_done(queued[i], mark_thread, &here));
    for (int i = 0; i < 3; i++)
        WT_OK(weft_future_on_done(c.children[i], mark_thread, &here));
    WT_OK(weft_pool_shutdown(p, false, true, WEFT_NOW));
    WT_EQ(atomic_load(&here), 7); /* all seven callbacks ran here, inside shutdown */
    for (int i = 0; i < 4; i++)
        WT_EQ(weft_future_get_state(queued[i]), WEFT_FUTURE_CANCELLED);
    for (int i = 0; i < 3; i++)
        WT_EQ(weft_future_get_state(c.children[i]), WEFT_FUTURE_CANCELLED);
    WT_EQ(weft_future_get_state(pf), WEFT_FUTURE_RUNNING); /* running: not interrupted */
    weft_event_set(&c.g.release);
    WT_OK(weft_pool_shutdown(p, true, false, WEFT_NEVER));
    WT_EQ(weft_future_get_state(pf), WEFT_FUTURE_DONE);
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.cancelled, 7);
    WT_EQ(m.completed, 1);
    weft_pool_destroy(p);
    weft_future_unref(pf);
    for (int i = 0; i < 4; i++)
        weft_future_unref(queued[i]);
    for (int i = 0; i < 3; i++)
        weft_future_unref(c.children[i]);
}

/* Step 3: without cancel_pending, everything queued still runs before the
 * workers exit. */
static void test_step3_drains_before_stopping(void)
{
    weft_pool *p = new_pool(2, 0, WEFT_POOL_BLOCK);
    gate g;
    gate_init(&g);
    weft_future *blocker, *fs[20];
    WT_OK(weft_pool_submit(p, gated, &g, WEFT_NEVER, &blocker));
    for (int i = 0; i < 20; i++)
        WT_OK(weft_pool_submit(p, nothing, NULL, WEFT_NEVER, &fs[i]));
    WT_OK(weft_pool_shutdown(p, false, false, WEFT_NOW));
    weft_event_set(&g.release);
    WT_OK(weft_pool_shutdown(p, true, false, WEFT_NEVER));
    for (int i = 0; i < 20; i++) {
        WT_EQ(weft_future_get_state(fs[i]), WEFT_FUTURE_DONE);
        weft_future_unref(fs[i]);
    }
    WT_EQ(weft_future_get_state(blocker), WEFT_FUTURE_DONE);
    weft_future_unref(blocker);
    weft_pool_destroy(p);
}

/* Step 4: waiting has a deadline; a second call can wait again. Waiting
 * from one of the pool's own tasks is refused. */
typedef struct shutdown_job {
    weft_pool *p;
    int64_t deadline;
    int rc;
} shutdown_job;

static void *shutdown_in_thread(void *arg)
{
    shutdown_job *j = arg;
    j->rc = weft_pool_shutdown(j->p, true, false, j->deadline);
    return NULL;
}

static int shutdown_from_inside(void *arg, weft_value *out)
{
    (void)out;
    return weft_pool_shutdown(arg, true, false, WEFT_NEVER);
}

static void test_step4_wait_deadline(void)
{
    weft_pool *p = new_pool(1, 0, WEFT_POOL_BLOCK);
    weft_future *inside;
    WT_OK(weft_pool_submit(p, shutdown_from_inside, p, WEFT_NEVER, &inside));
    WT_ERR(weft_future_result(inside, WEFT_NEVER, NULL), -EDEADLK);
    weft_future_unref(inside);
    gate g;
    gate_init(&g);
    WT_OK(weft_pool_submit(p, gated, &g, WEFT_NEVER, NULL));
    WT_OK(weft_event_wait(&g.started, WEFT_NEVER));
    WT_OK(weft_clock_use_virtual(1000));
    shutdown_job j = {p, weft_deadline_in(WEFT_SEC), 1};
    pthread_t th;
    WT_EQ(pthread_create(&th, NULL, shutdown_in_thread, &j), 0);
    await_timed_waiters(1);
    WT_OK(weft_clock_advance(WEFT_SEC));
    pthread_join(th, NULL);
    WT_ERR(j.rc, -ETIMEDOUT);
    weft_clock_use_real();
    WT_ERR(weft_pool_submit(p, nothing, NULL, WEFT_NEVER, NULL), -EPIPE);
    weft_event_set(&g.release);
    WT_OK(weft_pool_shutdown(p, true, false, WEFT_NEVER));
    WT_OK(weft_pool_shutdown(p, true, true, WEFT_NOW)); /* idempotent */
    weft_pool_destroy(p);
}

/* Destroy without shutdown: runs what is queued, joins every thread. */
static void test_destroy_joins(void)
{
    int before = stable_thread_count();
    for (int round = 0; round < 5; round++) {
        weft_pool *p = new_pool(4, 0, WEFT_POOL_BLOCK);
        expect_threads(before + 4);
        weft_future *f;
        WT_OK(weft_pool_submit(p, nothing, NULL, WEFT_NEVER, &f));
        weft_pool_destroy(p);
        WT_EQ(weft_future_get_state(f), WEFT_FUTURE_DONE);
        weft_future_unref(f);
        expect_threads(before);
    }
}

/* Submits racing a shutdown: each one fails with -EPIPE or is accepted, and
 * every accepted future ends terminal (run or cancelled) by destroy. */
enum { RACERS = 3, PER_RACER = 2000 };

typedef struct racer {
    weft_pool *p;
    weft_future *fs[PER_RACER];
    atomic_int accepted;
} racer;

static void *race_submit(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < PER_RACER; i++) {
        int k = atomic_load_explicit(&r->accepted, memory_order_relaxed);
        int rc = weft_pool_submit(r->p, nothing, NULL, WEFT_NEVER, &r->fs[k]);
        if (rc == -EPIPE)
            break;
        WT_OK(rc);
        atomic_store_explicit(&r->accepted, k + 1, memory_order_relaxed);
    }
    return NULL;
}

static void test_submit_racing_shutdown(void)
{
    for (int round = 0; round < WT_SCALE(20); round++) {
        weft_pool *p = new_pool(2, 64, WEFT_POOL_BLOCK);
        static racer rs[RACERS];
        pthread_t th[RACERS];
        for (int i = 0; i < RACERS; i++) {
            rs[i].p = p;
            atomic_store(&rs[i].accepted, 0);
            WT_EQ(pthread_create(&th[i], NULL, race_submit, &rs[i]), 0);
        }
        while (atomic_load(&rs[0].accepted) < 10)
            sched_yield();
        WT_OK(weft_pool_shutdown(p, false, round % 2 == 0, WEFT_NOW));
        for (int i = 0; i < RACERS; i++)
            pthread_join(th[i], NULL);
        weft_pool_destroy(p);
        for (int i = 0; i < RACERS; i++) {
            for (int k = 0; k < rs[i].accepted; k++) {
                weft_future_state st = weft_future_get_state(rs[i].fs[k]);
                WT_ASSERT(st == WEFT_FUTURE_DONE || st == WEFT_FUTURE_CANCELLED);
                weft_future_unref(rs[i].fs[k]);
            }
        }
    }
}

int main(void)
{
    WT_RUN(test_spec_50_tasks_5_workers);
    WT_RUN(test_step1_close_wakes_blocked_submitter);
    WT_RUN(test_step2_cancel_pending);
    WT_RUN(test_step3_drains_before_stopping);
    WT_RUN(test_step4_wait_deadline);
    WT_RUN(test_destroy_joins);
    WT_RUN(test_submit_racing_shutdown);
    return 0;
}
