/*
 * AIO_BACKEND_AUTO falls back to the readiness backend when the kernel refuses
 * io_uring, as a container's seccomp profile does. Each test installs a real
 * seccomp filter in its own process (Criterion runs every test in a fresh
 * child) that makes io_uring_setup fail, then checks what AUTO picks and that
 * a real socket exchange works on it. The filter is hand-written classic BPF:
 * no libseccomp needed.
 */
#include "helpers.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define THIS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define THIS_AUDIT_ARCH AUDIT_ARCH_RISCV64
#endif

/* Makes io_uring_setup fail with `err` in this process from now on. */
static void refuse_io_uring_setup(int err)
{
    struct sock_filter f[] = {
#ifdef THIS_AUDIT_ARCH
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#endif
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f };
    cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0, "no_new_privs: %s", strerror(errno));
    cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0), 0, "seccomp: %s", strerror(errno));
}

/* io_uring_setup straight to the kernel: 0 if it made a ring, else -errno. */
static int raw_io_uring_setup(void)
{
    char params[120]; /* struct io_uring_params, zeroed */
    memset(params, 0, sizeof params);
    long fd = syscall(__NR_io_uring_setup, 4, params);
    if (fd < 0) return -errno;
    close((int)fd);
    return 0;
}

/* A TCP loopback exchange through `ring`: accept + connect, PING one way and
 * PONG back, with bytes checked. */
static void exchange(struct aio_ring *ring)
{
    uint16_t port;
    int l = tcp_listener4(&port);
    struct sockaddr_in to = loopback4(port);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(c, 0);
    int srv = -1, e_acc = 1, e_con = 1;
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_ACCEPT(.socket = l, .out_socket = &srv, .out_error = &e_acc),
        AIO_CONNECT(.socket = c, .addr = (struct sockaddr *)&to, .addrlen = sizeof to, .out_error = &e_con),
    }, 2), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(e_acc, 0);
    cr_assert_eq(e_con, 0);
    cr_assert_geq(srv, 0);

    char got[8] = { 0 }, back[8] = { 0 };
    size_t n1 = 0, n2 = 0, w1 = 0, w2 = 0;
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_SEND(.socket = c, .buf = "PING", .len = 4, .out_written = &w1, .link = AIO_LINK_SOFT),
        AIO_RECV(.socket = c, .buf = back, .len = sizeof back, .out_read = &n2),
        AIO_RECV(.socket = srv, .buf = got, .len = sizeof got, .out_read = &n1, .link = AIO_LINK_SOFT),
        AIO_SEND(.socket = srv, .buf = "PONG", .len = 4, .out_written = &w2),
    }, 4), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(w1, 4);
    cr_assert_eq(n1, 4);
    cr_assert_eq(memcmp(got, "PING", 4), 0);
    cr_assert_eq(w2, 4);
    cr_assert_eq(n2, 4);
    cr_assert_eq(memcmp(back, "PONG", 4), 0);
    close(srv);
    close(c);
    close(l);
}

static void check_fallback(int err)
{
    /* AUTO must mean AUTO here, whatever the test matrix sets */
    unsetenv("AIO_BACKEND");
    struct aio_ring *ring;
    /* Before the filter: io_uring where the kernel allows it (it does on the
     * machines this suite targets; where it does not, AUTO must not pick it). */
    cr_assert_eq(aio_ring_create(&ring, NULL), 0);
    bool kernel_has_uring = raw_io_uring_setup() == 0;
    if (kernel_has_uring) cr_assert_eq(aio_ring_backend(ring), AIO_BACKEND_IO_URING);
    else cr_assert_neq(aio_ring_backend(ring), AIO_BACKEND_IO_URING);
    aio_ring_destroy(ring);

    refuse_io_uring_setup(err);
    cr_assert_eq(raw_io_uring_setup(), -err, "the filter does not refuse io_uring_setup");

    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 64 }), 0);
    cr_assert_eq(aio_ring_backend(ring), AIO_BACKEND_EPOLL);
    cr_assert_str_eq(aio_backend_name(aio_ring_backend(ring)), "epoll");
    exchange(ring);
    aio_ring_destroy(ring);

    /* Asking for io_uring by name is not silently served by something else. */
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 8, .backend = AIO_BACKEND_IO_URING }), -err);

    /* The immediate calls' own per-thread ring falls back too. */
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_single(AIO_TIMEOUT(.ns = MS(20))), 0);
    assert_elapsed(now_ns() - t0, MS(20));
}

Test(fallback, seccomp_eperm_picks_epoll) { check_fallback(EPERM); }
Test(fallback, seccomp_enosys_picks_epoll) { check_fallback(ENOSYS); }
