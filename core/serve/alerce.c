/* /ztf/v1: ALeRCE's ZTF API (api.alerce.online/ztf/v1) over the store, so that notebook code
 * written for ALeRCE's Python client runs against skysieve with only the API URL changed:
 *     Alerce(ZTF_API_URL="http://HOST:PORT/ztf/v1/")
 * (the client then asks for /ztf/v1//objects/...: empty path segments are ignored).
 *
 * Routes and answers (field names of ALeRCE's data models):
 *   objects                  {total, page, next, has_next, prev, has_prev, items: [object +
 *                            class, classifier, probability]}
 *   objects/{oid}            object: oid, ndethist, ncovhist, mjdstarthist, mjdendhist, corrected,
 *                            stellar, ndet, g_r_max, g_r_max_corr, g_r_mean, g_r_mean_corr,
 *                            firstmjd, lastmjd, deltajd, meanra, meandec, sigmara, sigmadec,
 *                            step_id_corr
 *   objects/{oid}/detections, /non_detections   [detection], [non-detection], by time
 *   objects/{oid}/lightcurve {detections, non_detections}
 *   objects/{oid}/magstats   [one per fid]
 *   objects/{oid}/features, /features/{name}    [{name, value, fid, version}]
 *   objects/{oid}/probabilities                 [{classifier_name, classifier_version,
 *                                                 class_name, probability, ranking}]
 *   classifiers              [{classifier_name, classifier_version, classes}]
 * Lists are bare JSON arrays as ALeRCE sends them; format=csv gives them (and the objects' items)
 * as CSV. Errors add ALeRCE's "message" (and "errors" naming a bad parameter, which the client
 * shows) to the server's {"error", "detail"}; an unknown oid is 404. Parameters ALeRCE does not
 * know are ignored, as ALeRCE does; bad values of known ones are 400.
 *
 * An object is a ZTF object id (a locus's ztf_object_id). Its detections are the stored ZTF
 * measurements of kind detection with that object id, its non-detections those of kind
 * upper_limit, from every locus the id names (a locus may also hold other objects). ZTF's forced
 * photometry is not part of them, as it is not of ALeRCE's. Every number is computed from those
 * measurements when asked:
 *   ndet, firstmjd, lastmjd, deltajd (lastmjd - firstmjd, days); meanra, meandec: the mean of the
 *   detections' positions (RA unwrapped around 0/360); sigmara, sigmadec: their sample standard
 *   deviations in degrees (null below two detections); ndethist, ncovhist, mjdstarthist,
 *   mjdendhist: ZTF's, from the newest detection carrying them (as strings/numbers as ALeRCE
 *   types them); g_r_max = min(g) - min(r), g_r_mean = mean(g) - mean(r) of magpsf.
 *   Detections: candid is the alert id (exact; ZTF's candid field is a double in the store),
 *   isdiffpos 1 or -1, has_stamp whether the store holds its cutouts, the other fields ZTF's own.
 *   Magstats per fid: ndet, magmean, magmedian, magmax, magmin, magsigma (sample standard
 *   deviation, null for one detection), magfirst, maglast, firstmjd, lastmjd, and dmdt_first,
 *   dm_first, sigmadm_first, dt_first as ALeRCE's magstats step defines them (the steepest rise
 *   from a non-detection of the band more than 0.5 day before the first detection).
 * Not computed, so null: everything corrected (*_corr, stellar, dubious, ndubious,
 * step_id_corr), parent_candid; "corrected" is false (no corrected photometry exists).
 *
 * Features and probabilities are the filters' locus properties (numbers only), named:
 *   feature_<name>_<fid>       feature <name> of band <fid> (digits: 1 g, 2 r, 3 i, 12, ...);
 *   feature_<name>             feature <name> of no band (fid 0);
 *   prob_<classifier>_<class>  probability of <class> by <classifier>: the class is what follows
 *                              the last '_' (so class names have none); a classifier's classes
 *                              are ranked 1, 2, ... by decreasing probability.
 * Versions are not recorded: version and classifier_version are null.
 *
 * Objects search. class=K with classifier=C finds the loci tagged C_K (a classifying filter tags
 * its answer so); class alone the loci tagged K. probability=P (which needs both) keeps those with
 * prob_C_K >= P. ranking=N (default 1) picks which of the classifier's classes an item shows; with
 * no classifier asked, the classifier of the locus's highest probability. ra, dec (degrees) and
 * radius (arcseconds) make a cone around the locus position; ndet, firstmjd and lastmjd are ranges
 * given as a repeated key (one value: a lower bound; two: both bounds) checked on the computed
 * object; oid (repeated) lists objects. Without order_by, objects come in the search's order (loci
 * by id, or by separation in a cone); order_by (a computed field) and order_mode (ASC, DESC) sort
 * them all. count=true computes "total" (ALeRCE counts by default; here only when asked, or when
 * sorting), page and page_size (default 10) page. classifier alone filters nothing (ALeRCE keeps
 * only the objects that classifier classified). An object spanning several loci is listed once,
 * at the first of them. A request examines at most SSI_BUILD_CAP objects (SSI_WALK_CAP loci):
 * beyond, it is refused (400) asking to narrow the search. classifiers reads every locus's filter
 * outputs once per request.
 */
#include "serve_impl.h"

#include "json_text.h"
#include "search.h"
#include "sky.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SSI_ZTF       "ztf"
#define SSI_JD_TO_MJD 2400000.5
#define SSI_MAX_LOCI  16      /* loci of one object read */
#define SSI_CHUNK     2000    /* most loci per search page while walking a search */
#define SSI_BUILD_CAP 20000   /* objects computed for one objects request */
#define SSI_WALK_CAP  1000000 /* loci visited for one objects request */
#define SSI_DT_MIN    0.5     /* ALeRCE's dmdt_first: non-detections this much earlier */
#define SSI_PAGE_SIZE 10      /* ALeRCE's default page size */

/* ---- values ---- */

static double ssi_value_num(const ss_value *v)
{
    if (v->type == SS_TYPE_INT)
        return (double)v->u.i;
    return v->type == SS_TYPE_FLOAT ? v->u.f : NAN;
}

/* ZTF's field @p field of @p a ("ztf_<field>") as a number; NAN when absent or not a number. */
static double ssi_num(const ss_alert *a, const char *field)
{
    char name[64];
    snprintf(name, sizeof name, "ztf_%s", field);
    const ss_prop *p = ss_alert_prop(a, name);
    return p ? ssi_value_num(&p->value) : NAN;
}

/* A number ALeRCE types as an integer: null when absent. */
static json_t *ssi_json_int(double v)
{
    if (!isfinite(v))
        return json_null();
    return v == floor(v) && fabs(v) < 9e18 ? json_integer((json_int_t)v) : json_real(v);
}

static json_t *ssi_json_text_field(const ss_alert *a, const char *field)
{
    char name[64];
    snprintf(name, sizeof name, "ztf_%s", field);
    const ss_prop *p = ss_alert_prop(a, name);
    if (!p || p->value.type != SS_TYPE_STRING)
        return json_null();
    return ss_json_textn(p->value.u.s.ptr, p->value.u.s.len);
}

/* ZTF's filter id: ztf_fid, else the passband (g 1, r 2, i 3); 0 unknown. */
static int ssi_fid(const ss_alert *a)
{
    double f = ssi_num(a, "fid");
    if (isfinite(f))
        return (int)f;
    static const char bands[] = "gri";
    const char *b = a->passband[0] && !a->passband[1] ? strchr(bands, a->passband[0]) : NULL;
    return b ? (int)(b - bands) + 1 : 0;
}

