/* weft etl: the seeds' parallel CSV ETL (seed 000 section 7, exercise 3)
 * as a tool. This file dispatches, generates the sample data, and holds
 * the helpers the subcommands share; tools/etl_summarize.c summarizes.
 *
 *   weft etl gen [--kind orders|data] [--files N] [--rows R | --size S]
 *                [--seed S] [-o DIR]
 *   weft etl summarize FILES... (weft etl summarize --help)
 *   weft etl transform FILES... -o DIR (weft etl transform --help)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/etl.h"
#include "tools/weft_tool.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: weft etl <command> [options]\n\n"
            "commands:\n"
            "  gen        write the seeds' sample CSV files (orders_N.csv or data_N.csv)\n"
            "  summarize  rows, numeric statistics, distinct counts, groups of CSV files\n"
            "  transform  computed columns, row filters, column choice; one output per input\n\n"
            "`weft etl <command> --help` describes a command's options.\n");
}

int weft_cmd_etl(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "gen"))
        return weft_etl_gen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "summarize"))
        return weft_etl_summarize(argc - 1, argv + 1);
    if (!strcmp(argv[1], "transform"))
        return weft_etl_transform(argc - 1, argv + 1);
    fprintf(stderr, "weft etl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

/* ---- shared helpers ----------------------------------------------------------------- */

int64_t weft_etl_parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    switch (*end) {
    case 0:
        break;
    case 'k':
    case 'K':
        v *= 1e3;
        end++;
        break;
    case 'm':
    case 'M':
        v *= 1e6;
        end++;
        break;
    case 'g':
    case 'G':
        v *= 1e9;
        end++;
        break;
    default:
        return -1;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    return *end ? -1 : (int64_t)v;
}

/* ---- gen ---------------------------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next_u64(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s * 2685821657736338717ull;
}

static double uniform(rng *r)
{
    return (double)(next_u64(r) >> 11) / 9007199254740992.0;
}

static double normal(rng *r)
{
    double u = uniform(r), v = uniform(r);
    return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(6.283185307179586 * v);
}

/* 2024-01-01 00:00:00 plus h hours (pd.date_range(..., freq='H')). */
static void date_of_hour(char *buf, size_t len, long h)
{
    static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long day = h / 24, year = 2024;
    int month = 0;
    for (;;) {
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        long in_year = leap ? 366 : 365;
        if (day < in_year)
            break;
        day -= in_year;
        year++;
    }
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    while (day >= days[month] - (month == 1 && !leap)) {
        day -= days[month] - (month == 1 && !leap);
        month++;
    }
    snprintf(buf, len, "%04d-%02d-%02d %02d:00:00", (int)(year % 10000), month + 1, (int)(day % 32) + 1,
             (int)(h % 24));
}

/* Decimal text of v at o; returns the end. */
static char *put_int(char *o, long v)
{
    char digits[24];
    int n = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *o++ = '-';
    while (n)
        *o++ = digits[--n];
    return o;
}

/* m / 10^decimals with exactly that many decimals ("%.*f"). */
static char *put_fixed(char *o, long long m, int decimals)
{
    long long scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    if (m < 0) {
        *o++ = '-';
        m = -m;
    }
    o = put_int(o, (long)(m / scale));
    *o++ = '.';
    long long frac = m % scale;
    for (long long d = scale / 10; d > 0; d /= 10) {
        *o++ = (char)('0' + frac / d);
        frac %= d;
    }
    return o;
}

static void gen_usage(FILE *f)
{
    fprintf(f, "usage: weft etl gen [options]\n"
               "Writes the seeds' sample data, seeded (the same options give the same bytes):\n"
               "  orders_N.csv: order_id, amount, customer_id, date (seed 000, section 7)\n"
               "  data_N.csv:   id, value, category (seed 000, exercise 3)\n\n"
               "  --kind orders|data  which files (default orders)\n"
               "  --files N           how many (default 4)\n"
               "  --rows R            rows per file (default 1000)\n"
               "  --size S            bytes per file instead of rows: 64k, 100M, 1G\n"
               "  --seed S            random seed (default 42)\n"
               "  -o DIR              output directory (default data), created if needed\n");
}

