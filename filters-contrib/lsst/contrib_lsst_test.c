/*
 * The Rubin/LSST contributed filters (filters-contrib/lsst/lsst.ini): Rubin-like Avro alerts
 * generated here with avro-c exercise each cut on both sides of its threshold; the real Rubin,
 * Confluent-framed and ELAsTiCC alerts of ../shared/data replay through the set without an error.
 */
#include "testutil.h"

#include "filters.h"
#include "ingest.h"
#include "query.h"

#include <avro.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LSST_SET SS_CONTRIB_SRC "/lsst/lsst.ini"
#define T0       60500.0
#define NONE     (-1) /* ssObjectId null */

/* One fixture measurement: a detection (the alert's diaSource) or a forced measurement, which
 * travels in the prvDiaForcedSources of every later alert of its object. */
typedef struct src {
    long long obj; /* diaObjectId; the position follows from it */
    double dt;     /* days after T0 */
    const char *band;
    double flux, err; /* nJy */
    double rel;       /* reliability; NAN: null */
    long long sso;    /* ssObjectId; NONE: null */
    const char *flag; /* the name of a flag set true, or NULL */
    int forced;
    double first; /* diaObject.firstDiaSourceMjdTai as days after T0; NAN: null */
} src;

static const char forced_type[] =
    "{\"type\":\"record\",\"name\":\"f1\",\"fields\":["
    "{\"name\":\"diaForcedSourceId\",\"type\":\"long\"},{\"name\":\"midpointMjdTai\",\"type\":"
    "\"double\"},{\"name\":\"band\",\"type\":\"string\"},{\"name\":\"ra\",\"type\":\"double\"},"
    "{\"name\":\"dec\",\"type\":\"double\"},{\"name\":\"psfFlux\",\"type\":\"float\"},"
    "{\"name\":\"psfFluxErr\",\"type\":\"float\"}]}";

/* A Rubin-like alert schema, record names rewritten as a broker would; @p reliability: whether
 * the diaSource has the field (schema 7.4 on) or not (ELAsTiCC-like). @return malloc'd. */
static char *lsst_schema(int reliability)
{
    char *s = NULL;
    ck_assert_int_ge(
        asprintf(&s,
                 "{\"type\":\"record\",\"name\":\"fixtureAlert\",\"fields\":["
                 "{\"name\":\"diaSource\",\"type\":{\"type\":\"record\",\"name\":\"s1\","
                 "\"fields\":[{\"name\":\"diaSourceId\",\"type\":\"long\"},"
                 "{\"name\":\"diaObjectId\",\"type\":\"long\"},"
                 "{\"name\":\"ssObjectId\",\"type\":[\"null\",\"long\"]},"
                 "{\"name\":\"midpointMjdTai\",\"type\":\"double\"},"
                 "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
                 "{\"name\":\"band\",\"type\":\"string\"},"
                 "{\"name\":\"psfFlux\",\"type\":\"float\"},"
                 "{\"name\":\"psfFluxErr\",\"type\":\"float\"},"
                 "{\"name\":\"snr\",\"type\":\"float\"},"
                 "{\"name\":\"isNegative\",\"type\":\"boolean\"},%s"
                 "{\"name\":\"isDipole\",\"type\":\"boolean\"},"
                 "{\"name\":\"shape_flag\",\"type\":\"boolean\"},"
                 "{\"name\":\"pixelFlags_cr\",\"type\":\"boolean\"},"
                 "{\"name\":\"glint_trail\",\"type\":\"boolean\"}]}},"
                 "{\"name\":\"prvDiaForcedSources\",\"type\":[\"null\",{\"type\":\"array\","
                 "\"items\":%s}]},"
                 "{\"name\":\"diaObject\",\"type\":[\"null\",{\"type\":\"record\",\"name\":"
                 "\"o1\",\"fields\":[{\"name\":\"diaObjectId\",\"type\":\"long\"},"
                 "{\"name\":\"firstDiaSourceMjdTai\",\"type\":[\"null\",\"double\"]}]}]}]}",
                 reliability ? "{\"name\":\"reliability\",\"type\":[\"null\",\"float\"]}," : "",
                 forced_type),
        0);
    return s;
}

