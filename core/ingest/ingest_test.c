/* Ingest and association, end to end through the core API on generated tuple alerts. */
#include "testutil.h"

#include "assoc.h"
#include "ingest.h"
#include "query.h"
#include "sky.h"
#include "verify.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "alert_id,ra,dec,mjd,passband,mag,magerr,maglim,object_id\n"

static ss_store *open_store_sized(const char *name, double radius, size_t map_size)
{
    char *dir = tu_path(tu_tmp, name);
    ss_store_options o = {.create = 1, .radius_arcsec = radius, .map_size = map_size};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &o, &s, &err) == 0, "%s", err.msg);
    free(dir);
    return s;
}

static ss_store *open_store(const char *name, double radius)
{
    return open_store_sized(name, radius, 0);
}

/* Ingest CSV text (header added) into @p s in batches of @p batch, decoding beside the writing
 * (@p overlap) or not; returns the run's totals. */
static ss_ingest_totals ingest_csv_overlap(ss_store *s, const char *rows, uint32_t batch,
                                           int overlap)
{
    static int n;
    char name[32];
    snprintf(name, sizeof name, "in%d.csv", n++);
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text, "%s%s", HEADER, rows), 0);
    char *path = tu_write(tu_tmp, name, text);
    ss_ingest_options o = {.batch_size = batch, .overlap = overlap};
    ss_ingest *in = ss_ingest_new(s, &o);
    ss_err err = {0};
    ss_ingest_totals t;
    ck_assert_msg(ss_ingest_path(in, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, &t, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    free(path);
    free(text);
    return t;
}

static ss_ingest_totals ingest_csv_batch(ss_store *s, const char *rows, uint32_t batch)
{
    return ingest_csv_overlap(s, rows, batch, 0);
}

/* Small batches: several commits per test. */
static ss_ingest_totals ingest_csv(ss_store *s, const char *rows)
{
    return ingest_csv_batch(s, rows, 3);
}

/* Every locus summary as a JSON array. */
static json_t *all_loci(ss_store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ss_err err = {0};
    ck_assert_int_eq(ss_query_loci(s, f, &err), 0);
    fclose(f);
    json_t *arr = json_array();
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        json_array_append_new(arr, json_loads(line, 0, NULL));
    free(buf);
    return arr;
}

static json_t *locus(ss_store *s, const char *id)
{
    json_t *o = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_query_locus(s, id, NULL, &o, &err) == 0, "%s", err.msg);
    return o;
}

static void assert_consistent(ss_store *s)
{
    ss_verify_report r;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_verify(s, stderr, &r, &err), 0);
    ck_assert_uint_eq(r.problems, 0);
}

static double num(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

START_TEST(radius_decides_association)
{
    ss_store *s = open_store("st", 1.0);
    /* b is 0.5" from a (same locus); c is 1.5" from a (a locus of its own) */
    ss_ingest_totals t = ingest_csv(s, "a,150,2,60000,g,18,0.1,,\n"
                                       "b,150,2.000138889,60001,g,18,0.1,,\n"
                                       "c,150,2.000416667,60002,g,18,0.1,,\n");
    ck_assert_uint_eq(t.ingested, 3);
    ck_assert_uint_eq(t.loci_created, 2);
    json_t *loci = all_loci(s);
    ck_assert_uint_eq(json_array_size(loci), 2);
    json_decref(loci);
    assert_consistent(s);
    ss_store_close(s);
}
END_TEST

START_TEST(association_across_ra_zero_and_at_poles)
{
    ss_store *s = open_store("st", 1.0);
    /* 0.36" apart across RA 0/360 */
    ingest_csv(s, "w1,359.99995,0,60000,g,18,0.1,,\nw2,0.00005,0,60001,g,18,0.1,,\n");
    /* 0.18" from the north pole at RA 0 and RA 180: 0.36" apart */
    ingest_csv(s, "p1,0,89.99995,60000,g,18,0.1,,\np2,180,89.99995,60001,g,18,0.1,,\n"
                  "p3,270,89.99995,60002,g,18,0.1,,\n");
    /* the south pole too, and a source 2" from it that must stay apart */
    ingest_csv(s, "s1,10,-89.99995,60000,g,18,0.1,,\ns2,190,-89.99995,60001,g,18,0.1,,\n"
                  "s3,10,-89.9994,60002,g,18,0.1,,\n");
    json_t *loci = all_loci(s);
    ck_assert_uint_eq(json_array_size(loci), 4);
    size_t i;
    json_t *l;
    int seen_wrap = 0, seen_north = 0;
    json_array_foreach(loci, i, l)
    {
        if (num(l, "num_alerts") == 2 && fabs(num(l, "dec")) < 1) {
            seen_wrap = 1;
            ck_assert(num(l, "ra") < 1e-6 || num(l, "ra") > 360 - 1e-6);
        }
        if (num(l, "num_alerts") == 3) {
            seen_north = 1;
            ck_assert_double_gt(num(l, "dec"), 89.9999);
        }
    }
    ck_assert(seen_wrap && seen_north);
    json_decref(loci);
    assert_consistent(s);
    ss_store_close(s);
}
END_TEST

START_TEST(nearest_locus_wins)
{
    ss_store *s = open_store("st", 1.0);
    /* A at dec 0, B 1.6" north; x is 0.9" from A and 0.7" from B */
    ingest_csv(s, "A,20,0,60000,g,18,0.1,,\nB,20,0.000444444,60000,g,18,0.1,,\n");
    ingest_csv(s, "x,20,0.00025,60001,r,18,0.1,,\n");
    json_t *loci = all_loci(s);
    size_t i;
    json_t *l;
    json_array_foreach(loci, i, l)
    {
        int is_b = num(l, "dec") > 0.0003;
        ck_assert_int_eq((int)num(l, "num_alerts"), is_b ? 2 : 1);
    }
    json_decref(loci);
    ss_store_close(s);
}
END_TEST

START_TEST(reingest_is_idempotent_and_ids_deterministic)
{
    const char *rows = "a,10,10,60000,g,18,0.1,,\nb,10.1,10,60000,g,18,0.1,,\n"
                       ",10.2,10,60000,g,18,0.1,,\n,10.2,10,60001,g,18,0.1,,\n";
    ss_store *s1 = open_store("one", 1.0);
    ss_ingest_totals t = ingest_csv(s1, rows);
    ck_assert_uint_eq(t.ingested, 4);
    t = ingest_csv(s1, rows);
    ck_assert_uint_eq(t.ingested, 0);
    ck_assert_uint_eq(t.duplicates, 4);
    ck_assert_uint_eq(t.loci_created, 0);
    json_t *st = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_query_stats(s1, &st, &err), 0);
    ck_assert_int_eq(num(st, "alerts"), 4);
    ck_assert_int_eq(num(st, "duplicates"), 4);
    json_decref(st);
    ss_store *s2 = open_store("two", 1.0);
    ingest_csv(s2, rows);
    json_t *l1 = all_loci(s1), *l2 = all_loci(s2);
    ck_assert_msg(json_equal(l1, l2), "same input in the same order gives the same loci and ids");
    json_decref(l1);
    json_decref(l2);
    assert_consistent(s1);
    ss_store_close(s1);
    ss_store_close(s2);
}
END_TEST

