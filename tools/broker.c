/* weft broker: a simulated exchange on loopback, the far end of the seeds'
 * feed -> strategy -> OMS pipeline (seed 003 section 6). Orders come in
 * over TCP as lines; each is acknowledged, then filled, after configurable
 * latencies; the broker can be told to stall or to drop connections, so
 * that an OMS's deadlines, reconnects and resends can be tested.
 *
 *   weft broker [--host H] [--port P] [--ack-ms MS] [--fill-ms MS]
 *               [--stall-after N --stall-ms MS] [--drop-after N] [--quiet]
 *
 * Protocol (ASCII lines ending in LF; fields separated by one space):
 *   client: NEW <id> <symbol> <B|S> <qty> <price>
 *   broker: ACK <id>                     after --ack-ms
 *           FILL <id> <qty> <price>      after --fill-ms more
 *           REJECT <id|-> <reason...>    a line it cannot take
 * Order ids are the client's (1 to 64 characters of [A-Za-z0-9_.:-]) and
 * unique per broker run: a NEW for an id already known is a resend (after
 * a reconnect) and creates nothing; the broker answers with what that
 * order has reached (ACK, and FILL if filled). So no order is ever
 * duplicated, whatever the client resends.
 *
 * Faults: after --stall-after orders (counting all connections) the
 * broker stops answering for --stall-ms, once; after every --drop-after
 * orders on a connection it closes that connection, after taking the
 * order (the client must resend to learn its state).
 *
 * SIGINT or SIGTERM stops it and prints its counters (orders, resends,
 * acks, fills, rejects, connections, drops).
 *
 * Synchronization: one loop thread. A connection's replies are written by
 * its order tasks under the connection's weft_mutex (one writer at a
 * time); the order book is a hash table touched only from that thread. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/net.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "tools/weft_tool.h"

enum { MAX_LINE = 256, MAX_ID = 64 };

typedef enum state { NEW_ORDER, ACKED, FILLED } state;

typedef struct order {
    char id[MAX_ID + 1];
    char symbol[16];
    long qty;
    double price;
    state st;
    struct order *next; /* hash chain */
} order;

typedef struct broker {
    int64_t ack_ns, fill_ns, stall_ns;
    long stall_after, drop_after;
    bool quiet, stalled;
    int64_t stall_until;
    order *table[4096];
    uint64_t orders, resends, acks, fills, rejects, connections, drops;
} broker;

static broker B;

typedef struct conn {
    int fd;
    weft_mutex wlock;
    int refs; /* the reader and its order tasks */
    bool dead;
} conn;

static unsigned hash_id(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % (sizeof B.table / sizeof B.table[0]);
}

static order *find(const char *id)
{
    for (order *o = B.table[hash_id(id)]; o; o = o->next)
        if (!strcmp(o->id, id))
            return o;
    return NULL;
}

static void conn_unref(conn *c)
{
    if (--c->refs == 0) {
        weft_close(c->fd);
        weft_mutex_destroy(&c->wlock);
        free(c);
    }
}

/* One line to the client; a dead connection drops it (the client resends). */
static void reply(conn *c, const char *line)
{
    weft_mutex_lock(&c->wlock);
    if (!c->dead &&
        weft_write_all(c->fd, line, strlen(line), weft_deadline_in(5 * WEFT_SEC), NULL) < 0)
        c->dead = true;
    weft_mutex_unlock(&c->wlock);
}

/* The broker's stall, if one is on: wait it out. */
static int stall(void)
{
    if (B.stall_until && weft_now() < B.stall_until)
        return weft_sleep_until(B.stall_until);
    return 0;
}

typedef struct work {
    conn *c;
    order *o;
    bool resend;
} work;

/* An order's life: ACK after ack_ns, FILL after fill_ns more; a resend
 * reports the state reached. */
static int order_task(void *arg, weft_value *result)
{
    (void)result;
    work *w = arg;
    conn *c = w->c;
    order *o = w->o;
    char line[MAX_LINE];
    int rc = 0;
    if (w->resend) {
        if (o->st >= ACKED) {
            snprintf(line, sizeof line, "ACK %s\n", o->id);
            reply(c, line);
        }
        if (o->st == FILLED) {
            snprintf(line, sizeof line, "FILL %s %ld %.4f\n", o->id, o->qty, o->price);
            reply(c, line);
        }
        goto out;
    }
    if ((rc = weft_sleep_for(B.ack_ns)) < 0 || (rc = stall()) < 0)
        goto out;
    o->st = ACKED;
    B.acks++;
    snprintf(line, sizeof line, "ACK %s\n", o->id);
    reply(c, line);
    if ((rc = weft_sleep_for(B.fill_ns)) < 0 || (rc = stall()) < 0)
        goto out;
    o->st = FILLED;
    B.fills++;
    snprintf(line, sizeof line, "FILL %s %ld %.4f\n", o->id, o->qty, o->price);
    reply(c, line);
out:
    conn_unref(c);
    free(w);
    return 0;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > MAX_ID)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_.:-", *s)))
            return false;
    return true;
}

