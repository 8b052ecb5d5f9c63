/* The HTTP/1.1 client: see include/weft/http.h for the contract (the
 * numbered steps of a request).
 *
 * The pool. Hosts ("host:port") are kept in a list, each with its idle
 * connections (a stack: the most recently used first, so that the warm
 * ones are reused and the cold ones age out) and a semaphore for its
 * in-use limit; a client-wide semaphore bounds all hosts together. The
 * semaphores suspend the task, not the thread (weft/sync.h).
 *
 * Synchronization: a client belongs to one loop; its tasks run one at a
 * time on that loop's thread, so the pool needs no lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/http.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/sync.h>
#include <weft/time.h>
#include <weft/tls.h>

enum { HEAD_LIMIT = 256 << 10, FIRST_BUF = 16 << 10 };

/* A connection: the socket, and its TLS session for https. */
typedef struct stream {
    int fd;
    weft_tls *tls;
} stream;

static int stream_read(stream *s, void *buf, size_t n, int64_t deadline)
{
    return s->tls ? weft_tls_read(s->tls, buf, n, deadline) : weft_read(s->fd, buf, n, deadline);
}

static int stream_write_all(stream *s, const void *buf, size_t n, int64_t deadline)
{
    return s->tls ? weft_tls_write_all(s->tls, buf, n, deadline)
                  : weft_write_all(s->fd, buf, n, deadline, NULL);
}

static void stream_close(stream *s)
{
    weft_tls_destroy(s->tls);
    weft_close(s->fd);
}

typedef struct idle_conn {
    stream s;
    int64_t since;
    struct idle_conn *next;
} idle_conn;

typedef struct host {
    char *key; /* "host:port" */
    weft_sem sem;
    idle_conn *idle;
    struct host *next;
} host;

struct weft_http_client {
    weft_http_client_opts o;
    weft_tls_ctx *tls; /* made at the first https request */
    weft_sem sem;
    host *hosts;
    uint64_t rng;
    weft_http_client_stats stats;
};

/* ---- set-up ------------------------------------------------------------------------------- */

int weft_http_client_create(weft_http_client **out, const weft_http_client_opts *opts)
{
    if (!out)
        return -EINVAL;
    weft_http_client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    if (opts)
        c->o = *opts;
    if (!c->o.max_connections)
        c->o.max_connections = 100;
    if (!c->o.max_per_host || c->o.max_per_host > c->o.max_connections)
        c->o.max_per_host = c->o.max_connections;
    if (c->o.max_connections > WEFT_SEM_MAX)
        c->o.max_connections = c->o.max_per_host = WEFT_SEM_MAX;
    if (c->o.connect_timeout <= 0)
        c->o.connect_timeout = 10 * WEFT_SEC;
    if (!c->o.max_redirects)
        c->o.max_redirects = 10;
    if (c->o.retries < 0)
        c->o.retries = 0;
    if (c->o.retry_base <= 0)
        c->o.retry_base = 100 * WEFT_MSEC;
    if (!c->o.max_body)
        c->o.max_body = (size_t)64 << 20;
    if (c->o.idle_timeout <= 0)
        c->o.idle_timeout = 30 * WEFT_SEC;
    if (!c->o.user_agent)
        c->o.user_agent = "weft";
    weft_sem_init(&c->sem, (uint32_t)c->o.max_connections);
    c->rng = (uint64_t)weft_now() | 1;
    *out = c;
    return 0;
}

void weft_http_client_destroy(weft_http_client *c)
{
    if (!c)
        return;
    for (host *h = c->hosts, *next; h; h = next) {
        next = h->next;
        for (idle_conn *i = h->idle, *in; i; i = in) {
            in = i->next;
            stream_close(&i->s);
            free(i);
        }
        free(h->key);
        free(h);
    }
    weft_tls_ctx_destroy(c->tls);
    free(c);
}

void weft_http_client_stats_get(const weft_http_client *c, weft_http_client_stats *out)
{
    if (c && out)
        *out = c->stats;
}

void weft_http_response_free(weft_http_response *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->url);
    free(r->raw_);
    r->body = r->url = r->raw_ = NULL;
}

/* ---- URLs ----------------------------------------------------------------------------------- */

typedef struct url {
    bool tls; /* https */
    char host[256], port[8];
    const char *path; /* "/..." (points into the URL), or "/" */
} url;

