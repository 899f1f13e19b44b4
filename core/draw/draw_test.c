/* core/draw/ tested by looking at its pictures: PNGs decoded again (cairo) and read pixel by
 * pixel for what a person would see (two bands in two colours across the plot, the jump tag's
 * line at its MJD, fluxes below zero, downward triangles, open markers), SVG text, and stamps
 * drawn from FITS built here (north up or down, NaNs, sizes, damaged bytes) and from the shared
 * ZTF and Rubin alerts (skipped without them). */
#include "draw.h"
#include "store.h"
#include "testutil.h"
#include "tu_png.h"

#include <cairo.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- decoded PNGs ---- */

typedef struct img {
    cairo_surface_t *s;
    int w, h, stride;
    cairo_format_t format;
    const unsigned char *d;
} img;

static img png_decode(const void *bytes, size_t len)
{
    img m = {.s = tu_png_decode(bytes, len)};
    m.w = cairo_image_surface_get_width(m.s);
    m.h = cairo_image_surface_get_height(m.s);
    m.stride = cairo_image_surface_get_stride(m.s);
    m.format = cairo_image_surface_get_format(m.s);
    m.d = cairo_image_surface_get_data(m.s);
    return m;
}

/* 0xRRGGBB of a pixel (a gray PNG reads as gray RGB or as A8). */
static unsigned px(const img *m, int x, int y)
{
    if (x < 0 || y < 0 || x >= m->w || y >= m->h)
        return 0xffffff;
    const unsigned char *row = m->d + (size_t)y * (size_t)m->stride;
    if (m->format == CAIRO_FORMAT_A8)
        return row[x] * 0x010101u;
    uint32_t v;
    memcpy(&v, row + 4 * x, 4);
    return v & 0xffffff;
}

static int gray_of(const img *m, int x, int y)
{
    return (int)(px(m, x, y) & 0xff);
}

static int whitish(unsigned c)
{
    return (c >> 16 & 255) >= 0xd8 && (c >> 8 & 255) >= 0xd8 && (c & 255) >= 0xd8;
}

/* Pixels not near white in row @p y from @p x0 to @p x1. */
static int ink_in_row(const img *m, int y, int x0, int x1)
{
    int n = 0;
    for (int x = x0; x <= x1; x++)
        n += !whitish(px(m, x, y));
    return n;
}

static double x_of(const ss_draw_lc_info *i, double mjd)
{
    return i->plot_x0 + (mjd - i->x_min) / (i->x_max - i->x_min) * (i->plot_x1 - i->plot_x0);
}

static double y_of(const ss_draw_lc_info *i, double v)
{
    return i->plot_y0 + (v - i->y_top) / (i->y_bottom - i->y_top) * (i->plot_y1 - i->plot_y0);
}

/* ---- the simulated night: the tutorial's survey, its jump source tagged ---- */

static char *night_store;
static double jump_mjd; /* the jump source's first bright observation */

static void night_setup(void)
{
    tu_tmp_setup();
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_sks(&out, &err,
                            "simulate --quiet --out %s/night.csv --truth %s/truth.jsonl", tu_tmp,
                            tu_tmp),
                     0);
    free(out), free(err);
    char *set = NULL;
    ck_assert_int_ge(asprintf(&set, "[filter jump_lua]\npath = %s/jump/jump.lua\n", SS_CONTRIB_SRC),
                     0);
    free(tu_write(tu_tmp, "set.ini", set));
    night_store = tu_path(tu_tmp, "st");
    ck_assert_int_eq(
        tu_sks(&out, &err, "ingest --quiet --radius 5 --store %s --filters %s/set.ini %s/night.csv",
               night_store, tu_tmp, tu_tmp),
        0);
    free(out), free(err), free(set);
    char *truth_path = tu_path(tu_tmp, "truth.jsonl");
    size_t truth_len;
    char *truth = tu_read_file(truth_path, &truth_len);
    char *line = strstr(truth, "\"object_id\":\"SIM00000126\",\"model\":\"jump\"");
    ck_assert_ptr_nonnull(line);
    char *at = strstr(line, "\"first_bright_mjd\":");
    ck_assert_ptr_nonnull(at);
    jump_mjd = strtod(at + strlen("\"first_bright_mjd\":"), NULL);
    free(truth), free(truth_path);
}

