/*
 * The store's own tables read and written for the other stages (store.h): loci, alerts and their
 * indexes, filter outputs, cutouts, rejected records and ingest runs. The key layouts stay here.
 */
#include "store_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int ssi_absent(int rc)
{
    return rc == MDB_NOTFOUND ? SS_ENOTFOUND : rc;
}

/* ---- loci ---- */

int ss_store_locus_get(ss_store_txn *t, const char *id, ss_locus *l)
{
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)id}, v;
    int rc = mdb_get(t->txn, t->s->loci, &k, &v);
    if (rc)
        return ssi_absent(rc);
    if ((rc = ssi_locus_decode(v.mv_data, v.mv_size, l)))
        return rc;
    memcpy(l->id, id, SS_LOCUS_ID_LEN);
    l->id[SS_LOCUS_ID_LEN] = '\0';
    return 0;
}

/* The newest MJD of the locus's stored record, for loci_newest (*had 0: a new locus). */
static int ssi_stored_newest(ss_store_txn *t, const char *id, int *had, double *mjd)
{
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)id}, v;
    int rc = mdb_get(t->txn, t->s->loci, &k, &v);
    *had = rc == 0;
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    return ssi_locus_newest(v.mv_data, v.mv_size, mjd);
}

int ss_store_locus_put(ss_store_txn *t, const ss_locus *l)
{
    int had = 0, rc = 0;
    double old = NAN;
    if (t->s->has_search && (rc = ssi_stored_newest(t, l->id, &had, &old)))
        return rc;
    ssi_locus_encode(l, &t->buf);
    if (t->buf.failed)
        return ENOMEM;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)l->id}, v = {t->buf.len, t->buf.data};
    if ((rc = mdb_put(t->txn, t->s->loci, &k, &v, 0)) || !t->s->has_search)
        return rc;
    return ssi_newest_move(t->s, t->txn, l->id, had ? &old : NULL, l->newest.mjd);
}

/* The number after the highest one given out in the range of ids from @p bottom to @p top (one
 * year, pixel and instance; contiguous in key order): the locus just below @p top in the loci
 * table, found in the pages this locus will be written to anyway. Numbers are never reused, as
 * loci are never deleted. */
