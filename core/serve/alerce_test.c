/* skysieve serve's ALeRCE routes (/ztf/v1, core/serve/alerce.c) over the shared ZTF alerts: every
 * number checked against what the test computes from the stored measurements, features and
 * probabilities written by a Lua filter run at ingest. The searches of /objects (cone, class,
 * pages over the whole store) need ss_query_search_run(). */
#include "testutil.h"
#include "tu_http.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A filter that writes what the routes show as features and probabilities (alerce.c's naming
 * rule) and tags the class it ranks first. */
static const char probe_lua[] =
    "NAME = 'alerce_probe'\n"
    "DESCRIPTION = 'features and class probabilities for the /ztf/v1 tests'\n"
    "AUTHOR = 'skysieve tests <dev@skysieve.invalid>'\n"
    "OUTPUT_LOCUS_PROPERTIES = {\n"
    "  {name = 'feature_ndet_1', type = 'int', description = 'g detections'},\n"
    "  {name = 'feature_ndet_2', type = 'int', description = 'r detections'},\n"
    "  {name = 'feature_span', type = 'float', description = 'days of detections'},\n"
    "  {name = 'prob_test_clf_SN', type = 'float', description = 'p'},\n"
    "  {name = 'prob_test_clf_AGN', type = 'float', description = 'p'},\n"
    "  {name = 'prob_test_clf_VS', type = 'float', description = 'p'},\n"
    "  {name = 'prob_other_clf_Star', type = 'float', description = 'p'},\n"
    "  {name = 'prob_other_clf_Galaxy', type = 'float', description = 'p'},\n"
    "}\n"
    "OUTPUT_TAGS = {\n"
    "  {name = 'test_clf_SN', description = 'ranked SN first'},\n"
    "  {name = 'test_clf_AGN', description = 'ranked AGN first'},\n"
    "}\n"
    "function run(locus)\n"
    "  local g = locus:lightcurve('g')\n"
    "  local r = locus:lightcurve('r')\n"
    "  local lc = locus:light_curve()\n"
    "  locus:set_property('feature_ndet_1', #g)\n"
    "  locus:set_property('feature_ndet_2', #r)\n"
    "  locus:set_property('feature_span', lc[#lc].mjd - lc[1].mjd)\n"
    "  local sn = #g + #r >= 10\n"
    "  locus:set_property('prob_test_clf_SN', sn and 0.6 or 0.2)\n"
    "  locus:set_property('prob_test_clf_AGN', sn and 0.3 or 0.5)\n"
    "  locus:set_property('prob_test_clf_VS', sn and 0.1 or 0.3)\n"
    "  locus:set_property('prob_other_clf_Star', 0.9)\n"
    "  locus:set_property('prob_other_clf_Galaxy', 0.1)\n"
    "  locus:tag(sn and 'test_clf_SN' or 'test_clf_AGN')\n"
    "end\n";

/* An object with detections in g and r, upper limits in both, and a stamp on its alert. */
#define OID "ZTF17aaacxxf"

typedef struct fixture {
    tu_server srv;
    char *store;
} fixture;

/* Ingest the shared ZTF alerts (with the probe filter when @p filters) and serve them.
 * @return 0 when the shared data is absent (the test then passes without checking). */
static int start(fixture *f, int filters)
{
    char *data = tu_data_path("the ALeRCE routes over real ZTF alerts", "ztf");
    if (!data)
        return 0;
    char *set = NULL, *out = NULL, *err = NULL;
    f->store = tu_path(tu_tmp, "st");
    if (filters) {
        free(tu_write(tu_tmp, "probe.lua", probe_lua));
        set = tu_write(tu_tmp, "set.ini", "[filter alerce_probe]\npath = probe.lua\n");
    }
    int rc = tu_sks(&out, &err, "ingest --quiet --store %s %s%s %s/*/", f->store,
                    set ? "--filters " : "", set ? set : "", data);
    ck_assert_msg(rc == 0, "ingest failed: %s", err ? err : "");
    tu_serve_start(&f->srv, "--store %s", f->store);
    free(out), free(err), free(set), free(data);
    return 1;
}

