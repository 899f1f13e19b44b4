/* skysieve partition: survey alerts re-keyed by sky region into a partitioned topic. */
#include "cli.h"
#include "partition.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ssi_partition_help[] =
    "usage: skysieve partition --config FILE [--to TOPIC] [--nside N] [--radius ARCSEC]\n"
    "                          [--state DIR] [--dead-letter TOPIC] [--create N]\n"
    "                          [--schema-dir DIR] [--once] [--idle MS]\n\n"
    "Read survey alerts from the [input kafka] topics and write each to the partitioned topic\n"
    "with the partition of its sky region (a HEALPix NESTED pixel; partition = pixel %\n"
    "partitions, key = the pixel). Alerts within twice the association radius of a region's\n"
    "border follow the border anchors kept in --state, so each source stays on one partition.\n"
    "Undecodable messages go to the dead-letter topic (default TOPIC.rejected) with their origin.\n"
    "Runs until SIGINT or SIGTERM; --once stops when every assigned input partition is read to\n"
    "its end (failing after --idle MS, default 30000, without messages). Flags override the\n"
    "[partition] keys of the same name (create_partitions for --create). Prints the counts.\n";

static volatile sig_atomic_t ssi_stop;

static void ssi_on_signal(int sig)
{
    (void)sig;
    ssi_stop = 1;
}

typedef struct ssi_pflag {
    const char *key, *value;
} ssi_pflag;

/* Options that override [partition] keys, in the order given. */
static int ssi_parse(int argc, char **argv, const char **config, const char **schema_dir, int *once,
                     int *idle, ssi_pflag *flags, size_t *nflags)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"to", required_argument, 0, 't'},
        {"nside", required_argument, 0, 'n'},  {"radius", required_argument, 0, 'r'},
        {"state", required_argument, 0, 's'},  {"dead-letter", required_argument, 0, 'd'},
        {"create", required_argument, 0, 'C'}, {"schema-dir", required_argument, 0, 'S'},
        {"once", no_argument, 0, 'o'},         {"idle", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    static const char *const keys[128] = {
        ['t'] = "to",    ['n'] = "nside",       ['r'] = "radius",
        ['s'] = "state", ['d'] = "dead_letter", ['C'] = "create_partitions"};
    int ch;
    double v;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'h')
            return fputs(ssi_partition_help, stdout), -1;
        if (ch == 'c')
            *config = optarg;
        else if (ch == 'S')
            *schema_dir = optarg;
        else if (ch == 'o')
            *once = 1;
        else if (ch == 'i' && !ss_cli_double(optarg, &v) && v > 0 && v < 86400000)
            *idle = (int)v;
        else if (ch > 0 && ch < 128 && keys[ch])
            flags[(*nflags)++] = (ssi_pflag){keys[ch], optarg};
        else
            return ss_cli_usage("partition",
                                ch == 'i' ? "--idle: a number of milliseconds" : "unknown option");
    }
    if (!*config || optind != argc)
        return ss_cli_usage("partition", "--config FILE is required, and no argument");
    return 0;
}

static void ssi_print_counts(ss_partitioner *p)
{
    ss_partition_counts n;
    ss_partition_counts_get(p, &n);
    printf("messages=%llu alerts=%llu border=%llu anchored=%llu anchors=%llu split=%llu "
           "produced=%llu dead_lettered=%llu\n",
           (unsigned long long)n.messages, (unsigned long long)n.alerts,
           (unsigned long long)n.border, (unsigned long long)n.anchored,
           (unsigned long long)n.anchors, (unsigned long long)n.split,
           (unsigned long long)n.produced, (unsigned long long)n.dead);
}

static int ssi_partition(const ss_partition_conf *c, const char *schema_dir, int once, int idle)
{
    ss_log lg = {stderr, SS_LOG_INFO};
    ss_err err = {0};
    ss_partitioner *p = NULL;
    if (ss_partition_open(c, schema_dir, &lg, &p, &err))
        return ss_cli_fail(&err);
    ss_log_line(&lg, SS_LOG_INFO, "partition: %s -> %s (%d partitions, nside %lld)", c->in.topics,
                c->to, ss_partition_partitions(p), (long long)c->nside);
    struct sigaction sa = {.sa_handler = ssi_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = ss_partition_run(p, once, idle, &ssi_stop, &err);
    if (rc)
        ss_log_line(&lg, SS_LOG_ERROR, "%s", err.msg);
    ssi_print_counts(p);
    ss_partition_close(p);
    return rc ? SS_EXIT_FAIL : SS_EXIT_OK;
}

int ss_cmd_partition(int argc, char **argv)
{
    const char *config = NULL, *schema_dir = NULL;
    int once = 0, idle = 30000;
    ssi_pflag flags[32];
    size_t nflags = 0;
    if (argc > 32)
        return ss_cli_usage("partition", "too many options");
    int rc = ssi_parse(argc, argv, &config, &schema_dir, &once, &idle, flags, &nflags);
    if (rc)
        return rc < 0 ? SS_EXIT_OK : rc;
    ss_partition_conf c;
    ss_partition_conf_init(&c);
    ss_err err = {0};
    rc = ss_partition_conf_load(config, &c, &err);
    for (size_t i = 0; i < nflags && !rc; i++)
        rc = ss_partition_conf_set(&c, flags[i].key, flags[i].value, &err);
    rc = rc ? ss_cli_fail(&err) : ssi_partition(&c, schema_dir, once, idle);
    ss_partition_conf_free(&c);
    return rc;
}
