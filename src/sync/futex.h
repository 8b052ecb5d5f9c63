/* Internal: the futex system call, behind two functions. src/sync is the only
 * code that calls it; everything else parks through weft__waiter or a sync
 * primitive. */
#ifndef WEFT_SYNC_FUTEX_H
#define WEFT_SYNC_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <weft/time.h>

/* weft__futex_wait: sleep while *addr == expected, until woken or until the
 * absolute real-monotonic deadline (WEFT_NEVER: no limit).
 * Returns: 0 when woken, or when *addr != expected already, or on a signal
 *          (callers re-check their condition in a loop); -ETIMEDOUT. */
static inline int weft__futex_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    if (deadline != WEFT_NEVER) {
        ts.tv_sec = deadline / WEFT_SEC;
        ts.tv_nsec = deadline % WEFT_SEC;
        tsp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout, which is
     * exactly weft's deadline convention on the real clock. */
    long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, expected, tsp,
                      NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == -1 && errno == ETIMEDOUT)
        return -ETIMEDOUT;
    return 0;
}

/* weft__futex_wake: wake up to n threads sleeping on addr (INT_MAX: all). */
static inline void weft__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* weft__futex_wait_shared / weft__futex_wake_shared: the same on memory
 * shared between processes (a MAP_SHARED mapping): the kernel keys the
 * futex by the page, not by this process's address. */
static inline int weft__futex_wait_shared(_Atomic uint32_t *addr, uint32_t expected,
                                          int64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    if (deadline != WEFT_NEVER) {
        ts.tv_sec = deadline / WEFT_SEC;
        ts.tv_nsec = deadline % WEFT_SEC;
        tsp = &ts;
    }
    long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET, expected, tsp, NULL,
                      FUTEX_BITSET_MATCH_ANY);
    if (rc == -1 && errno == ETIMEDOUT)
        return -ETIMEDOUT;
    return 0;
}

static inline void weft__futex_wake_shared(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* A CPU hint for spin loops. */
static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
