/**
 * @file features.h
 * @brief skysieve's light-curve feature library: statistics, variability indices, rates, colours,
 * a periodogram and parametric fits of a locus's light curve, for C filters (linked with
 * libskysieve_features) and, through the same code, Lua filters (`features.*`, sdk/lua-api.md).
 *
 * Two ways in:
 *  - ss_features_compute() takes a light curve as the host serves it (ss_host_api.light_curve(),
 *    filter.h) and computes the whole catalog (ss_features_catalog()) per passband, per pair of
 *    neighbouring passbands (colours) and across passbands; read the results by name with
 *    ss_features_get() or walk them with ss_features_value().
 *  - The building blocks (ss_features_moments(), ss_features_latest_rate(),
 *    ss_features_periodogram(), ss_features_bazin(), ...) take plain arrays, for a filter that
 *    needs one number or its own selection of points.
 *
 * Every feature's name, definition and unit is in the catalog and in the table of sdk/GUIDE.md
 * ("Light-curve features"). A feature that cannot be computed (too few points, a degenerate fit)
 * is NAN, never an error.
 *
 * Errors: functions return 0, or SS_EINVAL (a NULL or inconsistent argument; nothing written) or
 * SS_ENOMEM (skysieve.h). Calls on different ss_features objects may run in different threads
 * at once. The one state kept between calls is the fast periodogram's FFTW plans, one per grid
 * size, made under a lock and kept until the program ends (or the filter that links this library
 * is unloaded): a cache, invisible in the answers.
 *
 * Memory: an ss_features is owned by its caller (ss_features_new() / ss_features_free()); it
 * keeps its buffers between ss_features_compute() calls (the periodogram's working memory too),
 * so a filter keeps one in its state and allocates nothing per locus once it has seen its longest
 * light curve. Strings and arrays it
 * hands out are owned by it and valid until the next ss_features_compute() or
 * ss_features_free() on it. The catalog is static.
 *
 * Versions: SS_FEATURES_VERSION_MAJOR/MINOR, and ss_features_version() for the library a program
 * runs with. Adding a function, a catalog entry or a field at the end of an options struct is a
 * minor version; anything else is a major one, and a changed call gets a numbered twin
 * (ss_features_bazin2()), never a changed meaning under the old name.
 *
 * Change log (append only):
 *  - 1.0: first version.
 *  - 1.1: ss_features_options.period_method (SS_PERIOD_AUTO, _EXACT, _FAST): the periodogram's
 *    sums by a non-uniform FFT, chosen by default from 32 points; ss_features_period_method().
 *  - 1.2: ss_features_periodogram_bands(): each band's periodogram and the multi-band one from
 *    one set of transforms (ss_features_compute() uses it); the grid starts at a whole number
 *    of steps.
 */
#ifndef SKYSIEVE_FEATURES_H
#define SKYSIEVE_FEATURES_H

#include <skysieve/filter.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_FEATURES_VERSION_MAJOR 1
#define SS_FEATURES_VERSION_MINOR 2

/** The library's version numbers, as compiled. @return "MAJOR.MINOR", static. */
const char *ss_features_version(int *major, int *minor);

/** Where a catalog entry applies. */
typedef enum ss_feature_scope {
    SS_FEATURE_BAND = 1,      /**< one value per passband */
    SS_FEATURE_COLOUR = 2,    /**< one value per pair of neighbouring passbands ("g-r") */
    SS_FEATURE_MULTIBAND = 3, /**< one value for all passbands together */
} ss_feature_scope;

/** Groups of features, to skip the costly ones (ss_features_options.groups). */
#define SS_FEATURES_BASIC  1u /**< counts, moments, percentiles, Stetson, trend, rates, colours */
#define SS_FEATURES_PERIOD 2u /**< Lomb-Scargle periodogram, per band and multi-band */
#define SS_FEATURES_FIT    4u /**< Bazin fit of the fluxes */
#define SS_FEATURES_DRW    8u /**< damped-random-walk fit of the magnitudes */
#define SS_FEATURES_ALL    15u

/** A catalog entry. Static strings. */
typedef struct ss_feature_def {
    const char *name;       /**< e.g. "stetson_k" */
    const char *unit;       /**< e.g. "mag/day"; "" for a pure number */
    const char *definition; /**< one sentence */
    ss_feature_scope scope;
    unsigned group; /**< one of SS_FEATURES_BASIC ... SS_FEATURES_DRW */
} ss_feature_def;