static void stop(fixture *f)
{
    tu_serve_stop(&f->srv);
    free(f->store);
}

/* The store's view of a locus (skysieve locus): its alerts with the survey's fields. */
static json_t *locus_of(const fixture *f, const char *id)
{
    char *out = NULL;
    ck_assert_int_eq(tu_sks(&out, NULL, "locus --store %s %s", f->store, id), 0);
    json_t *l = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(l);
    free(out);
    return l;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

static double prop(json_t *alert, const char *key)
{
    return num(json_object_get(alert, "properties"), key);
}

/* The ZTF measurements of OID of one kind, in time order (the locus lists them so). */
static json_t *measurements(json_t *locus, const char *kind)
{
    json_t *out = json_array(), *a;
    size_t i;
    json_array_foreach(json_object_get(locus, "alerts"), i, a)
    {
        if (!strcmp(json_string_value(json_object_get(a, "kind")), kind) &&
            !strcmp(json_string_value(json_object_get(a, "survey")), "ztf") &&
            !strcmp(json_string_value(json_object_get(a, "object_id")), OID))
            json_array_append(out, a);
    }
    return out;
}

static void near(double got, double want, double tol, const char *what)
{
    ck_assert_msg(fabs(got - want) <= tol, "%s: %.12g, wanted %.12g", what, got, want);
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(object_is_computed_from_its_detections)
{
    fixture f;
    if (!start(&f, 0))
        return;
    json_t *l = locus_of(&f, OID), *det = measurements(l, "detection"), *a;
    json_t *o = tu_http_json(&f.srv, "/ztf/v1/objects/" OID, 200);
    size_t n = json_array_size(det), i;
    ck_assert_uint_ge(n, 10);
    ck_assert_str_eq(json_string_value(json_object_get(o, "oid")), OID);
    ck_assert_int_eq(num(o, "ndet"), (double)n);
    double first = num(json_array_get(det, 0), "mjd"),
           last = num(json_array_get(det, n - 1), "mjd");
    near(num(o, "firstmjd"), first, 1e-7, "firstmjd");
    near(num(o, "lastmjd"), last, 1e-7, "lastmjd");
    near(num(o, "deltajd"), last - first, 1e-7, "deltajd");
    double ra = 0, dec = 0, ss = 0;
    json_array_foreach(det, i, a) ra += prop(a, "ant_ra") / (double)n,
        dec += prop(a, "ant_dec") / (double)n;
    json_array_foreach(det, i, a) ss += pow(prop(a, "ant_dec") - dec, 2);
    near(num(o, "meanra"), ra, 1e-9, "meanra");
    near(num(o, "meandec"), dec, 1e-9, "meandec");
    near(num(o, "sigmadec"), sqrt(ss / (double)(n - 1)), 1e-9, "sigmadec");
    /* ZTF's history counts, from the newest alert; ndethist a string as ALeRCE types it */
    json_t *newest = json_array_get(det, n - 1);
    char want[32];
    snprintf(want, sizeof want, "%.0f", prop(newest, "ztf_ndethist"));
    ck_assert_str_eq(json_string_value(json_object_get(o, "ndethist")), want);
    near(num(o, "mjdstarthist"), prop(newest, "ztf_jdstarthist") - 2400000.5, 1e-6, "start");
    ck_assert(json_is_null(json_object_get(o, "stellar")));
    json_decref(o), json_decref(det), json_decref(l);
    stop(&f);
}
END_TEST

START_TEST(detections_and_non_detections_are_ztfs)
{
    fixture f;
    if (!start(&f, 0))
        return;
    json_t *l = locus_of(&f, OID), *det = measurements(l, "detection"),
           *lim = measurements(l, "upper_limit"), *a;
    json_t *d = tu_http_json(&f.srv, "/ztf/v1/objects/" OID "/detections", 200);
    json_t *nd = tu_http_json(&f.srv, "/ztf/v1/objects/" OID "/non_detections", 200);
    ck_assert(json_is_array(d) && json_is_array(nd));
    ck_assert_uint_eq(json_array_size(d), json_array_size(det));
    ck_assert_uint_eq(json_array_size(nd), json_array_size(lim));
    ck_assert_uint_gt(json_array_size(nd), 0);
    size_t i, stamps = 0;
    json_array_foreach(det, i, a)
    {
        json_t *x = json_array_get(d, i);
        ck_assert_str_eq(json_string_value(json_object_get(x, "candid")),
                         json_string_value(json_object_get(a, "alert_id")));
        near(num(x, "mjd"), num(a, "mjd"), 1e-7, "mjd");
        ck_assert_int_eq(num(x, "fid"), prop(a, "ztf_fid"));
        near(num(x, "magpsf"), prop(a, "ztf_magpsf"), 1e-9, "magpsf");
        near(num(x, "sigmapsf"), prop(a, "ztf_sigmapsf"), 1e-9, "sigmapsf");
        near(num(x, "rb"), prop(a, "ztf_rb"), 1e-9, "rb");
        const char *pos =
            json_string_value(json_object_get(json_object_get(a, "properties"), "ztf_isdiffpos"));
        ck_assert_int_eq(num(x, "isdiffpos"), pos[0] == 't' || pos[0] == '1' ? 1 : -1);
        ck_assert(i == 0 || num(x, "mjd") >= num(json_array_get(d, i - 1), "mjd"));
        stamps += json_is_true(json_object_get(x, "has_stamp"));
    }
    ck_assert_uint_ge(stamps, 1); /* the alerts' own candidates came with stamps */
    json_array_foreach(lim, i, a)
    {
        json_t *x = json_array_get(nd, i);
        near(num(x, "diffmaglim"), prop(a, "ztf_diffmaglim"), 1e-9, "diffmaglim");
        near(num(x, "mjd"), num(a, "mjd"), 1e-7, "mjd");
        ck_assert_int_eq(num(x, "fid"), prop(a, "ztf_fid"));
    }
    json_t *lc = tu_http_json(&f.srv, "/ztf/v1/objects/" OID "/lightcurve", 200);
    ck_assert(json_equal(json_object_get(lc, "detections"), d));
    ck_assert(json_equal(json_object_get(lc, "non_detections"), nd));
    json_decref(lc), json_decref(d), json_decref(nd), json_decref(det), json_decref(lim);
    json_decref(l);
    stop(&f);
}
END_TEST

/* The test's own statistics of band @p fid: what magstats must say. */
static void check_band(json_t *m, json_t *det)
{
    double v[256], first = NAN, last = NAN, sum = 0, ss = 0;
    size_t n = 0, i;
    json_t *a;
    json_array_foreach(det, i, a) if (prop(a, "ztf_fid") == num(m, "fid") && n < 256)
    {
        v[n++] = prop(a, "ztf_magpsf");
        first = isnan(first) ? v[n - 1] : first;
        last = v[n - 1];
    }
    ck_assert_int_eq(num(m, "ndet"), (double)n);
    near(num(m, "magfirst"), first, 1e-9, "magfirst");
    near(num(m, "maglast"), last, 1e-9, "maglast");
    for (i = 0; i < n; i++)
        sum += v[i];
    for (i = 0; i < n; i++)
        ss += (v[i] - sum / (double)n) * (v[i] - sum / (double)n);
    qsort(v, n, sizeof *v, dbl_cmp);
    near(num(m, "magmean"), sum / (double)n, 1e-9, "magmean");
    near(num(m, "magsigma"), sqrt(ss / (double)(n - 1)), 1e-9, "magsigma");
    near(num(m, "magmin"), v[0], 1e-9, "magmin");
    near(num(m, "magmax"), v[n - 1], 1e-9, "magmax");
    near(num(m, "magmedian"), n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, 1e-9, "median");
}

START_TEST(magstats_per_band)
{
    fixture f;
    if (!start(&f, 0))
        return;
    json_t *l = locus_of(&f, OID), *det = measurements(l, "detection"), *m;
    json_t *ms = tu_http_json(&f.srv, "/ztf/v1/objects/" OID "/magstats", 200);
    ck_assert_uint_eq(json_array_size(ms), 2); /* g and r */
    size_t i;
    json_array_foreach(ms, i, m)
    {
        ck_assert_int_eq(num(m, "fid"), (double)(i + 1));
        check_band(m, det);
        ck_assert(json_is_null(json_object_get(m, "magmean_corr")));
    }
    /* r was not detected more than half a day after a non-detection of r: the rise is known */
    ck_assert(json_is_number(json_object_get(json_array_get(ms, 1), "dmdt_first")));
    json_decref(ms), json_decref(det), json_decref(l);
    stop(&f);
}
END_TEST

START_TEST(errors_urls_and_csv)
{
    fixture f;
    if (!start(&f, 0))
        return;
    json_t *e = tu_http_json(&f.srv, "/ztf/v1/objects/ZTF99zzzzzzz", 404);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "message")));
    json_decref(e);
    e = tu_http_json(&f.srv, "/ztf/v1/objects/ZTF99zzzzzzz/detections", 404);
    json_decref(e);
    e = tu_http_json(&f.srv, "/ztf/v1/objects?ra=abc&dec=1&radius=2", 400);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(e, "errors"), "ra"));
    json_decref(e);
    e = tu_http_json(&f.srv, "/ztf/v1/objects?ndet=x", 400);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(e, "errors"), "ndet"));
    json_decref(e);
    /* the client's URL (ZTF_API_URL ending in a slash), and a parameter ALeRCE ignores */
    json_t *o = tu_http_json(&f.srv, "/ztf/v1//objects/" OID "?unknown=1", 200);
    ck_assert_str_eq(json_string_value(json_object_get(o, "oid")), OID);
    json_t *d = tu_http_json(&f.srv, "/ztf/v1//objects/" OID "/detections", 200);
    char *body = NULL, *ctype = NULL;
    ck_assert_int_eq(
        tu_http_get(&f.srv, "/ztf/v1/objects/" OID "/detections?format=csv", &body, NULL, &ctype),
        200);
    ck_assert_ptr_nonnull(strstr(ctype, "text/csv"));
    ck_assert(!strncmp(body, "oid,candid,mjd,fid,", 19));
    ck_assert_uint_eq(tu_count_lines(body), json_array_size(d) + 1);
    free(body), free(ctype);
    ck_assert_int_eq(tu_http_status(&f.srv, "/ztf/v1/objects/" OID "/lightcurve?format=csv"), 400);
    json_decref(d), json_decref(o);
    stop(&f);
}
END_TEST

