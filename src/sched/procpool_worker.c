/* The process pool's other processes: the program's task table, the
 * zygote, and the workers (see weft/procpool.h for what they are, and
 * procpool_internal.h for the memory they share with the parent).
 *
 * Zygote (numbered as in the docs):
 *   1. Booted by WEFT_PROC_TASK's constructor when PROC_ZYGOTE_ENV names
 *      its socket: it closes every other inherited fd, says HELLO (its
 *      table's size and hash, so the parent can check they agree).
 *   2. SETUP brings the shared memfd and the collector's eventfd.
 *   3. Then, until its socket reports EOF: SPAWN forks a worker and
 *      answers SPAWNED with the worker's pidfd; every SIGCHLD (taken by a
 *      signalfd: the zygote is single-threaded and its signals are its own)
 *      reaps and reports EXITED with the wait status.
 *   4. EOF: the parent destroyed the pool or died: kill the workers, reap
 *      them, exit.
 *
 * Worker: forked by the zygote; dies with it (PR_SET_PDEATHSIG). Runs the
 * initializer, says READY, then claims slots (procpool.c, "Slots"), runs
 * each task and writes its response; sleeps on the shared futex when
 * there is nothing to claim. It exits when the pool closes and the ring is
 * empty, or after max_tasks_per_child tasks.
 *
 * Synchronization: the only state shared with other processes is the
 * mapping (each atomic there names its pair) and the sockets. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sched/procpool_internal.h"
#include "sync/futex.h"

/* ---- the task table ------------------------------------------------------------ */

static const weft_proc_task *table;
static size_t table_count;
static bool in_worker;

void weft__proc_boot(const weft_proc_task *first, const weft_proc_task *end)
{
    if (table)
        return; /* every WEFT_PROC_TASK's constructor passes the same section */
    table = first;
    table_count = (size_t)(end - first);
    const char *env = getenv(PROC_ZYGOTE_ENV);
    if (env) {
        int fd = atoi(env);
        unsetenv(PROC_ZYGOTE_ENV);
        weft__proc_zygote_main(fd); /* never returns */
    }
}

const weft_proc_task *weft__proc_table(size_t *count)
{
    *count = table_count;
    return table;
}

uint64_t weft__proc_table_hash(void)
{
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a over the names */
    for (size_t i = 0; i < table_count; i++) {
        for (const char *p = table[i].name; *p; p++)
            h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
        h = (h ^ 0xFF) * UINT64_C(1099511628211);
    }
    return h;
}

bool weft_proc_in_worker(void)
{
    return in_worker;
}

/* ---- messages -------------------------------------------------------------------- */

int weft__proc_send(int sock, const proc_msg *m, const int *fds, int nfds)
{
    struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof *m};
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(&u, 0, sizeof u);
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof *m)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -errno : -EPROTO;
    }
}

int weft__proc_recv(int sock, proc_msg *m, int *fds, int maxfds, int *nfds, bool block)
{
    struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    *nfds = 0;
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int got[4];
        memcpy(got, CMSG_DATA(c), sizeof(int) * (size_t)(k < 4 ? k : 4));
        for (int i = 0; i < k && i < 4; i++) {
            if (*nfds < maxfds)
                fds[(*nfds)++] = got[i];
            else
                close(got[i]);
        }
    }
    if (n == 0)
        return -EPIPE; /* the other side is gone */
    if (n != (ssize_t)sizeof *m || (mh.msg_flags & MSG_CTRUNC)) {
        for (int i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        return -EPROTO;
    }
    return 0;
}

/* ---- a task's result ------------------------------------------------------------ */

struct weft_proc_ctx {
    unsigned char *buf; /* the result (inline case), or a map chunk's items */
    size_t len, cap;
    int fd; /* a memfd holding the result (weft_proc_result_buffer), or -1 */
    void *map;
    size_t map_len;
    bool in_map; /* running one item of a map chunk */
};

