/* Stackful coroutines: see include/weft/coro.h for the contract.
 *
 * Switch protocol. weft_coro_resume() on the resumer's stack:
 *   1. claims c: CREATED or SUSPENDED -> RUNNING (CAS), so one resumer wins;
 *   2. links c under the thread's current coroutine (c->parent) and makes c
 *      current;
 *   3. tells the tools (ASan: the stack it goes to; TSan: the fiber) and
 *      switches to c;
 *   4. once c yields or finishes, the current coroutine goes back to
 *      c->parent, and SUSPENDED or DONE is published, strictly after c's
 *      registers are saved: until then another thread must not resume c.
 * weft_coro_yield() checks the canary, tells the tools, and switches back to
 * the context saved in step 3. The first switch into c lands in coro_main(),
 * which runs the function and switches back for the last time (ASan is
 * told that this fiber's fake stack is gone).
 *
 * Who does step 4. With the assembly switches (PUBLISH_IN_SWITCH), the
 * coroutine's side: yield restores the current coroutine, and the switch
 * itself stores the state between saving c and leaving (ctx.h). Resume and
 * yield then end in tail calls to the switch, and a switch costs one
 * mispredicted return instead of two. Under ASan or TSan, which must be told
 * after every switch, and on the ucontext backend, the resumer does step 4
 * after the switch returns to it, as plain C the tools can see.
 *
 * Synchronization: `state` is the only field shared between threads; the
 * release store in step 4 pairs with the acquire CAS in step 1 of the next
 * resume (possibly on another thread), which makes every write done by the
 * coroutine and its last resumer visible to the next one. Every other field
 * is touched only by the thread that holds c RUNNING (or by its creator and
 * destroyer, when nobody can run it). */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/coro.h>

#include "coro/coro_internal.h"
#include "coro/ctx.h"
#include "coro/sanitizer.h"
#include "coro/stack.h"

enum { CREATED, RUNNING, SUSPENDED, DONE };

/* Debug and sanitizer builds write a canary at the bottom of every stack
 * (the end an overflow reaches first) and check it at each switch out. */
#if !defined(NDEBUG) || defined(WEFT_SANITIZER)
#define WEFT__CORO_CANARY 1
#endif
#define CANARY UINT64_C(0x5745465443414e59) /* "WEFTCANY" */

#if WEFT__CTX_PUBLISHES && !defined(WEFT__ASAN) && !defined(WEFT__TSAN)
#define PUBLISH_IN_SWITCH 1
#else
#define PUBLISH_IN_SWITCH 0
#endif

struct weft_coro {
    weft__ctx ctx;     /* the coroutine's own context while it is suspended */
    weft__ctx caller;  /* the resumer's context while the coroutine runs */
    weft_coro *parent; /* the coroutine current on the resumer's thread */
    weft_coro_fn *fn;
    void *arg;
    weft__stack stack;
    const char *name;
    _Atomic int state;
    bool fp_env;   /* switched by weft__ctx_switch_fp */
    bool finished; /* set by coro_main, read by the resumer after the switch
                      (when the resumer publishes, !PUBLISH_IN_SWITCH) */
    /* Tools (each unused without its tool). */
    void *asan_fake;           /* the coroutine's fake stack while suspended */
    void *asan_caller_fake;    /* the resumer's fake stack while c runs */
    const void *caller_bottom; /* the resumer's stack, for switching back */
    size_t caller_size;
    void *tsan_fiber, *tsan_caller;
    unsigned valgrind_id;
};

static _Thread_local weft_coro *current;

static void canary_set(weft_coro *c)
{
#ifdef WEFT__CORO_CANARY
    *(volatile uint64_t *)c->stack.lo = CANARY ^ (uint64_t)(uintptr_t)c;
#else
    (void)c;
#endif
}

static void canary_check(weft_coro *c)
{
#ifdef WEFT__CORO_CANARY
    if (*(volatile uint64_t *)c->stack.lo != (CANARY ^ (uint64_t)(uintptr_t)c)) {
        fprintf(stderr,
                "weft: coroutine \"%s\" overflowed its stack of %zu bytes "
                "(give it a larger opts.stack_size, or opts.guard_page to fault at the "
                "overflowing call)\n",
                c->name, c->stack.size);
        abort();
    }
#else
    (void)c;
#endif
}

static int ctx_switch(const weft_coro *c, weft__ctx *from, weft__ctx *to, _Atomic int *publish,
                      int value)
{
    return c->fp_env ? weft__ctx_switch_fp(from, to, publish, value)
                     : weft__ctx_switch(from, to, publish, value);
}

/* Step 4 from the coroutine's side, and the switch back to the resumer
 * (tools told by the caller). Returns when c is resumed again. */
static int switch_out(weft_coro *c, int state)
{
#if PUBLISH_IN_SWITCH
    current = c->parent;
    return ctx_switch(c, &c->ctx, &c->caller, &c->state, state);
#else
    c->finished = state == DONE;
    return ctx_switch(c, &c->ctx, &c->caller, NULL, 0);
#endif
}

/* The first switch into a coroutine lands here, on its own stack. */
static void coro_main(void *arg)
{
    weft_coro *c = arg;
    weft__asan_finish_switch(NULL, &c->caller_bottom, &c->caller_size);
    c->fn(c->arg);
    canary_check(c);
    /* The last switch out: NULL tells ASan this fiber's fake stack dies. */
    weft__asan_start_switch(NULL, c->caller_bottom, c->caller_size);
    weft__tsan_fiber_switch(c->tsan_caller);
    switch_out(c, DONE);
    abort(); /* a finished coroutine is never resumed (weft_coro_resume refuses) */
}

