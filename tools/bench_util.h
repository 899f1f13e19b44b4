/* What the C benchmarks share: one clock for every figure. */
#ifndef SS_BENCH_UTIL_H
#define SS_BENCH_UTIL_H

#include <time.h>

/* Seconds on the monotonic clock: only differences mean anything. */
static inline double bench_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#endif
