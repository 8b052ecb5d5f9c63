/* Tests: counting the process's threads (/proc/self/task), to check that a
 * pool leaves none behind. Header-only, static helpers. */
#ifndef WEFT_TEST_THREADS_H
#define WEFT_TEST_THREADS_H

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "weft_test.h"

static void *nop_thread(void *arg)
{
    *(long *)arg = syscall(SYS_gettid);
    return NULL;
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    WT_ASSERT(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* /proc/self/task can list a joined thread for a moment after
 * pthread_join() returns (the kernel reaps it just after it wakes the
 * joiner), so counts are polled until they settle, within a bound. */
static void expect_threads(int n)
{
    for (int i = 0; i < 1000000 && thread_count() != n; i++)
        sched_yield();
    WT_EQ(thread_count(), n);
}

/* Under TSan the runtime starts a background thread of its own with the
 * first thread the program creates: start and join one first, and wait
 * for every earlier thread to be reaped, so the count before a pool is
 * stable. */
static int stable_thread_count(void)
{
    /* The first call comes before the program starts any thread. */
    static int before = -1;
    if (before < 0)
        before = thread_count();
    pthread_t th;
    long tid = 0;
    WT_EQ(pthread_create(&th, NULL, nop_thread, &tid), 0);
    pthread_join(th, NULL);
    /* Until the kernel has reaped this very thread: counting alone cannot
     * tell it from TSan's background thread. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld", tid);
    for (int i = 0; i < 1000000 && access(path, F_OK) == 0; i++)
        sched_yield();
    for (int i = 0; i < 1000000 && thread_count() > before + 1; i++)
        sched_yield();
    int n = thread_count();
    WT_LE(n, before + 1);
    return n;
}

#endif
