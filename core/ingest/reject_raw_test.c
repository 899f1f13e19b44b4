/* Rejected rows are kept as bytes: a NUL, or bytes that are not UTF-8, inside a CSV or JSON-lines
 * row are stored whole with the row's length and listed escaped (json_text.h's one rule). The
 * suite runs under ASan: a copy that stops at a NUL while its length says more reads past it. */
#include "testutil.h"

#include "ingest.h"
#include "query.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEPT 8

/* The rejected records of a store, copied out of its transaction. */
typedef struct kept {
    char *raw[MAX_KEPT];
    size_t len[MAX_KEPT];
    char reason[MAX_KEPT][40];
    char detail[MAX_KEPT][256];
    size_t n;
} kept;

static int keep_one(void *ctx, const ss_store_rejected *r)
{
    kept *k = ctx;
    ck_assert_uint_lt(k->n, MAX_KEPT);
    ck_assert_ptr_nonnull(r->raw);
    k->raw[k->n] = malloc(r->raw_len + 1);
    ck_assert_ptr_nonnull(k->raw[k->n]);
    memcpy(k->raw[k->n], r->raw, r->raw_len);
    k->len[k->n] = r->raw_len;
    snprintf(k->reason[k->n], sizeof k->reason[0], "%.*s", (int)r->reason_len, r->reason);
    snprintf(k->detail[k->n], sizeof k->detail[0], "%.*s", (int)r->detail_len, r->detail);
    k->n++;
    return 0;
}

static void kept_free(kept *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->raw[i]);
}

/* Ingest @p n bytes as file @p name into a fresh store. */
static ss_store *ingest_bytes(const char *name, const char *bytes, size_t n, ss_ingest_totals *t)
{
    char *path = tu_path(tu_tmp, name), *dir = tu_path(tu_tmp, "st");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
    ss_store_options so = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &so, &s, &err) == 0, "%s", err.msg);
    ss_ingest *in = ss_ingest_new(s, NULL);
    ck_assert_msg(ss_ingest_path(in, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, t, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    free(path);
    free(dir);
    return s;
}

static kept rejected_of(ss_store *s)
{
    kept k = {0};
    ss_store_txn *t;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &t), 0);
    ck_assert_int_eq(ss_store_rejected_each(t, keep_one, &k), 0);
    ss_store_txn_abort(t);
    return k;
}

/* `skysieve rejected`'s lines, parsed (NULs allowed: they are escaped as \u0000). */
static json_t *listing(ss_store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ss_err err = {0};
    ck_assert_int_eq(ss_query_rejected(s, NULL, f, &err), 0);
    fclose(f);
    json_t *arr = json_array();
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &jerr);
        ck_assert_msg(o != NULL, "not JSON (%s): %s", jerr.text, line);
        json_array_append_new(arr, o);
    }
    free(buf);
    return arr;
}

static const char *raw_of(json_t *arr, size_t i, size_t *len)
{
    json_t *raw = json_object_get(json_array_get(arr, i), "raw");
    ck_assert_msg(json_is_string(raw), "record %zu has no raw text", i);
    *len = json_string_length(raw);
    return json_string_value(raw);
}

#define ROW(s)                                                                                     \
    {                                                                                              \
        s, sizeof s - 1                                                                            \
    }

typedef struct row {
    const char *p;
    size_t n;
} row;

/* Each row as stored: its bytes (without the newline), all of them. */
static void assert_rows_kept(const kept *k, const row *rows, size_t n)
{
    ck_assert_uint_eq(k->n, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(k->len[i] == rows[i].n, "row %zu: %zu bytes kept of %zu", i, k->len[i],
                      rows[i].n);
        ck_assert_msg(memcmp(k->raw[i], rows[i].p, rows[i].n) == 0, "row %zu: other bytes", i);
    }
}