/* ZTF's isdiffpos ("t"/"1" or "f"/"0") as ALeRCE's 1 or -1. */
static json_t *ssi_isdiffpos(const ss_alert *a)
{
    const ss_prop *p = ss_alert_prop(a, "ztf_isdiffpos");
    if (p && p->value.type == SS_TYPE_STRING && p->value.u.s.len >= 1) {
        char c = p->value.u.s.ptr[0];
        if (c == 't' || c == 'T' || c == '1')
            return json_integer(1);
        if (c == 'f' || c == 'F' || c == '0')
            return json_integer(-1);
    }
    double v = p ? ssi_value_num(&p->value) : NAN;
    return isfinite(v) ? json_integer(v > 0 ? 1 : -1) : json_null();
}

/* A ZTF number, or the normalised one when the survey field is absent. */
static double ssi_or(const ss_alert *a, const char *field, double normalised)
{
    double v = ssi_num(a, field);
    return isfinite(v) ? v : normalised;
}

/* ---- statistics ---- */

typedef struct ssi_stats {
    size_t n;
    double mean, sigma, min, max, median;
} ssi_stats;

static int ssi_dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean, sample standard deviation (NAN below two values), extremes and median of @p v (sorted in
 * place). */
static void ssi_stats_of(double *v, size_t n, ssi_stats *s)
{
    *s = (ssi_stats){n, NAN, NAN, NAN, NAN, NAN};
    if (!n)
        return;
    qsort(v, n, sizeof *v, ssi_dbl_cmp);
    double sum = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s->mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - s->mean) * (v[i] - s->mean);
    s->sigma = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
    s->min = v[0];
    s->max = v[n - 1];
    s->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- one object: its ZTF measurements ---- */

typedef struct ssi_obj {
    char oid[SS_ID_MAX + 1];
    char locus_id[SS_LOCUS_ID_LEN + 1]; /* its first locus, whose filter outputs it shows */
    ss_packet *pkt;                     /* owned: every measurement of its loci */
    const ss_alert **det, **nd;         /* owned arrays into pkt: its detections, non-detections */
    size_t ndet, nnd;                   /* ... in time order */
    ss_prop *props;                     /* the first locus's properties, in pkt's arena */
    uint32_t nprops;
    double firstmjd, lastmjd, meanra, meandec, sigmara, sigmadec;
} ssi_obj;

typedef struct ssi_loci {
    char id[SSI_MAX_LOCI][SS_LOCUS_ID_LEN + 1];
    size_t n;
} ssi_loci;

static int ssi_loci_add(void *ctx, const char *survey, const char *locus_id)
{
    ssi_loci *l = ctx;
    if (!strcmp(survey, SSI_ZTF) && l->n < SSI_MAX_LOCI)
        snprintf(l->id[l->n++], sizeof l->id[0], "%s", locus_id);
    return 0;
}

/* The loci of ZTF object @p oid, in the objects table's order (by locus id). */
static int ssi_loci_of(ss_store_txn *txn, const char *oid, ssi_loci *out)
{
    out->n = 0;
    int rc = strlen(oid) > SS_ID_MAX ? 0 : ss_store_object_each(txn, oid, ssi_loci_add, out);
    return rc == SS_ENOTFOUND ? 0 : rc;
}

static int ssi_by_time(const void *a, const void *b)
{
    const ss_alert *x = *(const ss_alert *const *)a, *y = *(const ss_alert *const *)b;
    if (x->mjd != y->mjd)
        return x->mjd < y->mjd ? -1 : 1;
    return strcmp(x->alert_id, y->alert_id);
}

/* Pick the object's detections and non-detections out of its loci's measurements. */
static int ssi_obj_split(ssi_obj *o)
{
    size_t n = o->pkt->n ? o->pkt->n : 1;
    o->det = malloc(n * sizeof *o->det);
    o->nd = malloc(n * sizeof *o->nd);
    if (!o->det || !o->nd)
        return SS_ENOMEM;
    for (uint32_t i = 0; i < o->pkt->n; i++) {
        const ss_alert *a = &o->pkt->alerts[i];
        if (strcmp(a->survey, SSI_ZTF) || !a->object_id || strcmp(a->object_id, o->oid))
            continue;
        if (a->kind == SS_ALERT_DETECTION)
            o->det[o->ndet++] = a;
        else if (a->kind == SS_ALERT_UPPER_LIMIT)
            o->nd[o->nnd++] = a;
    }
    qsort(o->det, o->ndet, sizeof *o->det, ssi_by_time);
    qsort(o->nd, o->nnd, sizeof *o->nd, ssi_by_time);
    return 0;
}

/* Mean position and spread of the detections; RA is unwrapped around the first one's, so that
 * an object on RA 0 is not averaged to 180. */
static void ssi_obj_position(ssi_obj *o)
{
    double *ra = malloc((o->ndet ? o->ndet : 1) * 2 * sizeof *ra), *dec = ra ? ra + o->ndet : NULL;
    size_t n = 0;
    for (size_t i = 0; ra && i < o->ndet; i++)
        if (isfinite(o->det[i]->ra) && isfinite(o->det[i]->dec)) {
            ra[n] = n ? ra[0] + remainder(o->det[i]->ra - ra[0], 360.0) : o->det[i]->ra;
            dec[n++] = o->det[i]->dec;
        }
    ssi_stats sr = {0}, sd = {0};
    ssi_stats_of(ra, n, &sr);
    ssi_stats_of(dec, n, &sd);
    o->meanra = isfinite(sr.mean) ? fmod(sr.mean + 360.0, 360.0) : NAN;
    o->meandec = sd.mean;
    o->sigmara = sr.sigma;
    o->sigmadec = sd.sigma;
    free(ra);
}

static void ssi_obj_free(ssi_obj *o)
{
    free(o->det);
    free(o->nd);
    ss_packet_free(o->pkt);
    memset(o, 0, sizeof *o);
}

/**
 * Read ZTF object @p oid: the measurements of its loci and its first locus's properties.
 * @return 0; SS_ENOTFOUND (err says so); a store code. Whatever the return, @p o is the caller's
 * to free with ssi_obj_free().
 */
static int ssi_obj_load(ss_store_txn *txn, const char *oid, ssi_obj *o, ss_err *err)
{
    memset(o, 0, sizeof *o);
    ssi_loci loci;
    int rc = ssi_loci_of(txn, oid, &loci);
    if (!rc && !loci.n)
        return ss_err_set(err, SS_ENOTFOUND,
                          "Object %.128s not found (no ZTF object of that id "
                          "in this store)",
                          oid);
    if (rc)
        return rc;
    snprintf(o->oid, sizeof o->oid, "%s", oid);
    memcpy(o->locus_id, loci.id[0], sizeof o->locus_id);
    if (!(o->pkt = ss_packet_new()))
        rc = SS_ENOMEM;
    for (size_t i = 0; !rc && i < loci.n; i++)
        rc = ss_store_locus_alerts(txn, loci.id[i], o->pkt);
    if (!rc)
        rc = ss_store_locus_props(txn, o->locus_id, o->pkt->arena, &o->props, &o->nprops);
    if (!rc)
        rc = ssi_obj_split(o);
    if (rc)
        return rc;
    o->firstmjd = o->ndet ? o->det[0]->mjd : NAN;
    o->lastmjd = o->ndet ? o->det[o->ndet - 1]->mjd : NAN;
    ssi_obj_position(o);
    return 0;
}

/* ---- the object ---- */

/* ZTF's history counts, from the newest detection carrying them (an alert's, not a history
 * entry's). */
