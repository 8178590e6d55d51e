/*
 * caio — asynchronous I/O in the shape of io_uring.
 *
 * Fill operation structs, link them into chains, submit whole batches and reap
 * completions. One API over three kinds of backend: io_uring, a readiness
 * backend (epoll / poll / kqueue) that emulates io_uring's semantics, and IOCP.
 *
 * Conventions that hold for every call and every operation on every backend:
 *  - results are 0 (or a count) on success and a negative errno value on failure;
 *  - invalid arguments are refused with -EINVAL before anything is queued;
 *  - an op is copied when it is queued: only what its pointers point to (buffers,
 *    addresses, out_* targets) must stay valid until it completes.
 */
#ifndef CAIO_AIO_AIO_H
#define CAIO_AIO_AIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
/* Windows has no struct iovec; this one has the POSIX layout and is mapped to WSABUF. */
struct iovec { void *iov_base; size_t iov_len; };
struct msghdr;
#else
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(CAIO_BUILDING)
#    define AIO_API __declspec(dllexport)
#  else
#    define AIO_API
#  endif
#elif defined(__GNUC__)
#  define AIO_API __attribute__((visibility("default")))
#else
#  define AIO_API
#endif

/* ------------------------------------------------------------------------- */
/* Identifiers, kinds, links                                                  */
/* ------------------------------------------------------------------------- */

/*
 * Names one queued op on one ring. It carries a generation, so an id kept after
 * its op completed never names a later op that reuses the slot: cancelling it
 * reports -ENOENT. 0 is never a valid id.
 */
typedef uint64_t aio_id;

/* The operation kinds. 0 is deliberately not a kind: a zeroed op is refused. */
enum aio_kind {
    AIO_KIND_NOP = 1,
    AIO_KIND_READ,
    AIO_KIND_WRITE,
    AIO_KIND_READV,
    AIO_KIND_WRITEV,
    AIO_KIND_FSYNC,
    AIO_KIND_POLL,
    AIO_KIND_OPENAT,
    AIO_KIND_CLOSE,
    AIO_KIND_RENAMEAT,
    AIO_KIND_UNLINKAT,
    AIO_KIND_MKDIRAT,
    AIO_KIND_SYMLINKAT,
    AIO_KIND_SOCKET,
    AIO_KIND_BIND,
    AIO_KIND_LISTEN,
    AIO_KIND_ACCEPT,
    AIO_KIND_CONNECT,
    AIO_KIND_RECV,
    AIO_KIND_SEND,
    AIO_KIND_RECVMSG,
    AIO_KIND_SENDMSG,
    AIO_KIND_SHUTDOWN,
    AIO_KIND_SPLICE,
    AIO_KIND_TIMEOUT,
    AIO_KIND_LINK_TIMEOUT,
    AIO_KIND_CANCEL,
    AIO_KIND_CHILD_EXIT,
    AIO_KIND_EVENT_NOTIFY,
    AIO_KIND_EVENT_WAIT,
    AIO_KIND_COUNT_ /* not a kind: one past the last */
};

/*
 * How an op is tied to the op that follows it in the same batch.
 *  NONE: the next op is independent.
 *  SOFT: the next op starts once this one has succeeded; if this one fails, every
 *        remaining op of the chain completes with -ECANCELED without running.
 *        As in io_uring, a READ, WRITE, READV, WRITEV or SPLICE that moved fewer
 *        bytes than asked (and a socket transfer with MSG_WAITALL that did)
 *        counts as a failure for the chain, though the op itself reports success.
 *  HARD: the next op starts once this one has completed, whatever its result.
 * The last op of a batch must not carry a link (-EINVAL).
 */
enum aio_link {
    AIO_LINK_NONE = 0,
    AIO_LINK_SOFT,
    AIO_LINK_HARD
};

/* Read or write at the file's current position instead of at `offset`. */
#define AIO_OFFSET_CURRENT ((int64_t)-1)
/* FSYNC flag: flush data only (fdatasync), not all metadata. */
#define AIO_FSYNC_DATASYNC 1u
/* OPENAT/UNLINKAT/...: `dirfd` value for the current directory. 0, the value an
 * omitted designated field takes, means the same (see "dirfd" below). */
#define AIO_AT_CWD (-100)

