/*
 * The per-ABI part of coro: two functions, written in assembly, one file per
 * ABI in this folder (x86_64_sysv.S now; aarch64.S, riscv64.S and win64.S
 * would each implement the same two and be picked in src/coro/CMakeLists.txt).
 *
 * A suspended context is represented by its saved stack pointer only.
 */
#ifndef CAIO_SRC_CORO_ARCH_H
#define CAIO_SRC_CORO_ARCH_H

/* Saves the callee-saved state on the current stack, stores the stack pointer
 * in *save_sp, and resumes the context whose stack pointer is load_sp. Returns
 * when some other context switches back to *save_sp, with the `pass` word
 * that context gave: handed across the switch in a register, so the resumed
 * side learns whether work waits for it without loading anything. Called
 * through coro_arch_enter, whose calling convention it may bend (x86-64 takes
 * pass in rax). */
void *coro_arch_switch(void **save_sp, void *load_sp, void *pass);

/*
 * coro_arch_enter(save_sp, load_sp, pass): what C code uses to switch. Where
 * the ABI allows, it enters coro_arch_switch with a jump, pushing its own
 * resume address, instead of a call: the switch resumes the other context
 * with an indirect jump, so a call here would leave an entry in the
 * return-stack buffer that no ret ever pops, and every return after the
 * switch would then be mispredicted (measured: 22 ns per switch instead of a
 * few). With no call and no ret the return-stack buffer stays balanced in
 * both contexts. Pushing below the stack pointer needs the red zone off
 * (-mno-red-zone). pass travels in rax, which the switch leaves alone.
 */
#if defined(__x86_64__) && !defined(_WIN32)
static inline __attribute__((always_inline)) void *coro_arch_enter(void **save_sp, void *load_sp, void *pass)
{
    register void **a0 __asm__("rdi") = save_sp;
    register void *a1 __asm__("rsi") = load_sp;
    register void *a2 __asm__("rax") = pass;
    __asm__ volatile("leaq 1f(%%rip), %%rcx\n\t"
                     "pushq %%rcx\n\t"
                     "jmp coro_arch_switch\n"
                     "1:"
                     : "+r"(a0), "+r"(a1), "+r"(a2)
                     :
                     : "rcx", "rdx", "r8", "r9", "r10", "r11", "memory", "cc",
                       "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
                       "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
    return a2;
}
#else
#define coro_arch_enter coro_arch_switch
#endif

/* The switch for a function that yields as its very last act and expects
 * nothing back: called in tail position, it keeps that function's return
 * address as the resume address, so the context resumes directly in the
 * function's caller, without passing through it again. Whoever resumes such a
 * context must pass nothing (NULL): nobody would act on it. Correct without
 * tail-call optimisation too (the function then finishes when resumed). */
void coro_arch_yield(void **save_sp, void *load_sp);

/* Prepares a fresh context on the stack that ends at stack_top (exclusive):
 * switching to the returned stack pointer calls entry(arg, pass), pass being
 * the first switch's; entry must never return. */
void *coro_arch_make(void *stack_top, void (*entry)(void *, void *), void *arg);

#endif
