/* Internal: the channel's ring and the pieces chan.c and select.c share.
 *
 * The ring is a bounded MPMC array queue in the style of Dmitry Vyukov's
 * (and crossbeam's ArrayQueue): `cap` slots, each an atomic sequence word
 * followed by the element's bytes. Positions count up forever (64-bit, they
 * never wrap in practice); position p lives in slot p % cap. A slot's
 * sequence word says, for its position p of the current lap:
 *     seq == 2p       free: a sender may claim position p;
 *     seq == 2p + 1   full: the element of position p is published;
 * and a receiver that took position p frees the slot for position p + cap by
 * storing 2(p + cap). (Vyukov uses p and p + 1; doubling keeps "full at p"
 * and "free for p + 1" apart when cap is 1, which the unbuffered mode uses.)
 *
 * Senders claim positions by compare-and-swap on `tail`, receivers on `head`
 * (and an unbuffered sender taking its element back, see chan.c); each of
 * the two words sits on its own cache line, and neither side reads the
 * other's word on its fast path (but for the peak-depth metric's rare read
 * of head): the slot's sequence word alone says "free" or "full". A batch
 * claims a run of consecutive positions with one compare-and-swap.
 *
 * Close sets WEFT__CHAN_CLOSED, the top bit of `tail`, with one fetch_or.
 * A sender's claiming compare-and-swap expects a tail without that bit, so
 * it fails atomically once the channel is closed: no send can slip in after
 * the close, and every position below the final tail was claimed before it.
 * A receiver reports -EPIPE only when head has reached the final tail (every
 * position is taken); a position claimed but not yet published makes it
 * wait instead (the sender is copying, and will publish).
 *
 * Synchronization (see also the numbered protocols in chan.c):
 * - slot seq: release store by whoever finishes with the slot (a sender
 *   after copying in, a receiver after copying out), acquire load by the next
 *   user; this orders the element bytes (plain memory) between them.
 * - tail, head: claimed by seq_cst compare-and-swap. The slot's seq carries
 *   the data ordering; seq_cst is for the wake-up check below (and costs
 *   nothing on x86, where every compare-and-swap is a full barrier). The
 *   CLOSED bit is set by a seq_cst fetch_or.
 * - closed_hint: set (release) by close after the CLOSED bit, read (acquire)
 *   by receivers only when a slot is not ready, so their fast path never
 *   reads the senders' cache line.
 * - Wake-ups: the waiter protocol of src/sync/waiter.h, with the claim as
 *   the waker's change, so the hot path needs no fence of its own. A sender
 *   claims (seq_cst CAS on tail), publishes, then reads recvq's count
 *   (seq_cst load) and wakes only if it is nonzero; a receiver that waits
 *   links itself (count, then waitq_add's seq_cst fence) and parks only if
 *   it then sees tail == head: nothing claimed that it could take. In the
 *   single order of seq_cst operations either the sender's count read
 *   follows the waiter's fence (it sees the waiter) or the waiter's fence
 *   follows the claim (it sees the claim, C11 7.17.4p2-3). A receiver that
 *   sees a claimed position whose element is not yet published spins and
 *   yields instead of parking: the sender is copying, a few instructions
 *   from done (a sender preempted there keeps its receivers yielding). The
 *   mirror holds for senders waiting for room (head + cap > tail: a
 *   receiver claimed a slot of the previous lap). Other wakers (close,
 *   task_done, the unbuffered hand-off) keep weft__waitq_has_waiters()'s
 *   fence. Who wakes whom: "Wake-ups after the ring moved" below.
 * - head_seen, peak, spin_send, spin_recv: relaxed hints (the peak-depth
 *   metric, the adaptive spin budgets), each on the line of the side that
 *   writes it.
 * - done, retracted: the task_done count and the unbuffered take-backs; see
 *   chan.c. Time blocked: relaxed adds, on the parking path only.
 * Waiters and their links live on the stack of the blocking call. */
#ifndef WEFT_CHAN_INTERNAL_H
#define WEFT_CHAN_INTERNAL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <weft/chan.h>
#include <weft/error.h>

#include "sync/waiter.h"

#define WEFT__CHAN_CLOSED ((uint64_t)1 << 63)
#define WEFT__CACHE_LINE 64

struct weft_chan {
    /* Read-only after create: every thread reads this line on every call. */
    unsigned char *slots;
    size_t elem_size;
    size_t stride; /* bytes per slot: 8 (seq) + elem_size rounded up to 8 */
    uint64_t cap;  /* slots in the ring (1 for unbuffered) */
    uint64_t mask; /* cap - 1 when cap is a power of two */
    bool pow2;
    bool unbuffered;
    char *name;
    /* Written once, by close; read only when a receiver finds no element. */
    _Atomic uint32_t closed_hint;

    /* The senders' line. */
    alignas(WEFT__CACHE_LINE) _Atomic uint64_t tail; /* next send position | CLOSED */
    _Atomic uint64_t head_seen;                      /* a past value of head (peak metric) */
    _Atomic uint64_t peak;                           /* the largest depth a sender has seen */
    _Atomic uint32_t spin_send; /* adaptive spin budget of waiting senders (polls) */

