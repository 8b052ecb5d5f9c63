/* The HTTP/1.1 client (weft/http.h), against weft's server and against
 * scripted raw servers on loopback:
 * - GET, HEAD, POST; keep-alive reuse; a pooled connection the server
 *   closed is replaced without a retry;
 * - redirects: followed (absolute, path and relative Locations, 303 turns
 *   a POST into a GET), a loop ends with -ELOOP;
 * - chunked responses; a response read until close; 1xx answers skipped;
 * - failures: a server that sends a byte at a time (the deadline fires on
 *   time), one that never answers, one that resets in the middle of a
 *   body, oversized headers, connection refused;
 * - retries: lost connections and 503 are retried with backoff for GET,
 *   never for POST;
 * - the per-host limit holds; bad URLs and header injections are refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/http.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/time.h>

#include "weft_test.h"

static char base[64]; /* http://127.0.0.1:PORT of weft's server */
static weft_http_server *server;
static int inflight, max_inflight;

static const weft_http_header text = {"Content-Type", "text/plain", 12, 10};

static int hello(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    char body[128];
    int n = snprintf(body, sizeof body, "hello %s", req->path);
    return weft_http_reply_send(reply, 200, &text, 1, body, (size_t)n);
}

static int echo(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    char body[256];
    int n = snprintf(body, sizeof body, "%.*s %.*s", (int)req->head->method_len, req->head->method,
                     (int)req->body_len, req->body);
    return weft_http_reply_send(reply, 200, &text, 1, body, (size_t)n);
}

/* /r/N redirects to /r/N-1 (alternating absolute and path Locations);
 * /r/0 answers. /loop redirects to itself; /rel/a/b to "c" (relative);
 * /see-other answers a POST with 303. */
static int redirects(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    char loc[128];
    int status = 302;
    if (!strncmp(req->path, "/r/", 3)) {
        int n = atoi(req->path + 3);
        if (n == 0)
            return weft_http_reply_send(reply, 200, &text, 1, "done", 4);
        snprintf(loc, sizeof loc, "%s/r/%d", n % 2 ? base : "", n - 1);
    } else if (!strcmp(req->path, "/loop")) {
        strcpy(loc, "/loop");
    } else if (!strcmp(req->path, "/rel/a/b")) {
        strcpy(loc, "c");
    } else if (!strcmp(req->path, "/see-other")) {
        strcpy(loc, "/echo");
        status = 303;
    } else {
        return weft_http_reply_send(reply, 404, &text, 1, "no", 2);
    }
    weft_http_header h = {"Location", loc, 8, strlen(loc)};
    return weft_http_reply_send(reply, status, &h, 1, NULL, 0);
}

static int counted(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    (void)req;
    if (++inflight > max_inflight)
        max_inflight = inflight;
    weft_sleep_for(20 * WEFT_MSEC);
    inflight--;
    return weft_http_reply_send(reply, 200, &text, 1, "ok", 2);
}

/* ---- scripted servers --------------------------------------------------------------------- */

typedef enum script {
    CHUNKED,     /* a chunked response, twice on one connection */
    UNTIL_CLOSE, /* no length: the body ends with the connection */
    DRIP,        /* a head, then one body byte every 50 ms */
    SILENT,      /* reads, never answers */
    RESET,       /* 10 of 100 promised bytes, then the connection closes */
    HUGE_HEAD,   /* a 70 KiB header line */
    FLAKY,       /* closes the first two connections at once, then answers */
    BUSY,        /* 503, then 200 */
    INTERIM,     /* 100 Continue, then the answer */
} script;

typedef struct raw {
    script s;
    int lfd;
    char port[16];
    int accepted;
} raw;

