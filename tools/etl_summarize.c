/* weft etl summarize: per file and overall, the rows, the statistics of
 * every numeric column (count, sum, mean, min, max, std), exact distinct
 * counts of chosen columns and, optionally, the same by group; as a table,
 * JSON or CSV.
 *
 * How (numbered as the code runs):
 *   1. Each file's header is read, and the type of every column decided
 *      from the first data rows (numeric if most of their values parse as
 *      numbers; --text overrides).
 *   2. Files are cut into chunks of about --chunk bytes at record starts:
 *      one pass counts quotes and line breaks per piece (in parallel), the
 *      parity of the quotes before a cut says whether it falls inside a
 *      quoted field, and weft_csv_find_record_start moves it to the next
 *      record. Small files are one chunk.
 *   3. The chunks run on a thread pool (--jobs), each with its own reader
 *      and partial aggregate, reading its byte range in 256 KiB blocks
 *      (they stay in the core's cache while it parses them): the memory
 *      used is --jobs blocks plus the aggregates, whatever the size of the
 *      input.
 *   4. Partial aggregates are merged in file and chunk order. Plain
 *      decimals are added and merged exactly, as 128-bit integer sums at
 *      a common scale, so their sums and variances are the exact ones
 *      rounded once; other numbers by Chan's formulas with compensated
 *      sums (the stats type below). Step 2 also
 *      counted the line breaks before each cut, so every chunk reports
 *      its file's own line numbers.
 *   5. A chunk whose guessed start was wrong (its predecessor ended inside
 *      a quoted field: a quote inside an unquoted field breaks the parity
 *      count) is not trusted: that file is read again as one chunk
 *      (tools/etl_chunks.c checks, for transform too).
 * Bad records (--on-error): fail stops at the first with file:line and the
 * reason; skip counts them; quarantine=FILE also writes their bytes there.
 * Either way rows in = rows out + rows rejected, and the report says so.
 *
 * Synchronization: a chunk and its partial aggregate belong to the thread
 * running it until its future is done, then to the main thread, which
 * alone merges (tools/etl_chunks.c); files and the job are read-only
 * while chunks run. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
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
#include "tools/weft_tool.h"

typedef enum format { FMT_TABLE, FMT_JSON, FMT_CSV } format;

/* ---- statistics --------------------------------------------------------------------- */

/* A column's statistics, in two parts:
 * - plain decimals (most values: "504.89", "13023716") exactly, as
 *   integers at a common scale (the value is the integer / 10^scale):
 *   count, sum, sum of squares in 128 bits, min, max. Adding and merging
 *   them is exact; the sum and the variance of decimal data are the exact
 *   ones, rounded once at the end;
 * - other numbers (an exponent, many digits, a large value), and decimals
 *   that would not fit, as doubles: while a chunk adds them, sums of
 *   (x - shift), shift being the first (the shifted-data variance) and a
 *   compensated sum; merged by Chan's formulas as moments.
 * stats_close computes what is printed (count, mean, M2: the sum of
 * squared deviations, sum, min, max) from both parts, without changing
 * them. */
typedef struct moments {
    uint64_t count;
    double mean, m2;
    double sum, comp; /* Neumaier-compensated sum */
    double min, max;
} moments;

typedef struct stats {
    /* Decimals. */
    uint64_t dcount;
    unsigned scale;
    int64_t dmin, dmax;
    __int128 dsum, dsq;
    /* Doubles being added, and doubles merged. */
    uint64_t fcount;
    double shift, s1, s2, fsum, fcomp, fmin, fmax;
    moments merged;
    /* What is printed: valid after stats_close, until the next merge. */
    moments out;
    bool closed;
} stats;

/* Scaled decimals stay under 2^40: squares add up in 128 bits (up to 2^47
 * values), and min and max convert to doubles exactly. */
#define DEC_LIMIT ((int64_t)1 << 40)

static const int64_t pow10_int[] = {1,           10,           100,           1000,
                                    10000,       100000,       1000000,       10000000,
                                    100000000,   1000000000,   10000000000,   100000000000,
                                    1000000000000};
#define MAX_SCALE (sizeof pow10_int / sizeof pow10_int[0] - 1)
static const double pow10_dbl[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                   1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
                                   1e20, 1e21, 1e22, 1e23, 1e24};

static void stats_add(stats *s, double x)
{
    if (s->fcount++ == 0) {
        s->shift = s->fmin = s->fmax = x;
    } else {
        s->fmin = x < s->fmin ? x : s->fmin;
        s->fmax = x > s->fmax ? x : s->fmax;
    }
    double d = x - s->shift;
    s->s1 += d;
    s->s2 += d * d;
    /* The rounding error of sum + x, exactly and without a branch (Knuth's
     * TwoSum), goes to the compensation. */
    double t = s->fsum + x, xp = t - s->fsum;
    s->fcomp += (s->fsum - (t - xp)) + (x - xp);
    s->fsum = t;
}

/* Move the decimal part to a finer scale, if it stays in range. */
static bool dec_rescale(stats *s, unsigned scale)
{
    if (scale > MAX_SCALE)
        return false;
    int64_t k = pow10_int[scale - s->scale];
    int64_t big = s->dmax > -s->dmin ? s->dmax : -s->dmin;
    if (big >= DEC_LIMIT / k)
        return false;
    s->dmin *= k;
    s->dmax *= k;
    s->dsum *= k;
    s->dsq *= (__int128)k * k;
    s->scale = scale;
    return true;
}

