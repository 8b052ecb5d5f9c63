/* weft_pool_map (include/weft/pool.h): results in input order over an
 * array for several chunk sizes; the unordered variant yields each index
 * exactly once; an endless generator with at most K chunks in flight keeps
 * memory flat (the generator never runs more than K chunks ahead of what
 * was emitted); an error in one item is reported for that item only;
 * generator errors, emit stopping the map, a map run from inside a task of
 * the same pool, and a map whose chunks a shutdown cancels. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <weft/future.h>
#include <weft/pool.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "weft_test.h"

static weft_pool *new_pool(unsigned workers)
{
    weft_pool *p;
    weft_pool_opts o = {.workers = workers};
    WT_OK(weft_pool_create(&p, &o));
    return p;
}

static int square_item(void *ctx, size_t index, const void *item, weft_value *out)
{
    (void)ctx;
    int64_t x = *(const int64_t *)item;
    if (x == -13)
        return -EDOM; /* the poisoned item */
    out->i64 = x * x + (int64_t)index * 0;
    return 0;
}

typedef struct collect {
    size_t n_emitted;
    size_t next_expected; /* ordered check */
    int64_t *values;
    int *errs;
    unsigned char *seen;
    bool ordered;
    size_t stop_after;
} collect;

static int collect_emit(void *ctx, size_t index, weft_value v, int err)
{
    collect *c = ctx;
    if (c->ordered)
        WT_EQ(index, c->next_expected);
    c->next_expected = index + 1;
    WT_EQ(c->seen[index], 0);
    c->seen[index] = 1;
    c->values[index] = v.i64;
    c->errs[index] = err;
    c->n_emitted++;
    if (c->stop_after && c->n_emitted == c->stop_after)
        return 99;
    return 0;
}

static void run_array_map(weft_pool *p, size_t n, size_t chunksize, size_t k, bool unordered)
{
    int64_t *items = malloc(n * sizeof *items);
    collect c = {.ordered = !unordered};
    c.values = calloc(n, sizeof *c.values);
    c.errs = calloc(n, sizeof *c.errs);
    c.seen = calloc(n, 1);
    for (size_t i = 0; i < n; i++)
        items[i] = (int64_t)i;
    if (n > 7)
        items[7] = -13;
    weft_pool_map_opts o = {.items = items,
                            .count = n,
                            .item_size = sizeof(int64_t),
                            .fn = square_item,
                            .emit = collect_emit,
                            .ctx = &c,
                            .chunksize = chunksize,
                            .max_in_flight = k,
                            .unordered = unordered};
    weft_pool_map_stats st;
    WT_OK(weft_pool_map(p, &o, &st));
    WT_EQ(c.n_emitted, n);
    WT_EQ(st.items, n);
    WT_EQ(st.chunks, (n + (chunksize ? chunksize : 1) - 1) / (chunksize ? chunksize : 1));
    if (k)
        WT_LE(st.max_in_flight_seen, k);
    for (size_t i = 0; i < n; i++) {
        WT_EQ(c.seen[i], 1);
        if (i == 7) {
            WT_ERR(c.errs[i], -EDOM); /* reported for that item only */
        } else {
            WT_EQ(c.errs[i], 0);
            WT_EQ(c.values[i], (int64_t)i * (int64_t)i);
        }
    }
    free(items);
    free(c.values);
    free(c.errs);
    free(c.seen);
}

static void test_ordered_array(void)
{
    weft_pool *p = new_pool(2);
    run_array_map(p, 1000, 1, 4, false);
    run_array_map(p, 1000, 7, 3, false);
    run_array_map(p, 1000, 1000, 0, false);
    run_array_map(p, 1, 64, 0, false);
    weft_pool_destroy(p);
}

static void test_unordered_array(void)
{
    weft_pool *p = new_pool(3);
    run_array_map(p, 1000, 1, 8, true);
    run_array_map(p, 999, 10, 2, true);
    weft_pool_destroy(p);
}

