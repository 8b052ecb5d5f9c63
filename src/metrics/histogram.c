/* Log-linear latency histogram: see include/weft/metrics.h.
 *
 * Bucket layout. Values below 2 * SUB (256) get one bucket each. A value v
 * with highest set bit e >= 7 has shift = e - 7, and its bucket index is
 *     index = shift * SUB + (v >> shift),
 * where v >> shift lies in [128, 256): the top 8 bits of v. That continues
 * the exact range without a gap (shift 0 gives index = v), and every bucket
 * of shift s holds 2^s values starting at a lower bound >= 128 * 2^s, so its
 * width is at most 1/128 of any value in it. Reporting the middle of the
 * bucket is then within 1/256 of the true value.
 *
 * Synchronization: every mutable field is an independent atomic updated
 * with relaxed operations. A histogram publishes no pointers and nobody
 * waits on it, so no ordering between fields is needed; a reader that wants
 * exact figures gets its happens-before from however it synchronized with
 * the recorders (pthread_join, a channel receive, ...), not from these
 * atomics. Under concurrent recording a reader sees a mix, as documented.
 * - buckets[i], count, overflow: fetch_add (relaxed).
 * - sum_lo/sum_hi: a 128-bit sum as two words. Each adder fetch_adds sum_lo
 *   and, if its own addition wrapped, carries into sum_hi; carries are thus
 *   counted exactly once. A reader racing an adder may pair a wrapped sum_lo
 *   with a not-yet-carried sum_hi (mean off by 2^64 / count for that read).
 * - min/max: compare-and-swap loops (relaxed) that only move outwards;
 *   sentinels UINT64_MAX / -1 mean "nothing recorded yet". A plain load
 *   first keeps the common case (not a new extreme) free of writes.
 * - max_value and nbuckets never change after create.
 * The scalars that every record writes share one cache line; min/max, which
 * are read on every record but rarely written, get their own line so those
 * reads stay cache hits on every core. */
#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>

#include <weft/metrics.h>

enum {
    SUB_BITS = 7,
    SUB = 1 << SUB_BITS, /* sub-buckets per power of two */
    CACHE_LINE = 64,
};

struct weft_histogram {
    int64_t max_value;
    size_t nbuckets;
    alignas(CACHE_LINE) _Atomic uint64_t count;
    _Atomic uint64_t sum_lo;
    _Atomic uint64_t sum_hi;
    _Atomic uint64_t overflow;
    alignas(CACHE_LINE) _Atomic uint64_t min; /* unsigned: see MIN_EMPTY */
    _Atomic int64_t max;
    alignas(CACHE_LINE) _Atomic uint64_t buckets[];
};

/* Empty sentinels, outside the recordable range [0, INT64_MAX]: min is kept
 * unsigned so that a recorded INT64_MAX is not mistaken for "empty". */
#define MIN_EMPTY UINT64_MAX
#define MAX_EMPTY ((int64_t)-1)

/* Index of the bucket holding v (0 <= v). */
static size_t bucket_index(uint64_t v)
{
    if (v < 2 * SUB)
        return (size_t)v;
    unsigned top = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = top - SUB_BITS;
    return (size_t)shift * SUB + (size_t)(v >> shift);
}

/* Lowest value of bucket i and its width (a power of two). */
static void bucket_bounds(size_t i, uint64_t *lo, uint64_t *width)
{
    if (i < 2 * SUB) {
        *lo = i;
        *width = 1;
        return;
    }
    unsigned shift = (unsigned)(i / SUB) - 1;
    *lo = (uint64_t)(i - (size_t)shift * SUB) << shift;
    *width = (uint64_t)1 << shift;
}

/* The value reported for bucket i: the middle (rounded down) of the part of
 * it that lies within the exact recorded [min, max]. Narrowing to [min, max]
 * first makes the edge buckets more precise and a single value exact. */
static int64_t bucket_value(size_t i, int64_t min, int64_t max)
{
    uint64_t lo, width;
    bucket_bounds(i, &lo, &width);
    uint64_t hi = lo + (width - 1);
    if (lo < (uint64_t)min)
        lo = (uint64_t)min;
    if (hi > (uint64_t)max)
        hi = (uint64_t)max;
    if (lo > hi) /* only while racing recorders or a reset */
        return lo > (uint64_t)max ? max : min;
    return (int64_t)(lo + (hi - lo) / 2);
}

