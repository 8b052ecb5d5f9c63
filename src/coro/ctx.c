/* weft__ctx_init for the assembly backends, and the whole ucontext backend
 * (see ctx.h). */
#include <stdint.h>
#include <string.h>

#include "coro/ctx.h"

#if !WEFT_CORO_UCONTEXT

void weft__ctx_trampoline(void); /* switch_<arch>.S */

#if defined(__x86_64__)

const char *weft__ctx_backend(void)
{
    return "x86_64";
}

void weft__ctx_init(weft__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg,
                    bool fp)
{
    /* The frame switch_x86_64.S pops (7 words, 8 with fp) under a 16-byte
     * aligned top, 16 bytes down: after its ret the trampoline runs with
     * rsp 16-byte aligned. */
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *regs = (uint64_t *)(top - 16 - 56);
    memset(regs, 0, 56 + 16);
    regs[3] = (uint64_t)(uintptr_t)entry; /* r12 */
    regs[2] = (uint64_t)(uintptr_t)arg;   /* r13 */
    regs[6] = (uint64_t)(uintptr_t)weft__ctx_trampoline;
    c->sp = regs;
    if (fp) {
        uint32_t mxcsr = 0x1F80; /* the ABI's initial MXCSR: all masked, round to nearest */
        uint16_t fpucw = 0x037F; /* the ABI's initial x87 control word */
        uint64_t *env = regs - 1;
        *env = 0;
        memcpy(env, &mxcsr, sizeof mxcsr);
        memcpy((char *)env + 4, &fpucw, sizeof fpucw);
        c->sp = env;
    }
}

#elif defined(__aarch64__)

const char *weft__ctx_backend(void)
{
    return "aarch64";
}

void weft__ctx_init(weft__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg,
                    bool fp)
{
    (void)fp; /* one layout for both switches; FPCR 0 is the ABI's initial one */
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *frame = (uint64_t *)(top - 176);
    memset(frame, 0, 176);
    frame[0] = (uint64_t)(uintptr_t)entry;                 /* x19 */
    frame[1] = (uint64_t)(uintptr_t)arg;                   /* x20 */
    frame[11] = (uint64_t)(uintptr_t)weft__ctx_trampoline; /* x30 */
    c->sp = frame;
}

#endif

#else /* WEFT_CORO_UCONTEXT */

#include <fenv.h>
#include <stdlib.h>

const char *weft__ctx_backend(void)
{
    return "ucontext";
}

/* glibc's swapcontext carries the x87 control word with each context but
 * leaves MXCSR to the thread: both switches below set the environment by
 * hand after swapcontext returns, so that this backend behaves as the
 * assembly ones. weft__ctx_switch hands the switching context's
 * environment over through the thread (`handed`); weft__ctx_switch_fp
 * gives each side its own back. */
static _Thread_local fenv_t handed;

/* makecontext passes int arguments only: the context's address travels as
 * halves. */
static void start(unsigned hi, unsigned lo)
{
    weft__ctx *c = (weft__ctx *)(uintptr_t)(((uint64_t)hi << 32) | (uint64_t)lo);
    fesetenv(c->fp ? FE_DFL_ENV : &handed);
    c->entry(c->arg);
    abort(); /* entry never returns */
}

void weft__ctx_init(weft__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg,
                    bool fp)
{
    uint64_t self = (uint64_t)(uintptr_t)c;
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    c->entry = entry;
    c->arg = arg;
    c->fp = fp;
    makecontext(&c->uc, (void (*)(void))start, 2, (unsigned)(self >> 32), (unsigned)self);
}

int weft__ctx_switch(weft__ctx *from, weft__ctx *to, _Atomic int *publish, int value)
{
    (void)value;
    if (publish)
        abort(); /* WEFT__CTX_PUBLISHES is 0: the caller publishes after */
    fegetenv(&handed);
    swapcontext(&from->uc, &to->uc);
    fesetenv(&handed);
    return 0;
}

int weft__ctx_switch_fp(weft__ctx *from, weft__ctx *to, _Atomic int *publish, int value)
{
    (void)value;
    if (publish)
        abort();
    fenv_t own;
    fegetenv(&own);
    fegetenv(&handed); /* for a context started by weft__ctx_switch */
    swapcontext(&from->uc, &to->uc);
    fesetenv(&own);
    return 0;
}

#endif
