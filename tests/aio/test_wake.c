/*
 * aio_ring_complete_timeout and aio_ring_wake: a wait that blocks with nothing
 * in flight, its time limit, and wake-ups from other threads, with and
 * without a ring of the waker's own to carry them.
 */
#include <aio/aio.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct waker {
    struct aio_ring *target;
    bool use_own_ring;
    unsigned delay_us;
    atomic_int woke;
};

static void *waker_main(void *arg)
{
    struct waker *w = arg;
    struct aio_ring *own = NULL;
    if (w->use_own_ring) cr_assert_eq(aio_ring_create(&own, NULL), 0);
    usleep(w->delay_us);
    atomic_store(&w->woke, 1);
    cr_assert_eq(aio_ring_wake(w->target, own), 0);
    if (own) {
        /* the wake-up rides in this ring's next submission */
        struct aio_result r;
        cr_assert_eq(aio_ring_complete_timeout(own, 1000000, &r), 0);
        aio_ring_destroy(own);
    }
    return NULL;
}

Test(wake, timeout_with_nothing_in_flight, .timeout = 10)
{
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, NULL), 0);
    struct aio_result r = { 7, 7 };
    double t0 = now_s();
    cr_assert_eq(aio_ring_complete_timeout(ring, 30 * 1000000ull, &r), 0);
    double took = now_s() - t0;
    cr_assert_eq(r.completed, 0);
    cr_assert_eq(r.failed, 0);
    cr_assert_geq(took, 0.029, "returned after %.4f s, before its 30 ms", took);
    cr_assert_lt(took, 0.5, "took %.4f s for a 30 ms wait", took);
    /* 0 means: do not block */
    t0 = now_s();
    cr_assert_eq(aio_ring_complete_timeout(ring, 0, &r), 0);
    cr_assert_lt(now_s() - t0, 0.01);
    aio_ring_destroy(ring);
}

Test(wake, timeout_returns_on_completion, .timeout = 10)
{
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, NULL), 0);
    struct aio_op op = AIO_TIMEOUT(.ns = 5 * 1000000ull);
    cr_assert_eq(aio_ring_queue(ring, &op, 1), 0);
    struct aio_result r;
    double t0 = now_s();
    cr_assert_eq(aio_ring_complete_timeout(ring, AIO_NO_TIMEOUT, &r), 0);
    cr_assert_eq(r.completed, 1);
    cr_assert_lt(now_s() - t0, 0.5);
    cr_assert_eq(aio_ring_in_flight(ring), 0);
    aio_ring_destroy(ring);
}

static void wake_from_thread(bool use_own_ring)
{
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, NULL), 0);
    /* bind the ring to this thread before the waker can reach it */
    cr_assert_eq(aio_ring_complete_timeout(ring, 0, NULL), 0);
    struct waker w = { .target = ring, .use_own_ring = use_own_ring, .delay_us = 50000 };
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, waker_main, &w), 0);
    struct aio_result r;
    double t0 = now_s();
    cr_assert_eq(aio_ring_complete_timeout(ring, AIO_NO_TIMEOUT, &r), 0);
    double took = now_s() - t0;
    cr_assert_eq(atomic_load(&w.woke), 1, "returned before anybody woke it");
    cr_assert_eq(r.completed, 0);
    cr_assert_lt(took, 2.0);
    pthread_join(th, NULL);
    aio_ring_destroy(ring);
}

Test(wake, from_plain_thread, .timeout = 10) { wake_from_thread(false); }
Test(wake, via_wakers_ring, .timeout = 10) { wake_from_thread(true); }

Test(wake, pending_wakes_merge, .timeout = 10)
{
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, NULL), 0);
    cr_assert_eq(aio_ring_wake(ring, NULL), 0);
    cr_assert_eq(aio_ring_wake(ring, NULL), 0);
    cr_assert_eq(aio_ring_wake(ring, ring), 0); /* its own ring as `via` is the plain path */
    double t0 = now_s();
    cr_assert_eq(aio_ring_complete_timeout(ring, AIO_NO_TIMEOUT, NULL), 0);
    cr_assert_lt(now_s() - t0, 0.5, "a pending wake must make the wait return at once");
    /* all three merged into that one: the next wait runs to its limit */
    t0 = now_s();
    cr_assert_eq(aio_ring_complete_timeout(ring, 20 * 1000000ull, NULL), 0);
    cr_assert_geq(now_s() - t0, 0.019);
    aio_ring_destroy(ring);
}

Test(wake, interrupts_wait_with_ops_in_flight, .timeout = 10)
{
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, NULL), 0);
    int err = 1;
    struct aio_op op = AIO_TIMEOUT(.ns = 5ull * 1000000000u, .out_error = &err);
    cr_assert_eq(aio_ring_queue(ring, &op, 1), 0);
    cr_assert_eq(aio_ring_complete(ring, AIO_NOWAIT, NULL), 0);
    struct waker w = { .target = ring, .delay_us = 30000 };
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, waker_main, &w), 0);
    struct aio_result r;
    double t0 = now_s();
    cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, &r), 0);
    cr_assert_eq(r.completed, 0);
    cr_assert_lt(now_s() - t0, 2.0, "the wake did not interrupt the wait");
    pthread_join(th, NULL);
    cr_assert_eq(aio_ring_in_flight(ring), 1);
    aio_ring_destroy(ring); /* cancels the TIMEOUT */
    cr_assert_eq(err, -ECANCELED);
}

Test(wake, bad_arguments)
{
    cr_assert_eq(aio_ring_wake(NULL, NULL), -EINVAL);
    cr_assert_eq(aio_ring_complete_timeout(NULL, 0, NULL), -EINVAL);
}
