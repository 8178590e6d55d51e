/*
 * The emulation core (see emul.h): io_uring's semantics for the readiness
 * backends. Reference behaviour is src/backends/io_uring.c; where io_uring
 * decides something (results of LINK_TIMEOUT pairs, which ops CANCEL finds,
 * what CLOSE cancels) this file decides it the same way.
 *
 * A reap pass: chain heads queued since the last pass join the run queue;
 * every op on the run queue gets its first attempt (chain successors of ops
 * that complete join the same pass, as the kernel starts linked ops at once);
 * expired timers fire; finished worker ops are collected; the poller is asked
 * for readiness (without blocking unless the caller waits and nothing was
 * delivered yet); ready fds retry their waiters in arming order. Results go
 * to a FIFO and are delivered at the end of the pass, in completion order, so
 * no user callback runs while the core's lists are being walked.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "emul.h"
#include "sysop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

/* attempt(): the op must wait for readiness (not an errno value). */
#define EM_WAIT INT_MIN
#define MAX_RW 0x7ffff000u
/* Events every waiter is woken by: the syscall then reports the error. */
#define EM_ALWAYS (POLLERR | POLLHUP | POLLNVAL)

static inline struct aio_slot *slot_of(struct aio_emul *em, uint32_t s) { return &em->slots[s]; }

/* ---- intrusive FIFOs through es[].next ---------------------------------- */

static void fifo_push(struct aio_emul *em, uint32_t *head, uint32_t *tail, uint32_t s)
{
    em->es[s].next = AIO_NO_SLOT;
    if (*tail == AIO_NO_SLOT) *head = s;
    else em->es[*tail].next = s;
    *tail = s;
}

static uint32_t fifo_pop(struct aio_emul *em, uint32_t *head, uint32_t *tail)
{
    uint32_t s = *head;
    if (s == AIO_NO_SLOT) return s;
    *head = em->es[s].next;
    if (*head == AIO_NO_SLOT) *tail = AIO_NO_SLOT;
    return s;
}

static void fifo_remove(struct aio_emul *em, uint32_t *head, uint32_t *tail, uint32_t s)
{
    uint32_t prev = AIO_NO_SLOT;
    for (uint32_t x = *head; x != AIO_NO_SLOT; prev = x, x = em->es[x].next) {
        if (x != s) continue;
        if (prev == AIO_NO_SLOT) *head = em->es[x].next;
        else em->es[prev].next = em->es[x].next;
        if (*tail == x) *tail = prev;
        return;
    }
}

/* ---- results and chains ------------------------------------------------- */

static void start(struct aio_emul *em, uint32_t s);

static void push_done(struct aio_emul *em, uint32_t s, int res)
{
    em->es[s].where = EM_DONE;
    em->es[s].result = res;
    fifo_push(em, &em->done_head, &em->done_tail, s);
}

/* Everything from `s` to the chain's end completes with -ECANCELED unrun. */
static void cancel_rest(struct aio_emul *em, uint32_t s)
{
    for (; s != AIO_NO_SLOT; s = slot_of(em, s)->chain_next) push_done(em, s, -ECANCELED);
}

static inline void continue_chain(struct aio_emul *em, uint32_t next, bool broken)
{
    if (next == AIO_NO_SLOT) return;
    if (broken || em->destroying) cancel_rest(em, next);
    else start(em, next);
}

/* The part of op_done() for an op with a successor: reports a LINK_TIMEOUT
 * bounding it together with it (as the io_uring backend pairs their CQEs),
 * then starts or cancels the rest of the chain. */
static __attribute__((noinline)) void chain_after(struct aio_emul *em, uint32_t s, int res, uint32_t next)
{
    const struct aio_op *op = &slot_of(em, s)->op;
    /* a RECV/SEND without MSG_WAITALL breaks its chain only by failing */
    const bool plain = (op->kind == AIO_KIND_RECV || op->kind == AIO_KIND_SEND) && !(op->recv.flags & MSG_WAITALL);
    const bool broken = op->common.link == AIO_LINK_SOFT && (plain ? res < 0 : aio_result_breaks_chain(op, res));
    if (slot_of(em, next)->op.kind == AIO_KIND_LINK_TIMEOUT) {
        uint32_t t = next;
        struct aio_emul_slot *te = &em->es[t];
        if (te->where == EM_TIMER) aio_timer_remove(em, t);
        /* in time: 0; the op cancelled (by CANCEL, CLOSE, the ring) or the
         * timeout itself cancelled by id: -ECANCELED */
        push_done(em, t, (te->lt_cancelled || res == -ECANCELED) ? -ECANCELED : 0);
        next = slot_of(em, t)->chain_next;
    }
    continue_chain(em, next, broken);
}

/*
 * Op `s` (not a LINK_TIMEOUT) finished with `res`, having been taken out of
 * whatever it waited in: it joins the done queue, and what follows it in its
 * chain is dealt with out of line (inline because it runs once per op and an
 * op with nothing after it is the common case).
 */
static inline void op_done(struct aio_emul *em, uint32_t s, int res)
{
    uint32_t next = slot_of(em, s)->chain_next;
    push_done(em, s, res);
    if (next != AIO_NO_SLOT) chain_after(em, s, res, next);
}

/* ---- waiting on descriptors --------------------------------------------- */

static int fd_reserve(struct aio_emul *em, int fd)
{
    if (fd < em->fd_cap) return 0;
    int cap = em->fd_cap ? em->fd_cap : 64;
    while (cap <= fd) cap *= 2;
    struct aio_emul_fd *n = realloc(em->fds, (size_t)cap * sizeof *n);
    if (!n) return -ENOMEM;
    for (int i = em->fd_cap; i < cap; i++) n[i] = (struct aio_emul_fd){ .head = AIO_NO_SLOT, .tail = AIO_NO_SLOT };
    em->fds = n;
    em->fd_cap = cap;
    return 0;
}

