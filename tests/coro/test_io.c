/* coro_io_single/multi/complete: same results as aio_single/multi/complete,
 * inside and outside tasks; concurrency of waits; bad batches. */
#include <coro/coro.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct coro_scheduler *new_sched(void)
{
    struct coro_scheduler *s = NULL;
    cr_assert_eq(coro_scheduler_create(&s, NULL), 0);
    return s;
}

static void run_one(void *(*fn)(void *), void *arg)
{
    struct coro_scheduler *s = new_sched();
    struct coro_task *t;
    cr_assert_eq(coro_spawn(s, fn, arg, NULL, &t), 0);
    cr_assert_eq(coro_run(s), 0);
    void *r = (void *)1;
    cr_assert_eq(coro_task_join(t, &r), 0);
    cr_assert_null(r, "task reported: %s", (const char *)r);
    coro_scheduler_destroy(s);
}

/* The same checks run inside a task and outside (where coro_io_* are aio_*). */
static const char *result_checks(void)
{
    if (coro_io_single(AIO_NOP()) != 0) return "nop";
    if (coro_io_single(AIO_READ(.fd = -1, .buf = (char[4]){ 0 }, .len = 4)) != -EBADF) return "read -1";
    int e[4] = { 1, 1, 1, 1 };
    char b[4];
    /* multi: the first failure in ARRAY order, even if it completes later */
    int rc = CORO_IO_MULTI(AIO_TIMEOUT(.ns = 1000, .out_error = &e[0]),
                           AIO_WRITE(.fd = -1, .buf = "x", .len = 1, .out_error = &e[1]),
                           AIO_READ(.fd = -2, .buf = b, .len = 1, .out_error = &e[2]),
                           AIO_NOP(.out_error = &e[3]));
    if (rc != -EBADF || e[0] != 0 || e[1] != -EBADF || e[2] != -EBADF || e[3] != 0) return "multi";
    /* a soft chain: the failure cancels the rest */
    rc = CORO_IO_MULTI(AIO_READ(.fd = -1, .buf = b, .len = 1, .out_error = &e[0], .link = AIO_LINK_SOFT),
                       AIO_NOP(.out_error = &e[1]));
    if (rc != -EBADF || e[0] != -EBADF || e[1] != -ECANCELED) return "soft chain";
    /* complete: how many failed */
    rc = CORO_IO_COMPLETE(AIO_NOP(), AIO_READ(.fd = -1, .buf = b, .len = 1), AIO_WRITE(.fd = -1, .buf = "x", .len = 1));
    if (rc != 2) return "complete count";
    /* bad batches: refused whole, nothing queued, and the next call works */
    if (coro_io_multi(NULL, 1) != -EINVAL) return "NULL ops";
    struct aio_op one = AIO_NOP();
    if (coro_io_multi(&one, 0) != -EINVAL) return "empty batch";
    e[1] = 7;
    if (CORO_IO_MULTI(AIO_NOP(), AIO_NOP(.out_error = &e[1], .link = AIO_LINK_SOFT)) != -EINVAL) return "link on last";
    if (e[1] != 7) return "refused op wrote out_error";
    if (CORO_IO_COMPLETE(AIO_NOP(), (struct aio_op){ .kind = 0 }) != -EINVAL) return "bad kind";
    if (coro_io_single(AIO_NOP()) != 0) return "after refusals";
    return NULL;
}

static void *checks_task(void *p)
{
    (void)p;
    return (void *)result_checks();
}

Test(io, results_match_aio_inside_a_task) { run_one(checks_task, NULL); }

Test(io, results_match_aio_outside_tasks)
{
    const char *why = result_checks();
    cr_assert_null(why, "%s", why);
}

/* ---- bytes over a socketpair between two tasks --------------------------- */

struct pair { int fd[2]; char got[64]; size_t n; };

static void *writer(void *p)
{
    struct pair *pp = p;
    size_t w = 0;
    if (coro_io_single(AIO_SEND(.socket = pp->fd[0], .buf = "hello, task", .len = 11, .out_written = &w)) || w != 11)
        return (void *)"send";
    return NULL;
}

