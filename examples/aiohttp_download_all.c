/* Seed 000 section 5, "Asyncio avec aiohttp : Requêtes HTTP asynchrones",
 * with real HTTP instead of the seed's simulation: download_all fetches
 * three URLs at once with one client session (weft's HTTP client, a
 * keep-alive pool) and gathers the bodies; each endpoint takes 0.5 s to
 * answer, so the three take 0.5 s together, not 1.5 s. The server is
 * weft's own, on loopback, in the same loop (the seed's "serveur web qui
 * gère 1000 requêtes": it then serves 1000 requests from 100 tasks).
 * No outside network is used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/http.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/time.h>

static char base[64];
static weft_http_client *session;

/* An API endpoint that takes half a second: a task waits, the loop runs
 * the others meanwhile. */
static int endpoint(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    int64_t delay = strcmp(req->path, "/fast") ? 500 * WEFT_MSEC : 0;
    int rc = weft_sleep_for(delay);
    if (rc < 0)
        return rc;
    char body[128];
    int n = snprintf(body, sizeof body, "Content from %s", req->path);
    static const weft_http_header type = {"Content-Type", "text/plain", 12, 10};
    return weft_http_reply_send(reply, 200, &type, 1, body, (size_t)n);
}

/* The seed's fetch_url_async(session, url): GET, then the body. */
static int fetch_url_async(void *arg, weft_value *result)
{
    const char *url = arg;
    weft_http_response r;
    int rc = weft_http_client_request(session, "GET", url, NULL, 0, NULL, 0,
                                      weft_deadline_in(10 * WEFT_SEC), &r);
    if (rc < 0)
        return rc;
    result->ptr = strdup(r.body);
    weft_http_response_free(&r);
    return result->ptr ? 0 : -ENOMEM;
}

/* The seed's download_all(urls): one task per URL, then gather. */
static int download_all(char urls[][96], size_t n, char **bodies)
{
    weft_future *tasks[8];
    for (size_t i = 0; i < n; i++)
        if (weft_spawn(NULL, fetch_url_async, urls[i], NULL, &tasks[i]) < 0)
            return -ENOMEM;
    weft_value values[8];
    int errs[8];
    int rc = weft_gather(tasks, n, weft_deadline_in(10 * WEFT_SEC), values, errs);
    for (size_t i = 0; i < n; i++) {
        bodies[i] = errs[i] == 0 ? values[i].ptr : NULL;
        weft_future_unref(tasks[i]);
    }
    return rc;
}

static int many(void *arg, weft_value *result)
{
    (void)arg;
    char url[96];
    snprintf(url, sizeof url, "%s/fast", base);
    for (int i = 0; i < 10; i++) {
        weft_http_response r;
        int rc = weft_http_client_request(session, "GET", url, NULL, 0, NULL, 0,
                                          weft_deadline_in(10 * WEFT_SEC), &r);
        if (rc < 0)
            return rc;
        result->i64 += r.status == 200;
        weft_http_response_free(&r);
    }
    return 0;
}

static weft_http_server *server;

static int serving(void *arg, weft_value *result)
{
    (void)result;
    return weft_http_server_serve(server, (int)(intptr_t)arg);
}

static int main_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    int lfd;
    weft_addr bound;
    int rc = weft_tcp_listen("127.0.0.1", "0", 1024, &lfd, &bound);
    if (rc < 0 || (rc = weft_http_server_create(&server, NULL)) < 0 ||
        (rc = weft_http_server_route(server, "GET", "/", endpoint, NULL)) < 0)
        return rc;
    snprintf(base, sizeof base, "http://127.0.0.1:%d", weft_addr_port(&bound));
    weft_future *srv;
    if ((rc = weft_spawn(NULL, serving, (void *)(intptr_t)lfd, NULL, &srv)) < 0)
        return rc;
    if ((rc = weft_http_client_create(&session, &(weft_http_client_opts){.max_connections = 100})) <
        0)
        return rc;

    char urls[3][96];
    for (int i = 0; i < 3; i++)
        snprintf(urls[i], sizeof urls[i], "%s/endpoint%d", base, i + 1);
    char *bodies[3];
    int64_t t0 = weft_now();
    rc = download_all(urls, 3, bodies);
    double s = (double)(weft_now() - t0) / 1e9;
    for (int i = 0; i < 3; i++) {
        printf("  %s -> \"%s\"\n", urls[i], bodies[i] ? bodies[i] : "(failed)");
        free(bodies[i]);
    }
    printf("%d URLs downloaded in %.2fs (each takes 0.5 s: they ran at once)\n", 3, s);

    /* The web server under 1000 requests: 100 tasks, 10 each, on 100 pooled
     * keep-alive connections at most. */
    t0 = weft_now();
    weft_group g;
    weft_group_init(&g);
    weft_future *fs[100];
    for (int i = 0; i < 100; i++)
        weft_group_spawn(&g, many, NULL, NULL, &fs[i]);
    int grc = weft_group_wait(&g);
    int64_t ok = 0;
    for (int i = 0; i < 100; i++) {
        weft_value v = {0};
        if (weft_future_result(fs[i], WEFT_NOW, &v) == 0)
            ok += v.i64;
        weft_future_unref(fs[i]);
    }
    s = (double)(weft_now() - t0) / 1e9;
    weft_http_client_stats st;
    weft_http_client_stats_get(session, &st);
    printf("1000 requests: %lld answered 200 in %.3fs (%.0f req/s) over %llu connections\n",
           (long long)ok, s, 1000 / s, (unsigned long long)st.connects);

    weft_http_client_destroy(session);
    weft_http_server_shutdown(server, weft_deadline_in(WEFT_SEC));
    weft_future_result(srv, WEFT_NEVER, NULL);
    weft_future_unref(srv);
    weft_http_server_destroy(server);
    weft_close(lfd);
    return rc < 0 ? rc : grc < 0 ? grc : ok == 1000 ? 0 : -EPROTO;
}

int main(void)
{
    int rc = weft_run(main_task, NULL, NULL, NULL);
    if (rc < 0)
        fprintf(stderr, "failed: %d\n", rc);
    return rc < 0 ? 1 : 0;
}
