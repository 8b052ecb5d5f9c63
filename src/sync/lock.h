/* Internal: weft__lock, a small futex mutex (spin briefly, then park) for
 * weft's own short critical sections (wait queues, registries). It has no
 * lock-order checking, no name and no statistics: public code uses
 * weft_mutex (include/weft/sync.h), which is built on it.
 *
 * Synchronization: `word` is 0 unlocked, 1 locked, 2 locked with possible
 * sleepers (the classic three-state futex mutex). Lock acquires, unlock
 * releases. */
#ifndef WEFT_SYNC_LOCK_H
#define WEFT_SYNC_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct weft__lock {
    _Atomic uint32_t word;
} weft__lock;

#define WEFT__LOCK_INIT {0}

void weft__lock_slow(weft__lock *l);
void weft__unlock_slow(weft__lock *l);

static inline void weft__lock_init(weft__lock *l)
{
    atomic_init(&l->word, 0);
}

static inline bool weft__lock_try(weft__lock *l)
{
    uint32_t expected = 0;
    /* Acquire pairs with the release in weft__unlock(). */
    return atomic_compare_exchange_strong_explicit(&l->word, &expected, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void weft__lock_acquire(weft__lock *l)
{
    if (!weft__lock_try(l))
        weft__lock_slow(l);
}

static inline void weft__lock_release(weft__lock *l)
{
    /* Release pairs with the acquire in weft__lock_try / weft__lock_slow. */
    if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2)
        weft__unlock_slow(l);
}

#endif
