/*
 * Link semantics: SOFT stops at the first failure (the rest -ECANCELED and
 * not executed, proven by their missing side effects), HARD goes on, a short
 * READ breaks a SOFT chain, chains and independent ops share a batch, and a
 * chain completes in order.
 */
#include "helpers.h"

#include <signal.h>
#include <sys/resource.h>

static char dir[64];
static void links_setup(void) { tmpdir_make(dir); }
static void links_teardown(void) { tmpdir_remove(dir); }

TestSuite(links, .init = links_setup, .fini = links_teardown, .timeout = 20);

/* A chain: WRITE ok -> OPENAT fails -> MKDIRAT -> WRITE -> SYMLINKAT. */
static int failing_chain(enum aio_link link, int res[5], size_t *written, int wfd)
{
    char missing[128], d[128], l[128];
    path_in(missing, sizeof missing, dir, "no/such/file");
    path_in(d, sizeof d, dir, "made");
    path_in(l, sizeof l, dir, "link");
    for (int i = 0; i < 5; i++) res[i] = 12345;
    int fd = 77;
    *written = 4242;
    return AIO_MULTI(AIO_WRITE(.fd = wfd, .buf = "A", .len = 1, .offset = 0, .link = link, .out_error = &res[0]),
                     AIO_OPENAT(.path = missing, .flags = O_RDONLY, .out_fd = &fd, .link = link, .out_error = &res[1]),
                     AIO_MKDIRAT(.path = d, .mode = 0700, .link = link, .out_error = &res[2]),
                     AIO_WRITE(.fd = wfd, .buf = "B", .len = 1, .offset = 1, .link = link, .out_error = &res[3],
                               .out_written = written),
                     AIO_SYMLINKAT(.target = "x", .linkpath = l, .out_error = &res[4]));
}

