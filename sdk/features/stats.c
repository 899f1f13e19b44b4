/*
 * The statistics of ss_features: moments, percentiles, Stetson's indices, the linear trend, rates
 * and colours (features.h). Plain arrays in, no allocation unless the caller gives no scratch.
 */
#include "features_impl.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void insertion_sort(double *x, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        double v = x[i];
        size_t j = i;
        for (; j > 0 && x[j - 1] > v; j--)
            x[j] = x[j - 1];
        x[j] = v;
    }
}

static void sift_down(double *x, size_t root, size_t n)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && x[child + 1] > x[child])
            child++;
        if (x[root] >= x[child])
            return;
        double v = x[root];
        x[root] = x[child];
        x[child] = v;
    }
}

static void heap_sort(double *x, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(x, i, n);
    for (size_t end = n; end-- > 1;) {
        double v = x[0];
        x[0] = x[end];
        x[end] = v;
        sift_down(x, 0, end);
    }
}

/* Hoare partition around the median of three; @return the split (x[0..k] <= x[k+1..n)). */
static size_t partition(double *x, size_t n)
{
    double a = x[0], b = x[n / 2], c = x[n - 1];
    double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    size_t i = 0, j = n - 1;
    for (;;) {
        while (x[i] < pivot)
            i++;
        while (x[j] > pivot)
            j--;
        if (i >= j)
            return j;
        double v = x[i];
        x[i++] = x[j];
        x[j--] = v;
    }
}

static void intro_sort(double *x, size_t n, int depth)
{
    while (n > 16) {
        if (depth-- == 0) {
            heap_sort(x, n);
            return;
        }
        size_t k = partition(x, n) + 1;
        /* recurse into the smaller side, loop on the larger: the stack stays log n deep */
        if (k < n - k) {
            intro_sort(x, k, depth);
            x += k, n -= k;
        } else {
            intro_sort(x + k, n - k, depth);
            n = k;
        }
    }
    insertion_sort(x, n);
}

void ssi_sort_doubles(double *x, size_t n)
{
    int depth = 0;
    for (size_t m = n; m > 1; m >>= 1)
        depth += 2;
    intro_sort(x, n, depth);
}

double ss_features_percentile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    double pos = q / 100.0 * (double)(n - 1);
    if (pos <= 0)
        return sorted[0];
    if (pos >= (double)(n - 1))
        return sorted[n - 1];
    size_t i = (size_t)pos;
    double frac = pos - (double)i;
    return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

/* Central moments m2, m3, m4 (divided by n) of x about mean. */
static void central_moments(const double *x, size_t n, double mean, double *m2, double *m3,
                            double *m4)
{
    double s2 = 0, s3 = 0, s4 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - mean, d2 = d * d;
        s2 += d2;
        s3 += d2 * d;
        s4 += d2 * d2;
    }
    *m2 = s2 / (double)n;
    *m3 = s3 / (double)n;
    *m4 = s4 / (double)n;
}

/* The bias-corrected shape statistics scipy.stats gives with bias=False. */
static void shape(ss_moments *out, double m2, double m3, double m4)
{
    double n = (double)out->n;
    out->skew = NAN;
    out->kurtosis = NAN;
    if (out->n >= 3 && m2 > 0)
        out->skew = sqrt(n * (n - 1)) / (n - 2) * (m3 / pow(m2, 1.5));
    if (out->n >= 4 && m2 > 0) {
        double g2 = m4 / (m2 * m2) - 3.0;
        out->kurtosis = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3));
    }
}

int ss_features_moments(const double *x, size_t n, double *scratch, ss_moments *out)
{
    if (!x || !out || n == 0)
        return SS_EINVAL;
    double *s = scratch ? scratch : malloc(n * sizeof *s);
    if (!s)
        return SS_ENOMEM;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    out->n = n;
    out->mean = sum / (double)n;
    double m2, m3, m4;
    central_moments(x, n, out->mean, &m2, &m3, &m4);
    out->std = n > 1 ? sqrt(m2 * (double)n / (double)(n - 1)) : NAN;
    shape(out, m2, m3, m4);
    memcpy(s, x, n * sizeof *s);
    ssi_sort_doubles(s, n);
    out->min = s[0];
    out->max = s[n - 1];
    out->median = ss_features_percentile(s, n, 50);
    for (size_t i = 0; i < n; i++)
        s[i] = fabs(x[i] - out->median);
    ssi_sort_doubles(s, n);
    out->mad = ss_features_percentile(s, n, 50);
    if (!scratch)
        free(s);
    return 0;
}

