/*
 * The emulation core: io_uring's semantics on top of a readiness poller.
 *
 * Backends without a kernel that runs whole operations (epoll, poll(2), later
 * kqueue, and IOCP for what it lacks) share this core. It implements struct
 * aio_backend_ops (ring.h) and keeps, per slot of the ring's slot table:
 *  - where the op is in its life (not started, on the run queue, waiting for
 *    readiness of an fd, in the timer heap, on the worker pool, done);
 *  - the chain rules: an op starts when its predecessor completed; SOFT breaks
 *    on aio_result_breaks_chain(), HARD never does; a LINK_TIMEOUT is armed
 *    when the op it bounds starts and both are reported together;
 *  - TIMEOUT / LINK_TIMEOUT in a binary heap on CLOCK_MONOTONIC;
 *  - CANCEL by id, CLOSE cancelling this ring's started ops on its fd;
 *  - a bounded worker pool for work that may block (regular files, path ops).
 *
 * Sockets, pipes and event sources are driven on the loop thread: the syscall
 * is tried first (MSG_DONTWAIT / RWF_NOWAIT); only on EAGAIN does the op wait
 * for readiness of its fd, and it is tried again when the poller reports it.
 * One refinement for request/response sockets: after a try in one direction
 * found an fd empty, the next RECV/SEND on it waits for the poller's report
 * instead of paying another EAGAIN (one epoll_wait serves the whole pass); a
 * report that comes within the same reap call flips the fd back to trying
 * first. ACCEPT on a blocking listener and CONNECT on a blocking socket flip
 * O_NONBLOCK on around the call (and back), so the loop never sleeps in them.
 *
 * Work that may sleep (regular-file and block-device READ/WRITE/READV/WRITEV,
 * FSYNC, OPENAT, CLOSE, RENAMEAT, UNLINKAT, MKDIRAT, SYMLINKAT, SPLICE with a
 * file end, CHILD_EXIT without pidfd) runs on the ring's worker pool. CANCEL
 * of such an op stops it while it is still queued (it reports -ECANCELED);
 * once a worker runs it, CANCEL reports -EALREADY and the op its own result,
 * as io_uring does for work already executing in its io-wq. A LINK_TIMEOUT
 * that fires then does not cut the op short either: both report as if in time.
 * CHILD_EXIT uses a pidfd (pidfd_open + waitid(P_PIDFD, WNOHANG)).
 *
 * ---- The poller interface -------------------------------------------------
 *
 * A poller is four functions over its own state (em->poller_state):
 *
 *   init(em)          Create the poller (an epoll instance, a pollfd array...).
 *                     -errno lets AUTO fall back to the next backend.
 *   fini(em)          Free it.
 *   watch(em, fd, old, events)
 *                     Set the readiness interest for `fd` to `events`
 *                     (`old`: what the core believes is registered, a hint)
 *                     (POLLIN / POLLOUT bits; 0: none). Level-triggered: as long
 *                     as the fd is ready for a watched event, wait() reports it.
 *                     The core calls it whenever an op starts waiting on an
 *                     fd that nobody else waits on (the fd may have been closed
 *                     and its number reused behind the ring's back, which drops
 *                     an epoll registration silently), when a waiter needs an
 *                     event not yet watched, and, lazily, when a report finds
 *                     nobody waiting for it. Interest is not dropped when the
 *                     last waiter leaves, so a socket read again and again
 *                     costs one registration call per wait and no removal.
 *                     Returns 0 or -errno (-EBADF for a bad fd; -EPERM for an
 *                     fd that cannot be polled, such as a regular file, which
 *                     is then taken as always ready).
 *   wait(em, timeout, out, max)
 *                     Block until at least one watched fd is ready, `timeout`
 *                     (a relative timespec; NULL: forever; zero: do not block)
 *                     has passed, or a signal arrived. Fills out[0..n) with
 *                     (fd, revents) and returns n, or -errno (-EINTR is fine).
 *                     revents uses poll(2)'s bits; POLLNVAL for a closed fd.
 *
 * The core's wake-up descriptor (an eventfd, or a pipe where there is none) is
 * watched like any fd: workers write it when they finish an op.
 *
 * A completion-model port (IOCP) fits the same core with one more hook, kept
 * out until that backend exists: start(em, slot) issuing the overlapped call
 * instead of the core's try-then-watch, its wait() reporting finished slots
 * rather than ready descriptors. watch() then associates a handle with the
 * port once. Links, timers, CANCEL and the worker pool stay here.
 */
