/* weft/loop.h: the event loop and its tasks, weft's asyncio.
 *
 * A weft_loop runs tasks: functions on coroutines (weft/coro.h) that look
 * like ordinary blocking code but suspend instead of blocking their
 * thread. A loop belongs to the thread that runs it (weft_loop_run); its
 * tasks all run on that thread, one at a time, switching only where one
 * suspends, so tasks of one loop never race with each other (asyncio's
 * model). Several loops may run in one process, one per thread.
 *
 * What suspends. Inside a task, every blocking call of weft suspends the
 * task rather than the thread: weft_sleep_until(), weft_task_yield(),
 * waiting on a weft_future (weft_future_wait/result/wait_many, whoever
 * completes it: a task of this loop or another, a pool thread), channel
 * send/recv/select, and the sync primitives (mutex, cond, semaphore,
 * event, barrier, wait group). The same channel can connect threads and
 * tasks. Blocking system calls (read on a socket, sleep(3)) do block the
 * thread and every task of the loop with it: use weft/net.h, or
 * weft_to_thread(); the stall detector names tasks that do this.
 *
 * Tasks and futures. weft_spawn() returns the task's weft_future (the one
 * future type of weft/future.h): DONE with the task's result, FAILED with
 * its error, CANCELLED if it was cancelled before it ran or it returned
 * -ECANCELED.
 *
 * Cancellation. weft_future_cancel() on a task's future (from any thread)
 * cancels the task: its current wait, and every later one until it
 * finishes, ends with -ECANCELED (level-triggered, as in Trio: a task that
 * ignores the error and waits again is told again). A task that returns
 * without having started is CANCELLED without running. Code that must
 * wait even when cancelled (cleanup) runs inside weft_shield_enter() /
 * weft_shield_exit(). weft_mutex_lock() (which cannot fail) ignores
 * cancellation. A cancelled send or receive on a channel either happened
 * (returns 0) or did not (returns -ECANCELED, the element stays with the
 * caller): no element is lost.
 *
 * Deadlines. Every waiting call takes an absolute deadline on weft_now()'s
 * clock. weft_timeout_enter()/exit() put a deadline on a whole block, like
 * asyncio.timeout(): see there for how nested scopes and outside
 * cancellation compose.
 *
 * Errors: 0 or a negative errno (weft/error.h). From a task, waits may also
 * return -ECANCELED. Functions marked "in a task" return -EPERM when called
 * from anywhere else.
 *
 * Thread-safety: as said per function. */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/future.h>
#include <weft/metrics.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_loop weft_loop;

/* Called on the loop's thread when a task ran `ran_ns` without suspending,
 * longer than the loop's stall threshold. */
typedef void weft_stall_fn(void *arg, const char *task_name, int64_t ran_ns);

/* How a loop waits for I/O. */
typedef enum weft_loop_backend {
    /* io_uring when the kernel allows it, else epoll. The environment
     * variable WEFT_LOOP_BACKEND=epoll|io_uring overrides this default
     * (the test suite runs on both). */
    WEFT_BACKEND_AUTO,
    WEFT_BACKEND_EPOLL,
    WEFT_BACKEND_IO_URING, /* io_uring or fail (-ENOSYS) */
} weft_loop_backend;

typedef struct weft_loop_opts {
    /* Stack size of tasks that do not choose one; 0: 64 KiB (see
     * weft/coro.h: only touched pages cost memory). */
    size_t stack_size;
    /* Virtual time: weft_clock_use_virtual() is switched on, and whenever
     * every task waits and no I/O or cross-thread work is pending, the
     * clock jumps to the next timer. Timeout tests run instantly and
     * deterministically. The clock is process-wide: one such loop at a
     * time. */
    bool virtual_time;
    /* Stall detector: a task that runs this long without suspending is
     * reported (stderr, or on_stall). 0: 100 ms; negative: off. */
    int64_t stall_ns;
    weft_stall_fn *on_stall;
    void *stall_arg;
    /* Worker threads of the loop's own weft_to_thread() pool, created on
     * first use. 0: 4. */
    unsigned to_thread_workers;
    /* Name for reports and the stall detector. NULL: "loop". */
    const char *name;
    weft_loop_backend backend;
} weft_loop_opts;

