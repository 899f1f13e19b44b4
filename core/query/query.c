/* Queries of the store (query.h): each runs in one read transaction and prints or returns JSON in
 * the shapes core/publish/ defines. */
#include "query.h"

#include "assoc.h"
#include "catalog.h"
#include "json_text.h"
#include "publish.h"
#include "skymap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int ssi_read_begin(ss_store *s, ss_store_txn **txn, ss_err *err)
{
    int rc = ss_store_txn_begin(s, SS_STORE_READ, txn);
    return rc ? ss_store_fail(s, err, rc, "starting a read transaction") : 0;
}

static void ssi_print(FILE *out, json_t *o)
{
    json_dumpf(o, out, SS_JSON_FLAGS);
    fputc('\n', out);
    json_decref(o);
}

/* ---- one locus ---- */

/* What a locus shows: its alerts (all, or those of a time or arrival) and its summary. */
typedef struct ssi_shown {
    ss_packet *pkt;  /* the alerts shown, in time order */
    ss_locus locus;  /* the summary shown */
    ss_prop *survey; /* the survey's locus properties of then, over the stored ones */
    uint32_t nsurvey;
    const ss_alert *as_of; /* the alert it is shown as of, or NULL */
    double before;         /* > 0: observed before this MJD */
} ssi_shown;

/* Only the tags a filter had seen: set by earlier packets' alerts, or at earlier MJDs. */
static int ssi_tag_shown(const ssi_shown *sh, const ss_tag_record *t)
{
    if (sh->before > 0)
        return t->mjd < sh->before;
    if (!sh->as_of)
        return 1;
    for (uint32_t i = 0; t->alert_id[0] && i < sh->pkt->n; i++) {
        const ss_alert *a = &sh->pkt->alerts[i];
        if (!strcmp(a->alert_id, t->alert_id) && !strcmp(a->survey, t->survey))
            return a->arrival < sh->as_of->arrival || !sh->as_of->arrival;
    }
    return !t->alert_id[0] && t->mjd < sh->as_of->mjd; /* a tag of a store before 0.2 */
}

typedef struct ssi_tags_ctx {
    const ssi_shown *sh;
    json_t *arr;
} ssi_tags_ctx;

static int ssi_tag_json(void *ctx, const char *tag, size_t len, const ss_tag_record *t)
{
    ssi_tags_ctx *x = ctx;
    if (!ssi_tag_shown(x->sh, t))
        return 0;
    json_t *o = json_object();
    json_object_set_new(o, "tag", ss_json_textn(tag, len));
    json_object_set_new(o, "filter", ss_json_text(t->filter));
    json_object_set_new(o, "mjd", json_real(t->mjd));
    json_object_set_new(o, "time", ss_json_iso_time(t->time));
    if (t->alert_id[0]) { /* stores before 0.2 did not record it */
        json_object_set_new(o, "survey", ss_json_text(t->survey));
        json_object_set_new(o, "alert_id", ss_json_text(t->alert_id));
    }
    json_array_append_new(x->arr, o);
    return 0;
}

/* The alerts shown, in time order, each with what filters wrote of it. */
static int ssi_locus_alerts(ss_store_txn *txn, const ssi_shown *sh, json_t *arr)
{
    ss_packet *pkt = sh->pkt;
    int rc = 0;
    for (uint32_t i = 0; !rc && i < pkt->n; i++) {
        const ss_alert *a = &pkt->alerts[i];
        json_t *aj = ss_publish_alert(a);
        ss_prop *extra;
        uint32_t nextra;
        if ((rc = ss_store_alert_props(txn, a->survey, a->alert_id, pkt->arena, &extra, &nextra))) {
            json_decref(aj);
            break;
        }
        ss_json_props(json_object_get(aj, "properties"), extra, nextra);
        json_array_append_new(arr, aj);
    }
    return rc;
}

/* "catalog_matches" and "watch": the locus's matches, by catalog then separation. */
static int ssi_locus_matches(ss_store_txn *txn, const char *id, json_t *o)
{
    json_t *cats = json_array(), *watch = json_array();
    json_object_set_new(o, "catalog_matches", cats);
    json_object_set_new(o, "watch", watch);
    ss_arena *arena = ss_arena_new();
    ss_assoc_match *m;
    size_t n;
    int rc = arena ? ss_assoc_matches(txn, id, arena, &m, &n) : SS_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        json_array_append_new(m[i].kind == SS_CATALOG_KIND_WATCH ? watch : cats,
                              ss_publish_match(&m[i]));
    ss_arena_free(arena);
    return rc;
}

