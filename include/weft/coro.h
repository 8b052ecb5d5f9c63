/* weft/coro.h: stackful coroutines, the bottom of weft's asyncio model.
 *
 * A weft_coro runs a function on a stack of its own. weft_coro_resume()
 * runs it until it calls weft_coro_yield() or returns; the next resume
 * continues where it yielded. Ordinary-looking code can therefore suspend
 * in the middle of a call chain: the event loop (weft/loop.h) builds tasks,
 * sleeps and awaits on this, and most programs use those rather than
 * resuming coroutines by hand.
 *
 * Stacks. Each coroutine gets a stack of opts.stack_size bytes (default
 * WEFT_CORO_STACK_DEFAULT, 64 KiB), rounded up to a power of two. Stacks are
 * carved out of large shared mappings and pooled, so creating a coroutine
 * is no system call in the steady state and 100k coroutines need a few
 * thousand mappings, not 100k (vm.max_map_count is 65530 here). Memory is
 * committed lazily by the kernel: a coroutine costs the pages its stack
 * really touched (usually one or two), not its size. A stack released to
 * the pool keeps its touched pages for the next coroutine; the pool gives
 * pages back (madvise) beyond a cap.
 *
 * Tiny stacks. Sizes below a page (down to WEFT_CORO_STACK_MIN, 1 KiB)
 * pack several stacks into each page, for programs that keep a million
 * small tasks alive (a task that sleeps or waits on a channel needs well
 * under 1 KiB). They stay committed while pooled. A signal handler runs on
 * the interrupted stack and needs a few KiB: a thread that runs tiny-stack
 * coroutines should block its signals (take them with weft_signal_wait,
 * weft/net.h) or use handlers installed with SA_ONSTACK and a sigaltstack.
 *
 * Overflow. A pooled stack has no guard page: running past its end
 * corrupts the neighbouring stack. opts.guard_page puts a PROT_NONE page
 * below the stack (the overflow then faults at once) at the cost of a
 * mapping of its own (two, once the guard splits it): use it for deep or
 * untrusted recursion, or in tests. Debug and sanitizer builds also write a
 * canary at the bottom of every stack and check it whenever the coroutine
 * suspends or finishes; a clobbered canary aborts with the coroutine's
 * name.
 *
 * Tools. AddressSanitizer (fiber annotations), ThreadSanitizer (fibers)
 * and valgrind (stack registration) follow every switch, so their reports
 * stay right inside coroutines.
 *
 * Threads. A coroutine runs on the thread that resumes it, until it yields
 * or finishes; a suspended coroutine may be resumed by another thread (one
 * resumer at a time: resuming a running coroutine fails with -EBUSY). Code
 * inside a coroutine must not keep a thread-local's address, or a value
 * derived from the thread's identity, across a yield if the coroutine may
 * move: the compiler may cache it (errno included). The event loop never
 * moves its coroutines between threads.
 *
 * Thread-safety: as said per function; a weft_coro is not itself a lock. */
#ifndef WEFT_CORO_H
#define WEFT_CORO_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_coro weft_coro;

/* The body of a coroutine. When it returns, the coroutine is finished. */
typedef void weft_coro_fn(void *arg);

/* The default stack size, and the smallest accepted (both before rounding
 * up to pages). */
#define WEFT_CORO_STACK_DEFAULT ((size_t)64 * 1024)
#define WEFT_CORO_STACK_MIN ((size_t)1024)
#define WEFT_CORO_STACK_MAX ((size_t)1 << 30)

typedef struct weft_coro_opts {
    /* Stack size in bytes, WEFT_CORO_STACK_MIN .. WEFT_CORO_STACK_MAX;
     * 0 means WEFT_CORO_STACK_DEFAULT. Rounded up to a power of two (to
     * whole pages with guard_page). */
    size_t stack_size;
    /* Put a PROT_NONE guard page below the stack (a mapping of its own,
     * not pooled). */
    bool guard_page;
    /* A name for reports (not copied: it must outlive the coroutine);
     * NULL means "coro". */
    const char *name;
    /* Give the coroutine a floating-point environment of its own: the
     * rounding mode and exception masks (MXCSR and the x87 control word;
     * FPCR on AArch64) are saved and restored at each of its switches, and
     * it starts with the ABI's initial ones. Off (the default), the
     * coroutines of a thread share the thread's, as goroutines do, and a
     * resume+yield round trip is 3-4 ns cheaper (bench coro_switch_fp,
     * docs/BENCHMARKS.md): a coroutine
     * that calls fesetround() and suspends before restoring it changes the
     * rounding of whoever runs next. Turn it on for such code. */
    bool fp_env;
} weft_coro_opts;

/* weft_coro_create: a new coroutine that will run fn(arg) when first
 * resumed. Nothing runs yet.
 * Returns: 0 and *out set; on failure *out is untouched.
 * Errors: -EINVAL if out or fn is NULL or the stack size is out of range;
 *         -ENOMEM if no stack or memory could be had (including the
 *         mapping limit).
 * Ownership: the caller owns *out and frees it with weft_coro_destroy();
 *            opts is read during the call only (the name is kept).
 * Thread-safety: any thread. */
int weft_coro_create(weft_coro **out, weft_coro_fn *fn, void *arg, const weft_coro_opts *opts);

/* weft_coro_destroy: free c. c must be finished or never started; a
 * coroutine suspended in the middle of its function cannot be destroyed
 * (its stack holds live frames that would never be unwound).
 * Returns: 0; -EBUSY if c is running or suspended mid-way (nothing is
 *          freed). NULL is a no-op returning 0.
 * Ownership: takes c on success.
 * Thread-safety: any thread, once no other thread uses c. */
int weft_coro_destroy(weft_coro *c);

/* weft_coro_resume: run c on the calling thread until it yields or
 * finishes. May be called from inside another coroutine (which then waits
 * in this call, as a function call would).
 * Returns: 0 once c yielded or finished (weft_coro_done() tells which).
 * Errors: -EINVAL if c is NULL or already finished; -EBUSY if c is running
 *         (on this thread: c is the caller or one of its resumers; or on
 *         another thread).
 * Ownership: borrows c.
 * Thread-safety: any thread, one resumer at a time. */
int weft_coro_resume(weft_coro *c);

/* weft_coro_yield: suspend the calling coroutine and return to the
 * weft_coro_resume() that ran it; returns when it is resumed again.
 * Returns: 0 after the next resume.
 * Errors: -EPERM if the caller is not running in a coroutine.
 * Thread-safety: from inside a coroutine only. */
int weft_coro_yield(void);

/* weft_coro_current: the coroutine running on this thread, or NULL when
 * the thread is not inside one.
 * Thread-safety: any thread. */
weft_coro *weft_coro_current(void);

/* weft_coro_done: whether c's function has returned.
 * Thread-safety: any thread (a snapshot while c runs elsewhere). */
bool weft_coro_done(const weft_coro *c);

/* weft_coro_name: c's name (opts.name or "coro").
 * Thread-safety: any thread. */
const char *weft_coro_name(const weft_coro *c);

/* weft_coro_stack_size: the size of c's stack after rounding.
 * Thread-safety: any thread. */
size_t weft_coro_stack_size(const weft_coro *c);

/* weft_coro_backend: the context-switch implementation chosen at build
 * time: "x86_64", "aarch64" (hand-written assembly) or "ucontext" (the
 * portable fallback, or forced with -DWEFT_CORO_UCONTEXT=ON).
 * Thread-safety: any thread. */
const char *weft_coro_backend(void);

#ifdef __cplusplus
}
#endif
#endif
