/*
 * The dynamic ring and the immediate calls: on_complete, NOWAIT, batch
 * callbacks and ids, a full ring, 10,000 ops in flight, destruction with ops
 * in flight, and the results of aio_complete / aio_multi.
 */
#include "helpers.h"

#include <poll.h>

TestSuite(ring, .timeout = 30);

Test(ring, backend_is_named)
{
    struct aio_ring *ring = ring_new(4, NULL);
    enum aio_backend b = aio_ring_backend(ring);
    cr_assert_neq(b, AIO_BACKEND_AUTO);
    const char *env = getenv("AIO_BACKEND");
    if (env && *env) cr_assert_str_eq(aio_backend_name(b), env, "AIO_BACKEND=%s was not honoured", env);
    aio_ring_destroy(ring);
    /* NULL options are fine */
    cr_assert_eq(aio_ring_create(&ring, NULL), 0);
    cr_assert_eq(aio_ring_backend(ring), b);
    cr_assert_eq(aio_ring_queue(ring, &AIO_NOP(), 1), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    aio_ring_destroy(ring);
}

/* on_complete: once per op, with its id, userdata and result; the tally of
 * aio_ring_complete and the count of aio_ring_complete_all agree. */
Test(ring, on_complete_once_per_op)
{
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(16, &rec);
    aio_id ids[4] = { 0 };
    int e[4] = { 1, 1, 1, 1 };
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_NOP(.userdata = 0xA1, .out_id = &ids[0], .out_error = &e[0]),
        AIO_OPENAT(.path = "/nonexistent/caio", .flags = O_RDONLY, .userdata = 0xB2, .out_id = &ids[1], .out_error = &e[1]),
        AIO_TIMEOUT(.ns = MS(5), .userdata = UINT64_MAX, .out_id = &ids[2], .out_error = &e[2]),
        AIO_CLOSE(.fd = -1, .userdata = 0, .out_id = &ids[3], .out_error = &e[3]),
    }, 4), 0);
    cr_assert_eq(aio_ring_in_flight(ring), 4);
    for (int i = 0; i < 4; i++) cr_assert_neq(ids[i], 0);
    cr_assert_eq(rec.n, 0, "on_complete ran during queue");
    cr_assert_eq(aio_ring_complete_all(ring), 2);
    cr_assert_eq(aio_ring_in_flight(ring), 0);
    cr_assert_eq(rec.n, 4);
    const uint64_t ud[4] = { 0xA1, 0xB2, UINT64_MAX, 0 };
    const int res[4] = { 0, -ENOENT, 0, -EBADF };
    for (int i = 0; i < 4; i++) {
        const struct rec_entry *r = rec_find(&rec, ud[i]);
        cr_assert_eq(r->id, ids[i], "op %d reported with another id", i);
        cr_assert_eq(r->result, res[i]);
        cr_assert_eq(e[i], res[i]);
    }
    /* nothing more arrives */
    struct aio_result r = { 9, 9 };
    cr_assert_eq(aio_ring_complete(ring, AIO_NOWAIT, &r), 0);
    cr_assert_eq(r.completed, 0);
    cr_assert_eq(r.failed, 0);
    cr_assert_eq(rec.n, 4);
    aio_ring_destroy(ring);
}

/* An op is copied when queued: the array it came from may be reused at once. */
Test(ring, ops_are_copied_when_queued)
{
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    int e[3] = { 1, 1, 1 };
    struct aio_op ops[3] = {
        AIO_TIMEOUT(.ns = MS(20), .link = AIO_LINK_SOFT, .out_error = &e[0], .userdata = 1),
        AIO_CLOSE(.fd = -1, .out_error = &e[1], .userdata = 2),
        AIO_OPENAT(.path = "/nonexistent/caio", .out_error = &e[2], .userdata = 3),
    };
    cr_assert_eq(aio_ring_queue(ring, ops, 3), 0);
    memset(ops, 0xa5, sizeof ops);
    cr_assert_eq(aio_ring_complete_all(ring), 2);
    cr_assert_eq(e[0], 0);
    cr_assert_eq(e[1], -EBADF);
    cr_assert_eq(e[2], -ENOENT);
    cr_assert_eq(rec_find(&rec, 2)->result, -EBADF);
    aio_ring_destroy(ring);
}

