#include "rng.h"

#include <math.h>

void ss_rng_seed(ss_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mixing the stream number through one splitmix64 step spreads neighbouring streams over the
     * whole state space, so their short sequences do not overlap. */
    ss_rng mix = {seed ^ (stream * UINT64_C(0xD1B54A32D192ED03))};
    r->s = ss_rng_next(&mix);
}

uint64_t ss_rng_next(ss_rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

double ss_rng_uniform(ss_rng *r)
{
    return (double)(ss_rng_next(r) >> 11) * 0x1.0p-53;
}

double ss_rng_range(ss_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ss_rng_uniform(r);
}

double ss_rng_normal(ss_rng *r)
{
    double u = ss_rng_uniform(r), v = ss_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}
