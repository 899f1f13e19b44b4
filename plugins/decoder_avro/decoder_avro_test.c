/* Avro alerts: synthetic files made here with avro-c, and the real ones in ../shared/data. */
#include "testutil.h"
#include "tu_avro.h"

#include "decoder.h"
#include "ingest.h"
#include "query.h"
#include "verify.h"

#include <avro.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

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

/* Branch @p b of the union field @p name. */
static void set_branch(avro_value_t *rec, const char *name, int b, avro_value_t *out)
{
    avro_value_t u;
    tu_avro_field(rec, name, &u);
    ck_assert_int_eq(avro_value_set_branch(&u, b, out), 0);
}

/* Alert @p i: object ZTFi, two detections' worth of candidate, one upper limit in history. */
static void fill_ztf(avro_value_t *v, int i)
{
    avro_value_t f, c, arr, item;
    char obj[32];
    snprintf(obj, sizeof obj, "ZTF24test%04d", i);
    avro_value_reset(v);
    tu_avro_field(v, "objectId", &f);
    avro_value_set_string(&f, obj);
    tu_avro_field(v, "candidate", &c);
    tu_avro_field(&c, "candid", &f), avro_value_set_long(&f, 1000 + i);
    tu_avro_field(&c, "jd", &f), avro_value_set_double(&f, 2460000.5 + i);
    tu_avro_field(&c, "ra", &f), avro_value_set_double(&f, 10.0 + i);
    tu_avro_field(&c, "dec", &f), avro_value_set_double(&f, -5.0);
    tu_avro_field(&c, "fid", &f), avro_value_set_int(&f, 1 + i % 3);
    tu_avro_field(&c, "magpsf", &f), avro_value_set_float(&f, 18.5f);
    tu_avro_field(&c, "sigmapsf", &f), avro_value_set_float(&f, 0.1f);
    set_branch(&c, "diffmaglim", 1, &f), avro_value_set_float(&f, 20.5f);
    set_branch(&c, "rb", 0, &f), avro_value_set_null(&f);
    set_branch(v, "prv_candidates", 1, &arr);
    ck_assert_int_eq(avro_value_append(&arr, &item, NULL), 0);
    set_branch(&item, "candid", 0, &f), avro_value_set_null(&f);
    tu_avro_field(&item, "jd", &f), avro_value_set_double(&f, 2460000.0 + i);
    tu_avro_field(&item, "fid", &f), avro_value_set_int(&f, 2);
    tu_avro_field(&item, "pid", &f), avro_value_set_long(&f, 777 + i);
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
    tu_avro_field(&v, "objectId", &f), avro_value_set_string(&f, "ZTFx");
    tu_avro_field(&v, "candidate", &c), tu_avro_field(&c, "jd", &f),
        avro_value_set_double(&f, 2460000);
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

/* What a packet's user was asked about its history entries. */
typedef struct asked {
    uint32_t limits, others, by_id;
} asked;

/* Every entry known: an upper limit comes with the object its id names. */
static int known2_all(void *ctx, const ss_alert *a)
{
    asked *x = ctx;
    if (a->kind != SS_ALERT_UPPER_LIMIT) {
        x->others++;
        return 1;
    }
    ck_assert_ptr_nonnull(a->object_id);
    ck_assert_ptr_nonnull(strstr(a->alert_id, a->object_id));
    x->limits++;
    return 1;
}

static int known_by_id(void *ctx, const char *survey, const char *alert_id)
{
    (void)survey, (void)alert_id;
    ((asked *)ctx)->by_id++;
    return 1;
}

/* Decode @p path with @p p's hints; every history entry the hint calls known keeps no survey
 * fields, every primary keeps its own. */
static void decode_known(const char *path, ss_packet *p)
{
    const ss_decoder_ops *ops = ss_decoder_find("avro");
    ss_decoder_config cfg = {0};
    void *shared = ops->shared_new ? ops->shared_new(&cfg) : NULL, *st;
    ss_err err = {0};
    ss_reject rej;
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_msg(ops->open(fp, path, &cfg, shared, &st, &err) == 0, "%s", err.msg);
    int rc;
    while ((rc = ops->next(st, p, &rej, &err)) == 1) {
        ck_assert_uint_gt(p->alerts[0].nprops, 0);
        for (uint32_t i = 1; i < p->n; i++)
            ck_assert_uint_eq(p->alerts[i].nprops, 0);
        ss_packet_reset(p);
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    ops->close(st);
    fclose(fp);
    if (ops->shared_free)
        ops->shared_free(shared);
}

/* Decoder ABI 2.6: known2() is asked with the history entry itself (an upper limit's object
 * filled, so the store can look under it), and known() only when known2() is not set. */
START_TEST(history_entries_are_asked_about_whole)
{
    tu_files *f = tu_data_files("real ZTF alerts", "ztf", ".avro");
    if (!f)
        return;
    ss_packet *p = ss_packet_new();
    asked x = {0};
    p->known = known_by_id, p->known2 = known2_all, p->known_ctx = &x;
    for (size_t i = 0; i < f->n; i++)
        decode_known(f->path[i], p);
    ck_assert(x.limits > 100 && x.others > 100 && x.by_id == 0);
    asked y = {0};
    p->known2 = NULL, p->known_ctx = &y; /* a host of ABI 2.5 */
    for (size_t i = 0; i < f->n; i++)
        decode_known(f->path[i], p);
    ck_assert_uint_eq(y.by_id, x.limits + x.others);
    ss_packet_free(p);
    tu_files_free(f);
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

/* The id a measurement gets from its survey fields, as inspect prints them: @p name's integer
 * after @p prefix (and the object's id with a dash between, when @p object is set). @return 1
 * when the entry has that field. */
static int id_from(const json_t *h, const char *prefix, const char *object, const char *name,
                   char *out, size_t cap)
{
    const json_t *v = json_object_get(json_object_get(h, "properties"), name);
    if (!json_is_integer(v))
        return 0;
    snprintf(out, cap, "%s%s%s%lld", prefix, object ? object : "", object ? "-" : "",
             (long long)json_integer_value(v));
    return 1;
}

/* Every measurement of @p dir's files (inspect's JSON lines) named as its survey's fields say.
 * counts[kind] tallies those checked. */
static void ids_in(const char *dir, const char *survey, size_t counts[3])
{
    char *out = NULL, want[160];
    ck_assert_int_eq(tu_sks(&out, NULL, "inspect %s/*.avro", dir), 0);
    int ztf = !strcmp(survey, "ztf");
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL), *h;
        size_t i, n = json_array_size(json_object_get(o, "history"));
        for (i = 0; i <= n; i++) {
            h = i < n ? json_array_get(json_object_get(o, "history"), i)
                      : json_object_get(o, "alert");
            const char *kind = json_string_value(json_object_get(h, "kind"));
            const char *id = json_string_value(json_object_get(h, "alert_id"));
            const char *obj = json_string_value(json_object_get(h, "object_id"));
            int k = !strcmp(kind, "detection") ? 0 : !strcmp(kind, "upper_limit") ? 1 : 2, has;
            if (ztf)
                has = k == 0   ? id_from(h, "", NULL, "ztf_candid", want, sizeof want)
                      : k == 1 ? id_from(h, "ul-", obj, "ztf_pid", want, sizeof want)
                               : id_from(h, "fp-", obj, "ztf_pid", want, sizeof want);
            else
                has = k == 0 ? id_from(h, "", NULL, "lsst_diaSource_diaSourceId", want, sizeof want)
                      : k == 2 ? id_from(h, "fs-", NULL, "lsst_diaForcedSource_diaForcedSourceId",
                                         want, sizeof want)
                               : 0;
            if (!has)
                continue;
            ck_assert_str_eq(id, want);
            counts[k]++;
        }
        json_decref(o);
    }
    free(out);
}

/* Ids are made from the survey's numbers as before the decoder stopped formatting them with
 * printf: ZTF's candid, "ul-OBJECT-PID" and "fp-OBJECT-PID"; Rubin's diaSourceId and
 * "fs-DIAFORCEDSOURCEID". Stores name their measurements so: a changed id would store a repeat
 * as new. */
START_TEST(ids_are_made_from_survey_numbers)
{
    static const char *const ztf[] = {"ztf/ztf-avro-alert-v3.2-v3.3",
                                      "ztf/kowalski-20231012-v4.01"};
    size_t z[3] = {0}, r[3] = {0};
    for (size_t i = 0; i < sizeof ztf / sizeof *ztf; i++) {
        char *dir = tu_data_path("ids from survey numbers", ztf[i]);
        if (!dir)
            return;
        ids_in(dir, "ztf", z);
        free(dir);
    }
    char *dir = tu_data_path("ids from survey numbers", "lsst/rubin-lsstcam-v9.0");
    if (!dir)
        return;
    ids_in(dir, "lsst", r);
    free(dir);
    ck_assert_uint_gt(z[0], 0);
    ck_assert_uint_gt(z[1], 0);
    ck_assert_uint_gt(r[0], 0);
    ck_assert_uint_gt(z[2] + r[2], 0);
}
END_TEST

/* ---- schemas that cannot be instantiated ---- */

static size_t put_long(unsigned char *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    for (; z >= 0x80; z >>= 7)
        p[n++] = (unsigned char)(z | 0x80);
    p[n++] = (unsigned char)z;
    return n;
}

/* A container file with @p schema and no block, written byte by byte: avro-c's own writer would
 * not be needed, but its reader is what must not see such a schema. @return the path. */
static char *write_schema_only(const char *name, const char *schema)
{
    size_t len = strlen(schema), n = 0;
    unsigned char *buf = malloc(len + 64);
    memcpy(buf, "Obj\x01", 4), n = 4;
    n += put_long(buf + n, 1);
    n += put_long(buf + n, 11), memcpy(buf + n, "avro.schema", 11), n += 11;
    n += put_long(buf + n, (int64_t)len), memcpy(buf + n, schema, len), n += len;
    n += put_long(buf + n, 0);
    memset(buf + n, 'S', 16), n += 16;
    char *path = tu_path(tu_tmp, name);
    FILE *f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
    return path;
}

/* Each refused with the record and field that make it endless (before the fix: a stack overflow
 * in avro_generic_value_new). */
static const char *const endless[][2] = {
    {"{\"type\":\"record\",\"name\":\"a\",\"fields\":[{\"name\":\"x\",\"type\":\"a\"}]}",
     "schema record 'a' contains itself through required field 'x'"},
    {"{\"type\":\"record\",\"name\":\"top\",\"fields\":[{\"name\":\"n\",\"type\":\"int\"},{"
     "\"name\":\"y\",\"type\":{\"type\":\"record\",\"name\":\"b\",\"fields\":[{\"name\":\"z\","
     "\"type\":{\"type\":\"record\",\"name\":\"c\",\"fields\":[{\"name\":\"w\",\"type\":\"b\"}]}}]}"
     "}]}",
     "schema record 'b' contains itself through required field 'z'"},
    {"{\"type\":\"record\",\"name\":\"u\",\"fields\":[{\"name\":\"x\",\"type\":[\"u\"]}]}",
     "schema record 'u' contains itself through field 'x' (a union whose every branch contains it "
     "again)"},
};

/* Recursion a union branch, an array or a map can end is a linked list or a tree: accepted. */
static const char *const ending[] = {
    "{\"type\":\"record\",\"name\":\"l\",\"fields\":[{\"name\":\"next\",\"type\":[\"null\",\"l\"]}]"
    "}",
    "{\"type\":\"record\",\"name\":\"t\",\"fields\":[{\"name\":\"kids\",\"type\":{\"type\":"
    "\"array\",\"items\":\"t\"}}]}",
    "{\"type\":\"record\",\"name\":\"m\",\"fields\":[{\"name\":\"kids\",\"type\":{\"type\":\"map\","
    "\"values\":\"m\"}}]}",
    "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"x\",\"type\":[\"r\",\"int\"]}]}"};

START_TEST(recursive_schemas_are_refused_by_name)
{
    for (size_t i = 0; i < sizeof endless / sizeof *endless; i++) {
        char name[32];
        snprintf(name, sizeof name, "endless%zu.avro", i);
        char *path = write_schema_only(name, endless[i][0]);
        const char *paths[] = {path, NULL};
        snprintf(name, sizeof name, "st-endless%zu", i);
        run r = ingest(name, NULL, paths);
        ck_assert_int_eq(r.rc, SS_EREJECT);
        ck_assert_msg(strstr(r.msg, endless[i][1]) && strstr(r.msg, path), "%s", r.msg);
        ck_assert_uint_eq(r.t.inputs_failed, 1);
        ck_assert_uint_eq(r.t.by_reason[SS_REASON_UNREADABLE], 1);
        json_decref(r.stats);
        free(path);
    }
    for (size_t i = 0; i < sizeof ending / sizeof *ending; i++) {
        char name[32];
        snprintf(name, sizeof name, "ending%zu.avro", i);
        char *path = write_schema_only(name, ending[i]);
        const char *paths[] = {path, NULL};
        snprintf(name, sizeof name, "st-ending%zu", i);
        run r = ingest(name, NULL, paths);
        ck_assert_msg(r.rc == 0, "%s: %s", ending[i], r.msg);
        ck_assert_uint_eq(r.t.inputs_failed, 0);
        json_decref(r.stats);
        free(path);
    }
}
END_TEST

START_TEST(deeply_nested_schemas_are_refused)
{
    /* 70 records, each the only field of the one before: avro-c would recurse 70 deep for each
     * value; schemas past 64 levels are refused (alerts nest about 5) */
    char *schema = calloc(1, 16384);
    for (int i = 0; i < 70; i++)
        sprintf(schema + strlen(schema),
                "{\"type\":\"record\",\"name\":\"d%d\",\"fields\":"
                "[{\"name\":\"f\",\"type\":",
                i);
    strcat(schema, "\"int\"");
    for (int i = 0; i < 70; i++)
        strcat(schema, "}]}");
    char *path = write_schema_only("deep.avro", schema);
    const char *paths[] = {path, NULL};
    run r = ingest("st", NULL, paths);
    ck_assert_msg(r.rc == SS_EREJECT && strstr(r.msg, "nests deeper than 64 levels"), "%s", r.msg);
    json_decref(r.stats);
    free(path);
    /* the same depth reached through names: each record defined beside the others, its field a
     * reference to the one before, so the text nests 3 deep and a value 70 */
    strcpy(schema, "{\"type\":\"record\",\"name\":\"top\",\"fields\":[");
    for (int i = 0; i < 70; i++)
        sprintf(schema + strlen(schema),
                "%s{\"name\":\"f%d\",\"type\":{\"type\":\"record\",\"name\":\"d%d\","
                "\"fields\":[{\"name\":\"x\",\"type\":\"%s%d\"}]}}",
                i ? "," : "", i, i, i ? "d" : "int", i ? i - 1 : 0);
    strcat(schema, "]}");
    char *p = strstr(schema, "\"int0\""); /* d0's field is a plain int */
    memmove(p + 4, p + 5, strlen(p + 5) + 1);
    path = write_schema_only("chain.avro", schema);
    const char *chain[] = {path, NULL};
    r = ingest("st2", NULL, chain);
    ck_assert_msg(r.rc == SS_EREJECT && strstr(r.msg, "nests records more than 64 deep"), "%s",
                  r.msg);
    json_decref(r.stats);
    free(path), free(schema);
}
END_TEST

/* The framed path (Kafka messages, the live broker's intake) takes its schema from the schema
 * directory: the same check. */
START_TEST(recursive_schema_in_the_schema_directory)
{
    char *dir = tu_path(tu_tmp, "schemas");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    free(tu_write(dir, "9.avsc", endless[0][0]));
    char *path = tu_path(tu_tmp, "m.avro");
    FILE *f = fopen(path, "wb");
    fwrite("\0\0\0\0\x09\x02", 1, 6, f);
    fclose(f);
    const char *paths[] = {path, NULL};
    run r = ingest("st", dir, paths);
    ck_assert_msg(r.rc == SS_EREJECT && strstr(r.msg, endless[0][1]) && strstr(r.msg, "9.avsc"),
                  "%s", r.msg);
    json_decref(r.stats);
    free(path), free(dir);
}
END_TEST

/* What an operator sees: skysieve ingest and inspect exit 1 naming the input and the reason, and
 * the store's rejected records say why. */
START_TEST(recursive_schema_at_the_command_line)
{
    char *path = write_schema_only("poison.avro", endless[0][0]);
    char *store = tu_path(tu_tmp, "st"), *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_sks(&out, &err, "inspect %s", path), 1);
    ck_assert_msg(strstr(err, "poison.avro") && strstr(err, endless[0][1]), "%s", err);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --quiet --store %s %s", store, path), 1);
    ck_assert_msg(strstr(err, endless[0][1]), "%s", err);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "rejected --store %s", store), 0);
    json_t *o = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "reason")), "unreadable_input");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "detail")), endless[0][1]));
    json_decref(o);
    free(out), free(err), free(store), free(path);
}
END_TEST

