/* Futures, one at a time (include/weft/future.h): the state machine and
 * every error code, result values, reference counting, completion
 * callbacks, and waits with deadlines on the virtual clock. Waiting on many
 * futures is in sched_future_wait_test.c, races in sched_future_race_test.c. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weft/future.h>
#include <weft/time.h>

#include "weft_test.h"

/* An atomic's value, named so that a failed assertion prints "loaded(&x)". */
static int loaded(const atomic_int *a)
{
    return atomic_load((atomic_int *)a);
}

static weft_future *new_future(void)
{
    weft_future *f = NULL;
    WT_OK(weft_future_create(&f));
    WT_ASSERT(f != NULL);
    return f;
}

static weft_value i64_value(int64_t x)
{
    weft_value v;
    memset(&v, 0, sizeof v);
    v.i64 = x;
    return v;
}

/* Spin (yielding) until n threads are parked on virtual deadlines. */
static void await_timed_waiters(int n)
{
    while (weft_clock_timed_waiters() < n)
        sched_yield();
}

/* ---- State machine ------------------------------------------------------ */

static void test_create_is_pending(void)
{
    WT_ERR(weft_future_create(NULL), -EINVAL);
    weft_future *f = new_future();
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_PENDING);
    WT_ERR(weft_future_error(f), -EAGAIN);
    WT_ASSERT(!weft_future_cancel_requested(f));
    WT_ERR(weft_future_wait(f, WEFT_NOW), -ETIMEDOUT);
    weft_value v = i64_value(-1);
    WT_ERR(weft_future_result(f, WEFT_NOW, &v), -ETIMEDOUT);
    WT_EQ(v.i64, -1); /* untouched on error */
    WT_ERR(weft_future_wait(f, weft_now() - 1), -ETIMEDOUT);
    weft_future_unref(f);
    weft_future_unref(NULL);
}

static void test_start_then_complete(void)
{
    weft_future *f = new_future();
    WT_OK(weft_future_start(f));
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_RUNNING);
    WT_ERR(weft_future_start(f), -EALREADY);
    WT_ERR(weft_future_error(f), -EAGAIN);
    WT_OK(weft_future_complete(f, i64_value(42), 0));
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_DONE);
    WT_ERR(weft_future_complete(f, i64_value(43), 0), -EALREADY);
    WT_ERR(weft_future_complete(f, i64_value(0), -EIO), -EALREADY);
    WT_ERR(weft_future_start(f), -EALREADY);
    WT_ERR(weft_future_cancel(f), -EALREADY);
    WT_ASSERT(!weft_future_cancel_requested(f));
    WT_OK(weft_future_error(f));
    WT_OK(weft_future_wait(f, WEFT_NOW));
    weft_value v = i64_value(0);
    WT_OK(weft_future_result(f, WEFT_NOW, &v));
    WT_EQ(v.i64, 42); /* the first completion's value, not the refused one */
    WT_OK(weft_future_result(f, WEFT_NEVER, NULL));
    weft_future_unref(f);
}

static void test_complete_without_start(void)
{
    /* An I/O operation completes straight from PENDING. */
    weft_future *f = new_future();
    WT_OK(weft_future_complete(f, i64_value(7), 0));
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_DONE);
    WT_ERR(weft_future_start(f), -EALREADY);
    weft_value v;
    WT_OK(weft_future_result(f, WEFT_NOW, &v));
    WT_EQ(v.i64, 7);
    weft_future_unref(f);
}

static void test_failed(void)
{
    weft_future *f = new_future();
    WT_ERR(weft_future_complete(f, i64_value(1), 5), -EINVAL); /* errors are negative */
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_PENDING);
    WT_OK(weft_future_start(f));
    WT_OK(weft_future_complete(f, i64_value(1), -EIO));
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_FAILED);
    WT_ERR(weft_future_error(f), -EIO);
    weft_value v = i64_value(-1);
    WT_ERR(weft_future_result(f, WEFT_NOW, &v), -EIO);
    WT_EQ(v.i64, -1);
    WT_OK(weft_future_wait(f, WEFT_NOW));
    WT_ERR(weft_future_cancel(f), -EALREADY);
    WT_ERR(weft_future_complete(f, i64_value(0), 0), -EALREADY);
    weft_future_unref(f);

    /* A weft-specific code passes through unchanged. */
    f = new_future();
    WT_OK(weft_future_complete(f, i64_value(0), WEFT_EWORKER_DIED));
    WT_ERR(weft_future_result(f, WEFT_NOW, NULL), WEFT_EWORKER_DIED);
    weft_future_unref(f);
}

