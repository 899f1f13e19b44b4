/* Private to sdk/features/: shared between its files, hidden from the programs that link it. */
#ifndef SS_FEATURES_IMPL_H
#define SS_FEATURES_IMPL_H

#include <skysieve/features.h>

#include <stddef.h>

/** Sorts @p x[0..n) ascending (NaN-free input): quicksort, insertion sort below 16 elements and
 * heapsort past a depth of 2 log2 n, so no input costs more than n log n. */
__attribute__((visibility("hidden"))) void ssi_sort_doubles(double *x, size_t n);

/** Working memory a caller keeps between calls (an ss_features handle's), so that a locus's
 * periodogram maps no new pages: grown on demand, owned by the holder, released by
 * ssi_scratch_free(). */
typedef struct ssi_scratch {
    void *p;
    size_t cap;
    size_t zero; /**< bytes at the start known to be zero: the NUFFT's input grid stays so */
} ssi_scratch;

/** At least @p bytes of @p s, 64-byte aligned, contents undefined but for the first @p zero
 * bytes, which are zero (the previous contents are lost when it grows). The caller keeps them
 * zero, or lowers s->zero. @return NULL when out of memory (@p s unchanged). */
__attribute__((visibility("hidden"))) void *ssi_scratch_get(ssi_scratch *s, size_t bytes,
                                                            size_t zero);

__attribute__((visibility("hidden"))) void ssi_scratch_free(ssi_scratch *s);

/**
 * The periodogram of all the points (@p multi, as ss_features_periodogram()) and, when
 * @p per_band is not NULL, each band's on the same grid (ss_features_periodogram_bands()), with
 * the fast path's memory from @p s. @p opt: complete options (not NULL).
 */
__attribute__((visibility("hidden"))) int
ssi_periodogram(const double *t, const double *y, const double *e, const int *band, int nbands,
                size_t n, const ss_features_options *opt, ss_period *per_band, ss_period *multi,
                double *power, ssi_scratch *s);

/** A type-1 NUFFT's input: @c n points x (each in [0, 2 pi)) with complex strengths c. */
typedef struct ssi_nufft_set {
    const double *x;
    const double _Complex *c;
    size_t n;
} ssi_nufft_set;

#define SSI_NUFFT_SETS 3 /**< sets transformed together */

/** A plan of the non-uniform FFT for one grid size (nufft.c). */
typedef struct ssi_nufft ssi_nufft;

/** The FFT grid a plan for @p m modes uses (about 2 m points). */
__attribute__((visibility("hidden"))) size_t ssi_nufft_grid(size_t m);

/** The plan for @p m modes, from the process's cache or made now (under a lock; thread-safe).
 * @return NULL when out of memory; else valid until ssi_nufft_release(). */
__attribute__((visibility("hidden"))) ssi_nufft *ssi_nufft_acquire(size_t m);

/** Gives back a plan from ssi_nufft_acquire() (frees one the cache had no room for). */
__attribute__((visibility("hidden"))) void ssi_nufft_release(ssi_nufft *p);

/** The plan's grid points g. */
__attribute__((visibility("hidden"))) size_t ssi_nufft_size(const ssi_nufft *p);

/**
 * Spreads each of the @p nsets sets (at most SSI_NUFFT_SETS) onto a grid and transforms it into
 * out[s g .. s g + g) (caller's, nsets g values, 64-byte aligned). A set whose @c x is the same
 * array as the set before's shares its spreading weights. @p in: the caller's 2 g values,
 * 64-byte aligned, all zero on entry, and left all zero. Mode k (|k| <= g / 4) of set s is then
 * ssi_nufft_scale(p)[k] * out[s g + (k < 0 ? k + g : k)], accurate to about 1e-7 of
 * sum_j |c_j|. Thread-safe.
 */
__attribute__((visibility("hidden"))) void ssi_nufft_transform(const ssi_nufft *p,
                                                               const ssi_nufft_set *sets, int nsets,
                                                               float _Complex *in,
                                                               float _Complex *out);

/**
 * ssi_nufft_transform() of three sets where sets[0] and sets[1] share their positions x on @p p
 * and sets[2] has the positions 2 x (mod 2 pi) on @p half, whose grid is half of @p p's: on it
 * the Gaussian's weights at 2 x are those at x, so every point's are computed once (sets[2].x is
 * not read). @p in: 2 g + g / 2 zero values, left zero; out: set 2 at out + 2 g.
 */
__attribute__((visibility("hidden"))) void
ssi_nufft_transform_doubled(const ssi_nufft *p, const ssi_nufft *half, const ssi_nufft_set *sets,
                            float _Complex *in, float _Complex *out);

/** The inverse of the spreading Gaussian's transform, for modes k = -g/4 .. g/4 at [k]: owned by
 * the plan. */
__attribute__((visibility("hidden"))) const double *ssi_nufft_scale(const ssi_nufft *p);

#endif