static int ssi_sky_next_number(ss_store_txn *t, const char *bottom, const char *top, uint32_t *n)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->loci, &cur);
    if (rc)
        return rc;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)top}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == SS_LOCUS_ID_LEN && !memcmp(k.mv_data, top, SS_LOCUS_ID_LEN))
        rc = SS_ELIMIT;
    else if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, rc ? MDB_LAST : MDB_PREV);
    *n = 0;
    if (rc == 0 && k.mv_size == SS_LOCUS_ID_LEN &&
        memcmp(k.mv_data, bottom, SS_LOCUS_ID_LEN) >= 0) {
        char found[SS_LOCUS_ID_LEN + 1], year[4];
        uint64_t pix;
        unsigned inst;
        memcpy(found, k.mv_data, SS_LOCUS_ID_LEN);
        found[SS_LOCUS_ID_LEN] = '\0';
        rc = ss_store_locus_id_sky_parts(found, year, &pix, &inst, n) ? SS_ECORRUPT : 0;
        ++*n;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ss_store_locus_new_id(ss_store_txn *t, double mjd, double ra, double dec,
                          char id[SS_LOCUS_ID_LEN + 1])
{
    ss_store_counters *c = ssi_counters_w(t);
    if (!c)
        return SS_ECORRUPT;
    unsigned instance = (unsigned)(t->s->locus_base >> 48);
    char bottom[SS_LOCUS_ID_LEN + 1], top[SS_LOCUS_ID_LEN + 1];
    uint32_t n;
    ss_store_locus_id_sky(ra, dec, instance, 0, mjd, bottom);
    ss_store_locus_id_sky(ra, dec, instance, SS_LOCUS_SKY_NMAX, mjd, top);
    int rc = ssi_sky_next_number(t, bottom, top, &n);
    if (rc)
        return rc;
    ss_store_locus_id_sky(ra, dec, instance, n, mjd, id);
    c->locus_seq++;
    c->loci++;
    return 0;
}

int ss_store_loci_each(ss_store_txn *t, const char *after, ss_store_locus_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->loci, &cur);
    if (rc)
        return rc;
    MDB_val k = {after ? strlen(after) : 0, (void *)after}, v;
    rc = mdb_cursor_get(cur, &k, &v, after ? MDB_SET_RANGE : MDB_FIRST);
    if (!rc && after && k.mv_size == strlen(after) && !memcmp(k.mv_data, after, k.mv_size))
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ss_locus l;
        if (k.mv_size != SS_LOCUS_ID_LEN || ssi_locus_decode(v.mv_data, v.mv_size, &l)) {
            rc = SS_ECORRUPT;
            break;
        }
        memcpy(l.id, k.mv_data, SS_LOCUS_ID_LEN);
        l.id[SS_LOCUS_ID_LEN] = '\0';
        if ((rc = fn(ctx, &l)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- alerts ---- */

int ss_store_alert_find(ss_store_txn *t, const char *survey, const char *alert_id,
                        char locus_id[SS_LOCUS_ID_LEN + 1])
{
    char locus[SS_LOCUS_ID_LEN + 1];
    uint64_t packet;
    int rc = ssi_alert_indexed(t, survey, alert_id, locus_id);
    if (rc != SS_ENOTFOUND || (rc = ssi_limit_locate(t, survey, alert_id, locus, &packet)))
        return rc;
    if (locus_id)
        memcpy(locus_id, locus, sizeof locus);
    return 0;
}

int ssi_alert_indexed(ss_store_txn *t, const char *survey, const char *alert_id,
                      char locus_id[SS_LOCUS_ID_LEN + 1])
{
    unsigned char kb[SSI_KEY_MAX];
    if (strlen(survey) > SS_SURVEY_MAX || strlen(alert_id) > SS_ID_MAX)
        return SS_ENOTFOUND; /* longer than any stored one */
    MDB_val k = {ssi_key_alert(kb, survey, alert_id), kb}, v;
    int rc = mdb_get(t->txn, t->s->alerts, &k, &v);
    if (rc || !locus_id)
        return ssi_absent(rc);
    ss_store_alert_head h;
    if ((rc = ssi_alert_head(v.mv_data, v.mv_size, NULL, &h)))
        return rc;
    memcpy(locus_id, h.locus_id, sizeof h.locus_id);
    return 0;
}

int ss_store_surveys_each(ss_store_txn *t, ss_store_survey_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->alerts, &cur);
    if (rc)
        return rc;
    char next[SS_SURVEY_MAX + 2];
    MDB_val k, v;
    /* keys are survey NUL alert id: after one survey's first key, jump past its NUL */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
         rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
        size_t n = strnlen(k.mv_data, k.mv_size);
        if (n > SS_SURVEY_MAX || n == k.mv_size) {
            rc = SS_ECORRUPT;
            break;
        }
        memcpy(next, k.mv_data, n);
        next[n] = '\0';
        if ((rc = fn(ctx, next)))
            break;
        next[n] = '\1';
        k = (MDB_val){n + 1, next};
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ssi_index_object(ss_store_txn *t, const ss_alert *a, const char *locus_id)
{
    if (!a->object_id || !*a->object_id)
        return 0;
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_object(kb, a->object_id, a->survey), kb};
    if (k.mv_size == t->object_key_len && !memcmp(kb, t->object_key, k.mv_size) &&
        !memcmp(locus_id, t->object_locus, SS_LOCUS_ID_LEN))
        return 0;
    MDB_val v = {SS_LOCUS_ID_LEN, (void *)locus_id};
    int rc = mdb_put(t->txn, t->s->objects, &k, &v, MDB_NODUPDATA);
    if (rc && rc != MDB_KEYEXIST)
        return rc;
    memcpy(t->object_key, kb, k.mv_size);
    t->object_key_len = k.mv_size;
    memcpy(t->object_locus, locus_id, SS_LOCUS_ID_LEN);
    return 0;
}

void ssi_count_alert(ss_store_counters *c, const ss_alert *a)
{
    c->alerts++;
    if (a->kind == SS_ALERT_FORCED)
        c->forced++;
    else if (a->kind == SS_ALERT_UPPER_LIMIT)
        c->upper_limits++;
    else
        c->detections++;
}

/* Write @p a's record (packed in t->buf) where a writer keeps it (format 9): in locus_alerts,
 * beside the locus's other measurements so that a light curve is one range of pages, the alerts
 * table mapping its id to that entry. @p fresh: a new alert (EEXIST when its id is stored). */
static int ssi_alert_write(ss_store_txn *t, const ss_alert *a, const char *locus_id, int fresh)
{
    unsigned char kb[SSI_KEY_MAX], lb[SSI_KEY_MAX], ref[SSI_REF_LEN];
    ss_store_alert_head h = {
        .kind = a->kind, .mjd = a->mjd, .arrival = a->arrival, .arrival_index = a->arrival_index};
    memcpy(h.locus_id, locus_id, SS_LOCUS_ID_LEN);
    MDB_val k = {ssi_key_alert(kb, a->survey, a->alert_id), kb};
    MDB_val v = {ssi_alert_ref_encode(&h, ref), ref}, rec = {t->buf.len, t->buf.data};
    MDB_val lk = {ssi_key_locus_alert(lb, locus_id, a->mjd, a->survey, a->alert_id), lb};
    int rc = fresh && ssi_limit_listed(t->s, a)
                 ? ssi_limit_add(t, a)
                 : mdb_put(t->txn, t->s->alerts, &k, &v, fresh ? MDB_NOOVERWRITE : 0);
    if (rc)
        return rc == MDB_KEYEXIST ? EEXIST : rc;
    return mdb_put(t->txn, t->s->locus_alerts, &lk, &rec, 0);
}

int ss_store_alert_put(ss_store_txn *t, const ss_alert *a, const char *locus_id,
                       const ss_prop *survey_locus, uint32_t nsurvey_locus)
{
    ss_store_counters *c = ssi_counters_w(t);
    if (!c)
        return SS_ECORRUPT;
    int rc = ssi_alert_pack_keyed(t, a, survey_locus, nsurvey_locus, &t->buf);
    if (rc || (rc = ssi_alert_write(t, a, locus_id, 1)))
        return rc;
    ssi_count_alert(c, a);
    return ssi_index_object(t, a, locus_id);
}

/* One locus_alerts entry moved to format 9: the record of its alert copied into it (@p copy:
 * scratch) and the alerts table's record replaced by a reference. An entry whose alert is not
 * stored is left as it is, for verify to report. */
static int ssi_alert_cluster(ss_store *s, MDB_txn *txn, MDB_cursor *cur, const MDB_val *k,
                             ss_wbuf *copy)
{
    ss_store_alert_head h;
    unsigned char ref[SSI_REF_LEN];
    MDB_val rec, d, ak = ssi_key_locus_alert_id(k);
    int rc = mdb_get(txn, s->alerts, &ak, &rec);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if ((rc = ssi_alert_head(rec.mv_data, rec.mv_size, NULL, &h)))
        return rc;
    /* the key and the record copied: their pages may move while the two tables are written */
    ss_wbuf_reset(copy);
    ss_wbuf_bytes(copy, k->mv_data, k->mv_size);
    ss_wbuf_bytes(copy, rec.mv_data, rec.mv_size);
    if (copy->failed)
        return SS_ENOMEM;
    MDB_val key = {k->mv_size, copy->data}, cv = {rec.mv_size, copy->data + k->mv_size};
    ak = ssi_key_locus_alert_id(&key);
    MDB_val rv = {ssi_alert_ref_encode(&h, ref), ref};
    if ((rc = mdb_put(txn, s->alerts, &ak, &rv, 0)) ||
        (rc = mdb_cursor_put(cur, &key, &cv, MDB_CURRENT)))
        return rc;
    /* a value that grows is deleted and inserted again, which may split the page: the cursor
     * finds its entry again by key before it moves on */
    return mdb_cursor_get(cur, &key, &d, MDB_SET);
}

int ssi_alerts_cluster(ss_store *s, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, d;
    ss_wbuf copy = {0};
    int rc = mdb_cursor_open(txn, s->locus_alerts, &cur);
    if (rc)
        return rc;
    for (MDB_cursor_op op = MDB_FIRST; !(rc = mdb_cursor_get(cur, &k, &d, op)); op = MDB_NEXT) {
        if (k.mv_size <= SS_LOCUS_ID_LEN + 8)
            rc = SS_ECORRUPT;
        else if (d.mv_size <= 1) /* the alert's kind: its record is still in the alerts table */
            rc = ssi_alert_cluster(s, txn, cur, &k, &copy);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    ss_wbuf_free(&copy);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

uint64_t ss_store_packet_next(ss_store_txn *t)
{
    ss_store_counters *c = ssi_counters_w(t);
    return c ? ++c->packet_seq : 0;
}

/* The alerts table's value for an alert: its record, or from format 9 a reference to it. */
static int ssi_alert_entry(ss_store_txn *t, const char *survey, const char *alert_id, MDB_val *v)
{
    unsigned char kb[SSI_KEY_MAX];
    if (strlen(survey) > SS_SURVEY_MAX || strlen(alert_id) > SS_ID_MAX)
        return SS_ENOTFOUND;
    MDB_val k = {ssi_key_alert(kb, survey, alert_id), kb};
    return ssi_absent(mdb_get(t->txn, t->s->alerts, &k, v));
}

/* An alert's record, and the locus_alerts key it was found under. */
typedef struct ssi_found {
    MDB_val rec, key; /* key empty: the record is the alerts table's (before format 9) */
    unsigned char kb[SSI_KEY_MAX];
    uint64_t packet; /* a group's member: the group's packet, its arrival (else 0) */
} ssi_found;

static const MDB_val *ssi_found_key(const ssi_found *f)
{
    return f->key.mv_size ? &f->key : NULL;
}

/* An alert's record, followed from its reference to locus_alerts in a format 9 store. */
static int ssi_alert_record(ss_store_txn *t, const char *survey, const char *alert_id, ssi_found *f)
{
    ss_store_alert_head h;
    f->key = (MDB_val){0, f->kb};
    f->packet = 0;
    int rc = ssi_alert_entry(t, survey, alert_id, &f->rec);
    if (rc == SS_ENOTFOUND && !(rc = ssi_limit_locate(t, survey, alert_id, h.locus_id, &f->packet)))
        return ssi_group_lookup(t, h.locus_id, f->packet, survey, alert_id, &f->rec, &f->key,
                                f->kb);
    if (rc || !ssi_alert_is_ref(f->rec.mv_data, f->rec.mv_size))
        return rc;
    int member = ssi_alert_is_member_ref(f->rec.mv_data, f->rec.mv_size);
    if ((rc = ssi_alert_head(f->rec.mv_data, f->rec.mv_size, NULL, &h)))
        return rc;
    if (member) {
        f->packet = h.arrival;
        return ssi_group_lookup(t, h.locus_id, h.arrival, survey, alert_id, &f->rec, &f->key,
                                f->kb);
    }
    f->key.mv_size = ssi_key_locus_alert(f->kb, h.locus_id, h.mjd, survey, alert_id);
    rc = mdb_get(t->txn, t->s->locus_alerts, &f->key, &f->rec);
    return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
}

int ss_store_alert_head_get(ss_store_txn *t, const char *survey, const char *alert_id,
                            ss_store_alert_head *out)
{
    MDB_val v;
    int rc = ssi_alert_entry(t, survey, alert_id, &v);
    return rc ? rc : ssi_alert_head(v.mv_data, v.mv_size, NULL, out);
}

int ss_store_alert_upgrade(ss_store_txn *t, const ss_alert *a, const char *locus_id,
                           const ss_prop *survey_locus, uint32_t nsurvey_locus)
{
    ss_store_alert_head h;
    int rc = ss_store_alert_head_get(t, a->survey, a->alert_id, &h);
    if (rc)
        return rc;
    /* the same measurement keeps every index and count as they are: only the record changes */
    if (strcmp(h.locus_id, locus_id) || h.kind != a->kind || h.mjd != a->mjd)
        return SS_EINVAL;
    MDB_val v;
    if ((rc = ssi_alert_entry(t, a->survey, a->alert_id, &v)))
        return rc;
    /* a group's member leaves it for an entry of its own, which keeps its history lead */
    if (ssi_alert_is_member_ref(v.mv_data, v.mv_size) &&
        (rc = ssi_group_drop(t, locus_id, h.arrival, h.arrival_index)))
        return rc;
    if ((rc = ssi_alert_pack_keyed(t, a, survey_locus, nsurvey_locus, &t->buf)) ||
        (rc = ssi_alert_write(t, a, locus_id, 0)))
        return rc;
    return ssi_index_object(t, a, locus_id);
}

int ss_store_alert_get(ss_store_txn *t, const char *survey, const char *alert_id, ss_packet *pkt,
                       ss_alert **out)
{
    ssi_found f;
    char locus[SS_LOCUS_ID_LEN + 1];
    int rc = ssi_alert_record(t, survey, alert_id, &f);
    ss_alert *a = rc ? NULL : ss_packet_add(pkt);
    if (!rc && !a)
        rc = SS_ENOMEM;
    if (!rc)
        rc = ssi_alert_decode(t, f.rec.mv_data, f.rec.mv_size, ssi_found_key(&f), pkt, a, locus);
    if (!rc && f.packet)
        a->arrival = f.packet;
    *out = rc ? NULL : a;
    return rc;
}

int ss_store_alert_survey_locus(ss_store_txn *t, const char *survey, const char *alert_id,
                                ss_arena *arena, ss_prop **props, uint32_t *n)
{
    ssi_found f;
    int rc = ssi_alert_record(t, survey, alert_id, &f);
    return rc ? rc
              : ssi_alert_survey_locus(t, f.rec.mv_data, f.rec.mv_size, ssi_found_key(&f), arena,
                                       props, n);
}

/* The record of locus_alerts entry @p k, @p d: the entry's value from format 9, else (its value
 * the alert's kind byte, or empty) the alerts table's record its key names. */
static int ssi_locus_alert_record(ss_store_txn *t, const MDB_val *k, MDB_val *d)
{
    if (d->mv_size > 1)
        return 0;
    MDB_val ak = ssi_key_locus_alert_id(k);
    int rc = mdb_get(t->txn, t->s->alerts, &ak, d);
    return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
}

/* Key order of locus_alerts entries: MJD bits, survey, alert id (groups' members among them). */
static int ssi_alert_order(const void *pa, const void *pb)
{
    const ss_alert *a = pa, *b = pb;
    uint64_t x, y;
    memcpy(&x, &a->mjd, sizeof x);
    memcpy(&y, &b->mjd, sizeof y);
    if (x != y)
        return x < y ? -1 : 1;
    int c = strcmp(a->survey, b->survey);
    return c ? c : strcmp(a->alert_id, b->alert_id);
}

int ss_store_locus_alerts(ss_store_txn *t, const char *locus_id, ss_packet *pkt)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->locus_alerts, &cur);
    if (rc)
        return rc;
    uint32_t first = pkt->n, groups = 0;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)locus_id}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size <= SS_LOCUS_ID_LEN + 8 || memcmp(k.mv_data, locus_id, SS_LOCUS_ID_LEN))
            break;
        if (ssi_key_is_group(&k)) {
            groups++;
            if ((rc = ssi_group_read(t, &k, &d, pkt)))
                break;
            continue;
        }
        char locus[SS_LOCUS_ID_LEN + 1];
        ss_alert *a = ss_packet_add(pkt);
        if (!a || (rc = ssi_locus_alert_record(t, &k, &d)) ||
            (rc = ssi_alert_decode(t, d.mv_data, d.mv_size, &k, pkt, a, locus))) {
            rc = !a ? SS_ENOMEM : rc;
            break;
        }
    }
    mdb_cursor_close(cur);
    /* a group holds a packet's measurements, whose times interleave with other packets' */
    if ((rc == 0 || rc == MDB_NOTFOUND) && groups)
        qsort(pkt->alerts + first, pkt->n - first, sizeof *pkt->alerts, ssi_alert_order);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ss_store_object_each(ss_store_txn *t, const char *object_id, ss_store_object_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->objects, &cur);
    if (rc)
        return rc;
    size_t n = strlen(object_id);
    MDB_val k = {n + 1, (void *)object_id}, v; /* object id and its NUL: then every survey */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= n + 1 || memcmp(k.mv_data, object_id, n + 1) != 0)
            break;
        char survey[SS_SURVEY_MAX + 1], id[SS_LOCUS_ID_LEN + 1];
        size_t ns = k.mv_size - n - 1;
        if (v.mv_size != SS_LOCUS_ID_LEN || ns > SS_SURVEY_MAX)
            continue;
        memcpy(survey, (const char *)k.mv_data + n + 1, ns);
        survey[ns] = '\0';
        memcpy(id, v.mv_data, SS_LOCUS_ID_LEN);
        id[SS_LOCUS_ID_LEN] = '\0';
        if ((rc = fn(ctx, survey, id)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- filter outputs ---- */

static int ssi_bag_get(ss_store_txn *t, MDB_dbi dbi, const void *key, size_t klen, ss_arena *arena,
                       ss_prop **props, uint32_t *n)
{
    MDB_val k = {klen, (void *)key}, v;
    *props = NULL;
    *n = 0;
    int rc = t->s->has_outputs ? mdb_get(t->txn, dbi, &k, &v) : MDB_NOTFOUND;
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    return ss_store_props_decode(v.mv_data, v.mv_size, arena, props, n);
}

int ss_store_locus_props(ss_store_txn *t, const char *locus_id, ss_arena *arena, ss_prop **props,
                         uint32_t *n)
{
    return ssi_bag_get(t, t->s->locus_props, locus_id, SS_LOCUS_ID_LEN, arena, props, n);
}

int ss_store_alert_props(ss_store_txn *t, const char *survey, const char *alert_id, ss_arena *arena,
                         ss_prop **props, uint32_t *n)
{
    unsigned char kb[SSI_KEY_MAX];
    size_t kn = ssi_key_alert(kb, survey, alert_id);
    return ssi_bag_get(t, t->s->alert_props, kb, kn, arena, props, n);
}

/* Put @p v under @p name in the bag (an array in @p arena, grown by doubling). */
static int ssi_bag_set(ss_arena *arena, ss_prop **items, uint32_t *n, uint32_t *cap,
                       const ss_prop *p)
{
    for (uint32_t i = 0; i < *n; i++)
        if (!strcmp((*items)[i].name, p->name)) {
            (*items)[i].value = p->value;
            return 0;
        }
    if (*n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 8;
        ss_prop *fresh = ss_arena_alloc(arena, ncap * sizeof *fresh);
        if (!fresh)
            return SS_ENOMEM;
        if (*n)
            memcpy(fresh, *items, *n * sizeof *fresh);
        *items = fresh;
        *cap = ncap;
    }
    (*items)[(*n)++] = *p;
    return 0;
}

/* Merge @p add into the bag stored under @p key (as it is in the transaction now). */
static int ssi_bag_merge(ss_store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
                         const ss_prop *add, size_t nadd, ss_arena *scratch)
{
    if (!t->s->has_outputs)
        return SS_EINVAL;
    ss_prop *items;
    uint32_t n, cap;
    int rc = ssi_bag_get(t, dbi, key, klen, scratch, &items, &n);
    cap = n;
    for (size_t i = 0; i < nadd && !rc; i++)
        rc = ssi_bag_set(scratch, &items, &n, &cap, &add[i]);
    if (rc)
        return rc;
    ss_store_props_encode(items, n, &t->buf);
    if (t->buf.failed)
        return SS_ENOMEM;
    MDB_val k = {klen, (void *)key}, d = {t->buf.len, t->buf.data};
    return mdb_put(t->txn, dbi, &k, &d, 0);
}

int ss_store_locus_props_merge(ss_store_txn *t, const char *locus_id, const ss_prop *add, size_t n,
                               ss_arena *scratch)
{
    return ssi_bag_merge(t, t->s->locus_props, locus_id, SS_LOCUS_ID_LEN, add, n, scratch);
}

int ss_store_alert_props_merge(ss_store_txn *t, const char *survey, const char *alert_id,
                               const ss_prop *add, size_t n, ss_arena *scratch)
{
    unsigned char kb[SSI_KEY_MAX];
    size_t kn = ssi_key_alert(kb, survey, alert_id);
    return ssi_bag_merge(t, t->s->alert_props, kb, kn, add, n, scratch);
}

int ss_store_locus_props_survey(ss_store_txn *t, const char *locus_id, const ss_prop *props,
                                uint32_t m, ss_arena *scratch)
{
    ss_prop *old = NULL;
    uint32_t nold = 0;
    int rc = ssi_bag_get(t, t->s->locus_props, locus_id, SS_LOCUS_ID_LEN, scratch, &old, &nold);
    ss_prop *all = rc ? NULL : ss_arena_alloc(scratch, (nold + m + 1) * sizeof *all);
    if (rc || !all)
        return rc ? rc : ENOMEM;
    uint32_t n = 0, next = 0;
    for (uint32_t i = 0; i < nold; i++) {
        /* the survey sends the same names in the same order: try the next one before searching */
        int replaced = next < m && !strcmp(old[i].name, props[next].name);
        for (uint32_t j = 0; j < m && !replaced; j++)
            replaced = !strcmp(old[i].name, props[j].name);
        next += replaced;
        if (!replaced)
            all[n++] = old[i];
    }
    memcpy(all + n, props, m * sizeof *all);
    ss_store_props_encode(all, n + m, &t->buf);
    if (t->buf.failed)
        return ENOMEM;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)locus_id}, v = {t->buf.len, t->buf.data};
    return mdb_put(t->txn, t->s->locus_props, &k, &v, 0);
}

