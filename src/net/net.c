/* Sockets for loop tasks: names, TCP, UDP, bytes, files. See
 * include/weft/net.h. The waiting is the loop backend's (src/io/ops.h);
 * this file adds name lookups, address handling and the exact/all loops.
 *
 * Name lookups run getaddrinfo on a process-wide pool of DNS threads
 * (created on first use, never shared with weft_to_thread). A lookup's
 * record is shared by the asking task and the pool thread, each holding a
 * reference: a task that gives up (deadline, cancel) drops its reference
 * and the thread frees the record when the lookup finally returns.
 *
 * Synchronization: dns_pool is created once under dns_lock; lookup records
 * are handed over through the pool's future (its completion publishes the
 * result) and freed by whichever reference goes last (acq_rel). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/pool.h>
#include <weft/time.h>

#include "io/ops.h"
#include "sync/lock.h"

/* ---- addresses ------------------------------------------------------------ */

int weft_addr_format(const weft_addr *a, char *buf, size_t len)
{
    if (!a || !buf || !len)
        return -EINVAL;
    char host[INET6_ADDRSTRLEN + 1] = "?";
    int n;
    switch (a->ss.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        n = snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        n = snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
        break;
    }
    case AF_UNIX:
        n = snprintf(buf, len, "unix:%s", ((const struct sockaddr_un *)&a->ss)->sun_path);
        break;
    default:
        return -EINVAL;
    }
    return n < 0 ? -EINVAL : (size_t)n >= len ? (int)len - 1 : n;
}

int weft_addr_port(const weft_addr *a)
{
    if (!a)
        return -EINVAL;
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return -EINVAL;
}

/* ---- name lookups ---------------------------------------------------------- */

enum { DNS_THREADS = 2, LOOKUP_MAX = 16 };

static weft__lock dns_lock = WEFT__LOCK_INIT;
static weft_pool *dns_pool;

typedef struct lookup {
    _Atomic int refs;
    char *host, *service;
    int socktype;
    int rc;
    size_t n;
    weft_addr addrs[LOOKUP_MAX];
} lookup;

static void lookup_unref(lookup *l)
{
    if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) == 1) {
        free(l->host);
        free(l->service);
        free(l);
    }
}

static int eai_error(int eai)
{
    switch (eai) {
    case EAI_NONAME:
        return WEFT_EAI_NONAME;
    case EAI_AGAIN:
        return WEFT_EAI_AGAIN;
    case EAI_NODATA:
        return WEFT_EAI_NODATA;
    case EAI_SERVICE:
        return WEFT_EAI_SERVICE;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return errno ? -errno : WEFT_EAI_FAIL;
    default:
        return WEFT_EAI_FAIL;
    }
}

static int lookup_run(void *arg, weft_value *result)
{
    (void)result;
    lookup *l = arg;
    struct addrinfo hints = {.ai_socktype = l->socktype,
                             .ai_flags = AI_ADDRCONFIG | (l->host ? 0 : AI_PASSIVE)};
    struct addrinfo *res = NULL;
    int eai = getaddrinfo(l->host, l->service, &hints, &res);
    if (eai != 0) {
        l->rc = eai_error(eai);
    } else {
        for (struct addrinfo *ai = res; ai && l->n < LOOKUP_MAX; ai = ai->ai_next) {
            if (ai->ai_addrlen > sizeof l->addrs[0].ss)
                continue;
            memcpy(&l->addrs[l->n].ss, ai->ai_addr, ai->ai_addrlen);
            l->addrs[l->n].len = ai->ai_addrlen;
            l->n++;
        }
        l->rc = l->n ? 0 : WEFT_EAI_NODATA;
        freeaddrinfo(res);
    }
    lookup_unref(l);
    return 0;
}

static int get_dns_pool(weft_pool **out)
{
    weft__lock_acquire(&dns_lock);
    int rc = 0;
    if (!dns_pool) {
        weft_pool_opts po = {.workers = DNS_THREADS, .name = "weft-dns"};
        rc = weft_pool_create(&dns_pool, &po);
    }
    *out = dns_pool;
    weft__lock_release(&dns_lock);
    return rc;
}