static short fd_wanted(struct aio_emul *em, int fd)
{
    short want = 0;
    for (uint32_t s = em->fds[fd].head; s != AIO_NO_SLOT; s = em->es[s].fd_next) want |= em->es[s].events;
    return want;
}

static inline void fd_unwait(struct aio_emul *em, uint32_t s)
{
    struct aio_emul_slot *e = &em->es[s];
    struct aio_emul_fd *f = &em->fds[e->fd];
    if (e->fd_prev == AIO_NO_SLOT) f->head = e->fd_next;
    else em->es[e->fd_prev].fd_next = e->fd_next;
    if (e->fd_next == AIO_NO_SLOT) f->tail = e->fd_prev;
    else em->es[e->fd_next].fd_prev = e->fd_prev;
    e->where = EM_IDLE;
    em->waiting_fd--;
}

/* Puts `s` at the end of the waiters on `fd`. */
static inline void fd_link(struct aio_emul *em, uint32_t s, int fd, short events)
{
    struct aio_emul_slot *e = &em->es[s];
    struct aio_emul_fd *f = &em->fds[fd];
    e->fd = fd;
    e->events = events;
    e->fd_next = AIO_NO_SLOT;
    e->fd_prev = f->tail;
    if (f->tail == AIO_NO_SLOT) f->head = s;
    else em->es[f->tail].fd_next = s;
    f->tail = s;
    e->where = EM_FD;
    e->skipped_try = 0;
    e->armed_reap = em->reap_seq;
    em->waiting_fd++;
}

/* fd_wait() when the registration may need a call: see there. */
static __attribute__((noinline)) void fd_wait_register(struct aio_emul *em, uint32_t s, int fd, short events)
{
    if (fd < 0) { op_done(em, s, -EBADF); return; }
    int rc = fd < em->fd_cap ? 0 : fd_reserve(em, fd);
    if (rc) { op_done(em, s, rc); return; }
    struct aio_emul_fd *f = &em->fds[fd];
    bool alone = f->head == AIO_NO_SLOT;
    short want = alone ? events : (short)(fd_wanted(em, fd) | events);
    const bool kept = alone && !(want & ~f->watched) && em->poller->forgets_closed_fds && f->checked_epoch != em->epoch;
    if (kept && (f->unchecked || em->n_unchecked < em->ring->entries)) {
        /* Kept from an earlier wait, but the fd may have been closed and its
         * number reused since: confirmed before the loop sleeps, not now, so
         * a busy socket costs no registration call per wait. The list holds
         * one place per slot; when a loop that never finds nothing to do has
         * filled it, the registration is confirmed now instead. */
        if (!f->unchecked) {
            f->unchecked = true;
            em->unchecked[em->n_unchecked++] = fd;
        }
    } else if (kept || (want & ~f->watched)) {
        rc = em->poller->watch(em, fd, f->watched, want);
        if (rc < 0) {
            if (rc == -EPERM && slot_of(em, s)->op.kind == AIO_KIND_POLL) {
                /* not pollable (a regular file): always ready, as the kernel says */
                op_done(em, s, events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM));
            } else {
                op_done(em, s, rc == -EPERM ? -EBADF : rc);
            }
            if (alone) f->watched = 0;
            return;
        }
        f->watched = want;
        f->checked_epoch = em->epoch;
    }
    fd_link(em, s, fd, events);
}

/* Makes `s` wait for `events` on `fd`; on failure the op completes. Inline
 * for the busy case: the only waiter, on a registration that covers it and
 * was confirmed in this epoch or is already listed for confirmation, needs
 * no poller call and no list walk. */
static inline void fd_wait(struct aio_emul *em, uint32_t s, int fd, short events)
{
    if (fd >= 0 && fd < em->fd_cap) {
        const struct aio_emul_fd *f = &em->fds[fd];
        if (f->head == AIO_NO_SLOT && !(events & ~f->watched) && (f->checked_epoch == em->epoch || f->unchecked)) {
            fd_link(em, s, fd, events);
            return;
        }
    }
    fd_wait_register(em, s, fd, events);
}

/* Confirms the registrations kept from earlier waits (see fd_wait); an fd that
 * turns out to be bad fails its waiters. Called before the loop sleeps. */
static void check_registrations(struct aio_emul *em)
{
    for (uint32_t i = 0; i < em->n_unchecked; i++) {
        int fd = em->unchecked[i];
        struct aio_emul_fd *f = &em->fds[fd];
        f->unchecked = false;
        if (f->head == AIO_NO_SLOT || f->checked_epoch == em->epoch) continue;
        short want = fd_wanted(em, fd);
        int rc = em->poller->watch(em, fd, f->watched, want);
        if (rc == 0) {
            f->watched = want;
            f->checked_epoch = em->epoch;
            continue;
        }
        f->watched = 0;
        while (f->head != AIO_NO_SLOT) {
            uint32_t s = f->head;
            fd_unwait(em, s);
            op_done(em, s, rc == -EPERM ? -EBADF : rc);
        }
    }
    em->n_unchecked = 0;
}

/* ---- the kinds ---------------------------------------------------------- */

static size_t clamp(size_t n) { return n > MAX_RW ? MAX_RW : n; }

