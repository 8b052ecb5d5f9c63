/* weft/metrics.h: latency histograms, counters and reports.
 *
 * weft_histogram is a log-linear (HDR-style) histogram of int64_t values,
 * usually nanoseconds. Values 0..255 are counted exactly; above that, every
 * power of two [2^k, 2^(k+1)) is split into 128 equal sub-buckets, so a
 * bucket is never wider than 1/128 of the smallest value it holds. Percentiles
 * report the middle of the bucket the exact answer falls into (clamped to the
 * recorded min and max), so a percentile is within 1/256 (0.4%) of the exact
 * nearest-rank value, from 1 ns up to the histogram's maximum.
 *
 * Memory: one 8-byte counter per bucket plus 192 bytes of header: about
 * 36 KiB for the default range (0 to 1 hour in ns, 4562 buckets), at most
 * 57 KiB (7296 buckets) for max_value = INT64_MAX.
 *
 * Recording is lock-free and safe from any number of threads at once: a
 * relaxed fetch_add on one bucket, the count and the sum, and a compare-and-
 * swap on min/max only when a new extreme arrives. Readers (count, min, max,
 * mean, percentile, summarize, merge's source) may run while others record;
 * they then see some of the concurrent records and not others, and the
 * fields they read need not agree with each other. Once the recording
 * threads are done and the reader has synchronized with them (joined them,
 * or any release/acquire hand-off), every figure is exact.
 *
 * weft_counter is a 64-bit event counter updated with one relaxed atomic add.
 *
 * weft_report is an ordered list of named metrics (counters, gauges,
 * histogram summaries, text) rendered as an aligned text table or as JSON.
 *
 * This header uses C11 <stdatomic.h> for weft_counter, so it is for C (or
 * C++23, whose <stdatomic.h> provides _Atomic). */
#ifndef WEFT_METRICS_H
#define WEFT_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Histogram ---------------------------------------------------------- */

/* The default and largest default-tracked value: one hour in nanoseconds. */
#define WEFT_HISTOGRAM_DEFAULT_MAX ((int64_t)3600 * 1000 * 1000 * 1000)

typedef struct weft_histogram weft_histogram;

typedef struct weft_histogram_opts {
    /* Largest value tracked; larger values are recorded as max_value and
     * counted in weft_histogram_overflow(). 0 means one hour in ns
     * (WEFT_HISTOGRAM_DEFAULT_MAX). Must be >= 0. */
    int64_t max_value;
} weft_histogram_opts;

/* weft_histogram_create: a new, empty histogram tracking 0..max_value.
 * Returns: 0 and *out set; on failure *out is untouched.
 * Errors: -EINVAL if out is NULL or opts->max_value < 0; -ENOMEM.
 * Ownership: the caller owns *out and frees it with weft_histogram_destroy().
 *            opts (may be NULL: all defaults) is only read during the call.
 * Thread-safety: any thread. */
int weft_histogram_create(weft_histogram **out, const weft_histogram_opts *opts);

/* weft_histogram_destroy: free h. NULL is a no-op.
 * Ownership: takes h; no other thread may be using it.
 * Thread-safety: any thread, once every other user of h is done. */
void weft_histogram_destroy(weft_histogram *h);

/* weft_histogram_record: count one occurrence of value. Negative values are
 * recorded as 0; values above max_value as max_value (and counted in
 * weft_histogram_overflow()).
 * Ownership: borrows h, which must not be NULL.
 * Thread-safety: any thread, concurrently with every other histogram call
 *                except destroy; lock-free, never blocks or allocates. */
void weft_histogram_record(weft_histogram *h, int64_t value);

/* weft_histogram_record_n: count n occurrences of value at once (n == 0 does
 * nothing). Same clamping as weft_histogram_record(); an overflowing value
 * adds n to the overflow count. The sum behind the mean is kept in 128 bits,
 * so large n cannot overflow it.
 * Ownership: borrows h (not NULL).
 * Thread-safety: as weft_histogram_record(). */
void weft_histogram_record_n(weft_histogram *h, int64_t value, uint64_t n);

/* weft_histogram_merge: add every value recorded in src to dst, as if each
 * had been recorded into dst (count, min, max, mean, overflow, percentiles).
 * src is unchanged (merging a histogram into itself doubles every count).
 * Returns: 0.
 * Errors: -EINVAL if either is NULL or their max_values differ.
 * Ownership: borrows both.
 * Thread-safety: any thread; others may record into either meanwhile (see
 *                the header comment on concurrent readers). */
