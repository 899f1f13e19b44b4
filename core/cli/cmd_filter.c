/* The devkit commands (filter check, filter run) and the tag streams (tagged, listen). */
#include "cli.h"
#include "fileio.h"
#include "filters.h"
#include "query.h"

#include <getopt.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ssi_filter_help[] =
    "usage: skysieve filter check FILE\n"
    "       skysieve filter run --store DIR FILE (--locus ID [--as-of ALERT_ID] | --all)\n"
    "                           [--setup KEY=VALUE]...\n"
    "\n"
    "check: load a .so or .lua filter, validate it and print its declarations as JSON.\n"
    "run:   run one filter over stored loci without writing to the store; print per run\n"
    "       {locus_id, survey, alert_id (the trigger), new locus properties, new alert\n"
    "       properties, new tags, halted, errors, t_us}, then the number of runs and the time per\n"
    "       run p50/p90/p99 (the devkit's run_filter and run_many). The filter sees the locus as\n"
    "       of its trigger: the measurements stored before or with the trigger's packet, never\n"
    "       later ones, as in a live broker.\n"
    "       --locus ID           one locus, as of its newest alert\n"
    "       --as-of ALERT_ID     ... or as of that alert of it\n"
    "       --all                every alert of every locus, each as of itself, in the order\n"
    "                            they arrived; each run sees what the earlier runs on its locus\n"
    "                            wrote, not what is stored: a replay that writes nothing\n";