/* READ/WRITE/READV/WRITEV on a pipe, socket or device: without blocking. */
static int rw_nowait(const struct aio_op *op)
{
    struct iovec one;
    const struct iovec *iov = &one;
    int cnt = 1, fd;
    int64_t off;
    bool rd;
    switch (op->kind) {
    case AIO_KIND_READ: fd = op->read.fd; one = (struct iovec){ op->read.buf, clamp(op->read.len) }; off = op->read.offset; rd = true; break;
    case AIO_KIND_WRITE: fd = op->write.fd; one = (struct iovec){ (void *)op->write.buf, clamp(op->write.len) }; off = op->write.offset; rd = false; break;
    case AIO_KIND_READV: fd = op->readv.fd; iov = op->readv.iov; cnt = op->readv.iovcnt; off = op->readv.offset; rd = true; break;
    default: fd = op->writev.fd; iov = op->writev.iov; cnt = op->writev.iovcnt; off = op->writev.offset; rd = false; break;
    }
    if (off < 0) off = -1;
    for (;;) {
        ssize_t r = rd ? preadv2(fd, iov, cnt, off, RWF_NOWAIT) : pwritev2(fd, iov, cnt, off, RWF_NOWAIT);
        if (r >= 0) return (int)r;
        if (errno == EAGAIN) return EM_WAIT;
        if (errno == ESPIPE && off != -1) { off = -1; continue; }
        if (errno == EOPNOTSUPP || errno == EINVAL) {
            /* no "nowait" for this kind of file: ask poll(2) first */
            struct pollfd p = { fd, (short)(rd ? POLLIN : POLLOUT), 0 };
            if (poll(&p, 1, 0) == 0) return EM_WAIT;
            return aio_sysop_run(op);
        }
        return -errno;
    }
}

/* A syscall on a descriptor whose blocking mode is the user's: flip
 * O_NONBLOCK on around it when it is off (accept on a blocking listener,
 * connect on a blocking socket), so the loop never sleeps in the kernel even
 * when another thread takes the connection first. */
static int run_nonblocking(const struct aio_op *op, int fd, int *err)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) { *err = errno; return -1; }
    if (!(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int r = aio_sysop_run(op);
    if (!(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl);
    *err = r < 0 ? -r : 0;
    return r;
}

static int do_connect(struct aio_emul *em, uint32_t s, const struct aio_op *op)
{
    struct aio_emul_slot *e = &em->es[s];
    int fd = op->connect.socket;
    if (e->step == 1) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) return -errno;
        if (soerr == 0) {
            /* writable and no error: connected, unless the wake-up was spurious */
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 && errno == ENOTCONN) return EM_WAIT;
        }
        return -soerr;
    }
    int err;
    int r = run_nonblocking(op, fd, &err);
    if (r >= 0) return 0;
    if (err == EINPROGRESS) { e->step = 1; return EM_WAIT; }
    if (err == EAGAIN) return EM_WAIT; /* a unix socket's full backlog: try again */
    return -err;
}

static int do_child(struct aio_emul *em, uint32_t s)
{
    struct aio_emul_slot *e = &em->es[s];
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid((idtype_t)3 /* P_PIDFD */, (id_t)e->aux, &si, WEXITED | WNOHANG);
    if (r == 0 && si.si_pid == 0) return EM_WAIT;
    close(e->aux);
    e->aux = -1;
    return r < 0 ? -errno : aio_wait_status(si.si_code, si.si_status);
}

/*
 * RECV / SEND with MSG_WAITALL: io_uring keeps going after a short transfer
 * until all `len` bytes moved, the stream ended, or an error came (reporting
 * the bytes moved if there were any). Without blocking, that is: move what can
 * be moved now, remember how far it got, and wait for readiness for the rest.
 */
static int move_all(struct aio_emul *em, uint32_t s, const struct aio_op *op)
{
    struct aio_emul_slot *e = &em->es[s];
    const bool rd = op->kind == AIO_KIND_RECV;
    const int fd = rd ? op->recv.socket : op->send.socket;
    const size_t len = clamp(rd ? op->recv.len : op->send.len);
    const int flags = ((rd ? op->recv.flags : op->send.flags) & ~MSG_WAITALL) | MSG_DONTWAIT;
    while (e->moved < len) {
        ssize_t r = rd ? recv(fd, (char *)op->recv.buf + e->moved, len - e->moved, flags)
                       : send(fd, (const char *)op->send.buf + e->moved, len - e->moved, flags | MSG_NOSIGNAL);
        if (r > 0) { e->moved += (uint32_t)r; continue; }
        if (r == 0 && rd) break; /* end of stream: short */
        if (r < 0 && errno == EAGAIN) {
            if ((rd ? op->recv.flags : op->send.flags) & MSG_DONTWAIT) return e->moved ? (int)e->moved : -EAGAIN;
            return EM_WAIT;
        }
        if (r < 0) return e->moved ? (int)e->moved : -errno;
    }
    return (int)e->moved;
}

/*
 * RECV and SEND share their layout up to `flags`, so the hot path reads them
 * through one member and does not switch on the kind again.
 */
_Static_assert(offsetof(struct aio_op, recv.socket) == offsetof(struct aio_op, send.socket) &&
                   offsetof(struct aio_op, recv.buf) == offsetof(struct aio_op, send.buf) &&
                   offsetof(struct aio_op, recv.len) == offsetof(struct aio_op, send.len) &&
                   offsetof(struct aio_op, recv.flags) == offsetof(struct aio_op, send.flags),
               "aio_recv and aio_send differ in layout");

/* One try of a RECV or SEND without MSG_WAITALL: the syscall of
 * aio_sysop_run(), made directly. Its result, or EM_WAIT. */
static inline int sock_try(const struct aio_op *op)
{
    const struct aio_recv *o = &op->recv;
    ssize_t r = op->kind == AIO_KIND_RECV
                    ? recv(o->socket, o->buf, clamp(o->len), o->flags | MSG_DONTWAIT)
                    : send(o->socket, o->buf, clamp(o->len), o->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) return (int)r;
    if (errno == EAGAIN && !(o->flags & MSG_DONTWAIT)) return EM_WAIT;
    return -errno;
}