static void test_cancel_pending(void)
{
    weft_future *f = new_future();
    WT_OK(weft_future_cancel(f));
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_CANCELLED);
    WT_ASSERT(weft_future_cancel_requested(f));
    WT_ERR(weft_future_cancel(f), -EALREADY);
    WT_ERR(weft_future_start(f), -ECANCELED); /* the producer skips the task */
    WT_ERR(weft_future_complete(f, i64_value(1), 0), -EALREADY);
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_CANCELLED);
    WT_ERR(weft_future_error(f), -ECANCELED);
    WT_OK(weft_future_wait(f, WEFT_NOW));
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ECANCELED);
    weft_future_unref(f);
}

static void test_cancel_running(void)
{
    /* The task honours the request: completing with -ECANCELED ends in
     * CANCELLED. */
    weft_future *f = new_future();
    WT_OK(weft_future_start(f));
    WT_ASSERT(!weft_future_cancel_requested(f));
    WT_ERR(weft_future_cancel(f), -EBUSY);
    WT_ASSERT(weft_future_cancel_requested(f));
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_RUNNING);
    WT_ERR(weft_future_cancel(f), -EBUSY); /* still running, still a request */
    WT_ERR(weft_future_wait(f, WEFT_NOW), -ETIMEDOUT);
    WT_OK(weft_future_complete(f, i64_value(0), -ECANCELED));
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_CANCELLED);
    WT_ERR(weft_future_result(f, WEFT_NOW, NULL), -ECANCELED);
    WT_ERR(weft_future_cancel(f), -EALREADY);
    weft_future_unref(f);

    /* The task ignores it and finishes: DONE, request still visible. */
    f = new_future();
    WT_OK(weft_future_start(f));
    WT_ERR(weft_future_cancel(f), -EBUSY);
    WT_OK(weft_future_complete(f, i64_value(9), 0));
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_DONE);
    WT_ASSERT(weft_future_cancel_requested(f));
    weft_value v;
    WT_OK(weft_future_result(f, WEFT_NOW, &v));
    WT_EQ(v.i64, 9);
    weft_future_unref(f);
}

/* ---- Values ------------------------------------------------------------- */

static void test_values(void)
{
    static int target;
    weft_future *f = new_future();
    weft_value in = {.ptr = &target}, out = {.ptr = NULL};
    WT_OK(weft_future_complete(f, in, 0));
    WT_OK(weft_future_result(f, WEFT_NOW, &out));
    WT_EQ_PTR(out.ptr, &target);
    weft_future_unref(f);

    f = new_future();
    WT_OK(weft_future_complete(f, i64_value(INT64_MIN), 0));
    WT_OK(weft_future_result(f, WEFT_NOW, &out));
    WT_ASSERT(out.i64 == INT64_MIN);
    weft_future_unref(f);

    f = new_future();
    in.u64 = UINT64_MAX;
    WT_OK(weft_future_complete(f, in, 0));
    WT_OK(weft_future_result(f, WEFT_NOW, &out));
    WT_EQ_U(out.u64, UINT64_MAX);
    weft_future_unref(f);

    f = new_future();
    in.f64 = 2.5;
    WT_OK(weft_future_complete(f, in, 0));
    WT_OK(weft_future_result(f, WEFT_NOW, &out));
    WT_NEAR(out.f64, 2.5, 0);
    weft_future_unref(f);

    /* Inline bytes: all 16 of them come back. */
    f = new_future();
    for (int i = 0; i < 16; i++)
        in.bytes[i] = (unsigned char)(0xA0 + i);
    WT_OK(weft_future_complete(f, in, 0));
    memset(&out, 0, sizeof out);
    WT_OK(weft_future_result(f, WEFT_NOW, &out));
    WT_EQ(memcmp(out.bytes, in.bytes, sizeof in.bytes), 0);
    weft_future_unref(f);
}

