/* Internal to src/io: the event loop's structures, shared by loop.c (tasks,
 * scheduler, timers, cross-thread queue), backend_*.c (waiting for file
 * descriptors), scope.c (cancellation, timeouts, groups) and await.c.
 *
 * Threads. Everything in weft_loop and task is touched only by the loop's
 * thread, except the loop_core, which foreign threads use to hand the loop
 * work (a spawn, a wake of a parked task, a cancellation); see loop.c's
 * Synchronization block. */
#ifndef WEFT_IO_LOOP_INTERNAL_H
#define WEFT_IO_LOOP_INTERNAL_H

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/coro.h>
#include <weft/loop.h>
#include <weft/pool.h>

#include "io/timer.h"
#include "sync/lock.h"
#include "sync/waiter.h"

/* ---- timers (the loop's timing wheel, io/timer.h) ----------------------- */

/* Arm (or re-arm) t at deadline on loop's wheel; cannot fail. Loop's
 * thread only, as every timer call. */
void weft__timer_arm(weft_loop *loop, weft__timer *t, int64_t deadline);
void weft__timer_disarm(weft_loop *loop, weft__timer *t);

/* ---- tasks -------------------------------------------------------------- */

enum task_state { T_NEW, T_READY, T_RUNNING, T_PARKED, T_DONE };

typedef struct loop_core loop_core;
typedef struct task task;
struct task {
    weft_loop *loop;
    loop_core *core; /* a reference, dropped when the record is freed */
    weft_task_fn *fn;
    void *arg;
    const char *name;
    size_t stack_size;
    bool fp_env; /* weft_spawn_opts.fp_env */
    weft_coro *coro;
    enum task_state state;
    task *next;                /* ready queue */
    task *post_next;           /* the core's posted list (guarded by its lock) */
    bool posted;               /* on that list (guarded by its lock) */
    void *lockdep;             /* its held-lock stack, when the checker is on */
    task *all_next, *all_prev; /* every live task of the loop */
    task *cancel_next;         /* the core's cancel list */
    /* Parking (loop.c): the waiter it is parked on, the deadline timer. */
    weft__waiter *waiter;
    weft__timer park_timer;
    /* Cancellation (scope.c): pending requests (outside cancels, fired
     * timeout scopes, its group), shield depth, innermost timeout scope. */
    uint32_t cancels;
    uint32_t shield;
    weft_timeout *scopes;
    /* Its task group, if any, and the group's sibling list. */
    weft_group *group;
    task *gnext, *gprev;
    int rc;
    weft_value result;
};

/* weft_spawn, into group (NULL: none). */
int weft__spawn(weft_loop *loop, weft_task_fn *fn, void *arg, const weft_spawn_opts *opts,
                weft_group *group, weft_future **future);

/* The task running on this thread, or NULL. */
task *weft__task_current(void);
weft_future *weft__task_future(task *t);
task *weft__task_of(weft_future *f);

/* Count one cancellation request on t (loop thread) and end its current
 * wait with -ECANCELED if that wait may be cut. */
void weft__task_cancel(task *t);

/* Whether t's waits are cut by cancellation now. */
static inline bool weft__task_cancel_active(const task *t)
{
    return t->cancels > 0 && t->shield == 0;
}

/* scope.c: a child of a group finished (loop thread, after its future
 * completed). */
void weft__group_child_done(task *t);

/* ---- file descriptors (backend) ----------------------------------------- */

/* poll(2) revents as WEFT_READABLE | WEFT_WRITABLE: an error or hang-up
 * counts as both (the next operation reports it). Both backends use it. */
static inline unsigned weft__poll_events(unsigned revents)
{
    unsigned got = 0;
    if (revents & (POLLERR | POLLHUP | POLLNVAL))
        got = WEFT_READABLE | WEFT_WRITABLE;
    if (revents & (POLLIN | POLLRDHUP))
        got |= WEFT_READABLE;
    if (revents & POLLOUT)
        got |= WEFT_WRITABLE;
    return got;
}

