/*
 * Where coro_yield_entry_ (arch/<abi>.S) finds what it reads in a task and a
 * loop: fixed at the front of both structs, whatever the build (sanitizer
 * fields come later), and checked against the structs in internal.h.
 */
#ifndef CAIO_SRC_CORO_ASM_OFFSETS_H
#define CAIO_SRC_CORO_ASM_OFFSETS_H

#define CORO_TASK_NEXT 0
#define CORO_TASK_FAST_YIELD 8
#define CORO_TASK_CTX 16

#define CORO_LOOP_CURRENT 0
#define CORO_LOOP_RUNQ_TAIL 8
#define CORO_LOOP_FAST_YIELDS 16

#endif
