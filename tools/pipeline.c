/* weft pipeline: the seeds' feed -> strategy -> OMS case (seed 003
 * section 6) as a market-data pipeline a trading engineer would know.
 *
 *   weft pipeline [--symbols K] [--rate R] [--ticks N] [--workers W]
 *                 [--queue Q] [--policy block|drop-oldest|conflate]
 *                 [--mode threads|coroutines|mixed] [--replay FILE]
 *                 [--broker HOST:PORT] [--broker-args "..."]
 *                 [--order-deadline MS] [--position-cap N] [--json] [--no-progress]
 *
 * How, numbered as it runs:
 * Where the stages run (--mode): threads (the seed's recommended design:
 * a thread each for the feed and the strategy workers, a loop for the
 * OMS); coroutines (every stage a task of the OMS's loop, one thread);
 * mixed (the feed and the OMS on the loop, the strategy on threads). The
 * channels wait the right way in each: a thread parks, a task suspends.
 *
 *   1. The feed makes N ticks, a random walk per symbol (or replays a CSV
 *      file of ticks, --replay), at R
 *      ticks a second, and routes each to the strategy worker of its
 *      symbol (symbol % W), so a symbol's ticks stay in order.
 *   2. Between the feed and each worker, a bounded channel of Q ticks with
 *      a policy: block (backpressure: the feed waits, and the waits are
 *      counted), drop-oldest (the oldest tick is dropped to make room), or
 *      conflate (only the latest tick per symbol waits; older ones are
 *      replaced: what real feeds do).
 *   3. Each worker keeps two moving averages per symbol and
 *      emits an order when the short one crosses the long one; a risk
 *      check caps the position per symbol.
 *   4. The OMS (a loop on a thread of its own) sends each order to the
 *      broker (`weft broker`, started as a child process unless --broker
 *      names one) with its client order id, reads acks and fills, fails an
 *      order at its deadline, and after a lost connection reconnects and
 *      resends every order without a fill (the broker never duplicates a
 *      known id).
 *   5. End of feed (or SIGINT): the feed closes the channels; the workers
 *      drain them and the last one closes the OMS's; the OMS ends once
 *      every order is filled or failed. The report proves it: ticks in =
 *      processed + dropped + conflated, orders out = fills + failures.
 *
 * Synchronization: the channels carry the ticks and orders between the
 * threads; counters shared by threads are relaxed atomics, read for the
 * live line and at the end (after the joins, which order them); the
 * conflation table of a worker is guarded by its mutex; the OMS's order
 * table belongs to its loop thread. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/chan.h>
#include <weft/csv.h>
#include <weft/error.h>
#include <weft/loop.h>
#include <weft/metrics.h>
#include <weft/net.h>
#include <weft/sync.h>
#include <weft/time.h>

#include "tools/weft_tool.h"

extern char **environ;

typedef enum policy { BLOCK, DROP_OLDEST, CONFLATE } policy;
/* Where the stages run: threads; one loop (coroutines); or the feed and
 * the OMS on the loop and the strategy on threads (mixed). */
typedef enum mode { THREADS, COROUTINES, MIXED } mode;
static const char *const mode_names[] = {"threads", "coroutines", "mixed"};
static const char *const policy_names[] = {"block", "drop-oldest", "conflate"};

typedef struct tick {
    uint32_t sym;
    uint64_t seq;
    double px;
    int64_t t; /* when the feed made it */
} tick;

typedef struct order {
    uint64_t id;
    uint32_t sym;
    char side;
    int32_t qty;
    double px;
    int64_t t_tick; /* the tick's making */
    int64_t t_emit; /* the order's sending to the OMS */
} order;

typedef struct worker {
    int index;
    pthread_t thread;
    weft_chan *in;   /* ticks, or symbol ids under conflate */
    weft_mutex lock; /* conflate: latest and dirty */
    tick *latest;
    bool *dirty;
} worker;

static struct {
    int symbols, workers, queue, cap, deadline_ms;
    long rate, ticks;
    policy pol;
    mode mode;
    const char *broker_host, *broker_port, *broker_args;
    bool json, progress;
    worker *w;
    weft_chan *orders;
    _Atomic int workers_left;
    _Atomic bool stop;
    char port_buf[16];
} P;

static struct {
    _Atomic uint64_t ticks_in, processed, dropped, conflated, backpressure;
    _Atomic uint64_t orders, risk_rejects;
    _Atomic uint64_t acks, fills, failed_deadline, failed_reject, resends, reconnects;
} C;

static weft_histogram *tick_to_ack;
/* Per hop: feed -> strategy (a tick's making to its worker taking it) and
 * strategy -> OMS (an order's sending to the OMS taking it). */
static weft_histogram *hop_feed, *hop_oms;

