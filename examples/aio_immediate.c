/*
 * aio_immediate: the immediate calls. Each call runs a whole batch on this
 * thread's ring and returns when every op in it has completed.
 *
 * A TCP listener on 127.0.0.1 is set up with one linked batch, a client
 * connects while the server accepts (one batch, two independent ops), the
 * client sends PING and the server answers PONG, and both close.
 */
#include <aio/aio.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s\n", what, aio_strerror(err));
    return 1;
}

int main(void)
{
    int listener = -1, client = -1, server = -1;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t addrlen = sizeof addr;

    /* two sockets in one batch */
    int err = AIO_MULTI(AIO_SOCKET(.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC, .out_socket = &listener),
                        AIO_SOCKET(.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC, .out_socket = &client));
    if (err) return fail("socket", err);
    /* bind -> listen as a SOFT chain: if bind fails, listen reports -ECANCELED
     * and aio_multi returns bind's error. Port 0 asks for a free port. */
    err = AIO_MULTI(AIO_BIND(.socket = listener, .addr = (struct sockaddr *)&addr, .addrlen = sizeof addr,
                             .link = AIO_LINK_SOFT),
                    AIO_LISTEN(.socket = listener, .backlog = 8));
    if (err) return fail("bind/listen", err);
    getsockname(listener, (struct sockaddr *)&addr, &addrlen);
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));

    /* accept and connect in one batch: neither blocks the other */
    err = AIO_MULTI(AIO_ACCEPT(.socket = listener, .flags = SOCK_CLOEXEC, .out_socket = &server),
                    AIO_CONNECT(.socket = client, .addr = (struct sockaddr *)&addr, .addrlen = sizeof addr));
    if (err) return fail("accept/connect", err);

    /* one round trip; each op's own result lands in its out_error */
    char request[8] = { 0 }, reply[8] = { 0 };
    size_t got_request = 0, got_reply = 0;
    int send_err, recv_err;
    err = AIO_MULTI(AIO_SEND(.socket = client, .buf = "PING", .len = 4, .out_error = &send_err),
                    AIO_RECV(.socket = server, .buf = request, .len = sizeof request, .out_read = &got_request,
                             .out_error = &recv_err));
    if (err) return fail("ping", err);
    err = AIO_MULTI(AIO_SEND(.socket = server, .buf = "PONG", .len = 4),
                    AIO_RECV(.socket = client, .buf = reply, .len = sizeof reply, .out_read = &got_reply));
    if (err) return fail("pong", err);
    printf("server got %.*s, client got %.*s\n", (int)got_request, request, (int)got_reply, reply);

    /* a single op, by value: a 10 ms sleep on the ring */
    err = aio_single(AIO_TIMEOUT(.ns = 10 * 1000 * 1000));
    if (err) return fail("timeout", err);

    /* aio_complete counts failures instead of stopping at the first */
    int failed = AIO_COMPLETE(AIO_CLOSE(.fd = server), AIO_CLOSE(.fd = client), AIO_CLOSE(.fd = listener));
    printf("closed, %d failures\n", failed);
    return failed != 0 || memcmp(request, "PING", 4) != 0 || memcmp(reply, "PONG", 4) != 0;
}
