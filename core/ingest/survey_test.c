/* What real survey alerts bring besides the alert: forced photometry, the survey's locus
 * properties, cutouts, and the merged light curve filters see. Reads ../shared/data; each test
 * skips, saying so, when it is absent. */
#include "testutil.h"

#include "cutout.h"
#include "filters.h"
#include "ingest.h"
#include "query.h"
#include "verify.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct opened {
    ss_store *s;
    ss_ingest_totals t;
} opened;

/* Ingest @p path (twice when @p twice) into store @p name; verify it; leave it open. */
static opened ingest(const char *name, const char *path, const ss_ingest_options *o, int twice,
                     ss_filter_set *fs)
{
    opened r = {0};
    char *dir = tu_path(tu_tmp, name);
    ss_store_options so = {.create = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &so, &r.s, &err) == 0, "%s", err.msg);
    for (int round = 0; round <= twice; round++) {
        ss_ingest_options opts = o ? *o : (ss_ingest_options){0};
        opts.filters = fs;
        ss_ingest *in = ss_ingest_new(r.s, &opts);
        ck_assert_msg(ss_ingest_path(in, path, &err) == 0, "%s", err.msg);
        ck_assert_msg(ss_ingest_finish(in, &r.t, &err) == 0, "%s", err.msg);
        ss_ingest_free(in);
    }
    ss_verify_report vr;
    ck_assert_int_eq(ss_store_verify(r.s, stderr, &vr, &err), 0);
    ck_assert_uint_eq(vr.problems, 0);
    free(dir);
    return r;
}

static long stat_of(ss_store *s, const char *key)
{
    json_t *st = NULL;
    ss_err err = {0};
    ck_assert_int_eq(ss_query_stats(s, &st, &err), 0);
    long v = (long)json_integer_value(json_object_get(st, key));
    json_decref(st);
    return v;
}

/* Distinct ids of the forced measurements in every packet of the Avro files in @p dir, and the
 * first alert that has a @p kind cutout (with its bytes). */
typedef struct seen {
    char **ids;
    size_t n, cap;
    size_t ncutouts; /* stamps of every kind in every packet */
    char first_alert[64];
    unsigned char *cutout;
    size_t cutout_len;
    struct seen_stamp *all; /* with keep_all: every stamp of every packet, copied */
    size_t nall;
    int keep_all;
} seen;

typedef struct seen_stamp {
    char alert_id[64];
    ss_cutout_kind kind;
    unsigned char *bytes;
    size_t len;
} seen_stamp;

static void seen_stamp_add(seen *s, const char *alert_id, ss_cutout_kind kind, const ss_cutout *c)
{
    s->all = realloc(s->all, (s->nall + 1) * sizeof *s->all);
    seen_stamp *e = &s->all[s->nall++];
    snprintf(e->alert_id, sizeof e->alert_id, "%s", alert_id);
    e->kind = kind;
    e->bytes = malloc(c->len);
    memcpy(e->bytes, c->data, c->len);
    e->len = c->len;
}

static void seen_add(seen *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->ids[i], id))
            return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->ids = realloc(s->ids, s->cap * sizeof *s->ids);
    }
    s->ids[s->n++] = strdup(id);
}

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ids[i]);
    free(s->ids);
    free(s->cutout);
    for (size_t i = 0; i < s->nall; i++)
        free(s->all[i].bytes);
    free(s->all);
}

