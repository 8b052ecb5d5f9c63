/* weft/procpool.h: a process pool (Python's ProcessPoolExecutor and
 * multiprocessing.Pool, without their failure modes).
 *
 * A pool runs tasks in N worker processes: real isolation (a task that
 * crashes, leaks or corrupts memory takes down its worker, never the
 * caller) and real parallelism for CPU work. Arguments and results are
 * byte buffers that travel through shared memory: no pickling, no pipe.
 *
 * Tasks. A task is a function of the program registered at file scope:
 *
 *     static int square(const void *arg, size_t len, weft_proc_ctx *ctx)
 *     {
 *         int64_t x;
 *         if (len != sizeof x) return -EINVAL;
 *         memcpy(&x, arg, sizeof x);
 *         x *= x;
 *         return weft_proc_return(ctx, &x, sizeof x);
 *     }
 *     WEFT_PROC_TASK(square);
 *     ...
 *     weft_procpool_submit(pool, WEFT_PROC_TASK_REF(square), &x, sizeof x,
 *                          WEFT_NEVER, &f);
 *
 * WEFT_PROC_TASK puts an entry in a table that every process of the
 * program has (a linker section); it belongs in the program's executable,
 * not in a shared library. The future completes with the task's result:
 * weft_future_result() copies its first 16 bytes into the weft_value (so
 * a task returning an int64 or a double needs nothing else), and
 * weft_procpool_result() gives all of it.
 *
 * Processes, and what a worker inherits. weft_procpool_create() starts a
 * "zygote": a new run of the program's own executable (/proc/self/exe)
 * that never reaches main(): weft takes it over in a constructor (the
 * first WEFT_PROC_TASK's, which runs before the program's own
 * constructors) and keeps it single-threaded. Workers are forked from the
 * zygote. So a worker sees the program's globals with their static initial
 * values only; nothing the parent computed, no thread, no lock, no file
 * the parent opened (only the pool's own). What a task needs comes in its
 * argument, or once per worker through the pool's initializer (opts.init).
 * This is Python's "forkserver" start method: the parent, however many
 * threads it runs, never forks itself, so no worker inherits a lock that
 * another thread held (the reason Python 3.14 stopped forking by default).
 * The zygote and the workers end when the pool is destroyed or the parent
 * dies.
 *
 * Failures. A worker that dies (a signal, _exit, the OOM killer) fails the
 * one task it was running, with WEFT_EWORKER_DIED, and
 * weft_procpool_describe() names the signal or exit status; its results
 * finished before dying are delivered; a new worker replaces it at once.
 * With opts.max_crashes above 1 the task is retried until it has killed
 * that many workers. A task past its deadline has its worker killed and
 * replaced and fails with -ETIMEDOUT. The pool goes on serving throughout.
 * If the zygote itself is killed, no worker can be started any more: the
 * tasks in flight fail with WEFT_EWORKER_DIED and later submits with
 * -EPIPE (create a new pool). The zygote is a child of the calling
 * process: a waitpid(-1, ...) of the application's may reap it (the pool
 * then reports it gone as above); weft installs no signal handler.
 * Workers start with every signal at its default disposition.
 *
 * Backpressure: at most opts.max_in_flight tasks are submitted and not yet
 * finished; submit waits for room until its deadline.
 *
 * Shutdown (weft_procpool_shutdown), numbered as in src/sched/procpool.c:
 *   1. Close: every later submit fails with -EPIPE; submitters waiting for
 *      room wake and fail with -EPIPE.
 *   2. CANCEL_PENDING: tasks not yet taken by a worker are cancelled.
 *      TERMINATE: that, and the workers are killed: running tasks fail
 *      with -ECANCELED.
 *   3. Wait until every task has finished or the deadline passes (then
 *      as TERMINATE).
 *   4. The zygote and the workers exit and are reaped.
 * Afterwards no process, no zombie, no file descriptor and no shared
 * memory of the pool is left. weft_procpool_destroy() does WAIT if no
 * shutdown was done.
 *
 * Thread-safety: every function may be called from any thread unless it
 * says otherwise; weft_procpool_destroy() once no other call is running. */
/* In a loop task (weft/loop.h): a call below that would block suspends the
 * task instead of its thread, and once the task is cancelled every such
 * wait (each call whose errors include -ETIMEDOUT) may also end with
 * -ECANCELED, having changed nothing. */
