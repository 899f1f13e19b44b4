/* Alert records of version 5 (store format 7): packed.
 *
 * Versions 1-4 wrote every property as its name, a type byte and eight bytes of value, so a
 * ZTF history entry of 45 fields took about 1.3 kB against 285 bytes of Avro. Version 5 writes
 * the list of property names once in the store's dictionary (dict.c) and a record carries its
 * id; values take a tag byte and only the bytes they need: integers as zigzag varints, floats as
 * 4 bytes when a float holds them exactly (the surveys' float fields), strings with a varint
 * length. Outside a store (ss_store_alert_encode2(): a replay's staging file) the names are
 * written inline, dictionary id 0.
 *
 * Layout: u8 5, u8 kind; survey, alert id, locus id, object id, passband (vstr); the origin as a
 * list of one name (below) without its trailing number, then that number + 1 as a varint (0:
 * none), so that a "kafka topic=T partition=P offset=" repeats in the records of a compressed
 * group; line (varint); ra, dec, mjd (f64); mag, magerr, maglim, flux,
 * fluxerr (packed numbers); arrival, arrival index, history lead (varints); the alert's
 * properties; the survey's locus properties (a primary's; 0 of them otherwise). A property list is
 * a dictionary id (0: the names follow inline, after the count), the count, then the values. */
#include "store_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_PACKED_VERSION 5
/* Version 7 (store format 9, in locus_alerts) is version 5 without the survey, alert id, locus
 * id and MJD: the entry's key holds them. */
#define SSI_KEYED_VERSION 7
/* Version 8 (store format 10) is version 7 whose two property lists are compressed with its
 * survey's dictionary (zrec.c): after the fixed fields, the dictionary number and the lists'
 * length (varints), then the zstd frame. */
#define SSI_SQUEEZED_VERSION 8

enum {
    SSI_V_NULL,
    SSI_V_FALSE,
    SSI_V_TRUE,
    SSI_V_INT,
    SSI_V_F32,
    SSI_V_F64,
    SSI_V_STR,
    SSI_V_NAN /* the one NaN of <math.h>: the surveys' missing magnitudes and fluxes */
};

static void ssi_num_pack(double x, ss_wbuf *b)
{
    const double nan = NAN;
    float f = (float)x;
    double back = (double)f;
    if (!memcmp(&x, &nan, sizeof x)) {
        ss_wbuf_u8(b, SSI_V_NAN);
    } else if (!memcmp(&back, &x, sizeof x)) { /* bit for bit: -0, infinities and NaNs too */
        ss_wbuf_u8(b, SSI_V_F32);
        ss_wbuf_bytes(b, &f, sizeof f);
    } else {
        ss_wbuf_u8(b, SSI_V_F64);
        ss_wbuf_f64(b, x);
    }
}

static void ssi_value_pack(const ss_value *v, ss_wbuf *b)
{
    switch (v->type) {
    case SS_TYPE_NULL: ss_wbuf_u8(b, SSI_V_NULL); break;
    case SS_TYPE_BOOL: ss_wbuf_u8(b, v->u.b ? SSI_V_TRUE : SSI_V_FALSE); break;
    case SS_TYPE_INT:
        ss_wbuf_u8(b, SSI_V_INT);
        ss_wbuf_uvar(b, ((uint64_t)v->u.i << 1) ^ (uint64_t)(v->u.i >> 63));
        break;
    case SS_TYPE_FLOAT: ssi_num_pack(v->u.f, b); break;
    case SS_TYPE_STRING:
        ss_wbuf_u8(b, SSI_V_STR);
        ss_wbuf_vstr(b, v->u.s.ptr ? v->u.s.ptr : "", v->u.s.len);
        break;
    }
}

static double ssi_f32(ss_rbuf *r)
{
    float f = 0;
    if (r->end - r->p < (ptrdiff_t)sizeof f)
        r->bad = 1;
    else
        memcpy(&f, r->p, sizeof f), r->p += sizeof f;
    return f;
}

