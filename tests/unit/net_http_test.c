/* HTTP/1.1 heads and chunked bodies (weft/http.h):
 * - requests and responses parsed field by field, framing and keep-alive
 *   decided as RFC 9112 says;
 * - incremental: every message fed in every two pieces, and a byte at a
 *   time, gives what one call on the whole gives (heads, errors and error
 *   offsets alike);
 * - every refusal the contract lists, each with its reason;
 * - limits: a 64 KiB line passes and one byte more is refused, before its
 *   end arrives; 100 headers pass and 101 are refused;
 * - chunked bodies decoded in place however they are split, extensions
 *   and trailers dropped, the next message's bytes left alone, and bad
 *   chunk lines refused;
 * - the writer's checks: a caller's CR or LF can never reach a head;
 * - the writer: heads parse back to what went in, injections are refused
 *   with nothing written, and a short buffer is refused at every size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/http.h>

#include "weft_test.h"

/* A parse result as text: rc, then the head's fields. */
static char *render(int rc, const weft_http_head *h, bool request)
{
    static char out[1 << 17];
    size_t n = (size_t)snprintf(out, sizeof out, "rc=%d", rc);
    if (rc < 0 && rc != -EAGAIN) {
        snprintf(out + n, sizeof out - n, " error=%s at=%zu", h->error ? h->error : "?",
                 h->error_at);
        return out;
    }
    if (rc < 0)
        return out;
    if (request)
        n += (size_t)snprintf(out + n, sizeof out - n, " %.*s %.*s", (int)h->method_len, h->method,
                              (int)h->target_len, h->target);
    else
        n += (size_t)snprintf(out + n, sizeof out - n, " %d [%.*s]", h->status, (int)h->reason_len,
                              h->reason);
    n += (size_t)snprintf(out + n, sizeof out - n, " 1.%d body=%d len=%llu keep=%d",
                          h->minor_version, (int)h->body, (unsigned long long)h->content_length,
                          h->keep_alive);
    for (size_t k = 0; k < h->nheaders && n < sizeof out - 100; k++)
        n +=
            (size_t)snprintf(out + n, sizeof out - n, " {%.*s=%.*s}", (int)h->headers[k].name_len,
                             h->headers[k].name, (int)h->headers[k].value_len, h->headers[k].value);
    return out;
}

static char *parse_whole(const char *msg, size_t len, bool request, const char *method)
{
    weft_http_head *h = calloc(1, sizeof *h);
    int rc = weft_http_parse_head(h, request, method, msg, len);
    char *s = strdup(render(rc, h, request));
    free(h);
    return s;
}

/* Feed msg as a prefix of first bytes, then the rest, into one parser. */
static char *parse_split(const char *msg, size_t len, size_t first, size_t step, bool request,
                         const char *method)
{
    weft_http_head *h = calloc(1, sizeof *h);
    int rc = -EAGAIN;
    for (size_t have = first; rc == -EAGAIN; have += step) {
        if (have > len)
            have = len;
        rc = weft_http_parse_head(h, request, method, msg, have);
        if (have == len)
            break;
    }
    char *s = strdup(render(rc, h, request));
    free(h);
    return s;
}

/* The whole, and every way of feeding it, agree; returns the whole's result. */
static char *check(const char *msg, bool request, const char *method)
{
    size_t len = strlen(msg);
    char *whole = parse_whole(msg, len, request, method);
    for (size_t first = 0; first <= len; first++) {
        char *s = parse_split(msg, len, first, len, request, method);
        if (strcmp(s, whole) != 0)
            WT_FAIL_("\"%s\" split at %zu:\n  %s\nwhole:\n  %s", msg, first, s, whole);
        free(s);
    }
    char *bytes = parse_split(msg, len, 0, 1, request, method);
    WT_STREQ(bytes, whole);
    free(bytes);
    return whole;
}

