/* Event, semaphore, mutex, condition variable, channel, wait group: order of
 * wake-ups, timeouts, close, cancellation, wake-ups from plain threads. */
#include <coro/coro.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define MS 1000000ull

static struct coro_scheduler *sched;
static struct coro_task *handles[64];
static int nhandles;

/* One loop: these tests check FIFO order among waiters, which holds per loop.
 * Objects shared by tasks on several threads are exercised in threads_main.c. */
static void setup(void)
{
    cr_assert_eq(coro_scheduler_create(&sched, &(struct coro_options){ .threads = 1 }), 0);
    nhandles = 0;
}

static void spawn(coro_fn fn, void *arg)
{
    cr_assert_eq(coro_spawn(sched, fn, arg, NULL, &handles[nhandles++]), 0);
}

/* Runs, joins everything, and checks that no task reported a failure. */
static void run_all(void)
{
    cr_assert_eq(coro_run(sched), 0);
    for (int i = 0; i < nhandles; i++) {
        void *r = (void *)1;
        cr_assert_eq(coro_task_join(handles[i], &r), 0);
        cr_assert_null(r, "task %d: %s", i, (const char *)r);
    }
    coro_scheduler_destroy(sched);
}

#define CHECK(cond, why) do { if (!(cond)) return (void *)(why); } while (0)

/* ---- event ------------------------------------------------------------------ */

static struct coro_event ev;
static int order[16], norder;

static void *ev_waiter(void *p)
{
    CHECK(coro_event_wait(&ev) == 0, "wait");
    order[norder++] = (int)(intptr_t)p;
    CHECK(coro_event_wait(&ev) == 0, "set event must not block");
    return NULL;
}

static void *ev_setter(void *p)
{
    (void)p;
    coro_yield();
    CHECK(norder == 0, "woke before set");
    coro_event_set(&ev);
    coro_event_set(&ev);
    return NULL;
}

Test(sync, event_wakes_all_waiters_and_stays_set, .init = setup)
{
    coro_event_init(&ev);
    norder = 0;
    for (int i = 0; i < 3; i++) spawn(ev_waiter, (void *)(intptr_t)i);
    spawn(ev_setter, NULL);
    run_all();
    cr_assert_eq(norder, 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(order[i], i, "FIFO wake-up order");
    cr_assert(coro_event_is_set(&ev));
    coro_event_reset(&ev);
    cr_assert_not(coro_event_is_set(&ev));
    coro_event_destroy(&ev);
}

static void *ev_timeout(void *p)
{
    (void)p;
    uint64_t t0 = now_ns();
    CHECK(coro_event_wait_timeout(&ev, 20 * MS) == -ETIMEDOUT, "timeout");
    uint64_t el = now_ns() - t0;
    CHECK(el >= 19 * MS && el < 2000 * MS, "elapsed");
    /* set before the timeout: 0, and the timer is reaped before returning */
    t0 = now_ns();
    CHECK(coro_event_wait_timeout(&ev, 5000 * MS) == 0, "set in time");
    CHECK(now_ns() - t0 < 2000 * MS, "woke by set");
    return NULL;
}

static void *ev_set_later(void *p)
{
    (void)p;
    coro_sleep(40 * MS);
    coro_event_set(&ev);
    return NULL;
}

Test(sync, event_timeout, .init = setup)
{
    coro_event_init(&ev);
    spawn(ev_timeout, NULL);
    spawn(ev_set_later, NULL);
    run_all();
}

/* ---- a plain thread wakes a task through the loop's remote queue ---------- */

static void *thread_sets(void *p)
{
    (void)p;
    usleep(20000);
    coro_event_set(&ev);
    return NULL;
}

Test(sync, event_set_from_plain_thread, .init = setup)
{
    coro_event_init(&ev);
    norder = 0;
    spawn(ev_waiter, (void *)(intptr_t)7);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_sets, NULL), 0);
    uint64_t t0 = now_ns();
    run_all();
    pthread_join(th, NULL);
    cr_assert_eq(norder, 1);
    cr_assert_lt(now_ns() - t0, 2000 * MS);
}

/* ---- semaphore ---------------------------------------------------------------- */

static struct coro_sem sem;
static int in_section, max_in_section;

