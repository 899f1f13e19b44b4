/* /loci/{id}: one locus for a person: its position, survey ids, light curve, the stamps of one of
 * its alerts, its properties, tags, catalog matches and watch-list hits, and every measurement.
 * The data is the API's (ss_query_locus, as /api/v1/loci/{id} answers it); the page is written
 * server-side and works without scripts: the light curve is the server's SVG, and choosing an
 * alert is a link. locus.js adds the interactive plot and picks alerts without a reload. */
#include "web_impl.h"

#include "filters.h"
#include "publish.h"
#include "query.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_WEB_ALERT_ROWS     100  /* measurements listed at first */
#define SSI_WEB_MAX_ALERT_ROWS 2000 /* a longer history is in the JSON and CSV */
#define SSI_WEB_STAMP_SIZE     240  /* pixels of a stamp's picture */

static const char *const ssi_stamp_kinds[] = {"science", "template", "difference"};

/* One measurement as the page needs it. */
typedef struct ssi_walert {
    json_t *j;         /* the alert's JSON (shown ids) */
    const char *shown; /* its id as the API shows it */
    double mjd;
    const char *kind; /* detection, upper_limit, forced_photometry */
    const char *band;
    unsigned stamps; /* bit per stamp kind stored */
} ssi_walert;

typedef struct ssi_wlocus {
    ssi_req *r;
    json_t *o;          /* ss_query_locus's answer */
    const char *id;     /* its locus id */
    ssi_walert *alerts; /* in time order */
    size_t n;
    json_t *broker_keys;   /* the broker's own property names (an object) */
    json_t *survey_keys;   /* property name -> survey, for the survey's locus properties */
    json_t *writers;       /* property name -> [filter, version], as the store records them */
    const ssi_walert *sel; /* the alert whose stamps are shown, or NULL */
    const char *as_of;     /* the as_of asked, or NULL */
    int flux;              /* the static light curve in flux */
} ssi_wlocus;

/* ---- reading ---- */

static int ssi_stamp_seen(void *ctx, const ss_store_cutout *c)
{
    unsigned *bits = ctx;
    if ((int)c->kind >= 0 && c->kind < SS_CUTOUT__COUNT)
        *bits |= 1u << c->kind;
    return 0;
}

/* The filter recorded as writing each of the locus's properties (none in a store written before
 * writers were recorded: those stay "filter"). */
static int ssi_locus_writers(ssi_wlocus *w, ss_store_txn *txn)
{
    w->writers = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(w->o, "properties"), key, v)
    {
        ss_filter_writer fw;
        int rc = ss_filter_writer_get(txn, 'l', key, &fw);
        if (rc == SS_ENOTFOUND)
            continue;
        if (rc)
            return rc;
        json_object_set_new(w->writers, key, json_pack("[s, s]", fw.filter, fw.version));
    }
    return 0;
}

/* Which stamps each alert has, which properties are the broker's, the surveys' and which filter's,
 * read in one snapshot beside ss_query_locus's. */
static int ssi_locus_extras(ssi_wlocus *w, ss_err *err)
{
    ss_store_txn *txn = NULL;
    int rc = ss_store_txn_begin(ssi_store(w->r), SS_STORE_READ, &txn);
    if (rc)
        return ss_store_fail(ssi_store(w->r), err, rc, "starting a read transaction");
    ss_locus l;
    if (!(rc = ss_query_resolve(txn, w->id, &l, err))) {
        json_t *own = ss_publish_locus_properties(&l, NULL, 0);
        w->broker_keys = own ? own : json_object();
    }
    json_t *arr = json_object_get(w->o, "alerts");
    for (size_t i = 0; !rc && i < w->n; i++) {
        json_t *aj = json_array_get(arr, i);
        const char *survey = json_string_value(json_object_get(aj, "survey"));
        const char *id = json_string_value(json_object_get(aj, "alert_id"));
        if (survey && id)
            rc = ss_store_cutouts_each(txn, id, survey, ssi_stamp_seen, &w->alerts[i].stamps);
    }
    /* the survey's locus properties (Rubin's diaObject) come with its newest primary alert */
    w->survey_keys = json_object();
    ss_arena *arena = ss_arena_new();
    size_t asked = 0;
    for (size_t i = w->n; !rc && arena && i-- > 0 && asked < 16;) {
        json_t *aj = json_array_get(arr, i);
        const char *survey = json_string_value(json_object_get(aj, "survey"));
        const char *id = json_string_value(json_object_get(aj, "alert_id"));
        if (!survey || !id || strcmp(w->alerts[i].kind, "detection"))
            continue;
        ss_prop *props = NULL;
        uint32_t n = 0;
        asked++;
        int src = ss_store_alert_survey_locus(txn, survey, id, arena, &props, &n);
        if (src && src != SS_ENOTFOUND) {
            rc = src;
            break;
        }
        for (uint32_t k = 0; !src && k < n; k++)
            if (!json_object_get(w->survey_keys, props[k].name))
                json_object_set_new(w->survey_keys, props[k].name, json_string(survey));
        if (n)
            break;
    }
    ss_arena_free(arena);
    if (!rc)
        rc = ssi_locus_writers(w, txn);
    ss_store_txn_abort(txn);
    if (rc && !err->msg[0])
        ss_store_fail(ssi_store(w->r), err, rc, "reading a locus");
    return rc;
}

