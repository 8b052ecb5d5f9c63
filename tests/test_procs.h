/* Tests: what a process holds, read from /proc, to check that a pool or a
 * loop leaves nothing behind: directory entries (open fds, /dev/shm), child
 * processes and their states. Header-only, static helpers; a test uses
 * those it needs. */
#ifndef WEFT_TEST_PROCS_H
#define WEFT_TEST_PROCS_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "weft_test.h"

/* Entries of a directory ("." and ".." included: compare counts). */
static inline int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    WT_ASSERT(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static inline int count_fds(void)
{
    return count_entries("/proc/self/fd");
}

/* The pids of pid's children, at most max of them; their count. */
static inline int children_of(long pid, long *out, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", pid, pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    long c;
    while (n < max && fscanf(f, "%ld", &c) == 1)
        out[n++] = c;
    fclose(f);
    return n;
}

static inline int count_children(void)
{
    long kids[64];
    return children_of((long)getpid(), kids, 64);
}

/* A process's state letter ('R', 'S', 'Z', ...), 0 if it is gone. */
static inline char proc_state(long pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
}

#endif
