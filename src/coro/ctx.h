/* Internal: the context switch under weft_coro (src/coro/coro.c).
 *
 * A context is a suspended thread of execution: its callee-saved registers
 * pushed on its own stack, and that stack pointer. weft__ctx_switch(from,
 * to) saves the running one into `from` and continues `to`; it returns in
 * `from` when somebody switches back. Backends, chosen at build time:
 *   switch_x86_64.S   SysV x86-64: rbx, rbp, r12-r15, MXCSR, x87 control word
 *   switch_aarch64.S  AAPCS64: x19-x30, d8-d15, FPCR
 *   ctx_ucontext.c    getcontext/makecontext/swapcontext, for any other
 *                     target, or forced with -DWEFT_CORO_UCONTEXT=ON
 *                     (swapcontext also saves the signal mask: a system
 *                     call per switch, about 40x slower).
 * The switch is a plain function call for the compiler, so everything the
 * ABI lets a callee clobber is already saved by the caller; the assembly
 * saves exactly the rest. */
#ifndef WEFT_CORO_CTX_H
#define WEFT_CORO_CTX_H

#include <stddef.h>

#ifndef WEFT_CORO_UCONTEXT
#if defined(__x86_64__) || defined(__aarch64__)
#define WEFT_CORO_UCONTEXT 0
#else
#define WEFT_CORO_UCONTEXT 1
#endif
#endif

#if WEFT_CORO_UCONTEXT
#include <ucontext.h>
typedef struct weft__ctx {
    ucontext_t uc;
} weft__ctx;
#else
typedef struct weft__ctx {
    void *sp; /* the saved stack pointer; the registers are below it */
} weft__ctx;
#endif

/* Make c a context that, when first switched to, calls entry(arg) on the
 * stack [lo, lo + size). entry must never return (it switches away for the
 * last time instead). */
void weft__ctx_init(weft__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg);

/* Save the running context in from and continue to. Returns when some
 * context switches back to from. */
void weft__ctx_switch(weft__ctx *from, weft__ctx *to);

/* "x86_64", "aarch64" or "ucontext". */
const char *weft__ctx_backend(void);

#endif
