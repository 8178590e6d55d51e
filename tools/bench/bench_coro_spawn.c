/* bench_coro_spawn: 1,000,000 tasks spawned, each yielding 3 times, run to
 * completion: tasks spawned per second, the cost of a switch while all of
 * them are alive (round-robin over 1M stacks), and peak RSS per task. The
 * baseline is the same round-robin over 1M boost.context fcontexts with 16 KiB
 * stacks carved from one mapping. RATIO coro_spawn_switch_vs_fcontext =
 * fcontext ns per switch / ours. */
#include <coro/coro.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "coro_bench.h"

#define TASKS 1000000L
#define ROUNDS 3

static uint64_t round_start[ROUNDS + 1];

static void *yielder(void *p)
{
    int first = p != NULL; /* the first task marks the start of each round */
    for (int r = 0; r < ROUNDS; r++) {
        if (first) round_start[r] = bench_now_ns();
        coro_yield();
    }
    if (first) round_start[ROUNDS] = bench_now_ns();
    return NULL;
}

struct ours { double spawn_per_s, switch_ns, rss_kib_per_task; };

static struct ours run_ours(size_t stack)
{
    struct coro_scheduler *s;
    if (coro_scheduler_create(&s, &(struct coro_options){ .threads = 1, .stack_size = stack })) abort();
    long rss0 = bench_rss_kib();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < TASKS; i++)
        if (coro_spawn(s, yielder, i == 0 ? (void *)1 : NULL, &(struct coro_spawn_options){ .detached = true }, NULL)) {
            fprintf(stderr, "spawn %ld failed\n", i);
            abort();
        }
    uint64_t t1 = bench_now_ns();
    if (coro_run(s)) abort();
    long rss1 = bench_rss_kib(); /* stacks stay pooled: this is the peak */
    coro_scheduler_destroy(s);
    struct ours r;
    r.spawn_per_s = TASKS / ((double)(t1 - t0) / 1e9);
    /* rounds 1..2: every task alive, each switch goes to another stack */
    r.switch_ns = (double)(round_start[2] - round_start[1]) / TASKS;
    r.rss_kib_per_task = (double)(rss1 - rss0) / TASKS;
    return r;
}

static fcontext_t *fctx;
static long fcur;

static void fctx_body(transfer_t t)
{
    for (;;) t = jump_fcontext(t.fctx, NULL);
}

/* ns per switch of a round-robin over TASKS fcontexts (out and back = 2) */
static double run_fcontext(void)
{
    const size_t sz = 16 << 10;
    char *mem = mmap(NULL, (size_t)TASKS * sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) abort();
    fctx = malloc(TASKS * sizeof *fctx);
    for (long i = 0; i < TASKS; i++) fctx[i] = make_fcontext(mem + (size_t)(i + 1) * sz, sz, fctx_body);
    for (long i = 0; i < TASKS; i++) fctx[i] = jump_fcontext(fctx[i], NULL).fctx; /* first touch */
    uint64_t t0 = bench_now_ns();
    for (fcur = 0; fcur < TASKS; fcur++) fctx[fcur] = jump_fcontext(fctx[fcur], NULL).fctx;
    uint64_t el = bench_now_ns() - t0;
    munmap(mem, (size_t)TASKS * sz);
    free(fctx);
    return (double)el / (2.0 * TASKS);
}

int main(int argc, char **argv)
{
    size_t stack = argc > 1 ? strtoul(argv[1], NULL, 0) : 16384;
    struct ours o[3];
    double b[3];
    for (int i = 0; i < 3; i++) {
        o[i] = run_ours(stack);
        b[i] = run_fcontext();
    }
    double sw = bench_median3(o[0].switch_ns, o[1].switch_ns, o[2].switch_ns);
    double fb = bench_median3(b[0], b[1], b[2]);
    printf("RESULT coro_spawn_tasks_per_s %.0f tasks/s\n", bench_median3(o[0].spawn_per_s, o[1].spawn_per_s, o[2].spawn_per_s));
    printf("RESULT coro_spawn_switch_ns_all_alive %.2f ns\n", sw);
    printf("RESULT coro_spawn_rss_per_task %.2f KiB\n", bench_median3(o[0].rss_kib_per_task, o[1].rss_kib_per_task, o[2].rss_kib_per_task));
    printf("RESULT coro_spawn_stack_size %zu bytes\n", stack);
    printf("RESULT fcontext_round_robin_switch_ns %.2f ns\n", fb);
    printf("RATIO coro_spawn_switch_vs_fcontext %.3f\n", fb / sw);
    return 0;
}
