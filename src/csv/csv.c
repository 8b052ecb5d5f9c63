/* The CSV reader: see weft/csv.h for the format and the contract.
 *
 * Speed. The inner loop looks at 16 bytes at a time: one vector compare
 * per special byte (delimiter, quote, CR, LF) gives a bit mask of the
 * places where something happens, and the loop jumps from one set bit to
 * the next; ordinary bytes are never looked at one by one. A quoted field
 * is crossed with memchr to its next quote. SSE2 on x86-64, NEON on
 * AArch64, a byte loop elsewhere. Records with no quote at all (most of
 * most files) take a faster path, quoteless_records(): a 64-bit mask per
 * 64 bytes, walked bit by bit across field and record ends; a quote hands
 * the record over to parse_record().
 *
 * Feeding. parse_buffer() handles the records that end inside one buffer,
 * pointing fields into it. What is left at its end (a record that goes on
 * in the next feed) is copied into `carry`; the next feed appends to it,
 * line break by line break, until the record ends, and parses it there.
 *
 * Synchronization: none; a reader belongs to one thread at a time. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weft/csv.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define CSV_SSE2 1
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define CSV_NEON 1
#endif

struct weft_csv_reader {
    char delim, quote;
    size_t max_fields, max_record;
    uint64_t offset; /* of the next byte to come */
    uint64_t line;   /* of the next byte to come */
    bool at_start;   /* the next byte is the input's first (BOM check) */
    bool carry_open_quote;
    /* A record that did not end in the last feed. */
    char *carry;
    size_t carry_len, carry_cap;
    uint64_t carry_offset, carry_line;
    /* Fields of the record being delivered. */
    weft_csv_field *fields;
    size_t fields_cap;
    /* Undoubled quoted values, and which fields point there (their data is
     * set once the record is complete: scratch may move until then). */
    char *scratch;
    size_t scratch_len, scratch_cap;
    struct fixup {
        size_t field, at;
    } *fixups;
    size_t nfixups, fixups_cap;
};

int weft_csv_reader_create(weft_csv_reader **out, const weft_csv_opts *opts)
{
    static const weft_csv_opts defaults = {0};
    if (!out)
        return -EINVAL;
    if (!opts)
        opts = &defaults;
    char delim = opts->delimiter ? opts->delimiter : ',';
    char quote = opts->quote ? opts->quote : '"';
    if (delim == quote || delim == '\r' || delim == '\n' || quote == '\r' || quote == '\n')
        return -EINVAL;
    weft_csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->delim = delim;
    r->quote = quote;
    r->max_fields = opts->max_fields ? opts->max_fields : 65536;
    r->max_record = opts->max_record ? opts->max_record : (size_t)64 << 20;
    r->fields_cap = r->max_fields < 64 ? r->max_fields : 64;
    r->fields = malloc(r->fields_cap * sizeof *r->fields);
    if (!r->fields) {
        free(r);
        return -ENOMEM;
    }
    weft_csv_reader_reset(r, 0, 1);
    *out = r;
    return 0;
}

void weft_csv_reader_destroy(weft_csv_reader *r)
{
    if (!r)
        return;
    free(r->carry);
    free(r->fields);
    free(r->scratch);
    free(r->fixups);
    free(r);
}

void weft_csv_reader_reset(weft_csv_reader *r, uint64_t offset, uint64_t line)
{
    r->offset = offset;
    r->line = line;
    r->at_start = offset == 0;
    r->carry_len = 0;
    r->carry_open_quote = false;
}

bool weft_csv_reader_in_quotes(const weft_csv_reader *r)
{
    return r->carry_open_quote;
}

/* ---- special bytes ----------------------------------------------------------------- */

/* A bit per byte of p[0..16) that is one of the four special bytes. */
static inline unsigned special_mask(const char *p, char delim, char quote)
{
#if CSV_SSE2
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(delim)), _mm_cmpeq_epi8(v, _mm_set1_epi8(quote))),
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))));
    return (unsigned)_mm_movemask_epi8(m);
