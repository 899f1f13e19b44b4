/* skysieve simulate: reproducibility, the cadence, position scatter, the jump source against the
 * tutorial's jump filter, every format through ingest, light-curve files, and what it refuses. */
#include "ingest.h"
#include "simulate.h"
#include "store.h"
#include "testutil.h"

#include <fitsio.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One alert of a simulated CSV. */
typedef struct row {
    char object_id[16], band[SS_PASSBAND_MAX + 1], model[16];
    double ra, dec, mjd, mag, magerr, true_mag;
} row;

/* Run `skysieve simulate ARGS`, which must succeed. */
static void simulate(const char *args)
{
    char *out, *err;
    int rc = tu_sks(&out, &err, "simulate %s", args);
    ck_assert_msg(rc == 0, "simulate %s: exit %d: %s", args, rc, err);
    free(out), free(err);
}

/* Every row of a simulated CSV, in file order. */
static row *read_rows(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    size_t cap = 1024;
    row *r = malloc(cap * sizeof *r);
    *n = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_msg(!strncmp(line, "alert_id,object_id,survey,ra,dec,mjd,passband", 45), "%s", line);
    while (fgets(line, sizeof line, f)) {
        if (*n == cap)
            r = realloc(r, (cap *= 2) * sizeof *r);
        row *x = &r[(*n)++];
        int got = sscanf(line, "%*[^,],%15[^,],sim,%lf,%lf,%lf,%16[^,],%lf,%lf,%*[^,],%15[^,],%lf",
                         x->object_id, &x->ra, &x->dec, &x->mjd, x->band, &x->mag, &x->magerr,
                         x->model, &x->true_mag);
        ck_assert_msg(got == 9, "unparsable row: %s", line);
    }
    fclose(f);
    return r;
}

/* The truth file's lines, by object id. */
static json_t *read_truth(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    json_t *all = json_object();
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        ck_assert_msg(j, "truth line is not JSON: %s", line);
        json_object_set_new(all, json_string_value(json_object_get(j, "object_id")), j);
    }
    fclose(f);
    return all;
}

static double param(json_t *truth, const char *object_id, const char *key)
{
    json_t *p = json_object_get(json_object_get(truth, object_id), "params");
    ck_assert_msg(json_object_get(p, key), "%s has no parameter %s", object_id, key);
    return json_number_value(json_object_get(p, key));
}

START_TEST(same_seed_same_bytes)
{
    const char *formats[] = {"csv", "jsonl", "avro"};
    for (int i = 0; i < 3; i++) {
        char *a = NULL, *b = NULL, *c = NULL, *args = NULL;
        ck_assert_int_ge(asprintf(&a, "%s/a.%s", tu_tmp, formats[i]), 0);
        ck_assert_int_ge(asprintf(&b, "%s/b.%s", tu_tmp, formats[i]), 0);
        ck_assert_int_ge(asprintf(&c, "%s/c.%s", tu_tmp, formats[i]), 0);
        ck_assert_int_ge(asprintf(&args, "--seed 7 --out %s --truth %s/ta", a, tu_tmp), 0);
        simulate(args);
        free(args);
        ck_assert_int_ge(asprintf(&args, "--seed 7 --out %s --truth %s/tb", b, tu_tmp), 0);
        simulate(args);
        free(args);
        ck_assert_int_ge(asprintf(&args, "--seed 8 --out %s", c), 0);
        simulate(args);
        size_t la, lb, lc, lta, ltb;
        char *xa = tu_read_file(a, &la), *xb = tu_read_file(b, &lb), *xc = tu_read_file(c, &lc);
        ck_assert_msg(la > 1000 && la == lb && !memcmp(xa, xb, la), "%s differs", formats[i]);
        ck_assert_msg(la != lc || memcmp(xa, xc, la), "seeds 7 and 8 gave the same %s", formats[i]);
        char *ta = tu_path(tu_tmp, "ta"), *tb = tu_path(tu_tmp, "tb");
        char *yta = tu_read_file(ta, &lta), *ytb = tu_read_file(tb, &ltb);
        ck_assert(lta > 100 && lta == ltb && !memcmp(yta, ytb, lta));
        free(xa), free(xb), free(xc), free(yta), free(ytb), free(ta), free(tb);
        free(a), free(b), free(c), free(args);
    }
}
END_TEST

