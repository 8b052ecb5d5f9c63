/* Waiting on many futures (include/weft/future.h): weft_future_wait_many
 * in its three modes, weft_future_wait_any / _all, and the as-completed
 * iterator, with completions from other threads and deadlines on the
 * virtual clock. */
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

enum { MAXF = 128 };

static weft_value i64_value(int64_t x)
{
    weft_value v;
    memset(&v, 0, sizeof v);
    v.i64 = x;
    return v;
}

static void make_futures(weft_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        WT_OK(weft_future_create(&fs[i]));
}

static void drop_futures(weft_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weft_future_unref(fs[i]);
}

static void await_timed_waiters(int n)
{
    while (weft_clock_timed_waiters() < n)
        sched_yield();
}

/* A thread that runs one wait_many call. */
typedef struct many_arg {
    weft_future **fs;
    size_t n;
    weft_wait_mode mode;
    int64_t deadline;
    int rc;
    size_t index;
} many_arg;

static void *wait_many_thread(void *arg)
{
    many_arg *m = arg;
    m->index = SIZE_MAX;
    m->rc = weft_future_wait_many(m->fs, m->n, m->mode, m->deadline, &m->index);
    return NULL;
}

static pthread_t start_wait_many(many_arg *m)
{
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, wait_many_thread, m), 0);
    return t;
}

/* ---- wait_many: arguments and immediate results ------------------------- */

static void test_wait_many_arguments(void)
{
    weft_future *fs[3];
    make_futures(fs, 3);
    size_t idx = 42;
    WT_ERR(weft_future_wait_many(NULL, 2, WEFT_WAIT_ALL_COMPLETED, WEFT_NOW, &idx), -EINVAL);
    weft_future *with_null[2] = {fs[0], NULL};
    WT_ERR(weft_future_wait_any(with_null, 2, WEFT_NOW, &idx), -EINVAL);
    WT_ERR(weft_future_wait_many(fs, 3, (weft_wait_mode)99, WEFT_NOW, &idx), -EINVAL);
    WT_ERR(weft_future_wait_any(fs, 0, WEFT_NOW, &idx), -EINVAL); /* could never hold */
    WT_EQ(idx, 42);
    WT_OK(weft_future_wait_all(fs, 0, WEFT_NOW));
    WT_OK(weft_future_wait_many(NULL, 0, WEFT_WAIT_FIRST_EXCEPTION, WEFT_NOW, &idx));
    WT_EQ(idx, 0);

    /* Nothing finished: every mode times out at once, *index untouched. */
    idx = 42;
    WT_ERR(weft_future_wait_any(fs, 3, WEFT_NOW, &idx), -ETIMEDOUT);
    WT_ERR(weft_future_wait_all(fs, 3, WEFT_NOW), -ETIMEDOUT);
    WT_ERR(weft_future_wait_many(fs, 3, WEFT_WAIT_FIRST_EXCEPTION, WEFT_NOW, &idx), -ETIMEDOUT);
    WT_EQ(idx, 42);
    drop_futures(fs, 3);
}

static void test_wait_many_already_satisfied(void)
{
    weft_future *fs[4];
    make_futures(fs, 4);
    size_t idx;
    WT_OK(weft_future_complete(fs[3], i64_value(3), 0));
    WT_OK(weft_future_complete(fs[1], i64_value(1), 0));
    WT_OK(weft_future_wait_any(fs, 4, WEFT_NOW, &idx));
    WT_EQ(idx, 1); /* the lowest finished index */
    WT_OK(weft_future_wait_any(fs, 4, WEFT_NOW, NULL));

    /* FIRST_EXCEPTION: DONE and CANCELLED are not exceptions. */
    WT_OK(weft_future_cancel(fs[0]));
    WT_ERR(weft_future_wait_many(fs, 4, WEFT_WAIT_FIRST_EXCEPTION, WEFT_NOW, &idx), -ETIMEDOUT);
    WT_OK(weft_future_complete(fs[2], i64_value(0), -EIO));
    WT_OK(weft_future_wait_many(fs, 4, WEFT_WAIT_FIRST_EXCEPTION, WEFT_NOW, &idx));
    WT_EQ(idx, 2);
    WT_OK(weft_future_wait_many(fs, 4, WEFT_WAIT_ALL_COMPLETED, WEFT_NOW, &idx));
    WT_EQ(idx, 4);
    WT_OK(weft_future_wait_all(fs, 4, WEFT_NEVER));
    drop_futures(fs, 4);

    /* All finished without a failure: FIRST_EXCEPTION reports n. */
    make_futures(fs, 2);
    WT_OK(weft_future_complete(fs[0], i64_value(0), 0));
    WT_OK(weft_future_cancel(fs[1]));
    WT_OK(weft_future_wait_many(fs, 2, WEFT_WAIT_FIRST_EXCEPTION, WEFT_NOW, &idx));
    WT_EQ(idx, 2);
    drop_futures(fs, 2);
}

