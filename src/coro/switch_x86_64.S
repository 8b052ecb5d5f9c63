/* weft__ctx_switch and the entry trampoline for SysV x86-64 (see ctx.h).
 *
 * Saved frame, from the saved stack pointer up:
 *    0: MXCSR (4 bytes), x87 control word (2 bytes), padding
 *    8: r15   16: r14   24: r13   32: r12   40: rbx   48: rbp
 *   56: return address
 * weft__ctx_init builds the same frame by hand with the return address set
 * to weft__ctx_trampoline, r12 = entry and r13 = arg. */
#if defined(__x86_64__) && !WEFT_CORO_UCONTEXT

    .text
    .globl  weft__ctx_switch
    .hidden weft__ctx_switch
    .type   weft__ctx_switch, @function
    .p2align 4
/* void weft__ctx_switch(weft__ctx *from  (rdi), weft__ctx *to  (rsi)) */
weft__ctx_switch:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)
    movq    (%rsi), %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   weft__ctx_switch, .-weft__ctx_switch

    .globl  weft__ctx_trampoline
    .hidden weft__ctx_trampoline
    .type   weft__ctx_trampoline, @function
    .p2align 4
/* Entered by the first switch's ret, with rsp 16-byte aligned: the call
 * below then enters entry(arg) with the alignment the ABI promises. */
weft__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r13, %rdi
    callq   *%r12
    ud2
    .cfi_endproc
    .size   weft__ctx_trampoline, .-weft__ctx_trampoline

#endif
    .section .note.GNU-stack,"",@progbits
