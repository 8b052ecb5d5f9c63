/* The parts of `weft etl` that every subcommand uses on its input files:
 * opening a CSV file and reading its header and column types, cutting it
 * into chunks at record starts (see tools/etl_summarize.c, steps 1 and 2,
 * for how), the progress line, the shared options, the messages of the
 * processes backend, and outputs written whole or not at all.
 *
 * Synchronization: etl_plan's pieces are each written by the pool thread
 * that counts it and read after weft_future_wait() on its future (the
 * future orders the two); the file's descriptor is shared read-only
 * (pread). The progress thread reads relaxed counters (display only) and
 * polls `stop` (seq_cst); etl_progress_stop() joins it, so nothing of it
 * outlives the call. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/csv.h>
#include <weft/pool.h>
#include <weft/time.h>

#include "tools/etl.h"

enum { BLOCK = 256 << 10, TYPE_ROWS = 100, MAX_COLS = 4096 };

/* ---- a file's header and column types ----------------------------------------------- */

typedef struct head_ctx {
    etl_file *f;
    size_t rows;              /* data rows looked at */
    uint32_t *texts, *values; /* per column: non-empty values of each kind */
    const char *error;
    uint64_t error_line;
    bool done;
} head_ctx;

static int on_head(void *arg, const weft_csv_record *r)
{
    head_ctx *h = arg;
    etl_file *f = h->f;
    if (!f->cols) {
        if (r->error || r->count == 0) {
            h->error = r->error ? r->error : "the first line is empty: no header";
            h->error_line = r->line;
            return 1;
        }
        if (r->count > MAX_COLS) {
            h->error = "more than 4096 columns";
            h->error_line = r->line;
            return 1;
        }
        f->cols = calloc(r->count, sizeof *f->cols);
        h->texts = calloc(r->count, sizeof *h->texts);
        h->values = calloc(r->count, sizeof *h->values);
        if (!f->cols || !h->texts || !h->values)
            return -ENOMEM;
        f->ncols = r->count;
        for (size_t i = 0; i < r->count; i++) {
            f->cols[i].name = strndup(r->fields[i].data, r->fields[i].len);
            if (!f->cols[i].name)
                return -ENOMEM;
        }
        return 0;
    }
    if (h->rows == 0) {
        f->data_start = r->offset;
        f->data_line = r->line;
    }
    if (r->error || r->count != f->ncols) {
        h->rows++;
        return h->rows >= TYPE_ROWS;
    }
    for (size_t i = 0; i < f->ncols; i++) {
        double v;
        if (r->fields[i].len == 0)
            continue;
        if (weft_csv_parse_number(r->fields[i].data, r->fields[i].len, &v))
            h->values[i]++;
        else
            h->texts[i]++;
    }
    return ++h->rows >= TYPE_ROWS;
}

static int read_head(etl_file *f, char delim, char *const *text, size_t ntext, const char *tool)
{
    weft_csv_reader *r;
    weft_csv_opts o = {.delimiter = delim};
    if (weft_csv_reader_create(&r, &o) < 0)
        return 1;
    head_ctx h = {.f = f};
    char *buf = malloc(1 << 16);
    int rc = buf ? 0 : -ENOMEM;
    uint64_t at = 0;
    while (rc == 0 && at < f->size) {
        ssize_t n = pread(f->fd, buf, 1 << 16, (off_t)at);
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        at += (uint64_t)n;
        rc = weft_csv_feed(r, buf, (size_t)n, on_head, &h);
    }
    if (rc == 0)
        rc = weft_csv_finish(r, on_head, &h);
    weft_csv_reader_destroy(r);
    free(buf);
    if (rc < 0) {
        fprintf(stderr, "weft etl %s: %s: %s\n", tool, f->path, weft_strerror(rc));
        return 1;
    }
    if (h.error || !f->cols) {
        fprintf(stderr, "weft etl %s: %s:%llu: %s\n", tool, f->path,
                (unsigned long long)(h.error ? h.error_line : 1),
                h.error ? h.error : "empty file: no header");
        free(h.texts);
        free(h.values);
        return 1;
    }
    if (h.rows == 0) {
        f->data_start = f->size; /* a header and nothing else */
        f->data_line = 2;
    }
    /* Numeric: most of the first rows' values are numbers (a few bad ones
     * are then reported as bad records, not taken for a text column),
     * unless --text names the column. */
    for (size_t i = 0; i < f->ncols; i++) {
        f->cols[i].numeric = h.values[i] > h.texts[i];
        for (size_t t = 0; t < ntext; t++)
            if (!strcmp(text[t], f->cols[i].name))
                f->cols[i].numeric = false;
    }
    free(h.texts);
    free(h.values);
    return 0;
}

