/* The csv and jsonl decoders, driven through their ops tables as the ingest loop drives them. */
#include "decoder.h"
#include "testutil.h"

#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static char *dir;

static void setup(void)
{
    dir = tu_mkdtemp();
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

typedef struct run {
    const ss_decoder_ops *ops;
    char *path;
    FILE *fp;
    void *st;
    ss_packet *pkt;
    ss_reject rej;
    ss_err err;
} run;

static void run_open(run *r, const char *fmt, const char *file, const char *text,
                     const ss_decoder_config *cfg)
{
    memset(r, 0, sizeof *r);
    r->ops = ss_decoder_find(fmt);
    ck_assert_ptr_nonnull(r->ops);
    r->path = tu_write(dir, file, text);
    r->fp = fopen(r->path, "r");
    ck_assert_ptr_nonnull(r->fp);
    r->pkt = ss_packet_new();
    ck_assert_ptr_nonnull(r->pkt);
    int rc = r->ops->open(r->fp, r->path, cfg, NULL, &r->st, &r->err);
    ck_assert_msg(rc == 0, "open %s: %d %s", file, rc, r->err.msg);
}

static void run_close(run *r)
{
    r->ops->close(r->st);
    fclose(r->fp);
    ss_packet_free(r->pkt);
    free(r->path);
}

static int run_next(run *r)
{
    ss_packet_reset(r->pkt);
    memset(&r->rej, 0, sizeof r->rej);
    return r->ops->next(r->st, r->pkt, &r->rej, &r->err);
}

static const ss_alert *expect_alert(run *r, uint64_t line)
{
    int rc = run_next(r);
    ck_assert_msg(rc == 1, "line %" PRIu64 ": rc %d, reject '%s', err '%s'", line, rc,
                  r->rej.detail, r->err.msg);
    ck_assert_uint_eq(r->pkt->n, 1);
    const ss_alert *a = &r->pkt->alerts[0];
    ck_assert_uint_eq(a->line, line);
    ck_assert_str_eq(a->origin, r->path);
    return a;
}

static void expect_reject(run *r, uint64_t line, ss_reason reason, const char *detail)
{
    int rc = run_next(r);
    ck_assert_msg(rc == SS_EREJECT, "line %" PRIu64 ": rc %d, expected a reject", line, rc);
    ck_assert_str_eq(ss_reason_name(r->rej.reason), ss_reason_name(reason));
    ck_assert_uint_eq(r->rej.line, line);
    ck_assert_str_eq(r->rej.origin, r->path);
    if (detail)
        ck_assert_str_eq(r->rej.detail, detail);
}

static void expect_raw(const run *r, const char *raw)
{
    ck_assert_ptr_nonnull(r->rej.raw);
    ck_assert_uint_eq(r->rej.raw_len, strlen(raw));
    ck_assert_mem_eq(r->rej.raw, raw, strlen(raw));
}

static void expect_end(run *r)
{
    ck_assert_int_eq(run_next(r), 0);
    ck_assert_int_eq(run_next(r), 0);
}

static const ss_prop *prop(const ss_alert *a, const char *name, ss_type type)
{
    const ss_prop *p = ss_alert_prop(a, name);
    ck_assert_msg(p != NULL, "no property %s", name);
    ck_assert_str_eq(ss_type_name(p->value.type), ss_type_name(type));
    return p;
}

static void prop_int(const ss_alert *a, const char *name, int64_t v)
{
    ck_assert_int_eq(prop(a, name, SS_TYPE_INT)->value.u.i, v);
}

static void prop_float(const ss_alert *a, const char *name, double v)
{
    ck_assert_double_eq(prop(a, name, SS_TYPE_FLOAT)->value.u.f, v);
}

static void prop_bool(const ss_alert *a, const char *name, int v)
{
    ck_assert_int_eq(prop(a, name, SS_TYPE_BOOL)->value.u.b, v);
}

static void prop_str(const ss_alert *a, const char *name, const char *v)
{
    const ss_prop *p = prop(a, name, SS_TYPE_STRING);
    ck_assert_uint_eq(p->value.u.s.len, strlen(v));
    ck_assert_mem_eq(p->value.u.s.ptr, v, strlen(v));
}

/* The documented canonical form of a derived id; pinned so ids stay stable across versions. */
static void expect_derived_id(const ss_alert *a)
{
    char canon[512], id[20];
    snprintf(canon, sizeof canon, "%zu:%s|%.17g|%.17g|%.17g|%zu:%s|%.17g|%.17g|%.17g",
             strlen(a->survey), a->survey, a->ra, a->dec, a->mjd, strlen(a->passband), a->passband,
             a->mag, a->magerr, a->maglim);
    snprintf(id, sizeof id, "h%016" PRIx64, (uint64_t)XXH3_64bits(canon, strlen(canon)));
    ck_assert_str_eq(a->alert_id, id);
}

static const char valid_csv[] =
    "alert_id,object_id,\" RA \", Dec ,MJD,passband,mag,magerr,maglim,Survey,flag,count,score,"
    "note,empty\n"
    "a1,obj1,10.5,-20.25,59000.5,g,18.5,0.05,,ztf,true,42,3.5,hello,\n"
    "a2,obj1,10.5,-20.25,59001.5,r,,,20.5,,FALSE,-7,1e3,nan,x\n"
    "a3,,11,1,59002,i,19,0.1,21,ztf,1.5.2,+5,-0.25,0x10,\"\"\n";

START_TEST(csv_valid_rows_and_typed_properties)
{
    ss_decoder_config cfg = {.default_survey = "mysurvey"};
    run r;
    run_open(&r, "csv", "alerts.csv", valid_csv, &cfg);
    const ss_alert *a = expect_alert(&r, 2);
    ck_assert_str_eq(a->alert_id, "a1");
    ck_assert_str_eq(a->object_id, "obj1");
    ck_assert_str_eq(a->survey, "ztf");
    ck_assert_str_eq(a->passband, "g");
    ck_assert_double_eq(a->ra, 10.5);
    ck_assert_double_eq(a->dec, -20.25);
    ck_assert_double_eq(a->mjd, 59000.5);
    ck_assert_double_eq(a->mag, 18.5);
    ck_assert_double_eq(a->magerr, 0.05);
    ck_assert(isnan(a->maglim));
    ck_assert_int_eq(a->kind, SS_ALERT_DETECTION);
    ck_assert_uint_eq(a->nprops, 5);
    const char *order[] = {"flag", "count", "score", "note", "empty"};
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(a->props[i].name, order[i]);
    prop_bool(a, "flag", 1);
    prop_int(a, "count", 42);
    prop_float(a, "score", 3.5);
    prop_str(a, "note", "hello");
    prop(a, "empty", SS_TYPE_NULL);
    ss_reject rej;
    ck_assert_int_eq(ss_alert_validate(a, 1, &rej), 0);

    a = expect_alert(&r, 3);
    ck_assert_str_eq(a->alert_id, "a2");
    ck_assert_str_eq(a->survey, "mysurvey");
    ck_assert_int_eq(a->kind, SS_ALERT_UPPER_LIMIT);
    ck_assert_double_eq(a->maglim, 20.5);
    ck_assert(isnan(a->mag) && isnan(a->magerr));
    prop_bool(a, "flag", 0);
    prop_int(a, "count", -7);
    prop_float(a, "score", 1000.0);
    prop_str(a, "note", "nan");
    prop_str(a, "empty", "x");
    ck_assert_int_eq(ss_alert_validate(a, 1, &rej), 0);

    a = expect_alert(&r, 4);
    ck_assert_ptr_null(a->object_id);
    ck_assert_int_eq(a->kind, SS_ALERT_DETECTION);
    ck_assert_double_eq(a->mag, 19);
    ck_assert_double_eq(a->maglim, 21);
    prop_str(a, "flag", "1.5.2");
    prop_int(a, "count", 5);
    prop_float(a, "score", -0.25);
    prop_str(a, "note", "0x10");
    prop(a, "empty", SS_TYPE_NULL);
    expect_end(&r);
    run_close(&r);
}
END_TEST

START_TEST(csv_quoted_fields_keep_line_numbers)
{
    run r;
    run_open(&r, "csv", "quoted.csv",
             "ra,dec,mjd,passband,mag,magerr,comment\n"
             "1,2,59000,g,18,0.1,\"hello, world\"\n"
             "3,4,59000,r,18,0.1,\"first line\n"
             "second, line\"\n"
             "5,6,59000,i,18,0.1,\"say \"\"hi\"\"\"\n"
             "\n"
             "7,8,59000,z,18,0.1,\"a\r\n"
             "\n"
             "b\"\r\n"
             "9,10,59000,y,18,0.1,1,2\n"
             "11,12,59000,u,18,0.1,plain",
             NULL);
    const ss_alert *a = expect_alert(&r, 2);
    prop_str(a, "comment", "hello, world");
    a = expect_alert(&r, 3);
    ck_assert_double_eq(a->ra, 3);
    prop_str(a, "comment", "first line\nsecond, line");
    a = expect_alert(&r, 5);
    prop_str(a, "comment", "say \"hi\"");
    a = expect_alert(&r, 7);
    ck_assert_str_eq(a->passband, "z");
    prop_str(a, "comment", "a\n\nb");
    expect_reject(&r, 10, SS_REASON_MALFORMED, "row has 8 fields, header has 7");
    expect_raw(&r, "9,10,59000,y,18,0.1,1,2");
    a = expect_alert(&r, 11);
    prop_str(a, "comment", "plain");
    expect_end(&r);
    run_close(&r);
}
END_TEST

START_TEST(csv_rejects_carry_reason_line_and_raw)
{
    run r;
    run_open(&r, "csv", "bad.csv",
             "ra,dec,mjd,passband,mag,magerr,maglim\n"
             "1,2,59000,g,18,0.1,\n"
             "1,2,59000,g,18\n"
             "1,2,,g,18,0.1,\n"
             "abc,2,59000,g,18,0.1,\n"
             "1,2,59000,g,,,\n"
             "1,2,59000,g,18,,\n"
             "1,2,59000,,18,0.1,\n"
             "1,2,59000,g,18,0.1,xyz\n"
             "1,2,59000,g\"x,18,0.1,\n"
             "nan,2,59000,g,18,0.1,\n"
             "1,2,59000,g,18,0.1,\n"
             "1,2,59000,g,18,0.1,\"never closed\n"
             "3,4,59000,g,18,0.1,\n",
             NULL);
    expect_alert(&r, 2);
    expect_reject(&r, 3, SS_REASON_MALFORMED, "row has 5 fields, header has 7");
    expect_raw(&r, "1,2,59000,g,18");
    expect_reject(&r, 4, SS_REASON_MISSING_FIELD, "mjd is empty");
    expect_reject(&r, 5, SS_REASON_UNPARSABLE_FIELD, "ra: 'abc' is not a number");
    expect_raw(&r, "abc,2,59000,g,18,0.1,");
    expect_reject(&r, 6, SS_REASON_NO_BRIGHTNESS, NULL);
    expect_reject(&r, 7, SS_REASON_MISSING_FIELD, "magerr is empty");
    expect_reject(&r, 8, SS_REASON_MISSING_FIELD, "passband is empty");
    expect_reject(&r, 9, SS_REASON_UNPARSABLE_FIELD, "maglim: 'xyz' is not a number");
    expect_reject(&r, 10, SS_REASON_MALFORMED, NULL);
    expect_raw(&r, "1,2,59000,g\"x,18,0.1,");
    /* nan is a number to the decoder; the validator rejects it. */
    const ss_alert *a = expect_alert(&r, 11);
    ck_assert(isnan(a->ra));
    ss_reject rej;
    ck_assert_int_eq(ss_alert_validate(a, 1, &rej), SS_EREJECT);
    ck_assert_int_eq(rej.reason, SS_REASON_NON_FINITE);
    expect_alert(&r, 12);
    /* The open quote swallows the last line: one malformed row starting at line 13. */
    expect_reject(&r, 13, SS_REASON_MALFORMED, NULL);
    expect_raw(&r, "1,2,59000,g,18,0.1,\"never closed\n3,4,59000,g,18,0.1,");
    expect_end(&r);
    run_close(&r);
}
END_TEST

static int open_fails(const char *fmt, const char *file, const char *text, char **path, ss_err *err)
{
    const ss_decoder_ops *ops = ss_decoder_find(fmt);
    ck_assert_ptr_nonnull(ops);
    *path = tu_write(dir, file, text);
    FILE *fp = fopen(*path, "r");
    ck_assert_ptr_nonnull(fp);
    void *st = (void *)1;
    ss_err_clear(err);
    int rc = ops->open(fp, *path, NULL, NULL, &st, err);
    ck_assert_ptr_null(st);
    fclose(fp);
    return rc;
}

START_TEST(csv_header_errors)
{
    ss_err err;
    char *path, want[1024];
    int rc = open_fails("csv", "h1.csv", "RA,dec,mag,magerr,foo\n1,2,3,4,5\n", &path, &err);
    ck_assert_int_eq(rc, SS_EPARSE);
    snprintf(want, sizeof want, "%s: missing required column(s) mjd, passband", path);
    ck_assert_str_eq(err.msg, want);
    free(path);

    ck_assert_int_eq(open_fails("csv", "h2.csv", "x,y\n", &path, &err), SS_EPARSE);
    snprintf(want, sizeof want,
             "%s: missing required column(s) ra, dec, mjd, passband, mag, magerr", path);
    ck_assert_str_eq(err.msg, want);
    free(path);

    rc = open_fails("csv", "h3.csv", "ra,dec,mjd,passband,mag,magerr,Ra\n", &path, &err);
    ck_assert_int_eq(rc, SS_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.msg, "ra appears twice"));
    free(path);
}
END_TEST