static int parse_url(const char *s, url *u)
{
    u->tls = strncasecmp(s, "https://", 8) == 0;
    if (!u->tls && strncasecmp(s, "http://", 7) != 0)
        return strstr(s, "://") ? -EPROTONOSUPPORT : -EINVAL;
    const char *h = s + (u->tls ? 8 : 7), *end = h + strcspn(h, "/?#");
    const char *colon = NULL;
    size_t hlen;
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close)
            return -EINVAL;
        hlen = (size_t)(close - h - 1);
        if (hlen >= sizeof u->host)
            return -EINVAL;
        memcpy(u->host, h + 1, hlen);
        u->host[hlen] = 0;
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
        if (close + 1 < end && !colon)
            return -EINVAL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        hlen = (size_t)((colon ? colon : end) - h);
        if (!hlen || hlen >= sizeof u->host)
            return -EINVAL;
        memcpy(u->host, h, hlen);
        u->host[hlen] = 0;
    }
    if (strchr(u->host, '@'))
        return -EINVAL; /* user information is not sent */
    strcpy(u->port, u->tls ? "443" : "80");
    if (colon) {
        size_t plen = (size_t)(end - colon - 1);
        if (!plen || plen > 5 || strspn(colon + 1, "0123456789") < plen)
            return -EINVAL;
        memcpy(u->port, colon + 1, plen);
        u->port[plen] = 0;
    }
    u->path = *end == '/' ? end : *end == '?' ? end : "/";
    return 0;
}

/* The target to send: the path and query, the fragment dropped, "/" if
 * empty; a query without path gets one. */
static int target_of(const url *u, char *buf, size_t cap)
{
    size_t len = strcspn(u->path, "#");
    int n = snprintf(buf, cap, "%s%.*s", u->path[0] == '?' ? "/" : "", (int)len, u->path);
    return n < 0 || (size_t)n >= cap ? -EINVAL : 0;
}

/* Location against the URL it answered: absolute, or a path. */
static char *resolve(const char *base, const char *loc, size_t loc_len)
{
    char *out;
    if (loc_len >= 7 &&
        (strncasecmp(loc, "http://", 7) == 0 || strncasecmp(loc, "https://", 8) == 0)) {
        out = malloc(loc_len + 1);
        if (out) {
            memcpy(out, loc, loc_len);
            out[loc_len] = 0;
        }
        return out;
    }
    /* scheme://authority of base, then the path (relative to base's
     * directory when it does not start with '/'). */
    const char *auth = strstr(base, "://") + 3;
    size_t origin = (size_t)(auth - base) + strcspn(auth, "/?#");
    size_t dir = origin;
    if (loc_len && loc[0] != '/') {
        const char *path = base + origin, *q = path + strcspn(path, "?#");
        for (const char *p = path; p < q; p++)
            if (*p == '/')
                dir = (size_t)(p - base) + 1;
    }
    out = malloc(dir + loc_len + 2);
    if (!out)
        return NULL;
    memcpy(out, base, dir);
    size_t n = dir;
    if (loc_len && loc[0] != '/' && (n == origin))
        out[n++] = '/';
    memcpy(out + n, loc, loc_len);
    out[n + loc_len] = 0;
    return out;
}

/* ---- connections ------------------------------------------------------------------------- */

static host *host_of(weft_http_client *c, const url *u)
{
    char key[300];
    snprintf(key, sizeof key, "%s:%s:%s", u->tls ? "https" : "http", u->host, u->port);
    for (host *h = c->hosts; h; h = h->next)
        if (!strcmp(h->key, key))
            return h;
    host *h = calloc(1, sizeof *h);
    if (!h || !(h->key = strdup(key))) {
        free(h);
        return NULL;
    }
    weft_sem_init(&h->sem, (uint32_t)c->o.max_per_host);
    h->next = c->hosts;
    c->hosts = h;
    return h;
}

/* A connection to u: a pooled one (*reused) or a new one (with its TLS
 * handshake for https; *why says what failed there). */
