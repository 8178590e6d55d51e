/*
 * bench_echo: 100 TCP connections on loopback, one 64-byte message in flight
 * on each, every echo checked; 5 s measured after a short warm-up. The same
 * load generator runs, in the same process run, against caio's echo server
 * (examples/echo_server, a task per connection) with 1 and 2 scheduler
 * threads, and against an echo server written by hand on liburing.
 *
 * Each server runs in a child process; the load generator is one thread in
 * this process, batching linked send -> recv pairs on io_uring so that it is
 * not what limits the rate. CPU time is split between the two from getrusage and
 * /proc/<pid>/stat over the measured window.
 *
 * Output: RESULT echo_<server> msgs/s and CPU shares, then
 * RATIO echo_vs_uring = caio with 1 thread / hand-written liburing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define CONNS 100
#define MSG 64
#define WARMUP_S 0.5
#define MEASURE_S 5.0

/* ---- the hand-written liburing echo server ------------------------------ */

enum { UR_ACCEPT = 1, UR_RECV, UR_SEND };
struct ur_conn { int fd; char buf[4096]; };

static uint64_t ur_tag(struct ur_conn *c, int kind) { return (uint64_t)(uintptr_t)c | (uint64_t)kind; }

static void ur_recv(struct io_uring *r, struct ur_conn *c)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(r);
    io_uring_prep_recv(sqe, c->fd, c->buf, sizeof c->buf, 0);
    io_uring_sqe_set_data64(sqe, ur_tag(c, UR_RECV));
}

static _Noreturn void uring_server(int listener)
{
    struct io_uring r;
    if (io_uring_queue_init(1024, &r, 0)) _exit(1);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r);
    io_uring_prep_multishot_accept(sqe, listener, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, UR_ACCEPT);
    for (;;) {
        if (io_uring_submit_and_wait(&r, 1) < 0 && errno != EINTR) _exit(1);
        unsigned head, n = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&r, head, cqe) {
            n++;
            uint64_t ud = cqe->user_data;
            int kind = (int)(ud & 7);
            struct ur_conn *c = (struct ur_conn *)(uintptr_t)(ud & ~7ull);
            if (kind == UR_ACCEPT) {
                if (cqe->res < 0) continue;
                c = aligned_alloc(8, sizeof *c);
                c->fd = cqe->res;
                ur_recv(&r, c);
            } else if (kind == UR_RECV) {
                if (cqe->res <= 0) { close(c->fd); free(c); continue; }
                sqe = io_uring_get_sqe(&r);
                io_uring_prep_send(sqe, c->fd, c->buf, (unsigned)cqe->res, MSG_NOSIGNAL);
                io_uring_sqe_set_data64(sqe, ur_tag(c, UR_SEND));
            } else if (kind == UR_SEND) {
                if (cqe->res <= 0) { close(c->fd); free(c); continue; }
                ur_recv(&r, c);
            }
        }
        io_uring_cq_advance(&r, n);
    }
}

/* ---- the load generator ------------------------------------------------- */

/* One connection: its message in flight and the buffer its echo lands in. */
struct client { int fd; char msg[MSG]; char buf[MSG]; unsigned long seq; };

static void fill(struct client *c)
{
    for (size_t i = 0; i < MSG; i++) c->msg[i] = (char)('a' + (c->seq + i) % 26);
    c->seq++;
}

