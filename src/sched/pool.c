/* The thread pool: see include/weft/pool.h.
 *
 * Synchronization:
 * - Task records (task + embedded future) come from a process-wide
 *   recycler: a per-thread cache (no atomics) spilling to and refilling
 *   from a depot of batches under `depot_lock` (capped; beyond the cap
 *   records are freed). A record is recycled by the
 *   future's last unref (acq_rel in future.c), so every use of it happens
 *   before its reuse; the depot lock orders hand-offs between threads.
 * - The submission queue `ring` is Vyukov's bounded MPMC queue: positions
 *   are claimed by CAS on `tail` (producers) and `head` (consumers); a
 *   cell's `seq` publishes its task (release store by the producer,
 *   pairing with the consumer's acquire load) and frees the cell (release
 *   store by the consumer, pairing with the producer's acquire load). The
 *   claims are seq_cst because the two re-checks below read `tail` and
 *   `head`, not the cells: a claimed cell is published a few instructions
 *   later, so a re-check that sees a claim retries instead of sleeping.
 * - Each worker's deque: src/sched/deque.h.
 * - Sleep protocol (no lost wake-up, no lock on the hot path): a worker
 *   with nothing to do first spins (counted in `spinning`), then links
 *   itself into `idle_q` (src/sync/waiter.h) and re-checks every queue
 *   before parking. A submitter queues its task with a seq_cst operation
 *   (the CAS on `tail`, or the store of a deque's bottom), then reads
 *   `spinning` and `idle_q.count` (seq_cst) and wakes one sleeper only if
 *   nobody spins and somebody sleeps. A spinner gives up with a seq_cst decrement of `spinning`
 *   before linking and re-checking. In the single total order of seq_cst
 *   operations either the submitter's reads come first (then the worker's
 *   later re-check sees the task) or the worker's decrement and link come
 *   first (then the submitter sees a sleeper and no spinner, and wakes).
 *   A spinner that finds a task and was the last spinner wakes a sleeper
 *   if more work is queued, so a burst is spread over the workers.
 * - Blocked submitters (BLOCK policy, ring full) count themselves in
 *   `blocked` (seq_cst), re-check, and park on `space_epoch`
 *   (src/sync/park.h). A consumer claims a cell (seq_cst CAS on `head`),
 *   then reads `blocked` (seq_cst) and bumps the epoch and unparks one:
 *   the same Dekker argument as above.
 * - `closed` and `stopping` are set once by shutdown (seq_cst) and read by
 *   everyone. `exited` (a weft_event) is set by the last worker to exit.
 * - Statistics: each worker's counters are written only by that worker
 *   (relaxed load + store, no lock prefix) and read by snapshots; pool-wide
 *   counters of rare events are relaxed fetch_adds.
 *
 * Shutdown protocol (weft_pool_shutdown; each step is tested in
 * tests/unit/sched_pool_shutdown_test.c):
 *   1. Close: store `closed`; wake every blocked submitter (epoch bump and
 *      unpark all): they and every later submit fail with -EPIPE.
 *   2. If cancel_pending: pop every task from the ring and steal every task
 *      from every deque; cancel each future and drop the pool's reference.
 *   3. Stop: store `stopping` and wake every idle worker. A worker exits
 *      when it finds no task and `stopping` is set; its last act is to
 *      decrement `live` and, if it was the last, set `exited`.
 *   4. If wait: wait on `exited` until the deadline.
 * weft_pool_destroy() then joins every thread and cancels what a submit
 * racing with step 1 may have left queued after the workers exited. */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>
#include <weft/future.h>
#include <weft/metrics.h>
#include <weft/pool.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "sched/deque.h"
#include "sched/future_internal.h"
#include "sched/pool_internal.h"
#include "sync/futex.h"
#include "sync/lock.h"
#include "sync/park.h"
#include "sync/waiter.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOL_NO_RECYCLE 1 /* plain malloc/free so ASan sees every use after free */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_NO_RECYCLE 1
#endif
#endif

enum {
    DEFAULT_QUEUE = 4096,
    DEFAULT_SAMPLE = 64,
    DEQUE_INITIAL = 256,
    SPIN_ROUNDS = 64,        /* find_task() attempts before parking */
    SPIN_PAUSES = 32,        /* cpu_relax() between attempts */
    CACHE_BATCH = 64,        /* records moved between a thread cache and the depot */
    FULL_YIELDS = 64,        /* sched_yield() retries on a full queue before parking */
    DEPOT_MAX_BATCHES = 512, /* 32768 idle records (6 MiB) kept at most */
};

/* ---- Task records -------------------------------------------------------- */

typedef struct task task;
struct task {
    weft_pool_fn *fn;
    void *arg;
    int64_t enqueued; /* weft_now() at submit, if timed */
    bool timed;
};

/* The future follows the task in the same record, at an offset aligned for
 * any type. */
#define TASK_HDR ((sizeof(task) + 15) & ~(size_t)15)

