/* coro_task_cancel: in-flight ops report -ECANCELED, one cancel interrupts one
 * wait, pending cancels, linked batches, cancels from other threads. */
#include <coro/coro.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct victim {
    int fd[2];
    int recv_rc, recv_err, close_rc;
    size_t n;
    int after;
    uint64_t start;     /* set before coro_run: the canceller's sleep starts after it */
    uint64_t elapsed;   /* from `start` to the end of the cancelled recv */
};

/* Waits on a recv that never gets data; after the cancel, it can still close. */
static void *recv_victim(void *p)
{
    struct victim *v = p;
    char buf[16];
    v->recv_err = 1;
    v->recv_rc = coro_io_single(AIO_RECV(.socket = v->fd[1], .buf = buf, .len = sizeof buf,
                                         .out_read = &v->n, .out_error = &v->recv_err));
    /* measured from before coro_run: with several loops the victim and its
     * canceller may start at different times */
    v->elapsed = now_ns() - v->start;
    v->after = coro_cancelled();
    v->close_rc = coro_io_single(AIO_NOP());
    return (void *)(intptr_t)42;
}

struct canceller { struct coro_task *target; uint64_t delay; };

static void *cancel_after(void *p)
{
    struct canceller *c = p;
    coro_sleep(c->delay);
    return (void *)(intptr_t)coro_task_cancel(c->target);
}

Test(cancel, recv_in_flight_reports_ecanceled_and_task_goes_on)
{
    struct victim v = { .recv_rc = 1 };
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, v.fd), 0);
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, NULL), 0);
    struct coro_task *t, *c;
    v.start = now_ns();
    cr_assert_eq(coro_spawn(s, recv_victim, &v, NULL, &t), 0);
    struct canceller cc = { t, 10000000 };
    cr_assert_eq(coro_spawn(s, cancel_after, &cc, NULL, &c), 0);
    cr_assert_eq(coro_run(s), 0);
    void *r;
    cr_assert_eq(coro_task_join(c, &r), 0);
    cr_assert_eq((intptr_t)r, 0);
    cr_assert_eq(coro_task_join(t, &r), 0, "join still works after a cancel");
    cr_assert_eq((intptr_t)r, 42);
    cr_assert_eq(v.recv_rc, -ECANCELED);
    cr_assert_eq(v.recv_err, -ECANCELED);
    cr_assert_eq(v.n, 0);
    cr_assert(v.after);
    cr_assert_eq(v.close_rc, 0, "one cancel interrupts one wait only");
    cr_assert(v.elapsed >= 9000000 && v.elapsed < 2000000000ull, "elapsed %llu", (unsigned long long)v.elapsed);
    coro_scheduler_destroy(s);
    close(v.fd[0]);
    close(v.fd[1]);
}

/* ---- a linked batch: the running op is cancelled, the chain behind it too -- */

struct linked { int fd[2]; int rc, e[3]; };

static void *linked_victim(void *p)
{
    struct linked *l = p;
    char buf[8];
    l->rc = CORO_IO_MULTI(AIO_RECV(.socket = l->fd[1], .buf = buf, .len = sizeof buf, .out_error = &l->e[0], .link = AIO_LINK_SOFT),
                          AIO_SEND(.socket = l->fd[1], .buf = "x", .len = 1, .out_error = &l->e[1], .link = AIO_LINK_HARD),
                          AIO_TIMEOUT(.ns = 5000000000ull, .out_error = &l->e[2]));
    return NULL;
}

Test(cancel, linked_batch_soft_and_hard_links)
{
    struct linked l = { .rc = 1, .e = { 1, 1, 1 } };
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, l.fd), 0);
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, NULL), 0);
    struct coro_task *t, *c;
    cr_assert_eq(coro_spawn(s, linked_victim, &l, NULL, &t), 0);
    struct canceller cc = { t, 5000000 };
    cr_assert_eq(coro_spawn(s, cancel_after, &cc, NULL, &c), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(coro_run(s), 0);
    /* the 5 s timeout behind a HARD link started and was cancelled as well */
    cr_assert_lt(now_ns() - t0, 2000000000ull);
    cr_assert_eq(coro_task_join(t, NULL), 0);
    cr_assert_eq(coro_task_join(c, NULL), 0);
    cr_assert_eq(l.rc, -ECANCELED);
    cr_assert_eq(l.e[0], -ECANCELED);
    cr_assert_eq(l.e[1], -ECANCELED);
    cr_assert_eq(l.e[2], -ECANCELED);
    coro_scheduler_destroy(s);
    close(l.fd[0]);
    close(l.fd[1]);
}

