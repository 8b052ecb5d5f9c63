/* Futures under racing threads (include/weft/future.h): callbacks run
 * exactly once while completion, cancellation and registration race; every
 * future ends in exactly one terminal state, consistent with what each
 * racing call returned; waits on many futures lose no wake-up; and an
 * as-completed iterator can be destroyed while its futures complete.
 *
 * The threads meet at a barrier before each small batch, so the calls on a
 * batch's futures genuinely overlap; nothing sleeps. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/future.h>
#include <weft/time.h>

#include "weft_test.h"

/* An atomic's value, named so that a failed assertion prints "loaded(&x)". */
static int loaded(const atomic_int *a)
{
    return atomic_load((atomic_int *)a);
}

enum { BATCH = 64, NCB = 3, NOT_CALLED = 1 };

static weft_value i64_value(int64_t x)
{
    weft_value v;
    memset(&v, 0, sizeof v);
    v.i64 = x;
    return v;
}

/* ---- Completion vs cancellation vs registration ------------------------- */

typedef struct record record;

typedef struct cb_slot {
    record *rec;
    int reg_rc;          /* what weft_future_on_done returned */
    atomic_int runs;     /* how many times the callback ran */
    atomic_int seen;     /* the state the callback saw */
    atomic_int seen_err; /* the outcome the callback saw */
} cb_slot;

struct record {
    weft_future *f;
    int start_rc;    /* NOT_CALLED, 0 or -ECANCELED */
    int complete_rc; /* NOT_CALLED, 0 or -EALREADY */
    int cancel_rc;   /* 0, -EBUSY or -EALREADY */
    int err;         /* what the completer completes with */
    cb_slot cbs[NCB];
};

/* A barrier that spins (yielding) instead of sleeping: the threads leave
 * it within a few hundred nanoseconds of each other, so they meet on the
 * same futures; a sleeping barrier's wake-up latency would let the first
 * thread finish a batch before the others start. */
typedef struct spin_barrier {
    atomic_uint count, generation;
    unsigned parties;
} spin_barrier;

static void spin_barrier_wait(spin_barrier *b)
{
    unsigned gen = atomic_load(&b->generation);
    if (atomic_fetch_add(&b->count, 1) + 1 == b->parties) {
        atomic_store(&b->count, 0);
        atomic_fetch_add(&b->generation, 1);
        return;
    }
    for (int spins = 0; atomic_load(&b->generation) == gen; spins++)
        if (spins > 4096) /* two cores, three threads: let the late one run */
            sched_yield();
}

typedef struct race {
    record *recs;
    size_t n;
    spin_barrier barrier;
} race;

static _Thread_local bool registering;

static void count_run(weft_future *f, void *arg)
{
    cb_slot *s = arg;
    /* Never inside the registering call (on this thread). */
    WT_ASSERT(!registering);
    atomic_store(&s->seen, (int)weft_future_get_state(f));
    atomic_store(&s->seen_err, weft_future_error(f));
    atomic_fetch_add(&s->runs, 1);
}

static size_t batches(const race *r)
{
    return (r->n + BATCH - 1) / BATCH;
}

static void batch_bounds(const race *r, size_t b, size_t *lo, size_t *hi)
{
    *lo = b * BATCH;
    *hi = *lo + BATCH < r->n ? *lo + BATCH : r->n;
}

/* The k-th future a thread visits in a batch of len, in one of three
 * orders: forward (in lockstep with the completer, which always goes
 * forward), backward (meeting it in the middle), or from the middle. The
 * threads vary their order from batch to batch, so every pair races in
 * every way. */
static size_t visit(size_t k, size_t len, size_t order)
{
    switch (order % 3) {
    case 0:
        return k;
    case 1:
        return len - 1 - k;
    default:
        return (k + len / 2) % len;
    }
}

