/* Internal to src/sched: what pool_map.c (map, parallel_for) needs from the
 * pool core in pool.c. */
#ifndef WEFT_SCHED_POOL_INTERNAL_H
#define WEFT_SCHED_POOL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/pool.h>

#include "sync/waiter.h"

/* weft_pool_submit(), but a full submission queue always blocks until the
 * deadline, whatever the pool's policy (map and parallel_for must not run
 * their chunks in the caller or drop them). */
int weft__pool_submit_blocking(weft_pool *pool, weft_pool_fn *fn, void *arg, int64_t deadline,
                               weft_future **future);

/* Wait until ready(ctx) is true or the deadline. The waiter is linked into
 * each of qs[0..nq) (links: nq slots, owned by the caller) while it parks;
 * whoever makes ready() true must wake one of those queues afterwards (a
 * future's completion does). From a worker of pool, queued tasks of the
 * pool run while waiting, and the pool's idle queue is linked too.
 * Returns: 0 once ready; -ETIMEDOUT. */
int weft__pool_help_wait(weft_pool *pool, bool (*ready)(void *ctx), void *ctx,
                         weft__waitq *const *qs, size_t nq, weft__wait_link *links,
                         int64_t deadline);

/* Whether shutdown step 1 has happened. */
bool weft__pool_closed(weft_pool *pool);

#endif
