/* The event loop: tasks, the scheduler, timers and the cross-thread queue.
 * See include/weft/loop.h for the contract and src/io/loop_internal.h for
 * the structures.
 *
 * A task is a coroutine plus a weft_future, allocated together (the future
 * first, then the task record), freed when the future's last reference
 * goes. The loop holds one reference from spawn until the task finishes.
 *
 * Parking (src/sync/waiter.h, "Tasks"): while a task runs, the loop
 * installs park_ops on the thread, so every weft wait of the task parks
 * through task_park (suspend) and is woken through task_wake (make it
 * ready). Exactly one wake follows each claim of a task's waiter, so a
 * parked task is made ready exactly once per park.
 *
 * Caches: a loop keeps the coroutines of finished tasks (stack and all)
 * and the records of released ones, up to a few hundred, so a steady
 * stream of short tasks allocates nothing and takes no lock. A record
 * goes back to its loop's cache only when released on the loop's thread;
 * otherwise (a consumer dropping the last reference elsewhere, or after
 * the loop is gone) it is freed.
 *
 * Synchronization:
 * - Everything in weft_loop and task is the loop thread's, except:
 * - loop_core: `lock` guards `posted` (tasks to spawn or wake), `cancels`
 *   (tasks to cancel, each holding a future reference), `sleeping` and
 *   `closed`. A foreign thread pushes under the lock and writes the eventfd
 *   only if the loop said it was about to sleep (`sleeping`), so a busy
 *   loop gets no system call per wake. The loop sets `sleeping` under the
 *   lock only when both lists are empty, so a push either lands before
 *   (the loop sees it) or finds `sleeping` (and writes). A poster touches
 *   the core only under its lock, and the core is reference counted (each
 *   task record holds a reference), so it outlives every poster.
 * - loop.alive_posted: atomic, spawns posted by other threads and not yet
 *   taken in (then counted in alive, which is the loop thread's).
 * - The task's future is the only thing consumers share with the loop; its
 *   cancel hook (task_cancel_hook) runs on the cancelling thread and posts
 *   the task, with a future reference, to the core. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/time.h>

#include "coro/coro_internal.h"
#include "coro/stack.h"
#include "io/loop_internal.h"
#include "sched/future_internal.h"
#include "sync/lockdep.h"

struct loop_core {
    weft__lock lock;
    task *posted_head, *posted_tail;
    task *cancels;
    _Atomic bool has_posts; /* posted or cancels non-empty, readable without the lock */
    bool sleeping, closed;
    int efd;
    _Atomic uint32_t refs;
    weft_loop *loop;
};

static _Thread_local weft_loop *tls_loop;

/* ---- the core (shared with foreign threads) ----------------------------- */

static void core_unref(loop_core *c)
{
    /* acq_rel: the last unref sees every other holder's accesses. */
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        if (c->efd >= 0)
            close(c->efd);
        free(c);
    }
}

static void core_signal_locked(loop_core *c)
{
    if (c->sleeping) {
        c->sleeping = false;
        uint64_t one = 1;
        ssize_t n = write(c->efd, &one, sizeof one);
        (void)n; /* EAGAIN: the counter is already non-zero, the loop wakes */
    }
}

/* A foreign thread hands t to the loop (a spawn or a wake). */
static int core_post(loop_core *c, task *t)
{
    weft__lock_acquire(&c->lock);
    if (c->closed) {
        weft__lock_release(&c->lock);
        return -EPIPE;
    }
    /* A wake is a hint: one entry per task is enough, however many
     * (late) wakes come before the loop takes them in. */
    if (t->posted) {
        weft__lock_release(&c->lock);
        return 0;
    }
    t->posted = true;
    t->post_next = NULL;
    if (c->posted_tail)
        c->posted_tail->post_next = t;
    else
        c->posted_head = t;
    c->posted_tail = t;
    /* Release: a finished task's loop thread that sees the flag (acquire)
     * takes the post in under the lock. */
    atomic_store_explicit(&c->has_posts, true, memory_order_release);
    core_signal_locked(c);
    weft__lock_release(&c->lock);
    return 0;
}