/* ---- cutting a file into chunks --------------------------------------------------------- */

typedef struct piece {
    int fd;
    uint64_t start, end;
    uint64_t quotes, breaks;
    bool starts_lf, ends_cr;
    int err;
} piece;

/* Count quotes and line breaks (LF, CRLF, lone CR) of a byte range. */
static int count_piece(void *arg, weft_value *result)
{
    (void)result;
    piece *p = arg;
    char *buf = malloc(BLOCK);
    if (!buf)
        return p->err = -ENOMEM;
    uint64_t breaks = 0;
    char prev = 0;
    for (uint64_t at = p->start; at < p->end;) {
        size_t want = p->end - at < BLOCK ? (size_t)(p->end - at) : BLOCK;
        ssize_t n = pread(p->fd, buf, want, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return p->err = n < 0 ? -errno : -EIO;
        }
        if (at == p->start)
            p->starts_lf = buf[0] == '\n';
        p->quotes += weft_csv_count_quotes(buf, (size_t)n, '"');
        breaks += weft_csv_count_breaks(buf, (size_t)n);
        if (prev == '\r' && buf[0] == '\n')
            breaks--; /* a CR LF across two blocks: one break */
        prev = buf[n - 1];
        at += (uint64_t)n;
    }
    p->ends_cr = prev == '\r';
    p->breaks = breaks;
    free(buf);
    return 0;
}

int etl_plan(const etl_file *f, weft_pool *pool, size_t chunk_bytes, etl_range **out, size_t *nout)
{
    uint64_t data = f->size - f->data_start;
    size_t k = f->whole || data < 2 * chunk_bytes ? 1 : (size_t)(data / chunk_bytes);
    piece *ps = calloc(k, sizeof *ps);
    uint64_t *starts = calloc(k + 1, sizeof *starts), *lines = calloc(k + 1, sizeof *lines);
    if (!ps || !starts || !lines) {
        free(ps);
        free(starts);
        free(lines);
        return -ENOMEM;
    }
    starts[0] = f->data_start;
    lines[0] = f->data_line;
    if (k > 1) {
        weft_future **fs = calloc(k, sizeof *fs);
        if (!fs) {
            free(ps);
            free(starts);
            free(lines);
            return -ENOMEM;
        }
        for (size_t i = 0; i < k; i++) {
            ps[i] = (piece){.fd = f->fd,
                            .start = f->data_start + data * i / k,
                            .end = f->data_start + data * (i + 1) / k};
            weft_pool_submit(pool, count_piece, &ps[i], WEFT_NEVER, &fs[i]);
        }
        for (size_t i = 0; i < k; i++) {
            weft_future_wait(fs[i], WEFT_NEVER);
            weft_future_unref(fs[i]);
        }
        free(fs);
        uint64_t quotes = 0, breaks = f->data_line;
        size_t kept = 1;
        for (size_t i = 1; i < k; i++) {
            if (ps[i - 1].err < 0 || ps[i].err < 0) {
                int err = ps[i - 1].err < 0 ? ps[i - 1].err : ps[i].err;
                free(ps);
                free(starts);
                free(lines);
                return err;
            }
            quotes += ps[i - 1].quotes;
            /* A CR LF across the cut ends at its LF, after the cut: the
             * previous piece counted its CR as a lone one. */
            breaks += ps[i - 1].breaks - (ps[i - 1].ends_cr && ps[i].starts_lf);
            /* Move the cut to the next record start, given the parity. */
            uint64_t cut = ps[i].start;
            bool in_quotes = quotes % 2 == 1;
            char win[1 << 16];
            ssize_t got = pread(f->fd, win, sizeof win, (off_t)cut);
            if (got <= 0)
                continue;
            size_t s = weft_csv_find_record_start(win, (size_t)got, in_quotes, 0);
            if (s == (size_t)got)
                continue; /* no record start near: merge with the previous chunk */
            uint64_t extra = 0;
            for (size_t b = 0; b < s; b++)
                extra += win[b] == '\n' || (win[b] == '\r' && (b + 1 >= (size_t)got || win[b + 1] != '\n'));
            starts[kept] = cut + s;
            lines[kept] = breaks + extra;
            kept++;
        }
        k = kept;
    }
    starts[k] = f->size;
    etl_range *r = calloc(k, sizeof *r);
    if (!r) {
        free(ps);
        free(starts);
        free(lines);
        return -ENOMEM;
    }
    for (size_t i = 0; i < k; i++)
        r[i] = (etl_range){starts[i], starts[i + 1], lines[i]};
    *out = r;
    *nout = k;
    free(ps);
    free(starts);
    free(lines);
    return 0;
}