START_TEST(csv_empty_input)
{
    ss_err err;
    char *path, want[1024];
    const char *empties[] = {"", "\n\n  \n", "\xEF\xBB\xBF"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(open_fails("csv", "empty.csv", empties[i], &path, &err), SS_EPARSE);
        snprintf(want, sizeof want, "%s: empty input, no header", path);
        ck_assert_str_eq(err.msg, want);
        free(path);
    }
}
END_TEST

START_TEST(csv_bom_and_tsv)
{
    run r;
    run_open(&r, "csv", "bom.csv",
             "\xEF\xBB\xBFra,dec,mjd,passband,mag,magerr\r\n10,20,59000,g,18,0.1\r\n", NULL);
    const ss_alert *a = expect_alert(&r, 2);
    ck_assert_double_eq(a->ra, 10);
    ck_assert_double_eq(a->magerr, 0.1);
    ck_assert_str_eq(a->survey, "tuple");
    expect_end(&r);
    run_close(&r);

    run_open(&r, "csv", "alerts.tsv",
             "\xEF\xBB\xBFra\tdec\tmjd\tpassband\tmag\tmagerr\tmaglim\tnote\tn\r\n"
             "10\t20\t59000\tg\t18\t0.1\t\thello world, with comma\t \r\n"
             "11\t21\t59001\t r \t\t\t20.5\t\"quoted\ttab\"\t7",
             NULL);
    a = expect_alert(&r, 2);
    ck_assert_double_eq(a->dec, 20);
    ck_assert(isnan(a->maglim));
    prop_str(&r.pkt->alerts[0], "note", "hello world, with comma");
    prop(a, "n", SS_TYPE_NULL);
    a = expect_alert(&r, 3);
    ck_assert_int_eq(a->kind, SS_ALERT_UPPER_LIMIT);
    ck_assert_str_eq(a->passband, "r");
    prop_str(a, "note", "quoted\ttab");
    prop_int(a, "n", 7);
    expect_end(&r);
    run_close(&r);
}
END_TEST

