/*
 * The generalised Lomb-Scargle periodogram (Zechmeister & Kuerster 2009), single and multi-band
 * (VanderPlas & Ivezic 2015, one term per band), and Baluev's (2008) false-alarm probability,
 * normalised as astropy's LombScargle "standard" so that a test can compare the two directly.
 *
 * Two ways to the sums each frequency needs (sum w cos, w sin, w y cos, w y sin, w cos^2,
 * w cos sin). EXACT costs points x frequencies: each point's cosine and sine are stepped from one
 * frequency to the next by a rotation (two multiplications and an addition each) instead of
 * being recomputed, in the same pass as the sums; the inner loop runs over points, so the
 * compiler vectorises it. FAST gets the sums of every frequency at once from three non-uniform
 * FFTs per band (nufft.c): sum w y e^(i theta), sum w e^(i theta) and sum w e^(2 i theta), the
 * squares coming from the double angle. It is 40 times quicker for 1,000 points and 20,000
 * frequencies, within about 1e-6 in power; its highest peaks are then recomputed the exact way,
 * so that the answer does not depend on the method.
 */
#include "features_impl.h"

#include <complex.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PG_MAX_BANDS 16
#define PG_MEMO      16 /* exact reductions remembered per band: the refined peaks' */

/* One band's points, with weights normalised to sum 1 and the data centred on their mean. */
typedef struct pg_band {
    size_t first, n; /* into the per-point arrays, which are grouped by band */
    double wsum;     /* the weights' sum before normalising: the band's share of chi^2 */
    double yy;       /* weighted variance of y */
    double span;     /* of the band's times */
    size_t lo;       /* the band's first grid frequency: its own longest period */
} pg_band;

typedef struct pg_work {
    double *w, *wy, *c, *s, *cd, *sd; /* per point */
    pg_band band[PG_MAX_BANDS];
    int nbands;
    const double *t;     /* the caller's times */
    const size_t *order; /* the points grouped by band */
    size_t n;
    double t0, f0, df; /* phase origin, grid start and step */
    size_t nf;
    struct pg_memo { /* each band's exact reductions computed so far (pg_exact) */
        size_t f[PG_MEMO];
        double red[PG_MEMO];
        int n;
    } memo[PG_MAX_BANDS];
} pg_work;

/* A peak found: grid index and power. */
typedef struct pg_peak {
    size_t at;
    double p;
} pg_peak;

#define PG_ALL (-1) /* the multi-band power, where a band number is expected */

/* The chi^2 the best sinusoid removes, over the band's weighted variance's scale, from its sums
 * (weights summing to 1, y centred, so the mean's terms of YC and YS vanish). */
static double pg_reduction(double C, double S, double YC, double YS, double CC, double CS)
{
    double SS = (1 - CC) - S * S;
    CC -= C * C;
    CS -= C * S;
    double D = CC * SS - CS * CS;
    /* divides whatever D is, then selects: no branch, so that the fast path's loop vectorises
     * (with -fno-trapping-math, sdk/CMakeLists.txt) */
    double r = (SS * YC * YC + CC * YS * YS - 2 * CS * YC * YS) / D;
    return D > 0 ? r : 0;
}

/* A power clamped to [0, 1]: rounding steps past either end, and a band of one or two points (its
 * own mean and sinusoid undetermined) past 1. */
