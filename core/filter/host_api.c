/*
 * The locus view: what a filter reads and writes during run(), served on demand from the store.
 *
 * One view serves a whole dispatch (every filter of the set on one locus). The broker's properties
 * and the stored filter outputs are read when the view opens; alerts and light curves only when a
 * filter first asks. Writes go to a pending list checked against the running filter's declarations;
 * they join the view (and later the store) only when the run succeeds.
 */
#include "filters_impl.h"

#include "assoc.h"
#include "catalog.h"
#include "skymap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ssi_props {
    ss_prop *items;
    uint32_t n, cap;
} ssi_props;

typedef struct ssi_strs {
    const char **items;
    size_t n, cap;
} ssi_strs;

typedef struct ssi_lc {
    const char *band;
    int upper_limits;
    ss_lightcurve lc;
} ssi_lc;

/* A merged light curve already built this dispatch: band (NULL for all) and kinds. */
typedef struct ssi_pts {
    const char *band;
    unsigned kinds;
    const ss_lc_point *points;
    size_t n;
} ssi_pts;

/* The outputs a dry run made on one locus so far (ssi_overlay_*): what its next dispatches see
 * instead of the stored outputs, as a replay into an empty store would show them. */
typedef struct ssi_alert_bag {
    const char *survey, *alert_id;
    ssi_props props;
} ssi_alert_bag;

struct ssi_overlay {
    ss_arena *arena;
    ssi_props locus;
    ssi_strs tags;
    ssi_alert_bag *alerts;
    size_t nalerts, capalerts;
};

struct ss_locus_view {
    ss_store_txn *txn;
    ss_arena *arena; /* everything below lives here until the next open */
    ss_packet *pkt;  /* the locus's alerts, decoded on demand */
    ss_packet *tpkt; /* the trigger's record, when it is named by key */
    uint64_t as_of;  /* the trigger's packet when the locus has later ones (0: none later) */
    ssi_overlay *ov; /* a dry run's own outputs, seen instead of the stored ones (or NULL) */
    ss_locus locus;
    const ss_alert *trigger; /* the caller's, or one of pkt's */
    ssi_props lprops,
        kept_l; /* filter-written locus properties: all known; written this dispatch */
    ssi_props aprops, kept_a; /* the same for the trigger alert */
    ssi_strs tags;            /* tags of the locus: the first nstored were stored before */
    size_t nstored;
    ss_filter_tag_event *newtags;
    size_t nnew, capnew;
    int alerts_loaded;
    size_t nalerts, trigger_idx; /* pkt->alerts[0, nalerts): alerts, in time order */
    size_t nforced;              /* then forced measurements, in time order */
    ssi_lc *lcs;
    size_t nlcs, caplcs;
    ssi_pts *pts;
    size_t npts, cappts;
    const char *want_survey, *want_id; /* the trigger, by key (ssi_view_open_key) */
    const ss_filter_descriptor *cur;   /* the filter running */
    ssi_props pend_l, pend_a;
    ssi_strs pend_tags;
    int pend_halt, halted, failed;
    const char *halted_by;
    char failure[256];
    int matches_loaded;
    const ss_assoc_match **cat_matches, **watch_matches; /* catalog and watch-list matches */
    size_t ncat, nwatch;
    ss_assoc_gw_set *gw; /* the store's sky maps: kept across dispatches, synced when asked */
    int gw_loaded;
    ss_assoc_gw_match *gw_events; /* this dispatch's */
    size_t ngw;
};

static void *ssi_v_grow(ss_arena *a, void *old, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return old;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *fresh = ss_arena_alloc(a, ncap * elem);
    if (fresh && old)
        memcpy(fresh, old, n * elem);
    if (fresh)
        *cap = ncap;
    return fresh;
}

static int ssi_props_put(ss_arena *a, ssi_props *p, const char *name, ss_value v)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (!strcmp(p->items[i].name, name)) {
            p->items[i].value = v;
            return 0;
        }
    size_t cap = p->cap;
    ss_prop *items = ssi_v_grow(a, p->items, p->n, &cap, sizeof *items);
    if (!items)
        return SS_ENOMEM;
    p->items = items;
    p->cap = (uint32_t)cap;
    p->items[p->n].name = name;
    p->items[p->n++].value = v;
    return 0;
}

static const ss_prop *ssi_props_get(const ssi_props *p, const char *name)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (!strcmp(p->items[i].name, name))
            return &p->items[i];
    return NULL;
}

static int ssi_strs_add(ss_arena *a, ssi_strs *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->items[i], str))
            return 0;
    const char **items = ssi_v_grow(a, s->items, s->n, &s->cap, sizeof *items);
    if (!items)
        return SS_ENOMEM;
    s->items = items;
    s->items[s->n++] = str;
    return 0;
}

static int ssi_strs_has(const ssi_strs *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->items[i], str))
            return 1;
    return 0;
}

ss_locus_view *ssi_view_new(void)
{
    ss_locus_view *v = calloc(1, sizeof *v);
    if (v && (!(v->arena = ss_arena_new()) || !(v->pkt = ss_packet_new()) ||
              !(v->tpkt = ss_packet_new()) || !(v->gw = ss_assoc_gw_set_new()))) {
        ssi_view_free(v);
        return NULL;
    }
    return v;
}

