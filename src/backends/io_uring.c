/*
 * The io_uring backend.
 *
 * A batch becomes SQEs at queue time and reaches the kernel in the one
 * io_uring_enter that aio_ring_complete makes (submit and wait together).
 * SQE user_data is the op's id, so a CANCEL by a stale id simply finds nothing.
 *
 * Chains map onto IOSQE_IO_LINK / IOSQE_IO_HARDLINK. Where the running kernel
 * lacks a kind's opcode (BIND and LISTEN arrived in 6.11, for instance) and
 * the kind is one that does not block, the op runs here synchronously instead:
 * its chain is cut before it, and the part after the cut starts when the part
 * before it has completed, following the same link rules.
 *
 * Results are translated to caio's semantics here: TIMEOUT's -ETIME is 0, an op
 * and the LINK_TIMEOUT that bounds it are reported together once both CQEs are
 * in (see aio.h), CHILD_EXIT's siginfo becomes a wait status.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "../aio/ring.h"
#include "../aio/sysop.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Opcodes newer than liburing 2.3's headers. */
enum { OP_WAITID = 50, OP_BIND = 56, OP_LISTEN = 57 };

#define MAX_RW 0x7ffff000u
/* user_data of SQEs the backend adds for itself (generation 0: never an id). */
#define UDATA_INTERNAL 0ull
/* The read kept pending on the ring's wake eventfd, and a wake another ring
 * posted with MSG_RING (also generation 0). */
#define UDATA_WAKE_READ 1ull
#define UDATA_WAKE_MSG 2ull

enum side_flag {
    SIDE_HAVE_RAW = 1,      /* half of an op + LINK_TIMEOUT pair has arrived */
    SIDE_CHAIN_FAILED = 2,  /* an earlier op of the kernel chain failed it */
};

/* Per-slot data that must live from SQE preparation to completion. */
struct uring_side {
    union {
        struct __kernel_timespec ts;
        siginfo_t si;
        uint64_t counter;
    };
    uint32_t held;  /* first op of the chain's remainder, started when this op completes */
    int raw;        /* this op's result, kept until its pair partner arrives */
    int pidfd;      /* CHILD_EXIT without WAITID: the pidfd polled instead, else -1 */
    uint8_t flags;
};

/* A result known without the kernel, delivered on the next reap. */
struct local_done { uint32_t slot; int result; };

struct uring {
    struct io_uring ring;
    struct uring_side *side;        /* [entries] */
    struct local_done *local;       /* [entries], a FIFO */
    uint32_t local_head, local_count;
    uint32_t entries;
    unsigned setup_flags;
    bool native[AIO_KIND_COUNT_];   /* the kind's opcode is usable in this kernel */
    /* The kind goes to the kernel as one plain SQE, and its CQE result needs no
     * translation: what the fast paths of submit and reap check. */
    bool plain[AIO_KIND_COUNT_];
    bool cancel_fd;                 /* ASYNC_CANCEL knows IORING_ASYNC_CANCEL_FD */
    bool msg_ring;                  /* IORING_OP_MSG_RING is there */
    bool woken;                     /* this reap consumed a wake */
    int wake_fd;                    /* eventfd that aio_ring_wake writes */
    uint64_t wake_buf;              /* where the pending read of wake_fd lands */
    /* enabled by (and bound to) the driving thread; read by other threads to
     * know whether MSG_RING can reach the ring yet */
    atomic_bool enabled;
    bool destroying;                /* no chain may start any more */
};

static struct uring *U(struct aio_ring *ring) { return ring->be_state; }

/* ---- set-up ------------------------------------------------------------- */

static const struct { enum aio_kind kind; int opcode; bool may_run_sync; } kind_opcode[] = {
    { AIO_KIND_NOP, IORING_OP_NOP, false },
    { AIO_KIND_READ, IORING_OP_READ, false },
    { AIO_KIND_WRITE, IORING_OP_WRITE, false },
    { AIO_KIND_READV, IORING_OP_READV, false },
    { AIO_KIND_WRITEV, IORING_OP_WRITEV, false },
    { AIO_KIND_FSYNC, IORING_OP_FSYNC, false },
    { AIO_KIND_POLL, IORING_OP_POLL_ADD, false },
    { AIO_KIND_OPENAT, IORING_OP_OPENAT, true },
    { AIO_KIND_CLOSE, IORING_OP_CLOSE, true },
    { AIO_KIND_RENAMEAT, IORING_OP_RENAMEAT, true },
    { AIO_KIND_UNLINKAT, IORING_OP_UNLINKAT, true },
    { AIO_KIND_MKDIRAT, IORING_OP_MKDIRAT, true },
    { AIO_KIND_SYMLINKAT, IORING_OP_SYMLINKAT, true },
    { AIO_KIND_SOCKET, IORING_OP_SOCKET, true },
    { AIO_KIND_BIND, OP_BIND, true },
    { AIO_KIND_LISTEN, OP_LISTEN, true },
    { AIO_KIND_ACCEPT, IORING_OP_ACCEPT, false },
    { AIO_KIND_CONNECT, IORING_OP_CONNECT, false },
    { AIO_KIND_RECV, IORING_OP_RECV, false },
    { AIO_KIND_SEND, IORING_OP_SEND, false },
    { AIO_KIND_RECVMSG, IORING_OP_RECVMSG, false },
    { AIO_KIND_SENDMSG, IORING_OP_SENDMSG, false },
    { AIO_KIND_SHUTDOWN, IORING_OP_SHUTDOWN, true },
    { AIO_KIND_SPLICE, IORING_OP_SPLICE, false },
    { AIO_KIND_TIMEOUT, IORING_OP_TIMEOUT, false },
    { AIO_KIND_LINK_TIMEOUT, IORING_OP_LINK_TIMEOUT, false },
    { AIO_KIND_CANCEL, IORING_OP_ASYNC_CANCEL, false },
    { AIO_KIND_CHILD_EXIT, OP_WAITID, true /* via a pidfd and POLL_ADD */ },
    { AIO_KIND_EVENT_NOTIFY, IORING_OP_WRITE, false },
    { AIO_KIND_EVENT_WAIT, IORING_OP_READ, false },
};

