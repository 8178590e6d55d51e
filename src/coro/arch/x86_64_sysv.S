/*
 * Context switch for x86-64, System V ABI (Linux, BSD, macOS).
 *
 * A suspended context is a struct coro_arch_ctx (arch.h): stack pointer,
 * resume address, rbp, MXCSR and the x87 control word. The other callee-saved
 * registers (rbx, r12-r15) are not saved here: every way into a switch is
 * inline assembly that declares them clobbered, so the compiler around it
 * keeps what it needs itself, usually far less. Every switch is entered by a
 * jump with the resume address in rcx and leaves by a jump, so it touches the
 * return-stack buffer not at all.
 *
 * What it costs, measured on the Zen 4 machines of NOTES.md: `stmxcsr` has a
 * throughput of about 15 cycles (4.3 ns) and adds about 2.2 ns to a switch,
 * `fnstcw` about 0.3 ns; they are required (MXCSR's control bits and the x87
 * control word are callee-saved). `ldmxcsr` is cheap and always done; `fldcw`,
 * slow and almost never changing anything, only when the two control words
 * differ.
 */
#include "arch.h"
#include "../asm_offsets.h"

    .text

/* Stores the running context's resume point in the record at rdi + \at:
 * the stack and frame pointers, and rcx as the address it resumes at. */
.macro SAVE_RESUME_POINT at=0
    movq    %rsp, \at + CORO_ARCH_CTX_SP(%rdi)
    movq    %rcx, \at + CORO_ARCH_CTX_PC(%rdi)
    movq    %rbp, \at + CORO_ARCH_CTX_FP(%rdi)
.endm

/* Stores the control words in the record at rdi + \at and resumes the
 * record at rsi + \at. rax is left alone (what the switch passes). */
.macro LEAVE_FOR at=0
    stmxcsr \at + CORO_ARCH_CTX_MXCSR(%rdi)
    fnstcw  \at + CORO_ARCH_CTX_X87CW(%rdi)
    movzwl  \at + CORO_ARCH_CTX_X87CW(%rdi), %edx  /* not rcx: the unwind info says the */
    ldmxcsr \at + CORO_ARCH_CTX_MXCSR(%rsi)        /* caller's address is there until */
    cmpw    \at + CORO_ARCH_CTX_X87CW(%rsi), %dx   /* the stack changes */
    jne     2f
    .cfi_remember_state
1:  movq    \at + CORO_ARCH_CTX_SP(%rsi), %rsp
    .cfi_undefined %rip         /* on the resumed stack: nothing to unwind to */
    movq    \at + CORO_ARCH_CTX_FP(%rsi), %rbp
    jmpq    *\at + CORO_ARCH_CTX_PC(%rsi)
2:  fldcw   \at + CORO_ARCH_CTX_X87CW(%rsi)   /* the x87 control words differ: rare */
    jmp     1b
    .cfi_restore_state
.endm

/* rdi: the context to save, rsi: the context to resume (records at + \at),
 * rcx: where the saved one resumes. */
.macro SWITCH at=0
    SAVE_RESUME_POINT \at
    LEAVE_FOR \at
.endm

/* coro_arch_switch: rdi, rsi, rcx as SWITCH; jumped to by coro_arch_enter. */
    .globl  coro_arch_switch
    .hidden coro_arch_switch
    .type   coro_arch_switch, @function
    .p2align 4
coro_arch_switch:
    .cfi_startproc
    .cfi_def_cfa %rsp, 0        /* entered by a jump: the caller's frame is intact, */
    .cfi_register %rip, %rcx    /* and rcx says where it goes on */
    SWITCH
    .cfi_endproc
    .size   coro_arch_switch, .-coro_arch_switch

