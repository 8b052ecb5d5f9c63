/* The lock-order checker: the seeds' deadlock (task A takes lock1 then
 * lock2, task B lock2 then lock1) is reported from a run where A and B never
 * overlap, before B blocks, once; consistent orders from many threads stay
 * quiet; a three-lock cycle is found; out-of-order release, trylock, timed
 * lock, recursion and cond_wait's relock are tracked right.
 *
 * Every test enables the checker itself, so the file passes in Release
 * builds (checker off by default) too. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <weft/sync.h>

#include "weft_test.h"

/* ---- report capture ------------------------------------------------------ */

typedef struct captured {
    int reports;
    size_t nedges;
    bool truncated;
    weft_lockdep_edge edges[WEFT_LOCKDEP_MAX_CYCLE];
    char names[WEFT_LOCKDEP_MAX_CYCLE][2][64];
    char text[4096];
} captured;

static weft_mutex capture_lock = WEFT_MUTEX_INIT("capture");
static captured cap;
static weft_event reported = WEFT_EVENT_INIT;

/* Runs on the reporting thread: copies the report (its strings die with the
 * call) and uses weft primitives, which a handler may. */
static void capture(const weft_lockdep_report *r, void *arg)
{
    WT_EQ_PTR(arg, &cap);
    weft_mutex_lock(&capture_lock);
    cap.reports++;
    cap.nedges = r->nedges;
    cap.truncated = r->truncated;
    for (size_t i = 0; i < r->nedges; i++) {
        cap.edges[i] = r->edges[i];
        snprintf(cap.names[i][0], sizeof cap.names[i][0], "%s", r->edges[i].held);
        snprintf(cap.names[i][1], sizeof cap.names[i][1], "%s", r->edges[i].taken);
        cap.edges[i].held = cap.names[i][0];
        cap.edges[i].taken = cap.names[i][1];
    }
    snprintf(cap.text, sizeof cap.text, "%s", r->text);
    weft_mutex_unlock(&capture_lock);
    weft_event_set(&reported);
}

static void setup(void)
{
    weft_lockdep_enable(true);
    weft_lockdep_reset();
    memset(&cap, 0, sizeof cap);
    weft_event_clear(&reported);
    weft_lockdep_set_handler(capture, &cap);
    WT_EQ(weft_lockdep_violations(), 0);
}

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, fn, arg), 0);
    WT_EQ(pthread_join(t, NULL), 0);
}

static void expect_edge(size_t i, const char *held, int held_line, const char *taken,
                        int taken_line)
{
    WT_STREQ(cap.edges[i].held, held);
    WT_STREQ(cap.edges[i].taken, taken);
    WT_STREQ(cap.edges[i].held_file, __FILE__);
    WT_STREQ(cap.edges[i].taken_file, __FILE__);
    WT_EQ(cap.edges[i].held_line, held_line);
    WT_EQ(cap.edges[i].taken_line, taken_line);
}

/* ---- the seeds' deadlock, A then B, never overlapping -------------------- */

static weft_mutex lock1 = WEFT_MUTEX_INIT("lock1");
static weft_mutex lock2 = WEFT_MUTEX_INIT("lock2");
static int a_line1, a_line2, b_line2, b_line1;
static _Atomic int a_thread, b_thread;

static void *task_a(void *arg)
{
    (void)arg;
    atomic_store(&a_thread, (int)gettid());
    a_line1 = __LINE__ + 1;
    weft_mutex_lock(&lock1);
    a_line2 = __LINE__ + 1;
    weft_mutex_lock(&lock2);
    weft_mutex_unlock(&lock2);
    weft_mutex_unlock(&lock1);
    return NULL;
}

static void *task_b(void *arg)
{
    (void)arg;
    atomic_store(&b_thread, (int)gettid());
    b_line2 = __LINE__ + 1;
    weft_mutex_lock(&lock2);
    b_line1 = __LINE__ + 1;
    weft_mutex_lock(&lock1);
    weft_mutex_unlock(&lock1);
    weft_mutex_unlock(&lock2);
    return NULL;
}

