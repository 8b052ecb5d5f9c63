/* Internal: coroutine stacks (see "Stacks" in include/weft/coro.h).
 *
 * Sizes are rounded up to a power-of-two number of pages; each size class
 * has a free list. Pooled stacks are carved out of regions, one mapping
 * each, of up to 1024 stacks and at least 4 MiB (so 1M coroutines of 64 KiB
 * need 16k mappings, under vm.max_map_count's 65530); regions are never
 * unmapped, their stacks are recycled. A guarded stack is a mapping of its
 * own with a PROT_NONE page below it, unmapped when released.
 *
 * Synchronization: one weft__lock guards every free list and the region
 * bookkeeping; a stack taken from the pool belongs to its coroutine until
 * it is put back. */
#ifndef WEFT_CORO_STACK_H
#define WEFT_CORO_STACK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct weft__stack {
    void *lo;     /* lowest usable address */
    size_t size;  /* usable bytes, a power of two from 1 KiB (whole pages if guarded) */
    bool guarded; /* own mapping, PROT_NONE page at lo - page */
} weft__stack;

/* Take a stack of at least `size` bytes. Returns 0 or -ENOMEM (-EINVAL
 * for a size above WEFT_CORO_STACK_MAX). */
int weft__stack_get(weft__stack *s, size_t size, bool guard);

/* Give a stack back (its coroutine is finished or was never run). */
void weft__stack_put(weft__stack *s);

/* The page size, and the rounded size weft__stack_get would give. */
size_t weft__stack_page(void);
size_t weft__stack_round(size_t size);

/* Counters for tests and reports. */
typedef struct weft__stack_stats {
    size_t regions;    /* pooled mappings made so far */
    size_t pooled;     /* stacks in the free lists now */
    size_t guarded;    /* guarded stacks in use now */
} weft__stack_stats;
void weft__stack_stats_get(weft__stack_stats *out);

#endif
