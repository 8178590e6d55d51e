/* Tasks: switching (registers and FP control state survive), many tasks,
 * spawn from tasks, join/detach results, pass order, bad input. */
#include <coro/coro.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xmmintrin.h>

#include "on_valgrind.h"

static struct coro_scheduler *new_sched(void)
{
    struct coro_scheduler *s = NULL;
    cr_assert_eq(coro_scheduler_create(&s, NULL), 0);
    cr_assert_not_null(s);
    return s;
}

/* ---- FP control state and callee-saved registers across switches ---------- */

struct fp_arg { int round; unsigned ftz; int ok; };

static unsigned short x87_cw(void)
{
    unsigned short cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}

static void *fp_task(void *p)
{
    struct fp_arg *a = p;
    fesetround(a->round);
    _mm_setcsr((_mm_getcsr() & ~0x8000u) | a->ftz);
    unsigned short cw = x87_cw();
    /* values kept live across the switches, in callee-saved registers or spilled */
    volatile double x = 1.0 / 3.0;
    uint64_t r1 = 0x1111111111111111ull * (uint64_t)a->round, r2 = ~r1, r3 = r1 ^ 0x5a5a5a5a5a5a5a5aull;
    for (int i = 0; i < 50; i++) {
        coro_yield();
        if (fegetround() != a->round) return NULL;
        if ((_mm_getcsr() & 0x8000u) != a->ftz) return NULL;
        if (x87_cw() != cw) return NULL;
        r1 += 3; r2 -= 3; r3 ^= (uint64_t)i;
    }
    uint64_t e1 = 0x1111111111111111ull * (uint64_t)a->round + 150, e2 = ~(0x1111111111111111ull * (uint64_t)a->round) - 150;
    uint64_t e3 = (0x1111111111111111ull * (uint64_t)a->round) ^ 0x5a5a5a5a5a5a5a5aull;
    for (int i = 0; i < 50; i++) e3 ^= (uint64_t)i;
    a->ok = r1 == e1 && r2 == e2 && r3 == e3 && x == 1.0 / 3.0;
    return a;
}

Test(core, fp_control_state_and_registers_survive_switches)
{
    struct coro_scheduler *s = new_sched();
    int modes[] = { FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO };
    struct fp_arg a[4];
    struct coro_task *t[4];
    for (int i = 0; i < 4; i++) {
        /* Valgrind does not model MXCSR's flush-to-zero bit (it reads back
         * 0), so only rounding modes are varied under it */
        a[i] = (struct fp_arg){ .round = modes[i], .ftz = (i & 1) && !RUNNING_ON_VALGRIND ? 0x8000u : 0 };
        cr_assert_eq(coro_spawn(s, fp_task, &a[i], NULL, &t[i]), 0);
    }
    int main_round = fegetround();
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(fegetround(), main_round, "the loop's rounding mode leaked from a task");
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        cr_assert_eq(coro_task_join(t[i], &r), 0);
        cr_assert_eq(r, &a[i], "task %d saw its FP state or registers change", i);
        cr_assert(a[i].ok, "task %d: values kept across switches changed", i);
    }
    coro_scheduler_destroy(s);
}

/* ---- many tasks, order, join results ------------------------------------- */

struct order { int *log; int n; };
struct many_arg { struct order *o; int id; };

static void *many_task(void *p)
{
    struct many_arg *a = p;
    for (int i = 0; i < 3; i++) {
        a->o->log[a->o->n++] = a->id;
        coro_yield();
    }
    return (void *)(intptr_t)(a->id * 2 + 1);
}

