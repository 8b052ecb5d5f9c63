/* The lock-order checker (lockdep): see include/weft/sync.h for what it
 * reports, src/sync/lockdep.h for how weft_mutex calls it.
 *
 * Model: mutexes are grouped into lock classes by name. Each thread keeps a
 * stack of the mutexes it holds (with the class and the site each was taken
 * at). Before a blocking acquisition of B, for every held A of another
 * class, the checker makes sure the edge A -> B ("B taken while A held") is
 * in one process-wide graph. Adding a new edge first searches the graph for
 * a path B -> ... -> A; if there is one, the new edge closes a cycle, which
 * means two threads (or more) running those paths at once can deadlock, and
 * the cycle is reported. An edge is added only once, so a cycle is reported
 * only once, when it first becomes possible.
 *
 * Synchronization:
 * - graph_lock (a weft__lock, never a weft_mutex, so the checker never
 *   checks itself) guards the class table, the classes' edge lists and BFS
 *   fields, the edges, epoch_counter and the handler. Classes and their
 *   names are never freed, so a class pointer read once stays valid
 *   (weft_mutex.lockdep_class caches it: stored with release after the
 *   class is built, loaded with acquire).
 * - edge_cache: a lock-free set of known (from, to) edges, so the common
 *   case, an order seen before, takes no lock. Written under graph_lock,
 *   read without it; a miss only sends the caller to the graph, which is
 *   the authority, so relaxed accesses suffice.
 * - weft__lockdep_state: 0 (off) or the current epoch, see lockdep.h.
 * - Held stacks are thread-local: only their thread touches them.
 * - Reports are built under graph_lock into the reporting thread's stack,
 *   then printed and handed to the handler after the lock is released, so
 *   a handler may use weft primitives. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/sync.h>

#include "sync/lock.h"
#include "sync/lockdep.h"

#ifndef WEFT_LOCKDEP_DEFAULT
#define WEFT_LOCKDEP_DEFAULT 0
#endif

_Atomic uint32_t weft__lockdep_state = WEFT_LOCKDEP_DEFAULT ? 1 : 0;

enum {
    CLASS_BUCKETS = 256,
    EDGE_CACHE_BITS = 12,
    EDGE_CACHE_SLOTS = 1 << EDGE_CACHE_BITS,
    EDGE_CACHE_PROBES = 8,
    REPORT_TEXT_MAX = 4096,
};

typedef struct weft__lockdep_class lock_class;
typedef struct edge edge;

struct weft__lockdep_class {
    char *name;             /* owned copy */
    uint32_t id;            /* 1, 2, ...: the edge cache key */
    lock_class *hash_next;  /* class table chain */
    edge *out;              /* edges from this class */
    uint32_t mark;          /* BFS: visited in search number `mark` */
    edge *via;              /* BFS: the edge it was reached through */
    lock_class *queue_next; /* BFS queue */
};

struct edge {
    lock_class *from, *to;
    const char *from_file; /* where `from` was taken */
    int from_line;
    const char *to_file; /* where `to` was taken while `from` was held */
    int to_line;
    int thread;
    edge *next_out;
};

typedef struct held {
    weft_mutex *m; /* compared, never dereferenced: it may be gone */
    lock_class *cls;
    const char *file;
    int line;
} held;

typedef struct held_stack {
    uint32_t epoch;
    int depth;
    held entries[WEFT_LOCKDEP_MAX_DEPTH];
} held_stack;

static weft__lock graph_lock = WEFT__LOCK_INIT;
static lock_class *class_table[CLASS_BUCKETS];
static uint32_t class_count;
static uint32_t bfs_search;
static uint32_t epoch_counter = 1;
static weft_lockdep_handler *handler;
static void *handler_arg;

static _Atomic uint64_t edge_cache[EDGE_CACHE_SLOTS];
static _Atomic uint64_t violation_count;
static _Atomic int depth_warned;

