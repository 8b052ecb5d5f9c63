/* The process pool's argument arena: a buddy allocator over the shared
 * memory's arena (see procpool_internal.h). Only the parent allocates and
 * frees; workers just read the blocks they are given.
 *
 * Blocks are powers of two from ARENA_MIN bytes. A free block is on its
 * order's list, linked through its first 16 bytes (offsets, in the arena
 * itself); `marks` (parent memory, one byte per ARENA_MIN bytes, committed
 * as used) says at each block's first byte what starts there: nothing,
 * an allocated block of order k (k + 1), or a free one (FREE | k). Freeing
 * merges a block with its buddy while the buddy is free and of the same
 * order.
 *
 * Synchronization: one lock (`lock`) around every call; submitters and the
 * collector thread call in. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/procpool_internal.h"
#include "sync/lock.h"

#define ARENA_MIN_SHIFT 7 /* 128 bytes: smaller arguments ride in the slot */
#define ARENA_MIN ((size_t)1 << ARENA_MIN_SHIFT)
#define ORDERS 40
#define FREE 0x80
#define NONE (-1)

typedef struct free_link {
    int64_t next, prev;
} free_link;

struct proc_arena {
    weft__lock lock;
    unsigned char *base; /* the arena in the parent's mapping */
    size_t size;         /* a power of two */
    int top;             /* the order of the whole arena */
    unsigned char *marks;
    int64_t heads[ORDERS];
};

int weft__proc_arena_create(proc_arena **out, size_t size)
{
    if (size < ARENA_MIN * 4 || (size & (size - 1)))
        return -EINVAL;
    proc_arena *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->marks = calloc(size >> ARENA_MIN_SHIFT, 1);
    if (!a->marks) {
        free(a);
        return -ENOMEM;
    }
    weft__lock_init(&a->lock);
    a->size = size;
    a->top = 0;
    while ((ARENA_MIN << a->top) < size)
        a->top++;
    for (int k = 0; k < ORDERS; k++)
        a->heads[k] = NONE;
    *out = a;
    return 0;
}

void weft__proc_arena_attach(proc_arena *a, void *base)
{
    a->base = base;
    /* The whole arena is one free block. */
    free_link *l = (free_link *)a->base;
    l->next = l->prev = NONE;
    a->heads[a->top] = 0;
    a->marks[0] = (unsigned char)(FREE | a->top);
}

void weft__proc_arena_destroy(proc_arena *a)
{
    if (!a)
        return;
    free(a->marks);
    free(a);
}

static free_link *link_at(proc_arena *a, int64_t off)
{
    return (free_link *)(a->base + off);
}

static void push_free(proc_arena *a, int64_t off, int k)
{
    free_link *l = link_at(a, off);
    l->prev = NONE;
    l->next = a->heads[k];
    if (l->next != NONE)
        link_at(a, l->next)->prev = off;
    a->heads[k] = off;
    a->marks[off >> ARENA_MIN_SHIFT] = (unsigned char)(FREE | k);
}

static void unlink_free(proc_arena *a, int64_t off, int k)
{
    free_link *l = link_at(a, off);
    if (l->prev != NONE)
        link_at(a, l->prev)->next = l->next;
    else
        a->heads[k] = l->next;
    if (l->next != NONE)
        link_at(a, l->next)->prev = l->prev;
    a->marks[off >> ARENA_MIN_SHIFT] = 0;
}

int64_t weft__proc_arena_alloc(proc_arena *a, size_t len)
{
    if (len > a->size / 4)
        return -E2BIG;
    int want = 0;
    while ((ARENA_MIN << want) < len)
        want++;
    weft__lock_acquire(&a->lock);
    int k = want;
    while (k <= a->top && a->heads[k] == NONE)
        k++;
    if (k > a->top) {
        weft__lock_release(&a->lock);
        return -ENOMEM;
    }
    int64_t off = a->heads[k];
    unlink_free(a, off, k);
    /* Split down to the wanted order; the upper halves go free. */
    while (k > want) {
        k--;
        push_free(a, off + (int64_t)(ARENA_MIN << k), k);
    }
    a->marks[off >> ARENA_MIN_SHIFT] = (unsigned char)(want + 1);
    weft__lock_release(&a->lock);
    return off;
}

void weft__proc_arena_free(proc_arena *a, int64_t off)
{
    weft__lock_acquire(&a->lock);
    unsigned char m = a->marks[off >> ARENA_MIN_SHIFT];
    if (m == 0 || (m & FREE)) {
        weft__lock_release(&a->lock);
        abort(); /* not a block we handed out: the pool's own bug */
    }
    int k = m - 1;
    while (k < a->top) {
        int64_t buddy = off ^ (int64_t)(ARENA_MIN << k);
        if (a->marks[buddy >> ARENA_MIN_SHIFT] != (unsigned char)(FREE | k))
            break;
        unlink_free(a, buddy, k);
        a->marks[off >> ARENA_MIN_SHIFT] = 0;
        off &= ~(int64_t)(ARENA_MIN << k);
        k++;
    }
    push_free(a, off, k);
    weft__lock_release(&a->lock);
}