/* Each source's alerts at start + k night_gap + v visit_gap + b band_gap, in time order. */
static void check_cadence(const char *args, int epochs, double night, double visit, double band,
                          const char *bands, int nsrc)
{
    char *path = tu_path(tu_tmp, "cadence.csv"), *full = NULL;
    ck_assert_int_ge(asprintf(&full, "%s --out %s", args, path), 0);
    simulate(full);
    size_t n, nb = strlen(bands);
    row *r = read_rows(path, &n);
    ck_assert_uint_eq(n, (size_t)epochs * 2 * nb * (size_t)nsrc);
    for (size_t i = 0; i < n; i++) {
        size_t slot = i / (size_t)nsrc, k = slot / (2 * nb), v = slot / nb % 2, b = slot % nb;
        double want = 60000.1 + (double)k * night + (double)v * visit + (double)b * band;
        ck_assert_msg(fabs(r[i].mjd - want) < 2e-6, "row %zu: mjd %.6f, expected %.6f", i, r[i].mjd,
                      want);
        ck_assert_msg(r[i].band[0] == bands[b] && !r[i].band[1], "row %zu: band %s", i, r[i].band);
        ck_assert(i == 0 || r[i].mjd >= r[i - 1].mjd);
    }
    free(r), free(path), free(full);
}

START_TEST(cadence_of_the_tutorial)
{
    /* 10 epochs, every second night; two visits an hour apart; g and r ten minutes apart. */
    check_cadence("--model constant=3", 10, 2.0, 1.0 / 24, 10.0 / 1440, "gr", 3);
    check_cadence("--model constant=2 --epochs 4 --night-gap 3 --visit-gap 30m --band-gap 300s "
                  "--bands g,r,i",
                  4, 3.0, 0.5 / 24, 5.0 / 1440, "gri", 2);
}
END_TEST

/* Offsets of alerts from their source, in arcsec: the RMS per axis is the requested scatter and
 * the mean distance is sqrt(pi/2) times it; east offsets are measured on the sky (cos dec). */
static void check_scatter(const char *field, double scatter)
{
    char *path = tu_path(tu_tmp, "sc.csv"), *truth_path = tu_path(tu_tmp, "sc.jsonl"), *args;
    ck_assert_int_ge(asprintf(&args,
                              "--model constant=150 --field %s --scatter %g --out %s "
                              "--truth %s",
                              field, scatter, path, truth_path),
                     0);
    simulate(args);
    size_t n;
    row *r = read_rows(path, &n);
    json_t *truth = read_truth(truth_path);
    double se = 0, sn = 0, sr = 0, me = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_object_get(truth, r[i].object_id);
        double ra0 = json_number_value(json_object_get(t, "ra"));
        double dec0 = json_number_value(json_object_get(t, "dec"));
        double dra = remainder(r[i].ra - ra0, 360.0);
        double east = dra * cos(dec0 * M_PI / 180) * 3600, north = (r[i].dec - dec0) * 3600;
        se += east * east, sn += north * north, sr += hypot(east, north), me += east;
    }
    ck_assert_uint_eq(n, 150 * 40);
    double rms_e = sqrt(se / (double)n), rms_n = sqrt(sn / (double)n);
    ck_assert_msg(fabs(rms_e / scatter - 1) < 0.05 && fabs(rms_n / scatter - 1) < 0.05,
                  "field %s: RMS offsets east %.3f north %.3f for a scatter of %g", field, rms_e,
                  rms_n, scatter);
    ck_assert_double_lt(fabs(sr / (double)n / (scatter * sqrt(M_PI / 2)) - 1), 0.05);
    ck_assert_double_lt(fabs(me / (double)n), 0.1 * scatter);
    json_decref(truth);
    free(r), free(path), free(truth_path), free(args);
}

START_TEST(positions_scatter_by_the_requested_amount)
{
    check_scatter("150.1,2.2,1", 1.0);
    check_scatter("10,80,0.5", 2.0); /* at dec 80 a degree of RA is 0.17 degree on the sky */
    check_scatter("0,0,1", 1.0);     /* sources on both sides of RA 0 */
}
END_TEST

/* Walk each source's light curve per band, as the tutorial's jump filter does after every alert:
 * where the two latest detections differ by >= 3 mag, the source must be a jump source at its
 * jump epoch, once per band. @return how many jumps were seen. */
