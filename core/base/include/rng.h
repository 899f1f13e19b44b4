/**
 * @file rng.h
 * @brief A small seeded random number generator (splitmix64) for simulations and benchmarks.
 *
 * Self-contained so that a seed gives the same numbers on every platform and C library, which
 * rand() does not promise, and with its state in the caller's struct rather than in a global:
 * independent streams (one per simulated source, say) never disturb each other.
 */
#ifndef SS_RNG_H
#define SS_RNG_H

#include <stdint.h>

/** A generator's whole state; `ss_rng r = {seed}` starts one. Owned by the caller. */
typedef struct ss_rng {
    uint64_t s;
} ss_rng;

/**
 * Start stream @p stream of @p seed: streams of one seed are independent for all practical
 * purposes, so numbering them (by source, by purpose) keeps each reproducible on its own.
 */
void ss_rng_seed(ss_rng *r, uint64_t seed, uint64_t stream);

/** The next 64 random bits (splitmix64). */
uint64_t ss_rng_next(ss_rng *r);

/** Uniform in [0, 1), with 53 random bits. */
double ss_rng_uniform(ss_rng *r);

/** Uniform in [lo, hi). */
double ss_rng_range(ss_rng *r, double lo, double hi);

/** Standard normal (Box-Muller; two uniforms per call, no cached second value). */
double ss_rng_normal(ss_rng *r);

#endif
