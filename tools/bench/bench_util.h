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

static inline void bench_result(const char *name, double value, const char *unit)
{
    printf("RESULT %s %.4g %s\n", name, value, unit);
}

static inline void bench_ratio(const char *name, double value)
{
    printf("RATIO %s %.3f\n", name, value);
}

#endif