#elif CSV_NEON
    uint8x16_t v = vld1q_u8((const uint8_t *)p);
    uint8x16_t m = vorrq_u8(vorrq_u8(vceqq_u8(v, vdupq_n_u8((uint8_t)delim)),
                                     vceqq_u8(v, vdupq_n_u8((uint8_t)quote))),
                            vorrq_u8(vceqq_u8(v, vdupq_n_u8('\n')), vceqq_u8(v, vdupq_n_u8('\r'))));
    /* Narrow to one bit per byte. */
    static const uint8_t weights[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t bits = vandq_u8(m, vld1q_u8(weights));
    unsigned lo = vaddv_u8(vget_low_u8(bits)), hi = vaddv_u8(vget_high_u8(bits));
    return lo | (hi << 8);
#else
    unsigned mask = 0;
    for (int i = 0; i < 16; i++) {
        char c = p[i];
        if (c == delim || c == quote || c == '\n' || c == '\r')
            mask |= 1u << i;
    }
    return mask;
#endif
}

/* The first special byte in [p, end), or end. */
static inline const char *next_special(const char *p, const char *end, char delim, char quote)
{
    while (end - p >= 16) {
        unsigned m = special_mask(p, delim, quote);
        if (m)
            return p + __builtin_ctz(m);
        p += 16;
    }
    for (; p < end; p++)
        if (*p == delim || *p == quote || *p == '\n' || *p == '\r')
            return p;
    return end;
}

/* Line breaks in [p, end): LF, CRLF and a lone CR count one each (as
 * Python's csv counts lines), inside quoted fields too. */
static size_t count_newlines(const char *p, const char *end)
{
    size_t n = 0;
    for (;;) {
        p = next_special(p, end, '\n', '\r');
        if (p == end)
            return n;
        n++;
        if (*p == '\r' && p + 1 < end && p[1] == '\n')
            p++;
        p++;
    }
}

/* ---- one buffer ------------------------------------------------------------------------- */

/* Make *buf (capacity *cap) hold at least need bytes, doubling from
 * first. Returns 0 or -ENOMEM (*buf unchanged). */
static int grow(char **buf, size_t *cap, size_t need, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : first;
    while (c < need)
        c *= 2;
    char *b = realloc(*buf, c);
    if (!b)
        return -ENOMEM;
    *buf = b;
    *cap = c;
    return 0;
}

static int push_field(weft_csv_reader *r, size_t *n, const char *data, size_t len, bool quoted)
{
    if (*n == r->fields_cap) {
        if (r->fields_cap >= r->max_fields)
            return -E2BIG;
        size_t cap = r->fields_cap * 2 > r->max_fields ? r->max_fields : r->fields_cap * 2;
        weft_csv_field *f = realloc(r->fields, cap * sizeof *f);
        if (!f)
            return -ENOMEM;
        r->fields = f;
        r->fields_cap = cap;
    }
    r->fields[*n] = (weft_csv_field){data, len, quoted};
    (*n)++;
    return 0;
}

/* Undouble the quotes of a quoted value into scratch, and note that field
 * `field` is there. Returns the value's length, or -ENOMEM. */
static int undouble(weft_csv_reader *r, size_t field, const char *p, size_t len)
{
    if (r->nfixups == r->fixups_cap) {
        size_t cap = r->fixups_cap ? 2 * r->fixups_cap : 8;
        struct fixup *f = realloc(r->fixups, cap * sizeof *f);
        if (!f)
            return -ENOMEM;
        r->fixups = f;
        r->fixups_cap = cap;
    }
    if (grow(&r->scratch, &r->scratch_cap, r->scratch_len + len, 256) < 0)
        return -ENOMEM;
    r->fixups[r->nfixups++] = (struct fixup){field, r->scratch_len};
    char *o = r->scratch + r->scratch_len;
    for (size_t i = 0; i < len; i++) {
        o[0] = p[i];
        o++;
        if (p[i] == r->quote)
            i++; /* the second of a pair */
    }
    size_t out = (size_t)(o - (r->scratch + r->scratch_len));
    r->scratch_len += out;
    return (int)out; /* fits: fields are under max_record */
}

typedef struct scan {
    const char *base; /* the buffer */
    uint64_t base_offset, line;
    bool final;       /* no more input after this buffer */
} scan;

/* Outcome of parsing one record at p. */
enum { REC_DONE, REC_INCOMPLETE, REC_STOP };

/* Parse one record starting at *pp in [*pp, end); deliver it. On
 * REC_DONE *pp is past its line break; on REC_INCOMPLETE nothing was
 * delivered (the record needs more input; *open_quote tells whether a
 * quote was open at the end). */
