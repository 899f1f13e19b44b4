/* Keeping a store: skysieve compact, skysieve repack and skysieve retention. */
#include "cli.h"
#include "json_text.h"
#include "store.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SSI_UNIX_EPOCH_MJD 40587.0

static const char ssi_compact_help[] =
    "usage: skysieve compact --store DIR --output NEWDIR\n\n"
    "Write a compacted copy of the store into NEWDIR (created; an existing one must be empty):\n"
    "every table rewritten in key order with its pages full, without the pages freed by\n"
    "retention or rewrites; stamps.dat's chunks one after the other, without the holes that\n"
    "retention punched. The store may be ingested into meanwhile: the copy holds what was\n"
    "committed when it began. Replace the store by the copy while nothing has the store open.\n"
    "Prints the bytes in use before and after as JSON.\n";

static const char ssi_repack_help[] =
    "usage: skysieve repack --store DIR\n\n"
    "Write the store's alert records of an older packing again in the current one, where that\n"
    "is shorter: since store format 10, compressed with a dictionary of their survey (trained\n"
    "on its first records when it has none). A store upgraded from format 9 keeps its records\n"
    "as they were until then. Runs in transactions of 2000 records, beside a running ingest;\n"
    "running it twice writes nothing more. Then `skysieve compact` gives the freed pages back.\n"
    "Prints the records written again as JSON.\n";

static int ssi_used(const char *dir, size_t *used, ss_err *err)
{
    ss_store *s;
    ss_store_options o = {.readonly = 1};
    ss_store_info info;
    int rc = ss_store_open(dir, &o, &s, err);
    if (rc)
        return rc;
    if ((rc = ss_store_info_get(s, &info)))
        ss_store_fail(s, err, rc, "reading its size");
    *used = info.used_bytes;
    ss_store_close(s);
    return rc;
}

