/* weft/http.h: HTTP/1.1 messages (RFC 9112): a strict, incremental parser
 * for request and response heads, a chunked-body decoder, and a head
 * writer that refuses what could split a message. The client and the
 * server (`weft fetch`, `weft serve`) are built on these; the parser and
 * the writer need no loop and may be used on their own.
 *
 * Parsing a head. Bytes arrive in pieces; the caller keeps them in one
 * buffer and calls weft_http_parse_head() on all of it each time more
 * arrive, until it stops returning -EAGAIN. The parser remembers how far
 * it has checked (its `scanned` field), so a head that arrives a byte at a
 * time costs linear time, and the result does not depend on how the input
 * was split. Names, values, the method, the target and the reason point
 * into the caller's buffer: they stay valid while the buffer does not
 * move.
 *
 * Strictness (each refusal is -EPROTO with the reason in `error` and the
 * byte offset in `error_at`): control characters (other than tab in a
 * value) in the method, target, reason or header lines; a method or a
 * header name that is not a token; a version other than HTTP/1.0 or 1.1;
 * a header line over WEFT_HTTP_MAX_LINE bytes or more than
 * WEFT_HTTP_MAX_HEADERS headers (-E2BIG); obsolete line folding; a bare
 * CR; Transfer-Encoding together with Content-Length; a transfer coding
 * other than a single "chunked"; Content-Length values that are not
 * digits, overflow or disagree. Lines end with CRLF: a bare LF is
 * refused like a bare CR (RFC 9112 allows either choice; one rule for
 * heads and chunks leaves no two readers disagreeing on a line's end).
 *
 * Thread-safety: a parser or decoder belongs to one thread at a time; the
 * writer functions may be called from any thread. */
#ifndef WEFT_HTTP_H
#define WEFT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/net.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    WEFT_HTTP_MAX_HEADERS = 100, /* headers in one head */
    WEFT_HTTP_MAX_LINE = 65536,  /* bytes in one line, its CRLF excluded */
};

typedef struct weft_http_header {
    const char *name, *value; /* the value without surrounding spaces */
    size_t name_len, value_len;
} weft_http_header;

/* How the body that follows a head is delimited. */
typedef enum weft_http_body {
    WEFT_HTTP_BODY_NONE,       /* no body (a request without length, 1xx/204/304, HEAD) */
    WEFT_HTTP_BODY_LENGTH,     /* content_length bytes */
    WEFT_HTTP_BODY_CHUNKED,    /* chunks: see weft_http_chunked */
    WEFT_HTTP_BODY_UNTIL_CLOSE /* a response read until the connection closes */
} weft_http_body;

typedef struct weft_http_head {
    /* A request's line. */
    const char *method, *target;
    size_t method_len, target_len;
    /* A response's line. */
    int status;
    const char *reason;
    size_t reason_len;
    int minor_version; /* HTTP/1.<minor_version> */
    weft_http_header headers[WEFT_HTTP_MAX_HEADERS];
    size_t nheaders;
    /* Decided from the headers. */
    weft_http_body body;
    uint64_t content_length; /* WEFT_HTTP_BODY_LENGTH */
    bool keep_alive;         /* the connection may carry another message */
    bool expect_continue;    /* a request with "Expect: 100-continue" */
    /* Parser state: zero it (or call weft_http_head_reset) before the
     * first call for a message. */
    size_t scanned;    /* bytes known to hold no end of head */
    size_t line_start; /* where the line being scanned starts */
    size_t skipped;    /* bytes of an empty line before a request line */
    size_t lines;      /* complete lines so far */
    const char *error; /* why the last call failed, in words */
    size_t error_at;   /* where (a byte offset in the buffer) */
} weft_http_head;

/* weft_http_head_reset: make h ready to parse a new message.
 * Returns: nothing. Thread-safety: h's thread. */
void weft_http_head_reset(weft_http_head *h);

/* weft_http_parse_head: parse a request head (request true) or a
 * response head from buf[0..len), which holds everything received so far
 * for this message. For a response, request_method is the method of the
 * request it answers (a HEAD gets no body; NULL counts as GET).
 * Returns: the head's length in bytes (the body starts there) and h
 *          filled in.
 * Errors: -EAGAIN (the head is not complete: call again with more bytes),
 *         -EPROTO (malformed; h->error and h->error_at say why and where),
 *         -E2BIG (a line or the header count over the limits).
 * Ownership: h points into buf. Thread-safety: h's thread. */