static void *reader(void *p)
{
    struct pair *pp = p;
    if (coro_io_single(AIO_RECV(.socket = pp->fd[1], .buf = pp->got, .len = sizeof pp->got, .out_read = &pp->n)))
        return (void *)"recv";
    return NULL;
}

Test(io, bytes_arrive_between_tasks)
{
    struct pair pp = { .n = 0 };
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pp.fd), 0);
    struct coro_scheduler *s = new_sched();
    struct coro_task *r, *w;
    /* the reader starts first and has to wait for the writer */
    cr_assert_eq(coro_spawn(s, reader, &pp, NULL, &r), 0);
    cr_assert_eq(coro_spawn(s, writer, &pp, NULL, &w), 0);
    cr_assert_eq(coro_run(s), 0);
    void *rr, *wr;
    cr_assert_eq(coro_task_join(r, &rr), 0);
    cr_assert_eq(coro_task_join(w, &wr), 0);
    cr_assert_null(rr);
    cr_assert_null(wr);
    cr_assert_eq(pp.n, 11);
    cr_assert_eq(memcmp(pp.got, "hello, task", 11), 0);
    coro_scheduler_destroy(s);
    close(pp.fd[0]);
    close(pp.fd[1]);
}

/* ---- waits overlap: 200 tasks sleeping 50 ms take ~50 ms, not 10 s -------- */

static int woke;

static void *sleeper(void *p)
{
    (void)p;
    uint64_t t0 = now_ns();
    if (coro_sleep(50000000) != 0) return (void *)"sleep";
    if (now_ns() - t0 < 49000000) return (void *)"woke early";
    __atomic_fetch_add(&woke, 1, __ATOMIC_RELAXED); /* sleepers run on several loops */
    return NULL;
}

Test(io, sleeps_overlap)
{
    struct coro_scheduler *s = new_sched();
    woke = 0;
    for (int i = 0; i < 200; i++) cr_assert_eq(coro_spawn(s, sleeper, NULL, &(struct coro_spawn_options){ .detached = true }, NULL), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(coro_run(s), 0);
    uint64_t el = now_ns() - t0;
    cr_assert_eq(woke, 200);
    cr_assert(el >= 50000000 && el < 1000000000, "elapsed %llu ns", (unsigned long long)el);
    coro_scheduler_destroy(s);
}

/* ---- a batch bigger than the ring is refused, one that fits waits for room */

static void *fill_ring(void *p)
{
    (void)p;
    struct aio_op ops[9];
    for (int i = 0; i < 9; i++) ops[i] = AIO_NOP();
    if (coro_io_multi(ops, 9) != -EBUSY) return (void *)"over ring size";
    if (coro_io_multi(ops, 8) != 0) return (void *)"ring size";
    return NULL;
}

static void *ring_hog(void *p)
{
    (void)p;
    return coro_io_complete((struct aio_op[]){ AIO_TIMEOUT(.ns = 20000000), AIO_TIMEOUT(.ns = 20000000),
                                               AIO_TIMEOUT(.ns = 20000000), AIO_TIMEOUT(.ns = 20000000),
                                               AIO_TIMEOUT(.ns = 20000000), AIO_TIMEOUT(.ns = 20000000) }, 6)
               ? (void *)"hog" : NULL;
}

Test(io, full_ring_waits_for_room)
{
    struct coro_scheduler *s;
    cr_assert_eq(coro_scheduler_create(&s, &(struct coro_options){ .ring_entries = 8 }), 0);
    struct coro_task *h, *f;
    cr_assert_eq(coro_spawn(s, ring_hog, NULL, NULL, &h), 0);
    cr_assert_eq(coro_spawn(s, fill_ring, NULL, NULL, &f), 0);
    uint64_t t0 = now_ns();
    cr_assert_eq(coro_run(s), 0);
    void *r1, *r2;
    cr_assert_eq(coro_task_join(h, &r1), 0);
    cr_assert_eq(coro_task_join(f, &r2), 0);
    cr_assert_null(r1, "%s", (char *)r1);
    cr_assert_null(r2, "%s", (char *)r2);
    cr_assert(now_ns() - t0 >= 20000000, "the 8-op batch cannot have run before the timeouts ended");
    coro_scheduler_destroy(s);
}
