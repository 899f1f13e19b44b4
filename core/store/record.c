#include "store_impl.h"

/* Alert records: 1 ends at maglim; 2 adds flux and fluxerr (store format 3); 3 adds the arrival
 * (packet sequence, index in the packet) before the properties, and after them the survey's locus
 * properties the packet carried (primaries only; a count of 0 otherwise); 4 adds after the arrival
 * the history lead (u32) of a history entry upgraded by its own alert. All are read here; versions
 * 5 (store format 7) and 7 (format 9, in locus_alerts), the ones written now, are packed
 * (record_pack.c). */
#define SSI_ALERT_RECORD_VERSION 4
/* Format 9 keeps an alert's record in locus_alerts; the alerts table holds this reference of its
 * head instead (ssi_alert_ref_encode()). */
#define SSI_REF_VERSION 6
/* Format 16: the reference of a member of a group (group.c), whose arrival names the group. */
#define SSI_MEMBER_REF_VERSION 11
/* Locus records: 1; 2 adds the sequence of the last packet that changed the locus. */
#define SSI_LOCUS_RECORD_VERSION 2

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void ssi_ref_encode(const ss_alert_ref *ref, ss_wbuf *b)
{
    ss_wbuf_str(b, ref->alert_id);
    ss_wbuf_f64(b, ref->mjd);
    ss_wbuf_f64(b, ref->mag);
}

static void ssi_ref_decode(ss_rbuf *r, ss_alert_ref *ref)
{
    ss_rbuf_strcpy(r, ref->alert_id, sizeof ref->alert_id);
    ref->mjd = ss_rbuf_f64(r);
    ref->mag = ss_rbuf_f64(r);
}

void ssi_locus_encode(const ss_locus *l, ss_wbuf *b)
{
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, SSI_LOCUS_RECORD_VERSION);
    ss_wbuf_f64(b, l->ra);
    ss_wbuf_f64(b, l->dec);
    ss_wbuf_f64(b, l->sx);
    ss_wbuf_f64(b, l->sy);
    ss_wbuf_f64(b, l->sz);
    ss_wbuf_u32(b, l->num_pos);
    ss_wbuf_u32(b, l->num_alerts);
    ss_wbuf_u32(b, l->num_mag_values);
    ssi_ref_encode(&l->oldest, b);
    ssi_ref_encode(&l->newest, b);
    ssi_ref_encode(&l->brightest, b);
    ss_wbuf_u32(b, l->nbands);
    for (uint32_t i = 0; i < l->nbands; i++) {
        const ss_locus_band *band = &l->bands[i];
        ss_wbuf_str(b, band->passband);
        ss_wbuf_u32(b, band->num_alerts);
        ss_wbuf_u32(b, band->num_mag_values);
        ss_wbuf_f64(b, band->newest_mjd);
        ss_wbuf_f64(b, band->newest_mag);
    }
    ss_wbuf_u32(b, l->nobjects);
    for (uint32_t i = 0; i < l->nobjects; i++) {
        ss_wbuf_str(b, l->objects[i].survey);
        ss_wbuf_str(b, l->objects[i].object_id);
    }
    ss_wbuf_u64(b, l->last_packet);
}

static void ssi_locus_decode_lists(ss_rbuf *r, ss_locus *l)
{
    l->nbands = ss_rbuf_u32(r);
    if (l->nbands > SS_LOCUS_MAX_BANDS)
        r->bad = 1;
    for (uint32_t i = 0; i < l->nbands && !r->bad; i++) {
        ss_locus_band *band = &l->bands[i];
        ss_rbuf_strcpy(r, band->passband, sizeof band->passband);
        band->num_alerts = ss_rbuf_u32(r);
        band->num_mag_values = ss_rbuf_u32(r);
        band->newest_mjd = ss_rbuf_f64(r);
        band->newest_mag = ss_rbuf_f64(r);
    }
    l->nobjects = ss_rbuf_u32(r);
    if (l->nobjects > SS_LOCUS_MAX_OBJECTS)
        r->bad = 1;
    for (uint32_t i = 0; i < l->nobjects && !r->bad; i++) {
        ss_rbuf_strcpy(r, l->objects[i].survey, sizeof l->objects[i].survey);
        ss_rbuf_strcpy(r, l->objects[i].object_id, sizeof l->objects[i].object_id);
    }
}