static const char ids_csv[] = "ra,dec,mjd,passband,mag,magerr,alert_id\n"
                              "1.0,2,59000,g,18,0.1,\n"
                              "1,2.0,59000.00,g,18.000,0.10,\n"
                              "1,2,59001,g,18,0.1,\n"
                              "1,2,59000,r,18,0.1,\n"
                              "1,2,59000,g,,,\n"
                              "1,2,59000,g,18,0.1,given\n";

START_TEST(csv_derived_alert_ids)
{
    char ids[2][5][20];
    for (int pass = 0; pass < 2; pass++) {
        run r;
        run_open(&r, "csv", "ids.csv", ids_csv, NULL);
        for (int i = 0; i < 5; i++) {
            if (i == 4) {
                expect_reject(&r, 6, SS_REASON_NO_BRIGHTNESS, NULL);
                strcpy(ids[pass][i], "-");
                continue;
            }
            const ss_alert *a = expect_alert(&r, (uint64_t)i + 2);
            ck_assert_uint_eq(strlen(a->alert_id), 17);
            ck_assert_uint_eq(strspn(a->alert_id + 1, "0123456789abcdef"), 16);
            expect_derived_id(a);
            strcpy(ids[pass][i], a->alert_id);
        }
        ck_assert_str_eq(expect_alert(&r, 7)->alert_id, "given");
        expect_end(&r);
        run_close(&r);
    }
    ck_assert_str_eq(ids[0][0], ids[0][1]); /* same numbers, other spelling */
    ck_assert_str_ne(ids[0][0], ids[0][2]); /* other mjd */
    ck_assert_str_ne(ids[0][0], ids[0][3]); /* other passband */
    ck_assert_str_ne(ids[0][2], ids[0][3]);
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(ids[0][i], ids[1][i]); /* re-reading gives the same ids */
}
END_TEST

