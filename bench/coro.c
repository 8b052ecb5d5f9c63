/* Coroutine kernels for `weft bench`: the cost of a switch and of a
 * coroutine's life, against the peers' nearest equivalents (Go: an
 * unbuffered channel ping-pong between two goroutines, the "switch
 * round trip"; spawn+finish gets its own peers with the event loop). */
#include <stdlib.h>

#include <weft/coro.h>
#include <weft/error.h>

#include "bench/bench.h"
#include "src/coro/ctx.h"

static long switches;

static void bouncer(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++) {
        switches++;
        weft_coro_yield();
    }
}

/* One op: resume a coroutine and have it yield back (two switches). */
static double switch_round_trips(long n, bool fp_env)
{
    weft_coro *c;
    weft_coro_opts opts = {.fp_env = fp_env};
    int rc = weft_coro_create(&c, bouncer, &n, &opts);
    if (rc < 0)
        return rc;
    switches = 0;
    double t0 = weft_bench_seconds();
    for (long i = 0; i < n; i++)
        weft_coro_resume(c);
    double s = weft_bench_seconds() - t0;
    weft_coro_resume(c); /* let it finish */
    weft_coro_destroy(c);
    return switches == n ? s : -EPROTO;
}

static double coro_switch(long n)
{
    return switch_round_trips(n, false);
}

static double coro_switch_fp(long n)
{
    return switch_round_trips(n, true);
}

static void empty(void *arg)
{
    (void)arg;
}

/* One op: create a coroutine on a pooled stack, run it to its end, destroy
 * it. */
static double coro_lifecycle(long n)
{
    double t0 = weft_bench_seconds();
    for (long i = 0; i < n; i++) {
        weft_coro *c;
        int rc = weft_coro_create(&c, empty, NULL, NULL);
        if (rc < 0)
            return rc;
        weft_coro_resume(c);
        weft_coro_destroy(c);
    }
    return weft_bench_seconds() - t0;
}

/* The bare machine switch under weft_coro (src/coro/switch_*.S), without
 * the coroutine's state machine: what the hardware and the register
 * save/restore cost here. */
static weft__ctx main_ctx, bare_ctx;

static void bare_body(void *arg)
{
    (void)arg;
    for (;;)
        weft__ctx_switch(&bare_ctx, &main_ctx, NULL, 0);
}

/* One op: a switch into a context and back. */
static double ctx_switch(long n)
{
    size_t size = 64 * 1024;
    void *stack = aligned_alloc(4096, size);
    if (!stack)
        return -ENOMEM;
    weft__ctx_init(&bare_ctx, stack, size, bare_body, NULL, false);
    double t0 = weft_bench_seconds();
    for (long i = 0; i < n; i++)
        weft__ctx_switch(&main_ctx, &bare_ctx, NULL, 0);
    double s = weft_bench_seconds() - t0;
    free(stack); /* bare_body never returns: its frame is simply dropped */
    return s;
}

const weft_bench_kernel weft_bench_coro_kernels[] = {
    {"ctx_switch", "the bare context switch (assembly), into a context and back", "task_pingpong",
     50000000, ctx_switch},
    {"coro_switch", "weft_coro_resume + weft_coro_yield round trip, one thread", "task_pingpong",
     20000000, coro_switch},
    {"coro_switch_fp", "coro_switch of a coroutine with its own floating-point environment",
     "task_pingpong", 20000000, coro_switch_fp},
    {"coro_lifecycle", "weft_coro create + run to end + destroy (pooled stack)", "coro_lifecycle",
     5000000, coro_lifecycle},
    {0},
};