/** The catalog, in a fixed order that only grows at the end. @param[out] n its length. */
const ss_feature_def *ss_features_catalog(size_t *n);

/**
 * What ss_features_compute() uses and how. Start from SS_FEATURES_OPTIONS_INIT; @c size lets a
 * newer library read an older caller's struct.
 */
typedef struct ss_features_options {
    uint32_t size;           /**< sizeof(ss_features_options) of the caller */
    unsigned kinds;          /**< SS_POINT_* mask of the points used (default detections) */
    unsigned groups;         /**< SS_FEATURES_* mask (default all) */
    double min_dt;           /**< rates: pairs at least this far apart, days (0.1) */
    double max_dt;           /**< latest rate: at most this far back, days (10) */
    double colour_window;    /**< colours: points of two bands at most this far apart, days (0.5) */
    double min_period;       /**< periodogram: shortest period, days (0.1) */
    double max_period;       /**< longest period, days; 0: the light curve's span (0) */
    double samples_per_peak; /**< frequency step 1 / (samples_per_peak * span) (5) */
    size_t max_frequencies;  /**< grid cap: a longer grid is thinned to this many (20000) */
    size_t min_points_period; /**< fewer points in a band: no periodogram (8) */
    int period_method;        /**< SS_PERIOD_AUTO, SS_PERIOD_EXACT or SS_PERIOD_FAST (1.1) */
} ss_features_options;

/** Periodogram methods (ss_features_options.period_method). */
#define SS_PERIOD_AUTO  0 /**< FAST from SS_PERIOD_FAST_POINTS points in a call, else EXACT */
#define SS_PERIOD_EXACT 1 /**< every frequency's sums added up point by point: n x nf */
/** The sums of the whole grid by a non-uniform FFT (FFTW), n + nf log nf: each power within
 * about 1e-6 of EXACT's, and the highest peaks and their neighbours recomputed exactly, so
 * the period, power and false-alarm probability are EXACT's. */
#define SS_PERIOD_FAST        2
#define SS_PERIOD_FAST_POINTS 32

/** The method named @p name: "auto", "exact" or "fast" (1.1). @return it, or -1. */
int ss_features_period_method(const char *name);

#define SS_FEATURES_OPTIONS_INIT                                                                   \
    {                                                                                              \
        sizeof(ss_features_options), SS_POINT_DETECTION, SS_FEATURES_ALL, 0.1, 10, 0.5, 0.1, 0, 5, \
            20000, 8, SS_PERIOD_AUTO                                                               \
    }

/** A computed feature. Strings owned by the ss_features object. */
typedef struct ss_feature_value {
    const ss_feature_def *def;
    const char *band; /**< "g"; "g-r" for a colour; "" for a multi-band feature */
    double value;     /**< NAN when it could not be computed */
} ss_feature_value;

/** Results and working memory. Opaque. */
typedef struct ss_features ss_features;

/** @return a new, empty object (owned by the caller), or NULL when out of memory. */
ss_features *ss_features_new(void);
/** Frees @p f and everything it handed out. NULL is allowed. */
void ss_features_free(ss_features *f);

/**
 * Computes the catalog's features of the groups in @p opt over @p points (any order; as
 * ss_host_api.light_curve() serves them). A point counts for the magnitude features when its
 * kind is in opt->kinds and mag and magerr are finite with magerr > 0; for the flux features
 * (Bazin) when flux and fluxerr are finite with fluxerr > 0. Passbands are told by name; a light
 * curve with more than 16 is cut to the first 16 seen.
 *
 * @param opt NULL for the defaults.
 * @return 0 (earlier results of @p f are replaced), SS_EINVAL, or SS_ENOMEM (then @p f holds
 *         no results).
 */
int ss_features_compute(ss_features *f, const ss_lc_point *points, size_t n,
                        const ss_features_options *opt);

/** How many values the last ss_features_compute() produced. */
size_t ss_features_count(const ss_features *f);
/** Value @p i (0 .. count - 1), or NULL. */
const ss_feature_value *ss_features_value(const ss_features *f, size_t i);
/**
 * The value of feature @p name for @p band ("g", "g-r", or "" for multi-band).
 * @return NAN when there is none.
 */
double ss_features_get(const ss_features *f, const char *name, const char *band);

