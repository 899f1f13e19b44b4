/*
 * From survey records to alerts. Fields are found by name, never by position or record name:
 * brokers rewrite alerts with other record names (a Spark writer renames every record), and
 * survey schemas move, add and rename fields between versions. A schema that has the fields an
 * alert needs works whatever its version; one that lacks them is refused, naming what it lacks.
 */
#include "avro_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SSP_JD_MJD 2400000.5
/* 2.5 / ln 10: a flux's relative error as a magnitude error */
#define SSP_MAGERR_PER_RELFLUX 1.0857362047581294
/* ZTF marks forced photometry it could not measure with this flux */
#define SSP_ZTF_NO_FLUX -99999.0

/* ---- reading values by name ---- */

/* What mapping one record needs: its schema (with the look-up cache), the packet being filled,
 * where to say why the record is rejected, and the object id that history entries inherit. */
typedef struct ssp_cx {
    ssp_avro_schema *s;
    ss_packet *pkt;
    ss_reject *rej;
    const char *object_id;
} ssp_cx;

static avro_type_t ssp_type(const ssp_pv *v)
{
    return v && v->node ? v->node->type : AVRO_NULL;
}

/* Which of @p names record node @p rec has: the field's index, or -1. Cached per schema (keyed
 * by the names list's address: callers pass static lists), since schemas of other versions lack
 * most alternatives (ELAsTiCC's decl, midPointTai, filterName, psFlux...) on every entry. */
static int ssp_resolve(ssp_avro_schema *s, const ssp_node *rec, const char *const *names)
{
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i].rec == rec && s->slots[i].names == names)
            return s->slots[i].index;
    int index = -1;
    for (const char *const *n = names; *n && index < 0; n++)
        for (size_t i = 0; i < rec->n && index < 0; i++)
            if (!strcmp(rec->names[i], *n))
                index = (int)i;
    if (s->nslots < SSP_AVRO_SLOTS)
        s->slots[s->nslots++] = (ssp_avro_slot){rec, names, index};
    return index;
}

/* The first of @p names that record @p rec has. @return its value (unions followed), NULL when it
 * has none or the value is null. */
static const ssp_pv *ssp_lookup(ssp_cx *cx, const ssp_pv *rec, const char *const *names)
{
    if (ssp_type(rec) != AVRO_RECORD)
        return NULL;
    int i = ssp_resolve(cx->s, rec->node, names);
    if (i < 0 || (size_t)i >= rec->u.c.n)
        return NULL;
    const ssp_pv *v = &rec->u.c.v[i];
    return ssp_type(v) == AVRO_NULL ? NULL : v;
}

/* The first of @p names the record has, as a number. @return 1 with *out set, 0 when none is. */
static int ssp_num(ssp_cx *cx, const ssp_pv *rec, const char *const *names, double *out)
{
    const ssp_pv *v = ssp_lookup(cx, rec, names);
    switch (ssp_type(v)) {
    case AVRO_INT32:
    case AVRO_INT64: *out = (double)v->u.i; return 1;
    case AVRO_FLOAT:
    case AVRO_DOUBLE: *out = v->u.f; return 1;
    default: return 0;
    }
}

/* @p v in decimal at @p out (room for 21 bytes), without its NUL. @return its length. Why not
 * snprintf: a ZTF alert's ids and exposures are formatted some sixty times, which printf's
 * machinery made 6% of the decoding thread (perf, 15,000 ZTF alerts). */