Test(core, many_tasks_round_robin_and_join_results)
{
    enum { N = 5000 };
    /* round-robin order is a property of one loop */
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, &(struct coro_options){ .threads = 1 }), 0);
    struct order o = { .log = calloc(3 * N, sizeof(int)), .n = 0 };
    struct many_arg *args = calloc(N, sizeof *args);
    struct coro_task **t = calloc(N, sizeof *t);
    for (int i = 0; i < N; i++) {
        args[i] = (struct many_arg){ &o, i };
        cr_assert_eq(coro_spawn(s, many_task, &args[i], &(struct coro_spawn_options){ .stack_size = 16384 }, &t[i]), 0);
    }
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(o.n, 3 * N);
    /* FIFO: every round runs the tasks in spawn order */
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < N; i++) cr_assert_eq(o.log[r * N + i], i, "round %d position %d", r, i);
    for (int i = 0; i < N; i++) {
        void *res;
        cr_assert_eq(coro_task_join(t[i], &res), 0);
        cr_assert_eq((intptr_t)res, i * 2 + 1);
    }
    coro_scheduler_destroy(s);
    free(o.log);
    free(args);
    free(t);
}

/* ---- spawn from a task, join inside tasks, detach ------------------------- */

static void *leaf(void *p)
{
    coro_yield();
    return (void *)((intptr_t)p + 100);
}

static int detached_ran;

static void *detached_task(void *p)
{
    (void)p;
    coro_yield();
    detached_ran++;
    return NULL;
}

static void *parent(void *p)
{
    struct coro_scheduler *s = p;
    struct coro_task *kids[10];
    for (int i = 0; i < 10; i++)
        if (coro_spawn(s, leaf, (void *)(intptr_t)i, NULL, &kids[i])) return (void *)-1;
    if (coro_spawn(s, detached_task, NULL, &(struct coro_spawn_options){ .detached = true }, NULL)) return (void *)-1;
    intptr_t sum = 0;
    for (int i = 0; i < 10; i++) {
        void *r;
        if (coro_task_join(kids[i], &r)) return (void *)-2;
        sum += (intptr_t)r;
    }
    return (void *)sum;
}

Test(core, spawn_and_join_inside_tasks_and_detach)
{
    struct coro_scheduler *s = new_sched();
    struct coro_task *p;
    detached_ran = 0;
    cr_assert_eq(coro_spawn(s, parent, s, &(struct coro_spawn_options){ .name = "parent" }, &p), 0);
    cr_assert_str_eq(coro_task_name(p), "parent");
    cr_assert_eq(coro_run(s), 0);
    void *r;
    cr_assert_eq(coro_task_join(p, &r), 0);
    cr_assert_eq((intptr_t)r, 45 + 1000);
    cr_assert_eq(detached_ran, 1);
    /* a spawned-detached handle is never given out */
    struct coro_task *h = (struct coro_task *)1;
    cr_assert_eq(coro_spawn(s, detached_task, NULL, &(struct coro_spawn_options){ .detached = true }, &h), 0);
    cr_assert_null(h);
    struct coro_task *d;
    cr_assert_eq(coro_spawn(s, detached_task, NULL, NULL, &d), 0);
    cr_assert_eq(coro_task_detach(d), 0);
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(detached_ran, 3);
    coro_scheduler_destroy(s);
}

/* ---- current, names, nested run, joins that cannot work ------------------- */

static struct coro_task *seen_self;

static void *self_checks(void *p)
{
    struct coro_scheduler *s = p;
    seen_self = coro_current();
    if (coro_run(s) != -EBUSY) return (void *)1;
    if (coro_task_join(seen_self, NULL) != -EDEADLK) return (void *)2;
    if (coro_cancelled()) return (void *)3;
    return NULL;
}

Test(core, current_nested_run_and_bad_joins)
{
    struct coro_scheduler *s = new_sched();
    cr_assert_null(coro_current());
    struct coro_task *t;
    cr_assert_eq(coro_spawn(s, self_checks, s, &(struct coro_spawn_options){ .name = "a-very-long-name-that-gets-cut-at-31" }, &t), 0);
    cr_assert_eq(coro_task_join(t, NULL), -EAGAIN, "join outside a task before it ran");
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(seen_self, t);
    cr_assert_eq(strlen(coro_task_name(t)), 31);
    void *r = (void *)99;
    cr_assert_eq(coro_task_join(t, &r), 0);
    cr_assert_null(r);
    cr_assert_null(coro_current());
    coro_scheduler_destroy(s);
}

