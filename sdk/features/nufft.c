/*
 * A type-1 non-uniform FFT: F(k) = sum_j c_j exp(i k x_j) for every mode k in [-M/2, M/2) of
 * points x_j in [0, 2 pi), in O(n + M log M) instead of O(n M). The periodogram's fast path uses
 * it to get the trigonometric sums of a whole frequency grid at once (periodogram.c).
 *
 * Gaussian gridding (Greengard & Lee 2004, "Accelerating the nonuniform FFT", SIAM Review 46):
 * each point is spread onto an R-times oversampled regular grid by a Gaussian truncated to
 * SPREAD grid points on each side, the grid goes through FFTW, and each mode is divided by the
 * Gaussian's Fourier transform. The error bound falls as exp(-pi SPREAD (R - 1) / (R - 1/2))
 * relative to sum |c_j|: with R = 2 and SPREAD = 8, about 5e-8. The Gaussian's exponentials are
 * factored so that a point costs two exp() calls whatever SPREAD is ("fast Gaussian gridding"),
 * and sets that share their points' positions share the weights too.
 *
 * The grid and its transform are single precision: 1e-7 of sum |c_j| is the error budget anyway,
 * and the transform is twice as fast as in double precision. R stays 2 because of it: the
 * division by the Gaussian's transform magnifies the grid's rounding at the outermost modes by
 * exp(pi SPREAD / (4 R (R - 1/2))), 8 here but 180 at R = 1.5 for the same accuracy.
 *
 * The caller reads the modes from the transformed grid through a table of the Gaussian's
 * inverse transform (ssi_nufft_scale), in its own pass: the periodogram turns the three sums of a
 * frequency into a power there, without writing them out first.
 *
 * FFTW's planner is not reentrant, and planning a size costs as much as transforming it (0.4 ms
 * for 40,960 points), so plans are made once per grid size, under a lock, and kept for the
 * process in a small table; FFTW's own planner lock (fftwf_make_planner_thread_safe) also covers
 * the other copies of this static library that filters loaded in the same process link. Plans
 * are measured by FFTW's estimate, not by timing: FFTW_MEASURE finds transforms a quarter to a
 * third faster here but spends about a second planning each size.
 */
#include "features_impl.h"

#include <complex.h>
#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NUFFT_R      2.0
#define NUFFT_SPREAD 8
#define NUFFT_PLANS  64

/* One grid size's plan and tables; freed only at exit or unload (or, for a plan the table had
 * no room for, by ssi_nufft_release), so a pointer handed out stays valid while in use. */
struct ssi_nufft {
    size_t g;                    /* grid points */
    fftwf_plan plan;             /* one transform of g points, out of place */
    double tau;                  /* the Gaussian's width parameter */
    double e3[2 * NUFFT_SPREAD]; /* exp(-(p h)^2 / (4 tau)), p = -SPREAD+1 .. SPREAD */
    double *scale;               /* 1 / the Gaussian's transform / g, modes -g/4 .. g/4 */
    int cached;                  /* in the table: never freed by release */
};

static pthread_mutex_t nufft_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t nufft_once = PTHREAD_ONCE_INIT;
static ssi_nufft *nufft_plans[NUFFT_PLANS];

static void nufft_init(void)
{
    fftwf_make_planner_thread_safe();
}

static void nufft_plan_free(ssi_nufft *p)
{
    if (p->plan)
        fftwf_destroy_plan(p->plan);
    free(p->scale);
    free(p);
}

/* Releases the plans when the program ends or a filter linking this library is unloaded. */
__attribute__((destructor)) static void nufft_fini(void)
{
    for (int i = 0; i < NUFFT_PLANS && nufft_plans[i]; i++) {
        nufft_plan_free(nufft_plans[i]);
        nufft_plans[i] = NULL;
    }
}

/* The grid size for @p m modes: R m rounded up to 2^a x {1, 5/4, 3/2, 7/4}, sizes FFTW does fast,
 * few enough that the plan table covers every light curve's grid. */
size_t ssi_nufft_grid(size_t m)
{
    double want = NUFFT_R * (double)m;
    for (size_t p = 16;; p *= 2)
        for (size_t q = 4; q < 8; q++)
            if ((double)(p * q / 4) >= want)
                return p * q / 4;
}