static void *sem_user(void *p)
{
    (void)p;
    for (int i = 0; i < 5; i++) {
        CHECK(coro_sem_wait(&sem) == 0, "wait");
        if (++in_section > max_in_section) max_in_section = in_section;
        coro_sleep(1 * MS);
        in_section--;
        coro_sem_post(&sem);
    }
    return NULL;
}

Test(sync, semaphore_bounds_concurrency, .init = setup)
{
    coro_sem_init(&sem, 2);
    in_section = max_in_section = 0;
    for (int i = 0; i < 6; i++) spawn(sem_user, NULL);
    run_all();
    cr_assert_eq(max_in_section, 2);
    cr_assert_eq(coro_sem_value(&sem), 2);
    cr_assert_eq(coro_sem_trywait(&sem), 0);
    cr_assert_eq(coro_sem_trywait(&sem), 0);
    cr_assert_eq(coro_sem_trywait(&sem), -EAGAIN);
    coro_sem_destroy(&sem);
}

static void *sem_timeout(void *p)
{
    (void)p;
    uint64_t t0 = now_ns();
    CHECK(coro_sem_wait_timeout(&sem, 15 * MS) == -ETIMEDOUT, "timeout");
    CHECK(now_ns() - t0 >= 14 * MS, "early");
    CHECK(coro_sem_value(&sem) == 0, "a timed-out wait took a unit");
    CHECK(coro_sem_wait(&sem) == -ECANCELED, "cancel");
    return NULL;
}

static void *sem_cancel(void *p)
{
    coro_sleep(30 * MS);
    coro_task_cancel(p);
    coro_yield();
    coro_sem_post(&sem); /* the cancelled waiter must not have consumed it */
    return NULL;
}

Test(sync, semaphore_timeout_and_cancel, .init = setup)
{
    coro_sem_init(&sem, 0);
    spawn(sem_timeout, NULL);
    spawn(sem_cancel, handles[0]);
    run_all();
    cr_assert_eq(coro_sem_value(&sem), 1);
}

/* ---- mutex -------------------------------------------------------------------- */

static struct coro_mutex mtx;
static long counter;

static void *mutex_user(void *p)
{
    (void)p;
    for (int i = 0; i < 100; i++) {
        CHECK(coro_mutex_lock(&mtx) == 0, "lock");
        long c = counter;
        coro_yield(); /* others run while we hold it */
        counter = c + 1;
        CHECK(coro_mutex_unlock(&mtx) == 0, "unlock");
    }
    return NULL;
}

Test(sync, mutex_excludes, .init = setup)
{
    coro_mutex_init(&mtx);
    counter = 0;
    for (int i = 0; i < 5; i++) spawn(mutex_user, NULL);
    run_all();
    cr_assert_eq(counter, 500);
    coro_mutex_destroy(&mtx);
}

static void *mutex_holder(void *p)
{
    (void)p;
    CHECK(coro_mutex_lock(&mtx) == 0, "lock");
    coro_sleep(40 * MS);
    CHECK(coro_mutex_unlock(&mtx) == 0, "unlock");
    return NULL;
}

static void *mutex_contender(void *p)
{
    (void)p;
    CHECK(coro_mutex_trylock(&mtx) == -EBUSY, "trylock");
    CHECK(coro_mutex_unlock(&mtx) == -EPERM, "unlock by non-owner");
    CHECK(coro_mutex_lock_timeout(&mtx, 10 * MS) == -ETIMEDOUT, "timeout");
    CHECK(coro_mutex_lock(&mtx) == 0, "lock after holder");
    CHECK(coro_mutex_unlock(&mtx) == 0, "unlock");
    return NULL;
}

Test(sync, mutex_trylock_timeout_eperm, .init = setup)
{
    coro_mutex_init(&mtx);
    spawn(mutex_holder, NULL);
    spawn(mutex_contender, NULL);
    run_all();
    cr_assert_eq(coro_mutex_trylock(&mtx), 0, "free at the end");
    cr_assert_eq(coro_mutex_unlock(&mtx), 0);
}

/* ---- condition variable ------------------------------------------------------ */

static struct coro_cond cond;
static int ready_items;

static void *cond_consumer(void *p)
{
    (void)p;
    CHECK(coro_mutex_lock(&mtx) == 0, "lock");
    while (ready_items == 0) CHECK(coro_cond_wait(&cond, &mtx) == 0, "wait");
    ready_items--;
    CHECK(coro_mutex_unlock(&mtx) == 0, "unlock (held after wait)");
    return NULL;
}

