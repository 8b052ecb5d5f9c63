/* The chunks of `weft etl`: what summarize and transform share between
 * cutting their files (tools/etl_files.c) and their own work on a chunk's
 * records. The steps are in tools/etl.h (section "chunks").
 *
 * Synchronization: a chunk is written by the one pool thread that runs it
 * (or, with processes, by etl_run_chunks copying its worker's result, on
 * the main thread), and read by the main thread only after
 * weft_future_wait() on its future: the future's completion (release)
 * and the wait (acquire) order the two. Files and the job are read-only
 * while chunks run. The progress counters are the only words written by
 * several threads at once: relaxed atomics, only displayed. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/csv.h>
#include <weft/future.h>
#include <weft/pool.h>
#include <weft/procpool.h>
#include <weft/time.h>

#include "tools/etl.h"

enum { BLOCK = 256 << 10, MAX_COLS = 65536 };

static etl_chunk *chunk_at(void *chunks, size_t size, size_t i)
{
    return (etl_chunk *)(void *)((char *)chunks + i * size);
}

int etl_plan_chunks(etl_file *f, weft_pool *pool, size_t chunk_bytes, void **chunks, size_t size,
                    size_t *n, size_t *cap)
{
    etl_range *r;
    size_t k;
    int rc = etl_plan(f, pool, chunk_bytes, &r, &k);
    if (rc < 0)
        return rc;
    if (*n + k > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *n + k)
            c *= 2;
        void *grown = realloc(*chunks, c * size);
        if (!grown) {
            free(r);
            return -ENOMEM;
        }
        *chunks = grown;
        *cap = c;
    }
    for (size_t i = 0; i < k; i++) {
        etl_chunk *c = chunk_at(*chunks, size, (*n)++);
        memset(c, 0, size);
        c->file = f;
        c->start = r[i].start;
        c->end = r[i].end;
        c->line = r[i].line;
        c->index = i;
    }
    free(r);
    return 0;
}

int etl_read_chunk(etl_chunk *c, char delim, weft_csv_fn *on, void *arg, _Atomic uint64_t *bytes)
{
    weft_csv_reader *r;
    weft_csv_opts o = {.delimiter = delim};
    int rc = weft_csv_reader_create(&r, &o);
    if (rc < 0)
        return rc;
    char *buf = malloc(BLOCK);
    if (!buf) {
        weft_csv_reader_destroy(r);
        return -ENOMEM;
    }
    weft_csv_reader_reset(r, c->start, c->line);
    for (uint64_t at = c->start; at < c->end && rc == 0;) {
        size_t want = c->end - at < BLOCK ? (size_t)(c->end - at) : BLOCK;
        ssize_t n = pread(c->file->fd, buf, want, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        rc = weft_csv_feed(r, buf, (size_t)n, on, arg);
        at += (uint64_t)n;
        atomic_fetch_add_explicit(bytes, (uint64_t)n, memory_order_relaxed);
    }
    /* Only a range read to its end says where the next one should start. */
    c->ended_in_quotes = rc == 0 && weft_csv_reader_in_quotes(r);
    if (rc == 0)
        rc = weft_csv_finish(r, on, arg);
    weft_csv_reader_destroy(r);
    free(buf);
    return rc;
}

int etl_reject(etl_chunk *c, etl_on_error on_err, const weft_csv_record *r, const char *reason)
{
    c->rejected++;
    if (on_err == ETL_SKIP && c->rejected > 1)
        return 0; /* only the first is kept, for the message */
    etl_bad *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->line = r->line;
    b->reason = strdup(reason);
    b->raw = malloc(r->raw_len ? r->raw_len : 1);
    if (!b->reason || !b->raw) {
        free(b->reason);
        free(b->raw);
        free(b);
        return -ENOMEM;
    }
    memcpy(b->raw, r->raw, r->raw_len);
    b->raw_len = r->raw_len;
    if (c->bads_last)
        c->bads_last->next = b;
    else
        c->bads = b;
    c->bads_last = b;
    /* fail: stop this chunk at its first bad record. */
    return on_err == ETL_FAIL ? 1 : 0;
}

void etl_bads_free(etl_chunk *c)
{
    for (etl_bad *b = c->bads, *next; b; b = next) {
        next = b->next;
        free(b->reason);
        free(b->raw);
        free(b);
    }
    c->bads = c->bads_last = NULL;
}

