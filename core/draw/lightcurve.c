/* A light curve drawn: points of a packet, per band, on axes with nice ticks, the tags as lines,
 * a legend in a column of its own so that it never hides a point. */
#include "draw_impl.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_ORANGE 0xe07000u /* the as_of alert and its line */

/* One marker: where, its error bar, its band key and kind. */
typedef struct ssi_pt {
    double x, y, err;
    int key;
    ss_alert_kind kind;
    int circled;
} ssi_pt;

typedef struct ssi_key {
    const char *survey, *band; /* borrowed from the packet */
    unsigned rgb;
    ssi_shape shape;
    size_t n;
} ssi_key;

typedef struct ssi_lc {
    ssi_canvas cv;
    const ss_draw_lc_options *o;
    const char *title;
    const ss_draw_mark *marks;
    size_t nmarks;
    ssi_pt *pts;
    size_t npts;
    ssi_key keys[SS_DRAW_MAX_BANDS];
    size_t nkeys;
    int multi_survey;
    unsigned kinds; /* bit per kind drawn */
    double px0, py0, px1, py1;
    double xmin, xmax, ybot, ytop;
} ssi_lc;

/* ---- the points ---- */

/* The value a measurement shows: its magnitude (a limit's limiting magnitude), or its flux (a
 * limit's is the flux of its limiting magnitude). @return 0 when it has none. */
static int ssi_value(const ss_alert *a, int flux, double *y, double *err)
{
    if (a->kind == SS_ALERT_UPPER_LIMIT) {
        *err = 0;
        *y = flux ? pow(10, (SS_NJY_ZEROPOINT - a->maglim) / 2.5) : a->maglim;
        return isfinite(*y);
    }
    *y = flux ? a->flux : a->mag;
    *err = flux ? a->fluxerr : a->magerr;
    if (!isfinite(*err) || *err < 0)
        *err = 0;
    return isfinite(*y);
}

static int ssi_shown(const ssi_lc *lc, const ss_alert *a, double *y, double *err)
{
    if (!isfinite(a->mjd) || (lc->o->bands && !ss_text_list_has(lc->o->bands, a->passband)))
        return 0;
    return ssi_value(a, lc->o->flux, y, err);
}

static int ssi_key_find(const ssi_lc *lc, const ss_alert *a)
{
    for (size_t i = 0; i < lc->nkeys; i++)
        if (!strcmp(lc->keys[i].band, a->passband) && !strcmp(lc->keys[i].survey, a->survey))
            return (int)i;
    return -1;
}

static int ssi_key_cmp(const void *pa, const void *pb)
{
    const ssi_key *a = pa, *b = pb;
    int ra = ssi_band_rank(a->band), rb = ssi_band_rank(b->band);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    int c = strcmp(a->band, b->band);
    return c ? c : strcmp(a->survey, b->survey);
}

/* The bands drawn, blue to red, each with its colour and marker. */
static void ssi_keys(ssi_lc *lc, const ss_packet *pkt)
{
    double y, e;
    for (uint32_t i = 0; i < pkt->n; i++) {
        const ss_alert *a = &pkt->alerts[i];
        if (lc->nkeys < SS_DRAW_MAX_BANDS && ssi_shown(lc, a, &y, &e) && ssi_key_find(lc, a) < 0)
            lc->keys[lc->nkeys++] = (ssi_key){.survey = a->survey, .band = a->passband};
    }
    qsort(lc->keys, lc->nkeys, sizeof *lc->keys, ssi_key_cmp);
    size_t unknown = 0;
    for (size_t i = 0; i < lc->nkeys; i++) {
        ssi_key *k = &lc->keys[i];
        unknown += !ssi_band_style(k->survey, k->band, unknown, &k->rgb, &k->shape);
        lc->multi_survey |= strcmp(k->survey, lc->keys[0].survey) != 0;
    }
}

static int ssi_points(ssi_lc *lc, const ss_packet *pkt)
{
    ssi_keys(lc, pkt);
    lc->pts = malloc((pkt->n ? pkt->n : 1) * sizeof *lc->pts);
    if (!lc->pts)
        return SS_ENOMEM;
    for (uint32_t i = 0; i < pkt->n; i++) {
        const ss_alert *a = &pkt->alerts[i];
        ssi_pt p = {.x = a->mjd, .kind = a->kind};
        if (!ssi_shown(lc, a, &p.y, &p.err) || (p.key = ssi_key_find(lc, a)) < 0)
            continue;
        p.circled = lc->o->as_of && !strcmp(a->alert_id, lc->o->as_of);
        lc->keys[p.key].n++;
        lc->kinds |= 1u << a->kind;
        lc->pts[lc->npts++] = p;
    }
    return 0;
}

