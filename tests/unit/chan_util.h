/* Helpers shared by the channel tests (tests/unit/chan_*_test.c). */
#ifndef WEFT_TEST_CHAN_UTIL_H
#define WEFT_TEST_CHAN_UTIL_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include <weft/chan.h>
#include <weft/time.h>

#include "weft_test.h"

static inline weft_chan *chan_new(size_t elem_size, size_t capacity)
{
    weft_chan *c = NULL;
    weft_chan_opts o = {.elem_size = elem_size, .capacity = capacity, .name = "test"};
    WT_OK(weft_chan_create(&c, &o));
    WT_ASSERT(c != NULL);
    return c;
}

static inline pthread_t thread_start(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    WT_EQ(pthread_create(&t, NULL, fn, arg), 0);
    return t;
}

static inline void thread_join(pthread_t t)
{
    WT_EQ(pthread_join(t, NULL), 0);
}

/* Wait (yielding, never sleeping) until n threads are parked in timed
 * waits on the virtual clock: they are then linked on their queues. */
static inline void wait_parked(int n)
{
    while (weft_clock_timed_waiters() < n)
        sched_yield();
}

/* A deadline far in the virtual future: a wait on it counts in
 * weft_clock_timed_waiters() but never fires unless the test advances. */
static inline int64_t far_deadline(void)
{
    return weft_now() + 1000 * WEFT_SEC;
}

/* Start the virtual clock once per test program. */
static inline void use_virtual_clock(void)
{
    WT_OK(weft_clock_use_virtual(1000 * WEFT_SEC));
}

#endif