#ifndef WEFT_PROCPOOL_H
#define WEFT_PROCPOOL_H

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

typedef struct weft_procpool weft_procpool;

/* ---- Tasks (defined in the program, run in the workers) ----------------- */

/* What a task uses to hand back its result; valid during the call only. */
typedef struct weft_proc_ctx weft_proc_ctx;

/* A task: read len bytes at arg (shared memory: read-only, valid during the
 * call), set the result with weft_proc_return() or
 * weft_proc_result_buffer() (none: an empty result), return 0, or a
 * negative error for the future to fail with. A positive return counts as
 * -EINVAL. */
typedef int weft_proc_fn(const void *arg, size_t len, weft_proc_ctx *ctx);

typedef struct weft_proc_task {
    const char *name;
    weft_proc_fn *fn;
} weft_proc_task;

/* Register fn (a weft_proc_fn of the program) as a task named after it;
 * at file scope, once per function, in the program's executable. */
#define WEFT_PROC_TASK(fn)                                                                  \
    __attribute__((used, section("weft_proc_tasks"), aligned(sizeof(void *))))             \
    const weft_proc_task weft_proc_task_##fn = {#fn, fn};                                  \
    __attribute__((constructor(101))) static void weft__proc_boot_##fn(void)               \
    {                                                                                       \
        extern const weft_proc_task __start_weft_proc_tasks[], __stop_weft_proc_tasks[];    \
        weft__proc_boot(__start_weft_proc_tasks, __stop_weft_proc_tasks);                   \
    }                                                                                       \
    extern const weft_proc_task weft_proc_task_##fn

/* Declare a task defined in another file, to submit it from this one. */
#define WEFT_PROC_TASK_DECLARE(fn) extern const weft_proc_task weft_proc_task_##fn

/* The task to submit: WEFT_PROC_TASK_REF(square). */
#define WEFT_PROC_TASK_REF(fn) (&weft_proc_task_##fn)

/* Internal, called by WEFT_PROC_TASK's constructor: records the program's
 * table; in the zygote, takes the process over and never returns. */
void weft__proc_boot(const weft_proc_task *first, const weft_proc_task *end);

/* weft_proc_return: set the task's result to a copy of len bytes.
 * Returns: 0. Errors: -ENOMEM (the task should return it); -EINVAL if ctx
 *          is NULL or data NULL with len > 0.
 * Thread-safety: the task's thread, during the task. */
int weft_proc_return(weft_proc_ctx *ctx, const void *data, size_t len);

/* weft_proc_result_buffer: make the task's result len bytes of shared
 * memory and return them to be filled in place: a large result reaches the
 * parent with no copy at all. The last call wins.
 * Returns: the buffer, or NULL (no memory, or in a map: use
 *          weft_proc_return there).
 * Thread-safety: the task's thread, during the task. */
void *weft_proc_result_buffer(weft_proc_ctx *ctx, size_t len);

/* weft_proc_in_worker: whether the calling process is a worker of a
 * process pool (a task can tell it runs out of its parent).
 * Returns: true in a worker, false elsewhere (the parent, the zygote
 *          before it forks). Thread-safety: any thread. */
bool weft_proc_in_worker(void);

/* ---- The pool (in the parent) --------------------------------------------- */

typedef struct weft_procpool_opts {
    /* Worker processes. 0: the CPUs this process may run on. */
    unsigned workers;
    /* Tasks submitted and not yet finished, at most (rounded up to a power
     * of two). 0: 1024. */
    size_t max_in_flight;
    /* Run in each worker before its first task (Python's initializer),
     * with a copy of init_arg; a failure (nonzero) fails pool creation, or
     * later the replacement worker (counted as a restart). NULL: none. */
    const weft_proc_task *init;
    const void *init_arg;
    size_t init_len;
    /* A worker exits and is replaced after this many tasks. 0: never. */
    unsigned max_tasks_per_child;
    /* A task whose worker dies is retried until it has killed this many
     * workers, then fails. 0 or 1: never retried. */
    unsigned max_crashes;
    /* Shared memory for task arguments that do not fit in a request slot,
     * in bytes (address space, committed as used). The largest argument is
     * a quarter of it. 0: 256 MiB. */
    size_t arena_size;
    /* For process names and reports. NULL: "weft-procpool". */
    const char *name;
} weft_procpool_opts;

