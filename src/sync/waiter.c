/* Waiters and wait queues: see src/sync/waiter.h for the protocol.
 *
 * Synchronization:
 * - weft__waiter.state: futex word; leaves WAITING exactly once, by CAS
 *   (acq_rel), either to TIMEDOUT (by the waiter or the virtual clock) or to
 *   WOKEN+tag (by a waker). The acquire load in park pairs with that CAS.
 *   Before that it may go WAITING -> NUDGED (by the clock hook, when the
 *   clock goes back to real time) and NUDGED -> WAITING (by the waiter, once
 *   it has noticed); claim() treats NUDGED as WAITING.
 * - A task's waiter (ops set) is claimed the same way; the claimer then
 *   calls ops->wake, which publishes through the loop's queue (waiter.h,
 *   "Tasks").
 * - weft__waitq list and links: guarded by the queue's lock. `count` is
 *   written under the lock and read without it by weft__waitq_has_waiters.
 * - The virtual-clock list (vlist_*) of timed waiters and `hooked`: guarded
 *   by vlist_lock. A waiter removes itself under that lock before park()
 *   returns, so the clock hook never touches a waiter whose frame is gone.
 *
 * Virtual timed wait, in park():
 *   1. Under vlist_lock: register the clock hooks (first use), then return
 *      without joining if the clock is real again or the deadline passed;
 *      else join the list. The clock's switch or advance is stored before
 *      its hook takes vlist_lock, so either this step sees it, or the hook
 *      finds the waiter on the list.
 *   2. Sleep on the futex while the state is WAITING. The hook changes the
 *      state (claim to TIMEDOUT, or NUDGED on the switch to real time), so
 *      its wake-up is not lost if it runs between 1 and 2.
 *   3. Leave the list; undo a nudge (NUDGED -> WAITING) and loop, which
 *      re-checks the clock mode. */
#include <limits.h>

#include <weft/error.h>
#include <weft/time.h>

#include "core/clock.h"
#include "sync/futex.h"
#include "sync/waiter.h"

static weft__lock vlist_lock = WEFT__LOCK_INIT;
/* The loop task running on this thread, if any (waiter.h, "Tasks"). */
static _Thread_local const weft__park_ops *tls_ops;
static _Thread_local void *tls_task;
static weft__waiter *vlist_head;
static bool hooked;

static bool claim(weft__waiter *w, uint32_t to)
{
    uint32_t expected = WEFT__WAITER_WAITING;
    /* acq_rel: release publishes the waker's prior writes to the woken
     * waiter; pairs with the acquire loads in weft__waiter_park(). */
    while (!atomic_compare_exchange_strong_explicit(&w->state, &expected, to, memory_order_acq_rel,
                                                    memory_order_acquire)) {
        if (expected != WEFT__WAITER_NUDGED)
            return false;
        /* Nudged is still waiting: claim it from there. */
    }
    return true;
}

/* Virtual clock hook: wake every timed waiter whose deadline has passed, and
 * nudge every one if the clock went back to real (they re-check their mode;
 * protocol step 2 in the Synchronization block). */
static void vclock_hook(void)
{
    bool virt = weft__clock_is_virtual();
    int64_t now = weft_now();
    weft__lock_acquire(&vlist_lock);
    for (weft__waiter *w = vlist_head; w; w = w->vnext) {
        if (!virt) {
            uint32_t expected = WEFT__WAITER_WAITING;
            /* Relaxed: a nudge publishes nothing. The waiter re-reads the
             * clock mode under vlist_lock (step 1), after this section. */
            if (atomic_compare_exchange_strong_explicit(&w->state, &expected, WEFT__WAITER_NUDGED,
                                                        memory_order_relaxed, memory_order_relaxed))
                weft__futex_wake(&w->state, 1);
        } else if (w->deadline <= now && claim(w, WEFT__WAITER_TIMEDOUT)) {
            weft__futex_wake(&w->state, 1);
        }
    }
    weft__lock_release(&vlist_lock);
}

/* The timed waiters still parked: a waiter whose wait was already decided
 * (timed out or woken) but whose thread has not yet left the list is not
 * counted, so a test sees the count drop as soon as its advance returns. */
static int vclock_count(void)
{
    int n = 0;
    weft__lock_acquire(&vlist_lock);
    for (weft__waiter *w = vlist_head; w; w = w->vnext) {
        uint32_t s = atomic_load_explicit(&w->state, memory_order_relaxed);
        n += s == WEFT__WAITER_WAITING || s == WEFT__WAITER_NUDGED;
    }
    weft__lock_release(&vlist_lock);
    return n;
}

