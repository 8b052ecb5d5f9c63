/* I/O operations for src/net, on the loop's backend. A completion backend
 * (io_uring) does each operation itself; with a readiness backend (epoll)
 * we try the system call and, on EAGAIN, wait for readiness and try again.
 * Each returns what the system call would (>= 0) or a negative
 * errno, -ETIMEDOUT, -ECANCELED or -EPERM (not in a task). A wait that is
 * cut happens before the call, so a cut operation has done nothing.
 *
 * Threads: loop tasks only. */
#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/time.h>

#include "io/loop_internal.h"
#include "io/ops.h"

static size_t cap_int(size_t n)
{
    return n > INT_MAX ? INT_MAX : n;
}

/* The current task's loop, or NULL outside a task. */
static weft_loop *loop_here(void)
{
    task *t = weft__task_current();
    return t ? t->loop : NULL;
}

int weft__fd_wait(int fd, unsigned events, int64_t deadline, bool known_not_ready)
{
    weft_loop *loop = loop_here();
    if (!loop)
        return -EPERM;
    if (fd < 0 || !events || (events & ~(unsigned)(WEFT_READABLE | WEFT_WRITABLE)))
        return -EINVAL;
    return loop->backend->fd_wait(loop, fd, events, deadline, known_not_ready);
}

void weft__fd_fresh(int fd)
{
    weft_loop *loop = weft_loop_current();
    /* Only a readiness backend keeps per-fd registrations. */
    if (loop && fd >= 0 && !loop->backend->read)
        loop->backend->fd_forget(loop, fd);
}

int weft_fd_wait(int fd, unsigned events, int64_t deadline)
{
    return weft__fd_wait(fd, events, deadline, false);
}

int weft_fd_forget(int fd)
{
    weft_loop *loop = weft_loop_current();
    if (loop && fd >= 0)
        loop->backend->fd_forget(loop, fd);
    return 0;
}

/* Run op until it stops saying EAGAIN, waiting for `events` between. */
#define RETRY_ON_EAGAIN(call, fd, events, deadline)                                                \
    do {                                                                                           \
        if (!weft__task_current())                                                                 \
            return -EPERM;                                                                         \
        for (;;) {                                                                                 \
            long r_ = (long)(call);                                                                \
            if (r_ >= 0)                                                                           \
                return (int)r_;                                                                    \
            if (errno == EINTR)                                                                    \
                continue;                                                                          \
            if (errno != EAGAIN && errno != EWOULDBLOCK)                                           \
                return -errno;                                                                     \
            int w_ = weft__fd_wait((fd), (events), (deadline), true);                              \
            if (w_ < 0)                                                                            \
                return w_;                                                                         \
        }                                                                                          \
    } while (0)

int weft__io_read(int fd, void *buf, size_t n, int64_t deadline)
{
    weft_loop *loop = loop_here();
    if (loop && loop->backend->read)
        return loop->backend->read(loop, fd, buf, cap_int(n), -1, deadline);
    RETRY_ON_EAGAIN(read(fd, buf, cap_int(n)), fd, WEFT_READABLE, deadline);
}

int weft__io_write(int fd, const void *buf, size_t n, int64_t deadline)
{
    /* MSG_NOSIGNAL: a closed peer is -EPIPE, not SIGPIPE; plain write for
     * what is not a socket. */
    weft_loop *loop = loop_here();
    if (!loop)
        return -EPERM;
    if (loop->backend->write)
        return loop->backend->write(loop, fd, buf, cap_int(n), -1, deadline);
    for (;;) {
        ssize_t r = send(fd, buf, cap_int(n), MSG_NOSIGNAL);
        if (r < 0 && errno == ENOTSOCK)
            r = write(fd, buf, cap_int(n));
        if (r >= 0)
            return (int)r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int w = weft__fd_wait(fd, WEFT_WRITABLE, deadline, true);
        if (w < 0)
            return w;
    }
}

int weft__io_accept(int lfd, struct sockaddr *sa, socklen_t *len, int64_t deadline)
{
    weft_loop *loop = loop_here();
    if (loop && loop->backend->accept)
        return loop->backend->accept(loop, lfd, sa, len, deadline);
    RETRY_ON_EAGAIN(accept4(lfd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC), lfd, WEFT_READABLE,
                    deadline);
}

int weft__io_recvfrom(int fd, void *buf, size_t n, struct sockaddr *sa, socklen_t *len,
                      int64_t deadline)
{
    weft_loop *loop = loop_here();
    if (loop && loop->backend->recvmsg) {
        struct iovec iov = {buf, cap_int(n)};
        struct msghdr m = {
            .msg_name = sa, .msg_namelen = len ? *len : 0, .msg_iov = &iov, .msg_iovlen = 1};
        int rc = loop->backend->recvmsg(loop, fd, &m, deadline);
        if (rc >= 0 && len)
            *len = m.msg_namelen;
        return rc;
    }
    RETRY_ON_EAGAIN(recvfrom(fd, buf, cap_int(n), 0, sa, len), fd, WEFT_READABLE, deadline);
}

int weft__io_sendto(int fd, const void *buf, size_t n, const struct sockaddr *sa, socklen_t len,
                    int64_t deadline)
{
    RETRY_ON_EAGAIN(sendto(fd, buf, cap_int(n), MSG_NOSIGNAL, sa, len), fd, WEFT_WRITABLE,
                    deadline);
}

int weft__io_connect(int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
    weft_loop *loop = loop_here();
    if (!loop)
        return -EPERM;
    if (loop->backend->connect)
        return loop->backend->connect(loop, fd, sa, len, deadline);
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    for (;;) {
        int w = weft__fd_wait(fd, WEFT_WRITABLE, deadline, true);
        if (w < 0)
            return w;
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            return -errno;
        if (err == 0) {
            /* Writable and no error: connected, unless the edge was stale. */
            struct sockaddr_storage peer;
            socklen_t pl = sizeof peer;
            if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
                return 0;
            if (errno != ENOTCONN)
                return -errno;
            continue;
        }
        return -err;
    }
}

/* ---- files: on the to_thread pool (io_uring does them natively) ---------- */

typedef struct file_op {
    int fd;
    bool write;
    void *buf;
    size_t n;
    int64_t off;
} file_op;

static int file_op_run(void *arg, weft_value *result)
{
    file_op *op = arg;
    ssize_t r;
    do {
        r = op->write ? pwrite(op->fd, op->buf, cap_int(op->n), op->off)
                      : pread(op->fd, op->buf, cap_int(op->n), op->off);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    result->i64 = r;
    return 0;
}

static int file_io(int fd, void *buf, size_t n, int64_t off, bool write, int64_t deadline)
{
    weft_loop *loop = loop_here();
    if (!loop)
        return -EPERM;
    if (fd < 0 || off < 0)
        return -EINVAL;
    if (write && loop->backend->write)
        return loop->backend->write(loop, fd, buf, cap_int(n), off, deadline);
    if (!write && loop->backend->read)
        return loop->backend->read(loop, fd, buf, cap_int(n), off, deadline);
    (void)deadline; /* the pool task runs to its end: buf is in use until then */
    file_op op = {fd, write, buf, n, off};
    weft_value v;
    int rc = weft_to_thread(file_op_run, &op, &v);
    return rc < 0 ? rc : (int)v.i64;
}

int weft__io_pread(int fd, void *buf, size_t n, int64_t off, int64_t deadline)
{
    return file_io(fd, buf, n, off, false, deadline);
}

int weft__io_pwrite(int fd, const void *buf, size_t n, int64_t off, int64_t deadline)
{
    return file_io(fd, (void *)buf, n, off, true, deadline);
}
