/* skysieve gw load|list|remove|at: gravitational-wave sky maps in a store (core/assoc/skymap.h). */
#include "cli.h"
#include "fileio.h"
#include "gcn_in.h"
#include "json_text.h"
#include "publish.h"
#include "skymap.h"
#include "sky.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char ssi_gw_help[] =
    "usage: skysieve gw load --store DIR [--name ID] SKYMAP\n"
    "       skysieve gw list --store DIR [--json]\n"
    "       skysieve gw remove --store DIR ID\n"
    "       skysieve gw at --store DIR ID RA DEC [RA DEC ...]\n"
    "       skysieve gw loci --store DIR [--level L] [--since MJD] ID\n"
    "       skysieve gw notice --store DIR [--no-queue] NOTICE.json...\n"
    "Options come before the arguments.\n\n"
    "Gravitational-wave sky maps (LIGO/Virgo/KAGRA): multi-order FITS (ORDERING = NUNIQ:\n"
    "UNIQ, PROBDENSITY, DISTMU, DISTSIGMA, DISTNORM) or flat HEALPix (RING or NESTED: PROB and\n"
    "the distance layers), gzip-compressed or not. The event id (OBJECT, or --name), the merger\n"
    "time (MJD-OBS) and the distance (DISTMEAN, DISTSTD) come from the header. Loading a map\n"
    "whose id is stored replaces it (an updated alert's map). `at` prints, per position "
    "(degrees),\n"
    "one JSON line: the credible level there (inside the 90% region when <= 0.9), the\n"
    "probability density (sr^-1), and the distance's mean and standard deviation along that line\n"
    "of sight (Mpc). `loci` prints the stored loci inside the event's credible region of level L\n"
    "(0.9) with a detection at or after MJD (default: a day before the merger), one JSON line\n"
    "each, densest first, found through the sky index. `notice` applies IGWN alert notices (the\n"
    "JSON of GCN Kafka's igwn.gwalert topic, the map base64 in event.skymap): a RETRACTION\n"
    "removes the event, any other stores its map (replacing an earlier one) and queues the loci\n"
    "already in its region for the broker's dispatch (--no-queue: not). The store is created\n"
    "when absent.\n";

enum { O_STORE = 1, O_NAME, O_JSON, O_LEVEL, O_SINCE, O_NO_QUEUE, O_HELP };

typedef struct ssi_gw_cli {
    const char *store, *name;
    int json;
    double level, since; /* gw loci; since NAN: the merger minus a day */
    int no_queue;        /* gw notice */
} ssi_gw_cli;

static int ssi_gw_parse(int argc, char **argv, ssi_gw_cli *c)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, O_STORE}, {"name", required_argument, 0, O_NAME},
        {"json", no_argument, 0, O_JSON},         {"help", no_argument, 0, O_HELP},
        {"level", required_argument, 0, O_LEVEL}, {"since", required_argument, 0, O_SINCE},
        {"no-queue", no_argument, 0, O_NO_QUEUE}, {0, 0, 0, 0},
    };
    int ch;
    /* "+": options end at the first argument, so a declination of -40 is not an option */
    while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (ch) {
        case O_STORE: c->store = optarg; break;
        case O_NAME:
            if (strlen(optarg) >= SS_SKYMAP_ID_MAX || !optarg[0])
                return ss_cli_usage("gw", "--name: 1 to %d characters", SS_SKYMAP_ID_MAX - 1);
            c->name = optarg;
            break;
        case O_JSON: c->json = 1; break;
        case O_NO_QUEUE: c->no_queue = 1; break;
        case O_LEVEL:
            if (ss_cli_double(optarg, &c->level) || !(c->level > 0 && c->level <= 1))
                return ss_cli_usage("gw", "--level: '%s' is not a level in (0, 1]", optarg);
            break;
        case O_SINCE:
            if (ss_cli_double(optarg, &c->since))
                return ss_cli_usage("gw", "--since: '%s' is not an MJD", optarg);
            break;
        case O_HELP: fputs(ssi_gw_help, stdout); return -1;
        default: return ss_cli_usage("gw", "unknown option");
        }
    }
    return c->store ? 0 : ss_cli_usage("gw", "--store DIR is required");
}