START_TEST(locus_properties_follow_alerts)
{
    ss_store *s = open_store("st", 1.0);
    /* out of time order on purpose: newest is by mjd, not arrival */
    ingest_csv(s, "a2,30,-5,60002,g,17.5,0.05,,ZTF1\n"
                  "a1,30.0000001,-5,60001,r,19.0,0.1,,ZTF1\n"
                  "a3,30,-5.0000001,60003,r,,,20.5,ZTF1\n"
                  "a0,30,-5,60000,g,18.2,0.05,,ZTF1\n");
    json_t *o = locus(s, "ZTF1");
    json_t *p = json_object_get(o, "properties");
    ck_assert_int_eq(num(p, "num_alerts"), 4);
    ck_assert_int_eq(num(p, "num_mag_values"), 3);
    ck_assert_str_eq(json_string_value(json_object_get(p, "oldest_alert_id")), "a0");
    ck_assert_str_eq(json_string_value(json_object_get(p, "newest_alert_id")), "a3");
    ck_assert(json_is_null(json_object_get(p, "newest_alert_magnitude")));
    ck_assert_str_eq(json_string_value(json_object_get(p, "brightest_alert_id")), "a2");
    ck_assert_double_eq(num(p, "brightest_alert_magnitude"), 17.5);
    ck_assert_int_eq(num(p, "num_alerts_g"), 2);
    ck_assert_int_eq(num(p, "num_alerts_r"), 2);
    ck_assert_int_eq(num(p, "num_mag_values_r"), 1);
    ck_assert_double_eq(num(p, "newest_alert_magnitude_g"), 17.5);
    ck_assert_double_eq(num(p, "newest_alert_magnitude_r"), 19.0);
    ck_assert_str_eq(json_string_value(json_object_get(p, "tuple_object_id")), "ZTF1");
    /* alerts in time order, upper limit marked */
    json_t *alerts = json_object_get(o, "alerts");
    ck_assert_uint_eq(json_array_size(alerts), 4);
    const char *order[] = {"a0", "a1", "a2", "a3"};
    for (size_t i = 0; i < 4; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(alerts, i), "alert_id")),
                         order[i]);
    json_t *ul = json_array_get(alerts, 3);
    ck_assert_str_eq(json_string_value(json_object_get(ul, "kind")), "upper_limit");
    ck_assert_double_eq(num(json_object_get(ul, "properties"), "ant_maglim"), 20.5);
    /* the position is the mean of the three detections, not moved by the upper limit */
    ck_assert_double_eq_tol(num(o, "ra"), 30 + 0.0000001 / 3, 1e-10);
    ck_assert_double_eq_tol(num(o, "dec"), -5, 1e-10);
    json_decref(o);
    ss_store_close(s);
}
END_TEST

START_TEST(bad_rows_are_set_aside_and_the_rest_ingested)
{
    ss_store *s = open_store("st", 1.0);
    ss_ingest_totals t = ingest_csv(s, "ok1,10,10,60000,g,18,0.1,,\n"
                                       "bad1,10,95,60000,g,18,0.1,,\n"
                                       "bad2,-1,10,60000,g,18,0.1,,\n"
                                       "bad3,10,10,nan,g,18,0.1,,\n"
                                       "bad4,10,10,99999,g,18,0.1,,\n"
                                       "bad5,10,10,60000,g,18,,,\n"
                                       "bad6,ten,10,60000,g,18,0.1,,\n"
                                       "ok2,10,10,60001,g,18,0.1,,\n");
    ck_assert_uint_eq(t.read, 8);
    ck_assert_uint_eq(t.ingested, 2);
    ck_assert_uint_eq(t.rejected, 6);
    ck_assert_uint_eq(t.by_reason[SS_REASON_DEC_RANGE], 1);
    ck_assert_uint_eq(t.by_reason[SS_REASON_RA_RANGE], 1);
    ck_assert_uint_eq(t.by_reason[SS_REASON_NON_FINITE], 1);
    ck_assert_uint_eq(t.by_reason[SS_REASON_MJD_RANGE], 1);
    ck_assert_uint_eq(t.by_reason[SS_REASON_MISSING_FIELD], 1);
    ck_assert_uint_eq(t.by_reason[SS_REASON_UNPARSABLE_FIELD], 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ss_err err = {0};
    ck_assert_int_eq(ss_query_rejected(s, "dec_out_of_range", f, &err), 0);
    fclose(f);
    json_t *r = json_loads(buf, 0, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(num(r, "line"), 3);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "input")), ".csv"));
    ck_assert_str_eq(json_string_value(json_object_get(r, "raw")), "bad1,10,95,60000,g,18,0.1,,");
    json_decref(r);
    free(buf);
    ss_store_close(s);
}
END_TEST

