/*
 * TIMEOUT and LINK_TIMEOUT, with elapsed time measured on the monotonic clock.
 *  TIMEOUT: 0 after at least `ns`.
 *  LINK_TIMEOUT firing: the op and the LINK_TIMEOUT both -ETIMEDOUT, after ~ns.
 *  op in time: the LINK_TIMEOUT reports 0 (whatever the op's own result).
 *  op cancelled otherwise: the LINK_TIMEOUT reports -ECANCELED.
 */
#include "helpers.h"

static char dir[64];
static void to_setup(void) { tmpdir_make(dir); }
static void to_teardown(void) { tmpdir_remove(dir); }

TestSuite(timeouts, .init = to_setup, .fini = to_teardown, .timeout = 20);

Test(timeouts, timeout_reports_zero_after_ns)
{
    uint64_t t0 = now_ns();
    int e = 1;
    cr_assert_eq(aio_single(AIO_TIMEOUT(.ns = MS(50), .out_error = &e)), 0);
    assert_elapsed(now_ns() - t0, MS(50));
    cr_assert_eq(e, 0);
}

/* More than a second: the seconds/nanoseconds split must be right. */
Test(timeouts, timeout_over_a_second)
{
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_single(AIO_TIMEOUT(.ns = MS(1100))), 0);
    assert_elapsed(now_ns() - t0, MS(1100));
}

Test(timeouts, zero_timeout_completes_at_once)
{
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_single(AIO_TIMEOUT(.ns = 0)), 0);
    cr_assert_lt(now_ns() - t0, MS(200));
}

/* Timeouts queued together complete in the order of their durations. */
Test(timeouts, timeouts_complete_by_duration)
{
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_TIMEOUT(.ns = MS(90), .userdata = 90),
        AIO_TIMEOUT(.ns = MS(10), .userdata = 10),
        AIO_TIMEOUT(.ns = MS(50), .userdata = 50),
    }, 3), 0);
    struct aio_result r;
    cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, &r), 0);
    cr_assert_geq(r.completed, 1);
    cr_assert_eq(rec.e[0].userdata, 10);
    assert_elapsed(now_ns() - t0, MS(10));
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    assert_elapsed(now_ns() - t0, MS(90));
    cr_assert_eq(rec.n, 3);
    cr_assert_eq(rec.e[1].userdata, 50);
    cr_assert_eq(rec.e[2].userdata, 90);
    for (int i = 0; i < 3; i++) cr_assert_eq(rec.e[i].result, 0);
    aio_ring_destroy(ring);
}

/* A RECV that gets nothing is cut short: both report -ETIMEDOUT after ~ns. */
Test(timeouts, link_timeout_fires)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    char buf[8];
    size_t got = 77;
    int er = 1, et = 1;
    uint64_t t0 = now_ns();
    int rc = AIO_MULTI(AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .out_read = &got,
                                .link = AIO_LINK_SOFT, .out_error = &er),
                       AIO_LINK_TIMEOUT(.ns = MS(60), .out_error = &et));
    assert_elapsed(now_ns() - t0, MS(60));
    cr_assert_eq(rc, -ETIMEDOUT);
    cr_assert_eq(er, -ETIMEDOUT);
    cr_assert_eq(et, -ETIMEDOUT);
    cr_assert_eq(got, 0);
    /* the RECV really stopped: data sent now stays in the socket */
    cr_assert_eq(write(sv[1], "z", 1), 1);
    cr_assert(readable_now(sv[0]), "the timed-out RECV still consumed data");
    close(sv[0]);
    close(sv[1]);
}

/* The same with HARD on the bounded op: the timeout fires just as well. */
Test(timeouts, link_timeout_fires_with_hard_link)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    char buf[8];
    int er = 1, et = 1, en = 1;
    uint64_t t0 = now_ns();
    AIO_MULTI(AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .link = AIO_LINK_HARD, .out_error = &er),
              AIO_LINK_TIMEOUT(.ns = MS(40), .out_error = &et, .link = AIO_LINK_HARD),
              AIO_NOP(.out_error = &en));
    assert_elapsed(now_ns() - t0, MS(40));
    cr_assert_eq(er, -ETIMEDOUT);
    cr_assert_eq(et, -ETIMEDOUT);
    cr_assert_eq(en, 0, "a HARD chain goes on after a timed-out op");
    close(sv[0]);
    close(sv[1]);
}

