/*
 * The decode plan against avro-c's generic path (the reference): every Avro alert of
 * ../shared/data, and synthetic records of every Avro type, decoded both ways (the second with
 * SKYSIEVE_AVRO_GENERIC=1) and compared packet by packet, field by field.
 */
#include "testutil.h"
#include "tu_avro.h"

#include "alert.h"
#include "decoder.h"

#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What one decoding of a file gave: its packets, its rejections, and how it ended. */
typedef struct decoded {
    ss_packet **pkt;
    size_t n;
    char **rejected; /* "reason: detail" */
    size_t nrej;
    char end[600];         /* "" or the error that ended it */
    ss_decoder_shared *sh; /* freed after the packets, which borrow from it */
} decoded;

static void decoded_free(decoded *d)
{
    for (size_t i = 0; i < d->n; i++)
        ss_packet_free(d->pkt[i]);
    for (size_t i = 0; i < d->nrej; i++)
        free(d->rejected[i]);
    free(d->pkt), free(d->rejected);
    ss_decoder_shared_free(d->sh);
    memset(d, 0, sizeof *d);
}

static void keep_reject(decoded *d, const ss_reject *rej)
{
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text, "%s: %s", ss_reason_name(rej->reason), rej->detail), 0);
    d->rejected = realloc(d->rejected, (d->nrej + 1) * sizeof *d->rejected);
    d->rejected[d->nrej++] = text;
}

static void decode_all(const ss_decoder_ops *ops, void *st, decoded *d)
{
    for (;;) {
        ss_packet *pkt = ss_packet_new();
        ss_reject rej = {0};
        ss_err err = {0};
        ck_assert_ptr_nonnull(pkt);
        int rc = ops->next(st, pkt, &rej, &err);
        if (rc == 1) {
            d->pkt = realloc(d->pkt, (d->n + 1) * sizeof *d->pkt);
            d->pkt[d->n++] = pkt;
            continue;
        }
        ss_packet_free(pkt);
        if (rc == SS_EREJECT) {
            keep_reject(d, &rej);
            continue;
        }
        if (rc != 0)
            snprintf(d->end, sizeof d->end, "%s", err.msg);
        return;
    }
}

/* Decode file @p path, with avro-c's generic values when @p generic is 1. */
static void decode_file(const char *path, const char *schema_dir, int generic, decoded *d)
{
    memset(d, 0, sizeof *d);
    if (generic)
        setenv("SKYSIEVE_AVRO_GENERIC", "1", 1);
    else
        unsetenv("SKYSIEVE_AVRO_GENERIC");
    const ss_decoder_ops *ops = ss_decoder_find("avro");
    ss_decoder_config cfg = {.schema_dir = schema_dir};
    ss_decoder_shared *sh = d->sh = ss_decoder_shared_new(&cfg);
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    void *st = NULL;
    ss_err err = {0};
    if (ops->open(fp, path, &cfg, ss_decoder_shared_get(sh, ops), &st, &err) == 0) {
        decode_all(ops, st, d);
        ops->close(st);
    } else {
        snprintf(d->end, sizeof d->end, "%s", err.msg);
    }
    fclose(fp);
    unsetenv("SKYSIEVE_AVRO_GENERIC");
}

/* ---- comparing, with where it differs ---- */

static void same_text(const char *a, const char *b, const char *where, const char *what)
{
    if (!a || !b)
        ck_assert_msg(a == b, "%s: %s is %s in one decoding only", where, what, a ? a : b);
    else
        ck_assert_msg(!strcmp(a, b), "%s: %s '%s' against '%s'", where, what, a, b);
}

static void same_num(double a, double b, const char *where, const char *what)
{
    ck_assert_msg((isnan(a) && isnan(b)) || a == b, "%s: %s %.17g against %.17g", where, what, a,
                  b);
}