void ssi_view_free(ss_locus_view *v)
{
    if (!v)
        return;
    ss_arena_free(v->arena);
    ss_packet_free(v->pkt);
    ss_packet_free(v->tpkt);
    ss_assoc_gw_set_free(v->gw);
    free(v);
}

/* A property bag read from the store, owned by the view's arena. */
static int ssi_bag_take(ssi_props *out, ss_prop *items, uint32_t n)
{
    out->items = items;
    out->n = out->cap = n;
    return 0;
}

static const ssi_alert_bag *ssi_overlay_alert(const ssi_overlay *ov, const ss_alert *a)
{
    for (size_t i = 0; i < ov->nalerts; i++)
        if (!strcmp(ov->alerts[i].alert_id, a->alert_id) &&
            !strcmp(ov->alerts[i].survey, a->survey))
            return &ov->alerts[i];
    return NULL;
}

/* A copy of @p from in the view's arena (the view writes into its bags). */
static int ssi_props_copy(ss_arena *a, const ssi_props *from, ssi_props *to)
{
    *to = (ssi_props){0};
    for (uint32_t i = 0; i < from->n; i++)
        if (ssi_props_put(a, to, from->items[i].name, from->items[i].value))
            return SS_ENOMEM;
    return 0;
}

static int ssi_load_locus_props(ss_locus_view *v)
{
    ss_prop *items;
    uint32_t n;
    if (v->ov)
        return ssi_props_copy(v->arena, &v->ov->locus, &v->lprops);
    int rc = ss_store_locus_props(v->txn, v->locus.id, v->arena, &items, &n);
    return rc ? rc : ssi_bag_take(&v->lprops, items, n);
}

static int ssi_load_alert_props(ss_locus_view *v, const ss_alert *a, ssi_props *out)
{
    ss_prop *items;
    uint32_t n;
    if (v->ov) {
        const ssi_alert_bag *b = ssi_overlay_alert(v->ov, a);
        return b ? ssi_props_copy(v->arena, &b->props, out) : (*out = (ssi_props){0}, 0);
    }
    int rc = ss_store_alert_props(v->txn, a->survey, a->alert_id, v->arena, &items, &n);
    return rc ? rc : ssi_bag_take(out, items, n);
}

static int ssi_tag_seen(void *ctx, const char *tag, size_t len, const ss_tag_record *rec)
{
    (void)rec;
    ss_locus_view *v = ctx;
    char *copy = ss_arena_strndup(v->arena, tag, len);
    return copy ? ssi_strs_add(v->arena, &v->tags, copy) : SS_ENOMEM;
}

static int ssi_load_tags(ss_locus_view *v)
{
    for (size_t i = 0; v->ov && i < v->ov->tags.n; i++)
        if (ssi_strs_add(v->arena, &v->tags, v->ov->tags.items[i]))
            return SS_ENOMEM;
    return v->ov ? 0 : ss_store_locus_tags(v->txn, v->locus.id, ssi_tag_seen, v);
}

static int ssi_load_locus(ss_locus_view *v, const char *locus_id, const ss_locus *known)
{
    if (known) { /* the caller just wrote it in this transaction: no need to read it back */
        v->locus = *known;
        return 0;
    }
    return ss_store_locus_get(v->txn, locus_id, &v->locus);
}

static int ssi_load_alerts(ss_locus_view *v);

/* The trigger: the caller's alert, or among the loaded alerts the one named by want_id, or the
 * newest by observation time. */
static int ssi_set_trigger(ss_locus_view *v, const ss_alert *trigger)
{
    v->trigger = trigger;
    if (!trigger) {
        int rc = ssi_load_alerts(v);
        if (rc || v->nalerts == 0)
            return rc ? rc : SS_ECORRUPT;
        v->trigger_idx = v->nalerts - 1;
        for (size_t i = 0; v->want_id && i < v->nalerts; i++)
            if (!strcmp(v->pkt->alerts[i].alert_id, v->want_id) &&
                !strcmp(v->pkt->alerts[i].survey, v->want_survey))
                v->trigger_idx = i;
        v->trigger = &v->pkt->alerts[v->trigger_idx];
        if (v->want_id && strcmp(v->trigger->alert_id, v->want_id))
            return SS_ENOTFOUND;
    }
    return ssi_load_alert_props(v, v->trigger, &v->aprops);
}

/* Forget the last dispatch, keeping the view's arena and packets. */
static void ssi_view_reset(ss_locus_view *v, ss_store_txn *txn)
{
    ss_arena *arena = v->arena;
    ss_packet *pkt = v->pkt, *tpkt = v->tpkt;
    ssi_overlay *ov = v->ov;
    ss_assoc_gw_set *gw = v->gw;
    ss_arena_reset(arena);
    ss_packet_reset(pkt);
    ss_packet_reset(tpkt);
    memset(v, 0, sizeof *v);
    v->arena = arena;
    v->pkt = pkt;
    v->tpkt = tpkt;
    v->ov = ov;
    v->gw = gw;
    v->txn = txn;
    v->trigger_idx = SIZE_MAX;
}

/* What every dispatch reads first: the locus, its filter outputs and its tags. */
static int ssi_open_locus(ss_locus_view *v, const char *locus_id, const ss_locus *known)
{
    int rc = ssi_load_locus(v, locus_id, known);
    if (!rc)
        rc = ssi_load_locus_props(v);
    if (!rc)
        rc = ssi_load_tags(v);
    v->nstored = v->tags.n;
    return rc;
}