int ssi_locus_decode(const void *data, size_t len, ss_locus *l)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    uint8_t version = ss_rbuf_u8(&r);
    if (version < 1 || version > SSI_LOCUS_RECORD_VERSION)
        return SS_ECORRUPT;
    l->ra = ss_rbuf_f64(&r);
    l->dec = ss_rbuf_f64(&r);
    l->sx = ss_rbuf_f64(&r);
    l->sy = ss_rbuf_f64(&r);
    l->sz = ss_rbuf_f64(&r);
    l->num_pos = ss_rbuf_u32(&r);
    l->num_alerts = ss_rbuf_u32(&r);
    l->num_mag_values = ss_rbuf_u32(&r);
    ssi_ref_decode(&r, &l->oldest);
    ssi_ref_decode(&r, &l->newest);
    ssi_ref_decode(&r, &l->brightest);
    ssi_locus_decode_lists(&r, l);
    l->last_packet = version >= 2 ? ss_rbuf_u64(&r) : 0;
    return r.bad || r.p != r.end ? SS_ECORRUPT : 0;
}

int ssi_locus_newest(const void *data, size_t len, double *mjd)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    uint8_t version = ss_rbuf_u8(&r);
    if (version < 1 || version > SSI_LOCUS_RECORD_VERSION)
        return SS_ECORRUPT;
    for (int i = 0; i < 5; i++) /* ra, dec, sx, sy, sz */
        ss_rbuf_f64(&r);
    for (int i = 0; i < 3; i++) /* num_pos, num_alerts, num_mag_values */
        ss_rbuf_u32(&r);
    ss_alert_ref ref;
    ssi_ref_decode(&r, &ref); /* oldest, then newest */
    ssi_ref_decode(&r, &ref);
    *mjd = ref.mjd;
    return r.bad ? SS_ECORRUPT : 0;
}

static void ssi_value_encode(const ss_value *v, ss_wbuf *b)
{
    ss_wbuf_u8(b, (uint8_t)v->type);
    switch (v->type) {
    case SS_TYPE_NULL: break;
    case SS_TYPE_INT: ss_wbuf_u64(b, (uint64_t)v->u.i); break;
    case SS_TYPE_FLOAT: ss_wbuf_f64(b, v->u.f); break;
    case SS_TYPE_BOOL: ss_wbuf_u8(b, v->u.b ? 1 : 0); break;
    case SS_TYPE_STRING: ss_wbuf_strn(b, v->u.s.ptr, v->u.s.len); break;
    }
}

static void ssi_value_decode(ss_rbuf *r, ss_value *v)
{
    v->type = (ss_type)ss_rbuf_u8(r);
    switch (v->type) {
    case SS_TYPE_NULL: break;
    case SS_TYPE_INT: v->u.i = (int64_t)ss_rbuf_u64(r); break;
    case SS_TYPE_FLOAT: v->u.f = ss_rbuf_f64(r); break;
    case SS_TYPE_BOOL: v->u.b = ss_rbuf_u8(r); break;
    case SS_TYPE_STRING: {
        uint32_t n;
        v->u.s.ptr = ss_rbuf_str(r, &n);
        v->u.s.len = n;
        if (!v->u.s.ptr)
            r->bad = 1;
        break;
    }
    default: r->bad = 1;
    }
}

static void ssi_props_append(const ss_prop *props, uint32_t n, ss_wbuf *b);
static int ssi_skip_props(ss_rbuf *r);

void ss_store_alert_encode(const ss_alert *a, const char *locus_id, ss_wbuf *b)
{
    ss_store_alert_encode2(a, locus_id, NULL, 0, b);
}

