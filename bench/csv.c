/* CSV kernels for `weft bench`: weft's reader (weft/csv.h) against libcsv
 * (Debian's libcsv-dev, bench/peers/csv_peer.c) on the same bytes: the
 * measurement behind choosing a parser of our own for `weft etl`. */
#include <stddef.h>

#include <weft/csv.h>

#include "bench/bench.h"
#include "bench/csv_workload.h"

typedef struct tally {
    uint64_t records, fields, bytes;
} tally;

static int count(void *ctx, const weft_csv_record *r)
{
    tally *t = ctx;
    t->records++;
    t->fields += r->count;
    for (size_t i = 0; i < r->count; i++)
        t->bytes += r->fields[i].len;
    return r->error ? -EPROTO : 0;
}

/* One op: one byte of an orders CSV parsed into records and fields, fed
 * in 1 MiB pieces as a file read would. */
static double csv_parse(long n)
{
    size_t len;
    char *buf = csv_workload((size_t)n, &len);
    if (!buf)
        return -ENOMEM;
    weft_csv_reader *r;
    int rc = weft_csv_reader_create(&r, NULL);
    tally t = {0};
    double t0 = weft_bench_seconds();
    for (size_t at = 0; rc == 0 && at < len; at += 1 << 20)
        rc = weft_csv_feed(r, buf + at, len - at < (1u << 20) ? len - at : 1u << 20, count, &t);
    if (rc == 0)
        rc = weft_csv_finish(r, count, &t);
    double s = weft_bench_seconds() - t0;
    weft_csv_reader_destroy(r);
    free(buf);
    /* The peer prints the same tally: a mismatch is a bug on one side. */
    if (getenv("WEFT_BENCH_VERBOSE"))
        fprintf(stderr, "csv_parse: %llu records %llu fields %llu bytes\n",
                (unsigned long long)t.records, (unsigned long long)t.fields,
                (unsigned long long)t.bytes);
    return rc < 0 ? rc : s * (double)n / (double)len;
}

const weft_bench_kernel weft_bench_csv_kernels[] = {
    {"csv_parse", "one byte of an orders CSV parsed into fields (fed in 1 MiB pieces)",
     "csv_parse", 200000000, csv_parse},
    {0},
};
