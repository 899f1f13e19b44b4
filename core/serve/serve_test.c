/*
 * skysieve serve, driven as a process over HTTP: the /api/v1 routes over a simulated night (always)
 * and the shared ZTF and Rubin alerts (when present), compared with what the command line says
 * of the same store; errors, tokens, rate limits.
 */
#include "testutil.h"
#include "tu_http.h"

#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAST SS_SOURCE_DIR "/tests/filters/fast.lua"

static tu_server srv;

/* A simulated night ingested with the fast-riser filter, so that some loci carry a tag. */
static void night_setup(void)
{
    tu_tmp_setup();
    char *out = NULL;
    ck_assert_int_eq(
        tu_sks(&out, NULL, "simulate --sources 150 --seed 7 --quiet --out '%s/night.csv'", tu_tmp),
        0);
    free(out);
    free(tu_write(tu_tmp, "set.ini", "[filter fast]\npath = " FAST "\n"));
    ck_assert_int_eq(tu_sks(&out, NULL,
                            "ingest --quiet --store '%s/st' --filters '%s/set.ini' "
                            "'%s/night.csv'",
                            tu_tmp, tu_tmp, tu_tmp),
                     0);
    free(out);
    tu_serve_start(&srv, "--store '%s/st'", tu_tmp);
}

static void night_teardown(void)
{
    tu_serve_stop(&srv);
    tu_tmp_teardown();
}

/* The locus with the most alerts, as `skysieve loci` lists it. */
static json_t *first_locus(void)
{
    char *out = NULL, *save = NULL;
    ck_assert_int_eq(tu_sks(&out, NULL, "loci --store '%s/st'", tu_tmp), 0);
    json_t *best = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *l = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(l);
        if (!best || json_integer_value(json_object_get(l, "num_alerts")) >
                         json_integer_value(json_object_get(best, "num_alerts")))
            json_decref(best), best = l;
        else
            json_decref(l);
    }
    free(out);
    ck_assert_ptr_nonnull(best);
    return best;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    ck_assert_msg(s != NULL, "no string '%s'", k);
    return s;
}

START_TEST(test_locus_by_id_and_object)
{
    json_t *l = first_locus();
    const char *id = jstr(l, "locus_id"), *obj = jstr(l, "sim_object_id");
    char path[256];
    snprintf(path, sizeof path, "/api/v1/loci/%s", id);
    json_t *a = tu_http_json(&srv, path, 200);
    /* by its survey object id: the same locus, or 409 naming it when the object spans several */
    char *out = NULL;
    int one = tu_sks(&out, NULL, "locus --store '%s/st' %s", tu_tmp, obj) == 0;
    free(out);
    snprintf(path, sizeof path, "/api/v1/loci/%s", obj);
    json_t *b = tu_http_json(&srv, path, one ? 200 : 409);
    ck_assert(one ? json_equal(a, b) : strstr(jstr(b, "detail"), id) != NULL);
    ck_assert_str_eq(jstr(a, "locus_id"), id);
    json_t *alerts = json_object_get(a, "alerts");
    ck_assert_int_eq(json_array_size(alerts), json_integer_value(json_object_get(l, "num_alerts")));
    json_t *first = json_array_get(alerts, 0);
    char want[128];
    snprintf(want, sizeof want, "sim:%s", jstr(first, "survey_alert_id"));
    ck_assert_str_eq(jstr(first, "alert_id"), want);
    /* the alert by its shown id, and by its bare id */
    snprintf(path, sizeof path, "/api/v1/alerts/%s", want);
    json_t *al = tu_http_json(&srv, path, 200);
    ck_assert_str_eq(jstr(al, "locus_id"), id);
    ck_assert(json_real_value(json_object_get(al, "mjd")) ==
              json_real_value(json_object_get(first, "mjd")));
    snprintf(path, sizeof path, "/api/v1/alerts/%s", jstr(first, "survey_alert_id"));
    json_t *bare = tu_http_json(&srv, path, 200);
    ck_assert(json_equal(al, bare));
    json_decref(bare), json_decref(al), json_decref(a), json_decref(b), json_decref(l);
}
END_TEST