/* weft_loop_create: a new loop with no task. It belongs to no thread
 * until weft_loop_run().
 * Returns: 0 and *out; *out untouched on failure.
 * Errors: -EINVAL (out NULL, or virtual_time while another loop has it);
 *         -ENOMEM; -EMFILE/-ENFILE (the loop's eventfd or epoll fd);
 *         -ENOSYS (WEFT_BACKEND_IO_URING where io_uring is not there).
 * Ownership: the caller owns *out (weft_loop_destroy). opts may be NULL.
 * Thread-safety: any thread. */
int weft_loop_create(weft_loop **out, const weft_loop_opts *opts);

/* weft_loop_backend_name: the backend the loop runs on.
 * Returns: "epoll" or "io_uring"; NULL for NULL. Any thread. */
const char *weft_loop_backend_name(const weft_loop *loop);

/* weft_loop_destroy: free a loop that has no live task.
 * Returns: 0; NULL is ignored.
 * Errors: -EBUSY if it is running or tasks are alive (nothing freed).
 * Thread-safety: any thread, once weft_loop_run() has returned. */
int weft_loop_destroy(weft_loop *loop);

/* weft_loop_run: run the loop on the calling thread until `until` is
 * terminal (NULL: until no task is alive).
 * Returns: 0.
 * Errors: -EINVAL if loop is NULL; -EBUSY if it is already running, or
 *         was run before by another thread, or this thread is running a
 *         loop already.
 * Thread-safety: the loop's own thread. */
int weft_loop_run(weft_loop *loop, weft_future *until);

/* A task's body: like a thread pool task (weft/pool.h), store the result
 * in *result (zeroed on entry) and return 0 (DONE), -ECANCELED
 * (CANCELLED) or another negative error (FAILED); a positive return counts
 * as -EINVAL. */
typedef int weft_task_fn(void *arg, weft_value *result);

typedef struct weft_spawn_opts {
    /* For the stall detector and reports; not copied, must outlive the
     * task. NULL: "task". */
    const char *name;
    /* Stack size; 0: the loop's. */
    size_t stack_size;
    /* A floating-point environment of the task's own, as
     * weft_coro_opts.fp_env (weft/coro.h); off, tasks share the loop
     * thread's. */
    bool fp_env;
} weft_spawn_opts;

/* weft_spawn: start fn(arg) as a task of loop (NULL: the current task's
 * loop). It runs once the loop gets to it, never inside this call.
 * Returns: 0; *future (if not NULL) is the task's future.
 * Errors: -EINVAL (fn NULL; loop NULL outside a task; stack size out of
 *         range); -ENOMEM; -EPIPE if the loop is being destroyed.
 * Ownership: *future is a reference owned by the caller; NULL detaches the
 *            task (it still runs). arg is borrowed until fn returns.
 * Thread-safety: any thread. */
int weft_spawn(weft_loop *loop, weft_task_fn *fn, void *arg, const weft_spawn_opts *opts,
               weft_future **future);

/* weft_run: asyncio.run(): a new loop on this thread runs fn(arg) as its
 * first task until it finishes; tasks still alive then are cancelled and
 * waited for; the loop is destroyed.
 * Returns: fn's return value (0, -ECANCELED or its error); *result (if
 *          not NULL) gets its result.
 * Errors: as weft_loop_create, weft_spawn and weft_loop_run.
 * Thread-safety: any thread not running a loop. */
int weft_run(weft_task_fn *fn, void *arg, const weft_loop_opts *opts, weft_value *result);

/* ---- In a task ---------------------------------------------------------- */

/* weft_loop_current: the loop running on this thread.
 * Returns: the loop, or NULL if this thread runs none. Any thread. */
weft_loop *weft_loop_current(void);

/* weft_task_current: the running task's future.
 * Returns: the future, or NULL outside a task.
 * Ownership: borrowed, valid while the task runs (weft_future_ref to keep
 *            it). Any thread. */
weft_future *weft_task_current(void);

/* weft_task_name: the running task's name (its spawn option).
 * Returns: the name, or NULL outside a task. Ownership: the caller's
 *          string, as given to weft_spawn. Any thread. */
const char *weft_task_name(void);

/* weft_task_yield: let the loop run the other ready tasks, then continue.
 * Returns: 0. Errors: -ECANCELED (cancelled; it still yielded);
 *          -EPERM outside a task. In a task. */
int weft_task_yield(void);

/* weft_sleep_until: suspend until the absolute deadline.
 * Returns: 0 once the deadline passed (a passed deadline still yields).
 * Errors: -ECANCELED; -EPERM outside a task. In a task. */