/*
 * coro_yield_entry_: what coro.h's inline coro_yield jumps to, with the
 * resume address in rcx and every register but rsp and rbp free to clobber.
 *
 * The common case, a task that may take it (CORO_TASK_FAST_YIELD: a guarded
 * stack, no sanitizer to tell) while nothing needs the loop (fast_yields), is
 * done here: the running task stays in the run queue's ring as its tail, the
 * head becomes current and is switched to. A task alone in the ring switches
 * to itself, which is what a yield with nobody to yield to means. Outside a
 * task it jumps straight back. Everything else stores the caller's resume
 * point in the task and calls coro_yield_slow_ (sched.c), after stepping
 * over the red zone, which belongs to the code that jumped here, and aligning
 * the stack: the task either comes back from there and jumps to the caller,
 * or is resumed at that point later, directly in its caller.
 */
    .globl  coro_yield_entry_
    .type   coro_yield_entry_, @function
    .p2align 4
coro_yield_entry_:
    .cfi_startproc
    .cfi_def_cfa %rsp, 0
    .cfi_register %rip, %rcx
    movq    coro_tl_loop_@gottpoff(%rip), %rax
    movq    %fs:(%rax), %rax
    movq    CORO_LOOP_CURRENT(%rax), %rdi
    testq   %rdi, %rdi
    jz      5f
    cmpl    $0, CORO_LOOP_FAST_YIELDS(%rax)
    je      3f
    cmpb    $0, CORO_TASK_FAST_YIELD(%rdi)
    je      3f
    movq    CORO_TASK_NEXT(%rdi), %rsi
    movq    %rdi, CORO_LOOP_RUNQ_TAIL(%rax)
    movq    %rsi, CORO_LOOP_CURRENT(%rax)
    xorl    %eax, %eax          /* nothing passed */
    SWITCH  CORO_TASK_CTX
5:  jmpq    *%rcx               /* not in a task: nothing to yield to */
3:  SAVE_RESUME_POINT CORO_TASK_CTX /* where coro_yield_slow_'s switch resumes t */
    movq    %rcx, %r12
    .cfi_register %rip, %r12
    movq    %rsp, %rbx
    .cfi_def_cfa_register %rbx
    leaq    -128(%rsp), %rsp
    andq    $-16, %rsp
    call    coro_yield_slow_
    movq    %rbx, %rsp
    .cfi_def_cfa_register %rsp
    jmpq    *%r12
    .cfi_endproc
    .size   coro_yield_entry_, .-coro_yield_entry_

/* void coro_arch_jump(struct coro_arch_ctx *from, struct coro_arch_ctx *to,
 *                     void *pass)
 * Leaves for *to, passing pass, with *from's resume point already stored:
 * a call that never returns. */
    .globl  coro_arch_jump
    .hidden coro_arch_jump
    .type   coro_arch_jump, @function
    .p2align 4
coro_arch_jump:
    .cfi_startproc
    movq    %rdx, %rax
    LEAVE_FOR
    .cfi_endproc
    .size   coro_arch_jump, .-coro_arch_jump

/* void coro_arch_make(struct coro_arch_ctx *ctx, void *stack_top,
 *                     void (*entry)(void *, void *), void *arg)
 * The fresh stack holds entry and arg for the trampoline, 16-aligned. */
    .globl  coro_arch_make
    .hidden coro_arch_make
    .type   coro_arch_make, @function
    .p2align 4
coro_arch_make:
    .cfi_startproc
    movq    %rsi, %rax
    andq    $-16, %rax
    subq    $16, %rax
    movq    %rdx, 0(%rax)
    movq    %rcx, 8(%rax)
    movq    %rax, CORO_ARCH_CTX_SP(%rdi)
    leaq    coro_arch_trampoline(%rip), %rax
    movq    %rax, CORO_ARCH_CTX_PC(%rdi)
    movq    $0, CORO_ARCH_CTX_FP(%rdi)
    stmxcsr CORO_ARCH_CTX_MXCSR(%rdi)
    fnstcw  CORO_ARCH_CTX_X87CW(%rdi)
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
    .cfi_undefined %rip
    movq    8(%rsp), %rdi
    movq    %rax, %rsi
    callq   *(%rsp)
    ud2
    .cfi_endproc
    .size   coro_arch_trampoline, .-coro_arch_trampoline

    .section .note.GNU-stack, "", @progbits
