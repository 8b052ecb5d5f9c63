/* The process pool's basics: tasks run in other processes and their
 * results come back (small, large, empty, errors), arguments of every size
 * travel, the initializer runs in each worker, bad input is refused, and
 * afterwards no process, fd or shared memory is left. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/procpool.h>

#include "test_procs.h"
#include "weft_test.h"

/* ---- tasks -------------------------------------------------------------------------- */

static int square(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    int64_t x;
    if (len != sizeof x)
        return -EINVAL;
    memcpy(&x, arg, sizeof x);
    x *= x;
    return weft_proc_return(ctx, &x, sizeof x);
}
WEFT_PROC_TASK(square);

/* The pid of the worker, so tests can see the work ran elsewhere. */
static int whoami(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)arg;
    (void)len;
    int64_t pid = getpid();
    return weft_proc_return(ctx, &pid, sizeof pid);
}
WEFT_PROC_TASK(whoami);

/* Sums the bytes of its argument; returns a result of the requested size
 * (first 8 bytes of the argument) filled with a pattern. */
static int checksum_and_echo(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    if (len < 16)
        return -EINVAL;
    uint64_t want;
    memcpy(&want, arg, sizeof want);
    uint64_t sum = 0;
    const unsigned char *p = arg;
    for (size_t i = 16; i < len; i++)
        sum += p[i];
    unsigned char *out = weft_proc_result_buffer(ctx, want < 8 ? 8 : want);
    if (!out)
        return -ENOMEM;
    memcpy(out, &sum, sizeof sum);
    for (size_t i = 8; i < want; i++)
        out[i] = (unsigned char)(i * 7);
    return 0;
}
WEFT_PROC_TASK(checksum_and_echo);

static int fails(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)arg;
    (void)len;
    (void)ctx;
    return -ENOTRECOVERABLE;
}
WEFT_PROC_TASK(fails);

static int nothing(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)arg;
    (void)len;
    (void)ctx;
    return 0;
}
WEFT_PROC_TASK(nothing);

/* Initializer: remembers its argument for get_init to report. */
static int64_t init_value = -1;

static int init(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)ctx;
    if (len != sizeof init_value)
        return -EINVAL;
    memcpy(&init_value, arg, sizeof init_value);
    return init_value < 0 ? -EDOM : 0;
}
WEFT_PROC_TASK(init);

static int get_init(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    (void)arg;
    (void)len;
    return weft_proc_return(ctx, &init_value, sizeof init_value);
}
WEFT_PROC_TASK(get_init);

/* ---- tests ---------------------------------------------------------------------------- */

static void test_submit_and_results(void)
{
    int fds = count_fds();
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 2};
    WT_OK(weft_procpool_create(&p, &o));
    WT_EQ(weft_procpool_workers(p), 2);
    WT_EQ(count_children(), 1); /* the zygote; workers are its children */
    enum { N = 2000 };
    static weft_future *fs[N];
    for (int64_t i = 0; i < N; i++)
        WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(square), &i, sizeof i, WEFT_NEVER,
                                   &fs[i]));
    for (int64_t i = 0; i < N; i++) {
        weft_value v;
        WT_OK(weft_future_result(fs[i], WEFT_NEVER, &v));
        WT_EQ(v.i64, i * i);
        const void *data;
        size_t len;
        WT_OK(weft_procpool_result(fs[i], &data, &len));
        WT_EQ(len, 8);
        char what[64];
        WT_OK(weft_procpool_describe(fs[i], what, sizeof what));
        WT_STREQ(what, "done");
        weft_future_unref(fs[i]);
    }
    /* The work ran in other processes. */
    weft_future *f;
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(whoami), NULL, 0, WEFT_NEVER, &f));
    weft_value v;
    WT_OK(weft_future_result(f, WEFT_NEVER, &v));
    WT_NE(v.i64, getpid());
    WT_GT(v.i64, 0);
    weft_future_unref(f);
    /* Errors and empty results. */
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(fails), NULL, 0, WEFT_NEVER, &f));
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ENOTRECOVERABLE);
    char what[64];
    WT_OK(weft_procpool_describe(f, what, sizeof what));
    WT_ASSERT(strstr(what, "failed"));
    weft_future_unref(f);
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(nothing), NULL, 0, WEFT_NEVER, &f));
    const void *data = (void *)1;
    size_t len = 99;
    WT_OK(weft_future_result(f, WEFT_NEVER, NULL));
    WT_OK(weft_procpool_result(f, &data, &len));
    WT_EQ(len, 0);
    weft_future_unref(f);
    /* Fire and forget: still runs and is counted. */
    int64_t x = 3;
    WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(square), &x, sizeof x, WEFT_NEVER, NULL));
    weft_procpool_metrics m;
    WT_OK(weft_procpool_shutdown(p, WEFT_PROCPOOL_WAIT, WEFT_NEVER));
    WT_OK(weft_procpool_metrics_get(p, &m));
    WT_EQ(m.submitted, N + 4);
    WT_EQ(m.completed, N + 3);
    WT_EQ(m.failed, 1);
    WT_EQ(m.in_flight, 0);
    WT_EQ(m.restarts, 0);
    WT_EQ(count_children(), 0); /* shut down: no process left */
    WT_ERR(weft_procpool_submit(p, WEFT_PROC_TASK_REF(square), &x, sizeof x, WEFT_NEVER, NULL),
           -EPIPE);
    WT_ERR(weft_procpool_shutdown(p, WEFT_PROCPOOL_WAIT, WEFT_NEVER), -EALREADY);
    weft_procpool_destroy(p);
    WT_EQ(count_fds(), fds);
}