int weft_sleep_until(int64_t deadline);

/* weft_sleep_for: weft_sleep_until(weft_deadline_in(ns)); same returns,
 * errors and thread rule. */
int weft_sleep_for(int64_t ns);

/* weft_task_cancelled: is a cancellation pending on the running task
 * (ignoring shields)? For long computations that never wait.
 * Returns: true if so; false, also outside a task. Any thread. */
bool weft_task_cancelled(void);

/* weft_shield_enter / weft_shield_exit: between them, waits of the running
 * task are not cut by cancellation (the cancellation stays pending and the
 * first wait after the outermost exit reports it). They nest.
 * Returns: 0. Errors: -EPERM outside a task; exit: -EINVAL without a
 *          matching enter. In a task. */
int weft_shield_enter(void);
int weft_shield_exit(void);

/* A timeout scope: weft_timeout_enter(&t, deadline) ... rc = body ...
 * rc = weft_timeout_exit(&t, rc). When the deadline passes inside the
 * scope, the task is cancelled (its waits end with -ECANCELED); exit turns
 * that -ECANCELED into -ETIMEDOUT if and only if this scope fired and no
 * cancellation from outside (another cancel, an enclosing scope that also
 * fired) is pending, so with nested scopes only the expired one reports a
 * timeout, and an outside cancel is never reported as a timeout. A
 * deadline already passed (zero or negative timeout) fires at enter: the
 * first wait in the scope ends with -ECANCELED. Scopes must be exited in
 * reverse order of entry, by the task that entered them; the struct lives
 * on the task's stack. */
typedef struct weft_timeout {
    int64_t deadline;
    /* Private. */
    void *task_, *prev_;
    int64_t timer_[6];
    uint32_t cancels_at_enter_;
    bool fired_, armed_;
} weft_timeout;

/* Returns: 0. Errors: -EPERM outside a task; -EINVAL if t is NULL;
 * -EBUSY if t is entered already and not exited (CPython's "Timeout has
 * already been entered"). In a task. */
int weft_timeout_enter(weft_timeout *t, int64_t deadline);

/* weft_timeout_reschedule: move the scope's deadline (asyncio's
 * Timeout.reschedule). Returns: 0; -EINVAL if the scope already fired or
 * is not the running task's. In a task. */
int weft_timeout_reschedule(weft_timeout *t, int64_t deadline);

/* Returns: rc, or -ETIMEDOUT as described above; -EINVAL if t is not the
 * innermost scope of the running task. In a task. */
int weft_timeout_exit(weft_timeout *t, int rc);

/* weft_timeout_expired: did this scope's deadline fire?
 * Returns: true if it fired (valid during and after the scope); false for
 *          NULL. The scope's task. */
bool weft_timeout_expired(const weft_timeout *t);

/* weft_wait_for: asyncio.wait_for: wait for f until the deadline; if it
 * passes, cancel f and wait for it to finish, then report the timeout.
 * If the calling task is cancelled meanwhile, f is cancelled too.
 * Returns: 0 and *value (if not NULL) when f is DONE.
 * Errors: f's error (FAILED) or -ECANCELED (f CANCELLED, or the caller
 *         cancelled); -ETIMEDOUT. From a task or a thread (on a thread,
 *         the cancel-and-wait blocks the thread).
 * Ownership: borrows f. */
int weft_wait_for(weft_future *f, int64_t deadline, weft_value *value);

/* weft_gather: wait for every future of fs[0..n) (asyncio.gather), then
 * copy each one's outcome into values[i] / errs[i] (either may be NULL).
 * Returns: 0 if every one is DONE; else the error of the first (by index)
 *          that is not.
 * Errors: -ETIMEDOUT / -ECANCELED if the wait itself ended first (nothing
 *         is cancelled: use a task group for that); -EINVAL; -ENOMEM.
 * Any thread or task. Ownership: borrows the futures. */
int weft_gather(weft_future *const *fs, size_t n, int64_t deadline, weft_value *values, int *errs);

/* A task group (Trio's nursery, asyncio.TaskGroup): the tasks spawned into
 * it cannot outlive weft_group_wait(), which every group must reach; the
 * first child that fails cancels its siblings (and the task that owns the
 * group, so it reaches the wait); the wait returns that first error.
 * Lives on the owning task's stack; owned by the task that inits it. */