static int reserve(weft_proc_ctx *c, size_t len)
{
    if (len <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 256;
    while (cap < len)
        cap *= 2;
    unsigned char *b = realloc(c->buf, cap);
    if (!b)
        return -ENOMEM;
    c->buf = b;
    c->cap = cap;
    return 0;
}

static void drop_fd_result(weft_proc_ctx *c)
{
    if (c->fd >= 0) {
        munmap(c->map, c->map_len);
        close(c->fd);
        c->fd = -1;
        c->map = NULL;
        c->map_len = 0;
    }
}

int weft_proc_return(weft_proc_ctx *ctx, const void *data, size_t len)
{
    if (!ctx || (!data && len > 0))
        return -EINVAL;
    drop_fd_result(ctx);
    if (ctx->in_map) {
        /* Appended after the item header the map loop reserved. */
        size_t at = ctx->len;
        size_t pad = (len + 7) & ~(size_t)7;
        if (reserve(ctx, at + pad) < 0)
            return -ENOMEM;
        if (len)
            memcpy(ctx->buf + at, data, len);
        memset(ctx->buf + at + len, 0, pad - len);
        ((proc_item *)(ctx->buf + at - sizeof(proc_item)))->len = (uint32_t)len;
        ctx->len = at + pad;
        return 0;
    }
    if (reserve(ctx, len) < 0)
        return -ENOMEM;
    if (len)
        memcpy(ctx->buf, data, len);
    ctx->len = len;
    return 0;
}

void *weft_proc_result_buffer(weft_proc_ctx *ctx, size_t len)
{
    if (!ctx || ctx->in_map)
        return NULL;
    drop_fd_result(ctx);
    if (len <= PROC_RESP_INLINE_MAX) {
        if (reserve(ctx, len ? len : 1) < 0)
            return NULL;
        ctx->len = len;
        return ctx->buf;
    }
    int fd = memfd_create("weft-result", MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)len) < 0) {
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return NULL;
    }
    ctx->fd = fd;
    ctx->map = p;
    ctx->map_len = len;
    ctx->len = 0;
    return p;
}

/* ---- the worker ------------------------------------------------------------------- */

typedef struct worker {
    proc_shared *sh;
    proc_worker_area *area;
    unsigned index;
    int sock; /* to the parent, for result memfds */
    int efd;  /* the collector's eventfd */
    uint64_t resp_at; /* where resp_reserve put the record being written */
    weft_proc_ctx ctx;
} worker;

enum { CLAIM_SPINS = 200 };
#define NO_POS UINT64_MAX

/* Claim the next task (procpool.c, "Slots", worker side); NO_POS once the
 * pool closes with nothing left. */
static uint64_t claim(worker *wk)
{
    proc_shared *sh = wk->sh;
    unsigned spins = 0;
    for (;;) {
        uint64_t pos = atomic_load_explicit(&sh->head, memory_order_acquire);
        proc_slot *s = proc_slot_at(sh, pos);
        /* Acquire pairs with the parent's release store of FULL: the
         * slot's fields are written before. */
        uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        uint64_t at = PROC_STATE_POS(st);
        unsigned tag = PROC_STATE_TAG(st);
        if (at == pos && tag == PROC_TAG_FULL) {
            if (!atomic_compare_exchange_strong_explicit(
                    &s->state, &st, PROC_STATE(pos, PROC_TAG_WORKER + wk->index),
                    memory_order_acq_rel, memory_order_acquire))
                continue;
            /* Move head on unless a helper did (a copy: a failed CAS
             * writes the current head into its expected value). */
            uint64_t expect = pos;
            atomic_compare_exchange_strong_explicit(&sh->head, &expect, pos + 1,
                                                    memory_order_release, memory_order_relaxed);
            return pos;
        }
        if ((at == pos && tag != PROC_TAG_EMPTY) || at > pos) {
            /* Taken (by a worker that has not moved head yet, or by the
             * parent), or head is a lap behind: help it on. */
            atomic_compare_exchange_strong_explicit(&sh->head, &pos, pos + 1,
                                                    memory_order_release, memory_order_relaxed);
            continue;
        }
        /* Nothing at head. */
        if (atomic_load_explicit(&sh->closing, memory_order_acquire))
            return NO_POS;
        if (++spins < CLAIM_SPINS) {
            weft__cpu_relax();
            continue;
        }
        /* Sleep: announce it (seq_cst), then look once more. Pairs with
         * the parent's store of FULL, fence, load of sleepers. */
        uint32_t seq = atomic_load_explicit(&sh->req_seq, memory_order_acquire);
        atomic_fetch_add_explicit(&sh->sleepers, 1, memory_order_seq_cst);
        st = atomic_load_explicit(&proc_slot_at(sh, pos)->state, memory_order_seq_cst);
        bool work = PROC_STATE_POS(st) == pos && PROC_STATE_TAG(st) != PROC_TAG_EMPTY;
        if (!work && !atomic_load_explicit(&sh->closing, memory_order_seq_cst) &&
            atomic_load_explicit(&sh->head, memory_order_seq_cst) == pos)
            weft__futex_wait_shared(&sh->req_seq, seq, WEFT_NEVER);
        atomic_fetch_sub_explicit(&sh->sleepers, 1, memory_order_relaxed);
        spins = 0;
    }
}