static size_t ssp_decimal(char *out, int64_t v)
{
    char digits[20];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        digits[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = digits[--n];
    return len;
}

/* The first of @p names the record has, as text (a string or an integer) cut to @p cap - 1 bytes
 * and at a NUL, as "%.*s" would. @return 1 or 0. */
static int ssp_text(ssp_cx *cx, const ssp_pv *rec, const char *const *names, char *out, size_t cap)
{
    const ssp_pv *v = ssp_lookup(cx, rec, names);
    char num[24];
    const char *s = num;
    size_t n;
    switch (ssp_type(v)) {
    case AVRO_STRING: s = v->u.s.p, n = v->u.s.n; break;
    case AVRO_INT32:
    case AVRO_INT64: n = ssp_decimal(num, v->u.i); break;
    default: return 0;
    }
    const char *nul = n ? memchr(s, '\0', n) : NULL;
    n = nul ? (size_t)(nul - s) : n;
    n = n < cap ? n : cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 1;
}

/* The first of @p names the record has, whole, into the packet's arena: a string with its length
 * (so a NUL inside or a length past SS_ID_MAX reaches the validator, which refuses it, instead of
 * being cut here), or an integer in decimal. @return 1 with *out set, 0 when none is, or
 * SS_ENOMEM. */
static int ssp_id(ssp_cx *cx, const ssp_pv *rec, const char *const *names, const char **out)
{
    const ssp_pv *v = ssp_lookup(cx, rec, names);
    char num[24];
    const char *s = num;
    size_t n;
    switch (ssp_type(v)) {
    case AVRO_STRING: s = v->u.s.p, n = v->u.s.n; break;
    case AVRO_INT32:
    case AVRO_INT64: n = ssp_decimal(num, v->u.i); break;
    default: return 0;
    }
    return (*out = ss_packet_id_dup(cx->pkt, s, n)) ? 1 : SS_ENOMEM;
}

/* @p prefix and @p a, then "-" and @p b unless NULL, whole, in the packet's arena (an upper
 * limit's "ul-OBJECT-EXPOSURE"): the parts passed the same NUL-free copy, and the validator judges
 * the length. @return it, or NULL when out of memory. */
static const char *ssp_join3(ss_packet *pkt, const char *prefix, const char *a, const char *b)
{
    size_t lp = strlen(prefix), la = strlen(a), lb = b ? strlen(b) + 1 : 0;
    char *out = ss_arena_alloc(pkt->arena, lp + la + lb + 1);
    if (out) {
        memcpy(out, prefix, lp);
        memcpy(out + lp, a, la);
        if (b)
            out[lp + la] = '-', memcpy(out + lp + la + 1, b, lb - 1);
        out[lp + la + lb] = '\0';
    }
    return out;
}

/* An id made from others with a format (the limits of Rubin's schemas up to 7), whole, in the
 * packet's arena: its parts passed the same NUL-free copy, and the validator judges its length. */
static const char *ssp_join(ss_packet *pkt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *ssp_join(ss_packet *pkt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *out = n < 0 ? NULL : ss_arena_alloc(pkt->arena, (size_t)n + 1);
    if (out) {
        va_start(ap, fmt);
        vsnprintf(out, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return out;
}

/* ---- survey fields as properties ---- */

#define SSP_NAME_MAX 256 /* no survey has longer names: not worth a truncated property */

static int ssp_flatten(ss_packet *pkt, ss_alert *a, const ssp_pv *rec, const char *prefix,
                       size_t plen);

/* One primitive as a typed property of @p a, or of the packet's locus when @p a is NULL; arrays,
 * maps, bytes and fixed are not properties. */
static int ssp_prop(ss_packet *pkt, ss_alert *a, const char *name, size_t nlen, const ssp_pv *v)
{
    ss_value val = {.type = SS_TYPE_NULL};
    const ssp_node *node = v->node;
    switch (node->type) {
    case AVRO_STRING:
        val.type = SS_TYPE_STRING, val.u.s.ptr = v->u.s.p, val.u.s.len = (uint32_t)v->u.s.n;
        break;
    case AVRO_ENUM:
        if (v->u.i < 0 || (uint64_t)v->u.i >= node->n)
            return 0;
        val.type = SS_TYPE_STRING, val.u.s.ptr = node->names[v->u.i];
        val.u.s.len = (uint32_t)node->lens[v->u.i];
        break;
    case AVRO_INT32:
    case AVRO_INT64: val.type = SS_TYPE_INT, val.u.i = v->u.i; break;
    case AVRO_FLOAT:
    case AVRO_DOUBLE: val.type = SS_TYPE_FLOAT, val.u.f = v->u.f; break;
    case AVRO_BOOLEAN: val.type = SS_TYPE_BOOL, val.u.b = (int)v->u.i; break;
    case AVRO_NULL: break;
    default: return 0;
    }
    if (val.type == SS_TYPE_FLOAT && !isfinite(val.u.f)) /* NaN marks "not measured" */
        val.type = SS_TYPE_NULL;
    return a ? ss_alert_add_prop_borrowed(pkt, a, name, nlen, val)
             : ss_packet_add_locus_prop(pkt, name, nlen, val);
}

/* The property names of @p rec's fields under @p prefix, made once: every entry of a history has
 * the same ones, and the packets borrow them. @return them, or NULL when out of memory. */
static const ssp_flat *ssp_flat_names(ssp_node *rec, const char *prefix, size_t plen)
{
    for (size_t f = 0; f < rec->nflats; f++)
        if (!strcmp(rec->flats[f].prefix, prefix))
            return &rec->flats[f];
    ssp_flat *grown = realloc(rec->flats, (rec->nflats + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    rec->flats = grown;
    ssp_flat *flat = &grown[rec->nflats];
    memset(flat, 0, sizeof *flat);
    int ok = (flat->names = calloc(rec->n ? rec->n : 1, sizeof *flat->names)) &&
             (flat->lens = calloc(rec->n ? rec->n : 1, sizeof *flat->lens));
    for (size_t i = 0; ok && i < rec->n; i++) {
        if (!(ok = (flat->names[i] = malloc(plen + rec->lens[i] + 1)) != NULL))
            break;
        memcpy(flat->names[i], prefix, plen);
        memcpy(flat->names[i] + plen, rec->names[i], rec->lens[i] + 1);
        flat->lens[i] = plen + rec->lens[i];
    }
    if (ok && (flat->prefix = strdup(prefix))) {
        rec->nflats++;
        return flat;
    }
    for (size_t i = 0; flat->names && i < rec->n; i++)
        free(flat->names[i]);
    free(flat->names), free(flat->lens);
    return NULL;
}

/* Every field of @p rec as a property named prefix + field; nested records add "field_". */
static int ssp_flatten(ss_packet *pkt, ss_alert *a, const ssp_pv *rec, const char *prefix,
                       size_t plen)
{
    if (plen >= SSP_NAME_MAX - 2)
        return 0;
    const ssp_flat *flat = ssp_flat_names(rec->node, prefix, plen);
    if (!flat || (a && ss_alert_reserve_props(pkt, a, (uint32_t)rec->u.c.n)))
        return SS_ENOMEM;
    for (size_t i = 0; i < rec->u.c.n; i++) {
        const ssp_pv *f = &rec->u.c.v[i];
        size_t len = flat->lens[i];
        int rc = 0;
        if (len >= SSP_NAME_MAX - 2)
            continue;
        if (ssp_type(f) == AVRO_RECORD) {
            char name[SSP_NAME_MAX];
            memcpy(name, flat->names[i], len);
            name[len] = '_', name[len + 1] = '\0';
            rc = ssp_flatten(pkt, a, f, name, len + 1);
        } else {
            rc = ssp_prop(pkt, a, flat->names[i], len, f);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* The survey fields of a history entry (not the packet's first alert) that the store already
 * holds are left out: the entry will only be recognised. */
static int ssp_fields(ss_packet *pkt, ss_alert *a, const ssp_pv *rec, const char *prefix)
{
    if (a != &pkt->alerts[0] &&
        (pkt->known2 ? pkt->known2(pkt->known_ctx, a)
                     : pkt->known && pkt->known(pkt->known_ctx, a->survey, a->alert_id)))
        return 0;
    return ssp_flatten(pkt, a, rec, prefix, strlen(prefix));
}

static char *ssp_dup(ss_packet *pkt, const char *s)
{
    return ss_packet_strdup(pkt, s, strlen(s));
}

/* A flux in nJy as a magnitude, error and 5-sigma limit; no magnitude for a flux at or below 0. */
static void ssp_flux_mags(ss_alert *a)
{
    if (a->flux > 0) {
        a->mag = -2.5 * log10(a->flux) + SS_NJY_ZEROPOINT;
        a->magerr = a->fluxerr >= 0 ? SSP_MAGERR_PER_RELFLUX * a->fluxerr / a->flux : NAN;
    }
    if (a->fluxerr > 0 && isnan(a->maglim))
        a->maglim = -2.5 * log10(5 * a->fluxerr) + SS_NJY_ZEROPOINT;
}

/* A list field of @p rec (the first of @p names), each record item handed to @p fn. */
typedef int (*ssp_item_fn)(ssp_cx *cx, const ssp_pv *item);

static int ssp_each(ssp_cx *cx, const ssp_pv *rec, const char *const *names, ssp_item_fn fn)
{
    const ssp_pv *arr = ssp_lookup(cx, rec, names);
    if (ssp_type(arr) != AVRO_ARRAY)
        return 0;
    for (size_t i = 0; i < arr->u.c.n; i++) {
        const ssp_pv *item = &arr->u.c.v[i];
        int rc = ssp_type(item) == AVRO_RECORD ? fn(cx, item) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- cutouts ---- */

/* The stamp in field @p names: bytes (Rubin), or a record of fileName and stampData (ZTF). */
static int ssp_cutout(ssp_cx *cx, const ssp_pv *rec, const char *const *names, ss_cutout_kind kind)
{
    static const char *const file_field[] = {"fileName", NULL}, *const data_field[] = {"stampData",
                                                                                       NULL};
    const ssp_pv *v = ssp_lookup(cx, rec, names);
    char file[256];
    const char *file_name = NULL;
    if (ssp_type(v) == AVRO_RECORD) {
        if (ssp_text(cx, v, file_field, file, sizeof file))
            file_name = file;
        v = ssp_lookup(cx, v, data_field);
    }
    if (ssp_type(v) != AVRO_BYTES || v->u.s.n == 0)
        return 0;
    /* lent: the bytes lie in the block decoded (or avro-c's value of this record), which only the
     * state's next call or its close replaces */
    return ss_packet_lend_cutout(cx->pkt, kind, v->u.s.p, v->u.s.n, file_name);
}

static int ssp_cutouts(ssp_cx *cx, const ssp_pv *rec)
{
    static const char *const fields[SS_CUTOUT__COUNT][2] = {
        [SS_CUTOUT_SCIENCE] = {"cutoutScience", NULL},
        [SS_CUTOUT_TEMPLATE] = {"cutoutTemplate", NULL},
        [SS_CUTOUT_DIFFERENCE] = {"cutoutDifference", NULL},
    };
    int rc = 0;
    for (int k = 0; k < SS_CUTOUT__COUNT && !rc; k++)
        rc = ssp_cutout(cx, rec, fields[k], (ss_cutout_kind)k);
    return rc;
}

/* ---- ZTF ---- */

static const char *const
    Z_JD[] = {"jd", NULL},
    *const Z_RA[] = {"ra", NULL}, *const Z_DEC[] = {"dec", NULL}, *const Z_FID[] = {"fid", NULL},
    *const Z_MAG[] = {"magpsf", NULL}, *const Z_ERR[] = {"sigmapsf", NULL},
    *const Z_LIM[] = {"diffmaglim", NULL}, *const Z_CANDID[] = {"candid", NULL},
    *const Z_PID[] = {"pid", NULL}, *const Z_OBJ[] = {"objectId", NULL},
    *const Z_POS[] = {"isdiffpos", NULL}, *const Z_FPFLUX[] = {"forcediffimflux", NULL},
    *const Z_FPERR[] = {"forcediffimfluxunc", NULL}, *const Z_ZP[] = {"magzpsci", NULL};

static const char *ssp_ztf_band(double fid)
{
    return fid == 1 ? "g" : fid == 2 ? "r" : fid == 3 ? "i" : "unknown";
}

/* A candidate or a prv_candidate: a detection when it has a candid, else an upper limit. */
static int ssp_ztf_entry(ssp_cx *cx, const ssp_pv *c)
{
    ss_packet *pkt = cx->pkt;
    const char *object_id = cx->object_id;
    ss_alert *a = ss_packet_add(pkt);
    char pid[32];
    double fid = 0;
    if (!a)
        return SS_ENOMEM;
    a->survey = "ztf";
    a->object_id = object_id; /* in the packet's arena already */
    if (!ssp_num(cx, c, Z_JD, &a->mjd))
        return ss_reject_set(cx->rej, SS_REASON_MISSING_FIELD, "ZTF candidate without jd");
    a->mjd -= SSP_JD_MJD;
    ssp_num(cx, c, Z_FID, &fid);
    a->passband = ssp_ztf_band(fid);
    ssp_num(cx, c, Z_LIM, &a->maglim);
    int has_candid = ssp_id(cx, c, Z_CANDID, &a->alert_id);
    if (has_candid == SS_ENOMEM)
        return SS_ENOMEM;
    if (has_candid) {
        char pos[8] = "t";
        ssp_num(cx, c, Z_RA, &a->ra);
        ssp_num(cx, c, Z_DEC, &a->dec);
        ssp_num(cx, c, Z_MAG, &a->mag);
        ssp_num(cx, c, Z_ERR, &a->magerr);
        ssp_text(cx, c, Z_POS, pos, sizeof pos);
        /* the same nJy flux as Rubin's; a negative subtraction ("f") is a fading */
        double sign = pos[0] == 'f' || pos[0] == '0' ? -1 : 1;
        a->flux = sign * pow(10.0, -0.4 * (a->mag - SS_NJY_ZEROPOINT));
        a->fluxerr = fabs(a->flux) * a->magerr / SSP_MAGERR_PER_RELFLUX;
    } else { /* a non-detection: identified by its exposure (pid) and object */
        a->kind = SS_ALERT_UPPER_LIMIT;
        if (!ssp_text(cx, c, Z_PID, pid, sizeof pid))
            snprintf(pid, sizeof pid, "%.6f", a->mjd);
        if (!(a->alert_id = ssp_join3(pkt, "ul-", object_id, pid)))
            return SS_ENOMEM;
    }
    return ssp_fields(pkt, a, c, "ztf_");
}

/* One fp_hists entry. Its flux is in the exposure's counts: magzpsci turns it into nJy. An entry
 * ZTF could not measure (no flux, the -99999 mark, no zero point) is left out. */
static int ssp_ztf_forced(ssp_cx *cx, const ssp_pv *fp)
{
    ss_packet *pkt = cx->pkt;
    const char *object_id = cx->object_id;
    double flux, err, zp, fid = 0, jd;
    char pid[32];
    if (!ssp_num(cx, fp, Z_JD, &jd) || !ssp_num(cx, fp, Z_FPFLUX, &flux) ||
        !ssp_num(cx, fp, Z_FPERR, &err) || !ssp_num(cx, fp, Z_ZP, &zp) || flux == SSP_ZTF_NO_FLUX ||
        err == SSP_ZTF_NO_FLUX || !ssp_text(cx, fp, Z_PID, pid, sizeof pid))
        return 0;
    ss_alert *a = ss_packet_add(pkt);
    if (!a)
        return SS_ENOMEM;
    double scale = pow(10.0, -0.4 * (zp - SS_NJY_ZEROPOINT));
    a->survey = "ztf";
    a->kind = SS_ALERT_FORCED;
    a->mjd = jd - SSP_JD_MJD;
    ssp_num(cx, fp, Z_FID, &fid);
    a->passband = ssp_ztf_band(fid);
    a->flux = flux * scale;
    a->fluxerr = err * scale;
    ssp_num(cx, fp, Z_LIM, &a->maglim);
    ssp_flux_mags(a);
    a->alert_id = ssp_join3(pkt, "fp-", object_id, pid);
    a->object_id = object_id;
    return a->alert_id ? ssp_fields(pkt, a, fp, "ztf_") : SS_ENOMEM;
}

static int ssp_ztf(ssp_cx *cx, const ssp_pv *rec, int cutouts)
{
    static const char *const cand_field[] = {"candidate", NULL},
                             *const prv_field[] = {"prv_candidates", NULL},
                             *const fp_field[] = {"fp_hists", NULL};
    ss_reject *rej = cx->rej;
    const ssp_pv *cand = ssp_lookup(cx, rec, cand_field);
    if (ssp_type(cand) != AVRO_RECORD)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "ZTF alert without a candidate");
    int rc = ssp_id(cx, rec, Z_OBJ, &cx->object_id);
    if (rc != 1)
        return rc ? rc
                  : ss_reject_set(rej, SS_REASON_MISSING_FIELD, "ZTF alert without an objectId");
    rc = ssp_ztf_entry(cx, cand);
    if (!rc && cx->pkt->alerts[0].kind != SS_ALERT_DETECTION)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "ZTF candidate without a candid");
    if (!rc)
        rc = ssp_each(cx, rec, prv_field, ssp_ztf_entry);
    if (!rc)
        rc = ssp_each(cx, rec, fp_field, ssp_ztf_forced);
    if (!rc && cutouts && !cx->pkt->skip_cutouts)
        rc = ssp_cutouts(cx, rec);
    return rc ? rc : 1;
}

/* ---- Rubin / LSST (and ELAsTiCC, its simulation) ---- */

static const char *const L_ID[] = {"diaSourceId", NULL}, *const L_OBJ[] = {"diaObjectId", NULL},
                         *const L_RA[] = {"ra", NULL}, *const L_DEC[] = {"dec", "decl", NULL},
                         *const L_MJD[] = {"midpointMjdTai", "midPointTai", NULL},
                         *const L_BAND[] = {"band", "filterName", NULL},
                         *const L_FLUX[] = {"psfFlux", "psFlux", NULL},
                         *const L_ERR[] = {"psfFluxErr", "psFluxErr", NULL},
                         *const L_NOISE[] = {"diaNoise", NULL};

/* ANTARES reports a diaSource's psfFlux as a positive value and marks a negative one with
 * isNegative (Rubin's ANTARES-client tutorial multiplies by -1 where it is set): user code written
 * for ANTARES depends on it. The signed flux stays in the alert's flux (ant_flux). */
static void ssp_flux_as_antares(ss_alert *a)
{
    for (uint32_t i = 0; i < a->nprops; i++) {
        ss_value *v = &a->props[i].value;
        const char *name = a->props[i].name;
        if (v->type == SS_TYPE_FLOAT &&
            (!strcmp(name, "lsst_diaSource_psfFlux") || !strcmp(name, "lsst_diaSource_psFlux")))
            v->u.f = fabs(v->u.f);
    }
}

static int ssp_lsst_source(ssp_cx *cx, const ssp_pv *src)
{
    ss_packet *pkt = cx->pkt;
    ss_reject *rej = cx->rej;
    const char *survey = cx->s->survey_name, *object_id = cx->object_id;
    ss_alert *a = ss_packet_add(pkt);
    char band[SS_PASSBAND_MAX + 1];
    const char *obj = NULL;
    if (!a)
        return SS_ENOMEM;
    a->survey = survey;
    int rc = ssp_id(cx, src, L_ID, &a->alert_id);
    if (rc == SS_ENOMEM)
        return rc;
    if (!rc || !ssp_num(cx, src, L_MJD, &a->mjd) || !ssp_text(cx, src, L_BAND, band, sizeof band) ||
        !ssp_num(cx, src, L_FLUX, &a->flux))
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD,
                             "diaSource lacks diaSourceId, midpointMjdTai, band or psfFlux");
    ssp_num(cx, src, L_RA, &a->ra);
    ssp_num(cx, src, L_DEC, &a->dec);
    ssp_num(cx, src, L_ERR, &a->fluxerr);
    if (!isfinite(a->flux) || a->flux == 0)
        return ss_reject_set(rej, SS_REASON_NON_FINITE, "diaSource %.64s: psfFlux %g", a->alert_id,
                             a->flux);
    /* a detection's magnitude is that of |flux|: the sign, a fading, is kept in flux and the flag
     */
    a->mag = -2.5 * log10(fabs(a->flux)) + SS_NJY_ZEROPOINT;
    a->magerr = a->fluxerr > 0 ? SSP_MAGERR_PER_RELFLUX * a->fluxerr / fabs(a->flux) : NAN;
    if ((rc = ssp_id(cx, src, L_OBJ, &obj)) == SS_ENOMEM)
        return rc;
    if (rc && strcmp(obj, "0"))
        object_id = obj;
    a->passband = ssp_dup(pkt, band);
    a->object_id = object_id; /* in the packet's arena already */
    static const char *const L_NEG[] = {"isNegative", NULL};
    ss_value neg = {.type = SS_TYPE_BOOL, .u.b = a->flux < 0};
    rc = !a->passband ? SS_ENOMEM : ssp_fields(pkt, a, src, "lsst_diaSource_");
    if (!rc && ssp_resolve(cx->s, src->node, L_NEG) < 0) /* older schemas */
        rc = ss_alert_add_prop(pkt, a, "lsst_diaSource_isNegative", 25, neg);
    if (!rc)
        ssp_flux_as_antares(a);
    return rc;
}

/* A forced measurement at the object's position; one without a finite flux is left out. */
static int ssp_lsst_forced(ssp_cx *cx, const ssp_pv *src)
{
    ss_packet *pkt = cx->pkt;
    const char *survey = cx->s->survey_name, *object_id = cx->object_id;
    static const char *const F_ID[] = {"diaForcedSourceId", NULL};
    char band[SS_PASSBAND_MAX + 1];
    const char *fsid = NULL;
    double mjd, flux, err;
    int rc = ssp_id(cx, src, F_ID, &fsid);
    if (rc == SS_ENOMEM)
        return rc;
    if (!rc || !ssp_num(cx, src, L_MJD, &mjd) || !ssp_text(cx, src, L_BAND, band, sizeof band) ||
        !ssp_num(cx, src, L_FLUX, &flux) || !ssp_num(cx, src, L_ERR, &err) || !isfinite(flux) ||
        !isfinite(err))
        return 0;
    ss_alert *a = ss_packet_add(pkt);
    if (!a)
        return SS_ENOMEM;
    a->survey = survey;
    a->kind = SS_ALERT_FORCED;
    a->mjd = mjd;
    a->flux = flux;
    a->fluxerr = err;
    ssp_num(cx, src, L_RA, &a->ra);
    ssp_num(cx, src, L_DEC, &a->dec);
    ssp_flux_mags(a);
    /* forced and detected sources are numbered apart: keep them apart */
    a->alert_id = ssp_join3(pkt, "fs-", fsid, NULL);
    a->passband = ssp_dup(pkt, band);
    a->object_id = object_id;
    return a->alert_id && a->passband ? ssp_fields(pkt, a, src, "lsst_diaForcedSource_")
                                      : SS_ENOMEM;
}

/* Non-detection limits (schemas up to 7.x): a 5-sigma limit from the difference image's noise. */
static int ssp_lsst_limit(ssp_cx *cx, const ssp_pv *lim)
{
    ss_packet *pkt = cx->pkt;
    const char *survey = cx->s->survey_name, *object_id = cx->object_id;
    double noise;
    char band[SS_PASSBAND_MAX + 1];
    ss_alert *a = ss_packet_add(pkt);
    if (!a)
        return SS_ENOMEM;
    if (!ssp_num(cx, lim, L_MJD, &a->mjd) || !ssp_text(cx, lim, L_BAND, band, sizeof band) ||
        !ssp_num(cx, lim, L_NOISE, &noise) || !(noise > 0)) {
        pkt->n--; /* unusable: dropped, the alert itself is fine */
        return 0;
    }
    a->survey = survey;
    a->kind = SS_ALERT_UPPER_LIMIT;
    a->maglim = -2.5 * log10(5 * noise) + SS_NJY_ZEROPOINT;
    a->alert_id = ssp_join(pkt, "ul-%s-%.6f-%s", object_id ? object_id : "none", a->mjd, band);
    a->passband = ssp_dup(pkt, band);
    a->object_id = object_id;
    return a->alert_id && a->passband ? ssp_fields(pkt, a, lim, "lsst_limit_") : SS_ENOMEM;
}

/* A history entry that cannot be used (no flux, say) is left out; the alert itself stands. */
static int ssp_lsst_prv_source(ssp_cx *cx, const ssp_pv *item)
{
    uint32_t n = cx->pkt->n;
    int rc = ssp_lsst_source(cx, item);
    if (rc == SS_EREJECT) {
        cx->pkt->n = n;
        rc = 0;
    }
    return rc;
}

static int ssp_lsst(ssp_cx *cx, const ssp_pv *rec, int cutouts)
{
    static const char *const src_field[] = {"diaSource", NULL},
                             *const prv_field[] = {"prvDiaSources", NULL},
                             *const forced_field[] = {"prvDiaForcedSources", NULL},
                             *const limit_field[] = {"prvDiaNondetectionLimits", NULL},
                             *const obj_field[] = {"diaObject", NULL};
    const ssp_pv *src = ssp_lookup(cx, rec, src_field), *obj;
    if (ssp_type(src) != AVRO_RECORD)
        return ss_reject_set(cx->rej, SS_REASON_MISSING_FIELD, "Rubin alert without a diaSource");
    int rc = ssp_lsst_source(cx, src);
    cx->object_id = rc ? NULL : cx->pkt->alerts[0].object_id;
    if (!rc)
        rc = ssp_each(cx, rec, prv_field, ssp_lsst_prv_source);
    if (!rc)
        rc = ssp_each(cx, rec, forced_field, ssp_lsst_forced);
    if (!rc)
        rc = ssp_each(cx, rec, limit_field, ssp_lsst_limit);
    if (!rc && ssp_type(obj = ssp_lookup(cx, rec, obj_field)) == AVRO_RECORD)
        rc = ssp_flatten(cx->pkt, NULL, obj, "lsst_diaObject_", 15);
    if (!rc && cutouts && !cx->pkt->skip_cutouts)
        rc = ssp_cutouts(cx, rec);
    return rc ? rc : 1;
}

/* ---- which survey ---- */

/* Field @p name of record schema @p rec, or NULL. (avro_schema_record_field_get() reads garbage
 * for a name that is not there: look the index up first.) */
static avro_schema_t ssp_schema_field(avro_schema_t rec, const char *name)
{
    int i = avro_schema_record_field_get_index(rec, name);
    return i < 0 ? NULL : avro_schema_record_field_get_by_index(rec, i);
}

/* The record schema of field @p name of record schema @p rec, unions followed; NULL if none. */
static avro_schema_t ssp_record_field(avro_schema_t rec, const char *name)
{
    avro_schema_t f = ssp_schema_field(rec, name);
    if (f && is_avro_union(f))
        for (size_t i = 0; i < avro_schema_union_size(f); i++) {
            avro_schema_t b = avro_schema_union_branch(f, (int)i);
            if (is_avro_record(b))
                return b;
        }
    return f && is_avro_record(f) ? f : NULL;
}

/* Note in s->missing which of @p names (alternatives separated by '|') @p rec lacks. */
static int ssp_require(ssp_avro_schema *s, avro_schema_t rec, const char *where,
                       const char *const *names)
{
    int ok = 1;
    for (; *names; names++) {
        char alts[128], *save = NULL;
        snprintf(alts, sizeof alts, "%s", *names);
        int found = 0;
        for (char *t = strtok_r(alts, "|", &save); t && !found; t = strtok_r(NULL, "|", &save))
            found = ssp_schema_field(rec, t) != NULL;
        if (!found) {
            size_t len = strlen(s->missing);
            snprintf(s->missing + len, sizeof s->missing - len, "%s%s.%s", len ? ", " : "", where,
                     *names);
            ok = 0;
        }
    }
    return ok;
}

void ssp_avro_classify(ssp_avro_schema *s)
{
    static const char *const ztf[] = {"jd",     "ra",       "dec",    "fid",
                                      "magpsf", "sigmapsf", "candid", NULL};
    static const char *const lsst[] = {
        "diaSourceId",    "ra", "dec|decl", "midpointMjdTai|midPointTai", "band|filterName",
        "psfFlux|psFlux", NULL};
    s->survey = SSP_AVRO_UNKNOWN;
    s->missing[0] = '\0';
    avro_schema_t top = s->schema, part;
    if (!is_avro_record(top)) {
        snprintf(s->missing, sizeof s->missing, "a record at the top");
        return;
    }
    if ((part = ssp_record_field(top, "candidate"))) {
        if (ssp_require(s, top, "alert", (const char *const[]){"objectId", NULL}) &
            ssp_require(s, part, "candidate", ztf))
            s->survey = SSP_AVRO_ZTF, s->survey_name = "ztf";
    } else if ((part = ssp_record_field(top, "diaSource"))) {
        const char *ns = avro_schema_namespace(top), *name = avro_schema_name(top);
        int sim = (ns && strstr(ns, "elasticc")) || (name && strstr(name, "elasticc"));
        if (ssp_require(s, part, "diaSource", lsst))
            s->survey = SSP_AVRO_LSST, s->survey_name = sim ? "elasticc" : "lsst";
    } else {
        snprintf(s->missing, sizeof s->missing,
                 "a candidate record (ZTF) or a diaSource record (Rubin)");
    }
}

int ssp_avro_map(ssp_avro_schema *s, const ssp_pv *rec, int cutouts, ss_packet *pkt, ss_reject *rej)
{
    int rc;
    ssp_cx cx = {s, pkt, rej, NULL};
    switch (s->survey) {
    case SSP_AVRO_ZTF: rc = ssp_ztf(&cx, rec, cutouts); break;
    case SSP_AVRO_LSST: rc = ssp_lsst(&cx, rec, cutouts); break;
    default:
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "schema %s lacks %s",
                             avro_schema_name(s->schema) ? avro_schema_name(s->schema) : "?",
                             s->missing);
    }
    return rc;
}