START_TEST(features_and_probabilities_are_filter_outputs)
{
    fixture f;
    if (!start(&f, 1))
        return;
    json_t *l = locus_of(&f, OID), *p = json_object_get(l, "properties");
    json_t *fs = tu_http_json(&f.srv, "/ztf/v1/objects/" OID "/features", 200), *x;
    ck_assert_uint_eq(json_array_size(fs), 3);
    size_t i;
    json_array_foreach(fs, i, x)
    {
        const char *name = json_string_value(json_object_get(x, "name"));
        char key[64];
        int fid = (int)num(x, "fid");
        snprintf(key, sizeof key, fid ? "feature_%s_%d" : "feature_%s", name, fid);
        near(num(x, "value"), num(p, key), 1e-12, key);
        ck_assert(fid ? !strcmp(name, "ndet") : !strcmp(name, "span"));
    }
    json_t *one = tu_http_json(&f.srv, "/ztf/v1/objects/" OID "/features/ndet?fid=2", 200);
    ck_assert_uint_eq(json_array_size(one), 1);
    near(num(json_array_get(one, 0), "value"), num(p, "feature_ndet_2"), 0, "ndet r");
    ck_assert_int_eq(tu_http_status(&f.srv, "/ztf/v1/objects/" OID "/features/nope"), 404);
    /* 23 detections: SN first; other_clf before test_clf */
    json_t *pr = tu_http_json(&f.srv, "/ztf/v1/objects/" OID "/probabilities", 200);
    static const char *const want[][3] = {{"other_clf", "Star", "1"},
                                          {"other_clf", "Galaxy", "2"},
                                          {"test_clf", "SN", "1"},
                                          {"test_clf", "AGN", "2"},
                                          {"test_clf", "VS", "3"}};
    ck_assert_uint_eq(json_array_size(pr), 5);
    json_array_foreach(pr, i, x)
    {
        char key[64];
        ck_assert_str_eq(json_string_value(json_object_get(x, "classifier_name")), want[i][0]);
        ck_assert_str_eq(json_string_value(json_object_get(x, "class_name")), want[i][1]);
        ck_assert_int_eq(num(x, "ranking"), atoi(want[i][2]));
        snprintf(key, sizeof key, "prob_%s_%s", want[i][0], want[i][1]);
        near(num(x, "probability"), num(p, key), 1e-12, key);
    }
    json_t *c = tu_http_json(&f.srv, "/ztf/v1/classifiers", 200);
    json_t *w = json_loads("[{\"classifier_name\":\"other_clf\",\"classifier_version\":null,"
                           "\"classes\":[\"Galaxy\",\"Star\"]},{\"classifier_name\":\"test_clf\","
                           "\"classifier_version\":null,\"classes\":[\"AGN\",\"SN\",\"VS\"]}]",
                           0, NULL);
    ck_assert(json_equal(c, w));
    json_decref(w), json_decref(c), json_decref(pr), json_decref(one), json_decref(fs);
    json_decref(l);
    stop(&f);
}
END_TEST

