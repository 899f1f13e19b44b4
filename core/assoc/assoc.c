#include "assoc.h"

#include "catalog_impl.h"
#include "sky.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ss_assoc_locus_init(ss_locus *l, const char *id, double ra, double dec)
{
    memset(l, 0, sizeof *l);
    memcpy(l->id, id, SS_LOCUS_ID_LEN + 1);
    l->ra = ra;
    l->dec = dec;
    l->oldest.mjd = l->newest.mjd = l->brightest.mjd = NAN;
    l->oldest.mag = l->newest.mag = l->brightest.mag = NAN;
}

static void ssi_ref_set(ss_alert_ref *ref, const ss_alert *a)
{
    snprintf(ref->alert_id, sizeof ref->alert_id, "%s", a->alert_id);
    ref->mjd = a->mjd;
    ref->mag = a->kind == SS_ALERT_DETECTION ? a->mag : NAN;
}

static ss_locus_band *ssi_band(ss_locus *l, const char *passband)
{
    for (uint32_t i = 0; i < l->nbands; i++)
        if (strcmp(l->bands[i].passband, passband) == 0)
            return &l->bands[i];
    if (l->nbands == SS_LOCUS_MAX_BANDS) /* beyond 32 passbands only the totals are kept */
        return NULL;
    ss_locus_band *b = &l->bands[l->nbands++];
    memset(b, 0, sizeof *b);
    snprintf(b->passband, sizeof b->passband, "%s", passband);
    b->newest_mjd = b->newest_mag = NAN;
    return b;
}

static void ssi_locus_add_object(ss_locus *l, const ss_alert *a)
{
    if (!a->object_id || !*a->object_id)
        return;
    for (uint32_t i = 0; i < l->nobjects; i++)
        if (strcmp(l->objects[i].survey, a->survey) == 0)
            return; /* the first object id of a survey names the locus */
    if (l->nobjects == SS_LOCUS_MAX_OBJECTS)
        return;
    ss_locus_object *o = &l->objects[l->nobjects++];
    snprintf(o->survey, sizeof o->survey, "%s", a->survey);
    snprintf(o->object_id, sizeof o->object_id, "%s", a->object_id);
}

static void ssi_locus_move(ss_locus *l, const ss_alert *a)
{
    ss_vec3 v = ss_sky_radec_to_vec(a->ra, a->dec);
    l->sx += v.x, l->sy += v.y, l->sz += v.z;
    l->num_pos++;
    ss_vec3 sum = {l->sx, l->sy, l->sz};
    ss_sky_vec_to_radec(sum, &l->ra, &l->dec);
}

void ss_assoc_locus_add_alert(ss_locus *l, const ss_alert *a)
{
    if (a->arrival > l->last_packet)
        l->last_packet = a->arrival;
    if (a->kind == SS_ALERT_FORCED) { /* measurements, not alerts: the summary counts alerts */
        ssi_locus_add_object(l, a);
        return;
    }
    int det = a->kind == SS_ALERT_DETECTION;
    l->num_alerts++;
    if (!l->oldest.alert_id[0] || a->mjd < l->oldest.mjd)
        ssi_ref_set(&l->oldest, a);
    if (!l->newest.alert_id[0] || a->mjd >= l->newest.mjd)
        ssi_ref_set(&l->newest, a);
    if (det) {
        l->num_mag_values++;
        if (!l->brightest.alert_id[0] || a->mag < l->brightest.mag)
            ssi_ref_set(&l->brightest, a);
        if (!isnan(a->ra))
            ssi_locus_move(l, a);
    }
    ss_locus_band *b = ssi_band(l, a->passband);
    if (b) {
        b->num_alerts++;
        if (det && (isnan(b->newest_mjd) || a->mjd >= b->newest_mjd)) {
            b->newest_mjd = a->mjd;
            b->newest_mag = a->mag;
        }
        b->num_mag_values += det;
    }
    ssi_locus_add_object(l, a);
}

struct ss_assoc_writer {
    ss_store *store;
    ss_store_txn *txn;
    ss_wbuf buf;           /* scratch for encoding the catalogs' records */
    ss_arena *scratch;     /* scratch for merging property bags */
    ss_locus locus;        /* the locus of the last packet stored, as written */
    ssi_catalogs catalogs; /* the ready catalogs, read at the start of each batch */
    ss_assoc_early early;  /* what of the packet was packed already (its caller's) */
};

ss_assoc_writer *ss_assoc_writer_new(ss_store *s)
{
    ss_assoc_writer *w = calloc(1, sizeof *w);
    if (w && !(w->scratch = ss_arena_new())) {
        free(w);
        return NULL;
    }
    if (w)
        w->store = s;
    return w;
}

