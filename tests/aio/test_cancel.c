/*
 * CANCEL by id (and by stale id, id 0), cancelling timeouts and chains, and
 * CLOSE of a descriptor with ops in flight on the same ring.
 */
#include "helpers.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

TestSuite(cancel, .timeout = 20);

Test(cancel, by_id)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    char buf[8];
    size_t got = 55;
    aio_id id = 0;
    cr_assert_eq(aio_ring_queue(ring, &AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .out_read = &got,
                                                .out_id = &id, .userdata = 1), 1), 0);
    cr_assert_neq(id, 0);
    cr_assert_eq(ring_poke(ring), 0);
    int ec = 1;
    cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = id, .out_error = &ec, .userdata = 2), 1), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 1);
    cr_assert_eq(rec.n, 2);
    cr_assert_eq(rec_find(&rec, 1)->result, -ECANCELED);
    cr_assert_eq(rec_find(&rec, 1)->id, id);
    cr_assert_eq(rec_find(&rec, 2)->result, 0);
    cr_assert_eq(ec, 0);
    cr_assert_eq(got, 0);
    /* the RECV is gone: data sent now stays unread */
    cr_assert_eq(write(sv[1], "k", 1), 1);
    cr_assert(readable_now(sv[0]));
    aio_ring_destroy(ring);
    close(sv[0]);
    close(sv[1]);
}

/* The CANCEL in the same batch as its target, just behind it. */
Test(cancel, same_batch)
{
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    aio_id ids[2] = { 0, 0 };
    cr_assert_eq(aio_ring_queue_batch(ring, &AIO_TIMEOUT(.ns = MS(5000), .userdata = 1), 1, NULL, NULL, ids), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = ids[0], .userdata = 2), 1), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_ring_complete_all(ring), 1);
    cr_assert_lt(now_ns() - t0, MS(1000));
    aio_ring_destroy(ring);
}

/* A TIMEOUT cancelled: -ECANCELED at once instead of 0 after its time. */
Test(cancel, timeout)
{
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(4, &rec);
    aio_id id = 0;
    int et = 1;
    cr_assert_eq(aio_ring_queue(ring, &AIO_TIMEOUT(.ns = MS(5000), .out_id = &id, .out_error = &et, .userdata = 1), 1), 0);
    cr_assert_eq(ring_settle(ring, MS(10)), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = id, .userdata = 2), 1), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 1);
    cr_assert_lt(now_ns() - t0, MS(1000), "the cancelled TIMEOUT ran its course");
    cr_assert_eq(et, -ECANCELED);
    cr_assert_eq(rec_find(&rec, 2)->result, 0);
    aio_ring_destroy(ring);
}

/* An id whose op completed is stale: -ENOENT, also after its slot was
 * reused by another op, which the stale CANCEL must leave alone. */
Test(cancel, stale_id)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct recorder rec = { 0 };
    /* two entries: the NOP's slot is reused by the RECV, the CANCEL takes the other */
    struct aio_ring *ring = ring_new(2, &rec);
    aio_id old = 0, fresh = 0;
    cr_assert_eq(aio_ring_queue(ring, &AIO_NOP(.out_id = &old, .userdata = 1), 1), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    char buf[8];
    size_t got = 0;
    cr_assert_eq(aio_ring_queue(ring, &AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .out_read = &got,
                                                .out_id = &fresh, .userdata = 2), 1), 0);
    cr_assert_neq(fresh, old, "a reused slot gave the same id");
    int ec = 1;
    cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = old, .out_error = &ec, .userdata = 3), 1), 0);
    struct aio_result r;
    cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, &r), 0);
    cr_assert_eq(ring_settle(ring, MS(20)), 0, "the stale CANCEL stopped somebody else's op");
    cr_assert_eq(ec, -ENOENT);
    cr_assert_eq(rec_find(&rec, 3)->result, -ENOENT);
    cr_assert_eq(aio_ring_in_flight(ring), 1);
    cr_assert_eq(write(sv[1], "alive", 5), 5);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec_find(&rec, 2)->result, 0);
    cr_assert_eq(got, 5);
    cr_assert_arr_eq(buf, "alive", 5);

    /* an id from the immediate calls' ring, completed long ago */
    aio_id done = 0;
    cr_assert_eq(aio_single(AIO_NOP(.out_id = &done)), 0);
    cr_assert_eq(aio_single(AIO_CANCEL(.id = done)), -ENOENT);
    /* an id that was never handed out */
    cr_assert_eq(aio_single(AIO_CANCEL(.id = ((aio_id)0x7fffffff << 32) | 12345)), -ENOENT);
    aio_ring_destroy(ring);
    close(sv[0]);
    close(sv[1]);
}

Test(cancel, id_zero_is_invalid)
{
    int e = 77;
    cr_assert_eq(aio_single(AIO_CANCEL(.id = 0, .out_error = &e)), -EINVAL);
    cr_assert_eq(e, 77, "a refused op's out_error was written");
}