static void ssi_object_hist(const ssi_obj *o, json_t *j)
{
    const ss_alert *a = NULL;
    for (size_t i = o->ndet; i-- > 0 && !a;)
        if (isfinite(ssi_num(o->det[i], "ndethist")))
            a = o->det[i];
    double ndethist = a ? ssi_num(a, "ndethist") : NAN;
    char text[32];
    snprintf(text, sizeof text, "%.0f", ndethist);
    /* ALeRCE's model types ndethist as a string */
    json_object_set_new(j, "ndethist", isfinite(ndethist) ? json_string(text) : json_null());
    json_object_set_new(j, "ncovhist", ssi_json_int(a ? ssi_num(a, "ncovhist") : NAN));
    json_object_set_new(j, "mjdstarthist",
                        ss_json_num(a ? ssi_num(a, "jdstarthist") - SSI_JD_TO_MJD : NAN));
    json_object_set_new(j, "mjdendhist",
                        ss_json_num(a ? ssi_num(a, "jdendhist") - SSI_JD_TO_MJD : NAN));
}

/* The detections' magpsf of band @p fid (malloc'd, owned by the caller) and their count. */
static double *ssi_band_mags(const ssi_obj *o, int fid, size_t *n)
{
    double *v = malloc((o->ndet ? o->ndet : 1) * sizeof *v);
    *n = 0;
    for (size_t i = 0; v && i < o->ndet; i++) {
        double m = ssi_or(o->det[i], "magpsf", o->det[i]->mag);
        if (ssi_fid(o->det[i]) == fid && isfinite(m))
            v[(*n)++] = m;
    }
    return v;
}

/* g_r_max (min g - min r) and g_r_mean (mean g - mean r) of magpsf. */
static void ssi_object_colour(const ssi_obj *o, json_t *j)
{
    size_t ng, nr;
    double *g = ssi_band_mags(o, 1, &ng), *r = ssi_band_mags(o, 2, &nr);
    ssi_stats sg = {0}, sr = {0};
    if (g && r) {
        ssi_stats_of(g, ng, &sg);
        ssi_stats_of(r, nr, &sr);
    }
    int both = g && r && ng && nr;
    json_object_set_new(j, "g_r_max", ss_json_num(both ? sg.min - sr.min : NAN));
    json_object_set_new(j, "g_r_max_corr", json_null());
    json_object_set_new(j, "g_r_mean", ss_json_num(both ? sg.mean - sr.mean : NAN));
    json_object_set_new(j, "g_r_mean_corr", json_null());
    free(g);
    free(r);
}

/* ALeRCE's object model. */
static json_t *ssi_object_json(const ssi_obj *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "oid", ss_json_text(o->oid));
    ssi_object_hist(o, j);
    json_object_set_new(j, "corrected", json_false());
    json_object_set_new(j, "stellar", json_null());
    json_object_set_new(j, "ndet", json_integer((json_int_t)o->ndet));
    ssi_object_colour(o, j);
    json_object_set_new(j, "firstmjd", ss_json_num(o->firstmjd));
    json_object_set_new(j, "lastmjd", ss_json_num(o->lastmjd));
    json_object_set_new(j, "deltajd", ss_json_num(o->lastmjd - o->firstmjd));
    json_object_set_new(j, "meanra", ss_json_num(o->meanra));
    json_object_set_new(j, "meandec", ss_json_num(o->meandec));
    json_object_set_new(j, "sigmara", ss_json_num(o->sigmara));
    json_object_set_new(j, "sigmadec", ss_json_num(o->sigmadec));
    json_object_set_new(j, "step_id_corr", json_null());
    return j;
}

#define SSI_OBJECT_COLUMNS                                                                         \
    "oid", "ndethist", "ncovhist", "mjdstarthist", "mjdendhist", "corrected", "stellar", "ndet",   \
        "g_r_max", "g_r_max_corr", "g_r_mean", "g_r_mean_corr", "firstmjd", "lastmjd", "deltajd",  \
        "meanra", "meandec", "sigmara", "sigmadec", "step_id_corr"

static const char *const ssi_object_columns[] = {SSI_OBJECT_COLUMNS, NULL};
const char *const ssi_alerce_item_columns[] = {SSI_OBJECT_COLUMNS, "class", "classifier",
                                               "probability", NULL};

/* ---- detections and non-detections ---- */

static int ssi_has_stamp_fn(void *ctx, const ss_store_cutout *c)
{
    (void)c;
    *(int *)ctx = 1;
    return 1;
}

static json_t *ssi_has_stamp(ss_store_txn *txn, const ss_alert *a)
{
    int found = 0;
    int rc = ss_store_cutouts_each(txn, a->alert_id, a->survey, ssi_has_stamp_fn, &found);
    return rc && rc != 1 && !found ? json_null() : json_boolean(found);
}

/* ZTF's numbers as ALeRCE's detection shows them (integers among them as integers). */
static const char *const ssi_det_ints[] = {"pid", "nid", "rfid", NULL};
static const char *const ssi_det_nums[] = {"distnr", "magap",    "sigmagap",    "rb",
                                           "drb",    "magapbig", "sigmagapbig", NULL};

static json_t *ssi_detection_json(ss_store_txn *txn, const ssi_obj *o, const ss_alert *a)
{
    json_t *j = json_object();
    json_object_set_new(j, "oid", ss_json_text(o->oid));
    json_object_set_new(j, "candid", ss_json_text(a->alert_id));
    json_object_set_new(j, "mjd", ss_json_num(a->mjd));
    json_object_set_new(j, "fid", json_integer(ssi_fid(a)));
    json_object_set_new(j, "diffmaglim", ss_json_num(ssi_or(a, "diffmaglim", a->maglim)));
    json_object_set_new(j, "isdiffpos", ssi_isdiffpos(a));
    json_object_set_new(j, "magpsf", ss_json_num(ssi_or(a, "magpsf", a->mag)));
    json_object_set_new(j, "sigmapsf", ss_json_num(ssi_or(a, "sigmapsf", a->magerr)));
    json_object_set_new(j, "ra", ss_json_num(a->ra));
    json_object_set_new(j, "dec", ss_json_num(a->dec));
    for (size_t i = 0; ssi_det_ints[i]; i++)
        json_object_set_new(j, ssi_det_ints[i], ssi_json_int(ssi_num(a, ssi_det_ints[i])));
    for (size_t i = 0; ssi_det_nums[i]; i++)
        json_object_set_new(j, ssi_det_nums[i], ss_json_num(ssi_num(a, ssi_det_nums[i])));
    json_object_set_new(j, "rbversion", ssi_json_text_field(a, "rbversion"));
    json_object_set_new(j, "drbversion", ssi_json_text_field(a, "drbversion"));
    static const char *const none[] = {"magpsf_corr", "sigmapsf_corr", "sigmapsf_corr_ext",
                                       "dubious",     "parent_candid", "step_id_corr",
                                       NULL};
    for (size_t i = 0; none[i]; i++)
        json_object_set_new(j, none[i], json_null());
    json_object_set_new(j, "corrected", json_false());
    json_object_set_new(j, "has_stamp", ssi_has_stamp(txn, a));
    return j;
}

static const char *const ssi_det_columns[] = {"oid",
                                              "candid",
                                              "mjd",
                                              "fid",
                                              "pid",
                                              "diffmaglim",
                                              "isdiffpos",
                                              "nid",
                                              "ra",
                                              "dec",
                                              "magpsf",
                                              "sigmapsf",
                                              "magap",
                                              "sigmagap",
                                              "distnr",
                                              "rb",
                                              "rbversion",
                                              "drb",
                                              "drbversion",
                                              "magapbig",
                                              "sigmagapbig",
                                              "rfid",
                                              "magpsf_corr",
                                              "sigmapsf_corr",
                                              "sigmapsf_corr_ext",
                                              "corrected",
                                              "dubious",
                                              "parent_candid",
                                              "has_stamp",
                                              "step_id_corr",
                                              NULL};

static json_t *ssi_non_detection_json(const ssi_obj *o, const ss_alert *a)
{
    return json_pack("{s:o, s:o, s:i, s:o}", "oid", ss_json_text(o->oid), "mjd",
                     ss_json_num(a->mjd), "fid", ssi_fid(a), "diffmaglim",
                     ss_json_num(ssi_or(a, "diffmaglim", a->maglim)));
}

