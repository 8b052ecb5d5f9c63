/* weft/chan.h: bounded multi-producer multi-consumer channels, and select.
 *
 * A weft_chan carries fixed-size elements (elem_size bytes each, copied in
 * by send and out by receive) between any number of threads. It is Go's
 * channel and Python's queue.Queue in one object:
 *
 *   - buffered (capacity >= 1): send waits while the channel is full,
 *     receive waits while it is empty (backpressure, queue.Queue(maxsize));
 *   - unbuffered (capacity WEFT_CHAN_UNBUFFERED, i.e. 0): a rendezvous, as
 *     Go's make(chan T): a send returns only once a receiver has taken the
 *     element (details below);
 *   - close: later sends fail with -EPIPE, receivers first drain what is
 *     buffered and then get -EPIPE (Go's close, "for v := range ch");
 *   - task_done / join: queue.Queue's completion count, so the poison-pill
 *     pattern of the seeds (q.task_done() per item, q.join()) still works,
 *     and a close-based shutdown can replace it;
 *   - weft_chan_select: wait on several channels at once, for sending or
 *     receiving, with a deadline (Go's select; WEFT_NOW is its default:).
 *
 * Every element a send accepts (returns 0, or counts in *sent) is received
 * exactly once, by one receiver. The channel is one FIFO: elements are taken
 * in the order they went in, so one sender's elements are taken in the order
 * it sent them (with several receivers, each then works at its own pace).
 * Nothing is ever lost or duplicated by close, a deadline, or a select that
 * picks another case.
 *
 * Waiting: every blocking call takes an absolute deadline (weft/time.h):
 * WEFT_NEVER waits as long as it takes, WEFT_NOW tries once, and a call
 * whose deadline passes returns -ETIMEDOUT (the try_ variants return -EAGAIN
 * instead). Timed waits honour the virtual clock. A waiting thread spins for
 * a few microseconds (yielding the CPU now and then), then parks (weft's
 * parking mechanism); a loop task suspends without spinning. A call that
 * does not have to wait makes no system call and takes no lock.
 *
 * Unbuffered channels. The channel holds at most one element "in hand-off".
 * A blocking send (deadline not yet passed) puts its element there and
 * waits until a receiver takes it; if its deadline passes first it takes
 * the element back and returns -ETIMEDOUT, so a send that returns an error
 * was never received. A send whose deadline has already passed (WEFT_NOW),
 * weft_chan_try_send, and a SEND case of weft_chan_select complete only if
 * a receiver is already blocked in weft_chan_recv / recv_many / a select
 * RECV case on the channel (Go's "a receiver is waiting"); they never leave
 * an element behind otherwise. Receivers take an element that a blocked
 * sender put in hand-off, whatever they are (recv, try_recv, select). A
 * select SEND case and a try_recv do not meet each other (neither waits).
 * A sender still waiting for its receiver when the channel is closed takes
 * its element back and gets -EPIPE. weft_chan_len() is 1 while an element
 * waits in hand-off, 0 otherwise; weft_chan_capacity() is 0.
 *
 * Close and task_done/join are independent: close ends the stream, join
 * waits for work to be marked finished. The two shutdown patterns:
 *   poison pill: the producer sends one sentinel element per consumer;
 *                each consumer stops at its pill; task_done/join as Python.
 *   close:       the producer calls weft_chan_close(); consumers loop until
 *                weft_chan_recv returns -EPIPE (everything was drained).
 * examples/producer_consumer_poison_pill.c and producer_consumer_close.c
 * show both.
 *
 * Arguments: the functions that return an int reject a NULL channel (and
 * NULL element pointers) with -EINVAL; the accessors that return a value
 * (is_closed, len, capacity, elem_size, name, stats_get) need a valid one.
 *
 * Thread-safety: every function may be called from any thread, on the same
 * channel concurrently, except weft_chan_destroy (see there). */
/* In a loop task (weft/loop.h): a call below that would block suspends the
 * task instead of its thread, and once the task is cancelled every such
 * wait (each call whose errors include -ETIMEDOUT) may also end with
 * -ECANCELED, having changed nothing (a send that returns -ECANCELED did not
 * deliver its element; a receive did not take one). */