START_TEST(objects_listed_by_oid)
{
    fixture f;
    if (!start(&f, 1))
        return;
    const char *both = "/ztf/v1/objects?oid=" OID "&oid=ZTF17aaajnnn&oid=ZTF99zzzzzzz";
    char path[256];
    json_t *r = tu_http_json(&f.srv, both, 200), *it = json_object_get(r, "items");
    ck_assert_uint_eq(json_array_size(it), 2);
    ck_assert(json_is_null(json_object_get(r, "total"))); /* not counted unless asked */
    ck_assert(json_is_false(json_object_get(r, "has_next")));
    /* no classifier asked: the one of the highest probability */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(it, 0), "class")), "Star");
    json_decref(r);
    snprintf(path, sizeof path, "%s&classifier=test_clf", both);
    r = tu_http_json(&f.srv, path, 200), it = json_object_get(r, "items");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(it, 0), "class")), "SN");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(it, 1), "class")), "AGN");
    json_decref(r);
    snprintf(path, sizeof path, "%s&classifier=test_clf&ranking=2", both);
    r = tu_http_json(&f.srv, path, 200), it = json_object_get(r, "items");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(it, 0), "class")), "AGN");
    near(num(json_array_get(it, 0), "probability"), 0.3, 1e-12, "second");
    json_decref(r);
    snprintf(path, sizeof path, "%s&order_by=ndet&order_mode=ASC&count=true", both);
    r = tu_http_json(&f.srv, path, 200), it = json_object_get(r, "items");
    ck_assert_int_eq(num(r, "total"), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(it, 0), "oid")),
                     "ZTF17aaajnnn");
    json_decref(r);
    snprintf(path, sizeof path, "%s&ndet=2&classifier=other_clf", both);
    r = tu_http_json(&f.srv, path, 200), it = json_object_get(r, "items");
    ck_assert_uint_eq(json_array_size(it), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(it, 0), "class")), "Star");
    json_decref(r);
    snprintf(path, sizeof path, "%s&classifier=test_clf&class=AGN&page_size=1", both);
    r = tu_http_json(&f.srv, path, 200), it = json_object_get(r, "items");
    ck_assert_uint_eq(json_array_size(it), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(it, 0), "oid")),
                     "ZTF17aaajnnn");
    json_decref(r);
    snprintf(path, sizeof path, "%s&page_size=1&page=2", both);
    r = tu_http_json(&f.srv, path, 200);
    ck_assert_int_eq(num(r, "prev"), 1);
    ck_assert(json_is_true(json_object_get(r, "has_prev")));
    json_decref(r);
    stop(&f);
}
END_TEST

