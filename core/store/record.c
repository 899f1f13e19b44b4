#include "record.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define SSI_NULL_STR UINT32_MAX

void ssi_wbuf_reset(ssi_wbuf *b)
{
    b->len = 0;
    b->failed = 0;
}

void ssi_wbuf_free(ssi_wbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void ssi_wbuf_bytes(ssi_wbuf *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        unsigned char *fresh = realloc(b->data, cap);
        if (!fresh) {
            b->failed = 1;
            return;
        }
        b->data = fresh;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

void ssi_wbuf_u8(ssi_wbuf *b, uint8_t v)
{
    ssi_wbuf_bytes(b, &v, 1);
}
void ssi_wbuf_u32(ssi_wbuf *b, uint32_t v)
{
    ssi_wbuf_bytes(b, &v, 4);
}
void ssi_wbuf_u64(ssi_wbuf *b, uint64_t v)
{
    ssi_wbuf_bytes(b, &v, 8);
}
void ssi_wbuf_f64(ssi_wbuf *b, double v)
{
    ssi_wbuf_bytes(b, &v, 8);
}

void ssi_wbuf_strn(ssi_wbuf *b, const char *s, uint32_t n)
{
    ssi_wbuf_u32(b, n);
    ssi_wbuf_bytes(b, s, n);
}

void ssi_wbuf_str(ssi_wbuf *b, const char *s)
{
    if (!s)
        ssi_wbuf_u32(b, SSI_NULL_STR);
    else
        ssi_wbuf_strn(b, s, (uint32_t)strlen(s));
}

static const unsigned char *ssi_rbuf_take(ssi_rbuf *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p;
    r->p += n;
    return p;
}

#define SSI_RBUF_SCALAR(name, type)                                                                \
    type ssi_rbuf_##name(ssi_rbuf *r)                                                              \
    {                                                                                              \
        type v = 0;                                                                                \
        const unsigned char *p = ssi_rbuf_take(r, sizeof v);                                       \
        if (p)                                                                                     \
            memcpy(&v, p, sizeof v);                                                               \
        return v;                                                                                  \
    }
SSI_RBUF_SCALAR(u8, uint8_t)
SSI_RBUF_SCALAR(u32, uint32_t)
SSI_RBUF_SCALAR(u64, uint64_t)
SSI_RBUF_SCALAR(f64, double)

const char *ssi_rbuf_str(ssi_rbuf *r, uint32_t *len)
{
    uint32_t n = ssi_rbuf_u32(r);
    *len = 0;
    if (r->bad || n == SSI_NULL_STR)
        return NULL;
    const char *p = (const char *)ssi_rbuf_take(r, n);
    if (p)
        *len = n;
    return p;
}

void ssi_rbuf_strcpy(ssi_rbuf *r, char *out, size_t cap)
{
    uint32_t n;
    const char *s = ssi_rbuf_str(r, &n);
    if (n >= cap) {
        r->bad = 1;
        n = 0;
    }
    if (s)
        memcpy(out, s, n);
    out[n] = '\0';
}

static void ssi_ref_encode(const ss_alert_ref *ref, ssi_wbuf *b)
{
    ssi_wbuf_str(b, ref->alert_id);
    ssi_wbuf_f64(b, ref->mjd);
    ssi_wbuf_f64(b, ref->mag);
}

static void ssi_ref_decode(ssi_rbuf *r, ss_alert_ref *ref)
{
    ssi_rbuf_strcpy(r, ref->alert_id, sizeof ref->alert_id);
    ref->mjd = ssi_rbuf_f64(r);
    ref->mag = ssi_rbuf_f64(r);
}

void ssi_locus_encode(const ss_locus *l, ssi_wbuf *b)
{
    ssi_wbuf_reset(b);
    ssi_wbuf_u8(b, SS_RECORD_VERSION);
    ssi_wbuf_f64(b, l->ra);
    ssi_wbuf_f64(b, l->dec);
    ssi_wbuf_f64(b, l->sx);
    ssi_wbuf_f64(b, l->sy);
    ssi_wbuf_f64(b, l->sz);
    ssi_wbuf_u32(b, l->num_pos);
    ssi_wbuf_u32(b, l->num_alerts);
    ssi_wbuf_u32(b, l->num_mag_values);
    ssi_ref_encode(&l->oldest, b);
    ssi_ref_encode(&l->newest, b);
    ssi_ref_encode(&l->brightest, b);
    ssi_wbuf_u32(b, l->nbands);
    for (uint32_t i = 0; i < l->nbands; i++) {
        const ss_locus_band *band = &l->bands[i];
        ssi_wbuf_str(b, band->passband);
        ssi_wbuf_u32(b, band->num_alerts);
        ssi_wbuf_u32(b, band->num_mag_values);
        ssi_wbuf_f64(b, band->newest_mjd);
        ssi_wbuf_f64(b, band->newest_mag);
    }
    ssi_wbuf_u32(b, l->nobjects);
    for (uint32_t i = 0; i < l->nobjects; i++) {
        ssi_wbuf_str(b, l->objects[i].survey);
        ssi_wbuf_str(b, l->objects[i].object_id);
    }
}

static void ssi_locus_decode_lists(ssi_rbuf *r, ss_locus *l)
{
    l->nbands = ssi_rbuf_u32(r);
    if (l->nbands > SS_LOCUS_MAX_BANDS)
        r->bad = 1;
    for (uint32_t i = 0; i < l->nbands && !r->bad; i++) {
        ss_locus_band *band = &l->bands[i];
        ssi_rbuf_strcpy(r, band->passband, sizeof band->passband);
        band->num_alerts = ssi_rbuf_u32(r);
        band->num_mag_values = ssi_rbuf_u32(r);
        band->newest_mjd = ssi_rbuf_f64(r);
        band->newest_mag = ssi_rbuf_f64(r);
    }
    l->nobjects = ssi_rbuf_u32(r);
    if (l->nobjects > SS_LOCUS_MAX_OBJECTS)
        r->bad = 1;
    for (uint32_t i = 0; i < l->nobjects && !r->bad; i++) {
        ssi_rbuf_strcpy(r, l->objects[i].survey, sizeof l->objects[i].survey);
        ssi_rbuf_strcpy(r, l->objects[i].object_id, sizeof l->objects[i].object_id);
    }
}

int ssi_locus_decode(const void *data, size_t len, ss_locus *l)
{
    ssi_rbuf r = {data, (const unsigned char *)data + len, 0};
    if (ssi_rbuf_u8(&r) != SS_RECORD_VERSION)
        return SS_ECORRUPT;
    l->ra = ssi_rbuf_f64(&r);
    l->dec = ssi_rbuf_f64(&r);
    l->sx = ssi_rbuf_f64(&r);
    l->sy = ssi_rbuf_f64(&r);
    l->sz = ssi_rbuf_f64(&r);
    l->num_pos = ssi_rbuf_u32(&r);
    l->num_alerts = ssi_rbuf_u32(&r);
    l->num_mag_values = ssi_rbuf_u32(&r);
    ssi_ref_decode(&r, &l->oldest);
    ssi_ref_decode(&r, &l->newest);
    ssi_ref_decode(&r, &l->brightest);
    ssi_locus_decode_lists(&r, l);
    return r.bad || r.p != r.end ? SS_ECORRUPT : 0;
}

static void ssi_value_encode(const ss_value *v, ssi_wbuf *b)
{
    ssi_wbuf_u8(b, (uint8_t)v->type);
    switch (v->type) {
    case SS_TYPE_NULL: break;
    case SS_TYPE_INT: ssi_wbuf_u64(b, (uint64_t)v->u.i); break;
    case SS_TYPE_FLOAT: ssi_wbuf_f64(b, v->u.f); break;
    case SS_TYPE_BOOL: ssi_wbuf_u8(b, v->u.b ? 1 : 0); break;
    case SS_TYPE_STRING: ssi_wbuf_strn(b, v->u.s.ptr, v->u.s.len); break;
    }
}

static void ssi_value_decode(ssi_rbuf *r, ss_value *v)
{
    v->type = (ss_type)ssi_rbuf_u8(r);
    switch (v->type) {
    case SS_TYPE_NULL: break;
    case SS_TYPE_INT: v->u.i = (int64_t)ssi_rbuf_u64(r); break;
    case SS_TYPE_FLOAT: v->u.f = ssi_rbuf_f64(r); break;
    case SS_TYPE_BOOL: v->u.b = ssi_rbuf_u8(r); break;
    case SS_TYPE_STRING: {
        uint32_t n;
        v->u.s.ptr = ssi_rbuf_str(r, &n);
        v->u.s.len = n;
        if (!v->u.s.ptr)
            r->bad = 1;
        break;
    }
    default: r->bad = 1;
    }
}

void ssi_alert_encode(const ss_alert *a, const char *locus_id, ssi_wbuf *b)
{
    ssi_wbuf_reset(b);
    ssi_wbuf_u8(b, SSI_ALERT_RECORD_VERSION);
    ssi_wbuf_u8(b, (uint8_t)a->kind);
    ssi_wbuf_str(b, a->survey);
    ssi_wbuf_str(b, a->alert_id);
    ssi_wbuf_str(b, locus_id);
    ssi_wbuf_str(b, a->object_id);
    ssi_wbuf_str(b, a->passband);
    ssi_wbuf_str(b, a->origin);
    ssi_wbuf_u64(b, a->line);
    const double nums[8] = {a->ra,     a->dec,    a->mjd,  a->mag,
                            a->magerr, a->maglim, a->flux, a->fluxerr};
    for (int i = 0; i < 8; i++)
        ssi_wbuf_f64(b, nums[i]);
    ssi_wbuf_u32(b, a->nprops);
    for (uint32_t i = 0; i < a->nprops; i++) {
        ssi_wbuf_str(b, a->props[i].name);
        ssi_value_encode(&a->props[i].value, b);
    }
}

/* Copy a string of the record into the packet's arena; NULL stays NULL. */
static const char *ssi_rbuf_dup(ssi_rbuf *r, ss_packet *pkt, int *oom)
{
    uint32_t n;
    const char *s = ssi_rbuf_str(r, &n);
    if (!s)
        return NULL;
    char *copy = ss_packet_strdup(pkt, s, n);
    if (!copy)
        *oom = 1;
    return copy;
}

static int ssi_alert_decode_props(ssi_rbuf *r, ss_packet *pkt, ss_alert *a)
{
    uint32_t n = ssi_rbuf_u32(r);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        uint32_t name_len;
        const char *name = ssi_rbuf_str(r, &name_len);
        ss_value v;
        ssi_value_decode(r, &v);
        if (!name || r->bad)
            return SS_ECORRUPT;
        if (ss_alert_add_prop(pkt, a, name, name_len, v))
            return SS_ENOMEM;
    }
    return r->bad ? SS_ECORRUPT : 0;
}

int ssi_alert_decode(const void *data, size_t len, ss_packet *pkt, ss_alert *a, char *locus_id)
{
    ssi_rbuf r = {data, (const unsigned char *)data + len, 0};
    int oom = 0;
    uint8_t version = ssi_rbuf_u8(&r), kind = ssi_rbuf_u8(&r);
    if (version < 1 || version > SSI_ALERT_RECORD_VERSION || kind > SS_ALERT_FORCED)
        return SS_ECORRUPT;
    a->kind = (ss_alert_kind)kind;
    a->survey = ssi_rbuf_dup(&r, pkt, &oom);
    a->alert_id = ssi_rbuf_dup(&r, pkt, &oom);
    ssi_rbuf_strcpy(&r, locus_id, SS_LOCUS_ID_LEN + 1);
    a->object_id = ssi_rbuf_dup(&r, pkt, &oom);
    a->passband = ssi_rbuf_dup(&r, pkt, &oom);
    a->origin = ssi_rbuf_dup(&r, pkt, &oom);
    a->line = ssi_rbuf_u64(&r);
    double *nums[8] = {&a->ra,     &a->dec,    &a->mjd,  &a->mag,
                       &a->magerr, &a->maglim, &a->flux, &a->fluxerr};
    a->flux = a->fluxerr = NAN; /* version 1 records end at maglim */
    for (int i = 0; i < (version == 1 ? 6 : 8); i++)
        *nums[i] = ssi_rbuf_f64(&r);
    if (oom)
        return SS_ENOMEM;
    if (r.bad || !a->survey || !a->alert_id || !a->passband)
        return SS_ECORRUPT;
    int rc = ssi_alert_decode_props(&r, pkt, a);
    if (!rc && r.p != r.end)
        rc = SS_ECORRUPT;
    return rc;
}

void ssi_props_encode(const ss_prop *props, uint32_t n, ssi_wbuf *b)
{
    ssi_wbuf_reset(b);
    ssi_wbuf_u8(b, SS_RECORD_VERSION);
    ssi_wbuf_u32(b, n);
    for (uint32_t i = 0; i < n; i++) {
        ssi_wbuf_str(b, props[i].name);
        ssi_value_encode(&props[i].value, b);
    }
}

int ssi_props_decode(const void *data, size_t len, ss_arena *arena, ss_prop **props, uint32_t *n)
{
    ssi_rbuf r = {data, (const unsigned char *)data + len, 0};
    *props = NULL;
    *n = 0;
    if (ssi_rbuf_u8(&r) != SS_RECORD_VERSION)
        return SS_ECORRUPT;
    uint32_t count = ssi_rbuf_u32(&r);
    if (r.bad || count > len)
        return SS_ECORRUPT;
    ss_prop *out = ss_arena_alloc(arena, (size_t)count * sizeof *out + 1);
    if (!out)
        return SS_ENOMEM;
    for (uint32_t i = 0; i < count && !r.bad; i++) {
        uint32_t nlen;
        const char *name = ssi_rbuf_str(&r, &nlen);
        ssi_value_decode(&r, &out[i].value);
        if (!name || r.bad)
            return SS_ECORRUPT;
        out[i].name = ss_arena_strndup(arena, name, nlen);
        if (out[i].value.type == SS_TYPE_STRING)
            out[i].value.u.s.ptr =
                ss_arena_strndup(arena, out[i].value.u.s.ptr, out[i].value.u.s.len);
        if (!out[i].name || (out[i].value.type == SS_TYPE_STRING && !out[i].value.u.s.ptr))
            return SS_ENOMEM;
    }
    if (r.bad || r.p != r.end)
        return SS_ECORRUPT;
    *props = out;
    *n = count;
    return 0;
}

void ssi_tag_encode(const ss_tag_record *t, ssi_wbuf *b)
{
    ssi_wbuf_reset(b);
    ssi_wbuf_u8(b, SS_RECORD_VERSION);
    ssi_wbuf_str(b, t->filter);
    ssi_wbuf_f64(b, t->mjd);
    ssi_wbuf_f64(b, t->time);
}

int ssi_tag_decode(const void *data, size_t len, ss_tag_record *t)
{
    ssi_rbuf r = {data, (const unsigned char *)data + len, 0};
    if (ssi_rbuf_u8(&r) != SS_RECORD_VERSION)
        return SS_ECORRUPT;
    ssi_rbuf_strcpy(&r, t->filter, sizeof t->filter);
    t->mjd = ssi_rbuf_f64(&r);
    t->time = ssi_rbuf_f64(&r);
    return r.bad || r.p != r.end ? SS_ECORRUPT : 0;
}

static ss_value ssi_float_or_null(double v)
{
    ss_value out = {.type = isfinite(v) ? SS_TYPE_FLOAT : SS_TYPE_NULL};
    out.u.f = v;
    return out;
}

static ss_value ssi_string(const char *s)
{
    ss_value out = {.type = s && *s ? SS_TYPE_STRING : SS_TYPE_NULL};
    out.u.s.ptr = s;
    out.u.s.len = s ? (uint32_t)strlen(s) : 0;
    return out;
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
    ssi_propbuf_add(b, which, "_alert_id", "", ssi_string(r->alert_id));
    ssi_propbuf_add(b, which, "_alert_magnitude", "", ssi_float_or_null(r->mag));
    ssi_propbuf_add(b, which, "_alert_observation_time", "", ssi_float_or_null(r->mjd));
}

int ssi_locus_computed(const ss_locus *l, ss_arena *arena, ss_prop **props, uint32_t *n)
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
                        ssi_float_or_null(band->newest_mag));
    }
    for (uint32_t i = 0; i < l->nobjects; i++)
        ssi_propbuf_add(&b, l->objects[i].survey, "_object_id", "",
                        ssi_string(l->objects[i].object_id));
    *props = b.items;
    *n = b.n;
    return b.oom ? SS_ENOMEM : 0;
}