    /* The receivers' line. */
    alignas(WEFT__CACHE_LINE) _Atomic uint64_t head; /* next receive position */
    _Atomic uint32_t spin_recv;                      /* adaptive spin budget of waiting receivers */

    /* task_done's line: `done` counts task_done calls plus unbuffered
     * take-backs (each counts as received and done), so that
     * done <= head <= tail always holds and join waits for done == tail. */
    alignas(WEFT__CACHE_LINE) _Atomic uint64_t done;
    _Atomic uint64_t retracted; /* unbuffered sends taken back (metrics) */

    /* Parking. Every send and receive reads the counts of these two queues
     * (after its fence), so each gets its own line, written only by the
     * waiters that link and unlink: read-mostly, never contended. */
    alignas(WEFT__CACHE_LINE) weft__waitq recvq; /* receivers: no element */
    alignas(WEFT__CACHE_LINE) weft__waitq sendq; /* senders: no room */
    /* Rare queues and slow-path statistics share the last lines. */
    alignas(WEFT__CACHE_LINE) weft__waitq ackq; /* unbuffered senders: not taken yet */
    weft__waitq rdyq;  /* unbuffered select SEND cases: no receiver waits yet */
    weft__waitq joinq; /* weft_chan_join */
    _Atomic int64_t blocked_full_ns;
    _Atomic int64_t blocked_empty_ns;
};

/* Internal status of the ring operations (never returned to callers):
 * the channel is closed, but a position below the final tail is claimed and
 * not yet published; a receiver must wait for it without parking. */
#define WEFT__CHAN_PENDING (-EINPROGRESS)

static inline unsigned char *weft__chan_slot(const weft_chan *c, uint64_t pos)
{
    uint64_t i = c->pow2 ? (pos & c->mask) : (pos % c->cap);
    return c->slots + (size_t)i * c->stride;
}

static inline _Atomic uint64_t *weft__chan_seq(unsigned char *slot)
{
    return (_Atomic uint64_t *)(void *)slot;
}

static inline void weft__chan_copy(void *dst, const void *src, size_t size)
{
    /* Constant sizes let the compiler use plain moves instead of a call. */
    switch (size) {
    case 1:
        memcpy(dst, src, 1);
        break;
    case 2:
        memcpy(dst, src, 2);
        break;
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    default:
        memcpy(dst, src, size);
        break;
    }
}

/* Claim one send position. Returns 0 and *pos; -EAGAIN if the ring is full
 * (the slot at tail still holds the element of the previous lap, or a
 * receiver is still copying it out); -EPIPE if closed. */
static inline int weft__chan_claim_send(weft_chan *c, uint64_t *pos_out)
{
    uint64_t pos = atomic_load_explicit(&c->tail, memory_order_relaxed);
    for (;;) {
        if (pos & WEFT__CHAN_CLOSED)
            return -EPIPE;
        unsigned char *slot = weft__chan_slot(c, pos);
        /* Acquire pairs with the release store of the receiver that freed
         * the slot: its copy-out happens before our copy-in. */
        uint64_t seq = atomic_load_explicit(weft__chan_seq(slot), memory_order_acquire);
        int64_t diff = (int64_t)(seq - 2 * pos);
        if (diff == 0) {
            /* seq_cst: the claim is what waiting receivers check (see
             * Wake-ups above); the slot's seq orders the data; the CLOSED
             * bit makes this fail once closed, whatever the ordering. */
            if (atomic_compare_exchange_weak_explicit(&c->tail, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                *pos_out = pos;
                return 0;
            }
        } else if (diff < 0) {
            uint64_t now = atomic_load_explicit(&c->tail, memory_order_relaxed);
            if (now == pos)
                return -EAGAIN;
            pos = now;
        } else {
            pos = atomic_load_explicit(&c->tail, memory_order_relaxed);
        }
    }
}

/* Copy elem into the slot of a claimed position and publish it. */
static inline void weft__chan_publish(weft_chan *c, uint64_t pos, const void *elem)
{
    unsigned char *slot = weft__chan_slot(c, pos);
    weft__chan_copy(slot + 8, elem, c->elem_size);
    /* Release pairs with the acquire load of the receiver that claims pos. */
    atomic_store_explicit(weft__chan_seq(slot), 2 * pos + 1, memory_order_release);
}

/* What a receiver finds at position pos whose slot is not published:
 * -EAGAIN (open: wait or give up), -EPIPE (closed and drained) or
 * WEFT__CHAN_PENDING (closed, a claimed position is not yet published). */
static inline int weft__chan_empty_status(weft_chan *c, uint64_t pos)
{
    /* Acquire pairs with the release store in weft_chan_close: the CLOSED
     * bit is then visible in tail. */
    if (!atomic_load_explicit(&c->closed_hint, memory_order_acquire))
        return -EAGAIN;
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire) & ~WEFT__CHAN_CLOSED;
    return tail == pos ? -EPIPE : WEFT__CHAN_PENDING;
}

/* Claim one receive position. Returns 0 and *pos; -EAGAIN, -EPIPE or
 * WEFT__CHAN_PENDING as weft__chan_empty_status. */