int etl_file_open(etl_file *f, const char *path, char delim, char *const *text, size_t ntext,
                  const char *tool)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) < 0) {
        fprintf(stderr, "weft etl %s: %s: %s\n", tool, path, strerror(errno));
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        return 1;
    }
    f->size = (uint64_t)st.st_size;
    return read_head(f, delim, text, ntext, tool);
}

void etl_file_close(etl_file *f)
{
    for (size_t c = 0; c < f->ncols; c++)
        free(f->cols[c].name);
    free(f->cols);
    f->cols = NULL;
    f->ncols = 0;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static void *progress_main(void *arg)
{
    etl_progress *p = arg;
    while (!atomic_load(&p->stop)) {
        usleep(200000);
        uint64_t done = atomic_load(&p->bytes), rows = atomic_load(&p->rows);
        double s = (double)(weft_now() - p->t0) / 1e9, rate = s > 0 ? (double)done / s : 0;
        double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
        fprintf(stderr, "\r  %5.1f%%  %llu rows  %.0f MB/s  ETA %.0fs   ",
                p->total ? 100.0 * (double)done / (double)p->total : 100.0,
                (unsigned long long)rows, rate / 1e6, eta);
    }
    fprintf(stderr, "\r%60s\r", "");
    return NULL;
}


/* ---- progress ------------------------------------------------------------------------ */

void etl_progress_start(etl_progress *p, uint64_t total_bytes, bool on_terminal)
{
    atomic_init(&p->bytes, 0);
    atomic_init(&p->rows, 0);
    atomic_init(&p->stop, false);
    p->total = total_bytes;
    p->t0 = weft_now();
    p->running = on_terminal && isatty(STDERR_FILENO) &&
                 pthread_create(&p->thread, NULL, progress_main, p) == 0;
}

void etl_progress_stop(etl_progress *p)
{
    if (!p->running)
        return;
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    p->running = false;
}

/* ---- columns ---------------------------------------------------------------------------- */

bool etl_same_header(const etl_file *a, const etl_file *b)
{
    if (a->ncols != b->ncols)
        return false;
    for (size_t i = 0; i < a->ncols; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name) || a->cols[i].numeric != b->cols[i].numeric)
            return false;
    return true;
}

int etl_column_index(const etl_file *f, const char *name)
{
    for (size_t i = 0; i < f->ncols; i++)
        if (!strcmp(f->cols[i].name, name))
            return (int)i;
    return -1;
}


/* ---- shared options ------------------------------------------------------------------- */

const char etl_options_help[] =
    "  --jobs N          threads or worker processes (default: the CPUs)\n"
    "  --backend KIND    threads (default) or processes: chunks in worker processes\n"
    "                    (a crash fails that chunk, not the run)\n"
    "  --chunk SIZE      cut large files into chunks of about SIZE (default 32M)\n"
    "  --delimiter C     field delimiter (default ,)\n"
    "  --on-error MODE   fail (default): stop at the first bad record, with file:line;\n"
    "                    skip: count and leave them out;\n"
    "                    quarantine=FILE: also write their bytes to FILE\n"
    "  --no-progress     no progress line on a terminal\n";

void etl_options_init(etl_options *o)
{
    *o = (etl_options){.delim = ',', .on_err = ETL_FAIL, .chunk_bytes = 32u << 20, .progress = true};
}