START_TEST(csv_rows_with_nul_and_bad_utf8_are_kept_whole)
{
    static const row bad[] = {
        ROW("n1,10,10,60000,g\0x,18,0.1,a"), /* a NUL in a tuple text column */
        ROW("n2,10,1\0"
            "0,60000,g,18,0.1,b"),                  /* a NUL in a number */
        ROW("n3,10,95,60000,g,18,0.1,\xff\xfe\0z"), /* rejected later, by validation */
        ROW("n4,10,ten\xff,60000,g,18,0.1,c"),      /* not UTF-8, not a number */
        ROW("n\0"
            "5,10,10,60000,g,18,0.1,d"), /* a NUL in an id: id_invalid */
    };
    char text[512];
    size_t n =
        (size_t)snprintf(text, sizeof text, "alert_id,ra,dec,mjd,passband,mag,magerr,note\n");
    for (size_t i = 0; i < 5; i++) {
        memcpy(text + n, bad[i].p, bad[i].n);
        n += bad[i].n;
        text[n++] = '\n';
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "ok,10,10,60001,g,18,0.1,fine\n");
    ss_ingest_totals t;
    ss_store *s = ingest_bytes("nul.csv", text, n, &t);
    ck_assert_uint_eq(t.ingested, 1);
    ck_assert_uint_eq(t.rejected, 5);
    kept k = rejected_of(s);
    assert_rows_kept(&k, bad, 5);
    ck_assert_str_eq(k.reason[0], "unparsable_field");
    ck_assert_str_eq(k.detail[0], "passband contains a NUL byte");
    ck_assert_str_eq(k.reason[1], "unparsable_field");
    ck_assert_str_eq(k.reason[2], "dec_out_of_range");
    ck_assert_str_eq(k.reason[4], "id_invalid");
    json_t *arr = listing(s);
    size_t len;
    const char *raw = raw_of(arr, 1, &len);
    ck_assert_uint_eq(len, bad[1].n); /* the NUL is one escaped character */
    ck_assert_int_eq(memcmp(raw, bad[1].p, len), 0);
    raw = raw_of(arr, 2, &len);
    ck_assert_uint_eq(len, bad[2].n - 2 + 6); /* two bytes that are not UTF-8: two U+FFFD */
    ck_assert_ptr_nonnull(strstr(raw, "\xef\xbf\xbd\xef\xbf\xbd"));
    ck_assert_int_eq(raw[len - 2], '\0');
    json_decref(arr);
    kept_free(&k);
    ss_store_close(s);
}
END_TEST

START_TEST(jsonl_lines_with_nul_and_bad_utf8_are_kept_whole)
{
    static const row bad[] = {
        ROW("{\"ra\":10,\"dec\":10,\"mjd\":60000,\"passband\":\"g\",\"mag\":18,\"magerr\":0.1,"
            "\"note\":\"a\0b\"}"),
        ROW("{\"ra\":10,\"dec\":10,\"mjd\":60000,\"passband\":\"\xff\",\"mag\":18,\"magerr\":0.1}"),
        ROW("{\"ra\":10,\0\"dec\":10}"),
    };
    char text[512];
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
        memcpy(text + n, bad[i].p, bad[i].n);
        n += bad[i].n;
        text[n++] = '\n';
    }
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "{\"ra\":10,\"dec\":10,\"mjd\":60000,\"passband\":\"g\",\"mag\":18,"
                          "\"magerr\":0.1}\n");
    ss_ingest_totals t;
    ss_store *s = ingest_bytes("nul.jsonl", text, n, &t);
    ck_assert_uint_eq(t.ingested, 1);
    ck_assert_uint_eq(t.rejected, 3);
    kept k = rejected_of(s);
    assert_rows_kept(&k, bad, 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_str_eq(k.reason[i], "malformed_record");
    json_t *arr = listing(s);
    size_t len;
    const char *raw = raw_of(arr, 0, &len);
    ck_assert_uint_eq(len, bad[0].n);
    ck_assert_int_eq(memcmp(raw, bad[0].p, len), 0);
    raw = raw_of(arr, 1, &len);
    ck_assert_uint_eq(len, bad[1].n - 1 + 3);
    ck_assert_ptr_nonnull(strstr(raw, "\"\xef\xbf\xbd\""));
    json_decref(arr);
    kept_free(&k);
    ss_store_close(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reject_raw");
    TCase *tc = tcase_create("rows");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(tc, csv_rows_with_nul_and_bad_utf8_are_kept_whole);
    tcase_add_test(tc, jsonl_lines_with_nul_and_bad_utf8_are_kept_whole);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