static double pg_unit(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* Chi^2 removed by the best sinusoid at the current phases, over the band's weighted variance;
 * the phases then step to the next frequency in the same pass, so each point's data are read
 * once per frequency. */
static double pg_band_power(pg_work *k, const pg_band *b, double *reduction)
{
    double C = 0, S = 0, YC = 0, YS = 0, CC = 0, CS = 0;
    const double *w = k->w + b->first, *wy = k->wy + b->first;
    double *c = k->c + b->first, *s = k->s + b->first;
    const double *cd = k->cd + b->first, *sd = k->sd + b->first;
#pragma omp simd reduction(+ : C, S, YC, YS, CC, CS)
    for (size_t i = 0; i < b->n; i++) {
        double ci = c[i], si = s[i];
        C += w[i] * ci;
        S += w[i] * si;
        YC += wy[i] * ci;
        YS += wy[i] * si;
        CC += w[i] * ci * ci;
        CS += w[i] * ci * si;
        c[i] = ci * cd[i] - si * sd[i];
        s[i] = si * cd[i] + ci * sd[i];
    }
    *reduction = pg_reduction(C, S, YC, YS, CC, CS);
    return b->yy;
}

/* sin and cos of 2 pi u (u >= 0 below 2^52; libm's for any other): the turn's fraction and the
 * quarter turn are taken exactly, then Taylor polynomials on |r| <= pi / 4 (to r^15 and r^16:
 * within 1e-16). About 1.5 times quicker than libm's sincos here, which must reduce any argument;
 * the fast path calls it four times per point. */
static inline void pg_cis(double u, double *s, double *c)
{
    if (!(u >= 0 && u < 0x1p52)) { /* times no light curve has, but no conversion overflows */
        sincos(2 * M_PI * (u - floor(u)), s, c);
        return;
    }
    double v = 4 * (u - (double)(long long)u); /* quarter turns, [0, 4) */
    long long q = (long long)(v + 0.5);
    double r = (v - (double)q) * (M_PI / 2), r2 = r * r;
    double sn =
        r * (1 + r2 * (-1.0 / 6 +
                       r2 * (1.0 / 120 + r2 * (-1.0 / 5040 +
                                               r2 * (1.0 / 362880 +
                                                     r2 * (-1.0 / 39916800 +
                                                           r2 * (1.0 / 6227020800 +
                                                                 r2 * (-1.0 / 1307674368000))))))));
    double cs =
        1 + r2 * (-0.5 +
                  r2 * (1.0 / 24 + r2 * (-1.0 / 720 +
                                         r2 * (1.0 / 40320 +
                                               r2 * (-1.0 / 3628800 +
                                                     r2 * (1.0 / 479001600 +
                                                           r2 * (-1.0 / 87178291200 +
                                                                 r2 * (1.0 / 20922789888000))))))));
    switch (q & 3) { /* the quarter turns: (s, c) rotated */
    case 0: *s = sn, *c = cs; break;
    case 1: *s = cs, *c = -sn; break;
    case 2: *s = -sn, *c = -cs; break;
    default: *s = -cs, *c = sn; break;
    }
}

/* Weights, centred data and per-band sums; k->order lists the points grouped by band. */
static void pg_prepare(pg_work *k, const double *y, const double *e, const int *band, int nbands)
{
    k->nbands = nbands;
    size_t at = 0, n = k->n;
    const size_t *order = k->order;
    for (int b = 0; b < nbands; b++) {
        pg_band *pb = &k->band[b];
        pb->first = at;
        double wsum = 0, wy = 0, tmin = INFINITY, tmax = -INFINITY;
        while (at < n && (band ? band[order[at]] : 0) == b) {
            size_t i = order[at];
            k->w[at] = 1.0 / (e[i] * e[i]);
            wsum += k->w[at];
            wy += k->w[at] * y[i];
            tmin = fmin(tmin, k->t[i]);
            tmax = fmax(tmax, k->t[i]);
            at++;
        }
        pb->n = at - pb->first;
        pb->wsum = wsum;
        pb->span = pb->n ? tmax - tmin : 0;
        double mean = wsum > 0 ? wy / wsum : 0, yy = 0;
        for (size_t j = pb->first; j < at; j++) {
            k->w[j] /= wsum;
            double d = y[order[j]] - mean;
            k->wy[j] = k->w[j] * d;
            yy += k->w[j] * d * d;
        }
        pb->yy = yy;
    }
}

/* The grid: first frequency, step and length. It starts at a whole number of steps, the first
 * at or above 1 / max_period (the default grid already does: 1 / span is samples_per_peak
 * steps), so that the fast path finds the double-angle sums of its lower half among the
 * single-angle ones (pg_layout). @return 0 when there is no grid. */
static size_t pg_grid(double span, const ss_features_options *o, double *f0, double *df)
{
    double max_period = o->max_period > 0 ? o->max_period : span;
    double spp = o->samples_per_peak > 0 ? o->samples_per_peak : 5;
    if (!(span > 0) || !(o->min_period > 0) || max_period <= o->min_period)
        return 0;
    *f0 = 1.0 / max_period;
    *df = 1.0 / (spp * span);
    double fmax = 1.0 / o->min_period;
    size_t nf = (size_t)floor((fmax - *f0) / *df) + 1;
    size_t cap = o->max_frequencies ? o->max_frequencies : 20000;
    if (nf > cap) {
        nf = cap;
        *df = (fmax - *f0) / (double)(cap - 1);
    }
    double j = *f0 / *df, whole = nearbyint(j);
    if (fabs(j - whole) > 1e-9 * (whole > 1 ? whole : 1)) {
        *f0 = ceil(j) * *df; /* up by less than a step: never a period longer than max_period */
        if (*f0 > fmax)
            return 0;
        nf = (size_t)floor((fmax - *f0) / *df + 1e-9) + 1;
    }
    return nf;
}

/* Each band's first frequency on the shared grid: its own longest period (max_period, or its
 * span), so that a band does not report a period longer than it has seen; nf when it has none. */
static void pg_band_starts(pg_work *k, const ss_features_options *o)
{
    for (int b = 0; b < k->nbands; b++) {
        pg_band *pb = &k->band[b];
        double longest = o->max_period > 0 ? o->max_period : pb->span;
        pb->lo = k->nf;
        if (pb->n >= 3 && pb->span > 0 && longest > o->min_period) {
            double from = ceil((1.0 / longest - k->f0) / k->df - 1e-9);
            pb->lo = from > 0 ? (size_t)from : 0;
        }
    }
}

/* Baluev's (2008) false-alarm probability of power z (astropy's fap_baluev, "standard"), for
 * the points order[0..n). */
static double pg_fap(double z, double fmax, const double *t, const double *e, const size_t *order,
                     size_t n, int dh, int dk)
{
    double nh = (double)n - dh, nk = (double)n - dk;
    if (nk <= 0 || nh <= 1 || !(z >= 0) || z >= 1)
        return z >= 1 ? 0 : NAN;
    double sw = 0, swt = 0, var_t = 0;
    for (size_t j = 0; j < n; j++) {
        size_t i = order[j];
        sw += 1.0 / (e[i] * e[i]);
        swt += t[i] / (e[i] * e[i]);
    }
    for (size_t j = 0; j < n; j++) { /* two passes: MJDs squared would lose the variance */
        size_t i = order[j];
        var_t += (t[i] - swt / sw) * (t[i] - swt / sw) / (e[i] * e[i]) / sw;
    }
    double w_eff = fmax * sqrt(4 * M_PI * var_t);
    double gamma = sqrt(2 / nh) * exp(lgamma(nh / 2) - lgamma((nh - 1) / 2));
    double tau = gamma * w_eff * pow(1 - z, 0.5 * (nk - 1)) * sqrt(0.5 * nh * z);
    double fap_single = pow(1 - z, 0.5 * nk);
    return -expm1(-tau) + fap_single * exp(-tau);
}

/* Points grouped by band (a counting sort); @return 0, or -1 for a band number out of range. */
static int pg_order(const int *band, int nbands, size_t n, size_t *order)
{
    size_t start[PG_MAX_BANDS + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        int b = band ? band[i] : 0;
        if (b < 0 || b >= nbands)
            return -1;
        start[b + 1]++;
    }
    for (int b = 0; b < nbands; b++)
        start[b + 1] += start[b];
    for (size_t i = 0; i < n; i++)
        order[start[band ? band[i] : 0]++] = i;
    return 0;
}

/* Phases at the grid's first frequency and the rotation of one step, for every point. */
static void pg_phases(pg_work *k)
{
    for (size_t j = 0; j < k->n; j++) {
        double dt = k->t[k->order[j]] - k->t0;
        pg_cis(k->f0 * dt, &k->s[j], &k->c[j]);
        pg_cis(k->df * dt, &k->sd[j], &k->cd[j]);
    }
}

/* The power at the current phases (chi^2 removed over chi^2 of the means, all bands), stepping
 * the phases to the next frequency; with @p bands, every band's own power too. */
static double pg_power_now(pg_work *k, double *bands)
{
    double removed = 0, total = 0, red;
    for (int b = 0; b < k->nbands; b++) {
        double yy = pg_band_power(k, &k->band[b], &red);
        removed += k->band[b].wsum * red;
        total += k->band[b].wsum * yy;
        if (bands)
            bands[b] = pg_unit(yy > 0 ? red / yy : 0);
    }
    return pg_unit(total > 0 ? removed / total : 0);
}

/* EXACT: every frequency point by point; the best of all bands in best[nbands] and, with @p bands,
 * each band's in best[b]. */
static void pg_scan(pg_work *k, pg_peak *best, int bands, double *power)
{
    double own[PG_MAX_BANDS];
    pg_phases(k);
    for (size_t f = 0; f < k->nf; f++) {
        double p = pg_power_now(k, bands ? own : NULL);
        if (power)
            power[f] = p;
        if (p > best[k->nbands].p)
            best[k->nbands] = (pg_peak){f, p};
        for (int b = 0; bands && b < k->nbands; b++)
            if (f >= k->band[b].lo && own[b] > best[b].p)
                best[b] = (pg_peak){f, own[b]};
    }
}

/* How the fast path's grids map onto the frequencies. The sums of frequency i come from mode
 * i - half of the main transforms (centred on fc); its double-angle sum, the single-angle one
 * at twice the frequency, comes for i < i1 from the main single-angle transform itself, at
 * frequency 2 i + J, the grid starting at a whole number J of steps (f0 = J df: pg_grid makes
 * it so), and for the others from a transform of their own (mode i - i1 - half2, centred on
 * fc2, on a grid about half as long). */
typedef struct pg_layout {
    size_t half, i1, half2, g, g2;
    size_t J;
    double fc, fc2;
    const double *scale, *scale2; /* the two plans' inverse Gaussians, centred */
} pg_layout;

/* i1 and J: how many frequencies' double-angle sums the main grid holds (0 if the grid's start
 * were not a whole number of steps, which pg_grid prevents). */
static size_t pg_reuse(const pg_work *k, size_t *J)
{
    double j = k->f0 / k->df, r = nearbyint(j);
    *J = 0;
    if (!(fabs(j - r) <= 1e-9 * fmax(1, r)) || r < 0 || r > (double)k->nf)
        return 0;
    *J = (size_t)r;
    return k->nf - 1 >= *J ? (k->nf - 1 - *J) / 2 + 1 : 0;
}

/* The points' positions and strengths for the three transforms: theta = 2 pi (fc + m df) tau =
 * 2 pi fc tau + m x, x = 2 pi df tau (mod 2 pi), and the double angle's on its own grid (centre
 * fc2, step 2 df). Each product is reduced to its fraction first (exactly: x - floor(x)), so that
 * no phase is a large angle. */
static void pg_fast_inputs(const pg_work *k, const pg_layout *l, double *x, double complex *c)
{
    size_t n = k->n;
    for (size_t j = 0; j < n; j++) {
        double tau = k->t[k->order[j]] - k->t0, a = l->fc * tau, a2 = l->fc2 * tau;
        double u = k->df * tau, v = 2 * u, sn, cs, sn2, cs2;
        pg_cis(a, &sn, &cs);
        pg_cis(a2, &sn2, &cs2);
        x[j] = 2 * M_PI * (u - floor(u));
        x[n + j] = 2 * M_PI * (v - floor(v));
        c[j] = k->wy[j] * (cs + I * sn);
        c[n + j] = k->w[j] * (cs + I * sn);
        c[2 * n + j] = k->w[j] * (cs2 + I * sn2);
    }
}

/* Frequencies [0, len) of a band from its transformed grids gy, g1 (interleaved re, im) with
 * scale sc, and the double-angle sums g2 with scale sc2, read every @p st modes: each frequency's
 * chi^2 removed added to @p removed, the band's own power (clamped: rounding may step past 0 or
 * 1) into @p own. */
static inline __attribute__((always_inline)) void
pg_fast_run_body(const pg_band *b, const float *gy, const float *g1, const float *g2,
                 const double *sc, const double *sc2, size_t st, size_t len, double *removed,
                 double *own)
{
    double inv = b->yy > 0 ? 1 / b->yy : 0, wsum = b->wsum;
#pragma omp simd
    for (size_t j = 0; j < len; j++) {
        double s = sc[j], s2 = sc2[st * j];
        double red =
            pg_reduction(s * g1[2 * j], s * g1[2 * j + 1], s * gy[2 * j], s * gy[2 * j + 1],
                         0.5 * (1 + s2 * g2[2 * st * j]), 0.5 * s2 * g2[2 * st * j + 1]);
        removed[j] += wsum * red;
        own[j] = pg_unit(red * inv);
    }
}

/* Its strides as constants, so that each loop vectorises. */
#define PG_FAST_RUN(b, gy, g1, g2, sc, sc2, st, len, removed, own)                                 \
    ((st) == 2 ? pg_fast_run_body(b, gy, g1, g2, sc, sc2, 2, len, removed, own)                    \
               : pg_fast_run_body(b, gy, g1, g2, sc, sc2, 1, len, removed, own))

/* The same loops compiled for AVX2 and FMA, and (gcc) AVX-512, which x86-64's baseline lacks:
 * four or eight frequencies a step instead of two. They are a tenth of a 1,000-point
 * periodogram's time; the choice is made at run time, so the library still runs on any x86-64. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PG_FAST_RUN_FOR(name, isa)                                                                 \
    __attribute__((target(isa))) static void name(                                                 \
        const pg_band *b, const float *gy, const float *g1, const float *g2, const double *sc,     \
        const double *sc2, size_t st, size_t len, double *removed, double *own)                    \
    {                                                                                              \
        PG_FAST_RUN(b, gy, g1, g2, sc, sc2, st, len, removed, own);                                \
    }
PG_FAST_RUN_FOR(pg_fast_run_avx2, "avx2,fma")
#define PG_AVX2 1
#if !defined(__clang__) /* clang's target attribute has no vector width */
PG_FAST_RUN_FOR(pg_fast_run_avx512, "avx512f,avx512dq,avx2,fma,prefer-vector-width=512")
#define PG_AVX512 1
#endif
#endif

static void pg_fast_run(const pg_band *b, const float *gy, const float *g1, const float *g2,
                        const double *sc, const double *sc2, size_t st, size_t len, double *removed,
                        double *own)
{
#ifdef PG_AVX512
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) {
        pg_fast_run_avx512(b, gy, g1, g2, sc, sc2, st, len, removed, own);
        return;
    }
#endif
#ifdef PG_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        pg_fast_run_avx2(b, gy, g1, g2, sc, sc2, st, len, removed, own);
        return;
    }