/* Room for a record of `size` bytes at the response ring's tail, which
 * never wraps inside a record (a PAD record fills the end instead). */
static unsigned char *resp_reserve(worker *wk, uint32_t size)
{
    proc_worker_area *a = wk->area;
    uint64_t tail = atomic_load_explicit(&a->resp_tail, memory_order_relaxed);
    size_t at = (size_t)(tail % PROC_RESP_RING);
    size_t pad = at + size > PROC_RESP_RING ? PROC_RESP_RING - at : 0;
    for (;;) {
        /* Acquire pairs with the collector's release of resp_head: the
         * bytes it read are no longer needed. */
        uint64_t head = atomic_load_explicit(&a->resp_head, memory_order_acquire);
        if (PROC_RESP_RING - (tail - head) >= pad + size)
            break;
        uint32_t seq = atomic_load_explicit(&a->room_seq, memory_order_acquire);
        atomic_store_explicit(&a->room_waiting, 1, memory_order_seq_cst);
        head = atomic_load_explicit(&a->resp_head, memory_order_seq_cst);
        if (PROC_RESP_RING - (tail - head) >= pad + size)
            break;
        weft__futex_wait_shared(&a->room_seq, seq, WEFT_NEVER);
    }
    unsigned char *ring = proc_resp_ring(a);
    if (pad) {
        /* Fill the end: a PAD record, or, when fewer bytes than a header
         * are left, nothing (the collector skips such a tail itself). */
        if (pad >= sizeof(proc_resp)) {
            proc_resp *p = (proc_resp *)(ring + at);
            memset(p, 0, sizeof *p);
            p->size = (uint32_t)pad;
            p->flags = PROC_RESP_PAD;
        }
        tail += pad; /* published with the record (resp_publish) */
        at = 0;
    }
    wk->resp_at = tail;
    return ring + at;
}

static void resp_publish(worker *wk, uint32_t size)
{
    proc_worker_area *a = wk->area;
    /* Release pairs with the collector's acquire of resp_tail: the record
     * (and a PAD before it) is written. */
    atomic_store_explicit(&a->resp_tail, wk->resp_at + size, memory_order_release);
    /* Dekker with the collector: it sets collector_sleeping, then looks at
     * every ring; we publish, then look at the flag. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&wk->sh->collector_sleeping, memory_order_relaxed)) {
        uint64_t one = 1;
        ssize_t n = write(wk->efd, &one, sizeof one);
        (void)n; /* the counter cannot overflow in practice */
    }
}

/* Send the result memfd to the parent, then the record that says so. */
static void respond(worker *wk, uint64_t pos, uint64_t ticket, int err)
{
    weft_proc_ctx *c = &wk->ctx;
    bool by_fd = c->fd >= 0 && err == 0;
    size_t len = err == 0 ? (by_fd ? c->map_len : c->len) : 0;
    if (!by_fd && len > PROC_RESP_INLINE_MAX) {
        /* A map chunk (or weft_proc_return) too large for the ring: move it
         * into a memfd. */
        int fd = memfd_create("weft-result", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)len) < 0 || write(fd, c->buf, len) != (ssize_t)len) {
            if (fd >= 0)
                close(fd);
            err = -ENOMEM;
            len = 0;
        } else {
            c->fd = fd;
            c->map = NULL;
            c->map_len = len;
            by_fd = true;
        }
    }
    if (by_fd) {
        proc_msg m = {.type = 0, .a = pos};
        if (c->map)
            munmap(c->map, c->map_len);
        c->map = NULL;
        if (weft__proc_send(wk->sock, &m, &c->fd, 1) < 0) {
            err = -EPIPE;
            len = 0;
            by_fd = false;
        }
        close(c->fd);
        c->fd = -1;
    }
    size_t inline_len = by_fd ? 0 : len;
    uint32_t size = (uint32_t)(sizeof(proc_resp) + ((inline_len + 7) & ~(size_t)7));
    proc_resp *r = (proc_resp *)resp_reserve(wk, size);
    r->size = size;
    r->flags = by_fd ? PROC_RESP_FD : 0;
    r->pos = pos;
    r->ticket = ticket;
    r->len = len;
    r->err = err;
    r->pad = 0;
    if (inline_len)
        memcpy(r + 1, c->buf, inline_len);
    resp_publish(wk, size);
}

