/* Cancellation, timeouts, shields, task groups, wait_for and gather. The
 * timeout cases follow CPython's Lib/test/test_asyncio/test_timeouts.py and
 * the TaskGroup cases its test_taskgroups.py, in C. Everything runs on
 * virtual time, so no test waits for real. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <weft/chan.h>
#include <weft/loop.h>
#include <weft/time.h>

#include "loop_test.h"
#include "weft_test.h"

static weft_loop_opts vt = {.virtual_time = true};

typedef int body_fn(void);

static int run_body(void *arg, weft_value *result)
{
    (void)result;
    return ((body_fn *)arg)();
}

static int run(body_fn *fn)
{
    return weft_run(run_body, (void *)fn, &vt, NULL);
}

/* ---- asyncio.timeout cases ------------------------------------------------------ */

/* test_timeout_basic: the sleep is cut, the scope reports the timeout. */
static int timeout_basic(void)
{
    weft_timeout t;
    int64_t t0 = weft_now();
    WT_OK(weft_timeout_enter(&t, weft_deadline_in(10 * WEFT_MSEC)));
    int rc = weft_sleep_for(10 * WEFT_SEC);
    WT_ERR(rc, -ECANCELED);
    WT_ERR(weft_timeout_exit(&t, rc), -ETIMEDOUT);
    WT_ASSERT(weft_timeout_expired(&t));
    WT_EQ(weft_now() - t0, 10 * WEFT_MSEC);
    /* The task is no longer cancelled: waits work again. */
    WT_ASSERT(!weft_task_cancelled());
    WT_OK(weft_sleep_for(WEFT_MSEC));
    return 0;
}

/* test_timeout_not_expired: the body finishes first. */
static int timeout_not_expired(void)
{
    weft_timeout t;
    WT_OK(weft_timeout_enter(&t, weft_deadline_in(WEFT_SEC)));
    int rc = weft_sleep_for(WEFT_MSEC);
    WT_OK(weft_timeout_exit(&t, rc));
    WT_ASSERT(!weft_timeout_expired(&t));
    return 0;
}

/* test_timeout_zero / negative: fire at the first wait. */
static int timeout_zero_and_negative(void)
{
    int64_t deadlines[] = {weft_now(), weft_now() - WEFT_SEC, WEFT_NOW};
    for (int i = 0; i < 3; i++) {
        weft_timeout t;
        WT_OK(weft_timeout_enter(&t, deadlines[i]));
        int rc = weft_sleep_for(10 * WEFT_SEC);
        WT_ERR(rc, -ECANCELED);
        WT_ERR(weft_timeout_exit(&t, rc), -ETIMEDOUT);
    }
    /* A zero timeout around a body that never waits: nothing to cut. */
    weft_timeout t;
    WT_OK(weft_timeout_enter(&t, weft_now()));
    WT_OK(weft_timeout_exit(&t, 0));
    WT_OK(weft_sleep_for(WEFT_MSEC));
    return 0;
}

/* test_nested_timeouts: only the expired one reports, the outer passes
 * the error on as it is. */
static int nested_inner_expires(void)
{
    weft_timeout outer, inner;
    WT_OK(weft_timeout_enter(&outer, weft_deadline_in(WEFT_SEC)));
    WT_OK(weft_timeout_enter(&inner, weft_deadline_in(10 * WEFT_MSEC)));
    int rc = weft_sleep_for(10 * WEFT_SEC);
    rc = weft_timeout_exit(&inner, rc);
    WT_ERR(rc, -ETIMEDOUT);
    WT_ASSERT(weft_timeout_expired(&inner));
    rc = weft_timeout_exit(&outer, rc);
    WT_ERR(rc, -ETIMEDOUT);
    WT_ASSERT(!weft_timeout_expired(&outer));
    return 0;
}

static int nested_outer_expires(void)
{
    weft_timeout outer, inner;
    WT_OK(weft_timeout_enter(&outer, weft_deadline_in(10 * WEFT_MSEC)));
    WT_OK(weft_timeout_enter(&inner, weft_deadline_in(WEFT_SEC)));
    int rc = weft_sleep_for(10 * WEFT_SEC);
    rc = weft_timeout_exit(&inner, rc);
    WT_ERR(rc, -ECANCELED); /* not the inner's timeout: passes through */
    WT_ASSERT(!weft_timeout_expired(&inner));
    rc = weft_timeout_exit(&outer, rc);
    WT_ERR(rc, -ETIMEDOUT);
    return 0;
}