/* AIO_URING_HIDE_OPS=bind,listen makes the backend behave as on a kernel
 * without those opcodes: how the tests reach the synchronous fallback on a
 * kernel that has everything. */
static bool hidden_by_env(enum aio_kind kind)
{
    const char *list = getenv("AIO_URING_HIDE_OPS");
    const char *name = aio_kind_name(kind);
    if (!list || !name) return false;
    size_t nl = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == nl && strncmp(p, name, nl) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

/* Which opcodes this kernel has; refuses a kernel that lacks one that cannot
 * be run synchronously without blocking the thread. */
static int probe_kinds(struct uring *u)
{
    struct io_uring_probe *probe = io_uring_get_probe_ring(&u->ring);
    if (!probe) probe = io_uring_get_probe();
    if (!probe) return -ENOTSUP;
    int rc = 0;
    for (size_t i = 0; i < sizeof kind_opcode / sizeof kind_opcode[0]; i++) {
        enum aio_kind k = kind_opcode[i].kind;
        bool have = io_uring_opcode_supported(probe, kind_opcode[i].opcode) && !hidden_by_env(k);
        if (k == AIO_KIND_CHILD_EXIT && !have && !io_uring_opcode_supported(probe, IORING_OP_POLL_ADD))
            rc = -ENOTSUP;
        if (!have && !kind_opcode[i].may_run_sync) rc = -ENOTSUP;
        u->native[k] = have;
    }
    for (int k = 1; k < AIO_KIND_COUNT_; k++) u->plain[k] = u->native[k];
    /* These need more than one SQE, a translated result, or a partner. */
    u->plain[AIO_KIND_CLOSE] = u->plain[AIO_KIND_CHILD_EXIT] = u->plain[AIO_KIND_TIMEOUT] = false;
    u->plain[AIO_KIND_LINK_TIMEOUT] = u->plain[AIO_KIND_EVENT_NOTIFY] = u->plain[AIO_KIND_EVENT_WAIT] = false;
    /* IORING_ASYNC_CANCEL_FD came with the SOCKET opcode (5.19). */
    u->cancel_fd = io_uring_opcode_supported(probe, IORING_OP_SOCKET) && !hidden_by_env(AIO_KIND_CLOSE);
    u->msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
    io_uring_free_probe(probe);
    return rc;
}

static unsigned pow2_at_least(unsigned v)
{
    unsigned p = 1;
    while (p < v) p <<= 1;
    return p;
}

static int uring_init(struct aio_ring *ring)
{
    struct uring *u = calloc(1, sizeof *u);
    if (!u) return -ENOMEM;
    u->entries = ring->entries;
    u->side = calloc(ring->entries, sizeof *u->side);
    u->local = calloc(ring->entries, sizeof *u->local);
    if (!u->side || !u->local) {
        free(u->side);
        free(u->local);
        free(u);
        return -ENOMEM;
    }
    /* Side data is clean whenever its slot is idle (finish() restores this),
     * so an op outside any chain needs no side-data writes at all. */
    for (uint32_t i = 0; i < ring->entries; i++) {
        u->side[i].pidfd = -1;
        u->side[i].held = AIO_NO_SLOT;
    }

    /* Room for every op in flight plus the extra SQE a CLOSE takes, so queueing
     * never has to flush the SQ in the middle of a batch. */
    unsigned sq = pow2_at_least(ring->entries * 2 > 32768 ? 32768 : ring->entries * 2);
    /* Keep the first set of set-up flags this kernel accepts; the ring is driven
     * by one thread (SINGLE_ISSUER), bound to it when it first queues or reaps
     * (R_DISABLED). DEFER_TASKRUN runs completion work only inside the ring's
     * own waits: faster for loops that wait (ping-pong ~3 %, NOPs ~2 % here),
     * but then a linked op only starts inside a waiting io_uring_enter, so a
     * loop that polls with AIO_NOWAIT between waits needs extra enters (the coro
     * demo: 8 instead of 5); AIO_RING_EAGER_CHAINS leaves it out. */
    static const unsigned wanted[] = {
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
            IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
            IORING_SETUP_R_DISABLED,
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = ring->flags & AIO_RING_EAGER_CHAINS ? 1 : 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = wanted[i] | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
        p.cq_entries = sq * 2;
        rc = io_uring_queue_init_params(sq, &u->ring, &p);
        if (rc == 0) { u->setup_flags = p.flags; break; }
        if (rc != -EINVAL) break;  /* EPERM, ENOSYS, ENOMEM: no flag set will help */
    }
    if (rc == 0) {
        rc = probe_kinds(u);
        if (rc == 0) {
            u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (u->wake_fd < 0) rc = -errno;
        }
        if (rc) io_uring_queue_exit(&u->ring);
    }
    if (rc) {
        free(u->side);
        free(u->local);
        free(u);
        return rc;
    }
    ring->be_state = u;
    return 0;
}

static void uring_fini(struct aio_ring *ring)
{
    struct uring *u = U(ring);
    io_uring_queue_exit(&u->ring);
    close(u->wake_fd);
    free(u->side);
    free(u->local);
    free(u);
    ring->be_state = NULL;
}

/* The first thread that queues or reaps becomes the ring's owner: a ring
 * created disabled binds SINGLE_ISSUER to that thread, and the registered ring
 * fd lives in that thread's io_uring context. */
static inline struct io_uring_sqe *sqe_get(struct uring *u);

/* Keeps a read pending on the wake eventfd: aio_ring_wake's write completes it. */
static void arm_wake(struct uring *u)
{
    struct io_uring_sqe *sqe = sqe_get(u);
    io_uring_prep_read(sqe, u->wake_fd, &u->wake_buf, sizeof u->wake_buf, 0);
    io_uring_sqe_set_data64(sqe, UDATA_WAKE_READ);
}

static void bind_to_thread(struct uring *u)
{
    if (atomic_load_explicit(&u->enabled, memory_order_relaxed)) return;
    /* liburing 2.3 declares io_uring_enable_rings but does not export it */
    if (u->setup_flags & IORING_SETUP_R_DISABLED)
        (void)syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    (void)io_uring_register_ring_fd(&u->ring); /* an optimisation: fine to lack */
    atomic_store_explicit(&u->enabled, true, memory_order_release);
    arm_wake(u);
}

/* ---- SQE preparation ---------------------------------------------------- */

/* The SQ is sized so this is rare: flush it to the kernel to make room. */
static __attribute__((noinline)) struct io_uring_sqe *sqe_get_slow(struct uring *u)
{
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(&u->ring))) {
        int rc = io_uring_submit(&u->ring);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) abort(); /* ring unusable */
    }
    return sqe;
}

