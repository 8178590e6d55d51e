/*
 * Network kinds on real sockets: TCP over 127.0.0.1 and ::1, UDP, Unix stream
 * sockets and socketpairs. Every op's bytes and out_* values are checked.
 */
#include "helpers.h"

#include <netinet/tcp.h>
#include <poll.h>

TestSuite(net, .timeout = 20);

/* SOCKET -> BIND -> LISTEN through caio, then ACCEPT (with the peer address)
 * and CONNECT in one batch, then bytes both ways. `addr` is the loopback
 * address with port 0; `cli_addr` receives the accepted peer's address. */
static void tcp_roundtrip(int domain, struct sockaddr *addr, socklen_t addrlen)
{
    int srv = -7, cli = -7, e1 = 1, e2 = 1;
    cr_assert_eq(aio_single(AIO_SOCKET(.domain = domain, .type = SOCK_STREAM | SOCK_CLOEXEC, .out_socket = &srv,
                                       .out_error = &e1)), 0);
    cr_assert_eq(e1, 0);
    cr_assert_geq(srv, 0);
    cr_assert_eq(AIO_MULTI(AIO_BIND(.socket = srv, .addr = addr, .addrlen = addrlen, .link = AIO_LINK_SOFT),
                           AIO_LISTEN(.socket = srv, .backlog = 8, .out_error = &e2)), 0);
    cr_assert_eq(e2, 0);
    int acc;
    socklen_t acclen = sizeof acc;
    cr_assert_eq(getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &acc, &acclen), 0);
    cr_assert_eq(acc, 1, "LISTEN did not make the socket listen");
    uint16_t port = local_port(srv);
    cr_assert_neq(port, 0);

    struct sockaddr_storage dst;
    memcpy(&dst, addr, addrlen);
    if (domain == AF_INET) ((struct sockaddr_in *)&dst)->sin_port = htons(port);
    else ((struct sockaddr_in6 *)&dst)->sin6_port = htons(port);

    cr_assert_eq(aio_single(AIO_SOCKET(.domain = domain, .type = SOCK_STREAM | SOCK_CLOEXEC, .out_socket = &cli)), 0);
    cr_assert_geq(cli, 0);

    struct sockaddr_storage peer;
    memset(&peer, 0xee, sizeof peer);
    socklen_t peerlen = sizeof peer;
    int conn = -7, ea = 1, ec = 1;
    cr_assert_eq(AIO_MULTI(AIO_ACCEPT(.socket = srv, .addr = (struct sockaddr *)&peer, .addrlen = &peerlen,
                                      .flags = SOCK_CLOEXEC, .out_socket = &conn, .out_error = &ea),
                           AIO_CONNECT(.socket = cli, .addr = (struct sockaddr *)&dst, .addrlen = addrlen,
                                       .out_error = &ec)), 0);
    cr_assert_eq(ea, 0);
    cr_assert_eq(ec, 0);
    cr_assert_geq(conn, 0);
    cr_assert_eq(peer.ss_family, domain);
    cr_assert_eq(peerlen, addrlen);
    cr_assert_eq(ntohs(domain == AF_INET ? ((struct sockaddr_in *)&peer)->sin_port
                                         : ((struct sockaddr_in6 *)&peer)->sin6_port),
                 local_port(cli), "ACCEPT's address is not the client's");
    if (domain == AF_INET)
        cr_assert_eq(((struct sockaddr_in *)&peer)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    else
        cr_assert(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&peer)->sin6_addr));
    cr_assert_eq(fcntl(conn, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "ACCEPT ignored its flags");

    /* client -> server and back, checking bytes */
    char buf[64];
    size_t sent = 0, got = 0;
    cr_assert_eq(aio_single(AIO_SEND(.socket = cli, .buf = "hello, server", .len = 13, .out_written = &sent)), 0);
    cr_assert_eq(sent, 13);
    cr_assert_eq(aio_single(AIO_RECV(.socket = conn, .buf = buf, .len = sizeof buf, .out_read = &got)), 0);
    cr_assert_eq(got, 13);
    cr_assert_arr_eq(buf, "hello, server", 13);
    cr_assert_eq(AIO_MULTI(AIO_SEND(.socket = conn, .buf = "pong", .len = 4, .out_written = &sent),
                           AIO_RECV(.socket = cli, .buf = buf, .len = sizeof buf, .out_read = &got)), 0);
    cr_assert_eq(sent, 4);
    cr_assert_eq(got, 4);
    cr_assert_arr_eq(buf, "pong", 4);

    /* SHUTDOWN(SHUT_WR): the peer reads end of stream, the other way still works */
    cr_assert_eq(aio_single(AIO_SHUTDOWN(.socket = cli, .how = SHUT_WR)), 0);
    got = 99;
    cr_assert_eq(aio_single(AIO_RECV(.socket = conn, .buf = buf, .len = sizeof buf, .out_read = &got)), 0);
    cr_assert_eq(got, 0, "no end of stream after SHUTDOWN");
    cr_assert_eq(AIO_MULTI(AIO_SEND(.socket = conn, .buf = "still", .len = 5),
                           AIO_RECV(.socket = cli, .buf = buf, .len = sizeof buf, .out_read = &got)), 0);
    cr_assert_eq(got, 5);
    cr_assert_arr_eq(buf, "still", 5);

    cr_assert_eq(AIO_MULTI(AIO_CLOSE(.fd = conn), AIO_CLOSE(.fd = cli), AIO_CLOSE(.fd = srv)), 0);
    cr_assert_not(fd_open(conn));
    cr_assert_not(fd_open(cli));
    cr_assert_not(fd_open(srv));
}

