/* The multi-threaded scheduler under load, in plain C so that the TSan build
 * runs it too (Criterion cannot start under TSan): channels, mutexes, joins
 * and cancellation between tasks on different loops, tasks moving between
 * loops, and an idle scheduler that must not burn CPU. Bounded: an alarm
 * ends a hung run. Exit status 0 when every check holds. */
#include <coro/coro.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
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

#define MS 1000000ull
#define DETACHED (&(struct coro_spawn_options){ .detached = true })

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct coro_scheduler *sched_new(unsigned threads)
{
    struct coro_scheduler *s;
    if (coro_scheduler_create(&s, &(struct coro_options){ .threads = threads })) abort();
    return s;
}

/* glibc declares pthread_self const, so a compiler may reuse its value across
 * a switch; asking through a volatile pointer reads the thread of now */
static pthread_t (*volatile thread_now)(void) = pthread_self;

/* Distinct threads seen by tasks (up to 8), to check that work spread. */
static pthread_t seen[8];
static int nseen, seen_lock;

static void note_thread(void)
{
    pthread_t me = thread_now();
    while (__atomic_exchange_n(&seen_lock, 1, __ATOMIC_ACQUIRE)) {}
    int i = 0;
    while (i < nseen && !pthread_equal(seen[i], me)) i++;
    if (i == nseen && nseen < 8) seen[nseen++] = me;
    __atomic_store_n(&seen_lock, 0, __ATOMIC_RELEASE);
}

static void seen_reset(void) { nseen = 0; }

/* ---- channel: producers and consumers spread over 4 loops ------------------ */

enum { PRODUCERS = 8, CONSUMERS = 8, ITEMS = 4000 };
static struct coro_chan chan;
static struct coro_wait_group producers_left;
static long chan_sum, chan_count;

static void *producer(void *p)
{
    long base = (long)(intptr_t)p * ITEMS;
    note_thread();
    for (long i = 1; i <= ITEMS; i++) {
        long v = base + i;
        CHECK(coro_chan_send(&chan, &v) == 0);
        if (i % 512 == 0) coro_yield();
    }
    coro_wait_group_done(&producers_left);
    return NULL;
}

static void *consumer(void *p)
{
    (void)p;
    note_thread();
    long v;
    int rc;
    while ((rc = coro_chan_recv(&chan, &v)) == 0) {
        __atomic_fetch_add(&chan_sum, v, __ATOMIC_RELAXED);
        __atomic_fetch_add(&chan_count, 1, __ATOMIC_RELAXED);
    }
    CHECK(rc == -EPIPE);
    return NULL;
}

static void *closer(void *p)
{
    (void)p;
    CHECK(coro_wait_group_wait(&producers_left) == 0);
    CHECK(coro_chan_close(&chan) == 0);
    return NULL;
}

static void chan_across_loops(void)
{
    seen_reset();
    CHECK(coro_chan_init(&chan, sizeof(long), 4) == 0);
    coro_wait_group_init(&producers_left);
    coro_wait_group_add(&producers_left, PRODUCERS);
    struct coro_scheduler *s = sched_new(4);
    struct coro_task *c[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) CHECK(coro_spawn(s, consumer, NULL, NULL, &c[i]) == 0);
    for (intptr_t i = 0; i < PRODUCERS; i++) CHECK(coro_spawn(s, producer, (void *)i, DETACHED, NULL) == 0);
    CHECK(coro_spawn(s, closer, NULL, DETACHED, NULL) == 0);
    CHECK(coro_run(s) == 0);
    for (int i = 0; i < CONSUMERS; i++) CHECK(coro_task_join(c[i], NULL) == 0);
    long n = (long)PRODUCERS * ITEMS;
    CHECK(chan_count == n);
    CHECK(chan_sum == n * (n + 1) / 2);
    CHECK(nseen >= 2); /* spawns went round-robin over the loops */
    coro_scheduler_destroy(s);
    coro_chan_destroy(&chan);
}

/* ---- mutex: exclusion and an exact count with tasks on 3 loops ------------- */