START_TEST(test_locus_not_found)
{
    json_t *e = tu_http_json(&srv, "/api/v1/loci/SKS2020aaaaaaaaaaaa", 404);
    ck_assert_str_eq(jstr(e, "error"), "Not Found");
    ck_assert_ptr_nonnull(strstr(jstr(e, "detail"), "SKS2020aaaaaaaaaaaa"));
    json_decref(e);
    json_decref(tu_http_json(&srv, "/api/v1/loci/no-such-object", 404));
    json_decref(tu_http_json(&srv, "/api/v1/alerts/sim:nope", 404));
    /* the kind is part of an alert id: a detection is not found as an upper limit */
    json_t *l = first_locus(), *loc;
    char path[256];
    snprintf(path, sizeof path, "/api/v1/loci/%s", jstr(l, "locus_id"));
    loc = tu_http_json(&srv, path, 200);
    snprintf(path, sizeof path, "/api/v1/alerts/sim_upper_limit:%s",
             jstr(json_array_get(json_object_get(loc, "alerts"), 0), "survey_alert_id"));
    json_decref(tu_http_json(&srv, path, 404));
    json_decref(loc), json_decref(l);
    json_decref(tu_http_json(&srv, "/api/v1/alerts/sim:nope/cutouts/science", 404));
    json_decref(tu_http_json(&srv, "/api/v1/alerts/sim:x/cutouts/thumbnail", 404));
}
END_TEST

/* The light curve holds every measurement once, in time order, and its filters cut it. */
START_TEST(test_lightcurve)
{
    json_t *l = first_locus();
    char path[256];
    snprintf(path, sizeof path, "/api/v1/loci/%s/lightcurve", jstr(l, "locus_id"));
    json_t *lc = tu_http_json(&srv, path, 200), *items = json_object_get(lc, "items"), *p;
    ck_assert_int_eq(json_array_size(items), json_integer_value(json_object_get(l, "num_alerts")));
    size_t i, ng = 0, ndet = 0;
    double last = 0, mid = 0;
    json_array_foreach(items, i, p)
    {
        double mjd = json_real_value(json_object_get(p, "mjd"));
        ck_assert(mjd >= last);
        last = mjd;
        ng += !strcmp(jstr(p, "band"), "g");
        ndet += !strcmp(jstr(p, "kind"), "detection");
        if (i == json_array_size(items) / 2)
            mid = mjd;
    }
    ck_assert_uint_gt(ng, 0);
    json_t *v, *d, *b;
    char q[320];
    snprintf(q, sizeof q, "%s?band=g", path);
    ck_assert_int_eq(json_array_size(json_object_get(v = tu_http_json(&srv, q, 200), "items")), ng);
    snprintf(q, sizeof q, "%s?kinds=detection", path);
    ck_assert_int_eq(json_array_size(json_object_get(d = tu_http_json(&srv, q, 200), "items")),
                     ndet);
    snprintf(q, sizeof q, "%s?before=%.10f", path, mid);
    b = tu_http_json(&srv, q, 200);
    json_array_foreach(json_object_get(b, "items"), i, p)
        ck_assert(json_real_value(json_object_get(p, "mjd")) < mid);
    ck_assert_uint_lt(json_array_size(json_object_get(b, "items")), json_array_size(items));
    /* CSV: a header and one row per point */
    char *body = NULL, *ctype = NULL;
    snprintf(q, sizeof q, "%s?format=csv", path);
    ck_assert_int_eq(tu_http_get(&srv, q, &body, NULL, &ctype), 200);
    ck_assert_ptr_nonnull(strstr(ctype, "text/csv"));
    ck_assert(
        !strncmp(body, "alert_id,survey,mjd,band,kind,mag,magerr,maglim,flux,fluxerr\r\n", 62));
    ck_assert_int_eq(tu_count_lines(body), json_array_size(items) + 1);
    snprintf(q, sizeof q, "%s?kinds=bogus", path);
    ck_assert_int_eq(tu_http_status(&srv, q), 400);
    free(body), free(ctype);
    json_decref(v), json_decref(d), json_decref(b), json_decref(lc), json_decref(l);
}
END_TEST

