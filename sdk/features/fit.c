/*
 * The parametric fits of ss_features: the Bazin supernova model (GSL nonlinear least squares)
 * and the damped random walk (a Kalman likelihood maximised with GSL's Nelder-Mead).
 *
 * GSL's default error handler aborts the process; a filter must never take the broker down, so
 * the first fit turns it off (once per process, and only ever to "off") and every GSL return
 * code is checked instead.
 */
#include <skysieve/features.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_multimin.h>
#include <math.h>
#include <pthread.h>

/* Steps per start, and the relative fall of chi^2 under which a step counts as flat. On the DES
 * supernovae of features_test.py these give the same fits as 200 steps stopped by GSL's tests
 * alone (77 of 97 at scipy's minimum, the same one worse), in 70 steps per start on average
 * instead of 160. */
#define BAZIN_MAX_STEPS 100
#define BAZIN_FLAT      1e-9

static pthread_once_t fit_gsl_once = PTHREAD_ONCE_INIT;

static void fit_gsl_quiet(void)
{
    gsl_set_error_handler_off();
}

/* ---- Bazin ---- */

typedef struct fit_data {
    const double *t, *y, *e;
    size_t n;
    double tref; /* Bazin: t0 is fitted as t0 - tref, so that the step tests see days, not MJDs */
} fit_data;

/* The model written so that no term overflows: both exponentials in the denominator. */
double ss_features_bazin_model(const ss_bazin *p, double t)
{
    double x = t - p->t0;
    return p->a / (exp(x / p->t_fall) + exp(x / p->t_fall - x / p->t_rise)) + p->b;
}

/* The bounds of the rise and fall times: without them the least squares would as soon fit one
 * bright point with a spike of a few hours, or cancel a huge a against a huge b. */
static const double bazin_lo[2] = {SS_BAZIN_RISE_MIN, SS_BAZIN_FALL_MIN};
static const double bazin_hi[2] = {SS_BAZIN_RISE_MAX, SS_BAZIN_FALL_MAX};

/* A time within its bounds from an unbounded fit parameter (a logistic), and back. */
static double bazin_time(int which, double u)
{
    return bazin_lo[which] + (bazin_hi[which] - bazin_lo[which]) / (1 + exp(-u));
}

static double bazin_param(int which, double time)
{
    double f = (time - bazin_lo[which]) / (bazin_hi[which] - bazin_lo[which]);
    return log(f / (1 - f));
}

static ss_bazin bazin_from(const fit_data *d, const gsl_vector *x)
{
    return (ss_bazin){gsl_vector_get(x, 0),
                      gsl_vector_get(x, 1),
                      d->tref + gsl_vector_get(x, 2),
                      bazin_time(0, gsl_vector_get(x, 3)),
                      bazin_time(1, gsl_vector_get(x, 4)),
                      NAN};
}

static int bazin_residuals(const gsl_vector *x, void *arg, gsl_vector *f)
{
    const fit_data *d = arg;
    ss_bazin p = bazin_from(d, x);
    for (size_t i = 0; i < d->n; i++)
        gsl_vector_set(f, i, (ss_features_bazin_model(&p, d->t[i]) - d->y[i]) / d->e[i]);
    return GSL_SUCCESS;
}

/* The slope of a bounded time against its fit parameter (the logistic's derivative). */
static double bazin_time_slope(int which, double u)
{
    double s = 1 / (1 + exp(-u));
    return (bazin_hi[which] - bazin_lo[which]) * s * (1 - s);
}

/*
 * The Jacobian, analytic: finite differences cost five more model evaluations per step. With
 * g = 1 / (E1 + E2), E1 = exp(x / tf), E2 = exp(x / tf - x / tr), the products g E1 and g E2
 * are written as logistic functions of x / tr so that nothing overflows.
 */
static int bazin_jacobian(const gsl_vector *x, void *arg, gsl_matrix *jac)
{
    const fit_data *d = arg;
    ss_bazin p = bazin_from(d, x);
    double dr = bazin_time_slope(0, gsl_vector_get(x, 3));
    double df = bazin_time_slope(1, gsl_vector_get(x, 4));
    for (size_t i = 0; i < d->n; i++) {
        double xi = d->t[i] - p.t0, w = 1 / d->e[i];
        double g = 1 / (exp(xi / p.t_fall) + exp(xi / p.t_fall - xi / p.t_rise));
        double ge1 = 1 / (1 + exp(-xi / p.t_rise)), ge2 = 1 / (1 + exp(xi / p.t_rise));
        double dt0 = p.a * g * (ge1 / p.t_fall + ge2 * (1 / p.t_fall - 1 / p.t_rise));
        double dtr = -p.a * g * ge2 * xi / (p.t_rise * p.t_rise);
        double dtf = p.a * g * xi / (p.t_fall * p.t_fall);
        gsl_matrix_set(jac, i, 0, g * w);
        gsl_matrix_set(jac, i, 1, w);
        gsl_matrix_set(jac, i, 2, dt0 * w);
        gsl_matrix_set(jac, i, 3, dtr * dr * w);
        gsl_matrix_set(jac, i, 4, dtf * df * w);
    }
    return GSL_SUCCESS;
}