/* Tags name the alert whose run set them, as the API shows it. */
static void ssi_tag_show(json_t *tj)
{
    const char *survey = json_string_value(json_object_get(tj, "survey"));
    const char *id = json_string_value(json_object_get(tj, "alert_id"));
    if (!survey || !id)
        return;
    char shown[SS_ID_MAX + 64];
    ssi_show_id(survey, id, SS_ALERT_DETECTION, shown, sizeof shown);
    json_object_set_new(tj, "alert_id", json_string(shown));
}

static int ssi_locus_read(ssi_wlocus *w, ss_err *err)
{
    ssi_req *r = w->r;
    char buf[SS_ID_MAX + 64];
    const char *as_of = ssi_param(r, "as_of"), *survey, *bare = NULL;
    if (as_of && *as_of) {
        w->as_of = as_of;
        bare = ssi_alert_id_parse(as_of, buf, sizeof buf, &survey, &bare) < 0 ? as_of : bare;
    }
    ss_query_locus_options o = {.as_of = bare};
    int rc = ss_query_locus(ssi_store(r), r->seg[1], bare ? &o : NULL, &w->o, err);
    if (rc)
        return rc;
    w->id = json_string_value(json_object_get(w->o, "locus_id"));
    json_t *arr = json_object_get(w->o, "alerts");
    w->n = json_array_size(arr);
    w->alerts = calloc(w->n ? w->n : 1, sizeof *w->alerts);
    if (!w->alerts)
        return ss_err_set(err, SS_ENOMEM, "out of memory");
    for (size_t i = 0; i < w->n; i++) {
        json_t *aj = json_array_get(arr, i);
        ssi_walert *a = &w->alerts[i];
        a->j = aj;
        a->mjd = json_number_value(json_object_get(aj, "mjd"));
        a->kind = json_string_value(json_object_get(aj, "kind"));
        a->kind = a->kind ? a->kind : "detection";
        a->band =
            json_string_value(json_object_get(json_object_get(aj, "properties"), "ant_passband"));
    }
    if ((rc = ssi_locus_extras(w, err)))
        return rc;
    for (size_t i = 0; i < w->n; i++) { /* ids as the API shows them, once the store is read */
        ssi_alert_json_show(w->alerts[i].j);
        w->alerts[i].shown = json_string_value(json_object_get(w->alerts[i].j, "alert_id"));
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(w->o, "tags"), i, v) ssi_tag_show(v);
    return 0;
}

/* The alert whose stamps are shown: the one asked (?alert=), else the newest detection that has
 * stamps, else none. */
static void ssi_locus_pick(ssi_wlocus *w)
{
    const char *want = ssi_param(w->r, "alert");
    for (size_t i = 0; want && i < w->n; i++)
        if (w->alerts[i].shown && !strcmp(w->alerts[i].shown, want)) {
            w->sel = &w->alerts[i];
            return;
        }
    for (size_t i = w->n; i-- > 0;)
        if (w->alerts[i].stamps && !strcmp(w->alerts[i].kind, "detection")) {
            w->sel = &w->alerts[i];
            return;
        }
    for (size_t i = w->n; i-- > 0;)
        if (w->alerts[i].stamps) {
            w->sel = &w->alerts[i];
            return;
        }
}

/* ---- writing ---- */

/* This page's URL with @p key = @p value (and as_of, flux kept). */
static void ssi_self(const ssi_wlocus *w, ssi_url *u, const char *key, const char *value)
{
    ssi_url_init(u, "/loci/");
    ssi_url_seg(u, w->id);
    ssi_url_param(u, "as_of", w->as_of);
    if (w->flux && strcmp(key, "flux"))
        ssi_url_param(u, "flux", "1");
    ssi_url_param(u, key, value);
}

