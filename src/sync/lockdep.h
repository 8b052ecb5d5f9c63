/* Internal: the lock-order checker's hooks, called by weft_mutex (and the
 * relock inside weft_cond_wait). See include/weft/sync.h for what it checks
 * and src/sync/lockdep.c for how.
 *
 * Call pattern, in the mutex:
 *   lock:     if (weft__lockdep_active()) weft__lockdep_acquire(m, site);
 *             then take the lock (a report, if any, is made before waiting);
 *             if a timed acquisition fails: weft__lockdep_release(m).
 *   trylock:  take the lock; on success, if active: weft__lockdep_acquired_try.
 *   unlock:   if active: weft__lockdep_release(m); then release the lock.
 * Disabled, each call site costs the one relaxed load and branch below. */
#ifndef WEFT_SYNC_LOCKDEP_H
#define WEFT_SYNC_LOCKDEP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/sync.h>

/* 0 while the checker is off; otherwise the current epoch (never 0). A
 * thread's held stack remembers the epoch it was recorded in, and is
 * dropped when the epoch changes (re-enable, reset), so one word both says
 * "on" and tells stale stacks apart. */
extern _Atomic uint32_t weft__lockdep_state;

static inline bool weft__lockdep_active(void)
{
    /* Relaxed: switching the checker is not synchronized with locking; each
     * thread notices a switch at its next lock or unlock. */
    return __builtin_expect(atomic_load_explicit(&weft__lockdep_state, memory_order_relaxed) != 0,
                            0);
}

/* A blocking acquisition of m is about to start at file:line: check the
 * order against every lock this thread holds (reporting a new cycle), then
 * push m on the thread's held stack. */
void weft__lockdep_acquire(weft_mutex *m, const char *file, int line);

/* m was just taken by a trylock at file:line: push it, with no order check. */
void weft__lockdep_acquired_try(weft_mutex *m, const char *file, int line);

/* m is released (or its acquisition abandoned): remove it from the thread's
 * held stack, wherever it is; no-op if it is not there. */
void weft__lockdep_release(weft_mutex *m);

/* Per-task held stacks, for the event loop: memory of
 * weft__lockdep_stack_size() bytes, zeroed, becomes a task's stack; while
 * it is in use (use_stack(stack) before resuming the task, use_stack(NULL)
 * after), the checker tracks that task's locks instead of the thread's. */
size_t weft__lockdep_stack_size(void);
void weft__lockdep_use_stack(void *stack);

#endif
