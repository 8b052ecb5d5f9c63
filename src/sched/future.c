/* Futures and the as-completed iterator: see include/weft/future.h.
 *
 * Synchronization:
 * - `word` (atomic) holds the state in its low three bits plus two flags:
 *   CANCEL_REQ (a consumer asked a running future to stop) and HAS_CBS (a
 *   callback was registered before the terminal transition). Every state
 *   change is one compare-and-swap or add on `word`, so the first of
 *   start / complete / cancel to act on a state wins and the others see
 *   what it did.
 * - `value` and `err` are written only by the one thread that claimed the
 *   future (state COMPLETING, completion step 1) and read only after an
 *   acquire load sees a terminal state published by completion step 3.
 * - `cb_lock` guards the callback list and `inline_used`. Registration sets
 *   HAS_CBS while holding it, so the completer knows from `word` alone
 *   whether it needs the lock at all: completing a future nobody waits on
 *   and nobody registered a callback on takes no lock.
 * - `waitq` parks waiters (src/sync/waiter.h). Waiters live on their own
 *   stacks for one wait; they unlink themselves before returning, and the
 *   reference they borrow keeps the future (and so the queue) alive.
 * - `refs` counts references; the last unref frees (acq_rel, so every
 *   earlier use of the future happens before the free).
 *
 * Completion protocol (weft_future_complete):
 *   1. Claim: CAS PENDING|RUNNING -> COMPLETING, keeping the flags. Losing
 *      means someone else completed or cancelled it: -EALREADY. The claim
 *      makes the claimer the only writer of value and err.
 *   2. Store value and err.
 *   3. Publish: add (terminal - COMPLETING) to `word` (seq_cst: its
 *      release half publishes step 2 to readers that see the terminal
 *      state; the rest orders it before step 4's check). The add keeps
 *      flags set concurrently (a cancel request, HAS_CBS) and returns them.
 *   4. Wake every waiter, if the queue's lock-free count says there are any
 *      (may_have_waiters()).
 *   5. If HAS_CBS was set, detach the callback list under cb_lock and run
 *      it in registration order, outside the lock.
 * Cancelling a PENDING future does 1-3 as one CAS (PENDING -> CANCELLED;
 * there is no value to write), then 4 and 5.
 *
 * Registration protocol (weft_future_on_done and the iterator's nodes):
 *   1. Take cb_lock.
 *   2. CAS HAS_CBS into `word`, failing if the state is terminal: then
 *      -EALREADY and the callback never runs.
 *   3. Append the node; release cb_lock.
 * `word`'s modification order decides every race with completion step 3:
 * if our CAS came first the completer sees HAS_CBS and takes cb_lock after
 * our step 3, so it finds the node; otherwise our CAS sees the terminal
 * state. Either way the callback runs exactly once or never.
 *
 * Wait protocol: the one of src/sync/waiter.h (link, re-check, park,
 * unlink). Step 5 there (passing a wake on) is not needed: a completion
 * wakes every waiter and its state never goes back, so no wake is ever
 * consumed on another's behalf. */
#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <weft/error.h>
#include <weft/future.h>
#include <weft/time.h>

#include "sched/future_internal.h"
#include "sync/lock.h"
#include "sync/waiter.h"

enum {
    ST_PENDING = 0,
    ST_RUNNING = 1,
    ST_COMPLETING = 2, /* claimed by a completer: value being written */
    ST_DONE = 3,       /* the terminal states are the three highest */
    ST_FAILED = 4,
    ST_CANCELLED = 5,
    ST_MASK = 7,
    F_CANCEL_REQ = 1u << 3,
    F_HAS_CBS = 1u << 4,
};

enum node_kind {
    NODE_INLINE,   /* the future's own slot: the common single callback, no malloc */
    NODE_HEAP,     /* allocated by weft_future_on_done, freed after it runs */
    NODE_EXTERNAL, /* owned by the as-completed iterator */
};

typedef struct cb_node cb_node;
struct cb_node {
    cb_node *next, *prev;
    weft_future_cb *cb;
    void *arg;
    enum node_kind kind;
};