/* Runs @p fn in one transaction of @p mode over the store. */
static int ssi_gw_txn(const char *dir, int mode, int (*fn)(ss_store_txn *t, void *arg), void *arg,
                      ss_err *err)
{
    ss_store_options so = {.create = mode == SS_STORE_WRITE, .readonly = mode == SS_STORE_READ};
    ss_store *s;
    if (ss_store_open(dir, &so, &s, err))
        return err->code;
    ss_store_txn *t;
    int rc = ss_store_txn_begin(s, mode, &t);
    if (rc == 0) {
        rc = fn(t, arg);
        if (rc == 0 && mode == SS_STORE_WRITE)
            rc = ss_store_txn_commit(t);
        else
            ss_store_txn_abort(t);
    }
    ss_store_close(s);
    return rc;
}

static int ssi_gw_put(ss_store_txn *t, void *arg)
{
    return ss_assoc_skymap_put(t, arg);
}

static int ssi_gw_load(ssi_gw_cli *c, int nargs, char **args)
{
    if (nargs != 1)
        return ss_cli_usage("gw", "load: expected one SKYMAP file, got %d", nargs);
    ss_err err = {0};
    ss_assoc_skymap *m;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ss_assoc_skymap_read(args[0], c->name, &m, &err))
        return ss_cli_fail(&err);
    int rc = ssi_gw_txn(c->store, SS_STORE_WRITE, ssi_gw_put, m, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const ss_assoc_skymap_info *in = ss_assoc_skymap_info_of(m);
    if (rc == 0)
        printf("event %s: %zu pixels (orders up to %d), merger MJD %.5f, distance %.0f +- %.0f "
               "Mpc, 90%% region %.1f deg2; loaded in %.3f s\n",
               in->id, in->npix, in->max_order, in->mjd, in->distmean, in->diststd, in->area90,
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    ss_assoc_skymap_free(m);
    if (rc && !err.code)
        ss_err_set(&err, rc, "%s: storing the map: %s", c->store, ss_strerror(rc));
    return rc ? ss_cli_fail(&err) : SS_EXIT_OK;
}

static int ssi_gw_row(const ss_assoc_skymap_info *in, void *arg)
{
    ssi_gw_cli *c = arg;
    if (!c->json) {
        printf("%s  merger MJD %.5f  %.0f +- %.0f Mpc  90%% region %.1f deg2  %zu pixels\n", in->id,
               in->mjd, in->distmean, in->diststd, in->area90, in->npix);
        return 0;
    }
    json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:i, s:b, s:o}", "id", in->id, "mjd",
                          ss_json_num(in->mjd), "distmean", ss_json_num(in->distmean), "diststd",
                          ss_json_num(in->diststd), "area90_deg2", ss_json_num(in->area90),
                          "pixels", (json_int_t)in->npix, "max_order", in->max_order, "distance",
                          in->has_distance, "loaded", ss_json_num(in->loaded));
    ss_publish_gw_class(o, &in->cls);
    json_dumpf(o, stdout, SS_JSON_FLAGS);
    fputc('\n', stdout);
    json_decref(o);
    return 0;
}

static int ssi_gw_each(ss_store_txn *t, void *arg)
{
    return ss_assoc_skymap_each(t, ssi_gw_row, arg);
}

static int ssi_gw_remove_txn(ss_store_txn *t, void *arg)
{
    return ss_assoc_skymap_remove(t, arg);
}

typedef struct ssi_gw_at {
    const char *id;
    int n;
    char **pos;
    ss_err *err;
} ssi_gw_at;

