/* The process pool, parent side: see weft/procpool.h for the contract and
 * procpool_internal.h for the shared memory. procpool_worker.c is the
 * other side.
 *
 * Slots (the request ring; positions grow forever, slot = pos % nslots):
 *   Submit (any thread; several at once):
 *     1. pos = tail; if slot(pos) is (pos, EMPTY), CAS tail to pos + 1 to
 *        own it; if it still holds the lap before (pos - nslots, in use),
 *        the ring is full: wait for room (room_lock/room_cond) until the
 *        deadline.
 *     2. Record the task in inflight[pos % nslots] (release), fill the
 *        slot, store (pos, FULL) with release: a worker that sees FULL sees
 *        the slot's fields.
 *     3. seq_cst fence, then if workers sleep, bump req_seq and wake one
 *        (Dekker with the worker's sleepers++ then re-check).
 *   Claim (a worker, procpool_worker.c): CAS the slot at head from
 *     (pos, FULL) to (pos, WORKER + w), then move head on. A slot taken by
 *     someone else, or head a lap behind, only moves head on.
 *   Finish (the collector thread only): once the task's result is in (or
 *     it failed, or was taken back), store (pos + nslots, EMPTY): the slot
 *     is free for the next lap; then wake room waiters if any.
 *   Take back (the collector): a task that waits (FULL) and is cancelled
 *     or past its deadline is CASed from FULL to PARENT: whichever of that
 *     CAS and a worker's claim wins decides who has it.
 *
 * Worker death (the zygote reports EXITED; the collector handles it):
 *   1. Collect every response the worker published before dying.
 *   2. Every slot still tagged WORKER + w is a task it took and did not
 *      finish: retry it (a new position) if it has killed fewer than
 *      max_crashes workers, else fail it with WEFT_EWORKER_DIED and the
 *      cause.
 *   3. Reset the worker's area and ask the zygote for a replacement.
 *
 * Shutdown: the steps of weft/procpool.h, in weft_procpool_shutdown().
 *
 * Synchronization: `tail` and the slots (atomics, as above); inflight[]
 * (atomic pointers: release by the submitter, acquire by the collector);
 * a record's fields are written by its submitter before step 2 and then
 * only by the collector; `core` is reference counted by the records so a
 * cancel hook can always reach the collector's eventfd; counters are
 * relaxed atomics. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/procpool.h>
#include <weft/sync.h>

#include "sched/future_internal.h"
#include "sched/procpool_internal.h"
#include "sync/futex.h"

extern char **environ;

/* What outlives the pool for the records' sake: the collector's eventfd
 * and the cancel flag, so a cancel hook never touches a freed pool. */
typedef struct proc_core {
    _Atomic uint32_t refs;
    int ctl_fd;
    _Atomic bool cancel_pending;
} proc_core;

enum end_kind { END_NONE, END_DONE, END_FAILED, END_DIED, END_TIMEOUT, END_CANCELLED };

typedef struct proc_task {
    proc_core *core;     /* a reference, dropped with the record */
    uint64_t ticket;
    uint64_t pos;
    uint32_t task;
    uint32_t flags; /* PROC_SLOT_* */
    uint32_t item_size;
    uint32_t crashes;
    int64_t deadline;
    int64_t submitted_at;
    int64_t arena_off; /* -1: the argument is inline */
    size_t arg_len;
    unsigned char arg[PROC_SLOT_INLINE];
    _Atomic bool cancel_requested;
    struct proc_task *retry_next;
    /* The outcome. */
    void *data;
    size_t len;
    size_t map_len; /* data is an mmap of this many bytes (a result memfd) */
    enum end_kind end;
    int err;
    int signal, exit_status; /* of the last worker that died running it */
    int pid;
} proc_task;

typedef struct proc_worker {
    int sock;  /* parent's end of the worker's socket (result memfds) */
    int pidfd; /* from the zygote */
    int pid;
    bool killed_for_timeout;
    int64_t respawn_at; /* the zygote could not fork it: try again then (0: no) */
} proc_worker;

struct weft_procpool {
    char name[32];
    unsigned nworkers;
    uint32_t nslots;
    unsigned max_crashes;
    proc_shared *sh;
    size_t map_len;
    int memfd, efd, epfd, zsock;
    pid_t zpid;
    proc_core *core;
    proc_arena *arena;
    const weft_proc_task *table;
    size_t table_count;
    _Atomic(proc_task *) *inflight;
    proc_worker *workers;
    pthread_t collector;
    bool collector_started;
    _Atomic uint64_t tail;
    _Atomic uint64_t next_ticket;
    /* Room: submitters waiting for a free slot or arena space. */
    weft_mutex room_lock;
    weft_cond room_cond;
    _Atomic uint32_t room_waiters;
    /* In flight, and shutdown waiting for it to drain. */
    _Atomic uint64_t in_flight;
    weft_mutex idle_lock;
    weft_cond idle_cond;
    _Atomic bool closed;
    _Atomic int shutdown_mode; /* -1: none yet */
    _Atomic bool shutdown_called;
    _Atomic bool stop_collector;
    bool terminating; /* collector: workers are being killed, no respawn */
    /* Deadlines: the earliest among tasks in flight (WEFT_NEVER: none). */
    _Atomic int64_t earliest;
    proc_task *retry; /* collector only: tasks to send again */
    bool broken;      /* the zygote is gone */
    weft_histogram *latency;
    struct {
        _Atomic uint64_t submitted, completed, failed, cancelled, timed_out, rejected, retried;
        _Atomic uint64_t restarts, died_signal, died_exit, killed_timeout, recycled, init_failed;
    } m;
};

static void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- records --------------------------------------------------------------------- */

static size_t future_offset(void)
{
    /* Not cached in a static: a lazy cache is a data race between the
     * first callers. */
    return (weft__future_bytes + 63) & ~(size_t)63;
}

static proc_task *task_of(weft_future *f)
{
    return (proc_task *)((char *)f + future_offset());
}

static weft_future *future_of(proc_task *t)
{
    return (weft_future *)((char *)t - future_offset());
}

static void core_unref(proc_core *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        close(c->ctl_fd);
        free(c);
    }
}

static void core_kick(proc_core *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->ctl_fd, &one, sizeof one);
    (void)n;
}

static void task_release(weft_future *f)
{
    proc_task *t = task_of(f);
    if (t->map_len)
        munmap(t->data, t->map_len);
    else
        free(t->data);
    core_unref(t->core);
    free(f);
}

/* A cancel on a RUNNING (submitted) future: the collector takes the task
 * back if no worker has it yet. Runs on the cancelling thread, which holds
 * a reference: the record and its core are alive. */
static void task_cancel_hook(weft_future *f, void *ctx)
{
    (void)f;
    proc_task *t = ctx;
    atomic_store_explicit(&t->cancel_requested, true, memory_order_relaxed);
    atomic_store_explicit(&t->core->cancel_pending, true, memory_order_release);
    core_kick(t->core);
}

/* ---- slots --------------------------------------------------------------------------- */

