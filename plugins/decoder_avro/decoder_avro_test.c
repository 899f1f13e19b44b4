/* Avro alerts: synthetic files made here with avro-c, and the real ones in ../shared/data. */
#include "testutil.h"

#include "ingest.h"
#include "query.h"
#include "verify.h"

#include <avro.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A ZTF-like schema with record names a broker might have rewritten (not ztf.alert). */
static const char ztf_schema[] =
    "{\"type\":\"record\",\"name\":\"topLevelRecord\",\"fields\":["
    "{\"name\":\"objectId\",\"type\":\"string\"},"
    "{\"name\":\"candidate\",\"type\":{\"type\":\"record\",\"name\":\"r1\",\"fields\":["
    "{\"name\":\"candid\",\"type\":\"long\"},{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},{\"name\":\"magpsf\",\"type\":\"float\"},"
    "{\"name\":\"sigmapsf\",\"type\":\"float\"},{\"name\":\"diffmaglim\",\"type\":[\"null\","
    "\"float\"]},{\"name\":\"rb\",\"type\":[\"null\",\"float\"]}]}},"
    "{\"name\":\"prv_candidates\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":"
    "\"record\",\"name\":\"r2\",\"fields\":[{\"name\":\"candid\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"jd\",\"type\":\"double\"},{\"name\":\"fid\",\"type\":\"int\"},"
    "{\"name\":\"pid\",\"type\":\"long\"},{\"name\":\"diffmaglim\",\"type\":[\"null\","
    "\"float\"]}]}}]}]}";

static void set_field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    ck_assert_int_eq(avro_value_get_by_name(rec, name, out, NULL), 0);
}

/* Branch @p b of the union field @p name. */
static void set_branch(avro_value_t *rec, const char *name, int b, avro_value_t *out)
{
    avro_value_t u;
    set_field(rec, name, &u);
    ck_assert_int_eq(avro_value_set_branch(&u, b, out), 0);
}

/* Alert @p i: object ZTFi, two detections' worth of candidate, one upper limit in history. */
static void fill_ztf(avro_value_t *v, int i)
{
    avro_value_t f, c, arr, item;
    char obj[32];
    snprintf(obj, sizeof obj, "ZTF24test%04d", i);
    avro_value_reset(v);
    set_field(v, "objectId", &f);
    avro_value_set_string(&f, obj);
    set_field(v, "candidate", &c);
    set_field(&c, "candid", &f), avro_value_set_long(&f, 1000 + i);
    set_field(&c, "jd", &f), avro_value_set_double(&f, 2460000.5 + i);
    set_field(&c, "ra", &f), avro_value_set_double(&f, 10.0 + i);
    set_field(&c, "dec", &f), avro_value_set_double(&f, -5.0);
    set_field(&c, "fid", &f), avro_value_set_int(&f, 1 + i % 3);
    set_field(&c, "magpsf", &f), avro_value_set_float(&f, 18.5f);
    set_field(&c, "sigmapsf", &f), avro_value_set_float(&f, 0.1f);
    set_branch(&c, "diffmaglim", 1, &f), avro_value_set_float(&f, 20.5f);
    set_branch(&c, "rb", 0, &f), avro_value_set_null(&f);
    set_branch(v, "prv_candidates", 1, &arr);
    ck_assert_int_eq(avro_value_append(&arr, &item, NULL), 0);
    set_branch(&item, "candid", 0, &f), avro_value_set_null(&f);
    set_field(&item, "jd", &f), avro_value_set_double(&f, 2460000.0 + i);
    set_field(&item, "fid", &f), avro_value_set_int(&f, 2);
    set_field(&item, "pid", &f), avro_value_set_long(&f, 777 + i);
    set_branch(&item, "diffmaglim", 1, &f), avro_value_set_float(&f, 20.1f);
}