static void ssi_value_unpack(ss_rbuf *r, ss_value *v)
{
    uint8_t tag = ss_rbuf_u8(r);
    uint64_t z;
    *v = (ss_value){.type = SS_TYPE_FLOAT};
    switch (tag) {
    case SSI_V_NULL: v->type = SS_TYPE_NULL; break;
    case SSI_V_FALSE:
    case SSI_V_TRUE: v->type = SS_TYPE_BOOL, v->u.b = tag == SSI_V_TRUE; break;
    case SSI_V_INT:
        z = ss_rbuf_uvar(r);
        v->type = SS_TYPE_INT, v->u.i = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        break;
    case SSI_V_F32: v->u.f = ssi_f32(r); break;
    case SSI_V_F64: v->u.f = ss_rbuf_f64(r); break;
    case SSI_V_NAN: v->u.f = NAN; break;
    case SSI_V_STR: {
        uint32_t n;
        v->type = SS_TYPE_STRING;
        v->u.s.ptr = ss_rbuf_vstr(r, &n);
        v->u.s.len = n;
        r->bad |= !v->u.s.ptr;
        break;
    }
    default: r->bad = 1;
    }
}

static double ssi_num_unpack(ss_rbuf *r)
{
    ss_value v;
    ssi_value_unpack(r, &v);
    if (v.type != SS_TYPE_FLOAT)
        r->bad = 1;
    return v.u.f;
}

/* A list: its names' dictionary id (else 0 and the names inline), then its values. */
static void ssi_props_put(uint32_t id, const ss_prop *props, uint32_t n, ss_wbuf *b)
{
    ss_wbuf_uvar(b, id);
    ss_wbuf_uvar(b, n);
    for (uint32_t i = 0; !id && i < n; i++)
        ss_wbuf_vstr(b, props[i].name, strlen(props[i].name));
    for (uint32_t i = 0; i < n; i++)
        ssi_value_pack(&props[i].value, b);
}

static int ssi_props_pack(ss_store_txn *t, const ss_prop *props, uint32_t n, ss_wbuf *b)
{
    uint32_t id = 0;
    int rc = t && n ? ssi_dict_id(t, props, n, &id) : 0;
    if (!rc)
        ssi_props_put(id, props, n, b);
    return rc;
}

/* @p props' dictionary id from @p memo when the packet's last list had the same names, by their
 * addresses; else looked up, and remembered when found. @return 1 found, 0 not. */
static int ssi_names_id(ss_store *s, const ss_prop *props, uint32_t n, ssi_names_memo *memo,
                        uint32_t *id)
{
    int same = memo && memo->n == n;
    for (uint32_t i = 0; same && i < n; i++)
        same = memo->names[i] == props[i].name;
    if (same)
        return *id = memo->id, 1;
    if (!ssi_dict_committed_id(s, props, n, id))
        return 0;
    if (memo && memo->cap < n) { /* without room it only remembers nothing */
        const char **grown = realloc(memo->names, n * sizeof *grown);
        if (grown)
            memo->names = grown, memo->cap = n;
    }
    if (memo && memo->cap >= n) {
        for (uint32_t i = 0; i < n; i++)
            memo->names[i] = props[i].name;
        memo->n = n, memo->id = *id;
    }
    return 1;
}

int ssi_lists_early(ss_store *s, const ss_alert *a, const ss_prop *survey_locus,
                    uint32_t nsurvey_locus, ssi_names_memo *memo, ss_wbuf *b)
{
    uint32_t id = 0, id2 = 0;
    if ((a->nprops && !ssi_names_id(s, a->props, a->nprops, memo, &id)) ||
        (nsurvey_locus && !ssi_dict_committed_id(s, survey_locus, nsurvey_locus, &id2)))
        return 0;
    ssi_props_put(id, a->props, a->nprops, b);
    ssi_props_put(id2, survey_locus, nsurvey_locus, b);
    return b->failed ? SS_ENOMEM : 1;
}

/* The length of @p s without its trailing decimal number, which goes to *num (UINT64_MAX: none).
 * A number with a leading zero or of over 18 digits stays in the text, which then round-trips. */