/* ---- axes ---- */

static void ssi_pad(double *lo, double *hi, double frac, double empty)
{
    if (!(*hi > *lo)) {
        *lo -= empty, *hi += empty;
        return;
    }
    double pad = (*hi - *lo) * frac;
    *lo -= pad, *hi += pad;
}

static void ssi_ranges(ssi_lc *lc)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < lc->npts; i++) {
        const ssi_pt *p = &lc->pts[i];
        /* an error bar wider than the light curve would flatten it: those are clipped instead */
        double e = lc->o->flux || p->err < 1 ? p->err : 0;
        x0 = fmin(x0, p->x), x1 = fmax(x1, p->x);
        y0 = fmin(y0, p->y - e), y1 = fmax(y1, p->y + e);
    }
    for (size_t i = 0; i < lc->nmarks; i++)
        if (isfinite(lc->marks[i].mjd))
            x0 = fmin(x0, lc->marks[i].mjd), x1 = fmax(x1, lc->marks[i].mjd);
    if (lc->o->flux && lc->npts) /* difference flux is read against zero */
        y0 = fmin(y0, 0), y1 = fmax(y1, 0);
    if (!isfinite(x0))
        x0 = x1 = 0;
    if (!isfinite(y0))
        y0 = y1 = 0;
    ssi_pad(&x0, &x1, 0.03, 1);
    ssi_pad(&y0, &y1, 0.08, lc->o->flux ? fmax(1, fabs(y0) * 0.1) : 0.5);
    lc->xmin = x0, lc->xmax = x1;
    lc->ybot = lc->o->flux ? y0 : y1; /* magnitudes: brighter (smaller) up */
    lc->ytop = lc->o->flux ? y1 : y0;
}

static double ssi_px(const ssi_lc *lc, double mjd)
{
    return lc->px0 + (mjd - lc->xmin) / (lc->xmax - lc->xmin) * (lc->px1 - lc->px0);
}

static double ssi_py(const ssi_lc *lc, double v)
{
    return lc->py0 + (v - lc->ytop) / (lc->ybot - lc->ytop) * (lc->py1 - lc->py0);
}

static void ssi_key_label(const ssi_lc *lc, const ssi_key *k, char *buf, size_t cap)
{
    if (lc->multi_survey)
        snprintf(buf, cap, "%s %s", k->survey, k->band);
    else
        snprintf(buf, cap, "%s", k->band);
}

/* The legend's column: as wide as its longest label. */
static double ssi_legend_width(ssi_lc *lc)
{
    double s = lc->cv.scale, w = ssi_text_width(lc->cv.cr, "upper limit", 10.5 * s);
    for (size_t i = 0; i < lc->nkeys; i++) {
        char label[64];
        ssi_key_label(lc, &lc->keys[i], label, sizeof label);
        w = fmax(w, ssi_text_width(lc->cv.cr, label, 10.5 * s));
    }
    return fmin(w, lc->cv.width / 4) + 34 * s;
}

/* The y axis's ticks over the plot's height: their step and decimals. */
static double ssi_y_step(const ssi_lc *lc, int *dec)
{
    double lo = fmin(lc->ytop, lc->ybot), hi = fmax(lc->ytop, lc->ybot);
    return ssi_nice_step(lo, hi, (int)((lc->py1 - lc->py0) / (40 * lc->cv.scale)), dec);
}

static void ssi_y_label(double v, double step, int dec, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*f", dec, fabs(v) < step / 2 ? 0.0 : v);
}

/* The widest y tick label: fluxes of a bright source take six digits and a sign, which the
 * axis's title must not overwrite. */
static double ssi_y_labels_width(ssi_lc *lc)
{
    int dec;
    double step = ssi_y_step(lc, &dec), w = 0;
    double lo = fmin(lc->ytop, lc->ybot), hi = fmax(lc->ytop, lc->ybot);
    for (double v = ceil(lo / step) * step; v <= hi; v += step) {
        char label[48];
        ssi_y_label(v, step, dec, label, sizeof label);
        w = fmax(w, ssi_text_width(lc->cv.cr, label, 10.5 * lc->cv.scale));
    }
    return w;
}