static int check_jumps(const char *args, int jump_epoch)
{
    char *path = tu_path(tu_tmp, "j.csv"), *truth_path = tu_path(tu_tmp, "j.jsonl"), *full;
    ck_assert_int_ge(asprintf(&full, "%s --out %s --truth %s", args, path, truth_path), 0);
    simulate(full);
    size_t n;
    row *r = read_rows(path, &n);
    json_t *truth = read_truth(truth_path), *last = json_object();
    int jumps = 0, jump_sources = 0;
    for (size_t i = 0; i < n; i++) { /* the file is in time order */
        char key[64];
        snprintf(key, sizeof key, "%s/%s", r[i].object_id, r[i].band);
        json_t *prev = json_object_get(last, key);
        if (prev && fabs(r[i].mag - json_real_value(prev)) >= 3) {
            int epoch = (int)floor((r[i].mjd - 60000.1) / 2 + 1e-6);
            ck_assert_msg(!strcmp(r[i].model, "jump") && epoch == jump_epoch,
                          "%s (%s) jumps %.2f mag at MJD %.6f, epoch %d", r[i].object_id,
                          r[i].model, r[i].mag - json_real_value(prev), r[i].mjd, epoch);
            double first = param(truth, r[i].object_id, "first_bright_mjd");
            ck_assert_double_lt(fabs(r[i].mjd - first), 1.0 / 24);
            ck_assert_double_lt(param(truth, r[i].object_id, "jump_mjd"), first);
            jumps++;
        }
        json_object_set_new(last, key, json_real(r[i].mag));
    }
    const char *id;
    json_t *t;
    json_object_foreach(truth, id, t)
    {
        jump_sources += !strcmp(json_string_value(json_object_get(t, "model")), "jump");
    }
    ck_assert_int_eq(jumps, 2 * jump_sources); /* once in g, once in r */
    json_decref(truth), json_decref(last);
    free(r), free(path), free(truth_path), free(full);
    return jumps;
}

START_TEST(only_the_jump_source_jumps_at_its_epoch)
{
    ck_assert_int_eq(check_jumps("--seed 1", 5), 2);
    ck_assert_int_eq(check_jumps("--seed 2 --jump-epoch 3", 3), 2);
    ck_assert_int_ge(check_jumps("--seed 3 --sources 3000 --jump-epoch 8", 8), 2 * 20);
}
END_TEST

/* The tutorial's jump filter itself, over the ingested survey: one locus tagged, the jump source,
 * at its first brighter observation. */
START_TEST(the_jump_filter_tags_the_jump_source)
{
    char *csv = tu_path(tu_tmp, "demo.csv"), *truth = tu_path(tu_tmp, "demo.jsonl"), *args, *out,
         *err;
    ck_assert_int_ge(asprintf(&args, "--out %s --truth %s", csv, truth), 0);
    simulate(args);
    char *set = NULL;
    ck_assert_int_ge(asprintf(&set, "[filter jump_lua]\npath = %s/jump/jump.lua\n", SS_CONTRIB_SRC),
                     0);
    char *set_path = tu_write(tu_tmp, "set.ini", set);
    /* 5" holds a 1" scatter (per axis) in one locus per source */
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --quiet --store %s/st --radius 5 --filters %s %s",
                            tu_tmp, set_path, csv),
                     0);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "tagged --store %s/st jump", tu_tmp), 0);
    ck_assert_uint_eq(tu_count_lines(out), 1);
    json_t *tag = json_loads(out, 0, NULL), *t = read_truth(truth);
    ck_assert_str_eq(json_string_value(json_object_get(tag, "sim_object_id")), "SIM00000126");
    ck_assert_double_eq_tol(json_real_value(json_object_get(tag, "tagged_mjd")),
                            param(t, "SIM00000126", "first_bright_mjd"), 1e-6);
    json_decref(tag), json_decref(t);
    free(out), free(err), free(csv), free(truth), free(args), free(set), free(set_path);
}
END_TEST

static json_t *stats(const char *store)
{
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "stats --store %s", store), 0);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(j);
    free(out), free(err);
    return j;
}