struct weft_future {
    _Atomic uint32_t word;
    _Atomic uint32_t refs;
    int err;
    weft_value value;
    weft__lock cb_lock;
    bool inline_used;
    cb_node inline_node;
    cb_node *cb_head, *cb_tail;
    weft__waitq waitq;
    /* Frees the memory on the last unref: NULL means free(); a producer that
     * embeds futures in its own records (the thread pool) sets its own. */
    void (*release)(weft_future *f);
    /* Told of a cancellation request on a RUNNING future (set by the
     * producer before the future is shared; the event loop's tasks). */
    void (*cancel_hook)(weft_future *f, void *ctx);
    void *cancel_ctx;
};

static inline bool is_terminal(uint32_t word)
{
    return (word & ST_MASK) >= ST_DONE;
}

/* Acquire pairs with completion step 3 (and cancel's CAS), so a caller that
 * sees a terminal state also sees value and err. The cast drops a const that
 * only the public read-only functions add. */
static inline uint32_t load_word(const weft_future *f)
{
    return atomic_load_explicit(&((weft_future *)f)->word, memory_order_acquire);
}

/* ---- Lifetime ---------------------------------------------------------- */

int weft_future_create(weft_future **out)
{
    if (!out)
        return -EINVAL;
    weft_future *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    atomic_init(&f->word, ST_PENDING);
    atomic_init(&f->refs, 1);
    weft__lock_init(&f->cb_lock);
    weft__waitq_init(&f->waitq);
    *out = f;
    return 0;
}

weft_future *weft_future_ref(weft_future *f)
{
    /* Relaxed: the caller already holds a reference, so the count cannot
     * reach zero concurrently; nothing is published by taking one. */
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void weft_future_unref(weft_future *f)
{
    if (!f)
        return;
    /* acq_rel: release orders this holder's uses of f before the free;
     * the acquire (on the last unref) pairs with every other holder's
     * release, so the free happens after all of them. */
    uint32_t old = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
    assert(old > 0);
    if (old != 1)
        return;
    /* Callbacks of a future that never finished (rule 6 in future.h): no
     * one can complete it any more, so they are dropped unrun. External
     * nodes cannot be here: the iterator holds a reference until it has
     * removed them. */
    for (cb_node *n = f->cb_head, *next; n; n = next) {
        next = n->next;
        if (n->kind == NODE_HEAP)
            free(n);
    }
    if (f->release)
        f->release(f);
    else
        free(f);
}

/* ---- Hooks for producers (sched/future_internal.h) ---------------------- */

const size_t weft__future_bytes = sizeof(weft_future);

size_t weft__future_size(void)
{
    return sizeof(weft_future);
}

void weft__future_init(weft_future *f, uint32_t refs, void (*release)(weft_future *f))
{
    /* Field by field rather than memset: value, err and the inline node are
     * written before they are read, and a recycled record's lines are
     * usually in another core's cache, so every line not touched here is a
     * transfer saved on the submit path. */
    f->inline_used = false;
    f->cb_head = f->cb_tail = NULL;
    atomic_init(&f->word, ST_PENDING);
    atomic_init(&f->refs, refs);
    weft__lock_init(&f->cb_lock);
    weft__waitq_init(&f->waitq);
    f->release = release;
    f->cancel_hook = NULL;
    f->cancel_ctx = NULL;
}

bool weft__future_released_by(const weft_future *f, void (*release)(weft_future *f))
{
    return f && f->release == release;
}

void weft__future_set_cancel_hook(weft_future *f, void (*hook)(weft_future *f, void *ctx),
                                  void *ctx)
{
    f->cancel_hook = hook;
    f->cancel_ctx = ctx;
}

weft__waitq *weft__future_waitq(weft_future *f)
{
    return &f->waitq;
}

/* ---- Completion --------------------------------------------------------- */

static void run_callbacks(weft_future *f)
{
    weft__lock_acquire(&f->cb_lock);
    cb_node *n = f->cb_head;
    f->cb_head = f->cb_tail = NULL;
    weft__lock_release(&f->cb_lock);
    while (n) {
        /* Read the node before the call: an external node's owner may free
         * it from inside its callback, and a heap node is freed here. */
        cb_node *next = n->next;
        weft_future_cb *cb = n->cb;
        void *arg = n->arg;
        if (n->kind == NODE_HEAP)
            free(n);
        cb(f, arg);
        n = next;
    }
}

/* Completion step 4's check for sleepers, without a lock. It replaces
 * weft__waitq_has_waiters(), whose seq_cst fence is redundant here: the
 * terminal transition just before is itself a seq_cst read-modify-write, so
 * this seq_cst load pairs with weft__waitq_add()'s seq_cst count bump and
 * fence (C11 7.17.3p6 and p9): either the waiter's re-check after linking
 * sees the terminal state, or this load sees the waiter. (The fence also
 * trips GCC's -Wtsan, an error in the TSan build.) */
static inline bool may_have_waiters(weft__waitq *q)
{
    return atomic_load_explicit(&q->count, memory_order_seq_cst) != 0;
}

/* Completion steps 4 and 5, after the terminal transition; `old` is the
 * word as it was just before it. */
static void finish(weft_future *f, uint32_t old)
{
    if (may_have_waiters(&f->waitq))
        weft__waitq_wake_all(&f->waitq);
    if (old & F_HAS_CBS)
        run_callbacks(f);
}

int weft_future_start(weft_future *f)
{
    uint32_t w = atomic_load_explicit(&f->word, memory_order_relaxed);
    do {
        uint32_t st = w & ST_MASK;
        if (st == ST_CANCELLED)
            return -ECANCELED;
        if (st != ST_PENDING)
            return -EALREADY;
        /* Relaxed: starting publishes nothing; the CAS only has to decide
         * the race with a cancel of the PENDING future. */
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &w,
                                                    (w & ~(uint32_t)ST_MASK) | ST_RUNNING,
                                                    memory_order_relaxed, memory_order_relaxed));
    return 0;
}

