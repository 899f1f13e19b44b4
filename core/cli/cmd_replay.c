/* skysieve replay: run recorded nights through a filter set for review; progress and summary. */
#include "cli.h"
#include "fileio.h"
#include "replay.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SSI_LISTED_LOCI 10

static const char ssi_replay_help[] =
    "usage: skysieve replay --filters SET --report FILE [OPTIONS] INPUT...\n"
    "\n"
    "Run recorded alerts (files or directories in any format 'skysieve ingest' reads) through the\n"
    "filter set SET in observation-time order, as the live broker would, in a scratch store, and\n"
    "write a JSON report to FILE with a summary here: per filter the loci seen, runs, skips for\n"
    "missing requirements, errors (with the first messages), halts, properties written, loci\n"
    "tagged and time per locus p50/p90/p99; per tag the loci with the alert that triggered it.\n"
    "The same inputs and sets give the same report, byte for byte, apart from timing fields.\n"
    "\n"
    "options:\n"
    "  --filters SET          the filter set under review (an INI file, see config/filters.ini)\n"
    "  --report FILE          where the JSON report goes ('-': standard output)\n"
    "  --baseline SET         also run the night through SET and report the differences: loci\n"
    "                         tagged by one set and not the other, per tag, and properties whose\n"
    "                         values changed\n"
    "  --tolerance T          numbers differ when |a-b| > T * max(1, |a|, |b|) (default 1e-9)\n"
    "  --max-listed N         property changes listed per property (default 100)\n"
    "  --radius ARCSEC        association radius (default 1.0; a simulated survey's 1\" scatter\n"
    "                         needs about 5)\n"
    "  --store DIR            keep the store in DIR (absent or empty; the baseline's goes to\n"
    "                         DIR.baseline) to inspect with 'skysieve locus', 'tagged', ...;\n"
    "                         default: a scratch directory under $TMPDIR, removed at the end\n"
    "  --catalogs-from STORE  copy STORE's catalogs and watch lists into the scratch stores, so\n"
    "                         filters see the matches they would see live\n"
    "  --validate             fail (exit 1, saying why) when a filter errors on any run, exceeds\n"
    "                         the time budget or tags too many loci; the limits:\n"
    "  --max-errors N         runs a filter may fail (default 0)\n"
    "  --time-budget MS       time per locus at p99 per filter, in milliseconds (default 10)\n"
    "  --max-tag-fraction F   fraction of loci one filter may tag with one tag (default 0.05)\n"
    "  --format NAME          decode every input with this decoder (default: detect per file)\n"
    "  --survey NAME          survey of tuple rows that name none (default: tuple)\n"
    "  --schema-dir DIR       Avro schemas for Confluent-framed messages (as for ingest)\n"
    "  --max-line-bytes, --max-value-bytes, --max-props, --max-history, --max-alert-bytes\n"
    "                         the size caps of decoding, as for ingest (see ingest --help)\n"
    "  --max-mapped SIZE      bound the replay's resident memory: above SIZE of resident file\n"
    "                         pages (the scratch store's, as LMDB maps them) the store is\n"
    "                         unmapped, to be mapped again as it is read; costs time (a 10M-alert\n"
    "                         night: 23-29% with 256M), never data (default 256M; 0: none)\n"
    "  --quiet                no progress and no summary (the report is still written)\n"
    "  --help                 show this help\n"
    "\n"
    "Progress goes to stderr: a bar with rate and time left on a terminal, a line every 10 s\n"
    "otherwise. Exit status: 0 replayed (and, with --validate, passed); 1 validation failed, an\n"
    "input could not be read (the others are replayed and the report written, as ingest does),\n"
    "or the replay could not run; 2 wrong usage.\n";

typedef struct ssi_replay_cli {
    ss_replay_options o;
    const char *report;
    int quiet, tty;
    double last_line; /* seconds into the phase of the last plain progress line */
} ssi_replay_cli;

/* ---- progress ---- */

static void ssi_clock(double s, char *out, size_t n)
{
    unsigned t = s > 0 && s < 1e7 ? (unsigned)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(out, n, "%u:%02u:%02u", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, n, "%u:%02u", t / 60, t % 60);
}

static void ssi_bar(const ss_replay_progress *p, double rate)
{
    char left[32] = "";
    if (!p->total) {
        fprintf(stderr, "\r%-9s %llu alerts  %.0f/s   ", p->phase, (unsigned long long)p->done,
                rate);
        return;
    }
    double frac = (double)p->done / (double)p->total;
    frac = frac > 1 ? 1 : frac;
    char bar[31];
    int full = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < full ? '#' : '.';
    bar[30] = '\0';
    ssi_clock(rate > 0 ? (double)(p->total - p->done) / rate : 0, left, sizeof left);
    fprintf(stderr, "\r%-9s [%s] %3.0f%% %llu/%llu %.0f/s %s left   ", p->phase, bar, 100 * frac,
            (unsigned long long)p->done, (unsigned long long)p->total, rate, left);
}