static void field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    ck_assert_msg(avro_value_get_by_name(rec, name, out, NULL) == 0, "no field %s", name);
}

static void branch(avro_value_t *rec, const char *name, int b, avro_value_t *out)
{
    avro_value_t u;
    field(rec, name, &u);
    ck_assert_int_eq(avro_value_set_branch(&u, b, out), 0);
}

static double ra_of(long long obj)
{
    return 10.0 + 0.01 * (double)obj;
}

static void fill_source(avro_value_t *s, const src *x, long long id, int reliability)
{
    avro_value_t f;
    static const char *const flags[] = {"isDipole", "shape_flag", "pixelFlags_cr", "glint_trail"};
    field(s, "diaSourceId", &f), avro_value_set_long(&f, id);
    field(s, "diaObjectId", &f), avro_value_set_long(&f, x->obj);
    if (x->sso == NONE)
        branch(s, "ssObjectId", 0, &f), avro_value_set_null(&f);
    else
        branch(s, "ssObjectId", 1, &f), avro_value_set_long(&f, x->sso);
    field(s, "midpointMjdTai", &f), avro_value_set_double(&f, T0 + x->dt);
    field(s, "ra", &f), avro_value_set_double(&f, ra_of(x->obj));
    field(s, "dec", &f), avro_value_set_double(&f, -20.0);
    field(s, "band", &f), avro_value_set_string(&f, x->band);
    field(s, "psfFlux", &f), avro_value_set_float(&f, (float)x->flux);
    field(s, "psfFluxErr", &f), avro_value_set_float(&f, (float)x->err);
    field(s, "snr", &f), avro_value_set_float(&f, (float)(fabs(x->flux) / x->err));
    field(s, "isNegative", &f), avro_value_set_boolean(&f, x->flux < 0);
    if (reliability && isnan(x->rel))
        branch(s, "reliability", 0, &f), avro_value_set_null(&f);
    else if (reliability)
        branch(s, "reliability", 1, &f), avro_value_set_float(&f, (float)x->rel);
    for (size_t k = 0; k < sizeof flags / sizeof *flags; k++) {
        field(s, flags[k], &f);
        avro_value_set_boolean(&f, x->flag && !strcmp(x->flag, flags[k]));
    }
}

/* The alert of detection @p i of @p all: its diaSource, its object's forced measurements and
 * diaObject. */
static void fill_alert(avro_value_t *v, const src *all, size_t n, size_t i, int reliability)
{
    avro_value_t s, arr, item, f, obj;
    avro_value_reset(v);
    field(v, "diaSource", &s);
    fill_source(&s, &all[i], 100 * all[i].obj + (long long)i, reliability); /* unique ids */
    branch(v, "prvDiaForcedSources", 1, &arr);
    for (size_t j = 0; j < n; j++) {
        if (!all[j].forced || all[j].obj != all[i].obj || all[j].dt >= all[i].dt)
            continue; /* Rubin sends the forced measurements before the alert */
        ck_assert_int_eq(avro_value_append(&arr, &item, NULL), 0);
        field(&item, "diaForcedSourceId", &f),
            avro_value_set_long(&f, 100 * all[j].obj + 50 + (long long)j);
        field(&item, "midpointMjdTai", &f), avro_value_set_double(&f, T0 + all[j].dt);
        field(&item, "band", &f), avro_value_set_string(&f, all[j].band);
        field(&item, "ra", &f), avro_value_set_double(&f, ra_of(all[j].obj));
        field(&item, "dec", &f), avro_value_set_double(&f, -20.0);
        field(&item, "psfFlux", &f), avro_value_set_float(&f, (float)all[j].flux);
        field(&item, "psfFluxErr", &f), avro_value_set_float(&f, (float)all[j].err);
    }
    branch(v, "diaObject", 1, &obj);
    field(&obj, "diaObjectId", &f), avro_value_set_long(&f, all[i].obj);
    if (isnan(all[i].first))
        branch(&obj, "firstDiaSourceMjdTai", 0, &f), avro_value_set_null(&f);
    else
        branch(&obj, "firstDiaSourceMjdTai", 1, &f), avro_value_set_double(&f, T0 + all[i].first);
}

