/* Thread pool basics (include/weft/pool.h): submit and results, failures,
 * fire-and-forget, cancellation of queued tasks and cancel requests seen by
 * running ones, weft_pool_wait from outside and inside, parallel_for,
 * thread names, metrics counts and the text/JSON report. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <weft/future.h>
#include <weft/metrics.h>
#include <weft/pool.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "weft_test.h"

static weft_pool *new_pool(unsigned workers, const char *name)
{
    weft_pool *p = NULL;
    weft_pool_opts o = {.workers = workers, .name = name, .timing_sample = 1};
    WT_OK(weft_pool_create(&p, &o));
    WT_ASSERT(p != NULL);
    return p;
}

static int square(void *arg, weft_value *out)
{
    int64_t x = (int64_t)(intptr_t)arg;
    out->i64 = x * x;
    return 0;
}

static int fail_with(void *arg, weft_value *out)
{
    (void)out;
    return (int)(intptr_t)arg;
}

static void test_submit_results(void)
{
    weft_pool *p = new_pool(2, "basic");
    enum { N = 100 };
    weft_future *fs[N];
    for (int i = 0; i < N; i++)
        WT_OK(weft_pool_submit(p, square, (void *)(intptr_t)i, WEFT_NEVER, &fs[i]));
    for (int i = 0; i < N; i++) {
        weft_value v;
        WT_OK(weft_future_result(fs[i], WEFT_NEVER, &v));
        WT_EQ(v.i64, (int64_t)i * i);
        weft_future_unref(fs[i]);
    }
    weft_future *f;
    WT_OK(weft_pool_submit(p, fail_with, (void *)(intptr_t)-EIO, WEFT_NEVER, &f));
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -EIO);
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_FAILED);
    weft_future_unref(f);
    WT_OK(weft_pool_submit(p, fail_with, (void *)(intptr_t)5, WEFT_NEVER, &f));
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -EINVAL); /* positive return */
    weft_future_unref(f);
    WT_OK(weft_pool_submit(p, fail_with, (void *)(intptr_t)-ECANCELED, WEFT_NEVER, &f));
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ECANCELED);
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_CANCELLED);
    weft_future_unref(f);
    WT_ERR(weft_pool_submit(p, NULL, NULL, WEFT_NEVER, &f), -EINVAL);
    WT_ERR(weft_pool_submit(NULL, square, NULL, WEFT_NEVER, &f), -EINVAL);

    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.workers, 2);
    WT_EQ(m.submitted, N + 3);
    WT_EQ(m.completed, N);
    WT_EQ(m.failed, 2);
    WT_EQ(m.cancelled, 1);
    WT_EQ(m.queue_depth, 0);
    WT_EQ(m.queue_wait.count, N + 3); /* timing_sample = 1 */
    WT_EQ(m.run_time.count, N + 3);
    weft_pool_destroy(p);
}

/* A task that blocks on an event, so the test controls when it finishes. */
typedef struct gate {
    weft_event started, release;
} gate;

static int gated(void *arg, weft_value *out)
{
    gate *g = arg;
    weft_event_set(&g->started);
    weft_event_wait(&g->release, WEFT_NEVER);
    out->i64 = 7;
    return 0;
}

static atomic_int ff_count;

static int count_once(void *arg, weft_value *out)
{
    (void)arg;
    (void)out;
    atomic_fetch_add(&ff_count, 1);
    return 0;
}