static void test_seed_deadlock_reported_without_overlap(void)
{
    setup();
    run_thread(task_a, NULL); /* A runs to completion ... */
    WT_EQ(weft_lockdep_violations(), 0);
    WT_EQ(cap.reports, 0);
    run_thread(task_b, NULL); /* ... then B: they never overlap */
    WT_EQ(weft_lockdep_violations(), 1);
    WT_EQ(cap.reports, 1);
    WT_EQ(cap.nedges, 2);
    WT_ASSERT(!cap.truncated);
    /* edges[0]: what B attempted; edges[1]: what A did earlier. */
    expect_edge(0, "lock2", b_line2, "lock1", b_line1);
    expect_edge(1, "lock1", a_line1, "lock2", a_line2);
    WT_EQ(cap.edges[0].thread, atomic_load(&b_thread));
    WT_EQ(cap.edges[1].thread, atomic_load(&a_thread));
    WT_ASSERT(strstr(cap.text, "\"lock1\"") && strstr(cap.text, "\"lock2\""));
    WT_ASSERT(strstr(cap.text, __FILE__));

    /* Reported once: the same orders again add nothing. */
    run_thread(task_a, NULL);
    run_thread(task_b, NULL);
    WT_EQ(weft_lockdep_violations(), 1);
    WT_EQ(cap.reports, 1);
}

/* ---- reported at the attempt, before blocking ----------------------------- */

static weft_event a_holds_lock1 = WEFT_EVENT_INIT, a_may_release = WEFT_EVENT_INIT;

static void *task_a_holding(void *arg)
{
    (void)arg;
    weft_mutex_lock(&lock1);
    weft_mutex_lock(&lock2);
    weft_mutex_unlock(&lock2);
    weft_event_set(&a_holds_lock1);
    WT_OK(weft_event_wait(&a_may_release, weft_deadline_in(60 * WEFT_SEC)));
    weft_mutex_unlock(&lock1);
    return NULL;
}

static void test_reported_before_blocking(void)
{
    setup();
    pthread_t a, b;
    WT_EQ(pthread_create(&a, NULL, task_a_holding, NULL), 0);
    WT_OK(weft_event_wait(&a_holds_lock1, weft_deadline_in(60 * WEFT_SEC)));
    /* B takes lock2, then blocks on lock1, which A holds until the report
     * arrives: if the checker reported only after B got lock1, this would
     * time out instead. */
    WT_EQ(pthread_create(&b, NULL, task_b, NULL), 0);
    WT_OK(weft_event_wait(&reported, weft_deadline_in(60 * WEFT_SEC)));
    WT_EQ(weft_lockdep_violations(), 1);
    weft_event_set(&a_may_release);
    WT_EQ(pthread_join(a, NULL), 0);
    WT_EQ(pthread_join(b, NULL), 0);
    WT_EQ(cap.nedges, 2);
    WT_STREQ(cap.edges[0].held, "lock2");
    WT_STREQ(cap.edges[0].taken, "lock1");
}

/* ---- consistent orders: quiet --------------------------------------------- */

enum { THREADS = 6 };

static weft_mutex la = WEFT_MUTEX_INIT("a"), lb = WEFT_MUTEX_INIT("b"), lc = WEFT_MUTEX_INIT("c");
static long shared_count;
static long rounds;

static void *consistent(void *arg)
{
    long id = (long)(intptr_t)arg;
    for (long i = 0; i < rounds; i++) {
        /* Subsets of a < b < c, always in that order. */
        switch ((i + id) % 4) {
        case 0:
            weft_mutex_lock(&la);
            weft_mutex_lock(&lb);
            weft_mutex_lock(&lc);
            shared_count++;
            weft_mutex_unlock(&lc);
            weft_mutex_unlock(&lb);
            weft_mutex_unlock(&la);
            break;
        case 1:
            weft_mutex_lock(&la);
            weft_mutex_lock(&lc);
            shared_count++;
            weft_mutex_unlock(&la); /* out of order: fine */
            weft_mutex_unlock(&lc);
            break;
        case 2:
            weft_mutex_lock(&lb);
            weft_mutex_lock(&lc);
            shared_count++;
            weft_mutex_unlock(&lc);
            weft_mutex_unlock(&lb);
            break;
        default:
            weft_mutex_lock(&lc);
            shared_count++;
            weft_mutex_unlock(&lc);
            break;
        }
    }
    return NULL;
}

