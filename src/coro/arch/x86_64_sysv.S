/*
 * Context switch for x86-64, System V ABI (Linux, BSD, macOS).
 *
 * A suspended context is just a stack pointer: everything the ABI makes
 * callee-saved is pushed on the context's own stack, so a switch is pushes, one
 * store, one load and pops. That set is rbx, rbp, r12-r15, the MXCSR control
 * bits and the x87 control word; the rest of the vector and x87 state is
 * caller-saved, and the compiler has already spilled whatever it still needs.
 *
 * coro_arch_switch ends in `pop` + `jmp`, not `ret`: it is entered by a jump
 * (arch.h), and the resume address belongs to a different place than any
 * `call`, so a `ret` would be mispredicted by the return-stack buffer (about
 * 6 ns here, see NOTES.md), while an indirect jump is predicted from its own
 * history. coro_arch_yield ends in `ret` on purpose: it is tail-called by a
 * function that was itself called, and its `ret` is that function's return
 * (predicted when the tasks yield from the same call site; otherwise it costs
 * what any return after a switch costs).
 *
 * What it costs, measured on the Zen 4 machines of NOTES.md: `stmxcsr` alone
 * has a throughput of about 15 cycles (4.3 ns) and adds about 2.2 ns to a
 * switch, `fnstcw` about 0.3 ns; around them, each few instructions more on
 * the yield path cost about a cycle. Hence the shape: no instruction that is
 * not needed, the control words kept in the
 * red zone below the saved registers (the kernel skips those 128 bytes when it
 * delivers a signal, and a suspended stack is not used by anything) instead of
 * moving the stack pointer for them, and `fldcw`, which is slow and almost
 * never changes anything, only when the two x87 control words differ.
 * `ldmxcsr` is cheap and always done.
 *
 * Frame, from the saved stack pointer upwards (56 bytes; the stack pointer is
 * 8 mod 16 there, as after a call):
 *   -8 mxcsr (4)   -4 x87 cw (2)   [red zone]
 *    0 r15   8 r14   16 r13   24 r12   32 rbx   40 rbp   48 resume address
 */
    .text

/* Both switches: push the callee-saved registers, put the control words in
 * the red zone, store the stack pointer in *rdi, take rsi as the stack
 * pointer, restore the control words (fldcw at \label when they differ) and
 * pop the registers. Leaves the resume address on top of the stack. */
.macro SWITCH_STACKS fldcw_label
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    stmxcsr -8(%rsp)
    fnstcw  -4(%rsp)
    movq    %rsp, (%rdi)
    movzwl  -4(%rsp), %ecx
    movq    %rsi, %rsp
    ldmxcsr -8(%rsp)
    cmpw    -4(%rsp), %cx
    jne     \fldcw_label
1:  popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
.endm

/* void *coro_arch_switch(void **save_sp, void *load_sp)    (pass in rax)
 * Entered with the resume address on top of the stack (pushed by
 * coro_arch_enter, arch.h) and a word in rax that the resumed context finds
 * in rax: its return value, or, in a fresh context, the entry function's
 * second argument. Clobbers rcx besides the argument registers. */
    .globl  coro_arch_switch
    .hidden coro_arch_switch
    .type   coro_arch_switch, @function
    .p2align 4
coro_arch_switch:
    .cfi_startproc
    SWITCH_STACKS 2f
    popq    %rcx
    jmpq    *%rcx
2:  fldcw   -4(%rsp)    /* the x87 control words differ: rare, off the straight path */
    jmp     1b
    .cfi_endproc
    .size   coro_arch_switch, .-coro_arch_switch

/* void coro_arch_yield(void **save_sp, void *load_sp)
 * For a caller with nothing left to do after the switch, which calls it as
 * its last act (a tail call): the caller's return address becomes the resume
 * address, and the switch leaves by `ret`, so a context resumed through it
 * goes straight back to whoever called the yielding function, one call and
 * one return fewer than the way through coro_arch_switch. Resumes with rax 0
 * (nothing passed). A context it suspends must only ever be resumed with
 * nothing passed: no code of the suspending function runs again. */
    .globl  coro_arch_yield
    .hidden coro_arch_yield
    .type   coro_arch_yield, @function
    .p2align 4
coro_arch_yield:
    .cfi_startproc
    SWITCH_STACKS 2f
    xorl    %eax, %eax
    ret
2:  fldcw   -4(%rsp)
    jmp     1b
    .cfi_endproc
    .size   coro_arch_yield, .-coro_arch_yield

/* void *coro_arch_make(void *stack_top, void (*entry)(void *, void *), void *arg)
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
    subq    $72, %rax
    stmxcsr -8(%rax)
    fnstcw  -4(%rax)
    movq    $0, 0(%rax)
    movq    $0, 8(%rax)
    movq    %rsi, 16(%rax)
    movq    %rdx, 24(%rax)
    movq    $0, 32(%rax)
    movq    $0, 40(%rax)
    leaq    coro_arch_trampoline(%rip), %rcx
    movq    %rcx, 48(%rax)
    movq    $0, 56(%rax)    /* where the trampoline's return address would be */
    movq    $0, 64(%rax)
    ret
    .cfi_endproc
    .size   coro_arch_make, .-coro_arch_make

/* First code a new context runs: entry(arg, pass) on a 16-aligned stack, pass
 * being what the first switch to it carried (rax). entry never returns (a
 * finished task switches away for good). */
    .type   coro_arch_trampoline, @function
    .p2align 4
coro_arch_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r12, %rdi
    movq    %rax, %rsi
    callq   *%r13
    ud2
    .cfi_endproc
    .size   coro_arch_trampoline, .-coro_arch_trampoline

    .section .note.GNU-stack, "", @progbits