static inline int weft__chan_claim_recv(weft_chan *c, uint64_t *pos_out)
{
    uint64_t pos = atomic_load_explicit(&c->head, memory_order_relaxed);
    for (;;) {
        unsigned char *slot = weft__chan_slot(c, pos);
        /* Acquire pairs with the sender's release in weft__chan_publish. */
        uint64_t seq = atomic_load_explicit(weft__chan_seq(slot), memory_order_acquire);
        int64_t diff = (int64_t)(seq - (2 * pos + 1));
        if (diff == 0) {
            /* seq_cst: what waiting senders check (Wake-ups above). */
            if (atomic_compare_exchange_weak_explicit(&c->head, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                *pos_out = pos;
                return 0;
            }
        } else if (diff < 0) {
            /* Position pos is not published, so head cannot have passed it
             * unless an unbuffered sender took it back: re-read to be sure. */
            int rc = weft__chan_empty_status(c, pos);
            uint64_t now = atomic_load_explicit(&c->head, memory_order_relaxed);
            if (now == pos)
                return rc;
            pos = now;
        } else {
            pos = atomic_load_explicit(&c->head, memory_order_relaxed);
        }
    }
}

/* Copy the element of a claimed receive position out and free its slot for
 * position pos + cap. */
static inline void weft__chan_consume(weft_chan *c, uint64_t pos, void *elem)
{
    unsigned char *slot = weft__chan_slot(c, pos);
    weft__chan_copy(elem, slot + 8, c->elem_size);
    /* Release pairs with the acquire load of the sender that claims
     * pos + cap: our copy-out happens before its copy-in. */
    atomic_store_explicit(weft__chan_seq(slot), 2 * (pos + c->cap), memory_order_release);
}

/* Wake-ups after the ring moved (the waker side of the waiter protocol).
 *
 * A parked receiver waits for "the slot at head is published". That becomes
 * true in two ways: a sender publishes the slot at head, or a receiver moves
 * head onto a slot that was published earlier (senders publish out of order:
 * position p + 1 can be published while p is still being copied in, and the
 * receiver woken for p + 1 then finds p not ready and parks again). So a
 * sender wakes one receiver per element it published, and a receiver that
 * moved head onto a published slot wakes one more receiver: each wake is
 * followed by an attempt, and no element is left with every receiver
 * asleep. Senders mirror this (receivers free slots out of order too).
 * Both read the queues' counts with seq_cst loads after their seq_cst claim
 * (see Wake-ups in the Synchronization block), so the fast path costs two
 * plain loads of read-mostly lines and no fence. (With waiters that park
 * only when nothing is claimed, these chained wakes are not needed for
 * progress; they spread a burst over the parked threads sooner.) */
void weft__chan_after_send_slow(weft_chan *c, uint64_t end, size_t n);
void weft__chan_after_recv_slow(weft_chan *c, uint64_t end, size_t n);

static inline bool weft__chan_linked(weft__waitq *q)
{
    /* seq_cst: pairs with the fence of weft__waitq_add, after this thread's
     * seq_cst claim of tail or head (Wake-ups in the Synchronization block). */
    return atomic_load_explicit(&q->count, memory_order_seq_cst) != 0;
}

/* After a sender claimed (seq_cst) and published the n positions before
 * end. */
static inline void weft__chan_after_send(weft_chan *c, uint64_t end, size_t n)
{
    if (weft__chan_linked(&c->recvq) || weft__chan_linked(&c->sendq))
        weft__chan_after_send_slow(c, end, n);
}

/* After a receiver claimed (seq_cst) and consumed (freed) the n positions
 * before end. */
static inline void weft__chan_after_recv(weft_chan *c, uint64_t end, size_t n)
{
    if (weft__chan_linked(&c->sendq) || weft__chan_linked(&c->recvq) ||
        (c->unbuffered && (weft__chan_linked(&c->ackq) || weft__chan_linked(&c->rdyq))))
        weft__chan_after_recv_slow(c, end, n);
}

/* One attempt at a select case, never waiting: 0 done, -EPIPE closed (the
 * case completes with that result), -EAGAIN not ready, WEFT__CHAN_PENDING
 * (RECV: closed with an element still being published; retry without
 * parking). An unbuffered SEND completes only with a blocked receiver. */
int weft__chan_try_send_op(weft_chan *c, const void *elem);
int weft__chan_try_recv_op(weft_chan *c, void *elem);

/* Whether a select case may be ready (look, take nothing): the probe of
 * step 3 of select, called after the select linked its waiter (and fence).
 * True as soon as the other side has claimed a position (Wake-ups above). */
bool weft__chan_case_ready(weft_chan *c, int op);

/* Link a select waiter for a case; weft__chan_case_queue says which queue
 * it went into (for unlinking and passing a wake on). */
weft__waitq *weft__chan_case_queue(weft_chan *c, int op);
void weft__chan_link(weft_chan *c, int op, weft__wait_link *l, weft__waiter *w, uint32_t tag);

/* Per-thread xorshift generator for select's shuffle. */
uint32_t weft__chan_rand(void);

#endif
