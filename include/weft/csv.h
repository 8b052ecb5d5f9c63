/* weft/csv.h: a fast, strict CSV reader (RFC 4180, read as Python's csv
 * module reads it with strict=True), made to be fed large buffers and to
 * be run on many chunks of one file at once: the engine under `weft etl`.
 *
 * Format. Records end at LF, CRLF or a lone CR. A field that starts with
 * the quote character is quoted: it may hold delimiters, line breaks and
 * doubled quotes (one quote in the value), and must end with a quote
 * followed by a delimiter, a line break or the end of the input. A quote
 * elsewhere in an unquoted field is an ordinary character. A UTF-8 byte
 * order mark at the very start is skipped. An empty line is a record of
 * no fields (Python's []).
 *
 * Records. The reader calls a function for each record with its fields;
 * the fields point into the caller's buffer (or, for a field with doubled
 * quotes or a record split across two feeds, into the reader's scratch
 * memory) and are valid during the call only. A malformed record (text
 * after a closing quote, a record over max_record bytes, a quote still
 * open at the end of the input) is delivered too, with `error` set and
 * `raw` holding its bytes, so the caller decides: stop, skip it, or write
 * it to a quarantine file; reading goes on at the next line break outside
 * quotes.
 *
 * Positions. Each record carries the 1-based line number of its first
 * byte and its byte offset; both count from the position given to
 * weft_csv_reader_reset (0 and line 1 at creation), so a reader started
 * in the middle of a file reports the file's numbers.
 *
 * Chunks. weft_csv_find_record_start() finds where the first record after
 * a given offset starts, assuming a quote state there; together with
 * weft_csv_count_quotes() (the quote state at any offset of well-formed
 * input is the parity of the quotes before it) a file can be cut into
 * chunks that are parsed at the same time; a reader reports the quote
 * state it ended in (weft_csv_reader_in_quotes), which lets the caller
 * check the guess of the next chunk.
 *
 * Thread-safety: a reader belongs to one thread at a time; the free
 * functions may be called from any thread. */
#ifndef WEFT_CSV_H
#define WEFT_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_csv_opts {
    char delimiter;    /* 0: ',' (any byte but the quote, CR and LF) */
    char quote;        /* 0: '"' */
    size_t max_fields; /* fields per record; 0: 65536 */
    size_t max_record; /* bytes per record; 0: 64 MiB */
} weft_csv_opts;

typedef struct weft_csv_field {
    const char *data; /* the value: quotes removed, doubled quotes undoubled */
    size_t len;
    bool quoted;
} weft_csv_field;

typedef struct weft_csv_record {
    const weft_csv_field *fields;
    size_t count;    /* 0: an empty line */
    uint64_t line;   /* 1-based line of the record's first byte */
    uint64_t offset; /* byte offset of the record's first byte */
    /* Malformed records only (fields then hold what could be read). */
    const char *error; /* why, in words; NULL for a good record */
    const char *raw;   /* the record's bytes, its line break excluded */
    size_t raw_len;
} weft_csv_record;

/* Called once per record, in input order. Return 0 to go on; any other
 * value stops the reader, and the feed or finish call returns it. */
typedef int weft_csv_fn(void *ctx, const weft_csv_record *rec);

typedef struct weft_csv_reader weft_csv_reader;

/* weft_csv_reader_create: a reader positioned at offset 0, line 1.
 * Returns: 0 and *out. Errors: -EINVAL (out NULL; a delimiter or quote
 *          that is CR, LF, or both the same); -ENOMEM.
 * Ownership: the caller owns *out (weft_csv_reader_destroy).
 * Thread-safety: any thread. */
int weft_csv_reader_create(weft_csv_reader **out, const weft_csv_opts *opts);

/* weft_csv_reader_destroy: free r, and any record kept for the next feed.
 * NULL is ignored.
 * Returns: nothing. Ownership: r is consumed.
 * Thread-safety: r's thread, no call on r running. */
