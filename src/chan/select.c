/* weft_chan_select: wait on several channels at once (Go's select).
 *
 *   1. Shuffle the cases (a per-thread xorshift generator; Fisher-Yates for
 *      up to SHUFFLE_MAX cases, a random rotation beyond), so that among
 *      ready cases each is equally likely to be chosen.
 *   2. Attempt the cases in that order; the first that completes (done, or
 *      closed: result -EPIPE) is the answer. A case attempt never waits,
 *      except an unbuffered SEND that handed its element to a receiver it
 *      woke: that receiver is on its way (see "Unbuffered hand-off" in
 *      chan.c).
 *   3. None ready and the deadline allows: link one waiter into every case's
 *      queue (tag = case index; RECV: the channel's recvq; SEND: its sendq,
 *      or on an unbuffered channel its rdyq, which is woken when a receiver
 *      arrives or the slot frees), probe every case (look, take nothing),
 *      park unless one looks ready, unlink every link.
 *   4. Go to 2, attempting first the case whose queue woke us. As in chan.c,
 *      every wake lands before that attempt (the probe takes nothing), so a
 *      woken select that finds its case not ready lost it to another thread
 *      and has no wake to pass on; and a receiver woken by an unbuffered
 *      sender's hand-off always attempts that channel first, which is what
 *      lets the sender commit.
 * A RECV case that meets a closed channel whose last element is still being
 * copied in makes the select yield and retry instead of parking (nobody
 * would wake it).
 *
 * Synchronization: the select owns its waiter and links (on its stack, or
 * malloc'd beyond STACK_CASES cases) for the duration of the call; the
 * channels' queues guard them while linked (src/sync/waiter.h). */
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/chan.h>
#include <weft/error.h>
#include <weft/time.h>

#include "chan/chan_internal.h"
#include "sync/waiter.h"

enum {
    STACK_CASES = 16, /* links for up to this many cases live on the stack */
    SHUFFLE_MAX = 64, /* full shuffle up to this many cases */
};

static _Thread_local uint64_t rng_state;
static _Atomic uint64_t rng_seed = 0x9E3779B97F4A7C15u;

uint32_t weft__chan_rand(void)
{
    uint64_t x = rng_state;
    if (x == 0) {
        /* A distinct odd seed per thread; quality needs are modest. */
        x = atomic_fetch_add_explicit(&rng_seed, 0x9E3779B97F4A7C15u, memory_order_relaxed);
        x ^= (uint64_t)(uintptr_t)&rng_state;
        x |= 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Du) >> 32);
}

/* A uniform index below n (n <= 2^32; Lemire's multiply-shift). */
static size_t rand_below(size_t n)
{
    return (size_t)(((uint64_t)weft__chan_rand() * (uint64_t)n) >> 32);
}

/* One attempt at case k: 0 completed (result set), -EAGAIN not ready,
 * WEFT__CHAN_PENDING (see the file comment). */
static int attempt(weft_select_case *k)
{
    if (!k->chan)
        return -EAGAIN;
    int rc = k->op == WEFT_SELECT_SEND ? weft__chan_try_send_op(k->chan, k->elem)
                                       : weft__chan_try_recv_op(k->chan, k->elem);
    if (rc == 0 || rc == -EPIPE) {
        k->result = rc;
        return 0;
    }
    return rc;
}

/* Step 2 (and 4): attempt `first` (if >= 0), then every case in shuffled
 * order. Returns the completed case's index, or -1. */
static long try_cases(weft_select_case *cases, size_t n, const uint8_t *order, size_t start,
                      long first, bool *pending)
{
    if (first >= 0) {
        int rc = attempt(&cases[first]);
        if (rc == 0)
            return first;
        if (rc == WEFT__CHAN_PENDING)
            *pending = true;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = order ? order[i] : (start + i) % n;
        if ((long)k == first)
            continue;
        int rc = attempt(&cases[k]);
        if (rc == 0)
            return (long)k;
        if (rc == WEFT__CHAN_PENDING)
            *pending = true;
    }
    return -1;
}

static int validate(const weft_select_case *cases, size_t n)
{
    if (!cases || n == 0 || n > INT_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        const weft_select_case *k = &cases[i];
        if (!k->chan)
            continue;
        if ((k->op != WEFT_SELECT_SEND && k->op != WEFT_SELECT_RECV) || !k->elem)
            return -EINVAL;
    }
    /* A select that sends and receives on one unbuffered channel could hand
     * its element to itself (its own RECV link is a "waiting receiver"). */
    for (size_t i = 0; i < n; i++) {
        const weft_select_case *k = &cases[i];
        if (!k->chan || k->op != WEFT_SELECT_SEND || weft_chan_capacity(k->chan) != 0)
            continue;
        for (size_t j = 0; j < n; j++)
            if (cases[j].chan == k->chan && cases[j].op == WEFT_SELECT_RECV)
                return -EINVAL;
    }
    return 0;
}

int weft_chan_select(weft_select_case *cases, size_t n, int64_t deadline)
{
    int rc = validate(cases, n);
    if (rc != 0)
        return rc;

    /* Step 1. */
    uint8_t order_buf[SHUFFLE_MAX];
    const uint8_t *order = NULL;
    size_t start = 0;
    if (n <= SHUFFLE_MAX) {
        for (size_t i = 0; i < n; i++)
            order_buf[i] = (uint8_t)i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = rand_below(i + 1);
            uint8_t t = order_buf[i];
            order_buf[i] = order_buf[j];
            order_buf[j] = t;
        }
        order = order_buf;
    } else {
        start = rand_below(n);
    }

    weft__wait_link stack_links[STACK_CASES];
    weft__wait_link *links = NULL;
    long first = -1;
    for (;;) {
        /* Step 2. */
        bool pending = false;
        long idx = try_cases(cases, n, order, start, first, &pending);
        if (idx >= 0) {
            rc = (int)idx;
            break;
        }
        first = -1;
        if (weft_deadline_passed(deadline)) {
            rc = -ETIMEDOUT;
            break;
        }
        if (pending) {
            sched_yield();
            continue;
        }

        /* Step 3. */
        if (!links) {
            links = n <= STACK_CASES ? stack_links : malloc(n * sizeof *links);
            if (!links) {
                rc = -ENOMEM;
                break;
            }
        }
        weft__waiter w;
        weft__waiter_init(&w);
        for (size_t i = 0; i < n; i++)
            if (cases[i].chan)
                weft__chan_link(cases[i].chan, cases[i].op, &links[i], &w, (uint32_t)i);
        bool ready = false;
        for (size_t i = 0; i < n && !ready; i++)
            ready = cases[i].chan && weft__chan_case_ready(cases[i].chan, cases[i].op);
        int park_rc = ready ? 0 : weft__waiter_park(&w, deadline);
        for (size_t i = 0; i < n; i++)
            if (cases[i].chan)
                weft__waitq_remove(weft__chan_case_queue(cases[i].chan, cases[i].op), &links[i]);
        /* A cancelled task (src/sync/waiter.h): nobody woke us, so there
         * is no wake to pass on, and nothing was taken. */
        if (park_rc == -ECANCELED) {
            rc = park_rc;
            break;
        }
        /* Step 4. */
        first = weft__waiter_woken_tag(&w);
    }
    if (links && links != stack_links)
        free(links);
    return rc;
}
