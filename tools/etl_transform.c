/* weft etl transform: the seeds' exercise 3 (read each CSV file, multiply
 * a column, add a column, write the result under the same name in another
 * directory) as a tool: computed columns (--set value=value*2,
 * --set processed=true), row filters (--filter amount>100), a choice of
 * output columns (--select), every file in parallel and large files in
 * chunks (tools/etl_files.c cuts them).
 *
 * Outputs (numbered as the code runs):
 *   1. Each file's first chunk writes the header and its rows to
 *      DIR/.NAME.weft-tmp; every other chunk writes its rows to a part
 *      file of its own, at the same time.
 *   2. Once a file's chunks are all done, the parts are appended in order
 *      to the temporary file (copy_file_range) and removed.
 *   3. The temporary file is renamed to DIR/NAME: an output appears whole
 *      or not at all; a failure (a bad record with --on-error fail, a full
 *      disk) removes the temporary files and leaves earlier outputs as
 *      they were.
 * Expressions: numbers, 'text' or "text", true, false, column names (or
 * names given by an earlier --set), + - * / and parentheses. Arithmetic
 * reads its columns as numbers: an empty value gives an empty result, text
 * makes the record bad. A filter is COLUMN OP VALUE with OP one of == !=
 * < <= > >=: numeric when VALUE is a number, else a comparison of text.
 *
 * Synchronization: a chunk, and its part file, belong to the thread (or
 * worker process) running it until its future is done, then to the main
 * thread (tools/etl_chunks.c); files and the job, with their bound
 * expressions, are read-only while chunks run; each thread has its own
 * output buffer (_Thread_local). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/csv.h>
#include <weft/pool.h>
#include <weft/procpool.h>
#include <weft/time.h>

#include "tools/etl.h"

enum { MAX_NODES = 256 };


/* ---- expressions ------------------------------------------------------------------- */

typedef enum node_kind { N_NUM, N_TEXT, N_BOOL, N_COL, N_NEG, N_ADD, N_SUB, N_MUL, N_DIV } node_kind;

typedef struct node {
    node_kind kind;
    double num;
    char *text; /* N_TEXT; N_COL: the name until bound */
    int col;    /* N_COL: index in the extended row */
    int a, b;   /* operands (node indices) */
} node;

typedef struct expr {
    node nodes[MAX_NODES];
    int n, root;
} expr;

typedef struct parser {
    const char *s;
    expr *e;
    const char *error;
} parser;

static void skip_space(parser *p)
{
    while (*p->s == ' ' || *p->s == '\t')
        p->s++;
}

static int add_node(parser *p, node n)
{
    if (p->e->n == MAX_NODES) {
        p->error = "expression too long";
        return -1;
    }
    p->e->nodes[p->e->n] = n;
    return p->e->n++;
}

static int parse_sum(parser *p);

static int parse_atom(parser *p)
{
    skip_space(p);
    const char *s = p->s;
    if (*s == '(') {
        p->s++;
        int n = parse_sum(p);
        skip_space(p);
        if (n < 0)
            return n;
        if (*p->s != ')') {
            p->error = "a ')' is missing";
            return -1;
        }
        p->s++;
        return n;
    }
    if (*s == '-') {
        p->s++;
        int a = parse_atom(p);
        return a < 0 ? a : add_node(p, (node){.kind = N_NEG, .a = a});
    }
    if (*s == '\'' || *s == '"') {
        const char *end = strchr(s + 1, *s);
        if (!end) {
            p->error = "a quote is not closed";
            return -1;
        }
        p->s = end + 1;
        return add_node(p, (node){.kind = N_TEXT, .text = strndup(s + 1, (size_t)(end - s - 1))});
    }
    if ((*s >= '0' && *s <= '9') || *s == '.') {
        char *end;
        double v = strtod(s, &end);
        if (end == s) {
            p->error = "a number is malformed";
            return -1;
        }
        p->s = end;
        return add_node(p, (node){.kind = N_NUM, .num = v});
    }
    const char *e = s;
    while ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') || (*e >= '0' && *e <= '9') ||
           *e == '_' || *e == '.')
        e++;
    if (e == s) {
        p->error = *s ? "unexpected character" : "the expression ends too early";
        return -1;
    }
    p->s = e;
    size_t len = (size_t)(e - s);
    if ((len == 4 && !strncmp(s, "true", 4)) || (len == 5 && !strncmp(s, "false", 5)))
        return add_node(p, (node){.kind = N_BOOL, .num = len == 4});
    return add_node(p, (node){.kind = N_COL, .text = strndup(s, len), .col = -1});
}

static int parse_product(parser *p)
{
    int a = parse_atom(p);
    for (;;) {
        skip_space(p);
        if (a < 0 || (*p->s != '*' && *p->s != '/'))
            return a;
        node_kind k = *p->s++ == '*' ? N_MUL : N_DIV;
        int b = parse_atom(p);
        if (b < 0)
            return b;
        a = add_node(p, (node){.kind = k, .a = a, .b = b});
    }
}

static int parse_sum(parser *p)
{
    int a = parse_product(p);
    for (;;) {
        skip_space(p);
        if (a < 0 || (*p->s != '+' && *p->s != '-'))
            return a;
        node_kind k = *p->s++ == '+' ? N_ADD : N_SUB;
        int b = parse_product(p);
        if (b < 0)
            return b;
        a = add_node(p, (node){.kind = k, .a = a, .b = b});
    }
}

