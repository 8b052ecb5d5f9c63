/* The HTTP/1.1 server: see include/weft/http.h for the contract (the
 * numbered life of a connection, the shutdown).
 *
 * Tasks. weft_http_server_serve runs in the caller's task. It spawns the
 * acceptor (a task of its own, so that it can be cancelled without
 * cancelling serve) and a task per connection, in a task group whose wait
 * is serve's last step; connection tasks always return 0, so that one
 * connection's trouble never cancels its siblings. serve waits for the
 * stop future, which weft_http_server_shutdown completes; then it cancels
 * the acceptor, closes the idle connections, starts a reaper that cancels
 * what still runs at the shutdown's deadline, and waits for the group.
 *
 * Buffers. A connection reads into one buffer: the head, then the body
 * after it (a chunked body is decoded in place, the decoded bytes moved
 * down to follow the head), then whatever the client pipelined, which is
 * moved to the front for the next request. It grows up to the head limit
 * plus max_body.
 *
 * Synchronization: everything here runs on the serving loop's thread
 * (tasks of one loop never run at the same time), so the server's state
 * (the connection list, the flags, the counters) needs no lock. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <weft/future.h>
#include <weft/http.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/sync.h>
#include <weft/time.h>

enum {
    HEAD_LIMIT = 256 << 10, /* a head bigger than this gets 431 */
    FIRST_BUF = 16 << 10,
    FILE_BLOCK = 64 << 10,
    SMALL_REPLY = 64 << 10, /* head and body sent in one write below this */
};

typedef struct route {
    char *method, *prefix;
    size_t prefix_len;
    weft_http_handler *fn;
    void *arg;
    int dir_fd; /* static files: the directory, else -1 */
} route;

typedef struct conn {
    struct weft_http_server *s;
    int fd;
    weft_addr peer;
    weft_future *task;
    bool idle; /* waiting for a request's first byte */
    struct conn *prev, *next;
    char *buf;
    size_t len, cap;
    weft_http_head head;
    size_t head_len; /* of the head in buf being served; 0 between requests */
    char *target;    /* a NUL-terminated copy of the target, split at '?' */
    size_t target_cap;
} conn;

struct weft_http_server {
    weft_http_server_opts o;
    route *routes;
    size_t nroutes;
    bool serving, stopping;
    bool pending; /* a shutdown asked for before serve started */
    int64_t stop_deadline;
    weft_future *stop; /* completed by weft_http_server_shutdown */
    conn *conns;
    weft_sem slots; /* max_connections: the acceptor takes one per connection */
    weft_http_server_stats stats;
    char date[40]; /* "Date: ...\r\n", rewritten once a second */
    time_t date_at;
};

struct weft_http_reply {
    conn *c;
    bool sent, head_only, keep;
};

/* ---- set-up ---------------------------------------------------------------------------- */

int weft_http_server_create(weft_http_server **out, const weft_http_server_opts *opts)
{
    if (!out)
        return -EINVAL;
    weft_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    if (opts)
        s->o = *opts;
    if (!s->o.max_body)
        s->o.max_body = 1 << 20;
    if (s->o.header_timeout <= 0)
        s->o.header_timeout = 10 * WEFT_SEC;
    if (s->o.idle_timeout <= 0)
        s->o.idle_timeout = 60 * WEFT_SEC;
    if (!s->o.max_connections)
        s->o.max_connections = 10000;
    if (s->o.max_connections > WEFT_SEM_MAX)
        s->o.max_connections = WEFT_SEM_MAX;
    if (!s->o.server)
        s->o.server = "weft";
    if (!weft_http_value_ok(s->o.server, strlen(s->o.server))) {
        free(s);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

void weft_http_server_destroy(weft_http_server *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i].method);
        free(s->routes[i].prefix);
        if (s->routes[i].dir_fd >= 0)
            close(s->routes[i].dir_fd);
    }
    free(s->routes);
    free(s);
}