static void *completer(void *arg)
{
    race *r = arg;
    for (size_t b = 0; b < batches(r); b++) {
        size_t lo, hi;
        batch_bounds(r, b, &lo, &hi);
        spin_barrier_wait(&r->barrier);
        for (size_t i = lo; i < hi; i++) {
            record *rec = &r->recs[i];
            /* Half the futures are started first, like pool tasks; the
             * others complete from PENDING, like I/O operations. */
            if (i % 2) {
                rec->start_rc = weft_future_start(rec->f);
                if (rec->start_rc == -ECANCELED)
                    continue; /* a producer skips a cancelled task */
            }
            rec->complete_rc = weft_future_complete(rec->f, i64_value((int64_t)i), rec->err);
        }
    }
    return NULL;
}

static void *canceller(void *arg)
{
    race *r = arg;
    for (size_t b = 0; b < batches(r); b++) {
        size_t lo, hi;
        batch_bounds(r, b, &lo, &hi);
        spin_barrier_wait(&r->barrier);
        for (size_t k = 0; k < hi - lo; k++) {
            record *rec = &r->recs[lo + visit(k, hi - lo, b)];
            rec->cancel_rc = weft_future_cancel(rec->f);
        }
    }
    return NULL;
}

static void *registrar(void *arg)
{
    race *r = arg;
    for (size_t b = 0; b < batches(r); b++) {
        size_t lo, hi;
        batch_bounds(r, b, &lo, &hi);
        spin_barrier_wait(&r->barrier);
        for (size_t k = 0; k < hi - lo; k++) {
            record *rec = &r->recs[lo + visit(k, hi - lo, b / 3)];
            for (int c = 0; c < NCB; c++) {
                registering = true;
                rec->cbs[c].reg_rc = weft_future_on_done(rec->f, count_run, &rec->cbs[c]);
                registering = false;
            }
        }
    }
    return NULL;
}

static void check_record(const record *rec)
{
    weft_future_state st = weft_future_get_state(rec->f);
    int outcome = weft_future_error(rec->f);
    /* Exactly one terminal state, and the outcome that goes with it. */
    WT_ASSERT(st == WEFT_FUTURE_DONE || st == WEFT_FUTURE_FAILED || st == WEFT_FUTURE_CANCELLED);
    WT_EQ(outcome, st == WEFT_FUTURE_DONE ? 0 : st == WEFT_FUTURE_FAILED ? rec->err : -ECANCELED);
    /* Exactly one of complete and cancel made it terminal. */
    WT_EQ((rec->complete_rc == 0) + (rec->cancel_rc == 0), 1);
    if (rec->cancel_rc == 0) {
        /* The canceller won while it was PENDING: a started future would
         * have answered -EBUSY. So the producer either was refused at start
         * (and skipped complete) or, not starting, was refused at complete. */
        WT_EQ(st, WEFT_FUTURE_CANCELLED);
        if (rec->start_rc == NOT_CALLED)
            WT_ERR(rec->complete_rc, -EALREADY);
        else
            WT_ASSERT(rec->start_rc == -ECANCELED && rec->complete_rc == NOT_CALLED);
    } else {
        /* The completer won: DONE or FAILED as it asked. A cancel that
         * found it running left a request; one that came later found it
         * terminal. */
        WT_OK(rec->complete_rc);
        WT_EQ(st, rec->err == 0 ? WEFT_FUTURE_DONE : WEFT_FUTURE_FAILED);
        WT_ASSERT(rec->start_rc == NOT_CALLED || rec->start_rc == 0);
        WT_ASSERT(rec->cancel_rc == -EBUSY || rec->cancel_rc == -EALREADY);
        if (rec->cancel_rc == -EBUSY)
            WT_ASSERT(weft_future_cancel_requested(rec->f));
    }
    /* Every callback registered before the terminal transition ran once,
     * seeing the final state; one refused with -EALREADY never ran. */
    for (int c = 0; c < NCB; c++) {
        const cb_slot *s = &rec->cbs[c];
        if (s->reg_rc == 0) {
            WT_EQ(loaded(&s->runs), 1);
            WT_EQ(loaded(&s->seen), st);
            WT_EQ(loaded(&s->seen_err), outcome);
        } else {
            WT_ERR(s->reg_rc, -EALREADY);
            WT_EQ(loaded(&s->runs), 0);
        }
    }
    /* Registration is ordered: once one was refused, later ones were too. */
    for (int c = 1; c < NCB; c++)
        if (rec->cbs[c - 1].reg_rc == -EALREADY)
            WT_ERR(rec->cbs[c].reg_rc, -EALREADY);
}

