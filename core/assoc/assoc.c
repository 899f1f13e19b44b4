#include "assoc.h"

#include "skyindex.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void ssi_locus_init(ss_locus *l, const char *id, double ra, double dec)
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
    ss_vec3 v = ss_radec_to_vec(a->ra, a->dec);
    l->sx += v.x, l->sy += v.y, l->sz += v.z;
    l->num_pos++;
    ss_vec3 sum = {l->sx, l->sy, l->sz};
    ss_vec_to_radec(sum, &l->ra, &l->dec);
}

void ssi_locus_add_alert(ss_locus *l, const ss_alert *a)
{
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

/* 0 when the alert is stored (its locus id copied to @p locus_id when non-NULL), MDB_NOTFOUND when
 * not, or an error. Only the head of the record is read. */
static int ssi_alert_lookup(ssi_writer *w, const ss_alert *a, char *locus_id)
{
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_alert(kb, a->survey, a->alert_id), kb}, v;
    int rc = mdb_get(w->txn, w->store->alerts, &k, &v);
    if (rc || !locus_id)
        return rc;
    ssi_rbuf r = {v.mv_data, (const unsigned char *)v.mv_data + v.mv_size, 0};
    uint32_t n;
    ssi_rbuf_u8(&r);
    ssi_rbuf_u8(&r);
    ssi_rbuf_str(&r, &n);
    ssi_rbuf_str(&r, &n);
    ssi_rbuf_strcpy(&r, locus_id, SS_LOCUS_ID_LEN + 1);
    return r.bad ? SS_ECORRUPT : 0;
}

static int ssi_locus_get(ssi_writer *w, const char *id, ss_locus *l)
{
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)id}, v;
    int rc = mdb_get(w->txn, w->store->loci, &k, &v);
    if (rc == MDB_NOTFOUND)
        return SS_ECORRUPT; /* an index names a locus that does not exist */
    if (rc)
        return rc;
    memcpy(l->id, id, SS_LOCUS_ID_LEN + 1);
    return ssi_locus_decode(v.mv_data, v.mv_size, l);
}

static int ssi_locus_put(ssi_writer *w, const ss_locus *l)
{
    ssi_locus_encode(l, &w->buf);
    if (w->buf.failed)
        return ENOMEM;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)l->id}, v = {w->buf.len, w->buf.data};
    return mdb_put(w->txn, w->store->loci, &k, &v, 0);
}

static int ssi_index_object(ssi_writer *w, const ss_alert *a, const char *locus_id)
{
    if (!a->object_id || !*a->object_id)
        return 0;
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_object(kb, a->object_id, a->survey), kb};
    MDB_val v = {SS_LOCUS_ID_LEN, (void *)locus_id};
    int rc = mdb_put(w->txn, w->store->objects, &k, &v, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

static int ssi_alert_put(ssi_writer *w, const ss_alert *a, const char *locus_id)
{
    unsigned char kb[SSI_KEY_MAX];
    ssi_alert_encode(a, locus_id, &w->buf);
    if (w->buf.failed)
        return ENOMEM;
    MDB_val k = {ssi_key_alert(kb, a->survey, a->alert_id), kb}, v = {w->buf.len, w->buf.data};
    int rc = mdb_put(w->txn, w->store->alerts, &k, &v, MDB_NOOVERWRITE);
    if (rc)
        return rc;
    MDB_val lk = {ssi_key_locus_alert(kb, locus_id, a->mjd, a->survey, a->alert_id), kb};
    unsigned char kind = (unsigned char)a->kind;
    MDB_val kv = {1, &kind};
    if ((rc = mdb_put(w->txn, w->store->locus_alerts, &lk, &kv, 0)))
        return rc;
    w->counters.alerts++;
    if (a->kind == SS_ALERT_DETECTION)
        w->counters.detections++;
    else if (a->kind == SS_ALERT_UPPER_LIMIT)
        w->counters.upper_limits++;
    else
        w->counters.forced++;
    return ssi_index_object(w, a, locus_id);
}

/* The locus of a new primary alert: the nearest within the radius, or a new one. */
static int ssi_find_or_create(ssi_writer *w, const ss_alert *a, ss_locus *l, int *created)
{
    char id[SS_LOCUS_ID_LEN + 1];
    ss_store *s = w->store;
    int rc = ssi_sky_nearest(s, w->txn, a->ra, a->dec, s->radius_deg, id, NULL);
    if (rc == 0)
        return ssi_locus_get(w, id, l);
    if (rc != MDB_NOTFOUND)
        return rc;
    ss_locus_id_make(s->locus_base | w->counters.locus_seq++, a->mjd, id);
    ssi_locus_init(l, id, a->ra, a->dec);
    w->counters.loci++;
    *created = 1;
    return 0;
}

/* Store the packet's alerts (from @p first on) that are not stored yet, updating @p l. */
static int ssi_add_alerts(ssi_writer *w, const ss_packet *pkt, uint32_t first, ss_locus *l,
                          ssi_batch_stats *st, int *changed)
{
    for (uint32_t i = first; i < pkt->n; i++) {
        const ss_alert *a = &pkt->alerts[i];
        int rc = i > 0 ? ssi_alert_lookup(w, a, NULL) : MDB_NOTFOUND;
        if (rc == 0) {
            st->history_known++;
            w->counters.history_known++;
            continue;
        }
        if (rc != MDB_NOTFOUND || (rc = ssi_alert_put(w, a, l->id)))
            return rc;
        ssi_locus_add_alert(l, a);
        *changed = 1;
        if (i == 0)
            st->ingested++;
        else
            st->history++;
    }
    return 0;
}

/* The primary alert's stamps, apart from the alert so that reading alerts never pages them in. */
static int ssi_put_cutouts(ssi_writer *w, const ss_packet *pkt)
{
    const ss_alert *a = &pkt->alerts[0];
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        const ss_cutout *c = &pkt->cutouts[k];
        if (!c->data)
            continue;
        unsigned char kb[SSI_KEY_MAX];
        ssi_wbuf_reset(&w->buf); /* the record's head; the stamp is copied straight into LMDB */
        ssi_wbuf_u8(&w->buf, SS_RECORD_VERSION);
        ssi_wbuf_str(&w->buf, c->file_name);
        if (w->buf.failed)
            return ENOMEM;
        MDB_val key = {ssi_key_cutout(kb, a->alert_id, a->survey, (ss_cutout_kind)k), kb};
        MDB_val val = {w->buf.len + c->len, NULL};
        int rc = mdb_put(w->txn, w->store->cutouts, &key, &val, MDB_NOOVERWRITE | MDB_RESERVE);
        if (rc && rc != MDB_KEYEXIST)
            return rc;
        if (rc == 0) {
            memcpy(val.mv_data, w->buf.data, w->buf.len);
            memcpy((unsigned char *)val.mv_data + w->buf.len, c->data, c->len);
            w->counters.cutouts++;
        }
    }
    return 0;
}