struct ss_store_bags {
    MDB_cursor *cur;
    MDB_cursor_op op; /* MDB_FIRST, then MDB_NEXT */
};

int ss_store_bags_open(ss_store_txn *t, int which, ss_store_bags **out)
{
    *out = NULL;
    ss_store_bags *it = calloc(1, sizeof *it);
    if (!it)
        return SS_ENOMEM;
    MDB_dbi dbi = which == SS_STORE_ALERT_BAGS ? t->s->alert_props : t->s->locus_props;
    int rc = t->s->has_outputs ? mdb_cursor_open(t->txn, dbi, &it->cur) : 0;
    if (rc) {
        free(it);
        return rc;
    }
    it->op = MDB_FIRST;
    *out = it;
    return 0;
}

int ss_store_bags_next(ss_store_bags *it, ss_arena *arena, const char **key, size_t *klen,
                       ss_prop **props, uint32_t *n)
{
    MDB_val k, v;
    int rc = it->cur ? mdb_cursor_get(it->cur, &k, &v, it->op) : MDB_NOTFOUND;
    it->op = MDB_NEXT;
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    *key = k.mv_data;
    *klen = k.mv_size;
    rc = ss_store_props_decode(v.mv_data, v.mv_size, arena, props, n);
    return rc ? rc : 1;
}