static void night_teardown(void)
{
    free(night_store);
    tu_tmp_teardown();
}

/* Draw locus @p id of the night. @return the drawing's code. */
static int night_lc(const char *id, const ss_draw_lc_options *o, ss_wbuf *b, ss_draw_lc_info *info,
                    ss_err *err)
{
    ss_store *st;
    ss_store_txn *txn;
    ss_store_options so = {.readonly = 1};
    ck_assert_msg(ss_store_open(night_store, &so, &st, err) == 0, "%s", err->msg);
    ck_assert_int_eq(ss_store_txn_begin(st, SS_STORE_READ, &txn), 0);
    int rc = ss_draw_lightcurve(txn, id, o, b, info, err);
    ss_store_txn_abort(txn);
    ss_store_close(st);
    return rc;
}

/* Where band colour @p rgb is inside the plot: how many pixels, the leftmost and rightmost. */
static int colour_span(const img *m, const ss_draw_lc_info *i, unsigned rgb, int *left, int *right)
{
    int n = 0;
    *left = m->w, *right = -1;
    for (int y = (int)i->plot_y0 + 1; y < (int)i->plot_y1; y++)
        for (int x = (int)i->plot_x0 + 1; x < (int)i->plot_x1; x++)
            if (px(m, x, y) == rgb) {
                n++;
                *left = x < *left ? x : *left;
                *right = x > *right ? x : *right;
            }
    return n;
}

/* The column of the plot with the most mid-gray pixels (a tag's dashed line), and their count. */
static int gray_column(const img *m, const ss_draw_lc_info *i, int *count)
{
    int best = -1;
    *count = 0;
    for (int x = (int)i->plot_x0 + 2; x < (int)i->plot_x1 - 1; x++) {
        int n = 0;
        for (int y = (int)i->plot_y0 + 1; y < (int)i->plot_y1; y++) {
            unsigned c = px(m, x, y);
            int r = c >> 16 & 255, g = c >> 8 & 255, b = c & 255;
            n += r == g && g == b && r >= 0x60 && r <= 0xb0;
        }
        if (n > *count)
            *count = n, best = x;
    }
    return best;
}

START_TEST(jump_source_png_two_bands_across_the_plot)
{
    ss_draw_lc_options o = {.format = SS_DRAW_PNG};
    ss_wbuf b = {0};
    ss_draw_lc_info info;
    ss_err err = {0};
    ck_assert_msg(night_lc("SIM00000126", &o, &b, &info, &err) == 0, "%s", err.msg);
    img m = png_decode(b.data, b.len);
    ck_assert_int_eq(m.w, 600);
    ck_assert_int_eq(m.h, 400);
    ck_assert_uint_eq(info.nbands, 2);
    ck_assert_str_eq(info.bands[0].name, "g");
    ck_assert_str_eq(info.bands[1].name, "r");
    ck_assert_uint_ne(info.bands[0].rgb, info.bands[1].rgb);
    double width = info.plot_x1 - info.plot_x0;
    for (int k = 0; k < 2; k++) {
        int left, right, n = colour_span(&m, &info, info.bands[k].rgb, &left, &right);
        ck_assert_msg(n >= 100, "band %s: %d pixels of its colour %06x", info.bands[k].name, n,
                      info.bands[k].rgb);
        ck_assert_msg(left - info.plot_x0 < 0.06 * width && info.plot_x1 - right < 0.06 * width,
                      "band %s spans %d to %d of %.0f to %.0f", info.bands[k].name, left, right,
                      info.plot_x0, info.plot_x1);
    }
    /* the jump tag: a dashed line down the plot where the jump was first seen */
    ck_assert_uint_ge(info.marks, 1);
    int count, col = gray_column(&m, &info, &count);
    ck_assert_msg(count > (info.plot_y1 - info.plot_y0) / 3, "the tag's line has %d pixels", count);
    ck_assert_msg(fabs(col - x_of(&info, jump_mjd)) <= 3,
                  "the tag's line at x %d, MJD %.3f at %.1f", col, jump_mjd, x_of(&info, jump_mjd));
    cairo_surface_destroy(m.s);
    ss_wbuf_free(&b);
}
END_TEST