static void wake_workers(weft_procpool *p)
{
    /* Submit step 3. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&p->sh->sleepers, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&p->sh->req_seq, 1, memory_order_release);
        weft__futex_wake_shared(&p->sh->req_seq, 1);
    }
}

/* Submit step 1 without waiting: 0 and *pos, or -EAGAIN (full). */
static int try_claim_tail(weft_procpool *p, uint64_t *pos_out)
{
    for (;;) {
        uint64_t pos = atomic_load_explicit(&p->tail, memory_order_relaxed);
        /* Seq_cst pairs with the collector's seq_cst free (room). */
        uint64_t st = atomic_load_explicit(&proc_slot_at(p->sh, pos)->state, memory_order_seq_cst);
        if (st == PROC_STATE(pos, PROC_TAG_EMPTY)) {
            if (atomic_compare_exchange_weak_explicit(&p->tail, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                *pos_out = pos;
                return 0;
            }
            continue;
        }
        if (PROC_STATE_POS(st) < pos)
            return -EAGAIN; /* the lap before still holds it */
        /* Filled for pos already: another submitter moved tail; reload. */
    }
}

/* Submit step 2. */
static void publish(weft_procpool *p, proc_task *t, uint64_t pos)
{
    t->pos = pos;
    atomic_store_explicit(&p->inflight[pos & (p->nslots - 1)], t, memory_order_release);
    proc_slot *s = proc_slot_at(p->sh, pos);
    s->ticket = t->ticket;
    s->task = t->task;
    s->flags = t->flags;
    s->item_size = t->item_size;
    s->arg_len = t->arg_len;
    if (t->arena_off >= 0) {
        s->flags |= PROC_SLOT_ARENA;
        s->arg_off = p->sh->arena_off + (uint64_t)t->arena_off;
    } else {
        s->arg_off = 0;
        if (t->arg_len)
            memcpy(s->arg, t->arg, t->arg_len);
    }
    atomic_store_explicit(&s->state, PROC_STATE(pos, PROC_TAG_FULL), memory_order_release);
    wake_workers(p);
}

/* Wait until the ring (or the arena) may have room, the pool closes, or
 * the deadline passes: one wait, the caller tries again. Returns 0 to try
 * again, -EPIPE, -ETIMEDOUT. */
static int wait_room(weft_procpool *p, int64_t deadline, bool (*ready)(weft_procpool *))
{
    weft_mutex_lock(&p->room_lock);
    /* Seq_cst: pairs with the collector's free, then load of
     * room_waiters (finish step). */
    atomic_fetch_add_explicit(&p->room_waiters, 1, memory_order_seq_cst);
    int rc = 0;
    if (atomic_load_explicit(&p->closed, memory_order_seq_cst))
        rc = -EPIPE;
    else if (!ready(p) && weft_cond_wait(&p->room_cond, &p->room_lock, deadline) == -ETIMEDOUT &&
             !ready(p))
        rc = -ETIMEDOUT;
    atomic_fetch_sub_explicit(&p->room_waiters, 1, memory_order_relaxed);
    weft_mutex_unlock(&p->room_lock);
    if (rc == 0 && atomic_load_explicit(&p->closed, memory_order_acquire))
        rc = -EPIPE;
    return rc;
}

static bool ring_has_room(weft_procpool *p)
{
    uint64_t pos = atomic_load_explicit(&p->tail, memory_order_relaxed);
    uint64_t st = atomic_load_explicit(&proc_slot_at(p->sh, pos)->state, memory_order_seq_cst);
    return PROC_STATE_POS(st) >= pos;
}

static bool arena_may_have_room(weft_procpool *p)
{
    (void)p;
    return false; /* woken by every finish: the caller tries again then */
}

static void wake_room(weft_procpool *p)
{
    if (atomic_load_explicit(&p->room_waiters, memory_order_seq_cst)) {
        weft_mutex_lock(&p->room_lock);
        weft_cond_broadcast(&p->room_cond);
        weft_mutex_unlock(&p->room_lock);
    }
}

/* ---- finishing (collector) ------------------------------------------------------------ */

static void in_flight_done(weft_procpool *p);

static void note_deadline(weft_procpool *p, int64_t deadline)
{
    if (deadline == WEFT_NEVER)
        return;
    int64_t cur = atomic_load_explicit(&p->earliest, memory_order_relaxed);
    while ((cur == WEFT_NEVER || deadline < cur) &&
           !atomic_compare_exchange_weak_explicit(&p->earliest, &cur, deadline,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Free t's slot (if it has one) and argument, complete its future, drop
 * the pool's reference. value: the result's first bytes. */
static void finish(weft_procpool *p, proc_task *t, enum end_kind end, int err, bool free_slot)
{
    /* The record may be freed once its future is released: nothing may
     * find it through inflight[] after this (a worker's death scan then
     * frees a slot whose task is gone). */
    _Atomic(proc_task *) *where = &p->inflight[t->pos & (p->nslots - 1)];
    if (atomic_load_explicit(where, memory_order_relaxed) == t)
        atomic_store_explicit(where, NULL, memory_order_relaxed);
    if (free_slot) {
        proc_slot *s = proc_slot_at(p->sh, t->pos);
        /* Finish step: the slot is free for the next lap. An exchange, not
         * a store: its acquire half pairs with the submitter's release of
         * FULL, so the next lap's writes to the slot's fields come after
         * this lap's even for tools that cannot see the worker process in
         * between (ThreadSanitizer). */
        atomic_exchange_explicit(&s->state, PROC_STATE(t->pos + p->nslots, PROC_TAG_EMPTY),
                                 memory_order_seq_cst);
    }
    if (t->arena_off >= 0) {
        weft__proc_arena_free(p->arena, t->arena_off);
        t->arena_off = -1;
    }
    t->end = end;
    t->err = err;
    weft_value v = {0};
    if (end == END_DONE && t->len)
        memcpy(v.bytes, t->data, t->len < sizeof v.bytes ? t->len : sizeof v.bytes);
    switch (end) {
    case END_DONE:
        count(&p->m.completed);
        break;
    case END_CANCELLED:
        count(&p->m.cancelled);
        break;
    case END_TIMEOUT:
        count(&p->m.timed_out);
        count(&p->m.failed);
        break;
    default:
        count(&p->m.failed);
        break;
    }
    weft_histogram_record(p->latency, weft_now() - t->submitted_at);
    weft_future *f = future_of(t);
    weft_future_complete(f, v, end == END_DONE ? 0 : end == END_CANCELLED ? -ECANCELED : err);
    weft_future_unref(f);
    /* After the completion: a shutdown waiting for the last task sees it
     * complete. */
    in_flight_done(p);
    wake_room(p);
}

/* ---- responses (collector) --------------------------------------------------------------- */

static void take_response(weft_procpool *p, unsigned w, const proc_resp *r)
{
    proc_task *t =
        atomic_load_explicit(&p->inflight[r->pos & (p->nslots - 1)], memory_order_acquire);
    int fd = -1;
    if (r->flags & PROC_RESP_FD) {
        proc_msg m;
        int nfds = 0;
        if (weft__proc_recv(p->workers[w].sock, &m, &fd, 1, &nfds, false) < 0 || nfds != 1)
            fd = -1;
    }
    if (!t || t->pos != r->pos || t->ticket != r->ticket || t->end != END_NONE) {
        /* Taken back or timed out meanwhile: the result is dropped. */
        if (fd >= 0)
            close(fd);
        return;
    }
    int err = r->err;
    /* The record and the memfd come from a process that runs arbitrary
     * code: a length they cannot hold is refused, never read past (an
     * mmap beyond a memfd's end would fault here on access). */
    struct stat st;
    if (err == 0 && r->len &&
        ((r->flags & PROC_RESP_FD) ? fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size < r->len
                                   : r->len > r->size - sizeof *r))
        err = -EPROTO;
    if (err == 0 && r->len) {
        if (r->flags & PROC_RESP_FD) {
            void *m = mmap(NULL, r->len, PROT_READ, MAP_SHARED, fd, 0);
            if (m == MAP_FAILED) {
                err = -ENOMEM;
            } else {
                t->data = m;
                t->map_len = r->len;
                t->len = r->len;
            }
        } else {
            t->data = malloc(r->len);
            if (!t->data) {
                err = -ENOMEM;
            } else {
                memcpy(t->data, r + 1, r->len);
                t->len = r->len;
            }
        }
    }
    if (fd >= 0)
        close(fd);
    finish(p, t, err == 0 ? END_DONE : err == -ECANCELED ? END_CANCELLED : END_FAILED, err, true);
}

/* Collect what worker w has published. Returns whether there was any. */
static bool drain(weft_procpool *p, unsigned w)
{
    proc_worker_area *a = proc_worker_at(p->sh, w);
    uint64_t head = atomic_load_explicit(&a->resp_head, memory_order_relaxed);
    /* Acquire pairs with the worker's release of resp_tail. */
    uint64_t tail = atomic_load_explicit(&a->resp_tail, memory_order_acquire);
    if (head == tail)
        return false;
    unsigned char *ring = proc_resp_ring(a);
    while (head < tail) {
        size_t at = (size_t)(head % PROC_RESP_RING);
        if (PROC_RESP_RING - at < sizeof(proc_resp)) {
            head += PROC_RESP_RING - at; /* too short for a header: skipped */
            continue;
        }
        const proc_resp *r = (const proc_resp *)(ring + at);
        if (r->size < sizeof *r || r->size > PROC_RESP_RING)
            break; /* a torn record of a dead worker: drop the rest */
        if (!(r->flags & PROC_RESP_PAD))
            take_response(p, w, r);
        head += r->size;
    }
    head = tail;
    /* Release pairs with the worker's acquire in resp_reserve. */
    atomic_store_explicit(&a->resp_head, head, memory_order_seq_cst);
    if (atomic_load_explicit(&a->room_waiting, memory_order_seq_cst)) {
        atomic_store_explicit(&a->room_waiting, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->room_seq, 1, memory_order_release);
        weft__futex_wake_shared(&a->room_seq, 1);
    }
    return true;
}

/* ---- workers (collector, and create) ------------------------------------------------------- */

static int request_worker(weft_procpool *p, unsigned w)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    proc_worker_area *a = proc_worker_at(p->sh, w);
    atomic_store_explicit(&a->state, PROC_W_STARTING, memory_order_relaxed);
    atomic_store_explicit(&a->init_err, 0, memory_order_relaxed);
    atomic_store_explicit(&a->room_waiting, 0, memory_order_relaxed);
    proc_msg m = {.type = PROC_MSG_SPAWN, .worker = w};
    int rc = weft__proc_send(p->zsock, &m, &sv[1], 1);
    close(sv[1]);
    if (rc < 0) {
        close(sv[0]);
        return rc;
    }
    p->workers[w].sock = sv[0];
    return 0;
}

static int pidfd_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static void kill_worker(weft_procpool *p, unsigned w)
{
    if (p->workers[w].pidfd >= 0)
        pidfd_signal(p->workers[w].pidfd, SIGKILL);
}

static void send_retries(weft_procpool *p)
{
    while (p->retry) {
        uint64_t pos;
        if (try_claim_tail(p, &pos) < 0)
            return; /* full: again once a slot frees */
        proc_task *t = p->retry;
        p->retry = t->retry_next;
        count(&p->m.retried);
        publish(p, t, pos);
    }
}

/* Worker death, steps 1-3 (see the top of the file). */
static void worker_died(weft_procpool *p, unsigned w, int pid, int status)
{
    proc_worker *pw = &p->workers[w];
    if (pw->pid != pid)
        return;
    proc_worker_area *a = proc_worker_at(p->sh, w);
    /* Step 1. */
    drain(p, w);
    int state = (int)atomic_load_explicit(&a->state, memory_order_acquire);
    bool signalled = WIFSIGNALED(status);
    int sig = signalled ? WTERMSIG(status) : 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    count(&p->m.restarts);
    if (pw->killed_for_timeout)
        count(&p->m.killed_timeout);
    else if (state == PROC_W_RECYCLED)
        count(&p->m.recycled);
    else if (state == PROC_W_INIT_FAILED)
        count(&p->m.init_failed);
    else if (signalled)
        count(&p->m.died_signal);
    else
        count(&p->m.died_exit);
    /* Step 2. */
    for (uint32_t i = 0; i < p->nslots; i++) {
        proc_slot *s = (proc_slot *)((char *)p->sh + p->sh->slots_off) + i;
        uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (PROC_STATE_TAG(st) != PROC_TAG_WORKER + w)
            continue;
        uint64_t pos = PROC_STATE_POS(st);
        proc_task *t = atomic_load_explicit(&p->inflight[i], memory_order_acquire);
        if (!t || t->pos != pos || t->end != END_NONE) {
            atomic_store_explicit(&s->state, PROC_STATE(pos + p->nslots, PROC_TAG_EMPTY),
                                  memory_order_seq_cst);
            continue;
        }
        t->signal = sig;
        t->exit_status = code;
        t->pid = pid;
        t->crashes++;
        if (!p->terminating && t->crashes < p->max_crashes &&
            !atomic_load_explicit(&t->cancel_requested, memory_order_relaxed)) {
            atomic_store_explicit(&p->inflight[i], NULL, memory_order_relaxed);
            atomic_store_explicit(&s->state, PROC_STATE(pos + p->nslots, PROC_TAG_EMPTY),
                                  memory_order_seq_cst);
            t->retry_next = p->retry;
            p->retry = t;
            wake_room(p);
        } else if (p->terminating) {
            finish(p, t, END_CANCELLED, -ECANCELED, true);
        } else {
            finish(p, t, END_DIED, WEFT_EWORKER_DIED, true);
        }
    }
    /* Step 3. */
    if (pw->sock >= 0)
        close(pw->sock);
    if (pw->pidfd >= 0)
        close(pw->pidfd);
    pw->sock = pw->pidfd = -1;
    pw->pid = 0;
    pw->killed_for_timeout = false;
    atomic_store_explicit(&a->resp_head, atomic_load(&a->resp_tail), memory_order_relaxed);
    if (!p->terminating && !atomic_load_explicit(&p->sh->closing, memory_order_relaxed) &&
        request_worker(p, w) < 0)
        p->broken = true;
    send_retries(p);
}

/* Messages from the zygote. Returns whether there were any. */
static bool zygote_messages(weft_procpool *p)
{
    bool any = false;
    for (;;) {
        proc_msg m;
        int fd = -1, nfds = 0;
        int rc = weft__proc_recv(p->zsock, &m, &fd, 1, &nfds, false);
        if (rc == -EAGAIN)
            return any;
        any = true;
        if (rc < 0) {
            p->broken = true; /* the zygote is gone: no more workers */
            return any;
        }
        if (m.worker >= p->nworkers) {
            if (nfds)
                close(fd);
            continue;
        }
        proc_worker *pw = &p->workers[m.worker];
        if (m.type == PROC_MSG_SPAWNED) {
            if (m.pid > 0) {
                pw->pid = m.pid;
                pw->pidfd = nfds ? fd : -1;
            } else {
                /* fork failed (a process limit, memory): try again soon. */
                if (nfds)
                    close(fd);
                if (pw->sock >= 0)
                    close(pw->sock);
                pw->sock = -1;
                pw->respawn_at = weft_deadline_in(100 * WEFT_MSEC);
            }
        } else if (m.type == PROC_MSG_EXITED) {
            worker_died(p, m.worker, m.pid, m.status);
        } else if (nfds) {
            close(fd);
        }
    }
}

/* ---- deadlines and cancels (collector) --------------------------------------------------- */

/* Take back a waiting task: true if no worker had it. */
static bool take_back(weft_procpool *p, proc_task *t)
{
    proc_slot *s = proc_slot_at(p->sh, t->pos);
    uint64_t st = PROC_STATE(t->pos, PROC_TAG_FULL);
    return atomic_compare_exchange_strong_explicit(&s->state, &st,
                                                   PROC_STATE(t->pos, PROC_TAG_PARENT),
                                                   memory_order_acq_rel, memory_order_acquire);
}

static void check_tasks(weft_procpool *p, bool cancels, bool deadlines, int mode)
{
    int64_t now = weft_now(), earliest = WEFT_NEVER;
    for (uint32_t i = 0; i < p->nslots; i++) {
        proc_task *t = atomic_load_explicit(&p->inflight[i], memory_order_acquire);
        if (!t || t->end != END_NONE)
            continue;
        bool cancel = mode >= WEFT_PROCPOOL_CANCEL_PENDING ||
                      (cancels && atomic_load_explicit(&t->cancel_requested, memory_order_relaxed));
        bool late = deadlines && t->deadline != WEFT_NEVER && t->deadline <= now;
        if ((cancel || late) && take_back(p, t)) {
            finish(p, t, late ? END_TIMEOUT : END_CANCELLED, late ? -ETIMEDOUT : -ECANCELED, true);
            continue;
        }
        if (late) {
            /* A worker runs it: kill that worker; its death frees the slot. */
            uint64_t st = atomic_load_explicit(&proc_slot_at(p->sh, t->pos)->state,
                                               memory_order_acquire);
            unsigned tag = PROC_STATE_TAG(st);
            if (tag >= PROC_TAG_WORKER && tag - PROC_TAG_WORKER < p->nworkers) {
                unsigned w = tag - PROC_TAG_WORKER;
                p->workers[w].killed_for_timeout = true;
                kill_worker(p, w);
            }
            finish(p, t, END_TIMEOUT, -ETIMEDOUT, false);
            continue;
        }
        if (t->deadline != WEFT_NEVER && (earliest == WEFT_NEVER || t->deadline < earliest))
            earliest = t->deadline;
    }
    /* Tasks waiting to be sent again. */
    for (proc_task **link = &p->retry; *link;) {
        proc_task *t = *link;
        bool cancel = mode >= WEFT_PROCPOOL_CANCEL_PENDING ||
                      atomic_load_explicit(&t->cancel_requested, memory_order_relaxed);
        bool late = t->deadline != WEFT_NEVER && t->deadline <= now;
        if (cancel || late) {
            *link = t->retry_next;
            finish(p, t, late ? END_TIMEOUT : END_CANCELLED, late ? -ETIMEDOUT : -ECANCELED, false);
            continue;
        }
        if (t->deadline != WEFT_NEVER && (earliest == WEFT_NEVER || t->deadline < earliest))
            earliest = t->deadline;
        link = &t->retry_next;
    }
    if (deadlines)
        atomic_store_explicit(&p->earliest, earliest, memory_order_relaxed);
}

/* ---- the collector thread ----------------------------------------------------------------- */

static bool any_response(weft_procpool *p)
{
    for (unsigned w = 0; w < p->nworkers; w++) {
        proc_worker_area *a = proc_worker_at(p->sh, w);
        if (atomic_load_explicit(&a->resp_tail, memory_order_seq_cst) !=
            atomic_load_explicit(&a->resp_head, memory_order_relaxed))
            return true;
    }
    return false;
}

/* Sleep until a worker or a submitter wakes us, the earliest deadline, or
 * at most max_ms (-1: no limit). */
static void collector_sleep(weft_procpool *p, int max_ms)
{
    /* Dekker with resp_publish: flag, then look at every ring. */
    atomic_store_explicit(&p->sh->collector_sleeping, 1, memory_order_seq_cst);
    if (!any_response(p)) {
        int timeout = -1;
        int64_t e = atomic_load_explicit(&p->earliest, memory_order_relaxed);
        if (e != WEFT_NEVER) {
            int64_t ms = (e - weft_now() + WEFT_MSEC - 1) / WEFT_MSEC;
            timeout = ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
        }
        if (max_ms >= 0 && (timeout < 0 || timeout > max_ms))
            timeout = max_ms;
        struct epoll_event ev[4];
        int n = epoll_wait(p->epfd, ev, 4, timeout);
        for (int i = 0; i < n; i++) {
            if (ev[i].data.fd == p->efd || ev[i].data.fd == p->core->ctl_fd) {
                uint64_t v;
                ssize_t r = read(ev[i].data.fd, &v, sizeof v);
                (void)r;
            }
        }
    }
    atomic_store_explicit(&p->sh->collector_sleeping, 0, memory_order_relaxed);
}

static void *collector_main(void *arg)
{
    weft_procpool *p = arg;
    int killed_mode = -1;
    for (;;) {
        bool busy = false;
        for (unsigned w = 0; w < p->nworkers; w++)
            busy |= drain(p, w);
        busy |= zygote_messages(p);
        int mode = atomic_load_explicit(&p->shutdown_mode, memory_order_acquire);
        bool cancels = atomic_exchange_explicit(&p->core->cancel_pending, false,
                                                memory_order_acquire);
        int64_t e = atomic_load_explicit(&p->earliest, memory_order_relaxed);
        bool deadlines = e != WEFT_NEVER && e <= weft_now();
        if (cancels || deadlines || (mode >= WEFT_PROCPOOL_CANCEL_PENDING && mode != killed_mode))
            check_tasks(p, cancels, deadlines, mode);
        if (mode == WEFT_PROCPOOL_TERMINATE && killed_mode != mode) {
            p->terminating = true;
            for (unsigned w = 0; w < p->nworkers; w++)
                kill_worker(p, w);
        }
        if (mode >= WEFT_PROCPOOL_CANCEL_PENDING)
            killed_mode = mode;
        if (p->retry)
            send_retries(p);
        bool respawning = false;
        for (unsigned w = 0; w < p->nworkers; w++) {
            proc_worker *pw = &p->workers[w];
            if (!pw->respawn_at)
                continue;
            respawning = true;
            if (weft_deadline_passed(pw->respawn_at) && !p->terminating) {
                pw->respawn_at = 0;
                if (request_worker(p, w) < 0)
                    p->broken = true;
            }
        }
        if (p->broken) {
            /* No zygote: nothing will run any more. Refuse new work, fail
             * what is left (again each round: a submit racing with the
             * close may still land). */
            atomic_store_explicit(&p->closed, true, memory_order_seq_cst);
            wake_room(p);
            p->terminating = true;
            for (uint32_t i = 0; i < p->nslots; i++) {
                proc_task *t = atomic_load_explicit(&p->inflight[i], memory_order_acquire);
                if (t && t->end == END_NONE)
                    finish(p, t, END_DIED, WEFT_EWORKER_DIED, true);
            }
            while (p->retry) {
                proc_task *t = p->retry;
                p->retry = t->retry_next;
                finish(p, t, END_DIED, WEFT_EWORKER_DIED, false);
            }
        }
        if (atomic_load_explicit(&p->stop_collector, memory_order_acquire))
            return NULL;
        if (!busy)
            collector_sleep(p, p->broken ? 10 : respawning ? 100 : -1);
    }
}

/* ---- create ---------------------------------------------------------------------------------- */

static size_t round_pow2(size_t n)
{
    size_t r = 1;
    while (r < n)
        r <<= 1;
    return r;
}

static unsigned cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static int spawn_zygote(weft_procpool *p)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    size_t nenv = 0;
    while (environ && environ[nenv])
        nenv++;
    char **env = calloc(nenv + 2, sizeof *env);
    if (!env) {
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], PROC_ZYGOTE_ENV "=", sizeof PROC_ZYGOTE_ENV) != 0)
            env[k++] = environ[i];
    env[k++] = PROC_ZYGOTE_ENV "=3";
    env[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* The zygote's end becomes its fd 3, without close-on-exec. */
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    /* Every signal at its default and none blocked, whatever the caller
     * did to its own (an ignored SIGCHLD would have the kernel reap the
     * workers before the zygote could report how they died). */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"weft-procpool-zygote", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return -rc;
    }
    p->zsock = sv[0];
    p->zpid = pid;
    return 0;
}

/* Receive one zygote message, waiting up to the deadline. */
static int recv_until(weft_procpool *p, proc_msg *m, int *fd, int64_t deadline)
{
    for (;;) {
        int nfds = 0;
        int rc = weft__proc_recv(p->zsock, m, fd, 1, &nfds, false);
        if (rc != -EAGAIN) {
            if (rc == 0 && nfds == 0)
                *fd = -1;
            return rc;
        }
        int64_t left = deadline - weft_now();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pf = {.fd = p->zsock, .events = POLLIN};
        poll(&pf, 1, (int)(left / WEFT_MSEC) + 1);
    }
}

/* Start every worker and wait until each is ready (or failed). */
static int start_workers(weft_procpool *p)
{
    for (unsigned w = 0; w < p->nworkers; w++) {
        int rc = request_worker(p, w);
        if (rc < 0)
            return rc;
    }
    int64_t deadline = weft_deadline_in(60 * WEFT_SEC);
    unsigned ready = 0;
    while (ready < p->nworkers) {
        proc_msg m;
        int fd = -1;
        int rc = recv_until(p, &m, &fd, deadline);
        if (rc < 0)
            return rc == -ETIMEDOUT ? -EAGAIN : rc == -EPIPE ? WEFT_EWORKER_DIED : rc;
        if (m.worker >= p->nworkers) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        proc_worker *pw = &p->workers[m.worker];
        if (m.type == PROC_MSG_SPAWNED) {
            if (m.pid <= 0)
                return m.status < 0 ? m.status : -EAGAIN;
            pw->pid = m.pid;
            pw->pidfd = fd;
            ready++;
            continue;
        }
        if (fd >= 0)
            close(fd);
        if (m.type != PROC_MSG_EXITED)
            continue;
        proc_worker_area *a = proc_worker_at(p->sh, m.worker);
        if (atomic_load_explicit(&a->state, memory_order_acquire) == PROC_W_INIT_FAILED)
            return atomic_load_explicit(&a->init_err, memory_order_relaxed);
        return WEFT_EWORKER_DIED;
    }
    /* Spawned: now wait for each to say READY (or INIT_FAILED). */
    for (unsigned w = 0; w < p->nworkers; w++) {
        proc_worker_area *a = proc_worker_at(p->sh, w);
        for (;;) {
            uint32_t st = atomic_load_explicit(&a->state, memory_order_acquire);
            if (st == PROC_W_READY)
                break;
            if (st == PROC_W_INIT_FAILED)
                return atomic_load_explicit(&a->init_err, memory_order_relaxed);
            if (weft_deadline_passed(deadline))
                return -EAGAIN;
            /* A worker that dies before READY never wakes us: poll the
             * zygote's socket between short waits. */
            weft__futex_wait_shared(&a->state, st, weft_deadline_in(10 * WEFT_MSEC));
            struct pollfd pf = {.fd = p->zsock, .events = POLLIN};
            if (poll(&pf, 1, 0) > 0) {
                proc_msg m;
                int fd = -1;
                if (recv_until(p, &m, &fd, deadline) == 0) {
                    if (fd >= 0)
                        close(fd);
                    if (m.type == PROC_MSG_EXITED) {
                        proc_worker_area *d = proc_worker_at(p->sh, m.worker);
                        if (atomic_load_explicit(&d->state, memory_order_acquire) ==
                            PROC_W_INIT_FAILED)
                            return atomic_load_explicit(&d->init_err, memory_order_relaxed);
                        return WEFT_EWORKER_DIED;
                    }
                }
            }
        }
    }
    return 0;
}

static void teardown(weft_procpool *p);

int weft_procpool_create(weft_procpool **out, const weft_procpool_opts *opts)
{
    static const weft_procpool_opts defaults = {0};
    if (!out)
        return -EINVAL;
    if (!opts)
        opts = &defaults;
    if ((opts->init_len && !opts->init) || (opts->init_len && !opts->init_arg) ||
        opts->workers > PROC_WORKERS_MAX)
        return -EINVAL;
    if (getenv(PROC_ZYGOTE_ENV))
        return -EPROTO; /* a zygote that did not boot: never start another */
    size_t count;
    const weft_proc_task *table = weft__proc_table(&count);
    if (!table || count == 0)
        return -ENOENT;
    if (opts->init && (opts->init < table || opts->init >= table + count))
        return -EINVAL;
    weft_procpool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->memfd = p->efd = p->epfd = p->zsock = -1;
    snprintf(p->name, sizeof p->name, "%s", opts->name ? opts->name : "weft-procpool");
    p->table = table;
    p->table_count = count;
    p->nworkers = opts->workers ? opts->workers : cpus();
    p->nslots = (uint32_t)round_pow2(opts->max_in_flight ? opts->max_in_flight : 1024);
    if (p->nslots < 2)
        p->nslots = 2;
    p->max_crashes = opts->max_crashes > 1 ? opts->max_crashes : 1;
    atomic_init(&p->earliest, WEFT_NEVER);
    atomic_init(&p->shutdown_mode, -1);
    weft_mutex_init(&p->room_lock, "procpool.room");
    weft_cond_init(&p->room_cond);
    weft_mutex_init(&p->idle_lock, "procpool.idle");
    weft_cond_init(&p->idle_cond);
    int rc = -ENOMEM;
    p->inflight = calloc(p->nslots, sizeof *p->inflight);
    p->workers = calloc(p->nworkers, sizeof *p->workers);
    p->core = calloc(1, sizeof *p->core);
    if (!p->inflight || !p->workers || !p->core)
        goto fail;
    for (unsigned w = 0; w < p->nworkers; w++)
        p->workers[w].sock = p->workers[w].pidfd = -1;
    atomic_init(&p->core->refs, 1);
    p->core->ctl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->core->ctl_fd < 0) {
        rc = -errno;
        free(p->core);
        p->core = NULL;
        goto fail;
    }
    if ((rc = weft_histogram_create(&p->latency, NULL)) < 0)
        goto fail;
    /* The shared memory. */
    size_t arena = round_pow2(opts->arena_size ? opts->arena_size : (size_t)256 << 20);
    if (arena < 4096)
        arena = 4096;
    size_t page = 4096;
    size_t header = (sizeof(proc_shared) + page - 1) & ~(page - 1);
    size_t slots = (size_t)p->nslots * sizeof(proc_slot);
    size_t stride = (sizeof(proc_worker_area) + PROC_RESP_RING + page - 1) & ~(page - 1);
    size_t workers_off = (header + slots + page - 1) & ~(page - 1);
    size_t arena_off = workers_off + stride * p->nworkers;
    p->map_len = arena_off + arena;
    p->memfd = memfd_create("weft-procpool", MFD_CLOEXEC);
    if (p->memfd < 0 || ftruncate(p->memfd, (off_t)p->map_len) < 0) {
        rc = -errno;
        goto fail;
    }
    p->sh = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->memfd, 0);
    if (p->sh == MAP_FAILED) {
        rc = -errno;
        p->sh = NULL;
        goto fail;
    }
    proc_shared *sh = p->sh;
    sh->nslots = p->nslots;
    sh->nworkers = p->nworkers;
    sh->slots_off = header;
    sh->workers_off = workers_off;
    sh->worker_stride = stride;
    sh->arena_off = arena_off;
    sh->arena_size = arena;
    sh->max_tasks_per_child = opts->max_tasks_per_child;
    for (uint32_t i = 0; i < p->nslots; i++)
        atomic_init(&((proc_slot *)((char *)sh + header) + i)->state,
                    PROC_STATE(i, PROC_TAG_EMPTY));
    sh->magic = PROC_MAGIC;
    if ((rc = weft__proc_arena_create(&p->arena, arena)) < 0)
        goto fail;
    weft__proc_arena_attach(p->arena, (char *)sh + arena_off);
    /* The initializer's argument, in the arena for the workers' lives. */
    uint64_t init_off = 0;
    if (opts->init_len) {
        int64_t off = weft__proc_arena_alloc(p->arena, opts->init_len);
        if (off < 0) {
            rc = (int)off;
            goto fail;
        }
        memcpy((char *)sh + arena_off + off, opts->init_arg, opts->init_len);
        init_off = arena_off + (uint64_t)off;
    }
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        rc = -errno;
        goto fail;
    }
    /* The zygote: HELLO, then SETUP. */
    if ((rc = spawn_zygote(p)) < 0)
        goto fail;
    proc_msg m;
    int fd = -1;
    rc = recv_until(p, &m, &fd, weft_deadline_in(30 * WEFT_SEC));
    if (fd >= 0)
        close(fd);
    if (rc < 0 || m.type != PROC_MSG_HELLO || m.a != count || m.b != weft__proc_table_hash()) {
        rc = rc < 0 && rc != -EPIPE ? rc : -EPROTO;
        goto fail;
    }
    proc_msg setup = {.type = PROC_MSG_SETUP,
                      .a = opts->init ? (uint64_t)(opts->init - table) + 1 : 0,
                      .b = init_off,
                      .c = opts->init_len};
    int fds[2] = {p->memfd, p->efd};
    if ((rc = weft__proc_send(p->zsock, &setup, fds, 2)) < 0)
        goto fail;
    if ((rc = start_workers(p)) < 0)
        goto fail;
    /* The collector. */
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        rc = -errno;
        goto fail;
    }
    int watch[3] = {p->efd, p->core->ctl_fd, p->zsock};
    for (int i = 0; i < 3; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = watch[i]};
        if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, watch[i], &ev) < 0) {
            rc = -errno;
            goto fail;
        }
    }
    if ((rc = -pthread_create(&p->collector, NULL, collector_main, p)) < 0)
        goto fail;
    p->collector_started = true;
    *out = p;
    return 0;