/* weft_procpool_create: start the zygote and the workers, each worker
 * running opts->init first; returns once every worker is ready.
 * Returns: 0 and *out; *out is untouched on failure.
 * Errors: -EINVAL (out NULL, init_len with no init, workers > 1024);
 *         -ENOENT if the program registers no task (WEFT_PROC_TASK);
 *         -ENOMEM; -EAGAIN (no process could be started); the
 *         initializer's error if it failed in a worker;
 *         WEFT_EWORKER_DIED if a worker died while starting.
 * Ownership: the caller owns *out (weft_procpool_destroy); opts is read
 *            during the call (init_arg copied).
 * Thread-safety: any thread, whatever other threads the process runs. */
int weft_procpool_create(weft_procpool **out, const weft_procpool_opts *opts);

/* weft_procpool_destroy: shut down with WAIT if not done, then free the
 * pool. Futures the caller holds stay valid. NULL is ignored.
 * Returns: nothing; it cannot fail (every process is reaped).
 * Ownership: consumes pool.
 * Thread-safety: any thread, once no other call on the pool runs. */
void weft_procpool_destroy(weft_procpool *pool);

/* weft_procpool_submit: run task(arg) in a worker. The argument is copied
 * into shared memory before the call returns. deadline bounds the wait for
 * room (see Backpressure) and the task itself: a task not finished by then
 * fails with -ETIMEDOUT (its worker killed and replaced if it was
 * running). WEFT_NEVER: no limit.
 * Returns: 0; *future (if not NULL) is the task's future, RUNNING from now
 *          on (it is in the workers' hands; weft_future_cancel() then
 *          returns -EBUSY and cancels the task if no worker took it yet).
 * Errors: -EINVAL (pool or task NULL, arg NULL with len > 0, task not from
 *         this program's table); -E2BIG if len exceeds a quarter of the
 *         arena; -EPIPE once shutdown began; -EAGAIN (full, WEFT_NOW);
 *         -ETIMEDOUT (still full at the deadline); -ENOMEM. On error the
 *         task never runs and *future is untouched.
 * Ownership: *future is a reference owned by the caller; NULL fires and
 *            forgets. arg is borrowed for the call only.
 * Thread-safety: any thread. */
int weft_procpool_submit(weft_procpool *pool, const weft_proc_task *task, const void *arg,
                         size_t len, int64_t deadline, weft_future **future);

/* weft_procpool_result: the whole result of a process pool task.
 * Returns: 0 and (*data, *len) if f is DONE: the bytes are borrowed from f,
 *          valid while the caller holds a reference to it (read-only).
 * Errors: f's error if FAILED, -ECANCELED, -EAGAIN if not finished yet;
 *         -EINVAL if f is not a process pool future.
 * Thread-safety: any thread. */
int weft_procpool_result(weft_future *f, const void **data, size_t *len);

/* weft_procpool_describe: a sentence on how f's task ended, for messages:
 * "done", "failed: <error>", "worker 4242 killed by SIGSEGV (retried 1
 * time)", "worker 4242 exited with status 3", "timed out: worker killed",
 * "cancelled". Writes at most len bytes, NUL-terminated.
 * Returns: 0. Errors: -EINVAL if f is not a process pool future;
 *          -EAGAIN if not finished yet.
 * Thread-safety: any thread. */
int weft_procpool_describe(weft_future *f, char *buf, size_t len);

/* weft_procpool_task_signal: the signal that killed the worker running
 * f's task (last attempt). The exit status, if it exited, through
 * weft_procpool_describe().
 * Returns: the signal number, or 0 if no worker died by a signal running
 *          it, f is not finished, or f is not a process pool future.
 * Ownership: f is borrowed. Thread-safety: any thread. */
int weft_procpool_task_signal(weft_future *f);

/* ---- map --------------------------------------------------------------- */

/* Receives each item's result on the map's calling thread: in input order,
 * or in completion order for an unordered map. err is 0 (result, len valid
 * during the call) or the item's error (every item of a chunk shares the
 * chunk's error when a worker dies or the deadline passes). Return 0 to go
 * on; anything else stops the map, which then returns it. */
typedef int weft_procpool_emit_fn(void *ctx, size_t index, const void *result, size_t len,
                                  int err);