static void *cond_producer(void *p)
{
    (void)p;
    for (int i = 0; i < 3; i++) {
        coro_sleep(2 * MS);
        coro_mutex_lock(&mtx);
        ready_items++;
        coro_cond_signal(&cond);
        coro_mutex_unlock(&mtx);
    }
    return NULL;
}

static void *cond_timeout(void *p)
{
    (void)p;
    CHECK(coro_cond_wait(&cond, &mtx) == -EPERM, "wait without the mutex");
    CHECK(coro_mutex_lock(&mtx) == 0, "lock");
    CHECK(coro_cond_wait_timeout(&cond, &mtx, 10 * MS) == -ETIMEDOUT, "timeout");
    CHECK(coro_mutex_unlock(&mtx) == 0, "held after a timeout");
    return NULL;
}

Test(sync, cond_signal_and_timeout, .init = setup)
{
    coro_mutex_init(&mtx);
    coro_cond_init(&cond);
    ready_items = 0;
    for (int i = 0; i < 3; i++) spawn(cond_consumer, NULL);
    spawn(cond_producer, NULL);
    spawn(cond_timeout, NULL);
    run_all();
    cr_assert_eq(ready_items, 0);
    coro_cond_destroy(&cond);
}

static void *cond_cancelled(void *p)
{
    (void)p;
    CHECK(coro_mutex_lock(&mtx) == 0, "lock");
    CHECK(coro_cond_wait(&cond, &mtx) == -ECANCELED, "cancel");
    CHECK(coro_mutex_unlock(&mtx) == 0, "held after a cancel");
    return NULL;
}

static void *cancel_soon(void *p)
{
    coro_sleep(5 * MS);
    coro_task_cancel(p);
    return NULL;
}

Test(sync, cond_cancel_returns_with_mutex_held, .init = setup)
{
    coro_mutex_init(&mtx);
    coro_cond_init(&cond);
    spawn(cond_cancelled, NULL);
    spawn(cancel_soon, handles[0]);
    run_all();
}

/* ---- channel ------------------------------------------------------------------ */

static struct coro_chan ch;
static int received[100], nreceived;

static void *chan_producer(void *p)
{
    (void)p;
    for (int i = 0; i < 100; i++) CHECK(coro_chan_send(&ch, &i) == 0, "send");
    CHECK(coro_chan_close(&ch) == 0, "close");
    CHECK(coro_chan_close(&ch) == -EPIPE, "double close");
    int x = 1;
    CHECK(coro_chan_send(&ch, &x) == -EPIPE, "send after close");
    return NULL;
}

static void *chan_consumer(void *p)
{
    (void)p;
    int v;
    int rc;
    while ((rc = coro_chan_recv(&ch, &v)) == 0) {
        received[nreceived++] = v;
        if (nreceived % 7 == 0) coro_sleep(100000);
    }
    CHECK(rc == -EPIPE, "recv after close and drain");
    return NULL;
}

Test(sync, channel_fifo_backpressure_close, .init = setup)
{
    cr_assert_eq(coro_chan_init(&ch, sizeof(int), 4), 0);
    nreceived = 0;
    spawn(chan_producer, NULL);
    spawn(chan_consumer, NULL);
    run_all();
    cr_assert_eq(nreceived, 100);
    for (int i = 0; i < 100; i++) cr_assert_eq(received[i], i);
    coro_chan_destroy(&ch);
}

static void *chan_timeouts(void *p)
{
    (void)p;
    int v = 5;
    CHECK(coro_chan_try_recv(&ch, &v) == -EAGAIN, "try_recv empty");
    CHECK(coro_chan_recv_timeout(&ch, &v, 10 * MS) == -ETIMEDOUT, "recv timeout");
    CHECK(coro_chan_try_send(&ch, &v) == 0, "try_send");
    CHECK(coro_chan_try_send(&ch, &v) == -EAGAIN, "try_send full");
    CHECK(coro_chan_send_timeout(&ch, &v, 10 * MS) == -ETIMEDOUT, "send timeout");
    CHECK(coro_chan_len(&ch) == 1, "len");
    /* a sender waiting on a full channel is released by close with -EPIPE */
    CHECK(coro_chan_send(&ch, &v) == -EPIPE, "close wakes the sender");
    int out = 0;
    CHECK(coro_chan_recv(&ch, &out) == 0 && out == 5, "buffered item survives close");
    CHECK(coro_chan_recv(&ch, &out) == -EPIPE, "drained");
    return NULL;
}