#endif
    PG_FAST_RUN(b, gy, g1, g2, sc, sc2, st, len, removed, own);
}

/* Grid point of mode @p k on a grid of @p g points, in floats. */
static size_t pg_at(long k, size_t g)
{
    return 2 * (size_t)(k < 0 ? k + (long)g : k);
}

/* A band's frequencies from its transforms (out: the main grids, then the double angle's), in
 * runs over which no grid wraps and no source changes. */
static void pg_fast_band(const pg_band *b, const pg_layout *l, const float complex *out, size_t nf,
                         double *removed, double *own)
{
    const float *gy = (const float *)out, *g1 = gy + 2 * l->g, *g2 = g1 + 2 * l->g;
    long half = (long)l->half, J = (long)l->J, i1 = (long)l->i1, h2 = (long)l->half2;
    long cut[] = {0, half, i1, i1 + h2, (half - J + 1) / 2, (long)nf};
    long from = 0;
    while (from < (long)nf) {
        long to = (long)nf;
        for (size_t c = 0; c < sizeof cut / sizeof *cut; c++)
            if (cut[c] > from && cut[c] < to)
                to = cut[c];
        long k = from - half, k2 = from < i1 ? 2 * from + J - half : from - i1 - h2;
        size_t at = pg_at(k, l->g), len = (size_t)(to - from);
        if (from < i1) /* double angle: the main single-angle mode 2 i + J, every other one */
            pg_fast_run(b, gy + at, g1 + at, g1 + pg_at(k2, l->g), l->scale + k, l->scale + k2, 2,
                        len, removed + from, own + from);
        else
            pg_fast_run(b, gy + at, g1 + at, g2 + pg_at(k2, l->g2), l->scale + k, l->scale2 + k2, 1,
                        len, removed + from, own + from);
        from = to;
    }
}

