/* weft/future.h: one future type for every producer.
 *
 * A weft_future is the result of work that finishes later: a thread pool
 * task, an event loop task (weft/loop.h), a process pool task
 * (weft/procpool.h). The
 * producer creates it, may mark it running, and completes it once with a
 * value or an error; consumers wait for it (with a deadline), read its
 * result, register completion callbacks or cancel it.
 *
 * States:
 *
 *     PENDING --start--> RUNNING --complete--> DONE | FAILED | CANCELLED
 *        |                  |
 *        |                  +--cancel: request only (-EBUSY); the task polls
 *        |                     weft_future_cancel_requested()
 *        +--complete--> DONE | FAILED | CANCELLED
 *        +--cancel--> CANCELLED
 *
 * DONE, FAILED and CANCELLED are terminal: a future leaves PENDING or
 * RUNNING exactly once, and the first completion or cancellation wins.
 * Completing with -ECANCELED (a task that honoured a cancellation request)
 * ends in CANCELLED, so "cancelled" means the same thing whoever decided it.
 *
 * Result: a weft_value (a pointer, a 64-bit number or 16 inline bytes,
 * copied in and out, never owned by the future) plus an error code.
 *
 * Ownership (reference counting):
 *   1. weft_future_create() returns a future holding one reference, owned
 *      by the caller. weft_future_ref() adds one, weft_future_unref() drops
 *      one; the last unref frees the future.
 *   2. A producer (a pool) keeps its own reference while the work is queued
 *      or running and drops it after weft_future_complete(); the consumer
 *      gets a separate reference (typically the one the producer's submit
 *      call returns) and drops it when done with the result.
 *   3. Every other function borrows: the caller must hold a reference (or
 *      know that someone holding one outlives the call) for the whole call,
 *      a blocking wait and a completion that runs callbacks included.
 *   4. Waits and callbacks never take or drop references. A callback
 *      borrows f for the duration of the call; it may take a reference of
 *      its own with weft_future_ref(), or drop one that its arg owns.
 *   5. weft_as_completed_create() takes a reference on each future and
 *      weft_as_completed_destroy() drops them.
 *   6. A future freed before reaching a terminal state (every reference
 *      dropped, the producer's included) never runs its callbacks; they are
 *      freed with it. So a producer completes or cancels before dropping its
 *      reference.
 *
 * Waiting: the waiting side parks through weft's one waiter mechanism: a
 * thread sleeps, a loop task suspends (weft/loop.h), with the same API.
 * Completion wakes every waiter. Waiting never allocates, except
 * weft_future_wait_many() over more than WEFT_FUTURE_WAIT_STACK futures.
 *
 * Thread-safety: every function may be called from any thread, and all of
 * them may race with each other on the same future, except that a future
 * must not be used after its last reference is dropped. */
/* In a loop task (weft/loop.h): a call below that would block suspends the
 * task instead of its thread, and once the task is cancelled every such
 * wait (each call whose errors include -ETIMEDOUT) may also end with
 * -ECANCELED, having changed nothing. */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/error.h>
#include <weft/time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_future weft_future;

typedef enum weft_future_state {
    WEFT_FUTURE_PENDING,   /* created, not started, not cancelled */
    WEFT_FUTURE_RUNNING,   /* started (or being completed) */
    WEFT_FUTURE_DONE,      /* completed with a value */
    WEFT_FUTURE_FAILED,    /* completed with an error */
    WEFT_FUTURE_CANCELLED, /* cancelled before it ran, or the task gave up */
} weft_future_state;

/* A future's value: whatever fits in 16 bytes, copied by value. The future
 * never owns what `ptr` points to. */
typedef union weft_value {
    void *ptr;
    int64_t i64;
    uint64_t u64;
    double f64;
    unsigned char bytes[16];
} weft_value;

/* ---- Lifetime ---------------------------------------------------------- */

/* weft_future_create: a new PENDING future.
 * Returns: 0 and *out; *out is untouched on failure.
 * Errors: -EINVAL if out is NULL; -ENOMEM.
 * Ownership: *out holds one reference, owned by the caller.
 * Thread-safety: any thread. */
int weft_future_create(weft_future **out);

/* weft_future_ref: add a reference.
 * Returns: f.
 * Ownership: the caller must already hold a reference; it now holds one
 *            more.
 * Thread-safety: any thread. */
weft_future *weft_future_ref(weft_future *f);