static void same_value(const ss_value *a, const ss_value *b, const char *where)
{
    ck_assert_msg(a->type == b->type, "%s: type %d against %d", where, a->type, b->type);
    switch (a->type) {
    case SS_TYPE_INT:
        ck_assert_msg(a->u.i == b->u.i, "%s: %lld against %lld", where, (long long)a->u.i,
                      (long long)b->u.i);
        break;
    case SS_TYPE_FLOAT: same_num(a->u.f, b->u.f, where, "value"); break;
    case SS_TYPE_BOOL:
        ck_assert_msg(a->u.b == b->u.b, "%s: %d against %d", where, a->u.b, b->u.b);
        break;
    case SS_TYPE_STRING:
        ck_assert_msg(a->u.s.len == b->u.s.len && !memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len),
                      "%s: '%.*s' against '%.*s'", where, (int)a->u.s.len, a->u.s.ptr,
                      (int)b->u.s.len, b->u.s.ptr);
        break;
    default: break;
    }
}

static void same_props(const ss_prop *a, uint32_t na, const ss_prop *b, uint32_t nb,
                       const char *where)
{
    ck_assert_msg(na == nb, "%s: %u properties against %u", where, na, nb);
    for (uint32_t i = 0; i < na; i++) {
        char at[2048];
        snprintf(at, sizeof at, "%s property %u (%s)", where, i, a[i].name);
        same_text(a[i].name, b[i].name, at, "name");
        same_value(&a[i].value, &b[i].value, at);
    }
}

static void same_alert(const ss_alert *a, const ss_alert *b, const char *where)
{
    same_text(a->survey, b->survey, where, "survey");
    same_text(a->alert_id, b->alert_id, where, "alert_id");
    same_text(a->object_id, b->object_id, where, "object_id");
    same_text(a->passband, b->passband, where, "passband");
    same_text(a->origin, b->origin, where, "origin");
    ck_assert_msg(a->kind == b->kind && a->line == b->line, "%s: kind or line differ", where);
    const double x[] = {a->ra, a->dec, a->mjd, a->mag, a->magerr, a->maglim, a->flux, a->fluxerr};
    const double y[] = {b->ra, b->dec, b->mjd, b->mag, b->magerr, b->maglim, b->flux, b->fluxerr};
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        same_num(x[i], y[i], where, "a measurement");
    same_props(a->props, a->nprops, b->props, b->nprops, where);
}

static void same_packet(const ss_packet *a, const ss_packet *b, const char *where)
{
    ck_assert_msg(a->n == b->n, "%s: %u alerts against %u", where, a->n, b->n);
    for (uint32_t i = 0; i < a->n; i++) {
        char at[1024];
        snprintf(at, sizeof at, "%s alert %u (%s)", where, i, a->alerts[i].alert_id);
        same_alert(&a->alerts[i], &b->alerts[i], at);
    }
    same_props(a->locus_props, a->nlocus_props, b->locus_props, b->nlocus_props, where);
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
        const ss_cutout *x = &a->cutouts[k], *y = &b->cutouts[k];
        ck_assert_msg(x->len == y->len && (!x->len || !memcmp(x->data, y->data, x->len)),
                      "%s: %s stamp differs", where, ss_cutout_kind_name((ss_cutout_kind)k));
        same_text(x->file_name, y->file_name, where, "stamp file name");
    }
}

/* Decode @p path both ways and compare. @return the packets compared. */
static size_t compare_file(const char *path, const char *schema_dir)
{
    decoded plan, ref;
    decode_file(path, schema_dir, 0, &plan);
    decode_file(path, schema_dir, 1, &ref);
    ck_assert_msg(plan.n == ref.n, "%s: %zu packets against %zu", path, plan.n, ref.n);
    for (size_t i = 0; i < plan.n; i++) {
        char at[600];
        snprintf(at, sizeof at, "%s packet %zu", path, i);
        same_packet(plan.pkt[i], ref.pkt[i], at);
    }
    ck_assert_msg(plan.nrej == ref.nrej, "%s: %zu rejections against %zu", path, plan.nrej,
                  ref.nrej);
    for (size_t i = 0; i < plan.nrej; i++)
        same_text(plan.rejected[i], ref.rejected[i], path, "rejection");
    same_text(plan.end, ref.end, path, "end");
    size_t n = plan.n;
    decoded_free(&plan), decoded_free(&ref);
    return n;
}

/* ---- every Avro alert of ../shared/data ---- */

static size_t compare_set(const char *what, const char *dir, const char *schema_dir)
{
    tu_files *f = tu_data_files(what, dir, ".avro");
    size_t packets = 0;
    for (size_t i = 0; f && i < f->n; i++)
        packets += compare_file(f->path[i], schema_dir);
    if (f)
        ck_assert_msg(f->n > 0, "no .avro files under %s", dir);
    tu_files_free(f);
    return packets;
}