static void test_empty_and_invalid(void)
{
    weft_pool *p = new_pool(1);
    collect c = {.ordered = true};
    weft_pool_map_opts o = {.items = NULL,
                            .count = 0,
                            .item_size = 8,
                            .fn = square_item,
                            .emit = collect_emit,
                            .ctx = &c};
    weft_pool_map_stats st;
    WT_OK(weft_pool_map(p, &o, &st));
    WT_EQ(st.chunks, 0);
    o.item_size = 0;
    WT_ERR(weft_pool_map(p, &o, NULL), -EINVAL);
    o.item_size = 8;
    o.fn = NULL;
    WT_ERR(weft_pool_map(p, &o, NULL), -EINVAL);
    weft_pool_destroy(p);
}

/* An endless generator: the map must read it only as chunks complete. */
typedef struct endless {
    size_t generated, emitted, max_ahead, chunksize, k, limit;
} endless;

static int endless_gen(void *ctx, void *item)
{
    endless *e = ctx;
    *(int64_t *)item = (int64_t)e->generated++;
    size_t ahead = e->generated - e->emitted;
    if (ahead > e->max_ahead)
        e->max_ahead = ahead;
    return 0;
}

static int endless_emit(void *ctx, size_t index, weft_value v, int err)
{
    endless *e = ctx;
    WT_EQ(index, e->emitted);
    WT_OK(err);
    WT_EQ(v.i64, (int64_t)index * (int64_t)index);
    e->emitted++;
    return e->emitted == e->limit ? 1 : 0;
}

static void test_endless_generator_bounded(void)
{
    weft_pool *p = new_pool(2);
    endless e = {.chunksize = 16, .k = 4, .limit = WT_SCALE(200000)};
    weft_pool_map_opts o = {.gen = endless_gen,
                            .item_size = sizeof(int64_t),
                            .fn = square_item,
                            .emit = endless_emit,
                            .ctx = &e,
                            .chunksize = e.chunksize,
                            .max_in_flight = e.k};
    weft_pool_map_stats st;
    WT_EQ(weft_pool_map(p, &o, &st), 1); /* emit's stop value */
    WT_EQ(e.emitted, e.limit);
    WT_LE(st.max_in_flight_seen, e.k);
    WT_EQ(st.max_in_flight_seen, e.k);
    /* Memory flat: never more than K chunks of items read ahead. */
    WT_LE(e.max_ahead, e.k * e.chunksize);
    WT_LE(e.generated, e.limit + e.k * e.chunksize);
    weft_pool_destroy(p);
}

static int failing_gen(void *ctx, void *item)
{
    size_t *n = ctx;
    if (*n == 50)
        return -EIO;
    *(int64_t *)item = (int64_t)(*n)++;
    return 0;
}

static int ignore_emit(void *ctx, size_t index, weft_value v, int err)
{
    (void)ctx;
    (void)index;
    (void)v;
    (void)err;
    return 0;
}

static int finite_gen(void *ctx, void *item)
{
    size_t *n = ctx;
    if (*n == 100)
        return -EPIPE;
    *(int64_t *)item = (int64_t)(*n)++;
    return 0;
}

static void test_generator_end_and_error(void)
{
    weft_pool *p = new_pool(2);
    size_t n = 0;
    weft_pool_map_opts o = {.gen = failing_gen,
                            .item_size = sizeof(int64_t),
                            .fn = square_item,
                            .emit = ignore_emit,
                            .ctx = &n,
                            .chunksize = 8};
    WT_ERR(weft_pool_map(p, &o, NULL), -EIO);
    n = 0;
    o.gen = finite_gen;
    weft_pool_map_stats st;
    WT_OK(weft_pool_map(p, &o, &st));
    WT_EQ(st.items, 100);
    WT_EQ(st.chunks, 13);
    weft_pool_destroy(p);
}

/* A map run from a task of the same pool (1 worker): waiting helps. */
typedef struct inner {
    weft_pool *p;
    int rc;
    size_t emitted;
} inner;