/* The magnitude of the first alert of @p object in @p store. */
static double first_mag(const char *store, const char *object)
{
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "locus --store %s %s", store, object), 0);
    json_t *j = json_loads(out, 0, NULL);
    json_t *a = json_array_get(json_object_get(j, "alerts"), 0);
    double mag = json_real_value(json_object_get(json_object_get(a, "properties"), "ant_mag"));
    json_decref(j);
    free(out), free(err);
    return mag;
}

START_TEST(every_format_ingests)
{
    const char *formats[] = {"csv", "jsonl", "avro"};
    const char *mix = "--model constant=20 --model transient=3 --model jump=1 --seed 5";
    size_t n = 0;
    row *r = NULL;
    for (int i = 0; i < 3; i++) {
        char *file = NULL, *store = NULL, *args = NULL, *out, *err;
        ck_assert_int_ge(asprintf(&file, "%s/s.%s", tu_tmp, formats[i]), 0);
        ck_assert_int_ge(asprintf(&store, "%s/st-%s", tu_tmp, formats[i]), 0);
        ck_assert_int_ge(asprintf(&args, "%s --out %s", mix, file), 0);
        simulate(args); /* the format from the extension */
        if (i == 0)
            r = read_rows(file, &n);
        ck_assert_int_eq(tu_sks(&out, &err, "ingest --quiet --radius 5 --store %s %s", store, file),
                         0);
        free(out), free(err);
        json_t *s = stats(store);
        ck_assert_msg(json_integer_value(json_object_get(s, "detections")) == (json_int_t)n,
                      "%s: %lld detections, %zu alerts written", formats[i],
                      (long long)json_integer_value(json_object_get(s, "detections")), n);
        ck_assert_int_eq(json_integer_value(json_object_get(s, "loci")), 24);
        ck_assert_int_eq(json_integer_value(json_object_get(s, "rejected")), 0);
        json_decref(s);
        /* the same first alert in every format (Avro's magpsf is a float) */
        size_t k = 0;
        while (strcmp(r[k].object_id, "SIM00000024"))
            k++;
        ck_assert_double_eq_tol(first_mag(store, "SIM00000024"), r[k].mag, 1e-4);
        free(file), free(store), free(args);
    }
    free(r);
}
END_TEST

START_TEST(light_curve_files_are_sampled)
{
    /* rows out of order and a time given twice (averaged), an empty cell (no I there) */
    char *lc = tu_write(tu_tmp, "lc.csv",
                        "#t, g, r, I\n"
                        "4, 20, 21,\n"
                        "0, 18, 19, 17\n"
                        "2, 19, 20, 17\n"
                        "2, 19.5, 20, 17\n"
                        "20, 22, 23, 17\n");
    char *dat = tu_write(tu_tmp, "sn.dat",
                         "#ID:1\n"
                         "#type:Ia\n"
                         "   t  pb  flux  dflux\n"
                         "   56000.0  r  100  1\n"
                         "   56000.0  g  1000  1\n"
                         "   56010.0  g  10000  1\n"
                         "   56004.0  r  -5  1\n");
    char *out_path = tu_path(tu_tmp, "lc-out.csv"), *args;
    ck_assert_int_ge(asprintf(&args, "--lightcurve %s --snana %s --out %s", lc, dat, out_path), 0);
    simulate(args);
    size_t n;
    row *r = read_rows(out_path, &n);
    int seen_g2 = 0, seen_sn = 0;
    for (size_t i = 0; i < n; i++) {
        double t = r[i].mjd - 60000.1;
        if (!strcmp(r[i].object_id, "SIM00000001")) {
            /* the file's first two bands, g and r */
            ck_assert(!strcmp(r[i].band, "g") || !strcmp(r[i].band, "r"));
            if (!strcmp(r[i].band, "g") && fabs(t - 2) < 1e-6) {
                ck_assert_double_eq_tol(r[i].true_mag, 19.25, 1e-4); /* the average of two */
                seen_g2 = 1;
            }
            if (!strcmp(r[i].band, "r") && t > 4 && t < 20)
                ck_assert_double_eq_tol(r[i].true_mag, 21 + 2 * (t - 4) / 16, 1e-4);
        } else {
            ck_assert_str_eq(r[i].model, "snana");
            /* r has no flux after t = 3.81 (it crosses zero between 100 and -5) */
            ck_assert(strcmp(r[i].band, "r") || t < 3.81);
            if (!strcmp(r[i].band, "g")) {
                double flux = 1000 + 900 * fmin(t, 10);
                ck_assert_double_eq_tol(r[i].true_mag, 27.5 - 2.5 * log10(flux), 1e-4);
                seen_sn++;
            }
        }
    }
    ck_assert(seen_g2 && seen_sn == 20);
    free(r), free(args), free(lc), free(dat), free(out_path);
}
END_TEST