static void ssi_gw_point(const ss_assoc_skymap *m, double ra, double dec)
{
    ss_assoc_skymap_point p;
    int rc = ss_assoc_skymap_at(m, ra, dec, &p);
    json_t *o =
        json_pack("{s:f, s:f, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "ra", ra, "dec", dec,
                  "credible_level", ss_json_num(p.credible_level), "probdensity",
                  ss_json_num(p.probdensity), "distmu", ss_json_num(p.distmu), "distsigma",
                  ss_json_num(p.distsigma), "distnorm", ss_json_num(p.distnorm), "dist_mean",
                  ss_json_num(p.dist_mean), "dist_std", ss_json_num(p.dist_std));
    if (rc)
        json_object_set_new(o, "error", json_string("no pixel of the map covers this position"));
    json_dumpf(o, stdout, SS_JSON_FLAGS);
    fputc('\n', stdout);
    json_decref(o);
}

static int ssi_gw_at_txn(ss_store_txn *t, void *arg)
{
    ssi_gw_at *a = arg;
    ss_assoc_skymap *m;
    int rc = ss_assoc_skymap_get(t, a->id, &m);
    if (rc)
        return ss_err_set(a->err, rc, "no sky map '%s' in the store", a->id);
    for (int i = 0; i + 1 < a->n; i += 2) {
        double ra, dec;
        const char *why;
        if (ss_sky_parse_angle(a->pos[i], 1, &ra, &why) ||
            ss_sky_parse_angle(a->pos[i + 1], 0, &dec, &why)) {
            rc = ss_err_set(a->err, SS_EINVAL, "'%s %s': %s", a->pos[i], a->pos[i + 1], why);
            break;
        }
        ssi_gw_point(m, ra, dec);
    }
    ss_assoc_skymap_free(m);
    return rc;
}

typedef struct ssi_gw_loci {
    ssi_gw_cli *c;
    const char *id;
    ss_err *err;
    json_t *rows;
} ssi_gw_loci;

static int ssi_gw_locus_row(void *ctx, const ss_locus *l, const ss_assoc_skymap_point *p)
{
    ssi_gw_loci *a = ctx;
    json_t *o =
        json_pack("{s:s, s:f, s:f, s:i, s:o, s:o, s:o, s:o, s:o}", "locus_id", l->id, "ra", l->ra,
                  "dec", l->dec, "num_alerts", (int)l->num_alerts, "newest_mjd",
                  ss_json_num(l->newest.mjd), "credible_level", ss_json_num(p->credible_level),
                  "probdensity", ss_json_num(p->probdensity), "dist_mean",
                  ss_json_num(p->dist_mean), "dist_std", ss_json_num(p->dist_std));
    return o ? json_array_append_new(a->rows, o) : SS_ENOMEM;
}

static int ssi_by_density(const void *x, const void *y)
{
    double a = json_real_value(json_object_get(*(json_t *const *)x, "probdensity"));
    double b = json_real_value(json_object_get(*(json_t *const *)y, "probdensity"));
    return (a < b) - (a > b);
}

static int ssi_gw_loci_txn(ss_store_txn *t, void *arg)
{
    ssi_gw_loci *a = arg;
    ss_assoc_skymap *m;
    int rc = ss_assoc_skymap_get(t, a->id, &m);
    if (rc)
        return ss_err_set(a->err, rc, "no sky map '%s' in the store", a->id);
    double merger = ss_assoc_skymap_info_of(m)->mjd;
    double since = !isnan(a->c->since) ? a->c->since
                   : isfinite(merger)  ? merger - SS_GW_WINDOW_BEFORE
                                       : -INFINITY;
    rc = ss_assoc_skymap_loci(t, m, a->c->level > 0 ? a->c->level : SS_GW_LEVEL, since,
                              ssi_gw_locus_row, a);
    ss_assoc_skymap_free(m);
    return rc;
}

/* The loci of the region, densest first. */
static int ssi_gw_loci_run(ssi_gw_cli *c, const char *id, ss_err *err)
{
    ssi_gw_loci a = {c, id, err, json_array()};
    int rc = a.rows ? ssi_gw_txn(c->store, SS_STORE_READ, ssi_gw_loci_txn, &a, err) : SS_ENOMEM;
    size_t n = json_array_size(a.rows);
    json_t **v = n ? malloc(n * sizeof *v) : NULL;
    for (size_t i = 0; v && i < n; i++)
        v[i] = json_array_get(a.rows, i);
    if (v)
        qsort(v, n, sizeof *v, ssi_by_density);
    for (size_t i = 0; !rc && v && i < n; i++) {
        json_dumpf(v[i], stdout, SS_JSON_FLAGS);
        fputc('\n', stdout);
    }
    if (n && !v && !rc)
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    free(v);
    json_decref(a.rows);
    return rc;
}