int weft_http_parse_head(weft_http_head *h, bool request, const char *request_method,
                         const char *buf, size_t len);

/* weft_http_header_get: the first header named name (case insensitive).
 * Returns: its value (not NUL-terminated; *len, if not NULL, gets its
 *          length), or NULL if there is none. Errors: none.
 * Ownership: the value points into the buffer h was parsed from.
 * Thread-safety: any thread, h not being parsed. */
const char *weft_http_header_get(const weft_http_head *h, const char *name, size_t *len);

/* ---- chunked bodies -------------------------------------------------------------------- */

/* A decoder for Transfer-Encoding: chunked: it turns the wire bytes into
 * the body's bytes, in place, however the input is split. Chunk
 * extensions are skipped; trailers are read and dropped. */
typedef struct weft_http_chunked {
    int state;
    uint64_t left;     /* bytes of the current chunk still to come */
    size_t line;       /* bytes of the current size or trailer line */
    bool digits;       /* the size line has a digit */
    uint64_t consumed; /* wire bytes taken so far (for error offsets) */
    const char *error; /* why it failed, in words */
} weft_http_chunked;

/* weft_http_chunked_init: ready to decode a new body.
 * Returns: nothing (it cannot fail). Thread-safety: c's thread. */
void weft_http_chunked_init(weft_http_chunked *c);

/* weft_http_chunked_decode: decode buf[0..*len): on return buf[0..*len)
 * holds the body bytes they carried (never more than came in), and
 * *used how many wire bytes were consumed (fewer than came in only at
 * the end of the body: the rest belongs to the next message).
 * Returns: 1 when the body is complete, 0 when more is needed.
 * Errors: -EPROTO (c->error says why: a size that is not hex or
 *         overflows 64 bits, a missing CRLF after a chunk, a control
 *         character in an extension or trailer), -E2BIG (a size,
 *         extension or trailer line over WEFT_HTTP_MAX_LINE).
 * Thread-safety: c's thread. */
int weft_http_chunked_decode(weft_http_chunked *c, char *buf, size_t *len, size_t *used);

/* ---- writing heads ------------------------------------------------------------------ */

/* weft_http_token_ok: is s[0..len) a non-empty token (a method or a
 * header name: RFC 9110 tchar)?
 * Returns: true or false (NULL: false). Thread-safety: any thread. */
bool weft_http_token_ok(const char *s, size_t len);

/* weft_http_value_ok: may s[0..len) be written as a header value or a
 * reason: no CR, LF, NUL or other control character but tab (so a
 * caller's string can never end a line or start a header)?
 * Returns: true or false. Thread-safety: any thread. */
bool weft_http_value_ok(const char *s, size_t len);

/* weft_http_write_request: a request head into buf[0..cap): the line
 * "METHOD TARGET HTTP/1.1", the n headers, and the empty line. Every part
 * is checked first, so a caller's string can never end a line or add a
 * header: the method and the names must be tokens, the target must be
 * non-empty without spaces or control characters, the values must pass
 * weft_http_value_ok.
 * Returns: the head's length (nothing else is written: no terminating
 *          NUL).
 * Errors: -EINVAL (a part that fails its check; nothing written),
 *         -ENOSPC (cap too small; buf's contents are unspecified).
 * Thread-safety: any thread. */
int weft_http_write_request(char *buf, size_t cap, const char *method, const char *target,
                            const weft_http_header *headers, size_t n);

/* weft_http_write_response: a response head into buf[0..cap): the line
 * "HTTP/1.1 STATUS REASON", the n headers, the empty line. status is 100
 * to 999; reason (NULL: empty) and the values must pass
 * weft_http_value_ok, the names must be tokens.
 * Returns: the head's length. Errors: -EINVAL, -ENOSPC, as above.
 * Thread-safety: any thread. */
int weft_http_write_response(char *buf, size_t cap, int status, const char *reason,
                             const weft_http_header *headers, size_t n);