/* Write @p n alerts into an Avro container with @p codec. @return the path (malloc'd). */
static char *write_ztf(const char *name, const char *codec, int n, const char *schema_json)
{
    char *path = tu_path(tu_tmp, name);
    avro_schema_t schema;
    ck_assert_msg(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema) == 0,
                  "%s", avro_strerror());
    avro_file_writer_t w;
    ck_assert_msg(avro_file_writer_create_with_codec(path, schema, &w, codec, 0) == 0, "%s: %s",
                  codec, avro_strerror());
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    for (int i = 0; i < n; i++) {
        fill_ztf(&v, i);
        ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
    }
    avro_file_writer_close(w);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return path;
}

typedef struct run {
    ss_ingest_totals t;
    int rc;        /* of the last ss_ingest_path */
    char msg[512]; /* its message */
    json_t *stats;
} run;

/* Ingest @p paths (NULL-terminated) into a fresh store; the store is closed after. */
static run ingest(const char *store, const char *schema_dir, const char *const *paths)
{
    run r = {0};
    char *dir = tu_path(tu_tmp, store);
    ss_store_options so = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_open(dir, &so, &s, &err), 0);
    ss_ingest_options o = {.decoder.schema_dir = schema_dir};
    ss_ingest *in = ss_ingest_new(s, &o);
    for (; *paths; paths++) {
        ss_err_clear(&err);
        r.rc = ss_ingest_path(in, *paths, &err);
        if (r.rc)
            snprintf(r.msg, sizeof r.msg, "%s", err.msg);
        ck_assert_msg(r.rc == 0 || r.rc == SS_EREJECT, "%s", err.msg);
    }
    ck_assert_int_eq(ss_ingest_finish(in, &r.t, &err), 0);
    ss_ingest_free(in);
    ss_verify_report vr;
    ck_assert_int_eq(ss_store_verify(s, stderr, &vr, &err), 0);
    ck_assert_uint_eq(vr.problems, 0);
    ck_assert_int_eq(ss_query_stats(s, &r.stats, &err), 0);
    ss_store_close(s);
    free(dir);
    return r;
}

static long stat_int(const run *r, const char *key)
{
    return (long)json_integer_value(json_object_get(r->stats, key));
}

START_TEST(containers_with_every_codec)
{
    const char *codecs[] = {"null", "deflate", "snappy"};
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "z-%s.avro", codecs[k]);
        char *path = write_ztf(name, codecs[k], 40, ztf_schema);
        const char *paths[] = {path, NULL};
        snprintf(name, sizeof name, "st-%s", codecs[k]);
        run r = ingest(name, NULL, paths);
        ck_assert_msg(r.t.ingested == 40, "%s: %llu ingested", codecs[k],
                      (unsigned long long)r.t.ingested);
        ck_assert_uint_eq(r.t.history, 40); /* one upper limit each */
        ck_assert_int_eq(stat_int(&r, "upper_limits"), 40);
        ck_assert_int_eq(stat_int(&r, "loci"), 40);
        json_decref(r.stats);
        free(path);
    }
}
END_TEST

/* Copy @p src less its last @p cut bytes, with byte @p at (from the end when negative) flipped
 * when @p flip. */