int ssi_alert_normalised(const ss_alert *a, const char *name, ss_value *out)
{
    if (strncmp(name, "ant_", 4) != 0)
        return 0;
    const char *f = name + 4;
    if (!strcmp(f, "mjd"))
        *out = ssi_float_or_null(a->mjd);
    else if (!strcmp(f, "ra"))
        *out = ssi_float_or_null(a->ra);
    else if (!strcmp(f, "dec"))
        *out = ssi_float_or_null(a->dec);
    else if (!strcmp(f, "mag"))
        *out = ssi_float_or_null(a->mag);
    else if (!strcmp(f, "magerr"))
        *out = ssi_float_or_null(a->magerr);
    else if (!strcmp(f, "maglim"))
        *out = ssi_float_or_null(a->maglim);
    else if (!strcmp(f, "passband"))
        *out = ssi_string(a->passband);
    else if (!strcmp(f, "survey"))
        *out = ssi_string(a->survey);
    else
        return 0;
    return 1;
}

static int ssi_ref_get(const ss_alert_ref *r, const char *field, ss_value *out)
{
    if (!strcmp(field, "_alert_id"))
        *out = ssi_string(r->alert_id);
    else if (!strcmp(field, "_alert_magnitude"))
        *out = ssi_float_or_null(r->mag);
    else if (!strcmp(field, "_alert_observation_time"))
        *out = ssi_float_or_null(r->mjd);
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
                            : ssi_float_or_null(b->newest_mag);
            return 1;
        }
    }
    return 0;
}

int ssi_locus_computed_get(const ss_locus *l, const char *name, ss_value *out)
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
            return *out = ssi_string(l->objects[i].object_id), 1;
    return 0;
}
