/* The event loop's timing wheel: see timer.h for its shape and invariant.
 *
 * Synchronization: none. A wheel belongs to one loop and is only touched
 * by the thread running that loop. */
#include <stddef.h>
#include <stdint.h>

#include <weft/time.h>

#include "io/timer.h"

#define SHIFT WEFT__WHEEL_TICK_SHIFT
#define LEVELS WEFT__WHEEL_LEVELS
#define SLOT_BITS 6
#define SLOT_MASK (WEFT__WHEEL_SLOTS - 1)
#define WHEEL_DUE UINT16_MAX

static int64_t tick_of(int64_t deadline)
{
    return deadline > 0 ? deadline >> SHIFT : 0;
}

/* The level where a timer of `tick` belongs while the wheel is at
 * `elapsed` (tick >= elapsed): the highest base-64 digit where they
 * differ. The | SLOT_MASK puts equal ticks on level 0. */
static int level_for(int64_t elapsed, int64_t tick)
{
    uint64_t differ = ((uint64_t)elapsed ^ (uint64_t)tick) | SLOT_MASK;
    return (63 - __builtin_clzll(differ)) / SLOT_BITS;
}

static int slot_for(int64_t tick, int level)
{
    return (int)((uint64_t)tick >> (level * SLOT_BITS)) & SLOT_MASK;
}

static void list_init(weft__timer_list *l)
{
    l->head = NULL;
    l->end = &l->head;
}

static void list_append(weft__timer_list *l, weft__timer *t)
{
    t->next = NULL;
    t->pprev = l->end;
    *l->end = t;
    l->end = &t->next;
}

/* Take l's timers out as a chain (linked by next) and leave l empty. */
static weft__timer *list_take(weft__timer_list *l)
{
    weft__timer *chain = l->head;
    list_init(l);
    return chain;
}

void weft__wheel_init(weft__wheel *w, int64_t now)
{
    *w = (weft__wheel){0};
    w->elapsed = tick_of(now);
    w->current_low = INT64_MIN;
    for (int l = 0; l < LEVELS; l++)
        for (int s = 0; s < WEFT__WHEEL_SLOTS; s++)
            list_init(&w->slots[l][s]);
    list_init(&w->due);
}

void weft__timer_init(weft__timer *t, weft__timer_fn *fire, void *ctx)
{
    t->deadline = WEFT_NEVER;
    t->next = NULL;
    t->pprev = NULL;
    t->where = 0;
    t->fire = fire;
    t->ctx = ctx;
}

static void set_elapsed(weft__wheel *w, int64_t tick)
{
    if (tick != w->elapsed) {
        w->elapsed = tick;
        w->current_low = INT64_MIN; /* a new current slot: not known */
    }
}

/* Put an armed (counted) timer into the slot its deadline names. */
static void place(weft__wheel *w, weft__timer *t)
{
    int64_t tick = tick_of(t->deadline);
    if (tick < w->elapsed)
        tick = w->elapsed; /* already past: fires at the next expire */
    int level = level_for(w->elapsed, tick), slot = slot_for(tick, level);
    list_append(&w->slots[level][slot], t);
    w->occupied[level] |= UINT64_C(1) << slot;
    t->where = (uint16_t)(level * WEFT__WHEEL_SLOTS + slot);
    if (tick == w->elapsed && t->deadline < w->current_low && w->current_low != INT64_MIN)
        w->current_low = t->deadline;
}

static void unlink_timer(weft__wheel *w, weft__timer *t)
{
    int level = t->where / WEFT__WHEEL_SLOTS, slot = t->where % WEFT__WHEEL_SLOTS;
    weft__timer_list *l = t->where == WHEEL_DUE ? &w->due : &w->slots[level][slot];
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    else
        l->end = t->pprev;
    if (t->where != WHEEL_DUE && !l->head)
        w->occupied[level] &= ~(UINT64_C(1) << slot);
    t->next = NULL;
    t->pprev = NULL;
    w->armed--;
}

void weft__wheel_arm(weft__wheel *w, weft__timer *t, int64_t deadline)
{
    if (t->pprev)
        unlink_timer(w, t);
    t->deadline = deadline;
    w->armed++;
    place(w, t);
}

void weft__wheel_disarm(weft__wheel *w, weft__timer *t)
{
    if (t->pprev)
        unlink_timer(w, t);
}

/* The earliest occupied slot: the first one at or after the wheel's
 * position in the lowest occupied level (timer.h's invariant). Returns
 * false when nothing is in a slot. */