static const char equiv_csv[] =
    "ra,dec,mjd,passband,mag,magerr,maglim,object_id,flag,count,score,note\n"
    "10.5,-20.25,59000.5,g,18.5,0.05,,obj1,true,42,3.5,hello\n"
    "10.5,-20.25,59001.5,r,,,20.5,obj1,false,-7,1e3,\n"
    "11,1,59002,i,19,0.1,21,7,,0,2.5,x\n"
    "12,2,59003,g,19,0.1,,,true,1,2.5,\"x,y\"\n";

static const char equiv_jsonl[] =
    "{\"ra\": 10.5, \"dec\": -20.25, \"mjd\": 59000.5, \"passband\": \"g\", \"mag\": 18.5,"
    " \"magerr\": 0.05, \"object_id\": \"obj1\", \"flag\": true, \"count\": 42, \"score\": 3.5,"
    " \"note\": \"hello\"}\n"
    "{\"RA\": \"10.5\", \"dec\": -20.25, \"mjd\": 59001.5, \"passband\": \"r\", \"mag\": null,"
    " \"maglim\": 20.5, \"object_id\": \"obj1\", \"flag\": false, \"count\": -7, \"score\": 1000.0,"
    " \"note\": null}\n"
    "\n"
    "{\"ra\": 11, \"dec\": 1.0, \"mjd\": 59002, \"passband\": \"i\", \"mag\": \" 19 \","
    " \"magerr\": 0.1, \"maglim\": 21, \"object_id\": 7, \"flag\": null, \"count\": 0,"
    " \"score\": 2.5, \"note\": \"x\"}\r\n"
    "{\"ra\": 12, \"dec\": 2, \"mjd\": 59003, \"passband\": \"g\", \"mag\": 19, \"magerr\": 0.1,"
    " \"maglim\": \"\", \"object_id\": null, \"flag\": true, \"count\": 1, \"score\": 2.5,"
    " \"note\": \"x,y\"}";