static void ssi_alert_url(const char *shown, ssi_url *u, const char *tail)
{
    ssi_url_init(u, "/api/v1/alerts/");
    ssi_url_seg(u, shown);
    if (tail)
        ssi_url_lit(u, tail);
}

static void ssi_dd(ssi_html *h, const char *term, const char *fmt, double v)
{
    ssi_html_raw(h, "<dt>");
    ssi_html_raw(h, term);
    ssi_html_raw(h, "</dt><dd>");
    ssi_html_num(h, fmt, v);
    ssi_html_raw(h, "</dd>");
}

static double ssi_prop_num(const ssi_wlocus *w, const char *key)
{
    return ss_json_num_at(json_object_get(w->o, "properties"), key);
}

static void ssi_locus_head(ssi_html *h, const ssi_wlocus *w)
{
    ssi_url u;
    ssi_html_raw(h, "<h1>Locus <span class=\"id\" id=\"locus-id\">");
    ssi_html_text(h, w->id);
    ssi_html_raw(h, "</span></h1>\n<p class=\"ids\">");
    const char *key;
    json_t *v;
    int any = 0;
    json_object_foreach(json_object_get(w->o, "properties"), key, v)
    {
        size_t n = strlen(key);
        if (n <= 10 || strcmp(key + n - 10, "_object_id") || !json_is_string(v) ||
            !json_object_get(w->broker_keys, key))
            continue;
        ssi_html_raw(h, any++ ? " &#183; " : "Survey ids: ");
        ssi_html_raw(h, "<span class=\"id\">");
        ssi_html_text(h, json_string_value(v));
        ssi_html_raw(h, "</span> <span class=\"survey\">");
        ssi_html_textn(h, key, n - 10);
        ssi_html_raw(h, "</span>");
    }
    ssi_html_raw(h, "</p>\n");
    json_t *as_of = json_object_get(w->o, "as_of");
    if (w->as_of) {
        ssi_html_raw(h, "<p class=\"note\" id=\"as-of\">As the filters saw it when alert ");
        ssi_html_text(h, w->as_of);
        ssi_html_raw(h, " arrived (MJD ");
        ssi_html_num(h, "%.5f", json_number_value(json_object_get(as_of, "mjd")));
        ssi_html_raw(h, "); later measurements and tags are left out. <a href=\"");
        ssi_url_init(&u, "/loci/");
        ssi_url_seg(&u, w->id);
        ssi_html_url(h, &u);
        ssi_html_raw(h, "\">Show it as it is now</a>.</p>\n");
    }
}

static void ssi_locus_position(ssi_html *h, const ssi_wlocus *w)
{
    double ra = json_number_value(json_object_get(w->o, "ra"));
    double dec = json_number_value(json_object_get(w->o, "dec"));
    char sra[32], sdec[32];
    ssi_sexa_ra(ra, sra, sizeof sra);
    ssi_sexa_dec(dec, sdec, sizeof sdec);
    ssi_html_raw(h, "<section class=\"card\" id=\"position\"><h2>Position</h2>\n<dl class=\"kv\">"
                    "<dt>RA</dt><dd><span class=\"num\">");
    ssi_html_num(h, "%.7f", ra);
    ssi_html_raw(h, "&#176;</span> <span class=\"sexa\">");
    ssi_html_text(h, sra);
    ssi_html_raw(h, "</span></dd><dt>Dec</dt><dd><span class=\"num\">");
    ssi_html_num(h, "%+.7f", dec);
    ssi_html_raw(h, "&#176;</span> <span class=\"sexa\">");
    ssi_html_text(h, sdec);
    ssi_html_raw(h, "</span></dd>");
    ssi_dd(h, "Alerts", "%.0f", ssi_prop_num(w, "num_alerts"));
    ssi_dd(h, "Detections", "%.0f", ssi_prop_num(w, "num_mag_values"));
    ssi_dd(h, "First (MJD)", "%.5f", ssi_prop_num(w, "oldest_alert_observation_time"));
    ssi_dd(h, "Newest (MJD)", "%.5f", ssi_prop_num(w, "newest_alert_observation_time"));
    ssi_dd(h, "Newest mag", "%.3f", ssi_prop_num(w, "newest_alert_magnitude"));
    ssi_dd(h, "Brightest mag", "%.3f", ssi_prop_num(w, "brightest_alert_magnitude"));
    ssi_html_raw(h, "</dl>\n<p class=\"links\">Everything on this page: <a class=\"json\" "
                    "id=\"locus-json\" href=\"");
    ssi_url u;
    ssi_url_init(&u, "/api/v1/loci/");
    ssi_url_seg(&u, w->id);
    ssi_url_param(&u, "as_of", w->as_of);
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\">locus JSON</a> &#183; light curve <a class=\"json\" href=\"");
    ssi_url_init(&u, "/api/v1/loci/");
    ssi_url_seg(&u, w->id);
    ssi_url_lit(&u, "/lightcurve");
    json_t *as_of = json_object_get(w->o, "as_of");
    if (as_of) /* the measurements the filters had seen: observed before the alert's */
        ssi_url_paramf(&u, "before", "%.9f",
                       json_number_value(json_object_get(as_of, "mjd")) + 1e-7);
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\">JSON</a> <a class=\"csv\" href=\"");
    ssi_url_param(&u, "format", "csv");
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\">CSV</a></p>\n</section>\n");
}