Test(net, tcp_ipv4)
{
    struct sockaddr_in a = loopback4(0);
    tcp_roundtrip(AF_INET, (struct sockaddr *)&a, sizeof a);
}

Test(net, tcp_ipv6)
{
    struct sockaddr_in6 a = loopback6(0);
    tcp_roundtrip(AF_INET6, (struct sockaddr *)&a, sizeof a);
}

/* A large SEND arrives whole (possibly over several RECVs). */
Test(net, tcp_bulk_bytes)
{
    uint16_t port;
    int lst = tcp_listener4(&port);
    struct sockaddr_in dst = loopback4(port);
    int cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), conn = -1;
    cr_assert_eq(AIO_MULTI(AIO_ACCEPT(.socket = lst, .out_socket = &conn),
                           AIO_CONNECT(.socket = cli, .addr = (struct sockaddr *)&dst, .addrlen = sizeof dst)), 0);
    enum { N = 1 << 20 };
    unsigned char *out = malloc(N), *in = malloc(N);
    for (size_t i = 0; i < N; i++) out[i] = (unsigned char)(i * 131 + 7);
    size_t sent_total = 0, got_total = 0;
    while (got_total < N) {
        size_t sent = 0, got = 0;
        struct aio_op ops[2];
        size_t n = 0;
        if (sent_total < N)
            ops[n++] = AIO_SEND(.socket = cli, .buf = out + sent_total, .len = N - sent_total, .out_written = &sent);
        ops[n++] = AIO_RECV(.socket = conn, .buf = in + got_total, .len = N - got_total, .out_read = &got);
        cr_assert_eq(aio_multi(ops, n), 0);
        cr_assert_gt(got, 0);
        sent_total += sent;
        got_total += got;
    }
    cr_assert_eq(sent_total, N);
    cr_assert_eq(memcmp(in, out, N), 0, "bytes changed in transit");
    free(in);
    free(out);
    close(conn);
    close(cli);
    close(lst);
}

Test(net, connect_refused)
{
    struct sockaddr_in dst = loopback4(closed_port4());
    int cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e = 0;
    cr_assert_eq(aio_single(AIO_CONNECT(.socket = cli, .addr = (struct sockaddr *)&dst, .addrlen = sizeof dst,
                                        .out_error = &e)), -ECONNREFUSED);
    cr_assert_eq(e, -ECONNREFUSED);
    close(cli);
}

/* SEND to a closed peer: -EPIPE and no SIGPIPE (the process would die). */
Test(net, send_to_closed_peer_is_epipe)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    close(sv[1]);
    size_t w = 77;
    cr_assert_eq(aio_single(AIO_SEND(.socket = sv[0], .buf = "x", .len = 1, .out_written = &w)), -EPIPE);
    cr_assert_eq(w, 0, "out_written not 0 on failure");
    struct msghdr m = { 0 };
    struct iovec v = { "y", 1 };
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    cr_assert_eq(aio_single(AIO_SENDMSG(.socket = sv[0], .msg = &m)), -EPIPE);
    close(sv[0]);
}

/* UDP: SENDMSG with a destination and several iovecs, RECVMSG scattering
 * into several iovecs and reporting the sender; then SEND/RECV connected. */