/* want: the head's fields as render() writes them, after "rc=<length>" (the
 * length of the head: up to its empty line). */
static void expect(const char *msg, bool request, const char *method, const char *fields)
{
    char want[1024];
    snprintf(want, sizeof want, "rc=%d %s", (int)(strstr(msg, "\r\n\r\n") + 4 - msg), fields);
    char *got = check(msg, request, method);
    if (strcmp(got, want) != 0)
        WT_FAIL_("\"%s\":\n  got  %s\n  want %s", msg, got, want);
    free(got);
}

static void test_requests(void)
{
    expect("GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", true, NULL,
           "GET /a?b=c 1.1 body=0 len=0 keep=1 {Host=x}");
    expect("POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", true, NULL,
           "POST / 1.1 body=1 len=5 keep=0 {Content-Length=5} {Connection=close}");
    expect("PUT /u HTTP/1.1\r\nTransfer-Encoding: Chunked \r\n\r\n", true, NULL,
           "PUT /u 1.1 body=2 len=0 keep=1 {Transfer-Encoding=Chunked}");
    expect("GET / HTTP/1.0\r\n\r\n", true, NULL, "GET / 1.0 body=0 len=0 keep=0");
    expect("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true, NULL,
           "GET / 1.0 body=0 len=0 keep=1 {Connection=Keep-Alive}");
    /* One empty line before the request line is ignored. */
    expect("\r\nGET / HTTP/1.1\r\n\r\n", true, NULL, "GET / 1.1 body=0 len=0 keep=1");
    /* Values: spaces around dropped, inside kept, empty allowed; tab ok. */
    expect("GET / HTTP/1.1\r\nA:  x  y \t\r\nB:\r\nC:\tz\r\n\r\n", true, NULL,
           "GET / 1.1 body=0 len=0 keep=1 {A=x  y} {B=} {C=z}");
    weft_http_head h = {0};
    const char *m = "GET / HTTP/1.1\r\nExpect: 100-continue\r\nX-Y: 1\r\n\r\n";
    WT_GT(weft_http_parse_head(&h, true, NULL, m, strlen(m)), 0);
    WT_ASSERT(h.expect_continue);
    size_t vlen;
    const char *v = weft_http_header_get(&h, "x-y", &vlen);
    WT_ASSERT(v && vlen == 1 && *v == '1');
    WT_ASSERT(!weft_http_header_get(&h, "x-z", NULL));
}

static void test_responses(void)
{
    expect("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false, "GET",
           "200 [OK] 1.1 body=1 len=3 keep=1 {Content-Length=3}");
    expect("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", false, "HEAD",
           "200 [OK] 1.1 body=0 len=3 keep=1 {Content-Length=3}");
    expect("HTTP/1.1 204 No Content\r\n\r\n", false, NULL,
           "204 [No Content] 1.1 body=0 len=0 keep=1");
    expect("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, NULL,
           "304 [Not Modified] 1.1 body=0 len=9 keep=1 {Content-Length=9}");
    expect("HTTP/1.1 100 Continue\r\n\r\n", false, NULL, "100 [Continue] 1.1 body=0 len=0 keep=1");
    expect("HTTP/1.1 200 OK\r\n\r\n", false, NULL, "200 [OK] 1.1 body=3 len=0 keep=0");
    expect("HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n", false, NULL,
           "200 [] 1.1 body=2 len=0 keep=1 {Transfer-Encoding=chunked}");
    expect("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, NULL,
           "200 [OK] 1.0 body=0 len=0 keep=0 {Content-Length=0}");
    expect("HTTP/1.1 404 Not  Found \r\nContent-Length: 01\r\n\r\n", false, NULL,
           "404 [Not  Found ] 1.1 body=1 len=1 keep=1 {Content-Length=01}");
}

