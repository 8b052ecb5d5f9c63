/* libFuzzer target for the HTTP/1.1 parser (weft/http.h). Each input is
 * parsed as a request head and as a response head, at once and fed in
 * pieces (their size taken from the first byte): both ways must agree on
 * the result, the fields and the error's place; a body the head declares
 * chunked is decoded in pieces too, and must never grow or read out of
 * bounds (ASan, UBSan). Built and run for a few seconds by
 * tests/fuzz/run.sh. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weft/http.h>

static void same_heads(const weft_http_head *a, int ra, const weft_http_head *b, int rb)
{
    if (ra != rb)
        abort();
    if (ra < 0) {
        if (ra != -EAGAIN && (a->error_at != b->error_at || strcmp(a->error, b->error) != 0))
            abort();
        return;
    }
    if (a->nheaders != b->nheaders || a->body != b->body || a->keep_alive != b->keep_alive ||
        a->content_length != b->content_length || a->status != b->status)
        abort();
    for (size_t k = 0; k < a->nheaders; k++)
        if (a->headers[k].name != b->headers[k].name ||
            a->headers[k].value_len != b->headers[k].value_len)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = 1 + data[0] % 16;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    for (int request = 0; request <= 1; request++) {
        static weft_http_head whole, fed;
        weft_http_head_reset(&whole);
        weft_http_head_reset(&fed);
        int rw = weft_http_parse_head(&whole, request, NULL, buf, len);
        int rf = -EAGAIN;
        for (size_t have = 0; rf == -EAGAIN; have += piece) {
            if (have > len)
                have = len;
            rf = weft_http_parse_head(&fed, request, NULL, buf, have);
            if (have == len)
                break;
        }
        same_heads(&whole, rw, &fed, rf);
        if (rw < 0 || whole.body != WEFT_HTTP_BODY_CHUNKED)
            continue;
        /* The body, decoded in pieces in a copy of its own. */
        size_t blen = len - (size_t)rw;
        char *body = malloc(blen ? blen : 1);
        memcpy(body, buf + rw, blen);
        weft_http_chunked c;
        weft_http_chunked_init(&c);
        for (size_t at = 0; at < blen;) {
            size_t n = blen - at < piece ? blen - at : piece, out = n, used;
            int rc = weft_http_chunked_decode(&c, body + at, &out, &used);
            if (out > n || used > n || (rc == 0 && used != n))
                abort();
            if (rc != 0)
                break;
            at += n;
        }
        free(body);
    }
    return 0;
}