static json_t *ssi_gw_event_json(const ss_assoc_gw_match *m)
{
    json_t *o = json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", m->id, "merger_mjd",
        ss_json_num(m->merger_mjd), "credible_level", ss_json_num(m->credible_level), "probdensity",
        ss_json_num(m->probdensity), "dist_mean", ss_json_num(m->dist_mean), "dist_std",
        ss_json_num(m->dist_std), "days_since_merger", ss_json_num(m->days_since_merger));
    ss_publish_gw_class(o, &m->cls);
    return o;
}

/* "gw_events": the gravitational-wave events the locus is in (skymap.h) given the detections of
 * @p pkt, as a filter running now would see them; the stored maps are read in place, so a page
 * costs a binary search per map. @return 0 or a store code. */
static int ssi_gw_events(ss_store_txn *txn, const ss_locus *l, const ss_packet *pkt, json_t **out)
{
    *out = json_array();
    double *mjd = malloc((pkt->n ? pkt->n : 1) * sizeof *mjd);
    ss_assoc_gw_match first[16], *m = first;
    size_t n = 0, k = 0;
    int rc = mjd ? 0 : SS_ENOMEM;
    for (uint32_t i = 0; !rc && i < pkt->n; i++)
        if (pkt->alerts[i].kind == SS_ALERT_DETECTION && isfinite(pkt->alerts[i].mag))
            mjd[n++] = pkt->alerts[i].mjd;
    for (size_t cap = 16; !rc; cap = k) { /* again with room for all, when 16 were too few */
        k = ss_assoc_gw_match_stored(txn, l->ra, l->dec, mjd, n, SS_GW_LEVEL, SS_GW_WINDOW_BEFORE,
                                     SS_GW_WINDOW_AFTER, m, cap, &rc);
        if (rc || k <= cap)
            break;
        if (!(m = malloc(k * sizeof *m)))
            rc = SS_ENOMEM;
    }
    for (size_t i = 0; !rc && i < k; i++)
        json_array_append_new(*out, ssi_gw_event_json(&m[i]));
    if (m != first)
        free(m);
    free(mjd);
    return rc;
}

static int ssi_locus_full(ss_store_txn *txn, const ssi_shown *sh, json_t **out)
{
    const ss_locus *l = &sh->locus;
    ss_arena *arena = ss_arena_new();
    ss_prop *extra;
    uint32_t n;
    int rc = arena ? ss_store_locus_props(txn, l->id, arena, &extra, &n) : SS_ENOMEM;
    json_t *o = json_object(), *props = NULL;
    json_object_set_new(o, "locus_id", json_string(l->id));
    json_object_set_new(o, "ra", ss_json_num(l->ra));
    json_object_set_new(o, "dec", ss_json_num(l->dec));
    if (!rc) {
        props = ss_publish_locus_properties(l, extra, n);
        ss_json_props(props, sh->survey, sh->nsurvey);
    }
    json_object_set_new(o, "properties", props ? props : json_object());
    json_object_set_new(o, "alerts", json_array());
    json_object_set_new(o, "tags", json_array());
    ss_arena_free(arena);
    ssi_tags_ctx tags = {sh, json_object_get(o, "tags")};
    if (!rc && !(rc = ssi_locus_alerts(txn, sh, json_object_get(o, "alerts"))) &&
        !(rc = ss_store_locus_tags(txn, l->id, ssi_tag_json, &tags)))
        rc = ssi_locus_matches(txn, l->id, o);
    json_t *gw = NULL;
    if (!rc && !(rc = ssi_gw_events(txn, l, sh->pkt, &gw)))
        json_object_set_new(o, "gw_events", gw);
    else
        json_decref(gw);
    if (rc)
        json_decref(o);
    *out = rc ? NULL : o;
    return rc;
}