static inline struct io_uring_sqe *sqe_get(struct uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    return sqe ? sqe : sqe_get_slow(u);
}

static void set_ts(struct __kernel_timespec *ts, uint64_t ns)
{
    ts->tv_sec = (long long)(ns / 1000000000u);
    ts->tv_nsec = (long long)(ns % 1000000000u);
}

static unsigned rw_len(size_t len) { return len > MAX_RW ? MAX_RW : (unsigned)len; }

/* Fills `sqe` for slot `s` (a kind this kernel runs). */
static inline __attribute__((always_inline)) void prep(struct uring *u, struct aio_slot *sl, struct uring_side *sd,
                                                     struct io_uring_sqe *sqe)
{
    const struct aio_op *op = &sl->op;
    switch (op->kind) {
    case AIO_KIND_NOP: io_uring_prep_nop(sqe); break;
    case AIO_KIND_READ:
        io_uring_prep_read(sqe, op->read.fd, op->read.buf, rw_len(op->read.len), (uint64_t)op->read.offset);
        break;
    case AIO_KIND_WRITE:
        io_uring_prep_write(sqe, op->write.fd, op->write.buf, rw_len(op->write.len), (uint64_t)op->write.offset);
        break;
    case AIO_KIND_READV:
        io_uring_prep_readv(sqe, op->readv.fd, op->readv.iov, (unsigned)op->readv.iovcnt, (uint64_t)op->readv.offset);
        break;
    case AIO_KIND_WRITEV:
        io_uring_prep_writev(sqe, op->writev.fd, op->writev.iov, (unsigned)op->writev.iovcnt,
                             (uint64_t)op->writev.offset);
        break;
    case AIO_KIND_FSYNC:
        io_uring_prep_fsync(sqe, op->fsync.fd, op->fsync.flags & AIO_FSYNC_DATASYNC ? IORING_FSYNC_DATASYNC : 0);
        break;
    case AIO_KIND_POLL: io_uring_prep_poll_add(sqe, op->poll.fd, (unsigned)op->poll.events); break;
    case AIO_KIND_OPENAT:
        io_uring_prep_openat(sqe, aio_dirfd(op->openat.dirfd), op->openat.path, op->openat.flags,
                             (mode_t)op->openat.mode);
        break;
    case AIO_KIND_CLOSE: io_uring_prep_close(sqe, op->close.fd); break;
    case AIO_KIND_RENAMEAT:
        io_uring_prep_renameat(sqe, aio_dirfd(op->renameat.old_dirfd), op->renameat.old_path,
                               aio_dirfd(op->renameat.new_dirfd), op->renameat.new_path, op->renameat.flags);
        break;
    case AIO_KIND_UNLINKAT:
        io_uring_prep_unlinkat(sqe, aio_dirfd(op->unlinkat.dirfd), op->unlinkat.path, op->unlinkat.flags);
        break;
    case AIO_KIND_MKDIRAT:
        io_uring_prep_mkdirat(sqe, aio_dirfd(op->mkdirat.dirfd), op->mkdirat.path, (mode_t)op->mkdirat.mode);
        break;
    case AIO_KIND_SYMLINKAT:
        io_uring_prep_symlinkat(sqe, op->symlinkat.target, aio_dirfd(op->symlinkat.dirfd), op->symlinkat.linkpath);
        break;
    case AIO_KIND_SOCKET:
        io_uring_prep_socket(sqe, op->socket.domain, op->socket.type, op->socket.protocol, 0);
        break;
    case AIO_KIND_BIND:
        io_uring_prep_rw(OP_BIND, sqe, op->bind.socket, op->bind.addr, 0, op->bind.addrlen);
        break;
    case AIO_KIND_LISTEN:
        io_uring_prep_rw(OP_LISTEN, sqe, op->listen.socket, NULL,
                         (unsigned)(op->listen.backlog ? op->listen.backlog : SOMAXCONN), 0);
        break;
    case AIO_KIND_ACCEPT:
        io_uring_prep_accept(sqe, op->accept.socket, op->accept.addr, op->accept.addrlen, op->accept.flags);
        break;
    case AIO_KIND_CONNECT:
        io_uring_prep_connect(sqe, op->connect.socket, op->connect.addr, op->connect.addrlen);
        break;
    case AIO_KIND_RECV:
        io_uring_prep_recv(sqe, op->recv.socket, op->recv.buf, rw_len(op->recv.len), op->recv.flags);
        break;
    case AIO_KIND_SEND:
        io_uring_prep_send(sqe, op->send.socket, op->send.buf, rw_len(op->send.len), op->send.flags | MSG_NOSIGNAL);
        break;
    case AIO_KIND_RECVMSG:
        io_uring_prep_recvmsg(sqe, op->recvmsg.socket, op->recvmsg.msg, (unsigned)op->recvmsg.flags);
        break;
    case AIO_KIND_SENDMSG:
        io_uring_prep_sendmsg(sqe, op->sendmsg.socket, op->sendmsg.msg, (unsigned)(op->sendmsg.flags | MSG_NOSIGNAL));
        break;
    case AIO_KIND_SHUTDOWN: io_uring_prep_shutdown(sqe, op->shutdown.socket, op->shutdown.how); break;
    case AIO_KIND_SPLICE:
        io_uring_prep_splice(sqe, op->splice.fd_in, op->splice.off_in ? *op->splice.off_in : -1,
                             op->splice.fd_out, op->splice.off_out ? *op->splice.off_out : -1,
                             (unsigned)op->splice.len, op->splice.flags);
        break;
    case AIO_KIND_TIMEOUT:
        set_ts(&sd->ts, op->timeout.ns);
        /* ETIME_SUCCESS: an expired TIMEOUT is a success, also for its chain */
        io_uring_prep_timeout(sqe, &sd->ts, 0, IORING_TIMEOUT_ETIME_SUCCESS);
        break;
    case AIO_KIND_LINK_TIMEOUT:
        set_ts(&sd->ts, op->link_timeout.ns);
        io_uring_prep_link_timeout(sqe, &sd->ts, 0);
        break;
    case AIO_KIND_CANCEL: io_uring_prep_cancel64(sqe, op->cancel.id, 0); break;
    case AIO_KIND_CHILD_EXIT:
        if (u->native[AIO_KIND_CHILD_EXIT]) {
            memset(&sd->si, 0, sizeof sd->si);
            io_uring_prep_rw(OP_WAITID, sqe, op->child_exit.pid, NULL, P_PID, 0);
            sqe->file_index = WEXITED;
            sqe->addr2 = (uint64_t)(uintptr_t)&sd->si;
        } else {
            io_uring_prep_poll_add(sqe, sd->pidfd, POLLIN);
        }
        break;
    case AIO_KIND_EVENT_NOTIFY:
        sd->counter = 1;
        io_uring_prep_write(sqe, (int)op->event_notify.source->handle_[1], &sd->counter, sizeof sd->counter, 0);
        break;
    case AIO_KIND_EVENT_WAIT:
        io_uring_prep_read(sqe, (int)op->event_wait.source->handle_[0], &sd->counter, sizeof sd->counter, 0);
        break;
    case AIO_KIND_COUNT_: break;
    }
}