/* Requests the API refuses, each with its status and a JSON reason. */
START_TEST(test_refusals)
{
    static const struct {
        const char *path;
        long status;
        const char *says;
    } cases[] = {
        {"/api/v2/loci", 404, "no route"},
        {"/api/v1/loci/x/y/z", 404, "no route"},
        {"/api/v1/stats?bogus=1", 400, "unknown parameter 'bogus'"},
        {"/api/v1/stats?format=xml", 400, "'format'"},
        {"/api/v1/loci/SKS2020aaaaaaaaaaaa?before=nan", 400, "'before'"},
        {"/api/v1/loci/SKS2020aaaaaaaaaaaa?before=inf", 400, "'before'"},
        {"/api/v1/loci/SKS2020aaaaaaaaaaaa?before=-1", 400, "'before'"},
        {"/api/v1/../../etc/passwd", 404, "no route"},
        {"/api/v1/alerts/%2e%2e%2fetc%2fpasswd", 404, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *e = tu_http_json(&srv, cases[i].path, cases[i].status);
        ck_assert_msg(strstr(jstr(e, "detail"), cases[i].says), "%s: %s", cases[i].path,
                      jstr(e, "detail"));
        json_decref(e);
    }
    /* a path past the limit is refused before routing */
    char *path = malloc(20000);
    memset(path, 'a', 19999);
    memcpy(path, "/api/v1/loci/", 13);
    path[19999] = '\0';
    long st = tu_http_status(&srv, path);
    ck_assert_msg(st == 414 || st == 431, "a 20 kB path: %ld", st);
    free(path);
}
END_TEST

/* A page's JSON (written directly) and its CSV (built through jansson) hold the same values. */
static void page_agrees(const char *query)
{
    char path[512], *csv = NULL, *save = NULL;
    snprintf(path, sizeof path, "%s&format=csv", query);
    json_t *page = tu_http_json(&srv, query, 200), *items = json_object_get(page, "items");
    ck_assert_int_eq(tu_http_get(&srv, path, &csv, NULL, NULL), 200);
    ck_assert_uint_gt(json_array_size(items), 0);
    char *header = strtok_r(csv, "\r\n", &save), *cols[32];
    size_t ncols = 0;
    for (char *c = strtok(header, ","); c && ncols < 32; c = strtok(NULL, ","))
        cols[ncols++] = c;
    for (size_t i = 0; i < json_array_size(items); i++) {
        char *row = strtok_r(NULL, "\r\n", &save), *field = row;
        json_t *it = json_array_get(items, i);
        ck_assert_ptr_nonnull(row);
        for (size_t c = 0; c < ncols; c++) {
            size_t len = strcspn(field, ",");
            json_t *v = json_object_get(it, cols[c]);
            if (!v || json_is_null(v))
                ck_assert_msg(len == 0, "%s row %zu %s: '%.*s'", query, i, cols[c], (int)len,
                              field);
            else if (json_is_string(v))
                ck_assert(len == strlen(json_string_value(v)) &&
                          !strncmp(field, json_string_value(v), len));
            else
                ck_assert_msg(strtod(field, NULL) == json_number_value(v), "%s row %zu %s", query,
                              i, cols[c]);
            field += len + (field[len] == ',');
        }
    }
    free(csv);
    json_decref(page);
}

START_TEST(test_pages_in_json_and_csv_agree)
{
    json_t *l = first_locus();
    char q[256];
    snprintf(q, sizeof q, "/api/v1/loci?ra=%.8f&dec=%.8f&radius=600",
             json_real_value(json_object_get(l, "ra")), json_real_value(json_object_get(l, "dec")));
    page_agrees(q);
    page_agrees("/api/v1/loci?num_alerts.gte=2&sort=brightest_alert_magnitude&page_size=50");
    page_agrees("/api/v1/tags/fast?page_size=50");
    json_decref(l);
}
END_TEST

/* An empty table in CSV still has its header (pandas reads it as an empty frame). */
START_TEST(test_empty_csv_has_a_header)
{
    char *body = NULL;
    ck_assert_int_eq(
        tu_http_get(&srv, "/api/v1/loci?tag=no_such_tag&format=csv", &body, NULL, NULL), 200);
    ck_assert_msg(!strncmp(body, "locus_id,ra,dec,num_alerts,", 27), "%s", body);
    free(body);
}
END_TEST

/* Browsers ask before a cross-origin request with a token; nothing else but reading is allowed. */
START_TEST(test_preflight_and_methods)
{
    tu_server *s = &srv;
    char req[128];
    snprintf(req, sizeof req, "curl -s -o /dev/null -w '%%{http_code}' -X OPTIONS %s/api/v1/stats",
             s->base);
    char *out = NULL;
    ck_assert_int_eq(tu_run(req, &out, NULL), 0);
    ck_assert_str_eq(out, "204");
    free(out);
    snprintf(req, sizeof req, "curl -s -D - -o /dev/null -X PUT %s/api/v1/stats", s->base);
    ck_assert_int_eq(tu_run(req, &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, " 405 "));
    ck_assert_ptr_nonnull(strstr(out, "Allow: GET, HEAD, OPTIONS"));
    free(out);
}
END_TEST

/* A port another server holds is refused, not shared. */
START_TEST(test_port_taken)
{
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(
        tu_sks(&out, &err, "serve --store '%s/st' --listen 127.0.0.1:%d", tu_tmp, srv.port), 1);
    ck_assert_ptr_nonnull(strstr(err, "cannot listen"));
    free(out), free(err);
}
END_TEST

/* Clients join base URLs and paths with a slash too many (ALeRCE's does): the same answer. */
START_TEST(test_double_slashes)
{
    json_t *a = tu_http_json(&srv, "/api/v1/stats", 200);
    json_t *b = tu_http_json(&srv, "//api//v1///stats/", 200);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "alerts")),
                     json_integer_value(json_object_get(b, "alerts")));
    json_decref(a), json_decref(b);
}
END_TEST