#ifndef WEFT_CHAN_H
#define WEFT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_chan weft_chan;
typedef struct weft_report weft_report; /* weft/metrics.h */

/* The capacity of an unbuffered (rendezvous) channel. */
#define WEFT_CHAN_UNBUFFERED ((size_t)0)

/* The largest capacity weft_chan_create accepts (2^40 elements). */
#define WEFT_CHAN_MAX_CAPACITY ((size_t)1 << 40)

typedef struct weft_chan_opts {
    /* Size of one element in bytes. Required: must be > 0. */
    size_t elem_size;
    /* How many elements the channel buffers, 1 .. WEFT_CHAN_MAX_CAPACITY,
     * or WEFT_CHAN_UNBUFFERED (0, as Go's make(chan T)) for a rendezvous
     * channel. A zeroed field therefore means unbuffered: write
     * WEFT_CHAN_UNBUFFERED when you mean it, so the reader knows. */
    size_t capacity;
    /* A name for reports and debugging (copied); NULL means "chan". */
    const char *name;
} weft_chan_opts;

/* weft_chan_create: a new, open, empty channel.
 * Returns: 0 and *out set; on failure *out is untouched.
 * Errors: -EINVAL if out or opts is NULL (elem_size is required),
 *         opts->elem_size is 0, or opts->capacity is above
 *         WEFT_CHAN_MAX_CAPACITY or too large to allocate; -ENOMEM.
 * Ownership: the caller owns *out and frees it with weft_chan_destroy();
 *            opts is only read during the call (the name is copied).
 * Thread-safety: any thread. */
int weft_chan_create(weft_chan **out, const weft_chan_opts *opts);

/* weft_chan_destroy: free c and the elements still buffered in it (they are
 * plain bytes: nothing is called on them). NULL is a no-op.
 * Ownership: takes c.
 * Thread-safety: only once no other thread uses c, or will: every thread
 *                that called into c has returned (a thread blocked in c
 *                counts as using it: close c and let it return first). */
void weft_chan_destroy(weft_chan *c);

/* weft_chan_send: copy elem_size bytes from elem into the channel, waiting
 * until there is room (unbuffered: until a receiver takes it) or until the
 * deadline.
 * Returns: 0 once the element is in the channel (unbuffered: taken).
 * Errors: -EPIPE if the channel is closed (before the element went in);
 *         -ETIMEDOUT if the deadline passed first (the element did not go
 *         in); -EINVAL if c or elem is NULL.
 * Ownership: borrows c and elem (read during the call only).
 * Thread-safety: any thread. */
int weft_chan_send(weft_chan *c, const void *elem, int64_t deadline);

/* weft_chan_recv: take the oldest element and copy it to elem (elem_size
 * bytes), waiting until there is one or until the deadline.
 * Returns: 0 with *elem filled.
 * Errors: -EPIPE if the channel is closed and every element sent before the
 *         close has been received (drained); -ETIMEDOUT if the deadline
 *         passed first; -EINVAL if c or elem is NULL. On error *elem is
 *         untouched.
 * Ownership: borrows c and elem.
 * Thread-safety: any thread. */
int weft_chan_recv(weft_chan *c, void *elem, int64_t deadline);

/* weft_chan_try_send: weft_chan_send without waiting.
 * Returns: 0 if the element went in (unbuffered: a blocked receiver took it).
 * Errors: -EAGAIN if the channel is full (unbuffered: no receiver waits);
 *         -EPIPE if closed; -EINVAL if c or elem is NULL.
 * Ownership, Thread-safety: as weft_chan_send. */
int weft_chan_try_send(weft_chan *c, const void *elem);

/* weft_chan_try_recv: weft_chan_recv without waiting.
 * Returns: 0 with *elem filled.
 * Errors: -EAGAIN if no element is ready now (including one a sender is
 *         still copying in); -EPIPE if closed and drained; -EINVAL if c
 *         or elem is NULL.
 * Ownership, Thread-safety: as weft_chan_recv. */