/* One try of an op driven on the loop thread: its result, or EM_WAIT with
 * what to wait for in *fd / *events. */
static int attempt(struct aio_emul *em, uint32_t s, int *fd, short *events)
{
    const struct aio_op *op = &slot_of(em, s)->op;
    int r, dontwait = 0;
    switch (op->kind) {
    case AIO_KIND_RECV:
        *fd = op->recv.socket; *events = POLLIN; dontwait = op->recv.flags & MSG_DONTWAIT;
        if (op->recv.flags & MSG_WAITALL) return move_all(em, s, op);
        return sock_try(op);
    case AIO_KIND_RECVMSG:
        *fd = op->recvmsg.socket; *events = POLLIN; dontwait = op->recvmsg.flags & MSG_DONTWAIT;
        r = aio_sysop_run(op);
        break;
    case AIO_KIND_SEND:
        *fd = op->send.socket; *events = POLLOUT; dontwait = op->send.flags & MSG_DONTWAIT;
        if (op->send.flags & MSG_WAITALL) return move_all(em, s, op);
        return sock_try(op);
    case AIO_KIND_SENDMSG:
        *fd = op->sendmsg.socket; *events = POLLOUT; dontwait = op->sendmsg.flags & MSG_DONTWAIT;
        r = aio_sysop_run(op);
        break;
    case AIO_KIND_ACCEPT: {
        *fd = op->accept.socket; *events = POLLIN;
        int err;
        r = run_nonblocking(op, *fd, &err);
        break;
    }
    case AIO_KIND_CONNECT:
        *fd = op->connect.socket; *events = POLLOUT;
        return do_connect(em, s, op);
    case AIO_KIND_READ: *fd = op->read.fd; *events = POLLIN; return rw_nowait(op);
    case AIO_KIND_READV: *fd = op->readv.fd; *events = POLLIN; return rw_nowait(op);
    case AIO_KIND_WRITE: *fd = op->write.fd; *events = POLLOUT; return rw_nowait(op);
    case AIO_KIND_WRITEV: *fd = op->writev.fd; *events = POLLOUT; return rw_nowait(op);
    case AIO_KIND_EVENT_WAIT:
        *fd = (int)op->event_wait.source->handle_[0]; *events = POLLIN;
        r = aio_sysop_run(op);
        break;
    case AIO_KIND_EVENT_NOTIFY:
        *fd = (int)op->event_notify.source->handle_[1]; *events = POLLOUT;
        r = aio_sysop_run(op);
        break;
    case AIO_KIND_SPLICE: {
        r = aio_sysop_run(op);
        if (r != -EAGAIN) return r;
        /* which end is not ready? wait for that one */
        struct pollfd p[2] = { { op->splice.fd_in, POLLIN, 0 }, { op->splice.fd_out, POLLOUT, 0 } };
        (void)poll(p, 2, 0);
        if (!(p[0].revents & (POLLIN | EM_ALWAYS))) { *fd = op->splice.fd_in; *events = POLLIN; }
        else { *fd = op->splice.fd_out; *events = POLLOUT; }
        return EM_WAIT;
    }
    case AIO_KIND_CHILD_EXIT:
        *fd = em->es[s].aux; *events = POLLIN;
        return do_child(em, s);
    default:
        return aio_sysop_run(op);
    }
    if (r == -EAGAIN && !dontwait) return EM_WAIT;
    return r;
}

static void to_worker(struct aio_emul *em, uint32_t s)
{
    em->es[s].where = EM_WORKER;
    int rc = aio_workers_push(&em->workers, s);
    if (rc) { em->es[s].where = EM_IDLE; op_done(em, s, rc); return; }
    em->in_worker++;
}

/* Regular files, block devices and directories go to the pool: readiness
 * means nothing for them and the call may sleep on the disk. */
static bool is_file(int fd, int *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0) { *err = -errno; return false; }
    *err = 0;
    return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode);
}

/*
 * Whether a socket op may skip its first try: the last try in that direction
 * on this fd found nothing, and the fd is still registered, so the poller's
 * next report (one call for the whole pass) says whether to try. A
 * request/response socket then pays no EAGAIN per message; a socket whose
 * data is there when the op starts (the report comes in the same reap call)
 * goes back to trying first, so a ready recv costs one syscall.
 */
static bool predicted_wait(struct aio_emul *em, const struct aio_op *op, int *fd, short *events)
{
    int flags;
    switch (op->kind) {
    case AIO_KIND_RECV: *fd = op->recv.socket; *events = POLLIN; flags = op->recv.flags; break;
    case AIO_KIND_RECVMSG: *fd = op->recvmsg.socket; *events = POLLIN; flags = op->recvmsg.flags; break;
    case AIO_KIND_SEND: *fd = op->send.socket; *events = POLLOUT; flags = op->send.flags; break;
    case AIO_KIND_SENDMSG: *fd = op->sendmsg.socket; *events = POLLOUT; flags = op->sendmsg.flags; break;
    default: return false;
    }
    if (flags & MSG_DONTWAIT || *fd < 0 || *fd >= em->fd_cap) return false;
    const struct aio_emul_fd *f = &em->fds[*fd];
    return (f->predict_wait & *events) && (f->watched & *events);
}

static void try_or_wait(struct aio_emul *em, uint32_t s)
{
    int fd = -1;
    short events = 0;
    if (predicted_wait(em, &slot_of(em, s)->op, &fd, &events)) {
        fd_wait(em, s, fd, events);
        if (em->es[s].where == EM_FD) em->es[s].skipped_try = 1;
        return;
    }
    int r = attempt(em, s, &fd, &events);
    if (r != EM_WAIT) { op_done(em, s, r); return; }
    fd_wait(em, s, fd, events);
    if (fd >= 0 && fd < em->fd_cap) em->fds[fd].predict_wait |= events;
}