/* Every ZTF object of the store, paged through the search (needs ss_query_search_run()). */
START_TEST(objects_search_pages_and_cone)
{
    fixture f;
    if (!start(&f, 0))
        return;
    json_t *all = tu_http_json(&f.srv, "/ztf/v1/objects?count=true&page_size=1000", 200);
    size_t total = (size_t)num(all, "total"), seen = 0;
    ck_assert_uint_ge(total, 80);
    ck_assert_uint_eq(json_array_size(json_object_get(all, "items")), total);
    for (int page = 1; page < 100; page++) {
        char path[128];
        snprintf(path, sizeof path, "/ztf/v1/objects?page_size=7&page=%d", page);
        json_t *r = tu_http_json(&f.srv, path, 200);
        seen += json_array_size(json_object_get(r, "items"));
        int more = json_is_true(json_object_get(r, "has_next"));
        json_decref(r);
        if (!more)
            break;
    }
    ck_assert_uint_eq(seen, total);
    json_t *o = tu_http_json(&f.srv, "/ztf/v1/objects/" OID, 200);
    char path[256];
    snprintf(path, sizeof path, "/ztf/v1/objects?ra=%.7f&dec=%.7f&radius=2", num(o, "meanra"),
             num(o, "meandec"));
    json_t *cone = tu_http_json(&f.srv, path, 200), *it = json_object_get(cone, "items");
    ck_assert_uint_eq(json_array_size(it), 1);
    ck_assert(
        json_equal(json_object_get(json_array_get(it, 0), "ndet"), json_object_get(o, "ndet")));
    json_t *r = tu_http_json(&f.srv,
                             "/ztf/v1/objects?ndet=10&ndet=30&order_by=ndet&order_mode=DESC", 200),
           *x;
    size_t i;
    json_array_foreach(json_object_get(r, "items"), i, x)
    {
        ck_assert(num(x, "ndet") >= 10 && num(x, "ndet") <= 30);
        ck_assert(i == 0 || num(x, "ndet") <=
                                num(json_array_get(json_object_get(r, "items"), i - 1), "ndet"));
    }
    ck_assert_uint_ge(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r), json_decref(cone), json_decref(o), json_decref(all);
    stop(&f);
}
END_TEST

