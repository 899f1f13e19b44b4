/*
 * ss_features: the catalog, and the whole set computed from a light curve as the host serves it
 * (features.h). The building blocks are in stats.c, periodogram.c and fit.c.
 */
#include "features_impl.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FT_MAX_BANDS 16
#define FT_BAND_LEN  24

/* Catalog indexes, in the catalog's order. */
enum {
    FT_N,
    FT_SPAN,
    FT_MEAN,
    FT_WEIGHTED_MEAN,
    FT_MEDIAN,
    FT_STD,
    FT_SKEW,
    FT_KURTOSIS,
    FT_MAD,
    FT_AMPLITUDE,
    FT_IPR_25_75,
    FT_IPR_10_90,
    FT_IPR_5_95,
    FT_REDUCED_CHI2,
    FT_STETSON_J,
    FT_STETSON_K,
    FT_TREND,
    FT_TREND_ERR,
    FT_MAX_RISE_RATE,
    FT_MAX_FADE_RATE,
    FT_LATEST_RATE,
    FT_LATEST_RATE_SIGMA,
    FT_PEAK_MAG,
    FT_PEAK_MJD,
    FT_RISE_TIME,
    FT_DECLINE_TIME,
    FT_COLOUR_FIRST,
    FT_COLOUR_LAST,
    FT_COLOUR_PEAK,
    FT_COLOUR_RATE,
    FT_PERIOD,
    FT_PERIOD_POWER,
    FT_PERIOD_FAP,
    FT_MULTIBAND_PERIOD,
    FT_MULTIBAND_POWER,
    FT_MULTIBAND_FAP,
    FT_BAZIN_A,
    FT_BAZIN_B,
    FT_BAZIN_T0,
    FT_BAZIN_T_RISE,
    FT_BAZIN_T_FALL,
    FT_BAZIN_CHI2,
    FT_DRW_TAU,
    FT_DRW_SIGMA,
};