/* Each notice file in its own transaction; a bad one is named and the rest still applied. */
static int ssi_gw_notices(ssi_gw_cli *c, int nargs, char **args)
{
    ss_store_options so = {.create = 1};
    ss_store *s;
    ss_err err = {0};
    if (ss_store_open(c->store, &so, &s, &err))
        return ss_cli_fail(&err);
    int failed = 0;
    for (int i = 0; i < nargs; i++) {
        ss_err e = {0};
        size_t len = 0;
        char *text = NULL;
        ss_ingest_gcn_result r;
        if (ss_file_read(args[i], &text, &len, &e) ||
            ss_ingest_gcn_apply(s, text, len, args[i], !c->no_queue, &r, &e)) {
            failed = ss_cli_fail(&e);
        } else if (!strcmp(r.alert_type, "RETRACTION")) {
            printf("%s: %s RETRACTION: %s\n", args[i], r.event,
                   r.removed ? "map removed" : "no map was stored");
        } else
            printf("%s: %s %s: map stored (%zu pixels, 90%% region %.1f deg2, merger MJD %.5f), "
                   "%zu loci already in the region queued for dispatch\n",
                   args[i], r.event, r.alert_type, r.pixels, r.area90, r.merger_mjd, r.queued);
        free(text);
    }
    ss_store_close(s);
    return failed ? SS_EXIT_FAIL : SS_EXIT_OK;
}

static int ssi_gw_run(ssi_gw_cli *c, const char *verb, int nargs, char **args)
{
    ss_err err = {0};
    int rc;
    if (!strcmp(verb, "load"))
        return ssi_gw_load(c, nargs, args);
    if (!strcmp(verb, "list")) {
        if (nargs)
            return ss_cli_usage("gw", "list takes no arguments");
        rc = ssi_gw_txn(c->store, SS_STORE_READ, ssi_gw_each, c, &err);
    } else if (!strcmp(verb, "remove")) {
        if (nargs != 1)
            return ss_cli_usage("gw", "remove: expected one event ID");
        rc = ssi_gw_txn(c->store, SS_STORE_WRITE, ssi_gw_remove_txn, args[0], &err);
        if (rc == SS_ENOTFOUND)
            ss_err_set(&err, rc, "no sky map '%s' in the store", args[0]);
    } else if (!strcmp(verb, "at")) {
        if (nargs < 3 || nargs % 2 == 0)
            return ss_cli_usage("gw", "at: expected an event ID and RA DEC pairs");
        ssi_gw_at a = {args[0], nargs - 1, args + 1, &err};
        rc = ssi_gw_txn(c->store, SS_STORE_READ, ssi_gw_at_txn, &a, &err);
    } else if (!strcmp(verb, "notice")) {
        if (nargs < 1)
            return ss_cli_usage("gw", "notice: expected NOTICE.json files");
        return ssi_gw_notices(c, nargs, args);
    } else if (!strcmp(verb, "loci")) {
        if (nargs != 1)
            return ss_cli_usage("gw", "loci: expected one event ID");
        rc = ssi_gw_loci_run(c, args[0], &err);
    } else
        return ss_cli_usage("gw", "unknown action '%s' (load, list, remove, at, loci or notice)",
                            verb);
    if (rc && !err.code)
        ss_err_set(&err, rc, "%s: %s", c->store, ss_strerror(rc));
    return rc ? ss_cli_fail(&err) : SS_EXIT_OK;
}

int ss_cmd_gw(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(ssi_gw_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? SS_EXIT_USAGE : SS_EXIT_OK;
    }
    ssi_gw_cli c = {.since = NAN};
    int rc = ssi_gw_parse(argc - 1, argv + 1, &c);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    return ssi_gw_run(&c, argv[1], argc - 1 - optind, argv + 1 + optind);
}
