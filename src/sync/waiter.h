/* Internal: waiters and wait queues, the one parking mechanism under every
 * blocking call in weft (channels, select, futures, sync primitives).
 *
 * A weft__waiter is one parked party: a thread (it sleeps on a futex) or a
 * task of an event loop (the loop's weft__park_ops suspend and reschedule
 * its coroutine instead, see "Tasks" below). A waiter can be linked into
 * several wait queues at once through one weft__wait_link per queue: that
 * is how select waits on several channels and weft_future_wait_any on
 * several futures. The first wake wins:
 * it records which link fired, and every later wake of the same waiter is a
 * no-op that reports failure, so the waker moves on to the next waiter and no
 * notification is lost.
 *
 * Protocol for a blocking operation (no lost wake-ups):
 *   1. Try the operation; if it succeeds, done.
 *   2. weft__waiter_init(); link into every queue it waits on (this takes
 *      each queue's lock and bumps its waiter count with seq_cst).
 *   3. Try the operation again (a waker that ran between 1 and 2 saw no
 *      waiter; this retry sees its effect). If it succeeds, unlink, done.
 *   4. weft__waiter_park(deadline).
 *   5. Unlink from every queue. If the waiter was woken through a queue but
 *      leaves without consuming what the wake announced (it timed out, took
 *      another select case, or lost a race), it passes the wake on with
 *      weft__waitq_wake_one() on that queue, so the notification is not lost.
 *   6. Loop to 1 until success or the deadline.
 * A waker makes its change visible, then (seq_cst fence) reads the queue's
 * count and, only if nonzero, takes the lock and wakes: the fast path with
 * nobody asleep costs no lock and no system call.
 *
 * Tasks. While an event loop runs a task on a thread, it installs its
 * weft__park_ops there (weft__park_ops_set). weft__waiter_init() captures
 * them with the current task, and from then on the waiter parks by
 * suspending the task (ops->park) and is woken by rescheduling it
 * (ops->wake), so every blocking call above suspends a coroutine instead
 * of blocking its thread, with no change to the code above. Rules that
 * keep this exact:
 *   - Whoever claims a task's waiter (a waker, the loop's timer, the
 *     loop's cancellation) calls ops->wake(task) once, after the claim.
 *     A queue's waker does so under the queue's lock: a task that linked
 *     a waiter and then found what it wanted without parking cannot get
 *     past its unlink, so cannot finish, before the wake is posted. The
 *     loop then takes in posted wakes before it frees a finished task.
 *   - A wake is a hint: ops->park re-checks the waiter's state and
 *     suspends again while it is WAITING, so a late wake (of a waiter that
 *     never parked) costs a spurious resume, never a wrong return.
 *   - A cancelled task's waits end with -ECANCELED (level-triggered: every
 *     park of a cancelled task, until it finishes), except waiters marked
 *     nocancel (callers that cannot report an error: weft_mutex_lock) and
 *     waits inside a shield (ops->cancelled says so).
 *
 * Synchronization: `state` is the futex word, written only by compare-and-
 * swap from WEFT__WAITER_WAITING (or from WEFT__WAITER_NUDGED, which still
 * means waiting), so exactly one of "woken by link i" and "timed out" wins.
 * A queue's list is guarded by its lock; `count` mirrors the list length
 * for the lock-free fast path. A waiter lives on its owner's
 * stack for the duration of one blocking call. */
#ifndef WEFT_SYNC_WAITER_H
#define WEFT_SYNC_WAITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sync/lock.h"

enum {
    WEFT__WAITER_WAITING = 0,
    WEFT__WAITER_TIMEDOUT = 1,
    WEFT__WAITER_WOKEN = 2, /* woken through link with tag t: state = 2 + t */
};

/* The wait was cancelled (its task was): park() returns -ECANCELED. */
#define WEFT__WAITER_CANCELLED (UINT32_MAX - 1)

/* Still waiting, but told to re-check which clock it waits on (the clock
 * went back to real time, see waiter.c). Unlike a bare futex wake, a state
 * change cannot be lost between joining the clock's list and sleeping.
 * Tags fit in an int (park() returns them), so 2 + tag never reaches it. */
#define WEFT__WAITER_NUDGED UINT32_MAX

typedef struct weft__waiter weft__waiter;

/* How a task parks (see "Tasks" above). All three take the task pointer
 * that was current when the waiter was initialized. */
