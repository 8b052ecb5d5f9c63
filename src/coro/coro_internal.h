/* Internal: what the event loop (src/io) needs of coroutines beyond
 * weft/coro.h. */
#ifndef WEFT_CORO_INTERNAL_H
#define WEFT_CORO_INTERNAL_H

#include <weft/coro.h>

/* weft__coro_recycle: make a finished (or never run) coroutine new again,
 * to run fn(arg) on the same stack, without giving the stack back to the
 * pool: what a loop does with the coroutine of a task that ended, for the
 * next task of the same stack size. name and fp_env as in weft_coro_opts.
 * Returns: 0; -EBUSY if c is suspended mid-way or running. Thread: the
 * owner of c (no other call on c may run). */
int weft__coro_recycle(weft_coro *c, weft_coro_fn *fn, void *arg, const char *name, bool fp_env);

/* weft__coro_resume_owned: weft_coro_resume for a caller that is the only
 * one ever to resume c, always from the same thread (an event loop and its
 * tasks): no compare-and-swap. c must be CREATED or SUSPENDED. */
void weft__coro_resume_owned(weft_coro *c);

#endif