static const char *const ssi_nd_columns[] = {"oid", "mjd", "fid", "diffmaglim", NULL};

static json_t *ssi_detections(ss_store_txn *txn, const ssi_obj *o)
{
    json_t *items = json_array();
    for (size_t i = 0; i < o->ndet; i++)
        json_array_append_new(items, ssi_detection_json(txn, o, o->det[i]));
    return items;
}

static json_t *ssi_non_detections(const ssi_obj *o)
{
    json_t *items = json_array();
    for (size_t i = 0; i < o->nnd; i++)
        json_array_append_new(items, ssi_non_detection_json(o, o->nd[i]));
    return items;
}

/* ---- magnitude statistics ---- */

/* ALeRCE's dmdt_first of band @p fid: over the non-detections of the band more than SSI_DT_MIN
 * day before the first detection (magnitude m, error e, at t), the least (m + e - diffmaglim) /
 * dt, with dm = m - diffmaglim, sigmadm = e - diffmaglim and dt of the same non-detection. */
static void ssi_magstats_dmdt(const ssi_obj *o, int fid, const ss_alert *first, json_t *j)
{
    double m = ssi_or(first, "magpsf", first->mag), e = ssi_or(first, "sigmapsf", first->magerr);
    double best = NAN, dm = NAN, sdm = NAN, dt = NAN;
    for (size_t i = 0; i < o->nnd; i++) {
        const ss_alert *u = o->nd[i];
        double lim = ssi_or(u, "diffmaglim", u->maglim), d = first->mjd - u->mjd;
        if (ssi_fid(u) != fid || !(d > SSI_DT_MIN) || !isfinite(lim))
            continue;
        double slope = (m + e - lim) / d;
        if (isnan(best) || slope < best)
            best = slope, dm = m - lim, sdm = e - lim, dt = d;
    }
    json_object_set_new(j, "dmdt_first", ss_json_num(best));
    json_object_set_new(j, "dm_first", ss_json_num(dm));
    json_object_set_new(j, "sigmadm_first", ss_json_num(sdm));
    json_object_set_new(j, "dt_first", ss_json_num(dt));
}

static void ssi_magstats_mags(const ssi_obj *o, int fid, json_t *j)
{
    size_t n;
    double *v = ssi_band_mags(o, fid, &n);
    ssi_stats s = {0};
    if (v)
        ssi_stats_of(v, n, &s);
    free(v);
    json_object_set_new(j, "magmean", ss_json_num(v ? s.mean : NAN));
    json_object_set_new(j, "magmedian", ss_json_num(v ? s.median : NAN));
    json_object_set_new(j, "magmax", ss_json_num(v ? s.max : NAN));
    json_object_set_new(j, "magmin", ss_json_num(v ? s.min : NAN));
    json_object_set_new(j, "magsigma", ss_json_num(v ? s.sigma : NAN));
}

static json_t *ssi_magstats_band(const ssi_obj *o, int fid)
{
    const ss_alert *first = NULL, *last = NULL;
    size_t n = 0;
    for (size_t i = 0; i < o->ndet; i++)
        if (ssi_fid(o->det[i]) == fid)
            last = o->det[i], first = first ? first : last, n++;
    json_t *j = json_pack("{s:i, s:n, s:b, s:I, s:n}", "fid", fid, "stellar", "corrected", 0,
                          "ndet", (json_int_t)n, "ndubious");
    ssi_magstats_dmdt(o, fid, first, j);
    ssi_magstats_mags(o, fid, j);
    json_object_set_new(j, "maglast", ss_json_num(ssi_or(last, "magpsf", last->mag)));
    json_object_set_new(j, "magfirst", ss_json_num(ssi_or(first, "magpsf", first->mag)));
    static const char *const corr[] = {
        "magmean_corr",  "magmedian_corr", "magmax_corr",   "magmin_corr",
        "magsigma_corr", "maglast_corr",   "magfirst_corr", NULL};
    for (size_t i = 0; corr[i]; i++)
        json_object_set_new(j, corr[i], json_null());
    json_object_set_new(j, "firstmjd", ss_json_num(first->mjd));
    json_object_set_new(j, "lastmjd", ss_json_num(last->mjd));
    json_object_set_new(j, "step_id_corr", json_null());
    return j;
}

/* One item per band with detections, by fid. */
static json_t *ssi_magstats(const ssi_obj *o)
{
    json_t *items = json_array();
    int seen[64] = {0};
    for (size_t i = 0; i < o->ndet; i++) {
        int fid = ssi_fid(o->det[i]);
        if (fid >= 0 && fid < 64)
            seen[fid] = 1;
    }
    for (int fid = 0; fid < 64; fid++)
        if (seen[fid])
            json_array_append_new(items, ssi_magstats_band(o, fid));
    return items;
}

static const char *const ssi_magstats_columns[] = {
    "fid",          "stellar",       "corrected",
    "ndet",         "ndubious",      "dmdt_first",
    "dm_first",     "sigmadm_first", "dt_first",
    "magmean",      "magmedian",     "magmax",
    "magmin",       "magsigma",      "maglast",
    "magfirst",     "magmean_corr",  "magmedian_corr",
    "magmax_corr",  "magmin_corr",   "magsigma_corr",
    "maglast_corr", "magfirst_corr", "firstmjd",
    "lastmjd",      "step_id_corr",  NULL};

/* ---- features and probabilities: the naming rule ---- */

typedef struct ssi_prob {
    const char *classifier; /* not NUL-terminated: classifier_len bytes */
    size_t classifier_len;
    const char *class_name;
    double p;
    unsigned ranking;
} ssi_prob;

static int ssi_prob_cmp(const void *a, const void *b)
{
    const ssi_prob *x = a, *y = b;
    size_t n = x->classifier_len < y->classifier_len ? x->classifier_len : y->classifier_len;
    int c = memcmp(x->classifier, y->classifier, n);
    if (c || x->classifier_len != y->classifier_len)
        return c ? c : x->classifier_len < y->classifier_len ? -1 : 1;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return strcmp(x->class_name, y->class_name);
}

/* The probabilities among @p props (prob_<classifier>_<class>), by classifier then ranking, in
 * @p arena (*out; NULL when none). @return their number. */
static size_t ssi_probs(const ss_prop *props, uint32_t n, ss_arena *arena, ssi_prob **out)
{
    ssi_prob *v = n ? ss_arena_alloc(arena, n * sizeof *v) : NULL;
    size_t k = 0;
    for (uint32_t i = 0; v && i < n; i++) {
        const char *name = props[i].name, *last = strrchr(name, '_');
        double p = ssi_value_num(&props[i].value);
        if (strncmp(name, "prob_", 5) || last <= name + 5 || !last[1] || isnan(p))
            continue;
        v[k++] = (ssi_prob){name + 5, (size_t)(last - name - 5), last + 1, p, 0};
    }
    if (k)
        qsort(v, k, sizeof *v, ssi_prob_cmp);
    for (size_t i = 0; i < k; i++)
        v[i].ranking = i && v[i].classifier_len == v[i - 1].classifier_len &&
                               !memcmp(v[i].classifier, v[i - 1].classifier, v[i].classifier_len)
                           ? v[i - 1].ranking + 1
                           : 1;
    *out = v;
    return k;
}

static int ssi_prob_is(const ssi_prob *p, const char *classifier)
{
    return strlen(classifier) == p->classifier_len &&
           !memcmp(p->classifier, classifier, p->classifier_len);
}