static void ssi_progress(void *ctx, const ss_replay_progress *p)
{
    ssi_replay_cli *c = ctx;
    double rate = p->seconds > 0 ? (double)p->done / p->seconds : 0;
    if (c->quiet)
        return;
    if (c->tty) {
        ssi_bar(p, rate);
        if (p->finished)
            fputc('\n', stderr);
        return;
    }
    if (p->seconds < 1e-9 || p->seconds < c->last_line) /* a new phase */
        c->last_line = 0;
    if (!p->finished && p->seconds - c->last_line < 10)
        return;
    c->last_line = p->seconds;
    if (p->total)
        fprintf(stderr, "replay: %s %llu/%llu alerts (%.0f%%), %.0f alerts/s%s\n", p->phase,
                (unsigned long long)p->done, (unsigned long long)p->total,
                100.0 * (double)p->done / (double)p->total, rate, p->finished ? ", done" : "");
    else
        fprintf(stderr, "replay: %s %llu alerts, %.0f alerts/s%s\n", p->phase,
                (unsigned long long)p->done, rate, p->finished ? ", done" : "");
}

/* ---- the summary ---- */

static json_int_t ssi_int(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static void ssi_summary_head(json_t *rep, FILE *out)
{
    json_t *a = json_object_get(rep, "alerts"), *set = json_object_get(rep, "set");
    fprintf(out, "replayed %lld alerts (%lld rejected) from %zu input(s)", ssi_int(a, "replayed"),
            ssi_int(a, "rejected"), json_array_size(json_object_get(rep, "inputs")));
    if (json_is_real(json_object_get(a, "first_mjd")))
        fprintf(out, ", MJD %.4f to %.4f", json_real_value(json_object_get(a, "first_mjd")),
                json_real_value(json_object_get(a, "last_mjd")));
    fprintf(out, ": %lld loci, %lld tagged (%.2f%%)\n", ssi_int(rep, "loci"),
            ssi_int(set, "loci_tagged"),
            100 * json_real_value(json_object_get(set, "fraction_tagged")));
}

static void ssi_summary_filters(json_t *run, FILE *out)
{
    fprintf(out, "%-16s %8s %9s %8s %7s %6s %9s %22s  %s\n", "filter", "loci", "runs", "skipped",
            "errors", "halts", "props", "us/locus p50/p90/p99", "tagged");
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(run, "filters"), i, f)
    {
        json_t *t = json_object_get(f, "time_us");
        char times[64];
        double q[3] = {json_real_value(json_object_get(t, "p50")),
                       json_real_value(json_object_get(t, "p90")),
                       json_real_value(json_object_get(t, "p99"))};
        /* sub-microsecond C filters keep a decimal */
        snprintf(times, sizeof times, q[2] < 10 ? "%.1f/%.1f/%.1f" : "%.0f/%.0f/%.0f", q[0], q[1],
                 q[2]);
        fprintf(out, "%-16s %8lld %9lld %8lld %7lld %6lld %9lld %22s ",
                json_string_value(json_object_get(f, "label")), ssi_int(f, "loci_seen"),
                ssi_int(f, "runs"), ssi_int(f, "skipped"), ssi_int(f, "errors"),
                ssi_int(f, "halts"), ssi_int(f, "properties_written"), times);
        const char *tag;
        json_t *n;
        json_object_foreach(json_object_get(f, "tagged"), tag, n)
            fprintf(out, " %s:%lld", tag, (long long)json_integer_value(n));
        fputc('\n', out);
        json_t *e = json_array_get(json_object_get(f, "first_errors"), 0);
        if (e)
            fprintf(out, "  first error: %s\n", json_string_value(json_object_get(e, "message")));
        if (json_is_true(json_object_get(f, "disabled")))
            fprintf(out,
                    "  disabled after failing too often in a row (max_consecutive_failures)\n");
    }
}

/* The first survey object id of a locus summary (keys SURVEY_object_id), or "-". */
static const char *ssi_summary_object_id(json_t *locus)
{
    const char *k;
    json_t *v;
    json_object_foreach(locus, k, v)
    {
        size_t n = strlen(k);
        if (n > 10 && !strcmp(k + n - 10, "_object_id") && json_is_string(v))
            return json_string_value(v);
    }
    return "-";
}