int weft_coro_create(weft_coro **out, weft_coro_fn *fn, void *arg, const weft_coro_opts *opts)
{
    static const weft_coro_opts defaults = {0};
    if (!out || !fn)
        return -EINVAL;
    if (!opts)
        opts = &defaults;
    size_t size = opts->stack_size ? opts->stack_size : WEFT_CORO_STACK_DEFAULT;
    if (size < WEFT_CORO_STACK_MIN || size > WEFT_CORO_STACK_MAX)
        return -EINVAL;
    weft_coro *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    int rc = weft__stack_get(&c->stack, size, opts->guard_page);
    if (rc < 0) {
        free(c);
        return rc;
    }
    c->fn = fn;
    c->arg = arg;
    c->name = opts->name ? opts->name : "coro";
    c->fp_env = opts->fp_env;
    atomic_init(&c->state, CREATED);
    canary_set(c);
    weft__ctx_init(&c->ctx, c->stack.lo, c->stack.size, coro_main, c, c->fp_env);
    c->tsan_fiber = weft__tsan_fiber_create(c->name);
    c->valgrind_id = weft__valgrind_stack_register(c->stack.lo, c->stack.size);
    *out = c;
    return 0;
}

int weft__coro_recycle(weft_coro *c, weft_coro_fn *fn, void *arg, const char *name, bool fp_env)
{
    int s = atomic_load_explicit(&c->state, memory_order_acquire);
    if (s != CREATED && s != DONE)
        return -EBUSY;
    /* The last frames of a finished coroutine never returned: their ASan
     * redzones are still poisoned (weft__stack_put does the same). */
    weft__asan_unpoison(c->stack.lo, c->stack.size);
    c->fn = fn;
    c->arg = arg;
    c->name = name ? name : "coro";
    c->fp_env = fp_env;
    c->finished = false;
    c->asan_fake = c->asan_caller_fake = NULL;
    /* A fresh TSan fiber: the old one's shadow stack still holds the
     * frames of the run that ended without returning. */
    weft__tsan_fiber_destroy(c->tsan_fiber);
    c->tsan_fiber = weft__tsan_fiber_create(c->name);
    atomic_store_explicit(&c->state, CREATED, memory_order_relaxed);
    canary_set(c);
    weft__ctx_init(&c->ctx, c->stack.lo, c->stack.size, coro_main, c, fp_env);
    return 0;
}

int weft_coro_destroy(weft_coro *c)
{
    if (!c)
        return 0;
    int s = atomic_load_explicit(&c->state, memory_order_acquire);
    if (s != CREATED && s != DONE)
        return -EBUSY;
    weft__valgrind_stack_deregister(c->valgrind_id);
    weft__tsan_fiber_destroy(c->tsan_fiber);
    weft__stack_put(&c->stack);
    free(c);
    return 0;
}

/* Steps 2-4 of a resume, once the caller owns c (step 1). */
static int switch_in(weft_coro *c)
{
    /* Step 2. */
    c->parent = current;
    current = c;
    /* Step 3. */
    c->tsan_caller = weft__tsan_fiber_current();
    weft__asan_start_switch(&c->asan_caller_fake, c->stack.lo, c->stack.size);
    weft__tsan_fiber_switch(c->tsan_fiber);
#if PUBLISH_IN_SWITCH
    /* Step 4 is switch_out's: c's switch back returns to our caller. */
    return ctx_switch(c, &c->caller, &c->ctx, NULL, 0);
#else
    ctx_switch(c, &c->caller, &c->ctx, NULL, 0);
    weft__asan_finish_switch(c->asan_caller_fake, NULL, NULL);
    /* Step 4. Release pairs with the acquire CAS of the next resume. */
    current = c->parent;
    atomic_store_explicit(&c->state, c->finished ? DONE : SUSPENDED, memory_order_release);
    return 0;
#endif
}

int weft_coro_resume(weft_coro *c)
{
    if (!c)
        return -EINVAL;
    int s = atomic_load_explicit(&c->state, memory_order_relaxed);
    for (;;) {
        if (s == DONE)
            return -EINVAL;
        if (s == RUNNING)
            return -EBUSY;
        /* Step 1. Acquire pairs with the release store of step 4 by the
         * previous resumer. */
        if (atomic_compare_exchange_weak_explicit(&c->state, &s, RUNNING, memory_order_acquire,
                                                  memory_order_relaxed))
            break;
    }
    return switch_in(c);
}

void weft__coro_resume_owned(weft_coro *c)
{
    /* Step 1 without the compare-and-swap: the caller is c's only resumer
     * and resumes it from one thread. */
    atomic_store_explicit(&c->state, RUNNING, memory_order_relaxed);
    switch_in(c);
}

int weft_coro_yield(void)
{
    weft_coro *c = current;
    if (!c)
        return -EPERM;
    canary_check(c);
    weft__asan_start_switch(&c->asan_fake, c->caller_bottom, c->caller_size);
    weft__tsan_fiber_switch(c->tsan_caller);
#if PUBLISH_IN_SWITCH
    return switch_out(c, SUSPENDED);
#else
    switch_out(c, SUSPENDED);
    /* Resumed, maybe by another thread from another stack: learn it. */
    weft__asan_finish_switch(c->asan_fake, &c->caller_bottom, &c->caller_size);
    return 0;
#endif
}

weft_coro *weft_coro_current(void)
{
    return current;
}

bool weft_coro_done(const weft_coro *c)
{
    return atomic_load_explicit(&((weft_coro *)c)->state, memory_order_acquire) == DONE;
}

const char *weft_coro_name(const weft_coro *c)
{
    return c->name;
}

size_t weft_coro_stack_size(const weft_coro *c)
{
    return c->stack.size;
}

const char *weft_coro_backend(void)
{
    return weft__ctx_backend();
}