/* Parse src into e. Returns NULL, or why it is malformed. */
static const char *parse_expr(const char *src, expr *e)
{
    parser p = {.s = src, .e = e};
    e->n = 0;
    e->root = parse_sum(&p);
    skip_space(&p);
    if (!p.error && *p.s)
        p.error = "unexpected text after the expression";
    return p.error;
}

static void free_expr(expr *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->nodes[i].text);
    e->n = 0;
}

/* ---- the job ------------------------------------------------------------------------------ */

typedef struct setting {
    char *name;
    expr e;
} setting;

typedef enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE } cmp_op;

typedef struct filter {
    char *column;
    cmp_op op;
    char *text; /* the value as written */
    double num;
    bool numeric;
} filter;

typedef struct job {
    char delim;
    etl_on_error on_err;
    const char *quarantine, *dir;
    setting *sets;
    size_t nsets;
    filter *filters;
    size_t nfilters;
    char **select;
    size_t nselect;
    size_t chunk_bytes;
    etl_progress *progress;
    /* The options as given, for worker processes to build the same job. */
    const char **set_args, **filter_args;
    const char *select_arg;
} job;

/* A file, with the job bound to its header: the extended row is the input
 * columns, then the new --set columns. */
typedef struct tfile {
    etl_file in; /* first: path, descriptor, header */
    job *job;
    char *out_path, *tmp_path;
    size_t next_cols;     /* columns of the extended row */
    int *set_target;      /* per --set: its index in the extended row */
    expr *set_exprs;      /* per --set: bound to this header */
    int *filter_col;      /* per --filter */
    int *out_cols;        /* extended-row indices written, in order */
    size_t nout;
    char **names;         /* of the extended row */
    size_t nchunks;       /* its chunks: parts 1..nchunks-1 follow tmp_path's */
    uint64_t rows_in, rows_out, filtered, rejected;
} tfile;

typedef struct tchunk {
    etl_chunk c; /* first: its file, range, index (0 writes the header to tmp_path) */
    uint64_t rows_out, filtered;
} tchunk;

static tfile *file_of(const tchunk *c)
{
    _Static_assert(offsetof(tfile, in) == 0, "a chunk's etl_file is its tfile");
    return (tfile *)(void *)c->c.file;
}

/* Where chunk `index` of f writes (malloc'd; NULL: out of memory): the
 * first writes the temporary file, the others their part files. */
static char *part_path(const tfile *f, size_t index)
{
    char *p;
    if (index == 0)
        return strdup(f->tmp_path);
    return asprintf(&p, "%s.part%zu", f->tmp_path, index) < 0 ? NULL : p;
}

/* Bind an expression's column names to extended-row indices. */
static const char *bind(expr *e, char **names, size_t n, const char **which)
{
    for (int i = 0; i < e->n; i++) {
        node *d = &e->nodes[i];
        if (d->kind != N_COL)
            continue;
        d->col = -1;
        for (size_t c = 0; c < n; c++)
            if (!strcmp(names[c], d->text))
                d->col = (int)c;
        if (d->col < 0) {
            *which = d->text;
            return "no such column";
        }
    }
    return NULL;
}

/* Prepare f for the job: the extended row, the bound expressions, the
 * filters' and the output's columns. Returns 0 or prints why and 2. */
static int bind_file(tfile *f, job *j)
{
    size_t n = f->in.ncols;
    f->names = calloc(n + j->nsets, sizeof *f->names);
    f->set_target = calloc(j->nsets ? j->nsets : 1, sizeof *f->set_target);
    f->set_exprs = calloc(j->nsets ? j->nsets : 1, sizeof *f->set_exprs);
    f->filter_col = calloc(j->nfilters ? j->nfilters : 1, sizeof *f->filter_col);
    f->out_cols = calloc(n + j->nsets + j->nselect, sizeof *f->out_cols);
    if (!f->names || !f->set_target || !f->set_exprs || !f->filter_col || !f->out_cols)
        return 1;
    for (size_t c = 0; c < n; c++)
        f->names[c] = f->in.cols[c].name;
    f->next_cols = n;
    for (size_t s = 0; s < j->nsets; s++) {
        /* Copy the parsed expression (names are shared, not freed here). */
        f->set_exprs[s] = j->sets[s].e;
        const char *which = NULL;
        const char *why = bind(&f->set_exprs[s], f->names, f->next_cols, &which);
        if (why) {
            fprintf(stderr, "weft etl transform: --set %s: %s: %s has no column '%s'\n",
                    j->sets[s].name, why, f->in.path, which);
            return 2;
        }
        int target = -1;
        for (size_t c = 0; c < f->next_cols; c++)
            if (!strcmp(f->names[c], j->sets[s].name))
                target = (int)c;
        if (target < 0) {
            target = (int)f->next_cols++;
            f->names[target] = j->sets[s].name;
        }
        f->set_target[s] = target;
    }
    for (size_t k = 0; k < j->nfilters; k++) {
        f->filter_col[k] = -1;
        for (size_t c = 0; c < f->next_cols; c++)
            if (!strcmp(f->names[c], j->filters[k].column))
                f->filter_col[k] = (int)c;
        if (f->filter_col[k] < 0) {
            fprintf(stderr, "weft etl transform: --filter: %s has no column '%s'\n", f->in.path,
                    j->filters[k].column);
            return 2;
        }
    }
    if (j->nselect) {
        for (size_t k = 0; k < j->nselect; k++) {
            int c = -1;
            for (size_t i = 0; i < f->next_cols; i++)
                if (!strcmp(f->names[i], j->select[k]))
                    c = (int)i;
            if (c < 0) {
                fprintf(stderr, "weft etl transform: --select: %s has no column '%s'\n",
                        f->in.path, j->select[k]);
                return 2;
            }
            f->out_cols[f->nout++] = c;
        }
    } else {
        for (size_t c = 0; c < f->next_cols; c++)
            f->out_cols[f->nout++] = (int)c;
    }
    return 0;
}