#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* ---- 1, 2: the feed ------------------------------------------------------------------------- */

static void route(const tick *t)
{
    worker *w = &P.w[t->sym % (uint32_t)P.workers];
    ADD(C.ticks_in, 1);
    switch (P.pol) {
    case BLOCK:
        if (weft_chan_try_send(w->in, t) == -EAGAIN) {
            ADD(C.backpressure, 1);
            weft_chan_send(w->in, t, WEFT_NEVER);
        }
        break;
    case DROP_OLDEST:
        while (weft_chan_try_send(w->in, t) == -EAGAIN) {
            tick old;
            if (weft_chan_try_recv(w->in, &old) == 0)
                ADD(C.dropped, 1);
        }
        break;
    case CONFLATE:
        weft_mutex_lock(&w->lock);
        if (w->dirty[t->sym]) {
            w->latest[t->sym] = *t; /* replaces the one still waiting */
            ADD(C.conflated, 1);
            weft_mutex_unlock(&w->lock);
        } else {
            w->latest[t->sym] = *t;
            w->dirty[t->sym] = true;
            weft_mutex_unlock(&w->lock);
            /* The channel holds each symbol at most once: there is room. */
            weft_chan_send(w->in, &t->sym, WEFT_NEVER);
        }
        break;
    }
}

/* ---- a replayed feed: a CSV file of ticks ---------------------------------------------------- */

/* --replay FILE: a CSV file with a header naming (at least) a "symbol"
 * and a "price" column, one tick per row, replayed in order at --rate. */
static struct {
    uint32_t *sym;
    double *px;
    long n, cap;
    char **names; /* symbol names, by id */
    int nnames;
    int sym_col, px_col;
    const char *path, *error;
    uint64_t error_line;
    char why[160];
} replay = {.sym_col = -1, .px_col = -1};

static int symbol_id(const char *name, size_t len)
{
    for (int i = 0; i < replay.nnames; i++) /* files of ticks have few symbols */
        if (strlen(replay.names[i]) == len && !memcmp(replay.names[i], name, len))
            return i;
    if (replay.nnames == 100000)
        return -1;
    char **names = realloc(replay.names, (size_t)(replay.nnames + 1) * sizeof *names);
    if (!names || !(names[replay.nnames] = strndup(name, len)))
        return -1;
    replay.names = names;
    return replay.nnames++;
}

static int replay_row(void *ctx, const weft_csv_record *r)
{
    (void)ctx;
    if (r->error) {
        replay.error_line = r->line;
        snprintf(replay.why, sizeof replay.why, "%s", r->error);
        return 1;
    }
    if (r->count == 0)
        return 0;
    if (replay.sym_col < 0) { /* the header */
        for (size_t i = 0; i < r->count; i++) {
            if (r->fields[i].len == 6 && !strncasecmp(r->fields[i].data, "symbol", 6))
                replay.sym_col = (int)i;
            if (r->fields[i].len == 5 && !strncasecmp(r->fields[i].data, "price", 5))
                replay.px_col = (int)i;
        }
        if (replay.sym_col < 0 || replay.px_col < 0) {
            replay.error_line = r->line;
            snprintf(replay.why, sizeof replay.why,
                     "the header names no \"symbol\" and \"price\" columns");
            return 1;
        }
        return 0;
    }
    double px;
    int need = (replay.sym_col > replay.px_col ? replay.sym_col : replay.px_col) + 1;
    if ((int)r->count < need ||
        !weft_csv_parse_number(r->fields[replay.px_col].data, r->fields[replay.px_col].len, &px) ||
        !(px > 0)) {
        replay.error_line = r->line;
        snprintf(replay.why, sizeof replay.why, "%s",
                 (int)r->count < need ? "too few fields" : "a price that is not a positive number");
        return 1;
    }
    int id = symbol_id(r->fields[replay.sym_col].data, r->fields[replay.sym_col].len);
    if (id < 0)
        return -ENOMEM;
    if (replay.n == replay.cap) {
        long cap = replay.cap ? replay.cap * 2 : 4096;
        uint32_t *sym = realloc(replay.sym, (size_t)cap * sizeof *sym);
        double *p = sym ? realloc(replay.px, (size_t)cap * sizeof *p) : NULL;
        if (sym)
            replay.sym = sym;
        if (!p)
            return -ENOMEM;
        replay.px = p;
        replay.cap = cap;
    }
    replay.sym[replay.n] = (uint32_t)id;
    replay.px[replay.n++] = px;
    return 0;
}

/* Read the whole file (ticks files are replayed many times over: keeping
 * them costs 12 bytes a tick). Returns 0, or prints why and returns 2. */
