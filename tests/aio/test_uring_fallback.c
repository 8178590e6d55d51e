/*
 * The io_uring backend's synchronous fallback: kinds whose opcode the kernel
 * lacks (BIND/LISTEN before 6.11, ...) run in the library, and the chain is
 * cut around them. AIO_URING_HIDE_OPS makes the backend treat opcodes as
 * missing, so the fallback runs on a kernel that has them all.
 *
 * This binary runs on io_uring only, with AIO_URING_HIDE_OPS set by ctest
 * (tests/aio/uring_fallback.cmake); it is linked with the generic kind, link,
 * timeout and cancel tests, which must all pass across the fallback too.
 */
#include "helpers.h"

#include <poll.h>

static char dir[64];
static void fb_setup(void) { tmpdir_make(dir); }
static void fb_teardown(void) { tmpdir_remove(dir); }

TestSuite(uring_fallback, .init = fb_setup, .fini = fb_teardown, .timeout = 20);

/* Guards against running this binary without its environment, where every
 * test here would pass without exercising the fallback. */
Test(uring_fallback, environment_is_set)
{
    const char *hide = getenv("AIO_URING_HIDE_OPS");
    cr_assert_not_null(hide, "run through ctest: AIO_URING_HIDE_OPS is not set");
    cr_assert_not_null(strstr(hide, "bind"));
    cr_assert_not_null(strstr(hide, "listen"));
    struct aio_ring *ring = ring_new(4, NULL);
    cr_assert_eq(aio_ring_backend(ring), AIO_BACKEND_IO_URING);
    aio_ring_destroy(ring);
}

/* SOCKET, then BIND -> LISTEN chained (both run here), then ACCEPT with
 * CONNECT (in the kernel), SEND/RECV, SHUTDOWN (here) and end of stream. */
Test(uring_fallback, network_chain)
{
    int srv = -1, cli = -1, conn = -1;
    cr_assert_eq(AIO_MULTI(AIO_SOCKET(.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC, .out_socket = &srv),
                           AIO_SOCKET(.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC, .out_socket = &cli)), 0);
    cr_assert_geq(srv, 0);
    cr_assert_geq(cli, 0);
    struct sockaddr_in a = loopback4(0);
    int e[4] = { 1, 1, 1, 1 };
    /* kernel NOP -> BIND here -> LISTEN here -> kernel NOP: cut twice */
    cr_assert_eq(AIO_MULTI(AIO_NOP(.link = AIO_LINK_SOFT, .out_error = &e[0]),
                           AIO_BIND(.socket = srv, .addr = (struct sockaddr *)&a, .addrlen = sizeof a,
                                    .link = AIO_LINK_SOFT, .out_error = &e[1]),
                           AIO_LISTEN(.socket = srv, .link = AIO_LINK_SOFT, .out_error = &e[2]),
                           AIO_NOP(.out_error = &e[3])), 0);
    for (int i = 0; i < 4; i++) cr_assert_eq(e[i], 0);
    struct sockaddr_in dst = loopback4(local_port(srv));
    struct sockaddr_in peer;
    socklen_t peerlen = sizeof peer;
    cr_assert_eq(AIO_MULTI(AIO_ACCEPT(.socket = srv, .addr = (struct sockaddr *)&peer, .addrlen = &peerlen,
                                      .out_socket = &conn),
                           AIO_CONNECT(.socket = cli, .addr = (struct sockaddr *)&dst, .addrlen = sizeof dst,
                                       .link = AIO_LINK_SOFT),
                           AIO_SEND(.socket = cli, .buf = "across", .len = 6, .link = AIO_LINK_SOFT),
                           AIO_SHUTDOWN(.socket = cli, .how = SHUT_WR)), 0);
    cr_assert_geq(conn, 0);
    cr_assert_eq(ntohs(peer.sin_port), local_port(cli));
    char buf[16];
    size_t got = 0, eof = 99;
    cr_assert_eq(AIO_MULTI(AIO_RECV(.socket = conn, .buf = buf, .len = 6, .out_read = &got, .link = AIO_LINK_SOFT),
                           AIO_RECV(.socket = conn, .buf = buf + 6, .len = 6, .out_read = &eof)), 0);
    cr_assert_eq(got, 6);
    cr_assert_arr_eq(buf, "across", 6);
    cr_assert_eq(eof, 0);
    cr_assert_eq(AIO_MULTI(AIO_CLOSE(.fd = conn), AIO_CLOSE(.fd = cli), AIO_CLOSE(.fd = srv)), 0);
    cr_assert_not(fd_open(srv));
}