/* ---- one row --------------------------------------------------------------------------- */

typedef struct cell {
    const char *data;
    size_t len;
    bool plain; /* unquoted in the input: no delimiter or line break in it */
} cell;

typedef struct row_ctx {
    tchunk *c;
    FILE *out;     /* the chunk's part of the output */
    cell *cells;   /* the extended row */
    char *scratch; /* computed values' text */
    size_t scratch_len, scratch_cap;
    char *line;    /* the output record */
    size_t line_len, line_cap;
} row_ctx;

typedef struct value {
    enum { V_EMPTY, V_NUM, V_TEXT, V_BOOL } kind;
    double num;
    const char *text;
    size_t len;
} value;

static const char *eval(const expr *e, int i, const cell *cells, value *out)
{
    const node *d = &e->nodes[i];
    switch (d->kind) {
    case N_NUM:
        *out = (value){.kind = V_NUM, .num = d->num};
        return NULL;
    case N_TEXT:
        *out = (value){.kind = V_TEXT, .text = d->text, .len = strlen(d->text)};
        return NULL;
    case N_BOOL:
        *out = (value){.kind = V_BOOL, .num = d->num};
        return NULL;
    case N_COL:
        *out = (value){.kind = cells[d->col].len ? V_TEXT : V_EMPTY,
                       .text = cells[d->col].data,
                       .len = cells[d->col].len};
        return NULL;
    default:
        break;
    }
    value a, b = {.kind = V_NUM};
    const char *why = eval(e, d->a, cells, &a);
    if (!why && d->kind != N_NEG)
        why = eval(e, d->b, cells, &b);
    if (why)
        return why;
    /* Arithmetic: text that is a number becomes one. */
    value *ops[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        value *v = ops[k];
        if (v->kind == V_TEXT) {
            if (!weft_csv_parse_number(v->text, v->len, &v->num))
                return "text where arithmetic needs a number";
            v->kind = V_NUM;
        } else if (v->kind == V_BOOL) {
            return "arithmetic on true or false";
        }
    }
    if (a.kind == V_EMPTY || b.kind == V_EMPTY) {
        *out = (value){.kind = V_EMPTY};
        return NULL;
    }
    double r = d->kind == N_NEG   ? -a.num
               : d->kind == N_ADD ? a.num + b.num
               : d->kind == N_SUB ? a.num - b.num
               : d->kind == N_MUL ? a.num * b.num
                                  : a.num / b.num;
    *out = (value){.kind = V_NUM, .num = r};
    return NULL;
}

static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return -ENOMEM;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

/* m / 10^decimals as text, m an integer below 2^53 in magnitude. */
static int print_fixed(char *buf, int64_t m, int decimals)
{
    char digits[32];
    int n = 0;
    bool neg = m < 0;
    uint64_t u = neg ? (uint64_t)(-m) : (uint64_t)m;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u || n <= decimals);
    int o = 0;
    if (neg)
        buf[o++] = '-';
    for (int i = n - 1; i >= 0; i--) {
        buf[o++] = digits[i];
        if (i == decimals && decimals)
            buf[o++] = '.';
    }
    buf[o] = 0;
    return o;
}

/* The shortest text that reads back as v (as Python's repr does). Most
 * values of a CSV are short decimals: the fewest decimals d for which
 * round(v * 10^d) / 10^d is v again (that division rounds as strtod
 * would read the text) are found without printf; others go through %g. */
static int format_number(char *buf, size_t len, double v)
{
    if (fabs(v) < 1e15 && len >= 32) {
        double scale = 1;
        for (int d = 0; d <= 9; d++, scale *= 10) {
            double m = nearbyint(v * scale);
            if (fabs(m) >= 9007199254740992.0)
                break;
            if (m / scale == v)
                return print_fixed(buf, (int64_t)m, d);
        }
    }
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return n;
    }
    return snprintf(buf, len, "%.17g", v);
}

/* Write one field, quoted if it must be. plain: it came unquoted from the
 * input with this delimiter, so only a quote inside can make it need
 * quotes (memchr instead of a byte loop). */
