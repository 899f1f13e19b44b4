/*
 * A type-1 non-uniform FFT: F(m) = sum_j c_j exp(i m x_j) for every mode m in [-M/2, M/2) of
 * points x_j in [0, 2 pi), in O(n + M log M) instead of O(n M). The periodogram's fast path uses
 * it to get the trigonometric sums of a whole frequency grid at once (periodogram.c).
 *
 * Gaussian gridding (Greengard & Lee 2004, "Accelerating the nonuniform FFT", SIAM Review 46):
 * each point is spread onto an R-times oversampled regular grid by a Gaussian truncated to
 * SPREAD grid points on each side, the grid goes through FFTW, and each mode is divided by the
 * Gaussian's Fourier transform. The error bound falls as exp(-pi SPREAD (R - 1) / (R - 1/2))
 * relative to sum |c_j|: with R = 2 and SPREAD = 8, about 5e-8. The Gaussian's exponentials are
 * factored so that a point costs two exp() calls whatever SPREAD is ("fast Gaussian gridding").
 *
 * The grid and its transform are single precision: 1e-7 of sum |c_j| is the error budget anyway,
 * and a grid of 40,960 points then fits the core's 512 kB cache, which makes the transform
 * twice as fast as in double precision (0.42 against 0.77 ms for three). Each set is spread,
 * transformed and read out in turn, so that one grid's worth stays in the cache.
 *
 * FFTW's planner is not reentrant, and planning a size costs as much as transforming it (0.4 ms
 * for 40,960 points), so plans are made once per grid size, under a lock, and kept for the
 * process in a small table; FFTW's own planner lock (fftwf_make_planner_thread_safe) also covers
 * the other copies of this static library that filters loaded in the same process link.
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
#define NUFFT_PLANS  32

/* One grid size's plan and tables; freed only at exit or unload, so a pointer handed out stays
 * valid while the plan is in use by another thread. */
typedef struct nufft_plan {
    size_t g;                    /* grid points */
    fftwf_plan plan;             /* one transform of g points, in place */
    double tau;                  /* the Gaussian's width parameter */
    double e3[2 * NUFFT_SPREAD]; /* exp(-(p h)^2 / (4 tau)), p = -SPREAD+1 .. SPREAD */
} nufft_plan;

static pthread_mutex_t nufft_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t nufft_once = PTHREAD_ONCE_INIT;
static nufft_plan *nufft_plans[NUFFT_PLANS];

static void nufft_init(void)
{
    fftwf_make_planner_thread_safe();
}

static void nufft_plan_free(nufft_plan *p)
{
    fftwf_destroy_plan(p->plan);
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

static nufft_plan *nufft_plan_new(size_t g)
{
    if (g > INT_MAX) /* FFTW takes an int; a grid this long is out of memory anyway */
        return NULL;
    nufft_plan *p = calloc(1, sizeof *p);
    fftwf_complex *a = fftwf_alloc_complex(g);
    if (!p || !a) {
        free(p);
        fftwf_free(a);
        return NULL;
    }
    p->plan = fftwf_plan_dft_1d((int)g, a, a, FFTW_BACKWARD, FFTW_ESTIMATE);
    fftwf_free(a);
    if (!p->plan) {
        free(p);
        return NULL;
    }
    double m = (double)g / NUFFT_R, h = 2 * M_PI / (double)g;
    p->g = g;
    p->tau = M_PI * NUFFT_SPREAD / (m * m * NUFFT_R * (NUFFT_R - 0.5));
    for (int k = 0; k < 2 * NUFFT_SPREAD; k++) {
        double ph = (k - NUFFT_SPREAD + 1) * h;
        p->e3[k] = exp(-ph * ph / (4 * p->tau));
    }
    return p;
}

/* The plan for grid size @p g, made on first use. @return NULL when out of memory; a plan the
 * table had no room for is the caller's to free (@p owned set). */
static nufft_plan *nufft_plan_get(size_t g, int *owned)
{
    pthread_once(&nufft_once, nufft_init);
    pthread_mutex_lock(&nufft_lock);
    nufft_plan *p = NULL;
    int i = 0;
    for (; i < NUFFT_PLANS && nufft_plans[i]; i++)
        if (nufft_plans[i]->g == g)
            p = nufft_plans[i];
    if (!p) {
        p = nufft_plan_new(g);
        *owned = p && i == NUFFT_PLANS;
        if (p && i < NUFFT_PLANS)
            nufft_plans[i] = p;
    }
    pthread_mutex_unlock(&nufft_lock);
    return p;
}

/* Adds strength @p c at point @p x (in [0, 2 pi)) onto the grid with the truncated Gaussian:
 * exp(-(d - p h)^2 / 4 tau) = e1 e2^p e3[p] for grid point l0 + p, d = x - l0 h. */
static void nufft_spread(const nufft_plan *p, double x, double complex c, float complex *grid)
{
    double h = 2 * M_PI / (double)p->g;
    long g = (long)p->g, l0 = (long)floor(x / h);
    if (l0 >= g) /* x a rounding short of 2 pi */
        l0 = g - 1;
    double d = x - (double)l0 * h;
    double e1 = exp(-d * d / (4 * p->tau)), e2 = exp(d * h / (2 * p->tau)), inv = 1 / e2;
    double up = e1 * e2, down = e1; /* p = 1, 2, ... SPREAD and p = 0, -1, ... -SPREAD+1 */
    const double *e3 = p->e3 + NUFFT_SPREAD - 1;
    for (long k = 0; k < NUFFT_SPREAD; k++) {
        long at = l0 + k + 1, below = l0 - k;
        grid[at >= g ? at - g : at] += (float complex)(c * (up * e3[k + 1]));
        grid[below < 0 ? below + g : below] += (float complex)(c * (down * e3[-k]));
        up *= e2;
        down *= inv;
    }
}

/* Mode k's value: the grid's transform divided by the Gaussian's, sqrt(tau / pi) exp(-tau k^2),
 * and by g; exp(tau k^2) stepped by its ratio from one k to the next. */
static void nufft_deconvolve(const nufft_plan *p, const float complex *grid, size_t m,
                             double complex *out)
{
    size_t g = p->g;
    long half = (long)(m / 2);
    double e = sqrt(M_PI / p->tau) / (double)g * exp(p->tau * (double)half * (double)half);
    double r = exp(p->tau * (double)(1 - 2 * half)), step = exp(2 * p->tau);
    for (long k = -half; k < (long)m - half; k++) {
        out[k + half] = e * (double complex)grid[k < 0 ? k + (long)g : k];
        e *= r;
        r *= step;
    }
}

int ssi_nufft1(const ssi_nufft_set *sets, size_t m, double complex *out)
{
    int owned = 0;
    nufft_plan *p = nufft_plan_get(ssi_nufft_grid(m), &owned);
    if (!p)
        return SS_ENOMEM;
    size_t g = p->g;
    float complex *grid = (float complex *)fftwf_alloc_complex(g);
    for (int s = 0; grid && s < SSI_NUFFT_SETS; s++) {
        memset(grid, 0, g * sizeof *grid);
        for (size_t j = 0; j < sets[s].n; j++)
            nufft_spread(p, sets[s].x[j], sets[s].c[j], grid);
        fftwf_execute_dft(p->plan, (fftwf_complex *)grid, (fftwf_complex *)grid);
        nufft_deconvolve(p, grid, m, out + (size_t)s * m);
    }
    fftwf_free(grid);
    if (owned)
        nufft_plan_free(p);
    return grid ? 0 : SS_ENOMEM;
}