/* The Gaussian's width and the tables that depend on the grid size alone. */
static void nufft_tables(ssi_nufft *p)
{
    size_t g = p->g, q = g / 4;
    double m = (double)g / NUFFT_R, h = 2 * M_PI / (double)g;
    p->tau = M_PI * NUFFT_SPREAD / (m * m * NUFFT_R * (NUFFT_R - 0.5));
    for (int k = 0; k < 2 * NUFFT_SPREAD; k++) {
        double ph = (k - NUFFT_SPREAD + 1) * h;
        p->e3[k] = exp(-ph * ph / (4 * p->tau));
    }
    double c = sqrt(M_PI / p->tau) / (double)g;
    for (size_t k = 0; k <= q; k++) /* F(k) = grid(k) sqrt(pi / tau) exp(tau k^2) / g */
        p->scale[q + k] = p->scale[q - k] = c * exp(p->tau * (double)k * (double)k);
}

static ssi_nufft *nufft_plan_new(size_t g)
{
    if (g > INT_MAX) /* FFTW takes an int; a grid this long is out of memory anyway */
        return NULL;
    ssi_nufft *p = calloc(1, sizeof *p);
    fftwf_complex *a = fftwf_alloc_complex(g), *b = fftwf_alloc_complex(g);
    if (p)
        p->scale = malloc((g / 2 + 1) * sizeof *p->scale);
    if (p && p->scale && a && b)
        p->plan = fftwf_plan_dft_1d((int)g, a, b, FFTW_BACKWARD, FFTW_ESTIMATE);
    fftwf_free(a);
    fftwf_free(b);
    if (!p || !p->plan) {
        if (p)
            nufft_plan_free(p);
        return NULL;
    }
    p->g = g;
    nufft_tables(p);
    return p;
}

ssi_nufft *ssi_nufft_acquire(size_t m)
{
    size_t g = ssi_nufft_grid(m);
    pthread_once(&nufft_once, nufft_init);
    pthread_mutex_lock(&nufft_lock);
    ssi_nufft *p = NULL;
    int i = 0;
    for (; i < NUFFT_PLANS && nufft_plans[i]; i++)
        if (nufft_plans[i]->g == g)
            p = nufft_plans[i];
    if (!p) {
        p = nufft_plan_new(g);
        if (p && i < NUFFT_PLANS) {
            p->cached = 1;
            nufft_plans[i] = p;
        }
    }
    pthread_mutex_unlock(&nufft_lock);
    return p;
}

void ssi_nufft_release(ssi_nufft *p)
{
    if (p && !p->cached) {
        pthread_mutex_lock(&nufft_lock); /* destroying a plan is planner work */
        nufft_plan_free(p);
        pthread_mutex_unlock(&nufft_lock);
    }
}

size_t ssi_nufft_size(const ssi_nufft *p)
{
    return p->g;
}

const double *ssi_nufft_scale(const ssi_nufft *p)
{
    return p->scale + p->g / 4;
}

/* The truncated Gaussian's weights at grid points l0 - SPREAD + 1 .. l0 + SPREAD for a point at
 * @p x (in [0, 2 pi)): exp(-(d - p h)^2 / 4 tau) = e1 e2^p e3[p], d = x - l0 h. @return l0. */
static long nufft_weights(const ssi_nufft *p, double x, float *w)
{
    double h = 2 * M_PI / (double)p->g;
    long g = (long)p->g, l0 = (long)floor(x / h);
    if (l0 >= g) /* x a rounding short of 2 pi */
        l0 = g - 1;
    double d = x - (double)l0 * h;
    double e1 = exp(-d * d / (4 * p->tau)), e2 = exp(d * h / (2 * p->tau)), inv = 1 / e2;
    double up = e1 * e2, down = e1; /* p = 1, 2, ... SPREAD and p = 0, -1, ... -SPREAD+1 */
    for (int k = 0; k < NUFFT_SPREAD; k++) {
        w[NUFFT_SPREAD + k] = (float)(up * p->e3[NUFFT_SPREAD + k]);
        w[NUFFT_SPREAD - 1 - k] = (float)(down * p->e3[NUFFT_SPREAD - 1 - k]);
        up *= e2;
        down *= inv;
    }
    return l0;
}