/* An Avro container of the detections of @p all, in order. @return its path (malloc'd). */
static char *write_alerts(const char *name, const src *all, size_t n, int reliability)
{
    char *path = tu_path(tu_tmp, name), *json = lsst_schema(reliability);
    avro_schema_t schema;
    ck_assert_msg(avro_schema_from_json_length(json, strlen(json), &schema) == 0, "%s",
                  avro_strerror());
    avro_file_writer_t w;
    ck_assert_msg(avro_file_writer_create(path, schema, &w) == 0, "%s", avro_strerror());
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    for (size_t i = 0; i < n; i++)
        if (!all[i].forced) {
            fill_alert(&v, all, n, i, reliability);
            ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
        }
    avro_file_writer_close(w);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    free(json);
    return path;
}

/* A fixture detection of 5000 nJy at 100 sigma, reliable, not a known asteroid. */
#define DET(o, t, b, fl)                                                                           \
    {                                                                                              \
        (o), (t), (b), (fl), fabs((double)(fl)) / 100.0, 0.9, 0, NULL, 0, NAN                      \
    }

typedef struct night {
    ss_filter_set *fs;
    ss_store *store;
} night;

/* Ingest @p paths (NULL-terminated) through the LSST set into a fresh store. */
static night ingest(const char *const *paths)
{
    night r = {0};
    ss_err err = {0};
    ck_assert_msg(ss_filter_set_load(LSST_SET, &r.fs, &err) == 0, "%s", err.msg);
    char *dir = tu_path(tu_tmp, "store");
    ss_store_options so = {.create = 1};
    ck_assert_int_eq(ss_store_open(dir, &so, &r.store, &err), 0);
    ss_ingest_options o = {.filters = r.fs, .batch_size = 3};
    ss_ingest *in = ss_ingest_new(r.store, &o);
    for (; *paths; paths++)
        ck_assert_msg(ss_ingest_path(in, *paths, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    free(dir);
    return r;
}

static void night_free(night *r)
{
    ss_store_close(r->store);
    ss_filter_set_free(r->fs);
}

/* The locus of diaObject @p obj. */
static json_t *locus(night *r, long long obj)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", obj);
    json_t *o = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_query_locus(r->store, id, NULL, &o, &err) == 0, "object %s: %s", id, err.msg);
    return o;
}

static int has_tag(json_t *l, const char *tag)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(l, "tags"), i, t)
    {
        if (!strcmp(json_string_value(json_object_get(t, "tag")), tag))
            return 1;
    }
    return 0;
}

/* A property of the newest alert of the locus (by time of observation), or NULL. */
static json_t *newest_prop(json_t *l, const char *name)
{
    size_t i;
    json_t *a, *best = NULL;
    json_array_foreach(json_object_get(l, "alerts"), i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "kind")), "detection"))
            continue;
        if (!best || json_real_value(json_object_get(a, "mjd")) >
                         json_real_value(json_object_get(best, "mjd")))
            best = a;
    }
    ck_assert_ptr_nonnull(best);
    return json_object_get(json_object_get(best, "properties"), name);
}

static const char *reason(json_t *l, const char *name)
{
    json_t *v = newest_prop(l, name);
    return v ? json_string_value(v) : NULL;
}

static double lprop(json_t *l, const char *name)
{
    json_t *v = json_object_get(json_object_get(l, "properties"), name);
    ck_assert_msg(json_is_number(v), "locus property %s missing", name);
    return json_number_value(v);
}

