/* A stamp drawn: read (fits.c), stretched (stretch.c), turned and scaled (orient.c), written as an
 * 8-bit grayscale PNG (png.c) from a cairo A8 surface. */
#include "draw_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_NAN_GRAY 128 /* a pixel without a value: mid-gray */

static int ssi_cutout_size(const ss_draw_cutout_options *o, const ssi_image *im, const ssi_turn *t,
                           int *w, int *h, ss_err *err)
{
    int size = o->size ? o->size : SS_DRAW_CUTOUT_SIZE;
    if (size < SS_DRAW_CUTOUT_MIN_SIZE || size > SS_DRAW_CUTOUT_MAX_SIZE)
        return ss_err_set(err, SS_EINVAL, "a stamp is drawn %d to %d pixels on a side, not %d",
                          SS_DRAW_CUTOUT_MIN_SIZE, SS_DRAW_CUTOUT_MAX_SIZE, size);
    int swap = t->m[0][0] == 0;
    double W = (double)(swap ? im->ny : im->nx), H = (double)(swap ? im->nx : im->ny);
    double k = size / fmax(W, H);
    *w = (int)fmax(1, lround(W * k));
    *h = (int)fmax(1, lround(H * k));
    return 0;
}

static int ssi_limits(const ssi_image *im, ss_draw_stretch stretch, double *lo, double *hi,
                      ss_err *err)
{
    size_t n = (size_t)im->nx * (size_t)im->ny;
    int rc = stretch == SS_DRAW_ASINH ? ssi_percentiles(im->px, n, lo, hi)
                                      : ssi_zscale(im->px, n, lo, hi);
    return rc ? ss_err_set(err, rc, "out of memory drawing a stamp") : 0;
}

static unsigned char ssi_gray(float v)
{
    return isfinite(v) ? (unsigned char)lrintf(v * 255) : SSI_NAN_GRAY;
}

/* Nearest pixel: each source pixel's gray level once, then a lookup per screen pixel (a stamp
 * is scaled up four times: sixteen lookups a source pixel). @return the pixels without a value,
 * or -1 when out of memory. */
static long ssi_fill_nearest(const ssi_image *im, const ssi_turn *t, unsigned char *d, int stride,
                             int w, int h)
{
    size_t n = (size_t)im->nx * (size_t)im->ny,
           *col = malloc(((size_t)w + (size_t)h) * sizeof *col);
    unsigned char *gray = malloc(2 * n), *none = gray + n;
    if (!col || !gray) {
        free(col), free(gray);
        return -1;
    }
    for (size_t k = 0; k < n; k++)
        gray[k] = ssi_gray(im->px[k]), none[k] = !isfinite(im->px[k]);
    size_t *row = col + w;
    ssi_nearest_map(im, t, w, h, col, row);
    long nan = 0;
    for (int j = 0; j < h; j++) {
        unsigned char *line = d + (size_t)j * (size_t)stride;
        for (int i = 0; i < w; i++) {
            size_t k = col[i] + row[j];
            line[i] = gray[k], nan += none[k];
        }
    }
    free(col), free(gray);
    return nan;
}

static long ssi_fill_bilinear(const ssi_image *im, const ssi_turn *t, unsigned char *d, int stride,
                              int w, int h)
{
    float *v = malloc((size_t)w * (size_t)h * sizeof *v);
    if (!v)
        return -1;
    ssi_resample(im, t, v, w, h);
    long nan = 0;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            float x = v[(size_t)j * (size_t)w + (size_t)i];
            nan += !isfinite(x);
            d[(size_t)j * (size_t)stride + (size_t)i] = ssi_gray(x);
        }
    free(v);
    return nan;
}

