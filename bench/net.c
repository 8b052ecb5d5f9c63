/* TCP echo kernels for `weft bench`: a server loop on one thread echoes for
 * C client connections driven by a client loop on another thread, over
 * loopback. Each client writes a 64-byte message and reads it back, again
 * and again; one op is one message echoed. The libuv peer runs the same
 * shape (two uv loops on two threads), the Go peer goroutines. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/sync.h>

#include "bench/bench.h"

enum { MSG = 64 };

typedef struct echo_bench {
    int conns;
    long per_conn;
    int lfd;
    char port[16];
    weft_event listening, go;
    _Atomic int connected;
    _Atomic long echoed;
    double seconds;
    int rc;
} echo_bench;

static int serve_conn(void *arg, weft_value *result)
{
    (void)result;
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        int n = weft_read(fd, buf, sizeof buf, WEFT_NEVER);
        if (n <= 0 || weft_write_all(fd, buf, (size_t)n, WEFT_NEVER, NULL) < 0)
            break;
    }
    weft_close(fd);
    return 0;
}

static int server_main(void *arg, weft_value *result)
{
    (void)result;
    echo_bench *b = arg;
    weft_addr bound;
    int rc = weft_tcp_listen("127.0.0.1", "0", 4096, &b->lfd, &bound);
    if (rc == 0)
        snprintf(b->port, sizeof b->port, "%d", weft_addr_port(&bound));
    weft_event_set(&b->listening);
    if (rc < 0)
        return rc;
    weft_group g;
    weft_group_init(&g);
    for (int i = 0; i < b->conns; i++) {
        int fd;
        rc = weft_accept(b->lfd, WEFT_NEVER, &fd, NULL);
        if (rc < 0)
            break;
        rc = weft_group_spawn(&g, serve_conn, (void *)(intptr_t)fd, NULL, NULL);
        if (rc < 0)
            break;
    }
    weft_close(b->lfd);
    int wrc = weft_group_wait(&g); /* the connections end when the clients close */
    return rc < 0 ? rc : wrc;
}

static void *server_thread(void *arg)
{
    weft_loop_opts o = {.stack_size = 16 * 1024};
    ((echo_bench *)arg)->rc = weft_run(server_main, arg, &o, NULL);
    return NULL;
}

static int client(void *arg, weft_value *result)
{
    (void)result;
    echo_bench *b = arg;
    int fd;
    int rc = weft_tcp_connect("127.0.0.1", b->port, WEFT_NEVER, &fd);
    atomic_fetch_add(&b->connected, 1);
    if (rc < 0)
        return rc;
    weft_event_wait(&b->go, WEFT_NEVER);
    char out[MSG], in[MSG];
    memset(out, 'x', sizeof out);
    for (long i = 0; i < b->per_conn && rc == 0; i++) {
        rc = weft_write_all(fd, out, MSG, WEFT_NEVER, NULL);
        if (rc == 0)
            rc = weft_read_exact(fd, in, MSG, WEFT_NEVER, NULL);
    }
    atomic_fetch_add(&b->echoed, b->per_conn);
    weft_close(fd);
    return rc;
}

static int clients_main(void *arg, weft_value *result)
{
    (void)result;
    echo_bench *b = arg;
    weft_group g;
    weft_group_init(&g);
    for (int i = 0; i < b->conns; i++)
        if (weft_group_spawn(&g, client, b, NULL, NULL) < 0)
            break;
    while (atomic_load(&b->connected) < b->conns)
        weft_sleep_for(WEFT_MSEC);
    double t0 = weft_bench_seconds();
    weft_event_set(&b->go);
    int rc = weft_group_wait(&g);
    b->seconds = weft_bench_seconds() - t0;
    return rc;
}

static double echo(long n, int conns)
{
    echo_bench b = {.conns = conns, .per_conn = n / conns > 0 ? n / conns : 1};
    weft_event_init(&b.listening);
    weft_event_init(&b.go);
    pthread_t server;
    if (pthread_create(&server, NULL, server_thread, &b) != 0)
        return -EAGAIN;
    weft_event_wait(&b.listening, WEFT_NEVER);
    weft_loop_opts o = {.stack_size = 16 * 1024};
    int rc = weft_run(clients_main, &b, &o, NULL);
    pthread_join(server, NULL);
    if (rc < 0)
        return rc;
    if (b.rc < 0)
        return b.rc;
    /* Scaled to n messages: conns * per_conn may round n down. */
    return b.seconds * (double)n / (double)(b.per_conn * conns);
}

static double echo_100(long n)
{
    return echo(n, 100);
}

static double echo_1000(long n)
{
    return echo(n, 1000);
}

const weft_bench_kernel weft_bench_net_kernels[] = {
    {"tcp_echo_100", "one 64-byte message echoed, 100 connections, server and clients on 2 loops",
     "tcp_echo_100", 400000, echo_100},
    {"tcp_echo_1000", "one 64-byte message echoed, 1000 connections, server and clients on 2 loops",
     "tcp_echo_1000", 400000, echo_1000},
    {0},
};
