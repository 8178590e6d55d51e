/*
 * Behaviour the readiness backends have to work for, checked on every
 * backend (io_uring gets it from the kernel): file work on the worker pool
 * while the loop stays free, a blocking listener that must not block the
 * loop, a descriptor closed with close(2) and its number reused between ops,
 * a socket used for request/response many times over.
 */
#include "helpers.h"

#include <poll.h>
#include <pthread.h>

static struct aio_ring *ring_of(uint32_t entries)
{
    struct aio_ring *r;
    cr_assert_eq(aio_ring_create(&r, &(struct aio_ring_options){ .entries = entries }), 0);
    return r;
}

/* More file writes at once than the pool has threads: all land, in the
 * right files, at the right offsets. */
Test(readiness, many_file_ops_at_once)
{
    char dir[64], path[128];
    tmpdir_make(dir);
    enum { FILES = 40 };
    int fd[FILES];
    for (int i = 0; i < FILES; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        cr_assert_eq(aio_single(AIO_OPENAT(.path = path_in(path, sizeof path, dir, name),
                                           .flags = O_RDWR | O_CREAT | O_CLOEXEC, .mode = 0600, .out_fd = &fd[i])), 0);
    }
    struct aio_ring *r = ring_of(256);
    char data[FILES][8];
    size_t wrote[FILES][2];
    struct aio_op ops[FILES * 2];
    for (int i = 0; i < FILES; i++) {
        snprintf(data[i], sizeof data[i], "file%03d", i);
        ops[2 * i] = AIO_WRITE(.fd = fd[i], .buf = data[i], .len = 4, .offset = 0, .out_written = &wrote[i][0],
                               .link = AIO_LINK_SOFT);
        ops[2 * i + 1] = AIO_WRITE(.fd = fd[i], .buf = data[i] + 4, .len = 3, .offset = 4, .out_written = &wrote[i][1]);
    }
    cr_assert_eq(aio_ring_queue(r, ops, FILES * 2), 0);
    cr_assert_eq(aio_ring_complete_all(r), 0);
    for (int i = 0; i < FILES; i++) {
        cr_assert_eq(wrote[i][0], 4);
        cr_assert_eq(wrote[i][1], 3);
        char got[16] = { 0 };
        cr_assert_eq(pread(fd[i], got, sizeof got, 0), 7);
        cr_assert_str_eq(got, data[i]);
        close(fd[i]);
    }
    aio_ring_destroy(r);
    tmpdir_remove(dir);
}

/* While file work runs, socket work on the same ring is not held up by it:
 * an fsync burst and a socket exchange complete together. */
