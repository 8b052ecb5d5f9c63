/* weft_pool_map and weft_pool_parallel_for: see include/weft/pool.h.
 *
 * Synchronization: both run on the calling thread and hand work to the
 * pool as ordinary tasks; everything they share with those tasks is
 * published by the task's submission and read back after its future is
 * terminal (the future's completion releases, its state load acquires). A
 * chunk task writes only its own chunk; a parallel_for helper reads the
 * loop description and claims ranges with one relaxed fetch_add on `next`
 * (the range boundaries are all it needs), and records the first error
 * with a CAS. The caller frees nothing a task may still touch: it waits
 * for every task it submitted to be terminal before returning, and a task
 * stops touching its argument when its function returns. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>
#include <weft/pool.h>

#include "sched/future_internal.h"
#include "sched/pool_internal.h"

/* ---- map --------------------------------------------------------------- */

typedef struct chunk chunk;
struct chunk {
    const weft_pool_map_opts *opts;
    size_t first; /* input index of the first item */
    size_t n;
    weft_future *f;
    chunk *next; /* in-flight list, in submission order */
    const unsigned char *items;
    weft_value *results;
    int *errs;
    /* Generator input is copied here, after the two arrays. */
    unsigned char *buf;
};

static int run_chunk(void *arg, weft_value *unused)
{
    (void)unused;
    chunk *c = arg;
    const weft_pool_map_opts *o = c->opts;
    for (size_t i = 0; i < c->n; i++) {
        memset(&c->results[i], 0, sizeof c->results[i]);
        int rc = o->fn(o->ctx, c->first + i, c->items + i * o->item_size, &c->results[i]);
        c->errs[i] = rc > 0 ? -EINVAL : rc;
    }
    return 0;
}

static chunk *chunk_new(size_t chunksize, size_t item_size, bool copy)
{
    size_t per = sizeof(weft_value) + sizeof(int) + (copy ? item_size : 0);
    if (chunksize > (SIZE_MAX - sizeof(chunk)) / per)
        return NULL;
    chunk *c = malloc(sizeof *c + chunksize * per);
    if (!c)
        return NULL;
    c->results = (weft_value *)(void *)(c + 1);
    c->errs = (int *)(void *)(c->results + chunksize);
    c->buf = (unsigned char *)(c->errs + chunksize);
    return c;
}

typedef struct map_wait {
    chunk *head;   /* ordered: the chunk to wait for */
    chunk **found; /* unordered: receives a terminal chunk */
    chunk *list;
} map_wait;

static bool chunk_done(chunk *c)
{
    return weft_future_get_state(c->f) >= WEFT_FUTURE_DONE;
}

static bool head_ready(void *ctx)
{
    return chunk_done(((map_wait *)ctx)->head);
}

static bool any_ready(void *ctx)
{
    map_wait *mw = ctx;
    for (chunk *c = mw->list; c; c = c->next) {
        if (chunk_done(c)) {
            *mw->found = c;
            return true;
        }
    }
    return false;
}

/* Fill c with up to chunksize items from the input. Returns the number of
 * items (0 at the end) or a negative generator error. */
static long fill_chunk(const weft_pool_map_opts *o, chunk *c, size_t next_index, size_t chunksize)
{
    c->first = next_index;
    if (!o->gen) {
        size_t left = next_index < o->count ? o->count - next_index : 0;
        c->n = left < chunksize ? left : chunksize;
        c->items = (const unsigned char *)o->items + next_index * o->item_size;
        return (long)c->n;
    }
    c->n = 0;
    c->items = c->buf;
    while (c->n < chunksize) {
        int rc = o->gen(o->ctx, c->buf + c->n * o->item_size);
        if (rc == -EPIPE)
            break;
        if (rc != 0)
            return rc > 0 ? -EINVAL : rc;
        c->n++;
    }
    return (long)c->n;
}