static int load_replay(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "weft pipeline: --replay %s: %s\n", path, strerror(errno));
        return 2;
    }
    weft_csv_reader *r;
    int rc = weft_csv_reader_create(&r, NULL);
    char buf[1 << 16];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        rc = weft_csv_feed(r, buf, n, replay_row, NULL);
    if (rc == 0)
        rc = weft_csv_finish(r, replay_row, NULL);
    weft_csv_reader_destroy(r);
    fclose(f);
    if (rc > 0) {
        fprintf(stderr, "weft pipeline: %s:%llu: %s\n", path, (unsigned long long)replay.error_line,
                replay.why);
        return 2;
    }
    if (rc < 0 || replay.n == 0) {
        fprintf(stderr, "weft pipeline: --replay %s: %s\n", path,
                rc < 0 ? weft_strerror(rc) : "no ticks in the file");
        return 2;
    }
    P.ticks = replay.n;
    P.symbols = replay.nnames;
    return 0;
}

/* The feed; in_task: it runs as a task of the loop (it must not block
 * the thread, so its pauses are the loop's). */
static void feed_run(bool in_task)
{
    double *px = malloc((size_t)P.symbols * sizeof *px);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (int s = 0; s < P.symbols; s++)
        px[s] = 100.0 + s;
    int64_t start = weft_now();
    for (long seq = 0; seq < P.ticks && !atomic_load(&P.stop);) {
        /* Pacing: the ticks due by now go out, then a short sleep. */
        long due = (long)((double)(weft_now() - start) * (double)P.rate / 1e9) + 1;
        if (due > P.ticks)
            due = P.ticks;
        for (; seq < due; seq++) {
            uint32_t s;
            if (replay.n) { /* a replayed file: its symbols and prices */
                s = replay.sym[seq];
                px[s] = replay.px[seq];
            } else {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                s = (uint32_t)(rng % (uint64_t)P.symbols);
                double step = ((double)(rng >> 40) / (double)(1ull << 24) - 0.5) * 0.002;
                px[s] *= 1.0 + step;
            }
            tick t = {s, (uint64_t)seq, px[s], weft_now()};
            route(&t);
        }
        if (seq < P.ticks) {
            if (in_task) {
                weft_sleep_for(100 * WEFT_USEC);
            } else {
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
            }
        }
    }
    free(px);
    for (int i = 0; i < P.workers; i++)
        weft_chan_close(P.w[i].in);
}

static void *feed_thread(void *arg)
{
    (void)arg;
    feed_run(false);
    return NULL;
}

static int feed_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    feed_run(true);
    return 0;
}

/* ---- 3: the strategy ---------------------------------------------------------------------------
 */

typedef struct sym_state {
    double fast, slow;
    int seen, sign, position;
} sym_state;

static _Atomic uint64_t next_order_id = 1;

static void on_tick(sym_state *st, const tick *t)
{
    sym_state *s = &st[t->sym];
    const double a_fast = 2.0 / (5 + 1), a_slow = 2.0 / (20 + 1);
    if (!s->seen++) {
        s->fast = s->slow = t->px;
        return;
    }
    s->fast += a_fast * (t->px - s->fast);
    s->slow += a_slow * (t->px - s->slow);
    int sign = s->fast > s->slow ? 1 : -1;
    int was = s->sign;
    s->sign = sign;
    if (!was || sign == was || s->seen < 20)
        return;
    /* A crossing: buy on the way up, sell on the way down, within the cap. */
    int qty = 10;
    if (abs(s->position + sign * qty) > P.cap) {
        ADD(C.risk_rejects, 1);
        return;
    }
    s->position += sign * qty;
    order o = {ADD(next_order_id, 1), t->sym, sign > 0 ? 'B' : 'S', qty, t->px, t->t, weft_now()};
    ADD(C.orders, 1);
    weft_chan_send(P.orders, &o, WEFT_NEVER);
}

/* A strategy worker, on a thread or as a task: the channels wait either way. */
static void worker_run(worker *w)
{
    sym_state *st = calloc((size_t)P.symbols, sizeof *st);
    for (;;) {
        tick t;
        if (P.pol == CONFLATE) {
            uint32_t sym;
            if (weft_chan_recv(w->in, &sym, WEFT_NEVER) < 0)
                break;
            weft_mutex_lock(&w->lock);
            t = w->latest[sym];
            w->dirty[sym] = false;
            weft_mutex_unlock(&w->lock);
        } else if (weft_chan_recv(w->in, &t, WEFT_NEVER) < 0) {
            break; /* closed and drained */
        }
        ADD(C.processed, 1);
        weft_histogram_record(hop_feed, weft_now() - t.t);
        on_tick(st, &t);
    }
    free(st);
    /* The last worker out closes the OMS's channel. */
    if (atomic_fetch_sub(&P.workers_left, 1) == 1)
        weft_chan_close(P.orders);
}