START_TEST(shared_alerts_decode_alike)
{
    char *schemas = tu_data_path("Rubin schemas", "schemas/lsst");
    if (!schemas)
        return;
    ck_assert_uint_ge(compare_set("ZTF alerts", "ztf", NULL), 88);
    ck_assert_uint_gt(compare_set("Rubin alerts", "lsst", schemas), 0);
    ck_assert_uint_ge(compare_set("ELAsTiCC alerts", "elasticc", NULL), 5000);
    free(schemas);
}
END_TEST

/* ---- records of every Avro type, written here with avro-c ---- */

/* A ZTF-like alert whose candidate also holds every other Avro type: enum, fixed, bytes, a map,
 * an array of numbers, a nested record, a boolean, a union of three. */
static const char every_type_schema[] =
    "{\"type\":\"record\",\"name\":\"a\",\"fields\":["
    "{\"name\":\"objectId\",\"type\":\"string\"},"
    "{\"name\":\"candidate\",\"type\":{\"type\":\"record\",\"name\":\"c\",\"fields\":["
    "{\"name\":\"candid\",\"type\":\"long\"},{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},{\"name\":\"magpsf\",\"type\":\"float\"},"
    "{\"name\":\"sigmapsf\",\"type\":\"float\"},"
    "{\"name\":\"isdiffpos\",\"type\":{\"type\":\"enum\",\"name\":\"e\",\"symbols\":[\"t\","
    "\"f\"]}},"
    "{\"name\":\"flag\",\"type\":\"boolean\"},"
    "{\"name\":\"tag\",\"type\":{\"type\":\"fixed\",\"name\":\"fx\",\"size\":3}},"
    "{\"name\":\"blob\",\"type\":\"bytes\"},"
    "{\"name\":\"extra\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"
    "{\"name\":\"nums\",\"type\":{\"type\":\"array\",\"items\":\"float\"}},"
    "{\"name\":\"three\",\"type\":[\"null\",\"string\",\"double\"]},"
    "{\"name\":\"inner\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"in\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"nan\",\"type\":\"double\"}]}]}]}},"
    "{\"name\":\"prv_candidates\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"c\"}]}]}";

static void fill_candidate(avro_value_t *c, int i)
{
    avro_value_t f, b, item;
    tu_avro_field(c, "candid", &f), avro_value_set_long(&f, 5000 + i);
    tu_avro_field(c, "jd", &f), avro_value_set_double(&f, 2460100.5 + i * 0.01);
    tu_avro_field(c, "ra", &f), avro_value_set_double(&f, 150.0 + i * 1e-5);
    tu_avro_field(c, "dec", &f), avro_value_set_double(&f, 2.2);
    tu_avro_field(c, "fid", &f), avro_value_set_int(&f, -1 - i); /* a negative int: zigzag */
    tu_avro_field(c, "magpsf", &f), avro_value_set_float(&f, 18.25f + (float)i);
    tu_avro_field(c, "sigmapsf", &f), avro_value_set_float(&f, 0.125f);
    tu_avro_field(c, "isdiffpos", &f), avro_value_set_enum(&f, i % 2);
    tu_avro_field(c, "flag", &f), avro_value_set_boolean(&f, i % 2);
    tu_avro_field(c, "tag", &f), avro_value_set_fixed(&f, (void *)"abc", 3);
    tu_avro_field(c, "blob", &f), avro_value_set_bytes(&f, (void *)"\0\1\2", 3);
    tu_avro_field(c, "extra", &f), avro_value_add(&f, "k", &item, NULL, NULL);
    avro_value_set_long(&item, 7);
    tu_avro_field(c, "nums", &f), avro_value_append(&f, &item, NULL),
        avro_value_set_float(&item, 1.5f);
    tu_avro_field(c, "three", &f);
    if (i % 3 == 1)
        avro_value_set_branch(&f, 1, &b), avro_value_set_string(&b, "text\xc3\xa9");
    else if (i % 3 == 2)
        avro_value_set_branch(&f, 2, &b), avro_value_set_double(&b, -0.0);
    else
        avro_value_set_branch(&f, 0, &b), avro_value_set_null(&b);
    tu_avro_field(c, "inner", &f), avro_value_set_branch(&f, 1, &b);
    tu_avro_field(&b, "x", &item), avro_value_set_int(&item, INT32_MIN + i);
    tu_avro_field(&b, "nan", &item), avro_value_set_double(&item, NAN);
}