/* Merge the survey's locus properties into the locus's property bag, replacing those of the same
 * name and keeping the rest (filter outputs among them). */
static int ssi_merge_locus_props(ssi_writer *w, const ss_packet *pkt, const char *locus_id)
{
    ss_arena *arena = w->scratch->arena;
    ss_prop *old = NULL;
    uint32_t nold = 0;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)locus_id}, v;
    int rc = mdb_get(w->txn, w->store->locus_props, &k, &v);
    ss_arena_reset(arena);
    if (rc == 0)
        rc = ssi_props_decode(v.mv_data, v.mv_size, arena, &old, &nold);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    ss_prop *all = rc ? NULL : ss_arena_alloc(arena, (nold + pkt->nlocus_props) * sizeof *all);
    if (rc || !all)
        return rc ? rc : ENOMEM;
    uint32_t n = 0, next = 0, m = pkt->nlocus_props;
    for (uint32_t i = 0; i < nold; i++) {
        /* the survey sends the same names in the same order: try the next one before searching */
        int replaced = next < m && !strcmp(old[i].name, pkt->locus_props[next].name);
        for (uint32_t j = 0; j < m && !replaced; j++)
            replaced = !strcmp(old[i].name, pkt->locus_props[j].name);
        next += replaced;
        if (!replaced)
            all[n++] = old[i];
    }
    memcpy(all + n, pkt->locus_props, pkt->nlocus_props * sizeof *all);
    ssi_props_encode(all, n + pkt->nlocus_props, &w->buf);
    if (w->buf.failed)
        return ENOMEM;
    v = (MDB_val){w->buf.len, w->buf.data};
    return mdb_put(w->txn, w->store->locus_props, &k, &v, 0);
}

/* What a new primary alert brings besides alerts: stamps, and the survey's view of the locus when
 * the alert is the locus's newest (an older alert arriving late must not roll it back). */
static int ssi_put_extras(ssi_writer *w, const ss_packet *pkt, const ss_locus *l)
{
    int rc = ssi_put_cutouts(w, pkt);
    if (!rc && pkt->nlocus_props && !strcmp(l->newest.alert_id, pkt->alerts[0].alert_id))
        rc = ssi_merge_locus_props(w, pkt, l->id);
    return rc;
}

static int ssi_reindex(ssi_writer *w, const ss_locus *l, int created, double old_ra, double old_dec)
{
    if (!created && old_ra == l->ra && old_dec == l->dec)
        return 0;
    int rc = created ? 0 : ssi_sky_del(w->store, w->txn, l->id, old_ra, old_dec);
    return rc ? rc : ssi_sky_put(w->store, w->txn, l->id, l->ra, l->dec);
}

int ssi_assoc_packet(ssi_writer *w, const ss_packet *pkt, ssi_batch_stats *st, char *locus_id)
{
    const ss_alert *primary = &pkt->alerts[0];
    ss_locus l;
    char id[SS_LOCUS_ID_LEN + 1];
    int created = 0, changed = 0, duplicate = 0;
    int rc = ssi_alert_lookup(w, primary, id);
    if (rc == 0) {
        duplicate = 1;
        st->duplicates++;
        w->counters.duplicates++;
        rc = ssi_locus_get(w, id, &l);
    } else if (rc == MDB_NOTFOUND) {
        rc = ssi_find_or_create(w, primary, &l, &created);
    }
    if (rc)
        return rc;
    double old_ra = l.ra, old_dec = l.dec;
    if ((rc = ssi_add_alerts(w, pkt, duplicate ? 1 : 0, &l, st, &changed)) ||
        (!duplicate && (rc = ssi_put_extras(w, pkt, &l))))
        return rc;
    ssi_xmatch_ctx x = {w->store, w->txn, &w->counters, &w->buf, &w->catalogs};
    if (changed &&
        ((rc = ssi_locus_put(w, &l)) || (rc = ssi_reindex(w, &l, created, old_ra, old_dec)) ||
         (rc = ssi_xmatch_locus(&x, &l, created, primary))))
        return rc;
    st->loci_created += created;
    if (locus_id)
        memcpy(locus_id, l.id, SS_LOCUS_ID_LEN + 1);
    w->locus = l;
    return 0;
}
