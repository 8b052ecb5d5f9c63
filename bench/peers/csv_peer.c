/* libcsv (Debian's libcsv-dev) on weft's CSV workload
 * (bench/csv_workload.h): the peer of `weft bench csv_parse`. Prints
 * "RESULT csv_parse <bytes/s>", the best of reps.
 *   csv_peer [reps] [scale] [name...] */
#include <csv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../csv_workload.h"

typedef struct tally {
    uint64_t records, fields, bytes;
} tally;

static void on_field(void *s, size_t len, void *ctx)
{
    (void)s;
    tally *t = ctx;
    t->fields++;
    t->bytes += len;
}

static void on_record(int c, void *ctx)
{
    (void)c;
    ((tally *)ctx)->records++;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double parse_all(long n)
{
    size_t len;
    char *buf = csv_workload((size_t)n, &len);
    if (!buf)
        return -1;
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    tally t = {0};
    double t0 = seconds();
    for (size_t at = 0; at < len; at += 1 << 20) {
        size_t k = len - at < (1u << 20) ? len - at : 1u << 20;
        if (csv_parse(&p, buf + at, k, on_field, on_record, &t) != k) {
            fprintf(stderr, "libcsv: %s\n", csv_strerror(csv_error(&p)));
            return -1;
        }
    }
    csv_fini(&p, on_field, on_record, &t);
    double s = seconds() - t0;
    csv_free(&p);
    free(buf);
    if (getenv("WEFT_BENCH_VERBOSE"))
        fprintf(stderr, "csv_parse (libcsv): %llu records %llu fields %llu bytes\n",
                (unsigned long long)t.records, (unsigned long long)t.fields,
                (unsigned long long)t.bytes);
    return s * (double)n / (double)len;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    int want = argc <= 3;
    for (int i = 3; i < argc; i++)
        want |= !strcmp(argv[i], "csv_parse");
    if (!want)
        return 0;
    long n = (long)(200000000 * scale);
    if (n < 4096)
        n = 4096;
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double s = parse_all(n);
        if (s > 0 && n / s > best)
            best = n / s;
    }
    printf("RESULT csv_parse %.0f\n", best);
    return 0;
}