/* ---- wait_many: blocking ------------------------------------------------ */

static void test_wait_any_woken_by_one(void)
{
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *fs[4];
    make_futures(fs, 4);
    many_arg m = {fs, 4, WEFT_WAIT_FIRST_COMPLETED, weft_deadline_in(100 * WEFT_SEC), 1, 0};
    pthread_t t = start_wait_many(&m);
    await_timed_waiters(1);
    WT_OK(weft_future_complete(fs[2], i64_value(2), 0));
    pthread_join(t, NULL);
    WT_OK(m.rc);
    WT_EQ(m.index, 2);
    /* The waiter unlinked from the other three queues: completing them
     * touches no dead stack frame (ASan). */
    for (int i = 0; i < 4; i++)
        if (i != 2)
            WT_OK(weft_future_cancel(fs[i]));
    drop_futures(fs, 4);
    weft_clock_use_real();
}

static void test_wait_any_times_out(void)
{
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *fs[3];
    make_futures(fs, 3);
    many_arg m = {fs, 3, WEFT_WAIT_FIRST_COMPLETED, weft_deadline_in(WEFT_SEC), 1, 0};
    pthread_t t = start_wait_many(&m);
    await_timed_waiters(1);
    WT_OK(weft_clock_advance(WEFT_SEC));
    pthread_join(t, NULL);
    WT_ERR(m.rc, -ETIMEDOUT);
    WT_EQ(m.index, SIZE_MAX); /* untouched */
    for (int i = 0; i < 3; i++)
        WT_OK(weft_future_complete(fs[i], i64_value(i), 0));
    drop_futures(fs, 3);
    weft_clock_use_real();
}

static void test_wait_all(void)
{
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *fs[4];
    make_futures(fs, 4);
    /* Times out while one is unfinished. */
    WT_OK(weft_future_complete(fs[0], i64_value(0), 0));
    WT_OK(weft_future_complete(fs[1], i64_value(0), -EIO));
    WT_OK(weft_future_cancel(fs[3]));
    many_arg m = {fs, 4, WEFT_WAIT_ALL_COMPLETED, weft_deadline_in(WEFT_SEC), 1, 0};
    pthread_t t = start_wait_many(&m);
    await_timed_waiters(1);
    WT_OK(weft_clock_advance(WEFT_SEC));
    pthread_join(t, NULL);
    WT_ERR(m.rc, -ETIMEDOUT);

    /* Returns once the last one finishes. */
    m = (many_arg){fs, 4, WEFT_WAIT_ALL_COMPLETED, weft_deadline_in(100 * WEFT_SEC), 1, 0};
    t = start_wait_many(&m);
    await_timed_waiters(1);
    WT_OK(weft_future_complete(fs[2], i64_value(2), 0));
    pthread_join(t, NULL);
    WT_OK(m.rc);
    WT_EQ(m.index, 4);
    drop_futures(fs, 4);

    /* Completions in any order from another thread, waiting forever. */
    make_futures(fs, 4);
    m = (many_arg){fs, 4, WEFT_WAIT_ALL_COMPLETED, WEFT_NEVER, 1, 0};
    t = start_wait_many(&m);
    for (int i = 3; i >= 0; i--)
        WT_OK(weft_future_complete(fs[i], i64_value(i), 0));
    pthread_join(t, NULL);
    WT_OK(m.rc);
    drop_futures(fs, 4);
    weft_clock_use_real();
}