/* ---- chains ------------------------------------------------------------- */

static void push_local(struct uring *u, uint32_t s, int result)
{
    uint32_t at = (u->local_head + u->local_count) % u->entries;
    u->local[at] = (struct local_done){ s, result };
    u->local_count++;
}

/* Everything from `s` to the chain's end completes with -ECANCELED. */
static void cancel_rest(struct aio_ring *ring, struct uring *u, uint32_t s)
{
    for (; s != AIO_NO_SLOT; s = ring->slots[s].chain_next) push_local(u, s, -ECANCELED);
}

/* Whether slot `s` goes to the kernel; if not, *res is what it reports when
 * run here. A CHILD_EXIT without WAITID opens its pidfd now, so that a bad pid
 * is known before anything is submitted. */
static bool in_kernel(struct aio_ring *ring, struct uring *u, uint32_t s)
{
    const struct aio_op *op = &ring->slots[s].op;
    switch (op->kind) {
    case AIO_KIND_LINK_TIMEOUT:
        return true; /* only reached after a kernel op; see start_chain */
    case AIO_KIND_CLOSE:
        return u->native[AIO_KIND_CLOSE] && u->cancel_fd;
    case AIO_KIND_CHILD_EXIT:
        if (u->native[AIO_KIND_CHILD_EXIT]) return true;
        if (u->side[s].pidfd < 0) {
            int fd = (int)syscall(SYS_pidfd_open, op->child_exit.pid, 0);
            if (fd < 0) { u->side[s].raw = errno == ESRCH ? -ECHILD : -errno; return false; }
            u->side[s].pidfd = fd;
        }
        return true;
    default:
        return u->native[op->kind];
    }
}