static void *worker_thread(void *arg)
{
    worker_run(arg);
    return NULL;
}

static int worker_task(void *arg, weft_value *result)
{
    (void)result;
    worker_run(arg);
    return 0;
}

/* ---- 4: the OMS ---------------------------------------------------------------------------------
 */

enum { SENT, ACKED, FILLED, FAILED };

typedef struct oms_order {
    order o;
    int state;
    int64_t deadline;
    bool known; /* an order with this id exists */
} oms_order;

static struct {
    oms_order *book; /* by id */
    size_t cap;
    uint64_t outstanding, max_id;
    uint64_t first_open; /* ids below it are all filled or failed: sweeps start here */
    int fd;
    bool connected, input_done;
    weft_future *reader;
} O;

static oms_order *slot(uint64_t id)
{
    if (id >= O.cap) {
        size_t cap = O.cap ? O.cap : 4096;
        while (cap <= id)
            cap *= 2;
        oms_order *b = realloc(O.book, cap * sizeof *b);
        if (!b)
            return NULL;
        memset(b + O.cap, 0, (cap - O.cap) * sizeof *b);
        O.book = b;
        O.cap = cap;
    }
    return &O.book[id];
}

static void finish(oms_order *x, int state)
{
    if (x->state == FILLED || x->state == FAILED)
        return;
    x->state = state;
    O.outstanding--;
}

static int send_order(const oms_order *x)
{
    char line[128];
    int n = snprintf(line, sizeof line, "NEW o%llu S%u %c %d %.4f\n", (unsigned long long)x->o.id,
                     x->o.sym, x->o.side, x->o.qty, x->o.px);
    return weft_write_all(O.fd, line, (size_t)n, weft_deadline_in(WEFT_SEC), NULL);
}

static int reader_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    char buf[8192]; /* a task's stack is 64 KiB */
    size_t len = 0;
    for (;;) {
        int n = weft_read(O.fd, buf + len, sizeof buf - len, WEFT_NEVER);
        if (n <= 0)
            break;
        len += (size_t)n;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            *nl = 0;
            char kind[16];
            unsigned long long id;
            if (sscanf(start, "%15s o%llu", kind, &id) == 2 && id < O.cap && O.book[id].known) {
                oms_order *x = &O.book[id];
                if (!strcmp(kind, "ACK") && x->state == SENT) {
                    x->state = ACKED;
                    ADD(C.acks, 1);
                    weft_histogram_record(tick_to_ack, weft_now() - x->o.t_tick);
                } else if (!strcmp(kind, "FILL") && x->state != FILLED && x->state != FAILED) {
                    if (x->state == SENT) {
                        ADD(C.acks, 1); /* the ack was lost with a connection */
                        weft_histogram_record(tick_to_ack, weft_now() - x->o.t_tick);
                    }
                    finish(x, FILLED);
                    ADD(C.fills, 1);
                } else if (!strcmp(kind, "REJECT") && x->state != FAILED) {
                    finish(x, FAILED);
                    ADD(C.failed_reject, 1);
                }
            }
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
    }
    O.connected = false;
    return 0;
}

/* Connect (again), start the reader, and resend what has no fill yet. */
static int connect_broker(bool resend)
{
    int64_t backoff = 10 * WEFT_MSEC;
    for (;;) {
        int rc = weft_tcp_connect(P.broker_host, P.broker_port, weft_deadline_in(WEFT_SEC), &O.fd);
        if (rc == 0)
            break;
        if (rc == -ECANCELED || (rc = weft_sleep_for(backoff)) < 0)
            return rc;
        backoff = backoff < 500 * WEFT_MSEC ? backoff * 2 : backoff;
    }
    O.connected = true;
    int rc = weft_spawn(NULL, reader_task, NULL, &(weft_spawn_opts){.name = "oms-read"}, &O.reader);
    if (rc < 0)
        return rc;
    if (resend) {
        ADD(C.reconnects, 1);
        for (uint64_t id = O.first_open; id <= O.max_id && id < O.cap; id++) {
            oms_order *x = &O.book[id];
            if (x->known && x->state != FILLED && x->state != FAILED) {
                ADD(C.resends, 1);
                if (send_order(x) < 0)
                    break; /* lost again: the next round resends */
            }
        }
    }
    return 0;
}

/* Lost the connection: drop it, reconnect, resend. */
static int reconnect(void)
{
    if (O.reader) {
        weft_future_cancel(O.reader);
        weft_future_wait(O.reader, WEFT_NEVER);
        weft_future_unref(O.reader);
        O.reader = NULL;
    }
    weft_close(O.fd);
    return connect_broker(true);
}