/* test_nested_timeouts_concurrent: both expire at the same moment; the
 * inner must not claim the timeout while the outer's is pending. */
static int nested_both_expire(void)
{
    weft_timeout outer, inner;
    int64_t d = weft_deadline_in(10 * WEFT_MSEC);
    WT_OK(weft_timeout_enter(&outer, d));
    WT_OK(weft_timeout_enter(&inner, d));
    int rc = weft_sleep_for(10 * WEFT_SEC);
    rc = weft_timeout_exit(&inner, rc);
    WT_ERR(rc, -ECANCELED);
    rc = weft_timeout_exit(&outer, rc);
    WT_ERR(rc, -ETIMEDOUT);
    return 0;
}

/* test_timeout_in_the_past_sleep_zero / reschedule. */
static int reschedule(void)
{
    weft_timeout t;
    WT_OK(weft_timeout_enter(&t, WEFT_NEVER));
    WT_OK(weft_timeout_reschedule(&t, weft_deadline_in(5 * WEFT_MSEC)));
    int64_t t0 = weft_now();
    int rc = weft_sleep_for(WEFT_SEC);
    WT_ERR(weft_timeout_exit(&t, rc), -ETIMEDOUT);
    WT_EQ(weft_now() - t0, 5 * WEFT_MSEC);
    WT_ERR(weft_timeout_reschedule(&t, WEFT_NEVER), -EINVAL); /* fired */
    return 0;
}

static int exit_out_of_order(void)
{
    weft_timeout a, b;
    WT_OK(weft_timeout_enter(&a, WEFT_NEVER));
    WT_OK(weft_timeout_enter(&b, WEFT_NEVER));
    WT_ERR(weft_timeout_exit(&a, 0), -EINVAL);
    WT_OK(weft_timeout_exit(&b, 0));
    WT_OK(weft_timeout_exit(&a, 0));
    return 0;
}

/* test_reentrancy: a scope cannot be entered again before its exit;
 * once exited it may be entered anew. */
static int reentrancy(void)
{
    weft_timeout a, b;
    WT_OK(weft_timeout_enter(&a, weft_deadline_in(WEFT_SEC)));
    WT_ERR(weft_timeout_enter(&a, weft_deadline_in(WEFT_SEC)), -EBUSY);
    WT_OK(weft_timeout_enter(&b, WEFT_NEVER));
    WT_ERR(weft_timeout_enter(&a, WEFT_NEVER), -EBUSY); /* deeper in the chain */
    WT_OK(weft_timeout_exit(&b, 0));
    WT_OK(weft_timeout_exit(&a, 0));
    WT_OK(weft_timeout_enter(&a, weft_deadline_in(WEFT_MSEC)));
    WT_ERR(weft_timeout_exit(&a, weft_sleep_for(WEFT_SEC)), -ETIMEDOUT);
    return 0;
}

/* test_timeout_in_the_past_sleep_zero: a zero sleep is a suspension
 * point, so a passed deadline cuts it. */
static int past_deadline_sleep_zero(void)
{
    weft_timeout t;
    WT_OK(weft_timeout_enter(&t, weft_now() - 11 * WEFT_SEC));
    int rc = weft_sleep_for(0);
    WT_ERR(rc, -ECANCELED);
    WT_ERR(weft_timeout_exit(&t, rc), -ETIMEDOUT);
    return 0;
}

/* test_foreign_exception_passed / _on_timeout: an error of the body's own
 * passes through a scope, fired or not. */
static int foreign_error_passes(void)
{
    weft_timeout t;
    WT_OK(weft_timeout_enter(&t, weft_deadline_in(WEFT_SEC)));
    WT_ERR(weft_timeout_exit(&t, -EIO), -EIO);
    WT_OK(weft_timeout_enter(&t, weft_deadline_in(WEFT_MSEC)));
    WT_ERR(weft_sleep_for(WEFT_SEC), -ECANCELED);
    WT_ASSERT(weft_timeout_expired(&t));
    WT_ERR(weft_timeout_exit(&t, -EIO), -EIO); /* not turned into a timeout */
    WT_ASSERT(!weft_task_cancelled());
    return 0;
}