static char *copy_damaged(const char *src, const char *name, long cut, int flip, long at)
{
    char *data = NULL;
    size_t len = 0;
    FILE *f = fopen(src, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    data = malloc(len);
    ck_assert_uint_eq(fread(data, 1, len, f), len);
    fclose(f);
    if (flip)
        data[at >= 0 ? (size_t)at : len - (size_t)-at] ^= 0x5a;
    char *out = tu_path(tu_tmp, name);
    f = fopen(out, "wb");
    fwrite(data, 1, len - (size_t)cut, f);
    fclose(f);
    free(data);
    return out;
}

START_TEST(damaged_files_are_refused_and_others_go_on)
{
    char *good = write_ztf("good.avro", "deflate", 30, ztf_schema);
    char *trunc = copy_damaged(good, "trunc.avro", 40, 0, 0);
    char *sync = copy_damaged(good, "sync.avro", 0, 1, -3); /* inside the last sync marker */
    char *magic = copy_damaged(good, "magic.avro", 0, 1, 0);
    const char *one[] = {trunc, NULL};
    run r = ingest("st1", NULL, one);
    ck_assert_int_eq(r.rc, SS_EREJECT);
    ck_assert_msg(strstr(r.msg, "trunc.avro") && strstr(r.msg, "truncated"), "%s", r.msg);
    json_decref(r.stats);
    /* a damaged sync marker costs its block (here the only one), rejected as one record naming
     * the block and its offset; the file is read to its end */
    const char *two[] = {sync, NULL};
    r = ingest("st2", NULL, two);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.t.ingested, 0);
    ck_assert_uint_eq(r.t.inputs_failed, 0);
    ck_assert_uint_eq(r.t.by_reason[SS_REASON_MALFORMED], 1);
    json_decref(r.stats);
    char *cmd = NULL, *out = NULL;
    ck_assert_int_ge(asprintf(&cmd, "'%s' inspect %s", SS_BINARY, sync), 0);
    ck_assert_int_eq(tu_run(cmd, &out, NULL), 0);
    ck_assert_msg(strstr(out, "block 1 at byte ") && strstr(out, "sync marker does not match") &&
                      strstr(out, "30 record(s) lost"),
                  "%s", out);
    free(cmd), free(out);
    const char *all[] = {magic, trunc, good, NULL};
    r = ingest("st3", NULL, all);
    ck_assert_uint_eq(r.t.ingested, 30); /* the good file, whole */
    ck_assert_uint_eq(r.t.inputs_failed, 2);
    ck_assert_uint_eq(r.t.by_reason[SS_REASON_UNREADABLE], 2);
    json_decref(r.stats);
    free(good), free(trunc), free(sync), free(magic);
}
END_TEST

/* A schema of another version that lacks what an alert needs is refused, naming the fields. */
START_TEST(unknown_schema_lacking_fields)
{
    char *schema = strdup(ztf_schema);
    char *p = strstr(schema, "\"magpsf\"");
    memcpy(p, "\"magXXX\"", 8);
    char *path = tu_path(tu_tmp, "old.avro");
    avro_schema_t sc;
    ck_assert_int_eq(avro_schema_from_json_length(schema, strlen(schema), &sc), 0);
    avro_file_writer_t w;
    ck_assert_int_eq(avro_file_writer_create_with_codec(path, sc, &w, "null", 0), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(sc);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    avro_value_t f, c;
    set_field(&v, "objectId", &f), avro_value_set_string(&f, "ZTFx");
    set_field(&v, "candidate", &c), set_field(&c, "jd", &f), avro_value_set_double(&f, 2460000);
    set_branch(&c, "diffmaglim", 0, &f), avro_value_set_null(&f);
    set_branch(&c, "rb", 0, &f), avro_value_set_null(&f);
    set_branch(&v, "prv_candidates", 0, &f), avro_value_set_null(&f);
    ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
    avro_file_writer_close(w);
    avro_value_decref(&v), avro_value_iface_decref(iface), avro_schema_decref(sc);
    const char *paths[] = {path, NULL};
    run r = ingest("st", NULL, paths);
    ck_assert_uint_eq(r.t.rejected, 1);
    ck_assert_uint_eq(r.t.by_reason[SS_REASON_MISSING_FIELD], 1);
    json_decref(r.stats);
    /* the message names the field */
    char *out = NULL, *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "'%s' inspect %s", SS_BINARY, path), 0);
    ck_assert_int_eq(tu_run(cmd, &out, NULL), 0);
    ck_assert_msg(strstr(out, "candidate.magpsf"), "%s", out);
    free(out), free(cmd), free(path), free(schema);
}
END_TEST