/* The static light curve's description, for its alt text. */
static void ssi_lc_alt(ssi_html *h, const ssi_wlocus *w)
{
    ssi_html_raw(h, "The light curve of ");
    ssi_html_text(h, w->id);
    ssi_html_raw(h, w->flux ? ": difference flux against MJD, per band"
                            : ": magnitude against MJD, per band");
}

static void ssi_locus_lightcurve(ssi_html *h, const ssi_wlocus *w)
{
    ssi_url u;
    ssi_html_raw(h, "<section class=\"card wide\" id=\"lightcurve\"><h2>Light curve</h2>\n"
                    "<div class=\"lc\" id=\"lc\" data-lightcurve=\"");
    ssi_url_init(&u, "/api/v1/loci/");
    ssi_url_seg(&u, w->id);
    ssi_url_lit(&u, "/lightcurve");
    ssi_html_text(h, u.s);
    ssi_html_raw(h, "\"");
    json_t *as_of = json_object_get(w->o, "as_of");
    if (as_of && w->n <= SSI_WEB_MAX_ALERT_ROWS)
        /* what the filter saw is in storage order, not time order: the script plots the
         * measurements of the page's list, which are exactly those */
        ssi_html_raw(h, " data-as-of=\"1\"");
    else if (as_of) { /* a list cut short: those observed before the alert, near enough */
        ssi_html_raw(h, " data-before=\"");
        ssi_html_num(h, "%.9f", json_number_value(json_object_get(as_of, "mjd")) + 1e-7);
        ssi_html_raw(h, "\"");
    }
    if (w->flux)
        ssi_html_raw(h, " data-flux=\"1\"");
    /* the server's picture only without scripts (or when the script cannot draw): drawing it
     * for every page the script replaces would be most of the page's cost (tools/bench_pages.py) */
    ssi_url_lit(&u, ".svg");
    ssi_url_param(&u, "width", "800");
    ssi_url_param(&u, "height", "400");
    ssi_url_param(&u, "as_of", w->as_of);
    if (w->flux)
        ssi_url_param(&u, "flux", "1");
    ssi_html_raw(h, " data-static=\"");
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\" data-alt=\"");
    ssi_lc_alt(h, w);
    ssi_html_raw(h, "\"><noscript><img class=\"lc-static\" id=\"lc-img\" width=\"800\" "
                    "height=\"400\" src=\"");
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\" alt=\"");
    ssi_lc_alt(h, w);
    ssi_html_raw(h, "\"></noscript></div>\n<p class=\"lc-static-links\">");
    ssi_self(w, &u, "flux", w->flux ? NULL : "1");
    ssi_html_link(h, &u, NULL, w->flux ? "Show magnitudes" : "Show fluxes");
    ssi_html_raw(h, " &#183; <a href=\"");
    ssi_url_init(&u, "/api/v1/loci/");
    ssi_url_seg(&u, w->id);
    ssi_url_lit(&u, "/lightcurve.png");
    ssi_url_param(&u, "as_of", w->as_of);
    if (w->flux)
        ssi_url_param(&u, "flux", "1");
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\">PNG</a></p>\n</section>\n");
}

/* Which stamps each alert has, as JSON ({"alert id": bits}), for the script that shows the stamps
 * of an alert picked on the plot: the list shows only the newest alerts. */
static void ssi_stamped_json(ssi_html *h, const ssi_wlocus *w)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < w->n; i++)
        if (w->alerts[i].stamps && w->alerts[i].shown)
            json_object_set_new(o, w->alerts[i].shown, json_integer(w->alerts[i].stamps));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    ssi_html_text(h, text ? text : "{}");
    free(text);
    json_decref(o);
}

