/* Report tests: the text table (rows, alignment, human-readable ns, escaping)
 * and the JSON rendering (checked by a strict RFC 8259 parser below, plus the
 * exact escaped strings), copying semantics, and write errors. */
#include <math.h> /* NAN and INFINITY only: macros, no libm */
#include <stdbool.h>
#include <stdio.h>

#include <weft/metrics.h>

#include "weft_test.h"

/* ---- Rendering into memory ---------------------------------------------- */

static char *render(const weft_report *r, bool json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    WT_ASSERT(f);
    if (json)
        WT_OK(weft_report_write_json(r, f));
    else
        WT_OK(weft_report_write_text(r, f));
    WT_EQ(fclose(f), 0);
    WT_EQ(strlen(buf), len); /* no NUL bytes in the output */
    return buf;
}

/* The line of text that contains needle, copied into line (or fail). */
static void find_line(const char *text, const char *needle, char *line, size_t size)
{
    const char *hit = strstr(text, needle);
    if (!hit)
        WT_FAIL_("no line contains \"%s\" in:\n%s", needle, text);
    const char *start = hit;
    while (start > text && start[-1] != '\n')
        start--;
    const char *end = strchr(hit, '\n');
    WT_ASSERT(end);
    size_t n = (size_t)(end - start);
    WT_ASSERT(n < size);
    memcpy(line, start, n);
    line[n] = '\0';
}

/* ---- A strict JSON parser (validates; counts objects and arrays) --------- */

struct json {
    const char *p;
    int objects, arrays;
};

static bool json_value(struct json *j);

static void json_ws(struct json *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')
        j->p++;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool json_string(struct json *j)
{
    if (*j->p != '"')
        return false;
    j->p++;
    for (;;) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20) /* includes the terminating NUL: unterminated */
            return false;
        if (c == '\\') {
            j->p++;
            char e = *j->p;
            if (e == 'u') {
                for (int i = 1; i <= 4; i++) {
                    if (!is_hex(j->p[i]))
                        return false;
                }
                j->p += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return false;
        }
        j->p++;
    }
}

static bool json_digits(struct json *j)
{
    if (*j->p < '0' || *j->p > '9')
        return false;
    while (*j->p >= '0' && *j->p <= '9')
        j->p++;
    return true;
}

static bool json_number(struct json *j)
{
    if (*j->p == '-')
        j->p++;
    if (*j->p == '0')
        j->p++;
    else if (!json_digits(j))
        return false;
    if (*j->p == '.') {
        j->p++;
        if (!json_digits(j))
            return false;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (!json_digits(j))
            return false;
    }
    return true;
}