void ss_store_alert_encode2(const ss_alert *a, const char *locus_id, const ss_prop *survey_locus,
                            uint32_t nsurvey_locus, ss_wbuf *b)
{
    (void)ssi_alert_pack(NULL, a, locus_id, survey_locus, nsurvey_locus, b); /* sets b->failed */
}

/* Versions 3 and 4, which the tests still write to check that they are read. */
void ssi_alert_encode4(const ss_alert *a, const char *locus_id, const ss_prop *survey_locus,
                       uint32_t nsurvey_locus, ss_wbuf *b)
{
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, a->history_lead ? 4 : 3);
    ss_wbuf_u8(b, (uint8_t)a->kind);
    ss_wbuf_str(b, a->survey);
    ss_wbuf_str(b, a->alert_id);
    ss_wbuf_str(b, locus_id);
    ss_wbuf_str(b, a->object_id);
    ss_wbuf_str(b, a->passband);
    ss_wbuf_str(b, a->origin);
    ss_wbuf_u64(b, a->line);
    const double nums[8] = {a->ra,     a->dec,    a->mjd,  a->mag,
                            a->magerr, a->maglim, a->flux, a->fluxerr};
    for (int i = 0; i < 8; i++)
        ss_wbuf_f64(b, nums[i]);
    ss_wbuf_u64(b, a->arrival);
    ss_wbuf_u32(b, a->arrival_index);
    if (a->history_lead)
        ss_wbuf_u32(b, a->history_lead);
    ssi_props_append(a->props, a->nprops, b);
    ssi_props_append(survey_locus, nsurvey_locus, b);
}

/* Copy a string of the record into the packet's arena; NULL stays NULL. */
static const char *ss_rbuf_dup(ss_rbuf *r, ss_packet *pkt, int *oom)
{
    uint32_t n;
    const char *s = ss_rbuf_str(r, &n);
    if (!s)
        return NULL;
    char *copy = ss_packet_strdup(pkt, s, n);
    if (!copy)
        *oom = 1;
    return copy;
}

static int ssi_alert_decode_props(ss_rbuf *r, ss_packet *pkt, ss_alert *a)
{
    uint32_t n = ss_rbuf_u32(r);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        uint32_t name_len;
        const char *name = ss_rbuf_str(r, &name_len);
        ss_value v;
        ssi_value_decode(r, &v);
        if (!name || r->bad)
            return SS_ECORRUPT;
        if (ss_alert_add_prop(pkt, a, name, name_len, v))
            return SS_ENOMEM;
    }
    return r->bad ? SS_ECORRUPT : 0;
}

/* The version byte of a record, 0 when empty. */
static uint8_t ssi_version(const void *data, size_t len)
{
    return len ? *(const unsigned char *)data : 0;
}

int ss_store_alert_decode(const void *data, size_t len, ss_packet *pkt, ss_alert *a, char *locus_id)
{
    return ssi_alert_decode(NULL, data, len, NULL, pkt, a, locus_id);
}

int ssi_alert_decode(ss_store_txn *t, const void *data, size_t len, const MDB_val *key,
                     ss_packet *pkt, ss_alert *a, char *locus_id)
{
    if (ssi_alert_packed(data, len))
        return ssi_alert_unpack(t, data, len, key, pkt, a, locus_id);
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    int oom = 0;
    uint8_t version = ss_rbuf_u8(&r), kind = ss_rbuf_u8(&r);
    if (version < 1 || version > SSI_ALERT_RECORD_VERSION || kind > SS_ALERT_FORCED)
        return SS_ECORRUPT;
    a->kind = (ss_alert_kind)kind;
    a->survey = ss_rbuf_dup(&r, pkt, &oom);
    a->alert_id = ss_rbuf_dup(&r, pkt, &oom);
    ss_rbuf_strcpy(&r, locus_id, SS_LOCUS_ID_LEN + 1);
    a->object_id = ss_rbuf_dup(&r, pkt, &oom);
    a->passband = ss_rbuf_dup(&r, pkt, &oom);
    a->origin = ss_rbuf_dup(&r, pkt, &oom);
    a->line = ss_rbuf_u64(&r);
    double *nums[8] = {&a->ra,     &a->dec,    &a->mjd,  &a->mag,
                       &a->magerr, &a->maglim, &a->flux, &a->fluxerr};
    a->flux = a->fluxerr = NAN; /* version 1 records end at maglim */
    for (int i = 0; i < (version == 1 ? 6 : 8); i++)
        *nums[i] = ss_rbuf_f64(&r);
    a->arrival = version >= 3 ? ss_rbuf_u64(&r) : 0;
    a->arrival_index = version >= 3 ? ss_rbuf_u32(&r) : 0;
    a->history_lead = version >= 4 ? ss_rbuf_u32(&r) : 0;
    if (oom)
        return SS_ENOMEM;
    if (r.bad || !a->survey || !a->alert_id || !a->passband)
        return SS_ECORRUPT;
    int rc = ssi_alert_decode_props(&r, pkt, a);
    if (!rc && version >= 3)
        rc = ssi_skip_props(&r); /* the survey's locus properties: ss_store_alert_survey_locus() */
    if (!rc && r.p != r.end)
        rc = SS_ECORRUPT;
    return rc;
}