/* A failure here (BIND to a port in use) cancels the rest of the chain, in
 * the kernel and here alike, and none of it runs. */
Test(uring_fallback, soft_failure_across_the_cut)
{
    uint16_t port;
    int taken = tcp_listener4(&port);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback4(port);
    char d[128], d2[128];
    path_in(d, sizeof d, dir, "never");
    path_in(d2, sizeof d2, dir, "never2");
    int e[5] = { 1, 1, 1, 1, 1 };
    cr_assert_eq(AIO_MULTI(AIO_NOP(.link = AIO_LINK_SOFT, .out_error = &e[0]),
                           AIO_BIND(.socket = s, .addr = (struct sockaddr *)&a, .addrlen = sizeof a,
                                    .link = AIO_LINK_SOFT, .out_error = &e[1]),
                           AIO_LISTEN(.socket = s, .link = AIO_LINK_SOFT, .out_error = &e[2]),
                           AIO_TIMEOUT(.ns = MS(1), .link = AIO_LINK_SOFT, .out_error = &e[3]),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &e[4])), -EADDRINUSE);
    cr_assert_eq(e[0], 0);
    cr_assert_eq(e[1], -EADDRINUSE);
    cr_assert_eq(e[2], -ECANCELED);
    cr_assert_eq(e[3], -ECANCELED);
    cr_assert_eq(e[4], -ECANCELED);
    cr_assert_not(path_exists(d));
    int acc = 1;
    socklen_t al = sizeof acc;
    cr_assert_eq(getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al), 0);
    cr_assert_eq(acc, 0, "the cancelled LISTEN ran");

    /* a kernel op failing before an op that runs here: the latter never runs */
    char b[4];
    cr_assert_eq(AIO_MULTI(AIO_READ(.fd = -1, .buf = b, .len = 4, .link = AIO_LINK_SOFT, .out_error = &e[0]),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .link = AIO_LINK_SOFT, .out_error = &e[1]),
                           AIO_NOP(.out_error = &e[2])), -EBADF);
    cr_assert_eq(e[1], -ECANCELED);
    cr_assert_eq(e[2], -ECANCELED);
    cr_assert_not(path_exists(d));

    /* a short READ in the kernel before an op that runs here */
    char f[128];
    file_put(path_in(f, sizeof f, dir, "short"), "ab", 2);
    int fd = open(f, O_RDONLY | O_CLOEXEC);
    cr_assert_eq(AIO_MULTI(AIO_READ(.fd = fd, .buf = b, .len = 4, .offset = 0, .link = AIO_LINK_SOFT),
                           AIO_MKDIRAT(.path = d2, .mode = 0700, .out_error = &e[1])), -ECANCELED);
    cr_assert_not(path_exists(d2));
    close(fd);
    close(s);
    close(taken);
}

/* HARD links go on across the cut in both directions. */
Test(uring_fallback, hard_link_across_the_cut)
{
    uint16_t port;
    int taken = tcp_listener4(&port);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in used = loopback4(port), any = loopback4(0);
    char d[128];
    path_in(d, sizeof d, dir, "made");
    int e[5] = { 1, 1, 1, 1, 1 };
    cr_assert_eq(AIO_MULTI(AIO_READ(.fd = -1, .buf = &e, .len = 1, .link = AIO_LINK_HARD, .out_error = &e[0]),
                           AIO_BIND(.socket = s, .addr = (struct sockaddr *)&used, .addrlen = sizeof used,
                                    .link = AIO_LINK_HARD, .out_error = &e[1]),
                           AIO_BIND(.socket = s, .addr = (struct sockaddr *)&any, .addrlen = sizeof any,
                                    .link = AIO_LINK_SOFT, .out_error = &e[2]),
                           AIO_TIMEOUT(.ns = MS(1), .link = AIO_LINK_HARD, .out_error = &e[3]),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &e[4])), -EBADF);
    cr_assert_eq(e[0], -EBADF);
    cr_assert_eq(e[1], -EADDRINUSE);
    cr_assert_eq(e[2], 0, "the op after a HARD link did not run");
    cr_assert_eq(e[3], 0);
    cr_assert_eq(e[4], 0);
    cr_assert(path_exists(d));
    cr_assert_neq(local_port(s), 0, "the second BIND did not run");
    close(s);
    close(taken);
}