static int run_one(worker *wk, const weft_proc_task *t, const void *arg, size_t len)
{
    weft_proc_ctx *c = &wk->ctx;
    c->len = 0;
    c->in_map = false;
    int rc = t->fn(arg, len, c);
    return rc > 0 ? -EINVAL : rc;
}

/* A map chunk: each item's header and result appended to ctx.buf. */
static int run_chunk(worker *wk, const weft_proc_task *t, const unsigned char *items, size_t len,
                     size_t item_size)
{
    weft_proc_ctx *c = &wk->ctx;
    c->len = 0;
    for (size_t off = 0; off + item_size <= len; off += item_size) {
        if (reserve(c, c->len + sizeof(proc_item)) < 0)
            return -ENOMEM;
        proc_item *h = (proc_item *)(c->buf + c->len);
        h->len = 0;
        h->err = 0;
        size_t header_at = c->len;
        c->len += sizeof(proc_item);
        c->in_map = true;
        int rc = t->fn(items + off, item_size, c);
        c->in_map = false;
        ((proc_item *)(c->buf + header_at))->err = rc > 0 ? -EINVAL : rc;
    }
    return 0;
}

static const void *slot_arg(worker *wk, proc_slot *s)
{
    if (s->flags & PROC_SLOT_ARENA)
        return (const char *)wk->sh + s->arg_off;
    return s->arg;
}

_Noreturn static void worker_main(worker *wk, uint32_t init_task, uint64_t init_off,
                                  uint64_t init_len)
{
    in_worker = true;
    wk->ctx.fd = -1;
    proc_worker_area *a = wk->area;
    if (init_task) {
        const weft_proc_task *t = &table[init_task - 1];
        const void *arg = init_len ? (const char *)wk->sh + init_off : NULL;
        int rc = run_one(wk, t, arg, (size_t)init_len);
        if (rc < 0) {
            atomic_store_explicit(&a->init_err, rc, memory_order_relaxed);
            atomic_store_explicit(&a->state, PROC_W_INIT_FAILED, memory_order_release);
            weft__futex_wake_shared(&a->state, INT32_MAX);
            _exit(0);
        }
    }
    atomic_store_explicit(&a->state, PROC_W_READY, memory_order_release);
    weft__futex_wake_shared(&a->state, INT32_MAX);
    uint32_t limit = wk->sh->max_tasks_per_child;
    for (uint32_t done = 0;;) {
        uint64_t pos = claim(wk);
        if (pos == NO_POS)
            _exit(0);
        proc_slot *s = proc_slot_at(wk->sh, pos);
        int rc;
        if (s->task >= table_count)
            rc = -EINVAL;
        else if (s->flags & PROC_SLOT_MAP)
            rc = run_chunk(wk, &table[s->task], slot_arg(wk, s), (size_t)s->arg_len,
                           s->item_size ? s->item_size : 1);
        else
            rc = run_one(wk, &table[s->task], slot_arg(wk, s), (size_t)s->arg_len);
        respond(wk, pos, s->ticket, rc);
        if (limit && ++done >= limit) {
            atomic_store_explicit(&a->state, PROC_W_RECYCLED, memory_order_release);
            _exit(0);
        }
    }
}

/* ---- the zygote -------------------------------------------------------------------- */

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

typedef struct zygote {
    int sock, sigfd, memfd, efd;
    proc_shared *sh;
    size_t map_len;
    uint32_t init_task;
    uint64_t init_off, init_len;
    pid_t *pids; /* by worker index; 0: none */
    unsigned nworkers;
} zygote;