static int write_field(row_ctx *x, const char *p, size_t n, char delim, bool plain)
{
    bool quote = false;
    if (plain)
        quote = n && memchr(p, '"', n) != NULL;
    else
        for (size_t i = 0; i < n && !quote; i++)
            quote = p[i] == delim || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (!quote)
        return append(&x->line, &x->line_len, &x->line_cap, p, n);
    /* RFC 4180: in quotes, each quote doubled. */
    const char *from = p, *end = p + n;
    if (append(&x->line, &x->line_len, &x->line_cap, "\"", 1) < 0)
        return -ENOMEM;
    for (const char *q; (q = memchr(from, '"', (size_t)(end - from))) != NULL; from = q + 1)
        if (append(&x->line, &x->line_len, &x->line_cap, from, (size_t)(q + 1 - from)) < 0 ||
            append(&x->line, &x->line_len, &x->line_cap, "\"", 1) < 0)
            return -ENOMEM;
    if (append(&x->line, &x->line_len, &x->line_cap, from, (size_t)(end - from)) < 0 ||
        append(&x->line, &x->line_len, &x->line_cap, "\"", 1) < 0)
        return -ENOMEM;
    return 0;
}

static bool compare(const filter *k, const cell *v, const char **why)
{
    int cmp;
    if (k->numeric) {
        double x;
        if (v->len == 0)
            return false; /* missing: no comparison holds */
        if (!weft_csv_parse_number(v->data, v->len, &x)) {
            *why = "text where the filter compares numbers";
            return false;
        }
        cmp = x < k->num ? -1 : x > k->num;
    } else {
        size_t n = strlen(k->text);
        cmp = memcmp(v->data, k->text, v->len < n ? v->len : n);
        if (cmp == 0)
            cmp = v->len < n ? -1 : v->len > n;
    }
    switch (k->op) {
    case OP_EQ:
        return cmp == 0;
    case OP_NE:
        return cmp != 0;
    case OP_LT:
        return cmp < 0;
    case OP_LE:
        return cmp <= 0;
    case OP_GT:
        return cmp > 0;
    default:
        return cmp >= 0;
    }
}

static int on_row(void *arg, const weft_csv_record *r)
{
    row_ctx *x = arg;
    tchunk *c = x->c;
    tfile *f = file_of(c);
    job *j = f->job;
    if (r->count == 0 && !r->error)
        return 0; /* an empty line */
    c->c.rows++;
    if (r->error)
        return etl_reject(&c->c, j->on_err, r, r->error);
    if (r->count != f->in.ncols) {
        char why[96];
        snprintf(why, sizeof why, "%zu fields where the header has %zu", r->count, f->in.ncols);
        return etl_reject(&c->c, j->on_err, r, why);
    }
    for (size_t i = 0; i < r->count; i++)
        x->cells[i] = (cell){r->fields[i].data, r->fields[i].len, !r->fields[i].quoted};
    /* Computed columns, in order; their text goes to scratch, which may
     * move: cells point into it by offset until the row is complete. */
    x->scratch_len = 0;
    size_t *offs = (size_t *)(void *)(x->cells + f->next_cols);
    for (size_t s = 0; s < j->nsets; s++) {
        value v;
        const char *why = eval(&f->set_exprs[s], f->set_exprs[s].root, x->cells, &v);
        if (why) {
            char msg[160];
            snprintf(msg, sizeof msg, "--set %s: %s", j->sets[s].name, why);
            return etl_reject(&c->c, j->on_err, r, msg);
        }
        char num[40];
        const char *text = "";
        size_t len = 0;
        if (v.kind == V_NUM) {
            len = (size_t)format_number(num, sizeof num, v.num);
            text = num;
        } else if (v.kind == V_BOOL) {
            text = v.num ? "true" : "false";
            len = strlen(text);
        } else if (v.kind == V_TEXT) {
            text = v.text;
            len = v.len;
        }
        size_t at = x->scratch_len;
        if (append(&x->scratch, &x->scratch_len, &x->scratch_cap, text, len) < 0)
            return -ENOMEM;
        int t = f->set_target[s];
        offs[t] = at;
        x->cells[t] = (cell){x->scratch + at, len, false};
        /* scratch may have moved: refresh the computed cells so far. */
        for (size_t k = 0; k <= s; k++) {
            int tk = f->set_target[k];
            x->cells[tk].data = x->scratch + offs[tk];
        }
    }
    for (size_t k = 0; k < j->nfilters; k++) {
        const char *why = NULL;
        bool keep = compare(&j->filters[k], &x->cells[f->filter_col[k]], &why);
        if (why)
            return etl_reject(&c->c, j->on_err, r, why);
        if (!keep) {
            c->filtered++;
            return 0;
        }
    }
    x->line_len = 0;
    for (size_t o = 0; o < f->nout; o++) {
        const cell *v = &x->cells[f->out_cols[o]];
        if ((o && append(&x->line, &x->line_len, &x->line_cap, &j->delim, 1) < 0) ||
            write_field(x, v->data, v->len, j->delim, v->plain) < 0)
            return -ENOMEM;
    }
    if (append(&x->line, &x->line_len, &x->line_cap, "\n", 1) < 0)
        return -ENOMEM;
    if (fwrite(x->line, 1, x->line_len, x->out) != x->line_len)
        return -errno ? -errno : -EIO;
    c->rows_out++;
    return 0;
}

static int write_header(const tfile *f, row_ctx *x)
{
    x->line_len = 0;
    for (size_t o = 0; o < f->nout; o++) {
        const char *name = f->names[f->out_cols[o]];
        if ((o && append(&x->line, &x->line_len, &x->line_cap, &f->job->delim, 1) < 0) ||
            write_field(x, name, strlen(name), f->job->delim, false) < 0)
            return -ENOMEM;
    }
    if (append(&x->line, &x->line_len, &x->line_cap, "\n", 1) < 0)
        return -ENOMEM;
    return fwrite(x->line, 1, x->line_len, x->out) == x->line_len ? 0 : -EIO;
}

