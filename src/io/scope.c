/* Cancellation scopes: shields, timeout scopes (asyncio.timeout) and task
 * groups (asyncio.TaskGroup). See include/weft/loop.h for the contract.
 *
 * A task's `cancels` counts pending cancellation requests: one per outside
 * cancel (weft_future_cancel on its future), one per fired timeout scope,
 * one when its group cancels it on a child's failure. While it is non-zero
 * (and no shield is up) every cancellable wait of the task ends with
 * -ECANCELED. A scope that fired takes its own request back at exit
 * (CPython's uncancel()), and reports a timeout only if that leaves no
 * more requests than there were at its entry: the rule that makes nested
 * timeouts and outside cancels compose.
 *
 * Threads: everything here runs on the loop's thread, in tasks or in the
 * scheduler (timer callbacks, finished children). */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/time.h>

#include "io/loop_internal.h"

/* ---- shields ---------------------------------------------------------------- */

int weft_shield_enter(void)
{
    task *t = weft__task_current();
    if (!t)
        return -EPERM;
    t->shield++;
    return 0;
}

int weft_shield_exit(void)
{
    task *t = weft__task_current();
    if (!t)
        return -EPERM;
    if (!t->shield)
        return -EINVAL;
    t->shield--;
    return 0;
}

/* ---- timeout scopes ---------------------------------------------------------- */

_Static_assert(sizeof(((weft_timeout *)0)->timer_) >= sizeof(weft__timer),
               "weft_timeout's private storage holds a timer");

static weft__timer *scope_timer(weft_timeout *t)
{
    return (weft__timer *)(void *)t->timer_;
}

static void scope_fire(weft_loop *loop, weft__timer *tm)
{
    (void)loop;
    weft_timeout *t = tm->ctx;
    t->armed_ = false;
    t->fired_ = true;
    weft__task_cancel(t->task_);
}

int weft_timeout_enter(weft_timeout *t, int64_t deadline)
{
    task *k = weft__task_current();
    if (!k || !t)
        return k ? -EINVAL : -EPERM;
    /* CPython's "Timeout has already been entered": linking t again would
     * make the scope list a cycle. Only a scope whose task_ is this task
     * can be in the list (exit clears it), so the walk is rare even with
     * thousands of nested scopes. */
    if (t->task_ == k)
        for (weft_timeout *s = k->scopes; s; s = s->prev_)
            if (s == t)
                return -EBUSY;
    t->deadline = deadline;
    t->task_ = k;
    t->prev_ = k->scopes;
    t->cancels_at_enter_ = k->cancels;
    t->fired_ = t->armed_ = false;
    weft__timer_init(scope_timer(t), scope_fire, t);
    k->scopes = t;
    if (deadline == WEFT_NEVER)
        return 0;
    if (weft_deadline_passed(deadline)) {
        /* Zero and negative timeouts fire: the first wait is cut. */
        t->fired_ = true;
        weft__task_cancel(k);
        return 0;
    }
    weft__timer_arm(k->loop, scope_timer(t), deadline);
    t->armed_ = true;
    return 0;
}

int weft_timeout_reschedule(weft_timeout *t, int64_t deadline)
{
    task *k = weft__task_current();
    if (!k)
        return -EPERM;
    if (!t || t->task_ != k || t->fired_)
        return -EINVAL;
    t->deadline = deadline;
    if (deadline == WEFT_NEVER) {
        weft__timer_disarm(k->loop, scope_timer(t));
        t->armed_ = false;
        return 0;
    }
    if (weft_deadline_passed(deadline)) {
        weft__timer_disarm(k->loop, scope_timer(t));
        t->armed_ = false;
        t->fired_ = true;
        weft__task_cancel(k);
        return 0;
    }
    weft__timer_arm(k->loop, scope_timer(t), deadline);
    t->armed_ = true;
    return 0;
}

