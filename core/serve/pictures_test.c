/* The picture routes of skysieve serve over a simulated night whose Avro alerts carry stamps:
 * light curves as PNG and SVG, stamps as PNG, the same bytes as `skysieve plot` and
 * `skysieve cutout --png` write, and JSON errors: 400 for bad parameters, 404 for what is not
 * there, 422 for a stamp whose bytes were damaged on purpose. */
#include "draw.h"
#include "testutil.h"
#include "tu_http.h"
#include "tu_png.h"

#include <cairo.h>
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tu_server srv;

/* The first gzip stream of @p path (the first alert's science stamp) damaged in its middle,
 * its length kept so that the Avro around it still reads. */
static void damage_first_stamp(const char *path)
{
    size_t len;
    unsigned char *b = tu_read_file(path, &len);
    unsigned char *gz = memmem(b, len, "\x1f\x8b\x08", 3);
    ck_assert_ptr_nonnull(gz);
    ck_assert_uint_gt(len - (size_t)(gz - b), 2000);
    memset(gz + 600, 0xAA, 300);
    FILE *f = fopen(path, "wb");
    ck_assert(f && fwrite(b, 1, len, f) == len && !fclose(f));
    free(b);
}

/* Two jump sources (SIM00000001 and 2, always detected: alert 2k+1 and 2k+2 in exposure k) in
 * Avro with stamps, the first alert's science stamp damaged; one CSV alert without stamps. */
static void night_setup(void)
{
    tu_tmp_setup();
    char *out = NULL, *err = NULL, *set = NULL;
    ck_assert_int_eq(tu_sks(&out, &err,
                            "simulate --quiet --model jump=2 --epochs 6 --jump-epoch 3 --seed 4 "
                            "--out %s/night.avro",
                            tu_tmp),
                     0);
    free(out), free(err);
    char *night = tu_path(tu_tmp, "night.avro");
    damage_first_stamp(night);
    free(tu_write(tu_tmp, "extra.csv",
                  "alert_id,object_id,survey,ra,dec,mjd,passband,mag,magerr,maglim\n"
                  "x1,CSV1,sim,20.0,-5.0,60001.5,g,19.5,0.05,21.0\n"));
    ck_assert_int_ge(asprintf(&set, "[filter jump_lua]\npath = %s/jump/jump.lua\n", SS_CONTRIB_SRC),
                     0);
    free(tu_write(tu_tmp, "set.ini", set));
    ck_assert_int_eq(tu_sks(&out, &err,
                            "ingest --quiet --radius 5 --store %s/st --filters %s/set.ini %s "
                            "%s/extra.csv",
                            tu_tmp, tu_tmp, night, tu_tmp),
                     0);
    free(out), free(err), free(set), free(night);
    tu_serve_start(&srv, "--store '%s/st'", tu_tmp);
}

static void night_teardown(void)
{
    tu_serve_stop(&srv);
    tu_tmp_teardown();
}

/* GET @p path: 200 with @p ctype. @return the body (malloc'd), its length in *len. */
static char *get_ok(const char *path, const char *ctype, size_t *len)
{
    char *body = NULL, *ct = NULL;
    long st = tu_http_get(&srv, path, &body, len, &ct);
    ck_assert_msg(st == 200, "GET %s: %ld %s", path, st, body ? body : "");
    ck_assert_msg(ct && !strcmp(ct, ctype), "GET %s: %s", path, ct ? ct : "no type");
    free(ct);
    return body;
}