int weft_future_complete(weft_future *f, weft_value value, int err)
{
    if (err > 0)
        return -EINVAL;
    /* Step 1: claim. Relaxed: the claim excludes other writers but publishes
     * nothing; step 3 does the publishing. */
    uint32_t w = atomic_load_explicit(&f->word, memory_order_relaxed);
    do {
        uint32_t st = w & ST_MASK;
        if (st != ST_PENDING && st != ST_RUNNING)
            return -EALREADY;
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &w,
                                                    (w & ~(uint32_t)ST_MASK) | ST_COMPLETING,
                                                    memory_order_relaxed, memory_order_relaxed));
    /* Step 2. */
    uint32_t target = err == 0 ? ST_DONE : err == -ECANCELED ? ST_CANCELLED : ST_FAILED;
    f->value = value;
    f->err = err;
    /* Step 3: the state bits are COMPLETING and only we may change them, so
     * adding the difference sets the terminal state without a carry into
     * the flags, in one instruction. Its release half pairs with
     * load_word(); seq_cst orders it before step 4's load (see
     * may_have_waiters()). */
    uint32_t old =
        atomic_fetch_add_explicit(&f->word, target - ST_COMPLETING, memory_order_seq_cst);
    /* Steps 4 and 5. */
    finish(f, old);
    return 0;
}

bool weft_future_cancel_requested(const weft_future *f)
{
    uint32_t w = load_word(f);
    return (w & F_CANCEL_REQ) || (w & ST_MASK) == ST_CANCELLED;
}

/* ---- Consumer side ----------------------------------------------------- */

weft_future_state weft_future_get_state(const weft_future *f)
{
    switch (load_word(f) & ST_MASK) {
    case ST_PENDING:
        return WEFT_FUTURE_PENDING;
    case ST_RUNNING:
    case ST_COMPLETING: /* not terminal yet; the task has finished running */
        return WEFT_FUTURE_RUNNING;
    case ST_DONE:
        return WEFT_FUTURE_DONE;
    case ST_FAILED:
        return WEFT_FUTURE_FAILED;
    default:
        return WEFT_FUTURE_CANCELLED;
    }
}