/* Cut what is shown to an alert's arrival or a time, and rebuild the summary from what is left. */
static int ssi_show_then(ss_store_txn *txn, ssi_shown *sh, const char *as_of, ss_err *err)
{
    for (uint32_t i = 0; as_of && !sh->as_of && i < sh->pkt->n; i++)
        if (!strcmp(sh->pkt->alerts[i].alert_id, as_of))
            sh->as_of = &sh->pkt->alerts[i];
    if (as_of && !sh->as_of)
        return ss_err_set(err, SS_ENOTFOUND, "locus %s has no alert '%s'", sh->locus.id, as_of);
    ss_alert trigger = as_of ? *sh->as_of : (ss_alert){0};
    if (as_of && trigger.arrival)
        ss_assoc_keep_arrived(sh->pkt, trigger.arrival);
    if (sh->before > 0)
        ss_assoc_keep_before(sh->pkt, sh->before);
    for (uint32_t i = 0; as_of && i < sh->pkt->n; i++) /* the cut moved it */
        if (!strcmp(sh->pkt->alerts[i].alert_id, as_of) &&
            !strcmp(sh->pkt->alerts[i].survey, trigger.survey))
            sh->as_of = &sh->pkt->alerts[i];
    return ss_assoc_locus_rebuild(txn, sh->pkt, &sh->locus, sh->pkt->arena, &sh->survey,
                                  &sh->nsurvey);
}

static json_t *ssi_shown_json(const ssi_shown *sh)
{
    if (sh->as_of)
        return json_pack("{s:o, s:o, s:f}", "survey", ss_json_text(sh->as_of->survey), "alert_id",
                         ss_json_text(sh->as_of->alert_id), "mjd", sh->as_of->mjd);
    return NULL;
}

static int ssi_show(ss_store_txn *txn, const ss_locus *l, const ss_query_locus_options *o,
                    json_t **out, ss_err *err)
{
    ssi_shown sh = {.pkt = ss_packet_new(), .locus = *l, .before = o ? o->before : 0};
    int rc = sh.pkt ? ss_store_locus_alerts(txn, l->id, sh.pkt) : SS_ENOMEM;
    if (!rc && o && (o->as_of || o->before > 0))
        rc = ssi_show_then(txn, &sh, o->as_of, err);
    if (!rc)
        rc = ssi_locus_full(txn, &sh, out);
    if (!rc && sh.as_of)
        json_object_set_new(*out, "as_of", ssi_shown_json(&sh));
    if (!rc && sh.before > 0)
        json_object_set_new(*out, "before", json_real(sh.before));
    ss_packet_free(sh.pkt);
    return rc;
}

/* What an object id resolves to: the first locus, and every locus seen for the message. */
typedef struct ssi_resolve {
    char first[SS_LOCUS_ID_LEN + 1];
    int found;
    char seen[512];
} ssi_resolve;

static int ssi_object_locus(void *ctx, const char *survey, const char *locus_id)
{
    (void)survey;
    ssi_resolve *r = ctx;
    if (r->found && !strcmp(r->first, locus_id))
        return 0;
    if (r->found++ == 0)
        memcpy(r->first, locus_id, SS_LOCUS_ID_LEN + 1);
    size_t len = strlen(r->seen);
    snprintf(r->seen + len, sizeof r->seen - len, "%s%s", len ? ", " : "", locus_id);
    return 0;
}

/* Resolve a survey object id to its locus; several loci make it ambiguous. */
static int ssi_resolve_object(ss_store_txn *txn, const char *objid, char *out, ss_err *err)
{
    ssi_resolve r = {.found = 0};
    int rc = ss_store_object_each(txn, objid, ssi_object_locus, &r);
    if (rc)
        return rc;
    if (!r.found)
        return ss_err_set(err, SS_ENOTFOUND, "no locus or object '%s' in store %s", objid,
                          ss_store_path(ss_store_txn_store(txn)));
    if (r.found > 1)
        return ss_err_set(err, SS_EAMBIGUOUS, "object '%s' spans several loci: %s", objid, r.seen);
    memcpy(out, r.first, SS_LOCUS_ID_LEN + 1);
    return 0;
}

int ss_query_resolve(ss_store_txn *txn, const char *id, ss_locus *l, ss_err *err)
{
    char locus_id[SS_LOCUS_ID_LEN + 1];
    int rc = 0;
    if (ss_store_locus_id_valid(id))
        memcpy(locus_id, id, sizeof locus_id);
    else if ((rc = ssi_resolve_object(txn, id, locus_id, err)))
        return rc;
    rc = ss_store_locus_get(txn, locus_id, l);
    if (rc == SS_ENOTFOUND)
        return ss_err_set(err, rc, "no locus '%s' in store %s", id,
                          ss_store_path(ss_store_txn_store(txn)));
    return rc ? ss_store_fail(ss_store_txn_store(txn), err, rc, "reading a locus") : 0;
}

