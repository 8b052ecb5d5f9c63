/* Internal: the context switch under weft_coro (src/coro/coro.c).
 *
 * A context is a suspended thread of execution: its callee-saved registers
 * pushed on its own stack, and that stack pointer. weft__ctx_switch(from,
 * to, ...) saves the running one into `from` and continues `to`; it
 * returns 0 in `from` when somebody switches back. Backends, chosen at
 * build time:
 *   switch_x86_64.S   SysV x86-64: rbx, rbp, r12-r15 (+ MXCSR and the x87
 *                     control word for weft__ctx_switch_fp)
 *   switch_aarch64.S  AAPCS64: x19-x30, d8-d15 (+ FPCR for _fp)
 *   ctx.c             getcontext/makecontext/swapcontext, for any other
 *                     target, or forced with -DWEFT_CORO_UCONTEXT=ON
 *                     (swapcontext also saves the signal mask: a system
 *                     call per switch, about 40x slower).
 * The switch is a plain function call for the compiler, so everything the
 * ABI lets a callee clobber is already saved by the caller; the assembly
 * saves exactly the rest.
 *
 * Floating-point environment. The ABIs make the rounding mode and exception
 * masks callee-saved, but reading and loading them costs 3-4 ns per round
 * trip here (bench coro_switch_fp): weft__ctx_switch leaves them to the thread, shared by the
 * contexts that run on it; weft__ctx_switch_fp gives each context its own.
 * A context must be switched out by the variant that switched it in.
 *
 * Publishing. Step 4 of coro.c's protocol, "the coroutine is suspended,
 * another thread may resume it", must come after its registers are saved
 * and before the switch returns anywhere; the assembly backends do it
 * between the two (WEFT__CTX_PUBLISHES). That lets weft_coro_resume and
 * weft_coro_yield end in a tail call to the switch, so that the return
 * predictor misses once per switch instead of twice. */
#ifndef WEFT_CORO_CTX_H
#define WEFT_CORO_CTX_H

#include <stdbool.h>
#include <stddef.h>

#ifndef WEFT_CORO_UCONTEXT
#if defined(__x86_64__) || defined(__aarch64__)
#define WEFT_CORO_UCONTEXT 0
#else
#define WEFT_CORO_UCONTEXT 1
#endif
#endif

#if WEFT_CORO_UCONTEXT
#define WEFT__CTX_PUBLISHES 0
#include <ucontext.h>
typedef struct weft__ctx {
    ucontext_t uc;
    void (*entry)(void *); /* for the first switch in */
    void *arg;
    bool fp;
} weft__ctx;
#else
#define WEFT__CTX_PUBLISHES 1
typedef struct weft__ctx {
    void *sp; /* the saved stack pointer; the registers are below it */
} weft__ctx;
#endif

/* Make c a context that, when first switched to, calls entry(arg) on the
 * stack [lo, lo + size). entry must never return (it switches away for the
 * last time instead). fp: c will be switched by weft__ctx_switch_fp, and
 * starts with the ABI's initial floating-point environment. */
void weft__ctx_init(weft__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg,
                    bool fp);

/* Save the running context in from and continue to. If publish is not
 * NULL, store value into *publish with release order once from is saved
 * (WEFT__CTX_PUBLISHES backends only; NULL elsewhere). Returns 0 when some
 * context switches back to from. */
int weft__ctx_switch(weft__ctx *from, weft__ctx *to, _Atomic int *publish, int value);

/* weft__ctx_switch, and the floating-point environment travels with the
 * contexts. */
int weft__ctx_switch_fp(weft__ctx *from, weft__ctx *to, _Atomic int *publish, int value);

/* "x86_64", "aarch64" or "ucontext". */
const char *weft__ctx_backend(void);

#endif