/* test_timeout_after_cancellation: a task that was cancelled (and went
 * on) can still time out in its clean-up; test_cancel_in_timeout_after_
 * cancellation: but that cancellation is no timeout of the scope's. */
static int timeout_after_cancellation(void)
{
    WT_ERR(weft_future_cancel(weft_task_current()), -EBUSY);
    WT_ERR(weft_sleep_for(WEFT_SEC), -ECANCELED);
    weft_timeout t;
    WT_OK(weft_timeout_enter(&t, weft_now()));
    int rc = weft_sleep_for(WEFT_SEC);
    WT_ERR(weft_timeout_exit(&t, rc), -ETIMEDOUT);
    WT_OK(weft_timeout_enter(&t, weft_deadline_in(WEFT_SEC)));
    rc = weft_sleep_for(2 * WEFT_SEC);
    WT_ERR(weft_timeout_exit(&t, rc), -ECANCELED);
    WT_ASSERT(!weft_timeout_expired(&t));
    return -ECANCELED;
}

static void test_timeout_scopes(void)
{
    WT_OK(run(timeout_basic));
    WT_OK(run(timeout_not_expired));
    WT_OK(run(timeout_zero_and_negative));
    WT_OK(run(nested_inner_expires));
    WT_OK(run(nested_outer_expires));
    WT_OK(run(nested_both_expire));
    WT_OK(run(reschedule));
    WT_OK(run(exit_out_of_order));
    WT_OK(run(reentrancy));
    WT_OK(run(past_deadline_sleep_zero));
    WT_OK(run(foreign_error_passes));
    WT_ERR(run(timeout_after_cancellation), -ECANCELED);
    weft_timeout t;
    WT_ERR(weft_timeout_enter(&t, WEFT_NEVER), -EPERM);
}

/* ---- an outside cancel is never a timeout ------------------------------------------ */

static int in_scope_sleeper(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    weft_timeout t;
    WT_OK(weft_timeout_enter(&t, weft_deadline_in(20 * WEFT_MSEC)));
    int rc = weft_sleep_for(10 * WEFT_SEC);
    rc = weft_timeout_exit(&t, rc);
    /* Level-triggered: still cancelled after the scope. */
    WT_ERR(weft_sleep_for(WEFT_MSEC), -ECANCELED);
    return rc;
}

static int outside_cancel(void)
{
    for (int64_t when = 10; when <= 20; when += 10) {
        /* when == 20: the cancel and the scope's deadline coincide. */
        weft_future *f;
        WT_OK(weft_spawn(NULL, in_scope_sleeper, NULL, NULL, &f));
        WT_OK(weft_sleep_for(when * WEFT_MSEC));
        WT_ERR(weft_future_cancel(f), -EBUSY); /* running: a request */
        WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ECANCELED);
        WT_EQ(weft_future_get_state(f), WEFT_FUTURE_CANCELLED);
        weft_future_unref(f);
    }
    return 0;
}

static void test_outside_cancel_not_timeout(void)
{
    WT_OK(run(outside_cancel));
}

/* ---- cancel before start; cancel from another thread; shield ------------------------ */

static _Atomic int ran;

static int mark_ran(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    atomic_fetch_add(&ran, 1);
    return 0;
}

static int shielded(void *arg, weft_value *result)
{
    (void)arg;
    WT_OK(weft_shield_enter());
    /* Cancelled meanwhile, but the shield keeps the sleep whole. */
    WT_OK(weft_sleep_for(50 * WEFT_MSEC));
    WT_OK(weft_shield_exit());
    WT_ASSERT(weft_task_cancelled());
    result->i64 = 1;
    return weft_sleep_for(WEFT_MSEC); /* the first unshielded wait reports it */
}