static void on_done_count(weft_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_cancel_queued_and_fire_and_forget(void)
{
    weft_pool *p = new_pool(1, "cancel");
    gate g;
    weft_event_init(&g.started);
    weft_event_init(&g.release);
    weft_future *blocker, *queued;
    WT_OK(weft_pool_submit(p, gated, &g, WEFT_NEVER, &blocker));
    WT_OK(weft_event_wait(&g.started, WEFT_NEVER));
    /* The only worker is busy: this one stays queued and can be cancelled. */
    WT_OK(weft_pool_submit(p, count_once, NULL, WEFT_NEVER, &queued));
    atomic_int cbs = 0;
    WT_OK(weft_future_on_done(queued, on_done_count, &cbs));
    WT_OK(weft_future_cancel(queued));
    WT_EQ(atomic_load(&cbs), 1);
    /* A running task only gets a request. */
    WT_ERR(weft_future_cancel(blocker), -EBUSY);
    for (int i = 0; i < 10; i++)
        WT_OK(weft_pool_submit(p, count_once, NULL, WEFT_NEVER, NULL));
    weft_event_set(&g.release);
    weft_value v;
    WT_OK(weft_future_result(blocker, WEFT_NEVER, &v));
    WT_EQ(v.i64, 7);
    WT_ERR(weft_future_result(queued, WEFT_NEVER, NULL), -ECANCELED);
    weft_future_unref(blocker);
    weft_future_unref(queued);
    weft_pool_destroy(p); /* runs the 10 fire-and-forget tasks first */
    WT_EQ(atomic_load(&ff_count), 10);
}

static int poll_cancel(void *arg, weft_value *out)
{
    (void)out;
    weft_event *started = arg;
    weft_future *self = weft_pool_current_future();
    weft_event_set(started);
    while (!weft_future_cancel_requested(self))
        sched_yield();
    return -ECANCELED;
}

static void test_cancel_request_reaches_running_task(void)
{
    weft_pool *p = new_pool(1, NULL);
    WT_EQ_PTR(weft_pool_current_future(), NULL);
    weft_event started;
    weft_event_init(&started);
    weft_future *f;
    WT_OK(weft_pool_submit(p, poll_cancel, &started, WEFT_NEVER, &f));
    WT_OK(weft_event_wait(&started, WEFT_NEVER));
    WT_ERR(weft_future_cancel(f), -EBUSY);
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ECANCELED);
    weft_future_unref(f);
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.cancelled, 1);
    weft_pool_destroy(p);
}

typedef struct timed_wait {
    weft_pool *p;
    weft_future *f;
    int64_t deadline;
    int rc;
} timed_wait;

static void *wait_in_thread(void *arg)
{
    timed_wait *t = arg;
    t->rc = weft_pool_wait(t->p, t->f, t->deadline);
    return NULL;
}

/* weft_pool_wait from outside the pool times out on the virtual clock. */
static void test_wait_deadline_outside(void)
{
    weft_pool *p = new_pool(1, NULL);
    gate g;
    weft_event_init(&g.started);
    weft_event_init(&g.release);
    weft_future *f;
    WT_OK(weft_pool_submit(p, gated, &g, WEFT_NEVER, &f));
    WT_ERR(weft_pool_wait(p, f, WEFT_NOW), -ETIMEDOUT);
    WT_OK(weft_clock_use_virtual(1000));
    timed_wait t = {p, f, weft_deadline_in(WEFT_SEC), 1};
    pthread_t th;
    WT_EQ(pthread_create(&th, NULL, wait_in_thread, &t), 0);
    while (weft_clock_timed_waiters() < 1)
        sched_yield();
    WT_OK(weft_clock_advance(WEFT_SEC));
    pthread_join(th, NULL);
    WT_ERR(t.rc, -ETIMEDOUT);
    weft_clock_use_real();
    weft_event_set(&g.release);
    WT_OK(weft_pool_wait(p, f, WEFT_NEVER));
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_DONE);
    WT_ERR(weft_pool_wait(NULL, f, WEFT_NOW), -EINVAL);
    weft_future_unref(f);
    weft_pool_destroy(p);
}

/* Every worker waits on a future of the same pool: without help-while-
 * waiting this would deadlock a 2-worker pool. */
typedef struct waits_ctx {
    weft_pool *p;
    weft_barrier *both;
} waits_ctx;

static int leaf(void *arg, weft_value *out)
{
    (void)arg;
    out->i64 = 1;
    return 0;
}

static int waits_on_child(void *arg, weft_value *out)
{
    waits_ctx *c = arg;
    /* Both workers are inside a waiting task before any child exists. */
    weft_barrier_wait(c->both, WEFT_NEVER);
    weft_future *child;
    int rc = weft_pool_submit(c->p, leaf, NULL, WEFT_NEVER, &child);
    if (rc != 0)
        return rc;
    weft_pool_wait(c->p, child, WEFT_NEVER);
    rc = weft_future_result(child, WEFT_NOW, out);
    weft_future_unref(child);
    return rc;
}

/* A task helping while it waits still honours its deadline (virtual
 * clock): nothing to help with, it parks until the deadline. */
