/* Coroutines: resume/yield, nesting, errors, floating-point state, many
 * coroutines on few mappings, and resumption from another thread. */
#include <fenv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <weft/coro.h>

#include "coro/stack.h"
#include "weft_test.h"

static void counter(void *arg)
{
    int *n = arg;
    for (int i = 0; i < 3; i++) {
        (*n)++;
        WT_OK(weft_coro_yield());
    }
    *n += 100;
}

static void test_resume_yield(void)
{
    int n = 0;
    weft_coro *c;
    WT_OK(weft_coro_create(&c, counter, &n, NULL));
    WT_EQ(n, 0); /* nothing runs at create */
    WT_ASSERT(!weft_coro_done(c));
    for (int i = 1; i <= 3; i++) {
        WT_OK(weft_coro_resume(c));
        WT_EQ(n, i);
        WT_ASSERT(!weft_coro_done(c));
        WT_ERR(weft_coro_destroy(c), -EBUSY); /* suspended mid-way */
    }
    WT_OK(weft_coro_resume(c));
    WT_EQ(n, 103);
    WT_ASSERT(weft_coro_done(c));
    WT_ERR(weft_coro_resume(c), -EINVAL);
    WT_OK(weft_coro_destroy(c));
}

static void test_errors(void)
{
    weft_coro *c = (weft_coro *)0x1;
    int n = 0;
    WT_ERR(weft_coro_create(NULL, counter, &n, NULL), -EINVAL);
    WT_ERR(weft_coro_create(&c, NULL, &n, NULL), -EINVAL);
    weft_coro_opts small = {.stack_size = WEFT_CORO_STACK_MIN - 1};
    WT_ERR(weft_coro_create(&c, counter, &n, &small), -EINVAL);
    weft_coro_opts big = {.stack_size = WEFT_CORO_STACK_MAX + 1};
    WT_ERR(weft_coro_create(&c, counter, &n, &big), -EINVAL);
    WT_EQ_PTR(c, (weft_coro *)0x1); /* untouched on failure */
    WT_ERR(weft_coro_resume(NULL), -EINVAL);
    WT_ERR(weft_coro_yield(), -EPERM);
    WT_EQ_PTR(weft_coro_current(), NULL);
    WT_OK(weft_coro_destroy(NULL));
    /* A never-started coroutine can be destroyed. */
    WT_OK(weft_coro_create(&c, counter, &n, NULL));
    WT_OK(weft_coro_destroy(c));
    WT_EQ(n, 0);
}

static void test_names_and_sizes(void)
{
    weft_coro *c;
    int n = 0;
    WT_OK(weft_coro_create(&c, counter, &n, NULL));
    WT_STREQ(weft_coro_name(c), "coro");
    WT_EQ_U(weft_coro_stack_size(c), WEFT_CORO_STACK_DEFAULT);
    WT_OK(weft_coro_destroy(c));
    weft_coro_opts o = {.stack_size = 5000, .name = "worker"};
    WT_OK(weft_coro_create(&c, counter, &n, &o));
    WT_STREQ(weft_coro_name(c), "worker");
    WT_EQ_U(weft_coro_stack_size(c), 8192); /* a power of two */
    WT_OK(weft_coro_destroy(c));
    /* Tiny stacks share pages; a guarded one takes a whole page. */
    weft_coro_opts tiny = {.stack_size = WEFT_CORO_STACK_MIN};
    WT_OK(weft_coro_create(&c, counter, &n, &tiny));
    WT_EQ_U(weft_coro_stack_size(c), 1024);
    n = 0;
    for (int i = 0; i < 4; i++)
        WT_OK(weft_coro_resume(c));
    WT_EQ(n, 103);
    WT_OK(weft_coro_destroy(c));
    tiny.guard_page = true;
    WT_OK(weft_coro_create(&c, counter, &n, &tiny));
    WT_EQ_U(weft_coro_stack_size(c), weft__stack_page());
    WT_OK(weft_coro_destroy(c));
#ifdef WEFT_TEST_UCONTEXT
    WT_STREQ(weft_coro_backend(), "ucontext");
#elif defined(__x86_64__)
    WT_STREQ(weft_coro_backend(), "x86_64");
#elif defined(__aarch64__)
    WT_STREQ(weft_coro_backend(), "aarch64");
#endif
}

/* Nesting: an outer coroutine resumes an inner one, which yields back to it,
 * not to main; each sees itself as current. */
typedef struct nest {
    weft_coro *outer, *inner;
    char log[32];
    int len;
} nest;