/* Each refused message, with the words its reason must contain. */
static void refused(const char *msg, bool request, int err, const char *why)
{
    char *got = check(msg, request, NULL);
    char want[64];
    snprintf(want, sizeof want, "rc=%d ", err);
    if (strncmp(got, want, strlen(want)) != 0 || !strstr(got, why))
        WT_FAIL_("\"%s\": got %s, want rc=%d and \"%s\"", msg, got, err, why);
    free(got);
}

static void test_refusals(void)
{
    /* Control characters, bare CR and LF. */
    refused("GET /a\x01 HTTP/1.1\r\n\r\n", true, -EPROTO,
            "control character in the request target");
    refused("GET /a\tb HTTP/1.1\r\n\r\n", true, -EPROTO, "request target");
    refused("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", true, -EPROTO,
            "control character in a header value");
    refused("GET / HTTP/1.1\r\nA: b\rX: y\r\n\r\n", true, -EPROTO,
            "control character in a header value");
    refused("GET / HTTP/1.1\nA: b\r\n\r\n", true, -EPROTO, "LF alone");
    refused("GET / HTTP/1.1\r\nA: b\n\r\n", true, -EPROTO, "LF alone");
    refused("HTTP/1.1 200 O\x02K\r\n\r\n", false, -EPROTO, "reason phrase");
    refused("G\x01T / HTTP/1.1\r\n\r\n", true, -EPROTO, "method that is not a token");
    /* Structure. */
    refused("GET / HTTP/1.1\r\nA b: c\r\n\r\n", true, -EPROTO, "whitespace before the colon");
    refused("GET / HTTP/1.1\r\nA : c\r\n\r\n", true, -EPROTO, "whitespace before the colon");
    refused("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", true, -EPROTO, "obsolete line folding");
    refused("GET / HTTP/1.1\r\nnocolon\r\n\r\n", true, -EPROTO, "without a name and a colon");
    refused("GET / HTTP/2.0\r\n\r\n", true, -EPROTO, "version other than");
    refused("GET /\r\n\r\n", true, -EPROTO, "without target or version");
    refused("GET  / HTTP/1.1\r\n\r\n", true, -EPROTO, "without target or version");
    refused("\r\n\r\nGET / HTTP/1.1\r\n\r\n", true, -EPROTO, "empty line where the start line");
    refused("\r\nHTTP/1.1 200 OK\r\n\r\n", false, -EPROTO, "empty line where the start line");
    refused("HTTP/1.1 2x0 OK\r\n\r\n", false, -EPROTO, "three digits");
    refused("HTTP/1.1 099 OK\r\n\r\n", false, -EPROTO, "under 100");
    refused("HTTP/1.1 200_OK\r\n\r\n", false, -EPROTO, "no space after the status code");
    /* Framing. */
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", true,
            -EPROTO, "both Transfer-Encoding and Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", true,
            -EPROTO, "both Transfer-Encoding and Content-Length");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", true, -EPROTO,
            "transfer coding other than");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            true, -EPROTO, "transfer coding other than");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", false, -EPROTO,
            "transfer coding other than");
    refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", true, -EPROTO, "HTTP/1.0");
    refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", true, -EPROTO,
            "disagree");
    refused("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", true, -EPROTO, "not a number");
    refused("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", true, -EPROTO, "not a number");
    refused("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", true, -EPROTO,
            "overflows");
    refused("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", true, -EPROTO, "empty Content-Length");
}

