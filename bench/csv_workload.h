/* The CSV parsing workload, shared by weft's side (bench/csv.c) and
 * libcsv's (bench/peers/csv_peer.c): the same bytes, generated the same
 * way, an orders file as the seeds write it (order_id, amount,
 * customer_id, date), with one quoted field in 16 holding a comma or a
 * doubled quote so that the quoted path is used too. One op is one byte
 * parsed; each side counts records, fields and field bytes, which must
 * agree. */
#ifndef WEFT_BENCH_CSV_WORKLOAD_H
#define WEFT_BENCH_CSV_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fills a malloc'd buffer with about n bytes of CSV; *len gets its size. */
static char *csv_workload(size_t n, size_t *len)
{
    char *buf = malloc(n + 256);
    if (!buf)
        return NULL;
    size_t at = (size_t)snprintf(buf, n + 256, "order_id,amount,customer_id,date\n");
    uint64_t s = 42;
    for (long i = 0; at < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double amount = 10 + 990.0 * ((double)(s >> 11) / 9007199254740992.0);
        int customer = 1 + (int)(s % 99);
        if (i % 16 == 0)
            at += (size_t)snprintf(buf + at, n + 256 - at,
                                   "%ld,%.13f,\"%d, \"\"vip\"\"\",2024-%02ld-%02ld %02ld:00:00\n", i,
                                   amount, customer, i / 672 % 12 + 1, i / 24 % 28 + 1, i % 24);
        else
            at += (size_t)snprintf(buf + at, n + 256 - at, "%ld,%.13f,%d,2024-%02ld-%02ld %02ld:00:00\n",
                                   i, amount, customer, i / 672 % 12 + 1, i / 24 % 28 + 1, i % 24);
    }
    *len = at;
    return buf;
}

#endif
