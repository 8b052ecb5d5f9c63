/* The reference for weft's timer wheel: the binary min-heap of timers the
 * event loop used before it (the code as it was in src/io/loop.c, growth
 * by realloc included), run over bench/timer_workloads.h's workloads.
 * Prints "RESULT <name> <ops/s>", the best of reps.
 *   heap_peer [reps] [scale] [name...] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tmr {
    int64_t deadline;
    size_t idx; /* position in the heap, IDLE when not armed */
} tmr;
#define IDLE SIZE_MAX

typedef struct tq {
    tmr **heap;
    size_t len, cap;
} tq;

static void heap_set(tq *q, size_t i, tmr *t)
{
    q->heap[i] = t;
    t->idx = i;
}

static void heap_up(tq *q, size_t i)
{
    tmr *t = q->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (q->heap[parent]->deadline <= t->deadline)
            break;
        heap_set(q, i, q->heap[parent]);
        i = parent;
    }
    heap_set(q, i, t);
}

static void heap_down(tq *q, size_t i)
{
    tmr *t = q->heap[i];
    size_t n = q->len;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = t->deadline;
        if (l < n && q->heap[l]->deadline < best) {
            m = l;
            best = q->heap[l]->deadline;
        }
        if (l + 1 < n && q->heap[l + 1]->deadline < best)
            m = l + 1;
        if (m == i)
            break;
        heap_set(q, i, q->heap[m]);
        i = m;
    }
    heap_set(q, i, t);
}

static void heap_remove(tq *q, size_t i)
{
    q->heap[i]->idx = IDLE;
    size_t last = --q->len;
    if (i == last)
        return;
    heap_set(q, i, q->heap[last]);
    if (i > 0 && q->heap[(i - 1) / 2]->deadline > q->heap[i]->deadline)
        heap_up(q, i);
    else
        heap_down(q, i);
}

static void tq_init(tq *q, int64_t now)
{
    (void)now;
    q->heap = NULL;
    q->len = q->cap = 0;
}

static void tq_fini(tq *q)
{
    free(q->heap);
}

static void tmr_arm(tq *q, tmr *t, int64_t deadline)
{
    if (t->idx != IDLE)
        heap_remove(q, t->idx);
    if (q->len == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 64;
        tmr **h = realloc(q->heap, cap * sizeof *h);
        if (!h)
            abort();
        q->heap = h;
        q->cap = cap;
    }
    t->deadline = deadline;
    q->heap[q->len] = t;
    heap_up(q, q->len++);
}

static void tmr_init(tmr *t)
{
    t->deadline = -1;
    t->idx = IDLE;
}

static void tmr_disarm(tq *q, tmr *t)
{
    if (t->idx != IDLE)
        heap_remove(q, t->idx);
}

static long tq_fire(tq *q, int64_t now)
{
    long n = 0;
    while (q->len && q->heap[0]->deadline <= now) {
        heap_remove(q, 0);
        n++;
    }
    return n;
}

static int64_t tq_next(tq *q)
{
    return q->len ? q->heap[0]->deadline : -1;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define TW_SECONDS seconds
#include "../timer_workloads.h"

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    struct {
        const char *name;
        long n;
        double (*run)(long);
    } all[] = {
        {"timer_churn", 20000000, tw_churn},
        {"timer_fire", 1000000, tw_fire},
    };
    for (size_t b = 0; b < sizeof all / sizeof all[0]; b++) {
        int want = argc <= 3;
        for (int i = 3; i < argc; i++)
            want |= !strcmp(argv[i], all[b].name);
        if (!want)
            continue;
        long n = (long)(all[b].n * scale);
        if (n < 4)
            n = 4;
        double best = 0;
        for (int r = 0; r < reps; r++) {
            double s = all[b].run(n);
            if (s > 0 && n / s > best)
                best = n / s;
        }
        printf("RESULT %s %.0f\n", all[b].name, best);
        fflush(stdout);
    }
    return 0;
}