START_TEST(unreadable_inputs_do_not_stop_the_others)
{
    ss_store *s = open_store("st", 1.0);
    char *good = tu_write(tu_tmp, "good.csv", HEADER "g1,1,1,60000,g,18,0.1,,\n");
    char *nohdr = tu_write(tu_tmp, "nohdr.csv", "ra,dec\n1,2\n");
    char *missing = tu_path(tu_tmp, "missing.csv");
    ss_ingest *in = ss_ingest_new(s, NULL);
    ss_err err = {0};
    ck_assert_int_eq(ss_ingest_path(in, missing, &err), SS_EREJECT);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing.csv"));
    ck_assert_int_eq(ss_ingest_path(in, nohdr, &err), SS_EREJECT);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing required column"));
    ck_assert_int_eq(ss_ingest_path(in, good, &err), 0);
    ss_ingest_totals t;
    ck_assert_int_eq(ss_ingest_finish(in, &t, &err), 0);
    ss_ingest_free(in);
    ck_assert_uint_eq(t.ingested, 1);
    ck_assert_uint_eq(t.inputs_failed, 2);
    ck_assert_uint_eq(t.by_reason[SS_REASON_UNREADABLE], 2);
    free(good), free(nohdr), free(missing);
    ss_store_close(s);
}
END_TEST

START_TEST(object_ids_resolve_and_report_ambiguity)
{
    ss_store *s = open_store("st", 1.0);
    ingest_csv(s, "a,50,50,60000,g,18,0.1,,OBJ1\nb,60,50,60000,g,18,0.1,,OBJ2\n"
                  "c,70,50,60000,g,18,0.1,,OBJ2\n");
    json_t *o = locus(s, "OBJ1");
    ck_assert_double_eq(num(o, "ra"), 50);
    const char *id = json_string_value(json_object_get(o, "locus_id"));
    json_t *same = locus(s, id);
    ck_assert(json_equal(o, same));
    json_decref(same);
    json_decref(o);
    ss_err err = {0};
    json_t *none = NULL;
    ck_assert_int_eq(ss_query_locus(s, "OBJ2", NULL, &none, &err), SS_EAMBIGUOUS);
    ck_assert_ptr_nonnull(strstr(err.msg, "SKY"));
    ck_assert_int_eq(ss_query_locus(s, "NOPE", NULL, &none, &err), SS_ENOTFOUND);
    ck_assert_int_eq(ss_query_locus(s, "SKS2023aaaaaaaaaaaa", NULL, &none, &err), SS_ENOTFOUND);
    ss_store_close(s);
}
END_TEST

/* Random sources packed around RA 0 and the pole: the cone answer must equal a brute-force scan. */
START_TEST(cone_search_matches_brute_force)
{
    ss_store *s = open_store("st", 1.0);
    srand(7);
    size_t cap = 1 << 20, len = 0;
    char *rows = malloc(cap);
    for (int i = 0; i < 3000; i++) {
        double ra = fmod(360 + (rand() / (double)RAND_MAX - 0.5) * 0.02, 360);
        double dec = i % 2 ? 89.99 + rand() / (double)RAND_MAX * 0.01
                           : (rand() / (double)RAND_MAX - 0.5) * 0.02;
        len +=
            (size_t)snprintf(rows + len, cap - len, "s%d,%.9f,%.9f,60000,g,18,0.1,,\n", i, ra, dec);
    }
    ingest_csv_batch(s, rows, 1000);
    free(rows);
    json_t *loci = all_loci(s);
    const double q[][3] = {{0, 0, 20},        {359.999, 0.001, 10}, {0.005, -0.004, 30},
                           {123, 89.995, 20}, {0, 90, 40},          {300, 89.999, 5}};
    for (size_t k = 0; k < sizeof q / sizeof *q; k++) {
        size_t expect = 0, i;
        json_t *l;
        json_array_foreach(loci, i, l) expect +=
            ss_sky_separation_deg(q[k][0], q[k][1], num(l, "ra"), num(l, "dec")) * 3600 <= q[k][2];
        char *buf = NULL;
        size_t blen = 0;
        FILE *f = open_memstream(&buf, &blen);
        ss_err err = {0};
        ck_assert_int_eq(ss_query_cone(s, q[k][0], q[k][1], q[k][2], f, &err), 0);
        fclose(f);
        ck_assert_msg(tu_count_lines(buf) == expect, "cone %zu: %zu found, %zu expected", k,
                      tu_count_lines(buf), expect);
        ck_assert(expect > 0);
        free(buf);
    }
    json_decref(loci);
    assert_consistent(s);
    ss_store_close(s);
}
END_TEST

/* Serially (_i 0) and overlapped (1): with overlap the map fills while a batch is written on the
 * thread, and that batch is written again. */
START_TEST(full_map_grows_without_losing_alerts)
{
    char *dir = tu_path(tu_tmp, "small");
    ss_store_options o = {.create = 1, .map_size = 1 << 20};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_open(dir, &o, &s, &err), 0);
    size_t cap = 4 << 20, len = 0;
    char *rows = malloc(cap);
    for (int i = 0; i < 20000; i++)
        len += (size_t)snprintf(rows + len, cap - len, "x%d,%.6f,%.6f,60000,g,18,0.1,,\n", i,
                                (i % 3600) * 0.1, (i / 3600) * 0.1 - 10);
    ss_ingest_totals t = ingest_csv_overlap(s, rows, 2000, _i);
    free(rows);
    ck_assert_uint_eq(t.ingested, 20000);
    ck_assert_uint_eq(t.loci_created, 20000);
    assert_consistent(s);
    ss_store_close(s);
    free(dir);
}
END_TEST

/* A packet with history, as survey formats give (ZTF prv_candidates): white-box through the writer.
 */
