/* bench_coro_switch: two tasks handing control to each other (coro_yield),
 * against the same bounce on boost.context's jump_fcontext, in one run.
 * RATIO coro_switch_vs_fcontext = fcontext ns per switch / ours. */
#include <coro/coro.h>
#include <stdio.h>
#include <stdlib.h>

#include "coro_bench.h"

#define SWITCHES 20000000L

static void *bouncer(void *p)
{
    long n = (long)(intptr_t)p;
    for (long i = 0; i < n; i++) coro_yield();
    return NULL;
}

/* ns per switch: each yield hands the thread to the other task directly */
static double run_ours(void)
{
    struct coro_scheduler *s;
    if (coro_scheduler_create(&s, &(struct coro_options){ .threads = 1 })) abort();
    coro_spawn(s, bouncer, (void *)(intptr_t)(SWITCHES / 2), &(struct coro_spawn_options){ .detached = true }, NULL);
    coro_spawn(s, bouncer, (void *)(intptr_t)(SWITCHES / 2), &(struct coro_spawn_options){ .detached = true }, NULL);
    uint64_t t0 = bench_now_ns();
    if (coro_run(s)) abort();
    uint64_t el = bench_now_ns() - t0;
    coro_scheduler_destroy(s);
    return (double)el / SWITCHES;
}

static void fctx_body(transfer_t t)
{
    for (;;) t = jump_fcontext(t.fctx, NULL);
}

static double run_fcontext(void)
{
    size_t sz = 64 << 10;
    char *stack = malloc(sz);
    fcontext_t ctx = make_fcontext(stack + sz, sz, fctx_body);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < SWITCHES / 2; i++) ctx = jump_fcontext(ctx, NULL).fctx;
    uint64_t el = bench_now_ns() - t0;
    free(stack);
    return (double)el / SWITCHES;
}

int main(void)
{
    double ours[3], base[3];
    for (int i = 0; i < 3; i++) {
        base[i] = run_fcontext();
        ours[i] = run_ours();
    }
    double o = bench_median3(ours[0], ours[1], ours[2]), b = bench_median3(base[0], base[1], base[2]);
    printf("RESULT coro_switch_ns %.2f ns\n", o);
    printf("RESULT fcontext_switch_ns %.2f ns\n", b);
    printf("RATIO coro_switch_vs_fcontext %.3f\n", b / o);
    return 0;
}
