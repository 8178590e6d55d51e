/*
 * struct aio_ring_options.flags: unknown bits are refused, and a ring with
 * AIO_RING_EAGER_CHAINS gives the same results as one without, on every
 * backend (it only changes when the kernel starts a linked op). Also what a
 * ring's own callbacks may and may not do with it.
 */
#include <aio/aio.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

Test(ring_flags, unknown_bits_are_refused)
{
    struct aio_ring *ring = (struct aio_ring *)1;
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8, .flags = 2 }), -EINVAL);
    cr_assert_null(ring);
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8, .flags = 0x80000000u }), -EINVAL);
    cr_assert_null(ring);
}

static void linked_exchange(uint32_t flags)
{
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8, .flags = flags }), 0);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    char buf[8] = { 0 };
    size_t sent = 0, got = 0;
    int e[3] = { 1, 1, 1 };
    /* send -> recv on the other end -> a failing op -> a cancelled NOP */
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_SEND(.socket = sv[0], .buf = "ping", .len = 4, .out_written = &sent, .link = AIO_LINK_SOFT, .out_error = &e[0]),
        AIO_RECV(.socket = sv[1], .buf = buf, .len = sizeof buf, .out_read = &got, .link = AIO_LINK_SOFT,
                 .out_error = &e[1]),
        AIO_NOP(.out_error = &e[2]),
    }, 3), 0);
    /* polling without waiting, as an event loop does between its work */
    int polls = 0;
    while (aio_ring_in_flight(ring) && polls < 100000) {
        cr_assert_eq(aio_ring_complete(ring, polls % 2 ? AIO_NOWAIT : AIO_WAIT, NULL), 0);
        polls++;
    }
    cr_assert_eq(aio_ring_in_flight(ring), 0);
    cr_assert_eq(e[0], 0);
    cr_assert_eq(e[1], 0);
    cr_assert_eq(e[2], 0);
    cr_assert_eq(sent, 4);
    cr_assert_eq(got, 4);
    cr_assert_arr_eq(buf, "ping", 4);
    close(sv[0]);
    close(sv[1]);
    aio_ring_destroy(ring);
}

Test(ring_flags, eager_chains_same_results, .timeout = 10) { linked_exchange(AIO_RING_EAGER_CHAINS); }
Test(ring_flags, default_same_results, .timeout = 10) { linked_exchange(0); }

/* A callback may queue on its ring but not reap it: aio_ring_complete and
 * aio_ring_complete_timeout refuse with -EDEADLK, and nothing is lost. */
struct reentry { struct aio_ring *ring; int complete_rc, timeout_rc, queue_rc, calls; };

static void reenter(void *ctx, aio_id id, uint64_t userdata, int result)
{
    (void)id;
    (void)result;
    struct reentry *r = ctx;
    r->calls++;
    if (userdata != 1) return;
    r->complete_rc = aio_ring_complete(r->ring, AIO_NOWAIT, NULL);
    r->timeout_rc = aio_ring_complete_timeout(r->ring, 0, NULL);
    struct aio_op next = AIO_NOP(.userdata = 2);
    r->queue_rc = aio_ring_queue(r->ring, &next, 1);
}

Test(ring_flags, callback_cannot_reap_its_ring, .timeout = 10)
{
    struct reentry r = { .complete_rc = 1, .timeout_rc = 1, .queue_rc = 1 };
    cr_assert_eq(aio_ring_create(&r.ring, &(struct aio_ring_options){ .entries = 4, .on_complete = reenter, .ctx = &r }), 0);
    struct aio_op op = AIO_NOP(.userdata = 1);
    cr_assert_eq(aio_ring_queue(r.ring, &op, 1), 0);
    cr_assert_geq(aio_ring_complete_all(r.ring), 0);
    cr_assert_eq(r.complete_rc, -EDEADLK);
    cr_assert_eq(r.timeout_rc, -EDEADLK);
    cr_assert_eq(r.queue_rc, 0, "queueing from a callback must work");
    cr_assert_eq(r.calls, 2, "the op queued from the callback must complete too");
    cr_assert_eq(aio_ring_in_flight(r.ring), 0);
    aio_ring_destroy(r.ring);
}