int ssi_view_open(ss_locus_view *v, ss_store_txn *txn, const char *locus_id, const ss_locus *known,
                  const ss_alert *trigger)
{
    ssi_view_reset(v, txn);
    int rc = ssi_open_locus(v, locus_id, known);
    return rc ? rc : ssi_set_trigger(v, trigger);
}

static int ssi_load_alerts(ss_locus_view *v);
static int ssi_cut_to(ss_locus_view *v, uint64_t as_of);

/* The trigger named by key: its record, or, without a survey, the locus's alert of that id. */
static int ssi_find_trigger(ss_locus_view *v, const char *survey, const char *alert_id,
                            const ss_alert **out)
{
    if (survey) {
        ss_alert *a;
        int rc = ss_store_alert_get(v->txn, survey, alert_id, v->tpkt, &a);
        *out = a;
        return rc;
    }
    int rc = ssi_load_alerts(v);
    for (size_t i = 0; !rc && i < v->nalerts; i++)
        if (!strcmp(v->pkt->alerts[i].alert_id, alert_id)) {
            ss_alert *copy = ss_packet_add(v->tpkt);
            if (!copy)
                return SS_ENOMEM;
            *copy = v->pkt->alerts[i]; /* its strings live in pkt's arena until the next open */
            *out = copy;
            return 0;
        }
    return rc ? rc : SS_ENOTFOUND;
}

int ssi_view_open_key(ss_locus_view *v, ss_store_txn *txn, const char *locus_id, const char *survey,
                      const char *alert_id)
{
    const ss_alert *t = NULL;
    ssi_view_reset(v, txn);
    int rc = ssi_open_locus(v, locus_id, NULL);
    if (!rc)
        rc = ssi_find_trigger(v, survey, alert_id, &t);
    /* A trigger whose packet is not the locus's last: the view is cut to what came with it. A
     * dry run's own outputs replace the stored ones, so it rebuilds even the last packet's view
     * (the survey's locus properties are then the trigger packet's, not the stored bag's). */
    if (!rc && (v->ov || (t->arrival && t->arrival < v->locus.last_packet)))
        rc = ssi_cut_to(v, t->arrival);
    if (rc)
        return rc;
    v->want_survey = t->survey; /* the trigger among the loaded alerts, once they are */
    v->want_id = t->alert_id;
    return ssi_set_trigger(v, v->alerts_loaded ? NULL : t);
}

/* Alerts first, then forced measurements, each in time order: filters of ABI 1.0 index alerts
 * only, and forced photometry reaches filters through light_curve(). */
static int ssi_split_forced(ss_locus_view *v)
{
    ss_packet *p = v->pkt;
    ss_alert *tmp = ss_arena_alloc(v->arena, (p->n ? p->n : 1) * sizeof *tmp);
    if (!tmp)
        return SS_ENOMEM;
    size_t k = 0;
    for (uint32_t i = 0; i < p->n; i++)
        if (p->alerts[i].kind != SS_ALERT_FORCED)
            tmp[k++] = p->alerts[i];
    v->nalerts = k;
    for (uint32_t i = 0; i < p->n; i++)
        if (p->alerts[i].kind == SS_ALERT_FORCED)
            tmp[k++] = p->alerts[i];
    v->nforced = k - v->nalerts;
    memcpy(p->alerts, tmp, k * sizeof *tmp);
    return 0;
}

/* Decode every alert of the locus once, in time order. */
static int ssi_load_alerts(ss_locus_view *v)
{
    if (v->alerts_loaded)
        return 0;
    int rc = ss_store_locus_alerts(v->txn, v->locus.id, v->pkt);
    if (rc || (rc = ssi_split_forced(v)))
        return rc;
    v->alerts_loaded = 1;
    for (size_t i = 0; v->trigger && i < v->nalerts; i++)
        if (!strcmp(v->pkt->alerts[i].alert_id, v->trigger->alert_id) &&
            !strcmp(v->pkt->alerts[i].survey, v->trigger->survey))
            v->trigger_idx = i;
    return 0;
}

/* ---- as of the trigger ---- */

/* Cut the view to what was stored before or with packet @p as_of: the measurements, the locus
 * as it was then, and the survey's locus properties of then over the stored ones. */
static int ssi_cut_to(ss_locus_view *v, uint64_t as_of)
{
    ss_prop *survey;
    uint32_t n;
    int rc = v->alerts_loaded ? 0 : ss_store_locus_alerts(v->txn, v->locus.id, v->pkt);
    if (rc)
        return rc;
    ss_assoc_keep_arrived(v->pkt, as_of);
    if ((rc = ss_assoc_locus_rebuild(v->txn, v->pkt, &v->locus, v->arena, &survey, &n)))
        return rc;
    for (uint32_t i = 0; !rc && i < n; i++)
        rc = ssi_props_put(v->arena, &v->lprops, survey[i].name, survey[i].value);
    if (rc || (rc = ssi_split_forced(v)))
        return rc;
    v->as_of = as_of;
    v->alerts_loaded = 1;
    return 0;
}

/* ---- reading ---- */

static const char *h_locus_id(ss_locus_view *v)
{
    return v->locus.id;
}
static double h_locus_ra(ss_locus_view *v)
{
    return v->locus.ra;
}
static double h_locus_dec(ss_locus_view *v)
{
    return v->locus.dec;
}

