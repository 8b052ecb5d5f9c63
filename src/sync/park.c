/* The parking lot: see src/sync/park.h for the protocol.
 *
 * Synchronization: buckets[i].lock guards buckets[i]'s queue (head, tail)
 * and the key/next/prev/linked fields of every entry on it. The entry's
 * waiter state is the one atomic shared without that lock; it leaves
 * WAITING exactly once (woken by an unparker, or timed out), see waiter.h.
 * The table is static and zero-initialized, which is a valid empty table. */
#include <stddef.h>
#include <stdint.h>

#include <weft/error.h>

#include "sync/lock.h"
#include "sync/park.h"
#include "sync/waiter.h"

enum { BUCKET_BITS = 8, BUCKET_COUNT = 1 << BUCKET_BITS };

typedef struct parked parked;
struct parked {
    const void *key;
    parked *next, *prev;
    bool linked;
    weft__waiter waiter;
};

/* One cache line per bucket, so unrelated primitives that park at the same
 * time do not bounce each other's lines. */
typedef struct bucket {
    _Alignas(64) weft__lock lock;
    parked *head, *tail;
} bucket;

static bucket buckets[BUCKET_COUNT];

static bucket *bucket_of(const void *key)
{
    /* Fibonacci hashing: primitives are often adjacent in memory, and the
     * multiply spreads neighbouring addresses over the whole table. */
    uint64_t h = (uint64_t)(uintptr_t)key * UINT64_C(0x9E3779B97F4A7C15);
    return &buckets[h >> (64 - BUCKET_BITS)];
}

static void unlink_locked(bucket *b, parked *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        b->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        b->tail = p->prev;
    p->linked = false;
}

bool weft__park_check_u32(const void *key, const void *ctx)
{
    /* Relaxed is enough: the bucket lock orders this load after the
     * waker's state change (protocol step 3). */
    return atomic_load_explicit((_Atomic uint32_t *)key, memory_order_relaxed) ==
           *(const uint32_t *)ctx;
}

bool weft__park_check_u64(const void *key, const void *ctx)
{
    return atomic_load_explicit((_Atomic uint64_t *)key, memory_order_relaxed) ==
           *(const uint64_t *)ctx;
}

int weft__park(const void *key, weft__park_check *check, const void *ctx, int64_t deadline,
               unsigned flags)
{
    bucket *b = bucket_of(key);
    parked self;
    self.key = key;
    self.next = NULL;
    weft__waiter_init(&self.waiter);
    self.waiter.nocancel = flags & WEFT__PARK_NOCANCEL;

    /* Step 2: check and queue under the bucket lock. */
    weft__lock_acquire(&b->lock);
    if (!check(key, ctx)) {
        weft__lock_release(&b->lock);
        return -EAGAIN;
    }
    self.prev = b->tail;
    if (b->tail)
        b->tail->next = &self;
    else
        b->head = &self;
    b->tail = &self;
    self.linked = true;
    weft__lock_release(&b->lock);

    int rc = weft__waiter_park(&self.waiter, deadline);
    if (rc >= 0) {
        /* The unparker unlinked us before waking us. A loop task may have
         * seen the claim before it ever suspended: pass the bucket lock
         * once, so the unparker (which delivers under it) is done posting
         * its wake before the task can finish (src/sync/waiter.h, "Tasks"). */
        if (self.waiter.ops) {
            weft__lock_acquire(&b->lock);
            weft__lock_release(&b->lock);
        }
        return 0;
    }

    /* Timed out or cancelled: nobody woke us (the waiter state says so),
     * but an unparker that lost the race for our state may already have
     * unlinked us. */
    weft__lock_acquire(&b->lock);
    if (self.linked)
        unlink_locked(b, &self);
    weft__lock_release(&b->lock);
    return rc;
}

int weft__unpark(const void *key, int n)
{
    bucket *b = bucket_of(key);
    int woken = 0;
    weft__lock_acquire(&b->lock);
    parked *p = b->head;
    while (p && woken < n) {
        parked *next = p->next;
        if (p->key == key) {
            unlink_locked(b, p);
            /* After a successful wake the waiter may return and its frame
             * vanish: p is not touched again. A failed wake means it timed
             * out; it finds itself unlinked and leaves. */
            if (weft__waiter_wake(&p->waiter, 0))
                woken++;
        }
        p = next;
    }
    weft__lock_release(&b->lock);
    return woken;
}

int weft__unpark_one(const void *key, void (*then)(void *ctx, bool woke, bool more), void *ctx)
{
    bucket *b = bucket_of(key);
    bool woke = false, more = false;
    weft__lock_acquire(&b->lock);
    parked *p = b->head;
    for (; p; p = p->next)
        if (p->key == key)
            break;
    while (p) {
        parked *next = p->next;
        while (next && next->key != key)
            next = next->next;
        unlink_locked(b, p);
        /* As in weft__unpark: p is not touched after a successful wake; a
         * failed one means it timed out, and the next one is tried. */
        if (weft__waiter_wake(&p->waiter, 0)) {
            woke = true;
            more = next != NULL;
            break;
        }
        p = next;
    }
    then(ctx, woke, more);
    weft__lock_release(&b->lock);
    return woke;
}