/* A member's reference packs its arrival and index as varints: a ZTF alert's twenty such
 * references are most of the alerts table, and the two take 3-4 bytes against 12. */
size_t ssi_alert_ref_encode2(const ss_store_alert_head *h, int member, unsigned char *out)
{
    unsigned char *p = out;
    *p++ = member ? SSI_MEMBER_REF_VERSION : SSI_REF_VERSION;
    *p++ = (unsigned char)h->kind;
    memcpy(p, &h->mjd, 8), p += 8;
    if (member) {
        p += ss_uvar_put(p, h->arrival);
        p += ss_uvar_put(p, h->arrival_index);
    } else {
        memcpy(p, &h->arrival, 8), p += 8;
        memcpy(p, &h->arrival_index, 4), p += 4;
    }
    memcpy(p, h->locus_id, SS_LOCUS_ID_LEN);
    return (size_t)(p - out) + SS_LOCUS_ID_LEN;
}

size_t ssi_alert_ref_encode(const ss_store_alert_head *h, unsigned char out[SSI_REF_LEN])
{
    return ssi_alert_ref_encode2(h, 0, out);
}

int ssi_alert_is_ref(const void *data, size_t len)
{
    uint8_t v = ssi_version(data, len);
    return v == SSI_REF_VERSION || v == SSI_MEMBER_REF_VERSION;
}

int ssi_alert_is_member_ref(const void *data, size_t len)
{
    return ssi_version(data, len) == SSI_MEMBER_REF_VERSION;
}

static int ssi_member_ref_decode(const void *data, size_t len, ss_store_alert_head *h)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    ss_rbuf_u8(&r);
    uint8_t kind = ss_rbuf_u8(&r);
    h->mjd = ss_rbuf_f64(&r);
    h->arrival = ss_rbuf_uvar(&r);
    uint64_t index = ss_rbuf_uvar(&r);
    if (r.bad || kind > SS_ALERT_FORCED || index > UINT32_MAX || r.end - r.p != SS_LOCUS_ID_LEN)
        return SS_ECORRUPT;
    h->kind = (ss_alert_kind)kind;
    h->arrival_index = (uint32_t)index;
    memcpy(h->locus_id, r.p, SS_LOCUS_ID_LEN);
    h->locus_id[SS_LOCUS_ID_LEN] = '\0';
    return 0;
}

static int ssi_alert_ref_decode(const void *data, size_t len, ss_store_alert_head *h)
{
    const unsigned char *p = data;
    if (p[0] == SSI_MEMBER_REF_VERSION)
        return ssi_member_ref_decode(data, len, h);
    if (len != SSI_REF_LEN || p[1] > SS_ALERT_FORCED)
        return SS_ECORRUPT;
    h->kind = (ss_alert_kind)p[1];
    memcpy(&h->mjd, p + 2, 8);
    memcpy(&h->arrival, p + 10, 8);
    memcpy(&h->arrival_index, p + 18, 4);
    memcpy(h->locus_id, p + 22, SS_LOCUS_ID_LEN);
    h->locus_id[SS_LOCUS_ID_LEN] = '\0';
    return 0;
}