static int ssi_found(const ss_prop *p, ss_value *out)
{
    if (!p || p->value.type == SS_TYPE_NULL) {
        out->type = SS_TYPE_NULL;
        return SS_ENOTFOUND;
    }
    *out = p->value;
    return 0;
}

static int h_locus_property(ss_locus_view *v, const char *name, ss_value *out)
{
    const ss_prop *p = ssi_props_get(&v->lprops, name);
    if (p || !ss_store_locus_computed_get(&v->locus, name, out))
        return ssi_found(p, out);
    return out->type == SS_TYPE_NULL ? SS_ENOTFOUND : 0;
}

static size_t h_alert_count(ss_locus_view *v)
{
    return ssi_load_alerts(v) ? 0 : v->nalerts;
}

static const ss_alert *ssi_alert_at(ss_locus_view *v, size_t i)
{
    if (i == SS_TRIGGER)
        return v->trigger;
    if (ssi_load_alerts(v) || i >= v->nalerts)
        return NULL;
    return &v->pkt->alerts[i];
}

static int h_alert(ss_locus_view *v, size_t i, ss_alert_info *out)
{
    const ss_alert *a = ssi_alert_at(v, i);
    if (!a)
        return SS_ENOTFOUND;
    *out = (ss_alert_info){
        a->survey, a->alert_id, a->passband, a->mjd,    a->ra,
        a->dec,    a->mag,      a->magerr,   a->maglim, a->kind == SS_ALERT_UPPER_LIMIT};
    return 0;
}

/* A filter-written property of a stored alert that is not the trigger. */
static int ssi_stored_alert_prop(ss_locus_view *v, const ss_alert *a, const char *name,
                                 ss_value *out)
{
    ssi_props bag = {0};
    if (ssi_load_alert_props(v, a, &bag))
        return SS_ENOTFOUND;
    return ssi_found(ssi_props_get(&bag, name), out);
}

static int h_alert_property(ss_locus_view *v, size_t i, const char *name, ss_value *out)
{
    const ss_alert *a = ssi_alert_at(v, i);
    out->type = SS_TYPE_NULL;
    if (!a)
        return SS_ENOTFOUND;
    if (ss_alert_normalised(a, name, out))
        return out->type == SS_TYPE_NULL ? SS_ENOTFOUND : 0;
    const ss_prop *p = ss_alert_prop(a, name);
    if (p)
        return ssi_found(p, out);
    int is_trigger =
        a == v->trigger || (i != SS_TRIGGER && i == v->trigger_idx && v->trigger_idx != SIZE_MAX);
    if (is_trigger)
        return ssi_found(ssi_props_get(&v->aprops, name), out);
    return ssi_stored_alert_prop(v, a, name, out);
}

static int ssi_build_lc(ss_locus_view *v, const char *band, int ul, ss_lightcurve *out)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nalerts; i++) {
        const ss_alert *a = &v->pkt->alerts[i];
        n += !strcmp(a->passband, band) && (a->kind == SS_ALERT_UPPER_LIMIT) == !!ul;
    }
    double *mjd = ss_arena_alloc(v->arena, (n ? n : 1) * 3 * sizeof *mjd);
    if (!mjd)
        return SS_ENOMEM;
    double *mag = mjd + n, *err = mag + n;
    size_t k = 0;
    for (size_t i = 0; i < v->nalerts; i++) {
        const ss_alert *a = &v->pkt->alerts[i];
        if (strcmp(a->passband, band) || (a->kind == SS_ALERT_UPPER_LIMIT) != !!ul)
            continue;
        mjd[k] = a->mjd;
        mag[k] = ul ? a->maglim : a->mag;
        err[k++] = ul ? NAN : a->magerr;
    }
    *out = (ss_lightcurve){n, mjd, mag, err};
    return 0;
}

static int h_lightcurve(ss_locus_view *v, const char *band, int ul, ss_lightcurve *out)
{
    *out = (ss_lightcurve){0, NULL, NULL, NULL};
    int rc = ssi_load_alerts(v);
    if (rc)
        return rc;
    for (size_t i = 0; i < v->nlcs; i++)
        if (!strcmp(v->lcs[i].band, band) && v->lcs[i].upper_limits == !!ul) {
            *out = v->lcs[i].lc;
            return 0;
        }
    ssi_lc *lcs = ssi_v_grow(v->arena, v->lcs, v->nlcs, &v->caplcs, sizeof *lcs);
    char *copy = ss_arena_strndup(v->arena, band, strlen(band));
    if (!lcs || !copy || (rc = ssi_build_lc(v, band, ul, out)))
        return rc ? rc : SS_ENOMEM;
    v->lcs = lcs;
    v->lcs[v->nlcs++] = (ssi_lc){copy, !!ul, *out};
    return 0;
}

static unsigned ssi_point_kind(const ss_alert *a)
{
    return a->kind == SS_ALERT_FORCED        ? SS_POINT_FORCED
           : a->kind == SS_ALERT_UPPER_LIMIT ? SS_POINT_UPPER_LIMIT
                                             : SS_POINT_DETECTION;
}

static int ssi_point_wanted(const ss_alert *a, const char *band, unsigned kinds)
{
    return (ssi_point_kind(a) & kinds) && (!band || !strcmp(a->passband, band));
}

