/* Seed 000, pitfall 3, "Confondre async et threading": time.sleep() in a
 * coroutine blocks the whole event loop. Five tasks each wait 200 ms, once
 * with weft_sleep_for (the loop runs the others meanwhile: ~0.2 s in all)
 * and once with a blocking usleep() (one after the other: ~1 s). weft's
 * stall detector names every task that held the loop too long. */
#include <stdio.h>
#include <unistd.h>

#include <weft/loop.h>
#include <weft/time.h>

static int stalls;

static void on_stall(void *arg, const char *task, int64_t ran_ns)
{
    (void)arg;
    stalls++;
    printf("  stall detector: task \"%s\" held the loop %.0f ms without suspending\n", task,
           (double)ran_ns / 1e6);
}

static int good(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    return weft_sleep_for(200 * WEFT_MSEC); /* await asyncio.sleep(0.2) */
}

static int bad(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    usleep(200 * 1000); /* time.sleep(0.2): blocks every task of the loop */
    return 0;
}

static int five(void *arg, weft_value *result)
{
    (void)result;
    static const char *names[] = {"sleeper-0", "sleeper-1", "sleeper-2", "sleeper-3", "sleeper-4"};
    weft_group g;
    weft_group_init(&g);
    for (int i = 0; i < 5; i++) {
        weft_spawn_opts so = {.name = names[i]};
        if (weft_group_spawn(&g, arg, NULL, &so, NULL) < 0)
            return -1;
    }
    return weft_group_wait(&g);
}

static double timed(weft_task_fn *fn)
{
    weft_loop_opts o = {.stall_ns = 50 * WEFT_MSEC, .on_stall = on_stall};
    int64_t t0 = weft_now();
    if (weft_run(five, (void *)fn, &o, NULL) < 0)
        return -1;
    return (double)(weft_now() - t0) / 1e9;
}

int main(void)
{
    printf("5 tasks, each waiting 200 ms\n");
    printf("with weft_sleep_for (await asyncio.sleep):\n");
    double ok = timed(good);
    int good_stalls = stalls;
    printf("  %.2f s, %d stalls\n", ok, good_stalls);
    stalls = 0;
    printf("with usleep (time.sleep in a coroutine):\n");
    double blocked = timed(bad);
    printf("  %.2f s, %d stalls\n", blocked, stalls);
    printf("blocking the loop cost %.1fx\n", blocked / ok);
    return ok > 0 && blocked > 3 * ok && good_stalls == 0 && stalls == 5 ? 0 : 1;
}