static int cancel_cases(void)
{
    atomic_store(&ran, 0);
    weft_future *f;
    WT_OK(weft_spawn(NULL, mark_ran, NULL, NULL, &f));
    WT_OK(weft_future_cancel(f)); /* not started: cancelled at once */
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ECANCELED);
    weft_future_unref(f);
    WT_OK(weft_task_yield());
    WT_EQ(atomic_load(&ran), 0);

    WT_OK(weft_spawn(NULL, shielded, NULL, NULL, &f));
    WT_OK(weft_sleep_for(10 * WEFT_MSEC));
    int64_t t0 = weft_now();
    WT_ERR(weft_future_cancel(f), -EBUSY);
    WT_ERR(weft_future_wait(f, WEFT_NEVER), 0);
    WT_GE(weft_now() - t0, 40 * WEFT_MSEC);
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_CANCELLED);
    weft_future_unref(f);
    WT_ERR(weft_shield_exit(), -EINVAL);
    return 0;
}

static void test_cancel_and_shield(void)
{
    WT_OK(run(cancel_cases));
}

/* ---- wait_for and gather ----------------------------------------------------------------- */

static int slow(void *arg, weft_value *result)
{
    int64_t ms = (int64_t)(intptr_t)arg;
    int rc = weft_sleep_for(ms * WEFT_MSEC);
    result->i64 = ms;
    return rc;
}

static int swallow_cancel(void *arg, weft_value *result)
{
    (void)arg;
    weft_sleep_for(WEFT_SEC); /* cancelled: ignores it and finishes */
    result->i64 = 7;
    return 0;
}

static int wait_for_cases(void)
{
    weft_future *f;
    weft_value v;
    WT_OK(weft_spawn(NULL, slow, (void *)(intptr_t)5, NULL, &f));
    WT_OK(weft_wait_for(f, weft_deadline_in(WEFT_SEC), &v));
    WT_EQ(v.i64, 5);
    weft_future_unref(f);

    int64_t t0 = weft_now();
    WT_OK(weft_spawn(NULL, slow, (void *)(intptr_t)1000, NULL, &f));
    WT_ERR(weft_wait_for(f, weft_deadline_in(10 * WEFT_MSEC), &v), -ETIMEDOUT);
    WT_EQ(weft_future_get_state(f), WEFT_FUTURE_CANCELLED); /* waited for */
    WT_LT(weft_now() - t0, 20 * WEFT_MSEC);
    weft_future_unref(f);

    /* A task that finishes despite the cancel: its result is kept. */
    WT_OK(weft_spawn(NULL, swallow_cancel, NULL, NULL, &f));
    WT_OK(weft_wait_for(f, weft_deadline_in(WEFT_MSEC), &v));
    WT_EQ(v.i64, 7);
    weft_future_unref(f);

    /* gather: every outcome, the first error by index. */
    weft_future *fs[3];
    WT_OK(weft_spawn(NULL, slow, (void *)(intptr_t)3, NULL, &fs[0]));
    WT_OK(weft_spawn(NULL, slow, (void *)(intptr_t)1, NULL, &fs[1]));
    WT_OK(weft_spawn(NULL, slow, (void *)(intptr_t)2, NULL, &fs[2]));
    weft_future_cancel(fs[1]);
    weft_value vs[3];
    int errs[3];
    WT_ERR(weft_gather(fs, 3, WEFT_NEVER, vs, errs), -ECANCELED);
    WT_OK(errs[0]);
    WT_ERR(errs[1], -ECANCELED);
    WT_OK(errs[2]);
    WT_EQ(vs[0].i64, 3);
    WT_EQ(vs[2].i64, 2);
    for (int i = 0; i < 3; i++)
        weft_future_unref(fs[i]);
    return 0;
}

static void test_wait_for_and_gather(void)
{
    WT_OK(run(wait_for_cases));
}

/* ---- task groups -------------------------------------------------------------------------- */

static _Atomic int cancelled_children;

static int child_sleep(void *arg, weft_value *result)
{
    (void)result;
    int rc = weft_sleep_for((int64_t)(intptr_t)arg * WEFT_MSEC);
    if (rc == -ECANCELED)
        atomic_fetch_add(&cancelled_children, 1);
    return rc;
}