int ss_query_locus(ss_store *s, const char *id, const ss_query_locus_options *o, json_t **out,
                   ss_err *err)
{
    ss_store_txn *txn;
    ss_locus l;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    if (!(rc = ss_query_resolve(txn, id, &l, err)))
        rc = ssi_show(txn, &l, o, out, err);
    if (rc && (!err || !err->code))
        ss_store_fail(s, err, rc, "reading a locus");
    ss_store_txn_abort(txn);
    return rc;
}

/* ---- one locus as text ---- */

typedef struct ssi_wtags {
    ss_jw *w;
    ss_publish_id_fn show;
} ssi_wtags;

/* A tag as ssi_tag_json() shapes it; the alert that set it is a detection of its survey. */
static int ssi_tag_write(void *ctx, const char *tag, size_t len, const ss_tag_record *t)
{
    ssi_wtags *x = ctx;
    ss_jw *w = x->w;
    char iso[32], shown[SS_ID_MAX + SS_SURVEY_MAX + 32];
    ss_json_iso_text(t->time, iso);
    ss_jw_open(w, '{');
    ss_jw_key(w, "tag");
    ss_jw_strn(w, tag, len);
    ss_jw_key(w, "filter");
    ss_jw_str(w, t->filter);
    ss_jw_key(w, "mjd");
    ss_jw_num(w, t->mjd);
    ss_jw_key(w, "time");
    ss_jw_str(w, iso);
    if (t->alert_id[0]) {
        if (x->show)
            x->show(t->survey, t->alert_id, SS_ALERT_DETECTION, shown, sizeof shown);
        ss_jw_key(w, "survey");
        ss_jw_str(w, t->survey);
        ss_jw_key(w, "alert_id");
        ss_jw_str(w, x->show ? shown : t->alert_id);
    }
    ss_jw_close(w, '}');
    return 0;
}

/* "catalog_matches" then "watch", as ssi_locus_matches() splits them. */
static int ssi_matches_write(ss_store_txn *txn, const char *id, ss_jw *w)
{
    ss_arena *arena = ss_arena_new();
    ss_assoc_match *m;
    size_t n;
    int rc = arena ? ss_assoc_matches(txn, id, arena, &m, &n) : SS_ENOMEM;
    for (int watch = 0; !rc && watch < 2; watch++) {
        ss_jw_key(w, watch ? "watch" : "catalog_matches");
        ss_jw_open(w, '[');
        for (size_t i = 0; i < n; i++)
            if ((m[i].kind == SS_CATALOG_KIND_WATCH) == watch) {
                json_t *o = ss_publish_match(&m[i]);
                ss_jw_json(w, o);
                json_decref(o);
            }
        ss_jw_close(w, ']');
    }
    ss_arena_free(arena);
    return rc;
}

static int ssi_alerts_write(ss_store_txn *txn, ss_packet *pkt, ss_publish_id_fn show, ss_jw *w)
{
    int rc = 0;
    ss_jw_key(w, "alerts");
    ss_jw_open(w, '[');
    for (uint32_t i = 0; !rc && i < pkt->n; i++) {
        const ss_alert *a = &pkt->alerts[i];
        ss_prop *extra;
        uint32_t n;
        if (!(rc = ss_store_alert_props(txn, a->survey, a->alert_id, pkt->arena, &extra, &n)))
            ss_publish_alert_write(w, a, extra, n, show);
    }
    ss_jw_close(w, ']');
    return rc;
}

static int ssi_locus_write(ss_store_txn *txn, const ss_locus *l, ss_publish_id_fn show, ss_jw *w)
{
    ss_packet *pkt = ss_packet_new();
    ss_prop *extra;
    uint32_t n;
    int rc = pkt ? ss_store_locus_alerts(txn, l->id, pkt) : SS_ENOMEM;
    if (!rc)
        rc = ss_store_locus_props(txn, l->id, pkt->arena, &extra, &n);
    if (!rc) {
        ss_jw_open(w, '{');
        ss_jw_key(w, "locus_id");
        ss_jw_str(w, l->id);
        ss_jw_key(w, "ra");
        ss_jw_num(w, l->ra);
        ss_jw_key(w, "dec");
        ss_jw_num(w, l->dec);
        ss_jw_key(w, "properties");
        ss_publish_locus_properties_write(w, l, extra, n);
        rc = ssi_alerts_write(txn, pkt, show, w);
    }
    ssi_wtags tags = {w, show};
    if (!rc) {
        ss_jw_key(w, "tags");
        ss_jw_open(w, '[');
        rc = ss_store_locus_tags(txn, l->id, ssi_tag_write, &tags);
        ss_jw_close(w, ']');
    }
    json_t *gw = NULL;
    if (!rc && !(rc = ssi_matches_write(txn, l->id, w)) &&
        !(rc = ssi_gw_events(txn, l, pkt, &gw))) {
        ss_jw_key(w, "gw_events");
        ss_jw_json(w, gw);
        ss_jw_close(w, '}');
    }
    json_decref(gw);
    ss_packet_free(pkt);
    return rc;
}

