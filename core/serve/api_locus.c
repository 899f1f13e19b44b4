/* /api/v1: one locus, its light curve, one alert and its stamps. */
#include "serve_impl.h"

#include "json_text.h"
#include "publish.h"
#include "query.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Tags name the alert whose run set them: a survey's alert, a detection. */
static void ssi_show_tag_json(json_t *tj)
{
    ss_alert a = {.survey = json_string_value(json_object_get(tj, "survey")),
                  .alert_id = json_string_value(json_object_get(tj, "alert_id"))};
    if (!a.survey || !a.alert_id)
        return;
    char shown[SS_ID_MAX + 64];
    ssi_alert_id_show(&a, shown, sizeof shown);
    json_object_set_new(tj, "alert_id", ss_json_text(shown));
}

/* as_of takes an alert id as shown or bare. */
static const char *ssi_as_of(ssi_req *r, char *buf, size_t cap)
{
    const char *v = ssi_param(r, "as_of"), *survey, *id;
    if (!v)
        return NULL;
    return ssi_alert_id_parse(v, buf, cap, &survey, &id) < 0 ? v : id;
}

void ssi_api_locus(ssi_req *r)
{
    char buf[SS_ID_MAX + 64];
    ss_query_locus_options o = {.as_of = ssi_as_of(r, buf, sizeof buf)};
    if (ssi_param_num(r, "before", 0, 1e6, &o.before) < 0 || ssi_params_unused(r))
        return;
    ss_err err = {0};
    if (!o.as_of && o.before <= 0) { /* as it is now: the text written directly, the hot path */
        ss_wbuf b = {0};
        int rc = ss_query_locus_write(ssi_store(r), r->seg[3], ssi_show_id, &b, &err);
        if (rc) {
            ss_wbuf_free(&b);
            ssi_reply_code(r, rc, &err);
        } else
            ssi_reply_owned(r, MHD_HTTP_OK, "application/json", (char *)b.data, b.len);
        return;
    }
    json_t *out = NULL;
    int rc = ss_query_locus(ssi_store(r), r->seg[3], &o, &out, &err);
    if (rc) {
        ssi_reply_code(r, rc, &err);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(out, "alerts"), i, v) ssi_alert_json_show(v);
    json_array_foreach(json_object_get(out, "tags"), i, v) ssi_show_tag_json(v);
    json_t *as_of = json_object_get(out, "as_of");
    if (as_of)
        ssi_show_tag_json(as_of);
    ssi_reply_json(r, MHD_HTTP_OK, out);
}

/* ---- light curve ---- */

typedef struct ssi_lc_opts {
    const char *bands; /* comma-separated, or NULL: all */
    unsigned kinds;    /* bit per ss_alert_kind */
    double before;
} ssi_lc_opts;

static int ssi_lc_parse(ssi_req *r, ssi_lc_opts *o)
{
    o->bands = ssi_param(r, "band");
    const char *kinds = ssi_param(r, "kinds");
    o->kinds = 7;
    if (kinds) {
        static const char *const names[] = {"detection", "upper_limit", "forced_photometry"};
        o->kinds = 0;
        for (unsigned k = 0; k < 3; k++)
            if (ss_text_list_has(kinds, names[k]))
                o->kinds |= 1u << k;
        if (!o->kinds) {
            ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                            "parameter 'kinds': a list of detection, upper_limit, "
                            "forced_photometry, not '%.64s'",
                            kinds);
            return -1;
        }
    }
    if (ssi_param_num(r, "before", 0, 1e6, &o->before) < 0 || ssi_params_unused(r))
        return -1;
    return 0;
}

/* The light curve is written as text directly, JSON or CSV (a 500-point curve through jansson
 * spent most of its time building objects and printing numbers). */
static const char *const ssi_lc_columns[] = {"alert_id", "survey", "mjd",  "band",    "kind", "mag",
                                             "magerr",   "maglim", "flux", "fluxerr", NULL};

