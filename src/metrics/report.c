/* Reports: an ordered list of named metrics rendered as text or JSON; see
 * include/weft/metrics.h for both formats.
 *
 * A report owns no shared state: it is built by one thread at a time and
 * only read while rendering, so it needs no synchronization of its own.
 * Rendering holds the FILE's lock (flockfile) for the whole report so that
 * another thread printing to the same stream cannot split it. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/metrics.h>

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM, KIND_TEXT };

struct entry {
    enum kind kind;
    char *name;
    char *unit; /* NULL when none was given */
    char *text; /* KIND_TEXT only */
    union {
        uint64_t counter;
        double gauge;
        struct {
            weft_histogram_summary summary;
            uint64_t overflow;
        } hist;
    } u;
};

struct weft_report {
    char *title;
    struct entry *entries;
    size_t len, cap;
};

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c)
        memcpy(c, s, n);
    return c;
}

int weft_report_create(weft_report **out, const char *title)
{
    if (!out)
        return -EINVAL;
    weft_report *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->title = copy_string(title ? title : "");
    if (!r->title) {
        free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

static void free_entry(struct entry *e)
{
    free(e->name);
    free(e->unit);
    free(e->text);
}

void weft_report_destroy(weft_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->len; i++)
        free_entry(&r->entries[i]);
    free(r->entries);
    free(r->title);
    free(r);
}

/* Append an entry with copies of name, unit and text (the last two may be
 * NULL). Returns the entry for the caller to fill in its value, or NULL on
 * allocation failure, leaving the report as it was. */
static struct entry *append(weft_report *r, enum kind kind, const char *name, const char *unit,
                            const char *text)
{
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        struct entry *grown = realloc(r->entries, cap * sizeof *grown);
        if (!grown)
            return NULL;
        r->entries = grown;
        r->cap = cap;
    }
    struct entry e = {.kind = kind};
    e.name = copy_string(name);
    e.unit = unit ? copy_string(unit) : NULL;
    e.text = text ? copy_string(text) : NULL;
    if (!e.name || (unit && !e.unit) || (text && !e.text)) {
        free_entry(&e);
        return NULL;
    }
    r->entries[r->len] = e;
    return &r->entries[r->len++];
}

int weft_report_add_counter(weft_report *r, const char *name, uint64_t value)
{
    if (!r || !name)
        return -EINVAL;
    struct entry *e = append(r, KIND_COUNTER, name, NULL, NULL);
    if (!e)
        return -ENOMEM;
    e->u.counter = value;
    return 0;
}

int weft_report_add_gauge(weft_report *r, const char *name, double value, const char *unit)
{
    if (!r || !name)
        return -EINVAL;
    struct entry *e = append(r, KIND_GAUGE, name, unit, NULL);
    if (!e)
        return -ENOMEM;
    e->u.gauge = value;
    return 0;
}

int weft_report_add_summary(weft_report *r, const char *name, const weft_histogram_summary *summary,
                            const char *unit)
{
    if (!r || !name || !summary)
        return -EINVAL;
    struct entry *e = append(r, KIND_HISTOGRAM, name, unit, NULL);
    if (!e)
        return -ENOMEM;
    e->u.hist.summary = *summary;
    e->u.hist.overflow = 0;
    return 0;
}

int weft_report_add_histogram(weft_report *r, const char *name, const weft_histogram *h,
                              const char *unit)
{
    if (!r || !name || !h)
        return -EINVAL;
    weft_histogram_summary s;
    weft_histogram_summarize(h, &s);
    struct entry *e = append(r, KIND_HISTOGRAM, name, unit, NULL);
    if (!e)
        return -ENOMEM;
    e->u.hist.summary = s;
    e->u.hist.overflow = weft_histogram_overflow(h);
    return 0;
}

int weft_report_add_text(weft_report *r, const char *name, const char *value)
{
    if (!r || !name || !value)
        return -EINVAL;
    return append(r, KIND_TEXT, name, NULL, value) ? 0 : -ENOMEM;
}

/* ---- Output ------------------------------------------------------------- */

/* A stream plus a sticky failure flag, so the renderers can write freely and
 * check once at the end. */
struct out {
    FILE *f;
    bool failed;
};

static void put(struct out *o, const char *s)
{
    if (fputs(s, o->f) == EOF)
        o->failed = true;
}

static void put_char(struct out *o, char c)
{
    if (fputc((unsigned char)c, o->f) == EOF)
        o->failed = true;
}

static void put_spaces(struct out *o, size_t n)
{
    while (n--)
        put_char(o, ' ');
}

static int finish(struct out *o)
{
    if (fflush(o->f) == EOF)
        o->failed = true;
    funlockfile(o->f);
    return o->failed ? -EIO : 0;
}

/* |v|, without fabs(): libweft's metrics layer does not link libm. */
static double magnitude(double v)
{
    return v < 0 ? -v : v;
}