typedef struct weft_procpool_map_opts {
    const weft_proc_task *task; /* required: runs once per item */
    const void *items;          /* count items of item_size bytes */
    size_t count;
    size_t item_size;            /* required */
    weft_procpool_emit_fn *emit; /* required */
    void *ctx;                   /* passed to emit */
    size_t chunksize;            /* items per message; 0: 1 */
    size_t max_in_flight;        /* chunks submitted, not emitted; 0: 4 per worker */
    bool unordered;              /* emit in completion order (imap_unordered) */
    int64_t deadline;            /* for the whole map; WEFT_NEVER: none */
} weft_procpool_map_opts;

/* weft_procpool_map: run the task on every item, chunksize items per
 * message (Pool.map's chunksize: one round trip carries a whole chunk),
 * with at most max_in_flight chunks in flight, so memory stays bounded.
 * Every item's result reaches emit exactly once unless the map stops.
 * Returns: 0 once every item was emitted.
 * Errors: -EINVAL (a required field missing); -EPIPE (shut down: chunks in
 *         flight are still emitted); -ETIMEDOUT; emit's nonzero return;
 *         -ENOMEM. After an error the map waits for its chunks in flight
 *         (their results are dropped) before returning.
 * Ownership: borrows opts and what it points to for the call.
 * Thread-safety: any thread; emit runs on the calling thread. */
int weft_procpool_map(weft_procpool *pool, const weft_procpool_map_opts *opts);

/* ---- Shutdown ------------------------------------------------------------ */

typedef enum weft_procpool_shutdown_mode {
    WEFT_PROCPOOL_WAIT,           /* let every accepted task finish */
    WEFT_PROCPOOL_CANCEL_PENDING, /* cancel tasks no worker took yet */
    WEFT_PROCPOOL_TERMINATE,      /* cancel those and kill the workers */
} weft_procpool_shutdown_mode;

/* weft_procpool_shutdown: the numbered steps above.
 * Returns: 0 once every process of the pool is gone.
 * Errors: -EINVAL (pool NULL, unknown mode); -ETIMEDOUT if the tasks were
 *         still running at the deadline (they were then terminated: the
 *         processes are gone anyway); -EALREADY on a second call.
 * Thread-safety: any thread. */
int weft_procpool_shutdown(weft_procpool *pool, weft_procpool_shutdown_mode mode,
                           int64_t deadline);

/* ---- Metrics --------------------------------------------------------------- */

typedef struct weft_procpool_metrics {
    unsigned workers;
    uint64_t submitted; /* accepted by submit (a map counts its chunks) */
    uint64_t completed; /* DONE */
    uint64_t failed;    /* FAILED (the worker deaths among them below) */
    uint64_t cancelled; /* CANCELLED */
    uint64_t timed_out; /* failed with -ETIMEDOUT */
    uint64_t rejected;  /* submit failed: full, closed */
    uint64_t in_flight; /* submitted, not finished */
    uint64_t retried;   /* tasks sent again after their worker died */
    /* Workers replaced, by cause. */
    uint64_t restarts;
    uint64_t died_signal;    /* killed by a signal (not by the pool) */
    uint64_t died_exit;      /* exited on their own (_exit, exit) */
    uint64_t killed_timeout; /* killed by the pool: a task past its deadline */
    uint64_t recycled;       /* max_tasks_per_child reached */
    uint64_t init_failed;    /* the initializer failed in a replacement */
    weft_histogram_summary latency; /* ns from submit to completion */
} weft_procpool_metrics;

/* weft_procpool_metrics_get: a snapshot (exact once the pool is shut
 * down). Returns: 0. Errors: -EINVAL. Thread-safety: any thread. */
int weft_procpool_metrics_get(weft_procpool *pool, weft_procpool_metrics *out);

/* weft_procpool_report: append the snapshot to a report as rows named
 * "<prefix>submitted", ... (prefix may be NULL).
 * Returns: 0. Errors: -EINVAL; -ENOMEM. Thread-safety: any thread. */
int weft_procpool_report(weft_procpool *pool, weft_report *r, const char *prefix);

/* weft_procpool_workers: the number of worker processes the pool keeps
 * (opts.workers, or the CPUs; a dead one is replaced, so this does not
 * change). Returns: that number; 0 if pool is NULL.
 * Thread-safety: any thread. */
unsigned weft_procpool_workers(const weft_procpool *pool);

#ifdef __cplusplus
}
#endif
#endif
