/* Private to core/draw/: the canvas (a cairo surface writing SVG or PNG into a buffer), axes,
 * colours, and the stamp's pixels between the FITS reader and the picture. */
#ifndef SS_DRAW_IMPL_H
#define SS_DRAW_IMPL_H

#include "draw.h"

#include <cairo.h>

/* ---- canvas.c ---- */

/* A picture being drawn: its surface writes into out (SVG as it goes, PNG at the end). */
typedef struct ssi_canvas {
    cairo_surface_t *surface;
    cairo_t *cr;
    ss_draw_format format;
    ss_wbuf *out;
    size_t start; /* where the picture starts in out */
    double width, height;
    double scale; /* of fonts, markers and margins: 1 at 600 x 400 */
} ssi_canvas;

/* Start a white picture of width x height. @return 0, SS_ENOMEM or SS_EFORMAT (cairo's status). */
int ssi_canvas_open(ssi_canvas *c, ss_draw_format format, int width, int height, ss_wbuf *out,
                    ss_err *err);
/* Finish the picture into c->out and free the surface (also after an error: @p failed then only
 * frees). @return 0 or SS_EFORMAT / SS_ENOMEM. */
int ssi_canvas_close(ssi_canvas *c, int failed, ss_err *err);
/* cairo's write function into an ss_wbuf. */
cairo_status_t ssi_wbuf_write(void *closure, const unsigned char *data, unsigned int length);
/* Text of @p size pixels at (x, y): @p ax, @p ay the anchor in the text's box (0 left/top, 0.5
 * centre, 1 right/bottom); rotated by @p angle radians about the anchor. */
void ssi_text(cairo_t *cr, const char *s, double size, double x, double y, double ax, double ay,
              double angle);
/* The width of @p s at @p size pixels. */
double ssi_text_width(cairo_t *cr, const char *s, double size);
void ssi_rgb(cairo_t *cr, unsigned rgb);
/* Insert <title> and <desc> (escaped) after the opening <svg> tag of the SVG text that starts at
 * @p start of @p out. @return 0 or SS_ENOMEM. */
int ssi_svg_meta(ss_wbuf *out, size_t start, const char *title, const char *desc);

/* Tick positions: a step of 1, 2 or 5 times a power of ten giving about @p target ticks over
 * [lo, hi]; *decimals the digits a label needs. */
double ssi_nice_step(double lo, double hi, int target, int *decimals);

/* ---- png.c ---- */

/* Append the PNG of image surface @p s (A8: gray; RGB24: RGB) to @p out: rows filtered "Up",
 * zlib's fastest level. @return 0, SS_ENOMEM, or SS_EINVAL for another format. */
int ssi_png_write(cairo_surface_t *s, ss_wbuf *out, ss_err *err);

/* ---- colours.c ---- */

/* Marker shapes. */
typedef enum ssi_shape {
    SSI_CIRCLE,
    SSI_SQUARE,
    SSI_DIAMOND,
    SSI_TRIANGLE_UP,
    SSI_PENTAGON,
    SSI_HEXAGON,
    SSI_SHAPE__COUNT
} ssi_shape;

/* The colour and marker of a band of a survey; @p nth_unknown counts the bands already given a
 * fallback colour, so two unknown bands differ. @return 1 when the band is a known one. */
int ssi_band_style(const char *survey, const char *band, size_t nth_unknown, unsigned *rgb,
                   ssi_shape *shape);
/* The order of a known band (u g r i z y), or 100 for another, so the legend reads blue to red. */
int ssi_band_rank(const char *band);
/* The path of a marker of @p shape of radius @p r at (x, y); the caller fills or strokes it. */
void ssi_marker_path(cairo_t *cr, ssi_shape shape, double x, double y, double r);
/* A downward triangle (an upper limit) of radius @p r at (x, y). */
void ssi_limit_path(cairo_t *cr, double x, double y, double r);

/* ---- fits.c ---- */

/* One stamp's pixels, row 0 at the bottom as FITS counts them (NAN: no value). */
typedef struct ssi_image {
    float *px; /* malloc'd, nx * ny */
    long nx, ny;
    int hdu;
    int has_wcs;
    double cd[2][2]; /* (RA-like, Dec-like) per pixel step in (x, y): the CD matrix */
} ssi_image;

/* Read the first 2-D image HDU of @p bytes (FITS, or gzip FITS). @return 0, SS_EFORMAT or
 * SS_ENOMEM; on success im->px is the caller's to free. */
int ssi_fits_read(const void *bytes, size_t len, ssi_image *im, ss_err *err);

/* ---- stretch.c ---- */

/* IRAF's zscale limits of the finite values of @p px (n of them) as astropy computes them;
 * *lo == *hi when there are none. @return 0 or SS_ENOMEM. */
int ssi_zscale(const float *px, size_t n, double *lo, double *hi);
/* The 0.5th and 99.5th percentiles of a sample of the finite values. @return 0 or SS_ENOMEM. */
int ssi_percentiles(const float *px, size_t n, double *lo, double *hi);
/* Map @p px in place to [0, 1] (NAN kept) with @p stretch between @p lo and @p hi. */
void ssi_stretch(float *px, size_t n, ss_draw_stretch stretch, double lo, double hi);

/* ---- orient.c ---- */

/* A quarter-turn map of pixel steps (x, y) to screen steps (right, up): m = [[a, b], [c, d]]
 * with entries 0 or +-1. */
typedef struct ssi_turn {
    int m[2][2];
    int quarter_turns, flipped;
    double residual_deg;
} ssi_turn;

/* The turn putting north up and east left as nearly as quarter turns and a flip can, from the
 * CD matrix; the identity without a WCS. */
ssi_turn ssi_turn_for(const ssi_image *im);
/* Sample the turned image into @p dst (w x h, row 0 at the top) bilinearly. */
void ssi_resample(const ssi_image *im, const ssi_turn *t, float *dst, int w, int h);
/* The nearest pixels of the turned image, as offsets: screen pixel (i, j) of a w x h picture
 * shows im->px[col[i] + row[j]] (a quarter turn moves each screen axis along one image axis). */
void ssi_nearest_map(const ssi_image *im, const ssi_turn *t, int w, int h, size_t *col,
                     size_t *row);

#endif