int weft_future_cancel(weft_future *f)
{
    uint32_t w = atomic_load_explicit(&f->word, memory_order_relaxed);
    for (;;) {
        uint32_t st = w & ST_MASK;
        if (st == ST_PENDING) {
            /* Steps 1-3 at once. Release pairs with load_word() (readers
             * of the CANCELLED state and of the request flag); seq_cst, as
             * in complete, orders it before may_have_waiters(). */
            uint32_t to = (w & ~(uint32_t)ST_MASK) | F_CANCEL_REQ | ST_CANCELLED;
            if (atomic_compare_exchange_weak_explicit(&f->word, &w, to, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                finish(f, w);
                return 0;
            }
        } else if (st == ST_RUNNING || st == ST_COMPLETING) {
            if (w & F_CANCEL_REQ)
                return -EBUSY;
            /* Release pairs with the acquire in weft_future_cancel_requested():
             * a task that sees the request sees what the canceller wrote
             * before asking. */
            if (atomic_compare_exchange_weak_explicit(&f->word, &w, w | F_CANCEL_REQ,
                                                      memory_order_release, memory_order_relaxed)) {
                /* Only the first request gets here (the flag is set once). */
                if (f->cancel_hook)
                    f->cancel_hook(f, f->cancel_ctx);
                return -EBUSY;
            }
        } else {
            return -EALREADY;
        }
    }
}

int weft_future_wait(weft_future *f, int64_t deadline)
{
    if (is_terminal(load_word(f)))
        return 0;
    if (weft_deadline_passed(deadline))
        return -ETIMEDOUT;
    for (;;) {
        weft__waiter w;
        weft__wait_link link;
        weft__waiter_init(&w);
        weft__waitq_add(&f->waitq, &link, &w, 0);
        /* Re-check after linking: a completion that came before the link
         * saw no waiter and woke nobody. */
        int rc = is_terminal(load_word(f)) ? 0 : weft__waiter_park(&w, deadline);
        weft__waitq_remove(&f->waitq, &link);
        if (is_terminal(load_word(f)))
            return 0; /* a completion racing the deadline counts as success */
        if (rc == -ETIMEDOUT || rc == -ECANCELED)
            return rc;
    }
}

static int outcome(uint32_t word, const weft_future *f)
{
    switch (word & ST_MASK) {
    case ST_DONE:
        return 0;
    case ST_FAILED:
        return f->err;
    case ST_CANCELLED:
        return -ECANCELED;
    default:
        return -EAGAIN;
    }
}

int weft_future_result(weft_future *f, int64_t deadline, weft_value *value)
{
    int rc = weft_future_wait(f, deadline);
    if (rc != 0)
        return rc;
    rc = outcome(load_word(f), f);
    if (rc == 0 && value)
        *value = f->value;
    return rc;
}

int weft_future_error(const weft_future *f)
{
    return outcome(load_word(f), f);
}

/* ---- Callbacks --------------------------------------------------------- */

/* Registration steps 2 and 3; the caller holds cb_lock (step 1). */
static int add_node_locked(weft_future *f, cb_node *node)
{
    uint32_t w = atomic_load_explicit(&f->word, memory_order_relaxed);
    do {
        if (is_terminal(w))
            return -EALREADY;
        /* Relaxed: cb_lock, not this CAS, orders the list; the CAS only has
         * to land before or after completion step 3 in `word`'s
         * modification order (see the protocol above). */
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &w, w | F_HAS_CBS,
                                                    memory_order_relaxed, memory_order_relaxed));
    node->next = NULL;
    node->prev = f->cb_tail;
    if (f->cb_tail)
        f->cb_tail->next = node;
    else
        f->cb_head = node;
    f->cb_tail = node;
    return 0;
}