Test(links, soft_failure_cancels_the_rest_unexecuted)
{
    char f[128], d[128], l[128];
    path_in(f, sizeof f, dir, "file");
    path_in(d, sizeof d, dir, "made");
    path_in(l, sizeof l, dir, "link");
    int wfd = open(f, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int res[5];
    size_t written;
    cr_assert_eq(failing_chain(AIO_LINK_SOFT, res, &written, wfd), -ENOENT, "aio_multi reports the first failure");
    cr_assert_eq(res[0], 0);
    cr_assert_eq(res[1], -ENOENT);
    cr_assert_eq(res[2], -ECANCELED);
    cr_assert_eq(res[3], -ECANCELED);
    cr_assert_eq(res[4], -ECANCELED);
    cr_assert_eq(written, 0, "a cancelled WRITE reports 0 bytes");
    char buf[4];
    cr_assert_eq(pread(wfd, buf, sizeof buf, 0), 1, "a cancelled WRITE wrote");
    cr_assert_eq(buf[0], 'A');
    cr_assert_not(path_exists(d), "a cancelled MKDIRAT ran");
    cr_assert_not(path_exists(l), "a cancelled SYMLINKAT ran");
    close(wfd);
}

Test(links, hard_continues_regardless)
{
    char f[128], d[128], l[128];
    path_in(f, sizeof f, dir, "file");
    path_in(d, sizeof d, dir, "made");
    path_in(l, sizeof l, dir, "link");
    int wfd = open(f, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int res[5];
    size_t written;
    cr_assert_eq(failing_chain(AIO_LINK_HARD, res, &written, wfd), -ENOENT);
    cr_assert_eq(res[0], 0);
    cr_assert_eq(res[1], -ENOENT);
    cr_assert_eq(res[2], 0);
    cr_assert_eq(res[3], 0);
    cr_assert_eq(res[4], 0);
    cr_assert_eq(written, 1);
    char buf[4];
    cr_assert_eq(pread(wfd, buf, sizeof buf, 0), 2);
    cr_assert_arr_eq(buf, "AB", 2);
    cr_assert(path_exists(d));
    cr_assert(path_exists(l));
    close(wfd);
}

/* HARD then SOFT: the HARD link passes a failure on, the SOFT one stops at the
 * next failure. */
Test(links, hard_then_soft)
{
    char d1[128], d2[128];
    path_in(d1, sizeof d1, dir, "d1");
    path_in(d2, sizeof d2, dir, "d2");
    int e[4] = { 1, 1, 1, 1 };
    cr_assert_eq(AIO_MULTI(AIO_CLOSE(.fd = -1, .link = AIO_LINK_HARD, .out_error = &e[0]),
                           AIO_MKDIRAT(.path = d1, .mode = 0700, .link = AIO_LINK_SOFT, .out_error = &e[1]),
                           AIO_MKDIRAT(.path = d1, .mode = 0700, .link = AIO_LINK_SOFT, .out_error = &e[2]),
                           AIO_MKDIRAT(.path = d2, .mode = 0700, .out_error = &e[3])), -EBADF);
    cr_assert_eq(e[0], -EBADF);
    cr_assert_eq(e[1], 0);
    cr_assert_eq(e[2], -EEXIST);
    cr_assert_eq(e[3], -ECANCELED);
    cr_assert(path_exists(d1));
    cr_assert_not(path_exists(d2));
}

/* A READ that returns fewer bytes than asked breaks a SOFT chain (as a short
 * read does on io_uring); with HARD it does not; a full READ does not. */
Test(links, short_read_breaks_soft_chain)
{
    char f[128], d[128];
    path_in(f, sizeof f, dir, "five");
    path_in(d, sizeof d, dir, "after");
    file_put(f, "12345", 5);
    int fd = open(f, O_RDWR | O_CLOEXEC);
    char buf[16];
    size_t got = 0;
    int er = 1, em = 1;
    cr_assert_eq(AIO_MULTI(AIO_READ(.fd = fd, .buf = buf, .len = 10, .offset = 0, .out_read = &got,
                                    .link = AIO_LINK_SOFT, .out_error = &er),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), -ECANCELED);
    cr_assert_eq(er, 0, "a short READ is still a success");
    cr_assert_eq(got, 5);
    cr_assert_arr_eq(buf, "12345", 5);
    cr_assert_eq(em, -ECANCELED);
    cr_assert_not(path_exists(d));

    /* full read: the chain goes on */
    cr_assert_eq(AIO_MULTI(AIO_READ(.fd = fd, .buf = buf, .len = 5, .offset = 0, .out_read = &got,
                                    .link = AIO_LINK_SOFT),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), 0);
    cr_assert_eq(em, 0);
    cr_assert(path_exists(d));
    cr_assert_eq(rmdir(d), 0);

    /* short READV, and a short READ with HARD */
    char a[3], b[8];
    struct iovec iov[2] = { { a, 3 }, { b, 8 } };
    cr_assert_eq(AIO_MULTI(AIO_READV(.fd = fd, .iov = iov, .iovcnt = 2, .offset = 1, .out_read = &got,
                                     .link = AIO_LINK_SOFT),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), -ECANCELED);
    cr_assert_eq(got, 4);
    cr_assert_not(path_exists(d));
    cr_assert_eq(AIO_MULTI(AIO_READ(.fd = fd, .buf = buf, .len = 10, .offset = 3, .out_read = &got,
                                    .link = AIO_LINK_HARD),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), 0);
    cr_assert_eq(got, 2);
    cr_assert_eq(em, 0);
    cr_assert(path_exists(d));
    close(fd);
}

/* Chains and independent ops in one batch: a failure stays inside its chain. */
Test(links, chains_mixed_with_independent_ops)
{
    char d[4][128];
    for (int i = 0; i < 4; i++) {
        char n[8];
        snprintf(n, sizeof n, "d%d", i);
        path_in(d[i], sizeof d[i], dir, n);
    }
    int e[9];
    for (int i = 0; i < 9; i++) e[i] = 999;
    int rc = AIO_MULTI(
        AIO_NOP(.out_error = &e[0]),                                                              /* alone */
        AIO_MKDIRAT(.path = d[0], .mode = 0700, .link = AIO_LINK_SOFT, .out_error = &e[1]),      /* chain A */
        AIO_CLOSE(.fd = -1, .link = AIO_LINK_SOFT, .out_error = &e[2]),
        AIO_MKDIRAT(.path = d[1], .mode = 0700, .out_error = &e[3]),
        AIO_CLOSE(.fd = -1, .out_error = &e[4]),                                                  /* alone, fails */
        AIO_MKDIRAT(.path = d[2], .mode = 0700, .out_error = &e[5]),                             /* alone */
        AIO_NOP(.link = AIO_LINK_SOFT, .out_error = &e[6]),                                       /* chain B */
        AIO_MKDIRAT(.path = d[3], .mode = 0700, .link = AIO_LINK_SOFT, .out_error = &e[7]),
        AIO_NOP(.out_error = &e[8]));
    cr_assert_eq(rc, -EBADF);
    int want[9] = { 0, 0, -EBADF, -ECANCELED, -EBADF, 0, 0, 0, 0 };
    for (int i = 0; i < 9; i++) cr_assert_eq(e[i], want[i], "op %d: %d, expected %d", i, e[i], want[i]);
    cr_assert(path_exists(d[0]));
    cr_assert_not(path_exists(d[1]));
    cr_assert(path_exists(d[2]));
    cr_assert(path_exists(d[3]));
}

/* A chain completes in its order, while an independent op of the same batch
 * does not wait for it. */
Test(links, completion_order_within_a_chain)
{
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(16, &rec);
    int p[2];
    make_pipe(p);
    char buf[8] = { 0 };
    size_t got = 0;
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_TIMEOUT(.ns = MS(40), .link = AIO_LINK_SOFT, .userdata = 1),
        AIO_NOP(.link = AIO_LINK_SOFT, .userdata = 2),
        AIO_WRITE(.fd = p[1], .buf = "seq", .len = 3, .link = AIO_LINK_SOFT, .userdata = 3),
        AIO_TIMEOUT(.ns = MS(1), .link = AIO_LINK_SOFT, .userdata = 4),
        AIO_READ(.fd = p[0], .buf = buf, .len = 3, .out_read = &got, .link = AIO_LINK_SOFT, .userdata = 5),
        AIO_NOP(.userdata = 6),
        AIO_NOP(.userdata = 100),
    }, 7), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec.n, 7);
    for (uint64_t u = 1; u < 6; u++)
        cr_assert_lt(rec_pos(&rec, u), rec_pos(&rec, u + 1), "op %llu of the chain completed after op %llu",
                     (unsigned long long)u, (unsigned long long)u + 1);
    cr_assert_lt(rec_pos(&rec, 100), rec_pos(&rec, 1), "the independent NOP waited for the chain");
    for (size_t i = 0; i < rec.n; i++) cr_assert_eq(rec.e[i].result, 0);
    cr_assert_eq(got, 3);
    cr_assert_arr_eq(buf, "seq", 3);
    aio_ring_destroy(ring);
    close(p[0]);
    close(p[1]);
}