/* try_or_wait() for a RECV or SEND without MSG_WAITALL, the request/response
 * hot path: no switch on the kind, one syscall or one wait. */
static void sock_first(struct aio_emul *em, uint32_t s, const struct aio_op *op)
{
    const int fd = op->recv.socket, flags = op->recv.flags;
    const short events = op->kind == AIO_KIND_RECV ? POLLIN : POLLOUT;
    struct aio_emul_fd *f = fd >= 0 && fd < em->fd_cap ? &em->fds[fd] : NULL;
    if (f && !(flags & MSG_DONTWAIT) && (f->predict_wait & f->watched & events)) {
        fd_wait(em, s, fd, events); /* see predicted_wait() */
        if (em->es[s].where == EM_FD) em->es[s].skipped_try = 1;
        return;
    }
    int r = sock_try(op);
    if (r != EM_WAIT) { op_done(em, s, r); return; }
    fd_wait(em, s, fd, events); /* may grow em->fds */
    if (fd >= 0 && fd < em->fd_cap) em->fds[fd].predict_wait |= events;
}

static int cancel_by_id(struct aio_emul *em, aio_id id, uint32_t self);
static void cancel_fd(struct aio_emul *em, int fd, uint32_t self);

/* The first attempt of a started op. */
static void run_first(struct aio_emul *em, uint32_t s)
{
    struct aio_slot *sl = slot_of(em, s);
    const struct aio_op *op = &sl->op;
    struct aio_emul_slot *e = &em->es[s];
    e->where = EM_IDLE;
    switch (op->kind) {
    case AIO_KIND_NOP:
        op_done(em, s, 0);
        return;
    case AIO_KIND_TIMEOUT:
        e->deadline = aio_emul_now() + op->timeout.ns;
        e->where = EM_TIMER;
        aio_timer_add(em, s);
        return;
    case AIO_KIND_CANCEL:
        op_done(em, s, cancel_by_id(em, op->cancel.id, s));
        return;
    case AIO_KIND_CLOSE:
        cancel_fd(em, op->close.fd, s);
        to_worker(em, s);
        return;
    case AIO_KIND_FSYNC:
    case AIO_KIND_OPENAT:
    case AIO_KIND_RENAMEAT:
    case AIO_KIND_UNLINKAT:
    case AIO_KIND_MKDIRAT:
    case AIO_KIND_SYMLINKAT:
        to_worker(em, s);
        return;
    case AIO_KIND_READ:
    case AIO_KIND_WRITE:
    case AIO_KIND_READV:
    case AIO_KIND_WRITEV: {
        int err;
        if (is_file(aio_op_fd(op, NULL), &err)) to_worker(em, s);
        else if (err) op_done(em, s, err);
        else try_or_wait(em, s);
        return;
    }
    case AIO_KIND_SPLICE: {
        int e1, e2;
        bool f1 = is_file(op->splice.fd_in, &e1), f2 = is_file(op->splice.fd_out, &e2);
        if (e1 || e2) op_done(em, s, e1 ? e1 : e2);
        else if (f1 || f2) to_worker(em, s);
        else try_or_wait(em, s);
        return;
    }
    case AIO_KIND_POLL:
        fd_wait(em, s, op->poll.fd, (short)op->poll.events);
        return;
    case AIO_KIND_RECV:
    case AIO_KIND_SEND:
        if (op->recv.flags & MSG_WAITALL) try_or_wait(em, s);
        else sock_first(em, s, op);
        return;
    case AIO_KIND_CHILD_EXIT: {
#ifdef SYS_pidfd_open
        int pfd = (int)syscall(SYS_pidfd_open, op->child_exit.pid, 0);
        if (pfd >= 0) {
            (void)fcntl(pfd, F_SETFD, FD_CLOEXEC);
            e->aux = pfd;
            try_or_wait(em, s);
            return;
        }
        if (errno == ESRCH) { op_done(em, s, -ECHILD); return; }
#endif
        /* no pidfd: a worker sleeps in waitid() (cancel: -EALREADY) */
        to_worker(em, s);
        return;
    }
    default:
        try_or_wait(em, s);
        return;
    }
}

/* A LINK_TIMEOUT `t` bounding an op that starts now: its clock starts. */
static __attribute__((noinline)) void arm_link_timeout(struct aio_emul *em, uint32_t t)
{
    struct aio_emul_slot *te = &em->es[t];
    te->lt_cancelled = 0;
    te->deadline = aio_emul_now() + slot_of(em, t)->op.link_timeout.ns;
    te->where = EM_TIMER;
    aio_timer_add(em, t);
}

/* What starting op `s` sets up, before it joins the run queue. */
static inline void start_setup(struct aio_emul *em, uint32_t s)
{
    struct aio_emul_slot *e = &em->es[s];
    e->step = 0;
    e->moved = 0;
    e->aux = -1;
    e->where = EM_RUNQ;
    uint32_t t = slot_of(em, s)->chain_next;
    if (t != AIO_NO_SLOT && slot_of(em, t)->op.kind == AIO_KIND_LINK_TIMEOUT) arm_link_timeout(em, t);
}

/* Starts op `s` (its predecessor completed, or it heads its chain): it joins
 * the run queue; a LINK_TIMEOUT bounding it starts its clock now. */
static void start(struct aio_emul *em, uint32_t s)
{
    start_setup(em, s);
    fifo_push(em, &em->runq_head, &em->runq_tail, s);
}

