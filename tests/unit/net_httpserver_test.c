/* The HTTP/1.1 server (weft/http.h), with raw clients on loopback:
 * - keep-alive: requests one after another on one connection, and
 *   pipelined in one write, each answered in order;
 * - routing: 404, 405, HEAD (the length, no body), the handler's error
 *   and a handler that does not reply (500);
 * - bodies: Content-Length and chunked request bodies reach the handler,
 *   "Expect: 100-continue" gets its interim response;
 * - bad requests: 400 (with the parser's reason), 431, 413, and the
 *   connection closed after each;
 * - timeouts: a head that does not arrive in time gets 408 (slowloris),
 *   an idle connection is closed;
 * - static files: a file, a directory's index, a file larger than one
 *   block, and every path that must not name a file;
 * - shutdown: a request in flight finishes (with Connection: close) while
 *   idle connections are closed; at the deadline a stuck handler is
 *   cancelled; serve returns, and no connection is left;
 * - max_connections: one more waits until a connection ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/future.h>
#include <weft/http.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/time.h>

#include "weft_test.h"

static char port[16];
static weft_http_server *server;
static weft_future *hold; /* the slow handler waits for it */

/* ---- handlers ----------------------------------------------------------------------------- */

static const weft_http_header text = {"Content-Type", "text/plain", 12, 10};

static int hello(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    char body[256];
    int n = snprintf(body, sizeof body, "hello %s?%s", req->path, req->query);
    return weft_http_reply_send(reply, 200, &text, 1, body, (size_t)n);
}

static int echo(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    return weft_http_reply_send(reply, 200, &text, 1, req->body, req->body_len);
}

static int failing(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    (void)req;
    (void)reply;
    return -EIO;
}

static int silent(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    (void)req;
    (void)reply;
    return 0;
}

/* 204 takes no body: refused, then sent without. */
static int nocontent(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    (void)req;
    if (weft_http_reply_send(reply, 204, NULL, 0, "body", 4) != -EINVAL ||
        weft_http_reply_send(reply, 103, NULL, 0, NULL, 0) != -EINVAL)
        return -EPROTO;
    return weft_http_reply_send(reply, 204, NULL, 0, NULL, 0);
}

static int slow(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    (void)req;
    int rc = weft_future_wait(hold, WEFT_NEVER);
    if (rc < 0 || weft_task_cancelled())
        return -ECANCELED;
    return weft_http_reply_send(reply, 200, &text, 1, "slow", 4);
}

/* ---- a raw client ------------------------------------------------------------------------- */

typedef struct response {
    int status;
    bool close; /* Connection: close */
    char body[300000];
    size_t body_len;
} response;

static int connect_server(void)
{
    int fd;
    WT_OK(weft_tcp_connect("127.0.0.1", port, weft_deadline_in(5 * WEFT_SEC), &fd));
    return fd;
}

static void send_raw(int fd, const char *raw)
{
    WT_OK(weft_write_all(fd, raw, strlen(raw), weft_deadline_in(5 * WEFT_SEC), NULL));
}

/* Read one response from fd (bytes of a previous read kept in *pending).
 * Returns 0, or -EPIPE when the connection ends before a response. */
static char pending[1 << 19];
static size_t npending;

static int read_response(int fd, response *r, bool head_request)
{
    weft_http_head h;
    weft_http_head_reset(&h);
    int hl;
    while ((hl = weft_http_parse_head(&h, false, head_request ? "HEAD" : "GET", pending,
                                      npending)) == -EAGAIN) {
        int n = weft_read(fd, pending + npending, sizeof pending - npending,
                          weft_deadline_in(5 * WEFT_SEC));
        if (n <= 0)
            return -EPIPE;
        npending += (size_t)n;
    }
    WT_GT(hl, 0);
    r->status = h.status;
    size_t v;
    const char *conn = weft_http_header_get(&h, "connection", &v);
    r->close = conn && v == 5 && strncmp(conn, "close", 5) == 0;
    size_t len = h.body == WEFT_HTTP_BODY_LENGTH ? (size_t)h.content_length : 0;
    if (head_request) {
        const char *cl = weft_http_header_get(&h, "content-length", NULL);
        WT_ASSERT(cl);
        r->body_len = (size_t)atol(cl);
        len = 0;
    }
    while (npending < (size_t)hl + len) {
        int n = weft_read(fd, pending + npending, sizeof pending - npending,
                          weft_deadline_in(5 * WEFT_SEC));
        WT_GT(n, 0);
        npending += (size_t)n;
    }
    if (!head_request) {
        memcpy(r->body, pending + hl, len);
        r->body_len = len;
    }
    r->body[len] = 0;
    memmove(pending, pending + hl + len, npending - (size_t)hl - len);
    npending -= (size_t)hl + len;
    return 0;
}