int weft_timeout_exit(weft_timeout *t, int rc)
{
    task *k = weft__task_current();
    if (!k)
        return -EPERM;
    if (!t || k->scopes != t)
        return -EINVAL;
    if (t->armed_)
        weft__timer_disarm(k->loop, scope_timer(t));
    t->armed_ = false;
    k->scopes = t->prev_;
    t->task_ = NULL; /* no longer entered (weft_timeout_enter's check) */
    if (!t->fired_)
        return rc;
    assert(k->cancels > 0);
    k->cancels--; /* take back this scope's own request */
    if (rc == -ECANCELED && k->cancels <= t->cancels_at_enter_)
        return -ETIMEDOUT;
    return rc;
}

bool weft_timeout_expired(const weft_timeout *t)
{
    return t && t->fired_;
}

/* ---- task groups --------------------------------------------------------------- */

int weft_group_init(weft_group *g)
{
    task *k = weft__task_current();
    if (!k)
        return -EPERM;
    if (!g)
        return -EINVAL;
    memset(g, 0, sizeof *g);
    g->owner_ = k;
    return 0;
}

static void cancel_children(weft_group *g)
{
    for (task *c = g->children_; c; c = c->gnext)
        weft_future_cancel(weft__task_future(c));
}

int weft_group_spawn(weft_group *g, weft_task_fn *fn, void *arg, const weft_spawn_opts *opts,
                     weft_future **future)
{
    task *k = weft__task_current();
    if (!g || !g->owner_)
        return -EINVAL;
    task *owner = g->owner_;
    if (!k || k->loop != owner->loop)
        return -EPERM;
    if (g->failing_ || g->done_)
        return -EPIPE;
    weft_future *f;
    int rc = weft__spawn(owner->loop, fn, arg, opts, g, &f);
    if (rc < 0)
        return rc;
    task *c = weft__task_of(f);
    c->gprev = NULL;
    c->gnext = g->children_;
    if (g->children_)
        ((task *)g->children_)->gprev = c;
    g->children_ = c;
    g->alive_++;
    if (future)
        *future = f;
    else
        weft_future_unref(f);
    return 0;
}

void weft__group_child_done(task *c)
{
    weft_group *g = c->group;
    if (c->gprev)
        c->gprev->gnext = c->gnext;
    else
        g->children_ = c->gnext;
    if (c->gnext)
        c->gnext->gprev = c->gprev;
    c->group = NULL;
    g->alive_--;
    int rc = c->rc > 0 ? -EINVAL : c->rc;
    if (weft_future_get_state(weft__task_future(c)) == WEFT_FUTURE_CANCELLED)
        rc = 0; /* a cancelled child is not a failure */
    if (rc < 0 && !g->failing_) {
        g->failing_ = true;
        g->first_err_ = rc;
        cancel_children(g);
        /* Get the owner to its wait: cancel it too, once; the wait takes
         * the request back. */
        if (!g->waiting_ && !g->owner_cancelled_) {
            g->owner_cancelled_ = true;
            weft__task_cancel(g->owner_);
        }
    }
    if (g->alive_ == 0 && g->waiter_)
        weft__waiter_wake(g->waiter_, 0);
}

int weft_group_wait(weft_group *g)
{
    task *k = weft__task_current();
    if (!k)
        return -EPERM;
    if (!g || g->owner_ != k || g->waiting_)
        return -EINVAL;
    g->waiting_ = true;
    bool cut = false;
    while (g->alive_ > 0) {
        weft__waiter w;
        weft__waiter_init(&w);
        /* Once cancelled, keep waiting: the children cannot outlive us. */
        w.nocancel = cut;
        g->waiter_ = &w;
        int rc = weft__waiter_park(&w, WEFT_NEVER);
        g->waiter_ = NULL;
        if (rc == -ECANCELED && !cut) {
            cut = true;
            cancel_children(g);
        }
    }
    if (g->owner_cancelled_) {
        assert(k->cancels > 0);
        k->cancels--;
        g->owner_cancelled_ = false;
    }
    g->done_ = true;
    if (g->failing_)
        return g->first_err_;
    return k->cancels > 0 ? -ECANCELED : 0;
}