static int has_lprop(json_t *l, const char *name)
{
    return json_object_get(json_object_get(l, "properties"), name) != NULL;
}

START_TEST(quality_cuts)
{
    const src all[] = {
        DET(1, 0, "g", 5000),
        {2, 0, "g", 5000, 50, 0.4, 0, NULL, 0, NAN}, /* reliability under 0.5 */
        {3, 0, "g", 5000, 50, 0.6, 0, NULL, 0, NAN}, /* over it */
        DET(4, 0, "g", -5000),
        {5, 0, "g", 5000, 50, 0.9, 0, "isDipole", 0, NAN},
        {6, 0, "g", 5000, 50, 0.9, 0, "glint_trail", 0, NAN},
        {7, 0, "g", 450, 100, 0.9, 0, NULL, 0, NAN}, /* 4.5 sigma */
        {8, 0, "g", 550, 100, 0.9, 0, NULL, 0, NAN}, /* 5.5 sigma */
        {9, 0, "g", 5000, 50, NAN, 0, NULL, 0, NAN}, /* reliability null */
    };
    const src old[] = {DET(10, 0, "g", 5000)}; /* a schema without reliability */
    size_t n = sizeof all / sizeof *all;
    char *a = write_alerts("a.avro", all, n, 1), *b = write_alerts("b.avro", old, 1, 0);
    night r = ingest((const char *const[]){a, b, NULL});
    const struct {
        long long obj;
        const char *reason, *unchecked;
    } want[] = {
        {1, NULL, NULL},
        {2, "low_reliability", NULL},
        {3, NULL, NULL},
        {4, "negative_flux", NULL},
        {5, "flag:isDipole", NULL},
        {6, "flag:glint_trail", NULL},
        {7, "low_snr", NULL},
        {8, NULL, NULL},
        {9, NULL, "reliability"},
        {10, NULL, "reliability"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        json_t *l = locus(&r, want[i].obj);
        const char *got = reason(l, "lsst_quality_reason");
        ck_assert_msg(want[i].reason ? got && !strcmp(got, want[i].reason) : !got,
                      "object %lld: reason %s, want %s", want[i].obj, got ? got : "none",
                      want[i].reason ? want[i].reason : "none");
        const char *unchecked = reason(l, "lsst_quality_unchecked");
        ck_assert_msg(want[i].unchecked ? unchecked && !strcmp(unchecked, want[i].unchecked)
                                        : !unchecked,
                      "object %lld: unchecked %s", want[i].obj, unchecked ? unchecked : "none");
        /* a halted alert goes no further: the ranking, last, never saw it */
        ck_assert_int_eq(has_lprop(l, "lsst_rank_score"), want[i].reason == NULL);
        json_decref(l);
    }
    night_free(&r);
    free(a);
    free(b);
}
END_TEST

START_TEST(solar_system_cuts)
{
    const src all[] = {
        {20, 0, "g", 5000, 50, 0.9, 123456789, NULL, 0, NAN}, /* a known asteroid */
        {21, 0, "g", 5000, 50, 0.9, NONE, NULL, 0, NAN},      /* unknown, seen once */
        {22, 0, "g", 5000, 50, 0.9, NONE, NULL, 0, NAN},      /* unknown, twice 10 min apart */
        {22, 10.0 / 1440, "r", 5000, 50, 0.9, NONE, NULL, 0, NAN},
        {23, 0, "g", 5000, 50, 0.9, NONE, NULL, 0, NAN}, /* unknown, twice 20 min apart */
        {23, 20.0 / 1440, "r", 5000, 50, 0.9, NONE, NULL, 0, NAN},
        DET(24, 0, "g", 5000), /* ssObjectId 0: Rubin found no known object */
    };
    char *a = write_alerts("a.avro", all, sizeof all / sizeof *all, 1);
    night r = ingest((const char *const[]){a, NULL});
    const struct {
        long long obj;
        const char *reason;
    } want[] = {
        {20, "known_sso"}, {21, "single_epoch"}, {22, "single_epoch"}, {23, NULL}, {24, NULL}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        json_t *l = locus(&r, want[i].obj);
        const char *got = reason(l, "lsst_sso_reason");
        ck_assert_msg(want[i].reason ? got && !strcmp(got, want[i].reason) : !got,
                      "object %lld: reason %s", want[i].obj, got ? got : "none");
        ck_assert_int_eq(has_lprop(l, "lsst_rank_score"), want[i].reason == NULL);
        json_decref(l);
    }
    night_free(&r);
    free(a);
}
END_TEST

START_TEST(young_cuts)
{
    const src all[] = {
        DET(30, 0, "g", 5000), /* first seen now */
        DET(30, 0.02, "r", 5000),
        {31, 10, "g", 5000, 50, 0.9, 0, NULL, 0, 6}, /* Rubin first saw it 4 days before */
        {32, 10, "g", 5000, 50, 0.9, 0, NULL, 0, 4}, /* 6 days before */
        {33, 1, "g", 800, 100, 0, 0, NULL, 1, NAN},  /* forced, 8 sigma, before */
        DET(33, 2, "g", 5000),
        {34, 1, "g", 300, 100, 0, 0, NULL, 1, NAN}, /* forced, 3 sigma, before */
        DET(34, 2, "g", 5000),
    };
    char *a = write_alerts("a.avro", all, sizeof all / sizeof *all, 1);
    night r = ingest((const char *const[]){a, NULL});
    const struct {
        long long obj;
        int young;
        double age;
    } want[] = {{30, 1, 0.02}, {31, 1, 4}, {32, 0, 6}, {33, 0, 0}, {34, 1, 0}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        json_t *l = locus(&r, want[i].obj);
        ck_assert_msg(has_tag(l, "lsst_young") == want[i].young, "object %lld", want[i].obj);
        ck_assert_msg(fabs(lprop(l, "lsst_age_days") - want[i].age) < 1e-6, "object %lld: age %g",
                      want[i].obj, lprop(l, "lsst_age_days"));
        json_decref(l);
    }
    night_free(&r);
    free(a);
}
END_TEST

/* The flux of a source @p dmag magnitudes fainter than 5000 nJy. */
static double fainter(double dmag)
{
    return 5000.0 * pow(10.0, -0.4 * dmag);
}

START_TEST(fast_cuts)
{
    const src all[] = {
        DET(40, 0, "g", fainter(1.5)),
        DET(40, 1, "g", 5000), /* rises 1.5 mag/day */
        DET(41, 0, "g", fainter(0.5)),
        DET(41, 1, "g", 5000), /* rises 0.5 mag/day */
        DET(42, 0, "i", 5000),
        DET(42, 1, "i", fainter(0.5)), /* fades 0.5 */
        DET(43, 0, "i", 5000),
        DET(43, 1, "i", fainter(0.2)), /* fades 0.2 */
        /* a forced point 5 mag fainter between: counted at 6 sigma, not at 4 */
        DET(44, 0, "r", 5000),
        {44, 0.5, "r", 600, 100, 0, 0, NULL, 1, NAN},
        DET(44, 0.8, "r", 5000),
        DET(45, 0, "r", 5000),
        {45, 0.5, "r", 400, 100, 0, 0, NULL, 1, NAN},
        DET(45, 0.8, "r", 5000),
        DET(46, 0, "z", 5000),
        DET(46, 0.1, "z", fainter(0.5)), /* 0.1 d: too close for a rate */
    };
    char *a = write_alerts("a.avro", all, sizeof all / sizeof *all, 1);
    night r = ingest((const char *const[]){a, NULL});
    const struct {
        long long obj;
        int rise, fade;
        double rate;
        const char *band;
    } want[] = {{40, 1, 0, -1.5, "g"},
                {41, 0, 0, -0.5, "g"},
                {42, 0, 1, 0.5, "i"},
                {43, 0, 0, 0.2, "i"},
                {44, 1, 0, -2.5 * log10(5000.0 / 600) / 0.3, "r"},
                {45, 0, 0, 0, ""},
                {46, 0, 0, 0, ""}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        json_t *l = locus(&r, want[i].obj);
        ck_assert_msg(has_tag(l, "lsst_fast_rise") == want[i].rise &&
                          has_tag(l, "lsst_fast_fade") == want[i].fade,
                      "object %lld", want[i].obj);
        double rate = lprop(l, "lsst_fast_rate");
        ck_assert_msg(fabs(rate - want[i].rate) < 1e-4, "object %lld: rate %g, want %g",
                      want[i].obj, rate, want[i].rate);
        ck_assert_str_eq(
            json_string_value(json_object_get(json_object_get(l, "properties"), "lsst_fast_band")),
            want[i].band);
        json_decref(l);
    }
    night_free(&r);
    free(a);
}
END_TEST

START_TEST(colour_cuts)
{
    /* g - r = 0 on the first night, then 0.5 (object 50) or 0.2 (object 51) redder */
    const src all[] = {
        DET(50, 0, "g", 5000),         DET(50, 0.02, "r", 5000), DET(50, 1, "g", fainter(0.5)),
        DET(50, 1.02, "r", 5000),      DET(51, 0, "g", 5000),    DET(51, 0.02, "r", 5000),
        DET(51, 1, "g", fainter(0.2)), DET(51, 1.02, "r", 5000), DET(52, 0, "g", 5000),
        DET(52, 0.5, "r", 5000), /* never paired: no colour */
    };
    char *a = write_alerts("a.avro", all, sizeof all / sizeof *all, 1);
    night r = ingest((const char *const[]){a, NULL});
    json_t *l = locus(&r, 50);
    ck_assert(has_tag(l, "lsst_colour_change"));
    ck_assert(fabs(lprop(l, "lsst_colour") - 0.5) < 1e-4);
    ck_assert(fabs(lprop(l, "lsst_colour_change") - 0.5) < 1e-4);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(l, "properties"), "lsst_colour_bands")),
        "g-r");
    json_decref(l);
    l = locus(&r, 51);
    ck_assert(!has_tag(l, "lsst_colour_change"));
    ck_assert(fabs(lprop(l, "lsst_colour_change") - 0.2) < 1e-4);
    json_decref(l);
    l = locus(&r, 52);
    ck_assert(!has_tag(l, "lsst_colour_change") && !has_lprop(l, "lsst_colour"));
    ck_assert(lprop(l, "lsst_colour_change") == 0);
    json_decref(l);
    night_free(&r);
    free(a);
}
END_TEST