static _Thread_local held_stack tls_held;
/* The held stack of the loop task running on this thread, if any: a task
 * may hold a lock across a suspension while another task of the thread
 * runs, so each task has its own (weft__lockdep_use_stack). */
static _Thread_local held_stack *tls_task_held;
static _Thread_local int tls_tid;

size_t weft__lockdep_stack_size(void)
{
    return sizeof(held_stack);
}

void weft__lockdep_use_stack(void *stack)
{
    tls_task_held = stack;
}

static int thread_id(void)
{
    if (tls_tid == 0)
        tls_tid = (int)syscall(SYS_gettid);
    return tls_tid;
}

/* The calling thread's held stack, emptied if it belongs to an older epoch.
 * Returns NULL if the checker was switched off meanwhile. */
static held_stack *current_stack(void)
{
    uint32_t epoch = atomic_load_explicit(&weft__lockdep_state, memory_order_relaxed);
    if (epoch == 0)
        return NULL;
    held_stack *hs = tls_task_held ? tls_task_held : &tls_held;
    if (hs->epoch != epoch) {
        hs->epoch = epoch;
        hs->depth = 0;
    }
    return hs;
}

/* ---- classes ---------------------------------------------------------- */

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Find or create the class called `key`. Caller holds graph_lock.
 * Returns NULL only if memory ran out (the mutex then goes unchecked). */
static lock_class *class_lookup_locked(const char *key)
{
    uint32_t b = hash_name(key) % CLASS_BUCKETS;
    for (lock_class *c = class_table[b]; c; c = c->hash_next)
        if (strcmp(c->name, key) == 0)
            return c;
    lock_class *c = calloc(1, sizeof *c);
    size_t len = strlen(key);
    char *name = malloc(len + 1);
    if (!c || !name) {
        free(c);
        free(name);
        return NULL;
    }
    memcpy(name, key, len + 1);
    c->name = name;
    c->id = ++class_count;
    c->hash_next = class_table[b];
    class_table[b] = c;
    return c;
}

static lock_class *class_of(weft_mutex *m)
{
    /* Acquire pairs with the release store below: the class's name is
     * visible before its pointer is. */
    lock_class *c = atomic_load_explicit(&m->lockdep_class, memory_order_acquire);
    if (c)
        return c;
    char site[512];
    const char *key = m->name;
    if (!key) {
        if (m->init_file)
            snprintf(site, sizeof site, "%s:%d", m->init_file, m->init_line);
        else
            snprintf(site, sizeof site, "(unnamed)");
        key = site;
    }
    weft__lock_acquire(&graph_lock);
    c = class_lookup_locked(key);
    weft__lock_release(&graph_lock);
    if (c)
        atomic_store_explicit(&m->lockdep_class, c, memory_order_release);
    return c;
}

/* ---- the edge cache ---------------------------------------------------- */

static uint64_t edge_key(const lock_class *from, const lock_class *to)
{
    return (uint64_t)from->id << 32 | to->id; /* ids start at 1: never 0 */
}

static size_t cache_slot(uint64_t key)
{
    return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - EDGE_CACHE_BITS));
}

static bool edge_cached(const lock_class *from, const lock_class *to)
{
    uint64_t key = edge_key(from, to);
    size_t slot = cache_slot(key);
    for (int i = 0; i < EDGE_CACHE_PROBES; i++) {
        uint64_t v = atomic_load_explicit(&edge_cache[(slot + i) % EDGE_CACHE_SLOTS],
                                          memory_order_relaxed);
        if (v == key)
            return true;
        if (v == 0)
            return false;
    }
    return false;
}

/* Caller holds graph_lock. A full neighbourhood just leaves the edge to the
 * locked path. */
static void cache_insert_locked(const lock_class *from, const lock_class *to)
{
    uint64_t key = edge_key(from, to);
    size_t slot = cache_slot(key);
    for (int i = 0; i < EDGE_CACHE_PROBES; i++) {
        _Atomic uint64_t *s = &edge_cache[(slot + i) % EDGE_CACHE_SLOTS];
        uint64_t v = atomic_load_explicit(s, memory_order_relaxed);
        if (v == key)
            return;
        if (v == 0) {
            atomic_store_explicit(s, key, memory_order_relaxed);
            return;
        }
    }
}

