/*
 * Bad input: -EINVAL before anything is queued. For every bad batch, on a
 * ring and through the immediate calls: the call fails with -EINVAL, nothing
 * is in flight, no out_* target (ids, errors, results) is touched, and a
 * valid op placed before the bad one in the same batch never runs.
 * Also the names: aio_strerror and aio_backend_name.
 */
#include "helpers.h"

#include <limits.h>
#include <poll.h>

static char dir[64];
static void inv_setup(void) { tmpdir_make(dir); }
static void inv_teardown(void) { tmpdir_remove(dir); }

TestSuite(invalid, .init = inv_setup, .fini = inv_teardown, .timeout = 20);

#define SENTINEL_ID ((aio_id)0x5eed5eed5eedull)
#define SENTINEL_ERR 31337

/* Checks that `bad` (n ops, the last one or more being wrong) is refused
 * everywhere with nothing run and nothing written. A MKDIRAT with its own
 * out_id/out_error is put in front of the batch to prove nothing ran. */
static void expect_refused(const struct aio_op *bad, size_t n)
{
    char probe[128];
    path_in(probe, sizeof probe, dir, "ran");
    struct aio_op ops[8];
    aio_id oid[8];
    int oerr[8];
    cr_assert_leq(n + 1, 8);
    ops[0] = AIO_MKDIRAT(.path = probe, .mode = 0700);
    for (size_t i = 0; i < n; i++) ops[i + 1] = bad[i];
    for (size_t i = 0; i < n + 1; i++) {
        oid[i] = SENTINEL_ID;
        oerr[i] = SENTINEL_ERR;
        ops[i].common.out_id = &oid[i];
        ops[i].common.out_error = &oerr[i];
    }
    /* the MKDIRAT goes alone, unlinked, unless the bad part needs it as a predecessor */
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(16, &rec);
    aio_id ids[8];
    for (size_t i = 0; i < 8; i++) ids[i] = SENTINEL_ID;
    cr_assert_eq(aio_ring_queue(ring, ops, n + 1), -EINVAL);
    cr_assert_eq(aio_ring_queue_batch(ring, ops, n + 1, NULL, NULL, ids), -EINVAL);
    cr_assert_eq(aio_ring_in_flight(ring), 0, "a refused batch left ops in flight");
    cr_assert_eq(aio_ring_queue(ring, bad, n), -EINVAL);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec.n, 0, "a refused op completed");
    aio_ring_destroy(ring);
    cr_assert_eq(aio_multi(ops, n + 1), -EINVAL);
    cr_assert_eq(aio_complete(ops, n + 1), -EINVAL);
    cr_assert_eq(aio_multi(bad, n), -EINVAL);
    if (n == 1) cr_assert_eq(aio_single(bad[0]), -EINVAL);
    for (size_t i = 0; i < n + 1; i++) {
        cr_assert_eq(oid[i], SENTINEL_ID, "out_id of op %zu written", i);
        cr_assert_eq(oerr[i], SENTINEL_ERR, "out_error of op %zu written", i);
    }
    for (size_t i = 0; i < 8; i++) cr_assert_eq(ids[i], SENTINEL_ID);
    cr_assert_not(path_exists(probe), "an op of a refused batch ran");
}

#define REFUSED(...)                                                       \
    do {                                                                   \
        const struct aio_op bad_[] = { __VA_ARGS__ };                      \
        expect_refused(bad_, sizeof bad_ / sizeof bad_[0]);                \
    } while (0)

Test(invalid, null_ops_and_empty_batch)
{
    struct aio_ring *ring = ring_new(4, NULL);
    cr_assert_eq(aio_ring_queue(ring, NULL, 1), -EINVAL);
    cr_assert_eq(aio_ring_queue(ring, &AIO_NOP(), 0), -EINVAL);
    cr_assert_eq(aio_ring_queue(ring, NULL, 0), -EINVAL);
    aio_id ids[1] = { SENTINEL_ID };
    cr_assert_eq(aio_ring_queue_batch(ring, NULL, 1, NULL, NULL, ids), -EINVAL);
    cr_assert_eq(aio_ring_queue_batch(ring, &AIO_NOP(), 0, NULL, NULL, ids), -EINVAL);
    cr_assert_eq(ids[0], SENTINEL_ID);
    cr_assert_eq(aio_ring_in_flight(ring), 0);
    aio_ring_destroy(ring);
    cr_assert_eq(aio_multi(NULL, 1), -EINVAL);
    cr_assert_eq(aio_multi(NULL, 0), -EINVAL);
    cr_assert_eq(aio_multi(&AIO_NOP(), 0), -EINVAL);
    cr_assert_eq(aio_complete(NULL, 3), -EINVAL);
    cr_assert_eq(aio_complete(&AIO_NOP(), 0), -EINVAL);
}

Test(invalid, bad_kinds)
{
    REFUSED((struct aio_op){ .kind = 0 });
    REFUSED((struct aio_op){ 0 });
    REFUSED((struct aio_op){ .kind = AIO_KIND_COUNT_ });
    REFUSED((struct aio_op){ .kind = (enum aio_kind)1000 });
    REFUSED((struct aio_op){ .kind = (enum aio_kind)-1 });
    REFUSED(AIO_NOP(), (struct aio_op){ .kind = 0 });
}