#define PG_REFINE     4    /* peaks recomputed exactly, at most */
#define PG_FAST_ERROR 1e-5 /* bound on the transforms' error in power (measured: 7.4e-8) */

/* Band @p b's chi^2 reductions at grid frequencies from..to (at most three), point by point:
 * remembered, so that the multi-band refinement reuses the bands'. */
static void pg_exact(pg_work *k, int b, size_t from, size_t to, double *red)
{
    struct pg_memo *m = &k->memo[b];
    int found = 0;
    for (size_t f = from; f <= to; f++)
        for (int i = 0; i < m->n; i++)
            if (m->f[i] == f) {
                red[f - from] = m->red[i];
                found++;
                break;
            }
    if (found == (int)(to - from + 1))
        return;
    const pg_band *pb = &k->band[b];
    double sum[3][6] = {{0}}; /* C, S, YC, YS, CC, CS */
    double freq = k->f0 + (double)from * k->df;
    for (size_t j = pb->first; j < pb->first + pb->n; j++) {
        double dt = k->t[k->order[j]] - k->t0, c, s, cd, sd, w = k->w[j], wy = k->wy[j];
        pg_cis(freq * dt, &s, &c);
        pg_cis(k->df * dt, &sd, &cd);
        for (size_t f = 0; f <= to - from; f++) {
            double *z = sum[f];
            z[0] += w * c, z[1] += w * s, z[2] += wy * c, z[3] += wy * s;
            z[4] += w * c * c, z[5] += w * c * s;
            double cn = c * cd - s * sd;
            s = s * cd + c * sd;
            c = cn;
        }
    }
    for (size_t f = 0; f <= to - from; f++) {
        double *z = sum[f];
        red[f] = pg_reduction(z[0], z[1], z[2], z[3], z[4], z[5]);
        if (m->n < PG_MEMO)
            m->f[m->n] = from + f, m->red[m->n++] = red[f];
    }
}

