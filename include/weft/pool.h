/* weft/pool.h: a thread pool executor (Python's ThreadPoolExecutor, done
 * right: bounded submission queue, bounded map, work stealing, metrics).
 *
 * A pool runs tasks on N worker threads. A task is a function and an
 * argument; submitting one returns a weft_future (include/weft/future.h)
 * that completes with the task's result. Each worker owns a work-stealing
 * deque: a task submitted from inside a task goes to the submitting
 * worker's deque (last in, first out: fork/join recursion runs depth first
 * and stays in cache); tasks submitted from outside go through one bounded
 * submission queue; idle workers take from it, steal from the others, spin
 * briefly, then park.
 *
 * Waiting inside a task: a task that waits on a future of the same pool
 * with weft_pool_wait() runs other queued tasks of the pool while it waits
 * (help-while-waiting), so fork/join recursion never starves the pool even
 * when every worker waits. weft_future_wait() itself does NOT help: called
 * from a task, it blocks the worker; use weft_pool_wait() there. A helping
 * task may run a task that waits for the helper's own caller (a cycle of
 * waits): that deadlocks, as it would in any executor, and is not detected.
 *
 * Shutdown (weft_pool_shutdown), numbered as in src/sched/pool.c:
 *   1. Close: every later submit, from any thread, fails with -EPIPE;
 *      submitters blocked on a full queue wake and fail with -EPIPE. A
 *      submit racing with step 1 either fails or is accepted; an accepted
 *      task is run, or cancelled in step 2 or by weft_pool_destroy().
 *   2. If cancel_pending: every task still queued (the submission queue and
 *      every worker's deque) is cancelled: its future reports CANCELLED and
 *      its callbacks run on the calling thread. Running tasks are not
 *      interrupted (use weft_future_cancel() for a request they can poll).
 *   3. Stop: idle workers are woken and exit once no queued task is left.
 *   4. If wait: wait until every worker has exited or the deadline passes.
 * weft_pool_destroy() shuts down (wait, no cancel) if that was not done,
 * then joins every thread.
 *
 * Metrics: counts are exact. Queue-wait and run-time histograms are
 * sampled (one task in `timing_sample`, default 64: reading the clock
 * three times per task would cost more than a tiny task); the queue-depth
 * peak is sampled on the same tasks and whenever the queue is full.
 *
 * Thread-safety: every function may be called from any thread unless it
 * says otherwise; weft_pool_destroy() only once every other call is done. */
/* In a loop task (weft/loop.h): a call below that would block suspends the
 * task instead of its thread, and once the task is cancelled every such
 * wait (each call whose errors include -ETIMEDOUT) may also end with
 * -ECANCELED, having changed nothing. */
#ifndef WEFT_POOL_H
#define WEFT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/error.h>
#include <weft/future.h>
#include <weft/metrics.h>
#include <weft/time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_pool weft_pool;

/* What submit does when the submission queue is full. */
typedef enum weft_pool_full_policy {
    WEFT_POOL_BLOCK,         /* wait for room until the submit's deadline (default) */
    WEFT_POOL_FAIL,          /* fail at once with -EAGAIN */
    WEFT_POOL_RUN_IN_CALLER, /* run the task on the submitting thread, now */
} weft_pool_full_policy;

typedef struct weft_pool_opts {
    /* Worker threads. 0: the CPUs this process may run on. */
    unsigned workers;
    /* Capacity of the submission queue (tasks from outside the pool),
     * rounded up to a power of two. 0: 4096. Tasks submitted from inside a
     * task go to the worker's own deque, which grows as needed. */
    size_t queue_capacity;
    weft_pool_full_policy full_policy;
    /* Thread names are "<name>-<index>" (at most 15 bytes, the kernel's
     * limit; longer names are cut). NULL: "weft-pool". */
    const char *name;
    /* Time one task in this many (rounded up to a power of two) for the
     * histograms. 0: 64. 1: every task. */
    uint32_t timing_sample;
} weft_pool_opts;

/* A task: compute, store the result in *result (zeroed on entry) and
 * return 0 (the future becomes DONE with *result), -ECANCELED (CANCELLED:
 * a task that honoured weft_future_cancel_requested()) or another negative
 * error (FAILED with that error). A positive return counts as -EINVAL. */
typedef int weft_pool_fn(void *arg, weft_value *result);

/* weft_pool_create: start a pool and its workers.
 * Returns: 0 and *out; *out is untouched on failure.
 * Errors: -EINVAL if out is NULL or full_policy is unknown; -ENOMEM;
 *         -EAGAIN if a thread could not be started.
 * Ownership: the caller owns *out (weft_pool_destroy). opts may be NULL.
 * Thread-safety: any thread. */