/* Add mant, at the decimal part's scale and in range. */
static inline void dec_put(stats *s, int64_t mant)
{
    s->dcount++;
    s->dmin = mant < s->dmin ? mant : s->dmin;
    s->dmax = mant > s->dmax ? mant : s->dmax;
    s->dsum += mant;
    s->dsq += (__int128)mant * mant;
}

/* Add the decimal mant / 10^scale exactly. Returns false when it does not
 * fit the decimal part (then the caller adds it as a double). */
static bool stats_add_decimal(stats *s, int64_t mant, unsigned scale)
{
    if (s->dcount == 0) {
        if (scale > MAX_SCALE)
            return false;
        s->scale = scale;
    } else if (scale < s->scale) {
        int64_t k = pow10_int[s->scale - scale];
        if (mant >= DEC_LIMIT / k || mant <= -DEC_LIMIT / k)
            return false;
        mant *= k;
    } else if (scale > s->scale && !dec_rescale(s, scale)) {
        return false;
    }
    if (mant >= DEC_LIMIT || mant <= -DEC_LIMIT)
        return false;
    if (s->dcount == 0)
        s->dmin = s->dmax = mant;
    dec_put(s, mant);
    return true;
}

/* a += b (Chan's formulas; sums compensated). */
static void moments_merge(moments *a, const moments *b)
{
    if (!b->count)
        return;
    if (!a->count) {
        *a = *b;
        return;
    }
    double n = (double)(a->count + b->count), d = b->mean - a->mean;
    a->m2 += b->m2 + d * d * (double)a->count * (double)b->count / n;
    a->mean += d * (double)b->count / n;
    double t = a->sum + b->sum;
    a->comp += (fabs(a->sum) >= fabs(b->sum) ? (a->sum - t) + b->sum : (b->sum - t) + a->sum) +
               b->comp;
    a->sum = t;
    a->count += b->count;
    if (b->min < a->min)
        a->min = b->min;
    if (b->max > a->max)
        a->max = b->max;
}

/* The moments of the decimal part, rounded once from exact integers. */
static moments dec_moments(const stats *s)
{
    if (!s->dcount)
        return (moments){0};
    /* M2 = Q - S^2/n: with S = n q + r, n M2 = n (Q - n q^2 - 2 q r) - r^2,
     * computed in integers without overflow. */
    __int128 n = (__int128)s->dcount, q = s->dsum / n, r = s->dsum % n;
    __int128 t = s->dsq - n * q * q - 2 * q * r;
    double p = pow10_dbl[s->scale];
    moments m = {.count = s->dcount,
                 .sum = (double)s->dsum / p,
                 .mean = ((double)q + (double)r / (double)n) / p,
                 .m2 = ((double)t - (double)r * (double)r / (double)n) / (p * p),
                 .min = (double)s->dmin / p,
                 .max = (double)s->dmax / p};
    if (m.m2 < 0)
        m.m2 = 0; /* the rounding of a zero variance */
    return m;
}

/* The moments of the doubles being added. */
static moments open_moments(const stats *s)
{
    if (!s->fcount)
        return (moments){0};
    double n = (double)s->fcount;
    moments m = {.count = s->fcount,
                 .mean = s->shift + s->s1 / n,
                 .m2 = s->s2 - s->s1 * s->s1 / n,
                 .sum = s->fsum,
                 .comp = s->fcomp,
                 .min = s->fmin,
                 .max = s->fmax};
    if (m.m2 < 0)
        m.m2 = 0;
    return m;
}

static void stats_close(stats *s)
{
    if (s->closed)
        return;
    s->closed = true;
    s->out = s->merged;
    moments d = dec_moments(s), f = open_moments(s);
    moments_merge(&s->out, &d);
    moments_merge(&s->out, &f);
}

static void stats_merge(stats *a, const stats *b)
{
    a->closed = false;
    moments f = open_moments(b);
    moments_merge(&a->merged, &b->merged);
    moments_merge(&a->merged, &f);
    if (!b->dcount)
        return;
    if (!a->dcount) {
        a->dcount = b->dcount;
        a->scale = b->scale;
        a->dmin = b->dmin;
        a->dmax = b->dmax;
        a->dsum = b->dsum;
        a->dsq = b->dsq;
        return;
    }
    /* Exactly, at the finer scale, when both fit there. */
    stats t = *b;
    if ((t.scale > a->scale && !dec_rescale(a, t.scale)) ||
        (t.scale < a->scale && !dec_rescale(&t, a->scale))) {
        moments d = dec_moments(b);
        moments_merge(&a->merged, &d);
        return;
    }
    a->dcount += t.dcount;
    a->dmin = t.dmin < a->dmin ? t.dmin : a->dmin;
    a->dmax = t.dmax > a->dmax ? t.dmax : a->dmax;
    a->dsum += t.dsum;
    a->dsq += t.dsq;
}

static double stats_sum(const stats *s)
{
    return s->out.sum + s->out.comp;
}

/* Sample standard deviation (pandas' default, ddof=1). */
static double stats_std(const stats *s)
{
    return s->out.count > 1 ? sqrt(s->out.m2 / (double)(s->out.count - 1)) : NAN;
}

/* ---- string sets and maps (exact distinct counts, groups) ------------------------ */

typedef struct strmap {
    struct entry {
        uint64_t hash;
        char *key; /* NULL: empty slot */
        uint32_t len;
        void *value;
    } *slots;
    size_t cap, count;
    size_t value_size; /* 0: a set */
} strmap;

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001B3ull;
    return h ^ (h >> 29);
}

