/* Catalogs and watch lists: loading (CSV, FITS), matching loci at ingest, what filters and
 * `skysieve locus` see, the watch outbox. */
#include "testutil.h"

#include "catalog_impl.h"
#include "filters.h"
#include "ingest.h"
#include "query.h"
#include "watch.h"

#include <errno.h>
#include <fitsio.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ss_store *open_store(const char *name)
{
    char *dir = tu_path(tu_tmp, name);
    ss_store_options o = {.create = 1};
    ss_store *s = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &o, &s, &err) == 0, "%s", err.msg);
    free(dir);
    return s;
}

typedef struct notes {
    char text[8192];
    int n;
} notes;

static void take_note(void *ctx, const char *text)
{
    notes *n = ctx;
    size_t used = strlen(n->text);
    snprintf(n->text + used, sizeof n->text - used, "%s\n", text);
    n->n++;
}

/* Load @p csv text as catalog @p name. @return the load's code; *res filled. */
static int load_text(ss_store *s, const char *name, const char *csv, ss_assoc_catalog_options o,
                     ss_assoc_catalog_result *res, notes *nt, ss_err *err)
{
    char file[96];
    snprintf(file, sizeof file, "%s.csv", name);
    char *path = tu_write(tu_tmp, file, csv);
    o.name = name;
    o.path = path;
    if (nt) {
        o.note = take_note;
        o.ctx = nt;
    }
    int rc = ss_assoc_catalog_load(s, &o, res, err);
    free(path);
    return rc;
}

static json_t *list(ss_store *s, ss_catalog_kind kind)
{
    json_t *arr = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_assoc_catalog_list(s, kind, &arr, &err) == 0, "%s", err.msg);
    return arr;
}

static json_t *find_catalog(json_t *arr, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(
        arr, i, o) if (!strcmp(json_string_value(json_object_get(o, "name")), name)) return o;
    return NULL;
}

/* Rows stored under a catalog id in a table. */
static size_t count_prefix(ss_store *s, ss_store_table tb, size_t at, uint64_t id)
{
    ss_store_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &txn), 0);
    ck_assert_int_eq(ss_store_cursor_open(txn, tb, &cur), 0);
    for (int rc = ss_store_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = ss_store_cursor_get(cur, &k, &v, MDB_NEXT))
        n += k.mv_size >= at + 8 && ss_be64_get((unsigned char *)k.mv_data + at) == id;
    ss_store_cursor_close(cur);
    ss_store_txn_abort(txn);
    return n;
}

/* The catalogs a batch would match against now. */
static size_t ready_catalogs(ss_store *s)
{
    ss_store_txn *txn;
    ssi_catalogs cats = {0};
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &txn), 0);
    ck_assert_int_eq(ssi_catalogs_load(txn, &cats), 0);
    size_t n = cats.n;
    ss_store_txn_abort(txn);
    ssi_catalogs_free(&cats);
    return n;
}

START_TEST(angles_parse_decimal_and_sexagesimal)
{
    double d;
    const char *why;
    ck_assert_int_eq(ss_sky_parse_angle("00 01 16.37", 1, &d, &why), 0);
    ck_assert_double_eq_tol(d, (1 * 60 + 16.37) / 3600.0 * 15, 1e-9);
    ck_assert_int_eq(ss_sky_parse_angle("00:01:16.37", 1, &d, &why), 0);
    ck_assert_double_eq_tol(d, (1 * 60 + 16.37) / 3600.0 * 15, 1e-9);
    ck_assert_int_eq(ss_sky_parse_angle("12h34m56.7s", 1, &d, &why), 0);
    ck_assert_double_eq_tol(d, (12 + 34 / 60.0 + 56.7 / 3600) * 15, 1e-9);
    ck_assert_int_eq(ss_sky_parse_angle("+29 35 34.0", 0, &d, &why), 0);
    ck_assert_double_eq_tol(d, 29 + 35 / 60.0 + 34 / 3600.0, 1e-9);
    ck_assert_int_eq(ss_sky_parse_angle("-12d34m56s", 0, &d, &why), 0);
    ck_assert_double_eq_tol(d, -(12 + 34 / 60.0 + 56 / 3600.0), 1e-9);
    ck_assert_int_eq(ss_sky_parse_angle("-00 30 00", 0, &d, &why), 0); /* the sign of -00 kept */
    ck_assert_double_eq_tol(d, -0.5, 1e-12);
    ck_assert_int_eq(ss_sky_parse_angle("123.25", 1, &d, &why), 0);
    ck_assert_double_eq(d, 123.25);
    ck_assert_int_eq(ss_sky_parse_angle("95", 0, &d, &why), -1);
    ck_assert_str_eq(why, "Dec out of [-90, 90] degrees");
    ck_assert_int_eq(ss_sky_parse_angle("12 61 00", 1, &d, &why), -1);
    ck_assert_int_eq(ss_sky_parse_angle("abc", 1, &d, &why), -1);
    ck_assert_int_eq(ss_sky_parse_angle("", 0, &d, &why), -1);
}
END_TEST

