/* weft__ctx_switch, weft__ctx_switch_fp and the entry trampoline for SysV
 * x86-64 (see ctx.h).
 *
 * Saved frame, from the saved stack pointer up (weft__ctx_switch):
 *    0: r15    8: r14   16: r13   24: r12   32: rbx   40: rbp
 *   48: return address
 * weft__ctx_switch_fp puts one more word under it: MXCSR (4 bytes), the x87
 * control word (2 bytes), padding; every other offset moves up by 8.
 * weft__ctx_init builds the matching frame by hand with the return address
 * set to weft__ctx_trampoline, r12 = entry and r13 = arg. */
#if defined(__x86_64__) && !WEFT_CORO_UCONTEXT

/* int NAME(weft__ctx *from (rdi), weft__ctx *to (rsi),
 *          int *publish (rdx), int value (ecx)) */
.macro WEFT_SWITCH name, fp
    .globl  \name
    .hidden \name
    .type   \name, @function
    .p2align 4
\name:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
  .if \fp
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
  .endif
    movq    %rsp, (%rdi)
    /* Read `to` before publishing: once the store below is seen, another
     * thread may resume `from` and rewrite `to` (its caller context). */
    movq    (%rsi), %rax
    testq   %rdx, %rdx
    jz      1f
    /* A plain store is a release on x86-64: it pairs with the acquire CAS
     * of the next weft_coro_resume, which then sees every register of
     * `from` saved above. Nothing below touches from's stack. */
    movl    %ecx, (%rdx)
1:
    movq    %rax, %rsp
  .if \fp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
  .endif
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    xorl    %eax, %eax
    ret
    .cfi_endproc
    .size   \name, .-\name
.endm

    .text
    WEFT_SWITCH weft__ctx_switch, 0
    WEFT_SWITCH weft__ctx_switch_fp, 1

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
