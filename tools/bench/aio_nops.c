/*
 * bench_aio_nops: NOPs through aio_ring_queue + aio_ring_complete in batches of
 * 1, 32 and 256, against the same loop written directly on liburing, in the same
 * run. Rounds alternate between the two so that noise from the machine hits both
 * alike; the medians of the rounds are compared.
 *
 * Output: RESULT aio_nops_b<N> / uring_nops_b<N> in Mnops/s, then
 * RATIO aio_nops_b<N> = ours / liburing (1.0 is parity, higher is better).
 */
#include <aio/aio.h>
#include <liburing.h>

#include "bench_util.h"

#define ENTRIES 4096
#define ROUNDS 7

static const unsigned batches[] = { 1, 32, 256 };

/* Mnops/s of caio for `total` NOPs in batches of `batch`. */
static double run_caio(struct aio_ring *ring, unsigned batch, unsigned total)
{
    static struct aio_op ops[256];
    for (unsigned i = 0; i < batch; i++) ops[i] = AIO_NOP();
    double t0 = bench_now();
    for (unsigned done = 0; done < total; done += batch) {
        if (aio_ring_queue(ring, ops, batch) != 0) abort();
        while (aio_ring_in_flight(ring)) {
            struct aio_result r;
            if (aio_ring_complete(ring, AIO_WAIT, &r) != 0 || r.failed) abort();
        }
    }
    return total / (bench_now() - t0) / 1e6;
}

/* The same work written by hand on liburing. */
static double run_uring(struct io_uring *ring, unsigned batch, unsigned total)
{
    double t0 = bench_now();
    for (unsigned done = 0; done < total; done += batch) {
        for (unsigned i = 0; i < batch; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
            io_uring_prep_nop(sqe);
            io_uring_sqe_set_data64(sqe, i + 1);
        }
        unsigned seen = 0;
        while (seen < batch) {
            if (io_uring_submit_and_wait(ring, 1) < 0) abort();
            unsigned head, n = 0;
            struct io_uring_cqe *cqe;
            io_uring_for_each_cqe(ring, head, cqe) {
                if (cqe->res < 0) abort();
                n++;
            }
            io_uring_cq_advance(ring, n);
            seen += n;
        }
    }
    return total / (bench_now() - t0) / 1e6;
}

int main(int argc, char **argv)
{
    unsigned scale = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    struct aio_ring *ring;
    int rc = aio_ring_create(&ring, &(struct aio_ring_options){ .entries = ENTRIES, .backend = AIO_BACKEND_IO_URING });
    if (rc) { fprintf(stderr, "aio_ring_create: %s\n", aio_strerror(rc)); return 1; }
    struct io_uring uring;
    rc = io_uring_queue_init(ENTRIES, &uring, 0);
    if (rc) { fprintf(stderr, "io_uring_queue_init: %s\n", aio_strerror(rc)); return 1; }

    double ratio[3];
    for (size_t b = 0; b < 3; b++) {
        unsigned batch = batches[b];
        unsigned total = (batch == 1 ? 200000 : 1000000) * scale;
        double ours[ROUNDS], theirs[ROUNDS];
        run_caio(ring, batch, total / 10); /* warm-up */
        run_uring(&uring, batch, total / 10);
        for (int r = 0; r < ROUNDS; r++) {
            ours[r] = run_caio(ring, batch, total);
            theirs[r] = run_uring(&uring, batch, total);
        }
        double o = bench_median(ours, ROUNDS), t = bench_median(theirs, ROUNDS);
        char name[64];
        snprintf(name, sizeof name, "aio_nops_b%u", batch);
        bench_result(name, o, "Mnops/s");
        snprintf(name, sizeof name, "uring_nops_b%u", batch);
        bench_result(name, t, "Mnops/s");
        ratio[b] = o / t;
    }
    for (size_t b = 0; b < 3; b++) {
        char name[64];
        snprintf(name, sizeof name, "aio_nops_b%u", batches[b]);
        bench_ratio(name, ratio[b]);
    }
    io_uring_queue_exit(&uring);
    aio_ring_destroy(ring);
    return 0;
}