/* send -> recv(all 64 bytes) as one linked pair; only the recv reports. */
static void exchange(struct io_uring *r, struct client *c)
{
    fill(c);
    struct io_uring_sqe *sqe = io_uring_get_sqe(r);
    io_uring_prep_send(sqe, c->fd, c->msg, MSG, MSG_NOSIGNAL);
    sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, 0);
    sqe = io_uring_get_sqe(r);
    io_uring_prep_recv(sqe, c->fd, c->buf, MSG, MSG_WAITALL);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c);
}

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static double cpu_child(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct outcome { double msgs_per_s, gen_cpu, srv_cpu; };

/* Drives CONNS connections to 127.0.0.1:port; returns what the window measured.
 * The generator batches on io_uring so that it is not the bottleneck. */
static struct outcome load(int port, pid_t server)
{
    struct outcome out = { 0, 0, 0 };
    static struct client clients[CONNS];
    struct io_uring r;
    if (io_uring_queue_init(4 * CONNS, &r, 0)) { perror("io_uring"); exit(1); }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (int i = 0; i < CONNS; i++) {
        struct client *c = &clients[i];
        memset(c, 0, sizeof *c);
        double deadline = bench_now() + 5;
        for (;;) {
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0) break;
            close(c->fd);
            if (bench_now() > deadline) { perror("connect"); exit(1); }
            usleep(10000);
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        exchange(&r, c);
    }
    double start = bench_now(), t0 = 0, cpu0 = 0, srv0 = 0;
    unsigned long count = 0;
    bool measuring = false;
    for (;;) {
        double now = bench_now();
        if (!measuring && now - start >= WARMUP_S) {
            measuring = true;
            t0 = now;
            count = 0;
            cpu0 = cpu_self();
            srv0 = cpu_child(server);
        }
        if (measuring && now - t0 >= MEASURE_S) {
            out.msgs_per_s = (double)count / (now - t0);
            out.gen_cpu = cpu_self() - cpu0;
            out.srv_cpu = cpu_child(server) - srv0;
            break;
        }
        if (io_uring_submit_and_wait(&r, 1) < 0 && errno != EINTR) { perror("io_uring_enter"); exit(1); }
        unsigned head, n = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&r, head, cqe) {
            n++;
            struct client *c = (struct client *)(uintptr_t)cqe->user_data;
            if (!c || cqe->res != MSG) { fprintf(stderr, "echo failed: %s\n", strerror(-cqe->res)); exit(1); }
            if (memcmp(c->buf, c->msg, MSG) != 0) { fprintf(stderr, "echo mismatch\n"); exit(1); }
            count++;
            exchange(&r, c);
        }
        io_uring_cq_advance(&r, n);
    }
    io_uring_queue_exit(&r);
    for (int i = 0; i < CONNS; i++) close(clients[i].fd);
    return out;
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    bind(s, (struct sockaddr *)&sa, sizeof sa);
    getsockname(s, (struct sockaddr *)&sa, &len);
    close(s);
    return ntohs(sa.sin_port);
}

/* Starts a server in a child: caio's example binary, or the liburing loop. */
static pid_t start_server(int port, int threads)
{
    fflush(stdout); /* or the child inherits and repeats what is buffered */
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (threads > 0) {
        char p[16], t[16];
        snprintf(p, sizeof p, "%d", port);
        snprintf(t, sizeof t, "%d", threads);
        if (!freopen("/dev/null", "w", stdout)) _exit(1);
        execl(ECHO_SERVER_PATH, "echo_server", "--port", p, "--threads", t, (char *)NULL);
        _exit(127);
    }
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 512)) _exit(1);
    uring_server(l);
}

static struct outcome run(const char *name, int threads)
{
    int port = free_port();
    pid_t pid = start_server(port, threads);
    struct outcome o = load(port, pid);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    char key[64];
    snprintf(key, sizeof key, "echo_%s", name);
    bench_result(key, o.msgs_per_s, "msgs/s");
    double total = o.gen_cpu + o.srv_cpu;
    snprintf(key, sizeof key, "echo_%s_cpu_server", name);
    bench_result(key, total > 0 ? 100 * o.srv_cpu / total : 0, "%");
    snprintf(key, sizeof key, "echo_%s_cpu_loadgen", name);
    bench_result(key, total > 0 ? 100 * o.gen_cpu / total : 0, "%");
    return o;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct outcome uring = run("uring", 0);
    struct outcome t1 = run("caio_t1", 1);
    struct outcome t2 = run("caio_t2", 2);
    (void)t2;
    bench_ratio("echo_vs_uring", uring.msgs_per_s > 0 ? t1.msgs_per_s / uring.msgs_per_s : 0);
    return 0;
}