int weft_etl_gen(int argc, char **argv)
{
    const char *kind = "orders", *dir = "data";
    long files = 4, rows = 1000;
    int64_t size = -1;
    uint64_t seed = 42;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            gen_usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "weft etl gen: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--kind"))
            kind = v;
        else if (!strcmp(a, "--files"))
            files = atol(v);
        else if (!strcmp(a, "--rows"))
            rows = atol(v);
        else if (!strcmp(a, "--size"))
            size = weft_etl_parse_size(v);
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "-o"))
            dir = v;
        else {
            fprintf(stderr, "weft etl gen: unknown option '%s'\n", a);
            gen_usage(stderr);
            return 2;
        }
    }
    bool orders = !strcmp(kind, "orders");
    if ((!orders && strcmp(kind, "data")) || files < 1 || rows < 0 || (size < 0 && rows == 0) ||
        size == 0) {
        fprintf(stderr, "weft etl gen: --kind is orders or data; --files, --rows and --size "
                        "are positive\n");
        return 2;
    }
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "weft etl gen: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (long f = 0; f < files; f++) {
        char path[4096], tmp[4200];
        snprintf(path, sizeof path, "%s/%s_%ld.csv", dir, orders ? "orders" : "data", f);
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        FILE *out = fopen(tmp, "w");
        if (!out) {
            fprintf(stderr, "weft etl gen: cannot write %s: %s\n", tmp, strerror(errno));
            return 1;
        }
        static char buf[1 << 20];
        setvbuf(out, buf, _IOFBF, sizeof buf);
        rng r = {seed * 0x9E3779B97F4A7C15ull + (uint64_t)f * 0xBF58476D1CE4E5B9ull + 1};
        long written = fprintf(out, orders ? "order_id,amount,customer_id,date\n"
                                           : "id,value,category\n");
        long base = f * (rows ? rows : 1000000);
        /* Rows are formatted by hand (printf was 95% of the time): the
         * numbers are printed from integers (cents, millionths), the date
         * is formatted once per day. */
        char date[32] = "";
        long date_day = -1;
        for (long i = 0; size > 0 ? written < size : i < rows; i++) {
            char line[128], *o = line;
            o = put_int(o, base + i);
            *o++ = ',';
            if (orders) {
                o = put_fixed(o, llround((10 + 990 * uniform(&r)) * 100), 2);
                *o++ = ',';
                o = put_int(o, 1 + (long)(next_u64(&r) % 99));
                *o++ = ',';
                if (i / 24 != date_day) {
                    date_day = i / 24;
                    date_of_hour(date, sizeof date, i - i % 24);
                }
                memcpy(o, date, 11); /* "YYYY-MM-DD " */
                o += 11;
                *o++ = (char)('0' + i % 24 / 10);
                *o++ = (char)('0' + i % 24 % 10);
                memcpy(o, ":00:00", 6);
                o += 6;
            } else {
                o = put_fixed(o, llround(normal(&r) * 1e6), 6);
                *o++ = ',';
                *o++ = "ABC"[next_u64(&r) % 3];
            }
            *o++ = '\n';
            if (fwrite(line, 1, (size_t)(o - line), out) != (size_t)(o - line))
                break;
            written += o - line;
        }
        if (fclose(out) != 0 || rename(tmp, path) != 0) {
            fprintf(stderr, "weft etl gen: writing %s failed: %s\n", path, strerror(errno));
            unlink(tmp);
            return 1;
        }
    }
    fprintf(stderr, "weft etl gen: %ld %s file%s in %s/\n", files, kind, files > 1 ? "s" : "",
            dir);
    return 0;
}
