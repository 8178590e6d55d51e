/*
 * The worker pool under ThreadSanitizer. Criterion cannot start under TSan
 * (its inheritable arena collides with TSan's memory layout), so this is a
 * plain program: each check prints a line, the last line is "N passed, N
 * failed", and the exit status is non-zero on any failure. It runs on the
 * backend AIO_BACKEND names, like the Criterion binaries.
 *
 * What it exercises: hand-over of file work to workers and back, more work
 * than threads, threads leaving when idle and new ones starting, CANCEL racing
 * a worker picking the op up, a ring destroyed with work in flight, two rings
 * on two threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <aio/aio.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;
static char dir[64];

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            printf("FAIL %s:%d: ", __func__, __LINE__);    \
            printf(__VA_ARGS__);                           \
            printf("\n");                                  \
            return false;                                  \
        }                                                  \
    } while (0)

static int open_in_dir(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

static bool writes_more_than_threads(void)
{
    struct aio_ring *r;
    CHECK(aio_ring_create(&r, &(struct aio_ring_options){ .entries = 128 }) == 0, "ring");
    enum { N = 48 };
    int fd = open_in_dir("many");
    CHECK(fd >= 0, "open");
    static char bytes[N];
    size_t wrote[N];
    struct aio_op ops[N];
    for (int i = 0; i < N; i++) {
        bytes[i] = (char)('A' + i % 26);
        ops[i] = AIO_WRITE(.fd = fd, .buf = &bytes[i], .len = 1, .offset = i, .out_written = &wrote[i]);
    }
    CHECK(aio_ring_queue(r, ops, N) == 0, "queue");
    CHECK(aio_ring_complete_all(r) == 0, "complete");
    char back[N];
    CHECK(pread(fd, back, N, 0) == N, "pread");
    for (int i = 0; i < N; i++) CHECK(wrote[i] == 1 && back[i] == bytes[i], "byte %d", i);
    close(fd);
    aio_ring_destroy(r);
    return true;
}

static bool idle_threads_leave_and_come_back(void)
{
    struct aio_ring *r;
    CHECK(aio_ring_create(&r, NULL) == 0, "ring");
    int fd = open_in_dir("idle");
    for (int round = 0; round < 2; round++) {
        int e = 1;
        CHECK(aio_ring_queue(r, (struct aio_op[]){ AIO_FSYNC(.fd = fd, .out_error = &e) }, 1) == 0, "queue");
        CHECK(aio_ring_complete_all(r) == 0 && e == 0, "fsync %d", e);
        /* longer than the pool's idle time: its threads exit meanwhile */
        if (round == 0) nanosleep(&(struct timespec){ 2, 500000000 }, NULL);
    }
    close(fd);
    aio_ring_destroy(r);
    return true;
}

static bool cancel_races_workers(void)
{
    struct aio_ring *r;
    CHECK(aio_ring_create(&r, &(struct aio_ring_options){ .entries = 256 }) == 0, "ring");
    int fd = open_in_dir("cancel");
    enum { N = 64 };
    aio_id ids[N];
    int e[N], ce[N];
    struct aio_op ops[N];
    for (int i = 0; i < N; i++) ops[i] = AIO_FSYNC(.fd = fd, .out_error = &e[i], .out_id = &ids[i]);
    CHECK(aio_ring_queue(r, ops, N) == 0, "queue");
    for (int i = 0; i < N; i++) ops[i] = AIO_CANCEL(.id = ids[i], .out_error = &ce[i]);
    CHECK(aio_ring_queue(r, ops, N) == 0, "queue cancels");
    aio_ring_complete_all(r);
    int stopped = 0;
    for (int i = 0; i < N; i++) {
        if (ce[i] == 0) { CHECK(e[i] == -ECANCELED, "op %d cancelled but reports %d", i, e[i]); stopped++; }
        else CHECK((ce[i] == -EALREADY || ce[i] == -ENOENT) && e[i] == 0, "op %d: cancel %d, op %d", i, ce[i], e[i]);
    }
    printf("info: %d of %d fsyncs stopped before a worker took them\n", stopped, N);
    close(fd);
    aio_ring_destroy(r);
    return true;
}

static bool destroy_with_work_in_flight(void)
{
    for (int round = 0; round < 20; round++) {
        struct aio_ring *r;
        CHECK(aio_ring_create(&r, &(struct aio_ring_options){ .entries = 64 }) == 0, "ring");
        int fd = open_in_dir("destroy");
        struct aio_op ops[16];
        for (int i = 0; i < 16; i++) ops[i] = AIO_FSYNC(.fd = fd);
        CHECK(aio_ring_queue(r, ops, 16) == 0, "queue");
        struct aio_result res;
        aio_ring_complete(r, AIO_NOWAIT, &res);
        aio_ring_destroy(r);
        close(fd);
    }
    return true;
}

/* Both threads keep their rings until both are done: liburing maps and unmaps
 * its rings with raw syscalls TSan cannot see, so a ring mapped at the address
 * of one just destroyed on another thread would look like a race. */
static pthread_barrier_t rings_done;

static void *ring_thread_work(void *arg);

static void *ring_thread(void *arg)
{
    void *res = ring_thread_work(arg);
    pthread_barrier_wait(&rings_done);
    return res;
}

static void *ring_thread_work(void *arg)
{
    intptr_t k = (intptr_t)arg;
    char name[16];
    snprintf(name, sizeof name, "t%ld", (long)k);
    int fd = open_in_dir(name);
    int sv[2];
    if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return (void *)1;
    for (int i = 0; i < 300; i++) {
        char b = (char)i, c = 0, got = 0;
        size_t n = 0, m = 0;
        int rc = AIO_MULTI(AIO_WRITE(.fd = fd, .buf = &b, .len = 1, .offset = i, .link = AIO_LINK_SOFT),
                           AIO_READ(.fd = fd, .buf = &c, .len = 1, .offset = i, .out_read = &n),
                           AIO_SEND(.socket = sv[0], .buf = &b, .len = 1, .link = AIO_LINK_SOFT),
                           AIO_RECV(.socket = sv[1], .buf = &got, .len = 1, .out_read = &m));
        if (rc || n != 1 || m != 1 || c != b || got != b) return (void *)2;
    }
    close(sv[0]);
    close(sv[1]);
    close(fd);
    return NULL;
}

static bool two_rings_two_threads(void)
{
    pthread_t t[2];
    pthread_barrier_init(&rings_done, NULL, 2);
    for (intptr_t i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, ring_thread, (void *)i) == 0, "spawn");
    for (int i = 0; i < 2; i++) {
        void *res;
        pthread_join(t[i], &res);
        CHECK(res == NULL, "thread %d failed (%ld)", i, (long)(intptr_t)res);
    }
    pthread_barrier_destroy(&rings_done);
    return true;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/caio-pool-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    const char *b = getenv("AIO_BACKEND");
    printf("backend: %s\n", b && *b ? b : "auto");
    struct { const char *name; bool (*fn)(void); } checks[] = {
        { "writes_more_than_threads", writes_more_than_threads },
        { "idle_threads_leave_and_come_back", idle_threads_leave_and_come_back },
        { "cancel_races_workers", cancel_races_workers },
        { "destroy_with_work_in_flight", destroy_with_work_in_flight },
        { "two_rings_two_threads", two_rings_two_threads },
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        bool ok = checks[i].fn();
        printf("%s %s\n", ok ? "PASS" : "FAIL", checks[i].name);
        if (ok) passed++;
        else failed++;
    }
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
