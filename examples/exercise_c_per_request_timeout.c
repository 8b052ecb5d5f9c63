/* Seed 003, exercise C, "asyncio + timeout par requête": 50 fetches at
 * once, each with its own 150 ms timeout (not one global deadline), each
 * outcome handled on its own: the fetches that answer in time are used,
 * the slow ones are cancelled and counted, and neither kind disturbs the
 * others. Latencies are drawn from 0-300 ms, so about half time out. */
#include <stdio.h>
#include <stdlib.h>

#include <weft/loop.h>
#include <weft/time.h>

enum { FETCHES = 50 };
#define TIMEOUT (150 * WEFT_MSEC)
/* How far from the timeout a request must be for its outcome to be
 * checked: wide enough for a sanitizer build's slower scheduling. */
#define MARGIN (60 * WEFT_MSEC)

static int64_t latency[FETCHES];

static int fetch(void *arg, weft_value *result)
{
    int i = (int)(intptr_t)arg;
    int rc = weft_sleep_for(latency[i]);
    result->f64 = 100.0 + i;
    return rc;
}

/* wait_for(fetch(i), timeout) for one request, handling its TimeoutError
 * itself. */
static int one_request(void *arg, weft_value *result)
{
    weft_future *f;
    int rc = weft_spawn(NULL, fetch, arg, NULL, &f);
    if (rc < 0)
        return rc;
    weft_value v;
    rc = weft_wait_for(f, weft_deadline_in(TIMEOUT), &v);
    weft_future_unref(f);
    result->i64 = rc == 0;
    return rc == -ETIMEDOUT ? 0 : rc; /* a timeout is an outcome, not a failure */
}

static int main_task(void *arg, weft_value *result)
{
    (void)arg;
    (void)result;
    int64_t t0 = weft_now();
    weft_future *fs[FETCHES];
    for (intptr_t i = 0; i < FETCHES; i++)
        if (weft_spawn(NULL, one_request, (void *)i, NULL, &fs[i]) < 0)
            return -1;
    weft_value vs[FETCHES];
    int errs[FETCHES];
    int rc = weft_gather(fs, FETCHES, WEFT_NEVER, vs, errs);
    double s = (double)(weft_now() - t0) / 1e6;
    int ok = 0, timed_out = 0, mismatched = 0;
    for (int i = 0; i < FETCHES; i++) {
        weft_future_unref(fs[i]);
        bool in_time = vs[i].i64 == 1;
        ok += in_time;
        timed_out += !in_time;
        /* Clearly fast or clearly slow requests must end the right way. */
        if ((latency[i] < TIMEOUT - MARGIN && !in_time) ||
            (latency[i] > TIMEOUT + MARGIN && in_time))
            mismatched++;
    }
    printf("%d requests, each with a %.0f ms timeout: %d answered, %d timed out and were "
           "cancelled\n",
           FETCHES, TIMEOUT / 1e6, ok, timed_out);
    printf("all handled in %.0f ms (the slowest request alone would take up to 300 ms)\n", s);
    return rc == 0 && mismatched == 0 && ok > 0 && timed_out > 0 && s < 1000 ? 0 : -1;
}

int main(void)
{
    unsigned seed = 3;
    for (int i = 0; i < FETCHES; i++)
        latency[i] = (int64_t)(rand_r(&seed) / (double)RAND_MAX * 300) * WEFT_MSEC;
    return weft_run(main_task, NULL, NULL, NULL) == 0 ? 0 : 1;
}