static void test_consistent_orders_stay_quiet(void)
{
    setup();
    rounds = WT_SCALE(40000);
    shared_count = 0;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_create(&t[i], NULL, consistent, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        WT_EQ(pthread_join(t[i], NULL), 0);
    WT_EQ(shared_count, THREADS * rounds);
    WT_EQ(weft_lockdep_violations(), 0);
    WT_EQ(cap.reports, 0);
}

/* ---- a three-lock cycle --------------------------------------------------- */

static int line_ab[2], line_bc[2], line_ca[2];

static void *take_a_b(void *arg)
{
    (void)arg;
    line_ab[0] = __LINE__ + 1;
    weft_mutex_lock(&la);
    line_ab[1] = __LINE__ + 1;
    weft_mutex_lock(&lb);
    weft_mutex_unlock(&lb);
    weft_mutex_unlock(&la);
    return NULL;
}

static void *take_b_c(void *arg)
{
    (void)arg;
    line_bc[0] = __LINE__ + 1;
    weft_mutex_lock(&lb);
    line_bc[1] = __LINE__ + 1;
    weft_mutex_lock(&lc);
    weft_mutex_unlock(&lc);
    weft_mutex_unlock(&lb);
    return NULL;
}

static void *take_c_a(void *arg)
{
    (void)arg;
    line_ca[0] = __LINE__ + 1;
    weft_mutex_lock(&lc);
    line_ca[1] = __LINE__ + 1;
    weft_mutex_lock(&la);
    weft_mutex_unlock(&la);
    weft_mutex_unlock(&lc);
    return NULL;
}

static void test_three_lock_cycle(void)
{
    setup();
    run_thread(take_a_b, NULL);
    run_thread(take_b_c, NULL);
    WT_EQ(weft_lockdep_violations(), 0); /* a -> b -> c: no cycle yet */
    run_thread(take_c_a, NULL);
    WT_EQ(weft_lockdep_violations(), 1);
    WT_EQ(cap.nedges, 3);
    expect_edge(0, "c", line_ca[0], "a", line_ca[1]);
    expect_edge(1, "a", line_ab[0], "b", line_ab[1]);
    expect_edge(2, "b", line_bc[0], "c", line_bc[1]);
}

/* ---- out-of-order release, trylock ------------------------------------------ */

static weft_mutex ld = WEFT_MUTEX_INIT("d");

static void *release_middle(void *arg)
{
    (void)arg;
    /* Trylocks add no edges into a, b, c, so the only edges are the ones
     * made by taking d below. */
    WT_OK(weft_mutex_trylock(&la));
    WT_OK(weft_mutex_trylock(&lb));
    WT_OK(weft_mutex_trylock(&lc));
    weft_mutex_unlock(&lb); /* the middle of the held stack */
    weft_mutex_lock(&ld);   /* edges a -> d and c -> d, not b -> d */
    weft_mutex_unlock(&ld);
    weft_mutex_unlock(&lc);
    weft_mutex_unlock(&la);
    return NULL;
}

static void *take_d_then(void *arg)
{
    weft_mutex *m = arg;
    weft_mutex_lock(&ld);
    weft_mutex_lock(m);
    weft_mutex_unlock(m);
    weft_mutex_unlock(&ld);
    return NULL;
}

static void test_out_of_order_release_and_trylock(void)
{
    setup();
    run_thread(release_middle, NULL);
    run_thread(take_d_then, &lb); /* b was released: d -> b is no cycle */
    WT_EQ(weft_lockdep_violations(), 0);
    run_thread(take_d_then, &lc); /* c was still held: d -> c is */
    WT_EQ(weft_lockdep_violations(), 1);
    WT_EQ(cap.nedges, 2);
    WT_STREQ(cap.edges[0].held, "d");
    WT_STREQ(cap.edges[0].taken, "c");
    WT_STREQ(cap.edges[1].held, "c");
    WT_STREQ(cap.edges[1].taken, "d");
    run_thread(take_d_then, &la);
    WT_EQ(weft_lockdep_violations(), 2);
}

/* ---- recursion, timed lock -------------------------------------------------- */

static void test_recursive_lock_reported(void)
{
    setup();
    weft_mutex_lock(&la);
    /* A deadline that has already passed: the attempt is checked (and is a
     * certain self-deadlock), then fails at once instead of hanging. */
    WT_ERR(weft_mutex_lock_until(&la, weft_now()), -ETIMEDOUT);
    WT_EQ(weft_lockdep_violations(), 1);
    WT_EQ(cap.nedges, 1);
    WT_STREQ(cap.edges[0].held, "a");
    WT_STREQ(cap.edges[0].taken, "a");
    /* WEFT_NOW only tries, like trylock: not a checked attempt. */
    WT_ERR(weft_mutex_lock_until(&la, WEFT_NOW), -ETIMEDOUT);
    WT_EQ(weft_lockdep_violations(), 1);
    weft_mutex_unlock(&la);
    /* The failed attempts left nothing on the held stack: a is free to be
     * taken and nothing is held, so b -> a and a -> b add no cycle. */
    weft_mutex_lock(&lb);
    weft_mutex_lock(&la);
    weft_mutex_unlock(&la);
    weft_mutex_unlock(&lb);
    WT_EQ(weft_lockdep_violations(), 1);
}

/* ---- cond_wait releases and re-takes ----------------------------------------- */

static weft_cond cv = WEFT_COND_INIT;

static void *wait_then_nest(void *arg)
{
    (void)arg;
    weft_mutex_lock(&la);
    WT_ERR(weft_cond_wait(&cv, &la, WEFT_NOW), -ETIMEDOUT);
    weft_mutex_lock(&lb); /* a re-taken by the wait: edge a -> b */
    weft_mutex_unlock(&lb);
    weft_mutex_unlock(&la);
    return NULL;
}

static void test_cond_wait_relock_is_tracked(void)
{
    setup();
    run_thread(wait_then_nest, NULL);
    WT_EQ(weft_lockdep_violations(), 0); /* no self-recursion from the relock */
    run_thread(take_d_then, &la);        /* unrelated: d -> a */
    WT_EQ(weft_lockdep_violations(), 0);
    weft_mutex_lock(&lb);
    weft_mutex_lock(&la); /* b -> a against a -> b from the wait */
    weft_mutex_unlock(&la);
    weft_mutex_unlock(&lb);
    WT_EQ(weft_lockdep_violations(), 1);
}

/* ---- classes: unnamed mutexes, shared names ----------------------------------- */

static void test_unnamed_mutex_named_by_init_site(void)
{
    setup();
    weft_mutex x, y;
    int x_line = __LINE__ + 1;
    weft_mutex_init(&x, NULL);
    weft_mutex_init(&y, NULL);
    weft_mutex_lock(&x);
    weft_mutex_lock(&y);
    weft_mutex_unlock(&y);
    weft_mutex_unlock(&x);
    weft_mutex_lock(&y);
    weft_mutex_lock(&x);
    weft_mutex_unlock(&x);
    weft_mutex_unlock(&y);
    WT_EQ(weft_lockdep_violations(), 1);
    char want[512];
    snprintf(want, sizeof want, "%s:%d", __FILE__, x_line);
    WT_STREQ(cap.edges[0].taken, want);
}

/* One class per name: nesting two mutexes of the same class is not checked
 * (the documented limit; give mutexes that nest different names). */
static void test_same_class_nesting_not_checked(void)
{
    setup();
    weft_mutex n1 = WEFT_MUTEX_INIT("node"), n2 = WEFT_MUTEX_INIT("node");
    weft_mutex_lock(&n1);
    weft_mutex_lock(&n2);
    weft_mutex_unlock(&n2);
    weft_mutex_unlock(&n1);
    weft_mutex_lock(&n2);
    weft_mutex_lock(&n1);
    weft_mutex_unlock(&n1);
    weft_mutex_unlock(&n2);
    WT_EQ(weft_lockdep_violations(), 0);
    /* But the class takes part in orders with other classes. */
    weft_mutex_lock(&la);
    weft_mutex_lock(&n1);
    weft_mutex_unlock(&n1);
    weft_mutex_unlock(&la);
    weft_mutex_lock(&n2);
    weft_mutex_lock(&la);
    weft_mutex_unlock(&la);
    weft_mutex_unlock(&n2);
    WT_EQ(weft_lockdep_violations(), 1);
    WT_STREQ(cap.edges[0].held, "node");
    WT_STREQ(cap.edges[0].taken, "a");
}

static void test_disabled_is_quiet(void)
{
    setup();
    weft_lockdep_enable(false);
    WT_ASSERT(!weft_lockdep_enabled());
    run_thread(task_a, NULL);
    run_thread(task_b, NULL);
    WT_EQ(weft_lockdep_violations(), 0);
    weft_lockdep_enable(true);
    WT_ASSERT(weft_lockdep_enabled());
    /* Nothing was learned while off: A alone is still no cycle. */
    run_thread(task_a, NULL);
    WT_EQ(weft_lockdep_violations(), 0);
    run_thread(task_b, NULL);
    WT_EQ(weft_lockdep_violations(), 1);
}

int main(void)
{
    WT_RUN(test_seed_deadlock_reported_without_overlap);
    WT_RUN(test_reported_before_blocking);
    WT_RUN(test_consistent_orders_stay_quiet);
    WT_RUN(test_three_lock_cycle);
    WT_RUN(test_out_of_order_release_and_trylock);
    WT_RUN(test_recursive_lock_reported);
    WT_RUN(test_cond_wait_relock_is_tracked);
    WT_RUN(test_unnamed_mutex_named_by_init_site);
    WT_RUN(test_same_class_nesting_not_checked);
    WT_RUN(test_disabled_is_quiet);
    weft_lockdep_set_handler(NULL, NULL);
    weft_lockdep_reset();
    return 0;
}