static void test_first_exception_waits_past_successes(void)
{
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *fs[4];
    make_futures(fs, 4);
    many_arg m = {fs, 4, WEFT_WAIT_FIRST_EXCEPTION, weft_deadline_in(100 * WEFT_SEC), 1, 0};
    pthread_t t = start_wait_many(&m);
    await_timed_waiters(1);
    /* Neither a success nor a cancellation satisfies FIRST_EXCEPTION: had
     * the waiter returned on either, it would report index 0 or 1 (or n). */
    WT_OK(weft_future_complete(fs[0], i64_value(0), 0));
    WT_OK(weft_future_cancel(fs[1]));
    WT_OK(weft_future_complete(fs[3], i64_value(0), -EPIPE));
    pthread_join(t, NULL);
    WT_OK(m.rc);
    WT_EQ(m.index, 3);
    WT_OK(weft_future_complete(fs[2], i64_value(0), 0));
    drop_futures(fs, 4);

    /* No failure at all: it returns with n when the last one finishes. */
    make_futures(fs, 3);
    m = (many_arg){fs, 3, WEFT_WAIT_FIRST_EXCEPTION, weft_deadline_in(100 * WEFT_SEC), 1, 0};
    t = start_wait_many(&m);
    await_timed_waiters(1);
    for (int i = 0; i < 3; i++)
        WT_OK(weft_future_complete(fs[i], i64_value(i), 0));
    pthread_join(t, NULL);
    WT_OK(m.rc);
    WT_EQ(m.index, 3);
    drop_futures(fs, 3);

    /* A success, then the deadline. */
    make_futures(fs, 2);
    m = (many_arg){fs, 2, WEFT_WAIT_FIRST_EXCEPTION, weft_deadline_in(WEFT_SEC), 1, 0};
    t = start_wait_many(&m);
    await_timed_waiters(1);
    WT_OK(weft_future_complete(fs[1], i64_value(0), 0));
    WT_OK(weft_clock_advance(WEFT_SEC));
    pthread_join(t, NULL);
    WT_ERR(m.rc, -ETIMEDOUT);
    WT_OK(weft_future_cancel(fs[0]));
    drop_futures(fs, 2);
    weft_clock_use_real();
}

static void test_wait_many_beyond_stack_links(void)
{
    /* More futures than WEFT_FUTURE_WAIT_STACK: the links come from the
     * heap, and are freed (ASan). */
    WT_ASSERT(MAXF > WEFT_FUTURE_WAIT_STACK);
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *fs[MAXF];
    make_futures(fs, MAXF);
    many_arg m = {fs, MAXF, WEFT_WAIT_FIRST_COMPLETED, weft_deadline_in(100 * WEFT_SEC), 1, 0};
    pthread_t t = start_wait_many(&m);
    await_timed_waiters(1);
    WT_OK(weft_future_complete(fs[MAXF - 7], i64_value(0), 0));
    pthread_join(t, NULL);
    WT_OK(m.rc);
    WT_EQ(m.index, MAXF - 7);

    m = (many_arg){fs, MAXF, WEFT_WAIT_FIRST_EXCEPTION, weft_deadline_in(100 * WEFT_SEC), 1, 0};
    t = start_wait_many(&m);
    await_timed_waiters(1);
    WT_OK(weft_future_complete(fs[5], i64_value(0), -EIO));
    pthread_join(t, NULL);
    WT_OK(m.rc);
    WT_EQ(m.index, 5);
    for (size_t i = 0; i < MAXF; i++)
        weft_future_cancel(fs[i]);
    WT_OK(weft_future_wait_all(fs, MAXF, WEFT_NOW));
    drop_futures(fs, MAXF);
    weft_clock_use_real();
}

static void test_same_future_twice(void)
{
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *a, *b;
    WT_OK(weft_future_create(&a));
    WT_OK(weft_future_create(&b));
    weft_future *fs[3] = {b, a, a};
    many_arg m = {fs, 3, WEFT_WAIT_FIRST_COMPLETED, weft_deadline_in(100 * WEFT_SEC), 1, 0};
    pthread_t t = start_wait_many(&m);
    await_timed_waiters(1);
    WT_OK(weft_future_complete(a, i64_value(0), 0));
    pthread_join(t, NULL);
    WT_OK(m.rc);
    WT_EQ(m.index, 1);
    WT_OK(weft_future_complete(b, i64_value(0), 0));
    weft_future_unref(a);
    weft_future_unref(b);
    weft_clock_use_real();
}

/* ---- as_completed ------------------------------------------------------- */

static void test_as_completed_arguments(void)
{
    weft_future *fs[2];
    make_futures(fs, 2);
    weft_as_completed *it = (weft_as_completed *)&fs; /* must stay untouched */
    WT_ERR(weft_as_completed_create(NULL, fs, 2), -EINVAL);
    WT_ERR(weft_as_completed_create(&it, NULL, 2), -EINVAL);
    weft_future *with_null[2] = {fs[0], NULL};
    WT_ERR(weft_as_completed_create(&it, with_null, 2), -EINVAL);
    WT_EQ_PTR(it, &fs);

    /* Empty: exhausted at once. */
    WT_OK(weft_as_completed_create(&it, NULL, 0));
    WT_ERR(weft_as_completed_next(it, WEFT_NEVER, NULL), -EPIPE);
    weft_as_completed_destroy(it);
    weft_as_completed_destroy(NULL);
    drop_futures(fs, 2);
}