/* ---- the task record ---------------------------------------------------- */

static size_t future_offset(void)
{
    /* Not cached in a static: a lazy cache is a data race between the
     * first callers. */
    return (weft__future_bytes + 63) & ~(size_t)63;
}

weft_future *weft__task_future(task *t)
{
    return (weft_future *)((char *)t - future_offset());
}

task *weft__task_of(weft_future *f)
{
    return (task *)((char *)f + future_offset());
}

static void task_release(weft_future *f)
{
    task *t = weft__task_of(f);
    loop_core *c = t->core;
    weft_loop *loop = tls_loop;
    /* On the loop's own thread the loop is alive (it is running): keep the
     * record. c->loop is only read, and only written under the loop's
     * destroy, which cannot run while the loop runs. */
    if (loop && loop->core == c && loop->running &&
        loop->records_cached < sizeof loop->record_cache / sizeof loop->record_cache[0]) {
        loop->record_cache[loop->records_cached++] = f; /* keeps its core reference */
        return;
    }
    free(f);
    core_unref(c);
}

task *weft__task_current(void)
{
    return tls_loop ? tls_loop->current : NULL;
}

/* ---- the ready queue ---------------------------------------------------- */

static void ready_push(weft_loop *loop, task *t)
{
    t->state = T_READY;
    t->next = NULL;
    if (loop->ready_tail)
        loop->ready_tail->next = t;
    else
        loop->ready_head = t;
    loop->ready_tail = t;
}

/* A wake or a spawn. A wake is a hint (src/sync/waiter.h, "Tasks"): only
 * a parked task is made ready, and it re-checks its waiter. A running task
 * sees the claim in its waiter's state; a ready one will run anyway; a
 * finished one (a late wake of a waiter it never parked on) ignores it. */
static void make_ready(weft_loop *loop, task *t)
{
    if (t->state == T_PARKED || t->state == T_NEW)
        ready_push(loop, t);
}

/* ---- parking (src/sync/waiter.h, "Tasks") ------------------------------- */

static void park_timeout(weft_loop *loop, weft__timer *tm)
{
    (void)loop;
    task *t = tm->ctx;
    if (t->waiter)
        weft__waiter_end(t->waiter, WEFT__WAITER_TIMEDOUT);
}

static void task_park(void *arg, weft__waiter *w, int64_t deadline)
{
    task *t = arg;
    weft_loop *loop = t->loop;
    t->waiter = w;
    if (deadline != WEFT_NEVER)
        weft__timer_arm(loop, &t->park_timer, deadline);
    /* Acquire pairs with the claim's CAS: what the waker published before
     * waking is visible once the state says so. */
    while (atomic_load_explicit(&w->state, memory_order_acquire) == WEFT__WAITER_WAITING) {
        /* Back from a late wake: a cancellation that came meanwhile ends
         * this wait (weft__task_cancel does so too; this is the re-check). */
        if (!w->nocancel && weft__task_cancel_active(t) &&
            weft__waiter_end(w, WEFT__WAITER_CANCELLED))
            break;
        t->state = T_PARKED;
        weft_coro_yield();
    }
    weft__timer_disarm(loop, &t->park_timer);
    t->waiter = NULL;
}

static void task_wake(void *arg)
{
    task *t = arg;
    weft_loop *loop = t->loop;
    if (tls_loop == loop) {
        make_ready(loop, t);
        return;
    }
    /* The task is parked until this wake arrives, so the loop is alive and
     * the task too; the core outlives the post (see Synchronization). */
    core_post(t->core, t);
}

static bool task_cancelled(void *arg)
{
    return weft__task_cancel_active(arg);
}

static void task_yield_op(void *arg)
{
    task *t = arg;
    ready_push(t->loop, t);
    weft_coro_yield();
}

static const weft__park_ops park_ops = {task_park, task_wake, task_cancelled, task_yield_op};

/* ---- cancellation -------------------------------------------------------- */

