/*
 * coro_demo: a server task and a client task on one scheduler (a C port of
 * zig-aio's README example).
 *
 * The server accepts one connection, sends three messages as one linked batch
 * together with the receive of the reply (one coro_io_multi), then says
 * goodbye and closes both sockets with linked ops. The client reads until the
 * third message has arrived, replies, and reads the goodbye and closes in one
 * linked batch. On io_uring the whole run takes a handful of io_uring_enter
 * calls (tools/syscount checks at most 6): every op queued by both tasks
 * during one scheduler pass goes to the kernel in one submission.
 */
#include <aio/aio.h>
#include <coro/coro.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct demo {
    struct coro_event startup;  /* set once the server listens */
    struct sockaddr_in addr;    /* where it listens (an ephemeral port) */
    int failed;
};

static void fail(struct demo *d, const char *what, int err)
{
    fprintf(stderr, "coro_demo: %s: %s\n", what, aio_strerror(err));
    d->failed = 1;
}

static void *server(void *arg)
{
    struct demo *d = arg;
    int sock = -1, err;
    if ((err = coro_io_single(AIO_SOCKET(.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC,
                                         .protocol = IPPROTO_TCP, .out_socket = &sock)))) {
        fail(d, "socket", err);
        coro_event_set(&d->startup);
        return NULL;
    }
    int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    d->addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof d->addr;
    if (bind(sock, (struct sockaddr *)&d->addr, sizeof d->addr) || listen(sock, 128) ||
        getsockname(sock, (struct sockaddr *)&d->addr, &len)) {
        perror("coro_demo: bind/listen");
        d->failed = 1;
        coro_event_set(&d->startup);
        return NULL;
    }
    coro_event_set(&d->startup);

    int client = -1;
    if ((err = coro_io_single(AIO_ACCEPT(.socket = sock, .out_socket = &client)))) {
        fail(d, "accept", err);
        return NULL;
    }

    char buf[1024];
    size_t n = 0;
    err = CORO_IO_MULTI(
        AIO_SEND(.socket = client, .buf = "hey ", .len = 4, .link = AIO_LINK_SOFT),
        AIO_SEND(.socket = client, .buf = "I'm doing multiple IO ops at once ", .len = 34, .link = AIO_LINK_SOFT),
        AIO_SEND(.socket = client, .buf = "how cool is that? ", .len = 18, .link = AIO_LINK_SOFT),
        AIO_RECV(.socket = client, .buf = buf, .len = sizeof buf, .out_read = &n));
    if (err) { fail(d, "server batch", err); return NULL; }
    printf("server: got reply from client: %.*s\n", (int)n, buf);

    err = CORO_IO_MULTI(
        AIO_SEND(.socket = client, .buf = "ok bye", .len = 6, .link = AIO_LINK_HARD),
        AIO_CLOSE(.fd = client, .link = AIO_LINK_HARD),
        AIO_CLOSE(.fd = sock));
    if (err) fail(d, "server goodbye", err);
    return NULL;
}

static void *client(void *arg)
{
    struct demo *d = arg;
    int sock = -1, err;
    if ((err = coro_io_single(AIO_SOCKET(.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC,
                                         .protocol = IPPROTO_TCP, .out_socket = &sock)))) {
        fail(d, "socket", err);
        return NULL;
    }
    coro_event_wait(&d->startup);
    if (d->failed) { coro_io_single(AIO_CLOSE(.fd = sock)); return NULL; }
    if ((err = coro_io_single(AIO_CONNECT(.socket = sock, .addr = (struct sockaddr *)&d->addr,
                                          .addrlen = sizeof d->addr)))) {
        fail(d, "connect", err);
        coro_io_single(AIO_CLOSE(.fd = sock));
        return NULL;
    }

    /* the three messages may arrive in one read or several; MSG_WAITALL
     * asks for all 56 bytes in one op, the loop covers a short read */
    char seen[1024];
    size_t have = 0;
    while (!memmem(seen, have, "how cool is that?", 17)) {
        size_t n = 0;
        err = coro_io_single(AIO_RECV(.socket = sock, .buf = seen + have, .len = have < 56 ? 56 - have : sizeof seen - have,
                                      .flags = MSG_WAITALL, .out_read = &n));
        if (err || n == 0) { fail(d, "client recv", err ? err : -ECONNRESET); coro_io_single(AIO_CLOSE(.fd = sock)); return NULL; }
        printf("client: got reply from server: %.*s\n", (int)n, seen + have);
        have += n;
    }

    char buf[1024];
    size_t n = 0;
    err = CORO_IO_MULTI(
        AIO_SEND(.socket = sock, .buf = "dude, I don't care", .len = 18, .link = AIO_LINK_SOFT),
        AIO_RECV(.socket = sock, .buf = buf, .len = sizeof buf, .out_read = &n, .link = AIO_LINK_HARD),
        AIO_CLOSE(.fd = sock));
    if (err) { fail(d, "client batch", err); return NULL; }
    printf("client: got final words from server: %.*s\n", (int)n, buf);
    return NULL;
}

int main(void)
{
    struct demo d = { .failed = 0 };
    coro_event_init(&d.startup);
    struct coro_scheduler *sched;
    int err = coro_scheduler_create(&sched, &(struct coro_options){ .threads = 1 });
    if (err) { fprintf(stderr, "coro_demo: scheduler: %s\n", aio_strerror(err)); return 1; }
    struct coro_task *c, *s;
    coro_spawn(sched, client, &d, &(struct coro_spawn_options){ .name = "client" }, &c);
    coro_spawn(sched, server, &d, &(struct coro_spawn_options){ .name = "server" }, &s);
    err = coro_run(sched);
    coro_task_join(c, NULL);
    coro_task_join(s, NULL);
    coro_scheduler_destroy(sched);
    coro_event_destroy(&d.startup);
    if (err) fprintf(stderr, "coro_demo: run: %s\n", aio_strerror(err));
    return err || d.failed;
}
