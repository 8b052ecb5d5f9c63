/* weft__ctx_switch and the entry trampoline for AArch64 (AAPCS64; see
 * ctx.h).
 *
 * Saved frame, 176 bytes from the saved stack pointer up:
 *    0: x19 x20   16: x21 x22   32: x23 x24   48: x25 x26   64: x27 x28
 *   80: x29 x30 (frame pointer, return address)
 *   96: d8 d9    112: d10 d11  128: d12 d13  144: d14 d15
 *  160: FPCR (rounding mode and friends, as MXCSR on x86-64)  168: padding
 * weft__ctx_init builds it by hand with x30 = weft__ctx_trampoline,
 * x19 = entry and x20 = arg. */
#if defined(__aarch64__) && !WEFT_CORO_UCONTEXT

    .text
    .globl  weft__ctx_switch
    .hidden weft__ctx_switch
    .type   weft__ctx_switch, %function
    .p2align 4
/* void weft__ctx_switch(weft__ctx *from  (x0), weft__ctx *to  (x1)) */
weft__ctx_switch:
    .cfi_startproc
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x2, fpcr
    str     x2, [sp, #160]
    mov     x2, sp
    str     x2, [x0]
    ldr     x2, [x1]
    mov     sp, x2
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldr     x2, [sp, #160]
    msr     fpcr, x2
    add     sp, sp, #176
    ret
    .cfi_endproc
    .size   weft__ctx_switch, .-weft__ctx_switch

    .globl  weft__ctx_trampoline
    .hidden weft__ctx_trampoline
    .type   weft__ctx_trampoline, %function
    .p2align 4
weft__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, x20
    blr     x19
    brk     #0
    .cfi_endproc
    .size   weft__ctx_trampoline, .-weft__ctx_trampoline

#endif
    .section .note.GNU-stack,"",%progbits
