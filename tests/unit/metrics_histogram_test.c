/* Histogram and counter tests: percentile precision against exact sorted
 * data, exact small values, clamping, merge, reset, and lock-free recording
 * from several threads at once (run under TSan in CI). */
#include <pthread.h>
#include <stdatomic.h>

#include <weft/metrics.h>

#include "weft_test.h"

#define HOUR_NS WEFT_HISTOGRAM_DEFAULT_MAX

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Log-uniform in [1, HOUR_NS]: a uniform power of two, then a uniform value
 * within it (values too big for an hour are drawn again). */
static int64_t log_uniform(uint64_t *s)
{
    for (;;) {
        unsigned e = (unsigned)(rng_next(s) % 42); /* 2^41 < 1 h < 2^42 */
        uint64_t base = (uint64_t)1 << e;
        uint64_t v = base + rng_next(s) % base;
        if (v <= (uint64_t)HOUR_NS)
            return (int64_t)v;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile of sorted[0..n): the value at rank
 * ceil(pct/100 * n), rank at least 1. */
static int64_t exact_percentile(const int64_t *sorted, size_t n, double pct)
{
    double want = pct / 100.0 * (double)n;
    size_t rank = (size_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static double rel_error(int64_t got, int64_t want)
{
    double d = (double)got - (double)want;
    if (d < 0)
        d = -d;
    return want == 0 ? d : d / (double)want;
}

static void test_create_options(void)
{
    weft_histogram *h = NULL;
    WT_ERR(weft_histogram_create(NULL, NULL), -EINVAL);
    weft_histogram_opts bad = {.max_value = -1};
    WT_ERR(weft_histogram_create(&h, &bad), -EINVAL);
    WT_ASSERT(h == NULL); /* untouched on failure */

    WT_OK(weft_histogram_create(&h, NULL));
    WT_EQ(weft_histogram_max_value(h), HOUR_NS);
    weft_histogram_destroy(h);

    weft_histogram_opts zero = {0};
    WT_OK(weft_histogram_create(&h, &zero));
    WT_EQ(weft_histogram_max_value(h), HOUR_NS);
    weft_histogram_destroy(h);

    /* The widest range works too, including its largest value. */
    weft_histogram_opts widest = {.max_value = INT64_MAX};
    WT_OK(weft_histogram_create(&h, &widest));
    weft_histogram_record(h, INT64_MAX);
    WT_EQ(weft_histogram_max(h), INT64_MAX);
    WT_EQ(weft_histogram_percentile(h, 50), INT64_MAX);
    WT_EQ_U(weft_histogram_overflow(h), 0);
    weft_histogram_destroy(h);

    weft_histogram_destroy(NULL);
}

static void test_empty(void)
{
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    WT_EQ_U(weft_histogram_count(h), 0);
    WT_EQ(weft_histogram_min(h), 0);
    WT_EQ(weft_histogram_max(h), 0);
    WT_NEAR(weft_histogram_mean(h), 0.0, 0.0);
    WT_EQ(weft_histogram_percentile(h, 0), 0);
    WT_EQ(weft_histogram_percentile(h, 50), 0);
    WT_EQ(weft_histogram_percentile(h, 100), 0);
    weft_histogram_summary s;
    memset(&s, 0xff, sizeof s);
    weft_histogram_summarize(h, &s);
    WT_EQ_U(s.count, 0);
    WT_EQ(s.min, 0);
    WT_EQ(s.max, 0);
    WT_NEAR(s.mean, 0.0, 0.0);
    WT_EQ(s.p50, 0);
    WT_EQ(s.p90, 0);
    WT_EQ(s.p99, 0);
    WT_EQ(s.p999, 0);
    weft_histogram_destroy(h);
}

/* 0..255 have a bucket each, so every percentile over them is exact. */
static void test_small_values_exact(void)
{
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    for (int64_t v = 0; v < 256; v++)
        weft_histogram_record(h, v);
    WT_EQ_U(weft_histogram_count(h), 256);
    WT_EQ(weft_histogram_min(h), 0);
    WT_EQ(weft_histogram_max(h), 255);
    WT_NEAR(weft_histogram_mean(h), 127.5, 1e-9);
    for (int rank = 1; rank <= 256; rank++) {
        /* Rank r of 256 is the value r - 1; ask for a pct just inside it. */
        double pct = ((double)rank - 0.5) * 100.0 / 256.0;
        WT_EQ(weft_histogram_percentile(h, pct), rank - 1);
    }
    WT_EQ(weft_histogram_percentile(h, 0), 0);
    WT_EQ(weft_histogram_percentile(h, 100), 255);
    WT_EQ(weft_histogram_percentile(h, 50), 127);

    /* A single value is every percentile, exactly, at any magnitude. */
    const int64_t singles[] = {1, 7, 127, 128, 1000, 123456789, HOUR_NS};
    for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) {
        weft_histogram_reset(h);
        weft_histogram_record(h, singles[i]);
        weft_histogram_summary s;
        weft_histogram_summarize(h, &s);
        WT_EQ(s.min, singles[i]);
        WT_EQ(s.max, singles[i]);
        WT_EQ(s.p50, singles[i]);
        WT_EQ(s.p999, singles[i]);
        WT_NEAR(s.mean, (double)singles[i], 0.0);
    }
    weft_histogram_destroy(h);
}

/* Random log-uniform data from 1 ns to an hour: every percentile within 1%
 * of the exact nearest-rank value (the design promises 1/256). */
static void test_percentile_accuracy(void)
{
    const size_t n = (size_t)WT_SCALE(200000);
    int64_t *values = malloc(n * sizeof *values);
    WT_ASSERT(values);
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        values[i] = log_uniform(&seed);
        sum += (double)values[i];
        weft_histogram_record(h, values[i]);
    }
    qsort(values, n, sizeof *values, cmp_i64);

    WT_EQ_U(weft_histogram_count(h), n);
    WT_EQ(weft_histogram_min(h), values[0]);
    WT_EQ(weft_histogram_max(h), values[n - 1]);
    WT_NEAR(weft_histogram_mean(h) / (sum / (double)n), 1.0, 1e-9);
    WT_EQ_U(weft_histogram_overflow(h), 0);

    const double pcts[] = {0.001, 0.1, 1, 5, 10, 25, 33.3, 50, 66.7, 75, 90, 95, 99, 99.9, 99.99};
    double worst = 0;
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        int64_t want = exact_percentile(values, n, pcts[i]);
        int64_t got = weft_histogram_percentile(h, pcts[i]);
        double err = rel_error(got, want);
        if (err > 0.01)
            WT_FAIL_("p%g: got %lld, exact %lld (error %.4f%%)", pcts[i], (long long)got,
                     (long long)want, err * 100);
        WT_ASSERT(err <= 1.0 / 256);
        if (err > worst)
            worst = err;
    }
    /* Every percentile from 1 to 100 in steps of 1, too. */
    for (int p = 1; p <= 100; p++) {
        int64_t want = exact_percentile(values, n, p);
        WT_ASSERT(rel_error(weft_histogram_percentile(h, p), want) <= 1.0 / 256);
    }

    weft_histogram_summary s;
    weft_histogram_summarize(h, &s);
    WT_EQ(s.p50, weft_histogram_percentile(h, 50));
    WT_EQ(s.p90, weft_histogram_percentile(h, 90));
    WT_EQ(s.p99, weft_histogram_percentile(h, 99));
    WT_EQ(s.p999, weft_histogram_percentile(h, 99.9));
    WT_EQ(s.max, values[n - 1]);
    WT_EQ_U(s.count, n);
    fprintf(stderr, "   worst relative error over %zu values: %.5f%%\n", n, worst * 100);

    free(values);
    weft_histogram_destroy(h);
}

/* Every value below 4096 and then a geometric sweep (steps of about 0.3%, so
 * the sampled values land at every offset within their buckets) up to an
 * hour: each, recorded between 0 and the range max so that min/max clamping
 * plays no part, reads back as its median within 1/256, and exactly below
 * 256. */
static void test_bucket_precision_sweep(void)
{
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    for (int64_t v = 1; v <= HOUR_NS; v = v < 4096 ? v + 1 : v + v / 300 + 1) {
        weft_histogram_reset(h);
        weft_histogram_record(h, 0);
        weft_histogram_record(h, v);
        weft_histogram_record(h, HOUR_NS);
        int64_t got = weft_histogram_percentile(h, 50);
        if (rel_error(got, v) > 1.0 / 256)
            WT_FAIL_("value %lld reads back as %lld", (long long)v, (long long)got);
        if (v < 256)
            WT_EQ(got, v);
    }
    weft_histogram_destroy(h);
}

static void test_negative_and_clamping(void)
{
    weft_histogram *h;
    weft_histogram_opts opts = {.max_value = 1000000};
    WT_OK(weft_histogram_create(&h, &opts));
    weft_histogram_record(h, -5);
    weft_histogram_record(h, INT64_MIN);
    WT_EQ_U(weft_histogram_count(h), 2);
    WT_EQ(weft_histogram_min(h), 0);
    WT_EQ(weft_histogram_max(h), 0);
    WT_EQ_U(weft_histogram_overflow(h), 0);

    weft_histogram_record(h, 1000000); /* the max itself is in range */
    WT_EQ_U(weft_histogram_overflow(h), 0);
    weft_histogram_record(h, 2000000);
    weft_histogram_record(h, INT64_MAX);
    weft_histogram_record_n(h, 5000000, 3);
    WT_EQ_U(weft_histogram_overflow(h), 5);
    WT_EQ_U(weft_histogram_count(h), 8);
    WT_EQ(weft_histogram_max(h), 1000000);
    WT_EQ(weft_histogram_percentile(h, 100), 1000000);
    WT_ASSERT(rel_error(weft_histogram_percentile(h, 99), 1000000) <= 1.0 / 256);
    /* Six of eight values are the clamped max: mean = 6e6 / 8. */
    WT_NEAR(weft_histogram_mean(h), 750000.0, 1e-6);
    weft_histogram_destroy(h);

    /* The default range clamps at one hour. */
    WT_OK(weft_histogram_create(&h, NULL));
    weft_histogram_record(h, HOUR_NS + 1);
    WT_EQ(weft_histogram_max(h), HOUR_NS);
    WT_EQ_U(weft_histogram_overflow(h), 1);
    weft_histogram_destroy(h);
}

/* record_n(v, n) is n records of v, and the 128-bit sum keeps the mean
 * exact past 2^64. */
static void test_record_n(void)
{
    weft_histogram *a, *b;
    WT_OK(weft_histogram_create(&a, NULL));
    WT_OK(weft_histogram_create(&b, NULL));
    weft_histogram_record_n(a, 12345, 0);
    WT_EQ_U(weft_histogram_count(a), 0);
    WT_EQ(weft_histogram_max(a), 0);
    for (int i = 0; i < 1000; i++)
        weft_histogram_record(a, 777777);
    weft_histogram_record_n(b, 777777, 1000);
    weft_histogram_summary sa, sb;
    weft_histogram_summarize(a, &sa);
    weft_histogram_summarize(b, &sb);
    WT_ASSERT(memcmp(&sa, &sb, sizeof sa) == 0);

    weft_histogram_reset(a);
    const uint64_t many = 10000000; /* 10^7 hours of ns: 3.6e19 > 2^64 */
    weft_histogram_record_n(a, HOUR_NS, many);
    weft_histogram_record_n(a, HOUR_NS, many);
    WT_EQ_U(weft_histogram_count(a), 2 * many);
    WT_NEAR(weft_histogram_mean(a), (double)HOUR_NS, 1.0);
    weft_histogram_record_n(a, 0, 2 * many);
    WT_NEAR(weft_histogram_mean(a), (double)HOUR_NS / 2, 1.0);
    WT_EQ(weft_histogram_percentile(a, 50), 0);
    WT_ASSERT(rel_error(weft_histogram_percentile(a, 50.0001), HOUR_NS) <= 1.0 / 256);
    weft_histogram_destroy(a);
    weft_histogram_destroy(b);
}

/* Merging two halves gives exactly what recording everything into one
 * histogram gives. */
static void test_merge(void)
{
    weft_histogram *whole, *left, *right;
    WT_OK(weft_histogram_create(&whole, NULL));
    WT_OK(weft_histogram_create(&left, NULL));
    WT_OK(weft_histogram_create(&right, NULL));
    uint64_t seed = 42;
    for (int i = 0; i < 50000; i++) {
        int64_t v = log_uniform(&seed);
        weft_histogram_record(whole, v);
        weft_histogram_record(i % 3 ? left : right, v);
    }
    weft_histogram_record(whole, HOUR_NS * 2);
    weft_histogram_record(right, HOUR_NS * 2);

    WT_OK(weft_histogram_merge(left, right));
    WT_EQ_U(weft_histogram_count(left), weft_histogram_count(whole));
    WT_EQ(weft_histogram_min(left), weft_histogram_min(whole));
    WT_EQ(weft_histogram_max(left), weft_histogram_max(whole));
    WT_EQ_U(weft_histogram_overflow(left), 1);
    WT_NEAR(weft_histogram_mean(left), weft_histogram_mean(whole), 0.0);
    for (int p = 0; p <= 1000; p++) {
        double pct = p / 10.0;
        WT_EQ(weft_histogram_percentile(left, pct), weft_histogram_percentile(whole, pct));
    }
    /* The source is unchanged. */
    WT_EQ_U(weft_histogram_count(right), (50000 + 2) / 3 + 1);

    /* Merging an empty histogram changes nothing; into an empty one copies. */
    weft_histogram *empty;
    WT_OK(weft_histogram_create(&empty, NULL));
    weft_histogram_summary before, after;
    weft_histogram_summarize(left, &before);
    WT_OK(weft_histogram_merge(left, empty));
    weft_histogram_summarize(left, &after);
    WT_ASSERT(memcmp(&before, &after, sizeof before) == 0);
    WT_OK(weft_histogram_merge(empty, left));
    weft_histogram_summarize(empty, &after);
    WT_ASSERT(memcmp(&before, &after, sizeof before) == 0);

    /* Different ranges do not merge, and nothing is changed. */
    weft_histogram *other;
    weft_histogram_opts opts = {.max_value = 1000};
    WT_OK(weft_histogram_create(&other, &opts));
    weft_histogram_record(other, 5);
    WT_ERR(weft_histogram_merge(left, other), -EINVAL);
    WT_ERR(weft_histogram_merge(other, left), -EINVAL);
    WT_ERR(weft_histogram_merge(NULL, left), -EINVAL);
    WT_ERR(weft_histogram_merge(left, NULL), -EINVAL);
    WT_EQ_U(weft_histogram_count(other), 1);
    WT_EQ_U(weft_histogram_count(left), weft_histogram_count(whole));

    weft_histogram_destroy(other);
    weft_histogram_destroy(empty);
    weft_histogram_destroy(whole);
    weft_histogram_destroy(left);
    weft_histogram_destroy(right);
}

static void test_reset(void)
{
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    for (int64_t v = 1; v < 100000; v += 7)
        weft_histogram_record(h, v * 1000);
    weft_histogram_record(h, HOUR_NS * 3);
    weft_histogram_reset(h);
    WT_EQ_U(weft_histogram_count(h), 0);
    WT_EQ_U(weft_histogram_overflow(h), 0);
    WT_EQ(weft_histogram_min(h), 0);
    WT_EQ(weft_histogram_max(h), 0);
    WT_NEAR(weft_histogram_mean(h), 0.0, 0.0);
    WT_EQ(weft_histogram_percentile(h, 50), 0);

    /* After a reset it behaves like a new histogram: no stale buckets,
     * min and max start again. */
    weft_histogram_record(h, 500);
    weft_histogram_record(h, 600);
    WT_EQ_U(weft_histogram_count(h), 2);
    WT_EQ(weft_histogram_min(h), 500);
    WT_EQ(weft_histogram_max(h), 600);
    WT_EQ(weft_histogram_percentile(h, 50), weft_histogram_percentile(h, 1));
    WT_ASSERT(rel_error(weft_histogram_percentile(h, 50), 500) <= 1.0 / 256);
    WT_NEAR(weft_histogram_mean(h), 550.0, 0.0);
    weft_histogram_destroy(h);
}

/* ---- Concurrency -------------------------------------------------------- */

enum { THREADS = 4 };

struct recorder {
    weft_histogram *h;
    weft_counter *counter;
    pthread_barrier_t *start;
    int id;
    int iters;
};

static void *record_thread(void *arg)
{
    struct recorder *r = arg;
    pthread_barrier_wait(r->start);
    for (int i = 0; i < r->iters; i++) {
        /* Thread t records t*1e6 + i + 1, so min, max and sum are known. */
        weft_histogram_record(r->h, (int64_t)r->id * 1000000 + i + 1);
        weft_counter_add(r->counter, 1);
    }
    return NULL;
}

/* Four threads record at once while the main thread reads summaries: the
 * final count, min, max, mean and overflow are exact. */
static void test_concurrent_record(void)
{
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    weft_counter counter = WEFT_COUNTER_INIT;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS + 1);
    const int iters = WT_SCALE(200000);
    pthread_t tids[THREADS];
    struct recorder rec[THREADS];
    for (int t = 0; t < THREADS; t++) {
        rec[t] = (struct recorder){h, &counter, &start, t, iters};
        WT_EQ(pthread_create(&tids[t], NULL, record_thread, &rec[t]), 0);
    }
    pthread_barrier_wait(&start);
    /* Reads racing the recorders must be safe and stay in range. */
    for (int i = 0; i < 20; i++) {
        weft_histogram_summary s;
        weft_histogram_summarize(h, &s);
        WT_LE(s.count, (uint64_t)THREADS * (uint64_t)iters);
        WT_LE(s.p50, (int64_t)(THREADS - 1) * 1000000 + iters);
    }
    for (int t = 0; t < THREADS; t++)
        WT_EQ(pthread_join(tids[t], NULL), 0);
    pthread_barrier_destroy(&start);

    const uint64_t total = (uint64_t)THREADS * (uint64_t)iters;
    WT_EQ_U(weft_histogram_count(h), total);
    WT_EQ_U(weft_counter_get(&counter), total);
    WT_EQ(weft_histogram_min(h), 1);
    WT_EQ(weft_histogram_max(h), (int64_t)(THREADS - 1) * 1000000 + iters);
    double sum = 0;
    for (int t = 0; t < THREADS; t++)
        sum += (double)t * 1000000 * iters + (double)iters * (iters + 1) / 2;
    WT_NEAR(weft_histogram_mean(h), sum / (double)total, 1e-6);
    /* The buckets hold every record too: the last rank is the max's bucket. */
    WT_ASSERT(rel_error(weft_histogram_percentile(h, 99.99999), weft_histogram_max(h)) <=
              1.0 / 256);
    WT_EQ_U(weft_counter_take(&counter), total);
    WT_EQ_U(weft_counter_get(&counter), 0);
    weft_histogram_destroy(h);
}