static size_t ssi_origin_split(const char *s, uint64_t *num)
{
    size_t len = strlen(s), at = len;
    while (at > 0 && s[at - 1] >= '0' && s[at - 1] <= '9')
        at--;
    *num = UINT64_MAX;
    if (at == len || len - at > 18 || (s[at] == '0' && len - at > 1))
        return len;
    *num = 0;
    for (size_t i = at; i < len; i++)
        *num = *num * 10 + (uint64_t)(s[i] - '0');
    return at;
}

/* The origin's dictionary entry: its text without the trailing number, which goes to *num
 * (UINT64_MAX: none, or kept in the text), copied to @p head when cut. */
static ss_prop ssi_origin_name(const char *origin, char head[512], uint64_t *num)
{
    size_t len = ssi_origin_split(origin, num);
    ss_prop p = {.name = origin};
    if (len < strlen(origin) && len < 512) {
        memcpy(head, origin, len);
        head[len] = '\0';
        p.name = head;
    } else {
        *num = UINT64_MAX;
    }
    return p;
}

/* An origin is written inline, its trailing number apart. Each file of a directory of one-alert
 * files (ELAsTiCC's, a ZTF archive's night) is an origin of its own: as dictionary entries they
 * took 9% of an ELAsTiCC store, and a million of them would have closed the dictionary that
 * property names need (SSI_DICT_MAX_ENTRIES). A group's members repeat their packet's origin and
 * its frame keeps it about once. Records written before name theirs by dictionary id, and read
 * as they were. */
static int ssi_origin_pack(ss_store_txn *t, const char *origin, ss_wbuf *b)
{
    if (!origin) { /* inline and empty: a record without an origin */
        ss_wbuf_uvar(b, 0);
        ss_wbuf_uvar(b, 0);
        ss_wbuf_uvar(b, 0);
        return 0;
    }
    uint64_t num;
    char head[512];
    ss_prop p = ssi_origin_name(origin, head, &num);
    uint32_t id = 0;
    int rc = t && t->s->origins_by_id ? ssi_dict_id(t, &p, 1, &id) : 0;
    ss_wbuf_uvar(b, id);
    ss_wbuf_uvar(b, 1); /* one name */
    if (!id)
        ss_wbuf_vstr(b, p.name, strlen(p.name));
    ss_wbuf_uvar(b, num + 1); /* UINT64_MAX + 1: 0, none */
    return rc;
}

/* The fields before the origin: version, kind, and the strings (from the object id when keyed). */
static void ssi_pack_ids(const ss_alert *a, const char *locus_id, uint8_t version, ss_wbuf *b)
{
    ss_wbuf_u8(b, version);
    ss_wbuf_u8(b, (uint8_t)a->kind);
    const char *strs[5] = {a->survey, a->alert_id, locus_id, a->object_id, a->passband};
    for (int i = locus_id ? 0 : 3; i < 5; i++)
        ss_wbuf_vstr(b, strs[i], strs[i] ? strlen(strs[i]) : 0);
}

/* The fields after the origin, up to the property lists; a group's member leaves its arrival and
 * history lead to the group (0 here). */
static void ssi_pack_numbers(const ss_alert *a, const char *locus_id, int member, ss_wbuf *b)
{
    ss_wbuf_uvar(b, a->line);
    ss_wbuf_f64(b, a->ra);
    ss_wbuf_f64(b, a->dec);
    if (locus_id)
        ss_wbuf_f64(b, a->mjd);
    const double nums[5] = {a->mag, a->magerr, a->maglim, a->flux, a->fluxerr};
    for (int i = 0; i < 5; i++)
        ssi_num_pack(nums[i], b);
    ss_wbuf_uvar(b, member ? 0 : a->arrival);
    ss_wbuf_uvar(b, a->arrival_index);
    ss_wbuf_uvar(b, member ? 0 : a->history_lead);
}

/* A record of version 5, or 7 (@p locus_id NULL: keyed, its fields left to the key) appended to
 * @p b, its lists plain; @p member: a group's, its arrival and history lead left to the group.
 * *@p lists: where the lists start. */