START_TEST(csv_loads_with_detected_columns_and_bad_rows)
{
    ss_store *s = open_store("st");
    const char *csv = " Source_Name , R.A. , Dec , mag , flag\n"
                      "a , \"00 01 16.37\" , \"+29 35 34.0\" , 12.5 , x\n"
                      "b , 10.5 , -5.25 , 13 , \n"
                      "c , 400 , 0 , 1 , y\n" /* RA out of range */
                      "d , 10 , 91 , 1 , y\n" /* Dec out of range */
                      "e , , 1 , 1 , y\n"     /* missing RA */
                      "f , 12h00m00s , -12d30m00s , 2 , z\n";
    ss_assoc_catalog_result r;
    notes nt = {0};
    ss_err err = {0};
    ck_assert_msg(load_text(s, "cat1", csv, (ss_assoc_catalog_options){0}, &r, &nt, &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(r.rows, 3);
    ck_assert_uint_eq(r.bad, 3);
    ck_assert_msg(strstr(nt.text, "ra=\"R.A.\" dec=\"Dec\" id=\"Source_Name\""), "%s", nt.text);
    ck_assert_msg(strstr(nt.text, "row 3: RA: RA out of [0, 360]"), "%s", nt.text);
    ck_assert_msg(strstr(nt.text, "row 4: Dec: Dec out of"), "%s", nt.text);
    ck_assert_msg(strstr(nt.text, "row 5: RA: empty"), "%s", nt.text);
    json_t *arr = list(s, SS_CATALOG_KIND_CATALOG), *c = find_catalog(arr, "cat1");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(json_string_value(json_object_get(c, "state")), "ready");
    ck_assert_int_eq(json_integer_value(json_object_get(c, "rows")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "bad_rows")), 3);
    ck_assert_double_eq(json_real_value(json_object_get(c, "radius_arcsec")), 1.0);
    ck_assert_int_eq(json_array_size(json_object_get(c, "columns")), 5);
    json_decref(arr);
    ss_store_close(s);
}
END_TEST

START_TEST(explicit_columns_radius_column_and_kept_columns)
{
    ss_store *s = open_store("st");
    const char *csv = "objid,alpha_x,delta_x,err_deg,notes\n"
                      "1,10.0,20.0,0.001,first\n"
                      "2,11.0,21.0,,second\n" /* missing radius: bad */
                      "3,12.0,22.0,abc,third\n";
    ss_assoc_catalog_options o = {.ra_column = "alpha_x",
                                  .dec_column = "delta_x",
                                  .id_column = "objid",
                                  .radius_column = "err_deg",
                                  .radius_unit_arcsec = 3600,
                                  .columns = "objid,notes"};
    ss_assoc_catalog_result r;
    ss_err err = {0};
    ck_assert_msg(load_text(s, "cat2", csv, o, &r, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.rows, 1);
    ck_assert_uint_eq(r.bad, 2);
    json_t *arr = list(s, SS_CATALOG_KIND_CATALOG), *c = find_catalog(arr, "cat2");
    ck_assert_str_eq(json_string_value(json_object_get(c, "radius_column")), "err_deg");
    ck_assert_double_eq_tol(json_real_value(json_object_get(c, "max_radius_arcsec")), 3.6, 1e-9);
    ck_assert_int_eq(json_array_size(json_object_get(c, "columns")), 2);
    json_decref(arr);
    /* errors: a column that does not exist, no RA column, every row bad, not a catalog */
    o.ra_column = "nope";
    ck_assert_int_eq(load_text(s, "cat3", csv, o, &r, NULL, &err), SS_EINVAL);
    ck_assert_msg(strstr(err.msg, "no column \"nope\""), "%s", err.msg);
    ck_assert_int_eq(
        load_text(s, "cat4", "x,y\n1,2\n", (ss_assoc_catalog_options){0}, &r, NULL, &err),
        SS_EFORMAT);
    ck_assert_msg(strstr(err.msg, "no ra column found"), "%s", err.msg);
    ck_assert_int_eq(
        load_text(s, "cat5", "ra,dec\n500,1\nx,2\n", (ss_assoc_catalog_options){0}, &r, NULL, &err),
        SS_EFORMAT);
    ck_assert_msg(strstr(err.msg, "every row is bad"), "%s", err.msg);
    char bin[64] = "ra,dec\n\0\0\0\x01\x02";
    char *path = tu_path(tu_tmp, "bin.dat");
    FILE *f = fopen(path, "wb");
    fwrite(bin, 1, 14, f);
    fclose(f);
    ck_assert_int_eq(ss_assoc_catalog_load(
                         s, &(ss_assoc_catalog_options){.name = "cat6", .path = path}, &r, &err),
                     SS_EFORMAT);
    free(path);
    arr = list(s, SS_CATALOG_KIND_CATALOG);
    ck_assert_int_eq(json_array_size(arr), 1); /* nothing of the failed loads stays */
    json_decref(arr);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_ROWS, 0, 2), 0);
    ss_store_close(s);
}
END_TEST

START_TEST(duplicate_names_replace_and_drop)
{
    ss_store *s = open_store("st");
    ss_assoc_catalog_result r;
    ss_err err = {0};
    const char *csv = "name,ra,dec\nx,1,1\ny,2,2\n";
    ck_assert_int_eq(load_text(s, "dup", csv, (ss_assoc_catalog_options){0}, &r, NULL, &err), 0);
    ck_assert_int_eq(load_text(s, "dup", csv, (ss_assoc_catalog_options){0}, &r, NULL, &err),
                     EEXIST);
    ck_assert_msg(strstr(err.msg, "--replace"), "%s", err.msg);
    const char *csv2 = "name,ra,dec\nx,1,1\ny,2,2\nz,3,3\n";
    ck_assert_int_eq(
        load_text(s, "dup", csv2, (ss_assoc_catalog_options){.replace = 1}, &r, NULL, &err), 0);
    json_t *arr = list(s, SS_CATALOG_KIND_CATALOG);
    ck_assert_int_eq(json_array_size(arr), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(arr, 0), "rows")), 3);
    json_decref(arr);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_ROWS, 0, 1), 0); /* the old rows are gone */
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_ROWS, 0, 2), 3);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_SKY, 0, 2), 3);
    ck_assert_int_eq(ss_assoc_catalog_drop(s, "dup", SS_CATALOG_KIND_WATCH, &err), SS_ENOTFOUND);
    ck_assert_int_eq(ss_assoc_catalog_drop(s, "dup", SS_CATALOG_KIND_CATALOG, &err), 0);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_ROWS, 0, 2), 0);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_SKY, 0, 2), 0);
    arr = list(s, SS_CATALOG_KIND_CATALOG);
    ck_assert_int_eq(json_array_size(arr), 0);
    json_decref(arr);
    ck_assert_int_eq(ss_assoc_catalog_drop(s, "dup", SS_CATALOG_KIND_CATALOG, &err), SS_ENOTFOUND);
    ss_store_close(s);
}
END_TEST

/* Stop a load after its second chunk, as a kill would. */
static int stop_after_two(void *ctx, uint64_t rows)
{
    int *calls = ctx;
    (void)rows;
    return ++*calls == 2;
}

START_TEST(chunked_load_invisible_until_ready_and_cleaned_up)
{
    ss_store *s = open_store("st");
    char *csv = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&csv, &len);
    fprintf(f, "name,ra,dec\n");
    for (int i = 0; i < 1000; i++)
        fprintf(f, "o%d,%.6f,%.6f\n", i, i * 0.3, -40 + i * 0.05);
    fclose(f);
    int calls = 0;
    ss_assoc_catalog_options o = {.chunk_rows = 300, .on_chunk = stop_after_two, .ctx = &calls};
    ss_assoc_catalog_result r;
    ss_err err = {0};
    ck_assert_int_eq(load_text(s, "big", csv, o, &r, NULL, &err), EINTR);
    ck_assert_int_eq(calls, 2);
    ck_assert_uint_eq(r.commits, 2); /* chunks of 300 rows: several transactions */
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_ROWS, 0, 1), 600);
    /* a half catalog: listed as loading, never among the ready ones matched */
    json_t *arr = list(s, SS_CATALOG_KIND_CATALOG);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "state")),
                     "loading");
    json_decref(arr);
    ck_assert_uint_eq(ready_catalogs(s), 0);
    /* the next load of that name removes the leftover */
    o.on_chunk = NULL;
    ck_assert_msg(load_text(s, "big", csv, o, &r, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.rows, 1000);
    ck_assert_uint_ge(r.commits, 8);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_ROWS, 0, 1), 0);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_ROWS, 0, 2), 1000);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_SKY, 0, 2), 1000);
    ck_assert_uint_eq(ready_catalogs(s), 1);
    free(csv);
    ss_store_close(s);
}
END_TEST