static void *noop(void *p) { return p; }

Test(core, bad_input)
{
    struct coro_scheduler *s = new_sched();
    struct coro_task *t = (struct coro_task *)1;
    struct coro_scheduler *too_many = NULL;
    cr_assert_eq(coro_scheduler_create(&too_many, &(struct coro_options){ .threads = 100000 }), -EINVAL,
                 "more loops than the scheduler supports");
    cr_assert_null(too_many);
    cr_assert_eq(coro_scheduler_create(NULL, NULL), -EINVAL);
    cr_assert_eq(coro_spawn(NULL, noop, NULL, NULL, &t), -EINVAL);
    cr_assert_null(t);
    cr_assert_eq(coro_spawn(s, NULL, NULL, NULL, &t), -EINVAL);
    cr_assert_eq(coro_run(NULL), -EINVAL);
    cr_assert_eq(coro_task_join(NULL, NULL), -EINVAL);
    cr_assert_eq(coro_task_cancel(NULL), -EINVAL);
    cr_assert_eq(coro_task_detach(NULL), -EINVAL);
    /* nothing was spawned: run returns at once */
    cr_assert_eq(coro_run(s), 0);
    /* outside a task: yield is a no-op, waits refuse */
    coro_yield();
    struct coro_event ev;
    coro_event_init(&ev);
    cr_assert_eq(coro_event_wait(&ev), -EPERM);
    coro_scheduler_destroy(s);
    coro_scheduler_destroy(NULL);
}

Test(core, scheduler_reusable_after_run)
{
    struct coro_scheduler *s = new_sched();
    for (int round = 0; round < 3; round++) {
        struct coro_task *t;
        cr_assert_eq(coro_spawn(s, leaf, (void *)(intptr_t)round, NULL, &t), 0);
        cr_assert_eq(coro_run(s), 0);
        void *r;
        cr_assert_eq(coro_task_join(t, &r), 0);
        cr_assert_eq((intptr_t)r, round + 100);
    }
    coro_scheduler_destroy(s);
}

/* ---- yields beside tasks that park, wake and end ----------------------------
 * A task suspended by coro_yield resumes straight in its caller; a task that
 * parks or ends leaves work for whoever runs next (an unlock, its own
 * memory), which such a task would never do. Tasks that park and end between
 * yielding tasks exercise the way round through the loop. */

struct mixed {
    struct coro_event ev[4];
    int yields[4];
    int woken;
    int ended;
};

struct mixed_arg { struct mixed *m; int id; };

static void *yielder(void *p)
{
    struct mixed_arg *a = p;
    for (int i = 0; i < 300; i++) {
        a->m->yields[a->id]++;
        if (i == 50 + 40 * a->id) coro_event_set(&a->m->ev[a->id]); /* wakes a parked task */
        coro_yield();
    }
    return (void *)(intptr_t)(a->id + 1000);
}

static void *parker(void *p)
{
    struct mixed_arg *a = p;
    coro_yield();
    if (coro_event_wait(&a->m->ev[a->id]) != 0) return NULL;
    a->m->woken++;
    for (int i = 0; i < a->id; i++) coro_yield();
    return (void *)(intptr_t)(a->id + 2000);
}

static void *ender(void *p)
{
    struct mixed_arg *a = p;
    for (int i = 0; i < a->id; i++) coro_yield();
    a->m->ended++;
    return (void *)(intptr_t)(a->id + 3000);
}