void ss_assoc_writer_free(ss_assoc_writer *w)
{
    if (!w)
        return;
    ss_wbuf_free(&w->buf);
    ss_arena_free(w->scratch);
    ssi_catalogs_free(&w->catalogs);
    free(w);
}

int ss_assoc_begin(ss_assoc_writer *w, ss_store_txn *t)
{
    w->txn = t;
    return ssi_catalogs_load(t, &w->catalogs);
}

int ss_assoc_match_locus(ss_assoc_writer *w, const ss_locus *l, int created,
                         const ss_alert *trigger)
{
    ssi_xmatch_ctx x = {w->txn, &w->buf, &w->catalogs};
    return ssi_xmatch_locus(&x, l, created, trigger);
}

const ss_locus *ss_assoc_last_locus(const ss_assoc_writer *w)
{
    return &w->locus;
}

/* A stored alert's locus; an index naming a locus that does not exist is a damaged store. */
static int ssi_locus_get(ss_assoc_writer *w, const char *id, ss_locus *l)
{
    int rc = ss_store_locus_get(w->txn, id, l);
    return rc == SS_ENOTFOUND ? SS_ECORRUPT : rc;
}

/* The locus of a new primary alert: the nearest within the radius, or a new one. */
static int ssi_find_or_create(ss_assoc_writer *w, const ss_alert *a, ss_locus *l, int *created)
{
    char id[SS_LOCUS_ID_LEN + 1];
    double radius_deg = ss_store_radius_arcsec(w->store) / SS_ARCSEC_PER_DEG;
    int rc = ss_store_sky_nearest(w->txn, a->ra, a->dec, radius_deg, id, NULL);
    if (rc == 0)
        return ssi_locus_get(w, id, l);
    if (rc != SS_ENOTFOUND || (rc = ss_store_locus_new_id(w->txn, a->mjd, a->ra, a->dec, id)))
        return rc;
    ss_assoc_locus_init(l, id, a->ra, a->dec);
    *created = 1;
    return 0;
}

/* Store the packet's alerts (from @p first on) that are not stored yet, updating @p l. */
/* Open the group of the packet's new measurements, its number taken, at the first one. */
static int ssi_group_open(ss_assoc_writer *w, const ss_locus *l, uint64_t *seq, int *grouped)
{
    if (*grouped)
        return 0;
    if (!*seq && !(*seq = ss_store_packet_next(w->txn)))
        return SS_ECORRUPT;
    int rc = ss_store_group_begin(w->txn, l->id, *seq);
    *grouped = !rc;
    return rc;
}

/* Store the packet's measurements from @p first that are new, as one group (ss_store_group_add()),
 * and count them in the locus's summary. */
static int ssi_add_alerts(ss_assoc_writer *w, const ss_packet *pkt, uint32_t first, ss_locus *l,
                          ss_assoc_stats *st, int *changed, uint64_t seq)
{
    ss_store_counters *c = ss_store_txn_counters(w->txn);
    /* seq: the packet's arrival, taken when it first stores something (0: not yet) */
    if (!c)
        return SS_ECORRUPT;
    int grouped = 0;
    for (uint32_t i = first; i < pkt->n; i++) {
        ss_alert a = pkt->alerts[i];
        /* an entry decoding found new is put at once (its packet's number taken): the insert
         * looks for it, and a look-up first was a second descent of the alerts table */
        int at_once = i > 0 && seq && a.nprops && w->early.history_new;
        int rc = i > 0 && !at_once ? ss_store_alert_known(w->txn, &a) : SS_ENOTFOUND;
        if (rc && rc != SS_ENOTFOUND)
            return rc;
        int known = rc == 0;
        if (!known && (rc = ssi_group_open(w, l, &seq, &grouped)))
            return rc;
        a.arrival = seq;
        a.arrival_index = i;
        a.history_lead = 0;
        if (!known) {
            rc = ss_store_group_add(w->txn, &a, i == 0 ? pkt->locus_props : NULL,
                                    i == 0 ? pkt->nlocus_props : 0);
            known = rc == EEXIST && at_once;
        }
        if (known) {
            st->history_known++;
            c->history_known++;
            continue;
        }
        if (rc)
            return rc;
        ss_assoc_locus_add_alert(l, &a);
        *changed = 1;
        if (i == 0)
            st->ingested++;
        else
            st->history++;
    }
    return grouped ? ss_store_group_end(w->txn, w->early.lists, w->early.list0) : 0;
}

/* The primary alert's stamps, apart from the alert so that reading alerts never pages them in. */
static int ssi_put_cutouts(ss_assoc_writer *w, const ss_packet *pkt)
{
    return ss_store_cutouts_put2(w->txn, &pkt->alerts[0], pkt->cutouts, w->early.stamps,
                                 w->early.stamp);
}

/* What a new primary alert brings besides alerts: stamps, and the survey's view of the locus when
 * the alert is the locus's newest (an older alert arriving late must not roll it back). */