/* ---- identifiers: whole, or refused by name ---- */

/* ztf_schema with a string candid, as brokers' rewrites have it. */
static char *string_candid_schema(void)
{
    char *s = calloc(1, sizeof ztf_schema + 2); /* room for "string" over "long" */
    memcpy(s, ztf_schema, sizeof ztf_schema);
    static const char from[] = "{\"name\":\"candid\",\"type\":\"";
    char *p = strstr(s, from);
    ck_assert_ptr_nonnull(p);
    p += sizeof from - 1; /* at "long" */
    memmove(p + 2, p, strlen(p) + 1);
    memcpy(p, "string", 6);
    return s;
}

typedef struct id_case {
    const char *obj;
    size_t obj_len;
    const char *candid;
    size_t candid_len;
} id_case;

/* One alert per case, with its objectId and candid as given (NUL bytes included). */
static char *write_ids(const char *name, const id_case *cases, int n)
{
    char *schema_json = string_candid_schema();
    char *path = tu_path(tu_tmp, name);
    avro_schema_t schema;
    ck_assert_int_eq(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0);
    avro_file_writer_t w;
    ck_assert_int_eq(avro_file_writer_create_with_codec(path, schema, &w, "null", 0), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t v, f, c;
    avro_generic_value_new(iface, &v);
    for (int i = 0; i < n; i++) {
        avro_value_reset(&v);
        tu_avro_field(&v, "objectId", &f);
        char *buf = calloc(1, cases[i].obj_len + 1);
        memcpy(buf, cases[i].obj, cases[i].obj_len);
        ck_assert_int_eq(avro_value_set_string_len(&f, buf, cases[i].obj_len + 1), 0);
        free(buf);
        tu_avro_field(&v, "candidate", &c);
        tu_avro_field(&c, "candid", &f);
        buf = calloc(1, cases[i].candid_len + 1);
        memcpy(buf, cases[i].candid, cases[i].candid_len);
        ck_assert_int_eq(avro_value_set_string_len(&f, buf, cases[i].candid_len + 1), 0);
        free(buf);
        tu_avro_field(&c, "jd", &f), avro_value_set_double(&f, 2460000.5 + i);
        tu_avro_field(&c, "ra", &f), avro_value_set_double(&f, 10.0 + i);
        tu_avro_field(&c, "dec", &f), avro_value_set_double(&f, -5.0);
        tu_avro_field(&c, "fid", &f), avro_value_set_int(&f, 1);
        tu_avro_field(&c, "magpsf", &f), avro_value_set_float(&f, 18.5f);
        tu_avro_field(&c, "sigmapsf", &f), avro_value_set_float(&f, 0.1f);
        set_branch(&c, "diffmaglim", 0, &f), avro_value_set_null(&f);
        set_branch(&c, "rb", 0, &f), avro_value_set_null(&f);
        set_branch(&v, "prv_candidates", 0, &f), avro_value_set_null(&f);
        ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
    }
    avro_file_writer_close(w);
    avro_value_decref(&v), avro_value_iface_decref(iface), avro_schema_decref(schema);
    free(schema_json);
    return path;
}

#define LONG71 "ZTF-a-seventy-one-character-object-id-for-the-regression-test-of-issue20"

START_TEST(avro_ids_are_whole_or_refused_by_name)
{
    char obj1[72], obj2[72], cand1[72], cand2[72], huge[SS_ID_MAX + 2];
    snprintf(obj1, sizeof obj1, "%.70s1", LONG71), snprintf(obj2, sizeof obj2, "%.70s2", LONG71);
    snprintf(cand1, sizeof cand1, "%.70sA", LONG71),
        snprintf(cand2, sizeof cand2, "%.70sB", LONG71);
    memset(huge, 'x', SS_ID_MAX + 1), huge[SS_ID_MAX + 1] = '\0';
    const id_case cases[] = {
        {obj1, 71, cand1, 71},             /* kept whole: 71 bytes */
        {obj2, 71, cand2, 71},             /* differs from the first past byte 63 */
        {huge, SS_ID_MAX, "c3", 2},        /* exactly the limit: kept */
        {huge, SS_ID_MAX + 1, "c4", 2},    /* object id one byte over */
        {"ZTFok", 5, huge, SS_ID_MAX + 1}, /* candid one byte over */
        {"ZTF\0x", 5, "c6", 2},            /* a NUL inside */
        {"ZTFnul", 6, "c7\0y", 4},         /* a NUL inside the candid */
        {"ZTF\x01"
         "ctl",
         7, "c8", 2}, /* a control character */
    };
    char *path = write_ids("ids.avro", cases, 8);
    const char *paths[] = {path, NULL};
    run r = ingest("st", NULL, paths);
    ck_assert_uint_eq(r.t.ingested, 3);
    ck_assert_int_eq(stat_int(&r, "loci"), 3); /* the 71-byte objects stay apart */
    ck_assert_uint_eq(r.t.by_reason[SS_REASON_TOO_LONG], 2);
    ck_assert_uint_eq(r.t.by_reason[SS_REASON_ID_INVALID], 3);
    json_decref(r.stats);
    char *out = NULL;
    ck_assert_int_eq(tu_sks(&out, NULL, "inspect %s", path), 0);
    ck_assert_msg(strstr(out, obj1) && strstr(out, obj2) && strstr(out, cand1) &&
                      strstr(out, cand2),
                  "%s", out);
    ck_assert_msg(strstr(out, "object_id is longer than 128 bytes") &&
                      strstr(out, "alert_id is longer than 128 bytes") &&
                      strstr(out, "\"id_invalid\"") && strstr(out, "object_id holds a NUL") &&
                      strstr(out, "alert_id holds a NUL") &&
                      strstr(out, "object_id holds a control character"),
                  "%s", out);
    free(out), free(path);
}
END_TEST

/* ---- resource bombs: blocks declaring more records than their bytes hold, or records of a
 * schema that makes no alert ---- */

#define BOMB_RECORDS 200000000
#define TAIL_RECORDS 3000

static const char tiny_schema[] =
    "{\"type\":\"record\",\"name\":\"t\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}";

/* Raw deflate (as Avro has it) of @p n zero bytes, fed 1 MiB at a time. @return its length. */
static size_t deflate_zeros(size_t n, unsigned char *out, size_t cap)
{
    size_t step = (size_t)1 << 20;
    unsigned char *zeros = calloc(1, step);
    z_stream z = {0};
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_out = out, z.avail_out = (uInt)cap;
    int zr = Z_OK;
    for (size_t done = 0; zr == Z_OK || zr == Z_BUF_ERROR;) {
        size_t k = n - done < step ? n - done : step;
        z.next_in = zeros, z.avail_in = (uInt)k, done += k;
        zr = deflate(&z, done == n ? Z_FINISH : Z_NO_FLUSH);
        ck_assert_uint_gt(z.avail_out, 0);
        if (zr == Z_STREAM_END)
            break;
    }
    ck_assert_int_eq(zr, Z_STREAM_END);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    free(zeros);
    return len;
}

/* A block: its record count, its size, its data, the sync marker ("S" x 16). */
static size_t put_block(unsigned char *p, int64_t count, const unsigned char *data, size_t len)
{
    size_t n = put_long(p, count);
    n += put_long(p + n, (int64_t)len);
    memcpy(p + n, data, len), n += len;
    memset(p + n, 'S', 16);
    return n + 16;
}

/* A container of @p codec and the tiny schema (a = 0 is all zero bytes), with two blocks of
 * @p first then TAIL_RECORDS zero bytes, declaring BOMB_RECORDS then TAIL_RECORDS records. */
static char *write_bomb(const char *name, const char *codec, size_t first)
{
    size_t slen = strlen(tiny_schema), n = 0, dlen, cap = (first > 8192 ? first : 8192) + 65536;
    unsigned char *buf = malloc(cap + 8192), *data = malloc(cap);
    int deflated = !strcmp(codec, "deflate");
    memcpy(buf, "Obj\x01", 4), n = 4;
    n += put_long(buf + n, 2);
    n += put_long(buf + n, 11), memcpy(buf + n, "avro.schema", 11), n += 11;
    n += put_long(buf + n, (int64_t)slen), memcpy(buf + n, tiny_schema, slen), n += slen;
    n += put_long(buf + n, 10), memcpy(buf + n, "avro.codec", 10), n += 10;
    n += put_long(buf + n, (int64_t)strlen(codec)), memcpy(buf + n, codec, strlen(codec));
    n += strlen(codec);
    n += put_long(buf + n, 0);
    memset(buf + n, 'S', 16), n += 16;
    dlen = deflated ? deflate_zeros(first, data, cap) : first;
    if (!deflated)
        memset(data, 0, dlen);
    n += put_block(buf + n, BOMB_RECORDS, data, dlen);
    dlen = deflated ? deflate_zeros(TAIL_RECORDS, data, cap) : TAIL_RECORDS;
    if (!deflated)
        memset(data, 0, dlen);
    n += put_block(buf + n, TAIL_RECORDS, data, dlen);
    char *path = tu_path(tu_tmp, name);
    FILE *f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf), free(data);
    return path;
}