int ssi_alert_head(const void *data, size_t len, const MDB_val *key, ss_store_alert_head *h)
{
    if (ssi_alert_packed(data, len))
        return ssi_alert_head5(data, len, key, h);
    if (ssi_alert_is_ref(data, len))
        return ssi_alert_ref_decode(data, len, h);
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    uint32_t n;
    uint8_t version = ss_rbuf_u8(&r), kind = ss_rbuf_u8(&r);
    if (version < 1 || version > SSI_ALERT_RECORD_VERSION || kind > SS_ALERT_FORCED)
        return SS_ECORRUPT;
    h->kind = (ss_alert_kind)kind;
    ss_rbuf_str(&r, &n); /* survey, alert id */
    ss_rbuf_str(&r, &n);
    ss_rbuf_strcpy(&r, h->locus_id, sizeof h->locus_id);
    for (int i = 0; i < 3; i++) /* object id, passband, origin */
        ss_rbuf_str(&r, &n);
    ss_rbuf_u64(&r); /* line */
    ss_rbuf_f64(&r); /* ra, dec */
    ss_rbuf_f64(&r);
    h->mjd = ss_rbuf_f64(&r);
    for (int i = 0; i < (version == 1 ? 3 : 5); i++) /* mag, magerr, maglim[, flux, fluxerr] */
        ss_rbuf_f64(&r);
    h->arrival = version >= 3 ? ss_rbuf_u64(&r) : 0;
    h->arrival_index = version >= 3 ? ss_rbuf_u32(&r) : 0;
    return r.bad ? SS_ECORRUPT : 0;
}

void ss_store_props_encode(const ss_prop *props, uint32_t n, ss_wbuf *b)
{
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, SS_RECORD_VERSION);
    ssi_props_append(props, n, b);
}

/* A list of properties (u32 count, then name and value each) read into @p arena. */
static int ssi_props_read(ss_rbuf *r, ss_arena *arena, ss_prop **props, uint32_t *n)
{
    *props = NULL;
    *n = 0;
    uint32_t count = ss_rbuf_u32(r);
    if (r->bad || count > (size_t)(r->end - r->p))
        return SS_ECORRUPT;
    ss_prop *out = ss_arena_alloc(arena, (size_t)count * sizeof *out + 1);
    if (!out)
        return SS_ENOMEM;
    for (uint32_t i = 0; i < count && !r->bad; i++) {
        uint32_t nlen;
        const char *name = ss_rbuf_str(r, &nlen);
        ssi_value_decode(r, &out[i].value);
        if (!name || r->bad)
            return SS_ECORRUPT;
        out[i].name = ss_arena_strndup(arena, name, nlen);
        if (out[i].value.type == SS_TYPE_STRING)
            out[i].value.u.s.ptr =
                ss_arena_strndup(arena, out[i].value.u.s.ptr, out[i].value.u.s.len);
        if (!out[i].name || (out[i].value.type == SS_TYPE_STRING && !out[i].value.u.s.ptr))
            return SS_ENOMEM;
    }
    if (r->bad)
        return SS_ECORRUPT;
    *props = out;
    *n = count;
    return 0;
}

int ss_store_props_decode(const void *data, size_t len, ss_arena *arena, ss_prop **props,
                          uint32_t *n)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    *props = NULL;
    *n = 0;
    if (ss_rbuf_u8(&r) != SS_RECORD_VERSION)
        return SS_ECORRUPT;
    int rc = ssi_props_read(&r, arena, props, n);
    return rc ? rc : r.p != r.end ? SS_ECORRUPT : 0;
}

static void ssi_props_append(const ss_prop *props, uint32_t n, ss_wbuf *b)
{
    ss_wbuf_u32(b, n);
    for (uint32_t i = 0; i < n; i++) {
        ss_wbuf_str(b, props[i].name);
        ssi_value_encode(&props[i].value, b);
    }
}