static void *chan_closer(void *p)
{
    (void)p;
    /* well after the two 10 ms timeouts above, even on a loaded machine
     * (40 ms once lost the race while a 30,000-stack test ran beside it) */
    coro_sleep(200 * MS);
    coro_chan_close(&ch);
    return NULL;
}

Test(sync, channel_timeouts_and_close_wakes_senders, .init = setup)
{
    cr_assert_eq(coro_chan_init(&ch, sizeof(int), 1), 0);
    spawn(chan_timeouts, NULL);
    spawn(chan_closer, NULL);
    run_all();
    coro_chan_destroy(&ch);
}

static void *chan_cancelled_recv(void *p)
{
    (void)p;
    int v;
    CHECK(coro_chan_recv(&ch, &v) == -ECANCELED, "cancel");
    return NULL;
}

Test(sync, channel_cancel_and_bad_init, .init = setup)
{
    struct coro_chan bad;
    cr_assert_eq(coro_chan_init(&bad, 0, 4), -EINVAL);
    cr_assert_eq(coro_chan_init(&bad, 4, 0), -EINVAL);
    cr_assert_eq(coro_chan_init(NULL, 4, 4), -EINVAL);
    cr_assert_eq(coro_chan_init(&ch, sizeof(int), 2), 0);
    spawn(chan_cancelled_recv, NULL);
    spawn(cancel_soon, handles[0]);
    run_all();
    int v = 3;
    cr_assert_eq(coro_chan_try_send(&ch, &v), 0, "the cancelled receiver left the channel usable");
    cr_assert_eq(coro_chan_len(&ch), 1);
    coro_chan_destroy(&ch);
}

/* ---- wait group ----------------------------------------------------------------- */

static struct coro_wait_group wg;
static int done_count;

static void *wg_worker(void *p)
{
    coro_sleep((uint64_t)(intptr_t)p * MS);
    done_count++;
    coro_wait_group_done(&wg);
    return NULL;
}

static void *wg_waiter(void *p)
{
    (void)p;
    CHECK(coro_wait_group_wait(&wg) == 0, "wait");
    CHECK(done_count == 4, "woke before all were done");
    CHECK(coro_wait_group_wait(&wg) == 0, "zero count does not wait");
    return NULL;
}

Test(sync, wait_group, .init = setup)
{
    coro_wait_group_init(&wg);
    done_count = 0;
    cr_assert_eq(coro_wait_group_add(&wg, 4), 0);
    cr_assert_eq(coro_wait_group_add(&wg, -5), -EINVAL);
    spawn(wg_waiter, NULL);
    for (int i = 1; i <= 4; i++) spawn(wg_worker, (void *)(intptr_t)i);
    run_all();
    cr_assert_eq(coro_wait_group_done(&wg), -EINVAL, "below zero");
    coro_wait_group_destroy(&wg);
}

static void *wg_timeout(void *p)
{
    (void)p;
    CHECK(coro_wait_group_wait_timeout(&wg, 10 * MS) == -ETIMEDOUT, "timeout");
    return NULL;
}

Test(sync, wait_group_timeout, .init = setup)
{
    coro_wait_group_init(&wg);
    coro_wait_group_add(&wg, 1);
    spawn(wg_timeout, NULL);
    run_all();
}

/* ---- many tasks on a semaphore posted from several plain threads ----------- */

static void *sem_taker(void *p)
{
    (void)p;
    for (int i = 0; i < 50; i++) CHECK(coro_sem_wait(&sem) == 0, "wait");
    return NULL;
}

static void *thread_posts(void *p)
{
    (void)p;
    for (int i = 0; i < 200; i++) {
        coro_sem_post(&sem);
        if (i % 16 == 0) usleep(100);
    }
    return NULL;
}

Test(sync, semaphore_posted_from_threads, .init = setup)
{
    coro_sem_init(&sem, 0);
    for (int i = 0; i < 8; i++) spawn(sem_taker, NULL);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&th[i], NULL, thread_posts, NULL), 0);
    run_all();
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    cr_assert_eq(coro_sem_value(&sem), 0);
}