static ss_lc_point ssi_point(const ss_alert *a)
{
    ss_lc_point p = {a->mjd,     a->mag,      a->magerr, a->maglim,   a->flux,
                     a->fluxerr, a->passband, a->survey, a->alert_id, ssi_point_kind(a)};
    if (p.kind == SS_POINT_DETECTION && isnan(p.flux) && isfinite(p.mag)) {
        /* tuple alerts carry magnitudes only: the same nJy scale as the surveys' fluxes */
        p.flux = pow(10.0, -0.4 * (p.mag - SS_NJY_ZEROPOINT));
        p.fluxerr = p.flux * p.magerr / 1.0857362047581294;
    }
    return p;
}

/* Merge the alerts and the forced measurements (each already in time order) into one curve. */
static int ssi_build_points(ss_locus_view *v, const char *band, unsigned kinds, ssi_pts *out)
{
    const ss_alert *al = v->pkt->alerts, *fo = al + v->nalerts;
    size_t n = 0, i = 0, j = 0;
    for (size_t k = 0; k < v->nalerts + v->nforced; k++)
        n += ssi_point_wanted(&al[k], band, kinds);
    ss_lc_point *pts = ss_arena_alloc(v->arena, (n ? n : 1) * sizeof *pts);
    if (!pts)
        return SS_ENOMEM;
    for (size_t k = 0; k < n;) {
        int take_alert = j >= v->nforced || (i < v->nalerts && al[i].mjd <= fo[j].mjd);
        const ss_alert *a = take_alert ? &al[i++] : &fo[j++];
        if (ssi_point_wanted(a, band, kinds))
            pts[k++] = ssi_point(a);
    }
    *out = (ssi_pts){band, kinds, pts, n};
    return 0;
}

static int h_light_curve(ss_locus_view *v, const char *band, unsigned kinds,
                         const ss_lc_point **points, size_t *n)
{
    *points = NULL;
    *n = 0;
    int rc = ssi_load_alerts(v);
    if (rc)
        return rc;
    for (size_t i = 0; i < v->npts; i++)
        if (v->pts[i].kinds == kinds &&
            (v->pts[i].band ? band && !strcmp(v->pts[i].band, band) : !band)) {
            *points = v->pts[i].points;
            *n = v->pts[i].n;
            return 0;
        }
    ssi_pts *pts = ssi_v_grow(v->arena, v->pts, v->npts, &v->cappts, sizeof *pts);
    char *copy = band ? ss_arena_strndup(v->arena, band, strlen(band)) : NULL;
    if (!pts || (band && !copy))
        return SS_ENOMEM;
    v->pts = pts;
    if ((rc = ssi_build_points(v, copy, kinds, &v->pts[v->npts])))
        return rc;
    *points = v->pts[v->npts].points;
    *n = v->pts[v->npts++].n;
    return 0;
}

static size_t h_passbands(ss_locus_view *v, const char **out, size_t max)
{
    for (uint32_t i = 0; i < v->locus.nbands && i < max; i++)
        out[i] = v->locus.bands[i].passband;
    return v->locus.nbands;
}

static int h_has_tag(ss_locus_view *v, const char *tag)
{
    return ssi_strs_has(&v->tags, tag);
}

static size_t h_tags(ss_locus_view *v, const char **out, size_t max)
{
    for (size_t i = 0; i < v->tags.n && i < max; i++)
        out[i] = v->tags.items[i];
    return v->tags.n;
}

/* Read the locus's matches once, on the first question about them. */
static int ssi_load_matches(ss_locus_view *v)
{
    if (v->matches_loaded)
        return 0;
    ss_assoc_match *m;
    size_t n;
    int rc = ss_assoc_matches(v->txn, v->locus.id, v->arena, &m, &n);
    if (rc)
        return rc;
    v->cat_matches = ss_arena_alloc(v->arena, (n ? n : 1) * sizeof *v->cat_matches);
    v->watch_matches = ss_arena_alloc(v->arena, (n ? n : 1) * sizeof *v->watch_matches);
    if (!v->cat_matches || !v->watch_matches)
        return SS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (m[i].kind == SS_CATALOG_KIND_WATCH)
            v->watch_matches[v->nwatch++] = &m[i];
        else
            v->cat_matches[v->ncat++] = &m[i];
    v->matches_loaded = 1;
    return 0;
}

static const ss_assoc_match *ssi_cat_match(ss_locus_view *v, size_t i)
{
    return ssi_load_matches(v) || i >= v->ncat ? NULL : v->cat_matches[i];
}

static size_t h_catalog_match_count(ss_locus_view *v)
{
    return ssi_load_matches(v) ? 0 : v->ncat;
}

static int h_catalog_match(ss_locus_view *v, size_t i, ss_catalog_match *out)
{
    const ss_assoc_match *m = ssi_cat_match(v, i);
    if (!m)
        return SS_ENOTFOUND;
    *out = (ss_catalog_match){m->catalog, m->object_id, m->separation_arcsec};
    return 0;
}

static uint64_t h_catalog_match_row(ss_locus_view *v, size_t i)
{
    const ss_assoc_match *m = ssi_cat_match(v, i);
    return m ? m->row : 0;
}