static json_t *ssi_prob_json(const ssi_prob *p)
{
    return json_pack("{s:o, s:n, s:o, s:f, s:i}", "classifier_name",
                     ss_json_textn(p->classifier, p->classifier_len), "classifier_version",
                     "class_name", ss_json_text(p->class_name), "probability", p->p, "ranking",
                     (int)p->ranking);
}

static const char *const ssi_prob_columns[] = {
    "classifier_name", "classifier_version", "class_name", "probability", "ranking", NULL};

/* feature_<name>[_<fid>]: @return 1 with the name (@p len bytes) and fid. */
static int ssi_feature_name(const char *prop, const char **name, size_t *len, int *fid)
{
    if (strncmp(prop, "feature_", 8) || !prop[8])
        return 0;
    *name = prop + 8;
    *len = strlen(*name);
    *fid = 0;
    const char *last = strrchr(*name, '_');
    if (last && last > *name && last[1] && strspn(last + 1, "0123456789") == strlen(last + 1) &&
        strlen(last + 1) < 6) {
        *fid = atoi(last + 1);
        *len = (size_t)(last - *name);
    }
    return 1;
}

/* The features of @p o, all or those named @p only, of band @p fid (< 0: any). */
static json_t *ssi_features(const ssi_obj *o, const char *only, int fid)
{
    json_t *items = json_array();
    for (uint32_t i = 0; i < o->nprops; i++) {
        const char *name;
        size_t len;
        int f;
        double v = ssi_value_num(&o->props[i].value);
        if (!ssi_feature_name(o->props[i].name, &name, &len, &f) || isnan(v) ||
            (fid >= 0 && f != fid) || (only && (strlen(only) != len || memcmp(only, name, len))))
            continue;
        json_array_append_new(items,
                              json_pack("{s:o, s:f, s:i, s:n}", "name", ss_json_textn(name, len),
                                        "value", v, "fid", f, "version"));
    }
    return items;
}

static const char *const ssi_feature_columns[] = {"name", "value", "fid", "version", NULL};

/* ---- answers ---- */

/* ALeRCE's client reads an error's "message", and "errors" for a bad parameter: add them to the
 * server's {"error", "detail"}. */
static void ssi_alerce_error(ssi_req *r)
{
    if (r->status < 400 || !r->body)
        return;
    json_t *o = json_loadb(r->body, r->len, 0, NULL);
    const char *detail = json_string_value(json_object_get(o, "detail")), *q;
    if (!detail) {
        json_decref(o);
        return;
    }
    json_object_set_new(o, "message", json_string(detail));
    if (!strncmp(detail, "parameter '", 11) && (q = strchr(detail + 11, '\''))) {
        char key[80];
        snprintf(key, sizeof key, "%.*s", (int)(q - detail - 11), detail + 11);
        json_object_set_new(o, "errors", json_pack("{s:s}", key, detail));
    }
    ssi_reply_json(r, r->status, o);
}

/* A list as a bare array (ALeRCE's shape), or CSV; an object as itself, or one CSV row. */
static void ssi_answer(ssi_req *r, json_t *out, const char *const *columns)
{
    if (!r->csv) {
        ssi_reply_json(r, MHD_HTTP_OK, out);
        return;
    }
    if (!json_is_array(out))
        out = json_pack("[o]", out);
    ssi_reply_table(r, NULL, out, columns);
}

/* An object's view: its JSON (stolen by the caller), or NULL after answering an error. */
typedef json_t *(*ssi_view)(ssi_req *r, ss_store_txn *txn, const ssi_obj *o);

/* Read the object of the path, show it through @p view. */
static void ssi_object_route(ssi_req *r, ssi_view view, const char *const *columns)
{
    ss_store_txn *txn = ssi_read(r);
    if (!txn) {
        ssi_alerce_error(r);
        return;
    }
    ssi_obj o;
    ss_err err = {0};
    int rc = ssi_obj_load(txn, r->seg[3], &o, &err);
    json_t *out = rc ? NULL : view(r, txn, &o);
    ss_store_txn_abort(txn);
    ssi_obj_free(&o);
    if (rc)
        ssi_reply_code(r, rc, &err);
    else if (out)
        ssi_answer(r, out, columns);
    ssi_alerce_error(r);
}

static json_t *ssi_view_object(ssi_req *r, ss_store_txn *txn, const ssi_obj *o)
{
    (void)r, (void)txn;
    return ssi_object_json(o);
}

static json_t *ssi_view_detections(ssi_req *r, ss_store_txn *txn, const ssi_obj *o)
{
    (void)r;
    return ssi_detections(txn, o);
}

static json_t *ssi_view_non_detections(ssi_req *r, ss_store_txn *txn, const ssi_obj *o)
{
    (void)r, (void)txn;
    return ssi_non_detections(o);
}

static json_t *ssi_view_lightcurve(ssi_req *r, ss_store_txn *txn, const ssi_obj *o)
{
    if (r->csv) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "parameter 'format': a light curve is two tables; ask detections and "
                        "non_detections for CSV");
        return NULL;
    }
    return json_pack("{s:o, s:o}", "detections", ssi_detections(txn, o), "non_detections",
                     ssi_non_detections(o));
}

static json_t *ssi_view_magstats(ssi_req *r, ss_store_txn *txn, const ssi_obj *o)
{
    (void)r, (void)txn;
    return ssi_magstats(o);
}

/* fid (a band) narrows the features; version is not recorded, so only null matches none. */
static int ssi_feature_fid(ssi_req *r, int *fid)
{
    uint64_t f = 0;
    int got = ssi_param_uint(r, "fid", 0, 99999, &f);
    *fid = got == 1 ? (int)f : -1;
    return got < 0 ? -1 : 0;
}

static json_t *ssi_view_features(ssi_req *r, ss_store_txn *txn, const ssi_obj *o)
{
    (void)txn;
    int fid;
    return ssi_feature_fid(r, &fid) ? NULL : ssi_features(o, NULL, fid);
}

static json_t *ssi_view_feature(ssi_req *r, ss_store_txn *txn, const ssi_obj *o)
{
    (void)txn;
    int fid;
    if (ssi_feature_fid(r, &fid))
        return NULL;
    json_t *items = ssi_features(o, r->seg[5], fid);
    if (!json_array_size(items)) {
        json_decref(items);
        ssi_reply_error(r, MHD_HTTP_NOT_FOUND, "Feature %.128s not found for %s", r->seg[5],
                        o->oid);
        return NULL;
    }
    return items;
}

/* classifier (optional) narrows the probabilities to one classifier. */
static json_t *ssi_view_probabilities(ssi_req *r, ss_store_txn *txn, const ssi_obj *o)
{
    (void)txn;
    const char *only = ssi_param(r, "classifier");
    ssi_prob *p;
    size_t n = ssi_probs(o->props, o->nprops, o->pkt->arena, &p);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        if (!only || ssi_prob_is(&p[i], only))
            json_array_append_new(items, ssi_prob_json(&p[i]));
    return items;
}

void ssi_alerce_object(ssi_req *r)
{
    ssi_object_route(r, ssi_view_object, ssi_object_columns);
}

void ssi_alerce_detections(ssi_req *r)
{
    ssi_object_route(r, ssi_view_detections, ssi_det_columns);
}

void ssi_alerce_non_detections(ssi_req *r)
{
    ssi_object_route(r, ssi_view_non_detections, ssi_nd_columns);
}

void ssi_alerce_lightcurve(ssi_req *r)
{
    ssi_object_route(r, ssi_view_lightcurve, NULL);
}

void ssi_alerce_magstats(ssi_req *r)
{
    ssi_object_route(r, ssi_view_magstats, ssi_magstats_columns);
}

void ssi_alerce_features(ssi_req *r)
{
    ssi_object_route(r, ssi_view_features, ssi_feature_columns);
}

void ssi_alerce_feature(ssi_req *r)
{
    ssi_object_route(r, ssi_view_feature, ssi_feature_columns);
}

