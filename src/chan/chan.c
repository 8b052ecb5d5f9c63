/* Channels: the ring's blocking operations, close, task_done/join, metrics.
 * The ring itself (slot states, claiming, CLOSED bit) and the
 * Synchronization block are in src/chan/chan_internal.h; select is in
 * src/chan/select.c.
 *
 * Waiting (a send with no room, a receive with no element):
 *   1. Try the operation (claim a position); done if it worked.
 *   2. Spin: poll the one slot that decides (the slot at tail for a sender,
 *      at head for a receiver) with a growing pause between polls, for an
 *      adaptive budget of polls, then yield the CPU twice (see SPIN_*).
 *   3. Park (src/sync/waiter.h): link into the channel's queue, probe the
 *      slot again, park unless the probe says go, unlink.
 *   4. Go to 1. The attempt after the unlink is the woken waiter's one
 *      attempt; the probe in 3 only looks (it takes nothing), so every wake
 *      lands before that attempt. A woken waiter that finds nothing either
 *      lost the element (or slot) to another thread, which then wakes the
 *      next waiter if the ring still holds one for it, or was woken for a
 *      position ahead of head, whose turn will wake again ("Wake-ups after
 *      the ring moved" in chan_internal.h). Either way it has no wake to
 *      pass on, and none is lost.
 * The probe in 3 asks "has the other side claimed a position?" (tail
 * beyond head for a receiver, head beyond tail - cap for a sender), not
 * whether the slot is ready: the waker's claim is its seq_cst change.
 * The waker side: claim (seq_cst), publish (slot seq), then read the
 * queue's count (seq_cst) and wake only when a waiter is linked: no lock,
 * no fence and no system call otherwise (chan_internal.h, Wake-ups).
 *
 * Close (weft_chan_close):
 *   1. fetch_or the CLOSED bit into tail: every later claiming
 *      compare-and-swap of a sender fails, so no element goes in after it,
 *      and the positions below the final tail are exactly the accepted ones.
 *   2. Set closed_hint, so receivers that find no element look at tail.
 *   3. Wake every waiter of every queue. Senders see CLOSED and return
 *      -EPIPE; receivers drain, and return -EPIPE once head reaches the
 *      final tail. A receiver that finds a position claimed but not yet
 *      published yields until it is (its sender is copying): a receiver
 *      never parks on a closed channel, since no wake would come. An
 *      unbuffered sender waiting for its receiver takes its element back
 *      (step 4 of the hand-off) and returns -EPIPE. A waiter that links
 *      after step 3 takes the queue lock after close released it, so its
 *      probe sees steps 1 and 2.
 *
 * Unbuffered hand-off (capacity 0: a ring of one slot):
 *   1. A blocking sender claims the slot (waiting for it like a buffered
 *      send), copies its element in and publishes it at position p.
 *   2. If a receiver is linked on recvq, it wakes one. A receiver woken
 *      this way always makes an attempt on this channel next (select tries
 *      the woken case first), so the element will be taken: the sender is
 *      then "committed" and waits without a deadline.
 *   3. It waits (ackq) until head > p: a receiver claimed position p.
 *   4. On its deadline (uncommitted) or on close, it takes the element back
 *      with compare-and-swap(head, p, p + 1): success means no receiver
 *      claimed it (-ETIMEDOUT / -EPIPE, the element was never received);
 *      failure means a receiver did (the send succeeded). A take-back frees
 *      the slot like a receive and counts as received and done.
 *   A try_send, a send whose deadline has passed and a select SEND case
 *   hand off only when a receiver is linked on recvq (Go's "a receiver is
 *   waiting"): 1, then 2; if no receiver accepted the wake, 4 at once.
 *   Select SEND cases wait on rdyq, which is woken (all) when a receiver
 *   links on recvq and when the slot is freed.
 *
 * task_done / join: `done` counts task_done calls (and take-backs). A send
 * counts as unfinished from the moment it claims its position, so
 * unfinished = tail - done costs the send path nothing. task_done checks
 * done < head (no more calls than receives), increments done, and wakes the
 * joiners when done reaches tail. join waits until done == tail, reading
 * done first: done <= head <= tail and all three only grow, so seeing
 * done == tail (read later) means that at the time tail was read, every
 * accepted element had been marked. */
#include <limits.h>
#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/chan.h>
#include <weft/error.h>
#include <weft/metrics.h>
#include <weft/time.h>

#include "chan/chan_internal.h"
#include "sync/futex.h"
#include "sync/waiter.h"

