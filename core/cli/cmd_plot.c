/* skysieve plot: a locus's light curve as SVG or PNG (core/draw/). */
#include "cli.h"
#include "draw.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char ssi_plot_help[] =
    "usage: skysieve plot --store DIR [--out FILE] [--format svg|png] [--flux] [--as-of ALERT]\n"
    "                     [--bands LIST] [--width W] [--height H] ID\n\n"
    "Draw the light curve of a locus (a locus id or a survey object id): magnitude against MJD\n"
    "(brighter up), one colour and marker per band, error bars, upper limits as downward\n"
    "triangles, forced photometry as open markers, the locus's tags as dashed lines at the MJD\n"
    "they were set, and a legend.\n\n"
    "  --out FILE       write here (default: standard output); .png or .svg picks the format\n"
    "  --format NAME    svg (default) or png\n"
    "  --flux           signed difference flux in nJy instead of magnitudes\n"
    "  --as-of ALERT    as a filter saw it when running for this alert of the locus (the\n"
    "                   survey's alert id), that alert circled\n"
    "  --bands LIST     only these passbands, e.g. g,r\n"
    "  --width W, --height H  pixels (default 600 x 400; 120 to 4000)\n";

typedef struct ssi_plot_cli {
    const char *store, *out, *format;
    ss_draw_lc_options o;
} ssi_plot_cli;

static int ssi_side_arg(const char *s, int *out)
{
    double v;
    if (ss_cli_double(s, &v) || v != (int)v || v < SS_DRAW_MIN_SIDE || v > SS_DRAW_MAX_SIDE)
        return ss_cli_usage("plot", "--width and --height take %d to %d pixels, not '%s'",
                            SS_DRAW_MIN_SIDE, SS_DRAW_MAX_SIDE, s);
    *out = (int)v;
    return 0;
}

/* The format: --format, else --out's extension, else SVG. */
static int ssi_plot_format(ssi_plot_cli *c)
{
    const char *dot = c->out ? strrchr(c->out, '.') : NULL;
    const char *f = c->format ? c->format : dot && !strcmp(dot, ".png") ? "png" : "svg";
    if (strcmp(f, "svg") && strcmp(f, "png"))
        return ss_cli_usage("plot", "--format is svg or png, not '%s'", f);
    c->o.format = !strcmp(f, "png") ? SS_DRAW_PNG : SS_DRAW_SVG;
    if (c->o.format == SS_DRAW_PNG && !c->out && isatty(STDOUT_FILENO))
        return ss_cli_usage("plot", "refusing to write PNG to a terminal: give --out FILE");
    return 0;
}

static int ssi_plot_parse(int argc, char **argv, ssi_plot_cli *c)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},  {"out", required_argument, 0, 'o'},
        {"format", required_argument, 0, 'f'}, {"flux", no_argument, 0, 'x'},
        {"as-of", required_argument, 0, 'a'},  {"bands", required_argument, 0, 'b'},
        {"width", required_argument, 0, 'W'},  {"height", required_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    int ch, rc = 0;
    while (!rc && (ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': c->store = optarg; break;
        case 'o': c->out = optarg; break;
        case 'f': c->format = optarg; break;
        case 'x': c->o.flux = 1; break;
        case 'a': c->o.as_of = optarg; break;
        case 'b': c->o.bands = optarg; break;
        case 'W': rc = ssi_side_arg(optarg, &c->o.width); break;
        case 'H': rc = ssi_side_arg(optarg, &c->o.height); break;
        case 'h': fputs(ssi_plot_help, stdout); return -1;
        default: return ss_cli_usage("plot", "unknown option");
        }
    }
    if (rc)
        return rc;
    if (!c->store)
        return ss_cli_usage("plot", "--store DIR is required");
    if (argc - optind != 1)
        return ss_cli_usage("plot", "expected ID, got %d arguments", argc - optind);
    return ssi_plot_format(c);
}

int ss_cli_write_file(const char *path, const void *data, size_t len, ss_err *err)
{
    if (!path)
        return fwrite(data, 1, len, stdout) != len || fflush(stdout)
                   ? ss_err_set(err, EIO, "writing standard output: %s", strerror(errno))
                   : 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.part", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp)
        return ss_err_set(err, errno, "%s: %s", tmp, strerror(errno));
    int rc = fwrite(data, 1, len, fp) != len ? errno : 0;
    if (fclose(fp) && !rc)
        rc = errno;
    if (!rc && rename(tmp, path))
        rc = errno;
    if (rc)
        unlink(tmp);
    return rc ? ss_err_set(err, rc, "%s: %s", path, strerror(rc)) : 0;
}

int ss_cmd_plot(int argc, char **argv)
{
    ssi_plot_cli c = {0};
    int rc = ssi_plot_parse(argc, argv, &c);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    ss_err err = {0};
    ss_store *s;
    ss_store_txn *txn = NULL;
    ss_store_options so = {.readonly = 1};
    if (ss_store_open(c.store, &so, &s, &err))
        return ss_cli_fail(&err);
    ss_wbuf b = {0};
    rc = ss_store_txn_begin(s, SS_STORE_READ, &txn);
    if (rc)
        ss_store_fail(s, &err, rc, "starting a read transaction");
    else
        rc = ss_draw_lightcurve(txn, argv[optind], &c.o, &b, NULL, &err);
    ss_store_txn_abort(txn);
    if (!rc)
        rc = ss_cli_write_file(c.out, b.data, b.len, &err);
    ss_wbuf_free(&b);
    ss_store_close(s);
    ss_draw_release();
    return rc ? ss_cli_fail(&err) : SS_EXIT_OK;
}