void ss_store_bags_close(ss_store_bags *it)
{
    if (!it)
        return;
    if (it->cur)
        mdb_cursor_close(it->cur);
    free(it);
}

int ss_store_tag_add(ss_store_txn *t, const char *locus_id, const char *tag, const char *filter,
                     const char *survey, const char *alert_id, double mjd)
{
    unsigned char kb[SSI_KEY_MAX];
    if (!t->s->has_outputs)
        return SS_EINVAL;
    if (strlen(tag) > SS_TAG_MAX)
        return SS_EINVAL;
    MDB_val k = {ssi_key_tag(kb, locus_id, tag), kb}, d;
    ss_tag_record r = {.mjd = mjd, .time = (double)time(NULL)};
    snprintf(r.filter, sizeof r.filter, "%s", filter);
    snprintf(r.survey, sizeof r.survey, "%s", survey);
    snprintf(r.alert_id, sizeof r.alert_id, "%s", alert_id);
    ssi_tag_encode(&r, &t->buf);
    d = (MDB_val){t->buf.len, t->buf.data};
    int rc = t->buf.failed ? SS_ENOMEM : mdb_put(t->txn, t->s->tags, &k, &d, MDB_NOOVERWRITE);
    if (rc)
        return rc == MDB_KEYEXIST ? 0 : rc;
    MDB_val ik = {ssi_key_tag_index(kb, tag, mjd, locus_id), kb};
    MDB_val empty = {0, ""};
    return mdb_put(t->txn, t->s->tag_index, &ik, &empty, 0);
}

