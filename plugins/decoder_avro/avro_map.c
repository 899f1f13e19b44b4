/*
 * From survey records to alerts. Fields are found by name, never by position or record name:
 * brokers rewrite alerts with other record names (a Spark writer renames every record), and
 * survey schemas move, add and rename fields between versions. A schema that has the fields an
 * alert needs works whatever its version; one that lacks them is refused, naming what it lacks.
 */
#include "avro_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Rubin fluxes are in nJy: AB magnitude = -2.5 log10(flux / nJy) + 31.4 */
#define SSP_NJY_ZEROPOINT 31.4
#define SSP_JD_MJD        2400000.5

/* ---- reading values by name ---- */

/* Follow a union to its current branch. @return the value's type. */
static avro_type_t ssp_unwrap(avro_value_t *v, avro_value_t *out)
{
    *out = *v;
    while (avro_value_get_type(out) == AVRO_UNION) {
        avro_value_t branch;
        if (avro_value_get_current_branch(out, &branch))
            return AVRO_NULL;
        *out = branch;
    }
    return avro_value_get_type(out);
}

/* Field @p name of record @p rec, unions followed. @return its type, AVRO_NULL when absent. */
static avro_type_t ssp_field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    avro_value_t f;
    if (avro_value_get_by_name(rec, name, &f, NULL))
        return AVRO_NULL;
    return ssp_unwrap(&f, out);
}

/* The first of @p names present as a number. @return 1 with *out set, 0 when none is. */
static int ssp_num(avro_value_t *rec, const char *const *names, double *out)
{
    for (; *names; names++) {
        avro_value_t v;
        int32_t i;
        int64_t l;
        float f;
        switch (ssp_field(rec, *names, &v)) {
        case AVRO_INT32: avro_value_get_int(&v, &i), *out = i; return 1;
        case AVRO_INT64: avro_value_get_long(&v, &l), *out = (double)l; return 1;
        case AVRO_FLOAT: avro_value_get_float(&v, &f), *out = f; return 1;
        case AVRO_DOUBLE: avro_value_get_double(&v, out); return 1;
        default: break;
        }
    }
    return 0;
}

/* The first of @p names present as a string or an integer, as text. @return 1 or 0. */
static int ssp_text(avro_value_t *rec, const char *const *names, char *out, size_t cap)
{
    for (; *names; names++) {
        avro_value_t v;
        const char *s;
        size_t n;
        int32_t i;
        int64_t l;
        switch (ssp_field(rec, *names, &v)) {
        case AVRO_STRING:
            avro_value_get_string(&v, &s, &n);
            snprintf(out, cap, "%.*s", (int)(n ? n - 1 : 0), s);
            return 1;
        case AVRO_INT32: avro_value_get_int(&v, &i), snprintf(out, cap, "%" PRId32, i); return 1;
        case AVRO_INT64: avro_value_get_long(&v, &l), snprintf(out, cap, "%" PRId64, l); return 1;
        default: break;
        }
    }
    return 0;
}

/* ---- survey fields as properties ---- */

static int ssp_flatten(ss_packet *pkt, ss_alert *a, avro_value_t *rec, const char *prefix);