static void ssi_locus_cutouts(ssi_html *h, const ssi_wlocus *w)
{
    ssi_html_raw(h, "<section class=\"card\" id=\"cutouts\" data-stamped=\"");
    ssi_stamped_json(h, w);
    ssi_html_raw(h, "\"><h2>Cutouts</h2>\n");
    const ssi_walert *a = w->sel;
    if (!a) {
        ssi_html_raw(h, "<p class=\"empty\" id=\"no-stamps\">No alert of this locus has stamps "
                        "in the store.</p>\n</section>\n");
        return;
    }
    ssi_url u;
    ssi_html_raw(h, "<p class=\"sel\" id=\"sel-alert\">Alert <a class=\"id\" href=\"");
    ssi_alert_url(a->shown, &u, NULL);
    ssi_html_url(h, &u);
    ssi_html_raw(h, "\">");
    ssi_html_text(h, a->shown);
    ssi_html_raw(h, "</a>, MJD ");
    ssi_html_num(h, "%.5f", a->mjd);
    if (a->band) {
        ssi_html_raw(h, ", band ");
        ssi_html_text(h, a->band);
    }
    ssi_html_raw(h, "</p>\n<div class=\"stamps\">");
    for (int k = 0; k < 3; k++) {
        ssi_html_raw(h, "<figure>");
        if (a->stamps >> k & 1) {
            ssi_html_rawf(h, "<a href=\"");
            ssi_alert_url(a->shown, &u, "/cutouts/");
            ssi_url_lit(&u, ssi_stamp_kinds[k]);
            ssi_html_url(h, &u); /* the survey's FITS */
            ssi_html_rawf(h,
                          "\"><img class=\"stamp\" data-kind=\"%s\" width=\"%d\" height=\"%d\" "
                          "src=\"",
                          ssi_stamp_kinds[k], SSI_WEB_STAMP_SIZE, SSI_WEB_STAMP_SIZE);
            ssi_url_lit(&u, ".png");
            ssi_url_paramf(&u, "size", "%d", SSI_WEB_STAMP_SIZE);
            ssi_html_url(h, &u);
            ssi_html_rawf(h, "\" alt=\"the %s stamp of alert ", ssi_stamp_kinds[k]);
            ssi_html_text(h, a->shown);
            ssi_html_raw(h, "\"></a>");
        } else
            ssi_html_rawf(h, "<div class=\"nostamp\" data-kind=\"%s\">none</div>",
                          ssi_stamp_kinds[k]);
        ssi_html_rawf(h, "<figcaption>%c%s</figcaption></figure>", ssi_stamp_kinds[k][0] - 32,
                      ssi_stamp_kinds[k] + 1);
    }
    ssi_html_raw(h, "</div>\n<p class=\"hint\">A stamp links to the survey's FITS file. Choose "
                    "another alert in the light curve or the list of measurements.</p>\n"
                    "</section>\n");
}

static void ssi_locus_tags(ssi_html *h, const ssi_wlocus *w)
{
    json_t *tags = json_object_get(w->o, "tags");
    ssi_html_raw(h, "<section class=\"card\" id=\"tags\"><h2>Tags</h2>\n");
    if (!json_array_size(tags)) {
        ssi_html_raw(h, "<p class=\"empty\">No filter has tagged this locus.</p>\n</section>\n");
        return;
    }
    ssi_html_raw(h, "<div class=\"scroll\"><table><thead><tr><th>Tag</th><th>Filter</th>"
                    "<th class=\"num\">MJD</th><th>Set by alert</th></tr></thead><tbody>\n");
    size_t i;
    json_t *t;
    ssi_url u;
    json_array_foreach(tags, i, t)
    {
        const char *tag = json_string_value(json_object_get(t, "tag"));
        const char *aid = json_string_value(json_object_get(t, "alert_id"));
        ssi_html_raw(h, "<tr><td>");
        if (tag) {
            ssi_url_init(&u, "/tags/");
            ssi_url_seg(&u, tag);
            ssi_html_link(h, &u, "tag", tag);
        }
        ssi_html_raw(h, "</td><td class=\"id\">");
        ssi_html_text(h, json_string_value(json_object_get(t, "filter")));
        ssi_html_raw(h, "</td><td class=\"num\">");
        ssi_html_num(h, "%.5f", json_number_value(json_object_get(t, "mjd")));
        ssi_html_raw(h, "</td><td class=\"id\">");
        if (aid) {
            ssi_self(w, &u, "alert", aid);
            ssi_html_link(h, &u, NULL, aid);
            ssi_html_raw(h, " <a class=\"asof\" title=\"the locus as the filter saw it\" href=\"");
            ssi_url_init(&u, "/loci/");
            ssi_url_seg(&u, w->id);
            ssi_url_param(&u, "as_of", aid);
            ssi_html_url(h, &u);
            ssi_html_raw(h, "\">as seen then</a>");
        }
        ssi_html_raw(h, "</td></tr>\n");
    }
    ssi_html_raw(h, "</tbody></table></div>\n</section>\n");
}

