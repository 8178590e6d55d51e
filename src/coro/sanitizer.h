/*
 * Telling ASan, TSan and Valgrind about stacks and switches. Each hook is
 * empty unless the matching tool is in the build, so the release switch is
 * the bare assembly.
 */
#ifndef CAIO_SRC_CORO_SANITIZER_H
#define CAIO_SRC_CORO_SANITIZER_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#  define CORO_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define CORO_ASAN 1
#  endif
#endif
#ifndef CORO_ASAN
#  define CORO_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#  define CORO_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define CORO_TSAN 1
#  endif
#endif
#ifndef CORO_TSAN
#  define CORO_TSAN 0
#endif

#if CORO_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif
#if CORO_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
void __tsan_set_fiber_name(void *fiber, const char *name);
#endif

#ifdef CORO_HAVE_VALGRIND
#  include <valgrind/valgrind.h>
#  define CORO_VG_STACK_REGISTER(lo, hi) VALGRIND_STACK_REGISTER((lo), (hi))
#  define CORO_VG_STACK_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#else
#  define CORO_VG_STACK_REGISTER(lo, hi) 0u
#  define CORO_VG_STACK_DEREGISTER(id) ((void)(id))
#endif

#endif