/* Unregister a node that add_node_locked() accepted. Returns true if it was
 * removed and will never run; false if the future is terminal, in which case
 * its completer has detached the node or is about to, and runs it. */
static bool remove_node(weft_future *f, cb_node *node)
{
    weft__lock_acquire(&f->cb_lock);
    /* Under cb_lock the list is intact exactly while the state is not
     * terminal: the completer detaches it only after step 3. */
    bool removed = !is_terminal(atomic_load_explicit(&f->word, memory_order_relaxed));
    if (removed) {
        if (node->prev)
            node->prev->next = node->next;
        else
            f->cb_head = node->next;
        if (node->next)
            node->next->prev = node->prev;
        else
            f->cb_tail = node->prev;
        if (node == &f->inline_node)
            f->inline_used = false;
    }
    weft__lock_release(&f->cb_lock);
    return removed;
}

int weft_future_on_done(weft_future *f, weft_future_cb *cb, void *arg)
{
    if (!cb)
        return -EINVAL;
    if (is_terminal(load_word(f)))
        return -EALREADY; /* fast path: no lock, no allocation */
    cb_node *heap = NULL;
    weft__lock_acquire(&f->cb_lock);
    /* The inline slot serves the first callback; later ones need a node,
     * allocated outside the lock so the completer never waits on malloc. */
    while (f->inline_used && !heap) {
        weft__lock_release(&f->cb_lock);
        heap = malloc(sizeof *heap);
        if (!heap)
            return -ENOMEM;
        weft__lock_acquire(&f->cb_lock);
    }
    cb_node *node = f->inline_used ? heap : &f->inline_node;
    node->cb = cb;
    node->arg = arg;
    node->kind = node == heap ? NODE_HEAP : NODE_INLINE;
    int rc = add_node_locked(f, node);
    if (rc == 0 && node == &f->inline_node)
        f->inline_used = true;
    weft__lock_release(&f->cb_lock);
    if (rc != 0 || node != heap)
        free(heap);
    return rc;
}

/* ---- Waiting for many -------------------------------------------------- */

/* Does mode's condition hold now? If so, *hit is the index to report. */
static bool mode_holds(weft_future *const *fs, size_t n, weft_wait_mode mode, size_t *hit)
{
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        uint32_t st = load_word(fs[i]) & ST_MASK;
        if (st < ST_DONE) {
            all = false;
        } else if (mode == WEFT_WAIT_FIRST_COMPLETED ||
                   (mode == WEFT_WAIT_FIRST_EXCEPTION && st == ST_FAILED)) {
            *hit = i;
            return true;
        }
    }
    if (all && mode == WEFT_WAIT_FIRST_EXCEPTION) {
        *hit = n;
        return true;
    }
    return false;
}