/* ------------------------------------------------------------------------- */
/* Operations                                                                 */
/* ------------------------------------------------------------------------- */

/*
 * The fields every kind starts with (a common initial sequence, so the core can
 * read them through `aio_op.common` whatever the kind).
 *  link      how the next op in the batch depends on this one (enum aio_link)
 *  out_error receives the op's result: 0 or a negative errno
 *  out_id    receives the op's id as soon as it is queued (for CANCEL)
 *  userdata  handed back to the ring's on_complete callback
 */
#define AIO_OP_COMMON_FIELDS \
    enum aio_link link;      \
    int *out_error;          \
    aio_id *out_id;          \
    uint64_t userdata

/*
 * Field conventions:
 *  - `fd` is a file descriptor, `socket` a socket; `offset` is where a READ/WRITE
 *    happens in the file (ignored for pipes and sockets; AIO_OFFSET_CURRENT for
 *    the file position).
 *  - `dirfd` is the directory a relative `path` is resolved in: a descriptor,
 *    AIO_AT_CWD, or 0 (the field left out), which also means the current
 *    directory. To resolve against descriptor 0 itself, dup() it first.
 *  - out_* value targets are written on completion: the count, descriptor or
 *    status on success; 0 (counts) or -1 (descriptors) on failure.
 */
struct aio_op_common { AIO_OP_COMMON_FIELDS; };
/* Completes with 0. */
struct aio_nop { AIO_OP_COMMON_FIELDS; };
/* pread(2)-like: up to `len` bytes into `buf`. */
struct aio_read { AIO_OP_COMMON_FIELDS; int fd; void *buf; size_t len; int64_t offset; size_t *out_read; };
/* pwrite(2)-like. A short write is not retried: see *out_written. */
struct aio_write { AIO_OP_COMMON_FIELDS; int fd; const void *buf; size_t len; int64_t offset; size_t *out_written; };
struct aio_readv { AIO_OP_COMMON_FIELDS; int fd; const struct iovec *iov; int iovcnt; int64_t offset; size_t *out_read; };
struct aio_writev { AIO_OP_COMMON_FIELDS; int fd; const struct iovec *iov; int iovcnt; int64_t offset; size_t *out_written; };
/* fsync(2), or fdatasync(2) with AIO_FSYNC_DATASYNC. */
struct aio_fsync { AIO_OP_COMMON_FIELDS; int fd; unsigned flags; };
/* One-shot readiness: completes when any of `events` (POLLIN, POLLOUT, ...) is
 * ready; *out_events receives the ready mask (POLLERR/POLLHUP included). */
struct aio_poll { AIO_OP_COMMON_FIELDS; int fd; int events; int *out_events; };
struct aio_openat { AIO_OP_COMMON_FIELDS; int dirfd; const char *path; int flags; unsigned mode; int *out_fd; };
/* Ops still in flight on `fd` in the same ring are cancelled (-ECANCELED) first. */
struct aio_close { AIO_OP_COMMON_FIELDS; int fd; };
struct aio_renameat { AIO_OP_COMMON_FIELDS; int old_dirfd; const char *old_path; int new_dirfd; const char *new_path; unsigned flags; };
/* `flags` may hold AT_REMOVEDIR. */
struct aio_unlinkat { AIO_OP_COMMON_FIELDS; int dirfd; const char *path; int flags; };
struct aio_mkdirat { AIO_OP_COMMON_FIELDS; int dirfd; const char *path; unsigned mode; };
/* Creates `linkpath` (relative to `dirfd`) pointing at `target`. */
struct aio_symlinkat { AIO_OP_COMMON_FIELDS; const char *target; int dirfd; const char *linkpath; };
struct aio_socket { AIO_OP_COMMON_FIELDS; int domain; int type; int protocol; int *out_socket; };
struct aio_bind { AIO_OP_COMMON_FIELDS; int socket; const struct sockaddr *addr; socklen_t addrlen; };
/* `backlog` 0 (left out) means SOMAXCONN. */
struct aio_listen { AIO_OP_COMMON_FIELDS; int socket; int backlog; };
/* accept4(2): `addr`/`addrlen` may be NULL; `flags` takes SOCK_CLOEXEC, SOCK_NONBLOCK. */
struct aio_accept { AIO_OP_COMMON_FIELDS; int socket; struct sockaddr *addr; socklen_t *addrlen; int flags; int *out_socket; };
struct aio_connect { AIO_OP_COMMON_FIELDS; int socket; const struct sockaddr *addr; socklen_t addrlen; };
/* recv(2): *out_read is 0 at end of stream. */
struct aio_recv { AIO_OP_COMMON_FIELDS; int socket; void *buf; size_t len; int flags; size_t *out_read; };
/* send(2), MSG_NOSIGNAL implied: a closed peer gives -EPIPE, never SIGPIPE. */
struct aio_send { AIO_OP_COMMON_FIELDS; int socket; const void *buf; size_t len; int flags; size_t *out_written; };
struct aio_recvmsg { AIO_OP_COMMON_FIELDS; int socket; struct msghdr *msg; int flags; size_t *out_read; };
struct aio_sendmsg { AIO_OP_COMMON_FIELDS; int socket; const struct msghdr *msg; int flags; size_t *out_written; };
/* `how`: SHUT_RD, SHUT_WR or SHUT_RDWR. */
struct aio_shutdown { AIO_OP_COMMON_FIELDS; int socket; int how; };
/* splice(2). A NULL offset pointer means "no offset" (required for pipes); the
 * pointed-to offsets are read when the op starts and are not updated. */