static void ssi_summary_tags(json_t *run, FILE *out)
{
    const char *tag;
    json_t *t;
    json_object_foreach(json_object_get(run, "tags"), tag, t)
    {
        fprintf(out, "tag %s: %lld loci (%.2f%%)\n", tag, ssi_int(t, "loci"),
                100 * json_real_value(json_object_get(t, "fraction")));
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(t, "list"), i, l)
        {
            if (i == SSI_LISTED_LOCI) {
                fprintf(out, "  ... (%zu more in the report)\n",
                        json_array_size(json_object_get(t, "list")) - i);
                break;
            }
            json_t *a = json_object_get(l, "alert");
            fprintf(out, "  %s  %10.6f %+10.6f  %-14s by %s at MJD %.4f (alert %s, %s %.2f)\n",
                    json_string_value(json_object_get(l, "locus_id")),
                    json_real_value(json_object_get(l, "ra")),
                    json_real_value(json_object_get(l, "dec")), ssi_summary_object_id(l),
                    json_string_value(json_object_get(l, "filter")),
                    json_real_value(json_object_get(a, "mjd")),
                    json_string_value(json_object_get(a, "alert_id")),
                    json_string_value(json_object_get(a, "passband")),
                    json_real_value(json_object_get(a, "mag")));
        }
    }
}

static void ssi_summary_diff(json_t *rep, FILE *out)
{
    json_t *diff = json_object_get(rep, "diff");
    if (!diff)
        return;
    fprintf(out, "against the baseline %s:\n", json_string_value(json_object_get(rep, "baseline")));
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(diff, "tags"), name, v)
        fprintf(out, "  tag %s: %lld in both, %zu only with the set, %zu only with the baseline\n",
                name, ssi_int(v, "both"), json_array_size(json_object_get(v, "only_set")),
                json_array_size(json_object_get(v, "only_baseline")));
    const char *kinds[] = {"locus_properties", "alert_properties"};
    for (int k = 0; k < 2; k++)
        json_object_foreach(json_object_get(json_object_get(diff, "properties"), kinds[k]), name, v)
            fprintf(out,
                    "  %s %s: %lld changed, %lld only with the set, %lld only with the "
                    "baseline\n",
                    k ? "alert property" : "property", name, ssi_int(v, "changed"),
                    ssi_int(v, "only_set"), ssi_int(v, "only_baseline"));
}

/* With @p only_failures, nothing is printed when it passed. @return 1 when validation failed. */
static int ssi_summary_validation(json_t *rep, FILE *out, int only_failures)
{
    json_t *val = json_object_get(rep, "validation");
    if (!json_is_true(json_object_get(val, "enabled")))
        return 0;
    if (json_is_true(json_object_get(val, "passed"))) {
        if (!only_failures)
            fprintf(out, "validation: passed\n");
        return 0;
    }
    fprintf(out, "validation: FAILED\n");
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(val, "failures"), i, f)
        fprintf(out, "  %s\n", json_string_value(json_object_get(f, "message")));
    return 1;
}

/* ---- options ---- */

static int ssi_number(const char *s, double min, double *out)
{
    return ss_cli_double(s, out) || *out < min ? -1 : 0;
}

/* One option; @return 0, 1 for --help, or -1 when it is bad. */
static int ssi_option(ssi_replay_cli *c, int ch, const char *arg)
{
    ss_replay_options *o = &c->o;
    double ms;
    size_t n;
    switch (ch) {
    case 'f': o->filters = arg; return 0;
    case 'r': c->report = arg; return 0;
    case 'b': o->baseline = arg; return 0;
    case 's': o->store_dir = arg; return 0;
    case 'C': o->catalogs_from = arg; return 0;
    case 'F': o->format = arg; return 0;
    case 'S': o->decoder.default_survey = arg; return 0;
    case 'D': o->decoder.schema_dir = arg; return 0;
    case 'V': o->limits.enabled = 1; return 0;
    case 'q': c->quiet = 1; return 0;
    case 'h': return 1;
    case 'e': return ss_file_parse_size(arg, &n) ? -1 : (o->limits.max_errors = n, 0);
    case 'l': return ss_file_parse_size(arg, &n) ? -1 : (o->max_listed = n, 0);
    case 'M': return ss_file_parse_size(arg, &o->max_mapped);
    case 't': return ssi_number(arg, 0, &ms) ? -1 : (o->limits.time_budget_us = ms * 1000, 0);
    case 'x':
        return ssi_number(arg, 0, &o->limits.max_tag_fraction) || o->limits.max_tag_fraction > 1
                   ? -1
                   : 0;
    case 'T': return ssi_number(arg, 0, &o->tolerance);
    case 'R': return ssi_number(arg, 1e-3, &o->radius_arcsec);
    }
    return -1;
}