static int ssi_filter_check(int argc, char **argv)
{
    if (argc != 2)
        return ss_cli_usage("filter", "check takes one FILE");
    ss_err err = {0};
    ss_filter_set *fs;
    if (ss_filter_set_single(argv[1], NULL, 0, &fs, &err))
        return ss_cli_fail(&err);
    const ss_runtime_ops *rt = ss_runtime_for(argv[1]);
    json_t *o = ss_filter_declarations_json(ss_filter_set_descriptor(fs, 0), rt->name);
    json_dumpf(o, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(o);
    ss_filter_set_free(fs);
    return SS_EXIT_OK;
}

typedef struct ssi_run_cli {
    const char *store, *locus, *file, *as_of;
    int all;
    ss_setup_item items[64];
    size_t nitems;
} ssi_run_cli;

static int ssi_parse_run(int argc, char **argv, ssi_run_cli *r)
{
    static const struct option opts[] = {
        {"store", required_argument, 0, 's'},
        {"locus", required_argument, 0, 'l'},
        {"all", no_argument, 0, 'a'},
        {"setup", required_argument, 0, 'S'},
        {"as-of", required_argument, 0, 'A'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *eq = ch == 'S' ? strchr(optarg, '=') : NULL;
        if (ch == 's')
            r->store = optarg;
        else if (ch == 'l')
            r->locus = optarg;
        else if (ch == 'a')
            r->all = 1;
        else if (ch == 'A')
            r->as_of = optarg;
        else if (ch == 'S' && eq && r->nitems < 64) {
            *eq = '\0';
            r->items[r->nitems++] = (ss_setup_item){optarg, eq + 1, strlen(eq + 1), NULL};
        } else if (ch == 'h')
            return fputs(ssi_filter_help, stdout), -1;
        else
            return ss_cli_usage("filter", "bad option (--setup takes KEY=VALUE)");
    }
    if (!r->store || optind + 1 != argc || !!r->locus == r->all)
        return ss_cli_usage("filter", "run needs --store DIR, one FILE, and --locus ID or --all");
    if (r->as_of && !r->locus)
        return ss_cli_usage("filter", "--as-of goes with --locus");
    r->file = argv[optind];
    return 0;
}

static int ssi_filter_run(int argc, char **argv)
{
    ssi_run_cli r = {0};
    int rc = ssi_parse_run(argc, argv, &r);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    ss_err err = {0};
    ss_filter_set *fs = NULL;
    ss_store *s = NULL;
    ss_store_options o = {.readonly = 1};
    if (!(rc = ss_filter_set_single(r.file, r.items, r.nitems, &fs, &err)) &&
        !(rc = ss_store_open(r.store, &o, &s, &err)))
        rc = ss_filter_set_dry_run(fs, s, &(ss_filter_dry_options){r.locus, r.as_of, r.all}, stdout,
                                   &err);
    if (!rc) {
        json_t *all = ss_filter_set_stats_json(fs), *st = json_array_get(all, 0);
        json_t *sum = json_pack(
            "{s:O, s:O, s:O, s:O, s:O, s:O}", "runs", json_object_get(st, "runs"), "skipped",
            json_object_get(st, "skipped"), "errors", json_object_get(st, "errors"), "t_50_us",
            json_object_get(st, "p50_us"), "t_90_us", json_object_get(st, "p90_us"), "t_99_us",
            json_object_get(st, "p99_us"));
        json_dumpf(sum, stdout, SS_JSON_FLAGS);
        fputc('\n', stdout);
        json_decref(sum);
        json_decref(all);
    }
    ss_store_close(s);
    ss_filter_set_free(fs);
    return rc ? ss_cli_fail(&err) : SS_EXIT_OK;
}

int ss_cmd_filter(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(ssi_filter_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? SS_EXIT_USAGE : SS_EXIT_OK;
    }
    if (!strcmp(argv[1], "check"))
        return ssi_filter_check(argc - 1, argv + 1);
    if (!strcmp(argv[1], "run"))
        return ssi_filter_run(argc - 1, argv + 1);
    return ss_cli_usage("filter", "unknown subcommand '%s' (check or run)", argv[1]);
}

static const char ssi_tagged_help[] =
    "usage: skysieve tagged --store DIR TAG [--since MJD]\n\n"
    "Print one JSON line per locus carrying TAG (first tagged at or after MJD), in order of the\n"
    "time it was tagged: the locus summary with tag, filter, tagged_mjd and tagged_time.\n";

int ss_cmd_tagged(int argc, char **argv)
{
    static const struct option opts[] = {{"store", required_argument, 0, 's'},
                                         {"since", required_argument, 0, 'S'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *store = NULL;
    double since = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 's')
            store = optarg;
        else if (ch == 'S' && !ss_cli_double(optarg, &since))
            continue;
        else if (ch == 'h')
            return fputs(ssi_tagged_help, stdout), SS_EXIT_OK;
        else
            return ss_cli_usage("tagged", "bad option");
    }
    if (!store || optind + 1 != argc)
        return ss_cli_usage("tagged", "need --store DIR and one TAG");
    ss_err err = {0};
    ss_store *s = NULL;
    ss_store_options o = {.readonly = 1};
    int rc = ss_store_open(store, &o, &s, &err);
    if (!rc)
        rc = ss_query_tagged(s, argv[optind], since, stdout, &err);
    ss_store_close(s);
    return rc ? ss_cli_fail(&err) : SS_EXIT_OK;
}

static const char ssi_listen_help[] =
    "usage: skysieve listen ADDRESS [TAG...] [--count N]\n\n"
    "Subscribe to the tag stream a broker publishes at ADDRESS (e.g. ipc:///tmp/skysieve.ipc,\n"
    "tcp://127.0.0.1:5555) and print each event as one JSON line: {tag, filter, locus, alert}.\n"
    "With TAGs, only those tags; with --count, stop after N events.\n";

int ss_cmd_listen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    size_t count = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'c' && !ss_file_parse_size(optarg, &count))
            continue;
        if (ch == 'h')
            return fputs(ssi_listen_help, stdout), SS_EXIT_OK;
        return ss_cli_usage("listen", "bad option");
    }
    if (optind >= argc)
        return ss_cli_usage("listen", "need an ADDRESS");
    int sock = nn_socket(AF_SP, NN_SUB);
    int rc = sock < 0 ? -1 : nn_connect(sock, argv[optind]);
    for (int i = optind + 1; rc >= 0 && i < argc; i++) /* "TAG\0" so that jump ≠ jumpy */
        rc = nn_setsockopt(sock, NN_SUB, NN_SUB_SUBSCRIBE, argv[i], strlen(argv[i]) + 1);
    if (rc >= 0 && optind + 1 == argc)
        rc = nn_setsockopt(sock, NN_SUB, NN_SUB_SUBSCRIBE, "", 0);
    if (rc < 0) {
        fprintf(stderr, "skysieve: listen %s: %s\n", argv[optind], nn_strerror(nn_errno()));
        return SS_EXIT_FAIL;
    }
    for (size_t n = 0; !count || n < count; n++) {
        char *msg = NULL;
        int len = nn_recv(sock, &msg, NN_MSG, 0);
        if (len < 0) {
            fprintf(stderr, "skysieve: listen: %s\n", nn_strerror(nn_errno()));
            nn_close(sock);
            return SS_EXIT_FAIL;
        }
        size_t tlen = strnlen(msg, (size_t)len);
        if (tlen < (size_t)len)
            printf("%.*s\n", len - (int)tlen - 1, msg + tlen + 1);
        fflush(stdout);
        nn_freemsg(msg);
    }
    nn_close(sock);
    return SS_EXIT_OK;
}