Test(net, udp_msg_and_connected)
{
    int a = -1, b = -1;
    cr_assert_eq(AIO_MULTI(AIO_SOCKET(.domain = AF_INET, .type = SOCK_DGRAM | SOCK_CLOEXEC, .out_socket = &a),
                           AIO_SOCKET(.domain = AF_INET, .type = SOCK_DGRAM | SOCK_CLOEXEC, .out_socket = &b)), 0);
    cr_assert_geq(a, 0);
    cr_assert_geq(b, 0);
    cr_assert_neq(a, b);
    struct sockaddr_in any = loopback4(0);
    cr_assert_eq(AIO_MULTI(AIO_BIND(.socket = a, .addr = (struct sockaddr *)&any, .addrlen = sizeof any),
                           AIO_BIND(.socket = b, .addr = (struct sockaddr *)&any, .addrlen = sizeof any)), 0);
    struct sockaddr_in to_b = loopback4(local_port(b));

    struct iovec out[3] = { { "abc", 3 }, { "", 0 }, { "defgh", 5 } };
    struct msghdr sm = { .msg_name = &to_b, .msg_namelen = sizeof to_b, .msg_iov = out, .msg_iovlen = 3 };
    char p1[2], p2[10];
    struct iovec in[2] = { { p1, sizeof p1 }, { p2, sizeof p2 } };
    struct sockaddr_in from;
    memset(&from, 0, sizeof from);
    struct msghdr rm = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = in, .msg_iovlen = 2 };
    size_t sent = 0, got = 0;
    cr_assert_eq(AIO_MULTI(AIO_RECVMSG(.socket = b, .msg = &rm, .out_read = &got),
                           AIO_SENDMSG(.socket = a, .msg = &sm, .out_written = &sent)), 0);
    cr_assert_eq(sent, 8);
    cr_assert_eq(got, 8);
    cr_assert_arr_eq(p1, "ab", 2);
    cr_assert_arr_eq(p2, "cdefgh", 6);
    cr_assert_eq(rm.msg_namelen, sizeof from);
    cr_assert_eq(from.sin_family, AF_INET);
    cr_assert_eq(ntohs(from.sin_port), local_port(a), "RECVMSG's sender is not the sender");
    cr_assert_eq(rm.msg_flags & MSG_TRUNC, 0);

    /* a datagram larger than the buffer is truncated, as recv(2) does */
    struct sockaddr_in to_a = loopback4(local_port(a));
    cr_assert_eq(aio_single(AIO_CONNECT(.socket = b, .addr = (struct sockaddr *)&to_a, .addrlen = sizeof to_a)), 0);
    char small[4];
    cr_assert_eq(AIO_MULTI(AIO_SEND(.socket = b, .buf = "0123456789", .len = 10, .out_written = &sent),
                           AIO_RECV(.socket = a, .buf = small, .len = sizeof small, .out_read = &got)), 0);
    cr_assert_eq(sent, 10);
    cr_assert_eq(got, 4);
    cr_assert_arr_eq(small, "0123", 4);

    /* RECVMSG reports the truncation in msg_flags */
    struct iovec sv1 = { small, sizeof small };
    struct msghdr tm = { .msg_iov = &sv1, .msg_iovlen = 1 };
    cr_assert_eq(AIO_MULTI(AIO_SEND(.socket = b, .buf = "abcdefgh", .len = 8),
                           AIO_RECVMSG(.socket = a, .msg = &tm, .out_read = &got)), 0);
    cr_assert_eq(got, 4);
    cr_assert(tm.msg_flags & MSG_TRUNC, "msg_flags 0x%x lacks MSG_TRUNC", tm.msg_flags);
    close(a);
    close(b);
}

/* Unix stream sockets through a path: SOCKET, BIND, LISTEN, ACCEPT with the
 * address out, CONNECT, and bytes. */