struct aio_splice { AIO_OP_COMMON_FIELDS; int fd_in; const int64_t *off_in; int fd_out; const int64_t *off_out; size_t len; unsigned flags; size_t *out_written; };
/* Completes with 0 after `ns` nanoseconds on the monotonic clock; -ECANCELED if cancelled first. */
struct aio_timeout { AIO_OP_COMMON_FIELDS; uint64_t ns; };
/*
 * Bounds the op just before it in the batch, which must carry a link (-EINVAL
 * otherwise). If `ns` elapse first, that op is cut short and reports -ETIMEDOUT,
 * and so does the LINK_TIMEOUT. If the op completes in time (success or its own
 * error), the LINK_TIMEOUT reports 0. If the op is cancelled for another reason
 * (CANCEL, an earlier failure in its chain), the LINK_TIMEOUT reports -ECANCELED.
 * The LINK_TIMEOUT's own `link` continues the chain after the bounded op.
 */
struct aio_link_timeout { AIO_OP_COMMON_FIELDS; uint64_t ns; };
/*
 * Cancels the op named by `id` on the same ring. Reports 0 when it was stopped
 * (it then reports -ECANCELED), -ENOENT when no such op is running (completed,
 * stale id, or still waiting behind its predecessor in a chain — cancel the op
 * that runs; the chain then follows its link rule; or a LINK_TIMEOUT, which
 * keeps bounding its op — cancel that op instead), -EALREADY when it is
 * already executing and can no longer be stopped.
 */
struct aio_cancel { AIO_OP_COMMON_FIELDS; aio_id id; };
/* Waits for child `pid` to exit and reaps it; *out_status receives a
 * waitpid(2)-style status (WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG). */
struct aio_child_exit { AIO_OP_COMMON_FIELDS; int pid; int *out_status; };

/*
 * An event source: a counter that EVENT_NOTIFY raises by one and EVENT_WAIT
 * waits on and lowers by one, so each notify releases exactly one wait. It may
 * be notified from any thread. Its fields are private.
 */
struct aio_event_source { intptr_t handle_[2]; };
struct aio_event_notify { AIO_OP_COMMON_FIELDS; struct aio_event_source *source; };
struct aio_event_wait { AIO_OP_COMMON_FIELDS; struct aio_event_source *source; };