static char *write_every_type(int records)
{
    avro_schema_t schema;
    ck_assert_int_eq(
        avro_schema_from_json_length(every_type_schema, strlen(every_type_schema), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t v, f, b, c, item;
    avro_generic_value_new(iface, &v);
    char *path = tu_path(tu_tmp, "every-type.avro");
    avro_file_writer_t w;
    ck_assert_int_eq(avro_file_writer_create_with_codec(path, schema, &w, "deflate", 0), 0);
    for (int i = 0; i < records; i++) {
        avro_value_reset(&v);
        tu_avro_field(&v, "objectId", &f), avro_value_set_string(&f, "ZTF26every");
        tu_avro_field(&v, "candidate", &c), fill_candidate(&c, i);
        tu_avro_field(&v, "prv_candidates", &f), avro_value_set_branch(&f, 1, &b);
        for (int k = 0; k < i % 4; k++)
            avro_value_append(&b, &item, NULL), fill_candidate(&item, 100 * i + k);
        ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
    }
    avro_file_writer_close(w);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return path;
}

START_TEST(every_avro_type_decodes_alike)
{
    char *path = write_every_type(40);
    ck_assert_uint_eq(compare_file(path, NULL), 40);
    decoded d;
    decode_file(path, NULL, 0, &d);
    /* the plan's values, checked against what was written */
    const ss_alert *a = &d.pkt[1]->alerts[0];
    ck_assert_str_eq(ss_alert_prop(a, "ztf_isdiffpos")->value.u.s.ptr, "f");
    ck_assert_int_eq(ss_alert_prop(a, "ztf_fid")->value.u.i, -2);
    ck_assert_int_eq(ss_alert_prop(a, "ztf_flag")->value.u.b, 1);
    ck_assert_str_eq(ss_alert_prop(a, "ztf_three")->value.u.s.ptr, "text\xc3\xa9");
    ck_assert_int_eq(ss_alert_prop(a, "ztf_inner_x")->value.u.i, INT32_MIN + 1);
    ck_assert_int_eq(ss_alert_prop(a, "ztf_inner_nan")->value.type, SS_TYPE_NULL);
    ck_assert_ptr_null(ss_alert_prop(a, "ztf_blob")); /* bytes, maps, arrays: not properties */
    ck_assert_ptr_null(ss_alert_prop(a, "ztf_extra"));
    ck_assert_uint_eq(d.pkt[3]->n, 4); /* the alert and its three history entries */
    decoded_free(&d);
    free(path);
}
END_TEST

/* ---- containers in memory, sharing the schema cache ---- */

/* Two schemas of one length (as avro-c writes them too) with magpsf's and sigmapsf's types
 * swapped: a cache that took one text for the other would decode the second's records with the
 * first's layout. */
static const char float_schema[] =
    "{\"type\":\"record\",\"name\":\"a\",\"fields\":[{\"name\":\"objectId\",\"type\":\"string\"},"
    "{\"name\":\"candidate\",\"type\":{\"type\":\"record\",\"name\":\"c\",\"fields\":["
    "{\"name\":\"candid\",\"type\":\"long\"},{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},{\"name\":\"magpsf\",\"type\":\"float\"},"
    "{\"name\":\"sigmapsf\",\"type\":\"double\"}]}}]}";
static const char double_schema[] =
    "{\"type\":\"record\",\"name\":\"a\",\"fields\":[{\"name\":\"objectId\",\"type\":\"string\"},"
    "{\"name\":\"candidate\",\"type\":{\"type\":\"record\",\"name\":\"c\",\"fields\":["
    "{\"name\":\"candid\",\"type\":\"long\"},{\"name\":\"jd\",\"type\":\"double\"},"
    "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
    "{\"name\":\"fid\",\"type\":\"int\"},{\"name\":\"magpsf\",\"type\":\"double\"},"
    "{\"name\":\"sigmapsf\",\"type\":\"float\"}]}}]}";

static void set_real(avro_value_t *f, double x)
{
    if (avro_value_get_type(f) == AVRO_FLOAT)
        ck_assert_int_eq(avro_value_set_float(f, (float)x), 0);
    else
        ck_assert_int_eq(avro_value_set_double(f, x), 0);
}

/* A container of one alert of @p schema whose magpsf is @p mag, read back into memory. */
static unsigned char *one_alert_container(const char *schema_json, double mag, size_t *len)
{
    avro_schema_t schema;
    ck_assert_int_eq(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t v, f, c;
    avro_generic_value_new(iface, &v);
    tu_avro_field(&v, "objectId", &f), avro_value_set_string(&f, "ZTF26cache");
    tu_avro_field(&v, "candidate", &c);
    tu_avro_field(&c, "candid", &f), avro_value_set_long(&f, 42);
    tu_avro_field(&c, "jd", &f), avro_value_set_double(&f, 2460100.5);
    tu_avro_field(&c, "ra", &f), avro_value_set_double(&f, 150.0);
    tu_avro_field(&c, "dec", &f), avro_value_set_double(&f, 2.2);
    tu_avro_field(&c, "fid", &f), avro_value_set_int(&f, 1);
    tu_avro_field(&c, "magpsf", &f), set_real(&f, mag);
    tu_avro_field(&c, "sigmapsf", &f), set_real(&f, 0.125);
    char *path = tu_path(tu_tmp, "one.avro");
    avro_file_writer_t w;
    ck_assert_int_eq(avro_file_writer_create_with_codec(path, schema, &w, "null", 0), 0);
    ck_assert_int_eq(avro_file_writer_append_value(w, &v), 0);
    avro_file_writer_close(w);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    unsigned char *data = tu_read_file(path, len);
    ck_assert_ptr_nonnull(data);
    unlink(path);
    free(path);
    return data;
}

/* The alert of container @p data decoded from memory with the schemas @p sh holds: its magpsf. */
static double magpsf_in_memory(ss_decoder_shared *sh, const unsigned char *data, size_t len)
{
    const ss_decoder_ops *ops = ss_decoder_find("avro");
    ss_decoder_config cfg = {0};
    void *st = NULL;
    ss_err err = {0};
    ck_assert_msg(ops->open_memory(data, len, "mem.avro", &cfg, ss_decoder_shared_get(sh, ops), &st,
                                   &err) == 0,
                  "%s", err.msg);
    decoded d = {0};
    decode_all(ops, st, &d);
    ops->close(st);
    ck_assert_msg(d.n == 1 && d.nrej == 0 && !d.end[0], "%zu alerts, %zu rejected, %s", d.n, d.nrej,
                  d.end);
    ck_assert_double_eq(d.pkt[0]->alerts[0].magerr, 0.125); /* the field after it */
    double mag = d.pkt[0]->alerts[0].mag;
    decoded_free(&d);
    return mag;
}

/* The cache finds a container's schema by its text, read where it lies in memory: the same text
 * from another buffer is the same schema, another text of the same length is another. */
START_TEST(schemas_of_one_length_are_told_apart_in_memory)
{
    ck_assert_uint_eq(strlen(float_schema), strlen(double_schema));
    size_t flen, dlen;
    unsigned char *f = one_alert_container(float_schema, 18.5, &flen);
    unsigned char *d = one_alert_container(double_schema, 18.123456789, &dlen);
    ck_assert_uint_eq(flen, dlen); /* the schemas as written are of one length too */
    ss_decoder_config cfg = {0};
    ss_decoder_shared *sh = ss_decoder_shared_new(&cfg);
    ck_assert_double_eq(magpsf_in_memory(sh, f, flen), 18.5);
    ck_assert_double_eq(magpsf_in_memory(sh, d, dlen), 18.123456789);
    unsigned char *again = malloc(flen); /* the first text again, from a buffer of its own */
    memcpy(again, f, flen);
    ck_assert_double_eq(magpsf_in_memory(sh, again, flen), 18.5);
    ss_decoder_shared_free(sh);
    free(f), free(d), free(again);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("avro_plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(tc, shared_alerts_decode_alike);
    tcase_add_test(tc, every_avro_type_decodes_alike);
    tcase_add_test(tc, schemas_of_one_length_are_told_apart_in_memory);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