static int ssi_pack_plain(ss_store_txn *t, const ss_alert *a, const char *locus_id, int member,
                          const ss_prop *survey_locus, uint32_t nsurvey_locus, ss_wbuf *b,
                          size_t *lists)
{
    ssi_pack_ids(a, locus_id, locus_id ? SSI_PACKED_VERSION : SSI_KEYED_VERSION, b);
    int rc = ssi_origin_pack(t, a->origin, b);
    ssi_pack_numbers(a, locus_id, member, b);
    *lists = b->len;
    if (!rc && !(rc = ssi_props_pack(t, a->props, a->nprops, b)))
        rc = ssi_props_pack(t, survey_locus, nsurvey_locus, b);
    return rc ? rc : b->failed ? SS_ENOMEM : 0;
}

/* Versions 5 and 7, the lists of 7 compressed when that makes version 8. */
static int ssi_pack(ss_store_txn *t, const ss_alert *a, const char *locus_id,
                    const ss_prop *survey_locus, uint32_t nsurvey_locus, ss_wbuf *b)
{
    size_t lists;
    int squeezed = 0;
    ss_wbuf_reset(b);
    int rc = ssi_pack_plain(t, a, locus_id, 0, survey_locus, nsurvey_locus, b, &lists);
    if (!rc && !locus_id && t)
        rc = ssi_zrec_squeeze(t, a->survey, b, lists, &squeezed);
    if (squeezed)
        b->data[0] = SSI_SQUEEZED_VERSION;
    return rc ? rc : b->failed ? SS_ENOMEM : 0;
}

int ssi_member_pack(ss_store_txn *t, const ss_alert *a, const ss_prop *survey_locus,
                    uint32_t nsurvey_locus, ss_wbuf *b)
{
    size_t lists;
    return ssi_pack_plain(t, a, NULL, 1, survey_locus, nsurvey_locus, b, &lists);
}

int ssi_member_early(ss_store *s, const ss_alert *a, const ss_prop *survey_locus,
                     uint32_t nsurvey_locus, ssi_names_memo *memo, ss_wbuf *b)
{
    size_t at = b->len;
    ssi_pack_ids(a, NULL, SSI_KEYED_VERSION, b);
    ssi_origin_pack(NULL, a->origin, b);
    ssi_pack_numbers(a, NULL, 1, b);
    int rc = ssi_lists_early(s, a, survey_locus, nsurvey_locus, memo, b);
    if (rc != 1)
        b->len = at;
    return rc;
}

int ssi_alert_pack(ss_store_txn *t, const ss_alert *a, const char *locus_id,
                   const ss_prop *survey_locus, uint32_t nsurvey_locus, ss_wbuf *b)
{
    return ssi_pack(t, a, locus_id, survey_locus, nsurvey_locus, b);
}

int ssi_alert_pack_keyed(ss_store_txn *t, const ss_alert *a, const ss_prop *survey_locus,
                         uint32_t nsurvey_locus, ss_wbuf *b)
{
    return ssi_pack(t, a, NULL, survey_locus, nsurvey_locus, b);
}

int ssi_alert_packed(const void *data, size_t len)
{
    const unsigned char *p = data;
    return len &&
           (*p == SSI_PACKED_VERSION || *p == SSI_KEYED_VERSION || *p == SSI_SQUEEZED_VERSION);
}

int ssi_alert_keyed(const void *data, size_t len)
{
    return len && *(const unsigned char *)data == SSI_KEYED_VERSION;
}

int ssi_alert_squeezed(const void *data, size_t len)
{
    return len && *(const unsigned char *)data == SSI_SQUEEZED_VERSION;
}

/* A list's names: from the dictionary, or inline in the record (read by the caller). */
typedef struct ssi_names {
    const char *const *dict; /* the dictionary's, or NULL when inline */
    uint32_t n;
} ssi_names;