/* class and classifier search the tag the filter set (needs ss_query_search_run()). */
START_TEST(objects_search_by_class)
{
    fixture f;
    if (!start(&f, 1))
        return;
    json_t *all = tu_http_json(
               &f.srv, "/ztf/v1/objects?count=true&page_size=1000&classifier=test_clf", 200),
           *x;
    size_t sn = 0, i;
    json_array_foreach(json_object_get(all, "items"), i, x) sn +=
        !strcmp(json_string_value(json_object_get(x, "class")), "SN");
    ck_assert_uint_ge(sn, 1);
    json_t *r =
        tu_http_json(&f.srv,
                     "/ztf/v1/objects?classifier=test_clf&class=SN&count=true&page_size=1000"
                     "&probability=0.5",
                     200);
    ck_assert_int_eq(num(r, "total"), (double)sn);
    json_array_foreach(json_object_get(r, "items"), i, x)
    {
        ck_assert_str_eq(json_string_value(json_object_get(x, "class")), "SN");
        near(num(x, "probability"), 0.6, 1e-12, "probability");
    }
    json_decref(r);
    r = tu_http_json(&f.srv, "/ztf/v1/objects?classifier=test_clf&class=SN&probability=0.7", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r), json_decref(all);
    stop(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("serve_alerce");
    TCase *tc = tcase_create("ztf_v1");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, object_is_computed_from_its_detections);
    tcase_add_test(tc, detections_and_non_detections_are_ztfs);
    tcase_add_test(tc, magstats_per_band);
    tcase_add_test(tc, errors_urls_and_csv);
    tcase_add_test(tc, features_and_probabilities_are_filter_outputs);
    tcase_add_test(tc, objects_listed_by_oid);
    tcase_add_test(tc, objects_search_pages_and_cone);
    tcase_add_test(tc, objects_search_by_class);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