static void ssi_lc_json(ss_jw *w, const ss_alert *a, const char *shown)
{
    const double nums[] = {a->mjd, a->mag, a->magerr, a->maglim, a->flux, a->fluxerr};
    static const char *const names[] = {"mjd", "mag", "magerr", "maglim", "flux", "fluxerr"};
    ss_jw_open(w, '{');
    ss_jw_key(w, "alert_id");
    ss_jw_str(w, shown);
    ss_jw_key(w, "survey");
    ss_jw_str(w, a->survey);
    for (size_t i = 0; i < 6; i++) {
        ss_jw_key(w, names[i]);
        ss_jw_num(w, nums[i]);
        if (i == 0) { /* band and kind after mjd, as the CSV's columns */
            ss_jw_key(w, "band");
            ss_jw_str(w, a->passband);
            ss_jw_key(w, "kind");
            ss_jw_str(w, ss_alert_kind_name(a->kind));
        }
    }
    ss_jw_close(w, '}');
}

static void ssi_lc_csv(ss_wbuf *b, const ss_alert *a, const char *shown)
{
    const double nums[] = {a->mjd, a->mag, a->magerr, a->maglim, a->flux, a->fluxerr};
    ssi_csv_put(b, shown);
    ss_wbuf_bytes(b, ",", 1);
    ssi_csv_put(b, a->survey);
    for (size_t i = 0; i < 6; i++) {
        ss_wbuf_bytes(b, ",", 1);
        if (i == 1) { /* band and kind come after mjd, as the columns say */
            ssi_csv_put(b, a->passband);
            ss_wbuf_bytes(b, ",", 1);
            ssi_csv_put(b, ss_alert_kind_name(a->kind));
            ss_wbuf_bytes(b, ",", 1);
        }
        ssi_csv_num(b, nums[i]);
    }
    ss_wbuf_bytes(b, "\r\n", 2);
}

/* Every point @p o keeps, in time order, as CSV or as {"locus_id", "items": [...]}. */
static void ssi_lc_write(ssi_req *r, const ss_locus *l, const ss_packet *pkt, const ssi_lc_opts *o,
                         ss_wbuf *b)
{
    ss_jw w;
    ss_jw_init(&w, b);
    if (r->csv)
        ssi_csv_header(b, ssi_lc_columns);
    else {
        ss_jw_open(&w, '{');
        ss_jw_key(&w, "locus_id");
        ss_jw_str(&w, l->id);
        ss_jw_key(&w, "items");
        ss_jw_open(&w, '[');
    }
    for (uint32_t i = 0; i < pkt->n; i++) {
        const ss_alert *a = &pkt->alerts[i];
        char shown[SS_ID_MAX + 64];
        if (!(o->kinds >> a->kind & 1) || (o->bands && !ss_text_list_has(o->bands, a->passband)) ||
            (o->before > 0 && a->mjd >= o->before))
            continue;
        ssi_alert_id_show(a, shown, sizeof shown);
        if (r->csv)
            ssi_lc_csv(b, a, shown);
        else
            ssi_lc_json(&w, a, shown);
    }
    if (!r->csv) {
        ss_jw_close(&w, ']');
        ss_jw_close(&w, '}');
    }
}

void ssi_api_lightcurve(ssi_req *r)
{
    ssi_lc_opts o = {0};
    if (ssi_lc_parse(r, &o))
        return;
    ss_store_txn *txn = ssi_read(r);
    if (!txn)
        return;
    ss_err err = {0};
    ss_locus l;
    ss_wbuf b = {0};
    ss_packet *pkt = ss_packet_new();
    int rc = pkt ? ss_query_resolve(txn, r->seg[3], &l, &err) : SS_ENOMEM;
    if (!rc && !(rc = ss_store_locus_alerts(txn, l.id, pkt)))
        ssi_lc_write(r, &l, pkt, &o, &b);
    ss_store_txn_abort(txn);
    ss_packet_free(pkt);
    if (!rc && b.failed)
        rc = SS_ENOMEM;
    if (rc) {
        ss_wbuf_free(&b);
        ssi_reply_code(r, rc, &err);
        return;
    }
    ssi_reply_owned(r, MHD_HTTP_OK, r->csv ? "text/csv; charset=utf-8" : "application/json",
                    (char *)b.data, b.len);
}

/* ---- one alert ---- */

/* A bare alert id is looked for in every survey of the store; one that two surveys use is
 * ambiguous. */