/* A long SOFT chain of appends executes strictly in order. */
Test(links, long_chain_executes_in_order)
{
    char f[128];
    path_in(f, sizeof f, dir, "log");
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    enum { N = 200 };
    static struct aio_op ops[N];
    static char digits[N];
    for (int i = 0; i < N; i++) {
        digits[i] = (char)('a' + i % 26);
        ops[i] = AIO_WRITE(.fd = fd, .buf = &digits[i], .len = 1, .offset = AIO_OFFSET_CURRENT,
                           .link = i + 1 < N ? AIO_LINK_SOFT : AIO_LINK_NONE);
    }
    cr_assert_eq(aio_multi(ops, N), 0);
    char buf[N];
    cr_assert_eq(pread(fd, buf, N, 0), N);
    cr_assert_arr_eq(buf, digits, N);
    close(fd);
}

/* A failure in the middle of a chain on the dynamic ring: every op still gets
 * exactly one completion, the cancelled ones -ECANCELED. */
Test(links, soft_failure_on_the_ring)
{
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_NOP(.link = AIO_LINK_SOFT, .userdata = 1),
        AIO_CLOSE(.fd = -1, .link = AIO_LINK_SOFT, .userdata = 2),
        AIO_TIMEOUT(.ns = MS(5000), .link = AIO_LINK_SOFT, .userdata = 3),
        AIO_NOP(.userdata = 4),
    }, 4), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_ring_complete_all(ring), 3, "three ops failed");
    cr_assert_lt(now_ns() - t0, MS(1000), "the cancelled TIMEOUT ran");
    cr_assert_eq(rec.n, 4);
    cr_assert_eq(rec_find(&rec, 1)->result, 0);
    cr_assert_eq(rec_find(&rec, 2)->result, -EBADF);
    cr_assert_eq(rec_find(&rec, 3)->result, -ECANCELED);
    cr_assert_eq(rec_find(&rec, 4)->result, -ECANCELED);
    aio_ring_destroy(ring);
}