Test(invalid, bad_links)
{
    REFUSED(AIO_NOP(.link = AIO_LINK_SOFT));
    REFUSED(AIO_NOP(.link = AIO_LINK_HARD));
    REFUSED(AIO_NOP(), AIO_NOP(.link = AIO_LINK_SOFT));
    REFUSED(AIO_NOP(.link = (enum aio_link)3), AIO_NOP());
    REFUSED(AIO_NOP(.link = (enum aio_link)-1), AIO_NOP());
    REFUSED(AIO_NOP(.link = (enum aio_link)3));
}

Test(invalid, bad_link_timeouts)
{
    REFUSED(AIO_LINK_TIMEOUT(.ns = 1000));                                         /* first */
    REFUSED(AIO_LINK_TIMEOUT(.ns = 1000, .link = AIO_LINK_SOFT), AIO_NOP());     /* first, linked on */
    REFUSED(AIO_NOP(), AIO_LINK_TIMEOUT(.ns = 1000));                            /* after an unlinked op */
    REFUSED(AIO_NOP(.link = AIO_LINK_SOFT), AIO_LINK_TIMEOUT(.ns = 1000, .link = AIO_LINK_SOFT),
            AIO_LINK_TIMEOUT(.ns = 1000));                                        /* after another LINK_TIMEOUT */
    REFUSED(AIO_NOP(.link = AIO_LINK_SOFT), AIO_LINK_TIMEOUT(.ns = 1000, .link = AIO_LINK_SOFT)); /* linked last */
}

Test(invalid, null_buffers)
{
    REFUSED(AIO_READ(.fd = 0, .buf = NULL, .len = 1));
    REFUSED(AIO_WRITE(.fd = 1, .buf = NULL, .len = 5));
    REFUSED(AIO_RECV(.socket = 0, .buf = NULL, .len = 8));
    REFUSED(AIO_SEND(.socket = 0, .buf = NULL, .len = 8));
    REFUSED(AIO_READV(.fd = 0, .iov = NULL, .iovcnt = 1));
    REFUSED(AIO_WRITEV(.fd = 1, .iov = NULL, .iovcnt = 2));
    struct iovec v = { NULL, 0 };
    REFUSED(AIO_READV(.fd = 0, .iov = &v, .iovcnt = -1));
    REFUSED(AIO_RECVMSG(.socket = 0, .msg = NULL));
    REFUSED(AIO_SENDMSG(.socket = 0, .msg = NULL));
    char b[4];
    REFUSED(AIO_READ(.fd = 0, .buf = b, .len = 4, .offset = -2));
    REFUSED(AIO_WRITE(.fd = 1, .buf = b, .len = 4, .offset = INT64_MIN));
}

Test(invalid, null_paths)
{
    REFUSED(AIO_OPENAT(.path = NULL, .flags = O_RDONLY));
    REFUSED(AIO_UNLINKAT(.path = NULL));
    REFUSED(AIO_MKDIRAT(.path = NULL, .mode = 0700));
    REFUSED(AIO_RENAMEAT(.old_path = NULL, .new_path = "x"));
    REFUSED(AIO_RENAMEAT(.old_path = "x", .new_path = NULL));
    REFUSED(AIO_SYMLINKAT(.target = NULL, .linkpath = "x"));
    REFUSED(AIO_SYMLINKAT(.target = "x", .linkpath = NULL));
}

Test(invalid, bad_socket_args)
{
    struct sockaddr_in a = loopback4(0);
    REFUSED(AIO_BIND(.socket = 0, .addr = NULL, .addrlen = sizeof a));
    REFUSED(AIO_BIND(.socket = 0, .addr = (struct sockaddr *)&a, .addrlen = 0));
    REFUSED(AIO_CONNECT(.socket = 0, .addr = NULL, .addrlen = sizeof a));
    REFUSED(AIO_CONNECT(.socket = 0, .addr = (struct sockaddr *)&a, .addrlen = 0));
    socklen_t len = sizeof a;
    REFUSED(AIO_ACCEPT(.socket = 0, .addr = (struct sockaddr *)&a, .addrlen = NULL));
    REFUSED(AIO_ACCEPT(.socket = 0, .addr = NULL, .addrlen = &len));
    REFUSED(AIO_LISTEN(.socket = 0, .backlog = -1));
    REFUSED(AIO_SHUTDOWN(.socket = 0, .how = 3));
    REFUSED(AIO_SHUTDOWN(.socket = 0, .how = -1));
    REFUSED(AIO_SHUTDOWN(.socket = 0, .how = 100));
}