/* A FITS binary table written here with cfitsio: numbers, strings, logicals, a vector column. */
static char *write_fits(const char *name)
{
    char *path = tu_path(tu_tmp, name);
    fitsfile *f;
    int status = 0;
    char *ttype[] = {"NAME", "RAJ2000", "DEJ2000", "FLUX", "COUNT", "GOOD", "VEC"};
    char *tform[] = {"8A", "D", "E", "D", "J", "L", "3E"};
    char *tunit[] = {"", "deg", "deg", "", "", "", ""};
    fits_create_file(&f, path, &status);
    fits_create_tbl(f, BINARY_TBL, 0, 7, ttype, tform, tunit, "CAT", &status);
    char *names[] = {"src1", "src2", "src3"};
    double ra[] = {150.0, 150.001, 10.0}, flux[] = {1.5, NAN, 3.0};
    float dec[] = {2.0f, 2.0f, 95.0f}, vec[9] = {0};
    int count[] = {7, 8, 9};
    char good[] = {1, 0, 1};
    fits_write_col(f, TSTRING, 1, 1, 1, 3, names, &status);
    fits_write_col(f, TDOUBLE, 2, 1, 1, 3, ra, &status);
    fits_write_col(f, TFLOAT, 3, 1, 1, 3, dec, &status);
    fits_write_col(f, TDOUBLE, 4, 1, 1, 3, flux, &status);
    fits_write_col(f, TINT, 5, 1, 1, 3, count, &status);
    fits_write_col(f, TLOGICAL, 6, 1, 1, 3, good, &status);
    fits_write_col(f, TFLOAT, 7, 1, 1, 9, vec, &status);
    fits_close_file(f, &status);
    ck_assert_int_eq(status, 0);
    return path;
}

START_TEST(fits_table_loads_typed_columns)
{
    ss_store *s = open_store("st");
    char *path = write_fits("t.fits");
    notes nt = {0};
    ss_assoc_catalog_options o = {.name = "ft", .path = path, .note = take_note, .ctx = &nt};
    ss_assoc_catalog_result r;
    ss_err err = {0};
    ck_assert_msg(ss_assoc_catalog_load(s, &o, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.rows, 2);
    ck_assert_uint_eq(r.bad, 1);
    ck_assert_msg(strstr(nt.text, "ra=\"RAJ2000\" dec=\"DEJ2000\" id=\"NAME\""), "%s", nt.text);
    ck_assert_msg(strstr(nt.text, "VEC (vector column)"), "%s", nt.text);
    /* the stored row keeps the types */
    ss_store_txn *txn;
    unsigned char kb[16];
    ssi_key_catalog_row(kb, 1, 2);
    MDB_val k = {16, kb}, v;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &txn), 0);
    ck_assert_int_eq(ss_store_get(txn, SS_STORE_CATALOG_ROWS, &k, &v), 0);
    ss_arena *a = ss_arena_new();
    ss_value *vals;
    uint32_t n;
    ck_assert_int_eq(ssi_row_decode(v.mv_data, v.mv_size, a, &vals, &n), 0);
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(vals[0].type, SS_TYPE_STRING);
    ck_assert_str_eq(vals[0].u.s.ptr, "src2");
    ck_assert_int_eq(vals[3].type, SS_TYPE_NULL); /* NaN flux */
    ck_assert_int_eq(vals[4].type, SS_TYPE_INT);
    ck_assert_int_eq(vals[4].u.i, 8);
    ck_assert_int_eq(vals[5].type, SS_TYPE_BOOL);
    ck_assert_int_eq(vals[5].u.b, 0);
    ss_store_txn_abort(txn);
    ss_arena_free(a);
    free(path);
    ss_store_close(s);
}
END_TEST

START_TEST(shared_catalogs_load)
{
    const char *data = tu_shared_data("catalogs (3hsp.csv, 4LAC, igaps)");
    if (!data)
        return;
    ss_store *s = open_store("st");
    struct {
        const char *file, *name, *rcol;
        double unit;
        uint64_t rows;
    } cases[] = {
        {"catalogs/3hsp.csv", "3hsp", NULL, 0, 2013},
        {"catalogs/table-4LAC-DR3-h.fits", "4lac", "Unc_Counterpart", 3600, 3407},
        {"catalogs/igaps-dr1-215a-small.fits.gz", "igaps", NULL, 0, 100},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *path = tu_path(data, cases[i].file);
        ss_assoc_catalog_options o = {.name = cases[i].name,
                                      .path = path,
                                      .radius_column = cases[i].rcol,
                                      .radius_unit_arcsec = cases[i].unit};
        ss_assoc_catalog_result r;
        ss_err err = {0};
        ck_assert_msg(ss_assoc_catalog_load(s, &o, &r, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(r.rows + r.bad, cases[i].rows);
        ck_assert_uint_eq(r.bad, 0);
        free(path);
    }
    json_t *arr = list(s, SS_CATALOG_KIND_CATALOG);
    json_t *c = find_catalog(arr, "3hsp");
    ck_assert_str_eq(json_string_value(json_object_get(c, "ra_column")), "R.A.");
    ck_assert_str_eq(json_string_value(json_object_get(c, "id_column")), "3HSP Source name");
    ck_assert_str_eq(json_string_value(json_object_get(find_catalog(arr, "4lac"), "dec_column")),
                     "DEJ2000");
    json_decref(arr);
    ss_store_close(s);
}
END_TEST

START_TEST(cli_catalog_commands_and_errors)
{
    char *out, *err;
    char *csv = tu_write(tu_tmp, "c.csv", "name,ra,dec\na,1,2\nb,3,4\n");
    ck_assert_int_eq(tu_sks(&out, &err, "catalog load --store %s/st --name c %s", tu_tmp, csv), 0);
    ck_assert_msg(strstr(out, "2 rows loaded"), "%s", out);
    ck_assert_msg(strstr(err, "columns: ra=\"ra\" dec=\"dec\" id=\"name\""), "%s", err);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "catalog load --store %s/st --name c %s", tu_tmp, csv), 1);
    ck_assert_msg(strstr(err, "already loaded"), "%s", err);
    free(out), free(err);
    ck_assert_int_eq(
        tu_sks(&out, &err, "catalog load --store %s/st --name d %s/missing.csv", tu_tmp, tu_tmp),
        1);
    ck_assert_msg(strstr(err, "missing.csv: No such file"), "%s", err);
    free(out), free(err);
    ck_assert_int_eq(
        tu_sks(&out, &err, "catalog load --store %s/st --name d --radius -3 %s", tu_tmp, csv), 2);
    ck_assert_msg(strstr(err, "--radius: '-3'"), "%s", err);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "catalog load --store %s/st --name 'a b' %s", tu_tmp, csv),
                     1);
    ck_assert_msg(strstr(err, "catalog name 'a b'"), "%s", err);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "catalog list --store %s/st --json", tu_tmp), 0);
    json_t *arr = json_loads(out, 0, NULL);
    ck_assert_int_eq(json_array_size(arr), 1);
    json_decref(arr);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "catalog list --store %s/st", tu_tmp), 0);
    ck_assert_msg(strstr(out, "c  ready  2 rows  radius 1 arcsec"), "%s", out);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "catalog drop --store %s/st --name nope", tu_tmp), 1);
    ck_assert_msg(strstr(err, "no such catalog"), "%s", err);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "catalog drop --store %s/st --name c", tu_tmp), 0);
    free(out), free(err);
    free(csv);
}
END_TEST