/* Waiting, step 2: the spin. A spinner polls the deciding slot, pausing
 * 1, 2, 4 and then SPIN_BACKOFF pause instructions between polls (a pause is
 * ~30 ns on the project's machines, so a poll costs ~0.2 us). The budget
 * (per channel and side) starts at SPIN_INIT polls, ~14 us, about the cost
 * of a futex wake-up round trip (9.6 us, /work/shared/PEERS.md), the
 * classic bound for spinning; it grows by 1/8 when a spin succeeds and
 * shrinks by 1/8 when it ends in parking, between SPIN_MAX (~55 us) and
 * SPIN_MIN (~7 us). The floor stays above one futex wake-up (~5 us): two
 * threads handing work back and forth (unbuffered ping-pong) must not fall
 * into a regime where each gives up just before the other, itself being
 * woken, answers, and then every hand-off pays a wake-up. After the spin,
 * the spinner yields the CPU SPIN_YIELDS times before it parks: when the
 * machine has more runnable threads than cores (4 producers and 4 consumers
 * on 2 cores), the thread that would free the slot is often waiting for
 * this very CPU, and a yield hands it over for ~1 us where parking and being
 * woken costs ~10 us. For the same reason the spin itself yields once every
 * 16 polls (~3 us): with both threads on one core (taskset -c 0), 1P1C went
 * from 25 to 40 M/s and unbuffered ping-pong from 68 k/s to 105 k/s, at no
 * measurable cost on two cores (weft bench chan_1p1c chan_pingpong). */
enum {
    SPIN_MIN = 32,
    SPIN_INIT = 64,
    SPIN_MAX = 256,
    SPIN_BACKOFF = 8,
    SPIN_YIELDS = 2,
};

typedef bool probe_fn(weft_chan *c, uint64_t arg);

/* ---- probes: look, take nothing ---------------------------------------- */

/* A sender may be able to claim: the slot at tail is free, or closed. */
static bool probe_room(weft_chan *c, uint64_t arg)
{
    (void)arg;
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_relaxed);
    if (tail & WEFT__CHAN_CLOSED)
        return true;
    uint64_t seq =
        atomic_load_explicit(weft__chan_seq(weft__chan_slot(c, tail)), memory_order_relaxed);
    return (int64_t)(seq - 2 * tail) >= 0;
}

/* A receiver may be able to claim: the slot at head is published, or the
 * channel is closed (then the attempt decides between draining and -EPIPE). */
static bool probe_item(weft_chan *c, uint64_t arg)
{
    (void)arg;
    uint64_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
    uint64_t seq =
        atomic_load_explicit(weft__chan_seq(weft__chan_slot(c, head)), memory_order_relaxed);
    return (int64_t)(seq - (2 * head + 1)) >= 0 ||
           atomic_load_explicit(&c->closed_hint, memory_order_relaxed);
}

/* After linking (step 3): a sender must not park, because a receiver has
 * claimed a slot of the previous lap (head + cap > tail), or the channel is
 * closed. A claimed slot is freed a few instructions later, so the attempt
 * that follows may still find it busy; it then spins again. */
static bool claimed_room(weft_chan *c, uint64_t arg)
{
    (void)arg;
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_seq_cst);
    if (tail & WEFT__CHAN_CLOSED)
        return true;
    return atomic_load_explicit(&c->head, memory_order_seq_cst) + c->cap > tail;
}

/* After linking (step 3): a receiver must not park, because a sender has
 * claimed position head (tail > head), or the channel is closed. */
static bool claimed_item(weft_chan *c, uint64_t arg)
{
    (void)arg;
    uint64_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_seq_cst);
    return (tail & ~WEFT__CHAN_CLOSED) > head ||
           atomic_load_explicit(&c->closed_hint, memory_order_relaxed);
}

/* An unbuffered sender's element at position arg was claimed by a receiver,
 * or the channel was closed. */
static bool probe_taken(weft_chan *c, uint64_t arg)
{
    return atomic_load_explicit(&c->head, memory_order_relaxed) > arg ||
           atomic_load_explicit(&c->closed_hint, memory_order_relaxed);
}

static bool joined(weft_chan *c)
{
    /* Acquire pairs with the seq_cst (release) compare-and-swap in
     * weft_chan_task_done: the consumers' work before task_done is visible
     * to the joiner. done is read before tail (see the file comment). */
    uint64_t done = atomic_load_explicit(&c->done, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_relaxed) & ~WEFT__CHAN_CLOSED;
    return done == tail;
}

static bool probe_joined(weft_chan *c, uint64_t arg)
{
    (void)arg;
    return joined(c);
}

/* ---- waking ------------------------------------------------------------- */

static void wake_n(weft__waitq *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!weft__waitq_wake_one(q))
            break;
}

static bool slot_free(weft_chan *c, uint64_t pos)
{
    uint64_t seq =
        atomic_load_explicit(weft__chan_seq(weft__chan_slot(c, pos)), memory_order_relaxed);
    return seq == 2 * pos;
}

static bool slot_published(weft_chan *c, uint64_t pos)
{
    uint64_t seq =
        atomic_load_explicit(weft__chan_seq(weft__chan_slot(c, pos)), memory_order_relaxed);
    return seq == 2 * pos + 1;
}