Test(invalid, bad_misc_args)
{
    REFUSED(AIO_CHILD_EXIT(.pid = 0));
    REFUSED(AIO_CHILD_EXIT(.pid = -1));
    REFUSED(AIO_CHILD_EXIT(.pid = INT_MIN));
    REFUSED(AIO_EVENT_NOTIFY(.source = NULL));
    REFUSED(AIO_EVENT_WAIT(.source = NULL));
    REFUSED(AIO_CANCEL(.id = 0));
    REFUSED(AIO_POLL(.fd = 0, .events = 0));
    REFUSED(AIO_FSYNC(.fd = 0, .flags = 0x80));
    REFUSED(AIO_SPLICE(.fd_in = 0, .fd_out = 1, .len = (size_t)INT_MAX + 1));
}

/* One bad op deep inside an otherwise good chain refuses the whole batch. */
Test(invalid, bad_op_inside_a_chain)
{
    REFUSED(AIO_NOP(.link = AIO_LINK_SOFT), AIO_TIMEOUT(.ns = 1, .link = AIO_LINK_HARD),
            AIO_MKDIRAT(.path = NULL, .link = AIO_LINK_SOFT), AIO_NOP());
    REFUSED(AIO_NOP(.link = AIO_LINK_SOFT), AIO_NOP(), AIO_NOP(), AIO_CHILD_EXIT(.pid = 0));
}

Test(invalid, ring_create_and_calls)
{
    struct aio_ring *ring = (struct aio_ring *)(uintptr_t)0x1;
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 0 }), -EINVAL);
    cr_assert_eq(aio_ring_create(NULL, NULL), -EINVAL);
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = UINT32_MAX }), -EINVAL);
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 4, .backend = (enum aio_backend)77 }),
                 -EINVAL);
    cr_assert_eq(aio_ring_queue(NULL, &AIO_NOP(), 1), -EINVAL);
    cr_assert_eq(aio_ring_queue_batch(NULL, &AIO_NOP(), 1, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(aio_ring_complete(NULL, AIO_WAIT, NULL), -EINVAL);
    cr_assert_eq(aio_ring_complete_all(NULL), -EINVAL);
    cr_assert_eq(aio_ring_in_flight(NULL), 0);
    aio_ring_destroy(NULL);
    ring = ring_new(2, NULL);
    cr_assert_eq(aio_ring_complete(ring, (enum aio_wait_mode)7, NULL), -EINVAL);
    aio_ring_destroy(ring);
    cr_assert_eq(aio_event_source_init(NULL), -EINVAL);
    aio_event_source_destroy(NULL);
}

/* An unknown AIO_BACKEND value is an error, not a silent AUTO: for a ring and
 * for the immediate calls (each test runs in its own process, so setenv here
 * stays here). */
Test(invalid, unknown_backend_env)
{
    cr_assert_eq(setenv("AIO_BACKEND", "no-such-backend", 1), 0);
    struct aio_ring *ring = NULL;
    cr_assert_eq(aio_ring_create(&ring, NULL), -EINVAL);
    cr_assert_null(ring);
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8 }), -EINVAL);
    cr_assert_eq(aio_single(AIO_NOP()), -EINVAL);
    cr_assert_eq(setenv("AIO_BACKEND", "IO_URING", 1), 0);
    cr_assert_eq(aio_ring_create(&ring, NULL), -EINVAL, "backend names are exact");
}

Test(invalid, names)
{
    cr_assert_str_eq(aio_backend_name(AIO_BACKEND_AUTO), "auto");
    cr_assert_str_eq(aio_backend_name(AIO_BACKEND_IO_URING), "io_uring");
    cr_assert_str_eq(aio_backend_name(AIO_BACKEND_EPOLL), "epoll");
    cr_assert_str_eq(aio_backend_name(AIO_BACKEND_POLL), "poll");
    cr_assert_str_eq(aio_backend_name(AIO_BACKEND_KQUEUE), "kqueue");
    cr_assert_str_eq(aio_backend_name(AIO_BACKEND_IOCP), "iocp");
    cr_assert_str_eq(aio_backend_name((enum aio_backend)99), "unknown");

    cr_assert_str_eq(aio_strerror(0), "success");
    const char *s = aio_strerror(-ECONNRESET);
    cr_assert_not_null(s);
    cr_assert_eq(strncmp(s, "ECONNRESET: ", 12), 0, "got \"%s\"", s);
    cr_assert_gt(strlen(s), 12, "no description after the name");
    cr_assert_eq(strncmp(aio_strerror(-ETIMEDOUT), "ETIMEDOUT: ", 11), 0);
    cr_assert_eq(strncmp(aio_strerror(-ECANCELED), "ECANCELED: ", 11), 0);
    cr_assert_eq(strncmp(aio_strerror(-EINVAL), "EINVAL: ", 8), 0);
    cr_assert_eq(strncmp(aio_strerror(-ENOENT), "ENOENT: ", 8), 0);
    cr_assert_str_eq(aio_strerror(-99999), "unknown error");
    cr_assert_str_eq(aio_strerror(INT_MIN), "unknown error");
    /* each call's text is its own until the next call */
    char first[160];
    snprintf(first, sizeof first, "%s", aio_strerror(-EPIPE));
    cr_assert_str_eq(first, aio_strerror(-EPIPE));
}