/* Runs slot `s` here; the result of an op the kernel cannot do. */
static int run_here(struct aio_ring *ring, struct uring *u, uint32_t s)
{
    const struct aio_op *op = &ring->slots[s].op;
    switch (op->kind) {
    case AIO_KIND_CHILD_EXIT:
        return u->side[s].raw; /* its pidfd could not be opened */
    case AIO_KIND_CLOSE: {
        /* Without IORING_ASYNC_CANCEL_FD: cancel this ring's ops on the fd one
         * by one. The kernel holds its own file references, so closing now is
         * safe; the cancellations complete them with -ECANCELED. */
        bool cancelling = false;
        /* aio_op_fd() is -1 for ops without a descriptor: closing a negative
         * fd (which fails with -EBADF) must not match, and so cancel, them */
        for (uint32_t i = 0; op->close.fd >= 0 && i < ring->entries; i++) {
            struct aio_slot *o = &ring->slots[i];
            int second;
            if (o->state != AIO_SLOT_BUSY || i == s) continue;
            int fd = aio_op_fd(&o->op, &second);
            if (fd != op->close.fd && second != op->close.fd) continue;
            struct io_uring_sqe *sqe = sqe_get(u);
            io_uring_prep_cancel64(sqe, aio_slot_id(ring, i), 0);
            io_uring_sqe_set_data64(sqe, UDATA_INTERNAL);
            cancelling = true;
        }
        /* Ops on the fd queued before this CLOSE may still sit in the SQ (the
         * same batch, or one not yet reaped): submit them and their
         * cancellations before the descriptor goes, or they would find it
         * closed and report -EBADF instead of -ECANCELED. */
        if (cancelling) (void)io_uring_submit(&u->ring);
        return aio_sysop_run(op);
    }
    default:
        return aio_sysop_run(op);
    }
}

/*
 * The kernel does not fail the links of these requests when they fail while
 * running (io_uring never marks them failed: an FSYNC on a pipe, a SHUTDOWN of
 * an unconnected socket, a MKDIRAT of an existing path all let a SOFT chain run
 * on); it only does so for errors found before they run, such as a bad fd.
 */
static bool kernel_keeps_links_on_failure(enum aio_kind kind)
{
    switch (kind) {
    case AIO_KIND_FSYNC:
    case AIO_KIND_SHUTDOWN:
    case AIO_KIND_MKDIRAT:
    case AIO_KIND_UNLINKAT:
    case AIO_KIND_RENAMEAT:
    case AIO_KIND_SYMLINKAT:
        return true;
    default:
        return false;
    }
}

/* Whether the kernel run must end after slot `s` so that finish() applies
 * the SOFT rule itself: after such an op, or after the LINK_TIMEOUT bounding
 * one (an op and its LINK_TIMEOUT must reach the kernel together). */
static bool soft_link_needs_cut(struct aio_ring *ring, uint32_t s)
{
    const struct aio_slot *sl = &ring->slots[s];
    if (sl->chain_next == AIO_NO_SLOT) return false;
    if (sl->op.kind == AIO_KIND_LINK_TIMEOUT) sl = &ring->slots[sl->chain_prev];
    else if (ring->slots[sl->chain_next].op.kind == AIO_KIND_LINK_TIMEOUT) return false;
    return sl->op.common.link == AIO_LINK_SOFT && kernel_keeps_links_on_failure(sl->op.kind);
}

/* SQEs slot `s` needs in one submission: a CLOSE brings the cancellation
 * before it, and an op bounded by a LINK_TIMEOUT brings the LINK_TIMEOUT. */