static int child_fail(void *arg, weft_value *result)
{
    (void)result;
    WT_OK(weft_sleep_for((int64_t)(intptr_t)arg * WEFT_MSEC));
    return -EIO;
}

/* test_taskgroup_01: every child succeeds. */
static int group_ok(void)
{
    weft_group g;
    WT_OK(weft_group_init(&g));
    weft_future *a, *b;
    WT_OK(weft_group_spawn(&g, child_sleep, (void *)(intptr_t)10, NULL, &a));
    WT_OK(weft_group_spawn(&g, child_sleep, (void *)(intptr_t)20, NULL, &b));
    WT_OK(weft_group_wait(&g));
    WT_EQ(weft_future_get_state(a), WEFT_FUTURE_DONE);
    WT_EQ(weft_future_get_state(b), WEFT_FUTURE_DONE);
    weft_future_unref(a);
    weft_future_unref(b);
    WT_ERR(weft_group_spawn(&g, child_sleep, NULL, NULL, NULL), -EPIPE); /* done */
    return 0;
}

/* test_taskgroup_02/03: a failing child cancels its siblings, and the
 * owner, which is still in its own work, gets to the wait at once. */
static int group_fail(void)
{
    atomic_store(&cancelled_children, 0);
    weft_group g;
    WT_OK(weft_group_init(&g));
    for (int i = 0; i < 5; i++)
        WT_OK(weft_group_spawn(&g, child_sleep, (void *)(intptr_t)1000, NULL, NULL));
    WT_OK(weft_group_spawn(&g, child_fail, (void *)(intptr_t)10, NULL, NULL));
    int64_t t0 = weft_now();
    WT_ERR(weft_sleep_for(10 * WEFT_SEC), -ECANCELED); /* the owner is cut too */
    WT_ERR(weft_group_wait(&g), -EIO);
    WT_EQ(weft_now() - t0, 10 * WEFT_MSEC);
    WT_EQ(atomic_load(&cancelled_children), 5);
    /* The group's cancel of the owner was taken back. */
    WT_ASSERT(!weft_task_cancelled());
    WT_OK(weft_sleep_for(WEFT_MSEC));
    return 0;
}

/* The owner cancelled from outside while waiting: the children are
 * cancelled and still waited for. */
/* The owner of a group of three sleepers, cancelled from outside either
 * while in its wait (arg NULL) or still in its body (test_taskgroup_07):
 * either way its wait cancels the children and still waits for them. */
static int group_owner(void *arg, weft_value *result)
{
    (void)result;
    weft_group g;
    WT_OK(weft_group_init(&g));
    for (int i = 0; i < 3; i++)
        WT_OK(weft_group_spawn(&g, child_sleep, (void *)(intptr_t)1000, NULL, NULL));
    if (arg)
        WT_ERR(weft_sleep_for(10 * WEFT_SEC), -ECANCELED);
    return weft_group_wait(&g);
}

static int cancel_group_owner(bool in_body)
{
    atomic_store(&cancelled_children, 0);
    weft_future *f;
    WT_OK(weft_spawn(NULL, group_owner, in_body ? (void *)1 : NULL, NULL, &f));
    WT_OK(weft_sleep_for(10 * WEFT_MSEC));
    weft_future_cancel(f);
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ECANCELED);
    WT_EQ(atomic_load(&cancelled_children), 3);
    weft_future_unref(f);
    return 0;
}

static int group_outside_cancel(void)
{
    return cancel_group_owner(false);
}

static int group_owner_cancelled_in_body(void)
{
    return cancel_group_owner(true);
}

/* No spawn once failing; nested groups: an inner failure fails the inner
 * wait, whose task fails the outer group, which cancels its other child. */
static int inner_group(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    weft_group g;
    WT_OK(weft_group_init(&g));
    WT_OK(weft_group_spawn(&g, child_fail, (void *)(intptr_t)5, NULL, NULL));
    WT_OK(weft_group_spawn(&g, child_sleep, (void *)(intptr_t)1000, NULL, NULL));
    int rc = weft_group_wait(&g);
    WT_ERR(weft_group_spawn(&g, child_sleep, NULL, NULL, NULL), -EPIPE);
    return rc;
}