/* Start at the brightest point with rise and fall times @p tr and @p tf, no baseline. */
static void bazin_start(const fit_data *d, double tr, double tf, gsl_vector *x)
{
    size_t peak = 0;
    for (size_t i = 1; i < d->n; i++)
        if (d->y[i] > d->y[peak])
            peak = i;
    /* a at which the model's peak, tr ln(tf / tr - 1) after t0, has the brightest flux */
    double xp = tr * log(tf / tr - 1);
    ss_bazin unit = {1, 0, 0, tr, tf, NAN};
    gsl_vector_set(x, 0, d->y[peak] / ss_features_bazin_model(&unit, xp));
    gsl_vector_set(x, 1, 0);
    gsl_vector_set(x, 2, d->t[peak] - xp - d->tref);
    gsl_vector_set(x, 3, bazin_param(0, tr));
    gsl_vector_set(x, 4, bazin_param(1, tf));
}

/* Steps until GSL's own tests pass (x and gradient within 1e-10), or chi^2 fell by less than
 * BAZIN_FLAT of itself three steps running: along the model's flat valleys (a against t0 and the
 * rise time) the parameters keep sliding for hundreds of steps that no longer change the curve.
 * "No progress" and the step cap still leave the best point reached. */
static void bazin_iterate(gsl_multifit_nlinear_workspace *w)
{
    double prev = INFINITY;
    int flat = 0, info;
    for (size_t i = 0; i < BAZIN_MAX_STEPS; i++) {
        if (gsl_multifit_nlinear_iterate(w) != GSL_SUCCESS ||
            gsl_multifit_nlinear_test(1e-10, 1e-10, 0, &info, w) == GSL_SUCCESS)
            return;
        double chi2;
        gsl_blas_ddot(w->f, w->f, &chi2);
        flat = prev - chi2 <= BAZIN_FLAT * chi2 ? flat + 1 : 0;
        if (flat == 3)
            return;
        prev = chi2;
    }
}

int ss_features_bazin(const double *t, const double *flux, const double *err, size_t n,
                      ss_bazin *out)
{
    if (!t || !flux || !err || !out)
        return SS_EINVAL;
    *out = (ss_bazin){NAN, NAN, NAN, NAN, NAN, NAN};
    if (n < 6)
        return 0;
    pthread_once(&fit_gsl_once, fit_gsl_quiet);
    fit_data d = {t, flux, err, n, t[0]};
    gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
    /* the normal equations (5 x 5) instead of a QR of the n x 5 Jacobian at every step */
    params.solver = gsl_multifit_nlinear_solver_cholesky;
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, n, 5);
    gsl_vector *x = gsl_vector_alloc(5);
    if (!w || !x) {
        gsl_multifit_nlinear_free(w);
        gsl_vector_free(x);
        return SS_ENOMEM;
    }
    gsl_multifit_nlinear_fdf fdf = {
        .f = bazin_residuals, .df = bazin_jacobian, .n = n, .p = 5, .params = &d};
    /* The surface has local minima (a fast rise fitted as a slow one); five starts, from a
     * fast to a slow event, keep the best. */
    static const double starts[5][2] = {{3, 20}, {1, 10}, {10, 50}, {5, 100}, {20, 200}};
    for (int s = 0; s < 5; s++) {
        bazin_start(&d, starts[s][0], starts[s][1], x);
        if (gsl_multifit_nlinear_init(x, &fdf, w) != GSL_SUCCESS)
            continue;
        bazin_iterate(w);
        double chi2;
        gsl_blas_ddot(w->f, w->f, &chi2);
        ss_bazin b = bazin_from(&d, w->x);
        b.chi2 = chi2 / (double)(n - 5);
        if (isfinite(b.a) && isfinite(b.t_rise) && isfinite(b.t_fall) && isfinite(b.chi2) &&
            !(b.chi2 >= out->chi2))
            *out = b;
    }
    gsl_multifit_nlinear_free(w);
    gsl_vector_free(x);
    return 0;
}

/* ---- damped random walk ---- */