START_TEST(svg_has_the_size_asked)
{
    ss_draw_lc_options o = {.format = SS_DRAW_SVG, .width = 800, .height = 500};
    ss_wbuf b = {0};
    ss_draw_lc_info info;
    ss_err err = {0};
    ck_assert_msg(night_lc("SIM00000126", &o, &b, &info, &err) == 0, "%s", err.msg);
    ss_wbuf_bytes(&b, "", 1);
    const char *svg = (const char *)b.data;
    ck_assert_msg(!strncmp(svg, "<?xml", 5), "%.40s", svg);
    ck_assert_ptr_nonnull(strstr(svg, "<svg"));
    ck_assert_ptr_nonnull(strstr(svg, "width=\"800px\" height=\"500px\""));
    ck_assert_ptr_nonnull(strstr(svg, "<title>SKY"));
    ck_assert_ptr_nonnull(strstr(svg, "</svg>"));
    ck_assert_double_le(info.plot_x1, 800);
    ck_assert_double_le(info.plot_y1, 500);
    ss_wbuf_free(&b);
}
END_TEST

/* As a filter saw it at the jump source's first alert: that one point, no tag yet, the as_of
 * line; one band when asked; errors for what is not there. */
START_TEST(as_of_bands_and_errors)
{
    ss_draw_lc_options o = {.format = SS_DRAW_PNG, .as_of = "126"}; /* exposure 1 of 126 sources */
    ss_wbuf b = {0};
    ss_draw_lc_info info;
    ss_err err = {0};
    ck_assert_msg(night_lc("SIM00000126", &o, &b, &info, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(info.points, 1);
    ck_assert_uint_eq(info.marks, 1);
    ss_wbuf_reset(&b);
    o = (ss_draw_lc_options){.format = SS_DRAW_PNG, .bands = "r"};
    ck_assert_int_eq(night_lc("SIM00000126", &o, &b, &info, &err), 0);
    ck_assert_uint_eq(info.nbands, 1);
    ck_assert_str_eq(info.bands[0].name, "r");
    ss_wbuf_reset(&b);
    o = (ss_draw_lc_options){.format = SS_DRAW_PNG, .as_of = "nope"};
    ck_assert_int_eq(night_lc("SIM00000126", &o, &b, &info, &err), SS_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
    o = (ss_draw_lc_options){.format = SS_DRAW_PNG};
    ck_assert_int_eq(night_lc("SIM99999999", &o, &b, &info, &err), SS_ENOTFOUND);
    o.width = 50;
    ck_assert_int_eq(night_lc("SIM00000126", &o, &b, &info, &err), SS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "50"));
    ss_wbuf_free(&b);
}
END_TEST

/* ---- a hand-made light curve: every kind of point ---- */

static ss_alert *add(ss_packet *p, const char *id, const char *band, ss_alert_kind kind, double mjd,
                     double flux)
{
    ss_alert *a = ss_packet_add(p);
    ck_assert_ptr_nonnull(a);
    a->survey = "sim";
    a->alert_id = ss_packet_strdup(p, id, strlen(id));
    a->passband = band;
    a->kind = kind;
    a->mjd = mjd;
    a->ra = a->dec = 10;
    a->flux = flux, a->fluxerr = 300;
    a->mag = flux > 0 ? SS_NJY_ZEROPOINT - 2.5 * log10(flux) : NAN;
    a->magerr = flux > 0 ? 0.02 : NAN;
    a->maglim = NAN;
    return a;
}

static ss_packet *every_kind(void)
{
    ss_packet *p = ss_packet_new();
    add(p, "d1", "g", SS_ALERT_DETECTION, 100, 20000);
    add(p, "d2", "g", SS_ALERT_DETECTION, 102, -8000); /* no magnitude */
    add(p, "d3", "g", SS_ALERT_DETECTION, 110, 5000);
    ss_alert *l = add(p, "l1", "g", SS_ALERT_UPPER_LIMIT, 105, NAN);
    l->fluxerr = NAN, l->maglim = 21; /* 14454 nJy */
    add(p, "f1", "r", SS_ALERT_FORCED, 107, -3000);
    return p;
}

/* A point's pixel centre. */
static void at(const ss_draw_lc_info *i, double mjd, double v, int *x, int *y)
{
    *x = (int)floor(x_of(i, mjd));
    *y = (int)floor(y_of(i, v));
}

START_TEST(flux_is_signed_limits_are_triangles_forced_is_open)
{
    ss_packet *p = every_kind();
    ss_draw_mark mark = {.label = "hello", .mjd = 103};
    ss_draw_lc_options o = {.format = SS_DRAW_PNG, .flux = 1, .width = 1800, .height = 1200};
    ss_wbuf b = {0};
    ss_draw_lc_info info;
    ss_err err = {0};
    ck_assert_msg(ss_draw_lightcurve_render(p, &mark, 1, "every kind", &o, &b, &info, &err) == 0,
                  "%s", err.msg);
    img m = png_decode(b.data, b.len);
    ck_assert_uint_eq(info.points, 5);
    ck_assert_double_lt(info.y_bottom, -8000);
    ck_assert_double_gt(info.y_top, 20000);
    unsigned g = info.bands[0].rgb, r = info.bands[1].rgb;
    int x, y, x0, y0;
    /* the negative detection: filled, below the zero line */
    at(&info, 102, -8000, &x, &y);
    at(&info, 102, 0, &x0, &y0);
    ck_assert_int_gt(y, y0 + 50);
    ck_assert_msg(px(&m, x, y) == g, "%06x at the negative point", px(&m, x, y));
    /* the limit: a triangle pointing down (wide at the top, narrow at the bottom), see-through */
    double rad = 3.6 * 3; /* a marker's radius at 3 times 600 x 400 */
    at(&info, 105, 14454, &x, &y);
    int top = ink_in_row(&m, y - (int)(0.6 * rad), x - 20, x + 20);
    int bottom = ink_in_row(&m, y + (int)(1.0 * rad), x - 20, x + 20);
    ck_assert_msg(top > 2 * bottom && bottom > 0, "limit rows: %d at the top, %d at the bottom",
                  top, bottom);
    ck_assert(px(&m, x, y) != g && !whitish(px(&m, x, y)));
    /* forced photometry: an open square, white inside, its edge in its band's colour */
    at(&info, 107, -3000, &x, &y);
    ck_assert_uint_eq(px(&m, x + (int)(0.45 * rad), y), 0xffffff);
    int edge = 0;
    for (int dx = -2; dx <= 2; dx++)
        edge |= px(&m, x + (int)(0.85 * rad) + dx, y) == r;
    ck_assert_msg(edge, "no edge in %06x right of the forced point", r);
    /* the mark: a gray line at its MJD */
    int count, col = gray_column(&m, &info, &count);
    ck_assert_msg(abs(col - (int)x_of(&info, 103)) <= 3 && count > 200, "mark at %d (%d pixels)",
                  col, count);
    cairo_surface_destroy(m.s);
    /* magnitudes: the negative and the forced fluxes have none; brighter is up */
    ss_wbuf_reset(&b);
    o.flux = 0;
    ck_assert_int_eq(ss_draw_lightcurve_render(p, NULL, 0, NULL, &o, &b, &info, &err), 0);
    ck_assert_uint_eq(info.points, 3);
    ck_assert_double_lt(info.y_top, info.y_bottom);
    ss_wbuf_free(&b);
    ss_packet_free(p);
}
END_TEST

/* ---- stamps built here ---- */

typedef struct fits_opts {
    long nx, ny;
    const double *cd; /* CD1_1, CD1_2, CD2_1, CD2_2; NULL: no WCS */
    int naxis;        /* 0: 2 */
} fits_opts;

static void card(ss_wbuf *h, const char *key, const char *value)
{
    char c[81];
    snprintf(c, sizeof c, "%-8s= %20s", key, value);
    memset(c + strlen(c), ' ', 80 - strlen(c));
    ss_wbuf_bytes(h, c, 80);
}

/* A FITS image of float pixels (big-endian), padded to whole records. @return malloc'd bytes. */
static unsigned char *make_fits(const fits_opts *f, const float *pix, size_t *len)
{
    ss_wbuf h = {0};
    char v[32];
    card(&h, "SIMPLE", "T");
    card(&h, "BITPIX", "-32");
    snprintf(v, sizeof v, "%d", f->naxis ? f->naxis : 2);
    card(&h, "NAXIS", v);
    snprintf(v, sizeof v, "%ld", f->nx);
    card(&h, "NAXIS1", v);
    if (f->naxis != 1) {
        snprintf(v, sizeof v, "%ld", f->ny);
        card(&h, "NAXIS2", v);
    }
    if (f->cd) {
        const char *keys[] = {"CD1_1", "CD1_2", "CD2_1", "CD2_2"};
        card(&h, "CTYPE1", "'RA---TAN'");
        card(&h, "CTYPE2", "'DEC--TAN'");
        card(&h, "CRVAL1", "150.0");
        card(&h, "CRVAL2", "2.0");
        card(&h, "CRPIX1", "20.0");
        card(&h, "CRPIX2", "20.0");
        for (int i = 0; i < 4; i++) {
            snprintf(v, sizeof v, "%.10E", f->cd[i]);
            card(&h, keys[i], v);
        }
    }
    char end[81];
    snprintf(end, sizeof end, "%-80s", "END");
    ss_wbuf_bytes(&h, end, 80);
    while (h.len % 2880)
        ss_wbuf_bytes(&h, " ", 1);
    size_t n = (size_t)f->nx * (size_t)(f->naxis == 1 ? 1 : f->ny);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &pix[i], 4);
        unsigned char be[4] = {u >> 24, u >> 16 & 255, u >> 8 & 255, u & 255};
        ss_wbuf_bytes(&h, be, 4);
    }
    while (h.len % 2880)
        ss_wbuf_bytes(&h, "", 1);
    *len = h.len;
    return h.data;
}