/* The catalog. Order matters only in that it grows at the end (features.h). */
static const ss_feature_def ft_catalog[] = {
    {"n", "", "number of points", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"span", "d", "last minus first time", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"mean", "mag", "mean magnitude", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"weighted_mean", "mag", "mean magnitude weighted by 1/err^2", SS_FEATURE_BAND,
     SS_FEATURES_BASIC},
    {"median", "mag", "median magnitude", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"std", "mag", "standard deviation (n - 1 in the denominator)", SS_FEATURE_BAND,
     SS_FEATURES_BASIC},
    {"skew", "", "skewness, bias-corrected (scipy.stats.skew(bias=False)); n >= 3", SS_FEATURE_BAND,
     SS_FEATURES_BASIC},
    {"kurtosis", "", "excess kurtosis, bias-corrected (scipy.stats.kurtosis(bias=False)); n >= 4",
     SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"mad", "mag", "median absolute deviation from the median", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"amplitude", "mag", "half of max minus min", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"ipr_25_75", "mag", "75th minus 25th percentile (linear interpolation)", SS_FEATURE_BAND,
     SS_FEATURES_BASIC},
    {"ipr_10_90", "mag", "90th minus 10th percentile", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"ipr_5_95", "mag", "95th minus 5th percentile", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"reduced_chi2", "", "sum ((m - weighted mean) / err)^2 / (n - 1): 1 for a constant source",
     SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"stetson_j", "", "Stetson J over consecutive pairs (ss_features_stetson())", SS_FEATURE_BAND,
     SS_FEATURES_BASIC},
    {"stetson_k", "", "Stetson K: sum |d| / sqrt(n sum d^2); sqrt(2/pi) for Gaussian noise",
     SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"trend", "mag/d", "least-squares slope of magnitude against time (positive: fading)",
     SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"trend_err", "mag/d", "standard error of the slope; n >= 3", SS_FEATURE_BAND,
     SS_FEATURES_BASIC},
    {"max_rise_rate", "mag/d",
     "fastest brightening between a point and the latest one min_dt or more before it",
     SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"max_fade_rate", "mag/d", "fastest fading, the same way", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"latest_rate", "mag/d",
     "rate between the latest point and the latest one min_dt to max_dt before it (positive: "
     "fading)",
     SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"latest_rate_sigma", "", "|change| of latest_rate over its error", SS_FEATURE_BAND,
     SS_FEATURES_BASIC},
    {"peak_mag", "mag", "brightest magnitude", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"peak_mjd", "d", "time of the brightest point (MJD)", SS_FEATURE_BAND, SS_FEATURES_BASIC},
    {"rise_time", "d", "brightest point's time minus the first point's", SS_FEATURE_BAND,
     SS_FEATURES_BASIC},
    {"decline_time", "d", "last point's time minus the brightest point's", SS_FEATURE_BAND,
     SS_FEATURES_BASIC},
    {"colour_first", "mag",
     "first colour a - b: a point of a with the point of b nearest in time, at most "
     "colour_window apart",
     SS_FEATURE_COLOUR, SS_FEATURES_BASIC},
    {"colour_last", "mag", "last such colour", SS_FEATURE_COLOUR, SS_FEATURES_BASIC},
    {"colour_peak", "mag", "the colour whose point of a is the brightest paired one",
     SS_FEATURE_COLOUR, SS_FEATURES_BASIC},
    {"colour_rate", "mag/d", "(last - first colour) / (their time difference)", SS_FEATURE_COLOUR,
     SS_FEATURES_BASIC},
    {"period", "d", "period of the highest Lomb-Scargle peak", SS_FEATURE_BAND, SS_FEATURES_PERIOD},
    {"period_power", "", "its power (astropy's standard normalisation)", SS_FEATURE_BAND,
     SS_FEATURES_PERIOD},
    {"period_fap", "", "its false-alarm probability (Baluev 2008)", SS_FEATURE_BAND,
     SS_FEATURES_PERIOD},
    {"multiband_period", "d", "period of the highest multi-band Lomb-Scargle peak",
     SS_FEATURE_MULTIBAND, SS_FEATURES_PERIOD},
    {"multiband_power", "", "its power: fraction of the total chi^2 removed", SS_FEATURE_MULTIBAND,
     SS_FEATURES_PERIOD},
    {"multiband_fap", "", "Baluev's probability with 1 + 2 terms per band", SS_FEATURE_MULTIBAND,
     SS_FEATURES_PERIOD},
    {"bazin_a", "nJy", "Bazin amplitude", SS_FEATURE_BAND, SS_FEATURES_FIT},
    {"bazin_b", "nJy", "Bazin baseline", SS_FEATURE_BAND, SS_FEATURES_FIT},
    {"bazin_t0", "d", "Bazin reference time (MJD)", SS_FEATURE_BAND, SS_FEATURES_FIT},
    {"bazin_t_rise", "d", "Bazin rise time", SS_FEATURE_BAND, SS_FEATURES_FIT},
    {"bazin_t_fall", "d", "Bazin fall time", SS_FEATURE_BAND, SS_FEATURES_FIT},
    {"bazin_chi2", "", "Bazin chi^2 per degree of freedom", SS_FEATURE_BAND, SS_FEATURES_FIT},
    {"drw_tau", "d", "damped-random-walk damping time (maximum likelihood)", SS_FEATURE_BAND,
     SS_FEATURES_DRW},
    {"drw_sigma", "mag", "damped-random-walk long-term standard deviation", SS_FEATURE_BAND,
     SS_FEATURES_DRW},
};

#define FT_NCAT (sizeof ft_catalog / sizeof ft_catalog[0])

const ss_feature_def *ss_features_catalog(size_t *n)
{
    if (n)
        *n = FT_NCAT;
    return ft_catalog;
}

const char *ss_features_version(int *major, int *minor)
{
#define FT_STR2(x) #x
#define FT_STR(x)  FT_STR2(x)
    if (major)
        *major = SS_FEATURES_VERSION_MAJOR;
    if (minor)
        *minor = SS_FEATURES_VERSION_MINOR;
    return FT_STR(SS_FEATURES_VERSION_MAJOR) "." FT_STR(SS_FEATURES_VERSION_MINOR);
}

/* One band's points in time order: magnitudes, then fluxes (offsets into the shared arrays). */
typedef struct ft_band {
    char name[FT_BAND_LEN];
    size_t mag_at, nmag, flux_at, nflux;
} ft_band;