typedef struct fd_watch {
    bool registered;
    uint32_t ready;                /* WEFT_READABLE | WEFT_WRITABLE seen since cleared */
    weft__waiter *reader, *writer; /* the tasks waiting, at most one each */
} fd_watch;

/* ---- the loop ------------------------------------------------------------ */

typedef struct weft__backend weft__backend;

struct weft_loop {
    loop_core *core;
    weft_loop_opts opts;
    const char *name;
    bool running, ran_before;
    unsigned long owner; /* pthread_t of the thread that ran it first */
    task *current;
    task *ready_head, *ready_tail;
    task *all;                     /* live tasks (spawned and not finished) */
    uint64_t alive;                /* spawned here or taken in, not finished */
    _Atomic uint64_t alive_posted; /* spawned by other threads, not taken in */
    /* Timers. */
    weft__wheel timers;
    /* Backend. */
    const weft__backend *backend;
    void *uring; /* backend_uring.c's state */
    int epfd, wake_fd;
    fd_watch *fds;
    size_t fds_cap;
    size_t fd_waiters; /* tasks parked on I/O (fd waits, io_uring operations) */
    /* Finished tasks' coroutines (with their stacks) and records, kept for
     * the next spawns (loop.c, "Caches"). */
    weft_coro *coro_cache[64];
    size_t coro_cached;
    void *record_cache[1024];
    size_t records_cached;
    /* weft_to_thread's pool (created on first use) and work in flight. */
    weft_pool *to_thread;
    size_t to_thread_inflight;
    weft_loop_stats stats;
};

/* A backend: how the loop waits for file descriptors, the eventfd that
 * other threads write, and the next timer (backend_epoll.c,
 * backend_uring.c). The I/O operations are NULL for a readiness backend:
 * src/io/ops.c then tries the system call and waits with fd_wait on
 * EAGAIN; a completion backend (io_uring) does each operation itself. */
struct weft__backend {
    const char *name;
    int (*init)(weft_loop *loop, int wake_fd);
    void (*fini)(weft_loop *loop);
    /* Optional: on the thread that runs the loop, before it first runs. */
    int (*start)(weft_loop *loop);
    /* Wait up to timeout_ns (< 0: no limit, 0: just look) and deliver
     * what happened (wake the tasks). Returns 1 if the wake fd fired, 0,
     * or a negative error. */
    int (*poll)(weft_loop *loop, int64_t timeout_ns);
    /* weft_fd_wait; known_not_ready: the caller just got EAGAIN. */
    int (*fd_wait)(weft_loop *loop, int fd, unsigned events, int64_t deadline,
                   bool known_not_ready);
    void (*fd_forget)(weft_loop *loop, int fd);
    /* Completion backends only (see src/io/ops.h for each contract). */
    int (*read)(weft_loop *loop, int fd, void *buf, size_t n, int64_t off, int64_t deadline);
    int (*write)(weft_loop *loop, int fd, const void *buf, size_t n, int64_t off, int64_t deadline);
    int (*accept)(weft_loop *loop, int fd, void *sa, void *len, int64_t deadline);
    int (*connect)(weft_loop *loop, int fd, const void *sa, unsigned len, int64_t deadline);
    int (*recvmsg)(weft_loop *loop, int fd, void *msg, int64_t deadline);
    int (*sendmsg)(weft_loop *loop, int fd, const void *msg, int64_t deadline);
};

extern const weft__backend weft__backend_epoll;
#ifdef WEFT_HAVE_URING
extern const weft__backend weft__backend_uring;
#endif

/* weft_fd_wait for the net layer: known_not_ready (the caller just got
 * EAGAIN) skips the poll(2) check. */
int weft__fd_wait(int fd, unsigned events, int64_t deadline, bool known_not_ready);

#endif