/* ---- matching ---- */

#define ALERTS "alert_id,ra,dec,mjd,passband,mag,magerr,maglim,object_id\n"

/* Ingest alert rows (header added), with @p fs running when given. */
static void ingest(ss_store *s, const char *rows, ss_filter_set *fs)
{
    static int n;
    char name[32], *text = NULL;
    snprintf(name, sizeof name, "alerts%d.csv", n++);
    ck_assert_int_ge(asprintf(&text, "%s%s", ALERTS, rows), 0);
    char *path = tu_write(tu_tmp, name, text);
    ss_ingest_options o = {.filters = fs};
    ss_ingest *in = ss_ingest_new(s, &o);
    ss_err err = {0};
    ck_assert_msg(ss_ingest_path(in, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(ss_ingest_finish(in, NULL, &err) == 0, "%s", err.msg);
    ss_ingest_free(in);
    free(path);
    free(text);
}

static json_t *locus_json(ss_store *s, const char *object_id)
{
    json_t *o = NULL;
    ss_err err = {0};
    ck_assert_msg(ss_query_locus(s, object_id, NULL, &o, &err) == 0, "%s", err.msg);
    return o;
}

static void load_ok(ss_store *s, const char *name, const char *csv, ss_assoc_catalog_options o)
{
    ss_assoc_catalog_result r;
    ss_err err = {0};
    ck_assert_msg(load_text(s, name, csv, o, &r, NULL, &err) == 0, "%s", err.msg);
}

START_TEST(loci_match_at_creation_later_catalogs_on_update_and_drops)
{
    ss_store *s = open_store("st");
    /* n2 is 0.5" east of n1 (at dec 20, 0.5" of arc is 0.5/cos(20) seconds of RA degrees) */
    char csv[512];
    snprintf(csv, sizeof csv, "name,ra,dec,vmag\nn1,10.0,20.0,15.5\nn2,%.9f,20.0,16\nfar,50,50,1\n",
             10.0 + 0.5 / 3600 / cos(20 * M_PI / 180));
    load_ok(s, "A", csv, (ss_assoc_catalog_options){0});
    ingest(s, "a1,10.0,20.00002777778,60000.1,g,18,0.1,20,obj1\n", NULL); /* 0.1" north */
    json_t *l = locus_json(s, "obj1"), *m = json_object_get(l, "catalog_matches");
    ck_assert_int_eq(json_array_size(m), 2);
    json_t *m0 = json_array_get(m, 0), *m1 = json_array_get(m, 1);
    ck_assert_str_eq(json_string_value(json_object_get(m0, "catalog")), "A");
    ck_assert_str_eq(json_string_value(json_object_get(m0, "object_id")), "n1");
    ck_assert_int_eq(json_integer_value(json_object_get(m0, "row")), 1);
    ck_assert_double_eq_tol(json_real_value(json_object_get(m0, "separation_arcsec")), 0.1, 1e-3);
    ck_assert_double_eq(json_real_value(json_object_get(json_object_get(m0, "columns"), "vmag")),
                        15.5);
    ck_assert_str_eq(json_string_value(json_object_get(m1, "object_id")), "n2");
    ck_assert_double_eq_tol(json_real_value(json_object_get(m1, "separation_arcsec")),
                            sqrt(0.25 + 0.01), 1e-3);
    ck_assert_int_eq(json_array_size(json_object_get(l, "watch")), 0);
    json_decref(l);
    /* B is loaded after the locus exists: matched when the locus is next updated, not before */
    load_ok(s, "B", "id,ra,dec\n77,10.0001,20.0\n", (ss_assoc_catalog_options){.radius_arcsec = 2});
    ingest(s, "a2,30,30,60000.2,g,18,0.1,20,obj2\n", NULL);
    l = locus_json(s, "obj1");
    ck_assert_int_eq(json_array_size(json_object_get(l, "catalog_matches")), 2);
    json_decref(l);
    ingest(s, "a3,10.0,20.0,60000.3,r,18,0.1,20,obj1\n", NULL);
    l = locus_json(s, "obj1");
    m = json_object_get(l, "catalog_matches");
    ck_assert_int_eq(json_array_size(m), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 2), "catalog")), "B");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 2), "object_id")), "77");
    json_decref(l);
    l = locus_json(s, "obj2");
    ck_assert_int_eq(json_array_size(json_object_get(l, "catalog_matches")), 0);
    json_decref(l);
    /* catalog_loci holds each match reversed: A (id 1) matched obj1, B (id 2) too */
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_LOCI, 0, 1), 1);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_LOCI, 0, 2), 1);
    /* a dropped catalog's matches disappear, from view and from the store */
    ss_err err = {0};
    ck_assert_int_eq(ss_assoc_catalog_drop(s, "A", SS_CATALOG_KIND_CATALOG, &err), 0);
    l = locus_json(s, "obj1");
    m = json_object_get(l, "catalog_matches");
    ck_assert_int_eq(json_array_size(m), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "catalog")), "B");
    json_decref(l);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_LOCUS_MATCHES, SS_LOCUS_ID_LEN, 1), 0);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_LOCUS_MATCHES, SS_LOCUS_ID_LEN, 2), 1);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_LOCI, 0, 1), 0);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_LOCI, 0, 2), 1);
    /* so do a replaced one's: the new B (id 3) matches obj1 once obj1 is next updated */
    load_ok(s, "B", "id,ra,dec\n78,10.0001,20.0\n",
            (ss_assoc_catalog_options){.radius_arcsec = 2, .replace = 1});
    ck_assert_uint_eq(count_prefix(s, SS_STORE_LOCUS_MATCHES, SS_LOCUS_ID_LEN, 2), 0);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_LOCI, 0, 2), 0);
    ingest(s, "a4,10.0,20.0,60000.4,r,18,0.1,20,obj1\n", NULL);
    ck_assert_uint_eq(count_prefix(s, SS_STORE_CATALOG_LOCI, 0, 3), 1);
    ss_store_close(s);
}
END_TEST

