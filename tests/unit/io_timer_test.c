/* The loop's timing wheel (src/io/timer.h) on its own: every timer fires
 * once, never before its deadline, in deadline order, and the next-look
 * time never lies past an armed deadline; checked against a plain array on
 * random workloads that cross every level, plus the cases a loop makes
 * (past deadlines, re-arming and disarming while timers fire). */
#include <stdint.h>

#include <weft/time.h>

#include "io/timer.h"
#include "weft_test.h"

#define N 2000
#define TICK (INT64_C(1) << WEFT__WHEEL_TICK_SHIFT)

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t rand_range(int64_t n)
{
    return (int64_t)(next_rand() % (uint64_t)n);
}

/* A deadline around now: past, this tick, this millisecond, and up to
 * years ahead, so that every level and every cascade is used. */
static int64_t random_deadline(int64_t now)
{
    switch (rand_range(8)) {
    case 0:
        return now - rand_range(WEFT_SEC); /* already passed */
    case 1:
        return now + rand_range(TICK); /* this tick or the next */
    case 2:
        return now + rand_range(WEFT_MSEC * 5);
    case 3:
        return now + rand_range(WEFT_SEC);
    case 4:
        return now + rand_range(WEFT_SEC * 100);
    case 5:
        return now + rand_range(WEFT_SEC * 86400 * 30);
    case 6:
        return now + rand_range(WEFT_SEC * 86400 * 3650);
    default:
        return now; /* exactly now */
    }
}

static weft__timer timers[N];
static bool armed[N]; /* the reference */

static int index_of(const weft__timer *t)
{
    return (int)(t - timers);
}

/* Expire at now and check what fires against the reference. */
static void expire_and_check(weft__wheel *w, int64_t now)
{
    weft__wheel_expire(w, now);
    int64_t last = INT64_MIN;
    weft__timer *t;
    while ((t = weft__wheel_pop(w))) {
        int i = index_of(t);
        WT_ASSERT(armed[i]);
        WT_LE(t->deadline, now);         /* never early */
        WT_GE(t->deadline, last);        /* earliest first */
        WT_ASSERT(!weft__timer_armed(t)); /* popped: disarmed */
        armed[i] = false;
        last = t->deadline;
    }
    size_t left = 0;
    for (int i = 0; i < N; i++) {
        if (!armed[i])
            continue;
        left++;
        WT_GT(timers[i].deadline, now); /* every due one fired */
        WT_ASSERT(weft__timer_armed(&timers[i]));
    }
    WT_EQ(w->armed, left);
}

/* next() is 0 with timers due, WEFT_NEVER with none armed, and otherwise
 * no later than the earliest armed deadline. */
static void check_next(weft__wheel *w)
{
    int64_t next = weft__wheel_next(w), low = INT64_MAX;
    for (int i = 0; i < N; i++)
        if (armed[i] && timers[i].deadline < low)
            low = timers[i].deadline;
    if (low == INT64_MAX)
        WT_EQ(next, WEFT_NEVER);
    else
        WT_LE(next, low);
}

static void test_random_against_reference(void)
{
    int64_t now = 5 * WEFT_SEC;
    weft__wheel w;
    weft__wheel_init(&w, now);
    for (int i = 0; i < N; i++)
        weft__timer_init(&timers[i], NULL, NULL);
    for (int round = 0; round < WT_SCALE(400); round++) {
        for (int k = 0; k < 200; k++) {
            int i = (int)rand_range(N);
            if (rand_range(4) == 0) {
                weft__wheel_disarm(&w, &timers[i]);
                armed[i] = false;
            } else {
                weft__wheel_arm(&w, &timers[i], random_deadline(now));
                armed[i] = true;
            }
        }
        check_next(&w);
        /* Time moves by a little, by a lot, or to exactly the next look. */
        switch (rand_range(4)) {
        case 0:
            now += rand_range(TICK * 3);
            break;
        case 1:
            now += rand_range(WEFT_SEC * 200);
            break;
        case 2:
            now += rand_range(WEFT_SEC * 86400 * 400);
            break;
        default: {
            int64_t next = weft__wheel_next(&w);
            if (next > now)
                now = next;
        }
        }
        expire_and_check(&w, now);
    }
}

/* Virtual time's use: jump to next() each time. Every deadline is reached
 * exactly (a timer fires when the clock equals its deadline, not later),
 * and the walk ends in a bounded number of steps. */
