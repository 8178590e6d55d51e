/* RUNNING_ON_VALGRIND for the coro tests: Valgrind's own macro where its
 * header is installed (it is a Debian dependency of the test set-up), else 0.
 * Tests use it only where Valgrind cannot model something (MXCSR's
 * flush-to-zero bit, tens of thousands of mappings, thread scheduling). */
#ifndef CAIO_TESTS_CORO_ON_VALGRIND_H
#define CAIO_TESTS_CORO_ON_VALGRIND_H

#if defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>
#  endif
#endif
#ifndef RUNNING_ON_VALGRIND
#  define RUNNING_ON_VALGRIND 0
#endif

#endif
