/* weft fetch: the seeds' concurrent downloads (asyncio + aiohttp, "scraping
 * massif") as a tool: many URLs over HTTP/1.1 with a bounded number in
 * flight, on weft's client (weft/http.h) and event loop.
 *
 *   weft fetch URL... | -i FILE [-o DIR] [-c N] [--timeout S] [--total S] [--retries N]
 *              [--ca-file FILE] [--insecure] [--json] [--quiet]
 *
 * N worker tasks take the next URL until none is left; each result (status,
 * bytes, latency, or the reason it failed) is kept for the summary: status
 * counts, bytes, rate, latency percentiles, and the failures with their
 * reasons. A response of 400 or more counts as a failure (like curl
 * --fail); the exit status is 1 if anything failed.
 *
 * Synchronization: everything runs on one loop thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/http.h>
#include <weft/loop.h>
#include <weft/metrics.h>
#include <weft/net.h>
#include <weft/time.h>

#include "tools/weft_tool.h"

typedef struct result {
    int status; /* 0: failed before a response */
    int err;
    const char *why; /* a protocol error's words, if any */
    size_t bytes;
    int64_t ns;
} result;

typedef struct fetch_job {
    char **urls;
    size_t n, next, done, failed;
    result *results;
    const char *out_dir;
    int concurrency, retries;
    int64_t timeout;
    int64_t total;    /* ns for the whole run; 0: none */
    int64_t deadline; /* of the whole run, once started; WEFT_NEVER: none */
    bool json, quiet, insecure;
    const char *ca_file;
    weft_http_client *client;
    weft_histogram *latency;
    uint64_t bytes;
    int64_t started;
} fetch_job;

static void usage(FILE *f)
{
    fprintf(f, "usage: weft fetch URL... | -i FILE [options]\n"
               "Download http and https URLs with many in flight; print a summary.\n\n"
               "  -i FILE          read URLs from FILE, one per line ('-': standard input;\n"
               "                   blank lines and lines starting with # are skipped)\n"
               "  -o DIR           write each body to DIR (named after the URL's last path\n"
               "                   segment; index.html for none; .1, .2 added on a clash)\n"
               "  -c N             requests in flight (default 100)\n"
               "  --timeout S      seconds for each URL, retries and redirects included\n"
               "                   (default 30)\n"
               "  --total S        seconds for the whole run: what is not done by then fails\n"
               "  --retries N      retries of lost connections and 502/503/504 (default 2)\n"
               "  --ca-file FILE   https: trust the PEM certificates of FILE (default: the\n"
               "                   system's store)\n"
               "  --insecure       https: do not verify certificates\n"
               "  --json           the summary as JSON on standard output\n"
               "  --quiet          no progress line\n"
               "A response of 400 or more counts as failed; the exit status is 1 if any did.\n");
}

/* ---- saving ---------------------------------------------------------------------------- */