void ssi_alerce_probabilities(ssi_req *r)
{
    ssi_object_route(r, ssi_view_probabilities, ssi_prob_columns);
}

/* ---- classifiers: every prob_ property of every locus ---- */

/* Note the classes of one locus's probabilities in @p map (classifier -> {class: true}). */
static void ssi_classes_add(json_t *map, const ss_prop *props, uint32_t n, ss_arena *arena)
{
    ssi_prob *p;
    size_t k = ssi_probs(props, n, arena, &p);
    for (size_t i = 0; i < k; i++) {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)p[i].classifier_len, p[i].classifier);
        json_t *classes = json_object_get(map, name);
        if (!classes)
            json_object_set_new(map, name, classes = json_object());
        json_object_set_new(classes, p[i].class_name, json_true());
    }
}

static int ssi_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of @p o, sorted, as a JSON array of strings. */
static json_t *ssi_sorted_keys(json_t *o)
{
    size_t n = json_object_size(o), i = 0;
    const char **keys = malloc((n ? n : 1) * sizeof *keys), *k;
    json_t *v, *out = json_array();
    json_object_foreach(o, k, v) if (keys) keys[i++] = k;
    if (keys)
        qsort(keys, n, sizeof *keys, ssi_str_cmp);
    for (i = 0; keys && i < n; i++)
        json_array_append_new(out, json_string(keys[i]));
    free(keys);
    return out;
}

/* One pass over every locus's filter outputs. */
static int ssi_classes_scan(ss_store_txn *txn, json_t *map)
{
    ss_store_bags *it = NULL;
    ss_arena *arena = ss_arena_new();
    int rc = arena ? ss_store_bags_open(txn, SS_STORE_LOCUS_BAGS, &it) : SS_ENOMEM;
    while (!rc) {
        const char *key;
        size_t klen;
        ss_prop *props;
        uint32_t n;
        ss_arena_reset(arena);
        rc = ss_store_bags_next(it, arena, &key, &klen, &props, &n);
        if (rc == 1)
            ssi_classes_add(map, props, n, arena), rc = 0;
        else
            break;
    }
    ss_store_bags_close(it);
    ss_arena_free(arena);
    return rc;
}

void ssi_alerce_classifiers(ssi_req *r)
{
    ss_store_txn *txn = ssi_read(r);
    if (!txn) {
        ssi_alerce_error(r);
        return;
    }
    json_t *map = json_object(), *items = json_array(), *names = NULL, *name;
    int rc = ssi_classes_scan(txn, map);
    ss_store_txn_abort(txn);
    size_t i;
    if (!rc)
        names = ssi_sorted_keys(map);
    json_array_foreach(names, i, name)
    {
        const char *c = json_string_value(name);
        json_array_append_new(items, json_pack("{s:s, s:n, s:o}", "classifier_name", c,
                                               "classifier_version", "classes",
                                               ssi_sorted_keys(json_object_get(map, c))));
    }
    json_decref(names);
    json_decref(map);
    if (rc) {
        json_decref(items);
        ssi_reply_code(r, rc, NULL);
    } else
        ssi_answer(r, items, NULL);
    ssi_alerce_error(r);
}

/* ---- objects: the query ---- */

/* A range as ALeRCE sends it, a repeated key: one value a lower bound, two both bounds. */
typedef struct ssi_range {
    int n;
    double lo, hi;
} ssi_range;

typedef struct ssi_oq {
    ss_query_search q; /* the search that finds the candidates */
    ss_query_cond conds[4];
    char tag[SS_TAG_MAX + 1], prob_prop[SS_TAG_MAX + 8];
    ssi_range ndet, firstmjd, lastmjd;
    const char *classifier, *class_name;
    double probability; /* NAN: none */
    uint64_t ranking;
    const char *oids[SSI_MAX_PARAMS];
    size_t noids;
    const char *order_by; /* NULL: the search's order */
    int descending, count;
    size_t page, page_size;
} ssi_oq;

static int ssi_range_value(ssi_req *r, ssi_kv *p, int whole, double *out)
{
    char *end;
    double d = strtod(p->value, &end);
    p->used = 1;
    if (end != p->value && !*end && isfinite(d) && d >= 0 && (!whole || d == floor(d))) {
        *out = d;
        return 0;
    }
    ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "parameter '%s': wants %s, not '%.64s'", p->key,
                    whole ? "a whole number" : "a number", p->value);
    return -1;
}

/* @return 0, or -1 after answering 400. */
static int ssi_range_param(ssi_req *r, const char *key, int whole, ssi_range *out)
{
    for (size_t i = 0; i < r->nparams; i++) {
        if (strcmp(r->params[i].key, key))
            continue;
        if (out->n == 2) {
            ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                            "parameter '%s': a range is one value (a minimum) or two", key);
            return -1;
        }
        if (ssi_range_value(r, &r->params[i], whole, out->n ? &out->hi : &out->lo))
            return -1;
        out->n++;
    }
    return 0;
}

static int ssi_in_range(const ssi_range *g, double v)
{
    return !g->n || (v >= g->lo && (g->n == 1 || v <= g->hi));
}

/* ra, dec (degrees) and radius (arcseconds) together. */
static int ssi_oq_cone(ssi_req *r, ss_query_search *q)
{
    int a = ssi_param_num(r, "ra", 0, 360, &q->ra), b = ssi_param_num(r, "dec", -90, 90, &q->dec);
    int c = a < 0 || b < 0
                ? -1
                : ssi_param_num(r, "radius", 0, r->srv->conf->max_cone_arcsec, &q->radius_arcsec);
    if (a < 0 || b < 0 || c < 0)
        return -1;
    if ((a || b || c) && !(a && b && c)) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "parameter '%s': a cone needs ra, dec (degrees) and radius (arcsec)",
                        !a   ? "ra"
                        : !b ? "dec"
                             : "radius");
        return -1;
    }
    if (c && !(q->radius_arcsec > 0)) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "parameter 'radius': must be above 0");
        return -1;
    }
    q->ra = q->ra == 360 ? 0 : q->ra;
    q->cone = a;
    return 0;
}

/* class and classifier name a tag (see the top of this file); probability needs both. */
static int ssi_oq_class(ssi_req *r, ssi_oq *o)
{
    o->classifier = ssi_param(r, "classifier");
    o->class_name = ssi_param(r, "class");
    o->probability = NAN;
    int p = ssi_param_num(r, "probability", 0, 1, &o->probability);
    if (p < 0 || ssi_param_uint(r, "ranking", 1, 1000, &o->ranking) < 0)
        return -1;
    if (p && !(o->classifier && o->class_name)) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "parameter 'probability': needs classifier and class (it is the locus "
                        "property prob_CLASSIFIER_CLASS)");
        return -1;
    }
    if (!o->class_name)
        return 0;
    int n = o->classifier ? snprintf(o->tag, sizeof o->tag, "%s_%s", o->classifier, o->class_name)
                          : snprintf(o->tag, sizeof o->tag, "%s", o->class_name);
    if (n < 0 || (size_t)n >= sizeof o->tag) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "parameter 'class': the tag CLASSIFIER_CLASS is longer than %d bytes",
                        SS_TAG_MAX);
        return -1;
    }
    snprintf(o->prob_prop, sizeof o->prob_prop, "prob_%s", o->tag);
    o->q.tag = o->tag;
    return 0;
}

/* The fields an object list can be sorted by: those skysieve computes. */
static const char *const ssi_order_fields[] = {
    "oid",     "ndethist", "ncovhist", "mjdstarthist", "mjdendhist", "ndet",
    "g_r_max", "g_r_mean", "firstmjd", "lastmjd",      "deltajd",    "meanra",
    "meandec", "sigmara",  "sigmadec", "probability",  NULL};