fail:
    teardown(p);
    return rc;
}

/* ---- submit --------------------------------------------------------------------------------- */

static int task_index(weft_procpool *p, const weft_proc_task *task, uint32_t *out)
{
    if (task < p->table || task >= p->table + p->table_count)
        return -EINVAL;
    *out = (uint32_t)(task - p->table);
    return 0;
}

/* A record for one task (or map chunk), its argument copied. */
static int make_task(weft_procpool *p, uint32_t index, const void *arg, size_t len, int refs,
                     int64_t deadline, proc_task **out)
{
    size_t off = future_offset();
    weft_future *f = malloc(off + sizeof(proc_task));
    if (!f)
        return -ENOMEM;
    proc_task *t = task_of(f);
    memset(t, 0, sizeof *t);
    t->task = index;
    t->deadline = deadline;
    t->arena_off = -1;
    t->arg_len = len;
    if (len > PROC_SLOT_INLINE) {
        for (;;) {
            int64_t a = weft__proc_arena_alloc(p->arena, len);
            if (a >= 0) {
                t->arena_off = a;
                break;
            }
            if (a != -ENOMEM || deadline == WEFT_NOW) {
                free(f);
                return a == -ENOMEM ? -EAGAIN : (int)a;
            }
            /* The arena is full of arguments in flight: wait for some. */
            int rc = wait_room(p, deadline, arena_may_have_room);
            if (rc < 0) {
                free(f);
                return rc;
            }
        }
        memcpy((char *)p->sh + p->sh->arena_off + t->arena_off, arg, len);
    } else if (len) {
        memcpy(t->arg, arg, len);
    }
    weft__future_init(f, (uint32_t)refs, task_release);
    atomic_fetch_add_explicit(&p->core->refs, 1, memory_order_relaxed);
    t->core = p->core;
    weft__future_set_cancel_hook(f, task_cancel_hook, t);
    *out = t;
    return 0;
}