static int save(fetch_job *j, const char *url, const char *body, size_t len)
{
    const char *path = strstr(url, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    char name[256];
    size_t nlen = 0;
    if (path) {
        size_t plen = strcspn(path, "?#");
        const char *seg = path + plen;
        while (seg > path && seg[-1] != '/')
            seg--;
        nlen = (size_t)(path + plen - seg);
        if (nlen >= sizeof name - 8)
            nlen = sizeof name - 8;
        memcpy(name, seg, nlen);
    }
    name[nlen] = 0;
    if (!nlen || !strcmp(name, ".") || !strcmp(name, ".."))
        strcpy(name, "index.html");
    char file[4096];
    int fd = -1;
    for (int k = 0; fd < 0 && k < 1000; k++) {
        if (k)
            snprintf(file, sizeof file, "%s/%s.%d", j->out_dir, name, k);
        else
            snprintf(file, sizeof file, "%s/%s", j->out_dir, name);
        fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            return -errno;
    }
    if (fd < 0)
        return -EEXIST;
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < len;) {
        int n = weft_file_pwrite(fd, body + at, len - at, (int64_t)at, WEFT_NEVER);
        rc = n < 0 ? n : 0;
        at += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    return rc;
}

/* ---- the workers --------------------------------------------------------------------------- */

static int worker(void *arg, weft_value *out)
{
    (void)out;
    fetch_job *j = arg;
    while (j->next < j->n) {
        size_t i = j->next++;
        result *res = &j->results[i];
        int64_t t0 = weft_now();
        int64_t deadline = t0 + j->timeout;
        if (j->deadline != WEFT_NEVER && j->deadline < deadline)
            deadline = j->deadline;
        weft_http_response r;
        int rc =
            weft_http_client_request(j->client, "GET", j->urls[i], NULL, 0, NULL, 0, deadline, &r);
        res->ns = weft_now() - t0;
        if (rc == -ECANCELED)
            return rc;
        if (rc < 0) {
            res->err = rc;
            res->why = r.error;
        } else {
            res->status = r.status;
            res->bytes = r.body_len;
            j->bytes += r.body_len;
            if (j->out_dir && r.status < 400)
                res->err = save(j, j->urls[i], r.body, r.body_len);
            weft_http_response_free(&r);
        }
        weft_histogram_record(j->latency, res->ns);
        j->done++;
        if (res->err || res->status >= 400)
            j->failed++;
    }
    return 0;
}

static void progress_line(fetch_job *j)
{
    double s = (double)(weft_now() - j->started) / 1e9;
    fprintf(stderr, "\r  %zu/%zu done, %zu failed, %.1f MB, %.0f req/s   ", j->done, j->n,
            j->failed, (double)j->bytes / 1e6, s > 0 ? (double)j->done / s : 0.0);
}

static int ticker(void *arg, weft_value *out)
{
    (void)out;
    fetch_job *j = arg;
    while (weft_sleep_for(200 * WEFT_MSEC) == 0)
        progress_line(j);
    return 0;
}

static int main_task(void *arg, weft_value *out)
{
    (void)out;
    fetch_job *j = arg;
    j->started = weft_now();
    j->deadline = j->total ? j->started + j->total : WEFT_NEVER;
    weft_future *tick = NULL;
    if (!j->quiet && isatty(STDERR_FILENO))
        weft_spawn(NULL, ticker, j, &(weft_spawn_opts){.name = "progress"}, &tick);
    weft_group g;
    weft_group_init(&g);
    int workers = j->concurrency < (int)j->n ? j->concurrency : (int)j->n;
    for (int w = 0; w < workers; w++)
        if (weft_group_spawn(&g, worker, j, &(weft_spawn_opts){.name = "fetch"}, NULL) < 0)
            break;
    int rc = weft_group_wait(&g);
    if (tick) {
        weft_future_cancel(tick);
        weft_future_wait(tick, WEFT_NEVER);
        weft_future_unref(tick);
        progress_line(j);
        fputc('\n', stderr);
    }
    return rc;
}

/* ---- the summary ---------------------------------------------------------------------------- */

static const char *why(const result *r, char *buf, size_t len)
{
    if (r->err && r->why)
        snprintf(buf, len, "%s: %s", weft_strerror(r->err), r->why);
    else if (r->err)
        snprintf(buf, len, "%s", weft_strerror(r->err));
    else
        snprintf(buf, len, "HTTP %d", r->status);
    return buf;
}

static void summary(fetch_job *j, double seconds)
{
    int counts[1000] = {0}, errors = 0;
    for (size_t i = 0; i < j->n; i++) {
        if (j->results[i].status > 0 && j->results[i].status < 1000)
            counts[j->results[i].status]++;
        else
            errors++;
    }
    weft_histogram_summary h;
    weft_histogram_summarize(j->latency, &h);
    char b[256];
    if (j->json) {
        FILE *o = stdout;
        fprintf(o, "{\"urls\":%zu,\"ok\":%zu,\"failed\":%zu,\"bytes\":%llu,\"seconds\":%.6f,", j->n,
                j->n - j->failed, j->failed, (unsigned long long)j->bytes, seconds);
        fprintf(o, "\"requests_per_second\":%.1f,\"status\":{",
                seconds > 0 ? (double)j->n / seconds : 0.0);
        bool first = true;
        for (int s = 0; s < 1000; s++)
            if (counts[s]) {
                fprintf(o, "%s\"%d\":%d", first ? "" : ",", s, counts[s]);
                first = false;
            }
        fprintf(
            o,
            "},\"errors\":%d,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},",
            errors, (double)h.p50 / 1e6, (double)h.p90 / 1e6, (double)h.p99 / 1e6,
            (double)h.max / 1e6);
        fputs("\"failures\":[", o);
        first = true;
        for (size_t i = 0; i < j->n; i++) {
            const result *r = &j->results[i];
            if (!r->err && r->status < 400)
                continue;
            fprintf(o, "%s{\"url\":", first ? "" : ",");
            weft_tool_json_string(o, j->urls[i]);
            fputs(",\"reason\":", o);
            weft_tool_json_string(o, why(r, b, sizeof b));
            fputc('}', o);
            first = false;
        }
        fputs("]}\n", o);
        return;
    }
    FILE *o = stderr;
    fprintf(o, "%zu URLs in %.2f s: %zu ok, %zu failed; %.1f MB, %.0f req/s\n", j->n, seconds,
            j->n - j->failed, j->failed, (double)j->bytes / 1e6,
            seconds > 0 ? (double)j->n / seconds : 0.0);
    fputs("status:", o);
    for (int s = 0; s < 1000; s++)
        if (counts[s])
            fprintf(o, " %d x%d", s, counts[s]);
    if (errors)
        fprintf(o, " no response x%d", errors);
    fprintf(o, "\nlatency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
            (double)h.p50 / 1e6, (double)h.p90 / 1e6, (double)h.p99 / 1e6, (double)h.max / 1e6);
    size_t shown = 0;
    for (size_t i = 0; i < j->n; i++) {
        const result *r = &j->results[i];
        if (!r->err && r->status < 400)
            continue;
        if (shown++ < 20)
            fprintf(o, "  failed: %s: %s\n", j->urls[i], why(r, b, sizeof b));
    }
    if (shown > 20)
        fprintf(o, "  ... and %zu more failures\n", shown - 20);
}

/* ---- the command line -------------------------------------------------------------------------
 */

static int add_url(fetch_job *j, size_t *cap, const char *u)
{
    if (j->n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        char **p = realloc(j->urls, c * sizeof *p);
        if (!p)
            return -ENOMEM;
        j->urls = p;
        *cap = c;
    }
    if (!(j->urls[j->n] = strdup(u)))
        return -ENOMEM;
    j->n++;
    return 0;
}

static int read_list(fetch_job *j, size_t *cap, const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return -errno;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = 0;
        char *u = line + strspn(line, " \t");
        if (*u && *u != '#')
            rc = add_url(j, cap, u);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

int weft_cmd_fetch(int argc, char **argv)
{
    fetch_job j = {.concurrency = 100, .retries = 2, .timeout = 30 * WEFT_SEC};
    size_t cap = 0;
    int status = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        char *end;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            status = 0;
            goto out;
        } else if (!strcmp(a, "-i") && more) {
            int rc = read_list(&j, &cap, argv[++i]);
            if (rc < 0) {
                fprintf(stderr, "weft fetch: %s: %s\n", argv[i], weft_strerror(rc));
                goto out;
            }
        } else if (!strcmp(a, "-o") && more) {
            j.out_dir = argv[++i];
        } else if (!strcmp(a, "-c") && more) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 100000) {
                fprintf(stderr, "weft fetch: -c wants 1 to 100000, not '%s'\n", argv[i]);
                goto out;
            }
            j.concurrency = (int)v;
        } else if (!strcmp(a, "--timeout") && more) {
            double v = strtod(argv[++i], &end);
            if (*end || !(v > 0) || v > 1e6) {
                fprintf(stderr, "weft fetch: --timeout wants seconds > 0, not '%s'\n", argv[i]);
                goto out;
            }
            j.timeout = (int64_t)(v * 1e9);
        } else if (!strcmp(a, "--total") && more) {
            double v = strtod(argv[++i], &end);
            if (*end || !(v > 0) || v > 1e6) {
                fprintf(stderr, "weft fetch: --total wants seconds > 0, not '%s'\n", argv[i]);
                goto out;
            }
            j.total = (int64_t)(v * 1e9);
        } else if (!strcmp(a, "--retries") && more) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 100) {
                fprintf(stderr, "weft fetch: --retries wants 0 to 100, not '%s'\n", argv[i]);
                goto out;
            }
            j.retries = (int)v;
        } else if (!strcmp(a, "--ca-file") && more) {
            j.ca_file = argv[++i];
            if (access(j.ca_file, R_OK) != 0) {
                fprintf(stderr, "weft fetch: --ca-file %s: %s\n", j.ca_file, strerror(errno));
                goto out;
            }
        } else if (!strcmp(a, "--insecure")) {
            j.insecure = true;
        } else if (!strcmp(a, "--json")) {
            j.json = true;
        } else if (!strcmp(a, "--quiet")) {
            j.quiet = true;
        } else if (a[0] == '-') {
            fprintf(stderr, "weft fetch: unknown option or missing value: '%s'\n\n", a);
            usage(stderr);
            goto out;
        } else if (add_url(&j, &cap, a) < 0) {
            fprintf(stderr, "weft fetch: out of memory\n");
            goto out;
        }
    }
    if (!j.n) {
        fprintf(stderr, "weft fetch: no URL (give some, or -i FILE)\n\n");
        usage(stderr);
        goto out;
    }
    if (j.out_dir) {
        struct stat st;
        if (stat(j.out_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "weft fetch: -o %s: not a directory\n", j.out_dir);
            goto out;
        }
    }
    status = 1;
    j.results = calloc(j.n, sizeof *j.results);
    weft_http_client_opts co = {.max_connections = (size_t)j.concurrency,
                                .retries = j.retries,
                                .ca_file = j.ca_file,
                                .insecure = j.insecure};
    if (!j.results || weft_http_client_create(&j.client, &co) < 0 ||
        weft_histogram_create(&j.latency, NULL) < 0) {
        fprintf(stderr, "weft fetch: out of memory\n");
        goto out;
    }
    int64_t t0 = weft_now();
    int rc = weft_run(main_task, &j, NULL, NULL);
    double seconds = (double)(weft_now() - t0) / 1e9;
    if (rc < 0)
        fprintf(stderr, "weft fetch: %s\n", weft_strerror(rc));
    summary(&j, seconds);
    status = rc < 0 || j.failed ? 1 : 0;
out:
    if (j.client)
        weft_http_client_destroy(j.client);
    weft_histogram_destroy(j.latency);
    for (size_t i = 0; i < j.n; i++)
        free(j.urls[i]);
    free(j.urls);
    free(j.results);
    return status;
}
