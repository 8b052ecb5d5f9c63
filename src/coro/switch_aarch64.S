/* weft__ctx_switch, weft__ctx_switch_fp and the entry trampoline for
 * AArch64 (AAPCS64; see ctx.h).
 *
 * Saved frame, 176 bytes from the saved stack pointer up:
 *    0: x19 x20   16: x21 x22   32: x23 x24   48: x25 x26   64: x27 x28
 *   80: x29 x30 (frame pointer, return address)
 *   96: d8 d9    112: d10 d11  128: d12 d13  144: d14 d15
 *  160: FPCR (rounding mode and friends, as MXCSR on x86-64; written and
 *       read by weft__ctx_switch_fp only)  168: padding
 * weft__ctx_init builds it by hand with x30 = weft__ctx_trampoline,
 * x19 = entry and x20 = arg; both switches share the layout. */
#if defined(__aarch64__) && !WEFT_CORO_UCONTEXT

/* int NAME(weft__ctx *from (x0), weft__ctx *to (x1),
 *          int *publish (x2), int value (w3)) */
.macro WEFT_SWITCH name, fp
    .globl  \name
    .hidden \name
    .type   \name, %function
    .p2align 4
\name:
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
  .if \fp
    mrs     x4, fpcr
    str     x4, [sp, #160]
  .endif
    mov     x4, sp
    str     x4, [x0]
    /* Read `to` before publishing: once the store below is seen, another
     * thread may resume `from` and rewrite `to` (its caller context). */
    ldr     x4, [x1]
    cbz     x2, 1f
    /* Release: pairs with the acquire CAS of the next weft_coro_resume,
     * which then sees every register of `from` saved above. Nothing
     * below touches from's stack. */
    stlr    w3, [x2]
1:
    mov     sp, x4
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
  .if \fp
    ldr     x4, [sp, #160]
    msr     fpcr, x4
  .endif
    add     sp, sp, #176
    mov     w0, #0
    ret
    .cfi_endproc
    .size   \name, .-\name
.endm

    .text
    WEFT_SWITCH weft__ctx_switch, 0
    WEFT_SWITCH weft__ctx_switch_fp, 1

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
