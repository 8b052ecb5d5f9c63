/* The CSV reader (weft/csv.h):
 * - known cases: quoting, doubled quotes, embedded delimiters and line
 *   breaks, CRLF and lone CR, BOM, empty lines and fields, another
 *   delimiter, line numbers and offsets, malformed records delivered and
 *   read past;
 * - feeding in pieces of every size gives the records of one feed;
 * - the fast path for records without quotes (64-byte masks) gives what
 *   the record-by-record path gives, limits included;
 * - chunks cut with weft_csv_count_quotes/weft_csv_find_record_start and
 *   parsed separately give the records of the whole, also when quoted
 *   line breaks straddle the cuts;
 * - numbers (weft_csv_parse_number, weft_csv_parse_decimal) against strtod
 *   and the grammar;
 * - differential: random tricky inputs read by Python's csv module
 *   (strict=True) and by the reader: the same rows, or both reject at the
 *   same record (skipped without python3). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/csv.h>

#include "weft_test.h"

/* Records rendered as text: fields joined by '|' with '\' escaping, one
 * record per line, "!<error>" for a malformed one, "#<line>@<offset>"
 * prefixed when positions are wanted. */
typedef struct out {
    char *buf;
    size_t len, cap;
    bool positions;
    int errors;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->buf = realloc(o->buf, o->cap);
        WT_ASSERT(o->buf);
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
}

static int render(void *ctx, const weft_csv_record *r)
{
    out *o = ctx;
    char tmp[64];
    if (o->positions) {
        int n = snprintf(tmp, sizeof tmp, "#%llu@%llu ", (unsigned long long)r->line,
                         (unsigned long long)r->offset);
        put(o, tmp, (size_t)n);
    }
    if (r->error) {
        o->errors++;
        put(o, "!", 1);
        put(o, r->error, strlen(r->error));
        put(o, "\n", 1);
        return 0;
    }
    for (size_t i = 0; i < r->count; i++) {
        if (i)
            put(o, "|", 1);
        for (size_t k = 0; k < r->fields[i].len; k++) {
            char c = r->fields[i].data[k];
            if (c == '|' || c == '\\' || c == '\n' || c == '\r') {
                put(o, "\\", 1);
                c = c == '\n' ? 'n' : c == '\r' ? 'r' : c;
            }
            put(o, &c, 1);
        }
    }
    put(o, "\n", 1);
    return 0;
}

/* Parse text fed in pieces of `piece` bytes (0: at once). */
static out parse(const char *text, size_t len, size_t piece, bool positions,
                 const weft_csv_opts *opts)
{
    weft_csv_reader *r;
    WT_OK(weft_csv_reader_create(&r, opts));
    out o = {.positions = positions};
    put(&o, "", 0);
    if (!piece)
        piece = len ? len : 1;
    for (size_t at = 0; at < len; at += piece)
        WT_OK(weft_csv_feed(r, text + at, len - at < piece ? len - at : piece, render, &o));
    WT_OK(weft_csv_finish(r, render, &o));
    weft_csv_reader_destroy(r);
    return o;
}

static void expect(const char *text, const char *want)
{
    out o = parse(text, strlen(text), 0, false, NULL);
    if (strcmp(o.buf, want) != 0)
        WT_FAIL_("input \"%s\":\n  got  \"%s\"\n  want \"%s\"", text, o.buf, want);
    /* Every way of cutting it gives the same. */
    for (size_t piece = 1; piece <= 7; piece++) {
        out p = parse(text, strlen(text), piece, false, NULL);
        if (strcmp(p.buf, want) != 0)
            WT_FAIL_("input \"%s\" in pieces of %zu:\n  got  \"%s\"\n  want \"%s\"", text, piece,
                     p.buf, want);
        free(p.buf);
    }
    free(o.buf);
}

