/*
 * NOP, CHILD_EXIT on real child processes, EVENT_NOTIFY / EVENT_WAIT on an
 * event source.
 */
#include "helpers.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

TestSuite(misc, .timeout = 20);

Test(misc, nop_results_and_ids)
{
    int e = 5;
    aio_id id = 0;
    cr_assert_eq(aio_single(AIO_NOP(.out_error = &e, .out_id = &id)), 0);
    cr_assert_eq(e, 0);
    cr_assert_neq(id, 0, "out_id not filled");
    int es[3] = { 1, 1, 1 };
    aio_id ids[3] = { 0, 0, 0 };
    cr_assert_eq(AIO_MULTI(AIO_NOP(.out_error = &es[0], .out_id = &ids[0]),
                           AIO_NOP(.out_error = &es[1], .out_id = &ids[1], .link = AIO_LINK_HARD),
                           AIO_NOP(.out_error = &es[2], .out_id = &ids[2])), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(es[i], 0);
        cr_assert_neq(ids[i], 0);
        for (int j = 0; j < i; j++) cr_assert_neq(ids[i], ids[j], "two ops in flight share an id");
    }
    cr_assert_eq(AIO_COMPLETE(AIO_NOP(), AIO_NOP()), 0);
}

static pid_t spawn(int how)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (how == 0) _exit(7);
        if (how == 1) for (;;) pause();
        if (how == 2) { struct timespec ts = { 0, 100000000 }; nanosleep(&ts, NULL); _exit(0); }
        _exit(99);
    }
    return pid;
}

Test(misc, child_exit_code)
{
    pid_t pid = spawn(0);
    int status = -1, e = 1;
    cr_assert_eq(aio_single(AIO_CHILD_EXIT(.pid = pid, .out_status = &status, .out_error = &e)), 0);
    cr_assert_eq(e, 0);
    cr_assert(WIFEXITED(status), "status 0x%x", status);
    cr_assert_eq(WEXITSTATUS(status), 7);
    /* the child was reaped */
    cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1);
    cr_assert_eq(errno, ECHILD);
    /* and waiting for it again finds no such child */
    status = 12345;
    cr_assert_eq(aio_single(AIO_CHILD_EXIT(.pid = pid, .out_status = &status)), -ECHILD);
    cr_assert_eq(status, 0);
}

Test(misc, child_killed_by_signal)
{
    pid_t pid = spawn(1);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(4, &rec);
    int status = -1;
    cr_assert_eq(aio_ring_queue(ring, &AIO_CHILD_EXIT(.pid = pid, .out_status = &status, .userdata = 3), 1), 0);
    cr_assert_eq(ring_settle(ring, MS(30)), 0, "CHILD_EXIT completed while the child lives");
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.e[0].result, 0);
    cr_assert(WIFSIGNALED(status), "status 0x%x", status);
    cr_assert_eq(WTERMSIG(status), SIGKILL);
    cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1, "the child was not reaped");
    aio_ring_destroy(ring);
}

Test(misc, child_exit_waits_for_the_child)
{
    uint64_t t0 = now_ns();
    pid_t pid = spawn(2);
    int status = -1;
    cr_assert_eq(aio_single(AIO_CHILD_EXIT(.pid = pid, .out_status = &status)), 0);
    assert_elapsed(now_ns() - t0, MS(100));
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0);
}

/* Several children, each its own CHILD_EXIT in one batch. */
Test(misc, child_exit_several)
{
    enum { N = 4 };
    pid_t pids[N];
    int status[N];
    struct aio_op ops[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        cr_assert_geq(pids[i], 0);
        if (pids[i] == 0) _exit(10 + i);
        status[i] = -1;
        ops[i] = AIO_CHILD_EXIT(.pid = pids[i], .out_status = &status[i]);
    }
    cr_assert_eq(aio_multi(ops, N), 0);
    for (int i = 0; i < N; i++) {
        cr_assert(WIFEXITED(status[i]));
        cr_assert_eq(WEXITSTATUS(status[i]), 10 + i);
    }
}

/* One notify releases exactly one wait; a wait pends until notified. */
Test(misc, event_notify_releases_one_wait)
{
    struct aio_event_source src;
    cr_assert_eq(aio_event_source_init(&src), 0);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_EVENT_WAIT(.source = &src, .userdata = 1),
        AIO_EVENT_WAIT(.source = &src, .userdata = 2),
    }, 2), 0);
    cr_assert_eq(ring_settle(ring, MS(30)), 0, "a wait completed before any notify");

    int e = 1;
    cr_assert_eq(aio_single(AIO_EVENT_NOTIFY(.source = &src, .out_error = &e)), 0);
    cr_assert_eq(e, 0);
    struct aio_result r;
    cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, &r), 0);
    cr_assert_eq(r.completed, 1);
    cr_assert_eq(ring_settle(ring, MS(30)), 0, "one notify released two waits");
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.e[0].result, 0);
    cr_assert_eq(aio_ring_in_flight(ring), 1);

    /* the notify goes through the same ring this time */
    cr_assert_eq(aio_ring_queue(ring, &AIO_EVENT_NOTIFY(.source = &src, .userdata = 3), 1), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec.n, 3);
    rec_find(&rec, 1);
    rec_find(&rec, 2);
    cr_assert_eq(rec_find(&rec, 3)->result, 0);
    aio_ring_destroy(ring);
    aio_event_source_destroy(&src);
}

/* Notifications are counted: two notifies first, then two waits complete
 * and a third still pends. */
Test(misc, event_notifies_are_counted)
{
    struct aio_event_source src;
    cr_assert_eq(aio_event_source_init(&src), 0);
    cr_assert_eq(AIO_MULTI(AIO_EVENT_NOTIFY(.source = &src), AIO_EVENT_NOTIFY(.source = &src)), 0);
    cr_assert_eq(AIO_MULTI(AIO_EVENT_WAIT(.source = &src), AIO_EVENT_WAIT(.source = &src)), 0);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(4, &rec);
    cr_assert_eq(aio_ring_queue(ring, &AIO_EVENT_WAIT(.source = &src, .userdata = 9), 1), 0);
    cr_assert_eq(ring_settle(ring, MS(30)), 0, "a third wait was released by two notifies");
    cr_assert_eq(aio_single(AIO_EVENT_NOTIFY(.source = &src)), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec.n, 1);
    aio_ring_destroy(ring);
    aio_event_source_destroy(&src);
}

static void *notify_later(void *arg)
{
    struct timespec ts = { 0, 50000000 };
    nanosleep(&ts, NULL);
    int rc = aio_single(AIO_EVENT_NOTIFY(.source = arg));
    return (void *)(intptr_t)rc;
}

/* A notify from another thread (with its own immediate ring) wakes a wait. */
Test(misc, event_notify_from_another_thread)
{
    struct aio_event_source src;
    cr_assert_eq(aio_event_source_init(&src), 0);
    pthread_t t;
    uint64_t t0 = now_ns();
    cr_assert_eq(pthread_create(&t, NULL, notify_later, &src), 0);
    cr_assert_eq(aio_single(AIO_EVENT_WAIT(.source = &src)), 0);
    assert_elapsed(now_ns() - t0, MS(50));
    void *res;
    pthread_join(t, &res);
    cr_assert_eq((intptr_t)res, 0);
    aio_event_source_destroy(&src);
}