static bool json_literal(struct json *j, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(j->p, word, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool json_object(struct json *j)
{
    j->p++; /* '{' */
    j->objects++;
    json_ws(j);
    if (*j->p == '}') {
        j->p++;
        return true;
    }
    for (;;) {
        json_ws(j);
        if (!json_string(j))
            return false;
        json_ws(j);
        if (*j->p++ != ':')
            return false;
        if (!json_value(j))
            return false;
        json_ws(j);
        if (*j->p == '}') {
            j->p++;
            return true;
        }
        if (*j->p++ != ',')
            return false;
    }
}

static bool json_array(struct json *j)
{
    j->p++; /* '[' */
    j->arrays++;
    json_ws(j);
    if (*j->p == ']') {
        j->p++;
        return true;
    }
    for (;;) {
        if (!json_value(j))
            return false;
        json_ws(j);
        if (*j->p == ']') {
            j->p++;
            return true;
        }
        if (*j->p++ != ',')
            return false;
    }
}

static bool json_value(struct json *j)
{
    json_ws(j);
    switch (*j->p) {
    case '{':
        return json_object(j);
    case '[':
        return json_array(j);
    case '"':
        return json_string(j);
    case 't':
        return json_literal(j, "true");
    case 'f':
        return json_literal(j, "false");
    case 'n':
        return json_literal(j, "null");
    default:
        return json_number(j);
    }
}

/* Parse a whole document: one value, then only whitespace. */
static struct json json_check(const char *doc)
{
    struct json j = {.p = doc};
    bool ok = json_value(&j);
    json_ws(&j);
    if (!ok || *j.p != '\0')
        WT_FAIL_("invalid JSON at offset %td (\"%.20s\") in:\n%s", j.p - doc, j.p, doc);
    return j;
}

/* The parser itself rejects what it should, or the checks above prove little. */
static void test_json_checker_rejects(void)
{
    const char *bad[] = {"{",  "{\"a\" 1}", "{\"a\":1,}",  "[1 2]", "\"a\nb\"", "\"\\x\"",
                         "01", "1.",        "{\"a\":nul}", "{} {}", "\"\\u12\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct json j = {.p = bad[i]};
        bool ok = json_value(&j);
        json_ws(&j);
        if (ok && *j.p == '\0')
            WT_FAIL_("checker accepted %s", bad[i]);
    }
    json_check("{\"a\": [1, -2.5e+3, \"x\\\"\\n\\u00e9\", null, true, {}]}");
}

/* ---- Tests --------------------------------------------------------------- */

static void test_argument_errors(void)
{
    weft_report *r = NULL;
    WT_ERR(weft_report_create(NULL, "x"), -EINVAL);
    WT_OK(weft_report_create(&r, NULL)); /* NULL title: untitled */
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    weft_histogram_summary s = {0};
    WT_ERR(weft_report_add_counter(NULL, "a", 1), -EINVAL);
    WT_ERR(weft_report_add_counter(r, NULL, 1), -EINVAL);
    WT_ERR(weft_report_add_gauge(r, NULL, 1.0, "ns"), -EINVAL);
    WT_ERR(weft_report_add_histogram(r, "h", NULL, "ns"), -EINVAL);
    WT_ERR(weft_report_add_histogram(r, NULL, h, "ns"), -EINVAL);
    WT_ERR(weft_report_add_summary(r, "s", NULL, NULL), -EINVAL);
    WT_ERR(weft_report_add_summary(NULL, "s", &s, NULL), -EINVAL);
    WT_ERR(weft_report_add_text(r, "t", NULL), -EINVAL);
    WT_ERR(weft_report_add_text(r, NULL, "v"), -EINVAL);
    WT_ERR(weft_report_write_text(NULL, stdout), -EINVAL);
    WT_ERR(weft_report_write_text(r, NULL), -EINVAL);
    WT_ERR(weft_report_write_json(NULL, stdout), -EINVAL);
    WT_ERR(weft_report_write_json(r, NULL), -EINVAL);

    /* None of the failed adds left a row behind. */
    char *json = render(r, true);
    WT_STREQ(json, "{\n  \"title\": \"\",\n  \"metrics\": []\n}\n");
    free(json);
    char *text = render(r, false);
    WT_STREQ(text, "");
    free(text);
    weft_histogram_destroy(h);
    weft_report_destroy(r);
    weft_report_destroy(NULL);
}

/* Rows in order, values in one column, histograms on one line with their
 * units formatted for people. */
static void test_text_table(void)
{
    weft_report *r;
    WT_OK(weft_report_create(&r, "chan stats"));
    weft_histogram *lat, *sizes, *empty;
    WT_OK(weft_histogram_create(&lat, NULL));
    WT_OK(weft_histogram_create(&sizes, NULL));
    WT_OK(weft_histogram_create(&empty, NULL));
    weft_histogram_record(lat, 1230); /* one value: every percentile exact */
    weft_histogram_record_n(sizes, 64, 3);
    weft_histogram_record(sizes, 100);

    WT_OK(weft_report_add_counter(r, "sent", 1024));
    WT_OK(weft_report_add_gauge(r, "load", 0.75, NULL));
    WT_OK(weft_report_add_gauge(r, "buffer", 512, "B"));
    WT_OK(weft_report_add_histogram(r, "send.latency", lat, "ns"));
    WT_OK(weft_report_add_histogram(r, "msg.size", sizes, "B"));
    WT_OK(weft_report_add_histogram(r, "idle", empty, "ns"));
    WT_OK(weft_report_add_text(r, "state", "running"));
    char *text = render(r, false);

    const char *expected =
        "chan stats\n"
        "  sent          1024\n"
        "  load          0.75\n"
        "  buffer        512 B\n"
        "  send.latency  count=1 mean=1.23 us p50=1.23 us p90=1.23 us p99=1.23 us"
        " p99.9=1.23 us max=1.23 us\n"
        "  msg.size      count=4 mean=73 B p50=64 B p90=100 B p99=100 B p99.9=100 B"
        " max=100 B\n"
        "  idle          count=0\n"
        "  state         running\n";
    if (strcmp(text, expected) != 0)
        WT_FAIL_("text table:\n%s\nexpected:\n%s", text, expected);
    free(text);
    weft_histogram_destroy(lat);
    weft_histogram_destroy(sizes);
    weft_histogram_destroy(empty);
    weft_report_destroy(r);
}

/* Nanoseconds pick the unit that keeps three significant digits readable. */
static void test_ns_formatting(void)
{
    const struct {
        double ns;
        const char *want;
    } cases[] = {
        {0, "0 ns"},        {1, "1 ns"},        {812, "812 ns"},     {12.5, "12.5 ns"},
        {999, "999 ns"},    {999.7, "1 us"},    {1000, "1 us"},      {1234, "1.23 us"},
        {45600, "45.6 us"}, {4.5e6, "4.5 ms"},  {999.4e6, "999 ms"}, {2.01e9, "2.01 s"},
        {59e9, "59 s"},     {3.6e12, "3600 s"}, {-1500, "-1.5 us"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weft_report *r;
        WT_OK(weft_report_create(&r, ""));
        WT_OK(weft_report_add_gauge(r, "g", cases[i].ns, "ns"));
        char *text = render(r, false);
        char want[64];
        snprintf(want, sizeof want, "  g  %s\n", cases[i].want);
        if (strcmp(text, want) != 0)
            WT_FAIL_("%g ns rendered as \"%s\", expected \"%s\"", cases[i].ns, text, want);
        free(text);
        weft_report_destroy(r);
    }

    /* A histogram over many magnitudes: p50 and max in their own units. */
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    weft_histogram_record_n(h, 200, 60);        /* 200 ns */
    weft_histogram_record_n(h, 150 * 1000, 39); /* 150 us */
    weft_histogram_record(h, 3000000000);       /* 3 s */
    weft_report *r;
    WT_OK(weft_report_create(&r, "t"));
    WT_OK(weft_report_add_histogram(r, "lat", h, "ns"));
    char *text = render(r, false);
    char line[256];
    find_line(text, "lat", line, sizeof line);
    WT_ASSERT(strstr(line, " p50=200 ns "));
    WT_ASSERT(strstr(line, " p90=150 us ")); /* 150000 is in a 1024-wide bucket */
    WT_ASSERT(strstr(line, " p99=150 us "));
    /* 3e9 sits in a 2^24-wide bucket: its part up to the max reads 2.99 s. */
    WT_ASSERT(strstr(line, " p99.9=2.99 s "));
    WT_ASSERT(strstr(line, " max=3 s"));
    WT_ASSERT(strstr(line, "count=100 mean=30.1 ms "));
    free(text);
    weft_report_destroy(r);
    weft_histogram_destroy(h);
}

/* Control characters never break a row; overflow is shown when present; the
 * name column fits the longest name, counting UTF-8 characters, not bytes. */
static void test_text_escaping_and_alignment(void)
{
    weft_report *r;
    WT_OK(weft_report_create(&r, "multi\nline title"));
    WT_OK(weft_report_add_counter(r, "a\nb", 1));
    WT_OK(weft_report_add_text(r, "tab", "x\ty\x01z"));
    WT_OK(weft_report_add_counter(r, "caf\xc3\xa9", 2)); /* "café": 4 columns */
    weft_histogram *h;
    weft_histogram_opts opts = {.max_value = 1000};
    WT_OK(weft_histogram_create(&h, &opts));
    weft_histogram_record(h, 5000);
    WT_OK(weft_report_add_histogram(r, "ovf", h, NULL));
    char *text = render(r, false);
    const char *expected = "multi\\nline title\n"
                           "  a\\nb  1\n"
                           "  tab   x\\ty\\x01z\n"
                           "  caf\xc3\xa9  2\n"
                           "  ovf   count=1 mean=1000 p50=1000 p90=1000 p99=1000 p99.9=1000"
                           " max=1000 overflow=1\n";
    if (strcmp(text, expected) != 0)
        WT_FAIL_("text table:\n%s\nexpected:\n%s", text, expected);
    free(text);
    weft_histogram_destroy(h);
    weft_report_destroy(r);
}

/* The JSON parses, has one object per metric plus the outer one, and holds
 * the escaped strings and exact numbers. */
static void test_json(void)
{
    weft_report *r;
    WT_OK(weft_report_create(&r, "run \"7\"\\ok"));
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    weft_histogram_record(h, 1230);
    weft_histogram_record(h, 1230);
    weft_histogram_record(h, WEFT_HISTOGRAM_DEFAULT_MAX);
    WT_OK(weft_report_add_counter(r, "we\"ird\nname", 18446744073709551615ULL));
    WT_OK(weft_report_add_gauge(r, "load", 0.75, NULL));
    WT_OK(weft_report_add_gauge(r, "nan", NAN, "x"));
    WT_OK(weft_report_add_gauge(r, "inf", -INFINITY, NULL));
    WT_OK(weft_report_add_histogram(r, "lat", h, "ns"));
    WT_OK(weft_report_add_text(r, "ctl", "tab\there\x01\x1f back\\slash /"));
    WT_OK(weft_report_add_text(r, "utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    WT_OK(weft_report_add_text(r, "bad utf8",
                               "a\xff"
                               "b\xc3"
                               "c\xed\xa0\x80"
                               "d\xc0\xaf"));
    char *json = render(r, true);
    weft_histogram_summary s;
    weft_histogram_summarize(h, &s);
    WT_EQ(s.p50, 1230); /* narrowed to [min, its bucket's top]: exact */
    char lat[512];
    snprintf(lat, sizeof lat,
             "{\"name\": \"lat\", \"type\": \"histogram\", \"unit\": \"ns\", \"count\": 3, "
             "\"min\": 1230, \"max\": 3600000000000, \"mean\": 1200000000820, \"p50\": 1230, "
             "\"p90\": %lld, \"p99\": %lld, \"p999\": %lld, \"overflow\": 0}",
             (long long)s.p90, (long long)s.p99, (long long)s.p999);

    struct json j = json_check(json);
    WT_EQ(j.objects, 1 + 8);
    WT_EQ(j.arrays, 1);
    const char *want[] = {
        "\"title\": \"run \\\"7\\\"\\\\ok\"",
        "{\"name\": \"we\\\"ird\\nname\", \"type\": \"counter\", \"value\": 18446744073709551615}",
        "{\"name\": \"load\", \"type\": \"gauge\", \"value\": 0.75}",
        "{\"name\": \"nan\", \"type\": \"gauge\", \"unit\": \"x\", \"value\": null}",
        "{\"name\": \"inf\", \"type\": \"gauge\", \"value\": null}",
        lat,
        "{\"name\": \"ctl\", \"type\": \"text\", \"value\": "
        "\"tab\\there\\u0001\\u001f back\\\\slash /\"}",
        "{\"name\": \"utf8\", \"type\": \"text\", \"value\": "
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "{\"name\": \"bad utf8\", \"type\": \"text\", \"value\": "
        "\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd\"}",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(json, want[i]))
            WT_FAIL_("JSON lacks %s in:\n%s", want[i], json);
    }
    /* Order: metrics appear in the order they were added. */
    WT_ASSERT(strstr(json, "\"we\\\"ird") < strstr(json, "\"load\""));
    WT_ASSERT(strstr(json, "\"lat\"") < strstr(json, "\"ctl\""));
    WT_ASSERT(strstr(json, "\"ctl\"") < strstr(json, "\"bad utf8\""));
    free(json);
    weft_histogram_destroy(h);
    weft_report_destroy(r);
}

/* The report copies names, units, text and summaries when they are added. */
static void test_copies(void)
{
    char name[] = "name";
    char unit[] = "ns";
    char value[] = "value";
    weft_histogram *h;
    WT_OK(weft_histogram_create(&h, NULL));
    weft_histogram_record(h, 10);
    weft_report *r;
    char title[] = "title";
    WT_OK(weft_report_create(&r, title));
    WT_OK(weft_report_add_histogram(r, name, h, unit));
    WT_OK(weft_report_add_text(r, name, value));
    weft_histogram_summary s = {
        .count = 2, .min = 1, .max = 9, .mean = 5, .p50 = 1, .p90 = 9, .p99 = 9, .p999 = 9};
    WT_OK(weft_report_add_summary(r, "sum", &s, NULL));
    memset(name, 'X', 4);
    memset(unit, 'Y', 2);
    memset(value, 'Z', 5);
    memset(title, 'W', 5);
    memset(&s, 0, sizeof s);
    weft_histogram_record_n(h, 999999, 1000);
    weft_histogram_destroy(h);

    char *text = render(r, false);
    const char *expected = "title\n"
                           "  name  count=1 mean=10 ns p50=10 ns p90=10 ns p99=10 ns"
                           " p99.9=10 ns max=10 ns\n"
                           "  name  value\n"
                           "  sum   count=2 mean=5 p50=1 p90=9 p99=9 p99.9=9 max=9\n";
    if (strcmp(text, expected) != 0)
        WT_FAIL_("text table:\n%s\nexpected:\n%s", text, expected);
    free(text);
    weft_report_destroy(r);
}

/* Many rows: the row list grows and keeps its order. */
static void test_many_rows(void)
{
    weft_report *r;
    WT_OK(weft_report_create(&r, "many"));
    for (uint64_t i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof name, "c%04u", (unsigned)i);
        WT_OK(weft_report_add_counter(r, name, i * 3));
    }
    char *json = render(r, true);
    struct json j = json_check(json);
    WT_EQ(j.objects, 1001);
    WT_ASSERT(strstr(json, "{\"name\": \"c0999\", \"type\": \"counter\", \"value\": 2997}"));
    free(json);
    char *text = render(r, false);
    WT_ASSERT(strstr(text, "\n  c0000  0\n  c0001  3\n"));
    WT_ASSERT(strstr(text, "\n  c0999  2997\n"));
    free(text);
    weft_report_destroy(r);
}

/* A stream that cannot be written reports -EIO (/dev/full fails every write
 * with ENOSPC once stdio flushes). */
static void test_write_error(void)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        WT_SKIP("/dev/full is not available");
    weft_report *r;
    WT_OK(weft_report_create(&r, "full"));
    WT_OK(weft_report_add_counter(r, "n", 1));
    WT_ERR(weft_report_write_text(r, f), -EIO);
    clearerr(f);
    WT_ERR(weft_report_write_json(r, f), -EIO);
    fclose(f);
    weft_report_destroy(r);
}

int main(void)
{
    WT_RUN(test_json_checker_rejects);
    WT_RUN(test_argument_errors);
    WT_RUN(test_text_table);
    WT_RUN(test_ns_formatting);
    WT_RUN(test_text_escaping_and_alignment);
    WT_RUN(test_json);
    WT_RUN(test_copies);
    WT_RUN(test_many_rows);
    WT_RUN(test_write_error);
    return 0;
}