START_TEST(rank_orders_candidates)
{
    const src all[] = {
        DET(60, 0, "g", 5000),                        /* reliable, young, 22.15 mag */
        {61, 0, "g", 5000, 50, NAN, 0, NULL, 0, NAN}, /* no reliability */
        DET(62, 0, "g", fainter(1.5)),                /* and a fast riser, brighter */
        DET(62, 1, "g", 40000),
    };
    char *a = write_alerts("a.avro", all, sizeof all / sizeof *all, 1);
    night r = ingest((const char *const[]){a, NULL});
    json_t *l60 = locus(&r, 60), *l61 = locus(&r, 61), *l62 = locus(&r, 62);
    double mag = 31.4 - 2.5 * log10(5000.0), bright = 0.15 * (1 - (mag - 21) / 2);
    double s60 = lprop(l60, "lsst_rank_score"), s61 = lprop(l61, "lsst_rank_score");
    double s62 = lprop(l62, "lsst_rank_score");
    ck_assert_msg(fabs(s60 - (0.3 * 0.9f + 0.2 + bright)) < 1e-6, "score %g", s60);
    ck_assert_msg(fabs(s61 - (0.3 * 0.5 + 0.2 + bright)) < 1e-6, "score %g", s61);
    ck_assert(s62 > s60 && s60 > s61);
    ck_assert(has_tag(l60, "lsst_followup") && !has_tag(l61, "lsst_followup"));
    json_decref(l60);
    json_decref(l61);
    json_decref(l62);
    night_free(&r);
    free(a);
}
END_TEST