static bool is_ns(const char *unit)
{
    return unit && strcmp(unit, "ns") == 0;
}

/* A plain decimal for tables: integers without a fraction, others with up to
 * three decimals (trailing zeros dropped), tiny ones with three significant
 * digits. */
static void format_plain(char *buf, size_t size, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, size, "%g", v);
    } else if (magnitude(v) < 1e15 && v == (double)(int64_t)v) {
        snprintf(buf, size, "%.0f", v);
    } else if (magnitude(v) < 0.001) {
        snprintf(buf, size, "%.3g", v);
    } else {
        snprintf(buf, size, "%.3f", v);
        char *dot = strpbrk(buf, ".,");
        if (dot) {
            char *end = buf + strlen(buf);
            while (end > dot + 1 && end[-1] == '0')
                *--end = '\0';
            if (end == dot + 1)
                *dot = '\0';
        }
    }
}

/* Nanoseconds with the largest unit that keeps the number >= 1, three
 * significant digits: 812 ns, 1.23 us, 4.5 ms, 2.01 s, 3600 s. */
static void format_ns(char *buf, size_t size, double ns)
{
    static const struct {
        const char *name;
        double scale;
    } units[] = {{"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
    enum { NUNITS = sizeof units / sizeof units[0] };

    if (!isfinite(ns)) {
        snprintf(buf, size, "%g ns", ns);
        return;
    }
    double mag = magnitude(ns);
    size_t u = 0;
    /* Move up as soon as three significant digits would round to 1000. */
    while (u + 1 < NUNITS && mag >= units[u + 1].scale * 0.9995)
        u++;
    double scaled = ns / units[u].scale;
    if (magnitude(scaled) >= 999.5)
        snprintf(buf, size, "%.0f %s", scaled, units[u].name);
    else
        snprintf(buf, size, "%.3g %s", scaled, units[u].name);
}

/* A value followed by its unit: human-readable for "ns". */
static void format_value(char *buf, size_t size, double v, const char *unit)
{
    if (is_ns(unit)) {
        format_ns(buf, size, v);
        return;
    }
    format_plain(buf, size, v);
    if (unit && unit[0]) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, " %s", unit);
    }
}

static void format_int(char *buf, size_t size, int64_t v, const char *unit)
{
    if (is_ns(unit)) {
        format_ns(buf, size, (double)v);
        return;
    }
    int n = snprintf(buf, size, "%" PRId64, v);
    if (unit && unit[0] && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " %s", unit);
}

/* Table text: control characters escaped so each metric stays on one line.
 * Returns the display width (UTF-8 continuation bytes take no column). When
 * o is NULL only measures. */
static size_t put_table_text(struct out *o, const char *s)
{
    size_t width = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p < 0x20 || *p == 0x7f) {
            if (*p == '\n')
                snprintf(esc, sizeof esc, "\\n");
            else if (*p == '\t')
                snprintf(esc, sizeof esc, "\\t");
            else if (*p == '\r')
                snprintf(esc, sizeof esc, "\\r");
            else
                snprintf(esc, sizeof esc, "\\x%02x", *p);
            if (o)
                put(o, esc);
            width += strlen(esc);
        } else {
            if (o)
                put_char(o, (char)*p);
            if ((*p & 0xc0) != 0x80)
                width++;
        }
    }
    return width;
}

static void put_kv(struct out *o, const char *key, const char *value)
{
    put_char(o, ' ');
    put(o, key);
    put_char(o, '=');
    put(o, value);
}

static void put_histogram_row(struct out *o, const struct entry *e)
{
    const weft_histogram_summary *s = &e->u.hist.summary;
    char buf[64];
    snprintf(buf, sizeof buf, "count=%" PRIu64, s->count);
    put(o, buf);
    if (s->count == 0)
        return;
    format_value(buf, sizeof buf, s->mean, e->unit);
    put_kv(o, "mean", buf);
    const struct {
        const char *key;
        int64_t v;
    } cols[] = {
        {"p50", s->p50}, {"p90", s->p90}, {"p99", s->p99}, {"p99.9", s->p999}, {"max", s->max}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        format_int(buf, sizeof buf, cols[i].v, e->unit);
        put_kv(o, cols[i].key, buf);
    }
    if (e->u.hist.overflow) {
        snprintf(buf, sizeof buf, "%" PRIu64, e->u.hist.overflow);
        put_kv(o, "overflow", buf);
    }
}