/* Recomputes the powers of @p which (a band, or PG_ALL) at @p at and its neighbours (from
 * @p lo) point by point, into @p p; the highest so far in @p best. */
static void pg_refine(pg_work *k, int which, size_t lo, size_t at, double *p, pg_peak *best)
{
    size_t from = at > lo ? at - 1 : lo, to = at + 1 < k->nf ? at + 1 : at;
    double removed[3] = {0}, total = 0, red[3];
    for (int b = which == PG_ALL ? 0 : which; b < (which == PG_ALL ? k->nbands : which + 1); b++) {
        const pg_band *pb = &k->band[b];
        double weight = which == PG_ALL ? pb->wsum : 1;
        total += weight * pb->yy;
        if (!pb->n)
            continue;
        pg_exact(k, b, from, to, red);
        for (size_t f = from; f <= to; f++)
            removed[f - from] += weight * red[f - from];
    }
    for (size_t f = from; f <= to; f++) {
        p[f] = pg_unit(total > 0 ? removed[f - from] / total : 0);
        if (p[f] > best->p)
            *best = (pg_peak){f, p[f]};
    }
}

#define PG_BLOCK 32 /* powers whose highest is kept, so that the search skips the block */

/* The highest of p[lo..nf) (no NaN reaches here), and each block of PG_BLOCK's highest into
 * @p bmax: four maxima in flight, so that the comparisons overlap instead of waiting on each
 * other. */