Test(ring, result_tally)
{
    struct aio_ring *ring = ring_new(8, NULL);
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){ AIO_NOP(), AIO_CLOSE(.fd = -1), AIO_CLOSE(.fd = -1) }, 3), 0);
    struct aio_result total = { 0, 0 };
    while (aio_ring_in_flight(ring)) {
        struct aio_result r;
        cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, &r), 0);
        cr_assert_geq(r.completed, 1, "AIO_WAIT returned with nothing");
        total.completed += r.completed;
        total.failed += r.failed;
    }
    cr_assert_eq(total.completed, 3);
    cr_assert_eq(total.failed, 2);
    /* result may be NULL */
    cr_assert_eq(aio_ring_queue(ring, &AIO_NOP(), 1), 0);
    cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, NULL), 0);
    cr_assert_eq(aio_ring_in_flight(ring), 0);
    aio_ring_destroy(ring);
}

/* AIO_NOWAIT never blocks: not with a long op in flight, not on an empty ring;
 * AIO_WAIT on an empty ring returns at once. */
Test(ring, nowait_never_blocks)
{
    struct aio_ring *ring = ring_new(4, NULL);
    uint64_t t0 = now_ns();
    struct aio_result r;
    cr_assert_eq(aio_ring_complete(ring, AIO_NOWAIT, &r), 0);
    cr_assert_eq(r.completed, 0);
    cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, &r), 0);
    cr_assert_eq(r.completed, 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_TIMEOUT(.ns = MS(400)), 1), 0);
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(aio_ring_complete(ring, AIO_NOWAIT, &r), 0);
        cr_assert_eq(r.completed, 0);
    }
    cr_assert_lt(now_ns() - t0, MS(200), "AIO_NOWAIT blocked");
    cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, &r), 0);
    cr_assert_eq(r.completed, 1);
    assert_elapsed(now_ns() - t0, MS(400));
    aio_ring_destroy(ring);
}

struct batch_log { size_t n; size_t index[8]; int result[8]; };
static void batch_log_cb(void *ctx, size_t index, int result)
{
    struct batch_log *l = ctx;
    cr_assert_lt(l->n, 8);
    l->index[l->n] = index;
    l->result[l->n] = result;
    l->n++;
}

/* aio_ring_queue_batch: completions go to the batch's callback with the op's
 * index, not to on_complete; ids come out in order and match out_id. */
Test(ring, queue_batch_callback_and_ids)
{
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(8, &rec);
    struct batch_log log = { 0 };
    aio_id ids[3] = { 0, 0, 0 }, out_id = 0;
    cr_assert_eq(aio_ring_queue_batch(ring, (struct aio_op[]){
        AIO_TIMEOUT(.ns = MS(20)),
        AIO_CLOSE(.fd = -1, .out_id = &out_id),
        AIO_NOP(),
    }, 3, batch_log_cb, &log, ids), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_NOP(.userdata = 7), 1), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_neq(ids[i], 0);
        for (int j = 0; j < i; j++) cr_assert_neq(ids[i], ids[j]);
    }
    cr_assert_eq(out_id, ids[1]);
    cr_assert_eq(aio_ring_complete_all(ring), 1);
    cr_assert_eq(log.n, 3);
    bool seen[3] = { false, false, false };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_lt(log.index[i], 3);
        cr_assert_not(seen[log.index[i]], "index %zu reported twice", log.index[i]);
        seen[log.index[i]] = true;
        cr_assert_eq(log.result[i], log.index[i] == 1 ? -EBADF : 0);
    }
    cr_assert_eq(rec.n, 1, "a batch op reached on_complete");
    cr_assert_eq(rec.e[0].userdata, 7);
    /* ids may be NULL */
    cr_assert_eq(aio_ring_queue_batch(ring, &AIO_NOP(), 1, batch_log_cb, &log, NULL), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(log.n, 4);
    cr_assert_eq(log.index[3], 0);
    aio_ring_destroy(ring);
}

/* A full ring refuses a batch with -EBUSY and queues none of it; what is in
 * flight is undisturbed and the ring works once there is room again. */
