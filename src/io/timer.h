/* Internal: the event loop's timers, a hierarchical timing wheel with exact
 * deadlines (timer.c). One per loop, touched by the loop's thread only.
 *
 * Why a wheel. A loop arms and disarms far more timers than it fires
 * (every timeout scope, wait_for and parked deadline is armed and then,
 * usually, disarmed), and holds many at once (a million sleepers). The
 * wheel arms and disarms in O(1) with no allocation: a timer is an
 * intrusive list node, so arming cannot fail and never grows memory on a
 * task's small stack. It was measured against the binary heap it replaced
 * (bench/timer_heap.c, `weft bench timers_*`; docs/BENCHMARKS.md).
 *
 * Shape. Time is cut into ticks of 2^WEFT__WHEEL_TICK_SHIFT ns (65.5 us).
 * Level L has 64 slots of 64^L ticks each; 8 levels cover every int64
 * deadline. A timer sits in the level given by the highest base-64 digit
 * in which its tick differs from the wheel's `elapsed` tick, in the slot
 * named by that digit (Varghese and Lauck's scheme, as in Linux and
 * Tokio). As time passes, the earliest occupied slot of a higher level is
 * cascaded: its timers move to lower levels. Level 0 slots hold exact
 * deadlines: a timer fires when its own deadline has passed, never at a
 * slot's edge, so sleeps are exactly as long as asked (and virtual time
 * jumps to exact deadlines).
 *
 * Invariant (kept by weft__wheel_expire): every armed timer's tick is >=
 * elapsed and it sits in the level and slot that (elapsed, tick) name. So
 * the earliest occupied slot of the lowest occupied level holds the
 * earliest timers. */
#ifndef WEFT_IO_TIMER_H
#define WEFT_IO_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT__WHEEL_TICK_SHIFT 16
#define WEFT__WHEEL_LEVELS 8
#define WEFT__WHEEL_SLOTS 64

typedef struct weft_loop weft_loop;
typedef struct weft__timer weft__timer;
typedef void weft__timer_fn(weft_loop *loop, weft__timer *t);

struct weft__timer {
    int64_t deadline;
    weft__timer *next;
    weft__timer **pprev; /* NULL while not armed */
    uint16_t where;      /* level * 64 + slot, or WHEEL_DUE (timer.c) */
    weft__timer_fn *fire;
    void *ctx;
};

/* A list of timers in the order they were put in. */
typedef struct weft__timer_list {
    weft__timer *head;
    weft__timer **end; /* the last timer's next field, or &head */
} weft__timer_list;

typedef struct weft__wheel {
    int64_t elapsed; /* in ticks: every slot before this tick is expired */
    /* A lower bound of the deadlines in elapsed's level-0 slot, or
     * INT64_MIN when unknown: spares a scan of that slot while none is due. */
    int64_t current_low;
    uint64_t occupied[WEFT__WHEEL_LEVELS]; /* a bit per non-empty slot */
    /* Slots keep arming order, and cascades keep it, so timers armed in
     * deadline order (the usual case: sleeps of one length) expire already
     * sorted. */
    weft__timer_list slots[WEFT__WHEEL_LEVELS][WEFT__WHEEL_SLOTS];
    /* Expired, not fired yet (weft__wheel_pop), in deadline order. */
    weft__timer_list due;
    size_t armed;     /* timers in slots or in `due` */
} weft__wheel;

/* Empty wheel whose time starts at now (ns). */
void weft__wheel_init(weft__wheel *w, int64_t now);

void weft__timer_init(weft__timer *t, weft__timer_fn *fire, void *ctx);

static inline bool weft__timer_armed(const weft__timer *t)
{
    return t->pprev != 0;
}

/* Arm (or re-arm) t at deadline (ns; a past one fires at the next
 * weft__wheel_expire). Cannot fail. */
void weft__wheel_arm(weft__wheel *w, weft__timer *t, int64_t deadline);

/* Disarm t if it is armed (also when it has expired but not been popped). */
void weft__wheel_disarm(weft__wheel *w, weft__timer *t);

/* Move every timer whose deadline is <= now to the due list (cascading
 * higher levels as time passes), then advance the wheel's time to now.
 * now must not go backwards. */
void weft__wheel_expire(weft__wheel *w, int64_t now);

/* Take one timer off the due list (disarmed), or NULL: the earliest
 * deadline first. The caller fires it; firing may arm and disarm any
 * timer. */
weft__timer *weft__wheel_pop(weft__wheel *w);

/* When the loop must look again (ns): the earliest deadline when it lies
 * in a level-0 slot, else the start of the slot that must be cascaded
 * next (earlier than any deadline in it); 0 when timers are due already;
 * WEFT_NEVER (-1) when nothing is armed. May update the cached lower
 * bound, hence not const. */
int64_t weft__wheel_next(weft__wheel *w);

#endif