static int nested_groups(void)
{
    atomic_store(&cancelled_children, 0);
    weft_group g;
    WT_OK(weft_group_init(&g));
    WT_OK(weft_group_spawn(&g, inner_group, NULL, NULL, NULL));
    WT_OK(weft_group_spawn(&g, child_sleep, (void *)(intptr_t)1000, NULL, NULL));
    int64_t t0 = weft_now();
    WT_ERR(weft_group_wait(&g), -EIO);
    WT_EQ(weft_now() - t0, 5 * WEFT_MSEC);
    WT_EQ(atomic_load(&cancelled_children), 2); /* one per group */
    return 0;
}

static void test_groups(void)
{
    WT_OK(run(group_ok));
    WT_OK(run(group_fail));
    WT_OK(run(group_outside_cancel));
    WT_OK(run(group_owner_cancelled_in_body));
    WT_OK(run(nested_groups));
}

/* ---- a cancelled channel receive never loses an element ------------------------------------ */

#define CANCEL_ROUNDS ((int64_t)WT_SCALE(100000))

typedef struct relay {
    weft_chan *c;
    int64_t received;
    int64_t sum;
} relay;

static int receiver(void *arg, weft_value *result)
{
    (void)result;
    relay *r = arg;
    int64_t x;
    for (;;) {
        int rc = weft_chan_recv(r->c, &x, WEFT_NEVER);
        if (rc == -ECANCELED)
            return rc;
        if (rc == -EPIPE)
            return 0;
        WT_OK(rc);
        r->received++;
        r->sum += x;
    }
}

static int sender(void *arg, weft_value *result)
{
    (void)result;
    relay *r = arg;
    for (int64_t i = 1; i <= CANCEL_ROUNDS; i++)
        WT_OK(weft_chan_send(r->c, &i, WEFT_NEVER));
    weft_chan_close(r->c);
    return 0;
}

/* Receivers are cancelled at pseudo-random points while a sender fills
 * the channel; a new receiver replaces each one. Every element is received
 * exactly once: none is taken by a receiver that then reports -ECANCELED. */
static int cancel_receives(void)
{
    for (size_t cap = 0; cap <= 8; cap += 8) {
        weft_chan *c;
        weft_chan_opts co = {.elem_size = sizeof(int64_t), .capacity = cap};
        WT_OK(weft_chan_create(&c, &co));
        relay r = {.c = c};
        weft_future *s, *rf;
        WT_OK(weft_spawn(NULL, sender, &r, NULL, &s));
        WT_OK(weft_spawn(NULL, receiver, &r, NULL, &rf));
        uint64_t rng = 88172645463325252ull;
        int cancels = 0;
        while (weft_future_get_state(s) < WEFT_FUTURE_DONE ||
               weft_future_get_state(rf) < WEFT_FUTURE_DONE) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            for (uint64_t k = rng % 4; k > 0; k--)
                WT_OK(weft_task_yield());
            if (weft_future_get_state(rf) < WEFT_FUTURE_DONE) {
                weft_future_cancel(rf);
                cancels++;
            }
            WT_OK(weft_future_wait(rf, WEFT_NEVER));
            if (weft_future_get_state(rf) == WEFT_FUTURE_CANCELLED) {
                weft_future_unref(rf);
                WT_OK(weft_spawn(NULL, receiver, &r, NULL, &rf));
            }
        }
        WT_EQ(r.received, CANCEL_ROUNDS);
        WT_EQ(r.sum, (int64_t)CANCEL_ROUNDS * (CANCEL_ROUNDS + 1) / 2);
        WT_GT(cancels, CANCEL_ROUNDS / 100);
        weft_future_unref(s);
        weft_future_unref(rf);
        weft_chan_destroy(c);
    }
    return 0;
}

static void test_cancel_receive_loses_nothing(void)
{
    WT_OK(run(cancel_receives));
}

int main(void)
{
    wt_require_backend();
    WT_RUN(test_timeout_scopes);
    WT_RUN(test_outside_cancel_not_timeout);
    WT_RUN(test_cancel_and_shield);
    WT_RUN(test_wait_for_and_gather);
    WT_RUN(test_groups);
    WT_RUN(test_cancel_receive_loses_nothing);
    return 0;
}