int weft_report_write_text(const weft_report *r, FILE *f)
{
    if (!r || !f)
        return -EINVAL;
    struct out o = {.f = f, .failed = false};
    flockfile(f);

    size_t name_width = 0;
    for (size_t i = 0; i < r->len; i++) {
        size_t w = put_table_text(NULL, r->entries[i].name);
        if (w > name_width)
            name_width = w;
    }
    if (r->title[0]) {
        put_table_text(&o, r->title);
        put_char(&o, '\n');
    }
    for (size_t i = 0; i < r->len; i++) {
        const struct entry *e = &r->entries[i];
        char buf[64];
        put(&o, "  ");
        size_t w = put_table_text(&o, e->name);
        put_spaces(&o, name_width - w + 2);
        switch (e->kind) {
        case KIND_COUNTER:
            snprintf(buf, sizeof buf, "%" PRIu64, e->u.counter);
            put(&o, buf);
            break;
        case KIND_GAUGE:
            format_value(buf, sizeof buf, e->u.gauge, e->unit);
            put(&o, buf);
            break;
        case KIND_HISTOGRAM:
            put_histogram_row(&o, e);
            break;
        case KIND_TEXT:
            put_table_text(&o, e->text);
            break;
        }
        put_char(&o, '\n');
    }
    return finish(&o);
}

/* ---- JSON --------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if it is not
 * one: overlong forms, surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, least;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, least = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, least = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, least = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < least || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void put_json_string(struct out *o, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    put_char(o, '"');
    while (n > 0) {
        char esc[8];
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            put_char(o, '\\');
            put_char(o, (char)c);
        } else if (c < 0x20) {
            switch (c) {
            case '\n':
                put(o, "\\n");
                break;
            case '\r':
                put(o, "\\r");
                break;
            case '\t':
                put(o, "\\t");
                break;
            case '\b':
                put(o, "\\b");
                break;
            case '\f':
                put(o, "\\f");
                break;
            default:
                snprintf(esc, sizeof esc, "\\u%04x", c);
                put(o, esc);
            }
        } else {
            size_t len = utf8_sequence(p, n);
            if (len == 0) {
                put(o, "\\ufffd");
                len = 1;
            } else {
                for (size_t i = 0; i < len; i++)
                    put_char(o, (char)p[i]);
            }
            p += len;
            n -= len;
            continue;
        }
        p++;
        n--;
    }
    put_char(o, '"');
}

static void put_json_key(struct out *o, const char *key)
{
    put(o, ", ");
    put_json_string(o, key);
    put(o, ": ");
}

/* A JSON number for a double: null when not finite (JSON has no NaN or
 * infinity), and '.' as the decimal point even under a locale that prints
 * ',' (printf follows LC_NUMERIC; JSON does not). */
static void put_json_double(struct out *o, double v)
{
    if (!isfinite(v)) {
        put(o, "null");
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.15g", v);
    for (char *c = buf; *c; c++) {
        if (*c == ',')
            *c = '.';
    }
    put(o, buf);
}

static void put_json_u64(struct out *o, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    put_json_key(o, key);
    put(o, buf);
}

static void put_json_i64(struct out *o, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    put_json_key(o, key);
    put(o, buf);
}

int weft_report_write_json(const weft_report *r, FILE *f)
{
    if (!r || !f)
        return -EINVAL;
    static const char *const kind_names[] = {
        [KIND_COUNTER] = "counter",
        [KIND_GAUGE] = "gauge",
        [KIND_HISTOGRAM] = "histogram",
        [KIND_TEXT] = "text",
    };
    struct out o = {.f = f, .failed = false};
    flockfile(f);

    put(&o, "{\n  \"title\": ");
    put_json_string(&o, r->title);
    put(&o, ",\n  \"metrics\": [");
    for (size_t i = 0; i < r->len; i++) {
        const struct entry *e = &r->entries[i];
        put(&o, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        put_json_string(&o, e->name);
        put_json_key(&o, "type");
        put_json_string(&o, kind_names[e->kind]);
        if (e->unit) {
            put_json_key(&o, "unit");
            put_json_string(&o, e->unit);
        }
        switch (e->kind) {
        case KIND_COUNTER:
            put_json_u64(&o, "value", e->u.counter);
            break;
        case KIND_GAUGE:
            put_json_key(&o, "value");
            put_json_double(&o, e->u.gauge);
            break;
        case KIND_HISTOGRAM: {
            const weft_histogram_summary *s = &e->u.hist.summary;
            put_json_u64(&o, "count", s->count);
            put_json_i64(&o, "min", s->min);
            put_json_i64(&o, "max", s->max);
            put_json_key(&o, "mean");
            put_json_double(&o, s->mean);
            put_json_i64(&o, "p50", s->p50);
            put_json_i64(&o, "p90", s->p90);
            put_json_i64(&o, "p99", s->p99);
            put_json_i64(&o, "p999", s->p999);
            put_json_u64(&o, "overflow", e->u.hist.overflow);
            break;
        }
        case KIND_TEXT:
            put_json_key(&o, "value");
            put_json_string(&o, e->text);
            break;
        }
        put_char(&o, '}');
    }
    put(&o, r->len ? "\n  ]\n}\n" : "]\n}\n");
    return finish(&o);
}