/* ---- reports ------------------------------------------------------------ */

typedef struct report_buf {
    weft_lockdep_edge edges[WEFT_LOCKDEP_MAX_CYCLE];
    size_t nedges;
    bool truncated;
    bool recursive;
    weft_lockdep_handler *fn;
    void *arg;
    char text[REPORT_TEXT_MAX];
    size_t len;
} report_buf;

static void fill_edge(weft_lockdep_edge *out, const edge *e)
{
    out->held = e->from->name;
    out->held_file = e->from_file;
    out->held_line = e->from_line;
    out->taken = e->to->name;
    out->taken_file = e->to_file;
    out->taken_line = e->to_line;
    out->thread = e->thread;
}

static void append(report_buf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(report_buf *r, const char *fmt, ...)
{
    if (r->len >= sizeof r->text - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text + r->len, sizeof r->text - r->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->len += (size_t)n < sizeof r->text - r->len ? (size_t)n : sizeof r->text - 1 - r->len;
}

static void format_report(report_buf *r)
{
    const weft_lockdep_edge *e = r->edges;
    if (r->recursive) {
        append(r,
               "weft lockdep: DEADLOCK: thread %d is taking \"%s\" at %s:%d\n"
               "  while already holding it (taken at %s:%d); a weft_mutex is not recursive.\n",
               e[0].thread, e[0].taken, e[0].taken_file, e[0].taken_line, e[0].held_file,
               e[0].held_line);
        return;
    }
    append(r, "weft lockdep: possible DEADLOCK, lock order cycle:");
    for (size_t i = 0; i < r->nedges; i++)
        append(r, " \"%s\" ->", r->edges[i].held);
    append(r, r->truncated ? " ... -> \"%s\"\n" : " \"%s\"\n", e[0].held);
    append(r, "  thread %d is taking \"%s\" at %s:%d\n", e[0].thread, e[0].taken,
           e[0].taken_file, e[0].taken_line);
    append(r, "    while holding \"%s\", taken at %s:%d\n", e[0].held, e[0].held_file,
           e[0].held_line);
    append(r, r->nedges == 2 ? "  but the opposite order was seen before:\n"
                             : "  and the rest of the cycle was seen before:\n");
    for (size_t i = 1; i < r->nedges; i++) {
        append(r, "  thread %d took \"%s\" at %s:%d\n", e[i].thread, e[i].taken,
               e[i].taken_file, e[i].taken_line);
        append(r, "    while holding \"%s\", taken at %s:%d\n", e[i].held, e[i].held_file,
               e[i].held_line);
    }
    if (r->truncated)
        append(r, "  (cycle cut after %d edges)\n", WEFT_LOCKDEP_MAX_CYCLE);
    append(r,
           "  Threads running these paths at the same time can each wait for %s forever.\n"
           "  Take these locks in one fixed order everywhere.\n",
           r->nedges == 2 ? "the other" : "the next");
}

/* Print and hand out a report; called with no internal lock held. */
static void emit(report_buf *r)
{
    r->len = 0;
    r->text[0] = '\0';
    format_report(r);
    fputs(r->text, stderr);
    fflush(stderr);
    if (r->fn) {
        weft_lockdep_report rep = {
            .nedges = r->nedges,
            .truncated = r->truncated,
            .edges = r->edges,
            .text = r->text,
        };
        r->fn(&rep, r->arg);
    }
}

/* ---- the graph ---------------------------------------------------------- */

/* Breadth-first search for a path src -> ... -> dst. Caller holds
 * graph_lock. Returns the path's last edge (its `via` chain leads back to
 * src), or NULL. Breadth first, so the reported cycle is a shortest one. */
static edge *find_path_locked(lock_class *src, lock_class *dst)
{
    if (++bfs_search == 0) {
        /* Search numbers wrapped: clear every mark so none looks current. */
        for (int b = 0; b < CLASS_BUCKETS; b++)
            for (lock_class *c = class_table[b]; c; c = c->hash_next)
                c->mark = 0;
        bfs_search = 1;
    }
    src->mark = bfs_search;
    src->queue_next = NULL;
    lock_class *head = src, *tail = src;
    while (head) {
        lock_class *c = head;
        head = head->queue_next;
        for (edge *e = c->out; e; e = e->next_out) {
            lock_class *t = e->to;
            if (t->mark == bfs_search)
                continue;
            t->mark = bfs_search;
            t->via = e;
            if (t == dst)
                return e;
            t->queue_next = NULL;
            if (head)
                tail->queue_next = t;
            else
                head = t;
            tail = t;
        }
    }
    return NULL;
}

/* Record that h's class was held while `to` was taken at file:line; report
 * if that closes a cycle. */
static void add_edge(const held *h, lock_class *to, const char *file, int line)
{
    report_buf r;
    r.nedges = 0;
    r.truncated = false;
    r.recursive = false;

    weft__lock_acquire(&graph_lock);
    for (edge *e = h->cls->out; e; e = e->next_out) {
        if (e->to == to) {
            /* Known, but evicted from (or never fitted in) the cache. */
            cache_insert_locked(h->cls, to);
            weft__lock_release(&graph_lock);
            return;
        }
    }
    edge *e = malloc(sizeof *e);
    if (!e) {
        weft__lock_release(&graph_lock);
        return; /* out of memory: this order goes unchecked */
    }
    *e = (edge){
        .from = h->cls,
        .to = to,
        .from_file = h->file,
        .from_line = h->line,
        .to_file = file,
        .to_line = line,
        .thread = thread_id(),
    };
    /* Search before linking the new edge: a path back from `to` to `from`
     * plus the new edge is the cycle. */
    edge *last = find_path_locked(to, h->cls);
    e->next_out = h->cls->out;
    h->cls->out = e;
    cache_insert_locked(h->cls, to);
    if (last) {
        size_t path_len = 0;
        for (edge *p = last; p; p = p->from == to ? NULL : p->from->via)
            path_len++;
        fill_edge(&r.edges[0], e);
        size_t j = path_len;
        for (edge *p = last; p; p = p->from == to ? NULL : p->from->via, j--)
            if (j < WEFT_LOCKDEP_MAX_CYCLE)
                fill_edge(&r.edges[j], p);
        r.truncated = path_len >= WEFT_LOCKDEP_MAX_CYCLE;
        r.nedges = r.truncated ? WEFT_LOCKDEP_MAX_CYCLE : path_len + 1;
        r.fn = handler;
        r.arg = handler_arg;
        atomic_fetch_add_explicit(&violation_count, 1, memory_order_relaxed);
    }
    weft__lock_release(&graph_lock);
    if (last)
        emit(&r);
}

static void report_recursion(const held *h, const char *file, int line)
{
    report_buf r;
    r.nedges = 1;
    r.truncated = false;
    r.recursive = true;
    r.edges[0] = (weft_lockdep_edge){
        .held = h->cls->name,
        .held_file = h->file,
        .held_line = h->line,
        .taken = h->cls->name,
        .taken_file = file,
        .taken_line = line,
        .thread = thread_id(),
    };
    weft__lock_acquire(&graph_lock);
    r.fn = handler;
    r.arg = handler_arg;
    weft__lock_release(&graph_lock);
    atomic_fetch_add_explicit(&violation_count, 1, memory_order_relaxed);
    emit(&r);
}

static void push(held_stack *hs, weft_mutex *m, lock_class *cls, const char *file, int line)
{
    if (hs->depth == WEFT_LOCKDEP_MAX_DEPTH) {
        if (!atomic_exchange_explicit(&depth_warned, 1, memory_order_relaxed))
            fprintf(stderr,
                    "weft lockdep: a thread holds more than %d mutexes; deeper ones are not "
                    "checked\n",
                    WEFT_LOCKDEP_MAX_DEPTH);
        return;
    }
    hs->entries[hs->depth++] = (held){.m = m, .cls = cls, .file = file, .line = line};
}

/* ---- hooks called by the mutex ---------------------------------------- */

void weft__lockdep_acquire(weft_mutex *m, const char *file, int line)
{
    held_stack *hs = current_stack();
    if (!hs)
        return;
    lock_class *cls = class_of(m);
    if (!cls)
        return;
    for (int i = 0; i < hs->depth; i++) {
        const held *h = &hs->entries[i];
        if (h->m == m)
            report_recursion(h, file, line);
        else if (h->cls != cls && !edge_cached(h->cls, cls))
            add_edge(h, cls, file, line);
    }
    push(hs, m, cls, file, line);
}

void weft__lockdep_acquired_try(weft_mutex *m, const char *file, int line)
{
    held_stack *hs = current_stack();
    if (!hs)
        return;
    lock_class *cls = class_of(m);
    if (cls)
        push(hs, m, cls, file, line);
}

void weft__lockdep_release(weft_mutex *m)
{
    held_stack *hs = current_stack();
    if (!hs)
        return;
    /* Search from the top: releases are usually in reverse order, but any
     * order is allowed; the entries above the released one move down. */
    for (int i = hs->depth - 1; i >= 0; i--) {
        if (hs->entries[i].m == m) {
            memmove(&hs->entries[i], &hs->entries[i + 1],
                    (size_t)(hs->depth - 1 - i) * sizeof hs->entries[0]);
            hs->depth--;
            return;
        }
    }
}

/* ---- public API ---------------------------------------------------------- */

static uint32_t next_epoch_locked(void)
{
    if (++epoch_counter == 0)
        epoch_counter = 1;
    return epoch_counter;
}

void weft_lockdep_enable(bool on)
{
    weft__lock_acquire(&graph_lock);
    uint32_t cur = atomic_load_explicit(&weft__lockdep_state, memory_order_relaxed);
    if (on && cur == 0)
        atomic_store_explicit(&weft__lockdep_state, next_epoch_locked(), memory_order_relaxed);
    else if (!on)
        atomic_store_explicit(&weft__lockdep_state, 0, memory_order_relaxed);
    weft__lock_release(&graph_lock);
}

bool weft_lockdep_enabled(void)
{
    return atomic_load_explicit(&weft__lockdep_state, memory_order_relaxed) != 0;
}

void weft_lockdep_set_handler(weft_lockdep_handler *fn, void *arg)
{
    weft__lock_acquire(&graph_lock);
    handler = fn;
    handler_arg = arg;
    weft__lock_release(&graph_lock);
}

uint64_t weft_lockdep_violations(void)
{
    return atomic_load_explicit(&violation_count, memory_order_relaxed);
}

void weft_lockdep_reset(void)
{
    weft__lock_acquire(&graph_lock);
    for (int b = 0; b < CLASS_BUCKETS; b++) {
        for (lock_class *c = class_table[b]; c; c = c->hash_next) {
            edge *e = c->out;
            while (e) {
                edge *next = e->next_out;
                free(e);
                e = next;
            }
            c->out = NULL;
            c->via = NULL;
        }
    }
    for (int i = 0; i < EDGE_CACHE_SLOTS; i++)
        atomic_store_explicit(&edge_cache[i], 0, memory_order_relaxed);
    atomic_store_explicit(&violation_count, 0, memory_order_relaxed);
    if (atomic_load_explicit(&weft__lockdep_state, memory_order_relaxed) != 0)
        atomic_store_explicit(&weft__lockdep_state, next_epoch_locked(), memory_order_relaxed);
    weft__lock_release(&graph_lock);
}