int ss_query_locus_write(ss_store *s, const char *id, ss_publish_id_fn show, ss_wbuf *out,
                         ss_err *err)
{
    ss_store_txn *txn;
    ss_locus l;
    ss_jw w;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    ss_jw_init(&w, out);
    if (!(rc = ss_query_resolve(txn, id, &l, err)))
        rc = ssi_locus_write(txn, &l, show, &w);
    if (!rc && out->failed)
        rc = SS_ENOMEM;
    if (rc && (!err || !err->code))
        ss_store_fail(s, err, rc, "reading a locus");
    ss_store_txn_abort(txn);
    return rc;
}

/* ---- cone searches ---- */

typedef struct ssi_hit {
    char id[SS_LOCUS_ID_LEN + 1];
    double sep;
} ssi_hit;

typedef struct ssi_hits {
    ssi_hit *items;
    size_t n, cap;
} ssi_hits;

static int ssi_collect(void *ctx, const char *locus_id, double ra, double dec, double sep)
{
    (void)ra, (void)dec;
    ssi_hits *h = ctx;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        ssi_hit *fresh = realloc(h->items, cap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        h->items = fresh;
        h->cap = cap;
    }
    memcpy(h->items[h->n].id, locus_id, SS_LOCUS_ID_LEN + 1);
    h->items[h->n++].sep = sep;
    return 0;
}

static int ssi_hit_cmp(const void *a, const void *b)
{
    const ssi_hit *x = a, *y = b;
    if (x->sep != y->sep)
        return x->sep < y->sep ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int ssi_print_hits(ss_store_txn *txn, const ssi_hits *h, FILE *out)
{
    for (size_t i = 0; i < h->n; i++) {
        ss_locus l;
        int rc = ss_store_locus_get(txn, h->items[i].id, &l);
        if (rc)
            return rc == SS_ENOTFOUND ? SS_ECORRUPT : rc;
        json_t *o = ss_publish_locus_summary(&l);
        json_object_set_new(o, "separation_arcsec", json_real(h->items[i].sep * 3600.0));
        ssi_print(out, o);
    }
    return 0;
}

int ss_query_cone(ss_store *s, double ra, double dec, double radius_arcsec, FILE *out, ss_err *err)
{
    if (!(ra >= 0 && ra < 360) || !(dec >= -90 && dec <= 90) || !(radius_arcsec > 0) ||
        radius_arcsec > 180 * 3600.0)
        return ss_err_set(
            err, SS_EINVAL,
            "cone: need 0 <= RA < 360, -90 <= DEC <= 90, 0 < RADIUS <= 648000 arcsec");
    ss_store_txn *txn;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    ssi_hits h = {0};
    rc = ss_store_sky_scan(txn, ra, dec, radius_arcsec / 3600.0, ssi_collect, &h);
    if (!rc) {
        if (h.n)
            qsort(h.items, h.n, sizeof *h.items, ssi_hit_cmp);
        rc = ssi_print_hits(txn, &h, out);
    }
    free(h.items);
    ss_store_txn_abort(txn);
    return rc ? ss_store_fail(s, err, rc, "cone search") : 0;
}

/* ---- listings ---- */

static int ssi_print_summary(void *ctx, const ss_locus *l)
{
    ssi_print(ctx, ss_publish_locus_summary(l));
    return 0;
}

int ss_query_loci(ss_store *s, FILE *out, ss_err *err)
{
    ss_store_txn *txn;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    rc = ss_store_loci_each(txn, NULL, ssi_print_summary, out);
    ss_store_txn_abort(txn);
    return rc ? ss_store_fail(s, err, rc, "listing loci") : 0;
}

static json_t *ssi_stats_json(ss_store *s, const ss_store_counters *c, const ss_store_info *info)
{
    json_t *reasons = json_object();
    for (int r = 0; r < SS_REASON__COUNT; r++)
        if (c->by_reason[r])
            json_object_set_new(reasons, ss_reason_name((ss_reason)r),
                                json_integer((json_int_t)c->by_reason[r]));
    json_t *o = json_object();
    json_object_set_new(o, "store", ss_json_text(ss_store_path(s)));
    json_object_set_new(o, "format_version", json_integer(info->format));
    json_object_set_new(o, "radius_arcsec", json_real(ss_store_radius_arcsec(s)));
    if (ss_store_instance(s))
        json_object_set_new(o, "instance", json_integer(ss_store_instance(s)));
    json_object_set_new(o, "alerts", json_integer((json_int_t)c->alerts));
    json_object_set_new(o, "detections", json_integer((json_int_t)c->detections));
    json_object_set_new(o, "upper_limits", json_integer((json_int_t)c->upper_limits));
    json_object_set_new(o, "forced_photometry", json_integer((json_int_t)c->forced));
    json_object_set_new(o, "cutouts", json_integer((json_int_t)c->cutouts));
    json_object_set_new(o, "loci", json_integer((json_int_t)c->loci));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)c->duplicates));
    json_object_set_new(o, "history_known", json_integer((json_int_t)c->history_known));
    json_object_set_new(o, "rejected", json_integer((json_int_t)c->rejected));
    json_object_set_new(o, "rejected_by_reason", reasons);
    json_object_set_new(o, "ingest_runs", json_integer((json_int_t)c->ingest_seq));
    return o;
}

