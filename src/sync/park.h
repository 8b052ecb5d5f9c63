/* Internal: the parking lot, where the public sync primitives (weft_mutex,
 * weft_cond, weft_sem, ...) put threads to sleep.
 *
 * It is a futex in user space: a thread parks on an address (its "key")
 * only if a condition on that address still holds, checked under the lock
 * of the key's bucket; an unparker wakes threads parked on that key. The
 * primitives keep all of their state in one or two atomic words and park on
 * one of them, so they stay small, statically initializable and free of
 * destroy obligations: the queues live here, in a fixed table of buckets
 * hashed by key, not in each primitive (the design of WebKit's ParkingLot
 * and Rust's parking_lot). Why not the kernel futex directly: timed waits
 * must honour weft's virtual clock, and each parked thread here is a
 * weft__waiter parked with weft__waiter_park(), which does that (and
 * suspends a loop task instead of its thread).
 *
 * Protocol, for a primitive (no lost wake-up):
 *   1. Waiter: read the state; if it can proceed, done.
 *   2. Waiter: weft__park(key, check, ...): under the bucket lock, check()
 *      re-reads the state; if it changed, weft__park returns -EAGAIN at
 *      once (go to 1). Otherwise the thread queues and sleeps.
 *   3. Waker: change the state first, then weft__unpark(key, n). The
 *      unpark takes the bucket lock, so either the waiter's check ran
 *      after the change (and saw it), or the waiter was queued before the
 *      unpark looked (and is woken).
 *   4. Waiter: on return (0 woken, -ETIMEDOUT), go to 1. A waiter that
 *      times out was not woken (the waiter's state decides that exactly
 *      once), so a wake is never absorbed by a thread that then gives up.
 *
 * Synchronization: each bucket's queue and its entries' links are guarded
 * by the bucket's weft__lock. An entry lives on its waiter's stack for the
 * duration of weft__park(); an unparker unlinks it under the lock before
 * waking it, and never touches it after the wake (weft__waiter_wake, whose
 * futex wake on a stale address is harmless). A waiter that timed out
 * unlinks itself under the lock if still linked. */
#ifndef WEFT_SYNC_PARK_H
#define WEFT_SYNC_PARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Called under the bucket lock: true means "still must wait", park. */
typedef bool weft__park_check(const void *key, const void *ctx);

/* Flags for weft__park. NOCANCEL: the caller cannot report an error (a
 * void lock): a cancelled loop task keeps waiting (src/sync/waiter.h). */
enum { WEFT__PARK_NOCANCEL = 1 };

/* weft__park: park the calling thread (or loop task) on key until an unpark
 * or the absolute deadline (weft_now()'s clock, virtual or real).
 * Returns: 0 woken by weft__unpark; -EAGAIN if check() said not to park;
 *          -ETIMEDOUT; -ECANCELED (a cancelled task, without NOCANCEL). */
int weft__park(const void *key, weft__park_check *check, const void *ctx, int64_t deadline,
               unsigned flags);

/* weft__unpark: wake up to n threads parked on key, oldest first.
 * Returns: how many were woken. */
int weft__unpark(const void *key, int n);

/* weft__unpark_one: wake the oldest thread parked on key and, still under
 * the bucket lock, call then(ctx, woke, more): woke says whether a thread
 * was woken, more whether other threads are still parked on key. A parker
 * whose check() runs after `then` sees what `then` stored, so a primitive
 * can keep a "someone is parked" bit exact (weft_mutex does).
 * Returns: 1 if a thread was woken, else 0. */
int weft__unpark_one(const void *key, void (*then)(void *ctx, bool woke, bool more), void *ctx);

bool weft__park_check_u32(const void *key, const void *ctx);
bool weft__park_check_u64(const void *key, const void *ctx);

/* Park on a 32-bit atomic while it still equals `expected`. */
static inline int weft__park_u32(_Atomic uint32_t *word, uint32_t expected, int64_t deadline)
{
    return weft__park(word, weft__park_check_u32, &expected, deadline, 0);
}

/* The same, ignoring cancellation (for callers that cannot fail). */
static inline int weft__park_u32_nocancel(_Atomic uint32_t *word, uint32_t expected,
                                          int64_t deadline)
{
    return weft__park(word, weft__park_check_u32, &expected, deadline, WEFT__PARK_NOCANCEL);
}

/* Park on a 64-bit atomic while it still equals `expected`. */
static inline int weft__park_u64(_Atomic uint64_t *word, uint64_t expected, int64_t deadline)
{
    return weft__park(word, weft__park_check_u64, &expected, deadline, 0);
}

#endif