struct ss_features {
    ss_feature_value *values;
    size_t nvalues, cap_values;
    ft_band band[FT_MAX_BANDS];
    char colour_name[FT_MAX_BANDS][2 * FT_BAND_LEN + 1];
    int nbands;
    /* per point: index, then mag (t, m, e), flux (t, f, e), scratch, colour series */
    size_t *idx;
    double *buf;
    size_t cap_points;
    const ss_lc_point *points; /* during compute only */
    ssi_scratch scratch;       /* the periodogram's working memory, kept between loci */
};

ss_features *ss_features_new(void)
{
    return calloc(1, sizeof(ss_features));
}

void ss_features_free(ss_features *f)
{
    if (!f)
        return;
    free(f->values);
    free(f->idx);
    free(f->buf);
    ssi_scratch_free(&f->scratch);
    free(f);
}

size_t ss_features_count(const ss_features *f)
{
    return f ? f->nvalues : 0;
}

const ss_feature_value *ss_features_value(const ss_features *f, size_t i)
{
    return f && i < f->nvalues ? &f->values[i] : NULL;
}

double ss_features_get(const ss_features *f, const char *name, const char *band)
{
    for (size_t i = 0; f && name && band && i < f->nvalues; i++)
        if (!strcmp(f->values[i].def->name, name) && !strcmp(f->values[i].band, band))
            return f->values[i].value;
    return NAN;
}

/* ---- computing ---- */

/* Shared arrays, each cap_points long, in f->buf. */
enum { B_MT, B_MM, B_ME, B_FT, B_FV, B_FE, B_S1, B_CT, B_CY, B_CE, B_COUNT };

static double *ft_arr(const ss_features *f, int which)
{
    return f->buf + (size_t)which * f->cap_points;
}

static int ft_reserve(ss_features *f, size_t n)
{
    if (n <= f->cap_points)
        return 0;
    size_t cap = n < 64 ? 64 : n + n / 2;
    double *buf = malloc(cap * B_COUNT * sizeof *buf);
    size_t *idx = malloc(cap * (sizeof *idx + sizeof(int)));
    if (!buf || !idx) {
        free(buf);
        free(idx);
        return SS_ENOMEM;
    }
    free(f->buf);
    free(f->idx);
    f->buf = buf;
    f->idx = idx;
    f->cap_points = cap;
    return 0;
}

static int ft_push(ss_features *f, int feature, const char *band, double v)
{
    if (f->nvalues == f->cap_values) {
        size_t cap = f->cap_values ? 2 * f->cap_values : 256;
        ss_feature_value *nv = realloc(f->values, cap * sizeof *nv);
        if (!nv)
            return SS_ENOMEM;
        f->values = nv;
        f->cap_values = cap;
    }
    f->values[f->nvalues++] = (ss_feature_value){&ft_catalog[feature], band, v};
    return 0;
}

static int ft_cmp_time(const void *a, const void *b, void *arg)
{
    const ss_lc_point *p = arg;
    double x = p[*(const size_t *)a].mjd, y = p[*(const size_t *)b].mjd;
    return (x > y) - (x < y);
}

/* The band number of @p name, adding it when there is room. @return -1 when there is not. */
static int ft_band_of(ss_features *f, const char *name)
{
    name = name ? name : "";
    for (int b = 0; b < f->nbands; b++)
        if (!strcmp(f->band[b].name, name))
            return b;
    if (f->nbands == FT_MAX_BANDS || strlen(name) >= FT_BAND_LEN)
        return -1;
    ft_band *nb = &f->band[f->nbands];
    memset(nb, 0, sizeof *nb);
    strcpy(nb->name, name);
    return f->nbands++;
}

static int ft_mag_ok(const ss_lc_point *p)
{
    return isfinite(p->mjd) && isfinite(p->mag) && isfinite(p->magerr) && p->magerr > 0;
}

static int ft_flux_ok(const ss_lc_point *p)
{
    return isfinite(p->mjd) && isfinite(p->flux) && isfinite(p->fluxerr) && p->fluxerr > 0;
}