START_TEST(shared_light_curves)
{
    const char *data = tu_shared_data("simulate: the tutorial's light curves");
    if (!data)
        return;
    char *out_path = tu_path(tu_tmp, "fake.csv"), *truth_path = tu_path(tu_tmp, "fake.jsonl"),
         *args;
    ck_assert_int_ge(asprintf(&args, "--lightcurve %s/lightcurves/fake.csv --out %s --truth %s",
                              data, out_path, truth_path),
                     0);
    simulate(args);
    size_t n;
    row *r = read_rows(out_path, &n);
    ck_assert_uint_eq(n, 40); /* 18 to 21 mag: every observation detected */
    ck_assert_str_eq(r[0].band, "V");
    ck_assert_str_eq(r[1].band, "I");
    ck_assert_double_eq_tol(r[0].true_mag, 18.0, 1e-4); /* before its first row: clamped */
    /* t = 2: between rows 1.6220735785953186 (18.0581...) and 3.1270903010033457 (18.1395...) */
    double w = (2 - 1.6220735785953186) / (3.1270903010033457 - 1.6220735785953186);
    ck_assert_double_eq_tol(
        r[4].true_mag, 18.058139534883722 + w * (18.13953488372093 - 18.058139534883722), 1e-4);
    free(r), free(args);

    ck_assert_int_ge(asprintf(&args, "--snana %s/lightcurves/des-sim-sn --out %s --truth %s", data,
                              out_path, truth_path),
                     0);
    simulate(args);
    json_t *truth = read_truth(truth_path);
    ck_assert_uint_eq(json_object_size(truth), 100);
    json_t *first = json_object_get(truth, "SIM00000001");
    ck_assert_str_eq(json_string_value(json_object_get(first, "model")), "snana");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(first, "bands"), 0)), "i");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(first, "bands"), 1)), "z");
    r = read_rows(out_path, &n);
    ck_assert_uint_gt(n, 1000);
    json_decref(truth);
    free(r), free(args), free(out_path), free(truth_path);
}
END_TEST

START_TEST(malformed_files_name_file_and_line)
{
    const char *cases[][3] = {
        {"bad.csv", "#t,V,I\n0, 18, 20\n1, 18.5, abc\n", "bad.csv:3: I: 'abc'"},
        {"short.csv", "#t,V,I\n0, 18\n", "short.csv:2: 2 fields"},
        {"empty.csv", "\n", "empty.csv: no header line"},
        {"bad.dat", "#ID:1\nt pb flux\n1 g 2\n", "bad.dat:2: the column header has no flux error"},
        {"worse.dat", "#ID:1\nt pb flux dflux\n1 g x 1\n", "worse.dat:3: flux 'x'"},
    };
    char *out_path = tu_path(tu_tmp, "never.csv");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *path = tu_write(tu_tmp, cases[i][0], cases[i][1]), *out, *err;
        int dat = strstr(cases[i][0], ".dat") != NULL;
        ck_assert_int_eq(tu_sks(&out, &err, "simulate --%s %s --out %s",
                                dat ? "snana" : "lightcurve", path, out_path),
                         1);
        ck_assert_msg(strstr(err, cases[i][2]), "expected '%s' in: %s", cases[i][2], err);
        ck_assert_int_ne(access(out_path, F_OK), 0);
        free(out), free(err), free(path);
    }
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err, "simulate --lightcurve %s/absent.csv", tu_tmp), 1);
    ck_assert_ptr_nonnull(strstr(err, "absent.csv"));
    free(out), free(err);
    char *one = tu_write(tu_tmp, "one.csv", "#t,V\n0,18\n");
    ck_assert_int_eq(tu_sks(&out, &err, "simulate --lightcurve %s --bands g", one), 1);
    ck_assert_ptr_nonnull(strstr(err, "one.csv: no passband 'g'"));
    free(out), free(err), free(one), free(out_path);
}
END_TEST

