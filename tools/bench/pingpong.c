/*
 * bench_pingpong: one TCP loopback connection, 500,000 round trips of a 4-byte
 * PING answered by a 4-byte PONG, the client queueing a linked send->recv
 * batch per round trip (the server a linked send->recv per answer). Four
 * implementations, each with its own connection, in the same run:
 *
 *   caio_uring  caio on AIO_BACKEND_IO_URING
 *   liburing    the same SQEs written by hand on liburing
 *   caio_epoll  caio on AIO_BACKEND_EPOLL
 *   epoll       a hand-written level-triggered epoll loop (both sockets
 *               registered once for EPOLLIN; send, epoll_wait, recv)
 *
 * Both ends of a connection are driven by the same thread and loop, so a
 * round trip costs what the library and the kernel's TCP path cost, with no
 * thread wake-ups in it. The 500,000 round trips of each are run in slices
 * that alternate between the implementations, so that noise from the shared
 * machine hits all alike; rates are medians over the slices.
 *
 * Syscalls per round trip are counted afterwards, outside the timed runs, by
 * running this binary under `strace -f -c` twice per implementation (N and 2N
 * round trips, hidden `--count IMPL N` mode) and dividing the difference of the
 * totals by N, so set-up calls cancel out. Without strace they print as -1.
 *
 * Output: RESULT pingpong_<impl> <round trips/s>, RESULT syscalls_<impl>
 * <calls per round trip>, RATIO pingpong_uring (caio_uring / liburing) and
 * RATIO pingpong_epoll (caio_epoll / epoll).
 */
#include <aio/aio.h>
#include <liburing.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define TOTAL 500000u
#define SLICES 20u
#define COUNT_N 2000u

enum impl { CAIO_URING, LIBURING, CAIO_EPOLL, EPOLL, IMPLS };
static const char *const impl_name[IMPLS] = { "caio_uring", "liburing", "caio_epoll", "epoll" };

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_pingpong: %s: %s\n", what, strerror(err < 0 ? -err : err));
    exit(1);
}

/* A connected TCP loopback pair, Nagle off on both ends. */
static void tcp_pair(int *client, int *server)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &al))
        die("listener", errno);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) die("connect", errno);
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (s < 0) die("accept", errno);
    close(l);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *client = c;
    *server = s;
}

/* ---- caio --------------------------------------------------------------- */

struct caio_pp {
    struct aio_ring *ring;
    int c, s;
    char cbuf[4], sbuf[4];
    size_t cn, sn;
    unsigned done, target;
};

static void client_queue(struct caio_pp *p);
static void server_queue(struct caio_pp *p, bool answer);

static void client_cb(void *ctx, size_t index, int result)
{
    struct caio_pp *p = ctx;
    if (result < 0) die("caio client", result);
    if (index != 1) return;
    if (p->cn != 4 || memcmp(p->cbuf, "PONG", 4)) die("caio client: short or wrong answer", EPROTO);
    if (++p->done < p->target) client_queue(p);
}

static void server_cb(void *ctx, size_t index, int result)
{
    struct caio_pp *p = ctx;
    if (result < 0) die("caio server", result);
    if (index != 1) return; /* the send of an answer */
    if (p->sn != 4 || memcmp(p->sbuf, "PING", 4)) die("caio server: short or wrong request", EPROTO);
    server_queue(p, true);
}

static void server_first_cb(void *ctx, size_t index, int result)
{
    (void)index;
    server_cb(ctx, 1, result);
}

static void client_queue(struct caio_pp *p)
{
    struct aio_op ops[2] = {
        AIO_SEND(.socket = p->c, .buf = "PING", .len = 4, .link = AIO_LINK_SOFT),
        AIO_RECV(.socket = p->c, .buf = p->cbuf, .len = 4, .out_read = &p->cn),
    };
    int rc = aio_ring_queue_batch(p->ring, ops, 2, client_cb, p, NULL);
    if (rc) die("caio queue", rc);
}

/* answer: PONG then wait for the next PING; else only the wait */
static void server_queue(struct caio_pp *p, bool answer)
{
    struct aio_op ops[2] = {
        AIO_SEND(.socket = p->s, .buf = "PONG", .len = 4, .link = AIO_LINK_SOFT),
        AIO_RECV(.socket = p->s, .buf = p->sbuf, .len = 4, .out_read = &p->sn),
    };
    int rc = answer ? aio_ring_queue_batch(p->ring, ops, 2, server_cb, p, NULL)
                    : aio_ring_queue_batch(p->ring, &ops[1], 1, server_first_cb, p, NULL);
    if (rc) die("caio queue", rc);
}

