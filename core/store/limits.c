/* Upper limits listed under their object (format 17).
 *
 * A ZTF alert repeats thirty days of its object's history, and most of it is upper limits: 60% of
 * the ids a ZTF store indexed were "ul-OBJECT-EXPOSURE", each an alerts-table entry of about 145
 * bytes (key, reference, node, page slack) for a measurement its group holds in 40. Such a limit is
 * only ever asked about as a history entry of its own object (is it stored yet?), so it is listed
 * there instead: the limits table maps the object (object_id NUL survey, the objects table's key)
 * to the sorted 64-bit hashes of its limits' ids, 8 bytes a limit. The measurement itself stays in
 * its group.
 *
 * Only a limit whose id names its object (ZTF's do, between dashes) is listed: looked up by its id
 * (the API's /alerts/ztf_upper_limit:…), it is found by trying the spans of its id between
 * separators as object ids, then walking that object's loci's groups. Slower than an index, and
 * only for a reader asking by id; recognising a limit while ingesting never walks.
 *
 * Two ids of one object hashing alike would make the second look stored: with n limits an object,
 * about n^2 / 2^65 (3 x 10^-12 for ten thousand). Objects do not share lists, so the store's size
 * does not enter. */
#include "store_impl.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define SSI_LIMITS_VERSION 1
#define SSI_LIMIT_LEN      8

/* FNV-1a, 64 bits: part of the format (the hashes are stored), so never changed in place. */
static uint64_t ssi_limit_hash(const char *alert_id)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *p = (const unsigned char *)alert_id; *p; p++)
        h = (h ^ *p) * 0x100000001b3u;
    return h;
}

/* Whether a span of @p id may start at @p i: at the start, or after a separator (a character that
 * is not a letter or digit). */
static int ssi_span_starts(const char *id, size_t i)
{
    return i == 0 || !isalnum((unsigned char)id[i - 1]);
}

/* Whether a span of @p id may end before @p j: at the end (its NUL), or before a separator. */
static int ssi_span_ends(const char *id, size_t j)
{
    return !isalnum((unsigned char)id[j]);
}

/* Whether @p object_id is a span of @p alert_id between separators. */
static int ssi_id_names_object(const char *alert_id, const char *object_id)
{
    size_t on = strlen(object_id);
    for (const char *at = alert_id; (at = strstr(at, object_id)); at++) {
        size_t i = (size_t)(at - alert_id);
        if (ssi_span_starts(alert_id, i) && ssi_span_ends(alert_id, i + on))
            return 1;
    }
    return 0;
}

/* The limits key of @p object_id of @p survey into @p kb; 0 when either is longer than any stored
 * (ingest refuses such ids). */
static size_t ssi_limits_key(unsigned char kb[SSI_KEY_MAX], const char *object_id,
                             const char *survey)
{
    if (strlen(object_id) > SS_ID_MAX || strlen(survey) > SS_SURVEY_MAX)
        return 0;
    return ssi_key_object(kb, object_id, survey);
}

int ssi_limit_listed(const ss_store *s, const ss_alert *a)
{
    return s->has_limits && a->kind == SS_ALERT_UPPER_LIMIT && a->object_id && *a->object_id &&
           ssi_id_names_object(a->alert_id, a->object_id);
}

/* The list under key @p k into *@p v and its length into *@p n. @return 0, MDB_NOTFOUND,
 * SS_ECORRUPT (not a list of this format) or an LMDB code. */
static int ssi_limits_read(ss_store_txn *t, MDB_val *k, MDB_val *v, size_t *n)
{
    int rc = mdb_get(t->txn, t->s->limits, k, v);
    return rc ? rc : ssi_limits_len(v, n);
}

/* The place of @p h in the @p n sorted hashes at @p p (the first not below it); *@p found 1 when
 * it is there. */
static size_t ssi_limits_search(const unsigned char *p, size_t n, uint64_t h, int *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ss_be64_get(p + mid * SSI_LIMIT_LEN) < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n && ss_be64_get(p + lo * SSI_LIMIT_LEN) == h;
    return lo;
}

/* Whether limit @p a is listed: 0, SS_ENOTFOUND or an error. A store upgraded from before format
 * 17 indexed its older limits by id, so one not listed is looked for there too. */
static int ssi_limit_find(ss_store_txn *t, const ss_alert *a, size_t *at, MDB_val *v, size_t *n)
{
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_limits_key(kb, a->object_id, a->survey), kb};
    int found = 0, rc = k.mv_size ? ssi_limits_read(t, &k, v, n) : MDB_NOTFOUND;
    *at = 0;
    if (rc == MDB_NOTFOUND)
        *n = 0, *v = (MDB_val){0, NULL};
    else if (rc)
        return rc;
    else
        *at = ssi_limits_search((const unsigned char *)v->mv_data + 1, *n,
                                ssi_limit_hash(a->alert_id), &found);
    if (found)
        return 0;
    return t->s->limits_indexed ? ssi_alert_indexed(t, a->survey, a->alert_id, NULL) : SS_ENOTFOUND;
}