/* Alerts of another survey are skipped by every filter of the set, not failed. */
START_TEST(other_surveys_skipped)
{
    char *csv = tu_write(tu_tmp, "ztf.csv",
                         "alert_id,survey,ra,dec,mjd,passband,mag,magerr\n"
                         "z1,ztf,10,20,60000,g,18,0.1\nz2,ztf,10,20,60001,g,14,0.1\n");
    night r = ingest((const char *const[]){csv, NULL});
    json_t *all = ss_filter_set_stats_json(r.fs);
    size_t i;
    json_t *f;
    ck_assert_int_eq(json_array_size(all), 6);
    json_array_foreach(all, i, f)
    {
        ck_assert_int_eq(json_integer_value(json_object_get(f, "runs")), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(f, "skipped")), 2);
        ck_assert_int_eq(json_integer_value(json_object_get(f, "errors")), 0);
    }
    json_decref(all);
    night_free(&r);
    free(csv);
}
END_TEST

/* A bad setup value refuses the set, naming the key. */
START_TEST(bad_setup_refused)
{
    static const char *const cases[][2] = {
        {"lsst_quality", "setup.min_reliability = high"},
        {"lsst_quality", "setup.keep_negative = yes"},
        {"lsst_solar_system", "setup.two_detections = sometimes"},
        {"lsst_fast", "setup.rise_rate = -1"},
        {"lsst_colour", "setup.min_change = x"},
        {"lsst_rank", "setup.fast_scale = 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = NULL;
        ck_assert_int_ge(asprintf(&text, "[filter f]\npath = %s/lsst/%s.lua\n%s\n", SS_CONTRIB_SRC,
                                  cases[i][0], cases[i][1]),
                         0);
        char *set = tu_write(tu_tmp, "bad.ini", text);
        ss_filter_set *fs = NULL;
        ss_err err = {0};
        ck_assert_int_ne(ss_filter_set_load(set, &fs, &err), 0);
        char key[64];
        sscanf(cases[i][1], "setup.%63[a-z_]", key);
        ck_assert_msg(strstr(err.msg, key), "%s: %s", cases[i][1], err.msg);
        free(text);
        free(set);
    }
}
END_TEST

/* ---- real alerts ---- */

static json_t *replay(const char *args)
{
    char *out, *err;
    int rc = tu_sks(&out, &err, "replay --quiet --filters %s --report %s/r.json %s", LSST_SET,
                    tu_tmp, args);
    ck_assert_msg(rc == 0, "replay %s: %s", args, err);
    free(out);
    free(err);
    char *p = tu_path(tu_tmp, "r.json");
    json_error_t jerr;
    json_t *r = json_load_file(p, 0, &jerr);
    ck_assert_msg(r != NULL, "%s: %s", p, jerr.text);
    free(p);
    return r;
}

static json_t *filter_of(json_t *r, const char *label)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(r, "set"), "filters"), i, f)
    {
        if (!strcmp(json_string_value(json_object_get(f, "label")), label))
            return f;
    }
    ck_abort_msg("no filter %s in the report", label);
    return NULL;
}