static unsigned char *gzip(const unsigned char *in, size_t len, size_t *out_len)
{
    z_stream z = {0};
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)in, z.avail_in = (uInt)len;
    z.next_out = out, z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

/* 40 x 40 of gentle noise with a bright 6 x 6 block at FITS x 2-7, y 30-35: the top left when
 * row 0 is at the bottom (FITS's way, and north up). */
static float *block_image(void)
{
    float *p = malloc(40 * 40 * sizeof *p);
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 40; x++)
            p[y * 40 + x] = (float)(100 + (x * 7 + y * 13) % 11);
    for (int y = 30; y < 36; y++)
        for (int x = 2; x < 8; x++)
            p[y * 40 + x] = 5000;
    return p;
}

/* 40 x 40 of noise (a hash of the pixel's index): gzip cannot shrink it much. */
static float *noise_image(void)
{
    float *p = malloc(40 * 40 * sizeof *p);
    for (uint32_t i = 0; i < 40 * 40; i++)
        p[i] = (float)((i * 2654435761u) >> 16) / 65536.0f;
    return p;
}

/* Draw @p bytes at @p size, nearest pixel. */
static int draw_stamp(const void *bytes, size_t len, int size, ss_wbuf *b, ss_draw_cutout_info *i,
                      ss_err *err)
{
    ss_draw_cutout_options o = {.size = size};
    ss_wbuf_reset(b);
    return ss_draw_cutout_render(bytes, len, &o, b, i, err);
}

