/*
 * The ZTF contributed filters (filters-contrib/ztf): each cut on both sides of its threshold on
 * generated CSV alerts, run in-process; then the whole set (ztf.ini) replayed over the shared
 * real ZTF alerts, when present.
 */
#include "testutil.h"

#include "filters.h"
#include "ingest.h"
#include "query.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZTF_DIR SS_CONTRIB_SRC "/ztf"

/* The CSV columns; a row gives the tuple and overrides of these defaults (a clean detection). */
static const char *const cols[] = {
    "ztf_fid",      "ztf_jd",        "ztf_rb",       "ztf_drb",      "ztf_nbad",
    "ztf_magdiff",  "ztf_isdiffpos", "ztf_ssdistnr", "ztf_ssmagnr",  "ztf_ssnamenr",
    "ztf_sgscore1", "ztf_distpsnr1", "ztf_distnr",   "ztf_ndethist", "ztf_jdstarthist",
};
static const char *const defaults[] = {
    "1",    NULL, "0.9",  "0.99", "0",    "0.0", "t",  "-999",
    "-999", "",   "-999", "-999", "-999", "2",   NULL,
};
#define NCOLS (sizeof cols / sizeof *cols)
#define JD    2400000.5

typedef struct night {
    char *text;
    size_t len;
    FILE *f;
} night;

static void night_open(night *n)
{
    n->f = open_memstream(&n->text, &n->len);
    fprintf(n->f, "alert_id,survey,ra,dec,mjd,passband,mag,magerr");
    for (size_t i = 0; i < NCOLS; i++)
        fprintf(n->f, ",%s", cols[i]);
    fputc('\n', n->f);
}

/* One ZTF detection of the locus at @p ra (dec 20) at @p mjd; @p over is "col=value;..." over
 * the defaults ("-" as a value: empty, null). ztf_jd is mjd's JD, jdstarthist one day before. */
static void det(night *n, double ra, double mjd, const char *band, double mag, const char *over)
{
    static int id;
    fprintf(n->f, "a%d,ztf,%g,20,%.6f,%s,%g,0.05", id++, ra, mjd, band, mag);
    for (size_t i = 0; i < NCOLS; i++) {
        char key[64], val[64] = "";
        int found = 0;
        for (const char *p = over; p && *p;) {
            const char *eq = strchr(p, '='), *end = strchr(p, ';');
            end = end ? end : p + strlen(p);
            if ((size_t)(eq - p) == strlen(cols[i]) && !strncmp(p, cols[i], eq - p)) {
                snprintf(val, sizeof val, "%.*s", (int)(end - eq - 1), eq + 1);
                found = 1;
            }
            p = *end ? end + 1 : end;
        }
        snprintf(key, sizeof key, "%s", cols[i]);
        if (!found && defaults[i])
            snprintf(val, sizeof val, "%s", defaults[i]);
        else if (!found && !strcmp(key, "ztf_jd"))
            snprintf(val, sizeof val, "%.6f", mjd + JD);
        else if (!found)
            snprintf(val, sizeof val, "%.6f", mjd + JD - 1);
        fprintf(n->f, ",%s", strcmp(val, "-") ? val : "");
    }
    fputc('\n', n->f);
}

/* A set of the given filters (file names in filters-contrib/ztf) with @p extra lines after the
 * first. @return the loaded set. */
static ss_filter_set *set_of(const char *const *files, size_t n, const char *extra)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "[filter f%zu]\npath = %s/%s\npriority = %zu\n%s\n", i, ZTF_DIR, files[i],
                10 * (i + 1), i == 0 && extra ? extra : "");
    fclose(f);
    char *path = tu_write(tu_tmp, "set.ini", text);
    ss_filter_set *fs = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_filter_set_load(path, &fs, &err) == 0, "%s", err.msg);
    free(text), free(path);
    return fs;
}