static size_t h_catalog_match_columns(ss_locus_view *v, size_t i, const char **out, size_t max)
{
    const ss_assoc_match *m = ssi_cat_match(v, i);
    for (uint32_t k = 0; m && k < m->ncols && k < max; k++)
        out[k] = m->names[k];
    return m ? m->ncols : 0;
}

static int h_catalog_match_column(ss_locus_view *v, size_t i, const char *name, ss_value *out)
{
    const ss_assoc_match *m = ssi_cat_match(v, i);
    out->type = SS_TYPE_NULL;
    for (uint32_t k = 0; m && name && k < m->ncols; k++)
        if (!strcmp(m->names[k], name)) {
            *out = m->values[k];
            return out->type == SS_TYPE_NULL ? SS_ENOTFOUND : 0;
        }
    return SS_ENOTFOUND;
}

/* The lists, each once, in the order of their first match. */
static size_t h_watch_lists(ss_locus_view *v, const char **out, size_t max)
{
    size_t n = 0;
    if (ssi_load_matches(v))
        return 0;
    for (size_t i = 0; i < v->nwatch; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(v->watch_matches[j]->catalog, v->watch_matches[i]->catalog);
        if (!seen && n < max)
            out[n] = v->watch_matches[i]->catalog;
        n += !seen;
    }
    return n;
}

static size_t h_watch_objects(ss_locus_view *v, ss_watch_object *out, size_t max)
{
    if (ssi_load_matches(v))
        return 0;
    for (size_t i = 0; i < v->nwatch && i < max; i++)
        out[i] = (ss_watch_object){v->watch_matches[i]->catalog, v->watch_matches[i]->object_id,
                                   v->watch_matches[i]->separation_arcsec};
    return v->nwatch;
}

/* The events the locus is in, once per dispatch: the maps are synced with the store (a read of
 * one counter when none changed), the detections are those the run sees. */
static int ssi_load_gw(ss_locus_view *v)
{
    if (v->gw_loaded)
        return 0;
    int rc = ss_assoc_gw_set_sync(v->gw, v->txn);
    size_t nmaps = ss_assoc_gw_set_count(v->gw);
    const ss_lc_point *pts = NULL;
    size_t n = 0;
    if (!rc && nmaps)
        rc = h_light_curve(v, NULL, SS_POINT_DETECTION, &pts, &n);
    double *mjd = n ? ss_arena_alloc(v->arena, n * sizeof *mjd) : NULL;
    v->gw_events = nmaps ? ss_arena_alloc(v->arena, nmaps * sizeof *v->gw_events) : NULL;
    if (!rc && ((n && !mjd) || (nmaps && !v->gw_events)))
        rc = SS_ENOMEM;
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        mjd[i] = pts[i].mjd;
    v->ngw = ss_assoc_gw_match_at(v->gw, v->locus.ra, v->locus.dec, mjd, n, SS_GW_LEVEL,
                                  SS_GW_WINDOW_BEFORE, SS_GW_WINDOW_AFTER, v->gw_events, nmaps);
    v->gw_loaded = 1;
    return 0;
}

static size_t h_gw_event_count(ss_locus_view *v)
{
    return ssi_load_gw(v) ? 0 : v->ngw;
}

static int h_gw_event(ss_locus_view *v, size_t i, ss_gw_event *out)
{
    if (ssi_load_gw(v) || i >= v->ngw)
        return SS_ENOTFOUND;
    const ss_assoc_gw_match *m = &v->gw_events[i];
    const ss_assoc_gw_class *c = &m->cls;
    *out = (ss_gw_event){m->id,
                         m->merger_mjd,
                         m->credible_level,
                         m->probdensity,
                         m->dist_mean,
                         m->dist_std,
                         m->days_since_merger,
                         c->far,
                         c->p_bns,
                         c->p_nsbh,
                         c->p_bbh,
                         c->p_terrestrial,
                         c->has_ns,
                         c->has_remnant};
    return 0;
}

/* ---- writing ---- */

static int ssi_fail_with(ss_locus_view *v, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int ssi_fail_with(ss_locus_view *v, int rc, const char *fmt, ...)
{
    if (!v->failed) { /* the first failure is the cause; later ones follow from it */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->failure, sizeof v->failure, fmt, ap);
        va_end(ap);
        v->failed = rc;
    }
    return rc;
}

static const ss_property_decl *ssi_decl(const ss_property_decl *decls, const char *name)
{
    for (const ss_property_decl *d = decls; d && d->name; d++)
        if (!strcmp(d->name, name))
            return d;
    return NULL;
}

/* Check a write against the declarations; the value is copied into the view's arena. */
static int ssi_checked_value(ss_locus_view *v, const ss_property_decl *decls, const char *what,
                             const char *name, ss_value *val)
{
    const ss_property_decl *d = name ? ssi_decl(decls, name) : NULL;
    if (!d)
        return ssi_fail_with(v, SS_EUNDECLARED, "%s property '%s' is not declared", what,
                             name ? name : "(null)");
    if (d->type == SS_TYPE_FLOAT && val->type == SS_TYPE_INT)
        val->type = SS_TYPE_FLOAT, val->u.f = (double)val->u.i;
    if (val->type != d->type)
        return ssi_fail_with(v, SS_ETYPE, "%s property '%s' is declared %s, given %s", what, name,
                             ss_type_name(d->type), ss_type_name(val->type));
    if (val->type == SS_TYPE_FLOAT && !isfinite(val->u.f))
        return ssi_fail_with(v, SS_ETYPE, "%s property '%s': %g is not a finite number", what, name,
                             val->u.f);
    if (val->type == SS_TYPE_STRING &&
        !(val->u.s.ptr = ss_arena_strndup(v->arena, val->u.s.ptr, val->u.s.len)))
        return ssi_fail_with(v, SS_ENOMEM, "out of memory");
    return 0;
}