/* Where the bright block lands in the PNG of a 40 x 40 image drawn at 40: top or bottom, left or
 * right. */
static void block_corner(const double *cd, int want_top, int want_left)
{
    float *p = block_image();
    size_t len;
    fits_opts f = {.nx = 40, .ny = 40, .cd = cd};
    unsigned char *fits = make_fits(&f, p, &len);
    ss_wbuf b = {0};
    ss_draw_cutout_info info;
    ss_err err = {0};
    ck_assert_msg(draw_stamp(fits, len, 40, &b, &info, &err) == 0, "%s", err.msg);
    img m = png_decode(b.data, b.len);
    ck_assert_int_eq(m.w, 40);
    ck_assert_int_eq(m.h, 40);
    int row = want_top ? 6 : 33, colm = want_left ? 4 : 35;
    ck_assert_msg(gray_of(&m, colm, row) == 255, "the block is not at (%d, %d): %d", colm, row,
                  gray_of(&m, colm, row));
    ck_assert_int_lt(gray_of(&m, want_left ? 35 : 4, row), 255);
    ck_assert_int_lt(gray_of(&m, colm, want_top ? 33 : 6), 255);
    ck_assert_int_eq(info.wcs, cd != NULL);
    cairo_surface_destroy(m.s);
    ss_wbuf_free(&b);
    free(fits), free(p);
}