/* Splits the points (time order, f->idx) by band into the magnitude and flux arrays. */
static void ft_split(ss_features *f, const ss_lc_point *pts, size_t n, unsigned kinds)
{
    int *bandno = (int *)(f->idx + f->cap_points);
    for (size_t k = 0; k < n; k++) {
        const ss_lc_point *p = &pts[f->idx[k]];
        bandno[k] =
            (p->kind & kinds) && (ft_mag_ok(p) || ft_flux_ok(p)) ? ft_band_of(f, p->passband) : -1;
        if (bandno[k] >= 0) {
            f->band[bandno[k]].nmag += ft_mag_ok(p);
            f->band[bandno[k]].nflux += ft_flux_ok(p);
        }
    }
    size_t mag_at = 0, flux_at = 0;
    for (int b = 0; b < f->nbands; b++) {
        f->band[b].mag_at = mag_at, f->band[b].flux_at = flux_at;
        mag_at += f->band[b].nmag, flux_at += f->band[b].nflux;
        f->band[b].nmag = f->band[b].nflux = 0;
    }
    double *mt = ft_arr(f, B_MT), *mm = ft_arr(f, B_MM), *me = ft_arr(f, B_ME);
    double *ft = ft_arr(f, B_FT), *fv = ft_arr(f, B_FV), *fe = ft_arr(f, B_FE);
    for (size_t k = 0; k < n; k++) {
        if (bandno[k] < 0)
            continue;
        const ss_lc_point *p = &pts[f->idx[k]];
        ft_band *b = &f->band[bandno[k]];
        if (ft_mag_ok(p)) {
            size_t j = b->mag_at + b->nmag++;
            mt[j] = p->mjd, mm[j] = p->mag, me[j] = p->magerr;
        }
        if (ft_flux_ok(p)) {
            size_t j = b->flux_at + b->nflux++;
            ft[j] = p->mjd, fv[j] = p->flux, fe[j] = p->fluxerr;
        }
    }
}

/* Weighted mean and chi^2 per degree of freedom about it. */
static void ft_weighted(const double *m, const double *e, size_t n, double *mean, double *chi2)
{
    double sw = 0, swm = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        sw += 1 / (e[i] * e[i]);
        swm += m[i] / (e[i] * e[i]);
    }
    *mean = swm / sw;
    for (size_t i = 0; i < n; i++)
        c += (m[i] - *mean) * (m[i] - *mean) / (e[i] * e[i]);
    *chi2 = n > 1 ? c / (double)(n - 1) : NAN;
}

/* Order statistics and moments: FT_MEAN .. FT_IPR_5_95 and FT_REDUCED_CHI2. */
static int ft_distribution(ss_features *f, const char *bn, const double *m, const double *e,
                           size_t n)
{
    ss_moments mo;
    double *s = ft_arr(f, B_S1), wmean, chi2;
    ss_features_moments(m, n, s, &mo);
    ft_weighted(m, e, n, &wmean, &chi2);
    memcpy(s, m, n * sizeof *s);
    ssi_sort_doubles(s, n);
    double q[6];
    static const double at[6] = {25, 75, 10, 90, 5, 95};
    for (int i = 0; i < 6; i++)
        q[i] = ss_features_percentile(s, n, at[i]);
    double v[] = {mo.mean,     wmean,       mo.median,   mo.std,
                  mo.skew,     mo.kurtosis, mo.mad,      (mo.max - mo.min) / 2,
                  q[1] - q[0], q[3] - q[2], q[5] - q[4], chi2};
    int rc = 0;
    for (int i = 0; i < 12 && !rc; i++)
        rc = ft_push(f, FT_MEAN + i, bn, v[i]);
    return rc;
}

/* Variability and time: FT_STETSON_J .. FT_DECLINE_TIME. */
static int ft_variability(ss_features *f, const char *bn, const double *t, const double *m,
                          const double *e, size_t n, const ss_features_options *o)
{
    double j, k, slope, slope_err, rise, fade, rate, sigma;
    ss_features_stetson(m, e, n, &j, &k);
    ss_features_trend(t, m, n, &slope, &slope_err);
    ss_features_max_rates(t, m, n, o->min_dt, &rise, &fade);
    ss_features_latest_rate(t, m, e, n, o->min_dt, o->max_dt, &rate, &sigma);
    size_t peak = 0;
    for (size_t i = 1; i < n; i++)
        if (m[i] < m[peak])
            peak = i;
    double v[] = {j,    k,     slope,   slope_err, rise,           fade,
                  rate, sigma, m[peak], t[peak],   t[peak] - t[0], t[n - 1] - t[peak]};
    int rc = 0;
    for (int i = 0; i < 12 && !rc; i++)
        rc = ft_push(f, FT_STETSON_J + i, bn, v[i]);
    return rc;
}

