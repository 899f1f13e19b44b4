/*
 * A locus written as text (ss_query_locus_write, the HTTP API's hot path) is the JSON
 * ss_query_locus builds, for every locus of a simulated night with filter outputs, tags, catalog
 * matches and watch hits, and of the shared ZTF and Rubin alerts (survey fields of every type).
 */
#include "query.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAST SS_SOURCE_DIR "/tests/filters/fast.lua"

/* Every locus of @p dir: both renderings equal. @return the loci compared. */
static size_t compare_all(const char *dir)
{
    ss_store *s;
    ss_err err = {0};
    ss_store_options o = {.readonly = 1};
    ck_assert_msg(ss_store_open(dir, &o, &s, &err) == 0, "%s", err.msg);
    char *list = NULL;
    size_t len = 0, n = 0;
    FILE *f = open_memstream(&list, &len);
    ck_assert_int_eq(ss_query_loci(s, f, &err), 0);
    fclose(f);
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n"), n++) {
        json_t *row = json_loads(line, 0, NULL), *built = NULL;
        const char *id = json_string_value(json_object_get(row, "locus_id"));
        ck_assert_int_eq(ss_query_locus(s, id, NULL, &built, &err), 0);
        ss_wbuf text = {0};
        ck_assert_int_eq(ss_query_locus_write(s, id, NULL, &text, &err), 0);
        json_error_t je;
        json_t *written = json_loadb((const char *)text.data, text.len, 0, &je);
        ck_assert_msg(written, "%s: not JSON (%s at %d): ...%.80s", id, je.text, je.position,
                      (const char *)text.data + (je.position > 40 ? je.position - 40 : 0));
        char *b = json_dumps(built, SS_JSON_FLAGS);
        /* the very text jansson prints, byte for byte (the values built hold every bit of a
         * double, the text 15 digits: the text is what a client gets) */
        size_t at = 0;
        while (at < text.len && b[at] == (char)text.data[at])
            at++;
        ck_assert_msg(text.len == strlen(b) && at == text.len,
                      "%s differs at byte %zu:\n built:   ...%.80s\n written: ...%.80s", id, at,
                      b + (at > 30 ? at - 30 : 0),
                      (const char *)text.data + (at > 30 ? at - 30 : 0));
        free(b);
        ss_wbuf_free(&text);
        json_decref(written), json_decref(built), json_decref(row);
    }
    free(list);
    ss_store_close(s);
    return n;
}

START_TEST(a_night_with_outputs_tags_and_matches)
{
    char *out = NULL;
    ck_assert_int_eq(
        tu_sks(&out, NULL, "simulate --sources 120 --seed 11 --quiet --out '%s/night.csv'", tu_tmp),
        0);
    free(out);
    free(tu_write(tu_tmp, "set.ini", "[filter fast]\npath = " FAST "\n"));
    /* a catalog and a watch list at the field's centre, so that loci match them */
    free(tu_write(tu_tmp, "cat.csv", "id,ra,dec,name\n1,150.1,2.2,\"centre, \\\"quoted\\\"\"\n"));
    free(tu_write(tu_tmp, "watch.csv", "name,ra,dec,radius\nhere,150.1,2.2,3600\n"));
    ck_assert_int_eq(tu_sks(&out, NULL,
                            "catalog load --store '%s/st' --name cat --radius 3600 "
                            "'%s/cat.csv'",
                            tu_tmp, tu_tmp),
                     0);
    free(out);
    ck_assert_int_eq(
        tu_sks(&out, NULL, "watch add --store '%s/st' --name w '%s/watch.csv'", tu_tmp, tu_tmp), 0);
    free(out);
    ck_assert_int_eq(tu_sks(&out, NULL,
                            "ingest --quiet --store '%s/st' --filters '%s/set.ini' "
                            "'%s/night.csv'",
                            tu_tmp, tu_tmp, tu_tmp),
                     0);
    free(out);
    char *dir = tu_path(tu_tmp, "st");
    ck_assert_uint_gt(compare_all(dir), 100);
    free(dir);
}
END_TEST

START_TEST(the_shared_alerts)
{
    char *ztf = tu_data_path("the shared ZTF alerts", "ztf");
    char *rubin = tu_data_path("the shared Rubin alerts", "lsst/rubin-lsstcam-v9.0");
    if (!ztf || !rubin) {
        free(ztf), free(rubin);
        return;
    }
    char *out = NULL;
    ck_assert_int_eq(
        tu_sks(&out, NULL, "ingest --quiet --store '%s/st' '%s' '%s'", tu_tmp, ztf, rubin), 0);
    free(out);
    char *dir = tu_path(tu_tmp, "st");
    ck_assert_uint_gt(compare_all(dir), 100);
    free(dir), free(ztf), free(rubin);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("locus_write");
    TCase *tc = tcase_create("locus_write");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, a_night_with_outputs_tags_and_matches);
    tcase_add_test(tc, the_shared_alerts);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
