/* weft__lock slow paths: spin a little, then sleep on the futex.
 * Synchronization: see src/sync/lock.h. */
#include "sync/lock.h"
#include "sync/futex.h"

enum { SPIN_TRIES = 100 };

void weft__lock_slow(weft__lock *l)
{
    /* A short spin: most of weft's critical sections are a few dozen
     * instructions, so the holder is likely to release before a futex
     * round trip (~10 us here) would complete. */
    for (int i = 0; i < SPIN_TRIES; i++) {
        if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0 && weft__lock_try(l))
            return;
        weft__cpu_relax();
    }
    /* State 2 tells the holder a sleeper may exist, so its unlock wakes one.
     * The exchange acquires, pairing with the release in weft__lock_release. */
    while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0)
        weft__futex_wait(&l->word, 2, WEFT_NEVER);
}

void weft__unlock_slow(weft__lock *l)
{
    weft__futex_wake(&l->word, 1);
}