/* The colour a - b: FT_COLOUR_FIRST .. FT_COLOUR_RATE, named "a-b" in f->colour_name[slot]. */
static int ft_colour(ss_features *f, int slot, const ft_band *a, const ft_band *b,
                     const ss_features_options *o)
{
    const double *mt = ft_arr(f, B_MT), *mm = ft_arr(f, B_MM), *me = ft_arr(f, B_ME);
    ss_series c = {0, ft_arr(f, B_CT), ft_arr(f, B_CY), ft_arr(f, B_CE)};
    ss_features_colours(mt + a->mag_at, mm + a->mag_at, me + a->mag_at, a->nmag, mt + b->mag_at,
                        mm + b->mag_at, me + b->mag_at, b->nmag, o->colour_window, &c);
    char *name = f->colour_name[slot];
    snprintf(name, sizeof f->colour_name[slot], "%s-%s", a->name, b->name);
    double first = NAN, last = NAN, at_peak = NAN, rate = NAN;
    if (c.n > 0) {
        size_t peak = 0, near = 0;
        for (size_t i = 1; i < a->nmag; i++)
            if (mm[a->mag_at + i] < mm[a->mag_at + peak])
                peak = i;
        double tp = mt[a->mag_at + peak];
        for (size_t i = 1; i < c.n; i++)
            if (fabs(c.t[i] - tp) < fabs(c.t[near] - tp))
                near = i;
        first = c.y[0], last = c.y[c.n - 1], at_peak = c.y[near];
        if (c.n > 1 && c.t[c.n - 1] > c.t[0])
            rate = (last - first) / (c.t[c.n - 1] - c.t[0]);
    }
    int rc = ft_push(f, FT_COLOUR_FIRST, name, first);
    rc = rc ? rc : ft_push(f, FT_COLOUR_LAST, name, last);
    rc = rc ? rc : ft_push(f, FT_COLOUR_PEAK, name, at_peak);
    return rc ? rc : ft_push(f, FT_COLOUR_RATE, name, rate);
}

/* Colours of neighbouring bands in the order u g r i z y, either case (others have none). */
static int ft_colours(ss_features *f, const ss_features_options *o)
{
    static const char order[] = "ugrizy";
    const ft_band *prev = NULL;
    int slot = 0, rc = 0;
    for (const char *c = order; *c && !rc; c++) {
        for (int b = 0; b < f->nbands; b++) {
            const ft_band *fb = &f->band[b];
            /* ELAsTiCC and some Rubin streams spell y as Y */
            if (tolower((unsigned char)fb->name[0]) != *c || fb->name[1] || fb->nmag == 0)
                continue;
            if (prev)
                rc = ft_colour(f, slot++, prev, fb, o);
            prev = fb;
        }
    }
    return rc;
}

static int ft_push3(ss_features *f, int first, const char *bn, double a, double b, double c)
{
    int rc = ft_push(f, first, bn, a);
    rc = rc ? rc : ft_push(f, first + 1, bn, b);
    return rc ? rc : ft_push(f, first + 2, bn, c);
}

/* Every band's periodogram and the multi-band one, in one call (ss_features_periodogram_bands),
 * into @p per_band and @p multi: pushed in the catalog's order later. */
static int ft_periods(ss_features *f, const ss_features_options *o, ss_period *per_band,
                      ss_period *multi)
{
    int *bandno = (int *)(f->idx + f->cap_points);
    size_t n = 0;
    for (int b = 0; b < f->nbands; b++) {
        per_band[b] = (ss_period){NAN, NAN, NAN, 0};
        for (size_t i = 0; i < f->band[b].nmag; i++)
            bandno[n++] = b;
    }
    *multi = (ss_period){NAN, NAN, NAN, 0};
    int rc = n >= o->min_points_period && f->nbands > 0
                 ? ssi_periodogram(ft_arr(f, B_MT), ft_arr(f, B_MM), ft_arr(f, B_ME), bandno,
                                   f->nbands, n, o, per_band, multi, NULL, &f->scratch)
                 : 0;
    for (int b = 0; b < f->nbands; b++)
        if (f->band[b].nmag < o->min_points_period)
            per_band[b] = (ss_period){NAN, NAN, NAN, 0};
    return rc;
}