typedef struct ssi_bare {
    ss_store_txn *txn;
    const char *id;
    ss_packet *pkt;
    ss_alert *found;
    char surveys[256];
    int rc;
} ssi_bare;

static int ssi_bare_try(void *ctx, const char *survey)
{
    ssi_bare *b = ctx;
    ss_alert *a;
    int rc = ss_store_alert_get(b->txn, survey, b->id, b->pkt, &a);
    if (rc == SS_ENOTFOUND)
        return 0;
    if (rc)
        return b->rc = rc;
    size_t n = strlen(b->surveys);
    snprintf(b->surveys + n, sizeof b->surveys - n, "%s%s", n ? ", " : "", survey);
    b->rc = b->found ? SS_EAMBIGUOUS : 0;
    if (!b->found)
        b->found = a;
    return 0;
}

/* Find an alert by its shown id, or by a bare id in whichever survey has it. */
static int ssi_alert_find(ss_store_txn *txn, const char *shown, ss_packet *pkt, ss_alert **a,
                          ss_err *err)
{
    char buf[SS_ID_MAX + 64];
    const char *survey, *id;
    if (ssi_alert_id_parse(shown, buf, sizeof buf, &survey, &id) < 0)
        return ss_err_set(err, SS_EINVAL,
                          "'%s' is not an alert id (SURVEY_KIND:ID, e.g. "
                          "ztf_candidate:1234)",
                          shown);
    if (survey) { /* the kind is part of the id: ztf_upper_limit:X is not ztf_candidate:X */
        char is[SS_ID_MAX + 64];
        int rc = ss_store_alert_get(txn, survey, id, pkt, a);
        if (!rc)
            ssi_alert_id_show(*a, is, sizeof is);
        if (!rc && strcmp(is, shown))
            return ss_err_set(err, SS_ENOTFOUND, "no alert '%s' (there is %s)", shown, is);
        return rc == SS_ENOTFOUND ? ss_err_set(err, rc, "no alert '%s'", shown) : rc;
    }
    ssi_bare b = {txn, id, pkt, NULL, "", 0};
    int rc = ss_store_surveys_each(txn, ssi_bare_try, &b);
    if (!rc && (rc = b.rc) == SS_EAMBIGUOUS)
        ss_err_set(err, rc, "alert id '%s' is used by several surveys (%s): prefix it, e.g. %s:%s",
                   id, b.surveys, b.found->survey, id);
    if (!rc && !b.found)
        rc = ss_err_set(err, SS_ENOTFOUND, "no alert '%s'", shown);
    *a = b.found;
    return rc;
}

typedef struct ssi_stamps {
    json_t *arr;
    const char *shown;
} ssi_stamps;

static const char *const ssi_kinds[] = {"science", "template", "difference"};

static int ssi_stamp_json(void *ctx, const ss_store_cutout *c)
{
    ssi_stamps *x = ctx;
    char url[SS_ID_MAX + 128];
    snprintf(url, sizeof url, "/api/v1/alerts/%s/cutouts/%s", x->shown, ssi_kinds[c->kind]);
    /* Rubin's stamps have no file name */
    json_t *name = c->file_name ? ss_json_textn(c->file_name, c->file_name_len) : json_null();
    json_array_append_new(x->arr, json_pack("{s:s, s:I, s:o, s:o}", "kind", ssi_kinds[c->kind],
                                            "bytes", (json_int_t)c->len, "file_name", name, "url",
                                            ss_json_text(url)));
    return 0;
}

static json_t *ssi_alert_full(ss_store_txn *txn, ss_alert *a, ss_packet *pkt, int *rc)
{
    char shown[SS_ID_MAX + 64], locus_id[SS_LOCUS_ID_LEN + 1] = "";
    ssi_alert_id_show(a, shown, sizeof shown);
    json_t *o = ss_publish_alert(a);
    json_object_set_new(o, "survey_alert_id", ss_json_text(a->alert_id));
    json_object_set_new(o, "alert_id", ss_json_text(shown));
    ss_prop *extra;
    uint32_t n;
    *rc = ss_store_alert_find(txn, a->survey, a->alert_id, locus_id);
    if (!*rc)
        json_object_set_new(o, "locus_id", json_string(locus_id));
    if (!*rc && !(*rc = ss_store_alert_props(txn, a->survey, a->alert_id, pkt->arena, &extra, &n)))
        ss_json_props(json_object_get(o, "properties"), extra, n);
    ssi_stamps st = {json_array(), shown};
    json_object_set_new(o, "cutouts", st.arr);
    if (!*rc)
        *rc = ss_store_cutouts_each(txn, a->alert_id, a->survey, ssi_stamp_json, &st);
    return o;
}

