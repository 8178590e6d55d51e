/* coro_blocking: the function runs on a worker thread while other tasks run;
 * results come back; several run at once; cancels wait for the next wait. */
#include <coro/coro.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pthread_t loop_thread;
static int ticks;

static void *slow(void *arg)
{
    usleep(50000);
    return (void *)((intptr_t)arg * 3 + (pthread_equal(pthread_self(), loop_thread) ? 1000 : 0));
}

static void *blocker(void *p)
{
    void *r = NULL;
    if (coro_blocking(slow, p, &r) != 0) return (void *)-1;
    return r;
}

static void *ticker(void *p)
{
    (void)p;
    for (int i = 0; i < 10; i++) {
        coro_sleep(2000000);
        ticks++;
    }
    return NULL;
}

Test(blocking, runs_on_a_worker_while_tasks_run)
{
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, &(struct coro_options){ .threads = 1, .blocking_threads = 4 }) /* "the loop": one */, 0);
    loop_thread = pthread_self();
    ticks = 0;
    struct coro_task *b[4], *t;
    for (int i = 0; i < 4; i++) cr_assert_eq(coro_spawn(s, blocker, (void *)(intptr_t)(i + 1), NULL, &b[i]), 0);
    cr_assert_eq(coro_spawn(s, ticker, NULL, NULL, &t), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(coro_run(s), 0);
    uint64_t el = now_ns() - t0;
    for (int i = 0; i < 4; i++) {
        void *r;
        cr_assert_eq(coro_task_join(b[i], &r), 0);
        cr_assert_eq((intptr_t)r, (i + 1) * 3, "result, and not run on the loop's thread");
    }
    cr_assert_eq(coro_task_join(t, NULL), 0);
    cr_assert_eq(ticks, 10, "the loop kept running tasks meanwhile");
    cr_assert(el >= 50000000 && el < 180000000, "4 calls on 4 workers overlap: %llu ns", (unsigned long long)el);
    coro_scheduler_destroy(s);
}

Test(blocking, more_calls_than_workers_queue)
{
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, &(struct coro_options){ .threads = 1, .blocking_threads = 2 }), 0);
    loop_thread = pthread_self();
    struct coro_task *b[6];
    for (int i = 0; i < 6; i++) cr_assert_eq(coro_spawn(s, blocker, (void *)(intptr_t)i, NULL, &b[i]), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(coro_run(s), 0);
    uint64_t el = now_ns() - t0;
    for (int i = 0; i < 6; i++) {
        void *r;
        cr_assert_eq(coro_task_join(b[i], &r), 0);
        cr_assert_eq((intptr_t)r, i * 3);
    }
    cr_assert(el >= 150000000, "6 calls on 2 workers take 3 rounds: %llu ns", (unsigned long long)el);
    coro_scheduler_destroy(s);
}

Test(blocking, outside_a_task_runs_inline)
{
    loop_thread = pthread_self();
    void *r = NULL;
    cr_assert_eq(coro_blocking(slow, (void *)(intptr_t)2, &r), 0);
    cr_assert_eq((intptr_t)r, 1006);
    cr_assert_eq(coro_blocking(NULL, NULL, NULL), -EINVAL);
}

static void *blocked_then_waits(void *p)
{
    int *rc = p;
    void *r = NULL;
    rc[0] = coro_blocking(slow, (void *)(intptr_t)1, &r);
    rc[1] = (int)(intptr_t)r;
    rc[2] = coro_sleep(1000000);
    rc[3] = coro_sleep(1000000);
    return NULL;
}

static void *cancel_soon(void *p)
{
    coro_sleep(10000000);
    coro_task_cancel(p);
    return NULL;
}

Test(blocking, cancel_waits_for_the_next_wait)
{
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, NULL), 0);
    loop_thread = pthread_self();
    int rc[4] = { 1, 1, 1, 1 };
    struct coro_task *t, *c;
    cr_assert_eq(coro_spawn(s, blocked_then_waits, rc, NULL, &t), 0);
    cr_assert_eq(coro_spawn(s, cancel_soon, t, NULL, &c), 0);
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(coro_task_join(t, NULL), 0);
    cr_assert_eq(coro_task_join(c, NULL), 0);
    cr_assert_eq(rc[0], 0, "coro_blocking is not interrupted");
    cr_assert_eq(rc[1], 3);
    cr_assert_eq(rc[2], -ECANCELED, "the next wait is");
    cr_assert_eq(rc[3], 0);
    coro_scheduler_destroy(s);
}
