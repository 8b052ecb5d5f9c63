/* The libuv peer for `weft bench`: uv_queue_work on weft's pool_tiny_outside
 * workload, scaled down (it runs ~10x slower than weft's kernel, so a run
 * stays a couple of seconds), and the TCP echo of bench/net.c (a server
 * loop and a client loop on two threads). Prints "RESULT <name> <ops/s>", the best of
 * reps.  Usage: uv_peer [reps] [scale] [name...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Requests in flight at once: a uv_work_t is busy until its after_work has
 * run, so the run reuses a window of them instead of allocating n. */
enum { WINDOW = 65536 };

static uv_work_t reqs[WINDOW];
static long to_queue, completed;

static void tiny(uv_work_t *req)
{
    (void)req;
}

static void after_tiny(uv_work_t *req, int status)
{
    (void)status;
    completed++;
    if (to_queue > 0) {
        to_queue--;
        uv_queue_work(req->loop, req, tiny, after_tiny);
    }
}

/* One op: uv_queue_work of a tiny task from the loop thread + its run on the
 * pool + its after_work callback on the loop thread. */
static double tiny_outside(long n)
{
    uv_loop_t *loop = uv_default_loop();
    long first = n < WINDOW ? n : WINDOW;
    to_queue = n - first;
    completed = 0;
    double t0 = now();
    for (long i = 0; i < first; i++)
        uv_queue_work(loop, &reqs[i], tiny, after_tiny);
    uv_run(loop, UV_RUN_DEFAULT);
    double s = now() - t0;
    if (completed != n) {
        fprintf(stderr, "%ld of %ld tasks completed\n", completed, n);
        exit(1);
    }
    return s;
}

/* ---- TCP echo: a server loop and a client loop on two threads ---------- */

enum { MSG = 64 };

typedef struct echo_conn {
    uv_tcp_t tcp;
    uv_write_t wr;
    char buf[4096];
    char in[MSG];
    size_t got;
    long left;
    int writing, send_next; /* a uv_write_t is busy until its callback */
} echo_conn;

static struct {
    int conns;
    long per_conn;
    int port;
    uv_sem_t ready;
    int accepted;
    int connected, done;
    uv_tcp_t server;
    double t0;
} eb;

static void on_close_free(uv_handle_t *h)
{
    free(h);
}

static void srv_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
    (void)want;
    echo_conn *c = (echo_conn *)h;
    *b = uv_buf_init(c->buf, sizeof c->buf);
}

static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void srv_written2(uv_write_t *w, int status)
{
    echo_conn *c = w->data;
    if (status == 0)
        uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
}

static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    echo_conn *c = (echo_conn *)s;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close_free);
        return;
    }
    if (n == 0)
        return;
    /* Stop reading until the echo is written: the buffer is in use. */
    uv_read_stop(s);
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    c->wr.data = c;
    uv_write(&c->wr, s, &out, 1, srv_written2);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    echo_conn *c = calloc(1, sizeof *c);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
    }
    if (++eb.accepted == eb.conns)
        uv_close((uv_handle_t *)server, NULL);
}

static void server_thread(void *arg)
{
    (void)arg;
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &eb.server);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&eb.server, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&eb.server, 4096, on_connection);
    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&eb.server, (struct sockaddr *)&bound, &len);
    eb.port = ntohs(bound.sin_port);
    uv_sem_post(&eb.ready);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

static void cli_send(echo_conn *c);

static void cli_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
    (void)want;
    echo_conn *c = (echo_conn *)h;
    *b = uv_buf_init(c->in + c->got, (unsigned)(MSG - c->got));
}

static void cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    echo_conn *c = (echo_conn *)s;
    if (n < 0) {
        fprintf(stderr, "client read: %s\n", uv_strerror((int)n));
        exit(1);
    }
    c->got += (size_t)n;
    if (c->got < MSG)
        return;
    c->got = 0;
    if (--c->left > 0) {
        if (c->writing)
            c->send_next = 1; /* the echo beat the write's callback */
        else
            cli_send(c);
    } else {
        uv_read_stop(s);
        uv_close((uv_handle_t *)s, on_close_free);
        eb.done++;
    }
}

static void cli_written(uv_write_t *w, int status)
{
    echo_conn *c = w->data;
    c->writing = 0;
    if (status == 0 && c->send_next) {
        c->send_next = 0;
        cli_send(c);
    }
}

static void cli_send(echo_conn *c)
{
    memset(c->buf, 'x', MSG);
    uv_buf_t out = uv_buf_init(c->buf, MSG);
    c->writing = 1;
    c->wr.data = c;
    uv_write(&c->wr, (uv_stream_t *)&c->tcp, &out, 1, cli_written);
}