int weft_histogram_merge(weft_histogram *dst, const weft_histogram *src);

/* weft_histogram_reset: forget every recorded value (count, min, max, sum,
 * overflow and buckets go back to empty).
 * Ownership: borrows h (not NULL).
 * Thread-safety: any thread and race-free, but not a single atomic step: a
 *                record running at the same time may survive in part (e.g.
 *                its bucket but not its count). Reset while nobody records
 *                for exact results. */
void weft_histogram_reset(weft_histogram *h);

/* weft_histogram_count: how many values have been recorded (with their n).
 * Thread-safety: any thread. */
uint64_t weft_histogram_count(const weft_histogram *h);

/* weft_histogram_min: the smallest value recorded (after clamping), exactly.
 * Returns: 0 when empty.
 * Thread-safety: any thread. */
int64_t weft_histogram_min(const weft_histogram *h);

/* weft_histogram_max: the largest value recorded (after clamping), exactly.
 * Returns: 0 when empty.
 * Thread-safety: any thread. */
int64_t weft_histogram_max(const weft_histogram *h);

/* weft_histogram_mean: the exact arithmetic mean of the recorded (clamped)
 * values, as a double.
 * Returns: 0.0 when empty.
 * Thread-safety: any thread. */
double weft_histogram_mean(const weft_histogram *h);

/* weft_histogram_percentile: the nearest-rank pct-th percentile: the
 * smallest recorded value v such that at least pct% of the values are <= v,
 * to within 1/256 of v. pct <= 0 (or NaN) gives the exact min, pct >= 100
 * the exact max.
 * Returns: the value; 0 when empty.
 * Thread-safety: any thread. Reads every bucket (a few microseconds). */
int64_t weft_histogram_percentile(const weft_histogram *h, double pct);

/* weft_histogram_overflow: how many recorded values were above max_value
 * (and were therefore recorded as max_value).
 * Thread-safety: any thread. */
uint64_t weft_histogram_overflow(const weft_histogram *h);

/* weft_histogram_max_value: the largest value h tracks (its opts.max_value
 * with the default applied). Fixed for h's lifetime.
 * Thread-safety: any thread. */
int64_t weft_histogram_max_value(const weft_histogram *h);

/* Summary snapshot: plain struct, copyable. Values are in the histogram's
 * unit; p999 is the 99.9th percentile. All zero for an empty histogram. */
typedef struct weft_histogram_summary {
    uint64_t count;
    int64_t min, max;
    double mean;
    int64_t p50, p90, p99, p999;
} weft_histogram_summary;

/* weft_histogram_summarize: fill *out with h's count, min, max, mean and
 * p50/p90/p99/p99.9 (one pass over the buckets; same precision as
 * weft_histogram_percentile()).
 * Ownership: borrows h and out (neither NULL); *out is plain data.
 * Thread-safety: any thread. */
void weft_histogram_summarize(const weft_histogram *h, weft_histogram_summary *out);

/* ---- Counter ------------------------------------------------------------ */

/* A 64-bit event counter, lock-free from any thread. Zero-initialised storage
 * (static, calloc) or WEFT_COUNTER_INIT is a counter at 0. It wraps modulo
 * 2^64. Relaxed: a counter orders nothing else, it only counts. */
typedef struct weft_counter {
    _Atomic uint64_t value;
} weft_counter;

/* clang-format off */
#define WEFT_COUNTER_INIT { 0 }
/* clang-format on */

/* weft_counter_add: add n (relaxed).
 * Thread-safety: any thread. */
