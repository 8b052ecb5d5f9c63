/* Coroutine stacks: see src/coro/stack.h for the design and the
 * Synchronization block. */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <weft/coro.h>

#include "coro/sanitizer.h"
#include "coro/stack.h"
#include "sync/lock.h"

enum {
    SMALLEST = 1024,      /* class 0: 1 KiB; classes double from there */
    CLASSES = 22,         /* 1 KiB .. 2 GiB */
    REGION_MIN = 4 << 20, /* bytes: at least this much per pooled mapping */
    REGION_MAX_STACKS = 4096,
    /* Free stacks kept with their touched pages, per class; beyond that
     * a released stack's pages go back to the kernel (it stays pooled). */
    KEEP_WARM = 256,
};

/* A free stack's link lives at the top of its own memory: the top page is
 * always touched (a coroutine's first frame is there), so this commits no
 * new page. */
typedef struct free_stack {
    struct free_stack *next;
} free_stack;

static weft__lock pool_lock = WEFT__LOCK_INIT;
static free_stack *free_lists[CLASSES];
static size_t free_counts[CLASSES];
static size_t region_count, guarded_count;

size_t weft__stack_page(void)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

/* Sizes round up to a power of two from 1 KiB: below a page, several
 * stacks share one (see weft/coro.h on what that costs). */
static int class_of(size_t size, size_t *rounded)
{
    size_t bytes = SMALLEST;
    int cls = 0;
    while (bytes < size && cls < CLASSES - 1) {
        bytes <<= 1;
        cls++;
    }
    if (bytes < size)
        return -EINVAL;
    *rounded = bytes;
    return cls;
}

size_t weft__stack_round(size_t size)
{
    size_t rounded = 0;
    return class_of(size, &rounded) < 0 ? 0 : rounded;
}

static free_stack *link_of(void *lo, size_t size)
{
    return (free_stack *)((char *)lo + size - sizeof(free_stack));
}

static void *base_of(free_stack *f, size_t size)
{
    return (char *)f + sizeof(free_stack) - size;
}

/* Map a region of stacks of class cls and put all but one on the free
 * list. Called with pool_lock held. Returns the one kept, or NULL. */
static void *new_region(int cls, size_t size)
{
    size_t count = REGION_MIN / size;
    if (count < 1)
        count = 1;
    if (count > REGION_MAX_STACKS)
        count = REGION_MAX_STACKS;
    /* MAP_NORESERVE: the memory is committed page by page as stacks touch
     * it, and not charged up front against the overcommit limit. Stacks
     * below a page all touch every page they share, so those regions are
     * committed at once (MAP_POPULATE: one call instead of a fault per
     * page). */
    int populate = size < weft__stack_page() ? MAP_POPULATE : 0;
    void *region = mmap(NULL, count * size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK | populate, -1, 0);
    if (region == MAP_FAILED)
        return NULL;
    region_count++;
    for (size_t i = 1; i < count; i++) {
        free_stack *f = link_of((char *)region + i * size, size);
        f->next = free_lists[cls];
        free_lists[cls] = f;
        free_counts[cls]++;
    }
    return region;
}

int weft__stack_get(weft__stack *s, size_t size, bool guard)
{
    size_t rounded;
    int cls = class_of(size, &rounded);
    if (cls < 0 || size > WEFT_CORO_STACK_MAX)
        return -EINVAL;
    if (guard) {
        size_t page = weft__stack_page();
        if (rounded < page)
            rounded = page; /* a guard page protects whole pages */
        char *map = mmap(NULL, rounded + page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (map == MAP_FAILED)
            return -ENOMEM;
        if (mprotect(map, page, PROT_NONE) != 0) {
            munmap(map, rounded + page);
            return -ENOMEM;
        }
        weft__lock_acquire(&pool_lock);
        guarded_count++;
        weft__lock_release(&pool_lock);
        *s = (weft__stack){map + page, rounded, true};
        return 0;
    }
    void *lo;
    weft__lock_acquire(&pool_lock);
    free_stack *f = free_lists[cls];
    if (f) {
        free_lists[cls] = f->next;
        free_counts[cls]--;
        lo = base_of(f, rounded);
    } else {
        lo = new_region(cls, rounded);
    }
    weft__lock_release(&pool_lock);
    if (!lo)
        return -ENOMEM;
    *s = (weft__stack){lo, rounded, false};
    return 0;
}

void weft__stack_put(weft__stack *s)
{
    if (!s->lo)
        return;
    if (s->guarded) {
        size_t page = weft__stack_page();
        munmap((char *)s->lo - page, s->size + page);
        weft__lock_acquire(&pool_lock);
        guarded_count--;
        weft__lock_release(&pool_lock);
        s->lo = NULL;
        return;
    }
    size_t rounded;
    int cls = class_of(s->size, &rounded);
    /* The last frames of a finished coroutine never returned, so their
     * redzones are still poisoned: clear them before anyone reuses the
     * memory (the link below is the first such use). */
    weft__asan_unpoison(s->lo, s->size);
    /* Stacks below a page share pages with their neighbours: they stay
     * committed while pooled. */
    bool cool = false;
    if (s->size >= weft__stack_page()) {
        weft__lock_acquire(&pool_lock);
        cool = free_counts[cls] >= KEEP_WARM;
        weft__lock_release(&pool_lock);
    }
    /* Outside the lock: a system call. The pages are zero-filled again on
     * the next touch; the link written below touches the top one. */
    if (cool)
        madvise(s->lo, s->size, MADV_DONTNEED);
    free_stack *f = link_of(s->lo, s->size);
    weft__lock_acquire(&pool_lock);
    f->next = free_lists[cls];
    free_lists[cls] = f;
    free_counts[cls]++;
    weft__lock_release(&pool_lock);
    s->lo = NULL;
}

void weft__stack_stats_get(weft__stack_stats *out)
{
    weft__lock_acquire(&pool_lock);
    out->regions = region_count;
    out->guarded = guarded_count;
    out->pooled = 0;
    for (int i = 0; i < CLASSES; i++)
        out->pooled += free_counts[i];
    weft__lock_release(&pool_lock);
}