/* A numeric host and port need no resolver thread. */
static bool numeric(const char *host, const char *service, int socktype, weft_addr *out)
{
    struct addrinfo hints = {.ai_socktype = socktype,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (host ? 0 : AI_PASSIVE)};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return false;
    bool ok = res && res->ai_addrlen <= sizeof out->ss;
    if (ok) {
        memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
        out->len = res->ai_addrlen;
    }
    freeaddrinfo(res);
    return ok;
}

int weft_resolve(const char *host, const char *service, int socktype, int64_t deadline,
                 weft_addr *out, size_t max)
{
    if (!out || !max || (!host && !service) || (socktype != SOCK_STREAM && socktype != SOCK_DGRAM))
        return -EINVAL;
    if (numeric(host, service, socktype, &out[0]))
        return 1;
    if (!weft_loop_current())
        return -EPERM;
    weft_pool *pool;
    int rc = get_dns_pool(&pool);
    if (rc < 0)
        return rc;
    lookup *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->host = host ? strdup(host) : NULL;
    l->service = service ? strdup(service) : NULL;
    if ((host && !l->host) || (service && !l->service)) {
        free(l->host);
        free(l->service);
        free(l);
        return -ENOMEM;
    }
    l->socktype = socktype;
    atomic_init(&l->refs, 2); /* ours and the pool task's */
    weft_future *f;
    rc = weft_pool_submit(pool, lookup_run, l, deadline, &f);
    if (rc < 0) {
        atomic_store(&l->refs, 1);
        lookup_unref(l);
        return rc;
    }
    rc = weft_future_wait(f, deadline);
    if (rc == 0) {
        rc = l->rc;
        if (rc == 0) {
            size_t n = l->n < max ? l->n : max;
            memcpy(out, l->addrs, n * sizeof *out);
            rc = (int)n;
        }
    } else if (weft_future_cancel(f) == 0) {
        lookup_unref(l); /* it never ran: drop its reference too */
    }
    weft_future_unref(f);
    lookup_unref(l);
    return rc;
}

/* ---- sockets ------------------------------------------------------------------- */

static int new_socket(int family, int type)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    weft__fd_fresh(fd);
    return fd;
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int weft_tcp_connect_addr(const weft_addr *a, int64_t deadline, int *fd)
{
    if (!a || !fd)
        return -EINVAL;
    int s = new_socket(a->ss.ss_family, SOCK_STREAM);
    if (s < 0)
        return s;
    int rc = weft__io_connect(s, (const struct sockaddr *)&a->ss, a->len, deadline);
    if (rc < 0) {
        weft_close(s);
        return rc;
    }
    if (a->ss.ss_family != AF_UNIX)
        set_nodelay(s);
    *fd = s;
    return 0;
}

int weft_tcp_connect(const char *host, const char *service, int64_t deadline, int *fd)
{
    if (!fd || !service)
        return -EINVAL;
    weft_addr addrs[LOOKUP_MAX];
    int n = weft_resolve(host, service, SOCK_STREAM, deadline, addrs, LOOKUP_MAX);
    if (n < 0)
        return n;
    int rc = -ECONNREFUSED;
    for (int i = 0; i < n; i++) {
        rc = weft_tcp_connect_addr(&addrs[i], deadline, fd);
        if (rc == 0 || rc == -ETIMEDOUT || rc == -ECANCELED)
            break;
    }
    return rc;
}

/* Bind a socket of type to the first address of host:service that takes. */
static int bound_socket(const char *host, const char *service, int type, int backlog, int *fd,
                        weft_addr *bound)
{
    if (!fd || !service)
        return -EINVAL;
    weft_addr addrs[LOOKUP_MAX];
    /* A numeric address resolves anywhere; a name needs a task. */
    int n = weft_resolve(host, service, type, WEFT_NEVER, addrs, LOOKUP_MAX);
    if (n < 0)
        return n == -EPERM ? -EINVAL : n;
    int rc = -EADDRNOTAVAIL;
    for (int i = 0; i < n; i++) {
        int s = new_socket(addrs[i].ss.ss_family, type);
        if (s < 0) {
            rc = s;
            continue;
        }
        int one = 1;
        if (type == SOCK_STREAM)
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(s, (struct sockaddr *)&addrs[i].ss, addrs[i].len) < 0 ||
            (type == SOCK_STREAM && listen(s, backlog > 0 ? backlog : SOMAXCONN) < 0)) {
            rc = -errno;
            close(s);
            continue;
        }
        if (bound) {
            bound->len = sizeof bound->ss;
            getsockname(s, (struct sockaddr *)&bound->ss, &bound->len);
        }
        *fd = s;
        return 0;
    }
    return rc;
}