/* A Kafka message in Confluent wire format: 0, the schema id (big-endian), the record. */
static char *write_framed(const char *name, uint32_t id, int i)
{
    avro_schema_t sc;
    ck_assert_int_eq(avro_schema_from_json_length(ztf_schema, strlen(ztf_schema), &sc), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(sc);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    fill_ztf(&v, i);
    static char buf[65536];
    buf[0] = 0, buf[1] = (char)(id >> 24), buf[2] = (char)(id >> 16), buf[3] = (char)(id >> 8);
    buf[4] = (char)id;
    avro_writer_t w = avro_writer_memory(buf + 5, sizeof buf - 5);
    ck_assert_int_eq(avro_value_write(w, &v), 0);
    size_t len = 5 + (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    avro_value_decref(&v), avro_value_iface_decref(iface), avro_schema_decref(sc);
    char *path = tu_path(tu_tmp, name);
    FILE *f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
    return path;
}

START_TEST(confluent_framed_messages_and_the_schema_directory)
{
    char *dir = tu_path(tu_tmp, "schemas");
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "mkdir -p %s", dir), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(tu_write(dir, "42.avsc", ztf_schema));
    char *m1 = write_framed("m1.avro", 42, 1), *m2 = write_framed("m2.avro", 42, 2);
    char *m3 = write_framed("m3.avro", 43, 3);
    const char *paths[] = {m1, m2, m3, NULL};
    run r = ingest("st", dir, paths);
    ck_assert_uint_eq(r.t.ingested, 2);
    ck_assert_msg(r.rc == SS_EREJECT && strstr(r.msg, "schema id 43") && strstr(r.msg, "m3.avro"),
                  "%s", r.msg);
    json_decref(r.stats);
    const char *none[] = {m1, NULL};
    r = ingest("st2", NULL, none);
    ck_assert_msg(strstr(r.msg, "schema directory"), "%s", r.msg);
    json_decref(r.stats);
    free(m1), free(m2), free(m3), free(dir), free(cmd);
}
END_TEST

/* ---- the real alerts of ../shared/data ---- */

START_TEST(real_ztf_alerts_of_three_schema_versions)
{
    char *ztf = tu_data_path("real ZTF alerts", "ztf");
    if (!ztf)
        return;
    const char *paths[] = {ztf, NULL};
    run r = ingest("st", NULL, paths);
    ck_assert_uint_eq(r.t.inputs_failed, 0);
    ck_assert_uint_eq(r.t.ingested, 88);
    ck_assert_uint_eq(r.t.rejected, 0);
    ck_assert_int_gt(stat_int(&r, "upper_limits"), 100); /* prv_candidates without candid */
    ck_assert_int_ge(r.t.history_known, 1);              /* a candid in two alerts' histories */
    json_decref(r.stats);
    free(ztf);
}
END_TEST

START_TEST(real_rubin_alerts_rewritten_and_framed)
{
    char *rubin = tu_data_path("real Rubin alerts", "lsst/rubin-lsstcam-v9.0"), *framed = NULL,
         *schemas = NULL;
    if (!rubin)
        return;
    framed = tu_data_path("real Rubin alerts", "lsst/confluent-framed-v7.4");
    schemas = tu_data_path("real Rubin alerts", "schemas/lsst");
    const char *paths[] = {rubin, framed, NULL};
    run r = ingest("st", schemas, paths);
    ck_assert_uint_eq(r.t.inputs_failed, 0);
    ck_assert_uint_eq(r.t.ingested, 105);
    json_decref(r.stats);
    /* flux to magnitude, sign kept */
    char *cmd = NULL, *out = NULL;
    ck_assert_int_ge(asprintf(&cmd, "'%s' inspect %s/169298432900464695_169298432900464695.avro",
                              SS_BINARY, rubin),
                     0);
    ck_assert_int_eq(tu_run(cmd, &out, NULL), 0);
    json_t *o = json_loads(out, 0, NULL),
           *p = json_object_get(json_object_get(o, "alert"), "properties");
    double flux = json_number_value(json_object_get(p, "lsst_diaSource_psfFlux"));
    double signed_flux = json_number_value(json_object_get(p, "ant_flux"));
    ck_assert_double_eq_tol(json_number_value(json_object_get(p, "ant_mag")),
                            -2.5 * log10(fabs(flux)) + 31.4, 1e-9);
    ck_assert(json_is_boolean(json_object_get(p, "lsst_diaSource_isNegative")));
    /* as ANTARES reports it: psfFlux positive, the sign in isNegative; ant_flux keeps it */
    ck_assert_double_ge(flux, 0);
    ck_assert_double_eq_tol(fabs(signed_flux), flux, 1e-3);
    ck_assert_int_eq(json_is_true(json_object_get(p, "lsst_diaSource_isNegative")),
                     signed_flux < 0);
    json_decref(o);
    free(cmd), free(out), free(rubin), free(framed), free(schemas);
}
END_TEST

START_TEST(real_elasticc_alerts)
{
    char *el = tu_data_path("ELAsTiCC alerts", "elasticc");
    if (!el)
        return;
    const char *paths[] = {el, NULL};
    run r = ingest("st", NULL, paths);
    ck_assert_uint_eq(r.t.ingested, 5689);
    ck_assert_uint_eq(r.t.rejected, 0);
    ck_assert_int_eq(stat_int(&r, "loci"), 30); /* many alerts per simulated object */
    json_decref(r.stats);
    free(el);
}
END_TEST

/* One diaSource as inspect prints it: psfFlux (psFlux for ELAsTiCC) positive, the sign in
 * isNegative and in ant_flux. @return 1 when it is a fading. */
static int flux_as_antares(const json_t *alert)
{
    const json_t *p = json_object_get(alert, "properties");
    const json_t *f = json_object_get(p, "lsst_diaSource_psfFlux");
    f = f ? f : json_object_get(p, "lsst_diaSource_psFlux");
    double flux = json_number_value(f);
    double signed_flux = json_number_value(json_object_get(p, "ant_flux"));
    ck_assert_ptr_nonnull(f);
    ck_assert_double_ge(flux, 0);
    ck_assert_double_eq_tol(flux, fabs(signed_flux), 1e-6 * fabs(signed_flux) + 1e-9);
    ck_assert_int_eq(json_is_true(json_object_get(p, "lsst_diaSource_isNegative")),
                     signed_flux < 0);
    return signed_flux < 0;
}

/* ANTARES's convention, which users' notebooks follow: a diaSource's psfFlux is positive and
 * isNegative marks the fadings (Rubin's ANTARES-client tutorial flips the sign where it is set);
 * ant_flux keeps the sign. ELAsTiCC's histories hold fadings. */
START_TEST(rubin_flux_reported_as_antares_does)
{
    char *dir = tu_data_path("rubin flux sign", "elasticc/alerce-sim-v0.9");
    if (!dir)
        return;
    char *out = NULL;
    ck_assert_int_eq(tu_sks(&out, NULL, "inspect %s/*.avro", dir), 0);
    size_t negative = 0, sources = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL), *h;
        size_t i;
        ck_assert_ptr_nonnull(json_object_get(o, "alert"));
        negative += flux_as_antares(json_object_get(o, "alert"));
        sources++;
        json_array_foreach(json_object_get(o, "history"), i, h)
        {
            const char *kind = json_string_value(json_object_get(h, "kind"));
            if (!strcmp(kind, "detection"))
                negative += flux_as_antares(h), sources++;
        }
        json_decref(o);
    }
    ck_assert_uint_gt(sources, 5689);
    ck_assert_uint_gt(negative, 0); /* fadings were there: the convention was exercised */
    free(out), free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("avro");
    TCase *tc = tcase_create("avro");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, containers_with_every_codec);
    tcase_add_test(tc, damaged_files_are_refused_and_others_go_on);
    tcase_add_test(tc, unknown_schema_lacking_fields);
    tcase_add_test(tc, confluent_framed_messages_and_the_schema_directory);
    tcase_add_test(tc, real_ztf_alerts_of_three_schema_versions);
    tcase_add_test(tc, real_rubin_alerts_rewritten_and_framed);
    tcase_add_test(tc, real_elasticc_alerts);
    tcase_add_test(tc, rubin_flux_reported_as_antares_does);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