/* A task that never reached the ring: cancel it and drop every reference
 * (nobody else has seen it). */
static void drop_unsent(weft_procpool *p, proc_task *t, int refs)
{
    if (t->arena_off >= 0)
        weft__proc_arena_free(p->arena, t->arena_off);
    t->arena_off = -1;
    weft_future *f = future_of(t);
    weft_future_cancel(f);
    while (refs-- > 0)
        weft_future_unref(f);
}

static void in_flight_done(weft_procpool *p)
{
    if (atomic_fetch_sub_explicit(&p->in_flight, 1, memory_order_acq_rel) == 1) {
        weft_mutex_lock(&p->idle_lock);
        weft_cond_broadcast(&p->idle_cond);
        weft_mutex_unlock(&p->idle_lock);
    }
}

/* Put a made task into the ring, waiting for room until its deadline. */
static int send_task(weft_procpool *p, proc_task *t, int64_t deadline)
{
    /* Counted before the closed check (both seq_cst, as shutdown's store
     * of closed and its reads of in_flight): a shutdown that saw no task
     * in flight cannot miss this one, and this one sees closed. */
    atomic_fetch_add_explicit(&p->in_flight, 1, memory_order_seq_cst);
    uint64_t pos;
    for (;;) {
        int rc = atomic_load_explicit(&p->closed, memory_order_seq_cst) ? -EPIPE
                                                                        : try_claim_tail(p, &pos);
        if (rc == 0)
            break;
        if (rc == -EAGAIN && deadline != WEFT_NOW)
            rc = wait_room(p, deadline, ring_has_room);
        if (rc < 0) {
            in_flight_done(p);
            return rc;
        }
    }
    t->ticket = atomic_fetch_add_explicit(&p->next_ticket, 1, memory_order_relaxed) + 1;
    t->submitted_at = weft_now();
    weft_future_start(future_of(t));
    count(&p->m.submitted);
    if (t->deadline != WEFT_NEVER) {
        int64_t before = atomic_load_explicit(&p->earliest, memory_order_relaxed);
        note_deadline(p, t->deadline);
        if (before == WEFT_NEVER || t->deadline < before)
            core_kick(p->core); /* the collector sleeps until the earliest */
    }
    publish(p, t, pos);
    return 0;
}