/* Arguments from empty to beyond the arena's small blocks, results from
 * inline to memfd-sized: every byte arrives. */
static void test_sizes(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 2};
    WT_OK(weft_procpool_create(&p, &o));
    size_t arg_sizes[] = {16, 80, 81, 200, 4096, 100000, 3 << 20};
    size_t res_sizes[] = {8, 16, 17, 1000, 65536, 65537, 5 << 20};
    for (size_t a = 0; a < sizeof arg_sizes / sizeof arg_sizes[0]; a++) {
        size_t n = arg_sizes[a];
        unsigned char *arg = malloc(n);
        WT_ASSERT(arg);
        uint64_t sum = 0;
        for (size_t i = 16; i < n; i++) {
            arg[i] = (unsigned char)(i * 13 + a);
            sum += arg[i];
        }
        for (size_t r = 0; r < sizeof res_sizes / sizeof res_sizes[0]; r++) {
            uint64_t want = res_sizes[r];
            memcpy(arg, &want, sizeof want);
            weft_future *f;
            WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(checksum_and_echo), arg, n,
                                       WEFT_NEVER, &f));
            WT_OK(weft_future_wait(f, WEFT_NEVER));
            const unsigned char *data;
            size_t len;
            WT_OK(weft_procpool_result(f, (const void **)&data, &len));
            WT_EQ(len, want);
            uint64_t got;
            memcpy(&got, data, sizeof got);
            WT_EQ(got, sum);
            for (size_t i = 8; i < want; i++)
                if (data[i] != (unsigned char)(i * 7))
                    WT_EQ(data[i], (unsigned char)(i * 7));
            weft_future_unref(f);
        }
        free(arg);
    }
    weft_procpool_destroy(p);
}

static void test_initializer(void)
{
    weft_procpool *p;
    int64_t seven = 7;
    weft_procpool_opts o = {
        .workers = 2, .init = WEFT_PROC_TASK_REF(init), .init_arg = &seven, .init_len = 8};
    WT_OK(weft_procpool_create(&p, &o));
    for (int i = 0; i < 20; i++) {
        weft_future *f;
        WT_OK(weft_procpool_submit(p, WEFT_PROC_TASK_REF(get_init), NULL, 0, WEFT_NEVER, &f));
        weft_value v;
        WT_OK(weft_future_result(f, WEFT_NEVER, &v));
        WT_EQ(v.i64, 7);
        weft_future_unref(f);
    }
    weft_procpool_destroy(p);
    /* The parent's copy never ran it. */
    WT_EQ(init_value, -1);
    /* A failing initializer fails creation with its error, leaving nothing. */
    int fds = count_fds();
    int64_t bad = -1;
    o.init_arg = &bad;
    weft_procpool *q = (weft_procpool *)0x1;
    WT_ERR(weft_procpool_create(&q, &o), -EDOM);
    WT_EQ_PTR(q, (weft_procpool *)0x1);
    WT_EQ(count_children(), 0);
    WT_EQ(count_fds(), fds);
}

static void test_bad_input(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 1};
    WT_ERR(weft_procpool_create(NULL, &o), -EINVAL);
    weft_procpool_opts no_init = {.init_len = 4};
    WT_ERR(weft_procpool_create(&p, &no_init), -EINVAL);
    weft_proc_task foreign = {"square", square};
    weft_procpool_opts foreign_init = {.init = &foreign};
    WT_ERR(weft_procpool_create(&p, &foreign_init), -EINVAL);
    WT_OK(weft_procpool_create(&p, &o));
    weft_future *f = (weft_future *)0x1;
    WT_ERR(weft_procpool_submit(p, &foreign, NULL, 0, WEFT_NEVER, &f), -EINVAL);
    WT_ERR(weft_procpool_submit(p, NULL, NULL, 0, WEFT_NEVER, &f), -EINVAL);
    WT_ERR(weft_procpool_submit(p, WEFT_PROC_TASK_REF(square), NULL, 8, WEFT_NEVER, &f),
           -EINVAL);
    WT_EQ_PTR(f, (weft_future *)0x1);
    /* Arguments over a quarter of the arena. */
    weft_procpool_destroy(p);
    weft_procpool_opts small = {.workers = 1, .arena_size = 1 << 20};
    WT_OK(weft_procpool_create(&p, &small));
    char *big = calloc(1, (1 << 18) + 1);
    WT_ERR(weft_procpool_submit(p, WEFT_PROC_TASK_REF(checksum_and_echo), big, (1 << 18) + 1,
                                WEFT_NEVER, &f),
           -E2BIG);
    free(big);
    /* Not a process pool future. */
    weft_future *plain;
    WT_OK(weft_future_create(&plain));
    const void *d;
    size_t l;
    WT_ERR(weft_procpool_result(plain, &d, &l), -EINVAL);
    weft_future_unref(plain);
    WT_ERR(weft_procpool_shutdown(p, (weft_procpool_shutdown_mode)9, WEFT_NEVER), -EINVAL);
    weft_procpool_destroy(p);
}

int main(void)
{
    WT_RUN(test_submit_and_results);
    WT_RUN(test_sizes);
    WT_RUN(test_initializer);
    WT_RUN(test_bad_input);
    return 0;
}