/* ---- stopping ops ------------------------------------------------------- */

/* Takes a started op out of whatever it waits in. 0 when stopped (the caller
 * then completes it), -EALREADY when a worker is running it, -ENOENT when it
 * has not started or already finished. */
static int stop_op(struct aio_emul *em, uint32_t s)
{
    struct aio_emul_slot *e = &em->es[s];
    switch (e->where) {
    case EM_RUNQ: fifo_remove(em, &em->runq_head, &em->runq_tail, s); break;
    case EM_FD: fd_unwait(em, s); break;
    case EM_TIMER: aio_timer_remove(em, s); break;
    case EM_WORKER:
        if (!aio_workers_unqueue(&em->workers, s)) return -EALREADY;
        em->in_worker--;
        break;
    default: return -ENOENT;
    }
    e->where = EM_IDLE;
    if (slot_of(em, s)->op.kind == AIO_KIND_CHILD_EXIT && e->aux >= 0) {
        close(e->aux);
        e->aux = -1;
    }
    return 0;
}

/* A LINK_TIMEOUT stopped before its op finished: it reports -ECANCELED then. */
static int stop_link_timeout(struct aio_emul *em, uint32_t t)
{
    struct aio_emul_slot *te = &em->es[t];
    if (te->where != EM_TIMER) return -ENOENT;
    aio_timer_remove(em, t);
    te->where = EM_LT_FIRED;
    te->lt_cancelled = 1;
    return 0;
}

static int cancel_by_id(struct aio_emul *em, aio_id id, uint32_t self)
{
    uint32_t s = aio_ring_lookup(em->ring, id);
    if (s == AIO_NO_SLOT || s == self) return -ENOENT;
    /* As on io_uring (the reference), whose ASYNC_CANCEL never finds a linked
     * timeout: a LINK_TIMEOUT is not stopped by id, it keeps bounding its op. */
    if (slot_of(em, s)->op.kind == AIO_KIND_LINK_TIMEOUT) return -ENOENT;
    int rc = stop_op(em, s);
    if (rc == 0) op_done(em, s, -ECANCELED);
    return rc;
}

/* CLOSE: this ring's started ops on `fd` are cancelled first, and the poller
 * forgets the fd before its number can be reused. */
static void cancel_fd(struct aio_emul *em, int fd, uint32_t self)
{
    if (fd < 0) return; /* -1 is what aio_op_fd says for "no descriptor" */
    for (uint32_t i = 0; i < em->ring->entries; i++) {
        struct aio_slot *o = &em->ring->slots[i];
        if (o->state != AIO_SLOT_BUSY || i == self) continue;
        int second;
        if (aio_op_fd(&o->op, &second) != fd && second != fd) continue;
        if (stop_op(em, i) == 0) op_done(em, i, -ECANCELED);
    }
    if (fd >= 0 && fd < em->fd_cap && em->fds[fd].watched && em->fds[fd].head == AIO_NO_SLOT) {
        (void)em->poller->watch(em, fd, em->fds[fd].watched, 0);
        em->fds[fd].watched = 0;
    }
}

/* ---- events ------------------------------------------------------------- */

static void drain_wake(struct aio_emul *em)
{
    char buf[64];
    while (read(em->wake_rd, buf, sizeof buf) > 0) {
    }
}

void aio_emul_wake_loop(struct aio_emul *em)
{
#ifdef __linux__
    uint64_t one = 1;
    ssize_t r = write(em->wake_wr, &one, sizeof one);
#else
    ssize_t r = write(em->wake_wr, "", 1);
#endif
    (void)r; /* a full pipe or counter already wakes the loop */
}

static void on_ready(struct aio_emul *em, int fd, short revents)
{
    if (fd == em->wake_rd) { drain_wake(em); return; }
    if (fd < 0) return;
    if (fd >= em->fd_cap) { (void)em->poller->watch(em, fd, revents, 0); return; }
    struct aio_emul_fd *f = &em->fds[fd];
    short want_before = 0; /* what the waiters wanted, gathered on the way */
    for (uint32_t s = f->head, next; s != AIO_NO_SLOT; s = next) {
        next = em->es[s].fd_next;
        struct aio_emul_slot *e = &em->es[s];
        want_before |= e->events;
        if (!(revents & (e->events | EM_ALWAYS))) continue;
        if (slot_of(em, s)->op.kind == AIO_KIND_POLL) {
            fd_unwait(em, s);
            op_done(em, s, (revents & POLLNVAL) ? -EBADF : (revents & (e->events | POLLERR | POLLHUP)));
            continue;
        }
        const struct aio_op *op = &slot_of(em, s)->op;
        int wfd = fd;
        short wev = e->events;
        int r = (op->kind == AIO_KIND_RECV || op->kind == AIO_KIND_SEND) && !(op->recv.flags & MSG_WAITALL)
                    ? sock_try(op)
                    : attempt(em, s, &wfd, &wev);
        if (r == EM_WAIT) {
            if (wfd == fd && wev == e->events) continue;
            fd_unwait(em, s);           /* a splice now waits on its other end */
            fd_wait(em, s, wfd, wev);
            continue;
        }
        /* ready as soon as it started: trying first would have paid */
        if (e->skipped_try && e->armed_reap == em->reap_seq) f->predict_wait &= (short)~e->events;
        fd_unwait(em, s);
        op_done(em, s, r);
    }
    /* A report nobody waited for: drop that interest now (lazily, only when it
     * is reported), or level-triggered reports would repeat. */
    if ((revents & ~(want_before | EM_ALWAYS)) || want_before == 0) {
        short want = fd_wanted(em, fd);
        if (f->watched != want && (em->poller->watch(em, fd, f->watched, want) == 0 || want == 0))
            f->watched = want;
    }
}