static void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].key);
        free(m->slots[i].value);
    }
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int strmap_grow(strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct entry *s = calloc(cap, sizeof *s);
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (s[j].key)
            j = (j + 1) & (cap - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    return 0;
}

/* Keys are mostly short: a call to memcmp would cost more than comparing. */
static inline bool same_key(const char *a, const char *b, size_t len)
{
    if (len > 16)
        return memcmp(a, b, len) == 0;
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* The entry for key, added (value zeroed) if absent; NULL on no memory. */
static struct entry *strmap_get(strmap *m, const char *key, size_t len, uint64_t h)
{
    if ((m->count + 1) * 4 > m->cap * 3 && strmap_grow(m) < 0)
        return NULL;
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        if (m->slots[j].hash == h && m->slots[j].len == len && same_key(m->slots[j].key, key, len))
            return &m->slots[j];
        j = (j + 1) & (m->cap - 1);
    }
    char *k = malloc(len + 1);
    void *v = m->value_size ? calloc(1, m->value_size) : NULL;
    if (!k || (m->value_size && !v)) {
        free(k);
        free(v);
        return NULL;
    }
    memcpy(k, key, len);
    k[len] = 0;
    m->slots[j] = (struct entry){h, k, (uint32_t)len, v};
    m->count++;
    return &m->slots[j];
}

/* ---- the job ------------------------------------------------------------------------- */

/* What one chunk (or a file, or the whole run) adds up. */
typedef struct agg {
    uint64_t rows, rejected;
    stats *num;        /* per column (only numeric ones used) */
    strmap *distinct;  /* per --distinct column: sets */
    strmap groups;     /* --group-by: value -> group */
} agg;

typedef struct group {
    uint64_t rows;
    stats num[]; /* per column */
} group;

struct job;

typedef struct file_info {
    etl_file in; /* first: path, descriptor, header, types */
    int *distinct_col, group_col;
    agg total;
    struct job *job;
} file_info;

typedef struct chunk {
    etl_chunk c; /* first: its file, range, counts, bad records */
    agg a;       /* rows and rejected: from c, when merged */
} chunk;

static file_info *file_of(const chunk *c)
{
    _Static_assert(offsetof(file_info, in) == 0, "a chunk's etl_file is its file_info");
    return (file_info *)(void *)c->c.file;
}

typedef struct job {
    char delim;
    etl_on_error on_err;
    const char *quarantine;
    char **distinct_names;
    size_t ndistinct;
    char **text_names; /* --text: columns never numeric */
    size_t ntext;
    const char *group_name;
    size_t chunk_bytes;
    etl_progress *progress; /* bytes and rows done */
} job;

/* Returns 0 or -ENOMEM (then agg_free() frees what there is). */
static int agg_init(agg *a, const file_info *f)
{
    memset(a, 0, sizeof *a);
    a->num = calloc(f->in.ncols ? f->in.ncols : 1, sizeof *a->num);
    a->distinct = calloc(f->job->ndistinct ? f->job->ndistinct : 1, sizeof *a->distinct);
    a->groups.value_size = sizeof(group) + f->in.ncols * sizeof(stats);
    return a->num && a->distinct ? 0 : -ENOMEM;
}

static void agg_free(agg *a, size_t ndistinct)
{
    free(a->num);
    for (size_t i = 0; a->distinct && i < ndistinct; i++)
        strmap_free(&a->distinct[i]);
    free(a->distinct);
    strmap_free(&a->groups);
}

/* Compute what is printed, once everything is merged. */
static void agg_close(agg *a, size_t ncols)
{
    for (size_t c = 0; c < ncols; c++)
        stats_close(&a->num[c]);
    for (size_t i = 0; i < a->groups.cap; i++) {
        group *g = a->groups.slots[i].key ? a->groups.slots[i].value : NULL;
        for (size_t c = 0; g && c < ncols; c++)
            stats_close(&g->num[c]);
    }
}

static int agg_merge(agg *a, agg *b, size_t ncols, size_t ndistinct)
{
    a->rows += b->rows;
    a->rejected += b->rejected;
    for (size_t c = 0; c < ncols; c++)
        stats_merge(&a->num[c], &b->num[c]);
    for (size_t d = 0; d < ndistinct; d++)
        for (size_t i = 0; i < b->distinct[d].cap; i++) {
            struct entry *e = &b->distinct[d].slots[i];
            if (e->key && !strmap_get(&a->distinct[d], e->key, e->len, e->hash))
                return -ENOMEM;
        }
    for (size_t i = 0; i < b->groups.cap; i++) {
        struct entry *e = &b->groups.slots[i];
        if (!e->key)
            continue;
        struct entry *into = strmap_get(&a->groups, e->key, e->len, e->hash);
        if (!into)
            return -ENOMEM;
        group *g = into->value, *h = e->value;
        g->rows += h->rows;
        for (size_t c = 0; c < ncols; c++)
            stats_merge(&g->num[c], &h->num[c]);
    }
    return 0;
}

/* ---- reading a chunk ----------------------------------------------------------------- */

/* A numeric field of the record being checked. */
typedef struct number {
    enum { NUM_MISSING, NUM_DECIMAL, NUM_DOUBLE } kind;
    unsigned scale; /* decimal: mant / 10^scale */
    int64_t mant;
    double x; /* double */
} number;

typedef struct chunk_ctx {
    chunk *c;
    size_t *num_cols; /* the numeric columns */
    size_t nnum;
    number *values; /* per numeric column */
} chunk_ctx;

static inline __attribute__((always_inline)) void add_number(stats *s, const number *v, weft_csv_field text)
{
    if (v->kind == NUM_DECIMAL) {
        /* Most values: the column's scale, in range, not the first. */
        if (v->scale == s->scale && s->dcount && (uint64_t)(v->mant + DEC_LIMIT) < 2 * (uint64_t)DEC_LIMIT) {
            dec_put(s, v->mant);
            return;
        }
        if (stats_add_decimal(s, v->mant, v->scale))
            return;
    }
    double x = v->x;
    if (v->kind == NUM_MISSING || (v->kind == NUM_DECIMAL && !weft_csv_parse_number(text.data, text.len, &x)))
        return;
    stats_add(s, x);
}

static int on_record(void *arg, const weft_csv_record *r)
{
    chunk_ctx *x = arg;
    chunk *c = x->c;
    file_info *f = file_of(c);
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
    /* Every number is checked before any is added: a rejected record adds
     * nothing. */
    for (size_t k = 0; k < x->nnum; k++) {
        size_t i = x->num_cols[k];
        const weft_csv_field *fl = &r->fields[i];
        number *v = &x->values[k];
        v->kind = NUM_DECIMAL;
        if (fl->len == 0)
            v->kind = NUM_MISSING;
        else if (weft_csv_parse_decimal(fl->data, fl->len, &v->mant, &v->scale))
            continue;
        else if (weft_csv_parse_number(fl->data, fl->len, &v->x))
            v->kind = NUM_DOUBLE;
        else {
            char why[256];
            snprintf(why, sizeof why, "text in numeric column '%s': \"%.*s\"", f->in.cols[i].name,
                     (int)(fl->len > 40 ? 40 : fl->len), fl->data);
            return etl_reject(&c->c, j->on_err, r, why);
        }
    }
    agg *a = &c->a;
    for (size_t k = 0; k < x->nnum; k++)
        add_number(&a->num[x->num_cols[k]], &x->values[k], r->fields[x->num_cols[k]]);
    for (size_t d = 0; d < j->ndistinct; d++) {
        const weft_csv_field *fl = &r->fields[f->distinct_col[d]];
        if (!strmap_get(&a->distinct[d], fl->data, fl->len, hash_bytes(fl->data, fl->len)))
            return -ENOMEM;
    }
    if (f->group_col >= 0) {
        const weft_csv_field *fl = &r->fields[f->group_col];
        struct entry *e = strmap_get(&a->groups, fl->data, fl->len, hash_bytes(fl->data, fl->len));
        if (!e)
            return -ENOMEM;
        group *g = e->value;
        g->rows++;
        for (size_t k = 0; k < x->nnum; k++)
            add_number(&g->num[x->num_cols[k]], &x->values[k], r->fields[x->num_cols[k]]);
    }
    return 0;
}

/* Step 3 for one chunk, on a thread of the pool or in a worker process. */
static int run_chunk(void *arg, weft_value *result)
{
    (void)result;
    chunk *c = arg;
    file_info *f = file_of(c);
    job *j = f->job;
    size_t n = f->in.ncols ? f->in.ncols : 1;
    chunk_ctx x = {.c = c, .num_cols = calloc(n, sizeof(size_t)), .values = calloc(n, sizeof(number))};
    for (size_t i = 0; x.num_cols && i < f->in.ncols; i++)
        if (f->in.cols[i].numeric)
            x.num_cols[x.nnum++] = i;
    int rc = x.values && x.num_cols
                 ? etl_read_chunk(&c->c, j->delim, on_record, &x, &j->progress->bytes)
                 : -ENOMEM;
    free(x.values);
    free(x.num_cols);
    /* > 0: stopped at a bad record (fail): reported from the list. */
    return c->c.err = rc > 0 ? 0 : rc;
}

/* ---- the processes backend --------------------------------------------------------- */
/* With --backend processes a chunk runs in a worker process of a
 * weft_procpool: the request carries the file's name, the byte range, and
 * what the header and the options decided (tools/etl_chunks.c writes the
 * common part, put_request the rest); the worker opens the file itself,
 * runs the same run_chunk(), and sends back its counts and bad records
 * (etl_put_result) and its partial aggregate (put_result), serialized. A
 * worker that crashes fails that chunk only (reported as an error of the
 * file). */

static void put_stats(etl_wbuf *b, stats *s)
{
    etl_put(b, s, sizeof *s);
}

static void get_stats(etl_rbuf *b, stats *s)
{
    const void *p = etl_get(b, sizeof *s);
    if (p)
        memcpy(s, p, sizeof *s);
}

static void put_request(etl_wbuf *b, const etl_chunk *cc)
{
    const file_info *f = file_of((const chunk *)cc);
    etl_put_u64(b, f->job->ndistinct);
    for (size_t d = 0; d < f->job->ndistinct; d++)
        etl_put_u64(b, (uint64_t)f->distinct_col[d]);
    etl_put_u64(b, (uint64_t)(int64_t)f->group_col);
}

static void put_set(etl_wbuf *b, const strmap *m)
{
    etl_put_u64(b, m->count);
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            etl_put_str(b, m->slots[i].key, m->slots[i].len);
}

/* The partial aggregate. */
static void put_result(etl_wbuf *b, chunk *c)
{
    file_info *f = file_of(c);
    for (size_t i = 0; i < f->in.ncols; i++)
        put_stats(b, &c->a.num[i]);
    for (size_t d = 0; d < f->job->ndistinct; d++)
        put_set(b, &c->a.distinct[d]);
    etl_put_u64(b, c->a.groups.count);
    for (size_t i = 0; i < c->a.groups.cap; i++) {
        struct entry *e = &c->a.groups.slots[i];
        if (!e->key)
            continue;
        group *g = e->value;
        etl_put_str(b, e->key, e->len);
        etl_put_u64(b, g->rows);
        for (size_t k = 0; k < f->in.ncols; k++)
            put_stats(b, &g->num[k]);
    }
}

/* Run in a worker: decode, run, encode. */
static int summarize_chunk(const void *arg, size_t len, weft_proc_ctx *ctx)
{
    etl_rbuf in = {arg, (const unsigned char *)arg + len, false};
    etl_progress progress = {0};
    job j = {.progress = &progress};
    file_info f = {.job = &j, .group_col = -1};
    chunk c = {0};
    int rc = etl_get_request(&in, &c.c, &f.in, &j.delim, &j.on_err);
    j.ndistinct = rc == 0 ? (size_t)etl_get_u64(&in) : 0;
    if (j.ndistinct > f.in.ncols)
        rc = -EPROTO;
    f.distinct_col = calloc(j.ndistinct ? j.ndistinct : 1, sizeof *f.distinct_col);
    if (rc == 0 && !f.distinct_col)
        rc = -ENOMEM;
    for (size_t d = 0; rc == 0 && d < j.ndistinct; d++) {
        f.distinct_col[d] = (int)etl_get_u64(&in);
        if (f.distinct_col[d] < 0 || (size_t)f.distinct_col[d] >= f.in.ncols)
            rc = -EPROTO;
    }
    if (rc == 0)
        f.group_col = (int)(int64_t)etl_get_u64(&in);
    if (rc == 0 && (in.failed || f.group_col >= (int)f.in.ncols))
        rc = -EPROTO;
    if (rc == 0 && (rc = agg_init(&c.a, &f)) == 0) {
        run_chunk(&c, NULL);
        etl_wbuf out = {0};
        etl_put_result(&out, &c.c);
        put_result(&out, &c);
        rc = out.failed ? -ENOMEM : weft_proc_return(ctx, out.p, out.len);
        free(out.p);
    }
    agg_free(&c.a, j.ndistinct);
    etl_bads_free(&c.c);
    etl_worker_file_close(&f.in);
    free(f.distinct_col);
    return rc;
}
WEFT_PROC_TASK(summarize_chunk);

/* In the parent: the worker's partial aggregate into the chunk. */
static int take_result(etl_chunk *cc, etl_rbuf *in)
{
    chunk *c = (chunk *)cc;
    file_info *f = file_of(c);
    for (size_t i = 0; i < f->in.ncols; i++)
        get_stats(in, &c->a.num[i]);
    size_t n;
    for (size_t d = 0; d < f->job->ndistinct && !in->failed; d++) {
        uint64_t k = etl_get_u64(in);
        for (uint64_t i = 0; i < k && !in->failed; i++) {
            const char *key = etl_get_str(in, &n);
            if (key && !strmap_get(&c->a.distinct[d], key, n, hash_bytes(key, n)))
                return -ENOMEM;
        }
    }
    uint64_t groups = etl_get_u64(in);
    for (uint64_t i = 0; i < groups && !in->failed; i++) {
        const char *key = etl_get_str(in, &n);
        struct entry *e = key ? strmap_get(&c->a.groups, key, n, hash_bytes(key, n)) : NULL;
        if (key && !e)
            return -ENOMEM;
        group *g = e ? e->value : NULL;
        uint64_t rows = etl_get_u64(in);
        if (g)
            g->rows = rows;
        for (size_t k = 0; k < f->in.ncols; k++) {
            stats s = {0};
            get_stats(in, &s);
            if (g)
                g->num[k] = s;
        }
    }
    return 0;
}

/* ---- output ---------------------------------------------------------------------------- */


static void json_number(FILE *o, double v)
{
    if (isfinite(v))
        fprintf(o, "%.17g", v);
    else
        fputs("null", o);
}

static void json_stats(FILE *o, stats *s)
{
    stats_close(s);
    fprintf(o, "{\"count\":%llu,\"sum\":", (unsigned long long)s->out.count);
    json_number(o, stats_sum(s));
    fputs(",\"mean\":", o);
    json_number(o, s->out.count ? s->out.mean : NAN);
    fputs(",\"min\":", o);
    json_number(o, s->out.count ? s->out.min : NAN);
    fputs(",\"max\":", o);
    json_number(o, s->out.count ? s->out.max : NAN);
    fputs(",\"std\":", o);
    json_number(o, stats_std(s));
    fputc('}', o);
}

static void json_agg(FILE *o, const agg *a, const file_info *f)
{
    fprintf(o, "\"rows\":%llu,\"rejected\":%llu,\"columns\":{", (unsigned long long)a->rows,
            (unsigned long long)a->rejected);
    bool first = true;
    for (size_t c = 0; c < f->in.ncols; c++) {
        if (!f->in.cols[c].numeric)
            continue;
        fputs(first ? "" : ",", o);
        first = false;
        weft_tool_json_string(o, f->in.cols[c].name);
        fputc(':', o);
        json_stats(o, &a->num[c]);
    }
    fputs("},\"distinct\":{", o);
    for (size_t d = 0; d < f->job->ndistinct; d++) {
        fputs(d ? "," : "", o);
        weft_tool_json_string(o, f->job->distinct_names[d]);
        fprintf(o, ":%zu", a->distinct[d].count);
    }
    fputc('}', o);
}

/* Thousands separators for a readable table. */
static const char *human(char *buf, size_t len, double v, int decimals)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "-");
        return buf;
    }
    char raw[64];
    snprintf(raw, sizeof raw, "%.*f", decimals, fabs(v));
    char *dot = strchr(raw, '.');
    size_t ints = dot ? (size_t)(dot - raw) : strlen(raw), o = 0;
    if (v < 0 && o + 1 < len)
        buf[o++] = '-';
    for (size_t i = 0; i < ints && o + 2 < len; i++) {
        if (i && (ints - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    snprintf(buf + o, len - o, "%s", dot ? dot : "");
    return buf;
}

/* ---- the command ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: weft etl summarize [options] FILES...\n"
            "Per file and overall: rows, and count/sum/mean/min/max/std of every numeric column\n"
            "(numeric: most of the first rows' values are numbers); exact distinct counts;\n"
            "groups.\n\n"
            "  --distinct COL[,COL]  exact count of distinct values of these columns\n"
            "  --group-by COL    the statistics for each value of COL (all files)\n"
            "  --text COL[,COL]  columns to take as text even if they look numeric\n"
            "  --json | --csv    machine-readable output instead of the table\n"
            "%s",
            etl_options_help);
}

int weft_etl_summarize(int argc, char **argv)
{
    job j = {0};
    format fmt = FMT_TABLE;
    etl_options opt;
    etl_options_init(&opt);
    int taken;
    char *distinct_arg = NULL, *text_arg = NULL;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    size_t npaths = 0;
    int status = 0;
    /* Everything below is freed at `done`, whatever happened. */
    file_info *files = NULL;
    chunk *chunks = NULL;
    FILE *q = NULL; /* the quarantine file, under its temporary name */
    char *q_tmp = NULL;
    agg total = {0};
    bool total_ready = false;
    if (!paths)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto done;
        } else if (!strcmp(a, "--json")) {
            fmt = FMT_JSON;
        } else if (!strcmp(a, "--csv")) {
            fmt = FMT_CSV;
        } else if ((taken = etl_options_parse(&opt, "summarize", a, v)) != 0) {
            if (taken < 0) {
                status = 2;
                goto done;
            }
            i += taken - 1;
        } else if (a[0] == '-' && a[1] == '-') {
            if (!v) {
                fprintf(stderr, "weft etl summarize: %s needs a value\n", a);
                status = 2;
                goto done;
            }
            i++;
            if (!strcmp(a, "--distinct")) {
                free(distinct_arg);
                distinct_arg = strdup(v);
            } else if (!strcmp(a, "--text")) {
                free(text_arg);
                text_arg = strdup(v);
            } else if (!strcmp(a, "--group-by")) {
                j.group_name = v;
            } else {
                fprintf(stderr, "weft etl summarize: unknown option '%s'\n\n", a);
                usage(stderr);
                status = 2;
                goto done;
            }
        } else {
            paths[npaths++] = a;
        }
    }
    if (!npaths) {
        usage(stderr);
        status = 2;
        goto done;
    }
    j.delim = opt.delim;
    j.on_err = opt.on_err;
    j.quarantine = opt.quarantine;
    j.chunk_bytes = opt.chunk_bytes;
    if (distinct_arg) {
        j.distinct_names = calloc(strlen(distinct_arg) + 1, sizeof *j.distinct_names);
        for (char *save = NULL, *t = strtok_r(distinct_arg, ",", &save); t;
             t = strtok_r(NULL, ",", &save))
            j.distinct_names[j.ndistinct++] = t;
    }
    if (text_arg) {
        j.text_names = calloc(strlen(text_arg) + 1, sizeof *j.text_names);
        for (char *save = NULL, *t = strtok_r(text_arg, ",", &save); t;
             t = strtok_r(NULL, ",", &save))
            j.text_names[j.ntext++] = t;
    }
    /* Step 1. */
    files = calloc(npaths, sizeof *files);
    if (!files) {
        status = 1;
        goto done;
    }
    for (size_t i = 0; i < npaths; i++)
        files[i].in.fd = -1;
    uint64_t total_bytes = 0;
    for (size_t i = 0; i < npaths && !status; i++) {
        file_info *f = &files[i];
        f->job = &j;
        f->group_col = -1;
        if (etl_file_open(&f->in, paths[i], j.delim, j.text_names, j.ntext, "summarize")) {
            status = 1;
            break;
        }
        total_bytes += f->in.size;
        f->distinct_col = calloc(j.ndistinct ? j.ndistinct : 1, sizeof *f->distinct_col);
        for (size_t d = 0; d < j.ndistinct; d++) {
            f->distinct_col[d] = etl_column_index(&f->in, j.distinct_names[d]);
            if (f->distinct_col[d] < 0) {
                fprintf(stderr, "weft etl summarize: %s has no column '%s'\n", f->in.path,
                        j.distinct_names[d]);
                status = 2;
            }
        }
        if (j.group_name && (f->group_col = etl_column_index(&f->in, j.group_name)) < 0) {
            fprintf(stderr, "weft etl summarize: %s has no column '%s'\n", f->in.path, j.group_name);
            status = 2;
        }
        if (agg_init(&f->total, f) < 0) {
            fprintf(stderr, "weft etl summarize: out of memory\n");
            status = 1;
        }
    }
    if (status)
        goto done;
    etl_runner run = {.tool = "summarize",
                      .run = run_chunk,
                      .task = WEFT_PROC_TASK_REF(summarize_chunk),
                      .delim = j.delim,
                      .on_err = j.on_err,
                      .put_request = put_request,
                      .take_result = take_result};
    if (etl_runner_start(&run, &opt, total_bytes)) {
        status = 1;
        goto done;
    }
    j.progress = &run.progress;
    if (!status && j.on_err == ETL_QUARANTINE &&
        !(q = etl_out_open(j.quarantine, &q_tmp, "summarize")))
        status = 1;
    /* Steps 2-5, twice at most: again for the files whose cuts were wrong. */
    size_t nchunks = 0, cap = 0;
    for (int pass = 0; pass < 2 && !status; pass++) {
        nchunks = 0;
        for (size_t i = 0; i < npaths && !status; i++) {
            file_info *f = &files[i];
            if (pass == 1 && !f->in.whole)
                continue;
            size_t from = nchunks;
            int rc = etl_plan_chunks(&f->in, run.pool, j.chunk_bytes, (void **)&chunks,
                                     sizeof *chunks, &nchunks, &cap);
            for (size_t c = from; rc == 0 && c < nchunks; c++)
                rc = agg_init(&chunks[c].a, f);
            if (rc < 0) {
                fprintf(stderr, "weft etl summarize: %s: %s\n", f->in.path, weft_strerror(rc));
                status = 1;
            }
        }
        bool again = !status && etl_run_chunks(&run, chunks, nchunks, sizeof *chunks);
        /* Step 4, and the bad records, in file order; a file read again
         * drops this pass's chunks. */
        for (size_t c = 0; c < nchunks; c++) {
            chunk *k = &chunks[c];
            file_info *f = file_of(k);
            bool dropped = pass == 0 && f->in.whole;
            etl_settle(&k->c, dropped, j.on_err, q, "summarize", &status);
            if (!dropped && !status) {
                k->a.rows = k->c.rows - k->c.rejected;
                k->a.rejected = k->c.rejected;
                if (agg_merge(&f->total, &k->a, f->in.ncols, j.ndistinct) < 0) {
                    fprintf(stderr, "weft etl summarize: out of memory\n");
                    status = 1;
                }
            }
            agg_free(&k->a, j.ndistinct);
        }
        if (!again)
            break;
    }
    if (q && etl_out_commit(q, &q_tmp, j.quarantine, status == 0, "summarize"))
        status = 1;
    q = NULL;
    double seconds = etl_runner_stop(&run);
    if (status)
        goto done;
    /* The total: the files whose header is the first file's. */
    file_info *first = &files[0];
    total_ready = true;
    if (agg_init(&total, first) < 0) {
        fprintf(stderr, "weft etl summarize: out of memory\n");
        status = 1;
        goto done;
    }
    uint64_t rows_in_other = 0;
    for (size_t i = 0; i < npaths; i++) {
        if (!etl_same_header(&first->in, &files[i].in)) {
            rows_in_other += files[i].total.rows + files[i].total.rejected;
            continue;
        }
        agg_merge(&total, &files[i].total, first->in.ncols, j.ndistinct);
    }
    for (size_t i = 0; i < npaths; i++)
        agg_close(&files[i].total, files[i].in.ncols);
    agg_close(&total, first->in.ncols);
    uint64_t rows_out = 0, rejected = 0;
    for (size_t i = 0; i < npaths; i++) {
        rows_out += files[i].total.rows;
        rejected += files[i].total.rejected;
    }
    FILE *o = stdout;
    if (fmt == FMT_JSON) {
        fputs("{\"files\":[", o);
        for (size_t i = 0; i < npaths; i++) {
            fputs(i ? ",{\"file\":" : "{\"file\":", o);
            weft_tool_json_string(o, files[i].in.path);
            fputc(',', o);
            json_agg(o, &files[i].total, &files[i]);
            fprintf(o, ",\"in_total\":%s}", etl_same_header(&first->in, &files[i].in) ? "true" : "false");
        }
        fputs("],\"total\":{", o);
        json_agg(o, &total, first);
        fputs("}", o);
        if (first->group_col >= 0) {
            fputs(",\"groups\":{", o);
            bool comma = false;
            for (size_t s = 0; s < total.groups.cap; s++) {
                struct entry *e = &total.groups.slots[s];
                if (!e->key)
                    continue;
                group *g = e->value;
                fputs(comma ? "," : "", o);
                comma = true;
                weft_tool_json_string(o, e->key);
                fprintf(o, ":{\"rows\":%llu,\"columns\":{", (unsigned long long)g->rows);
                bool c1 = false;
                for (size_t c = 0; c < first->in.ncols; c++) {
                    if (!first->in.cols[c].numeric)
                        continue;
                    fputs(c1 ? "," : "", o);
                    c1 = true;
                    weft_tool_json_string(o, first->in.cols[c].name);
                    fputc(':', o);
                    json_stats(o, &g->num[c]);
                }
                fputs("}}", o);
            }
            fputc('}', o);
        }
        fprintf(o, ",\"rows_in\":%llu,\"rows_out\":%llu,\"rejected\":%llu,\"bytes\":%llu,"
                   "\"seconds\":%.6f}\n",
                (unsigned long long)(rows_out + rejected), (unsigned long long)rows_out,
                (unsigned long long)rejected, (unsigned long long)total_bytes, seconds);
    } else if (fmt == FMT_CSV) {
        fputs("scope,rows,rejected", o);
        for (size_t c = 0; c < first->in.ncols; c++)
            if (first->in.cols[c].numeric)
                fprintf(o, ",%s_count,%s_sum,%s_mean,%s_min,%s_max,%s_std", first->in.cols[c].name,
                        first->in.cols[c].name, first->in.cols[c].name, first->in.cols[c].name,
                        first->in.cols[c].name, first->in.cols[c].name);
        for (size_t d = 0; d < j.ndistinct; d++)
            fprintf(o, ",%s_distinct", j.distinct_names[d]);
        fputc('\n', o);
        for (size_t i = 0; i <= npaths; i++) {
            const agg *a = i < npaths ? &files[i].total : &total;
            if (i < npaths && !etl_same_header(&first->in, &files[i].in))
                continue;
            fprintf(o, "%s,%llu,%llu", i < npaths ? files[i].in.path : "total",
                    (unsigned long long)a->rows, (unsigned long long)a->rejected);
            for (size_t c = 0; c < first->in.ncols; c++) {
                if (!first->in.cols[c].numeric)
                    continue;
                const stats *s = &a->num[c];
                fprintf(o, ",%llu,%.17g,%.17g,%.17g,%.17g,%.17g", (unsigned long long)s->out.count,
                        stats_sum(s), s->out.count ? s->out.mean : NAN, s->out.count ? s->out.min : NAN,
                        s->out.count ? s->out.max : NAN, stats_std(s));
            }
            for (size_t d = 0; d < j.ndistinct; d++)
                fprintf(o, ",%zu", a->distinct[d].count);
            fputc('\n', o);
        }
    } else {
        char b1[64], b2[64];
        fprintf(o, "%-24s %14s %10s", "file", "rows", "rejected");
        for (size_t c = 0; c < first->in.ncols; c++)
            if (first->in.cols[c].numeric)
                fprintf(o, " %18.18s", first->in.cols[c].name);
        for (size_t d = 0; d < j.ndistinct; d++)
            fprintf(o, " %12.12s", j.distinct_names[d]);
        fprintf(o, "\n%-24s %14s %10s", "", "", "");
        for (size_t c = 0; c < first->in.ncols; c++)
            if (first->in.cols[c].numeric)
                fprintf(o, " %18s", "sum");
        for (size_t d = 0; d < j.ndistinct; d++)
            fprintf(o, " %12s", "distinct");
        fputc('\n', o);
        for (size_t i = 0; i <= npaths; i++) {
            const agg *a = i < npaths ? &files[i].total : &total;
            const char *name = i < npaths ? files[i].in.path : "total";
            size_t len = strlen(name);
            fprintf(o, "%-24s %14s %10s", len > 24 ? name + len - 24 : name,
                    human(b1, sizeof b1, (double)a->rows, 0),
                    human(b2, sizeof b2, (double)a->rejected, 0));
            if (i < npaths && !etl_same_header(&first->in, &files[i].in)) {
                fputs("  (other columns: not in the total)\n", o);
                continue;
            }
            for (size_t c = 0; c < first->in.ncols; c++)
                if (first->in.cols[c].numeric)
                    fprintf(o, " %18s", human(b1, sizeof b1, stats_sum(&a->num[c]), 2));
            for (size_t d = 0; d < j.ndistinct; d++)
                fprintf(o, " %12s", human(b1, sizeof b1, (double)a->distinct[d].count, 0));
            fputc('\n', o);
        }
        fprintf(o, "\n%-24s %14s %18s %14s %14s %14s %14s\n", "column (all files)", "count", "sum",
                "mean", "min", "max", "std");
        for (size_t c = 0; c < first->in.ncols; c++) {
            if (!first->in.cols[c].numeric)
                continue;
            const stats *s = &total.num[c];
            char b3[64], b4[64], b5[64], b6[64];
            fprintf(o, "%-24.24s %14s %18s %14s %14s %14s %14s\n", first->in.cols[c].name,
                    human(b1, sizeof b1, (double)s->out.count, 0), human(b2, sizeof b2, stats_sum(s), 2),
                    human(b3, sizeof b3, s->out.count ? s->out.mean : NAN, 4),
                    human(b4, sizeof b4, s->out.count ? s->out.min : NAN, 2),
                    human(b5, sizeof b5, s->out.count ? s->out.max : NAN, 2),
                    human(b6, sizeof b6, stats_std(s), 4));
        }
        if (first->group_col >= 0) {
            fprintf(o, "\n%-24.24s %14s", j.group_name, "rows");
            for (size_t c = 0; c < first->in.ncols; c++)
                if (first->in.cols[c].numeric && (int)c != first->group_col)
                    fprintf(o, " %14.14s", first->in.cols[c].name);
            fprintf(o, "\n%-24s %14s", "", "");
            for (size_t c = 0; c < first->in.ncols; c++)
                if (first->in.cols[c].numeric && (int)c != first->group_col)
                    fprintf(o, " %14s", "mean");
            fputc('\n', o);
            for (size_t s = 0; s < total.groups.cap; s++) {
                struct entry *e = &total.groups.slots[s];
                if (!e->key)
                    continue;
                group *g = e->value;
                fprintf(o, "%-24.24s %14s", e->key, human(b1, sizeof b1, (double)g->rows, 0));
                for (size_t c = 0; c < first->in.ncols; c++)
                    if (first->in.cols[c].numeric && (int)c != first->group_col)
                        fprintf(o, " %14s",
                                human(b1, sizeof b1, g->num[c].out.count ? g->num[c].out.mean : NAN, 4));
                fputc('\n', o);
            }
        }
        fprintf(o, "\nrows in %llu = rows out %llu + rejected %llu; %.1f MB in %.3f s (%.0f MB/s)\n",
                (unsigned long long)(rows_out + rejected), (unsigned long long)rows_out,
                (unsigned long long)rejected, (double)total_bytes / 1e6, seconds,
                seconds > 0 ? (double)total_bytes / 1e6 / seconds : 0);
        if (rows_in_other)
            fprintf(o, "(%llu rows of files with other columns are not in the total)\n",
                    (unsigned long long)rows_in_other);
    }
done:
    if (q)
        etl_out_commit(q, &q_tmp, j.quarantine, false, "summarize");
    if (total_ready)
        agg_free(&total, j.ndistinct);
    for (size_t i = 0; files && i < npaths; i++) {
        agg_free(&files[i].total, j.ndistinct);
        free(files[i].distinct_col);
        etl_file_close(&files[i].in);
    }
    free(files);
    free(chunks);
    free(paths);
    free(j.distinct_names);
    free(distinct_arg);
    free(j.text_names);
    free(text_arg);
    return status;
}
