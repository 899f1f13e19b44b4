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

/* One band's points, with weights normalised to sum 1 and the data centred on their mean. */
typedef struct pg_band {
    size_t first, n; /* into the per-point arrays, which are grouped by band */
    double wsum;     /* the weights' sum before normalising: the band's share of chi^2 */
    double yy;       /* weighted variance of y */
} pg_band;

typedef struct pg_work {
    double *w, *wy, *c, *s, *cd, *sd; /* per point */
    pg_band band[PG_MAX_BANDS];
    int nbands;
} pg_work;

/* The chi^2 the best sinusoid removes, over the band's weighted variance's scale, from its sums
 * (weights summing to 1, y centred, so the mean's terms of YC and YS vanish). */
static double pg_reduction(double C, double S, double YC, double YS, double CC, double CS)
{
    double SS = (1 - CC) - S * S;
    CC -= C * C;
    CS -= C * S;
    double D = CC * SS - CS * CS;
    return D > 0 ? (SS * YC * YC + CC * YS * YS - 2 * CS * YC * YS) / D : 0;
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

/* Weights, centred data and per-band sums; @p order lists the points grouped by band. */
static void pg_prepare(pg_work *k, const double *y, const double *e, const size_t *order,
                       const int *band, int nbands, size_t n)
{
    k->nbands = nbands;
    size_t at = 0;
    for (int b = 0; b < nbands; b++) {
        pg_band *pb = &k->band[b];
        pb->first = at;
        double wsum = 0, wy = 0;
        while (at < n && (band ? band[order[at]] : 0) == b) {
            size_t i = order[at];
            k->w[at] = 1.0 / (e[i] * e[i]);
            wsum += k->w[at];
            wy += k->w[at] * y[i];
            at++;
        }
        pb->n = at - pb->first;
        pb->wsum = wsum;
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

/* The grid: first frequency, step and length. @return 0 when there is no grid. */
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
    return nf;
}

/* Baluev's (2008) false-alarm probability of power z (astropy's fap_baluev, "standard"). */
static double pg_fap(double z, double fmax, const double *t, const double *e, size_t n, int dh,
                     int dk)
{
    double nh = (double)n - dh, nk = (double)n - dk;
    if (nk <= 0 || nh <= 1 || !(z >= 0) || z >= 1)
        return z >= 1 ? 0 : NAN;
    double sw = 0, swt = 0, var_t = 0;
    for (size_t i = 0; i < n; i++) {
        sw += 1.0 / (e[i] * e[i]);
        swt += t[i] / (e[i] * e[i]);
    }
    for (size_t i = 0; i < n; i++) /* two passes: MJDs squared would lose the variance */
        var_t += (t[i] - swt / sw) * (t[i] - swt / sw) / (e[i] * e[i]) / sw;
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

/* Phases at the first frequency and the rotation of one step, per grouped point. */
static void pg_phases(pg_work *k, const double *t, const size_t *order, size_t n, double t0,
                      double f0, double df)
{
    for (size_t j = 0; j < n; j++) {
        double dt = t[order[j]] - t0;
        k->c[j] = cos(2 * M_PI * f0 * dt);
        k->s[j] = sin(2 * M_PI * f0 * dt);
        k->cd[j] = cos(2 * M_PI * df * dt);
        k->sd[j] = sin(2 * M_PI * df * dt);
    }
}

/* The power at the current phases (chi^2 removed over chi^2 of the means, all bands), stepping
 * the phases to the next frequency. */
static double pg_power_now(pg_work *k)
{
    double removed = 0, total = 0;
    for (int b = 0; b < k->nbands; b++) {
        double red, yy = pg_band_power(k, &k->band[b], &red);
        removed += k->band[b].wsum * red;
        total += k->band[b].wsum * yy;
    }
    return total > 0 ? removed / total : 0;
}

static void pg_scan(pg_work *k, size_t nf, double f0, double df, ss_period *out, double *power)
{
    size_t best = 0;
    double pbest = -1;
    for (size_t f = 0; f < nf; f++) {
        double p = pg_power_now(k);
        if (power)
            power[f] = p;
        if (p > pbest) {
            pbest = p;
            best = f;
        }
    }
    out->period = 1.0 / (f0 + (double)best * df);
    out->power = pbest;
}

/* The points' positions and strengths for the three transforms of the grid centred on fc:
 * theta = 2 pi (fc + m df) tau = 2 pi fc tau + m x, x = 2 pi df tau (mod 2 pi). */
static void pg_fast_inputs(const pg_work *k, const double *t, const size_t *order, size_t n,
                           double t0, double fc, double df, double *x, double complex *c)
{
    for (size_t j = 0; j < n; j++) {
        double tau = t[order[j]] - t0, a = 2 * M_PI * fmod(fc * tau, 1.0);
        double complex c1 = cexp(I * a), c2 = c1 * c1;
        x[j] = 2 * M_PI * fmod(df * tau, 1.0);
        x[n + j] = 2 * M_PI * fmod(2 * df * tau, 1.0);
        c[j] = k->wy[j] * c1;
        c[n + j] = k->w[j] * c1;
        c[2 * n + j] = k->w[j] * c2;
    }
}

/* Adds each frequency's chi^2 removed in band @p b to @p removed, from its sums z (nufft.c). */
static void pg_fast_band(const pg_band *b, const double complex *z, size_t nf, double *removed)
{
    const double complex *zy = z, *z1 = z + nf, *z2 = z + 2 * nf;
    for (size_t f = 0; f < nf; f++) {
        double red = pg_reduction(creal(z1[f]), cimag(z1[f]), creal(zy[f]), cimag(zy[f]),
                                  0.5 * (1 + creal(z2[f])), 0.5 * cimag(z2[f]));
        removed[f] += b->wsum * red;
    }
}

/* Every frequency's power from the non-uniform FFTs, into @p power (nf values). */
static int pg_fast_powers(const pg_work *k, const double *t, const size_t *order, size_t n,
                          double t0, double f0, double df, size_t nf, double *power)
{
    double *x = malloc(n * (2 * sizeof *x + 3 * sizeof(double complex)));
    double complex *z = malloc(3 * nf * sizeof *z);
    int rc = x && z ? 0 : SS_ENOMEM;
    double complex *c = (double complex *)(x + 2 * n);
    if (!rc)
        pg_fast_inputs(k, t, order, n, t0, f0 + (double)(nf / 2) * df, df, x, c);
    memset(power, 0, nf * sizeof *power);
    double total = 0;
    for (int b = 0; b < k->nbands && !rc; b++) {
        const pg_band *pb = &k->band[b];
        ssi_nufft_set sets[SSI_NUFFT_SETS] = {{x + pb->first, c + pb->first, pb->n},
                                              {x + pb->first, c + n + pb->first, pb->n},
                                              {x + n + pb->first, c + 2 * n + pb->first, pb->n}};
        rc = pb->n ? ssi_nufft1(sets, nf, z) : 0;
        if (!rc && pb->n)
            pg_fast_band(pb, z, nf, power);
        total += pb->wsum * pb->yy;
    }
    double scale = total > 0 ? 1 / total : 0;
    for (size_t f = 0; f < nf && !rc; f++) { /* clamped: rounding may step past 0 or 1 */
        double v = power[f] * scale;
        power[f] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    free(x);
    free(z);
    return rc;
}

#define PG_REFINE     4    /* peaks recomputed exactly, at most */
#define PG_FAST_ERROR 1e-5 /* bound on the transforms' error in power (measured: 2e-7) */

/* Recomputes the powers at @p at and its neighbours point by point; the highest so far in @p best
 * and @p pbest. */
static void pg_refine(pg_work *k, const double *t, const size_t *order, size_t n, double t0,
                      double f0, double df, size_t nf, size_t at, double *p, size_t *best,
                      double *pbest)
{
    size_t from = at ? at - 1 : 0, to = at + 1 < nf ? at + 1 : at;
    pg_phases(k, t, order, n, t0, f0 + (double)from * df, df);
    for (size_t f = from; f <= to; f++) {
        p[f] = pg_power_now(k);
        if (p[f] > *pbest)
            *pbest = p[f], *best = f;
    }
}

/* FAST: the grid's powers from the transforms, then the highest peak and its neighbours
 * recomputed point by point, and so every other peak within the transforms' error of it (one of
 * them may be the exact highest); the answer is the highest recomputed. */
static int pg_scan_fast(pg_work *k, const double *t, const size_t *order, size_t n, double t0,
                        double f0, double df, size_t nf, ss_period *out, double *power)
{
    double *own = power ? NULL : malloc(nf * sizeof *own), *p = power ? power : own;
    int rc = p ? pg_fast_powers(k, t, order, n, t0, f0, df, nf, p) : SS_ENOMEM;
    if (rc) {
        free(own);
        return rc;
    }
    size_t top = 0, best = 0;
    for (size_t f = 1; f < nf; f++)
        if (p[f] > p[top])
            top = f;
    double pbest = -1, near = p[top] - PG_FAST_ERROR;
    pg_refine(k, t, order, n, t0, f0, df, nf, top, p, &best, &pbest);
    for (size_t f = 0, done = 1; f < nf && done < PG_REFINE; f++)
        if (p[f] > near && (f + 1 < top || f > top + 1) && (f == 0 || p[f - 1] <= p[f]) &&
            (f + 1 == nf || p[f + 1] <= p[f])) {
            pg_refine(k, t, order, n, t0, f0, df, nf, f, p, &best, &pbest);
            done++;
        }
    out->period = 1.0 / (f0 + (double)best * df);
    out->power = pbest;
    free(own);
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

int ss_features_periodogram(const double *t, const double *y, const double *e, const int *band,
                            int nbands, size_t n, const ss_features_options *opt, ss_period *out,
                            double *power)
{
    ss_features_options defaults = SS_FEATURES_OPTIONS_INIT;
    const ss_features_options *o = opt ? opt : &defaults;
    if (!t || !y || !e || !out || (band && (nbands < 1 || nbands > PG_MAX_BANDS)))
        return SS_EINVAL;
    *out = (ss_period){NAN, NAN, NAN, 0};
    nbands = band ? nbands : 1;
    double tmin = INFINITY, tmax = -INFINITY, f0 = 0, df = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(t[i]) || !isfinite(y[i]) || !(e[i] > 0) || !isfinite(e[i]))
            return SS_EINVAL; /* a NaN makes every power NaN, and no place on the FFT grid */
        tmin = fmin(tmin, t[i]);
        tmax = fmax(tmax, t[i]);
    }
    size_t nf = n >= 3 ? pg_grid(tmax - tmin, o, &f0, &df) : 0;
    if (nf == 0)
        return 0;
    pg_work k = {0};
    size_t *order = malloc(n * (sizeof *order + 6 * sizeof(double)));
    if (!order)
        return SS_ENOMEM;
    double *d = (double *)(order + n);
    k.w = d, k.wy = d + n, k.c = d + 2 * n, k.s = d + 3 * n, k.cd = d + 4 * n, k.sd = d + 5 * n;
    if (pg_order(band, nbands, n, order)) {
        free(order);
        return SS_EINVAL;
    }
    pg_prepare(&k, y, e, order, band, nbands, n);
    int rc = 0;
    if (pg_fast(o, n)) {
        rc = pg_scan_fast(&k, t, order, n, tmin, f0, df, nf, out, power);
    } else {
        pg_phases(&k, t, order, n, tmin, f0, df);
        pg_scan(&k, nf, f0, df, out, power);
    }
    if (rc) {
        free(order);
        return rc;
    }
    out->frequencies = nf;
    out->fap = pg_fap(out->power, f0 + (double)(nf - 1) * df, t, e, n, nbands, 3 * nbands);
    free(order);
    return 0;
}
