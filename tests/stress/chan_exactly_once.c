/* Channel exactly-once under close: 8 producers, 8 consumers, capacities
 * 1, 2, 7, 64 and 1024 (and unbuffered), 10^6 tagged messages each (scaled
 * down under sanitizers), and a closer thread that closes the channel once a
 * random number of messages has been received.
 *
 * Checked: every send that was accepted is received exactly once; every
 * rejected send reports -EPIPE, and a producer's sends after its first
 * rejection are rejected too; no message that was rejected is received; a
 * consumer sees -EPIPE only once the channel is empty, and only -EPIPE
 * after that; the channel's counters agree.
 *
 * The threads mix every way in and out: producers send one at a time or in
 * batches of varying size; consumers use recv, recv_many, select (with a
 * second, never-ready channel) or recv with short deadlines that keep
 * expiring. The seed is printed so a failure can be replayed
 * (WEFT_STRESS_SEED=<seed>). */
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <weft/chan.h>
#include <weft/time.h>

#include "weft_test.h"

enum { PRODUCERS = 8, CONSUMERS = 8, BATCH_MAX = 16 };

static weft_chan *g_chan, *g_never;
static uint64_t g_per_producer;
static _Atomic uint8_t *g_counts; /* [PRODUCERS][g_per_producer] */
static uint64_t g_accepted[PRODUCERS];
static _Atomic uint64_t g_received;
static uint64_t g_threshold;
static sem_t g_close_now;
static _Atomic int g_threshold_hit;

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *producer(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    uint64_t rng = 0x9E3779B97F4A7C15u * (id + 1), seq = 0, buf[BATCH_MAX];
    int rc = 0;
    while (seq < g_per_producer) {
        if (id % 2 == 0) {
            uint64_t tag = id << 32 | seq;
            rc = weft_chan_send(g_chan, &tag, WEFT_NEVER);
            if (rc != 0)
                break;
            seq++;
        } else {
            size_t k = 1 + (size_t)(xorshift(&rng) % BATCH_MAX), sent = 0;
            if (k > g_per_producer - seq)
                k = (size_t)(g_per_producer - seq);
            for (size_t j = 0; j < k; j++)
                buf[j] = id << 32 | (seq + j);
            rc = weft_chan_send_many(g_chan, buf, k, &sent, WEFT_NEVER);
            WT_ASSERT(sent <= k);
            WT_ASSERT(rc != 0 || sent == k);
            seq += sent;
            if (rc != 0)
                break;
        }
    }
    g_accepted[id] = seq;
    if (seq < g_per_producer) {
        /* Rejected: reported as -EPIPE, and so is every later send. */
        WT_ERR(rc, -EPIPE);
        uint64_t tag = id << 32 | seq;
        WT_ERR(weft_chan_send(g_chan, &tag, WEFT_NEVER), -EPIPE);
        WT_ERR(weft_chan_try_send(g_chan, &tag), -EPIPE);
    }
    return NULL;
}

static void got(uint64_t tag)
{
    uint64_t p = tag >> 32, seq = tag & 0xffffffffu;
    WT_ASSERT(p < PRODUCERS);
    WT_ASSERT(seq < g_per_producer);
    uint8_t before =
        atomic_fetch_add_explicit(&g_counts[p * g_per_producer + seq], 1, memory_order_relaxed);
    if (before != 0)
        WT_FAIL_("message %" PRIu64 ":%" PRIu64 " received twice", p, seq);
}

static void received(uint64_t n)
{
    uint64_t before = atomic_fetch_add(&g_received, n);
    if (before < g_threshold && before + n >= g_threshold && !atomic_exchange(&g_threshold_hit, 1))
        sem_post(&g_close_now);
}

/* One receive, the consumer's way. Returns 0 with *n tags in buf, or -EPIPE. */
static int take(int how, uint64_t *buf, size_t *n)
{
    *n = 1;
    switch (how) {
    case 0:
        return weft_chan_recv(g_chan, buf, WEFT_NEVER);
    case 1:
        return weft_chan_recv_many(g_chan, buf, BATCH_MAX, n, WEFT_NEVER);
    case 2: {
        uint64_t other;
        weft_select_case k[2] = {
            {.chan = g_never, .op = WEFT_SELECT_RECV, .elem = &other},
            {.chan = g_chan, .op = WEFT_SELECT_RECV, .elem = buf},
        };
        int rc = weft_chan_select(k, 2, WEFT_NEVER);
        WT_EQ(rc, 1);
        return k[1].result;
    }
    default:
        for (;;) {
            int rc = weft_chan_recv(g_chan, buf, weft_deadline_in(20 * WEFT_USEC));
            if (rc != -ETIMEDOUT)
                return rc;
        }
    }
}