static void scan_file(const char *path, const ss_decoder_config *cfg, ss_cutout_kind kind,
                      seen *out)
{
    const ss_decoder_ops *ops = ss_decoder_find("avro");
    ss_decoder_shared *sh = ss_decoder_shared_new(cfg);
    FILE *fp = fopen(path, "rb");
    void *st = NULL;
    ss_err err = {0};
    ck_assert_ptr_nonnull(fp);
    ck_assert_msg(ops->open(fp, path, cfg, ss_decoder_shared_get(sh, ops), &st, &err) == 0, "%s",
                  err.msg);
    ss_packet *pkt = ss_packet_new();
    ss_reject rej = {0};
    for (int rc; (rc = ops->next(st, pkt, &rej, &err)) != 0; ss_packet_reset(pkt)) {
        if (rc != 1)
            continue;
        for (uint32_t i = 0; i < pkt->n; i++)
            if (pkt->alerts[i].kind == SS_ALERT_FORCED)
                seen_add(out, pkt->alerts[i].alert_id);
        for (int k = 0; k < SS_CUTOUT__COUNT; k++) {
            out->ncutouts += pkt->cutouts[k].data != NULL;
            if (out->keep_all && pkt->cutouts[k].data)
                seen_stamp_add(out, pkt->alerts[0].alert_id, (ss_cutout_kind)k, &pkt->cutouts[k]);
        }
        const ss_cutout *c = &pkt->cutouts[kind];
        if (!out->cutout && c->data) {
            snprintf(out->first_alert, sizeof out->first_alert, "%s", pkt->alerts[0].alert_id);
            out->cutout = malloc(c->len);
            memcpy(out->cutout, c->data, c->len);
            out->cutout_len = c->len;
        }
    }
    ss_packet_free(pkt);
    ops->close(st);
    fclose(fp);
    ss_decoder_shared_free(sh);
}

static void scan_dir(const char *dir, const ss_decoder_config *cfg, ss_cutout_kind kind, seen *out)
{
    char cmd[4200], *list = NULL;
    snprintf(cmd, sizeof cmd, "ls '%s'/*.avro 2>/dev/null || ls '%s'/*", dir, dir);
    ck_assert_int_eq(tu_run(cmd, &list, NULL), 0);
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n"))
        scan_file(line, cfg, kind, out);
    free(list);
}

/* The stored cutout of @p alert_id equals @p want and starts with @p magic. */
static void check_cutout(ss_store *s, const char *alert_id, ss_cutout_kind kind,
                         const unsigned char *want, size_t len, const char *magic, size_t mlen)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&buf, &n);
    ss_err err = {0};
    ck_assert_msg(ss_query_cutout_write(s, alert_id, NULL, kind, mem, &err) == 0, "%s", err.msg);
    fclose(mem);
    ck_assert_uint_eq(n, len);
    ck_assert_int_eq(memcmp(buf, want, len), 0);
    ck_assert_int_eq(memcmp(buf, magic, mlen), 0);
    free(buf);
}

START_TEST(ztf_forced_photometry_is_stored_once_and_cutouts_come_back)
{
    char *dir = tu_data_path("ZTF 4.01 alerts with fp_hists", "ztf/kowalski-20231012-v4.01");
    if (!dir)
        return;
    seen sn = {0};
    ss_decoder_config cfg = {0};
    scan_dir(dir, &cfg, SS_CUTOUT_DIFFERENCE, &sn);
    ck_assert_uint_gt(sn.n, 0);
    opened r = ingest("z", dir, NULL, 1, NULL);
    /* every fp_hists entry of every alert, each stored once although alerts repeat them */
    ck_assert_int_eq(stat_of(r.s, "forced_photometry"), (long)sn.n);
    ck_assert_int_eq(stat_of(r.s, "cutouts"), (long)sn.ncutouts);
    ck_assert_uint_gt(sn.ncutouts, 0);
    check_cutout(r.s, sn.first_alert, SS_CUTOUT_DIFFERENCE, sn.cutout, sn.cutout_len, "\x1f\x8b",
                 2); /* ZTF sends gzip-compressed FITS, kept as sent */
    char *buf = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&buf, &n);
    ss_err err = {0};
    ck_assert_int_eq(
        ss_query_cutout_write(r.s, "no-such-alert", NULL, SS_CUTOUT_SCIENCE, mem, &err),
        SS_ENOTFOUND);
    fclose(mem);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "no-such-alert"));
    free(buf);
    ss_store_close(r.s);
    seen_free(&sn);
    free(dir);
}
END_TEST

/* Serially (_i 0) and overlapped (1: the stamps are compressed on the decoding thread, and the
 * store holds the same). */