int ss_query_stats(ss_store *s, json_t **out, ss_err *err)
{
    ss_store_txn *txn;
    ss_store_info info;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    const ss_store_counters *c = ss_store_txn_counters(txn);
    if (!c || (rc = ss_store_info_get(s, &info))) {
        ss_store_txn_abort(txn);
        return ss_store_fail(s, err, rc ? rc : SS_ECORRUPT, "reading counters");
    }
    json_t *o = ssi_stats_json(s, c, &info);
    const char *run;
    size_t len;
    json_t *last = ss_store_run_last(txn, &run, &len) ? NULL : json_loadb(run, len, 0, NULL);
    json_object_set_new(o, "last_ingest", last ? last : json_null());
    json_object_set_new(o, "map_size_bytes", json_integer((json_int_t)info.map_size));
    json_object_set_new(o, "used_bytes", json_integer((json_int_t)info.used_bytes));
    ss_store_txn_abort(txn);
    *out = o;
    return 0;
}

/* The tables as ss_store_footprint() visits them: no store has more than LMDB's 32 named
 * databases (mdb_env_set_maxdbs in store.c). */
typedef struct ssi_tables {
    ss_store_table_use t[32];
    size_t n;
} ssi_tables;

static int ssi_keep_table(void *ctx, const ss_store_table_use *use)
{
    ssi_tables *ts = ctx;
    if (ts->n == sizeof ts->t / sizeof ts->t[0])
        return SS_ECORRUPT;
    ts->t[ts->n++] = *use;
    return 0;
}

/* The largest table first; equal ones by name, so that the order does not depend on the walk. */
static int ssi_by_pages(const void *a, const void *b)
{
    const ss_store_table_use *x = a, *y = b;
    if (x->pages != y->pages)
        return x->pages < y->pages ? 1 : -1;
    return strcmp(x->name, y->name);
}

static json_t *ssi_table_json(const ss_store_table_use *use, uint32_t page_size)
{
    json_int_t page = page_size;
    return json_pack("{s:s, s:I, s:I, s:I, s:i}", "name", use->name, "entries",
                     (json_int_t)use->entries, "bytes", (json_int_t)use->pages * page,
                     "overflow_bytes", (json_int_t)use->overflow_pages * page, "depth",
                     (int)use->depth);
}