static int ssi_put_extras(ss_assoc_writer *w, const ss_packet *pkt, const ss_locus *l)
{
    int rc = ssi_put_cutouts(w, pkt);
    if (!rc && pkt->nlocus_props && !strcmp(l->newest.alert_id, pkt->alerts[0].alert_id)) {
        ss_arena_reset(w->scratch);
        rc = ss_store_locus_props_survey(w->txn, l->id, pkt->locus_props, pkt->nlocus_props,
                                         w->scratch);
    }
    return rc;
}

static int ssi_reindex(ss_assoc_writer *w, const ss_locus *l, int created, double old_ra,
                       double old_dec)
{
    if (!created && old_ra == l->ra && old_dec == l->dec)
        return 0;
    return ss_store_sky_move(w->txn, l->id, created ? NAN : old_ra, old_dec, l->ra, l->dec);
}

/* Whether a stored alert is the history version of @p primary: the same measurement, which came
 * in as an entry of another alert's history (ZTF prv_candidates) with fewer fields and no stamps.
 * Records older than packet numbering cannot tell, and stay as they are. */
static int ssi_is_history_of(const ss_store_alert_head *h, const ss_alert *primary)
{
    return h->arrival_index > 0 && h->kind == primary->kind && h->mjd == primary->mjd;
}

/* The locus a packet joins: its primary's when that is stored already (a duplicate, or the
 * history version it upgrades), else the nearest or a new one. */
static int ssi_pick_locus(ss_assoc_writer *w, const ss_alert *primary, ss_locus *l,
                          ss_assoc_stats *st, int *created, int *duplicate, uint64_t *upgrade)
{
    ss_store_alert_head h;
    int rc = ss_store_alert_head_get(w->txn, primary->survey, primary->alert_id, &h);
    if (rc == SS_ENOTFOUND)
        return ssi_find_or_create(w, primary, l, created);
    if (rc)
        return rc;
    ss_store_counters *c = ss_store_txn_counters(w->txn);
    if (!c)
        return SS_ECORRUPT;
    *upgrade = ssi_is_history_of(&h, primary) ? h.arrival : 0; /* its first arrival */
    *duplicate = !*upgrade;
    st->duplicates += *duplicate;
    c->duplicates += (uint64_t)*duplicate;
    return ssi_locus_get(w, h.locus_id, l);
}

/* The full alert of a measurement stored as a history entry: its record is replaced (all its
 * fields, as a new arrival so a view as of this packet holds it as this packet's alert), and it
 * counts as a new alert, so filters run for it. The locus already counts the measurement: its
 * summary does not change but for the packet that last changed it. */
static int ssi_upgrade(ss_assoc_writer *w, const ss_packet *pkt, uint64_t first, ss_locus *l,
                       ss_assoc_stats *st, uint64_t *seq)
{
    ss_alert a = pkt->alerts[0];
    if (!(*seq = ss_store_packet_next(w->txn)) || first >= *seq)
        return SS_ECORRUPT;
    a.arrival = *seq;
    a.arrival_index = 0;
    /* views as of the packets since its first arrival still hold it: 4e9 packets apart is far */
    a.history_lead = *seq - first > UINT32_MAX ? UINT32_MAX : (uint32_t)(*seq - first);
    int rc = ss_store_alert_upgrade(w->txn, &a, l->id, pkt->locus_props, pkt->nlocus_props);
    if (rc)
        return rc;
    l->last_packet = a.arrival;
    st->ingested++;
    st->upgraded++;
    return 0;
}

int ss_assoc_packet(ss_assoc_writer *w, const ss_packet *pkt, ss_assoc_stats *st, char *locus_id)
{
    return ss_assoc_packet2(w, pkt, NULL, 0, st, locus_id);
}

/* Store @p pkt, with what w->early holds of it packed already. */
static int ssi_packet(ss_assoc_writer *w, const ss_packet *pkt, ss_assoc_stats *st, char *locus_id)
{
    const ss_alert *primary = &pkt->alerts[0];
    ss_locus l;
    int created = 0, changed = 0, duplicate = 0;
    uint64_t seq = 0, upgrade = 0; /* upgrade: the first arrival of the history entry upgraded */
    int rc = ssi_pick_locus(w, primary, &l, st, &created, &duplicate, &upgrade);
    if (rc || (upgrade && (rc = ssi_upgrade(w, pkt, upgrade, &l, st, &seq))))
        return rc;
    changed = upgrade != 0;
    double old_ra = l.ra, old_dec = l.dec;
    if ((rc = ssi_add_alerts(w, pkt, duplicate || upgrade ? 1 : 0, &l, st, &changed, seq)) ||
        (!duplicate && (rc = ssi_put_extras(w, pkt, &l))))
        return rc;
    if (changed && ((rc = ss_store_locus_put(w->txn, &l)) ||
                    (rc = ssi_reindex(w, &l, created, old_ra, old_dec)) ||
                    (rc = ss_assoc_match_locus(w, &l, created, primary))))
        return rc;
    st->loci_created += created;
    if (locus_id)
        memcpy(locus_id, l.id, SS_LOCUS_ID_LEN + 1);
    w->locus = l;
    return 0;
}