/* Adds c w onto the grid from point @p first on (wrapping). */
static void nufft_add(float complex *grid, long g, long first, const float *w, double complex c)
{
    float complex cf = (float complex)c;
    if (first >= 0 && first + 2 * NUFFT_SPREAD <= g) {
        float complex *at = grid + first;
        for (int k = 0; k < 2 * NUFFT_SPREAD; k++)
            at[k] += cf * w[k];
        return;
    }
    for (int k = 0; k < 2 * NUFFT_SPREAD; k++) {
        long at = (first + k) % g;
        grid[at < 0 ? at + g : at] += cf * w[k];
    }
}

/* The grid points the spreading touched, back to zero: [lo, hi] before wrapping. */
static void nufft_clear(float complex *in, long g, long lo, long hi)
{
    if (hi - lo + 1 >= g) {
        memset(in, 0, (size_t)g * sizeof *in);
        return;
    }
    for (long a = lo; a <= hi;) { /* at most two runs, one at each end of the grid */
        long at = ((a % g) + g) % g, run = hi - a + 1 < g - at ? hi - a + 1 : g - at;
        memset(in + at, 0, (size_t)run * sizeof *in);
        a += run;
    }
}

void ssi_nufft_transform(const ssi_nufft *p, const ssi_nufft_set *sets, int nsets,
                         float complex *in, float complex *out)
{
    long g = (long)p->g;
    float w[2 * NUFFT_SPREAD];
    for (int s = 0; s < nsets; s++) {
        if (s > 0 && sets[s].x == sets[s - 1].x)
            continue; /* spread with the set before it */
        int with_next = s + 1 < nsets && sets[s + 1].x == sets[s].x;
        long lo = LONG_MAX, hi = LONG_MIN;
        for (size_t j = 0; j < sets[s].n; j++) {
            long first = nufft_weights(p, sets[s].x[j], w) - NUFFT_SPREAD + 1;
            nufft_add(in, g, first, w, sets[s].c[j]);
            lo = first < lo ? first : lo;
            hi = first > hi ? first : hi;
            if (with_next)
                nufft_add(in + g, g, first, w, sets[s + 1].c[j]);
        }
        for (int t = s; t <= s + with_next; t++) {
            float complex *grid = in + (size_t)(t - s) * (size_t)g;
            fftwf_execute_dft(p->plan, (fftwf_complex *)grid,
                              (fftwf_complex *)(out + (size_t)t * (size_t)g));
            if (sets[s].n)
                nufft_clear(grid, g, lo, hi + 2 * NUFFT_SPREAD - 1);
        }
    }
}

void ssi_nufft_transform_doubled(const ssi_nufft *p, const ssi_nufft *half,
                                 const ssi_nufft_set *sets, float complex *in, float complex *out)
{
    long g = (long)p->g, g2 = (long)half->g;
    float w[2 * NUFFT_SPREAD];
    long lo = LONG_MAX, hi = LONG_MIN;
    /* a point at x spreads onto grid points l0 - SPREAD + 1 .. l0 + SPREAD of g with weights
     * exp(-(d - p h)^2 / 4 tau); at 2x on a grid of g / 2 points, h and d double and tau
     * quadruples, so the weights are the same and the points are l0 .. modulo g / 2 */
    for (size_t j = 0; j < sets[0].n; j++) {
        long first = nufft_weights(p, sets[0].x[j], w) - NUFFT_SPREAD + 1;
        nufft_add(in, g, first, w, sets[0].c[j]);
        nufft_add(in + g, g, first, w, sets[1].c[j]);
        nufft_add(in + 2 * g, g2, first % g2, w, sets[2].c[j]);
        lo = first < lo ? first : lo;
        hi = first > hi ? first : hi;
    }
    for (int t = 0; t < 3; t++) {
        const ssi_nufft *q = t < 2 ? p : half;
        float complex *grid = in + (size_t)t * (size_t)g;
        fftwf_execute_dft(q->plan, (fftwf_complex *)grid,
                          (fftwf_complex *)(out + (size_t)t * (size_t)g));
        if (sets[0].n) /* the same points, modulo the grid's length */
            nufft_clear(grid, (long)q->g, lo, hi + 2 * NUFFT_SPREAD - 1);
    }
}