static void worker_done(struct aio_emul *em, uint32_t s, int res)
{
    em->in_worker--;
    em->es[s].where = EM_IDLE;
    struct aio_emul_slot *e = &em->es[s];
    (void)e;
    /* a LINK_TIMEOUT that fired while this op ran: the op's result stands */
    op_done(em, s, res);
}

static void fire_timer(struct aio_emul *em, uint32_t s)
{
    struct aio_slot *sl = slot_of(em, s);
    struct aio_emul_slot *e = &em->es[s];
    aio_timer_remove(em, s);
    e->where = EM_IDLE;
    if (sl->op.kind == AIO_KIND_TIMEOUT) { op_done(em, s, 0); return; }
    /* LINK_TIMEOUT: cut its op short; both report -ETIMEDOUT */
    uint32_t g = sl->chain_prev;
    if (stop_op(em, g) != 0) { e->where = EM_LT_FIRED; return; } /* running: its result stands */
    struct aio_slot *gs = slot_of(em, g);
    bool broken = gs->op.common.link == AIO_LINK_SOFT && aio_result_breaks_chain(&gs->op, -ETIMEDOUT);
    push_done(em, g, -ETIMEDOUT);
    push_done(em, s, -ETIMEDOUT);
    continue_chain(em, sl->chain_next, broken);
}

static void expire_timers(struct aio_emul *em)
{
    if (!em->heap_len) return;
    uint64_t now = aio_emul_now();
    for (uint32_t s; (s = aio_timer_first(em)) != AIO_NO_SLOT && em->es[s].deadline <= now;) fire_timer(em, s);
}

/* Everything that needs no waiting: first attempts, timers, worker results. */
static void run_pending(struct aio_emul *em)
{
    if (em->incoming_head == AIO_NO_SLOT && em->runq_head == AIO_NO_SLOT && !em->in_worker && !em->heap_len)
        return;
    for (;;) {
        if (em->incoming_head != AIO_NO_SLOT) {
            uint32_t s;
            if (em->destroying) {
                while ((s = fifo_pop(em, &em->incoming_head, &em->incoming_tail)) != AIO_NO_SLOT) cancel_rest(em, s);
            } else {
                /* every head starts, then the whole list joins the run queue
                 * behind what is there, in one splice */
                for (s = em->incoming_head; s != AIO_NO_SLOT; s = em->es[s].next) start_setup(em, s);
                if (em->runq_tail == AIO_NO_SLOT) em->runq_head = em->incoming_head;
                else em->es[em->runq_tail].next = em->incoming_head;
                em->runq_tail = em->incoming_tail;
                em->incoming_head = em->incoming_tail = AIO_NO_SLOT;
            }
        }
        uint32_t s;
        while ((s = fifo_pop(em, &em->runq_head, &em->runq_tail)) != AIO_NO_SLOT) run_first(em, s);
        if (em->in_worker) aio_workers_collect(&em->workers, worker_done);
        expire_timers(em);
        if (em->runq_head == AIO_NO_SLOT) return;
    }
}

static void deliver_all(struct aio_emul *em)
{
    uint32_t s;
    em->epoch++; /* callbacks may close fds */
    while ((s = fifo_pop(em, &em->done_head, &em->done_tail)) != AIO_NO_SLOT) {
        em->es[s].where = EM_IDLE;
        aio_ring_deliver(em->ring, s, em->es[s].result);
    }
}

static inline void deliver(struct aio_emul *em)
{
    if (em->done_head != AIO_NO_SLOT) deliver_all(em);
}

/* How long the poller may sleep: not past the first timer nor past `left`
 * (AIO_NO_TIMEOUT: no limit); NULL for "until something happens". */
static const struct timespec *wait_time(struct aio_emul *em, bool block, uint64_t left, struct timespec *ts)
{
    if (!block) { *ts = (struct timespec){ 0, 0 }; return ts; }
    uint32_t t = aio_timer_first(em);
    if (t == AIO_NO_SLOT && left == AIO_NO_TIMEOUT) return NULL;
    uint64_t ns = left;
    if (t != AIO_NO_SLOT) {
        uint64_t now = aio_emul_now(), d = em->es[t].deadline;
        uint64_t until = d > now ? d - now : 0;
        if (until < ns) ns = until;
    }
    ts->tv_sec = (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
    return ts;
}

/* ---- the backend interface ---------------------------------------------- */

void aio_emul_submit(struct aio_ring *ring, const uint32_t *idx, size_t n)
{
    struct aio_emul *em = aio_emul_of(ring);
    /* A freed slot is EM_IDLE already (deliver_all); without links every op
     * heads its own chain. */
    const bool linked = ring->batch_linked;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = idx[i];
        if (!linked || ring->slots[s].chain_prev == AIO_NO_SLOT) fifo_push(em, &em->incoming_head, &em->incoming_tail, s);
    }
}