/* One operation: its kind and that kind's fields. Build it with AIO_<KIND>(...). */
struct aio_op {
    enum aio_kind kind;
    union {
        struct aio_op_common common;
        struct aio_nop nop;
        struct aio_read read;
        struct aio_write write;
        struct aio_readv readv;
        struct aio_writev writev;
        struct aio_fsync fsync;
        struct aio_poll poll;
        struct aio_openat openat;
        struct aio_close close;
        struct aio_renameat renameat;
        struct aio_unlinkat unlinkat;
        struct aio_mkdirat mkdirat;
        struct aio_symlinkat symlinkat;
        struct aio_socket socket;
        struct aio_bind bind;
        struct aio_listen listen;
        struct aio_accept accept;
        struct aio_connect connect;
        struct aio_recv recv;
        struct aio_send send;
        struct aio_recvmsg recvmsg;
        struct aio_sendmsg sendmsg;
        struct aio_shutdown shutdown;
        struct aio_splice splice;
        struct aio_timeout timeout;
        struct aio_link_timeout link_timeout;
        struct aio_cancel cancel;
        struct aio_child_exit child_exit;
        struct aio_event_notify event_notify;
        struct aio_event_wait event_wait;
    };
};

/*
 * Constructors: AIO_RECV(.socket = s, .buf = b, .len = n, .out_read = &got).
 * Each yields a `struct aio_op` value; fields left out are zero.
 */
#define AIO_OP_(KIND, member, ...) ((struct aio_op){ .kind = (KIND), .member = { __VA_ARGS__ } })
#define AIO_NOP(...)          AIO_OP_(AIO_KIND_NOP, nop, __VA_ARGS__)
#define AIO_READ(...)         AIO_OP_(AIO_KIND_READ, read, __VA_ARGS__)
#define AIO_WRITE(...)        AIO_OP_(AIO_KIND_WRITE, write, __VA_ARGS__)
#define AIO_READV(...)        AIO_OP_(AIO_KIND_READV, readv, __VA_ARGS__)
#define AIO_WRITEV(...)       AIO_OP_(AIO_KIND_WRITEV, writev, __VA_ARGS__)
#define AIO_FSYNC(...)        AIO_OP_(AIO_KIND_FSYNC, fsync, __VA_ARGS__)
#define AIO_POLL(...)         AIO_OP_(AIO_KIND_POLL, poll, __VA_ARGS__)
#define AIO_OPENAT(...)       AIO_OP_(AIO_KIND_OPENAT, openat, __VA_ARGS__)
#define AIO_CLOSE(...)        AIO_OP_(AIO_KIND_CLOSE, close, __VA_ARGS__)
#define AIO_RENAMEAT(...)     AIO_OP_(AIO_KIND_RENAMEAT, renameat, __VA_ARGS__)
#define AIO_UNLINKAT(...)     AIO_OP_(AIO_KIND_UNLINKAT, unlinkat, __VA_ARGS__)
#define AIO_MKDIRAT(...)      AIO_OP_(AIO_KIND_MKDIRAT, mkdirat, __VA_ARGS__)
#define AIO_SYMLINKAT(...)    AIO_OP_(AIO_KIND_SYMLINKAT, symlinkat, __VA_ARGS__)
#define AIO_SOCKET(...)       AIO_OP_(AIO_KIND_SOCKET, socket, __VA_ARGS__)
#define AIO_BIND(...)         AIO_OP_(AIO_KIND_BIND, bind, __VA_ARGS__)
#define AIO_LISTEN(...)       AIO_OP_(AIO_KIND_LISTEN, listen, __VA_ARGS__)
#define AIO_ACCEPT(...)       AIO_OP_(AIO_KIND_ACCEPT, accept, __VA_ARGS__)
#define AIO_CONNECT(...)      AIO_OP_(AIO_KIND_CONNECT, connect, __VA_ARGS__)
#define AIO_RECV(...)         AIO_OP_(AIO_KIND_RECV, recv, __VA_ARGS__)
#define AIO_SEND(...)         AIO_OP_(AIO_KIND_SEND, send, __VA_ARGS__)
#define AIO_RECVMSG(...)      AIO_OP_(AIO_KIND_RECVMSG, recvmsg, __VA_ARGS__)
#define AIO_SENDMSG(...)      AIO_OP_(AIO_KIND_SENDMSG, sendmsg, __VA_ARGS__)
#define AIO_SHUTDOWN(...)     AIO_OP_(AIO_KIND_SHUTDOWN, shutdown, __VA_ARGS__)
#define AIO_SPLICE(...)       AIO_OP_(AIO_KIND_SPLICE, splice, __VA_ARGS__)
#define AIO_TIMEOUT(...)      AIO_OP_(AIO_KIND_TIMEOUT, timeout, __VA_ARGS__)
#define AIO_LINK_TIMEOUT(...) AIO_OP_(AIO_KIND_LINK_TIMEOUT, link_timeout, __VA_ARGS__)
#define AIO_CANCEL(...)       AIO_OP_(AIO_KIND_CANCEL, cancel, __VA_ARGS__)
#define AIO_CHILD_EXIT(...)   AIO_OP_(AIO_KIND_CHILD_EXIT, child_exit, __VA_ARGS__)
#define AIO_EVENT_NOTIFY(...) AIO_OP_(AIO_KIND_EVENT_NOTIFY, event_notify, __VA_ARGS__)
#define AIO_EVENT_WAIT(...)   AIO_OP_(AIO_KIND_EVENT_WAIT, event_wait, __VA_ARGS__)

