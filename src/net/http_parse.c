/* HTTP/1.1 message heads and chunked bodies: see include/weft/http.h for
 * the contract and what is refused.
 *
 * A head is handled in two passes. The first finds where it ends: it
 * jumps from LF to LF with memchr, checks each line's length as it goes
 * (so an endless line is refused before it is complete), and remembers
 * where it stopped, so feeding a head a byte at a time stays linear. The
 * second parses the complete head line by line; heads are small, and a
 * parse that only ever sees complete heads gives the same result however
 * the bytes arrived.
 *
 * Lines end with CRLF. A bare LF is refused along with a bare CR: one
 * line-end rule for every part of a message, so that no two readers of
 * the same bytes (a proxy in front, weft behind) can disagree on where a
 * header or a chunk ends.
 *
 * Synchronization: none; a parser or decoder belongs to one thread. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <weft/http.h>

/* ---- characters ---------------------------------------------------------------------- */

/* RFC 9110 tchar: the bytes of a token (methods, header names). */
static bool is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && memchr(extra, c, sizeof extra - 1) != NULL;
}

/* A control character (tab aside): never in a line's text. */
static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7F;
}

bool weft_http_token_ok(const char *s, size_t len)
{
    if (!s || !len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

bool weft_http_value_ok(const char *s, size_t len)
{
    if (!s && len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (is_ctl((unsigned char)s[i]))
            return false;
    return true;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool same_ci(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

/* Whether the comma-separated list s[0..len) holds token (case
 * insensitive, spaces around elements ignored). */
static bool list_has(const char *s, size_t len, const char *token)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t start = i;
        while (i < len && s[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        if (end > start && same_ci(s + start, end - start, token))
            return true;
    }
    return false;
}

/* ---- heads --------------------------------------------------------------------------- */

void weft_http_head_reset(weft_http_head *h)
{
    memset(h, 0, sizeof *h);
}

static int refuse(weft_http_head *h, int err, const char *why, size_t at)
{
    h->error = why;
    h->error_at = at;
    return err;
}

/* Find the end of the head in buf[0..len): its length, or -EAGAIN, or an
 * error. h->scanned is where the last call stopped, h->line_start where
 * the line being read began. */
static int find_end(weft_http_head *h, bool request, const char *buf, size_t len, size_t *start)
{
    size_t p = h->scanned;
    for (;;) {
        const char *nl = p < len ? memchr(buf + p, '\n', len - p) : NULL;
        if (!nl) {
            /* Too long already, unless the last byte is the line's CR. */
            size_t have = len - h->line_start;
            if (have > WEFT_HTTP_MAX_LINE &&
                (have > WEFT_HTTP_MAX_LINE + 1 || buf[len - 1] != '\r'))
                return refuse(h, -E2BIG, "a line longer than 64 KiB", h->line_start);
            h->scanned = len;
            return -EAGAIN;
        }
        size_t at = (size_t)(nl - buf);
        if (at == h->line_start || buf[at - 1] != '\r')
            return refuse(h, -EPROTO, "a line that ends with LF alone", at);
        size_t line_len = at - 1 - h->line_start;
        if (line_len > WEFT_HTTP_MAX_LINE)
            return refuse(h, -E2BIG, "a line longer than 64 KiB", h->line_start);
        p = at + 1;
        if (line_len == 0) {
            if (h->line_start > h->skipped) {
                *start = h->skipped;
                h->scanned = p;
                return (int)p;
            }
            /* One empty line before a request line is ignored (RFC 9112
             * section 2.2); more, or before a status line, are not. */
            if (!request || h->skipped)
                return refuse(h, -EPROTO, "an empty line where the start line should be", at);
            h->skipped = h->line_start = p;
            continue;
        }
        if (++h->lines > WEFT_HTTP_MAX_HEADERS + 1)
            return refuse(h, -E2BIG, "more than 100 header fields", h->line_start);
        h->line_start = p;
    }
}

/* The next line of the complete head [*p, end): its text without CRLF. */
static const char *next_line(const char *buf, size_t *p, size_t *len)
{
    const char *line = buf + *p;
    const char *nl = memchr(line, '\n', SIZE_MAX >> 1);
    *len = (size_t)(nl - line) - 1;
    *p = (size_t)(nl - buf) + 1;
    return line;
}

static int parse_version(const char *s, size_t len, int *minor)
{
    if (len != 8 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1'))
        return -1;
    *minor = s[7] - '0';
    return 0;
}

static int parse_request_line(weft_http_head *h, const char *buf, const char *s, size_t len)
{
    size_t at = (size_t)(s - buf), i = 0;
    while (i < len && s[i] != ' ') {
        if (!is_tchar((unsigned char)s[i]))
            return refuse(h, -EPROTO, "a method that is not a token", at + i);
        i++;
    }
    if (i == 0 || i == len)
        return refuse(h, -EPROTO, "a request line without method, target and version", at);
    h->method = s;
    h->method_len = i++;
    size_t t = i;
    while (i < len && s[i] != ' ') {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7F)
            return refuse(h, -EPROTO, "a control character in the request target", at + i);
        i++;
    }
    if (i == t || i == len)
        return refuse(h, -EPROTO, "a request line without target or version", at + i);
    h->target = s + t;
    h->target_len = i - t;
    i++;
    if (parse_version(s + i, len - i, &h->minor_version) < 0)
        return refuse(h, -EPROTO, "a version other than HTTP/1.0 or HTTP/1.1", at + i);
    return 0;
}

static int parse_status_line(weft_http_head *h, const char *buf, const char *s, size_t len)
{
    size_t at = (size_t)(s - buf);
    if (len < 12 || parse_version(s, 8, &h->minor_version) < 0 || s[8] != ' ')
        return refuse(h, -EPROTO, "a status line that does not start with HTTP/1.x and a space",
                      at);
    int status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9')
            return refuse(h, -EPROTO, "a status code that is not three digits", at + i);
        status = status * 10 + (s[i] - '0');
    }
    if (status < 100)
        return refuse(h, -EPROTO, "a status code under 100", at + 9);
    h->status = status;
    size_t i = 12;
    if (i < len && s[i++] != ' ')
        return refuse(h, -EPROTO, "no space after the status code", at + 12);
    for (size_t k = i; k < len; k++)
        if (is_ctl((unsigned char)s[k]))
            return refuse(h, -EPROTO, "a control character in the reason phrase", at + k);
    h->reason = s + i;
    h->reason_len = len - i;
    return 0;
}

static int parse_header(weft_http_head *h, const char *buf, const char *s, size_t len)
{
    size_t at = (size_t)(s - buf);
    if (s[0] == ' ' || s[0] == '\t')
        return refuse(h, -EPROTO, "obsolete line folding", at);
    size_t i = 0;
    while (i < len && s[i] != ':') {
        if (!is_tchar((unsigned char)s[i]))
            return refuse(h, -EPROTO,
                          s[i] == ' ' || s[i] == '\t' ? "whitespace before the colon of a header"
                                                      : "a header name that is not a token",
                          at + i);
        i++;
    }
    if (i == 0 || i == len)
        return refuse(h, -EPROTO, "a header line without a name and a colon", at);
    size_t v = i + 1, end = len;
    for (size_t k = v; k < len; k++)
        if (is_ctl((unsigned char)s[k]))
            return refuse(h, -EPROTO, "a control character in a header value", at + k);
    while (v < end && (s[v] == ' ' || s[v] == '\t'))
        v++;
    while (end > v && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    h->headers[h->nheaders++] = (weft_http_header){s, s + v, i, end - v};
    return 0;
}

/* Decide how the body is delimited, and whether the connection stays. */
static int framing(weft_http_head *h, bool request, const char *request_method, const char *buf)
{
    bool te = false, cl = false, close = false, keep = false;
    uint64_t length = 0;
    for (size_t k = 0; k < h->nheaders; k++) {
        const weft_http_header *x = &h->headers[k];
        size_t at = (size_t)(x->name - buf);
        if (same_ci(x->name, x->name_len, "transfer-encoding")) {
            /* Exactly one coding, chunked, in one field. */
            if (te || !same_ci(x->value, x->value_len, "chunked"))
                return refuse(h, -EPROTO, "a transfer coding other than one \"chunked\"", at);
            te = true;
        } else if (same_ci(x->name, x->name_len, "content-length")) {
            uint64_t n = 0;
            if (!x->value_len)
                return refuse(h, -EPROTO, "an empty Content-Length", at);
            for (size_t i = 0; i < x->value_len; i++) {
                unsigned d = (unsigned)(x->value[i] - '0');
                if (d > 9)
                    return refuse(h, -EPROTO, "a Content-Length that is not a number", at);
                if (n > (UINT64_MAX >> 1) / 10)
                    return refuse(h, -EPROTO, "a Content-Length that overflows", at);
                n = n * 10 + d;
            }
            if (cl && n != length)
                return refuse(h, -EPROTO, "Content-Length fields that disagree", at);
            cl = true;
            length = n;
        } else if (same_ci(x->name, x->name_len, "connection")) {
            close |= list_has(x->value, x->value_len, "close");
            keep |= list_has(x->value, x->value_len, "keep-alive");
        } else if (request && same_ci(x->name, x->name_len, "expect")) {
            h->expect_continue = same_ci(x->value, x->value_len, "100-continue");
        }
    }
    if (te && cl)
        return refuse(h, -EPROTO, "both Transfer-Encoding and Content-Length", 0);
    if (te && h->minor_version == 0)
        return refuse(h, -EPROTO, "Transfer-Encoding in an HTTP/1.0 message", 0);
    h->keep_alive = h->minor_version == 1 ? !close : keep && !close;
    h->content_length = length;
    bool no_body = !request && ((request_method && strcmp(request_method, "HEAD") == 0) ||
                                h->status < 200 || h->status == 204 || h->status == 304);
    if (no_body)
        h->body = WEFT_HTTP_BODY_NONE;
    else if (te)
        h->body = WEFT_HTTP_BODY_CHUNKED;
    else if (cl)
        h->body = length ? WEFT_HTTP_BODY_LENGTH : WEFT_HTTP_BODY_NONE;
    else if (request)
        h->body = WEFT_HTTP_BODY_NONE;
    else {
        h->body = WEFT_HTTP_BODY_UNTIL_CLOSE;
        h->keep_alive = false;
    }
    return 0;
}

int weft_http_parse_head(weft_http_head *h, bool request, const char *request_method,
                         const char *buf, size_t len)
{
    if (!h || (!buf && len))
        return -EINVAL;
    size_t start;
    int end = find_end(h, request, buf, len, &start);
    if (end < 0)
        return end;
    size_t p = start, n;
    const char *line = next_line(buf, &p, &n);
    int rc = request ? parse_request_line(h, buf, line, n) : parse_status_line(h, buf, line, n);
    if (rc < 0)
        return rc;
    h->nheaders = 0;
    while (p < (size_t)end) {
        line = next_line(buf, &p, &n);
        if (n == 0)
            break;
        /* A CR inside a line (a bare CR) is a control character. */
        if ((rc = parse_header(h, buf, line, n)) < 0)
            return rc;
    }
    if ((rc = framing(h, request, request_method, buf)) < 0)
        return rc;
    h->error = NULL;
    return end;
}

const char *weft_http_header_get(const weft_http_head *h, const char *name, size_t *len)
{
    for (size_t k = 0; h && name && k < h->nheaders; k++)
        if (same_ci(h->headers[k].name, h->headers[k].name_len, name)) {
            if (len)
                *len = h->headers[k].value_len;
            return h->headers[k].value;
        }
    return NULL;
}

/* ---- chunked bodies ----------------------------------------------------------------- */

enum {
    CH_SIZE,    /* hex digits of a chunk size */
    CH_SIZE_WS, /* after the size: spaces, then ';' or CR */
    CH_EXT,     /* an extension, up to CR */
    CH_SIZE_LF, /* the LF of a size line */
    CH_DATA,    /* chunk bytes */
    CH_DATA_CR, /* the CR after a chunk's bytes */
    CH_DATA_LF, /* its LF */
    CH_TRAILER, /* the start of a trailer line, or the final CRLF */
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_END_LF, /* the LF of the final CRLF */
    CH_DONE,
};

void weft_http_chunked_init(weft_http_chunked *c)
{
    memset(c, 0, sizeof *c);
    c->state = CH_SIZE;
}

static int chunk_error(weft_http_chunked *c, int err, const char *why)
{
    c->error = why;
    return err;
}

static int hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = lower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

int weft_http_chunked_decode(weft_http_chunked *c, char *buf, size_t *len, size_t *used)
{
    size_t r = 0, w = 0, n = *len;
    int rc = 0;
    while (r < n && c->state != CH_DONE) {
        char ch = buf[r];
        switch (c->state) {
        case CH_DATA: {
            size_t take = n - r < c->left ? n - r : (size_t)c->left;
            memmove(buf + w, buf + r, take);
            w += take;
            r += take;
            c->left -= take;
            if (!c->left)
                c->state = CH_DATA_CR;
            continue;
        }
        case CH_SIZE: {
            int d = hex(ch);
            if (d >= 0) {
                if (c->left > (UINT64_MAX >> 4))
                    return chunk_error(c, -EPROTO, "a chunk size that overflows 64 bits");
                c->left = c->left << 4 | (uint64_t)d;
                c->digits = true;
                break;
            }
            if (!c->digits)
                return chunk_error(c, -EPROTO, "a chunk size that is not hexadecimal");
            c->state = CH_SIZE_WS;
            continue; /* look at this byte again */
        }
        case CH_SIZE_WS:
            if (ch == ';') {
                c->state = CH_EXT;
                break;
            }
            if (ch == '\r') {
                c->state = CH_SIZE_LF;
                r++;
                continue; /* the CR is not the line's */
            }
            if (ch != ' ' && ch != '\t')
                return chunk_error(c, -EPROTO, "text after a chunk size that is not an extension");
            break;
        case CH_EXT:
            if (ch == '\r') {
                c->state = CH_SIZE_LF;
                r++;
                continue;
            }
            if (is_ctl((unsigned char)ch))
                return chunk_error(c, -EPROTO, "a control character in a chunk size line");
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                return chunk_error(c, -EPROTO, "a chunk size line without CRLF");
            c->line = 0;
            c->digits = false;
            c->state = c->left ? CH_DATA : CH_TRAILER;
            r++;
            continue;
        case CH_DATA_CR:
            if (ch != '\r')
                return chunk_error(c, -EPROTO, "a chunk not followed by CRLF");
            c->state = CH_DATA_LF;
            r++;
            continue;
        case CH_DATA_LF:
            if (ch != '\n')
                return chunk_error(c, -EPROTO, "a chunk not followed by CRLF");
            c->line = 0;
            c->state = CH_SIZE;
            r++;
            continue;
        case CH_TRAILER:
            if (ch == '\r') {
                c->state = CH_END_LF;
                r++;
                continue;
            }
            c->state = CH_TRAILER_LINE;
            continue;
        case CH_TRAILER_LINE:
            if (ch == '\r') {
                c->state = CH_TRAILER_LF;
                r++;
                continue;
            }
            if (is_ctl((unsigned char)ch))
                return chunk_error(c, -EPROTO, "a control character in a trailer");
            break;
        case CH_TRAILER_LF:
            if (ch != '\n')
                return chunk_error(c, -EPROTO, "a trailer line without CRLF");
            c->line = 0;
            c->state = CH_TRAILER;
            r++;
            continue;
        case CH_END_LF:
            if (ch != '\n')
                return chunk_error(c, -EPROTO, "a body that does not end with CRLF");
            c->state = CH_DONE;
            r++;
            continue;
        }
        /* A byte of a size, extension or trailer line. */
        if (++c->line > WEFT_HTTP_MAX_LINE)
            return chunk_error(c, -E2BIG, "a chunk size or trailer line longer than 64 KiB");
        r++;
    }
    if (c->state == CH_DONE)
        rc = 1;
    c->consumed += r;
    *len = w;
    *used = r;
    return rc;
}

/* ---- writing heads ------------------------------------------------------------------- */

/* Appends to a bounded buffer; remembers running out. */
typedef struct out {
    char *buf;
    size_t cap, len;
    bool full;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->full || n > o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static bool headers_ok(const weft_http_header *headers, size_t n)
{
    if (n && !headers)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!weft_http_token_ok(headers[k].name, headers[k].name_len) ||
            !weft_http_value_ok(headers[k].value, headers[k].value_len))
            return false;
    return true;
}

static int finish_head(out *o, const weft_http_header *headers, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        put(o, headers[k].name, headers[k].name_len);
        put(o, ": ", 2);
        put(o, headers[k].value, headers[k].value_len);
        put(o, "\r\n", 2);
    }
    put(o, "\r\n", 2);
    if (o->full)
        return -ENOSPC;
    return o->len > INT32_MAX ? -ENOSPC : (int)o->len;
}

int weft_http_write_request(char *buf, size_t cap, const char *method, const char *target,
                            const weft_http_header *headers, size_t n)
{
    if ((!buf && cap) || !method || !target)
        return -EINVAL;
    size_t mlen = strlen(method), tlen = strlen(target);
    if (!weft_http_token_ok(method, mlen) || !tlen || !headers_ok(headers, n))
        return -EINVAL;
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)target[i] <= 0x20 || target[i] == 0x7F)
            return -EINVAL;
    out o = {buf, cap, 0, false};
    put(&o, method, mlen);
    put(&o, " ", 1);
    put(&o, target, tlen);
    put(&o, " HTTP/1.1\r\n", 11);
    return finish_head(&o, headers, n);
}

int weft_http_write_response(char *buf, size_t cap, int status, const char *reason,
                             const weft_http_header *headers, size_t n)
{
    if (!reason)
        reason = "";
    size_t rlen = strlen(reason);
    if ((!buf && cap) || status < 100 || status > 999 || !weft_http_value_ok(reason, rlen) ||
        !headers_ok(headers, n))
        return -EINVAL;
    char line[16];
    memcpy(line, "HTTP/1.1 ", 9);
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    line[12] = ' ';
    out o = {buf, cap, 0, false};
    put(&o, line, 13);
    put(&o, reason, rlen);
    put(&o, "\r\n", 2);
    return finish_head(&o, headers, n);
}
