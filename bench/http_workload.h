/* The HTTP parsing workload, shared by weft's side (bench/http.c) and
 * libhttp-parser's (bench/peers/http_peer.c): the same bytes, generated
 * the same way: request heads as browsers and HTTP clients send them
 * (7 to 12 headers, 300 to 600 bytes), one after another as on a
 * keep-alive connection, every fourth a POST with a short body. One op is
 * one request parsed; each side counts requests, headers and header value
 * bytes, which must agree. */
#ifndef WEFT_BENCH_HTTP_WORKLOAD_H
#define WEFT_BENCH_HTTP_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fills a malloc'd buffer with n requests; *len gets its size. */
static char *http_workload(long n, size_t *len)
{
    size_t cap = (size_t)n * 700 + 1024, at = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    static const char *agents[] = {
        "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
        "curl/7.88.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0.0.0 Safari/537.36",
        "Python/3.11 aiohttp/3.8.4"};
    uint64_t s = 7;
    for (long i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        bool post = i % 4 == 3;
        at += (size_t)snprintf(buf + at, cap - at,
                               "%s /files/%05llu/data.csv?page=%llu&sort=desc HTTP/1.1\r\n"
                               "Host: localhost:8080\r\n"
                               "User-Agent: %s\r\n"
                               "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
                               "Accept-Language: en-US,en;q=0.5\r\n"
                               "Accept-Encoding: gzip, deflate, br\r\n"
                               "Connection: keep-alive\r\n",
                               post ? "POST" : "GET", (unsigned long long)(s % 100000),
                               (unsigned long long)(s % 97), agents[s % 4]);
        if (s % 3 == 0)
            at += (size_t)snprintf(buf + at, cap - at,
                                   "Cookie: session=%016llx; theme=dark; lang=en\r\n"
                                   "Referer: http://localhost:8080/files/\r\n"
                                   "Cache-Control: max-age=0\r\n",
                                   (unsigned long long)s);
        if (post)
            at += (size_t)snprintf(buf + at, cap - at,
                                   "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
                                   "{\"value\": 12345}");
        else
            at += (size_t)snprintf(buf + at, cap - at, "\r\n");
    }
    *len = at;
    return buf;
}

#endif