static void ssi_layout(ssi_lc *lc)
{
    double s = lc->cv.scale;
    lc->py0 = 28 * s;
    lc->py1 = lc->cv.height - 42 * s;
    /* the axis title's line, a gap, the labels, the ticks */
    lc->px0 = fmax(62 * s, 27 * s + ssi_y_labels_width(lc));
    lc->px1 = lc->cv.width - ssi_legend_width(lc);
}

static void ssi_x_axis(ssi_lc *lc)
{
    cairo_t *cr = lc->cv.cr;
    double s = lc->cv.scale;
    int dec;
    double step = ssi_nice_step(lc->xmin, lc->xmax, (int)((lc->px1 - lc->px0) / (95 * s)), &dec);
    for (double v = ceil(lc->xmin / step) * step; v <= lc->xmax; v += step) {
        double x = ssi_px(lc, v);
        char label[48];
        snprintf(label, sizeof label, "%.*f", dec, fabs(v) < step / 2 ? 0.0 : v);
        ssi_rgb(cr, 0xe6e6e6);
        cairo_move_to(cr, x, lc->py0), cairo_line_to(cr, x, lc->py1), cairo_stroke(cr);
        ssi_rgb(cr, 0x444444);
        cairo_move_to(cr, x, lc->py1), cairo_line_to(cr, x, lc->py1 + 4 * s), cairo_stroke(cr);
        ssi_rgb(cr, 0x222222);
        ssi_text(cr, label, 10.5 * s, x, lc->py1 + 7 * s, 0.5, 0, 0);
    }
    ssi_text(cr, "MJD", 11.5 * s, (lc->px0 + lc->px1) / 2, lc->cv.height - 6 * s, 0.5, 1, 0);
}

static void ssi_y_axis(ssi_lc *lc)
{
    cairo_t *cr = lc->cv.cr;
    double s = lc->cv.scale, lo = fmin(lc->ytop, lc->ybot), hi = fmax(lc->ytop, lc->ybot);
    int dec;
    double step = ssi_y_step(lc, &dec);
    for (double v = ceil(lo / step) * step; v <= hi; v += step) {
        double y = ssi_py(lc, v);
        char label[48];
        ssi_y_label(v, step, dec, label, sizeof label);
        ssi_rgb(cr, fabs(v) < step / 2 && lc->o->flux ? 0xb0b0b0 : 0xe6e6e6);
        cairo_move_to(cr, lc->px0, y), cairo_line_to(cr, lc->px1, y), cairo_stroke(cr);
        ssi_rgb(cr, 0x444444);
        cairo_move_to(cr, lc->px0 - 4 * s, y), cairo_line_to(cr, lc->px0, y), cairo_stroke(cr);
        ssi_rgb(cr, 0x222222);
        ssi_text(cr, label, 10.5 * s, lc->px0 - 7 * s, y, 1, 0.5, 0);
    }
    ssi_text(cr, lc->o->flux ? "difference flux (nJy)" : "magnitude", 11.5 * s, 6 * s,
             (lc->py0 + lc->py1) / 2, 0.5, 0, -M_PI / 2);
}

static void ssi_frame(ssi_lc *lc)
{
    cairo_t *cr = lc->cv.cr;
    cairo_set_line_width(cr, 1);
    ssi_x_axis(lc);
    ssi_y_axis(lc);
    ssi_rgb(cr, 0x444444);
    cairo_rectangle(cr, lc->px0, lc->py0, lc->px1 - lc->px0, lc->py1 - lc->py0);
    cairo_stroke(cr);
    if (lc->title) {
        ssi_rgb(cr, 0x222222);
        ssi_text(cr, lc->title, 12 * lc->cv.scale, lc->px0, 8 * lc->cv.scale, 0, 0, 0);
    }
    if (!lc->npts)
        ssi_text(cr, "no measurements to draw", 12 * lc->cv.scale, (lc->px0 + lc->px1) / 2,
                 (lc->py0 + lc->py1) / 2, 0.5, 0.5, 0);
}

/* ---- marks and points ---- */