/* Orders from the strategy go out as they come. */
static int intake_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    for (;;) {
        order o;
        int rc = weft_chan_recv(P.orders, &o, WEFT_NEVER);
        if (rc < 0)
            break; /* closed and drained: no more orders */
        weft_histogram_record(hop_oms, weft_now() - o.t_emit);
        oms_order *x = slot(o.id);
        if (!x)
            return -ENOMEM;
        *x = (oms_order){o, SENT, weft_now() + (int64_t)P.deadline_ms * WEFT_MSEC, true};
        O.outstanding++;
        if (o.id > O.max_id)
            O.max_id = o.id;
        if (O.connected)
            send_order(x); /* a failed write is found by the reader */
    }
    O.input_done = true;
    return 0;
}

static int oms_main(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    O.first_open = 1; /* ids start at 1 */
    int rc = connect_broker(false);
    if (rc < 0)
        return rc;
    /* The stages that run on this loop in the coroutine and mixed modes. */
    weft_future *stages[65];
    int nstages = 0;
    if (P.mode != THREADS && weft_spawn(NULL, feed_task, NULL, &(weft_spawn_opts){.name = "feed"},
                                        &stages[nstages]) == 0)
        nstages++;
    for (int i = 0; P.mode == COROUTINES && i < P.workers; i++)
        if (weft_spawn(NULL, worker_task, &P.w[i], &(weft_spawn_opts){.name = "strategy"},
                       &stages[nstages]) == 0)
            nstages++;
    weft_future *intake;
    if ((rc = weft_spawn(NULL, intake_task, NULL, &(weft_spawn_opts){.name = "oms-in"}, &intake)) <
        0)
        return rc;
    /* Every 10 ms: deadlines, the connection, the end. */
    while (!(O.input_done && O.outstanding == 0)) {
        weft_sleep_for(10 * WEFT_MSEC);
        int64_t now = weft_now();
        /* Orders end roughly in id order: skip the ended prefix for good. */
        while (O.first_open <= O.max_id && O.first_open < O.cap && O.book[O.first_open].known &&
               (O.book[O.first_open].state == FILLED || O.book[O.first_open].state == FAILED))
            O.first_open++;
        for (uint64_t id = O.first_open; id <= O.max_id && id < O.cap; id++) {
            oms_order *x = &O.book[id];
            if (x->known && x->state != FILLED && x->state != FAILED && now > x->deadline) {
                finish(x, FAILED);
                ADD(C.failed_deadline, 1);
            }
        }
        if (!O.connected && (rc = reconnect()) < 0)
            break;
    }
    weft_future_wait(intake, WEFT_NEVER);
    weft_future_unref(intake);
    for (int i = 0; i < nstages; i++) {
        weft_future_wait(stages[i], WEFT_NEVER);
        weft_future_unref(stages[i]);
    }
    if (O.reader) {
        weft_future_cancel(O.reader);
        weft_future_wait(O.reader, WEFT_NEVER);
        weft_future_unref(O.reader);
    }
    weft_close(O.fd);
    return rc < 0 ? rc : 0;
}

static void *oms_thread(void *arg)
{
    int *rc = arg;
    *rc = weft_run(oms_main, NULL, NULL, NULL);
    return NULL;
}

/* ---- the broker child -------------------------------------------------------------------------
 */

static pid_t broker_pid;

static int start_broker(void)
{
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -errno;
    char *argv[32] = {"weft", "broker", "--port", "0"};
    int k = 4;
    char args[256] = "";
    if (P.broker_args) {
        snprintf(args, sizeof args, "%s", P.broker_args);
        for (char *tok = strtok(args, " "); tok && k < 30; tok = strtok(NULL, " "))
            argv[k++] = tok;
    }
    argv[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    int rc = posix_spawn(&broker_pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return -rc;
    }
    /* Its first line says where it listens. */
    char line[256];
    FILE *f = fdopen(pipefd[0], "r");
    bool found = false;
    while (!found && f && fgets(line, sizeof line, f)) {
        char *at = strstr(line, "127.0.0.1:");
        if (at) {
            snprintf(P.port_buf, sizeof P.port_buf, "%d", atoi(at + 10));
            found = true;
        }
    }
    if (f)
        fclose(f);
    if (!found)
        return -EIO;
    P.broker_host = "127.0.0.1";
    P.broker_port = P.port_buf;
    return 0;
}

static void stop_broker(void)
{
    if (broker_pid > 0) {
        kill(broker_pid, SIGINT);
        waitpid(broker_pid, NULL, 0);
    }
}

/* ---- 5: the report
 * ------------------------------------------------------------------------------- */

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&P.stop, true);
}

/* Once a second on a terminal: rates over the last second, the depth of
 * each queue, backpressure, and tick-to-ack so far. */
