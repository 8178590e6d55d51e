/*
 * The dynamic ring: the slot table, atomic queueing, delivery of results and
 * the choice of backend. Nothing here knows how I/O is performed.
 */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- choosing a backend ------------------------------------------------- */

static const struct aio_backend_ops *backend_ops(enum aio_backend b)
{
    switch (b) {
    case AIO_BACKEND_IO_URING: return aio_backend_io_uring();
    case AIO_BACKEND_EPOLL: return aio_backend_epoll();
    case AIO_BACKEND_POLL: return aio_backend_poll();
    default: return NULL;
    }
}

/* AIO_BACKEND=io_uring|epoll|poll|kqueue|iocp overrides AUTO. An unknown name is
 * an error rather than a silent AUTO, so a typo in a test matrix is seen. */
static int backend_from_env(enum aio_backend *b)
{
    const char *v = getenv("AIO_BACKEND");
    if (!v || !*v) { *b = AIO_BACKEND_AUTO; return 0; }
    static const enum aio_backend all[] = { AIO_BACKEND_AUTO, AIO_BACKEND_IO_URING, AIO_BACKEND_EPOLL,
                                            AIO_BACKEND_POLL, AIO_BACKEND_KQUEUE, AIO_BACKEND_IOCP };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(v, aio_backend_name(all[i])) == 0) { *b = all[i]; return 0; }
    }
    return -EINVAL;
}

static int backend_start(struct aio_ring *ring, enum aio_backend want)
{
    if (want != AIO_BACKEND_AUTO) {
        const struct aio_backend_ops *be = backend_ops(want);
        if (!be) return -ENOTSUP;
        ring->be = be;
        return be->init(ring);
    }
    /* AUTO: io_uring where the kernel lets us, else this platform's poller. */
    static const enum aio_backend order[] = { AIO_BACKEND_IO_URING, AIO_BACKEND_EPOLL, AIO_BACKEND_POLL };
    int rc = -ENOTSUP;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const struct aio_backend_ops *be = backend_ops(order[i]);
        if (!be) continue;
        ring->be = be;
        rc = be->init(ring);
        if (rc == 0) return 0;
    }
    return rc;
}

/* ---- creation and destruction ------------------------------------------- */

int aio_ring_create(struct aio_ring **out, const struct aio_ring_options *opts)
{
    if (!out) return -EINVAL;
    *out = NULL;
    struct aio_ring_options o = opts ? *opts : (struct aio_ring_options){ .entries = AIO_DEFAULT_ENTRIES };
    if (o.entries == 0 || o.entries > AIO_MAX_ENTRIES) return -EINVAL;
    if (o.flags & ~AIO_RING_EAGER_CHAINS) return -EINVAL;
    if (o.backend < AIO_BACKEND_AUTO || o.backend > AIO_BACKEND_IOCP) return -EINVAL;
    if (o.backend == AIO_BACKEND_AUTO) {
        int rc = backend_from_env(&o.backend);
        if (rc) return rc;
    }

    struct aio_ring *ring = calloc(1, sizeof *ring);
    if (!ring) return -ENOMEM;
    ring->entries = o.entries;
    ring->flags = o.flags;
    ring->on_complete = o.on_complete;
    ring->ctx = o.ctx;
    ring->slots = calloc(o.entries, sizeof *ring->slots);
    ring->batch_idx = calloc(o.entries, sizeof *ring->batch_idx);
    if (!ring->slots || !ring->batch_idx) {
        free(ring->slots);
        free(ring->batch_idx);
        free(ring);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < o.entries; i++) {
        ring->slots[i].gen = 1;
        ring->slots[i].next_free = i + 1 < o.entries ? i + 1 : AIO_NO_SLOT;
    }
    ring->free_head = 0;

    int rc = backend_start(ring, o.backend);
    if (rc) {
        free(ring->slots);
        free(ring->batch_idx);
        free(ring);
        return rc;
    }
    *out = ring;
    return 0;
}

void aio_ring_destroy(struct aio_ring *ring)
{
    if (!ring) return;
    if (ring->reaping) abort(); /* from one of its own callbacks: it is still in use */
    /* Cancel again once the cancellations are reaped: a HARD link may start
     * the next op of a chain after its predecessor was cancelled. Reap all
     * that has arrived before cancelling again: re-cancelling every op after
     * each reap that brought only part of the completions made destroying a
     * ring with 10,000 ops in flight take seconds (quadratic). */
    while (ring->in_flight) {
        ring->be->cancel_all(ring);
        if (ring->be->reap(ring, AIO_NO_TIMEOUT) < 0 && ring->in_flight) {
            /* The backend can no longer reap: nothing more can be delivered
             * safely, so stop rather than spin. */
            break;
        }
        /* take what else has arrived, without waiting; nothing left: no call */
        while (ring->in_flight) {
            uint32_t before = ring->in_flight;
            if (ring->be->reap(ring, 0) < 0 || ring->in_flight >= before) break;
        }
    }
    ring->be->fini(ring);
    free(ring->slots);
    free(ring->batch_idx);
    free(ring);
}

enum aio_backend aio_ring_backend(const struct aio_ring *ring)
{
    return ring ? ring->be->kind : AIO_BACKEND_AUTO;
}

size_t aio_ring_in_flight(const struct aio_ring *ring)
{
    return ring ? ring->in_flight : 0;
}

/* ---- queueing ----------------------------------------------------------- */

