/* Internal: the clock hook between core (which owns the clock) and sync
 * (which owns parking). Core must not call up into sync, so sync registers
 * the function that wakes timed waiters when virtual time moves. */
#ifndef WEFT_CORE_CLOCK_H
#define WEFT_CORE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* True while the virtual clock is in use. */
bool weft__clock_is_virtual(void);

/* Called (outside any clock lock) after virtual time moved or the clock
 * switched back to real time. Set by src/sync/waiter.c. */
typedef void weft__clock_hook(void);
void weft__clock_set_advance_hook(weft__clock_hook *hook);

/* Number of timed waiters parked on virtual time: provided by the hook owner. */
typedef int weft__clock_count_fn(void);
void weft__clock_set_count_fn(weft__clock_count_fn *fn);

#endif