int weft_chan_try_recv(weft_chan *c, void *elem);

/* weft_chan_send_many: send n elements stored back to back at elems, in
 * order, waiting for room as needed. Runs of free slots are claimed in one
 * step, so this is much faster per element than n sends. The elements of one
 * call stay in order, but another sender's elements may land between them.
 * Unbuffered channels send them one by one, each waiting for its receiver.
 * Returns: 0 when all n went in (n == 0: at once).
 * Errors: -EPIPE if the channel was closed first; -ETIMEDOUT if the
 *         deadline passed first (with WEFT_NOW: as many as fit now went in);
 *         -EINVAL if c is NULL or elems is NULL with n > 0. In every case
 *         *sent (if sent is not NULL) says how many elements went in: the
 *         first *sent of elems; the rest did not.
 * Ownership: borrows c, elems and sent.
 * Thread-safety: any thread. */
int weft_chan_send_many(weft_chan *c, const void *elems, size_t n, size_t *sent, int64_t deadline);

/* weft_chan_recv_many: wait until at least one element is ready (or the
 * deadline), then take up to max of the ready ones, oldest first, into elems
 * (back to back), without waiting for more.
 * Returns: 0 with *got (>= 1) elements stored.
 * Errors: -EPIPE if closed and drained; -ETIMEDOUT if the deadline passed
 *         before one was ready; -EINVAL if c, elems or got is NULL, or max
 *         is 0. On error *got is 0.
 * Ownership: borrows c, elems and got.
 * Thread-safety: any thread. */
int weft_chan_recv_many(weft_chan *c, void *elems, size_t max, size_t *got, int64_t deadline);

/* weft_chan_close: close the channel. From now on every send fails with
 * -EPIPE; receivers drain the elements already accepted, then get -EPIPE.
 * Every thread blocked on the channel wakes up to see it. Sends that
 * completed before the close are never lost.
 * Returns: 0 if this call closed the channel.
 * Errors: -EPIPE if it was already closed (nothing changes: closing twice is
 *         harmless, and the error tells the caller another closer won);
 *         -EINVAL if c is NULL.
 * Ownership: borrows c.
 * Thread-safety: any thread, concurrently with every other call but destroy. */
int weft_chan_close(weft_chan *c);

/* weft_chan_is_closed: whether weft_chan_close has been called on c.
 * Thread-safety: any thread. */
bool weft_chan_is_closed(const weft_chan *c);

/* weft_chan_len: how many elements are in the channel now (accepted and not
 * yet taken). A snapshot: others may change it at once.
 * Thread-safety: any thread. */
size_t weft_chan_len(const weft_chan *c);

/* weft_chan_capacity: the capacity given at creation (0: unbuffered).
 * Thread-safety: any thread. */
size_t weft_chan_capacity(const weft_chan *c);

/* weft_chan_elem_size: the element size given at creation.
 * Thread-safety: any thread. */
size_t weft_chan_elem_size(const weft_chan *c);

/* weft_chan_name: the channel's name (opts.name, or "chan").
 * Ownership: the string belongs to c and lives as long as it.
 * Thread-safety: any thread. */
const char *weft_chan_name(const weft_chan *c);

/* weft_chan_task_done: mark one received element as finished (Python's
 * Queue.task_done). Every element accepted by a send counts as unfinished
 * until a task_done call marks it; weft_chan_join waits for none to be left.
 * Returns: 0.
 * Errors: -EINVAL if called more times than elements were received (Python
 *         raises ValueError), or if c is NULL.
 * Ownership: borrows c.
 * Thread-safety: any thread. Costs nothing to channels that never use it. */
int weft_chan_task_done(weft_chan *c);

/* weft_chan_join: wait until every element accepted so far has been marked
 * with weft_chan_task_done (Python's Queue.join), or until the deadline.
 * Elements sent while join waits count too. Close does not end a join.
 * Returns: 0 once the unfinished count was seen at zero.
 * Errors: -ETIMEDOUT; -EINVAL if c is NULL.
 * Ownership: borrows c.
 * Thread-safety: any thread; any number of joiners. */
int weft_chan_join(weft_chan *c, int64_t deadline);

