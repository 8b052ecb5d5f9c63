/* weft compare: the seeds' decision table, measured (seed 000 section 6,
 * seed 003 section 6). Each workload runs sequentially, on a thread pool,
 * on a process pool and on coroutines of one event loop; the table shows
 * the seconds of each, the best per row and why. In C there is no GIL:
 * threads spread CPU work over the cores as processes do, and processes
 * win only where isolation matters; the table shows it.
 *
 *   weft compare [--quick] [--json] [--no-progress] [--with-python]
 *
 * The workloads (sizes for the default run; --quick runs a fraction):
 *   io     100 simulated API calls of 5-25 ms (seeded), each a sleep
 *   http   100 GETs to a local weft HTTP server answering in 10 ms
 *   cpu    sum of squares below 1M..5M, 40 rounds: 200 tasks
 *   mixed  40 items: a GET (10 ms), then the sum of squares below 2M
 *   files  `weft etl summarize` of 8 generated files of 32 MB
 * The models: sequential (one thread, one thing at a time); threads (a
 * weft_pool: 32 threads for waits, one per CPU for computing); processes
 * (a weft_procpool of one worker per CPU, as ProcessPoolExecutor); and
 * coroutines (tasks of one weft loop; in "mixed" the computing goes to the
 * loop's thread pool with weft_to_thread, asyncio's run_in_executor).
 * "files" has no coroutine version: regular files are always "ready", so
 * a loop reads them on threads anyway.
 *
 * Synchronization: the server runs on a thread of its own, running a loop
 * that main made (main stops it by spawning a task onto that loop, which
 * weft_spawn allows from any thread); each measurement waits for all its
 * work before the next starts. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/http.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/pool.h>
#include <weft/procpool.h>
#include <weft/time.h>

#include "tools/weft_tool.h"

extern char **environ;

enum { MODELS = 4, ROWS = 5, MAX_ITEMS = 512 };
static const char *const model_names[MODELS] = {"sequential", "threads", "processes", "coroutines"};
enum { SEQ, THREADS, PROCS, CORO };

typedef struct config {
    int io_calls, http_calls, cpu_rounds, mixed_items, files;
    const char *file_size;
} config;

static config cfg;
static int io_ms[MAX_ITEMS]; /* the simulated latencies */
static char api_url[96];     /* the local server's endpoint */
static unsigned ncpu;

/* ---- the work itself -------------------------------------------------------------------- */

/* The sum of i*i below n, computed (the barrier keeps the compiler from
 * turning the loop into a formula). */
static uint64_t sum_squares(uint64_t n)
{
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++) {
        s += i * i;
        __asm__ volatile("" : "+r"(s));
    }
    return s;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One GET of the local API on a loop of its own (what a thread or a worker
 * process does: it has no loop to share). */
static int get_task(void *arg, weft_value *result)
{
    (void)arg;
    weft_http_client *c;
    int rc = weft_http_client_create(&c, NULL);
    if (rc < 0)
        return rc;
    weft_http_response r;
    rc = weft_http_client_request(c, "GET", api_url, NULL, 0, NULL, 0,
                                  weft_deadline_in(30 * WEFT_SEC), &r);
    if (rc == 0) {
        result->i64 = r.status == 200 ? (int64_t)r.body_len : -EPROTO;
        weft_http_response_free(&r);
    }
    weft_http_client_destroy(c);
    return rc;
}

static int get_blocking(void)
{
    weft_value v = {0};
    int rc = weft_run(get_task, NULL, NULL, &v);
    return rc < 0 ? rc : v.i64 < 0 ? (int)v.i64 : 0;
}

/* A unit of each workload: item i. */
typedef int unit_fn(int i);

static int io_unit(int i)
{
    sleep_ms(io_ms[i]);
    return 0;
}

static int cpu_unit(int i)
{
    uint64_t n = (uint64_t)(i % 5 + 1) * 1000000;
    return sum_squares(n) == 42 ? 1 : 0; /* never 42: keeps the result live */
}

static int http_unit(int i)
{
    (void)i;
    return get_blocking();
}

static int mixed_unit(int i)
{
    (void)i;
    int rc = get_blocking();
    return rc < 0 ? rc : sum_squares(2000000) == 42;
}