int weft_pool_create(weft_pool **out, const weft_pool_opts *opts);

/* weft_pool_destroy: shut down if not done yet (wait, no cancel), join
 * every worker, cancel tasks accepted while closing, free the pool. Futures
 * the caller still holds stay valid. NULL is ignored.
 * Ownership: consumes pool.
 * Thread-safety: any thread except the pool's own workers, once no other
 *                call on the pool is in progress. */
void weft_pool_destroy(weft_pool *pool);

/* weft_pool_submit: queue fn(arg).
 * From one of the pool's workers the task goes to that worker's deque
 * (never full). From any other thread it goes to the submission queue; if
 * that is full the pool's full policy applies: BLOCK waits until the
 * deadline (WEFT_NEVER: no limit), FAIL returns -EAGAIN, RUN_IN_CALLER
 * runs the task before returning (its future is then already terminal).
 * Returns: 0; *future (if future is not NULL) is the task's future.
 * Errors: -EINVAL if pool or fn is NULL; -EPIPE once shutdown began;
 *         -EAGAIN (FAIL policy, or BLOCK with WEFT_NOW, queue full);
 *         -ETIMEDOUT (BLOCK policy, deadline passed); -ENOMEM. On error the
 *         task never runs and *future is untouched.
 * Ownership: *future is a reference owned by the caller (weft_future_unref);
 *            pass NULL to fire and forget. arg is borrowed until fn returns
 *            or the task is cancelled.
 * Thread-safety: any thread, including the pool's own tasks. */
int weft_pool_submit(weft_pool *pool, weft_pool_fn *fn, void *arg, int64_t deadline,
                     weft_future **future);

/* weft_pool_wait: wait until f is terminal, like weft_future_wait(), but
 * when called from a task of this pool, run the pool's other queued tasks
 * while waiting (help-while-waiting: see the header comment).
 * Returns: 0 once f is terminal.
 * Errors: -ETIMEDOUT; -EINVAL if pool or f is NULL.
 * Ownership: borrows both.
 * Thread-safety: any thread. */
int weft_pool_wait(weft_pool *pool, weft_future *f, int64_t deadline);

/* weft_pool_current_future: the future of the task running on this thread
 * (so a task can poll weft_future_cancel_requested()), or NULL outside a
 * task. Borrowed: valid until the task returns. */
weft_future *weft_pool_current_future(void);

/* ---- map ----------------------------------------------------------------- */

/* The map's function: one item in, one result out. index is the item's
 * position in the input. Returns 0 or a negative error for this item. */
typedef int weft_pool_map_fn(void *ctx, size_t index, const void *item, weft_value *result);

/* A generator: write the next item (item_size bytes) into *item and return
 * 0, or return -EPIPE at the end of the input; any other negative error
 * stops the map and is returned by it. Runs on the map's calling thread. */
typedef int weft_pool_gen_fn(void *ctx, void *item);

/* Receives each result on the map's calling thread: in input order, or in
 * completion order for an unordered map. err is 0 or the item's error
 * (-ECANCELED if its chunk was cancelled by a shutdown). Return 0 to go on;
 * anything else stops the map, which then returns it. */
typedef int weft_pool_emit_fn(void *ctx, size_t index, weft_value result, int err);

typedef struct weft_pool_map_opts {
    /* Input: an array (items, count) or, if gen is set, a generator. */
    const void *items;
    size_t count;
    weft_pool_gen_fn *gen;
    size_t item_size;        /* bytes per item; required */
    weft_pool_map_fn *fn;    /* required */
    weft_pool_emit_fn *emit; /* required */
    void *ctx;               /* passed to gen, fn and emit */
    size_t chunksize;        /* items per task; 0: 1 */
    size_t max_in_flight;    /* chunks submitted and not yet emitted; 0: 2 per worker */
    bool unordered;          /* emit in completion order (as_completed) */
} weft_pool_map_opts;

/* Statistics of one map call (optional). */
typedef struct weft_pool_map_stats {
    size_t items, chunks;
    size_t max_in_flight_seen; /* the most chunks in flight at once */
} weft_pool_map_stats;

