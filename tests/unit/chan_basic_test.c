/* Channels: creation, send/recv, try_ variants, order, sizes, metrics. */
#include <stdatomic.h>
#include <string.h>

#include <weft/chan.h>
#include <weft/metrics.h>

#include "chan_util.h"

static void test_create_rejects_bad_opts(void)
{
    weft_chan *c = (weft_chan *)&c; /* a sentinel: must stay untouched */
    weft_chan *sentinel = c;
    weft_chan_opts o = {.elem_size = 0, .capacity = 4};
    WT_ERR(weft_chan_create(&c, &o), -EINVAL);
    WT_ERR(weft_chan_create(&c, NULL), -EINVAL);
    o.elem_size = 8;
    o.capacity = WEFT_CHAN_MAX_CAPACITY + 1;
    WT_ERR(weft_chan_create(&c, &o), -EINVAL);
    o.elem_size = SIZE_MAX / 2 + 1;
    o.capacity = 1;
    WT_ERR(weft_chan_create(&c, &o), -EINVAL);
    o.elem_size = SIZE_MAX / 4; /* fine alone, but capacity * size overflows */
    o.capacity = 16;
    WT_ERR(weft_chan_create(&c, &o), -EINVAL);
    WT_EQ_PTR(c, sentinel);
    o.elem_size = 8;
    o.capacity = 4;
    WT_ERR(weft_chan_create(NULL, &o), -EINVAL);
    weft_chan_destroy(NULL); /* no-op */
}

static void test_accessors(void)
{
    weft_chan *c;
    weft_chan_opts o = {.elem_size = 12, .capacity = 7, .name = "orders"};
    WT_OK(weft_chan_create(&c, &o));
    WT_EQ(weft_chan_capacity(c), 7);
    WT_EQ(weft_chan_elem_size(c), 12);
    WT_STREQ(weft_chan_name(c), "orders");
    WT_EQ(weft_chan_len(c), 0);
    WT_ASSERT(!weft_chan_is_closed(c));
    weft_chan_destroy(c);

    o.name = NULL;
    o.capacity = WEFT_CHAN_UNBUFFERED;
    WT_OK(weft_chan_create(&c, &o));
    WT_STREQ(weft_chan_name(c), "chan");
    WT_EQ(weft_chan_capacity(c), 0);
    weft_chan_destroy(c);
}