static void add_alert(ss_packet *p, const char *id, double ra, double dec, double mjd, double mag)
{
    ss_alert *a = ss_packet_add(p);
    a->survey = "ztf", a->alert_id = id, a->passband = "g", a->object_id = "ZTF20x";
    a->ra = ra, a->dec = dec, a->mjd = mjd;
    if (isnan(mag))
        a->kind = SS_ALERT_UPPER_LIMIT, a->maglim = 20;
    else
        a->mag = mag, a->magerr = 0.1;
}

static void write_packet3(ss_store *s, ss_packet *p, const ss_assoc_early *early,
                          ss_assoc_stats *st, char *locus_id)
{
    ss_assoc_writer *w = ss_assoc_writer_new(s);
    ss_store_txn *t;
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_assoc_begin(w, t), 0);
    ck_assert_int_eq(ss_assoc_packet3(w, p, early, st, locus_id), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_assoc_writer_free(w);
}

static void write_packet(ss_store *s, ss_packet *p, ss_assoc_stats *st, char *locus_id)
{
    write_packet3(s, p, NULL, st, locus_id);
}

/* What writing a packet counted: new alerts, new history entries, history already stored. */
static void assert_counts(const ss_assoc_stats *st, uint64_t ingested, uint64_t history,
                          uint64_t known)
{
    ck_assert_uint_eq(st->ingested, ingested);
    ck_assert_uint_eq(st->history, history);
    ck_assert_uint_eq(st->history_known, known);
}

static int count_locus(void *ctx, const char *survey, const char *locus_id)
{
    (void)survey, (void)locus_id;
    ++*(int *)ctx;
    return 0;
}

/* How many loci the objects index gives @p object. */
static int object_loci(ss_store *s, const char *object)
{
    ss_store_txn *t;
    int n = 0;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_object_each(t, object, count_locus, &n), 0);
    ss_store_txn_abort(t);
    return n;
}

/* History that decoding took for new (ss_assoc_early.history_new) though the store holds part of
 * it, as after another writer's commit: the stored entry is recognised by its insert, counted as
 * known and kept once. Each entry names the object, indexed once per locus it is on. */
START_TEST(history_taken_for_new_but_stored_is_known)
{
    ss_store *s = open_store("st", 1.0);
    ss_packet *p = ss_packet_new();
    add_alert(p, "3", 80, 20, 60003, 18);
    add_alert(p, "1", 80.0001, 20, 60001, 18.5);
    ss_assoc_stats st = {0};
    char first[SS_LOCUS_ID_LEN + 1], second[SS_LOCUS_ID_LEN + 1];
    write_packet(s, p, &st, first);
    ss_packet_reset(p);
    add_alert(p, "4", 80, 20.0000001, 60004, 17);
    add_alert(p, "1", 80.0001, 20, 60001, 18.5); /* stored above */
    add_alert(p, "2", 80.0001, 20, 60002, 18.4); /* new */
    ss_value fid = {.type = SS_TYPE_INT, .u.i = 1};
    for (uint32_t i = 1; i < p->n; i++) /* survey fields: what decoding leaves out of known ones */
        ck_assert_int_eq(ss_alert_add_prop(p, &p->alerts[i], "fid", 3, fid), 0);
    memset(&st, 0, sizeof st);
    write_packet3(s, p, &(ss_assoc_early){.history_new = 1}, &st, second);
    ck_assert_str_eq(first, second);
    assert_counts(&st, 1, 1, 1);
    json_t *o = locus(s, "ZTF20x");
    ck_assert_int_eq(num(json_object_get(o, "properties"), "num_alerts"), 4);
    json_decref(o);
    ck_assert_int_eq(object_loci(s, "ZTF20x"), 1);
    /* in one transaction, the object again on its locus, then far away on a locus of its own,
     * which the index must name too */
    ss_packet *q = ss_packet_new();
    ss_packet_reset(p);
    add_alert(p, "7", 80, 20, 60007, 17);
    add_alert(q, "5", 200, -30, 60005, 17);
    add_alert(q, "6", 200, -30, 60004.5, 17.5);
    ss_assoc_writer *w = ss_assoc_writer_new(s);
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_WRITE, &t), 0);
    ck_assert_int_eq(ss_assoc_begin(w, t), 0);
    ck_assert_int_eq(ss_assoc_packet(w, p, &st, NULL), 0);
    ck_assert_int_eq(ss_assoc_packet(w, q, &st, second), 0);
    ck_assert_int_eq(ss_store_txn_commit(t), 0);
    ss_assoc_writer_free(w);
    ss_packet_free(q);
    ck_assert_str_ne(first, second);
    ck_assert_int_eq(object_loci(s, "ZTF20x"), 2);
    assert_consistent(s);
    ss_packet_free(p);
    ss_store_close(s);
}
END_TEST

START_TEST(history_joins_the_alert_locus_once)
{
    ss_store *s = open_store("st", 1.0);
    ss_packet *p = ss_packet_new();
    add_alert(p, "3", 80, 20, 60003, 18);
    add_alert(p, "1", 80.0001, 20, 60001, 18.5); /* 0.34" away: joins anyway */
    add_alert(p, NULL, NAN, NAN, 60002, NAN);    /* upper limit without position */
    p->alerts[2].alert_id = "ul-60002";
    ss_assoc_stats st = {0};
    char first[SS_LOCUS_ID_LEN + 1], second[SS_LOCUS_ID_LEN + 1];
    write_packet(s, p, &st, first);
    assert_counts(&st, 1, 2, 0);
    /* the next alert repeats the same history */
    ss_packet_reset(p);
    add_alert(p, "4", 80, 20.0000001, 60004, 17);
    add_alert(p, "1", 80.0001, 20, 60001, 18.5);
    add_alert(p, "3", 80, 20, 60003, 18);
    memset(&st, 0, sizeof st);
    write_packet(s, p, &st, second);
    ck_assert_str_eq(first, second);
    assert_counts(&st, 1, 0, 2);
    json_t *o = locus(s, "ZTF20x");
    ck_assert_int_eq(num(json_object_get(o, "properties"), "num_alerts"), 4);
    ck_assert_int_eq(num(json_object_get(o, "properties"), "num_mag_values"), 3);
    json_decref(o);
    assert_consistent(s);
    ss_packet_free(p);
    ss_store_close(s);
}
END_TEST