int weft_procpool_submit(weft_procpool *pool, const weft_proc_task *task, const void *arg,
                         size_t len, int64_t deadline, weft_future **future)
{
    uint32_t index;
    if (!pool || !task || (!arg && len) || task_index(pool, task, &index) < 0)
        return -EINVAL;
    if (atomic_load_explicit(&pool->closed, memory_order_acquire)) {
        count(&pool->m.rejected);
        return -EPIPE;
    }
    /* One reference for the pool (dropped when the task finishes), one
     * for the caller's *future. */
    int refs = future ? 2 : 1;
    proc_task *t;
    int rc = make_task(pool, index, arg, len, refs, deadline, &t);
    if (rc == 0 && (rc = send_task(pool, t, deadline)) < 0)
        drop_unsent(pool, t, refs);
    if (rc < 0) {
        count(&pool->m.rejected);
        return rc;
    }
    if (future)
        *future = future_of(t);
    return 0;
}

/* ---- results ------------------------------------------------------------------------------- */

int weft_procpool_result(weft_future *f, const void **data, size_t *len)
{
    if (!weft__future_released_by(f, task_release))
        return -EINVAL;
    int err = weft_future_error(f);
    if (err < 0)
        return err;
    proc_task *t = task_of(f);
    if (data)
        *data = t->data;
    if (len)
        *len = t->len;
    return 0;
}

