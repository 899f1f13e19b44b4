/* A packet's measurements of one locus as one locus_alerts entry (store format 16).
 *
 * A ZTF alert brings its primary and twenty or so history entries; stored one entry each, with a
 * key of about fifty bytes and a record compressed on its own, they took 9.0 kB an alert of
 * locus_alerts (bench_avro, 200,024 ZTF alerts, every history entry new). One entry a packet,
 * compressed as one frame with a dictionary trained on groups, takes 2.8 kB: a packet's rows
 * repeat one another far more than one row repeats a dictionary. A light curve is read a packet
 * at a time, and the writer makes one put a packet where it made one an alert.
 *
 * Key: the locus id, eight 0xff bytes (where a single entry has its MJD's bits; no MJD has those
 * of this NaN) and the packet number BE: a locus's groups sort after its single entries, in
 * arrival order. Value: version 9, the member count and the count of members gone (varints), the
 * gone members' indexes in their packet (varints, ascending), then the members; version 10 has
 * the members compressed as zrec.c compresses a record's lists (the dictionary's number, the
 * plain length, the zstd frame), with the survey's group dictionary ("g" in zdict). A member:
 * survey and alert id (vstr), MJD (f64), its index in the packet (varint), a u32 length and its
 * record of version 7 with arrival and history lead 0: the key holds the packet.
 *
 * A member is never an upgraded alert: an upgrade moves its measurement to an entry of its own
 * and lists it as gone here, which rewrites the head and leaves the members' bytes, compressed or
 * not, as they are (ELAsTiCC's order upgrades most of its history entries: recompressing the
 * group each time took half of its writing thread). Readers skip the members gone. Each member's
 * alerts table value is a reference of its own version naming the locus and packet. */
#include "store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SSI_GROUP_VERSION   9
#define SSI_GROUP_SQUEEZED  10
#define SSI_GROUP_MARK_BYTE 0xff

size_t ssi_key_group(unsigned char *k, const char *locus_id, uint64_t packet)
{
    memcpy(k, locus_id, SS_LOCUS_ID_LEN);
    memset(k + SS_LOCUS_ID_LEN, SSI_GROUP_MARK_BYTE, 8);
    ss_be64_put(k + SS_LOCUS_ID_LEN + 8, packet);
    return SS_LOCUS_ID_LEN + 16;
}