int weft_future_wait_many(weft_future *const *fs, size_t n, weft_wait_mode mode, int64_t deadline,
                          size_t *index)
{
    if (mode != WEFT_WAIT_FIRST_COMPLETED && mode != WEFT_WAIT_FIRST_EXCEPTION &&
        mode != WEFT_WAIT_ALL_COMPLETED)
        return -EINVAL;
    if (n > 0 && !fs)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return -EINVAL;
    if (n == 0 && mode == WEFT_WAIT_FIRST_COMPLETED)
        return -EINVAL;

    if (mode == WEFT_WAIT_ALL_COMPLETED) {
        /* All of them must finish, so waiting on each in turn is as quick
         * as waiting on all at once, and needs one wait link, not n. */
        for (size_t i = 0; i < n; i++) {
            int rc = weft_future_wait(fs[i], deadline);
            if (rc != 0)
                return rc;
        }
        if (index)
            *index = n;
        return 0;
    }

    size_t hit = n;
    if (mode_holds(fs, n, mode, &hit))
        goto out;
    if (weft_deadline_passed(deadline))
        return -ETIMEDOUT;

    /* One waiter linked on every unfinished future's queue: whichever
     * finishes first wakes it. The links live on the stack for small n. */
    weft__wait_link stack_links[WEFT_FUTURE_WAIT_STACK];
    weft__wait_link *links = stack_links;
    if (n > WEFT_FUTURE_WAIT_STACK) {
        if (n > SIZE_MAX / sizeof *links)
            return -ENOMEM;
        links = malloc(n * sizeof *links);
        if (!links)
            return -ENOMEM;
    }
    int rc;
    for (;;) {
        weft__waiter w;
        weft__waiter_init(&w);
        for (size_t i = 0; i < n; i++) {
            links[i].waiter = NULL; /* marks "not linked" for the unlink loop */
            if (!is_terminal(load_word(fs[i])))
                weft__waitq_add(&fs[i]->waitq, &links[i], &w, 0);
        }
        bool holds = mode_holds(fs, n, mode, &hit);
        int park_rc = holds ? 0 : weft__waiter_park(&w, deadline);
        for (size_t i = 0; i < n; i++)
            if (links[i].waiter)
                weft__waitq_remove(&fs[i]->waitq, &links[i]);
        if (holds || mode_holds(fs, n, mode, &hit)) {
            rc = 0;
            break;
        }
        /* Woken by a completion that does not satisfy the mode (a future
         * finished without failing, under FIRST_EXCEPTION): wait again. */
        if (park_rc == -ETIMEDOUT || park_rc == -ECANCELED) {
            rc = park_rc;
            break;
        }
    }
    if (links != stack_links)
        free(links);
    if (rc != 0)
        return rc;
out:
    if (index)
        *index = hit;
    return 0;
}

int weft_future_wait_any(weft_future *const *fs, size_t n, int64_t deadline, size_t *index)
{
    return weft_future_wait_many(fs, n, WEFT_WAIT_FIRST_COMPLETED, deadline, index);
}

int weft_future_wait_all(weft_future *const *fs, size_t n, int64_t deadline)
{
    return weft_future_wait_many(fs, n, WEFT_WAIT_ALL_COMPLETED, deadline, NULL);
}

/* ---- As completed ------------------------------------------------------ */

/* The iterator registers one external callback node per future. The node
 * lives in the iterator, which may be destroyed before every future
 * finishes; so the iterator is reference counted: one reference for its
 * owner, one for each registered node whose callback may still run.
 * Destroy removes the nodes it can (remove_node) and drops their
 * references; a callback already detached by its completer runs later,
 * pushes into a list nobody reads, and drops the last reference.
 *
 * Synchronization: `lock` guards `finished`, `n_finished`, `n_yielded`.
 * Consumers wait on `waitq` with the protocol of src/sync/waiter.h; the
 * callback pushes under the lock and then wakes them all. */
typedef struct ac_slot {
    cb_node node;
    weft_as_completed *it;
    size_t index;
} ac_slot;

struct weft_as_completed {
    _Atomic size_t refs;
    size_t n;
    weft__lock lock;
    size_t n_finished, n_yielded;
    weft__waitq waitq;
    weft_future **fs; /* n, each holding a reference until destroy */
    size_t *finished; /* indices in the order they finished; n at most */
    ac_slot slots[];  /* n */
};

static void ac_unref(weft_as_completed *it)
{
    /* acq_rel: as in weft_future_unref(), every user's accesses happen
     * before the free. */
    if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) == 1)
        free(it);
}

static void ac_push(weft_as_completed *it, size_t index)
{
    weft__lock_acquire(&it->lock);
    it->finished[it->n_finished++] = index;
    weft__lock_release(&it->lock);
    /* it->lock orders this check, so it may be relaxed: a consumer links
     * itself, then re-checks under it->lock (ac_ready). If its check came
     * after our push it sees the index; if before, its link happened before
     * our lock section, so this load sees it (or its later unlink, after
     * which it retries on its own). */
    if (atomic_load_explicit(&it->waitq.count, memory_order_relaxed) != 0)
        weft__waitq_wake_all(&it->waitq);
}

static void ac_on_done(weft_future *f, void *arg)
{
    (void)f;
    ac_slot *slot = arg;
    weft_as_completed *it = slot->it;
    ac_push(it, slot->index);
    ac_unref(it); /* the reference this registration held; may free it */
}