Test(ring, full_ring_is_ebusy_and_atomic)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(4, &rec);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(aio_ring_queue(ring, &AIO_POLL(.fd = sv[0], .events = POLLIN, .userdata = (uint64_t)i), 1), 0);
    cr_assert_eq(ring_poke(ring), 0);
    cr_assert_eq(aio_ring_in_flight(ring), 3);

    char d[64], p[128];
    tmpdir_make(d);
    path_in(p, sizeof p, d, "must-not-exist");
    aio_id id1 = 0xdead, id2 = 0xbeef, ids[2] = { 1, 2 };
    int e1 = 42, e2 = 43;
    struct aio_op two[2] = {
        AIO_MKDIRAT(.path = p, .mode = 0700, .out_id = &id1, .out_error = &e1),
        AIO_NOP(.out_id = &id2, .out_error = &e2, .userdata = 50),
    };
    cr_assert_eq(aio_ring_queue(ring, two, 2), -EBUSY);
    cr_assert_eq(aio_ring_queue_batch(ring, two, 2, NULL, NULL, ids), -EBUSY);
    cr_assert_eq(aio_ring_in_flight(ring), 3, "a refused batch changed in_flight");
    cr_assert_eq(id1, 0xdead);
    cr_assert_eq(id2, 0xbeef);
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[1], 2);
    cr_assert_eq(ring_settle(ring, MS(20)), 0);
    cr_assert_eq(e1, 42);
    cr_assert_eq(e2, 43);
    cr_assert_not(path_exists(p), "part of a refused batch ran");
    /* a batch bigger than the whole ring */
    struct aio_op five[5] = { AIO_NOP(), AIO_NOP(), AIO_NOP(), AIO_NOP(), AIO_NOP() };
    cr_assert_eq(aio_ring_queue(ring, five, 5), -EBUSY);

    /* exactly the room left fits, then nothing more */
    cr_assert_eq(aio_ring_queue(ring, &AIO_NOP(.userdata = 60), 1), 0);
    cr_assert_eq(aio_ring_queue(ring, &AIO_NOP(.userdata = 61), 1), -EBUSY);
    cr_assert_eq(aio_ring_in_flight(ring), 4);

    /* release the polls: everything completes, nothing refused ever does */
    cr_assert_eq(write(sv[1], "go", 2), 2);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(rec.n, 4);
    for (size_t i = 0; i < rec.n; i++) {
        cr_assert_neq(rec.e[i].userdata, 50);
        cr_assert_neq(rec.e[i].userdata, 61);
    }
    /* the whole ring is usable again */
    cr_assert_eq(aio_ring_queue(ring, two, 2), 0);
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){ AIO_NOP(), AIO_NOP() }, 2), 0);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert(path_exists(p));
    cr_assert_eq(e1, 0);
    aio_ring_destroy(ring);
    tmpdir_remove(d);
    close(sv[0]);
    close(sv[1]);
}

struct counter { size_t n, failed; int bad_result; };
static void count_cb(void *ctx, aio_id id, uint64_t ud, int result)
{
    (void)id;
    (void)ud;
    struct counter *c = ctx;
    c->n++;
    if (result < 0) { c->failed++; c->bad_result = result; }
}

enum { MANY = 10000 };

/* 10,000 POLLs in flight on one ring at once, all released by one byte. */
Test(ring, ten_thousand_polls_in_flight)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct counter c = { 0, 0, 0 };
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = MANY, .on_complete = count_cb,
                                                                    .ctx = &c }), 0);
    static struct aio_op ops[MANY];
    static int ev[MANY];
    for (int i = 0; i < MANY; i++) ops[i] = AIO_POLL(.fd = sv[0], .events = POLLIN, .out_events = &ev[i]);
    cr_assert_eq(aio_ring_queue(ring, ops, MANY), 0);
    cr_assert_eq(aio_ring_in_flight(ring), MANY);
    cr_assert_eq(aio_ring_queue(ring, &AIO_NOP(), 1), -EBUSY);
    cr_assert_eq(ring_settle(ring, MS(20)), 0);
    cr_assert_eq(aio_ring_in_flight(ring), MANY);
    cr_assert_eq(write(sv[1], "!", 1), 1);
    cr_assert_eq(aio_ring_complete_all(ring), 0);
    cr_assert_eq(c.n, MANY);
    for (int i = 0; i < MANY; i++) cr_assert(ev[i] & POLLIN, "poll %d: events 0x%x", i, ev[i]);
    aio_ring_destroy(ring);
    close(sv[0]);
    close(sv[1]);
}