static int ssi_oq_order(ssi_req *r, ssi_oq *o)
{
    const char *by = ssi_param(r, "order_by"), *mode = ssi_param(r, "order_mode");
    size_t i = 0;
    while (by && ssi_order_fields[i] && strcmp(ssi_order_fields[i], by))
        i++;
    if (by && !ssi_order_fields[i]) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST,
                        "parameter 'order_by': one of oid, ndethist, ncovhist, mjdstarthist, "
                        "mjdendhist, ndet, g_r_max, g_r_mean, firstmjd, lastmjd, deltajd, meanra, "
                        "meandec, sigmara, sigmadec, probability (skysieve computes no corrected "
                        "values), not '%.64s'",
                        by);
        return -1;
    }
    if (mode && strcasecmp(mode, "ASC") && strcasecmp(mode, "DESC")) {
        ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "parameter 'order_mode': ASC or DESC, not '%.32s'",
                        mode);
        return -1;
    }
    o->order_by = by;
    o->descending = mode && !strcasecmp(mode, "DESC");
    return 0;
}

/* ALeRCE's booleans: true/false, yes/no, t/f, y/n, 1/0. */
static int ssi_oq_count(ssi_req *r, int *out)
{
    const char *v = ssi_param(r, "count");
    if (!v)
        return 0;
    static const char *const yes[] = {"true", "yes", "t", "y", "1"}, *const no[] = {"false", "no",
                                                                                    "f", "n", "0"};
    for (size_t i = 0; i < 5; i++)
        if (!strcasecmp(v, yes[i]) || !strcasecmp(v, no[i])) {
            *out = !strcasecmp(v, yes[i]);
            return 0;
        }
    ssi_reply_error(r, MHD_HTTP_BAD_REQUEST, "parameter 'count': wants true or false, not '%.32s'",
                    v);
    return -1;
}

/* Conditions the search can check through the broker's locus properties: each holds for every
 * locus of a matching object (num_mag_values counts every detection, oldest and newest every
 * measurement), so they narrow the walk without losing objects; the object's own numbers are
 * checked on it. */
static void ssi_oq_conds(ssi_oq *o)
{
    ss_query_cond *c = o->conds;
    if (o->ndet.n)
        *c++ = (ss_query_cond){"num_mag_values", SS_QUERY_GTE, o->ndet.lo, NULL};
    if (o->firstmjd.n == 2)
        *c++ = (ss_query_cond){"oldest_alert_observation_time", SS_QUERY_LTE, o->firstmjd.hi, NULL};
    if (o->lastmjd.n)
        *c++ = (ss_query_cond){"newest_alert_observation_time", SS_QUERY_GTE, o->lastmjd.lo, NULL};
    if (!isnan(o->probability))
        *c++ = (ss_query_cond){o->prob_prop, SS_QUERY_GTE, o->probability, NULL};
    o->q.conds = o->conds;
    o->q.nconds = (size_t)(c - o->conds);
}

static int ssi_oq_parse(ssi_req *r, ssi_oq *o)
{
    o->page_size = SSI_PAGE_SIZE;
    o->ranking = 1;
    if (ssi_oq_cone(r, &o->q) || ssi_param_page(r, &o->page, &o->page_size) < 0 ||
        ssi_oq_count(r, &o->count) || ssi_range_param(r, "ndet", 1, &o->ndet) ||
        ssi_range_param(r, "firstmjd", 0, &o->firstmjd) ||
        ssi_range_param(r, "lastmjd", 0, &o->lastmjd) || ssi_oq_class(r, o) || ssi_oq_order(r, o))
        return -1;
    for (size_t i = 0; i < r->nparams; i++)
        if (!strcmp(r->params[i].key, "oid"))
            o->oids[o->noids++] = r->params[i].value, r->params[i].used = 1;
    ssi_oq_conds(o);
    return 0;
}

/* ---- objects: the page ---- */

/* One object of a sorted list. */
typedef struct ssi_key {
    char oid[SS_ID_MAX + 1];
    double num; /* NAN: none (sorted last) */
} ssi_key;

typedef struct ssi_pager {
    ssi_req *r;
    ss_store_txn *txn;
    const ssi_oq *q;
    int by_search;     /* the search checked the cone, the tag and the probability */
    size_t skip, want; /* objects before the page, and on it */
    size_t accepted, built, visited;
    int done, has_next;
    json_t *items; /* the page, unless sorting */
    ssi_key *keys; /* malloc'd: every accepted object, when sorting */
    size_t nkeys, capkeys;
    ss_err *err;
} ssi_pager;

/* What an item shows: the probability at the asked ranking of the asked classifier, else of the
 * classifier of the highest probability (@p p is by classifier, then ranking). */
static const ssi_prob *ssi_item_prob(const ssi_oq *q, const ssi_prob *p, size_t n)
{
    const ssi_prob *top = NULL;
    for (size_t i = 0; i < n; i++)
        if (q->classifier ? ssi_prob_is(&p[i], q->classifier) && !top
                          : p[i].ranking == 1 && (!top || p[i].p > top->p))
            top = &p[i];
    for (size_t i = 0; top && i < n; i++)
        if (p[i].classifier_len == top->classifier_len &&
            !memcmp(p[i].classifier, top->classifier, top->classifier_len) &&
            p[i].ranking == q->ranking)
            return &p[i];
    return NULL;
}

/* An item of the list: the object with class, classifier and probability. */
static json_t *ssi_item_json(const ssi_oq *q, const ssi_obj *o)
{
    json_t *j = ssi_object_json(o);
    ssi_prob *p;
    size_t n = ssi_probs(o->props, o->nprops, o->pkt->arena, &p);
    const ssi_prob *shown = ssi_item_prob(q, p, n);
    json_object_set_new(j, "class", shown ? ss_json_text(shown->class_name) : json_null());
    json_object_set_new(j, "classifier",
                        shown ? ss_json_textn(shown->classifier, shown->classifier_len)
                              : json_null());
    json_object_set_new(j, "probability", shown ? json_real(shown->p) : json_null());
    return j;
}

/* What the search did not check already: the object's own ranges; for listed oids, also the
 * cone (around the mean position), the tag and the probability. */
static int ssi_accept(ssi_pager *pg, const ssi_obj *o)
{
    const ssi_oq *q = pg->q;
    if (!ssi_in_range(&q->ndet, (double)o->ndet) || !ssi_in_range(&q->firstmjd, o->firstmjd) ||
        !ssi_in_range(&q->lastmjd, o->lastmjd))
        return 0;
    if (pg->by_search)
        return 1;
    ss_tag_record rec;
    if (q->q.cone && !(ss_sky_separation_deg(q->q.ra, q->q.dec, o->meanra, o->meandec) * 3600 <=
                       q->q.radius_arcsec))
        return 0;
    if (q->q.tag && ss_store_tag_get(pg->txn, o->locus_id, q->q.tag, &rec))
        return 0;
    for (uint32_t i = 0; !isnan(q->probability) && i < o->nprops; i++)
        if (!strcmp(o->props[i].name, q->prob_prop))
            return ssi_value_num(&o->props[i].value) >= q->probability;
    return isnan(q->probability);
}

static int ssi_too_many(ssi_pager *pg)
{
    return ss_err_set(pg->err, SS_ELIMIT,
                      "more than %d ZTF objects (%d loci) to examine: narrow the search (a cone, "
                      "a class, ranges of ndet, firstmjd or lastmjd) or leave out order_by",
                      SSI_BUILD_CAP, SSI_WALK_CAP);
}