void weft__task_cancel(task *t)
{
    t->cancels++;
    /* Parked, or ready after a late wake while still parked on a waiter
     * (task_park re-checks and would suspend again): end the wait. */
    if (t->waiter && !t->waiter->nocancel && t->shield == 0)
        weft__waiter_end(t->waiter, WEFT__WAITER_CANCELLED);
}

/* weft_future_cancel() on a RUNNING task's future. */
static void task_cancel_hook(weft_future *f, void *ctx)
{
    task *t = ctx;
    if (tls_loop == t->loop) {
        weft__task_cancel(t);
        return;
    }
    loop_core *c = t->core;
    weft_future_ref(f); /* dropped by the loop, or here if it is closed */
    weft__lock_acquire(&c->lock);
    bool closed = c->closed;
    if (!closed) {
        t->cancel_next = c->cancels;
        c->cancels = t;
        /* Release: as in core_post. */
        atomic_store_explicit(&c->has_posts, true, memory_order_release);
        core_signal_locked(c);
    }
    weft__lock_release(&c->lock);
    if (closed)
        weft_future_unref(f);
}

/* ---- timers (io/timer.h) ------------------------------------------------ */

void weft__timer_arm(weft_loop *loop, weft__timer *t, int64_t deadline)
{
    weft__wheel_arm(&loop->timers, t, deadline);
    loop->stats.timers_armed++;
}

void weft__timer_disarm(weft_loop *loop, weft__timer *t)
{
    weft__wheel_disarm(&loop->timers, t);
}

/* Fire every timer whose deadline has passed, earliest first. */
static void fire_timers(weft_loop *loop)
{
    if (!loop->timers.armed)
        return;
    weft__wheel_expire(&loop->timers, weft_now());
    weft__timer *t;
    while ((t = weft__wheel_pop(&loop->timers))) {
        loop->stats.timers_fired++;
        t->fire(loop, t);
    }
}

/* ---- create / destroy ---------------------------------------------------- */

static _Atomic bool virtual_taken;

/* The backend the options (or WEFT_LOOP_BACKEND) ask for, io_uring falling
 * back to epoll under AUTO. */
static int choose_backend(weft_loop *loop, int wake_fd)
{
    weft_loop_backend want = loop->opts.backend;
    if (want == WEFT_BACKEND_AUTO) {
        const char *env = getenv("WEFT_LOOP_BACKEND");
        if (env && !strcmp(env, "epoll"))
            want = WEFT_BACKEND_EPOLL;
        else if (env && !strcmp(env, "io_uring"))
            want = WEFT_BACKEND_IO_URING;
    }
    if (want != WEFT_BACKEND_EPOLL) {
#ifdef WEFT_HAVE_URING
        loop->backend = &weft__backend_uring;
        int rc = loop->backend->init(loop, wake_fd);
        if (rc == 0 || want == WEFT_BACKEND_IO_URING)
            return rc;
#else
        if (want == WEFT_BACKEND_IO_URING)
            return -ENOSYS;
#endif
    }
    loop->backend = &weft__backend_epoll;
    return loop->backend->init(loop, wake_fd);
}

const char *weft_loop_backend_name(const weft_loop *loop)
{
    return loop && loop->backend ? loop->backend->name : NULL;
}

int weft_loop_create(weft_loop **out, const weft_loop_opts *opts)
{
    static const weft_loop_opts defaults = {0};
    if (!out)
        return -EINVAL;
    if (!opts)
        opts = &defaults;
    if (opts->virtual_time && atomic_exchange(&virtual_taken, true))
        return -EINVAL;
    int rc = -ENOMEM;
    weft_loop *loop = calloc(1, sizeof *loop);
    loop_core *c = calloc(1, sizeof *c);
    if (!loop || !c)
        goto fail;
    loop->opts = *opts;
    loop->name = opts->name ? opts->name : "loop";
    if (!loop->opts.stack_size)
        loop->opts.stack_size = WEFT_CORO_STACK_DEFAULT;
    if (!loop->opts.stall_ns)
        loop->opts.stall_ns = 100 * WEFT_MSEC;
    if (!loop->opts.to_thread_workers)
        loop->opts.to_thread_workers = 4;
    loop->epfd = -1;
    weft__lock_init(&c->lock);
    atomic_init(&c->refs, 1);
    c->loop = loop;
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0) {
        rc = -errno;
        goto fail;
    }
    loop->core = c;
    rc = choose_backend(loop, c->efd);
    if (rc < 0)
        goto fail;
    if (opts->virtual_time && (rc = weft_clock_use_virtual(WEFT_SEC)) < 0) {
        loop->backend->fini(loop);
        goto fail;
    }
    weft__wheel_init(&loop->timers, weft_now()); /* on the clock chosen above */
    *out = loop;
    return 0;