Test(readiness, loop_free_while_files_work)
{
    char dir[64], path[128];
    tmpdir_make(dir);
    int f = open(path_in(path, sizeof path, dir, "big"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(f, 0);
    static char block[1 << 20];
    memset(block, 'z', sizeof block);
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct aio_ring *r = ring_of(64);
    char got[4];
    size_t n = 0;
    int e_recv = 1;
    cr_assert_eq(aio_ring_queue(r, (struct aio_op[]){
        AIO_WRITE(.fd = f, .buf = block, .len = sizeof block, .offset = 0, .link = AIO_LINK_SOFT),
        AIO_FSYNC(.fd = f),
        AIO_RECV(.socket = sv[0], .buf = got, .len = sizeof got, .out_read = &n, .out_error = &e_recv),
    }, 3), 0);
    cr_assert_eq(write(sv[1], "ping", 4), 4);
    cr_assert_eq(aio_ring_complete_all(r), 0);
    cr_assert_eq(e_recv, 0);
    cr_assert_eq(n, 4);
    cr_assert_eq(memcmp(got, "ping", 4), 0);
    struct stat st;
    cr_assert_eq(fstat(f, &st), 0);
    cr_assert_eq(st.st_size, (off_t)sizeof block);
    aio_ring_destroy(r);
    close(f);
    close(sv[0]);
    close(sv[1]);
    tmpdir_remove(dir);
}

/* ACCEPT on a listener in blocking mode: the ring never sleeps in accept(2);
 * NOWAIT returns at once with nothing, and the accept completes once a client
 * connects. The listener's own mode is left as it was. */
Test(readiness, blocking_listener_does_not_block)
{
    uint16_t port;
    int l = tcp_listener4(&port);
    int fl = fcntl(l, F_GETFL);
    cr_assert_eq(fl & O_NONBLOCK, 0, "the helper's listener should be blocking");
    struct aio_ring *r = ring_of(8);
    int s = -1, e = 1;
    cr_assert_eq(aio_ring_queue(r, (struct aio_op[]){ AIO_ACCEPT(.socket = l, .out_socket = &s, .out_error = &e) }, 1), 0);
    struct aio_result res;
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_ring_complete(r, AIO_NOWAIT, &res), 0);
    cr_assert_lt(now_ns() - t0, MS(200));
    cr_assert_eq(res.completed, 0);
    cr_assert_eq(aio_ring_in_flight(r), 1);

    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = loopback4(port);
    cr_assert_eq(connect(c, (struct sockaddr *)&to, sizeof to), 0);
    cr_assert_eq(aio_ring_complete_all(r), 0);
    cr_assert_eq(e, 0);
    cr_assert_geq(s, 0);
    cr_assert_eq(fcntl(l, F_GETFL), fl);
    cr_assert_eq(write(c, "x", 1), 1);
    char ch;
    cr_assert_eq(read(s, &ch, 1), 1);
    cr_assert_eq(ch, 'x');
    aio_ring_destroy(r);
    close(s);
    close(c);
    close(l);
}

/* CONNECT on a blocking socket completes through the ring (and leaves the
 * socket blocking); a refused connection reports -ECONNREFUSED. */
Test(readiness, connect_blocking_socket)
{
    uint16_t port;
    int l = tcp_listener4(&port);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = loopback4(port);
    cr_assert_eq(aio_single(AIO_CONNECT(.socket = c, .addr = (struct sockaddr *)&to, .addrlen = sizeof to)), 0);
    cr_assert_eq(fcntl(c, F_GETFL) & O_NONBLOCK, 0);
    int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in closed = loopback4(closed_port4());
    cr_assert_eq(aio_single(AIO_CONNECT(.socket = c2, .addr = (struct sockaddr *)&closed, .addrlen = sizeof closed)),
                 -ECONNREFUSED);
    close(c);
    close(c2);
    close(l);
}

/* A socket waited on, then closed with close(2), and a new socket that gets
 * the same number: an op on the new one must see its data (an epoll
 * registration of the old socket vanished with it). The data arrives while
 * the ring sleeps, sent by a TIMEOUT-linked SEND of the same ring. */
Test(readiness, fd_number_reused_after_plain_close)
{
    struct aio_ring *r = ring_of(16);
    for (int round = 0; round < 3; round++) {
        int sv[2];
        make_socketpair(SOCK_STREAM, sv);
        char got[8] = { 0 };
        size_t n = 0;
        int e_recv = 1, e_lt = 1;
        cr_assert_eq(aio_ring_queue(r, (struct aio_op[]){
            AIO_RECV(.socket = sv[0], .buf = got, .len = sizeof got, .out_read = &n, .out_error = &e_recv,
                     .link = AIO_LINK_SOFT),
            AIO_LINK_TIMEOUT(.ns = MS(2000), .out_error = &e_lt),
            AIO_TIMEOUT(.ns = MS(20), .link = AIO_LINK_SOFT),
            AIO_SEND(.socket = sv[1], .buf = "later", .len = 5),
        }, 4), 0);
        cr_assert_eq(aio_ring_complete_all(r), 0, "round %d", round);
        cr_assert_eq(e_recv, 0, "round %d: recv %d", round, e_recv);
        cr_assert_eq(e_lt, 0);
        cr_assert_eq(n, 5);
        cr_assert_str_eq(got, "later");
        close(sv[0]); /* plain close: the ring is not told */
        close(sv[1]);
    }
    aio_ring_destroy(r);
}

/* Request/response many times over one socket pair: every byte accounted for,
 * in order. */
Test(readiness, request_response_many_times)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct aio_ring *r = ring_of(16);
    for (unsigned i = 0; i < 2000; i++) {
        char req[4], resp[4], in_srv[4] = { 0 }, in_cli[4] = { 0 };
        memcpy(req, &i, 4);
        unsigned j = ~i;
        memcpy(resp, &j, 4);
        size_t n1 = 0, n2 = 0;
        cr_assert_eq(aio_ring_queue(r, (struct aio_op[]){
            AIO_SEND(.socket = sv[0], .buf = req, .len = 4, .link = AIO_LINK_SOFT),
            AIO_RECV(.socket = sv[0], .buf = in_cli, .len = 4, .out_read = &n2),
            AIO_RECV(.socket = sv[1], .buf = in_srv, .len = 4, .out_read = &n1, .link = AIO_LINK_SOFT),
            AIO_SEND(.socket = sv[1], .buf = resp, .len = 4),
        }, 4), 0);
        cr_assert_eq(aio_ring_complete_all(r), 0);
        cr_assert_eq(n1, 4);
        cr_assert_eq(n2, 4);
        cr_assert_eq(memcmp(in_srv, req, 4), 0, "round %u", i);
        cr_assert_eq(memcmp(in_cli, resp, 4), 0, "round %u", i);
    }
    aio_ring_destroy(r);
    close(sv[0]);
    close(sv[1]);
}