START_TEST(test_stats_and_openapi)
{
    char *out = NULL;
    ck_assert_int_eq(tu_sks(&out, NULL, "stats --store '%s/st'", tu_tmp), 0);
    json_t *cli = json_loads(out, 0, NULL), *api = tu_http_json(&srv, "/api/v1/stats", 200);
    ck_assert_int_eq(json_integer_value(json_object_get(cli, "alerts")),
                     json_integer_value(json_object_get(api, "alerts")));
    ck_assert_int_eq(json_integer_value(json_object_get(cli, "loci")),
                     json_integer_value(json_object_get(api, "loci")));
    json_t *doc = tu_http_json(&srv, "/api/v1/openapi.json", 200);
    ck_assert_str_eq(jstr(doc, "openapi"), "3.0.3");
    free(out);
    json_decref(doc), json_decref(cli), json_decref(api);
}
END_TEST

/* ---- a server with a token, and one with a rate limit ---- */

START_TEST(test_token)
{
    tu_server t;
    char *tok = tu_write(tu_tmp, "token", "s3cret-token-of-32-characters-xx\n");
    char *out = NULL, *err = NULL;
    /* an address other machines reach, without a token: refused at start */
    ck_assert_int_eq(tu_sks(&out, &err, "serve --store '%s/st' --listen 0.0.0.0:1", tu_tmp), 1);
    ck_assert_ptr_nonnull(strstr(err, "--token-file"));
    free(out), free(err);
    tu_serve_start(&t, "--store '%s/st' --token-file '%s'", tu_tmp, tok);
    ck_assert_int_eq(tu_http_get_h(&t, "/api/v1/stats", NULL, NULL, NULL, NULL), 401);
    ck_assert_int_eq(
        tu_http_get_h(&t, "/api/v1/stats", "Authorization: Bearer wrong", NULL, NULL, NULL), 401);
    ck_assert_int_eq(tu_http_get_h(&t, "/api/v1/stats",
                                   "Authorization: Bearer s3cret-token-of-32-characters-xx", NULL,
                                   NULL, NULL),
                     200);
    ck_assert_int_eq(
        tu_http_status(&t, "/api/v1/stats?access_token=s3cret-token-of-32-characters-xx"), 200);
    tu_serve_stop(&t);
    /* with a rate, guesses of the token are limited too */
    tu_serve_start(&t, "--store '%s/st' --token-file '%s' --set rate=1 --set burst=3", tu_tmp, tok);
    int limited = 0;
    for (int i = 0; i < 10; i++)
        limited += tu_http_get_h(&t, "/api/v1/stats", "Authorization: Bearer guess", NULL, NULL,
                                 NULL) == 429;
    ck_assert_int_ge(limited, 6);
    tu_serve_stop(&t);
    /* the token never reaches the log */
    char *log = tu_path(tu_tmp, "serve.log");
    size_t len;
    char *text = tu_read_file(log, &len);
    ck_assert_ptr_null(strstr(text, "s3cret"));
    free(text), free(log), free(tok);
}
END_TEST