/* 10,000 TIMEOUTs in flight at once, all expiring. */
Test(ring, ten_thousand_timeouts_in_flight)
{
    struct counter c = { 0, 0, 0 };
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = MANY, .on_complete = count_cb,
                                                                    .ctx = &c }), 0);
    static struct aio_op ops[MANY];
    for (int i = 0; i < MANY; i++) ops[i] = AIO_TIMEOUT(.ns = MS(100) + (uint64_t)i * 1000);
    uint64_t t0 = now_ns();
    cr_assert_eq(aio_ring_queue(ring, ops, MANY), 0);
    cr_assert_eq(ring_poke(ring), 0);
    cr_assert_eq(aio_ring_in_flight(ring), MANY);
    cr_assert_eq(aio_ring_complete_all(ring), 0, "%zu failed, e.g. %s", c.failed, aio_strerror(c.bad_result));
    uint64_t el = now_ns() - t0;
    cr_assert_geq(el, MS(100) + (MANY - 1) * 1000ull);
    cr_assert_lt(el, MS(3000));
    cr_assert_eq(c.n, MANY);
    aio_ring_destroy(ring);
}

/* aio_multi and aio_complete with 10,000 NOPs in one batch. */
Test(ring, ten_thousand_nops_immediate)
{
    static struct aio_op ops[MANY];
    static int e[MANY];
    for (int i = 0; i < MANY; i++) {
        e[i] = 1;
        ops[i] = AIO_NOP(.out_error = &e[i]);
    }
    cr_assert_eq(aio_multi(ops, MANY), 0);
    for (int i = 0; i < MANY; i++) cr_assert_eq(e[i], 0);
    cr_assert_eq(aio_complete(ops, MANY), 0);
    /* and a small batch after the big one still works */
    cr_assert_eq(aio_single(AIO_NOP()), 0);
}

/* Records only the completions with a userdata of 100 or more. */
static void record_chain_cb(void *ctx, aio_id id, uint64_t userdata, int result)
{
    if (userdata >= 100) record_cb(ctx, id, userdata, result);
}

/* A ring bigger than the kernel's submission queue (32768): a chain queued
 * when the queue is nearly full still runs as one chain, in order. */
Test(ring, chain_across_a_full_submission_queue)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct recorder rec = { 0 };
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = 40000, .on_complete = record_chain_cb,
                                                                    .ctx = &rec }), 0);
    enum { P = 32760 };
    static struct aio_op polls[P];
    for (int i = 0; i < P; i++) polls[i] = AIO_POLL(.fd = sv[0], .events = POLLIN, .userdata = 1);
    cr_assert_eq(aio_ring_queue(ring, polls, P), 0);
    struct aio_op chain[20];
    chain[0] = AIO_TIMEOUT(.ns = MS(30), .link = AIO_LINK_SOFT, .userdata = 100);
    for (int i = 1; i < 20; i++)
        chain[i] = AIO_NOP(.link = i < 19 ? AIO_LINK_SOFT : AIO_LINK_NONE, .userdata = 100 + (uint64_t)i);
    cr_assert_eq(aio_ring_queue(ring, chain, 20), 0);
    while (rec.n < 20) cr_assert_eq(aio_ring_complete(ring, AIO_WAIT, NULL), 0);
    cr_assert_eq(aio_ring_in_flight(ring), P, "a POLL completed with nothing to read");
    for (size_t i = 0; i < 20; i++)
        cr_assert_eq(rec.e[i].userdata, 100 + i, "chain op %llu completed at %zu: the chain was split",
                     (unsigned long long)rec.e[i].userdata - 100, i);
    aio_ring_destroy(ring);
    close(sv[0]);
    close(sv[1]);
}

/* A SOFT chain longer than the kernel's submission queue: the first op fails
 * and every one of the other 39,999 is cancelled. */
Test(ring, chain_longer_than_the_submission_queue)
{
    enum { N = 40000 };
    static struct aio_op ops[N];
    static int e[N];
    ops[0] = AIO_CLOSE(.fd = -1, .link = AIO_LINK_SOFT, .out_error = &e[0]);
    for (int i = 1; i < N; i++)
        ops[i] = AIO_NOP(.link = i < N - 1 ? AIO_LINK_SOFT : AIO_LINK_NONE, .out_error = &e[i]);
    cr_assert_eq(aio_complete(ops, N), N);
    cr_assert_eq(e[0], -EBADF);
    for (int i = 1; i < N; i++) cr_assert_eq(e[i], -ECANCELED, "op %d of the chain ran", i);
    /* and when nothing fails, all of it runs */
    ops[0] = AIO_NOP(.link = AIO_LINK_SOFT, .out_error = &e[0]);
    cr_assert_eq(aio_complete(ops, N), 0);
}