static void caio_setup(struct caio_pp *p, enum aio_backend b)
{
    memset(p, 0, sizeof *p);
    int rc = aio_ring_create(&p->ring, &(struct aio_ring_options){ .entries = 64, .backend = b });
    if (rc) die("aio_ring_create", rc);
    tcp_pair(&p->c, &p->s);
    server_queue(p, false);
}

static void caio_run(struct caio_pp *p, unsigned n)
{
    p->done = 0;
    p->target = n;
    client_queue(p);
    while (p->done < n) {
        int rc = aio_ring_complete(p->ring, AIO_WAIT, NULL);
        if (rc && rc != -EINTR) die("aio_ring_complete", rc);
    }
}

/* ---- liburing by hand --------------------------------------------------- */

enum { UD_CSEND = 1, UD_CRECV, UD_SSEND, UD_SRECV };

struct uring_pp {
    struct io_uring ring;
    int c, s;
    char cbuf[4], sbuf[4];
};

static void uring_client(struct uring_pp *p)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);
    io_uring_prep_send(sqe, p->c, "PING", 4, MSG_NOSIGNAL);
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe_set_data64(sqe, UD_CSEND);
    sqe = io_uring_get_sqe(&p->ring);
    io_uring_prep_recv(sqe, p->c, p->cbuf, 4, 0);
    io_uring_sqe_set_data64(sqe, UD_CRECV);
}

static void uring_server(struct uring_pp *p, bool answer)
{
    struct io_uring_sqe *sqe;
    if (answer) {
        sqe = io_uring_get_sqe(&p->ring);
        io_uring_prep_send(sqe, p->s, "PONG", 4, MSG_NOSIGNAL);
        sqe->flags |= IOSQE_IO_LINK;
        io_uring_sqe_set_data64(sqe, UD_SSEND);
    }
    sqe = io_uring_get_sqe(&p->ring);
    io_uring_prep_recv(sqe, p->s, p->sbuf, 4, 0);
    io_uring_sqe_set_data64(sqe, UD_SRECV);
}

static void uring_setup(struct uring_pp *p)
{
    /* the flags an expert would pick for a ring driven by one thread */
    static const unsigned flags[] = {
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0] && rc; i++) rc = io_uring_queue_init(64, &p->ring, flags[i]);
    if (rc) die("io_uring_queue_init", rc);
    tcp_pair(&p->c, &p->s);
    uring_server(p, false);
}

static void uring_run(struct uring_pp *p, unsigned n)
{
    unsigned done = 0;
    uring_client(p);
    while (done < n) {
        int rc = io_uring_submit_and_wait(&p->ring, 1);
        if (rc < 0 && rc != -EINTR) die("io_uring_submit_and_wait", rc);
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&p->ring, head, cqe) {
            seen++;
            if (cqe->res < 0) die("liburing op", cqe->res);
            switch (cqe->user_data) {
            case UD_CRECV:
                if (cqe->res != 4) die("liburing client: short answer", EPROTO);
                if (++done < n) uring_client(p);
                break;
            case UD_SRECV:
                if (cqe->res != 4) die("liburing server: short request", EPROTO);
                uring_server(p, true);
                break;
            default: break;
            }
        }
        io_uring_cq_advance(&p->ring, seen);
    }
}

/* ---- epoll by hand ------------------------------------------------------ */

struct epoll_pp {
    int ep, c, s;
};

static void epoll_setup(struct epoll_pp *p)
{
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    if (p->ep < 0) die("epoll_create1", errno);
    tcp_pair(&p->c, &p->s);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = p->c };
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->c, &ev)) die("epoll_ctl", errno);
    ev.data.fd = p->s;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->s, &ev)) die("epoll_ctl", errno);
}

static void epoll_run(struct epoll_pp *p, unsigned n)
{
    unsigned done = 0;
    char buf[4];
    if (send(p->c, "PING", 4, MSG_NOSIGNAL) != 4) die("send", errno);
    while (done < n) {
        struct epoll_event evs[4];
        int k = epoll_wait(p->ep, evs, 4, -1);
        if (k < 0 && errno != EINTR) die("epoll_wait", errno);
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            if (recv(fd, buf, 4, MSG_DONTWAIT) != 4) die("recv", errno);
            if (fd == p->s) {
                if (send(p->s, "PONG", 4, MSG_NOSIGNAL) != 4) die("send", errno);
            } else if (++done < n) {
                if (send(p->c, "PING", 4, MSG_NOSIGNAL) != 4) die("send", errno);
            }
        }
    }
}

