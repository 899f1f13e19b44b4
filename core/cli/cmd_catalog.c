/* skysieve catalog load|list|drop and skysieve watch add|list|drop. */
#include "catalog.h"
#include "cli.h"
#include "query.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char ssi_catalog_help[] =
    "usage: skysieve catalog load --store DIR --name NAME [options] FILE\n"
    "       skysieve catalog list --store DIR [--json]\n"
    "       skysieve catalog drop --store DIR --name NAME\n\n"
    "Load a catalog (CSV, or a FITS binary table: .fits, .fits.gz) into a store. Every locus is\n"
    "matched against it: new loci when they are created, older ones when next updated.\n\n"
    "load options:\n"
    "  --radius ARCSEC        match radius for every row (default 1)\n"
    "  --radius-column COL    per-row match radius from a column instead\n"
    "  --radius-unit UNIT     unit of --radius-column: arcsec (default), arcmin or deg\n"
    "  --ra-column COL        RA column (default: detected: ra, RAJ2000, R.A., RA_ICRS, ...)\n"
    "  --dec-column COL       Dec column (default: detected: dec, DEJ2000, Decl, ...)\n"
    "  --id-column COL        the object id column (default: detected: name, *_name, id, ...;\n"
    "                         none: the row number)\n"
    "  --columns A,B,C        columns to keep (default: all)\n"
    "  --replace              replace a catalog of that name\n"
    "Coordinates: decimal degrees, or sexagesimal (RA in hours: \"00 01 16.37\", \"00:01:16.37\",\n"
    "\"12h34m56.7s\"; Dec in degrees: \"+29 35 34.0\", \"-12d34m56s\"). Bad rows are counted and "
    "the\n"
    "first ones reported; the rest loads. The store is created when absent.\n";

static const char ssi_watch_help[] =
    "usage: skysieve watch add --store DIR --name LIST [--webhook URL] [--replace] FILE\n"
    "       skysieve watch list --store DIR [--json]\n"
    "       skysieve watch drop --store DIR --name LIST\n\n"
    "Watch positions: FILE is a CSV with the header name,ra,dec,radius (radius in arcsec; ra and\n"
    "dec in decimal degrees or sexagesimal). A locus within an object's radius is on the list;\n"
    "each new hit is written to the store's outbox, which a running broker delivers (published as\n"
    "watch.LIST, and POSTed to the list's --webhook). `skysieve ingest` leaves the outbox to\n"
    "accumulate.\n";

typedef struct ssi_cat_cli {
    const char *cmd; /* "catalog" or "watch" */
    ss_catalog_kind kind;
    const char *store;
    int json;
    ss_assoc_catalog_options lo;
} ssi_cat_cli;

enum {
    O_STORE = 1,
    O_NAME,
    O_RADIUS,
    O_RADIUS_COL,
    O_RADIUS_UNIT,
    O_RA,
    O_DEC,
    O_ID,
    O_COLUMNS,
    O_REPLACE,
    O_WEBHOOK,
    O_JSON,
    O_HELP
};

static int ssi_unit(const char *u, double *out)
{
    if (!strcmp(u, "arcsec"))
        *out = 1;
    else if (!strcmp(u, "arcmin"))
        *out = 60;
    else if (!strcmp(u, "deg"))
        *out = 3600;
    else
        return -1;
    return 0;
}

static int ssi_cat_option(ssi_cat_cli *c, int ch, const char *arg)
{
    ss_assoc_catalog_options *o = &c->lo;
    int watch = c->kind == SS_CATALOG_KIND_WATCH;
    switch (ch) {
    case O_STORE: c->store = arg; break;
    case O_NAME: o->name = arg; break;
    case O_RADIUS:
        if (watch || ss_cli_double(arg, &o->radius_arcsec) || o->radius_arcsec <= 0)
            return ss_cli_usage(c->cmd, "--radius: '%s' is not a radius in arcsec above 0", arg);
        break;
    case O_RADIUS_COL: o->radius_column = arg; break;
    case O_RADIUS_UNIT:
        if (ssi_unit(arg, &o->radius_unit_arcsec))
            return ss_cli_usage(c->cmd, "--radius-unit: '%s' is not arcsec, arcmin or deg", arg);
        break;
    case O_RA: o->ra_column = arg; break;
    case O_DEC: o->dec_column = arg; break;
    case O_ID: o->id_column = arg; break;
    case O_COLUMNS: o->columns = arg; break;
    case O_REPLACE: o->replace = 1; break;
    case O_WEBHOOK: o->webhook = arg; break;
    case O_JSON: c->json = 1; break;
    default: return ss_cli_usage(c->cmd, "unknown option");
    }
    return 0;
}