/* Destroying a ring with 20,000 ops in flight is prompt, not quadratic. */
Test(ring, destroy_many_in_flight_is_prompt)
{
    enum { N = 20000 };
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct counter c = { 0, 0, 0 };
    struct aio_ring *ring;
    cr_assert_eq(aio_ring_create(&ring, &(struct aio_ring_options){ .entries = N, .on_complete = count_cb, .ctx = &c }), 0);
    static struct aio_op ops[N];
    for (int i = 0; i < N; i++) ops[i] = AIO_POLL(.fd = sv[0], .events = POLLIN);
    cr_assert_eq(aio_ring_queue(ring, ops, N), 0);
    cr_assert_eq(ring_poke(ring), 0);
    uint64_t t0 = now_ns();
    aio_ring_destroy(ring);
    uint64_t el = now_ns() - t0;
    cr_assert_lt(el, MS(1000), "destroy took %llu ms", (unsigned long long)(el / 1000000));
    cr_assert_eq(c.n, N);
    cr_assert_eq(c.failed, N);
    cr_assert_eq(c.bad_result, -ECANCELED);
    close(sv[0]);
    close(sv[1]);
}

/* The immediate calls' ring grows for a batch bigger than it, and keeps working. */
Test(ring, immediate_ring_grows)
{
    cr_assert_eq(aio_single(AIO_NOP()), 0);
    enum { N = 1000 };
    static struct aio_op ops[N];
    static int e[N];
    for (int i = 0; i < N; i++) {
        e[i] = 1;
        ops[i] = AIO_NOP(.out_error = &e[i], .link = i % 10 == 9 || i == N - 1 ? AIO_LINK_NONE : AIO_LINK_SOFT);
    }
    cr_assert_eq(aio_multi(ops, N), 0);
    for (int i = 0; i < N; i++) cr_assert_eq(e[i], 0);
    cr_assert_eq(AIO_MULTI(AIO_TIMEOUT(.ns = 1000, .link = AIO_LINK_SOFT), AIO_NOP()), 0);
}

/* Destroying a ring with ops in flight cancels them (on_complete sees
 * -ECANCELED for each) and returns promptly. */
Test(ring, destroy_cancels_ops_in_flight)
{
    int sv[2];
    make_socketpair(SOCK_STREAM, sv);
    struct recorder rec = { 0 };
    struct aio_ring *ring = ring_new(16, &rec);
    char buf[8];
    size_t got = 3;
    int ep = 0;
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_TIMEOUT(.ns = MS(10000), .userdata = 1),
        AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .out_read = &got, .userdata = 2),
        AIO_POLL(.fd = sv[0], .events = POLLIN, .userdata = 3, .out_error = &ep),
        AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .link = AIO_LINK_SOFT, .userdata = 4),
        AIO_NOP(.link = AIO_LINK_HARD, .userdata = 5),
        AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .userdata = 6),
    }, 6), 0);
    cr_assert_eq(ring_poke(ring), 0);
    /* and some only queued, never submitted: a chain whose ops behind the
     * TIMEOUT must never run */
    char d[64], p[128];
    tmpdir_make(d);
    path_in(p, sizeof p, d, "never");
    cr_assert_eq(aio_ring_queue(ring, (struct aio_op[]){
        AIO_TIMEOUT(.ns = MS(10000), .link = AIO_LINK_SOFT, .userdata = 7),
        AIO_MKDIRAT(.path = p, .mode = 0700, .link = AIO_LINK_SOFT, .userdata = 8),
        AIO_NOP(.userdata = 9),
        /* HARD: the second RECV may start once the first is cancelled, and
         * is cancelled in its turn */
        AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .link = AIO_LINK_HARD, .userdata = 10),
        AIO_RECV(.socket = sv[0], .buf = buf, .len = sizeof buf, .userdata = 11),
    }, 5), 0);
    uint64_t t0 = now_ns();
    aio_ring_destroy(ring);
    cr_assert_lt(now_ns() - t0, MS(1000), "aio_ring_destroy did not return promptly");
    cr_assert_not(path_exists(p), "an op behind a cancelled one ran during destroy");
    tmpdir_remove(d);
    cr_assert_eq(rec.n, 11, "every op in flight completes once");
    for (uint64_t u = 1; u <= 11; u++)
        cr_assert_eq(rec_find(&rec, u)->result, -ECANCELED, "op %llu: %s", (unsigned long long)u,
                     aio_strerror(rec_find(&rec, u)->result));
    cr_assert_eq(got, 0);
    cr_assert_eq(ep, -ECANCELED);
    close(sv[0]);
    close(sv[1]);
}

