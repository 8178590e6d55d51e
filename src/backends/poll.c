/*
 * The poll(2) poller under the emulation core: any POSIX system. A pollfd
 * array with one entry per watched fd and an fd -> entry index; a watch()
 * costs no syscall. Reports start at a rotating position, so that with more
 * ready fds than one report holds none is starved.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "../aio/emul.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

struct poller {
    struct pollfd *pfd;  /* [cap] */
    int *index;          /* [icap]: fd -> position in pfd, or -1 */
    int n, cap, icap;
    int rotate;
};

static int pl_init(struct aio_emul *em)
{
    struct poller *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    em->poller_state = p;
    return 0;
}

static void pl_fini(struct aio_emul *em)
{
    struct poller *p = em->poller_state;
    free(p->pfd);
    free(p->index);
    free(p);
    em->poller_state = NULL;
}

static int grow(struct poller *p, int fd)
{
    if (fd >= p->icap) {
        int cap = p->icap ? p->icap : 64;
        while (cap <= fd) cap *= 2;
        int *ix = realloc(p->index, (size_t)cap * sizeof *ix);
        if (!ix) return -ENOMEM;
        for (int i = p->icap; i < cap; i++) ix[i] = -1;
        p->index = ix;
        p->icap = cap;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        struct pollfd *n = realloc(p->pfd, (size_t)cap * sizeof *n);
        if (!n) return -ENOMEM;
        p->pfd = n;
        p->cap = cap;
    }
    return 0;
}

static int pl_watch(struct aio_emul *em, int fd, short old, short events)
{
    (void)old;
    struct poller *p = em->poller_state;
    if (fd < 0) return -EBADF;
    int at = fd < p->icap ? p->index[fd] : -1;
    if (events == 0) {
        if (at < 0) return 0;
        p->pfd[at] = p->pfd[--p->n];
        p->index[p->pfd[at].fd] = at;
        p->index[fd] = -1;
        return 0;
    }
    if (at < 0) {
        int rc = grow(p, fd);
        if (rc) return rc;
        at = p->n++;
        p->index[fd] = at;
    }
    p->pfd[at] = (struct pollfd){ fd, events, 0 };
    return 0;
}

static int pl_wait(struct aio_emul *em, const struct timespec *timeout, struct aio_poll_event *out, int max)
{
    struct poller *p = em->poller_state;
#ifdef __linux__
    int r = ppoll(p->pfd, (nfds_t)p->n, timeout, NULL);
#else
    int ms = -1;
    if (timeout) {
        long long t = (long long)timeout->tv_sec * 1000 + (timeout->tv_nsec + 999999) / 1000000;
        ms = t > 0x7fffffff ? 0x7fffffff : (int)t;
    }
    int r = poll(p->pfd, (nfds_t)p->n, ms);
#endif
    if (r < 0) return -errno;
    int k = 0;
    if (r == 0 || p->n == 0) return 0;
    int start = p->rotate % p->n;
    for (int j = 0; j < p->n && k < max; j++) {
        const struct pollfd *q = &p->pfd[(start + j) % p->n];
        if (q->revents) out[k++] = (struct aio_poll_event){ q->fd, q->revents };
    }
    p->rotate++;
    return k;
}

static const struct aio_poller_ops poll_poller = {
    .init = pl_init,
    .fini = pl_fini,
    .watch = pl_watch,
    .wait = pl_wait,
};

static int poll_backend_init(struct aio_ring *ring) { return aio_emul_init(ring, &poll_poller); }

static const struct aio_backend_ops poll_ops = {
    .kind = AIO_BACKEND_POLL,
    .init = poll_backend_init,
    .fini = aio_emul_fini,
    .submit = aio_emul_submit,
    .reap = aio_emul_reap,
    .cancel_all = aio_emul_cancel_all,
    .wake = aio_emul_wake,
};

const struct aio_backend_ops *aio_backend_poll(void) { return &poll_ops; }