START_TEST(rubin_forced_sources_dia_object_and_fits_cutouts)
{
    char *dir = tu_data_path("Rubin Confluent-framed alerts", "lsst/confluent-framed-v7.4");
    if (!dir)
        return;
    char *schemas = tu_data_path("Rubin Confluent-framed alerts", "schemas/lsst");
    seen sn = {0};
    ss_ingest_options o = {.decoder.schema_dir = schemas, .overlap = _i};
    scan_dir(dir, &o.decoder, SS_CUTOUT_SCIENCE, &sn);
    ck_assert_uint_gt(sn.n, 0);
    opened r = ingest(_i ? "r-overlap" : "r", dir, &o, 0, NULL);
    ck_assert_int_eq(stat_of(r.s, "forced_photometry"), (long)sn.n);
    check_cutout(r.s, sn.first_alert, SS_CUTOUT_SCIENCE, sn.cutout, sn.cutout_len, "SIMPLE  =", 9);
    /* the diaObject is the locus's: its fields are locus properties */
    json_t *loc = NULL;
    ss_err err = {0};
    char *lines = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&lines, &n);
    ck_assert_int_eq(ss_query_loci(r.s, mem, &err), 0);
    fclose(mem);
    json_t *first = json_loads(lines, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_ptr_nonnull(first);
    ck_assert_int_eq(ss_query_locus(r.s, json_string_value(json_object_get(first, "locus_id")),
                                    NULL, &loc, &err),
                     0);
    json_t *props = json_object_get(loc, "properties");
    ck_assert_ptr_nonnull(json_object_get(props, "lsst_diaObject_diaObjectId"));
    ck_assert_ptr_nonnull(json_object_get(props, "lsst_diaObject_ra"));
    json_decref(loc), json_decref(first);
    free(lines);
    ss_store_close(r.s);
    seen_free(&sn);
    free(dir), free(schemas);
}
END_TEST

/* Every stamp of every alert reads back as the survey sent it, written serially (_i even) and
 * overlapped (odd: the decoder lends its bytes, which the decoding thread packs before decoding
 * the next record over them): ZTF's gzipped FITS (_i 0-1), kept as sent, and Rubin's plain FITS
 * (_i 2-3), compressed regrouped. */
START_TEST(every_stamp_comes_back_as_sent)
{
    static const char *const dirs[] = {"ztf/fink-local-v3.3", "lsst/rubin-lsstcam-v9.0"};
    char *dir = tu_data_path("ZTF and Rubin alerts with stamps", dirs[_i / 2]);
    if (!dir)
        return;
    seen sn = {.keep_all = 1};
    ss_ingest_options o = {.overlap = _i % 2, .batch_size = 7};
    scan_dir(dir, &o.decoder, SS_CUTOUT_SCIENCE, &sn);
    ck_assert_uint_gt(sn.nall, 20);
    opened r = ingest("every", dir, &o, 0, NULL);
    ck_assert_int_eq(stat_of(r.s, "cutouts"), (long)sn.nall);
    for (size_t i = 0; i < sn.nall; i++)
        check_cutout(r.s, sn.all[i].alert_id, sn.all[i].kind, sn.all[i].bytes, sn.all[i].len,
                     _i / 2 ? "SIMPLE  =" : "\x1f\x8b", _i / 2 ? 9 : 2);
    ss_store_close(r.s);
    seen_free(&sn);
    free(dir);
}
END_TEST

START_TEST(the_cutout_switch_keeps_none)
{
    char *dir = tu_data_path("ZTF 3.3 alerts", "ztf/kowalski-20200202-v3.3");
    if (!dir)
        return;
    ss_ingest_options o = {.decoder.skip_cutouts = 1};
    opened r = ingest("n", dir, &o, 0, NULL);
    ck_assert_int_gt(stat_of(r.s, "alerts"), 0);
    ck_assert_int_eq(stat_of(r.s, "cutouts"), 0);
    ss_store_close(r.s);
    free(dir);
}
END_TEST

/* A Lua filter that records what light_curve() gives: counts per kind, whether times ascend, and
 * whether any measurement repeats. */