/* aio_complete counts failures; aio_multi reports the first failing op in
 * array order, not in time order. */
Test(ring, complete_counts_and_multi_first_in_array_order)
{
    int e[5];
    cr_assert_eq(aio_complete((struct aio_op[]){
        AIO_NOP(.out_error = &e[0]),
        AIO_CLOSE(.fd = -1, .out_error = &e[1]),
        AIO_NOP(.out_error = &e[2]),
        AIO_OPENAT(.path = "/nonexistent/caio", .flags = O_RDONLY, .out_error = &e[3]),
        AIO_TIMEOUT(.ns = 1000, .out_error = &e[4]),
    }, 5), 2);
    cr_assert_eq(e[0], 0);
    cr_assert_eq(e[1], -EBADF);
    cr_assert_eq(e[3], -ENOENT);
    cr_assert_eq(AIO_COMPLETE(AIO_NOP(), AIO_NOP()), 0);
    cr_assert_eq(AIO_COMPLETE(AIO_CLOSE(.fd = -1), AIO_CLOSE(.fd = -1), AIO_CLOSE(.fd = -1)), 3);

    /* op 1 fails late (after a 50 ms TIMEOUT), op 2 at once: aio_multi says op 1's error */
    cr_assert_eq(AIO_MULTI(AIO_TIMEOUT(.ns = MS(50), .link = AIO_LINK_SOFT),
                           AIO_OPENAT(.path = "/nonexistent/caio", .flags = O_RDONLY),
                           AIO_CLOSE(.fd = -1)), -ENOENT);
    cr_assert_eq(AIO_MULTI(AIO_NOP(), AIO_CLOSE(.fd = -1), AIO_OPENAT(.path = "/nonexistent/caio")), -EBADF);
    cr_assert_eq(AIO_MULTI(AIO_NOP(), AIO_NOP()), 0);
}

/* A slot is free again when on_complete runs: the callback may queue more,
 * even on a ring of one entry. */
struct requeue { struct aio_ring *ring; int left; int seen; };
static void requeue_cb(void *ctx, aio_id id, uint64_t ud, int result)
{
    (void)id;
    (void)ud;
    struct requeue *q = ctx;
    q->seen++;
    cr_assert_eq(result, 0);
    if (q->left-- > 0) cr_assert_eq(aio_ring_queue(q->ring, &AIO_NOP(), 1), 0);
}

Test(ring, on_complete_may_queue)
{
    struct requeue q = { NULL, 5, 0 };
    cr_assert_eq(aio_ring_create(&q.ring, &(struct aio_ring_options){ .entries = 1, .on_complete = requeue_cb,
                                                                      .ctx = &q }), 0);
    cr_assert_eq(aio_ring_queue(q.ring, &AIO_NOP(), 1), 0);
    cr_assert_eq(aio_ring_queue(q.ring, &AIO_NOP(), 1), -EBUSY);
    cr_assert_eq(aio_ring_complete_all(q.ring), 0);
    cr_assert_eq(q.seen, 6);
    aio_ring_destroy(q.ring);
}

/* Several rings side by side are independent. */
Test(ring, rings_are_independent)
{
    struct recorder r1 = { 0 }, r2 = { 0 };
    struct aio_ring *a = ring_new(4, &r1), *b = ring_new(4, &r2);
    cr_assert_eq(aio_ring_queue(a, &AIO_TIMEOUT(.ns = MS(5000), .userdata = 1), 1), 0);
    cr_assert_eq(aio_ring_queue(b, &AIO_NOP(.userdata = 2), 1), 0);
    cr_assert_eq(aio_ring_complete_all(b), 0);
    cr_assert_eq(r2.n, 1);
    cr_assert_eq(ring_poke(a), 0);
    cr_assert_eq(aio_ring_in_flight(a), 1);
    aio_ring_destroy(b);
    aio_ring_destroy(a);
    cr_assert_eq(r1.n, 1);
    cr_assert_eq(r1.e[0].result, -ECANCELED);
}