/* The units by row, for the pool tasks of both kinds. */
static unit_fn *const units[ROWS] = {io_unit, http_unit, cpu_unit, mixed_unit, NULL};

/* ---- threads and processes ------------------------------------------------------------- */

/* What a unit needs: a worker process has none of the parent's state
 * (it is forked from the zygote, before main), so the job carries it. */
typedef struct job {
    int row, item, ms;
    char url[96];
} job;

static job job_of(int row, int item)
{
    job j = {row, item, io_ms[item], ""};
    snprintf(j.url, sizeof j.url, "%s", api_url);
    return j;
}

static int pool_task(void *arg, weft_value *result)
{
    (void)result;
    job *j = arg;
    int rc = units[j->row](j->item);
    return rc < 0 ? rc : 0;
}

/* In a worker process: take the job's data for this process's own. */
static void adopt(const job *j)
{
    io_ms[j->item] = j->ms;
    snprintf(api_url, sizeof api_url, "%s", j->url);
}

static int proc_unit(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)ctx;
    if (len != sizeof(job))
        return -EINVAL;
    job j;
    memcpy(&j, arg, sizeof j);
    adopt(&j);
    int rc = units[j.row](j.item);
    return rc < 0 ? rc : 0;
}
WEFT_PROC_TASK(proc_unit);

/* Wait for the n futures and drop them. Returns rc if it is an error,
 * else the first task's error, else 0. */
static int wait_all(weft_future **fs, int n, int rc)
{
    for (int i = 0; i < n; i++) {
        int r = weft_future_result(fs[i], WEFT_NEVER, NULL);
        rc = rc ? rc : r;
        weft_future_unref(fs[i]);
    }
    return rc;
}

static int run_threads(int row, int n, unsigned workers)
{
    weft_pool *pool;
    int rc = weft_pool_create(&pool, &(weft_pool_opts){.workers = workers, .name = "compare"});
    if (rc < 0)
        return rc;
    static job jobs[MAX_ITEMS];
    static weft_future *fs[MAX_ITEMS];
    for (int i = 0; i < n && rc == 0; i++) {
        jobs[i] = job_of(row, i);
        rc = weft_pool_submit(pool, pool_task, &jobs[i], WEFT_NEVER, &fs[i]);
        if (rc < 0)
            n = i;
    }
    rc = wait_all(fs, n, rc);
    weft_pool_destroy(pool);
    return rc;
}

static weft_procpool *procs; /* made once: starting workers is not the work */

static int run_processes(int row, int n)
{
    static weft_future *fs[MAX_ITEMS];
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        job j = job_of(row, i);
        rc = weft_procpool_submit(procs, WEFT_PROC_TASK_REF(proc_unit), &j, sizeof j, WEFT_NEVER,
                                  &fs[i]);
        if (rc < 0)
            n = i;
    }
    return wait_all(fs, n, rc);
}

/* ---- coroutines ---------------------------------------------------------------------------- */

typedef struct coro_run {
    int row, n;
    weft_http_client *client;
} coro_run;

static coro_run *current;

static int compute_on_thread(void *arg, weft_value *result)
{
    (void)arg;
    result->i64 = (int64_t)sum_squares(2000000);
    return 0;
}

static int coro_item(void *arg, weft_value *result)
{
    (void)result;
    int i = (int)(intptr_t)arg;
    coro_run *c = current;
    if (c->row == 0)
        return weft_sleep_for((int64_t)io_ms[i] * WEFT_MSEC);
    if (c->row == 2)
        return cpu_unit(i) < 0 ? -EIO : 0; /* on the loop's thread: one core */
    weft_http_response r;
    int rc = weft_http_client_request(c->client, "GET", api_url, NULL, 0, NULL, 0,
                                      weft_deadline_in(30 * WEFT_SEC), &r);
    if (rc < 0)
        return rc;
    rc = r.status == 200 ? 0 : -EPROTO;
    weft_http_response_free(&r);
    if (rc == 0 && c->row == 3) {
        weft_value v;
        rc = weft_to_thread(compute_on_thread, NULL, &v); /* run_in_executor */
    }
    return rc;
}

