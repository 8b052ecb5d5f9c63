/* The loop's timing wheel (src/io/timer.h) on its own, against the binary
 * heap it replaced (bench/peers/heap_peer.c runs the same workloads,
 * bench/timer_workloads.h, over the heap): arm and disarm, and fire. */
#include <stddef.h>

#include "bench/bench.h"
#include "src/io/timer.h"

typedef weft__wheel tq;
typedef weft__timer tmr;

static void tq_init(tq *q, int64_t now)
{
    weft__wheel_init(q, now);
}

static void tq_fini(tq *q)
{
    (void)q; /* nothing allocated */
}

static void tmr_init(tmr *t)
{
    weft__timer_init(t, NULL, NULL);
}

static void tmr_arm(tq *q, tmr *t, int64_t deadline)
{
    weft__wheel_arm(q, t, deadline);
}

static void tmr_disarm(tq *q, tmr *t)
{
    weft__wheel_disarm(q, t);
}

static long tq_fire(tq *q, int64_t now)
{
    long n = 0;
    weft__wheel_expire(q, now);
    while (weft__wheel_pop(q))
        n++;
    return n;
}

static int64_t tq_next(tq *q)
{
    return weft__wheel_next(q);
}

#define TW_SECONDS weft_bench_seconds
#include "bench/timer_workloads.h"

const weft_bench_kernel weft_bench_timer_kernels[] = {
    {"timer_churn", "the loop's timer wheel: disarm + re-arm 1-2 s ahead, 10k armed",
     "timer_churn", 20000000, tw_churn},
    {"timer_fire", "the loop's timer wheel: arm, then fire as time sweeps 1 s (1M armed)",
     "timer_fire", 1000000, tw_fire},
    {0},
};
