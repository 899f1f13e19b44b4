/* skysieve simulate: write the alerts of a simulated survey (the ANTARES streaming tutorial's). */
#include "cli.h"
#include "simulate.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SSI_MAX_SOURCES 100000000ULL

static const char ssi_simulate_help[] =
    "usage: skysieve simulate [OPTIONS]\n"
    "\n"
    "Simulate the ANTARES streaming tutorial's survey and write its alerts, in observation-time\n"
    "order: every epoch (every second night) has two visits an hour apart, each observing two\n"
    "passbands ten minutes apart. Sources are built-in models (constant, periodic, transient,\n"
    "jump) and light-curve files; each observation gets noise from its error, a position "
    "scattered\n"
    "around the source's, and no alert when it is fainter than the limit. The same options give "
    "the\n"
    "same bytes. Without --model, --sources or files: 100 constant, 20 periodic, 5 transient and\n"
    "1 jump source (see README.md for the models' parameter ranges).\n"
    "\n"
    "output:\n"
    "  --out FILE          write the alerts here (default: standard output)\n"
    "  --format NAME       csv, jsonl or avro (ZTF-like); default from FILE's extension, else csv\n"
    "  --truth FILE        write one JSON line per source: object id, model, position, passbands,\n"
    "                      parameters (a jump source's jump epoch and MJD)\n"
    "  --seed N            random seed (default 1)\n"
    "  --quiet             no summary on standard error\n"
    "  --no-cutouts        Avro without image stamps; by default each alert carries ZTF's three\n"
    "                      (science, template, difference: 63 x 63 gzip FITS, north up, a\n"
    "                      Gaussian source on seeded noise; about 12 kB an alert)\n"
    "sources:\n"
    "  --model NAME=COUNT  COUNT sources of a built-in model (constant, periodic, transient, "
    "jump);\n"
    "                      repeat for a mix; only the models given are simulated\n"
    "  --sources N         N built-in sources in the proportions of the mix (the default one, or\n"
    "                      --model's)\n"
    "  --lightcurve FILE   a CSV light curve as one source: '#t,V,I' then rows of time (days) and\n"
    "                      one magnitude per band (repeatable)\n"
    "  --snana FILE|DIR    an SNANA .DAT file (or every .dat file of DIR) as sources: MJD, band,\n"
    "                      flux and flux error rows, zero point 27.5 (repeatable)\n"
    "  --lc-start DAYS     the light-curve files' time at the survey's start (default 0: the "
    "first\n"
    "                      row's time for SNANA, t = 0 for CSV)\n"
    "  --jump-mag MAG      how much brighter jump sources get (default 3.5)\n"
    "  --jump-epoch K      the first epoch after the jump (default: epochs / 2)\n"
    "cadence and survey:\n"
    "  --epochs N          epochs (default 10)\n"
    "  --start-mjd MJD     the first observation (default 60000.1)\n"
    "  --night-gap TIME    between epochs (default 2d; a bare number is days)\n"
    "  --visit-gap TIME    between an epoch's two visits (default 1h; a bare number is hours)\n"
    "  --band-gap TIME     between a visit's passbands (default 10m; a bare number is minutes)\n"
    "                      TIME takes a unit: 2d, 1.5h, 10m, 30s\n"
    "  --bands LIST        passbands of every visit, e.g. g,r (default: g,r for built-in models,\n"
    "                      a file's first two bands for a file); Avro carries g, r and i only\n"
    "  --limit MAG         5-sigma limiting magnitude (default 24.5): fainter observations give "
    "no\n"
    "                      alert; errors without a file's follow the LSST error model against it\n"
    "  --field RA,DEC,R    sources are uniform within R degrees of RA, DEC (default "
    "150.1,2.2,1)\n"
    "  --scatter ARCSEC    1-sigma scatter of alert positions, per axis (default 1); ingest with\n"
    "                      an association radius of about 5 x ARCSEC (ingest --radius 5)\n"
    "  --help              show this help\n"
    "\n"
    "Exit status: 0 on success, 1 when a file cannot be read or written (the message names it, "
    "and\n"
    "the line for a malformed light curve), 2 on wrong usage.\n";

typedef struct ssi_sim_cli {
    ss_sim_options o;
    const char *out, *truth;
    int format_given, jump_epoch_given, model_given, quiet;
    uint64_t sources;   /* 0: not given */
    const char **files; /* --lightcurve and --snana paths in command-line order */
    char *kinds;        /* 'l' or 's' for each */
    size_t nfiles;
} ssi_sim_cli;

