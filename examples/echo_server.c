/*
 * echo_server: a TCP echo server, one coroutine task per connection.
 *
 *   echo_server [--port N] [--threads N] [--connections N]
 *
 * Listens on 127.0.0.1 (port 0, the default, takes any free port) and prints
 * "listening on PORT". --threads runs that many scheduler threads (0: one per
 * core). With --connections it exits once that many connections have been
 * served; otherwise it runs until killed.
 */
#include <aio/aio.h>
#include <coro/coro.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct server {
    struct coro_scheduler *sched;
    int listener;
    long connections;           /* 0: serve forever */
    atomic_long served;
};

/* One connection: echo until the peer closes, then close. */
static void *serve(void *arg)
{
    int s = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        size_t n, sent = 0;
        if (coro_io_single(AIO_RECV(.socket = s, .buf = buf, .len = sizeof buf, .out_read = &n)) || n == 0) break;
        while (sent < n) { /* a send may take only part of it */
            size_t w;
            if (coro_io_single(AIO_SEND(.socket = s, .buf = buf + sent, .len = n - sent, .out_written = &w))) goto out;
            sent += w;
        }
    }
out:
    coro_io_single(AIO_CLOSE(.fd = s));
    return NULL;
}

/* Accepts connections and gives each its own task. */
static void *acceptor(void *arg)
{
    struct server *srv = arg;
    for (long n = 0; srv->connections == 0 || n < srv->connections; n++) {
        int s;
        int err = coro_io_single(AIO_ACCEPT(.socket = srv->listener, .flags = SOCK_CLOEXEC, .out_socket = &s));
        if (err) {
            fprintf(stderr, "accept: %s\n", aio_strerror(err));
            break;
        }
        err = coro_spawn(srv->sched, serve, (void *)(intptr_t)s,
                         &(struct coro_spawn_options){ .name = "conn", .detached = true }, NULL);
        if (err) {
            fprintf(stderr, "spawn: %s\n", aio_strerror(err));
            coro_io_single(AIO_CLOSE(.fd = s));
        }
    }
    coro_io_single(AIO_CLOSE(.fd = srv->listener));
    return NULL;
}

int main(int argc, char **argv)
{
    int port = 0;
    unsigned threads = 1;
    static struct server srv;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--connections") == 0) srv.connections = atol(argv[i + 1]);
        else { fprintf(stderr, "usage: %s [--port N] [--threads N] [--connections N]\n", argv[0]); return 2; }
    }

    /* the listener, set up with immediate calls before any task runs */
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t addrlen = sizeof addr;
    int one = 1;
    int err = aio_single(AIO_SOCKET(.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC, .out_socket = &srv.listener));
    if (!err) err = setsockopt(srv.listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ? -1 : 0;
    if (!err) err = AIO_MULTI(AIO_BIND(.socket = srv.listener, .addr = (struct sockaddr *)&addr, .addrlen = sizeof addr,
                                       .link = AIO_LINK_SOFT),
                              AIO_LISTEN(.socket = srv.listener, .backlog = 512));
    if (err) { fprintf(stderr, "listen: %s\n", aio_strerror(err)); return 1; }
    getsockname(srv.listener, (struct sockaddr *)&addr, &addrlen);
    printf("listening on %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    err = coro_scheduler_create(&srv.sched, &(struct coro_options){ .threads = threads });
    if (!err) err = coro_spawn(srv.sched, acceptor, &srv, &(struct coro_spawn_options){ .name = "acceptor", .detached = true }, NULL);
    if (!err) err = coro_run(srv.sched);
    if (err) fprintf(stderr, "scheduler: %s\n", aio_strerror(err));
    coro_scheduler_destroy(srv.sched);
    return err ? 1 : 0;
}