static void test_callbacks_exactly_once_under_races(void)
{
    race r;
    r.n = (size_t)WT_SCALE(200000);
    r.recs = calloc(r.n, sizeof *r.recs);
    WT_ASSERT(r.recs != NULL);
    for (size_t i = 0; i < r.n; i++) {
        record *rec = &r.recs[i];
        WT_OK(weft_future_create(&rec->f));
        rec->start_rc = rec->complete_rc = NOT_CALLED;
        rec->err = i % 3 == 0 ? -EIO : 0;
        for (int c = 0; c < NCB; c++) {
            rec->cbs[c].rec = rec;
            rec->cbs[c].reg_rc = NOT_CALLED;
        }
    }
    atomic_init(&r.barrier.count, 0);
    atomic_init(&r.barrier.generation, 0);
    r.barrier.parties = 3;
    pthread_t t[3];
    WT_EQ(pthread_create(&t[0], NULL, completer, &r), 0);
    WT_EQ(pthread_create(&t[1], NULL, canceller, &r), 0);
    WT_EQ(pthread_create(&t[2], NULL, registrar, &r), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);

    /* How often each race went each way, to show the races happened. */
    size_t outcomes[3] = {0}, busy = 0, late_cancel = 0, split_reg = 0;
    for (size_t i = 0; i < r.n; i++) {
        record *rec = &r.recs[i];
        check_record(rec);
        busy += rec->cancel_rc == -EBUSY;
        late_cancel += rec->cancel_rc == -EALREADY;
        split_reg += rec->cbs[0].reg_rc == 0 && rec->cbs[NCB - 1].reg_rc == -EALREADY;
        weft_value v;
        if (weft_future_result(rec->f, WEFT_NOW, &v) == 0)
            WT_EQ(v.i64, (int64_t)i);
        outcomes[weft_future_get_state(rec->f) - WEFT_FUTURE_DONE]++;
        weft_future_unref(rec->f);
    }
    fprintf(stderr,
            "   %zu futures: %zu done, %zu failed, %zu cancelled; cancel -EBUSY %zu, "
            "-EALREADY %zu; registrations split by completion %zu\n",
            r.n, outcomes[0], outcomes[1], outcomes[2], busy, late_cancel, split_reg);
    free(r.recs);
}

/* ---- Waits on many futures lose no wake-up ------------------------------ */

enum { K = 8 };

typedef struct wait_round {
    weft_future *fs[K];
    pthread_barrier_t start, end;
    size_t rounds;
    int fail_at; /* index completed with an error this round, or -1 */
} wait_round;

static void *any_then_all(void *arg)
{
    wait_round *w = arg;
    for (size_t r = 0; r < w->rounds; r++) {
        pthread_barrier_wait(&w->start);
        size_t idx = K;
        WT_OK(weft_future_wait_any(w->fs, K, WEFT_NEVER, &idx));
        WT_LT(idx, K);
        WT_GE(weft_future_get_state(w->fs[idx]), WEFT_FUTURE_DONE);
        WT_OK(weft_future_wait_all(w->fs, K, WEFT_NEVER));
        for (int i = 0; i < K; i++)
            WT_GE(weft_future_get_state(w->fs[i]), WEFT_FUTURE_DONE);
        pthread_barrier_wait(&w->end);
    }
    return NULL;
}

static void *first_exception(void *arg)
{
    wait_round *w = arg;
    for (size_t r = 0; r < w->rounds; r++) {
        pthread_barrier_wait(&w->start);
        size_t idx = K + 1;
        WT_OK(weft_future_wait_many(w->fs, K, WEFT_WAIT_FIRST_EXCEPTION, WEFT_NEVER, &idx));
        if (w->fail_at < 0) {
            WT_EQ(idx, K); /* no failure: it returned only once all finished */
            WT_OK(weft_future_wait_all(w->fs, K, WEFT_NOW));
        } else {
            WT_EQ(idx, w->fail_at);
        }
        pthread_barrier_wait(&w->end);
    }
    return NULL;
}

