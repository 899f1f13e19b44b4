/* From pixel values to gray: IRAF's zscale (as astropy's ZScaleInterval computes it: 1000
 * samples, contrast 0.25, rejection at 2.5 sigma growing by 1% of the samples, at most 5
 * iterations, at least half the samples kept), or an asinh stretch. */
#include "draw_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SSI_ZS_SAMPLES    1000
#define SSI_ZS_CONTRAST   0.25
#define SSI_ZS_KREJ       2.5
#define SSI_ZS_MAX_REJECT 0.5
#define SSI_ZS_MIN_NPIX   5
#define SSI_ZS_MAX_ITER   5
#define SSI_ASINH_SOFT    0.1 /* asinh is linear below a tenth of the range, logarithmic above */

static int ssi_fcmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Every stride-th finite value, at most SSI_ZS_SAMPLES of them, sorted. @return their count;
 * *out malloc'd (NULL when none or out of memory: *failed then). */
static size_t ssi_sample(const float *px, size_t n, float **out, int *failed)
{
    size_t finite = 0, got = 0;
    for (size_t i = 0; i < n; i++)
        finite += isfinite(px[i]) != 0;
    size_t stride = finite / SSI_ZS_SAMPLES > 1 ? finite / SSI_ZS_SAMPLES : 1;
    *out =
        finite ? malloc((finite < SSI_ZS_SAMPLES ? finite : SSI_ZS_SAMPLES) * sizeof **out) : NULL;
    *failed = finite && !*out;
    for (size_t i = 0, k = 0; *out && i < n && got < SSI_ZS_SAMPLES; i++)
        if (isfinite(px[i]) && k++ % stride == 0)
            (*out)[got++] = px[i];
    if (*out)
        qsort(*out, got, sizeof **out, ssi_fcmp);
    return got;
}

/* Least squares line through the good samples (x = index). */
static void ssi_fit(const float *s, const unsigned char *bad, size_t n, double *slope,
                    double *icept)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++)
        if (!bad[i]) {
            double x = (double)i;
            sw += 1, sx += x, sy += s[i], sxx += x * x, sxy += x * s[i];
        }
    double d = sw * sxx - sx * sx;
    *slope = d != 0 ? (sw * sxy - sx * sy) / d : 0;
    *icept = sw > 0 ? (sy - *slope * sx) / sw : 0;
}

/* Mark the samples beyond krej sigma of the line, and their neighbours (numpy's "same"
 * convolution with ngrow ones). @return the good samples left. */
static size_t ssi_reject(const float *s, unsigned char *bad, unsigned char *tmp, size_t n,
                         double slope, double icept)
{
    double sum = 0, sum2 = 0, good = 0;
    for (size_t i = 0; i < n; i++)
        if (!bad[i]) {
            double f = s[i] - (icept + slope * (double)i);
            sum += f, sum2 += f * f, good += 1;
        }
    double mean = good ? sum / good : 0, sd = good ? sqrt(fmax(0, sum2 / good - mean * mean)) : 0;
    double thr = SSI_ZS_KREJ * sd;
    size_t ngrow = n / 100 > 1 ? n / 100 : 1, left = 0;
    for (size_t i = 0; i < n; i++)
        bad[i] |= fabs(s[i] - (icept + slope * (double)i)) > thr;
    memset(tmp, 0, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i >= (ngrow - 1) / 2 ? i - (ngrow - 1) / 2 : 0;
             bad[i] && j <= i + ngrow / 2 && j < n; j++)
            tmp[j] = 1;
    memcpy(bad, tmp, n);
    for (size_t i = 0; i < n; i++)
        left += !bad[i];
    return left;
}

static void ssi_zscale_fit(const float *s, size_t n, unsigned char *bad, double *lo, double *hi)
{
    size_t minpix = (size_t)(n * SSI_ZS_MAX_REJECT), good = n, last = n + 1;
    minpix = minpix > SSI_ZS_MIN_NPIX ? minpix : SSI_ZS_MIN_NPIX;
    double slope = 0, icept = 0;
    unsigned char *tmp = bad + n;
    for (int it = 0; it < SSI_ZS_MAX_ITER && good < last && good >= minpix; it++) {
        ssi_fit(s, bad, n, &slope, &icept);
        last = good;
        good = ssi_reject(s, bad, tmp, n, slope, icept);
    }
    *lo = s[0], *hi = s[n - 1];
    if (good < minpix)
        return;
    slope /= SSI_ZS_CONTRAST;
    size_t c = (n - 1) / 2;
    double median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    *lo = fmax(*lo, median - ((double)c - 1) * slope);
    *hi = fmin(*hi, median + (double)(n - c) * slope);
}

int ssi_zscale(const float *px, size_t n, double *lo, double *hi)
{
    float *s;
    int failed;
    size_t ns = ssi_sample(px, n, &s, &failed);
    unsigned char *bad = ns ? calloc(2, ns) : NULL;
    *lo = *hi = 0;
    if (failed || (ns && !bad)) {
        free(s), free(bad);
        return SS_ENOMEM;
    }
    if (ns)
        ssi_zscale_fit(s, ns, bad, lo, hi);
    free(s), free(bad);
    return 0;
}

int ssi_percentiles(const float *px, size_t n, double *lo, double *hi)
{
    float *s;
    int failed;
    size_t ns = ssi_sample(px, n, &s, &failed);
    *lo = *hi = 0;
    if (failed)
        return SS_ENOMEM;
    if (ns) {
        *lo = s[(size_t)(0.005 * (double)(ns - 1))];
        *hi = s[(size_t)(0.995 * (double)(ns - 1) + 0.5)];
    }
    free(s);
    return 0;
}

void ssi_stretch(float *px, size_t n, ss_draw_stretch stretch, double lo, double hi)
{
    double range = hi - lo, norm = asinh(1 / SSI_ASINH_SOFT);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(px[i]))
            continue; /* stays without a value: drawn as such */
        double t = range > 0 ? (px[i] - lo) / range : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        if (stretch == SS_DRAW_ASINH)
            t = asinh(t / SSI_ASINH_SOFT) / norm;
        px[i] = (float)t;
    }
}
