/* The canvas: a cairo surface that writes SVG text or PNG bytes into an ss_wbuf, text anchored in
 * its box, nice tick steps. */
#include "draw_impl.h"

#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <string.h>

cairo_status_t ssi_wbuf_write(void *closure, const unsigned char *data, unsigned int length)
{
    ss_wbuf *b = closure;
    ss_wbuf_bytes(b, data, length);
    return b->failed ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

static int ssi_cairo_fail(cairo_status_t st, const char *what, ss_err *err)
{
    int code = st == CAIRO_STATUS_NO_MEMORY ? SS_ENOMEM : SS_EFORMAT;
    return ss_err_set(err, code, "drawing %s: %s", what, cairo_status_to_string(st));
}

static cairo_surface_t *ssi_surface(ss_draw_format format, int width, int height, ss_wbuf *out)
{
    if (format == SS_DRAW_PNG)
        return cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_surface_t *s = cairo_svg_surface_create_for_stream(ssi_wbuf_write, out, width, height);
    /* pixels, so that a browser shows it at the size asked, as the PNG */
    if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS)
        cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);
    return s;
}

int ssi_canvas_open(ssi_canvas *c, ss_draw_format format, int width, int height, ss_wbuf *out,
                    ss_err *err)
{
    *c = (ssi_canvas){
        .format = format, .out = out, .start = out->len, .width = width, .height = height};
    c->scale = fmin(width / 600.0, height / 400.0);
    c->scale = c->scale < 0.6 ? 0.6 : c->scale > 3 ? 3 : c->scale;
    c->surface = ssi_surface(format, width, height, out);
    cairo_status_t st = cairo_surface_status(c->surface);
    if (st == CAIRO_STATUS_SUCCESS) {
        c->cr = cairo_create(c->surface);
        st = cairo_status(c->cr);
    }
    if (st != CAIRO_STATUS_SUCCESS) {
        ssi_canvas_close(c, 1, NULL);
        return ssi_cairo_fail(st, "a picture", err);
    }
    cairo_set_source_rgb(c->cr, 1, 1, 1);
    cairo_paint(c->cr);
    cairo_select_font_face(c->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    return 0;
}

/* cairo names an SVG's group after a count of every surface the process made, so that the same
 * picture drawn twice (by the server, then by `skysieve plot`) differed in that one number: it
 * is renumbered 1. Nothing refers to it. */
static void ssi_svg_stable_id(ss_wbuf *out, size_t start)
{
    static const char key[] = "<g id=\"surface";
    char *text = (char *)out->data + start;
    char *at = memmem(text, out->len - start, key, sizeof key - 1);
    if (!at)
        return;
    char *digits = at + sizeof key - 1, *end = digits;
    while (end < (char *)out->data + out->len && *end >= '0' && *end <= '9')
        end++;
    if (end == digits)
        return;
    *digits = '1';
    memmove(digits + 1, end, (size_t)((char *)out->data + out->len - end));
    out->len -= (size_t)(end - digits - 1);
}

int ssi_canvas_close(ssi_canvas *c, int failed, ss_err *err)
{
    cairo_status_t st = c->cr ? cairo_status(c->cr) : CAIRO_STATUS_SUCCESS;
    if (c->cr)
        cairo_destroy(c->cr);
    c->cr = NULL;
    int rc = 0;
    if (!failed && st == CAIRO_STATUS_SUCCESS && c->format == SS_DRAW_PNG)
        rc = ssi_png_write(c->surface, c->out, err);
    if (c->surface) {
        cairo_surface_finish(c->surface); /* an SVG surface writes its text now */
        if (st == CAIRO_STATUS_SUCCESS)
            st = cairo_surface_status(c->surface);
        cairo_surface_destroy(c->surface);
    }
    c->surface = NULL;
    if (failed || rc)
        return rc;
    if (c->out->failed)
        return ss_err_set(err, SS_ENOMEM, "out of memory writing a picture");
    if (c->format == SS_DRAW_SVG)
        ssi_svg_stable_id(c->out, c->start);
    return st == CAIRO_STATUS_SUCCESS ? 0 : ssi_cairo_fail(st, "a picture", err);
}

void ssi_rgb(cairo_t *cr, unsigned rgb)
{
    cairo_set_source_rgb(cr, (rgb >> 16 & 255) / 255.0, (rgb >> 8 & 255) / 255.0,
                         (rgb & 255) / 255.0);
}

double ssi_text_width(cairo_t *cr, const char *s, double size)
{
    cairo_text_extents_t e;
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

void ssi_text(cairo_t *cr, const char *s, double size, double x, double y, double ax, double ay,
              double angle)
{
    /* anchored on the capitals' height, not the ink, so that "g" and "r" sit on one line */
    double cap = 0.72 * size, w = ssi_text_width(cr, s, size);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    cairo_move_to(cr, -ax * w, (1 - ay) * cap);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

double ssi_nice_step(double lo, double hi, int target, int *decimals)
{
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span))
        span = 1;
    if (target < 2)
        target = 2;
    double raw = span / target, p = pow(10, floor(log10(raw))), f = raw / p;
    double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
    int d = (int)-floor(log10(step) + 1e-9);
    *decimals = d < 0 ? 0 : d > 6 ? 6 : d;
    return step;
}

static void ssi_xml_text(ss_wbuf *b, const char *s)
{
    for (; *s; s++) {
        const char *esc = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : NULL;
        if (esc)
            ss_wbuf_bytes(b, esc, strlen(esc));
        else if ((unsigned char)*s >= 0x20 || *s == '\t')
            ss_wbuf_bytes(b, s, 1);
    }
}

int ssi_svg_meta(ss_wbuf *out, size_t start, const char *title, const char *desc)
{
    const char *text = (const char *)out->data + start, *end = (const char *)out->data + out->len;
    const char *svg = memmem(text, (size_t)(end - text), "<svg", 4);
    const char *gt = svg ? memchr(svg, '>', (size_t)(end - svg)) : NULL;
    if (!gt)
        return 0; /* not cairo's SVG: left as it is */
    size_t at = (size_t)(gt + 1 - (const char *)out->data);
    ss_wbuf meta = {0};
    ss_wbuf_bytes(&meta, "\n<title>", 8);
    ssi_xml_text(&meta, title);
    ss_wbuf_bytes(&meta, "</title>\n<desc>", 15);
    ssi_xml_text(&meta, desc);
    ss_wbuf_bytes(&meta, "</desc>", 7);
    size_t tail = out->len - at;
    ss_wbuf_bytes(out, meta.data, meta.len); /* grow, then shift the tail past the insert */
    if (!out->failed && !meta.failed) {
        memmove(out->data + at + meta.len, out->data + at, tail);
        memcpy(out->data + at, meta.data, meta.len);
    }
    int rc = out->failed || meta.failed ? SS_ENOMEM : 0;
    ss_wbuf_free(&meta);
    return rc;
}

void ss_draw_release(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}