static void test_limits(void)
{
    size_t big = WEFT_HTTP_MAX_LINE + 200;
    char *msg = malloc(big + 64);
    WT_ASSERT(msg);
    /* A header line of exactly 64 KiB passes; one byte more does not. */
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = (size_t)sprintf(msg, "GET / HTTP/1.1\r\nX: ");
        size_t line_start = 16;
        while (n - line_start < (size_t)WEFT_HTTP_MAX_LINE + (size_t)extra)
            msg[n++] = 'v';
        memcpy(msg + n, "\r\n\r\n", 5);
        weft_http_head h = {0};
        int rc = weft_http_parse_head(&h, true, NULL, msg, n + 4);
        if (extra)
            WT_ERR(rc, -E2BIG);
        else
            WT_EQ(rc, (long long)(n + 4));
        /* Refused before the line ends when it is too long already. */
        weft_http_head g = {0};
        WT_ERR(weft_http_parse_head(&g, true, NULL, msg, n), extra ? -E2BIG : -EAGAIN);
    }
    /* A line that never ends is refused once past the limit. */
    memset(msg, 'a', big);
    weft_http_head h = {0};
    WT_ERR(weft_http_parse_head(&h, true, NULL, msg, big), -E2BIG);
    free(msg);
    /* 100 headers pass; 101 do not. */
    char *many = malloc(100 * 16 + 64);
    for (int count = 100; count <= 101; count++) {
        size_t n = (size_t)sprintf(many, "GET / HTTP/1.1\r\n");
        for (int i = 0; i < count; i++)
            n += (size_t)sprintf(many + n, "H%d: v\r\n", i);
        n += (size_t)sprintf(many + n, "\r\n");
        weft_http_head g = {0};
        int rc = weft_http_parse_head(&g, true, NULL, many, n);
        if (count == 100) {
            WT_EQ(rc, (long long)n);
            WT_EQ(g.nheaders, 100);
        } else {
            WT_ERR(rc, -E2BIG);
        }
    }
    free(many);
}

/* ---- chunked ------------------------------------------------------------------------- */

/* Decode wire in pieces of `piece` bytes (the decoder sees each piece
 * once; body bytes are collected), then compare. */
static void chunked(const char *wire, size_t piece, const char *want_body, size_t want_used,
                    int want)
{
    size_t len = strlen(wire);
    char *copy = malloc(len + 1), body[4096];
    size_t blen = 0, taken = 0;
    weft_http_chunked c;
    weft_http_chunked_init(&c);
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0; at += piece) {
        size_t n = len - at < piece ? len - at : piece, used;
        memcpy(copy, wire + at, n);
        size_t out = n;
        rc = weft_http_chunked_decode(&c, copy, &out, &used);
        if (rc < 0)
            break;
        WT_LE(out, n);
        memcpy(body + blen, copy, out);
        blen += out;
        taken += used;
        if (rc == 0)
            WT_EQ(used, n); /* everything taken until the end */
    }
    if (rc != want)
        WT_FAIL_("\"%s\" in pieces of %zu: rc %d (%s), want %d", wire, piece, rc,
                 c.error ? c.error : "", want);
    if (want == 1) {
        body[blen] = 0;
        WT_STREQ(body, want_body);
        WT_EQ(taken, want_used);
    }
    free(copy);
}