/** Moments and order statistics of a sample. */
typedef struct ss_moments {
    size_t n;
    double mean, median, std; /**< std: ddof = 1 */
    double skew;              /**< adjusted Fisher-Pearson (scipy.stats.skew(bias=False)), n >= 3 */
    double kurtosis;          /**< excess, unbiased (scipy.stats.kurtosis(bias=False)), n >= 4 */
    double mad;               /**< median of |x - median| */
    double min, max;
} ss_moments;

/**
 * Moments of @p x[0..n). @p scratch: n doubles the function may overwrite (the sort for the
 * median), or NULL to have it allocate. @return 0, SS_EINVAL (n == 0), SS_ENOMEM.
 */
int ss_features_moments(const double *x, size_t n, double *scratch, ss_moments *out);

/**
 * The @p q-th percentile (0..100) of the sorted @p sorted[0..n), interpolated linearly as
 * numpy.percentile does by default. @return NAN when n == 0.
 */
double ss_features_percentile(const double *sorted, size_t n, double q);

/**
 * Stetson's (1996) variability indices of magnitudes @p m with errors @p e, in time order: with
 * d_i = sqrt(n / (n - 1)) (m_i - weighted mean) / e_i, J is the mean over consecutive pairs of
 * sign(d_i d_{i+1}) sqrt|d_i d_{i+1}| and K = sum|d_i| / sqrt(n sum d_i^2). NAN when n < 2.
 */
void ss_features_stetson(const double *m, const double *e, size_t n, double *j, double *k);

/**
 * Least-squares line m = a + slope t (unweighted) and the standard error of the slope, as
 * scipy.stats.linregress. slope is NAN when n < 2 or all t are equal; slope_err when n < 3.
 */
void ss_features_trend(const double *t, const double *m, size_t n, double *slope,
                       double *slope_err);

/**
 * The rate, in mag/day (positive: fading), between the latest point and the latest earlier one
 * at least @p min_dt and at most @p max_dt days before it (the points in time order), and its
 * significance |delta| / sqrt(e_latest^2 + e_earlier^2) (INFINITY when both errors are 0).
 * @return the earlier point's index plus one when found (so that a caller can apply its own test
 *         to the pair), 0 when not (then *rate and *sigma are NAN).
 */
int ss_features_latest_rate(const double *t, const double *m, const double *e, size_t n,
                            double min_dt, double max_dt, double *rate, double *sigma);

/**
 * The fastest brightening and fading, mag/day, both >= 0 when found: over each point and the
 * latest earlier point at least @p min_dt before it. NAN when there is no such pair.
 */
void ss_features_max_rates(const double *t, const double *m, size_t n, double min_dt, double *rise,
                           double *fade);

/** A series of points, e.g. a colour curve. Arrays owned by whoever filled it. */
typedef struct ss_series {
    size_t n;
    double *t, *y, *e;
} ss_series;

/**
 * The colour a - b: each point of band a paired with the point of band b nearest in time, when
 * at most @p window days apart; t is their mean time, y = m_a - m_b, e = sqrt(e_a^2 + e_b^2).
 * Both inputs in time order. @p out's arrays must hold na entries. @return the number of pairs.
 */
size_t ss_features_colours(const double *ta, const double *ma, const double *ea, size_t na,
                           const double *tb, const double *mb, const double *eb, size_t nb,
                           double window, ss_series *out);

/** A periodogram's answer. */
typedef struct ss_period {
    double period;      /**< days, of the highest peak */
    double power;       /**< its power, 0..1: the fraction of chi^2 the sinusoid removes */
    double fap;         /**< false-alarm probability of that peak (Baluev 2008) */
    size_t frequencies; /**< grid length used */
} ss_period;

/**
 * Generalised Lomb-Scargle periodogram (Zechmeister & Kuerster 2009: a floating mean, weights
 * 1/e^2), normalised as astropy's LombScargle(normalization="standard"), on the grid
 * f_k = f_min + k df for f_min = 1 / max_period, df = 1 / (samples_per_peak * span), up to
 * 1 / min_period (thinned to max_frequencies). f_min is a whole number of steps (with the
 * defaults it is: samples_per_peak steps); when it would not be (a max_period of the caller's, a
 * thinned grid) it moves up to the next one, less than a step (1.2). With @p band (a band number
 * per point, < nbands) it is the multi-band periodogram of VanderPlas & Ivezic (2015) with one term
 * per band: each band its own mean, amplitude and phase at a shared frequency, the power being the
 * fraction of the total chi^2 removed. @p band NULL: one band. @p power, when not NULL, receives
 * the grid's powers (max_frequencies doubles). Every t and y must be finite and every e finite and
 * above 0.
 * @return 0 (out->period NAN when too few points or no span), SS_EINVAL (also for a point that is
 * not finite), SS_ENOMEM.
 */