static void test_null_arguments(void)
{
    weft_chan *c = chan_new(8, 4);
    uint64_t v = 1;
    size_t n = 99;
    WT_ERR(weft_chan_send(NULL, &v, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_send(c, NULL, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_recv(NULL, &v, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_recv(c, NULL, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_try_send(NULL, &v), -EINVAL);
    WT_ERR(weft_chan_try_send(c, NULL), -EINVAL);
    WT_ERR(weft_chan_try_recv(NULL, &v), -EINVAL);
    WT_ERR(weft_chan_try_recv(c, NULL), -EINVAL);
    WT_ERR(weft_chan_send_many(NULL, &v, 1, &n, WEFT_NOW), -EINVAL);
    WT_EQ(n, 0);
    WT_ERR(weft_chan_send_many(c, NULL, 1, &n, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_recv_many(NULL, &v, 1, &n, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_recv_many(c, NULL, 1, &n, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_recv_many(c, &v, 1, NULL, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_close(NULL), -EINVAL);
    WT_ERR(weft_chan_task_done(NULL), -EINVAL);
    WT_ERR(weft_chan_join(NULL, WEFT_NOW), -EINVAL);
    WT_ERR(weft_chan_report(NULL, NULL, NULL), -EINVAL);
    WT_ERR(weft_chan_report(c, NULL, NULL), -EINVAL);
    weft_chan_destroy(c);
}

static void test_fifo_and_try_variants(void)
{
    weft_chan *c = chan_new(sizeof(uint64_t), 4);
    uint64_t v;
    WT_ERR(weft_chan_try_recv(c, &v), -EAGAIN);
    for (uint64_t i = 0; i < 4; i++)
        WT_OK(weft_chan_try_send(c, &i));
    WT_EQ(weft_chan_len(c), 4);
    v = 99;
    WT_ERR(weft_chan_try_send(c, &v), -EAGAIN);
    WT_ERR(weft_chan_send(c, &v, WEFT_NOW), -ETIMEDOUT); /* a passed deadline */
    WT_ERR(weft_chan_send(c, &v, weft_now() - 1), -ETIMEDOUT);
    for (uint64_t i = 0; i < 4; i++) {
        WT_OK(weft_chan_try_recv(c, &v));
        WT_EQ(v, i);
    }
    v = 1234;
    WT_ERR(weft_chan_try_recv(c, &v), -EAGAIN);
    WT_EQ(v, 1234); /* untouched on error */
    WT_ERR(weft_chan_recv(c, &v, WEFT_NOW), -ETIMEDOUT);
    weft_chan_destroy(c);
}

/* Many laps around rings of every interesting size, power of two or not. */
static void test_wraps_around_many_laps(void)
{
    size_t caps[] = {1, 2, 3, 7, 64, 100};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        weft_chan *c = chan_new(sizeof(uint32_t), caps[k]);
        uint32_t next_in = 0, next_out = 0;
        for (int round = 0; round < 1000; round++) {
            size_t fill = (size_t)round % (caps[k] + 1);
            for (size_t i = 0; i < fill; i++) {
                WT_OK(weft_chan_send(c, &next_in, WEFT_NOW));
                next_in++;
            }
            WT_EQ(weft_chan_len(c), fill);
            for (size_t i = 0; i < fill; i++) {
                uint32_t v;
                WT_OK(weft_chan_recv(c, &v, WEFT_NOW));
                WT_EQ(v, next_out);
                next_out++;
            }
        }
        weft_chan_destroy(c);
    }
}

/* Element sizes the copy routine special-cases and ones it does not. */
static void test_element_sizes(void)
{
    size_t sizes[] = {1, 2, 3, 4, 8, 13, 16, 24, 100, 4096};
    unsigned char in[4096], out[4096 + 1];
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t sz = sizes[k];
        weft_chan *c = chan_new(sz, 3);
        for (int round = 0; round < 10; round++) {
            for (size_t i = 0; i < sz; i++)
                in[i] = (unsigned char)(i * 7 + (size_t)round + sz);
            memset(out, 0xAA, sizeof out);
            WT_OK(weft_chan_send(c, in, WEFT_NOW));
            WT_OK(weft_chan_recv(c, out, WEFT_NOW));
            WT_EQ(memcmp(in, out, sz), 0);
            WT_EQ(out[sz], 0xAA); /* nothing written past the element */
        }
        weft_chan_destroy(c);
    }
}

static void test_stats_and_peak(void)
{
    weft_chan *c = chan_new(sizeof(int), 10);
    weft_chan_stats s;
    weft_chan_stats_get(c, &s);
    WT_EQ(s.sends, 0);
    WT_EQ(s.recvs, 0);
    WT_EQ(s.depth, 0);
    WT_EQ(s.peak_depth, 0);
    WT_EQ(s.capacity, 10);
    WT_ASSERT(!s.closed);
    int v = 0;
    for (int i = 0; i < 5; i++)
        WT_OK(weft_chan_send(c, &v, WEFT_NOW));
    for (int i = 0; i < 5; i++)
        WT_OK(weft_chan_recv(c, &v, WEFT_NOW));
    for (int i = 0; i < 3; i++)
        WT_OK(weft_chan_send(c, &v, WEFT_NOW));
    weft_chan_stats_get(c, &s);
    WT_EQ(s.sends, 8);
    WT_EQ(s.recvs, 5);
    WT_EQ(s.depth, 3);
    WT_EQ(s.peak_depth, 5);
    WT_EQ(s.unfinished, 8);
    WT_EQ(s.blocked_full_ns, 0);
    WT_EQ(s.blocked_empty_ns, 0);
    for (int i = 0; i < 7; i++)
        WT_OK(weft_chan_send(c, &v, WEFT_NOW));
    weft_chan_stats_get(c, &s);
    WT_EQ(s.peak_depth, 10);
    WT_OK(weft_chan_close(c));
    weft_chan_stats_get(c, &s);
    WT_ASSERT(s.closed);
    weft_chan_destroy(c);
}

static void test_report_rows(void)
{
    weft_chan *c;
    weft_chan_opts o = {.elem_size = 4, .capacity = 8, .name = "jobs"};
    WT_OK(weft_chan_create(&c, &o));
    int v = 1;
    WT_OK(weft_chan_send(c, &v, WEFT_NOW));
    WT_OK(weft_chan_send(c, &v, WEFT_NOW));
    WT_OK(weft_chan_recv(c, &v, WEFT_NOW));
    weft_report *r;
    WT_OK(weft_report_create(&r, "chan"));
    WT_OK(weft_chan_report(c, r, NULL));
    WT_OK(weft_chan_report(c, r, "q"));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    WT_ASSERT(f != NULL);
    WT_OK(weft_report_write_json(r, f));
    fclose(f);
    WT_ASSERT(strstr(buf, "{\"name\": \"jobs.sends\", \"type\": \"counter\", \"value\": 2}") !=
              NULL);
    WT_ASSERT(strstr(buf, "{\"name\": \"jobs.recvs\", \"type\": \"counter\", \"value\": 1}") !=
              NULL);
    WT_ASSERT(strstr(buf, "\"q.depth\"") != NULL);
    WT_ASSERT(strstr(buf, "\"q.peak_depth\"") != NULL);
    WT_ASSERT(strstr(buf, "\"q.blocked_full\"") != NULL);
    WT_ASSERT(strstr(buf, "\"q.blocked_empty\"") != NULL);
    WT_ASSERT(strstr(buf, "\"q.unfinished\"") != NULL);
    free(buf);
    weft_report_destroy(r);
    weft_chan_destroy(c);
}

/* A blocking send and receive meet across threads, in both orders: the
 * receiver blocks first on an empty channel, the sender on a full one. */
static weft_chan *pp_chan;

static void *pp_echo(void *arg)
{
    (void)arg;
    uint64_t v;
    for (;;) {
        int rc = weft_chan_recv(pp_chan, &v, WEFT_NEVER);
        if (rc == -EPIPE)
            return NULL;
        WT_OK(rc);
    }
}

static void test_blocking_threads(void)
{
    pp_chan = chan_new(sizeof(uint64_t), 2);
    pthread_t t = thread_start(pp_echo, NULL);
    for (uint64_t i = 0; i < 20000; i++)
        WT_OK(weft_chan_send(pp_chan, &i, WEFT_NEVER));
    WT_OK(weft_chan_close(pp_chan));
    thread_join(t);
    weft_chan_stats s;
    weft_chan_stats_get(pp_chan, &s);
    WT_EQ(s.sends, 20000);
    WT_EQ(s.recvs, 20000);
    WT_LE(s.peak_depth, 2);
    weft_chan_destroy(pp_chan);
}

/* MPMC sanity in the unit suite (the full test is tests/stress/). */
enum { MP_THREADS = 4, MP_PER = 20000 };
static weft_chan *mp_chan;
static _Atomic uint64_t mp_sum, mp_count;

static void *mp_producer(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < WT_SCALE(MP_PER); i++) {
        uint64_t v = id << 32 | i;
        WT_OK(weft_chan_send(mp_chan, &v, WEFT_NEVER));
    }
    return NULL;
}

static void *mp_consumer(void *arg)
{
    (void)arg;
    uint64_t v, sum = 0, n = 0;
    int rc;
    while ((rc = weft_chan_recv(mp_chan, &v, WEFT_NEVER)) == 0) {
        sum += v & 0xffffffffu;
        n++;
    }
    WT_ERR(rc, -EPIPE);
    atomic_fetch_add(&mp_sum, sum);
    atomic_fetch_add(&mp_count, n);
    return NULL;
}

static void test_mpmc_sum(void)
{
    mp_chan = chan_new(sizeof(uint64_t), 16);
    pthread_t p[MP_THREADS], q[MP_THREADS];
    for (int i = 0; i < MP_THREADS; i++)
        q[i] = thread_start(mp_consumer, NULL);
    for (int i = 0; i < MP_THREADS; i++)
        p[i] = thread_start(mp_producer, (void *)(uintptr_t)i);
    for (int i = 0; i < MP_THREADS; i++)
        thread_join(p[i]);
    WT_OK(weft_chan_close(mp_chan));
    for (int i = 0; i < MP_THREADS; i++)
        thread_join(q[i]);
    uint64_t per = WT_SCALE(MP_PER);
    WT_EQ_U(atomic_load(&mp_count), MP_THREADS * per);
    WT_EQ_U(atomic_load(&mp_sum), MP_THREADS * (per * (per - 1) / 2));
    weft_chan_destroy(mp_chan);
}

int main(void)
{
    WT_RUN(test_create_rejects_bad_opts);
    WT_RUN(test_accessors);
    WT_RUN(test_null_arguments);
    WT_RUN(test_fifo_and_try_variants);
    WT_RUN(test_wraps_around_many_laps);
    WT_RUN(test_element_sizes);
    WT_RUN(test_stats_and_peak);
    WT_RUN(test_report_rows);
    WT_RUN(test_blocking_threads);
    WT_RUN(test_mpmc_sum);
    return 0;
}