static int coro_main(void *arg, weft_value *result)
{
    (void)result;
    coro_run *c = arg;
    current = c;
    int rc = weft_http_client_create(&c->client, &(weft_http_client_opts){.max_connections = 100});
    if (rc < 0)
        return rc;
    weft_group g;
    weft_group_init(&g);
    for (int i = 0; i < c->n; i++)
        if ((rc = weft_group_spawn(&g, coro_item, (void *)(intptr_t)i, NULL, NULL)) < 0)
            break;
    int grc = weft_group_wait(&g);
    weft_http_client_destroy(c->client);
    return rc < 0 ? rc : grc;
}

static int run_coroutines(int row, int n)
{
    coro_run c = {row, n, NULL};
    return weft_run(coro_main, &c, NULL, NULL);
}

/* ---- files: weft etl as a child process ------------------------------------------------------ */

static char files_dir[] = "/tmp/weft-compare-XXXXXX";

static int run_self(char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -rc;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int files_gen(void)
{
    if (!mkdtemp(files_dir))
        return -errno;
    char count[16];
    snprintf(count, sizeof count, "%d", cfg.files);
    char *argv[] = {"weft", "etl",     "gen", "--files", count, "--size", (char *)cfg.file_size,
                    "-o",   files_dir, NULL};
    return run_self(argv);
}

static int run_files(int model)
{
    char jobs[16];
    snprintf(jobs, sizeof jobs, "%u", model == SEQ ? 1 : ncpu);
    char *argv[32] = {"weft",       "etl",         "summarize", "--no-progress",
                      "--distinct", "customer_id", "--jobs",    jobs};
    int k = 8;
    if (model == PROCS) {
        argv[k++] = "--backend";
        argv[k++] = "processes";
    }
    static char paths[32][160];
    for (int i = 0; i < cfg.files && i < 20; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/orders_%d.csv", files_dir, i);
        argv[k++] = paths[i];
    }
    argv[k] = NULL;
    return run_self(argv);
}

static void files_clean(void)
{
    for (int i = 0; i < cfg.files; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s/orders_%d.csv", files_dir, i);
        unlink(p);
    }
    rmdir(files_dir);
}

/* ---- the local API server ------------------------------------------------------------------- */

static weft_http_server *server;
static int server_fd;

static int api(void *arg, const weft_http_request *req, weft_http_reply *reply)
{
    (void)arg;
    (void)req;
    static char body[2048];
    memset(body, 'd', sizeof body);
    int rc = weft_sleep_for(10 * WEFT_MSEC); /* the network and the remote work */
    if (rc < 0)
        return rc;
    static const weft_http_header type = {"Content-Type", "application/octet-stream", 12, 24};
    return weft_http_reply_send(reply, 200, &type, 1, body, sizeof body);
}

static weft_loop *server_loop; /* made by main, run by the server thread */

static int serve_main(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    return weft_http_server_serve(server, server_fd);
}

static void *server_thread(void *arg)
{
    weft_future *f = arg;
    weft_loop_run(server_loop, f);
    return NULL;
}

/* Spawned onto the server's loop from main at the end: the shutdown must
 * come from a task of the serving loop. */
static int stop_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    return weft_http_server_shutdown(server, weft_deadline_in(WEFT_SEC));
}

/* ---- the table ----------------------------------------------------------------------------------
 */

typedef struct row {
    const char *name, *what;
    double s[MODELS]; /* seconds; < 0: not run */
    int err[MODELS];
    int best;
    char why[400];
} row;

static double seconds_since(int64_t t0)
{
    return (double)(weft_now() - t0) / 1e9;
}

static void progress(bool on, const char *row_name, const char *model, int done, int total)
{
    if (on)
        fprintf(stderr, "\r  %-6s %-11s (%d/%d)        ", row_name, model, done + 1, total);
}