typedef struct weft__park_ops {
    /* On the task's own coroutine: suspend until ops->wake delivers the
     * claim of w; with a deadline (not WEFT_NEVER), the loop claims w as
     * timed out at the deadline. */
    void (*park)(void *task, weft__waiter *w, int64_t deadline);
    /* Any thread, after claiming a waiter of task: make task runnable. */
    void (*wake)(void *task);
    /* On the task's coroutine: must a cancellable wait end now with
     * -ECANCELED? */
    bool (*cancelled)(void *task);
    /* On the task's coroutine: let the loop's other ready tasks run once,
     * then continue (no cancellation point). */
    void (*yield)(void *task);
} weft__park_ops;

struct weft__waiter {
    _Atomic uint32_t state;
    int64_t deadline;
    /* The task this waiter belongs to, NULL for a thread (set by init). */
    const weft__park_ops *ops;
    void *task;
    bool nocancel;  /* set by the caller after init: cancellation ignored */
    bool delivered; /* a task's park returned: later parks return at once */
    /* Virtual-clock timed list (guarded by the list's lock in waiter.c). */
    weft__waiter *vnext, *vprev;
    bool on_vlist;
};

typedef struct weft__wait_link weft__wait_link;
struct weft__wait_link {
    weft__wait_link *next, *prev;
    weft__waiter *waiter;
    uint32_t tag; /* reported by park() when this link fires */
    bool linked;
};

typedef struct weft__waitq {
    weft__lock lock;
    weft__wait_link head; /* circular list sentinel, FIFO */
    _Atomic uint32_t count;
} weft__waitq;

/* Install (ops, task) as the calling thread's current task, or clear it
 * with (NULL, NULL). Called by the event loop around each resume. */
void weft__park_ops_set(const weft__park_ops *ops, void *task);

/* True if the calling thread is running a loop task: spinning there would
 * only delay the coroutines that could make progress. */
bool weft__in_task(void);

/* In a loop task: let the loop's other ready tasks run, then return true.
 * Elsewhere: false at once. For waits that a task of the same loop is
 * about to end (the unbuffered channel's hand-off), where a round of the
 * loop is cheaper than linking, parking and being woken. */
bool weft__task_yield(void);

void weft__waiter_init(weft__waiter *w);

/* Park until woken or the absolute deadline (on weft_now()'s clock, virtual
 * or real). Returns: the tag of the link that woke it (>= 0), -ETIMEDOUT,
 * or -ECANCELED (a task's cancellable wait, see "Tasks").
 * The state stays final: parking again after a return returns at once. */
int weft__waiter_park(weft__waiter *w, int64_t deadline);

/* Wake w as if through a link with this tag. Returns true if this call woke
 * it, false if it was already woken or timed out. */
bool weft__waiter_wake(weft__waiter *w, uint32_t tag);

/* Claim w as timed out or cancelled (to is WEFT__WAITER_TIMEDOUT or
 * WEFT__WAITER_CANCELLED) and, for a task, wake it. For the event loop's
 * timers and cancellation. Returns true if this call decided the wait. */
bool weft__waiter_end(weft__waiter *w, uint32_t to);

/* The tag w was woken with, or -1 if it was not (yet) woken. */
static inline int weft__waiter_woken_tag(weft__waiter *w)
{
    uint32_t s = atomic_load_explicit(&w->state, memory_order_acquire);
    if (s < WEFT__WAITER_WOKEN || s >= WEFT__WAITER_CANCELLED)
        return -1;
    return (int)(s - WEFT__WAITER_WOKEN);
}

void weft__waitq_init(weft__waitq *q);

/* Link l (for waiter w, reporting tag) at the tail of q. Issues a seq_cst
 * fence after bumping the count, pairing with weft__waitq_has_waiters(). */
void weft__waitq_add(weft__waitq *q, weft__wait_link *l, weft__waiter *w, uint32_t tag);

/* Unlink l if still linked (a wake unlinks it). Returns true if it was. */
bool weft__waitq_remove(weft__waitq *q, weft__wait_link *l);

/* Fast check for wakers: seq_cst fence (pairs with the one in _add), then
 * read the count. False means no waiter can be missed by skipping the wake. */
static inline bool weft__waitq_has_waiters(weft__waitq *q)
{
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load_explicit(&q->count, memory_order_relaxed) != 0;
}

/* Pop links in FIFO order until one waiter accepts the wake. Returns true if
 * a waiter was woken. */
bool weft__waitq_wake_one(weft__waitq *q);

/* Wake every waiter linked now. Returns how many were woken. */
int weft__waitq_wake_all(weft__waitq *q);

#endif