static int h_set_locus_property(ss_locus_view *v, const char *name, ss_value val)
{
    int rc = ssi_checked_value(v, v->cur->output_locus_properties, "locus", name, &val);
    if (rc)
        return rc;
    char *copy = ss_arena_strndup(v->arena, name, strlen(name));
    return copy ? ssi_props_put(v->arena, &v->pend_l, copy, val) : SS_ENOMEM;
}

static int h_set_alert_property(ss_locus_view *v, const char *name, ss_value val)
{
    int rc = ssi_checked_value(v, v->cur->output_alert_properties, "alert", name, &val);
    if (rc)
        return rc;
    char *copy = ss_arena_strndup(v->arena, name, strlen(name));
    return copy ? ssi_props_put(v->arena, &v->pend_a, copy, val) : SS_ENOMEM;
}

static int h_add_tag(ss_locus_view *v, const char *tag)
{
    for (const ss_tag_decl *d = v->cur->output_tags; tag && d && d->name; d++)
        if (!strcmp(d->name, tag))
            return ssi_strs_add(v->arena, &v->pend_tags, d->name);
    return ssi_fail_with(v, SS_EUNDECLARED, "tag '%s' is not declared", tag ? tag : "(null)");
}

static void h_halt(ss_locus_view *v)
{
    v->pend_halt = 1;
}

static int h_fail(ss_locus_view *v, const char *message)
{
    return ssi_fail_with(v, SS_EFILTER, "%s", message ? message : "failed");
}

static const ss_host_api ssi_host = {
    .size = sizeof(ss_host_api),
    .abi_major = SS_FILTER_ABI_MAJOR,
    .abi_minor = SS_FILTER_ABI_MINOR,
    .locus_id = h_locus_id,
    .locus_ra = h_locus_ra,
    .locus_dec = h_locus_dec,
    .locus_property = h_locus_property,
    .alert_count = h_alert_count,
    .alert = h_alert,
    .alert_property = h_alert_property,
    .lightcurve = h_lightcurve,
    .passbands = h_passbands,
    .has_tag = h_has_tag,
    .tags = h_tags,
    .catalog_match_count = h_catalog_match_count,
    .catalog_match = h_catalog_match,
    .watch_lists = h_watch_lists,
    .set_locus_property = h_set_locus_property,
    .set_alert_property = h_set_alert_property,
    .add_tag = h_add_tag,
    .halt = h_halt,
    .fail = h_fail,
    .strerror = ss_strerror,
    .light_curve = h_light_curve,
    .catalog_match_row = h_catalog_match_row,
    .catalog_match_columns = h_catalog_match_columns,
    .catalog_match_column = h_catalog_match_column,
    .watch_objects = h_watch_objects,
    .gw_event_count = h_gw_event_count,
    .gw_event = h_gw_event,
};

const ss_host_api *ssi_host_api(void)
{
    return &ssi_host;
}

/* ---- the dispatch's side ---- */

int ssi_view_requirements_met(ss_locus_view *v, const ss_filter_descriptor *d)
{
    ss_value val;
    for (const char *const *p = d->required_locus_properties; p && *p; p++)
        if (h_locus_property(v, *p, &val))
            return 0;
    for (const char *const *p = d->required_alert_properties; p && *p; p++)
        if (h_alert_property(v, SS_TRIGGER, *p, &val))
            return 0;
    for (const char *const *p = d->required_tags; p && *p; p++)
        if (!h_has_tag(v, *p))
            return 0;
    return 1;
}

void ssi_view_begin(ss_locus_view *v, const ss_filter_descriptor *d)
{
    v->cur = d;
    v->pend_l = (ssi_props){0};
    v->pend_a = (ssi_props){0};
    v->pend_tags = (ssi_strs){0};
    v->pend_halt = v->failed = 0;
    v->failure[0] = '\0';
}

const char *ssi_view_failure(ss_locus_view *v)
{
    return v->failed ? v->failure : NULL;
}

size_t ssi_view_pending_writes(const ss_locus_view *v)
{
    return (size_t)v->pend_l.n + v->pend_a.n;
}

int ssi_view_commit(ss_locus_view *v)
{
    int rc = 0;
    for (uint32_t i = 0; i < v->pend_l.n && !rc; i++)
        if (!(rc = ssi_props_put(v->arena, &v->lprops, v->pend_l.items[i].name,
                                 v->pend_l.items[i].value)))
            rc = ssi_props_put(v->arena, &v->kept_l, v->pend_l.items[i].name,
                               v->pend_l.items[i].value);
    for (uint32_t i = 0; i < v->pend_a.n && !rc; i++)
        if (!(rc = ssi_props_put(v->arena, &v->aprops, v->pend_a.items[i].name,
                                 v->pend_a.items[i].value)))
            rc = ssi_props_put(v->arena, &v->kept_a, v->pend_a.items[i].name,
                               v->pend_a.items[i].value);
    for (size_t i = 0; i < v->pend_tags.n && !rc; i++) {
        ss_filter_tag_event *ev = ssi_v_grow(v->arena, v->newtags, v->nnew, &v->capnew, sizeof *ev);
        if (!ev || (rc = ssi_strs_add(v->arena, &v->tags, v->pend_tags.items[i])))
            return rc ? rc : SS_ENOMEM;
        v->newtags = ev;
        v->newtags[v->nnew++] = (ss_filter_tag_event){v->pend_tags.items[i], v->cur->name};
    }
    if (v->pend_halt && !rc) {
        v->halted = 1;
        v->halted_by = v->cur->name;
    }
    return rc;
}