/* The caller's seq_cst claim precedes every count read here
 * (weft__chan_linked). */
void weft__chan_after_send_slow(weft_chan *c, uint64_t end, size_t n)
{
    if (weft__chan_linked(&c->recvq))
        wake_n(&c->recvq, n);
    if (weft__chan_linked(&c->sendq) && slot_free(c, end))
        weft__waitq_wake_one(&c->sendq);
}

void weft__chan_after_recv_slow(weft_chan *c, uint64_t end, size_t n)
{
    if (weft__chan_linked(&c->sendq))
        wake_n(&c->sendq, n);
    if (c->unbuffered) {
        if (weft__chan_linked(&c->ackq))
            weft__waitq_wake_all(&c->ackq);
        if (weft__chan_linked(&c->rdyq))
            weft__waitq_wake_all(&c->rdyq);
    }
    if (weft__chan_linked(&c->recvq) && slot_published(c, end))
        weft__waitq_wake_one(&c->recvq);
}

/* Link a waiter on recvq. On an unbuffered channel a linked receiver is what
 * select SEND cases wait for, so tell them (hand-off, last paragraph). */
static void link_recv(weft_chan *c, weft__wait_link *l, weft__waiter *w, uint32_t tag)
{
    weft__waitq_add(&c->recvq, l, w, tag);
    if (c->unbuffered && weft__waitq_has_waiters(&c->rdyq))
        weft__waitq_wake_all(&c->rdyq);
}

weft__waitq *weft__chan_case_queue(weft_chan *c, int op)
{
    if (op == WEFT_SELECT_RECV)
        return &c->recvq;
    return c->unbuffered ? &c->rdyq : &c->sendq;
}

void weft__chan_link(weft_chan *c, int op, weft__wait_link *l, weft__waiter *w, uint32_t tag)
{
    if (op == WEFT_SELECT_RECV)
        link_recv(c, l, w, tag);
    else
        weft__waitq_add(weft__chan_case_queue(c, op), l, w, tag);
}

bool weft__chan_case_ready(weft_chan *c, int op)
{
    if (op == WEFT_SELECT_RECV)
        return claimed_item(c, 0);
    if (!c->unbuffered)
        return claimed_room(c, 0);
    /* An unbuffered SEND case needs a linked receiver and a free slot. The
     * select linked on rdyq first (with a seq_cst fence), pairing with the
     * receiver's has_waiters(rdyq) after it linked on recvq. */
    if (atomic_load_explicit(&c->tail, memory_order_relaxed) & WEFT__CHAN_CLOSED)
        return true;
    return weft__chan_linked(&c->recvq) && claimed_room(c, 0);
}

/* ---- waiting ------------------------------------------------------------ */

/* Steps 2 and 3 of "Waiting" (file comment): spin until probe() holds,
 * then link on q and park unless linked() holds (the claim check, see the
 * file comment; NULL means probe), until the deadline. Returns 0 (make an
 * attempt now), -ETIMEDOUT, or -ECANCELED (a cancelled loop task). budget
 * may be NULL (no spin), and a loop task never spins: the party it waits
 * for may be a coroutine of its own loop, which cannot run meanwhile.
 * blocked may be NULL. */
enum { BLOCKED_SAMPLE = 16, ACK_YIELDS = 2 };
static _Thread_local uint32_t blocked_sample;

static int wait_for(weft_chan *c, weft__waitq *q, probe_fn *probe, probe_fn *linked, uint64_t arg,
                    _Atomic uint32_t *budget, _Atomic int64_t *blocked, int64_t deadline)
{
    if (budget && !weft__in_task()) {
        uint32_t limit = atomic_load_explicit(budget, memory_order_relaxed);
        uint32_t pauses = 1;
        for (uint32_t i = 0; i < limit; i++) {
            for (uint32_t j = 0; j < pauses; j++)
                weft__cpu_relax();
            if (probe(c, arg)) {
                if (limit < SPIN_MAX) {
                    uint32_t grown = limit + limit / 8;
                    atomic_store_explicit(budget, grown < SPIN_MAX ? grown : SPIN_MAX,
                                          memory_order_relaxed);
                }
                return 0;
            }
            if (pauses < SPIN_BACKOFF)
                pauses *= 2;
            if (i % 16 == 15) {
                /* A short deadline must not wait for the whole spin. */
                if (weft_deadline_passed(deadline))
                    return -ETIMEDOUT;
                /* The thread we wait for may be waiting for this CPU (more
                 * runnable threads than cores): let it run now and then. */
                sched_yield();
            }
        }
        if (limit > SPIN_MIN)
            atomic_store_explicit(budget, limit - limit / 8, memory_order_relaxed);
        for (int i = 0; i < SPIN_YIELDS; i++) {
            sched_yield();
            if (probe(c, arg))
                return 0;
        }
    }
    if (weft_deadline_passed(deadline))
        return -ETIMEDOUT;

    weft__waiter w;
    weft__wait_link l;
    weft__waiter_init(&w);
    if (q == &c->recvq)
        link_recv(c, &l, &w, 0);
    else
        weft__waitq_add(q, &l, &w, 0);
    int rc = 0;
    /* The probe after linking: either a waker saw our link, or we see its
     * change here (waitq_add's fence pairs with the waker's seq_cst claim
     * and count read, or with its has_waiters). */
    if (!(linked ? linked : probe)(c, arg)) {
        /* Blocked time: every park of a thread (a futex sleep dwarfs two
         * clock reads), one in BLOCKED_SAMPLE parks of a loop task, scaled
         * (a task's park is a few hundred ns: the clock would double it). */
        int64_t weight = 0, t0 = 0;
        if (blocked) {
            weight = !weft__in_task()                         ? 1
                     : ++blocked_sample % BLOCKED_SAMPLE == 0 ? BLOCKED_SAMPLE
                                                              : 0;
            if (weight)
                t0 = weft_now();
        }
        int park_rc = weft__waiter_park(&w, deadline);
        if (park_rc < 0)
            rc = park_rc; /* -ETIMEDOUT, or -ECANCELED for a cancelled task */
        if (weight)
            atomic_fetch_add_explicit(blocked, (weft_now() - t0) * weight, memory_order_relaxed);
    }
    weft__waitq_remove(q, &l);
    return rc;
}