/* ---- the messages of the processes backend ---------------------------------------- */

static void put_cstr(etl_wbuf *b, const char *s)
{
    etl_put_str(b, s, strlen(s));
}

/* The common part of a request: the file, the range, the job's options. */
static void put_request(etl_wbuf *b, const etl_chunk *c, const etl_runner *r)
{
    const etl_file *f = c->file;
    put_cstr(b, f->path);
    etl_put_u64(b, c->start);
    etl_put_u64(b, c->end);
    etl_put_u64(b, c->line);
    etl_put_u64(b, c->index);
    etl_put_u64(b, (uint64_t)(unsigned char)r->delim);
    etl_put_u64(b, (uint64_t)r->on_err);
    etl_put_u64(b, f->ncols);
    for (size_t i = 0; i < f->ncols; i++) {
        put_cstr(b, f->cols[i].name);
        etl_put_u64(b, f->cols[i].numeric);
    }
}

int etl_get_request(etl_rbuf *in, etl_chunk *c, etl_file *f, char *delim, etl_on_error *on_err)
{
    memset(f, 0, sizeof *f);
    memset(c, 0, sizeof *c);
    f->fd = -1;
    c->file = f;
    f->path = etl_get_strdup(in);
    c->start = etl_get_u64(in);
    c->end = etl_get_u64(in);
    c->line = etl_get_u64(in);
    c->index = (size_t)etl_get_u64(in);
    *delim = (char)etl_get_u64(in);
    *on_err = (etl_on_error)etl_get_u64(in);
    size_t ncols = (size_t)etl_get_u64(in);
    if (in->failed || !f->path || ncols > MAX_COLS || *on_err > ETL_QUARANTINE)
        return -EPROTO;
    if (!(f->cols = calloc(ncols ? ncols : 1, sizeof *f->cols)))
        return -ENOMEM;
    for (; f->ncols < ncols; f->ncols++) {
        etl_column *col = &f->cols[f->ncols];
        col->name = etl_get_strdup(in);
        col->numeric = etl_get_u64(in) != 0;
        if (!col->name)
            return -EPROTO;
    }
    if (in->failed)
        return -EPROTO;
    f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
    return f->fd < 0 ? -errno : 0;
}

void etl_worker_file_close(etl_file *f)
{
    free((char *)f->path);
    f->path = NULL;
    etl_file_close(f);
}

void etl_put_result(etl_wbuf *b, const etl_chunk *c)
{
    etl_put_u64(b, (uint64_t)(int64_t)c->err);
    etl_put_u64(b, c->ended_in_quotes);
    etl_put_u64(b, c->rows);
    etl_put_u64(b, c->rejected);
    uint64_t nbad = 0;
    for (const etl_bad *x = c->bads; x; x = x->next)
        nbad++;
    etl_put_u64(b, nbad);
    for (const etl_bad *x = c->bads; x; x = x->next) {
        etl_put_u64(b, x->line);
        put_cstr(b, x->reason);
        etl_put_str(b, x->raw, x->raw_len);
    }
}

/* A worker's result into c: the common part, then the subcommand's.
 * Returns 0 or the worker's error, -ENOMEM, -EPROTO (garbled). */
static int take_result(const etl_runner *r, etl_chunk *c, const void *data, size_t len)
{
    etl_rbuf in = {data, (const unsigned char *)data + len, false};
    int err = (int)(int64_t)etl_get_u64(&in);
    c->ended_in_quotes = etl_get_u64(&in) != 0;
    c->rows = etl_get_u64(&in);
    c->rejected = etl_get_u64(&in);
    uint64_t nbad = etl_get_u64(&in);
    for (uint64_t i = 0; i < nbad && !in.failed; i++) {
        etl_bad *b = calloc(1, sizeof *b);
        if (!b)
            return -ENOMEM;
        if (c->bads_last)
            c->bads_last->next = b;
        else
            c->bads = b;
        c->bads_last = b;
        b->line = etl_get_u64(&in);
        b->reason = etl_get_strdup(&in);
        size_t n;
        const char *raw = etl_get_str(&in, &n);
        b->raw = malloc(raw && n ? n : 1);
        if (!b->reason || !b->raw)
            return in.failed ? -EPROTO : -ENOMEM;
        b->raw_len = raw ? n : 0;
        memcpy(b->raw, raw ? raw : "", b->raw_len);
    }
    int rc = in.failed ? -EPROTO : r->take_result(c, &in);
    if (rc == 0 && in.failed)
        rc = -EPROTO;
    return rc < 0 ? rc : err;
}