int weft_tcp_listen(const char *host, const char *service, int backlog, int *fd, weft_addr *bound)
{
    return bound_socket(host, service, SOCK_STREAM, backlog, fd, bound);
}

int weft_accept(int lfd, int64_t deadline, int *fd, weft_addr *peer)
{
    if (!fd)
        return -EINVAL;
    weft_addr tmp;
    weft_addr *p = peer ? peer : &tmp;
    p->len = sizeof p->ss;
    int s = weft__io_accept(lfd, (struct sockaddr *)&p->ss, &p->len, deadline);
    if (s < 0)
        return s;
    weft__fd_fresh(s);
    if (p->ss.ss_family == AF_INET || p->ss.ss_family == AF_INET6)
        set_nodelay(s);
    *fd = s;
    return 0;
}

/* ---- bytes ------------------------------------------------------------------------ */

int weft_read(int fd, void *buf, size_t n, int64_t deadline)
{
    if (!buf && n)
        return -EINVAL;
    return weft__io_read(fd, buf, n, deadline);
}

int weft_write(int fd, const void *buf, size_t n, int64_t deadline)
{
    if (!buf && n)
        return -EINVAL;
    return weft__io_write(fd, buf, n, deadline);
}

int weft_read_exact(int fd, void *buf, size_t n, int64_t deadline, size_t *got)
{
    size_t done = 0;
    int rc = 0;
    while (done < n) {
        int r = weft_read(fd, (char *)buf + done, n - done, deadline);
        if (r <= 0) {
            rc = r == 0 ? -EPIPE : r;
            break;
        }
        done += (size_t)r;
    }
    if (got)
        *got = done;
    return rc;
}

int weft_write_all(int fd, const void *buf, size_t n, int64_t deadline, size_t *sent)
{
    size_t done = 0;
    int rc = 0;
    while (done < n) {
        int r = weft_write(fd, (const char *)buf + done, n - done, deadline);
        if (r < 0) {
            rc = r;
            break;
        }
        done += (size_t)r;
    }
    if (sent)
        *sent = done;
    return rc;
}

int weft_shutdown_write(int fd)
{
    return shutdown(fd, SHUT_WR) < 0 ? -errno : 0;
}

int weft_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    weft_fd_forget(fd);
    return close(fd) < 0 ? -errno : 0;
}

/* ---- UDP ------------------------------------------------------------------------------ */

int weft_udp_bind(const char *host, const char *service, int *fd, weft_addr *bound)
{
    return bound_socket(host, service, SOCK_DGRAM, 0, fd, bound);
}

int weft_sendto(int fd, const void *buf, size_t n, const weft_addr *to, int64_t deadline)
{
    if (!buf && n)
        return -EINVAL;
    return weft__io_sendto(fd, buf, n, to ? (const struct sockaddr *)&to->ss : NULL,
                           to ? to->len : 0, deadline);
}

int weft_recvfrom(int fd, void *buf, size_t n, weft_addr *from, int64_t deadline)
{
    if (!buf && n)
        return -EINVAL;
    if (!from)
        return weft__io_recvfrom(fd, buf, n, NULL, NULL, deadline);
    from->len = sizeof from->ss;
    return weft__io_recvfrom(fd, buf, n, (struct sockaddr *)&from->ss, &from->len, deadline);
}

/* ---- files ------------------------------------------------------------------------------ */

int weft_file_pread(int fd, void *buf, size_t n, int64_t offset, int64_t deadline)
{
    if (!buf && n)
        return -EINVAL;
    return weft__io_pread(fd, buf, n, offset, deadline);
}

int weft_file_pwrite(int fd, const void *buf, size_t n, int64_t offset, int64_t deadline)
{
    if (!buf && n)
        return -EINVAL;
    return weft__io_pwrite(fd, buf, n, offset, deadline);
}