struct merger {
    weft_histogram *dst, *src;
    pthread_barrier_t *start;
    int rounds;
};

static void *merge_thread(void *arg)
{
    struct merger *m = arg;
    pthread_barrier_wait(m->start);
    for (int i = 0; i < m->rounds; i++) {
        if (weft_histogram_merge(m->dst, m->src) != 0)
            abort();
    }
    return NULL;
}

/* Merging into a histogram that others record into at the same time loses
 * nothing: per-thread histograms merged into a shared total is the intended
 * use. */
static void test_concurrent_merge(void)
{
    weft_histogram *total, *part;
    WT_OK(weft_histogram_create(&total, NULL));
    WT_OK(weft_histogram_create(&part, NULL));
    weft_histogram_record_n(part, 1234, 10);
    weft_counter unused = WEFT_COUNTER_INIT;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 3);
    const int iters = WT_SCALE(100000), rounds = WT_SCALE(2000);
    struct recorder rec = {total, &unused, &start, 0, iters};
    struct merger m = {total, part, &start, rounds};
    pthread_t a, b;
    WT_EQ(pthread_create(&a, NULL, record_thread, &rec), 0);
    WT_EQ(pthread_create(&b, NULL, merge_thread, &m), 0);
    pthread_barrier_wait(&start);
    WT_EQ(pthread_join(a, NULL), 0);
    WT_EQ(pthread_join(b, NULL), 0);
    pthread_barrier_destroy(&start);
    WT_EQ_U(weft_histogram_count(total), (uint64_t)iters + 10u * (uint64_t)rounds);
    WT_EQ(weft_histogram_min(total), 1);
    WT_EQ(weft_histogram_max(total), iters);
    weft_histogram_destroy(total);
    weft_histogram_destroy(part);
}

int main(void)
{
    WT_RUN(test_create_options);
    WT_RUN(test_empty);
    WT_RUN(test_small_values_exact);
    WT_RUN(test_percentile_accuracy);
    WT_RUN(test_bucket_precision_sweep);
    WT_RUN(test_negative_and_clamping);
    WT_RUN(test_record_n);
    WT_RUN(test_merge);
    WT_RUN(test_reset);
    WT_RUN(test_concurrent_record);
    WT_RUN(test_concurrent_merge);
    return 0;
}