static unsigned run_sqes(struct aio_ring *ring, uint32_t s)
{
    const struct aio_slot *sl = &ring->slots[s];
    unsigned n = sl->op.kind == AIO_KIND_CLOSE ? 2 : 1;
    if (sl->chain_next != AIO_NO_SLOT && ring->slots[sl->chain_next].op.kind == AIO_KIND_LINK_TIMEOUT) n++;
    return n;
}

/*
 * Starts a chain at slot `s`, the first op of it not yet started. A run of ops
 * the kernel can do goes to the SQ as one linked run; an op it cannot do runs
 * here, and the run before it ends there: the op after the run's last one is
 * remembered in that op's side data and started when it completes.
 */
static void start_chain(struct aio_ring *ring, struct uring *u, uint32_t s)
{
    while (s != AIO_NO_SLOT) {
        struct aio_slot *sl = &ring->slots[s];
        if (u->destroying) { cancel_rest(ring, u, s); return; }
        if (!in_kernel(ring, u, s)) {
            int res = run_here(ring, u, s);
            bool broken = sl->op.common.link == AIO_LINK_SOFT && aio_result_breaks_chain(&sl->op, res);
            uint32_t next = sl->chain_next;
            push_local(u, s, res);
            if (next != AIO_NO_SLOT && ring->slots[next].op.kind == AIO_KIND_LINK_TIMEOUT) {
                /* the op it bounds finished at once: in time */
                push_local(u, next, 0);
                next = ring->slots[next].chain_next;
            }
            if (broken) { cancel_rest(ring, u, next); return; }
            s = next;
            continue;
        }
        struct io_uring_sqe *prev = NULL;
        uint32_t prev_s = AIO_NO_SLOT;
        for (;;) {
            struct aio_slot *cur = &ring->slots[s];
            struct uring_side *sd = &u->side[s];
            uint32_t next = cur->chain_next;
            unsigned need = cur->op.kind == AIO_KIND_LINK_TIMEOUT ? 0 : run_sqes(ring, s);
            if (need && io_uring_sq_space_left(&u->ring) < need) {
                /* A submission ends a kernel chain: a run must never straddle
                 * one (rings above 16384 entries can fill the SQ). Before the
                 * run, submit what the SQ holds (whole runs); in its middle,
                 * end the run at the previous op, whose completion then
                 * starts this one, as for an op run synchronously. */
                if (prev) {
                    prev->flags &= (__u8)~(IOSQE_IO_LINK | IOSQE_IO_HARDLINK);
                    u->side[prev_s].held = s;
                    return;
                }
                while (io_uring_sq_space_left(&u->ring) < need) {
                    int rc = io_uring_submit(&u->ring);
                    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) abort(); /* ring unusable */
                }
            }
            bool cut = next != AIO_NO_SLOT && (!in_kernel(ring, u, next) || soft_link_needs_cut(ring, s));
            if (cut) sd->held = next;
            if (cur->op.kind == AIO_KIND_CLOSE) {
                /* cancel the fd's ops in flight first, then close, in order */
                struct io_uring_sqe *c = sqe_get(u);
                io_uring_prep_cancel_fd(c, cur->op.close.fd, IORING_ASYNC_CANCEL_ALL);
                io_uring_sqe_set_data64(c, UDATA_INTERNAL);
                c->flags |= IOSQE_IO_HARDLINK;
            }
            struct io_uring_sqe *sqe = sqe_get(u);
            prep(u, cur, sd, sqe);
            io_uring_sqe_set_data64(sqe, aio_slot_id(ring, s));
            if (next == AIO_NO_SLOT || cut) return;
            sqe->flags |= cur->op.common.link == AIO_LINK_HARD ? IOSQE_IO_HARDLINK : IOSQE_IO_LINK;
            prev = sqe;
            prev_s = s;
            s = next;
        }
    }
}

static void uring_submit(struct aio_ring *ring, const uint32_t *idx, size_t n)
{
    struct uring *u = U(ring);
    bind_to_thread(u);
    struct io_uring_sq *sq = &u->ring.sq;
    if (!ring->batch_linked && !u->destroying && io_uring_sq_space_left(&u->ring) >= 2 * n) {
        /* No chains, and room for every op even at two SQEs each: take SQEs
         * straight from the SQ tail instead of one checked call per op. */
        unsigned tail = sq->sqe_tail;
        for (size_t i = 0; i < n; i++) {
            uint32_t s = idx[i];
            struct aio_slot *sl = &ring->slots[s];
            if (!u->plain[sl->op.kind]) {
                sq->sqe_tail = tail;
                start_chain(ring, u, s);
                tail = sq->sqe_tail;
                continue;
            }
            struct io_uring_sqe *sqe = &sq->sqes[tail++ & sq->ring_mask];
            prep(u, sl, &u->side[s], sqe);
            io_uring_sqe_set_data64(sqe, aio_make_id(s, sl->gen));
        }
        sq->sqe_tail = tail;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t s = idx[i];
        struct aio_slot *sl = &ring->slots[s];
        if (sl->chain_prev != AIO_NO_SLOT) continue; /* started with its chain */
        if (sl->chain_next == AIO_NO_SLOT && u->plain[sl->op.kind] && !u->destroying) {
            /* the common case: one op, one SQE */
            struct io_uring_sqe *sqe = sqe_get(u);
            prep(u, sl, &u->side[s], sqe);
            io_uring_sqe_set_data64(sqe, aio_make_id(s, sl->gen));
            continue;
        }
        start_chain(ring, u, s);
    }
}