/* ---- References --------------------------------------------------------- */

static void test_refcount(void)
{
    weft_future *f = new_future();
    WT_EQ_PTR(weft_future_ref(f), f); /* the producer's reference */
    weft_future *consumer = f;
    weft_future_unref(consumer); /* the consumer gives up early */
    /* The producer's reference keeps it alive; ASan checks that. */
    WT_OK(weft_future_start(f));
    WT_OK(weft_future_complete(f, i64_value(1), 0));
    weft_future_unref(f);
}

static atomic_int dropped_runs;

static void cb_drop_ref(weft_future *f, void *arg)
{
    /* arg owns a reference: the callback may drop it (rule 4), while the
     * completer's borrowed one keeps f alive for the rest of the call. */
    WT_EQ_PTR(arg, f);
    weft_future_unref(arg);
    atomic_fetch_add(&dropped_runs, 1);
}

static void test_callback_drops_a_reference(void)
{
    weft_future *f = new_future();
    WT_OK(weft_future_on_done(f, cb_drop_ref, weft_future_ref(f)));
    WT_OK(weft_future_on_done(f, cb_drop_ref, weft_future_ref(f)));
    WT_OK(weft_future_complete(f, i64_value(1), 0));
    WT_EQ(loaded(&dropped_runs), 2);
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_DONE);
    weft_future_unref(f); /* the last one: ASan reports a leak otherwise */
}

static atomic_int never_runs;

static void cb_must_not_run(weft_future *f, void *arg)
{
    (void)f;
    (void)arg;
    atomic_fetch_add(&never_runs, 1);
}

static void test_unfinished_future_frees_its_callbacks(void)
{
    /* Rule 6: the last reference dropped on a PENDING future drops its
     * callbacks (inline slot and heap nodes) unrun, without leaking. */
    weft_future *f = new_future();
    for (int i = 0; i < 3; i++)
        WT_OK(weft_future_on_done(f, cb_must_not_run, NULL));
    weft_future_unref(f);
    WT_EQ(loaded(&never_runs), 0);
}

/* ---- Callbacks ---------------------------------------------------------- */

typedef struct cb_log {
    atomic_int count;
    int order[8];
    weft_future_state seen[8];
    pthread_t thread[8];
    int64_t value[8];
} cb_log;

typedef struct cb_arg {
    cb_log *log;
    int id;
} cb_arg;

static void cb_record(weft_future *f, void *arg)
{
    cb_arg *a = arg;
    int slot = atomic_fetch_add(&a->log->count, 1);
    WT_LT(slot, 8);
    a->log->order[slot] = a->id;
    a->log->seen[slot] = weft_future_get_state(f);
    a->log->thread[slot] = pthread_self();
    weft_value v = i64_value(-1);
    weft_future_result(f, WEFT_NOW, &v); /* terminal: never blocks */
    a->log->value[slot] = v.i64;
}

typedef struct completer {
    weft_future *f;
    int64_t value;
    pthread_t self;
} completer;

static void *complete_thread(void *arg)
{
    completer *c = arg;
    c->self = pthread_self();
    WT_OK(weft_future_complete(c->f, i64_value(c->value), 0));
    return NULL;
}

static void test_callbacks_run_once_in_order_on_completer(void)
{
    weft_future *f = new_future();
    cb_log log = {0};
    cb_arg args[3] = {{&log, 10}, {&log, 11}, {&log, 12}};
    for (int i = 0; i < 3; i++) /* the first takes the inline slot */
        WT_OK(weft_future_on_done(f, cb_record, &args[i]));
    WT_EQ(loaded(&log.count), 0); /* never inside the registering call */
    WT_ERR(weft_future_on_done(f, NULL, NULL), -EINVAL);

    completer c = {.f = f, .value = 77};
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, complete_thread, &c), 0);
    pthread_join(t, NULL);
    WT_EQ(loaded(&log.count), 3); /* run before complete returned */
    for (int i = 0; i < 3; i++) {
        WT_EQ(log.order[i], 10 + i);
        WT_EQ(log.seen[i], WEFT_FUTURE_DONE);
        WT_EQ(log.value[i], 77);
        WT_ASSERT(pthread_equal(log.thread[i], c.self));
    }
    /* Terminal: refused, and the callback never runs. */
    cb_arg late = {&log, 99};
    WT_ERR(weft_future_on_done(f, cb_record, &late), -EALREADY);
    WT_ERR(weft_future_complete(f, i64_value(1), 0), -EALREADY);
    WT_EQ(loaded(&log.count), 3);
    weft_future_unref(f);
}