/* weft_pool_map: apply fn to every item, chunksize items per task, with at
 * most max_in_flight chunks submitted and not yet emitted, so memory stays
 * bounded for any input length (a generator is read only as chunks
 * finish). emit sees every result exactly once unless the map stops early.
 * Chunks are submitted with the deadline WEFT_NEVER whatever the policy;
 * from a task of the pool, waiting helps (see weft_pool_wait()).
 * Returns: 0 once every item was emitted.
 * Errors: -EINVAL (missing field, item_size 0); -EPIPE if the pool shut
 *         down (items not yet submitted are not read or run; chunks already
 *         in flight are still emitted, cancelled ones with -ECANCELED); the
 *         generator's or emit's nonzero return, or -ENOMEM: these stop
 *         emission, and the map waits for its chunks in flight before
 *         returning (their results are dropped).
 * Ownership: borrows opts and everything it points to for the call;
 *            stats may be NULL.
 * Thread-safety: any thread; emit and gen run on the calling thread. */
int weft_pool_map(weft_pool *pool, const weft_pool_map_opts *opts, weft_pool_map_stats *stats);

/* The loop body of weft_pool_parallel_for: handle [lo, hi). Return 0, or a
 * negative error to stop the loop (ranges not yet started are skipped). */
typedef int weft_pool_range_fn(void *ctx, int64_t lo, int64_t hi);

/* weft_pool_parallel_for: run fn over [begin, end) in ranges of at most
 * grain iterations, on the workers and the calling thread.
 * grain 0: (end - begin) / (8 * workers), at least 1.
 * Returns: 0 (also for an empty range).
 * Errors: the first error fn returned; -EPIPE if the pool is shut down;
 *         -EINVAL if pool or fn is NULL or end < begin.
 * Ownership: borrows ctx for the call.
 * Thread-safety: any thread, including the pool's own tasks. */
int weft_pool_parallel_for(weft_pool *pool, int64_t begin, int64_t end, int64_t grain,
                           weft_pool_range_fn *fn, void *ctx);

/* ---- Shutdown ------------------------------------------------------------ */

/* weft_pool_shutdown: the protocol in the header comment.
 * Returns: 0; with wait, once every worker has exited.
 * Errors: -ETIMEDOUT (wait, deadline passed: workers still running; the
 *         shutdown stays in effect); -EDEADLK if wait is requested from one
 *         of the pool's own tasks; -EINVAL if pool is NULL. Calling it
 *         again is allowed (a later call can cancel or wait).
 * Thread-safety: any thread. */
int weft_pool_shutdown(weft_pool *pool, bool wait, bool cancel_pending, int64_t deadline);

/* ---- Metrics ------------------------------------------------------------- */

#define WEFT_POOL_METRICS_WORKERS 64

typedef struct weft_pool_metrics {
    unsigned workers;
    uint64_t submitted;     /* accepted by submit (including ran in caller) */
    uint64_t completed;     /* DONE */
    uint64_t failed;        /* FAILED */
    uint64_t cancelled;     /* CANCELLED: before running, by shutdown, or by the task */
    uint64_t rejected;      /* submit failed: full (-EAGAIN, -ETIMEDOUT) or closed */
    uint64_t ran_in_caller; /* RUN_IN_CALLER on a full queue */
    uint64_t steals;        /* tasks taken from another worker's deque */
    uint64_t queue_depth;   /* accepted, not yet taken by a worker */
    uint64_t queue_depth_peak;
    weft_histogram_summary queue_wait; /* ns from submit to start (sampled) */
    weft_histogram_summary run_time;   /* ns in the task (sampled) */
    double busy_avg;                   /* mean of busy_ratio over all workers */
    /* Share of each worker's life (since weft_pool_create) spent not
     * parked: running tasks, helping while waiting, or spinning briefly for
     * work before parking. Workers beyond WEFT_POOL_METRICS_WORKERS count
     * in busy_avg only. */
    double busy_ratio[WEFT_POOL_METRICS_WORKERS];
} weft_pool_metrics;

/* weft_pool_metrics_get: a snapshot (named _get because the struct type
 * holds the name weft_pool_metrics). Fields are read one by one while the
 * pool runs, so they need not agree exactly with each other; once the pool
 * is shut down (with wait) they are exact.
 * Returns: 0. Errors: -EINVAL if pool or out is NULL.
 * Thread-safety: any thread. */
int weft_pool_metrics_get(weft_pool *pool, weft_pool_metrics *out);

/* weft_pool_report: append the snapshot to a report as rows named
 * "<prefix>submitted", "<prefix>queue_wait", ... (prefix may be NULL).
 * Render it with weft_report_write_text() or weft_report_write_json().
 * Returns: 0. Errors: -EINVAL; -ENOMEM (rows added before it stay).
 * Thread-safety: any thread; r as weft_report allows. */
int weft_pool_report(weft_pool *pool, weft_report *r, const char *prefix);

/* weft_pool_workers: the number of worker threads. */
unsigned weft_pool_workers(const weft_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