static int parse_record(weft_csv_reader *r, scan *sc, const char **pp, const char *end,
                        weft_csv_fn *fn, void *ctx, int *rc, bool *open_quote)
{
    const char delim = r->delim, quote = r->quote;
    const char *rec = *pp, *p = rec;
    size_t n = 0;
    uint64_t lines = 0; /* line breaks inside quoted fields */
    const char *error = NULL;
    r->scratch_len = 0;
    r->nfixups = 0;
    *open_quote = false;
    for (;;) {
        /* A field starts at p. */
        if (p < end && *p == quote) {
            const char *q = p + 1, *close = NULL;
            bool doubled = false;
            for (;;) {
                const char *c = memchr(q, quote, (size_t)(end - q));
                if (!c)
                    break;
                if (c + 1 < end && c[1] == quote) {
                    doubled = true;
                    q = c + 2;
                    continue;
                }
                if (c + 1 == end && !sc->final) {
                    q = c; /* a pair may straddle the feed: wait */
                    break;
                }
                close = c;
                break;
            }
            if (!close) {
                if (!sc->final) {
                    *open_quote = true;
                    return REC_INCOMPLETE;
                }
                error = "a quoted field is not closed before the end of the input";
                lines += count_newlines(p, end);
                int e = push_field(r, &n, p + 1, (size_t)(end - p - 1), true);
                if (e < 0)
                    return *rc = e, REC_STOP;
                p = end;
                break;
            }
            lines += count_newlines(p + 1, close);
            int e;
            if (doubled) {
                int len = undouble(r, n, p + 1, (size_t)(close - p - 1));
                if (len < 0)
                    return *rc = len, REC_STOP;
                e = push_field(r, &n, NULL, (size_t)len, true);
            } else {
                e = push_field(r, &n, p + 1, (size_t)(close - p - 1), true);
            }
            if (e < 0)
                return *rc = e, REC_STOP;
            p = close + 1;
            if (p == end) {
                if (!sc->final)
                    return REC_INCOMPLETE;
                break;
            }
            if (*p == delim) {
                p++;
                continue;
            }
            if (*p == '\n' || *p == '\r')
                goto line_break;
            /* Text after the closing quote: malformed; read on to the line
             * break (outside quotes) to resynchronise. */
            error = "text after the closing quote of a field";
            for (;;) {
                const char *c = next_special(p, end, delim, quote);
                if (c == end) {
                    if (!sc->final)
                        return REC_INCOMPLETE;
                    p = end;
                    goto done;
                }
                if (*c == '\n' || *c == '\r') {
                    p = c;
                    goto line_break;
                }
                p = c + 1;
            }
        }
        /* An unquoted field: up to the next delimiter or line break (a
         * quote inside is an ordinary byte). */
        const char *f = p;
        for (;;) {
            const char *c = next_special(p, end, delim, quote);
            if (c == end) {
                if (!sc->final)
                    return REC_INCOMPLETE;
                p = end;
                break;
            }
            if (*c == quote) {
                p = c + 1;
                continue;
            }
            p = c;
            break;
        }
        if (p == end) {
            /* The input ends without a line break: the last field, unless
             * the record is empty altogether. */
            if (p > rec || n > 0) {
                int e = push_field(r, &n, f, (size_t)(p - f), false);
                if (e < 0)
                    return *rc = e, REC_STOP;
            }
            break;
        }
        if (*p == delim) {
            int e = push_field(r, &n, f, (size_t)(p - f), false);
            if (e < 0)
                return *rc = e, REC_STOP;
            p++;
            continue;
        }
        /* A line break ends the field and the record (an empty line: no
         * field at all). */
        if (p > rec || n > 0) {
            int e = push_field(r, &n, f, (size_t)(p - f), false);
            if (e < 0)
                return *rc = e, REC_STOP;
        }
    line_break:
        if (*p == '\r') {
            if (p + 1 == end && !sc->final)
                return REC_INCOMPLETE; /* CR LF may straddle the feed */
            if (p + 1 < end && p[1] == '\n')
                p++;
        }
        lines++;
        p++;
        break;
    }
done:;
    /* Deliver. */
    for (size_t i = 0; i < r->nfixups; i++)
        r->fields[r->fixups[i].field].data = r->scratch + r->fixups[i].at;
    const char *raw_end = p;
    while (raw_end > rec && (raw_end[-1] == '\n' || raw_end[-1] == '\r'))
        raw_end--;
    if (!error && (size_t)(p - rec) > r->max_record)
        error = "the record is longer than the limit";
    weft_csv_record rec_out = {
        .fields = r->fields,
        .count = n,
        .line = sc->line,
        .offset = sc->base_offset + (uint64_t)(rec - sc->base),
        .error = error,
        .raw = rec,
        .raw_len = (size_t)(raw_end - rec),
    };
    sc->line += lines;
    *pp = p;
    *rc = fn(ctx, &rec_out);
    return *rc ? REC_STOP : REC_DONE;
}

