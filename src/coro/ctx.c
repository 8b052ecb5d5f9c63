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

void weft__ctx_init(weft__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
    /* The frame switch_x86_64.S pops, 64 bytes, under a 16-byte aligned
     * top: after its ret the trampoline runs with rsp 16-byte aligned. */
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *frame = (uint64_t *)(top - 16 - 64);
    uint32_t mxcsr = 0x1F80;  /* the ABI's initial MXCSR: all masked, round to nearest */
    uint16_t fpucw = 0x037F;  /* the ABI's initial x87 control word */
    memset(frame, 0, 80);
    memcpy(&frame[0], &mxcsr, sizeof mxcsr);
    memcpy((char *)&frame[0] + 4, &fpucw, sizeof fpucw);
    frame[4] = (uint64_t)(uintptr_t)entry; /* r12 */
    frame[3] = (uint64_t)(uintptr_t)arg;   /* r13 */
    frame[7] = (uint64_t)(uintptr_t)weft__ctx_trampoline;
    c->sp = frame;
}

#elif defined(__aarch64__)

const char *weft__ctx_backend(void)
{
    return "aarch64";
}

void weft__ctx_init(weft__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
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

#include <stdlib.h>

const char *weft__ctx_backend(void)
{
    return "ucontext";
}

/* makecontext passes int arguments only: the two pointers travel as
 * halves. */
static void start(unsigned entry_hi, unsigned entry_lo, unsigned arg_hi, unsigned arg_lo)
{
    void (*entry)(void *) =
        (void (*)(void *))(uintptr_t)(((uint64_t)entry_hi << 32) | (uint64_t)entry_lo);
    void *arg = (void *)(uintptr_t)(((uint64_t)arg_hi << 32) | (uint64_t)arg_lo);
    entry(arg);
    abort(); /* entry never returns */
}

void weft__ctx_init(weft__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
    uint64_t e = (uint64_t)(uintptr_t)entry, a = (uint64_t)(uintptr_t)arg;
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, (void (*)(void))start, 4, (unsigned)(e >> 32), (unsigned)e,
                (unsigned)(a >> 32), (unsigned)a);
}

void weft__ctx_switch(weft__ctx *from, weft__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}

#endif
