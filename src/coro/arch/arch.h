/*
 * The per-ABI part of coro: a context record, a switch, a fresh context, one
 * assembly file per ABI in this folder (x86_64_sysv.S now; aarch64.S,
 * riscv64.S and win64.S would each implement the same and be picked in
 * src/coro/CMakeLists.txt), plus, where an ABI has one, the entry that
 * coro.h's inline coro_yield jumps to.
 *
 * A suspended context is a record, not a frame on its stack: the stack
 * pointer, the resume address, the frame pointer and the floating-point
 * control words. Whoever suspends tells its compiler that every other
 * register is clobbered (the inline assembly below, and coro.h's), so the
 * compiler saves just the values that are live there, and the switch writes
 * and reads a few words instead of the whole callee-saved set. Nothing is
 * pushed on the suspending stack either: no call, no `ret`, so the
 * return-stack buffer is never unbalanced, and the resume is an indirect
 * jump, predicted from its own history.
 *
 * Usable from assembly: the record's offsets are macros.
 */
#ifndef CAIO_SRC_CORO_ARCH_H
#define CAIO_SRC_CORO_ARCH_H

#if defined(__x86_64__) && defined(__ELF__) /* as coro.h's inline yield */

/* struct coro_arch_ctx, x86-64 System V. rbp is the one callee-saved
 * register kept here rather than declared clobbered: with frame pointers on,
 * compilers refuse to let inline assembly clobber it. MXCSR's control bits
 * and the x87 control word are callee-saved too, and no compiler can be told
 * that assembly clobbers them. */
#define CORO_ARCH_CTX_SP 0
#define CORO_ARCH_CTX_PC 8
#define CORO_ARCH_CTX_FP 16
#define CORO_ARCH_CTX_MXCSR 24
#define CORO_ARCH_CTX_X87CW 28
#define CORO_ARCH_CTX_SIZE 32

#ifndef __ASSEMBLER__
#include <coro/coro.h> /* CORO_CLOBBERS_BUT_ARGS_ */
#include <stdint.h>

struct coro_arch_ctx {
    void *sp;
    void *pc;
    void *fp;
    uint32_t mxcsr;
    uint16_t x87cw;
    uint16_t pad;
};
_Static_assert(sizeof(struct coro_arch_ctx) == CORO_ARCH_CTX_SIZE, "coro_arch_ctx layout");
_Static_assert(__builtin_offsetof(struct coro_arch_ctx, pc) == CORO_ARCH_CTX_PC, "coro_arch_ctx layout");
_Static_assert(__builtin_offsetof(struct coro_arch_ctx, fp) == CORO_ARCH_CTX_FP, "coro_arch_ctx layout");
_Static_assert(__builtin_offsetof(struct coro_arch_ctx, mxcsr) == CORO_ARCH_CTX_MXCSR, "coro_arch_ctx layout");
_Static_assert(__builtin_offsetof(struct coro_arch_ctx, x87cw) == CORO_ARCH_CTX_X87CW, "coro_arch_ctx layout");

/*
 * coro_arch_enter(from, to, pass): saves the running context in *from and
 * resumes *to, which finds `pass` as the value of its own coro_arch_enter
 * (or, a fresh context, as its entry's second argument). Returns when
 * something resumes *from, with what that switcher passed. pass travels in
 * rax; rcx carries the resume address into coro_arch_switch.
 */
void coro_arch_switch(void);
static inline __attribute__((always_inline)) void *coro_arch_enter(struct coro_arch_ctx *from,
                                                                   struct coro_arch_ctx *to, void *pass)
{
    register struct coro_arch_ctx *a0 __asm__("rdi") = from;
    register struct coro_arch_ctx *a1 __asm__("rsi") = to;
    register void *a2 __asm__("rax") = pass;
    __asm__ volatile("leaq 1f(%%rip), %%rcx\n\t"
                     "jmp coro_arch_switch\n"
                     "1:"
                     : "+r"(a0), "+r"(a1), "+r"(a2)
                     :
                     : CORO_CLOBBERS_BUT_ARGS_);
    return a2;
}

/* Leaves for *to, passing pass, when *from's resume point (sp, pc, fp) is
 * stored already: only the control words are saved. Never returns. */
__attribute__((noreturn)) void coro_arch_jump(struct coro_arch_ctx *from, struct coro_arch_ctx *to, void *pass);

#endif /* !__ASSEMBLER__ */

#else
#error "caio coro: no context switch for this ABI (src/coro/arch)"
#endif

#ifndef __ASSEMBLER__
/* Makes *ctx a fresh context on the stack that ends at stack_top (exclusive):
 * resuming it calls entry(arg, pass), pass being what the first switch to it
 * carried; entry must never return. Its control words are the caller's, as a
 * new thread inherits them. */
void coro_arch_make(struct coro_arch_ctx *ctx, void *stack_top, void (*entry)(void *, void *), void *arg);
#endif

#endif
