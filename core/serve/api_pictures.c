/* /api/v1 pictures, drawn by core/draw/: a locus's light curve as SVG or PNG, an alert's stamp as
 * PNG. Each reads one snapshot, as the JSON routes do; a stamp that cannot be read is 422. */
#include "serve_impl.h"

#include "draw.h"

#include <stdio.h>
#include <string.h>

/* ---- light curves ---- */

static int ssi_side(ssi_req *r, const char *key, int *out)
{
    uint64_t v = 0;
    int got = ssi_param_uint(r, key, SS_DRAW_MIN_SIDE, SS_DRAW_MAX_SIDE, &v);
    if (got > 0)
        *out = (int)v;
    return got;
}

/* flux, as_of (shown or bare), width, height, band (or bands): the light curve's options. */
static int ssi_lc_options(ssi_req *r, ss_draw_lc_options *o, char *buf, size_t cap)
{
    const char *as_of = ssi_param(r, "as_of"), *bands = ssi_param(r, "bands"), *survey, *id;
    int flux = 0;
    o->bands = ssi_param(r, "band"); /* as /lightcurve names it */
    o->bands = o->bands ? o->bands : bands;
    if (ssi_param_bool(r, "flux", &flux) < 0 || ssi_side(r, "width", &o->width) < 0 ||
        ssi_side(r, "height", &o->height) < 0 || ssi_params_unused(r))
        return -1;
    o->flux = flux;
    if (as_of)
        o->as_of = ssi_alert_id_parse(as_of, buf, cap, &survey, &id) < 0 ? as_of : id;
    return 0;
}

static void ssi_picture_fail(ssi_req *r, int rc, const ss_err *err)
{
    if (rc == SS_EFORMAT) /* cairo could not draw: nothing the client can change */
        ssi_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err->msg);
    else
        ssi_reply_code(r, rc, err);
}

static void ssi_lightcurve_picture(ssi_req *r, ss_draw_format format)
{
    char buf[SS_ID_MAX + 64];
    ss_draw_lc_options o = {.format = format};
    if (ssi_lc_options(r, &o, buf, sizeof buf))
        return;
    ss_store_txn *txn = ssi_read(r);
    if (!txn)
        return;
    ss_wbuf b = {0};
    ss_err err = {0};
    int rc = ss_draw_lightcurve(txn, r->seg[3], &o, &b, NULL, &err);
    ss_store_txn_abort(txn);
    if (rc) {
        ss_wbuf_free(&b);
        ssi_picture_fail(r, rc, &err);
        return;
    }
    ssi_reply_owned(r, MHD_HTTP_OK, format == SS_DRAW_SVG ? "image/svg+xml" : "image/png",
                    (char *)b.data, b.len);
}

void ssi_api_lightcurve_svg(ssi_req *r)
{
    ssi_lightcurve_picture(r, SS_DRAW_SVG);
}

void ssi_api_lightcurve_png(ssi_req *r)
{
    ssi_lightcurve_picture(r, SS_DRAW_PNG);
}

/* ---- stamps ---- */

typedef struct ssi_stamp_png {
    ss_cutout_kind kind;
    ss_draw_cutout_options o;
} ssi_stamp_png;

/* A file name for curl -OJ: the survey's alert id and the kind, nothing a header could choke on. */
static void ssi_png_name(ssi_req *r, const ss_alert *a, ss_cutout_kind kind)
{
    char name[160];
    snprintf(name, sizeof name, "%s_%s_%s.png", a->survey, a->alert_id, ss_cutout_kind_name(kind));
    for (char *p = name; *p; p++)
        if (!strchr("._-", *p) && !(*p >= '0' && *p <= '9') &&
            !((*p | 32) >= 'a' && (*p | 32) <= 'z'))
            *p = '_';
    snprintf(r->disposition, sizeof r->disposition, "inline; filename=\"%s\"", name);
}

static int ssi_view_png(ssi_req *r, ss_store_txn *txn, ss_alert *a, ss_packet *pkt, void *ctx)
{
    (void)pkt;
    ssi_stamp_png *x = ctx;
    ss_wbuf b = {0};
    ss_err err = {0};
    int rc = ss_draw_cutout(txn, a->alert_id, a->survey, x->kind, &x->o, &b, NULL, &err);
    if (rc) {
        ss_wbuf_free(&b);
        if (rc == SS_EFORMAT) /* the stored bytes are not an image: nothing to retry */
            ssi_reply_error(r, 422, "%s", err.msg);
        else
            ssi_picture_fail(r, rc, &err);
        return 0;
    }
    ssi_png_name(r, a, x->kind);
    ssi_reply_owned(r, MHD_HTTP_OK, "image/png", (char *)b.data, b.len);
    return 0;
}

/* size, stretch=zscale|asinh, interp=nearest|bilinear. @return 0, or -1 after answering 400. */
static int ssi_stamp_options(ssi_req *r, ss_draw_cutout_options *o)
{
    uint64_t size = 0;
    const char *stretch = ssi_param(r, "stretch"), *interp = ssi_param(r, "interp");
    if (ssi_param_uint(r, "size", SS_DRAW_CUTOUT_MIN_SIZE, SS_DRAW_CUTOUT_MAX_SIZE, &size) < 0)
        return -1;
    o->size = (int)size;
    if (stretch && strcmp(stretch, "zscale") && strcmp(stretch, "asinh")) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "parameter 'stretch': zscale or asinh, not '%.32s'", stretch);
        return -1;
    }
    if (interp && strcmp(interp, "nearest") && strcmp(interp, "bilinear")) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "parameter 'interp': nearest or bilinear, not '%.32s'", interp);
        return -1;
    }
    o->stretch = stretch && !strcmp(stretch, "asinh") ? SS_DRAW_ASINH : SS_DRAW_ZSCALE;
    o->bilinear = interp && !strcmp(interp, "bilinear");
    return 0;
}

void ssi_api_cutout_png(ssi_req *r)
{
    ssi_stamp_png x = {.kind = SS_CUTOUT__COUNT};
    size_t n = strlen(r->seg[5]) - 4; /* the route matched "{kind}.png" */
    char kind[32];
    snprintf(kind, sizeof kind, "%.*s", (int)(n < sizeof kind ? n : sizeof kind - 1), r->seg[5]);
    int k = ss_cutout_kind_from_name(kind);
    if (k < 0) {
        ssi_reply_error(r, MHD_HTTP_NOT_FOUND,
                        "no stamp kind '%.32s' (science, template, difference)", kind);
        return;
    }
    x.kind = (ss_cutout_kind)k;
    if (!ssi_stamp_options(r, &x.o))
        ssi_alert_route(r, ssi_view_png, &x);
}
