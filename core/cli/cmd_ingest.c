/* skysieve ingest: decode, associate and store alert files. */
#include "cli.h"
#include "fileio.h"
#include "ingest.h"
#include "inspect.h"
#include "query.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSI_SHOWN_REJECTS 20

static const char ssi_ingest_help[] =
    "usage: skysieve ingest --store DIR [OPTIONS] FILE|DIR...\n"
    "\n"
    "Ingest alert files (tuple CSV and JSON lines; ZTF and Rubin Avro, as container files or\n"
    "Confluent-framed messages) into the store at DIR (created when absent). Each alert joins the "
    "nearest\n"
    "locus within the association radius, or founds one. Directories are walked in name order and\n"
    "every file a decoder recognises is ingested. A record that cannot be used is rejected with "
    "its\n"
    "file, line and reason (kept in the store: 'skysieve rejected'); the rest is ingested.\n"
    "\n"
    "options:\n"
    "  --store DIR        the store directory (required)\n"
    "  --radius ARCSEC    association radius of a new store (default 1.0); an existing store\n"
    "                     keeps the radius it was created with\n"
    "  --instance N       locus-id space of a new store, 1 to 4095: the instance of a multi-\n"
    "                     instance deployment this store belongs to (its [broker] instance)\n"
    "  --format NAME      decode every input with this decoder (default: detect per file)\n"
    "  --survey NAME      survey of tuple rows that name none (default: tuple)\n"
    "  --schema-dir DIR   Avro schemas for Confluent-framed messages: DIR/ID.avsc, or Rubin's\n"
    "                     DIR/MAJOR/MINOR/lsst.vMAJOR_MINOR.alert.avsc (ID = MAJOR*100+MINOR)\n"
    "  --no-cutouts       do not store the alerts' image stamps (they are stored by default and\n"
    "                     read back with 'skysieve cutout')\n"
    "  --stamp-level N    zstd level of the stamps the store compresses (Rubin's plain FITS),\n"
    "                     -1000 to 19 (default -60); faster ones keep more bytes\n"
    "  --batch N          alerts per transaction (default 5000; fewer past 64 MiB)\n"
    "  --max-rejected-per-input N\n"
    "                     rejected records stored per input (default 1000); the rest are counted\n"
    "                     (by reason) and summed up in one more row naming the input\n"
    "%s"
    "  --map-size SIZE    initial LMDB map size, e.g. 64G (it grows when full)\n"
    "  --filters SET      run the filter set described by SET (an INI file, see\n"
    "                     config/filters.ini) on every locus a new alert updates\n"
    "  --publish ADDRESS  publish tagged loci on a nanomsg PUB socket (ipc://..., tcp://...)\n"
    "  --json             print the summary as JSON\n"
    "  --quiet            do not list rejected records on stderr\n"
    "  --progress         print a line on stderr after each committed batch (what is counted\n"
    "                     there is durable)\n"
    "  --help             show this help\n"
    "\n"
    "Exit status: 0 when every input could be read (rejected records included), 1 when an input\n"
    "could not be read at all or the store failed, 2 on wrong usage.\n";

const char ss_cli_limits_help[] =
    "  --max-line-bytes SIZE   longest line, or quoted row, of CSV and JSON lines (16M)\n"
    "  --max-value-bytes SIZE  longest property value, image stamps included (16M)\n"
    "  --max-props N           properties (columns, keys and items) of one alert (10000)\n"
    "  --max-history N         history entries of one alert (10000)\n"
    "  --max-alert-bytes SIZE  longest Avro record: an alert with history and stamps (32M)\n"
    "                     a record over a cap is rejected (too_large, naming the cap) and reading\n"
    "                     goes on; 0 and values out of range are wrong usage\n";