typedef struct weft_group {
    /* Private. */
    void *owner_, *children_, *waiter_;
    size_t alive_;
    int first_err_;
    bool failing_, owner_cancelled_, waiting_, done_;
} weft_group;

/* Returns: 0. Errors: -EPERM outside a task. In a task. */
int weft_group_init(weft_group *g);

/* weft_group_spawn: weft_spawn() into the group, on the owner's loop.
 * Returns: 0 and *future (if not NULL, a reference the caller owns).
 * Errors: -EPIPE once the group is failing or its wait has returned;
 *         -EPERM if not called by a task of the owner's loop; as
 *         weft_spawn. */
int weft_group_spawn(weft_group *g, weft_task_fn *fn, void *arg, const weft_spawn_opts *opts,
                     weft_future **future);

/* weft_group_wait: wait until every child has finished. If the owner is
 * cancelled meanwhile, the children are cancelled and still waited for.
 * Returns: 0 if no child failed and the owner was not cancelled from
 *          outside; the first child's error (a child that ends
 *          CANCELLED, whoever cancelled it, is not a failure: asyncio's
 *          rule); else -ECANCELED.
 * In the owning task. */
int weft_group_wait(weft_group *g);

/* weft_to_thread: run fn(arg) on the loop's own thread pool
 * (opts.to_thread_workers; not shared with anything else) and wait for it
 * without blocking the loop. If the task is cancelled meanwhile, the
 * pool task is asked to cancel (weft_future_cancel_requested()) and waited
 * for, so arg is never used after this returns.
 * Returns: fn's return value; *result (if not NULL) its result.
 * Errors: -EPERM outside a task; -ECANCELED; pool errors (-ENOMEM,
 *         -EAGAIN). In a task. */
int weft_to_thread(int (*fn)(void *arg, weft_value *result), void *arg, weft_value *result);

/* ---- Waiting for file descriptors ---------------------------------------- */

enum { WEFT_READABLE = 1, WEFT_WRITABLE = 2 };

/* weft_fd_wait: suspend until fd is readable and/or writable (events, a
 * mask of WEFT_READABLE | WEFT_WRITABLE), or the deadline. fd should be
 * non-blocking; the loop watches it from the first call until
 * weft_fd_forget().
 * Returns: the events that are ready (> 0); an error or hang-up counts as
 *          both.
 * Errors: -ETIMEDOUT; -ECANCELED; -EINVAL (bad mask or fd); -EBUSY if
 *         another task of the loop waits for the same event on fd;
 *         -EPERM outside a task; the epoll error. In a task. */
int weft_fd_wait(int fd, unsigned events, int64_t deadline);

/* weft_fd_forget: stop watching fd; call it before close(fd) (weft_close
 * does). A task still waiting on fd is woken as if fd were ready.
 * Returns: 0. Thread-safety: a task of the loop that watches fd (a no-op
 * elsewhere). */
int weft_fd_forget(int fd);

/* ---- Metrics -------------------------------------------------------------- */

typedef struct weft_loop_stats {
    uint64_t tasks_spawned, tasks_finished, tasks_alive;
    uint64_t ready;      /* tasks ready to run now */
    uint64_t iterations; /* scheduler rounds */
    uint64_t switches;   /* resumes of tasks */
    uint64_t polls;      /* backend waits (epoll_wait, io_uring_enter) */
    int64_t poll_ns;     /* time spent in them */
    uint64_t timers_armed, timers_fired;
    uint64_t remote_wakes;  /* wakes posted from other threads */
    uint64_t stalls;        /* stall detector reports */
    int64_t longest_run_ns; /* the longest time a task ran without suspending */
} weft_loop_stats;

/* weft_loop_stats_get: a snapshot of loop's counters.
 * Returns: 0. Errors: -EINVAL (NULL argument).
 * Thread-safety: the loop's own thread (a task, a callback), or any
 *                thread while the loop is not running: the counters are
 *                plain fields of the loop thread's. */
int weft_loop_stats_get(const weft_loop *loop, weft_loop_stats *out);

/* weft_loop_report: add the stats as rows "<prefix>.<name>" (prefix NULL:
 * "loop") to r.
 * Returns: 0. Errors: the report's (-ENOMEM), -EINVAL.
 * Ownership: borrows loop and r. Thread-safety: as weft_loop_stats_get. */
int weft_loop_report(const weft_loop *loop, weft_report *r, const char *prefix);

#ifdef __cplusplus
}
#endif

#endif
