/* Private to sdk/features/: shared between its files, hidden from the programs that link it. */
#ifndef SS_FEATURES_IMPL_H
#define SS_FEATURES_IMPL_H

#include <skysieve/features.h>

#include <stddef.h>

/** Sorts @p x[0..n) ascending (NaN-free input): quicksort, insertion sort below 16 elements and
 * heapsort past a depth of 2 log2 n, so no input costs more than n log n. */
__attribute__((visibility("hidden"))) void ssi_sort_doubles(double *x, size_t n);

/** A type-1 NUFFT's input: @c n points x (each in [0, 2 pi)) with complex strengths c. */
typedef struct ssi_nufft_set {
    const double *x;
    const double _Complex *c;
    size_t n;
} ssi_nufft_set;

#define SSI_NUFFT_SETS 3 /**< sets transformed together */

/** The FFT grid ssi_nufft1() uses for @p m modes (about 2 m points). */
__attribute__((visibility("hidden"))) size_t ssi_nufft_grid(size_t m);

/**
 * For each of the SSI_NUFFT_SETS sets s, F_s(k) = sum_j c_j exp(i k x_j) for the m modes
 * k = -m/2 .. m - m/2 - 1, written to out[s m + k + m/2] (out: caller's, SSI_NUFFT_SETS m
 * values). Accurate to about 1e-7 of sum_j |c_j| (nufft.c). Thread-safe.
 * @return 0 or SS_ENOMEM.
 */
__attribute__((visibility("hidden"))) int ssi_nufft1(const ssi_nufft_set *sets, size_t m,
                                                     double _Complex *out);

#endif
