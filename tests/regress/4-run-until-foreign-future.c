/* Issue 4 regression: weft_loop_run(loop, until) with `until` completed by
 * another thread while the loop sleeps (no task of the loop waits on it)
 * used to sleep on: nothing told the loop. The loop's one task sets an
 * event as its last act; the completer waits for it, by which time the
 * loop has (almost always) gone to wait in its backend with nothing else
 * to wake it: without the fix the test hangs until ctest's timeout. */
#include <pthread.h>

#include <weft/future.h>
#include <weft/loop.h>
#include <weft/sync.h>

#include "weft_test.h"

static weft_future *until;
static weft_event last_task_done;

static int only_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    weft_event_set(&last_task_done);
    return 0;
}

static void *completer(void *arg)
{
    (void)arg;
    WT_OK(weft_event_wait(&last_task_done, WEFT_NEVER));
    weft_value v = {.i64 = 7};
    WT_OK(weft_future_complete(until, v, 0));
    return NULL;
}

int main(void)
{
    weft_loop *loop;
    WT_OK(weft_loop_create(&loop, NULL));
    WT_OK(weft_future_create(&until));
    weft_event_init(&last_task_done);
    WT_OK(weft_spawn(loop, only_task, NULL, NULL, NULL));
    pthread_t t;
    WT_OK(-pthread_create(&t, NULL, completer, NULL));
    WT_OK(weft_loop_run(loop, until));
    weft_value v;
    WT_OK(weft_future_result(until, WEFT_NOW, &v));
    WT_EQ(v.i64, 7);
    pthread_join(t, NULL);
    weft_future_unref(until);
    WT_OK(weft_loop_destroy(loop));
    puts("a loop run until a future another thread completes returns");
    return 0;
}