static double pg_block_max(const double *p, size_t lo, size_t nf, double *bmax)
{
    double top = -1;
    for (size_t from = lo, nb = 0; from < nf; from += PG_BLOCK, nb++) {
        size_t to = nf - from < PG_BLOCK ? nf : from + PG_BLOCK, f = from;
        double m[4] = {-1, -1, -1, -1};
        for (; f + 4 <= to; f += 4)
            for (int j = 0; j < 4; j++)
                m[j] = p[f + j] > m[j] ? p[f + j] : m[j];
        for (; f < to; f++)
            m[0] = p[f] > m[0] ? p[f] : m[0];
        double a = m[0] > m[1] ? m[0] : m[1], c = m[2] > m[3] ? m[2] : m[3];
        bmax[nb] = a > c ? a : c;
        top = bmax[nb] > top ? bmax[nb] : top;
    }
    return top;
}

/* The local maxima of p[lo..nf) within the transforms' error of the highest, at most PG_REFINE,
 * highest first, into @p at; @p bmax: working space of a block's maximum per PG_BLOCK powers.
 * @return how many. */
static int pg_candidates(const double *p, size_t lo, size_t nf, double *bmax, size_t *at)
{
    double near = pg_block_max(p, lo, nf, bmax) - PG_FAST_ERROR, v[PG_REFINE];
    int n = 0;
    for (size_t from = lo, nb = 0; from < nf; from += PG_BLOCK, nb++) {
        if (!(bmax[nb] > near))
            continue; /* most blocks */
        size_t to = nf - from < PG_BLOCK ? nf : from + PG_BLOCK;
        for (size_t f = from; f < to; f++) {
            if (!(p[f] > near) || (f > lo && p[f - 1] > p[f]) || (f + 1 < nf && p[f + 1] > p[f]))
                continue;
            if (n == PG_REFINE && !(p[f] > v[n - 1]))
                continue;
            int i = n < PG_REFINE ? n++ : n - 1; /* insertion, highest first */
            for (; i > 0 && v[i - 1] < p[f]; i--)
                v[i] = v[i - 1], at[i] = at[i - 1];
            v[i] = p[f], at[i] = f;
        }
    }
    return n;
}

/* The transforms' highest peak of @p which in p[lo..nf) recomputed exactly with its neighbours, and
 * so every other peak within the transforms' error of it (one of them may be the exact highest):
 * the highest recomputed, into @p best (@p bmax: pg_candidates' working space). */
static void pg_pick(pg_work *k, int which, size_t lo, double *p, double *bmax, pg_peak *best)
{
    size_t at[PG_REFINE] = {lo};
    int n = pg_candidates(p, lo, k->nf, bmax, at);
    *best = (pg_peak){at[0], -1};
    for (int i = 0; i < (n ? n : 1); i++) {
        int done = 0; /* a neighbour of a peak already recomputed */
        for (int j = 0; j < i; j++)
            done |= at[i] + 1 >= at[j] && at[i] <= at[j] + 1;
        if (!done)
            pg_refine(k, which, lo, at[i], p, best);
    }
}

/* The fast path's working memory, carved from one block. */
typedef struct pg_fast_mem {
    double *x, *all, *own, *bmax;
    double complex *c;
    float complex *in, *out;
} pg_fast_mem;

/* Carves @p m from one block of @p s, in 64-byte aligned pieces: @p power, when given, holds the
 * multi-band powers. */
static int pg_fast_alloc(const pg_work *k, const pg_layout *l, double *power, ssi_scratch *s,
                         pg_fast_mem *m)
{
    size_t n = k->n, nf = k->nf, total = 0;
    size_t len[] = {(2 * l->g + l->g2) * sizeof *m->in,
                    (2 * l->g + l->g2) * sizeof *m->out,
                    2 * n * sizeof *m->x,
                    3 * n * sizeof *m->c,
                    power ? 0 : nf * sizeof *m->all,
                    nf * sizeof *m->own,
                    (nf / PG_BLOCK + 1) * sizeof *m->bmax};
    enum { N = sizeof len / sizeof *len };
    for (int i = 0; i < N; i++)
        total += (len[i] + 63) / 64 * 64;
    char *at = ssi_scratch_get(s, total, len[0]); /* the input grid first, kept zero */
    if (!at)
        return SS_ENOMEM;
    s->zero = len[0]; /* what follows it is written */
    void *piece[N];
    for (int i = 0; i < N; i++) {
        piece[i] = len[i] ? at : NULL;
        at += (len[i] + 63) / 64 * 64;
    }
    m->in = piece[0], m->out = piece[1], m->x = piece[2], m->c = piece[3];
    m->all = power ? power : piece[4];
    m->own = piece[5], m->bmax = piece[6];
    return 0;
}

/* Every band's transforms in turn, each band's powers read from them at once: into m->all the
 * chi^2 each frequency removes, all bands, and (@p bands) each band's best peak into best[b]. */