/* A snapshot of a channel's metrics. The counters are derived from the
 * channel's positions, so keeping them costs the hot path nothing; they are
 * read one after another, not as one atomic snapshot. */
typedef struct weft_chan_stats {
    uint64_t sends;           /* elements accepted (each of a batch counts) */
    uint64_t recvs;           /* elements taken by receivers */
    size_t depth;             /* elements in the channel now */
    size_t peak_depth;        /* the largest depth a send has seen */
    size_t capacity;          /* as weft_chan_capacity() */
    uint64_t unfinished;      /* accepted, not yet marked by task_done */
    int64_t blocked_full_ns;  /* total ns senders spent parked: no room (or,
                                 unbuffered, no receiver yet) */
    int64_t blocked_empty_ns; /* total ns receivers spent parked: empty */
    bool closed;
} weft_chan_stats;

/* weft_chan_stats_get: fill *out with c's metrics. Time blocked counts the
 * time threads spent parked after their short spin, not the spin itself;
 * loop tasks' parks are sampled (one in 16, counted 16 times): an estimate
 * that costs them no clock read per park.
 * Ownership: borrows c and out (neither NULL).
 * Thread-safety: any thread, concurrently with everything but destroy. */
void weft_chan_stats_get(const weft_chan *c, weft_chan_stats *out);

/* weft_chan_report: append c's metrics to a report (weft/metrics.h), one
 * row each, named "<prefix>.sends", ".recvs", ".depth", ".peak_depth",
 * ".capacity", ".unfinished", ".blocked_full", ".blocked_empty" (the last
 * two in ns). prefix NULL means the channel's name.
 * Returns: 0.
 * Errors: -EINVAL if c or r is NULL; -ENOMEM (rows added before the
 *         failure stay).
 * Ownership: borrows c, r and prefix.
 * Thread-safety: any thread for c; r as weft_report allows (one adder). */
int weft_chan_report(const weft_chan *c, weft_report *r, const char *prefix);

/* ---- select ------------------------------------------------------------ */

enum {
    WEFT_SELECT_SEND = 1, /* send *elem on chan */
    WEFT_SELECT_RECV = 2, /* receive from chan into *elem */
};

typedef struct weft_select_case {
    weft_chan *chan; /* NULL: the case is disabled, never chosen (Go's nil
                        channel) */
    int op;          /* WEFT_SELECT_SEND or WEFT_SELECT_RECV */
    void *elem;      /* SEND: the element (read); RECV: where it goes */
    int result;      /* out, for the chosen case: 0, or -EPIPE (closed; for
                        RECV: closed and drained, Go's ok == false) */
} weft_select_case;

/* weft_chan_select: wait until one of the cases can complete, complete
 * exactly that one, and say which. A SEND case is ready when its channel
 * has room (unbuffered: a receiver is blocked on it) or is closed; a RECV
 * case when its channel has an element or is closed and drained. When
 * several are ready, one is chosen uniformly at random (fair: no case
 * starves; with more than 64 cases the order is a random rotation). A
 * closed channel completes its case with result -EPIPE and moves nothing.
 * A select whose cases are all disabled waits for its deadline (forever
 * with WEFT_NEVER), like Go's select on nil channels. Time spent in select
 * is not counted in the channels' blocked_* metrics.
 * Returns: the index (>= 0) of the case that completed; its result field
 *          is set (the other cases are untouched, their elements unmoved).
 * Errors: -ETIMEDOUT if none was ready before the deadline (WEFT_NOW: none
 *         was ready now: Go's default:); -EINVAL if cases is NULL, n is 0,
 *         a case with a channel has an unknown op or a NULL elem, or one
 *         select both sends to and receives from the same unbuffered
 *         channel (it could only meet itself); -ENOMEM if n > 16 and the
 *         wait could not allocate its bookkeeping.
 * Ownership: borrows cases and everything they point to.
 * Thread-safety: any thread; cases belong to the caller. */
int weft_chan_select(weft_select_case *cases, size_t n, int64_t deadline);

#ifdef __cplusplus
}
#endif
#endif