int aio_emul_reap(struct aio_ring *ring, uint64_t timeout_ns)
{
    struct aio_emul *em = aio_emul_of(ring);
    const bool wait = timeout_ns != 0, timed = wait && timeout_ns != AIO_NO_TIMEOUT;
    const uint64_t deadline = timed ? aio_emul_now() + timeout_ns : 0;
    bool polled = false, woken = false;
    em->epoch++; /* the caller may have closed and reopened anything */
    em->reap_seq++;
    for (;;) {
        run_pending(em);
        if (atomic_load_explicit(&ring->wake_pending, memory_order_acquire)) {
            woken = true;
            aio_ring_woken(ring);
        }
        /* Results of this pass wait in the done queue while the poller takes
         * its one look, so a pass delivers everything in one go. */
        bool block = wait && ring->tally.completed == 0 && em->done_head == AIO_NO_SLOT && !woken &&
                     em->incoming_head == AIO_NO_SLOT;
        uint64_t left = AIO_NO_TIMEOUT;
        if (block && timed) {
            uint64_t now = aio_emul_now();
            if (now >= deadline) block = false;
            else left = deadline - now;
        }
        if (!block && (polled || (em->waiting_fd == 0 && em->in_worker == 0))) {
            deliver(em); /* work its callbacks queue starts with the next call */
            return 0;
        }
        /* With registrations still to confirm, look without sleeping first:
         * when something is ready (the common case under load) no
         * confirmation is needed at all. */
        bool look = !block || em->n_unchecked > 0;
        struct timespec ts;
        int n = em->poller->wait(em, wait_time(em, !look, left, &ts), em->events,
                                 (int)(sizeof em->events / sizeof em->events[0]));
        polled = true;
        if (n == 0 && em->n_unchecked) check_registrations(em);
        if (n < 0) {
            if (n != -EINTR) {
                deliver(em); /* what this pass completed still goes out */
                return n;
            }
            run_pending(em);
            deliver(em);
            if (block && ring->tally.completed == 0) return -EINTR;
            continue;
        }
        for (int i = 0; i < n; i++) on_ready(em, em->events[i].fd, em->events[i].revents);
    }
}

int aio_emul_wake(struct aio_ring *ring, struct aio_ring *via)
{
    (void)via; /* no cheaper path than the wake-up descriptor here */
    aio_emul_wake_loop(aio_emul_of(ring));
    return 0;
}

void aio_emul_cancel_all(struct aio_ring *ring)
{
    struct aio_emul *em = aio_emul_of(ring);
    em->destroying = true;
    for (uint32_t i = 0; i < ring->entries; i++) {
        if (ring->slots[i].state != AIO_SLOT_BUSY) continue;
        if (ring->slots[i].op.kind == AIO_KIND_LINK_TIMEOUT) { (void)stop_link_timeout(em, i); continue; }
        if (stop_op(em, i) == 0) op_done(em, i, -ECANCELED);
    }
}

static int wake_open(struct aio_emul *em)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd >= 0) { em->wake_rd = em->wake_wr = fd; return 0; }
#endif
    int p[2];
    if (pipe(p) != 0) return -errno;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
    }
    em->wake_rd = p[0];
    em->wake_wr = p[1];
    return 0;
}

static void wake_close(struct aio_emul *em)
{
    if (em->wake_wr >= 0 && em->wake_wr != em->wake_rd) close(em->wake_wr);
    if (em->wake_rd >= 0) close(em->wake_rd);
    em->wake_rd = em->wake_wr = -1;
}

int aio_emul_init(struct aio_ring *ring, const struct aio_poller_ops *poller)
{
    struct aio_emul *em = calloc(1, sizeof *em);
    if (!em) return -ENOMEM;
    em->ring = ring;
    em->slots = ring->slots;
    em->poller = poller;
    em->wake_rd = em->wake_wr = -1;
    em->incoming_head = em->incoming_tail = em->runq_head = em->runq_tail = AIO_NO_SLOT;
    em->done_head = em->done_tail = AIO_NO_SLOT;
    em->es = calloc(ring->entries, sizeof *em->es);
    em->heap = calloc(ring->entries, sizeof *em->heap);
    em->unchecked = calloc(ring->entries, sizeof *em->unchecked);
    int rc = em->es && em->heap && em->unchecked ? 0 : -ENOMEM;
    if (rc == 0) {
        for (uint32_t i = 0; i < ring->entries; i++) {
            em->es[i].heap_pos = AIO_NO_SLOT;
            em->es[i].aux = -1;
        }
        rc = wake_open(em);
    }
    bool poller_up = false, workers_up = false;
    if (rc == 0) { rc = poller->init(em); poller_up = rc == 0; }
    if (rc == 0) rc = poller->watch(em, em->wake_rd, 0, POLLIN);
    if (rc == 0) { rc = aio_workers_init(&em->workers, em); workers_up = rc == 0; }
    if (rc) {
        if (workers_up) aio_workers_fini(&em->workers);
        if (poller_up) poller->fini(em);
        wake_close(em);
        free(em->es);
        free(em->heap);
        free(em->unchecked);
        free(em);
        return rc;
    }
    ring->be_state = em;
    return 0;
}

void aio_emul_fini(struct aio_ring *ring)
{
    struct aio_emul *em = aio_emul_of(ring);
    aio_workers_fini(&em->workers);
    em->poller->fini(em);
    wake_close(em);
    free(em->fds);
    free(em->es);
    free(em->heap);
    free(em->unchecked);
    free(em);
    ring->be_state = NULL;
}

/* ---- worker side -------------------------------------------------------- */

int aio_emul_run_blocking(struct aio_emul *em, uint32_t s)
{
    const struct aio_op *op = &em->ring->slots[s].op;
    switch (op->kind) {
    case AIO_KIND_CHILD_EXIT: {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)op->child_exit.pid, &si, WEXITED) < 0) return -errno;
        return aio_wait_status(si.si_code, si.si_status);
    }
    case AIO_KIND_SPLICE: {
        /* with the user's own flags, blocking as io_uring's worker does */
        const struct aio_splice *o = &op->splice;
        loff_t in = o->off_in ? *o->off_in : 0, out = o->off_out ? *o->off_out : 0;
        ssize_t r = splice(o->fd_in, o->off_in ? &in : NULL, o->fd_out, o->off_out ? &out : NULL, o->len, o->flags);
        return r < 0 ? -errno : (int)r;
    }
    default:
        return aio_sysop_run(op);
    }
}