/* The filters that tagged the locus, and where the names in "Written by" come from. @p unnamed:
 * filter-written properties whose writer the store does not record. */
static void ssi_tagging_filters(ssi_html *h, const ssi_wlocus *w, int unnamed)
{
    json_t *seen = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(w->o, "tags"), i, t)
    {
        const char *f = json_string_value(json_object_get(t, "filter"));
        if (f && !json_object_get(seen, f))
            json_object_set_new(seen, f, json_true());
    }
    ssi_html_raw(h, "<p class=\"note\">");
    if (json_object_size(seen)) {
        ssi_html_raw(h, "Filters that tagged this locus: ");
        const char *k;
        json_t *v;
        int n = 0;
        json_object_foreach(seen, k, v)
        {
            ssi_html_raw(h, n++ ? ", <span class=\"id\">" : "<span class=\"id\">");
            ssi_html_text(h, k);
            ssi_html_raw(h, "</span>");
        }
        ssi_html_raw(h, ". ");
    }
    ssi_html_raw(h,
                 "A filter named under &#8220;Written by&#8221; is the one whose set last declared "
                 "that property in its OUTPUT_LOCUS_PROPERTIES (filters write only what they "
                 "declare).");
    if (unnamed)
        ssi_html_raw(h, " Those marked only &#8220;filter&#8221; were written by one of the "
                        "filters that ran on this locus before the store recorded which filter "
                        "writes each property.");
    ssi_html_raw(h, "</p>\n");
    json_decref(seen);
}

/* A property's writer: the broker, the survey, or the filter the store records (its version on
 * hover). @return 1 for a filter-written property whose filter is not recorded. */
static int ssi_written_by(ssi_html *h, const ssi_wlocus *w, const char *key, const char *by,
                          const char *survey)
{
    json_t *fw = json_object_get(w->writers, key);
    if (!by) {
        ssi_html_raw(h, "survey (");
        ssi_html_text(h, survey);
        ssi_html_raw(h, ")");
    } else if (strcmp(by, "filter") || !fw) {
        ssi_html_raw(h, by);
        return !strcmp(by, "filter");
    } else {
        ssi_html_raw(h, "filter <span class=\"id writer\" title=\"version ");
        ssi_html_text(h, json_string_value(json_array_get(fw, 1)));
        ssi_html_raw(h, "\">");
        ssi_html_text(h, json_string_value(json_array_get(fw, 0)));
        ssi_html_raw(h, "</span>");
    }
    return 0;
}

static void ssi_locus_properties(ssi_html *h, const ssi_wlocus *w)
{
    json_t *props = json_object_get(w->o, "properties");
    ssi_html_raw(h, "<section class=\"card\" id=\"properties\"><h2>Properties</h2>\n"
                    "<div class=\"scroll tall\"><table class=\"props\"><thead><tr><th>Name</th>"
                    "<th>Value</th><th>Written by</th></tr></thead><tbody>\n");
    const char *key;
    json_t *v;
    int unnamed = 0;
    json_object_foreach(props, key, v)
    {
        const char *survey = json_string_value(json_object_get(w->survey_keys, key));
        const char *by = json_object_get(w->broker_keys, key) ? "broker" : survey ? NULL : "filter";
        ssi_html_rawf(h, "<tr class=\"by-%s\"><td class=\"id\">", by ? by : "survey");
        ssi_html_text(h, key);
        ssi_html_raw(h, json_is_number(v) ? "</td><td class=\"num\">" : "</td><td>");
        ssi_html_json(h, v);
        ssi_html_raw(h, "</td><td>");
        unnamed += ssi_written_by(h, w, key, by, survey);
        ssi_html_raw(h, "</td></tr>\n");
    }
    ssi_html_raw(h, "</tbody></table></div>\n");
    ssi_tagging_filters(h, w, unnamed);
    ssi_html_raw(h, "</section>\n");
}

static void ssi_match_columns(ssi_html *h, json_t *cols)
{
    const char *k;
    json_t *v;
    int n = 0;
    json_object_foreach(cols, k, v)
    {
        ssi_html_raw(h, n++ ? "; <span class=\"key\">" : "<span class=\"key\">");
        ssi_html_text(h, k);
        ssi_html_raw(h, "</span>=");
        ssi_html_json(h, v);
    }
}

