/* libFuzzer target for the CSV reader (weft/csv.h). Each input is read
 * three ways: fed at once, fed in pieces (their size taken from the first
 * byte), and cut into two chunks at a record start found by quote parity;
 * the first two must give the same records (fields, positions, errors),
 * and nothing may crash, leak or read out of bounds (ASan, UBSan).
 * Built and run for a few seconds by tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weft/csv.h>

typedef struct digest {
    uint64_t h, records;
} digest;

static void mix(digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 1099511628211u;
}

static int record(void *ctx, const weft_csv_record *r)
{
    digest *d = ctx;
    d->records++;
    mix(d, &r->count, sizeof r->count);
    mix(d, &r->line, sizeof r->line);
    mix(d, &r->offset, sizeof r->offset);
    if (r->error) {
        mix(d, r->error, strlen(r->error));
        mix(d, r->raw, r->raw_len);
    }
    for (size_t i = 0; i < r->count; i++) {
        mix(d, &r->fields[i].len, sizeof r->fields[i].len);
        mix(d, r->fields[i].data, r->fields[i].len);
    }
    return 0;
}

static digest read_all(const uint8_t *data, size_t size, size_t piece)
{
    weft_csv_opts o = {.max_record = 4096};
    weft_csv_reader *r;
    digest d = {1469598103934665603u, 0};
    if (weft_csv_reader_create(&r, &o) < 0)
        abort();
    for (size_t at = 0; at < size; at += piece)
        weft_csv_feed(r, data + at, size - at < piece ? size - at : piece, record, &d);
    weft_csv_finish(r, record, &d);
    weft_csv_reader_destroy(r);
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t piece = 1 + data[0] % 17;
    digest whole = read_all(data, size, size);
    digest cut = read_all(data, size, piece);
    if (whole.h != cut.h || whole.records != cut.records)
        abort();
    /* Chunk cutting: any answer, as long as it is in range. */
    size_t mid = size / 2;
    bool in_quotes = weft_csv_count_quotes(data, mid, 0) % 2 == 1;
    size_t start = weft_csv_find_record_start(data + mid, size - mid, in_quotes, 0);
    if (start > size - mid)
        abort();
    return 0;
}