/* ---- completions -------------------------------------------------------- */

/* Marks the op after `s` (and past a LINK_TIMEOUT, the op after that) as
 * failed by its chain, as the kernel will complete them with -ECANCELED. */
static void mark_chain_failed(struct aio_ring *ring, struct uring *u, uint32_t s)
{
    for (uint32_t n = ring->slots[s].chain_next; n != AIO_NO_SLOT; n = ring->slots[n].chain_next) {
        u->side[n].flags |= SIDE_CHAIN_FAILED;
        if (ring->slots[n].op.kind != AIO_KIND_LINK_TIMEOUT) break;
    }
}

/* Reports slot `s` and, if the chain was cut after it, continues the chain. */
static void finish(struct aio_ring *ring, struct uring *u, uint32_t s, int res, bool broken)
{
    uint32_t held = u->side[s].held;
    u->side[s].held = AIO_NO_SLOT;
    u->side[s].flags = 0;
    aio_ring_deliver(ring, s, res);
    if (held == AIO_NO_SLOT) return;
    if (broken || u->destroying) cancel_rest(ring, u, held);
    else start_chain(ring, u, held);
}

/* An op and the LINK_TIMEOUT bounding it, both arrived: report them together. */
static void finish_pair(struct aio_ring *ring, struct uring *u, uint32_t g, uint32_t t)
{
    int gr = u->side[g].raw, tr = u->side[t].raw;
    bool fired = tr == -ETIME && (gr == -ECANCELED || gr == -EINTR);
    int g_res = fired ? -ETIMEDOUT : gr;
    int t_res = fired ? -ETIMEDOUT : gr == -ECANCELED ? -ECANCELED : 0;
    bool g_broken = (u->side[g].flags & SIDE_CHAIN_FAILED) ||
                    (ring->slots[g].op.common.link == AIO_LINK_SOFT && aio_result_breaks_chain(&ring->slots[g].op, g_res));
    bool t_broken = g_broken || (u->side[t].flags & SIDE_CHAIN_FAILED);
    finish(ring, u, g, g_res, g_broken);
    finish(ring, u, t, t_res, t_broken);
}

/* A CQE's result in caio's terms (before pairing). */
static int translate(struct aio_ring *ring, struct uring *u, uint32_t s, int raw)
{
    const struct aio_op *op = &ring->slots[s].op;
    struct uring_side *sd = &u->side[s];
    switch (op->kind) {
    case AIO_KIND_TIMEOUT:
        return raw == -ETIME ? 0 : raw;
    case AIO_KIND_EVENT_NOTIFY:
    case AIO_KIND_EVENT_WAIT:
        return raw < 0 ? raw : 0;
    case AIO_KIND_CHILD_EXIT:
        if (sd->pidfd >= 0) {
            /* POLL_ADD on the pidfd said the child exited: reap it now */
            int fd = sd->pidfd;
            sd->pidfd = -1;
            if (raw >= 0) {
                memset(&sd->si, 0, sizeof sd->si);
                raw = waitid((idtype_t)3 /* P_PIDFD */, (id_t)fd, &sd->si, WEXITED | WNOHANG) < 0 ? -errno : 0;
            }
            close(fd);
        }
        return raw < 0 ? raw : aio_wait_status(sd->si.si_code, sd->si.si_status);
    default:
        return raw;
    }
}

static void on_cqe(struct aio_ring *ring, struct uring *u, uint64_t udata, int raw)
{
    if (aio_id_gen(udata) == 0) return; /* the backend's own SQEs */
    uint32_t s = aio_id_slot(udata);
    struct aio_slot *sl = &ring->slots[s];
    struct uring_side *sd = &u->side[s];
    int res = translate(ring, u, s, raw);

    bool is_lt = sl->op.kind == AIO_KIND_LINK_TIMEOUT;
    bool broken = (sd->flags & SIDE_CHAIN_FAILED) ||
                  (!is_lt && sl->op.common.link == AIO_LINK_SOFT && aio_result_breaks_chain(&sl->op, res));
    if (broken) mark_chain_failed(ring, u, s);

    uint32_t partner = is_lt ? sl->chain_prev
                     : (sl->chain_next != AIO_NO_SLOT && ring->slots[sl->chain_next].op.kind == AIO_KIND_LINK_TIMEOUT)
                         ? sl->chain_next : AIO_NO_SLOT;
    if (partner == AIO_NO_SLOT) { finish(ring, u, s, res, broken); return; }

    sd->raw = res;
    sd->flags |= SIDE_HAVE_RAW;
    if (!(u->side[partner].flags & SIDE_HAVE_RAW)) return;
    if (is_lt) finish_pair(ring, u, partner, s);
    else finish_pair(ring, u, s, partner);
}