static void ssi_marks(ssi_lc *lc)
{
    cairo_t *cr = lc->cv.cr;
    double s = lc->cv.scale, dash[] = {4 * s, 3 * s}, last = -INFINITY;
    for (size_t i = 0; i < lc->nmarks; i++) {
        const ss_draw_mark *m = &lc->marks[i];
        double x = ssi_px(lc, m->mjd);
        int as_of = m->highlight;
        if (!isfinite(x))
            continue;
        ssi_rgb(cr, as_of ? SSI_ORANGE : 0x808080);
        cairo_set_dash(cr, dash, as_of ? 0 : 2, 0);
        cairo_set_line_width(cr, 1.2 * s);
        cairo_move_to(cr, x, lc->py0), cairo_line_to(cr, x, lc->py1), cairo_stroke(cr);
        /* a label beside its line, on the left when the previous one's takes the right */
        int left = fabs(x - last) < 12 * s;
        if (m->label)
            ssi_text(cr, m->label, 10 * s, x + (left ? -2 : 2) * s, lc->py0 + 4 * s, 1, left,
                     -M_PI / 2);
        last = left ? -INFINITY : x;
    }
    cairo_set_dash(cr, NULL, 0, 0);
}

static void ssi_error_bars(ssi_lc *lc, size_t key)
{
    cairo_t *cr = lc->cv.cr;
    for (size_t i = 0; i < lc->npts; i++) {
        const ssi_pt *p = &lc->pts[i];
        if ((size_t)p->key != key || !(p->err > 0) || p->kind == SS_ALERT_UPPER_LIMIT)
            continue;
        double x = ssi_px(lc, p->x);
        cairo_move_to(cr, x, ssi_py(lc, p->y - p->err));
        cairo_line_to(cr, x, ssi_py(lc, p->y + p->err));
    }
    ssi_rgb(cr, lc->keys[key].rgb);
    cairo_set_line_width(cr, lc->cv.scale);
    cairo_stroke(cr);
}

/* Detections filled, forced photometry open, limits as half-filled downward triangles. */
static void ssi_marker(cairo_t *cr, double s, const ssi_key *k, ss_alert_kind kind, double x,
                       double y)
{
    double r = 3.6 * s;
    unsigned c = k->rgb;
    if (kind == SS_ALERT_UPPER_LIMIT)
        ssi_limit_path(cr, x, y, r);
    else
        ssi_marker_path(cr, k->shape, x, y, r);
    if (kind == SS_ALERT_DETECTION) {
        ssi_rgb(cr, c);
        cairo_fill(cr);
        return;
    }
    cairo_set_source_rgba(cr, (c >> 16) / 255.0, (c >> 8 & 255) / 255.0, (c & 255) / 255.0,
                          kind == SS_ALERT_UPPER_LIMIT ? 0.3 : 0);
    cairo_fill_preserve(cr);
    ssi_rgb(cr, c);
    cairo_set_line_width(cr, 1.3 * s);
    cairo_stroke(cr);
}

static void ssi_point(ssi_lc *lc, const ssi_pt *p)
{
    cairo_t *cr = lc->cv.cr;
    double s = lc->cv.scale, x = ssi_px(lc, p->x), y = ssi_py(lc, p->y);
    ssi_marker(cr, s, &lc->keys[p->key], p->kind, x, y);
    if (p->circled) {
        ssi_rgb(cr, SSI_ORANGE);
        cairo_set_line_width(cr, 1.5 * s);
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, 8.5 * s, 0, 2 * M_PI);
        cairo_stroke(cr);
    }
}

static void ssi_data(ssi_lc *lc)
{
    cairo_t *cr = lc->cv.cr;
    cairo_save(cr);
    cairo_rectangle(cr, lc->px0, lc->py0, lc->px1 - lc->px0, lc->py1 - lc->py0);
    cairo_clip(cr);
    ssi_marks(lc);
    for (size_t k = 0; k < lc->nkeys; k++)
        ssi_error_bars(lc, k);
    /* limits first, so that a detection is never hidden under one */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < lc->npts; i++)
            if ((lc->pts[i].kind == SS_ALERT_UPPER_LIMIT) == (pass == 0))
                ssi_point(lc, &lc->pts[i]);
    cairo_restore(cr);
}

/* ---- legend ---- */

static void ssi_legend_row(ssi_lc *lc, double *y, const char *label, const ssi_key *k,
                           ss_alert_kind kind)
{
    double s = lc->cv.scale, x = lc->px1 + 14 * s;
    ssi_marker(lc->cv.cr, s, k, kind, x, *y);
    ssi_rgb(lc->cv.cr, 0x222222);
    ssi_text(lc->cv.cr, label, 10.5 * s, x + 10 * s, *y, 0, 0.5, 0);
    *y += 16 * s;
}