/* An op that runs here and its LINK_TIMEOUT: in time, so 0 for the timeout,
 * and the chain continues after it. */
Test(uring_fallback, link_timeout_after_a_synchronous_op)
{
    char d[128];
    path_in(d, sizeof d, dir, "lt");
    int e[3] = { 1, 1, 1 };
    int s = -1;
    cr_assert_eq(AIO_MULTI(AIO_MKDIRAT(.path = d, .mode = 0700, .link = AIO_LINK_SOFT, .out_error = &e[0]),
                           AIO_LINK_TIMEOUT(.ns = MS(2000), .link = AIO_LINK_SOFT, .out_error = &e[1]),
                           AIO_SOCKET(.domain = AF_INET, .type = SOCK_DGRAM | SOCK_CLOEXEC, .out_socket = &s,
                                      .out_error = &e[2])), 0);
    cr_assert_eq(e[0], 0);
    cr_assert_eq(e[1], 0);
    cr_assert_eq(e[2], 0);
    cr_assert_geq(s, 0);
    close(s);
    /* failing here, in time: its own error, 0 for the LINK_TIMEOUT, rest cancelled */
    cr_assert_eq(AIO_MULTI(AIO_MKDIRAT(.path = d, .mode = 0700, .link = AIO_LINK_SOFT, .out_error = &e[0]),
                           AIO_LINK_TIMEOUT(.ns = MS(2000), .link = AIO_LINK_SOFT, .out_error = &e[1]),
                           AIO_NOP(.out_error = &e[2])), -EEXIST);
    cr_assert_eq(e[0], -EEXIST);
    cr_assert_eq(e[1], 0);
    cr_assert_eq(e[2], -ECANCELED);
}

/* CLOSE run here still cancels this ring's ops on the fd first. */
Test(uring_fallback, close_here_cancels_ops_in_flight)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    char b[4];
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_RECV(.socket = sv[0], .buf = b, .len = sizeof b, .userdata = 1),
        AIO_POLL(.fd = sv[0], .events = POLLIN, .userdata = 2),
    }, 2), 0);
    cr_assert_eq(ring_settle(ring, MS(10)), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_CLOSE(.fd = sv[0], .userdata = 3), 1), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 2);
    cr_assert_eq(rec_find(&rec, 1)->result, -ECANCELED);
    cr_assert_eq(rec_find(&rec, 2)->result, -ECANCELED);
    cr_assert_eq(rec_find(&rec, 3)->result, 0);
    cr_assert_not(fd_open(sv[0]));
    aio_ring_destroy(ring);
    close(sv[1]);
}

/* Hiding a kind that cannot run without blocking (RECV) makes io_uring
 * unusable: asking for it explicitly fails with -ENOTSUP. */
Test(uring_fallback, hiding_a_blocking_kind_refuses_io_uring)
{
    const char *blocking[] = { "recv", "read", "poll", "timeout", "accept", "connect", "link_timeout", "cancel" };
    for (size_t i = 0; i < sizeof blocking / sizeof blocking[0]; i++) {
        cr_assert_eq(setenv("AIO_URING_HIDE_OPS", blocking[i], 1), 0);
        struct aio_ring *ring = (struct aio_ring *)(uintptr_t)1;
        int rc = aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8, .backend = AIO_BACKEND_IO_URING });
        cr_assert_eq(rc, -ENOTSUP, "hiding %s: %s", blocking[i], aio_strerror(rc));
        cr_assert_null(ring);
    }
    /* a list that names it among others, too */
    cr_assert_eq(setenv("AIO_URING_HIDE_OPS", "bind,recv,listen", 1), 0);
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8, .backend = AIO_BACKEND_IO_URING }),
                 -ENOTSUP);
    /* while hiding only kinds that can run here is fine */
    cr_assert_eq(setenv("AIO_URING_HIDE_OPS", "bind,listen,socket", 1), 0);
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8, .backend = AIO_BACKEND_IO_URING }), 0);
    aio_ring_destroy(ring);
}
