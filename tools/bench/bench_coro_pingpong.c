/* bench_coro_pingpong: 4-byte ping-pong over one loopback TCP connection.
 * Ours: a client task sending and receiving as one linked batch
 * (coro_io_multi: SEND soft-linked to RECV) and a server task receiving then
 * sending, on one scheduler. Baseline: a hand-written liburing loop on one
 * ring doing the same linked batches. RATIO coro_pingpong_vs_uring = ours /
 * liburing (round trips per s). */
#include <coro/coro.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "coro_bench.h"

#define TRIPS 20000L /* per round and side */
#define ROUNDS 11

/* A connected loopback TCP pair: c[0] client side, c[1] server side. */
static void tcp_pair(int c[2])
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &len)) abort();
    c[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c[0], (struct sockaddr *)&a, sizeof a)) abort();
    c[1] = accept(l, NULL, NULL);
    if (c[1] < 0) abort();
    int one = 1;
    setsockopt(c[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    close(l);
}

static void *client(void *p)
{
    int s = *(int *)p;
    char buf[4];
    size_t n;
    for (long i = 0; i < TRIPS; i++) {
        if (CORO_IO_MULTI(AIO_SEND(.socket = s, .buf = "ping", .len = 4, .link = AIO_LINK_SOFT),
                          AIO_RECV(.socket = s, .buf = buf, .len = 4, .out_read = &n)) || n != 4) abort();
    }
    return NULL;
}

static void *server(void *p)
{
    int s = *(int *)p;
    char buf[4];
    size_t n;
    for (long i = 0; i < TRIPS; i++) {
        if (coro_io_single(AIO_RECV(.socket = s, .buf = buf, .len = 4, .out_read = &n)) || n != 4) abort();
        if (coro_io_single(AIO_SEND(.socket = s, .buf = "pong", .len = 4))) abort();
    }
    return NULL;
}

static double run_ours(void *unused)
{
    (void)unused;
    int c[2];
    tcp_pair(c);
    struct coro_scheduler *s;
    if (coro_scheduler_create(&s, &(struct coro_options){ .threads = 1, .backend = AIO_BACKEND_IO_URING })) abort();
    coro_spawn(s, server, &c[1], &(struct coro_spawn_options){ .detached = true }, NULL);
    coro_spawn(s, client, &c[0], &(struct coro_spawn_options){ .detached = true }, NULL);
    uint64_t t0 = bench_now_ns();
    if (coro_run(s)) abort();
    uint64_t el = bench_now_ns() - t0;
    coro_scheduler_destroy(s);
    close(c[0]);
    close(c[1]);
    return TRIPS / ((double)el / 1e9);
}

enum { U_CSEND = 1, U_CRECV, U_SRECV, U_SSEND };

static double run_uring(void *unused)
{
    (void)unused;
    int c[2];
    tcp_pair(c);
    struct io_uring ring;
    if (io_uring_queue_init(256, &ring, 0)) abort();
    char cbuf[4], sbuf[4];
    struct io_uring_sqe *sqe;
    long trips = 0;
    /* client: linked send -> recv; server: recv */
#define CLIENT_BATCH() do { \
        sqe = io_uring_get_sqe(&ring); io_uring_prep_send(sqe, c[0], "ping", 4, MSG_NOSIGNAL); \
        sqe->flags |= IOSQE_IO_LINK; io_uring_sqe_set_data64(sqe, U_CSEND); \
        sqe = io_uring_get_sqe(&ring); io_uring_prep_recv(sqe, c[0], cbuf, 4, 0); io_uring_sqe_set_data64(sqe, U_CRECV); \
    } while (0)
#define SERVER_RECV() do { \
        sqe = io_uring_get_sqe(&ring); io_uring_prep_recv(sqe, c[1], sbuf, 4, 0); io_uring_sqe_set_data64(sqe, U_SRECV); \
    } while (0)
    CLIENT_BATCH();
    SERVER_RECV();
    uint64_t t0 = bench_now_ns();
    while (trips < TRIPS) {
        io_uring_submit_and_wait(&ring, 1);
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            if (cqe->res < 0) abort();
            switch (cqe->user_data) {
            case U_SRECV: /* the server answers, then waits for the next ping */
                sqe = io_uring_get_sqe(&ring); io_uring_prep_send(sqe, c[1], "pong", 4, MSG_NOSIGNAL);
                io_uring_sqe_set_data64(sqe, U_SSEND);
                break;
            case U_SSEND:
                if (trips + 1 < TRIPS) SERVER_RECV();
                break;
            case U_CRECV:
                if (++trips < TRIPS) CLIENT_BATCH();
                break;
            default:
                break;
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
    uint64_t el = bench_now_ns() - t0;
    io_uring_queue_exit(&ring);
    close(c[0]);
    close(c[1]);
    return TRIPS / ((double)el / 1e9);
}

int main(void)
{
    double o[ROUNDS], b[ROUNDS];
    double ratio = bench_paired_rounds(ROUNDS, 1, run_ours, NULL, run_uring, NULL, o, b);
    printf("RESULT coro_pingpong %.0f round-trips/s\n", bench_median(o, ROUNDS));
    printf("RESULT uring_pingpong %.0f round-trips/s\n", bench_median(b, ROUNDS));
    bench_ratio("coro_pingpong_vs_uring", ratio);
    return 0;
}