enum { LOCKERS = 12, ROUNDS = 1500 };
static struct coro_mutex mtx;
static int inside;
static long counter;

static void *locker(void *p)
{
    (void)p;
    for (int i = 0; i < ROUNDS; i++) {
        CHECK(coro_mutex_lock(&mtx) == 0);
        CHECK(__atomic_fetch_add(&inside, 1, __ATOMIC_RELAXED) == 0);
        counter++; /* plain: the mutex orders it (TSan checks that) */
        if (i % 64 == 0) coro_yield(); /* holding it across a switch */
        __atomic_fetch_sub(&inside, 1, __ATOMIC_RELAXED);
        CHECK(coro_mutex_unlock(&mtx) == 0);
    }
    return NULL;
}

static void mutex_across_loops(void)
{
    CHECK(coro_mutex_init(&mtx) == 0);
    counter = 0;
    struct coro_scheduler *s = sched_new(3);
    for (int i = 0; i < LOCKERS; i++) CHECK(coro_spawn(s, locker, NULL, DETACHED, NULL) == 0);
    CHECK(coro_run(s) == 0);
    CHECK(counter == (long)LOCKERS * ROUNDS);
    coro_scheduler_destroy(s);
    coro_mutex_destroy(&mtx);
}

/* ---- cancellation and joins between loops ----------------------------------- */

enum { VICTIM_KINDS = 4, VICTIMS = 24 };
static struct coro_chan empty_chan;
static struct coro_mutex held;
static struct coro_event held_go, held_locked;
static int sp[2];

static void *victim(void *p)
{
    int rc;
    char b;
    size_t n;
    switch ((intptr_t)p % VICTIM_KINDS) {
    case 0: rc = coro_sleep(30000 * MS); break;
    case 1: { long v; rc = coro_chan_recv(&empty_chan, &v); break; }
    case 2: /* once the holder (maybe on another loop) has the mutex */
        rc = coro_event_wait(&held_locked);
        if (rc == 0) rc = coro_mutex_lock(&held);
        if (rc == 0) coro_mutex_unlock(&held);
        break;
    default: rc = coro_io_single(AIO_RECV(.socket = sp[0], .buf = &b, .len = 1, .out_read = &n)); break;
    }
    return (void *)(intptr_t)rc;
}

static void *holder(void *p)
{
    (void)p;
    CHECK(coro_mutex_lock(&held) == 0);
    coro_event_set(&held_locked);
    CHECK(coro_event_wait(&held_go) == 0);
    CHECK(coro_mutex_unlock(&held) == 0);
    return NULL;
}

static struct coro_task *victims[VICTIMS];
static struct coro_wait_group cancellers_left;

/* Cancels and joins victims from whatever loop it runs on. */
static void *canceller(void *p)
{
    intptr_t first = (intptr_t)p;
    coro_sleep(20 * MS); /* every victim is waiting by now */
    for (intptr_t i = first; i < VICTIMS; i += 2) CHECK(coro_task_cancel(victims[i]) == 0);
    for (intptr_t i = first; i < VICTIMS; i += 2) {
        void *r = NULL;
        CHECK(coro_task_join(victims[i], &r) == 0);
        if ((intptr_t)r != -ECANCELED) fprintf(stderr, "victim %d: %d\n", (int)i, (int)(intptr_t)r);
        CHECK((intptr_t)r == -ECANCELED);
    }
    coro_wait_group_done(&cancellers_left);
    return NULL;
}

/* Lets the holder go only once every victim has been cancelled and joined,
 * so no mutex victim can get the mutex first, however slow the machine. */
static void *release_holder(void *p)
{
    (void)p;
    CHECK(coro_wait_group_wait(&cancellers_left) == 0);
    coro_event_set(&held_go);
    return NULL;
}