/* The op finishes in time: its own result, and 0 for the LINK_TIMEOUT, at once. */
Test(timeouts, op_in_time)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    cr_assert_eq(write(sv[1], "on time", 7), 7);
    char buf[8];
    size_t got = 0;
    int er = 1, et = 1;
    uint64_t t0 = now_ns();
    cr_assert_eq(AIO_MULTI(AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .out_read = &got,
                                    .link = AIO_LINK_SOFT, .out_error = &er),
                           AIO_LINK_TIMEOUT(.ns = MS(3000), .out_error = &et)), 0);
    cr_assert_lt(now_ns() - t0, MS(1000), "waited for the LINK_TIMEOUT although the op was done");
    cr_assert_eq(er, 0);
    cr_assert_eq(et, 0);
    cr_assert_eq(got, 7);
    cr_assert_arr_eq(buf, "on time", 7);

    /* data arriving during the wait, before the deadline */
    got = 0;
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(4, &rec);
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .out_read = &got, .link = AIO_LINK_SOFT, .userdata = 1),
        AIO_LINK_TIMEOUT(.ns = MS(3000), .userdata = 2),
    }, 2), 0);
    cr_assert_eq(ring_settle(ring, MS(20)), 0);
    cr_assert_eq(write(sv[1], "late ok", 7), 7);
    t0 = now_ns();
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_lt(now_ns() - t0, MS(1000));
    cr_assert_eq(rec_find(&rec, 1)->result, 0);
    cr_assert_eq(rec_find(&rec, 2)->result, 0);
    cr_assert_eq(got, 7);
    aio_ring_destroy(ring);
    close(sv[0]);
    close(sv[1]);
}

/* The op fails in time with its own error: that error, and 0 for the timeout. */
Test(timeouts, op_fails_in_time)
{
    struct sockaddr_in dst = loopback4(closed_port4());
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ec = 1, et = 1;
    cr_assert_eq(AIO_MULTI(AIO_CONNECT(.socket = s, .addr = (struct sockaddr *)&dst, .addrlen = sizeof dst,
                                       .link = AIO_LINK_SOFT, .out_error = &ec),
                           AIO_LINK_TIMEOUT(.ns = MS(3000), .out_error = &et)), -ECONNREFUSED);
    cr_assert_eq(ec, -ECONNREFUSED);
    cr_assert_eq(et, 0);
    close(s);
}

/* The LINK_TIMEOUT's own link continues the chain after the bounded op. */
Test(timeouts, link_timeout_continues_the_chain)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    char f[128];
    path_in(f, sizeof f, dir, "after");
    char buf[8];
    int e[3];

    /* in time: the op after the LINK_TIMEOUT runs */
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(AIO_MULTI(AIO_RECV(.socket = sv[0], .buf = buf, .len = 1, .link = AIO_LINK_SOFT, .out_error = &e[0]),
                           AIO_LINK_TIMEOUT(.ns = MS(2000), .link = AIO_LINK_SOFT, .out_error = &e[1]),
                           AIO_MKDIRAT(.path = f, .mode = 0700, .out_error = &e[2])), 0);
    cr_assert_eq(e[0], 0);
    cr_assert_eq(e[1], 0);
    cr_assert_eq(e[2], 0);
    cr_assert(path_exists(f));
    cr_assert_eq(rmdir(f), 0);

    /* fired: SOFT stops the chain */
    cr_assert_eq(AIO_MULTI(AIO_RECV(.socket = sv[0], .buf = buf, .len = 1, .link = AIO_LINK_SOFT, .out_error = &e[0]),
                           AIO_LINK_TIMEOUT(.ns = MS(30), .link = AIO_LINK_SOFT, .out_error = &e[1]),
                           AIO_MKDIRAT(.path = f, .mode = 0700, .out_error = &e[2])), -ETIMEDOUT);
    cr_assert_eq(e[0], -ETIMEDOUT);
    cr_assert_eq(e[1], -ETIMEDOUT);
    cr_assert_eq(e[2], -ECANCELED);
    cr_assert_not(path_exists(f), "the op after a fired LINK_TIMEOUT ran in a SOFT chain");
    close(sv[0]);
    close(sv[1]);
}