int weft_histogram_create(weft_histogram **out, const weft_histogram_opts *opts)
{
    if (!out)
        return -EINVAL;
    int64_t max_value = opts ? opts->max_value : 0;
    if (max_value < 0)
        return -EINVAL;
    if (max_value == 0)
        max_value = WEFT_HISTOGRAM_DEFAULT_MAX;

    size_t nbuckets = bucket_index((uint64_t)max_value) + 1;
    size_t size = offsetof(weft_histogram, buckets) + nbuckets * sizeof(_Atomic uint64_t);
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size = (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    weft_histogram *h = aligned_alloc(CACHE_LINE, size);
    if (!h)
        return -ENOMEM;
    h->max_value = max_value;
    h->nbuckets = nbuckets;
    atomic_init(&h->count, 0);
    atomic_init(&h->sum_lo, 0);
    atomic_init(&h->sum_hi, 0);
    atomic_init(&h->overflow, 0);
    atomic_init(&h->min, MIN_EMPTY);
    atomic_init(&h->max, MAX_EMPTY);
    for (size_t i = 0; i < nbuckets; i++)
        atomic_init(&h->buckets[i], 0);
    *out = h;
    return 0;
}

void weft_histogram_destroy(weft_histogram *h)
{
    free(h);
}

static void update_min(weft_histogram *h, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(&h->min, memory_order_relaxed);
    while (v < cur && !atomic_compare_exchange_weak_explicit(&h->min, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

static void update_max(weft_histogram *h, int64_t v)
{
    int64_t cur = atomic_load_explicit(&h->max, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(&h->max, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

/* Add the 128-bit number hi:lo to the sum; see the Synchronization block. */
static void sum_add(weft_histogram *h, uint64_t hi, uint64_t lo)
{
    uint64_t old = atomic_fetch_add_explicit(&h->sum_lo, lo, memory_order_relaxed);
    if (old + lo < old)
        hi++;
    if (hi)
        atomic_fetch_add_explicit(&h->sum_hi, hi, memory_order_relaxed);
}

/* The full 128-bit product a * b as hi:lo, in portable C. */
static void mul_64x64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32;
    uint64_t b_lo = b & 0xffffffffu, b_hi = b >> 32;
    uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    *lo = (mid << 32) | (ll & 0xffffffffu);
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

void weft_histogram_record_n(weft_histogram *h, int64_t value, uint64_t n)
{
    if (n == 0)
        return;
    if (value < 0) {
        value = 0;
    } else if (value > h->max_value) {
        value = h->max_value;
        atomic_fetch_add_explicit(&h->overflow, n, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&h->buckets[bucket_index((uint64_t)value)], n, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, n, memory_order_relaxed);
    if (n == 1) {
        sum_add(h, 0, (uint64_t)value);
    } else {
        uint64_t hi, lo;
        mul_64x64((uint64_t)value, n, &hi, &lo);
        sum_add(h, hi, lo);
    }
    update_min(h, (uint64_t)value);
    update_max(h, value);
}

void weft_histogram_record(weft_histogram *h, int64_t value)
{
    weft_histogram_record_n(h, value, 1);
}

int weft_histogram_merge(weft_histogram *dst, const weft_histogram *src)
{
    if (!dst || !src || dst->max_value != src->max_value)
        return -EINVAL;
    /* The loads below never write; C11 declares atomic_load with a
     * non-const pointer in some libraries, hence the casts. */
    weft_histogram *s = (weft_histogram *)src;
    for (size_t i = 0; i < s->nbuckets; i++) {
        uint64_t c = atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        if (c)
            atomic_fetch_add_explicit(&dst->buckets[i], c, memory_order_relaxed);
    }
    uint64_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
    atomic_fetch_add_explicit(&dst->count, count, memory_order_relaxed);
    uint64_t overflow = atomic_load_explicit(&s->overflow, memory_order_relaxed);
    if (overflow)
        atomic_fetch_add_explicit(&dst->overflow, overflow, memory_order_relaxed);
    uint64_t sum_hi = atomic_load_explicit(&s->sum_hi, memory_order_relaxed);
    uint64_t sum_lo = atomic_load_explicit(&s->sum_lo, memory_order_relaxed);
    sum_add(dst, sum_hi, sum_lo);
    uint64_t min = atomic_load_explicit(&s->min, memory_order_relaxed);
    if (min != MIN_EMPTY)
        update_min(dst, min);
    int64_t max = atomic_load_explicit(&s->max, memory_order_relaxed);
    if (max != MAX_EMPTY)
        update_max(dst, max);
    return 0;
}

void weft_histogram_reset(weft_histogram *h)
{
    for (size_t i = 0; i < h->nbuckets; i++)
        atomic_store_explicit(&h->buckets[i], 0, memory_order_relaxed);
    atomic_store_explicit(&h->count, 0, memory_order_relaxed);
    atomic_store_explicit(&h->overflow, 0, memory_order_relaxed);
    atomic_store_explicit(&h->sum_lo, 0, memory_order_relaxed);
    atomic_store_explicit(&h->sum_hi, 0, memory_order_relaxed);
    atomic_store_explicit(&h->min, MIN_EMPTY, memory_order_relaxed);
    atomic_store_explicit(&h->max, MAX_EMPTY, memory_order_relaxed);
}

uint64_t weft_histogram_count(const weft_histogram *h)
{
    return atomic_load_explicit(&((weft_histogram *)h)->count, memory_order_relaxed);
}

uint64_t weft_histogram_overflow(const weft_histogram *h)
{
    return atomic_load_explicit(&((weft_histogram *)h)->overflow, memory_order_relaxed);
}

int64_t weft_histogram_max_value(const weft_histogram *h)
{
    return h->max_value;
}

int64_t weft_histogram_min(const weft_histogram *h)
{
    uint64_t v = atomic_load_explicit(&((weft_histogram *)h)->min, memory_order_relaxed);
    return v == MIN_EMPTY ? 0 : (int64_t)v;
}

int64_t weft_histogram_max(const weft_histogram *h)
{
    int64_t v = atomic_load_explicit(&((weft_histogram *)h)->max, memory_order_relaxed);
    return v == MAX_EMPTY ? 0 : v;
}

double weft_histogram_mean(const weft_histogram *h)
{
    weft_histogram *m = (weft_histogram *)h;
    uint64_t count = atomic_load_explicit(&m->count, memory_order_relaxed);
    if (count == 0)
        return 0.0;
    uint64_t hi = atomic_load_explicit(&m->sum_hi, memory_order_relaxed);
    uint64_t lo = atomic_load_explicit(&m->sum_lo, memory_order_relaxed);
    /* 2^64 as a double is exact. */
    double sum = (double)hi * 18446744073709551616.0 + (double)lo;
    return sum / (double)count;
}

/* The nearest rank (1-based) of the pct-th percentile among total values:
 * ceil(pct / 100 * total), kept within [1, total]. */
static uint64_t percentile_rank(double pct, uint64_t total)
{
    double exact = pct / 100.0 * (double)total;
    if (!(exact >= 1.0))
        return 1;
    if (exact >= (double)total)
        return total;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        rank++;
    return rank;
}

/* Compute n percentiles, pcts[] ascending and within (0, 100), in one walk
 * over the buckets. Each answer is the middle of the bucket holding the value
 * of its rank (within [min, max], which are exact): at most half a bucket,
 * 1/256 of the value, away from it. */
static void percentiles(const weft_histogram *h, const double *pcts, int64_t *out, size_t n)
{
    weft_histogram *m = (weft_histogram *)h;
    int64_t min = weft_histogram_min(h), max = weft_histogram_max(h);

    /* Rank against the buckets' own total rather than `count`: the two can
     * differ while others record, and the walk must find every rank. */
    uint64_t total = 0;
    for (size_t i = 0; i < m->nbuckets; i++)
        total += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
    if (total == 0) {
        for (size_t k = 0; k < n; k++)
            out[k] = 0;
        return;
    }

    size_t k = 0;
    uint64_t seen = 0;
    uint64_t rank = percentile_rank(pcts[0], total);
    for (size_t i = 0; i < m->nbuckets && k < n; i++) {
        seen += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        while (k < n && seen >= rank) {
            out[k++] = bucket_value(i, min, max);
            if (k < n)
                rank = percentile_rank(pcts[k], total);
        }
    }
    /* Only a reset racing with this walk can leave ranks unfound. */
    for (; k < n; k++)
        out[k] = max;
}

int64_t weft_histogram_percentile(const weft_histogram *h, double pct)
{
    if (isnan(pct) || pct <= 0.0)
        return weft_histogram_min(h);
    if (pct >= 100.0)
        return weft_histogram_max(h);
    int64_t v;
    percentiles(h, &pct, &v, 1);
    return v;
}

void weft_histogram_summarize(const weft_histogram *h, weft_histogram_summary *out)
{
    static const double pcts[4] = {50.0, 90.0, 99.0, 99.9};
    int64_t v[4];
    percentiles(h, pcts, v, 4);
    out->count = weft_histogram_count(h);
    out->min = weft_histogram_min(h);
    out->max = weft_histogram_max(h);
    out->mean = weft_histogram_mean(h);
    out->p50 = v[0];
    out->p90 = v[1];
    out->p99 = v[2];
    out->p999 = v[3];
}