int ssi_view_halted(ss_locus_view *v)
{
    return v->halted;
}
const ss_alert *ssi_view_trigger(ss_locus_view *v)
{
    return v->trigger;
}
const ss_locus *ssi_view_locus(ss_locus_view *v)
{
    return &v->locus;
}

void ssi_view_outputs(ss_locus_view *v, ss_filter_outputs *out)
{
    *out = (ss_filter_outputs){v->newtags,      v->nnew,     v->kept_l.items, v->kept_l.n,
                               v->kept_a.items, v->kept_a.n, v->halted,       v->halted_by};
}

int ss_filter_outputs_store(ss_store_txn *txn, const char *locus_id, const char *survey,
                            const char *alert_id, double mjd, const ss_filter_outputs *o,
                            ss_arena *scratch)
{
    int rc = 0;
    if (o->nlocus_props)
        rc = ss_store_locus_props_merge(txn, locus_id, o->locus_props, o->nlocus_props, scratch);
    if (!rc && o->nalert_props)
        rc = ss_store_alert_props_merge(txn, survey, alert_id, o->alert_props, o->nalert_props,
                                        scratch);
    for (size_t i = 0; i < o->ntags && !rc; i++)
        rc = ss_store_tag_add(txn, locus_id, o->tags[i].tag, o->tags[i].filter, survey, alert_id,
                              mjd);
    return rc;
}

int ssi_view_store(ss_locus_view *v)
{
    ss_filter_outputs o;
    ssi_view_outputs(v, &o);
    return ss_filter_outputs_store(v->txn, v->locus.id, v->trigger->survey, v->trigger->alert_id,
                                   v->trigger->mjd, &o, v->arena);
}

/* ---- a dry run's own outputs ---- */

ssi_overlay *ssi_overlay_new(void)
{
    ssi_overlay *ov = calloc(1, sizeof *ov);
    if (ov && !(ov->arena = ss_arena_new())) {
        free(ov);
        return NULL;
    }
    return ov;
}

void ssi_overlay_free(ssi_overlay *ov)
{
    if (ov)
        ss_arena_free(ov->arena);
    free(ov);
}

void ssi_overlay_clear(ssi_overlay *ov)
{
    ss_arena *a = ov->arena;
    ss_arena_reset(a);
    memset(ov, 0, sizeof *ov);
    ov->arena = a;
}

void ssi_view_use_overlay(ss_locus_view *v, ssi_overlay *ov)
{
    v->ov = ov;
}

/* A value copied into @p a (strings are the view's until its next open). */
static int ssi_props_keep(ss_arena *a, ssi_props *to, const ss_prop *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ss_value val = p[i].value;
        char *name = ss_arena_strndup(a, p[i].name, strlen(p[i].name));
        if (val.type == SS_TYPE_STRING &&
            !(val.u.s.ptr = ss_arena_strndup(a, val.u.s.ptr, val.u.s.len)))
            return SS_ENOMEM;
        if (!name || ssi_props_put(a, to, name, val))
            return SS_ENOMEM;
    }
    return 0;
}

static ssi_alert_bag *ssi_overlay_bag(ssi_overlay *ov, const ss_alert *a)
{
    ssi_alert_bag *b = (ssi_alert_bag *)ssi_overlay_alert(ov, a);
    if (b)
        return b;
    ssi_alert_bag *all =
        ssi_v_grow(ov->arena, ov->alerts, ov->nalerts, &ov->capalerts, sizeof *all);
    if (!all)
        return NULL;
    ov->alerts = all;
    b = &all[ov->nalerts];
    *b = (ssi_alert_bag){ss_arena_strndup(ov->arena, a->survey, strlen(a->survey)),
                         ss_arena_strndup(ov->arena, a->alert_id, strlen(a->alert_id)),
                         {0}};
    if (!b->survey || !b->alert_id)
        return NULL;
    ov->nalerts++;
    return b;
}

int ssi_overlay_absorb(ssi_overlay *ov, ss_locus_view *v)
{
    ssi_alert_bag *b = v->kept_a.n ? ssi_overlay_bag(ov, v->trigger) : NULL;
    if (v->kept_a.n && !b)
        return SS_ENOMEM;
    int rc = ssi_props_keep(ov->arena, &ov->locus, v->kept_l.items, v->kept_l.n);
    if (!rc && b)
        rc = ssi_props_keep(ov->arena, &b->props, v->kept_a.items, v->kept_a.n);
    for (size_t i = 0; !rc && i < v->nnew; i++) {
        const char *tag = v->newtags[i].tag;
        char *copy = ss_arena_strndup(ov->arena, tag, strlen(tag));
        rc = copy ? ssi_strs_add(ov->arena, &ov->tags, copy) : SS_ENOMEM;
    }
    return rc;
}