static int ssi_names_unpack(ss_store_txn *t, ss_rbuf *r, ssi_names *out)
{
    uint64_t id = ss_rbuf_uvar(r), n = ss_rbuf_uvar(r);
    *out = (ssi_names){NULL, 0};
    if (r->bad || n > (uint64_t)(r->end - r->p) || id > UINT32_MAX)
        return SS_ECORRUPT;
    out->n = (uint32_t)n;
    if (!id)
        return 0;
    uint32_t have;
    int rc = t ? ssi_dict_names(t, (uint32_t)id, &out->dict, &have) : SS_ECORRUPT;
    return rc ? rc : have != n ? SS_ECORRUPT : 0;
}

/* Each property of a list to @p fn, names and string values pointing into the record or the
 * dictionary (not NUL-terminated when inline). */
typedef int (*ssi_prop_fn)(void *ctx, const char *name, uint32_t len, ss_value v);

static int ssi_props_unpack(ss_store_txn *t, ss_rbuf *r, ssi_prop_fn fn, void *ctx)
{
    ssi_names names;
    int rc = ssi_names_unpack(t, r, &names);
    const char **inline_names = NULL;
    uint32_t *inline_len = NULL;
    if (!rc && !names.dict && names.n) {
        /* inline names come before the values: note where each is */
        inline_names = malloc(names.n * sizeof *inline_names);
        inline_len = malloc(names.n * sizeof *inline_len);
        rc = inline_names && inline_len ? 0 : SS_ENOMEM;
        for (uint32_t i = 0; !rc && i < names.n; i++)
            if (!(inline_names[i] = ss_rbuf_vstr(r, &inline_len[i])))
                rc = SS_ECORRUPT;
    }
    for (uint32_t i = 0; !rc && i < names.n; i++) {
        ss_value v;
        ssi_value_unpack(r, &v);
        if (r->bad)
            rc = SS_ECORRUPT;
        else if (names.dict)
            rc = fn(ctx, names.dict[i], (uint32_t)strlen(names.dict[i]), v);
        else
            rc = fn(ctx, inline_names[i], inline_len[i], v);
    }
    free(inline_names), free(inline_len);
    return rc;
}

/* The fixed fields of a version 5 record, pointing into it. */
typedef struct ssi_head5 {
    uint8_t kind;
    int squeezed;       /* version 8: the property lists that follow are compressed */
    const char *str[5]; /* survey, alert id, locus id, object id, passband */
    uint32_t len[5];
    uint64_t origin_id; /* the origin's dictionary id, 0 when inline */
    const char *origin; /* inline: the origin's text, NULL for none */
    uint32_t origin_len;
    uint64_t origin_num; /* its trailing number + 1, 0 for none */
    uint64_t line, arrival, arrival_index, lead;
    double nums[8]; /* ra, dec, mjd, mag, magerr, maglim, flux, fluxerr */
} ssi_head5;

/* A version 7 record's survey, alert id, locus id and MJD from its locus_alerts @p key (locus id,
 * MJD bits big-endian, survey NUL alert id). @return 0 or SS_ECORRUPT. */
static int ssi_head_from_key(const MDB_val *key, ssi_head5 *h)
{
    MDB_val ak = key ? ssi_key_locus_alert_id(key) : (MDB_val){0, NULL};
    if (!ak.mv_size)
        return SS_ECORRUPT;
    const char *k = key->mv_data, *survey = ak.mv_data;
    size_t rest = ak.mv_size;
    const char *nul = memchr(survey, '\0', rest);
    if (!nul || (size_t)(nul - survey) > SS_SURVEY_MAX ||
        rest - (size_t)(nul - survey) - 1 > SS_ID_MAX)
        return SS_ECORRUPT;
    uint64_t bits = ss_be64_get((const unsigned char *)k + SS_LOCUS_ID_LEN);
    memcpy(&h->nums[2], &bits, sizeof bits);
    h->str[0] = survey, h->len[0] = (uint32_t)(nul - survey);
    h->str[1] = nul + 1, h->len[1] = (uint32_t)(rest - h->len[0] - 1);
    h->str[2] = k, h->len[2] = SS_LOCUS_ID_LEN;
    return 0;
}