static void cancel_across_loops(void)
{
    CHECK(coro_chan_init(&empty_chan, sizeof(long), 1) == 0);
    CHECK(coro_mutex_init(&held) == 0);
    coro_event_init(&held_go);
    coro_event_init(&held_locked);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
    for (int round = 0; round < 5; round++) {
        coro_event_reset(&held_go);
        coro_event_reset(&held_locked);
        coro_wait_group_init(&cancellers_left);
        coro_wait_group_add(&cancellers_left, 2);
        struct coro_scheduler *s = sched_new(3);
        CHECK(coro_spawn(s, holder, NULL, DETACHED, NULL) == 0);
        for (intptr_t i = 0; i < VICTIMS; i++) CHECK(coro_spawn(s, victim, (void *)i, NULL, &victims[i]) == 0);
        CHECK(coro_spawn(s, canceller, (void *)0, DETACHED, NULL) == 0);
        CHECK(coro_spawn(s, canceller, (void *)1, DETACHED, NULL) == 0);
        CHECK(coro_spawn(s, release_holder, NULL, DETACHED, NULL) == 0);
        uint64_t t0 = now_ns();
        CHECK(coro_run(s) == 0);
        CHECK(now_ns() - t0 < 10000 * MS);
        coro_scheduler_destroy(s);
    }
    /* nothing read the socket: a cancelled RECV took no byte */
    CHECK(write(sp[1], "x", 1) == 1);
    char b = 0;
    CHECK(read(sp[0], &b, 1) == 1 && b == 'x');
    close(sp[0]);
    close(sp[1]);
    coro_chan_destroy(&empty_chan);
    coro_mutex_destroy(&held);
}

/* ---- moving tasks: an idle loop takes work from a busy one ------------------- */

static int migrated;


/* Yields many times; what a task can observe (coro_current, its own data)
 * stays the same whichever thread it resumes on. */
static void *yielder(void *p)
{
    (void)p;
    struct coro_task *me = coro_current();
    pthread_t first = thread_now();
    bool moved = false;
    /* 3000 rounds, and more until some task has moved (a loaded machine may
     * keep the other loop's thread off the CPU for a while), up to 10 s */
    uint64_t deadline = now_ns() + 10000 * MS;
    for (int i = 0; i < 3000 || (!__atomic_load_n(&migrated, __ATOMIC_RELAXED) && now_ns() < deadline); i++) {
        coro_yield();
        CHECK(coro_current() == me);
        if (!moved && !pthread_equal(thread_now(), first)) {
            moved = true;
            __atomic_fetch_add(&migrated, 1, __ATOMIC_RELAXED);
        }
        if (i % 500 == 0) CHECK(coro_sleep(100000) == 0);
        CHECK(coro_current() == me);
    }
    return me;
}

static void *quick(void *p) { return p; }

static void tasks_move_to_idle_loops(void)
{
    migrated = 0;
    struct coro_scheduler *s = sched_new(2);
    enum { N = 16 };
    struct coro_task *t[N];
    /* round-robin from 0: even spawns land on one loop, odd on the other; the
     * odd ones end at once, so that loop turns hungry and gets work given */
    for (int i = 0; i < N; i++) CHECK(coro_spawn(s, i % 2 ? quick : yielder, NULL, NULL, &t[i]) == 0);
    CHECK(coro_run(s) == 0);
    for (int i = 0; i < N; i++) {
        void *r = NULL;
        CHECK(coro_task_join(t[i], &r) == 0);
        if (i % 2 == 0) CHECK(r == t[i]);
    }
    CHECK(migrated > 0);
    coro_scheduler_destroy(s);
}

/* ---- spawn trees and joins across loops -------------------------------------- */

static struct coro_scheduler *tree_sched;

static void *tree_task(void *p)
{
    intptr_t depth = (intptr_t)p;
    if (depth == 0) return (void *)1;
    struct coro_task *a, *b;
    CHECK(coro_spawn(tree_sched, tree_task, (void *)(depth - 1), NULL, &a) == 0);
    CHECK(coro_spawn(tree_sched, tree_task, (void *)(depth - 1), NULL, &b) == 0);
    void *ra = NULL, *rb = NULL;
    CHECK(coro_task_join(a, &ra) == 0);
    CHECK(coro_task_join(b, &rb) == 0);
    return (void *)((intptr_t)ra + (intptr_t)rb);
}