/* ---- a run ---------------------------------------------------------------------------- */

int etl_runner_start(etl_runner *r, const etl_options *opt, uint64_t total_bytes)
{
    weft_pool_opts po = {.workers = opt->jobs, .name = "weft-etl"};
    int rc = weft_pool_create(&r->pool, &po);
    if (rc < 0) {
        fprintf(stderr, "weft etl %s: cannot start the threads: %s\n", r->tool, weft_strerror(rc));
        return 1;
    }
    r->procs = NULL;
    if (opt->processes) {
        weft_procpool_opts ppo = {.workers = opt->jobs, .name = "weft-etl"};
        rc = weft_procpool_create(&r->procs, &ppo);
        if (rc < 0) {
            fprintf(stderr, "weft etl %s: cannot start the worker processes: %s\n", r->tool,
                    weft_strerror(rc));
            weft_pool_destroy(r->pool);
            return 1;
        }
    }
    etl_progress_start(&r->progress, total_bytes, opt->progress);
    return 0;
}

double etl_runner_stop(etl_runner *r)
{
    weft_pool_destroy(r->pool);
    weft_procpool_destroy(r->procs);
    double seconds = (double)(weft_now() - r->progress.t0) / 1e9;
    etl_progress_stop(&r->progress);
    return seconds;
}

/* ---- a pass --------------------------------------------------------------------------- */

bool etl_run_chunks(etl_runner *r, void *chunks, size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        etl_chunk *c = chunk_at(chunks, size, i);
        int rc;
        if (!r->procs) {
            rc = weft_pool_submit(r->pool, r->run, c, WEFT_NEVER, &c->f);
        } else {
            etl_wbuf req = {0};
            put_request(&req, c, r);
            r->put_request(&req, c);
            rc = req.failed
                     ? -ENOMEM
                     : weft_procpool_submit(r->procs, r->task, req.p, req.len, WEFT_NEVER, &c->f);
            free(req.p);
        }
        if (rc < 0) {
            c->f = NULL;
            c->err = rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        etl_chunk *c = chunk_at(chunks, size, i);
        if (!c->f)
            continue;
        weft_future_wait(c->f, WEFT_NEVER);
        if (r->procs) {
            const void *data;
            size_t len;
            int rc = weft_procpool_result(c->f, &data, &len);
            if (rc == 0)
                rc = take_result(r, c, data, len);
            if (rc == WEFT_EWORKER_DIED) {
                char why[160];
                weft_procpool_describe(c->f, why, sizeof why);
                fprintf(stderr, "weft etl %s: %s: a chunk's %s\n", r->tool, c->file->path, why);
            }
            if (rc < 0)
                c->err = rc;
            atomic_fetch_add_explicit(&r->progress.bytes, c->end - c->start, memory_order_relaxed);
        }
        atomic_fetch_add_explicit(&r->progress.rows, c->rows, memory_order_relaxed);
        weft_future_unref(c->f);
        c->f = NULL;
    }
    /* A chunk followed by another of its file must not end inside quotes,
     * or the next one started at a wrong place. */
    bool again = false;
    for (size_t i = 0; i + 1 < n; i++) {
        etl_chunk *c = chunk_at(chunks, size, i), *next = chunk_at(chunks, size, i + 1);
        if (c->file == next->file && c->ended_in_quotes && !c->file->whole)
            again = c->file->whole = true;
    }
    return again;
}

void etl_settle(etl_chunk *c, bool dropped, etl_on_error on_err, FILE *q, const char *tool,
                int *status)
{
    if (c->err < 0 && !*status) {
        fprintf(stderr, "weft etl %s: %s: %s\n", tool, c->file->path, weft_strerror(c->err));
        *status = 1;
    }
    for (etl_bad *b = dropped ? NULL : c->bads; b; b = b->next) {
        if (on_err == ETL_FAIL && !*status) {
            fprintf(stderr, "%s:%llu: %s\n", c->file->path, (unsigned long long)b->line, b->reason);
            *status = 1;
        } else if (on_err == ETL_QUARANTINE && q) {
            fwrite(b->raw, 1, b->raw_len, q);
            fputc('\n', q);
        }
    }
    etl_bads_free(c);
}