static int add_route(weft_http_server *s, const char *method, const char *prefix,
                     weft_http_handler *fn, void *arg, int dir_fd)
{
    if (!s || !prefix || prefix[0] != '/' || (!fn && dir_fd < 0))
        return -EINVAL;
    if (s->serving)
        return -EBUSY;
    route *r = realloc(s->routes, (s->nroutes + 1) * sizeof *r);
    if (!r)
        return -ENOMEM;
    s->routes = r;
    r = &s->routes[s->nroutes];
    *r = (route){.method = method ? strdup(method) : NULL,
                 .prefix = strdup(prefix),
                 .prefix_len = strlen(prefix),
                 .fn = fn,
                 .arg = arg,
                 .dir_fd = dir_fd};
    if (!r->prefix || (method && !r->method)) {
        free(r->method);
        free(r->prefix);
        return -ENOMEM;
    }
    /* "/static/" and "/static" both mean the subtree. */
    while (r->prefix_len > 1 && r->prefix[r->prefix_len - 1] == '/')
        r->prefix[--r->prefix_len] = 0;
    s->nroutes++;
    return 0;
}

int weft_http_server_route(weft_http_server *s, const char *method, const char *prefix,
                           weft_http_handler *fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    return add_route(s, method, prefix, fn, arg, -1);
}

int weft_http_server_static(weft_http_server *s, const char *prefix, const char *dir)
{
    if (!s || !dir)
        return -EINVAL;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOTDIR ? -ENOENT : -errno;
    int rc = add_route(s, NULL, prefix, NULL, NULL, fd);
    if (rc < 0)
        close(fd);
    return rc;
}

void weft_http_server_stats_get(const weft_http_server *s, weft_http_server_stats *out)
{
    if (s && out)
        *out = s->stats;
}

/* ---- replies ------------------------------------------------------------------------------ */

static const char *reason_of(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "";
    }
}

static const char *date_header(weft_http_server *s)
{
    time_t now = time(NULL);
    if (now != s->date_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof s->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        s->date_at = now;
    }
    return s->date;
}