fail:
    if (c && c->efd >= 0 && loop && loop->core)
        close(c->efd);
    free(c);
    free(loop);
    if (opts->virtual_time)
        atomic_store(&virtual_taken, false);
    return rc;
}

/* Process the cancel list handed over by the core: each holds a future
 * reference. */
static void run_cancels(task *list)
{
    while (list) {
        task *t = list;
        list = t->cancel_next;
        if (t->state != T_DONE)
            weft__task_cancel(t);
        weft_future_unref(weft__task_future(t));
    }
}

int weft_loop_destroy(weft_loop *loop)
{
    if (!loop)
        return 0;
    if (loop->running || loop->alive || atomic_load(&loop->alive_posted))
        return -EBUSY;
    loop_core *c = loop->core;
    weft__lock_acquire(&c->lock);
    c->closed = true;
    c->sleeping = false;
    task *cancels = c->cancels;
    c->cancels = NULL;
    c->loop = NULL;
    weft__lock_release(&c->lock);
    run_cancels(cancels); /* only finished tasks can be left: drop the refs */
    if (loop->to_thread)
        weft_pool_destroy(loop->to_thread);
    for (size_t i = 0; i < loop->coro_cached; i++)
        weft_coro_destroy(loop->coro_cache[i]);
    for (size_t i = 0; i < loop->records_cached; i++) {
        free(loop->record_cache[i]);
        core_unref(c); /* each cached record's */
    }
    loop->backend->fini(loop);
    free(loop->fds);
    if (loop->opts.virtual_time) {
        weft_clock_use_real();
        atomic_store(&virtual_taken, false);
    }
    free(loop);
    core_unref(c);
    return 0;
}

/* ---- spawn ---------------------------------------------------------------- */

static void all_link(weft_loop *loop, task *t)
{
    t->all_prev = NULL;
    t->all_next = loop->all;
    if (loop->all)
        loop->all->all_prev = t;
    loop->all = t;
}

static void all_unlink(weft_loop *loop, task *t)
{
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        loop->all = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
}

/* memset(t, 0, sizeof *t), in pieces: gcc makes a memset of more than 64
 * bytes a `rep stos`, whose start-up cost was a tenth of a spawn+finish
 * here; 64-byte pieces become vector stores. */
static void zero_task(task *t)
{
    char *p = (char *)t;
    size_t n = sizeof *t;
    for (; n >= 64; p += 64, n -= 64)
        memset(p, 0, 64);
    memset(p, 0, n);
}