static void ssi_locus_matches(ssi_html *h, const ssi_wlocus *w)
{
    json_t *cats = json_object_get(w->o, "catalog_matches"),
           *watch = json_object_get(w->o, "watch");
    size_t i;
    json_t *m;
    ssi_html_raw(h, "<section class=\"card\" id=\"matches\"><h2>Catalog matches</h2>\n");
    if (!json_array_size(cats))
        ssi_html_raw(h, "<p class=\"empty\">None.</p>\n");
    else {
        ssi_html_raw(h, "<div class=\"scroll\"><table><thead><tr><th>Catalog</th><th>Object</th>"
                        "<th class=\"num\">Sep. (&#8243;)</th><th>Columns</th></tr></thead>"
                        "<tbody>\n");
        json_array_foreach(cats, i, m)
        {
            ssi_html_raw(h, "<tr><td class=\"id\">");
            ssi_html_text(h, json_string_value(json_object_get(m, "catalog")));
            ssi_html_raw(h, "</td><td class=\"id\">");
            json_t *oid = json_object_get(m, "object_id");
            if (oid)
                ssi_html_json(h, oid);
            else {
                ssi_html_raw(h, "row ");
                ssi_html_json(h, json_object_get(m, "row"));
            }
            ssi_html_raw(h, "</td><td class=\"num\">");
            ssi_html_num(h, "%.2f", json_number_value(json_object_get(m, "separation_arcsec")));
            ssi_html_raw(h, "</td><td class=\"cols\">");
            ssi_match_columns(h, json_object_get(m, "columns"));
            ssi_html_raw(h, "</td></tr>\n");
        }
        ssi_html_raw(h, "</tbody></table></div>\n");
    }
    ssi_html_raw(h, "<h2 id=\"watch\">Watch-list hits</h2>\n");
    if (!json_array_size(watch))
        ssi_html_raw(h, "<p class=\"empty\">None.</p>\n");
    else {
        ssi_html_raw(h, "<div class=\"scroll\"><table><thead><tr><th>List</th><th>Object</th>"
                        "<th class=\"num\">Sep. (&#8243;)</th></tr></thead><tbody>\n");
        json_array_foreach(watch, i, m)
        {
            ssi_html_raw(h, "<tr><td class=\"id\">");
            ssi_html_text(h, json_string_value(json_object_get(m, "list")));
            ssi_html_raw(h, "</td><td class=\"id\">");
            ssi_html_json(h, json_object_get(m, "object"));
            ssi_html_raw(h, "</td><td class=\"num\">");
            ssi_html_num(h, "%.2f", json_number_value(json_object_get(m, "separation_arcsec")));
            ssi_html_raw(h, "</td></tr>\n");
        }
        ssi_html_raw(h, "</tbody></table></div>\n");
    }
    ssi_html_raw(h, "</section>\n");
}

static double ssi_aprop(const ssi_walert *a, const char *key)
{
    return ss_json_num_at(json_object_get(a->j, "properties"), key);
}

static void ssi_alert_row(ssi_html *h, const ssi_wlocus *w, const ssi_walert *a)
{
    ssi_url u;
    ssi_html_raw(h, "<tr data-alert=\"");
    ssi_html_text(h, a->shown);
    ssi_html_rawf(h, "\" data-stamps=\"%u\"%s><td class=\"id\">", a->stamps,
                  a == w->sel ? " class=\"sel\" aria-current=\"true\"" : "");
    if (a->stamps) {
        ssi_self(w, &u, "alert", a->shown);
        ssi_url_lit(&u, "#cutouts");
        ssi_html_link(h, &u, "pick", a->shown);
    } else
        ssi_html_text(h, a->shown);
    ssi_html_raw(h, "</td><td class=\"num\">");
    ssi_html_num(h, "%.5f", a->mjd);
    ssi_html_raw(h, "</td><td>");
    ssi_html_text(h, !strcmp(a->kind, "upper_limit")         ? "upper limit"
                     : !strcmp(a->kind, "forced_photometry") ? "forced"
                                                             : a->kind);
    ssi_html_raw(h, "</td><td>");
    ssi_html_text(h, a->band);
    ssi_html_raw(h, "</td><td class=\"num\">");
    ssi_html_num(h, "%.3f", ssi_aprop(a, "ant_mag"));
    ssi_html_raw(h, "</td><td class=\"num\">");
    ssi_html_num(h, "%.3f", ssi_aprop(a, "ant_magerr"));
    ssi_html_raw(h, "</td><td class=\"num\">");
    ssi_html_num(h, "%.2f", ssi_aprop(a, "ant_maglim"));
    ssi_html_raw(h, "</td><td>");
    ssi_html_raw(h, a->stamps == 7 ? "3" : a->stamps ? "some" : "");
    ssi_html_raw(h, "</td></tr>\n");
}