/* Step over a list of properties. */
static int ssi_skip_props(ss_rbuf *r)
{
    uint32_t n = ss_rbuf_u32(r), len;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        ss_value v;
        ss_rbuf_str(r, &len);
        ssi_value_decode(r, &v);
    }
    return r->bad ? SS_ECORRUPT : 0;
}

int ssi_alert_survey_locus(ss_store_txn *t, const void *data, size_t len, const MDB_val *key,
                           ss_arena *arena, ss_prop **props, uint32_t *n)
{
    if (ssi_alert_packed(data, len))
        return ssi_alert_survey_locus5(t, data, len, key, arena, props, n);
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    uint32_t slen;
    *props = NULL;
    *n = 0;
    uint8_t version = ss_rbuf_u8(&r);
    if (version < 3)
        return 0; /* records before version 3 did not keep them */
    ss_rbuf_u8(&r);
    for (int i = 0; i < 6; i++) /* survey, alert id, locus id, object id, passband, origin */
        ss_rbuf_str(&r, &slen);
    ss_rbuf_u64(&r);
    for (int i = 0; i < 8; i++)
        ss_rbuf_f64(&r);
    ss_rbuf_u64(&r);
    ss_rbuf_u32(&r);
    if (version >= 4) /* the history lead */
        ss_rbuf_u32(&r);
    int rc = ssi_skip_props(&r);
    return rc ? rc : ssi_props_read(&r, arena, props, n);
}

/* Tag records: 1 filter, mjd, time; 2 adds the alert whose run set it (survey, alert id). */
#define SSI_TAG_RECORD_VERSION 2

void ssi_tag_encode(const ss_tag_record *t, ss_wbuf *b)
{
    ss_wbuf_reset(b);
    ss_wbuf_u8(b, SSI_TAG_RECORD_VERSION);
    ss_wbuf_str(b, t->filter);
    ss_wbuf_f64(b, t->mjd);
    ss_wbuf_f64(b, t->time);
    ss_wbuf_str(b, t->survey);
    ss_wbuf_str(b, t->alert_id);
}

int ssi_tag_decode(const void *data, size_t len, ss_tag_record *t)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    uint8_t version = ss_rbuf_u8(&r);
    if (version < 1 || version > SSI_TAG_RECORD_VERSION)
        return SS_ECORRUPT;
    ss_rbuf_strcpy(&r, t->filter, sizeof t->filter);
    t->mjd = ss_rbuf_f64(&r);
    t->time = ss_rbuf_f64(&r);
    t->survey[0] = t->alert_id[0] = '\0'; /* unknown in version 1 */
    if (version >= 2) {
        ss_rbuf_strcpy(&r, t->survey, sizeof t->survey);
        ss_rbuf_strcpy(&r, t->alert_id, sizeof t->alert_id);
    }
    return r.bad || r.p != r.end ? SS_ECORRUPT : 0;
}

static ss_value ssi_int(int64_t i)
{
    ss_value out = {.type = SS_TYPE_INT};
    out.u.i = i;
    return out;
}

typedef struct ssi_propbuf {
    ss_arena *arena;
    ss_prop *items;
    uint32_t n, cap;
    int oom;
} ssi_propbuf;

/* Add the property named head + mid + tail. */
static void ssi_propbuf_add(ssi_propbuf *b, const char *head, const char *mid, const char *tail,
                            ss_value v)
{
    char name[96];
    snprintf(name, sizeof name, "%s%s%s", head, mid, tail);
    char *copy = ss_arena_strndup(b->arena, name, strlen(name));
    if (!copy || b->n == b->cap) {
        b->oom = 1;
        return;
    }
    b->items[b->n].name = copy;
    b->items[b->n++].value = v;
}

static void ssi_ref_props(ssi_propbuf *b, const char *which, const ss_alert_ref *r)
{
    ssi_propbuf_add(b, which, "_alert_id", "", ss_prop_text(r->alert_id));
    ssi_propbuf_add(b, which, "_alert_magnitude", "", ss_prop_float(r->mag));
    ssi_propbuf_add(b, which, "_alert_observation_time", "", ss_prop_float(r->mjd));
}