static void test_known_cases(void)
{
    expect("a,b,c\n1,2,3\n", "a|b|c\n1|2|3\n");
    expect("a,b,c\n1,2,3", "a|b|c\n1|2|3\n");      /* no final line break */
    expect("a,b\r\n1,2\r\n", "a|b\n1|2\n");        /* CRLF */
    expect("a,b\r1,2\r", "a|b\n1|2\n");            /* lone CR */
    expect("\xEF\xBB\xBFx,y\n", "x|y\n");          /* BOM skipped */
    expect("x,\xEF\xBB\xBF\n", "x|\xEF\xBB\xBF\n"); /* not at the start: data */
    expect("\"a,b\",c\n", "a,b|c\n");              /* delimiter in quotes */
    expect("\"a\"\"b\",c\n", "a\"b|c\n");          /* doubled quote */
    expect("\"line1\nline2\",x\n", "line1\\nline2|x\n");
    expect("\"cr\r\nlf\"\n", "cr\\r\\nlf\n");
    expect("a\"b,c\n", "a\"b|c\n"); /* a quote inside an unquoted field */
    expect(",,\n", "||\n");
    expect("\"\",\"\"\n", "|\n");
    expect("a\n\nb\n", "a\n\nb\n"); /* an empty line: no field */
    expect("\"\"\"\"\n", "\"\n");
    expect("", "");
    /* Malformed: delivered as such, reading goes on. */
    expect("\"a\"b,c\nd,e\n", "!text after the closing quote of a field\nd|e\n");
    expect("x\n\"open,", "x\n!a quoted field is not closed before the end of the input\n");
    /* Another delimiter. */
    weft_csv_opts semi = {.delimiter = ';'};
    out o = parse("a;b,c\n", 6, 0, false, &semi);
    WT_STREQ(o.buf, "a|b,c\n");
    free(o.buf);
    weft_csv_reader *r;
    weft_csv_opts bad = {.delimiter = '\n'};
    WT_ERR(weft_csv_reader_create(&r, &bad), -EINVAL);
    weft_csv_opts same = {.delimiter = '"'};
    WT_ERR(weft_csv_reader_create(&r, &same), -EINVAL);
}

static void test_positions(void)
{
    const char *text = "h1,h2\n\"multi\nline\",x\n\nlast,y\r\nz";
    out o = parse(text, strlen(text), 0, true, NULL);
    WT_STREQ(o.buf, "#1@0 h1|h2\n#2@6 multi\\nline|x\n#4@21 \n#5@22 last|y\n#6@30 z\n");
    for (size_t piece = 1; piece < 9; piece++) {
        out p = parse(text, strlen(text), piece, true, NULL);
        WT_STREQ(p.buf, o.buf);
        free(p.buf);
    }
    /* With a BOM, offsets count it. */
    out b = parse("\xEF\xBB\xBF" "a\nb\n", 7, 1, true, NULL);
    WT_STREQ(b.buf, "#1@3 a\n#2@5 b\n");
    free(b.buf);
    free(o.buf);
}

/* ---- random tricky inputs --------------------------------------------------------- */

static uint64_t rng = 0x243F6A8885A308D3u;