static void run_mixed(unsigned threads)
{
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, &(struct coro_options){ .threads = threads }), 0);
    struct mixed m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < 4; i++) coro_event_init(&m.ev[i]);
    struct mixed_arg args[12];
    struct coro_task *t[12];
    /* interleaved, so a parker or an ender often comes right after a yielder */
    for (int i = 0; i < 4; i++) {
        args[3 * i] = (struct mixed_arg){ &m, i };
        args[3 * i + 1] = (struct mixed_arg){ &m, i };
        args[3 * i + 2] = (struct mixed_arg){ &m, i };
        cr_assert_eq(coro_spawn(s, yielder, &args[3 * i], NULL, &t[3 * i]), 0);
        cr_assert_eq(coro_spawn(s, parker, &args[3 * i + 1], NULL, &t[3 * i + 1]), 0);
        cr_assert_eq(coro_spawn(s, ender, &args[3 * i + 2], NULL, &t[3 * i + 2]), 0);
    }
    cr_assert_eq(coro_run(s), 0);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(m.yields[i], 300, "yielder %d", i);
        void *r;
        cr_assert_eq(coro_task_join(t[3 * i], &r), 0);
        cr_assert_eq((intptr_t)r, i + 1000);
        cr_assert_eq(coro_task_join(t[3 * i + 1], &r), 0);
        cr_assert_eq((intptr_t)r, i + 2000, "parker %d", i);
        cr_assert_eq(coro_task_join(t[3 * i + 2], &r), 0);
        cr_assert_eq((intptr_t)r, i + 3000);
    }
    /* one loop: the counters are plain ints */
    if (threads == 1) {
        cr_assert_eq(m.woken, 4);
        cr_assert_eq(m.ended, 4);
    }
    coro_scheduler_destroy(s);
}

Test(core, yields_beside_tasks_that_park_and_end)
{
    run_mixed(1);
}

Test(core, yields_beside_tasks_that_park_and_end_two_loops)
{
    run_mixed(2);
}

/* ---- a yielding task does not hold back I/O, timers or other threads -------- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile int spin_done;

static void *spin_until_done(void *p)
{
    long *n = p;
    while (!spin_done) {
        coro_yield();
        ++*n;
    }
    return NULL;
}

static void *sleep_then_done(void *p)
{
    (void)p;
    if (coro_sleep(20 * 1000 * 1000) != 0) return NULL;
    spin_done = 1;
    return p;
}

static void *slow_fn(void *p)
{
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    return p;
}

static void *blocking_then_done(void *p)
{
    void *r = NULL;
    if (coro_blocking(slow_fn, p, &r) != 0 || r != p) return NULL;
    spin_done = 1;
    return p;
}

static void spin_beside(coro_fn other)
{
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, &(struct coro_options){ .threads = 1 }), 0);
    spin_done = 0;
    long spins = 0;
    struct coro_task *a, *b;
    cr_assert_eq(coro_spawn(s, spin_until_done, &spins, NULL, &a), 0);
    cr_assert_eq(coro_spawn(s, other, &spins, NULL, &b), 0);
    uint64_t t0 = mono_ns();
    cr_assert_eq(coro_run(s), 0);
    uint64_t el = mono_ns() - t0;
    void *r;
    cr_assert_eq(coro_task_join(b, &r), 0);
    cr_assert_eq(r, &spins);
    cr_assert_eq(coro_task_join(a, NULL), 0);
    cr_assert_geq(el, 19 * 1000 * 1000u, "finished after %llu ns", (unsigned long long)el);
    /* Valgrind runs one thread at a time and lets the pool's thread in late */
    const uint64_t bound = RUNNING_ON_VALGRIND ? 30000 * 1000 * 1000ull : 2000 * 1000 * 1000ull;
    cr_assert_lt(el, bound, "a yielding task held the loop back: %llu ns", (unsigned long long)el);
    cr_assert_gt(spins, 10, "the spinning task did not run meanwhile");
    coro_scheduler_destroy(s);
}

Test(core, a_yielding_task_lets_a_timer_fire)
{
    spin_beside(sleep_then_done);
}

Test(core, a_yielding_task_lets_a_blocking_call_finish)
{
    /* the pool's completion arrives from another thread */
    spin_beside(blocking_then_done);
}

