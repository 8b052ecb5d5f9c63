/* HTTP kernels for `weft bench`: weft's head parser (weft/http.h) against
 * libhttp-parser (Debian's libhttp-parser-dev, bench/peers/http_peer.c)
 * on the same requests: the measurement behind parsing HTTP ourselves. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/http.h>

#include "bench/bench.h"
#include "bench/http_workload.h"

/* One op: one request head parsed (its body skipped by its length), as a
 * server reads a keep-alive connection. */
static double http_parse(long n)
{
    size_t len;
    char *buf = http_workload(n, &len);
    if (!buf)
        return -ENOMEM;
    static weft_http_head h;
    uint64_t requests = 0, headers = 0, value_bytes = 0;
    double t0 = weft_bench_seconds();
    for (size_t at = 0; at < len;) {
        weft_http_head_reset(&h);
        int rc = weft_http_parse_head(&h, true, NULL, buf + at, len - at);
        if (rc < 0) {
            free(buf);
            return rc;
        }
        requests++;
        headers += h.nheaders;
        for (size_t k = 0; k < h.nheaders; k++)
            value_bytes += h.headers[k].value_len;
        at += (size_t)rc + (h.body == WEFT_HTTP_BODY_LENGTH ? h.content_length : 0);
    }
    double s = weft_bench_seconds() - t0;
    free(buf);
    /* The peer prints the same tally: a mismatch is a bug on one side. */
    if (getenv("WEFT_BENCH_VERBOSE"))
        fprintf(stderr, "http_parse: %llu requests %llu headers %llu value bytes\n",
                (unsigned long long)requests, (unsigned long long)headers,
                (unsigned long long)value_bytes);
    return requests == (uint64_t)n ? s : -EPROTO;
}

const weft_bench_kernel weft_bench_http_kernels[] = {
    {"http_parse", "one request head parsed (keep-alive stream, 300-600 byte heads)",
     "http_parse", 2000000, http_parse},
    {0},
};