static void test_cancel_runs_callbacks(void)
{
    weft_future *f = new_future();
    cb_log log = {0};
    cb_arg a = {&log, 1}, b = {&log, 2};
    WT_OK(weft_future_on_done(f, cb_record, &a));
    WT_OK(weft_future_on_done(f, cb_record, &b));
    WT_OK(weft_future_cancel(f));
    WT_EQ(loaded(&log.count), 2);
    WT_EQ(log.seen[0], WEFT_FUTURE_CANCELLED);
    WT_ASSERT(pthread_equal(log.thread[0], pthread_self()));
    WT_EQ(log.order[1], 2);
    weft_future_unref(f);

    /* A cancel request on a running future runs nothing; the completion
     * does. */
    f = new_future();
    memset(&log, 0, sizeof log);
    WT_OK(weft_future_on_done(f, cb_record, &a));
    WT_OK(weft_future_start(f));
    WT_ERR(weft_future_cancel(f), -EBUSY);
    WT_EQ(loaded(&log.count), 0);
    WT_OK(weft_future_complete(f, i64_value(0), -ECANCELED));
    WT_EQ(loaded(&log.count), 1);
    WT_EQ(log.seen[0], WEFT_FUTURE_CANCELLED);
    weft_future_unref(f);
}

typedef struct reentry {
    int on_done_rc, cancel_rc, complete_rc, wait_rc, result_rc;
    int64_t value;
} reentry;

static void cb_reenter(weft_future *f, void *arg)
{
    reentry *r = arg;
    r->on_done_rc = weft_future_on_done(f, cb_must_not_run, NULL);
    r->cancel_rc = weft_future_cancel(f);
    r->complete_rc = weft_future_complete(f, i64_value(0), 0);
    r->wait_rc = weft_future_wait(f, WEFT_NEVER);
    weft_value v = i64_value(0);
    r->result_rc = weft_future_result(f, WEFT_NEVER, &v);
    r->value = v.i64;
}

static void test_callback_may_use_its_future(void)
{
    /* A callback runs after the terminal transition and outside every
     * lock, so it can call back into its own future without deadlock. */
    weft_future *f = new_future();
    reentry r = {0};
    WT_OK(weft_future_on_done(f, cb_reenter, &r));
    WT_OK(weft_future_complete(f, i64_value(5), 0));
    WT_ERR(r.on_done_rc, -EALREADY);
    WT_ERR(r.cancel_rc, -EALREADY);
    WT_ERR(r.complete_rc, -EALREADY);
    WT_OK(r.wait_rc);
    WT_OK(r.result_rc);
    WT_EQ(r.value, 5);
    WT_EQ(loaded(&never_runs), 0);
    weft_future_unref(f);
}

/* ---- Waiting ------------------------------------------------------------ */

typedef struct waiter_arg {
    weft_future *f;
    int64_t deadline;
    int rc;
    int64_t value;
} waiter_arg;

static void *result_thread(void *arg)
{
    waiter_arg *w = arg;
    weft_value v = i64_value(-1);
    w->rc = weft_future_result(w->f, w->deadline, &v);
    w->value = v.i64;
    return NULL;
}

static void *wait_thread(void *arg)
{
    waiter_arg *w = arg;
    w->rc = weft_future_wait(w->f, w->deadline);
    return NULL;
}