int ss_cli_limit_option(const char *cmd, int ch, const char *arg, ss_alert_limits *l)
{
    if (ch < SS_CLI_LIMIT_OPT || ch > SS_CLI_LIMIT_OPT + 4)
        return 1;
    ss_err err = {0};
    const char *key = ss_alert_limits_keys[ch - SS_CLI_LIMIT_OPT];
    if (ss_alert_limits_set(l, key, arg, &err) == 0)
        return 0;
    char opt[32];
    snprintf(opt, sizeof opt, "--%s", key); /* the option is the key, dashed */
    for (char *c = opt + 2; *c; c++)
        *c = *c == '_' ? '-' : *c;
    return ss_cli_usage(cmd, "%s: %s", opt, err.msg);
}

typedef struct ssi_ingest_cli {
    const char *store;
    const char *filters, *publish;
    ss_store_options store_opts;
    ss_ingest_options opts;
    int json, quiet, progress;
    uint64_t shown, hidden;
} ssi_ingest_cli;

static void ssi_on_reject(void *ctx, const ss_reject *rej)
{
    ssi_ingest_cli *c = ctx;
    if (c->quiet)
        return;
    if (c->shown++ < SSI_SHOWN_REJECTS)
        fprintf(stderr, "%s:%llu: rejected (%s): %s\n", rej->origin, (unsigned long long)rej->line,
                ss_reason_name(rej->reason), rej->detail);
    else
        c->hidden++;
}

static void ssi_on_commit(void *ctx, const ss_ingest_totals *t)
{
    const ssi_ingest_cli *c = ctx;
    if (!c->progress)
        return;
    fprintf(stderr, "committed: read %llu ingested %llu duplicates %llu rejected %llu loci %llu\n",
            (unsigned long long)t->read, (unsigned long long)t->ingested,
            (unsigned long long)t->duplicates, (unsigned long long)t->rejected,
            (unsigned long long)t->loci_created);
}

static int ssi_parse(int argc, char **argv, ssi_ingest_cli *c)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},
        {"radius", required_argument, 0, 'r'},
        {"instance", required_argument, 0, 'I'},
        {"format", required_argument, 0, 'f'},
        {"survey", required_argument, 0, 'S'},
        {"batch", required_argument, 0, 'b'},
        {"max-rejected-per-input", required_argument, 0, 'R'},
        {"map-size", required_argument, 0, 'm'},
        {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},
        {"progress", no_argument, 0, 'p'},
        {"filters", required_argument, 0, 'F'},
        {"publish", required_argument, 0, 'P'},
        {"schema-dir", required_argument, 0, 'D'},
        {"no-cutouts", no_argument, 0, 'C'},
        {"stamp-level", required_argument, 0, 'L'},
        SS_CLI_LIMIT_OPTIONS,
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        double d;
        size_t sz;
        int lim;
        switch (ch) {
        case 's': c->store = optarg; break;
        case 'r':
            if (ss_cli_double(optarg, &d) || d <= 0 || d > 3600)
                return ss_cli_usage("ingest", "--radius '%s': need a number of arcsec in (0, 3600]",
                                    optarg);
            c->store_opts.radius_arcsec = d;
            break;
        case 'I':
            if (ss_file_parse_size(optarg, &sz) || sz < 1 || sz > SS_MAX_INSTANCE)
                return ss_cli_usage("ingest", "--instance '%s': need a number from 1 to %d", optarg,
                                    SS_MAX_INSTANCE);
            c->store_opts.instance = (unsigned)sz;
            break;
        case 'f': c->opts.format = optarg; break;
        case 'S': c->opts.decoder.default_survey = optarg; break;
        case 'b':
            if (ss_file_parse_size(optarg, &sz) || sz == 0 || sz > 1000000)
                return ss_cli_usage("ingest", "--batch '%s': need a count from 1 to 1000000",
                                    optarg);
            c->opts.batch_size = (uint32_t)sz;
            break;
        case 'R':
            if (ss_file_parse_size(optarg, &sz) || sz == 0 || sz > 1000000000)
                return ss_cli_usage(
                    "ingest", "--max-rejected-per-input '%s': need a count from 1 to 1000000000",
                    optarg);
            c->opts.max_rejected_per_input = sz;
            break;
        case 'm':
            if (ss_file_parse_size(optarg, &sz) || sz < ((size_t)1 << 20))
                return ss_cli_usage("ingest", "--map-size '%s': need a size of at least 1M",
                                    optarg);
            c->store_opts.map_size = sz;
            break;
        case 'j': c->json = 1; break;
        case 'q': c->quiet = 1; break;
        case 'p': c->progress = 1; break;
        case 'F': c->filters = optarg; break;
        case 'P': c->publish = optarg; break;
        case 'D': c->opts.decoder.schema_dir = optarg; break;
        case 'C': c->opts.decoder.skip_cutouts = 1; break;
        case 'L':
            if (ss_cli_double(optarg, &d) || d != floor(d) || d < SS_STAMP_LEVEL_MIN ||
                d > SS_STAMP_LEVEL_MAX || d == 0)
                return ss_cli_usage("ingest",
                                    "--stamp-level '%s': need a zstd level from %d to %d "
                                    "other than 0",
                                    optarg, SS_STAMP_LEVEL_MIN, SS_STAMP_LEVEL_MAX);
            c->store_opts.stamp_level = (int)d;
            break;
        case 'h': printf(ssi_ingest_help, ss_cli_limits_help); return -1;
        default:
            if ((lim = ss_cli_limit_option("ingest", ch, optarg, &c->opts.decoder.limits)) == 0)
                break;
            return lim == 1 ? ss_cli_usage("ingest", "unknown option") : lim;
        }
    }
    if (!c->store)
        return ss_cli_usage("ingest", "--store DIR is required");
    if (optind >= argc)
        return ss_cli_usage("ingest", "no input: give files or directories to ingest");
    if (c->publish && !c->filters)
        return ss_cli_usage("ingest", "--publish needs --filters: only filters tag loci");
    if (c->opts.format && !ss_decoder_find(c->opts.format))
        return ss_cli_usage("ingest", "--format '%s': no such decoder", c->opts.format);
    return 0;
}

