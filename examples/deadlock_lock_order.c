/* Seed: 000 "Concurrence et Asyncio", "Pièges courants" 2, "Deadlock
 * (interblocage)": task_a takes lock1 then lock2, task_b takes lock2 then
 * lock1; run together, each can hold one lock and wait for the other
 * forever. The seed's remedy: "toujours acquérir les locks dans le même
 * ordre".
 *
 * The seed can only show the deadlock by making it happen (uncomment, sleep,
 * hang). weft's lock-order checker finds it from a run that does NOT hang:
 * here task A runs to completion, and only then does task B start, so the two
 * never overlap and nothing blocks. The checker still reports the lock1/lock2
 * cycle, at the moment B attempts lock1, naming both locks and where each
 * order was taken. Then the fixed order (both tasks lock1 then lock2) runs
 * with real contention and stays silent. Last, the checker's cost per lock.
 *
 * The checker is on by default only in Debug and sanitizer builds; this
 * program switches it on, so it works in Release too. The checker's own
 * report goes to stderr; the summary below goes to stdout. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/sync.h>
#include <weft/time.h>

static weft_mutex lock1 = WEFT_MUTEX_INIT("lock1");
static weft_mutex lock2 = WEFT_MUTEX_INIT("lock2");

/* What the handler saw (the report's strings live only during the call). */
static struct {
    int reports;
    size_t nedges;
    char held[WEFT_LOCKDEP_MAX_CYCLE][64], taken[WEFT_LOCKDEP_MAX_CYCLE][64];
    int held_line[WEFT_LOCKDEP_MAX_CYCLE], taken_line[WEFT_LOCKDEP_MAX_CYCLE];
    int64_t at; /* when it was reported */
} seen;

static void on_report(const weft_lockdep_report *r, void *arg)
{
    (void)arg;
    seen.reports++;
    seen.at = weft_now();
    seen.nedges = r->nedges;
    for (size_t i = 0; i < r->nedges; i++) {
        snprintf(seen.held[i], sizeof seen.held[i], "%s", r->edges[i].held);
        snprintf(seen.taken[i], sizeof seen.taken[i], "%s", r->edges[i].taken);
        seen.held_line[i] = r->edges[i].held_line;
        seen.taken_line[i] = r->edges[i].taken_line;
    }
}

typedef struct task {
    long rounds;
    int64_t started, finished;
} task;

/* The seed's task_a: lock1, then lock2 inside it. */
static void *task_a(void *arg)
{
    task *t = arg;
    t->started = weft_now();
    for (long i = 0; i < t->rounds; i++) {
        weft_mutex_lock(&lock1);
        weft_mutex_lock(&lock2);
        weft_mutex_unlock(&lock2);
        weft_mutex_unlock(&lock1);
    }
    t->finished = weft_now();
    return NULL;
}

/* The seed's task_b, with its commented-out inner lock put back: lock2,
 * then lock1 inside it. The opposite order of task_a. */
static void *task_b(void *arg)
{
    task *t = arg;
    t->started = weft_now();
    for (long i = 0; i < t->rounds; i++) {
        weft_mutex_lock(&lock2);
        weft_mutex_lock(&lock1);
        weft_mutex_unlock(&lock1);
        weft_mutex_unlock(&lock2);
    }
    t->finished = weft_now();
    return NULL;
}

/* task_b fixed: the same work, taking the locks in task_a's order. */
static void *task_b_fixed(void *arg)
{
    task *t = arg;
    t->started = weft_now();
    for (long i = 0; i < t->rounds; i++) {
        weft_mutex_lock(&lock1);
        weft_mutex_lock(&lock2);
        weft_mutex_unlock(&lock2);
        weft_mutex_unlock(&lock1);
    }
    t->finished = weft_now();
    return NULL;
}

static void start(pthread_t *tid, void *(*fn)(void *), task *t)
{
    if (pthread_create(tid, NULL, fn, t) != 0)
        abort();
}

static double ms_since(int64_t origin, int64_t t)
{
    return (double)(t - origin) / 1e6;
}

/* Nested lock1 -> lock2 pairs on one thread: ns per pair. */
static double pair_cost_ns(long rounds)
{
    task t = {rounds, 0, 0};
    task_a(&t);
    return (double)(t.finished - t.started) / (double)rounds;
}

int main(void)
{
    weft_lockdep_enable(true);
    weft_lockdep_set_handler(on_report, NULL);

    /* 1. The seed's two tasks, one after the other: no overlap, no hang. */
    printf("1. seed deadlock, run sequentially (task A, join, then task B)\n");
    int64_t origin = weft_now();
    task a = {1, 0, 0}, b = {1, 0, 0};
    pthread_t ta, tb;
    start(&ta, task_a, &a);
    pthread_join(ta, NULL);
    start(&tb, task_b, &b);
    pthread_join(tb, NULL);
    printf("   task A (lock1 -> lock2) ran from %.3f to %.3f ms\n", ms_since(origin, a.started),
           ms_since(origin, a.finished));
    printf("   task B (lock2 -> lock1) ran from %.3f to %.3f ms: %s, nothing blocked\n",
           ms_since(origin, b.started), ms_since(origin, b.finished),
           b.started > a.finished ? "no overlap" : "OVERLAP");
    printf("   checker: %llu violation(s), %d report(s)\n",
           (unsigned long long)weft_lockdep_violations(), seen.reports);
    if (seen.reports != 1) {
        printf("   expected exactly one report\n");
        return 1;
    }
    printf("   reported %.3f ms after B started, while B was taking \"%s\"\n",
           ms_since(b.started, seen.at), seen.taken[0]);
    printf("   cycle:");
    for (size_t i = 0; i < seen.nedges; i++)
        printf("%s %s (line %d) -> %s (line %d)", i ? "," : "", seen.held[i],
               seen.held_line[i], seen.taken[i], seen.taken_line[i]);
    printf("\n");

    /* 2. The fix: one order everywhere, now run truly concurrently. */
    weft_lockdep_reset();
    seen.reports = 0;
    long rounds = 200000;
    printf("\n2. fixed order (task A and task_b_fixed, both lock1 -> lock2), concurrently\n");
    task a2 = {rounds, 0, 0}, b2 = {rounds, 0, 0};
    int64_t t0 = weft_now();
    start(&ta, task_a, &a2);
    start(&tb, task_b_fixed, &b2);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    int64_t t1 = weft_now();
    printf("   2 threads x %ld nested acquisitions in %.1f ms (%.0f ns per pair), "
           "overlapping: %s\n",
           rounds, ms_since(t0, t1), (double)(t1 - t0) / (2.0 * (double)rounds),
           (a2.started < b2.finished && b2.started < a2.finished) ? "yes" : "no");
    printf("   checker: %llu violation(s), %d report(s)\n",
           (unsigned long long)weft_lockdep_violations(), seen.reports);

    /* 3. What the checker costs (uncontended, one thread). */
    long cost_rounds = 1000000;
    double on = pair_cost_ns(cost_rounds);
    weft_lockdep_enable(false);
    double off = pair_cost_ns(cost_rounds);
    printf("\n3. cost of one lock1+lock2 pair, one thread, %ld rounds:\n"
           "   checker on %.1f ns, off %.1f ns\n",
           cost_rounds, on, off);
    return seen.reports == 0 ? 0 : 1;
}