/* ---- records without quotes -------------------------------------------------------------- */

/* A bit per byte of p[0..64) that is one of the four special bytes. */
static inline uint64_t special_mask64(const char *p, char delim, char quote)
{
    return (uint64_t)special_mask(p, delim, quote) |
           (uint64_t)special_mask(p + 16, delim, quote) << 16 |
           (uint64_t)special_mask(p + 32, delim, quote) << 32 |
           (uint64_t)special_mask(p + 48, delim, quote) << 48;
}

/* The fast path: deliver the records at p that hold no quote character
 * and end within [p, end - 1), walking 64-byte masks of the special bytes
 * (a delimiter ends a field, a line break a record) without looking at a
 * byte twice. Returns where it stopped: the start of the first record it
 * did not deliver (one with a quote, or one that may not end in the
 * buffer), for parse_record to take; or, with *rc set, past the record
 * whose delivery returned nonzero or could not be pushed. */
static const char *quoteless_records(weft_csv_reader *r, scan *sc, const char *p,
                                     const char *end, weft_csv_fn *fn, void *ctx, int *rc)
{
    const char delim = r->delim, quote = r->quote;
    const char *rec = p, *f = p; /* the record's and the field's first bytes */
    size_t n = 0;
    for (const char *blk = p; end - blk > 64; blk += 64) {
        uint64_t m = special_mask64(blk, delim, quote);
        for (; m; m &= m - 1) {
            const char *c = blk + __builtin_ctzll(m);
            if (c < f)
                continue; /* the LF of a CR LF */
            if (*c == quote)
                return rec;
            if (*c == delim || c > rec || n > 0) {
                if (n < r->fields_cap) {
                    r->fields[n++] = (weft_csv_field){f, (size_t)(c - f), false};
                } else if ((*rc = push_field(r, &n, f, (size_t)(c - f), false)) < 0) {
                    return rec;
                }
            }
            f = c + 1;
            if (*c == delim)
                continue;
            /* A line break ends the record; end - c > 1 here, so a CR's
             * next byte is known. */
            if (*c == '\r' && c[1] == '\n')
                f++;
            weft_csv_record out = {
                .fields = r->fields,
                .count = n,
                .line = sc->line,
                .offset = sc->base_offset + (uint64_t)(rec - sc->base),
                .error = (size_t)(f - rec) > r->max_record ? "the record is longer than the limit"
                                                            : NULL,
                .raw = rec,
                .raw_len = (size_t)(c - rec),
            };
            sc->line++;
            if ((*rc = fn(ctx, &out)) != 0)
                return f;
            rec = f;
            n = 0;
        }
    }
    return rec;
}

/* ---- feeding ----------------------------------------------------------------------------- */

static int keep(weft_csv_reader *r, const char *p, size_t len)
{
    if (grow(&r->carry, &r->carry_cap, r->carry_len + len, 4096) < 0)
        return -ENOMEM;
    memcpy(r->carry + r->carry_len, p, len);
    r->carry_len += len;
    return 0;
}

/* The first CR or LF in [p, end), or end. */
static const char *next_break(const char *p, const char *end)
{
    while (end - p >= 16) {
        unsigned m = special_mask(p, '\n', '\r');
        if (m)
            return p + __builtin_ctz(m);
        p += 16;
    }
    while (p < end && *p != '\n' && *p != '\r')
        p++;
    return p;
}

/* Deliver a record that cannot be parsed (too long without ending): its
 * kept bytes, as malformed; reading goes on with what follows. */