int weft__spawn(weft_loop *loop, weft_task_fn *fn, void *arg, const weft_spawn_opts *opts,
                weft_group *group, weft_future **future)
{
    if (!loop)
        loop = tls_loop;
    if (!loop || !fn)
        return -EINVAL;
    size_t stack = opts && opts->stack_size ? opts->stack_size : loop->opts.stack_size;
    if (stack < WEFT_CORO_STACK_MIN || stack > WEFT_CORO_STACK_MAX)
        return -EINVAL;
    size_t off = future_offset();
    bool here = tls_loop == loop;
    /* A cached record still holds its reference on the core. */
    bool cached = here && loop->records_cached;
    weft_future *f =
        cached ? loop->record_cache[--loop->records_cached] : malloc(off + sizeof(task));
    if (!f)
        return -ENOMEM;
    /* One reference for the loop, one for the caller's *future. */
    weft__future_init(f, future ? 2 : 1, task_release);
    task *t = weft__task_of(f);
    zero_task(t);
    t->loop = loop;
    t->core = loop->core;
    t->fn = fn;
    t->arg = arg;
    t->name = opts && opts->name ? opts->name : "task";
    t->stack_size = stack;
    t->fp_env = opts && opts->fp_env;
    t->state = T_NEW;
    t->group = group;
    weft__timer_init(&t->park_timer, park_timeout, t);
    weft__future_set_cancel_hook(f, task_cancel_hook, t);
    if (!cached)
        atomic_fetch_add_explicit(&t->core->refs, 1, memory_order_relaxed);
    if (future)
        *future = f;
    if (here) {
        loop->alive++;
        all_link(loop, t);
        loop->stats.tasks_spawned++;
        ready_push(loop, t);
        return 0;
    }
    atomic_fetch_add_explicit(&loop->alive_posted, 1, memory_order_relaxed);
    int rc = core_post(loop->core, t);
    if (rc < 0) {
        atomic_fetch_sub_explicit(&loop->alive_posted, 1, memory_order_relaxed);
        if (future)
            *future = NULL;
        free(f); /* never shared: no reference to honour */
        core_unref(t->core);
        return rc;
    }
    return 0;
}

int weft_spawn(weft_loop *loop, weft_task_fn *fn, void *arg, const weft_spawn_opts *opts,
               weft_future **future)
{
    return weft__spawn(loop, fn, arg, opts, NULL, future);
}

/* ---- running tasks --------------------------------------------------------- */

static void task_main(void *arg)
{
    task *t = arg;
    t->rc = t->fn(t->arg, &t->result);
}

/* A coroutine for t: a cached one of the same stack size, or a new one. */
static int take_coro(weft_loop *loop, task *t)
{
    size_t want = weft__stack_round(t->stack_size);
    for (size_t i = loop->coro_cached; i-- > 0;) {
        weft_coro *c = loop->coro_cache[i];
        if (weft_coro_stack_size(c) != want)
            continue;
        loop->coro_cache[i] = loop->coro_cache[--loop->coro_cached];
        weft__coro_recycle(c, task_main, t, t->name, t->fp_env);
        t->coro = c;
        return 0;
    }
    weft_coro_opts co = {.stack_size = t->stack_size, .name = t->name, .fp_env = t->fp_env};
    return weft_coro_create(&t->coro, task_main, t, &co);
}

/* t's coroutine has finished: keep it for the next task, or free it. */
static void drop_coro(weft_loop *loop, weft_coro *c)
{
    if (loop->coro_cached < sizeof loop->coro_cache / sizeof loop->coro_cache[0])
        loop->coro_cache[loop->coro_cached++] = c;
    else
        weft_coro_destroy(c);
}

static int64_t coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * WEFT_SEC + ts.tv_nsec;
}

static void drain_core(weft_loop *loop);

static void finish_task(weft_loop *loop, task *t, int rc)
{
    weft_future *f = weft__task_future(t);
    t->state = T_DONE;
    if (t->coro) {
        drop_coro(loop, t->coro);
        t->coro = NULL;
    }
    free(t->lockdep);
    t->lockdep = NULL;
    all_unlink(loop, t);
    if (rc > 0)
        rc = -EINVAL;
    t->rc = rc; /* what the group sees, also for a task that never started */
    /* Completing wakes the waiters (some may be tasks of this loop) and
     * runs callbacks, here on the loop's thread, outside any task. A
     * task cancelled before it started was completed by the cancel. */
    weft_future_complete(f, t->result, rc);
    if (t->group)
        weft__group_child_done(t);
    loop->stats.tasks_finished++;
    loop->alive--;
    /* A late wake of this task may be posted (src/sync/waiter.h, "Tasks"):
     * take it in while the record is still alive. */
    if (atomic_load_explicit(&loop->core->has_posts, memory_order_acquire))
        drain_core(loop);
    weft_future_unref(f); /* the loop's reference */
}