START_TEST(north_up_east_left)
{
    const double d = 1.0 / 3600;
    const double north_up[] = {-d, 0, 0, d}, north_down[] = {-d, 0, 0, -d},
                 east_right[] = {d, 0, 0, d};
    block_corner(NULL, 1, 1);       /* no WCS: as ds9 shows it, row 0 at the bottom */
    block_corner(north_up, 1, 1);   /* as stored */
    block_corner(north_down, 0, 1); /* flipped top to bottom */
    block_corner(east_right, 1, 0); /* mirrored */
}
END_TEST

/* North along +x and east along +y: a quarter turn. A 40 x 20 image is drawn 20 wide and 40
 * high, its +x pointing up and its +y left, by nearest pixel and bilinearly alike. */
START_TEST(a_quarter_turn_when_north_runs_along_x)
{
    const double d = 1.0 / 3600, cd[] = {0, d, d, 0};
    float p[40 * 20];
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 40; x++)
            p[y * 40 + x] = x >= 2 && x < 8 && y >= 12 && y < 18 ? 5000 : (float)((x * 7 + y) % 11);
    size_t len;
    fits_opts f = {.nx = 40, .ny = 20, .cd = cd};
    unsigned char *fits = make_fits(&f, p, &len);
    for (int bilinear = 0; bilinear < 2; bilinear++) {
        ss_wbuf b = {0};
        ss_draw_cutout_info info;
        ss_err err = {0};
        ss_draw_cutout_options o = {.size = 40, .bilinear = bilinear};
        ck_assert_msg(ss_draw_cutout_render(fits, len, &o, &b, &info, &err) == 0, "%s", err.msg);
        img m = png_decode(b.data, b.len);
        ck_assert_int_eq(m.w, 20);
        ck_assert_int_eq(m.h, 40);
        ck_assert_int_eq(info.quarter_turns % 2, 1);
        /* image x 2-7 is screen rows 32-37 (up from the bottom); y 12-17 columns 7-2 */
        ck_assert_msg(gray_of(&m, 4, 35) == 255, "bilinear %d: %d at the block", bilinear,
                      gray_of(&m, 4, 35));
        ck_assert_int_lt(gray_of(&m, 15, 35), 128);
        ck_assert_int_lt(gray_of(&m, 4, 5), 128);
        cairo_surface_destroy(m.s);
        ss_wbuf_free(&b);
    }
    free(fits);
}
END_TEST

START_TEST(nan_pixels_are_neutral_gray)
{
    float *p = block_image();
    for (int y = 10; y < 20; y++)
        for (int x = 10; x < 20; x++)
            p[y * 40 + x] = NAN;
    size_t len, glen;
    fits_opts f = {.nx = 40, .ny = 40};
    unsigned char *fits = make_fits(&f, p, &len), *gz = gzip(fits, len, &glen);
    ss_wbuf b = {0};
    ss_draw_cutout_info info;
    ss_err err = {0};
    ck_assert_msg(draw_stamp(gz, glen, 40, &b, &info, &err) == 0, "%s", err.msg);
    img m = png_decode(b.data, b.len);
    ck_assert_uint_eq(info.nan_pixels, 100);
    /* FITS rows 10-19 are PNG rows 20-29 */
    for (int y = 20; y < 30; y++)
        for (int x = 10; x < 20; x++)
            ck_assert_int_eq(gray_of(&m, x, y), 128);
    int lo = 255, hi = 0;
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 40; x++)
            lo = gray_of(&m, x, y) < lo ? gray_of(&m, x, y) : lo,
            hi = gray_of(&m, x, y) > hi ? gray_of(&m, x, y) : hi;
    ck_assert_int_eq(lo, 0);
    ck_assert_int_eq(hi, 255);
    cairo_surface_destroy(m.s);
    ss_wbuf_free(&b);
    free(fits), free(gz), free(p);
}
END_TEST