Test(net, unix_stream_listener)
{
    char dir[64], path[128];
    tmpdir_make(dir);
    path_in(path, sizeof path, dir, "sock");
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);

    int srv = -1, cli = -1, conn = -1;
    cr_assert_eq(AIO_MULTI(AIO_SOCKET(.domain = AF_UNIX, .type = SOCK_STREAM | SOCK_CLOEXEC, .out_socket = &srv),
                           AIO_SOCKET(.domain = AF_UNIX, .type = SOCK_STREAM | SOCK_CLOEXEC, .out_socket = &cli)), 0);
    cr_assert_eq(AIO_MULTI(AIO_BIND(.socket = srv, .addr = (struct sockaddr *)&sun, .addrlen = sizeof sun,
                                    .link = AIO_LINK_SOFT),
                           AIO_LISTEN(.socket = srv)), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode), "BIND did not create the socket file");

    struct sockaddr_un peer;
    memset(&peer, 0x55, sizeof peer);
    socklen_t peerlen = sizeof peer;
    cr_assert_eq(AIO_MULTI(AIO_ACCEPT(.socket = srv, .addr = (struct sockaddr *)&peer, .addrlen = &peerlen,
                                      .flags = SOCK_NONBLOCK | SOCK_CLOEXEC, .out_socket = &conn),
                           AIO_CONNECT(.socket = cli, .addr = (struct sockaddr *)&sun, .addrlen = sizeof sun)), 0);
    cr_assert_geq(conn, 0);
    cr_assert(fcntl(conn, F_GETFL) & O_NONBLOCK, "ACCEPT ignored SOCK_NONBLOCK");
    cr_assert_eq(peer.sun_family, AF_UNIX);
    cr_assert_eq(peerlen, sizeof(sa_family_t), "an unbound client has an unnamed address");

    char buf[16];
    size_t got = 0;
    cr_assert_eq(AIO_MULTI(AIO_SEND(.socket = cli, .buf = "over unix", .len = 9, .link = AIO_LINK_SOFT),
                           AIO_RECV(.socket = conn, .buf = buf, .len = sizeof buf, .out_read = &got)), 0);
    cr_assert_eq(got, 9);
    cr_assert_arr_eq(buf, "over unix", 9);
    close(conn);
    close(cli);
    close(srv);
    tmpdir_remove(dir);
}

/* Socketpair: SENDMSG gathers, RECVMSG scatters, bytes in order. */
Test(net, socketpair_msg_iovecs)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct iovec out[3] = { { "one-", 4 }, { "two-", 4 }, { "three", 5 } };
    struct msghdr sm = { .msg_iov = out, .msg_iovlen = 3 };
    char a[5], b[5], c[8];
    memset(c, 0, sizeof c);
    struct iovec in[3] = { { a, 5 }, { b, 5 }, { c, 8 } };
    struct msghdr rm = { .msg_iov = in, .msg_iovlen = 3 };
    size_t sent = 0, got = 0;
    cr_assert_eq(AIO_MULTI(AIO_SENDMSG(.socket = sv[0], .msg = &sm, .out_written = &sent, .link = AIO_LINK_SOFT),
                           AIO_RECVMSG(.socket = sv[1], .msg = &rm, .out_read = &got)), 0);
    cr_assert_eq(sent, 13);
    cr_assert_eq(got, 13);
    cr_assert_arr_eq(a, "one-t", 5);
    cr_assert_arr_eq(b, "wo-th", 5);
    cr_assert_arr_eq(c, "ree", 3);
    close(sv[0]);
    close(sv[1]);
}

/* RECV with MSG_PEEK leaves the bytes; a RECV queued on an empty socket waits
 * for them. */
Test(net, recv_waits_for_data_and_flags_apply)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    char buf[8];
    size_t got = 99;
    cr_assert_eq(aio_ring_queue(ring, &AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .out_read = &got,
                                                .userdata = 1), 1), 0);
    cr_assert_eq(ring_settle(ring, MS(30)), 0, "RECV completed with no data sent");
    cr_assert_eq(got, 99, "out_read written before completion");
    cr_assert_eq(write(sv[1], "late", 4), 4);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.e[0].result, 0);
    cr_assert_eq(got, 4);
    cr_assert_arr_eq(buf, "late", 4);

    cr_assert_eq(write(sv[1], "peek", 4), 4);
    cr_assert_eq(aio_single(AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .flags = MSG_PEEK,
                                     .out_read = &got)), 0);
    cr_assert_eq(got, 4);
    cr_assert(readable_now(sv[0]), "MSG_PEEK consumed the bytes");
    aio_ring_destroy(ring);
    close(sv[0]);
    close(sv[1]);
}

/* SHUTDOWN(SHUT_WR) on one end of a socketpair: the peer's pending RECV sees
 * end of stream; bad `how` values are refused elsewhere (test_invalid). */
Test(net, shutdown_then_peer_sees_eof)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    char buf[8];
    size_t got = 99;
    int er = 1, es = 1;
    /* the RECV is in flight before the SHUTDOWN runs */
    cr_assert_eq(AIO_MULTI(AIO_RECV(.socket = sv[1], .buf = buf, .len = sizeof buf, .out_read = &got, .out_error = &er),
                           AIO_SHUTDOWN(.socket = sv[0], .how = SHUT_WR, .out_error = &es)), 0);
    cr_assert_eq(es, 0);
    cr_assert_eq(er, 0);
    cr_assert_eq(got, 0);
    /* SHUT_RDWR on a connected socket works too, and shutting an unconnected
     * TCP socket is -ENOTCONN */
    cr_assert_eq(aio_single(AIO_SHUTDOWN(.socket = sv[1], .how = SHUT_RDWR)), 0);
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(aio_single(AIO_SHUTDOWN(.socket = t, .how = SHUT_RD)), -ENOTCONN);
    close(t);
    close(sv[0]);
    close(sv[1]);
}