/* ---- metrics on the send path ------------------------------------------- */

/* A send just claimed positions up to end (exclusive). The depth it saw is
 * end - head. Reading head costs a cache miss (and takes the receivers' line
 * away from them), so it is read only when the stale head_seen says the depth
 * might be a new peak, and never once the peak is the capacity: a full ring,
 * where every send sits at the peak, would otherwise read head every time. */
static inline void note_depth(weft_chan *c, uint64_t end)
{
    uint64_t seen = atomic_load_explicit(&c->head_seen, memory_order_relaxed);
    uint64_t peak = atomic_load_explicit(&c->peak, memory_order_relaxed);
    if ((int64_t)(end - seen) <= (int64_t)peak || peak >= c->cap)
        return;
    uint64_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
    atomic_store_explicit(&c->head_seen, head, memory_order_relaxed);
    if (end <= head)
        return;
    uint64_t depth = end - head;
    while (depth > peak &&
           !atomic_compare_exchange_weak_explicit(&c->peak, &peak, depth, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

/* ---- create / destroy --------------------------------------------------- */

int weft_chan_create(weft_chan **out, const weft_chan_opts *opts)
{
    if (!out || !opts || opts->elem_size == 0 || opts->capacity > WEFT_CHAN_MAX_CAPACITY)
        return -EINVAL;
    if (opts->elem_size > SIZE_MAX / 2)
        return -EINVAL;
    size_t stride = 8 + ((opts->elem_size + 7) & ~(size_t)7);
    uint64_t cap = opts->capacity ? opts->capacity : 1;
    if (cap > (SIZE_MAX - WEFT__CACHE_LINE) / stride)
        return -EINVAL;
    size_t bytes = ((size_t)cap * stride + WEFT__CACHE_LINE - 1) & ~(size_t)(WEFT__CACHE_LINE - 1);
    const char *name = opts->name ? opts->name : "chan";

    size_t size = (sizeof(weft_chan) + WEFT__CACHE_LINE - 1) & ~(size_t)(WEFT__CACHE_LINE - 1);
    weft_chan *c = aligned_alloc(WEFT__CACHE_LINE, size);
    if (!c)
        return -ENOMEM;
    memset(c, 0, size);
    c->slots = aligned_alloc(WEFT__CACHE_LINE, bytes);
    c->name = malloc(strlen(name) + 1);
    if (!c->slots || !c->name) {
        free(c->slots);
        free(c->name);
        free(c);
        return -ENOMEM;
    }
    strcpy(c->name, name);
    c->elem_size = opts->elem_size;
    c->stride = stride;
    c->cap = cap;
    c->pow2 = (cap & (cap - 1)) == 0;
    c->mask = cap - 1;
    c->unbuffered = opts->capacity == 0;
    for (uint64_t i = 0; i < cap; i++) {
        unsigned char *slot = c->slots + (size_t)i * stride;
        atomic_init(weft__chan_seq(slot), 2 * i);
        memset(slot + 8, 0, stride - 8);
    }
    atomic_init(&c->closed_hint, 0);
    atomic_init(&c->tail, 0);
    atomic_init(&c->head_seen, 0);
    atomic_init(&c->peak, 0);
    atomic_init(&c->head, 0);
    atomic_init(&c->done, 0);
    atomic_init(&c->retracted, 0);
    weft__waitq_init(&c->recvq);
    weft__waitq_init(&c->sendq);
    weft__waitq_init(&c->ackq);
    weft__waitq_init(&c->rdyq);
    weft__waitq_init(&c->joinq);
    atomic_init(&c->blocked_full_ns, 0);
    atomic_init(&c->blocked_empty_ns, 0);
    atomic_init(&c->spin_send, SPIN_INIT);
    atomic_init(&c->spin_recv, SPIN_INIT);
    *out = c;
    return 0;
}

void weft_chan_destroy(weft_chan *c)
{
    if (!c)
        return;
    free(c->slots);
    free(c->name);
    free(c);
}

/* ---- unbuffered hand-off ------------------------------------------------ */

/* Step 4 of the hand-off: take position pos back unless a receiver claimed
 * it. Returns true if taken back (the element was never received). */
static bool take_back(weft_chan *c, uint64_t pos)
{
    uint64_t expected = pos;
    /* seq_cst like a receiver's claim: the same compare-and-swap decides
     * between us and every receiver, and waiting senders check it. */
    if (!atomic_compare_exchange_strong_explicit(&c->head, &expected, pos + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return false;
    atomic_fetch_add_explicit(&c->retracted, 1, memory_order_relaxed);
    /* Counted as done after head moved, so done <= head holds; seq_cst
     * like task_done's increment, which join pairs with. */
    atomic_fetch_add_explicit(&c->done, 1, memory_order_seq_cst);
    unsigned char *slot = weft__chan_slot(c, pos);
    /* Release pairs with the next sender's acquire load of the slot. */
    atomic_store_explicit(weft__chan_seq(slot), 2 * (pos + c->cap), memory_order_release);
    weft__chan_after_recv(c, pos + 1, 1);
    if (weft__waitq_has_waiters(&c->joinq) && joined(c))
        weft__waitq_wake_all(&c->joinq);
    return true;
}

/* Step 3 of the hand-off: wait until the element at pos is taken. A loop
 * task whose receiver is ready first lets the loop run a round or two: a
 * receiver on the same loop takes the element then, and neither side
 * touches ackq. */
static int await_taken(weft_chan *c, uint64_t pos, int64_t deadline, int timeout_rc)
{
    for (int i = 0; i < ACK_YIELDS; i++) {
        if (atomic_load_explicit(&c->head, memory_order_relaxed) > pos)
            return 0;
        if (!weft__task_yield())
            break;
    }
    for (;;) {
        if (atomic_load_explicit(&c->head, memory_order_relaxed) > pos)
            return 0;
        if (atomic_load_explicit(&c->closed_hint, memory_order_acquire))
            return take_back(c, pos) ? -EPIPE : 0;
        int rc = wait_for(c, &c->ackq, probe_taken, NULL, pos, &c->spin_send, &c->blocked_full_ns,
                          deadline);
        if (rc < 0) {
            /* Timed out or cancelled: take the element back unless a
             * receiver has it already (then the send succeeded). */
            if (atomic_load_explicit(&c->head, memory_order_relaxed) > pos)
                return 0;
            return take_back(c, pos) ? (rc == -ECANCELED ? rc : timeout_rc) : 0;
        }
    }
}

/* A hand-off that does not wait for a receiver to come: steps 1 and 2 only
 * if a receiver is linked now. 0, -EPIPE or -EAGAIN. */
static int handoff_now(weft_chan *c, const void *elem)
{
    uint64_t pos;
    if (atomic_load_explicit(&c->tail, memory_order_relaxed) & WEFT__CHAN_CLOSED)
        return -EPIPE;
    if (!weft__waitq_has_waiters(&c->recvq))
        return -EAGAIN;
    int rc = weft__chan_claim_send(c, &pos);
    if (rc != 0)
        return rc;
    weft__chan_publish(c, pos, elem);
    note_depth(c, pos + 1);
    if (weft__waitq_wake_one(&c->recvq))
        return await_taken(c, pos, WEFT_NEVER, -ETIMEDOUT);
    return take_back(c, pos) ? -EAGAIN : 0;
}

int weft__chan_try_send_op(weft_chan *c, const void *elem)
{
    if (c->unbuffered)
        return handoff_now(c, elem);
    uint64_t pos;
    int rc = weft__chan_claim_send(c, &pos);
    if (rc != 0)
        return rc;
    weft__chan_publish(c, pos, elem);
    weft__chan_after_send(c, pos + 1, 1);
    note_depth(c, pos + 1);
    return 0;
}

/* Claim a send position, waiting for room. 0, -EPIPE or -ETIMEDOUT. */
static int claim_send_wait(weft_chan *c, uint64_t *pos, int64_t deadline)
{
    for (;;) {
        int rc = weft__chan_claim_send(c, pos);
        if (rc != -EAGAIN)
            return rc;
        if (weft_deadline_passed(deadline))
            return -ETIMEDOUT;
        rc = wait_for(c, &c->sendq, probe_room, claimed_room, 0, &c->spin_send, &c->blocked_full_ns,
                      deadline);
        if (rc != 0)
            return rc;
    }
}

static int send_unbuffered(weft_chan *c, const void *elem, int64_t deadline)
{
    if (weft_deadline_passed(deadline)) {
        int rc = handoff_now(c, elem);
        return rc == -EAGAIN ? -ETIMEDOUT : rc;
    }
    uint64_t pos;
    int rc = claim_send_wait(c, &pos, deadline);
    if (rc != 0)
        return rc;
    weft__chan_publish(c, pos, elem);
    note_depth(c, pos + 1);
    bool committed = weft__waitq_has_waiters(&c->recvq) && weft__waitq_wake_one(&c->recvq);
    return await_taken(c, pos, committed ? WEFT_NEVER : deadline, -ETIMEDOUT);
}

/* ---- send / recv -------------------------------------------------------- */

int weft_chan_send(weft_chan *c, const void *elem, int64_t deadline)
{
    if (!c || !elem)
        return -EINVAL;
    if (c->unbuffered)
        return send_unbuffered(c, elem, deadline);
    uint64_t pos;
    int rc = weft__chan_claim_send(c, &pos);
    if (rc == -EAGAIN)
        rc = claim_send_wait(c, &pos, deadline);
    if (rc != 0)
        return rc;
    weft__chan_publish(c, pos, elem);
    weft__chan_after_send(c, pos + 1, 1);
    note_depth(c, pos + 1);
    return 0;
}

int weft_chan_try_send(weft_chan *c, const void *elem)
{
    if (!c || !elem)
        return -EINVAL;
    return weft__chan_try_send_op(c, elem);
}

int weft__chan_try_recv_op(weft_chan *c, void *elem)
{
    uint64_t pos;
    int rc = weft__chan_claim_recv(c, &pos);
    if (rc != 0)
        return rc;
    weft__chan_consume(c, pos, elem);
    weft__chan_after_recv(c, pos + 1, 1);
    return 0;
}

int weft_chan_recv(weft_chan *c, void *elem, int64_t deadline)
{
    if (!c || !elem)
        return -EINVAL;
    for (;;) {
        int rc = weft__chan_try_recv_op(c, elem);
        if (rc == WEFT__CHAN_PENDING) {
            /* Closed, and a sender is still copying its element in. */
            sched_yield();
            continue;
        }
        if (rc != -EAGAIN)
            return rc;
        if (weft_deadline_passed(deadline))
            return -ETIMEDOUT;
        rc = wait_for(c, &c->recvq, probe_item, claimed_item, 0, &c->spin_recv,
                      &c->blocked_empty_ns, deadline);
        if (rc != 0)
            return rc;
    }
}

int weft_chan_try_recv(weft_chan *c, void *elem)
{
    if (!c || !elem)
        return -EINVAL;
    int rc = weft__chan_try_recv_op(c, elem);
    return rc == WEFT__CHAN_PENDING ? -EAGAIN : rc;
}

/* ---- batches ------------------------------------------------------------ */

/* Claim a run of up to max consecutive free positions with one
 * compare-and-swap. Returns the run's length (>= 1) and *pos, or -EAGAIN
 * (full) or -EPIPE. A free slot stays free until its position is claimed,
 * and a successful compare-and-swap from pos means nobody else claimed any
 * position of the run, so the run checked before it is still free. */
static long claim_send_run(weft_chan *c, size_t max, uint64_t *pos_out)
{
    uint64_t pos = atomic_load_explicit(&c->tail, memory_order_relaxed);
    uint64_t limit = max < c->cap ? max : c->cap;
    for (;;) {
        if (pos & WEFT__CHAN_CLOSED)
            return -EPIPE;
        uint64_t k = 0;
        while (k < limit) {
            /* Acquire pairs with the release of the receiver that freed it. */
            uint64_t seq = atomic_load_explicit(weft__chan_seq(weft__chan_slot(c, pos + k)),
                                                memory_order_acquire);
            if (seq != 2 * (pos + k))
                break;
            k++;
        }
        if (k == 0) {
            uint64_t seq =
                atomic_load_explicit(weft__chan_seq(weft__chan_slot(c, pos)), memory_order_relaxed);
            uint64_t now = atomic_load_explicit(&c->tail, memory_order_relaxed);
            if (now == pos && (int64_t)(seq - 2 * pos) < 0)
                return -EAGAIN;
            pos = now;
            continue;
        }
        /* seq_cst: the claim waiting receivers check (chan_internal.h). */
        if (atomic_compare_exchange_weak_explicit(&c->tail, &pos, pos + k, memory_order_seq_cst,
                                                  memory_order_relaxed)) {
            *pos_out = pos;
            return (long)k;
        }
    }
}

/* The receiving twin of claim_send_run: a run of published positions. */
static long claim_recv_run(weft_chan *c, size_t max, uint64_t *pos_out)
{
    uint64_t pos = atomic_load_explicit(&c->head, memory_order_relaxed);
    uint64_t limit = max < c->cap ? max : c->cap;
    for (;;) {
        uint64_t k = 0;
        while (k < limit) {
            /* Acquire pairs with the sender's release in publish. */
            uint64_t seq = atomic_load_explicit(weft__chan_seq(weft__chan_slot(c, pos + k)),
                                                memory_order_acquire);
            if (seq != 2 * (pos + k) + 1)
                break;
            k++;
        }
        if (k == 0) {
            uint64_t seq =
                atomic_load_explicit(weft__chan_seq(weft__chan_slot(c, pos)), memory_order_relaxed);
            if ((int64_t)(seq - (2 * pos + 1)) < 0) {
                int rc = weft__chan_empty_status(c, pos);
                uint64_t now = atomic_load_explicit(&c->head, memory_order_relaxed);
                if (now == pos)
                    return rc;
                pos = now;
            } else {
                pos = atomic_load_explicit(&c->head, memory_order_relaxed);
            }
            continue;
        }
        /* seq_cst: the claim waiting senders check (chan_internal.h). */
        if (atomic_compare_exchange_weak_explicit(&c->head, &pos, pos + k, memory_order_seq_cst,
                                                  memory_order_relaxed)) {
            *pos_out = pos;
            return (long)k;
        }
    }
}

int weft_chan_send_many(weft_chan *c, const void *elems, size_t n, size_t *sent, int64_t deadline)
{
    size_t done = 0;
    int rc = 0;
    if (sent)
        *sent = 0;
    if (!c || (!elems && n > 0))
        return -EINVAL;
    const unsigned char *src = elems;
    if (c->unbuffered) {
        for (; done < n; done++) {
            rc = send_unbuffered(c, src + done * c->elem_size, deadline);
            if (rc != 0)
                break;
        }
        if (sent)
            *sent = done;
        return rc;
    }
    while (done < n) {
        uint64_t pos;
        long k = claim_send_run(c, n - done, &pos);
        if (k > 0) {
            for (long i = 0; i < k; i++)
                weft__chan_publish(c, pos + (uint64_t)i, src + (done + (size_t)i) * c->elem_size);
            weft__chan_after_send(c, pos + (uint64_t)k, (size_t)k);
            note_depth(c, pos + (uint64_t)k);
            done += (size_t)k;
            continue;
        }
        rc = (int)k;
        if (rc == -EPIPE)
            break;
        if (weft_deadline_passed(deadline)) {
            rc = -ETIMEDOUT;
            break;
        }
        rc = wait_for(c, &c->sendq, probe_room, claimed_room, 0, &c->spin_send, &c->blocked_full_ns,
                      deadline);
        if (rc != 0)
            break;
    }
    if (sent)
        *sent = done;
    return done == n ? 0 : rc;
}

int weft_chan_recv_many(weft_chan *c, void *elems, size_t max, size_t *got, int64_t deadline)
{
    if (got)
        *got = 0;
    if (!c || !elems || !got || max == 0)
        return -EINVAL;
    unsigned char *dst = elems;
    for (;;) {
        uint64_t pos;
        long k = claim_recv_run(c, max, &pos);
        if (k > 0) {
            for (long i = 0; i < k; i++)
                weft__chan_consume(c, pos + (uint64_t)i, dst + (size_t)i * c->elem_size);
            weft__chan_after_recv(c, pos + (uint64_t)k, (size_t)k);
            *got = (size_t)k;
            return 0;
        }
        int rc = (int)k;
        if (rc == WEFT__CHAN_PENDING) {
            sched_yield();
            continue;
        }
        if (rc != -EAGAIN)
            return rc;
        if (weft_deadline_passed(deadline))
            return -ETIMEDOUT;
        rc = wait_for(c, &c->recvq, probe_item, claimed_item, 0, &c->spin_recv,
                      &c->blocked_empty_ns, deadline);
        if (rc != 0)
            return rc;
    }
}

/* ---- close -------------------------------------------------------------- */

int weft_chan_close(weft_chan *c)
{
    if (!c)
        return -EINVAL;
    /* Step 1. seq_cst: a sender's claim either precedes this in tail's
     * modification order (its element is accepted) or fails. */
    uint64_t old = atomic_fetch_or_explicit(&c->tail, WEFT__CHAN_CLOSED, memory_order_seq_cst);
    if (old & WEFT__CHAN_CLOSED)
        return -EPIPE;
    /* Step 2. Release pairs with the acquire in weft__chan_empty_status. */
    atomic_store_explicit(&c->closed_hint, 1, memory_order_release);
    /* Step 3. */
    weft__waitq_wake_all(&c->recvq);
    weft__waitq_wake_all(&c->sendq);
    weft__waitq_wake_all(&c->ackq);
    weft__waitq_wake_all(&c->rdyq);
    return 0;
}

bool weft_chan_is_closed(const weft_chan *c)
{
    weft_chan *m = (weft_chan *)c; /* atomic loads do not write */
    return (atomic_load_explicit(&m->tail, memory_order_acquire) & WEFT__CHAN_CLOSED) != 0;
}

size_t weft_chan_len(const weft_chan *c)
{
    weft_chan *m = (weft_chan *)c;
    /* head first: it only grows, and tail read later is >= it. */
    uint64_t head = atomic_load_explicit(&m->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&m->tail, memory_order_relaxed) & ~WEFT__CHAN_CLOSED;
    return tail > head ? (size_t)(tail - head) : 0;
}

size_t weft_chan_capacity(const weft_chan *c)
{
    return c->unbuffered ? 0 : (size_t)c->cap;
}

size_t weft_chan_elem_size(const weft_chan *c)
{
    return c->elem_size;
}

const char *weft_chan_name(const weft_chan *c)
{
    return c->name;
}

/* ---- task_done / join --------------------------------------------------- */

int weft_chan_task_done(weft_chan *c)
{
    if (!c)
        return -EINVAL;
    uint64_t done = atomic_load_explicit(&c->done, memory_order_relaxed);
    for (;;) {
        uint64_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
        if (done >= head)
            return -EINVAL;
        /* seq_cst (release): pairs with the acquire load in joined(). */
        if (atomic_compare_exchange_weak_explicit(&c->done, &done, done + 1, memory_order_seq_cst,
                                                  memory_order_relaxed))
            break;
    }
    if (weft__waitq_has_waiters(&c->joinq) && joined(c))
        weft__waitq_wake_all(&c->joinq);
    return 0;
}

int weft_chan_join(weft_chan *c, int64_t deadline)
{
    if (!c)
        return -EINVAL;
    for (;;) {
        if (joined(c))
            return 0;
        if (weft_deadline_passed(deadline))
            return -ETIMEDOUT;
        int rc = wait_for(c, &c->joinq, probe_joined, NULL, 0, NULL, NULL, deadline);
        if (rc != 0)
            return joined(c) ? 0 : rc;
    }
}

/* ---- metrics ------------------------------------------------------------ */

void weft_chan_stats_get(const weft_chan *c, weft_chan_stats *out)
{
    weft_chan *m = (weft_chan *)c;
    uint64_t retracted = atomic_load_explicit(&m->retracted, memory_order_relaxed);
    uint64_t done = atomic_load_explicit(&m->done, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&m->head, memory_order_relaxed);
    uint64_t tail_word = atomic_load_explicit(&m->tail, memory_order_relaxed);
    uint64_t tail = tail_word & ~WEFT__CHAN_CLOSED;
    uint64_t peak = atomic_load_explicit(&m->peak, memory_order_relaxed);
    memset(out, 0, sizeof *out);
    out->sends = tail - retracted;
    out->recvs = head - retracted;
    out->depth = tail > head ? (size_t)(tail - head) : 0;
    out->peak_depth = peak > out->depth ? (size_t)peak : out->depth;
    out->capacity = weft_chan_capacity(c);
    out->unfinished = tail > done ? tail - done : 0;
    out->blocked_full_ns = atomic_load_explicit(&m->blocked_full_ns, memory_order_relaxed);
    out->blocked_empty_ns = atomic_load_explicit(&m->blocked_empty_ns, memory_order_relaxed);
    out->closed = (tail_word & WEFT__CHAN_CLOSED) != 0;
}

int weft_chan_report(const weft_chan *c, weft_report *r, const char *prefix)
{
    if (!c || !r)
        return -EINVAL;
    weft_chan_stats s;
    weft_chan_stats_get(c, &s);
    if (!prefix)
        prefix = c->name;
    char name[256];
    int rc;
#define ROW(suffix, call)                                                                          \
    do {                                                                                           \
        snprintf(name, sizeof name, "%s.%s", prefix, suffix);                                      \
        if ((rc = (call)) != 0)                                                                    \
            return rc;                                                                             \
    } while (0)
    ROW("sends", weft_report_add_counter(r, name, s.sends));
    ROW("recvs", weft_report_add_counter(r, name, s.recvs));
    ROW("depth", weft_report_add_gauge(r, name, (double)s.depth, "items"));
    ROW("peak_depth", weft_report_add_gauge(r, name, (double)s.peak_depth, "items"));
    ROW("capacity", weft_report_add_gauge(r, name, (double)s.capacity, "items"));
    ROW("unfinished", weft_report_add_counter(r, name, s.unfinished));
    ROW("blocked_full", weft_report_add_gauge(r, name, (double)s.blocked_full_ns, "ns"));
    ROW("blocked_empty", weft_report_add_gauge(r, name, (double)s.blocked_empty_ns, "ns"));
#undef ROW
    return 0;
}