static void drain_local(struct aio_ring *ring, struct uring *u)
{
    while (u->local_count) {
        struct local_done d = u->local[u->local_head];
        u->local_head = (u->local_head + 1) % u->entries;
        u->local_count--;
        /* finish() clears side flags for kernel completions; a slot completed
         * here may carry SIDE_CHAIN_FAILED from mark_chain_failed (it was held
         * after a failed op), which must not leak into the slot's next op. */
        u->side[d.slot].flags = 0;
        aio_ring_deliver(ring, d.slot, d.result);
    }
}

/* The backend's own CQEs (generation 0): wakes, and cancellations it issued. */
static void on_internal_cqe(struct aio_ring *ring, struct uring *u, uint64_t udata)
{
    if (udata == UDATA_WAKE_READ) arm_wake(u);
    else if (udata != UDATA_WAKE_MSG) return;
    u->woken = true;
    aio_ring_woken(ring);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int uring_reap(struct aio_ring *ring, uint64_t timeout_ns)
{
    struct uring *u = U(ring);
    bind_to_thread(u);
    const bool wait = timeout_ns != 0, timed = wait && timeout_ns != AIO_NO_TIMEOUT;
    const uint64_t deadline = timed ? now_ns() + timeout_ns : 0;
    const uint32_t entries = ring->entries;
    u->woken = false;
    for (;;) {
        drain_local(ring, u);
        bool block = wait && ring->tally.completed == 0 && !u->woken;
        /* one io_uring_enter: submit what is queued and, if we must, wait */
        int rc;
        if (!block) {
            rc = io_uring_submit_and_get_events(&u->ring);
        } else if (!timed) {
            rc = io_uring_submit_and_wait(&u->ring, 1);
        } else {
            uint64_t now = now_ns();
            struct __kernel_timespec ts;
            set_ts(&ts, deadline > now ? deadline - now : 0);
            struct io_uring_cqe *first;
            rc = io_uring_submit_and_wait_timeout(&u->ring, &first, 1, &ts, NULL);
        }
        /* Read the CQ tail once; CQEs that land meanwhile wait for the next pass. */
        struct io_uring_cq *cq = &u->ring.cq;
        unsigned head = *cq->khead, tail = io_uring_smp_load_acquire(cq->ktail), seen = tail - head;
        for (; head != tail; head++) {
            const struct io_uring_cqe *cqe = &cq->cqes[head & cq->ring_mask];
            uint64_t udata = cqe->user_data;
            uint32_t s = aio_id_slot(udata);
            if (aio_id_gen(udata) == 0) { on_internal_cqe(ring, u, udata); continue; }
            if (s >= entries) continue; /* liburing's own timeout on kernels without EXT_ARG */
            struct aio_slot *sl = &ring->slots[s];
            if (u->plain[sl->op.kind] && (sl->chain_next & sl->chain_prev) == AIO_NO_SLOT) {
                aio_ring_deliver(ring, s, cqe->res); /* not in a chain, nothing to translate */
                continue;
            }
            on_cqe(ring, u, udata, cqe->res);
        }
        io_uring_cq_advance(&u->ring, seen);
        drain_local(ring, u);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) return rc;
        if (!wait || ring->tally.completed > 0 || u->woken) return 0;
        if (timed && now_ns() >= deadline) return 0;
        if (rc == -EINTR && seen == 0) return -EINTR;
    }
}

/* From any thread. A ring of this thread's own (`via`) carries the wake-up as a
 * MSG_RING in its next submission; otherwise the eventfd write wakes it now. */
static int uring_wake(struct aio_ring *ring, struct aio_ring *via)
{
    struct uring *t = U(ring);
    if (via && via->be == ring->be && t->msg_ring && atomic_load_explicit(&t->enabled, memory_order_acquire)) {
        struct uring *v = U(via);
        bind_to_thread(v);
        struct io_uring_sqe *sqe = sqe_get(v);
        io_uring_prep_msg_ring(sqe, t->ring.ring_fd, 0, UDATA_WAKE_MSG, 0);
        io_uring_sqe_set_data64(sqe, UDATA_INTERNAL);
        return 0;
    }
    uint64_t one = 1;
    if (write(t->wake_fd, &one, sizeof one) == (ssize_t)sizeof one || errno == EAGAIN) return 0;
    return -errno;
}

static void uring_cancel_all(struct aio_ring *ring)
{
    struct uring *u = U(ring);
    bind_to_thread(u);
    u->destroying = true;
    for (uint32_t i = 0; i < ring->entries; i++) {
        if (ring->slots[i].state != AIO_SLOT_BUSY) continue;
        struct io_uring_sqe *sqe = sqe_get(u);
        io_uring_prep_cancel64(sqe, aio_slot_id(ring, i), 0);
        io_uring_sqe_set_data64(sqe, UDATA_INTERNAL);
    }
}

static const struct aio_backend_ops uring_ops = {
    .kind = AIO_BACKEND_IO_URING,
    .init = uring_init,
    .fini = uring_fini,
    .submit = uring_submit,
    .reap = uring_reap,
    .cancel_all = uring_cancel_all,
    .wake = uring_wake,
};

const struct aio_backend_ops *aio_backend_io_uring(void) { return &uring_ops; }