static int drain_head(int fd)
{
    char buf[4096];
    size_t len = 0;
    while (!memmem(buf, len, "\r\n\r\n", 4)) {
        int n = weft_read(fd, buf + len, sizeof buf - len, weft_deadline_in(5 * WEFT_SEC));
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
    return 0;
}

static void say(int fd, const char *s)
{
    weft_write_all(fd, s, strlen(s), weft_deadline_in(5 * WEFT_SEC), NULL);
}

static int raw_conn(raw *r, int fd)
{
    int nth = ++r->accepted;
    switch (r->s) {
    case CHUNKED:
        for (int i = 0; i < 2 && drain_head(fd) == 0; i++)
            say(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n");
        break;
    case UNTIL_CLOSE:
        if (drain_head(fd) == 0)
            say(fd, "HTTP/1.1 200 OK\r\n\r\nall of it");
        break;
    case DRIP:
        if (drain_head(fd) == 0) {
            say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
            for (int i = 0; i < 100 && weft_sleep_for(50 * WEFT_MSEC) == 0; i++)
                say(fd, "x");
        }
        break;
    case SILENT: {
        char buf[512];
        while (weft_read(fd, buf, sizeof buf, weft_deadline_in(5 * WEFT_SEC)) > 0)
            ;
        break;
    }
    case RESET:
        if (drain_head(fd) == 0)
            say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        break;
    case HUGE_HEAD:
        if (drain_head(fd) == 0) {
            say(fd, "HTTP/1.1 200 OK\r\nX-Big: ");
            char *v = malloc(70000);
            memset(v, 'v', 70000);
            weft_write_all(fd, v, 70000, weft_deadline_in(5 * WEFT_SEC), NULL);
            free(v);
            say(fd, "\r\n\r\n");
        }
        break;
    case FLAKY:
        if (nth > 2 && drain_head(fd) == 0)
            say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        break;
    case INTERIM:
        if (drain_head(fd) == 0)
            say(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        break;
    case BUSY:
        if (drain_head(fd) == 0)
            say(fd, nth == 1
                        ? "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        break;
    }
    weft_close(fd);
    return 0;
}

static int raw_server(void *arg, weft_value *result)
{
    (void)result;
    raw *r = arg;
    for (;;) {
        int fd;
        if (weft_accept(r->lfd, WEFT_NEVER, &fd, NULL) < 0)
            return 0;
        raw_conn(r, fd);
    }
}

/* Start a scripted server; returns its task (cancel it to stop). */
static weft_future *start_raw(raw *r, script s)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    weft_addr bound;
    WT_OK(weft_tcp_listen("127.0.0.1", "0", 16, &r->lfd, &bound));
    snprintf(r->port, sizeof r->port, "%d", weft_addr_port(&bound));
    weft_future *f;
    WT_OK(weft_spawn(NULL, raw_server, r, NULL, &f));
    return f;
}

static void stop_raw(raw *r, weft_future *f)
{
    weft_future_cancel(f);
    weft_future_wait(f, WEFT_NEVER);
    weft_future_unref(f);
    weft_close(r->lfd);
}

static int get(weft_http_client *c, const char *url, int64_t within, weft_http_response *out)
{
    return weft_http_client_request(c, "GET", url, NULL, 0, NULL, 0, weft_deadline_in(within), out);
}

/* ---- the tests ------------------------------------------------------------------------------- */

static void against_weft(weft_http_client *c)
{
    weft_http_response r;
    char url[128];
    snprintf(url, sizeof url, "%s/hello/a?q=1#frag", base);
    WT_OK(get(c, url, 5 * WEFT_SEC, &r));
    WT_EQ(r.status, 200);
    WT_STREQ(r.body, "hello /hello/a");
    weft_http_response_free(&r);
    WT_OK(get(c, url, 5 * WEFT_SEC, &r));
    WT_ASSERT(r.reused);
    size_t len;
    const char *server_name = weft_http_header_get(&r.head, "server", &len);
    WT_ASSERT(server_name && len == 4 && !strncmp(server_name, "weft", 4));
    weft_http_response_free(&r);
    snprintf(url, sizeof url, "%s/echo", base);
    WT_OK(weft_http_client_request(c, "POST", url, &text, 1, "payload", 7,
                                   weft_deadline_in(5 * WEFT_SEC), &r));
    WT_STREQ(r.body, "POST payload");
    weft_http_response_free(&r);
    snprintf(url, sizeof url, "%s/hello/h", base);
    WT_OK(weft_http_client_request(c, "HEAD", url, NULL, 0, NULL, 0, weft_deadline_in(5 * WEFT_SEC),
                                   &r));
    WT_EQ(r.status, 200);
    WT_EQ(r.body_len, 0);
    weft_http_response_free(&r);
    /* Redirects. */
    snprintf(url, sizeof url, "%s/r/5", base);
    WT_OK(get(c, url, 5 * WEFT_SEC, &r));
    WT_EQ(r.status, 200);
    WT_EQ(r.redirects, 5);
    WT_STREQ(r.body, "done");
    WT_ASSERT(strstr(r.url, "/r/0"));
    weft_http_response_free(&r);
    snprintf(url, sizeof url, "%s/rel/a/b", base);
    WT_OK(get(c, url, 5 * WEFT_SEC, &r));
    WT_EQ(r.status, 404); /* /rel/a/c: resolved, then not found */
    WT_ASSERT(strstr(r.url, "/rel/a/c"));
    weft_http_response_free(&r);
    snprintf(url, sizeof url, "%s/see-other", base);
    WT_OK(weft_http_client_request(c, "POST", url, NULL, 0, "x", 1, weft_deadline_in(5 * WEFT_SEC),
                                   &r));
    WT_STREQ(r.body, "GET "); /* 303: a GET without the body */
    weft_http_response_free(&r);
    snprintf(url, sizeof url, "%s/loop", base);
    WT_ERR(get(c, url, 5 * WEFT_SEC, &r), -ELOOP);
    /* Bad URLs and headers. */
    WT_ERR(get(c, "ftp://127.0.0.1/", WEFT_SEC, &r), -EPROTONOSUPPORT);
    WT_ERR(get(c, "http://", WEFT_SEC, &r), -EINVAL);
    WT_ERR(get(c, "http://h:99999999/", WEFT_SEC, &r), -EINVAL);
    WT_ERR(get(c, "127.0.0.1/x", WEFT_SEC, &r), -EINVAL);
    const weft_http_header evil = {"X-A", "1\r\nX-Injected: 2", 3, 16};
    snprintf(url, sizeof url, "%s/hello", base);
    WT_ERR(
        weft_http_client_request(c, "GET", url, &evil, 1, NULL, 0, weft_deadline_in(WEFT_SEC), &r),
        -EINVAL);
    WT_ERR(
        weft_http_client_request(c, "GE T", url, NULL, 0, NULL, 0, weft_deadline_in(WEFT_SEC), &r),
        -EINVAL);
}

static int limited(void *arg, weft_value *result)
{
    (void)result;
    weft_http_client *c = arg;
    char url[128];
    snprintf(url, sizeof url, "%s/counted", base);
    weft_http_response r;
    int rc = get(c, url, 5 * WEFT_SEC, &r);
    if (rc == 0)
        weft_http_response_free(&r);
    return rc;
}

static void per_host_limit(void)
{
    weft_http_client *c;
    WT_OK(weft_http_client_create(&c, &(weft_http_client_opts){.max_per_host = 2}));
    weft_group g;
    weft_group_init(&g);
    for (int i = 0; i < 8; i++)
        WT_OK(weft_group_spawn(&g, limited, c, NULL, NULL));
    WT_OK(weft_group_wait(&g));
    WT_LE(max_inflight, 2);
    WT_GE(max_inflight, 1);
    weft_http_client_stats st;
    weft_http_client_stats_get(c, &st);
    WT_LE(st.connects, 2); /* two connections carried all eight */
    weft_http_client_destroy(c);
}

static void stale_pooled(void)
{
    /* The server closes idle connections after 100 ms: the pooled one is
     * dead when the second request takes it, and is replaced. */
    weft_http_client *c;
    WT_OK(weft_http_client_create(&c, NULL));
    char url[128];
    snprintf(url, sizeof url, "%s/hello", base);
    weft_http_response r;
    WT_OK(get(c, url, 5 * WEFT_SEC, &r));
    weft_http_response_free(&r);
    weft_sleep_for(300 * WEFT_MSEC);
    WT_OK(get(c, url, 5 * WEFT_SEC, &r));
    WT_EQ(r.status, 200);
    WT_EQ(r.retries, 0);
    weft_http_response_free(&r);
    weft_http_client_stats st;
    weft_http_client_stats_get(c, &st);
    WT_EQ(st.connects, 2);
    weft_http_client_destroy(c);
}

static void scripted(void)
{
    weft_http_client *c;
    WT_OK(weft_http_client_create(&c,
                                  &(weft_http_client_opts){.retries = 3, .retry_base = WEFT_MSEC}));
    raw r;
    weft_http_response resp;
    char url[128];
    weft_future *f = start_raw(&r, CHUNKED);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/", r.port);
    for (int i = 0; i < 2; i++) {
        WT_OK(get(c, url, 5 * WEFT_SEC, &resp));
        WT_STREQ(resp.body, "hello world");
        WT_EQ(resp.reused, i == 1);
        weft_http_response_free(&resp);
    }
    stop_raw(&r, f);

    f = start_raw(&r, UNTIL_CLOSE);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/", r.port);
    WT_OK(get(c, url, 5 * WEFT_SEC, &resp));
    WT_STREQ(resp.body, "all of it");
    weft_http_response_free(&resp);
    stop_raw(&r, f);

    f = start_raw(&r, DRIP);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/", r.port);
    int64_t t0 = weft_now();
    WT_ERR(get(c, url, 300 * WEFT_MSEC, &resp), -ETIMEDOUT);
    int64_t took = weft_now() - t0;
    WT_GE(took, 300 * WEFT_MSEC);
    WT_LT(took, 2 * WEFT_SEC);
    stop_raw(&r, f);

    f = start_raw(&r, SILENT);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/", r.port);
    WT_ERR(get(c, url, 200 * WEFT_MSEC, &resp), -ETIMEDOUT);
    stop_raw(&r, f);

    f = start_raw(&r, RESET);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/", r.port);
    WT_ERR(weft_http_client_request(c, "POST", url, NULL, 0, "x", 1, weft_deadline_in(5 * WEFT_SEC),
                                    &resp),
           -ECONNRESET);
    stop_raw(&r, f);

    f = start_raw(&r, HUGE_HEAD);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/", r.port);
    WT_ERR(get(c, url, 5 * WEFT_SEC, &resp), -E2BIG);
    stop_raw(&r, f);

    f = start_raw(&r, FLAKY);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/", r.port);
    /* Lost while writing (-EPIPE) or before any answer (-ECONNRESET),
     * whichever the kernel reports first. */
    int lost = weft_http_client_request(c, "POST", url, NULL, 0, "x", 1,
                                        weft_deadline_in(5 * WEFT_SEC), &resp);
    WT_ASSERT(lost == -ECONNRESET || lost == -EPIPE);
    WT_EQ(r.accepted, 1); /* a POST is not retried */
    WT_OK(get(c, url, 5 * WEFT_SEC, &resp));
    WT_EQ(resp.status, 200);
    WT_EQ(resp.retries, 1);
    weft_http_response_free(&resp);
    stop_raw(&r, f);

    f = start_raw(&r, BUSY);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/", r.port);
    WT_OK(get(c, url, 5 * WEFT_SEC, &resp));
    WT_EQ(resp.status, 200);
    WT_EQ(resp.retries, 1);
    weft_http_response_free(&resp);
    stop_raw(&r, f);

    f = start_raw(&r, INTERIM);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/", r.port);
    WT_OK(get(c, url, 5 * WEFT_SEC, &resp));
    WT_EQ(resp.status, 200);
    WT_STREQ(resp.body, "ok");
    weft_http_response_free(&resp);
    stop_raw(&r, f);

    /* Refused, retried, still refused. */
    int lfd;
    weft_addr bound;
    WT_OK(weft_tcp_listen("127.0.0.1", "0", 1, &lfd, &bound));
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", weft_addr_port(&bound));
    weft_close(lfd);
    WT_ERR(get(c, url, 5 * WEFT_SEC, &resp), -ECONNREFUSED);
    weft_http_client_stats st;
    weft_http_client_stats_get(c, &st);
    WT_GE(st.retries, 5);
    weft_http_client_destroy(c);
}

static int serving(void *arg, weft_value *result)
{
    (void)result;
    return weft_http_server_serve(server, (int)(intptr_t)arg);
}

static int main_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    WT_OK(weft_http_server_create(&server,
                                  &(weft_http_server_opts){.idle_timeout = 100 * WEFT_MSEC}));
    WT_OK(weft_http_server_route(server, NULL, "/hello", hello, NULL));
    WT_OK(weft_http_server_route(server, NULL, "/echo", echo, NULL));
    WT_OK(weft_http_server_route(server, NULL, "/counted", counted, NULL));
    WT_OK(weft_http_server_route(server, NULL, "/", redirects, NULL));
    int lfd;
    weft_addr bound;
    WT_OK(weft_tcp_listen("127.0.0.1", "0", 128, &lfd, &bound));
    snprintf(base, sizeof base, "http://127.0.0.1:%d", weft_addr_port(&bound));
    weft_future *srv;
    WT_OK(weft_spawn(NULL, serving, (void *)(intptr_t)lfd, NULL, &srv));
    weft_http_client *c;
    WT_OK(weft_http_client_create(&c, NULL));
    against_weft(c);
    weft_http_client_destroy(c);
    per_host_limit();
    stale_pooled();
    scripted();
    weft_http_server_shutdown(server, weft_deadline_in(WEFT_SEC));
    WT_OK(weft_future_result(srv, weft_deadline_in(5 * WEFT_SEC), NULL));
    weft_future_unref(srv);
    weft_http_server_destroy(server);
    weft_close(lfd);
    return 0;
}

static void test_client(void)
{
    WT_OK(weft_run(main_task, NULL, NULL, NULL));
}

int main(void)
{
    WT_RUN(test_client);
    return 0;
}
