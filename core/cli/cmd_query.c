/* The read-only commands: locus, cone, loci, stats, rejected. */
#include "cli.h"
#include "query.h"
#include "verify.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* A run function's "usage error already printed": distinct from every error code. */
#define SSI_USAGE_SHOWN INT_MIN

typedef struct ssi_query_cli {
    const char *name;
    const char *help;
    int nargs; /* positional arguments required */
    const char *store;
    const char *reason;
    ss_query_locus_options locus; /* locus: --as-of, --before */
    int tables;                   /* stats: --tables */
} ssi_query_cli;

/* Parse --store, --help (and --reason where the command takes it). @return 0 to run, -1 after help,
 * or SS_EXIT_USAGE. */
static int ssi_parse_query(int argc, char **argv, ssi_query_cli *q)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},
        {"reason", required_argument, 0, 'r'},
        {"as-of", required_argument, 0, 'a'},
        {"before", required_argument, 0, 'b'},
        {"tables", no_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 's')
            q->store = optarg;
        else if (ch == 'r' && !strcmp(q->name, "rejected"))
            q->reason = optarg;
        else if (ch == 'a' && !strcmp(q->name, "locus"))
            q->locus.as_of = optarg;
        else if (ch == 'b' && !strcmp(q->name, "locus") &&
                 (ss_cli_double(optarg, &q->locus.before) || !(q->locus.before > 0)))
            return ss_cli_usage(q->name, "--before takes a positive MJD");
        else if (ch == 'b' && !strcmp(q->name, "locus"))
            continue;
        else if (ch == 't' && !strcmp(q->name, "stats"))
            q->tables = 1;
        else if (ch == 'h')
            return fputs(q->help, stdout), -1;
        else
            return ss_cli_usage(q->name, "unknown option");
    }
    if (!q->store)
        return ss_cli_usage(q->name, "--store DIR is required");
    if (argc - optind != q->nargs)
        return ss_cli_usage(q->name, "expected %d argument%s, got %d", q->nargs,
                            q->nargs == 1 ? "" : "s", argc - optind);
    return 0;
}

static int ssi_open_ro(const ssi_query_cli *q, ss_store **s, ss_err *err)
{
    ss_store_options o = {.readonly = 1};
    return ss_store_open(q->store, &o, s, err);
}

static int ssi_print_json(json_t *o)
{
    json_dumpf(o, stdout, SS_JSON_FLAGS);
    fputc('\n', stdout);
    json_decref(o);
    return SS_EXIT_OK;
}

/* Parse, open the store read-only and hand over to @p run. */
static int ssi_query_main(int argc, char **argv, ssi_query_cli *q,
                          int (*run)(ss_store *, const ssi_query_cli *, char **, ss_err *))
{
    int rc = ssi_parse_query(argc, argv, q);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    ss_err err = {0};
    ss_store *s;
    if (ssi_open_ro(q, &s, &err))
        return ss_cli_fail(&err);
    rc = run(s, q, argv + optind, &err);
    ss_store_close(s);
    return rc == SSI_USAGE_SHOWN ? SS_EXIT_USAGE : rc ? ss_cli_fail(&err) : SS_EXIT_OK;
}

static int ssi_run_locus(ss_store *s, const ssi_query_cli *q, char **args, ss_err *err)
{
    json_t *o;
    int rc = ss_query_locus(s, args[0], &q->locus, &o, err);
    return rc ? rc : ssi_print_json(o);
}

int ss_cmd_locus(int argc, char **argv)
{
    ssi_query_cli q = {
        .name = "locus",
        .nargs = 1,
        .help = "usage: skysieve locus --store DIR ID [--as-of ALERT_ID | --before MJD]\n\n"
                "Print the locus with locus id ID (like SKY2026d9x4wg000000) or the\n"
                "locus of survey object ID (like ZTF18abcdefg) as one JSON object:\n"
                "locus_id, ra, dec, properties, alerts (in time order), tags, matches.\n"
                "  --as-of ALERT_ID  as a filter saw it running for that alert: the\n"
                "                    measurements stored before or with its packet, the\n"
                "                    properties of then, the tags earlier alerts set\n"
                "  --before MJD      only what was observed before MJD\n"
                "Filter-written properties are shown as stored now (the store keeps no\n"
                "history of them).\n"};
    return ssi_query_main(argc, argv, &q, ssi_run_locus);
}

static int ssi_run_cone(ss_store *s, const ssi_query_cli *q, char **args, ss_err *err)
{
    double ra, dec, r;
    if (ss_cli_double(args[0], &ra) || ss_cli_double(args[1], &dec) || ss_cli_double(args[2], &r))
        return ss_cli_usage(q->name, "RA, DEC and RADIUS_ARCSEC must be numbers"), SSI_USAGE_SHOWN;
    return ss_query_cone(s, ra, dec, r, stdout, err);
}