static int get_conn(weft_http_client *c, host *h, const url *u, int64_t deadline, stream *out,
                    bool *reused, const char **why)
{
    int64_t now = weft_now();
    while (h->idle) {
        idle_conn *i = h->idle;
        h->idle = i->next;
        stream st = i->s;
        bool fresh = now - i->since < c->o.idle_timeout;
        free(i);
        if (fresh) {
            *out = st;
            *reused = true;
            return 0;
        }
        stream_close(&st);
    }
    *reused = false;
    int64_t cd = weft_deadline_in(c->o.connect_timeout);
    c->stats.connects++;
    int64_t d = cd < deadline || deadline < 0 ? cd : deadline;
    out->tls = NULL;
    int rc = weft_tcp_connect(u->host, u->port, d, &out->fd);
    if (rc < 0 || !u->tls)
        return rc;
    if (!c->tls) {
        weft_tls_client_opts to = {.ca_file = c->o.ca_file, .insecure = c->o.insecure};
        rc = weft_tls_ctx_client(&c->tls, &to);
    }
    if (rc == 0)
        rc = weft_tls_connect(c->tls, out->fd, u->host, d, &out->tls);
    if (rc < 0) {
        *why = weft_tls_error(NULL);
        weft_close(out->fd);
    }
    return rc;
}

static void put_conn(host *h, stream *st)
{
    idle_conn *i = malloc(sizeof *i);
    if (!i) {
        stream_close(st);
        return;
    }
    *i = (idle_conn){*st, weft_now(), h->idle};
    h->idle = i;
}

/* ---- one exchange ------------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int read_more(stream *st, buf *b, size_t limit, int64_t deadline)
{
    if (b->len == b->cap) {
        if (b->cap >= limit)
            return -E2BIG;
        size_t cap = b->cap ? b->cap * 2 : FIRST_BUF;
        char *p = realloc(b->p, cap > limit ? limit : cap);
        if (!p)
            return -ENOMEM;
        b->p = p;
        b->cap = cap > limit ? limit : cap;
    }
    int n = stream_read(st, b->p + b->len, b->cap - b->len, deadline);
    if (n > 0)
        b->len += (size_t)n;
    return n;
}

/* Parse a response head from b, reading more from fd as needed. Returns
 * its length, or an error (a connection that ends first is -ECONNRESET if
 * nothing came, -EPROTO if a part of a head did); *nothing turns false
 * once a byte arrived. */
static int read_head(stream *st, buf *b, const char *method, int64_t deadline,
                     weft_http_response *out, bool *nothing)
{
    int hl;
    weft_http_head_reset(&out->head);
    while ((hl = weft_http_parse_head(&out->head, false, method, b->p, b->len)) == -EAGAIN) {
        int rc = read_more(st, b, HEAD_LIMIT, deadline);
        if (rc <= 0)
            return rc < 0 ? rc : b->len ? -EPROTO : -ECONNRESET;
        *nothing = false;
    }
    if (hl < 0)
        out->error = out->head.error;
    return hl;
}

/* Steps 2 and 3 on fd. Returns 0 (and whether fd may be kept), or an
 * error; *nothing tells whether no byte of a response came. */
