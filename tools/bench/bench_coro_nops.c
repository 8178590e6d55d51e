/* bench_coro_nops: NOPs in batches of 32 through coro_io_multi from one task,
 * against a hand-written liburing loop submitting the same batches and
 * waiting for all 32. RATIO coro_nops_b32 = ours / liburing (NOPs per s). */
#include <coro/coro.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "coro_bench.h"

#define BATCH 32
#define BATCHES 40000L /* per round and side */
#define ROUNDS 11

static void *nop_task(void *p)
{
    (void)p;
    struct aio_op ops[BATCH];
    for (int i = 0; i < BATCH; i++) ops[i] = AIO_NOP();
    for (long b = 0; b < BATCHES; b++)
        if (coro_io_multi(ops, BATCH)) abort();
    return NULL;
}

static double run_ours(void *unused)
{
    (void)unused;
    struct coro_scheduler *s;
    if (coro_scheduler_create(&s, &(struct coro_options){ .threads = 1, .backend = AIO_BACKEND_IO_URING })) abort();
    coro_spawn(s, nop_task, NULL, &(struct coro_spawn_options){ .detached = true }, NULL);
    uint64_t t0 = bench_now_ns();
    if (coro_run(s)) abort();
    uint64_t el = bench_now_ns() - t0;
    coro_scheduler_destroy(s);
    return (double)BATCH * BATCHES / ((double)el / 1e9);
}

static double run_uring(void *unused)
{
    (void)unused;
    struct io_uring ring;
    if (io_uring_queue_init(4096, &ring, 0)) abort();
    uint64_t t0 = bench_now_ns();
    for (long b = 0; b < BATCHES; b++) {
        for (int i = 0; i < BATCH; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            io_uring_prep_nop(sqe);
            io_uring_sqe_set_data64(sqe, (uint64_t)i);
        }
        int left = BATCH;
        io_uring_submit_and_wait(&ring, BATCH);
        while (left) {
            unsigned head, seen = 0;
            struct io_uring_cqe *cqe;
            io_uring_for_each_cqe(&ring, head, cqe) {
                if (cqe->res < 0) abort();
                seen++;
            }
            io_uring_cq_advance(&ring, seen);
            left -= (int)seen;
            if (left) io_uring_wait_cqe_nr(&ring, &cqe, (unsigned)left);
        }
    }
    uint64_t el = bench_now_ns() - t0;
    io_uring_queue_exit(&ring);
    return (double)BATCH * BATCHES / ((double)el / 1e9);
}

int main(void)
{
    double o[ROUNDS], b[ROUNDS];
    double ratio = bench_paired_rounds(ROUNDS, 1, run_ours, NULL, run_uring, NULL, o, b);
    bench_result("coro_nops_b32", bench_median(o, ROUNDS) / 1e6, "Mnops/s");
    bench_result("uring_nops_b32", bench_median(b, ROUNDS) / 1e6, "Mnops/s");
    bench_ratio("coro_nops_b32", ratio);
    return 0;
}