/* @return 0 to run, -1 after --help, or SS_EXIT_USAGE. */
static int ssi_cat_parse(int argc, char **argv, ssi_cat_cli *c)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, O_STORE},
        {"name", required_argument, 0, O_NAME},
        {"radius", required_argument, 0, O_RADIUS},
        {"radius-column", required_argument, 0, O_RADIUS_COL},
        {"radius-unit", required_argument, 0, O_RADIUS_UNIT},
        {"ra-column", required_argument, 0, O_RA},
        {"dec-column", required_argument, 0, O_DEC},
        {"id-column", required_argument, 0, O_ID},
        {"columns", required_argument, 0, O_COLUMNS},
        {"replace", no_argument, 0, O_REPLACE},
        {"webhook", required_argument, 0, O_WEBHOOK},
        {"json", no_argument, 0, O_JSON},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    int ch, rc;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == O_HELP)
            return fputs(c->kind == SS_CATALOG_KIND_WATCH ? ssi_watch_help : ssi_catalog_help,
                         stdout),
                   -1;
        if ((rc = ssi_cat_option(c, ch, optarg)))
            return rc;
    }
    if (!c->store)
        return ss_cli_usage(c->cmd, "--store DIR is required");
    return 0;
}

static void ssi_note(void *ctx, const char *text)
{
    (void)ctx;
    fprintf(stderr, "skysieve: %s\n", text);
}

static int ssi_cat_load(ssi_cat_cli *c, int nargs, char **args)
{
    const char *what = c->kind == SS_CATALOG_KIND_WATCH ? "watch list" : "catalog";
    if (!c->lo.name)
        return ss_cli_usage(c->cmd, "--name is required");
    if (nargs != 1)
        return ss_cli_usage(c->cmd, "expected one FILE, got %d", nargs);
    if (c->lo.radius_column && c->lo.radius_arcsec)
        return ss_cli_usage(c->cmd, "--radius and --radius-column exclude each other");
    if (c->lo.radius_unit_arcsec && !c->lo.radius_column)
        return ss_cli_usage(c->cmd, "--radius-unit needs --radius-column");
    if (c->lo.webhook && c->kind != SS_CATALOG_KIND_WATCH)
        return ss_cli_usage(c->cmd, "--webhook is for watch lists");
    if (c->kind == SS_CATALOG_KIND_WATCH) { /* the watch-list file's fixed layout */
        c->lo.ra_column = "ra", c->lo.dec_column = "dec", c->lo.id_column = "name";
        c->lo.radius_column = "radius";
    }
    c->lo.path = args[0];
    c->lo.kind = c->kind;
    c->lo.note = ssi_note;
    ss_store_options so = {.create = 1};
    ss_store *s;
    ss_err err = {0};
    if (ss_store_open(c->store, &so, &s, &err))
        return ss_cli_fail(&err);
    ss_assoc_catalog_result r;
    int rc = ss_assoc_catalog_load(s, &c->lo, &r, &err);
    ss_store_close(s);
    if (rc)
        return ss_cli_fail(&err);
    printf("%s %s: %llu rows loaded, %llu bad rows, %.1f s (%.0f rows/s)\n", what, c->lo.name,
           (unsigned long long)r.rows, (unsigned long long)r.bad, r.seconds,
           r.seconds > 0 ? (double)r.rows / r.seconds : 0.0);
    return SS_EXIT_OK;
}