static void explain(row *r, int index)
{
    const char *b = model_names[r->best];
    double seq = r->s[SEQ], x = r->s[r->best] > 0 ? seq / r->s[r->best] : 0;
    int n = snprintf(r->why, sizeof r->why, "%s, %.1fx sequential: ", b, x);
    const char *text = "";
    switch (index) {
    case 0:
        text = r->best == CORO ? "waiting, not computing: every call waits at once on one thread, "
                                 "without a thread or a process per call"
               : r->best == THREADS
                   ? "waiting, not computing: threads wait side by side (coroutines "
                     "do the same with less memory)"
                   : "the waits are short enough that overheads decide";
        break;
    case 1:
        text = r->best == CORO ? "real I/O: one loop keeps every request in flight on pooled "
                                 "connections; a thread or process per request pays for its own "
                                 "connection"
                               : "real I/O overlaps best where the waits are";
        break;
    case 2:
        /* The fact about C first, whoever won this run. */
        text = r->best == THREADS || r->best == PROCS
                   ? "CPU work needs cores: with no GIL in C, threads use every core as processes "
                     "do, and copy nothing; coroutines share one core"
                   : "with no GIL in C, threads could use every core as processes do, but here "
                     "the work was too small (or the machine too busy) to repay spreading it";
        break;
    case 3:
        text = r->best == CORO ? "waits on the loop, computing on the loop's thread pool "
                                 "(run_in_executor): both overlap"
                               : "both the waits and the computing overlap there";
        break;
    case 4:
        text = r->best == THREADS ? "chunks of the files on every core; processes add only the "
                                    "copying of results (they isolate crashes, which is their use)"
               : r->best == PROCS ? "chunks of the files on every core, in isolated workers"
                                  : "one core reads fast enough here";
        break;
    }
    snprintf(r->why + n, sizeof r->why - (size_t)n, "%s", text);
}

static void print_table(row *rows, int nrows, bool json, bool quick)
{
    if (json) {
        printf("{\"cpus\":%u,\"quick\":%s,\"rows\":[", ncpu, quick ? "true" : "false");
        for (int i = 0; i < nrows; i++) {
            row *r = &rows[i];
            printf("%s{\"name\":\"%s\",\"what\":", i ? "," : "", r->name);
            weft_tool_json_string(stdout, r->what);
            printf(",\"seconds\":{");
            for (int m = 0; m < MODELS; m++) {
                printf("%s\"%s\":", m ? "," : "", model_names[m]);
                if (r->s[m] >= 0)
                    printf("%.4f", r->s[m]);
                else
                    printf("null");
            }
            printf("},\"best\":\"%s\",\"why\":", model_names[r->best]);
            weft_tool_json_string(stdout, r->why);
            printf("}");
        }
        printf("]"); /* the caller closes the object (the Python part may follow) */
        return;
    }
    printf("weft compare on %u CPUs%s: seconds, the best of %d runs (lower is better)\n\n", ncpu,
           quick ? " (--quick)" : "", quick ? 2 : 3);
    printf("%-6s %-44s %11s %11s %11s %11s  %s\n", "", "workload", "sequential", "threads",
           "processes", "coroutines", "best");
    for (int i = 0; i < nrows; i++) {
        row *r = &rows[i];
        printf("%-6s %-44.44s", r->name, r->what);
        for (int m = 0; m < MODELS; m++) {
            if (r->s[m] >= 0)
                printf(" %11.3f", r->s[m]);
            else if (r->err[m])
                printf(" %11s", "failed");
            else
                printf(" %11s", "-");
        }
        printf("  %s\n", model_names[r->best]);
    }
    printf("\nwhy:\n");
    for (int i = 0; i < nrows; i++)
        printf("  %-6s %s\n", rows[i].name, rows[i].why);
}

/* ---- --with-python: the seeds' Python, side by side ----------------------------------------- */

/* The seeds' approach to each row, in Python: time.sleep calls, urllib
 * GETs, sum(i*i) loops; ThreadPoolExecutor(32), ProcessPoolExecutor()
 * (one worker per CPU) and asyncio (gather of sleeps; of aiohttp GETs
 * when aiohttp is installed). CPython computes some 50x slower than C, so
 * the cpu row runs one round of 1M..5M and its time is scaled to the
 * rounds weft ran (said in the output); mixed and files are not run. It
 * prints one JSON object: {"row": {"model": seconds or null}}. */