/* ------------------------------------------------------------------------- */
/* Immediate calls: run a batch on this thread's own ring and block until done */
/* ------------------------------------------------------------------------- */

/* Runs one op; returns its result. */
AIO_API int aio_single(struct aio_op op);
/* Runs `n` ops; 0 when all succeeded, else the result of the first op (in array
 * order) that failed. Each op's own result goes to its out_error. */
AIO_API int aio_multi(const struct aio_op *ops, size_t n);
/* Runs `n` ops; returns how many failed (>= 0), or a negative errno when the
 * batch could not be run at all (nothing ran then). */
AIO_API int aio_complete(const struct aio_op *ops, size_t n);

/* aio_multi / aio_complete over a literal list of ops, counted for you. */
#define AIO_MULTI(...) \
    aio_multi((const struct aio_op[]){ __VA_ARGS__ }, \
              sizeof((const struct aio_op[]){ __VA_ARGS__ }) / sizeof(struct aio_op))
#define AIO_COMPLETE(...) \
    aio_complete((const struct aio_op[]){ __VA_ARGS__ }, \
                 sizeof((const struct aio_op[]){ __VA_ARGS__ }) / sizeof(struct aio_op))

/* ------------------------------------------------------------------------- */
/* The dynamic ring                                                           */
/* ------------------------------------------------------------------------- */

enum aio_backend {
    AIO_BACKEND_AUTO = 0,
    AIO_BACKEND_IO_URING,
    AIO_BACKEND_EPOLL,
    AIO_BACKEND_POLL,
    AIO_BACKEND_KQUEUE,
    AIO_BACKEND_IOCP
};

/* Called once per completed op, from aio_ring_complete*, on the ring's thread. */
typedef void (*aio_complete_fn)(void *ctx, aio_id id, uint64_t userdata, int result);

/*
 * Ring flag: chains move on while the thread does other work. On io_uring the
 * kernel then starts a linked op as soon as its predecessor completes, rather
 * than inside the ring's next aio_ring_complete (IORING_SETUP_DEFER_TASKRUN,
 * used otherwise). For event loops that alternate running work with AIO_NOWAIT
 * polls, where it saves kernel entries (the coroutine scheduler sets it); a
 * loop that mostly waits is faster without. No effect on other backends.
 */
#define AIO_RING_EAGER_CHAINS 1u

/* Ring settings. Passing NULL instead gives 256 entries and AIO_BACKEND_AUTO. */
struct aio_ring_options {
    uint32_t entries;           /* ops in flight at once, at least 1 */
    uint32_t flags;             /* AIO_RING_* flags; unknown bits: -EINVAL */
    enum aio_backend backend;   /* AUTO: io_uring when usable, else the platform's readiness backend;
                                   the environment variable AIO_BACKEND overrides AUTO */
    aio_complete_fn on_complete;/* optional */
    void *ctx;                  /* first argument of on_complete */
};

/* What one aio_ring_complete call reaped. */
struct aio_result {
    size_t completed;   /* ops that completed */
    size_t failed;      /* of those, ops whose result was negative */
};

enum aio_wait_mode {
    AIO_NOWAIT = 0,     /* reap what is ready, never block */
    AIO_WAIT = 1        /* block until at least one op completes (unless none is in flight) */
};

/* A ring: a set of ops in flight, owned by the thread that drives it. */
struct aio_ring;