/* One line from the client. Returns false to drop the connection. */
static bool take_line(conn *c, char *line, long *taken)
{
    char id[MAX_LINE], sym[MAX_LINE], side[MAX_LINE], extra[2];
    long qty;
    double price;
    char out[MAX_LINE + 64];
    int n = sscanf(line, "NEW %255s %255s %255s %ld %lf %1s", id, sym, side, &qty, &price, extra);
    const char *why = n != 5 || strncmp(line, "NEW ", 4)
                          ? "expected: NEW <id> <symbol> <B|S> <qty> <price>"
                      : !id_ok(id)                                ? "bad order id"
                      : strlen(sym) >= sizeof((order *)0)->symbol ? "symbol too long"
                      : (strcmp(side, "B") && strcmp(side, "S"))  ? "side must be B or S"
                      : qty <= 0                                  ? "quantity must be positive"
                      : !(price > 0)                              ? "price must be positive"
                                                                  : NULL;
    if (why) {
        B.rejects++;
        snprintf(out, sizeof out, "REJECT %s %s\n", n >= 1 && id_ok(id) ? id : "-", why);
        reply(c, out);
        return true;
    }
    order *o = find(id);
    bool resend = o != NULL;
    if (resend) {
        B.resends++;
    } else {
        o = calloc(1, sizeof *o);
        if (!o)
            return false;
        memcpy(o->id, id, strlen(id) + 1);       /* checked: at most MAX_ID */
        memcpy(o->symbol, sym, strlen(sym) + 1); /* checked: shorter than symbol */
        o->qty = qty;
        o->price = price;
        unsigned h = hash_id(id);
        o->next = B.table[h];
        B.table[h] = o;
        B.orders++;
        if (B.stall_after && B.orders == (uint64_t)B.stall_after && !B.stalled) {
            B.stalled = true;
            B.stall_until = weft_now() + B.stall_ns;
        }
    }
    work *w = malloc(sizeof *w);
    if (!w)
        return false;
    *w = (work){c, o, resend};
    c->refs++;
    if (weft_spawn(NULL, order_task, w, &(weft_spawn_opts){.name = "order"}, NULL) < 0) {
        c->refs--;
        free(w);
        return false;
    }
    ++*taken;
    if (B.drop_after && !resend && *taken % B.drop_after == 0) {
        B.drops++;
        return false;
    }
    return true;
}

