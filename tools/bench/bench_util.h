/* Small helpers shared by the benchmarks: a clock, medians, the output format. */
#ifndef CAIO_BENCH_UTIL_H
#define CAIO_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n samples (sorts them in place). */
static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One side of a paired measurement: runs one round, returns its figure. */
typedef double (*bench_round_fn)(void *ctx);

/* Measures our side against its baseline in `rounds` short rounds, after a
 * warm-up round each, alternating which side goes first: these machines
 * drift by 10-20 % over seconds, so only rounds close together compare
 * fairly. Fills ours[] and base[] with the rounds' figures and returns the
 * median of the per-round ratios, oriented so that higher is better for us
 * and 1.0 is parity: ours over base for rates, base over ours for times. */
static inline double bench_paired_rounds(int rounds, int higher_is_better, bench_round_fn ours_fn, void *ours_ctx,
                                         bench_round_fn base_fn, void *base_ctx, double *ours, double *base)
{
    double *ratio = malloc((size_t)rounds * sizeof *ratio);
    if (!ratio) abort();
    (void)ours_fn(ours_ctx);
    (void)base_fn(base_ctx);
    for (int i = 0; i < rounds; i++) {
        if (i % 2) {
            ours[i] = ours_fn(ours_ctx);
            base[i] = base_fn(base_ctx);
        } else {
            base[i] = base_fn(base_ctx);
            ours[i] = ours_fn(ours_ctx);
        }
        ratio[i] = higher_is_better ? ours[i] / base[i] : base[i] / ours[i];
    }
    double m = bench_median(ratio, (size_t)rounds);
    free(ratio);
    return m;
}

static inline void bench_result(const char *name, double value, const char *unit)
{
    printf("RESULT %s %.4g %s\n", name, value, unit);
}

static inline void bench_ratio(const char *name, double value)
{
    printf("RATIO %s %.3f\n", name, value);
}

#endif