static void spawn_tree_across_loops(void)
{
    tree_sched = sched_new(3);
    struct coro_task *root;
    CHECK(coro_spawn(tree_sched, tree_task, (void *)10, NULL, &root) == 0);
    CHECK(coro_run(tree_sched) == 0);
    void *r = NULL;
    CHECK(coro_task_join(root, &r) == 0);
    CHECK((intptr_t)r == 1024);
    coro_scheduler_destroy(tree_sched);
}

/* ---- threads = 0 counts the CPUs the process may use ---------------------------- */

static void *note_and_yield(void *p)
{
    (void)p;
    for (int i = 0; i < 20; i++) {
        note_thread();
        coro_yield();
    }
    return NULL;
}

static int threads_seen_with_default(void)
{
    seen_reset();
    struct coro_scheduler *s = sched_new(0);
    for (int i = 0; i < 16; i++) CHECK(coro_spawn(s, note_and_yield, NULL, DETACHED, NULL) == 0);
    CHECK(coro_run(s) == 0);
    coro_scheduler_destroy(s);
    return nseen;
}

static void default_threads_follow_affinity(void)
{
    cpu_set_t all, one;
    CHECK(sched_getaffinity(0, sizeof all, &all) == 0);
    int ncpu = CPU_COUNT(&all);
    int first = 0;
    while (!CPU_ISSET(first, &all)) first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    CHECK(threads_seen_with_default() == 1); /* one CPU allowed: one loop */
    CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
    int n = threads_seen_with_default();
    CHECK(n >= 1 && n <= ncpu && n <= 8); /* fewer when a cgroup quota caps it */
}

/* ---- an idle scheduler sleeps in the kernel ------------------------------------ */

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static struct coro_event late;

static void *late_setter(void *p)
{
    (void)p;
    usleep(1000000);
    coro_event_set(&late);
    return NULL;
}

static void *waits_late(void *p)
{
    (void)p;
    CHECK(coro_event_wait(&late) == 0);
    return NULL;
}

static void *sleeps_long(void *p)
{
    (void)p;
    CHECK(coro_sleep(500 * MS) == 0);
    return NULL;
}

static void idle_costs_no_cpu(void)
{
    coro_event_init(&late);
    struct coro_scheduler *s = sched_new(4);
    /* first 0.5 s: one task sleeps on a timer, one waits for a plain thread;
     * next 0.5 s: only the plain thread can wake anything */
    CHECK(coro_spawn(s, sleeps_long, NULL, DETACHED, NULL) == 0);
    CHECK(coro_spawn(s, waits_late, NULL, DETACHED, NULL) == 0);
    pthread_t th;
    double c0 = cpu_seconds();
    uint64_t t0 = now_ns();
    CHECK(pthread_create(&th, NULL, late_setter, NULL) == 0);
    CHECK(coro_run(s) == 0);
    double cpu = cpu_seconds() - c0;
    uint64_t wall = now_ns() - t0;
    pthread_join(th, NULL);
    printf("idle: %.1f ms CPU over %.0f ms with 4 loops\n", cpu * 1e3, (double)wall / 1e6);
    CHECK(wall >= 950 * MS);
    CHECK(cpu < 0.05); /* near 0%: 5% of one CPU over 1 s is 50 ms */
    coro_scheduler_destroy(s);
}

static void alarm_handler(int sig)
{
    (void)sig;
    static const char msg[] = "coro_threads_stress: timed out\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(2);
}

#define STEP(f) (printf("%s\n", #f), fflush(stdout), f())

int main(void)
{
    signal(SIGALRM, alarm_handler);
    alarm(100);
    STEP(chan_across_loops);
    STEP(mutex_across_loops);
    STEP(cancel_across_loops);
    STEP(tasks_move_to_idle_loops);
    STEP(spawn_tree_across_loops);
    STEP(default_threads_follow_affinity);
    STEP(idle_costs_no_cpu);
    if (failures) fprintf(stderr, "coro_threads_stress: %d check(s) failed\n", failures);
    else printf("coro_threads_stress: all checks passed\n");
    return failures != 0;
}