/* POLL on a regular file: ready at once, as the kernel reports such files. */
Test(readiness, poll_regular_file)
{
    char dir[64], path[128];
    tmpdir_make(dir);
    int f = open(path_in(path, sizeof path, dir, "p"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int ev = 0;
    cr_assert_eq(aio_single(AIO_POLL(.fd = f, .events = POLLIN, .out_events = &ev)), 0);
    cr_assert_eq(ev, POLLIN);
    cr_assert_eq(aio_single(AIO_POLL(.fd = f, .events = POLLOUT, .out_events = &ev)), 0);
    cr_assert_eq(ev, POLLOUT);
    close(f);
    tmpdir_remove(dir);
}

/* Two threads, each with its own ring, doing file and socket work at once:
 * the pools of two rings are independent (and TSan watches the hand-overs). */
static void *thread_work(void *arg)
{
    const char *dir = arg;
    char path[128], name[32];
    snprintf(name, sizeof name, "t%lx", (unsigned long)pthread_self());
    int fd = -1;
    if (aio_single(AIO_OPENAT(.path = path_in(path, sizeof path, dir, name), .flags = O_RDWR | O_CREAT | O_CLOEXEC,
                              .mode = 0600, .out_fd = &fd)))
        return (void *)1;
    for (int i = 0; i < 200; i++) {
        char b = (char)('a' + i % 26), c = 0;
        size_t n = 0;
        if (AIO_MULTI(AIO_WRITE(.fd = fd, .buf = &b, .len = 1, .offset = i, .link = AIO_LINK_SOFT),
                      AIO_READ(.fd = fd, .buf = &c, .len = 1, .offset = i, .out_read = &n)))
            return (void *)2;
        if (n != 1 || c != b) return (void *)3;
    }
    if (aio_single(AIO_CLOSE(.fd = fd))) return (void *)4;
    return NULL;
}

Test(readiness, two_threads_two_rings)
{
    char dir[64];
    tmpdir_make(dir);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&t[i], NULL, thread_work, dir), 0);
    for (int i = 0; i < 2; i++) {
        void *res;
        pthread_join(t[i], &res);
        cr_assert_null(res, "thread %d failed at step %ld", i, (long)(intptr_t)res);
    }
    tmpdir_remove(dir);
}

/* RECV and SEND with MSG_WAITALL move every byte even when the data comes in
 * parts: 4 bytes now, 4 more from a TIMEOUT-linked SEND of the same ring. */
Test(readiness, waitall_across_partial_arrivals)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct aio_ring *r = ring_of(8);
    cr_assert_eq(write(sv[1], "abcd", 4), 4);
    char buf[16] = { 0 };
    size_t got = 0;
    int e = 1;
    cr_assert_eq(aio_ring_queue(r, (struct aio_op[]){
        AIO_RECV(.socket = sv[0], .buf = buf, .len = 8, .flags = MSG_WAITALL, .out_read = &got, .out_error = &e),
        AIO_TIMEOUT(.ns = MS(20), .link = AIO_LINK_SOFT),
        AIO_SEND(.socket = sv[1], .buf = "efgh", .len = 4),
    }, 3), 0);
    cr_assert_eq(aio_ring_complete_all(r), 0);
    cr_assert_eq(e, 0);
    cr_assert_eq(got, 8);
    cr_assert_str_eq(buf, "abcdefgh");
    aio_ring_destroy(r);
    close(sv[0]);
    close(sv[1]);
}

/* Many sockets waited on in turn through a small ring while every look at
 * readiness finds something: each wait must stay correct (and, on the
 * readiness backends, registrations kept from earlier waits must not pile up
 * beyond what the ring can track). */
Test(readiness, many_sockets_through_small_ring)
{
    enum { PAIRS = 64 };
    int a[PAIRS], b[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        int sv[2];
        make_socketpair(SOCK_STREAM, sv);
        a[i] = sv[0];
        b[i] = sv[1];
    }
    struct aio_ring *r = ring_of(4);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < PAIRS; i++) {
            char in = 0, out = (char)(round * PAIRS + i);
            size_t n = 0;
            /* round 0: nothing there yet, the RECV waits; later rounds: the
             * byte is there before the RECV starts */
            if (round > 0) cr_assert_eq(write(b[i], &out, 1), 1);
            cr_assert_eq(aio_ring_queue(r, &AIO_RECV(.socket = a[i], .buf = &in, .len = 1, .out_read = &n), 1), 0);
            if (round == 0) {
                cr_assert_eq(aio_ring_complete(r, AIO_NOWAIT, NULL), 0); /* started: it waits */
                cr_assert_eq(n, 0);
                cr_assert_eq(write(b[i], &out, 1), 1);
            }
            cr_assert_eq(aio_ring_complete_all(r), 0);
            cr_assert_eq(n, 1, "round %d socket %d", round, i);
            cr_assert_eq(in, out, "round %d socket %d", round, i);
        }
    }
    aio_ring_destroy(r);
    for (int i = 0; i < PAIRS; i++) {
        close(a[i]);
        close(b[i]);
    }
}