int aio_ring_queue_batch(struct aio_ring *ring, const struct aio_op *ops, size_t n,
                         aio_batch_fn fn, void *ctx, aio_id *ids)
{
    if (!ring) return -EINVAL;
    int rc = aio_check_batch(ops, n);
    if (rc) return rc;
    if (n > ring->entries - ring->in_flight) return -EBUSY;

    /* One pass: take a slot, copy the op, and link it to the previous op of
     * its chain (slots are taken in batch order, so the previous is known). */
    uint32_t *idx = ring->batch_idx;
    uint32_t prev = AIO_NO_SLOT;
    bool linked = false;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = ring->free_head;
        struct aio_slot *sl = &ring->slots[s];
        ring->free_head = sl->next_free;
        idx[i] = s;
        sl->op = ops[i];
        sl->batch_fn = fn;
        sl->batch_ctx = ctx;
        sl->batch_index = (uint32_t)i;
        sl->state = AIO_SLOT_BUSY;
        sl->chain_next = AIO_NO_SLOT;
        sl->chain_prev = prev;
        if (prev != AIO_NO_SLOT) ring->slots[prev].chain_next = s;
        prev = ops[i].common.link != AIO_LINK_NONE ? s : AIO_NO_SLOT;
        linked |= prev != AIO_NO_SLOT;
        aio_id id = aio_make_id(s, sl->gen);
        if (ops[i].common.out_id) *ops[i].common.out_id = id;
        if (ids) ids[i] = id;
    }
    ring->in_flight += (uint32_t)n;
    ring->batch_linked = linked;
    ring->be->submit(ring, idx, n);
    return 0;
}

int aio_ring_queue(struct aio_ring *ring, const struct aio_op *ops, size_t n)
{
    return aio_ring_queue_batch(ring, ops, n, NULL, NULL, NULL);
}

/* ---- completion --------------------------------------------------------- */

/* Writes the value target (count, descriptor, mask, status) of kinds that have one. */
void aio_write_value(const struct aio_op *op, int res)
{
    const bool ok = res >= 0;
    const size_t count = ok ? (size_t)res : 0;
    const int desc = ok ? res : -1;
    switch (op->kind) {
    case AIO_KIND_READ: if (op->read.out_read) *op->read.out_read = count; break;
    case AIO_KIND_WRITE: if (op->write.out_written) *op->write.out_written = count; break;
    case AIO_KIND_READV: if (op->readv.out_read) *op->readv.out_read = count; break;
    case AIO_KIND_WRITEV: if (op->writev.out_written) *op->writev.out_written = count; break;
    case AIO_KIND_RECV: if (op->recv.out_read) *op->recv.out_read = count; break;
    case AIO_KIND_SEND: if (op->send.out_written) *op->send.out_written = count; break;
    case AIO_KIND_RECVMSG: if (op->recvmsg.out_read) *op->recvmsg.out_read = count; break;
    case AIO_KIND_SENDMSG: if (op->sendmsg.out_written) *op->sendmsg.out_written = count; break;
    case AIO_KIND_SPLICE: if (op->splice.out_written) *op->splice.out_written = count; break;
    case AIO_KIND_POLL: if (op->poll.out_events) *op->poll.out_events = ok ? res : 0; break;
    case AIO_KIND_OPENAT: if (op->openat.out_fd) *op->openat.out_fd = desc; break;
    case AIO_KIND_SOCKET: if (op->socket.out_socket) *op->socket.out_socket = desc; break;
    case AIO_KIND_ACCEPT: if (op->accept.out_socket) *op->accept.out_socket = desc; break;
    case AIO_KIND_CHILD_EXIT: if (op->child_exit.out_status) *op->child_exit.out_status = ok ? res : 0; break;
    default: break;
    }
}

int aio_ring_complete(struct aio_ring *ring, enum aio_wait_mode mode, struct aio_result *result)
{
    if (!ring || (mode != AIO_WAIT && mode != AIO_NOWAIT)) return -EINVAL;
    if (ring->reaping) return -EDEADLK; /* called from one of this ring's callbacks */
    ring->tally = (struct aio_result){ 0, 0 };
    int rc = 0;
    if (ring->in_flight) {
        ring->reaping = true;
        rc = ring->be->reap(ring, mode == AIO_WAIT ? AIO_NO_TIMEOUT : 0);
        ring->reaping = false;
    }
    if (result) *result = ring->tally;
    return rc < 0 ? rc : 0;
}

int aio_ring_complete_timeout(struct aio_ring *ring, uint64_t timeout_ns, struct aio_result *result)
{
    if (!ring) return -EINVAL;
    if (ring->reaping) return -EDEADLK;
    ring->tally = (struct aio_result){ 0, 0 };
    ring->reaping = true;
    int rc = ring->be->reap(ring, timeout_ns);
    ring->reaping = false;
    if (result) *result = ring->tally;
    return rc < 0 ? rc : 0;
}

int aio_ring_wake(struct aio_ring *ring, struct aio_ring *via)
{
    if (!ring) return -EINVAL;
    /* one signal per wake the reaper has not consumed: wakes in between merge */
    if (atomic_exchange_explicit(&ring->wake_pending, true, memory_order_acq_rel)) return 0;
    int rc = ring->be->wake(ring, via == ring ? NULL : via);
    if (rc) aio_ring_woken(ring);
    return rc;
}

int aio_ring_complete_all(struct aio_ring *ring)
{
    if (!ring) return -EINVAL;
    size_t failed = 0;
    while (ring->in_flight) {
        struct aio_result r;
        int rc = aio_ring_complete(ring, AIO_WAIT, &r);
        failed += r.failed;
        if (rc < 0) return rc;
    }
    return failed > INT32_MAX ? INT32_MAX : (int)failed;
}