static int ft_fits(ss_features *f, const ft_band *b, const ss_features_options *o)
{
    int rc = 0;
    if (o->groups & SS_FEATURES_FIT) {
        ss_bazin z;
        size_t at = b->flux_at;
        rc = ss_features_bazin(ft_arr(f, B_FT) + at, ft_arr(f, B_FV) + at, ft_arr(f, B_FE) + at,
                               b->nflux, &z);
        double v[] = {z.a, z.b, z.t0, z.t_rise, z.t_fall, z.chi2};
        for (int i = 0; i < 6 && !rc; i++)
            rc = ft_push(f, FT_BAZIN_A + i, b->name, v[i]);
    }
    if (!rc && (o->groups & SS_FEATURES_DRW)) {
        ss_drw d;
        size_t at = b->mag_at;
        rc = ss_features_drw(ft_arr(f, B_MT) + at, ft_arr(f, B_MM) + at, ft_arr(f, B_ME) + at,
                             b->nmag, &d);
        rc = rc ? rc : ft_push(f, FT_DRW_TAU, b->name, d.tau);
        rc = rc ? rc : ft_push(f, FT_DRW_SIGMA, b->name, d.sigma);
    }
    return rc;
}

/* Everything of one band; @p period: its periodogram's answer (ft_periods). */
static int ft_band_features(ss_features *f, const ft_band *b, const ss_features_options *o,
                            const ss_period *period)
{
    const double *t = ft_arr(f, B_MT) + b->mag_at, *m = ft_arr(f, B_MM) + b->mag_at;
    const double *e = ft_arr(f, B_ME) + b->mag_at;
    size_t n = b->nmag;
    int rc = 0;
    if (o->groups & SS_FEATURES_BASIC) {
        rc = ft_push(f, FT_N, b->name, (double)n);
        rc = rc ? rc : ft_push(f, FT_SPAN, b->name, n ? t[n - 1] - t[0] : NAN);
        if (!rc && n > 0)
            rc = ft_distribution(f, b->name, m, e, n);
        if (!rc && n > 0)
            rc = ft_variability(f, b->name, t, m, e, n, o);
    }
    if (!rc && (o->groups & SS_FEATURES_PERIOD))
        rc = ft_push3(f, FT_PERIOD, b->name, period->period, period->power, period->fap);
    return rc ? rc : ft_fits(f, b, o);
}

/* The options as given, read up to the caller's size, defaults for the rest. */
static ss_features_options ft_options(const ss_features_options *opt)
{
    ss_features_options o = SS_FEATURES_OPTIONS_INIT;
    if (opt && opt->size >= sizeof(uint32_t))
        memcpy(&o, opt, opt->size < sizeof o ? opt->size : sizeof o);
    o.size = sizeof o;
    return o;
}

/* The points' indexes in time order (a stable pass when they already are). */
static void ft_time_order(ss_features *f, const ss_lc_point *pts, size_t n)
{
    int sorted = 1;
    for (size_t k = 0; k < n; k++) {
        f->idx[k] = k;
        if (k && pts[k].mjd < pts[k - 1].mjd)
            sorted = 0;
    }
    if (!sorted)
        qsort_r(f->idx, n, sizeof *f->idx, ft_cmp_time, (void *)pts);
}

int ss_features_compute(ss_features *f, const ss_lc_point *points, size_t n,
                        const ss_features_options *opt)
{
    if (!f || (!points && n))
        return SS_EINVAL;
    ss_features_options o = ft_options(opt);
    f->nvalues = 0;
    f->nbands = 0;
    if (ft_reserve(f, n))
        return SS_ENOMEM;
    ft_time_order(f, points, n);
    ft_split(f, points, n, o.kinds);
    ss_period per_band[FT_MAX_BANDS], multi;
    int rc = o.groups & SS_FEATURES_PERIOD ? ft_periods(f, &o, per_band, &multi) : 0;
    for (int b = 0; b < f->nbands && !rc; b++)
        rc = ft_band_features(f, &f->band[b], &o, &per_band[b]);
    if (!rc && (o.groups & SS_FEATURES_BASIC))
        rc = ft_colours(f, &o);
    if (!rc && (o.groups & SS_FEATURES_PERIOD))
        rc = ft_push3(f, FT_MULTIBAND_PERIOD, "", multi.period, multi.power, multi.fap);
    if (rc)
        f->nvalues = 0;
    return rc;
}
