/* bench_coro_switch: two tasks handing control to each other (coro_yield),
 * against the same bounce on boost.context's jump_fcontext, in one run.
 *
 * Both keep what the ABI makes callee-saved, MXCSR and the x87 control word
 * included, so on the Zen 4 machines of NOTES.md both pay `stmxcsr`, about
 * 4.3 ns of fcontext's ~5.5. fcontext saves and restores all six
 * callee-saved registers and both control words unconditionally; coro.h's
 * inline coro_yield lets the compiler keep just the loop's live values
 * (src/coro/arch/arch.h) and pays the run-queue bookkeeping a scheduler
 * needs on top.
 *
 * The two are measured in short rounds, alternately and in alternating
 * order, because these machines drift by 10-20 % over seconds; each round
 * gives one ratio, and the ratio reported is the median of those.
 * RATIO coro_switch_vs_fcontext = fcontext ns per switch / ours. */
#include <coro/coro.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "coro_bench.h"

#define ROUNDS 21
#define SWITCHES 2000000L /* per round and side */

static void *bouncer(void *p)
{
    long n = (long)(intptr_t)p;
    for (long i = 0; i < n; i++) coro_yield();
    return NULL;
}

/* ns per switch: each yield hands the thread to the other task directly.
 * One scheduler serves every round (a scheduler runs again once its tasks
 * are done), so rounds do not pay for ring and stack set-up in between. */
static double run_ours(void *sched)
{
    struct coro_scheduler *s = sched;
    coro_spawn(s, bouncer, (void *)(intptr_t)(SWITCHES / 2), &(struct coro_spawn_options){ .detached = true }, NULL);
    coro_spawn(s, bouncer, (void *)(intptr_t)(SWITCHES / 2), &(struct coro_spawn_options){ .detached = true }, NULL);
    uint64_t t0 = bench_now_ns();
    if (coro_run(s)) abort();
    uint64_t el = bench_now_ns() - t0;
    return (double)el / SWITCHES;
}

static void fctx_body(transfer_t t)
{
    for (;;) t = jump_fcontext(t.fctx, NULL);
}

#define FCTX_STACK (64u << 10)

static double run_fcontext(void *stack_mem)
{
    char *stack = stack_mem;
    size_t sz = FCTX_STACK;
    fcontext_t ctx = make_fcontext(stack + sz, sz, fctx_body);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < SWITCHES / 2; i++) ctx = jump_fcontext(ctx, NULL).fctx;
    uint64_t el = bench_now_ns() - t0;
    return (double)el / SWITCHES;
}

int main(void)
{
    char *stack = malloc(FCTX_STACK);
    if (!stack) return 1;
    struct coro_scheduler *s;
    if (coro_scheduler_create(&s, &(struct coro_options){ .threads = 1 })) abort();
    double ours[ROUNDS], base[ROUNDS];
    double ratio = bench_paired_rounds(ROUNDS, 0, run_ours, s, run_fcontext, stack, ours, base);
    free(stack);
    coro_scheduler_destroy(s);
    bench_result("coro_switch_ns", bench_median(ours, ROUNDS), "ns");
    bench_result("fcontext_switch_ns", bench_median(base, ROUNDS), "ns");
    bench_ratio("coro_switch_vs_fcontext", ratio);
    return 0;
}