static void *lone_yielder(void *p)
{
    for (int i = 0; i < 1000; i++) coro_yield();
    return p;
}

Test(core, a_task_alone_yields_and_goes_on)
{
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, &(struct coro_options){ .threads = 1 }), 0);
    struct coro_task *t;
    cr_assert_eq(coro_spawn(s, lone_yielder, s, NULL, &t), 0);
    cr_assert_eq(coro_run(s), 0);
    void *r;
    cr_assert_eq(coro_task_join(t, &r), 0);
    cr_assert_eq(r, s);
    coro_scheduler_destroy(s);
}

/* ---- coro.h's inline coro_yield leaves the caller's red zone alone ---------- */

#ifdef CORO_YIELD_ENTRY_
static volatile bool red_zone_kept;

/* Fills the 128 bytes below the stack pointer, the red zone a leaf function
 * may use without moving the stack pointer, with a pattern, makes the jump
 * that the inline coro_yield makes, and tells whether the pattern is still
 * there. No locals: the pattern is all there is in this red zone. */
static __attribute__((noinline)) bool yield_keeps_red_zone(void)
{
    __asm__ volatile("leaq -128(%%rsp), %%rdi\n\t"
                     "movabsq $0x5a5aa5a55a5aa5a5, %%rax\n\t"
                     "movl $16, %%ecx\n\t"
                     "rep stosq\n\t"
                     "leaq 1f(%%rip), %%rcx\n\t"
                     "jmp *coro_yield_entry_@GOTPCREL(%%rip)\n"
                     "1:\n\t"
                     "leaq -128(%%rsp), %%rdi\n\t"
                     "movabsq $0x5a5aa5a55a5aa5a5, %%rax\n\t"
                     "movl $16, %%ecx\n\t"
                     "repe scasq\n\t"
                     "setz %[kept]"
                     : [kept] "=m"(red_zone_kept)
                     :
                     : "rax", "rdi", "rsi", CORO_CLOBBERS_BUT_ARGS_);
    return red_zone_kept;
}

static void *red_zone_yielder(void *p)
{
    int *damaged = p;
    for (int i = 0; i < 100; i++)
        if (!yield_keeps_red_zone()) ++*damaged;
    return NULL;
}

static void *short_sleep(void *p)
{
    return coro_sleep(1000 * 1000) == 0 ? p : NULL;
}

/* Every way through the jump: outside a task; the assembly fast path (a
 * guarded stack, nothing in flight); a task on an unguarded stack (the first
 * stack is the only guarded one here); and any task while a timer is in
 * flight (the loop wants its pass accounting). */
Test(core, inline_yield_leaves_the_red_zone_alone)
{
    cr_assert(yield_keeps_red_zone(), "outside a task");
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, &(struct coro_options){ .threads = 1, .max_guarded_stacks = 1 }), 0);
    int damaged[2] = { 0, 0 };
    cr_assert_eq(coro_spawn(s, red_zone_yielder, &damaged[0], NULL, NULL), 0);
    cr_assert_eq(coro_spawn(s, red_zone_yielder, &damaged[1], NULL, NULL), 0);
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(damaged[0], 0, "guarded stack: %d of 100 yields changed the red zone", damaged[0]);
    cr_assert_eq(damaged[1], 0, "unguarded stack: %d of 100 yields changed the red zone", damaged[1]);
    struct coro_task *sleeper;
    cr_assert_eq(coro_spawn(s, short_sleep, s, NULL, &sleeper), 0);
    cr_assert_eq(coro_spawn(s, red_zone_yielder, &damaged[0], NULL, NULL), 0);
    cr_assert_eq(coro_run(s), 0);
    void *r = NULL;
    cr_assert_eq(coro_task_join(sleeper, &r), 0);
    cr_assert_eq(r, s);
    cr_assert_eq(damaged[0], 0, "beside a timer: %d of 100 yields changed the red zone", damaged[0]);
    coro_scheduler_destroy(s);
}
#endif