static response resp;
#define expect_closed(fd) expect_closed_(fd, __LINE__)

static void expect_closed_(int fd, int line)
{
    char c;
    if (weft_read(fd, &c, 1, weft_deadline_in(5 * WEFT_SEC)) != 0)
        WT_FAIL_("line %d: the connection was not closed", line);
    weft_close(fd);
    npending = 0;
}

/* ---- the tests, in one loop ---------------------------------------------------------------- */

static char dir[] = "/tmp/weft-http-XXXXXX";
static char *big;
enum { BIG = 200000 };

static void make_files(void)
{
    WT_ASSERT(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("file a\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/sub", dir);
    WT_EQ(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sub/index.html", dir);
    f = fopen(path, "w");
    fputs("<p>index</p>\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/big.bin", dir);
    big = malloc(BIG);
    for (int i = 0; i < BIG; i++)
        big[i] = (char)(i * 7 + i / 1000);
    f = fopen(path, "w");
    fwrite(big, 1, BIG, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/.secret", dir);
    f = fopen(path, "w");
    fputs("hidden\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/up", dir);
    WT_EQ(symlink("/", path), 0);
    snprintf(path, sizeof path, "%s/space name.txt", dir);
    f = fopen(path, "w");
    fputs("spaced\n", f);
    fclose(f);
}

static void remove_files(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    WT_EQ(system(cmd), 0);
    free(big);
}

static void keep_alive_and_routes(void)
{
    int fd = connect_server();
    send_raw(fd, "GET /hello/x?y=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 200);
    WT_STREQ(resp.body, "hello /hello/x?y=1");
    WT_ASSERT(!resp.close);
    /* The same connection, then three pipelined in one write. */
    send_raw(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_STREQ(resp.body, "hello /hello?");
    send_raw(fd, "GET /hello/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /hello/2 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    WT_OK(read_response(fd, &resp, false));
    WT_STREQ(resp.body, "hello /hello/1?");
    WT_OK(read_response(fd, &resp, false));
    WT_STREQ(resp.body, "hello /hello/2?");
    WT_OK(read_response(fd, &resp, false));
    WT_STREQ(resp.body, "abc");
    /* Routing answers. */
    send_raw(fd, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 404);
    send_raw(fd, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, true));
    WT_EQ(resp.status, 200);
    WT_EQ(resp.body_len, 13); /* "hello /hello?" */
    send_raw(fd, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 405);
    WT_ASSERT(resp.close);
    expect_closed(fd);
    fd = connect_server();
    send_raw(fd, "GET /fail HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 500);
    expect_closed(fd);
    fd = connect_server();
    send_raw(fd, "GET /silent HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 500);
    expect_closed(fd);
    /* HTTP/1.0: closed after the reply unless it asked to keep. */
    fd = connect_server();
    send_raw(fd, "GET /hello HTTP/1.0\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_ASSERT(resp.close);
    expect_closed(fd);
}

static void bodies(void)
{
    int fd = connect_server();
    send_raw(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "4\r\nwi-f\r\n5;ext=1\r\ni in \r\n4\r\nCSV!\r\n0\r\nX-T: 1\r\n\r\n"
                 "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_STREQ(resp.body, "wi-fi in CSV!");
    WT_OK(read_response(fd, &resp, false));
    WT_STREQ(resp.body, "hello /hello?");
    /* Expect: 100-continue: the interim response comes before the body is sent. */
    send_raw(fd,
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 100);
    send_raw(fd, "12345");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 200);
    WT_STREQ(resp.body, "12345");
    weft_close(fd);
    npending = 0;
}

static void bad_requests(void)
{
    static const struct {
        const char *raw;
        int status;
        const char *why;
    } cases[] = {
        {"GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "LF alone"},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n", 413, NULL},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n", 413, NULL},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
         "hexadecimal"},
        {"GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n", 400, "control character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = connect_server();
        send_raw(fd, cases[i].raw);
        if (cases[i].status == 413 && strstr(cases[i].raw, "7d0")) {
            char chunk[2001];
            memset(chunk, 'x', 2000);
            chunk[2000] = 0;
            send_raw(fd, chunk);
        }
        WT_OK(read_response(fd, &resp, false));
        if (resp.status != cases[i].status || (cases[i].why && !strstr(resp.body, cases[i].why)))
            WT_FAIL_("case %zu: %d \"%s\"", i, resp.status, resp.body);
        WT_ASSERT(resp.close);
        expect_closed(fd);
    }
    /* HTTP/1.1 without a Host, or with two; a HEAD's error has no body;
     * a body too large gets 413 at once, not 100 Continue. */
    static const char *hosts[] = {"GET /hello HTTP/1.1\r\n\r\n",
                                  "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"};
    for (int i = 0; i < 2; i++) {
        int h = connect_server();
        send_raw(h, hosts[i]);
        WT_OK(read_response(h, &resp, false));
        WT_EQ(resp.status, 400);
        WT_ASSERT(strstr(resp.body, "Host"));
        expect_closed(h);
    }
    int hf = connect_server();
    send_raw(hf, "HEAD /static/a%zz HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(hf, &resp, true));
    WT_EQ(resp.status, 400);
    expect_closed(hf); /* no body bytes before the end */
    hf = connect_server();
    send_raw(
        hf,
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
    WT_OK(read_response(hf, &resp, false));
    WT_EQ(resp.status, 413);
    expect_closed(hf);
    /* A head line over 64 KiB. */
    int fd = connect_server();
    send_raw(fd, "GET / HTTP/1.1\r\nHost: t\r\nX: ");
    char *line = malloc(70000);
    memset(line, 'v', 69999);
    line[69999] = 0;
    size_t sent;
    weft_write_all(fd, line, 69999, weft_deadline_in(5 * WEFT_SEC), &sent);
    free(line);
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 431);
    expect_closed(fd);
}

static void timeouts(void)
{
    /* Slowloris: half a head, then nothing. */
    int fd = connect_server();
    int64_t t0 = weft_now();
    send_raw(fd, "GET / HTTP/1.1\r\nHost: t\r\nHost:");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 408);
    WT_GE(weft_now() - t0, 100 * WEFT_MSEC);
    expect_closed(fd);
    /* Idle: closed without a word. */
    fd = connect_server();
    expect_closed(fd);
}

static void static_files(void)
{
    int fd = connect_server();
    send_raw(fd, "GET /static/a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 200);
    WT_STREQ(resp.body, "file a\n");
    send_raw(fd, "GET /static/sub/ HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_STREQ(resp.body, "<p>index</p>\n");
    send_raw(fd, "GET /static/space%20name.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_STREQ(resp.body, "spaced\n");
    send_raw(fd, "GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.body_len, BIG);
    WT_EQ(memcmp(resp.body, big, BIG), 0);
    send_raw(fd, "HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, true));
    WT_EQ(resp.body_len, BIG);
    send_raw(fd, "GET /static/missing.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 404);
    /* Dot files are not served; a link out of the directory is not followed. */
    send_raw(fd, "GET /static/.secret HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 404);
    send_raw(fd, "GET /static/up/etc/hostname HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 404);
    /* 204: no length, no body, and the connection goes on. */
    send_raw(fd,
             "GET /nocontent HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 204);
    WT_EQ(resp.body_len, 0);
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 200);
    weft_close(fd);
    npending = 0;
    static const char *refused[] = {"/static/../etc/passwd", "/static/%2e%2e/x", "/static/a//b",
                                    "/static/./a.txt",       "/static/a%00.txt", "/static/%zz"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        fd = connect_server();
        char raw[256];
        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", refused[i]);
        send_raw(fd, raw);
        WT_OK(read_response(fd, &resp, false));
        if (resp.status != 400)
            WT_FAIL_("%s: %d", refused[i], resp.status);
        expect_closed(fd);
    }
}

/* The rest of the tests, then the shutdown, as a client task. */
static int clients(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    keep_alive_and_routes();
    bodies();
    bad_requests();
    timeouts();
    static_files();
    /* Shutdown: one request in flight (the slow handler), one idle
     * connection; the idle one is closed at once, the slow one answered. */
    int busy = connect_server(), idle = connect_server();
    send_raw(busy, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    send_raw(idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(idle, &resp, false));
    weft_task_yield();
    weft_http_server_shutdown(server, weft_deadline_in(10 * WEFT_SEC));
    expect_closed(idle);
    weft_future_complete(hold, (weft_value){0}, 0);
    WT_OK(read_response(busy, &resp, false));
    WT_STREQ(resp.body, "slow");
    WT_ASSERT(resp.close);
    expect_closed(busy);
    return 0;
}

static int serving(void *arg, weft_value *result)
{
    (void)result;
    return weft_http_server_serve(server, (int)(intptr_t)arg);
}

static size_t max_connections, max_body = 1000;

static void start(int64_t header, int64_t idle, int *lfd)
{
    weft_http_server_opts o = {.max_body = max_body,
                               .header_timeout = header,
                               .idle_timeout = idle,
                               .max_connections = max_connections};
    WT_OK(weft_http_server_create(&server, &o));
    WT_OK(weft_http_server_route(server, NULL, "/hello", hello, NULL));
    WT_OK(weft_http_server_route(server, "POST", "/echo", echo, NULL));
    WT_OK(weft_http_server_route(server, NULL, "/fail", failing, NULL));
    WT_OK(weft_http_server_route(server, NULL, "/silent", silent, NULL));
    WT_OK(weft_http_server_route(server, NULL, "/slow", slow, NULL));
    WT_OK(weft_http_server_route(server, NULL, "/nocontent", nocontent, NULL));
    WT_OK(weft_http_server_static(server, "/static/", dir));
    weft_addr bound;
    WT_OK(weft_tcp_listen("127.0.0.1", "0", 128, lfd, &bound));
    snprintf(port, sizeof port, "%d", weft_addr_port(&bound));
}

static int main_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    int lfd;
    start(150 * WEFT_MSEC, 150 * WEFT_MSEC, &lfd);
    WT_OK(weft_future_create(&hold));
    weft_future *srv, *cli;
    WT_OK(weft_spawn(NULL, serving, (void *)(intptr_t)lfd, NULL, &srv));
    WT_OK(weft_spawn(NULL, clients, NULL, NULL, &cli));
    WT_OK(weft_future_result(cli, WEFT_NEVER, NULL));
    WT_OK(weft_future_result(srv, WEFT_NEVER, NULL));
    weft_future_unref(cli);
    weft_future_unref(srv);
    weft_future_unref(hold);
    weft_http_server_stats st;
    weft_http_server_stats_get(server, &st);
    WT_GT(st.requests, 20);
    WT_GE(st.timeouts, 1);
    weft_http_server_destroy(server);
    /* The deadline: a stuck handler is cancelled, serve returns. */
    WT_OK(weft_future_create(&hold));
    start(10 * WEFT_SEC, 10 * WEFT_SEC, &lfd);
    WT_OK(weft_spawn(NULL, serving, (void *)(intptr_t)lfd, NULL, &srv));
    int fd = connect_server();
    send_raw(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    while (weft_http_server_stats_get(server, &st), st.requests == 0)
        weft_task_yield();
    weft_http_server_shutdown(server, weft_deadline_in(50 * WEFT_MSEC));
    WT_OK(weft_future_result(srv, weft_deadline_in(5 * WEFT_SEC), NULL));
    expect_closed(fd);
    weft_future_unref(srv);
    weft_future_unref(hold);
    weft_http_server_destroy(server);
    weft_close(lfd);
    /* Bodies larger than the first read buffer (it grows while the head
     * is in use: the handler must see the request intact). */
    max_body = 100000;
    start(10 * WEFT_SEC, 10 * WEFT_SEC, &lfd);
    WT_OK(weft_spawn(NULL, serving, (void *)(intptr_t)lfd, NULL, &srv));
    fd = connect_server();
    char *big_body = malloc(60000), *raw = malloc(140000);
    for (int i = 0; i < 60000; i++)
        big_body[i] = (char)('a' + i % 26);
    int rn = sprintf(raw, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 60000\r\n\r\n");
    memcpy(raw + rn, big_body, 60000);
    WT_OK(weft_write_all(fd, raw, (size_t)rn + 60000, weft_deadline_in(5 * WEFT_SEC), NULL));
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.status, 200);
    WT_EQ(resp.body_len, 60000);
    WT_EQ(memcmp(resp.body, big_body, 60000), 0);
    rn = sprintf(raw, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int k = 0; k < 60000; k += 3000)
        rn += sprintf(raw + rn, "bb8\r\n%.3000s\r\n", big_body + k);
    rn += sprintf(raw + rn, "0\r\n\r\n");
    WT_OK(weft_write_all(fd, raw, (size_t)rn, weft_deadline_in(5 * WEFT_SEC), NULL));
    WT_OK(read_response(fd, &resp, false));
    WT_EQ(resp.body_len, 60000);
    WT_EQ(memcmp(resp.body, big_body, 60000), 0);
    free(big_body);
    free(raw);
    weft_close(fd);
    npending = 0;
    weft_http_server_shutdown(server, weft_deadline_in(WEFT_SEC));
    WT_OK(weft_future_result(srv, weft_deadline_in(5 * WEFT_SEC), NULL));
    weft_future_unref(srv);
    weft_http_server_destroy(server);
    weft_close(lfd);
    max_body = 1000;
    /* A shutdown asked for before serve starts is kept: serve returns. */
    start(10 * WEFT_SEC, 10 * WEFT_SEC, &lfd);
    weft_http_server_shutdown(server, weft_now());
    WT_OK(weft_spawn(NULL, serving, (void *)(intptr_t)lfd, NULL, &srv));
    WT_OK(weft_future_result(srv, weft_deadline_in(5 * WEFT_SEC), NULL));
    weft_future_unref(srv);
    weft_http_server_destroy(server);
    weft_close(lfd);
    /* The Server header is checked like any value. */
    weft_http_server *bad;
    WT_ERR(weft_http_server_create(&bad, &(weft_http_server_opts){.server = "weft\r\nX: 1"}),
           -EINVAL);
    /* max_connections 1: a second connection waits in the backlog until
     * the first ends. */
    max_connections = 1;
    start(10 * WEFT_SEC, 10 * WEFT_SEC, &lfd);
    WT_OK(weft_spawn(NULL, serving, (void *)(intptr_t)lfd, NULL, &srv));
    int first = connect_server(), second = connect_server();
    send_raw(first, "GET /hello/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    WT_OK(read_response(first, &resp, false));
    send_raw(second, "GET /hello/2 HTTP/1.1\r\nHost: t\r\n\r\n");
    char c;
    WT_ERR(weft_read(second, &c, 1, weft_deadline_in(100 * WEFT_MSEC)), -ETIMEDOUT);
    weft_close(first);
    WT_OK(read_response(second, &resp, false));
    WT_STREQ(resp.body, "hello /hello/2?");
    weft_http_server_stats_get(server, &st);
    WT_EQ(st.connections, 2);
    weft_http_server_shutdown(server, weft_deadline_in(WEFT_SEC));
    WT_OK(weft_future_result(srv, weft_deadline_in(5 * WEFT_SEC), NULL));
    expect_closed(second);
    weft_future_unref(srv);
    weft_http_server_destroy(server);
    weft_close(lfd);
    return 0;
}

static void test_server(void)
{
    make_files();
    WT_OK(weft_run(main_task, NULL, NULL, NULL));
    remove_files();
}

int main(void)
{
    WT_RUN(test_server);
    return 0;
}