static int exchange(weft_http_client *c, stream *st, const char *method, const url *u,
                    const weft_http_header *headers, size_t n, const void *body, size_t len,
                    int64_t deadline, weft_http_response *out, bool *keep, bool *nothing)
{
    *nothing = true;
    *keep = false;
    /* The head: ours first, then the caller's. */
    char target[8192];
    if (target_of(u, target, sizeof target) < 0)
        return -EINVAL;
    size_t hn = n + 3;
    weft_http_header *all = malloc(hn * sizeof *all);
    if (!all)
        return -ENOMEM;
    char hostval[300], lenval[24];
    bool default_port = !strcmp(u->port, u->tls ? "443" : "80");
    snprintf(hostval, sizeof hostval, "%s%s%s%s%s", strchr(u->host, ':') ? "[" : "", u->host,
             strchr(u->host, ':') ? "]" : "", default_port ? "" : ":", default_port ? "" : u->port);
    snprintf(lenval, sizeof lenval, "%zu", len);
    size_t k = 0;
    all[k++] = (weft_http_header){"Host", hostval, 4, strlen(hostval)};
    all[k++] = (weft_http_header){"User-Agent", c->o.user_agent, 10, strlen(c->o.user_agent)};
    bool has_body = len || !strcmp(method, "POST") || !strcmp(method, "PUT");
    if (has_body)
        all[k++] = (weft_http_header){"Content-Length", lenval, 14, strlen(lenval)};
    for (size_t i = 0; i < n; i++)
        all[k++] = headers[i];
    size_t cap = 512 + strlen(target) + strlen(method);
    for (size_t i = 0; i < k; i++)
        cap += all[i].name_len + all[i].value_len + 4;
    char *head = malloc(cap);
    int hl = head ? weft_http_write_request(head, cap, method, target, all, k) : -ENOMEM;
    free(all);
    int rc = hl < 0 ? hl : stream_write_all(st, head, (size_t)hl, deadline);
    free(head);
    if (rc == 0 && len)
        rc = stream_write_all(st, body, len, deadline);
    if (rc < 0)
        return rc;
    /* The response's head; 1xx interim answers are skipped. */
    buf b = {0};
    for (int interim = 0;; interim++) {
        hl = read_head(st, &b, method, deadline, out, nothing);
        if (hl < 0 || out->head.status >= 200 || interim == 10)
            break;
        memmove(b.p, b.p + hl, b.len - (size_t)hl);
        b.len -= (size_t)hl;
    }
    if (hl < 0) {
        free(b.p);
        return hl;
    }
    /* The body, after the head in the same buffer. */
    size_t limit = (size_t)hl + c->o.max_body, body_len = 0;
    rc = 0;
    switch (out->head.body) {
    case WEFT_HTTP_BODY_NONE:
        break;
    case WEFT_HTTP_BODY_LENGTH:
        if (out->head.content_length > c->o.max_body) {
            rc = -E2BIG;
            break;
        }
        body_len = (size_t)out->head.content_length;
        while (rc == 0 && b.len < (size_t)hl + body_len) {
            int r = read_more(st, &b, (size_t)hl + body_len, deadline);
            rc = r < 0 ? r : r == 0 ? -ECONNRESET : 0;
        }
        break;
    case WEFT_HTTP_BODY_UNTIL_CLOSE:
        for (;;) {
            int r = read_more(st, &b, limit, deadline);
            if (r <= 0) {
                rc = r;
                break;
            }
        }
        body_len = b.len - (size_t)hl;
        break;
    case WEFT_HTTP_BODY_CHUNKED: {
        weft_http_chunked ch;
        weft_http_chunked_init(&ch);
        size_t raw = (size_t)hl;
        for (;;) {
            size_t got = b.len - raw, used;
            int r = weft_http_chunked_decode(&ch, b.p + raw, &got, &used);
            if (r < 0) {
                out->error = ch.error;
                rc = r;
                break;
            }
            memmove(b.p + hl + body_len, b.p + raw, got);
            body_len += got;
            raw += used;
            if (body_len > c->o.max_body) {
                rc = -E2BIG;
                break;
            }
            if (r == 1)
                break;
            b.len = (size_t)hl + body_len;
            raw = b.len;
            r = read_more(st, &b, limit + FIRST_BUF, deadline);
            if (r <= 0) {
                rc = r == 0 ? -ECONNRESET : r;
                break;
            }
        }
        if (rc == 0)
            b.len = (size_t)hl + body_len + (b.len - raw); /* bytes after the body */
        break;
    }
    }
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    /* Anything past the body means the server is out of step: not kept. */
    *keep = out->head.keep_alive && b.len == (size_t)hl + body_len;
    out->body = malloc(body_len + 1);
    if (!out->body) {
        free(b.p);
        return -ENOMEM;
    }
    memcpy(out->body, b.p + hl, body_len);
    out->body[body_len] = 0;
    out->body_len = body_len;
    out->status = out->head.status;
    /* The buffer may have moved while the body came: the head is parsed
     * again where its bytes are now, and the response keeps them. */
    weft_http_head_reset(&out->head);
    weft_http_parse_head(&out->head, false, method, b.p, (size_t)hl);
    out->raw_ = b.p;
    return 0;
}

/* ---- a request ------------------------------------------------------------------------------ */

static bool idempotent(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") || !strcmp(m, "DELETE") ||
           !strcmp(m, "OPTIONS");
}

static bool retryable_error(int rc)
{
    return rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -EPIPE || rc == -ENETUNREACH ||
           rc == -EHOSTUNREACH || rc == -ECONNABORTED;
}