static double ssi_rate(const ss_ingest_totals *t)
{
    return t->seconds > 0 ? (double)t->read / t->seconds : 0.0;
}

static void ssi_print_json(const ssi_ingest_cli *c, const ss_ingest_totals *t,
                           const ss_filter_set *fs)
{
    json_t *reasons = json_object();
    for (int r = 0; r < SS_REASON__COUNT; r++)
        if (t->by_reason[r])
            json_object_set_new(reasons, ss_reason_name((ss_reason)r),
                                json_integer(t->by_reason[r]));
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:f, s:f}",
                          "store", c->store, "inputs", (json_int_t)t->inputs, "inputs_failed",
                          (json_int_t)t->inputs_failed, "read", (json_int_t)t->read, "ingested",
                          (json_int_t)t->ingested, "history", (json_int_t)t->history, "duplicates",
                          (json_int_t)t->duplicates, "rejected", (json_int_t)t->rejected,
                          "rejected_by_reason", reasons, "history_known",
                          (json_int_t)t->history_known, "loci_created", (json_int_t)t->loci_created,
                          "seconds", t->seconds, "alerts_per_second", ssi_rate(t));
    json_object_set_new(o, "tag_events", json_integer((json_int_t)t->tag_events));
    json_object_set_new(o, "upgraded", json_integer((json_int_t)t->upgraded));
    json_object_set_new(o, "waited_for_writer_seconds", json_real(t->waited_for_writer));
    json_object_set_new(o, "writer_idle_seconds", json_real(t->writer_idle));
    if (fs)
        json_object_set_new(o, "filters", ss_filter_set_stats_json(fs));
    json_dumpf(o, stdout, SS_JSON_FLAGS);
    fputc('\n', stdout);
    json_decref(o);
}