/* A whole string as an unsigned count up to @p max. @return 0 or -1. */
static int ssi_count(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A duration: a number with a unit (d, h, m or min, s), or a bare number of @p unit days. */
static int ssi_duration(const char *s, double unit, double *days)
{
    static const struct {
        const char *suffix;
        double days;
    } units[] = {
        {"d", 1}, {"h", 1.0 / 24}, {"min", 1.0 / 1440}, {"m", 1.0 / 1440}, {"s", 1.0 / 86400}};
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v))
        return -1;
    if (*end) {
        size_t i = 0;
        while (i < sizeof units / sizeof *units && strcmp(end, units[i].suffix))
            i++;
        if (i == sizeof units / sizeof *units)
            return -1;
        unit = units[i].days;
    }
    *days = v * unit;
    return 0;
}

/* "g,r": 1 to SS_SIM_MAX_BANDS names, none empty (their characters are checked later). */
static int ssi_parse_bands(ss_sim_options *o, const char *arg)
{
    o->nbands = 0;
    for (const char *p = arg;; p++) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > SS_PASSBAND_MAX || o->nbands == SS_SIM_MAX_BANDS)
            return -1;
        snprintf(o->bands[o->nbands++], sizeof o->bands[0], "%.*s", (int)n, p);
        p += n;
        if (!*p)
            return 0;
    }
}

static int ssi_parse_field(ss_sim_options *o, const char *arg)
{
    char *end;
    o->field_ra = strtod(arg, &end);
    if (*end != ',')
        return -1;
    o->field_dec = strtod(end + 1, &end);
    if (*end != ',')
        return -1;
    return ss_cli_double(end + 1, &o->field_radius);
}

static int ssi_parse_model(ssi_sim_cli *c, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[32];
    uint64_t n;
    if (!eq || (size_t)(eq - arg) >= sizeof name || ssi_count(eq + 1, SSI_MAX_SOURCES, &n))
        return -1;
    snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
    int m = ss_sim_model_find(name);
    if (m < 0)
        return -1;
    if (!c->model_given)
        memset(c->o.count, 0, sizeof c->o.count);
    c->model_given = 1;
    c->o.count[m] = n;
    return 0;
}

/* Options that take a number. @return 0, 1 when @p ch is not one of them, or a usage exit. */
static int ssi_parse_number(ssi_sim_cli *c, int ch, const char *arg)
{
    ss_sim_options *o = &c->o;
    uint64_t n;
    switch (ch) {
    case 'S':
        if (ssi_count(arg, UINT64_MAX, &o->seed))
            return ss_cli_usage("simulate", "--seed '%s': need a whole number", arg);
        return 0;
    case 'e':
        if (ssi_count(arg, 100000, &n) || n == 0)
            return ss_cli_usage("simulate", "--epochs '%s': need 1 to 100000", arg);
        o->epochs = (uint32_t)n;
        return 0;
    case 'n':
        if (ssi_count(arg, SSI_MAX_SOURCES, &c->sources) || !c->sources)
            return ss_cli_usage("simulate", "--sources '%s': need 1 to %llu", arg, SSI_MAX_SOURCES);
        return 0;
    case 'J':
        if (ssi_count(arg, 100000, &n))
            return ss_cli_usage("simulate", "--jump-epoch '%s': need an epoch number", arg);
        o->jump_epoch = (uint32_t)n;
        c->jump_epoch_given = 1;
        return 0;
    case 'M':
        return ss_cli_double(arg, &o->start_mjd)
                   ? ss_cli_usage("simulate", "--start-mjd '%s': need a number", arg)
                   : 0;
    case 'L':
        return ss_cli_double(arg, &o->limit)
                   ? ss_cli_usage("simulate", "--limit '%s': need a magnitude", arg)
                   : 0;
    case 'c':
        return ss_cli_double(arg, &o->scatter_arcsec)
                   ? ss_cli_usage("simulate", "--scatter '%s': need arcseconds", arg)
                   : 0;
    case 'j':
        return ss_cli_double(arg, &o->jump_mag)
                   ? ss_cli_usage("simulate", "--jump-mag '%s': need magnitudes", arg)
                   : 0;
    case 'T':
        return ss_cli_double(arg, &o->lc_start)
                   ? ss_cli_usage("simulate", "--lc-start '%s': need days", arg)
                   : 0;
    }
    return 1;
}

