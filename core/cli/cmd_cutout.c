/* skysieve cutout: the image stamps stored with an alert. */
#include "cli.h"
#include "cutout.h"
#include "draw.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char ssi_cutout_help[] =
    "usage: skysieve cutout --store DIR [--survey SURVEY] [--output FILE] ALERT_ID KIND\n"
    "       skysieve cutout --store DIR [--survey SURVEY] [--output FILE] --png\n"
    "                       [--stretch zscale|asinh] [--size N] [--interp nearest|bilinear]\n"
    "                       ALERT_ID KIND\n"
    "       skysieve cutout --store DIR [--survey SURVEY] --list ALERT_ID\n\n"
    "Write an alert's image stamp, exactly as the survey sent it (gzip-compressed FITS for ZTF,\n"
    "FITS for Rubin), to standard output or FILE. KIND is science, template or difference.\n"
    "ALERT_ID is the survey's alert id (a ZTF candid, a Rubin diaSourceId); --survey picks one\n"
    "when two surveys have an alert of that id. --list prints the alert's stamps as JSON lines\n"
    "(survey, kind, bytes, file_name). Stamps are stored unless ingest ran with --no-cutouts.\n\n"
    "--png draws the stamp instead, as an 8-bit grayscale PNG: the first 2-D image HDU, stretched\n"
    "linearly between IRAF's zscale limits (default) or by asinh between its 0.5th and 99.5th\n"
    "percentiles, north up and east left as far as quarter turns of its WCS allow, pixels without\n"
    "a value mid-gray, scaled to --size pixels on its longer side (default 256; 8 to 2048) by\n"
    "nearest pixel (default) or bilinearly. A damaged stamp fails, saying so.\n";

typedef struct ssi_cutout_cli {
    const char *store, *survey, *output;
    int list, png;
    ss_draw_cutout_options draw; /* --png */
} ssi_cutout_cli;

/* --stretch, --size and --interp. @return 0 or SS_EXIT_USAGE. */
static int ssi_cutout_draw_opt(ssi_cutout_cli *c, int ch, const char *arg)
{
    double v;
    if (ch == 't' && (!strcmp(arg, "zscale") || !strcmp(arg, "asinh")))
        c->draw.stretch = !strcmp(arg, "asinh") ? SS_DRAW_ASINH : SS_DRAW_ZSCALE;
    else if (ch == 'i' && (!strcmp(arg, "nearest") || !strcmp(arg, "bilinear")))
        c->draw.bilinear = !strcmp(arg, "bilinear");
    else if (ch == 'z' && !ss_cli_double(arg, &v) && v == (int)v && v >= SS_DRAW_CUTOUT_MIN_SIZE &&
             v <= SS_DRAW_CUTOUT_MAX_SIZE)
        c->draw.size = (int)v;
    else
        return ss_cli_usage("cutout", "--%s does not take '%s'",
                            ch == 't'   ? "stretch"
                            : ch == 'i' ? "interp"
                                        : "size",
                            arg);
    return 0;
}

static int ssi_cutout_parse(int argc, char **argv, ssi_cutout_cli *c)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},  {"survey", required_argument, 0, 'u'},
        {"output", required_argument, 0, 'o'}, {"list", no_argument, 0, 'l'},
        {"png", no_argument, 0, 'p'},          {"stretch", required_argument, 0, 't'},
        {"size", required_argument, 0, 'z'},   {"interp", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p': c->png = 1; break;
        case 't':
        case 'z':
        case 'i':
            if (ssi_cutout_draw_opt(c, ch, optarg))
                return SS_EXIT_USAGE;
            break;
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

/* The stamp drawn as PNG, to FILE or standard output. */
static int ssi_cutout_png(ss_store *s, const ssi_cutout_cli *c, const char *id, ss_cutout_kind kind,
                          ss_err *err)
{
    ss_store_txn *txn = NULL;
    ss_wbuf b = {0};
    int rc = ss_store_txn_begin(s, SS_STORE_READ, &txn);
    if (rc)
        ss_store_fail(s, err, rc, "starting a read transaction");
    else
        rc = ss_draw_cutout(txn, id, c->survey, kind, &c->draw, &b, NULL, err);
    ss_store_txn_abort(txn);
    if (!rc)
        rc = ss_cli_write_file(c->output, b.data, b.len, err);
    ss_wbuf_free(&b);
    return rc;
}

/* Write the stamp to FILE (created only once the stamp is found) or to standard output. */
static int ssi_cutout_write(ss_store *s, const ssi_cutout_cli *c, const char *id,
                            ss_cutout_kind kind, ss_err *err)
{
    if (c->png)
        return ssi_cutout_png(s, c, id, kind, err);
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
        return ss_cli_usage("cutout",
                            "refusing to write %s to a terminal: redirect standard "
                            "output or give --output FILE",
                            c.png ? "PNG" : "FITS");
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