static void test_wait_times_out_on_virtual_clock(void)
{
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *f = new_future();
    waiter_arg w = {f, weft_deadline_in(5 * WEFT_SEC), 1, 0};
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, wait_thread, &w), 0);
    await_timed_waiters(1);
    WT_OK(weft_clock_advance(4 * WEFT_SEC)); /* not yet */
    WT_EQ(weft_clock_timed_waiters(), 1);
    WT_OK(weft_clock_advance(1 * WEFT_SEC));
    pthread_join(t, NULL);
    WT_ERR(w.rc, -ETIMEDOUT);

    /* The same through weft_future_result(). */
    waiter_arg r = {f, weft_deadline_in(WEFT_SEC), 1, 0};
    WT_EQ(pthread_create(&t, NULL, result_thread, &r), 0);
    await_timed_waiters(1);
    WT_OK(weft_clock_advance(2 * WEFT_SEC));
    pthread_join(t, NULL);
    WT_ERR(r.rc, -ETIMEDOUT);
    WT_EQ(r.value, -1);

    /* The timed-out waiters left the queue: completing touches nothing
     * stale (ASan would see a dead stack frame). */
    WT_OK(weft_future_complete(f, i64_value(3), 0));
    weft_future_unref(f);
    weft_clock_use_real();
}

static void test_wait_woken_by_completion(void)
{
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *f = new_future();
    /* A far deadline on the virtual clock lets us see that the thread is
     * parked before we complete; time never reaches it. */
    waiter_arg w = {f, weft_deadline_in(100 * WEFT_SEC), 1, 0};
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, result_thread, &w), 0);
    await_timed_waiters(1);
    WT_OK(weft_future_start(f));
    WT_OK(weft_future_complete(f, i64_value(31), 0));
    pthread_join(t, NULL);
    WT_OK(w.rc);
    WT_EQ(w.value, 31);
    weft_future_unref(f);

    /* Cancellation wakes waiters too. */
    f = new_future();
    waiter_arg c = {f, weft_deadline_in(100 * WEFT_SEC), 1, 0};
    WT_EQ(pthread_create(&t, NULL, result_thread, &c), 0);
    await_timed_waiters(1);
    WT_OK(weft_future_cancel(f));
    pthread_join(t, NULL);
    WT_ERR(c.rc, -ECANCELED);
    weft_future_unref(f);
    weft_clock_use_real();
}

static void test_every_waiter_is_woken(void)
{
    enum { N = 4 };
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *f = new_future();
    waiter_arg w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (waiter_arg){f, weft_deadline_in(100 * WEFT_SEC), 1, 0};
        WT_EQ(pthread_create(&t[i], NULL, result_thread, &w[i]), 0);
    }
    await_timed_waiters(N);
    WT_OK(weft_future_complete(f, i64_value(0), -EIO));
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        WT_ERR(w[i].rc, -EIO);
    }
    weft_future_unref(f);
    weft_clock_use_real();
}

static void test_wait_forever_and_real_deadline(void)
{
    /* WEFT_NEVER: whether the thread parks before or after the completion,
     * it returns (a lost wake-up hangs here and ctest's timeout fails it). */
    weft_future *f = new_future();
    waiter_arg w = {f, WEFT_NEVER, 1, 0};
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, result_thread, &w), 0);
    WT_OK(weft_future_complete(f, i64_value(8), 0));
    pthread_join(t, NULL);
    WT_OK(w.rc);
    WT_EQ(w.value, 8);
    weft_future_unref(f);

    /* A real deadline times out, not before it passes. */
    f = new_future();
    int64_t t0 = weft_now();
    WT_ERR(weft_future_wait(f, weft_deadline_in(2 * WEFT_MSEC)), -ETIMEDOUT);
    WT_GE(weft_now() - t0, 2 * WEFT_MSEC);
    weft_future_unref(f);
}

int main(void)
{
    WT_RUN(test_create_is_pending);
    WT_RUN(test_start_then_complete);
    WT_RUN(test_complete_without_start);
    WT_RUN(test_failed);
    WT_RUN(test_cancel_pending);
    WT_RUN(test_cancel_running);
    WT_RUN(test_values);
    WT_RUN(test_refcount);
    WT_RUN(test_callback_drops_a_reference);
    WT_RUN(test_unfinished_future_frees_its_callbacks);
    WT_RUN(test_callbacks_run_once_in_order_on_completer);
    WT_RUN(test_cancel_runs_callbacks);
    WT_RUN(test_callback_may_use_its_future);
    WT_RUN(test_wait_times_out_on_virtual_clock);
    WT_RUN(test_wait_woken_by_completion);
    WT_RUN(test_every_waiter_is_woken);
    WT_RUN(test_wait_forever_and_real_deadline);
    return 0;
}