static size_t put_num(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while (v /= 10);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* Write all of buf; each write must make progress within span (a peer
 * that reads slowly but steadily is not cut). */
static int write_steady(int fd, const void *buf, size_t len, int64_t span)
{
    const char *p = buf;
    while (len) {
        int n = weft_write(fd, p, len, weft_deadline_in(span));
        if (n < 0)
            return n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write the head (status, the caller's headers, then the server's, with
 * Content-Length: length) and then len bytes of body, unless head_only (a
 * file's blocks may follow); keep says whether the connection stays. */
static int send_reply(conn *c, int status, const weft_http_header *headers, size_t n,
                      const void *body, size_t len, uint64_t length, bool head_only, bool keep)
{
    weft_http_server *s = c->s;
    if (status >= 500)
        s->stats.responses_5xx++;
    else if (status >= 400)
        s->stats.responses_4xx++;
    /* The caller's part, checked by the writer; then ours after it. */
    size_t extra = 160 + strlen(s->o.server), cap = 512 + extra;
    for (size_t k = 0; k < n; k++)
        cap += headers[k].name_len + headers[k].value_len + 4;
    size_t total = cap + (head_only ? 0 : len);
    bool together = total <= SMALL_REPLY;
    char stack[4096], *out = total <= sizeof stack ? stack : malloc(together ? total : cap);
    if (!out)
        return -ENOMEM;
    int hl = weft_http_write_response(out, cap, status, reason_of(status), headers, n);
    if (hl < 0) {
        if (out != stack)
            free(out);
        return hl;
    }
    char *p = out + hl - 2; /* over the final CRLF */
    const char *date = date_header(s);
    size_t dl = strlen(date), sl = strlen(s->o.server);
    memcpy(p, date, dl);
    p += dl;
    memcpy(p, "Server: ", 8);
    memcpy(p + 8, s->o.server, sl);
    p += 8 + sl;
    if (status != 204 && status != 304) { /* those have no body, so no length */
        memcpy(p, "\r\nContent-Length: ", 18);
        p += 18;
        p += put_num(p, length);
    }
    if (!keep) {
        memcpy(p, "\r\nConnection: close", 19);
        p += 19;
    } else if (c->head.minor_version == 0) {
        memcpy(p, "\r\nConnection: keep-alive", 24);
        p += 24;
    }
    memcpy(p, "\r\n\r\n", 4);
    p += 4;
    int64_t span = s->o.header_timeout;
    int rc;
    if (together) {
        if (!head_only && len)
            memcpy(p, body, len);
        rc = write_steady(c->fd, out, (size_t)(p - out) + (head_only ? 0 : len), span);
    } else {
        rc = write_steady(c->fd, out, (size_t)(p - out), span);
        if (rc == 0 && !head_only && len)
            rc = write_steady(c->fd, body, len, span);
    }
    if (out != stack)
        free(out);
    if (rc == -ETIMEDOUT)
        s->stats.timeouts++;
    return rc;
}

int weft_http_reply_send(weft_http_reply *r, int status, const weft_http_header *headers, size_t n,
                         const void *body, size_t len)
{
    if (!r || (!body && len) || (n && !headers) || status < 200 ||
        ((status == 204 || status == 304) && len))
        return -EINVAL; /* interim answers are the server's; 204 and 304 have no body */
    if (r->sent)
        return -EALREADY;
    for (size_t k = 0; k < n; k++) {
        const weft_http_header *h = &headers[k];
        static const char *const ours[] = {"content-length", "transfer-encoding", "connection"};
        for (size_t i = 0; i < 3; i++)
            if (h->name_len == strlen(ours[i]) && strncasecmp(h->name, ours[i], h->name_len) == 0)
                return -EINVAL;
    }
    r->keep = r->keep && !r->c->s->stopping;
    int rc = send_reply(r->c, status, headers, n, body, len, len, r->head_only, r->keep);
    /* Once writing began, the reply is out (or the connection is lost). */
    if (rc != -EINVAL && rc != -ENOMEM)
        r->sent = true;
    return rc;
}

/* A reply of the server's own (an error): text (not for HEAD), and the
 * connection closes. */
static void simple_reply(conn *c, int status, const char *text)
{
    bool head_only = c->head.method_len == 4 && memcmp(c->head.method, "HEAD", 4) == 0;
    static const weft_http_header type = {"Content-Type", "text/plain; charset=utf-8", 12, 25};
    char body[256];
    int n = snprintf(body, sizeof body, "%d %s%s%s\n", status, reason_of(status), text ? ": " : "",
                     text ? text : "");
    if (n < 0 || (size_t)n >= sizeof body)
        n = (int)sizeof body - 1;
    send_reply(c, status, &type, 1, body, (size_t)n, (size_t)n, head_only, false);
}

/* ---- static files --------------------------------------------------------------------------- */

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".csv", "text/csv; charset=utf-8"},
        {".css", "text/css"},
        {".js", "text/javascript"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".svg", "image/svg+xml"},
        {".gif", "image/gif"},
        {".pdf", "application/pdf"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The path under the route, percent-decoded into out, as a relative name
 * ("." for the directory itself). Returns false for what must not be
 * served: "..", empty segments, NUL or control bytes, bad escapes. */
static bool file_name(const char *rest, char *out, size_t cap)
{
    size_t n = 0;
    while (*rest == '/')
        rest++;
    for (const char *p = rest; *p; p++) {
        char ch = *p;
        if (ch == '%') {
            int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
            if (lo < 0)
                return false;
            ch = (char)(hi * 16 + lo);
            p += 2;
        }
        if ((unsigned char)ch < 0x20 || ch == 0x7F || n + 1 >= cap)
            return false;
        out[n++] = ch;
    }
    out[n] = 0;
    if (!n) {
        strcpy(out, ".");
        return true;
    }
    /* Segment by segment: no "", ".", "..". */
    for (char *seg = out;;) {
        char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if ((len == 0 && slash) || (len == 1 && seg[0] == '.') ||
            (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!slash)
            return true;
        seg = slash + 1;
    }
}

/* Open name under the directory dir_fd without leaving it: openat2 with
 * RESOLVE_BENEATH refuses ".." and symbolic links that lead outside (a
 * link inside the tree is followed). Where the kernel has no openat2,
 * no symbolic link is followed at the last component and none may be
 * met on the way (O_NOFOLLOW, then a check of each directory). */
static int open_beneath(int dir_fd, const char *name)
{
#ifdef SYS_openat2
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, dir_fd, name, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS)
        return fd;
#endif
    /* No openat2: refuse any path with a symbolic link on the way. */
    char part[4096];
    for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
        size_t n = (size_t)(p - name);
        if (n >= sizeof part)
            return errno = ENAMETOOLONG, -1;
        memcpy(part, name, n);
        part[n] = 0;
        struct stat st;
        if (fstatat(dir_fd, part, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return -1;
        if (S_ISLNK(st.st_mode))
            return errno = ELOOP, -1;
    }
    return openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
}

static int serve_file(conn *c, const route *r, const char *path, weft_http_reply *reply)
{
    static const weft_http_header plain = {"Content-Type", "text/plain; charset=utf-8", 12, 25};
    char name[4096];
    const char *rest = path + (r->prefix_len > 1 ? r->prefix_len : 0);
    if (!file_name(rest, name, sizeof name)) {
        simple_reply(c, 400, "a path that cannot name a file");
        reply->sent = true;
        reply->keep = false;
        return 0;
    }
    /* Dot files (.git, .env) are not served. */
    if (name[0] == '.' ? name[1] != 0 : strstr(name, "/.") != NULL)
        return weft_http_reply_send(reply, 404, &plain, 1, "404 Not Found\n", 14);
    int fd = open_beneath(r->dir_fd, name);
    struct stat st;
    bool ok = fd >= 0 && fstat(fd, &st) == 0;
    if (ok && S_ISDIR(st.st_mode)) {
        int dir = fd;
        fd = openat(dir, "index.html", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        close(dir);
        ok = fd >= 0 && fstat(fd, &st) == 0;
        strcpy(name, "index.html");
    }
    if (!ok || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return weft_http_reply_send(reply, 404, &plain, 1, "404 Not Found\n", 14);
    }
    const char *ctype = content_type(name);
    weft_http_header h = {"Content-Type", ctype, 12, strlen(ctype)};
    size_t size = (size_t)st.st_size;
    int rc;
    reply->keep = reply->keep && !c->s->stopping;
    if (reply->head_only) {
        /* The length only: nothing to read. */
        rc = send_reply(c, 200, &h, 1, NULL, 0, size, true, reply->keep);
        reply->sent = true;
    } else if (size <= FILE_BLOCK) {
        char *data = malloc(size ? size : 1);
        rc = data ? 0 : -ENOMEM;
        for (size_t got = 0; rc == 0 && got < size;) {
            int n = weft_file_pread(fd, data + got, size - got, (int64_t)got, WEFT_NEVER);
            rc = n < 0 ? n : n == 0 ? -EIO : 0;
            got += n > 0 ? (size_t)n : 0;
        }
        if (rc == 0)
            rc = weft_http_reply_send(reply, 200, &h, 1, data, size);
        free(data);
    } else {
        /* Larger files: the head with the length, then block by block. */
        char *block = malloc(FILE_BLOCK);
        rc = block ? send_reply(c, 200, &h, 1, NULL, 0, size, false, reply->keep) : -ENOMEM;
        reply->sent = block != NULL; /* a head may be half out: no 500 after it */
        for (size_t at = 0; rc == 0 && at < size;) {
            int n = weft_file_pread(fd, block, size - at < FILE_BLOCK ? size - at : FILE_BLOCK,
                                    (int64_t)at, WEFT_NEVER);
            rc = n < 0 ? n : n == 0 ? -EIO : 0; /* the file shrank: the reply is cut */
            if (rc == 0)
                rc = write_steady(c->fd, block, (size_t)n, c->s->o.header_timeout);
            at += n > 0 ? (size_t)n : 0;
        }
        free(block);
    }
    if (rc < 0)
        reply->keep = false; /* a cut reply ends the connection */
    close(fd);
    return rc;
}

/* ---- a connection ------------------------------------------------------------------------- */

/* Read more bytes into the buffer (growing it up to limit). Returns bytes
 * read, 0 at end of stream, -E2BIG at the limit, or the read's error. */
static int read_more(conn *c, size_t limit, int64_t deadline)
{
    if (c->len == c->cap) {
        if (c->cap >= limit)
            return -E2BIG;
        size_t cap = c->cap ? c->cap * 2 : FIRST_BUF;
        if (cap > limit)
            cap = limit;
        char *b = realloc(c->buf, cap);
        if (!b)
            return -ENOMEM;
        bool moved = b != c->buf;
        c->buf = b;
        c->cap = cap;
        /* The head points into the buffer: parse it again where it is. */
        if (moved && c->head_len) {
            weft_http_head_reset(&c->head);
            weft_http_parse_head(&c->head, true, NULL, c->buf, c->head_len);
        }
    }
    int n = weft_read(c->fd, c->buf + c->len, c->cap - c->len, deadline);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

/* The path and query of the target, NUL-terminated, in c->target. */
static int split_target(conn *c, const char **path, const char **query)
{
    const weft_http_head *h = &c->head;
    const char *t = h->target;
    size_t len = h->target_len;
    /* absolute-form: "http://host/path" -> "/path" */
    const char *scheme = len > 3 ? memchr(t, ':', len) : NULL;
    if (t[0] != '/' && scheme && (size_t)(scheme - t) + 3 <= len && scheme[1] == '/' &&
        scheme[2] == '/') {
        const char *p = memchr(scheme + 3, '/', len - (size_t)(scheme + 3 - t));
        len = p ? len - (size_t)(p - t) : 0;
        t = p ? p : "/";
        if (!p)
            len = 1;
    }
    if (len + 2 > c->target_cap) {
        char *b = realloc(c->target, len + 2);
        if (!b)
            return -ENOMEM;
        c->target = b;
        c->target_cap = len + 2;
    }
    memcpy(c->target, t, len);
    c->target[len] = 0;
    char *q = memchr(c->target, '?', len);
    if (q) {
        *q = 0;
        *query = q + 1;
    } else {
        c->target[len + 1] = 0;
        *query = c->target + len + 1;
    }
    *path = c->target;
    return 0;
}

static bool prefix_matches(const route *r, const char *path)
{
    if (r->prefix_len == 1)
        return true;
    return strncmp(path, r->prefix, r->prefix_len) == 0 &&
           (path[r->prefix_len] == 0 || path[r->prefix_len] == '/');
}

/* Steps 4: route, call, reply. Returns whether the connection may stay. */
static bool dispatch(conn *c, const char *path, const char *query, const char *body,
                     size_t body_len, bool keep)
{
    weft_http_server *s = c->s;
    const weft_http_head *h = &c->head;
    weft_http_reply reply = {
        .c = c, .head_only = h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0, .keep = keep};
    weft_http_request req = {h, path, query, body, body_len, &c->peer};
    bool path_seen = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        const route *r = &s->routes[i];
        if (!prefix_matches(r, path))
            continue;
        path_seen = true;
        bool get = (h->method_len == 3 && memcmp(h->method, "GET", 3) == 0) || reply.head_only;
        if (r->dir_fd >= 0 ? !get
                           : r->method && (strlen(r->method) != h->method_len ||
                                           memcmp(r->method, h->method, h->method_len) != 0))
            continue;
        int rc = r->dir_fd >= 0 ? serve_file(c, r, path, &reply) : r->fn(r->arg, &req, &reply);
        if (!reply.sent) {
            /* A handler cut by the shutdown's deadline: just close. */
            if (!(rc == -ECANCELED && s->stopping))
                simple_reply(c, 500, rc < 0 ? weft_strerror(rc) : "the handler did not reply");
            return false;
        }
        return reply.keep && rc >= 0;
    }
    if (path_seen) {
        simple_reply(c, 405, NULL);
        return false;
    }
    static const weft_http_header type = {"Content-Type", "text/plain; charset=utf-8", 12, 25};
    send_reply(c, 404, &type, 1, "404 Not Found\n", 14, 14, reply.head_only, keep);
    return keep;
}

/* One request: steps 2 to 4. Returns whether the connection stays. */
static bool one_request(conn *c)
{
    weft_http_server *s = c->s;
    int64_t deadline = weft_deadline_in(s->o.header_timeout);
    weft_http_head_reset(&c->head);
    int hl;
    c->head_len = 0;
    while ((hl = weft_http_parse_head(&c->head, true, NULL, c->buf, c->len)) == -EAGAIN) {
        if (c->len >= HEAD_LIMIT) {
            hl = -E2BIG;
            break;
        }
        int n = read_more(c, HEAD_LIMIT, deadline);
        if (n == -E2BIG) {
            hl = -E2BIG;
            break;
        }
        if (n == -ETIMEDOUT) {
            s->stats.timeouts++;
            simple_reply(c, 408, "the request head did not arrive in time");
        }
        if (n <= 0)
            return false;
    }
    s->stats.requests++;
    if (hl < 0) {
        simple_reply(c, hl == -E2BIG ? 431 : 400, c->head.error);
        return false;
    }
    c->head_len = (size_t)hl;
    /* HTTP/1.1 requests name their host, once (RFC 9112 section 3.2). */
    size_t hosts = 0;
    for (size_t k = 0; k < c->head.nheaders; k++)
        hosts +=
            c->head.headers[k].name_len == 4 && !strncasecmp(c->head.headers[k].name, "host", 4);
    if (c->head.minor_version == 1 && hosts != 1) {
        simple_reply(c, 400, "an HTTP/1.1 request needs exactly one Host header");
        return false;
    }
    /* Step 3: the body. */
    size_t limit = (size_t)hl + s->o.max_body, body_len = 0, consumed = (size_t)hl;
    bool keep = c->head.keep_alive && !s->stopping;
    if (c->head.body == WEFT_HTTP_BODY_LENGTH && c->head.content_length > s->o.max_body) {
        simple_reply(c, 413, NULL);
        return false;
    }
    /* Ask for the body only when it will be read (HTTP/1.0 has no 100). */
    if (c->head.body != WEFT_HTTP_BODY_NONE && c->head.expect_continue &&
        c->head.minor_version == 1 && c->len == (size_t)hl) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (write_steady(c->fd, cont, sizeof cont - 1, s->o.header_timeout) < 0)
            return false;
    }
    if (c->head.body == WEFT_HTTP_BODY_LENGTH) {
        body_len = (size_t)c->head.content_length;
        while (c->len < (size_t)hl + body_len) {
            int n = read_more(c, limit, weft_deadline_in(s->o.header_timeout));
            if (n == -ETIMEDOUT)
                s->stats.timeouts++;
            if (n <= 0)
                return false;
        }
        consumed += body_len;
    } else if (c->head.body == WEFT_HTTP_BODY_CHUNKED) {
        weft_http_chunked ch;
        weft_http_chunked_init(&ch);
        size_t raw = (size_t)hl; /* wire bytes before raw are decoded */
        for (;;) {
            size_t n = c->len - raw, used;
            int rc = weft_http_chunked_decode(&ch, c->buf + raw, &n, &used);
            if (rc < 0) {
                simple_reply(c, rc == -E2BIG ? 431 : 400, ch.error);
                return false;
            }
            memmove(c->buf + hl + body_len, c->buf + raw, n);
            body_len += n;
            raw += used;
            if (body_len > s->o.max_body) {
                simple_reply(c, 413, NULL);
                return false;
            }
            if (rc == 1)
                break;
            /* Everything was taken: what follows the decoded bytes is free. */
            c->len = hl + body_len;
            raw = c->len;
            int got = read_more(c, limit + FIRST_BUF, weft_deadline_in(s->o.header_timeout));
            if (got == -E2BIG) {
                simple_reply(c, 413, NULL);
                return false;
            }
            if (got == -ETIMEDOUT)
                s->stats.timeouts++;
            if (got <= 0)
                return false;
        }
        /* Pipelined bytes after the body move down behind it. */
        memmove(c->buf + hl + body_len, c->buf + raw, c->len - raw);
        c->len -= raw - (hl + body_len);
        consumed = (size_t)hl + body_len;
    }
    const char *path, *query;
    if (split_target(c, &path, &query) < 0)
        return false;
    keep = dispatch(c, path, query, c->buf + hl, body_len, keep);
    /* What the client sent after this request starts the next one. */
    memmove(c->buf, c->buf + consumed, c->len - consumed);
    c->len -= consumed;
    c->head_len = 0;
    /* A connection that once took a large body does not keep its buffer. */
    if (c->cap > 4 * FIRST_BUF && c->len <= FIRST_BUF) {
        char *b = realloc(c->buf, FIRST_BUF);
        if (b) {
            c->buf = b;
            c->cap = FIRST_BUF;
        }
    }
    return keep && !s->stopping;
}

static int conn_task(void *arg, weft_value *result)
{
    (void)result;
    conn *c = arg;
    weft_http_server *s = c->s;
    for (;;) {
        /* Step 1: the first byte of a request, unless it is here. */
        if (c->len == 0) {
            if (s->stopping)
                break;
            c->idle = true;
            int n = read_more(c, HEAD_LIMIT, weft_deadline_in(s->o.idle_timeout));
            c->idle = false;
            if (n <= 0)
                break;
        }
        if (!one_request(c))
            break;
    }
    weft_shield_enter();
    weft_close(c->fd);
    weft_shield_exit();
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    weft_sem_release(&s->slots, 1);
    weft_future_unref(c->task);
    free(c->buf);
    free(c->target);
    free(c);
    return 0;
}

/* ---- serving -------------------------------------------------------------------------------- */

typedef struct acceptor {
    weft_http_server *s;
    int lfd;
    weft_group *g;
    int err;
} acceptor;

static int accept_task(void *arg, weft_value *result)
{
    (void)result;
    acceptor *a = arg;
    weft_http_server *s = a->s;
    while (!s->stopping) {
        /* At the limit: wait for a connection to end. */
        if (weft_sem_acquire(&s->slots, WEFT_NEVER) < 0)
            return 0; /* cancelled */
        conn *c = calloc(1, sizeof *c);
        int rc = c ? weft_accept(a->lfd, WEFT_NEVER, &c->fd, &c->peer) : -ENOMEM;
        if (rc < 0) {
            free(c);
            weft_sem_release(&s->slots, 1);
            if (rc == -ECANCELED)
                return 0;
            /* One connection's trouble, or a full descriptor table: go on
             * after a breath. Anything else ends serving. */
            if (rc == -ECONNABORTED || rc == -EPROTO || rc == -EPERM || rc == -ENOBUFS ||
                rc == -ENOMEM || rc == -EMFILE || rc == -ENFILE) {
                if (weft_sleep_for(10 * WEFT_MSEC) == -ECANCELED)
                    return 0;
                continue;
            }
            a->err = rc;
            weft_http_server_shutdown(s, weft_now());
            return 0;
        }
        c->s = s;
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->stats.connections++;
        if (weft_group_spawn(a->g, conn_task, c, NULL, &c->task) < 0) {
            s->conns = c->next;
            if (s->conns)
                s->conns->prev = NULL;
            weft_close(c->fd);
            free(c);
            weft_sem_release(&s->slots, 1);
        }
    }
    return 0;
}

/* Cancels the connections still running at the shutdown's deadline. */
static int reaper_task(void *arg, weft_value *result)
{
    (void)result;
    weft_http_server *s = arg;
    if (weft_sleep_until(s->stop_deadline) == -ECANCELED)
        return 0;
    for (conn *c = s->conns; c; c = c->next)
        weft_future_cancel(c->task);
    return 0;
}

int weft_http_server_serve(weft_http_server *s, int listen_fd)
{
    if (!s || listen_fd < 0)
        return -EINVAL;
    if (!weft_loop_current() || !weft_task_current())
        return -EPERM;
    if (s->serving)
        return -EBUSY;
    int rc = weft_future_create(&s->stop);
    if (rc < 0)
        return rc;
    weft_sem_init(&s->slots, (uint32_t)s->o.max_connections);
    s->serving = true;
    s->stopping = s->pending;
    s->pending = false;
    weft_group g;
    weft_group_init(&g);
    acceptor a = {s, listen_fd, &g, 0};
    weft_future *acc = NULL;
    rc = weft_spawn(NULL, accept_task, &a, &(weft_spawn_opts){.name = "http-accept"}, &acc);
    if (rc == 0 && !s->stopping && weft_future_wait(s->stop, WEFT_NEVER) < 0 && !s->stopping) {
        /* serve itself was cancelled: a shutdown without grace. */
        s->stopping = true;
        s->stop_deadline = weft_now();
    }
    /* The shutdown: every wait below must happen, cancelled or not. */
    weft_shield_enter();
    if (acc) {
        weft_future_cancel(acc);
        weft_future_wait(acc, WEFT_NEVER);
        weft_future_unref(acc);
    }
    for (conn *c = s->conns; c; c = c->next)
        if (c->idle)
            weft_future_cancel(c->task);
    weft_future *reaper = NULL;
    weft_spawn(NULL, reaper_task, s, &(weft_spawn_opts){.name = "http-reaper"}, &reaper);
    weft_shield_exit();
    weft_group_wait(&g);
    /* Connections cancelled before their task ever ran are still listed:
     * close and free them here. */
    while (s->conns) {
        conn *c = s->conns;
        s->conns = c->next;
        weft_close(c->fd);
        weft_future_unref(c->task);
        free(c);
    }
    weft_shield_enter();
    if (reaper) {
        weft_future_cancel(reaper);
        weft_future_wait(reaper, WEFT_NEVER);
        weft_future_unref(reaper);
    }
    weft_shield_exit();
    weft_future_unref(s->stop);
    s->stop = NULL;
    s->serving = false;
    return rc < 0 ? rc : a.err;
}

int weft_http_server_shutdown(weft_http_server *s, int64_t deadline)
{
    if (!s)
        return -EINVAL;
    if (!s->serving) {
        s->pending = true; /* serve will stop at once */
        s->stop_deadline = deadline;
        return 0;
    }
    if (s->stopping)
        return 0;
    s->stopping = true;
    s->stop_deadline = deadline;
    if (s->stop)
        weft_future_complete(s->stop, (weft_value){0}, 0);
    return 0;
}