static void test_as_completed_order(void)
{
    enum { N = 5 };
    weft_future *fs[N];
    make_futures(fs, N);
    WT_OK(weft_future_complete(fs[3], i64_value(3), 0));
    WT_OK(weft_future_cancel(fs[1]));
    weft_as_completed *it;
    WT_OK(weft_as_completed_create(&it, fs, N));
    size_t idx = SIZE_MAX;
    /* Finished before creation: first, in index order. */
    WT_OK(weft_as_completed_next(it, WEFT_NOW, &idx));
    WT_EQ(idx, 1);
    WT_OK(weft_as_completed_next(it, WEFT_NOW, &idx));
    WT_EQ(idx, 3);
    WT_ERR(weft_as_completed_next(it, WEFT_NOW, &idx), -ETIMEDOUT);
    /* Then in completion order, whatever the outcome. */
    WT_OK(weft_future_complete(fs[4], i64_value(4), -EIO));
    WT_OK(weft_future_start(fs[0]));
    WT_OK(weft_future_complete(fs[0], i64_value(0), 0));
    WT_OK(weft_future_cancel(fs[2]));
    size_t want[3] = {4, 0, 2};
    for (int i = 0; i < 3; i++) {
        WT_OK(weft_as_completed_next(it, WEFT_NOW, &idx));
        WT_EQ(idx, want[i]);
    }
    WT_ERR(weft_as_completed_next(it, WEFT_NEVER, &idx), -EPIPE);
    WT_ERR(weft_as_completed_next(it, WEFT_NOW, NULL), -EPIPE);
    weft_as_completed_destroy(it);
    drop_futures(fs, N);
}

typedef struct order_arg {
    weft_future **fs;
    const size_t *order;
    size_t n;
} order_arg;

static void *complete_in_order(void *arg)
{
    order_arg *o = arg;
    for (size_t i = 0; i < o->n; i++)
        WT_OK(weft_future_complete(o->fs[o->order[i]], i64_value((int64_t)i), 0));
    return NULL;
}

static void test_as_completed_from_another_thread(void)
{
    enum { N = 6 };
    weft_future *fs[N];
    make_futures(fs, N);
    weft_as_completed *it;
    WT_OK(weft_as_completed_create(&it, fs, N));
    static const size_t order[N] = {5, 2, 0, 4, 1, 3};
    order_arg o = {fs, order, N};
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, complete_in_order, &o), 0);
    for (size_t i = 0; i < N; i++) {
        size_t idx;
        WT_OK(weft_as_completed_next(it, WEFT_NEVER, &idx));
        WT_EQ(idx, order[i]);
    }
    WT_ERR(weft_as_completed_next(it, WEFT_NEVER, NULL), -EPIPE);
    pthread_join(t, NULL);
    weft_as_completed_destroy(it);
    drop_futures(fs, N);
}

typedef struct next_arg {
    weft_as_completed *it;
    int64_t deadline;
    int rc;
    size_t index;
} next_arg;

static void *next_thread(void *arg)
{
    next_arg *a = arg;
    a->rc = weft_as_completed_next(a->it, a->deadline, &a->index);
    return NULL;
}

static void test_as_completed_deadline(void)
{
    WT_OK(weft_clock_use_virtual(WEFT_SEC));
    weft_future *fs[2];
    make_futures(fs, 2);
    weft_as_completed *it;
    WT_OK(weft_as_completed_create(&it, fs, 2));
    next_arg a = {it, weft_deadline_in(3 * WEFT_SEC), 1, SIZE_MAX};
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, next_thread, &a), 0);
    await_timed_waiters(1);
    WT_OK(weft_clock_advance(3 * WEFT_SEC));
    pthread_join(t, NULL);
    WT_ERR(a.rc, -ETIMEDOUT);
    WT_EQ(a.index, SIZE_MAX);

    /* Parked, then woken by a completion. */
    a = (next_arg){it, weft_deadline_in(100 * WEFT_SEC), 1, SIZE_MAX};
    WT_EQ(pthread_create(&t, NULL, next_thread, &a), 0);
    await_timed_waiters(1);
    WT_OK(weft_future_complete(fs[1], i64_value(1), 0));
    pthread_join(t, NULL);
    WT_OK(a.rc);
    WT_EQ(a.index, 1);
    WT_OK(weft_future_cancel(fs[0]));
    WT_OK(weft_as_completed_next(it, WEFT_NOW, &a.index));
    WT_EQ(a.index, 0);
    weft_as_completed_destroy(it);
    drop_futures(fs, 2);
    weft_clock_use_real();
}