AIO_API int aio_ring_create(struct aio_ring **ring, const struct aio_ring_options *opts);
/* Queues `n` ops atomically: all of them, or none and an error (-EBUSY when they
 * do not fit, -EINVAL for bad ops). Ops reach the kernel on the next complete;
 * an op that io_uring on the running kernel cannot do asynchronously (BIND and
 * LISTEN before Linux 6.11, for instance) and that does not block runs here, at
 * queue time, once its chain reaches it. Results always arrive through
 * aio_ring_complete. */
AIO_API int aio_ring_queue(struct aio_ring *ring, const struct aio_op *ops, size_t n);
/* Called once per op of a batch queued with aio_ring_queue_batch: `index` is
 * the op's position in that batch, `result` 0 or a negative errno. */
typedef void (*aio_batch_fn)(void *ctx, size_t index, int result);
/* Like aio_ring_queue, but the batch's completions go to fn(ctx, index, result)
 * instead of the ring's on_complete (fn NULL: to on_complete as usual), and,
 * when `ids` is not NULL, ids[i] receives the id of ops[i]. For code that
 * waits on a batch as a whole (a coroutine, a request object) without
 * touching the ops' userdata. */
AIO_API int aio_ring_queue_batch(struct aio_ring *ring, const struct aio_op *ops, size_t n,
                                 aio_batch_fn fn, void *ctx, aio_id *ids);
/* Submits what is queued and reaps completions (one syscall on io_uring).
 * With AIO_WAIT it blocks until an op completes, unless nothing is in flight or
 * aio_ring_wake is called. `result` may be NULL. Returns 0 or a negative errno
 * (-EINTR when a signal interrupted the wait, -EDEADLK when called from one of
 * the ring's own callbacks, which may queue ops but not reap). */
AIO_API int aio_ring_complete(struct aio_ring *ring, enum aio_wait_mode mode, struct aio_result *result);
/* No time limit, for aio_ring_complete_timeout. */
#define AIO_NO_TIMEOUT UINT64_MAX
/* Blocks until at least one op completes, `timeout_ns` elapse, or another
 * thread calls aio_ring_wake on the ring; unlike aio_ring_complete it blocks
 * even when nothing is in flight, which makes it the wait of an event loop fed
 * from other threads. Returns 0 (result->completed may be 0) or -errno. */
AIO_API int aio_ring_complete_timeout(struct aio_ring *ring, uint64_t timeout_ns, struct aio_result *result);
/* Makes the wait in progress on `ring` (aio_ring_complete or _timeout) return,
 * or the next one return at once. Callable from any thread. `via` may name a
 * ring the calling thread drives: where both are io_uring rings, the wake-up
 * then travels as an IORING_OP_MSG_RING in via's next submission instead of
 * costing a syscall now. Wakes that meet before the ring notices them merge
 * into one. Returns 0 or a negative errno. */
AIO_API int aio_ring_wake(struct aio_ring *ring, struct aio_ring *via);
/* Completes until nothing is in flight; returns how many ops failed, or -errno. */
AIO_API int aio_ring_complete_all(struct aio_ring *ring);
/* Ops queued and not yet completed. */
AIO_API size_t aio_ring_in_flight(const struct aio_ring *ring);
/* The backend the ring runs on (never AIO_BACKEND_AUTO). */
AIO_API enum aio_backend aio_ring_backend(const struct aio_ring *ring);
/* Cancels and reaps whatever is still in flight (on_complete still runs), then
 * frees. Must not be called from one of the ring's own callbacks (aborts).
 * Known difference: on io_uring an op HARD-linked behind a cancelled one is
 * started by the kernel, so one that completes at once (a MKDIRAT) may still
 * take effect during destruction; the readiness backends never start it. */
AIO_API void aio_ring_destroy(struct aio_ring *ring);

/* ------------------------------------------------------------------------- */
/* Event sources, names                                                       */
/* ------------------------------------------------------------------------- */

AIO_API int aio_event_source_init(struct aio_event_source *source);
AIO_API void aio_event_source_destroy(struct aio_event_source *source);

/* "io_uring", "epoll", "poll", "kqueue", "iocp", "auto"; "unknown" otherwise. */
AIO_API const char *aio_backend_name(enum aio_backend backend);
/* A description of a negative errno result ("ECONNRESET: Connection reset by peer"). */
AIO_API const char *aio_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* CAIO_AIO_AIO_H */