START_TEST(size_scales_and_keeps_the_aspect)
{
    float p[40 * 20];
    for (int i = 0; i < 40 * 20; i++)
        p[i] = (float)(i % 17);
    size_t len;
    fits_opts f = {.nx = 40, .ny = 20};
    unsigned char *fits = make_fits(&f, p, &len);
    ss_wbuf b = {0};
    ss_draw_cutout_info info;
    ss_err err = {0};
    int sizes[][3] = {{100, 100, 50}, {0, 256, 128}, {9, 9, 5}};
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(draw_stamp(fits, len, sizes[i][0], &b, &info, &err) == 0, "%s", err.msg);
        img m = png_decode(b.data, b.len);
        ck_assert_int_eq(m.w, sizes[i][1]);
        ck_assert_int_eq(m.h, sizes[i][2]);
        ck_assert_int_eq(info.width, m.w);
        cairo_surface_destroy(m.s);
    }
    ck_assert_int_eq(draw_stamp(fits, len, 4, &b, &info, &err), SS_EINVAL);
    ck_assert_int_eq(draw_stamp(fits, len, 5000, &b, &info, &err), SS_EINVAL);
    ss_wbuf_free(&b);
    free(fits);
}
END_TEST

/* Damaged bytes are SS_EFORMAT with a reason, never a crash (ASan watches the reads). */
START_TEST(damaged_stamps_are_format_errors)
{
    float *p = noise_image();
    size_t len, glen;
    fits_opts f = {.nx = 40, .ny = 40}, line = {.nx = 40, .naxis = 1};
    unsigned char *fits = make_fits(&f, p, &len), *gz = gzip(fits, len, &glen);
    unsigned char *bad = malloc(glen), garbage[5000];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (unsigned char)(i * 2654435761u >> 13);
    memcpy(bad, gz, glen);
    ck_assert_uint_gt(glen, 3000);
    memset(bad + glen / 3, 0xAA, 200); /* its middle overwritten */
    size_t llen;
    unsigned char *one_d = make_fits(&line, p, &llen);
    struct {
        const char *what;
        const void *bytes;
        size_t len;
    } cases[] = {
        {"empty", "", 0},
        {"garbage", garbage, sizeof garbage},
        {"truncated gzip", gz, glen / 2},
        {"damaged gzip", bad, glen},
        {"truncated FITS", fits, 2880 + 1000},
        {"a header only", fits, 2880},
        {"a 1-D image", one_d, llen},
        {"gzip of garbage", NULL, 0},
    };
    size_t gglen;
    unsigned char *gg = gzip(garbage, sizeof garbage, &gglen);
    cases[7].bytes = gg, cases[7].len = gglen;
    ss_wbuf b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ss_err err = {0};
        int rc = draw_stamp(cases[i].bytes, cases[i].len, 0, &b, NULL, &err);
        ck_assert_msg(rc == SS_EFORMAT, "%s: %d (%s)", cases[i].what, rc, err.msg);
        ck_assert_msg(err.msg[0], "%s: no message", cases[i].what);
    }
    ss_err err = {0};
    ck_assert_msg(draw_stamp(fits, len, 0, &b, NULL, &err) == 0, "%s", err.msg); /* the original */
    ss_wbuf_free(&b);
    free(fits), free(gz), free(bad), free(one_d), free(gg), free(p);
}
END_TEST

/* ---- the shared alerts' stamps ---- */

static char *real_store;