int weft_as_completed_create(weft_as_completed **out, weft_future *const *fs, size_t n)
{
    if (!out || (n > 0 && !fs))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return -EINVAL;
    size_t per = sizeof(ac_slot) + sizeof(weft_future *) + sizeof(size_t);
    if (n > (SIZE_MAX - sizeof(weft_as_completed)) / per)
        return -ENOMEM;
    weft_as_completed *it = calloc(1, sizeof *it + n * per);
    if (!it)
        return -ENOMEM;
    atomic_init(&it->refs, 1);
    it->n = n;
    weft__lock_init(&it->lock);
    weft__waitq_init(&it->waitq);
    /* Both arrays hold pointer-sized elements, so they stay aligned after
     * the slots. */
    it->fs = (weft_future **)(void *)(it->slots + n);
    it->finished = (size_t *)(void *)(it->fs + n);
    for (size_t i = 0; i < n; i++) {
        it->fs[i] = weft_future_ref(fs[i]);
        ac_slot *slot = &it->slots[i];
        slot->it = it;
        slot->index = i;
        slot->node.cb = ac_on_done;
        slot->node.arg = slot;
        slot->node.kind = NODE_EXTERNAL;
    }
    for (size_t i = 0; i < n; i++) {
        /* Take the registration's reference first: once registered, the
         * callback may run (and drop it) on another thread at once. */
        atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
        weft_future *f = it->fs[i];
        weft__lock_acquire(&f->cb_lock);
        int rc = add_node_locked(f, &it->slots[i].node);
        weft__lock_release(&f->cb_lock);
        if (rc != 0) {
            /* Already terminal: it finished before we could watch it. */
            ac_push(it, i);
            atomic_fetch_sub_explicit(&it->refs, 1, memory_order_relaxed);
        }
    }
    *out = it;
    return 0;
}

/* 0 and *index, -EPIPE when all were yielded, -EAGAIN when none is ready. */
static int ac_try_next(weft_as_completed *it, size_t *index)
{
    int rc = -EAGAIN;
    weft__lock_acquire(&it->lock);
    if (it->n_yielded < it->n_finished) {
        size_t i = it->finished[it->n_yielded++];
        if (index)
            *index = i;
        rc = 0;
    } else if (it->n_yielded == it->n) {
        rc = -EPIPE;
    }
    weft__lock_release(&it->lock);
    return rc;
}

static bool ac_ready(weft_as_completed *it)
{
    weft__lock_acquire(&it->lock);
    bool ready = it->n_yielded < it->n_finished || it->n_yielded == it->n;
    weft__lock_release(&it->lock);
    return ready;
}

int weft_as_completed_next(weft_as_completed *it, int64_t deadline, size_t *index)
{
    int park_rc = 0;
    for (;;) {
        int rc = ac_try_next(it, index);
        if (rc != -EAGAIN)
            return rc;
        if (park_rc == -ECANCELED)
            return park_rc;
        if (park_rc == -ETIMEDOUT || weft_deadline_passed(deadline))
            return -ETIMEDOUT;
        weft__waiter w;
        weft__wait_link link;
        weft__waiter_init(&w);
        weft__waitq_add(&it->waitq, &link, &w, 0);
        /* Re-check after linking (waiter.h step 3). */
        if (!ac_ready(it))
            park_rc = weft__waiter_park(&w, deadline);
        weft__waitq_remove(&it->waitq, &link);
    }
}

void weft_as_completed_destroy(weft_as_completed *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->n; i++) {
        /* The slot of a future that finished during create was never
         * registered; remove_node() then sees a terminal state and leaves
         * the list alone, and no reference is held for it. */
        if (remove_node(it->fs[i], &it->slots[i].node))
            atomic_fetch_sub_explicit(&it->refs, 1, memory_order_relaxed);
    }
    for (size_t i = 0; i < it->n; i++)
        weft_future_unref(it->fs[i]);
    ac_unref(it);
}