START_TEST(test_rate_limit)
{
    tu_server t;
    tu_serve_start(&t, "--store '%s/st' --set rate=2 --set burst=5", tu_tmp);
    int ok = 0, limited = 0;
    for (int i = 0; i < 20; i++) {
        char *body = NULL;
        long st = tu_http_get(&t, "/api/v1/stats", &body, NULL, NULL);
        ok += st == 200;
        limited += st == 429 && strstr(body, "retry after") != NULL;
        free(body);
    }
    /* tu_serve_start's own probes took some of the burst */
    ck_assert_msg(ok >= 1 && ok <= 7 && limited >= 13, "ok %d, limited %d", ok, limited);
    sleep(2);
    ck_assert_int_eq(tu_http_status(&t, "/api/v1/stats"), 200);
    tu_serve_stop(&t);
}
END_TEST

/* ---- the shared alerts ---- */

static int have_shared;

static void shared_setup(void)
{
    tu_tmp_setup();
    char *ztf = tu_data_path("the shared ZTF alerts", "ztf");
    char *rubin = tu_data_path("the shared Rubin alerts", "lsst/rubin-lsstcam-v9.0");
    have_shared = ztf && rubin;
    if (have_shared) {
        char *out = NULL;
        ck_assert_int_eq(
            tu_sks(&out, NULL, "ingest --quiet --store '%s/st' '%s' '%s'", tu_tmp, ztf, rubin), 0);
        free(out);
        tu_serve_start(&srv, "--store '%s/st'", tu_tmp);
    }
    free(ztf), free(rubin);
}

static void shared_teardown(void)
{
    if (have_shared)
        tu_serve_stop(&srv);
    tu_tmp_teardown();
}

