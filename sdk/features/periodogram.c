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
        k->c[j] = cos(2 * M_PI * k->f0 * dt);
        k->s[j] = sin(2 * M_PI * k->f0 * dt);
        k->cd[j] = cos(2 * M_PI * k->df * dt);
        k->sd[j] = sin(2 * M_PI * k->df * dt);
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
            bands[b] = yy > 0 ? red / yy : 0;
    }
    return total > 0 ? removed / total : 0;
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

/* The points' positions and strengths for the three transforms of the grid centred on fc:
 * theta = 2 pi (fc + m df) tau = 2 pi fc tau + m x, x = 2 pi df tau (mod 2 pi). Each product
 * is reduced to its fraction first (exactly: x - floor(x)), so that no phase is a large angle. */
static void pg_fast_inputs(const pg_work *k, double fc, double *x, double complex *c)
{
    size_t n = k->n;
    for (size_t j = 0; j < n; j++) {
        double tau = k->t[k->order[j]] - k->t0, a = fc * tau, u = k->df * tau, v = 2 * u;
        double sn, cs;
        sincos(2 * M_PI * (a - floor(a)), &sn, &cs);
        double complex c1 = CMPLX(cs, sn), c2 = c1 * c1;
        x[j] = 2 * M_PI * (u - floor(u));
        x[n + j] = 2 * M_PI * (v - floor(v));
        c[j] = k->wy[j] * c1;
        c[n + j] = k->w[j] * c1;
        c[2 * n + j] = k->w[j] * c2;
    }
}

/* Frequencies [0, len) of a band from its three transformed grids gy, g1, g2 (interleaved re, im)
 * and the modes' scale: each one's chi^2 removed added to @p removed, the band's own power
 * (clamped: rounding may step past 0 or 1) into @p own. */
static inline __attribute__((always_inline)) void
pg_fast_run_body(const pg_band *b, const float *gy, const float *g1, const float *g2,
                 const double *sc, size_t len, double *removed, double *own)
{
    double inv = b->yy > 0 ? 1 / b->yy : 0, wsum = b->wsum;
#pragma omp simd
    for (size_t j = 0; j < len; j++) {
        double s = sc[j];
        double red =
            pg_reduction(s * g1[2 * j], s * g1[2 * j + 1], s * gy[2 * j], s * gy[2 * j + 1],
                         0.5 * (1 + s * g2[2 * j]), 0.5 * s * g2[2 * j + 1]);
        removed[j] += wsum * red;
        double v = red * inv;
        own[j] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
}

/* The same loop compiled for AVX2 and FMA, which x86-64's baseline lacks: four frequencies a
 * step instead of two. It is a fifth of a 1,000-point periodogram's time; the choice is made at
 * run time, so the library still runs on any x86-64. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2,fma"))) static void pg_fast_run_avx2(const pg_band *b, const float *gy,
                                                                 const float *g1, const float *g2,
                                                                 const double *sc, size_t len,
                                                                 double *removed, double *own)
{
    pg_fast_run_body(b, gy, g1, g2, sc, len, removed, own);
}
#define PG_AVX2 1
#endif

static void pg_fast_run(const pg_band *b, const float *gy, const float *g1, const float *g2,
                        const double *sc, size_t len, double *removed, double *own)
{
#ifdef PG_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        pg_fast_run_avx2(b, gy, g1, g2, sc, len, removed, own);
        return;
    }
#endif
    pg_fast_run_body(b, gy, g1, g2, sc, len, removed, own);
}

/* A band's frequencies from its transforms (ssi_nufft_transform into @p out, g points each):
 * frequency i is mode i - nf/2, whose grid point wraps below 0. */
static void pg_fast_band(const pg_band *b, const float complex *out, size_t g, const double *scale,
                         size_t nf, double *removed, double *own)
{
    size_t half = nf / 2;
    const float *o = (const float *)out, *gy = o, *g1 = o + 2 * g, *g2 = o + 4 * g;
    size_t neg = 2 * (g - half); /* the first frequency's grid point, in floats */
    pg_fast_run(b, gy + neg, g1 + neg, g2 + neg, scale - half, half, removed, own);
    pg_fast_run(b, gy, g1, g2, scale, nf - half, removed + half, own + half);
}

#define PG_REFINE     4    /* peaks recomputed exactly, at most */
#define PG_FAST_ERROR 1e-5 /* bound on the transforms' error in power (measured: 2e-7) */

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
        sincos(2 * M_PI * freq * dt, &s, &c);
        sincos(2 * M_PI * k->df * dt, &sd, &cd);
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
        p[f] = total > 0 ? removed[f - from] / total : 0;
        if (p[f] > best->p)
            *best = (pg_peak){f, p[f]};
    }
}