static void ssi_cat_print(const json_t *arr, int watch)
{
    size_t i;
    json_t *o;
    if (json_array_size(arr) == 0)
        printf("no %s\n", watch ? "watch lists" : "catalogs");
    json_array_foreach(arr, i, o)
    {
        const char *rcol = json_string_value(json_object_get(o, "radius_column"));
        char radius[160];
        if (rcol)
            snprintf(radius, sizeof radius, "radius column %s (x%g arcsec)", rcol,
                     json_real_value(json_object_get(o, "radius_unit_arcsec")));
        else
            snprintf(radius, sizeof radius, "radius %g arcsec",
                     json_real_value(json_object_get(o, "radius_arcsec")));
        printf("%s  %s  %lld rows  %s  loaded %s from %s\n",
               json_string_value(json_object_get(o, "name")),
               json_string_value(json_object_get(o, "state")),
               (long long)json_integer_value(json_object_get(o, "rows")), radius,
               json_string_value(json_object_get(o, "loaded")),
               json_string_value(json_object_get(o, "source")));
        json_t *cols = json_object_get(o, "columns"), *col;
        size_t k;
        printf("    columns:");
        json_array_foreach(cols, k, col) printf("%s%s", k ? ", " : " ", json_string_value(col));
        const char *hook = json_string_value(json_object_get(o, "webhook"));
        printf("\n%s%s%s", hook ? "    webhook: " : "", hook ? hook : "", hook ? "\n" : "");
    }
}

static int ssi_cat_list(ssi_cat_cli *c, int nargs)
{
    if (nargs)
        return ss_cli_usage(c->cmd, "list takes no arguments");
    ss_store_options so = {.readonly = 1};
    ss_store *s;
    ss_err err = {0};
    json_t *arr;
    if (ss_store_open(c->store, &so, &s, &err))
        return ss_cli_fail(&err);
    int rc = ss_assoc_catalog_list(s, c->kind, &arr, &err);
    ss_store_close(s);
    if (rc)
        return ss_cli_fail(&err);
    if (c->json) {
        json_dumpf(arr, stdout, SS_JSON_FLAGS);
        fputc('\n', stdout);
    } else
        ssi_cat_print(arr, c->kind == SS_CATALOG_KIND_WATCH);
    json_decref(arr);
    return SS_EXIT_OK;
}

static int ssi_cat_drop(ssi_cat_cli *c, int nargs)
{
    if (!c->lo.name)
        return ss_cli_usage(c->cmd, "--name is required");
    if (nargs)
        return ss_cli_usage(c->cmd, "drop takes no arguments");
    ss_store *s;
    ss_err err = {0};
    if (ss_store_open(c->store, NULL, &s, &err))
        return ss_cli_fail(&err);
    int rc = ss_assoc_catalog_drop(s, c->lo.name, c->kind, &err);
    ss_store_close(s);
    return rc ? ss_cli_fail(&err) : SS_EXIT_OK;
}

static int ssi_cat_main(int argc, char **argv, ssi_cat_cli *c, const char *load_verb)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(c->kind == SS_CATALOG_KIND_WATCH ? ssi_watch_help : ssi_catalog_help,
              argc < 2 ? stderr : stdout);
        return argc < 2 ? SS_EXIT_USAGE : SS_EXIT_OK;
    }
    const char *verb = argv[1];
    int rc = ssi_cat_parse(argc - 1, argv + 1, c);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if (!strcmp(verb, load_verb))
        return ssi_cat_load(c, nargs, args);
    if (!strcmp(verb, "list"))
        return ssi_cat_list(c, nargs);
    if (!strcmp(verb, "drop"))
        return ssi_cat_drop(c, nargs);
    return ss_cli_usage(c->cmd, "unknown action '%s' (%s, list or drop)", verb, load_verb);
}

int ss_cmd_catalog(int argc, char **argv)
{
    ssi_cat_cli c = {.cmd = "catalog", .kind = SS_CATALOG_KIND_CATALOG};
    return ssi_cat_main(argc, argv, &c, "load");
}

int ss_cmd_watch(int argc, char **argv)
{
    ssi_cat_cli c = {.cmd = "watch", .kind = SS_CATALOG_KIND_WATCH};
    return ssi_cat_main(argc, argv, &c, "add");
}