static inline weft_future *task_future(task *t)
{
    return (weft_future *)(void *)((char *)t + TASK_HDR);
}

static inline task *future_task(weft_future *f)
{
    return (task *)(void *)((char *)f - TASK_HDR);
}

/* Rounded to whole cache lines, and allocated line-aligned, so a record
 * shares no line with another (a worker completing one must not steal the
 * line a submitter is filling in next door). */
static size_t record_size(void)
{
    return (TASK_HDR + weft__future_size() + 63) & ~(size_t)63;
}

#ifdef POOL_NO_RECYCLE
static task *task_alloc(void)
{
    return aligned_alloc(64, record_size());
}

static void task_free(task *t)
{
    free(t);
}
#else
/* The recycler. A thread's cache holds up to 2 * CACHE_BATCH records;
 * overflow moves a batch to the depot, an empty cache takes one back. A
 * thread's cache goes to the depot when the thread exits (the key's
 * destructor), so records are never stranded; the depot keeps them for the
 * life of the process (bounded by the peak number of live tasks). */
typedef struct tcache {
    size_t n;
    task *items[2 * CACHE_BATCH]; /* a stack: the most recently freed on top */
} tcache;

/* CACHE_BATCH free records on their way through the depot. The records
 * are kept by pointer, not linked through themselves, so moving them never
 * touches (and never pulls over) their cache lines. */
typedef struct batch batch;
struct batch {
    batch *next;
    size_t n;
    task *items[CACHE_BATCH];
};

static _Thread_local tcache tl_cache;
static _Thread_local bool tl_cache_keyed;
static weft__lock depot_lock = WEFT__LOCK_INIT;
static batch *depot;
static size_t depot_batches;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void depot_put(batch *b)
{
    weft__lock_acquire(&depot_lock);
    bool keep = depot_batches < DEPOT_MAX_BATCHES;
    if (keep) {
        b->next = depot;
        depot = b;
        depot_batches++;
    }
    weft__lock_release(&depot_lock);
    if (keep)
        return;
    /* A burst (a task that queued millions of children) must not pin its
     * peak memory for the life of the process: beyond the cap, free. */
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i]);
    free(b);
}

/* Move the n oldest records of the cache (the bottom of the stack, the
 * coldest) to the depot. */
static void spill(tcache *c, size_t n)
{
    batch *b = malloc(sizeof *b);
    if (!b) {
        for (size_t i = 0; i < n; i++)
            free(c->items[i]);
    } else {
        memcpy(b->items, c->items, n * sizeof c->items[0]);
        b->n = n;
        depot_put(b);
    }
    memmove(c->items, c->items + n, (c->n - n) * sizeof c->items[0]);
    c->n -= n;
}

static void cache_flush(void *unused)
{
    (void)unused;
    tcache *c = &tl_cache;
    while (c->n > 0)
        spill(c, c->n < CACHE_BATCH ? c->n : CACHE_BATCH);
}

static void cache_key_create(void)
{
    pthread_key_create(&cache_key, cache_flush);
}

static task *task_alloc(void)
{
    tcache *c = &tl_cache;
    if (c->n == 0) {
        weft__lock_acquire(&depot_lock);
        batch *b = depot;
        if (b) {
            depot = b->next;
            depot_batches--;
        }
        weft__lock_release(&depot_lock);
        if (!b)
            return aligned_alloc(64, record_size());
        memcpy(c->items, b->items, b->n * sizeof b->items[0]);
        c->n = b->n;
        free(b);
    }
    task *t = c->items[--c->n];
    /* The next record's lines are probably in the core that freed it:
     * start moving them now, while this one is being filled in. */
    if (c->n > 0) {
        char *next = (char *)c->items[c->n - 1];
        __builtin_prefetch(next, 1);
        __builtin_prefetch(next + 64, 1);
        __builtin_prefetch(next + 128, 1);
    }
    return t;
}

static void task_free(task *t)
{
    tcache *c = &tl_cache;
    if (!tl_cache_keyed) {
        /* Register the exit flush the first time this thread caches. */
        pthread_once(&cache_once, cache_key_create);
        pthread_setspecific(cache_key, c);
        tl_cache_keyed = true;
    }
    if (c->n == 2 * CACHE_BATCH)
        spill(c, CACHE_BATCH);
    c->items[c->n++] = t;
}
#endif

static void task_release(weft_future *f)
{
    task_free(future_task(f));
}

/* ---- The pool ------------------------------------------------------------ */

typedef struct cell {
    _Atomic uint64_t seq;
    _Atomic(task *) task;
} cell;

typedef struct worker {
    _Alignas(64) weft_pool *pool;
    unsigned index;
    pthread_t thread;
    bool started;
    uint64_t rng;
    weft__deque deque;
    /* Statistics, written by this worker only. */
    _Atomic uint64_t completed, failed, cancelled, local_submitted, steals;
    _Atomic int64_t busy_ns, busy_since; /* busy_since 0: idle now */
} worker;

