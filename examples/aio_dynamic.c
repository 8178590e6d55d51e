/*
 * aio_dynamic: the dynamic ring, driven by completion callbacks.
 *
 * An echo server and three clients on 127.0.0.1, all in one thread. Every op
 * carries a pointer to its connection in `userdata`; on_complete advances that
 * connection's state machine and queues its next op. main() only calls
 * aio_ring_complete_all, which returns once nothing is in flight any more.
 */
#include <aio/aio.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define CLIENTS 3
#define ROUNDS 4

enum state { ACCEPTING, CONNECTING, SENDING, RECEIVING, DONE };

struct conn {
    enum state state;
    bool is_client;
    int socket;
    int rounds;
    char buf[32];
    size_t len;
};

struct app {
    struct aio_ring *ring;
    struct sockaddr_in addr;
    struct conn acceptor;
    struct conn servers[CLIENTS];
    struct conn clients[CLIENTS];
    int accepted;
    int echoes;
};

/* Queues the op that the connection's state calls for. */
static void advance(struct app *app, struct conn *c)
{
    uint64_t ud = (uint64_t)(uintptr_t)c;
    struct aio_op op;
    switch (c->state) {
    case ACCEPTING:
        op = AIO_ACCEPT(.socket = c->socket, .out_socket = &app->servers[app->accepted].socket, .userdata = ud);
        break;
    case CONNECTING:
        op = AIO_CONNECT(.socket = c->socket, .addr = (struct sockaddr *)&app->addr, .addrlen = sizeof app->addr,
                         .userdata = ud);
        break;
    case SENDING:
        op = AIO_SEND(.socket = c->socket, .buf = c->buf, .len = c->len, .userdata = ud);
        break;
    case RECEIVING:
        op = AIO_RECV(.socket = c->socket, .buf = c->buf, .len = sizeof c->buf, .out_read = &c->len, .userdata = ud);
        break;
    case DONE:
        /* closing cancels anything still in flight on the socket first */
        op = AIO_CLOSE(.fd = c->socket, .userdata = 0);
        break;
    }
    int err = aio_ring_queue(app->ring, &op, 1);
    if (err) fprintf(stderr, "queue: %s\n", aio_strerror(err));
}

static void on_complete(void *ctx, aio_id id, uint64_t userdata, int result)
{
    (void)id;
    struct app *app = ctx;
    struct conn *c = (struct conn *)(uintptr_t)userdata;
    if (!c) return; /* a CLOSE */
    if (result < 0) {
        fprintf(stderr, "%s: %s\n", c->is_client ? "client" : "server", aio_strerror(result));
        c->state = DONE;
        advance(app, c);
        return;
    }
    switch (c->state) {
    case ACCEPTING: { /* serve the new connection; accept the next one */
        struct conn *s = &app->servers[app->accepted++];
        s->state = RECEIVING;
        advance(app, s);
        if (app->accepted == CLIENTS) c->state = DONE;
        advance(app, c);
        return;
    }
    case CONNECTING:
        c->len = (size_t)snprintf(c->buf, sizeof c->buf, "hello #%d", c->rounds);
        c->state = SENDING;
        break;
    case SENDING:
        c->state = RECEIVING;
        break;
    case RECEIVING:
        if (!c->is_client) { /* server: echo it back, or close at end of stream */
            c->state = c->len ? SENDING : DONE;
            break;
        }
        app->echoes++;
        printf("client %d got \"%.*s\"\n", (int)(c - app->clients), (int)c->len, c->buf);
        if (++c->rounds == ROUNDS) { c->state = DONE; break; }
        c->len = (size_t)snprintf(c->buf, sizeof c->buf, "hello #%d", c->rounds);
        c->state = SENDING;
        break;
    case DONE:
        return;
    }
    advance(app, c);
}

int main(void)
{
    static struct app app;
    int err = aio_ring_create(&app.ring, &(struct aio_ring_options){
        .entries = 64, .on_complete = on_complete, .ctx = &app });
    if (err) { fprintf(stderr, "ring: %s\n", aio_strerror(err)); return 1; }
    printf("backend: %s\n", aio_backend_name(aio_ring_backend(app.ring)));

    /* set-up with the immediate calls: a listener on a free port, client sockets */
    app.addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t addrlen = sizeof app.addr;
    err = aio_single(AIO_SOCKET(.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &app.acceptor.socket));
    if (!err) err = AIO_MULTI(AIO_BIND(.socket = app.acceptor.socket, .addr = (struct sockaddr *)&app.addr,
                                       .addrlen = sizeof app.addr, .link = AIO_LINK_SOFT),
                              AIO_LISTEN(.socket = app.acceptor.socket));
    if (err) { fprintf(stderr, "listen: %s\n", aio_strerror(err)); return 1; }
    getsockname(app.acceptor.socket, (struct sockaddr *)&app.addr, &addrlen);

    app.acceptor.state = ACCEPTING;
    advance(&app, &app.acceptor);
    for (int i = 0; i < CLIENTS; i++) {
        struct conn *c = &app.clients[i];
        c->is_client = true;
        c->state = CONNECTING;
        err = aio_single(AIO_SOCKET(.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &c->socket));
        if (err) { fprintf(stderr, "socket: %s\n", aio_strerror(err)); return 1; }
        advance(&app, c);
    }

    int failed = aio_ring_complete_all(app.ring);
    printf("%d echoes, %d failed ops\n", app.echoes, failed);
    aio_ring_destroy(app.ring);
    return app.echoes == CLIENTS * ROUNDS && failed == 0 ? 0 : 1;
}