/* Every kind of op that fails while running stops a SOFT chain, also the
 * kinds whose failure io_uring itself does not propagate to linked requests
 * (FSYNC, SHUTDOWN and the path ops), with or without a LINK_TIMEOUT. */
static void expect_soft_stop(struct aio_op failing, int want)
{
    char probe[128];
    path_in(probe, sizeof probe, dir, "probe");
    for (int with_lt = 0; with_lt < 2; with_lt++) {
        int ef = 1, et = 1, ep = 1;
        failing.common.link = AIO_LINK_SOFT;
        failing.common.out_error = &ef;
        struct aio_op ops[3];
        size_t n = 0;
        ops[n++] = failing;
        if (with_lt) ops[n++] = AIO_LINK_TIMEOUT(.ns = MS(5000), .link = AIO_LINK_SOFT, .out_error = &et);
        ops[n++] = AIO_MKDIRAT(.path = probe, .mode = 0700, .out_error = &ep);
        int rc = aio_multi(ops, n);
        cr_assert_eq(rc, want, "kind %d (lt %d): aio_multi %d, op %d, lt %d, next %d", failing.kind, with_lt, rc, ef, et, ep);
        cr_assert_eq(ef, want, "kind %d: %d instead of %d", failing.kind, ef, want);
        if (with_lt) cr_assert_eq(et, 0, "the op failed in time: its LINK_TIMEOUT reports 0");
        cr_assert_eq(ep, -ECANCELED, "kind %d failed but the SOFT chain went on (%d)", failing.kind, ep);
        cr_assert_not(path_exists(probe), "kind %d failed but the next op ran", failing.kind);
    }
}

Test(links, every_failure_stops_a_soft_chain)
{
    int p[2];
    make_pipe(p);
    char buf[4];
    char exists[128];
    file_put(path_in(exists, sizeof exists, dir, "exists"), "x", 1);
    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    expect_soft_stop(AIO_FSYNC(.fd = p[1]), -EINVAL);
    expect_soft_stop(AIO_FSYNC(.fd = p[1], .flags = AIO_FSYNC_DATASYNC), -EINVAL);
    expect_soft_stop(AIO_SHUTDOWN(.socket = tcp, .how = SHUT_RDWR), -ENOTCONN);
    expect_soft_stop(AIO_MKDIRAT(.path = exists, .mode = 0700), -EEXIST);
    expect_soft_stop(AIO_UNLINKAT(.path = "/nonexistent/caio"), -ENOENT);
    expect_soft_stop(AIO_RENAMEAT(.old_path = "/nonexistent/caio", .new_path = exists), -ENOENT);
    expect_soft_stop(AIO_SYMLINKAT(.target = "t", .linkpath = exists), -EEXIST);
    expect_soft_stop(AIO_OPENAT(.path = "/nonexistent/caio"), -ENOENT);
    expect_soft_stop(AIO_CLOSE(.fd = -1), -EBADF);
    expect_soft_stop(AIO_READ(.fd = p[1], .buf = buf, .len = 1), -EBADF);
    /* (the SHUTDOWN above left `tcp` shut down: a fresh socket for these) */
    int fresh = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    expect_soft_stop(AIO_RECV(.socket = fresh, .buf = buf, .len = 1), -ENOTCONN);
    close(fresh);
    fresh = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    expect_soft_stop(AIO_SEND(.socket = fresh, .buf = "x", .len = 1), -EPIPE);
    close(fresh);
    expect_soft_stop(AIO_SOCKET(.domain = AF_INET, .type = 12345), -EINVAL);
    expect_soft_stop(AIO_LISTEN(.socket = p[0]), -ENOTSOCK);
    close(tcp);
    close(p[0]);
    close(p[1]);
}