START_TEST(per_row_radius_and_match_cap)
{
    ss_store *s = open_store("st");
    /* 150 rows all around the locus within 2": only the nearest 100 are kept, in order */
    char *csv = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&csv, &len);
    fprintf(f, "name,ra,dec,r\n");
    for (int i = 0; i < 150; i++)
        fprintf(f, "s%d,200.0,%.9f,3\n", i, -10.0 + (i + 1) * 0.01 / 3600);
    fprintf(f, "small,200.0,-9.9995,1\n"); /* 1.8" away, radius 1": no match */
    fclose(f);
    load_ok(s, "many", csv, (ss_assoc_catalog_options){.radius_column = "r"});
    free(csv);
    ingest(s, "b1,200.0,-10.0,60000.1,g,18,0.1,20,objb\n", NULL);
    json_t *l = locus_json(s, "objb"), *m = json_object_get(l, "catalog_matches");
    ck_assert_int_eq(json_array_size(m), SS_XMATCH_CAP);
    double prev = -1;
    for (size_t i = 0; i < json_array_size(m); i++) {
        json_t *e = json_array_get(m, i);
        double sep = json_real_value(json_object_get(e, "separation_arcsec"));
        ck_assert_double_ge(sep, prev);
        prev = sep;
        ck_assert_str_ne(json_string_value(json_object_get(e, "object_id")), "small");
    }
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "object_id")), "s0");
    json_decref(l);
    ss_store_close(s);
}
END_TEST

/* ---- watch lists ---- */

typedef struct drained {
    int fail_at; /* 1-based call that refuses; 0: none */
    int calls;
    char lists[8][64];
    json_t *entries[8];
    int n;
} drained;

static int take(void *ctx, const char *list, const char *json, size_t len)
{
    drained *d = ctx;
    if (++d->calls == d->fail_at)
        return 1;
    snprintf(d->lists[d->n], sizeof d->lists[d->n], "%s", list);
    d->entries[d->n++] = json_loadb(json, len, 0, NULL);
    return 0;
}

static void drained_free(drained *d)
{
    for (int i = 0; i < d->n; i++)
        json_decref(d->entries[i]);
}

START_TEST(watch_hits_once_per_locus_and_object)
{
    ss_store *s = open_store("st");
    ss_assoc_catalog_options o = {.kind = SS_CATALOG_KIND_WATCH,
                                  .ra_column = "ra",
                                  .dec_column = "dec",
                                  .id_column = "name",
                                  .radius_column = "radius",
                                  .webhook = "http://example.org/hook"};
    load_ok(s, "wl", "name,ra,dec,radius\nSNx,150.0,2.0,5\nfar,\"10 00 00\",\"-10 00 00\",5\n", o);
    ingest(s,
           "w1,150.0,2.0002777778,60000.1,g,18.5,0.1,20,objw\n" /* 1" from SNx: a new locus */
           "w2,150.0,2.0002777778,60000.2,r,18.4,0.1,20,objw\n" /* the same locus: no new hit */
           "w3,150.0,1.9991666667,60000.3,g,19,0.1,20,objw2\n"  /* 3" south: another locus */
           "w4,151.0,2.0,60000.4,g,19,0.1,20,objw3\n",          /* nowhere near */
           NULL);
    size_t pending;
    ss_err err = {0};
    ck_assert_int_eq(ss_assoc_watch_pending(s, &pending, &err), 0);
    ck_assert_uint_eq(pending, 2);
    json_t *l = locus_json(s, "objw"), *w = json_object_get(l, "watch");
    ck_assert_int_eq(json_array_size(w), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(w, 0), "list")), "wl");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(w, 0), "object")), "SNx");
    ck_assert_int_eq(json_array_size(json_object_get(l, "catalog_matches")), 0);
    json_decref(l);
    /* a refused entry stays, with the ones after it */
    drained d = {.fail_at = 2};
    size_t taken;
    ck_assert_int_eq(ss_assoc_watch_drain(s, 10, take, &d, &taken, &err), 0);
    ck_assert_uint_eq(taken, 1);
    ck_assert_int_eq(ss_assoc_watch_pending(s, &pending, &err), 0);
    ck_assert_uint_eq(pending, 1);
    ck_assert_str_eq(d.lists[0], "wl");
    json_t *e = d.entries[0];
    ck_assert_str_eq(json_string_value(json_object_get(e, "list")), "wl");
    ck_assert_str_eq(json_string_value(json_object_get(e, "object")), "SNx");
    ck_assert_str_eq(json_string_value(json_object_get(e, "alert_id")), "w1");
    ck_assert_str_eq(json_string_value(json_object_get(e, "survey")), "tuple");
    ck_assert_str_eq(json_string_value(json_object_get(e, "passband")), "g");
    ck_assert_str_eq(json_string_value(json_object_get(e, "webhook")), "http://example.org/hook");
    ck_assert_double_eq(json_real_value(json_object_get(e, "mag")), 18.5);
    ck_assert_double_eq(json_real_value(json_object_get(e, "mjd")), 60000.1);
    ck_assert_double_eq_tol(json_real_value(json_object_get(e, "separation_arcsec")), 1, 1e-3);
    ck_assert_int_eq(strlen(json_string_value(json_object_get(e, "locus_id"))), SS_LOCUS_ID_LEN);
    drained_free(&d);
    drained d2 = {0};
    ck_assert_int_eq(ss_assoc_watch_drain(s, 10, take, &d2, &taken, &err), 0);
    ck_assert_uint_eq(taken, 1);
    ck_assert_str_eq(json_string_value(json_object_get(d2.entries[0], "alert_id")), "w3");
    drained_free(&d2);
    /* a list added later applies at the locus's next update, once */
    ss_assoc_catalog_options o2 = o;
    o2.webhook = NULL;
    load_ok(s, "wl2", "name,ra,dec,radius\nlate,150.0,2.0,10\n", o2);
    ingest(s,
           "w5,150.0,2.0002777778,60000.5,g,18,0.1,20,objw\n"
           "w6,150.0,2.0002777778,60000.6,g,18,0.1,20,objw\n",
           NULL);
    drained d3 = {0};
    ck_assert_int_eq(ss_assoc_watch_drain(s, 10, take, &d3, &taken, &err), 0);
    ck_assert_uint_eq(taken, 1);
    ck_assert_str_eq(d3.lists[0], "wl2");
    ck_assert_ptr_null(json_object_get(d3.entries[0], "webhook"));
    drained_free(&d3);
    ck_assert_int_eq(ss_assoc_watch_drain(s, 10, take, &d3, &taken, &err), 0);
    ck_assert_uint_eq(taken, 0);
    ss_store_close(s);
}
END_TEST

static const char lua_filter[] =
    "NAME = 'catread'\n"
    "VERSION = '1'\n"
    "DESCRIPTION = 'reads catalog matches'\n"
    "AUTHOR = 'test'\n"
    "OUTPUT_LOCUS_PROPERTIES = {\n"
    "  {name = 'cat_object', type = 'string', description = 'nearest match'},\n"
    "  {name = 'cat_vmag', type = 'float', description = 'its vmag'},\n"
    "  {name = 'cat_row', type = 'int', description = 'its row'},\n"
    "  {name = 'watch_object', type = 'string', description = 'watched object'},\n"
    "}\n"
    "function run(locus)\n"
    "  local m = locus:catalog_matches('A')\n"
    "  if #m > 0 then\n"
    "    locus:set_property('cat_object', m[1].object_id)\n"
    "    locus:set_property('cat_vmag', m[1].columns.vmag)\n"
    "    locus:set_property('cat_row', m[1].row)\n"
    "  end\n"
    "  local w = locus:watch_objects()\n"
    "  if #w > 0 then locus:set_property('watch_object', w[1].list .. ':' .. w[1].object) end\n"
    "end\n";