static int ssi_parse(int argc, char **argv, ssi_replay_cli *c)
{
    static const struct option opts[] = {{"filters", required_argument, 0, 'f'},
                                         {"report", required_argument, 0, 'r'},
                                         {"baseline", required_argument, 0, 'b'},
                                         {"store", required_argument, 0, 's'},
                                         {"format", required_argument, 0, 'F'},
                                         {"survey", required_argument, 0, 'S'},
                                         {"schema-dir", required_argument, 0, 'D'},
                                         {"validate", no_argument, 0, 'V'},
                                         {"max-errors", required_argument, 0, 'e'},
                                         {"time-budget", required_argument, 0, 't'},
                                         {"max-tag-fraction", required_argument, 0, 'x'},
                                         {"tolerance", required_argument, 0, 'T'},
                                         {"max-listed", required_argument, 0, 'l'},
                                         {"radius", required_argument, 0, 'R'},
                                         {"catalogs-from", required_argument, 0, 'C'},
                                         {"max-mapped", required_argument, 0, 'M'},
                                         {"quiet", no_argument, 0, 'q'},
                                         SS_CLI_LIMIT_OPTIONS,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    c->o.tolerance = 1e-9;
    c->o.limits.time_budget_us = SS_REPLAY_DEFAULT_BUDGET_US;
    c->o.limits.max_tag_fraction = SS_REPLAY_DEFAULT_TAG_FRACTION;
    int ch, idx;
    while ((ch = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        int lim = ss_cli_limit_option("replay", ch, optarg, &c->o.decoder.limits);
        if (lim != 1) {
            if (lim)
                return lim;
            continue;
        }
        int rc = ch == '?' ? -1 : ssi_option(c, ch, optarg);
        if (rc > 0)
            return fputs(ssi_replay_help, stdout), -1;
        if (rc < 0 && ch == '?')
            return ss_cli_usage("replay", "bad option");
        if (rc < 0) /* the option by name: its value may be the argument apart or after an = */
            return ss_cli_usage("replay", "--%s: bad value '%s'", opts[idx].name, optarg);
    }
    if (!c->o.filters || !c->report || optind >= argc)
        return ss_cli_usage("replay", "needs --filters SET, --report FILE and at least one INPUT");
    c->o.inputs = (const char *const *)argv + optind;
    c->o.ninputs = (size_t)(argc - optind);
    return 0;
}

static int ssi_write_report(json_t *rep, const char *path)
{
    int flags = JSON_INDENT(2) | JSON_REAL_PRECISION(15);
    int rc = strcmp(path, "-") ? json_dump_file(rep, path, flags) : json_dumpf(rep, stdout, flags);
    if (!strcmp(path, "-"))
        fputc('\n', stdout);
    if (rc) {
        fprintf(stderr, "skysieve: replay: cannot write the report to %s\n", path);
        return SS_EXIT_FAIL;
    }
    return 0;
}

/* Ctrl-C and SIGTERM stop the replay cleanly: its scratch store is removed, not left in $TMPDIR.
 * The only state a signal handler may touch. */
static volatile sig_atomic_t ssi_interrupted;

static void ssi_on_signal(int sig)
{
    (void)sig;
    ssi_interrupted = 1;
}

int ss_cmd_replay(int argc, char **argv)
{
    ssi_replay_cli c = {.o.max_mapped = SS_REPLAY_MAX_MAPPED_DEFAULT};
    int rc = ssi_parse(argc, argv, &c);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    c.tty = isatty(STDERR_FILENO);
    c.o.progress = ssi_progress;
    c.o.ctx = &c;
    c.o.interrupt = &ssi_interrupted;
    struct sigaction sa = {.sa_handler = ssi_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ss_err err = {0};
    json_t *rep = NULL;
    if (ss_replay_run(&c.o, &rep, &err))
        return ss_cli_fail(&err);
    if ((rc = ssi_write_report(rep, c.report))) {
        json_decref(rep);
        return rc;
    }
    /* the summary goes to stderr when the report itself is on stdout */
    FILE *out = strcmp(c.report, "-") ? stdout : stderr;
    if (!c.quiet) {
        json_t *run = json_object_get(rep, "set");
        ssi_summary_head(rep, out);
        ssi_summary_filters(run, out);
        ssi_summary_tags(run, out);
        ssi_summary_diff(rep, out);
    }
    /* quiet or not, a failed validation says why */
    int failed = ssi_summary_validation(rep, c.quiet ? stderr : out, c.quiet);
    if (!c.quiet && strcmp(c.report, "-"))
        fprintf(out, "report: %s\n", c.report);
    /* a night that was not read must not pass a review: its name is above, as a rejection */
    json_int_t unread =
        json_integer_value(json_object_get(json_object_get(rep, "alerts"), "inputs_failed"));
    if (unread)
        fprintf(stderr, "skysieve: replay: %lld input%s could not be read\n", (long long)unread,
                unread == 1 ? "" : "s");
    json_decref(rep);
    return failed || unread ? SS_EXIT_FAIL : SS_EXIT_OK;
}
