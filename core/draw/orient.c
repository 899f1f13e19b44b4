/* North up, east left, by quarter turns and a flip: of the eight ways to lay a pixel grid on the
 * screen without resampling it, the one nearest the WCS's rotation. A stamp rotated by another
 * angle (Rubin's are in the detector's frame) keeps what is left of it, at most 45 degrees: turning
 * it further would interpolate every pixel. */
#include "draw_impl.h"

#include <math.h>

/* The turn of @p k quarter turns counter-clockwise, then mirrored left-right when @p flip. */
static ssi_turn ssi_turn_make(int k, int flip)
{
    static const int c[4] = {1, 0, -1, 0}, s[4] = {0, 1, 0, -1};
    ssi_turn t = {.quarter_turns = k, .flipped = flip};
    int f = flip ? -1 : 1;
    t.m[0][0] = f * c[k], t.m[0][1] = -f * s[k];
    t.m[1][0] = s[k], t.m[1][1] = c[k];
    return t;
}

ssi_turn ssi_turn_for(const ssi_image *im)
{
    ssi_turn best = ssi_turn_make(0, 0);
    if (!im->has_wcs)
        return best; /* as ds9 shows a FITS image: the first pixel bottom left */
    /* screen (right, up) per pixel step wanted: (-east, north) */
    const double want[2][2] = {{-im->cd[0][0], -im->cd[0][1]}, {im->cd[1][0], im->cd[1][1]}};
    double score = -INFINITY;
    for (int k = 0; k < 4; k++)
        for (int f = 0; f < 2; f++) {
            ssi_turn t = ssi_turn_make(k, f);
            double sc = t.m[0][0] * want[0][0] + t.m[0][1] * want[0][1] + t.m[1][0] * want[1][0] +
                        t.m[1][1] * want[1][1];
            if (sc > score)
                score = sc, best = t;
        }
    /* north on the screen: the pixel step along which Dec grows, turned */
    double nx = im->cd[1][0], ny = im->cd[1][1];
    double sx = best.m[0][0] * nx + best.m[0][1] * ny, sy = best.m[1][0] * nx + best.m[1][1] * ny;
    best.residual_deg = atan2(sx, sy) * 180 / M_PI;
    return best;
}

static float ssi_at(const ssi_image *im, long x, long y)
{
    x = x < 0 ? 0 : x >= im->nx ? im->nx - 1 : x;
    y = y < 0 ? 0 : y >= im->ny ? im->ny - 1 : y;
    return im->px[(size_t)y * (size_t)im->nx + (size_t)x];
}

/* Bilinear between the four pixels around (x, y) (pixel centres at whole numbers), over those
 * with a value; NAN when none has one. */
static float ssi_bilinear(const ssi_image *im, double x, double y)
{
    long x0 = (long)floor(x), y0 = (long)floor(y);
    double fx = x - (double)x0, fy = y - (double)y0, sum = 0, wsum = 0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            float v = ssi_at(im, x0 + dx, y0 + dy);
            double w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
            if (isfinite(v) && w > 0)
                sum += w * v, wsum += w;
        }
    return wsum > 0 ? (float)(sum / wsum) : NAN;
}

/* The image pixel along one axis of @p n pixels under screen coordinate @p s (from the centre),
 * stepping by @p sign. */
static long ssi_axis_pixel(double s, int sign, long n)
{
    long p = (long)floor(sign * s + n / 2.0);
    return p < 0 ? 0 : p >= n ? n - 1 : p;
}

void ssi_nearest_map(const ssi_image *im, const ssi_turn *t, int w, int h, size_t *col, size_t *row)
{
    int swap = t->m[0][0] == 0;
    double W = (double)(swap ? im->ny : im->nx), H = (double)(swap ? im->nx : im->ny);
    size_t nx = (size_t)im->nx;
    for (int i = 0; i < w; i++) {
        double u = (i + 0.5) * W / w - W / 2; /* right, from the centre */
        col[i] = swap ? (size_t)ssi_axis_pixel(u, t->m[0][1], im->ny) * nx
                      : (size_t)ssi_axis_pixel(u, t->m[0][0], im->nx);
    }
    for (int j = 0; j < h; j++) {
        double v = H / 2 - (j + 0.5) * H / h; /* up, from the centre */
        row[j] = swap ? (size_t)ssi_axis_pixel(v, t->m[1][0], im->nx)
                      : (size_t)ssi_axis_pixel(v, t->m[1][1], im->ny) * nx;
    }
}

void ssi_resample(const ssi_image *im, const ssi_turn *t, float *dst, int w, int h)
{
    int swap = t->m[0][0] == 0; /* a quarter turn: the screen's width is the image's height */
    double W = (double)(swap ? im->ny : im->nx), H = (double)(swap ? im->nx : im->ny);
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            /* the screen point, from the centre, right and up; back to pixels by the transpose */
            double u = (i + 0.5) * W / w - W / 2, v = H / 2 - (j + 0.5) * H / h;
            double x = t->m[0][0] * u + t->m[1][0] * v + im->nx / 2.0;
            double y = t->m[0][1] * u + t->m[1][1] * v + im->ny / 2.0;
            dst[(size_t)j * (size_t)w + (size_t)i] = ssi_bilinear(im, x - 0.5, y - 0.5);
        }
}