int ss_assoc_packet3(ss_assoc_writer *w, const ss_packet *pkt, const ss_assoc_early *early,
                     ss_assoc_stats *st, char *locus_id)
{
    w->early = early ? *early : (ss_assoc_early){0};
    int rc = ssi_packet(w, pkt, st, locus_id);
    w->early = (ss_assoc_early){0};
    return rc;
}

int ss_assoc_packet2(ss_assoc_writer *w, const ss_packet *pkt, const ss_store_stamps *stamps,
                     uint32_t stamp, ss_assoc_stats *st, char *locus_id)
{
    ss_assoc_early early = {.stamps = stamps, .stamp = stamp};
    return ss_assoc_packet3(w, pkt, &early, st, locus_id);
}

/* ---- a locus as it was ---- */

/* Whether a measurement was stored by packet @p as_of, and how it was then: an upgraded alert
 * shows, as of the packets before its own, as the history entry it was. */
static int ssi_arrived(ss_alert *a, uint64_t as_of)
{
    if (a->arrival <= as_of)
        return 1;
    if (!a->history_lead || a->arrival - a->history_lead > as_of)
        return 0;
    a->arrival -= a->history_lead;
    a->arrival_index = 1; /* not that packet's own alert; its place in it is not kept */
    a->history_lead = 0;
    return 1;
}

void ss_assoc_keep_arrived(ss_packet *pkt, uint64_t as_of)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < pkt->n; i++)
        if (ssi_arrived(&pkt->alerts[i], as_of))
            pkt->alerts[kept++] = pkt->alerts[i];
    pkt->n = kept;
}

void ss_assoc_keep_before(ss_packet *pkt, double mjd)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < pkt->n; i++)
        if (pkt->alerts[i].mjd < mjd)
            pkt->alerts[kept++] = pkt->alerts[i];
    pkt->n = kept;
}

/* The order association stored them in: by packet, then by place in it; those stored before
 * packets were numbered (arrival 0) first, in the order given. */
static int ssi_by_arrival(const void *x, const void *y)
{
    const ss_alert *a = *(const ss_alert *const *)x, *b = *(const ss_alert *const *)y;
    if (a->arrival != b->arrival)
        return a->arrival < b->arrival ? -1 : 1;
    if (a->arrival_index != b->arrival_index)
        return a->arrival_index < b->arrival_index ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* After a packet's measurements were added: association keeps the survey's locus properties of
 * a primary that is then the locus's newest alert, when it carried any. */
static int ssi_survey_then(ss_store_txn *t, const ss_locus *l, const ss_alert *primary,
                           ss_arena *arena, ss_prop **survey, uint32_t *n)
{
    ss_prop *p;
    uint32_t np;
    if (!primary || strcmp(l->newest.alert_id, primary->alert_id))
        return 0;
    int rc = ss_store_alert_survey_locus(t, primary->survey, primary->alert_id, arena, &p, &np);
    if (!rc && np) {
        *survey = p;
        *n = np;
    }
    return rc;
}

int ss_assoc_locus_rebuild(ss_store_txn *t, const ss_packet *pkt, ss_locus *l, ss_arena *arena,
                           ss_prop **survey, uint32_t *n)
{
    const ss_alert **order = ss_arena_alloc(arena, (pkt->n ? pkt->n : 1) * sizeof *order);
    const ss_alert *primary = NULL;
    *survey = NULL;
    *n = 0;
    if (!order)
        return SS_ENOMEM;
    for (uint32_t i = 0; i < pkt->n; i++)
        order[i] = &pkt->alerts[i];
    qsort(order, pkt->n, sizeof *order, ssi_by_arrival);
    char id[SS_LOCUS_ID_LEN + 1];
    memcpy(id, l->id, sizeof id);
    ss_assoc_locus_init(l, id, pkt->n ? order[0]->ra : NAN, pkt->n ? order[0]->dec : NAN);
    int rc = 0;
    for (uint32_t i = 0; i < pkt->n && !rc; i++) {
        const ss_alert *a = order[i];
        if (i == 0 || order[i - 1]->arrival != a->arrival) /* a packet's first: its primary? */
            primary = a->arrival && a->arrival_index == 0 ? a : NULL;
        ss_assoc_locus_add_alert(l, a);
        if (i + 1 == pkt->n || order[i + 1]->arrival != a->arrival)
            rc = ssi_survey_then(t, l, primary, arena, survey, n);
    }
    return rc;
}