static ss_store *ingest(ss_filter_set *fs, night *n)
{
    static int k;
    fclose(n->f);
    char name[32];
    snprintf(name, sizeof name, "st%d", k++);
    char *dir = tu_path(tu_tmp, name), *in = tu_write(tu_tmp, "night.csv", n->text);
    ss_store_options so = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_open(dir, &so, &s, &err), 0);
    ss_ingest_options o = {.filters = fs, .batch_size = 1};
    ss_ingest *ing = ss_ingest_new(s, &o);
    ck_assert_msg(ss_ingest_path(ing, in, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(ing, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(ing);
    free(dir), free(in), free(n->text);
    return s;
}

/* The locus at @p ra (dec 20): its JSON (properties, tags as {tag, filter, ...}). */
static json_t *locus_at(ss_store *s, double ra)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ss_err err = {0};
    ck_assert_int_eq(ss_query_cone(s, ra, 20, 1, f, &err), 0);
    fclose(f);
    json_t *sum = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_msg(sum != NULL, "no locus at ra %g", ra);
    free(buf);
    json_t *o = NULL;
    ck_assert_int_eq(
        ss_query_locus(s, json_string_value(json_object_get(sum, "locus_id")), NULL, &o, &err), 0);
    json_decref(sum);
    return o;
}

/* The locus property @p name at @p ra as text ("" when absent). */
static const char *prop_str(ss_store *s, double ra, const char *name)
{
    static char out[128];
    json_t *o = locus_at(s, ra);
    json_t *v = json_object_get(json_object_get(o, "properties"), name);
    if (json_is_string(v))
        snprintf(out, sizeof out, "%s", json_string_value(v));
    else if (json_is_number(v))
        snprintf(out, sizeof out, "%.4f", json_number_value(v));
    else
        out[0] = '\0';
    json_decref(o);
    return out;
}

static double prop_num(ss_store *s, double ra, const char *name)
{
    const char *v = prop_str(s, ra, name);
    ck_assert_msg(*v, "no %s at ra %g", name, ra);
    return atof(v);
}

static int has_tag(ss_store *s, double ra, const char *tag)
{
    json_t *o = locus_at(s, ra), *t;
    size_t i;
    int found = 0;
    json_array_foreach(json_object_get(o, "tags"), i, t) found |=
        !strcmp(json_string_value(json_object_get(t, "tag")), tag);
    json_decref(o);
    return found;
}

static long stat_of(ss_filter_set *fs, const char *filter, const char *key)
{
    json_t *all = ss_filter_set_stats_json(fs), *f;
    size_t i;
    long v = -1;
    json_array_foreach(all, i,
                       f) if (!strcmp(json_string_value(json_object_get(f, "filter")), filter)) v =
        (long)json_integer_value(json_object_get(f, key));
    json_decref(all);
    ck_assert_msg(v >= 0, "no %s stat for %s", key, filter);
    return v;
}

START_TEST(quality_cuts)
{
    const char *files[] = {"ztf_quality.lua"};
    ss_filter_set *fs = set_of(files, 1, NULL);
    night n;
    night_open(&n);
    det(&n, 10, 60000, "g", 18, "ztf_drb=0.51;ztf_rb=0.1"); /* drb decides, rb ignored */
    det(&n, 11, 60000, "g", 18, "ztf_drb=0.49");
    det(&n, 12, 60000, "g", 18, "ztf_drb=-;ztf_rb=0.56"); /* an older schema: rb */
    det(&n, 13, 60000, "g", 18, "ztf_drb=-;ztf_rb=0.54");
    det(&n, 14, 60000, "g", 18, "ztf_nbad=1");
    det(&n, 15, 60000, "g", 18, "ztf_magdiff=0.31");
    det(&n, 16, 60000, "g", 18, "ztf_magdiff=-0.29;ztf_nbad=-");
    det(&n, 17, 60000, "g", 18, "ztf_drb=-;ztf_rb=-");
    fprintf(n.f, "x1,lsst,18,20,60000,g,18,0.05%s\n", ",,,,,,,,,,,,,,,"); /* not ZTF: skipped */
    ss_store *s = ingest(fs, &n);
    const char *want[] = {"none", "drb", "none", "rb", "nbad", "magdiff", "none", "no_realbogus"};
    for (int i = 0; i < 8; i++)
        ck_assert_str_eq(prop_str(s, 10 + i, "ztf_reject_reason"), want[i]);
    ck_assert_str_eq(prop_str(s, 18, "ztf_reject_reason"), "");
    ck_assert_int_eq(stat_of(fs, "ztf_quality", "halts"), 5);
    ck_assert_int_eq(stat_of(fs, "ztf_quality", "skipped"), 1);
    ck_assert_int_eq(stat_of(fs, "ztf_quality", "errors"), 0);
    ss_store_close(s);
    ss_filter_set_free(fs);
}
END_TEST

START_TEST(solar_system_cuts)
{
    const char *files[] = {"ztf_solar_system.lua"};
    for (int relaxed = 0; relaxed < 2; relaxed++) {
        ss_filter_set *fs = set_of(files, 1, relaxed ? "setup.require_stationary = false" : NULL);
        night n;
        night_open(&n);
        det(&n, 20, 60000, "r", 18, "ztf_ssdistnr=9.9;ztf_ssmagnr=19.9;ztf_ssnamenr=1234");
        det(&n, 21, 60000, "r", 18, "ztf_ssdistnr=10.1;ztf_ssmagnr=18");
        det(&n, 22, 60000, "r", 18, "ztf_ssdistnr=2;ztf_ssmagnr=20.1");
        det(&n, 23, 60000, "r", 18, "ztf_ssdistnr=2;ztf_ssmagnr=9.9");
        /* seen once (ZTF's history agrees), then twice 10 and 20 minutes apart */
        det(&n, 24, 60000, "r", 18, "ztf_ndethist=1;ztf_jdstarthist=2460000.5");
        det(&n, 25, 60000, "r", 18, "ztf_ndethist=1;ztf_jdstarthist=2460000.5");
        det(&n, 25, 60000 + 10 / 1440.0, "g", 18, "ztf_ndethist=1;ztf_jdstarthist=2460000.5");
        det(&n, 26, 60000, "r", 18, "ztf_ndethist=1;ztf_jdstarthist=2460000.5");
        det(&n, 26, 60000 + 20 / 1440.0, "g", 18, "ztf_ndethist=1;ztf_jdstarthist=2460000.5");
        ss_store *s = ingest(fs, &n);
        ck_assert_str_eq(prop_str(s, 20, "ztf_reject_reason"), "known_sso");
        ck_assert_str_eq(prop_str(s, 20, "ztf_sso_name"), "1234");
        for (int ra = 21; ra <= 23; ra++)
            ck_assert_str_eq(prop_str(s, ra, "ztf_reject_reason"), "");
        const char *moving = relaxed ? "" : "moving";
        ck_assert_str_eq(prop_str(s, 24, "ztf_reject_reason"), moving);
        ck_assert_str_eq(prop_str(s, 25, "ztf_reject_reason"), moving);
        ck_assert_str_eq(prop_str(s, 26, "ztf_reject_reason"), moving); /* its first alert */
        /* halts: known object, then (strict) 24, 25 twice, 26's first */
        ck_assert_int_eq(stat_of(fs, "ztf_solar_system", "halts"), relaxed ? 1 : 5);
        ss_store_close(s);
        ss_filter_set_free(fs);
    }
}
END_TEST

START_TEST(star_cuts)
{
    const char *files[] = {"ztf_star.lua"};
    ss_filter_set *fs = set_of(files, 1, NULL);
    night n;
    night_open(&n);
    det(&n, 30, 60000, "g", 18, "ztf_sgscore1=0.77;ztf_distpsnr1=1.9");
    det(&n, 31, 60000, "g", 18, "ztf_sgscore1=0.75;ztf_distpsnr1=0.1");
    det(&n, 32, 60000, "g", 18, "ztf_sgscore1=0.99;ztf_distpsnr1=2.1");
    det(&n, 33, 60000, "g", 18, ""); /* no PS1 source: -999 */
    ss_store *s = ingest(fs, &n);
    ck_assert_str_eq(prop_str(s, 30, "ztf_reject_reason"), "star");
    for (int ra = 31; ra <= 33; ra++)
        ck_assert_str_eq(prop_str(s, ra, "ztf_reject_reason"), "");
    ck_assert_int_eq(stat_of(fs, "ztf_star", "halts"), 1);
    ss_store_close(s);
    ss_filter_set_free(fs);
}
END_TEST

START_TEST(nuclear_cuts)
{
    const char *files[] = {"ztf_nuclear.lua"};
    ss_filter_set *fs = set_of(files, 1, NULL);
    night n;
    night_open(&n);
    const char *host = "ztf_sgscore1=0.29;ztf_distpsnr1=0.9";
    char over[160];
    snprintf(over, sizeof over, "%s;ztf_distnr=0.49", host);
    det(&n, 40, 60000, "g", 18, over);
    snprintf(over, sizeof over, "%s;ztf_distnr=0.51", host);
    det(&n, 41, 60000, "g", 18, over);
    det(&n, 42, 60000, "g", 18, "ztf_sgscore1=0.31;ztf_distpsnr1=0.9;ztf_distnr=0.2");
    det(&n, 43, 60000, "g", 18, "ztf_sgscore1=0.1;ztf_distpsnr1=1.1;ztf_distnr=0.2");
    snprintf(over, sizeof over, "%s;ztf_distnr=0.2;ztf_isdiffpos=f", host);
    det(&n, 44, 60000, "g", 18, over);
    ss_store *s = ingest(fs, &n);
    ck_assert(has_tag(s, 40, "ztf_nuclear"));
    ck_assert_double_eq_tol(prop_num(s, 40, "ztf_nuclear_distnr"), 0.49, 1e-6);
    for (int ra = 41; ra <= 44; ra++)
        ck_assert_msg(!has_tag(s, ra, "ztf_nuclear"), "ra %d", ra);
    ss_store_close(s);
    ss_filter_set_free(fs);
}
END_TEST

START_TEST(history_cuts)
{
    const char *files[] = {"ztf_history.lua"};
    for (int halting = 0; halting < 2; halting++) {
        ss_filter_set *fs = set_of(files, 1, halting ? "setup.halt = true" : NULL);
        night n;
        night_open(&n);
        double jd = 60000 + JD;
        char over[160];
        snprintf(over, sizeof over, "ztf_ndethist=20;ztf_jdstarthist=%.1f", jd - 365);
        det(&n, 50, 60000, "r", 18, over);
        snprintf(over, sizeof over, "ztf_ndethist=19;ztf_jdstarthist=%.1f", jd - 400);
        det(&n, 51, 60000, "r", 18, over);
        snprintf(over, sizeof over, "ztf_ndethist=100;ztf_jdstarthist=%.1f", jd - 364);
        det(&n, 52, 60000, "r", 18, over);
        ss_store *s = ingest(fs, &n);
        ck_assert(has_tag(s, 50, "ztf_variable_history"));
        ck_assert_double_eq_tol(prop_num(s, 50, "ztf_history_days"), 365, 1e-6);
        ck_assert(!has_tag(s, 51, "ztf_variable_history"));
        ck_assert(!has_tag(s, 52, "ztf_variable_history"));
        ck_assert_str_eq(prop_str(s, 50, "ztf_reject_reason"), halting ? "variable_history" : "");
        ck_assert_int_eq(stat_of(fs, "ztf_history", "halts"), halting);
        ss_store_close(s);
        ss_filter_set_free(fs);
    }
}
END_TEST

START_TEST(young_cuts)
{
    const char *files[] = {"ztf_young.lua"};
    ss_filter_set *fs = set_of(files, 1, NULL);
    night n;
    night_open(&n);
    double jd = 60000 + JD;
    char over[160];
    snprintf(over, sizeof over, "ztf_jdstarthist=%.1f", jd - 2.9);
    det(&n, 60, 60000, "g", 18, over);
    snprintf(over, sizeof over, "ztf_jdstarthist=%.1f", jd - 3.1);
    det(&n, 61, 60000, "g", 18, over);
    /* young by ZTF's history, but the locus holds a detection 5 days earlier (another survey) */
    fprintf(n.f, "o1,other,62,20,59995,g,19,0.05%s\n", ",,,,,,,,,,,,,,,");
    snprintf(over, sizeof over, "ztf_jdstarthist=%.1f", jd - 1);
    det(&n, 62, 60000, "g", 18, over);
    snprintf(over, sizeof over, "ztf_jdstarthist=%.1f;ztf_isdiffpos=f", jd - 1);
    det(&n, 63, 60000, "g", 18, over);
    ss_store *s = ingest(fs, &n);
    ck_assert(has_tag(s, 60, "ztf_young"));
    ck_assert_double_eq_tol(prop_num(s, 60, "ztf_age_days"), 2.9, 1e-3);
    ck_assert(!has_tag(s, 61, "ztf_young"));
    ck_assert_double_eq_tol(prop_num(s, 61, "ztf_age_days"), 3.1, 1e-3);
    ck_assert(!has_tag(s, 62, "ztf_young"));
    ck_assert_double_eq_tol(prop_num(s, 62, "ztf_age_days"), 5, 1e-3);
    ck_assert(!has_tag(s, 63, "ztf_young"));
    ck_assert_str_eq(prop_str(s, 63, "ztf_age_days"), "");
    ss_store_close(s);
    ss_filter_set_free(fs);
}
END_TEST

/* Two nights of one band at @p ra: mag @p m1 then @p m2 a day later. */
static void pair(night *n, double ra, const char *band, double m1, double m2, const char *over)
{
    det(n, ra, 60000, band, m1, over);
    det(n, ra, 60001, band, m2, over);
}

START_TEST(fast_cuts)
{
    const char *files[] = {"ztf_fast.lua"};
    ss_filter_set *fs = set_of(files, 1, NULL);
    night n;
    night_open(&n);
    pair(&n, 70, "g", 18, 16.95, ""); /* rises 1.05 mag/day */
    pair(&n, 71, "r", 18, 17.05, ""); /* rises 0.95 mag/day */
    pair(&n, 72, "i", 17, 17.35, ""); /* fades 0.35 mag/day */
    pair(&n, 73, "g", 17, 17.25, ""); /* fades 0.25 mag/day */
    det(&n, 74, 60000, "g", 18, "");  /* rises 2 mag in 0.05 day: too close to tell */
    det(&n, 74, 60000.05, "g", 16, "");
    /* colour: g - r 0 then 0.4 a day later (reddening 0.4 mag/day), each band steady-ish */
    det(&n, 76, 60000, "g", 18, "");
    det(&n, 76, 60000.1, "r", 18, "");
    det(&n, 76, 60001, "g", 18.2, "");
    det(&n, 76, 60001.1, "r", 17.8, "");
    det(&n, 77, 60000, "g", 18, ""); /* reddening 0.2 mag/day */
    det(&n, 77, 60000.1, "r", 18, "");
    det(&n, 77, 60001, "g", 18.1, "");
    det(&n, 77, 60001.1, "r", 17.9, "");
    ss_store *s = ingest(fs, &n);
    ck_assert(has_tag(s, 70, "ztf_fast"));
    ck_assert_double_eq_tol(prop_num(s, 70, "ztf_rate_g"), -1.05, 1e-4);
    ck_assert(!has_tag(s, 71, "ztf_fast"));
    ck_assert_double_eq_tol(prop_num(s, 71, "ztf_rate_r"), -0.95, 1e-4);
    ck_assert(has_tag(s, 72, "ztf_fast"));
    ck_assert_double_eq_tol(prop_num(s, 72, "ztf_rate_i"), 0.35, 1e-4);
    ck_assert(!has_tag(s, 73, "ztf_fast"));
    ck_assert(!has_tag(s, 74, "ztf_fast"));
    ck_assert_str_eq(prop_str(s, 74, "ztf_rate_g"), "");
    ck_assert(has_tag(s, 76, "ztf_colour_change"));
    ck_assert_double_eq_tol(prop_num(s, 76, "ztf_colour_gr"), 0.4, 1e-4);
    ck_assert_double_eq_tol(prop_num(s, 76, "ztf_colour_rate"), 0.4, 1e-4);
    ck_assert(!has_tag(s, 76, "ztf_fast")); /* 0.2 mag/day in each band */
    ck_assert(!has_tag(s, 77, "ztf_colour_change"));
    ck_assert_double_eq_tol(prop_num(s, 77, "ztf_colour_rate"), 0.2, 1e-4);
    ck_assert_int_eq(stat_of(fs, "ztf_fast", "errors"), 0);
    ss_store_close(s);
    ss_filter_set_free(fs);
}
END_TEST

START_TEST(fast_needs_a_significant_change)
{
    const char *files[] = {"ztf_fast.lua"};
    ss_filter_set *fs = set_of(files, 1, "setup.min_sigma = 30");
    night n;
    night_open(&n);
    pair(&n, 78, "g", 18, 16, ""); /* 2 mag: 28 sigma with 0.05 mag errors */
    ss_store *s = ingest(fs, &n);
    ck_assert(!has_tag(s, 78, "ztf_fast"));
    ck_assert_double_eq_tol(prop_num(s, 78, "ztf_rate_g"), -2, 1e-4);
    ss_store_close(s);
    ss_filter_set_free(fs);
}
END_TEST

START_TEST(rank_score)
{
    const char *files[] = {"ztf_history.lua", "ztf_young.lua", "ztf_fast.lua", "ztf_rank.lua"};
    ss_filter_set *fs = set_of(files, 4, NULL);
    night n;
    night_open(&n);
    double jd = 60000 + JD;
    char over[160];
    /* real 0.9, age 2 (young 0.8), no rate, mag 19 (bright 0.75): 0.27 + 0.24 + 0.15 = 0.66 */
    snprintf(over, sizeof over, "ztf_drb=0.9;ztf_jdstarthist=%.1f", jd - 2);
    det(&n, 80, 60000, "g", 19, over);
    /* real 0.5, age 8 (0.2), mag 20.5 (0): 0.15 + 0.06 = 0.21 */
    snprintf(over, sizeof over, "ztf_drb=0.5;ztf_jdstarthist=%.1f", jd - 8);
    det(&n, 81, 60000, "g", 20.5, over);
    /* a variable (0.5 penalty): real 1, old, mag 18 (bright 1): (0.3 + 0.2) / 2 = 0.25 */
    snprintf(over, sizeof over, "ztf_drb=1;ztf_ndethist=30;ztf_jdstarthist=%.1f", jd - 400);
    det(&n, 82, 60000, "g", 18, over);
    /* rb without drb 0.8, age 1 day after a 1.5 mag/day rise (fast 1), mag 17:
     * 0.24 + 0.3 * 0.9 + 0.2 + 0.2 = 0.91 */
    snprintf(over, sizeof over, "ztf_drb=-;ztf_rb=0.8;ztf_jdstarthist=%.1f", jd - 1);
    det(&n, 83, 59999, "g", 18.5, over);
    det(&n, 83, 60000, "g", 17, over);
    ss_store *s = ingest(fs, &n);
    ck_assert_double_eq_tol(prop_num(s, 80, "ztf_score"), 0.66, 1e-4);
    ck_assert(has_tag(s, 80, "ztf_top"));
    ck_assert_double_eq_tol(prop_num(s, 81, "ztf_score"), 0.21, 1e-4);
    ck_assert(!has_tag(s, 81, "ztf_top"));
    ck_assert_double_eq_tol(prop_num(s, 82, "ztf_score"), 0.25, 1e-4);
    ck_assert(has_tag(s, 82, "ztf_variable_history"));
    ck_assert_double_eq_tol(prop_num(s, 83, "ztf_score"), 0.91, 1e-4);
    ss_store_close(s);
    ss_filter_set_free(fs);
}
END_TEST

START_TEST(bad_setup_is_refused)
{
    const char *files[] = {"ztf_quality.lua", "ztf_solar_system.lua", "ztf_fast.lua"};
    const char *setups[] = {"setup.min_drb = high", "setup.require_stationary = yes",
                            "setup.min_rise_rate = fast"};
    const char *msgs[] = {"min_drb must be a number, not 'high'",
                          "require_stationary must be true or false, not 'yes'",
                          "min_rise_rate must be a number, not 'fast'"};
    for (int i = 0; i < 3; i++) {
        char *text = NULL;
        ck_assert_int_ge(
            asprintf(&text, "[filter f]\npath = %s/%s\n%s\n", ZTF_DIR, files[i], setups[i]), 0);
        char *path = tu_write(tu_tmp, "bad.ini", text);
        ss_filter_set *fs = NULL;
        ss_err err = {0};
        ck_assert_int_ne(ss_filter_set_load(path, &fs, &err), 0);
        ck_assert_msg(strstr(err.msg, msgs[i]), "%s", err.msg);
        free(text), free(path);
    }
}
END_TEST

static json_t *filter_of(json_t *report, const char *label)
{
    json_t *f;
    size_t i;
    json_array_foreach(
        json_object_get(json_object_get(report, "set"), "filters"), i,
        f) if (!strcmp(json_string_value(json_object_get(f, "label")), label)) return f;
    ck_abort_msg("no filter %s in the report", label);
    return NULL;
}

static long jget(json_t *f, const char *key)
{
    return (long)json_integer_value(json_object_get(f, key));
}

/* The set over each shared ZTF data set: no failures, and each halt removes the locus from the
 * later filters (a filter runs on what the one before let through); the halts per filter. */
START_TEST(real_ztf_alerts)
{
    const char *shared = tu_shared_data("the ZTF filter set on real ZTF alerts");
    if (!shared)
        return;
    static const char *const labels[] = {"ztf_quality", "ztf_solar_system", "ztf_star",
                                         "ztf_history", "ztf_nuclear",      "ztf_young",
                                         "ztf_fast",    "ztf_rank"};
    static const struct {
        const char *dir;
        long runs, halts[3]; /* quality, solar system, star */
    } sets[] = {
        {"fink-local-v3.3", 50, {40, 1, 9}},
        {"kowalski-20200202-v3.3", 12, {0, 1, 1}},
        {"kowalski-20231012-v4.01", 24, {3, 15, 6}},
        {"ztf-avro-alert-v3.2-v3.3", 2, {1, 0, 1}},
    };
    for (size_t d = 0; d < sizeof sets / sizeof *sets; d++) {
        char *out, *err;
        ck_assert_int_eq(tu_sks(&out, &err,
                                "replay --filters %s/ztf.ini --report %s/r.json %s/ztf/%s", ZTF_DIR,
                                tu_tmp, shared, sets[d].dir),
                         0);
        free(out), free(err);
        char *p = tu_path(tu_tmp, "r.json");
        json_error_t jerr;
        json_t *r = json_load_file(p, 0, &jerr);
        ck_assert_msg(r != NULL, "%s: %s", p, jerr.text);
        free(p);
        long runs = sets[d].runs;
        for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) {
            json_t *f = filter_of(r, labels[i]);
            ck_assert_msg(jget(f, "errors") == 0, "%s: %s failed", sets[d].dir, labels[i]);
            ck_assert_msg(jget(f, "runs") == runs, "%s: %s ran %ld times, not %ld", sets[d].dir,
                          labels[i], jget(f, "runs"), runs);
            if (i < 3)
                ck_assert_msg(jget(f, "halts") == sets[d].halts[i], "%s: %s halted %ld",
                              sets[d].dir, labels[i], jget(f, "halts"));
            runs -= jget(f, "halts");
        }
        json_decref(r);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("contrib_ztf");
    TCase *tc = tcase_create("ztf");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, quality_cuts);
    tcase_add_test(tc, solar_system_cuts);
    tcase_add_test(tc, star_cuts);
    tcase_add_test(tc, nuclear_cuts);
    tcase_add_test(tc, history_cuts);
    tcase_add_test(tc, young_cuts);
    tcase_add_test(tc, fast_cuts);
    tcase_add_test(tc, fast_needs_a_significant_change);
    tcase_add_test(tc, rank_score);
    tcase_add_test(tc, bad_setup_is_refused);
    tcase_add_test(tc, real_ztf_alerts);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
