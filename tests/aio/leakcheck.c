/*
 * Not a Criterion test: Criterion ignores what LeakSanitizer finds in a test's
 * own process, so a leak in caio would never fail the suite. This program
 * walks the paths that allocate (immediate rings per thread and their
 * growth, rings destroyed with ops in flight, callbacks that queue, the
 * io_uring fallback, event sources, refused calls) and exits 0; under ASan,
 * LeakSanitizer then fails it (exit status 23) if anything was lost.
 * It also checks results, so it is a smoke test in every other build.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <aio/aio.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c)                                                             \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

static void *thread_body(void *arg)
{
    (void)arg;
    /* an immediate ring of this thread's own, grown once, freed at exit */
    CHECK(aio_single(AIO_NOP()) == 0);
    static _Thread_local struct aio_op ops[600];
    for (int i = 0; i < 600; i++) ops[i] = AIO_NOP();
    CHECK(aio_multi(ops, 600) == 0);
    return NULL;
}

/* on_complete queues a follow-up NOP, up to userdata 5, also while the ring
 * is being destroyed (the follow-ups are then cancelled). */
static struct aio_ring *requeue_ring;
static int requeued;
static void requeue(void *ctx, aio_id id, uint64_t ud, int result)
{
    (void)ctx;
    (void)id;
    (void)result;
    requeued++;
    if (ud < 5) CHECK(aio_ring_queue(requeue_ring, &AIO_NOP(.userdata = ud + 1), 1) == 0);
}

static void ring_paths(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    struct aio_ring *ring;
    CHECK(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 64 }) == 0);
    char buf[8];
    CHECK(aio_ring_queue(ring, (struct aio_op[]){
        AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .link = AIO_LINK_SOFT),
        AIO_LINK_TIMEOUT(.ns = 10000000000ull),
        AIO_POLL(.fd = sv[0], .events = POLLIN),
        AIO_TIMEOUT(.ns = 10000000000ull, .link = AIO_LINK_HARD),
        AIO_NOP(),
    }, 5) == 0);
    CHECK(aio_ring_complete(ring, AIO_NOWAIT, NULL) == 0);
    aio_ring_destroy(ring); /* with ops in flight */

    CHECK(aio_ring_create(&ring, NULL) == 0);
    aio_ring_destroy(ring); /* never used */

    CHECK(aio_ring_create(&requeue_ring, &(struct aio_ring_options){ .entries = 1, .on_complete = requeue }) == 0);
    CHECK(aio_ring_queue(requeue_ring, &AIO_NOP(.userdata = 0), 1) == 0);
    CHECK(aio_ring_complete_all(requeue_ring) == 0);
    CHECK(requeued == 6);
    CHECK(aio_ring_queue(requeue_ring, &AIO_NOP(.userdata = 3), 1) == 0);
    aio_ring_destroy(requeue_ring); /* the callback queues during destroy */
    CHECK(requeued == 9);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    /* immediate calls on the main thread, growing its ring */
    CHECK(aio_single(AIO_NOP()) == 0);
    static struct aio_op big[5000];
    for (int i = 0; i < 5000; i++) big[i] = AIO_NOP(.link = i < 4999 ? AIO_LINK_HARD : AIO_LINK_NONE);
    CHECK(aio_multi(big, 5000) == 0);
    CHECK(aio_complete((struct aio_op[]){ AIO_CLOSE(.fd = -1), AIO_NOP() }, 2) == 1);
    CHECK(aio_multi(NULL, 0) == -EINVAL);

    /* threads with rings of their own, freed when they end */
    pthread_t t[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, thread_body, NULL) == 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);

    ring_paths();

    struct aio_event_source src;
    CHECK(aio_event_source_init(&src) == 0);
    CHECK(AIO_MULTI(AIO_EVENT_NOTIFY(.source = &src, .link = AIO_LINK_SOFT), AIO_EVENT_WAIT(.source = &src)) == 0);
    aio_event_source_destroy(&src);

    /* refused creations leave nothing behind */
    struct aio_ring *ring;
    CHECK(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 0 }) == -EINVAL);
    const char *backend = getenv("AIO_BACKEND");
    if (backend && strcmp(backend, "io_uring") == 0) {
        /* the io_uring fallback, and a kind that cannot fall back */
        CHECK(setenv("AIO_URING_HIDE_OPS", "recv", 1) == 0);
        CHECK(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8, .backend = AIO_BACKEND_IO_URING }) ==
              -ENOTSUP);
        CHECK(setenv("AIO_URING_HIDE_OPS", "close,mkdirat,socket", 1) == 0);
        CHECK(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8 }) == 0);
        int s = -1;
        CHECK(aio_ring_queue(ring, &AIO_SOCKET(.domain = AF_UNIX, .type = SOCK_STREAM, .out_socket = &s), 1) == 0);
        CHECK(aio_ring_complete_all(ring) == 0);
        CHECK(aio_ring_queue(ring, &AIO_CLOSE(.fd = s), 1) == 0);
        CHECK(aio_ring_complete_all(ring) == 0);
        aio_ring_destroy(ring);
        unsetenv("AIO_URING_HIDE_OPS");
    }
    CHECK(setenv("AIO_BACKEND", "nonsense", 1) == 0);
    CHECK(aio_ring_create(&ring, NULL) == -EINVAL);
    puts("leakcheck: done");
    return 0;
}