static void inner_fn(void *arg)
{
    nest *t = arg;
    WT_EQ_PTR(weft_coro_current(), t->inner);
    t->log[t->len++] = 'i';
    WT_OK(weft_coro_yield());
    t->log[t->len++] = 'j';
}

static void outer_fn(void *arg)
{
    nest *t = arg;
    WT_EQ_PTR(weft_coro_current(), t->outer);
    t->log[t->len++] = 'o';
    WT_OK(weft_coro_create(&t->inner, inner_fn, t, NULL));
    WT_OK(weft_coro_resume(t->inner));
    WT_EQ_PTR(weft_coro_current(), t->outer);
    WT_ERR(weft_coro_resume(t->outer), -EBUSY); /* resuming oneself */
    t->log[t->len++] = 'p';
    WT_OK(weft_coro_yield()); /* to main */
    WT_OK(weft_coro_resume(t->inner));
    WT_ASSERT(weft_coro_done(t->inner));
    WT_OK(weft_coro_destroy(t->inner));
    t->log[t->len++] = 'q';
}

static void test_nesting(void)
{
    nest t = {0};
    WT_OK(weft_coro_create(&t.outer, outer_fn, &t, NULL));
    WT_OK(weft_coro_resume(t.outer));
    WT_EQ_PTR(weft_coro_current(), NULL);
    t.log[t.len++] = 'M';
    WT_OK(weft_coro_resume(t.outer));
    WT_ASSERT(weft_coro_done(t.outer));
    t.log[t.len] = 0;
    WT_STREQ(t.log, "oipMjq");
    WT_OK(weft_coro_destroy(t.outer));
}

/* With opts.fp_env the rounding mode is part of the coroutine: one that
 * changes it does not change its resumer's, and gets its own back after a
 * yield, even when the resumer changed the thread's in between. Also
 * exercises floating point and 16-byte stack alignment (printf of doubles
 * faults on a misaligned stack). */
static void fp_fn(void *arg)
{
    double *out = arg;
    WT_EQ(fegetround(), FE_TONEAREST);
    fesetround(FE_UPWARD);
    char buf[64];
    snprintf(buf, sizeof buf, "%.3f", 1.0 / 3.0);
    WT_STREQ(buf, "0.334");
    WT_OK(weft_coro_yield());
    WT_EQ(fegetround(), FE_UPWARD);
    *out = 1.0 / 3.0;
}

static void test_fp_env_own(void)
{
    double r = 0;
    weft_coro *c;
    weft_coro_opts opts = {.fp_env = true};
    WT_OK(weft_coro_create(&c, fp_fn, &r, &opts));
    WT_EQ(fegetround(), FE_TONEAREST);
    WT_OK(weft_coro_resume(c));
    WT_EQ(fegetround(), FE_TONEAREST);
    fesetround(FE_DOWNWARD);
    WT_OK(weft_coro_resume(c));
    WT_EQ(fegetround(), FE_DOWNWARD);
    fesetround(FE_TONEAREST);
    WT_ASSERT(r > 0.333333 && r < 0.333334);
    WT_OK(weft_coro_destroy(c));
}

/* Without it (the default) the coroutines of a thread share the thread's
 * environment, as goroutines do: a change made inside is seen outside. */
static void fp_shared_fn(void *arg)
{
    (void)arg;
    fesetround(FE_UPWARD);
    WT_OK(weft_coro_yield());
    WT_EQ(fegetround(), FE_DOWNWARD);
    fesetround(FE_TONEAREST);
}

static void test_fp_env_shared(void)
{
    weft_coro *c;
    WT_OK(weft_coro_create(&c, fp_shared_fn, NULL, NULL));
    WT_OK(weft_coro_resume(c));
    WT_EQ(fegetround(), FE_UPWARD);
    fesetround(FE_DOWNWARD);
    WT_OK(weft_coro_resume(c));
    WT_ASSERT(weft_coro_done(c));
    WT_EQ(fegetround(), FE_TONEAREST);
    WT_OK(weft_coro_destroy(c));
}

/* A deep stack really is usable down to (almost) its end. */
static int deep(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n == 0 ? pad[0] : deep(n - 1) + 1 + (pad[0] - (char)n);
}

static void deep_fn(void *arg)
{
    *(int *)arg = deep(*(int *)arg);
}

static void test_big_stack(void)
{
    int n = 1500; /* ~0.9 MiB of frames on a 2 MiB stack */
    weft_coro_opts o = {.stack_size = 2u << 20};
    weft_coro *c;
    WT_OK(weft_coro_create(&c, deep_fn, &n, &o));
    WT_OK(weft_coro_resume(c));
    WT_EQ(n, 1500);
    WT_OK(weft_coro_destroy(c));
}