int etl_options_parse(etl_options *o, const char *tool, const char *a, const char *v)
{
    if (!strcmp(a, "--no-progress")) {
        o->progress = false;
        return 1;
    }
    if (strcmp(a, "--jobs") && strcmp(a, "--backend") && strcmp(a, "--chunk") &&
        strcmp(a, "--delimiter") && strcmp(a, "--on-error"))
        return 0;
    if (!v) {
        fprintf(stderr, "weft etl %s: %s needs a value\n", tool, a);
        return -1;
    }
    if (!strcmp(a, "--jobs")) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 1024) {
            fprintf(stderr, "weft etl %s: --jobs %s: a number from 1 to 1024\n", tool, v);
            return -1;
        }
        o->jobs = (unsigned)n;
    } else if (!strcmp(a, "--backend")) {
        if (strcmp(v, "threads") && strcmp(v, "processes")) {
            fprintf(stderr, "weft etl %s: --backend is threads or processes\n", tool);
            return -1;
        }
        o->processes = !strcmp(v, "processes");
    } else if (!strcmp(a, "--chunk")) {
        int64_t c = weft_etl_parse_size(v);
        if (c < 1000) {
            fprintf(stderr, "weft etl %s: --chunk %s: a size of 1k or more\n", tool, v);
            return -1;
        }
        o->chunk_bytes = (size_t)c;
    } else if (!strcmp(a, "--delimiter")) {
        if (strlen(v) != 1 || v[0] == '"' || v[0] == '\n' || v[0] == '\r') {
            fprintf(stderr, "weft etl %s: --delimiter is one byte, not a quote or a line break\n",
                    tool);
            return -1;
        }
        o->delim = v[0];
    } else if (!strcmp(v, "fail")) {
        o->on_err = ETL_FAIL;
    } else if (!strcmp(v, "skip")) {
        o->on_err = ETL_SKIP;
    } else if (!strncmp(v, "quarantine=", 11) && v[11]) {
        o->on_err = ETL_QUARANTINE;
        o->quarantine = v + 11;
    } else {
        fprintf(stderr, "weft etl %s: --on-error is fail, skip or quarantine=FILE\n", tool);
        return -1;
    }
    return 2;
}

/* ---- serialized messages ------------------------------------------------------------------ */

void etl_put(etl_wbuf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

void etl_put_u64(etl_wbuf *b, uint64_t v)
{
    etl_put(b, &v, sizeof v);
}

void etl_put_str(etl_wbuf *b, const char *s, size_t n)
{
    etl_put_u64(b, n);
    etl_put(b, s, n);
}

const void *etl_get(etl_rbuf *b, size_t n)
{
    if (b->failed || (size_t)(b->end - b->p) < n) {
        b->failed = true;
        return NULL;
    }
    const void *at = b->p;
    b->p += n;
    return at;
}

uint64_t etl_get_u64(etl_rbuf *b)
{
    uint64_t v = 0;
    const void *at = etl_get(b, sizeof v);
    if (at)
        memcpy(&v, at, sizeof v);
    return v;
}

const char *etl_get_str(etl_rbuf *b, size_t *n)
{
    *n = (size_t)etl_get_u64(b);
    return etl_get(b, *n);
}

char *etl_get_strdup(etl_rbuf *b)
{
    size_t n;
    const char *s = etl_get_str(b, &n);
    return s ? strndup(s, n) : NULL;
}

/* ---- outputs ------------------------------------------------------------------------------- */

FILE *etl_out_open(const char *path, char **tmp, const char *tool)
{
    *tmp = NULL;
    if (asprintf(tmp, "%s.weft-tmp.%ld", path, (long)getpid()) < 0) {
        *tmp = NULL;
        fprintf(stderr, "weft etl %s: out of memory\n", tool);
        return NULL;
    }
    FILE *f = fopen(*tmp, "w");
    if (!f) {
        fprintf(stderr, "weft etl %s: %s: %s\n", tool, path, strerror(errno));
        free(*tmp);
        *tmp = NULL;
    }
    return f;
}

int etl_out_commit(FILE *f, char **tmp, const char *path, bool keep, const char *tool)
{
    int status = 0;
    if (fclose(f) != 0 && keep) {
        fprintf(stderr, "weft etl %s: %s: %s\n", tool, path, strerror(errno));
        keep = false;
        status = 1;
    }
    if (keep && rename(*tmp, path) != 0) {
        fprintf(stderr, "weft etl %s: %s: %s\n", tool, path, strerror(errno));
        status = 1;
        keep = false;
    }
    if (!keep)
        unlink(*tmp);
    free(*tmp);
    *tmp = NULL;
    return status;
}
