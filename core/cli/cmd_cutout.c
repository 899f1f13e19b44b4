/* skysieve cutout: the image stamps stored with an alert. */
#include "cli.h"
#include "cutout.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char ssi_cutout_help[] =
    "usage: skysieve cutout --store DIR [--survey SURVEY] [--output FILE] ALERT_ID KIND\n"
    "       skysieve cutout --store DIR [--survey SURVEY] --list ALERT_ID\n\n"
    "Write an alert's image stamp, exactly as the survey sent it (gzip-compressed FITS for ZTF,\n"
    "FITS for Rubin), to standard output or FILE. KIND is science, template or difference.\n"
    "ALERT_ID is the survey's alert id (a ZTF candid, a Rubin diaSourceId); --survey picks one\n"
    "when two surveys have an alert of that id. --list prints the alert's stamps as JSON lines\n"
    "(survey, kind, bytes, file_name). Stamps are stored unless ingest ran with --no-cutouts.\n";

typedef struct ssi_cutout_cli {
    const char *store, *survey, *output;
    int list;
} ssi_cutout_cli;

static int ssi_cutout_parse(int argc, char **argv, ssi_cutout_cli *c)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},  {"survey", required_argument, 0, 'u'},
        {"output", required_argument, 0, 'o'}, {"list", no_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': c->store = optarg; break;
        case 'u': c->survey = optarg; break;
        case 'o': c->output = optarg; break;
        case 'l': c->list = 1; break;
        case 'h': fputs(ssi_cutout_help, stdout); return -1;
        default: return ss_cli_usage("cutout", "unknown option");
        }
    }
    if (!c->store)
        return ss_cli_usage("cutout", "--store DIR is required");
    int want = c->list ? 1 : 2;
    if (argc - optind != want)
        return ss_cli_usage("cutout", "expected %s, got %d argument%s",
                            c->list ? "ALERT_ID" : "ALERT_ID and KIND", argc - optind,
                            argc - optind == 1 ? "" : "s");
    return 0;
}

/* Write the stamp to FILE (created only once the stamp is found) or to standard output. */
static int ssi_cutout_write(ss_store *s, const ssi_cutout_cli *c, const char *id,
                            ss_cutout_kind kind, ss_err *err)
{
    if (!c->output)
        return ss_query_cutout_write(s, id, c->survey, kind, stdout, err);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.part", c->output);
    FILE *fp = fopen(tmp, "wb");
    if (!fp)
        return ss_err_set(err, errno, "%s: %s", tmp, strerror(errno));
    int rc = ss_query_cutout_write(s, id, c->survey, kind, fp, err);
    if (fclose(fp) && !rc)
        rc = ss_err_set(err, errno, "%s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, c->output))
        rc = ss_err_set(err, errno, "%s: %s", c->output, strerror(errno));
    if (rc)
        unlink(tmp);
    return rc;
}

int ss_cmd_cutout(int argc, char **argv)
{
    ssi_cutout_cli c = {0};
    int rc = ssi_cutout_parse(argc, argv, &c);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    const char *id = argv[optind];
    int kind = c.list ? 0 : ss_cutout_kind_from_name(argv[optind + 1]);
    if (kind < 0)
        return ss_cli_usage("cutout", "KIND '%s' is not science, template or difference",
                            argv[optind + 1]);
    if (!c.list && !c.output && isatty(STDOUT_FILENO))
        return ss_cli_usage("cutout", "refusing to write FITS to a terminal: redirect standard "
                                      "output or give --output FILE");
    ss_err err = {0};
    ss_store *s;
    ss_store_options o = {.readonly = 1};
    if (ss_store_open(c.store, &o, &s, &err))
        return ss_cli_fail(&err);
    rc = c.list ? ss_query_cutout_list(s, id, c.survey, stdout, &err)
                : ssi_cutout_write(s, &c, id, (ss_cutout_kind)kind, &err);
    ss_store_close(s);
    return rc ? ss_cli_fail(&err) : SS_EXIT_OK;
}