static void ssi_print_text(const ssi_ingest_cli *c, const ss_ingest_totals *t)
{
    printf("ingested into %s\n", c->store);
    printf("  inputs            %llu (%llu could not be read)\n", (unsigned long long)t->inputs,
           (unsigned long long)t->inputs_failed);
    printf("  alerts read       %llu\n", (unsigned long long)t->read);
    printf("  ingested          %llu\n", (unsigned long long)t->ingested);
    if (t->history || t->history_known)
        printf("  history entries   %llu new, %llu already stored\n",
               (unsigned long long)t->history, (unsigned long long)t->history_known);
    printf("  duplicates        %llu\n", (unsigned long long)t->duplicates);
    if (t->upgraded) /* in ingested: alerts stored before only as another alert's history */
        printf("  upgraded          %llu (were history entries)\n",
               (unsigned long long)t->upgraded);
    printf("  rejected          %llu\n", (unsigned long long)t->rejected);
    for (int r = 0; r < SS_REASON__COUNT; r++)
        if (t->by_reason[r])
            printf("    %-22s %llu\n", ss_reason_name((ss_reason)r),
                   (unsigned long long)t->by_reason[r]);
    printf("  loci created      %llu\n", (unsigned long long)t->loci_created);
    if (c->opts.filters)
        printf("  tags added        %llu\n", (unsigned long long)t->tag_events);
    printf("  elapsed           %.3f s\n", t->seconds);
    printf("  alerts/s          %.0f\n", ssi_rate(t));
    /* which side bounds the run: writing (disk, page cache, B-trees) or decoding */
    if (t->waited_for_writer > 0 || t->writer_idle > 0)
        printf("  waits             decoding waited %.3f s for the writer, the writer %.3f s for "
               "decoding\n",
               t->waited_for_writer, t->writer_idle);
}

/* Ingest every argument; input failures are reported and the run goes on. */
static int ssi_ingest_all(ss_ingest *in, int argc, char **argv, ss_err *err, int *input_failed)
{
    for (int i = optind; i < argc; i++) {
        ss_err_clear(err);
        int rc = ss_ingest_path(in, argv[i], err);
        if (rc == SS_EREJECT) {
            fprintf(stderr, "skysieve: %s\n", err->msg);
            *input_failed = 1;
        } else if (rc) {
            return rc;
        }
    }
    return 0;
}

static int ssi_record_outputs(ss_store_txn *txn, void *ctx, ss_err *err)
{
    (void)err; /* a store code: ss_store_write() names it (and grows a full map) */
    return ss_filter_set_record_outputs(ctx, txn);
}

/* Load the filters first: a set that is refused must stop the run before the store is touched.
 * The set's declared outputs are recorded before it writes anything, so that the store can name
 * the filter behind each property it holds. */
static int ssi_start(ssi_ingest_cli *c, ss_filter_set **fs, ss_store **store, ss_ingest **in,
                     ss_err *err)
{
    *fs = NULL;
    *store = NULL;
    *in = NULL;
    if (c->filters && ss_filter_set_load(c->filters, fs, err))
        return -1;
    c->opts.filters = *fs;
    if (ss_store_open(c->store, &c->store_opts, store, err))
        return -1;
    if (*fs && ss_store_write(*store, ssi_record_outputs, *fs, "recording filter outputs", err))
        return -1;
    if (!(*in = ss_ingest_new(*store, &c->opts)))
        return ss_err_set(err, SS_ENOMEM, "out of memory"), -1;
    return c->publish ? ss_ingest_publish(*in, c->publish, err) : 0;
}