typedef struct bomb_rows {
    unsigned n;
    char all[2048];
} bomb_rows;

static int see_row(void *ctx, const ss_store_rejected *r)
{
    bomb_rows *b = ctx;
    size_t len = strlen(b->all);
    b->n++;
    snprintf(b->all + len, sizeof b->all - len, "%.*s\n", (int)r->detail_len, r->detail);
    return 0;
}

/* Ingest @p path into store @p name: its rows, its totals; the store's data file stays small. */
static bomb_rows ingest_bomb(const char *path, const char *name, ss_ingest_totals *t)
{
    char *dir = tu_path(tu_tmp, name), *mdb = tu_path(dir, "data.mdb");
    ss_store_options so = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_store_open(dir, &so, &s, &err), 0);
    ss_ingest *in = ss_ingest_new(s, NULL);
    ck_assert_msg(ss_ingest_path(in, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_ingest_finish(in, t, &err), 0);
    ss_ingest_free(in);
    bomb_rows b = {0};
    ss_store_txn *txn;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &txn), 0);
    ck_assert_int_eq(ss_store_rejected_each(txn, see_row, &b), 0);
    ss_store_txn_abort(txn);
    json_t *stats = NULL;
    ck_assert_int_eq(ss_query_stats(s, &stats, &err), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(stats, "rejected")),
                     (json_int_t)t->rejected);
    json_decref(stats);
    ss_store_close(s);
    struct stat sb;
    ck_assert_int_eq(stat(mdb, &sb), 0);
    ck_assert_int_lt((long long)sb.st_blocks * 512, 8ll << 20); /* not 15 GB a minute */
    free(mdb), free(dir);
    return b;
}