static const char py_compare[] =
    "import asyncio, json, sys, time, urllib.request\n"
    "from concurrent.futures import ThreadPoolExecutor, ProcessPoolExecutor\n"
    "cfg = json.loads(sys.argv[1])\n"
    "def io_call(ms): time.sleep(ms / 1000)\n"
    "def get(url):\n"
    "    with urllib.request.urlopen(url) as r: return len(r.read())\n"
    "def squares(n): return sum(i * i for i in range(n))\n"
    "def timed(f):\n"
    "    t = time.perf_counter(); f(); return time.perf_counter() - t\n"
    "def pools(fn, args, workers):\n"
    "    out = {}\n"
    "    out['sequential'] = timed(lambda: [fn(a) for a in args])\n"
    "    with ThreadPoolExecutor(workers) as ex:\n"
    "        out['threads'] = timed(lambda: list(ex.map(fn, args)))\n"
    "    with ProcessPoolExecutor() as ex:\n"
    "        list(ex.map(abs, [1]))  # the workers start before the clock\n"
    "        out['processes'] = timed(lambda: list(ex.map(fn, args)))\n"
    "    return out\n"
    "res = {}\n"
    "ms = cfg['io_ms']\n"
    "res['io'] = pools(io_call, ms, 32)\n"
    "async def sleeps(): await asyncio.gather(*(asyncio.sleep(m / 1000) for m in ms))\n"
    "res['io']['coroutines'] = timed(lambda: asyncio.run(sleeps()))\n"
    "urls = [cfg['url']] * cfg['http']\n"
    "res['http'] = pools(get, urls, 32)\n"
    "try:\n"
    "    import aiohttp\n"
    "    async def gets():\n"
    "        async with aiohttp.ClientSession() as s:\n"
    "            async def one(u):\n"
    "                async with s.get(u) as r: return await r.read()\n"
    "            await asyncio.gather(*(one(u) for u in urls))\n"
    "    res['http']['coroutines'] = timed(lambda: asyncio.run(gets()))\n"
    "except ImportError:\n"
    "    res['http']['coroutines'] = None\n"
    "ns = [k * 1000000 for k in range(1, 6)]\n"
    "res['cpu'] = pools(squares, ns, len(ns))\n"
    "async def inline():\n"
    "    async def one(n): return squares(n)\n"
    "    await asyncio.gather(*(one(n) for n in ns))\n"
    "res['cpu']['coroutines'] = timed(lambda: asyncio.run(inline()))\n"
    "for m in res['cpu']: res['cpu'][m] *= cfg['cpu_rounds']\n"
    "print(json.dumps(res))\n";