int ssi_key_is_group(const MDB_val *k)
{
    static const unsigned char mark[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    return k->mv_size == SS_LOCUS_ID_LEN + 16 &&
           !memcmp((const unsigned char *)k->mv_data + SS_LOCUS_ID_LEN, mark, 8);
}

/* ---- reading ---- */

/* A group's head: version, counts, the gone members' list; *@p body where the members start. */
typedef struct ssi_ghead {
    uint8_t version;
    uint64_t n, gone;
    ss_rbuf list; /* the gone indexes */
} ssi_ghead;

static int ssi_ghead_read(const MDB_val *v, ssi_ghead *h, ss_rbuf *body)
{
    ss_rbuf r = {v->mv_data, (const unsigned char *)v->mv_data + v->mv_size, 0};
    h->version = ss_rbuf_u8(&r);
    h->n = ss_rbuf_uvar(&r);
    h->gone = ss_rbuf_uvar(&r);
    h->list = r;
    uint64_t last = 0;
    for (uint64_t i = 0; i < h->gone && !r.bad; i++) {
        uint64_t at = ss_rbuf_uvar(&r);
        r.bad |= i && at <= last; /* ascending, each once */
        last = at;
    }
    h->list.end = r.p;
    *body = r;
    if (r.bad || (h->version != SSI_GROUP_VERSION && h->version != SSI_GROUP_SQUEEZED) ||
        h->gone >= h->n)
        return SS_ECORRUPT;
    return 0;
}

/* The next gone index of @p g's list (UINT64_MAX past the last). */
static void ssi_gone_next(ssi_members *g)
{
    g->next_gone = g->gone.p < g->gone.end ? ss_rbuf_uvar(&g->gone) : UINT64_MAX;
}

int ssi_members_open(ss_store_txn *t, const MDB_val *k, const MDB_val *v, ssi_members *g)
{
    ssi_ghead h;
    if (!ssi_key_is_group(k) || ssi_ghead_read(v, &h, &g->r))
        return SS_ECORRUPT;
    g->locus = k->mv_data;
    g->packet = ss_be64_get((const unsigned char *)k->mv_data + SS_LOCUS_ID_LEN + 8);
    g->n = g->left = h.n;
    g->live = h.n - h.gone;
    g->gone = h.list;
    ssi_gone_next(g);
    return h.version == SSI_GROUP_SQUEEZED ? ssi_zrec_expand(t, &g->r) : 0;
}

/* The next member, gone or not. @return 1, 0 after the last, SS_ECORRUPT. */
static int ssi_member_read(ssi_members *g, ssi_member *m)
{
    if (!g->left)
        return g->r.p == g->r.end ? 0 : SS_ECORRUPT;
    g->left--;
    m->survey = ss_rbuf_vstr(&g->r, &m->slen);
    m->alert_id = ss_rbuf_vstr(&g->r, &m->idlen);
    m->mjd = ss_rbuf_f64(&g->r);
    uint64_t index = ss_rbuf_uvar(&g->r);
    m->len = ss_rbuf_u32(&g->r);
    m->rec = g->r.p;
    if (g->r.bad || !m->survey || !m->alert_id || m->slen > SS_SURVEY_MAX || m->idlen > SS_ID_MAX ||
        index > UINT32_MAX || m->len > (size_t)(g->r.end - g->r.p) ||
        !ssi_alert_keyed(m->rec, m->len))
        return SS_ECORRUPT;
    m->index = (uint32_t)index;
    g->r.p += m->len;
    return 1;
}

int ssi_members_next(ssi_members *g, ssi_member *m)
{
    int rc;
    while ((rc = ssi_member_read(g, m)) == 1) {
        while (g->next_gone < m->index) /* members and list ascend alike */
            ssi_gone_next(g);
        if (m->index != g->next_gone)
            break;
        ssi_gone_next(g);
    }
    return rc;
}

MDB_val ssi_member_key(const ssi_members *g, const ssi_member *m, unsigned char *kb)
{
    uint64_t bits;
    memcpy(kb, g->locus, SS_LOCUS_ID_LEN);
    memcpy(&bits, &m->mjd, sizeof bits);
    ss_be64_put(kb + SS_LOCUS_ID_LEN, bits);
    unsigned char *p = kb + SS_LOCUS_ID_LEN + 8;
    memcpy(p, m->survey, m->slen);
    p[m->slen] = '\0';
    memcpy(p + m->slen + 1, m->alert_id, m->idlen);
    return (MDB_val){SS_LOCUS_ID_LEN + 8 + m->slen + 1 + m->idlen, kb};
}

int ssi_member_decode(ss_store_txn *t, const ssi_members *g, const ssi_member *m, ss_packet *pkt,
                      ss_alert *a)
{
    unsigned char kb[SSI_KEY_MAX];
    char locus[SS_LOCUS_ID_LEN + 1];
    MDB_val key = ssi_member_key(g, m, kb);
    int rc = ssi_alert_decode(t, m->rec, m->len, &key, pkt, a, locus);
    a->arrival = g->packet;
    return rc;
}

/* Whether member @p m is @p survey's alert @p alert_id. */
static int ssi_member_is(const ssi_member *m, const char *survey, const char *alert_id)
{
    return m->slen == strlen(survey) && m->idlen == strlen(alert_id) &&
           !memcmp(m->survey, survey, m->slen) && !memcmp(m->alert_id, alert_id, m->idlen);
}

/* The group entry of @p locus_id and @p packet, its members open in @p g. */
static int ssi_group_open(ss_store_txn *t, const char *locus_id, uint64_t packet, unsigned char *gk,
                          ssi_members *g)
{
    MDB_val k = {ssi_key_group(gk, locus_id, packet), gk}, v;
    int rc = mdb_get(t->txn, t->s->locus_alerts, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
    return ssi_members_open(t, &k, &v, g);
}

int ssi_group_lookup(ss_store_txn *t, const char *locus_id, uint64_t packet, const char *survey,
                     const char *alert_id, MDB_val *rec, MDB_val *key, unsigned char *kb)
{
    unsigned char gk[SSI_KEY_MAX];
    ssi_members g;
    ssi_member m;
    int rc = ssi_group_open(t, locus_id, packet, gk, &g);
    if (rc)
        return rc;
    while ((rc = ssi_members_next(&g, &m)) == 1) {
        if (!ssi_member_is(&m, survey, alert_id))
            continue;
        *rec = (MDB_val){m.len, (void *)m.rec};
        *key = ssi_member_key(&g, &m, kb);
        return 0;
    }
    return rc ? rc : SS_ECORRUPT; /* the reference names a member its group lacks */
}

int ssi_group_read(ss_store_txn *t, const MDB_val *k, const MDB_val *v, ss_packet *pkt)
{
    ssi_members g;
    ssi_member m;
    int rc = ssi_members_open(t, k, v, &g);
    while (!rc && (rc = ssi_members_next(&g, &m)) == 1) {
        ss_alert *a = ss_packet_add(pkt);
        rc = a ? ssi_member_decode(t, &g, &m, pkt, a) : SS_ENOMEM; /* 0: on to the next */
    }
    return rc;
}

/* ---- writing ---- */

size_t ssi_group_head(ss_wbuf *b, uint64_t n)
{
    ss_wbuf_u8(b, SSI_GROUP_VERSION);
    ss_wbuf_uvar(b, n);
    ss_wbuf_uvar(b, 0); /* none gone */
    return b->len;
}

void ssi_group_squeezed(ss_wbuf *b, size_t at)
{
    if (!b->failed)
        b->data[at] = SSI_GROUP_SQUEEZED;
}

size_t ssi_member_open(ss_wbuf *b, const ss_alert *a)
{
    ss_wbuf_vstr(b, a->survey, strlen(a->survey));
    ss_wbuf_vstr(b, a->alert_id, strlen(a->alert_id));
    ss_wbuf_f64(b, a->mjd);
    ss_wbuf_uvar(b, a->arrival_index);
    ss_wbuf_u32(b, 0);
    return b->len;
}

void ssi_member_close(ss_wbuf *b, size_t at)
{
    uint32_t len = (uint32_t)(b->len - at);
    if (!b->failed)
        memcpy(b->data + at - sizeof len, &len, sizeof len);
}

/* Start a group entry in t->gbuf. @return where the members start. */
static size_t ssi_group_start(ss_store_txn *t, uint64_t n)
{
    ss_wbuf_reset(&t->gbuf);
    return ssi_group_head(&t->gbuf, n);
}

/* A member of the writer's, appended to t->gbuf. */
static int ssi_member_put(ss_store_txn *t, const ss_alert *a, const ss_prop *survey_locus,
                          uint32_t nsurvey_locus)
{
    size_t at = ssi_member_open(&t->gbuf, a);
    int rc = ssi_member_pack(t, a, survey_locus, nsurvey_locus, &t->gbuf);
    ssi_member_close(&t->gbuf, at);
    return rc;
}

/* A member as read, copied into t->gbuf as it is. */
static void ssi_member_copy(ss_store_txn *t, const ssi_member *m)
{
    ss_wbuf *b = &t->gbuf;
    ss_wbuf_vstr(b, m->survey, m->slen);
    ss_wbuf_vstr(b, m->alert_id, m->idlen);
    ss_wbuf_f64(b, m->mjd);
    ss_wbuf_uvar(b, m->index);
    ss_wbuf_u32(b, m->len);
    ss_wbuf_bytes(b, m->rec, m->len);
}

/* Compress t->gbuf's members (from @p at) with @p survey's group dictionary when shorter (until
 * it has one, they are samples to train it on). */
static int ssi_group_squeeze(ss_store_txn *t, const char *survey, size_t at)
{
    int squeezed = 0;
    int rc = ssi_zrec_squeeze2(t, 'g', survey, &t->gbuf, at, &squeezed);
    if (!rc && squeezed)
        ssi_group_squeezed(&t->gbuf, 0);
    return rc ? rc : t->gbuf.failed ? SS_ENOMEM : 0;
}

int ss_store_group_begin(ss_store_txn *t, const char *locus_id, uint64_t packet)
{
    ssi_group *g = &t->group;
    if (!t->write || !packet)
        return SS_EINVAL;
    memcpy(g->locus, locus_id, SS_LOCUS_ID_LEN);
    g->packet = packet;
    g->n = 0;
    g->survey_locus = NULL;
    g->nsurvey_locus = 0;
    g->open = 1;
    return 0;
}

/* Member @p a of the group of @p locus indexed by its id: a reference naming the group. @return 0,
 * EEXIST when its id is stored already, or an LMDB code. */
static int ssi_member_index(ss_store_txn *t, const ss_alert *a, const char *locus)
{
    unsigned char kb[SSI_KEY_MAX], ref[SSI_MEMBER_REF_MAX];
    ss_store_alert_head h = {
        .kind = a->kind, .mjd = a->mjd, .arrival = a->arrival, .arrival_index = a->arrival_index};
    memcpy(h.locus_id, locus, SS_LOCUS_ID_LEN);
    MDB_val k = {ssi_key_alert(kb, a->survey, a->alert_id), kb};
    MDB_val v = {ssi_alert_ref_encode2(&h, 1, ref), ref};
    int rc = mdb_put(t->txn, t->s->alerts, &k, &v, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? EEXIST : rc;
}

int ss_store_group_add(ss_store_txn *t, const ss_alert *a, const ss_prop *survey_locus,
                       uint32_t nsurvey_locus)
{
    ssi_group *g = &t->group;
    ss_store_counters *c = ssi_counters_w(t);
    if (!c)
        return SS_ECORRUPT;
    /* ascending indexes: a gone member is skipped by walking the two lists together */
    if (!g->open || a->arrival != g->packet || a->history_lead ||
        (g->n && a->arrival_index <= g->a[g->n - 1].arrival_index))
        return SS_EINVAL;
    ss_alert *grown = ssi_grow(g->a, &g->cap, g->n, sizeof *g->a, 32);
    if (!grown)
        return SS_ENOMEM;
    g->a = grown;
    int rc = ssi_limit_listed(t->s, a) ? ssi_limit_add(t, a) : ssi_member_index(t, a, g->locus);
    if (rc)
        return rc;
    g->a[g->n++] = *a;
    if (nsurvey_locus && !g->survey_locus)
        g->survey_locus = survey_locus, g->nsurvey_locus = nsurvey_locus;
    ssi_count_alert(c, a);
    return ssi_index_object(t, a, g->locus);
}

/* The early group @p ls holds as item @p index, when it holds exactly the members taken. */
static int ssi_group_early(const ssi_group *g, const ss_store_lists *ls, uint32_t index, MDB_val *v)
{
    const void *bytes;
    const uint32_t *indexes;
    size_t len;
    uint32_t members;
    if (!ls || ssi_lists_group_get(ls, index, &bytes, &len, &members, &indexes) != 1 ||
        members != g->n)
        return 0;
    for (uint32_t i = 0; i < members; i++)
        if (indexes[i] != g->a[i].arrival_index)
            return 0;
    *v = (MDB_val){len, (void *)bytes};
    return 1;
}

int ss_store_group_end(ss_store_txn *t, const ss_store_lists *ls, uint32_t index)
{
    ssi_group *g = &t->group;
    if (!g->open)
        return SS_EINVAL;
    g->open = 0;
    if (!g->n)
        return 0;
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_group(kb, g->locus, g->packet), kb}, v;
    int rc = 0;
    if (!ssi_group_early(g, ls, index, &v)) {
        size_t at = ssi_group_start(t, g->n);
        for (uint32_t i = 0; i < g->n && !rc; i++)
            rc = ssi_member_put(t, &g->a[i], g->a[i].arrival_index ? NULL : g->survey_locus,
                                g->a[i].arrival_index ? 0 : g->nsurvey_locus);
        if (!rc)
            rc = ssi_group_squeeze(t, g->a[0].survey, at);
        v = (MDB_val){t->gbuf.len, t->gbuf.data};
    }
    if (!rc)
        rc = mdb_put(t->txn, t->s->locus_alerts, &k, &v, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? SS_ECORRUPT : rc; /* one entry a packet and locus */
}

int ssi_group_drop(ss_store_txn *t, const char *locus_id, uint64_t packet, uint32_t index)
{
    unsigned char gk[SSI_KEY_MAX];
    MDB_val k = {ssi_key_group(gk, locus_id, packet), gk}, v;
    ssi_ghead h;
    ss_rbuf body;
    int rc = mdb_get(t->txn, t->s->locus_alerts, &k, &v);
    if (rc || (rc = ssi_ghead_read(&v, &h, &body)))
        return rc == MDB_NOTFOUND ? SS_ECORRUPT : rc;
    if (h.gone + 1 == h.n) { /* its last member */
        rc = mdb_del(t->txn, t->s->locus_alerts, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    ss_wbuf *b = &t->gbuf;
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, h.version);
    ss_wbuf_uvar(b, h.n);
    ss_wbuf_uvar(b, h.gone + 1);
    int placed = 0;
    for (uint64_t i = 0; i < h.gone; i++) {
        uint64_t at = ss_rbuf_uvar(&h.list);
        if (at == index)
            return SS_ECORRUPT; /* gone already */
        if (at > index && !placed)
            ss_wbuf_uvar(b, index), placed = 1;
        ss_wbuf_uvar(b, at);
    }
    if (!placed)
        ss_wbuf_uvar(b, index);
    ss_wbuf_bytes(b, body.p, (size_t)(body.end - body.p));
    MDB_val nv = {b->len, b->data};
    return b->failed ? SS_ENOMEM : mdb_put(t->txn, t->s->locus_alerts, &k, &nv, 0);
}

/* Member @p m of @p g without its survey properties, appended to t->gbuf. *@p dropped 1 when it
 * had any. */
static int ssi_member_trim(ss_store_txn *t, const ssi_members *g, const ssi_member *m,
                           ss_packet *scratch, uint64_t *dropped)
{
    unsigned char kb[SSI_KEY_MAX];
    MDB_val key = ssi_member_key(g, m, kb);
    ss_prop *sl;
    uint32_t nsl;
    ss_packet_reset(scratch);
    ss_alert *a = ss_packet_add(scratch);
    int rc = a ? ssi_member_decode(t, g, m, scratch, a) : SS_ENOMEM;
    if (!rc)
        rc = ssi_alert_survey_locus(t, m->rec, m->len, &key, scratch->arena, &sl, &nsl);
    if (rc)
        return rc;
    if (!a->nprops && !nsl) {
        ssi_member_copy(t, m);
        return 0;
    }
    a->nprops = 0;
    ++*dropped;
    return ssi_member_put(t, a, NULL, 0);
}

int ssi_group_retain(ss_store_txn *t, const MDB_val *k, const MDB_val *v, double cutoff,
                     ss_packet *scratch, uint64_t *dropped)
{
    ssi_members g;
    ssi_member m;
    char survey[SS_SURVEY_MAX + 1] = "";
    *dropped = 0;
    int rc = ssi_members_open(t, k, v, &g);
    if (rc)
        return rc;
    /* members are read from the expanded group (t->zplain) and built into t->gbuf: only the
     * squeeze at the end writes zplain again, after the last member is copied. The gone ones
     * are left out. */
    size_t at = ssi_group_start(t, g.live);
    while ((rc = ssi_members_next(&g, &m)) == 1) {
        if (!survey[0])
            memcpy(survey, m.survey, m.slen), survey[m.slen] = '\0';
        int trimmed = m.mjd < cutoff ? ssi_member_trim(t, &g, &m, scratch, dropped) : 0;
        if (trimmed)
            return trimmed;
        if (!(m.mjd < cutoff))
            ssi_member_copy(t, &m);
    }
    if (rc || !*dropped)
        return rc;
    return ssi_group_squeeze(t, survey, at);
}

int ssi_group_repack(ss_store_txn *t, const MDB_val *k, const MDB_val *v, int *done)
{
    ssi_ghead h;
    ss_rbuf body;
    ssi_members g;
    ssi_member m;
    *done = 0;
    if (ssi_ghead_read(v, &h, &body) || h.version != SSI_GROUP_VERSION)
        return 0; /* compressed already, or damaged (verify's business) */
    int rc = ssi_members_open(t, k, v, &g);
    if (rc || (rc = ssi_member_read(&g, &m)) != 1) /* the first, gone or not, names the survey */
        return rc ? rc : SS_ECORRUPT;
    char survey[SS_SURVEY_MAX + 1];
    memcpy(survey, m.survey, m.slen), survey[m.slen] = '\0';
    ss_wbuf_reset(&t->gbuf);
    ss_wbuf_bytes(&t->gbuf, v->mv_data, v->mv_size);
    rc = ssi_group_squeeze(t, survey, (size_t)(body.p - (const unsigned char *)v->mv_data));
    *done = !rc && t->gbuf.data[0] == SSI_GROUP_SQUEEZED;
    return rc;
}
