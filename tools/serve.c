/* weft serve: the seeds' web-server example as a tool: static files from
 * a directory, or a fixed hello response (the benchmark's workload), on
 * weft's HTTP/1.1 server (weft/http.h) and event loop. SIGINT or SIGTERM
 * shuts it down gracefully: requests in flight finish (10 s at most).
 *
 *   weft serve [DIR] [--hello] [--host H] [--port P] [--idle-timeout S]
 *              [--header-timeout S] [--quiet]
 *
 * Synchronization: everything runs on one loop thread. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/http.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/time.h>

#include "tools/weft_tool.h"

typedef struct serve_job {
    const char *dir, *host, *port;
    bool hello, quiet;
    weft_http_server_opts opts;
    weft_http_server *server;
    weft_future *serving; /* the serve task: a second signal cancels it */
    int lfd;
} serve_job;

static void usage(FILE *f)
{
    fprintf(f, "usage: weft serve [DIR] [options]\n"
               "Serve the files of DIR (default: the current directory) over HTTP/1.1, or a\n"
               "fixed hello response. Ctrl-C finishes the requests in flight, then exits.\n\n"
               "  --hello               answer every request with \"Hello, World!\"\n"
               "  --host H              address to listen on (default 127.0.0.1)\n"
               "  --port P              port (default 8080; 0: any free port)\n"
               "  --idle-timeout S      close a connection idle this many seconds (default 60)\n"
               "  --header-timeout S    a request head must arrive within S seconds (default 10)\n"
               "  --quiet               no status line\n");
}

static const weft_http_header plain = {"Content-Type", "text/plain", 12, 10};

static int hello(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    (void)req;
    return weft_http_reply_send(reply, 200, &plain, 1, "Hello, World!\n", 14);
}

static int serving(void *arg, weft_value *result)
{
    (void)result;
    serve_job *j = arg;
    return weft_http_server_serve(j->server, j->lfd);
}

/* SIGINT or SIGTERM: the graceful shutdown; a second one: at once. */
static int signals(void *arg, weft_value *result)
{
    serve_job *j = arg;
    uint64_t mask = WEFT_SIG(SIGINT) | WEFT_SIG(SIGTERM);
    int sig = weft_signal_wait(mask, WEFT_NEVER);
    if (sig < 0)
        return 0;
    result->i64 = sig;
    if (!j->quiet)
        fprintf(stderr, "\nweft serve: %s: finishing the requests in flight (again to stop now)\n",
                sig == SIGINT ? "interrupted" : "terminated");
    weft_http_server_shutdown(j->server, weft_deadline_in(10 * WEFT_SEC));
    if (weft_signal_wait(mask, WEFT_NEVER) < 0)
        return 0;
    if (!j->quiet)
        fprintf(stderr, "weft serve: stopping now\n");
    weft_future_cancel(j->serving);
    return 0;
}

/* On a terminal: a status line a second. */
static int status_line(void *arg, weft_value *result)
{
    (void)result;
    serve_job *j = arg;
    uint64_t last = 0;
    while (weft_sleep_for(WEFT_SEC) == 0) {
        weft_http_server_stats st;
        weft_http_server_stats_get(j->server, &st);
        fprintf(stderr, "\r  %llu requests (%llu/s), %llu connections, %llu 4xx, %llu 5xx   ",
                (unsigned long long)st.requests, (unsigned long long)(st.requests - last),
                (unsigned long long)st.connections, (unsigned long long)st.responses_4xx,
                (unsigned long long)st.responses_5xx);
        last = st.requests;
    }
    return 0;
}

