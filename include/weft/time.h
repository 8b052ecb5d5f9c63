/* weft/time.h: one time convention for every blocking call.
 *
 * Time is int64_t nanoseconds on the monotonic clock (weft_now()). Every
 * blocking weft call takes an absolute deadline on that clock:
 *   WEFT_NEVER  wait as long as it takes;
 *   WEFT_NOW    do not wait at all: try once (any deadline <= now does that);
 *   weft_deadline_in(ns)  "ns from now".
 * A call whose deadline passes returns -ETIMEDOUT.
 *
 * Virtual time for tests: weft_clock_use_virtual() swaps the process's clock
 * for one that moves only when weft_clock_advance() says so. Every timed wait
 * in weft (channels, futures, sync) then fires when virtual time passes its
 * deadline, so timeout tests run instantly and never sleep. */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_NEVER ((int64_t)-1)
#define WEFT_NOW ((int64_t)0)

#define WEFT_USEC ((int64_t)1000)
#define WEFT_MSEC ((int64_t)1000000)
#define WEFT_SEC ((int64_t)1000000000)

/* weft_now: the current time, nanoseconds on the monotonic clock (or the
 * virtual clock while one is in use). Always > 0.
 * Thread-safety: any thread. */
int64_t weft_now(void);

/* weft_deadline_in: the absolute deadline ns nanoseconds from now.
 * Returns: weft_now() + ns, saturating at INT64_MAX; WEFT_NEVER when ns < 0;
 *          a deadline that has already passed when ns == 0.
 * Thread-safety: any thread. */
int64_t weft_deadline_in(int64_t ns);

/* weft_deadline_left: nanoseconds until deadline.
 * Returns: INT64_MAX for WEFT_NEVER, 0 once it has passed, else the rest.
 * Thread-safety: any thread. */
int64_t weft_deadline_left(int64_t deadline);

/* weft_deadline_passed: true once deadline (not WEFT_NEVER) is <= now. */
bool weft_deadline_passed(int64_t deadline);

/* weft_clock_use_virtual: from now on weft_now() returns virtual time,
 * starting at start_ns (> 0), moved only by weft_clock_advance().
 * Returns: 0; -EINVAL if start_ns <= 0; -EBUSY if a virtual clock is in use.
 * Thread-safety: any thread, but meant for test set-up before the threads
 * that wait are started: waits already in progress keep the clock they
 * started on. */
int weft_clock_use_virtual(int64_t start_ns);

/* weft_clock_use_real: back to the monotonic clock. Timed waits still parked
 * on virtual deadlines are woken so they re-check on the real clock.
 * Thread-safety: any thread. */
void weft_clock_use_real(void);

/* weft_clock_advance: move virtual time forward by ns (>= 0), saturating at
 * INT64_MAX, and wake every timed wait whose deadline is now passed.
 * Returns: 0; -EINVAL if ns < 0 or no virtual clock is in use.
 * Thread-safety: any thread. */
int weft_clock_advance(int64_t ns);

/* weft_clock_timed_waiters: how many threads are parked in a timed weft wait
 * on the virtual clock right now. Tests use it to learn, without sleeping,
 * that a thread has reached its wait before they advance time.
 * Returns: the count; 0 when no virtual clock is in use.
 * Thread-safety: any thread. */
int weft_clock_timed_waiters(void);

#ifdef __cplusplus
}
#endif
#endif