_Noreturn static void zygote_exit(zygote *z)
{
    /* Step 4: kill what is left and reap it: no worker outlives us. */
    for (unsigned w = 0; w < z->nworkers; w++)
        if (z->pids && z->pids[w] > 0)
            kill(z->pids[w], SIGKILL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    _exit(0);
}

static void spawn_worker(zygote *z, unsigned w, int wsock)
{
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* The worker: its signals back to defaults, dies with us. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != self)
            _exit(1);
        close(z->sock);
        close(z->sigfd);
        close(z->memfd);
        worker wk = {.sh = z->sh,
                     .area = proc_worker_at(z->sh, w),
                     .index = w,
                     .sock = wsock,
                     .efd = z->efd};
        worker_main(&wk, z->init_task, z->init_off, z->init_len);
    }
    close(wsock);
    proc_msg m = {.type = PROC_MSG_SPAWNED, .worker = w, .pid = pid > 0 ? pid : 0,
                  .status = pid > 0 ? 0 : -errno};
    int pidfd = pid > 0 ? pidfd_open_(pid) : -1;
    if (pid > 0)
        z->pids[w] = pid;
    if (weft__proc_send(z->sock, &m, &pidfd, pidfd >= 0 ? 1 : 0) < 0)
        zygote_exit(z);
    if (pidfd >= 0)
        close(pidfd);
}

static void reap(zygote *z)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (unsigned w = 0; w < z->nworkers; w++) {
            if (z->pids[w] != pid)
                continue;
            z->pids[w] = 0;
            proc_msg m = {.type = PROC_MSG_EXITED, .worker = w, .pid = pid, .status = status};
            if (weft__proc_send(z->sock, &m, NULL, 0) < 0)
                zygote_exit(z);
        }
    }
}

_Noreturn void weft__proc_zygote_main(int sock)
{
    zygote z = {.sock = sock, .sigfd = -1, .memfd = -1, .efd = -1};
    /* Step 1: nothing of the parent's but our socket and stdio. */
    if (sock > 3)
        syscall(SYS_close_range, 3, sock - 1, 0);
    syscall(SYS_close_range, sock + 1, ~0U, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    proc_msg hello = {.type = PROC_MSG_HELLO, .pid = getpid(), .a = table_count,
                      .b = weft__proc_table_hash()};
    if (weft__proc_send(sock, &hello, NULL, 0) < 0)
        _exit(1);
    /* Step 2. */
    proc_msg m;
    int fds[4], nfds;
    if (weft__proc_recv(sock, &m, fds, 4, &nfds, true) < 0 || m.type != PROC_MSG_SETUP ||
        nfds != 2)
        _exit(1);
    z.memfd = fds[0];
    z.efd = fds[1];
    struct stat st;
    if (fstat(z.memfd, &st) < 0)
        _exit(1);
    z.map_len = (size_t)st.st_size;
    z.sh = mmap(NULL, z.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, z.memfd, 0);
    if (z.sh == MAP_FAILED || z.sh->magic != PROC_MAGIC)
        _exit(1);
    z.nworkers = z.sh->nworkers;
    z.init_task = (uint32_t)m.a;
    z.init_off = m.b;
    z.init_len = m.c;
    if (z.init_task > table_count || z.init_off + z.init_len > z.map_len)
        _exit(1);
    z.pids = calloc(z.nworkers, sizeof *z.pids);
    if (!z.pids)
        _exit(1);
    /* Step 3. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    z.sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (z.sigfd < 0)
        _exit(1);
    for (;;) {
        struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = z.sigfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            zygote_exit(&z);
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(z.sigfd, &si, sizeof si) == sizeof si)
                ;
            reap(&z);
        }
        if (p[0].revents) {
            int rc = weft__proc_recv(sock, &m, fds, 4, &nfds, false);
            if (rc == -EAGAIN)
                continue;
            if (rc < 0)
                zygote_exit(&z); /* step 4 */
            if (m.type == PROC_MSG_SPAWN && nfds == 1 && m.worker < z.nworkers)
                spawn_worker(&z, m.worker, fds[0]);
            else
                for (int i = 0; i < nfds; i++)
                    close(fds[i]);
        }
    }
}
