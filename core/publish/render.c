/* The JSON shapes of loci, alerts, matches and tag events: one definition for queries, the ingest's
 * stream and the broker's workers. */
#include "publish.h"

#include "json_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ssi_set_objects(json_t *o, const ss_locus *l)
{
    for (uint32_t i = 0; i < l->nobjects; i++) {
        char key[SS_SURVEY_MAX + 16];
        snprintf(key, sizeof key, "%s_object_id", l->objects[i].survey);
        json_object_set_new(o, key, ss_json_text(l->objects[i].object_id));
    }
}

json_t *ss_publish_locus_summary(const ss_locus *l)
{
    json_t *o = json_object();
    json_object_set_new(o, "locus_id", json_string(l->id));
    json_object_set_new(o, "ra", json_real(l->ra));
    json_object_set_new(o, "dec", json_real(l->dec));
    json_object_set_new(o, "num_alerts", json_integer(l->num_alerts));
    json_object_set_new(o, "num_mag_values", json_integer(l->num_mag_values));
    json_object_set_new(o, "oldest_alert_observation_time", ss_json_num(l->oldest.mjd));
    json_object_set_new(o, "newest_alert_observation_time", ss_json_num(l->newest.mjd));
    json_object_set_new(o, "newest_alert_magnitude", ss_json_num(l->newest.mag));
    json_object_set_new(o, "brightest_alert_magnitude", ss_json_num(l->brightest.mag));
    ssi_set_objects(o, l);
    return o;
}

json_t *ss_publish_locus_properties(const ss_locus *l, const ss_prop *extra, size_t n)
{
    json_t *p = json_object();
    ss_arena *arena = ss_arena_new();
    ss_prop *props;
    uint32_t np;
    if (arena && ss_store_locus_computed(l, arena, &props, &np) == 0)
        ss_json_props(p, props, np);
    ss_json_props(p, extra, n);
    ss_arena_free(arena);
    return p;
}

json_t *ss_publish_alert(const ss_alert *a)
{
    json_t *p = json_object();
    json_object_set_new(p, "ant_mjd", json_real(a->mjd));
    json_object_set_new(p, "ant_ra", ss_json_num(a->ra));
    json_object_set_new(p, "ant_dec", ss_json_num(a->dec));
    json_object_set_new(p, "ant_passband", ss_json_text(a->passband));
    json_object_set_new(p, "ant_mag", ss_json_num(a->mag));
    json_object_set_new(p, "ant_magerr", ss_json_num(a->magerr));
    json_object_set_new(p, "ant_maglim", ss_json_num(a->maglim));
    json_object_set_new(p, "ant_flux", ss_json_num(a->flux));
    json_object_set_new(p, "ant_fluxerr", ss_json_num(a->fluxerr));
    json_object_set_new(p, "ant_survey", ss_json_text(a->survey));
    ss_json_props(p, a->props, a->nprops);
    json_t *o = json_object();
    json_object_set_new(o, "alert_id", ss_json_text(a->alert_id));
    json_object_set_new(o, "survey", ss_json_text(a->survey));
    if (a->object_id)
        json_object_set_new(o, "object_id", ss_json_text(a->object_id));
    json_object_set_new(o, "mjd", json_real(a->mjd));
    json_object_set_new(o, "kind", json_string(ss_alert_kind_name(a->kind)));
    json_object_set_new(o, "properties", p);
    return o;
}

json_t *ss_publish_match(const ss_assoc_match *m)
{
    json_t *o = json_object();
    int watch = m->kind == SS_CATALOG_KIND_WATCH;
    json_object_set_new(o, watch ? "list" : "catalog", ss_json_text(m->catalog));
    if (watch) {
        json_object_set_new(o, "object", ss_json_text(m->object_id));
        json_object_set_new(o, "separation_arcsec", json_real(m->separation_arcsec));
        return o;
    }
    json_t *cols = json_object();
    json_object_set_new(o, "row", json_integer((json_int_t)m->row));
    json_object_set_new(o, "object_id", ss_json_text(m->object_id));
    json_object_set_new(o, "separation_arcsec", json_real(m->separation_arcsec));
    for (uint32_t i = 0; i < m->ncols; i++)
        json_object_set_new(cols, m->names[i], ss_json_value(&m->values[i]));
    json_object_set_new(o, "columns", cols);
    return o;
}

void ss_publish_gw_class(json_t *o, const ss_assoc_gw_class *c)
{
    json_object_set_new(o, "far", ss_json_num(c->far));
    json_object_set_new(o, "classification",
                        json_pack("{s:o, s:o, s:o, s:o}", "BNS", ss_json_num(c->p_bns), "NSBH",
                                  ss_json_num(c->p_nsbh), "BBH", ss_json_num(c->p_bbh),
                                  "Terrestrial", ss_json_num(c->p_terrestrial)));
    json_object_set_new(o, "properties",
                        json_pack("{s:o, s:o}", "HasNS", ss_json_num(c->has_ns), "HasRemnant",
                                  ss_json_num(c->has_remnant)));
}