/* One primitive as a typed property; arrays, maps, bytes and fixed are not properties. */
static int ssp_prop(ss_packet *pkt, ss_alert *a, const char *name, avro_value_t *v)
{
    avro_value_t u;
    ss_value val = {.type = SS_TYPE_NULL};
    const char *s;
    size_t n;
    int32_t i;
    float f;
    switch (ssp_unwrap(v, &u)) {
    case AVRO_STRING:
        avro_value_get_string(&u, &s, &n);
        val.type = SS_TYPE_STRING, val.u.s.ptr = s, val.u.s.len = (uint32_t)(n ? n - 1 : 0);
        break;
    case AVRO_ENUM:
        avro_value_get_enum(&u, &i);
        s = avro_schema_enum_get(avro_value_get_schema(&u), i);
        val.type = SS_TYPE_STRING, val.u.s.ptr = s, val.u.s.len = (uint32_t)strlen(s);
        break;
    case AVRO_INT32: avro_value_get_int(&u, &i), val.type = SS_TYPE_INT, val.u.i = i; break;
    case AVRO_INT64: avro_value_get_long(&u, &val.u.i), val.type = SS_TYPE_INT; break;
    case AVRO_FLOAT: avro_value_get_float(&u, &f), val.type = SS_TYPE_FLOAT, val.u.f = f; break;
    case AVRO_DOUBLE: avro_value_get_double(&u, &val.u.f), val.type = SS_TYPE_FLOAT; break;
    case AVRO_BOOLEAN: avro_value_get_boolean(&u, &val.u.b), val.type = SS_TYPE_BOOL; break;
    case AVRO_NULL: break;
    case AVRO_RECORD: return ssp_flatten(pkt, a, &u, name);
    default: return 0;
    }
    if (val.type == SS_TYPE_FLOAT && !isfinite(val.u.f)) /* NaN marks "not measured" */
        val.type = SS_TYPE_NULL;
    return ss_alert_add_prop(pkt, a, name, strlen(name), val);
}

/* Every field of @p rec as a property named prefix + field; nested records add "field_". */
static int ssp_flatten(ss_packet *pkt, ss_alert *a, avro_value_t *rec, const char *prefix)
{
    size_t count;
    avro_value_get_size(rec, &count);
    for (size_t i = 0; i < count; i++) {
        avro_value_t f;
        const char *fname;
        char name[256];
        if (avro_value_get_by_index(rec, i, &f, &fname))
            continue;
        avro_value_t u;
        int nested = ssp_unwrap(&f, &u) == AVRO_RECORD;
        snprintf(name, sizeof name, "%s%s%s", prefix, fname, nested ? "_" : "");
        int rc = ssp_prop(pkt, a, name, &f);
        if (rc)
            return rc;
    }
    return 0;
}

static char *ssp_dup(ss_packet *pkt, const char *s)
{
    return ss_packet_strdup(pkt, s, strlen(s));
}

/* ---- ZTF ---- */

static const char *const Z_JD[] = {"jd", NULL}, *const Z_RA[] = {"ra", NULL},
                         *const Z_DEC[] = {"dec", NULL}, *const Z_FID[] = {"fid", NULL},
                         *const Z_MAG[] = {"magpsf", NULL}, *const Z_ERR[] = {"sigmapsf", NULL},
                         *const Z_LIM[] = {"diffmaglim", NULL},
                         *const Z_CANDID[] = {"candid", NULL}, *const Z_PID[] = {"pid", NULL},
                         *const Z_OBJ[] = {"objectId", NULL};

static const char *ssp_ztf_band(double fid)
{
    return fid == 1 ? "g" : fid == 2 ? "r" : fid == 3 ? "i" : "unknown";
}

/* A candidate or a prv_candidate: a detection when it has a candid, else an upper limit. */
static int ssp_ztf_entry(ss_packet *pkt, avro_value_t *c, const char *object_id, ss_reject *rej)
{
    ss_alert *a = ss_packet_add(pkt);
    char id[64], pid[32];
    double fid = 0;
    if (!a)
        return SS_ENOMEM;
    a->survey = "ztf";
    a->object_id = ssp_dup(pkt, object_id);
    if (!ssp_num(c, Z_JD, &a->mjd))
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "ZTF candidate without jd");
    a->mjd -= SSP_JD_MJD;
    ssp_num(c, Z_FID, &fid);
    a->passband = ssp_ztf_band(fid);
    ssp_num(c, Z_LIM, &a->maglim);
    if (ssp_text(c, Z_CANDID, id, sizeof id)) {
        ssp_num(c, Z_RA, &a->ra);
        ssp_num(c, Z_DEC, &a->dec);
        ssp_num(c, Z_MAG, &a->mag);
        ssp_num(c, Z_ERR, &a->magerr);
    } else { /* a non-detection: identified by its exposure (pid) and object */
        a->kind = SS_ALERT_UPPER_LIMIT;
        if (!ssp_text(c, Z_PID, pid, sizeof pid))
            snprintf(pid, sizeof pid, "%.6f", a->mjd);
        snprintf(id, sizeof id, "ul-%s-%s", object_id, pid);
    }
    if (!(a->alert_id = ssp_dup(pkt, id)) || !a->object_id)
        return SS_ENOMEM;
    return ssp_flatten(pkt, a, c, "ztf_");
}