START_TEST(bad_options_are_usage_errors)
{
    const char *bad[] = {
        "--epochs 0",
        "--model comet=3",
        "--model jump",
        "--bands g,,r",
        "--format xml",
        "--field 1,2",
        "--scatter -1",
        "--visit-gap 5m",
        "--jump-epoch 10",
        "--epochs 1",
        "--format avro --bands V",
        "--sources 0",
        "--model jump=0",
        "--seed x",
        "stray",
        "--night-gap 2 weeks",
        "--start-mjd 88060",
        "--no-such-option",
    };
    char *out, *err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(tu_sks(&out, &err, "simulate %s", bad[i]) == 2, "'%s' was accepted", bad[i]);
        ck_assert_msg(strstr(err, "simulate"), "%s: %s", bad[i], err);
        free(out), free(err);
    }
    ck_assert_int_eq(tu_sks(&out, &err, "simulate --help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: skysieve simulate"));
    free(out), free(err);
}
END_TEST

START_TEST(population_and_error_model)
{
    uint64_t c[SS_SIM_NBUILTIN];
    ss_sim_default_counts(c);
    ck_assert_int_eq(ss_sim_scale_counts(c, 25000), 0);
    ck_assert_uint_eq(c[0] + c[1] + c[2] + c[3], 25000);
    ck_assert_uint_eq(c[SS_SIM_CONSTANT], 19841);
    ck_assert_uint_eq(c[SS_SIM_JUMP], 199);
    ss_sim_default_counts(c);
    ck_assert_int_eq(ss_sim_scale_counts(c, 10), 0); /* every model kept */
    ck_assert(c[0] && c[1] && c[2] && c[3] && c[0] + c[1] + c[2] + c[3] == 10);
    uint64_t none[SS_SIM_NBUILTIN] = {0};
    ck_assert_int_eq(ss_sim_scale_counts(none, 10), -1);
    ck_assert_double_eq_tol(ss_sim_magerr(24.5, 24.5), 0.2001, 1e-4); /* 5 sigma */
    ck_assert_double_lt(ss_sim_magerr(18, 24.5), 0.006);
}
END_TEST

/* What the message sink saw; every message ingested on its own, as a consumer would. */
typedef struct msgs_seen {
    ss_ingest *in;
    unsigned messages, alerts, most, stop_after;
    uint64_t last_id;
} msgs_seen;

static int take_message(void *ctx, const void *msg, size_t len, unsigned alerts, uint64_t first_id,
                        ss_err *err)
{
    msgs_seen *m = ctx;
    ck_assert_uint_gt(first_id, m->last_id);
    m->last_id = first_id;
    if (m->stop_after && m->messages == m->stop_after)
        return ss_err_set(err, SS_EINVAL, "enough");
    m->messages++;
    m->alerts += alerts;
    m->most = alerts > m->most ? alerts : m->most;
    FILE *f = fmemopen((void *)msg, len, "rb");
    ck_assert_ptr_nonnull(f);
    char name[32];
    snprintf(name, sizeof name, "msg-%u", m->messages);
    ck_assert_msg(ss_ingest_stream(m->in, f, name, err) == 0, "%s", err->msg);
    fclose(f);
    return 0;
}

static ss_sim *small_survey(ss_sim_format format)
{
    ss_sim_options o;
    ss_sim_options_default(&o);
    memset(o.count, 0, sizeof o.count);
    o.count[SS_SIM_CONSTANT] = 15;
    o.count[SS_SIM_JUMP] = 2;
    o.epochs = 4;
    o.jump_epoch = 2;
    o.seed = 11;
    o.format = format;
    ss_err err = {0};
    ck_assert_msg(ss_sim_options_check(&o, &err) == 0, "%s", err.msg);
    ss_sim *s = ss_sim_new(&o);
    ck_assert_msg(s && ss_sim_prepare(s, &err) == 0, "%s", err.msg);
    return s;
}

/* Messages as a survey's stream carries them: each a whole input (one Avro container, CSV with
 * its header), together the same alerts as the file. */
