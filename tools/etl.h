/* Internal to `weft etl` (tools/etl*.c): the parts the subcommands share. */
#ifndef WEFT_TOOLS_ETL_H
#define WEFT_TOOLS_ETL_H

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/pool.h>

int weft_etl_gen(int argc, char **argv);
int weft_etl_summarize(int argc, char **argv);
int weft_etl_transform(int argc, char **argv);

/* A number in a CSV field: an optional sign, digits with at most one
 * '.', an optional exponent; nothing else (no spaces, no "nan"). Returns
 * true and *out, or false for text. Exact (correctly rounded) values:
 * the common short decimals go through a fast path, the rest strtod. */
bool weft_etl_parse_number(const char *s, size_t len, double *out);

/* "1.5G", "200M", "64k", "1000": bytes; -1 if malformed. */
int64_t weft_etl_parse_size(const char *s);

/* ---- options every subcommand takes (tools/etl_files.c) ------------------------ */

typedef enum etl_on_error { ETL_FAIL, ETL_SKIP, ETL_QUARANTINE } etl_on_error;

typedef struct etl_options {
    char delim;             /* --delimiter (default ,) */
    etl_on_error on_err;    /* --on-error */
    const char *quarantine; /* its FILE */
    unsigned jobs;          /* --jobs (0: the CPUs) */
    bool processes;         /* --backend processes */
    size_t chunk_bytes;     /* --chunk (default 32M) */
    bool progress;          /* not --no-progress */
} etl_options;

/* The defaults. */
void etl_options_init(etl_options *o);

/* If option a is one of the shared ones, apply it (v: the next argument).
 * Returns 2 if it took v, 1 if it took none, 0 if a is not a shared
 * option, -1 if its value is wrong (said on stderr, naming tool). */
int etl_options_parse(etl_options *o, const char *tool, const char *a, const char *v);

/* The lines of --help for the shared options. */
extern const char etl_options_help[];

/* An output file written under a temporary name in its directory and
 * renamed once complete, so that a failure never leaves half of it:
 * etl_out_open() returns the stream (NULL with a message naming tool) and
 * *tmp; etl_out_commit() closes it, then renames (keep) or removes it,
 * frees *tmp, and returns 0 or 1 with a message. */
FILE *etl_out_open(const char *path, char **tmp, const char *tool);
int etl_out_commit(FILE *f, char **tmp, const char *path, bool keep, const char *tool);

/* ---- serialized messages (requests and results of worker processes) ---------- */

typedef struct etl_wbuf {
    unsigned char *p;
    size_t len, cap;
    bool failed; /* out of memory: the message is lost */
} etl_wbuf;

void etl_put(etl_wbuf *b, const void *data, size_t n);
void etl_put_u64(etl_wbuf *b, uint64_t v);
void etl_put_str(etl_wbuf *b, const char *s, size_t n); /* length, then bytes */

typedef struct etl_rbuf {
    const unsigned char *p, *end;
    bool failed; /* read past the end: the message is garbled */
} etl_rbuf;

const void *etl_get(etl_rbuf *b, size_t n); /* NULL past the end */
uint64_t etl_get_u64(etl_rbuf *b);
const char *etl_get_str(etl_rbuf *b, size_t *n); /* not NUL-terminated */
char *etl_get_strdup(etl_rbuf *b);               /* a malloc'd C string */

/* ---- input files (tools/etl_files.c) ------------------------------------------ */

typedef struct etl_column {
    char *name;
    bool numeric; /* most of the first 100 rows' values are numbers */
} etl_column;

typedef struct etl_file {
    const char *path;
    int fd;
    uint64_t size;
    etl_column *cols; /* the header */
    size_t ncols;
    uint64_t data_start; /* offset of the first data record */
    uint64_t data_line;  /* its line */
} etl_file;

/* Open path and read its header and column types (columns named in text
 * are never numeric). Returns 0, or 1 with a message naming `tool` printed;
 * either way etl_file_close() frees it. */
int etl_file_open(etl_file *f, const char *path, char delim, char *const *text, size_t ntext,
                  const char *tool);
void etl_file_close(etl_file *f);
int etl_column_index(const etl_file *f, const char *name);
bool etl_same_header(const etl_file *a, const etl_file *b);

/* A chunk of a file: [start, end), start being a record start on `line`. */
typedef struct etl_range {
    uint64_t start, end, line;
} etl_range;

/* Cut f's data into chunks of about chunk_bytes at record starts (one
 * chunk if whole or small), counting the cuts on pool. *out (malloc'd,
 * *n of them) cover [data_start, size) in order. Returns 0 or -errno. */
int etl_plan(const etl_file *f, weft_pool *pool, size_t chunk_bytes, bool whole, etl_range **out,
             size_t *n);

/* The progress line on stderr (a terminal only): bytes and rows done. */
typedef struct etl_progress {
    _Atomic uint64_t bytes, rows;
    uint64_t total;
    int64_t t0;
    _Atomic bool stop;
    bool running;
    pthread_t thread;
} etl_progress;

void etl_progress_start(etl_progress *p, uint64_t total_bytes, bool on_terminal);
void etl_progress_stop(etl_progress *p);

#endif