static void ssi_print_filters(const ss_filter_set *fs)
{
    json_t *stats = ss_filter_set_stats_json(fs);
    size_t i;
    json_t *f;
    {
        printf("  filters           runs  skipped  errors  halts  p50/p99 us  disabled\n");
        json_array_foreach(stats, i, f)
        {
            printf("    %-16s %6lld %8lld %7lld %6lld  %5.0f/%-5.0f %s\n",
                   json_string_value(json_object_get(f, "filter")),
                   json_integer_value(json_object_get(f, "runs")),
                   json_integer_value(json_object_get(f, "skipped")),
                   json_integer_value(json_object_get(f, "errors")),
                   json_integer_value(json_object_get(f, "halts")),
                   json_real_value(json_object_get(f, "p50_us")),
                   json_real_value(json_object_get(f, "p99_us")),
                   json_is_true(json_object_get(f, "disabled")) ? "yes" : "no");
            const char *last = json_string_value(json_object_get(f, "last_error"));
            if (last)
                printf("      last error: %s\n", last);
        }
    }
    json_decref(stats);
}

int ss_cmd_ingest(int argc, char **argv)
{
    ssi_ingest_cli c = {0};
    c.store_opts.create = 1;
    int rc = ssi_parse(argc, argv, &c);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    c.opts.overlap = 1; /* decoding beside the writing: ignored with --filters */
    c.opts.on_reject = ssi_on_reject;
    c.opts.on_commit = ssi_on_commit;
    c.opts.ctx = &c;
    ss_err err = {0};
    ss_filter_set *fs;
    ss_store *store;
    ss_ingest *in;
    int input_failed = 0;
    ss_ingest_totals t = {0};
    rc = ssi_start(&c, &fs, &store, &in, &err);
    if (!rc)
        rc = ssi_ingest_all(in, argc, argv, &err, &input_failed);
    if (!rc)
        rc = ss_ingest_finish(in, &t, &err);
    else if (in)
        ss_ingest_totals_get(in, &t);
    int started = in != NULL;
    ss_ingest_free(in);
    ss_store_close(store);
    if (c.hidden)
        fprintf(stderr, "... and %llu more rejected (see: skysieve rejected --store %s)\n",
                (unsigned long long)c.hidden, c.store);
    if (!c.quiet && t.rejected_not_kept) /* never reported one by one */
        fprintf(stderr,
                "... and %llu rejected past --max-rejected-per-input, counted but not kept (each "
                "such input's last row sums them up)\n",
                (unsigned long long)t.rejected_not_kept);
    if (started && c.json)
        ssi_print_json(&c, &t, fs);
    else if (started)
        ssi_print_text(&c, &t);
    if (started && fs && !c.json)
        ssi_print_filters(fs);
    ss_filter_set_free(fs);
    if (rc)
        return ss_cli_fail(&err);
    return input_failed ? SS_EXIT_FAIL : SS_EXIT_OK;
}

static const char ssi_inspect_help[] =
    "usage: skysieve inspect [--schema-dir DIR] [--survey NAME] [--max-* ...] FILE...\n\n"
    "Decode alert files and print, one JSON line per record, the alert and its history as\n"
    "skysieve would ingest them, or why a record would be rejected. Nothing is stored.\n"
    "The size caps are ingest's:\n%s";

int ss_cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"schema-dir", required_argument, 0, 'D'},
                                         {"survey", required_argument, 0, 'S'},
                                         SS_CLI_LIMIT_OPTIONS,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_decoder_config cfg = {0};
    int ch, rc;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'D')
            cfg.schema_dir = optarg;
        else if (ch == 'S')
            cfg.default_survey = optarg;
        else if (ch == 'h')
            return printf(ssi_inspect_help, ss_cli_limits_help), SS_EXIT_OK;
        else if ((rc = ss_cli_limit_option("inspect", ch, optarg, &cfg.limits)) == 1)
            return ss_cli_usage("inspect", "unknown option");
        else if (rc)
            return rc;
    }
    if (optind >= argc)
        return ss_cli_usage("inspect", "give one or more files");
    int failed = 0;
    for (int i = optind; i < argc; i++) {
        ss_err err = {0};
        if (ss_ingest_inspect(argv[i], &cfg, stdout, &err))
            failed = ss_cli_fail(&err);
    }
    return failed ? SS_EXIT_FAIL : SS_EXIT_OK;
}
