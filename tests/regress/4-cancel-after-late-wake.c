/* Issue 4 regression: a task made ready by a late wake (of a waiter it had
 * linked but never parked on) while it was parked on another wait, then
 * cancelled before it ran, must see the cancellation: weft__task_cancel
 * used to end only the waits of tasks in the PARKED state, and the task
 * went back to sleep on its receive for ever (ctest's timeout). */
#include <weft/chan.h>
#include <weft/loop.h>

#include "sync/waiter.h"
#include "weft_test.h"

static weft__waiter *stale;
static weft_chan *empty;

static int receiver(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    weft__waiter w1; /* linked nowhere: stands for a waiter claimed late */
    weft__waiter_init(&w1);
    stale = &w1;
    long x;
    return weft_chan_recv(empty, &x, WEFT_NEVER); /* parks on another waiter */
}

static int main_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    weft_future *f;
    WT_OK(weft_spawn(NULL, receiver, NULL, NULL, &f));
    while (!stale || weft_future_get_state(f) != WEFT_FUTURE_RUNNING)
        WT_OK(weft_task_yield());
    WT_OK(weft_task_yield()); /* the receiver is parked in its receive now */
    /* The late wake makes it ready while it is still parked on the
     * channel; the cancel comes before it runs. */
    WT_ASSERT(weft__waiter_wake(stale, 0));
    WT_ERR(weft_future_cancel(f), -EBUSY);
    WT_ERR(weft_future_result(f, WEFT_NEVER, NULL), -ECANCELED);
    weft_future_unref(f);
    return 0;
}

int main(void)
{
    weft_chan_opts o = {.elem_size = sizeof(long), .capacity = 4};
    WT_OK(weft_chan_create(&empty, &o));
    WT_OK(weft_run(main_task, NULL, NULL, NULL));
    weft_chan_destroy(empty);
    puts("a cancel after a late wake ends the wait");
    return 0;
}
