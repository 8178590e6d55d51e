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
 * when some other context switches back to *save_sp. */
void coro_arch_switch(void **save_sp, void *load_sp);

/* Prepares a fresh context on the stack that ends at stack_top (exclusive):
 * switching to the returned stack pointer calls entry(arg), which must never
 * return. */
void *coro_arch_make(void *stack_top, void (*entry)(void *), void *arg);

#endif