static int conn_task(void *arg, weft_value *result)
{
    (void)result;
    conn *c = arg;
    char buf[8192];
    size_t len = 0;
    long taken = 0;
    bool go = true;
    while (go) {
        int n = weft_read(c->fd, buf + len, sizeof buf - len, WEFT_NEVER);
        if (n <= 0)
            break;
        len += (size_t)n;
        char *start = buf, *nl;
        while (go && (nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            *nl = 0;
            if (nl > start && nl[-1] == '\r')
                nl[-1] = 0;
            go = take_line(c, start, &taken);
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (len == sizeof buf) {
            reply(c, "REJECT - line too long\n");
            break;
        }
    }
    /* No more reads; replies of orders in flight go out if the peer is
     * still there, unless this was a drop. */
    if (!go) {
        weft_mutex_lock(&c->wlock);
        c->dead = true;
        weft_shutdown_write(c->fd);
        weft_mutex_unlock(&c->wlock);
    }
    conn_unref(c);
    return 0;
}

typedef struct serve_arg {
    int lfd;
} serve_arg;

static int accept_task(void *arg, weft_value *result)
{
    (void)result;
    serve_arg *s = arg;
    for (;;) {
        int fd;
        int rc = weft_accept(s->lfd, WEFT_NEVER, &fd, NULL);
        if (rc == -ECANCELED)
            return 0;
        if (rc < 0)
            continue;
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            weft_close(fd);
            continue;
        }
        c->fd = fd;
        c->refs = 1;
        weft_mutex_init(&c->wlock, "broker-conn");
        B.connections++;
        if (weft_spawn(NULL, conn_task, c, &(weft_spawn_opts){.name = "conn"}, NULL) < 0)
            conn_unref(c);
    }
}

typedef struct broker_job {
    const char *host, *port;
} broker_job;

static int main_task(void *arg, weft_value *result)
{
    (void)result;
    broker_job *j = arg;
    serve_arg s;
    weft_addr bound;
    int rc = weft_tcp_listen(j->host, j->port, 1024, &s.lfd, &bound);
    if (rc < 0) {
        fprintf(stderr, "weft broker: cannot listen on %s:%s: %s\n", j->host, j->port,
                weft_strerror(rc));
        return rc;
    }
    char where[80];
    weft_addr_format(&bound, where, sizeof where);
    if (!B.quiet)
        fprintf(stderr, "weft broker: listening on %s; Ctrl-C stops\n", where);
    weft_future *acc;
    if ((rc = weft_spawn(NULL, accept_task, &s, NULL, &acc)) < 0)
        return rc;
    weft_signal_wait(WEFT_SIG(SIGINT) | WEFT_SIG(SIGTERM), WEFT_NEVER);
    weft_future_cancel(acc);
    weft_future_wait(acc, WEFT_NEVER);
    weft_future_unref(acc);
    weft_close(s.lfd);
    printf("orders %llu resends %llu acks %llu fills %llu rejects %llu connections %llu drops "
           "%llu\n",
           (unsigned long long)B.orders, (unsigned long long)B.resends, (unsigned long long)B.acks,
           (unsigned long long)B.fills, (unsigned long long)B.rejects,
           (unsigned long long)B.connections, (unsigned long long)B.drops);
    fflush(stdout);
    /* Tasks still running (orders in flight) are cancelled by weft_run. */
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: weft broker [options]\n"
               "A simulated exchange: orders in as lines over TCP, acks and fills out.\n\n"
               "  --host H          address (default 127.0.0.1)\n"
               "  --port P          port (default 9100; 0: any free port)\n"
               "  --ack-ms MS       time to acknowledge an order (default 1)\n"
               "  --fill-ms MS      time from ack to fill (default 2)\n"
               "  --stall-after N   stop answering after the N-th order ...\n"
               "  --stall-ms MS     ... for MS milliseconds, once (default 1000)\n"
               "  --drop-after N    close a connection after every N orders it sent\n"
               "  --quiet           no status on standard error\n"
               "protocol: NEW <id> <symbol> <B|S> <qty> <price>  ->  ACK <id>, FILL <id> <qty> "
               "<price>\n");
}

static bool number(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int weft_cmd_broker(int argc, char **argv)
{
    broker_job j = {"127.0.0.1", "9100"};
    long ack = 1, fill = 2, stall_ms = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        long *target = NULL, lo = 0, hi = 3600000;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quiet")) {
            B.quiet = true;
            continue;
        } else if (!strcmp(a, "--host") && more) {
            j.host = argv[++i];
            continue;
        } else if (!strcmp(a, "--port") && more) {
            j.port = argv[++i];
            continue;
        } else if (!strcmp(a, "--ack-ms") && more) {
            target = &ack;
        } else if (!strcmp(a, "--fill-ms") && more) {
            target = &fill;
        } else if (!strcmp(a, "--stall-ms") && more) {
            target = &stall_ms;
        } else if (!strcmp(a, "--stall-after") && more) {
            target = &B.stall_after;
            lo = 1;
        } else if (!strcmp(a, "--drop-after") && more) {
            target = &B.drop_after;
            lo = 1;
        } else {
            fprintf(stderr, "weft broker: unknown option or missing value: '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (!number(argv[++i], lo, hi, target)) {
            fprintf(stderr, "weft broker: %s wants a number from %ld to %ld, not '%s'\n", a, lo, hi,
                    argv[i]);
            return 2;
        }
    }
    B.ack_ns = ack * WEFT_MSEC;
    B.fill_ns = fill * WEFT_MSEC;
    B.stall_ns = stall_ms * WEFT_MSEC;
    int rc = weft_signals_block(WEFT_SIG(SIGINT) | WEFT_SIG(SIGTERM));
    if (rc < 0) {
        fprintf(stderr, "weft broker: cannot take SIGINT and SIGTERM: %s\n", weft_strerror(rc));
        return 1;
    }
    rc = weft_run(main_task, &j, NULL, NULL);
    for (size_t h = 0; h < sizeof B.table / sizeof B.table[0]; h++)
        for (order *o = B.table[h], *next; o; o = next) {
            next = o->next;
            free(o);
        }
    return rc < 0 ? 1 : 0;
}