static int count_emit(void *ctx, size_t index, weft_value v, int err)
{
    inner *in = ctx;
    (void)index;
    if (err || v.i64 != (int64_t)index * (int64_t)index)
        return -EBADMSG;
    in->emitted++;
    return 0;
}

static int map_inside(void *arg, weft_value *out)
{
    (void)out;
    inner *in = arg;
    int64_t items[64];
    for (int i = 0; i < 64; i++)
        items[i] = i;
    weft_pool_map_opts o = {.items = items,
                            .count = 64,
                            .item_size = sizeof(int64_t),
                            .fn = square_item,
                            .emit = count_emit,
                            .ctx = in,
                            .chunksize = 4,
                            .unordered = in->emitted == 1};
    in->emitted = 0;
    return weft_pool_map(in->p, &o, NULL);
}

static void test_map_inside_task(void)
{
    weft_pool *p = new_pool(1);
    for (int unordered = 0; unordered < 2; unordered++) {
        inner in = {p, 0, (size_t)unordered};
        weft_future *f;
        WT_OK(weft_pool_submit(p, map_inside, &in, WEFT_NEVER, &f));
        WT_OK(weft_future_result(f, WEFT_NEVER, NULL));
        WT_EQ(in.emitted, 64);
        weft_future_unref(f);
    }
    weft_pool_destroy(p);
}

/* Chunks cancelled by a shutdown report -ECANCELED for their items; the
 * map then fails to submit more and returns -EPIPE. */
typedef struct gate_map {
    weft_event started, release;
    weft_pool *p;
    size_t cancelled, emitted;
} gate_map;

static int gated_item(void *ctx, size_t index, const void *item, weft_value *out)
{
    gate_map *g = ctx;
    (void)item;
    if (index == 0) {
        weft_event_set(&g->started);
        weft_event_wait(&g->release, WEFT_NEVER);
    }
    out->i64 = 1;
    return 0;
}

static int gate_emit(void *ctx, size_t index, weft_value v, int err)
{
    gate_map *g = ctx;
    (void)index;
    (void)v;
    if (err == -ECANCELED)
        g->cancelled++;
    g->emitted++;
    return 0;
}

static void *shutdown_when_started(void *arg)
{
    gate_map *g = arg;
    weft_event_wait(&g->started, WEFT_NEVER);
    /* Wait until the map has its 5 chunks in flight. */
    weft_pool_metrics m;
    do {
        sched_yield();
        weft_pool_metrics_get(g->p, &m);
    } while (m.submitted < 5);
    weft_pool_shutdown(g->p, false, true, WEFT_NOW);
    weft_event_set(&g->release);
    return NULL;
}

static void test_map_cancelled_by_shutdown(void)
{
    weft_pool *p = new_pool(1);
    gate_map g = {.p = p};
    weft_event_init(&g.started);
    weft_event_init(&g.release);
    int64_t items[100] = {0};
    weft_pool_map_opts o = {.items = items,
                            .count = 100,
                            .item_size = sizeof(int64_t),
                            .fn = gated_item,
                            .emit = gate_emit,
                            .ctx = &g,
                            .max_in_flight = 5};
    pthread_t th;
    WT_EQ(pthread_create(&th, NULL, shutdown_when_started, &g), 0);
    WT_ERR(weft_pool_map(p, &o, NULL), -EPIPE);
    pthread_join(th, NULL);
    WT_EQ(g.cancelled, 4); /* every chunk in flight is still emitted */
    WT_EQ(g.emitted, 5);
    weft_pool_destroy(p);
}

int main(void)
{
    WT_RUN(test_ordered_array);
    WT_RUN(test_unordered_array);
    WT_RUN(test_empty_and_invalid);
    WT_RUN(test_endless_generator_bounded);
    WT_RUN(test_generator_end_and_error);
    WT_RUN(test_map_inside_task);
    WT_RUN(test_map_cancelled_by_shutdown);
    return 0;
}