START_TEST(messages_hold_the_same_alerts)
{
    const ss_sim_format formats[] = {SS_SIM_AVRO, SS_SIM_CSV, SS_SIM_JSONL};
    const unsigned per[] = {1, 7, 3};
    for (int i = 0; i < 3; i++) {
        char name[32], *dir;
        snprintf(name, sizeof name, "msgs%d", i);
        dir = tu_path(tu_tmp, name);
        ss_store_options so = {.create = 1, .radius_arcsec = 5};
        ss_store *st = NULL;
        ss_err err = {0};
        ck_assert_int_eq(ss_store_open(dir, &so, &st, &err), 0);
        ss_ingest_options io = {.batch_size = 100, .decoder.default_survey = "sim"};
        msgs_seen m = {.in = ss_ingest_new(st, &io)};
        ss_sim *s = small_survey(formats[i]);
        ss_sim_totals t;
        ck_assert_msg(ss_sim_write_messages(s, per[i], take_message, &m, &t, &err) == 0, "%s",
                      err.msg);
        ss_ingest_totals it;
        ck_assert_int_eq(ss_ingest_finish(m.in, &it, &err), 0);
        ck_assert_uint_gt(t.alerts, 50);
        ck_assert_uint_eq(m.alerts, t.alerts);
        ck_assert_uint_eq(m.most, per[i]);
        ck_assert_uint_eq(m.messages, (t.alerts + per[i] - 1) / per[i]);
        ck_assert_uint_eq(it.ingested, t.alerts);
        ck_assert_uint_eq(it.rejected, 0);
        ss_ingest_free(m.in);
        ss_sim_free(s);

        /* a sink that refuses stops the survey with its error */
        s = small_survey(formats[i]);
        msgs_seen stop = {.in = ss_ingest_new(st, &io), .stop_after = 2};
        ck_assert_int_eq(ss_sim_write_messages(s, per[i], take_message, &stop, NULL, &err),
                         SS_EINVAL);
        ck_assert_str_eq(err.msg, "enough");
        ck_assert_uint_eq(stop.messages, 2);
        ss_ingest_free(stop.in);
        ss_sim_free(s);
        ss_store_close(st);
        free(dir);
    }
}
END_TEST

/* One stored stamp's bytes, copied. */
typedef struct stamp {
    ss_cutout_kind kind;
    char *bytes, file_name[128];
    size_t len;
} stamp;

static int take_stamp(void *ctx, const ss_store_cutout *c)
{
    stamp *s = ctx;
    if (c->kind == s->kind) {
        s->bytes = malloc(c->len);
        memcpy(s->bytes, c->bytes, c->len);
        s->len = c->len;
        snprintf(s->file_name, sizeof s->file_name, "%.*s", (int)c->file_name_len,
                 c->file_name ? c->file_name : "");
    }
    return 0;
}