/* How many rows the list shows: the newest SSI_WEB_ALERT_ROWS at first (a table of thousands
 * of rows is most of a browser's first paint), all of them (to SSI_WEB_MAX_ALERT_ROWS) when
 * asked, as a filter saw the locus (the plot shows the list's measurements), or when the chosen
 * alert is older. */
static size_t ssi_alert_rows(const ssi_wlocus *w)
{
    const char *all = ssi_param(w->r, "measurements");
    int every = (all && !strcmp(all, "all")) || w->as_of ||
                (w->sel && (size_t)(w->sel - w->alerts) + SSI_WEB_ALERT_ROWS < w->n);
    size_t cap = every ? SSI_WEB_MAX_ALERT_ROWS : SSI_WEB_ALERT_ROWS;
    return w->n < cap ? w->n : cap;
}

static void ssi_locus_alerts(ssi_html *h, const ssi_wlocus *w)
{
    ssi_html_rawf(h,
                  "<section class=\"card wide\" id=\"measurements\"><h2>Measurements "
                  "<span class=\"count\">%zu</span></h2>\n",
                  w->n);
    if (!w->n) {
        ssi_html_raw(h, "<p class=\"empty\">None.</p>\n</section>\n");
        return;
    }
    ssi_html_raw(h, "<div class=\"scroll tall\"><table class=\"alerts\" id=\"alerts\"><thead><tr>"
                    "<th>Alert</th><th class=\"num\">MJD</th><th>Kind</th><th>Band</th>"
                    "<th class=\"num\">Mag</th><th class=\"num\">Err</th>"
                    "<th class=\"num\">Limit</th><th>Stamps</th></tr></thead><tbody>\n");
    size_t rows = ssi_alert_rows(w);
    for (size_t k = 0; k < rows; k++)
        ssi_alert_row(h, w, &w->alerts[w->n - 1 - k]);
    ssi_html_raw(h, "</tbody></table></div>\n");
    if (rows < w->n) {
        ssi_html_rawf(h, "<p class=\"note\" id=\"more-alerts\">The newest %zu of %zu", rows, w->n);
        if (rows < SSI_WEB_MAX_ALERT_ROWS) {
            ssi_url u;
            ssi_self(w, &u, "measurements", "all");
            ssi_url_lit(&u, "#measurements");
            ssi_html_raw(h, ": ");
            ssi_html_link(h, &u, NULL, "show them all");
        }
        ssi_html_raw(h, "; the locus JSON and CSV have every one.</p>\n");
    }
    ssi_html_raw(h, "</section>\n");
}

static void ssi_locus_free(ssi_wlocus *w)
{
    json_decref(w->o);
    json_decref(w->broker_keys);
    json_decref(w->survey_keys);
    json_decref(w->writers);
    free(w->alerts);
}

void ssi_web_locus(ssi_req *r)
{
    ssi_wlocus w = {.r = r};
    ss_err err = {0};
    const char *flux = ssi_param(r, "flux");
    w.flux = flux && (!strcmp(flux, "1") || !strcmp(flux, "true"));
    int rc = ssi_locus_read(&w, &err);
    if (rc) {
        ssi_locus_free(&w);
        unsigned status = rc == SS_ENOTFOUND    ? MHD_HTTP_NOT_FOUND
                          : rc == SS_EAMBIGUOUS ? MHD_HTTP_CONFLICT
                          : rc == SS_EINVAL     ? MHD_HTTP_BAD_REQUEST
                                                : MHD_HTTP_SERVICE_UNAVAILABLE;
        ssi_web_error(r, status, "%s", err.msg[0] ? err.msg : ss_strerror(rc));
        return;
    }
    ssi_locus_pick(&w);
    ssi_html h;
    ssi_html_begin(&h, r, w.id, NULL);
    ssi_locus_head(&h, &w);
    ssi_html_raw(&h, "<div class=\"grid\">\n");
    ssi_locus_lightcurve(&h, &w);
    ssi_locus_position(&h, &w);
    ssi_locus_cutouts(&h, &w);
    ssi_locus_tags(&h, &w);
    ssi_locus_properties(&h, &w);
    ssi_locus_matches(&h, &w);
    ssi_locus_alerts(&h, &w);
    ssi_html_raw(&h, "</div>\n");
    static const char *const scripts[] = {"site.js", "locus.js", NULL};
    ssi_html_end(&h, MHD_HTTP_OK, scripts);
    ssi_locus_free(&w);
}