static int ssp_ztf_history(ss_packet *pkt, avro_value_t *rec, const char *object_id, ss_reject *rej)
{
    avro_value_t arr;
    if (ssp_field(rec, "prv_candidates", &arr) != AVRO_ARRAY)
        return 0;
    size_t n;
    avro_value_get_size(&arr, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t item, c;
        avro_value_get_by_index(&arr, i, &item, NULL);
        if (ssp_unwrap(&item, &c) != AVRO_RECORD)
            continue;
        int rc = ssp_ztf_entry(pkt, &c, object_id, rej);
        if (rc)
            return rc;
    }
    return 0;
}

static int ssp_ztf(avro_value_t *rec, ss_packet *pkt, ss_reject *rej)
{
    avro_value_t cand;
    char object_id[64];
    if (ssp_field(rec, "candidate", &cand) != AVRO_RECORD)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "ZTF alert without a candidate");
    if (!ssp_text(rec, Z_OBJ, object_id, sizeof object_id))
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "ZTF alert without an objectId");
    int rc = ssp_ztf_entry(pkt, &cand, object_id, rej);
    if (!rc && pkt->alerts[0].kind != SS_ALERT_DETECTION)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "ZTF candidate without a candid");
    if (!rc)
        rc = ssp_ztf_history(pkt, rec, object_id, rej);
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

/* Flux in nJy to a magnitude, keeping the sign as a flag: a negative difference is a fading. */
static void ssp_flux_mag(ss_alert *a, double flux, double err)
{
    a->mag = -2.5 * log10(fabs(flux)) + SSP_NJY_ZEROPOINT;
    a->magerr = err > 0 ? 2.5 / log(10.0) * err / fabs(flux) : NAN;
}

static int ssp_lsst_source(ss_packet *pkt, avro_value_t *src, const char *survey,
                           const char *object_id, ss_reject *rej)
{
    ss_alert *a = ss_packet_add(pkt);
    char id[64], band[SS_PASSBAND_MAX + 1], obj[64];
    double flux, err = NAN;
    if (!a)
        return SS_ENOMEM;
    a->survey = survey;
    if (!ssp_text(src, L_ID, id, sizeof id) || !ssp_num(src, L_MJD, &a->mjd) ||
        !ssp_text(src, L_BAND, band, sizeof band) || !ssp_num(src, L_FLUX, &flux))
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD,
                             "diaSource lacks diaSourceId, midpointMjdTai, band or psfFlux");
    ssp_num(src, L_RA, &a->ra);
    ssp_num(src, L_DEC, &a->dec);
    ssp_num(src, L_ERR, &err);
    if (!isfinite(flux) || flux == 0)
        return ss_reject_set(rej, SS_REASON_NON_FINITE, "diaSource %s: psfFlux %g", id, flux);
    ssp_flux_mag(a, flux, err);
    if (ssp_text(src, L_OBJ, obj, sizeof obj) && strcmp(obj, "0"))
        object_id = obj;
    a->alert_id = ssp_dup(pkt, id);
    a->passband = ssp_dup(pkt, band);
    a->object_id = object_id ? ssp_dup(pkt, object_id) : NULL;
    ss_value neg = {.type = SS_TYPE_BOOL, .u.b = flux < 0};
    int rc = !a->alert_id || !a->passband ? SS_ENOMEM : ssp_flatten(pkt, a, src, "lsst_diaSource_");
    if (!rc && !ss_alert_prop(a, "lsst_diaSource_isNegative")) /* older schemas lack the flag */
        rc = ss_alert_add_prop(pkt, a, "lsst_diaSource_isNegative", 25, neg);
    return rc;
}