static void *consumer(void *arg)
{
    int how = (int)(uintptr_t)arg % 4;
    uint64_t buf[BATCH_MAX];
    size_t n;
    int rc;
    while ((rc = take(how, buf, &n)) == 0) {
        WT_ASSERT(n >= 1 && n <= BATCH_MAX);
        for (size_t j = 0; j < n; j++)
            got(buf[j]);
        received(n);
    }
    WT_ERR(rc, -EPIPE);
    /* -EPIPE only once drained: nothing is left, and nothing comes later. */
    WT_EQ(weft_chan_len(g_chan), 0);
    WT_ERR(weft_chan_recv(g_chan, buf, WEFT_NOW), -EPIPE);
    WT_ERR(weft_chan_try_recv(g_chan, buf), -EPIPE);
    return NULL;
}

static void *closer(void *arg)
{
    (void)arg;
    while (sem_wait(&g_close_now) != 0) {
    }
    WT_OK(weft_chan_close(g_chan));
    return NULL;
}

static void run(size_t capacity, uint64_t total, uint64_t *seed)
{
    g_per_producer = total / PRODUCERS;
    g_counts = calloc(PRODUCERS * g_per_producer, sizeof *g_counts);
    WT_ASSERT(g_counts != NULL);
    atomic_store(&g_received, 0);
    atomic_store(&g_threshold_hit, 0);
    /* Close somewhere in [0, total): early, late, or in the middle. */
    g_threshold = xorshift(seed) % total;
    WT_EQ(sem_init(&g_close_now, 0, 0), 0);
    if (g_threshold == 0) {
        atomic_store(&g_threshold_hit, 1);
        sem_post(&g_close_now);
    }
    weft_chan_opts o = {.elem_size = sizeof(uint64_t), .capacity = capacity, .name = "stress"};
    WT_OK(weft_chan_create(&g_chan, &o));

    int64_t t0 = weft_now();
    pthread_t p[PRODUCERS], q[CONSUMERS], cl;
    WT_EQ(pthread_create(&cl, NULL, closer, NULL), 0);
    for (int i = 0; i < CONSUMERS; i++)
        WT_EQ(pthread_create(&q[i], NULL, consumer, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < PRODUCERS; i++)
        WT_EQ(pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < PRODUCERS; i++)
        WT_EQ(pthread_join(p[i], NULL), 0);
    /* If every producer finished before the threshold, receivers still
     * reach it (everything sent is received), so the closer always runs. */
    WT_EQ(pthread_join(cl, NULL), 0);
    for (int i = 0; i < CONSUMERS; i++)
        WT_EQ(pthread_join(q[i], NULL), 0);
    int64_t dt = weft_now() - t0;

    uint64_t accepted = 0;
    for (uint64_t id = 0; id < PRODUCERS; id++) {
        accepted += g_accepted[id];
        for (uint64_t s = 0; s < g_per_producer; s++) {
            uint8_t n =
                atomic_load_explicit(&g_counts[id * g_per_producer + s], memory_order_relaxed);
            if (n != (s < g_accepted[id] ? 1 : 0))
                WT_FAIL_("capacity %zu: message %" PRIu64 ":%" PRIu64 " received %u times "
                         "(accepted: %s)",
                         capacity, id, s, n, s < g_accepted[id] ? "yes" : "no");
        }
    }
    WT_EQ_U(atomic_load(&g_received), accepted);
    WT_GE(accepted, g_threshold);
    weft_chan_stats st;
    weft_chan_stats_get(g_chan, &st);
    WT_EQ_U(st.sends, accepted);
    WT_EQ_U(st.recvs, accepted);
    WT_EQ(st.depth, 0);
    WT_ASSERT(st.closed);
    WT_LE(st.peak_depth, capacity ? capacity : 1);
    fprintf(stderr,
            "capacity %7zu: %8" PRIu64 " accepted, %8" PRIu64 " rejected, close after %8" PRIu64
            " received, %.2f s\n",
            capacity, accepted, PRODUCERS * g_per_producer - accepted, g_threshold,
            (double)dt / WEFT_SEC);
    weft_chan_destroy(g_chan);
    sem_destroy(&g_close_now);
    free(g_counts);
}

int main(void)
{
    uint64_t seed = (uint64_t)time(NULL) * 2654435761u | 1;
    const char *env = getenv("WEFT_STRESS_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    fprintf(stderr, "WEFT_STRESS_SEED=%" PRIu64 "\n", seed);
    weft_chan_opts o = {.elem_size = sizeof(uint64_t), .capacity = 1, .name = "never"};
    WT_OK(weft_chan_create(&g_never, &o));

    uint64_t total = WT_SCALE(1000000);
    size_t caps[] = {1, 2, 7, 64, 1024};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        run(caps[i], total, &seed);
    /* Unbuffered: every message is a hand-off, so fewer of them. */
    run(WEFT_CHAN_UNBUFFERED, total / 10, &seed);
    weft_chan_destroy(g_never);
    return 0;
}