/* The stretched stamp turned and scaled into an A8 surface, then PNG bytes into @p out. */
static int ssi_png_gray(const ssi_image *im, const ssi_turn *t, int bilinear, int w, int h,
                        ss_wbuf *out, size_t *nan, ss_err *err)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A8, w, h);
    cairo_status_t st = cairo_surface_status(s);
    long got = 0;
    if (st == CAIRO_STATUS_SUCCESS) {
        cairo_surface_flush(s);
        unsigned char *d = cairo_image_surface_get_data(s);
        int stride = cairo_image_surface_get_stride(s);
        got = bilinear ? ssi_fill_bilinear(im, t, d, stride, w, h)
                       : ssi_fill_nearest(im, t, d, stride, w, h);
        cairo_surface_mark_dirty(s);
    }
    int rc = st == CAIRO_STATUS_SUCCESS && got >= 0 ? ssi_png_write(s, out, err) : 0;
    cairo_surface_destroy(s);
    *nan = got > 0 ? (size_t)got : 0;
    if (st == CAIRO_STATUS_NO_MEMORY || got < 0)
        return ss_err_set(err, SS_ENOMEM, "out of memory writing a stamp's PNG");
    return st == CAIRO_STATUS_SUCCESS ? rc
                                      : ss_err_set(err, SS_EFORMAT, "writing a stamp's PNG: %s",
                                                   cairo_status_to_string(st));
}

static void ssi_cutout_info(const ssi_image *im, const ssi_turn *t, int w, int h, double lo,
                            double hi, ss_draw_cutout_info *info)
{
    *info = (ss_draw_cutout_info){.hdu = im->hdu,
                                  .fits_width = im->nx,
                                  .fits_height = im->ny,
                                  .width = w,
                                  .height = h,
                                  .wcs = im->has_wcs,
                                  .quarter_turns = t->quarter_turns,
                                  .flipped = t->flipped,
                                  .residual_deg = t->residual_deg,
                                  .vmin = lo,
                                  .vmax = hi};
}

int ss_draw_cutout_render(const void *bytes, size_t len, const ss_draw_cutout_options *o,
                          ss_wbuf *out, ss_draw_cutout_info *info, ss_err *err)
{
    static const ss_draw_cutout_options none = {0};
    o = o ? o : &none;
    ssi_image im;
    int rc = ssi_fits_read(bytes, len, &im, err), w = 0, h = 0;
    if (rc)
        return rc;
    ssi_turn t = ssi_turn_for(&im);
    double lo = 0, hi = 0;
    size_t nan = 0;
    if (!(rc = ssi_cutout_size(o, &im, &t, &w, &h, err)) &&
        !(rc = ssi_limits(&im, o->stretch, &lo, &hi, err))) {
        ssi_stretch(im.px, (size_t)im.nx * (size_t)im.ny, o->stretch, lo, hi);
        rc = ssi_png_gray(&im, &t, o->bilinear, w, h, out, &nan, err);
    }
    if (!rc && info) {
        ssi_cutout_info(&im, &t, w, h, lo, hi, info);
        info->nan_pixels = nan;
    }
    free(im.px);
    return rc;
}

/* ---- a stored stamp ---- */

typedef struct ssi_pick {
    ss_cutout_kind kind;
    ss_store_cutout match;
    int n;
    char surveys[128];
} ssi_pick;

static int ssi_pick_one(void *ctx, const ss_store_cutout *c)
{
    ssi_pick *p = ctx;
    if (c->kind != p->kind)
        return 0;
    if (p->n++ == 0)
        p->match = *c;
    size_t n = strlen(p->surveys);
    snprintf(p->surveys + n, sizeof p->surveys - n, "%s%s", n ? ", " : "", c->survey);
    return 0;
}

int ss_draw_cutout(ss_store_txn *txn, const char *alert_id, const char *survey, ss_cutout_kind kind,
                   const ss_draw_cutout_options *o, ss_wbuf *out, ss_draw_cutout_info *info,
                   ss_err *err)
{
    ssi_pick p = {.kind = kind};
    const char *name = ss_cutout_kind_name(kind);
    int rc = ss_store_cutouts_each(txn, alert_id, survey, ssi_pick_one, &p);
    if (rc)
        return ss_err_set(err, rc, "reading the stamps of alert '%s': %s", alert_id,
                          ss_strerror(rc));
    if (!p.n)
        return ss_err_set(err, SS_ENOTFOUND, "alert '%s' has no %s stamp", alert_id, name);
    if (p.n > 1)
        return ss_err_set(err, SS_EAMBIGUOUS,
                          "alert '%s' has a %s stamp in several surveys (%s): name the survey",
                          alert_id, name, p.surveys);
    rc = ss_draw_cutout_render(p.match.bytes, p.match.len, o, out, info, err);
    if (rc == SS_EFORMAT && err)
        ss_err_prefix(err, "the %s stamp of alert '%s'", name, alert_id);
    return rc;
}
