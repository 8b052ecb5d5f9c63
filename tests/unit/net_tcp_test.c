/* Sockets, files, signals and processes from loop tasks: TCP echo over
 * many connections, half-close, deadlines, refused connections, UDP, name
 * lookups, 10k cancelled operations that leave no descriptor behind, file
 * I/O off the loop, signals as events, child processes. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/loop.h>
#include <weft/net.h>
#include <weft/time.h>

#include "loop_test.h"
#include "weft_test.h"

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    WT_ASSERT(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Raise the descriptor limit to the hard limit; returns the soft limit. */
static long fd_limit(void)
{
    struct rlimit rl;
    WT_OK(getrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

static int run(weft_task_fn *fn, void *arg)
{
    return weft_run(fn, arg, NULL, NULL);
}

/* ---- echo over many connections ------------------------------------------------------ */

typedef struct echo_ctx {
    int lfd;
    int conns;
    int msgs;
    int served;
    char port[16];
} echo_ctx;

static int echo_conn(void *arg, weft_value *result)
{
    (void)result;
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        int n = weft_read(fd, buf, sizeof buf, WEFT_NEVER);
        if (n <= 0)
            break;
        if (weft_write_all(fd, buf, (size_t)n, WEFT_NEVER, NULL) < 0)
            break;
    }
    weft_close(fd);
    return 0;
}

static int echo_server(void *arg, weft_value *result)
{
    (void)result;
    echo_ctx *e = arg;
    weft_group g;
    WT_OK(weft_group_init(&g));
    for (int i = 0; i < e->conns; i++) {
        int fd;
        weft_addr peer;
        WT_OK(weft_accept(e->lfd, WEFT_NEVER, &fd, &peer));
        WT_EQ(peer.ss.ss_family, AF_INET);
        WT_OK(weft_group_spawn(&g, echo_conn, (void *)(intptr_t)fd, NULL, NULL));
        e->served++;
    }
    return weft_group_wait(&g);
}

static int echo_client(void *arg, weft_value *result)
{
    echo_ctx *e = arg;
    int fd;
    WT_OK(weft_tcp_connect("127.0.0.1", e->port, weft_deadline_in(10 * WEFT_SEC), &fd));
    int64_t total = 0;
    for (int m = 0; m < e->msgs; m++) {
        char out[64], in[64];
        int len = snprintf(out, sizeof out, "message %d from fd %d", m, fd);
        WT_OK(weft_write_all(fd, out, (size_t)len, WEFT_NEVER, NULL));
        WT_OK(weft_read_exact(fd, in, (size_t)len, WEFT_NEVER, NULL));
        WT_ASSERT(memcmp(in, out, (size_t)len) == 0);
        total += len;
    }
    /* Half-close: the server sees the end and closes; we read our EOF. */
    WT_OK(weft_shutdown_write(fd));
    char c;
    WT_EQ(weft_read(fd, &c, 1, weft_deadline_in(10 * WEFT_SEC)), 0);
    weft_close(fd);
    result->i64 = total;
    return 0;
}

static int echo_main(void *arg, weft_value *result)
{
    (void)result;
    echo_ctx *e = arg;
    weft_addr bound;
    WT_OK(weft_tcp_listen("127.0.0.1", "0", 4096, &e->lfd, &bound));
    snprintf(e->port, sizeof e->port, "%d", weft_addr_port(&bound));
    char text[64];
    WT_GT(weft_addr_format(&bound, text, sizeof text), 0);
    WT_ASSERT(strncmp(text, "127.0.0.1:", 10) == 0);
    weft_future *server;
    WT_OK(weft_spawn(NULL, echo_server, e, NULL, &server));
    weft_group g;
    WT_OK(weft_group_init(&g));
    for (int i = 0; i < e->conns; i++)
        WT_OK(weft_group_spawn(&g, echo_client, e, NULL, NULL));
    WT_OK(weft_group_wait(&g));
    WT_OK(weft_future_result(server, WEFT_NEVER, NULL));
    weft_future_unref(server);
    weft_close(e->lfd);
    return 0;
}

static void test_echo_many_connections(void)
{
    long limit = fd_limit();
    int conns = 1000;
    if (limit < 2 * conns + 64)
        conns = (int)(limit - 64) / 2;
    WT_GT(conns, 10);
    int before = open_fds();
    echo_ctx e = {.conns = conns, .msgs = 20};
    WT_OK(run(echo_main, &e));
    WT_EQ(e.served, conns);
    WT_EQ(open_fds(), before);
}

/* ---- deadlines, refused, half-close edge cases ------------------------------------------ */

static int edge_main(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    int lfd, fd;
    weft_addr bound;
    WT_OK(weft_tcp_listen("127.0.0.1", "0", 16, &lfd, &bound));
    /* accept with a deadline and no client */
    WT_ERR(weft_accept(lfd, weft_deadline_in(5 * WEFT_MSEC), &fd, NULL), -ETIMEDOUT);
    /* a client whose server never writes: the read's deadline fires */
    WT_OK(weft_tcp_connect_addr(&bound, WEFT_NEVER, &fd));
    int sfd;
    WT_OK(weft_accept(lfd, WEFT_NEVER, &sfd, NULL));
    char buf[8];
    int64_t t0 = weft_now();
    WT_ERR(weft_read(fd, buf, sizeof buf, weft_deadline_in(20 * WEFT_MSEC)), -ETIMEDOUT);
    WT_GE(weft_now() - t0, 20 * WEFT_MSEC);
    /* read_exact stops at the end of stream and says how much came */
    WT_EQ(weft_write(sfd, "abc", 3, WEFT_NEVER), 3);
    weft_close(sfd);
    size_t got = 99;
    WT_ERR(weft_read_exact(fd, buf, 8, WEFT_NEVER, &got), -EPIPE);
    WT_EQ(got, 3);
    /* writing to a closed peer: -EPIPE or -ECONNRESET, never SIGPIPE */
    int rc = 0;
    for (int i = 0; i < 100 && rc >= 0; i++)
        rc = weft_write(fd, "x", 1, WEFT_NEVER);
    WT_ASSERT(rc == -EPIPE || rc == -ECONNRESET);
    weft_close(fd);
    /* a port nobody listens on */
    weft_close(lfd);
    WT_ERR(weft_tcp_connect_addr(&bound, weft_deadline_in(WEFT_SEC), &fd), -ECONNREFUSED);
    WT_ERR(weft_read(-1, buf, 1, WEFT_NEVER), -EBADF);
    return 0;
}

static void test_edges(void)
{
    int before = open_fds();
    WT_OK(run(edge_main, NULL));
    WT_EQ(open_fds(), before);
    char buf[1];
    WT_ERR(weft_read(0, buf, 1, WEFT_NEVER), -EPERM); /* not in a task */
}

/* ---- name lookups and UDP ---------------------------------------------------------------- */

static int udp_dns_main(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    weft_addr addrs[4];
    int n = weft_resolve("localhost", "80", SOCK_STREAM, weft_deadline_in(5 * WEFT_SEC), addrs, 4);
    WT_GT(n, 0);
    WT_EQ(weft_addr_port(&addrs[0]), 80);
    WT_ERR(weft_resolve("127.0.0.1", "no-such-service-x", SOCK_STREAM, WEFT_NEVER, addrs, 4),
           WEFT_EAI_SERVICE);
    WT_ERR(weft_resolve(NULL, NULL, SOCK_STREAM, WEFT_NEVER, addrs, 4), -EINVAL);

    int a, b;
    weft_addr aa, ba, from;
    WT_OK(weft_udp_bind("127.0.0.1", "0", &a, &aa));
    WT_OK(weft_udp_bind("127.0.0.1", "0", &b, &ba));
    char buf[32];
    WT_ERR(weft_recvfrom(b, buf, sizeof buf, &from, weft_deadline_in(WEFT_MSEC)), -ETIMEDOUT);
    WT_EQ(weft_sendto(a, "ping", 4, &ba, WEFT_NEVER), 4);
    WT_EQ(weft_recvfrom(b, buf, sizeof buf, &from, WEFT_NEVER), 4);
    WT_ASSERT(memcmp(buf, "ping", 4) == 0);
    WT_EQ(weft_addr_port(&from), weft_addr_port(&aa));
    weft_close(a);
    weft_close(b);
    return 0;
}

static void test_udp_and_lookups(void)
{
    WT_OK(run(udp_dns_main, NULL));
}

/* ---- 10k operations in flight, cancelled ---------------------------------------------------- */

static int udp_waiter(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    int fd;
    WT_OK(weft_udp_bind("127.0.0.1", "0", &fd, NULL));
    char buf[8];
    int rc = weft_recvfrom(fd, buf, sizeof buf, NULL, WEFT_NEVER);
    weft_close(fd);
    return rc;
}

static int cancel_many_main(void *arg, weft_value *result)
{
    (void)result;
    int n = *(int *)arg;
    weft_future **fs = calloc((size_t)n, sizeof *fs);
    WT_ASSERT(fs);
    for (int i = 0; i < n; i++)
        WT_OK(weft_spawn(NULL, udp_waiter, NULL, NULL, &fs[i]));
    WT_OK(weft_task_yield()); /* every one is parked in its receive now */
    WT_OK(weft_task_yield());
    for (int i = 0; i < n; i++)
        WT_ERR(weft_future_cancel(fs[i]), -EBUSY);
    int errs = 0;
    for (int i = 0; i < n; i++) {
        WT_ERR(weft_future_result(fs[i], WEFT_NEVER, NULL), -ECANCELED);
        errs++;
        weft_future_unref(fs[i]);
    }
    free(fs);
    WT_EQ(errs, n);
    return 0;
}

static void test_cancel_many_in_flight(void)
{
    long limit = fd_limit();
    int n = WT_SCALE(10000);
    if (limit < n + 64)
        n = (int)limit - 64;
    int before = open_fds();
    WT_OK(run(cancel_many_main, &n));
    WT_EQ(open_fds(), before);
}

/* ---- files, signals, processes ------------------------------------------------------------ */

static int file_main(void *arg, weft_value *result)
{
    (void)result;
    int fd = *(int *)arg;
    char big[10000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    WT_EQ(weft_file_pwrite(fd, big, sizeof big, 100, WEFT_NEVER), (int)sizeof big);
    char back[10000];
    WT_EQ(weft_file_pread(fd, back, sizeof back, 100, WEFT_NEVER), (int)sizeof back);
    WT_ASSERT(memcmp(big, back, sizeof big) == 0);
    WT_EQ(weft_file_pread(fd, back, sizeof back, 1 << 20, WEFT_NEVER), 0); /* past the end */
    WT_ERR(weft_file_pread(fd, back, 1, -1, WEFT_NEVER), -EINVAL);
    return 0;
}

static void test_files(void)
{
    char path[] = "/tmp/weft-net-test-XXXXXX";
    int fd = mkstemp(path);
    WT_ASSERT(fd >= 0);
    unlink(path);
    WT_OK(run(file_main, &fd));
    close(fd);
}

static int raiser(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    WT_OK(weft_sleep_for(WEFT_MSEC));
    raise(SIGUSR1);
    return 0;
}

static int signal_main(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    uint64_t set = WEFT_SIG(SIGUSR1);
    WT_ERR(weft_signal_wait(0, WEFT_NEVER), -EINVAL);
    WT_ERR(weft_signal_wait(set, weft_deadline_in(WEFT_MSEC)), -ETIMEDOUT);
    weft_future *f;
    WT_OK(weft_spawn(NULL, raiser, NULL, NULL, &f));
    WT_EQ(weft_signal_wait(set, weft_deadline_in(10 * WEFT_SEC)), SIGUSR1);
    WT_OK(weft_future_wait(f, WEFT_NEVER));
    weft_future_unref(f);
    return 0;
}

static void test_signals(void)
{
    WT_OK(run(signal_main, NULL));
}

static int process_main(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    char *echo[] = {"echo", "hello from a child", NULL};
    weft_process_opts po = {.pipe_stdout = true};
    weft_process p;
    WT_OK(weft_process_spawn(echo, &po, &p));
    char buf[64] = {0};
    size_t got = 0;
    WT_ERR(weft_read_exact(p.out_fd, buf, sizeof buf, weft_deadline_in(10 * WEFT_SEC), &got),
           -EPIPE);
    WT_ASSERT(strcmp(buf, "hello from a child\n") == 0);
    int status;
    WT_OK(weft_process_wait(&p, weft_deadline_in(10 * WEFT_SEC), &status));
    WT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    WT_OK(weft_close(p.out_fd)); /* the caller's, after the wait */

    char *sleeper[] = {"sleep", "10", NULL};
    WT_OK(weft_process_spawn(sleeper, NULL, &p));
    WT_ERR(weft_process_wait(&p, weft_deadline_in(20 * WEFT_MSEC), &status), -ETIMEDOUT);
    kill(p.pid, SIGTERM);
    WT_OK(weft_process_wait(&p, weft_deadline_in(10 * WEFT_SEC), &status));
    WT_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

    char *missing[] = {"weft-no-such-program", NULL};
    WT_ERR(weft_process_spawn(missing, NULL, &p), -ENOENT);
    return 0;
}

static void test_processes(void)
{
    int before = open_fds();
    WT_OK(run(process_main, NULL));
    WT_EQ(open_fds(), before);
}

int main(void)
{
    /* Before any thread exists, so that no thread takes SIGUSR1 the default
     * way (weft_signals_block's rule). */
    wt_require_backend();
    WT_OK(weft_signals_block(WEFT_SIG(SIGUSR1)));
    WT_RUN(test_signals);
    WT_RUN(test_echo_many_connections);
    WT_RUN(test_edges);
    WT_RUN(test_udp_and_lookups);
    WT_RUN(test_cancel_many_in_flight);
    WT_RUN(test_files);
    WT_RUN(test_processes);
    return 0;
}