static atomic_int user_cb_runs;

static void user_cb(weft_future *f, void *arg)
{
    (void)f;
    (void)arg;
    atomic_fetch_add(&user_cb_runs, 1);
}

static void test_as_completed_references(void)
{
    /* The iterator holds its own references: the futures outlive their
     * other owners until it is destroyed (ASan checks both ways). */
    weft_future *fs[3];
    make_futures(fs, 3);
    WT_OK(weft_future_on_done(fs[0], user_cb, NULL)); /* shares the list */
    weft_as_completed *it;
    WT_OK(weft_as_completed_create(&it, fs, 3));
    WT_OK(weft_future_on_done(fs[0], user_cb, NULL));
    for (int i = 0; i < 3; i++) {
        WT_OK(weft_future_complete(fs[i], i64_value(i), 0));
        weft_future_unref(fs[i]); /* the only other owner leaves */
    }
    WT_EQ(loaded(&user_cb_runs), 2);
    for (size_t i = 0; i < 3; i++) {
        size_t idx;
        WT_OK(weft_as_completed_next(it, WEFT_NOW, &idx));
        WT_EQ(idx, i);
    }
    weft_as_completed_destroy(it); /* frees the futures */
}

static void test_as_completed_destroyed_early(void)
{
    /* Destroyed while futures are pending: their callbacks are removed and
     * never run into freed memory when the futures finish later. */
    weft_future *fs[3];
    make_futures(fs, 3);
    WT_OK(weft_future_complete(fs[1], i64_value(1), 0));
    weft_as_completed *it;
    WT_OK(weft_as_completed_create(&it, fs, 3));
    WT_OK(weft_future_on_done(fs[2], user_cb, NULL));
    weft_as_completed_destroy(it);
    int before = atomic_load(&user_cb_runs);
    WT_OK(weft_future_complete(fs[0], i64_value(0), 0));
    WT_OK(weft_future_cancel(fs[2]));
    WT_EQ(loaded(&user_cb_runs), before + 1); /* the user's own still runs */
    drop_futures(fs, 3);
}

typedef struct consumer_arg {
    weft_as_completed *it;
    size_t got[MAXF];
    size_t n_got;
} consumer_arg;

static void *consume_all(void *arg)
{
    consumer_arg *c = arg;
    size_t idx;
    int rc;
    while ((rc = weft_as_completed_next(c->it, WEFT_NEVER, &idx)) == 0)
        c->got[c->n_got++] = idx;
    WT_ERR(rc, -EPIPE);
    return NULL;
}

static void test_as_completed_two_consumers(void)
{
    /* Two threads drain one iterator while a third completes: every index
     * goes to exactly one of them. */
    enum { N = 64 };
    weft_future *fs[N];
    make_futures(fs, N);
    weft_as_completed *it;
    WT_OK(weft_as_completed_create(&it, fs, N));
    consumer_arg c[2] = {{.it = it}, {.it = it}};
    pthread_t t[2], p;
    for (int i = 0; i < 2; i++)
        WT_EQ(pthread_create(&t[i], NULL, consume_all, &c[i]), 0);
    size_t order[N];
    for (size_t i = 0; i < N; i++)
        order[i] = (i * 37) % N; /* 37 is coprime with 64: a permutation */
    order_arg o = {fs, order, N};
    WT_EQ(pthread_create(&p, NULL, complete_in_order, &o), 0);
    pthread_join(p, NULL);
    int seen[N] = {0};
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        for (size_t k = 0; k < c[i].n_got; k++)
            seen[c[i].got[k]]++;
    }
    WT_EQ(c[0].n_got + c[1].n_got, N);
    for (int i = 0; i < N; i++)
        WT_EQ(seen[i], 1);
    weft_as_completed_destroy(it);
    drop_futures(fs, N);
}

int main(void)
{
    WT_RUN(test_wait_many_arguments);
    WT_RUN(test_wait_many_already_satisfied);
    WT_RUN(test_wait_any_woken_by_one);
    WT_RUN(test_wait_any_times_out);
    WT_RUN(test_wait_all);
    WT_RUN(test_first_exception_waits_past_successes);
    WT_RUN(test_wait_many_beyond_stack_links);
    WT_RUN(test_same_future_twice);
    WT_RUN(test_as_completed_arguments);
    WT_RUN(test_as_completed_order);
    WT_RUN(test_as_completed_from_another_thread);
    WT_RUN(test_as_completed_deadline);
    WT_RUN(test_as_completed_references);
    WT_RUN(test_as_completed_destroyed_early);
    WT_RUN(test_as_completed_two_consumers);
    return 0;
}
