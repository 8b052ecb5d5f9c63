/* The timer-structure workloads, shared by weft's side (bench/timer.c: the
 * loop's timing wheel, src/io/timer.h) and the reference it was chosen
 * against (bench/peers/heap_peer.c: the binary min-heap the loop used
 * before). Both run the same code over their own structure, so the ratio
 * measures the structures alone: no loop, no clock, no tasks.
 *
 * Include after defining:
 *   tq, tmr                         the structure and its timer type
 *   void tq_init(tq *, int64_t now) void tq_fini(tq *)
 *   void tmr_init(tmr *)            a timer not armed
 *   void tmr_arm(tq *, tmr *, int64_t deadline)
 *   void tmr_disarm(tq *, tmr *)
 *   long tq_fire(tq *, int64_t now) fire every timer due at now; how many
 *   int64_t tq_next(tq *)           when to look next (-1: nothing armed)
 * and TW_SECONDS() (seconds on the monotonic clock). */
#ifndef WEFT_BENCH_TIMER_WORKLOADS_H
#define WEFT_BENCH_TIMER_WORKLOADS_H

#include <stdint.h>
#include <stdlib.h>

#define TW_SEC INT64_C(1000000000)
#define TW_START (INT64_C(1000) * TW_SEC) /* a clock reading, far from 0 */
#define TW_LIVE 10000                     /* timers armed at once in churn */

static uint64_t tw_rng = 88172645463325252u;

static int64_t tw_rand(int64_t range)
{
    tw_rng ^= tw_rng << 13;
    tw_rng ^= tw_rng >> 7;
    tw_rng ^= tw_rng << 17;
    return (int64_t)(tw_rng % (uint64_t)range);
}

/* One op: a timer disarmed and armed again 1-2 s ahead, with 10k armed
 * (what timeouts that never fire do to a loop). */
static double tw_churn(long n)
{
    tq q;
    tmr *t = calloc(TW_LIVE, sizeof *t);
    if (!t)
        return -12;
    tq_init(&q, TW_START);
    for (int i = 0; i < TW_LIVE; i++)
        tmr_init(&t[i]);
    for (int i = 0; i < TW_LIVE; i++)
        tmr_arm(&q, &t[i], TW_START + TW_SEC + tw_rand(TW_SEC));
    double t0 = TW_SECONDS();
    for (long i = 0; i < n; i++) {
        tmr *x = &t[i % TW_LIVE];
        tmr_disarm(&q, x);
        tmr_arm(&q, x, TW_START + TW_SEC + tw_rand(TW_SEC));
    }
    double s = TW_SECONDS() - t0;
    tq_fini(&q);
    free(t);
    return s;
}

/* One op: a timer armed at a random point of the next second, and fired,
 * with all n armed at once; time then sweeps the second in steps of
 * 100 us, asking for the next deadline at each step as a loop does
 * before it sleeps. */
static double tw_fire(long n)
{
    tq q;
    tmr *t = calloc((size_t)n, sizeof *t);
    if (!t)
        return -12;
    tq_init(&q, TW_START);
    for (long i = 0; i < n; i++)
        tmr_init(&t[i]);
    double t0 = TW_SECONDS();
    for (long i = 0; i < n; i++)
        tmr_arm(&q, &t[i], TW_START + 1 + tw_rand(TW_SEC));
    long fired = 0;
    int64_t sink = 0;
    for (int64_t now = TW_START; now <= TW_START + TW_SEC + TW_SEC / 10000; now += TW_SEC / 10000) {
        sink += tq_next(&q);
        fired += tq_fire(&q, now);
    }
    double s = TW_SECONDS() - t0;
    tq_fini(&q);
    free(t);
    return fired == n && sink != 0 ? s : -71; /* -EPROTO */
}

#endif