/* Step 1 for one chunk, on a thread of the pool or in a worker process. */
static int run_chunk(void *arg, weft_value *result)
{
    (void)result;
    tchunk *c = arg;
    tfile *f = file_of(c);
    job *j = f->job;
    char *path = part_path(f, c->c.index);
    row_ctx x = {.c = c, .out = path ? fopen(path, "w") : NULL};
    int rc = x.out ? 0 : path ? -errno : -ENOMEM;
    free(path);
    if (rc < 0)
        return c->c.err = rc;
    static _Thread_local char obuf[1 << 20];
    setvbuf(x.out, obuf, _IOFBF, sizeof obuf);
    /* The extended row's cells, then the computed cells' scratch offsets. */
    x.cells = calloc(f->next_cols, sizeof(cell) + sizeof(size_t));
    if (!x.cells)
        rc = -ENOMEM;
    if (rc == 0 && c->c.index == 0)
        rc = write_header(f, &x);
    if (rc == 0)
        rc = etl_read_chunk(&c->c, j->delim, on_row, &x, &j->progress->bytes);
    if (fclose(x.out) != 0 && rc == 0)
        rc = -errno;
    free(x.cells);
    free(x.scratch);
    free(x.line);
    /* > 0: stopped at a bad record (fail): reported from the list. */
    return c->c.err = rc > 0 ? 0 : rc;
}

/* Steps 2 and 3 for one file whose chunks are done. */
static int finish_file(tfile *f, bool keep)
{
    int rc = 0;
    /* Not O_APPEND: copy_file_range refuses it; the offset is put at the
     * end once. */
    int out = keep ? open(f->tmp_path, O_WRONLY | O_CLOEXEC) : -1;
    if (keep && (out < 0 || lseek(out, 0, SEEK_END) < 0))
        rc = -errno;
    for (size_t i = 1; i < f->nchunks; i++) {
        char *part = part_path(f, i);
        if (!part) {
            rc = -ENOMEM;
            continue;
        }
        if (rc == 0 && keep) {
            int in = open(part, O_RDONLY | O_CLOEXEC);
            if (in < 0) {
                rc = -errno;
            } else {
                bool plain = false; /* copy_file_range unsupported here */
                static _Thread_local char copy[1 << 16];
                for (;;) {
                    ssize_t m = plain ? read(in, copy, sizeof copy)
                                      : copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                    if (m < 0 && errno == EINTR)
                        continue;
                    if (m < 0 && !plain && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                                            errno == EOPNOTSUPP)) {
                        plain = true;
                        continue;
                    }
                    if (m <= 0) {
                        if (m < 0)
                            rc = -errno;
                        break;
                    }
                    if (plain && write(out, copy, (size_t)m) != m) {
                        rc = -EIO;
                        break;
                    }
                }
                close(in);
            }
        }
        unlink(part);
        free(part);
    }
    if (out >= 0 && close(out) < 0 && rc == 0)
        rc = -errno;
    if (keep && rc == 0 && rename(f->tmp_path, f->out_path) < 0)
        rc = -errno;
    if (!keep || rc < 0)
        unlink(f->tmp_path);
    return rc;
}

static int parse_filter(const char *src, filter *k);

/* Parse the --set, --filter and --select strings of j into j (printing
 * what is wrong). *select_copy gets the copy --select's names live in.
 * Returns 0 or -1. */
static int build_job(job *j, size_t nsets, size_t nfilters, char **select_copy)
{
    j->sets = calloc(nsets ? nsets : 1, sizeof *j->sets);
    j->filters = calloc(nfilters ? nfilters : 1, sizeof *j->filters);
    if (!j->sets || !j->filters)
        return -1;
    for (size_t i = 0; i < nsets; i++) {
        const char *v = j->set_args[i], *eq = strchr(v, '=');
        if (!eq || eq == v) {
            fprintf(stderr, "weft etl transform: --set %s: NAME=EXPR expected\n", v);
            return -1;
        }
        setting *s = &j->sets[j->nsets++];
        const char *name_end = eq;
        while (name_end > v && name_end[-1] == ' ')
            name_end--;
        s->name = strndup(v, (size_t)(name_end - v));
        const char *why = parse_expr(eq + 1, &s->e);
        if (why) {
            fprintf(stderr, "weft etl transform: --set %s: %s\n", v, why);
            return -1;
        }
    }
    for (size_t i = 0; i < nfilters; i++) {
        if (parse_filter(j->filter_args[i], &j->filters[j->nfilters++]) < 0) {
            fprintf(stderr, "weft etl transform: --filter %s: COLUMN OP VALUE expected "
                            "(OP: == != < <= > >=)\n", j->filter_args[i]);
            return -1;
        }
    }
    if (j->select_arg) {
        *select_copy = strdup(j->select_arg);
        j->select = calloc(strlen(j->select_arg) + 1, sizeof *j->select);
        if (!*select_copy || !j->select)
            return -1;
        for (char *save = NULL, *t = strtok_r(*select_copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save))
            j->select[j->nselect++] = t;
    }
    return 0;
}