static int too_long(weft_csv_reader *r, weft_csv_fn *fn, void *ctx)
{
    weft_csv_record rec = {.fields = r->fields,
                           .count = 0,
                           .line = r->carry_line,
                           .offset = r->carry_offset,
                           .error = "the record is longer than the limit",
                           .raw = r->carry,
                           .raw_len = r->carry_len};
    r->carry_len = 0;
    r->carry_open_quote = false;
    return fn(ctx, &rec);
}

/* Parse the records of [p, end) (base offset and line in sc); keep a
 * record that does not end. */
static int parse_buffer(weft_csv_reader *r, scan *sc, const char *p, const char *end,
                        weft_csv_fn *fn, void *ctx)
{
    while (p < end) {
        int rc = 0;
        p = quoteless_records(r, sc, p, end, fn, ctx, &rc);
        if (rc)
            return rc;
        if (p == end)
            break;
        bool open_quote;
        const char *at = p;
        switch (parse_record(r, sc, &p, end, fn, ctx, &rc, &open_quote)) {
        case REC_DONE:
            continue;
        case REC_STOP:
            return rc;
        default:
            r->carry_offset = sc->base_offset + (uint64_t)(at - sc->base);
            r->carry_line = sc->line;
            r->carry_open_quote = open_quote;
            rc = keep(r, at, (size_t)(end - at));
            if (rc < 0)
                return rc;
            if (r->carry_len > r->max_record)
                return too_long(r, fn, ctx);
            return 0;
        }
    }
    return 0;
}

int weft_csv_feed(weft_csv_reader *r, const void *data, size_t len, weft_csv_fn *fn, void *ctx)
{
    const char *p = data, *end = p + len;
    uint64_t data_offset = r->offset;
    r->offset += len;
    if (r->at_start) {
        /* A byte order mark: wait for three bytes to know. */
        static const char bom[3] = {(char)0xEF, (char)0xBB, (char)0xBF};
        size_t have = r->carry_len;
        while (have < 3 && p < end && *p == bom[have]) {
            int rc = keep(r, p, 1);
            if (rc < 0)
                return rc;
            p++;
            data_offset++;
            have++;
        }
        if (have < 3 && p == end)
            return 0; /* still a prefix of the mark */
        r->at_start = false;
        if (have == 3 && memcmp(r->carry, bom, 3) == 0) {
            r->carry_len = 0; /* skipped */
        } else if (have) {
            /* Not a mark after all: those bytes start the first record. */
            r->carry_offset = 0;
            r->carry_line = 1;
        }
        if (!r->carry_len)
            r->line = 1;
    }
    scan sc = {.base = p, .base_offset = data_offset, .line = r->line, .final = false};
    /* First end the record kept from earlier feeds, break by break. */
    while (r->carry_len) {
        if (p == end)
            return 0;
        const char *b = next_break(p, end);
        if (b < end) {
            b++;
            if (b[-1] == '\r' && b < end && *b == '\n')
                b++;
        }
        int rc = keep(r, p, (size_t)(b - p));
        if (rc < 0)
            return rc;
        data_offset += (uint64_t)(b - p);
        p = b;
        scan csc = {.base = r->carry, .base_offset = r->carry_offset, .line = r->carry_line};
        const char *cp = r->carry;
        bool open_quote;
        switch (parse_record(r, &csc, &cp, r->carry + r->carry_len, fn, ctx, &rc, &open_quote)) {
        case REC_DONE: {
            /* It ends at the last break kept, or at a lone CR that was the
             * kept bytes' last before this round (it waited to see whether
             * LF followed): then what was just appended is not its own, and
             * goes back to the input. */
            size_t rest = (size_t)(r->carry + r->carry_len - cp);
            p -= rest;
            data_offset -= rest;
            r->carry_len = 0;
            r->carry_open_quote = false;
            sc.line = csc.line;
            break;
        }
        case REC_STOP:
            r->carry_len = 0;
            return rc;
        default:
            r->carry_open_quote = open_quote;
            if (r->carry_len > r->max_record && (rc = too_long(r, fn, ctx)) != 0)
                return rc;
            break;
        }
    }
    sc.base = p;
    sc.base_offset = data_offset;
    int rc = parse_buffer(r, &sc, p, end, fn, ctx);
    r->line = r->carry_len ? r->carry_line : sc.line;
    return rc;
}