int ssi_limit_add(ss_store_txn *t, const ss_alert *a)
{
    MDB_val v;
    size_t at, n;
    int rc = ssi_limit_find(t, a, &at, &v, &n);
    if (rc != SS_ENOTFOUND)
        return rc ? rc : EEXIST;
    /* copied before the put: v points into a page the put may move */
    const unsigned char *old = v.mv_data;
    ss_wbuf *b = &t->lbuf;
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, SSI_LIMITS_VERSION);
    if (n)
        ss_wbuf_bytes(b, old + 1, at * SSI_LIMIT_LEN);
    unsigned char h[SSI_LIMIT_LEN];
    ss_be64_put(h, ssi_limit_hash(a->alert_id));
    ss_wbuf_bytes(b, h, sizeof h);
    if (n)
        ss_wbuf_bytes(b, old + 1 + at * SSI_LIMIT_LEN, (n - at) * SSI_LIMIT_LEN);
    if (b->failed)
        return SS_ENOMEM;
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_limits_key(kb, a->object_id, a->survey), kb}, nv = {b->len, b->data};
    return k.mv_size ? mdb_put(t->txn, t->s->limits, &k, &nv, 0) : SS_EINVAL;
}

int ss_store_alert_known(ss_store_txn *t, const ss_alert *a)
{
    if (!ssi_limit_listed(t->s, a))
        return ssi_alert_indexed(t, a->survey, a->alert_id, NULL);
    MDB_val v;
    size_t at, n;
    return ssi_limit_find(t, a, &at, &v, &n);
}

int ssi_limits_len(const MDB_val *v, size_t *n)
{
    const unsigned char *p = v->mv_data;
    if (v->mv_size < 1 || p[0] != SSI_LIMITS_VERSION || (v->mv_size - 1) % SSI_LIMIT_LEN)
        return SS_ECORRUPT;
    *n = (v->mv_size - 1) / SSI_LIMIT_LEN;
    return 0;
}

/* The group of locus @p locus holding member @p alert_id of @p survey: its packet into *@p packet.
 * @return 0, SS_ENOTFOUND or an error. */
static int ssi_limit_group(ss_store_txn *t, const char *locus, const char *survey,
                           const char *alert_id, uint64_t *packet)
{
    MDB_cursor *cur;
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_key_group(kb, locus, 0), kb}, v;
    size_t sn = strlen(survey), idn = strlen(alert_id);
    int rc = mdb_cursor_open(t->txn, t->s->locus_alerts, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         !rc && k.mv_size > SS_LOCUS_ID_LEN && !memcmp(k.mv_data, locus, SS_LOCUS_ID_LEN);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ssi_members g;
        ssi_member m;
        if ((rc = ssi_members_open(t, &k, &v, &g)))
            break;
        while ((rc = ssi_members_next(&g, &m)) == 1)
            if (m.slen == sn && m.idlen == idn && !memcmp(m.survey, survey, sn) &&
                !memcmp(m.alert_id, alert_id, idn))
                break;
        if (rc == 1) {
            *packet = g.packet;
            break;
        }
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == 1 ? 0 : rc == 0 || rc == MDB_NOTFOUND ? SS_ENOTFOUND : rc;
}

/* What ssi_limit_in() looks for in each locus an object names. */
typedef struct ssi_limit_seek {
    ss_store_txn *t;
    const char *survey, *alert_id;
    char *locus;
    uint64_t *packet;
} ssi_limit_seek;

/* ss_store_object_fn: @return 1 when locus @p locus_id holds the limit, 0 to go on, or an error. */
static int ssi_limit_seek_locus(void *ctx, const char *survey, const char *locus_id)
{
    ssi_limit_seek *x = ctx;
    if (strcmp(survey, x->survey))
        return 0;
    int rc = ssi_limit_group(x->t, locus_id, x->survey, x->alert_id, x->packet);
    if (rc)
        return rc == SS_ENOTFOUND ? 0 : rc;
    memcpy(x->locus, locus_id, SS_LOCUS_ID_LEN + 1);
    return 1;
}

/* Limit @p alert_id (hash @p h) of @p survey listed under object @p object: its locus and packet.
 * @return 0, SS_ENOTFOUND or an error. */
static int ssi_limit_in(ss_store_txn *t, const char *survey, const char *object,
                        const char *alert_id, uint64_t h, char *locus, uint64_t *packet)
{
    unsigned char kb[SSI_KEY_MAX];
    MDB_val k = {ssi_limits_key(kb, object, survey), kb}, v;
    size_t n;
    int found = 0, rc = k.mv_size ? ssi_limits_read(t, &k, &v, &n) : MDB_NOTFOUND;
    if (!rc)
        ssi_limits_search((const unsigned char *)v.mv_data + 1, n, h, &found);
    if (rc || !found)
        return rc == MDB_NOTFOUND || !found ? SS_ENOTFOUND : rc;
    ssi_limit_seek x = {t, survey, alert_id, locus, packet};
    rc = ss_store_object_each(t, object, ssi_limit_seek_locus, &x);
    return rc == 1 ? 0 : rc ? rc : SS_ENOTFOUND;
}

int ssi_limit_locate(ss_store_txn *t, const char *survey, const char *alert_id, char *locus,
                     uint64_t *packet)
{
    char object[SS_ID_MAX + 1];
    size_t n = strlen(alert_id);
    uint64_t h = ssi_limit_hash(alert_id);
    if (!t->s->has_limits || n > SS_ID_MAX)
        return SS_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        if (!ssi_span_starts(alert_id, i))
            continue;
        for (size_t j = i + 1; j <= n; j++) {
            if (!ssi_span_ends(alert_id, j))
                continue;
            memcpy(object, alert_id + i, j - i);
            object[j - i] = '\0';
            int rc = ssi_limit_in(t, survey, object, alert_id, h, locus, packet);
            if (rc != SS_ENOTFOUND)
                return rc;
        }
    }
    return SS_ENOTFOUND;
}