static void free_job(job *j)
{
    for (size_t s = 0; j->sets && s < j->nsets; s++) {
        free(j->sets[s].name);
        free_expr(&j->sets[s].e);
    }
    free(j->sets);
    for (size_t k = 0; j->filters && k < j->nfilters; k++) {
        free(j->filters[k].column);
        free(j->filters[k].text);
    }
    free(j->filters);
    free(j->select);
}

/* ---- the processes backend ------------------------------------------------------------------- */
/* With --backend processes a chunk runs in a weft_procpool worker: the
 * request is the file's name and header, the chunk's range
 * (tools/etl_chunks.c writes that part), the temporary file the part
 * files are named after, and the options as the user wrote them; the
 * worker builds the same job, writes its part file itself, and sends back
 * its counts and bad records. */

static void put_cstr(etl_wbuf *b, const char *s)
{
    etl_put_str(b, s, s ? strlen(s) : 0);
}

static void put_request(etl_wbuf *b, const etl_chunk *cc)
{
    const tfile *f = file_of((const tchunk *)cc);
    const job *j = f->job;
    put_cstr(b, f->tmp_path);
    etl_put_u64(b, j->nsets);
    for (size_t i = 0; i < j->nsets; i++)
        put_cstr(b, j->set_args[i]);
    etl_put_u64(b, j->nfilters);
    for (size_t i = 0; i < j->nfilters; i++)
        put_cstr(b, j->filter_args[i]);
    put_cstr(b, j->select_arg);
}

static int transform_chunk(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    etl_rbuf in = {arg, (const unsigned char *)arg + len, false};
    etl_progress progress = {0};
    job j = {.progress = &progress};
    tfile f = {.job = &j};
    tchunk c = {0};
    char *select_copy = NULL, *select = NULL;
    int rc = etl_get_request(&in, &c.c, &f.in, &j.delim, &j.on_err);
    f.tmp_path = rc == 0 ? etl_get_strdup(&in) : NULL;
    size_t nsets = rc == 0 ? (size_t)etl_get_u64(&in) : 0;
    if (rc == 0 && (in.failed || !f.tmp_path || nsets > len))
        rc = -EPROTO;
    j.set_args = calloc(nsets + 1, sizeof *j.set_args);
    for (size_t i = 0; rc == 0 && j.set_args && i < nsets && !in.failed; i++)
        j.set_args[i] = etl_get_strdup(&in);
    size_t nfilters = rc == 0 ? (size_t)etl_get_u64(&in) : 0;
    if (rc == 0 && (in.failed || nfilters > len))
        rc = -EPROTO;
    j.filter_args = calloc(nfilters + 1, sizeof *j.filter_args);
    for (size_t i = 0; rc == 0 && j.filter_args && i < nfilters && !in.failed; i++)
        j.filter_args[i] = etl_get_strdup(&in);
    select = rc == 0 ? etl_get_strdup(&in) : NULL;
    j.select_arg = select && *select ? select : NULL;
    if (rc == 0 && (in.failed || !j.set_args || !j.filter_args))
        rc = -EPROTO;
    if (rc == 0 && (build_job(&j, nsets, nfilters, &select_copy) < 0 || bind_file(&f, &j) != 0))
        rc = -EINVAL; /* the parent checked the same: not reached */
    if (rc == 0) {
        run_chunk(&c, NULL);
        etl_wbuf out = {0};
        etl_put_result(&out, &c.c);
        etl_put_u64(&out, c.rows_out);
        etl_put_u64(&out, c.filtered);
        rc = out.failed ? -ENOMEM : weft_proc_return(ctx, out.p, out.len);
        free(out.p);
    }
    etl_bads_free(&c.c);
    etl_worker_file_close(&f.in);
    free(f.tmp_path);
    free(f.names);
    free(f.set_target);
    free(f.set_exprs);
    free(f.filter_col);
    free(f.out_cols);
    for (size_t i = 0; j.set_args && i < nsets; i++)
        free((char *)j.set_args[i]);
    for (size_t i = 0; j.filter_args && i < nfilters; i++)
        free((char *)j.filter_args[i]);
    free(j.set_args);
    free(j.filter_args);
    free_job(&j);
    free(select_copy);
    free(select);
    return rc;
}
WEFT_PROC_TASK(transform_chunk);

/* The worker's counts into the chunk (after the common part). */
static int take_result(etl_chunk *cc, etl_rbuf *in)
{
    tchunk *c = (tchunk *)cc;
    c->rows_out = etl_get_u64(in);
    c->filtered = etl_get_u64(in);
    return 0;
}