static void stall_report(weft_loop *loop, task *t, int64_t ran)
{
    loop->stats.stalls++;
    if (loop->opts.on_stall) {
        loop->opts.on_stall(loop->opts.stall_arg, t->name, ran);
        return;
    }
    fprintf(stderr,
            "weft: task \"%s\" of loop \"%s\" ran %.1f ms without suspending: a blocking "
            "call in a coroutine? (use weft/net.h, weft_sleep_until or weft_to_thread)\n",
            t->name, loop->name, (double)ran / 1e6);
}

static void run_task(weft_loop *loop, task *t)
{
    if (!t->coro) {
        if (weft_future_start(weft__task_future(t)) == -ECANCELED) {
            finish_task(loop, t, -ECANCELED); /* cancelled before it ran */
            return;
        }
        int rc = take_coro(loop, t);
        if (rc < 0) {
            t->coro = NULL;
            finish_task(loop, t, rc);
            return;
        }
    }
    if (weft__lockdep_active() && !t->lockdep)
        t->lockdep = calloc(1, weft__lockdep_stack_size()); /* NULL: the thread's */
    loop->current = t;
    t->state = T_RUNNING;
    weft__park_ops_set(&park_ops, t);
    if (t->lockdep)
        weft__lockdep_use_stack(t->lockdep);
    int64_t t0 = loop->opts.stall_ns > 0 ? coarse_now() : 0;
    weft__coro_resume_owned(t->coro);
    if (t->lockdep)
        weft__lockdep_use_stack(NULL);
    weft__park_ops_set(NULL, NULL);
    loop->current = NULL;
    loop->stats.switches++;
    if (loop->opts.stall_ns > 0) {
        int64_t ran = coarse_now() - t0;
        if (ran > loop->stats.longest_run_ns)
            loop->stats.longest_run_ns = ran;
        if (ran > loop->opts.stall_ns)
            stall_report(loop, t, ran);
    }
    if (weft_coro_done(t->coro))
        finish_task(loop, t, t->rc);
}

/* Take what foreign threads handed over. */
static void drain_core(weft_loop *loop)
{
    loop_core *c = loop->core;
    /* Nothing posted: no lock. Acquire pairs with the posters' release;
     * a post that lands right after is taken in next round (the loop does
     * not sleep without core_may_sleep's look under the lock). */
    if (!atomic_load_explicit(&c->has_posts, memory_order_acquire))
        return;
    weft__lock_acquire(&c->lock);
    /* The posted list is walked under the lock: a poster may re-post a
     * task as soon as its flag is clear. make_ready takes no lock. */
    uint64_t spawned = 0;
    for (task *t = c->posted_head; t; t = t->post_next) {
        t->posted = false;
        if (t->state == T_NEW) {
            all_link(loop, t);
            loop->stats.tasks_spawned++;
            spawned++;
        } else {
            loop->stats.remote_wakes++;
        }
        make_ready(loop, t);
    }
    c->posted_head = c->posted_tail = NULL;
    atomic_store_explicit(&c->has_posts, false, memory_order_relaxed);
    /* Counted as ours before they leave the posted count: finished() never
     * sees both at zero in between. */
    loop->alive += spawned;
    if (spawned)
        atomic_fetch_sub_explicit(&loop->alive_posted, spawned, memory_order_relaxed);
    task *cancels = c->cancels;
    c->cancels = NULL;
    weft__lock_release(&c->lock);
    run_cancels(cancels);
}

/* Before sleeping: tell posters to signal, unless something is there. */
static bool core_may_sleep(loop_core *c)
{
    weft__lock_acquire(&c->lock);
    /* has_posts also carries nudges (until_done) that post nothing. */
    bool empty = !c->posted_head && !c->cancels &&
                 !atomic_load_explicit(&c->has_posts, memory_order_relaxed);
    c->sleeping = empty;
    weft__lock_release(&c->lock);
    return empty;
}

static void core_awake(loop_core *c)
{
    weft__lock_acquire(&c->lock);
    c->sleeping = false;
    weft__lock_release(&c->lock);
}