#ifndef CAIO_SRC_AIO_EMUL_H
#define CAIO_SRC_AIO_EMUL_H

#include "ring.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct aio_emul;

/* One readiness report from a poller. */
struct aio_poll_event {
    int fd;
    short revents;
};

struct aio_poller_ops {
    /* Registrations vanish when the fd is closed (epoll), so one kept from an
     * earlier wait must be confirmed before the loop sleeps on it. */
    bool forgets_closed_fds;
    int (*init)(struct aio_emul *em);
    void (*fini)(struct aio_emul *em);
    int (*watch)(struct aio_emul *em, int fd, short old, short events);
    int (*wait)(struct aio_emul *em, const struct timespec *timeout, struct aio_poll_event *out, int max);
};

/* Where an op is (loop-thread view). */
enum aio_emul_where {
    EM_IDLE = 0,    /* not started: free, or waiting behind its predecessor */
    EM_RUNQ,        /* started, its first attempt not made yet */
    EM_FD,          /* waiting for readiness of es.fd */
    EM_TIMER,       /* in the timer heap (TIMEOUT, LINK_TIMEOUT) */
    EM_WORKER,      /* handed to the worker pool (see wstate) */
    EM_LT_FIRED,    /* a LINK_TIMEOUT that fired while its op could not be stopped */
    EM_DONE,        /* result known, waiting in the done queue */
};

/* Worker-side state of an op, guarded by the pool's mutex. */
enum aio_work_state { WK_QUEUED = 1, WK_RUNNING, WK_FINISHED };

/* Per-slot state of the emulation, indexed like ring->slots. */
struct aio_emul_slot {
    uint64_t deadline;      /* EM_TIMER: CLOCK_MONOTONIC ns */
    uint32_t heap_pos;      /* EM_TIMER: position in the heap */
    uint32_t next;          /* run queue / done queue link */
    uint32_t fd_next, fd_prev; /* EM_FD: the fd's waiter list */
    uint32_t wnext;         /* worker queue / finished list link (pool mutex) */
    int fd;                 /* EM_FD: the fd waited on */
    int result;             /* EM_DONE: the result; pidfd / step data before */
    int wresult;            /* worker's result (pool mutex) */
    int aux;                /* per-kind: pidfd for CHILD_EXIT, saved flags... */
    short events;           /* EM_FD: the events waited for */
    uint8_t where;          /* enum aio_emul_where */
    uint8_t wstate;         /* enum aio_work_state (pool mutex) */
    uint8_t step;           /* per-kind progress (CONNECT: in progress) */
    uint8_t lt_cancelled;   /* LINK_TIMEOUT cancelled by id before its op finished */
    uint8_t skipped_try;    /* armed without a first try (see predict_wait) */
    uint32_t armed_reap;    /* em->reap_seq when it started waiting */
    uint32_t moved;         /* RECV/SEND with MSG_WAITALL: bytes moved so far */
};

/* Per-fd record: who waits on it and what the poller watches. */
struct aio_emul_fd {
    uint32_t head, tail;    /* waiting slots, in arming order */
    uint32_t checked_epoch; /* the registration was confirmed in this epoch */
    short watched;          /* interest currently registered with the poller */
    short predict_wait;     /* directions (POLLIN/POLLOUT) whose last try found nothing */
    bool unchecked;         /* on the list of registrations to confirm before sleeping */
};

/* The worker pool (workers.c). Threads start when work arrives and no thread
 * is idle, up to AIO_WORKERS_MAX, and exit after AIO_WORKER_IDLE_NS idle. */