static void same_double(double x, double y)
{
    ck_assert_msg((isnan(x) && isnan(y)) || x == y, "%.17g != %.17g", x, y);
}

static void same_alert(const ss_alert *x, const ss_alert *y)
{
    ck_assert_str_eq(x->survey, y->survey);
    ck_assert_str_eq(x->alert_id, y->alert_id);
    ck_assert_pstr_eq(x->object_id, y->object_id);
    ck_assert_str_eq(x->passband, y->passband);
    same_double(x->ra, y->ra);
    same_double(x->dec, y->dec);
    same_double(x->mjd, y->mjd);
    same_double(x->mag, y->mag);
    same_double(x->magerr, y->magerr);
    same_double(x->maglim, y->maglim);
    ck_assert_int_eq(x->kind, y->kind);
    ck_assert_uint_eq(x->nprops, y->nprops);
    for (uint32_t i = 0; i < x->nprops; i++) {
        const ss_value *u = &x->props[i].value, *v = &y->props[i].value;
        ck_assert_str_eq(x->props[i].name, y->props[i].name);
        ck_assert_msg(u->type == v->type, "%s: %s vs %s", x->props[i].name, ss_type_name(u->type),
                      ss_type_name(v->type));
        if (u->type == SS_TYPE_STRING) {
            ck_assert_uint_eq(u->u.s.len, v->u.s.len);
            ck_assert_mem_eq(u->u.s.ptr, v->u.s.ptr, u->u.s.len);
        } else if (u->type == SS_TYPE_FLOAT) {
            ck_assert_double_eq(u->u.f, v->u.f);
        } else if (u->type == SS_TYPE_INT) {
            ck_assert_int_eq(u->u.i, v->u.i);
        } else if (u->type == SS_TYPE_BOOL) {
            ck_assert_int_eq(u->u.b, v->u.b);
        }
    }
}

START_TEST(jsonl_matches_csv)
{
    run c, j;
    run_open(&c, "csv", "eq.csv", equiv_csv, NULL);
    run_open(&j, "jsonl", "eq.jsonl", equiv_jsonl, NULL);
    const uint64_t csv_lines[] = {2, 3, 4, 5}, json_lines[] = {1, 2, 4, 5};
    for (int i = 0; i < 4; i++) {
        const ss_alert *x = expect_alert(&c, csv_lines[i]);
        const ss_alert *y = expect_alert(&j, json_lines[i]);
        same_alert(x, y);
        ck_assert_str_eq(y->survey, "tuple");
        expect_derived_id(y);
        if (i == 2)
            ck_assert_str_eq(y->object_id, "7");
        if (i == 3)
            ck_assert_ptr_null(y->object_id);
    }
    expect_end(&c);
    expect_end(&j);
    run_close(&c);
    run_close(&j);
}
END_TEST

START_TEST(jsonl_rejects)
{
    run r;
    run_open(&r, "jsonl", "bad.ndjson",
             "{\"ra\":1,\"dec\":2,\"mjd\":59000,\"passband\":\"g\",\"mag\":18,\"magerr\":0.1}\n"
             "{\"ra\": 1, \"dec\": \n"
             "[1, 2]\n"
             "   \n"
             "{\"ra\":true,\"dec\":2,\"mjd\":59000,\"passband\":\"g\",\"mag\":18,\"magerr\":0.1}\n"
             "{\"dec\":2,\"mjd\":59000,\"passband\":\"g\",\"mag\":18,\"magerr\":0.1}\n"
             "{\"ra\":1,\"dec\":2,\"mjd\":59000,\"passband\":\"g\",\"maglim\":null}\n"
             "{\"ra\":1,\"dec\":\"2x\",\"mjd\":59000,\"passband\":\"g\",\"mag\":18,\"magerr\":1}\n"
             "{\"ra\":1,\"dec\":2,\"mjd\":59000,\"passband\":5,\"mag\":18,\"magerr\":1}\n"
             "{\"ra\":1,\"dec\":2,\"mjd\":59000,\"passband\":\"g\",\"mag\":18,\"magerr\":\"\"}\n"
             "\"just a string\"\n"
             "{\"ra\":1,\"dec\":2,\"mjd\":59000,\"passband\":\"g\",\"mag\":18,\"magerr\":0.1} x\n"
             "{\"ra\":3,\"dec\":4,\"mjd\":59000,\"passband\":\"r\",\"maglim\":\"20\"}\n",
             NULL);
    expect_alert(&r, 1);
    expect_reject(&r, 2, SS_REASON_MALFORMED, NULL);
    ck_assert_ptr_nonnull(strstr(r.rej.detail, "column"));
    expect_raw(&r, "{\"ra\": 1, \"dec\": ");
    expect_reject(&r, 3, SS_REASON_MALFORMED, "line is an array, not a JSON object");
    expect_raw(&r, "[1, 2]");
    expect_reject(&r, 5, SS_REASON_UNPARSABLE_FIELD, "ra: true is not a number");
    expect_reject(&r, 6, SS_REASON_MISSING_FIELD, "ra is missing");
    expect_reject(&r, 7, SS_REASON_NO_BRIGHTNESS, NULL);
    expect_reject(&r, 8, SS_REASON_UNPARSABLE_FIELD, "dec: '2x' is not a number");
    expect_reject(&r, 9, SS_REASON_UNPARSABLE_FIELD, NULL);
    expect_reject(&r, 10, SS_REASON_MISSING_FIELD, "magerr is empty");
    expect_reject(&r, 11, SS_REASON_MALFORMED, NULL);
    expect_reject(&r, 12, SS_REASON_MALFORMED, NULL);
    const ss_alert *a = expect_alert(&r, 13);
    ck_assert_int_eq(a->kind, SS_ALERT_UPPER_LIMIT);
    ck_assert_double_eq(a->maglim, 20);
    expect_end(&r);
    run_close(&r);
}
END_TEST