static const char *signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {{SIGSEGV, "SIGSEGV"}, {SIGKILL, "SIGKILL"}, {SIGABRT, "SIGABRT"},
                 {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},
                 {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},   {SIGPIPE, "SIGPIPE"},
                 {SIGHUP, "SIGHUP"},   {SIGXCPU, "SIGXCPU"}, {SIGUSR1, "SIGUSR1"},
                 {SIGUSR2, "SIGUSR2"}, {SIGTRAP, "SIGTRAP"}, {SIGSYS, "SIGSYS"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    return NULL;
}

int weft_procpool_describe(weft_future *f, char *buf, size_t len)
{
    if (!weft__future_released_by(f, task_release) || (!buf && len))
        return -EINVAL;
    if (weft_future_error(f) == -EAGAIN)
        return -EAGAIN;
    proc_task *t = task_of(f);
    char retried[48] = "";
    if (t->crashes > 1)
        snprintf(retried, sizeof retried, " (retried %u time%s)", t->crashes - 1,
                 t->crashes > 2 ? "s" : "");
    switch (t->end) {
    case END_DONE:
        snprintf(buf, len, "done");
        break;
    case END_CANCELLED:
        snprintf(buf, len, "cancelled");
        break;
    case END_TIMEOUT:
        snprintf(buf, len, "timed out%s", t->pid ? " (its worker was killed)" : "");
        break;
    case END_DIED:
        if (t->signal) {
            const char *name = signal_name(t->signal);
            if (name)
                snprintf(buf, len, "worker %d killed by %s%s", t->pid, name, retried);
            else
                snprintf(buf, len, "worker %d killed by signal %d%s", t->pid, t->signal, retried);
        } else if (t->pid) {
            snprintf(buf, len, "worker %d exited with status %d%s", t->pid, t->exit_status,
                     retried);
        } else {
            snprintf(buf, len, "the pool's zygote process died");
        }
        break;
    default:
        snprintf(buf, len, "failed: %s", weft_strerror(t->err));
        break;
    }
    return 0;
}

int weft_procpool_task_signal(weft_future *f)
{
    if (!weft__future_released_by(f, task_release) || weft_future_error(f) == -EAGAIN)
        return 0;
    return task_of(f)->signal;
}

/* ---- shutdown and destroy ------------------------------------------------------------------- */

/* Stop the collector, close the zygote's socket (it kills and reaps the
 * workers, then exits), reap the zygote, free everything. */
static void teardown(weft_procpool *p)
{
    if (p->collector_started) {
        atomic_store_explicit(&p->stop_collector, true, memory_order_release);
        core_kick(p->core);
        pthread_join(p->collector, NULL);
    }
    if (p->sh) {
        atomic_store_explicit(&p->sh->closing, 1, memory_order_seq_cst);
        atomic_fetch_add_explicit(&p->sh->req_seq, 1, memory_order_release);
        weft__futex_wake_shared(&p->sh->req_seq, INT32_MAX);
    }
    if (p->zsock >= 0)
        close(p->zsock);
    if (p->zpid > 0) {
        while (waitpid(p->zpid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    for (unsigned w = 0; p->workers && w < p->nworkers; w++) {
        if (p->workers[w].sock >= 0)
            close(p->workers[w].sock);
        if (p->workers[w].pidfd >= 0)
            close(p->workers[w].pidfd);
    }
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->efd >= 0)
        close(p->efd);
    if (p->sh)
        munmap(p->sh, p->map_len);
    if (p->memfd >= 0)
        close(p->memfd);
    weft__proc_arena_destroy(p->arena);
    weft_histogram_destroy(p->latency);
    if (p->core)
        core_unref(p->core);
    free(p->inflight);
    free(p->workers);
    weft_mutex_destroy(&p->room_lock);
    weft_cond_destroy(&p->room_cond);
    weft_mutex_destroy(&p->idle_lock);
    weft_cond_destroy(&p->idle_cond);
    free(p);
}

static int wait_idle(weft_procpool *p, int64_t deadline)
{
    int rc = 0;
    weft_mutex_lock(&p->idle_lock);
    while (atomic_load_explicit(&p->in_flight, memory_order_acquire) > 0) {
        if (weft_cond_wait(&p->idle_cond, &p->idle_lock, deadline) == -ETIMEDOUT &&
            atomic_load_explicit(&p->in_flight, memory_order_acquire) > 0) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    weft_mutex_unlock(&p->idle_lock);
    return rc;
}

int weft_procpool_shutdown(weft_procpool *pool, weft_procpool_shutdown_mode mode,
                           int64_t deadline)
{
    if (!pool || (mode != WEFT_PROCPOOL_WAIT && mode != WEFT_PROCPOOL_CANCEL_PENDING &&
                  mode != WEFT_PROCPOOL_TERMINATE))
        return -EINVAL;
    if (atomic_exchange_explicit(&pool->shutdown_called, true, memory_order_acq_rel))
        return -EALREADY;
    /* Step 1 (seq_cst: pairs with send_task's count-then-check). */
    atomic_store_explicit(&pool->closed, true, memory_order_seq_cst);
    weft_mutex_lock(&pool->room_lock);
    weft_cond_broadcast(&pool->room_cond);
    weft_mutex_unlock(&pool->room_lock);
    /* Step 2. */
    atomic_store_explicit(&pool->shutdown_mode, (int)mode, memory_order_release);
    core_kick(pool->core);
    /* Step 3. */
    int rc = wait_idle(pool, deadline);
    if (rc == -ETIMEDOUT) {
        atomic_store_explicit(&pool->shutdown_mode, WEFT_PROCPOOL_TERMINATE, memory_order_release);
        core_kick(pool->core);
        wait_idle(pool, WEFT_NEVER);
    }
    /* Step 4: the workers leave an empty ring; the zygote goes with the
     * socket (teardown, at destroy). Stop the collector now so that the
     * processes are gone when this returns. */
    atomic_store_explicit(&pool->stop_collector, true, memory_order_release);
    core_kick(pool->core);
    pthread_join(pool->collector, NULL);
    pool->collector_started = false;
    atomic_store_explicit(&pool->sh->closing, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&pool->sh->req_seq, 1, memory_order_release);
    weft__futex_wake_shared(&pool->sh->req_seq, INT32_MAX);
    close(pool->zsock);
    pool->zsock = -1;
    while (waitpid(pool->zpid, NULL, 0) < 0 && errno == EINTR)
        ;
    pool->zpid = 0;
    return rc;
}

void weft_procpool_destroy(weft_procpool *pool)
{
    if (!pool)
        return;
    if (!atomic_load_explicit(&pool->shutdown_called, memory_order_acquire))
        weft_procpool_shutdown(pool, WEFT_PROCPOOL_WAIT, WEFT_NEVER);
    teardown(pool);
}

/* ---- metrics ----------------------------------------------------------------------------------- */

static uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

int weft_procpool_metrics_get(weft_procpool *pool, weft_procpool_metrics *out)
{
    if (!pool || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->workers = pool->nworkers;
    out->submitted = get(&pool->m.submitted);
    out->completed = get(&pool->m.completed);
    out->failed = get(&pool->m.failed);
    out->cancelled = get(&pool->m.cancelled);
    out->timed_out = get(&pool->m.timed_out);
    out->rejected = get(&pool->m.rejected);
    out->in_flight = get(&pool->in_flight);
    out->retried = get(&pool->m.retried);
    out->restarts = get(&pool->m.restarts);
    out->died_signal = get(&pool->m.died_signal);
    out->died_exit = get(&pool->m.died_exit);
    out->killed_timeout = get(&pool->m.killed_timeout);
    out->recycled = get(&pool->m.recycled);
    out->init_failed = get(&pool->m.init_failed);
    weft_histogram_summarize(pool->latency, &out->latency);
    return 0;
}

int weft_procpool_report(weft_procpool *pool, weft_report *r, const char *prefix)
{
    weft_procpool_metrics m;
    if (!r || weft_procpool_metrics_get(pool, &m) < 0)
        return -EINVAL;
    if (!prefix)
        prefix = "";
    const struct {
        const char *name;
        uint64_t v;
    } rows[] = {
        {"workers", m.workers},         {"submitted", m.submitted},
        {"completed", m.completed},     {"failed", m.failed},
        {"cancelled", m.cancelled},     {"timed_out", m.timed_out},
        {"rejected", m.rejected},       {"in_flight", m.in_flight},
        {"retried", m.retried},         {"restarts", m.restarts},
        {"died_signal", m.died_signal}, {"died_exit", m.died_exit},
        {"killed_timeout", m.killed_timeout}, {"recycled", m.recycled},
        {"init_failed", m.init_failed},
    };
    char name[128];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, rows[i].name);
        int rc = weft_report_add_counter(r, name, rows[i].v);
        if (rc < 0)
            return rc;
    }
    snprintf(name, sizeof name, "%slatency", prefix);
    return weft_report_add_summary(r, name, &m.latency, "ns");
}

unsigned weft_procpool_workers(const weft_procpool *pool)
{
    return pool ? pool->nworkers : 0;
}

/* ---- map ----------------------------------------------------------------------------------------- */

/* One chunk in flight: its future, and where its items start. */
typedef struct map_chunk {
    weft_future *f;
    size_t first, count;
} map_chunk;

/* Emit a finished chunk's items. Returns emit's nonzero return, or 0. */
static int emit_chunk(const weft_procpool_map_opts *o, const map_chunk *c)
{
    const void *data = NULL;
    size_t len = 0;
    int err = weft_procpool_result(c->f, &data, &len);
    const unsigned char *p = data, *end = p ? p + len : NULL;
    for (size_t i = 0; i < c->count; i++) {
        int rc;
        if (err < 0 || !p || (size_t)(end - p) < sizeof(proc_item)) {
            rc = o->emit(o->ctx, c->first + i, NULL, 0, err < 0 ? err : -EPROTO);
        } else {
            const proc_item *h = (const proc_item *)p;
            size_t pad = ((size_t)h->len + 7) & ~(size_t)7;
            if ((size_t)(end - p) < sizeof *h + pad) {
                rc = o->emit(o->ctx, c->first + i, NULL, 0, -EPROTO);
                p = end;
            } else {
                rc = o->emit(o->ctx, c->first + i, h->err ? NULL : h + 1, h->err ? 0 : h->len,
                             h->err);
                p += sizeof *h + pad;
            }
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int weft_procpool_map(weft_procpool *pool, const weft_procpool_map_opts *o)
{
    uint32_t index;
    if (!pool || !o || !o->task || !o->emit || !o->item_size || (!o->items && o->count) ||
        o->item_size > UINT32_MAX || task_index(pool, o->task, &index) < 0)
        return -EINVAL;
    size_t chunksize = o->chunksize ? o->chunksize : 1;
    size_t window = o->max_in_flight ? o->max_in_flight : 4 * (size_t)pool->nworkers;
    if (window > pool->nslots)
        window = pool->nslots;
    map_chunk *ring = calloc(window, sizeof *ring);
    if (!ring)
        return -ENOMEM;
    int64_t deadline = o->deadline ? o->deadline : WEFT_NEVER;
    size_t next = 0;                  /* first item not yet sent */
    size_t head = 0, inflight = 0;    /* ring[head] is the oldest chunk */
    int rc = 0;
    while ((next < o->count && rc == 0) || inflight) {
        /* Send while there is room in the window. */
        while (rc == 0 && next < o->count && inflight < window) {
            size_t n = o->count - next < chunksize ? o->count - next : chunksize;
            proc_task *t;
            rc = make_task(pool, index, (const char *)o->items + next * o->item_size,
                           n * o->item_size, 2, deadline, &t);
            if (rc < 0)
                break;
            t->flags = PROC_SLOT_MAP;
            t->item_size = (uint32_t)o->item_size;
            rc = atomic_load_explicit(&pool->closed, memory_order_acquire)
                     ? -EPIPE
                     : send_task(pool, t, deadline);
            if (rc < 0) {
                drop_unsent(pool, t, 2);
                count(&pool->m.rejected);
                break;
            }
            map_chunk *c = &ring[(head + inflight) % window];
            c->f = future_of(t);
            c->first = next;
            c->count = n;
            inflight++;
            next += n;
        }
        if (!inflight)
            break;
        /* Emit: the oldest chunk (ordered), or any finished one. */
        size_t pick = head;
        if (o->unordered) {
            weft_future *fs[64];
            size_t k = inflight < 64 ? inflight : 64;
            for (size_t i = 0; i < k; i++)
                fs[i] = ring[(head + i) % window].f;
            size_t done = 0;
            int w = weft_future_wait_any(fs, k, WEFT_NEVER, &done);
            pick = (head + (w == 0 ? done : 0)) % window;
        }
        map_chunk c = ring[pick];
        weft_future_wait(c.f, WEFT_NEVER);
        if (rc == 0)
            rc = emit_chunk(o, &c);
        weft_future_unref(c.f);
        /* Close the gap: move the oldest into the emitted one's place. */
        ring[pick] = ring[head];
        head = (head + 1) % window;
        inflight--;
    }
    free(ring);
    return rc;
}