static stamp read_stamp(const char *store, const char *alert_id, ss_cutout_kind kind)
{
    ss_store *st;
    ss_store_txn *txn;
    ss_err err = {0};
    ss_store_options so = {.readonly = 1};
    stamp s = {.kind = kind};
    ck_assert_msg(ss_store_open(store, &so, &st, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_store_txn_begin(st, SS_STORE_READ, &txn), 0);
    ck_assert_int_eq(ss_store_cutouts_each(txn, alert_id, NULL, take_stamp, &s), 0);
    ss_store_txn_abort(txn);
    ss_store_close(st);
    return s;
}

/* A stamp's pixels as cfitsio reads the gzip FITS (from a file: cfitsio expands .gz itself);
 * its WCS's CD matrix. @return the brightest pixel's value; *x, *y where it is (0-based). */
static float stamp_peak(const stamp *s, long *x, long *y, double cd[4])
{
    char *path = tu_path(tu_tmp, "stamp.fits.gz");
    FILE *f = fopen(path, "wb");
    ck_assert(f && fwrite(s->bytes, 1, s->len, f) == s->len && !fclose(f));
    fitsfile *fp;
    int st = 0, naxis = 0, any = 0;
    long ax[2] = {0}, first[2] = {1, 1};
    float px[63 * 63], best = -INFINITY;
    ck_assert_msg(!fits_open_file(&fp, path, READONLY, &st), "cfitsio: %d", st);
    fits_get_img_dim(fp, &naxis, &st);
    fits_get_img_size(fp, 2, ax, &st);
    ck_assert_int_eq(naxis, 2);
    ck_assert_int_eq(ax[0], 63);
    ck_assert_int_eq(ax[1], 63);
    fits_read_pix(fp, TFLOAT, first, 63 * 63, NULL, px, &any, &st);
    const char *keys[] = {"CD1_1", "CD1_2", "CD2_1", "CD2_2"};
    for (int i = 0; i < 4; i++)
        fits_read_key(fp, TDOUBLE, keys[i], &cd[i], NULL, &st);
    fits_close_file(fp, &st);
    ck_assert_int_eq(st, 0);
    for (long i = 0; i < 63 * 63; i++)
        if (px[i] > best)
            best = px[i], *x = i % 63, *y = i / 63;
    free(path);
    return best;
}

/* Avro alerts carry ZTF's three stamps (skysieve cutout finds them): 63 x 63 gzip FITS with the
 * source's peak at the centre, brighter once the jump source has jumped, north up and east left;
 * --no-cutouts leaves them out. */
START_TEST(avro_alerts_carry_stamps)
{
    char *args = NULL, *out, *err, *store = tu_path(tu_tmp, "st"), *bare = tu_path(tu_tmp, "bare");
    ck_assert_int_ge(asprintf(&args,
                              "--model jump=1 --epochs 4 --jump-epoch 2 --seed 3 --out "
                              "%s/j.avro --truth %s/j.jsonl",
                              tu_tmp, tu_tmp),
                     0);
    simulate(args);
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --quiet --store %s %s/j.avro", store, tu_tmp), 0);
    free(out), free(err);
    /* one source: alert k is exposure k; the first before the jump, the last after it */
    const char *ids[] = {"1", "16"};
    float peak[2][SS_CUTOUT__COUNT];
    for (int a = 0; a < 2; a++)
        for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
            stamp s = read_stamp(store, ids[a], (ss_cutout_kind)k);
            ck_assert_msg(s.len > 1000, "alert %s has no %s stamp", ids[a],
                          ss_cutout_kind_name((ss_cutout_kind)k));
            ck_assert(s.bytes[0] == 0x1f && (unsigned char)s.bytes[1] == 0x8b);
            ck_assert(strstr(s.file_name, ".fits.gz"));
            long x = -1, y = -1;
            double cd[4];
            peak[a][k] = stamp_peak(&s, &x, &y, cd);
            ck_assert_msg(x == 31 && y == 31, "alert %s %s: peak at (%ld, %ld)", ids[a],
                          ss_cutout_kind_name((ss_cutout_kind)k), x, y);
            ck_assert(cd[0] < 0 && cd[3] > 0 && cd[1] == 0 && cd[2] == 0);
            ck_assert_double_eq_tol(cd[3], 1.0 / 3600, 1e-9);
            free(s.bytes);
        }
    for (int k = 0; k < SS_CUTOUT__COUNT; k++)
        ck_assert_float_gt(peak[1][k], 5 * peak[0][k]); /* 3.5 magnitudes: 25 times the flux */
    ck_assert_float_gt(peak[1][SS_CUTOUT_SCIENCE], peak[1][SS_CUTOUT_TEMPLATE]);
    free(args);
    ck_assert_int_ge(
        asprintf(&args, "--model jump=1 --epochs 4 --seed 3 --no-cutouts --out %s/b.avro", tu_tmp),
        0);
    simulate(args);
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --quiet --store %s %s/b.avro", bare, tu_tmp), 0);
    free(out), free(err);
    json_t *j = stats(bare);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cutouts")), 0);
    ck_assert_int_gt(json_integer_value(json_object_get(j, "detections")), 10);
    json_decref(j);
    free(args), free(store), free(bare);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("simulate");
    TCase *tc = tcase_create("simulate");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_seed_same_bytes);
    tcase_add_test(tc, cadence_of_the_tutorial);
    tcase_add_test(tc, positions_scatter_by_the_requested_amount);
    tcase_add_test(tc, only_the_jump_source_jumps_at_its_epoch);
    tcase_add_test(tc, the_jump_filter_tags_the_jump_source);
    tcase_add_test(tc, every_format_ingests);
    tcase_add_test(tc, avro_alerts_carry_stamps);
    tcase_add_test(tc, messages_hold_the_same_alerts);
    tcase_add_test(tc, light_curve_files_are_sampled);
    tcase_add_test(tc, shared_light_curves);
    tcase_add_test(tc, malformed_files_name_file_and_line);
    tcase_add_test(tc, bad_options_are_usage_errors);
    tcase_add_test(tc, population_and_error_model);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