/* ---- driver ------------------------------------------------------------- */

struct all {
    struct caio_pp caio_uring, caio_epoll;
    struct uring_pp uring;
    struct epoll_pp epoll;
};

static void setup(struct all *a, enum impl i)
{
    switch (i) {
    case CAIO_URING: caio_setup(&a->caio_uring, AIO_BACKEND_IO_URING); break;
    case LIBURING: uring_setup(&a->uring); break;
    case CAIO_EPOLL: caio_setup(&a->caio_epoll, AIO_BACKEND_EPOLL); break;
    default: epoll_setup(&a->epoll); break;
    }
}

static void run(struct all *a, enum impl i, unsigned n)
{
    switch (i) {
    case CAIO_URING: caio_run(&a->caio_uring, n); break;
    case LIBURING: uring_run(&a->uring, n); break;
    case CAIO_EPOLL: caio_run(&a->caio_epoll, n); break;
    default: epoll_run(&a->epoll, n); break;
    }
}

/* Total syscalls of `self --count IMPL n` under strace, or -1. */
static long strace_total(const char *self, enum impl i, unsigned n)
{
    char out[] = "/tmp/caio-pingpong-strace-XXXXXX";
    int fd = mkstemp(out);
    if (fd < 0) return -1;
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        char nbuf[16];
        snprintf(nbuf, sizeof nbuf, "%u", n);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) { dup2(devnull, 1); dup2(devnull, 2); }
        execlp("strace", "strace", "-f", "-c", "-o", out, self, "--count", impl_name[i], nbuf, (char *)NULL);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) { unlink(out); return -1; }
    FILE *f = fopen(out, "r");
    long total = -1;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        /* "100.00  0.1  1  CALLS  [ERRORS]  total" */
        if (!strstr(line, " total")) continue;
        double v[6];
        int k = sscanf(line, "%lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4]);
        if (k >= 4) total = (long)v[3];
    }
    if (f) fclose(f);
    unlink(out);
    return total;
}

int main(int argc, char **argv)
{
    static struct all a;
    if (argc == 4 && strcmp(argv[1], "--count") == 0) {
        for (int i = 0; i < IMPLS; i++) {
            if (strcmp(argv[2], impl_name[i]) != 0) continue;
            setup(&a, (enum impl)i);
            run(&a, (enum impl)i, (unsigned)strtoul(argv[3], NULL, 10));
            return 0;
        }
        return 2;
    }
    unsigned total = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : TOTAL;
    if (total < SLICES) total = SLICES;
    for (int i = 0; i < IMPLS; i++) setup(&a, (enum impl)i);
    for (int i = 0; i < IMPLS; i++) run(&a, (enum impl)i, 2000); /* warm up */

    double rate[IMPLS][SLICES];
    for (unsigned s = 0; s < SLICES; s++) {
        for (int k = 0; k < IMPLS; k++) {
            int i = (int)((k + s) % IMPLS); /* rotate who goes first */
            double t0 = bench_now();
            run(&a, (enum impl)i, total / SLICES);
            rate[i][s] = (total / SLICES) / (bench_now() - t0);
        }
    }
    double med[IMPLS];
    for (int i = 0; i < IMPLS; i++) {
        char name[64];
        med[i] = bench_median(rate[i], SLICES);
        snprintf(name, sizeof name, "pingpong_%s", impl_name[i]);
        bench_result(name, med[i], "roundtrips/s");
    }
    const char *self = "/proc/self/exe";
    char path[4096];
    ssize_t pl = readlink(self, path, sizeof path - 1);
    if (pl > 0) { path[pl] = 0; self = path; }
    for (int i = 0; i < IMPLS; i++) {
        long c1 = strace_total(self, (enum impl)i, COUNT_N), c2 = strace_total(self, (enum impl)i, 2 * COUNT_N);
        double per = c1 >= 0 && c2 >= 0 ? (double)(c2 - c1) / COUNT_N : -1;
        char name[64];
        snprintf(name, sizeof name, "syscalls_%s", impl_name[i]);
        bench_result(name, per, "syscalls/roundtrip");
    }
    bench_ratio("pingpong_uring", med[CAIO_URING] / med[LIBURING]);
    bench_ratio("pingpong_epoll", med[CAIO_EPOLL] / med[EPOLL]);
    return 0;
}