static void test_chunked(void)
{
    static const struct {
        const char *wire, *body;
        int rc;
    } cases[] = {
        {"5\r\nhello\r\n0\r\n\r\n", "hello", 1},
        {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", "hello world", 1},
        {"A;name=value\r\n0123456789\r\n0;x\r\nTrailer: t\r\nMore: m\r\n\r\nGET", "0123456789", 1},
        {"00000003\r\nabc\r\n000\r\n\r\n", "abc", 1},
        {"1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n", "abcdefghijklmnopqrstuvwxyz", 1},
        {"5\r\nhello\r\n", "", 0}, /* not finished */
        {"x\r\n", "", -EPROTO},
        {"\r\n", "", -EPROTO},
        {"5\r\nhelloX\r\n", "", -EPROTO},
        {"5\nhello\r\n", "", -EPROTO},
        {"10000000000000000\r\n", "", -EPROTO}, /* 2^64 */
        {"5;a\x01\r\nhello\r\n", "", -EPROTO},
        {"0\r\nT: a\x01\r\n\r\n", "", -EPROTO},
        {"0\r\n\rX", "", -EPROTO},
        {"3zzz\r\nabc\r\n0\r\n\r\n", "", -EPROTO}, /* text after a size: not an extension */
        {"3 \t;e\r\nabc\r\n0\r\n\r\n", "abc", 1},  /* spaces before ';' */
        {"3 \r\nabc\r\n0 \r\n\r\n", "abc", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].wire), rest = 0;
        const char *tail = strstr(cases[i].wire, "\r\n\r\n");
        if (cases[i].rc == 1)
            rest = len - (size_t)(tail + 4 - cases[i].wire);
        for (size_t piece = 1; piece <= len; piece++)
            chunked(cases[i].wire, piece, cases[i].body, len - rest, cases[i].rc);
    }
    /* The largest size that fits, then refused when it is not followed by
     * as many bytes (it is only checked to parse). */
    weft_http_chunked c;
    weft_http_chunked_init(&c);
    char wire[] = "ffffffffffffffff\r\nab";
    size_t n = sizeof wire - 1, used;
    WT_EQ(weft_http_chunked_decode(&c, wire, &n, &used), 0);
    WT_EQ(n, 2);
    WT_EQ(c.left, 0xffffffffffffffffull - 2);
    /* Size lines of exactly the limit pass, the first and a later one; one
     * byte more does not. */
    char *longext = malloc(WEFT_HTTP_MAX_LINE + 64);
    for (int extra = 0; extra <= 1; extra++)
        for (int later = 0; later <= 1; later++) {
            size_t k = 0;
            if (later)
                k += (size_t)sprintf(longext, "1\r\nx\r\n");
            size_t start = k;
            longext[k++] = '1';
            longext[k++] = ';';
            while (k - start < (size_t)WEFT_HTTP_MAX_LINE + (size_t)extra)
                longext[k++] = 'e';
            k += (size_t)sprintf(longext + k, "\r\ny\r\n");
            weft_http_chunked_init(&c);
            n = k;
            int rc = weft_http_chunked_decode(&c, longext, &n, &used);
            if (rc != (extra ? -E2BIG : 0))
                WT_FAIL_("a size line of limit+%d (later %d): rc %d", extra, later, rc);
        }
    free(longext);
}

static void test_writer_checks(void)
{
    WT_ASSERT(weft_http_token_ok("GET", 3));
    WT_ASSERT(weft_http_token_ok("X-Custom_1!", 11));
    WT_ASSERT(!weft_http_token_ok("", 0));
    WT_ASSERT(!weft_http_token_ok("A B", 3));
    WT_ASSERT(!weft_http_token_ok("A:B", 3));
    WT_ASSERT(!weft_http_token_ok("A\r\nB", 4));
    WT_ASSERT(weft_http_value_ok("text/html; q=0.9\twith tab", 25));
    WT_ASSERT(weft_http_value_ok("", 0));
    WT_ASSERT(!weft_http_value_ok("a\r\nInjected: 1", 15));
    WT_ASSERT(!weft_http_value_ok("a\nb", 3));
    WT_ASSERT(!weft_http_value_ok("a\rb", 3));
    WT_ASSERT(!weft_http_value_ok("a\0b", 3));
}

#define HDR(n, v)                                                                                  \
    {                                                                                              \
        n, v, sizeof n - 1, sizeof v - 1                                                           \
    }

/* Heads written by the writer parse back to what went in; every attempt
 * to smuggle a line end through a part is refused with nothing written;
 * a buffer one byte short is refused at every size. */