/* ---- the server --------------------------------------------------------------------- */
/* An HTTP/1.1 server on weft's event loop: one task per connection,
 * keep-alive and pipelining, routes to handlers that run in the
 * connection's task (they may wait: read files, call other servers),
 * static files, limits and timeouts, and a graceful shutdown.
 *
 * A connection's life, numbered as the code runs:
 *   1. Wait for the first byte of a request, up to idle_timeout (then the
 *      connection is closed without a word).
 *   2. Read the head; all of it must arrive within header_timeout of its
 *      first byte (a slowloris client gets 408 and is closed). A bad head
 *      gets 400, an oversized one 431; so does an HTTP/1.1 request without
 *      exactly one Host header (400).
 *   3. Read the body, Content-Length or chunked, up to max_body (else 413,
 *      before anything is read), each read within header_timeout; an
 *      HTTP/1.1 "Expect: 100-continue" gets its interim response first.
 *   4. Call the handler of the first matching route (404 if none, 405 if
 *      the path matches but not the method); a handler that returns without
 *      replying makes a 500.
 *   5. Keep the connection for the next request unless either side said
 *      close, the request was HTTP/1.0 without keep-alive, or the server is
 *      shutting down.
 * Shutdown (weft_http_server_shutdown): the accept loop stops; connections
 * waiting in step 1 are closed at once; the others finish the request in
 * flight, reply with "Connection: close" and close; at the deadline, those
 * still running are cancelled and closed without a reply. */

typedef struct weft_http_server weft_http_server;

typedef struct weft_http_server_opts {
    size_t max_body;        /* bytes of a request body; 0: 1 MiB */
    int64_t header_timeout; /* ns for a head once it started; 0: 10 s */
    int64_t idle_timeout;   /* ns between requests of a connection; 0: 60 s */
    size_t max_connections; /* more wait in the listen backlog; 0: 10000 */
    const char *server;     /* the Server header (weft_http_value_ok); NULL: "weft" */
} weft_http_server_opts;

/* A request as a handler sees it; valid during the handler's call. */
typedef struct weft_http_request {
    const weft_http_head *head; /* method, target, headers */
    const char *path;           /* the target's path (before '?'), NUL-terminated */
    const char *query;          /* after '?', NUL-terminated ("" if none) */
    const char *body;           /* the whole body (chunked bodies decoded) */
    size_t body_len;
    const weft_addr *peer;
} weft_http_request;

/* Where a handler writes its one reply. */
typedef struct weft_http_reply weft_http_reply;

/* A handler: reply (weft_http_reply_send) and return 0, or return a
 * negative error: the connection is then closed (with a 500 if nothing
 * was sent). Runs in the connection's task. */
typedef int weft_http_handler(void *arg, const weft_http_request *req, weft_http_reply *reply);

/* weft_http_server_create: a server with no route.
 * Returns: 0 and *out. Errors: -EINVAL (out NULL, or a server name that
 *         could split a head), -ENOMEM.
 * Ownership: the caller owns *out (weft_http_server_destroy); opts is
 * copied. Thread-safety: any thread. */
int weft_http_server_create(weft_http_server **out, const weft_http_server_opts *opts);

/* weft_http_server_destroy: free s, which must not be serving. NULL is
 * ignored. Returns: nothing. Ownership: s is consumed. Thread-safety: any thread, after weft_http_server_serve has
 * returned. */
void weft_http_server_destroy(weft_http_server *s);

/* weft_http_server_route: requests with this method (NULL: any) whose path
 * starts with prefix ("/" matches everything) go to fn(arg). Routes are
 * tried in the order they were added, on the path as sent (before
 * percent-decoding: a route that guards "/private" does not see
 * "/%70rivate").
 * Returns: 0. Errors: -EINVAL (s, prefix or fn NULL, or a prefix not
 *          starting with '/'), -EBUSY (serving), -ENOMEM.
 * Ownership: prefix and method are copied; arg is borrowed while s lives.
 * Thread-safety: s's owner, before serving. */
int weft_http_server_route(weft_http_server *s, const char *method, const char *prefix,
                           weft_http_handler *fn, void *arg);