int ss_cmd_compact(int argc, char **argv)
{
    static const struct option longopts[] = {{"store", required_argument, 0, 's'},
                                             {"output", required_argument, 0, 'o'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *store = NULL, *output = NULL;
    for (int ch; (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (ch == 's')
            store = optarg;
        else if (ch == 'o')
            output = optarg;
        else if (ch == 'h')
            return fputs(ssi_compact_help, stdout), SS_EXIT_OK;
        else
            return ss_cli_usage("compact", "unknown option");
    }
    if (!store || !output || optind != argc)
        return ss_cli_usage("compact", "--store DIR and --output NEWDIR are required, nothing "
                                       "else");
    ss_err err = {0};
    ss_store *s;
    ss_store_options o = {.readonly = 1};
    ss_store_info before;
    size_t after = 0;
    int rc = ss_store_open(store, &o, &s, &err);
    if (rc)
        return ss_cli_fail(&err);
    if ((rc = ss_store_info_get(s, &before)))
        ss_store_fail(s, &err, rc, "reading its size");
    if (!rc)
        rc = ss_store_compact(s, output, &err);
    ss_store_close(s);
    if (!rc)
        rc = ssi_used(output, &after, &err);
    if (rc)
        return ss_cli_fail(&err);
    json_t *out =
        json_pack("{s:s, s:s, s:I, s:I}", "store", store, "output", output, "bytes_before",
                  (json_int_t)before.used_bytes, "bytes_after", (json_int_t)after);
    json_dumpf(out, stdout, SS_JSON_FLAGS);
    fputc('\n', stdout);
    json_decref(out);
    return SS_EXIT_OK;
}

int ss_cmd_repack(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *store = NULL;
    for (int ch; (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (ch == 's')
            store = optarg;
        else if (ch == 'h')
            return fputs(ssi_repack_help, stdout), SS_EXIT_OK;
        else
            return ss_cli_usage("repack", "unknown option");
    }
    if (!store || optind != argc)
        return ss_cli_usage("repack", "--store DIR is required, nothing else");
    ss_err err = {0};
    ss_store *s;
    ss_store_options o = {0};
    uint64_t n = 0;
    size_t before = 0, after = 0;
    int rc = ssi_used(store, &before, &err);
    if (!rc)
        rc = ss_store_open(store, &o, &s, &err);
    if (rc)
        return ss_cli_fail(&err);
    rc = ss_store_repack(s, &n, &err);
    ss_store_close(s);
    if (!rc)
        rc = ssi_used(store, &after, &err);
    if (rc)
        return ss_cli_fail(&err);
    json_t *out =
        json_pack("{s:s, s:I, s:I, s:I}", "store", store, "records_repacked", (json_int_t)n,
                  "bytes_before", (json_int_t)before, "bytes_after", (json_int_t)after);
    json_dumpf(out, stdout, SS_JSON_FLAGS);
    fputc('\n', stdout);
    json_decref(out);
    return SS_EXIT_OK;
}

static const char ssi_retention_help[] =
    "usage: skysieve retention --store DIR [--cutouts-days N] [--payload-days N]\n"
    "       skysieve retention --store DIR --apply [--now MJD]\n\n"
    "The store's retention policy: how many days an alert keeps its stamps (--cutouts-days)\n"
    "and its survey properties (--payload-days); 0 keeps them forever, the default. Given\n"
    "either, the policy is saved in the store; given neither, it is printed as JSON.\n"
    "--apply drops what the policy says is older than --now (default: the current time, as an\n"
    "MJD) by the alerts' observation times: stamps, and survey properties, while loci, light\n"
    "curves (every alert's position, time, band, brightness and kind), tags and filter\n"
    "outputs stay. It works in short transactions beside a running ingest or broker; the\n"
    "pages it frees are reused by later writes, and `skysieve compact` gives them back to\n"
    "the file system. Prints what it dropped as JSON.\n";

typedef struct ssi_retention_cli {
    const char *store;
    ss_store_retention set;
    int setting, apply;
    double now;
} ssi_retention_cli;

static int ssi_days(const char *arg, double *out)
{
    if (ss_cli_double(arg, out) || *out < 0)
        return ss_cli_usage("retention", "days must be a number >= 0, not '%s'", arg);
    return 0;
}

static int ssi_retention_parse(int argc, char **argv, ssi_retention_cli *c)
{
    static const struct option longopts[] = {{"store", required_argument, 0, 's'},
                                             {"cutouts-days", required_argument, 0, 'c'},
                                             {"payload-days", required_argument, 0, 'p'},
                                             {"apply", no_argument, 0, 'a'},
                                             {"now", required_argument, 0, 'n'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    for (int ch; (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        int rc = 0;
        if (ch == 's')
            c->store = optarg;
        else if (ch == 'c')
            c->setting |= 1, rc = ssi_days(optarg, &c->set.cutouts_days);
        else if (ch == 'p')
            c->setting |= 2, rc = ssi_days(optarg, &c->set.payload_days);
        else if (ch == 'a')
            c->apply = 1;
        else if (ch == 'n' && ss_cli_double(optarg, &c->now))
            return ss_cli_usage("retention", "--now takes an MJD, not '%s'", optarg);
        else if (ch == 'h')
            return fputs(ssi_retention_help, stdout), -1;
        else if (ch != 'n')
            return ss_cli_usage("retention", "unknown option");
        if (rc)
            return rc;
    }
    if (!c->store || optind != argc)
        return ss_cli_usage("retention", "--store DIR is required, and no arguments");
    if (c->apply && c->setting)
        return ss_cli_usage("retention", "--apply applies the saved policy: set it first");
    return 0;
}

int ss_cmd_retention(int argc, char **argv)
{
    ssi_retention_cli c = {.now = NAN};
    int rc = ssi_retention_parse(argc, argv, &c);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    ss_err err = {0};
    ss_store *s;
    ss_store_options o = {.readonly = !c.setting && !c.apply};
    ss_store_retention pol;
    ss_store_retain_report r;
    if ((rc = ss_store_open(c.store, &o, &s, &err)))
        return ss_cli_fail(&err);
    if (c.setting && !(rc = ss_store_retention_get(s, &pol))) {
        if (c.setting & 1)
            pol.cutouts_days = c.set.cutouts_days;
        if (c.setting & 2)
            pol.payload_days = c.set.payload_days;
        rc = ss_store_retention_set(s, &pol, &err);
    } else if (c.apply) {
        if (isnan(c.now))
            c.now = (double)time(NULL) / 86400.0 + SSI_UNIX_EPOCH_MJD;
        if (!(rc = ss_store_retain(s, c.now, &r, &err)))
            printf("{\"now_mjd\":%.6f,\"payloads_dropped\":%llu,\"cutouts_dropped\":%llu,"
                   "\"stamp_chunks_freed\":%llu}\n",
                   c.now, (unsigned long long)r.payloads, (unsigned long long)r.cutouts,
                   (unsigned long long)r.stamp_chunks);
    }
    if (!rc && !c.apply && !(rc = ss_store_retention_get(s, &pol)))
        printf("{\"cutouts_days\":%g,\"payload_days\":%g}\n", pol.cutouts_days, pol.payload_days);
    if (rc && !err.code)
        ss_store_fail(s, &err, rc, "the retention policy");
    ss_store_close(s);
    return rc ? ss_cli_fail(&err) : SS_EXIT_OK;
}
