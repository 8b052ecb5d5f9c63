/* The io_uring backend (liburing): every operation is a submission whose
 * completion wakes the task that made it. Submissions queue up while tasks
 * run and go to the kernel in one io_uring_enter per scheduler round, with
 * the wait for completions, the next timer's timeout and the eventfd that
 * other threads write (a multishot poll) in the same call.
 *
 * An operation (run_op) lives on its task's stack: the submission's
 * user_data points at it, and the task does not return before its
 * completion has arrived. The protocol, in steps:
 *   1. Prepare the submission; user_data = the operation record.
 *   2. Park on the record's waiter with the caller's deadline; the
 *      completion (uring_poll -> complete) stores the result and wakes it.
 *   3. If the park was cut (deadline, cancellation) before the completion
 *      came: submit an asynchronous cancel of user_data (its own completion
 *      is ignored), then
 *   4. park again, uncancellably, until the original completion arrives:
 *      the kernel may still be using the caller's buffer until then.
 *   5. Result: the operation's own if it completed (nothing read, written
 *      or accepted is lost to a cut), else the reason it was cut.
 * Steps 3-5 are exercised by the cancelled receives of tests/unit/
 * net_tcp_test.c (10k at once) and the deadlines of its edge cases.
 *
 * Threads: the loop's thread only (the ring is not shared). */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/time.h>

#include "io/loop_internal.h"

enum { ENTRIES = 1024 };

/* user_data values that are not operations (operations are pointers,
 * aligned, never 1 or 2). */
#define TAG_WAKE ((uint64_t)1)
#define TAG_IGNORE ((uint64_t)2)

typedef struct uring_state {
    struct io_uring ring;
    bool wake_armed;
    bool wake_oneshot; /* multishot poll refused (before Linux 5.13) */
    bool wake_pending; /* the eventfd fired in a reap outside uring_poll */
    bool disabled;     /* created disabled: enabled by the thread that runs it */
} uring_state;

typedef struct uop {
    weft__waiter *w;
    int res;
    bool done;
} uop;

