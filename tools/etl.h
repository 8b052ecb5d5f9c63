/* Internal to `weft etl` (tools/etl*.c): the parts the subcommands share. */
#ifndef WEFT_TOOLS_ETL_H
#define WEFT_TOOLS_ETL_H

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/csv.h>
#include <weft/pool.h>
#include <weft/procpool.h>

int weft_etl_gen(int argc, char **argv);
int weft_etl_summarize(int argc, char **argv);
int weft_etl_transform(int argc, char **argv);

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
    bool whole;          /* its cuts were wrong: read it as one chunk */
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
 * chunk if f->whole or small), counting the cuts on pool. *out (malloc'd,
 * *n of them) cover [data_start, size) in order. Returns 0 or -errno. */
int etl_plan(const etl_file *f, weft_pool *pool, size_t chunk_bytes, etl_range **out, size_t *n);

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

/* ---- chunks: run on threads or worker processes (tools/etl_chunks.c) ---------- */
/* A subcommand's chunk type starts with an etl_chunk, and its file type
 * with an etl_file: the functions below take the array of chunks with the
 * size of one. The steps every subcommand shares:
 *   - etl_plan_chunks() cuts each file into chunks (etl_plan);
 *   - etl_run_chunks() runs them all on the threads (runner.run) or the
 *     worker processes (runner.task), waits for all, and checks the cuts:
 *     a chunk that ended inside a quoted field means its successor's start
 *     was guessed wrong (a quote inside an unquoted field breaks the
 *     parity count), so that file is marked whole, its chunks of this pass
 *     are dropped, and the subcommand runs it again as one chunk;
 *   - a chunk's run reads its range with etl_read_chunk(), rejecting bad
 *     records with etl_reject();
 *   - etl_settle() reports a chunk's error and bad records, once the pass
 *     is done.
 * Who touches a chunk when: tools/etl_chunks.c, Synchronization. */

/* A bad record kept for the report: the first one for --on-error fail and
 * skip, all of them for quarantine (their bytes go to its file). */
typedef struct etl_bad {
    uint64_t line;
    char *reason;
    char *raw;
    size_t raw_len;
    struct etl_bad *next;
} etl_bad;

typedef struct etl_chunk {
    etl_file *file;            /* the subcommand's file type starts with it */
    uint64_t start, end, line; /* as etl_range */
    size_t index;              /* in its file (0: the first) */
    uint64_t rows;             /* records read, good or bad */
    uint64_t rejected;         /* bad records, kept or not */
    etl_bad *bads, *bads_last; /* the kept ones, in order */
    bool ended_in_quotes;      /* the whole range read, and it ends in a quoted field */
    int err;                   /* 0 or a negative errno: the chunk could not be read */
    weft_future *f;
} etl_chunk;

/* Append f's chunks (cut by etl_plan(), one if f->whole) to the array
 * *chunks of *n chunks of `size` bytes (room for *cap, grown with realloc):
 * zeroed but for their etl_chunk's file, range and index. Returns 0 or
 * -ENOMEM / -errno (a read error while cutting). */
int etl_plan_chunks(etl_file *f, weft_pool *pool, size_t chunk_bytes, void **chunks, size_t size,
                    size_t *n, size_t *cap);

/* Read c's range of c->file (from its fd) with a reader started at c's
 * start and line, calling on(arg, record) for each record; adds the bytes
 * read to *bytes as it goes and sets c->ended_in_quotes. Returns 0, the
 * positive value of `on` that stopped it (see etl_reject), or -ENOMEM /
 * -errno. Called by a chunk's run, on any thread. */
int etl_read_chunk(etl_chunk *c, char delim, weft_csv_fn *on, void *arg, _Atomic uint64_t *bytes);

/* Count the bad record r of chunk c (reason: why, copied), and keep it as
 * on_err says. Returns 1 if the chunk should stop (fail), 0 to go on,
 * -ENOMEM. */
int etl_reject(etl_chunk *c, etl_on_error on_err, const weft_csv_record *r, const char *reason);

/* Free c's bad records. */
void etl_bads_free(etl_chunk *c);

typedef struct etl_runner {
    /* Set by the subcommand. */
    const char *tool; /* for messages */
    /* On a thread: run(chunk, NULL) reads the chunk (etl_read_chunk) and
     * sets its etl_chunk; its return value is ignored. */
    weft_pool_fn *run;
    /* In a worker process: the task, registered with WEFT_PROC_TASK; its
     * argument is what etl_put_request() and put_request wrote, its result
     * what etl_put_result() and the subcommand's part wrote. */
    const weft_proc_task *task;
    char delim;
    etl_on_error on_err;
    void (*put_request)(etl_wbuf *b, const etl_chunk *c); /* the subcommand's part */
    /* The subcommand's part of a worker's result into c. Returns 0,
     * -ENOMEM; a short or garbled message is seen by in->failed. */
    int (*take_result)(etl_chunk *c, etl_rbuf *in);
    /* Set by etl_runner_start(). */
    weft_pool *pool;       /* the threads (etl_plan_chunks counts on them too) */
    weft_procpool *procs;  /* --backend processes; NULL: the chunks run on pool */
    etl_progress progress; /* bytes and rows done */
} etl_runner;

/* Start r's threads (opt->jobs), its worker processes if opt->processes,
 * and the progress line (out of total_bytes). Returns 0, or 1 with a
 * message (nothing left running). */
int etl_runner_start(etl_runner *r, const etl_options *opt, uint64_t total_bytes);

/* Stop them. Returns the seconds since etl_runner_start(). */
double etl_runner_stop(etl_runner *r);

/* Run chunks[0, n) (each `size` bytes) as r says and wait for all of
 * them; a chunk that could not run or whose worker died gets its err (the
 * worker's death is said on stderr). Then check the cuts (see above).
 * Returns whether a file was marked whole: its chunks of this pass are to
 * be dropped and the file run again. From the main thread. */
bool etl_run_chunks(etl_runner *r, void *chunks, size_t n, size_t size);

/* After a pass: say c's error (the first of the run: *status 0 -> 1), and
 * unless c is dropped (its file is read again) report its bad records: with
 * fail, the first of the run as "path:line: reason" (*status -> 1); with
 * quarantine, their bytes and a line break to q (if not NULL). Frees the
 * bad records either way. */
void etl_settle(etl_chunk *c, bool dropped, etl_on_error on_err, FILE *q, const char *tool,
                int *status);

/* In a worker process: read the common part of a request into *c and *f
 * (f->path malloc'd, f->fd opened read-only, the columns), and the job's
 * delimiter and error mode. Returns 0, -EPROTO (a garbled request),
 * -ENOMEM or -errno (the file cannot be opened); either way
 * etl_worker_file_close(f) frees what was read. */
int etl_get_request(etl_rbuf *in, etl_chunk *c, etl_file *f, char *delim, etl_on_error *on_err);
void etl_worker_file_close(etl_file *f);

/* In a worker process: the common part of c's result (its counts, error
 * and bad records). */
void etl_put_result(etl_wbuf *b, const etl_chunk *c);

#endif