static void on_connect(uv_connect_t *req, int status)
{
    echo_conn *c = req->data;
    free(req);
    if (status < 0) {
        fprintf(stderr, "connect: %s\n", uv_strerror(status));
        exit(1);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    eb.connected++;
}

static echo_conn **clients;

static void start_all(uv_idle_t *idle)
{
    if (eb.connected < eb.conns)
        return;
    uv_idle_stop(idle);
    uv_close((uv_handle_t *)idle, NULL);
    eb.t0 = now();
    for (int i = 0; i < eb.conns; i++) {
        uv_read_start((uv_stream_t *)&clients[i]->tcp, cli_alloc, cli_read);
        cli_send(clients[i]);
    }
}

static double echo(long n, int conns)
{
    memset(&eb, 0, sizeof eb);
    eb.conns = conns;
    eb.per_conn = n / conns > 0 ? n / conns : 1;
    uv_sem_init(&eb.ready, 0);
    uv_thread_t srv;
    uv_thread_create(&srv, server_thread, NULL);
    uv_sem_wait(&eb.ready);
    uv_loop_t loop;
    uv_loop_init(&loop);
    clients = calloc((size_t)conns, sizeof *clients);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", eb.port, &a);
    for (int i = 0; i < conns; i++) {
        echo_conn *c = clients[i] = calloc(1, sizeof *c);
        c->left = eb.per_conn;
        uv_tcp_init(&loop, &c->tcp);
        uv_connect_t *req = malloc(sizeof *req);
        req->data = c;
        uv_tcp_connect(req, &c->tcp, (const struct sockaddr *)&a, on_connect);
    }
    uv_idle_t idle;
    uv_idle_init(&loop, &idle);
    uv_idle_start(&idle, start_all);
    uv_run(&loop, UV_RUN_DEFAULT);
    double s = now() - eb.t0;
    uv_loop_close(&loop);
    uv_thread_join(&srv);
    free(clients);
    uv_sem_destroy(&eb.ready);
    if (eb.done != conns) {
        fprintf(stderr, "%d of %d clients finished\n", eb.done, conns);
        exit(1);
    }
    return s * (double)n / (double)(eb.per_conn * conns);
}

static double echo_100(long n)
{
    return echo(n, 100);
}

static double echo_1000(long n)
{
    return echo(n, 1000);
}

/* ---- timers --------------------------------------------------------------- */

enum { TIMERS = 10000 };

static void never(uv_timer_t *t)
{
    (void)t;
}

/* One op: uv_timer_start 1-2 s away (10k armed at once) + uv_timer_stop
 * (bench/loop.c, timers_arm_cancel). */
static double timers_arm_cancel(long n)
{
    static uv_timer_t ts[TIMERS];
    uv_loop_t loop;
    uv_loop_init(&loop);
    for (int i = 0; i < TIMERS; i++)
        uv_timer_init(&loop, &ts[i]);
    uint64_t rng = 88172645463325252ull;
    long done = 0;
    double t0 = now();
    for (; done < n; done += TIMERS) {
        for (int i = 0; i < TIMERS; i++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            uv_timer_start(&ts[i], never, 1000 + rng % 1000, 0);
        }
        for (int i = TIMERS - 1; i >= 0; i--)
            uv_timer_stop(&ts[i]);
    }
    double s = now() - t0;
    for (int i = 0; i < TIMERS; i++)
        uv_close((uv_handle_t *)&ts[i], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return s * (double)n / (double)done;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    /* One pool thread per CPU (libuv's default is 4), started here by a
     * first work request so that pool creation is not timed. */
    char threads[16];
    snprintf(threads, sizeof threads, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    setenv("UV_THREADPOOL_SIZE", threads, 1);
    tiny_outside(1);
    struct {
        const char *name;
        long n;
        double (*run)(long);
    } all[] = {
        {"pool_tiny_outside", 2000000, tiny_outside},
        {"timers_arm_cancel", 10000000, timers_arm_cancel},
        {"tcp_echo_100", 400000, echo_100},
        {"tcp_echo_1000", 400000, echo_1000},
    };
    for (size_t b = 0; b < sizeof all / sizeof all[0]; b++) {
        int want = argc <= 3;
        for (int i = 3; i < argc; i++)
            want |= !strcmp(argv[i], all[b].name);
        if (!want)
            continue;
        long n = (long)(all[b].n * scale);
        if (n < 4)
            n = 4;
        double best = 0;
        for (int r = 0; r < reps; r++) {
            double ops = n / all[b].run(n);
            if (ops > best)
                best = ops;
        }
        printf("RESULT %s %.0f\n", all[b].name, best);
        fflush(stdout);
    }
    return 0;
}
