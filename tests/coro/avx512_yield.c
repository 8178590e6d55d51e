/* Compiled with -mavx512f and never run (tests/coro/CMakeLists.txt): the
 * inline coro_yield's clobber list must be accepted where xmm16-31 and the
 * mask registers exist, and vector values must be kept across it. */
#include <coro/coro.h>

void avx512_scale_while_yielding(float *v, int n, float k);
void avx512_scale_while_yielding(float *v, int n, float k)
{
    for (int i = 0; i < n; i++) {
        v[i] *= k;
        coro_yield();
    }
}