int ss_query_footprint(ss_store *s, json_t **out, ss_err *err)
{
    ss_store_txn *txn;
    ss_store_info info;
    ss_store_footprint_info fp;
    ssi_tables ts = {.n = 0};
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    rc = ss_store_footprint(txn, ssi_keep_table, &ts, &fp);
    if (!rc)
        rc = ss_store_info_get(s, &info);
    ss_store_txn_abort(txn);
    if (rc)
        return ss_store_fail(s, err, rc, "reading the tables' sizes");
    qsort(ts.t, ts.n, sizeof ts.t[0], ssi_by_pages);
    json_t *tables = json_array();
    for (size_t i = 0; i < ts.n; i++)
        json_array_append_new(tables, ssi_table_json(&ts.t[i], fp.page_size));
    json_t *o = json_object();
    json_object_set_new(o, "page_size", json_integer(fp.page_size));
    json_object_set_new(o, "used_bytes", json_integer((json_int_t)info.used_bytes));
    json_object_set_new(o, "tables", tables);
    json_object_set_new(o, "free_bytes", json_integer((json_int_t)(fp.free_pages * fp.page_size)));
    json_object_set_new(o, "lmdb_bytes", json_integer((json_int_t)(fp.lmdb_pages * fp.page_size)));
    *out = o;
    return 0;
}

typedef struct ssi_rejects {
    const char *reason;
    FILE *out;
} ssi_rejects;

static int ssi_print_reject(void *ctx, const ss_store_rejected *r)
{
    ssi_rejects *x = ctx;
    if (x->reason &&
        (strlen(x->reason) != r->reason_len || memcmp(x->reason, r->reason, r->reason_len)))
        return 0;
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    json_object_set_new(o, "reason", ss_json_textn(r->reason, r->reason_len));
    json_object_set_new(o, "input", ss_json_textn(r->origin, r->origin_len));
    json_object_set_new(o, "line", json_integer((json_int_t)r->line));
    json_object_set_new(o, "detail", ss_json_textn(r->detail, r->detail_len));
    json_object_set_new(o, "raw", r->raw ? ss_json_textn(r->raw, r->raw_len) : json_null());
    json_object_set_new(o, "time", ss_json_iso_time(r->time));
    ssi_print(x->out, o);
    return 0;
}

int ss_query_rejected(ss_store *s, const char *reason, FILE *out, ss_err *err)
{
    if (reason && ss_reason_from_name(reason) < 0)
        return ss_err_set(err, SS_EINVAL, "unknown reason '%s'", reason);
    ss_store_txn *txn;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    ssi_rejects x = {reason, out};
    rc = ss_store_rejected_each(txn, ssi_print_reject, &x);
    ss_store_txn_abort(txn);
    return rc ? ss_store_fail(s, err, rc, "listing rejected records") : 0;
}

typedef struct ssi_tagged {
    ss_store_txn *txn;
    const char *tag;
    FILE *out;
} ssi_tagged;

/* One line of `tagged`: the locus summary with the tag's record. */
static int ssi_print_tagged(void *ctx, const char *locus_id, double mjd)
{
    (void)mjd;
    ssi_tagged *x = ctx;
    ss_locus l;
    ss_tag_record t;
    int rc = ss_store_locus_get(x->txn, locus_id, &l);
    if (!rc)
        rc = ss_store_tag_get(x->txn, locus_id, x->tag, &t);
    if (rc)
        return rc == SS_ENOTFOUND ? SS_ECORRUPT : rc;
    json_t *o = ss_publish_locus_summary(&l);
    json_object_set_new(o, "tag", ss_json_text(x->tag));
    json_object_set_new(o, "filter", ss_json_text(t.filter));
    json_object_set_new(o, "tagged_mjd", json_real(t.mjd));
    json_object_set_new(o, "tagged_time", ss_json_iso_time(t.time));
    if (t.alert_id[0]) {
        json_object_set_new(o, "tagged_survey", ss_json_text(t.survey));
        json_object_set_new(o, "tagged_alert_id", ss_json_text(t.alert_id));
    }
    ssi_print(x->out, o);
    return 0;
}

int ss_query_tagged(ss_store *s, const char *tag, double since_mjd, FILE *out, ss_err *err)
{
    if (!*tag || strlen(tag) > SS_TAG_MAX)
        return ss_err_set(err, SS_EINVAL, "tagged: bad tag '%s'", tag);
    ss_store_txn *txn;
    int rc = ssi_read_begin(s, &txn, err);
    if (rc)
        return rc;
    ssi_tagged x = {txn, tag, out};
    rc = ss_store_tagged_each(txn, tag, since_mjd, ssi_print_tagged, &x);
    ss_store_txn_abort(txn);
    return rc ? ss_store_fail(s, err, rc, "listing tagged loci") : 0;
}
