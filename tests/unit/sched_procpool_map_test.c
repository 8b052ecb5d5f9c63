/* weft_procpool_map: every item's result reaches emit exactly once, in
 * input order (or in completion order when unordered), with chunking;
 * results of any length, per-item errors, a chunk whose results exceed the
 * ring (the memfd path), emit stopping the map, and a worker dying under a
 * chunk (its items report WEFT_EWORKER_DIED, the map goes on). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weft/procpool.h>

#include "weft_test.h"

/* x -> x*x, as 8 bytes; -1 is an error; -2 kills the worker. */
static int square(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    int64_t x;
    if (len != sizeof x)
        return -EINVAL;
    memcpy(&x, arg, sizeof x);
    if (x == -1)
        return -EDOM;
    if (x == -2)
        raise(SIGKILL);
    x *= x;
    return weft_proc_return(ctx, &x, sizeof x);
}
WEFT_PROC_TASK(square);

/* x -> x bytes of value x % 251 (variable-length results). */
static int repeat(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    uint32_t x;
    if (len != sizeof x)
        return -EINVAL;
    memcpy(&x, arg, sizeof x);
    unsigned char buf[4096];
    if (x > sizeof buf)
        return -E2BIG;
    memset(buf, (int)(x % 251), x);
    return weft_proc_return(ctx, buf, x);
}
WEFT_PROC_TASK(repeat);

typedef struct seen {
    size_t n, next;
    bool ordered;
    unsigned char *hits;
    int errors, died;
    size_t stop_at;
} seen;

static int check_square(void *ctx, size_t index, const void *result, size_t len, int err)
{
    seen *s = ctx;
    if (s->ordered)
        WT_EQ(index, s->next);
    s->next++;
    WT_LT(index, s->n);
    WT_EQ(s->hits[index], 0);
    s->hits[index] = 1;
    if (err == WEFT_EWORKER_DIED) {
        s->died++;
        return 0;
    }
    if (err) {
        WT_ERR(err, -EDOM);
        s->errors++;
        return 0;
    }
    WT_EQ(len, 8);
    int64_t v;
    memcpy(&v, result, sizeof v);
    WT_EQ(v, (int64_t)index * (int64_t)index);
    return s->stop_at && s->next == s->stop_at ? -ECANCELED : 0;
}

static void map_squares(weft_procpool *p, size_t n, size_t chunk, bool unordered, seen *s,
                        int expect_rc, const int64_t *items)
{
    int64_t *own = NULL;
    if (!items) {
        own = malloc(n * sizeof *own);
        for (size_t i = 0; i < n; i++)
            own[i] = (int64_t)i;
        items = own;
    }
    s->n = n;
    s->next = 0;
    s->ordered = !unordered;
    s->hits = calloc(n, 1);
    weft_procpool_map_opts o = {.task = WEFT_PROC_TASK_REF(square),
                                .items = items,
                                .count = n,
                                .item_size = sizeof(int64_t),
                                .emit = check_square,
                                .ctx = s,
                                .chunksize = chunk,
                                .unordered = unordered};
    WT_ERR(weft_procpool_map(p, &o), expect_rc);
    free(own);
}

static void test_ordered_and_unordered(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 2};
    WT_OK(weft_procpool_create(&p, &o));
    size_t chunks[] = {1, 7, 1000, 100000};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        for (int unordered = 0; unordered <= 1; unordered++) {
            seen s = {0};
            size_t n = chunks[c] == 1 ? 3000 : 100000;
            map_squares(p, n, chunks[c], unordered, &s, 0, NULL);
            WT_EQ(s.next, n);
            free(s.hits);
        }
    }
    /* Nothing to do. */
    seen s = {0};
    map_squares(p, 0, 10, false, &s, 0, NULL);
    free(s.hits);
    weft_procpool_destroy(p);
}

static int check_repeat(void *ctx, size_t index, const void *result, size_t len, int err)
{
    seen *s = ctx;
    WT_EQ(index, s->next);
    s->next++;
    WT_OK(err);
    size_t want = (index * 37) % 4000;
    WT_EQ(len, want);
    const unsigned char *r = result;
    for (size_t i = 0; i < len; i++)
        if (r[i] != want % 251)
            WT_EQ(r[i], want % 251);
    return 0;
}

/* Chunks of 500 results of up to 4000 bytes: well over the ring's inline
 * limit, so they come back through a memfd. */
static void test_variable_and_large(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 2};
    WT_OK(weft_procpool_create(&p, &o));
    enum { N = 5000 };
    uint32_t *items = malloc(N * sizeof *items);
    for (uint32_t i = 0; i < N; i++)
        items[i] = (i * 37) % 4000;
    seen s = {0};
    weft_procpool_map_opts mo = {.task = WEFT_PROC_TASK_REF(repeat),
                                 .items = items,
                                 .count = N,
                                 .item_size = sizeof(uint32_t),
                                 .emit = check_repeat,
                                 .ctx = &s,
                                 .chunksize = 500};
    WT_OK(weft_procpool_map(p, &mo));
    WT_EQ(s.next, N);
    free(items);
    weft_procpool_destroy(p);
}

static void test_errors_stop_and_death(void)
{
    weft_procpool *p;
    weft_procpool_opts o = {.workers = 2};
    WT_OK(weft_procpool_create(&p, &o));
    enum { N = 1000 };
    int64_t items[N];
    for (int i = 0; i < N; i++)
        items[i] = i;
    /* Per-item errors reach emit; the map itself succeeds. */
    items[10] = items[500] = -1;
    seen s = {0};
    map_squares(p, N, 50, false, &s, 0, items);
    WT_EQ(s.errors, 2);
    free(s.hits);
    /* emit's nonzero return stops the map and is returned. */
    items[10] = 10;
    items[500] = 500;
    seen stop = {.stop_at = 300};
    map_squares(p, N, 50, false, &stop, -ECANCELED, items);
    WT_EQ(stop.next, 300);
    free(stop.hits);
    /* A worker dies under a chunk: that chunk's items report it, the map
     * goes on and finishes. */
    items[420] = -2;
    seen d = {0};
    map_squares(p, N, 50, false, &d, 0, items);
    WT_EQ(d.next, N);
    WT_EQ(d.died, 50);
    free(d.hits);
    seen bad = {0};
    weft_procpool_map_opts none = {.emit = check_square, .ctx = &bad, .item_size = 8};
    WT_ERR(weft_procpool_map(p, &none), -EINVAL);
    weft_procpool_destroy(p);
}

int main(void)
{
    WT_RUN(test_ordered_and_unordered);
    WT_RUN(test_variable_and_large);
    WT_RUN(test_errors_stop_and_death);
    return 0;
}