#define AIO_WORKERS_MAX 8
struct aio_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct aio_emul *em;
    uint32_t q_head, q_tail;        /* queued slots */
    uint32_t fin_head, fin_tail;    /* finished slots, for the loop */
    unsigned idle;                  /* threads waiting for work */
    bool stop;
    bool started;                   /* mutex and cond exist */
    struct aio_worker_thread {
        struct aio_workers *pool;
        pthread_t tid;
        uint8_t state;              /* 0 none, 1 running, 2 exited (join it); mutex */
    } thread[AIO_WORKERS_MAX];
};

struct aio_emul {
    struct aio_ring *ring;
    struct aio_slot *slots;         /* ring->slots, which never moves */
    const struct aio_poller_ops *poller;
    void *poller_state;
    struct aio_emul_slot *es;       /* [entries] */
    struct aio_emul_fd *fds;        /* [fd_cap], grown on demand */
    int fd_cap;
    uint32_t incoming_head, incoming_tail;  /* chain heads queued by submit */
    uint32_t runq_head, runq_tail;          /* started ops to attempt */
    uint32_t done_head, done_tail;          /* results to deliver, in order */
    uint32_t *heap;                 /* [entries] timer heap of slot numbers */
    uint32_t heap_len;
    uint32_t waiting_fd;            /* ops in EM_FD */
    uint32_t in_worker;             /* ops handed to the pool, not yet collected */
    int wake_rd, wake_wr;           /* eventfd (same fd twice) or pipe */
    bool destroying;
    uint32_t epoch;                 /* moves on whenever user code may have run */
    uint32_t reap_seq;              /* counts reap calls */
    int *unchecked;                 /* [entries] fds armed on a registration not confirmed this epoch */
    uint32_t n_unchecked;
    struct aio_poll_event events[64];
    struct aio_workers workers;
};

static inline struct aio_emul *aio_emul_of(struct aio_ring *ring) { return ring->be_state; }

/* The aio_backend_ops functions, shared by every readiness backend; a backend's
 * init calls aio_emul_init with its poller. */
int aio_emul_init(struct aio_ring *ring, const struct aio_poller_ops *poller);
void aio_emul_fini(struct aio_ring *ring);
void aio_emul_submit(struct aio_ring *ring, const uint32_t *idx, size_t n);
int aio_emul_reap(struct aio_ring *ring, uint64_t timeout_ns);
int aio_emul_wake(struct aio_ring *ring, struct aio_ring *via);
void aio_emul_cancel_all(struct aio_ring *ring);

/* Monotonic clock in nanoseconds. */
uint64_t aio_emul_now(void);

/* Timer heap (timers.c), ordered by es[].deadline. */
void aio_timer_add(struct aio_emul *em, uint32_t slot);
void aio_timer_remove(struct aio_emul *em, uint32_t slot);
/* The earliest slot, or AIO_NO_SLOT. */
uint32_t aio_timer_first(const struct aio_emul *em);

/* Worker pool (workers.c). */
int aio_workers_init(struct aio_workers *w, struct aio_emul *em);
void aio_workers_fini(struct aio_workers *w);
/* Hands `slot` to the pool. Returns 0 or -errno (no thread could be started
 * and none exists). */
int aio_workers_push(struct aio_workers *w, uint32_t slot);
/* Removes `slot` if no thread has taken it yet; true when removed. */
bool aio_workers_unqueue(struct aio_workers *w, uint32_t slot);
/* Moves finished slots out: calls fn(em, slot, result) for each, in order. */
void aio_workers_collect(struct aio_workers *w, void (*fn)(struct aio_emul *, uint32_t, int));
/* Runs an op in blocking form on a worker thread (emul.c). */
int aio_emul_run_blocking(struct aio_emul *em, uint32_t slot);
/* Wakes the loop thread (workers, aio_ring_wake; any thread). */
void aio_emul_wake_loop(struct aio_emul *em);

#endif