START_TEST(lua_filter_reads_matches_and_columns)
{
    ss_store *s = open_store("st");
    load_ok(s, "A", "name,ra,dec,vmag\nstarA,120.0,-30.0,12.25\n", (ss_assoc_catalog_options){0});
    ss_assoc_catalog_options wo = {.kind = SS_CATALOG_KIND_WATCH, .radius_column = "radius"};
    load_ok(s, "wl", "name,ra,dec,radius\nSNy,120.0,-30.0,3\n", wo);
    char *path = tu_write(tu_tmp, "catread.lua", lua_filter);
    ss_filter_set *fs;
    ss_err err = {0};
    ck_assert_msg(ss_filter_set_single(path, NULL, 0, &fs, &err) == 0, "%s", err.msg);
    ingest(s, "f1,120.0,-30.0,60000.1,g,18,0.1,20,objf\n", fs);
    json_t *l = locus_json(s, "objf"), *p = json_object_get(l, "properties");
    ck_assert_str_eq(json_string_value(json_object_get(p, "cat_object")), "starA");
    ck_assert_double_eq(json_real_value(json_object_get(p, "cat_vmag")), 12.25);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "cat_row")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(p, "watch_object")), "wl:SNy");
    json_decref(l);
    ss_filter_set_free(fs);
    free(path);
    ss_store_close(s);
}
END_TEST

START_TEST(cli_locus_json_and_watch_commands)
{
    char *out, *err;
    char *cat = tu_write(tu_tmp, "c.csv", "name,ra,dec,kind\nQSO1,45.0,45.0,qso\n");
    char *wl = tu_write(tu_tmp, "w.csv", "name,ra,dec,radius\nT1,\"03 00 00\",\"+45 00 00\",2\n");
    char *alerts = tu_write(tu_tmp, "a.csv", ALERTS "c1,45.0,45.0,60000.1,g,18,0.1,20,objc\n");
    ck_assert_int_eq(tu_sks(&out, &err, "catalog load --store %s/st --name qso %s", tu_tmp, cat),
                     0);
    free(out), free(err);
    ck_assert_int_eq(
        tu_sks(&out, &err, "watch add --store %s/st --name tw --webhook http://x/y %s", tu_tmp, wl),
        0);
    ck_assert_msg(strstr(out, "watch list tw: 1 rows loaded"), "%s", out);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "watch add --store %s/st --name tw %s", tu_tmp, wl), 1);
    ck_assert_msg(strstr(err, "watch list tw: already loaded"), "%s", err);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "watch list --store %s/st", tu_tmp), 0);
    ck_assert_msg(strstr(out, "tw  ready  1 rows") && strstr(out, "webhook: http://x/y"), "%s",
                  out);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "ingest --store %s/st %s", tu_tmp, alerts), 0);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "locus --store %s/st objc", tu_tmp), 0);
    json_t *l = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(l);
    json_t *m = json_array_get(json_object_get(l, "catalog_matches"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(m, "catalog")), "qso");
    ck_assert_str_eq(json_string_value(json_object_get(m, "object_id")), "QSO1");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "columns"), "kind")),
                     "qso");
    json_t *w = json_array_get(json_object_get(l, "watch"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(w, "list")), "tw");
    ck_assert_str_eq(json_string_value(json_object_get(w, "object")), "T1");
    json_decref(l);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "watch drop --store %s/st --name tw", tu_tmp), 0);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "locus --store %s/st objc", tu_tmp), 0);
    ck_assert_msg(strstr(out, "\"watch\":[]"), "%s", out);
    free(out), free(err);
    ck_assert_int_eq(
        tu_sks(&out, &err, "watch add --store %s/st --name x --radius 3 %s", tu_tmp, wl), 2);
    free(out), free(err);
    free(cat), free(wl), free(alerts);
}
END_TEST

/* A replay copies the catalogs of --catalogs-from into its scratch store: filters see matches. */
START_TEST(replay_sees_catalogs_from_a_store)
{
    ss_store *s = open_store("live");
    load_ok(s, "A", "name,ra,dec,vmag\nstarR,80.0,10.0,11.5\n", (ss_assoc_catalog_options){0});
    ss_store_close(s);
    char *lua = tu_write(tu_tmp, "catread.lua", lua_filter);
    char ini[512];
    snprintf(ini, sizeof ini, "[filter catread]\npath = %s\n", lua);
    char *set = tu_write(tu_tmp, "set.ini", ini);
    char *alerts = tu_write(tu_tmp, "night.csv", ALERTS "r1,80.0,10.0,60000.1,g,18,0.1,20,objr\n");
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err,
                            "replay --quiet --filters %s --catalogs-from %s/live --store %s/kept "
                            "--report - %s",
                            set, tu_tmp, tu_tmp, alerts),
                     0);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "locus --store %s/kept objr", tu_tmp), 0);
    json_t *l = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(l);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(l, "properties"), "cat_object")),
        "starR");
    ck_assert_int_eq(json_array_size(json_object_get(l, "catalog_matches")), 1);
    json_decref(l);
    free(out), free(err);
    free(lua), free(set), free(alerts);
}
END_TEST

/* The tutorial pair: not_a_star halts a locus matching a catalog star before jump sees it, so of
 * two sources that jump only the one that is not a star is tagged; another catalog name passes. */