struct weft_pool {
    /* Submitter side. */
    _Alignas(64) _Atomic uint64_t tail;
    /* Consumer side. */
    _Alignas(64) _Atomic uint64_t head;
    /* Read-mostly. */
    _Alignas(64) cell *ring;
    uint64_t mask;
    worker *workers;
    unsigned nworkers;
    unsigned max_spinners;
    weft_pool_full_policy policy;
    uint32_t timing_mask;
    int64_t created;
    weft_histogram *queue_wait, *run_time;
    char name[16];
    /* Read on every submit or pop, written rarely: a line of their own. */
    _Alignas(64) _Atomic uint32_t closed, stopping;
    _Atomic uint32_t blocked;
    _Atomic uint32_t space_epoch;
    /* Sleep protocol: written whenever a worker goes idle or wakes. */
    _Alignas(64) _Atomic uint32_t spinning;
    weft__waitq idle_q;
    /* Lifecycle. */
    _Alignas(64) _Atomic uint32_t live;
    weft_event exited;
    /* Pool-wide statistics (rare events and the caller's runs). */
    _Atomic uint64_t rejected, ran_in_caller, other_completed, other_failed, other_cancelled;
    _Atomic uint64_t depth_peak;
};

static _Thread_local worker *tl_worker;
static _Thread_local weft_future *tl_current;
static _Thread_local uint32_t tl_sample;

/* Owner-only counter bump: a plain load and store, no lock prefix. */
static inline void bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- Submission queue ---------------------------------------------------- */