static int uring_init(weft_loop *loop, int wake_fd)
{
    uring_state *u = calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    /* Deferred task running (Linux 6.1): completion work runs only when
     * the loop asks for events, in one batch, on the loop's thread. It
     * needs a single issuer, so the ring starts disabled and the thread
     * that runs the loop enables it (uring_start). Older kernels: the
     * cooperative mode (no interrupting the thread), then plain. */
    int rc = io_uring_queue_init(ENTRIES, &u->ring,
                                 IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                     IORING_SETUP_R_DISABLED);
    u->disabled = rc == 0;
    if (rc == -EINVAL)
        rc = io_uring_queue_init(ENTRIES, &u->ring,
                                 IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
    if (rc == -EINVAL)
        rc = io_uring_queue_init(ENTRIES, &u->ring, 0);
    if (rc < 0) {
        free(u);
        return rc; /* -ENOSYS, -EPERM (seccomp), -ENOMEM: the caller falls back */
    }
    /* Waits with a timeout need IORING_ENTER_EXT_ARG (Linux 5.11): without
     * it liburing queues timeout submissions of its own. Older: epoll. */
    if (!(u->ring.features & IORING_FEAT_EXT_ARG)) {
        io_uring_queue_exit(&u->ring);
        free(u);
        return -ENOSYS;
    }
    loop->uring = u;
    loop->wake_fd = wake_fd;
    return 0;
}

static void uring_fini(weft_loop *loop)
{
    uring_state *u = loop->uring;
    if (!u)
        return;
    io_uring_queue_exit(&u->ring);
    free(u);
    loop->uring = NULL;
}

/* On the loop's thread, before its first submission. */
static int uring_start(weft_loop *loop)
{
    uring_state *u = loop->uring;
    if (!u->disabled)
        return 0;
    /* liburing 2.3 declares io_uring_enable_rings but does not ship it. */
    if (syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
        return -errno;
    u->disabled = false;
    io_uring_register_ring_fd(&u->ring); /* optional: saves an fd lookup per enter */
    return 0;
}

static void reap(uring_state *u, int *woke);

static struct io_uring_sqe *get_sqe(uring_state *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    for (int tries = 0; !sqe && tries < 64; tries++) {
        /* The submission queue is full: hand it to the kernel; if it will
         * not take more (-EBUSY: completions are waiting to be reaped),
         * reap them and try again. */
        if (io_uring_submit(&u->ring) < 0) {
            int woke = 0;
            reap(u, &woke);
            if (woke)
                u->wake_pending = true;
        }
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static void complete(uring_state *u, struct io_uring_cqe *cqe, int *woke)
{
    uint64_t tag = cqe->user_data;
    if (tag == TAG_IGNORE || tag == LIBURING_UDATA_TIMEOUT)
        return;
    if (tag == TAG_WAKE) {
        if (cqe->res < 0 && !u->wake_oneshot) {
            u->wake_oneshot = true; /* no multishot here: re-arm each time */
        } else {
            *woke = 1; /* the poll reads the eventfd once, after the batch */
        }
        if (!(cqe->flags & IORING_CQE_F_MORE))
            u->wake_armed = false;
        return;
    }
    uop *op = (uop *)(uintptr_t)tag;
    op->res = cqe->res;
    op->done = true;
    if (op->w)
        weft__waiter_wake(op->w, 0);
}

static int uring_poll(weft_loop *loop, int64_t timeout_ns)
{
    uring_state *u = loop->uring;
    if (!u->wake_armed) {
        struct io_uring_sqe *sqe = get_sqe(u);
        if (sqe) {
            if (u->wake_oneshot)
                io_uring_prep_poll_add(sqe, loop->wake_fd, POLLIN);
            else
                io_uring_prep_poll_multishot(sqe, loop->wake_fd, POLLIN);
            io_uring_sqe_set_data64(sqe, TAG_WAKE);
            u->wake_armed = true;
        }
    }
    int rc;
    struct io_uring_cqe *cqe;
    if (timeout_ns == 0) {
        rc = io_uring_submit_and_get_events(&u->ring);
    } else if (timeout_ns < 0) {
        rc = io_uring_submit_and_wait(&u->ring, 1);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / WEFT_SEC,
                                       .tv_nsec = timeout_ns % WEFT_SEC};
        rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        return rc;
    int woke = u->wake_pending;
    u->wake_pending = false;
    reap(u, &woke);
    if (woke) {
        uint64_t v;
        ssize_t r = read(loop->wake_fd, &v, sizeof v); /* reset the eventfd */
        (void)r;
    }
    return woke;
}

/* Deliver every completion that is there. */
static void reap(uring_state *u, int *woke)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe)
    {
        seen++;
        complete(u, cqe, woke);
    }
    io_uring_cq_advance(&u->ring, seen);
}

/* Submit-side helper: the caller has prepared sqe; wait for its completion
 * (see the file comment for cut waits). */
static int run_op(weft_loop *loop, struct io_uring_sqe *sqe, int64_t deadline)
{
    uring_state *u = loop->uring;
    uop op = {0};
    weft__waiter w;
    weft__waiter_init(&w);
    op.w = &w;
    io_uring_sqe_set_data(sqe, &op);
    loop->fd_waiters++;
    int rc = weft__waiter_park(&w, deadline);
    if (!op.done) {
        struct io_uring_sqe *c = get_sqe(u);
        if (c) {
            io_uring_prep_cancel(c, &op, 0);
            io_uring_sqe_set_data64(c, TAG_IGNORE);
        }
        while (!op.done) {
            weft__waiter w2;
            weft__waiter_init(&w2);
            w2.nocancel = true;
            op.w = &w2;
            weft__waiter_park(&w2, WEFT_NEVER);
        }
    }
    loop->fd_waiters--;
    if (op.res == -ECANCELED && rc < 0)
        return rc; /* our cancel took: report the deadline or the cancellation */
    return op.res;
}

static int uring_fd_wait(weft_loop *loop, int fd, unsigned events, int64_t deadline,
                         bool known_not_ready)
{
    (void)known_not_ready;
    struct io_uring_sqe *sqe = get_sqe(loop->uring);
    if (!sqe)
        return -EAGAIN;
    unsigned mask = (events & WEFT_READABLE ? POLLIN : 0) | (events & WEFT_WRITABLE ? POLLOUT : 0);
    io_uring_prep_poll_add(sqe, fd, mask);
    int rc = run_op(loop, sqe, deadline);
    if (rc < 0)
        return rc;
    unsigned got = weft__poll_events((unsigned)rc);
    return got & events ? (int)(got & events) : (int)events;
}

static void uring_fd_forget(weft_loop *loop, int fd)
{
    /* Operations still in flight on fd end with -ECANCELED (their tasks
     * are woken); io_uring holds no registration to drop. */
    uring_state *u = loop->uring;
    if (!loop->fd_waiters)
        return;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return;
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, TAG_IGNORE);
}

#define PREP_OR_FAIL(sqe, loop)                                                                    \
    struct io_uring_sqe *sqe = get_sqe((loop)->uring);                                             \
    if (!sqe)                                                                                      \
        return -EAGAIN;

static int uring_read(weft_loop *loop, int fd, void *buf, size_t n, int64_t off, int64_t deadline)
{
    if (off < 0) {
        /* A receive for sockets (a read for the rest). Measured with
         * IORING_RECVSEND_POLL_FIRST too: no better for echo at 100
         * connections, 5-10% worse at 1000 (weft bench tcp_echo_*). */
        PREP_OR_FAIL(sqe, loop)
        io_uring_prep_recv(sqe, fd, buf, n, 0);
        int rc = run_op(loop, sqe, deadline);
        if (rc != -ENOTSOCK)
            return rc;
    }
    PREP_OR_FAIL(sqe, loop)
    io_uring_prep_read(sqe, fd, buf, (unsigned)n, (uint64_t)off);
    return run_op(loop, sqe, deadline);
}

static int uring_write(weft_loop *loop, int fd, const void *buf, size_t n, int64_t off,
                       int64_t deadline)
{
    if (off < 0) {
        PREP_OR_FAIL(sqe, loop)
        io_uring_prep_send(sqe, fd, buf, n, MSG_NOSIGNAL);
        int rc = run_op(loop, sqe, deadline);
        if (rc != -ENOTSOCK)
            return rc;
    }
    PREP_OR_FAIL(sqe, loop)
    io_uring_prep_write(sqe, fd, buf, (unsigned)n, (uint64_t)off);
    return run_op(loop, sqe, deadline);
}

static int uring_accept(weft_loop *loop, int fd, void *sa, void *len, int64_t deadline)
{
    PREP_OR_FAIL(sqe, loop)
    io_uring_prep_accept(sqe, fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return run_op(loop, sqe, deadline);
}

static int uring_connect(weft_loop *loop, int fd, const void *sa, unsigned len, int64_t deadline)
{
    PREP_OR_FAIL(sqe, loop)
    io_uring_prep_connect(sqe, fd, sa, len);
    int rc = run_op(loop, sqe, deadline);
    if (rc != -EINPROGRESS && rc != -EALREADY)
        return rc;
    /* An older kernel reports the non-blocking socket's progress: wait
     * for it to be writable and read the outcome. */
    rc = uring_fd_wait(loop, fd, WEFT_WRITABLE, deadline, true);
    if (rc < 0)
        return rc;
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        return -errno;
    return -err;
}

static int uring_recvmsg(weft_loop *loop, int fd, void *msg, int64_t deadline)
{
    PREP_OR_FAIL(sqe, loop)
    io_uring_prep_recvmsg(sqe, fd, msg, 0);
    return run_op(loop, sqe, deadline);
}

static int uring_sendmsg(weft_loop *loop, int fd, const void *msg, int64_t deadline)
{
    PREP_OR_FAIL(sqe, loop)
    io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
    return run_op(loop, sqe, deadline);
}

const weft__backend weft__backend_uring = {
    .name = "io_uring",
    .init = uring_init,
    .fini = uring_fini,
    .start = uring_start,
    .poll = uring_poll,
    .fd_wait = uring_fd_wait,
    .fd_forget = uring_fd_forget,
    .read = uring_read,
    .write = uring_write,
    .accept = uring_accept,
    .connect = uring_connect,
    .recvmsg = uring_recvmsg,
    .sendmsg = uring_sendmsg,
};