START_TEST(jsonl_nested_and_typed_properties)
{
    ss_decoder_config cfg = {.default_survey = "unused"};
    run r;
    run_open(&r, "jsonl", "nested.json",
             "{\"alert_id\": 123, \"object_id\": \"ZTF1\", \"survey\": \"ztf\", \"ra\": 1,"
             " \"dec\": 2, \"mjd\": 59000, \"passband\": \"g\", \"mag\": 18, \"magerr\": 0.1,"
             " \"extra\": {\"b\": [1, 2], \"a\": \"x\"}, \"list\": [3, {\"z\": null}],"
             " \"n\": null, \"big\": 12345678901234, \"r\": 0.25, \"s\": \"str\", \"t\": true,"
             " \"numstr\": \"42\"}\n",
             &cfg);
    const ss_alert *a = expect_alert(&r, 1);
    ck_assert_str_eq(a->alert_id, "123");
    ck_assert_str_eq(a->object_id, "ZTF1");
    ck_assert_str_eq(a->survey, "ztf");
    ck_assert_uint_eq(a->nprops, 8);
    ck_assert_str_eq(a->props[0].name, "extra");
    prop_str(a, "extra", "{\"a\":\"x\",\"b\":[1,2]}");
    prop_str(a, "list", "[3,{\"z\":null}]");
    prop(a, "n", SS_TYPE_NULL);
    prop_int(a, "big", 12345678901234LL);
    prop_float(a, "r", 0.25);
    prop_str(a, "s", "str");
    prop_bool(a, "t", 1);
    prop_str(a, "numstr", "42");
    expect_end(&r);
    run_close(&r);
}
END_TEST

START_TEST(detect_by_content)
{
    static const char csv_head[] = "ra,dec,mjd,passband,mag,magerr\n1,2,3,g,4,5\n";
    static const char json_head[] = "  {\"ra\": 1}\n";
    const unsigned char *ch = (const unsigned char *)csv_head;
    const unsigned char *jh = (const unsigned char *)json_head;
    const ss_decoder_ops *csv = ss_decoder_find("csv"), *jsonl = ss_decoder_find("jsonl");
    ck_assert_ptr_nonnull(csv);
    ck_assert_ptr_nonnull(jsonl);
    ck_assert_uint_eq(csv->abi, SS_DECODER_ABI);
    ck_assert_uint_eq(jsonl->abi, SS_DECODER_ABI);
    ck_assert_ptr_eq(ss_decoder_detect("alerts.txt", ch, strlen(csv_head)), csv);
    ck_assert_ptr_eq(ss_decoder_detect("alerts.txt", jh, strlen(json_head)), jsonl);
    ck_assert_ptr_eq(ss_decoder_detect("alerts.csv", jh, strlen(json_head)), jsonl);
    ck_assert_ptr_eq(ss_decoder_detect("alerts.json", ch, strlen(csv_head)), csv);
    ck_assert_ptr_eq(ss_decoder_detect(NULL, ch, strlen(csv_head)), csv);
    const unsigned char quoted[] = "\xEF\xBB\xBF\"id\",\"Dec\" , \"RA\"\n";
    ck_assert_ptr_eq(ss_decoder_detect("x", quoted, sizeof quoted - 1), csv);
    const unsigned char other[] = "hello, world\n";
    ck_assert_ptr_null(ss_decoder_detect("alerts.txt", other, sizeof other - 1));
    ck_assert_ptr_eq(ss_decoder_detect("ALERTS.TSV", other, sizeof other - 1), csv);
    ck_assert_ptr_eq(ss_decoder_detect("a.ndjson", other, sizeof other - 1), jsonl);
    ck_assert_int_eq(csv->probe("a.csv", other, sizeof other - 1), 50);
    ck_assert_int_eq(csv->probe("a.csv", ch, strlen(csv_head)), 80);
    ck_assert_int_eq(csv->probe("a.csv", jh, strlen(json_head)), 0);
    ck_assert_int_eq(jsonl->probe("a.jsonl", jh, strlen(json_head)), 80);
    ck_assert_int_eq(jsonl->probe("a.txt", ch, strlen(csv_head)), 0);
    ck_assert_int_eq(csv->probe("a.txt", NULL, 0), 0);
}
END_TEST