int weft_csv_finish(weft_csv_reader *r, weft_csv_fn *fn, void *ctx)
{
    int rc = 0;
    if (r->carry_len) {
        scan sc = {.base = r->carry, .base_offset = r->carry_offset, .line = r->carry_line,
                   .final = true};
        const char *p = r->carry, *end = r->carry + r->carry_len;
        while (p < end && rc == 0) {
            bool open_quote;
            if (parse_record(r, &sc, &p, end, fn, ctx, &rc, &open_quote) != REC_DONE)
                break;
        }
    }
    weft_csv_reader_reset(r, 0, 1);
    return rc;
}

/* ---- chunks ------------------------------------------------------------------------------- */

#if CSV_SSE2
/* Byte counts kept in the 16 lanes of a vector (a match subtracts -1),
 * added up before a lane can overflow: no popcount instruction needed
 * (the x86-64 baseline has none, and libgcc's is slow). */
static size_t lanes_sum(__m128i acc)
{
    __m128i s = _mm_sad_epu8(acc, _mm_setzero_si128());
    return (size_t)_mm_cvtsi128_si64(s) + (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(s, s));
}
#endif

size_t weft_csv_count_quotes(const void *buf, size_t len, char quote)
{
    const char *p = buf, *end = p + len;
    if (!quote)
        quote = '"';
    size_t n = 0;
#if CSV_SSE2
    __m128i q = _mm_set1_epi8(quote);
    while (end - p >= 16) {
        __m128i acc = _mm_setzero_si128();
        for (int k = 0; k < 255 && end - p >= 16; k++, p += 16)
            acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), q));
        n += lanes_sum(acc);
    }
#endif
    for (; p < end; p++)
        n += *p == quote;
    return n;
}

size_t weft_csv_count_breaks(const void *buf, size_t len)
{
    const char *p = buf, *end = p + len;
    size_t lf = 0, cr = 0, crlf = 0;
#if CSV_SSE2
    const __m128i vl = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r');
    while (end - p >= 17) {
        __m128i al = _mm_setzero_si128(), ar = _mm_setzero_si128(), arl = _mm_setzero_si128();
        for (int k = 0; k < 255 && end - p >= 17; k++, p += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i next = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
            __m128i r = _mm_cmpeq_epi8(v, vr);
            al = _mm_sub_epi8(al, _mm_cmpeq_epi8(v, vl));
            ar = _mm_sub_epi8(ar, r);
            arl = _mm_sub_epi8(arl, _mm_and_si128(r, _mm_cmpeq_epi8(next, vl)));
        }
        lf += lanes_sum(al);
        cr += lanes_sum(ar);
        crlf += lanes_sum(arl);
    }
#endif
    for (; p < end; p++) {
        lf += *p == '\n';
        if (*p == '\r') {
            cr++;
            crlf += p + 1 < end && p[1] == '\n';
        }
    }
    return lf + cr - crlf;
}

size_t weft_csv_find_record_start(const void *buf, size_t len, bool in_quotes, char quote)
{
    const char *base = buf, *p = base, *end = base + len;
    if (!quote)
        quote = '"';
    for (;;) {
        const char *c = next_special(p, end, quote, '\n');
        /* next_special looks for '\r' too. */
        if (c == end)
            return len;
        if (*c == quote) {
            in_quotes = !in_quotes;
        } else if (!in_quotes) {
            c++;
            if (c[-1] == '\r' && c < end && *c == '\n')
                c++;
            return (size_t)(c - base);
        }
        p = c + 1;
    }
}

/* ---- numbers -------------------------------------------------------------------------------- */

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CSV_SWAR 1
#define ONES 0x0101010101010101ull

/* s[0..len) for len 1..8 in the low bytes of a word (s[0] lowest), the
 * rest zero, with two overlapping loads and no loop. */
static inline __attribute__((always_inline)) uint64_t load_short(const char *s, size_t len)
{
    if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        return a | (uint64_t)b << (8 * (len - 4));
    }
    return (uint64_t)(uint8_t)s[0] | (uint64_t)(uint8_t)s[len / 2] << (8 * (len / 2)) |
           (uint64_t)(uint8_t)s[len - 1] << (8 * (len - 1));
}