static void test_writer(void)
{
    const weft_http_header hs[] = {HDR("Host", "localhost:8080"), HDR("X-Empty", ""),
                                   HDR("Accept", "text/plain;\tq=1")};
    char buf[512];
    int n = weft_http_write_request(buf, sizeof buf, "GET", "/a?b=c%20d", hs, 3);
    WT_GT(n, 0);
    WT_EQ(memcmp(buf, "GET /a?b=c%20d HTTP/1.1\r\nHost: localhost:8080\r\n", 47), 0);
    weft_http_head h = {0};
    WT_EQ(weft_http_parse_head(&h, true, NULL, buf, (size_t)n), n);
    WT_STREQ(render(n, &h, true),
             "rc=85 GET /a?b=c%20d 1.1 body=0 len=0 keep=1 {Host=localhost:8080} {X-Empty=} "
             "{Accept=text/plain;\tq=1}");
    n = weft_http_write_response(buf, sizeof buf, 404, "Not Found", hs, 1);
    WT_GT(n, 0);
    weft_http_head_reset(&h);
    WT_EQ(weft_http_parse_head(&h, false, "GET", buf, (size_t)n), n);
    WT_EQ(h.status, 404);
    WT_EQ(h.nheaders, 1);
    n = weft_http_write_response(buf, sizeof buf, 200, NULL, NULL, 0);
    WT_EQ(n, 17);
    WT_EQ(memcmp(buf, "HTTP/1.1 200 \r\n\r\n", 17), 0);
    /* Injections. */
    const weft_http_header bad_name[] = {HDR("X\r\nY", "v")},
                           bad_value[] = {HDR("X", "v\r\nInjected: 1")},
                           bad_lf[] = {HDR("X", "v\nY: z")}, empty_name[] = {HDR("", "v")};
    memset(buf, '#', sizeof buf);
    WT_ERR(weft_http_write_request(buf, sizeof buf, "GET\r\n", "/", NULL, 0), -EINVAL);
    WT_ERR(weft_http_write_request(buf, sizeof buf, "GET", "/a b", NULL, 0), -EINVAL);
    WT_ERR(weft_http_write_request(buf, sizeof buf, "GET", "/a\r\nX: y", NULL, 0), -EINVAL);
    WT_ERR(weft_http_write_request(buf, sizeof buf, "GET", "", NULL, 0), -EINVAL);
    WT_ERR(weft_http_write_request(buf, sizeof buf, "GET", "/", bad_name, 1), -EINVAL);
    WT_ERR(weft_http_write_request(buf, sizeof buf, "GET", "/", bad_value, 1), -EINVAL);
    WT_ERR(weft_http_write_request(buf, sizeof buf, "GET", "/", bad_lf, 1), -EINVAL);
    WT_ERR(weft_http_write_request(buf, sizeof buf, "GET", "/", empty_name, 1), -EINVAL);
    WT_ERR(weft_http_write_request(buf, sizeof buf, "GET", "/", NULL, 1), -EINVAL);
    WT_ERR(weft_http_write_response(buf, sizeof buf, 200, "OK\r\nX: y", NULL, 0), -EINVAL);
    WT_ERR(weft_http_write_response(buf, sizeof buf, 200, "OK", bad_value, 1), -EINVAL);
    WT_ERR(weft_http_write_response(buf, sizeof buf, 99, "OK", NULL, 0), -EINVAL);
    WT_ERR(weft_http_write_response(buf, sizeof buf, 1000, "OK", NULL, 0), -EINVAL);
    for (size_t i = 0; i < sizeof buf; i++)
        WT_EQ(buf[i], '#'); /* nothing written */
    /* Space: exactly enough works, one byte less does not, at every size. */
    int need = weft_http_write_request(buf, sizeof buf, "POST", "/x", hs, 3);
    WT_GT(need, 0);
    for (int cap = 0; cap < need; cap++)
        WT_ERR(weft_http_write_request(buf, (size_t)cap, "POST", "/x", hs, 3), -ENOSPC);
    WT_EQ(weft_http_write_request(buf, (size_t)need, "POST", "/x", hs, 3), need);
}

int main(void)
{
    WT_RUN(test_requests);
    WT_RUN(test_responses);
    WT_RUN(test_refusals);
    WT_RUN(test_limits);
    WT_RUN(test_chunked);
    WT_RUN(test_writer_checks);
    WT_RUN(test_writer);
    return 0;
}