static int ring_push(weft_pool *p, task *t)
{
    uint64_t pos = atomic_load_explicit(&p->tail, memory_order_relaxed);
    cell *c;
    for (;;) {
        c = &p->ring[pos & p->mask];
        /* Acquire pairs with ring_pop()'s release freeing the cell. */
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            /* seq_cst: the claim is what the sleep protocol's re-check
             * (ring_nonempty) sees, and it comes before notify()'s loads. */
            if (atomic_compare_exchange_weak_explicit(&p->tail, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return -EAGAIN;
        } else {
            pos = atomic_load_explicit(&p->tail, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&c->task, t, memory_order_relaxed);
    /* Release: publishes the task and its record; pairs with ring_pop()'s
     * acquire. */
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    return 0;
}

static void wake_blocked_submitter(weft_pool *p)
{
    /* Relaxed increment: the park check reads the epoch under the bucket
     * lock, which weft__unpark() takes after this. */
    atomic_fetch_add_explicit(&p->space_epoch, 1, memory_order_relaxed);
    weft__unpark(&p->space_epoch, 1);
}

static task *ring_pop(weft_pool *p)
{
    uint64_t pos = atomic_load_explicit(&p->head, memory_order_relaxed);
    cell *c;
    for (;;) {
        c = &p->ring[pos & p->mask];
        /* Acquire pairs with ring_push()'s publishing store. */
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - (pos + 1));
        if (dif == 0) {
            /* seq_cst: the claim is what a blocked submitter's re-check
             * (ring_has_room) sees; it comes before the load of `blocked`
             * below. */
            if (atomic_compare_exchange_weak_explicit(&p->head, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return NULL;
        } else {
            pos = atomic_load_explicit(&p->head, memory_order_relaxed);
        }
    }
    task *t = atomic_load_explicit(&c->task, memory_order_relaxed);
    /* The next task's record is probably in the submitter's cache: start
     * fetching it while this one runs. The slot may hold anything (an old
     * task, one being written); a prefetch never faults. */
    __builtin_prefetch(
        atomic_load_explicit(&p->ring[(pos + 1) & p->mask].task, memory_order_relaxed), 1);
    /* Release: frees the cell; pairs with ring_push()'s acquire. */
    atomic_store_explicit(&c->seq, pos + p->mask + 1, memory_order_release);
    if (atomic_load_explicit(&p->blocked, memory_order_seq_cst) != 0)
        wake_blocked_submitter(p);
    return t;
}

/* The sleep protocol's re-check: has a task been claimed into the ring and
 * not popped? seq_cst pairs with the CASes on tail and head. A claimed
 * cell may not be published yet (its submitter is between the claim and
 * the store): the caller then retries instead of sleeping. */
static bool ring_nonempty(weft_pool *p)
{
    uint64_t head = atomic_load_explicit(&p->head, memory_order_seq_cst);
    uint64_t tail = atomic_load_explicit(&p->tail, memory_order_seq_cst);
    return tail != head;
}

/* A blocked submitter's re-check: has a pop claimed a cell since the ring
 * was full? (Its cell may not be free yet: the caller retries.) */
static bool ring_has_room(weft_pool *p)
{
    uint64_t tail = atomic_load_explicit(&p->tail, memory_order_seq_cst);
    uint64_t head = atomic_load_explicit(&p->head, memory_order_seq_cst);
    return tail - head <= p->mask;
}

static bool work_available(weft_pool *p)
{
    if (ring_nonempty(p))
        return true;
    for (unsigned i = 0; i < p->nworkers; i++)
        if (weft__deque_nonempty(&p->workers[i].deque))
            return true;
    return false;
}

/* After publishing a task (seq_cst): wake a sleeper if nobody is spinning. */
static void notify(weft_pool *p)
{
    if (atomic_load_explicit(&p->spinning, memory_order_seq_cst) != 0)
        return;
    if (atomic_load_explicit(&p->idle_q.count, memory_order_seq_cst) == 0)
        return;
    weft__waitq_wake_one(&p->idle_q);
}

static uint64_t depth_now(weft_pool *p)
{
    uint64_t tail = atomic_load_explicit(&p->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&p->head, memory_order_relaxed);
    uint64_t d = tail > head ? tail - head : 0;
    for (unsigned i = 0; i < p->nworkers; i++)
        d += (uint64_t)weft__deque_size(&p->workers[i].deque);
    return d;
}

static void note_depth(weft_pool *p, uint64_t d)
{
    uint64_t peak = atomic_load_explicit(&p->depth_peak, memory_order_relaxed);
    while (d > peak && !atomic_compare_exchange_weak_explicit(
                           &p->depth_peak, &peak, d, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* ---- Running tasks --------------------------------------------------------- */

/* Run t (taken off a queue) and drop the pool's reference. The outcome is
 * counted in the worker's statistics, or the pool's when w is NULL (a task
 * run in the caller). */
static void run_task(weft_pool *p, worker *w, task *t)
{
    weft_future *f = task_future(t);
    _Atomic uint64_t *done = w ? &w->completed : &p->other_completed;
    _Atomic uint64_t *failed = w ? &w->failed : &p->other_failed;
    _Atomic uint64_t *cancelled = w ? &w->cancelled : &p->other_cancelled;
    void (*add)(_Atomic uint64_t *) = w ? bump : count;
    if (weft_future_start(f) != 0) {
        /* Cancelled while queued: skip it (future.h: start fails). The
         * canceller completed it already, so this count may lag it. */
        add(cancelled);
        weft_future_unref(f);
        return;
    }
    int64_t t0 = 0;
    if (t->timed) {
        t0 = weft_now();
        weft_histogram_record(p->queue_wait, t0 - t->enqueued);
    }
    weft_future *outer = tl_current;
    tl_current = f;
    weft_value v;
    memset(&v, 0, sizeof v);
    int rc = t->fn(t->arg, &v);
    tl_current = outer;
    if (rc > 0)
        rc = -EINVAL;
    if (t->timed)
        weft_histogram_record(p->run_time, weft_now() - t0);
    /* Count before completing: a consumer that sees the terminal state
     * (acquire) then sees the count too. */
    add(rc == 0 ? done : rc == -ECANCELED ? cancelled : failed);
    weft_future_complete(f, v, rc);
    weft_future_unref(f);
}

/* A task for w: its own deque first (newest first), then the submission
 * queue, then the other workers' deques (oldest first). */
static task *find_task(worker *w)
{
    weft_pool *p = w->pool;
    task *t = weft__deque_take(&w->deque);
    if (t)
        return t;
    t = ring_pop(p);
    if (t)
        return t;
    unsigned n = p->nworkers;
    for (int attempt = 0; attempt < 4; attempt++) {
        bool retry = false;
        w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned start = (unsigned)(w->rng >> 33) % n;
        for (unsigned i = 0; i < n; i++) {
            worker *v = &p->workers[(start + i) % n];
            if (v == w)
                continue;
            t = weft__deque_steal(&v->deque, &retry);
            if (t) {
                bump(&w->steals);
                return t;
            }
        }
        if (!retry)
            break;
    }
    return NULL;
}

static void busy_begin(worker *w)
{
    int64_t now = weft_now();
    atomic_store_explicit(&w->busy_since, now > 0 ? now : 1, memory_order_relaxed);
}

static void busy_end(worker *w)
{
    int64_t since = atomic_load_explicit(&w->busy_since, memory_order_relaxed);
    int64_t busy = atomic_load_explicit(&w->busy_ns, memory_order_relaxed);
    atomic_store_explicit(&w->busy_ns, busy + (weft_now() - since), memory_order_relaxed);
    atomic_store_explicit(&w->busy_since, 0, memory_order_relaxed);
}

/* Spin for a while looking for a task, if few enough workers spin already. */
static task *spin_for_task(worker *w)
{
    weft_pool *p = w->pool;
    uint32_t s = atomic_load_explicit(&p->spinning, memory_order_relaxed);
    do {
        if (s >= p->max_spinners)
            return NULL;
        /* seq_cst: a spinner must be visible to notify() before it looks. */
    } while (!atomic_compare_exchange_weak_explicit(&p->spinning, &s, s + 1, memory_order_seq_cst,
                                                    memory_order_relaxed));
    for (int round = 0; round < SPIN_ROUNDS; round++) {
        task *t = find_task(w);
        if (t) {
            /* seq_cst pairs with notify()'s load: see the Synchronization
             * block. The last spinner to find work passes the baton. */
            if (atomic_fetch_sub_explicit(&p->spinning, 1, memory_order_seq_cst) == 1 &&
                atomic_load_explicit(&p->idle_q.count, memory_order_seq_cst) != 0 &&
                work_available(p))
                weft__waitq_wake_one(&p->idle_q);
            return t;
        }
        if (atomic_load_explicit(&p->stopping, memory_order_relaxed))
            break;
        /* Pause a little, and every few rounds yield: on a machine with
         * fewer cores than runnable threads, a spinner must not starve the
         * submitter it is waiting for. */
        if (round % 4 == 3)
            sched_yield();
        else
            for (int i = 0; i < SPIN_PAUSES; i++)
                weft__cpu_relax();
    }
    /* seq_cst: this decrement comes before the caller links into idle_q
     * and re-checks (pairs with notify()). */
    atomic_fetch_sub_explicit(&p->spinning, 1, memory_order_seq_cst);
    return NULL;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    weft_pool *p = w->pool;
    tl_worker = w;
    busy_begin(w);
    bool saw_claim = false;
    for (;;) {
        task *t = find_task(w);
        if (!t)
            t = spin_for_task(w);
        if (t) {
            saw_claim = false;
            run_task(p, w, t);
            continue;
        }
        /* The last re-check saw a task that no search then found: a cell
         * claimed but not yet published. Let its submitter run. */
        if (saw_claim)
            sched_yield();
        busy_end(w);
        weft__waiter wt;
        weft__wait_link link;
        weft__waiter_init(&wt);
        weft__waitq_add(&p->idle_q, &link, &wt, 0);
        /* Re-check after linking (waiter.h step 3): a task or a stop that
         * came before the link woke nobody. seq_cst pairs with shutdown
         * step 3's store. */
        bool stop = atomic_load_explicit(&p->stopping, memory_order_seq_cst);
        bool work = work_available(p);
        if (!stop && !work)
            weft__waiter_park(&wt, WEFT_NEVER);
        weft__waitq_remove(&p->idle_q, &link);
        if (stop && !work)
            break;
        saw_claim = work;
        busy_begin(w);
    }
    tl_worker = NULL;
    /* acq_rel: the last worker out sees every other worker's exit. */
    if (atomic_fetch_sub_explicit(&p->live, 1, memory_order_acq_rel) == 1)
        weft_event_set(&p->exited);
    return NULL;
}

/* ---- Help while waiting -------------------------------------------------- */

int weft__pool_help_wait(weft_pool *p, bool (*ready)(void *ctx), void *ctx, weft__waitq *const *qs,
                         size_t nq, weft__wait_link *links, int64_t deadline)
{
    worker *w = tl_worker;
    bool helping = w && w->pool == p;
    for (;;) {
        if (ready(ctx))
            return 0;
        if (helping) {
            task *t = find_task(w);
            if (t) {
                run_task(p, w, t);
                continue;
            }
        }
        if (weft_deadline_passed(deadline))
            return -ETIMEDOUT;
        weft__waiter wt;
        weft__wait_link idle_link;
        weft__waiter_init(&wt);
        for (size_t i = 0; i < nq; i++)
            weft__waitq_add(qs[i], &links[i], &wt, 1);
        if (helping)
            weft__waitq_add(&p->idle_q, &idle_link, &wt, 0);
        int rc = 1;
        if (!ready(ctx) && !(helping && work_available(p)))
            rc = weft__waiter_park(&wt, deadline);
        for (size_t i = 0; i < nq; i++)
            weft__waitq_remove(qs[i], &links[i]);
        if (helping) {
            weft__waitq_remove(&p->idle_q, &idle_link);
            /* Woken as an idle worker but leaving: pass the wake on
             * (waiter.h step 5) so the announced task still finds one. */
            if (rc == 0 && ready(ctx) && work_available(p))
                weft__waitq_wake_one(&p->idle_q);
        }
        if ((rc == -ETIMEDOUT || rc == -ECANCELED) && !ready(ctx))
            return rc;
    }
}

static bool future_ready(void *f)
{
    return weft_future_get_state(f) >= WEFT_FUTURE_DONE;
}

int weft_pool_wait(weft_pool *pool, weft_future *f, int64_t deadline)
{
    if (!pool || !f)
        return -EINVAL;
    if (future_ready(f))
        return 0;
    weft__waitq *q = weft__future_waitq(f);
    weft__wait_link link;
    return weft__pool_help_wait(pool, future_ready, f, &q, 1, &link, deadline);
}

weft_future *weft_pool_current_future(void)
{
    return tl_current;
}

/* ---- Submit ---------------------------------------------------------------- */

bool weft__pool_closed(weft_pool *p)
{
    return atomic_load_explicit(&p->closed, memory_order_acquire) != 0;
}

/* The BLOCK policy's wait for room, with the protocol of src/sync/park.h. */
static int wait_for_room(weft_pool *p, task *t, int64_t deadline)
{
    /* A full queue usually drains within microseconds: yield the CPU (to
     * the workers, on a small machine) a few times before announcing
     * ourselves, so that consumers do not pay for a wake on every pop. */
    for (int i = 0; i < FULL_YIELDS && deadline != WEFT_NOW; i++) {
        if (weft__pool_closed(p))
            return -EPIPE;
        if (ring_push(p, t) == 0)
            return 0;
        sched_yield();
    }
    for (;;) {
        if (weft__pool_closed(p))
            return -EPIPE;
        if (ring_push(p, t) == 0)
            return 0;
        if (weft_deadline_passed(deadline))
            return deadline == WEFT_NOW ? -EAGAIN : -ETIMEDOUT;
        /* Read the epoch before announcing ourselves: a consumer that sees
         * the announcement bumps it afterwards, so the park check below
         * then fails and we re-try instead of sleeping. */
        uint32_t epoch = atomic_load_explicit(&p->space_epoch, memory_order_relaxed);
        /* seq_cst: before ring_has_room()'s loads, pairing with
         * ring_pop()'s CAS on head and its load of `blocked`. */
        atomic_fetch_add_explicit(&p->blocked, 1, memory_order_seq_cst);
        bool pushed = ring_push(p, t) == 0;
        int rc = 0;
        if (!pushed && !weft__pool_closed(p) && !ring_has_room(p))
            rc = weft__park_u32(&p->space_epoch, epoch, deadline);
        else if (!pushed)
            sched_yield(); /* a pop claimed a cell and is about to free it */
        atomic_fetch_sub_explicit(&p->blocked, 1, memory_order_relaxed);
        if (pushed)
            return 0;
        if (rc == -ECANCELED)
            return rc; /* a cancelled loop task (src/sync/waiter.h) */
    }
}

/* Returns whether the task is timed (sampled), which also samples the
 * queue depth once it is queued. */
static bool init_task(weft_pool *p, task *t, weft_pool_fn *fn, void *arg, bool keep)
{
    t->fn = fn;
    t->arg = arg;
    t->timed = false;
    if ((++tl_sample & p->timing_mask) == 0) {
        t->timed = true;
        t->enqueued = weft_now();
    }
    weft__future_init(task_future(t), keep ? 2 : 1, task_release);
    return t->timed;
}

static int submit(weft_pool *p, weft_pool_fn *fn, void *arg, int64_t deadline,
                  weft_pool_full_policy policy, weft_future **out)
{
    if (!p || !fn)
        return -EINVAL;
    if (weft__pool_closed(p)) {
        count(&p->rejected);
        return -EPIPE;
    }
    task *t = task_alloc();
    if (!t)
        return -ENOMEM;
    /* Once queued, t may run and be recycled at once: read nothing from it
     * after the push. */
    bool sample = init_task(p, t, fn, arg, out != NULL);
    weft_future *f = task_future(t);
    worker *w = tl_worker;
    if (w && w->pool == p) {
        if (weft__deque_push(&w->deque, t) != 0) {
            task_free(t);
            return -ENOMEM;
        }
        bump(&w->local_submitted);
        notify(p);
    } else if (ring_push(p, t) == 0) {
        notify(p);
    } else {
        note_depth(p, depth_now(p));
        int rc = -EAGAIN;
        if (policy == WEFT_POOL_BLOCK) {
            rc = wait_for_room(p, t, deadline);
        } else if (policy == WEFT_POOL_RUN_IN_CALLER) {
            /* The future already holds the caller's reference (init_task);
             * run_task drops the pool's. */
            count(&p->ran_in_caller);
            run_task(p, NULL, t);
            if (out)
                *out = f;
            return 0;
        }
        if (rc != 0) {
            count(&p->rejected);
            task_free(t);
            return rc;
        }
        notify(p);
    }
    if (sample)
        note_depth(p, depth_now(p));
    if (out)
        *out = f;
    return 0;
}

int weft_pool_submit(weft_pool *pool, weft_pool_fn *fn, void *arg, int64_t deadline,
                     weft_future **future)
{
    return submit(pool, fn, arg, deadline, pool ? pool->policy : WEFT_POOL_BLOCK, future);
}

int weft__pool_submit_blocking(weft_pool *pool, weft_pool_fn *fn, void *arg, int64_t deadline,
                               weft_future **future)
{
    return submit(pool, fn, arg, deadline, WEFT_POOL_BLOCK, future);
}

/* ---- Lifecycle ------------------------------------------------------------- */

static unsigned cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    return 1;
}

/* Cancel a task taken off a queue by shutdown or destroy. A task cancelled
 * by its consumer while queued is already CANCELLED (-EALREADY). */
static void cancel_task(weft_pool *p, task *t)
{
    count(&p->other_cancelled);
    weft_future_cancel(task_future(t));
    weft_future_unref(task_future(t));
}

/* Shutdown step 2 (and destroy's last sweep): empty every queue. */
static void cancel_queued(weft_pool *p)
{
    task *t;
    while ((t = ring_pop(p)))
        cancel_task(p, t);
    for (unsigned i = 0; i < p->nworkers; i++) {
        for (;;) {
            bool retry = false;
            t = weft__deque_steal(&p->workers[i].deque, &retry);
            if (t)
                cancel_task(p, t);
            else if (!retry)
                break;
        }
    }
}

int weft_pool_shutdown(weft_pool *pool, bool wait, bool cancel_pending, int64_t deadline)
{
    if (!pool)
        return -EINVAL;
    worker *self = tl_worker;
    if (wait && self && self->pool == pool)
        return -EDEADLK;
    /* Step 1: close. seq_cst: later submits see it (they read it with
     * acquire before queueing; a submit that read it earlier may still get
     * its task in, and steps 2/3 or destroy deal with that task). */
    atomic_store_explicit(&pool->closed, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&pool->space_epoch, 1, memory_order_relaxed);
    weft__unpark(&pool->space_epoch, INT_MAX);
    /* Step 2: cancel what is queued. */
    if (cancel_pending)
        cancel_queued(pool);
    /* Step 3: stop. seq_cst pairs with the idle worker's re-check after
     * linking into idle_q. */
    atomic_store_explicit(&pool->stopping, 1, memory_order_seq_cst);
    weft__waitq_wake_all(&pool->idle_q);
    /* Step 4: wait for the workers to exit. */
    if (wait)
        return weft_event_wait(&pool->exited, deadline);
    return 0;
}

static void stop_and_join(weft_pool *p)
{
    weft_pool_shutdown(p, false, false, WEFT_NOW);
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->workers[i].started)
            pthread_join(p->workers[i].thread, NULL);
}

static void pool_free(weft_pool *p)
{
    if (p->workers) {
        for (unsigned i = 0; i < p->nworkers; i++)
            weft__deque_destroy(&p->workers[i].deque);
        free(p->workers);
    }
    weft_histogram_destroy(p->queue_wait);
    weft_histogram_destroy(p->run_time);
    free(p->ring);
    free(p);
}

int weft_pool_create(weft_pool **out, const weft_pool_opts *opts)
{
    weft_pool_opts o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    if (!out || (unsigned)o.full_policy > WEFT_POOL_RUN_IN_CALLER)
        return -EINVAL;
    unsigned n = o.workers ? o.workers : cpus_available();
    size_t cap = 2;
    size_t want = o.queue_capacity ? o.queue_capacity : DEFAULT_QUEUE;
    while (cap < want && cap < ((size_t)1 << 40))
        cap *= 2;
    uint32_t sample = 1;
    uint32_t want_sample = o.timing_sample ? o.timing_sample : DEFAULT_SAMPLE;
    while (sample < want_sample && sample < (1u << 30))
        sample *= 2;

    weft_pool *p = aligned_alloc(64, (sizeof *p + 63) & ~(size_t)63);
    if (!p)
        return -ENOMEM;
    memset(p, 0, sizeof *p);
    p->mask = cap - 1;
    p->nworkers = n;
    p->max_spinners = n / 2 > 0 ? n / 2 : 1;
    p->policy = o.full_policy;
    p->timing_mask = sample - 1;
    p->created = weft_now();
    snprintf(p->name, sizeof p->name, "%s", o.name ? o.name : "weft-pool");
    weft__waitq_init(&p->idle_q);
    weft_event_init(&p->exited);
    atomic_init(&p->live, n);
    p->ring = malloc(cap * sizeof *p->ring);
    p->workers = aligned_alloc(64, n * sizeof *p->workers);
    int rc = -ENOMEM;
    if (!p->ring || !p->workers || weft_histogram_create(&p->queue_wait, NULL) != 0 ||
        weft_histogram_create(&p->run_time, NULL) != 0) {
        free(p->workers);
        p->workers = NULL;
        pool_free(p);
        return rc;
    }
    for (size_t i = 0; i < cap; i++) {
        atomic_init(&p->ring[i].seq, i);
        atomic_init(&p->ring[i].task, NULL);
    }
    memset(p->workers, 0, n * sizeof *p->workers);
    unsigned inited = 0;
    for (; inited < n; inited++) {
        worker *w = &p->workers[inited];
        w->pool = p;
        w->index = inited;
        w->rng = 0x9e3779b97f4a7c15ull * (inited + 1);
        if (weft__deque_init(&w->deque, DEQUE_INITIAL) != 0)
            break;
    }
    if (inited < n) {
        for (unsigned i = 0; i < inited; i++)
            weft__deque_destroy(&p->workers[i].deque);
        free(p->workers);
        p->workers = NULL;
        pool_free(p);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        worker *w = &p->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            /* The threads never started count as exited. */
            if (atomic_fetch_sub_explicit(&p->live, n - i, memory_order_acq_rel) == n - i)
                weft_event_set(&p->exited);
            stop_and_join(p);
            pool_free(p);
            return -EAGAIN;
        }
        w->started = true;
        char name[16];
        size_t len = strlen(p->name);
        int digits = snprintf(name, sizeof name, "-%u", i);
        size_t keep = len + (size_t)digits > 15 ? 15 - (size_t)digits : len;
        snprintf(name, sizeof name, "%.*s-%u", (int)keep, p->name, i);
        pthread_setname_np(w->thread, name);
    }
    *out = p;
    return 0;
}

void weft_pool_destroy(weft_pool *pool)
{
    if (!pool)
        return;
    stop_and_join(pool);
    /* Tasks a submit racing with shutdown step 1 queued after the workers
     * left: cancel them so their futures finish. */
    cancel_queued(pool);
    pool_free(pool);
}

unsigned weft_pool_workers(const weft_pool *pool)
{
    return pool ? pool->nworkers : 0;
}

/* ---- Metrics ----------------------------------------------------------------- */

static uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

int weft_pool_metrics_get(weft_pool *pool, weft_pool_metrics *out)
{
    if (!pool || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    weft_pool *p = pool;
    int64_t now = weft_now();
    int64_t life = now - p->created;
    out->workers = p->nworkers;
    out->submitted = atomic_load_explicit(&p->tail, memory_order_relaxed) + get(&p->ran_in_caller);
    out->completed = get(&p->other_completed);
    out->failed = get(&p->other_failed);
    out->cancelled = get(&p->other_cancelled);
    out->rejected = get(&p->rejected);
    out->ran_in_caller = get(&p->ran_in_caller);
    double busy_sum = 0;
    for (unsigned i = 0; i < p->nworkers; i++) {
        worker *w = &p->workers[i];
        out->submitted += get(&w->local_submitted);
        out->completed += get(&w->completed);
        out->failed += get(&w->failed);
        out->cancelled += get(&w->cancelled);
        out->steals += get(&w->steals);
        int64_t busy = atomic_load_explicit(&w->busy_ns, memory_order_relaxed);
        int64_t since = atomic_load_explicit(&w->busy_since, memory_order_relaxed);
        if (since > 0 && now > since)
            busy += now - since;
        double ratio = life > 0 ? (double)busy / (double)life : 0.0;
        if (ratio > 1.0)
            ratio = 1.0;
        busy_sum += ratio;
        if (i < WEFT_POOL_METRICS_WORKERS)
            out->busy_ratio[i] = ratio;
    }
    out->busy_avg = p->nworkers ? busy_sum / p->nworkers : 0.0;
    out->queue_depth = depth_now(p);
    note_depth(p, out->queue_depth);
    out->queue_depth_peak = get(&p->depth_peak);
    weft_histogram_summarize(p->queue_wait, &out->queue_wait);
    weft_histogram_summarize(p->run_time, &out->run_time);
    return 0;
}

int weft_pool_report(weft_pool *pool, weft_report *r, const char *prefix)
{
    if (!pool || !r)
        return -EINVAL;
    weft_pool_metrics m;
    weft_pool_metrics_get(pool, &m);
    if (!prefix)
        prefix = "";
    char name[128];
    int rc = 0;
#define ROW(field, call)                                                                           \
    do {                                                                                           \
        snprintf(name, sizeof name, "%s%s", prefix, field);                                        \
        if (rc == 0)                                                                               \
            rc = call;                                                                             \
    } while (0)
    ROW("workers", weft_report_add_counter(r, name, m.workers));
    ROW("submitted", weft_report_add_counter(r, name, m.submitted));
    ROW("completed", weft_report_add_counter(r, name, m.completed));
    ROW("failed", weft_report_add_counter(r, name, m.failed));
    ROW("cancelled", weft_report_add_counter(r, name, m.cancelled));
    ROW("rejected", weft_report_add_counter(r, name, m.rejected));
    ROW("ran_in_caller", weft_report_add_counter(r, name, m.ran_in_caller));
    ROW("steals", weft_report_add_counter(r, name, m.steals));
    ROW("queue_depth", weft_report_add_counter(r, name, m.queue_depth));
    ROW("queue_depth_peak", weft_report_add_counter(r, name, m.queue_depth_peak));
    ROW("queue_wait", weft_report_add_histogram(r, name, pool->queue_wait, "ns"));
    ROW("run_time", weft_report_add_histogram(r, name, pool->run_time, "ns"));
    ROW("busy_avg", weft_report_add_gauge(r, name, m.busy_avg, NULL));
    for (unsigned i = 0; i < m.workers && i < WEFT_POOL_METRICS_WORKERS; i++) {
        char field[32];
        snprintf(field, sizeof field, "busy.%u", i);
        ROW(field, weft_report_add_gauge(r, name, m.busy_ratio[i], NULL));
    }
#undef ROW
    return rc;
}