int ss_store_locus_computed(const ss_locus *l, ss_arena *arena, ss_prop **props, uint32_t *n)
{
    ssi_propbuf b = {.arena = arena, .cap = 11 + 3 * l->nbands + l->nobjects};
    b.items = ss_arena_alloc(arena, b.cap * sizeof *b.items);
    if (!b.items)
        return SS_ENOMEM;
    ssi_propbuf_add(&b, "num_alerts", "", "", ssi_int(l->num_alerts));
    ssi_propbuf_add(&b, "num_mag_values", "", "", ssi_int(l->num_mag_values));
    ssi_ref_props(&b, "oldest", &l->oldest);
    ssi_ref_props(&b, "newest", &l->newest);
    ssi_ref_props(&b, "brightest", &l->brightest);
    for (uint32_t i = 0; i < l->nbands; i++) {
        const ss_locus_band *band = &l->bands[i];
        ssi_propbuf_add(&b, "num_alerts_", band->passband, "", ssi_int(band->num_alerts));
        ssi_propbuf_add(&b, "num_mag_values_", band->passband, "", ssi_int(band->num_mag_values));
        ssi_propbuf_add(&b, "newest_alert_magnitude_", band->passband, "",
                        ss_prop_float(band->newest_mag));
    }
    for (uint32_t i = 0; i < l->nobjects; i++)
        ssi_propbuf_add(&b, l->objects[i].survey, "_object_id", "",
                        ss_prop_text(l->objects[i].object_id));
    *props = b.items;
    *n = b.n;
    return b.oom ? SS_ENOMEM : 0;
}

static int ssi_ref_get(const ss_alert_ref *r, const char *field, ss_value *out)
{
    if (!strcmp(field, "_alert_id"))
        *out = ss_prop_text(r->alert_id);
    else if (!strcmp(field, "_alert_magnitude"))
        *out = ss_prop_float(r->mag);
    else if (!strcmp(field, "_alert_observation_time"))
        *out = ss_prop_float(r->mjd);
    else
        return 0;
    return 1;
}

static int ssi_band_get(const ss_locus *l, const char *name, ss_value *out)
{
    static const char *const prefixes[] = {"num_alerts_", "num_mag_values_",
                                           "newest_alert_magnitude_"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(prefixes[k]);
        if (strncmp(name, prefixes[k], n))
            continue;
        for (uint32_t i = 0; i < l->nbands; i++) {
            const ss_locus_band *b = &l->bands[i];
            if (strcmp(name + n, b->passband))
                continue;
            *out = k == 0   ? ssi_int(b->num_alerts)
                   : k == 1 ? ssi_int(b->num_mag_values)
                            : ss_prop_float(b->newest_mag);
            return 1;
        }
    }
    return 0;
}

int ss_store_locus_computed_get(const ss_locus *l, const char *name, ss_value *out)
{
    if (!strcmp(name, "num_alerts"))
        return *out = ssi_int(l->num_alerts), 1;
    if (!strcmp(name, "num_mag_values"))
        return *out = ssi_int(l->num_mag_values), 1;
    if (!strncmp(name, "oldest", 6) && ssi_ref_get(&l->oldest, name + 6, out))
        return 1;
    if (!strncmp(name, "newest", 6) && ssi_ref_get(&l->newest, name + 6, out))
        return 1;
    if (!strncmp(name, "brightest", 9) && ssi_ref_get(&l->brightest, name + 9, out))
        return 1;
    if (ssi_band_get(l, name, out))
        return 1;
    size_t n = strlen(name);
    for (uint32_t i = 0; n > 10 && i < l->nobjects; i++)
        if (!strcmp(name + n - 10, "_object_id") && strlen(l->objects[i].survey) == n - 10 &&
            !strncmp(name, l->objects[i].survey, n - 10))
            return *out = ss_prop_text(l->objects[i].object_id), 1;
    return 0;
}