/* Instances of one deployment number their loci apart; a store keeps its instance for life. */
START_TEST(instances_number_their_loci_apart)
{
    static const char rows[] = "a1,10,10,60000,g,18,0.1,,\na2,20,20,60000,g,18,0.1,,\n";
    ss_store *s[3];
    json_t *loci[3];
    for (unsigned i = 0; i < 3; i++) {
        char name[16], *dir;
        snprintf(name, sizeof name, "inst%u", i);
        dir = tu_path(tu_tmp, name);
        ss_store_options o = {.create = 1, .instance = i};
        ss_err err = {0};
        ck_assert_msg(ss_store_open(dir, &o, &s[i], &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(ss_store_instance(s[i]), i);
        free(dir);
        ingest_csv(s[i], rows);
        loci[i] = all_loci(s[i]);
        ck_assert_uint_eq(json_array_size(loci[i]), 2);
    }
    for (size_t a = 0; a < 6; a++)
        for (size_t b = a + 1; b < 6; b++) {
            const char *x =
                json_string_value(json_object_get(json_array_get(loci[a / 2], a % 2), "locus_id"));
            const char *y =
                json_string_value(json_object_get(json_array_get(loci[b / 2], b % 2), "locus_id"));
            ck_assert_msg(x && y && strcmp(x, y), "ids %s and %s collide", x, y);
        }
    for (int i = 0; i < 3; i++)
        ss_store_close(s[i]), json_decref(loci[i]);

    char *dir = tu_path(tu_tmp, "inst1");
    ss_store_options other = {.instance = 2}, keep = {0}, same = {.instance = 1};
    ss_store *t = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_open(dir, &other, &t, &err), SS_ESETTINGS);
    ck_assert_ptr_nonnull(strstr(err.msg, "instance 1, not 2"));
    ck_assert_int_eq(ss_store_open(dir, &same, &t, &err), 0);
    ss_store_close(t);
    ck_assert_int_eq(ss_store_open(dir, &keep, &t, &err), 0);
    ck_assert_uint_eq(ss_store_instance(t), 1);
    ss_store_close(t);
    free(dir);

    /* A store without loci yet takes an instance number; one with loci refuses it. */
    ss_store *e = open_store("empty", 1);
    ss_store_close(e);
    dir = tu_path(tu_tmp, "empty");
    ss_store_options seven = {.instance = 7}, big = {.instance = SS_MAX_INSTANCE + 1};
    ck_assert_int_eq(ss_store_open(dir, &seven, &t, &err), 0);
    ck_assert_uint_eq(ss_store_instance(t), 7);
    ss_store_close(t);
    ck_assert_int_eq(ss_store_open(dir, &big, &t, &err), SS_EINVAL);
    free(dir);
    dir = tu_path(tu_tmp, "inst0");
    ck_assert_int_eq(ss_store_open(dir, &seven, &t, &err), SS_ESETTINGS);
    free(dir);
}
END_TEST

/* ---- one input cannot fill the store with its rejections ---- */

typedef struct rows_seen {
    unsigned n;
    char summary[256];
} rows_seen;

static int count_row(void *ctx, const ss_store_rejected *r)
{
    rows_seen *rs = ctx;
    rs->n++;
    if (r->detail_len < sizeof rs->summary && memmem(r->detail, r->detail_len, "not kept", 8))
        memcpy(rs->summary, r->detail, r->detail_len);
    return 0;
}

static rows_seen rejected_rows(ss_store *s)
{
    rows_seen rs = {0};
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_rejected_each(t, count_row, &rs), 0);
    ss_store_txn_abort(t);
    return rs;
}

/* 10,000 bad rows (two reasons) then one good: 25 rows kept, one summing up the rest; every one
 * counted by reason (before the limit: 10,000 rows stored). */