static void tutorial_pair(const char *catalogs, const char *want_tagged)
{
    ss_store *s = open_store("cats");
    load_ok(s, "stars", "name,ra,dec\nstarB,81.0,10.0\n", (ss_assoc_catalog_options){0});
    ss_store_close(s);
    char ini[1024];
    snprintf(ini, sizeof ini,
             "[filter not_a_star]\npath = %s/not_a_star/not_a_star.lua\npriority = 1\n"
             "setup.catalogs = %s\n[filter jump]\npath = %s/jump/jump.lua\npriority = 2\n",
             SS_CONTRIB_SRC, catalogs, SS_CONTRIB_SRC);
    char *set = tu_write(tu_tmp, "pair.ini", ini);
    char *alerts = tu_write(tu_tmp, "pair.csv",
                            ALERTS "a1,80.0,10.0,60000.1,g,18,0.1,20,objA\n"
                                   "b1,81.0,10.0,60000.1,g,18,0.1,20,objB\n"
                                   "a2,80.0,10.0,60001.1,g,14,0.1,20,objA\n"
                                   "b2,81.0,10.0,60001.1,g,14,0.1,20,objB\n");
    char *out, *err;
    ck_assert_int_eq(tu_sks(&out, &err,
                            "replay --quiet --filters %s --catalogs-from %s/cats --store %s/pair "
                            "--report - %s",
                            set, tu_tmp, tu_tmp, alerts),
                     0);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "tagged --store %s/pair jump", tu_tmp), 0);
    int star_too = strstr(want_tagged, "objB") != NULL;
    ck_assert_uint_eq(tu_count_lines(out), star_too ? 2 : 1);
    ck_assert_ptr_nonnull(strstr(out, "objA"));
    ck_assert_msg(!strstr(out, "objB") == !star_too, "%s", out);
    free(out), free(err);
    ck_assert_int_eq(tu_sks(&out, &err, "locus --store %s/pair objB", tu_tmp), 0);
    json_t *l = json_loads(out, 0, NULL), *props = json_object_get(l, "properties");
    ck_assert_ptr_nonnull(l);
    if (star_too) {
        ck_assert_ptr_null(json_object_get(props, "star_id"));
    } else {
        ck_assert_str_eq(json_string_value(json_object_get(props, "star_id")), "starB");
        ck_assert_str_eq(json_string_value(json_object_get(props, "star_catalog")), "stars");
        ck_assert(json_real_value(json_object_get(props, "star_separation_arcsec")) < 0.01);
    }
    json_decref(l);
    free(out), free(err);
    free(set), free(alerts);
}

START_TEST(tutorial_pair_flags_the_jump_that_is_not_a_star)
{
    tutorial_pair("stars", "objA");
}
END_TEST

START_TEST(not_a_star_ignores_catalogs_it_is_not_given)
{
    tutorial_pair("gaia, other", "objA,objB");
}
END_TEST

/* Make the store in @p dir a format 4 one, as an older skysieve wrote it: the tables of format 5
 * removed and the version put back, straight through LMDB. */
static void make_format_4(const char *dir)
{
    static const char *const tables[] = {"catalogs",      "catalog_rows", "catalog_sky",
                                         "locus_matches", "locus_xmatch", "watch_outbox"};
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0644), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        ck_assert_int_eq(mdb_dbi_open(txn, tables[i], 0, &dbi), 0);
        ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
    }
    uint32_t four = 4;
    MDB_val k = {6, "format"}, v = {sizeof four, &four};
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A format 4 store reads without the tables of format 5 and gains them when opened read-write. */
START_TEST(format_4_store_is_upgraded_on_write)
{
    ss_store *s = open_store("st");
    ingest(s, "u1,1.0,1.0,60000.1,g,18,0.1,20,obju\n", NULL);
    ss_store_close(s);
    char *dir = tu_path(tu_tmp, "st");
    make_format_4(dir);
    ss_store_options ro = {.readonly = 1};
    ss_err err = {0};
    ck_assert_msg(ss_store_open(dir, &ro, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ss_store_has_table(s, SS_STORE_CATALOGS), 0);
    json_t *l = locus_json(s, "obju"), *arr = list(s, SS_CATALOG_KIND_CATALOG);
    ck_assert_int_eq(json_array_size(json_object_get(l, "catalog_matches")), 0);
    ck_assert_int_eq(json_array_size(arr), 0);
    json_decref(l), json_decref(arr);
    ss_store_close(s);
    s = open_store("st");
    ss_store_info info;
    ck_assert_int_eq(ss_store_has_table(s, SS_STORE_CATALOGS), 1);
    ck_assert_int_eq(ss_store_info_get(s, &info), 0);
    ck_assert_uint_eq(info.format, SS_STORE_FORMAT_VERSION);
    load_ok(s, "late", "name,ra,dec\nz,1.0,1.0\n", (ss_assoc_catalog_options){0});
    ingest(s, "u2,1.0,1.0,60000.2,g,18,0.1,20,obju\n", NULL);
    l = locus_json(s, "obju");
    ck_assert_int_eq(json_array_size(json_object_get(l, "catalog_matches")), 1);
    json_decref(l);
    ss_store_close(s);
    free(dir);
}
END_TEST

/* ---- searching catalogs ---- */

/* A cone search's rows as "object@separation ..." (separations to 0.001"). */
static int cone_text(ss_store *s, const char *name, ss_catalog_kind kind, double ra, double dec,
                     double radius, size_t max, char *out, size_t size, size_t *total)
{
    ss_store_txn *txn;
    ss_arena *arena = ss_arena_new();
    ss_assoc_match *m;
    size_t n;
    out[0] = '\0';
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &txn), 0);
    int rc = ss_assoc_catalog_cone(txn, name, kind, ra, dec, radius, max, arena, &m, &n, total);
    for (size_t i = 0; !rc && i < n; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s@%.3f", i ? " " : "", m[i].object_id,
                 m[i].separation_arcsec);
        ck_assert_str_eq(m[i].catalog, name);
        ck_assert_uint_eq(m[i].ncols, 4);
        ck_assert_str_eq(m[i].names[3], "vmag");
    }
    ss_store_txn_abort(txn);
    ss_arena_free(arena);
    return rc;
}

/* Rows north of (100, 30) at 0.5", 1", 5", 100" and 200" (zones are 60" high here), one east
 * across nothing, and two either side of RA 0 at dec 0. */
static ss_store *cone_store(void)
{
    ss_store *s = open_store("st");
    char *csv = NULL;
    size_t len;
    FILE *f = open_memstream(&csv, &len);
    fprintf(f, "name,ra,dec,vmag\n");
    const double north[] = {5, 0.5, 200, 1, 100};
    for (int i = 0; i < 5; i++)
        fprintf(f, "n%g,100,%.10f,%d\n", north[i], 30 + north[i] / 3600, 10 + i);
    fprintf(f, "w1,359.9998,0,1\nw2,0.0001,0,2\n");
    fclose(f);
    load_ok(s, "cat", csv, (ss_assoc_catalog_options){0});
    free(csv);
    return s;
}

START_TEST(catalog_cone_nearest_first_and_its_edges)
{
    ss_store *s = cone_store();
    char got[512];
    size_t total;
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, 30, 10, 10, got, sizeof got, &total), 0);
    ck_assert_str_eq(got, "n0.5@0.500 n1@1.000 n5@5.000");
    ck_assert_uint_eq(total, 3);
    /* max cuts the list, not the total */
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, 30, 10, 2, got, sizeof got, &total), 0);
    ck_assert_str_eq(got, "n0.5@0.500 n1@1.000");
    ck_assert_uint_eq(total, 3);
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, 30, 10, 0, got, sizeof got, NULL), 0);
    ck_assert_str_eq(got, "");
    /* a row exactly at the radius is in; a hair less leaves it out */
    char text[32];
    snprintf(text, sizeof text, "%.10f", 30 + 5.0 / 3600); /* as the row was written */
    double edge = ss_sky_separation_deg(100, 30, 100, strtod(text, NULL)) * 3600;
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, 30, edge, 10, got, sizeof got, &total), 0);
    ck_assert_uint_eq(total, 3);
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, 30, edge - 1e-7, 10, got, sizeof got, &total), 0);
    ck_assert_uint_eq(total, 2);
    /* across zones: 150" holds two zones' rows, 250" three */
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, 30, 150, 10, got, sizeof got, &total), 0);
    ck_assert_str_eq(got, "n0.5@0.500 n1@1.000 n5@5.000 n100@100.000");
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, 30, 250, 10, got, sizeof got, &total), 0);
    ck_assert_uint_eq(total, 5);
    /* across RA 0 */
    ck_assert_int_eq(cone_text(s, "cat", 0, 0, 0, 1, 10, got, sizeof got, &total), 0);
    ck_assert_str_eq(got, "w2@0.360 w1@0.720");
    ss_store_close(s);
}
END_TEST