double ss_features_drw_loglike(const double *t, const double *m, const double *e, size_t n,
                               const ss_drw *p)
{
    if (n == 0 || !(p->tau > 0) || !(p->sigma > 0))
        return NAN;
    double var = p->sigma * p->sigma, xhat = 0, omega = var, ll = 0;
    for (size_t i = 0; i < n; i++) {
        double y = m[i] - p->mean, v = omega + e[i] * e[i], r = y - xhat;
        ll -= 0.5 * (log(2 * M_PI * v) + r * r / v);
        if (i + 1 == n)
            break;
        /* the filtered state, then its prediction at the next time */
        double a = exp(-(t[i + 1] - t[i]) / p->tau), k = omega / v;
        xhat = a * (xhat + k * r);
        omega = var * (1 - a * a) + a * a * omega * (1 - k);
    }
    return ll;
}

typedef struct drw_data {
    fit_data d;
    double lo[2], hi[2]; /* bounds of log tau and log sigma */
} drw_data;

/* Minus the log-likelihood, with the parameters held inside their bounds by a penalty. */
static double drw_cost(const gsl_vector *x, void *arg)
{
    const drw_data *dd = arg;
    double lt = gsl_vector_get(x, 0), ls = gsl_vector_get(x, 1), over = 0;
    double clt = fmin(fmax(lt, dd->lo[0]), dd->hi[0]), cls = fmin(fmax(ls, dd->lo[1]), dd->hi[1]);
    over = (lt - clt) * (lt - clt) + (ls - cls) * (ls - cls);
    ss_drw p = {exp(clt), exp(cls), gsl_vector_get(x, 2), NAN};
    double ll = ss_features_drw_loglike(dd->d.t, dd->d.y, dd->d.e, dd->d.n, &p);
    return isfinite(ll) ? -ll + 1e3 * over : GSL_POSINF;
}

/* Start: tau a tenth of the span, sigma the sample's spread, the weighted mean. */
static void drw_start(const drw_data *dd, gsl_vector *x, gsl_vector *step)
{
    const fit_data *d = &dd->d;
    double sw = 0, swm = 0, mean = 0, var = 0;
    for (size_t i = 0; i < d->n; i++) {
        sw += 1 / (d->e[i] * d->e[i]);
        swm += d->y[i] / (d->e[i] * d->e[i]);
        mean += d->y[i] / (double)d->n;
    }
    for (size_t i = 0; i < d->n; i++)
        var += (d->y[i] - mean) * (d->y[i] - mean) / (double)(d->n - 1);
    double span = d->t[d->n - 1] - d->t[0], sd = fmax(sqrt(var), 1e-3);
    gsl_vector_set(x, 0, fmin(fmax(log(span / 10), dd->lo[0]), dd->hi[0]));
    gsl_vector_set(x, 1, fmin(fmax(log(sd), dd->lo[1]), dd->hi[1]));
    gsl_vector_set(x, 2, swm / sw);
    gsl_vector_set(step, 0, 1.0);
    gsl_vector_set(step, 1, 0.5);
    gsl_vector_set(step, 2, sd);
}

static void drw_iterate(gsl_multimin_fminimizer *s)
{
    /* 1e-5 in log tau and log sigma is a thousandth of a percent: far below their errors */
    for (int it = 0; it < 1000; it++) {
        if (gsl_multimin_fminimizer_iterate(s) != GSL_SUCCESS)
            break;
        if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(s), 1e-5) == GSL_SUCCESS)
            break;
    }
}

int ss_features_drw(const double *t, const double *m, const double *e, size_t n, ss_drw *out)
{
    if (!t || !m || !e || !out)
        return SS_EINVAL;
    *out = (ss_drw){NAN, NAN, NAN, NAN};
    if (n < 5 || !(t[n - 1] > t[0]))
        return 0;
    pthread_once(&fit_gsl_once, fit_gsl_quiet);
    drw_data dd = {{t, m, e, n, 0}, {log(0.01), log(1e-4)}, {log(10 * (t[n - 1] - t[0])), log(10)}};
    gsl_multimin_fminimizer *s =
        gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, 3);
    gsl_vector *x = gsl_vector_alloc(3), *step = gsl_vector_alloc(3);
    int rc = SS_ENOMEM;
    if (s && x && step) {
        rc = 0;
        gsl_multimin_function fn = {drw_cost, 3, &dd};
        drw_start(&dd, x, step);
        if (gsl_multimin_fminimizer_set(s, &fn, x, step) == GSL_SUCCESS) {
            drw_iterate(s);
            const gsl_vector *b = gsl_multimin_fminimizer_x(s);
            double lt = fmin(fmax(gsl_vector_get(b, 0), dd.lo[0]), dd.hi[0]);
            double ls = fmin(fmax(gsl_vector_get(b, 1), dd.lo[1]), dd.hi[1]);
            *out = (ss_drw){exp(lt), exp(ls), gsl_vector_get(b, 2), NAN};
            out->loglike = ss_features_drw_loglike(t, m, e, n, out);
        }
    }
    gsl_multimin_fminimizer_free(s);
    gsl_vector_free(x);
    gsl_vector_free(step);
    return rc;
}
