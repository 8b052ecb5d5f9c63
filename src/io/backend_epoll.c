/* The epoll backend: one epoll instance per loop, file descriptors
 * registered once, edge-triggered, for both directions; the loop's eventfd
 * (posts from other threads) registered with a NULL-fd marker.
 *
 * Readiness protocol (weft_fd_wait): an edge sets the fd's ready bits and
 * wakes the task waiting for that direction. A waiter clears its bits only
 * after a non-blocking poll(2) said "not ready", then waits for the next
 * edge: edges are delivered only by this loop's thread, between task runs,
 * so none can fall between the check and the wait.
 *
 * Threads: the loop's thread only. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/time.h>

#include "io/loop_internal.h"

enum { MAX_EVENTS = 256 };
#define WAKE_TAG UINT64_MAX

static int epoll_init(weft_loop *loop, int wake_fd)
{
    loop->wake_fd = wake_fd;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) {
        int rc = -errno;
        close(loop->epfd);
        loop->epfd = -1;
        return rc;
    }
    return 0;
}

static void epoll_fini(weft_loop *loop)
{
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->epfd = -1;
}

static int epoll_poll(weft_loop *loop, int64_t timeout_ns)
{
    struct epoll_event evs[MAX_EVENTS];
    int n;
    if (timeout_ns < 0) {
        n = epoll_wait(loop->epfd, evs, MAX_EVENTS, -1);
    } else {
        struct timespec ts = {.tv_sec = timeout_ns / WEFT_SEC, .tv_nsec = timeout_ns % WEFT_SEC};
        n = epoll_pwait2(loop->epfd, evs, MAX_EVENTS, &ts, NULL);
        if (n < 0 && errno == ENOSYS) {
            /* Kernels before 5.11: milliseconds, rounded up. */
            int64_t ms = (timeout_ns + WEFT_MSEC - 1) / WEFT_MSEC;
            n = epoll_wait(loop->epfd, evs, MAX_EVENTS, ms > 1000000 ? 1000000 : (int)ms);
        }
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int woke = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == WAKE_TAG) {
            uint64_t v;
            ssize_t r = read(loop->wake_fd, &v, sizeof v);
            (void)r;
            woke = 1;
            continue;
        }
        int fd = (int)evs[i].data.u64;
        if (fd < 0 || (size_t)fd >= loop->fds_cap)
            continue;
        fd_watch *w = &loop->fds[fd];
        uint32_t e = evs[i].events, ready = 0;
        if (e & (EPOLLERR | EPOLLHUP))
            ready = WEFT_READABLE | WEFT_WRITABLE;
        if (e & (EPOLLIN | EPOLLRDHUP))
            ready |= WEFT_READABLE;
        if (e & EPOLLOUT)
            ready |= WEFT_WRITABLE;
        w->ready |= ready;
        if ((ready & WEFT_READABLE) && w->reader)
            weft__waiter_wake(w->reader, 0);
        if ((ready & WEFT_WRITABLE) && w->writer)
            weft__waiter_wake(w->writer, 0);
    }
    return woke;
}

/* The watch for fd, registering it on first use. */
static int watch_of(weft_loop *loop, int fd, fd_watch **out)
{
    if ((size_t)fd >= loop->fds_cap) {
        size_t cap = loop->fds_cap ? loop->fds_cap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        fd_watch *f = realloc(loop->fds, cap * sizeof *f);
        if (!f)
            return -ENOMEM;
        memset(f + loop->fds_cap, 0, (cap - loop->fds_cap) * sizeof *f);
        loop->fds = f;
        loop->fds_cap = cap;
    }
    fd_watch *w = &loop->fds[fd];
    if (!w->registered) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.u64 = (uint64_t)fd};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            return errno == EPERM ? -EINVAL : -errno; /* EPERM: a regular file */
        w->registered = true;
        w->ready = 0;
    }
    *out = w;
    return 0;
}

static int epoll_fd_wait(weft_loop *loop, int fd, unsigned events, int64_t deadline,
                         bool known_not_ready)
{
    fd_watch *w = NULL;
    int rc = watch_of(loop, fd, &w);
    if (rc < 0)
        return rc;
    if ((events & WEFT_READABLE && w->reader) || (events & WEFT_WRITABLE && w->writer))
        return -EBUSY;
    if (known_not_ready) {
        w->ready &= ~events;
    } else {
        struct pollfd p = {.fd = fd,
                           .events = (short)((events & WEFT_READABLE ? POLLIN : 0) |
                                             (events & WEFT_WRITABLE ? POLLOUT : 0))};
        if (poll(&p, 1, 0) > 0) {
            unsigned got = weft__poll_events((unsigned short)p.revents);
            if (got & events)
                return (int)(got & events);
        }
        w->ready &= ~events;
    }
    for (;;) {
        if (w->ready & events)
            return (int)(w->ready & events);
        weft__waiter wt;
        weft__waiter_init(&wt);
        if (events & WEFT_READABLE)
            w->reader = &wt;
        if (events & WEFT_WRITABLE)
            w->writer = &wt;
        loop->fd_waiters++;
        rc = weft__waiter_park(&wt, deadline);
        loop->fd_waiters--;
        /* The table may have moved while we were parked. */
        w = &loop->fds[fd];
        if (events & WEFT_READABLE)
            w->reader = NULL;
        if (events & WEFT_WRITABLE)
            w->writer = NULL;
        if (rc < 0)
            return (w->ready & events) ? (int)(w->ready & events) : rc;
    }
}

static void epoll_fd_forget(weft_loop *loop, int fd)
{
    if ((size_t)fd >= loop->fds_cap || !loop->fds[fd].registered)
        return;
    fd_watch *w = &loop->fds[fd];
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    w->registered = false;
    /* A task still waiting on it is told (as for an error: ready both
     * ways); its next wait registers the fd again, or fails if closed. */
    w->ready = WEFT_READABLE | WEFT_WRITABLE;
    if (w->reader)
        weft__waiter_wake(w->reader, 0);
    if (w->writer && w->writer != w->reader)
        weft__waiter_wake(w->writer, 0);
}

const weft__backend weft__backend_epoll = {
    .name = "epoll",
    .init = epoll_init,
    .fini = epoll_fini,
    .poll = epoll_poll,
    .fd_wait = epoll_fd_wait,
    .fd_forget = epoll_fd_forget,
};