/* A stamp is the stored bytes, with the content type of their format. */
START_TEST(test_cutouts)
{
    if (!have_shared)
        return;
    json_t *l = tu_http_json(&srv, "/api/v1/loci/ZTF20aabaesm", 200), *a;
    size_t i;
    const char *with = NULL;
    json_array_foreach(json_object_get(l, "alerts"), i,
                       a) if (!strcmp(jstr(a, "kind"), "detection")) with = jstr(a, "alert_id");
    ck_assert_ptr_nonnull(with);
    ck_assert(!strncmp(with, "ztf_candidate:", 14));
    char path[256], *body = NULL, *ctype = NULL, *out = NULL;
    size_t len;
    snprintf(path, sizeof path, "/api/v1/alerts/%s/cutouts/difference", with);
    ck_assert_int_eq(tu_http_get(&srv, path, &body, &len, &ctype), 200);
    ck_assert_str_eq(ctype, "application/gzip");
    ck_assert_int_eq(tu_sks(&out, NULL,
                            "cutout --store '%s/st' --output '%s/d.fits.gz' %s difference", tu_tmp,
                            tu_tmp, with + 14),
                     0);
    char *file = tu_path(tu_tmp, "d.fits.gz");
    size_t flen;
    char *bytes = tu_read_file(file, &flen);
    ck_assert_uint_eq(flen, len);
    ck_assert(!memcmp(bytes, body, len));
    free(bytes), free(file), free(out), free(body), free(ctype);
    json_decref(l);
}
END_TEST

/* Rubin alert ids carry their survey; the light curve's fluxes are Rubin's own nJy, signed. */
START_TEST(test_rubin_ids)
{
    if (!have_shared)
        return;
    char *out = NULL;
    ck_assert_int_eq(tu_sks(&out, NULL, "loci --store '%s/st'", tu_tmp), 0);
    char *line = strstr(out, "\"lsst_object_id\"");
    ck_assert_ptr_nonnull(line);
    while (line > out && line[-1] != '\n')
        line--;
    line[strcspn(line, "\n")] = '\0';
    json_t *l = json_loads(line, 0, NULL);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/loci/%s/lightcurve", jstr(l, "locus_id"));
    json_t *lc = tu_http_json(&srv, path, 200), *p;
    size_t i;
    json_array_foreach(json_object_get(lc, "items"), i, p)
    {
        const char *kind = jstr(p, "kind"), *id = jstr(p, "alert_id");
        const char *want = !strcmp(kind, "detection")     ? "lsst:"
                           : !strcmp(kind, "upper_limit") ? "lsst_upper_limit:"
                                                          : "lsst_forced:";
        ck_assert_msg(!strncmp(id, want, strlen(want)), "%s alert id %s", kind, id);
    }
    ck_assert_uint_gt(json_array_size(json_object_get(lc, "items")), 0);
    free(out);
    json_decref(lc), json_decref(l);
}
END_TEST

/* ---- beside a running broker ---- */

static pid_t broker = 0;

static void broker_teardown(void)
{
    if (broker > 0) {
        kill(broker, SIGKILL);
        waitpid(broker, NULL, 0);
    }
    tu_tmp_teardown();
}

/* Read an open event stream until @p want appears (at most @p seconds). @return what was read
 * (malloc'd). */
static char *read_stream(int fd, const char *want, int seconds)
{
    size_t len = 0, cap = 1 << 16;
    char *buf = calloc(1, cap);
    for (int waited = 0; waited < seconds * 10 && !strstr(buf, want);) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) {
            waited++;
            continue;
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (len + 1 == cap)
            break;
    }
    return buf;
}

static int open_stream(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    ck_assert_int_eq(send(fd, req, (size_t)n, 0), n);
    return fd;
}

/* `skysieve run` with [serve] starts the server beside it: /api/v1/stream carries the broker's
 * tags live, /api/v1/filters its counters; a server that dies is started again; both stop
 * together. */