/* 20k live coroutines of the default size need few mappings (pooled
 * regions), not one each: vm.max_map_count is 65530. */
static void one_yield(void *arg)
{
    (*(int *)arg)++;
    weft_coro_yield();
    (*(int *)arg)++;
}

static int map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    WT_ASSERT(f != NULL);
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static void test_many(void)
{
#ifdef WEFT_SANITIZER
    enum { N = 4000 }; /* TSan counts each fiber as a thread, 8128 at most */
#else
    enum { N = 20000 };
#endif
    static weft_coro *cs[N];
    int n = 0;
    int maps0 = map_count();
    weft__stack_stats before;
    weft__stack_stats_get(&before);
    for (int i = 0; i < N; i++) {
        WT_OK(weft_coro_create(&cs[i], one_yield, &n, NULL));
        WT_OK(weft_coro_resume(cs[i]));
    }
    WT_EQ(n, N);
    /* 64 stacks of 64 KiB per 4 MiB region. */
    weft__stack_stats during;
    weft__stack_stats_get(&during);
    WT_LE(during.regions - before.regions, N / 64 + 1);
#ifndef __SANITIZE_THREAD__ /* TSan maps memory of its own for every fiber */
    int maps = map_count() - maps0;
    WT_LT(maps, N / 64 + 16);
#else
    (void)maps0;
#endif
    for (int i = 0; i < N; i++) {
        WT_OK(weft_coro_resume(cs[i]));
        WT_OK(weft_coro_destroy(cs[i]));
    }
    WT_EQ(n, 2 * N);
    /* Released stacks are reused: no new region for the next batch. */
    weft__stack_stats st0, st1;
    weft__stack_stats_get(&st0);
    for (int i = 0; i < N; i++)
        WT_OK(weft_coro_create(&cs[i], one_yield, &n, NULL));
    weft__stack_stats_get(&st1);
    WT_EQ_U(st1.regions, st0.regions);
    for (int i = 0; i < N; i++)
        WT_OK(weft_coro_destroy(cs[i]));
}

/* A suspended coroutine resumed by two threads in turn: each resume sees
 * the writes of the previous leg (the state word's release/acquire). */
typedef struct relay {
    weft_coro *c;
    long sum;
    int turn; /* 0: main's turn to resume, 1: the thread's */
    pthread_mutex_t m;
    pthread_cond_t cv;
} relay;

enum { LEGS = 2000 };

static void relay_fn(void *arg)
{
    relay *r = arg;
    for (int i = 0; i < LEGS; i++) {
        r->sum += i;
        weft_coro_yield();
    }
}

static void *relay_thread(void *arg)
{
    relay *r = arg;
    for (int i = 0; i < LEGS / 2; i++) {
        pthread_mutex_lock(&r->m);
        while (r->turn != 1)
            pthread_cond_wait(&r->cv, &r->m);
        pthread_mutex_unlock(&r->m);
        WT_OK(weft_coro_resume(r->c));
        pthread_mutex_lock(&r->m);
        r->turn = 0;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->m);
    }
    return NULL;
}

static void test_cross_thread(void)
{
    relay r = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    WT_OK(weft_coro_create(&r.c, relay_fn, &r, NULL));
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, relay_thread, &r), 0);
    for (int i = 0; i < LEGS / 2; i++) {
        WT_OK(weft_coro_resume(r.c));
        pthread_mutex_lock(&r.m);
        r.turn = 1;
        pthread_cond_signal(&r.cv);
        while (r.turn != 0)
            pthread_cond_wait(&r.cv, &r.m);
        pthread_mutex_unlock(&r.m);
    }
    WT_EQ(pthread_join(t, NULL), 0);
    WT_OK(weft_coro_resume(r.c)); /* past the last yield: finishes */
    WT_ASSERT(weft_coro_done(r.c));
    WT_EQ(r.sum, (long)LEGS * (LEGS - 1) / 2);
    WT_OK(weft_coro_destroy(r.c));
}

int main(void)
{
    WT_RUN(test_resume_yield);
    WT_RUN(test_errors);
    WT_RUN(test_names_and_sizes);
    WT_RUN(test_nesting);
    WT_RUN(test_fp_env_own);
    WT_RUN(test_fp_env_shared);
    WT_RUN(test_big_stack);
    WT_RUN(test_many);
    WT_RUN(test_cross_thread);
    return 0;
}