static void pg_fast_bands(pg_work *k, const pg_layout *l, ssi_nufft *const plan[2],
                          const pg_fast_mem *m, int bands, pg_peak *best)
{
    size_t n = k->n, nf = k->nf;
    for (int b = 0; b < k->nbands; b++) {
        const pg_band *pb = &k->band[b];
        if (!pb->n)
            continue;
        size_t at = pb->first;
        ssi_nufft_set sets[SSI_NUFFT_SETS] = {{m->x + at, m->c + at, pb->n},
                                              {m->x + at, m->c + n + at, pb->n},
                                              {m->x + n + at, m->c + 2 * n + at, pb->n}};
        if (2 * l->g2 == l->g) { /* the usual case: one set of spreading weights */
            ssi_nufft_transform_doubled(plan[0], plan[1], sets, m->in, m->out);
        } else {
            ssi_nufft_transform(plan[0], sets, 2, m->in, m->out);
            ssi_nufft_transform(plan[1], sets + 2, 1, m->in, m->out + 2 * l->g);
        }
        pg_fast_band(pb, l, m->out, nf, m->all, m->own);
        if (bands && pb->lo < nf)
            pg_pick(k, b, pb->lo, m->own, m->bmax, &best[b]);
    }
}

/* The layout of the grids (pg_layout) and the two plans it needs. @return 0 or SS_ENOMEM. */
static int pg_fast_plan(const pg_work *k, pg_layout *l, ssi_nufft *plan[2])
{
    size_t nf = k->nf;
    l->i1 = pg_reuse(k, &l->J);
    l->half = nf / 2;
    l->half2 = (nf - l->i1) / 2;
    l->fc = k->f0 + (double)l->half * k->df;
    l->fc2 = 2 * (k->f0 + (double)(l->i1 + l->half2) * k->df);
    plan[0] = ssi_nufft_acquire(nf);
    plan[1] = plan[0] ? ssi_nufft_acquire(nf - l->i1) : NULL;
    if (!plan[1]) {
        ssi_nufft_release(plan[0]);
        return SS_ENOMEM;
    }
    l->g = ssi_nufft_size(plan[0]), l->g2 = ssi_nufft_size(plan[1]);
    l->scale = ssi_nufft_scale(plan[0]), l->scale2 = ssi_nufft_scale(plan[1]);
    return 0;
}

/* FAST: every frequency's sums from non-uniform FFTs, three per band (one of them about half as
 * long on the default grid), then the highest peaks recomputed point by point (pg_pick): of
 * every band's own power when @p bands (into best[b]), and of all bands together
 * (best[nbands]); the grid's multi-band powers into @p power. */
static int pg_scan_fast(pg_work *k, pg_peak *best, int bands, double *power, ssi_scratch *s)
{
    pg_layout l;
    ssi_nufft *plan[2];
    pg_fast_mem m;
    if (pg_fast_plan(k, &l, plan))
        return SS_ENOMEM;
    if (pg_fast_alloc(k, &l, power, s, &m)) {
        ssi_nufft_release(plan[0]);
        ssi_nufft_release(plan[1]);
        return SS_ENOMEM;
    }
    size_t nf = k->nf;
    pg_fast_inputs(k, &l, m.x, m.c);
    memset(m.all, 0, nf * sizeof *m.all);
    pg_fast_bands(k, &l, plan, &m, bands, best);
    ssi_nufft_release(plan[0]);
    ssi_nufft_release(plan[1]);
    double total = 0;
    for (int b = 0; b < k->nbands; b++)
        total += k->band[b].wsum * k->band[b].yy;
    double scale = total > 0 ? 1 / total : 0;
#pragma omp simd
    for (size_t f = 0; f < nf; f++) {
        m.all[f] = pg_unit(m.all[f] * scale);
    }
    pg_pick(k, PG_ALL, 0, m.all, m.bmax, &best[k->nbands]);
    return 0;
}

int ss_features_period_method(const char *name)
{
    static const char *const names[] = {"auto", "exact", "fast"};
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, names[i]))
            return i; /* SS_PERIOD_AUTO, _EXACT, _FAST */
    return -1;
}

/* The method the options ask for, FAST or EXACT; an older caller's options have no field. */
static int pg_fast(const ss_features_options *o, size_t n)
{
    int m = o->size >= offsetof(ss_features_options, period_method) + sizeof o->period_method
                ? o->period_method
                : SS_PERIOD_AUTO;
    return m == SS_PERIOD_FAST || (m != SS_PERIOD_EXACT && n >= SS_PERIOD_FAST_POINTS);
}

/* The answer for peak @p p of the points order[0..n), with @p dh and @p dk Baluev's degrees of
 * freedom. */
static ss_period pg_answer(const pg_work *k, const double *e, pg_peak p, size_t first, size_t n,
                           int dh, int dk, size_t frequencies)
{
    double fmax = k->f0 + (double)(k->nf - 1) * k->df;
    ss_period out = {1.0 / (k->f0 + (double)p.at * k->df), p.p, NAN, frequencies};
    out.fap = pg_fap(p.p, fmax, k->t, e, k->order + first, n, dh, dk);
    return out;
}