/* A file `skysieve ARGS` (printf-style) wrote to tu_tmp/NAME. */
static char *cli_file(const char *name, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *cli_file(const char *name, size_t *len, const char *fmt, ...)
{
    char *out = NULL, *err = NULL, *args = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    int rc = tu_sks(&out, &err, "%s", args);
    ck_assert_msg(rc == 0, "skysieve %s: %d %s", args, rc, err);
    free(out), free(err), free(args);
    char *path = tu_path(tu_tmp, name);
    char *bytes = tu_read_file(path, len);
    free(path);
    return bytes;
}

/* A PNG's size, and whether its pixels differ from each other. */
static void png_check(const char *bytes, size_t len, int w, int h)
{
    cairo_surface_t *s = tu_png_decode(bytes, len);
    ck_assert_int_eq(cairo_image_surface_get_width(s), w);
    ck_assert_int_eq(cairo_image_surface_get_height(s), h);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s), differ = 0;
    for (int y = 0; y < h && !differ; y++)
        differ = memcmp(d, d + (size_t)y * (size_t)stride, (size_t)stride) != 0;
    ck_assert_msg(differ, "a %d x %d picture of one colour", w, h);
    cairo_surface_destroy(s);
}

START_TEST(light_curves_as_the_cli_draws_them)
{
    size_t len, clen, flen, alen;
    char *png = get_ok("/api/v1/loci/SIM00000002/lightcurve.png", "image/png", &len);
    png_check(png, len, 600, 400);
    char *cli = cli_file("lc.png", &clen, "plot --store '%s/st' --out '%s/lc.png' SIM00000002",
                         tu_tmp, tu_tmp);
    ck_assert_msg(clen == len && !memcmp(cli, png, len), "plot wrote %zu bytes, the route %zu",
                  clen, len);
    char *flux = get_ok("/api/v1/loci/SIM00000002/lightcurve.png?flux=1", "image/png", &flen);
    ck_assert(flen != len || memcmp(flux, png, len));
    char *asof =
        get_ok("/api/v1/loci/SIM00000002/lightcurve.png?as_of=ztf_candidate:4", "image/png", &alen);
    ck_assert(alen != len || memcmp(asof, png, len));
    free(png), free(cli), free(flux), free(asof);
    char *svg =
        get_ok("/api/v1/loci/SIM00000002/lightcurve.svg?width=700&height=300&bands=g,r&flux=true",
               "image/svg+xml", &len);
    ck_assert_ptr_nonnull(strstr(svg, "<svg"));
    ck_assert_ptr_nonnull(strstr(svg, "width=\"700px\" height=\"300px\""));
    cli = cli_file("lc.svg", &clen,
                   "plot --store '%s/st' --out '%s/lc.svg' --width 700 --height 300 --bands g,r "
                   "--flux SIM00000002",
                   tu_tmp, tu_tmp);
    ck_assert(clen == len && !memcmp(cli, svg, len));
    free(svg), free(cli);
}
END_TEST

START_TEST(stamps_as_the_cli_draws_them)
{
    const char *kinds[] = {"science", "template", "difference"};
    char path[160];
    size_t len, clen;
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "/api/v1/alerts/ztf_candidate:2/cutouts/%s.png", kinds[k]);
        char *png = get_ok(path, "image/png", &len);
        png_check(png, len, 256, 256);
        free(png);
    }
    char *png = get_ok("/api/v1/alerts/ztf_candidate:2/cutouts/science.png?size=64&stretch=asinh",
                       "image/png", &len);
    png_check(png, len, 64, 64);
    char *cli = cli_file("s.png", &clen,
                         "cutout --store '%s/st' --png --size 64 --stretch asinh --output "
                         "'%s/s.png' 2 science",
                         tu_tmp, tu_tmp);
    ck_assert_msg(clen == len && !memcmp(cli, png, len), "cutout wrote %zu bytes, the route %zu",
                  clen, len);
    free(png), free(cli);
    /* the damaged alert's other stamps are whole */
    png = get_ok("/api/v1/alerts/ztf_candidate:1/cutouts/template.png", "image/png", &len);
    free(png);
}
END_TEST