static void test_wait_many_loses_no_wakeup(void)
{
    wait_round w;
    w.rounds = (size_t)WT_SCALE(20000);
    WT_EQ(pthread_barrier_init(&w.start, NULL, 3), 0);
    WT_EQ(pthread_barrier_init(&w.end, NULL, 3), 0);
    pthread_t t[2];
    WT_EQ(pthread_create(&t[0], NULL, any_then_all, &w), 0);
    WT_EQ(pthread_create(&t[1], NULL, first_exception, &w), 0);
    unsigned seed = 12345;
    for (size_t r = 0; r < w.rounds; r++) {
        for (int i = 0; i < K; i++)
            WT_OK(weft_future_create(&w.fs[i]));
        seed = seed * 1103515245u + 12345u;
        w.fail_at = (seed >> 16) % 3 == 0 ? (int)((seed >> 8) % K) : -1;
        pthread_barrier_wait(&w.start);
        /* Complete in a rotating order; the failure, if any, goes last so
         * FIRST_EXCEPTION must wait past successes and cancellations. */
        size_t first = (seed >> 4) % K;
        for (int k = 0; k < K; k++) {
            int i = (int)((first + (size_t)k) % K);
            if (i == w.fail_at)
                continue;
            if (k % 3 == 2)
                WT_OK(weft_future_cancel(w.fs[i]));
            else
                WT_OK(weft_future_complete(w.fs[i], i64_value(i), 0));
        }
        if (w.fail_at >= 0)
            WT_OK(weft_future_complete(w.fs[w.fail_at], i64_value(0), -EIO));
        pthread_barrier_wait(&w.end);
        for (int i = 0; i < K; i++)
            weft_future_unref(w.fs[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&w.start);
    pthread_barrier_destroy(&w.end);
}

/* ---- as_completed destroyed while its futures complete ------------------ */

typedef struct ac_round {
    weft_future *fs[K];
    pthread_barrier_t start, end;
    size_t rounds;
} ac_round;

static void *complete_all(void *arg)
{
    ac_round *a = arg;
    for (size_t r = 0; r < a->rounds; r++) {
        pthread_barrier_wait(&a->start);
        for (int i = 0; i < K; i++)
            WT_OK(weft_future_complete(a->fs[i], i64_value(i), 0));
        pthread_barrier_wait(&a->end);
    }
    return NULL;
}

static void test_as_completed_destroy_races_completion(void)
{
    /* Destroy meets callbacks in every phase: not yet registered, still
     * registered (removed), detached by the completer but not yet run (the
     * callback then frees the iterator), and already run. ASan and TSan
     * check the hand-over. */
    ac_round a;
    a.rounds = (size_t)WT_SCALE(20000);
    WT_EQ(pthread_barrier_init(&a.start, NULL, 2), 0);
    WT_EQ(pthread_barrier_init(&a.end, NULL, 2), 0);
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, complete_all, &a), 0);
    for (size_t r = 0; r < a.rounds; r++) {
        for (int i = 0; i < K; i++)
            WT_OK(weft_future_create(&a.fs[i]));
        pthread_barrier_wait(&a.start);
        weft_as_completed *it;
        WT_OK(weft_as_completed_create(&it, a.fs, K));
        size_t idx;
        for (size_t k = 0; k < r % 3; k++) {
            int rc = weft_as_completed_next(it, WEFT_NOW, &idx);
            WT_ASSERT(rc == 0 || rc == -ETIMEDOUT);
            if (rc == 0)
                WT_LT(idx, K);
        }
        weft_as_completed_destroy(it);
        pthread_barrier_wait(&a.end);
        for (int i = 0; i < K; i++)
            weft_future_unref(a.fs[i]);
    }
    pthread_join(t, NULL);
    pthread_barrier_destroy(&a.start);
    pthread_barrier_destroy(&a.end);
}

int main(void)
{
    WT_RUN(test_callbacks_exactly_once_under_races);
    WT_RUN(test_wait_many_loses_no_wakeup);
    WT_RUN(test_as_completed_destroy_races_completion);
    return 0;
}
