/* Tasks: switching (registers and FP control state survive), many tasks,
 * spawn from tasks, join/detach results, pass order, bad input. */
#include <coro/coro.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>
#if defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>
#  endif
#endif
#ifndef RUNNING_ON_VALGRIND
#  define RUNNING_ON_VALGRIND 0
#endif

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