/* The highest of p[0..n) (vectorised: no NaN reaches here). */
static double pg_max(const double *p, size_t n)
{
    double m = -1;
#pragma omp simd reduction(max : m)
    for (size_t i = 0; i < n; i++)
        m = p[i] > m ? p[i] : m;
    return m;
}

#define PG_BLOCK 32 /* powers tested at once for one above the threshold */

/* The local maxima of p[lo..nf) within the transforms' error of the highest, at most PG_REFINE,
 * highest first, into @p at. @return how many. */
static int pg_candidates(const double *p, size_t lo, size_t nf, size_t *at)
{
    double near = pg_max(p + lo, nf - lo) - PG_FAST_ERROR, v[PG_REFINE];
    int n = 0;
    for (size_t from = lo; from < nf; from += PG_BLOCK) {
        size_t to = nf - from < PG_BLOCK ? nf : from + PG_BLOCK;
        if (!(pg_max(p + from, to - from) > near))
            continue; /* most blocks */
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

/* The transforms' highest peak of @p which in p[lo..nf) recomputed exactly with its neighbours,
 * and so every other peak within the transforms' error of it (one of them may be the exact
 * highest): the highest recomputed, into @p best. */
static void pg_pick(pg_work *k, int which, size_t lo, double *p, pg_peak *best)
{
    size_t at[PG_REFINE] = {lo};
    int n = pg_candidates(p, lo, k->nf, at);
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
    double *x, *all, *own;
    double complex *c;
    float complex *in, *out;
} pg_fast_mem;

/* Carves @p m from one block of @p s, in 64-byte aligned pieces: @p power, when given, holds the
 * multi-band powers. */
static int pg_fast_alloc(const pg_work *k, size_t g, double *power, ssi_scratch *s, pg_fast_mem *m)
{
    size_t n = k->n, nf = k->nf, total = 0;
    size_t len[] = {2 * g * sizeof *m->in, 3 * g * sizeof *m->out,          2 * n * sizeof *m->x,
                    3 * n * sizeof *m->c,  power ? 0 : nf * sizeof *m->all, nf * sizeof *m->own};
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
    m->own = piece[5];
    return 0;
}

/* Every band's transforms in turn, each band's powers read from them at once: into m->all the
 * chi^2 each frequency removes, all bands, and (@p bands) each band's best peak into best[b]. */
static void pg_fast_bands(pg_work *k, const ssi_nufft *plan, const pg_fast_mem *m, int bands,
                          pg_peak *best)
{
    size_t n = k->n, nf = k->nf, g = ssi_nufft_size(plan);
    const double *scale = ssi_nufft_scale(plan);
    for (int b = 0; b < k->nbands; b++) {
        const pg_band *pb = &k->band[b];
        if (!pb->n)
            continue;
        size_t at = pb->first;
        ssi_nufft_set sets[SSI_NUFFT_SETS] = {{m->x + at, m->c + at, pb->n},
                                              {m->x + at, m->c + n + at, pb->n},
                                              {m->x + n + at, m->c + 2 * n + at, pb->n}};
        ssi_nufft_transform(plan, sets, m->in, m->out);
        pg_fast_band(pb, m->out, g, scale, nf, m->all, m->own);
        if (bands && pb->lo < nf)
            pg_pick(k, b, pb->lo, m->own, &best[b]);
    }
}

/* FAST: every frequency's sums from three non-uniform FFTs per band, then the highest peaks
 * recomputed point by point (pg_pick): of every band's own power when @p bands (into best[b]),
 * and of all bands together (best[nbands]); the grid's multi-band powers into @p power. */
static int pg_scan_fast(pg_work *k, pg_peak *best, int bands, double *power, ssi_scratch *s)
{
    ssi_nufft *plan = ssi_nufft_acquire(k->nf);
    pg_fast_mem m;
    if (!plan || pg_fast_alloc(k, ssi_nufft_size(plan), power, s, &m)) {
        ssi_nufft_release(plan);
        return SS_ENOMEM;
    }
    size_t nf = k->nf;
    pg_fast_inputs(k, k->f0 + (double)(nf / 2) * k->df, m.x, m.c);
    memset(m.all, 0, nf * sizeof *m.all);
    pg_fast_bands(k, plan, &m, bands, best);
    ssi_nufft_release(plan);
    double total = 0;
    for (int b = 0; b < k->nbands; b++)
        total += k->band[b].wsum * k->band[b].yy;
    double scale = total > 0 ? 1 / total : 0;
    for (size_t f = 0; f < nf; f++) {
        double v = m.all[f] * scale;
        m.all[f] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    pg_pick(k, PG_ALL, 0, m.all, &best[k->nbands]);
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
