/*
 * The epoll poller (Linux) under the emulation core: level-triggered interest
 * per fd, kept registered between waits (see emul.h), ns-precise timeouts with
 * epoll_pwait2 where the kernel has it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "../aio/emul.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct epoller {
    int epfd;
    bool no_pwait2; /* the kernel lacks epoll_pwait2: millisecond timeouts */
};

/* poll(2)'s event bits are epoll's on Linux; the build checks it. */
_Static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT && EPOLLERR == POLLERR && EPOLLHUP == POLLHUP &&
                   EPOLLPRI == POLLPRI && EPOLLRDHUP == POLLRDHUP,
               "epoll and poll event bits differ");

static int ep_init(struct aio_emul *em)
{
    struct epoller *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        int rc = -errno;
        free(p);
        return rc;
    }
    em->poller_state = p;
    return 0;
}

static void ep_fini(struct aio_emul *em)
{
    struct epoller *p = em->poller_state;
    close(p->epfd);
    free(p);
    em->poller_state = NULL;
}

static int ep_watch(struct aio_emul *em, int fd, short old, short events)
{
    struct epoller *p = em->poller_state;
    if (events == 0) {
        /* gone already (closed) is fine */
        if (epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != ENOENT && errno != EBADF) return -errno;
        return 0;
    }
    struct epoll_event ev = { .events = (uint32_t)(unsigned short)events, .data.fd = fd };
    /* The core's belief may be stale either way: the fd may have been closed
     * (registration gone) or registered by an earlier wait. */
    int op = old ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(p->epfd, op, fd, &ev) == 0) return 0;
    if (op == EPOLL_CTL_MOD && errno == ENOENT) op = EPOLL_CTL_ADD;
    else if (op == EPOLL_CTL_ADD && errno == EEXIST) op = EPOLL_CTL_MOD;
    else return -errno;
    return epoll_ctl(p->epfd, op, fd, &ev) == 0 ? 0 : -errno;
}

static int ep_wait(struct aio_emul *em, const struct timespec *timeout, struct aio_poll_event *out, int max)
{
    struct epoller *p = em->poller_state;
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n;
    if (!timeout || (timeout->tv_sec == 0 && timeout->tv_nsec == 0)) {
        /* forever or "don't block" (the busy case): no timespec needed */
        n = epoll_wait(p->epfd, evs, max, timeout ? 0 : -1);
        goto got;
    }
    if (!p->no_pwait2) {
        n = epoll_pwait2(p->epfd, evs, max, timeout, NULL);
        if (n < 0 && errno == ENOSYS) p->no_pwait2 = true;
        else goto got;
    }
    {
        /* milliseconds, rounded up, as waking early would only spin */
        long long t = (long long)timeout->tv_sec * 1000 + (timeout->tv_nsec + 999999) / 1000000;
        n = epoll_wait(p->epfd, evs, max, t > 0x7fffffff ? 0x7fffffff : (int)t);
    }
got:
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) out[i] = (struct aio_poll_event){ evs[i].data.fd, (short)evs[i].events };
    return n;
}

static const struct aio_poller_ops epoll_poller = {
    .forgets_closed_fds = true,
    .init = ep_init,
    .fini = ep_fini,
    .watch = ep_watch,
    .wait = ep_wait,
};

static int epoll_backend_init(struct aio_ring *ring) { return aio_emul_init(ring, &epoll_poller); }

static const struct aio_backend_ops epoll_ops = {
    .kind = AIO_BACKEND_EPOLL,
    .init = epoll_backend_init,
    .fini = aio_emul_fini,
    .submit = aio_emul_submit,
    .reap = aio_emul_reap,
    .cancel_all = aio_emul_cancel_all,
    .wake = aio_emul_wake,
};

const struct aio_backend_ops *aio_backend_epoll(void) { return &epoll_ops; }
