/* skysieve: the command-line entry point. */
#include "cli.h"
#include "decoder.h"
#include "output.h"
#include "runtime.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ss_cli_command ssi_commands[] = {
    {"ingest", "ingest alert files (CSV, JSON lines, ZTF and Rubin Avro) into a store",
     ss_cmd_ingest},
    {"inspect", "decode alert files and print what would be ingested, storing nothing",
     ss_cmd_inspect},
    {"locus", "print one locus, by locus id or survey object id, as JSON", ss_cmd_locus},
    {"cone", "print the loci within a radius of a position, nearest first", ss_cmd_cone},
    {"loci", "print a summary line for every locus", ss_cmd_loci},
    {"stats", "print the store's counts as JSON", ss_cmd_stats},
    {"rejected", "print the rejected records kept for inspection", ss_cmd_rejected},
    {"cutout", "write an alert's image stamp (science, template, difference)", ss_cmd_cutout},
    {"plot", "draw a locus's light curve as SVG or PNG", ss_cmd_plot},
    {"verify", "check the store's internal consistency", ss_cmd_verify},
    {"compact", "write a compacted copy of a store", ss_cmd_compact},
    {"repack", "write a store's older alert records again, compressed", ss_cmd_repack},
    {"retention", "set or apply how long alerts keep their stamps and survey properties",
     ss_cmd_retention},
    {"filter", "check a filter, or run it over stored loci without writing (devkit)",
     ss_cmd_filter},
    {"tagged", "print the loci carrying a tag", ss_cmd_tagged},
    {"listen", "subscribe to a broker's tag stream and print its events", ss_cmd_listen},
    {"replay", "run recorded alerts through a filter set in a scratch store and report (review)",
     ss_cmd_replay},
    {"run", "run the live broker (inputs, filters in workers, outputs, control socket)",
     ss_cmd_run},
    {"serve", "answer HTTP requests over a store: the /api/v1 and ALeRCE-compatible /ztf/v1 routes",
     ss_cmd_serve},
    {"ctl", "control a running broker: status, reload, enable, disable, stop", ss_cmd_ctl},
    {"send", "push alert files to a broker's pull socket", ss_cmd_send},
    {"catalog", "load, list or drop the catalogs loci are matched against", ss_cmd_catalog},
    {"gw", "load, list, remove gravitational-wave sky maps; where a position stands in one",
     ss_cmd_gw},
    {"watch", "add, list or drop watch lists (positions whose new loci are reported)",
     ss_cmd_watch},
    {"partition", "re-key survey alerts from Kafka by sky region into a partitioned topic",
     ss_cmd_partition},
    {"simulate", "write the alerts of a simulated survey (built-in models, light-curve files)",
     ss_cmd_simulate},
};
#define SSI_NCOMMANDS (sizeof ssi_commands / sizeof *ssi_commands)

static void ssi_usage(FILE *out)
{
    fprintf(out,
            "skysieve %s: an astronomical alert broker\n\n"
            "usage: skysieve COMMAND [OPTIONS] [ARGS]\n\ncommands:\n",
            SS_VERSION_STRING);
    for (size_t i = 0; i < SSI_NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", ssi_commands[i].name, ssi_commands[i].summary);
    fprintf(out, "  %-10s %s\n\n", "version", "print the version and the ABI versions");
    fprintf(out, "Run 'skysieve COMMAND --help' for a command's options.\n");
}

int ss_cli_fail(const ss_err *err)
{
    fprintf(stderr, "skysieve: %s\n", err->msg[0] ? err->msg : ss_strerror(err->code));
    return SS_EXIT_FAIL;
}

int ss_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "skysieve %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'skysieve %s --help' for usage.\n", cmd);
    return SS_EXIT_USAGE;
}

int ss_cli_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* The library's version, not the header's: the two differ only in a broken build. */
static void ssi_version(void)
{
    printf("skysieve %s\n", ss_version(NULL, NULL, NULL));
    printf("filter ABI %d.%d\n", SS_FILTER_ABI_MAJOR, SS_FILTER_ABI_MINOR);
    printf("decoder ABI %d.%d\n", SS_DECODER_ABI_MAJOR, SS_DECODER_ABI_MINOR);
    printf("runtime ABI %d.%d\n", SS_RUNTIME_ABI_MAJOR, SS_RUNTIME_ABI_MINOR);
    printf("output ABI %d.%d\n", SS_OUTPUT_ABI_MAJOR, SS_OUTPUT_ABI_MINOR);
}

/* Plugins are compiled in, so another major version is a plugin folder left behind when its ops
 * changed: refuse to run rather than call ops with other arguments than they take. */
static int ssi_check_plugins(ss_err *err)
{
    size_t n;
    const ss_decoder_ops *const *dec = ss_decoders(&n);
    for (size_t i = 0; i < n; i++)
        if (ss_decoder_check(dec[i], err))
            return err->code;
    const ss_runtime_ops *const *rt = ss_runtimes(&n);
    for (size_t i = 0; i < n; i++)
        if (ss_runtime_check(rt[i], err))
            return err->code;
    const ss_output_ops *const *out = ss_outputs(&n);
    for (size_t i = 0; i < n; i++)
        if (ss_output_check(out[i], err))
            return err->code;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        ssi_usage(stderr);
        return SS_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        ssi_usage(stdout);
        return SS_EXIT_OK;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        ssi_version();
        return SS_EXIT_OK;
    }
    ss_err err = {0};
    if (ssi_check_plugins(&err))
        return ss_cli_fail(&err);
    for (size_t i = 0; i < SSI_NCOMMANDS; i++)
        if (!strcmp(cmd, ssi_commands[i].name))
            return ssi_commands[i].run(argc - 1, argv + 1);
    if (!strcmp(cmd, "worker")) /* started by `run`; not listed */
        return ss_cmd_worker(argc - 1, argv + 1);
    fprintf(stderr, "skysieve: unknown command '%s'\n", cmd);
    ssi_usage(stderr);
    return SS_EXIT_USAGE;
}