static unsigned pick(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* A CSV text, mostly well-formed, with every tricky part; sometimes a
 * malformed record (text after a closing quote, an unclosed quote). */
static size_t generate(char *buf, size_t cap, bool allow_bad)
{
    static const char plain[] = "ab1 ,.x\"";
    size_t n = 0;
    int records = 1 + (int)pick(12);
    for (int r = 0; r < records && n + 200 < cap; r++) {
        int fields = (int)pick(5);
        for (int f = 0; f < fields; f++) {
            if (f)
                buf[n++] = ',';
            if (pick(3) == 0) {
                buf[n++] = '"';
                int len = (int)pick(8);
                for (int i = 0; i < len; i++) {
                    int k = (int)pick(8);
                    if (k == 0) {
                        buf[n++] = '"';
                        buf[n++] = '"';
                    } else if (k == 1) {
                        buf[n++] = '\n';
                    } else if (k == 2) {
                        buf[n++] = '\r';
                    } else if (k == 3) {
                        buf[n++] = ',';
                    } else {
                        buf[n++] = "xyz 12"[pick(6)];
                    }
                }
                buf[n++] = '"';
                if (allow_bad && pick(40) == 0)
                    buf[n++] = 'X'; /* text after the closing quote */
            } else {
                int len = (int)pick(6);
                for (int i = 0; i < len; i++) {
                    char c = plain[pick(sizeof plain - 1)];
                    /* A quote inside an unquoted field is legal (read as
                     * a byte), but it breaks the quote parity that chunk
                     * cutting relies on: only in the "bad" inputs. */
                    if (c == ',' || (c == '"' && (i == 0 || !allow_bad)))
                        c = 'q';
                    buf[n++] = c;
                }
            }
        }
        int end = (int)pick(6);
        if (end == 0)
            buf[n++] = '\r';
        else if (end == 1) {
            buf[n++] = '\r';
            buf[n++] = '\n';
        } else if (r + 1 < records || end > 2)
            buf[n++] = '\n';
    }
    if (allow_bad && pick(30) == 0) {
        buf[n++] = '"';
        buf[n++] = 'u';
    }
    return n;
}

static void test_pieces_random(void)
{
    char text[4096];
    for (int round = 0; round < WT_SCALE(3000); round++) {
        size_t len = generate(text, sizeof text, true);
        out whole = parse(text, len, 0, true, NULL);
        size_t piece = 1 + pick(9);
        out cut = parse(text, len, piece, true, NULL);
        if (strcmp(whole.buf, cut.buf) != 0)
            WT_FAIL_("round %d, pieces of %zu:\n%s\nvs\n%s", round, piece, whole.buf, cut.buf);
        free(whole.buf);
        free(cut.buf);
    }
}

/* Cut a well-formed text at random offsets moved to record starts (by
 * quote parity), parse each chunk with its own reader, concatenate. */
static void test_chunks(void)
{
    char text[1 << 16];
    for (int round = 0; round < WT_SCALE(500); round++) {
        size_t len = 0;
        while (len < sizeof text - 4096) {
            len += generate(text + len, sizeof text - len, false);
            /* Each piece ends its last record, or the next would run on
             * into it. */
            if (len && text[len - 1] != '\n' && text[len - 1] != '\r')
                text[len++] = '\n';
        }
        out whole = parse(text, len, 0, true, NULL);
        out parts = {.positions = true};
        put(&parts, "", 0);
        size_t start = 0;
        uint64_t line = 1;
        while (start < len) {
            size_t guess = start + 1 + pick(5000);
            size_t next = len;
            if (guess < len) {
                bool in_quotes = weft_csv_count_quotes(text, guess, 0) % 2 == 1;
                next = guess + weft_csv_find_record_start(text + guess, len - guess, in_quotes, 0);
            }
            weft_csv_reader *r;
            WT_OK(weft_csv_reader_create(&r, NULL));
            weft_csv_reader_reset(r, start, line);
            WT_OK(weft_csv_feed(r, text + start, next - start, render, &parts));
            WT_ASSERT(!weft_csv_reader_in_quotes(r));
            WT_OK(weft_csv_finish(r, render, &parts));
            weft_csv_reader_destroy(r);
            for (size_t i = start; i < next; i++)
                line += text[i] == '\n' || (text[i] == '\r' && (i + 1 == len || text[i + 1] != '\n'));
            start = next;
        }
        if (strcmp(whole.buf, parts.buf) != 0)
            WT_FAIL_("round %d: chunks differ", round);
        free(whole.buf);
        free(parts.buf);
    }
}

/* Counting quotes and line breaks (the vector loops flush their byte
 * counters every 255 blocks): against a byte-by-byte count, on buffers of
 * every length up to 10k and a few large ones. */
static void test_counts(void)
{
    static char buf[200000];
    for (size_t i = 0; i < sizeof buf; i++) {
        unsigned k = pick(10);
        buf[i] = k == 0 ? '"' : k == 1 ? '\n' : k == 2 ? '\r' : 'x';
    }
    size_t lens[] = {0, 1, 15, 16, 17, 31, 255 * 16, 255 * 16 + 1, 255 * 16 + 17, 65536, 199999};
    for (size_t t = 0; t < sizeof lens / sizeof lens[0] + 300; t++) {
        size_t len = t < sizeof lens / sizeof lens[0] ? lens[t] : pick(10000);
        size_t start = pick(64);
        if (start + len > sizeof buf)
            len = sizeof buf - start;
        size_t quotes = 0, breaks = 0;
        for (size_t i = start; i < start + len; i++) {
            quotes += buf[i] == '"';
            breaks += buf[i] == '\n' ||
                      (buf[i] == '\r' && (i + 1 >= start + len || buf[i + 1] != '\n'));
        }
        WT_EQ(weft_csv_count_quotes(buf + start, len, 0), quotes);
        WT_EQ(weft_csv_count_breaks(buf + start, len), breaks);
    }
}

/* Records without quotes take a fast path that walks 64-byte masks of the
 * special bytes when the buffer holds more than 64 bytes past them; fed
 * in pieces under 64 bytes the same text never takes it. Long and short
 * fields across the 64-byte blocks, every line ending at every place,
 * empty lines, and now and then a quoted field or a quote inside an
 * unquoted one (where the fast path hands over): both ways give the same
 * records, lines and offsets. */
static void test_quoteless_blocks(void)
{
    static char text[8192];
    for (int round = 0; round < WT_SCALE(2000); round++) {
        size_t len = 0;
        int records = 1 + (int)pick(60);
        for (int r = 0; r < records && len + 400 < sizeof text; r++) {
            int fields = (int)pick(8);
            for (int f = 0; f < fields; f++) {
                if (f)
                    text[len++] = ',';
                unsigned kind = pick(40);
                int flen = kind < 4 ? 20 + (int)pick(50) : (int)pick(9);
                if (kind == 0)
                    text[len++] = '"';
                for (int i = 0; i < flen; i++)
                    text[len++] = "abc123 .-"[pick(9)];
                if (kind == 0)
                    text[len++] = '"';
                else if (kind == 1)
                    text[len++] = '"'; /* a quote inside an unquoted field */
            }
            unsigned end = pick(8);
            if (end == 0)
                text[len++] = '\r';
            else if (end == 1)
                len += (size_t)sprintf(text + len, "\r\n");
            else if (r + 1 < records || end > 2)
                text[len++] = '\n';
        }
        out whole = parse(text, len, 0, true, NULL);
        size_t piece = 1 + pick(63);
        out cut = parse(text, len, piece, true, NULL);
        if (strcmp(whole.buf, cut.buf) != 0)
            WT_FAIL_("round %d, pieces of %zu:\n%s\nvs\n%s", round, piece, whole.buf, cut.buf);
        free(whole.buf);
        free(cut.buf);
    }
    /* Limits hold on the fast path too: a record over max_record is
     * delivered as malformed, and one over max_fields stops the feed. */
    char long_rec[300];
    memset(long_rec, 'x', sizeof long_rec);
    long_rec[100] = '\n';
    memcpy(long_rec + 101, "a,b\n", 4);
    size_t long_len = 105;
    weft_csv_opts small = {.max_record = 50, .max_fields = 4};
    out o = parse(long_rec, long_len, 0, false, &small);
    WT_STREQ(o.buf, "!the record is longer than the limit\na|b\n");
    WT_EQ(o.errors, 1);
    free(o.buf);
    char many[200];
    size_t n = 0;
    for (int i = 0; i < 99; i++)
        many[n++] = i % 2 ? ',' : 'v';
    many[n++] = '\n';
    weft_csv_reader *r;
    WT_OK(weft_csv_reader_create(&r, &small));
    out sink = {0};
    WT_ERR(weft_csv_feed(r, many, n, render, &sink), -E2BIG);
    weft_csv_reader_destroy(r);
    free(sink.buf);
}

/* ---- numbers -------------------------------------------------------------------------------- */

/* The grammar, checked the slow way: [sign] digits [. digits] [e [sign]
 * digits], at least one mantissa digit. */
static bool is_number_text(const char *s, size_t len)
{
    size_t i = 0, mant = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        mant++;
    if (i < len && s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            mant++;
    if (!mant)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            e++;
        if (!e)
            return false;
    }
    return i == len;
}

static void check_number(const char *s, size_t len)
{
    char buf[64];
    memcpy(buf, s, len);
    buf[len] = 0;
    double got = -12345.678, want = 0;
    bool ok = weft_csv_parse_number(s, len, &got);
    bool valid = is_number_text(s, len);
    if (valid)
        want = strtod(buf, NULL);
    if (ok != valid)
        WT_FAIL_("\"%s\": %s, want %s", buf, ok ? "a number" : "text", valid ? "a number" : "text");
    if (!ok && got != -12345.678)
        WT_FAIL_("\"%s\": text, but *out was written", buf);
    if (ok && memcmp(&got, &want, sizeof got) != 0)
        WT_FAIL_("\"%s\": %.17g, want %.17g", buf, got, want);
    /* The same text as a plain decimal: a number without exponent and
     * with at most 18 digits; the integer and scale written back as a
     * decimal have the same value. */
    size_t digits = 0;
    bool exponent = false;
    for (size_t i = 0; i < len; i++) {
        digits += s[i] >= '0' && s[i] <= '9';
        exponent |= s[i] == 'e' || s[i] == 'E';
    }
    int64_t mant = 7;
    unsigned scale = 99;
    bool dec = weft_csv_parse_decimal(s, len, &mant, &scale);
    if (dec != (valid && !exponent && digits <= 18))
        WT_FAIL_("\"%s\": parse_decimal says %d", buf, dec);
    if (dec) {
        char back[64];
        unsigned long long m = mant < 0 ? 0ull - (unsigned long long)mant : (unsigned long long)mant;
        int n = snprintf(back, sizeof back, "%s%0*llu", mant < 0 ? "-" : "", (int)scale + 1, m);
        memmove(back + n - scale + 1, back + n - scale, scale + 1);
        back[n - scale] = '.';
        double again = strtod(back, NULL);
        if (again != want)
            WT_FAIL_("\"%s\": parse_decimal gives %lld and %u (%s)", buf, (long long)mant, scale, back);
    }
}

/* weft_csv_parse_number against strtod and the grammar: random strings
 * over the characters that matter (every length through the 8-byte fast
 * path and past it), every digit at every place of 8, and edge cases. The
 * input is copied to the end of a page-sized buffer so that a read past
 * it would be caught under ASan. */
static void test_numbers(void)
{
    static const char *known[] = {"0",    "-0",  "+1",      "1.",       ".5",        "-.5",
                                  ".",    "-",   "+",       "",         "1e5",       "1E-5",
                                  "1e",   "1e+", "12345678", "1234567.8", "99999999", "0.0000001",
                                  "1..2", "1.2.3", "--1",   " 1",       "1 ",        "0x10",
                                  "inf",  "nan", "123456789012345678", "9007199254740993",
                                  "1234.5678e3", "4.9e-324", "1e400", "12345678.9"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        check_number(known[i], strlen(known[i]));
    static const char alphabet[] = "0123456789012345678901234567890123456789..-+eE x:/?";
    char *page = malloc(4096);
    WT_ASSERT(page);
    for (int round = 0; round < WT_SCALE(300000); round++) {
        size_t len = pick(19);
        char *s = page + 4096 - len;
        for (size_t i = 0; i < len; i++)
            s[i] = alphabet[pick(sizeof alphabet - 1)];
        check_number(s, len);
    }
    /* Each digit value at each place of an 8-digit number, with a point. */
    for (int place = 0; place < 8; place++)
        for (int d = 0; d < 10; d++) {
            char s[10] = "11111111";
            s[place] = (char)('0' + d);
            check_number(s, 8);
            memmove(s + place + 1, s + place, 8 - (size_t)place);
            s[place] = '.';
            check_number(s, 8);
            check_number(s, 9);
        }
    free(page);
}

/* ---- differential: Python's csv module -------------------------------------------- */

/* Reads every file named on its command line; prints each one's rows
 * (rendered as render() does) and "=\n" after each. */
static const char *py_script =
    "import csv, io, sys\n"
    "def esc(f):\n"
    "    return f.replace('\\\\','\\\\\\\\').replace('|','\\\\|').replace('\\n','\\\\n')"
    ".replace('\\r','\\\\r')\n"
    "for path in sys.argv[1:]:\n"
    "    data = open(path, 'rb').read().decode('latin-1')\n"
    "    if data.startswith('\\xef\\xbb\\xbf'): data = data[3:]\n"
    "    out = []\n"
    "    try:\n"
    "        for row in csv.reader(io.StringIO(data, newline=''), strict=True):\n"
    "            out.append('|'.join(esc(f) for f in row))\n"
    "    except csv.Error:\n"
    "        out.append('!')\n"
    "    sys.stdout.write(''.join(l + '\\n' for l in out) + '=\\n')\n";

enum { DIFF_BATCH = 100 };

static void test_against_python(void)
{
    if (system("python3 -c 'import csv' >/dev/null 2>&1") != 0) {
        printf("   (python3 not found: differential part skipped)\n");
        return;
    }
    char dir[] = "/tmp/weft-csv-XXXXXX";
    WT_ASSERT(mkdtemp(dir));
    char script[256];
    snprintf(script, sizeof script, "%s/read.py", dir);
    FILE *f = fopen(script, "w");
    fputs(py_script, f);
    fclose(f);
    int rounds = WT_SCALE(1000), agree_bad = 0;
    static char texts[DIFF_BATCH][4096];
    static size_t lens[DIFF_BATCH];
    for (int done = 0; done < rounds; done += DIFF_BATCH) {
        int batch = rounds - done < DIFF_BATCH ? rounds - done : DIFF_BATCH;
        size_t cmd_len = 0, cmd_cap = 64 + (size_t)batch * 300;
        char *cmd = malloc(cmd_cap);
        cmd_len += (size_t)snprintf(cmd, cmd_cap, "python3 %s", script);
        for (int i = 0; i < batch; i++) {
            lens[i] = generate(texts[i], sizeof texts[i], true);
            char input[256];
            snprintf(input, sizeof input, "%s/in%d.csv", dir, i);
            f = fopen(input, "wb");
            fwrite(texts[i], 1, lens[i], f);
            fclose(f);
            cmd_len += (size_t)snprintf(cmd + cmd_len, cmd_cap - cmd_len, " %s", input);
        }
        FILE *py = popen(cmd, "r");
        WT_ASSERT(py);
        out all = {0};
        put(&all, "", 0);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, py)) > 0)
            put(&all, buf, n);
        WT_EQ(pclose(py), 0);
        free(cmd);
        char *want = all.buf;
        for (int i = 0; i < batch; i++) {
            /* This input's rows run up to the next line that is "=". */
            char *sep = want;
            while (!(sep[0] == '=' && sep[1] == '\n' && (sep == want || sep[-1] == '\n')))
                WT_ASSERT(*sep++);
            *sep = 0;
            out got = parse(texts[i], lens[i], 0, false, NULL);
            /* Python stops at its first error; compare up to there, and
             * both must reject that record. */
            char *py_bad = strstr(want, "!\n");
            while (py_bad && py_bad != want && py_bad[-1] != '\n')
                py_bad = strstr(py_bad + 1, "!\n");
            if (py_bad) {
                size_t keep = (size_t)(py_bad - want);
                if (strncmp(got.buf, want, keep) != 0 || got.buf[keep] != '!')
                    WT_FAIL_("input %d: python rejects at %zu\n--- python\n%s--- weft\n%s",
                             done + i, keep, want, got.buf);
                agree_bad++;
            } else if (strcmp(got.buf, want) != 0) {
                WT_FAIL_("input %d:\n--- python\n%s--- weft\n%s", done + i, want, got.buf);
            }
            free(got.buf);
            want = sep + 2;
        }
        free(all.buf);
    }
    for (int i = 0; i < DIFF_BATCH; i++) {
        char input[256];
        snprintf(input, sizeof input, "%s/in%d.csv", dir, i);
        unlink(input);
    }
    unlink(script);
    rmdir(dir);
    printf("   %d inputs agree with Python's csv (%d rejected by both)\n", rounds, agree_bad);
}

int main(void)
{
    WT_RUN(test_known_cases);
    WT_RUN(test_positions);
    WT_RUN(test_pieces_random);
    WT_RUN(test_chunks);
    WT_RUN(test_quoteless_blocks);
    WT_RUN(test_counts);
    WT_RUN(test_numbers);
    WT_RUN(test_against_python);
    return 0;
}