static bool finished(weft_loop *loop, weft_future *until)
{
    if (until)
        return weft_future_get_state(until) >= WEFT_FUTURE_DONE;
    return loop->alive == 0 && atomic_load_explicit(&loop->alive_posted, memory_order_relaxed) == 0;
}

/* Nothing is ready: wait for I/O, a post, or the next timer; on virtual
 * time, jump to the next timer instead when nothing else can happen. */
static void idle(weft_loop *loop)
{
    int64_t timeout = -1, next = weft__wheel_next(&loop->timers);
    if (next != WEFT_NEVER) {
        timeout = next - weft_now();
        if (timeout < 0)
            timeout = 0;
    }
    if (loop->opts.virtual_time && timeout > 0) {
        /* Let I/O and posts that are already there in first. */
        loop->stats.polls++;
        if (loop->backend->poll(loop, 0) != 0 || loop->ready_head)
            return;
        /* Something posted: take it in before time may move. */
        if (atomic_load_explicit(&loop->core->has_posts, memory_order_acquire))
            return;
        if (loop->to_thread_inflight == 0) {
            weft_clock_advance(timeout);
            return;
        }
        timeout = -1; /* a pool thread is working: wait for it */
    }
    if (timeout != 0 && !core_may_sleep(loop->core)) {
        core_awake(loop->core);
        return;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    loop->stats.polls++;
    loop->backend->poll(loop, timeout);
    clock_gettime(CLOCK_MONOTONIC, &b);
    loop->stats.poll_ns += (b.tv_sec - a.tv_sec) * WEFT_SEC + (b.tv_nsec - a.tv_nsec);
    if (timeout != 0)
        core_awake(loop->core);
}

/* `until` finished, maybe on another thread: make sure the loop looks. */
static void until_done(weft_future *f, void *arg)
{
    (void)f;
    loop_core *c = arg;
    weft__lock_acquire(&c->lock);
    atomic_store_explicit(&c->has_posts, true, memory_order_release);
    if (!c->closed)
        core_signal_locked(c);
    weft__lock_release(&c->lock);
    core_unref(c);
}

int weft_loop_run(weft_loop *loop, weft_future *until)
{
    if (!loop)
        return -EINVAL;
    if (loop->running || tls_loop)
        return -EBUSY;
    unsigned long self = (unsigned long)pthread_self();
    if (loop->ran_before && loop->owner != self)
        return -EBUSY;
    if (!loop->ran_before && loop->backend->start) {
        int rc = loop->backend->start(loop);
        if (rc < 0)
            return rc;
    }
    loop->ran_before = true;
    loop->owner = self;
    /* A future completed by another thread (a pool task, another loop)
     * wakes nobody here: its callback does. The callback holds a core
     * reference: it may run after this call returned. */
    if (until) {
        atomic_fetch_add_explicit(&loop->core->refs, 1, memory_order_relaxed);
        if (weft_future_on_done(until, until_done, loop->core) < 0)
            core_unref(loop->core); /* already terminal (or no memory: we poll) */
    }
    loop->running = true;
    tls_loop = loop;
    for (;;) {
        drain_core(loop);
        fire_timers(loop);
        if (finished(loop, until) && !loop->ready_head)
            break;
        loop->stats.iterations++;
        if (!loop->ready_head) {
            if (finished(loop, until))
                break;
            idle(loop);
            continue;
        }
        if (loop->fd_waiters) {
            loop->stats.polls++;
            loop->backend->poll(loop, 0); /* I/O keeps its turn under load */
        }
        /* Run the tasks ready now; those they make ready run next round,
         * after timers and I/O had their turn. */
        task *batch = loop->ready_head;
        loop->ready_head = loop->ready_tail = NULL;
        while (batch) {
            task *t = batch;
            batch = t->next;
            run_task(loop, t);
        }
    }
    tls_loop = NULL;
    loop->running = false;
    return 0;
}

/* ---- weft_run --------------------------------------------------------------- */

int weft_run(weft_task_fn *fn, void *arg, const weft_loop_opts *opts, weft_value *result)
{
    if (tls_loop)
        return -EBUSY;
    weft_loop *loop;
    int rc = weft_loop_create(&loop, opts);
    if (rc < 0)
        return rc;
    weft_future *main_f;
    weft_spawn_opts so = {.name = "main"};
    rc = weft_spawn(loop, fn, arg, &so, &main_f);
    if (rc < 0) {
        weft_loop_destroy(loop);
        return rc;
    }
    weft_loop_run(loop, main_f);
    /* asyncio.run: cancel what is left, and let it finish. */
    for (task *t = loop->all; t; t = t->all_next)
        weft_future_cancel(weft__task_future(t));
    weft_loop_run(loop, NULL);
    rc = weft_future_result(main_f, WEFT_NOW, result);
    weft_future_unref(main_f);
    weft_loop_destroy(loop);
    return rc;
}

/* ---- in a task ----------------------------------------------------------------- */

weft_loop *weft_loop_current(void)
{
    return tls_loop;
}

weft_future *weft_task_current(void)
{
    task *t = weft__task_current();
    return t ? weft__task_future(t) : NULL;
}

const char *weft_task_name(void)
{
    task *t = weft__task_current();
    return t ? t->name : NULL;
}

int weft_task_yield(void)
{
    task *t = weft__task_current();
    if (!t)
        return -EPERM;
    ready_push(t->loop, t);
    weft_coro_yield();
    return weft__task_cancel_active(t) ? -ECANCELED : 0;
}

int weft_sleep_until(int64_t deadline)
{
    task *t = weft__task_current();
    if (!t)
        return -EPERM;
    if (deadline != WEFT_NEVER && weft_deadline_passed(deadline))
        return weft_task_yield();
    weft__waiter w;
    weft__waiter_init(&w);
    int rc = weft__waiter_park(&w, deadline);
    return rc == -ETIMEDOUT ? 0 : rc;
}

int weft_sleep_for(int64_t ns)
{
    return weft_sleep_until(weft_deadline_in(ns));
}

bool weft_task_cancelled(void)
{
    task *t = weft__task_current();
    return t && t->cancels > 0;
}

/* ---- metrics ------------------------------------------------------------------- */

int weft_loop_stats_get(const weft_loop *loop, weft_loop_stats *out)
{
    if (!loop || !out)
        return -EINVAL;
    *out = loop->stats;
    out->tasks_alive = loop->alive + atomic_load_explicit(&((weft_loop *)loop)->alive_posted,
                                                          memory_order_relaxed);
    uint64_t ready = 0;
    for (const task *t = loop->ready_head; t; t = t->next)
        ready++;
    out->ready = ready;
    return 0;
}

int weft_loop_report(const weft_loop *loop, weft_report *r, const char *prefix)
{
    weft_loop_stats s;
    int rc = weft_loop_stats_get(loop, &s);
    if (rc < 0)
        return rc;
    char name[128];
    const struct {
        const char *n;
        uint64_t v;
    } rows[] = {
        {"tasks_spawned", s.tasks_spawned},
        {"tasks_finished", s.tasks_finished},
        {"tasks_alive", s.tasks_alive},
        {"ready", s.ready},
        {"iterations", s.iterations},
        {"switches", s.switches},
        {"polls", s.polls},
        {"timers_armed", s.timers_armed},
        {"timers_fired", s.timers_fired},
        {"remote_wakes", s.remote_wakes},
        {"stalls", s.stalls},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix ? prefix : "loop", rows[i].n);
        rc = weft_report_add_counter(r, name, rows[i].v);
        if (rc < 0)
            return rc;
    }
    snprintf(name, sizeof name, "%s.poll_time", prefix ? prefix : "loop");
    rc = weft_report_add_gauge(r, name, (double)s.poll_ns / 1e6, "ms");
    if (rc < 0)
        return rc;
    snprintf(name, sizeof name, "%s.longest_run", prefix ? prefix : "loop");
    return weft_report_add_gauge(r, name, (double)s.longest_run_ns / 1e6, "ms");
}