/* ---- ids: whole up to SS_ID_MAX, else refused by name; the same for every decoder ---- */

/* The next record, decoded and then validated as ingest does. @return 1 for a valid alert, or
 * SS_EREJECT with r->rej saying why (from the decoder or the validator). */
static int next_validated(run *r)
{
    int rc = run_next(r);
    if (rc == 1 && ss_alert_validate(&r->pkt->alerts[0], 1, &r->rej))
        return SS_EREJECT;
    return rc;
}

static void expect_refused(run *r, ss_reason reason, const char *detail)
{
    int rc = next_validated(r);
    ck_assert_msg(rc == SS_EREJECT, "rc %d, expected a rejection (%s)", rc, detail);
    ck_assert_str_eq(ss_reason_name(r->rej.reason), ss_reason_name(reason));
    ck_assert_msg(strstr(r->rej.detail, detail), "%s", r->rej.detail);
}

/* Rows (CSV) or lines (JSON lines) with these ids, in this order. */
#define ID63 "ZTF-an-id-sharing-its-first-sixty-three-characters-with-another-"

static char *long_id(char last, size_t len)
{
    char *id = malloc(len + 1);
    memset(id, 'x', len);
    memcpy(id, ID63, strlen(ID63) < len ? strlen(ID63) : len);
    id[len - 1] = last;
    id[len] = '\0';
    return id;
}

static void expect_whole_and_refused_ids(run *r)
{
    char *a71 = long_id('A', 71), *b71 = long_id('B', 71);
    ck_assert_int_eq(next_validated(r), 1); /* two 71-byte ids, whole and apart */
    ck_assert_str_eq(r->pkt->alerts[0].alert_id, a71);
    ck_assert_int_eq(next_validated(r), 1);
    ck_assert_str_eq(r->pkt->alerts[0].alert_id, b71);
    ck_assert_int_eq(next_validated(r), 1); /* exactly SS_ID_MAX bytes */
    ck_assert_uint_eq(strlen(r->pkt->alerts[0].alert_id), SS_ID_MAX);
    expect_refused(r, SS_REASON_TOO_LONG, "alert_id is longer than 128 bytes");
    expect_refused(r, SS_REASON_TOO_LONG, "object_id is longer than 128 bytes");
    expect_refused(r, SS_REASON_ID_INVALID, "alert_id holds a control character");
    expect_refused(r, SS_REASON_ID_INVALID, "object_id holds a control character");
    free(a71), free(b71);
}

/* A file of @p len bytes that may hold NUL bytes (run_open() writes C strings). */
static void run_open_bytes(run *r, const char *fmt, const char *file, const char *bytes, size_t len)
{
    char *path = tu_path(dir, file);
    FILE *f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    fclose(f);
    memset(r, 0, sizeof *r);
    r->ops = ss_decoder_find(fmt);
    r->path = path;
    r->fp = fopen(path, "r");
    r->pkt = ss_packet_new();
    ck_assert_int_eq(r->ops->open(r->fp, r->path, NULL, NULL, &r->st, &r->err), 0);
}

START_TEST(csv_ids_whole_or_refused)
{
    char *a71 = long_id('A', 71), *b71 = long_id('B', 71), *max = long_id('M', SS_ID_MAX),
         *over = long_id('O', SS_ID_MAX + 1), *text = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "ra,dec,mjd,passband,mag,magerr,alert_id,object_id\n"
                              "1,2,59000,g,18,0.1,%s,o\n1,2,59000,g,18,0.1,%s,o\n"
                              "1,2,59000,g,18,0.1,%s,o\n1,2,59000,g,18,0.1,%s,o\n"
                              "1,2,59000,g,18,0.1,a5,%s\n1,2,59000,g,18,0.1,ZTF\001x,o\n"
                              "1,2,59000,g,18,0.1,a7,ZTF\tx\n",
                              a71, b71, max, over, over),
                     0);
    run r;
    run_open(&r, "csv", "ids.csv", text, NULL);
    expect_whole_and_refused_ids(&r);
    expect_end(&r);
    run_close(&r);
    /* a NUL inside an id: refused, never cut to "ZTF" */
    static const char nul[] =
        "ra,dec,mjd,passband,mag,magerr,alert_id\n1,2,59000,g,18,0.1,ZTF\0x\n";
    run_open_bytes(&r, "csv", "nul.csv", nul, sizeof nul - 1);
    ck_assert_int_eq(next_validated(&r), SS_EREJECT);
    ck_assert_msg(strstr(r.rej.detail, "alert_id") && strstr(r.rej.detail, "NUL"), "%s",
                  r.rej.detail);
    expect_end(&r);
    run_close(&r);
    free(a71), free(b71), free(max), free(over), free(text);
}
END_TEST

