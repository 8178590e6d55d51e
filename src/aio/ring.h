/*
 * The ring core and the one internal interface every backend implements.
 *
 * The core owns everything that does not depend on how I/O is performed:
 * checking ops, the fixed slot table (one slot per op in flight, allocated when
 * the ring is created), ids with generations, chain marks, writing results to
 * the op's out_* targets and calling on_complete. A backend only moves slots
 * from "submitted" to "completed".
 *
 * Backend interface (struct aio_backend_ops):
 *
 *   init(ring)        Create the backend's state for ring->entries slots. Any
 *                     per-op storage (SQE side data, OVERLAPPED, timer nodes) is
 *                     preallocated here as arrays indexed by slot number. A
 *                     failure such as -EPERM or -ENOSYS lets AUTO fall back.
 *   fini(ring)        Free that state. Called with nothing in flight.
 *   submit(ring, idx, n)
 *                     Take one checked batch, slots in batch order. Chains are
 *                     already marked (slot.chain_next / chain_prev, op.common.link)
 *                     and capacity is already reserved, so this cannot fail:
 *                     (ring->batch_linked says whether any op of it is linked)
 *                     whatever goes wrong later is an op's result. A backend with
 *                     native links (io_uring) hands chains to the kernel; the
 *                     others keep them in the emulation core (src/aio/emul.*) and
 *                     start only each chain's head.
 *   reap(ring, timeout_ns)
 *                     Push pending submissions and report completions with
 *                     aio_ring_deliver(). timeout_ns 0: do not block. Otherwise
 *                     block until at least one completion was delivered, the
 *                     ring was woken, or timeout_ns passed (AIO_NO_TIMEOUT:
 *                     never) — also when nothing is in flight.
 *   wake(ring, via)   From any thread: make the ring's reap return (see
 *                     aio_ring_wake). The core merges concurrent wakes, so this
 *                     runs once per wake the reaper has not consumed yet; the
 *                     reaper calls aio_ring_woken() when it consumes one.
 *   cancel_all(ring)  Ask every op in flight to stop (ring destruction); the
 *                     completions still arrive through reap.
 *
 * What this shape asks of each kind of backend:
 *  - io_uring: slot id = SQE user_data; per-slot side data for timespecs,
 *    siginfo and event counters; opcodes missing from the kernel run
 *    synchronously by splitting the chain at them.
 *  - readiness (epoll/poll/kqueue): the emulation core walks chains, runs a
 *    timer heap, and the poller tries each syscall first, waiting for readiness
 *    only on EAGAIN; file work goes to a worker pool that wakes the poller.
 *  - IOCP: per-slot OVERLAPPED in the backend's array (the slot number is
 *    recovered from the OVERLAPPED address), sockets associated with the port on
 *    first use, AcceptEx's pre-made socket created in submit; links and timers
 *    come from the same emulation core.
 */
#ifndef CAIO_SRC_AIO_RING_H
#define CAIO_SRC_AIO_RING_H

#include <aio/aio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define AIO_NO_SLOT UINT32_MAX
#define AIO_DEFAULT_ENTRIES 256u
#define AIO_MAX_ENTRIES (1u << 20)

enum aio_slot_state { AIO_SLOT_FREE = 0, AIO_SLOT_BUSY };

struct aio_slot {
    struct aio_op op;            /* the caller's op, copied at queue time */
    aio_batch_fn batch_fn;       /* NULL: report to the ring's on_complete */
    void *batch_ctx;
    uint32_t batch_index;        /* position in its batch, for batch_fn */
    uint32_t gen;                /* generation, part of the id; never 0 */
    uint32_t next_free;          /* free list */
    uint32_t chain_next;         /* next op of the chain, or AIO_NO_SLOT */
    uint32_t chain_prev;         /* previous op of the chain, or AIO_NO_SLOT */
    uint8_t state;
};

struct aio_ring;

struct aio_backend_ops {
    enum aio_backend kind;
    int (*init)(struct aio_ring *ring);
    void (*fini)(struct aio_ring *ring);
    void (*submit)(struct aio_ring *ring, const uint32_t *idx, size_t n);
    int (*reap)(struct aio_ring *ring, uint64_t timeout_ns);
    void (*cancel_all)(struct aio_ring *ring);
    int (*wake)(struct aio_ring *ring, struct aio_ring *via);
};

struct aio_ring {
    const struct aio_backend_ops *be;
    void *be_state;
    struct aio_slot *slots;      /* [entries] */
    uint32_t entries;
    uint32_t flags;              /* AIO_RING_* from the options */
    uint32_t in_flight;
    uint32_t free_head;
    uint32_t *batch_idx;         /* [entries] scratch: slot numbers of the batch being queued */
    bool batch_linked;           /* the batch being submitted has at least one link */
    bool reaping;                /* inside aio_ring_complete: callbacks may queue, not reap */
    _Atomic bool wake_pending;   /* a wake is on its way and not consumed yet */
    aio_complete_fn on_complete;
    void *ctx;
    struct aio_result tally;     /* what the current reap delivered */
};