/* Validates the points; their time range into @p tmin and @p tmax. */
static int pg_check(const double *t, const double *y, const double *e, size_t n, double *tmin,
                    double *tmax)
{
    *tmin = INFINITY, *tmax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(t[i]) || !isfinite(y[i]) || !(e[i] > 0) || !isfinite(e[i]))
            return SS_EINVAL; /* a NaN makes every power NaN, and no place on the FFT grid */
        *tmin = fmin(*tmin, t[i]);
        *tmax = fmax(*tmax, t[i]);
    }
    return 0;
}

/* The scan itself, by the method the options choose; the answers into @p per_band and
 * @p multi. */
static int pg_run(pg_work *k, const double *e, const ss_features_options *o, ss_period *per_band,
                  ss_period *multi, double *power, ssi_scratch *s)
{
    pg_peak best[PG_MAX_BANDS + 1];
    for (int b = 0; b <= k->nbands; b++)
        best[b] = (pg_peak){0, -1};
    int bands = per_band != NULL;
    if (bands)
        pg_band_starts(k, o);
    int rc = 0;
    if (pg_fast(o, k->n))
        rc = pg_scan_fast(k, best, bands, power, s);
    else
        pg_scan(k, best, bands, power);
    if (rc)
        return rc;
    int nb = k->nbands;
    *multi = pg_answer(k, e, best[nb], 0, k->n, nb, 3 * nb, k->nf);
    for (int b = 0; bands && b < nb; b++) {
        const pg_band *pb = &k->band[b];
        if (pb->lo < k->nf)
            per_band[b] = pg_answer(k, e, best[b], pb->first, pb->n, 1, 3, k->nf - pb->lo);
    }
    return 0;
}

int ssi_periodogram(const double *t, const double *y, const double *e, const int *band, int nbands,
                    size_t n, const ss_features_options *o, ss_period *per_band, ss_period *multi,
                    double *power, ssi_scratch *s)
{
    if (!t || !y || !e || !multi || (band && (nbands < 1 || nbands > PG_MAX_BANDS)))
        return SS_EINVAL;
    nbands = band ? nbands : 1;
    *multi = (ss_period){NAN, NAN, NAN, 0};
    for (int b = 0; per_band && b < nbands; b++)
        per_band[b] = *multi;
    pg_work k = {.t = t, .n = n};
    double tmax;
    if (pg_check(t, y, e, n, &k.t0, &tmax))
        return SS_EINVAL;
    k.nf = n >= 3 ? pg_grid(tmax - k.t0, o, &k.f0, &k.df) : 0;
    if (k.nf == 0)
        return 0;
    size_t *order = malloc(n * (sizeof *order + 6 * sizeof(double)));
    if (!order)
        return SS_ENOMEM;
    double *d = (double *)(order + n);
    k.w = d, k.wy = d + n, k.c = d + 2 * n, k.s = d + 3 * n, k.cd = d + 4 * n, k.sd = d + 5 * n;
    k.order = order;
    int rc = pg_order(band, nbands, n, order) ? SS_EINVAL : 0;
    if (!rc) {
        pg_prepare(&k, y, e, band, nbands);
        rc = pg_run(&k, e, o, per_band, multi, power, s);
    }
    free(order);
    return rc;
}

static int pg_public(const double *t, const double *y, const double *e, const int *band, int nbands,
                     size_t n, const ss_features_options *opt, ss_period *per_band,
                     ss_period *multi, double *power)
{
    ss_features_options defaults = SS_FEATURES_OPTIONS_INIT;
    ssi_scratch s = {0};
    int rc = ssi_periodogram(t, y, e, band, nbands, n, opt ? opt : &defaults, per_band, multi,
                             power, &s);
    ssi_scratch_free(&s);
    return rc;
}

int ss_features_periodogram(const double *t, const double *y, const double *e, const int *band,
                            int nbands, size_t n, const ss_features_options *opt, ss_period *out,
                            double *power)
{
    return pg_public(t, y, e, band, nbands, n, opt, NULL, out, power);
}

int ss_features_periodogram_bands(const double *t, const double *y, const double *e,
                                  const int *band, int nbands, size_t n,
                                  const ss_features_options *opt, ss_period *per_band,
                                  ss_period *multi)
{
    if (!per_band || !band)
        return SS_EINVAL;
    return pg_public(t, y, e, band, nbands, n, opt, per_band, multi, NULL);
}

void *ssi_scratch_get(ssi_scratch *s, size_t bytes, size_t zero)
{
    if (bytes > s->cap) {
        size_t cap = (bytes + 63) / 64 * 64;
        void *p = aligned_alloc(64, cap);
        if (!p)
            return NULL;
        free(s->p);
        *s = (ssi_scratch){p, cap, 0};
    }
    if (zero > s->zero) {
        memset((char *)s->p + s->zero, 0, zero - s->zero);
        s->zero = zero;
    }
    return s->p;
}

void ssi_scratch_free(ssi_scratch *s)
{
    free(s->p);
    *s = (ssi_scratch){0};
}