typedef struct inner_wait {
    weft_pool *p;
    weft_future *target;
    int64_t deadline;
} inner_wait;

static int wait_inside(void *arg, weft_value *out)
{
    (void)out;
    inner_wait *iw = arg;
    int rc = weft_pool_wait(iw->p, iw->target, WEFT_NOW);
    if (rc != -ETIMEDOUT)
        return -EPROTO;
    return weft_pool_wait(iw->p, iw->target, iw->deadline);
}

static void test_help_wait_deadline_inside(void)
{
    weft_pool *p = new_pool(2, NULL);
    gate g;
    weft_event_init(&g.started);
    weft_event_init(&g.release);
    weft_future *blocked, *waiter;
    WT_OK(weft_pool_submit(p, gated, &g, WEFT_NEVER, &blocked));
    WT_OK(weft_event_wait(&g.started, WEFT_NEVER));
    WT_OK(weft_clock_use_virtual(1000));
    inner_wait iw = {p, blocked, weft_deadline_in(WEFT_SEC)};
    WT_OK(weft_pool_submit(p, wait_inside, &iw, WEFT_NEVER, &waiter));
    while (weft_clock_timed_waiters() < 1)
        sched_yield();
    WT_OK(weft_clock_advance(WEFT_SEC));
    WT_ERR(weft_future_result(waiter, WEFT_NEVER, NULL), -ETIMEDOUT);
    weft_clock_use_real();
    weft_event_set(&g.release);
    WT_OK(weft_future_result(blocked, WEFT_NEVER, NULL));
    weft_future_unref(waiter);
    weft_future_unref(blocked);
    weft_pool_destroy(p);
}

static void test_help_while_waiting(void)
{
    weft_pool *p = new_pool(2, NULL);
    weft_barrier both;
    WT_OK(weft_barrier_init(&both, 2));
    waits_ctx c = {p, &both};
    weft_future *a, *b;
    WT_OK(weft_pool_submit(p, waits_on_child, &c, WEFT_NEVER, &a));
    WT_OK(weft_pool_submit(p, waits_on_child, &c, WEFT_NEVER, &b));
    weft_value v;
    WT_OK(weft_future_result(a, WEFT_NEVER, &v));
    WT_EQ(v.i64, 1);
    WT_OK(weft_future_result(b, WEFT_NEVER, &v));
    WT_EQ(v.i64, 1);
    weft_future_unref(a);
    weft_future_unref(b);
    weft_pool_destroy(p);
    weft_barrier_destroy(&both);
}

/* ---- parallel_for ---- */

typedef struct sum_ctx {
    _Atomic int64_t sum;
    _Atomic int64_t ranges;
    int64_t grain;
    int64_t fail_at;
} sum_ctx;

static int add_range(void *arg, int64_t lo, int64_t hi)
{
    sum_ctx *c = arg;
    if (hi - lo > c->grain || hi <= lo)
        return -ERANGE;
    if (c->fail_at >= lo && c->fail_at < hi)
        return -EIO;
    int64_t s = 0;
    for (int64_t i = lo; i < hi; i++)
        s += i;
    atomic_fetch_add(&c->sum, s);
    atomic_fetch_add(&c->ranges, 1);
    return 0;
}

static void test_parallel_for(void)
{
    weft_pool *p = new_pool(2, NULL);
    sum_ctx c = {.grain = 1000, .fail_at = -1};
    WT_OK(weft_pool_parallel_for(p, 0, 1000000, 1000, add_range, &c));
    WT_EQ(atomic_load(&c.sum), (int64_t)1000000 * 999999 / 2);
    WT_EQ(atomic_load(&c.ranges), 1000);
    /* Default grain, an offset range. */
    sum_ctx d = {.grain = INT64_MAX, .fail_at = -1};
    WT_OK(weft_pool_parallel_for(p, 10, 20010, 0, add_range, &d));
    int64_t want = (int64_t)20009 * 20010 / 2 - (int64_t)9 * 10 / 2;
    WT_EQ(atomic_load(&d.sum), want);
    /* An error stops the loop and is returned. */
    sum_ctx e = {.grain = 10, .fail_at = 5000};
    WT_ERR(weft_pool_parallel_for(p, 0, 100000, 10, add_range, &e), -EIO);
    WT_OK(weft_pool_parallel_for(p, 5, 5, 1, add_range, &e));
    WT_ERR(weft_pool_parallel_for(p, 5, 4, 1, add_range, &e), -EINVAL);
    weft_pool_shutdown(p, true, false, WEFT_NEVER);
    WT_ERR(weft_pool_parallel_for(p, 0, 10, 1, add_range, &e), -EPIPE);
    weft_pool_destroy(p);
}