START_TEST(catalog_cone_refuses_what_it_cannot_search)
{
    ss_store *s = cone_store();
    char got[512];
    ck_assert_int_eq(cone_text(s, "nope", 0, 100, 30, 10, 10, got, sizeof got, NULL), SS_ENOTFOUND);
    ck_assert_int_eq(
        cone_text(s, "cat", SS_CATALOG_KIND_WATCH, 100, 30, 10, 10, got, sizeof got, NULL),
        SS_ENOTFOUND);
    ck_assert_int_eq(cone_text(s, "cat", 0, 360, 30, 10, 10, got, sizeof got, NULL), SS_EINVAL);
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, -91, 10, 10, got, sizeof got, NULL), SS_EINVAL);
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, 30, 0, 10, got, sizeof got, NULL), SS_EINVAL);
    ck_assert_int_eq(cone_text(s, "cat", 0, 100, 30, NAN, 10, got, sizeof got, NULL), SS_EINVAL);
    ck_assert_int_eq(
        cone_text(s, "cat", 0, 100, 30, SS_CATALOG_CONE_MAX_ARCSEC * 2, 10, got, sizeof got, NULL),
        SS_EINVAL);
    ss_store_close(s);
}
END_TEST

/* The loci a catalog matched, walked by id both ways, and the catalog's id by name. */
START_TEST(catalog_ids_and_the_loci_they_matched)
{
    ss_store *s = open_store("st");
    load_ok(s, "A", "name,ra,dec\na1,10,10\na2,20,10\n", (ss_assoc_catalog_options){0});
    load_ok(s, "W", "name,ra,dec,radius\nw1,20,10,5\n",
            (ss_assoc_catalog_options){.kind = SS_CATALOG_KIND_WATCH});
    ingest(s,
           "x1,10,10,60000.1,g,18,0.1,20,o1\nx2,20,10,60000.2,g,18,0.1,20,o2\n"
           "x3,30,10,60000.3,g,18,0.1,20,o3\n",
           NULL);
    ss_store_txn *txn;
    uint64_t a, w, none;
    ck_assert_int_eq(ss_store_txn_begin(s, SS_STORE_READ, &txn), 0);
    ck_assert_int_eq(ss_assoc_catalog_id(txn, "A", SS_CATALOG_KIND_CATALOG, &a), 0);
    ck_assert_int_eq(ss_assoc_catalog_id(txn, "W", SS_CATALOG_KIND_WATCH, &w), 0);
    ck_assert_uint_ne(a, w);
    ck_assert_int_eq(ss_assoc_catalog_id(txn, "W", SS_CATALOG_KIND_CATALOG, &none), SS_ENOTFOUND);
    ck_assert_int_eq(ss_assoc_catalog_id(txn, "B", SS_CATALOG_KIND_CATALOG, &none), SS_ENOTFOUND);
    char ids[2][2][SS_LOCUS_ID_LEN + 1], id[SS_LOCUS_ID_LEN + 1];
    for (int d = 0; d < 2; d++) {
        ss_assoc_loci *it;
        ck_assert_int_eq(ss_assoc_loci_open(txn, a, d, &it), 0);
        ck_assert_int_eq(ss_assoc_loci_indexed(it), 1);
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(ss_assoc_loci_next(it, ids[d][i]), 1);
        ck_assert_int_eq(ss_assoc_loci_next(it, id), 0);
        ss_assoc_loci_close(it);
    }
    ck_assert_int_lt(strcmp(ids[0][0], ids[0][1]), 0);
    ck_assert_str_eq(ids[0][0], ids[1][1]);
    ck_assert_str_eq(ids[0][1], ids[1][0]);
    json_t *l2 = locus_json(s, "o2");
    const char *o2 = json_string_value(json_object_get(l2, "locus_id"));
    ck_assert_int_eq(ss_assoc_locus_matched(txn, o2, w), 0);
    ck_assert_int_eq(ss_assoc_locus_matched(txn, o2, a), 0);
    json_t *l3 = locus_json(s, "o3");
    ck_assert_int_eq(
        ss_assoc_locus_matched(txn, json_string_value(json_object_get(l3, "locus_id")), a),
        SS_ENOTFOUND);
    json_decref(l2), json_decref(l3);
    ss_store_txn_abort(txn);
    ss_store_close(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(tc, angles_parse_decimal_and_sexagesimal);
    tcase_add_test(tc, csv_loads_with_detected_columns_and_bad_rows);
    tcase_add_test(tc, explicit_columns_radius_column_and_kept_columns);
    tcase_add_test(tc, duplicate_names_replace_and_drop);
    tcase_add_test(tc, chunked_load_invisible_until_ready_and_cleaned_up);
    tcase_add_test(tc, fits_table_loads_typed_columns);
    tcase_add_test(tc, shared_catalogs_load);
    tcase_add_test(tc, cli_catalog_commands_and_errors);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("match");
    tcase_add_checked_fixture(tm, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(tm, loci_match_at_creation_later_catalogs_on_update_and_drops);
    tcase_add_test(tm, per_row_radius_and_match_cap);
    tcase_add_test(tm, watch_hits_once_per_locus_and_object);
    tcase_add_test(tm, lua_filter_reads_matches_and_columns);
    tcase_add_test(tm, cli_locus_json_and_watch_commands);
    tcase_add_test(tm, format_4_store_is_upgraded_on_write);
    tcase_add_test(tm, replay_sees_catalogs_from_a_store);
    tcase_add_test(tm, tutorial_pair_flags_the_jump_that_is_not_a_star);
    tcase_add_test(tm, not_a_star_ignores_catalogs_it_is_not_given);
    suite_add_tcase(s, tm);
    TCase *ts = tcase_create("search");
    tcase_add_checked_fixture(ts, tu_tmp_setup, tu_tmp_teardown);
    tcase_add_test(ts, catalog_cone_nearest_first_and_its_edges);
    tcase_add_test(ts, catalog_cone_refuses_what_it_cannot_search);
    tcase_add_test(ts, catalog_ids_and_the_loci_they_matched);
    suite_add_tcase(s, ts);
    return tu_run_suite(s);
}