static long fint(json_t *r, const char *label, const char *key)
{
    return (long)json_integer_value(json_object_get(filter_of(r, label), key));
}

/* No filter of the set failed on the replay. */
static void no_errors(json_t *r)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(r, "set"), "filters"), i, f)
    {
        ck_assert_msg(json_integer_value(json_object_get(f, "errors")) == 0, "%s failed: %s",
                      json_string_value(json_object_get(f, "label")),
                      json_dumps(json_object_get(f, "first_errors"), 0));
    }
}

START_TEST(real_rubin_lsstcam)
{
    char *args =
        tu_data_path("LSST filters on real Rubin LSSTCam alerts", "lsst/rubin-lsstcam-v9.0");
    if (!args)
        return;
    json_t *r = replay(args);
    no_errors(r);
    /* 100 single-visit alerts: 3 negative, reliabilities from 0.10 up, 3 known asteroids */
    ck_assert_int_eq(fint(r, "lsst_quality", "runs"), 100);
    long halted = fint(r, "lsst_quality", "halts");
    ck_assert(halted >= 3 && halted < 100);
    ck_assert_int_eq(fint(r, "lsst_solar_system", "runs"), 100 - halted);
    ck_assert_int_ge(fint(r, "lsst_solar_system", "halts"), 1);
    long ranked = fint(r, "lsst_rank", "runs");
    ck_assert_int_eq(ranked, 100 - halted - fint(r, "lsst_solar_system", "halts"));
    /* one visit each: every survivor is young, none has a rate */
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(filter_of(r, "lsst_young"), "tagged"), "lsst_young")),
                     ranked);
    json_decref(r);
    free(args);
}
END_TEST