START_TEST(jsonl_ids_whole_or_refused)
{
    char *a71 = long_id('A', 71), *b71 = long_id('B', 71), *max = long_id('M', SS_ID_MAX),
         *over = long_id('O', SS_ID_MAX + 1), *text = NULL;
#define ROW "{\"ra\":1,\"dec\":2,\"mjd\":59000,\"passband\":\"g\",\"mag\":18,\"magerr\":0.1,"
    ck_assert_int_ge(asprintf(&text,
                              ROW "\"alert_id\":\"%s\"}\n" ROW "\"alert_id\":\"%s\"}\n" ROW
                                  "\"alert_id\":\"%s\"}\n" ROW "\"alert_id\":\"%s\"}\n" ROW
                                  "\"alert_id\":\"a5\",\"object_id\":\"%s\"}\n" ROW
                                  "\"alert_id\":\"ZTF\\u0001x\"}\n" ROW
                                  "\"alert_id\":\"a7\",\"object_id\":\"ZTF\\u007fx\"}\n" ROW
                                  "\"alert_id\":\"ZTF\\u0000x\"}\n",
                              a71, b71, max, over, over),
                     0);
#undef ROW
    run r;
    run_open(&r, "jsonl", "ids.jsonl", text, NULL);
    expect_whole_and_refused_ids(&r);
    /* "\u0000": refused (jansson will not read it into a C string), never cut to "ZTF" */
    ck_assert_int_eq(next_validated(&r), SS_EREJECT);
    expect_end(&r);
    run_close(&r);
    free(a71), free(b71), free(max), free(over), free(text);
}
END_TEST

/* The host's copy of an id keeps a NUL visible to the validator (as SUB): no cut, no merge. */
START_TEST(id_copy_keeps_nul_for_the_validator)
{
    ss_packet *p = ss_packet_new();
    ss_alert *a = ss_packet_add(p);
    a->survey = "s", a->passband = "g", a->ra = 1, a->dec = 2, a->mjd = 59000;
    a->mag = 18, a->magerr = 0.1;
    a->alert_id = ss_packet_id_dup(p, "ZTF\0x", 5);
    ck_assert_uint_eq(strlen(a->alert_id), 5);
    ck_assert_str_ne(a->alert_id, "ZTF");
    ss_reject rej = {0};
    ck_assert_int_eq(ss_alert_validate(a, 1, &rej), SS_EREJECT);
    ck_assert_str_eq(ss_reason_name(rej.reason), "id_invalid");
    ck_assert_ptr_nonnull(strstr(rej.detail, "alert_id holds a NUL"));
    a->alert_id = ss_packet_id_dup(p, "ZTF-fine", 8);
    ck_assert_int_eq(ss_alert_validate(a, 1, &rej), 0);
    ck_assert_int_eq(ss_reason_from_name("id_invalid"), SS_REASON_ID_INVALID);
    ss_packet_free(p);
}
END_TEST

static Suite *decoders_suite(void)
{
    Suite *s = suite_create("decoders");
    TCase *csv = tcase_create("csv");
    tcase_add_checked_fixture(csv, setup, teardown);
    tcase_add_test(csv, csv_valid_rows_and_typed_properties);
    tcase_add_test(csv, csv_quoted_fields_keep_line_numbers);
    tcase_add_test(csv, csv_rejects_carry_reason_line_and_raw);
    tcase_add_test(csv, csv_header_errors);
    tcase_add_test(csv, csv_empty_input);
    tcase_add_test(csv, csv_bom_and_tsv);
    tcase_add_test(csv, csv_derived_alert_ids);
    tcase_add_test(csv, csv_ids_whole_or_refused);
    tcase_add_test(csv, id_copy_keeps_nul_for_the_validator);
    suite_add_tcase(s, csv);
    TCase *json = tcase_create("jsonl");
    tcase_add_checked_fixture(json, setup, teardown);
    tcase_add_test(json, jsonl_matches_csv);
    tcase_add_test(json, jsonl_rejects);
    tcase_add_test(json, jsonl_nested_and_typed_properties);
    tcase_add_test(json, jsonl_ids_whole_or_refused);
    suite_add_tcase(s, json);
    TCase *detect = tcase_create("detect");
    tcase_add_test(detect, detect_by_content);
    suite_add_tcase(s, detect);
    return s;
}

int main(void)
{
    return tu_run_suite(decoders_suite());
}