static inline void weft_counter_add(weft_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

/* weft_counter_get: the current value (relaxed).
 * Thread-safety: any thread. */
static inline uint64_t weft_counter_get(const weft_counter *c)
{
    /* C11 atomic_load takes a non-const pointer in some libraries; the load
     * never writes, so casting const away is safe. */
    return atomic_load_explicit((_Atomic uint64_t *)&c->value, memory_order_relaxed);
}

/* weft_counter_take: set the counter to 0 and return what it held, in one
 * atomic step (for per-interval rates: no increment is lost or counted twice).
 * Thread-safety: any thread. */
static inline uint64_t weft_counter_take(weft_counter *c)
{
    return atomic_exchange_explicit(&c->value, 0, memory_order_relaxed);
}

/* ---- Report ------------------------------------------------------------- */

/* An ordered list of named metrics. Every add copies what it is given (names,
 * units, text, a histogram's summary at the time of the call), so the caller's
 * strings and histograms may change or go away afterwards. Names need not be
 * unique; rows keep the order they were added in.
 *
 * Text rendering (weft_report_write_text): the title, then one row per
 * metric with the names padded to one column:
 *   title
 *     requests     1024
 *     load         0.75
 *     latency      count=1000 mean=1.52 us p50=1.23 us p90=... p99=...
 *                  p99.9=... max=4.5 ms             (all on one line)
 *     state        running
 * Values with unit "ns" print human-readably (812 ns, 1.23 us, 4.5 ms,
 * 2.01 s); other units follow the number. Gauges print up to three decimals.
 * An empty histogram prints only count=0; a nonzero overflow is appended as
 * overflow=N. An empty title prints no title line. Control characters in
 * names and text print escaped (\n, \t, \xNN) so each metric stays on one
 * line.
 *
 * JSON rendering (weft_report_write_json), one metric per line:
 *   {"title": "...", "metrics": [
 *     {"name": "requests", "type": "counter", "value": 1024},
 *     {"name": "load", "type": "gauge", "value": 0.75, "unit": "..."},
 *     {"name": "latency", "type": "histogram", "unit": "ns", "count": 1000,
 *      "min": .., "max": .., "mean": .., "p50": .., "p90": .., "p99": ..,
 *      "p999": .., "overflow": 0},
 *     {"name": "state", "type": "text", "value": "running"}]}
 * "unit" is left out when NULL was given. Strings are escaped per RFC 8259;
 * bytes that are not valid UTF-8 become U+FFFD. A non-finite gauge is null.
 * Numbers always use '.' as the decimal point, whatever the C locale. */
typedef struct weft_report weft_report;

/* weft_report_create: a new, empty report.
 * Returns: 0 and *out set; on failure *out is untouched.
 * Errors: -EINVAL if out is NULL; -ENOMEM.
 * Ownership: copies title (NULL means ""); the caller owns *out and frees it
 *            with weft_report_destroy().
 * Thread-safety: any thread. */
int weft_report_create(weft_report **out, const char *title);

/* weft_report_destroy: free r and every copy it holds. NULL is a no-op.
 * Ownership: takes r.
 * Thread-safety: any thread, once every other user of r is done. */
void weft_report_destroy(weft_report *r);

/* The adders below append one metric row.
 * Returns: 0.
 * Errors: -EINVAL if r or name (or a required argument) is NULL; -ENOMEM,
 *         in which case the report is unchanged.
 * Ownership: borrow their arguments and copy them (see above).
 * Thread-safety: a report is not synchronized: one thread at a time may add
 *                to it; writers may run concurrently with each other only. */

/* weft_report_add_counter: a counter row (an unsigned event count). */
int weft_report_add_counter(weft_report *r, const char *name, uint64_t value);

/* weft_report_add_gauge: a gauge row (a measured level); unit may be NULL. */
int weft_report_add_gauge(weft_report *r, const char *name, double value, const char *unit);

/* weft_report_add_histogram: a histogram row holding h's summary and
 * overflow count as of this call; unit (e.g. "ns") may be NULL. h is required.
 * Thread-safety of h: others may keep recording into it (see summarize). */
int weft_report_add_histogram(weft_report *r, const char *name, const weft_histogram *h,
                              const char *unit);

/* weft_report_add_summary: a histogram row from a summary already taken
 * (its overflow is reported as 0); unit may be NULL; summary is required. */
int weft_report_add_summary(weft_report *r, const char *name, const weft_histogram_summary *summary,
                            const char *unit);

/* weft_report_add_text: a free-text row; value is required. */
int weft_report_add_text(weft_report *r, const char *name, const char *value);

/* weft_report_write_text: render r as the aligned text table described above
 * and flush f.
 * Returns: 0.
 * Errors: -EINVAL if r or f is NULL; -EIO if writing or flushing f failed
 *         (what was written before the failure stays written).
 * Ownership: borrows r and f.
 * Thread-safety: any thread, while no thread adds to r; f as stdio allows. */
int weft_report_write_text(const weft_report *r, FILE *f);

/* weft_report_write_json: render r as one JSON object (described above),
 * followed by a newline, and flush f.
 * Returns: 0.
 * Errors: -EINVAL if r or f is NULL; -EIO if writing or flushing f failed.
 * Ownership: borrows r and f.
 * Thread-safety: as weft_report_write_text(). */
int weft_report_write_json(const weft_report *r, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