int ss_store_tag_get(ss_store_txn *t, const char *locus_id, const char *tag, ss_tag_record *out)
{
    unsigned char kb[SSI_KEY_MAX];
    if (!t->s->has_outputs || strlen(tag) > SS_TAG_MAX)
        return SS_ENOTFOUND;
    MDB_val k = {ssi_key_tag(kb, locus_id, tag), kb}, v;
    int rc = mdb_get(t->txn, t->s->tags, &k, &v);
    return rc ? ssi_absent(rc) : ssi_tag_decode(v.mv_data, v.mv_size, out);
}

int ss_store_locus_tags(ss_store_txn *t, const char *locus_id, ss_store_tag_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = t->s->has_outputs ? mdb_cursor_open(t->txn, t->s->tags, &cur) : MDB_NOTFOUND;
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    MDB_val k = {SS_LOCUS_ID_LEN, (void *)locus_id}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ss_tag_record r;
        if (k.mv_size <= SS_LOCUS_ID_LEN || memcmp(k.mv_data, locus_id, SS_LOCUS_ID_LEN) != 0)
            break;
        if ((rc = ssi_tag_decode(v.mv_data, v.mv_size, &r)) ||
            (rc = fn(ctx, (const char *)k.mv_data + SS_LOCUS_ID_LEN, k.mv_size - SS_LOCUS_ID_LEN,
                     &r)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ss_store_tagged_each(ss_store_txn *t, const char *tag, double since_mjd, ss_store_tagged_fn fn,
                         void *ctx)
{
    MDB_cursor *cur;
    size_t tlen = strlen(tag);
    if (!t->s->has_outputs || tlen > SS_TAG_MAX)
        return 0;
    int rc = mdb_cursor_open(t->txn, t->s->tag_index, &cur);
    if (rc)
        return rc;
    unsigned char kb[SSI_KEY_MAX];
    char zero[SS_LOCUS_ID_LEN + 1] = {0};
    MDB_val k = {ssi_key_tag_index(kb, tag, since_mjd > 0 ? since_mjd : 0, zero), kb}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *kp = k.mv_data;
        if (k.mv_size != tlen + 1 + 8 + SS_LOCUS_ID_LEN || memcmp(kp, tag, tlen + 1))
            break;
        char id[SS_LOCUS_ID_LEN + 1];
        uint64_t bits = ss_be64_get((const unsigned char *)kp + tlen + 1);
        double mjd;
        memcpy(&mjd, &bits, sizeof mjd);
        memcpy(id, kp + tlen + 9, SS_LOCUS_ID_LEN);
        id[SS_LOCUS_ID_LEN] = '\0';
        if ((rc = fn(ctx, id, mjd)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The tag and the MJD of a tag_index key. @return 0 or SS_ECORRUPT. */
static int ssi_tag_index_parse(const MDB_val *k, size_t *tlen, double *mjd)
{
    const char *kp = k->mv_data;
    const char *nul = memchr(kp, '\0', k->mv_size);
    if (!nul || k->mv_size != (size_t)(nul - kp) + 1 + 8 + SS_LOCUS_ID_LEN)
        return SS_ECORRUPT;
    *tlen = (size_t)(nul - kp);
    uint64_t bits = ss_be64_get((const unsigned char *)nul + 1);
    memcpy(mjd, &bits, sizeof *mjd);
    return 0;
}

/* From a tag's first entry, the last one (its newest MJD); then on to the next tag's first. The
 * seek key sorts after every entry of the tag (an id is ASCII) and before any other tag's. */
static int ssi_tag_last(MDB_cursor *cur, MDB_val *k, MDB_val *v, char *tag, size_t tlen)
{
    unsigned char seek[SS_TAG_MAX + 1 + 8 + SS_LOCUS_ID_LEN];
    memcpy(seek, tag, tlen + 1);
    memset(seek + tlen + 1, 0xff, 8 + SS_LOCUS_ID_LEN);
    *k = (MDB_val){tlen + 1 + 8 + SS_LOCUS_ID_LEN, seek};
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        return mdb_cursor_get(cur, k, v, MDB_LAST);
    return rc ? rc : mdb_cursor_get(cur, k, v, MDB_PREV);
}

int ss_store_tags_each(ss_store_txn *t, ss_store_tags_fn fn, void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = t->s->has_outputs ? mdb_cursor_open(t->txn, t->s->tag_index, &cur) : MDB_NOTFOUND;
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char tag[SS_TAG_MAX + 1];
        size_t tlen;
        double first, newest;
        if ((rc = ssi_tag_index_parse(&k, &tlen, &first)) || tlen > SS_TAG_MAX) {
            rc = SS_ECORRUPT;
            break;
        }
        memcpy(tag, k.mv_data, tlen);
        tag[tlen] = '\0';
        if ((rc = ssi_tag_last(cur, &k, &v, tag, tlen)) ||
            (rc = ssi_tag_index_parse(&k, &tlen, &newest)) || (rc = fn(ctx, tag, newest)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- rejected records and ingest runs ---- */

int ss_store_reject_put(ss_store_txn *t, ss_reason reason, const char *origin, uint64_t line,
                        const char *detail, const char *raw, size_t raw_len)
{
    ss_store_counters *c = ssi_counters_w(t);
    ss_wbuf *b = &t->buf;
    if (!c)
        return SS_ECORRUPT;
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, SS_RECORD_VERSION);
    ss_wbuf_str(b, ss_reason_name(reason));
    ss_wbuf_str(b, origin);
    ss_wbuf_u64(b, line);
    ss_wbuf_str(b, detail);
    if (raw) /* bytes with their length: a row may hold NULs and bytes that are not UTF-8 */
        ss_wbuf_strn(b, raw, (uint32_t)raw_len);
    else
        ss_wbuf_str(b, NULL);
    ss_wbuf_f64(b, (double)time(NULL));
    if (b->failed)
        return ENOMEM;
    unsigned char kb[8];
    ss_be64_put(kb, c->reject_seq);
    MDB_val k = {sizeof kb, kb}, v = {b->len, b->data};
    int rc = mdb_put(t->txn, t->s->rejected, &k, &v, 0);
    if (!rc) {
        c->reject_seq++;
        c->rejected++;
        c->by_reason[reason]++;
    }
    return rc;
}

static int ssi_rejected_parse(const MDB_val *k, const MDB_val *v, ss_store_rejected *out)
{
    ss_rbuf r = {v->mv_data, (const unsigned char *)v->mv_data + v->mv_size, 0};
    uint32_t nreason, norigin, ndetail, nraw;
    if (ss_rbuf_u8(&r) != SS_RECORD_VERSION || k->mv_size != 8)
        return SS_ECORRUPT;
    out->seq = ss_be64_get(k->mv_data);
    out->reason = ss_rbuf_str(&r, &nreason);
    out->origin = ss_rbuf_str(&r, &norigin);
    out->line = ss_rbuf_u64(&r);
    out->detail = ss_rbuf_str(&r, &ndetail);
    out->raw = ss_rbuf_str(&r, &nraw);
    out->time = ss_rbuf_f64(&r);
    out->reason_len = nreason;
    out->origin_len = norigin;
    out->detail_len = ndetail;
    out->raw_len = nraw;
    return r.bad || !out->reason || !out->origin || !out->detail ? SS_ECORRUPT : 0;
}

int ss_store_rejected_each(ss_store_txn *t, ss_store_rejected_fn fn, void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->s->rejected, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ss_store_rejected r;
        if ((rc = ssi_rejected_parse(&k, &v, &r)) || (rc = fn(ctx, &r)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ss_store_run_put(ss_store_txn *t, const char *json)
{
    ss_store_counters *c = ssi_counters_w(t);
    if (!c)
        return SS_ECORRUPT;
    unsigned char kb[8];
    ss_be64_put(kb, c->ingest_seq);
    MDB_val k = {sizeof kb, kb}, v = {strlen(json), (void *)json};
    int rc = mdb_put(t->txn, t->s->ingests, &k, &v, 0);
    c->ingest_seq += rc == 0;
    return rc;
}

int ss_store_run_last(ss_store_txn *t, const char **json, size_t *len)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->s->ingests, &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc)
        return ssi_absent(rc);
    *json = v.mv_data;
    *len = v.mv_size;
    return 0;
}