static void test_jump_to_next_is_exact(void)
{
    int64_t now = 7 * WEFT_SEC;
    weft__wheel w;
    weft__wheel_init(&w, now);
    for (int i = 0; i < N; i++) {
        weft__timer_init(&timers[i], NULL, NULL);
        int64_t d = now + 1 + rand_range(WEFT_SEC * 86400);
        weft__wheel_arm(&w, &timers[i], d);
        armed[i] = true;
    }
    int fired = 0, steps = 0;
    for (;;) {
        int64_t next = weft__wheel_next(&w);
        if (next == WEFT_NEVER)
            break;
        WT_GE(next, now); /* nothing was due: time only moves forward */
        now = next;
        weft__wheel_expire(&w, now);
        weft__timer *t;
        while ((t = weft__wheel_pop(&w))) {
            WT_EQ(t->deadline, now);
            armed[index_of(t)] = false;
            fired++;
        }
        WT_LT(++steps, N * (WEFT__WHEEL_LEVELS + 1));
    }
    WT_EQ(fired, N);
    WT_EQ(w.armed, 0);
}

/* While due timers are being popped and fired, a firing may disarm one
 * that is due too (it must not fire), re-arm one (it fires at its new
 * deadline), or arm a new one in the past (it fires at the next expire). */
static void test_changes_while_firing(void)
{
    weft__wheel w;
    int64_t now = WEFT_SEC;
    weft__wheel_init(&w, now);
    weft__timer a, b, c, d;
    weft__timer_init(&a, NULL, NULL);
    weft__timer_init(&b, NULL, NULL);
    weft__timer_init(&c, NULL, NULL);
    weft__timer_init(&d, NULL, NULL);
    weft__wheel_arm(&w, &a, now + 10);
    weft__wheel_arm(&w, &b, now + 20);
    weft__wheel_arm(&w, &c, now + 30);
    now += WEFT_MSEC;
    weft__wheel_expire(&w, now);
    WT_EQ(weft__wheel_next(&w), 0); /* due, not popped yet */
    WT_EQ_PTR(weft__wheel_pop(&w), &a);
    weft__wheel_disarm(&w, &b);              /* due, cancelled: never fires */
    weft__wheel_arm(&w, &c, now + WEFT_SEC); /* due, moved later */
    weft__wheel_arm(&w, &d, now - 5);        /* armed in the past */
    WT_EQ_PTR(weft__wheel_pop(&w), NULL);
    WT_EQ(weft__wheel_next(&w), now - 5);
    weft__wheel_expire(&w, now);
    WT_EQ_PTR(weft__wheel_pop(&w), &d);
    WT_EQ_PTR(weft__wheel_pop(&w), NULL);
    WT_LE(weft__wheel_next(&w), now + WEFT_SEC); /* maybe a cascade first */
    weft__wheel_expire(&w, now + WEFT_SEC - 1);
    WT_EQ(weft__wheel_next(&w), now + WEFT_SEC); /* now in level 0: exact */
    WT_EQ_PTR(weft__wheel_pop(&w), NULL);
    weft__wheel_expire(&w, now + WEFT_SEC);
    WT_EQ_PTR(weft__wheel_pop(&w), &c);
    WT_EQ(w.armed, 0);
    WT_EQ(weft__wheel_next(&w), WEFT_NEVER);
}

/* Timers of one deadline fire together; a sleep of one length armed in a
 * burst comes out in deadline order even across slots and cascades. */
static void test_order_and_ties(void)
{
    weft__wheel w;
    int64_t now = 3 * WEFT_SEC;
    weft__wheel_init(&w, now);
    for (int i = 0; i < N; i++) {
        weft__timer_init(&timers[i], NULL, NULL);
        /* Descending deadlines, pairs of equal ones, about 2 s ahead. */
        weft__wheel_arm(&w, &timers[i], now + 2 * WEFT_SEC + (N - i) / 2 * 1000);
    }
    now += 3 * WEFT_SEC;
    weft__wheel_expire(&w, now);
    int64_t last = INT64_MIN;
    int fired = 0;
    weft__timer *t;
    while ((t = weft__wheel_pop(&w))) {
        WT_GE(t->deadline, last);
        last = t->deadline;
        fired++;
    }
    WT_EQ(fired, N);
}

int main(void)
{
    WT_RUN(test_random_against_reference);
    WT_RUN(test_jump_to_next_is_exact);
    WT_RUN(test_changes_while_firing);
    WT_RUN(test_order_and_ties);
    return 0;
}