int ss_features_periodogram(const double *t, const double *y, const double *e, const int *band,
                            int nbands, size_t n, const ss_features_options *opt, ss_period *out,
                            double *power);

/**
 * Each band's periodogram and the multi-band one, for about the cost of the multi-band one alone
 * (1.2): the multi-band power is a weighted sum of the bands' own powers at the same frequency, so
 * one set of sums per band gives both.
 *
 * @p multi receives what ss_features_periodogram() gives with @p band. per_band[b] receives band
 * b's own highest peak on that same grid: the grid of the span of all the points, so its step is
 * the band's own or finer. A band's search starts at its own longest period (max_period, or the
 * span of its points), so that no band reports a period longer than it has seen; its
 * @c frequencies counts the grid frequencies searched. A band with fewer than 3 points or no span
 * gets period NAN. Its false-alarm probability is the single-band one over its own points.
 *
 * @param band     a band number per point, each < @p nbands (not NULL)
 * @param per_band @p nbands answers (caller's)
 * @return 0 (periods NAN when too few points or no span), SS_EINVAL (as ss_features_periodogram(),
 *         and for a NULL @p band or @p per_band), SS_ENOMEM.
 */
int ss_features_periodogram_bands(const double *t, const double *y, const double *e,
                                  const int *band, int nbands, size_t n,
                                  const ss_features_options *opt, ss_period *per_band,
                                  ss_period *multi);

/** The Bazin (2009) supernova model fitted to fluxes. */
typedef struct ss_bazin {
    double a, b, t0, t_rise,
        t_fall;  /**< flux = a exp(-(t-t0)/t_fall) / (1 + exp(-(t-t0)/t_rise)) + b */
    double chi2; /**< reduced: chi^2 / (n - 5) */
} ss_bazin;

/** The Bazin model at time @p t. */
double ss_features_bazin_model(const ss_bazin *p, double t);

/** The bounds of the fitted rise and fall times, days. */
#define SS_BAZIN_RISE_MIN 0.5
#define SS_BAZIN_RISE_MAX 100.0
#define SS_BAZIN_FALL_MIN 1.0
#define SS_BAZIN_FALL_MAX 500.0

/**
 * Fits the Bazin model to @p flux with errors @p err (weighted least squares, GSL's
 * Levenberg-Marquardt trust region) from five starts at the brightest point (rise and fall 3 and
 * 20, 1 and 10, 10 and 50, 5 and 100, 20 and 200 days), keeping the best. The rise and fall times
 * stay within the SS_BAZIN_* bounds, so that a single bright point is not fitted by a spike of a
 * few hours.
 * @return 0 with every field NAN when n < 6 or the fit fails, SS_ENOMEM.
 */
int ss_features_bazin(const double *t, const double *flux, const double *err, size_t n,
                      ss_bazin *out);

/** A damped random walk (Ornstein-Uhlenbeck process), as fitted to AGN light curves. */
typedef struct ss_drw {
    double tau;   /**< damping time, days */
    double sigma; /**< long-term standard deviation, mag (SF_inf = sqrt(2) sigma) */
    double mean;  /**< mag */
    double loglike;
} ss_drw;

/**
 * The log-likelihood of magnitudes @p m (errors @p e, time order) under a damped random walk
 * with parameters @p p (tau, sigma, mean; loglike ignored): the Gaussian process with covariance
 * sigma^2 exp(-|t_i - t_j| / tau) + e_i^2 delta_ij, evaluated in O(n) by Kelly et al.'s (2009)
 * Kalman recursion. NAN when n == 0 or a parameter is not positive.
 */
double ss_features_drw_loglike(const double *t, const double *m, const double *e, size_t n,
                               const ss_drw *p);

/**
 * The maximum-likelihood damped random walk (Nelder-Mead over log tau, log sigma and the mean),
 * tau bounded to [0.01 days, 10 span] and sigma to [1e-4, 10] mag. @return 0 with every field
 * NAN when n < 5, SS_ENOMEM.
 */
int ss_features_drw(const double *t, const double *m, const double *e, size_t n, ss_drw *out);

#ifdef __cplusplus
}
#endif

#endif /* SKYSIEVE_FEATURES_H */