/* weft_http_server_static: GET and HEAD of paths under prefix are files
 * of directory dir (a directory's index.html). The path is
 * percent-decoded; a "." or ".." segment, an empty segment ("//"), a
 * control byte (NUL included) or a bad escape is refused (400); names
 * starting with '.' (.git, .env) are not served (404). Files are opened
 * beneath dir (openat2 RESOLVE_BENEATH: a symbolic link inside the tree
 * is followed, one that leads out is not; without openat2, no link is
 * followed), and only regular files are served; a file over 64 KiB goes
 * out in 64 KiB blocks.
 * Returns: 0. Errors: as weft_http_server_route; -ENOENT (dir is not a
 *          directory), open's errors (-EACCES, ...).
 * Ownership: prefix is copied; dir is opened now and its descriptor kept
 *            until weft_http_server_destroy.
 * Thread-safety: s's owner, before serving. */
int weft_http_server_static(weft_http_server *s, const char *prefix, const char *dir);

/* weft_http_server_serve: accept connections on listen_fd and serve them
 * until weft_http_server_shutdown (or the task is cancelled: then as a
 * shutdown with no grace).
 * Returns: 0 after a shutdown, once every connection is closed.
 * Errors: -EBUSY (already serving), -EPERM (not in a task), accept's
 *         errors other than those of a single connection.
 * Ownership: listen_fd stays the caller's. Thread-safety: in a task. */
int weft_http_server_serve(weft_http_server *s, int listen_fd);

/* weft_http_server_shutdown: stop s (see "Shutdown" above); connections
 * still running at deadline are cancelled. Does not wait: serve returns
 * when the last connection is closed. Called before serve, it makes the
 * next serve return at once.
 * Returns: 0. Errors: -EINVAL (s NULL). Thread-safety: a task of the loop
 * that serves (a signal-waiting task, a handler). */
int weft_http_server_shutdown(weft_http_server *s, int64_t deadline);

/* weft_http_server_stats_get: the counters since creation into *out.
 * Returns: nothing (s or out NULL: nothing is written). Errors: none.
 * Thread-safety: a task of the serving loop, or any thread once serve has
 * returned. */
typedef struct weft_http_server_stats {
    uint64_t connections, requests, responses_4xx, responses_5xx, timeouts;
} weft_http_server_stats;
void weft_http_server_stats_get(const weft_http_server *s, weft_http_server_stats *out);

/* weft_http_reply_send: the reply: status (200 to 999: interim answers
 * are the server's), headers (no Content-Length, Transfer-Encoding or
 * Connection: the server writes those), and body (for HEAD only its
 * length is sent; 204 and 304 take none and get no length). One reply per
 * request.
 * Returns: 0. Errors: -EINVAL (a status, header or body refused as above
 *          or by weft_http_write_response), -EALREADY (replied already),
 *          the write's errors (-EPIPE; -ETIMEDOUT: a write made no
 *          progress for header_timeout).
 * Ownership: headers and body are borrowed for the call.
 * Thread-safety: in the handler's task. */
int weft_http_reply_send(weft_http_reply *r, int status, const weft_http_header *headers, size_t n,
                         const void *body, size_t len);

/* ---- the client ------------------------------------------------------------------------ */
/* An HTTP/1.1 client for loop tasks: keep-alive connections pooled per
 * host, limits on connections in flight (all hosts, and per host: a
 * request waits for a slot), a connect timeout, redirects with a limit,
 * retries with exponential backoff and full jitter for idempotent
 * requests, and one absolute deadline over the whole request (lookups,
 * slot waits, connects, TLS handshakes, retries and redirects included).
 * URLs are "http[s]://host[:port][/path][?query]" (host may be [IPv6]);
 * https goes through weft/tls.h, verifying the server's certificate and
 * name against the system's trust store or ca_file.
 *
 * A request, numbered as the code runs:
 *   1. Take a slot (global, then the host's), then a pooled idle
 *      connection to the host, or connect.
 *   2. Write the head (Host, User-Agent, Content-Length for a body, the
 *      caller's headers after the checks of weft_http_write_request) and
 *      the body.
 *   3. Read the head and the body (Content-Length, chunked, or until
 *      close), at most max_body bytes.
 *   4. A connection that may carry another request goes back to the pool;
 *      a pooled connection that the server had closed (no byte of a
 *      response came back) is replaced once, without counting a retry.
 *   5. A 301, 302, 303, 307 or 308 with a Location is followed (303, and
 *      301/302 after a POST, become GET without a body), up to
 *      max_redirects (then -ELOOP).
 *   6. A failure to connect or a connection lost, and 502, 503 and 504
 *      answers, are retried for GET, HEAD, PUT, DELETE and OPTIONS, up to
 *      `retries` times, after a random pause in [0, retry_base * 2^k).
 *
 * Thread-safety: a client belongs to the tasks of one loop. */

