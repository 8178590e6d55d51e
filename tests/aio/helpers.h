/*
 * Small helpers shared by the aio test binaries: clocks, per-test temporary
 * directories, socket and pipe set-up with plain syscalls (for tests whose
 * subject is something else), and an on_complete recorder.
 *
 * Header-only (static functions) so that one test binary can be built from
 * several test files, as the io_uring fallback binary is.
 */
#ifndef CAIO_TESTS_AIO_HELPERS_H
#define CAIO_TESTS_AIO_HELPERS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <aio/aio.h>
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MS(x) ((uint64_t)(x) * 1000000ull)
/* Slack allowed above a timeout's nominal duration: the host is shared and
 * noisy, but an op that waits a whole extra second is wrong. */
#define LATE_NS MS(700)

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Asserts that `elapsed` is at least `ns` and not absurdly more. */
#define assert_elapsed(elapsed, ns)                                                              \
    do {                                                                                         \
        uint64_t e_ = (elapsed), n_ = (ns);                                                      \
        cr_assert_geq(e_, n_, "finished after %llu ns, before its %llu ns", (unsigned long long)e_, \
                      (unsigned long long)n_);                                                    \
        cr_assert_lt(e_, n_ + LATE_NS, "finished after %llu ns, far beyond its %llu ns",          \
                     (unsigned long long)e_, (unsigned long long)n_);                             \
    } while (0)

/* ---- temporary directories -------------------------------------------- */

static inline void tmpdir_make(char path[64])
{
    snprintf(path, 64, "/tmp/caio-test-XXXXXX");
    cr_assert_not_null(mkdtemp(path), "mkdtemp: %s", strerror(errno));
}

static inline int rm_entry_(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

static inline void tmpdir_remove(const char *path)
{
    nftw(path, rm_entry_, 16, FTW_DEPTH | FTW_PHYS);
}

/* out = dir "/" name */
static inline const char *path_in(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    cr_assert(n > 0 && (size_t)n < cap);
    return out;
}

static inline void file_put(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Reads up to cap bytes of the file at `path`; returns how many, -1 if absent. */
static inline ssize_t file_get(const char *path, void *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, cap);
    close(fd);
    return n;
}

static inline bool path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- sockets and pipes with plain syscalls ----------------------------- */

static inline void make_socketpair(int type, int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s", strerror(errno));
}

static inline void make_pipe(int p[2])
{
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
}

static inline struct sockaddr_in loopback4(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static inline struct sockaddr_in6 loopback6(uint16_t port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    return a;
}

/* The port a bound socket got. */
static inline uint16_t local_port(int s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    cr_assert_eq(getsockname(s, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A TCP listener on 127.0.0.1 with an ephemeral port, made with plain syscalls. */
static inline int tcp_listener4(uint16_t *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s, 0);
    struct sockaddr_in a = loopback4(0);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s, 16), 0);
    *port = local_port(s);
    return s;
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static inline uint16_t closed_port4(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback4(0);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    uint16_t p = local_port(s);
    close(s);
    return p;
}

/* Whether `fd` is an open descriptor. */
static inline bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* Bytes waiting to be read on a socket / pipe, without consuming them. */
static inline int readable_now(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0;
}

/* ---- a ring and its completions ---------------------------------------- */

struct rec_entry { aio_id id; uint64_t userdata; int result; };
struct recorder {
    size_t n;
    struct rec_entry e[256];
};

static inline void record_cb(void *ctx, aio_id id, uint64_t userdata, int result)
{
    struct recorder *r = ctx;
    cr_assert_lt(r->n, sizeof r->e / sizeof r->e[0], "too many completions");
    r->e[r->n++] = (struct rec_entry){ id, userdata, result };
}

/* The recorded completion with this userdata (asserted to be exactly one). */
static inline const struct rec_entry *rec_find(const struct recorder *r, uint64_t userdata)
{
    const struct rec_entry *found = NULL;
    for (size_t i = 0; i < r->n; i++) {
        if (r->e[i].userdata != userdata) continue;
        cr_assert_null(found, "userdata %llu completed twice", (unsigned long long)userdata);
        found = &r->e[i];
    }
    cr_assert_not_null(found, "userdata %llu never completed", (unsigned long long)userdata);
    return found;
}

/* Position in completion order of the op with this userdata. */
static inline size_t rec_pos(const struct recorder *r, uint64_t userdata)
{
    return (size_t)(rec_find(r, userdata) - r->e);
}

/* A ring whose on_complete records into `rec`. */
static inline struct aio_ring *ring_new(uint32_t entries, struct recorder *rec)
{
    struct aio_ring *ring = NULL;
    int rc = aio_ring_create(&ring, &(struct aio_ring_options){
        .entries = entries, .on_complete = rec ? record_cb : NULL, .ctx = rec });
    cr_assert_eq(rc, 0, "aio_ring_create: %s", aio_strerror(rc));
    cr_assert_not_null(ring);
    return ring;
}

/* Submits what is queued and reaps without blocking; returns what completed. */
static inline size_t ring_poke(struct aio_ring *ring)
{
    struct aio_result r = { 99, 99 };
    cr_assert_eq(aio_ring_complete(ring, AIO_NOWAIT, &r), 0);
    return r.completed;
}

/* Lets a ring run for `ns` (a TIMEOUT on the immediate ring would not drive
 * this one): reaps without blocking until the time is up; returns what completed. */
static inline size_t ring_settle(struct aio_ring *ring, uint64_t ns)
{
    size_t done = 0;
    uint64_t end = now_ns() + ns;
    do {
        done += ring_poke(ring);
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    } while (now_ns() < end);
    return done + ring_poke(ring);
}

#endif