/* ---- names, metrics, report ---- */

static int read_comm_names(char names[][32], int max)
{
    DIR *d = opendir("/proc/self/task");
    WT_ASSERT(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(names[n], 32, f)) {
            names[n][strcspn(names[n], "\n")] = 0;
            n++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

static void test_thread_names(void)
{
    weft_pool *p = new_pool(3, "a-very-long-pool-name");
    char names[64][32];
    int n = read_comm_names(names, 64);
    int found = 0;
    for (int i = 0; i < n; i++) {
        WT_LE(strlen(names[i]), 15);
        if (strncmp(names[i], "a-very-long-", 12) == 0)
            found++;
    }
    WT_EQ(found, 3);
    weft_pool_destroy(p);
    p = new_pool(1, NULL);
    n = read_comm_names(names, 64);
    found = 0;
    for (int i = 0; i < n; i++)
        found += strcmp(names[i], "weft-pool-0") == 0;
    WT_EQ(found, 1);
    weft_pool_destroy(p);
}

static void test_report(void)
{
    weft_pool *p = new_pool(2, NULL);
    for (int i = 0; i < 50; i++)
        WT_OK(weft_pool_submit(p, count_once, NULL, WEFT_NEVER, NULL));
    weft_pool_shutdown(p, true, false, WEFT_NEVER);
    weft_pool_metrics m;
    WT_OK(weft_pool_metrics_get(p, &m));
    WT_EQ(m.submitted, 50);
    WT_EQ(m.completed, 50);
    WT_GE(m.queue_depth_peak, 1);
    WT_ASSERT(m.busy_avg >= 0.0 && m.busy_avg <= 1.0);
    WT_ASSERT(m.busy_ratio[0] > 0.0 || m.busy_ratio[1] > 0.0);
    weft_report *r;
    WT_OK(weft_report_create(&r, "pool"));
    WT_OK(weft_pool_report(p, r, "pool."));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    WT_OK(weft_report_write_json(r, f));
    fclose(f);
    WT_ASSERT(strstr(buf, "\"pool.completed\", \"type\": \"counter\", \"value\": 50") != NULL ||
              strstr(buf, "\"pool.completed\"") != NULL);
    WT_ASSERT(strstr(buf, "\"pool.queue_wait\"") != NULL);
    WT_ASSERT(strstr(buf, "\"pool.busy.1\"") != NULL);
    free(buf);
    f = open_memstream(&buf, &len);
    WT_OK(weft_report_write_text(r, f));
    fclose(f);
    WT_ASSERT(strstr(buf, "pool.submitted") != NULL);
    free(buf);
    weft_report_destroy(r);
    WT_ERR(weft_pool_report(NULL, r, NULL), -EINVAL);
    WT_ERR(weft_pool_metrics_get(p, NULL), -EINVAL);
    weft_pool_destroy(p);
}

static void test_create_errors(void)
{
    weft_pool *p = (weft_pool *)&p;
    weft_pool_opts o = {.full_policy = (weft_pool_full_policy)42};
    WT_ERR(weft_pool_create(&p, &o), -EINVAL);
    WT_EQ_PTR(p, (weft_pool *)&p);
    WT_ERR(weft_pool_create(NULL, NULL), -EINVAL);
    WT_OK(weft_pool_create(&p, NULL));
    WT_GE(weft_pool_workers(p), 1);
    weft_pool_destroy(p);
    weft_pool_destroy(NULL);
}

int main(void)
{
    WT_RUN(test_submit_results);
    WT_RUN(test_cancel_queued_and_fire_and_forget);
    WT_RUN(test_cancel_request_reaches_running_task);
    WT_RUN(test_wait_deadline_outside);
    WT_RUN(test_help_while_waiting);
    WT_RUN(test_help_wait_deadline_inside);
    WT_RUN(test_parallel_for);
    WT_RUN(test_thread_names);
    WT_RUN(test_report);
    WT_RUN(test_create_errors);
    return 0;
}