/* Every failure is JSON with a status a client can act on; none crashes the server. */
START_TEST(errors_are_json)
{
    json_t *l = tu_http_json(&srv, "/api/v1/loci/CSV1", 200);
    const char *csv_alert = json_string_value(
        json_object_get(json_array_get(json_object_get(l, "alerts"), 0), "alert_id"));
    ck_assert_ptr_nonnull(csv_alert);
    char no_stamp[128];
    snprintf(no_stamp, sizeof no_stamp, "/api/v1/alerts/%s/cutouts/science.png", csv_alert);
    struct {
        const char *path;
        long status;
        const char *says;
    } cases[] = {
        {"/api/v1/loci/SIM00000002/lightcurve.png?flux=maybe", 400, "flux"},
        {"/api/v1/loci/SIM00000002/lightcurve.svg?width=10", 400, "width"},
        {"/api/v1/loci/SIM00000002/lightcurve.png?bogus=1", 400, "bogus"},
        {"/api/v1/loci/NOPE/lightcurve.svg", 404, "NOPE"},
        {"/api/v1/loci/SIM00000002/lightcurve.png?as_of=nope", 404, "nope"},
        {"/api/v1/alerts/ztf_candidate:2/cutouts/science.png?size=2", 400, "size"},
        {"/api/v1/alerts/ztf_candidate:2/cutouts/science.png?stretch=log", 400, "stretch"},
        {"/api/v1/alerts/ztf_candidate:2/cutouts/science.png?interp=cubic", 400, "interp"},
        {"/api/v1/alerts/ztf_candidate:2/cutouts/thumbnail.png", 404, "thumbnail"},
        {"/api/v1/alerts/ztf_candidate:99999/cutouts/science.png", 404, "99999"},
        {no_stamp, 404, "no science stamp"},
        {"/api/v1/alerts/ztf_candidate:1/cutouts/science.png", 422, "gzip"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j = tu_http_json(&srv, cases[i].path, cases[i].status);
        const char *detail = json_string_value(json_object_get(j, "detail"));
        ck_assert_msg(json_object_get(j, "error") && detail && strstr(detail, cases[i].says),
                      "%s: %s", cases[i].path, detail ? detail : "no detail");
        json_decref(j);
    }
    json_decref(l);
    /* and the server still draws */
    size_t len;
    free(get_ok("/api/v1/loci/SIM00000001/lightcurve.png", "image/png", &len));
}
END_TEST

/* The OpenAPI document describes the three routes, their content types and their errors. */
START_TEST(openapi_lists_the_pictures)
{
    json_t *doc = tu_http_json(&srv, "/api/v1/openapi.json", 200),
           *paths = json_object_get(doc, "paths");
    struct {
        const char *path, *ctype, *errors[4];
    } want[] = {
        {"/api/v1/loci/{id}/lightcurve.svg", "image/svg+xml", {"400", "404", NULL}},
        {"/api/v1/loci/{id}/lightcurve.png", "image/png", {"400", "404", NULL}},
        {"/api/v1/alerts/{alert_id}/cutouts/{kind}.png", "image/png", {"400", "404", "422", NULL}},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        json_t *r = json_object_get(json_object_get(json_object_get(paths, want[i].path), "get"),
                                    "responses");
        ck_assert_msg(r, "%s is not in the OpenAPI document", want[i].path);
        json_t *ok = json_object_get(json_object_get(r, "200"), "content");
        ck_assert_msg(json_object_get(ok, want[i].ctype), "%s: no %s", want[i].path, want[i].ctype);
        for (int k = 0; want[i].errors[k]; k++)
            ck_assert_msg(json_object_get(r, want[i].errors[k]), "%s: no %s", want[i].path,
                          want[i].errors[k]);
    }
    json_decref(doc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pictures");
    TCase *tc = tcase_create("pictures over a simulated night");
    tcase_add_unchecked_fixture(tc, night_setup, night_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, light_curves_as_the_cli_draws_them);
    tcase_add_test(tc, stamps_as_the_cli_draws_them);
    tcase_add_test(tc, errors_are_json);
    tcase_add_test(tc, openapi_lists_the_pictures);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