/* A SPLICE that moves less than asked breaks a SOFT chain, as a short READ
 * does; so does a RECV with MSG_WAITALL that ends early. */
Test(links, short_splice_and_waitall_break_soft_chain)
{
    char f[128], d[128];
    file_put(path_in(f, sizeof f, dir, "six"), "123456", 6);
    path_in(d, sizeof d, dir, "after");
    int fd = open(f, O_RDONLY | O_CLOEXEC);
    int p[2];
    make_pipe(p);
    int64_t off = 0;
    size_t w = 0;
    int es = 1, em = 1;
    cr_assert_eq(AIO_MULTI(AIO_SPLICE(.fd_in = fd, .off_in = &off, .fd_out = p[1], .len = 100, .out_written = &w,
                                      .link = AIO_LINK_SOFT, .out_error = &es),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), -ECANCELED);
    cr_assert_eq(es, 0);
    cr_assert_eq(w, 6);
    cr_assert_eq(em, -ECANCELED);
    cr_assert_not(path_exists(d));
    char buf[16];
    cr_assert_eq(read(p[0], buf, sizeof buf), 6);

    /* a full SPLICE lets the chain go on */
    cr_assert_eq(AIO_MULTI(AIO_SPLICE(.fd_in = fd, .off_in = &off, .fd_out = p[1], .len = 6, .out_written = &w,
                                      .link = AIO_LINK_SOFT),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), 0);
    cr_assert_eq(em, 0);
    cr_assert_eq(rmdir(d), 0);

    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    cr_assert_eq(write(sv[1], "abc", 3), 3);
    cr_assert_eq(shutdown(sv[1], SHUT_WR), 0);
    size_t got = 0;
    cr_assert_eq(AIO_MULTI(AIO_RECV(.socket = sv[0], .buf = buf, .len = 10, .flags = MSG_WAITALL, .out_read = &got,
                                    .link = AIO_LINK_SOFT),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), -ECANCELED);
    cr_assert_eq(got, 3);
    cr_assert_arr_eq(buf, "abc", 3);
    cr_assert_not(path_exists(d));
    /* without MSG_WAITALL a short RECV (here: end of stream) is fine */
    cr_assert_eq(AIO_MULTI(AIO_RECV(.socket = sv[0], .buf = buf, .len = 10, .out_read = &got, .link = AIO_LINK_SOFT),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), 0);
    cr_assert_eq(got, 0);
    cr_assert(path_exists(d));
    close(sv[0]);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
    close(fd);
}

/* A short WRITE (and WRITEV) breaks a SOFT chain too: RLIMIT_FSIZE caps the
 * file at 10 bytes, so a 16-byte write stops short (SIGXFSZ ignored). */
Test(links, short_write_breaks_soft_chain)
{
    char f[128], d[128];
    path_in(f, sizeof f, dir, "capped");
    path_in(d, sizeof d, dir, "after");
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = { 10, 10 };
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    size_t w = 0;
    int ew = 1, em = 1;
    cr_assert_eq(AIO_MULTI(AIO_WRITE(.fd = fd, .buf = "0123456789abcdef", .len = 16, .offset = 0, .out_written = &w,
                                     .link = AIO_LINK_SOFT, .out_error = &ew),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), -ECANCELED);
    cr_assert_eq(ew, 0);
    cr_assert_eq(w, 10);
    cr_assert_eq(em, -ECANCELED);
    cr_assert_not(path_exists(d));

    struct iovec v[2] = { { "abc", 3 }, { "defgh", 5 } };
    cr_assert_eq(AIO_MULTI(AIO_WRITEV(.fd = fd, .iov = v, .iovcnt = 2, .offset = 5, .out_written = &w,
                                      .link = AIO_LINK_SOFT),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), -ECANCELED);
    cr_assert_eq(w, 5);
    cr_assert_not(path_exists(d));
    /* a write that fits lets the chain go on */
    cr_assert_eq(AIO_MULTI(AIO_WRITE(.fd = fd, .buf = "XY", .len = 2, .offset = 0, .link = AIO_LINK_SOFT),
                           AIO_MKDIRAT(.path = d, .mode = 0700, .out_error = &em)), 0);
    cr_assert(path_exists(d));
    close(fd);
}