int ss_cmd_cone(int argc, char **argv)
{
    ssi_query_cli q = {.name = "cone",
                       .nargs = 3,
                       .help =
                           "usage: skysieve cone --store DIR RA DEC RADIUS_ARCSEC\n\n"
                           "Print one JSON line per locus within RADIUS_ARCSEC of (RA, DEC) in\n"
                           "degrees, nearest first, with its separation_arcsec.\n"};
    return ssi_query_main(argc, argv, &q, ssi_run_cone);
}

static int ssi_run_loci(ss_store *s, const ssi_query_cli *q, char **args, ss_err *err)
{
    (void)q, (void)args;
    return ss_query_loci(s, stdout, err);
}

int ss_cmd_loci(int argc, char **argv)
{
    ssi_query_cli q = {.name = "loci",
                       .nargs = 0,
                       .help =
                           "usage: skysieve loci --store DIR\n\n"
                           "Print a JSON line per locus (locus_id, ra, dec, num_alerts, ...), in\n"
                           "locus id order.\n"};
    return ssi_query_main(argc, argv, &q, ssi_run_loci);
}

static int ssi_run_stats(ss_store *s, const ssi_query_cli *q, char **args, ss_err *err)
{
    (void)args;
    json_t *o, *fp = NULL;
    int rc = ss_query_stats(s, &o, err);
    if (!rc && q->tables && (rc = ss_query_footprint(s, &fp, err)))
        json_decref(o);
    if (rc)
        return rc;
    if (fp)
        json_object_set_new(o, "footprint", fp);
    return ssi_print_json(o);
}

int ss_cmd_stats(int argc, char **argv)
{
    ssi_query_cli q = {.name = "stats",
                       .nargs = 0,
                       .help = "usage: skysieve stats --store DIR [--tables]\n\n"
                               "Print the store's counts as one JSON object: alerts (every kind),\n"
                               "detections, upper_limits, forced_photometry, cutouts, loci,\n"
                               "duplicates, rejected and rejected_by_reason,\n"
                               "ingest runs and the last one, map size and bytes used.\n\n"
                               "  --tables  add \"footprint\": what fills the store's file, each\n"
                               "            table's entries and bytes (the largest first), the\n"
                               "            free bytes (which 'skysieve compact' leaves out) and\n"
                               "            LMDB's own\n"};
    return ssi_query_main(argc, argv, &q, ssi_run_stats);
}

static int ssi_run_rejected(ss_store *s, const ssi_query_cli *q, char **args, ss_err *err)
{
    (void)args;
    return ss_query_rejected(s, q->reason, stdout, err);
}

int ss_cmd_rejected(int argc, char **argv)
{
    ssi_query_cli q = {.name = "rejected",
                       .nargs = 0,
                       .help =
                           "usage: skysieve rejected --store DIR [--reason REASON]\n\n"
                           "Print the rejected records as JSON lines: seq, reason, input, line,\n"
                           "detail, raw (the record's text) and time. REASON is one of\n"
                           "malformed_record, missing_field, unparsable_field, non_finite,\n"
                           "ra_out_of_range, dec_out_of_range, mjd_out_of_range, no_brightness,\n"
                           "field_too_long, unreadable_input, id_invalid.\n"};
    return ssi_query_main(argc, argv, &q, ssi_run_rejected);
}

static int ssi_run_verify(ss_store *s, const ssi_query_cli *q, char **args, ss_err *err)
{
    (void)q, (void)args;
    ss_verify_report r;
    int rc = ss_store_verify(s, stderr, &r, err);
    if (rc)
        return rc;
    printf("{\"alerts\":%llu,\"loci\":%llu,\"problems\":%llu}\n", (unsigned long long)r.alerts,
           (unsigned long long)r.loci, (unsigned long long)r.problems);
    if (r.problems)
        return ss_err_set(err, SS_ECORRUPT, "store %s: %llu problem(s) found (listed above)",
                          ss_store_path(s), (unsigned long long)r.problems);
    return 0;
}

int ss_cmd_verify(int argc, char **argv)
{
    ssi_query_cli q = {.name = "verify",
                       .nargs = 0,
                       .help =
                           "usage: skysieve verify --store DIR\n\n"
                           "Check the store's consistency: every alert has its locus and index\n"
                           "entries, every locus its alerts and sky and newest index entries,\n"
                           "every catalog match its catalog_loci entry, the counters\n"
                           "match the tables. Prints one line per problem on stderr and a JSON\n"
                           "summary; exit status 1 when a problem is found.\n"};
    return ssi_query_main(argc, argv, &q, ssi_run_verify);
}