/* The 1..8 bytes of s as digits with at most one '.', without a loop. The
 * text is moved to the top of a word and '0's fill the bytes before it,
 * so that every check and the conversion work on all eight bytes at once
 * (the first digit is in the lowest byte: little-endian); a point is
 * found and squeezed out, and eight digits are combined in three
 * multiplications. */
static inline __attribute__((always_inline)) bool short_decimal(const char *s, size_t len,
                                                                uint64_t *mant, unsigned *scale)
{
    const uint64_t zeros = 0x30 * ONES, high = 0xF0F0F0F0F0F0F0F0ull;
    unsigned pad = 8 * (8 - (unsigned)len);
    uint64_t v = load_short(s, len) << pad | (zeros & ((1ull << pad) - 1));
    uint64_t x = v ^ (0x2E * ONES); /* '.' bytes become zero */
    uint64_t dots = (x - ONES) & ~x & 0x80 * ONES;
    *scale = 0;
    if (dots) {
        /* The first zero byte is exact (the flags above it may not be). */
        unsigned at = (unsigned)__builtin_ctzll(dots) / 8;
        if (len == 1)
            return false; /* "." */
        uint64_t below = (1ull << (8 * at)) - 1;
        v = (v & ~below & ~(0xFFull << (8 * at))) | (v & below) << 8 | 0x30;
        *scale = 7 - at;
    }
    /* A byte is a digit when its high nibble is 3, and stays 3 once 6 is
     * added (0x3A..0x3F carry into the high nibble). */
    if ((v & high) != zeros || ((v + 0x06 * ONES) & high) != zeros)
        return false;
    uint64_t d = v - zeros;
    d = d * 10 + (d >> 8); /* pairs */
    *mant = ((d & 0x000000FF000000FFull) * (100 + (1000000ull << 32)) +
             ((d >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32))) >>
            32;
    return true;
}
#endif

/* The unsigned part: digits with at most one '.', 1 to 18 digits. */
static inline __attribute__((always_inline)) bool decimal_digits(const char *p, size_t len, uint64_t *mant, unsigned *scale)
{
#if CSV_SWAR
    if (len >= 1 && len <= 8)
        return short_decimal(p, len, mant, scale);
#endif
    uint64_t m = 0;
    unsigned digits = 0, fracs = 0;
    bool dot = false;
    for (const char *end = p + len; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d < 10) {
            m = m * 10 + d;
            digits++;
            fracs += dot;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            return false;
        }
        if (digits > 18)
            return false;
    }
    if (!digits)
        return false;
    *mant = m;
    *scale = fracs;
    return true;
}

bool weft_csv_parse_decimal(const char *s, size_t len, int64_t *mant, unsigned *scale)
{
    bool neg = len && s[0] == '-';
    size_t sign = len && (s[0] == '-' || s[0] == '+');
    uint64_t m;
    if (!decimal_digits(s + sign, len - sign, &m, scale))
        return false;
    *mant = neg ? -(int64_t)m : (int64_t)m;
    return true;
}

bool weft_csv_parse_number(const char *s, size_t len, double *out)
{
    const char *p = s, *end = s + len;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    /* Exact (Clinger): a mantissa under 2^53 is an exact double, so is the
     * power of ten, and one division rounds correctly; a division costs
     * more than the rest together, so integers skip it. */
    uint64_t mant;
    unsigned scale;
    if (decimal_digits(p, (size_t)(end - p), &mant, &scale) && mant < (1ull << 53)) {
        double v = scale ? (double)mant / pow10_exact[scale] : (double)mant;
        *out = neg ? -v : v;
        return true;
    }
    /* The rest: digits and a point, an exponent (digits with an optional
     * sign), then strtod. */
    size_t digits = 0;
    while (p < end && (unsigned)(*p - '0') < 10)
        p++, digits++;
    if (p < end && *p == '.')
        for (p++; p < end && (unsigned)(*p - '0') < 10; p++)
            digits++;
    if (!digits)
        return false;
    if (p < end) {
        if (*p != 'e' && *p != 'E')
            return false;
        const char *e = p + 1;
        if (e < end && (*e == '-' || *e == '+'))
            e++;
        if (e == end)
            return false;
        for (; e < end; e++)
            if ((unsigned)(*e - '0') >= 10)
                return false;
    }
    char buf[128];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *stop;
    double v = strtod(buf, &stop);
    if (stop != buf + len)
        return false;
    *out = v;
    return true;
}