char *ss_publish_tag_event(const char *tag, const char *filter, const ss_locus *l,
                           const ss_alert *trigger)
{
    json_t *o = json_object();
    json_object_set_new(o, "tag", json_string(tag));
    json_object_set_new(o, "filter", json_string(filter));
    json_object_set_new(o, "locus", ss_publish_locus_summary(l));
    json_object_set_new(o, "alert", ss_publish_alert(trigger));
    char *text = json_dumps(o, SS_JSON_FLAGS);
    json_decref(o);
    return text;
}

/* ---- as text ---- */

const char *const ss_publish_summary_keys[] = {"locus_id",
                                               "ra",
                                               "dec",
                                               "num_alerts",
                                               "num_mag_values",
                                               "oldest_alert_observation_time",
                                               "newest_alert_observation_time",
                                               "newest_alert_magnitude",
                                               "brightest_alert_magnitude",
                                               NULL};

void ss_publish_locus_summary_write(ss_jw *w, const ss_locus *l)
{
    const double nums[] = {l->ra,         l->dec,        l->num_alerts, l->num_mag_values,
                           l->oldest.mjd, l->newest.mjd, l->newest.mag, l->brightest.mag};
    ss_jw_key(w, "locus_id");
    ss_jw_str(w, l->id);
    for (size_t i = 0; i < 8; i++) {
        ss_jw_key(w, ss_publish_summary_keys[i + 1]);
        if (i == 2 || i == 3) /* the counts are integers */
            ss_jw_int(w, (long long)nums[i]);
        else
            ss_jw_num(w, nums[i]);
    }
    for (uint32_t i = 0; i < l->nobjects; i++) {
        char key[SS_SURVEY_MAX + 16];
        snprintf(key, sizeof key, "%s_object_id", l->objects[i].survey);
        ss_jw_key(w, key);
        ss_jw_str(w, l->objects[i].object_id);
    }
}

void ss_publish_locus_properties_write(ss_jw *w, const ss_locus *l, const ss_prop *extra, size_t n)
{
    ss_arena *arena = ss_arena_new();
    ss_prop *own = NULL;
    uint32_t nown = 0;
    if (arena && ss_store_locus_computed(l, arena, &own, &nown))
        nown = 0;
    ss_jw_open(w, '{');
    ss_jw_props(w, (ss_jw_set[]){{own, nown}, {extra, n}}, 2);
    ss_jw_close(w, '}');
    ss_arena_free(arena);
}

static ss_prop ssi_num_prop(const char *name, double v)
{
    return (ss_prop){.name = name, .value = {.type = SS_TYPE_FLOAT, .u.f = v}};
}

static ss_prop ssi_text_prop(const char *name, const char *s)
{
    ss_prop p = {.name = name, .value = {.type = SS_TYPE_NULL}};
    if (s)
        p.value = (ss_value){.type = SS_TYPE_STRING, .u.s = {s, strlen(s)}};
    return p;
}

void ss_publish_alert_write(ss_jw *w, const ss_alert *a, const ss_prop *extra, size_t n,
                            ss_publish_id_fn show)
{
    ss_prop ant[] = {
        ssi_num_prop("ant_mjd", a->mjd),         ssi_num_prop("ant_ra", a->ra),
        ssi_num_prop("ant_dec", a->dec),         ssi_text_prop("ant_passband", a->passband),
        ssi_num_prop("ant_mag", a->mag),         ssi_num_prop("ant_magerr", a->magerr),
        ssi_num_prop("ant_maglim", a->maglim),   ssi_num_prop("ant_flux", a->flux),
        ssi_num_prop("ant_fluxerr", a->fluxerr), ssi_text_prop("ant_survey", a->survey)};
    char shown[SS_ID_MAX + SS_SURVEY_MAX + 32];
    if (show)
        show(a->survey, a->alert_id, a->kind, shown, sizeof shown);
    ss_jw_open(w, '{');
    ss_jw_key(w, "alert_id");
    ss_jw_str(w, show ? shown : a->alert_id);
    ss_jw_key(w, "survey");
    ss_jw_str(w, a->survey);
    if (a->object_id) {
        ss_jw_key(w, "object_id");
        ss_jw_str(w, a->object_id);
    }
    ss_jw_key(w, "mjd");
    ss_jw_num(w, a->mjd);
    ss_jw_key(w, "kind");
    ss_jw_str(w, ss_alert_kind_name(a->kind));
    ss_jw_key(w, "properties");
    ss_jw_open(w, '{');
    ss_jw_props(
        w, (ss_jw_set[]){{ant, sizeof ant / sizeof *ant}, {a->props, a->nprops}, {extra, n}}, 3);
    ss_jw_close(w, '}');
    if (show) {
        ss_jw_key(w, "survey_alert_id");
        ss_jw_str(w, a->alert_id);
    }
    ss_jw_close(w, '}');
}