/* Options that take text: durations, lists, files. @return 0 or a usage exit. */
static int ssi_parse_text(ssi_sim_cli *c, int ch, const char *arg)
{
    ss_sim_options *o = &c->o;
    int f;
    switch (ch) {
    case 'o': c->out = arg; return 0;
    case 't': c->truth = arg; return 0;
    case 'q': c->quiet = 1; return 0;
    case 'X': o->stamps = 0; return 0;
    case 'f':
        if ((f = ss_sim_format_find(arg)) < 0)
            return ss_cli_usage("simulate", "--format '%s': csv, jsonl or avro", arg);
        o->format = (ss_sim_format)f;
        c->format_given = 1;
        return 0;
    case 'N':
        return ssi_duration(arg, 1.0, &o->night_gap)
                   ? ss_cli_usage("simulate", "--night-gap '%s': need a time, like 2d", arg)
                   : 0;
    case 'V':
        return ssi_duration(arg, 1.0 / 24, &o->visit_gap)
                   ? ss_cli_usage("simulate", "--visit-gap '%s': need a time, like 1h", arg)
                   : 0;
    case 'B':
        return ssi_duration(arg, 1.0 / 1440, &o->band_gap)
                   ? ss_cli_usage("simulate", "--band-gap '%s': need a time, like 10m", arg)
                   : 0;
    case 'b':
        return ssi_parse_bands(o, arg) ? ss_cli_usage("simulate",
                                                      "--bands '%s': need 1 to %d passband "
                                                      "names separated by commas, like g,r",
                                                      arg, SS_SIM_MAX_BANDS)
                                       : 0;
    case 'F':
        return ssi_parse_field(o, arg)
                   ? ss_cli_usage("simulate", "--field '%s': need RA,DEC,RADIUS in degrees", arg)
                   : 0;
    case 'm':
        return ssi_parse_model(c, arg) ? ss_cli_usage("simulate",
                                                      "--model '%s': need NAME=COUNT with NAME "
                                                      "constant, periodic, transient or jump",
                                                      arg)
                                       : 0;
    case 'l':
    case 's':
        c->kinds[c->nfiles] = (char)ch;
        c->files[c->nfiles++] = arg;
        return 0;
    }
    return ss_cli_usage("simulate", "unknown option");
}

/* The population: --model's mix, or none when only files are given, or the default; --sources
 * scales it. */
static int ssi_population(ssi_sim_cli *c)
{
    if (!c->model_given && c->nfiles && !c->sources)
        memset(c->o.count, 0, sizeof c->o.count);
    if (c->sources && ss_sim_scale_counts(c->o.count, c->sources))
        return ss_cli_usage("simulate", "--sources: the --model mix has no sources to scale");
    uint64_t total = c->nfiles;
    for (int m = 0; m < SS_SIM_NBUILTIN; m++)
        total += c->o.count[m];
    if (!total)
        return ss_cli_usage("simulate", "no sources: every --model count is 0");
    return 0;
}

static int ssi_parse(int argc, char **argv, ssi_sim_cli *c)
{
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},
        {"format", required_argument, 0, 'f'},
        {"truth", required_argument, 0, 't'},
        {"seed", required_argument, 0, 'S'},
        {"quiet", no_argument, 0, 'q'},
        {"no-cutouts", no_argument, 0, 'X'},
        {"model", required_argument, 0, 'm'},
        {"sources", required_argument, 0, 'n'},
        {"lightcurve", required_argument, 0, 'l'},
        {"snana", required_argument, 0, 's'},
        {"lc-start", required_argument, 0, 'T'},
        {"jump-mag", required_argument, 0, 'j'},
        {"jump-epoch", required_argument, 0, 'J'},
        {"epochs", required_argument, 0, 'e'},
        {"start-mjd", required_argument, 0, 'M'},
        {"night-gap", required_argument, 0, 'N'},
        {"visit-gap", required_argument, 0, 'V'},
        {"band-gap", required_argument, 0, 'B'},
        {"bands", required_argument, 0, 'b'},
        {"limit", required_argument, 0, 'L'},
        {"field", required_argument, 0, 'F'},
        {"scatter", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch, rc;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'h')
            return fputs(ssi_simulate_help, stdout), -1;
        if (ch == '?' || ch == ':')
            return ss_cli_usage("simulate", "unknown option or missing value");
        rc = ssi_parse_number(c, ch, optarg);
        if (rc == 1)
            rc = ssi_parse_text(c, ch, optarg);
        if (rc)
            return rc;
    }
    if (optind < argc)
        return ss_cli_usage("simulate",
                            "unexpected argument '%s': inputs are given with "
                            "--lightcurve or --snana",
                            argv[optind]);
    if (!c->format_given)
        c->o.format = ss_sim_format_of_path(c->out);
    if (!c->jump_epoch_given)
        c->o.jump_epoch = c->o.epochs / 2;
    if ((rc = ssi_population(c)))
        return rc;
    ss_err err = {0};
    if (ss_sim_options_check(&c->o, &err))
        return ss_cli_usage("simulate", "%s", err.msg);
    return 0;
}