/* A block declaring 200 million records in a few hundred bytes is one rejection naming block and
 * offset, and the next block is read; the records of a schema that makes no alert are rejected
 * once per block, unread (before: each decoded and stored as a row, 15 GB a minute). */
START_TEST(record_count_bombs_are_refused_at_once)
{
    const char *codecs[] = {"null", "deflate"};
    for (int c = 0; c < 2; c++) {
        char name[32];
        snprintf(name, sizeof name, "bomb-%s.avro", codecs[c]);
        char *path = write_bomb(name, codecs[c], 300);
        ss_ingest_totals t;
        bomb_rows b = ingest_bomb(path, codecs[c], &t);
        ck_assert_uint_eq(t.rejected, 2);
        ck_assert_uint_eq(b.n, 2);
        ck_assert_msg(strstr(b.all, "block 1 at byte ") &&
                          strstr(b.all, "its record count exceeds what its data can hold; "
                                        "200000000 record(s) lost, reading resumes at byte") &&
                          strstr(b.all, "block 2 at byte ") &&
                          strstr(b.all, "schema t lacks a candidate record (ZTF) or a diaSource "
                                        "record (Rubin); its 3000 records rejected unread"),
                      "%s: %s", codecs[c], b.all);
        free(path);
    }
    /* the bomb of the report: 200 million zero records deflated to about 200 KB; they fit */
    char *path = write_bomb("bomb-real.avro", "deflate", BOMB_RECORDS);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_lt(sb.st_size, 300000);
    ss_ingest_totals t;
    bomb_rows b = ingest_bomb(path, "real", &t);
    ck_assert_uint_eq(t.rejected, 2);
    ck_assert_msg(strstr(b.all, "its 200000000 records rejected unread"), "%s", b.all);
    free(path);
}
END_TEST

