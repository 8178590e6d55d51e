/* Cross-thread paths without Criterion (which cannot start under TSan:
 * Snaipe/Criterion#274), so this binary is what the TSan build runs for
 * coro's threaded parts: the blocking pool, wake-ups posted by plain threads
 * to sync objects, cancels and spawns from other threads. Exit status 0 when
 * every check holds. */
#include <coro/coro.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);                   \
        }                                                                         \
    } while (0)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct coro_scheduler *sched_new(void)
{
    struct coro_scheduler *s;
    if (coro_scheduler_create(&s, &(struct coro_options){ .blocking_threads = 4 })) abort();
    return s;
}

/* ---- blocking pool -------------------------------------------------------------- */

static long blocking_sum;

static void *work(void *p)
{
    usleep(200);
    __atomic_fetch_add(&blocking_sum, (long)(intptr_t)p, __ATOMIC_RELAXED);
    return (void *)((intptr_t)p * 2);
}

static void *blocking_task(void *p)
{
    for (int i = 0; i < 20; i++) {
        void *r = NULL;
        CHECK(coro_blocking(work, p, &r) == 0);
        CHECK((intptr_t)r == (intptr_t)p * 2);
    }
    return NULL;
}

static void blocking_pool(void)
{
    struct coro_scheduler *s = sched_new();
    for (intptr_t i = 1; i <= 8; i++) coro_spawn(s, blocking_task, (void *)i, &(struct coro_spawn_options){ .detached = true }, NULL);
    CHECK(coro_run(s) == 0);
    CHECK(blocking_sum == 20 * 36);
    coro_scheduler_destroy(s);
}

/* ---- a semaphore posted by plain threads --------------------------------------------- */

static struct coro_sem sem;

static void *sem_taker(void *p)
{
    (void)p;
    for (int i = 0; i < 50; i++) CHECK(coro_sem_wait(&sem) == 0);
    return NULL;
}

static void *sem_poster(void *p)
{
    (void)p;
    for (int i = 0; i < 200; i++) {
        coro_sem_post(&sem);
        if (i % 8 == 0) usleep(50);
    }
    return NULL;
}

static void sem_from_threads(void)
{
    coro_sem_init(&sem, 0);
    struct coro_scheduler *s = sched_new();
    for (int i = 0; i < 8; i++) coro_spawn(s, sem_taker, NULL, &(struct coro_spawn_options){ .detached = true }, NULL);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, sem_poster, NULL);
    CHECK(coro_run(s) == 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(coro_sem_value(&sem) == 0);
    coro_scheduler_destroy(s);
    coro_sem_destroy(&sem);
}

/* ---- a channel fed by a plain thread (try_send), drained by tasks ---------------- */

static struct coro_chan ch;
static long chan_sum;

static void *chan_reader(void *p)
{
    (void)p;
    long v;
    while (coro_chan_recv(&ch, &v) == 0) __atomic_fetch_add(&chan_sum, v, __ATOMIC_RELAXED); /* readers may run on different loops */
    return NULL;
}

static void *chan_feeder(void *p)
{
    (void)p;
    for (long i = 1; i <= 1000; i++)
        while (coro_chan_try_send(&ch, &i) == -EAGAIN) usleep(10);
    CHECK(coro_chan_close(&ch) == 0);
    return NULL;
}

static void chan_from_thread(void)
{
    coro_chan_init(&ch, sizeof(long), 8);
    struct coro_scheduler *s = sched_new();
    for (int i = 0; i < 3; i++) coro_spawn(s, chan_reader, NULL, &(struct coro_spawn_options){ .detached = true }, NULL);
    pthread_t th;
    pthread_create(&th, NULL, chan_feeder, NULL);
    CHECK(coro_run(s) == 0);
    pthread_join(th, NULL);
    CHECK(chan_sum == 1000 * 1001 / 2);
    coro_scheduler_destroy(s);
    coro_chan_destroy(&ch);
}

/* ---- cancel and spawn from another thread while the loop sleeps in the kernel ---- */

static struct coro_event go;
static struct coro_wait_group wg;
static int slept_rc = 1;

static void *sleeper(void *p)
{
    (void)p;
    slept_rc = coro_sleep(20000000000ull);
    return NULL;
}

static void *spawned(void *p)
{
    (void)p;
    coro_yield();
    coro_wait_group_done(&wg);
    return NULL;
}

static void *waits_for_go(void *p)
{
    (void)p;
    CHECK(coro_event_wait(&go) == 0);
    CHECK(coro_wait_group_wait(&wg) == 0);
    return NULL;
}

struct remote { struct coro_scheduler *s; struct coro_task *victim; };

static void *remote_thread(void *p)
{
    struct remote *r = p;
    usleep(20000);
    CHECK(coro_task_cancel(r->victim) == 0);
    coro_wait_group_add(&wg, 50);
    for (int i = 0; i < 50; i++)
        CHECK(coro_spawn(r->s, spawned, NULL, &(struct coro_spawn_options){ .detached = true }, NULL) == 0);
    coro_event_set(&go);
    return NULL;
}

static void cancel_and_spawn_from_thread(void)
{
    coro_event_init(&go);
    coro_wait_group_init(&wg);
    struct coro_scheduler *s = sched_new();
    struct remote r = { s, NULL };
    coro_spawn(s, sleeper, NULL, NULL, &r.victim);
    coro_spawn(s, waits_for_go, NULL, &(struct coro_spawn_options){ .detached = true }, NULL);
    pthread_t th;
    pthread_create(&th, NULL, remote_thread, &r);
    uint64_t t0 = now_ns();
    CHECK(coro_run(s) == 0);
    CHECK(now_ns() - t0 < 10000000000ull);
    pthread_join(th, NULL);
    CHECK(slept_rc == -ECANCELED);
    CHECK(coro_task_join(r.victim, NULL) == 0);
    coro_scheduler_destroy(s);
}

int main(void)
{
    blocking_pool();
    sem_from_threads();
    chan_from_thread();
    cancel_and_spawn_from_thread();
    if (failures) fprintf(stderr, "coro_threads: %d check(s) failed\n", failures);
    else printf("coro_threads: all checks passed\n");
    return failures != 0;
}