static bool earliest(const weft__wheel *w, int *level, int *slot, int64_t *start)
{
    for (int l = 0; l < LEVELS; l++) {
        uint64_t bits = w->occupied[l];
        if (!bits)
            continue;
        int shift = l * SLOT_BITS;
        int now_slot = slot_for(w->elapsed, l);
        uint64_t rotated = (bits >> now_slot) | (now_slot ? bits << (64 - now_slot) : 0);
        int s = (__builtin_ctzll(rotated) + now_slot) & SLOT_MASK;
        int64_t level_range = INT64_C(1) << (shift + SLOT_BITS);
        int64_t t = (w->elapsed & ~(level_range - 1)) + ((int64_t)s << shift);
        if (s < now_slot)
            t += level_range; /* wrapped: not reached under the invariant */
        *level = l;
        *slot = s;
        *start = t;
        return true;
    }
    return false;
}

/* Sort a chain by deadline (merge sort, stable). */
static weft__timer *sort_chain(weft__timer *list)
{
    if (!list || !list->next)
        return list;
    weft__timer *slow = list, *fast = list->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    weft__timer *second = slow->next;
    slow->next = NULL;
    weft__timer *a = sort_chain(list), *b = sort_chain(second);
    weft__timer *head = NULL, **end = &head;
    while (a && b) {
        weft__timer **from = b->deadline < a->deadline ? &b : &a;
        *end = *from;
        end = &(*from)->next;
        *from = (*from)->next;
    }
    *end = a ? a : b;
    return head;
}

static bool chain_sorted(const weft__timer *t)
{
    for (; t && t->next; t = t->next)
        if (t->next->deadline < t->deadline)
            return false;
    return true;
}

/* Append a chain to the due list in deadline order. Every earlier chain
 * came from an earlier slot, so the list stays sorted. */
static void append_due(weft__wheel *w, weft__timer *chain)
{
    if (!chain_sorted(chain))
        chain = sort_chain(chain);
    for (weft__timer *t = chain, *next; t; t = next) {
        next = t->next;
        t->where = WHEEL_DUE;
        list_append(&w->due, t);
    }
}

/* Take the timers of level-0 slot `slot` whose deadline is <= now (all of
 * them when all_due) into the due list; returns the least deadline left in
 * the slot (INT64_MAX when it is empty). */
static int64_t expire_slot(weft__wheel *w, int slot, int64_t now, bool all_due)
{
    weft__timer_list *l = &w->slots[0][slot];
    weft__timer *chain = list_take(l), *batch = NULL, **batch_end = &batch;
    int64_t low = INT64_MAX;
    for (weft__timer *t = chain, *next; t; t = next) {
        next = t->next;
        if (all_due || t->deadline <= now) {
            *batch_end = t;
            batch_end = &t->next;
            t->next = NULL;
        } else {
            list_append(l, t);
            if (t->deadline < low)
                low = t->deadline;
        }
    }
    if (!l->head)
        w->occupied[0] &= ~(UINT64_C(1) << slot);
    append_due(w, batch);
    return low;
}

void weft__wheel_expire(weft__wheel *w, int64_t now)
{
    int64_t now_tick = tick_of(now);
    if (now_tick < w->elapsed)
        now_tick = w->elapsed;
    int level, slot;
    int64_t start;
    while (earliest(w, &level, &slot, &start) && start <= now_tick) {
        if (level > 0) {
            /* Time has reached this slot: spread its timers over the
             * levels below, relative to the slot's start. */
            set_elapsed(w, start);
            weft__timer *t = list_take(&w->slots[level][slot]);
            w->occupied[level] &= ~(UINT64_C(1) << slot);
            while (t) {
                weft__timer *next = t->next;
                place(w, t);
                t = next;
            }
            continue;
        }
        if (start < now_tick) {
            expire_slot(w, slot, now, true); /* its whole tick has passed */
            continue;
        }
        /* The current tick's slot: only deadlines up to now are due. */
        set_elapsed(w, now_tick);
        if (w->current_low > now)
            break;
        w->current_low = expire_slot(w, slot, now, false);
        break;
    }
    set_elapsed(w, now_tick);
}

weft__timer *weft__wheel_pop(weft__wheel *w)
{
    weft__timer *t = w->due.head;
    if (t)
        unlink_timer(w, t);
    return t;
}

static int64_t slot_low(const weft__wheel *w, int slot)
{
    int64_t low = INT64_MAX;
    for (const weft__timer *t = w->slots[0][slot].head; t; t = t->next)
        if (t->deadline < low)
            low = t->deadline;
    return low;
}

int64_t weft__wheel_next(weft__wheel *w)
{
    if (w->due.head)
        return 0;
    int level, slot;
    int64_t start;
    if (!earliest(w, &level, &slot, &start))
        return WEFT_NEVER;
    if (level > 0)
        return start << SHIFT;
    if (start != w->elapsed)
        return slot_low(w, slot);
    if (w->current_low == INT64_MIN)
        w->current_low = slot_low(w, slot);
    return w->current_low;
}