enum { VLIST_ADDED, VLIST_PASSED, VLIST_REAL };

/* Protocol step 1. Returns VLIST_ADDED, or (not added) VLIST_PASSED if the
 * deadline has already passed on the virtual clock, VLIST_REAL if the clock
 * is real again. */
static int vlist_add(weft__waiter *w)
{
    weft__lock_acquire(&vlist_lock);
    if (!hooked) {
        /* Under the lock, so no waiter joins the list before the hook that
         * serves it is in place. */
        weft__clock_set_advance_hook(vclock_hook);
        weft__clock_set_count_fn(vclock_count);
        hooked = true;
    }
    int rc = VLIST_ADDED;
    if (!weft__clock_is_virtual())
        rc = VLIST_REAL;
    else if (w->deadline <= weft_now())
        rc = VLIST_PASSED;
    if (rc == VLIST_ADDED) {
        w->vprev = NULL;
        w->vnext = vlist_head;
        if (vlist_head)
            vlist_head->vprev = w;
        vlist_head = w;
        w->on_vlist = true;
    }
    weft__lock_release(&vlist_lock);
    return rc;
}

static void vlist_remove(weft__waiter *w)
{
    weft__lock_acquire(&vlist_lock);
    if (w->on_vlist) {
        if (w->vprev)
            w->vprev->vnext = w->vnext;
        else
            vlist_head = w->vnext;
        if (w->vnext)
            w->vnext->vprev = w->vprev;
        w->on_vlist = false;
    }
    weft__lock_release(&vlist_lock);
}

void weft__park_ops_set(const weft__park_ops *ops, void *task)
{
    tls_ops = ops;
    tls_task = task;
}

bool weft__in_task(void)
{
    return tls_ops != NULL;
}

bool weft__task_yield(void)
{
    if (!tls_ops)
        return false;
    tls_ops->yield(tls_task);
    return true;
}

void weft__waiter_init(weft__waiter *w)
{
    atomic_init(&w->state, WEFT__WAITER_WAITING);
    w->deadline = WEFT_NEVER;
    w->ops = tls_ops;
    w->task = tls_task;
    w->nocancel = false;
    w->delivered = false;
    w->vnext = w->vprev = NULL;
    w->on_vlist = false;
}

/* How to wake the party that owns a waiter, read before claiming it: once
 * claimed, a thread waiter may return and its frame be reused. A thread: a
 * futex wake (on a stale address it is a harmless spurious wake-up, since
 * every futex wait in weft re-checks in a loop). A task: its loop
 * reschedules it; the frame stays valid until then (waiter.h, "Tasks"). */
typedef struct wake_to {
    const weft__park_ops *ops;
    void *task;
    _Atomic uint32_t *word;
} wake_to;

static inline wake_to wake_to_of(weft__waiter *w)
{
    return (wake_to){w->ops, w->task, &w->state};
}

static void deliver(wake_to t)
{
    if (t.ops)
        t.ops->wake(t.task);
    else
        weft__futex_wake(t.word, 1);
}

static int park_result(weft__waiter *w)
{
    uint32_t s = atomic_load_explicit(&w->state, memory_order_acquire);
    if (s == WEFT__WAITER_TIMEDOUT)
        return -ETIMEDOUT;
    if (s == WEFT__WAITER_CANCELLED)
        return -ECANCELED;
    return (int)(s - WEFT__WAITER_WOKEN);
}

/* A task's park: decide the wait ourselves if it is already cancelled or
 * past its deadline; otherwise (or if a waker claimed it first) suspend
 * until the claim's wake arrives. */
static int park_task(weft__waiter *w, int64_t deadline)
{
    if (!w->delivered) {
        bool self = false;
        if (atomic_load_explicit(&w->state, memory_order_relaxed) == WEFT__WAITER_WAITING) {
            if (!w->nocancel && w->ops->cancelled(w->task))
                self = claim(w, WEFT__WAITER_CANCELLED);
            else if (deadline != WEFT_NEVER && weft_deadline_passed(deadline))
                self = claim(w, WEFT__WAITER_TIMEDOUT);
        }
        if (!self)
            w->ops->park(w->task, w, deadline);
        w->delivered = true;
    }
    return park_result(w);
}

bool weft__waiter_end(weft__waiter *w, uint32_t to)
{
    wake_to t = wake_to_of(w);
    if (!claim(w, to))
        return false;
    deliver(t);
    return true;
}