/* Cancelling the running head of a chain: SOFT cancels the rest, HARD goes on. */
Test(cancel, chain_head)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    for (int hard = 0; hard < 2; hard++) {
        struct recorder rec = { 0 };
        struct aio_ring *ring = ring_new(8, &rec);
        char buf[8];
        aio_id ids[3];
        cr_assert_eq(aio_ring_queue_batch(ring, (struct aio_op[]){
            AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .link = hard ? AIO_LINK_HARD : AIO_LINK_SOFT),
            AIO_NOP(.link = AIO_LINK_SOFT),
            AIO_NOP(),
        }, 3, NULL, NULL, ids), 0);
        cr_assert_eq(ring_poke(ring), 0);
        /* the NOP waits behind the RECV: not running, so not found */
        cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = ids[1], .userdata = 10), 1), 0);
        cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, NULL), 0);
        cr_assert_eq(rec.n, 1);
        cr_assert_eq(rec.e[0].result, -ENOENT, "cancelling an op waiting in its chain");
        cr_assert_eq(aio_ring_in_flight(ring), 3);
        /* the running head */
        cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = ids[0], .userdata = 11), 1), 0);
        aio_ring_complete_all(ring);
        cr_assert_eq(rec_find(&rec, 11)->result, 0);
        aio_ring_destroy(ring);
    }
    close(sv[0]);
    close(sv[1]);
}

static int batch_results[3];
static void batch_cb(void *ctx, size_t index, int result)
{
    (void)ctx;
    batch_results[index] = result;
}

/* The rest of a cancelled chain follows its link rule: SOFT cancels it
 * without running it, HARD runs it. */
Test(cancel, chain_rest_follows_link_rule)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    char d[64], p[128];
    tmpdir_make(d);
    path_in(p, sizeof p, d, "rest");
    for (int hard = 0; hard < 2; hard++) {
        struct aio_ring *ring = ring_new(8, NULL);
        char buf[8];
        aio_id ids[3];
        for (int i = 0; i < 3; i++) batch_results[i] = 999;
        cr_assert_eq(aio_ring_queue_batch(ring, (struct aio_op[]){
            AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .link = hard ? AIO_LINK_HARD : AIO_LINK_SOFT),
            AIO_MKDIRAT(.path = p, .mode = 0700, .link = AIO_LINK_SOFT),
            AIO_NOP(),
        }, 3, batch_cb, NULL, ids), 0);
        cr_assert_eq(ring_poke(ring), 0);
        cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = ids[0]), 1), 0);
        aio_ring_complete_all(ring);
        cr_assert_eq(batch_results[0], -ECANCELED);
        cr_assert_eq(batch_results[1], hard ? 0 : -ECANCELED);
        cr_assert_eq(batch_results[2], hard ? 0 : -ECANCELED);
        if (hard) cr_assert(path_exists(p), "HARD: the rest did not run");
        else cr_assert_not(path_exists(p), "SOFT: the cancelled rest ran");
        aio_ring_destroy(ring);
    }
    tmpdir_remove(d);
    close(sv[0]);
    close(sv[1]);
}

/* A cancelled op bounded by a LINK_TIMEOUT: both -ECANCELED. */
Test(cancel, op_with_link_timeout)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    char buf[8];
    aio_id ids[2];
    cr_assert_eq(aio_ring_queue_batch(ring, (struct aio_op[]){
        AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .link = AIO_LINK_SOFT),
        AIO_LINK_TIMEOUT(.ns = MS(5000)),
    }, 2, batch_cb, NULL, ids), 0);
    cr_assert_eq(ring_poke(ring), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = ids[0], .userdata = 3), 1), 0);
    aio_ring_complete_all(ring);
    cr_assert_lt(now_ns() - t0, MS(1000));
    cr_assert_eq(batch_results[0], -ECANCELED);
    cr_assert_eq(batch_results[1], -ECANCELED);
    cr_assert_eq(rec_find(&rec, 3)->result, 0);
    aio_ring_destroy(ring);
    close(sv[0]);
    close(sv[1]);
}

/* CLOSE of a socket with a RECV and a POLL in flight on the same ring: they
 * report -ECANCELED, the CLOSE succeeds, ops on other fds are untouched. */
