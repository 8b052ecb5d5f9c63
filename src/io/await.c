/* Awaiting futures from tasks: wait_for (timeout with cancel-and-wait),
 * gather, and to_thread (work on the loop's own pool). See
 * include/weft/loop.h. Threads: wait_for and gather from any thread or
 * task; to_thread in a task. */
#include <errno.h>
#include <stdlib.h>

#include <weft/error.h>
#include <weft/loop.h>
#include <weft/pool.h>
#include <weft/time.h>

#include "io/loop_internal.h"

/* Wait for f whatever happens: a shield in a task (a thread cannot be
 * cancelled). */
static void wait_uncut(weft_future *f)
{
    bool in_task = weft__task_current() != NULL;
    if (in_task)
        weft_shield_enter();
    weft_future_wait(f, WEFT_NEVER);
    if (in_task)
        weft_shield_exit();
}

int weft_wait_for(weft_future *f, int64_t deadline, weft_value *value)
{
    if (!f)
        return -EINVAL;
    int rc = weft_future_wait(f, deadline);
    if (rc == 0)
        return weft_future_result(f, WEFT_NOW, value);
    /* Timed out or cancelled: cancel f and let it finish. */
    weft_future_cancel(f);
    wait_uncut(f);
    int out = weft_future_result(f, WEFT_NOW, value);
    if (out == 0)
        return 0; /* it finished anyway: its result is not lost */
    if (out == -ECANCELED)
        return rc; /* our doing: report why we cancelled */
    return out;    /* it failed on its own */
}

int weft_gather(weft_future *const *fs, size_t n, int64_t deadline, weft_value *values, int *errs)
{
    if (n && !fs)
        return -EINVAL;
    int rc = weft_future_wait_all(fs, n, deadline);
    if (rc < 0)
        return rc;
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        weft_value v = {0};
        int err = weft_future_result(fs[i], WEFT_NOW, &v);
        if (values)
            values[i] = v;
        if (errs)
            errs[i] = err;
        if (err < 0 && !first)
            first = err;
    }
    return first;
}

int weft_to_thread(int (*fn)(void *arg, weft_value *result), void *arg, weft_value *result)
{
    task *t = weft__task_current();
    if (!t)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    weft_loop *loop = t->loop;
    if (!loop->to_thread) {
        weft_pool_opts po = {.workers = loop->opts.to_thread_workers, .name = "weft-to-thread"};
        int rc = weft_pool_create(&loop->to_thread, &po);
        if (rc < 0)
            return rc;
    }
    loop->to_thread_inflight++;
    weft_future *f;
    int rc = weft_pool_submit(loop->to_thread, fn, arg, WEFT_NEVER, &f);
    if (rc == 0) {
        rc = weft_future_wait(f, WEFT_NEVER);
        if (rc == -ECANCELED) {
            weft_future_cancel(f); /* a request, if it is running already */
            wait_uncut(f);
        }
        int out = weft_future_result(f, WEFT_NOW, result);
        rc = out == -ECANCELED && rc == -ECANCELED ? rc : out;
        weft_future_unref(f);
    }
    loop->to_thread_inflight--;
    return rc;
}
