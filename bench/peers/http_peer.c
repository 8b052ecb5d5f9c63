/* libhttp-parser 2.9 (Debian's libhttp-parser-dev) on weft's HTTP
 * workload (bench/http_workload.h): the peer of `weft bench http_parse`.
 * The whole stream goes to http_parser_execute at once, as a server
 * feeds what it read. Prints "RESULT http_parse <requests/s>", the best
 * of reps.
 *   http_peer [reps] [scale] [name...] */
#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../http_workload.h"

typedef struct tally {
    uint64_t requests, headers, value_bytes;
} tally;

static int on_field(http_parser *p, const char *at, size_t len)
{
    (void)at;
    (void)len;
    ((tally *)p->data)->headers++;
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    (void)at;
    ((tally *)p->data)->value_bytes += len;
    return 0;
}

static int on_complete(http_parser *p)
{
    ((tally *)p->data)->requests++;
    return 0;
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
    char *buf = http_workload(n, &len);
    if (!buf)
        return -1;
    http_parser_settings set = {0};
    set.on_header_field = on_field;
    set.on_header_value = on_value;
    set.on_message_complete = on_complete;
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    tally t = {0};
    p.data = &t;
    double t0 = seconds();
    size_t done = http_parser_execute(&p, &set, buf, len);
    double s = seconds() - t0;
    free(buf);
    if (done != len || t.requests != (uint64_t)n) {
        fprintf(stderr, "http_parser: %s\n", http_errno_description(HTTP_PARSER_ERRNO(&p)));
        return -1;
    }
    if (getenv("WEFT_BENCH_VERBOSE"))
        fprintf(stderr, "http_parse (http-parser): %llu requests %llu headers %llu value bytes\n",
                (unsigned long long)t.requests, (unsigned long long)t.headers,
                (unsigned long long)t.value_bytes);
    return s;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    int want = argc <= 3;
    for (int i = 3; i < argc; i++)
        want |= !strcmp(argv[i], "http_parse");
    if (!want)
        return 0;
    long n = (long)(2000000 * scale);
    if (n < 4)
        n = 4;
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double s = parse_all(n);
        if (s > 0 && n / s > best)
            best = n / s;
    }
    printf("RESULT http_parse %.0f\n", best);
    return 0;
}