Test(cancel, close_cancels_ops_in_flight)
{
    int sv[2], other[2];
    make_socketpair(SOCK_STREAM, sv);
    make_socketpair(SOCK_STREAM, other);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    char b1[8], b2[8];
    size_t got1 = 9, got2 = 0;
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_RECV(.socket = sv[0], .buf = b1, .len = sizeof b1, .out_read = &got1, .userdata = 1),
        AIO_POLL(.fd = sv[0], .events = POLLIN, .userdata = 2),
        AIO_RECV(.socket = other[0], .buf = b2, .len = sizeof b2, .out_read = &got2, .userdata = 3),
    }, 3), 0);
    cr_assert_eq(ring_settle(ring, MS(10)), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_CLOSE(.fd = sv[0], .userdata = 4), 1), 0);
    struct aio_result r;
    size_t done = 0;
    while (done < 3) {
        cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, &r), 0);
        done += r.completed;
    }
    cr_assert_eq(ring_settle(ring, MS(20)), 0, "an op on another fd completed");
    cr_assert_eq(rec_find(&rec, 1)->result, -ECANCELED);
    cr_assert_eq(rec_find(&rec, 2)->result, -ECANCELED);
    cr_assert_eq(rec_find(&rec, 4)->result, 0);
    cr_assert_eq(got1, 0);
    cr_assert_not(fd_open(sv[0]), "CLOSE did not close");
    cr_assert_eq(aio_ring_in_flight(ring), 1);
    cr_assert_eq(write(other[1], "fine", 4), 4);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec_find(&rec, 3)->result, 0);
    cr_assert_eq(got2, 4);
    aio_ring_destroy(ring);
    close(sv[1]);
    close(other[0]);
    close(other[1]);
}

/* CLOSE in the same batch as the RECV it cuts short. */
Test(cancel, close_in_same_batch)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    char b[8];
    int er = 1, ec = 1;
    aio_complete((struct aio_op[]){
        AIO_RECV(.socket = sv[0], .buf = b, .len = sizeof b, .out_error = &er),
        AIO_CLOSE(.fd = sv[0], .out_error = &ec),
    }, 2);
    cr_assert_eq(er, -ECANCELED);
    cr_assert_eq(ec, 0);
    cr_assert_not(fd_open(sv[0]));
    close(sv[1]);
}

/* A LINK_TIMEOUT is not an op CANCEL can stop (io_uring cannot find one by
 * id): -ENOENT, and it still bounds its op. Cancel the op instead. */
Test(cancel, link_timeout_by_id_is_enoent)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    char buf[8];
    aio_id ids[2];
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_ring_queue_batch(ring, (struct aio_op[]){
        AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .link = AIO_LINK_SOFT, .userdata = 1),
        AIO_LINK_TIMEOUT(.ns = MS(100), .userdata = 2),
    }, 2, NULL, NULL, ids), 0);
    cr_assert_eq(ring_poke(ring), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = ids[1], .userdata = 3), 1), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 3);
    assert_elapsed(now_ns() - t0, MS(100));
    cr_assert_eq(rec_find(&rec, 3)->result, -ENOENT);
    cr_assert_eq(rec_find(&rec, 1)->result, -ETIMEDOUT);
    cr_assert_eq(rec_find(&rec, 2)->result, -ETIMEDOUT);
    aio_ring_destroy(ring);
    close(sv[0]);
    close(sv[1]);
}

/* A cancelled EVENT_WAIT consumes no notification; a cancelled CHILD_EXIT
 * reaps nothing: the child is still there for waitpid. */
Test(cancel, cancelled_waits_take_nothing)
{
    struct aio_event_source src;
    cr_assert_eq(aio_event_source_init(&src), 0);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    aio_id id = 0;
    cr_assert_eq(aio_ring_queue(ring, &AIO_EVENT_WAIT(.source = &src, .out_id = &id, .userdata = 1), 1), 0);
    cr_assert_eq(ring_poke(ring), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = id, .userdata = 2), 1), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 1);
    cr_assert_eq(rec_find(&rec, 1)->result, -ECANCELED);
    cr_assert_eq(rec_find(&rec, 2)->result, 0);
    cr_assert_eq(aio_single(AIO_EVENT_NOTIFY(.source = &src)), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_EVENT_WAIT(.source = &src, .userdata = 3), 1), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_lt(now_ns() - t0, MS(1000));
    cr_assert_eq(rec_find(&rec, 3)->result, 0, "the notification went to the cancelled wait");

    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) for (;;) pause();
    int status = 12345;
    cr_assert_eq(aio_ring_queue(ring, &AIO_CHILD_EXIT(.pid = pid, .out_status = &status, .out_id = &id,
                                                      .userdata = 4), 1), 0);
    cr_assert_eq(ring_poke(ring), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_CANCEL(.id = id, .userdata = 5), 1), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 1);
    cr_assert_eq(rec_find(&rec, 4)->result, -ECANCELED);
    cr_assert_eq(rec_find(&rec, 5)->result, 0);
    cr_assert_eq(status, 0);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int ws = 0;
    cr_assert_eq(waitpid(pid, &ws, 0), pid, "the cancelled CHILD_EXIT reaped the child");
    cr_assert(WIFSIGNALED(ws));
    aio_ring_destroy(ring);
    aio_event_source_destroy(&src);
}