static void live_line(double s)
{
    static uint64_t last_ticks, last_orders;
    static double last_s;
    weft_histogram_summary h;
    weft_histogram_summarize(tick_to_ack, &h);
    uint64_t ticks = GET(C.ticks_in), orders = GET(C.orders);
    double span = s - last_s > 0 ? s - last_s : 1;
    char depths[128];
    size_t n = 0;
    for (int i = 0; i < P.workers && n < sizeof depths - 16; i++)
        n += (size_t)snprintf(depths + n, sizeof depths - n, "%s%zu", i ? "/" : "",
                              weft_chan_len(P.w[i].in));
    fprintf(stderr,
            "\r  %.0f s: %.0f ticks/s, %.0f orders/s, queues %s -> %zu, backpressure %llu, "
            "fills %llu, ack p50 %.0f p99 %.0f p99.9 %.0f us   ",
            s, (double)(ticks - last_ticks) / span, (double)(orders - last_orders) / span, depths,
            weft_chan_len(P.orders), (unsigned long long)GET(C.backpressure),
            (unsigned long long)GET(C.fills), (double)h.p50 / 1e3, (double)h.p99 / 1e3,
            (double)h.p999 / 1e3);
    last_ticks = ticks;
    last_orders = orders;
    last_s = s;
}

static void report(double seconds, bool ok)
{
    weft_histogram_summary h, h1, h2;
    weft_histogram_summarize(tick_to_ack, &h);
    weft_histogram_summarize(hop_feed, &h1);
    weft_histogram_summarize(hop_oms, &h2);
    uint64_t failures = GET(C.failed_deadline) + GET(C.failed_reject);
    if (P.json) {
        printf("{\"mode\":\"%s\",\"policy\":\"%s\",\"seconds\":%.4f,\"ticks_in\":%llu,"
               "\"processed\":%llu,"
               "\"dropped\":%llu,\"conflated\":%llu,\"backpressure\":%llu,\"orders\":%llu,"
               "\"risk_rejects\":%llu,\"acks\":%llu,\"fills\":%llu,\"failed_deadline\":%llu,"
               "\"failed_reject\":%llu,\"resends\":%llu,\"reconnects\":%llu,"
               "\"tick_to_ack_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
               "\"hop_us\":{\"feed_strategy\":{\"p50\":%.2f,\"p99\":%.2f},"
               "\"strategy_oms\":{\"p50\":%.2f,\"p99\":%.2f}},"
               "\"consistent\":%s}\n",
               mode_names[P.mode], policy_names[P.pol], seconds,
               (unsigned long long)GET(C.ticks_in), (unsigned long long)GET(C.processed),
               (unsigned long long)GET(C.dropped), (unsigned long long)GET(C.conflated),
               (unsigned long long)GET(C.backpressure), (unsigned long long)GET(C.orders),
               (unsigned long long)GET(C.risk_rejects), (unsigned long long)GET(C.acks),
               (unsigned long long)GET(C.fills), (unsigned long long)GET(C.failed_deadline),
               (unsigned long long)GET(C.failed_reject), (unsigned long long)GET(C.resends),
               (unsigned long long)GET(C.reconnects), (double)h.p50 / 1e3, (double)h.p99 / 1e3,
               (double)h.p999 / 1e3, (double)h.max / 1e3, (double)h1.p50 / 1e3,
               (double)h1.p99 / 1e3, (double)h2.p50 / 1e3, (double)h2.p99 / 1e3,
               ok ? "true" : "false");
        return;
    }
    printf("weft pipeline: %s, %d symbols, %d workers, queues of %d, policy %s, %.2f s\n\n",
           mode_names[P.mode], P.symbols, P.workers, P.queue, policy_names[P.pol], seconds);
    printf("  ticks in        %12llu  (%.0f/s)\n", (unsigned long long)GET(C.ticks_in),
           (double)GET(C.ticks_in) / seconds);
    printf("  processed       %12llu\n", (unsigned long long)GET(C.processed));
    printf("  dropped         %12llu\n", (unsigned long long)GET(C.dropped));
    printf("  conflated       %12llu\n", (unsigned long long)GET(C.conflated));
    printf("  backpressure    %12llu  (feed waits on a full queue)\n",
           (unsigned long long)GET(C.backpressure));
    printf("  orders out      %12llu  (risk rejects %llu)\n", (unsigned long long)GET(C.orders),
           (unsigned long long)GET(C.risk_rejects));
    printf("  acks            %12llu\n", (unsigned long long)GET(C.acks));
    printf("  fills           %12llu\n", (unsigned long long)GET(C.fills));
    printf("  failures        %12llu  (deadline %llu, rejected %llu)\n",
           (unsigned long long)failures, (unsigned long long)GET(C.failed_deadline),
           (unsigned long long)GET(C.failed_reject));
    printf("  resends         %12llu  (reconnects %llu)\n", (unsigned long long)GET(C.resends),
           (unsigned long long)GET(C.reconnects));
    printf("  tick-to-ack     p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us\n",
           (double)h.p50 / 1e3, (double)h.p99 / 1e3, (double)h.p999 / 1e3, (double)h.max / 1e3);
    printf("  per hop         feed -> strategy p50 %.1f us p99 %.1f us; strategy -> OMS p50 %.1f "
           "us p99 %.1f us\n",
           (double)h1.p50 / 1e3, (double)h1.p99 / 1e3, (double)h2.p50 / 1e3, (double)h2.p99 / 1e3);
    printf("\n%s\n", ok ? "every tick accounted for; every order filled or failed, none lost"
                        : "INCONSISTENT: something was lost (see the counts)");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: weft pipeline [options]\n"
            "Feed -> strategy -> OMS: synthetic ticks, moving-average crossovers, orders to a\n"
            "broker over TCP, with bounded queues between the stages; a report that proves\n"
            "nothing was lost.\n\n"
            "  --symbols K          symbols (default 50)\n"
            "  --rate R             ticks per second (default 100000)\n"
            "  --ticks N            ticks in all (default 300000)\n"
            "  --replay FILE        replay the ticks of a CSV file (columns symbol and price)\n"
            "                       instead of the random walk, at --rate\n"
            "  --workers W          strategy workers (default 2)\n"
            "  --queue Q            ticks each queue holds (default 1024)\n"
            "  --policy P           block, drop-oldest or conflate (default block)\n"
            "  --mode M             threads (default), coroutines (every stage on one loop)\n"
            "                       or mixed (feed and OMS on the loop, strategy on threads)\n"
            "  --broker HOST:PORT   a running `weft broker` (default: start one)\n"
            "  --broker-args \"..\"   options for the broker started (e.g. \"--drop-after 50\")\n"
            "  --order-deadline MS  an order without a fill by then fails (default 2000)\n"
            "  --position-cap N     the most a symbol's position may reach (default 100)\n"
            "  --json               the report as JSON\n"
            "  --no-progress        no live line on a terminal\n");
}