static void real_setup(void)
{
    tu_tmp_setup();
    char *ztf = tu_data_path("the shared ZTF alerts' stamps", "ztf/fink-local-v3.3");
    char *rubin = tu_data_path("the shared Rubin alerts' stamps", "lsst/rubin-lsstcam-v9.0");
    if (ztf && rubin) {
        char *out = NULL, *err = NULL;
        real_store = tu_path(tu_tmp, "real");
        ck_assert_int_eq(
            tu_sks(&out, &err, "ingest --quiet --store %s '%s' '%s'", real_store, ztf, rubin), 0);
        free(out), free(err);
    }
    free(ztf), free(rubin);
}

static void real_teardown(void)
{
    free(real_store);
    real_store = NULL;
    tu_tmp_teardown();
}

static void real_stamp(const char *alert_id, ss_cutout_kind kind, int size, long side, int wcs)
{
    ss_store *st;
    ss_store_txn *txn;
    ss_store_options so = {.readonly = 1};
    ss_err err = {0};
    ss_wbuf b = {0};
    ss_draw_cutout_info info;
    ss_draw_cutout_options o = {.size = size};
    ck_assert_msg(ss_store_open(real_store, &so, &st, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_store_txn_begin(st, SS_STORE_READ, &txn), 0);
    int rc = ss_draw_cutout(txn, alert_id, NULL, kind, &o, &b, &info, &err);
    ss_store_txn_abort(txn);
    ss_store_close(st);
    ck_assert_msg(rc == 0, "%s: %s", alert_id, err.msg);
    img m = png_decode(b.data, b.len);
    ck_assert_int_eq(m.w, size ? size : 256);
    ck_assert_int_eq(m.h, size ? size : 256);
    ck_assert_int_eq(info.fits_width, side);
    ck_assert_int_eq(info.wcs, wcs);
    int seen[256] = {0}, levels = 0;
    for (int y = 0; y < m.h; y++)
        for (int x = 0; x < m.w; x++)
            levels += !seen[gray_of(&m, x, y)]++;
    ck_assert_msg(levels > 30, "%s %s: %d gray levels", alert_id, ss_cutout_kind_name(kind),
                  levels);
    cairo_surface_destroy(m.s);
    ss_wbuf_free(&b);
}

START_TEST(real_ztf_and_rubin_stamps)
{
    if (!real_store)
        return;
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        real_stamp("1095578115815010001", (ss_cutout_kind)k, 0, 63, 0); /* gzip, no WCS */
        real_stamp("169298432598474793", (ss_cutout_kind)k, 0, 30, 1);  /* plain, 3 HDUs */
    }
    real_stamp("1095578115815010001", SS_CUTOUT_SCIENCE, 64, 63, 0);
    real_stamp("169298432598474793", SS_CUTOUT_DIFFERENCE, 120, 30, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("draw");
    TCase *lc = tcase_create("light curves of a simulated night");
    tcase_add_unchecked_fixture(lc, night_setup, night_teardown);
    /* each test's process drew text: fontconfig's caches go with it, or LeakSanitizer minds */
    tcase_add_checked_fixture(lc, NULL, ss_draw_release);
    tcase_set_timeout(lc, 120);
    tcase_add_test(lc, jump_source_png_two_bands_across_the_plot);
    tcase_add_test(lc, svg_has_the_size_asked);
    tcase_add_test(lc, as_of_bands_and_errors);
    suite_add_tcase(s, lc);
    TCase *pts = tcase_create("points");
    tcase_add_checked_fixture(pts, NULL, ss_draw_release);
    tcase_add_test(pts, flux_is_signed_limits_are_triangles_forced_is_open);
    suite_add_tcase(s, pts);
    TCase *st = tcase_create("stamps");
    tcase_add_test(st, north_up_east_left);
    tcase_add_test(st, a_quarter_turn_when_north_runs_along_x);
    tcase_add_test(st, nan_pixels_are_neutral_gray);
    tcase_add_test(st, size_scales_and_keeps_the_aspect);
    tcase_add_test(st, damaged_stamps_are_format_errors);
    suite_add_tcase(s, st);
    TCase *real = tcase_create("shared stamps");
    tcase_add_unchecked_fixture(real, real_setup, real_teardown);
    tcase_set_timeout(real, 120);
    tcase_add_test(real, real_ztf_and_rubin_stamps);
    suite_add_tcase(s, real);
    return tu_run_suite(s);
}