static const char lc_filter[] =
    "NAME = 'lc_probe'\nVERSION = '1'\nDESCRIPTION = 'probe'\nAUTHOR = 'tests'\n"
    "OUTPUT_LOCUS_PROPERTIES = {\n"
    " {name='lc_all', type='int', description='all'},\n"
    " {name='lc_forced', type='int', description='forced'},\n"
    " {name='lc_det', type='int', description='detections'},\n"
    " {name='lc_sorted', type='bool', description='times ascend'},\n"
    " {name='lc_unique', type='bool', description='no repeats'},\n"
    " {name='lc_alerts', type='int', description='alert_count'}}\n"
    "function run(locus)\n"
    "  local all = locus:light_curve()\n"
    "  local sorted, unique, seen = true, true, {}\n"
    "  for i, p in ipairs(all) do\n"
    "    if i > 1 and p.mjd < all[i-1].mjd then sorted = false end\n"
    "    local k = p.survey .. '/' .. p.alert_id\n"
    "    if seen[k] then unique = false end\n"
    "    seen[k] = true\n"
    "    if p.kind == 'forced' and p.flux == nil then sorted = false end\n"
    "  end\n"
    "  locus:set_property('lc_all', #all)\n"
    "  locus:set_property('lc_forced', #locus:light_curve(nil, 'forced'))\n"
    "  locus:set_property('lc_det', #locus:light_curve(nil, 'detection'))\n"
    "  locus:set_property('lc_sorted', sorted)\n"
    "  locus:set_property('lc_unique', unique)\n"
    "  locus:set_property('lc_alerts', locus:alert_count())\n"
    "end\n";

static long prop_int(json_t *props, const char *name)
{
    return (long)json_integer_value(json_object_get(props, name));
}

/* Each locus's stored measurements by kind, from its JSON. */
static void count_kinds(json_t *loc, long *all, long *forced, long *det)
{
    json_t *alerts = json_object_get(loc, "alerts"), *a;
    size_t i;
    *all = *forced = *det = 0;
    json_array_foreach(alerts, i, a)
    {
        const char *kind = json_string_value(json_object_get(a, "kind"));
        (*all)++;
        *forced += !strcmp(kind, "forced_photometry");
        *det += !strcmp(kind, "detection");
    }
}

START_TEST(filters_see_one_merged_light_curve)
{
    char *dir = tu_data_path("ZTF 4.01 alerts with fp_hists", "ztf/kowalski-20231012-v4.01");
    if (!dir)
        return;
    char *lua = tu_write(tu_tmp, "lc.lua", lc_filter);
    ss_filter_set *fs = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_filter_set_single(lua, NULL, 0, &fs, &err) == 0, "%s", err.msg);
    opened r = ingest("lc", dir, NULL, 0, fs);
    char *lines = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&lines, &n);
    ck_assert_int_eq(ss_query_loci(r.s, mem, &err), 0);
    fclose(mem);
    int checked = 0, with_forced = 0;
    for (char *line = strtok(lines, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *sum = json_loads(line, 0, NULL), *loc = NULL;
        const char *id = json_string_value(json_object_get(sum, "locus_id"));
        ck_assert_int_eq(ss_query_locus(r.s, id, NULL, &loc, &err), 0);
        json_t *p = json_object_get(loc, "properties");
        long all, forced, det;
        count_kinds(loc, &all, &forced, &det);
        /* the filter saw the locus as it was stored by the last alert that updated it */
        ck_assert_int_eq(prop_int(p, "lc_all"), all);
        ck_assert_int_eq(prop_int(p, "lc_forced"), forced);
        ck_assert_int_eq(prop_int(p, "lc_det"), det);
        ck_assert_int_eq(prop_int(p, "lc_alerts"), all - forced);
        ck_assert(json_is_true(json_object_get(p, "lc_sorted")));
        ck_assert(json_is_true(json_object_get(p, "lc_unique")));
        checked++;
        with_forced += forced > 0;
        json_decref(loc), json_decref(sum);
    }
    ck_assert_int_gt(checked, 0);
    ck_assert_int_gt(with_forced, 0);
    free(lines);
    ss_store_close(r.s);
    ss_filter_set_free(fs);
    free(dir), free(lua);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("survey");
    TCase *t = tcase_create("survey");
    tcase_add_checked_fixture(t, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, ztf_forced_photometry_is_stored_once_and_cutouts_come_back);
    tcase_add_loop_test(t, rubin_forced_sources_dia_object_and_fits_cutouts, 0, 2);
    tcase_add_loop_test(t, every_stamp_comes_back_as_sent, 0, 4);
    tcase_add_test(t, the_cutout_switch_keeps_none);
    tcase_add_test(t, filters_see_one_merged_light_curve);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