static bool num(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int weft_cmd_pipeline(int argc, char **argv)
{
    long symbols = 50, rate = 100000, ticks = 300000, workers = 2, queue = 1024, deadline = 2000,
         cap = 100;
    P.progress = isatty(STDERR_FILENO);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        long *target = NULL, lo = 1, hi = 100000000;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            P.json = true;
            continue;
        } else if (!strcmp(a, "--no-progress")) {
            P.progress = false;
            continue;
        } else if (!strcmp(a, "--policy") && more) {
            const char *v = argv[++i];
            int k = 0;
            while (k < 3 && strcmp(v, policy_names[k]))
                k++;
            if (k == 3) {
                fprintf(stderr,
                        "weft pipeline: --policy is block, drop-oldest or conflate, not '%s'\n", v);
                return 2;
            }
            P.pol = (policy)k;
            continue;
        } else if (!strcmp(a, "--mode") && more) {
            const char *v = argv[++i];
            int k = 0;
            while (k < 3 && strcmp(v, mode_names[k]))
                k++;
            if (k == 3) {
                fprintf(stderr, "weft pipeline: --mode is threads, coroutines or mixed, not '%s'\n",
                        v);
                return 2;
            }
            P.mode = (mode)k;
            continue;
        } else if (!strcmp(a, "--broker") && more) {
            static char host[256];
            snprintf(host, sizeof host, "%s", argv[++i]);
            char *colon = strrchr(host, ':');
            if (!colon || !colon[1]) {
                fprintf(stderr, "weft pipeline: --broker wants HOST:PORT, not '%s'\n", argv[i]);
                return 2;
            }
            *colon = 0;
            P.broker_host = host;
            P.broker_port = colon + 1;
            continue;
        } else if (!strcmp(a, "--replay") && more) {
            replay.path = argv[++i];
            continue;
        } else if (!strcmp(a, "--broker-args") && more) {
            P.broker_args = argv[++i];
            continue;
        } else if (!strcmp(a, "--symbols") && more) {
            target = &symbols, hi = 100000;
        } else if (!strcmp(a, "--rate") && more) {
            target = &rate;
        } else if (!strcmp(a, "--ticks") && more) {
            target = &ticks;
        } else if (!strcmp(a, "--workers") && more) {
            target = &workers, hi = 64;
        } else if (!strcmp(a, "--queue") && more) {
            target = &queue, hi = 1 << 24;
        } else if (!strcmp(a, "--order-deadline") && more) {
            target = &deadline, hi = 3600000;
        } else if (!strcmp(a, "--position-cap") && more) {
            target = &cap;
        } else {
            fprintf(stderr, "weft pipeline: unknown option or missing value: '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (!num(argv[++i], lo, hi, target)) {
            fprintf(stderr, "weft pipeline: %s wants %ld to %ld, not '%s'\n", a, lo, hi, argv[i]);
            return 2;
        }
    }
    P.symbols = (int)symbols, P.rate = rate, P.ticks = ticks, P.workers = (int)workers;
    P.queue = (int)queue, P.deadline_ms = (int)deadline, P.cap = (int)cap;
    if (replay.path && load_replay(replay.path) != 0)
        return 2;
    int rc = weft_histogram_create(&tick_to_ack, NULL);
    if (rc == 0)
        rc = weft_histogram_create(&hop_feed, NULL);
    if (rc == 0)
        rc = weft_histogram_create(&hop_oms, NULL);
    if (rc == 0 && !P.broker_host && (rc = start_broker()) < 0)
        fprintf(stderr, "weft pipeline: cannot start a broker: %s\n", weft_strerror(rc));
    if (rc < 0)
        return 1;
    /* The queues. */
    P.w = calloc((size_t)P.workers, sizeof *P.w);
    rc = weft_chan_create(
        &P.orders,
        &(weft_chan_opts){.elem_size = sizeof(order), .capacity = 4096, .name = "orders"});
    for (int i = 0; rc == 0 && i < P.workers; i++) {
        worker *w = &P.w[i];
        w->index = i;
        if (P.pol == CONFLATE) {
            weft_mutex_init(&w->lock, "conflate");
            w->latest = calloc((size_t)P.symbols, sizeof *w->latest);
            w->dirty = calloc((size_t)P.symbols, sizeof *w->dirty);
            rc = weft_chan_create(&w->in, &(weft_chan_opts){.elem_size = sizeof(uint32_t),
                                                            .capacity = (size_t)P.symbols,
                                                            .name = "ticks"});
        } else {
            rc = weft_chan_create(&w->in, &(weft_chan_opts){.elem_size = sizeof(tick),
                                                            .capacity = (size_t)P.queue,
                                                            .name = "ticks"});
        }
    }
    if (rc < 0) {
        fprintf(stderr, "weft pipeline: %s\n", weft_strerror(rc));
        stop_broker();
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    atomic_store(&P.workers_left, P.workers);
    int64_t t0 = weft_now();
    int oms_rc = 0;
    pthread_t feed, oms;
    pthread_create(&oms, NULL, oms_thread, &oms_rc);
    for (int i = 0; P.mode != COROUTINES && i < P.workers; i++)
        pthread_create(&P.w[i].thread, NULL, worker_thread, &P.w[i]);
    if (P.mode == THREADS)
        pthread_create(&feed, NULL, feed_thread, NULL);
    /* The live line while it runs. */
    while (pthread_tryjoin_np(oms, NULL) == EBUSY) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
        static int64_t last;
        if (P.progress && weft_now() - last >= WEFT_SEC) {
            last = weft_now();
            live_line((double)(last - t0) / 1e9);
        }
    }
    if (P.mode == THREADS)
        pthread_join(feed, NULL);
    for (int i = 0; P.mode != COROUTINES && i < P.workers; i++)
        pthread_join(P.w[i].thread, NULL);
    double seconds = (double)(weft_now() - t0) / 1e9;
    if (P.progress)
        fprintf(stderr, "\r%120s\r", "");
    stop_broker();
    bool ok = oms_rc == 0 &&
              GET(C.ticks_in) == GET(C.processed) + GET(C.dropped) + GET(C.conflated) &&
              GET(C.orders) == GET(C.fills) + GET(C.failed_deadline) + GET(C.failed_reject);
    if (oms_rc < 0)
        fprintf(stderr, "weft pipeline: the OMS failed: %s\n", weft_strerror(oms_rc));
    report(seconds, ok);
    for (int i = 0; i < P.workers; i++) {
        weft_chan_destroy(P.w[i].in);
        if (P.pol == CONFLATE)
            weft_mutex_destroy(&P.w[i].lock);
        free(P.w[i].latest);
        free(P.w[i].dirty);
    }
    free(P.w);
    weft_chan_destroy(P.orders);
    weft_histogram_destroy(tick_to_ack);
    weft_histogram_destroy(hop_feed);
    weft_histogram_destroy(hop_oms);
    free(O.book);
    free(replay.sym);
    free(replay.px);
    for (int i = 0; i < replay.nnames; i++)
        free(replay.names[i]);
    free(replay.names);
    return ok ? 0 : 1;
}