/* The command line's limit: rejections do not fail the run (exit 0); one row and one line sum
 * up those not kept; 0 is wrong usage. */
START_TEST(rejections_kept_per_input_at_the_command_line)
{
    char *text = strdup("alert_id,ra,dec,mjd,passband,mag,magerr,maglim,object_id\n");
    for (int i = 0; i < TAIL_RECORDS; i++) {
        char *more = NULL;
        ck_assert_int_ge(asprintf(&more, "%sb%d,400,10,60000,g,18,0.1,,o\n", text, i), 0);
        free(text), text = more;
    }
    char *path = tu_write(tu_tmp, "bad.csv", text), *out = NULL, *errs = NULL;
    ck_assert_int_eq(
        tu_sks(&out, &errs, "ingest --store %s/cli --max-rejected-per-input 10 %s", tu_tmp, path),
        0);
    ck_assert_msg(strstr(errs, "2990 more rejected records of this input not kept") &&
                      strstr(errs, "... and 2990 rejected past --max-rejected-per-input") &&
                      strstr(out, "rejected          3000"),
                  "%s%s", out, errs);
    free(out), free(errs);
    ck_assert_int_eq(
        tu_sks(&out, &errs, "ingest --store %s/cli --max-rejected-per-input 0 %s", tu_tmp, path),
        2);
    ck_assert_msg(strstr(errs, "--max-rejected-per-input '0'"), "%s", errs);
    free(out), free(errs), free(path), free(text);
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
    tcase_add_test(tc, history_entries_are_asked_about_whole);
    tcase_add_test(tc, confluent_framed_messages_and_the_schema_directory);
    tcase_add_test(tc, real_ztf_alerts_of_three_schema_versions);
    tcase_add_test(tc, real_rubin_alerts_rewritten_and_framed);
    tcase_add_test(tc, real_elasticc_alerts);
    tcase_add_test(tc, rubin_flux_reported_as_antares_does);
    tcase_add_test(tc, ids_are_made_from_survey_numbers);
    tcase_add_test(tc, recursive_schemas_are_refused_by_name);
    tcase_add_test(tc, deeply_nested_schemas_are_refused);
    tcase_add_test(tc, recursive_schema_in_the_schema_directory);
    tcase_add_test(tc, recursive_schema_at_the_command_line);
    tcase_add_test(tc, avro_ids_are_whole_or_refused_by_name);
    tcase_add_test(tc, record_count_bombs_are_refused_at_once);
    tcase_add_test(tc, rejections_kept_per_input_at_the_command_line);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