/* weft_future_unref: drop a reference; the last one frees the future (see
 * rule 6 above for a future that never finished). NULL is ignored.
 * Ownership: consumes one reference.
 * Thread-safety: any thread. */
void weft_future_unref(weft_future *f);

/* ---- Producer side ----------------------------------------------------- */

/* weft_future_start: PENDING -> RUNNING, before the producer runs the work.
 * Returns: 0.
 * Errors: -ECANCELED if the future was cancelled (the producer must skip
 *         the work and need not complete it); -EALREADY if it was already
 *         started or completed.
 * Ownership: borrows f.
 * Thread-safety: any thread; races with weft_future_cancel() are resolved
 *                atomically: exactly one of them wins a PENDING future. */
int weft_future_start(weft_future *f);

/* weft_future_complete: finish the future: err == 0 makes it DONE with
 * value, err == -ECANCELED makes it CANCELLED, any other err < 0 makes it
 * FAILED with err (value is then ignored). Works from PENDING or RUNNING
 * (an I/O operation need not call start). Wakes every waiter, then runs the
 * registered callbacks on this thread, in registration order, before
 * returning.
 * Returns: 0 if this call completed the future.
 * Errors: -EALREADY if it was already terminal (typically: cancelled while
 *         pending) or another call is completing it; -EINVAL if err > 0.
 * Ownership: borrows f (so callbacks may drop other references safely).
 * Thread-safety: any thread. */
int weft_future_complete(weft_future *f, weft_value value, int err);

/* weft_future_cancel_requested: has a consumer asked to cancel? A running
 * task polls this and, if it can stop, completes with -ECANCELED.
 * Returns: true once weft_future_cancel() was called on it (and for a
 *          CANCELLED future); false otherwise.
 * Thread-safety: any thread. */
bool weft_future_cancel_requested(const weft_future *f);

/* ---- Consumer side ----------------------------------------------------- */

/* weft_future_get_state: a snapshot of the state (it may change right
 * after, unless it is terminal). A future being completed reads RUNNING
 * until its result is visible.
 * Thread-safety: any thread. */
weft_future_state weft_future_get_state(const weft_future *f);

/* weft_future_cancel: cancel the future.
 * Returns: 0 if it was PENDING and is now CANCELLED: waiters are woken and
 *          callbacks run on this thread before the call returns; the
 *          producer's weft_future_start() will return -ECANCELED.
 * Errors: -EBUSY if it is RUNNING: a cancellation request is recorded
 *         (weft_future_cancel_requested() turns true) and the task decides;
 *         -EALREADY if it is already terminal.
 * Ownership: borrows f.
 * Thread-safety: any thread. */
int weft_future_cancel(weft_future *f);

/* weft_future_wait: wait until the future is terminal or the deadline
 * passes. A wait that returns has not necessarily seen the callbacks
 * finish: they run after the waiters are woken.
 * Returns: 0 once it is terminal (whether DONE, FAILED or CANCELLED).
 * Errors: -ETIMEDOUT if the deadline passed first (WEFT_NOW: at once if
 *         not terminal).
 * Ownership: borrows f for the whole wait.
 * Thread-safety: any thread; any number of waiters. */
int weft_future_wait(weft_future *f, int64_t deadline);

/* weft_future_result: wait as weft_future_wait(), then report the outcome.
 * Returns: 0 and *value (value may be NULL) if DONE.
 * Errors: the task's error if FAILED; -ECANCELED if CANCELLED; -ETIMEDOUT.
 *         *value is written only on success.
 * Ownership: borrows f; the value is copied out.
 * Thread-safety: any thread. */
int weft_future_result(weft_future *f, int64_t deadline, weft_value *value);

/* weft_future_error: the outcome of a terminal future, without waiting.
 * Returns: 0 if DONE, the task's error if FAILED, -ECANCELED if CANCELLED,
 *          -EAGAIN if not terminal yet.
 * Thread-safety: any thread. */
int weft_future_error(const weft_future *f);

/* A completion callback: f is terminal when it runs and is borrowed for the
 * duration of the call. It runs on the thread that completed or cancelled
 * the future; it must not block for long, since that thread may be a pool
 * worker. */
typedef void weft_future_cb(weft_future *f, void *arg);