/* Weighted mean with weights 1/e^2. */
static double weighted_mean(const double *m, const double *e, size_t n)
{
    double sw = 0, swm = 0;
    for (size_t i = 0; i < n; i++) {
        double w = 1.0 / (e[i] * e[i]);
        sw += w;
        swm += w * m[i];
    }
    return swm / sw;
}

void ss_features_stetson(const double *m, const double *e, size_t n, double *j, double *k)
{
    *j = *k = NAN;
    if (n < 2)
        return;
    double mean = weighted_mean(m, e, n), scale = sqrt((double)n / (double)(n - 1));
    double sabs = 0, s2 = 0, sj = 0, prev = 0;
    for (size_t i = 0; i < n; i++) {
        double d = scale * (m[i] - mean) / e[i];
        sabs += fabs(d);
        s2 += d * d;
        if (i > 0) {
            double p = prev * d;
            sj += copysign(sqrt(fabs(p)), p);
        }
        prev = d;
    }
    *j = sj / (double)(n - 1);
    *k = s2 > 0 ? sabs / sqrt((double)n * s2) : NAN;
}

void ss_features_trend(const double *t, const double *m, size_t n, double *slope, double *slope_err)
{
    *slope = *slope_err = NAN;
    if (n < 2)
        return;
    double mt = 0, mm = 0;
    for (size_t i = 0; i < n; i++) {
        mt += t[i];
        mm += m[i];
    }
    mt /= (double)n;
    mm /= (double)n;
    double stt = 0, stm = 0, smm = 0;
    for (size_t i = 0; i < n; i++) {
        double dt = t[i] - mt, dm = m[i] - mm;
        stt += dt * dt;
        stm += dt * dm;
        smm += dm * dm;
    }
    if (stt <= 0)
        return;
    *slope = stm / stt;
    if (n > 2) {
        /* the residuals' variance over n - 2 degrees of freedom, as linregress */
        double resid = smm - *slope * stm;
        *slope_err = sqrt(fmax(resid, 0) / (double)(n - 2) / stt);
    }
}

int ss_features_latest_rate(const double *t, const double *m, const double *e, size_t n,
                            double min_dt, double max_dt, double *rate, double *sigma)
{
    *rate = *sigma = NAN;
    if (n < 2)
        return 0;
    size_t last = n - 1;
    for (size_t k = last; k-- > 0;) {
        double dt = t[last] - t[k];
        if (dt > max_dt)
            return 0;
        if (dt < min_dt || dt <= 0)
            continue;
        double delta = m[last] - m[k];
        double err = sqrt(e[last] * e[last] + e[k] * e[k]);
        *rate = delta / dt;
        *sigma = err > 0 ? fabs(delta) / err : INFINITY;
        return (int)(k + 1 > INT_MAX ? INT_MAX : k + 1);
    }
    return 0;
}

void ss_features_max_rates(const double *t, const double *m, size_t n, double min_dt, double *rise,
                           double *fade)
{
    *rise = *fade = NAN;
    size_t k = 0; /* the latest point at least min_dt before point i, walking forward */
    int have = 0;
    for (size_t i = 1; i < n; i++) {
        while (k + 1 < i && t[i] - t[k + 1] >= min_dt)
            k++;
        double dt = t[i] - t[k];
        if (dt < min_dt || dt <= 0)
            continue;
        double r = (m[i] - m[k]) / dt;
        if (!have) {
            *rise = *fade = 0;
            have = 1;
        }
        *rise = fmax(*rise, -r);
        *fade = fmax(*fade, r);
    }
}

size_t ss_features_colours(const double *ta, const double *ma, const double *ea, size_t na,
                           const double *tb, const double *mb, const double *eb, size_t nb,
                           double window, ss_series *out)
{
    size_t k = 0, j = 0;
    for (size_t i = 0; nb > 0 && i < na; i++) {
        while (j + 1 < nb && fabs(tb[j + 1] - ta[i]) <= fabs(tb[j] - ta[i]))
            j++;
        if (fabs(tb[j] - ta[i]) > window)
            continue;
        out->t[k] = (ta[i] + tb[j]) / 2;
        out->y[k] = ma[i] - mb[j];
        out->e[k] = sqrt(ea[i] * ea[i] + eb[j] * eb[j]);
        k++;
    }
    out->n = k;
    return k;
}