/* Build the survey: options, files, population. @return the survey or NULL (@p err says why). */
static ss_sim *ssi_build(const ssi_sim_cli *c, ss_err *err)
{
    ss_sim *s = ss_sim_new(&c->o);
    int rc = s ? 0 : ss_err_set(err, SS_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < c->nfiles; i++)
        rc = c->kinds[i] == 'l' ? ss_sim_add_lightcurve(s, c->files[i], err)
                                : ss_sim_add_snana(s, c->files[i], err);
    if (!rc)
        rc = ss_sim_prepare(s, err);
    if (rc) {
        ss_sim_free(s);
        return NULL;
    }
    return s;
}

/* Write the alerts (or with @p truth the truth) to @p path ("-" or NULL: standard output); a file
 * left half written is removed. */
static int ssi_write_file(ss_sim *s, const char *path, int truth, ss_sim_totals *t, ss_err *err)
{
    int to_stdout = !path || !strcmp(path, "-");
    const char *name = to_stdout ? "standard output" : path;
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    if (!f)
        return ss_err_set(err, errno, "%s: %s", path, strerror(errno));
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    int rc = truth ? ss_sim_write_truth(s, f, name, err) : ss_sim_write(s, f, name, t, err);
    if (!to_stdout && fclose(f) && !rc)
        rc = ss_err_set(err, errno, "%s: %s", path, strerror(errno));
    if (rc && !to_stdout)
        unlink(path);
    return rc;
}

static void ssi_summary(const ssi_sim_cli *c, const ss_sim_totals *t)
{
    fprintf(stderr, "simulated %" PRIu64 " sources (", t->sources);
    const char *sep = "";
    for (int m = 0; m < SS_SIM_NMODELS; m++)
        if (t->by_model[m]) {
            fprintf(stderr, "%s%" PRIu64 " %s", sep, t->by_model[m],
                    ss_sim_model_name((ss_sim_model)m));
            sep = ", ";
        }
    fprintf(stderr,
            ") over %u epochs: %" PRIu64 " observations, %" PRIu64 " alerts (%s) to %s; %" PRIu64
            " fainter than the limit, %" PRIu64 " without flux\n",
            c->o.epochs, t->observations, t->alerts, ss_sim_format_name(c->o.format),
            c->out && strcmp(c->out, "-") ? c->out : "standard output", t->below_limit, t->no_flux);
}

int ss_cmd_simulate(int argc, char **argv)
{
    ssi_sim_cli c = {0};
    ss_sim_options_default(&c.o);
    c.o.stamps = 1; /* the command's Avro looks like ZTF's, stamps and all */
    c.files = calloc((size_t)argc, sizeof *c.files);
    c.kinds = calloc((size_t)argc, 1);
    if (!c.files || !c.kinds) {
        free(c.files), free(c.kinds);
        return ss_cli_fail(&(ss_err){SS_ENOMEM, "out of memory"});
    }
    int rc = ssi_parse(argc, argv, &c);
    ss_err err = {0};
    ss_sim *s = NULL;
    ss_sim_totals t = {0};
    if (!rc && !(s = ssi_build(&c, &err)))
        rc = ss_cli_fail(&err);
    if (!rc && c.truth && ssi_write_file(s, c.truth, 1, NULL, &err))
        rc = ss_cli_fail(&err);
    if (!rc && ssi_write_file(s, c.out, 0, &t, &err))
        rc = ss_cli_fail(&err);
    if (!rc && !c.quiet)
        ssi_summary(&c, &t);
    ss_sim_free(s);
    free(c.files), free(c.kinds);
    return rc < 0 ? SS_EXIT_OK : rc;
}