/* Run the script; parse its JSON into py[row][model] (-1: not run). */
static int run_python(double py[ROWS][MODELS], bool *found)
{
    const char *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    char args[8192];
    size_t n = (size_t)snprintf(args, sizeof args,
                                "{\"url\":\"%s\",\"http\":%d,\"cpu_rounds\":%d,\"io_ms\":[",
                                api_url, cfg.http_calls, cfg.cpu_rounds);
    for (int i = 0; i < cfg.io_calls && n < sizeof args - 16; i++)
        n += (size_t)snprintf(args + n, sizeof args - n, "%s%d", i ? "," : "", io_ms[i]);
    snprintf(args + n, sizeof args - n, "]}");
    char script[128];
    snprintf(script, sizeof script, "%s/compare.py", files_dir);
    FILE *f = fopen(script, "w");
    if (!f)
        return -errno;
    fputs(py_compare, f);
    fclose(f);
    char cmd[sizeof args + 512];
    snprintf(cmd, sizeof cmd, "%s %s '%s' 2>/dev/null", python, script, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -errno;
    static char out[4096];
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = 0;
    int status = pclose(p);
    unlink(script);
    *found = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 127;
    if (!*found)
        return 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -EIO;
    static const char *const rows[ROWS] = {"io", "http", "cpu", "mixed", "files"};
    for (int r = 0; r < ROWS; r++)
        for (int m = 0; m < MODELS; m++) {
            py[r][m] = -1;
            char key[64];
            snprintf(key, sizeof key, "\"%s\": {", rows[r]);
            const char *at = strstr(out, key);
            if (!at)
                continue;
            const char *end = strchr(at, '}');
            snprintf(key, sizeof key, "\"%s\": ", model_names[m]);
            const char *v = strstr(at, key);
            if (v && v < end && strncmp(v + strlen(key), "null", 4) != 0)
                py[r][m] = strtod(v + strlen(key), NULL);
        }
    return 0;
}

static void print_python(row *rows, double py[ROWS][MODELS], bool json)
{
    if (json) {
        printf(",\"python\":{");
        for (int r = 0; r < ROWS; r++) {
            printf("%s\"%s\":{", r ? "," : "", rows[r].name);
            for (int m = 0; m < MODELS; m++) {
                printf("%s\"%s\":", m ? "," : "", model_names[m]);
                if (py[r][m] >= 0)
                    printf("%.4f", py[r][m]);
                else
                    printf("null");
            }
            printf("}");
        }
        printf("}");
        return;
    }
    printf("\nthe seeds' Python (CPython; threads = ThreadPoolExecutor, processes =\n"
           "ProcessPoolExecutor, coroutines = asyncio), seconds, and weft's best against\n"
           "Python's best (cpu: one round run, scaled to weft's rounds):\n\n");
    printf("%-6s %11s %11s %11s %11s  %s\n", "", "sequential", "threads", "processes", "coroutines",
           "weft is");
    for (int r = 0; r < ROWS; r++) {
        double best = -1;
        bool any = false;
        for (int m = 0; m < MODELS; m++)
            any |= py[r][m] >= 0;
        if (!any)
            continue;
        printf("%-6s", rows[r].name);
        for (int m = 0; m < MODELS; m++) {
            if (py[r][m] >= 0) {
                printf(" %11.3f", py[r][m]);
                if (best < 0 || py[r][m] < best)
                    best = py[r][m];
            } else {
                printf(" %11s", "-");
            }
        }
        double wb = rows[r].s[rows[r].best];
        if (wb > 0 && best > 0)
            printf("  %.1fx faster\n", best / wb);
        else
            printf("  -\n");
    }
}

/* ---- the command ---------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: weft compare [--quick] [--json] [--no-progress] [--with-python]\n"
               "The seeds' decision table, measured: I/O-bound, real HTTP, CPU-bound, mixed and\n"
               "file workloads, each run sequentially, on threads, on processes and on\n"
               "coroutines; the best per row, and why.\n\n"
               "  --quick        a fraction of the work (a few seconds)\n"
               "  --json         the table as JSON on standard output\n"
               "  --no-progress  no progress line on a terminal\n"
               "  --with-python  also run the seeds' Python versions, and print the ratios\n");
}

int weft_cmd_compare(int argc, char **argv)
{
    bool quick = false, json = false, show = isatty(STDERR_FILENO), with_python = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--no-progress"))
            show = false;
        else if (!strcmp(argv[i], "--with-python"))
            with_python = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "weft compare: unknown option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    cfg = quick ? (config){30, 30, 6, 12, 4, "4M"} : (config){100, 100, 40, 40, 8, "32M"};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    ncpu = cpus > 0 ? (unsigned)cpus : 1;
    uint64_t seed = 7;
    for (int i = 0; i < MAX_ITEMS; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        io_ms[i] = 5 + (int)((seed >> 33) % 21);
    }
    /* The API server, on a thread and loop of its own. */
    weft_addr bound;
    int rc = weft_tcp_listen("127.0.0.1", "0", 1024, &server_fd, &bound);
    if (rc == 0)
        rc = weft_http_server_create(&server, NULL);
    if (rc == 0)
        rc = weft_http_server_route(server, "GET", "/api", api, NULL);
    weft_future *serving = NULL;
    if (rc == 0)
        rc = weft_loop_create(&server_loop, &(weft_loop_opts){.name = "compare-server"});
    if (rc == 0)
        rc = weft_spawn(server_loop, serve_main, NULL, NULL, &serving);
    if (rc < 0) {
        fprintf(stderr, "weft compare: the local server: %s\n", weft_strerror(rc));
        return 1;
    }
    snprintf(api_url, sizeof api_url, "http://127.0.0.1:%d/api", weft_addr_port(&bound));
    pthread_t srv;
    if (pthread_create(&srv, NULL, server_thread, serving) != 0) {
        fprintf(stderr, "weft compare: cannot start the server thread\n");
        return 1;
    }
    rc = weft_procpool_create(&procs, &(weft_procpool_opts){.name = "compare"});
    if (rc == 0)
        rc = files_gen();
    if (rc < 0) {
        fprintf(stderr, "weft compare: set-up: %s\n", weft_strerror(rc));
        return 1;
    }

    static char whats[ROWS][64];
    snprintf(whats[0], 64, "I/O-bound: %d API calls of 5-25 ms", cfg.io_calls);
    snprintf(whats[1], 64, "real I/O: %d HTTP GETs, 10 ms each", cfg.http_calls);
    snprintf(whats[2], 64, "CPU: sum of squares 1M..5M x %d", cfg.cpu_rounds);
    snprintf(whats[3], 64, "mixed: %d x (GET, then squares to 2M)", cfg.mixed_items);
    snprintf(whats[4], 64, "files: etl summarize %d x %s", cfg.files, cfg.file_size);
    static const char *const names[ROWS] = {"io", "http", "cpu", "mixed", "files"};
    row rows[ROWS];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < ROWS; i++) {
        rows[i].name = names[i];
        rows[i].what = whats[i];
    }
    int sizes[ROWS] = {cfg.io_calls, cfg.http_calls, cfg.cpu_rounds * 5, cfg.mixed_items, 0};
    int failures = 0, reps = quick ? 2 : 3;
    for (int i = 0; i < ROWS; i++) {
        row *r = &rows[i];
        /* Best of `reps` runs per cell, the models taking turns, so that
         * a slow moment of the machine does not land on one model. */
        for (int m = 0; m < MODELS; m++)
            r->s[m] = -1;
        for (int k = 0; k < reps; k++)
            for (int m = 0; m < MODELS; m++) {
                if (r->err[m] || (i == 4 && m == CORO))
                    continue; /* failed already; no coroutine version of files */
                progress(show, r->name, model_names[m], (i * reps + k) * MODELS + m,
                         ROWS * reps * MODELS);
                int64_t t0 = weft_now();
                int err = 0;
                if (i == 4) {
                    err = run_files(m);
                } else if (m == SEQ) {
                    for (int u = 0; u < sizes[i] && err >= 0; u++)
                        err = units[i](u);
                } else if (m == THREADS) {
                    err = run_threads(i, sizes[i], i == 2 ? ncpu : 32);
                } else if (m == PROCS) {
                    err = run_processes(i, sizes[i]);
                } else {
                    err = run_coroutines(i, sizes[i]);
                }
                double t = seconds_since(t0);
                if (err < 0) {
                    r->err[m] = err;
                    r->s[m] = -1;
                    failures++;
                    fprintf(stderr, "\nweft compare: %s on %s failed: %s\n", r->name,
                            model_names[m], weft_strerror(err));
                } else if (r->s[m] < 0 || t < r->s[m]) {
                    r->s[m] = t;
                }
            }
        r->best = SEQ;
        for (int m = 0; m < MODELS; m++)
            if (r->s[m] >= 0 && (r->s[r->best] < 0 || r->s[m] < r->s[r->best]))
                r->best = m;
        explain(r, i);
    }
    if (show)
        fprintf(stderr, "\r%60s\r", "");
    print_table(rows, ROWS, json, quick);
    if (with_python) {
        double py[ROWS][MODELS];
        bool found = false;
        if (show)
            fprintf(stderr, "  running the seeds' Python...\r");
        int prc = run_python(py, &found);
        if (show)
            fprintf(stderr, "%40s\r", "");
        if (!found)
            fprintf(stderr, "weft compare: python3 not found: --with-python skipped\n");
        else if (prc < 0)
            fprintf(stderr, "weft compare: the Python side failed: %s\n", weft_strerror(prc));
        else
            print_python(rows, py, json);
    }
    if (json)
        printf("}\n");

    /* Stop the server (from its own loop), the pool, the files. */
    weft_spawn(server_loop, stop_task, NULL, NULL, NULL);
    pthread_join(srv, NULL);
    weft_future_unref(serving);
    weft_loop_destroy(server_loop);
    weft_http_server_destroy(server);
    close(server_fd);
    weft_procpool_destroy(procs);
    files_clean();
    return failures ? 1 : 0;
}