START_TEST(real_rubin_older_schemas)
{
    const char *shared = tu_shared_data("LSST filters on Rubin 7.4 and fake alerts");
    if (!shared)
        return;
    char *args = NULL;
    ck_assert_int_ge(asprintf(&args, "--schema-dir %s/schemas/lsst %s/lsst/confluent-framed-v7.4",
                              shared, shared),
                     0);
    json_t *r = replay(args);
    no_errors(r);
    ck_assert_int_eq(fint(r, "lsst_quality", "runs"), 5);
    json_decref(r);
    free(args);
    /* schema 10.0 and 11.0 samples: reliability null, every cut that can run runs */
    ck_assert_int_ge(asprintf(&args, "%s/lsst/alert-packet-fake", shared), 0);
    r = replay(args);
    no_errors(r);
    ck_assert_int_ge(fint(r, "lsst_quality", "runs"), 1);
    json_decref(r);
    free(args);
}
END_TEST

START_TEST(real_elasticc)
{
    const char *shared = tu_shared_data("LSST filters on ELAsTiCC alerts");
    if (!shared)
        return;
    char *args = NULL;
    /* two objects' alerts over a season: no reliability, flags or ssObjectId */
    ck_assert_int_ge(asprintf(&args,
                              "%s/elasticc/alerce-sim-v0.9/*_obj1143_* "
                              "%s/elasticc/alerce-sim-v0.9/*_obj572_*",
                              shared, shared),
                     0);
    json_t *r = replay(args);
    no_errors(r);
    long n = fint(r, "lsst_quality", "runs");
    ck_assert_int_eq(n, 88);
    ck_assert_int_eq(fint(r, "lsst_quality", "halts"), 0); /* nothing to cut on */
    /* the two-detection rule applies (no ssObjectId): each object's first alert is halted */
    ck_assert_int_ge(fint(r, "lsst_solar_system", "halts"), 1);
    ck_assert_int_gt(fint(r, "lsst_fast", "runs"), 0);
    json_decref(r);
    free(args);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("contrib_lsst");
    TCase *tc = tcase_create("lsst");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, quality_cuts);
    tcase_add_test(tc, solar_system_cuts);
    tcase_add_test(tc, young_cuts);
    tcase_add_test(tc, fast_cuts);
    tcase_add_test(tc, colour_cuts);
    tcase_add_test(tc, rank_orders_candidates);
    tcase_add_test(tc, other_surveys_skipped);
    tcase_add_test(tc, bad_setup_refused);
    tcase_add_test(tc, real_rubin_lsstcam);
    tcase_add_test(tc, real_rubin_older_schemas);
    tcase_add_test(tc, real_elasticc);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