/* ---- the command ----------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: weft etl transform [options] FILES... -o DIR\n"
            "Writes each input, transformed, to DIR under the same name (written to a\n"
            "temporary name, then renamed: no half-written output).\n\n"
            "  --set NAME=EXPR   compute a column (added, or replaced if it exists); EXPR has\n"
            "                    numbers, 'text', true, false, columns, + - * / and ( )\n"
            "  --filter 'COL OP VALUE'  keep rows where it holds (OP: == != < <= > >=);\n"
            "                    repeated: all must hold. Example: --filter 'amount>100'\n"
            "  --select COLS     write these columns, in this order (default: all)\n"
            "  -o DIR            output directory (required, created if needed)\n"
            "  --json            the report as JSON\n"
            "%s",
            etl_options_help);
}

static int parse_filter(const char *src, filter *k)
{
    static const struct {
        const char *text;
        cmp_op op;
    } ops[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE}, {"<", OP_LT}, {">", OP_GT}};
    const char *best = NULL;
    size_t which = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const char *at = strstr(src, ops[i].text);
        if (at && (!best || at < best || (at == best && strlen(ops[i].text) > strlen(ops[which].text)))) {
            best = at;
            which = i;
        }
    }
    if (!best || best == src)
        return -1;
    const char *name_end = best;
    while (name_end > src && name_end[-1] == ' ')
        name_end--;
    const char *v = best + strlen(ops[which].text);
    while (*v == ' ')
        v++;
    size_t vlen = strlen(v);
    if ((*v == '\'' || *v == '"') && vlen >= 2 && v[vlen - 1] == *v) {
        v++;
        vlen -= 2;
    }
    k->column = strndup(src, (size_t)(name_end - src));
    k->op = ops[which].op;
    k->text = strndup(v, vlen);
    k->numeric = weft_csv_parse_number(k->text, vlen, &k->num) && best[strlen(ops[which].text)] != '\'' &&
                 best[strlen(ops[which].text)] != '"';
    return k->column && k->text ? 0 : -1;
}

int weft_etl_transform(int argc, char **argv)
{
    job j = {0};
    etl_options opt;
    etl_options_init(&opt);
    int taken;
    bool as_json = false;
    int status = 0;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    size_t npaths = 0;
    j.set_args = calloc((size_t)argc, sizeof *j.set_args);
    j.filter_args = calloc((size_t)argc, sizeof *j.filter_args);
    size_t nset_args = 0, nfilter_args = 0;
    char *select_arg = NULL;
    tfile *files = NULL;
    tchunk *chunks = NULL;
    size_t nchunks = 0, cap = 0;
    if (!paths || !j.set_args || !j.filter_args) {
        status = 1;
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto done;
        } else if (!strcmp(a, "--json")) {
            as_json = true;
        } else if ((taken = etl_options_parse(&opt, "transform", a, v)) != 0) {
            if (taken < 0) {
                status = 2;
                goto done;
            }
            i += taken - 1;
        } else if (a[0] == '-' && (a[1] == '-' || !strcmp(a, "-o"))) {
            if (!v) {
                fprintf(stderr, "weft etl transform: %s needs a value\n", a);
                status = 2;
                goto done;
            }
            i++;
            if (!strcmp(a, "-o")) {
                j.dir = v;
            } else if (!strcmp(a, "--set")) {
                j.set_args[nset_args++] = v;
            } else if (!strcmp(a, "--filter")) {
                j.filter_args[nfilter_args++] = v;
            } else if (!strcmp(a, "--select")) {
                j.select_arg = v;
            } else {
                fprintf(stderr, "weft etl transform: unknown option '%s'\n\n", a);
                usage(stderr);
                status = 2;
                goto done;
            }
        } else {
            paths[npaths++] = a;
        }
    }
    if (!npaths || !j.dir) {
        fprintf(stderr, "weft etl transform: %s\n\n", npaths ? "-o DIR is required" : "no input file");
        usage(stderr);
        status = 2;
        goto done;
    }
    j.delim = opt.delim;
    j.on_err = opt.on_err;
    j.quarantine = opt.quarantine;
    j.chunk_bytes = opt.chunk_bytes;
    if (build_job(&j, nset_args, nfilter_args, &select_arg) < 0) {
        status = 2;
        goto done;
    }
    if (mkdir(j.dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "weft etl transform: cannot create %s: %s\n", j.dir, strerror(errno));
        status = 1;
        goto done;
    }
    files = calloc(npaths, sizeof *files);
    if (!files) {
        status = 1;
        goto done;
    }
    for (size_t i = 0; i < npaths; i++)
        files[i].in.fd = -1;
    uint64_t total_bytes = 0;
    char dir_real[PATH_MAX];
    if (!realpath(j.dir, dir_real)) {
        fprintf(stderr, "weft etl transform: %s: %s\n", j.dir, strerror(errno));
        status = 1;
        goto done;
    }
    for (size_t i = 0; i < npaths && !status; i++) {
        tfile *f = &files[i];
        f->job = &j;
        if (etl_file_open(&f->in, paths[i], j.delim, NULL, 0, "transform")) {
            status = 1;
            break;
        }
        total_bytes += f->in.size;
        status = bind_file(f, &j);
        const char *base = strrchr(paths[i], '/');
        base = base ? base + 1 : paths[i];
        if (asprintf(&f->out_path, "%s/%s", j.dir, base) < 0 ||
            asprintf(&f->tmp_path, "%s/.%s.weft-tmp.%ld", j.dir, base, (long)getpid()) < 0) {
            status = 1;
            break;
        }
        /* Never write over an input. */
        char in_real[PATH_MAX], parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", paths[i]);
        char *slash = strrchr(parent, '/');
        if (slash)
            *slash = 0;
        if (realpath(slash ? parent : ".", in_real) && !strcmp(in_real, dir_real)) {
            fprintf(stderr, "weft etl transform: %s would be written over: choose another -o\n",
                    paths[i]);
            status = 2;
        }
        for (size_t k = 0; k < i && !status; k++)
            if (!strcmp(files[k].out_path, f->out_path)) {
                fprintf(stderr, "weft etl transform: %s and %s have the same name\n",
                        paths[k], paths[i]);
                status = 2;
            }
    }
    if (status)
        goto done;
    etl_runner run = {.tool = "transform",
                      .run = run_chunk,
                      .task = WEFT_PROC_TASK_REF(transform_chunk),
                      .delim = j.delim,
                      .on_err = j.on_err,
                      .put_request = put_request,
                      .take_result = take_result};
    if (etl_runner_start(&run, &opt, total_bytes)) {
        status = 1;
        goto done;
    }
    j.progress = &run.progress;
    char *q_tmp = NULL;
    FILE *q = NULL;
    if (!status && j.on_err == ETL_QUARANTINE &&
        !(q = etl_out_open(j.quarantine, &q_tmp, "transform")))
        status = 1;
    /* Step 1, twice at most: again, as one chunk, for the files whose cuts
     * were wrong. */
    for (int pass = 0; pass < 2 && !status; pass++) {
        nchunks = 0;
        for (size_t i = 0; i < npaths && !status; i++) {
            tfile *f = &files[i];
            if (pass == 1 && !f->in.whole)
                continue;
            size_t from = nchunks;
            int rc = etl_plan_chunks(&f->in, run.pool, j.chunk_bytes, (void **)&chunks,
                                     sizeof *chunks, &nchunks, &cap);
            if (rc < 0) {
                fprintf(stderr, "weft etl transform: %s: %s\n", f->in.path, weft_strerror(rc));
                status = 1;
            }
            f->nchunks = nchunks - from;
        }
        bool again = !status && etl_run_chunks(&run, chunks, nchunks, sizeof *chunks);
        /* Counts per file, and the bad records, in order; a file read
         * again drops this pass's chunks (its first rewrites tmp_path). */
        for (size_t c = 0; c < nchunks; c++) {
            tchunk *k = &chunks[c];
            tfile *f = file_of(k);
            bool dropped = pass == 0 && f->in.whole;
            etl_settle(&k->c, dropped, j.on_err, q, "transform", &status);
            if (dropped) {
                char *part = k->c.index ? part_path(f, k->c.index) : NULL;
                if (part)
                    unlink(part);
                free(part);
                continue;
            }
            f->rows_in += k->c.rows;
            f->rows_out += k->rows_out;
            f->filtered += k->filtered;
            f->rejected += k->c.rejected;
        }
        if (!again)
            break;
    }
    double seconds = etl_runner_stop(&run);
    if (q && etl_out_commit(q, &q_tmp, j.quarantine, status == 0, "transform"))
        status = 1;
    /* Steps 2 and 3: outputs appear only if everything went well. */
    for (size_t i = 0; i < npaths; i++) {
        int rc = finish_file(&files[i], status == 0);
        if (rc < 0 && status == 0) {
            fprintf(stderr, "weft etl transform: %s: %s\n", files[i].out_path, weft_strerror(rc));
            status = 1;
        }
    }
    if (status == 0) {
        uint64_t in = 0, out = 0, filtered = 0, rejected = 0;
        for (size_t i = 0; i < npaths; i++) {
            in += files[i].rows_in;
            out += files[i].rows_out;
            filtered += files[i].filtered;
            rejected += files[i].rejected;
        }
        if (as_json) {
            printf("{\"files\":[");
            for (size_t i = 0; i < npaths; i++)
                printf("%s{\"input\":\"%s\",\"output\":\"%s\",\"rows_in\":%llu,\"rows_out\":%llu,"
                       "\"filtered\":%llu,\"rejected\":%llu}",
                       i ? "," : "", files[i].in.path, files[i].out_path,
                       (unsigned long long)files[i].rows_in, (unsigned long long)files[i].rows_out,
                       (unsigned long long)files[i].filtered, (unsigned long long)files[i].rejected);
            printf("],\"rows_in\":%llu,\"rows_out\":%llu,\"filtered\":%llu,\"rejected\":%llu,"
                   "\"bytes\":%llu,\"seconds\":%.6f}\n",
                   (unsigned long long)in, (unsigned long long)out, (unsigned long long)filtered,
                   (unsigned long long)rejected, (unsigned long long)total_bytes, seconds);
        } else {
            printf("%-32s %12s %12s %10s %10s\n", "output", "rows in", "rows out", "filtered",
                   "rejected");
            for (size_t i = 0; i < npaths; i++)
                printf("%-32s %12llu %12llu %10llu %10llu\n", files[i].out_path,
                       (unsigned long long)files[i].rows_in, (unsigned long long)files[i].rows_out,
                       (unsigned long long)files[i].filtered, (unsigned long long)files[i].rejected);
            printf("\nrows in %llu = rows out %llu + filtered %llu + rejected %llu; %.1f MB in "
                   "%.3f s (%.0f MB/s)\n",
                   (unsigned long long)in, (unsigned long long)out, (unsigned long long)filtered,
                   (unsigned long long)rejected, (double)total_bytes / 1e6, seconds,
                   seconds > 0 ? (double)total_bytes / 1e6 / seconds : 0);
        }
    }
done:
    free(chunks);
    for (size_t i = 0; files && i < npaths; i++) {
        etl_file_close(&files[i].in);
        free(files[i].names);
        free(files[i].set_target);
        free(files[i].set_exprs);
        free(files[i].filter_col);
        free(files[i].out_cols);
        free(files[i].out_path);
        free(files[i].tmp_path);
    }
    free(files);
    free_job(&j);
    free(j.set_args);
    free(j.filter_args);
    free(select_arg);
    free(paths);
    return status;
}