int weft_pool_map(weft_pool *pool, const weft_pool_map_opts *opts, weft_pool_map_stats *stats)
{
    if (!pool || !opts || !opts->fn || !opts->emit || opts->item_size == 0 ||
        (!opts->gen && opts->count > 0 && !opts->items))
        return -EINVAL;
    const weft_pool_map_opts *o = opts;
    size_t chunksize = o->chunksize ? o->chunksize : 1;
    size_t k = o->max_in_flight ? o->max_in_flight : 2 * (size_t)weft_pool_workers(pool);
    if (k == 0)
        k = 1;
    weft_pool_map_stats st = {0, 0, 0};
    /* Wait links for the unordered wait: one per chunk in flight. */
    weft__waitq **qs = o->unordered ? malloc(k * sizeof *qs) : NULL;
    weft__wait_link *links = malloc((o->unordered ? k : 1) * sizeof *links);
    if ((o->unordered && !qs) || !links) {
        free(qs);
        free(links);
        return -ENOMEM;
    }
    chunk *head = NULL, *tail = NULL, *spare = NULL;
    size_t in_flight = 0, next_index = 0;
    bool input_done = false;
    int stop = 0;      /* ends emission too: emit or the generator said so */
    int submit_rc = 0; /* ends submission only: chunks in flight still emit */
    for (;;) {
        /* Keep k chunks in flight while there is input. */
        while (!stop && !input_done && in_flight < k) {
            chunk *c = spare ? spare : chunk_new(chunksize, o->item_size, o->gen != NULL);
            spare = NULL;
            if (!c) {
                stop = -ENOMEM;
                break;
            }
            c->opts = o;
            long got = fill_chunk(o, c, next_index, chunksize);
            if (got <= 0) {
                spare = c;
                if (got < 0)
                    stop = (int)got;
                input_done = true;
                break;
            }
            int rc = weft__pool_submit_blocking(pool, run_chunk, c, WEFT_NEVER, &c->f);
            if (rc != 0) {
                spare = c;
                submit_rc = rc;
                input_done = true;
                break;
            }
            next_index += c->n;
            st.items += c->n;
            st.chunks++;
            c->next = NULL;
            if (tail)
                tail->next = c;
            else
                head = c;
            tail = c;
            if (++in_flight > st.max_in_flight_seen)
                st.max_in_flight_seen = in_flight;
        }
        if (in_flight == 0)
            break;
        /* Wait for the next chunk to emit: the oldest, or any. */
        chunk *c = NULL;
        map_wait mw = {head, &c, head};
        if (o->unordered) {
            size_t nq = 0;
            for (chunk *x = head; x; x = x->next)
                qs[nq++] = weft__future_waitq(x->f);
            weft__pool_help_wait(pool, any_ready, &mw, qs, nq, links, WEFT_NEVER);
        } else {
            weft__waitq *q = weft__future_waitq(head->f);
            weft__pool_help_wait(pool, head_ready, &mw, &q, 1, links, WEFT_NEVER);
            c = head;
        }
        /* Unlink c from the in-flight list. */
        chunk **pp = &head;
        tail = NULL;
        for (chunk *x = head; x; x = x->next) {
            if (x == c)
                *pp = x->next;
            else
                pp = &x->next, tail = x;
        }
        in_flight--;
        /* A chunk cancelled by a shutdown never ran: its items report
         * -ECANCELED. */
        bool ran = weft_future_get_state(c->f) == WEFT_FUTURE_DONE;
        for (size_t i = 0; i < c->n && !stop; i++) {
            weft_value v = ran ? c->results[i] : (weft_value){.u64 = 0};
            int rc = o->emit(o->ctx, c->first + i, v, ran ? c->errs[i] : -ECANCELED);
            if (rc != 0)
                stop = rc;
        }
        weft_future_unref(c->f);
        free(spare);
        spare = c;
    }
    free(spare);
    free(qs);
    free(links);
    if (stats)
        *stats = st;
    return stop ? stop : submit_rc;
}

/* ---- parallel_for ---------------------------------------------------------- */

typedef struct loop {
    int64_t end, grain;
    _Atomic int64_t next;
    _Atomic int err;
    weft_pool_range_fn *fn;
    void *ctx;
} loop;

/* Claim ranges until none is left or an error stops the loop. */
static int run_ranges(void *arg, weft_value *unused)
{
    (void)unused;
    loop *l = arg;
    for (;;) {
        if (atomic_load_explicit(&l->err, memory_order_relaxed) != 0)
            return 0;
        /* Relaxed: the range boundaries are all this hands out. */
        int64_t lo = atomic_fetch_add_explicit(&l->next, l->grain, memory_order_relaxed);
        if (lo >= l->end)
            return 0;
        int64_t hi = l->end - lo > l->grain ? lo + l->grain : l->end;
        int rc = l->fn(l->ctx, lo, hi);
        if (rc != 0) {
            int none = 0;
            /* Relaxed: the caller reads it after waiting for every helper's
             * future, which orders it. */
            atomic_compare_exchange_strong_explicit(&l->err, &none, rc > 0 ? -EINVAL : rc,
                                                    memory_order_relaxed, memory_order_relaxed);
            return 0;
        }
    }
}

enum { HELPERS_MAX = 256 };

int weft_pool_parallel_for(weft_pool *pool, int64_t begin, int64_t end, int64_t grain,
                           weft_pool_range_fn *fn, void *ctx)
{
    if (!pool || !fn || end < begin)
        return -EINVAL;
    if (weft__pool_closed(pool))
        return -EPIPE;
    if (end == begin)
        return 0;
    unsigned workers = weft_pool_workers(pool);
    int64_t span = end - begin;
    if (grain <= 0) {
        grain = span / (8 * (int64_t)workers);
        if (grain < 1)
            grain = 1;
    }
    loop l = {.end = end, .grain = grain, .fn = fn, .ctx = ctx};
    atomic_init(&l.next, begin);
    atomic_init(&l.err, 0);
    int64_t ranges = (span + grain - 1) / grain;
    /* The caller takes ranges too, so workers - 1 helpers keep exactly one
     * thread per worker busy: more would oversubscribe the CPUs the pool
     * was sized for (a caller inside the pool is one of its workers; one
     * outside usually has nothing else to do). A 1-worker pool still gets
     * its helper. None for a range the caller will take itself. */
    int64_t slots = workers > 1 ? (int64_t)workers - 1 : 1;
    int64_t want = ranges - 1 < slots ? ranges - 1 : slots;
    if (want > HELPERS_MAX)
        want = HELPERS_MAX;
    weft_future *helpers[HELPERS_MAX];
    int nh = 0;
    for (; nh < want; nh++) {
        /* A refused helper (queue full under a deadline policy, or a
         * closing pool) is fine: the caller and the others take its share. */
        if (weft_pool_submit(pool, run_ranges, &l, WEFT_NOW, &helpers[nh]) != 0)
            break;
    }
    run_ranges(&l, NULL);
    for (int i = 0; i < nh; i++) {
        weft_pool_wait(pool, helpers[i], WEFT_NEVER);
        weft_future_unref(helpers[i]);
    }
    return atomic_load_explicit(&l.err, memory_order_relaxed);
}