/* POLL: POLLOUT is ready at once; POLLIN waits for data and reports it in
 * out_events; a closed peer shows as POLLHUP. */
Test(net, poll_out_events)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    int ev = 0;
    cr_assert_eq(aio_single(AIO_POLL(.fd = sv[0], .events = POLLOUT, .out_events = &ev)), 0);
    cr_assert(ev & POLLOUT);
    cr_assert_eq(ev & POLLIN, 0, "POLLIN reported on an empty socket");

    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(4, &rec);
    ev = -1;
    cr_assert_eq(aio_ring_queue(ring, &AIO_POLL(.fd = sv[0], .events = POLLIN, .out_events = &ev, .userdata = 5), 1), 0);
    cr_assert_eq(ring_settle(ring, MS(30)), 0, "POLLIN ready with nothing to read");
    cr_assert_eq(ev, -1);
    cr_assert_eq(write(sv[1], "!", 1), 1);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.e[0].result, 0);
    cr_assert(ev & POLLIN, "out_events 0x%x lacks POLLIN", ev);
    cr_assert(readable_now(sv[0]), "POLL consumed the data");

    char c;
    cr_assert_eq(read(sv[0], &c, 1), 1);
    cr_assert_eq(aio_ring_queue(ring, &AIO_POLL(.fd = sv[0], .events = POLLIN, .out_events = &ev, .userdata = 6), 1), 0);
    close(sv[1]);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert(ev & POLLHUP, "out_events 0x%x lacks POLLHUP after the peer closed", ev);
    aio_ring_destroy(ring);
    close(sv[0]);

    /* a bad descriptor: the error, and out_events 0 */
    ev = 77;
    cr_assert_eq(aio_single(AIO_POLL(.fd = sv[0], .events = POLLIN, .out_events = &ev)), -EBADF);
    cr_assert_eq(ev, 0);
}

/* SEND linked SOFT to a RECV on the other end: a ping in one batch. */
Test(net, linked_send_recv_pingpong)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    char buf[8];
    for (int i = 0; i < 100; i++) {
        char msg[8];
        int len = snprintf(msg, sizeof msg, "m%d", i);
        size_t got = 0;
        cr_assert_eq(AIO_MULTI(AIO_SEND(.socket = sv[0], .buf = msg, .len = (size_t)len, .link = AIO_LINK_SOFT),
                               AIO_RECV(.socket = sv[1], .buf = buf, .len = sizeof buf, .out_read = &got,
                                        .link = AIO_LINK_SOFT),
                               AIO_SEND(.socket = sv[1], .buf = buf, .len = (size_t)len, .link = AIO_LINK_SOFT),
                               AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .out_read = &got)), 0);
        cr_assert_eq(got, (size_t)len);
        cr_assert_arr_eq(buf, msg, (size_t)len);
    }
    close(sv[0]);
    close(sv[1]);
}

/* Descriptors in O_NONBLOCK mode (sockets accepted with SOCK_NONBLOCK, pipes)
 * still make RECV and READ wait for data, never -EAGAIN. */
Test(net, nonblocking_descriptors_still_wait)
{
    int sv[2], p[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(4, &rec);
    char b1[4], b2[4];
    size_t g1 = 0, g2 = 0;
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_RECV(.socket = sv[0], .buf = b1, .len = sizeof b1, .out_read = &g1, .userdata = 1),
        AIO_READ(.fd = p[0], .buf = b2, .len = sizeof b2, .offset = AIO_OFFSET_CURRENT, .out_read = &g2, .userdata = 2),
    }, 2), 0);
    cr_assert_eq(ring_settle(ring, MS(30)), 0, "an op on an empty non-blocking descriptor completed");
    cr_assert_eq(write(sv[1], "s", 1), 1);
    cr_assert_eq(write(p[1], "p", 1), 1);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec_find(&rec, 1)->result, 0);
    cr_assert_eq(rec_find(&rec, 2)->result, 0);
    cr_assert_eq(g1, 1);
    cr_assert_eq(g2, 1);
    cr_assert_eq(b1[0], 's');
    cr_assert_eq(b2[0], 'p');
    aio_ring_destroy(ring);
    close(sv[0]);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
}
