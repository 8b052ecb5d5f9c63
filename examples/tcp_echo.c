/* A TCP echo server and its clients on the event loop: the server accepts
 * connections and runs one task per connection (read, write back); 200
 * client tasks each send 500 messages of 64 bytes and check every echo.
 * Prints messages per second and the round-trip latency percentiles, and
 * the loop backend that carried them (io_uring or epoll).
 *
 *   tcp_echo [connections] [messages per connection] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/loop.h>
#include <weft/metrics.h>
#include <weft/net.h>
#include <weft/time.h>

enum { MSG = 64 };

static int conns = 200, msgs = 500;
static char port[16];
static weft_histogram *rtt;

static int serve(void *arg, weft_value *result)
{
    (void)result;
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    int n;
    while ((n = weft_read(fd, buf, sizeof buf, WEFT_NEVER)) > 0)
        if (weft_write_all(fd, buf, (size_t)n, WEFT_NEVER, NULL) < 0)
            break;
    weft_close(fd);
    return 0;
}

static int server(void *arg, weft_value *result)
{
    (void)result;
    int lfd = (int)(intptr_t)arg;
    weft_group g;
    weft_group_init(&g);
    for (int i = 0; i < conns; i++) {
        int fd;
        int rc = weft_accept(lfd, weft_deadline_in(10 * WEFT_SEC), &fd, NULL);
        if (rc < 0) {
            fprintf(stderr, "accept: %s\n", weft_strerror(rc));
            break;
        }
        weft_group_spawn(&g, serve, (void *)(intptr_t)fd, NULL, NULL);
    }
    return weft_group_wait(&g);
}

static int client(void *arg, weft_value *result)
{
    (void)arg;
    int fd;
    int rc = weft_tcp_connect("127.0.0.1", port, weft_deadline_in(10 * WEFT_SEC), &fd);
    if (rc < 0)
        return rc;
    char out[MSG], in[MSG];
    for (int m = 0; m < msgs && rc == 0; m++) {
        snprintf(out, sizeof out, "%-*d", MSG - 1, m);
        int64_t t0 = weft_now();
        rc = weft_write_all(fd, out, MSG, weft_deadline_in(10 * WEFT_SEC), NULL);
        if (rc == 0)
            rc = weft_read_exact(fd, in, MSG, weft_deadline_in(10 * WEFT_SEC), NULL);
        if (rc == 0 && memcmp(in, out, MSG) != 0)
            rc = -EPROTO;
        weft_histogram_record(rtt, weft_now() - t0);
        result->i64++;
    }
    weft_close(fd);
    return rc;
}

static int main_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    int lfd;
    weft_addr bound;
    int rc = weft_tcp_listen("127.0.0.1", "0", 1024, &lfd, &bound);
    if (rc < 0)
        return rc;
    snprintf(port, sizeof port, "%d", weft_addr_port(&bound));
    char where[64];
    weft_addr_format(&bound, where, sizeof where);
    printf("echo server on %s (%s backend), %d clients x %d messages of %d bytes\n", where,
           weft_loop_backend_name(weft_loop_current()), conns, msgs, MSG);
    weft_future *srv;
    weft_spawn(NULL, server, (void *)(intptr_t)lfd, NULL, &srv);
    int64_t t0 = weft_now();
    weft_group g;
    weft_group_init(&g);
    for (int i = 0; i < conns; i++)
        weft_group_spawn(&g, client, NULL, NULL, NULL);
    rc = weft_group_wait(&g);
    double s = (double)(weft_now() - t0) / 1e9;
    int src = weft_future_result(srv, WEFT_NEVER, NULL);
    weft_future_unref(srv);
    weft_close(lfd);
    weft_histogram_summary sum;
    weft_histogram_summarize(rtt, &sum);
    printf("%llu messages echoed in %.2f s: %.0f msg/s\n", (unsigned long long)sum.count, s,
           (double)sum.count / s);
    printf("round trip: p50 %.0f us, p99 %.0f us, max %.0f us\n", sum.p50 / 1e3, sum.p99 / 1e3,
           sum.max / 1e3);
    if (rc < 0 || src < 0)
        fprintf(stderr, "failed: %s\n", weft_strerror(rc < 0 ? rc : src));
    return rc < 0 ? rc : src;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        conns = atoi(argv[1]);
    if (argc > 2)
        msgs = atoi(argv[2]);
    if (conns <= 0 || msgs <= 0) {
        fprintf(stderr, "usage: tcp_echo [connections > 0] [messages > 0]\n");
        return 2;
    }
    if (weft_histogram_create(&rtt, NULL) < 0)
        return 1;
    int rc = weft_run(main_task, NULL, NULL, NULL);
    weft_histogram_destroy(rtt);
    return rc == 0 ? 0 : 1;
}