int weft__waiter_park(weft__waiter *w, int64_t deadline)
{
    w->deadline = deadline;
    if (w->ops)
        return park_task(w, deadline);
    for (;;) {
        uint32_t s = atomic_load_explicit(&w->state, memory_order_acquire);
        if (s == WEFT__WAITER_NUDGED) {
            /* Step 3: undo the nudge; if a claim beat us, the loop sees it. */
            atomic_compare_exchange_strong_explicit(&w->state, &s, WEFT__WAITER_WAITING,
                                                    memory_order_relaxed, memory_order_relaxed);
            continue;
        }
        if (s != WEFT__WAITER_WAITING)
            break;
        if (deadline == WEFT_NEVER) {
            weft__futex_wait(&w->state, WEFT__WAITER_WAITING, WEFT_NEVER);
        } else if (weft__clock_is_virtual()) {
            /* Sleep without a real timeout; the virtual clock's hook claims
             * and wakes this waiter once its deadline passes. */
            int added = vlist_add(w);
            if (added == VLIST_PASSED)
                claim(w, WEFT__WAITER_TIMEDOUT);
            if (added != VLIST_ADDED)
                continue;
            weft__futex_wait(&w->state, WEFT__WAITER_WAITING, WEFT_NEVER); /* step 2 */
            vlist_remove(w);
        } else if (weft__futex_wait(&w->state, WEFT__WAITER_WAITING, deadline) == -ETIMEDOUT ||
                   weft_deadline_passed(deadline)) {
            claim(w, WEFT__WAITER_TIMEDOUT);
        }
    }
    return park_result(w);
}

bool weft__waiter_wake(weft__waiter *w, uint32_t tag)
{
    wake_to t = wake_to_of(w);
    if (!claim(w, WEFT__WAITER_WOKEN + tag))
        return false;
    deliver(t);
    return true;
}

void weft__waitq_init(weft__waitq *q)
{
    weft__lock_init(&q->lock);
    q->head.next = q->head.prev = &q->head;
    q->head.waiter = NULL;
    q->head.linked = false;
    atomic_init(&q->count, 0);
}

void weft__waitq_add(weft__waitq *q, weft__wait_link *l, weft__waiter *w, uint32_t tag)
{
    l->waiter = w;
    l->tag = tag;
    weft__lock_acquire(&q->lock);
    l->prev = q->head.prev;
    l->next = &q->head;
    q->head.prev->next = l;
    q->head.prev = l;
    l->linked = true;
    atomic_fetch_add_explicit(&q->count, 1, memory_order_seq_cst);
    weft__lock_release(&q->lock);
    /* Pairs with the fence in weft__waitq_has_waiters(): either the waker
     * sees this waiter, or the caller's re-check sees the waker's change. */
    atomic_thread_fence(memory_order_seq_cst);
}

static void unlink_locked(weft__waitq *q, weft__wait_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->linked = false;
    atomic_fetch_sub_explicit(&q->count, 1, memory_order_relaxed);
}

bool weft__waitq_remove(weft__waitq *q, weft__wait_link *l)
{
    weft__lock_acquire(&q->lock);
    bool was = l->linked;
    if (was)
        unlink_locked(q, l);
    weft__lock_release(&q->lock);
    return was;
}

bool weft__waitq_wake_one(weft__waitq *q)
{
    bool woke = false;
    wake_to t;
    weft__lock_acquire(&q->lock);
    while (q->head.next != &q->head) {
        weft__wait_link *l = q->head.next;
        unlink_locked(q, l);
        t = wake_to_of(l->waiter);
        if (claim(l->waiter, WEFT__WAITER_WOKEN + l->tag)) {
            woke = true;
            /* A task's wake is posted under the lock (waiter.h, "Tasks");
             * a thread's futex wake waits until the lock is free: a
             * system call under it would hold up every other waker. */
            if (t.ops)
                deliver(t);
            break;
        }
    }
    weft__lock_release(&q->lock);
    if (woke && !t.ops)
        deliver(t);
    return woke;
}

int weft__waitq_wake_all(weft__waitq *q)
{
    int n = 0;
    weft__lock_acquire(&q->lock);
    while (q->head.next != &q->head) {
        weft__wait_link *l = q->head.next;
        unlink_locked(q, l);
        wake_to t = wake_to_of(l->waiter);
        if (claim(l->waiter, WEFT__WAITER_WOKEN + l->tag)) {
            /* Delivered under the lock: the waiter's unlink needs it, so a
             * task that never parked cannot finish before the wake is
             * posted (waiter.h, "Tasks"). */
            deliver(t);
            n++;
        }
    }
    weft__lock_release(&q->lock);
    return n;
}