START_TEST(rejections_past_the_limit_are_counted_not_kept)
{
    ss_store *s = open_store("st", 1.0);
    size_t cap = 10001 * 64, n = 0;
    char *rows = malloc(cap);
    for (int i = 0; i < 10000; i++)
        n += (size_t)snprintf(rows + n, cap - n,
                              i % 4 ? "b%d,400,10,60000,g,18,0.1,,o\n" : "b%d,10,10,60000,g,,,,o\n",
                              i);
    snprintf(rows + n, cap - n, "good,10,10,60000,g,18,0.1,,o\n");
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text, "%s%s", HEADER, rows), 0);
    char *path = tu_write(tu_tmp, "bad.csv", text), *other = tu_write(tu_tmp, "other.csv", text);
    ss_ingest_options o = {.batch_size = 1000, .max_rejected_per_input = 25};
    ss_ingest *in = ss_ingest_new(s, &o);
    ss_err err = {0};
    ss_ingest_totals t;
    ck_assert_msg(ss_ingest_path(in, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, &t, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    ck_assert_uint_eq(t.rejected, 10000);
    ck_assert_uint_eq(t.by_reason[SS_REASON_RA_RANGE], 7500);
    ck_assert_uint_eq(t.by_reason[SS_REASON_NO_BRIGHTNESS], 2500);
    ck_assert_uint_eq(t.ingested, 1);
    rows_seen rs = rejected_rows(s);
    ck_assert_uint_eq(rs.n, 26);
    ck_assert_msg(strstr(rs.summary, "9975 more rejected records of this input not kept") &&
                      strstr(rs.summary, "ra_out_of_range 7482") &&
                      strstr(rs.summary, "no_brightness 2493"),
                  "%s", rs.summary);
    json_t *st = NULL;
    ck_assert_int_eq(ss_query_stats(s, &st, &err), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "rejected")), 10000);
    json_t *by = json_object_get(st, "rejected_by_reason");
    ck_assert_int_eq(json_integer_value(json_object_get(by, "ra_out_of_range")), 7500);
    ck_assert_int_eq(json_integer_value(json_object_get(by, "no_brightness")), 2500);
    json_decref(st);
    /* the limit is per input: the next one keeps its own 25 */
    in = ss_ingest_new(s, &o);
    ck_assert_msg(ss_ingest_path(in, other, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, &t, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    ck_assert_uint_eq(rejected_rows(s).n, 52);
    assert_consistent(s);
    ss_store_close(s);
    free(rows), free(text), free(path), free(other);
}
END_TEST

/* ---- overlap: decoding the next batch while one is written ---- */

/* What the callbacks saw: on_commit's totals must be durable, and both run in the caller's
 * thread. */
typedef struct seen_calls {
    pthread_t caller;
    unsigned commits, rejects, elsewhere, ahead;
} seen_calls;

static void note_commit(void *ctx, const ss_ingest_totals *t)
{
    seen_calls *c = ctx;
    c->commits++;
    c->elsewhere += !pthread_equal(pthread_self(), c->caller);
    /* every record read is stored, known already or rejected: no more can be durable */
    c->ahead += t->read > t->ingested + t->duplicates + t->rejected;
}

static void note_reject(void *ctx, const ss_reject *r)
{
    (void)r;
    seen_calls *c = ctx;
    c->rejects++;
    c->elsewhere += !pthread_equal(pthread_self(), c->caller);
}

/* Ingest @p paths into a new store @p name (a map of @p map_size bytes, 0: the default) in
 * batches of @p batch, overlapped or not (2: overlapped, every packet's records packed by the
 * decoding thread). */
static ss_ingest_totals ingest_files(const char *name, size_t map_size, char **paths, size_t n,
                                     uint32_t batch, int overlap, seen_calls *calls, ss_store **out)
{
    *out = open_store_sized(name, 1.0, map_size);
    *calls = (seen_calls){.caller = pthread_self()};
    ss_ingest_options o = {.batch_size = batch,
                           .overlap = overlap != 0,
                           .pack_ahead = overlap > 1 ? 1 : 0,
                           .on_commit = note_commit,
                           .on_reject = note_reject,
                           .ctx = calls};
    ss_ingest *in = ss_ingest_new(*out, &o);
    ss_err err = {0};
    for (size_t i = 0; i < n; i++) {
        int rc = ss_ingest_path(in, paths[i], &err);
        ck_assert_msg(rc == 0 || rc == SS_EREJECT, "%s", err.msg);
    }
    ss_ingest_totals t;
    ck_assert_msg(ss_ingest_finish(in, &t, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    return t;
}

static void assert_same_totals(const ss_ingest_totals *a, const ss_ingest_totals *b)
{
    ck_assert_uint_eq(a->read, b->read);
    ck_assert_uint_eq(a->ingested, b->ingested);
    ck_assert_uint_eq(a->history, b->history);
    ck_assert_uint_eq(a->duplicates, b->duplicates);
    ck_assert_uint_eq(a->history_known, b->history_known);
    ck_assert_uint_eq(a->upgraded, b->upgraded);
    ck_assert_uint_eq(a->rejected, b->rejected);
    ck_assert_uint_eq(a->loci_created, b->loci_created);
}

static void assert_same_json(json_t *a, json_t *b)
{
    char *ta = json_dumps(a, JSON_SORT_KEYS), *tb = json_dumps(b, JSON_SORT_KEYS);
    ck_assert_str_eq(ta, tb);
    free(ta), free(tb);
    json_decref(a), json_decref(b);
}

static void assert_same_loci(ss_store *a, ss_store *b)
{
    json_t *la = all_loci(a), *lb = all_loci(b);
    ck_assert_uint_gt(json_array_size(la), 0);
    assert_same_json(la, lb);
}

/* The same loci, and each with the same alerts, every property of each. */
static void assert_same_alerts(ss_store *a, ss_store *b)
{
    assert_same_loci(a, b);
    json_t *la = all_loci(a), *l;
    size_t i;
    json_array_foreach(la, i, l)
    {
        const char *id = json_string_value(json_object_get(l, "locus_id"));
        assert_same_json(locus(a, id), locus(b, id));
    }
    json_decref(la);
}

/* 400 sources seen 5 times, bad rows among them, the same file twice (duplicates), batches of 7:
 * overlapped batches store what batches written one by one store, byte for byte in every locus,
 * with the same totals, the same rejections, callbacks in the caller's thread and on_commit
 * never counting a record that is not committed. */
START_TEST(overlapped_batches_store_what_serial_ones_do)
{
    size_t cap = 1 << 20, len = 0;
    char *rows = malloc(cap);
    len += (size_t)snprintf(rows, cap, HEADER);
    for (int e = 0; e < 5; e++)
        for (int i = 0; i < 400; i++) /* five bad rows an epoch: i = 3, 100, 197, 294, 391 */
            len += (size_t)(i % 97 == 3 ? snprintf(rows + len, cap - len,
                                                   "b%d_%d,10,95,60000,g,18,0.1,,\n", i, e)
                                        : snprintf(rows + len, cap - len,
                                                   "s%d_%d,%.6f,%.6f,%d,g,%.2f,0.1,,\n", i, e,
                                                   10 + i * 0.01, -5 + (i % 20) * 0.01, 60000 + e,
                                                   18 + e * 0.1));
    char *path = tu_write(tu_tmp, "night.csv", rows);
    char *paths[] = {path, path};
    ss_store *serial, *over;
    seen_calls cs, co;
    ss_ingest_totals ts = ingest_files("serial", 0, paths, 2, 7, 0, &cs, &serial);
    ss_ingest_totals to = ingest_files("over", 0, paths, 2, 7, 1, &co, &over);
    assert_same_totals(&ts, &to);
    ck_assert_uint_eq(to.ingested, 5 * 395);
    ck_assert_uint_eq(to.duplicates, 5 * 395);
    ck_assert_uint_eq(to.rejected, 2 * 5 * 5);
    ck_assert_uint_eq(co.rejects, cs.rejects);
    ck_assert_uint_eq(co.rejects, to.rejected);
    ck_assert_uint_gt(co.commits, 100);
    ck_assert_uint_eq(co.elsewhere, 0);
    ck_assert_uint_eq(co.ahead, 0);
    assert_same_loci(serial, over);
    ck_assert_uint_eq(rejected_rows(serial).n, rejected_rows(over).n);
    assert_consistent(over);
    ss_store_close(serial), ss_store_close(over);
    free(rows), free(path);
}
END_TEST

/* 1 when the store's last ingest run record holds @p text. */
static int run_record_has(ss_store *s, const char *text)
{
    ss_store_txn *t;
    const char *json;
    size_t len;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_run_last(t, &json, &len), 0);
    int has = memmem(json, len, text, strlen(text)) != NULL;
    ss_store_txn_abort(t);
    return has;
}

/* Real ZTF alerts, newest first so that earlier ones come as history entries, in batches of 3,
 * into a map of 1 MiB that fills again and again: the map grows while the read snapshot that
 * recognises known history entries is in use, and overlapped batches store what serial ones do,
 * every alert the same, also when the decoding thread packs the records (once ZTF's dictionary
 * is trained, at its thousandth record: _i 1). */
START_TEST(overlapped_batches_on_real_ztf_alerts)
{
    tu_files *f = tu_data_files("overlapped_batches_on_real_ztf_alerts", "ztf", ".avro");
    if (!f)
        return;
    char **rev = calloc(f->n, sizeof *rev);
    for (size_t i = 0; i < f->n; i++)
        rev[i] = f->path[f->n - 1 - i];
    ss_store *serial, *over;
    seen_calls cs, co;
    ss_ingest_totals ts = ingest_files("serial", 1 << 20, rev, f->n, 3, 0, &cs, &serial);
    ss_ingest_totals to = ingest_files("over", 1 << 20, rev, f->n, 3, 1 + _i, &co, &over);
    assert_same_totals(&ts, &to);
    ck_assert_uint_eq(to.ingested, f->n);
    ck_assert_uint_gt(to.history_known, 0); /* the case is there: the test would be empty else */
    ck_assert_uint_gt(to.upgraded, 0);
    ck_assert_uint_eq(co.ahead, 0);
    /* which side waited for the other: only an overlapped run counts it, within its own time,
     * and keeps it in its run record */
    ck_assert(ts.waited_for_writer == 0 && ts.writer_idle == 0);
    ck_assert(to.waited_for_writer + to.writer_idle > 0);
    ck_assert(to.waited_for_writer <= to.seconds && to.writer_idle <= to.seconds);
    ck_assert(run_record_has(over, "\"waited_for_writer_seconds\""));
    ck_assert(!run_record_has(serial, "\"waited_for_writer_seconds\""));
    assert_same_alerts(serial, over);
    assert_consistent(over);
    ss_store_close(serial), ss_store_close(over);
    free(rev);
    tu_files_free(f);
}
END_TEST

/* The alerts' stamps @p s holds, as its counters say. */
static uint64_t stamps_of(ss_store *s)
{
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    uint64_t n = ss_store_txn_counters(t)->cutouts;
    ss_store_txn_abort(t);
    return n;
}

/* Each of @p paths ingested from memory (ss_ingest_memory()) into a new store @p name, overlapped,
 * in batches of 3. */
static ss_ingest_totals ingest_memory(const char *name, char **paths, size_t n, ss_store **out)
{
    *out = open_store(name, 1.0);
    ss_ingest_options o = {.batch_size = 3, .overlap = 1};
    ss_ingest *in = ss_ingest_new(*out, &o);
    ss_err err = {0};
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        void *data = tu_read_file(paths[i], &len);
        ck_assert_ptr_nonnull(data);
        int rc = ss_ingest_memory(in, data, len, paths[i], &err);
        ck_assert_msg(rc == 0, "%s", err.msg);
        memset(data, 0xee, len); /* nothing may be read from it after the call */
        free(data);
    }
    ss_ingest_totals t;
    ck_assert_msg(ss_ingest_finish(in, &t, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    return t;
}

/* Inputs in memory (a Kafka message) store what the same bytes read from their files store:
 * ZTF's containers and Rubin's, which the Avro decoder reads where they lie (stamps included), and
 * a CSV, which its decoder reads through a stream over them. An empty input, bytes of no known
 * format and a container cut inside its schema are refused by name, and the run goes on. */
START_TEST(inputs_in_memory_store_what_their_files_do)
{
    tu_files *z = tu_data_files("inputs_in_memory_store_what_their_files_do", "ztf", ".avro");
    tu_files *r = tu_data_files("inputs_in_memory_store_what_their_files_do", "lsst", ".avro");
    if (!z || !r) {
        tu_files_free(z), tu_files_free(r);
        return;
    }
    char *csv =
        tu_write(tu_tmp, "rows.csv", HEADER "m1,1,1,60000,g,18,0.1,,\nm2,2,2,60001,r,19,0.1,,\n");
    char **paths = calloc(z->n + r->n + 1, sizeof *paths);
    size_t n = z->n, rubin = 0;
    memcpy(paths, z->path, z->n * sizeof *paths);
    for (size_t i = 0; i < r->n; i++) /* containers; framed messages need a schema directory */
        if (strstr(r->path[i], "rubin-lsstcam"))
            paths[n++] = r->path[i], rubin++;
    ck_assert_uint_gt(rubin, 0);
    paths[n++] = csv;
    ss_store *files, *mem;
    seen_calls cf;
    ss_ingest_totals tf = ingest_files("files", 0, paths, n, 3, 1, &cf, &files);
    ss_ingest_totals tm = ingest_memory("mem", paths, n, &mem);
    assert_same_totals(&tf, &tm);
    ck_assert_uint_eq(tm.ingested, z->n + rubin + 2);
    assert_same_alerts(files, mem);
    ck_assert_uint_eq(stamps_of(files), stamps_of(mem));
    ck_assert_uint_ge(stamps_of(mem), 3 * rubin);
    ss_ingest *in = ss_ingest_new(mem, NULL);
    ss_err err = {0};
    ck_assert_int_eq(ss_ingest_memory(in, "", 0, "empty-message", &err), SS_EREJECT);
    ck_assert_msg(strstr(err.msg, "empty-message") && strstr(err.msg, "empty input"), "%s",
                  err.msg);
    ck_assert_int_eq(ss_ingest_memory(in, "\x01\x02junk", 6, "junk-message", &err), SS_EREJECT);
    ck_assert_msg(strstr(err.msg, "junk-message") && strstr(err.msg, "unknown format"), "%s",
                  err.msg);
    /* a container cut inside its schema, which is read where it lies: exactly the bytes given */
    size_t zlen = 0;
    unsigned char *whole = tu_read_file(z->path[0], &zlen), *cut = malloc(300);
    ck_assert_uint_gt(zlen, 300);
    memcpy(cut, whole, 300);
    ck_assert_int_eq(ss_ingest_memory(in, cut, 300, "cut-message", &err), SS_EREJECT);
    ck_assert_msg(strstr(err.msg, "cut-message") && strstr(err.msg, "truncated or damaged header"),
                  "%s", err.msg);
    free(cut), free(whole);
    ss_ingest_totals t;
    ck_assert_int_eq(ss_ingest_finish(in, &t, &err), 0);
    ck_assert_uint_eq(t.inputs_failed, 3);
    ss_ingest_free(in);
    assert_consistent(mem);
    ss_store_close(files), ss_store_close(mem);
    free(paths), free(csv);
    tu_files_free(z), tu_files_free(r);
}
END_TEST

typedef struct stamp_check {
    const unsigned char *avro; /* the file the alert came in */
    size_t len;
    uint64_t stamps, bytes, found;
} stamp_check;

static int stamp_in_file(void *ctx, const ss_store_cutout *c)
{
    stamp_check *k = ctx;
    k->stamps++;
    k->bytes += c->len;
    k->found += memmem(k->avro, k->len, c->bytes, c->len) != NULL;
    return 0;
}

static int stamps_pages(void *ctx, const ss_store_table_use *u)
{
    if (!strcmp(u->name, "stamps"))
        *(uint64_t *)ctx = u->pages;
    return 0;
}

/* Rubin's plain FITS stamps, ingested serially (loop 0) or packed by the decoding thread (1): each
 * reads back byte for byte as it is in the Avro file, and the chunks hold less than zstd's level
 * -20 keeps of them as sent (0.62 of their bytes on these files; regrouped, 0.54). */
START_TEST(real_rubin_stamps_stored_regrouped_read_as_sent)
{
    tu_files *f = tu_data_files("real_rubin_stamps_stored_regrouped_read_as_sent", "lsst", ".avro");
    if (!f)
        return;
    char **rubin = calloc(f->n, sizeof *rubin);
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++) /* LSSTCam's alerts, with stamps and named ID_ID.avro */
        if (strstr(f->path[i], "/rubin-lsstcam-v9.0/"))
            rubin[n++] = f->path[i];
    ck_assert_uint_gt(n, 0);
    ss_store *s;
    seen_calls calls;
    ss_ingest_totals t = ingest_files("rubin", 0, rubin, n, 16, _i ? 2 : 0, &calls, &s);
    ck_assert_uint_eq(t.ingested, n);
    stamp_check k = {0};
    ss_store_txn *txn;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &txn), 0);
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(rubin[i], '/') + 1;
        char id[32];
        snprintf(id, sizeof id, "%.*s", (int)strcspn(base, "_."), base);
        k.avro = tu_read_file(rubin[i], &k.len);
        ck_assert_int_eq(ss_store_cutouts_each(txn, id, NULL, stamp_in_file, &k), 0);
        free((void *)k.avro);
    }
    uint64_t pages = 0;
    ss_store_footprint_info info;
    ck_assert_int_eq(ss_store_footprint(txn, stamps_pages, &pages, &info), 0);
    ss_store_txn_abort(txn);
    ck_assert_uint_eq(k.stamps, 3 * n);
    ck_assert_uint_eq(k.found, k.stamps);
    ck_assert_msg(pages * info.page_size < k.bytes * 58 / 100, "%llu bytes of chunks for %llu",
                  (unsigned long long)(pages * info.page_size), (unsigned long long)k.bytes);
    ss_store_close(s);
    free(rubin);
    tu_files_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("association");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, radius_decides_association);
    tcase_add_test(tc, association_across_ra_zero_and_at_poles);
    tcase_add_test(tc, nearest_locus_wins);
    tcase_add_test(tc, reingest_is_idempotent_and_ids_deterministic);
    tcase_add_test(tc, locus_properties_follow_alerts);
    tcase_add_test(tc, bad_rows_are_set_aside_and_the_rest_ingested);
    tcase_add_test(tc, unreadable_inputs_do_not_stop_the_others);
    tcase_add_test(tc, object_ids_resolve_and_report_ambiguity);
    tcase_add_test(tc, cone_search_matches_brute_force);
    tcase_add_loop_test(tc, full_map_grows_without_losing_alerts, 0, 2);
    tcase_add_test(tc, history_joins_the_alert_locus_once);
    tcase_add_test(tc, history_taken_for_new_but_stored_is_known);
    tcase_add_test(tc, instances_number_their_loci_apart);
    tcase_add_test(tc, rejections_past_the_limit_are_counted_not_kept);
    tcase_add_test(tc, overlapped_batches_store_what_serial_ones_do);
    tcase_add_loop_test(tc, overlapped_batches_on_real_ztf_alerts, 0, 2);
    tcase_add_loop_test(tc, real_rubin_stamps_stored_regrouped_read_as_sent, 0, 2);
    tcase_add_test(tc, inputs_in_memory_store_what_their_files_do);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
