/* Internal: waiters and wait queues, the one parking mechanism under every
 * blocking call in weft (channels, select, futures, sync primitives).
 *
 * A weft__waiter is one parked party: today a thread (it sleeps on a futex),
 * later a coroutine (its park and wake functions suspend and reschedule it
 * instead). A waiter can be linked into several wait queues at once through
 * one weft__wait_link per queue: that is how select waits on several
 * channels and weft_future_wait_any on several futures. The first wake wins:
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

/* Still waiting, but told to re-check which clock it waits on (the clock
 * went back to real time, see waiter.c). Unlike a bare futex wake, a state
 * change cannot be lost between joining the clock's list and sleeping.
 * Tags fit in an int (park() returns them), so 2 + tag never reaches it. */
#define WEFT__WAITER_NUDGED UINT32_MAX

typedef struct weft__waiter weft__waiter;
struct weft__waiter {
    _Atomic uint32_t state;
    int64_t deadline;
    /* Virtual-clock timed list (guarded by the list's lock in waiter.c). */
    weft__waiter *vnext, *vprev;
    bool on_vlist;
};

typedef struct weft__wait_link weft__wait_link;
struct weft__wait_link {
    weft__wait_link *next, *prev;
    weft__waiter *waiter;
    uint32_t tag;  /* reported by park() when this link fires */
    bool linked;
};

typedef struct weft__waitq {
    weft__lock lock;
    weft__wait_link head; /* circular list sentinel, FIFO */
    _Atomic uint32_t count;
} weft__waitq;

void weft__waiter_init(weft__waiter *w);

/* Park until woken or the absolute deadline (on weft_now()'s clock, virtual
 * or real). Returns: the tag of the link that woke it (>= 0), or -ETIMEDOUT.
 * The state stays final: parking again after a return returns at once. */
int weft__waiter_park(weft__waiter *w, int64_t deadline);

/* Wake w as if through a link with this tag. Returns true if this call woke
 * it, false if it was already woken or timed out. */
bool weft__waiter_wake(weft__waiter *w, uint32_t tag);

/* The tag w was woken with, or -1 if it was not (yet) woken. */
static inline int weft__waiter_woken_tag(weft__waiter *w)
{
    uint32_t s = atomic_load_explicit(&w->state, memory_order_acquire);
    if (s < WEFT__WAITER_WOKEN || s == WEFT__WAITER_NUDGED)
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
