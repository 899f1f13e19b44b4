/* Private to sdk/features/: shared between its files, hidden from the programs that link it. */
#ifndef SS_FEATURES_IMPL_H
#define SS_FEATURES_IMPL_H

#include <skysieve/features.h>

#include <stddef.h>

/** Sorts @p x[0..n) ascending (NaN-free input): quicksort, insertion sort below 16 elements and
 * heapsort past a depth of 2 log2 n, so no input costs more than n log n. */
__attribute__((visibility("hidden"))) void ssi_sort_doubles(double *x, size_t n);

#endif
