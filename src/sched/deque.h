/* Internal: the Chase-Lev work-stealing deque (Chase and Lev, SPAA 2005;
 * the C11 formulation of Le, Pop, Cohen and Zappa Nardelli, PPoPP 2013,
 * with its fences folded into seq_cst accesses).
 *
 * One owner pushes and takes at the bottom (LIFO); any number of thieves
 * steal at the top (FIFO). Elements are non-NULL pointers. The array grows
 * by doubling when full; retired arrays are kept until the deque is
 * destroyed, because a thief may still be reading one (a deque grows to its
 * peak size once, so this costs at most the size of the final array).
 *
 * Synchronization:
 * - `bottom` is written only by the owner; `top` is advanced by CAS, by
 *   thieves and by the owner taking the last element.
 * - push stores the slot, then `bottom` (seq_cst: its release half
 *   publishes the slot and the element's contents to a thief's seq_cst
 *   load of `bottom`; its seq_cst half orders it before the pool's check
 *   for sleeping workers, see pool.c).
 * - take stores `bottom` then loads `top`, both seq_cst (the store-load
 *   order the algorithm needs against steal's load of `top` then
 *   `bottom`); the race for the last element is a CAS on `top`.
 * - `array` is replaced only by the owner (release; thieves acquire it). */
#ifndef WEFT_SCHED_DEQUE_H
#define WEFT_SCHED_DEQUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct weft__deque_array weft__deque_array;

typedef struct weft__deque {
    _Alignas(64) _Atomic int64_t top;
    _Alignas(64) _Atomic int64_t bottom;
    _Atomic(weft__deque_array *) array;
    weft__deque_array *retired; /* owner only; freed by destroy */
} weft__deque;

/* Returns 0 or -ENOMEM. capacity is rounded up to a power of two. */
int weft__deque_init(weft__deque *d, int64_t capacity);

/* Frees the arrays. No other call may be in progress. */
void weft__deque_destroy(weft__deque *d);

/* Owner only. Returns 0, or -ENOMEM if the array had to grow and could
 * not (the element is then not pushed). */
int weft__deque_push(weft__deque *d, void *x);

/* Owner only: the most recently pushed element, or NULL if empty. */
void *weft__deque_take(weft__deque *d);

/* Any thread: the oldest element, or NULL if empty or if the steal lost a
 * race (then *retry is set: the deque was not empty). */
void *weft__deque_steal(weft__deque *d, bool *retry);

/* Any thread: a seq_cst snapshot of whether the deque holds anything (for
 * the sleep protocol's re-check). */
bool weft__deque_nonempty(weft__deque *d);

/* Any thread: the number of elements (approximate while others run). */
int64_t weft__deque_size(weft__deque *d);

#endif