typedef struct weft_http_client weft_http_client;

typedef struct weft_http_client_opts {
    size_t max_connections;  /* connections in use, all hosts; 0: 100 */
    size_t max_per_host;     /* in use per host; 0: max_connections */
    int64_t connect_timeout; /* ns; 0: 10 s */
    int max_redirects;       /* 0: 10; negative: none followed */
    int retries;             /* 0: none; see step 6 */
    int64_t retry_base;      /* ns; 0: 100 ms */
    size_t max_body;         /* bytes of a response body; 0: 64 MiB */
    int64_t idle_timeout;    /* a pooled connection idle longer is closed; 0: 30 s */
    const char *user_agent;  /* NULL: "weft" */
    const char *ca_file;     /* https: PEM certificates to trust; NULL: the system's */
    bool insecure;           /* https: no certificate verification at all */
} weft_http_client_opts;

typedef struct weft_http_response {
    int status;
    weft_http_head head; /* the final response's head */
    char *body;          /* the body (NUL-terminated for convenience) */
    size_t body_len;
    char *url;              /* the final URL, after redirects */
    int redirects, retries; /* followed, and made */
    bool reused;            /* the final response came on a pooled connection */
    const char *error;      /* on -EPROTO: what was wrong, in words */
    char *raw_;             /* private: the bytes the head points into */
} weft_http_response;

/* weft_http_client_create: a client with an empty pool.
 * Returns: 0 and *out. Errors: -EINVAL (out NULL), -ENOMEM.
 * Ownership: the caller owns *out (weft_http_client_destroy); opts is
 * copied (user_agent and ca_file are borrowed while the client lives).
 * Thread-safety: any thread. */
int weft_http_client_create(weft_http_client **out, const weft_http_client_opts *opts);

/* weft_http_client_destroy: close the pooled connections and free c. No
 * request may be running. NULL is ignored. Returns: nothing. Ownership: c
 * is consumed. Thread-safety: a task of the
 * client's loop, or any thread once that loop no longer runs. */
void weft_http_client_destroy(weft_http_client *c);

/* weft_http_client_request: method url, with n headers and len bytes of body,
 * all before deadline; see the steps above.
 * Returns: 0 and *out (any status: a 404 is a response, not an error).
 * Errors: -EINVAL (a bad method, header or URL), -EPROTONOSUPPORT (not
 *         http or https), -ENOTSUP (https where weft has no TLS), -ETIMEDOUT, -ECANCELED, connect
 * and lookup errors
 *         (-ECONNREFUSED, WEFT_EAI_NONAME, ...), -ECONNRESET or -EPIPE (the
 *         connection was lost), -EPROTO (a malformed response, or a TLS
 *         handshake that failed, as a certificate that does not verify:
 *         out->error says what), -E2BIG (a head over the parser's limits or a body
 *         over max_body), -ELOOP (too many redirects). On an error *out
 *         holds no memory (out->error may still be set).
 * Ownership: *out owns its memory (weft_http_response_free).
 * Thread-safety: tasks of the client's loop. */
int weft_http_client_request(weft_http_client *c, const char *method, const char *url,
                             const weft_http_header *headers, size_t n, const void *body,
                             size_t len, int64_t deadline, weft_http_response *out);

/* weft_http_response_free: free what *r holds (r itself is the caller's).
 * NULL is ignored. Thread-safety: any thread. */
void weft_http_response_free(weft_http_response *r);

/* weft_http_client_stats_get: the counters since creation into *out.
 * Returns: nothing (c or out NULL: nothing is written). Errors: none.
 * Thread-safety: a task of the client's loop, or any thread once that
 * loop no longer runs. */
typedef struct weft_http_client_stats {
    uint64_t requests, connects, reused, redirects, retries;
} weft_http_client_stats;
void weft_http_client_stats_get(const weft_http_client *c, weft_http_client_stats *out);

#ifdef __cplusplus
}
#endif
#endif
