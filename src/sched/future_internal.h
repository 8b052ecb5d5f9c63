/* Internal to src/sched and src/io: hooks into weft_future for producers that allocate
 * futures themselves and wait on them alongside other queues. The thread
 * pool embeds a future in each of its recycled task records (one allocation
 * per task, none in the steady state) and, when a worker helps while
 * waiting, links one waiter into a future's queue and the pool's idle queue.
 * Nothing else changes: every other rule of include/weft/future.h holds for
 * these futures. */
#ifndef WEFT_SCHED_FUTURE_INTERNAL_H
#define WEFT_SCHED_FUTURE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/future.h>

#include "sync/waiter.h"

/* The size of a weft_future; memory for one must be aligned for any type
 * (as malloc's is). Also as a constant, for producers that locate their
 * record next to the future on hot paths (a load, not a call). */
size_t weft__future_size(void);
extern const size_t weft__future_bytes;

/* Make the memory at f a PENDING future holding `refs` references. When
 * the last reference is dropped (and any unrun callback nodes are freed),
 * release(f) is called instead of free(f); f must not be used after. */
void weft__future_init(weft_future *f, uint32_t refs, void (*release)(weft_future *f));

/* Whether f was made by weft__future_init with this release function: how
 * a producer recognises its own futures among those users hand back. */
bool weft__future_released_by(const weft_future *f, void (*release)(weft_future *f));

/* Call hook(f, ctx) on the cancelling thread when weft_future_cancel()
 * records the first cancellation request on f while it is RUNNING (a
 * PENDING future is simply cancelled). Set before f is shared; the hook
 * runs while the canceller holds its reference, so f is valid during it.
 * The event loop uses it to deliver -ECANCELED into a running task. */
void weft__future_set_cancel_hook(weft_future *f, void (*hook)(weft_future *f, void *ctx),
                                  void *ctx);

/* The queue a future's waiters park on. A waiter linked here by the
 * waiter.h protocol is woken by the completion (it wakes every waiter);
 * the caller re-checks the state with weft_future_get_state(). */
weft__waitq *weft__future_waitq(weft_future *f);

#endif