/* What one alert's routes read: the alert of the path's id in one snapshot, a view of it
 * (ssi_alert_view, serve_impl.h; the pictures' routes use it too). */
void ssi_alert_route(ssi_req *r, ssi_alert_view view, void *ctx)
{
    if (ssi_params_unused(r))
        return;
    ss_store_txn *txn = ssi_read(r);
    if (!txn)
        return;
    ss_err err = {0};
    ss_packet *pkt = ss_packet_new();
    ss_alert *a = NULL;
    int rc = pkt ? ssi_alert_find(txn, r->seg[3], pkt, &a, &err) : SS_ENOMEM;
    if (!rc)
        rc = view(r, txn, a, pkt, ctx);
    ss_store_txn_abort(txn);
    ss_packet_free(pkt);
    if (rc)
        ssi_reply_code(r, rc, &err);
}

static int ssi_alert_view_json(ssi_req *r, ss_store_txn *txn, ss_alert *a, ss_packet *pkt,
                               void *ctx)
{
    (void)ctx;
    int rc = 0;
    json_t *o = ssi_alert_full(txn, a, pkt, &rc);
    if (rc)
        json_decref(o);
    else
        ssi_reply_json(r, MHD_HTTP_OK, o);
    return rc;
}

void ssi_api_alert(ssi_req *r)
{
    ssi_alert_route(r, ssi_alert_view_json, NULL);
}

/* ---- stamps ---- */

typedef struct ssi_stamp_pick {
    ssi_req *r;
    ss_cutout_kind kind;
    int found;
} ssi_stamp_pick;

/* The survey's bytes: gzip-compressed FITS (ZTF) or FITS (Rubin), named as the survey named it. */
static int ssi_stamp_send(void *ctx, const ss_store_cutout *c)
{
    ssi_stamp_pick *x = ctx;
    if (c->kind != x->kind || x->found)
        return 0;
    const unsigned char *b = c->bytes;
    int gz = c->len > 2 && b[0] == 0x1f && b[1] == 0x8b;
    x->found = 1;
    ssi_reply_bytes(x->r, MHD_HTTP_OK, gz ? "application/gzip" : "application/fits", c->bytes,
                    c->len);
    if (c->file_name && c->file_name_len)
        snprintf(x->r->disposition, sizeof x->r->disposition, "inline; filename=\"%.*s\"",
                 (int)(c->file_name_len < 200 ? c->file_name_len : 200), c->file_name);
    return 0;
}

static int ssi_alert_view_stamp(ssi_req *r, ss_store_txn *txn, ss_alert *a, ss_packet *pkt,
                                void *ctx)
{
    (void)pkt;
    ssi_stamp_pick *x = ctx;
    int rc = ss_store_cutouts_each(txn, a->alert_id, a->survey, ssi_stamp_send, x);
    if (!rc && !x->found)
        ssi_reply_error(r, MHD_HTTP_NOT_FOUND, "alert %s has no %s stamp", r->seg[3], r->seg[5]);
    return rc;
}

void ssi_api_cutout(ssi_req *r)
{
    ssi_stamp_pick x = {r, SS_CUTOUT__COUNT, 0};
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        if (!strcmp(r->seg[5], ssi_kinds[k]))
            x.kind = (ss_cutout_kind)k;
    if (x.kind == SS_CUTOUT__COUNT)
        ssi_reply_error(r, MHD_HTTP_NOT_FOUND,
                        "no stamp kind '%.32s' (science, template, difference)", r->seg[5]);
    else
        ssi_alert_route(r, ssi_alert_view_stamp, &x);
}