/* Keep an accepted object: on the page, or its sort key. */
static int ssi_take(ssi_pager *pg, const ssi_obj *o)
{
    size_t nth = ++pg->accepted;
    if (pg->q->order_by) {
        if (pg->nkeys == pg->capkeys) {
            size_t cap = pg->capkeys ? 2 * pg->capkeys : 256;
            ssi_key *k = realloc(pg->keys, cap * sizeof *k);
            if (!k)
                return SS_ENOMEM;
            pg->keys = k, pg->capkeys = cap;
        }
        ssi_key *k = &pg->keys[pg->nkeys++];
        json_t *j = ssi_item_json(pg->q, o);
        snprintf(k->oid, sizeof k->oid, "%s", o->oid);
        json_t *v = json_object_get(j, pg->q->order_by);
        const char *text = json_string_value(v);
        k->num = text && strcmp(pg->q->order_by, "oid") ? strtod(text, NULL)
                 : json_is_number(v)                    ? json_number_value(v)
                                                        : NAN;
        json_decref(j);
    } else if (nth > pg->skip && nth <= pg->skip + pg->want)
        json_array_append_new(pg->items, ssi_item_json(pg->q, o));
    else if (nth > pg->skip + pg->want) {
        pg->has_next = 1;
        pg->done = !pg->q->count;
    }
    return 0;
}

/* Whether the next accepted object must be read whole: to check it, sort it or show it. */
static int ssi_must_read(const ssi_pager *pg)
{
    const ssi_oq *q = pg->q;
    size_t nth = pg->accepted + 1;
    return q->order_by || q->ndet.n || q->firstmjd.n || q->lastmjd.n || !pg->by_search ||
           (nth > pg->skip && nth <= pg->skip + pg->want);
}

/* One candidate object. Read when needed; an unknown oid is passed over. */
static int ssi_visit(ssi_pager *pg, const char *oid)
{
    if (++pg->visited > SSI_WALK_CAP)
        return ssi_too_many(pg);
    if (!ssi_must_read(pg)) {
        pg->accepted++;
        if (pg->accepted > pg->skip + pg->want)
            pg->has_next = 1, pg->done = !pg->q->count;
        return 0;
    }
    if (++pg->built > SSI_BUILD_CAP)
        return ssi_too_many(pg);
    ssi_obj o;
    ss_err ignored = {0};
    int rc = ssi_obj_load(pg->txn, oid, &o, &ignored);
    if (!rc && ssi_accept(pg, &o))
        rc = ssi_take(pg, &o);
    ssi_obj_free(&o);
    if (rc && rc != SS_ENOTFOUND && !pg->err->code)
        ss_err_set(pg->err, rc, "%s", ignored.msg[0] ? ignored.msg : ss_strerror(rc));
    return rc == SS_ENOTFOUND ? 0 : rc;
}

/* The ZTF objects of a locus of the search, each at the first of its loci only. */
static int ssi_visit_locus(ssi_pager *pg, const ss_locus *l)
{
    int rc = 0;
    for (uint32_t i = 0; !rc && !pg->done && i < l->nobjects; i++) {
        const ss_locus_object *ob = &l->objects[i];
        ssi_loci loci;
        if (strcmp(ob->survey, SSI_ZTF))
            continue;
        rc = ssi_loci_of(pg->txn, ob->object_id, &loci);
        if (!rc && loci.n && !strcmp(loci.id[0], l->id))
            rc = ssi_visit(pg, ob->object_id);
    }
    return rc;
}

/* Walk the search's pages until the page is full (or, counting, to the end). */
static int ssi_from_search(ssi_pager *pg)
{
    ss_query_search q = pg->q->q;
    /* one search page holds the asked page when few loci are passed over */
    size_t enough = pg->skip + pg->want + 1;
    q.page_size = enough < 64 ? 64 : enough > SSI_CHUNK ? SSI_CHUNK : enough;
    int rc = 0, more = 1;
    for (q.page = 1; !rc && more && !pg->done; q.page++) {
        ss_query_page page = {0};
        rc = ss_query_search_run(ssi_store(pg->r), &q, &page, pg->err);
        for (size_t i = 0; !rc && !pg->done && i < page.n; i++)
            rc = ssi_visit_locus(pg, &page.hits[i].locus);
        more = page.has_next;
        ss_query_page_free(&page);
    }
    return rc;
}

/* The objects listed with oid, each once, in the order given. */
static int ssi_from_oids(ssi_pager *pg)
{
    int rc = 0;
    for (size_t i = 0; !rc && !pg->done && i < pg->q->noids; i++) {
        size_t j = 0;
        while (j < i && strcmp(pg->q->oids[j], pg->q->oids[i]))
            j++;
        if (j == i)
            rc = ssi_visit(pg, pg->q->oids[i]);
    }
    return rc;
}

static int ssi_key_cmp(const void *a, const void *b, void *ctx)
{
    const ssi_key *x = a, *y = b;
    const ssi_oq *q = ctx;
    int c = 0;
    if (!strcmp(q->order_by, "oid"))
        c = strcmp(x->oid, y->oid);
    else if (isnan(x->num) || isnan(y->num))
        return isnan(x->num) - isnan(y->num); /* none last, either way */
    else
        c = (x->num > y->num) - (x->num < y->num);
    c = q->descending ? -c : c;
    return c ? c : strcmp(x->oid, y->oid);
}

/* Sort the accepted objects and read those of the page. */
static int ssi_sorted_page(ssi_pager *pg)
{
    if (pg->nkeys)
        qsort_r(pg->keys, pg->nkeys, sizeof *pg->keys, ssi_key_cmp, (void *)pg->q);
    int rc = 0;
    for (size_t i = pg->skip; !rc && i < pg->nkeys && i < pg->skip + pg->want; i++) {
        ssi_obj o;
        if (!(rc = ssi_obj_load(pg->txn, pg->keys[i].oid, &o, pg->err)))
            json_array_append_new(pg->items, ssi_item_json(pg->q, &o));
        ssi_obj_free(&o);
    }
    pg->has_next = pg->nkeys > pg->skip + pg->want;
    return rc;
}

/* ALeRCE's envelope: total (null unless counted), page, next, has_next, prev, has_prev. */
static void ssi_objects_reply(ssi_pager *pg)
{
    const ssi_oq *q = pg->q;
    int counted = q->count || q->order_by;
    json_t *env = json_object();
    json_object_set_new(env, "total",
                        counted ? json_integer((json_int_t)pg->accepted) : json_null());
    json_object_set_new(env, "page", json_integer((json_int_t)q->page));
    json_object_set_new(env, "next",
                        pg->has_next ? json_integer((json_int_t)q->page + 1) : json_null());
    json_object_set_new(env, "has_next", json_boolean(pg->has_next));
    json_object_set_new(env, "prev",
                        q->page > 1 ? json_integer((json_int_t)q->page - 1) : json_null());
    json_object_set_new(env, "has_prev", json_boolean(q->page > 1));
    ssi_reply_table(pg->r, env, pg->items, ssi_alerce_item_columns);
    pg->items = NULL;
}

static void ssi_objects(ssi_req *r)
{
    ssi_oq q = {0};
    if (ssi_oq_parse(r, &q))
        return;
    ss_err err = {0};
    ssi_pager pg = {.r = r, .q = &q, .by_search = !q.noids, .err = &err, .items = json_array()};
    pg.skip = (q.page - 1) * q.page_size;
    pg.want = q.page_size;
    if (!(pg.txn = ssi_read(r))) {
        json_decref(pg.items);
        return;
    }
    int rc = q.noids ? ssi_from_oids(&pg) : ssi_from_search(&pg);
    if (!rc && q.order_by)
        rc = ssi_sorted_page(&pg);
    ss_store_txn_abort(pg.txn);
    if (rc)
        ssi_reply_code(r, rc, &err);
    else
        ssi_objects_reply(&pg);
    json_decref(pg.items);
    free(pg.keys);
}

void ssi_alerce_objects(ssi_req *r)
{
    ssi_objects(r);
    ssi_alerce_error(r);
}