static int ssi_head5_read(ss_rbuf *r, const MDB_val *key, ssi_head5 *h)
{
    uint8_t version = ss_rbuf_u8(r);
    int keyed = version == SSI_KEYED_VERSION || version == SSI_SQUEEZED_VERSION;
    if (version != SSI_PACKED_VERSION && !keyed)
        return SS_ECORRUPT;
    h->squeezed = version == SSI_SQUEEZED_VERSION;
    h->kind = ss_rbuf_u8(r);
    if (keyed && ssi_head_from_key(key, h))
        return SS_ECORRUPT;
    for (int i = keyed ? 3 : 0; i < 5; i++)
        h->str[i] = ss_rbuf_vstr(r, &h->len[i]);
    h->origin_id = ss_rbuf_uvar(r);
    uint64_t n = ss_rbuf_uvar(r); /* a list of one name, or none */
    h->origin = !h->origin_id && n == 1 ? ss_rbuf_vstr(r, &h->origin_len) : NULL;
    h->origin_num = ss_rbuf_uvar(r);
    if (n > 1 || (h->origin_id && n != 1) || h->origin_id > UINT32_MAX || (h->origin_num && !n))
        return SS_ECORRUPT;
    h->line = ss_rbuf_uvar(r);
    for (int i = 0; i < (keyed ? 2 : 3); i++) /* ra, dec, mjd */
        h->nums[i] = ss_rbuf_f64(r);
    for (int i = 3; i < 8; i++)
        h->nums[i] = ssi_num_unpack(r);
    h->arrival = ss_rbuf_uvar(r);
    h->arrival_index = ss_rbuf_uvar(r);
    h->lead = ss_rbuf_uvar(r);
    if (r->bad || h->kind > SS_ALERT_FORCED || !h->str[0] || !h->str[1] || !h->str[2] ||
        !h->str[4] || h->len[2] > SS_LOCUS_ID_LEN || h->arrival_index > UINT32_MAX ||
        h->lead > UINT32_MAX)
        return SS_ECORRUPT;
    return 0;
}

int ssi_alert_head5(const void *data, size_t len, const MDB_val *key, ss_store_alert_head *out)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    ssi_head5 h;
    int rc = ssi_head5_read(&r, key, &h);
    if (rc)
        return rc;
    out->kind = (ss_alert_kind)h.kind;
    memcpy(out->locus_id, h.str[2], h.len[2]);
    out->locus_id[h.len[2]] = '\0';
    out->mjd = h.nums[2];
    out->arrival = h.arrival;
    out->arrival_index = (uint32_t)h.arrival_index;
    return 0;
}

/* The origin of a record into @p pkt: its text (the dictionary's one name, or inline) and
 * trailing number. */
static int ssi_origin(ss_store_txn *t, const ssi_head5 *h, ss_packet *pkt, const char **out)
{
    const char *const *names, *text = h->origin;
    uint32_t n, len = h->origin_len;
    *out = NULL;
    if (h->origin_id) {
        int rc = t ? ssi_dict_names(t, (uint32_t)h->origin_id, &names, &n) : SS_ECORRUPT;
        if (rc || n != 1)
            return rc ? rc : SS_ECORRUPT;
        text = names[0], len = (uint32_t)strlen(names[0]);
    }
    if (!text)
        return 0;
    char num[24] = "";
    if (h->origin_num)
        snprintf(num, sizeof num, "%llu", (unsigned long long)(h->origin_num - 1));
    size_t nlen = strlen(num);
    char *s = ss_arena_alloc(pkt->arena, len + nlen + 1);
    if (!s)
        return SS_ENOMEM;
    memcpy(s, text, len);
    memcpy(s + len, num, nlen + 1);
    *out = s;
    return 0;
}

static int ssi_add_alert_prop(void *ctx, const char *name, uint32_t len, ss_value v)
{
    void **pa = ctx;
    return ss_alert_add_prop(pa[0], pa[1], name, len, v) ? SS_ENOMEM : 0;
}

static int ssi_skip_prop(void *ctx, const char *name, uint32_t len, ss_value v)
{
    (void)ctx, (void)name, (void)len, (void)v;
    return 0;
}

static const char *ssi_dup(ss_packet *pkt, const char *s, uint32_t n, int *oom)
{
    char *copy = s ? ss_packet_strdup(pkt, s, n) : NULL;
    *oom |= s && !copy;
    return copy;
}