void weft_csv_reader_destroy(weft_csv_reader *r);

/* weft_csv_reader_reset: forget any partial record, and number what comes
 * next from this byte offset and line (a chunk of a file). A reset to 0
 * also makes a leading byte order mark skipped again.
 * Returns: nothing (it cannot fail). Thread-safety: r's thread. */
void weft_csv_reader_reset(weft_csv_reader *r, uint64_t offset, uint64_t line);

/* weft_csv_feed: the next len bytes of input. Calls fn for every record
 * that ends in them (or in bytes kept from earlier feeds); a record that
 * does not end yet is kept (copied) for the next feed.
 * Returns: 0, or fn's nonzero return.
 * Ownership: borrows data for the call.
 * Thread-safety: r's thread. */
int weft_csv_feed(weft_csv_reader *r, const void *data, size_t len, weft_csv_fn *fn, void *ctx);

/* weft_csv_finish: the end of the input: the last record, if it had no
 * line break, is delivered (malformed if a quote is still open).
 * Returns: 0, or fn's nonzero return. The reader is then as after reset.
 * Thread-safety: r's thread. */
int weft_csv_finish(weft_csv_reader *r, weft_csv_fn *fn, void *ctx);

/* weft_csv_reader_in_quotes: whether the input fed so far ends inside a
 * quoted field (a record kept for the next feed has an open quote).
 * Returns: that; false after reset or finish. Thread-safety: r's thread. */
bool weft_csv_reader_in_quotes(const weft_csv_reader *r);

/* weft_csv_count_quotes: how many quote characters buf[0..len) holds.
 * Returns: the count (0 for len 0). quote 0: '"'.
 * Thread-safety: any thread (no state). */
size_t weft_csv_count_quotes(const void *buf, size_t len, char quote);

/* weft_csv_count_breaks: how many line breaks buf[0..len) holds: LF, CR
 * LF and a lone CR count one each (a CR at the very end counts as lone:
 * a caller joining buffers subtracts one when the next starts with LF).
 * Returns: the count. Thread-safety: any thread (no state). */
size_t weft_csv_count_breaks(const void *buf, size_t len);

/* weft_csv_find_record_start: the offset in buf of the first record that
 * starts after a line break outside quotes, given whether buf[0] is
 * inside a quoted field (in_quotes). quote as in the options (0: '"').
 * Returns: that offset, or len if there is none (no error).
 * Thread-safety: any thread (no state). */
size_t weft_csv_find_record_start(const void *buf, size_t len, bool in_quotes, char quote);

/* weft_csv_parse_number: a field's text s[0..len) as a number: an
 * optional sign, decimal digits with at most one '.' (at least one digit
 * in all: "1." and ".5" are numbers), an optional exponent (e or E, an optional sign,
 * digits); nothing else: no spaces, no "inf" or "nan", no hexadecimal.
 * The value is correctly rounded, as strtod rounds it; plain decimals
 * of up to 8 bytes take a branch-free path.
 * Returns: true and *out, or false (text; *out untouched).
 * Thread-safety: any thread (no state). */
bool weft_csv_parse_number(const char *s, size_t len, double *out);

/* weft_csv_parse_decimal: a field's text s[0..len) when it is a plain
 * decimal: an optional sign, 1 to 18 digits with at most one '.' (no
 * exponent), as an integer and a scale: the value is exactly
 * *mant / 10^*scale ("-12.50": -1250 and 2). Made for exact sums; up to 8
 * bytes of digits and a point take a branch-free path.
 * Returns: true, *mant and *scale; or false (any other text, numbers
 * with an exponent or more digits included: see weft_csv_parse_number).
 * Thread-safety: any thread (no state). */
bool weft_csv_parse_decimal(const char *s, size_t len, int64_t *mant, unsigned *scale);

#ifdef __cplusplus
}
#endif
#endif