/* ---- cancel before the wait: the next wait is interrupted, not queued ----- */

static void *self_cancel(void *p)
{
    int *res = p;
    coro_task_cancel(coro_current());
    coro_yield(); /* not a wait: the cancel stays pending */
    int e = 1;
    res[0] = CORO_IO_MULTI(AIO_NOP(.out_error = &e));
    res[1] = e;
    res[2] = coro_sleep(1000);
    return NULL;
}

Test(cancel, pending_cancel_interrupts_next_wait)
{
    int res[3] = { 1, 1, 1 };
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, NULL), 0);
    struct coro_task *t;
    cr_assert_eq(coro_spawn(s, self_cancel, res, NULL, &t), 0);
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(coro_task_join(t, NULL), 0);
    cr_assert_eq(res[0], -ECANCELED);
    cr_assert_eq(res[1], -ECANCELED);
    cr_assert_eq(res[2], 0);
    coro_scheduler_destroy(s);
}

/* ---- a cancel from another thread reaches a loop blocked in the kernel ---- */

static void *long_sleep(void *p)
{
    int *rc = p;
    *rc = coro_sleep(10000000000ull);
    return NULL;
}

static void *thread_cancel(void *p)
{
    usleep(20000);
    coro_task_cancel(p);
    return NULL;
}

Test(cancel, from_another_thread)
{
    int rc = 1;
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, NULL), 0);
    struct coro_task *t;
    cr_assert_eq(coro_spawn(s, long_sleep, &rc, NULL, &t), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_cancel, t), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(coro_run(s), 0);
    uint64_t el = now_ns() - t0;
    pthread_join(th, NULL);
    cr_assert_eq(rc, -ECANCELED);
    cr_assert(el < 3000000000ull, "the loop slept through the cancel (%llu ns)", (unsigned long long)el);
    cr_assert_eq(coro_task_join(t, NULL), 0);
    coro_scheduler_destroy(s);
}

/* ---- cancelling many tasks with batches in flight; their stacks are reused - */

static void *batch_victim(void *p)
{
    int fd = *(int *)p;
    char buf[4][32];
    size_t n[4];
    int e[4];
    struct aio_op ops[4];
    for (int i = 0; i < 4; i++)
        ops[i] = AIO_RECV(.socket = fd, .buf = buf[i], .len = sizeof buf[i], .out_read = &n[i], .out_error = &e[i]);
    int rc = coro_io_multi(ops, 4);
    for (int i = 0; i < 4; i++)
        if (e[i] != -ECANCELED) return (void *)"an op was not cancelled";
    return rc == -ECANCELED ? NULL : (void *)"rc";
}

static void *cancel_all(void *p)
{
    struct coro_task **ts = p;
    coro_yield();
    for (int i = 0; i < 64; i++) coro_task_cancel(ts[i]);
    return NULL;
}

Test(cancel, many_batches_then_stack_reuse)
{
    int fd[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, NULL), 0);
    for (int round = 0; round < 3; round++) {
        struct coro_task *ts[64], *c;
        for (int i = 0; i < 64; i++) cr_assert_eq(coro_spawn(s, batch_victim, &fd[1], NULL, &ts[i]), 0);
        cr_assert_eq(coro_spawn(s, cancel_all, ts, NULL, &c), 0);
        cr_assert_eq(coro_run(s), 0);
        for (int i = 0; i < 64; i++) {
            void *r;
            cr_assert_eq(coro_task_join(ts[i], &r), 0);
            cr_assert_null(r, "task %d: %s", i, (char *)r);
        }
        cr_assert_eq(coro_task_join(c, NULL), 0);
    }
    coro_scheduler_destroy(s);
    close(fd[0]);
    close(fd[1]);
}

Test(cancel, finished_task_cancel_is_harmless)
{
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, NULL), 0);
    int rc = 0, res[3] = { 0 };
    struct coro_task *t;
    cr_assert_eq(coro_spawn(s, self_cancel, res, NULL, &t), 0);
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(coro_task_cancel(t), 0);
    cr_assert_eq(coro_run(s), rc);
    cr_assert_eq(coro_task_join(t, NULL), 0);
    coro_scheduler_destroy(s);
}