static void ssi_legend(ssi_lc *lc)
{
    double s = lc->cv.scale, y = lc->py0 + 8 * s;
    for (size_t i = 0; i < lc->nkeys; i++) {
        char label[64];
        ssi_key_label(lc, &lc->keys[i], label, sizeof label);
        ssi_legend_row(lc, &y, label, &lc->keys[i], SS_ALERT_DETECTION);
    }
    y += 6 * s;
    static const char *const names[] = {"detection", "upper limit", "forced"};
    const ssi_key gray = {.rgb = 0x707070, .shape = SSI_CIRCLE};
    for (int k = 0; k < 3; k++)
        if (lc->kinds >> k & 1)
            ssi_legend_row(lc, &y, names[k], &gray, (ss_alert_kind)k);
}

/* ---- the picture ---- */

static int ssi_size(const ss_draw_lc_options *o, int *w, int *h, ss_err *err)
{
    *w = o->width ? o->width : SS_DRAW_LC_WIDTH;
    *h = o->height ? o->height : SS_DRAW_LC_HEIGHT;
    if (*w < SS_DRAW_MIN_SIDE || *w > SS_DRAW_MAX_SIDE || *h < SS_DRAW_MIN_SIDE ||
        *h > SS_DRAW_MAX_SIDE)
        return ss_err_set(err, SS_EINVAL, "a light curve is %d to %d pixels on a side, not %d x %d",
                          SS_DRAW_MIN_SIDE, SS_DRAW_MAX_SIDE, *w, *h);
    return 0;
}

static void ssi_info(const ssi_lc *lc, ss_draw_lc_info *info)
{
    *info = (ss_draw_lc_info){.plot_x0 = lc->px0,
                              .plot_y0 = lc->py0,
                              .plot_x1 = lc->px1,
                              .plot_y1 = lc->py1,
                              .x_min = lc->xmin,
                              .x_max = lc->xmax,
                              .y_bottom = lc->ybot,
                              .y_top = lc->ytop,
                              .points = lc->npts,
                              .marks = lc->nmarks,
                              .nbands = lc->nkeys};
    for (size_t i = 0; i < lc->nkeys; i++) {
        ssi_key_label(lc, &lc->keys[i], info->bands[i].name, sizeof info->bands[i].name);
        info->bands[i].rgb = lc->keys[i].rgb;
        info->bands[i].points = lc->keys[i].n;
    }
}

/* SVG's own title and description, for screen readers and for whoever greps the file. */
static int ssi_describe(const ssi_lc *lc, ss_wbuf *out, size_t start)
{
    char desc[1024];
    size_t n = (size_t)snprintf(desc, sizeof desc, "%s against MJD; %zu points; bands:",
                                lc->o->flux ? "difference flux (nJy)" : "magnitude", lc->npts);
    for (size_t i = 0; i < lc->nkeys && n < sizeof desc; i++) {
        char label[64];
        ssi_key_label(lc, &lc->keys[i], label, sizeof label);
        n += (size_t)snprintf(desc + n, sizeof desc - n, " %s (%zu)", label, lc->keys[i].n);
    }
    for (size_t i = 0; i < lc->nmarks && n < sizeof desc; i++)
        n += (size_t)snprintf(desc + n, sizeof desc - n, "%s %s",
                              i ? "," : "; marks:", lc->marks[i].label ? lc->marks[i].label : "");
    return ssi_svg_meta(out, start, lc->title ? lc->title : "light curve", desc);
}

int ss_draw_lightcurve_render(const ss_packet *pkt, const ss_draw_mark *marks, size_t nmarks,
                              const char *title, const ss_draw_lc_options *o, ss_wbuf *out,
                              ss_draw_lc_info *info, ss_err *err)
{
    int w, h, rc = ssi_size(o, &w, &h, err);
    ssi_lc lc = {.o = o, .title = title, .marks = marks, .nmarks = nmarks};
    size_t start = out->len;
    if (rc || (rc = ssi_points(&lc, pkt)) ||
        (rc = ssi_canvas_open(&lc.cv, o->format, w, h, out, err))) {
        free(lc.pts);
        return rc == SS_ENOMEM ? ss_err_set(err, rc, "out of memory drawing a light curve") : rc;
    }
    ssi_ranges(&lc);
    ssi_layout(&lc);
    ssi_frame(&lc);
    ssi_data(&lc);
    ssi_legend(&lc);
    rc = ssi_canvas_close(&lc.cv, 0, err);
    if (!rc && o->format == SS_DRAW_SVG && ssi_describe(&lc, out, start))
        rc = ss_err_set(err, SS_ENOMEM, "out of memory drawing a light curve");
    if (!rc && info)
        ssi_info(&lc, info);
    free(lc.pts);
    return rc;
}
