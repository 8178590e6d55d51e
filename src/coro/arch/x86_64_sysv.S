/*
 * Context switch for x86-64, System V ABI (Linux, BSD, macOS).
 *
 * A suspended context is just a stack pointer: everything the ABI makes
 * callee-saved is pushed on the context's own stack, so a switch is pushes, one
 * store, one load and pops. That set is rbx, rbp, r12-r15, the MXCSR control
 * bits and the x87 control word; the rest of the vector and x87 state is
 * caller-saved, and the compiler has already spilled whatever it still needs.
 *
 * The switch ends in `pop` + `jmp`, not `ret`: the return address belongs to a
 * different call site than the `call` that entered, so `ret` is always
 * mispredicted by the return-stack buffer (about 6 ns here, see NOTES.md),
 * while an indirect jump is predicted from its own history.
 *
 * Frame, from the saved stack pointer upwards (64 bytes, 16-aligned):
 *   0 mxcsr (4) + x87 cw (2) + pad   8 r15   16 r14   24 r13   32 r12
 *   40 rbx   48 rbp   56 resume address
 */
    .text

/* void coro_arch_switch(void **save_sp, void *load_sp)
 * Entered with the resume address on top of the stack: by a call, or, from
 * coro_arch_enter (arch.h), by a jump after pushing it by hand. */
    .globl  coro_arch_switch
    .hidden coro_arch_switch
    .type   coro_arch_switch, @function
    .p2align 4
coro_arch_switch:
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
    movq    %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    popq    %rcx
    jmpq    *%rcx
    .cfi_endproc
    .size   coro_arch_switch, .-coro_arch_switch

/* void *coro_arch_make(void *stack_top, void (*entry)(void *), void *arg)
 * Builds a first frame below stack_top whose resume address is the trampoline,
 * with entry in r13 and arg in r12; returns the stack pointer to switch to.
 * The control words are the creator's, as a new thread inherits them. */
    .globl  coro_arch_make
    .hidden coro_arch_make
    .type   coro_arch_make, @function
    .p2align 4
coro_arch_make:
    .cfi_startproc
    movq    %rdi, %rax
    andq    $-16, %rax
    subq    $80, %rax
    stmxcsr (%rax)
    fnstcw  4(%rax)
    movq    $0, 8(%rax)
    movq    $0, 16(%rax)
    movq    %rsi, 24(%rax)
    movq    %rdx, 32(%rax)
    movq    $0, 40(%rax)
    movq    $0, 48(%rax)
    leaq    coro_arch_trampoline(%rip), %rcx
    movq    %rcx, 56(%rax)
    movq    $0, 64(%rax)
    movq    $0, 72(%rax)
    ret
    .cfi_endproc
    .size   coro_arch_make, .-coro_arch_make

/* First code a new context runs: entry(arg) on a 16-aligned stack. entry never
 * returns (a finished task switches away for good). */
    .type   coro_arch_trampoline, @function
    .p2align 4
coro_arch_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r12, %rdi
    callq   *%r13
    ud2
    .cfi_endproc
    .size   coro_arch_trampoline, .-coro_arch_trampoline

    .section .note.GNU-stack, "", @progbits
