#include "verify.h"

#include "store_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct ssi_verify {
    ss_store *s;
    ss_store_txn *t; /* txn is its LMDB transaction */
    MDB_txn *txn;
    FILE *out;
    ss_verify_report *r;
    ss_packet *pkt;
    int deep; /* the second pass: member references followed into their groups */
} ssi_verify;

static void ssi_problem(ssi_verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ssi_problem(ssi_verify *v, const char *fmt, ...)
{
    v->r->problems++;
    if (!v->out)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(v->out, fmt, ap);
    va_end(ap);
    fputc('\n', v->out);
}

/* Count the entries of a table. */
static int ssi_count(MDB_txn *txn, MDB_dbi dbi, uint64_t *n)
{
    MDB_stat st;
    int rc = mdb_stat(txn, dbi, &st);
    *n = rc ? 0 : st.ms_entries;
    return rc;
}

/* Count the stamps of the cutouts table: a packed record holds several (cutouts.c). */
static int ssi_count_stamps(ssi_verify *v, uint64_t *n)
{
    MDB_cursor *cur;
    MDB_val k, d;
    *n = 0;
    int rc = mdb_cursor_open(v->txn, v->s->cutouts, &cur);
    if (rc)
        return rc;
    for (MDB_cursor_op op = MDB_FIRST; !(rc = mdb_cursor_get(cur, &k, &d, op)); op = MDB_NEXT) {
        uint64_t stamps;
        if (ssi_cutouts_check(v->s, v->txn, &k, &d, &stamps))
            ssi_problem(v, "cutouts %.*s: record does not decode", (int)k.mv_size,
                        (char *)k.mv_data);
        else
            *n += stamps;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int ssi_has(ssi_verify *v, MDB_dbi dbi, const void *key, size_t len)
{
    MDB_val k = {len, (void *)key}, d;
    return mdb_get(v->txn, dbi, &k, &d) == 0;
}

/* Alert key @p k (survey NUL id) and its reference @p d, read. @return 0, or 1 when they do not
 * decode. */
static int ssi_ref_read(const MDB_val *k, const MDB_val *d, char survey[SS_SURVEY_MAX + 1],
                        char id[SS_ID_MAX + 1], ss_store_alert_head *h)
{
    const char *key = k->mv_data, *nul = memchr(key, '\0', k->mv_size);
    size_t slen = nul ? (size_t)(nul - key) : 0, idlen = nul ? k->mv_size - slen - 1 : 0;
    if (!nul || slen > SS_SURVEY_MAX || idlen > SS_ID_MAX ||
        ssi_alert_head(d->mv_data, d->mv_size, NULL, h))
        return 1;
    memcpy(survey, key, slen), survey[slen] = '\0';
    memcpy(id, nul + 1, idlen), id[idlen] = '\0';
    return 0;
}

/* A group member's reference (format 16): its group and its locus exist. The member is checked
 * against the reference from its group's side (ssi_check_member()), each group decompressed once
 * rather than once a member. Only when the counts disagree does a second pass (v->deep) look for
 * each member in its group, to name one its group lacks. */
static void ssi_check_member_ref(ssi_verify *v, const char *survey, const char *id,
                                 const ss_store_alert_head *h)
{
    unsigned char gk[SSI_KEY_MAX], kb[SSI_KEY_MAX];
    MDB_val rec, lk;
    size_t gn = ssi_key_group(gk, h->locus_id, h->arrival);
    int there = ssi_has(v, v->s->locus_alerts, gk, gn);
    if (v->deep
            ? there && ssi_group_lookup(v->t, h->locus_id, h->arrival, survey, id, &rec, &lk, kb)
            : !there)
        ssi_problem(v, "alert %s/%s: missing from its group (packet %llu) of %s", survey, id,
                    (unsigned long long)h->arrival, h->locus_id);
    if (!v->deep && !ssi_has(v, v->s->loci, h->locus_id, SS_LOCUS_ID_LEN))
        ssi_problem(v, "alert %s/%s: its locus %s does not exist", survey, id, h->locus_id);
}

/* Format 9: follow the alerts table's reference @p d of alert @p k to its record in
 * locus_alerts (@p rec, under key @p lk, whose bytes @p kb holds). @return 0, or 1 when a problem
 * was reported or the reference is a group member's (checked by ssi_check_member_ref()). */
static int ssi_follow_ref(ssi_verify *v, const MDB_val *k, const MDB_val *d, ss_store_alert_head *h,
                          MDB_val *rec, MDB_val *lk, unsigned char kb[SSI_KEY_MAX])
{
    char survey[SS_SURVEY_MAX + 1], id[SS_ID_MAX + 1];
    if (ssi_ref_read(k, d, survey, id, h)) {
        if (!v->deep)
            ssi_problem(v, "alert %.*s: reference does not decode", (int)k->mv_size,
                        (const char *)k->mv_data);
        return 1;
    }
    if (ssi_alert_is_member_ref(d->mv_data, d->mv_size)) {
        ssi_check_member_ref(v, survey, id, h);
        return 1;
    }
    if (v->deep)
        return 1;
    *lk = (MDB_val){ssi_key_locus_alert(kb, h->locus_id, h->mjd, survey, id), kb};
    if (mdb_get(v->txn, v->s->locus_alerts, lk, rec) == 0)
        return 0;
    ssi_problem(v, "alert %s/%s: missing from locus_alerts of %s", survey, id, h->locus_id);
    return 1;
}

/* 1 when alert @p a of locus @p locus is not what its reference @p h says. */
static int ssi_ref_differs(const ss_store_alert_head *h, const ss_alert *a, const char *locus)
{
    return strcmp(h->locus_id, locus) || h->kind != a->kind || memcmp(&h->mjd, &a->mjd, 8) ||
           h->arrival != a->arrival || h->arrival_index != a->arrival_index;
}

/* Each alert: decodable (from format 9 through its reference, which must agree with it), its
 * locus exists, its locus_alerts entry exists. Each value is read as what it is, whatever the
 * format says: a store whose format was set back by hand keeps its references. */
static int ssi_check_alert(ssi_verify *v, const MDB_val *k, const MDB_val *d)
{
    char locus[SS_LOCUS_ID_LEN + 1];
    unsigned char lb[SSI_KEY_MAX];
    ss_store_alert_head h;
    MDB_val rec = *d, lk;
    int ref = ssi_alert_is_ref(d->mv_data, d->mv_size);
    if (ref && ssi_follow_ref(v, k, d, &h, &rec, &lk, lb))
        return 0;
    if (v->deep)
        return 0;
    ss_packet_reset(v->pkt);
    ss_alert *a = ss_packet_add(v->pkt);
    if (!a)
        return SS_ENOMEM;
    if (ssi_alert_decode(v->t, rec.mv_data, rec.mv_size, ref ? &lk : NULL, v->pkt, a, locus)) {
        ssi_problem(v, "alert %.*s: record does not decode", (int)k->mv_size, (char *)k->mv_data);
        return 0;
    }
    if (ref && ssi_ref_differs(&h, a, locus))
        ssi_problem(v, "alert %s/%s: its reference disagrees with its record", a->survey,
                    a->alert_id);
    if (!ssi_has(v, v->s->loci, locus, SS_LOCUS_ID_LEN))
        ssi_problem(v, "alert %s/%s: its locus %s does not exist", a->survey, a->alert_id, locus);
    unsigned char kb[SSI_KEY_MAX];
    size_t n = ssi_key_locus_alert(kb, locus, a->mjd, a->survey, a->alert_id);
    if (!ref && !ssi_has(v, v->s->locus_alerts, kb, n))
        ssi_problem(v, "alert %s/%s: missing from locus_alerts of %s", a->survey, a->alert_id,
                    locus);
    return 0;
}

/* 1 when locus_alerts entry @p k, @p d is a forced measurement's: its record (format 9), or the
 * kind byte (empty before format 3). */
static int ssi_entry_forced(const MDB_val *k, const MDB_val *d)
{
    ss_store_alert_head h;
    if (d->mv_size > 1)
        return !ssi_alert_head(d->mv_data, d->mv_size, k, &h) && h.kind == SS_ALERT_FORCED;
    return d->mv_size && *(const unsigned char *)d->mv_data == SS_ALERT_FORCED;
}

/* An alert a locus's entry lists (survey NUL alert id) is stored. */
static void ssi_check_listed(ssi_verify *v, const char *locus, MDB_val ak)
{
    if (!ak.mv_size || !ssi_has(v, v->s->alerts, ak.mv_data, ak.mv_size))
        ssi_problem(v, "locus %s: lists alert %.*s, which is not stored", locus, (int)ak.mv_size,
                    (const char *)ak.mv_data);
}

/* An upper limit locus @p locus holds (@p a, decoded into v->pkt) is stored: listed under its
 * object from format 17, else by its id (@p ak). */
static int ssi_check_limit(ssi_verify *v, const char *locus, const ss_alert *a, MDB_val ak)
{
    if (!ssi_limit_listed(v->s, a)) {
        ssi_check_listed(v, locus, ak);
        return 0;
    }
    int rc = ss_store_alert_known(v->t, a);
    if (rc == SS_ENOTFOUND || rc == SS_ECORRUPT)
        ssi_problem(v, "locus %s: holds upper limit %s/%s, which object %s does not list%s", locus,
                    a->survey, a->alert_id, a->object_id,
                    rc == SS_ECORRUPT ? " (its list does not decode)" : "");
    return rc == SS_ENOTFOUND || rc == SS_ECORRUPT ? 0 : rc;
}

/* Member @p a (decoded from @p m of @p g) is what its reference in the alerts table says: that
 * group, its place in it, its kind and MJD. */
static void ssi_check_member_agrees(ssi_verify *v, const ssi_members *g, const ssi_member *m,
                                    const ss_alert *a, MDB_val ak)
{
    MDB_val d;
    ss_store_alert_head h;
    if (mdb_get(v->txn, v->s->alerts, &ak, &d)) {
        ssi_problem(v, "locus %.*s: lists alert %s/%s, which is not stored", SS_LOCUS_ID_LEN,
                    g->locus, a->survey, a->alert_id);
        return;
    }
    if (!ssi_alert_is_member_ref(d.mv_data, d.mv_size) ||
        ssi_alert_head(d.mv_data, d.mv_size, NULL, &h) ||
        memcmp(h.locus_id, g->locus, SS_LOCUS_ID_LEN) || h.arrival != g->packet ||
        h.arrival_index != m->index || h.kind != a->kind || memcmp(&h.mjd, &a->mjd, 8))
        ssi_problem(v, "alert %s/%s: its reference disagrees with its record", a->survey,
                    a->alert_id);
}

/* Member @p m of group @p g: its record decodes, and it is stored by id (its reference agreeing
 * with it) or as a limit listed under its object. */
static int ssi_check_member(ssi_verify *v, const char *locus, const ssi_members *g,
                            const ssi_member *m)
{
    unsigned char kb[SSI_KEY_MAX];
    MDB_val mk = ssi_member_key(g, m, kb);
    ss_packet_reset(v->pkt);
    ss_alert *a = ss_packet_add(v->pkt);
    int rc = a ? ssi_member_decode(v->t, g, m, v->pkt, a) : SS_ENOMEM;
    if (rc == SS_ECORRUPT)
        ssi_problem(v, "locus %s: alert %.*s of a group (packet %llu): record does not decode",
                    locus, (int)m->idlen, m->alert_id, (unsigned long long)g->packet);
    if (rc)
        return rc == SS_ECORRUPT ? 0 : rc;
    if (ssi_limit_listed(v->s, a))
        return ssi_check_limit(v, locus, a, ssi_key_locus_alert_id(&mk));
    ssi_check_member_agrees(v, g, m, a, ssi_key_locus_alert_id(&mk));
    return 0;
}

/* A single entry of locus @p locus is stored (an upper limit's record decoded to find its object).
 */
static int ssi_check_single(ssi_verify *v, const char *locus, const MDB_val *k, const MDB_val *d)
{
    ss_store_alert_head h;
    MDB_val ak = ssi_key_locus_alert_id(k);
    if (d->mv_size <= 1 || !v->s->has_limits || ssi_alert_head(d->mv_data, d->mv_size, k, &h) ||
        h.kind != SS_ALERT_UPPER_LIMIT) {
        ssi_check_listed(v, locus, ak);
        return 0;
    }
    char at[SS_LOCUS_ID_LEN + 1];
    ss_packet_reset(v->pkt);
    ss_alert *a = ss_packet_add(v->pkt);
    if (!a)
        return SS_ENOMEM;
    if (ssi_alert_decode(v->t, d->mv_data, d->mv_size, k, v->pkt, a, at)) {
        ssi_problem(v, "locus %s: an entry's record does not decode", locus);
        return 0;
    }
    return ssi_check_limit(v, locus, a, ak);
}

/* A group entry of locus @p id: its members readable and stored, counted in *@p n (forced
 * measurements apart) and in locus_alerts' measurements. @return 0 or an error of the store. */
static int ssi_check_group(ssi_verify *v, const char *id, const MDB_val *k, const MDB_val *d,
                           uint64_t *n)
{
    ssi_members g;
    ssi_member m;
    uint64_t members = 0;
    int rc = ssi_members_open(v->t, k, d, &g);
    while (!rc && (rc = ssi_members_next(&g, &m)) == 1) {
        rc = 0;                            /* on to the next */
        *n += m.rec[1] != SS_ALERT_FORCED; /* a record's kind follows its version */
        members++;
        rc = ssi_check_member(v, id, &g, &m);
    }
    if (rc == SS_ENOMEM || (rc && rc != SS_ECORRUPT))
        return rc;
    v->r->locus_alerts += members ? members - 1 : 0; /* the entry is counted once already */
    if (rc)
        ssi_problem(v, "locus %s: a group (packet %llu) does not decode", id,
                    (unsigned long long)ss_be64_get((const unsigned char *)k->mv_data +
                                                    SS_LOCUS_ID_LEN + 8));
    return 0;
}

/* Each locus: decodable; num_alerts equals its locus_alerts (forced measurements apart: they are
 * not alerts); indexed in sky at its position. */
static int ssi_check_locus(ssi_verify *v, const MDB_val *k, const MDB_val *d, MDB_cursor *la)
{
    ss_locus l;
    char id[SS_LOCUS_ID_LEN + 1];
    snprintf(id, sizeof id, "%.*s", (int)k->mv_size, (char *)k->mv_data);
    if (k->mv_size != SS_LOCUS_ID_LEN || ssi_locus_decode(d->mv_data, d->mv_size, &l)) {
        ssi_problem(v, "locus %s: record does not decode", id);
        return 0;
    }
    uint64_t n = 0;
    MDB_val lk = {SS_LOCUS_ID_LEN, id}, ld;
    int rc = mdb_cursor_get(la, &lk, &ld, MDB_SET_RANGE);
    for (; rc == 0 && memcmp(lk.mv_data, id, SS_LOCUS_ID_LEN) == 0;
         rc = mdb_cursor_get(la, &lk, &ld, MDB_NEXT)) {
        if (ssi_key_is_group(&lk)) {
            if ((rc = ssi_check_group(v, id, &lk, &ld, &n)))
                return rc;
            continue;
        }
        n += !ssi_entry_forced(&lk, &ld);
        if ((rc = ssi_check_single(v, id, &lk, &ld)))
            return rc;
    }
    if (n != l.num_alerts)
        ssi_problem(v, "locus %s: num_alerts %u but %llu alerts listed", id, l.num_alerts,
                    (unsigned long long)n);
    double at[2];
    int found = ssi_sky_find(v->t, id, l.ra, l.dec, at);
    if (found && found != SS_ENOTFOUND)
        return found;
    if (found)
        ssi_problem(v, "locus %s: not in the sky index near its position", id);
    else if (ss_sky_separation_deg(at[0], at[1], l.ra, l.dec) > SSI_SKY_SLACK_DEG * (1 + 1e-9))
        ssi_problem(v, "locus %s: in the sky index %.3f arcsec from its position", id,
                    ss_sky_separation_deg(at[0], at[1], l.ra, l.dec) * 3600);
    unsigned char kb[SSI_KEY_MAX];
    size_t kn = ssi_key_newest(kb, l.newest.mjd, id);
    if (v->s->has_search && !ssi_has(v, v->s->loci_newest, kb, kn))
        ssi_problem(v, "locus %s: not in loci_newest at its newest MJD %.6f", id, l.newest.mjd);
    return rc && rc != MDB_NOTFOUND ? rc : 0;
}

typedef int (*ssi_visit)(ssi_verify *v, const MDB_val *k, const MDB_val *d, MDB_cursor *aux);

static int ssi_walk(ssi_verify *v, MDB_dbi dbi, MDB_dbi aux_dbi, ssi_visit visit)
{
    MDB_cursor *cur, *aux;
    MDB_val k, d;
    int rc = mdb_cursor_open(v->txn, dbi, &cur);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(v->txn, aux_dbi, &aux))) {
        mdb_cursor_close(cur);
        return rc;
    }
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
        if ((rc = visit(v, &k, &d, aux)))
            break;
    mdb_cursor_close(aux);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int ssi_visit_alert(ssi_verify *v, const MDB_val *k, const MDB_val *d, MDB_cursor *aux)
{
    (void)aux;
    return ssi_check_alert(v, k, d);
}

/* Each locus_matches entry (locus id, catalog id) has its reverse in catalog_loci. */
static int ssi_check_match(ssi_verify *v, const MDB_val *k, const MDB_val *d, MDB_cursor *aux)
{
    (void)d, (void)aux;
    unsigned char kb[8 + SS_LOCUS_ID_LEN];
    if (k->mv_size != sizeof kb) {
        ssi_problem(v, "locus_matches: a key of %zu bytes", k->mv_size);
        return 0;
    }
    memcpy(kb, (const unsigned char *)k->mv_data + SS_LOCUS_ID_LEN, 8);
    memcpy(kb + 8, k->mv_data, SS_LOCUS_ID_LEN);
    if (!ssi_has(v, v->s->catalog_loci, kb, sizeof kb))
        ssi_problem(v, "locus %.*s: matched in catalog %llu but missing from catalog_loci",
                    SS_LOCUS_ID_LEN, (const char *)k->mv_data, (unsigned long long)ss_be64_get(kb));
    return 0;
}

/* Format 6's indexes: every entry checked above, so equal sizes leave no entry of their own. */
static void ssi_check_search_counts(ssi_verify *v)
{
    ss_verify_report *r = v->r;
    if (r->newest_entries != r->loci)
        ssi_problem(v, "loci_newest has %llu entries for %llu loci",
                    (unsigned long long)r->newest_entries, (unsigned long long)r->loci);
    if (r->catalog_loci != r->locus_matches)
        ssi_problem(v, "catalog_loci has %llu entries for %llu in locus_matches",
                    (unsigned long long)r->catalog_loci, (unsigned long long)r->locus_matches);
}

static void ssi_check_counts(ssi_verify *v, const ss_store_counters *c)
{
    ss_verify_report *r = v->r;
    if (c->alerts != r->alerts)
        ssi_problem(v, "counters: %llu alerts counted, %llu stored", (unsigned long long)c->alerts,
                    (unsigned long long)r->alerts);
    if (c->loci != r->loci)
        ssi_problem(v, "counters: %llu loci counted, %llu stored", (unsigned long long)c->loci,
                    (unsigned long long)r->loci);
    if (r->locus_alerts != r->alerts)
        ssi_problem(v, "locus_alerts has %llu entries for %llu alerts",
                    (unsigned long long)r->locus_alerts, (unsigned long long)r->alerts);
    if (v->s->has_cutouts && c->cutouts != r->cutouts)
        ssi_problem(v, "counters: %llu cutouts counted, %llu stored",
                    (unsigned long long)c->cutouts, (unsigned long long)r->cutouts);
    if (r->sky_entries != r->loci)
        ssi_problem(v, "sky index has %llu entries for %llu loci",
                    (unsigned long long)r->sky_entries, (unsigned long long)r->loci);
    if (v->s->has_search)
        ssi_check_search_counts(v);
}

/* The counts and walks of format 6's indexes (none before). */
static int ssi_verify_search(ssi_verify *v)
{
    ss_store *s = v->s;
    int rc;
    if (!s->has_search)
        return 0;
    if ((rc = ssi_count(v->txn, s->loci_newest, &v->r->newest_entries)) ||
        (rc = ssi_count(v->txn, s->catalog_loci, &v->r->catalog_loci)) ||
        (rc = ssi_count(v->txn, s->locus_matches, &v->r->locus_matches)))
        return rc;
    return ssi_walk(v, s->locus_matches, s->catalog_loci, ssi_check_match);
}

/* Each chunk in the stamps file lies inside it, after the one before and by the committed end,
 * and the file holds its head where the table says. */
static int ssi_verify_chunks(ssi_verify *v)
{
    MDB_cursor *cur;
    MDB_val k, d;
    uint64_t end, next = 0, size, allocated;
    const char *why;
    int rc = v->s->has_stamps ? ssi_chunks_end(v->t, &end) : MDB_NOTFOUND;
    if (!rc)
        rc = ssi_stamps_file_stat(v->s, &size, &allocated); /* 0 bytes when it is missing */
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if ((rc = mdb_cursor_open(v->txn, v->s->stamps, &cur)))
        return rc;
    for (MDB_cursor_op op = MDB_FIRST; !(rc = mdb_cursor_get(cur, &k, &d, op)); op = MDB_NEXT)
        if (ssi_chunk_check(v->s, &d, end, size, &next, &why))
            ssi_problem(v, "stamps chunk %llu: %s",
                        k.mv_size == 8 ? (unsigned long long)ss_be64_get(k.mv_data) : 0ULL, why);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Format 17: each object's list of limits decodes; the limits listed count among the alerts. */
static int ssi_count_limits(ssi_verify *v)
{
    MDB_cursor *cur;
    MDB_val k, d;
    if (!v->s->has_limits)
        return 0;
    int rc = mdb_cursor_open(v->txn, v->s->limits, &cur);
    if (rc)
        return rc;
    for (MDB_cursor_op op = MDB_FIRST; !(rc = mdb_cursor_get(cur, &k, &d, op)); op = MDB_NEXT) {
        size_t n;
        if (ssi_limits_len(&d, &n))
            ssi_problem(v, "limits %.*s: list does not decode", (int)strnlen(k.mv_data, k.mv_size),
                        (char *)k.mv_data);
        else
            v->r->limits += n;
    }
    mdb_cursor_close(cur);
    v->r->alerts += v->r->limits;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The second pass, when the tables' counts disagree: each member reference looked for in its
 * group, so that one its group lacks is named. */
static int ssi_verify_deep(ssi_verify *v)
{
    if (v->r->locus_alerts == v->r->alerts)
        return 0;
    v->deep = 1;
    return ssi_walk(v, v->s->alerts, v->s->alerts, ssi_visit_alert);
}

static void ssi_zrec_problem(void *ctx, const char *text)
{
    ssi_problem(ctx, "%s", text);
}

int ss_store_verify(ss_store *s, FILE *problems, ss_verify_report *report, ss_err *err)
{
    memset(report, 0, sizeof *report);
    ssi_verify v = {.s = s, .out = problems, .r = report, .pkt = ss_packet_new()};
    ss_store_counters c;
    int rc = v.pkt ? ss_store_txn_begin(s, SS_STORE_READ, &v.t) : SS_ENOMEM;
    if (rc) {
        ss_packet_free(v.pkt);
        return ss_store_fail(s, err, rc, "verify");
    }
    v.txn = v.t->txn;
    if (!(rc = ssi_counters_load(s, v.txn, &c)) &&
        !(rc = ssi_count(v.txn, s->alerts, &report->alerts)) && !(rc = ssi_count_limits(&v)) &&
        !(rc = ssi_count(v.txn, s->loci, &report->loci)) &&
        !(rc = ssi_count(v.txn, s->locus_alerts, &report->locus_alerts)) &&
        !(rc = ssi_count(v.txn, s->sky, &report->sky_entries)) &&
        !(rc = s->has_cutouts ? ssi_count_stamps(&v, &report->cutouts) : 0) &&
        !(rc = ssi_verify_chunks(&v)) &&
        !(rc = ssi_walk(&v, s->alerts, s->alerts, ssi_visit_alert)) &&
        !(rc = ssi_walk(&v, s->loci, s->locus_alerts, ssi_check_locus)) &&
        !(rc = ssi_zrec_verify(v.t, ssi_zrec_problem, &v)) && !(rc = ssi_verify_search(&v)))
        rc = ssi_verify_deep(&v);
    if (!rc)
        ssi_check_counts(&v, &c);
    ss_store_txn_abort(v.t);
    ss_packet_free(v.pkt);
    return rc ? ss_store_fail(s, err, rc, "verify") : 0;
}