int ssi_alert_unpack(ss_store_txn *t, const void *data, size_t len, const MDB_val *key,
                     ss_packet *pkt, ss_alert *a, char *locus_id)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    ssi_head5 h;
    int oom = 0, rc = ssi_head5_read(&r, key, &h);
    if (!rc)
        rc = ssi_origin(t, &h, pkt, &a->origin);
    if (!rc && h.squeezed)
        rc = ssi_zrec_expand(t, &r);
    if (rc)
        return rc;
    a->kind = (ss_alert_kind)h.kind;
    a->survey = ssi_dup(pkt, h.str[0], h.len[0], &oom);
    a->alert_id = ssi_dup(pkt, h.str[1], h.len[1], &oom);
    memcpy(locus_id, h.str[2], h.len[2]);
    locus_id[h.len[2]] = '\0';
    a->object_id = ssi_dup(pkt, h.str[3], h.len[3], &oom);
    a->passband = ssi_dup(pkt, h.str[4], h.len[4], &oom);
    a->line = h.line;
    double *nums[8] = {&a->ra,     &a->dec,    &a->mjd,  &a->mag,
                       &a->magerr, &a->maglim, &a->flux, &a->fluxerr};
    for (int i = 0; i < 8; i++)
        *nums[i] = h.nums[i];
    a->arrival = h.arrival;
    a->arrival_index = (uint32_t)h.arrival_index;
    a->history_lead = (uint32_t)h.lead;
    if (oom)
        return SS_ENOMEM;
    void *pa[2] = {pkt, a};
    rc = ssi_props_unpack(t, &r, ssi_add_alert_prop, pa);
    if (!rc) /* the survey's locus properties: ssi_alert_survey_locus5() */
        rc = ssi_props_unpack(t, &r, ssi_skip_prop, NULL);
    return rc ? rc : r.p != r.end ? SS_ECORRUPT : 0;
}

typedef struct ssi_prop_list {
    ss_arena *arena;
    ss_prop *items;
    uint32_t n;
} ssi_prop_list;

static int ssi_add_list_prop(void *ctx, const char *name, uint32_t len, ss_value v)
{
    ssi_prop_list *l = ctx;
    ss_prop *p = &l->items[l->n];
    p->name = ss_arena_strndup(l->arena, name, len);
    p->value = v;
    if (v.type == SS_TYPE_STRING)
        p->value.u.s.ptr = ss_arena_strndup(l->arena, v.u.s.ptr, v.u.s.len);
    if (!p->name || (v.type == SS_TYPE_STRING && !p->value.u.s.ptr))
        return SS_ENOMEM;
    l->n++;
    return 0;
}

int ssi_alert_survey_locus5(ss_store_txn *t, const void *data, size_t len, const MDB_val *key,
                            ss_arena *arena, ss_prop **props, uint32_t *n)
{
    ss_rbuf r = {data, (const unsigned char *)data + len, 0};
    ssi_head5 h;
    *props = NULL;
    *n = 0;
    int rc = ssi_head5_read(&r, key, &h);
    if (!rc && h.squeezed)
        rc = ssi_zrec_expand(t, &r);
    if (!rc)
        rc = ssi_props_unpack(t, &r, ssi_skip_prop, NULL);
    if (rc)
        return rc;
    /* the count comes first: peek at it to size the array */
    ss_rbuf peek = r;
    ss_rbuf_uvar(&peek);
    uint64_t count = ss_rbuf_uvar(&peek);
    if (peek.bad || count > (uint64_t)(r.end - r.p))
        return SS_ECORRUPT;
    ssi_prop_list l = {arena, ss_arena_alloc(arena, (size_t)count * sizeof(ss_prop) + 1), 0};
    if (!l.items)
        return SS_ENOMEM;
    if ((rc = ssi_props_unpack(t, &r, ssi_add_list_prop, &l)))
        return rc;
    *props = l.items;
    *n = l.n;
    return r.p != r.end ? SS_ECORRUPT : 0;
}