/* The bounded op is cancelled by an earlier failure of its chain: it reports
 * -ECANCELED and so does its LINK_TIMEOUT, without waiting. */
Test(timeouts, link_timeout_of_a_cancelled_op)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    char buf[8];
    int e[3] = { 1, 1, 1 };
    uint64_t t0 = now_ns();
    cr_assert_eq(AIO_MULTI(AIO_CLOSE(.fd = -1, .link = AIO_LINK_SOFT, .out_error = &e[0]),
                           AIO_RECV(.socket = sv[0], .buf = buf, .len = 1, .link = AIO_LINK_SOFT, .out_error = &e[1]),
                           AIO_LINK_TIMEOUT(.ns = MS(3000), .out_error = &e[2])), -EBADF);
    cr_assert_lt(now_ns() - t0, MS(1000));
    cr_assert_eq(e[0], -EBADF);
    cr_assert_eq(e[1], -ECANCELED);
    cr_assert_eq(e[2], -ECANCELED);
    close(sv[0]);
    close(sv[1]);
}

/* A TIMEOUT chained SOFT delays the op after it, which then runs. */
Test(timeouts, timeout_chained_into_an_op)
{
    char f[128];
    path_in(f, sizeof f, dir, "delayed");
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int et = 1, ew = 1;
    uint64_t t0 = now_ns();
    cr_assert_eq(AIO_MULTI(AIO_TIMEOUT(.ns = MS(50), .link = AIO_LINK_SOFT, .out_error = &et),
                           AIO_WRITE(.fd = fd, .buf = "after", .len = 5, .out_error = &ew)), 0);
    assert_elapsed(now_ns() - t0, MS(50));
    cr_assert_eq(et, 0);
    cr_assert_eq(ew, 0, "the op after an expired TIMEOUT did not run");
    char buf[8];
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), 5);
    cr_assert_arr_eq(buf, "after", 5);

    /* and the WRITE did not run before the TIMEOUT expired */
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(4, &rec);
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_TIMEOUT(.ns = MS(300), .link = AIO_LINK_SOFT, .userdata = 1),
        AIO_WRITE(.fd = fd, .buf = "second", .len = 6, .offset = 5, .userdata = 2),
    }, 2), 0);
    cr_assert_eq(ring_settle(ring, MS(20)), 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 5, "the chained WRITE ran before its TIMEOUT expired");
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 11);
    cr_assert_lt(rec_pos(&rec, 1), rec_pos(&rec, 2));
    aio_ring_destroy(ring);
    close(fd);
}

/* LINK_TIMEOUT bounding a TIMEOUT: the shorter one wins. */
Test(timeouts, link_timeout_on_a_timeout)
{
    int e1 = 1, e2 = 1;
    uint64_t t0 = now_ns();
    cr_assert_eq(AIO_MULTI(AIO_TIMEOUT(.ns = MS(5000), .link = AIO_LINK_SOFT, .out_error = &e1),
                           AIO_LINK_TIMEOUT(.ns = MS(40), .out_error = &e2)), -ETIMEDOUT);
    assert_elapsed(now_ns() - t0, MS(40));
    cr_assert_eq(e1, -ETIMEDOUT);
    cr_assert_eq(e2, -ETIMEDOUT);

    t0 = now_ns();
    cr_assert_eq(AIO_MULTI(AIO_TIMEOUT(.ns = MS(30), .link = AIO_LINK_SOFT, .out_error = &e1),
                           AIO_LINK_TIMEOUT(.ns = MS(3000), .out_error = &e2)), 0);
    assert_elapsed(now_ns() - t0, MS(30));
    cr_assert_eq(e1, 0);
    cr_assert_eq(e2, 0);
}