START_TEST(test_beside_broker)
{
    char *out = NULL;
    ck_assert_int_eq(
        tu_sks(&out, NULL, "simulate --sources 150 --seed 7 --quiet --out '%s/night.csv'", tu_tmp),
        0);
    free(out);
    free(tu_write(tu_tmp, "set.ini", "[filter fast]\npath = " FAST "\n"));
    tu_server b = {.port = tu_free_port()};
    snprintf(b.base, sizeof b.base, "http://127.0.0.1:%d", b.port);
    char conf[1024];
    snprintf(conf, sizeof conf,
             "[broker]\nstore = st\nrun_dir = run\n\n[input pull]\naddress = ipc://%s/in.ipc\n\n"
             "[filters]\nset = set.ini\n\n[output]\npublish = ipc://%s/tags.ipc\n\n"
             "[serve]\nlisten = 127.0.0.1:%d\n",
             tu_tmp, tu_tmp, b.port);
    char *ini = tu_write(tu_tmp, "broker.ini", conf);
    broker = tu_sks_run(ini);
    int up = 0;
    for (int i = 0; i < 200 && !up; i++, usleep(100 * 1000))
        up = tu_http_status(&b, "/api/v1") == 200;
    ck_assert_msg(up, "the server beside the broker did not answer");
    int fd = open_stream(b.port, "/api/v1/stream?tag=fast");
    free(read_stream(fd, "skysieve stream", 5)); /* subscribed before anything is sent */
    ck_assert_int_eq(tu_sks(&out, NULL, "send ipc://%s/in.ipc '%s/night.csv'", tu_tmp, tu_tmp), 0);
    free(out);
    char *events = read_stream(fd, "event: tag", 60);
    close(fd);
    ck_assert_msg(strstr(events, "event: tag\ndata: {") != NULL, "no tag event: %s", events);
    free(events);
    json_t *f = tu_http_json(&b, "/api/v1/filters", 200),
           *fast = json_array_get(json_object_get(f, "items"), 0);
    ck_assert_int_gt(json_integer_value(json_object_get(fast, "runs")), 0);
    json_decref(f);
    /* kill the server: the broker starts another */
    json_t *st = tu_ctl_status(ini);
    pid_t first = (pid_t)tu_json_int(st, "serve.pid");
    json_decref(st);
    ck_assert_int_gt(first, 0);
    kill(first, SIGKILL);
    int back = 0;
    for (int i = 0; i < 100 && !back; i++, usleep(100 * 1000)) {
        st = tu_ctl_status(ini);
        back = tu_json_int(st, "serve.restarts") == 1 && tu_json_int(st, "serve.pid") != first &&
               tu_http_status(&b, "/api/v1") == 200;
        json_decref(st);
    }
    ck_assert_msg(back, "the server was not started again");
    tu_broker_stop(&broker);
    ck_assert_int_eq(tu_http_status(&b, "/api/v1"), 0); /* it stopped with the broker */
    free(ini);
}
END_TEST

static Suite *serve_suite(void)
{
    Suite *s = suite_create("serve");
    TCase *night = tcase_create("night");
    tcase_add_unchecked_fixture(night, night_setup, night_teardown);
    tcase_set_timeout(night, 300);
    tcase_add_test(night, test_locus_by_id_and_object);
    tcase_add_test(night, test_locus_not_found);
    tcase_add_test(night, test_lightcurve);
    tcase_add_test(night, test_refusals);
    tcase_add_test(night, test_double_slashes);
    tcase_add_test(night, test_empty_csv_has_a_header);
    tcase_add_test(night, test_pages_in_json_and_csv_agree);
    tcase_add_test(night, test_preflight_and_methods);
    tcase_add_test(night, test_port_taken);
    tcase_add_test(night, test_stats_and_openapi);
    tcase_add_test(night, test_token);
    tcase_add_test(night, test_rate_limit);
    suite_add_tcase(s, night);
    TCase *shared = tcase_create("shared");
    tcase_add_unchecked_fixture(shared, shared_setup, shared_teardown);
    tcase_set_timeout(shared, 300);
    tcase_add_test(shared, test_cutouts);
    tcase_add_test(shared, test_rubin_ids);
    suite_add_tcase(s, shared);
    TCase *beside = tcase_create("beside");
    tcase_add_checked_fixture(beside, tu_tmp_setup, broker_teardown);
    tcase_set_timeout(beside, 300);
    tcase_add_test(beside, test_beside_broker);
    suite_add_tcase(s, beside);
    return s;
}

int main(void)
{
    return tu_run_suite(serve_suite());
}