/* weft_future_on_done: run cb(f, arg) once the future is terminal.
 * A callback registered with 0 runs exactly once, after the state is
 * terminal and after waiters are woken, on the completing thread; callbacks
 * run in registration order. It never runs inside this call.
 * Returns: 0 if registered.
 * Errors: -EALREADY if the future is already terminal (cb is NOT run: read
 *         the result directly); -ENOMEM; -EINVAL if cb is NULL. On any
 *         error cb never runs.
 * Ownership: borrows f; arg is passed through, never freed by weft.
 * Thread-safety: any thread, racing with completion and cancellation: the
 *                registration either lands before the terminal transition
 *                (the completer runs it) or gets -EALREADY. */
int weft_future_on_done(weft_future *f, weft_future_cb *cb, void *arg);

/* ---- Waiting for many -------------------------------------------------- */

/* The conditions of concurrent.futures.wait(). */
typedef enum weft_wait_mode {
    WEFT_WAIT_FIRST_COMPLETED, /* any future is terminal */
    WEFT_WAIT_FIRST_EXCEPTION, /* any future FAILED, or all are terminal.
                                  CANCELLED is not an exception (as in
                                  Python). */
    WEFT_WAIT_ALL_COMPLETED,   /* every future is terminal */
} weft_wait_mode;

/* Up to this many futures, weft_future_wait_many() waits without
 * allocating (its wait links live on the stack). */
#define WEFT_FUTURE_WAIT_STACK 32

/* weft_future_wait_many: wait until mode's condition holds over fs[0..n).
 * Returns: 0, with *index (index may be NULL): FIRST_COMPLETED: the lowest
 *          index of a terminal future; FIRST_EXCEPTION: the lowest index of
 *          a FAILED future, or n if all are terminal and none failed;
 *          ALL_COMPLETED: n. With n == 0, ALL_COMPLETED and FIRST_EXCEPTION
 *          hold at once (*index = 0).
 * Errors: -ETIMEDOUT (the deadline passed first; *index untouched);
 *         -EINVAL if fs or an entry is NULL, mode is unknown, or n == 0
 *         with FIRST_COMPLETED (it could never hold); -ENOMEM only when
 *         n > WEFT_FUTURE_WAIT_STACK, FIRST_COMPLETED or FIRST_EXCEPTION,
 *         and the wait has to park.
 * Ownership: borrows every future for the whole wait; takes no reference.
 * Thread-safety: any thread; the same future may be in several concurrent
 *                waits, and twice in one array. */
int weft_future_wait_many(weft_future *const *fs, size_t n, weft_wait_mode mode, int64_t deadline,
                          size_t *index);

/* weft_future_wait_any: weft_future_wait_many(fs, n, FIRST_COMPLETED, ...). */
int weft_future_wait_any(weft_future *const *fs, size_t n, int64_t deadline, size_t *index);

/* weft_future_wait_all: weft_future_wait_many(fs, n, ALL_COMPLETED, ...). */
int weft_future_wait_all(weft_future *const *fs, size_t n, int64_t deadline);

/* ---- As completed ------------------------------------------------------ */

/* An iterator that yields the indices of a set of futures as they finish,
 * like concurrent.futures.as_completed(): futures already terminal at
 * creation first (in index order), then the rest in the order they finish. */
typedef struct weft_as_completed weft_as_completed;

/* weft_as_completed_create: an iterator over fs[0..n) (n may be 0).
 * Returns: 0 and *out; *out is untouched on failure.
 * Errors: -EINVAL if out is NULL, or fs or an entry is NULL with n > 0;
 *         -ENOMEM.
 * Ownership: takes a reference on each future (dropped by _destroy); the
 *            caller owns *out. fs itself is not kept.
 * Thread-safety: any thread. */
int weft_as_completed_create(weft_as_completed **out, weft_future *const *fs, size_t n);

/* weft_as_completed_next: the next finished future, waiting for one.
 * Returns: 0 and *index (index may be NULL), its index in the original fs.
 *          Each index is yielded exactly once.
 * Errors: -EPIPE when all n have been yielded; -ETIMEDOUT.
 * Ownership: borrows it.
 * Thread-safety: any thread; several threads may call it concurrently
 *                (each index still goes to exactly one of them), but not
 *                concurrently with _destroy. */
int weft_as_completed_next(weft_as_completed *it, int64_t deadline, size_t *index);

/* weft_as_completed_destroy: free the iterator and drop its references; it
 * may be destroyed before every future finished. NULL is ignored.
 * Ownership: consumes it.
 * Thread-safety: any thread, once no call on it is in progress. */
void weft_as_completed_destroy(weft_as_completed *it);

#ifdef __cplusplus
}
#endif
#endif