/* Slot number and generation <-> id. Generation 0 is never used, so id 0 and
 * any id with generation 0 (internal operations) never name a user op. */
static inline aio_id aio_make_id(uint32_t slot, uint32_t gen) { return ((uint64_t)gen << 32) | slot; }
static inline uint32_t aio_id_slot(aio_id id) { return (uint32_t)id; }
static inline uint32_t aio_id_gen(aio_id id) { return (uint32_t)(id >> 32); }

static inline aio_id aio_slot_id(const struct aio_ring *ring, uint32_t slot)
{
    return aio_make_id(slot, ring->slots[slot].gen);
}

/* The busy slot that `id` names on this ring, or AIO_NO_SLOT if it is stale. */
static inline uint32_t aio_ring_lookup(const struct aio_ring *ring, aio_id id)
{
    uint32_t s = aio_id_slot(id);
    if (s >= ring->entries || aio_id_gen(id) == 0) return AIO_NO_SLOT;
    const struct aio_slot *sl = &ring->slots[s];
    return (sl->state == AIO_SLOT_BUSY && sl->gen == aio_id_gen(id)) ? s : AIO_NO_SLOT;
}

/* Reaper side of aio_ring_wake: the pending wake has been consumed, so the
 * next aio_ring_wake must signal again. */
static inline void aio_ring_woken(struct aio_ring *ring)
{
    atomic_store_explicit(&ring->wake_pending, false, memory_order_release);
}

/* Checks a batch as API.md requires; 0 or -EINVAL. */
int aio_check_batch(const struct aio_op *ops, size_t n);

/* Writes the value target (out_read, out_fd, ...) of kinds that have one. */
void aio_write_value(const struct aio_op *op, int res);

/* Kinds with a value target (out_read, out_fd, ...): delivering others skips
 * aio_write_value. One mask test: this runs once per op. */
#define AIO_KIND_BIT(k) (1ull << (k))
#define AIO_VALUE_KINDS                                                                              \
    (AIO_KIND_BIT(AIO_KIND_READ) | AIO_KIND_BIT(AIO_KIND_WRITE) | AIO_KIND_BIT(AIO_KIND_READV) |      \
     AIO_KIND_BIT(AIO_KIND_WRITEV) | AIO_KIND_BIT(AIO_KIND_POLL) | AIO_KIND_BIT(AIO_KIND_OPENAT) |    \
     AIO_KIND_BIT(AIO_KIND_SOCKET) | AIO_KIND_BIT(AIO_KIND_ACCEPT) | AIO_KIND_BIT(AIO_KIND_RECV) |     \
     AIO_KIND_BIT(AIO_KIND_SEND) | AIO_KIND_BIT(AIO_KIND_RECVMSG) | AIO_KIND_BIT(AIO_KIND_SENDMSG) |   \
     AIO_KIND_BIT(AIO_KIND_SPLICE) | AIO_KIND_BIT(AIO_KIND_CHILD_EXIT))
_Static_assert(AIO_KIND_COUNT_ <= 64, "kinds must fit the mask");
static inline bool aio_kind_has_value(enum aio_kind k) { return (AIO_VALUE_KINDS >> k) & 1; }

/*
 * Backend -> core: slot `s` finished with `result` (syscall-style: >= 0 success
 * with a count/fd/mask, < 0 -errno). Writes the out_* targets, frees the slot,
 * then reports to the batch callback or on_complete. Inline: it runs once per op.
 * The slot is freed before reporting, so a callback may queue into it; its
 * generation moves on, so the old id goes stale.
 */
static inline __attribute__((always_inline)) void aio_ring_deliver(struct aio_ring *ring, uint32_t s, int result)
{
    struct aio_slot *sl = &ring->slots[s];
    const int code = result < 0 ? result : 0;
    /* Everything the slot and the ring need happens before the stores through
     * the user's out_* pointers, which the compiler must assume alias them. */
    int *const out_error = sl->op.common.out_error;
    const aio_batch_fn fn = sl->batch_fn;
    const uint32_t gen = sl->gen;

    if (aio_kind_has_value(sl->op.kind)) aio_write_value(&sl->op, result); /* reads the op */
    sl->state = AIO_SLOT_FREE;
    sl->gen = gen + 1 ? gen + 1 : 1;
    sl->next_free = ring->free_head;
    ring->free_head = s;
    ring->in_flight--;
    ring->tally.completed++;
    ring->tally.failed += code < 0;
    if (out_error) *out_error = code;

    /* The slot is free but nothing can have reused it yet: read what the
     * report needs only on the path that reports. */
    if (fn) fn(sl->batch_ctx, sl->batch_index, code);
    else if (ring->on_complete) ring->on_complete(ring->ctx, aio_make_id(s, gen), sl->op.common.userdata, code);
}

/* The backend implementations. Each returns NULL where it is not built. */
const struct aio_backend_ops *aio_backend_io_uring(void);
const struct aio_backend_ops *aio_backend_epoll(void);
const struct aio_backend_ops *aio_backend_poll(void);

#endif