/* Non-detection limits (schemas up to 7.x): a 5-sigma limit from the difference image's noise. */
static int ssp_lsst_limit(ss_packet *pkt, avro_value_t *lim, const char *survey,
                          const char *object_id)
{
    double noise;
    char band[SS_PASSBAND_MAX + 1], id[96];
    ss_alert *a = ss_packet_add(pkt);
    if (!a)
        return SS_ENOMEM;
    if (!ssp_num(lim, L_MJD, &a->mjd) || !ssp_text(lim, L_BAND, band, sizeof band) ||
        !ssp_num(lim, L_NOISE, &noise) || !(noise > 0)) {
        pkt->n--; /* unusable: dropped, the alert itself is fine */
        return 0;
    }
    a->survey = survey;
    a->kind = SS_ALERT_UPPER_LIMIT;
    a->maglim = -2.5 * log10(5 * noise) + SSP_NJY_ZEROPOINT;
    snprintf(id, sizeof id, "ul-%s-%.6f-%s", object_id ? object_id : "none", a->mjd, band);
    a->alert_id = ssp_dup(pkt, id);
    a->passband = ssp_dup(pkt, band);
    a->object_id = object_id ? ssp_dup(pkt, object_id) : NULL;
    return a->alert_id && a->passband ? ssp_flatten(pkt, a, lim, "lsst_limit_") : SS_ENOMEM;
}

typedef int (*ssp_item_fn)(ss_packet *pkt, avro_value_t *item, const char *survey,
                           const char *object_id, ss_reject *rej);

/* A history entry that cannot be used (no flux, say) is left out; the alert itself stands. */
static int ssp_lsst_prv_source(ss_packet *pkt, avro_value_t *item, const char *survey,
                               const char *object_id, ss_reject *rej)
{
    uint32_t n = pkt->n;
    int rc = ssp_lsst_source(pkt, item, survey, object_id, rej);
    if (rc == SS_EREJECT) {
        pkt->n = n;
        rc = 0;
    }
    return rc;
}

static int ssp_lsst_prv_limit(ss_packet *pkt, avro_value_t *item, const char *survey,
                              const char *object_id, ss_reject *rej)
{
    (void)rej;
    return ssp_lsst_limit(pkt, item, survey, object_id);
}

static int ssp_lsst_list(ss_packet *pkt, avro_value_t *rec, const char *field, ssp_item_fn fn,
                         const char *survey, const char *object_id, ss_reject *rej)
{
    avro_value_t arr;
    if (ssp_field(rec, field, &arr) != AVRO_ARRAY)
        return 0;
    size_t n;
    avro_value_get_size(&arr, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t item, r;
        avro_value_get_by_index(&arr, i, &item, NULL);
        if (ssp_unwrap(&item, &r) != AVRO_RECORD)
            continue;
        int rc = fn(pkt, &r, survey, object_id, rej);
        if (rc)
            return rc;
    }
    return 0;
}

static int ssp_lsst(const ssp_avro_schema *s, avro_value_t *rec, ss_packet *pkt, ss_reject *rej)
{
    avro_value_t src;
    if (ssp_field(rec, "diaSource", &src) != AVRO_RECORD)
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "Rubin alert without a diaSource");
    int rc = ssp_lsst_source(pkt, &src, s->survey_name, NULL, rej);
    const char *obj = rc ? NULL : pkt->alerts[0].object_id;
    if (!rc)
        rc =
            ssp_lsst_list(pkt, rec, "prvDiaSources", ssp_lsst_prv_source, s->survey_name, obj, rej);
    if (!rc)
        rc = ssp_lsst_list(pkt, rec, "prvDiaNondetectionLimits", ssp_lsst_prv_limit, s->survey_name,
                           obj, rej);
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

int ssp_avro_map(const ssp_avro_schema *s, avro_value_t *rec, ss_packet *pkt, ss_reject *rej)
{
    int rc;
    switch (s->survey) {
    case SSP_AVRO_ZTF: rc = ssp_ztf(rec, pkt, rej); break;
    case SSP_AVRO_LSST: rc = ssp_lsst(s, rec, pkt, rej); break;
    default:
        return ss_reject_set(rej, SS_REASON_MISSING_FIELD, "schema %s lacks %s",
                             avro_schema_name(s->schema) ? avro_schema_name(s->schema) : "?",
                             s->missing);
    }
    return rc;
}