/* A random pause in [0, base * 2^k) (full jitter), cut at the deadline. */
static int backoff(weft_http_client *c, int k, int64_t deadline)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    int64_t span = c->o.retry_base << (k < 20 ? k : 20);
    int64_t until = weft_now() + (int64_t)(c->rng % (uint64_t)span);
    if (deadline >= 0 && until > deadline)
        return -ETIMEDOUT;
    return weft_sleep_until(until);
}

/* One URL, no redirect: steps 1 to 4. */
static int once(weft_http_client *c, const char *method, const char *u_str,
                const weft_http_header *headers, size_t n, const void *body, size_t len,
                int64_t deadline, weft_http_response *out)
{
    url u;
    int rc = parse_url(u_str, &u);
    if (rc < 0)
        return rc;
    host *h = host_of(c, &u);
    if (!h)
        return -ENOMEM;
    if ((rc = weft_sem_acquire(&c->sem, deadline)) < 0)
        return rc;
    if ((rc = weft_sem_acquire(&h->sem, deadline)) < 0) {
        weft_sem_release(&c->sem, 1);
        return rc;
    }
    for (int fresh_try = 0;; fresh_try++) {
        stream st;
        bool reused, keep, nothing;
        if ((rc = get_conn(c, h, &u, deadline, &st, &reused, &out->error)) < 0)
            break;
        rc = exchange(c, &st, method, &u, headers, n, body, len, deadline, out, &keep, &nothing);
        if (rc == 0 && keep)
            put_conn(h, &st);
        else
            stream_close(&st);
        if (rc == 0) {
            out->reused = reused;
            if (reused)
                c->stats.reused++;
            break;
        }
        /* Step 4: a pooled connection the server had closed. */
        if (!(reused && nothing && fresh_try == 0 && (rc == -ECONNRESET || rc == -EPIPE)))
            break;
    }
    weft_sem_release(&h->sem, 1);
    weft_sem_release(&c->sem, 1);
    return rc;
}

int weft_http_client_request(weft_http_client *c, const char *method, const char *url_str,
                             const weft_http_header *headers, size_t n, const void *body,
                             size_t len, int64_t deadline, weft_http_response *out)
{
    if (!c || !method || !url_str || !out || (n && !headers) || (len && !body))
        return -EINVAL;
    memset(out, 0, sizeof *out);
    c->stats.requests++;
    char *cur = strdup(url_str);
    if (!cur)
        return -ENOMEM;
    const char *m = method;
    int rc;
    for (int redirects = 0, retries = 0;;) {
        weft_http_response r = {0};
        rc = once(c, m, cur, headers, n, body, len, deadline, &r);
        bool retry = idempotent(m) && retries < c->o.retries &&
                     (retryable_error(rc) ||
                      (rc == 0 && (r.status == 502 || r.status == 503 || r.status == 504)));
        if (retry) {
            weft_http_response_free(&r);
            c->stats.retries++;
            if ((rc = backoff(c, retries++, deadline)) < 0)
                break;
            out->retries = retries;
            continue;
        }
        if (rc < 0) {
            out->error = r.error;
            weft_http_response_free(&r);
            break;
        }
        size_t loc_len;
        const char *loc = weft_http_header_get(&r.head, "location", &loc_len);
        bool redirect = loc && (r.status == 301 || r.status == 302 || r.status == 303 ||
                                r.status == 307 || r.status == 308);
        if (!redirect || c->o.max_redirects < 0) {
            int saved_retries = out->retries, saved_redirects = out->redirects;
            *out = r;
            out->retries = saved_retries;
            out->redirects = saved_redirects;
            out->url = cur;
            cur = NULL;
            break;
        }
        if (redirects >= c->o.max_redirects) {
            weft_http_response_free(&r);
            rc = -ELOOP;
            break;
        }
        char *next = resolve(cur, loc, loc_len);
        weft_http_response_free(&r);
        if (!next) {
            rc = -ENOMEM;
            break;
        }
        free(cur);
        cur = next;
        out->redirects = ++redirects;
        c->stats.redirects++;
        if (r.status == 303 || ((r.status == 301 || r.status == 302) && !strcmp(m, "POST"))) {
            m = "GET";
            body = NULL;
            len = 0;
        }
    }
    free(cur);
    return rc;
}