static int main_task(void *arg, weft_value *result)
{
    (void)result;
    serve_job *j = arg;
    weft_addr bound;
    int rc = weft_tcp_listen(j->host, j->port, 4096, &j->lfd, &bound);
    if (rc < 0) {
        fprintf(stderr, "weft serve: cannot listen on %s:%s: %s\n", j->host, j->port,
                weft_strerror(rc));
        return rc;
    }
    char where[80];
    weft_addr_format(&bound, where, sizeof where);
    if (!j->quiet)
        fprintf(stderr, "weft serve: http://%s/ (%s, %s backend); Ctrl-C stops\n", where,
                j->hello ? "hello" : j->dir, weft_loop_backend_name(weft_loop_current()));
    weft_future *srv, *sig, *tick = NULL;
    rc = weft_spawn(NULL, serving, j, &(weft_spawn_opts){.name = "serve"}, &srv);
    if (rc < 0)
        return rc;
    j->serving = srv;
    rc = weft_spawn(NULL, signals, j, &(weft_spawn_opts){.name = "signals"}, &sig);
    if (rc < 0) {
        weft_future_cancel(srv);
        weft_future_wait(srv, WEFT_NEVER);
        weft_future_unref(srv);
        return rc;
    }
    if (!j->quiet && isatty(STDERR_FILENO))
        weft_spawn(NULL, status_line, j, &(weft_spawn_opts){.name = "status"}, &tick);
    rc = weft_future_result(srv, WEFT_NEVER, NULL);
    if (rc == -ECANCELED)
        rc = 0; /* stopped by a second signal */
    weft_future_cancel(sig);
    weft_future_wait(sig, WEFT_NEVER);
    if (tick) {
        weft_future_cancel(tick);
        weft_future_wait(tick, WEFT_NEVER);
        weft_future_unref(tick);
    }
    weft_future_unref(srv);
    weft_future_unref(sig);
    weft_close(j->lfd);
    weft_http_server_stats st;
    weft_http_server_stats_get(j->server, &st);
    if (!j->quiet)
        fprintf(
            stderr,
            "weft serve: %llu requests on %llu connections (%llu 4xx, %llu 5xx, %llu timeouts)\n",
            (unsigned long long)st.requests, (unsigned long long)st.connections,
            (unsigned long long)st.responses_4xx, (unsigned long long)st.responses_5xx,
            (unsigned long long)st.timeouts);
    if (rc < 0)
        fprintf(stderr, "weft serve: %s\n", weft_strerror(rc));
    return rc;
}

static bool seconds_arg(const char *s, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 1e6)
        return false;
    *out = (int64_t)(v * 1e9);
    return true;
}

int weft_cmd_serve(int argc, char **argv)
{
    serve_job j = {.host = "127.0.0.1", .port = "8080", .lfd = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--hello")) {
            j.hello = true;
        } else if (!strcmp(a, "--quiet")) {
            j.quiet = true;
        } else if (!strcmp(a, "--host") && more) {
            j.host = argv[++i];
        } else if (!strcmp(a, "--port") && more) {
            j.port = argv[++i];
        } else if (!strcmp(a, "--idle-timeout") && more) {
            if (!seconds_arg(argv[++i], &j.opts.idle_timeout)) {
                fprintf(stderr, "weft serve: --idle-timeout wants seconds > 0, not '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--header-timeout") && more) {
            if (!seconds_arg(argv[++i], &j.opts.header_timeout)) {
                fprintf(stderr, "weft serve: --header-timeout wants seconds > 0, not '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "weft serve: unknown option or missing value: '%s'\n\n", a);
            usage(stderr);
            return 2;
        } else if (!j.dir) {
            j.dir = a;
        } else {
            fprintf(stderr, "weft serve: one directory only ('%s' and '%s')\n", j.dir, a);
            return 2;
        }
    }
    if (j.hello && j.dir) {
        fprintf(stderr, "weft serve: --hello or a directory, not both\n");
        return 2;
    }
    if (!j.hello && !j.dir)
        j.dir = ".";
    /* Before any thread starts: the signals go to weft_signal_wait. */
    int rc = weft_signals_block(WEFT_SIG(SIGINT) | WEFT_SIG(SIGTERM));
    if (rc < 0) {
        fprintf(stderr, "weft serve: cannot take SIGINT and SIGTERM: %s\n", weft_strerror(rc));
        return 1;
    }
    rc = weft_http_server_create(&j.server, &j.opts);
    if (rc == 0)
        rc = j.hello ? weft_http_server_route(j.server, NULL, "/", hello, NULL)
                     : weft_http_server_static(j.server, "/", j.dir);
    if (rc < 0) {
        fprintf(stderr, "weft serve: %s: %s\n", j.hello ? "set-up" : j.dir, weft_strerror(rc));
        weft_http_server_destroy(j.server);
        return 1;
    }
    rc = weft_run(main_task, &j, NULL, NULL);
    weft_http_server_destroy(j.server);
    return rc < 0 ? 1 : 0;
}
